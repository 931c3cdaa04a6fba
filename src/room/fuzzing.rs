//! The room as a state machine, for the fuzzer (`fuzz/fuzz_targets/room.rs`)
//! and the property tests (`tests/properties.rs`): arbitrary bytes become a
//! sequence of opens, lines, leaves, clock moves, store acknowledgements,
//! search answers and admin verdicts, and after every step the room's
//! promises are checked. A broken promise is a panic with the reason, so
//! libFuzzer and proptest both see it.
//!
//! The promises, checked from the outside (what the outbox recorded) and
//! against the room's own bookkeeping:
//!
//! - nicknames are unique under the folding rules ([`nick_keys`]), and the
//!   room's index of them is exactly the joined members';
//! - `/users` lists exactly who was welcomed and has not left;
//! - without `--admin-password-file`, a non-empty room has exactly one
//!   admin (the first to join, then an heir); with it, nobody became admin
//!   without a right verdict;
//! - nothing is sent to, or closed on, a connection that is closed;
//! - a chat line goes to every other member (with flood control: to all of
//!   them or to none);
//! - a scheduled message is marked delivered once, goes out only after the
//!   store wrote that mark, and reaches nobody twice.
//!
//! Hidden from the docs: it is test machinery, public only so that the
//! fuzz crate (outside this one) can drive it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;

use crate::clock::{Clock, Now};
use crate::net::charset::Encoding;
use crate::net::line::Line;
use crate::passwords::Secret;
use crate::room::ratelimit::Rate;
use crate::room::schedules::Schedules;
use crate::room::{
    ConnKey, Gone, Input, Outbox, Room, RoomConfig, Saved, SearchRules, StateChange, Via,
};
use crate::text::nick_keys;

/// Connections the sequence plays with: few, so keys are reused often.
const KEYS: usize = 6;

/// Nicknames to try: look-alikes, cases, Hangul, reserved and invalid ones.
const NICKS: &[&str] = &[
    "alice",
    "ALICE",
    "Alice",
    "bob",
    "Bob",
    "민수",
    "server",
    "\u{405}erver",
    "ａｌｉｃｅ",
    "a b",
    "x",
    "carol_1",
    "-",
    "dave",
    "민수\u{3164}",
    "Ꭺlice",
];

/// Times the clock moves by: nothing, a pace tick, past the flood window,
/// past `/schedule 10s`, past the login timeout, past the idle timeout.
const STEPS: &[Duration] = &[
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(11),
    Duration::from_secs(61),
    Duration::from_secs(301),
];

/// Reads the sequence: past its end, every byte is zero.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn pick<'t, T>(&mut self, from: &'t [T]) -> &'t T {
        &from[usize::from(self.byte()) % from.len()]
    }
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// The outbox: records, and checks what the room asks of it.
#[derive(Default)]
struct Recorder {
    /// Open connections (as the reactor knows them) and their serials.
    open: HashMap<ConnKey, u64>,
    /// Lines sent in the current step.
    sent: HashMap<ConnKey, Vec<String>>,
    encodings: HashMap<ConnKey, Encoding>,
    changes: Vec<StateChange>,
    acked: usize,
    added: HashSet<u64>,
    delivered: HashSet<u64>,
    searches: Vec<u64>,
    checks: Vec<(u64, bool)>,
    /// Scheduled lines each connection (by serial) has received.
    scheduled_seen: HashSet<(u64, String)>,
    /// Inside [`Room::saved`]: the only time a scheduled line may go out.
    in_saved: bool,
    scheduled_lines: usize,
    closes: usize,
}

impl Outbox for Recorder {
    fn send(&mut self, to: ConnKey, line: &Line) {
        let Some(&uid) = self.open.get(&to) else {
            panic!("sent to closed connection {to}: {:?}", line.text());
        };
        let text = line.text();
        assert!(text.ends_with('\n'), "line without its newline: {text:?}");
        let text = text.trim_end_matches('\n').to_string();
        if text.starts_with("[Scheduled by ") {
            assert!(
                self.in_saved,
                "{text:?} sent before its delivery was written"
            );
            assert!(
                self.scheduled_seen.insert((uid, text.clone())),
                "scheduled line twice to {to}: {text:?}"
            );
            self.scheduled_lines += 1;
        }
        self.sent.entry(to).or_default().push(text);
    }
    fn set_encoding(&mut self, to: ConnKey, encoding: Encoding) {
        assert!(self.open.contains_key(&to), "encoding of closed {to}");
        self.encodings.insert(to, encoding);
    }
    fn encoding(&self, of: ConnKey) -> Encoding {
        self.encodings.get(&of).copied().unwrap_or(Encoding::Utf8)
    }
    fn close(&mut self, to: ConnKey) {
        assert!(
            self.open.remove(&to).is_some(),
            "closed connection {to} again"
        );
        self.closes += 1;
        self.encodings.remove(&to);
    }
    fn logging(&self) -> bool {
        true
    }
    fn log(&mut self, line: String) {
        assert!(!line.contains('\n'), "log line with a newline: {line:?}");
    }
    fn persist(&mut self, change: StateChange) {
        match &change {
            StateChange::Added(m) => {
                assert!(self.added.insert(m.id), "id {} added twice", m.id);
            }
            StateChange::Removed(_) => {}
            StateChange::Delivered(id) => {
                assert!(self.added.contains(id), "#{id} delivered, never added");
                assert!(self.delivered.insert(*id), "#{id} delivered twice");
            }
        }
        self.changes.push(change);
    }
    fn search(&mut self, id: u64, _question: &str) -> bool {
        // A full worker queue now and then.
        if self.searches.len() >= 3 {
            return false;
        }
        self.searches.push(id);
        true
    }
    fn check_admin(&mut self, id: u64, password: &str) -> bool {
        self.checks.push((id, password == "pw"));
        true
    }
}

