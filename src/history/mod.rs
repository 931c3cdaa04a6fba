//! The room's history: what was said to the room, for latecomers
//! (replay on joining), returners (catch-up), `/history` and `/find`.
//!
//! The room keeps the most recent messages in a ring ([`Ring`]) in memory,
//! filled from the database once at startup: replay, catch-up and
//! `/history` never touch the disk. Each new message goes to the disk
//! thread ([`crate::store::disk`]), which writes it in the next batch (at
//! most `--history-rate` a second, [`crate::store::shed`]) and its search
//! tokens ([`grams`]) later, when idle; `/find` runs there too, off the
//! reactor, or over the ring when there is no database.

pub mod grams;

use std::collections::VecDeque;
use std::rc::Rc;

use jiff::Timestamp;

use crate::net::line::Line;

/// The most `/history` and `/find` show, and the least the ring keeps.
pub const MAX_SHOWN: usize = 500;

/// How many messages `/find` shows at most (the most recent, oldest first).
pub const FIND_LIMIT: usize = 10;

/// One message of the room, kept.
#[derive(Debug, Clone)]
pub struct Said {
    /// Its row in the database; increasing.
    pub id: u64,
    /// When it was said.
    pub at: Timestamp,
    /// The line as replayed: `[YYYY-MM-DD HH:MM] ` in the room's zone,
    /// the message as it was sent, newline. Made once, shared by every
    /// reader (each gets it in their own encoding).
    pub line: Rc<Line>,
    /// Where the message starts in the line (after the time).
    pub body: usize,
}

impl Said {
    /// The message as it was sent, without time or newline.
    pub fn text(&self) -> &str {
        let text = self.line.text();
        text.get(self.body..text.len().saturating_sub(1))
            .unwrap_or_default()
    }
}

/// A message on its way to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// [`Said::id`].
    pub id: u64,
    /// [`Said::at`].
    pub at: Timestamp,
    /// [`Said::text`].
    pub text: String,
}

/// The most recent messages, oldest first, at most `cap` of them.
#[derive(Debug)]
pub struct Ring {
    said: VecDeque<Said>,
    cap: usize,
}

impl Ring {
    /// An empty ring for `cap` messages.
    pub fn new(cap: usize) -> Ring {
        Ring {
            said: VecDeque::with_capacity(cap.min(4096)),
            cap: cap.max(1),
        }
    }

    /// Adds the newest message, forgetting the oldest if full.
    pub fn push(&mut self, said: Said) {
        if self.said.len() == self.cap {
            self.said.pop_front();
        }
        self.said.push_back(said);
    }

    /// The id of the newest message (0 for none).
    pub fn last_id(&self) -> u64 {
        self.said.back().map_or(0, |s| s.id)
    }

    /// The last `n` messages, oldest first.
    pub fn last(&self, n: usize) -> impl Iterator<Item = &Said> {
        self.said.iter().skip(self.said.len().saturating_sub(n))
    }

    /// The last `n` messages after `id`, oldest first.
    pub fn since(&self, id: u64, n: usize) -> Vec<&Said> {
        let newer = self.said.iter().rev().take_while(|s| s.id > id).count();
        self.last(newer.min(n)).collect()
    }

    /// The last `limit` messages that contain every one of `words`
    /// ([`grams::fold`]ed), oldest first.
    pub fn find(&self, words: &[String], limit: usize) -> Vec<&Said> {
        let mut found: Vec<&Said> = self
            .said
            .iter()
            .rev()
            .filter(|s| grams::matches(s.text(), words))
            .take(limit)
            .collect();
        found.reverse();
        found
    }

    /// Drops messages said before `before`.
    pub fn prune(&mut self, before: Timestamp) {
        while self.said.front().is_some_and(|s| s.at < before) {
            self.said.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(id: u64, text: &str) -> Said {
        let line = format!("[2026-11-23 10:00] {text}\n");
        Said {
            id,
            at: Timestamp::from_second(1_790_000_000 + id as i64).expect("ts"),
            body: 19,
            line: Rc::new(Line::new(line)),
        }
    }

    fn texts<'a>(said: impl IntoIterator<Item = &'a Said>) -> Vec<&'a str> {
        said.into_iter().map(Said::text).collect()
    }

    #[test]
    fn the_ring_keeps_the_newest_and_answers_in_order() {
        let mut ring = Ring::new(3);
        for (id, text) in [
            (1, "a >> 1"),
            (2, "b >> 과제는"),
            (3, "c >> 3"),
            (4, "d >> 4"),
        ] {
            ring.push(said(id, text));
        }
        assert_eq!(ring.last_id(), 4);
        assert_eq!(texts(ring.last(2)), ["c >> 3", "d >> 4"]);
        assert_eq!(texts(ring.last(99)), ["b >> 과제는", "c >> 3", "d >> 4"]);
        assert_eq!(texts(ring.since(2, 10)), ["c >> 3", "d >> 4"]);
        assert_eq!(texts(ring.since(2, 1)), ["d >> 4"]);
        assert!(ring.since(4, 10).is_empty());
        assert_eq!(texts(ring.find(&grams::words("과제"), 10)), ["b >> 과제는"]);
        assert_eq!(
            texts(ring.find(&grams::words(">>"), 2)),
            ["c >> 3", "d >> 4"]
        );
        ring.prune(Timestamp::from_second(1_790_000_003).expect("ts"));
        assert_eq!(texts(ring.last(9)), ["c >> 3", "d >> 4"]);
    }
}
