//! The room: who is in it, what each command does, who must receive what.
//!
//! The room never touches a socket or a clock. The reactor hands it decoded
//! lines and the time ([`Now`]); the room answers through an [`Outbox`]:
//! "send this line to connection 7", "close connection 9". Unit tests drive
//! it with a recording outbox and any time they like.
//!
//! Connections are known by their slab key ([`ConnKey`]) plus a serial
//! (`uid`) that is never reused, so a timer or a scheduled message that
//! outlives its connection cannot reach a newcomer who got the same key.
//!
//! # Layout
//!
//! This file holds the room's state and how it reaches people (`tell`,
//! `broadcast`, the timers); the rest is one concept per file:
//!
//! - `join.rs` and `leave.rs`: arriving (welcome, nickname, making room)
//!   and going (for any reason; the admin's heir).
//! - `password.rs`: the room password asked before the nickname;
//!   `throttle.rs`: guessing from one address; `bans.rs`: who a kick keeps
//!   out; [`addresses`]: networks and the `--ip-exempt` ranges.
//! - [`commands`]: the parser and one file per command (`whisper.rs`,
//!   `kick.rs`, `schedule.rs`, ...).
//! - `crowd.rs`: joins and leaves summarized in a crowded room.
//! - `hint.rs`: telling a newcomer whose terminal may garble Hangul that
//!   `/encoding` exists.
//! - `durable.rs`: due messages that go out once the store has them as
//!   delivered.
//! - [`schedules`]: the pending scheduled messages and `/schedule` times.
//! - [`history`]: replay on joining, catch-up, `/history` and `/find`.
//! - [`ratelimit`]: the token bucket behind `--rate`.
//! - `config.rs` and `outbox.rs`: the room's settings ([`RoomConfig`]) and
//!   its one seam to the world ([`Outbox`]).

mod bans;
pub mod commands;
mod config;
mod crowd;
mod durable;
#[doc(hidden)]
pub mod fuzzing;
mod hint;
pub mod history;
mod join;
mod leave;
mod outbox;
mod password;
pub mod ratelimit;
pub mod schedules;
mod throttle;

pub use config::{RoomConfig, SearchRules, DEFAULT_IDLE_TIMEOUT, PACE_TICK};
pub use outbox::{Outbox, Saved, StateChange};

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::clock::{Clock, Now};
use crate::net::line::Line;
use crate::room::bans::Bans;
use crate::room::ratelimit::{Rate, TokenBucket};
use crate::room::schedules::Schedules;
use crate::room::throttle::Throttle;
use crate::text::{nick_keys, sanitize};
use crate::timer::TimerWheel;
use commands::{Command, PendingSearch};
use crowd::CrowdNews;

/// A connection's slab key.
pub type ConnKey = usize;

/// How often a flooder is told its lines are dropped, at most.
const FLOOD_NOTICE_EVERY: Duration = Duration::from_secs(1);

/// How a connection reached the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A TCP client.
    Stream(SocketAddr),
    /// A UDP participant, whose address echoed a token before it got here
    /// (see [`crate::net::udp_token`]). A session still costs its sender
    /// less than a TCP connection, so such sessions are the first to go
    /// when the room is crowded with people choosing nicknames.
    Datagram(SocketAddr),
}

impl Via {
    fn addr(self) -> SocketAddr {
        match self {
            Via::Stream(addr) | Via::Datagram(addr) => addr,
        }
    }
}

/// Why a connection ended without the room asking for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// The client closed its side (EOF).
    Closed,
    /// A read or write failed (reset, broken pipe).
    Error,
    /// The client stopped reading and fell behind by `--max-outbuf`.
    SlowReader,
    /// A UDP participant sent nothing for `--udp-idle`.
    Silent,
}

impl Gone {
    fn describe(self) -> &'static str {
        match self {
            Gone::Closed => "closed by peer",
            Gone::Error => "connection error",
            Gone::SlowReader => "too slow reading, output buffer full",
            Gone::Silent => "no datagram within --udp-idle",
        }
    }
}

/// One line of input for the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A line, decoded to UTF-8.
    Line(&'a str),
    /// A line longer than `--max-line` was dropped.
    TooLong,
}

