//! Joining: who is turned away at the door (banned, full, too many from
//! one address), the welcome, the nickname prompt, who makes room when too
//! many are choosing a nickname, the console, and becoming a participant.

use std::collections::HashMap;

use crate::clock::Now;
use crate::net::ipnet::network;
use crate::room::commands::Command;
use crate::room::{ConnKey, Gate, Outbox, Room, Timer, Via};
use crate::text::{normalize_nick, valid_nick};

/// Said when a nickname breaks the rules, at login (followed by
/// [`PROMPT`]) and on `/rename` (alone: the person is already in).
pub(in crate::room) const INVALID_NICK: &str =
    "Invalid nickname. Use 1-16 letters, digits, _ or -.";

/// The question a connection without a nickname is asked.
const PROMPT: &str = "Enter your nickname:";

impl Room {
    /// A new connection: welcome it and ask for the room password or a
    /// nickname, or turn it away.
    pub fn open(&mut self, key: ConnKey, uid: u64, via: Via, now: Now, out: &mut dyn Outbox) {
        let from = network(via.addr().ip());
        if let Some(until) = self.bans.of_network(from, now.mono).map(|b| b.until_wall) {
            let until = self.clock_minute(until);
            self.tell(
                key,
                now,
                out,
                format_args!("You are banned from this room until {until}."),
            );
            out.refuse(key);
            return;
        }
        if self.joined >= self.cfg.max_clients {
            let max = self.cfg.max_clients;
            self.tell(
                key,
                now,
                out,
                format_args!("The chat room is full ({max}/{max}). Try again later."),
            );
            out.refuse(key);
            return;
        }
        let here = self.per_network.get(&from).copied().unwrap_or(0);
        if here >= self.cfg.max_per_ip && !self.exempt(Some(from)) {
            self.tell(
                key,
                now,
                out,
                format_args!("Too many connections from your address."),
            );
            out.refuse(key);
            let addr = via.addr().ip();
            self.log(
                now,
                out,
                format_args!("refused {addr}: {here} connections from its address"),
            );
            return;
        }
        if self.joining >= self.cfg.max_joining {
            // Rather than turn the newcomer away (ten silent sockets would
            // lock everyone out), make room: the connection waiting longest
            // from the address with the most connections waiting goes.
            let victim = self.eviction_candidate(via, now).unwrap_or(key);
            self.tell(
                victim,
                now,
                out,
                format_args!("Too many people are joining right now. Try again in a minute."),
            );
            out.refuse(victim);
            if victim == key {
                return;
            }
            self.remove(victim);
        }
        self.admit(key, uid, Some(via), now);
        if out.encoding_fixed(key) {
            // Nothing to choose, so nothing to hint at (a WebSocket).
            self.encoding_confirmed(key);
        }
        self.arm(now.mono, self.cfg.login_timeout, Timer::Login { key, uid });
        let (name, online, max) = (&self.cfg.name, self.joined, self.cfg.max_clients);
        let welcome = format!("Welcome to {name}! ({online}/{max} online)");
        self.tell(key, now, out, format_args!("{welcome}"));
        if self.member(key).is_some_and(|m| m.gate == Gate::Password) {
            self.tell(key, now, out, format_args!("Enter the room password:"));
        } else {
            self.tell(key, now, out, format_args!("{PROMPT}"));
        }
    }

    /// `wall` as `HH:MM` in the room's zone, rounded up to the minute (a
    /// ban "until 14:05" is over when the clock shows 14:05).
    pub(in crate::room) fn clock_minute(&self, wall: jiff::Timestamp) -> String {
        let rounded = wall
            .round(
                jiff::TimestampRound::new()
                    .smallest(jiff::Unit::Minute)
                    .mode(jiff::RoundMode::Ceil),
            )
            .unwrap_or(wall);
        rounded
            .to_zoned_datetime(self.clock.tz().clone())
            .strftime("%H:%M")
            .to_string()
    }

