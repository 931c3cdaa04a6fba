//! The room password (`--password-file`): asked right after the welcome,
//! before the nickname. A wrong one is answered after no check at all
//! when its address has guessed too often ([`super::throttle`]), and the
//! connection is closed after a pause, so each guess costs a connection
//! and a second.

use std::time::Duration;

use crate::clock::Now;
use crate::room::commands::Command;
use crate::room::{ConnKey, Gate, Outbox, Room, Timer};

/// How long a connection that gave a wrong password waits before it is
/// closed.
pub(in crate::room) const WRONG_PASSWORD_PAUSE: Duration = Duration::from_secs(1);

impl Room {
    /// A line from a connection asked for the room password.
    pub(in crate::room) fn password_attempt(
        &mut self,
        key: ConnKey,
        command: Command<'_>,
        typed: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        match command {
            Command::Exit => {
                self.tell(key, now, out, format_args!("Bye!"));
                self.remove(key);
                out.close(key);
                return;
            }
            // A CP949 client says so before anything else (`suda connect
            // --encoding cp949`): that is no guess at the password.
            Command::Encoding(name) => {
                self.set_encoding(key, name, now, out);
                return;
            }
            _ => {}
        }
        let Some(member) = self.member(key) else {
            return;
        };
        let (uid, network, origin) = (member.uid, member.network, member.origin);
        let exempt = self.exempt(network);
        let locked = !exempt && network.is_some_and(|ip| self.password_misses.locked(ip, now.mono));
        let right = !locked
            && self
                .cfg
                .password
                .as_ref()
                .is_some_and(|secret| secret.matches(typed));
        if right {
            if let Some(member) = self.member_mut(key) {
                member.gate = Gate::Nickname;
                // A class behind one NAT knows the password: those who gave
                // it are no longer a stranger's connections.
                member.counted = false;
            }
            self.uncount(network);
            self.tell(key, now, out, format_args!("Enter your nickname:"));
            return;
        }
        if let (false, false, Some(ip)) = (exempt, locked, network) {
            self.password_misses.miss(ip, now.mono);
        }
        if let Some(member) = self.member_mut(key) {
            member.gate = Gate::Refused;
        }
        self.tell(key, now, out, format_args!("Wrong password."));
        let from = origin.map_or_else(|| "?".to_string(), |a| a.ip().to_string());
        let unchecked = if locked {
            " (not checked: too many)"
        } else {
            ""
        };
        self.log(
            now,
            out,
            format_args!("wrong room password from {from}{unchecked}"),
        );
        self.arm(now.mono, WRONG_PASSWORD_PAUSE, Timer::Refuse { key, uid });
    }
}