/// Something the room will do later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// Close the connection if it still has no nickname.
    Login { key: ConnKey, uid: u64 },
    /// Close the participant if it has been silent for `--idle-timeout`.
    Idle { key: ConnKey, uid: u64 },
    /// Scheduled message `id` is due: it joins the queue of due messages.
    Send(u64),
    /// The next [`PACE_TICK`] of due scheduled messages may go out.
    Pace,
    /// Close a connection that gave a wrong room password (after a pause,
    /// so guessing costs time).
    Refuse { key: ConnKey, uid: u64 },
    /// Announce the joins and leaves gathered in a crowded room.
    Summary,
}

/// Where a connection without a nickname is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Asked for the room password.
    Password,
    /// Gave a wrong one: its input is ignored until it is closed.
    Refused,
    /// Asked for a nickname.
    Nickname,
}

/// One connection, from its first byte to its last.
#[derive(Debug)]
struct Member {
    /// Never reused (unlike the slab key).
    uid: u64,
    /// `None` while the connection is choosing one.
    nick: Option<String>,
    /// Join order: the lowest becomes admin when the admin leaves.
    seq: u64,
    /// Flood control.
    bucket: TokenBucket,
    /// When it was last told "too fast": a flood gets that line at most
    /// once per [`FLOOD_NOTICE_EVERY`], not once per dropped line.
    warned: Option<Instant>,
    /// `/search` allowance.
    search_bucket: TokenBucket,
    /// Last complete, non-empty line received, for `--idle-timeout`.
    heard: Instant,
    /// Where it connects from (`None` for the console), for the log.
    origin: Option<SocketAddr>,
    /// The network of `origin` ([`crate::net::ipnet::network`]), for the
    /// per-address limits, throttles and bans.
    network: Option<IpAddr>,
    /// Before the nickname: which question it is answering.
    gate: Gate,
    /// It counts against `--max-per-ip` (everyone from an address, but
    /// those that gave the room password).
    counted: bool,
    /// May `/kick`, `/unban`, see and cancel everyone's scheduled messages.
    admin: bool,
    /// An `/admin` password of its is being checked.
    checking: bool,
    /// It came over UDP (see [`Via::Datagram`]).
    datagram: bool,
    /// Its encoding is confirmed (it sent a non-ASCII line, or used
    /// `/encoding`), or it has had the encoding hint: see `hint.rs`.
    encoding_known: bool,
}

/// The chat room.
#[derive(Debug)]
pub struct Room {
    /// Limits and settings.
    cfg: RoomConfig,
    /// Time zone and timestamp prefix.
    clock: Clock,
    /// Every connection, by slab key (dense, because slab keys are).
    members: Vec<Option<Member>>,
    /// Participants by each of their [`nick_keys`]: one nickname (and
    /// whatever passes for it), one person.
    nicks: HashMap<String, ConnKey>,
    /// Participants with a nickname.
    joined: usize,
    /// Connections still choosing one.
    joining: usize,
    /// The next join order number.
    next_seq: u64,
    /// Participants who are admins.
    admins: usize,
    /// Connections counted against `--max-per-ip`, by network.
    per_network: HashMap<IpAddr, usize>,
    /// Wrong room passwords, by network.
    password_misses: Throttle,
    /// Wrong admin passwords, by network.
    admin_misses: Throttle,
    /// Who a kick keeps out.
    bans: Bans,
    /// Admin passwords being checked, by id: who typed them (key, serial,
    /// network).
    checks: HashMap<u64, (ConnKey, u64, Option<IpAddr>)>,
    /// The next admin password check id.
    next_check: u64,
    /// Scheduled messages that are due, waiting for their turn
    /// (`--schedule-pace`).
    due: VecDeque<u64>,
    /// Messages and bytes let out in the current [`PACE_TICK`]; `None`
    /// when no tick is running (the next due message may go at once).
    paced: Option<(usize, usize)>,
    /// Login and idle deadlines, scheduled messages.
    timers: TimerWheel<Timer>,
    /// Pending scheduled messages.
    schedules: Schedules,
    /// Restored messages whose time passed while the server was down: they
    /// go out as soon as someone is there to read them.
    overdue: Vec<u64>,
    /// Due messages waiting for the store to mark them delivered.
    delivering: durable::Delivering,
    /// Questions waiting for the model, by id.
    searches: HashMap<u64, PendingSearch>,
    /// The id of the question in flight, by [`cache_key`]: the same
    /// question asked again meanwhile waits for the same answer.
    in_flight: HashMap<String, u64>,
    /// Recent answers by [`cache_key`]: when they came and their lines.
    answers: HashMap<String, (Instant, Rc<[String]>)>,
    /// The next question id.
    next_search: u64,
    /// Joins and leaves not yet announced in a crowded room.
    crowd: CrowdNews,
    /// Participants whose encoding is not [`Member::encoding_known`]: while
    /// it is zero, no line is looked at for the encoding hint.
    unsure: usize,
    /// Recent messages, who left when, `/find`s in flight.
    memory: history::Memory,
}