/// What the sequence set up, from its first byte.
struct Setup {
    rate: bool,
    admin_password: bool,
    /// The store acknowledges only when told (a slow disk).
    hold_saves: bool,
}

fn config(byte: u8) -> (RoomConfig, Setup) {
    let mut cfg = RoomConfig {
        idle_timeout: Some(Duration::from_secs(300)),
        ..RoomConfig::default()
    };
    let setup = Setup {
        rate: byte & 1 != 0,
        admin_password: byte & 2 != 0,
        hold_saves: byte & 32 != 0,
    };
    cfg.rate = setup.rate.then_some(Rate {
        per_second: 1.0,
        burst: 3,
    });
    cfg.admin_password = setup.admin_password;
    if byte & 4 != 0 {
        cfg.search = Some(SearchRules {
            rate: Rate {
                per_second: 10.0,
                burst: 1,
            },
            max_in_flight: 2,
            cache_ttl: Some(Duration::from_secs(60)),
            max_chars: 200,
        });
    }
    if byte & 8 != 0 {
        cfg.password = Some(Secret::new("pw"));
    }
    if byte & 16 != 0 {
        cfg.max_clients = 3;
        cfg.max_joining = 2;
        cfg.crowd_size = 2;
        cfg.max_scheduled = 2;
        cfg.schedule_pace = 1;
    }
    (cfg, setup)
}

/// The room, its outbox, its clock and what the outside saw.
struct Machine {
    room: Room,
    out: Recorder,
    now: Now,
    setup: Setup,
    next_uid: u64,
    /// Who was welcomed under which name, as the lines said.
    nicks: HashMap<ConnKey, String>,
    /// Numbers chat and scheduled texts so each is recognisable.
    serial: u32,
    /// Admins that a right verdict made (with an admin password).
    granted: HashSet<ConnKey>,
    reached: Reached,
}

/// How far a sequence got: what was checked, so a test can tell that the
/// sequences reach the states worth checking.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// Welcomes seen.
    pub joins: usize,
    /// Chat lines whose delivery was checked.
    pub chats: usize,
    /// `/users` answers compared with who joined.
    pub users: usize,
    /// Scheduled lines delivered.
    pub scheduled: usize,
    /// Connections the room closed.
    pub closes: usize,
}

/// Runs the sequence `data`; panics on the first broken promise.
pub fn run(data: &[u8]) -> Reached {
    let mut bytes = Bytes { data, at: 0 };
    let (cfg, setup) = config(bytes.byte());
    let now = Now {
        mono: Instant::now(),
        wall: "2026-11-23T05:00:00Z".parse().expect("a fixed timestamp"),
    };
    let clock = Clock::new(TimeZone::fixed(jiff::tz::offset(9)), false);
    let mut m = Machine {
        room: Room::new(cfg, clock, Schedules::default(), now),
        out: Recorder::default(),
        now,
        setup,
        next_uid: 1,
        nicks: HashMap::new(),
        serial: 0,
        granted: HashSet::new(),
        reached: Reached::default(),
    };
    while !bytes.done() {
        m.step(&mut bytes);
        m.check();
    }
    m.reached.scheduled = m.out.scheduled_lines;
    m.reached.closes = m.out.closes;
    m.reached
}

