//! `/schedule`, `/schedules`, `/unschedule`, and sending a scheduled
//! message when its time comes. The pending set itself is
//! [`crate::room::schedules`].

use std::time::Duration;

use crate::clock::Now;
use crate::room::schedules::{Scheduled, When};
use crate::room::{ConnKey, Outbox, Room, StateChange, Timer};

impl Room {
    pub(in crate::room) fn schedule(
        &mut self,
        key: ConnKey,
        when: &str,
        text: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some(due) = When::parse(when).and_then(|w| w.resolve(now.wall, self.clock.tz())) else {
            self.tell(
                key,
                now,
                out,
                format_args!(
                    "Invalid time \"{when}\". Use HH:MM or a duration such as 90s, 10m, 1h30m."
                ),
            );
            return;
        };
        let delay = wall_delay(now, due).unwrap_or_default();
        if delay > self.cfg.max_schedule_ahead {
            let max = crate::clock::compact(self.cfg.max_schedule_ahead);
            self.tell(
                key,
                now,
                out,
                format_args!("Messages can be scheduled at most {max} ahead."),
            );
            return;
        }
        let Some(member) = self.member(key) else {
            return;
        };
        let uid = member.uid;
        if self.schedules.count_by(uid) >= self.cfg.max_scheduled {
            let max = self.cfg.max_scheduled;
            self.tell(key, now, out, format_args!("You already have {max} scheduled messages, the limit. Cancel one with /unschedule <id>."));
            return;
        }
        if self.schedules.len() >= self.cfg.max_scheduled_total {
            let max = self.cfg.max_scheduled_total;
            self.tell(
                key,
                now,
                out,
                format_args!(
                    "The room already has {max} scheduled messages, the limit. Try again later."
                ),
            );
            return;
        }
        let nick = self.nick(key).unwrap_or_default().to_string();
        let message = self.schedules.add(due, (key, uid), &nick, text).clone();
        self.arm(now.mono, delay, Timer::Send(message.id));
        let at = self.clock.minute(due);
        let id = message.id;
        out.persist(StateChange::Added(message));
        self.tell(
            key,
            now,
            out,
            format_args!("Message #{id} scheduled for {at}."),
        );
        self.log(now, out, format_args!("schedule #{id} by {nick} for {at}"));
    }

    pub(in crate::room) fn list_schedules(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) {
        let Some(uid) = self.member(key).map(|m| m.uid) else {
            return;
        };
        let mine: Vec<String> = self
            .schedules
            .by_author(uid)
            .map(|m| format!("  #{} at {}: {}", m.id, self.clock.minute(m.due), m.text))
            .collect();
        if mine.is_empty() {
            self.tell(
                key,
                now,
                out,
                format_args!("You have no scheduled messages."),
            );
            return;
        }
        let count = mine.len();
        self.tell(
            key,
            now,
            out,
            format_args!("Your scheduled messages ({count}):"),
        );
        for entry in mine {
            self.tell(key, now, out, format_args!("{entry}"));
        }
    }

    pub(in crate::room) fn unschedule(
        &mut self,
        key: ConnKey,
        id: u64,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let uid = self.member(key).map(|m| m.uid);
        let mine = self
            .schedules
            .get(id)
            .is_some_and(|m| m.author_conn.map(|(_, u)| u) == uid && uid.is_some());
        if !mine {
            self.tell(
                key,
                now,
                out,
                format_args!("You have no scheduled message #{id}."),
            );
            return;
        }
        self.schedules.remove(id);
        out.persist(StateChange::Removed(id));
        self.tell(key, now, out, format_args!("Message #{id} cancelled."));
        self.log(now, out, format_args!("unschedule #{id}"));
    }

    pub(in crate::room) fn deliver(&mut self, id: u64, _now: Now, out: &mut dyn Outbox) {
        let Some(message) = self.schedules.remove(id) else {
            return; // cancelled, or its author was kicked
        };
        // Out only once the store has it as delivered: after a crash it is
        // sent at most once (see durable.rs).
        self.deliver_when_saved(message, out);
    }

    /// Sends a scheduled message whose delivery the store has written.
    pub(in crate::room) fn send_scheduled(
        &mut self,
        message: Scheduled,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let id = message.id;
        let author = message
            .author_conn
            .filter(|&(key, uid)| self.is(key, uid))
            .map(|(key, _)| key);
        let line = self.line(
            now,
            format_args!("[Scheduled by {}] {}", message.author, message.text),
        );
        self.broadcast(author, &line, out);
        self.log(
            now,
            out,
            format_args!("deliver #{id} by {}", message.author),
        );
    }
}

/// How long from `now` until wall time `due`; `None` if it has passed.
pub(in crate::room) fn wall_delay(now: Now, due: jiff::Timestamp) -> Option<Duration> {
    let delta = due.duration_since(now.wall);
    Duration::try_from(delta).ok().filter(|d| !d.is_zero())
}
