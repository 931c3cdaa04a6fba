//! `--ws`: the load as browsers would make it, each client on the web
//! client's WebSocket (`/ws`) instead of a bare line stream.
//!
//! The client side of RFC 6455 by hand, small and non-blocking: the
//! upgrade request goes out before the first line, the `101` head is
//! skipped, every line sent is one masked text frame and every text frame
//! read is one line. To the rest of the load generator it is the same
//! `Read + Write` of lines as TCP.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

use crate::tls::Wire;

/// Framed output held before the socket takes it; past it writes wait.
const MAX_PENDING: usize = 256 * 1024;

/// A load client's connection: lines as they are, or inside a WebSocket.
#[derive(Debug)]
pub enum Stream {
    /// TCP or TLS, one line per `\n`.
    Lines(Wire),
    /// A WebSocket over TCP or TLS.
    Ws(Box<WsWire>),
}

impl Stream {
    /// The socket (to ask its address and errors).
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Lines(w) => w.socket(),
            Stream::Ws(w) => w.inner.socket(),
        }
    }

    /// The socket, mutably (to register it).
    pub fn socket_mut(&mut self) -> &mut TcpStream {
        match self {
            Stream::Lines(w) => w.socket_mut(),
            Stream::Ws(w) => w.inner.socket_mut(),
        }
    }

    /// Whether a read shorter than the buffer means the socket is empty;
    /// a WebSocket's reads are decoded, so it never does.
    pub fn short_read_drains(&self) -> bool {
        match self {
            Stream::Lines(w) => w.short_read_drains(),
            Stream::Ws(_) => false,
        }
    }

    /// Output is waiting for the socket.
    pub fn holds_unsent(&mut self) -> io::Result<bool> {
        match self {
            Stream::Lines(w) => w.holds_unsent(),
            Stream::Ws(w) => {
                w.send_pending()?;
                Ok(!w.pending.is_empty() || w.inner.holds_unsent()?)
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Lines(w) => w.read(buf),
            Stream::Ws(w) => w.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Lines(w) => w.write(buf),
            Stream::Ws(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Lines(w) => w.flush(),
            Stream::Ws(w) => w.send_pending(),
        }
    }
}

/// A client WebSocket over a load client's wire.
#[derive(Debug)]
pub struct WsWire {
    inner: Wire,
    /// Bytes for the socket: the upgrade request, then frames.
    pending: Vec<u8>,
    /// Bytes read, not yet decoded.
    raw: Vec<u8>,
    /// The `101` head has been read.
    upgraded: bool,
    /// Decoded lines not yet handed out.
    decoded: Vec<u8>,
    /// A line given to `write` without its `\n` yet.
    partial: Vec<u8>,
    /// The server closed the WebSocket.
    closed: bool,
    /// The masking key of the next frame (a counter is enough for load).
    mask: u32,
}

impl WsWire {
    /// Starts a WebSocket on `inner`; `host` goes into the request.
    pub fn new(inner: Wire, host: &str) -> WsWire {
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c3VkYS1sb2FkLWNsaWVudA==\r\n\r\n"
        );
        WsWire {
            inner,
            pending: request.into_bytes(),
            raw: Vec::new(),
            upgraded: false,
            decoded: Vec::new(),
            partial: Vec::new(),
            closed: false,
            mask: 0x5bd1_e995,
        }
    }

    fn send_pending(&mut self) -> io::Result<()> {
        let mut from = 0;
        while from < self.pending.len() {
            match self.inner.write(&self.pending[from..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => from += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.drain(..from);
        Ok(())
    }

    /// Appends one masked frame.
    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        self.mask = self.mask.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let mask = self.mask.to_be_bytes();
        self.pending.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => self.pending.push(0x80 | n as u8),
            n if n < 65_536 => {
                self.pending.push(0x80 | 126);
                self.pending.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.pending.push(0x80 | 127);
                self.pending.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.pending.extend_from_slice(&mask);
        self.pending
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    }

    /// Decodes whole frames from `raw` into `decoded`.
    fn decode(&mut self) -> io::Result<()> {
        if !self.upgraded {
            let Some(end) = memchr::memmem::find(&self.raw, b"\r\n\r\n") else {
                return Ok(());
            };
            if !self.raw.starts_with(b"HTTP/1.1 101") {
                let line = String::from_utf8_lossy(&self.raw[..end.min(80)]).into_owned();
                return Err(io::Error::new(io::ErrorKind::ConnectionRefused, line));
            }
            self.raw.drain(..end + 4);
            self.upgraded = true;
        }
        let mut at = 0;
        loop {
            let frame = &self.raw[at..];
            if frame.len() < 2 {
                break;
            }
            let opcode = frame[0] & 0x0f;
            let (len, head): (usize, usize) = match frame[1] & 0x7f {
                126 if frame.len() >= 4 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
                127 if frame.len() >= 10 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&frame[2..10]);
                    (
                        usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
                        10,
                    )
                }
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if frame.len() < head.saturating_add(len) {
                break;
            }
            let payload = &frame[head..head + len];
            match opcode {
                0x1 | 0x0 => {
                    self.decoded.extend_from_slice(payload);
                    if frame[0] & 0x80 != 0 {
                        self.decoded.push(b'\n');
                    }
                }
                0x8 => self.closed = true,
                0x9 => {
                    let ping = payload.to_vec();
                    self.frame(0xA, &ping);
                }
                _ => {}
            }
            at += head + len;
        }
        self.raw.drain(..at);
        Ok(())
    }
}

impl Read for WsWire {
    /// Decoded lines; reads the socket until it is empty (or `buf` is
    /// full), so a short read means the socket is drained.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        while self.decoded.len() < buf.len() && !self.closed {
            match self.inner.read(&mut chunk) {
                Ok(0) => {
                    self.closed = true;
                    break;
                }
                Ok(n) => {
                    self.raw.extend_from_slice(&chunk[..n]);
                    self.decode()?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.decoded.is_empty() {
                        return Err(e);
                    }
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let n = buf.len().min(self.decoded.len());
        buf[..n].copy_from_slice(&self.decoded[..n]);
        self.decoded.drain(..n);
        if !self.pending.is_empty() {
            self.send_pending()?; // pongs
        }
        Ok(n)
    }
}

impl Write for WsWire {
    /// Takes whole lines as frames; `WouldBlock` while too much waits.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending.len() > MAX_PENDING {
            self.send_pending()?;
            if self.pending.len() > MAX_PENDING {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        let mut rest = buf;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let line = if self.partial.is_empty() {
                rest[..end].to_vec()
            } else {
                let mut l = std::mem::take(&mut self.partial);
                l.extend_from_slice(&rest[..end]);
                l
            };
            self.frame(0x1, &line);
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        self.send_pending()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_pending()
    }
}
