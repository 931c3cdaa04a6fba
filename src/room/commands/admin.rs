//! `/admin <password>`: becoming an admin with `--admin-password-file`.
//!
//! The password is checked against its Argon2 hash on a worker thread
//! ([`crate::passwords::Checker`]), which takes tens of milliseconds; the
//! verdict comes back through [`Room::admin_verdict`]. Wrong passwords
//! are throttled per address like the room password. The password itself
//! is never logged, relayed or kept.

use crate::clock::Now;
use crate::room::{ConnKey, Outbox, Room};

impl Room {
    pub(in crate::room) fn admin(
        &mut self,
        key: ConnKey,
        password: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if !self.cfg.admin_password {
            self.tell(
                key,
                now,
                out,
                format_args!(
                    "This room has no admin password: its first participant is the admin."
                ),
            );
            return;
        }
        let Some(member) = self.member(key) else {
            return;
        };
        let (uid, network, admin, checking) =
            (member.uid, member.network, member.admin, member.checking);
        if admin {
            self.tell(key, now, out, format_args!("You are already an admin."));
            return;
        }
        if checking {
            self.tell(
                key,
                now,
                out,
                format_args!("Your admin password is still being checked."),
            );
            return;
        }
        let locked = !self.exempt(network)
            && network.is_some_and(|ip| self.admin_misses.locked(ip, now.mono));
        if locked {
            self.tell(key, now, out, format_args!("Wrong admin password."));
            let nick = self.nick(key).unwrap_or_default().to_string();
            let from = self.origin_text(key);
            self.log(
                now,
                out,
                format_args!("wrong admin password by {nick} from {from} (not checked: too many)"),
            );
            return;
        }
        let id = self.next_check;
        if !out.check_admin(id, password) {
            self.tell(
                key,
                now,
                out,
                format_args!("Too many admin passwords are being checked. Try again in a moment."),
            );
            return;
        }
        self.next_check += 1;
        self.checks.insert(id, (key, uid, network));
        if let Some(member) = self.member_mut(key) {
            member.checking = true;
        }
    }

    /// The worker's verdict on admin password check `id`.
    pub fn admin_verdict(&mut self, id: u64, right: bool, now: Now, out: &mut dyn Outbox) {
        let Some((key, uid, network)) = self.checks.remove(&id) else {
            return;
        };
        if !right && !self.exempt(network) {
            if let Some(ip) = network {
                self.admin_misses.miss(ip, now.mono);
            }
        }
        if !self.is(key, uid) {
            return; // left meanwhile
        }
        if let Some(member) = self.member_mut(key) {
            member.checking = false;
        }
        let nick = self.nick(key).unwrap_or_default().to_string();
        let from = self.origin_text(key);
        if !right {
            self.tell(key, now, out, format_args!("Wrong admin password."));
            self.log(
                now,
                out,
                format_args!("wrong admin password by {nick} from {from}"),
            );
            return;
        }
        self.make_admin(key);
        self.tell(key, now, out, format_args!("You are now an admin."));
        let line = self.notice(now, format_args!("{nick} is now an admin."));
        self.broadcast(Some(key), &line, now, out);
        self.log(
            now,
            out,
            format_args!("admin {nick} from {from} (password)"),
        );
    }

    /// Where `key` connects from, for the log.
    fn origin_text(&self, key: ConnKey) -> String {
        self.member(key)
            .and_then(|m| m.origin)
            .map_or_else(|| "the console".to_string(), |a| a.ip().to_string())
    }
}
