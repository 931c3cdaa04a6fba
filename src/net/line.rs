//! A line on its way out, and the turn's buffer it is written into.
//!
//! A broadcast to 10 000 people is one [`Line`]. It is encoded once per
//! wire form that someone needs, into the [`TurnBuffer`]: one buffer per
//! form for everything sent during one turn of the reactor. Recipients'
//! queues hold ranges of those buffers, not copies; lines that follow each
//! other in the buffer and go to the same person merge into one range, so
//! at the end of the turn a listener's whole share is usually one
//! contiguous slice: one iovec for `writev`, one straight copy for the
//! kernel. At the end of the turn the buffers are sealed into shared,
//! reference-counted bytes (see [`crate::net::outq`]).
//!
//! There are four wire forms: UTF-8 or CP949, each with `\n` line ends
//! (netcat, most clients) or `\r\n` (telnet clients, whose terminals do not
//! return the carriage on a bare line feed).

use std::cell::Cell;
use std::rc::Rc;

use crate::net::charset::Encoding;

/// Number of wire forms.
pub const FORMS: usize = 4;

/// How a connection wants its bytes: encoding and line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    /// UTF-8 or CP949.
    pub encoding: Encoding,
    /// `\r\n` instead of `\n`.
    pub crlf: bool,
}

impl Form {
    /// Position among the [`FORMS`].
    pub fn index(self) -> usize {
        self.encoding.index() + 2 * usize::from(self.crlf)
    }

    /// The bytes of `text` (UTF-8, lines ending in `\n`) in this form.
    ///
    /// ```
    /// use suda::net::{charset::Encoding, line::Form};
    /// let cp949 = Form { encoding: Encoding::Cp949, crlf: true };
    /// let mut out = Vec::new();
    /// cp949.write("가\n", &mut out);
    /// assert_eq!(out, b"\xb0\xa1\r\n");
    /// ```
    pub fn write(self, text: &str, out: &mut Vec<u8>) {
        let bytes = self.encoding.encode(text);
        if !self.crlf {
            out.extend_from_slice(&bytes);
            return;
        }
        for &b in bytes.iter() {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
    }
}

/// Text to send, placed in the turn's buffer once per form on first use.
#[derive(Debug)]
pub struct Line {
    /// The text, ending with `\n`.
    text: String,
    /// Where this line already is in the turn's buffer, per form:
    /// (buffer generation, start, end).
    placed: [Cell<Option<(u64, u32, u32)>>; FORMS],
}

impl Line {
    /// A line from text that already ends with `\n`.
    pub fn new(text: String) -> Line {
        debug_assert!(text.ends_with('\n'));
        Line {
            text,
            placed: Default::default(),
        }
    }

    /// The text (UTF-8, with its `\n`).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A range of one of the turn's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Which buffer (wire form).
    pub form: usize,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// Length in bytes.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether it holds nothing.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// Everything sent during one turn, one buffer per wire form.
#[derive(Debug, Default)]
pub struct TurnBuffer {
    /// The bytes, by form. Their capacity is kept from turn to turn.
    forms: [Vec<u8>; FORMS],
    /// Bumped at each seal, so a line placed in an earlier turn is placed again.
    generation: u64,
}

impl TurnBuffer {
    /// Where `line` is in the buffer for `form`, writing it there first if
    /// no one with that form has been sent it this turn.
    ///
    /// # Panics
    ///
    /// Never in practice: a turn would need 4 GiB of output.
    pub fn place(&mut self, line: &Line, form: Form) -> Span {
        let index = form.index();
        if let Some((generation, start, end)) = line.placed[index].get() {
            if generation == self.generation {
                return Span {
                    form: index,
                    start,
                    end,
                };
            }
        }
        let buffer = &mut self.forms[index];
        let start = buffer.len();
        form.write(&line.text, buffer);
        let offset = |n: usize| u32::try_from(n).expect("a turn's output stays under 4 GiB");
        let span = Span {
            form: index,
            start: offset(start),
            end: offset(buffer.len()),
        };
        line.placed[index].set(Some((self.generation, span.start, span.end)));
        span
    }

    /// Ends the turn: the buffers become shared bytes that queues keep as
    /// long as they need them; the next turn starts empty.
    pub fn seal(&mut self) -> Sealed {
        self.generation += 1;
        Sealed(std::array::from_fn(|i| {
            let buffer = &mut self.forms[i];
            let bytes = (!buffer.is_empty()).then(|| Rc::<[u8]>::from(buffer.as_slice()));
            buffer.clear();
            bytes
        }))
    }

    /// Gives back memory a burst left behind.
    pub fn trim(&mut self, keep: usize) {
        for buffer in &mut self.forms {
            buffer.shrink_to(keep);
        }
    }
}

/// The sealed buffers of one turn, by form.
#[derive(Debug, Default)]
pub struct Sealed(pub [Option<Rc<[u8]>>; FORMS]);

#[cfg(test)]
mod tests {
    use super::*;

    const UTF8: Form = Form {
        encoding: Encoding::Utf8,
        crlf: false,
    };
    const CP949: Form = Form {
        encoding: Encoding::Cp949,
        crlf: false,
    };

    #[test]
    fn a_line_is_written_once_per_form() {
        let mut turn = TurnBuffer::default();
        let line = Line::new("안녕\n".to_string());
        let first = turn.place(&line, UTF8);
        let again = turn.place(&line, UTF8);
        assert_eq!(first, again);
        let cp949 = turn.place(&line, CP949);
        assert_eq!(cp949.len(), 5);
        let sealed = turn.seal();
        assert_eq!(sealed.0[UTF8.index()].as_deref(), Some("안녕\n".as_bytes()));
        assert_eq!(
            sealed.0[CP949.index()].as_deref(),
            Some(&b"\xbe\xc8\xb3\xe7\n"[..])
        );
        assert!(sealed.0[2].is_none() && sealed.0[3].is_none());
    }

    #[test]
    fn consecutive_lines_are_contiguous() {
        let mut turn = TurnBuffer::default();
        let a = turn.place(&Line::new("a\n".into()), UTF8);
        let b = turn.place(&Line::new("bb\n".into()), UTF8);
        assert_eq!(a.end, b.start);
    }

    #[test]
    fn a_line_kept_past_a_seal_is_placed_again() {
        let mut turn = TurnBuffer::default();
        let line = Line::new("x\n".into());
        turn.place(&line, UTF8);
        turn.seal();
        let span = turn.place(&line, UTF8);
        assert_eq!((span.start, span.end), (0, 2));
        assert_eq!(turn.seal().0[0].as_deref(), Some(&b"x\n"[..]));
    }
}
