//! Joining: the welcome, the nickname prompt, who makes room when too
//! many are choosing a nickname, the console, and becoming a participant.

use std::collections::HashMap;

use crate::clock::Now;
use crate::room::commands::Command;
use crate::room::{ConnKey, Outbox, Room, Timer, Via};
use crate::text::{normalize_nick, valid_nick};

/// Said when a nickname breaks the rules, at login and on `/rename`.
pub(in crate::room) const INVALID_NICK: &str =
    "Invalid nickname. Use 1-16 letters, digits, _ or -. Enter your nickname:";

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

impl Room {
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
        if self.find(nick).is_some() {
            return Err(format!("nickname {nick:?} is already in use"));
        }
        self.admit(key, uid, None, now);
        self.join(key, nick, now, out);
        self.admin = Some(key);
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
            Command::Help => {
                self.tell(key, now, out, format_args!("Choose a nickname first: 1-16 letters, digits, _ or -. Enter your nickname:"));
            }
            _ => {
                let nick = normalize_nick(line);
                let nick = nick.as_str();
                if !valid_nick(nick) {
                    self.tell(key, now, out, format_args!("{INVALID_NICK}"));
                } else if self.find(nick).is_some() {
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
    pub(in crate::room) fn join(
        &mut self,
        key: ConnKey,
        nick: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
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
        self.index_nick(nick, key);
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
        self.announce_join(key, nick, now, out);
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
}
