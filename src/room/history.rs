//! What the room remembers of itself: replay on joining, catch-up for a
//! returning nickname, `/history` and `/find` (see [`crate::history`]).
//!
//! Everything here is served from the ring in memory, but a `/find` with a
//! database: that one goes to the disk thread and comes back through
//! [`Room::find_answer`].

use std::collections::HashMap;
use std::rc::Rc;

use jiff::{SignedDuration, Timestamp};

use crate::clock::Now;
use crate::history::{grams, Record, Ring, Said, FIND_LIMIT, MAX_SHOWN};
use crate::net::line::Line;
use crate::room::{ConnKey, Outbox, Room};
use crate::text::nick_keys;

/// The header before a replay, `/history`'s answer and a catch-up's end.
pub const EARLIER: &str = "Earlier messages";
/// The header of a catch-up.
pub const SINCE_YOU_LEFT: &str = "Messages since you left";
/// The line after a replay, a catch-up or `/history`'s answer.
pub const END_OF_EARLIER: &str = "End of earlier messages.";
/// `/history` in an empty room (a command never goes unanswered).
pub const NO_EARLIER: &str = "No earlier messages.";

/// Nicknames remembered as having left, at least: bounded so that a
/// stream of made-up names cannot grow the map (past it, the oldest are
/// forgotten and those people get the plain replay instead).
pub const MIN_LEFT_KEPT: usize = 1_000;

/// The history's state in the room.
#[derive(Debug)]
pub(in crate::room) struct Memory {
    /// The most recent messages.
    pub ring: Ring,
    /// The id the next message gets.
    next_id: u64,
    /// Nicknames that left (by their first [`nick_keys`]): when, and the
    /// newest message they had seen.
    left: HashMap<String, (Timestamp, u64)>,
    /// How many entries `left` may hold.
    max_left: usize,
    /// `/find`s waiting for the disk thread, by id: who asked (key,
    /// serial) and their words as typed.
    finds: HashMap<u64, (ConnKey, u64, String)>,
    /// The next `/find` id.
    next_find: u64,
    /// The last minute stamped (Unix minute, `YYYY-MM-DD HH:MM`): every
    /// message of a busy minute shares it, and formatting a time in a
    /// zone costs about as much as delivering the message to dozens.
    stamp: (i64, String),
}

impl Memory {
    pub fn new(history: usize, catchup: usize, max_clients: usize) -> Memory {
        Memory {
            ring: Ring::new(history.max(catchup).max(MAX_SHOWN)),
            next_id: 1,
            left: HashMap::new(),
            max_left: max_clients.saturating_mul(4).max(MIN_LEFT_KEPT),
            finds: HashMap::new(),
            next_find: 1,
            stamp: (i64::MIN, String::new()),
        }
    }
}

impl Room {
    /// Fills the ring with the messages the database kept (oldest first);
    /// the next message gets an id past `last_id`. Called once, before
    /// anyone joins.
    pub fn restore_history(&mut self, records: Vec<Record>, last_id: u64, now: Now) {
        let mut next = last_id;
        let since = self.keep_since(now);
        for record in records {
            next = next.max(record.id);
            if record.at < since {
                continue; // the disk thread deletes it shortly
            }
            let said = self.said(record.id, record.at, &record.text);
            self.memory.ring.push(said);
        }
        self.memory.next_id = self.memory.next_id.max(next.saturating_add(1));
    }

    /// Keeps `text`, a message just said to the room (as sent, without
    /// the `--timestamps` prefix), for replay, `/history` and `/find`.
    /// Every line sent to the whole room as a message comes through here
    /// (chat, `[Scheduled by]`, `[Search by]`, `[AI]`); whispers and
    /// `[Server]:` lines never do.
    pub fn remember(&mut self, text: &str, now: Now, out: &mut dyn Outbox) {
        let id = self.memory.next_id;
        self.memory.next_id += 1;
        let said = self.said(id, now.wall, text);
        self.memory.ring.push(said);
        self.memory.ring.prune(self.keep_since(now));
        if out.keeps_history() {
            out.record(Record {
                id,
                at: now.wall,
                text: text.to_string(),
            });
        }
    }

    /// Sends `text` to everyone but `except` and keeps it.
    pub(in crate::room) fn broadcast_kept(
        &mut self,
        except: Option<ConnKey>,
        text: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let line = self.line(now, format_args!("{text}"));
        self.broadcast(except, &line, now, out);
        self.remember(text, now, out);
    }

    fn said(&mut self, id: u64, at: Timestamp, text: &str) -> Said {
        // Zone offsets change on whole minutes, so one stamp per minute.
        let minute = at.as_second().div_euclid(60);
        if self.memory.stamp.0 != minute {
            self.memory.stamp = (minute, self.clock.minute(at));
        }
        let stamp = &self.memory.stamp.1;
        let mut line = String::with_capacity(stamp.len() + text.len() + 4);
        line.push('[');
        line.push_str(stamp);
        line.push_str("] ");
        line.push_str(text);
        line.push('\n');
        Said {
            id,
            at,
            body: stamp.len() + 3,
            line: Rc::new(Line::new(line)),
        }
    }

    /// The oldest moment still kept.
    fn keep_since(&self, now: Now) -> Timestamp {
        SignedDuration::try_from(self.cfg.history_keep)
            .ok()
            .and_then(|keep| now.wall.checked_sub(keep).ok())
            .unwrap_or(Timestamp::MIN)
    }