    /// Among connections still choosing a nickname, the one to drop to make
    /// room: from the address with the most of them waiting (the newcomer's
    /// own address wins ties), the one waiting longest. The console is never
    /// chosen, and neither is someone alone from their address who has been
    /// at the prompt for less than half of `--login-timeout`: a person
    /// typing their nickname. Otherwise a flood of fresh sockets, each from
    /// an address of its own, would push them out within a second; with
    /// everyone protected, the newcomer is the one turned away.
    fn eviction_candidate(&self, newcomer: Via, now: Now) -> Option<ConnKey> {
        let grace = self.cfg.login_timeout / 2;
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
        let mut waiting: HashMap<std::net::IpAddr, (usize, u64, ConnKey, bool)> = HashMap::new();
        for (key, member, origin) in choosing {
            let entry = waiting
                .entry(network(origin.ip()))
                .or_insert((0, u64::MAX, key, false));
            entry.0 += 1;
            if member.uid < entry.1 {
                let typing = now.mono.saturating_duration_since(member.heard) < grace;
                (entry.1, entry.2, entry.3) = (member.uid, key, typing);
            }
        }
        let newcomer = Some(network(newcomer.addr().ip()));
        waiting
            .iter()
            .filter(|(_, (count, _, _, typing))| *count > 1 || !typing)
            .max_by_key(|(ip, (count, uid, _, _))| {
                (*count, Some(**ip) == newcomer, std::cmp::Reverse(*uid))
            })
            .map(|(_, (_, _, key, _))| *key)
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
        if self.find(nick).is_some() {
            return Err(format!("nickname {nick:?} is already in use"));
        }
        self.admit(key, uid, None, now);
        self.make_admin(key);
        self.join(key, nick, now, out);
        Ok(())
    }

    /// A line from a connection without a nickname.
    pub(in crate::room) fn login(
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
            // `/admin <password>` before a nickname: never taken as one.
            Command::Help | Command::Admin(_) => {
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Choose a nickname first: 1-16 letters, digits, _ or -. {PROMPT}"),
                );
            }
            _ => {
                let nick = normalize_nick(line);
                let nick = nick.as_str();
                let banned = self.bans.of_nick(nick, now.mono).map(|b| b.until_wall);
                if !valid_nick(nick) {
                    self.tell(key, now, out, format_args!("{INVALID_NICK} {PROMPT}"));
                } else if let Some(until) = banned {
                    let until = self.clock_minute(until);
                    self.tell(
                        key,
                        now,
                        out,
                        format_args!("You are banned from this room until {until}."),
                    );
                    self.remove(key);
                    out.refuse(key);
                    self.log(now, out, format_args!("refused {nick}: banned"));
                } else if self.find(nick).is_some() {
                    self.tell(
                        key,
                        now,
                        out,
                        format_args!("Nickname \"{nick}\" is already in use. {PROMPT}"),
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
                    out.refuse(key);
                } else {
                    self.join(key, nick, now, out);
                }
            }
        }
    }

    /// Makes connection `key` a participant named `nick`.
    pub(in crate::room) fn join(
        &mut self,
        key: ConnKey,
        nick: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let bucket = self.bucket(now);
        let Some(member) = self.member_mut(key) else {
            return;
        };
        member.nick = Some(nick.to_string());
        member.seq = seq;
        // Chat starts with a full burst: the nickname and the lines before
        // it drew on the bucket only to keep a login flood cheap.
        member.bucket = bucket;
        member.warned = None;
        let (uid, origin, known) = (member.uid, member.origin, member.encoding_known);
        self.joining -= 1;
        self.joined += 1;
        self.index_nick(nick, key);
        if !known {
            self.unsure += 1;
        }
        // With an admin password, arriving first makes nobody an admin.
        if !self.cfg.admin_password && self.admins == 0 {
            self.make_admin(key);
        }
        self.tell(
            key,
            now,
            out,
            format_args!("Welcome, {nick}! Type /help for commands."),
        );
        self.replay(key, nick, now, out);
        self.announce_join(key, nick, now, out);
        // The operator's own terminal is never timed out.
        if let (Some(idle), Some(_)) = (self.cfg.idle_timeout, origin) {
            self.arm(now.mono, idle, Timer::Idle { key, uid });
        }
        match origin {
            Some(addr) => self.log(now, out, format_args!("join {nick} from {addr}")),
            None => self.log(now, out, format_args!("join {nick} (console)")),
        }
        if !self.overdue.is_empty() {
            let overdue = std::mem::take(&mut self.overdue);
            self.due.extend(overdue);
            self.release_due(now, out);
        }
    }
}
