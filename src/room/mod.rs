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

pub mod command;
pub mod ratelimit;
pub mod schedules;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::clock::{Clock, Now};
use crate::net::charset::Encoding;
use crate::net::line::Line;
use crate::room::ratelimit::{Rate, TokenBucket};
use crate::room::schedules::{Scheduled, Schedules, When};
use crate::text::{nick_key, normalize_nick, sanitize, valid_nick};
use crate::timer::TimerWheel;
use command::Command;

/// A connection's slab key.
pub type ConnKey = usize;

/// The room's limits and settings.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Shown in the welcome line.
    pub name: String,
    /// Participants at most (`--max-clients`).
    pub max_clients: usize,
    /// Connections still choosing a nickname, at most.
    pub max_joining: usize,
    /// Time to choose a nickname (`--login-timeout`).
    pub login_timeout: Duration,
    /// Silence after which a participant is closed (`--idle-timeout`).
    pub idle_timeout: Option<Duration>,
    /// Flood control (`--rate`, `--burst`); `None` is off.
    pub rate: Option<Rate>,
    /// Longest line in bytes (`--max-line`), for the error message.
    pub max_line: usize,
    /// Pending scheduled messages per participant (`--max-scheduled`).
    pub max_scheduled: usize,
    /// Pending scheduled messages in the whole room (`--max-scheduled-total`):
    /// reconnecting must not be a way around the per-person limit.
    pub max_scheduled_total: usize,
    /// How far ahead a message may be scheduled (`--max-schedule-ahead`).
    pub max_schedule_ahead: Duration,
    /// `/search`, if a model is configured.
    pub search: Option<SearchRules>,
    /// Past this many participants, joins and leaves are announced in one
    /// summary per [`RoomConfig::crowd_interval`] instead of a line each
    /// (`--crowd-size`): a line each costs N deliveries per person, N² for
    /// a crowd arriving.
    pub crowd_size: usize,
    /// How often a crowded room hears who came and went (`--crowd-interval`).
    pub crowd_interval: Duration,
}

/// The room's rules for `/search` (the HTTP side is [`crate::search`]).
#[derive(Debug, Clone)]
pub struct SearchRules {
    /// Searches per participant (`--search-rate`), burst of one.
    pub rate: Rate,
    /// Searches waiting for the model at once, room-wide (`--search-max-in-flight`).
    pub max_in_flight: usize,
    /// How long an answer is reused for the same question (`--search-cache-ttl`).
    pub cache_ttl: Option<Duration>,
    /// Characters of an answer shown at most (`--search-max-chars`).
    pub max_chars: usize,
}

/// Said when a nickname breaks the rules, at login and on `/rename`.
const INVALID_NICK: &str =
    "Invalid nickname. Use 1-16 letters, digits, _ or -. Enter your nickname:";

/// How often a flooder is told its lines are dropped, at most.
const FLOOD_NOTICE_EVERY: Duration = Duration::from_secs(1);

/// Answers kept in the cache at most, whatever their age.
const SEARCH_CACHE_ENTRIES: usize = 256;

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            name: "suda".into(),
            max_clients: 10,
            max_joining: 10,
            login_timeout: Duration::from_secs(60),
            idle_timeout: None,
            rate: Some(Rate {
                per_second: 5.0,
                burst: 20,
            }),
            max_line: 4096,
            max_scheduled: 20,
            max_scheduled_total: 10_000,
            max_schedule_ahead: Duration::from_secs(7 * 24 * 3600),
            search: None,
            crowd_size: 100,
            crowd_interval: Duration::from_secs(10),
        }
    }
}

/// What the room asks of the world around it.
pub trait Outbox {
    /// Queues `line` for connection `to`, in that connection's encoding.
    fn send(&mut self, to: ConnKey, line: &Line);
    /// Sets the encoding of connection `to` (`/encoding`).
    fn set_encoding(&mut self, to: ConnKey, encoding: Encoding);
    /// The encoding connection `to` speaks now.
    fn encoding(&self, of: ConnKey) -> Encoding;
    /// Closes connection `to` once what was queued for it has been sent.
    /// The room has already forgotten it.
    fn close(&mut self, to: ConnKey);
    /// Whether there is a room log; if not, [`Outbox::log`] is not called.
    fn logging(&self) -> bool;
    /// Appends one line (timestamp included, no newline) to the room log.
    fn log(&mut self, line: String);
    /// A scheduled message was added or removed: the state file must follow.
    fn persist(&mut self, change: StateChange);
    /// Asks the model `question`; the answer comes back later through
    /// [`Room::search_answer`] with the same `id`. Returns `false` if the
    /// question cannot be queued.
    fn search(&mut self, id: u64, question: &str) -> bool;
}

