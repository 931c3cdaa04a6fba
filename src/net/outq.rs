//! A connection's pending output: ranges of shared buffers, written with
//! `writev`.
//!
//! During a turn, lines are queued as [`Span`]s of the turn's buffer (see
//! [`crate::net::line`]); spans that follow each other merge, so a listener's
//! share of a busy turn is usually one entry. When the turn ends the buffer
//! is sealed and every span becomes a range of shared bytes, which is what
//! is written and what stays queued if the socket is full.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::rc::Rc;

use crate::net::line::{Sealed, Span};

/// Most slices handed to one `writev` (Linux takes up to 1024).
const MAX_SLICES: usize = 512;

/// Slices on the stack for the usual flush: since spans merge, a queue
/// rarely holds more than a few chunks, and setting up all of
/// [`MAX_SLICES`] for each one-line flush cost more than the write.
const FEW_SLICES: usize = 8;

/// Queue capacity (in chunks) always kept once grown: small enough that ten
/// thousand idle connections do not notice it.
const KEEP_CHUNKS: usize = 64;

/// How a flush ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Everything was written.
    All,
    /// The socket is full: wait for it to become writable.
    Blocked,
}

/// One entry of a queue.
#[derive(Debug)]
enum Chunk {
    /// Bytes in the current turn's buffer, until the turn is sealed.
    Turn(Span),
    /// `bytes[start..end]`, shared with other queues.
    Shared {
        /// The bytes (a sealed turn buffer, or a one-off message).
        bytes: Rc<[u8]>,
        /// First byte.
        start: u32,
        /// One past the last byte.
        end: u32,
    },
}

/// Bytes waiting to be written to one connection.
#[derive(Debug, Default)]
pub struct OutQueue {
    /// The chunks, oldest first.
    chunks: VecDeque<Chunk>,
    /// How much of the front chunk has been written already.
    offset: usize,
    /// Bytes not yet written, for the `--max-outbuf` check.
    len: usize,
    /// Most chunks waiting at once since the queue last drained: what this
    /// connection needs, so that its capacity follows its traffic.
    high: usize,
    /// Index of the first chunk queued this turn (not yet sealed).
    unsealed: Option<usize>,
}

impl OutQueue {
    /// Queues a span of this turn's buffer, merging it with the previous
    /// one when they touch.
    pub fn push_turn(&mut self, span: Span) {
        if span.is_empty() {
            return;
        }
        self.len += span.len();
        if let Some(Chunk::Turn(last)) = self.chunks.back_mut() {
            if last.form == span.form && last.end == span.start {
                last.end = span.end;
                return;
            }
        }
        self.unsealed.get_or_insert(self.chunks.len());
        self.push(Chunk::Turn(span));
    }

    /// Queues bytes that are not part of a turn's buffer.
    pub fn push_shared(&mut self, bytes: &Rc<[u8]>) {
        let Ok(end) = u32::try_from(bytes.len()) else {
            return;
        };
        if end == 0 {
            return;
        }
        self.len += bytes.len();
        self.push(Chunk::Shared {
            bytes: Rc::clone(bytes),
            start: 0,
            end,
        });
    }

    fn push(&mut self, chunk: Chunk) {
        self.chunks.push_back(chunk);
        self.high = self.high.max(self.chunks.len());
    }

