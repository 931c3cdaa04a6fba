//! History (issue 13) over real sockets: replay on joining, catch-up after
//! a disconnect, `/history`, `/find` in Korean and English, across a
//! restart and a kill -9, for UTF-8 and CP949 readers, after the upgrade
//! from a JSON state file, and with `--history-db none`.

mod util;

use std::time::{Duration, Instant};

use util::{Client, Server, READ_TIMEOUT, SIGTERM};

/// The defaults (tests/util turns history off for the other tests).
const ON: &[&str] = &["--history", "20", "--history-catchup", "500"];

const EARLIER: &str = "[Server]: End of earlier messages.";

/// `[YYYY-MM-DD HH:MM] text`: the message after a well-formed time.
fn body(line: &str) -> &str {
    let b = line.as_bytes();
    assert!(
        b.len() >= 19
            && b[0] == b'['
            && b[5] == b'-'
            && b[8] == b'-'
            && b[11] == b' '
            && b[14] == b':'
            && &line[17..19] == "] ",
        "no time prefix: {line:?}"
    );
    &line[19..]
}

/// The bodies of the lines up to the end of a replay.
fn replayed(client: &mut Client) -> Vec<String> {
    client
        .until(EARLIER)
        .iter()
        .map(|l| body(l).to_string())
        .collect()
}

