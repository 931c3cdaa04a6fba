//! A WebSocket participant's stream: tungstenite over the connection's
//! own non-blocking socket (plain TCP or TLS), seen by the reactor as a
//! `Read + Write` of lines, like every other kind of connection.
//!
//! - Reading hands out each text frame as one line ending in `\n`; line
//!   breaks inside a frame become spaces, so a frame can never be two
//!   lines. Pings are answered by tungstenite; pongs are ignored.
//! - Writing takes the queued lines (UTF-8, `\n`-terminated) and puts each
//!   into one text frame in tungstenite's bounded write buffer; flushing
//!   sends that buffer. A full buffer or socket is `WouldBlock`, so the
//!   connection's own queue (and its `--max-outbuf`) holds the rest and a
//!   reader that stops reading is dropped as it would be over TCP.
//! - `WouldBlock` anywhere means "at the next event": nothing loops on it.
//!
//! The handshake is done before this stream exists (see [`super::upgrade`]):
//! its `101` answer goes out first, from [`WsStream::new`]'s `preamble`.

use std::io::{self, IoSlice, Read, Write};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Error, Message, WebSocket};

use crate::net::conn::Stream;

/// tungstenite's read buffer, allocated for every connection: chat frames
/// are small, and ten thousand idle browsers should not cost 128 KiB each
/// (tungstenite's default).
const READ_BUFFER: usize = 4 * 1024;

/// Bytes tungstenite may take from the socket in one [`WsStream::read`]:
/// it reads on through pings, pongs and empty continuation frames without
/// returning, so without a cap one client sending those without end would
/// keep the reactor to itself (a chat line is counted by the reactor's
/// own read budget; these cost no line).
const READ_BUDGET: usize = 16 * 1024;

/// Output framed before tungstenite writes to the socket: one write for a
/// busy turn's lines instead of one per line.
const WRITE_BUFFER: usize = 16 * 1024;

/// Framed output tungstenite may hold for one connection, at most (or
/// `--max-outbuf` if smaller).
const MAX_WRITE_BUFFER: usize = 64 * 1024;

/// The limits of one WebSocket, from the server's flags.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    /// `--max-line`: a longer frame gets the room's "too long" answer.
    pub max_line: usize,
    /// `--max-outbuf`: how much framed output may wait inside tungstenite.
    pub max_outbuf: usize,
}

impl WsLimits {
    /// The largest frame (and message) read at all: twice `--max-line`,
    /// so a line a bit too long is answered in the room like over TCP
    /// (the connection stays); past this the WebSocket is closed with
    /// 1009, since the rest of such a frame cannot be skipped.
    pub fn max_frame(&self) -> usize {
        self.max_line.saturating_mul(2).max(1024)
    }

    /// The most framed output tungstenite may hold (see [`Self::config`]).
    fn max_write(&self) -> usize {
        let write_buffer = WRITE_BUFFER.min(self.max_outbuf / 2);
        self.max_outbuf
            .min(MAX_WRITE_BUFFER)
            .max(write_buffer + self.max_frame() + 16)
    }

    fn config(&self) -> WebSocketConfig {
        let write_buffer = WRITE_BUFFER.min(self.max_outbuf / 2);
        // Kept small like TLS's record buffer: past it writes say
        // `WouldBlock` and the lines wait in the connection's queue, where
        // `--max-outbuf` is judged; at least one frame over the target, as
        // tungstenite asks.
        let max_write = self.max_write();
        WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(write_buffer)
            .max_write_buffer_size(max_write)
            .max_message_size(Some(self.max_frame()))
            .max_frame_size(Some(self.max_frame()))
    }
}

/// A WebSocket over a chat connection's stream.
#[derive(Debug)]
pub struct WsStream {
    /// The protocol state and its buffers, over the TCP or TLS stream.
    ws: WebSocket<Metered>,
    /// The handshake's answer not yet written; frames wait behind it.
    preamble: Vec<u8>,
    /// A line read but not yet handed out (the caller's buffer was short).
    inbox: Vec<u8>,
    /// Bytes of a line given to `write` without its `\n` yet.
    partial: Vec<u8>,
    /// The most bytes `partial` may hold (a line, with room for its end).
    partial_max: usize,
    /// Our close frame is queued.
    closing: bool,
    /// tungstenite's cap on framed output ([`WsLimits::max_write`]).
    max_write: usize,
}