    /// The turn is over: this turn's spans now point into `sealed`.
    pub fn seal(&mut self, sealed: &Sealed) {
        let Some(from) = self.unsealed.take() else {
            return;
        };
        for chunk in self.chunks.range_mut(from..) {
            if let Chunk::Turn(span) = *chunk {
                // Every span placed this turn has its buffer in `sealed`.
                let bytes = sealed.0[span.form]
                    .clone()
                    .unwrap_or_else(|| Rc::from(&[][..]));
                *chunk = Chunk::Shared {
                    bytes,
                    start: span.start,
                    end: span.end,
                };
            }
        }
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops everything (the connection is going away).
    pub fn clear(&mut self) {
        *self = OutQueue::default();
    }

    /// Writes sealed chunks until the queue is empty or `out` would block,
    /// with as many chunks per system call as it takes.
    ///
    /// # Errors
    ///
    /// Any error of `out` except `WouldBlock` and `Interrupted`; a write of
    /// zero bytes is reported as `WriteZero`.
    pub fn flush(&mut self, out: &mut impl Write) -> io::Result<Flushed> {
        loop {
            let result = if self.chunks.len() <= FEW_SLICES {
                self.write_some::<FEW_SLICES>(out)
            } else {
                self.write_some::<MAX_SLICES>(out)
            };
            match result {
                Ok(None) => break,
                Ok(Some(written)) => self.advance(written),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if !self.chunks.is_empty() {
            self.detach_leftovers();
            return Ok(Flushed::Blocked);
        }
        // A busy connection keeps the capacity it uses every turn (growing it
        // again each turn cost more than the sending); after a one-off burst
        // the memory goes back.
        if self.chunks.capacity() > KEEP_CHUNKS && self.high * 4 < self.chunks.capacity() {
            self.chunks.shrink_to((self.high * 2).max(KEEP_CHUNKS));
        }
        self.high = 0;
        Ok(Flushed::All)
    }

    /// One `writev` of up to `N` sealed chunks; `None` if there is nothing
    /// sealed to write.
    fn write_some<const N: usize>(&self, out: &mut impl Write) -> io::Result<Option<usize>> {
        let mut slices = [IoSlice::new(&[]); N];
        let mut count = 0;
        for (i, chunk) in self.chunks.iter().take(N).enumerate() {
            let Chunk::Shared { bytes, start, end } = chunk else {
                break; // not sealed yet: the turn is still going
            };
            let skip = if i == 0 { self.offset } else { 0 };
            slices[i] = IoSlice::new(&bytes[*start as usize + skip..*end as usize]);
            count += 1;
        }
        if count == 0 {
            return Ok(None);
        }
        match out.write_vectored(&slices[..count])? {
            0 => Err(io::ErrorKind::WriteZero.into()),
            written => Ok(Some(written)),
        }
    }

    /// Forgets `written` bytes from the front.
    fn advance(&mut self, mut written: usize) {
        self.len -= written;
        while let Some(Chunk::Shared { start, end, .. }) = self.chunks.front() {
            let left = (end - start) as usize - self.offset;
            if written < left {
                self.offset += written;
                return;
            }
            written -= left;
            self.offset = 0;
            self.chunks.pop_front();
            if let Some(first) = &mut self.unsealed {
                *first = first.saturating_sub(1);
            }
        }
    }

    /// Gives each waiting chunk bytes of its own when it holds only a small
    /// part of a big shared buffer.
    ///
    /// A chunk keeps its whole turn buffer alive, other people's lines
    /// included. For a client that is keeping up that lasts one turn; for
    /// one that is stuck, a few bytes a turn would pin every turn's buffer,
    /// and `--max-outbuf` (which counts the client's own bytes) would not
    /// see it. After this, what a blocked queue holds is about what it is owed.
    fn detach_leftovers(&mut self) {
        for (i, chunk) in self.chunks.iter_mut().enumerate() {
            let Chunk::Shared { bytes, start, end } = chunk else {
                continue;
            };
            let skip = if i == 0 { self.offset } else { 0 };
            let (from, to) = (*start as usize + skip, *end as usize);
            if (to - from) * 2 >= bytes.len() {
                continue;
            }
            let own: Rc<[u8]> = Rc::from(&bytes[from..to]);
            *chunk = Chunk::Shared {
                end: (to - from) as u32,
                bytes: own,
                start: 0,
            };
            if i == 0 {
                self.offset = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::charset::Encoding;
    use crate::net::line::{Form, Line, TurnBuffer};

    /// A writer that takes at most `limit` bytes per call, then blocks.
    struct Trickle {
        taken: Vec<u8>,
        limit: usize,
        calls: usize,
        budget_calls: usize,
    }

    impl Trickle {
        fn open() -> Trickle {
            Trickle {
                taken: Vec::new(),
                limit: usize::MAX,
                calls: 0,
                budget_calls: usize::MAX,
            }
        }
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.calls == self.budget_calls {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.calls += 1;
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.limit - n);
                self.taken.extend_from_slice(&buf[..take]);
                n += take;
                if n == self.limit {
                    break;
                }
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const UTF8: Form = Form {
        encoding: Encoding::Utf8,
        crlf: false,
    };

    fn shared(text: &str) -> Rc<[u8]> {
        Rc::from(text.as_bytes())
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut queue = OutQueue::default();
        for text in ["hello\n", "wide ", "world\n", "안녕\n"] {
            queue.push_shared(&shared(text));
        }
        let total = queue.len();
        let mut sink = Trickle {
            limit: 4,
            budget_calls: 2,
            ..Trickle::open()
        };
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::Blocked));
        assert_eq!(queue.len(), total - 8);
        sink.budget_calls = usize::MAX;
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
        assert_eq!(sink.taken, "hello\nwide world\n안녕\n".as_bytes());
        assert!(queue.is_empty());
    }

    /// A turn of 1 000 broadcast lines is one entry and one system call for
    /// a listener, and the sender's own line splits its share in two.
    #[test]
    fn a_turn_of_lines_goes_out_as_one_slice() {
        let mut turn = TurnBuffer::default();
        let (mut listener, mut sender) = (OutQueue::default(), OutQueue::default());
        for i in 0..1000 {
            let line = Line::new(format!("Alice >> {i}\n"));
            let span = turn.place(&line, UTF8);
            listener.push_turn(span);
            if i != 500 {
                sender.push_turn(span);
            }
        }
        assert_eq!(listener.chunks.len(), 1);
        assert_eq!(sender.chunks.len(), 2);
        let sealed = turn.seal();
        listener.seal(&sealed);
        sender.seal(&sealed);
        let mut sink = Trickle::open();
        assert_eq!(listener.flush(&mut sink).ok(), Some(Flushed::All));
        assert_eq!(sink.calls, 1);
        let text = String::from_utf8(sink.taken).expect("utf-8");
        assert_eq!(text.lines().count(), 1000);
        assert!(text.starts_with("Alice >> 0\nAlice >> 1\n"));
        let mut sink = Trickle::open();
        assert_eq!(sender.flush(&mut sink).ok(), Some(Flushed::All));
        assert!(!String::from_utf8_lossy(&sink.taken).contains(">> 500\n"));
    }

    #[test]
    fn nothing_unsealed_is_written() {
        let mut turn = TurnBuffer::default();
        let mut queue = OutQueue::default();
        queue.push_turn(turn.place(&Line::new("a\n".into()), UTF8));
        let mut sink = Trickle::open();
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::Blocked));
        assert!(sink.taken.is_empty());
        queue.seal(&turn.seal());
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
        assert_eq!(sink.taken, b"a\n");
    }

    /// A client that is not reading must not keep whole turn buffers (other
    /// people's lines) alive through the few bytes it is owed from each.
    #[test]
    fn a_blocked_queue_holds_only_what_it_is_owed() {
        let mut turn = TurnBuffer::default();
        let mut queue = OutQueue::default();
        let big = Line::new(format!("{}\n", "w".repeat(10_000)));
        let mine = Line::new("x\n".into());
        turn.place(&big, UTF8); // someone else's whisper, same buffer
        queue.push_turn(turn.place(&mine, UTF8));
        let sealed = turn.seal();
        queue.seal(&sealed);
        let mut stuck = Trickle {
            budget_calls: 0,
            ..Trickle::open()
        };
        assert_eq!(queue.flush(&mut stuck).ok(), Some(Flushed::Blocked));
        drop(sealed);
        let held: usize = queue
            .chunks
            .iter()
            .map(|c| match c {
                Chunk::Shared { bytes, .. } => bytes.len(),
                Chunk::Turn(_) => 0,
            })
            .sum();
        assert_eq!(held, 2);
        let mut open = Trickle::open();
        assert_eq!(queue.flush(&mut open).ok(), Some(Flushed::All));
        assert_eq!(open.taken, b"x\n");
    }

    /// Telnet answers (shared bytes) and lines of the turn mixed, with a
    /// partial write between turns: everything goes out once, in order.
    #[test]
    fn shared_and_turn_chunks_mix_across_turns() {
        let mut turn = TurnBuffer::default();
        let mut queue = OutQueue::default();
        queue.push_shared(&shared("old\n"));
        queue.push_turn(turn.place(&Line::new("turn1\n".into()), UTF8));
        // Flushing mid-turn writes only what is sealed...
        let mut sink = Trickle::open();
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::Blocked));
        assert_eq!(sink.taken, b"old\n");
        // ...and the turn's lines still go out once it is sealed.
        queue.seal(&turn.seal());
        queue.push_shared(&Rc::from(&b"\xff\xfc\x01"[..]));
        queue.push_turn(turn.place(&Line::new("turn2\n".into()), UTF8));
        queue.seal(&turn.seal());
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
        assert_eq!(sink.taken, b"old\nturn1\n\xff\xfc\x01turn2\n");
    }

    #[test]
    fn capacity_follows_the_traffic() {
        let mut queue = OutQueue::default();
        let line = shared("x\n");
        let mut sink = Trickle::open();
        // Busy every turn: the capacity stays.
        for _ in 0..3 {
            for _ in 0..1000 {
                queue.push_shared(&line);
            }
            assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
            assert!(queue.chunks.capacity() >= 1000);
        }
        // A quiet turn after the burst: it goes back.
        queue.push_shared(&line);
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
        assert!(queue.chunks.capacity() <= 2 * KEEP_CHUNKS);
        // And every handle on the line was dropped with what was written.
        assert_eq!(Rc::strong_count(&line), 1);
    }
}