impl Room {
    /// An empty room. `schedules` may come from the state file; their
    /// timers are armed here.
    pub fn new(cfg: RoomConfig, clock: Clock, schedules: Schedules, now: Now) -> Room {
        let max_bans = cfg.max_bans;
        let memory = history::Memory::new(cfg.history, cfg.history_catchup, cfg.max_clients);
        let mut room = Room {
            cfg,
            clock,
            members: Vec::new(),
            nicks: HashMap::new(),
            joined: 0,
            joining: 0,
            next_seq: 1,
            admins: 0,
            per_network: HashMap::new(),
            password_misses: Throttle::default(),
            admin_misses: Throttle::default(),
            bans: Bans::new(max_bans),
            checks: HashMap::new(),
            next_check: 1,
            due: VecDeque::new(),
            paced: None,
            timers: TimerWheel::new(now.mono),
            schedules,
            overdue: Vec::new(),
            delivering: durable::Delivering::new(),
            searches: HashMap::new(),
            in_flight: HashMap::new(),
            answers: HashMap::new(),
            next_search: 1,
            crowd: CrowdNews::default(),
            unsure: 0,
            memory,
        };
        let restored: Vec<(u64, jiff::Timestamp)> =
            room.schedules.iter().map(|m| (m.id, m.due)).collect();
        for (id, due) in restored {
            match commands::wall_delay(now, due) {
                Some(delay) => room.arm(now.mono, delay, Timer::Send(id)),
                None => room.overdue.push(id),
            }
        }
        room
    }

    /// Participants with a nickname.
    pub fn online(&self) -> usize {
        self.joined
    }

    /// Pending scheduled messages.
    pub fn schedules(&self) -> &Schedules {
        &self.schedules
    }

    /// Questions that may wait for the model at once (sizes the workers' queue).
    pub fn search_capacity(&self) -> usize {
        self.cfg
            .search
            .as_ref()
            .map_or(0, |rules| rules.max_in_flight)
    }

