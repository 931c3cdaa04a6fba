//! One simulated chat participant over TCP: a non-blocking socket, the join
//! handshake, lines split with memchr, and output waiting for the socket.
//!
//! A client is owned by one worker thread and driven by that thread's mio
//! poll. It connects and sends its nickname at once, without waiting for
//! the prompt (the server reads it after its welcome, as `nc` users do when
//! they paste), then looks for `[Server]: Welcome, <nick>! ...`. Every line
//! after that goes to the workload.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use memchr::{memchr, memchr_iter, memrchr};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::tls::Wire;

/// A line from the server longer than this is treated as a protocol error
/// (the server's own lines are at most a few KiB); it bounds `partial`.
const MAX_LINE_BYTES: usize = 1 << 20;

/// Full reads of one socket per call before the others get a turn: a
/// socket that always has more cannot hold the worker forever.
const READS_PER_CALL: usize = 16;

/// Output queued and not yet taken by the socket, at most. Workloads queue
/// a bounded window of messages, far below this; it is a safety net.
const MAX_OUT_BYTES: usize = 16 << 20;

/// Where a client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The TCP handshake is under way.
    Connecting,
    /// Connected, nickname sent, waiting for the welcome.
    Joining,
    /// In the room: lines go to the workload.
    Joined,
    /// The server closed the connection.
    Closed,
}

/// Why a client cannot go on.
#[derive(Debug)]
pub enum ClientError {
    /// The TCP connection could not be made.
    Connect(io::Error),
    /// The server answered the nickname with a refusal (room full, too many
    /// joining, nickname taken): its `[Server]:` line.
    Refused(String),
    /// The server closed the connection before the join finished.
    ClosedWhileJoining,
    /// A read or write failed.
    Io(io::Error),
    /// The server sent a line longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// More than [`MAX_OUT_BYTES`] waited for the socket.
    OutputFull,
}

impl ClientError {
    /// One line for the operator; `addr` is the server.
    pub fn describe(&self, addr: SocketAddr) -> String {
        match self {
            ClientError::Connect(e) => connect_error(addr, e),
            ClientError::Refused(line) => refusal(line),
            ClientError::ClosedWhileJoining => {
                format!("{addr} closed a connection before the join finished")
            }
            ClientError::Io(e) => format!("connection to {addr} failed: {e}"),
            ClientError::LineTooLong => {
                format!("{addr} sent a line longer than {MAX_LINE_BYTES} bytes")
            }
            ClientError::OutputFull => {
                format!("{addr} stopped taking input ({MAX_OUT_BYTES} bytes queued for one client)")
            }
        }
    }
}

/// The usual reasons a connection fails, in words an operator can act on.
pub fn connect_error(addr: SocketAddr, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => format!(
            "cannot connect to {addr}: connection refused (is the server running? \
             scripts/loadtest.sh starts one when --addr is not given)"
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("cannot connect to {addr}: no answer (is the address right?)")
        }
        io::ErrorKind::AddrNotAvailable => format!(
            "cannot connect to {addr}: out of local ports or addresses ({e}); \
             wait for TIME_WAIT sockets to expire or use fewer clients"
        ),
        _ if e.raw_os_error() == Some(24) => format!(
            "cannot connect to {addr}: too many open files in the generator (raise `ulimit -n`)"
        ),
        _ => format!("cannot connect to {addr}: {e}"),
    }
}

/// A `[Server]:` refusal, with what to change.
pub fn refusal(line: &str) -> String {
    let hint = if line.contains("room is full") {
        " (start the server with a larger --max-clients)"
    } else if line.contains("Too many people are joining") {
        " (start the server with a larger --max-joining, or lower --capacity-concurrency)"
    } else if line.contains("already in use") {
        " (someone in the room has one of the generator's nicknames)"
    } else if line.contains("too busy") {
        " (the server is out of file descriptors: raise its `ulimit -n`)"
    } else {
        ""
    };
    format!("the server refused a join: {line:?}{hint}")
}

/// What one [`Client::read`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes read.
    pub bytes: usize,
    /// The welcome arrived during this read.
    pub joined: bool,
    /// The server closed the connection (after the join).
    pub closed: bool,
    /// The read budget ran out with data left: read again next turn (no
    /// new edge will say so).
    pub more: bool,
}

