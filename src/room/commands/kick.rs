//! `/kick`: the admin removes someone.

use crate::clock::Now;
use crate::room::{ConnKey, Outbox, Room, StateChange};

impl Room {
    pub(in crate::room) fn kick(
        &mut self,
        key: ConnKey,
        nick: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
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
        self.broadcast(None, &line, now, out);
        self.log(now, out, format_args!("kick {nick} by {admin}"));
    }
}
