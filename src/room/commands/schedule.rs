//! `/schedule`, `/schedules` (and `/schedules all` for admins),
//! `/unschedule`, and sending scheduled messages when their time comes,
//! a few per [`PACE_TICK`]. The pending set itself is
//! [`crate::room::schedules`].
//!
//! Messages belong to the connection that wrote them: once it is gone
//! (left, or the server restarted), only an admin can list or cancel them.

use std::time::Duration;

use crate::clock::Now;
use crate::emoticons::expand;
use crate::room::schedules::{Scheduled, When};
use crate::room::{ConnKey, Outbox, Room, StateChange, Timer, PACE_TICK};

/// Messages `/schedules all` lists at most: an admin's screen, not a dump
/// (the room may hold thousands).
const LIST_ALL_MAX: usize = 100;
/// Characters of each message `/schedules all` shows.
const LIST_ALL_CHARS: usize = 80;

/// A due time closer than this is said to the second: "in 30s" shown as
/// this very minute would look like a mistake.
const SAY_SECONDS_WITHIN: Duration = Duration::from_secs(3600);

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
        let (uid, network) = (member.uid, member.network);
        if self.schedules.count_by(uid) >= self.cfg.max_scheduled {
            let max = self.cfg.max_scheduled;
            self.tell(key, now, out, format_args!("You already have {max} scheduled messages, the limit. Cancel one with /unschedule <id>."));
            return;
        }
        let from_here = network.map_or(0, |ip| self.schedules.count_from(ip));
        if from_here >= self.cfg.max_scheduled_per_ip && !self.exempt(network) {
            let max = self.cfg.max_scheduled_per_ip;
            self.tell(
                key,
                now,
                out,
                format_args!("Your address already has {max} scheduled messages, the limit. Try again when some have been sent."),
            );
            return;
        }
        if self.schedules.bytes().saturating_add(text.len()) > self.cfg.max_scheduled_bytes {
            let max = size_text(self.cfg.max_scheduled_bytes);
            self.tell(
                key,
                now,
                out,
                format_args!(
                    "The room's scheduled messages already take {max}, the limit. Try again later."
                ),
            );
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
        let message = self
            .schedules
            .add(due, (key, uid), &nick, &expand(text), network)
            .clone();
        self.arm(now.mono, delay, Timer::Send(message.id));
        let at = self.due_text(due, now);
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
        let mut mine: Vec<_> = self.schedules.by_author(uid).collect();
        mine.sort_by_key(|m| (m.due, m.id));
        let mine: Vec<String> = mine
            .into_iter()
            .map(|m| format!("  #{} at {}: {}", m.id, self.due_text(m.due, now), m.text))
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

    /// `/schedules all`: every pending message, for an admin.
    pub(in crate::room) fn list_all_schedules(
        &mut self,
        key: ConnKey,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if !self.is_admin(key) {
            self.tell(
                key,
                now,
                out,
                format_args!("Only an admin can use /schedules all."),
            );
            return;
        }
        let count = self.schedules.len();
        if count == 0 {
            self.tell(
                key,
                now,
                out,
                format_args!("There are no scheduled messages."),
            );
            return;
        }
        let shown: Vec<String> = self
            .schedules
            .iter()
            .take(LIST_ALL_MAX)
            .map(|m| self.entry_for_admin(m, now))
            .collect();
        self.hint_before_reply(key, &shown, now, out);
        self.tell(key, now, out, format_args!("Scheduled messages ({count}):"));
        for entry in shown {
            self.tell(key, now, out, format_args!("{entry}"));
        }
        if count > LIST_ALL_MAX {
            let more = count - LIST_ALL_MAX;
            self.tell(
                key,
                now,
                out,
                format_args!("  ... and {more} more (cancel some to see them)."),
            );
        }
    }

    /// One line of `/schedules all`: who, when, and the start of the text.
    fn entry_for_admin(&self, m: &Scheduled, now: Now) -> String {
        let mut text: String = m.text.chars().take(LIST_ALL_CHARS).collect();
        if text.len() < m.text.len() {
            text.push('…');
        }
        let author = match m.author_conn {
            Some((key, uid)) if self.is(key, uid) => m.author.clone(),
            _ => format!("{} (gone)", m.author),
        };
        format!(
            "  #{} at {} by {author}: {text}",
            m.id,
            self.due_text(m.due, now)
        )
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
        // Admins may cancel anyone's, the messages of those gone included.
        let allowed = mine || (self.is_admin(key) && self.schedules.get(id).is_some());
        if !allowed {
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
        if mine {
            self.log(now, out, format_args!("unschedule #{id}"));
        } else {
            let admin = self.nick(key).unwrap_or_default().to_string();
            self.log(now, out, format_args!("unschedule #{id} by admin {admin}"));
        }
    }

    /// Sends due messages, as many as this [`PACE_TICK`] still allows
    /// (`--schedule-pace`, `--schedule-pace-bytes`); the rest wait for the
    /// next tick. A thousand messages due the same minute then reach each
    /// reader as a steady trickle, not as one burst that makes them slow.
    pub(in crate::room) fn release_due(&mut self, now: Now, out: &mut dyn Outbox) {
        // Nobody to read them (a server just restarted, before anyone is
        // back): they wait for the first person, as messages missed while
        // the server was down do. Sent now, they would be marked delivered
        // and reach no one.
        if self.joined == 0 {
            self.overdue.extend(self.due.drain(..));
            return;
        }
        let (mut sent, mut bytes) = self.paced.unwrap_or((0, 0));
        let started = self.paced.is_some();
        while sent < self.cfg.schedule_pace.max(1)
            && (sent == 0 || bytes < self.cfg.schedule_pace_bytes)
        {
            let Some(id) = self.due.pop_front() else {
                break;
            };
            if let Some(length) = self.deliver(id, out) {
                sent += 1;
                bytes += length;
            }
        }
        if sent > 0 {
            self.paced = Some((sent, bytes));
            if !started {
                self.arm(now.mono, PACE_TICK, Timer::Pace);
            }
        }
    }

    /// Sends message `id` now (once the store has it as delivered: see
    /// durable.rs); returns its length, or `None` if it was cancelled
    /// meanwhile.
    fn deliver(&mut self, id: u64, out: &mut dyn Outbox) -> Option<usize> {
        let Some(message) = self.schedules.remove(id) else {
            return None; // cancelled, or its author was kicked
        };
        let length = message.text.len();
        // Out only once the store has it as delivered: after a crash it is
        // sent at most once (see durable.rs).
        self.deliver_when_saved(message, out);
        Some(length)
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
        let text = format!("[Scheduled by {}] {}", message.author, message.text);
        self.broadcast_kept(author, &text, now, out);
        if let Some(author) = author {
            self.tell(
                author,
                now,
                out,
                format_args!("Your scheduled message #{id} was sent."),
            );
        }
        self.log(
            now,
            out,
            format_args!("deliver #{id} by {}", message.author),
        );
    }
}

/// A byte count as the limits are usually written: `4MiB`, `64KiB`, `100 bytes`.
fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

impl Room {
    /// A due time as people read it: `YYYY-MM-DD HH:MM`, with the seconds
    /// when it is less than [`SAY_SECONDS_WITHIN`] away.
    fn due_text(&self, due: jiff::Timestamp, now: Now) -> String {
        match wall_delay(now, due) {
            Some(delay) if delay >= SAY_SECONDS_WITHIN => self.clock.minute(due),
            _ => self.clock.second(due),
        }
    }
}

/// How long from `now` until wall time `due`; `None` if it has passed.
pub(in crate::room) fn wall_delay(now: Now, due: jiff::Timestamp) -> Option<Duration> {
    let delta = due.duration_since(now.wall);
    Duration::try_from(delta).ok().filter(|d| !d.is_zero())
}
