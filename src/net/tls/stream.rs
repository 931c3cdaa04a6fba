//! A TLS session over a non-blocking socket, as a `Read + Write` of
//! plaintext: what the reactor's reading and flushing already speak.
//!
//! rustls never touches the socket itself; this wrapper is the only place
//! where ciphertext moves. With edge-triggered readiness every call goes
//! on until the socket says `WouldBlock`, so no readiness is lost and no
//! re-registration is needed after each event (unlike rustls's own mio
//! example, which pays a system call per event for it).
//!
//! The server and the client (`suda connect --tls`) use the same wrapper.

use std::io::{self, IoSlice, Read, Write};
use std::ops::DerefMut;

use rustls::{ConnectionCommon, SideData};

/// Ciphertext and handshake plaintext rustls may hold for one connection
/// on top of the connection's output queue (`set_buffer_limit`): past it,
/// writes say `WouldBlock` and the queue (with its `--max-outbuf`) holds
/// the rest, so a reader that stops reading is still noticed.
pub const TLS_BUFFER_LIMIT: usize = 32 * 1024;

/// The most plaintext bytes given back before rustls is read (see
/// [`TlsStream::replay`]): the sniffed start of a connection.
const REPLAY_MAX: usize = crate::net::sniff::SNIFF_BYTES;

/// How far a handshake got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// Finished: plaintext can flow (our last flight may still wait for
    /// the socket; rustls sends it before any plaintext).
    pub done: bool,
    /// Ciphertext is waiting for a full socket: watch for WRITABLE.
    pub blocked: bool,
}

/// A rustls connection (`C`: server or client) over a socket `S`.
#[derive(Debug)]
pub struct TlsStream<C, S> {
    /// The TLS state: handshake, keys, record buffers.
    conn: C,
    /// The socket carrying the ciphertext.
    sock: S,
    /// Plaintext already taken out of rustls (while sniffing what the
    /// client speaks), handed out again by the first reads.
    replay: Vec<u8>,
}

impl<C, D, S> TlsStream<C, S>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
    S: Read + Write,
{
    /// Wraps a fresh connection with its buffers bounded.
    pub fn new(mut conn: C, sock: S) -> TlsStream<C, S> {
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        TlsStream {
            conn,
            sock,
            replay: Vec::new(),
        }
    }

    /// The socket (to register it, shut it down, ask its address).
    pub fn socket(&self) -> &S {
        &self.sock
    }

    /// The socket, mutably (to register it with mio).
    pub fn socket_mut(&mut self) -> &mut S {
        &mut self.sock
    }

    /// The rustls connection (to ask about the peer's certificate).
    pub fn connection(&self) -> &C {
        &self.conn
    }

    /// Puts plaintext read while sniffing back in front of the stream: the
    /// next reads return it first. At most a sniff's worth is kept.
    pub fn replay(&mut self, bytes: &[u8]) {
        let room = REPLAY_MAX.saturating_sub(self.replay.len());
        self.replay
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Moves the handshake on as far as the socket allows: ciphertext in
    /// until `WouldBlock`, answers out until `WouldBlock`.
    ///
    /// # Errors
    ///
    /// The peer hung up, the socket failed, or the peer is not speaking
    /// TLS we accept (an alert is sent first, when possible).
    pub fn handshake(&mut self) -> io::Result<Handshake> {
        loop {
            let blocked = !self.send_pending()?;
            if !self.conn.is_handshaking() {
                return Ok(Handshake {
                    done: true,
                    blocked,
                });
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {
                    self.process()?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Handshake {
                        done: false,
                        blocked,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether ciphertext is waiting for the socket.
    pub fn has_unsent(&self) -> bool {
        self.conn.wants_write()
    }

    /// Sends the TLS close_notify alert (as much of it as the socket
    /// takes now: the peer's EOF tells it the rest).
    pub fn close_notify(&mut self) {
        self.conn.send_close_notify();
        // A peer that is gone or not reading loses only the alert.
        let _ = self.send_pending();
    }

    /// Hands queued ciphertext to the socket until it is empty (`true`)
    /// or the socket is full (`false`).
    fn send_pending(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Decrypts what was read; on a TLS error the alert rustls queued is
    /// sent before the error is returned.
    fn process(&mut self) -> io::Result<rustls::IoState> {
        match self.conn.process_new_packets() {
            Ok(state) => Ok(state),
            Err(e) => {
                let _ = self.send_pending();
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }
}

impl<C, D, S> Read for TlsStream<C, S>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
    S: Read + Write,
{
    /// Plaintext from the peer. `Ok(0)` at the end, whether the peer sent
    /// close_notify or just closed the socket: for chat both mean the
    /// person left, and their last line still counts.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.replay.is_empty() {
            let n = buf.len().min(self.replay.len());
            buf[..n].copy_from_slice(&self.replay[..n]);
            self.replay.drain(..n);
            return Ok(n);
        }
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let fresh = match self.conn.read_tls(&mut self.sock) {
                Ok(_) => true, // 0 is the end: the reader reports it next
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            // Records read earlier may still wait to be decrypted, so this
            // runs even when the socket had nothing new.
            let state = self.process()?;
            if self.conn.wants_write() {
                // Post-handshake messages (tickets, key updates): tiny, and
                // whatever the socket does not take goes with the next flush.
                self.send_pending()?;
            }
            if !fresh && state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
    }
}

impl<C, D, S> Write for TlsStream<C, S>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
    S: Read + Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Encrypts as much plaintext as rustls's bounded buffer takes and
    /// sends what the socket takes. `WouldBlock` when nothing fits: the
    /// socket is not draining.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.send_pending()?;
        let n = self.conn.writer().write_vectored(bufs)?;
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.send_pending()?;
        Ok(n)
    }

    /// Sends the ciphertext still held: `WouldBlock` if the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        if self.send_pending()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}
