//! A socket with or without TLS, before (or instead of) being a chat
//! [`Stream`](crate::net::conn::Stream): what arrivals and HTTP
//! connections read and write.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

use crate::net::tls::ServerTls;

/// A plain TCP socket or a TLS session over one; reads and writes are
/// plaintext either way.
#[derive(Debug)]
pub enum Wire {
    /// The bare socket.
    Plain(TcpStream),
    /// TLS over the socket.
    Tls(Box<ServerTls>),
}

impl Wire {
    /// The socket (to register it, ask its address).
    pub fn socket_mut(&mut self) -> &mut TcpStream {
        match self {
            Wire::Plain(s) => s,
            Wire::Tls(s) => s.socket_mut(),
        }
    }

    /// The socket, shared.
    pub fn socket(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) => s,
            Wire::Tls(s) => s.socket(),
        }
    }

    /// Whether TLS is in between.
    pub fn is_tls(&self) -> bool {
        matches!(self, Wire::Tls(_))
    }

    /// Closes our sending side (after TLS's close_notify): the peer reads
    /// what was sent, then EOF.
    pub fn shut_write(&mut self) {
        // The peer may be gone already: nothing to do about it.
        match self {
            Wire::Plain(s) => {
                let _ = s.shutdown(Shutdown::Write);
            }
            Wire::Tls(s) => {
                let _ = s.flush();
                s.close_notify();
                let _ = s.socket().shutdown(Shutdown::Write);
            }
        }
    }

    /// Says `bytes` (a line, a short answer: small enough for any socket
    /// buffer) and closes our sending side.
    pub fn say_and_shut(&mut self, bytes: &[u8]) {
        // A peer that cannot take a few hundred bytes is not listening.
        let _ = self.write_all(bytes);
        self.shut_write();
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(_) => Ok(()),
            Wire::Tls(s) => s.flush(),
        }
    }
}

/// `WouldBlock` and `Interrupted`: try again at the next event.
pub fn is_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
