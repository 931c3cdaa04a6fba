//! HTTP for the file kind: one request per connection, through the
//! client's own HTTP/1.1 code (`suda::client::http`, what `/send` and
//! `/get` use), so the soak exercises it too. Only plain HTTP: the uploads
//! and downloads are what is tested, TLS has its own clients.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use suda::client::http::{Connection, Head, Url};
use suda::client::tls::Trust;

/// The most an answer's body may take (the files are at most 512 KiB).
const MAX_BODY: u64 = 8 << 20;

/// An answer.
#[derive(Debug)]
pub struct Reply {
    /// Its status code.
    pub status: u16,
    head: Head,
    /// Its body, whole.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
}

/// Sends `method path` with `headers` and `body` (with its length for a
/// `PUT` or any body), and reads the answer; `wait` bounds the connect and
/// every read and write.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
    wait: Duration,
) -> Result<Reply, String> {
    let url = Url::parse(&format!("http://{addr}{path}"))?;
    let mut conn = Connection::open(&url, &Trust::default(), wait)?;
    let mut extra = String::new();
    if !body.is_empty() || method == "PUT" {
        extra.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        extra.push_str(&format!("{name}: {value}\r\n"));
    }
    conn.send_head(method, &url, &extra)
        .and_then(|()| conn.write_all(body))
        .and_then(|()| conn.flush())
        .map_err(|e| format!("sending the request: {e}"))?;
    let head = conn.read_head()?;
    let mut bytes = Vec::new();
    if method != "HEAD" {
        conn.body(&head)?
            .take(MAX_BODY + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading the body: {e}"))?;
        if bytes.len() as u64 > MAX_BODY {
            return Err("an answer body over 8 MiB".into());
        }
    }
    Ok(Reply {
        status: head.status,
        head,
        body: bytes,
    })
}
