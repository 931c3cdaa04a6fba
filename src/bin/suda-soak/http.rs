//! A minimal HTTP/1.1 client for the file kind, on std's `TcpStream`: one
//! request per connection (`Connection: close`), the answer read by its
//! `Content-Length`, every wait bounded. Only plain HTTP: the uploads and
//! downloads are what is tested, TLS has its own clients.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The most an answer's head may take.
const MAX_HEAD: usize = 16 << 10;

/// The most an answer's body may take (the files are at most 512 KiB).
const MAX_BODY: usize = 8 << 20;

/// An answer.
#[derive(Debug)]
pub struct Reply {
    /// Its status code.
    pub status: u16,
    headers: Vec<(String, String)>,
    /// Its body, whole.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `method path` with `headers` and `body` (with its length, if
/// any), and reads the answer within `wait`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
    wait: Duration,
) -> Result<Reply, String> {
    let until = Instant::now() + wait;
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_write_timeout(Some(wait))
        .map_err(|e| format!("socket options: {e}"))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes())
        .and_then(|()| tcp.write_all(body))
        .map_err(|e| format!("sending the request: {e}"))?;

    let mut buf = Vec::new();
    let (status, headers, head_len) = loop {
        let mut parsed = [httparse::EMPTY_HEADER; 32];
        let mut reply = httparse::Response::new(&mut parsed);
        match reply.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let headers = reply
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).trim().to_string(),
                        )
                    })
                    .collect::<Vec<_>>();
                break (reply.code.unwrap_or(0), headers, len);
            }
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => {}
            Ok(httparse::Status::Partial) => return Err("an answer head over 16 KiB".into()),
            Err(e) => return Err(format!("an answer that is not HTTP: {e}")),
        }
        if read_some(&mut tcp, &mut buf, until)? == 0 {
            return Err(format!(
                "closed after {} bytes of the answer head",
                buf.len()
            ));
        }
    };
    let mut reply = Reply {
        status,
        headers,
        body: buf.split_off(head_len),
    };
    let length = match reply.header("content-length") {
        Some(v) => Some(
            v.parse::<usize>()
                .map_err(|_| format!("a Content-Length of {v:?}"))?,
        ),
        None => None,
    };
    if method == "HEAD" {
        return Ok(reply);
    }
    loop {
        if length.is_some_and(|l| reply.body.len() >= l) {
            break;
        }
        if reply.body.len() > MAX_BODY {
            return Err("an answer body over 8 MiB".into());
        }
        if read_some(&mut tcp, &mut reply.body, until)? == 0 {
            match length {
                Some(l) => {
                    return Err(format!(
                        "closed after {} of the {l} bytes of the body",
                        reply.body.len()
                    ))
                }
                None => break,
            }
        }
    }
    if let Some(l) = length {
        if reply.body.len() > l {
            return Err(format!(
                "{} bytes after a Content-Length of {l}",
                reply.body.len()
            ));
        }
    }
    Ok(reply)
}

/// Reads what is there into `buf` before `until`: the count, 0 at the end.
fn read_some(tcp: &mut TcpStream, buf: &mut Vec<u8>, until: Instant) -> Result<usize, String> {
    let mut chunk = [0u8; 64 << 10];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no whole answer in time".into());
        }
        tcp.set_read_timeout(Some(left))
            .map_err(|e| format!("socket options: {e}"))?;
        match tcp.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err("no whole answer in time".into())
            }
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
    }
}
