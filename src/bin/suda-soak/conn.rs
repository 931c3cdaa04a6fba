//! One blocking line connection to the server, plain or TLS, with the
//! ways a person can leave: `/quit`, closing, a reset.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// Bytes of an unfinished line kept at most: the server's lines are
/// shorter than its 4 KiB limit plus a nickname.
const MAX_PENDING: usize = 64 << 10;

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// A connection that reads whole lines, each wait bounded.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects (and starts TLS if `tls` is given).
    pub fn connect(addr: SocketAddr, tls: Option<&Arc<ClientConfig>>) -> io::Result<Conn> {
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        tcp.set_nodelay(true)?;
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let session = super::tls::session(config)?;
                Stream::Tls(Box::new(StreamOwned::new(session, tcp)))
            }
        };
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    fn tcp(&self) -> &TcpStream {
        match &self.stream {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Sends one line (the newline is added).
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(&bytes),
            Stream::Tls(s) => {
                s.write_all(&bytes)?;
                s.flush()
            }
        }
    }

    /// The next line, waiting at most `wait`: `Ok(None)` if none came in
    /// time, an error of kind `UnexpectedEof` if the server closed.
    pub fn line(&mut self, wait: Duration) -> io::Result<Option<String>> {
        let until = Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.tcp().set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 16 << 10];
            let read = match &mut self.stream {
                Stream::Plain(s) => s.read(&mut chunk),
                Stream::Tls(s) => s.read(&mut chunk),
            };
            match read {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if self.buf.len() > MAX_PENDING {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
                    }
                }
                // A signal (the script's, a child's) is not the server.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Leaves by closing the socket's sending side (EOF), then drops it.
    pub fn close(self) {
        let _ = self.tcp().shutdown(Shutdown::Write);
    }

    /// Leaves with a TCP reset: SO_LINGER 0, then drop.
    pub fn reset(self) {
        let _ = socket2::SockRef::from(self.tcp()).set_linger(Some(Duration::ZERO));
    }

    /// Waits for the server to close the connection (reading and dropping
    /// what comes): `true` if it did within `wait`.
    pub fn closed_by_server(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            match self.line(Duration::from_millis(500)) {
                Ok(_) => {}
                Err(_) => return true,
            }
        }
        false
    }
}