/// Waits until `/find` or `/history` from `client` gives `header`; the
/// disk thread commits asynchronously, so this retries within the timeout.
fn wait_for(client: &mut Client, command: &str, header: &str) -> Vec<String> {
    let deadline = Instant::now() + READ_TIMEOUT;
    loop {
        client.send(command);
        let first = client.line();
        if first == header {
            let k: usize = header
                .split(['(', ' '])
                .find_map(|w| w.parse().ok())
                .unwrap_or(0);
            return (0..k).map(|_| body(&client.line()).to_string()).collect();
        }
        assert!(Instant::now() < deadline, "{command}: {first:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_newcomer_sees_earlier_messages_but_never_whispers_joins_or_leaves() {
    let server = Server::start(ON);
    let mut alice = server.join("Alice");
    // An empty room: nothing at all before the next answer.
    assert!(alice.sync().is_empty());
    let mut carol = server.join("Carol");
    alice.expect("[Server]: Carol has joined the chat.");
    alice.send("hello everyone");
    alice.send("과제는 내일까지");
    alice.send("/whisper Carol a secret");
    alice.expect("[Whisper to Carol] a secret");
    carol.until("[Whisper from Alice] a secret");
    carol.send("/exit");
    alice.expect("[Server]: Carol has left the chat.");

    let mut bob = server.join("Bob");
    // The encoding hint (an ASCII nickname, Hangul ahead) comes first,
    // not in the middle of the replay.
    bob.expect_prefix("[Server]: Hangul looks garbled?");
    bob.expect("[Server]: Earlier messages (2):");
    assert_eq!(
        replayed(&mut bob),
        ["Alice >> hello everyone", "Alice >> 과제는 내일까지"]
    );
    // The replay is the newcomer's alone, and ends the greeting.
    assert!(bob.sync().is_empty());
    alice.expect("[Server]: Bob has joined the chat.");
    assert!(alice.sync().is_empty());
}

#[test]
fn replay_is_the_last_history_messages_and_history_n_the_last_n() {
    let server = Server::start(&["--history", "3", "--history-catchup", "500"]);
    let mut alice = server.join("Alice");
    alice.send("/history");
    alice.expect("[Server]: No earlier messages.");
    for i in 1..=5 {
        alice.send(&format!("message {i}"));
    }
    let mut bob = server.join("Bob");
    bob.expect("[Server]: Earlier messages (3):");
    assert_eq!(
        replayed(&mut bob),
        [
            "Alice >> message 3",
            "Alice >> message 4",
            "Alice >> message 5"
        ]
    );
    bob.send("/history 2");
    bob.expect("[Server]: Earlier messages (2):");
    assert_eq!(
        replayed(&mut bob),
        ["Alice >> message 4", "Alice >> message 5"]
    );
    bob.send("/history 9999999999999999999999");
    bob.expect("[Server]: Earlier messages (5):");
    assert_eq!(replayed(&mut bob).len(), 5);
    for asked in ["two", "0", "000", "+2", "-1"] {
        bob.send(&format!("/history {asked}"));
        bob.expect("[Server]: Usage: /history [n]");
    }
}

#[test]
fn a_second_find_while_the_first_runs_is_told_to_wait() {
    let server = Server::start(ON);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.send("과제는 내일까지");
    // (After the hint about garbled Hangul that Bob's first Hangul brings.)
    bob.until("Alice >> 과제는 내일까지");
    let found = "[Server]: Found 1 message for \"과제\":";
    assert_eq!(
        wait_for(&mut bob, "/find 과제", found),
        ["Alice >> 과제는 내일까지"]
    );
    // Both in one write: the room reads them in one turn, before the disk
    // thread can have answered the first.
    bob.send("/find 과제\n/find 내일");
    bob.expect("[Server]: Your last search is still running. Try again in a moment.");
    bob.expect(found);
    assert_eq!(body(&bob.line()), "Alice >> 과제는 내일까지");
    bob.send("/find 내일");
    bob.expect("[Server]: Found 1 message for \"내일\":");
}

#[test]
fn a_nickname_back_after_a_disconnect_gets_what_it_missed() {
    let server = Server::start(ON);
    let mut alice = server.join("Alice");
    alice.send("before Bob");
    let bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    drop(bob); // Wi-Fi gone
    alice.expect("[Server]: Bob has left the chat.");
    alice.send("while away 1");
    alice.send("while away 2");
    let mut bob = server.join("bob");
    bob.expect("[Server]: Messages since you left (2):");
    assert_eq!(
        replayed(&mut bob),
        ["Alice >> while away 1", "Alice >> while away 2"]
    );
    // Back again with nothing missed: no replay of what was already seen.
    bob.send("/exit");
    bob.until("[Server]: Bye, bob!");
    alice.until("[Server]: bob has left the chat.");
    let mut bob = server.join("Bob");
    assert!(bob.sync().is_empty());
}

#[test]
fn catch_up_is_capped_by_history_catchup() {
    let server = Server::start(&["--history", "20", "--history-catchup", "3", "--rate", "off"]);
    let mut alice = server.join("Alice");
    let bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    drop(bob);
    alice.expect("[Server]: Bob has left the chat.");
    for i in 1..=10 {
        alice.send(&format!("line {i}"));
    }
    let mut bob = server.join("Bob");
    bob.expect("[Server]: Messages since you left (3):");
    assert_eq!(
        replayed(&mut bob),
        ["Alice >> line 8", "Alice >> line 9", "Alice >> line 10"]
    );
}

fn find_cases(server: &Server) {
    let mut alice = server.join("Alice");
    alice.send("과제는 내일까지");
    alice.send("The HOMEWORK is due on Friday");
    alice.send("숙제 링크: https://example.org/Notebooks");
    alice.send("Zoom으로 과제 제출");
    alice.send("과자 먹을 사람");
    let mut bob = server.join("Bob");
    bob.until(EARLIER);
    assert_eq!(
        wait_for(
            &mut bob,
            "/find 과제",
            "[Server]: Found 2 messages for \"과제\":"
        ),
        ["Alice >> 과제는 내일까지", "Alice >> Zoom으로 과제 제출"]
    );
    bob.send("/find homework");
    bob.expect("[Server]: Found 1 message for \"homework\":");
    assert_eq!(body(&bob.line()), "Alice >> The HOMEWORK is due on Friday");
    bob.send("/find book");
    bob.expect("[Server]: Found 1 message for \"book\":");
    assert_eq!(
        body(&bob.line()),
        "Alice >> 숙제 링크: https://example.org/Notebooks"
    );
    bob.send("/find   zoom   과제 ");
    bob.expect("[Server]: Found 1 message for \"zoom 과제\":");
    assert_eq!(body(&bob.line()), "Alice >> Zoom으로 과제 제출");
    bob.send("/find 과제 homework");
    bob.expect("[Server]: No messages found for \"과제 homework\".");
    bob.send("/find");
    bob.expect("[Server]: Usage: /find <words>");
}

#[test]
fn find_works_in_korean_english_and_mixed() {
    find_cases(&Server::start(ON));
}

#[test]
fn find_works_in_memory_only() {
    find_cases(&Server::start(&[
        "--history",
        "20",
        "--history-catchup",
        "500",
        "--history-db",
        "none",
    ]));
}

#[test]
fn find_shows_the_ten_most_recent_oldest_first() {
    let server = Server::start(&[
        "--history",
        "20",
        "--history-catchup",
        "500",
        "--rate",
        "off",
    ]);
    let mut alice = server.join("Alice");
    for i in 1..=15 {
        alice.send(&format!("round {i:02}"));
    }
    let found = wait_for(
        &mut alice,
        "/find round",
        "[Server]: Found 10 messages for \"round\":",
    );
    let expected: Vec<String> = (6..=15).map(|i| format!("Alice >> round {i:02}")).collect();
    assert_eq!(found, expected);
}

#[test]
fn history_survives_a_restart_and_a_kill_9() {
    let mut server = Server::start(ON);
    let mut alice = server.join("Alice");
    alice.send("said before the restart");
    alice.send("/exit");
    alice.until("[Server]: Bye, Alice!");
    server.signal(SIGTERM);
    assert!(server.wait().success());
    let server = Server::start_in(server.into_dir(), ON);
    let mut bob = server.join("Bob");
    bob.expect("[Server]: Earlier messages (1):");
    assert_eq!(replayed(&mut bob), ["Alice >> said before the restart"]);
    bob.send("said before the kill");
    // The promise: a kill -9 loses at most the last second.
    std::thread::sleep(Duration::from_millis(1_200));
    let server = Server::start_in(server.into_dir(), ON);
    let mut carol = server.join("Carol");
    carol.expect("[Server]: Earlier messages (2):");
    assert_eq!(
        replayed(&mut carol),
        [
            "Alice >> said before the restart",
            "Bob >> said before the kill"
        ]
    );
    carol.send("/find restart");
    carol.expect("[Server]: Found 1 message for \"restart\":");
    assert_eq!(body(&carol.line()), "Alice >> said before the restart");
    // New messages get new ids after a restart: they come after the old.
    carol.send("after the kill");
    let mut dave = server.join("Dave");
    dave.expect("[Server]: Earlier messages (3):");
    assert_eq!(replayed(&mut dave)[2], "Carol >> after the kill");
}

#[test]
fn memory_only_history_is_gone_after_a_restart() {
    let mut server = Server::start(&[
        "--history",
        "20",
        "--history-catchup",
        "500",
        "--history-db",
        "none",
    ]);
    let mut alice = server.join("Alice");
    alice.send("only in memory");
    let mut bob = server.join("Bob");
    bob.expect("[Server]: Earlier messages (1):");
    assert_eq!(replayed(&mut bob), ["Alice >> only in memory"]);
    server.signal(SIGTERM);
    assert!(server.wait().success());
    assert!(!server.file("suda.db").exists());
    let server = Server::start_in(
        server.into_dir(),
        &[
            "--history",
            "20",
            "--history-catchup",
            "500",
            "--history-db",
            "none",
        ],
    );
    let mut carol = server.join("Carol");
    assert!(carol.sync().is_empty());
}

#[test]
fn a_cp949_reader_gets_the_replay_in_cp949() {
    let server = Server::start(ON);
    let mut alice = server.join("Alice");
    alice.send("과제는 내일까지");
    let mut reader = server.connect();
    reader.expect_prefix("[Server]: Welcome to ");
    reader.expect("[Server]: Enter your nickname:");
    reader.send("/encoding cp949");
    reader.line_bytes(); // its answer
    reader.send("Minsu");
    let header = b"[Server]: Earlier messages (1):";
    let mut lines = Vec::new();
    let deadline = Instant::now() + READ_TIMEOUT;
    while lines.last().map(Vec::as_slice) != Some(&header[..]) {
        assert!(Instant::now() < deadline);
        lines.push(reader.line_bytes().expect("a line"));
    }
    let line = reader.line_bytes().expect("the message");
    let (expected, _, _) = encoding_rs::EUC_KR.encode("Alice >> 과제는 내일까지");
    assert_eq!(line[19..], expected[..], "{line:?}");
    assert!(std::str::from_utf8(&line).is_err(), "not CP949: {line:?}");
    assert_eq!(reader.line_bytes().expect("end"), EARLIER.as_bytes());
}

/// Reads until a line ending with `suffix` (lines carry a time prefix).
fn until_ends(client: &mut Client, suffix: &str) {
    while !client.line().ends_with(suffix) {}
}

fn join_stamped(server: &Server, nick: &str) -> Client {
    let mut client = server.connect();
    until_ends(&mut client, "Enter your nickname:");
    client.send(nick);
    until_ends(
        &mut client,
        &format!("Welcome, {nick}! Type /help for commands."),
    );
    client
}

#[test]
fn with_timestamps_a_replayed_line_has_one_time_prefix() {
    let server = Server::start(&[
        "--history",
        "20",
        "--history-catchup",
        "500",
        "--timestamps",
    ]);
    let mut alice = join_stamped(&server, "Alice");
    alice.send("stamped once");
    let mut bob = join_stamped(&server, "Bob");
    assert_eq!(body(&bob.line()), "[Server]: Earlier messages (1):");
    assert_eq!(body(&bob.line()), "Alice >> stamped once");
    assert_eq!(body(&bob.line()), EARLIER);
}

#[test]
fn history_works_after_the_upgrade_from_a_json_state_file() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("state.json"),
        r#"{"version": 1, "next_id": 3, "messages": [
            {"id": 2, "due": "2020-01-01T00:00:00Z", "author": "Carl", "text": "missed while down"}
        ]}"#,
    )
    .expect("write");
    let server = Server::start_in(dir, ON);
    assert!(server.file("state.json.imported").exists());
    let mut alice = server.join("Alice");
    alice.expect("[Scheduled by Carl] missed while down");
    alice.send("after the upgrade");
    let mut bob = server.join("Bob");
    bob.expect("[Server]: Earlier messages (2):");
    assert_eq!(
        replayed(&mut bob),
        [
            "[Scheduled by Carl] missed while down",
            "Alice >> after the upgrade"
        ]
    );
    assert_eq!(
        wait_for(
            &mut bob,
            "/find upgrade",
            "[Server]: Found 1 message for \"upgrade\":"
        ),
        ["Alice >> after the upgrade"]
    );
}