impl WsStream {
    /// Wraps `inner` (plain TCP or TLS) after a successful upgrade:
    /// `preamble` is the `101` answer, `leftover` what the client sent
    /// after its request head (frames already).
    pub fn new(inner: Stream, preamble: Vec<u8>, leftover: Vec<u8>, limits: WsLimits) -> Self {
        let inner = Metered {
            inner,
            budget: READ_BUDGET,
            spent: false,
        };
        let ws =
            WebSocket::from_partially_read(inner, leftover, Role::Server, Some(limits.config()));
        WsStream {
            ws,
            preamble,
            inbox: Vec::new(),
            partial: Vec::new(),
            partial_max: limits.max_frame() + 8,
            closing: false,
            max_write: limits.max_write(),
        }
    }

    /// The stream under the WebSocket (to register it, shut it down).
    pub fn inner(&self) -> &Stream {
        &self.ws.get_ref().inner
    }

    /// The stream under the WebSocket, mutably.
    pub fn inner_mut(&mut self) -> &mut Stream {
        &mut self.ws.get_mut().inner
    }

    /// Writes what is left of the handshake answer: `true` once it is all out.
    fn send_preamble(&mut self) -> io::Result<bool> {
        while !self.preamble.is_empty() {
            match self.ws.get_mut().write(&self.preamble) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.preamble.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Queues our close frame (once) and sends what the socket takes.
    /// Returns whether anything is still waiting for the socket.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> io::Result<bool> {
        if !self.closing {
            self.closing = true;
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            // Whatever does not go now is sent by the next flush.
            match self.ws.close(Some(frame)) {
                Ok(()) | Err(Error::ConnectionClosed | Error::AlreadyClosed) => {}
                // Queued (ours, or the answer to the client's close) but
                // the socket is full: still waiting, not broken. Reported
                // as an error, it cut the connection before the close
                // frame went (the soak saw it about once a run).
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return into_io(e).map(|()| true),
            }
        }
        match self.flush() {
            Ok(()) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// A frame we will not take: close with `code` and report the
    /// connection broken (the reactor drops it; the room hears it left).
    fn refuse(&mut self, code: CloseCode, reason: &str) -> io::Error {
        let _ = self.start_close(code, reason);
        io::Error::new(io::ErrorKind::InvalidData, reason.to_string())
    }

    /// Moves a text frame into the inbox as one line.
    fn take_line(&mut self, text: &str) {
        let text = text
            .strip_suffix('\n')
            .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
        self.inbox.reserve(text.len() + 1);
        for b in text.bytes() {
            self.inbox
                .push(if b == b'\n' || b == b'\r' { b' ' } else { b });
        }
        self.inbox.push(b'\n');
    }
}

/// tungstenite's error as the reactor understands it: `WouldBlock` stays
/// itself, a closed WebSocket is the end of input.
fn into_io(e: Error) -> io::Result<()> {
    match e {
        Error::Io(e) => Err(e),
        Error::ConnectionClosed | Error::AlreadyClosed => Ok(()),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            other.to_string(),
        )),
    }
}

impl Read for WsStream {
    /// Lines from the client; `Ok(0)` when it closed the WebSocket (or the
    /// socket): for chat both mean the person left.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Our 101 goes before anything tungstenite answers (a pong, a
        // close) to frames that came with the request. It fits in a fresh
        // socket's buffer; if not, the next turn tries again.
        if !self.send_preamble()? {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let metered = self.ws.get_mut();
        metered.budget = READ_BUDGET;
        metered.spent = false;
        loop {
            if !self.inbox.is_empty() {
                let n = buf.len().min(self.inbox.len());
                buf[..n].copy_from_slice(&self.inbox[..n]);
                self.inbox.drain(..n);
                return Ok(n);
            }
            match self.ws.read() {
                Ok(Message::Text(text)) => self.take_line(&text),
                // Answered inside tungstenite (its pong goes with the
                // next write or flush if the socket is full now).
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Binary(_)) => {
                    return Err(self.refuse(CloseCode::Unsupported, "text frames only"))
                }
                // The client closes: tungstenite queued the answering close
                // frame; the reactor flushes it, then shuts the socket.
                Ok(Message::Close(_)) => return Ok(0),
                Err(Error::ConnectionClosed | Error::AlreadyClosed) => return Ok(0),
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.ws.get_ref().spent {
                        // More may be waiting: the reactor goes on with
                        // this connection next turn (no event will say so).
                        return Err(io::ErrorKind::Interrupted.into());
                    }
                    // A pong that met a full socket is retried here too.
                    return Err(e);
                }
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(Error::Io(e)) => return Err(e),
                Err(Error::Capacity(_)) => {
                    return Err(self.refuse(CloseCode::Size, "line too long"))
                }
                Err(Error::Utf8(_)) => {
                    return Err(self.refuse(CloseCode::Invalid, "text must be UTF-8"))
                }
                Err(Error::Protocol(p)) => {
                    return Err(self.refuse(CloseCode::Protocol, &p.to_string()))
                }
                Err(other) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        other.to_string(),
                    ))
                }
            }
        }
    }
}