/// One participant.
#[derive(Debug)]
pub struct Client {
    /// The socket, plain or TLS (`--tls`), lines or WebSocket (`--ws`).
    stream: crate::ws::Stream,
    /// Its mio token (the index in the worker's list).
    token: Token,
    /// Where it is in its life.
    phase: Phase,
    /// The line that tells us we are in: `[Server]: Welcome, <nick>! ...`.
    welcome: Vec<u8>,
    /// Bytes to lines.
    lines: LineSplitter,
    /// Output not yet taken by the socket: `out[out_from..]`.
    out: Vec<u8>,
    /// How much of `out` was written.
    out_from: usize,
    /// WRITABLE interest is registered (only while output is blocked or
    /// the connection is being made).
    wants_writable: bool,
}

impl Client {
    /// Starts connecting to `addr` and queues the nickname.
    ///
    /// # Errors
    ///
    /// The connection was refused at once, or could not be registered.
    pub fn connect(
        addr: SocketAddr,
        nick: &str,
        registry: &Registry,
        token: Token,
        tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
        ws: bool,
    ) -> Result<Client, ClientError> {
        let mut socket = TcpStream::connect(addr).map_err(ClientError::Connect)?;
        registry
            .register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(ClientError::Io)?;
        // Every message is small and must leave now; latency is measured.
        let _ = socket.set_nodelay(true);
        let stream = match tls {
            // The nickname waits in rustls until the handshake is done.
            Some(config) => Wire::Tls(Box::new(suda::net::tls::stream::TlsStream::new(
                crate::tls::session(config).map_err(ClientError::Connect)?,
                socket,
            ))),
            None => Wire::Plain(socket),
        };
        let stream = if ws {
            crate::ws::Stream::Ws(Box::new(crate::ws::WsWire::new(stream, &addr.to_string())))
        } else {
            crate::ws::Stream::Lines(stream)
        };
        let mut out = Vec::with_capacity(nick.len() + 1);
        out.extend_from_slice(nick.as_bytes());
        out.push(b'\n');
        Ok(Client {
            stream,
            token,
            phase: Phase::Connecting,
            welcome: format!("[Server]: Welcome, {nick}! Type /help for commands.").into_bytes(),
            lines: LineSplitter::default(),
            out,
            out_from: 0,
            wants_writable: true,
        })
    }

    /// The socket became writable: finish connecting, then send what waits.
    ///
    /// # Errors
    ///
    /// The connection failed, or a write did.
    pub fn on_writable(&mut self, registry: &Registry) -> Result<(), ClientError> {
        if self.phase == Phase::Connecting {
            if let Some(e) = self
                .stream
                .socket()
                .take_error()
                .map_err(ClientError::Connect)?
            {
                return Err(ClientError::Connect(e));
            }
            match self.stream.socket().peer_addr() {
                Ok(_) => self.phase = Phase::Joining,
                // A spurious event: still connecting.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(ClientError::Connect(e)),
            }
        }
        self.flush(registry)
    }

