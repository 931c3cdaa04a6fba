//! `/unban`: an admin lets a kicked person back in before the ban ends.

use crate::clock::Now;
use crate::room::{ConnKey, Outbox, Room};

impl Room {
    pub(in crate::room) fn unban(
        &mut self,
        key: ConnKey,
        nick: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if !self.is_admin(key) {
            self.tell(key, now, out, format_args!("Only an admin can use /unban."));
            return;
        }
        let Some(ban) = self.bans.lift(nick, now.mono) else {
            self.tell(key, now, out, format_args!("No ban for \"{nick}\"."));
            return;
        };
        let admin = self.nick(key).unwrap_or_default().to_string();
        let banned = ban.nick;
        self.tell(key, now, out, format_args!("{banned} may join again."));
        self.log(now, out, format_args!("unban {banned} by {admin}"));
    }
}
