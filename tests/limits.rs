//! Hostile and careless input: long lines, floods, slow readers, silence,
//! terminal escapes. Each limit answers with a `[Server]:` line or a
//! disconnect the others hear about, and the room keeps going.

mod util;

use std::thread;

use util::Server;

#[test]
fn long_lines_are_refused_and_the_next_one_works() {
    let server = Server::start(&["--max-line", "100"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    let exactly = "x".repeat(100);
    bob.send(&exactly);
    alice.expect(&format!("Bob >> {exactly}"));
    bob.send(&"y".repeat(5000));
    bob.expect("[Server]: Message too long (max 100 bytes).");
    bob.send("short again");
    alice.expect("Bob >> short again");
    assert_eq!(
        alice.sync(),
        Vec::<String>::new(),
        "nothing of the long line"
    );
}

#[test]
fn flood_is_dropped_with_a_notice() {
    // A burst of 5 and almost no refill: exactly 5 chat lines pass (the
    // nickname takes none of them), whatever the machine's speed.
    let server = Server::start(&["--rate", "1/h", "--burst", "5"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    let flood: String = (0..10).map(|i| format!("spam {i}\n")).collect();
    bob.send_raw(flood.as_bytes());
    for i in 0..5 {
        alice.expect(&format!("Bob >> spam {i}"));
    }
    bob.expect("[Server]: You are sending too fast; message dropped.");
    // Still in the room: /exit is never rate limited.
    bob.send("/exit");
    bob.expect("[Server]: Bye, Bob!");
    alice.expect("[Server]: Bob has left the chat.");
}

/// One participant never reads. The others still get every message; the
/// sluggard is disconnected once its queue passes --max-outbuf.
#[test]
fn a_client_that_never_reads_does_not_slow_the_room() {
    let server = Server::start(&["--max-outbuf", "64KiB", "--rate", "off"]);
    let mut sender = server.join("Sender");
    let mut reader = server.join("Reader");
    let _sluggard = server.join("Sluggard");
    sender.until("[Server]: Sluggard has joined the chat.");
    reader.until("[Server]: Sluggard has joined the chat.");

    const MESSAGES: usize = 40_000;
    // The sender stays at most this many messages (~100 KB) ahead of the
    // reader, well within what the server lets a reader lag (the kernel's
    // --sndbuf and --max-outbuf): the reader is a client that keeps up,
    // however slowly this machine runs it. The sluggard falls behind by all 4 MB.
    const WINDOW: usize = 1000;
    let body = "m".repeat(90);
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let receiving = {
        let progress = std::sync::Arc::clone(&progress);
        thread::spawn(move || {
            let mut seen = 0;
            let mut left = false;
            while seen < MESSAGES {
                let line = reader.line();
                if line == "[Server]: Sluggard has left the chat." {
                    left = true;
                    continue;
                }
                assert_eq!(line, format!("Sender >> {seen} {}", "m".repeat(90)));
                seen += 1;
                progress.store(seen, std::sync::atomic::Ordering::Relaxed);
            }
            (seen, left, reader)
        })
    };
    let mut batch = String::new();
    for i in 0..MESSAGES {
        batch.push_str(&format!("{i} {body}\n"));
        if batch.len() > 60_000 {
            let deadline = std::time::Instant::now() + util::READ_TIMEOUT;
            while progress.load(std::sync::atomic::Ordering::Relaxed) + WINDOW < i {
                assert!(std::time::Instant::now() < deadline, "the reader stopped");
                thread::sleep(std::time::Duration::from_millis(1));
            }
            sender.send_raw(batch.as_bytes());
            batch.clear();
        }
    }
    sender.send_raw(batch.as_bytes());
    let (seen, left, mut reader) = receiving.join().expect("reader thread");
    assert_eq!(seen, MESSAGES);
    if !left {
        reader.expect("[Server]: Sluggard has left the chat.");
    }
}

#[test]
fn idle_participants_are_closed_and_the_room_is_told() {
    let server = Server::start(&["--idle-timeout", "1s"]);
    // Both stay silent; Bob joined first, so his silence ends first.
    let mut bob = server.join("Bob");
    let mut alice = server.join("Alice");
    bob.expect("[Server]: Alice has joined the chat.");
    bob.expect("[Server]: Disconnected after 1s of silence.");
    assert!(bob.expect_closed().is_empty());
    alice.expect("[Server]: Bob has left the chat.");
    alice.expect("[Server]: Alice is now the admin.");
    alice.expect("[Server]: Disconnected after 1s of silence.");
    assert!(alice.expect_closed().is_empty());
}

#[test]
fn terminal_escapes_never_reach_other_terminals() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut mallory = server.join("Mallory");
    alice.expect("[Server]: Mallory has joined the chat.");
    mallory.send_raw(b"\x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07title\x07 bell\tand tab\n");
    alice.expect("Mallory >> red title bell\tand tab");
    mallory.send_raw(b"\x1b[H\x1b[2J\n");
    assert_eq!(
        alice.sync(),
        Vec::<String>::new(),
        "a line of escapes is empty"
    );
}

/// Someone pastes their nickname and 60 lines at once, the moment the
/// prompt appears: exactly the burst (default 20) reaches the room. The
/// nickname is not chat and takes none of it.
#[test]
fn a_paste_right_after_joining_relays_exactly_the_burst() {
    // Almost no refill, so the count does not depend on the machine's speed.
    let server = Server::start(&["--rate", "1/h"]);
    let mut alice = server.join("Alice");
    let mut carol = server.connect();
    carol.until("[Server]: Enter your nickname:");
    let mut paste = String::from("Carol\n");
    for i in 0..60 {
        paste.push_str(&format!("pasted line {i}\n"));
    }
    // /exit is never dropped: it marks the end of what the room will get.
    paste.push_str("/exit\n");
    carol.send_raw(paste.as_bytes());
    carol.expect("[Server]: Welcome, Carol! Type /help for commands.");
    carol.expect("[Server]: You are sending too fast; message dropped.");
    carol.expect("[Server]: Bye, Carol!");
    alice.expect("[Server]: Carol has joined the chat.");
    let relayed = alice.until("[Server]: Carol has left the chat.");
    let wanted: Vec<String> = (0..20)
        .map(|i| format!("Carol >> pasted line {i}"))
        .collect();
    assert_eq!(relayed, wanted);
}
