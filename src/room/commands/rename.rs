//! `/rename`: a new nickname, checked as at joining. A refusal is the
//! joining one without its `Enter your nickname:`: the person is already
//! in, and a name typed after that prompt would go to the room as chat.

use crate::clock::Now;
use crate::room::join::INVALID_NICK;
use crate::room::{ConnKey, Outbox, Room};
use crate::text::{nick_key, normalize_nick, valid_nick};

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
        let new_key = nick_key(new);
        if self.nicks.get(&new_key).is_some_and(|&k| k != key) {
            self.tell(
                key,
                now,
                out,
                format_args!("Nickname \"{new}\" is already in use."),
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