#[test]
fn a_replay_bigger_than_the_output_queue_keeps_the_newest_and_the_reader() {
    // 40 lines of 3 000 bytes: a replay of 20 would be 60 KB, past the
    // 64 KiB queue with what else is queued; the replay holds 32 KiB.
    let server = Server::start(&["--history", "20", "--max-outbuf", "64KiB", "--rate", "off"]);
    let mut alice = server.join("Alice");
    let filler = "가".repeat(1000);
    for i in 0..40 {
        alice.send(&format!("{i:02} {filler}"));
    }
    alice.sync();
    let mut bob = server.connect();
    bob.expect_prefix("[Server]: Welcome to ");
    bob.expect("[Server]: Enter your nickname:");
    bob.send("Bob");
    bob.expect("[Server]: Welcome, Bob! Type /help for commands.");
    let header = bob.until_prefix("[Server]: Earlier messages (");
    let k: usize = header
        .trim_start_matches("[Server]: Earlier messages (")
        .trim_end_matches("):")
        .parse()
        .expect("a count");
    assert!((5..20).contains(&k), "{header}");
    let lines = replayed(&mut bob);
    assert_eq!(lines.len(), k);
    assert!(
        lines[k - 1].starts_with("Alice >> 39 "),
        "the newest is kept"
    );
    // Bob is still there: not dropped as a slow reader.
    bob.sync();
}
