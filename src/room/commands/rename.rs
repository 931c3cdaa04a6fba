//! `/rename`: a new nickname, checked as at joining. A refusal is the
//! joining one without its `Enter your nickname:`: the person is already
//! in, and a name typed after that prompt would go to the room as chat.

use crate::clock::Now;
use crate::room::join::INVALID_NICK;
use crate::room::{ConnKey, Outbox, Room};
use crate::text::{normalize_nick, valid_nick};

impl Room {
    pub(in crate::room) fn rename(
        &mut self,
        key: ConnKey,
        new: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
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
        if let Some(until) = self.bans.of_nick(new, now.mono).map(|b| b.until_wall) {
            let until = self.clock_minute(until);
            self.tell(
                key,
                now,
                out,
                format_args!("Nickname \"{new}\" is banned from this room until {until}."),
            );
            return;
        }
        if self.find(new).is_some_and(|k| k != key) {
            self.tell(
                key,
                now,
                out,
                format_args!("Nickname \"{new}\" is already in use."),
            );
            return;
        }
        self.unindex_nick(&old, key);
        self.index_nick(new, key);
        let Some(member) = self.member_mut(key) else {
            return;
        };
        member.nick = Some(new.to_string());
        let uid = member.uid;
        self.schedules.rename_author(uid, new);
        let line = self.notice(
            now,
            format_args!("User \"{old}\" has changed their nickname to \"{new}\"."),
        );
        self.broadcast(Some(key), &line, now, out);
        self.tell(
            key,
            now,
            out,
            format_args!("Your nickname is now \"{new}\"."),
        );
        self.log(now, out, format_args!("rename {old} -> {new}"));
    }
}
