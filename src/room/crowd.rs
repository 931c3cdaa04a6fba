//! Crowd summaries: past `--crowd-size` participants, joins and leaves are
//! gathered and announced in one line per `--crowd-interval`.

use std::fmt::Write as _;

use crate::clock::Now;
use crate::room::{ConnKey, Outbox, Room, Timer};

/// Names shown in a crowd summary before "and N others".
const SUMMARY_NAMES: usize = 5;

/// Joins and leaves waiting for the next summary.
#[derive(Debug, Default)]
pub(in crate::room) struct CrowdNews {
    /// Who joined since the last summary, in order.
    joined: Vec<String>,
    /// Who left since the last summary, in order.
    left: Vec<String>,
    /// A [`Timer::Summary`] is set.
    armed: bool,
}

impl Room {
    /// Tells the room that `nick` (connection `key`) joined: at once, or in
    /// the next summary when the room is crowded.
    pub(in crate::room) fn announce_join(
        &mut self,
        key: ConnKey,
        nick: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if self.joined > self.cfg.crowd_size {
            self.crowd.joined.push(nick.to_string());
            self.arm_summary(now);
        } else {
            let line = self.notice(now, format_args!("{nick} has joined the chat."));
            self.broadcast(Some(key), &line, now, out);
        }
    }

    /// Tells the room that `nick` left, as [`Room::announce_join`] does.
    /// `joined` no longer counts them.
    pub(in crate::room) fn announce_leave(&mut self, nick: String, now: Now, out: &mut dyn Outbox) {
        // Counted as it was before this departure.
        if self.joined >= self.cfg.crowd_size {
            self.crowd.left.push(nick);
            self.arm_summary(now);
        } else {
            let line = self.notice(now, format_args!("{nick} has left the chat."));
            self.broadcast(None, &line, now, out);
        }
    }

    fn arm_summary(&mut self, now: Now) {
        if !self.crowd.armed {
            self.crowd.armed = true;
            self.arm(now.mono, self.cfg.crowd_interval, Timer::Summary);
        }
    }

    /// One line for everyone who joined and one for everyone who left since
    /// the last summary: O(N) per interval, however many came and went.
    pub(in crate::room) fn summarize(&mut self, now: Now, out: &mut dyn Outbox) {
        let news = std::mem::take(&mut self.crowd);
        if !news.joined.is_empty() {
            let (count, names) = (news.joined.len(), name_list(&news.joined));
            let line = self.notice(now, format_args!("{count} joined the chat: {names}."));
            self.broadcast(None, &line, now, out);
        }
        if !news.left.is_empty() {
            let (count, names) = (news.left.len(), name_list(&news.left));
            let line = self.notice(now, format_args!("{count} left the chat: {names}."));
            self.broadcast(None, &line, now, out);
        }
    }
}

/// `Alice, Bob, Carol, Dave, Eve and 32 others`.
fn name_list(names: &[String]) -> String {
    let shown = names.len().min(SUMMARY_NAMES);
    let mut text = names[..shown].join(", ");
    match names.len() - shown {
        0 => {}
        1 => text.push_str(" and 1 other"),
        more => {
            let _ = write!(text, " and {more} others");
        }
    }
    text
}