    /// Queues bytes (whole lines) to send; [`Client::flush`] sends them.
    ///
    /// # Errors
    ///
    /// [`ClientError::OutputFull`]: the socket has not taken output for a long while.
    pub fn queue(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        if self.out.len() - self.out_from + bytes.len() > MAX_OUT_BYTES {
            return Err(ClientError::OutputFull);
        }
        if self.out_from == self.out.len() {
            self.out.clear();
            self.out_from = 0;
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes queued output until done or the socket is full; watches for
    /// WRITABLE only while it is full.
    ///
    /// # Errors
    ///
    /// A write failed (the server went away).
    pub fn flush(&mut self, registry: &Registry) -> Result<(), ClientError> {
        if self.phase == Phase::Connecting {
            return Ok(()); // the writable event will come
        }
        let mut blocked = false;
        while self.out_from < self.out.len() {
            match self.stream.write(&self.out[self.out_from..]) {
                Ok(0) => return Err(ClientError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.out_from += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
        if !blocked {
            self.out.clear();
            self.out_from = 0;
            blocked = self.stream.holds_unsent().map_err(ClientError::Io)?;
        }
        if blocked != self.wants_writable {
            let interest = if blocked {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry
                .reregister(self.stream.socket_mut(), self.token, interest)
                .map_err(ClientError::Io)?;
            self.wants_writable = blocked;
        }
        Ok(())
    }

    /// Reads everything the socket holds, in chunks of `scratch`'s size,
    /// and hands the complete lines of a joined client to `on_block`, in
    /// blocks of whole lines (see [`LineSplitter::feed`]).
    ///
    /// mio's edge triggering asks for reading until `WouldBlock`; on Linux a
    /// read shorter than the buffer has emptied the socket, and data that
    /// arrives later raises a new edge, so a short read ends the loop (mio
    /// issue 1131). Only when the peer closed (`to_the_end`, from the
    /// event's read-closed or error flag) does it read on to the end, or
    /// the EOF behind the last data would be missed. It cannot starve the
    /// other clients: the server writes far slower than one large `read`
    /// drains; still, after [`READS_PER_CALL`] full reads it returns with
    /// [`ReadOutcome::more`] set, and the caller comes back next turn.
    ///
    /// # Errors
    ///
    /// The join was refused or the connection failed.
    pub fn read(
        &mut self,
        scratch: &mut [u8],
        to_the_end: bool,
        mut on_block: impl FnMut(&[u8]),
    ) -> Result<ReadOutcome, ClientError> {
        let mut outcome = ReadOutcome::default();
        if matches!(self.phase, Phase::Connecting | Phase::Closed) {
            // Readable before writable: the connection failed, or it is
            // made and the welcome is already here.
            if self.phase == Phase::Connecting {
                if let Some(e) = self
                    .stream
                    .socket()
                    .take_error()
                    .map_err(ClientError::Connect)?
                {
                    return Err(ClientError::Connect(e));
                }
            }
            if self.phase == Phase::Closed {
                return Ok(outcome);
            }
        }
        for _ in 0..READS_PER_CALL {
            let n = match self.stream.read(scratch) {
                Ok(0) => {
                    return match self.phase {
                        Phase::Joined => {
                            self.phase = Phase::Closed;
                            outcome.closed = true;
                            Ok(outcome)
                        }
                        _ => Err(self.refusal_in_partial()),
                    };
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(outcome),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(outcome),
                Err(e) => {
                    return Err(match self.phase {
                        Phase::Connecting => ClientError::Connect(e),
                        _ => ClientError::Io(e),
                    })
                }
            };
            if self.phase == Phase::Connecting {
                self.phase = Phase::Joining;
            }
            outcome.bytes += n;
            let Client {
                lines,
                phase,
                welcome,
                ..
            } = self;
            lines.feed(&scratch[..n], |block| {
                if *phase == Phase::Joined {
                    on_block(block); // the hot path
                    return Ok(());
                }
                let mut rest = block;
                while let Some(end) = memchr(b'\n', rest) {
                    let line = trim_cr(&rest[..end]);
                    rest = &rest[end + 1..];
                    if line == welcome.as_slice() {
                        *phase = Phase::Joined;
                        outcome.joined = true;
                        if !rest.is_empty() {
                            on_block(rest);
                        }
                        return Ok(());
                    }
                    if is_refusal(line) {
                        return Err(ClientError::Refused(
                            String::from_utf8_lossy(line).into_owned(),
                        ));
                    }
                    // Anything else before the welcome (the greeting, the
                    // prompt) is not ours to count.
                }
                Ok(())
            })?;
            if n < scratch.len() && !to_the_end && self.stream.short_read_drains() {
                // A short read took everything there was; new data brings a
                // new edge. Saves the `WouldBlock` read, half the system calls.
                return Ok(outcome);
            }
        }
        outcome.more = true;
        Ok(outcome)
    }

    /// EOF before the welcome: the server's last words, if it said any.
    fn refusal_in_partial(&self) -> ClientError {
        let line = trim_cr(self.lines.pending());
        if is_refusal(line) {
            ClientError::Refused(String::from_utf8_lossy(line).into_owned())
        } else {
            ClientError::ClosedWhileJoining
        }
    }
}

/// Bytes to lines, whatever the chunk boundaries: the memchr loop every
/// received byte goes through, so it does as little as it can.
#[derive(Debug, Default)]
pub struct LineSplitter {
    /// The start of a line whose newline has not arrived yet.
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Hands the lines `chunk` completes to `on_block` in blocks of whole
    /// lines, each with its `\n`: first the line finished from the last
    /// tail (if one was waiting), then every complete line of the chunk at
    /// once. Keeps the unfinished tail. A block can be counted with one
    /// vectorised pass ([`lines`] splits it when each line matters).
    ///
    /// # Errors
    ///
    /// What `on_block` returns, or [`ClientError::LineTooLong`].
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_block: impl FnMut(&[u8]) -> Result<(), ClientError>,
    ) -> Result<(), ClientError> {
        let mut from = 0;
        if !self.partial.is_empty() {
            let Some(end) = memchr(b'\n', chunk) else {
                return self.keep(chunk);
            };
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&chunk[..=end]);
            let result = on_block(&line);
            line.clear();
            self.partial = line; // keep the allocation
            result?;
            from = end + 1;
        }
        let rest = &chunk[from..];
        match memrchr(b'\n', rest) {
            Some(last) => {
                on_block(&rest[..=last])?;
                self.keep(&rest[last + 1..])
            }
            None => self.keep(rest),
        }
    }

    /// The unfinished line.
    pub fn pending(&self) -> &[u8] {
        &self.partial
    }

    fn keep(&mut self, tail: &[u8]) -> Result<(), ClientError> {
        if self.partial.len() + tail.len() > MAX_LINE_BYTES {
            return Err(ClientError::LineTooLong);
        }
        self.partial.extend_from_slice(tail);
        Ok(())
    }
}

/// The lines of a block of whole lines, without `\n` or `\r\n`.
pub fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut from = 0;
    memchr_iter(b'\n', block).map(move |end| {
        let line = trim_cr(&block[from..end]);
        from = end + 1;
        line
    })
}

/// A server line that means "you are not getting in".
pub fn is_refusal(line: &[u8]) -> bool {
    const REFUSALS: [&[u8]; 5] = [
        b"[Server]: The chat room is full",
        b"[Server]: Too many people are joining",
        b"[Server]: Invalid nickname",
        b"[Server]: The server is too busy",
        b"[Server]: Login timed out",
    ];
    REFUSALS.iter().any(|r| line.starts_with(r))
        || (line.starts_with(b"[Server]: Nickname \"")
            && ends_with(line, b"already in use. Enter your nickname:"))
}

fn ends_with(line: &[u8], tail: &[u8]) -> bool {
    line.len() >= tail.len() && &line[line.len() - tail.len()..] == tail
}

/// `line` without a trailing `\r`.
pub fn trim_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_recognised() {
        assert!(is_refusal(
            b"[Server]: The chat room is full (10/10). Try again later."
        ));
        assert!(is_refusal(
            b"[Server]: Nickname \"ldf1\" is already in use. Enter your nickname:"
        ));
        assert!(!is_refusal(b"[Server]: Enter your nickname:"));
        assert!(!is_refusal(b"[Server]: ldf1 has joined the chat."));
    }

    #[test]
    fn lines_are_found_across_every_chunk_boundary() {
        let input = b"[Server]: one\nAlice >> two\r\n\nthree\npart";
        for cut in 0..=input.len() {
            for cut2 in cut..=input.len() {
                let mut splitter = LineSplitter::default();
                let mut got: Vec<Vec<u8>> = Vec::new();
                for chunk in [&input[..cut], &input[cut..cut2], &input[cut2..]] {
                    splitter
                        .feed(chunk, |block| {
                            assert_eq!(block.last(), Some(&b'\n'), "whole lines");
                            got.extend(lines(block).map(<[u8]>::to_vec));
                            Ok(())
                        })
                        .expect("feed");
                }
                let want: Vec<&[u8]> = vec![b"[Server]: one", b"Alice >> two", b"", b"three"];
                assert_eq!(got, want, "cuts at {cut}, {cut2}");
                assert_eq!(splitter.pending(), b"part");
            }
        }
    }

    #[test]
    fn an_endless_line_is_an_error() {
        let mut splitter = LineSplitter::default();
        let chunk = vec![b'x'; 64 * 1024];
        let mut result = Ok(());
        for _ in 0..=MAX_LINE_BYTES / chunk.len() {
            result = splitter.feed(&chunk, |_| Ok(()));
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(ClientError::LineTooLong)));
    }

    #[test]
    fn trailing_cr_is_dropped() {
        assert_eq!(trim_cr(b"abc\r"), b"abc");
        assert_eq!(trim_cr(b"abc"), b"abc");
        assert_eq!(trim_cr(b""), b"");
    }
}
