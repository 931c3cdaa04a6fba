//! A small blocking HTTP/1.1 client for `/send` and `/get`: one request
//! per connection (`Connection: close`), run on a transfer thread of its
//! own, never on the chat loop.
//!
//! Why not ureq (which `/search` uses): over https the transfer must trust
//! the server exactly as the chat connection does, by the fingerprint the
//! chat connection saw or by the same `--ca` / `--pin` / `known_servers`
//! rules ([`tls`](super::tls)); a self-signed suda server is the common
//! case, and ureq takes roots, not our verifier. The client needs only a
//! PUT with a length and a GET with `Range`, which fit in this file.
//!
//! Every byte of the answer is hostile: the head is bounded
//! ([`MAX_HEAD`]), a chunk size is checked, and the caller bounds the
//! body.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rustls::{ClientConnection, StreamOwned};

use super::tls::Trust;
use super::transport::{self, describe, split_host_port, Target};

/// The most bytes a response's status line and headers may take.
pub const MAX_HEAD: usize = 16 * 1024;

/// How much of an error response's body is kept, for the message.
const MAX_ERROR_BODY: usize = 2048;

/// A URL the server handed out: `http://` or `https://`, host, port, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `https://`.
    pub https: bool,
    /// The host as written (without the brackets of an IPv6 address).
    pub host: String,
    /// The port (80 or 443 when left out).
    pub port: u16,
    /// The path, percent-encoded, starting with `/`.
    pub path: String,
}

