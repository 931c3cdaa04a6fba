//! `/search`: the room's side of asking the model: rate, the room-wide
//! cap, one request for the same question asked twice, the answer cache.
//! The HTTP side is [`crate::search`].

use std::rc::Rc;
use std::time::Duration;

use crate::clock::Now;
use crate::room::ratelimit::{Rate, TokenBucket};
use crate::room::{ConnKey, Outbox, Room};
use crate::text::sanitize;

/// Answers kept in the cache at most, whatever their age.
const SEARCH_CACHE_ENTRIES: usize = 256;

/// A question waiting for the model.
#[derive(Debug)]
pub(in crate::room) struct PendingSearch {
    /// Its [`cache_key`].
    key: String,
    /// Who asked (key, serial): told if it fails.
    askers: Vec<(ConnKey, u64)>,
}

impl Room {
    pub(in crate::room) fn search(
        &mut self,
        key: ConnKey,
        question: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some(rules) = self.cfg.search.clone() else {
            self.tell(
                key,
                now,
                out,
                format_args!("/search is not enabled on this server."),
            );
            return;
        };
        let Some(member) = self.member_mut(key) else {
            return;
        };
        if !member.search_bucket.try_take(rules.rate, now.mono) {
            let wait = member
                .search_bucket
                .wait(rules.rate)
                .as_secs_f64()
                .ceil()
                .max(1.0);
            self.tell(
                key,
                now,
                out,
                format_args!("You can search again in {wait}s."),
            );
            return;
        }
        let uid = member.uid;
        let nick = self.nick(key).unwrap_or_default().to_string();
        let cache_key = cache_key(question);
        if let Some(lines) = self.cached_answer(&cache_key, rules.cache_ttl, now) {
            self.broadcast_kept(None, &format!("[Search by {nick}] {question}"), now, out);
            self.share_answer(&lines, now, out);
            self.log(
                now,
                out,
                format_args!("search by {nick} (cached): {question}"),
            );
            return;
        }
        if let Some(pending) = self
            .in_flight
            .get(&cache_key)
            .and_then(|id| self.searches.get_mut(id))
        {
            pending.askers.push((key, uid));
        } else {
            let id = self.next_search;
            if self.searches.len() >= rules.max_in_flight || !out.search(id, question) {
                // Not asked, so not counted against the asker's rate.
                if let Some(member) = self.member_mut(key) {
                    member.search_bucket.refund(rules.rate);
                }
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Too many searches are in progress. Try again in a moment."),
                );
                return;
            }
            self.next_search += 1;
            self.in_flight.insert(cache_key.clone(), id);
            self.searches.insert(
                id,
                PendingSearch {
                    key: cache_key,
                    askers: vec![(key, uid)],
                },
            );
        }
        self.broadcast_kept(None, &format!("[Search by {nick}] {question}"), now, out);
        self.log(now, out, format_args!("search by {nick}: {question}"));
    }

    /// The model answered question `id` (or failed to): share the answer
    /// with the room, or tell whoever asked why there is none. The askers
    /// may have left; the room still gets the answer.
    pub fn search_answer(
        &mut self,
        id: u64,
        result: Result<String, String>,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some(pending) = self.searches.remove(&id) else {
            return;
        };
        self.in_flight.remove(&pending.key);
        let Some(rules) = self.cfg.search.clone() else {
            return;
        };
        match result {
            Ok(text) => {
                let lines = answer_lines(&text, rules.max_chars);
                self.share_answer(&lines, now, out);
                if rules.cache_ttl.is_some() {
                    self.remember_answer(pending.key, lines, now);
                }
                self.log(now, out, format_args!("search #{id} answered"));
            }
            Err(reason) => {
                for (key, uid) in pending.askers {
                    if self.is(key, uid) {
                        // The reason may quote the model server: clean it like any text.
                        let reason = sanitize(&reason);
                        self.tell(key, now, out, format_args!("Search failed: {reason}"));
                    }
                }
                self.log(now, out, format_args!("search #{id} failed: {reason}"));
            }
        }
    }

    fn share_answer(&mut self, lines: &[String], now: Now, out: &mut dyn Outbox) {
        for text in lines {
            self.broadcast_kept(None, &format!("[AI] {text}"), now, out);
        }
    }

    /// A fresh enough answer to the same question.
    fn cached_answer(
        &mut self,
        key: &str,
        ttl: Option<Duration>,
        now: Now,
    ) -> Option<Rc<[String]>> {
        let ttl = ttl?;
        let (at, lines) = self.answers.get(key)?;
        if now.mono.saturating_duration_since(*at) < ttl {
            return Some(Rc::clone(lines));
        }
        self.answers.remove(key);
        None
    }

    fn remember_answer(&mut self, key: String, lines: Vec<String>, now: Now) {
        if self.answers.len() >= SEARCH_CACHE_ENTRIES {
            // Make room: the oldest answer goes (a small map, a rare event).
            if let Some(oldest) = self
                .answers
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                self.answers.remove(&oldest);
            }
        }
        self.answers.insert(key, (now.mono, Rc::from(lines)));
    }

    pub(in crate::room) fn search_bucket(&self, now: Now) -> TokenBucket {
        let rate = self.cfg.search.as_ref().map_or(
            Rate {
                per_second: 1.0,
                burst: 1,
            },
            |rules| rules.rate,
        );
        TokenBucket::new(rate, now.mono)
    }
}

/// The form of a question used to recognise it again: case and spacing do
/// not make a new question.
fn cache_key(question: &str) -> String {
    question
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The lines of an answer as the room sees them: terminal controls removed,
/// blank lines dropped, at most `max_chars` characters, and a last line
/// saying so if it was cut.
pub(in crate::room) fn answer_lines(text: &str, max_chars: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut left = max_chars;
    let mut cut = false;
    for raw in text.lines() {
        let clean = sanitize(raw);
        let line = clean.trim();
        if line.is_empty() {
            continue;
        }
        let count = line.chars().count();
        if count > left {
            let part: String = line.chars().take(left).collect();
            if !part.is_empty() {
                lines.push(part);
            }
            cut = true;
            break;
        }
        left -= count;
        lines.push(line.to_string());
    }
    if cut {
        lines.push("(answer cut)".to_string());
    }
    lines
}