impl Machine {
    fn step(&mut self, bytes: &mut Bytes<'_>) {
        self.out.sent.clear();
        let op = bytes.byte();
        let key = usize::from(bytes.byte()) % KEYS;
        match op % 12 {
            0 | 1 => self.open(key, bytes.byte()),
            2..=6 => {
                let (text, chat) = self.text(bytes);
                self.line(key, &text, chat);
            }
            7 => {
                if self.out.open.contains_key(&key) {
                    self.room
                        .input(key, Input::TooLong, self.now, &mut self.out);
                }
            }
            8 => {
                let why = *bytes.pick(&[Gone::Closed, Gone::Error, Gone::SlowReader, Gone::Silent]);
                if self.out.open.remove(&key).is_some() {
                    self.nicks.remove(&key);
                    self.granted.remove(&key);
                    self.room.gone(key, why, self.now, &mut self.out);
                }
            }
            9 => {
                let by = *bytes.pick(STEPS);
                self.now = self.now.after(by);
                self.room.tick(self.now, &mut self.out);
            }
            10 => {
                if !self.out.searches.is_empty() {
                    let id = self.out.searches.remove(0);
                    let answer = match bytes.byte() % 3 {
                        0 => Err("model unreachable\x1b[2J".to_string()),
                        1 => Ok(String::new()),
                        _ => Ok("An answer.\nWith a second line, 한글 and \x07.".to_string()),
                    };
                    self.room.search_answer(id, answer, self.now, &mut self.out);
                }
            }
            _ => {
                if !self.out.checks.is_empty() {
                    let (id, right) = self.out.checks.remove(0);
                    self.room.admin_verdict(id, right, self.now, &mut self.out);
                    // Whoever typed it may have left; if not, it is
                    // granted below from the reply it gets.
                }
                if self.setup.hold_saves {
                    self.write_saves();
                }
            }
        }
        if !self.setup.hold_saves {
            self.write_saves();
        }
        self.observe();
    }

    fn open(&mut self, key: ConnKey, how: u8) {
        if self.out.open.contains_key(&key) {
            return;
        }
        let uid = self.next_uid;
        self.next_uid += 1;
        let ip = ["127.0.0.1", "10.0.0.1", "10.0.0.2", "[2001:db8::1]"][usize::from(how % 4)];
        let addr: SocketAddr = format!("{ip}:4000").parse().expect("a fixed address");
        let via = if how & 4 != 0 {
            Via::Datagram(addr)
        } else {
            Via::Stream(addr)
        };
        self.out.open.insert(key, uid);
        self.room.open(key, uid, via, self.now, &mut self.out);
    }

    /// One line to type, from the sequence, and whether it is a chat
    /// line whose delivery can be checked.
    fn text(&mut self, bytes: &mut Bytes<'_>) -> (String, bool) {
        self.serial += 1;
        let n = self.serial;
        let nick = *bytes.pick(NICKS);
        let text = match bytes.byte() % 24 {
            0..=3 => nick.to_string(),
            4..=8 => return (format!("m{n}"), true),
            9 => "/users".to_string(),
            10 => bytes
                .pick(&["/quit", "/exit", "/help", "/schedules", "/schedules all"])
                .to_string(),
            11 => format!("/rename {nick}"),
            12 => format!("/whisper {nick} w{n}"),
            13 => format!("/schedule 10s s{n}"),
            14 => format!("/schedule 1m s{n}"),
            15 => format!("/schedule 14:0{} s{n}", n % 10),
            16 => format!("/unschedule {}", bytes.byte() % 6),
            17 => format!("/kick {nick}"),
            18 => format!("/unban {nick}"),
            19 => bytes
                .pick(&["/admin pw", "/admin wrong", "pw", "wrong"])
                .to_string(),
            20 => format!("/search q{}", n % 3),
            21 => bytes
                .pick(&["/encoding cp949", "/encoding utf-8", "/encoding x"])
                .to_string(),
            _ => {
                // Raw bytes, as a connection's decoder would hand them over.
                let len = usize::from(bytes.byte() % 24);
                let raw: Vec<u8> = (0..len).map(|_| bytes.byte()).collect();
                String::from_utf8_lossy(&raw).into_owned()
            }
        };
        (text, false)
    }

