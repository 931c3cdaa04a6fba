//! Lines back from datagrams: a long line comes in pieces, every piece
//! after the first marked with [`CONTINUED`] (see [`crate::net::datagram`]).
//!
//! Only a datagram that holds a line from its start to its `\n` is a whole
//! line, which the client may act on (a kick, the server shutting down, a
//! new encoding). Everything else (pieces joined again, a first piece
//! whose continuation never came, a continuation whose start was lost) is
//! shown as text and never acted on: a sender who pads a message so that
//! a forged notice falls at the cut gets a chat line, not a kick.

use std::time::{Duration, Instant};

use crate::client::transport::Received;
use crate::net::datagram::CONTINUED;

/// How long a line's start waits for its continuation before it is shown
/// as it is. The server sends a line's pieces back to back, so they come
/// within a moment of each other; a line that really ended without `\n`
/// (a server that is not suda) shows this much late.
pub const PIECE_WAIT: Duration = Duration::from_millis(200);

/// A line being put together from its pieces.
#[derive(Debug, Default)]
pub struct Reassembly {
    /// The line so far, without markers or line end.
    partial: Vec<u8>,
    /// When the open line's first piece came; `None`: no line is open.
    since: Option<Instant>,
    /// The open line outgrew `max_line`: the rest of it is dropped.
    too_long: bool,
}

impl Reassembly {
    /// Takes one datagram; complete lines go to `out`.
    pub fn push(
        &mut self,
        datagram: &[u8],
        now: Instant,
        max_line: usize,
        out: &mut Vec<Received>,
    ) {
        let (continued, body) = match datagram.strip_prefix(CONTINUED) {
            Some(body) => (true, body),
            None => (false, datagram),
        };
        if !continued {
            // A new line: whatever was open lost its end on the way.
            self.finish(out);
        }
        for (i, segment) in body.split_inclusive(|&b| b == b'\n').enumerate() {
            let ends = segment.ends_with(b"\n");
            let text = segment.strip_suffix(b"\n").unwrap_or(segment);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if (i == 0 && continued) || !ends {
                if i == 0 && continued && self.since.is_none() {
                    // Its start was lost: shown with its marker, so that
                    // nobody reads it as a line of its own either.
                    self.append(CONTINUED, max_line);
                }
                self.append(text, max_line);
                self.since.get_or_insert(now);
                if ends {
                    self.finish(out);
                }
            } else if text.len() > max_line {
                out.push(Received::TooLong);
            } else {
                out.push(Received::Line(text.to_vec()));
            }
        }
    }

