//! The encoding hint: how a newcomer whose terminal garbles Hangul learns
//! that `/encoding` exists.
//!
//! A connection's encoding is detected from the first line it sends that
//! only makes sense in the other one. An ASCII nickname shows nothing, so a
//! CP949 terminal taken for UTF-8 (or a UTF-8 one on a `--default-encoding
//! cp949` server) reads every Hangul line as garbage until its first
//! Hangul line, and the banner cannot say so in a way it could read.
//!
//! So the first line with Hangul that reaches such a participant comes
//! after one ASCII line, which reads the same in both encodings, naming the
//! command. Once per connection, and only to participants whose encoding
//! nothing has confirmed: not to the console, not after `/encoding`, not
//! after they sent a non-ASCII line (a Hangul nickname included). A room
//! that never sees Hangul never sees the hint.
//!
//! Cost: the room counts the participants still unconfirmed; while there
//! are none (the usual state of a room in use), sending a line checks one
//! counter. Otherwise the line is scanned once for Hangul, not once per
//! reader, and each reader is hinted at most once.

use crate::clock::Now;
use crate::net::charset::Encoding;
use crate::net::line::Line;
use crate::room::{ConnKey, Outbox, Room};

/// The hint for a connection taken to speak `assumed`: the command that
/// switches to the other encoding. ASCII only.
pub(in crate::room) fn encoding_hint(assumed: Encoding) -> &'static str {
    match assumed {
        Encoding::Utf8 => "Hangul looks garbled? Type /encoding cp949 (Korean Windows).",
        Encoding::Cp949 => "Hangul looks garbled? Type /encoding utf-8.",
    }
}

/// Whether `text` holds Hangul (syllables or jamo), which is what a wrong
/// encoding turns to garbage for these users.
fn has_hangul(text: &str) -> bool {
    !text.is_ascii()
        && text.chars().any(|c| {
            matches!(c,
                '\u{AC00}'..='\u{D7A3}'
                | '\u{1100}'..='\u{11FF}'
                | '\u{3130}'..='\u{318F}'
                | '\u{A960}'..='\u{A97F}'
                | '\u{D7B0}'..='\u{D7FF}')
        })
}

impl Room {
    /// Something showed which encoding `key` reads (a non-ASCII line from
    /// it, `/encoding`), or it was told how to choose: no hint is due.
    pub(in crate::room) fn encoding_confirmed(&mut self, key: ConnKey) {
        let Some(member) = self.member_mut(key) else {
            return;
        };
        if member.encoding_known {
            return;
        }
        member.encoding_known = true;
        if member.nick.is_some() {
            self.unsure -= 1;
        }
    }

    /// Before `line` goes to every participant but `except`: the hint to
    /// those who need it.
    pub(in crate::room) fn hint_readers(
        &mut self,
        except: Option<ConnKey>,
        line: &Line,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if self.unsure == 0 || !has_hangul(line.text()) {
            return;
        }
        let due: Vec<ConnKey> = self
            .members
            .iter()
            .enumerate()
            .filter_map(|(key, member)| {
                let member = member.as_ref()?;
                (member.nick.is_some() && !member.encoding_known && Some(key) != except)
                    .then_some(key)
            })
            .collect();
        for key in due {
            self.hint(key, now, out);
        }
    }

    /// Before `line` goes to `key` alone: the hint, if it needs it.
    pub(in crate::room) fn hint_reader(
        &mut self,
        key: ConnKey,
        line: &Line,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if self.unsure == 0 || !has_hangul(line.text()) {
            return;
        }
        let due = self
            .member(key)
            .is_some_and(|m| m.nick.is_some() && !m.encoding_known);
        if due {
            self.hint(key, now, out);
        }
    }

    /// Before a reply of several lines to `key` alone (a list): the hint,
    /// if it needs it and any of them holds Hangul, so that it comes before
    /// the reply's heading rather than in the middle of the list.
    pub(in crate::room) fn hint_before_reply(
        &mut self,
        key: ConnKey,
        lines: &[String],
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if self.unsure == 0 || !lines.iter().any(|text| has_hangul(text)) {
            return;
        }
        let due = self
            .member(key)
            .is_some_and(|m| m.nick.is_some() && !m.encoding_known);
        if due {
            self.hint(key, now, out);
        }
    }

    fn hint(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) {
        self.encoding_confirmed(key);
        let hint = encoding_hint(out.encoding(key));
        let line = self.notice(now, format_args!("{hint}"));
        out.send(key, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_ascii() {
        for encoding in Encoding::ALL {
            assert!(encoding_hint(encoding).is_ascii());
        }
    }

    #[test]
    fn hangul_is_found_and_other_scripts_are_not() {
        assert!(has_hangul("hi 안녕"));
        assert!(has_hangul("ㅋㅋ"));
        assert!(!has_hangul("hello"));
        assert!(!has_hangul("café 😄 日本語"));
    }
}
