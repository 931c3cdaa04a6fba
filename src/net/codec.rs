//! The line codec: bytes from a socket in, complete lines out.
//!
//! A line ends with `\n`; a `\r` just before it is dropped, so `\r\n` from
//! telnet works as well as `\n` from netcat. Telnet commands are removed
//! first ([`crate::net::telnet`]). A line longer than the limit is reported once
//! as [`Frame::TooLong`] and the rest of it, up to its newline, is discarded,
//! so a client can never make the server buffer more than one line's worth.

use std::ops::Range;

use crate::net::telnet::TelnetFilter;

/// One unit of input found by [`LineCodec::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line without its line ending.
    Line(&'a [u8]),
    /// A line went over the limit; its bytes are dropped.
    TooLong,
}

/// Which buffer of [`Frames`] a line lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Entirely inside this read's data: no copy was needed.
    Data,
    /// Started in an earlier read: joined with what came before.
    Joined,
}

/// The frames of one read, kept in reusable buffers so that steady-state
/// reading allocates nothing.
#[derive(Debug, Default)]
pub struct Frames {
    /// Telnet-stripped bytes of the read.
    data: Vec<u8>,
    /// Lines that began in an earlier read, back to back.
    joined: Vec<u8>,
    /// What was found, in order.
    items: Vec<Option<(Source, Range<usize>)>>,
}

impl Frames {
    /// Forgets the previous read, keeping the buffers' memory.
    pub fn clear(&mut self) {
        self.data.clear();
        self.joined.clear();
        self.items.clear();
    }

    /// Number of frames found.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no frame was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `index`th frame.
    pub fn get(&self, index: usize) -> Option<Frame<'_>> {
        let item = self.items.get(index)?;
        Some(match item {
            None => Frame::TooLong,
            Some((Source::Data, range)) => Frame::Line(&self.data[range.clone()]),
            Some((Source::Joined, range)) => Frame::Line(&self.joined[range.clone()]),
        })
    }

    /// Iterates over the frames in order.
    pub fn iter(&self) -> impl Iterator<Item = Frame<'_>> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Shrinks buffers that grew for one large read, so that idle
    /// connections do not pin memory (the frames buffer is shared by the
    /// whole reactor, but a burst should not keep megabytes around).
    pub fn trim(&mut self, keep: usize) {
        self.clear();
        self.data.shrink_to(keep);
        self.joined.shrink_to(keep);
    }
}

/// Per-connection line state.
#[derive(Debug, Default)]
pub struct LineCodec {
    /// Telnet command state, kept across reads.
    telnet: TelnetFilter,
    /// The start of a line whose newline has not arrived. Usually empty and
    /// unallocated: most lines arrive whole in one read.
    partial: Vec<u8>,
    /// The current line went over the limit and was reported: drop the rest
    /// of it up to the next newline.
    discarding: bool,
}

/// Length of `line` without a final `\r`.
fn content_len(line: &[u8]) -> usize {
    line.len() - usize::from(line.last() == Some(&b'\r'))
}