    /// The earliest moment [`Room::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// One line (or an over-long one) from connection `key`.
    pub fn input(&mut self, key: ConnKey, input: Input<'_>, now: Now, out: &mut dyn Outbox) {
        let Some(gate) = self.member(key).map(|m| m.gate) else {
            return;
        };
        let line = match input {
            // Reported as soon as it passes the limit, before its newline:
            // bytes, not a line, so not a sign of life for --idle-timeout
            // (a line grown past the limit now and then would keep a seat).
            Input::TooLong => {
                let max = self.cfg.max_line;
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Message too long (max {max} bytes)."),
                );
                return;
            }
            Input::Line(line) => line,
        };
        if gate == Gate::Refused {
            return;
        }
        let raw = line;
        let clean = sanitize(line);
        let line = clean.as_ref();
        if line.trim().is_empty() {
            return;
        }
        // Only a whole line counts as being there: bytes trickling in
        // without a newline, or blank lines, do not keep a seat.
        if let Some(member) = self.member_mut(key) {
            member.heard = now.mono;
        }
        if !line.is_ascii() && !line.contains('\u{FFFD}') {
            // It decoded cleanly: this terminal's encoding is known.
            self.encoding_confirmed(key);
        }
        let command = Command::parse(line);
        if gate == Gate::Password && self.nick(key).is_none() {
            // Compared as typed: the password file is not cleaned either.
            self.password_attempt(key, command, raw, now, out);
            return;
        }
        if command != Command::Exit && !self.take_token(key, now, out) {
            return;
        }
        if self.nick(key).is_none() {
            self.login(key, command, line, now, out);
        } else {
            self.apply(key, command, now, out);
        }
    }

    /// Runs what is due: timeouts, scheduled messages.
    pub fn tick(&mut self, now: Now, out: &mut dyn Outbox) {
        let mut fired = Vec::new();
        self.timers.expire(now.mono, &mut fired);
        for timer in fired {
            match timer {
                Timer::Login { key, uid } => {
                    if self.is(key, uid) && self.nick(key).is_none() {
                        self.tell(key, now, out, format_args!("Login timed out."));
                        self.remove(key);
                        out.close(key);
                    }
                }
                Timer::Idle { key, uid } => self.check_idle(key, uid, now, out),
                Timer::Send(id) => {
                    self.due.push_back(id);
                    self.release_due(now, out);
                }
                Timer::Pace => {
                    self.paced = None;
                    self.release_due(now, out);
                }
                Timer::Refuse { key, uid } => {
                    if self.is(key, uid) {
                        self.remove(key);
                        out.close(key);
                    }
                }
                Timer::Summary => self.summarize(now, out),
            }
        }
    }

    /// Sets `timer` to fire `after` from `from`. A moment past what the
    /// clock can express (an absurd timeout) is never: the timer is not set.
    fn arm(&mut self, from: Instant, after: Duration, timer: Timer) {
        if let Some(at) = from.checked_add(after) {
            self.timers.insert(at, timer);
        }
    }

    fn bucket(&self, now: Now) -> TokenBucket {
        TokenBucket::new(
            self.cfg.rate.unwrap_or(Rate {
                per_second: 1.0,
                burst: 1,
            }),
            now.mono,
        )
    }

    /// Spends one token of `key`'s bucket; says so once if it is empty.
    fn take_token(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) -> bool {
        let Some(rate) = self.cfg.rate else {
            return true;
        };
        let Some(member) = self.member_mut(key) else {
            return false;
        };
        if member.bucket.try_take(rate, now.mono) {
            return true;
        }
        let quiet = member
            .warned
            .is_none_or(|at| now.mono.saturating_duration_since(at) >= FLOOD_NOTICE_EVERY);
        if quiet {
            member.warned = Some(now.mono);
            self.tell(
                key,
                now,
                out,
                format_args!("You are sending too fast; message dropped."),
            );
        }
        false
    }

    /// Seats a connection that has yet to choose a nickname (`via` is
    /// `None` for the console).
    fn admit(&mut self, key: ConnKey, uid: u64, via: Option<Via>, now: Now) {
        let network = via.map(|v| crate::net::ipnet::network(v.addr().ip()));
        if let Some(network) = network {
            *self.per_network.entry(network).or_default() += 1;
        }
        let gate = match (&self.cfg.password, via) {
            (Some(_), Some(_)) => Gate::Password,
            _ => Gate::Nickname,
        };
        let member = Member {
            uid,
            nick: None,
            seq: 0,
            bucket: self.bucket(now),
            warned: None,
            search_bucket: self.search_bucket(now),
            heard: now.mono,
            origin: via.map(Via::addr),
            network,
            gate,
            counted: network.is_some(),
            admin: false,
            checking: false,
            datagram: matches!(via, Some(Via::Datagram(_))),
            // The operator's own terminal needs no telling.
            encoding_known: via.is_none(),
        };
        self.insert(key, member);
        self.joining += 1;
    }

    fn insert(&mut self, key: ConnKey, member: Member) {
        if self.members.len() <= key {
            self.members.resize_with(key + 1, || None);
        }
        self.members[key] = Some(member);
    }

    /// Forgets a connection; returns what it was. Keeps the counts, the
    /// nickname index and the admin in step.
    fn remove(&mut self, key: ConnKey) -> Option<Member> {
        let member = self.members.get_mut(key)?.take()?;
        match &member.nick {
            Some(nick) => {
                self.joined -= 1;
                if !member.encoding_known {
                    self.unsure -= 1;
                }
                self.unindex_nick(nick, key);
            }
            None => self.joining -= 1,
        }
        if member.admin {
            self.admins -= 1;
        }
        if member.counted {
            self.uncount(member.network);
        }
        Some(member)
    }

    /// One connection from `network` no longer counts against `--max-per-ip`.
    fn uncount(&mut self, network: Option<IpAddr>) {
        let Some(network) = network else {
            return;
        };
        if let Some(count) = self.per_network.get_mut(&network) {
            *count -= 1;
            if *count == 0 {
                self.per_network.remove(&network);
            }
        }
    }

    /// Whether `network` is one `--ip-exempt` trusts (the console always is).
    fn exempt(&self, network: Option<IpAddr>) -> bool {
        network.is_none_or(|ip| self.cfg.ip_exempt.exempt(ip))
    }

    fn is_admin(&self, key: ConnKey) -> bool {
        self.member(key).is_some_and(|m| m.admin)
    }

    /// Makes participant `key` an admin.
    fn make_admin(&mut self, key: ConnKey) {
        if let Some(member) = self.member_mut(key) {
            if !member.admin {
                member.admin = true;
                self.admins += 1;
            }
        }
    }

    fn member(&self, key: ConnKey) -> Option<&Member> {
        self.members.get(key)?.as_ref()
    }

    fn member_mut(&mut self, key: ConnKey) -> Option<&mut Member> {
        self.members.get_mut(key)?.as_mut()
    }

    /// Whether `key` is still the connection with serial `uid`.
    fn is(&self, key: ConnKey, uid: u64) -> bool {
        self.member(key).is_some_and(|m| m.uid == uid)
    }

    fn nick(&self, key: ConnKey) -> Option<&str> {
        self.member(key)?.nick.as_deref()
    }

    /// The participant with this nickname, or one that passes for it.
    fn find(&self, nick: &str) -> Option<ConnKey> {
        nick_keys(nick)
            .iter()
            .find_map(|k| self.nicks.get(k).copied())
    }

    /// Files `key` under each of `nick`'s keys.
    fn index_nick(&mut self, nick: &str, key: ConnKey) {
        for k in nick_keys(nick) {
            self.nicks.insert(k, key);
        }
    }

    /// Takes `key`'s entries for `nick` out of the index.
    fn unindex_nick(&mut self, nick: &str, key: ConnKey) {
        for k in nick_keys(nick) {
            if self.nicks.get(&k) == Some(&key) {
                self.nicks.remove(&k);
            }
        }
    }

    fn keys(&self) -> impl Iterator<Item = ConnKey> + '_ {
        self.members
            .iter()
            .enumerate()
            .filter_map(|(k, m)| m.as_ref().map(|_| k))
    }

    /// Sends `line` to every participant but `except`.
    fn broadcast(&mut self, except: Option<ConnKey>, line: &Line, now: Now, out: &mut dyn Outbox) {
        self.hint_readers(except, line, now, out);
        for (key, member) in self.members.iter().enumerate() {
            if let Some(member) = member {
                if member.nick.is_some() && Some(key) != except {
                    out.send(key, line);
                }
            }
        }
    }

    /// A line as sent: timestamp prefix (if on), text, newline.
    fn line(&mut self, now: Now, text: std::fmt::Arguments<'_>) -> Line {
        let mut buf = String::with_capacity(64);
        buf.push_str(self.clock.prefix(now.wall));
        let _ = buf.write_fmt(text);
        buf.push('\n');
        Line::new(buf)
    }

    /// A `[Server]: ` line.
    fn notice(&mut self, now: Now, text: std::fmt::Arguments<'_>) -> Line {
        self.line(now, format_args!("[Server]: {text}"))
    }

    /// Sends a `[Server]: ` line to one connection.
    fn tell(
        &mut self,
        key: ConnKey,
        now: Now,
        out: &mut dyn Outbox,
        text: std::fmt::Arguments<'_>,
    ) {
        let line = self.notice(now, text);
        self.send(key, &line, now, out);
    }

    /// Sends `line` to one connection.
    fn send(&mut self, key: ConnKey, line: &Line, now: Now, out: &mut dyn Outbox) {
        self.hint_reader(key, line, now, out);
        out.send(key, line);
    }

    /// Appends an event to the room log, cleaned like relayed text: what
    /// reaches the log may quote anyone (a model server's error body
    /// included), and an operator reads the log in a terminal.
    fn log(&self, now: Now, out: &mut dyn Outbox, event: std::fmt::Arguments<'_>) {
        if out.logging() {
            let line = format!("{} {event}", self.clock.rfc3339(now.wall));
            let line = match sanitize(&line) {
                std::borrow::Cow::Borrowed(_) => line,
                std::borrow::Cow::Owned(clean) => clean,
            };
            out.log(line);
        }
    }
}

#[cfg(test)]
mod tests;