    /// Shows a line whose continuation is overdue as it is.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<Received>) {
        if self.deadline().is_some_and(|at| now >= at) {
            self.finish(out);
        }
    }

    /// When [`Reassembly::expire`] has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.since.map(|at| at + PIECE_WAIT)
    }

    fn append(&mut self, text: &[u8], max_line: usize) {
        if self.too_long {
            return;
        }
        if self.partial.len() + text.len() > max_line {
            self.too_long = true;
            self.partial.clear();
        } else {
            self.partial.extend_from_slice(text);
        }
    }

    /// Ends the open line, if any: it is shown, never trusted.
    fn finish(&mut self, out: &mut Vec<Received>) {
        if self.since.take().is_none() {
            return;
        }
        out.push(if self.too_long {
            Received::TooLong
        } else {
            Received::Pieced(std::mem::take(&mut self.partial))
        });
        self.partial.clear();
        self.too_long = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::datagram::cut;

    fn line(text: &str) -> Received {
        Received::Line(text.as_bytes().to_vec())
    }

    fn pieced(text: &str) -> Received {
        Received::Pieced(text.as_bytes().to_vec())
    }

    /// Feeds datagrams at one moment; returns the lines.
    fn feed(r: &mut Reassembly, now: Instant, datagrams: &[&[u8]]) -> Vec<Received> {
        let mut out = Vec::new();
        for d in datagrams {
            r.push(d, now, 64 * 1024, &mut out);
        }
        out
    }

    /// The datagrams the server sends a line as.
    fn as_sent(line: &[u8]) -> Vec<Vec<u8>> {
        let (mut rest, mut continued, mut out) = (line, false, Vec::new());
        while !rest.is_empty() {
            let take = cut(rest, continued);
            let mut d = if continued {
                CONTINUED.to_vec()
            } else {
                Vec::new()
            };
            d.extend_from_slice(&rest[..take]);
            out.push(d);
            rest = &rest[take..];
            continued = true;
        }
        out
    }

    #[test]
    fn a_whole_datagram_is_a_line_at_once() {
        let mut r = Reassembly::default();
        let now = Instant::now();
        let got = feed(&mut r, now, &[b"[Server]: Bye, Dana!\n", b"Bob >> hi\r\n"]);
        assert_eq!(got, [line("[Server]: Bye, Dana!"), line("Bob >> hi")]);
        assert_eq!(r.deadline(), None);
        // Should a server pack lines, each whole one is still a line.
        assert_eq!(feed(&mut r, now, &[b"a\nb\n"]), [line("a"), line("b")]);
    }

    #[test]
    fn pieces_are_joined_and_never_whole() {
        let text = format!(
            "Mallory >> {} [Server]: You have been kicked from the chat.",
            "x".repeat(1188)
        );
        let sent = as_sent(format!("{text}\n").as_bytes());
        assert_eq!(sent.len(), 2);
        assert!(sent[1].starts_with(b"+ [Server]: You have been kicked"));
        let mut r = Reassembly::default();
        let refs: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
        assert_eq!(feed(&mut r, Instant::now(), &refs), [pieced(&text)]);
    }

    /// Every way of cutting a line gives it back, whatever its length.
    #[test]
    fn any_length_comes_back_as_it_was() {
        for words in [1, 100, 239, 240, 241, 500, 1000] {
            let text = format!("Bob >> {}", "수다 ".repeat(words));
            let sent = as_sent(format!("{text}\n").as_bytes());
            let refs: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
            let got = feed(&mut Reassembly::default(), Instant::now(), &refs);
            let want = if sent.len() == 1 {
                line(&text)
            } else {
                pieced(&text)
            };
            assert_eq!(got, [want], "{words} words");
        }
    }

    #[test]
    fn a_lost_piece_leaves_text_that_is_never_whole() {
        let now = Instant::now();
        let mut r = Reassembly::default();
        // The start came, its end did not, then a new line.
        let got = feed(&mut r, now, &[b"Alice >> a long", b"[Server]: Bye!\n"]);
        assert_eq!(got, [pieced("Alice >> a long"), line("[Server]: Bye!")]);
        // A continuation whose start was lost.
        let got = feed(
            &mut r,
            now,
            &[b"+ [Server]: The server is shutting down.\n"],
        );
        assert_eq!(got, [pieced("+ [Server]: The server is shutting down.")]);
    }

    #[test]
    fn a_start_without_its_end_shows_after_the_wait() {
        let now = Instant::now();
        let mut r = Reassembly::default();
        assert!(feed(&mut r, now, &[b"Bob >> no line end"]).is_empty());
        assert_eq!(r.deadline(), Some(now + PIECE_WAIT));
        let mut out = Vec::new();
        r.expire(now + PIECE_WAIT / 2, &mut out);
        assert!(out.is_empty());
        r.expire(now + PIECE_WAIT, &mut out);
        assert_eq!(out, [pieced("Bob >> no line end")]);
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn a_line_over_the_limit_is_dropped_once() {
        let mut r = Reassembly::default();
        let mut out = Vec::new();
        let now = Instant::now();
        for d in [
            &b"0123456789"[..],
            b"+ 0123456789",
            b"+ 0123456789\n",
            b"ok\n",
        ] {
            r.push(d, now, 16, &mut out);
        }
        assert_eq!(out, [Received::TooLong, line("ok")]);
        r.push(b"0123456789012345678\n", now, 16, &mut out);
        assert_eq!(out.last(), Some(&Received::TooLong));
    }
}