impl Url {
    /// Reads `http[s]://HOST[:PORT]/PATH`. Bytes the path may not carry
    /// raw (spaces, Hangul) are percent-encoded.
    ///
    /// ```
    /// use suda::client::http::Url;
    /// let url = Url::parse("http://127.0.0.1:9999/f/ab/r%C3%A9sum%C3%A9.pdf").unwrap();
    /// assert_eq!((url.host.as_str(), url.port, url.https), ("127.0.0.1", 9999, false));
    /// assert_eq!(url.path, "/f/ab/r%C3%A9sum%C3%A9.pdf");
    /// assert_eq!(Url::parse("https://[::1]/u/t").unwrap().port, 443);
    /// assert_eq!(Url::parse("http://h/f/1/보고서 1.txt").unwrap().path,
    ///            "/f/1/%EB%B3%B4%EA%B3%A0%EC%84%9C%201.txt");
    /// assert!(Url::parse("ftp://h/x").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// Not such a URL, in words for the user.
    pub fn parse(text: &str) -> Result<Url, String> {
        let bad = || format!("{text:?} is not an http:// or https:// link");
        let (https, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let default = if https { 443 } else { 80 };
        let (host, port) = if authority.starts_with('[') || authority.matches(':').count() == 1 {
            split_host_port(authority).map_err(|_| bad())?
        } else if authority.contains(':') {
            return Err(bad());
        } else {
            (authority, default)
        };
        let port = if authority.ends_with(']') {
            default
        } else {
            port
        };
        if host.is_empty() {
            return Err(bad());
        }
        let mut encoded = String::with_capacity(path.len());
        for &b in if path.is_empty() {
            b"/"
        } else {
            path.as_bytes()
        } {
            if b.is_ascii_graphic() {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        Ok(Url {
            https,
            host: host.to_string(),
            port,
            path: encoded,
        })
    }

    /// `HOST:PORT` for the `Host` header and for connecting.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A blocking connection, plain or TLS.
#[derive(Debug)]
enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            // A server that closes without close_notify has still said
            // all it will; Content-Length tells whether it was whole.
            Stream::Tls(s) => match s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A connection to the server of one URL, for one request.
#[derive(Debug)]
pub struct Connection {
    /// The socket (or TLS over it).
    stream: Stream,
    /// Bytes read past what was consumed (the head's end, a chunk line).
    buf: Vec<u8>,
    /// Where the unconsumed part of `buf` starts.
    pos: usize,
}

/// A response's status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The reason phrase, for messages.
    pub reason: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Length`, if given and a number.
    ///
    /// # Errors
    ///
    /// Present but not a number: the body cannot be delimited.
    pub fn content_length(&self) -> Result<Option<u64>, String> {
        match self.header("content-length") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("the server sent a bad Content-Length ({v:?})")),
        }
    }
}

/// Reads a response head from the start of `bytes`: the head and its
/// length, `None` if it is not complete yet.
///
/// ```
/// use suda::client::http::parse_head;
/// let (head, len) = parse_head(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\nabc")
///     .unwrap().unwrap();
/// assert_eq!((head.status, len), (206, 51));
/// assert_eq!(head.header("content-length"), Some("3"));
/// assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
/// assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
/// ```
///
/// # Errors
///
/// Not an HTTP/1.x response.
pub fn parse_head(bytes: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let bad = || "the server did not answer in HTTP".to_string();
    let rest = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .ok_or_else(bad)?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status: u16 = code.parse().map_err(|_| bad())?;
    if !(100..=999).contains(&status) {
        return Err(bad());
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Some((
        Head {
            status,
            reason: crate::text::sanitize(reason).into_owned(),
            headers,
        },
        end + 4,
    )))
}

impl Connection {
    /// Connects to the server of `url`; over https, trusting it as `trust`
    /// says. `timeout` bounds the connect and every read and write after.
    ///
    /// # Errors
    ///
    /// A one-line reason.
    pub fn open(url: &Url, trust: &Trust, timeout: Duration) -> Result<Connection, String> {
        let target = Target::resolve(&url.authority())?;
        let socket = transport::connect(&target, timeout)?;
        socket
            .set_read_timeout(Some(timeout))
            .and_then(|()| socket.set_write_timeout(Some(timeout)))
            .map_err(|e| describe(&e))?;
        let stream = if url.https {
            let prepared = super::tls::prepare(&url.host, url.port, trust)?;
            let (conn, socket) = super::tls::handshake_blocking(prepared, socket, timeout)?;
            Stream::Tls(Box::new(StreamOwned::new(conn, socket)))
        } else {
            Stream::Plain(socket)
        };
        Ok(Connection {
            stream,
            buf: Vec::new(),
            pos: 0,
        })
    }

    /// Sends a request head (`extra`: more header lines, each ending in CR LF).
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub fn send_head(&mut self, method: &str, url: &Url, extra: &str) -> io::Result<()> {
        let head = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: suda/{}\r\nConnection: close\r\n{extra}\r\n",
            url.path,
            url.authority(),
            env!("CARGO_PKG_VERSION"),
        );
        self.stream.write_all(head.as_bytes())
    }

    /// Writes body bytes.
    ///
    /// # Errors
    ///
    /// The connection failed (the server may have answered already: read
    /// the head to see why).
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends what is buffered (TLS records).
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }

    /// Reads the response's head.
    ///
    /// # Errors
    ///
    /// A one-line reason: the connection failed or closed first, the head
    /// is over [`MAX_HEAD`] or not HTTP.
    pub fn read_head(&mut self) -> Result<Head, String> {
        loop {
            // 1xx (100 Continue) heads are skipped: the final one follows.
            if let Some((head, len)) = parse_head(&self.buf[self.pos..])? {
                self.pos += len;
                if head.status >= 200 {
                    return Ok(head);
                }
                continue;
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(format!(
                    "the server's answer had more than {} KiB of headers",
                    MAX_HEAD / 1024
                ));
            }
            if self.fill()? == 0 {
                return Err("the server closed the connection without an answer".into());
            }
        }
    }

    /// Reads more from the socket into `buf`; 0 at the end.
    fn fill(&mut self) -> Result<usize, String> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err("the server stopped answering".into());
                }
                Err(e) => return Err(describe(&e)),
            }
        }
    }

    /// Reads one CR LF line (of a chunked body), bounded.
    fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(at) = self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.pos..self.pos + at]).into_owned();
                self.pos += at + 2;
                return Ok(line);
            }
            if self.buf.len() - self.pos > 1024 {
                return Err("the server sent a bad chunk header".into());
            }
            if self.fill()? == 0 {
                return Err("the connection closed in the middle of the file".into());
            }
        }
    }

    /// The body after `head`, as a reader.
    ///
    /// # Errors
    ///
    /// The body's length cannot be told.
    pub fn body(self, head: &Head) -> Result<Body, String> {
        let chunked = head
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let framing = if chunked {
            Framing::Chunked {
                left: 0,
                done: false,
            }
        } else {
            match head.content_length()? {
                Some(n) => Framing::Length(n),
                None => Framing::Close,
            }
        };
        Ok(Body {
            conn: self,
            framing,
        })
    }

    /// The start of an error answer's body, as text for a message.
    pub fn error_text(self, head: &Head) -> String {
        let Ok(body) = self.body(head) else {
            return String::new();
        };
        let mut text = Vec::new();
        let _ = body.take(MAX_ERROR_BODY as u64).read_to_end(&mut text);
        let text = String::from_utf8_lossy(&text);
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        crate::text::sanitize(first).into_owned()
    }
}

