//! A connection's pending output: shared chunks written with `writev`.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::rc::Rc;

/// Most slices handed to one `writev` (Linux takes up to 1024).
const MAX_SLICES: usize = 512;

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

/// Bytes waiting to be written to one connection.
#[derive(Debug, Default)]
pub struct OutQueue {
    /// The chunks, oldest first. Many connections hold the same chunk.
    chunks: VecDeque<Rc<[u8]>>,
    /// How much of the front chunk has been written already.
    offset: usize,
    /// Bytes not yet written, for the `--max-outbuf` check.
    len: usize,
    /// Most chunks waiting at once since the queue last drained: what this
    /// connection needs, so that its capacity follows its traffic.
    high: usize,
}

impl OutQueue {
    /// Queues a chunk.
    pub fn push(&mut self, chunk: &Rc<[u8]>) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        self.chunks.push_back(Rc::clone(chunk));
        self.high = self.high.max(self.chunks.len());
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

    /// Writes until the queue is empty or `out` would block, with as many
    /// chunks per system call as it takes.
    ///
    /// # Errors
    ///
    /// Any error of `out` except `WouldBlock` and `Interrupted`; a write of
    /// zero bytes is reported as `WriteZero`.
    pub fn flush(&mut self, out: &mut impl Write) -> io::Result<Flushed> {
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (i, chunk) in self.chunks.iter().take(MAX_SLICES).enumerate() {
                let start = if i == 0 { self.offset } else { 0 };
                slices[i] = IoSlice::new(&chunk[start..]);
                count += 1;
            }
            match out.write_vectored(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.advance(written),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
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

    /// Forgets `written` bytes from the front.
    fn advance(&mut self, mut written: usize) {
        self.len -= written;
        while let Some(front) = self.chunks.front() {
            let left = front.len() - self.offset;
            if written < left {
                self.offset += written;
                return;
            }
            written -= left;
            self.offset = 0;
            self.chunks.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `limit` bytes per call, then blocks.
    struct Trickle {
        taken: Vec<u8>,
        limit: usize,
        calls: usize,
        budget_calls: usize,
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

    fn chunk(text: &str) -> Rc<[u8]> {
        Rc::from(text.as_bytes())
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut queue = OutQueue::default();
        for text in ["hello\n", "wide ", "world\n", "안녕\n"] {
            queue.push(&chunk(text));
        }
        let total = queue.len();
        let mut sink = Trickle {
            taken: Vec::new(),
            limit: 4,
            calls: 0,
            budget_calls: 2,
        };
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::Blocked));
        assert_eq!(queue.len(), total - 8);
        sink.budget_calls = usize::MAX;
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
        assert_eq!(sink.taken, "hello\nwide world\n안녕\n".as_bytes());
        assert!(queue.is_empty());
    }

    #[test]
    fn many_chunks_go_out_in_few_calls() {
        let mut queue = OutQueue::default();
        let line = chunk("Alice >> hi\n");
        for _ in 0..1000 {
            queue.push(&line);
        }
        let mut sink = Trickle {
            taken: Vec::new(),
            limit: usize::MAX,
            calls: 0,
            budget_calls: usize::MAX,
        };
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
        assert_eq!(sink.calls, 2);
        assert_eq!(sink.taken.len(), 12_000);
        // The line is shared, not copied: only our handle is left.
        assert_eq!(Rc::strong_count(&line), 1);
    }

    #[test]
    fn capacity_follows_the_traffic() {
        let mut queue = OutQueue::default();
        let line = chunk("x\n");
        let mut sink = Trickle {
            taken: Vec::new(),
            limit: usize::MAX,
            calls: 0,
            budget_calls: usize::MAX,
        };
        // Busy every turn: the capacity stays.
        for _ in 0..3 {
            for _ in 0..1000 {
                queue.push(&line);
            }
            assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
            assert!(queue.chunks.capacity() >= 1000);
        }
        // Quiet turns after the burst: it goes back.
        queue.push(&line);
        assert_eq!(queue.flush(&mut sink).ok(), Some(Flushed::All));
        assert!(queue.chunks.capacity() <= 2 * KEEP_CHUNKS);
    }
}
