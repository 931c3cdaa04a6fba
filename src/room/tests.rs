//! The room without sockets: every rule of the contract, with a recording
//! outbox and a clock that moves only when told.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use std::net::SocketAddr;

use super::commands::answer_lines;
use super::*;
use crate::net::charset::Encoding;
use crate::room::schedules::{SavedState, Scheduled};

/// Remembers everything the room asked for.
#[derive(Default)]
struct Recorder {
    sent: HashMap<ConnKey, Vec<String>>,
    encodings: HashMap<ConnKey, Encoding>,
    closed: Vec<ConnKey>,
    log: Vec<String>,
    changes: Vec<StateChange>,
    searches: Vec<(u64, String)>,
    /// Refuse searches, as a full worker queue would.
    search_queue_full: bool,
    /// Admin passwords handed to the checker, by id.
    checks: Vec<(u64, String)>,
}

impl Outbox for Recorder {
    fn send(&mut self, to: ConnKey, line: &Line) {
        let text = line.text();
        assert!(text.ends_with('\n'));
        self.sent
            .entry(to)
            .or_default()
            .push(text.trim_end_matches('\n').to_string());
    }
    fn set_encoding(&mut self, to: ConnKey, encoding: Encoding) {
        self.encodings.insert(to, encoding);
    }
    fn encoding(&self, of: ConnKey) -> Encoding {
        self.encodings.get(&of).copied().unwrap_or(Encoding::Utf8)
    }
    fn close(&mut self, to: ConnKey) {
        self.closed.push(to);
    }
    fn logging(&self) -> bool {
        true
    }
    fn log(&mut self, line: String) {
        self.log.push(line);
    }
    fn persist(&mut self, change: StateChange) {
        self.changes.push(change);
    }
    fn search(&mut self, id: u64, question: &str) -> bool {
        if self.search_queue_full {
            return false;
        }
        self.searches.push((id, question.to_string()));
        true
    }
    fn check_admin(&mut self, id: u64, password: &str) -> bool {
        self.checks.push((id, password.to_string()));
        true
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("address")
}

/// A room, its outbox and its clock.
struct Harness {
    room: Room,
    out: Recorder,
    now: Now,
    next_key: ConnKey,
    /// Changes already handed back to the room as written.
    acked: usize,
    /// Do not hand changes back by themselves (a slow disk).
    hold_saves: bool,
}

/// What a participant whose encoding nothing has confirmed reads before
/// its first line with Hangul, on a UTF-8 server.
const HINT: &str = "[Server]: Hangul looks garbled? Type /encoding cp949 (Korean Windows).";

/// 2026-11-23 14:00:00 in Seoul.
const START: &str = "2026-11-23T05:00:00Z";

impl Harness {
    fn new() -> Harness {
        Harness::with(RoomConfig::default(), Schedules::default())
    }

    fn with(cfg: RoomConfig, schedules: Schedules) -> Harness {
        let now = Now {
            mono: Instant::now(),
            wall: START.parse().expect("timestamp"),
        };
        let tz = TimeZone::get("Asia/Seoul").expect("zone");
        Harness {
            room: Room::new(cfg, Clock::new(tz, false), schedules, now),
            out: Recorder::default(),
            now,
            next_key: 0,
            acked: 0,
            hold_saves: false,
        }
    }

    fn connect(&mut self) -> ConnKey {
        let key = self.next_key;
        self.next_key += 1;
        self.open(key, Via::Stream(addr("127.0.0.1:4000")))
    }

    fn open(&mut self, key: ConnKey, via: Via) -> ConnKey {
        self.room
            .open(key, 1000 + key as u64, via, self.now, &mut self.out);
        key
    }

    /// Connects and joins as `nick`, forgetting the welcome lines.
    fn join(&mut self, nick: &str) -> ConnKey {
        let key = self.connect();
        self.say(key, nick);
        let lines = self.lines(key);
        let welcome = format!("[Server]: Welcome, {nick}! Type /help for commands.");
        assert!(lines.contains(&welcome), "{lines:?}");
        key
    }

    fn say(&mut self, key: ConnKey, text: &str) {
        self.room
            .input(key, Input::Line(text), self.now, &mut self.out);
        self.settle();
    }

    fn advance(&mut self, by: Duration) {
        self.now = self.now.after(by);
        self.room.tick(self.now, &mut self.out);
        self.settle();
    }

    /// Hands the room back its changes as written, as a store that keeps
    /// up does (unless `hold_saves`).
    fn settle(&mut self) {
        if !self.hold_saves {
            self.write_saves();
        }
    }

    /// Hands the room back every change not yet acknowledged.
    fn write_saves(&mut self) {
        let saved: Vec<Saved> = self.out.changes[self.acked..]
            .iter()
            .map(StateChange::saved)
            .collect();
        self.acked = self.out.changes.len();
        self.room.saved(&saved, self.now, &mut self.out);
    }

    /// Lines received by `key` since the last call.
    fn lines(&mut self, key: ConnKey) -> Vec<String> {
        self.out.sent.remove(&key).unwrap_or_default()
    }

    fn closed(&self, key: ConnKey) -> bool {
        self.out.closed.contains(&key)
    }
}

#[test]
fn welcome_then_nickname_prompt() {
    let mut h = Harness::new();
    h.join("Alice");
    let bob = h.connect();
    assert_eq!(
        h.lines(bob),
        [
            "[Server]: Welcome to suda! (1/10 online)",
            "[Server]: Enter your nickname:"
        ]
    );
}

#[test]
fn nickname_rules_at_login() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let key = h.connect();
    h.lines(key);
    for bad in ["two words", "server", "SERVER", "abcdefghijklmnopq", "a.b"] {
        h.say(key, bad);
        assert_eq!(
            h.lines(key),
            ["[Server]: Invalid nickname. Use 1-16 letters, digits, _ or -. Enter your nickname:"],
            "{bad}"
        );
    }
    h.say(key, "ALICE");
    assert_eq!(
        h.lines(key),
        ["[Server]: Nickname \"ALICE\" is already in use. Enter your nickname:"]
    );
    h.say(key, "  민수  ");
    assert_eq!(
        h.lines(key),
        ["[Server]: Welcome, 민수! Type /help for commands."]
    );
    // Alice's nickname said nothing of her terminal: the first Hangul she
    // is sent comes after the way out.
    assert_eq!(
        h.lines(alice),
        [HINT, "[Server]: 민수 has joined the chat."]
    );
}