impl LineCodec {
    /// Takes the bytes of one read. Complete lines and over-long reports go
    /// to `out`; answers to telnet negotiation go to `reply`.
    ///
    /// A line may hold at most `max_line` bytes, not counting its line end.
    pub fn feed(&mut self, input: &[u8], max_line: usize, out: &mut Frames, reply: &mut Vec<u8>) {
        let start = out.data.len();
        self.telnet.filter(input, &mut out.data, reply);
        let mut pos = start;
        while let Some(offset) = memchr::memchr(b'\n', &out.data[pos..]) {
            let end = pos + offset;
            if self.discarding {
                self.discarding = false;
            } else if self.partial.is_empty() {
                let len = content_len(&out.data[pos..end]);
                out.items.push(if len > max_line {
                    None
                } else {
                    Some((Source::Data, pos..pos + len))
                });
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&out.data[pos..end]);
                let len = content_len(&line);
                if len > max_line {
                    out.items.push(None);
                } else {
                    let at = out.joined.len();
                    out.joined.extend_from_slice(&line[..len]);
                    out.items.push(Some((Source::Joined, at..at + len)));
                }
            }
            pos = end + 1;
        }
        if !self.discarding && pos < out.data.len() {
            self.partial.extend_from_slice(&out.data[pos..]);
            if content_len(&self.partial) > max_line {
                // Report now rather than at the newline: the sender learns
                // at once, and we stop holding the bytes.
                out.items.push(None);
                self.partial = Vec::new();
                self.discarding = true;
            }
        }
    }

    /// At end of input: a last line without newline is still a line.
    pub fn finish(&mut self, out: &mut Frames) {
        let line = std::mem::take(&mut self.partial);
        if !self.discarding && !line.is_empty() {
            let len = content_len(&line);
            let at = out.joined.len();
            out.joined.extend_from_slice(&line[..len]);
            out.items.push(Some((Source::Joined, at..at + len)));
        }
        self.discarding = false;
    }

    /// Whether the peer speaks telnet (and so wants CR LF line ends).
    pub fn speaks_telnet(&self) -> bool {
        self.telnet.speaks_telnet()
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a user would see: each frame as a string, too-long as "<long>".
    fn decode(chunks: &[&[u8]], max: usize, eof: bool) -> Vec<String> {
        let mut codec = LineCodec::default();
        let mut frames = Frames::default();
        let mut reply = Vec::new();
        let mut seen = Vec::new();
        let mut collect = |frames: &Frames| {
            for frame in frames.iter() {
                seen.push(match frame {
                    Frame::Line(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                    Frame::TooLong => "<long>".to_string(),
                });
            }
        };
        for chunk in chunks {
            frames.clear();
            codec.feed(chunk, max, &mut frames, &mut reply);
            collect(&frames);
        }
        if eof {
            frames.clear();
            codec.finish(&mut frames);
            collect(&frames);
        }
        seen
    }

    #[test]
    fn splits_lines_and_drops_carriage_returns() {
        assert_eq!(
            decode(&[b"a\nbb\r\n\nccc"], 10, true),
            ["a", "bb", "", "ccc"]
        );
    }

    #[test]
    fn last_line_without_newline_waits_for_eof() {
        assert_eq!(decode(&[b"hello"], 10, false), Vec::<String>::new());
        assert_eq!(decode(&[b"hello"], 10, true), ["hello"]);
    }

    #[test]
    fn every_split_gives_the_same_lines() {
        let input: &[u8] =
            b"Alice\r\n\xec\x95\x88\xeb\x85\x95\n\xff\xfb\x01x\r\n0123456789AB\nok\n";
        let whole = decode(&[input], 10, true);
        assert_eq!(whole, ["Alice", "안녕", "x", "<long>", "ok"]);
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let parts = decode(&[&input[..i], &input[i..j], &input[j..]], 10, true);
                assert_eq!(parts, whole, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn exact_limit_is_accepted_and_one_more_is_not() {
        assert_eq!(
            decode(&[b"12345\r\n123456\n"], 5, true),
            ["12345", "<long>"]
        );
        // A CR held back at the end of a read is not counted against the line.
        assert_eq!(decode(&[b"12345\r", b"\n"], 5, true), ["12345"]);
    }

    #[test]
    fn long_line_is_reported_once_and_its_tail_dropped() {
        let chunks: Vec<&[u8]> = vec![b"xxxxxxxx", b"xxxxxxxx", b"xxxx\nnext\n"];
        assert_eq!(decode(&chunks, 5, true), ["<long>", "next"]);
    }

    #[test]
    fn partial_buffer_never_exceeds_the_limit() {
        let mut codec = LineCodec::default();
        let mut frames = Frames::default();
        for _ in 0..100 {
            codec.feed(&[b'x'; 1000], 64, &mut frames, &mut Vec::new());
            assert!(codec.pending() <= 64 + 1);
        }
    }
}
