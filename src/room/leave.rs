//! Leaving: on the connection's own end, on `/exit`, after a silence, at
//! shutdown; and who becomes admin when the admin goes (only without an
//! admin password).

use crate::clock::Now;
use crate::room::{ConnKey, Gone, Outbox, Room, Timer};

impl Room {
    /// Connection `key` ended on its own (EOF, error, slow reader).
    pub fn gone(&mut self, key: ConnKey, why: Gone, now: Now, out: &mut dyn Outbox) {
        self.leave(key, why.describe(), now, out);
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

    /// Removes a connection for any reason but a kick, telling the others.
    pub(in crate::room) fn leave(
        &mut self,
        key: ConnKey,
        why: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some(member) = self.remove(key) else {
            return;
        };
        let Some(nick) = member.nick else {
            return;
        };
        self.log(now, out, format_args!("leave {nick} ({why})"));
        self.note_left(&nick, now);
        if member.origin.is_none() {
            // The console leaving ends the server (the reactor stops when
            // its connection is gone): everyone is about to read that the
            // server is shutting down, which says all there is to say. Who
            // left and who is admin now would be noise before it.
            return;
        }
        self.announce_leave(nick, now, out);
        // With an admin password, admin rights are never passed on.
        if self.admins == 0 && !self.cfg.admin_password {
            if let Some(heir) = self
                .keys()
                .filter_map(|k| Some((self.member(k)?.seq, k)))
                .filter(|(seq, _)| *seq > 0)
                .min()
                .map(|(_, k)| k)
            {
                self.make_admin(heir);
                let heir_nick = self.nick(heir).unwrap_or_default().to_string();
                let line = self.notice(now, format_args!("{heir_nick} is now the admin."));
                self.broadcast(None, &line, now, out);
                self.log(now, out, format_args!("admin {heir_nick}"));
            }
        }
    }

    pub(in crate::room) fn check_idle(
        &mut self,
        key: ConnKey,
        uid: u64,
        now: Now,
        out: &mut dyn Outbox,
    ) {
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
}