/// How a body ends.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// After this many more bytes.
    Length(u64),
    /// In chunks: `left` bytes of the current one; `done` after the last.
    Chunked {
        /// Bytes of the current chunk still to read.
        left: u64,
        /// The zero-length chunk was read.
        done: bool,
    },
    /// When the server closes.
    Close,
}

/// A response body. A body that ends early (the connection closes before
/// Content-Length or the last chunk) is an error, not a short file.
#[derive(Debug)]
pub struct Body {
    /// The connection it comes over.
    conn: Connection,
    /// How it ends.
    framing: Framing,
}

impl Body {
    /// Reads up to `out.len()` bytes straight from the buffer or socket.
    fn raw(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let conn = &mut self.conn;
        if conn.pos < conn.buf.len() {
            let n = out.len().min(conn.buf.len() - conn.pos);
            out[..n].copy_from_slice(&conn.buf[conn.pos..conn.pos + n]);
            conn.pos += n;
            return Ok(n);
        }
        conn.stream.read(out)
    }
}

/// The body ended before its length: the connection was lost.
fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the connection closed in the middle of the file",
    )
}

impl Read for Body {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => {
                let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.raw(&mut out[..want])?;
                if n == 0 {
                    return Err(cut());
                }
                self.framing = Framing::Length(left - n as u64);
                Ok(n)
            }
            Framing::Close => self.raw(out),
            Framing::Chunked { done: true, .. } => Ok(0),
            Framing::Chunked { left: 0, .. } => {
                let line = self.conn.line().map_err(io::Error::other)?;
                let size = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size, 16)
                    .map_err(|_| io::Error::other("the server sent a bad chunk header"))?;
                if size == 0 {
                    self.framing = Framing::Chunked {
                        left: 0,
                        done: true,
                    };
                    return Ok(0);
                }
                self.framing = Framing::Chunked {
                    left: size,
                    done: false,
                };
                self.read(out)
            }
            Framing::Chunked { left, .. } => {
                let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.raw(&mut out[..want])?;
                if n == 0 {
                    return Err(cut());
                }
                let left = left - n as u64;
                if left == 0 {
                    // The CR LF after the chunk's data.
                    self.conn.line().map_err(io::Error::other)?;
                }
                self.framing = Framing::Chunked { left, done: false };
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_ports_and_without() {
        let url = Url::parse("https://chat.example.org/u/tok").unwrap();
        assert_eq!(
            (url.https, url.port, url.authority()),
            (true, 443, "chat.example.org:443".into())
        );
        let url = Url::parse("http://[::1]:8080/f/x/y").unwrap();
        assert_eq!(
            (url.host.as_str(), url.authority()),
            ("::1", "[::1]:8080".into())
        );
        assert!(Url::parse("http://user@host/x").is_err());
        assert!(Url::parse("http:///x").is_err());
        assert!(Url::parse("http://h:port/x").is_err());
    }

    #[test]
    fn heads_are_bounded_and_checked() {
        assert!(parse_head(b"HTTP/1.1 abc OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
        let (head, _) = parse_head(b"HTTP/1.1 413 Payload Too Large\r\nX: \x1b[31m\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.status, 413);
        assert_eq!(head.reason, "Payload Too Large");
        let (head, _) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.content_length().is_err());
    }
}
