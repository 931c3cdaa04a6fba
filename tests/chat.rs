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
        ["[Server]: Your scheduled message #1 was sent."],
        "not sent to its author, who is told it went"
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

/// The lines of one `/help`, from its heading to its last line.
fn help(client: &mut util::Client) -> Vec<String> {
    client.send("/help");
    client.expect("[Server]: Commands:");
    client.until("[Server]: Anything else is sent to everyone. Start a line with // to send one that begins with /.")
}

#[test]
fn help_lists_every_command_itself_included() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let lines = help(&mut alice);
    for command in [
        "/help ",
        "/users ",
        "/rename <new-nickname> ",
        "/whisper <nick> <message> ",
        "/schedule <when> <message> ",
        "/schedules  ",
        "/schedules all ",
        "/unschedule <id> ",
        "/kick <nick> [duration] ",
        "/unban <nick> ",
        "/admin <password> ",
        "/search <question> ",
        "/upload [@nick] <file name> ",
        "/encoding <utf-8|cp949> ",
        "/emoticons ",
        "/exit ",
    ] {
        let listed = lines
            .iter()
            .filter(|l| l.starts_with(&format!("[Server]:   {command}")))
            .count();
        assert_eq!(listed, 1, "{command:?} in {lines:#?}");
    }
    assert_eq!(lines.len(), 16, "{lines:#?}");
    // No model configured: /search is there, marked.
    let search = lines
        .iter()
        .find(|l| l.starts_with("[Server]:   /search "))
        .expect("listed");
    assert!(
        search.ends_with(" (not enabled on this server)"),
        "{search}"
    );
}

#[test]
fn help_shows_search_plainly_when_a_model_is_configured() {
    let url = format!("http://127.0.0.1:{}", util::closed_port());
    let server = Server::start(&["--search-url", &url]);
    let mut alice = server.join("Alice");
    let lines = help(&mut alice);
    assert!(
        lines.contains(
            &"[Server]:   /search <question>           ask the AI; the answer is shared (also /ask)"
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("not enabled")));
}

/// A refused `/rename` does not ask for a nickname: the next line typed is
/// chat, and nothing in the answer suggests otherwise.
#[test]
fn a_refused_rename_does_not_prompt() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    bob.send("/rename alice");
    bob.expect("[Server]: Nickname \"alice\" is already in use.");
    bob.send("/rename no spaces");
    bob.expect("[Server]: Invalid nickname. Use 1-16 letters, digits, _ or -.");
    bob.send("/nick Robert");
    bob.expect("[Server]: Your nickname is now \"Robert\".");
    alice.expect("[Server]: User \"Bob\" has changed their nickname to \"Robert\".");
    assert_eq!(alice.sync(), Vec::<String>::new());
}

/// `YYYY-MM-DD HH:MM[:SS]` in UTC (the test servers' zone).
fn utc(text: &str) -> jiff::Timestamp {
    let format = if text.len() == 19 {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    };
    jiff::civil::DateTime::strptime(format, text)
        .and_then(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC))
        .map(|z| z.timestamp())
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The time in `[Server]: Message #<id> scheduled for <time>.`
fn scheduled_for(line: &str, id: u64) -> String {
    let prefix = format!("[Server]: Message #{id} scheduled for ");
    line.strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('.'))
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string()
}

#[test]
fn schedules_near_are_said_to_the_second_listed_soonest_first_and_reported() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");

    bob.send("/schedule 2h much later");
    let later = scheduled_for(&bob.line(), 1);
    assert_eq!(later.len(), "2026-12-01 19:05".len(), "{later}");

    let before = jiff::Timestamp::now();
    bob.send("/schedule 30s soon");
    let soon = scheduled_for(&bob.line(), 2);
    let after = jiff::Timestamp::now();
    assert_eq!(soon.len(), "2026-12-01 19:05:30".len(), "{soon}");
    // The second is the one 30 s from when the server read the line.
    let due = utc(&soon);
    let thirty = jiff::SignedDuration::from_secs(30);
    let earliest = before
        .checked_add(thirty - jiff::SignedDuration::from_secs(1))
        .expect("time");
    let latest = after.checked_add(thirty).expect("time");
    assert!(earliest <= due && due <= latest, "{soon}");

    bob.send("/schedule 1h30m in between");
    scheduled_for(&bob.line(), 3);
    bob.send("/schedules");
    bob.expect("[Server]: Your scheduled messages (3):");
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let line = bob.line();
            let rest = line
                .strip_prefix("[Server]:   #")
                .unwrap_or_else(|| panic!("{line:?}"));
            rest.split(' ').next().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(ids, ["2", "3", "1"], "soonest first, not in id order");

    // When one goes out, the room reads it and the author hears it went.
    bob.send("/schedule 1s right away");
    scheduled_for(&bob.line(), 4);
    alice.expect("[Scheduled by Bob] right away");
    bob.expect("[Server]: Your scheduled message #4 was sent.");
    assert_eq!(alice.sync(), Vec::<String>::new());
}