/// A change to the pending scheduled messages, for the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// A new message; the next free id follows it.
    Added(Scheduled),
    /// A message was sent, cancelled or dropped.
    Removed(u64),
}

/// How a connection reached the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A TCP client.
    Stream(SocketAddr),
    /// A UDP participant. There is no handshake, so its address may be
    /// forged: such sessions are the first to go when the room is crowded
    /// with people choosing nicknames.
    Datagram(SocketAddr),
}

impl Via {
    fn addr(self) -> SocketAddr {
        match self {
            Via::Stream(addr) | Via::Datagram(addr) => addr,
        }
    }
}

/// The network an address belongs to, for fairness between addresses: an
/// IPv6 host has a whole /64 to pick addresses from.
fn network(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => std::net::IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !u128::from(u64::MAX),
        )),
        v4 => v4,
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
    /// Send scheduled message `id` if it is still pending.
    Send(u64),
    /// Announce the joins and leaves gathered in a crowded room.
    Summary,
}

/// Names shown in a crowd summary before "and N others".
const SUMMARY_NAMES: usize = 5;

/// Joins and leaves waiting for the next summary.
#[derive(Debug, Default)]
struct CrowdNews {
    /// Who joined since the last summary, in order.
    joined: Vec<String>,
    /// Who left since the last summary, in order.
    left: Vec<String>,
    /// A [`Timer::Summary`] is set.
    armed: bool,
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
    /// Last line received, for `--idle-timeout`.
    heard: Instant,
    /// Where it connects from (`None` for the console), for the log.
    origin: Option<SocketAddr>,
    /// It came over UDP (see [`Via::Datagram`]).
    datagram: bool,
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
    /// Participants by [`nick_key`]: one nickname, one person.
    nicks: HashMap<String, ConnKey>,
    /// Participants with a nickname.
    joined: usize,
    /// Connections still choosing one.
    joining: usize,
    /// The next join order number.
    next_seq: u64,
    /// The participant who may `/kick`.
    admin: Option<ConnKey>,
    /// Login and idle deadlines, scheduled messages.
    timers: TimerWheel<Timer>,
    /// Pending scheduled messages.
    schedules: Schedules,
    /// Restored messages whose time passed while the server was down: they
    /// go out as soon as someone is there to read them.
    overdue: Vec<u64>,
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
}

/// A question waiting for the model.
#[derive(Debug)]
struct PendingSearch {
    /// Its [`cache_key`].
    key: String,
    /// Who asked (key, serial): told if it fails.
    askers: Vec<(ConnKey, u64)>,
}

