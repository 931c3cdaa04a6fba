//! One connection as the reactor holds it: socket, input state, output queue.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;

use mio::event::Source;
use mio::net::{TcpStream, UdpSocket, UnixStream};
use mio::{Interest, Registry, Token};

use crate::net::charset::Charset;
use crate::net::codec::LineCodec;
use crate::net::datagram;
use crate::net::outq::{Flushed, OutQueue};
use crate::net::tls::ServerTls;
use crate::net::web::ws::WsStream;
use tungstenite::protocol::frame::coding::CloseCode;

/// The socket behind a connection.
#[derive(Debug)]
pub enum Stream {
    /// A network client.
    Tcp(TcpStream),
    /// A network client over TLS: reads and writes are plaintext.
    Tls(Box<ServerTls>),
    /// The operator's terminal (`--console`), through a socket pair.
    Local(UnixStream),
    /// A browser (or any WebSocket client) on `/ws`, over plain TCP or
    /// TLS: each text frame is one line, both ways.
    Ws(Box<WsStream>),
    /// A UDP participant (`--udp`), verified: datagrams to `peer` through
    /// the server's one UDP socket. Each write is one datagram, one line
    /// or one marked piece of it (see [`crate::net::datagram`]).
    Udp {
        /// The shared socket.
        socket: Rc<UdpSocket>,
        /// The participant's address.
        peer: SocketAddr,
        /// The last datagram sent was a line's piece without its end: the
        /// next one is its continuation and carries the marker.
        continuing: bool,
    },
}