    fn line(&mut self, key: ConnKey, text: &str, chat: bool) {
        if !self.out.open.contains_key(&key) {
            return;
        }
        let sender = self.nicks.get(&key).cloned();
        let others: Vec<ConnKey> = self.nicks.keys().copied().filter(|&k| k != key).collect();
        self.room
            .input(key, Input::Line(text), self.now, &mut self.out);
        if let (true, Some(nick)) = (chat, sender) {
            let want = format!("{nick} >> {text}");
            let got: Vec<bool> = others
                .iter()
                .map(|k| self.out.sent.get(k).is_some_and(|l| l.contains(&want)))
                .collect();
            let all = got.iter().all(|&g| g);
            let none = got.iter().all(|&g| !g);
            self.reached.chats += 1;
            if self.setup.rate {
                assert!(all || none, "{want:?} reached some members only");
            } else {
                assert!(all, "{want:?} did not reach every other member");
            }
        }
        if text == "/users" && self.nicks.contains_key(&key) {
            let lines = self.out.sent.get(&key).cloned().unwrap_or_default();
            let listed = lines
                .iter()
                .find_map(|l| l.strip_prefix("[Server]: Users online ("))
                .and_then(|l| l.split_once("): "))
                .map(|(_, list)| list.to_string());
            if let Some(list) = listed {
                let mut shown: Vec<String> = list
                    .split(", ")
                    .map(|n| n.trim_end_matches(" (admin)").to_string())
                    .collect();
                let mut known: Vec<String> = self.nicks.values().cloned().collect();
                shown.sort();
                known.sort();
                assert_eq!(shown, known, "/users is not who joined");
                self.reached.users += 1;
            }
        }
    }

    fn write_saves(&mut self) {
        let saved: Vec<Saved> = self.out.changes[self.out.acked..]
            .iter()
            .map(StateChange::saved)
            .collect();
        self.out.acked = self.out.changes.len();
        self.out.in_saved = true;
        self.room.saved(&saved, self.now, &mut self.out);
        self.out.in_saved = false;
    }

    /// Learns from this step's lines who joined, renamed, became admin.
    fn observe(&mut self) {
        for (&key, lines) in &self.out.sent {
            for line in lines {
                if let Some(rest) = line.strip_prefix("[Server]: Welcome, ") {
                    if let Some(nick) = rest.strip_suffix("! Type /help for commands.") {
                        self.nicks.insert(key, nick.to_string());
                        self.reached.joins += 1;
                    }
                }
                if let Some(rest) = line.strip_prefix("[Server]: Your nickname is now \"") {
                    if let Some(nick) = rest.strip_suffix("\".") {
                        self.nicks.insert(key, nick.to_string());
                    }
                }
                if line == "[Server]: You are now an admin." {
                    self.granted.insert(key);
                }
            }
        }
        self.nicks.retain(|k, _| self.out.open.contains_key(k));
        self.granted.retain(|k| self.out.open.contains_key(k));
    }

    fn check(&self) {
        let room = &self.room;
        // Who the room thinks is there, against what the lines said.
        let mut inside: HashMap<ConnKey, String> = HashMap::new();
        let mut admins = Vec::new();
        for (key, member) in room.members.iter().enumerate() {
            let Some(member) = member else { continue };
            assert!(
                self.out.open.get(&key) == Some(&member.uid),
                "the room keeps {key}, which is closed"
            );
            if let Some(nick) = &member.nick {
                inside.insert(key, nick.clone());
                if member.admin {
                    admins.push(key);
                }
            }
        }
        assert_eq!(
            inside, self.nicks,
            "joined members are not who was welcomed"
        );
        assert_eq!(room.joined, inside.len(), "joined count");
        assert_eq!(room.admins, admins.len(), "admin count");
        // Unique under folding, and the index is exactly the members'.
        let mut index = HashMap::new();
        for (&key, nick) in &inside {
            for folded in nick_keys(nick) {
                if let Some(other) = index.insert(folded.clone(), key) {
                    assert_eq!(other, key, "{nick:?} folds like {:?}", inside[&other]);
                }
            }
        }
        assert_eq!(room.nicks, index, "the nickname index");
        if self.setup.admin_password {
            for key in &admins {
                assert!(
                    self.granted.contains(key),
                    "{key} is admin without a password"
                );
            }
        } else if !inside.is_empty() {
            assert_eq!(admins.len(), 1, "not exactly one admin: {admins:?}");
        }
        assert!(
            self.out
                .delivered
                .iter()
                .all(|id| room.schedules.get(*id).is_none()),
            "a delivered message is still pending"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made sequence reaches every state the checks are about: two
    /// joins, a chat line, `/users`, a scheduled message delivered, a
    /// `/quit`.
    #[test]
    fn a_plain_sequence_reaches_what_is_checked() {
        let sequence: &[u8] = &[
            0, // no flood control, no passwords, the store keeps up
            0, 0, 0, // open 0
            2, 0, 0, 0, // 0: "alice"
            0, 1, 0, // open 1
            2, 1, 3, 0, // 1: "bob"
            2, 0, 0, 4, // 0: a chat line
            2, 1, 0, 9, // 1: /users
            2, 0, 0, 13, // 0: /schedule 10s
            9, 0, 3, // 11 s later
            2, 1, 0, 10, 0, // 1: /quit
        ];
        let reached = run(sequence);
        assert_eq!(
            reached,
            Reached {
                joins: 2,
                chats: 1,
                users: 1,
                scheduled: 1,
                closes: 1,
            }
        );
    }
}
