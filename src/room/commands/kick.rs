//! `/kick`: an admin removes someone, and keeps their address and
//! nickname out for a while (`--kick-ban`, or the duration given).

use crate::clock::Now;
use crate::room::{ConnKey, Outbox, Room, StateChange};

impl Room {
    pub(in crate::room) fn kick(
        &mut self,
        key: ConnKey,
        nick: &str,
        ban: Option<&str>,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if !self.is_admin(key) {
            self.tell(
                key,
                now,
                out,
                format_args!("Only the admin can kick users."),
            );
            return;
        }
        let ban = match ban {
            None => self.cfg.kick_ban,
            Some(text) => match crate::cli::parse_duration(text) {
                Ok(duration) => duration,
                Err(_) => {
                    self.tell(
                        key,
                        now,
                        out,
                        format_args!(
                            "Invalid duration \"{text}\". Use a duration such as 90s, 10m, 1h30m."
                        ),
                    );
                    return;
                }
            },
        };
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
        self.broadcast(None, &line, now, out);
        let banned = self.ban(&nick, member.network, ban, now);
        match banned {
            Some(until) => self.log(
                now,
                out,
                format_args!("kick {nick} by {admin} (banned until {until})"),
            ),
            None => self.log(now, out, format_args!("kick {nick} by {admin}")),
        }
    }

    /// Keeps `nick`, and `network` unless it is exempt, out for `length`;
    /// returns when it ends (`HH:MM`), or `None` for no ban (a zero length).
    fn ban(
        &mut self,
        nick: &str,
        network: Option<std::net::IpAddr>,
        length: std::time::Duration,
        now: Now,
    ) -> Option<String> {
        if length.is_zero() {
            return None;
        }
        let until = now.mono.checked_add(length)?;
        let until_wall = jiff::SignedDuration::try_from(length)
            .ok()
            .and_then(|d| now.wall.checked_add(d).ok())?;
        let network = network.filter(|&ip| !self.exempt(Some(ip)));
        self.bans.add(nick, network, until, until_wall, now.mono);
        Some(self.clock_minute(until_wall))
    }
}