impl Room {
    /// An empty room. `schedules` may come from the state file; their
    /// timers are armed here.
    pub fn new(cfg: RoomConfig, clock: Clock, schedules: Schedules, now: Now) -> Room {
        let mut room = Room {
            cfg,
            clock,
            members: Vec::new(),
            nicks: HashMap::new(),
            joined: 0,
            joining: 0,
            next_seq: 1,
            admin: None,
            timers: TimerWheel::new(now.mono),
            schedules,
            overdue: Vec::new(),
            searches: HashMap::new(),
            in_flight: HashMap::new(),
            answers: HashMap::new(),
            next_search: 1,
            crowd: CrowdNews::default(),
        };
        let restored: Vec<(u64, jiff::Timestamp)> =
            room.schedules.iter().map(|m| (m.id, m.due)).collect();
        for (id, due) in restored {
            match wall_delay(now, due) {
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

    /// A new connection: welcome it and ask for a nickname, or turn it away.
    pub fn open(&mut self, key: ConnKey, uid: u64, via: Via, now: Now, out: &mut dyn Outbox) {
        if self.joined >= self.cfg.max_clients {
            let max = self.cfg.max_clients;
            self.tell(
                key,
                now,
                out,
                format_args!("The chat room is full ({max}/{max}). Try again later."),
            );
            out.close(key);
            return;
        }
        if self.joining >= self.cfg.max_joining {
            // Rather than turn the newcomer away (ten silent sockets would
            // lock everyone out), make room: the connection waiting longest
            // from the address with the most connections waiting goes.
            let victim = self.eviction_candidate(via).unwrap_or(key);
            self.tell(
                victim,
                now,
                out,
                format_args!("Too many people are joining right now. Try again in a minute."),
            );
            out.close(victim);
            if victim == key {
                return;
            }
            self.remove(victim);
        }
        self.admit(key, uid, Some(via), now);
        self.arm(now.mono, self.cfg.login_timeout, Timer::Login { key, uid });
        let (name, online, max) = (&self.cfg.name, self.joined, self.cfg.max_clients);
        let welcome = format!("Welcome to {name}! ({online}/{max} online)");
        self.tell(key, now, out, format_args!("{welcome}"));
        self.tell(key, now, out, format_args!("Enter your nickname:"));
    }

    /// Among connections still choosing a nickname, the one to drop to make
    /// room: from the address with the most of them waiting (the newcomer's
    /// own address wins ties), the one waiting longest. The console is never
    /// chosen.
    fn eviction_candidate(&self, newcomer: Via) -> Option<ConnKey> {
        let choosing = self.members.iter().enumerate().filter_map(|(key, member)| {
            let member = member.as_ref()?;
            let origin = member.origin?;
            member.nick.is_none().then_some((key, member, origin))
        });
        // Forged datagrams cost nothing to send: UDP sessions go first.
        let datagram = choosing
            .clone()
            .filter(|(_, member, _)| member.datagram)
            .min_by_key(|(_, member, _)| member.uid);
        if let Some((key, _, _)) = datagram {
            return Some(key);
        }
        let mut waiting: HashMap<std::net::IpAddr, (usize, u64, ConnKey)> = HashMap::new();
        for (key, member, origin) in choosing {
            let entry = waiting
                .entry(network(origin.ip()))
                .or_insert((0, u64::MAX, key));
            entry.0 += 1;
            if member.uid < entry.1 {
                (entry.1, entry.2) = (member.uid, key);
            }
        }
        let newcomer = Some(network(newcomer.addr().ip()));
        waiting
            .iter()
            .max_by_key(|(ip, (count, uid, _))| {
                (*count, Some(**ip) == newcomer, std::cmp::Reverse(*uid))
            })
            .map(|(_, (_, _, key))| *key)
    }

    /// The operator's terminal (`--console`) joins directly as `nick`, with
    /// admin rights.
    ///
    /// # Errors
    ///
    /// The nickname is invalid or taken.
    pub fn open_console(
        &mut self,
        key: ConnKey,
        uid: u64,
        nick: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) -> Result<(), String> {
        if !valid_nick(nick) {
            return Err(format!(
                "invalid console nickname {nick:?}: use 1-16 letters, digits, _ or -"
            ));
        }
        if self.nicks.contains_key(&nick_key(nick)) {
            return Err(format!("nickname {nick:?} is already in use"));
        }
        self.admit(key, uid, None, now);
        self.join(key, nick, now, out);
        self.admin = Some(key);
        Ok(())
    }

    /// One line (or an over-long one) from connection `key`.
    pub fn input(&mut self, key: ConnKey, input: Input<'_>, now: Now, out: &mut dyn Outbox) {
        let Some(member) = self.member_mut(key) else {
            return;
        };
        member.heard = now.mono;
        let line = match input {
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
        let clean = sanitize(line);
        let line = clean.as_ref();
        if line.trim().is_empty() {
            return;
        }
        let command = Command::parse(line);
        if command != Command::Exit && !self.take_token(key, now, out) {
            return;
        }
        if self.nick(key).is_none() {
            self.login(key, command, line, now, out);
        } else {
            self.apply(key, command, now, out);
        }
    }

    /// Connection `key` ended on its own (EOF, error, slow reader).
    pub fn gone(&mut self, key: ConnKey, why: Gone, now: Now, out: &mut dyn Outbox) {
        self.leave(key, why.describe(), now, out);
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
                Timer::Send(id) => self.deliver(id, now, out),
                Timer::Summary => self.summarize(now, out),
            }
        }
    }

    /// Says goodbye to everyone: the server is stopping.
    pub fn shutdown(&mut self, now: Now, out: &mut dyn Outbox) {
        let line = self.notice(now, format_args!("The server is shutting down."));
        let keys: Vec<ConnKey> = self.keys().collect();
        for key in keys {
            out.send(key, &line);
            self.remove(key);
            out.close(key);
        }
        self.log(now, out, format_args!("shutdown"));
    }

    // ----- joining -----

    /// A line from a connection without a nickname.
    fn login(
        &mut self,
        key: ConnKey,
        command: Command<'_>,
        line: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        match command {
            Command::Exit => {
                self.tell(key, now, out, format_args!("Bye!"));
                self.remove(key);
                out.close(key);
            }
            Command::Encoding(name) => self.set_encoding(key, name, now, out),
            Command::Help => {
                self.tell(key, now, out, format_args!("Choose a nickname first: 1-16 letters, digits, _ or -. Enter your nickname:"));
            }
            _ => {
                let nick = normalize_nick(line);
                let nick = nick.as_str();
                if !valid_nick(nick) {
                    self.tell(key, now, out, format_args!("{INVALID_NICK}"));
                } else if self.nicks.contains_key(&nick_key(nick)) {
                    self.tell(
                        key,
                        now,
                        out,
                        format_args!("Nickname \"{nick}\" is already in use. Enter your nickname:"),
                    );
                } else if self.joined >= self.cfg.max_clients {
                    let max = self.cfg.max_clients;
                    self.tell(
                        key,
                        now,
                        out,
                        format_args!("The chat room is full ({max}/{max}). Try again later."),
                    );
                    self.remove(key);
                    out.close(key);
                } else {
                    self.join(key, nick, now, out);
                }
            }
        }
    }

    /// Makes connection `key` a participant named `nick`.
    fn join(&mut self, key: ConnKey, nick: &str, now: Now, out: &mut dyn Outbox) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let Some(member) = self.member_mut(key) else {
            return;
        };
        member.nick = Some(nick.to_string());
        member.seq = seq;
        let (uid, origin) = (member.uid, member.origin);
        self.joining -= 1;
        self.joined += 1;
        self.nicks.insert(nick_key(nick), key);
        self.schedules.adopt(nick, (key, uid));
        if self.admin.is_none() {
            self.admin = Some(key);
        }
        self.tell(
            key,
            now,
            out,
            format_args!("Welcome, {nick}! Type /help for commands."),
        );
        if self.joined > self.cfg.crowd_size {
            self.crowd.joined.push(nick.to_string());
            self.arm_summary(now);
        } else {
            let line = self.notice(now, format_args!("{nick} has joined the chat."));
            self.broadcast(Some(key), &line, out);
        }
        // The operator's own terminal is never timed out.
        if let (Some(idle), Some(_)) = (self.cfg.idle_timeout, origin) {
            self.arm(now.mono, idle, Timer::Idle { key, uid });
        }
        match origin {
            Some(addr) => self.log(now, out, format_args!("join {nick} from {addr}")),
            None => self.log(now, out, format_args!("join {nick} (console)")),
        }
        for id in std::mem::take(&mut self.overdue) {
            self.deliver(id, now, out);
        }
    }

    // ----- commands -----

    /// Carries out a participant's command.
    fn apply(&mut self, key: ConnKey, command: Command<'_>, now: Now, out: &mut dyn Outbox) {
        match command {
            Command::Chat(text) => self.chat(key, text, now, out),
            Command::Help => {
                for text in command::HELP {
                    self.tell(key, now, out, format_args!("{text}"));
                }
            }
            Command::Users => self.users(key, now, out),
            Command::Rename(nick) => self.rename(key, nick, now, out),
            Command::Whisper { to, text } => self.whisper(key, to, text, now, out),
            Command::Schedule { when, text } => self.schedule(key, when, text, now, out),
            Command::Schedules => self.list_schedules(key, now, out),
            Command::Unschedule(id) => self.unschedule(key, id, now, out),
            Command::Kick(nick) => self.kick(key, nick, now, out),
            Command::Search(question) => self.search(key, question, now, out),
            Command::Encoding(name) => self.set_encoding(key, name, now, out),
            Command::Exit => {
                let nick = self.nick(key).unwrap_or_default().to_string();
                self.tell(key, now, out, format_args!("Bye, {nick}!"));
                self.leave(key, "quit", now, out);
                out.close(key);
            }
            Command::Usage(usage) => {
                self.tell(key, now, out, format_args!("Usage: {usage}"));
            }
            Command::Unknown(name) => {
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Unknown command \"/{name}\". Type /help for commands."),
                );
            }
        }
    }

    fn chat(&mut self, key: ConnKey, text: &str, now: Now, out: &mut dyn Outbox) {
        let nick = self.nick(key).unwrap_or_default().to_string();
        let line = self.line(now, format_args!("{nick} >> {text}"));
        self.broadcast(Some(key), &line, out);
        self.log(now, out, format_args!("message {nick}: {text}"));
    }

    fn users(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) {
        let mut people: Vec<(u64, ConnKey, &str)> = self
            .members
            .iter()
            .enumerate()
            .filter_map(|(k, m)| {
                let m = m.as_ref()?;
                Some((m.seq, k, m.nick.as_deref()?))
            })
            .collect();
        people.sort_unstable();
        let mut list = String::new();
        for (i, (_, k, nick)) in people.iter().enumerate() {
            if i > 0 {
                list.push_str(", ");
            }
            list.push_str(nick);
            if Some(*k) == self.admin {
                list.push_str(" (admin)");
            }
        }
        let (n, max) = (self.joined, self.cfg.max_clients);
        self.tell(
            key,
            now,
            out,
            format_args!("Users online ({n}/{max}): {list}"),
        );
    }

    fn rename(&mut self, key: ConnKey, new: &str, now: Now, out: &mut dyn Outbox) {
        let Some(old) = self.nick(key).map(str::to_string) else {
            return;
        };
        let new = normalize_nick(new);
        let new = new.as_str();
        if new == old {
            self.tell(
                key,
                now,
                out,
                format_args!("Your nickname is already \"{new}\"."),
            );
            return;
        }
        if !valid_nick(new) {
            self.tell(key, now, out, format_args!("{INVALID_NICK}"));
            return;
        }
        let new_key = nick_key(new);
        if self.nicks.get(&new_key).is_some_and(|&k| k != key) {
            self.tell(
                key,
                now,
                out,
                format_args!("Nickname \"{new}\" is already in use. Enter your nickname:"),
            );
            return;
        }
        self.nicks.remove(&nick_key(&old));
        self.nicks.insert(new_key, key);
        let Some(member) = self.member_mut(key) else {
            return;
        };
        member.nick = Some(new.to_string());
        let uid = member.uid;
        self.schedules.rename_author(uid, new);
        self.schedules.adopt(new, (key, uid));
        let line = self.notice(
            now,
            format_args!("User \"{old}\" has changed their nickname to \"{new}\"."),
        );
        self.broadcast(Some(key), &line, out);
        self.tell(
            key,
            now,
            out,
            format_args!("Your nickname is now \"{new}\"."),
        );
        self.log(now, out, format_args!("rename {old} -> {new}"));
    }

    fn whisper(&mut self, key: ConnKey, to: &str, text: &str, now: Now, out: &mut dyn Outbox) {
        let Some(target) = self.find(to) else {
            self.tell(key, now, out, format_args!("No user named \"{to}\"."));
            return;
        };
        let from = self.nick(key).unwrap_or_default().to_string();
        let to = self.nick(target).unwrap_or_default().to_string();
        let line = self.line(now, format_args!("[Whisper from {from}] {text}"));
        out.send(target, &line);
        let line = self.line(now, format_args!("[Whisper to {to}] {text}"));
        out.send(key, &line);
        self.log(now, out, format_args!("whisper {from} -> {to}"));
    }

    fn schedule(&mut self, key: ConnKey, when: &str, text: &str, now: Now, out: &mut dyn Outbox) {
        let Some(due) = When::parse(when).and_then(|w| w.resolve(now.wall, self.clock.tz())) else {
            self.tell(
                key,
                now,
                out,
                format_args!(
                    "Invalid time \"{when}\". Use HH:MM or a duration such as 90s, 10m, 1h30m."
                ),
            );
            return;
        };
        let delay = wall_delay(now, due).unwrap_or_default();
        if delay > self.cfg.max_schedule_ahead {
            let max = crate::clock::compact(self.cfg.max_schedule_ahead);
            self.tell(
                key,
                now,
                out,
                format_args!("Messages can be scheduled at most {max} ahead."),
            );
            return;
        }
        let Some(member) = self.member(key) else {
            return;
        };
        let uid = member.uid;
        if self.schedules.count_by(uid) >= self.cfg.max_scheduled {
            let max = self.cfg.max_scheduled;
            self.tell(key, now, out, format_args!("You already have {max} scheduled messages, the limit. Cancel one with /unschedule <id>."));
            return;
        }
        if self.schedules.len() >= self.cfg.max_scheduled_total {
            let max = self.cfg.max_scheduled_total;
            self.tell(
                key,
                now,
                out,
                format_args!(
                    "The room already has {max} scheduled messages, the limit. Try again later."
                ),
            );
            return;
        }
        let nick = self.nick(key).unwrap_or_default().to_string();
        let message = self.schedules.add(due, (key, uid), &nick, text).clone();
        self.arm(now.mono, delay, Timer::Send(message.id));
        let at = self.clock.minute(due);
        let id = message.id;
        out.persist(StateChange::Added(message));
        self.tell(
            key,
            now,
            out,
            format_args!("Message #{id} scheduled for {at}."),
        );
        self.log(now, out, format_args!("schedule #{id} by {nick} for {at}"));
    }

    fn list_schedules(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) {
        let Some(uid) = self.member(key).map(|m| m.uid) else {
            return;
        };
        let mine: Vec<String> = self
            .schedules
            .by_author(uid)
            .map(|m| format!("  #{} at {}: {}", m.id, self.clock.minute(m.due), m.text))
            .collect();
        if mine.is_empty() {
            self.tell(
                key,
                now,
                out,
                format_args!("You have no scheduled messages."),
            );
            return;
        }
        let count = mine.len();
        self.tell(
            key,
            now,
            out,
            format_args!("Your scheduled messages ({count}):"),
        );
        for entry in mine {
            self.tell(key, now, out, format_args!("{entry}"));
        }
    }

    fn unschedule(&mut self, key: ConnKey, id: u64, now: Now, out: &mut dyn Outbox) {
        let uid = self.member(key).map(|m| m.uid);
        let mine = self
            .schedules
            .get(id)
            .is_some_and(|m| m.author_conn.map(|(_, u)| u) == uid && uid.is_some());
        if !mine {
            self.tell(
                key,
                now,
                out,
                format_args!("You have no scheduled message #{id}."),
            );
            return;
        }
        self.schedules.remove(id);
        out.persist(StateChange::Removed(id));
        self.tell(key, now, out, format_args!("Message #{id} cancelled."));
        self.log(now, out, format_args!("unschedule #{id}"));
    }

    fn kick(&mut self, key: ConnKey, nick: &str, now: Now, out: &mut dyn Outbox) {
        if self.admin != Some(key) {
            self.tell(
                key,
                now,
                out,
                format_args!("Only the admin can kick users."),
            );
            return;
        }
        let Some(target) = self.find(nick) else {
            self.tell(key, now, out, format_args!("No user named \"{nick}\"."));
            return;
        };
        if target == key {
            self.tell(
                key,
                now,
                out,
                format_args!("You cannot kick yourself. Use /exit to leave."),
            );
            return;
        }
        let admin = self.nick(key).unwrap_or_default().to_string();
        self.tell(
            target,
            now,
            out,
            format_args!("You have been kicked from the chat."),
        );
        let Some(member) = self.remove(target) else {
            return;
        };
        out.close(target);
        let nick = member.nick.unwrap_or_default();
        for id in self.schedules.remove_author(member.uid) {
            out.persist(StateChange::Removed(id));
        }
        let line = self.notice(now, format_args!("{nick} has been kicked from the chat."));
        self.broadcast(None, &line, out);
        self.log(now, out, format_args!("kick {nick} by {admin}"));
    }

    fn search(&mut self, key: ConnKey, question: &str, now: Now, out: &mut dyn Outbox) {
        let Some(rules) = self.cfg.search.clone() else {
            self.tell(
                key,
                now,
                out,
                format_args!("/search is not enabled on this server."),
            );
            return;
        };
        let Some(member) = self.member_mut(key) else {
            return;
        };
        if !member.search_bucket.try_take(rules.rate, now.mono) {
            let wait = member
                .search_bucket
                .wait(rules.rate)
                .as_secs_f64()
                .ceil()
                .max(1.0);
            self.tell(
                key,
                now,
                out,
                format_args!("You can search again in {wait}s."),
            );
            return;
        }
        let uid = member.uid;
        let nick = self.nick(key).unwrap_or_default().to_string();
        let cache_key = cache_key(question);
        if let Some(lines) = self.cached_answer(&cache_key, rules.cache_ttl, now) {
            let line = self.line(now, format_args!("[Search by {nick}] {question}"));
            self.broadcast(None, &line, out);
            self.share_answer(&lines, now, out);
            self.log(
                now,
                out,
                format_args!("search by {nick} (cached): {question}"),
            );
            return;
        }
        if let Some(pending) = self
            .in_flight
            .get(&cache_key)
            .and_then(|id| self.searches.get_mut(id))
        {
            pending.askers.push((key, uid));
        } else {
            let id = self.next_search;
            if self.searches.len() >= rules.max_in_flight || !out.search(id, question) {
                // Not asked, so not counted against the asker's rate.
                if let Some(member) = self.member_mut(key) {
                    member.search_bucket.refund(rules.rate);
                }
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Too many searches are in progress. Try again in a moment."),
                );
                return;
            }
            self.next_search += 1;
            self.in_flight.insert(cache_key.clone(), id);
            self.searches.insert(
                id,
                PendingSearch {
                    key: cache_key,
                    askers: vec![(key, uid)],
                },
            );
        }
        let line = self.line(now, format_args!("[Search by {nick}] {question}"));
        self.broadcast(None, &line, out);
        self.log(now, out, format_args!("search by {nick}: {question}"));
    }

    /// The model answered question `id` (or failed to): share the answer
    /// with the room, or tell whoever asked why there is none. The askers
    /// may have left; the room still gets the answer.
    pub fn search_answer(
        &mut self,
        id: u64,
        result: Result<String, String>,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some(pending) = self.searches.remove(&id) else {
            return;
        };
        self.in_flight.remove(&pending.key);
        let Some(rules) = self.cfg.search.clone() else {
            return;
        };
        match result {
            Ok(text) => {
                let lines = answer_lines(&text, rules.max_chars);
                self.share_answer(&lines, now, out);
                if rules.cache_ttl.is_some() {
                    self.remember_answer(pending.key, lines, now);
                }
                self.log(now, out, format_args!("search #{id} answered"));
            }
            Err(reason) => {
                for (key, uid) in pending.askers {
                    if self.is(key, uid) {
                        // The reason may quote the model server: clean it like any text.
                        let reason = sanitize(&reason);
                        self.tell(key, now, out, format_args!("Search failed: {reason}"));
                    }
                }
                self.log(now, out, format_args!("search #{id} failed: {reason}"));
            }
        }
    }

    fn share_answer(&mut self, lines: &[String], now: Now, out: &mut dyn Outbox) {
        for text in lines {
            let line = self.line(now, format_args!("[AI] {text}"));
            self.broadcast(None, &line, out);
        }
    }

    /// A fresh enough answer to the same question.
    fn cached_answer(
        &mut self,
        key: &str,
        ttl: Option<Duration>,
        now: Now,
    ) -> Option<Rc<[String]>> {
        let ttl = ttl?;
        let (at, lines) = self.answers.get(key)?;
        if now.mono.saturating_duration_since(*at) < ttl {
            return Some(Rc::clone(lines));
        }
        self.answers.remove(key);
        None
    }

    fn remember_answer(&mut self, key: String, lines: Vec<String>, now: Now) {
        if self.answers.len() >= SEARCH_CACHE_ENTRIES {
            // Make room: the oldest answer goes (a small map, a rare event).
            if let Some(oldest) = self
                .answers
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                self.answers.remove(&oldest);
            }
        }
        self.answers.insert(key, (now.mono, Rc::from(lines)));
    }

    fn set_encoding(&mut self, key: ConnKey, name: &str, now: Now, out: &mut dyn Outbox) {
        match Encoding::parse(name) {
            Some(encoding) => {
                out.set_encoding(key, encoding);
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Your encoding is now {encoding}."),
                );
            }
            None => {
                let current = out.encoding(key);
                let usage = command::usage::ENCODING;
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Usage: {usage} (now {current})"),
                );
            }
        }
    }

    // ----- leaving, timers -----

    /// Removes a connection for any reason but a kick, telling the others.
    fn leave(&mut self, key: ConnKey, why: &str, now: Now, out: &mut dyn Outbox) {
        let Some(member) = self.remove(key) else {
            return;
        };
        let Some(nick) = member.nick else {
            return;
        };
        self.log(now, out, format_args!("leave {nick} ({why})"));
        // Counted as it was before this departure.
        if self.joined >= self.cfg.crowd_size {
            self.crowd.left.push(nick);
            self.arm_summary(now);
        } else {
            let line = self.notice(now, format_args!("{nick} has left the chat."));
            self.broadcast(None, &line, out);
        }
        if self.admin.is_none() {
            if let Some(heir) = self
                .keys()
                .filter_map(|k| Some((self.member(k)?.seq, k)))
                .filter(|(seq, _)| *seq > 0)
                .min()
                .map(|(_, k)| k)
            {
                self.admin = Some(heir);
                let heir_nick = self.nick(heir).unwrap_or_default().to_string();
                let line = self.notice(now, format_args!("{heir_nick} is now the admin."));
                self.broadcast(None, &line, out);
                self.log(now, out, format_args!("admin {heir_nick}"));
            }
        }
    }

    fn arm_summary(&mut self, now: Now) {
        if !self.crowd.armed {
            self.crowd.armed = true;
            self.arm(now.mono, self.cfg.crowd_interval, Timer::Summary);
        }
    }

    /// One line for everyone who joined and one for everyone who left since
    /// the last summary: O(N) per interval, however many came and went.
    fn summarize(&mut self, now: Now, out: &mut dyn Outbox) {
        let news = std::mem::take(&mut self.crowd);
        if !news.joined.is_empty() {
            let (count, names) = (news.joined.len(), name_list(&news.joined));
            let line = self.notice(now, format_args!("{count} joined the chat: {names}."));
            self.broadcast(None, &line, out);
        }
        if !news.left.is_empty() {
            let (count, names) = (news.left.len(), name_list(&news.left));
            let line = self.notice(now, format_args!("{count} left the chat: {names}."));
            self.broadcast(None, &line, out);
        }
    }

    fn check_idle(&mut self, key: ConnKey, uid: u64, now: Now, out: &mut dyn Outbox) {
        let Some(idle) = self.cfg.idle_timeout else {
            return;
        };
        if !self.is(key, uid) {
            return;
        }
        let heard = self.member(key).map_or(now.mono, |m| m.heard);
        if now.mono.saturating_duration_since(heard) < idle {
            // Heard from since: look again when the new silence would end.
            self.arm(heard, idle, Timer::Idle { key, uid });
            return;
        }
        let silence = crate::clock::compact(idle);
        self.tell(
            key,
            now,
            out,
            format_args!("Disconnected after {silence} of silence."),
        );
        self.leave(key, "idle timeout", now, out);
        out.close(key);
    }

    fn deliver(&mut self, id: u64, now: Now, out: &mut dyn Outbox) {
        let Some(message) = self.schedules.remove(id) else {
            return; // cancelled, or its author was kicked
        };
        out.persist(StateChange::Removed(id));
        let author = message
            .author_conn
            .filter(|&(key, uid)| self.is(key, uid))
            .map(|(key, _)| key);
        let line = self.line(
            now,
            format_args!("[Scheduled by {}] {}", message.author, message.text),
        );
        self.broadcast(author, &line, out);
        self.log(
            now,
            out,
            format_args!("deliver #{id} by {}", message.author),
        );
    }

    // ----- helpers -----

    fn search_bucket(&self, now: Now) -> TokenBucket {
        let rate = self.cfg.search.as_ref().map_or(
            Rate {
                per_second: 1.0,
                burst: 1,
            },
            |rules| rules.rate,
        );
        TokenBucket::new(rate, now.mono)
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
        let member = Member {
            uid,
            nick: None,
            seq: 0,
            bucket: self.bucket(now),
            warned: None,
            search_bucket: self.search_bucket(now),
            heard: now.mono,
            origin: via.map(Via::addr),
            datagram: matches!(via, Some(Via::Datagram(_))),
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
                self.nicks.remove(&nick_key(nick));
                if self.admin == Some(key) {
                    self.admin = None;
                }
            }
            None => self.joining -= 1,
        }
        Some(member)
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

    /// The participant with this nickname, in any case.
    fn find(&self, nick: &str) -> Option<ConnKey> {
        self.nicks.get(&nick_key(nick)).copied()
    }

    fn keys(&self) -> impl Iterator<Item = ConnKey> + '_ {
        self.members
            .iter()
            .enumerate()
            .filter_map(|(k, m)| m.as_ref().map(|_| k))
    }

    /// Sends `line` to every participant but `except`.
    fn broadcast(&self, except: Option<ConnKey>, line: &Line, out: &mut dyn Outbox) {
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
        out.send(key, &line);
    }

    fn log(&self, now: Now, out: &mut dyn Outbox, event: std::fmt::Arguments<'_>) {
        if out.logging() {
            out.log(format!("{} {event}", self.clock.rfc3339(now.wall)));
        }
    }
}