#[test]
fn chat_goes_to_everyone_but_the_sender() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    let charlie = h.join("Charlie");
    h.lines(alice);
    h.lines(bob);
    h.say(alice, "Hello everyone!");
    assert_eq!(h.lines(bob), ["Alice >> Hello everyone!"]);
    assert_eq!(h.lines(charlie), ["Alice >> Hello everyone!"]);
    assert!(h.lines(alice).is_empty());
    assert!(h
        .out
        .log
        .iter()
        .any(|l| l.ends_with("message Alice: Hello everyone!")));
}

#[test]
fn empty_lines_and_terminal_tricks_are_not_relayed() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    h.say(alice, "   ");
    h.say(alice, "\x1b[2J\x1b[H");
    assert!(h.lines(bob).is_empty());
    h.say(alice, "\x1b[31mred\x1b[0m and\x07 bell");
    assert_eq!(h.lines(bob), ["Alice >> red and bell"]);
}

#[test]
fn users_in_join_order_with_the_admin_marked() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.join("Bob");
    let charlie = h.join("Charlie");
    h.say(charlie, "/who");
    assert_eq!(
        h.lines(charlie),
        ["[Server]: Users online (3/10): Alice (admin), Bob, Charlie"]
    );
    h.say(alice, "/users");
    h.say(alice, "/user");
    assert_eq!(h.lines(alice).len(), 4); // two join notices, two lists
}

#[test]
fn admin_passes_to_the_longest_connected() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    let charlie = h.join("Charlie");
    h.lines(bob);
    h.lines(charlie);
    h.room.gone(alice, Gone::Closed, h.now, &mut h.out);
    assert_eq!(
        h.lines(charlie),
        [
            "[Server]: Alice has left the chat.",
            "[Server]: Bob is now the admin."
        ]
    );
    h.say(charlie, "/kick Bob");
    assert_eq!(
        h.lines(charlie),
        ["[Server]: Only the admin can kick users."]
    );
    h.say(bob, "/users");
    assert_eq!(
        h.lines(bob).last().map(String::as_str),
        Some("[Server]: Users online (2/10): Bob (admin), Charlie")
    );
}

#[test]
fn rename_tells_everyone_and_keeps_rules() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    h.say(alice, "/rename Alice123");
    assert_eq!(
        h.lines(alice),
        ["[Server]: Your nickname is now \"Alice123\"."]
    );
    assert_eq!(
        h.lines(bob),
        ["[Server]: User \"Alice\" has changed their nickname to \"Alice123\"."]
    );
    h.say(bob, "/nick alice123");
    assert_eq!(
        h.lines(bob),
        ["[Server]: Nickname \"alice123\" is already in use."]
    );
    h.say(bob, "/nick bad name");
    assert_eq!(
        h.lines(bob),
        ["[Server]: Invalid nickname. Use 1-16 letters, digits, _ or -."]
    );
    // The old name is free again; a case change of one's own name is fine.
    h.say(bob, "/nick BOB");
    assert_eq!(h.lines(bob), ["[Server]: Your nickname is now \"BOB\"."]);
    h.say(bob, "/rename");
    assert_eq!(h.lines(bob), ["[Server]: Usage: /rename <new-nickname>"]);
    let carol = h.join("alice");
    h.say(carol, "hi");
    assert_eq!(
        h.lines(alice).last().map(String::as_str),
        Some("alice >> hi")
    );
}

#[test]
fn whisper_reaches_only_its_target() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    let charlie = h.join("Charlie");
    h.lines(alice);
    h.lines(bob);
    h.say(bob, "/whisper charlie Are you coming?");
    assert_eq!(h.lines(charlie), ["[Whisper from Bob] Are you coming?"]);
    assert_eq!(h.lines(bob), ["[Whisper to Charlie] Are you coming?"]);
    assert!(h.lines(alice).is_empty());
    h.say(bob, "/w Nobody hi");
    assert_eq!(h.lines(bob), ["[Server]: No user named \"Nobody\"."]);
    h.say(bob, "/msg Alice");
    assert_eq!(h.lines(bob), ["[Server]: Usage: /whisper <nick> <message>"]);
    assert!(h
        .out
        .log
        .iter()
        .any(|l| l.ends_with("whisper Bob -> Charlie")));
    assert!(!h.out.log.iter().any(|l| l.contains("Are you coming")));
}

#[test]
fn scheduled_message_goes_out_later_to_everyone_but_its_author() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let charlie = h.join("Charlie");
    h.lines(alice);
    h.say(charlie, "/schedule 10m Meeting starts soon");
    assert_eq!(
        h.lines(charlie),
        ["[Server]: Message #1 scheduled for 2026-11-23 14:10:00."]
    );
    h.advance(Duration::from_secs(599));
    assert!(h.lines(alice).is_empty());
    h.say(charlie, "/rename Chuck");
    h.lines(alice);
    h.lines(charlie);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.lines(alice), ["[Scheduled by Chuck] Meeting starts soon"]);
    // The author hears that it went, not the message itself.
    assert_eq!(
        h.lines(charlie),
        ["[Server]: Your scheduled message #1 was sent."]
    );
    assert!(
        matches!(h.out.changes.as_slice(), [StateChange::Added(m), StateChange::Delivered(1)] if m.id == 1)
    );
}

