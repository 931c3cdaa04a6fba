//! The tests' own HTTP/1.1 client: blocking, over a plain socket or TLS,
//! reading responses by their `Content-Length`, so a test sees exactly
//! what the server sent (status, headers, body) and whether it kept the
//! connection open.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::READ_TIMEOUT;

/// A plain or TLS byte stream.
pub trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// One HTTP connection.
pub struct Http {
    stream: Box<dyn Duplex>,
    buf: Vec<u8>,
}

/// One response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// `200`, `404`, ...
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `HEAD`).
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Http {
    /// A plaintext connection.
    pub fn connect(addr: SocketAddr) -> Http {
        let socket = TcpStream::connect_timeout(&addr, READ_TIMEOUT).expect("connect");
        socket
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        socket
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        Http::over(Box::new(socket))
    }

    /// An HTTPS connection (any certificate).
    pub fn connect_tls(addr: SocketAddr) -> Http {
        Http::over(Box::new(super::tls::tls_stream(addr)))
    }

    /// Over any stream.
    pub fn over(stream: Box<dyn Duplex>) -> Http {
        Http {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
        self.stream.flush().expect("flush");
    }

    /// Sends bytes; `false` if the server had closed.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok() && self.stream.flush().is_ok()
    }

    /// Sends a request without a body.
    pub fn request(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.send(head.as_bytes());
        self.reply(method == "HEAD")
    }

    /// `GET target`.
    pub fn get(&mut self, target: &str) -> Reply {
        self.request("GET", target, &[])
    }

    fn more(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return false
                }
                Err(e) => panic!(
                    "no response within {READ_TIMEOUT:?} ({e}); partial: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads one response (`head_only`: to a `HEAD`, no body follows).
    pub fn reply(&mut self, head_only: bool) -> Reply {
        self.try_reply(head_only).unwrap_or_else(|| {
            panic!(
                "the connection ended before a response: {:?}",
                String::from_utf8_lossy(&self.buf)
            )
        })
    }

    /// Reads one response, `None` if the connection ends first.
    pub fn try_reply(&mut self, head_only: bool) -> Option<Reply> {
        let end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            if !self.more() {
                return None;
            }
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("an ASCII head");
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("a status line");
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
        let status = status_line[9..12].parse().expect("a status");
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("a header");
                (n.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().expect("a length"))
            .unwrap_or(0);
        let length = if head_only || status == 100 {
            0
        } else {
            length
        };
        while self.buf.len() < length {
            assert!(self.more(), "the body ended early");
        }
        let body = self.buf.drain(..length).collect();
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    /// Whether the server closed the connection (reads until it does).
    pub fn closed(&mut self) -> bool {
        while self.more() {}
        true
    }
}