    /// After the welcome: the last `--history` messages, or for a nickname
    /// back within `--history-keep`, what it missed.
    pub(in crate::room) fn replay(
        &mut self,
        key: ConnKey,
        nick: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let [first, _] = nick_keys(nick);
        let since = self.keep_since(now);
        if let Some((left_at, seen)) = self.memory.left.remove(&first) {
            if left_at >= since {
                let lines = lines(self.memory.ring.since(seen, self.cfg.history_catchup));
                self.show(key, SINCE_YOU_LEFT, &lines, now, out);
                return;
            }
        }
        let lines = lines(self.memory.ring.last(self.cfg.history).collect());
        self.show(key, EARLIER, &lines, now, out);
    }

    /// Remembers that `nick` left now, for its catch-up.
    pub(in crate::room) fn note_left(&mut self, nick: &str, now: Now) {
        let [first, _] = nick_keys(nick);
        let seen = self.memory.ring.last_id();
        if self.memory.left.len() >= self.memory.max_left && !self.memory.left.contains_key(&first)
        {
            let since = self.keep_since(now);
            self.memory.left.retain(|_, (at, _)| *at >= since);
            if self.memory.left.len() >= self.memory.max_left {
                // Forget the older half at once, so this is rare.
                let mut times: Vec<Timestamp> = self.memory.left.values().map(|v| v.0).collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                self.memory.left.retain(|_, (at, _)| *at > cut);
            }
        }
        self.memory.left.insert(first, (now.wall, seen));
    }

    /// `/history [n]`.
    pub(in crate::room) fn show_history(
        &mut self,
        key: ConnKey,
        n: usize,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let lines = lines(self.memory.ring.last(n.min(MAX_SHOWN)).collect());
        if lines.is_empty() {
            self.tell(key, now, out, format_args!("{NO_EARLIER}"));
            return;
        }
        self.show(key, EARLIER, &lines, now, out);
    }

    /// `/find <words>`: on the disk thread with a database, in the ring without.
    pub(in crate::room) fn find_messages(
        &mut self,
        key: ConnKey,
        query: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let shown = query.split_whitespace().collect::<Vec<_>>().join(" ");
        let words = grams::words(query);
        if out.keeps_history() {
            let id = self.memory.next_find;
            let Some(uid) = self.member(key).map(|m| m.uid) else {
                return;
            };
            // One at a time each: the disk thread has one queue, and one
            // person's burst of searches must not keep everyone else's out.
            if self
                .memory
                .finds
                .values()
                .any(|(k, u, _)| *k == key && *u == uid)
            {
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Your last search is still running. Try again in a moment."),
                );
                return;
            }
            if !out.find_history(id, words) {
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Too many searches are in progress. Try again in a moment."),
                );
                return;
            }
            self.memory.next_find += 1;
            self.memory.finds.insert(id, (key, uid, shown));
            return;
        }
        let lines = lines(self.memory.ring.find(&words, FIND_LIMIT));
        self.show_found(key, &shown, &lines, now, out);
    }

    /// The disk thread answered `/find` `id`.
    pub fn find_answer(
        &mut self,
        id: u64,
        result: Result<Vec<Record>, String>,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some((key, uid, shown)) = self.memory.finds.remove(&id) else {
            return;
        };
        if !self.is(key, uid) {
            return;
        }
        match result {
            Ok(records) => {
                let lines: Vec<Rc<Line>> = records
                    .iter()
                    .map(|r| self.said(r.id, r.at, &r.text).line)
                    .collect();
                self.show_found(key, &shown, &lines, now, out);
            }
            Err(reason) => {
                log::warn!("history: /find failed: {reason}");
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Search failed: the history cannot be read right now."),
                );
            }
        }
    }

    fn show_found(
        &mut self,
        key: ConnKey,
        shown: &str,
        lines: &[Rc<Line>],
        now: Now,
        out: &mut dyn Outbox,
    ) {
        self.hint_before(key, lines, now, out);
        match lines.len() {
            0 => self.tell(
                key,
                now,
                out,
                format_args!("No messages found for \"{shown}\"."),
            ),
            1 => self.tell(
                key,
                now,
                out,
                format_args!("Found 1 message for \"{shown}\":"),
            ),
            k => self.tell(
                key,
                now,
                out,
                format_args!("Found {k} messages for \"{shown}\":"),
            ),
        }
        for line in lines {
            self.send(key, line, now, out);
        }
    }

    /// A header with the count, the lines, the end line; nothing for none.
    fn show(
        &mut self,
        key: ConnKey,
        header: &str,
        lines: &[Rc<Line>],
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let lines = self.fitting(lines);
        if lines.is_empty() {
            return;
        }
        self.hint_before(key, lines, now, out);
        let k = lines.len();
        self.tell(key, now, out, format_args!("{header} ({k}):"));
        for line in lines {
            self.send(key, line, now, out);
        }
        self.tell(key, now, out, format_args!("{END_OF_EARLIER}"));
    }
}

impl Room {
    /// The newest of `lines` (oldest first) that fit in
    /// [`RoomConfig::history_bytes`](crate::room::RoomConfig::history_bytes).
    fn fitting<'l>(&self, lines: &'l [Rc<Line>]) -> &'l [Rc<Line>] {
        let mut bytes = 0;
        let mut from = lines.len();
        while from > 0 {
            bytes += lines[from - 1].text().len();
            if bytes > self.cfg.history_bytes {
                break;
            }
            from -= 1;
        }
        &lines[from..]
    }

    /// The encoding hint, if this reader is due one, goes before the
    /// header rather than in the middle of the messages.
    fn hint_before(&mut self, key: ConnKey, lines: &[Rc<Line>], now: Now, out: &mut dyn Outbox) {
        if let Some(line) = lines.iter().find(|l| !l.text().is_ascii()) {
            self.hint_reader(key, line, now, out);
        }
    }
}

fn lines(said: Vec<&Said>) -> Vec<Rc<Line>> {
    said.into_iter().map(|s| Rc::clone(&s.line)).collect()
}