/// A due message goes out only once the store has it as delivered (else
/// a crash could send it twice); replies do not wait.
#[test]
fn deliveries_wait_for_the_store() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    h.hold_saves = true;
    h.say(bob, "/schedule 1m soon");
    assert_eq!(
        h.lines(bob),
        ["[Server]: Message #1 scheduled for 2026-11-23 14:01:00."]
    );
    h.advance(Duration::from_secs(60));
    assert!(h.lines(alice).is_empty(), "sent before it was marked");
    assert!(matches!(
        h.out.changes.as_slice(),
        [StateChange::Added(_), StateChange::Delivered(1)]
    ));
    // Already on its way: it cannot be cancelled any more.
    h.say(bob, "/unschedule 1");
    assert_eq!(
        h.lines(bob),
        ["[Server]: You have no scheduled message #1."]
    );
    h.write_saves();
    assert_eq!(h.lines(alice), ["[Scheduled by Bob] soon"]);
    assert_eq!(
        h.lines(bob),
        ["[Server]: Your scheduled message #1 was sent."]
    );
    // Handed back twice (a store retrying): it still goes out once.
    h.room.saved(&[Saved::Delivered(1)], h.now, &mut h.out);
    assert!(h.lines(alice).is_empty());
}

#[test]
fn clock_time_schedules_use_the_room_zone() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.say(alice, "/schedule 13:30 lunch is over");
    // 14:00 in Seoul now: 13:30 is tomorrow.
    assert_eq!(
        h.lines(alice),
        ["[Server]: Message #1 scheduled for 2026-11-24 13:30."]
    );
    h.say(alice, "/schedule 25:00 never");
    assert_eq!(
        h.lines(alice),
        ["[Server]: Invalid time \"25:00\". Use HH:MM or a duration such as 90s, 10m, 1h30m."]
    );
    h.say(alice, "/schedule 30d far away");
    assert_eq!(
        h.lines(alice),
        ["[Server]: Messages can be scheduled at most 7d ahead."]
    );
}

#[test]
fn scheduled_message_survives_its_author_leaving_but_not_a_kick() {
    let mut h = Harness::new();
    let admin = h.join("Admin");
    let leaver = h.join("Leaver");
    let kicked = h.join("Kicked");
    h.say(leaver, "/schedule 1m from the leaver");
    h.say(kicked, "/schedule 1m from the kicked");
    h.room.gone(leaver, Gone::Closed, h.now, &mut h.out);
    h.say(admin, "/kick kicked");
    h.lines(admin);
    h.advance(Duration::from_secs(60));
    assert_eq!(h.lines(admin), ["[Scheduled by Leaver] from the leaver"]);
}

#[test]
fn schedules_list_and_cancel_only_your_own() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    h.say(alice, "/schedules");
    assert_eq!(
        h.lines(alice),
        ["[Server]: You have no scheduled messages."]
    );
    h.say(alice, "/schedule 2h second");
    h.say(alice, "/schedule 90s first");
    assert_eq!(
        h.lines(alice),
        [
            "[Server]: Message #1 scheduled for 2026-11-23 16:00.",
            "[Server]: Message #2 scheduled for 2026-11-23 14:01:30.",
        ]
    );
    // Soonest first, whatever the order they were made in.
    h.say(alice, "/schedules");
    assert_eq!(
        h.lines(alice),
        [
            "[Server]: Your scheduled messages (2):",
            "[Server]:   #2 at 2026-11-23 14:01:30: first",
            "[Server]:   #1 at 2026-11-23 16:00: second",
        ]
    );
    h.say(bob, "/unschedule 2");
    assert_eq!(
        h.lines(bob),
        ["[Server]: You have no scheduled message #2."]
    );
    h.say(alice, "/unschedule #2");
    assert_eq!(h.lines(alice), ["[Server]: Message #2 cancelled."]);
    h.advance(Duration::from_secs(120));
    assert!(h.lines(bob).is_empty());
}

#[test]
fn schedule_limit_per_participant() {
    let cfg = RoomConfig {
        max_scheduled: 2,
        rate: None,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let alice = h.join("Alice");
    h.say(alice, "/schedule 1m a");
    h.say(alice, "/schedule 1m b");
    h.lines(alice);
    h.say(alice, "/schedule 1m c");
    assert_eq!(
        h.lines(alice),
        ["[Server]: You already have 2 scheduled messages, the limit. Cancel one with /unschedule <id>."]
    );
}

#[test]
fn kick_is_for_the_admin_and_tells_everyone() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    let charlie = h.join("Charlie");
    h.lines(alice);
    h.lines(bob);
    h.say(bob, "/kick Charlie");
    assert_eq!(h.lines(bob), ["[Server]: Only the admin can kick users."]);
    h.say(alice, "/kick Alice");
    assert_eq!(
        h.lines(alice),
        ["[Server]: You cannot kick yourself. Use /exit to leave."]
    );
    h.say(alice, "/kick bob");
    assert_eq!(
        h.lines(bob),
        ["[Server]: You have been kicked from the chat."]
    );
    assert!(h.closed(bob));
    assert_eq!(
        h.lines(alice),
        ["[Server]: Bob has been kicked from the chat."]
    );
    assert_eq!(
        h.lines(charlie),
        ["[Server]: Bob has been kicked from the chat."]
    );
    // The connection closing afterwards is not a second departure.
    h.room.gone(bob, Gone::Closed, h.now, &mut h.out);
    assert!(h.lines(charlie).is_empty());
    h.say(alice, "/kick Bob");
    assert_eq!(h.lines(alice), ["[Server]: No user named \"Bob\"."]);
}

#[test]
fn exit_says_bye_and_tells_the_others() {
    for word in ["/exit", "/quit", "#exit"] {
        let mut h = Harness::new();
        let alice = h.join("Alice");
        let bob = h.join("Bob");
        h.lines(alice);
        h.say(bob, word);
        assert_eq!(h.lines(bob), ["[Server]: Bye, Bob!"]);
        assert!(h.closed(bob));
        assert_eq!(h.lines(alice), ["[Server]: Bob has left the chat."]);
    }
}

#[test]
fn encoding_command_switches_the_connection() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.say(alice, "/encoding cp949");
    assert_eq!(h.out.encodings.get(&alice), Some(&Encoding::Cp949));
    assert_eq!(h.lines(alice), ["[Server]: Your encoding is now CP949."]);
    h.say(alice, "/encoding klingon");
    assert_eq!(
        h.lines(alice),
        ["[Server]: Usage: /encoding <utf-8|cp949> (now CP949)"]
    );
    // Also before choosing a nickname, for legacy clients.
    let key = h.connect();
    h.lines(key);
    h.say(key, "/encoding euc-kr");
    assert_eq!(h.out.encodings.get(&key), Some(&Encoding::Cp949));
}