/// `Alice, Bob, Carol, Dave, Eve and 32 others`.
fn name_list(names: &[String]) -> String {
    let shown = names.len().min(SUMMARY_NAMES);
    let mut text = names[..shown].join(", ");
    match names.len() - shown {
        0 => {}
        1 => text.push_str(" and 1 other"),
        more => {
            let _ = write!(text, " and {more} others");
        }
    }
    text
}

/// The form of a question used to recognise it again: case and spacing do
/// not make a new question.
fn cache_key(question: &str) -> String {
    question
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The lines of an answer as the room sees them: terminal controls removed,
/// blank lines dropped, at most `max_chars` characters, and a last line
/// saying so if it was cut.
fn answer_lines(text: &str, max_chars: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut left = max_chars;
    let mut cut = false;
    for raw in text.lines() {
        let clean = sanitize(raw);
        let line = clean.trim();
        if line.is_empty() {
            continue;
        }
        let count = line.chars().count();
        if count > left {
            let part: String = line.chars().take(left).collect();
            if !part.is_empty() {
                lines.push(part);
            }
            cut = true;
            break;
        }
        left -= count;
        lines.push(line.to_string());
    }
    if cut {
        lines.push("(answer cut)".to_string());
    }
    lines
}

/// How long from `now` until wall time `due`; `None` if it has passed.
fn wall_delay(now: Now, due: jiff::Timestamp) -> Option<Duration> {
    let delta = due.duration_since(now.wall);
    Duration::try_from(delta).ok().filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests;
