//! Joining the room: welcome, nickname rules, room full, login timeout.

mod util;

use util::Server;

#[test]
fn welcome_counts_who_is_online() {
    let server = Server::start(&["--room", "class-3B", "--max-clients", "5"]);
    let mut first = server.connect();
    first.expect("[Server]: Welcome to class-3B! (0/5 online)");
    first.expect("[Server]: Enter your nickname:");
    first.send("Alice");
    first.expect("[Server]: Welcome, Alice! Type /help for commands.");
    let mut second = server.connect();
    second.expect("[Server]: Welcome to class-3B! (1/5 online)");
}

#[test]
fn nickname_rules() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut newcomer = server.connect();
    newcomer.until("[Server]: Enter your nickname:");
    let invalid =
        "[Server]: Invalid nickname. Use 1-16 letters, digits, _ or -. Enter your nickname:";
    for bad in [
        "no spaces",
        "Server",
        "sErVeR",
        "seventeen_chars_x",
        "semi;colon",
    ] {
        newcomer.send(bad);
        newcomer.expect(invalid);
    }
    newcomer.send("alice");
    newcomer.expect("[Server]: Nickname \"alice\" is already in use. Enter your nickname:");
    newcomer.send("김민수");
    newcomer.expect("[Server]: Welcome, 김민수! Type /help for commands.");
    // Alice's ASCII name said nothing of her terminal: before her first
    // Hangul comes the way out, should it be garbled.
    alice.expect(util::ENCODING_HINT);
    alice.expect("[Server]: 김민수 has joined the chat.");
    newcomer.send("안녕하세요");
    alice.expect("김민수 >> 안녕하세요");
}

#[test]
fn room_full_is_refused_with_a_line_then_closed() {
    let server = Server::start(&["--max-clients", "2"]);
    let _a = server.join("A");
    let _b = server.join("B");
    let mut late = server.connect();
    late.expect("[Server]: The chat room is full (2/2). Try again later.");
    assert!(late.expect_closed().is_empty());
}

/// Silent sockets cannot lock the room: when too many connections are
/// waiting at the nickname prompt, the oldest from the busiest address goes.
#[test]
fn silent_connections_cannot_keep_people_out() {
    let server = Server::start(&["--max-joining", "2"]);
    let mut silent: Vec<_> = (0..2).map(|_| server.connect()).collect();
    for socket in &mut silent {
        socket.until("[Server]: Enter your nickname:");
    }
    let mut late = server.connect();
    late.until("[Server]: Enter your nickname:");
    late.send("Latecomer");
    late.expect("[Server]: Welcome, Latecomer! Type /help for commands.");
    silent[0].expect("[Server]: Too many people are joining right now. Try again in a minute.");
    assert!(silent[0].expect_closed().is_empty());
}

#[test]
fn lookalike_nicknames_are_taken() {
    let server = Server::start(&[]);
    let _alice = server.join("Alice");
    let mut mallory = server.connect();
    mallory.until("[Server]: Enter your nickname:");
    // Cyrillic А, and plain capitals: the same name.
    for disguise in ["Аlice", "ALICE"] {
        mallory.send(disguise);
        mallory.expect(&format!(
            "[Server]: Nickname \"{disguise}\" is already in use. Enter your nickname:"
        ));
    }
    // Fullwidth letters, an invisible Hangul filler, a Cyrillic "Server".
    for bad in ["Ａｌｉｃｅ", "\u{3164}", "Ѕerver"] {
        mallory.send(bad);
        mallory.expect(
            "[Server]: Invalid nickname. Use 1-16 letters, digits, _ or -. Enter your nickname:",
        );
    }
}

#[test]
fn login_timeout_closes_a_silent_connection() {
    let server = Server::start(&["--login-timeout", "1s"]);
    let mut alice = server.join("Alice");
    let mut silent = server.connect();
    silent.until("[Server]: Enter your nickname:");
    silent.expect("[Server]: Login timed out.");
    assert!(silent.expect_closed().is_empty());
    // A connection that never joined leaves without a word to the room.
    assert_eq!(alice.sync(), Vec::<String>::new());
}

#[test]
fn leaving_by_closing_the_connection_is_announced() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    drop(bob);
    alice.expect("[Server]: Bob has left the chat.");
}