#[test]
fn unknown_commands_and_search_without_a_model() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.say(alice, "/dance");
    assert_eq!(
        h.lines(alice),
        ["[Server]: Unknown command \"/dance\". Type /help for commands."]
    );
    h.say(alice, "/search what is rust?");
    assert_eq!(
        h.lines(alice),
        ["[Server]: /search is not enabled on this server."]
    );
    h.say(alice, "/help");
    let help = h.lines(alice);
    assert!(help.len() > 5 && help.iter().all(|l| l.starts_with("[Server]: ")));
}

#[test]
fn flood_is_dropped_with_one_notice() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    // The whole burst is for chat: the nickname took nothing from it.
    for i in 0..30 {
        h.say(bob, &format!("line {i}"));
    }
    assert_eq!(h.lines(alice).len(), 20);
    assert_eq!(
        h.lines(bob),
        ["[Server]: You are sending too fast; message dropped."]
    );
    h.advance(Duration::from_secs(1));
    for i in 0..10 {
        h.say(bob, &format!("later {i}"));
    }
    assert_eq!(h.lines(alice).len(), 5);
    assert_eq!(h.lines(bob).len(), 1);
}

#[test]
fn too_long_lines_are_reported() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.room.input(alice, Input::TooLong, h.now, &mut h.out);
    assert_eq!(
        h.lines(alice),
        ["[Server]: Message too long (max 4096 bytes)."]
    );
}