impl Stream {
    /// Closes our sending side: the peer reads what was queued, then EOF.
    pub fn shutdown_write(&mut self) {
        // The peer may already be gone; there is nothing to do about it.
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Tls(s) => {
                s.close_notify();
                s.socket().shutdown(Shutdown::Write)
            }
            Stream::Local(s) => s.shutdown(Shutdown::Write),
            Stream::Ws(s) => {
                s.inner_mut().shutdown_write();
                Ok(())
            }
            Stream::Udp { .. } => Ok(()),
        };
    }

    /// Sends what the stream itself still holds once the queue is written
    /// (TLS records the socket did not take yet).
    ///
    /// # Errors
    ///
    /// The socket failed.
    pub fn drain(&mut self) -> io::Result<Flushed> {
        match self {
            Stream::Tls(s) => match s.flush() {
                Ok(()) => Ok(Flushed::All),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Flushed::Blocked),
                Err(e) => Err(e),
            },
            Stream::Ws(s) => match s.flush() {
                Ok(()) => Ok(Flushed::All),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Flushed::Blocked),
                Err(e) => Err(e),
            },
            _ => Ok(Flushed::All),
        }
    }

    /// Whether this is a UDP participant (no socket of its own).
    pub fn is_udp(&self) -> bool {
        matches!(self, Stream::Udp { .. })
    }

    /// Makes the coming close a reset (SO_LINGER 0): the kernel frees the
    /// socket and whatever is still unsent at once. An ordinary close
    /// would leave those bytes for the kernel to deliver, for as long as a
    /// client that keeps its window shut cares to hold them there.
    pub fn reset_on_close(&self) {
        if let Stream::Ws(s) = self {
            return s.inner().reset_on_close();
        }
        if let Stream::Tcp(s) = self {
            if let Err(e) = socket2::SockRef::from(s).set_linger(Some(std::time::Duration::ZERO)) {
                log::debug!("SO_LINGER failed: {e}");
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Local(s) => s.read(buf),
            Stream::Ws(s) => s.read(buf),
            // Datagrams are read from the shared socket, not per participant.
            Stream::Udp { .. } => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Local(s) => s.write(buf),
            Stream::Ws(s) => s.write(buf),
            Stream::Udp {
                socket,
                peer,
                continuing,
            } => {
                // One line per datagram: never more than the first line of `buf`.
                let line = datagram::first_line(buf);
                let take = datagram::cut(line, *continuing);
                if *continuing {
                    let mut piece = [0u8; datagram::MAX_DATAGRAM];
                    let mark = datagram::CONTINUED.len();
                    piece[..mark].copy_from_slice(datagram::CONTINUED);
                    piece[mark..mark + take].copy_from_slice(&line[..take]);
                    socket.send_to(&piece[..mark + take], *peer)?;
                } else {
                    socket.send_to(&line[..take], *peer)?;
                }
                *continuing = !line[..take].ends_with(b"\n");
                Ok(take)
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Tls(s) => s.write_vectored(bufs),
            Stream::Local(s) => s.write_vectored(bufs),
            Stream::Ws(s) => s.write_vectored(bufs),
            Stream::Udp { .. } => match bufs.iter().find(|b| !b.is_empty()) {
                Some(buf) => self.write(buf),
                None => Ok(0),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interests),
            Stream::Tls(s) => s.socket_mut().register(registry, token, interests),
            Stream::Local(s) => s.register(registry, token, interests),
            Stream::Ws(s) => s.inner_mut().register(registry, token, interests),
            // The shared UDP socket is registered once, by the reactor.
            Stream::Udp { .. } => Ok(()),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interests),
            Stream::Tls(s) => s.socket_mut().reregister(registry, token, interests),
            Stream::Local(s) => s.reregister(registry, token, interests),
            Stream::Ws(s) => s.inner_mut().reregister(registry, token, interests),
            Stream::Udp { .. } => Ok(()),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Tls(s) => s.socket_mut().deregister(registry),
            Stream::Local(s) => s.deregister(registry),
            Stream::Ws(s) => s.inner_mut().deregister(registry),
            Stream::Udp { .. } => Ok(()),
        }
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Talking.
    Open,
    /// The room is done with it: write what is queued, close our side, and
    /// read (discarding) until the peer closes too. Closing a socket with
    /// unread input makes the kernel send a reset, which can destroy the
    /// last lines (the kick notice, "Bye") before the client reads them.
    Closing {
        /// The peer has closed its side.
        eof: bool,
        /// Our side is closed (everything was written).
        write_shut: bool,
    },
    /// Finished: deregistered and removed at the end of the turn, never
    /// earlier, so that a later event of this turn cannot reach a new
    /// connection that reused the slab key.
    Dead,
}

/// One client connection.
#[derive(Debug)]
pub struct Conn {
    /// Unique for the life of the server, unlike the slab key.
    pub serial: u64,
    /// The socket.
    pub stream: Stream,
    /// Remote address (`None` for the console), for diagnostics.
    pub peer: Option<SocketAddr>,
    /// Telnet and line state.
    pub codec: LineCodec,
    /// What the client speaks.
    pub charset: Charset,
    /// Send CR LF line ends: the client spoke telnet.
    pub crlf: bool,
    /// Character mode: the server echoes and keeps the line being typed
    /// on the bottom row, so arriving lines are printed above it.
    pub typing: bool,
    /// Lines were queued this turn over the line being typed (the row was
    /// erased first): it is drawn again just before the flush.
    pub redraw_due: bool,
    /// Output waiting for the socket.
    pub outq: OutQueue,
    /// Life cycle.
    pub phase: Phase,
    /// WRITABLE is registered (only while output is blocked).
    pub writable: bool,
    /// Listed for the end-of-turn flush.
    pub dirty: bool,
    /// Listed for another read next turn (its read budget ran out).
    pub ready: bool,
    /// Turned away (room full, too busy...): what is queued gets one write
    /// at the end of the turn, and then it is closed whatever is left, so a
    /// flood of refused sockets holds no descriptor past the turn.
    pub refused: bool,
    /// UDP only: when the last datagram came (for `--udp-idle`).
    pub heard: Option<std::time::Instant>,
}

impl Conn {
    /// A new connection, open.
    pub fn new(serial: u64, stream: Stream, peer: Option<SocketAddr>, charset: Charset) -> Conn {
        Conn {
            serial,
            stream,
            peer,
            codec: LineCodec::default(),
            charset,
            crlf: false,
            typing: false,
            redraw_due: false,
            outq: OutQueue::default(),
            phase: Phase::Open,
            writable: false,
            dirty: false,
            ready: false,
            refused: false,
            heard: None,
        }
    }

    /// Whether the room still talks to it.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Whether it is finished.
    pub fn is_dead(&self) -> bool {
        self.phase == Phase::Dead
    }

    /// Writes queued output. When a closing connection has written
    /// everything, shuts down its sending side (and it is finished if the
    /// peer has closed too). Returns whether the socket is now blocked.
    ///
    /// # Errors
    ///
    /// The socket failed: the connection is lost.
    pub fn flush(&mut self) -> io::Result<Flushed> {
        let flushed = match self.outq.flush(&mut self.stream)? {
            Flushed::All => self.stream.drain()?,
            blocked => blocked,
        };
        if flushed == Flushed::All {
            if let Phase::Closing {
                eof,
                write_shut: false,
            } = self.phase
            {
                if let Stream::Ws(ws) = &mut self.stream {
                    // The WebSocket's close frame goes before the socket's FIN.
                    if ws.start_close(CloseCode::Normal, "")? {
                        return Ok(Flushed::Blocked);
                    }
                }
                self.stream.shutdown_write();
                // A UDP participant has no connection to wind down.
                self.phase = if eof || self.stream.is_udp() {
                    Phase::Dead
                } else {
                    Phase::Closing {
                        eof,
                        write_shut: true,
                    }
                };
            }
        }
        Ok(flushed)
    }

    /// The peer closed its side: finish writing, then close.
    pub fn peer_closed(&mut self) {
        self.phase = match self.phase {
            Phase::Closing {
                write_shut: true, ..
            }
            | Phase::Dead => Phase::Dead,
            Phase::Open | Phase::Closing { .. } => Phase::Closing {
                eof: true,
                write_shut: false,
            },
        };
    }

    /// The room is done with it: close once the queue is written.
    pub fn close(&mut self) {
        if self.phase == Phase::Open {
            self.phase = Phase::Closing {
                eof: false,
                write_shut: false,
            };
        }
    }
}