impl Write for WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Frames whole lines into tungstenite's buffer; a line cut between
    /// two slices (or two calls) waits in `partial` for its end.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if !self.send_preamble()? || self.closing {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut taken = 0;
        for buf in bufs {
            let mut rest: &[u8] = buf;
            while let Some(end) = memchr::memchr(b'\n', rest) {
                let line = if self.partial.is_empty() {
                    String::from_utf8_lossy(&rest[..end]).into_owned()
                } else {
                    // Joined aside: if the frame is refused (buffer full),
                    // the same bytes come again and `partial` must not
                    // hold them twice.
                    let mut joined = self.partial.clone();
                    joined.extend_from_slice(&rest[..end]);
                    String::from_utf8_lossy(&joined).into_owned()
                };
                let line = line.strip_suffix('\r').map(str::to_owned).unwrap_or(line);
                // A line from the server may be longer than the cap (a
                // `/users` of a big room): tungstenite would refuse it for
                // ever, so it goes over the cap, alone; the cap is back
                // for the next line.
                let oversized = line.len() + 16 > self.max_write;
                if oversized {
                    let wider = self.max_write + line.len() + 16;
                    self.ws.set_config(|c| c.max_write_buffer_size = wider);
                }
                let written = self.ws.write(Message::text(line));
                if oversized {
                    let cap = self.max_write;
                    self.ws.set_config(|c| c.max_write_buffer_size = cap);
                }
                match written {
                    // Framed; a socket that is full now gets it at the flush.
                    Ok(()) => {}
                    Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(Error::WriteBufferFull(_)) => {
                        return if taken > 0 {
                            Ok(taken)
                        } else {
                            Err(io::ErrorKind::WouldBlock.into())
                        };
                    }
                    Err(Error::ConnectionClosed | Error::AlreadyClosed) => {
                        return Err(io::ErrorKind::BrokenPipe.into())
                    }
                    Err(e) => return into_io(e).map(|()| taken),
                }
                self.partial.clear();
                taken += end + 1;
                rest = &rest[end + 1..];
            }
            if !rest.is_empty() {
                // Lines are queued whole; this only guards the boundary.
                let room = self.partial_max.saturating_sub(self.partial.len());
                self.partial
                    .extend_from_slice(&rest[..rest.len().min(room)]);
                taken += rest.len();
            }
        }
        Ok(taken)
    }

    /// Sends the framed output tungstenite holds (and the stream's own,
    /// TLS records): `WouldBlock` while the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        if !self.send_preamble()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match self.ws.flush() {
            Ok(()) => {}
            Err(Error::ConnectionClosed | Error::AlreadyClosed) => {}
            Err(e) => into_io(e)?,
        }
        match self.ws.get_mut().inner.drain()? {
            crate::net::outq::Flushed::All => Ok(()),
            crate::net::outq::Flushed::Blocked => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// The connection's stream as tungstenite sees it: reads stop with
/// `WouldBlock` once [`READ_BUDGET`] bytes are taken in one
/// [`WsStream::read`], and say so in `spent`; writes go straight through.
#[derive(Debug)]
struct Metered {
    inner: Stream,
    budget: usize,
    spent: bool,
}

impl Read for Metered {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget == 0 {
            self.spent = true;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let want = buf.len().min(self.budget);
        let n = self.inner.read(&mut buf[..want])?;
        self.budget -= n;
        Ok(n)
    }
}

impl Write for Metered {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