#[test]
fn room_full_turns_newcomers_away() {
    let cfg = RoomConfig {
        max_clients: 2,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    h.join("A");
    let waiting = h.connect();
    h.join("B");
    let late = h.connect();
    assert_eq!(
        h.lines(late),
        ["[Server]: The chat room is full (2/2). Try again later."]
    );
    assert!(h.closed(late));
    // Someone who connected before the room filled is turned away at the nickname.
    h.lines(waiting);
    h.say(waiting, "C");
    assert_eq!(
        h.lines(waiting),
        ["[Server]: The chat room is full (2/2). Try again later."]
    );
    assert!(h.closed(waiting));
}

#[test]
fn silent_sockets_cannot_keep_newcomers_out() {
    let cfg = RoomConfig {
        max_joining: 3,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let open = |h: &mut Harness, ip: &str| {
        let key = h.next_key;
        h.next_key += 1;
        h.open(key, Via::Stream(addr(&format!("{ip}:5000"))))
    };
    let pest: Vec<ConnKey> = (0..2).map(|_| open(&mut h, "10.0.0.66")).collect();
    let typing = open(&mut h, "10.0.0.7");
    // The waiting room is full; the next person pushes out the oldest
    // connection of the address with the most waiting: the pest's.
    let newcomer = open(&mut h, "10.0.0.8");
    assert!(h.closed(pest[0]));
    assert_eq!(
        h.lines(pest[0]).last().map(String::as_str),
        Some("[Server]: Too many people are joining right now. Try again in a minute.")
    );
    assert!(!h.closed(typing) && !h.closed(newcomer));
    h.say(typing, "Tara");
    assert_eq!(
        h.lines(typing).last().map(String::as_str),
        Some("[Server]: Welcome, Tara! Type /help for commands.")
    );
    // Full again (pest, newcomer, pest): the pest reconnecting only pushes
    // out its own older socket.
    let again = open(&mut h, "10.0.0.66");
    assert!(!h.closed(pest[1]));
    let third = open(&mut h, "10.0.0.66");
    assert!(h.closed(pest[1]));
    assert!(!h.closed(again) && !h.closed(third) && !h.closed(newcomer));
}

#[test]
fn a_crowd_hears_joins_and_leaves_in_summaries() {
    let cfg = RoomConfig {
        crowd_size: 3,
        crowd_interval: Duration::from_secs(10),
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let first = h.join("A");
    h.join("B");
    let c = h.join("C");
    assert_eq!(
        h.lines(first),
        [
            "[Server]: B has joined the chat.",
            "[Server]: C has joined the chat."
        ]
    );
    let names = ["D", "E", "F", "G", "H", "I", "J"];
    let keys: Vec<ConnKey> = names.iter().map(|n| h.join(n)).collect();
    h.room.gone(keys[0], Gone::Closed, h.now, &mut h.out);
    assert!(h.lines(first).is_empty(), "nothing until the summary");
    h.advance(Duration::from_secs(10));
    assert_eq!(
        h.lines(first),
        [
            "[Server]: 7 joined the chat: D, E, F, G, H and 2 others.",
            "[Server]: 1 left the chat: D."
        ]
    );
    for key in &keys[1..] {
        h.room.gone(*key, Gone::Closed, h.now, &mut h.out);
    }
    h.advance(Duration::from_secs(10));
    assert_eq!(
        h.lines(first),
        ["[Server]: 6 left the chat: E, F, G, H, I and 1 other."]
    );
    // No longer a crowd: one line each again.
    h.room.gone(c, Gone::Closed, h.now, &mut h.out);
    assert_eq!(h.lines(first), ["[Server]: C has left the chat."]);
    let late = h.join("K");
    h.lines(late);
    assert_eq!(h.lines(first), ["[Server]: K has joined the chat."]);
}

/// Datagrams from forged addresses cost nothing: UDP sessions still at the
/// prompt are pushed out before anyone who connected over TCP, and an IPv6
/// /64 counts as one address.
#[test]
fn forged_udp_sessions_and_ipv6_hosts_cannot_push_people_out() {
    let cfg = RoomConfig {
        max_joining: 3,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let next = |h: &mut Harness, via: Via| {
        let key = h.next_key;
        h.next_key += 1;
        h.open(key, via)
    };
    let typing = next(&mut h, Via::Stream(addr("10.0.0.7:5000")));
    let helo: Vec<ConnKey> = (2..4)
        .map(|i| next(&mut h, Via::Datagram(addr(&format!("10.0.1.{i}:9999")))))
        .collect();
    for i in 10..20 {
        next(&mut h, Via::Datagram(addr(&format!("10.0.1.{i}:9999"))));
    }
    assert!(helo.iter().all(|k| h.closed(*k)));
    assert!(!h.closed(typing));
    // Many addresses of one IPv6 /64 count as one host.
    let mut h = Harness::with(
        RoomConfig {
            max_joining: 3,
            ..RoomConfig::default()
        },
        Schedules::default(),
    );
    let typing = next(&mut h, Via::Stream(addr("[2001:db8:1::7]:5000")));
    let first = next(&mut h, Via::Stream(addr("[2001:db8:2::1]:5000")));
    next(&mut h, Via::Stream(addr("[2001:db8:2::2]:5000")));
    next(&mut h, Via::Stream(addr("[2001:db8:2::3]:5000")));
    assert!(h.closed(first));
    assert!(!h.closed(typing));
}

#[test]
fn login_and_idle_timeouts() {
    let cfg = RoomConfig {
        login_timeout: Duration::from_secs(60),
        idle_timeout: Some(Duration::from_secs(300)),
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    let lurker = h.connect();
    h.lines(lurker);
    h.lines(alice);
    h.advance(Duration::from_secs(59));
    assert!(!h.closed(lurker));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.lines(lurker), ["[Server]: Login timed out."]);
    assert!(h.closed(lurker));
    // Alice talks at 200 s; Bob stays silent.
    h.advance(Duration::from_secs(140));
    h.say(alice, "still here");
    h.lines(bob);
    h.advance(Duration::from_secs(100));
    assert_eq!(
        h.lines(bob),
        ["[Server]: Disconnected after 5m of silence."]
    );
    assert!(h.closed(bob));
    assert!(!h.closed(alice));
    assert_eq!(h.lines(alice), ["[Server]: Bob has left the chat."]);
    // Alice's silence began at 200 s: she goes at 500 s, not before.
    h.advance(Duration::from_secs(199));
    assert!(!h.closed(alice));
    h.advance(Duration::from_secs(1));
    assert!(h.closed(alice));
}

#[test]
fn restored_messages_wait_for_someone_to_read_them() {
    let saved = SavedState {
        version: 1,
        next_id: 5,
        messages: vec![
            Scheduled {
                id: 3,
                due: "2026-11-23T04:00:00Z".parse::<Timestamp>().expect("ts"),
                author: "Charlie".into(),
                text: "missed while down".into(),
                author_conn: None,
            },
            Scheduled {
                id: 4,
                due: "2026-11-23T05:01:00Z".parse::<Timestamp>().expect("ts"),
                author: "Charlie".into(),
                text: "still ahead".into(),
                author_conn: None,
            },
        ],
    };
    let mut h = Harness::with(RoomConfig::default(), Schedules::restore(saved));
    let alice = h.connect();
    h.say(alice, "Alice");
    assert_eq!(
        h.lines(alice),
        [
            "[Server]: Welcome to suda! (0/10 online)",
            "[Server]: Enter your nickname:",
            "[Server]: Welcome, Alice! Type /help for commands.",
            "[Scheduled by Charlie] missed while down",
        ]
    );
    h.advance(Duration::from_secs(60));
    assert_eq!(h.lines(alice), ["[Scheduled by Charlie] still ahead"]);
    h.say(alice, "/schedule 1m numbering goes on");
    assert_eq!(
        h.lines(alice),
        ["[Server]: Message #5 scheduled for 2026-11-23 14:02:00."]
    );
}

/// Found by scripts/crashloop.sh: a message due a moment after a restart,
/// before anyone was back, was marked delivered and sent to nobody.
#[test]
fn a_message_due_in_an_empty_room_waits_for_the_first_person() {
    let saved = SavedState {
        version: 1,
        next_id: 2,
        messages: vec![Scheduled {
            id: 1,
            due: "2026-11-23T05:00:01Z".parse::<Timestamp>().expect("ts"),
            author: "Charlie".into(),
            text: "due just after the restart".into(),
            author_conn: None,
        }],
    };
    let mut h = Harness::with(RoomConfig::default(), Schedules::restore(saved));
    h.advance(Duration::from_secs(5));
    assert!(
        !h.out
            .changes
            .iter()
            .any(|c| matches!(c, StateChange::Delivered(_))),
        "delivered to an empty room"
    );
    let alice = h.connect();
    h.say(alice, "Alice");
    assert_eq!(
        h.lines(alice).last().map(String::as_str),
        Some("[Scheduled by Charlie] due just after the restart")
    );
    // The same when everyone has left and a message falls due.
    h.say(alice, "/schedule 10s after everyone left");
    h.say(alice, "/quit");
    h.advance(Duration::from_secs(11));
    let bob = h.connect();
    h.say(bob, "Bob");
    assert_eq!(
        h.lines(bob).last().map(String::as_str),
        Some("[Scheduled by Alice] after everyone left")
    );
}

#[test]
fn shutdown_tells_everyone_including_those_still_joining() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let joining = h.connect();
    h.lines(joining);
    h.lines(alice);
    h.room.shutdown(h.now, &mut h.out);
    for key in [alice, joining] {
        assert_eq!(h.lines(key), ["[Server]: The server is shutting down."]);
        assert!(h.closed(key));
    }
    assert_eq!(h.room.online(), 0);
}

#[test]
fn console_joins_as_admin() {
    let mut h = Harness::new();
    let key = h.next_key;
    h.next_key += 1;
    h.room
        .open_console(key, 1, "host", h.now, &mut h.out)
        .expect("console joins");
    let guest = h.join("guest");
    h.say(guest, "/users");
    assert_eq!(
        h.lines(guest),
        ["[Server]: Users online (2/10): host (admin), guest"]
    );
    assert_eq!(
        h.lines(key),
        [
            "[Server]: Welcome, host! Type /help for commands.",
            "[Server]: guest has joined the chat."
        ]
    );
    assert!(h
        .room
        .open_console(99, 2, "Server", h.now, &mut h.out)
        .is_err());
}

#[test]
fn timestamps_prefix_every_line() {
    let now = Now {
        mono: Instant::now(),
        wall: START.parse().expect("timestamp"),
    };
    let tz = TimeZone::get("Asia/Seoul").expect("zone");
    let mut room = Room::new(
        RoomConfig::default(),
        Clock::new(tz, true),
        Schedules::default(),
        now,
    );
    let mut out = Recorder::default();
    room.open(0, 1, Via::Stream(addr("127.0.0.1:4000")), now, &mut out);
    room.input(0, Input::Line("Alice"), now, &mut out);
    let lines = out.sent.remove(&0).unwrap_or_default();
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("[2026-11-23 14:00] [Server]: ")),
        "{lines:?}"
    );
}

fn search_room() -> Harness {
    let cfg = RoomConfig {
        search: Some(SearchRules {
            rate: Rate {
                per_second: 0.1,
                burst: 1,
            },
            max_in_flight: 2,
            cache_ttl: Some(Duration::from_secs(600)),
            max_chars: 40,
        }),
        ..RoomConfig::default()
    };
    Harness::with(cfg, Schedules::default())
}

#[test]
fn search_question_goes_to_everyone_at_once_and_the_answer_later() {
    let mut h = search_room();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    h.say(alice, "/search What is Rust?");
    assert_eq!(h.lines(alice), ["[Search by Alice] What is Rust?"]);
    assert_eq!(h.lines(bob), ["[Search by Alice] What is Rust?"]);
    assert_eq!(h.out.searches, [(1, "What is Rust?".to_string())]);
    let answer = "A language.\n\nFast and \x1b[31msafe.\n".to_string();
    h.room.search_answer(1, Ok(answer), h.now, &mut h.out);
    for key in [alice, bob] {
        assert_eq!(h.lines(key), ["[AI] A language.", "[AI] Fast and safe."]);
    }
}

#[test]
fn long_answers_are_cut_visibly() {
    assert_eq!(
        answer_lines("0123456789\n0123456789\n0123456789", 25),
        ["0123456789", "0123456789", "01234", "(answer cut)"]
    );
    assert_eq!(answer_lines("short", 25), ["short"]);
}

#[test]
fn failures_go_to_the_askers_only_and_askers_may_leave() {
    let mut h = search_room();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    let carol = h.join("Carol");
    h.say(alice, "/ask first question");
    h.say(bob, "/ask  FIRST   question ");
    // The same question is not sent twice.
    assert_eq!(h.out.searches.len(), 1);
    h.lines(alice);
    h.lines(bob);
    h.lines(carol);
    h.room
        .search_answer(1, Err("HTTP 401: bad key".into()), h.now, &mut h.out);
    assert_eq!(
        h.lines(alice),
        ["[Server]: Search failed: HTTP 401: bad key"]
    );
    assert_eq!(h.lines(bob), ["[Server]: Search failed: HTTP 401: bad key"]);
    assert!(h.lines(carol).is_empty());

    h.advance(Duration::from_secs(10));
    h.say(alice, "/search second");
    h.room.gone(alice, Gone::Closed, h.now, &mut h.out);
    h.lines(carol);
    h.room
        .search_answer(2, Ok("answer".into()), h.now, &mut h.out);
    assert_eq!(h.lines(carol), ["[AI] answer"]);
}

#[test]
fn repeated_questions_come_from_the_cache() {
    let mut h = search_room();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.say(alice, "/search capital of Korea?");
    h.room
        .search_answer(1, Ok("Seoul.".into()), h.now, &mut h.out);
    h.lines(alice);
    h.lines(bob);
    h.say(bob, "/search Capital of  Korea?");
    assert_eq!(h.out.searches.len(), 1, "no second request");
    assert_eq!(
        h.lines(alice),
        ["[Search by Bob] Capital of  Korea?", "[AI] Seoul."]
    );
    // Ten minutes later the answer is asked for again.
    h.advance(Duration::from_secs(600));
    h.say(bob, "/search capital of korea?");
    assert_eq!(h.out.searches.len(), 2);
}

#[test]
fn search_rate_and_room_wide_cap() {
    let mut h = search_room();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    let carol = h.join("Carol");
    h.lines(alice);
    h.say(alice, "/search one");
    h.lines(alice);
    h.say(alice, "/search two");
    assert_eq!(h.lines(alice), ["[Server]: You can search again in 10s."]);
    h.say(bob, "/search three");
    h.say(carol, "/search four");
    assert_eq!(
        h.lines(carol).last().map(String::as_str),
        Some("[Server]: Too many searches are in progress. Try again in a moment.")
    );
    h.out.search_queue_full = true;
    h.room
        .search_answer(1, Ok("done".into()), h.now, &mut h.out);
    h.lines(carol);
    // Carol's refused question did not use up her turn: no waiting.
    h.say(carol, "/search five");
    assert_eq!(
        h.lines(carol),
        ["[Server]: Too many searches are in progress. Try again in a moment."]
    );
    h.out.search_queue_full = false;
    h.say(carol, "/search six");
    assert_eq!(h.lines(carol), ["[Search by Carol] six"]);
}

#[test]
fn failure_reasons_cannot_paint_terminals() {
    let mut h = search_room();
    let alice = h.join("Alice");
    h.say(alice, "/search x");
    h.lines(alice);
    let reason = "HTTP 429: \x1b[2J\x1b[31mrate\rPWNED \x1b]0;title\x07 limited".to_string();
    h.room.search_answer(1, Err(reason), h.now, &mut h.out);
    assert_eq!(
        h.lines(alice),
        ["[Server]: Search failed: HTTP 429: ratePWNED  limited"]
    );
}

#[test]
fn help_lists_every_command_and_marks_search_when_off() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.say(alice, "/help");
    let help = h.lines(alice);
    assert_eq!(
        help.first().map(String::as_str),
        Some("[Server]: Commands:")
    );
    for command in [
        "/help",
        "/users",
        "/rename",
        "/whisper",
        "/schedule",
        "/schedules",
        "/unschedule",
        "/kick",
        "/search",
        "/encoding",
        "/emoticons",
        "/admin",
        "/unban",
        "/exit",
    ] {
        // `/schedules` has two rows: the caller's own, and everyone's.
        let rows = if command == "/schedules" { 2 } else { 1 };
        let listed = help
            .iter()
            .filter(|l| l.starts_with(&format!("[Server]:   {command} ")))
            .count();
        assert_eq!(listed, rows, "{command} in {help:#?}");
    }
    assert!(help.contains(
        &"[Server]:   /search <question>           (not enabled on this server)".to_string()
    ));
    // Every line listed is a command the parser knows.
    for (command, _) in commands::HELP {
        assert!(
            !matches!(Command::parse(command), Command::Unknown(_)),
            "{command}"
        );
    }

    let mut h = search_room();
    let alice = h.join("Alice");
    h.say(alice, "/help");
    assert!(h.lines(alice).contains(
        &"[Server]:   /search <question>           ask the AI; the answer is shared (also /ask)"
            .to_string()
    ));
}

