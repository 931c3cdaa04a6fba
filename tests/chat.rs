//! Chatting and every command, over real sockets.

mod util;

use util::Server;

/// The story from the issue: Alice, Bob and Charlie join; Alice greets;
/// Alice becomes Alice123; Bob whispers to Charlie; Charlie schedules a
/// message; the admin kicks Bob.
#[test]
fn seed_scenario() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    let mut charlie = server.join("Charlie");
    alice.expect("[Server]: Charlie has joined the chat.");
    bob.expect("[Server]: Charlie has joined the chat.");

    alice.send("Hello everyone!");
    bob.expect("Alice >> Hello everyone!");
    charlie.expect("Alice >> Hello everyone!");
    assert_eq!(alice.sync(), Vec::<String>::new(), "no echo to the sender");

    alice.send("/rename Alice123");
    alice.expect("[Server]: Your nickname is now \"Alice123\".");
    let renamed = "[Server]: User \"Alice\" has changed their nickname to \"Alice123\".";
    bob.expect(renamed);
    charlie.expect(renamed);

    bob.send("/whisper Charlie See you at the meeting?");
    charlie.expect("[Whisper from Bob] See you at the meeting?");
    bob.expect("[Whisper to Charlie] See you at the meeting?");
    assert_eq!(alice.sync(), Vec::<String>::new(), "whispers are private");

    charlie.send("/schedule 2s Meeting starts soon");
    let confirmation = charlie.expect_prefix("[Server]: Message #1 scheduled for ");
    assert!(confirmation.ends_with('.'), "{confirmation}");

    alice.send("/kick Bob");
    bob.expect("[Server]: You have been kicked from the chat.");
    assert!(bob.expect_closed().is_empty());
    alice.expect("[Server]: Bob has been kicked from the chat.");
    charlie.expect("[Server]: Bob has been kicked from the chat.");

    alice.expect("[Scheduled by Charlie] Meeting starts soon");
    assert_eq!(
        charlie.sync(),
        Vec::<String>::new(),
        "not sent to its author"
    );
    alice.send("/users");
    alice.expect("[Server]: Users online (2/10): Alice123 (admin), Charlie");
}

#[test]
fn help_unknown_and_usage_lines() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    alice.send("/help");
    let help = alice.until("[Server]: Anything else is sent to everyone. Start a line with // to send one that begins with /.");
    assert!(
        help.iter().any(|l| l.contains("/whisper <nick> <message>")),
        "{help:?}"
    );
    assert!(help.iter().all(|l| l.starts_with("[Server]: ")));
    alice.send("/dance");
    alice.expect("[Server]: Unknown command \"/dance\". Type /help for commands.");
    alice.send("/whisper");
    alice.expect("[Server]: Usage: /whisper <nick> <message>");
    alice.send("/schedule soon hello");
    alice.expect(
        "[Server]: Invalid time \"soon\". Use HH:MM or a duration such as 90s, 10m, 1h30m.",
    );
    alice.send("/w nobody hi");
    alice.expect("[Server]: No user named \"nobody\".");
    alice.send("/search why is the sky blue?");
    alice.expect("[Server]: /search is not enabled on this server.");
    alice.send("/ask why?");
    alice.expect("[Server]: /search is not enabled on this server.");
}

#[test]
fn exit_in_every_spelling() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    for (i, word) in ["/exit", "/quit", "#exit"].iter().enumerate() {
        let nick = format!("Guest{i}");
        let mut guest = server.join(&nick);
        alice.expect(&format!("[Server]: {nick} has joined the chat."));
        guest.send(word);
        guest.expect(&format!("[Server]: Bye, {nick}!"));
        assert!(guest.expect_closed().is_empty());
        alice.expect(&format!("[Server]: {nick} has left the chat."));
    }
}

#[test]
fn admin_hand_over_when_the_admin_leaves() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    let mut charlie = server.join("Charlie");
    alice.send("/quit");
    alice.until("[Server]: Bye, Alice!");
    bob.until("[Server]: Alice has left the chat.");
    bob.expect("[Server]: Bob is now the admin.");
    charlie.until("[Server]: Alice has left the chat.");
    charlie.expect("[Server]: Bob is now the admin.");
    charlie.send("/kick Bob");
    charlie.expect("[Server]: Only the admin can kick users.");
    bob.send("/kick charlie");
    charlie.expect("[Server]: You have been kicked from the chat.");
    bob.expect("[Server]: Charlie has been kicked from the chat.");
}

#[test]
fn schedules_can_be_listed_and_cancelled() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    // Alice joined first, so she is the admin: the author here is Alice,
    // and Bob, who is not, tries to cancel.
    alice.send("/schedule 1s cancelled one");
    alice.expect_prefix("[Server]: Message #1 scheduled for ");
    alice.send("/schedule 1s kept one");
    alice.expect_prefix("[Server]: Message #2 scheduled for ");
    alice.send("/schedules");
    alice.expect("[Server]: Your scheduled messages (2):");
    alice.expect_prefix("[Server]:   #1 at ");
    alice.expect_prefix("[Server]:   #2 at ");
    bob.send("/unschedule 1");
    bob.expect("[Server]: You have no scheduled message #1.");
    alice.send("/unschedule 1");
    alice.expect("[Server]: Message #1 cancelled.");
    // The kept one arrives; the cancelled one never does (it was due first).
    bob.expect("[Scheduled by Alice] kept one");
}

#[test]
fn double_slash_sends_a_line_starting_with_a_slash() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    bob.send("//shrug");
    alice.expect("Bob >> /shrug");
}