#[test]
fn lines_before_joining_do_not_spend_the_chat_burst() {
    let cfg = RoomConfig {
        rate: Some(Rate {
            per_second: 0.001,
            burst: 5,
        }),
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let alice = h.join("Alice");
    let bob = h.connect();
    h.lines(bob);
    // Three refused nicknames, then the right one: four lines of login.
    for bad in ["a b", "Alice", "c d"] {
        h.say(bob, bad);
    }
    h.say(bob, "Bob");
    h.lines(bob);
    h.lines(alice);
    for i in 0..12 {
        h.say(bob, &format!("line {i}"));
    }
    let relayed = h.lines(alice);
    assert_eq!(
        relayed,
        (0..5)
            .map(|i| format!("Bob >> line {i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        h.lines(bob),
        ["[Server]: You are sending too fast; message dropped."]
    );
}

#[test]
fn a_flood_before_joining_is_dropped_without_answers() {
    let cfg = RoomConfig {
        rate: Some(Rate {
            per_second: 0.001,
            burst: 5,
        }),
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let key = h.connect();
    h.lines(key);
    for _ in 0..10_000 {
        h.say(key, "not a nickname!");
    }
    // Five answers for the burst and one notice; the rest cost nothing.
    let lines = h.lines(key);
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("[Server]: You are sending too fast; message dropped.")
    );
}

#[test]
fn an_unconfirmed_encoding_is_hinted_once_before_the_first_hangul() {
    // No replay: it would give Dave his hint before /users does.
    let cfg = RoomConfig {
        history: 0,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    // Nothing to garble yet: no hint.
    h.say(bob, "hello");
    assert_eq!(h.lines(alice), ["Bob >> hello"]);
    // Bob settles it himself.
    h.say(bob, "/encoding utf-8");
    h.lines(bob);
    // The first Hangul either reads: a name in a notice.
    let minsu = h.join("민수");
    assert_eq!(
        h.lines(alice),
        [HINT, "[Server]: 민수 has joined the chat."]
    );
    assert_eq!(h.lines(bob), ["[Server]: 민수 has joined the chat."]);
    assert!(HINT.is_ascii());
    // Once is enough.
    h.say(minsu, "또 만나요");
    assert_eq!(h.lines(alice), ["민수 >> 또 만나요"]);
    // A newcomer who writes non-ASCII first has shown its encoding.
    let carol = h.join("Carol");
    h.lines(alice);
    h.lines(bob);
    h.say(carol, "café ☕");
    h.say(minsu, "반가워요");
    assert_eq!(h.lines(carol), ["민수 >> 반가워요"]);
    // Lines to one person count too (a whisper, /users with a Hangul name).
    let dave = h.join("Dave");
    h.say(dave, "/users");
    assert_eq!(
        h.lines(dave),
        [
            HINT,
            "[Server]: Users online (5/10): Alice (admin), Bob, 민수, Carol, Dave"
        ]
    );
    // Leaving while unconfirmed keeps the count right.
    let eve = h.join("Eve");
    h.room.gone(eve, Gone::Closed, h.now, &mut h.out);
    assert_eq!(h.room.unsure, 0);
}

#[test]
fn the_console_is_never_hinted_and_the_hint_names_the_other_encoding() {
    let mut h = Harness::new();
    let console = h.next_key;
    h.next_key += 1;
    h.room
        .open_console(console, 99, "host", h.now, &mut h.out)
        .expect("console joins");
    let minsu = h.join("민수");
    let legacy = h.join("Bob");
    h.lines(console);
    h.lines(legacy);
    // Bob's connection is CP949 (say, --default-encoding cp949).
    h.out.encodings.insert(legacy, Encoding::Cp949);
    h.say(minsu, "한글");
    assert_eq!(h.lines(console), ["민수 >> 한글"]);
    assert_eq!(
        h.lines(legacy),
        [
            "[Server]: Hangul looks garbled? Type /encoding utf-8.",
            "민수 >> 한글"
        ]
    );
}

#[test]
fn the_console_leaving_is_not_announced_before_the_shutdown() {
    let mut h = Harness::new();
    let console = h.next_key;
    h.next_key += 1;
    h.room
        .open_console(console, 1, "host", h.now, &mut h.out)
        .expect("console joins");
    let alice = h.join("Alice");
    h.lines(console);
    h.say(console, "/exit");
    assert_eq!(h.lines(console), ["[Server]: Bye, host!"]);
    assert!(h.closed(console));
    // No "host has left", no new admin: the server is about to stop.
    assert!(h.lines(alice).is_empty());
    h.room.shutdown(h.now, &mut h.out);
    assert_eq!(h.lines(alice), ["[Server]: The server is shutting down."]);
    assert!(h.out.log.iter().any(|l| l.ends_with("leave host (quit)")));
}

#[test]
fn shortcodes_become_emoji_in_chat_whispers_and_schedules() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    h.say(alice, ":smile: hi :unicorn: 😢 :thumbsup:");
    assert_eq!(h.lines(bob), ["Alice >> 😄 hi :unicorn: 😢 👍"]);
    h.say(alice, "/w Bob :heart:");
    assert_eq!(h.lines(bob), ["[Whisper from Alice] ❤️"]);
    assert_eq!(h.lines(alice), ["[Whisper to Bob] ❤️"]);
    h.say(alice, "/schedule 1m :clap: :tada:");
    h.lines(alice);
    h.advance(Duration::from_secs(60));
    assert_eq!(h.lines(bob), ["[Scheduled by Alice] 👏 🎉"]);
    // Commands are not message text.
    h.say(alice, "/rename :smile:");
    assert_eq!(
        h.lines(alice),
        [
            "[Server]: Your scheduled message #1 was sent.",
            "[Server]: Invalid nickname. Use 1-16 letters, digits, _ or -."
        ]
    );
}

#[test]
fn emoticons_lists_the_whole_table() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.say(alice, "/emoticons");
    let lines = h.lines(alice);
    assert_eq!(
        lines.first().map(String::as_str),
        Some("[Server]: Emoticons (type the :code: in a message):")
    );
    let body = lines[1..].join("\n");
    for e in crate::emoticons::TABLE {
        assert!(
            body.contains(&format!(":{}: {}", e.code, e.emoji)),
            "{e:?} in {body}"
        );
    }
    assert!(lines.len() < crate::emoticons::TABLE.len());
}

/// Fresh sockets from addresses of their own (a hundred addresses taking
/// turns) cannot push out someone alone at the prompt who is still within
/// half of --login-timeout: the newcomer is turned away instead. Past
/// that, or with company from the same address, the old rule applies.
#[test]
fn someone_typing_a_nickname_outlasts_a_flood_of_fresh_addresses() {
    let cfg = RoomConfig {
        max_joining: 3,
        login_timeout: Duration::from_secs(60),
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let open = |h: &mut Harness, ip: &str| {
        let key = h.next_key;
        h.next_key += 1;
        h.open(key, Via::Stream(addr(&format!("{ip}:5000"))))
    };
    let typing = open(&mut h, "10.0.0.7");
    let flood: Vec<ConnKey> = (1..=20)
        .map(|i| open(&mut h, &format!("10.0.1.{i}")))
        .collect();
    assert!(!h.closed(typing));
    // Two of the flood got in; everyone after them was turned away.
    assert!(!h.closed(flood[0]) && !h.closed(flood[1]));
    for late in &flood[2..] {
        assert!(h.closed(*late));
        assert_eq!(
            h.lines(*late),
            ["[Server]: Too many people are joining right now. Try again in a minute."]
        );
    }
    // Nor can one of those addresses coming back push out its own socket
    // (only company already waiting makes an address fair game).
    let back = open(&mut h, "10.0.1.1");
    assert!(h.closed(back) && !h.closed(flood[0]) && !h.closed(typing));
    h.say(typing, "Tara");
    assert_eq!(
        h.lines(typing).last().map(String::as_str),
        Some("[Server]: Welcome, Tara! Type /help for commands.")
    );
    // Half the login timeout later, a silent socket alone is fair game:
    // the one waiting longest goes first.
    let idle = open(&mut h, "10.0.2.1");
    h.advance(Duration::from_secs(30));
    let newcomer = open(&mut h, "10.0.2.2");
    assert!(h.closed(flood[0]), "the oldest past the grace");
    assert!(!h.closed(flood[1]) && !h.closed(idle) && !h.closed(newcomer));
}

#[test]
fn failure_reasons_are_cleaned_in_the_log_too() {
    let mut h = search_room();
    let alice = h.join("Alice");
    h.say(alice, "/search x");
    let reason = "HTTP 500: \x1b[2Jbad\r... kick Teacher by Mallory\u{202e}".to_string();
    h.room.search_answer(1, Err(reason), h.now, &mut h.out);
    let logged = h.out.log.last().cloned().unwrap_or_default();
    assert!(
        logged.ends_with("search #1 failed: HTTP 500: bad... kick Teacher by Mallory"),
        "{logged:?}"
    );
    assert!(!logged.contains(['\r', '\x1b', '\u{202e}']));
}

#[test]
fn capital_lookalikes_cannot_pass_for_someone_in_the_room() {
    let mut h = Harness::new();
    for real in ["Alice", "Tom", "Bob", "Will"] {
        h.join(real);
    }
    let mallory = h.connect();
    h.lines(mallory);
    for disguise in ["AIice", "T0M", "B0B", "WiIl"] {
        h.say(mallory, disguise);
        assert_eq!(
            h.lines(mallory),
            [format!(
                "[Server]: Nickname \"{disguise}\" is already in use. Enter your nickname:"
            )]
        );
    }
    h.say(mallory, "Mallory");
    h.say(mallory, "/rename AIice");
    assert_eq!(
        h.lines(mallory).last().map(String::as_str),
        Some("[Server]: Nickname \"AIice\" is already in use.")
    );
    // Whispers find the real one by the disguise, too.
    h.say(mallory, "/w WiIl hi");
    assert_eq!(
        h.lines(mallory).last().map(String::as_str),
        Some("[Whisper to Will] hi")
    );
}

#[test]
fn invisible_marks_are_removed_from_chat_and_the_log() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    let bob = h.join("Bob");
    h.lines(alice);
    let marks = "\u{061c}\u{200b}\u{200d}\u{feff}\u{2028}\u{2029}\u{2066}";
    h.say(alice, &format!("pay{marks} here"));
    assert_eq!(h.lines(bob), ["Alice >> pay here"]);
    let logged = h.out.log.last().cloned().unwrap_or_default();
    assert!(logged.ends_with("message Alice: pay here"), "{logged:?}");
    let key = h.connect();
    h.lines(key);
    // A nickname loses its marks like any line: no invisible twin of Bob.
    h.say(key, "Bo\u{200b}b");
    assert_eq!(
        h.lines(key),
        ["[Server]: Nickname \"Bob\" is already in use. Enter your nickname:"]
    );
    h.say(key, "Ca\u{200d}rol\u{feff}");
    assert_eq!(
        h.lines(key)[..1],
        ["[Server]: Welcome, Carol! Type /help for commands."]
    );
}

/// Passwords, admins, bans, per-address limits, owned and paced schedules.
mod trust;
