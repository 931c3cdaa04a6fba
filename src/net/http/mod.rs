//! HTTP/1.1 on the chat port, served by the reactor itself (see the
//! contract, "One port", and docs/PROTOCOL.md, "HTTP").
//!
//! - [`request`]: the request head, parsed with `httparse` and checked;
//!   [`body`]: a request body, by length or chunked.
//! - [`response`]: statuses and the response head.
//! - [`router`]: which request goes where, without sockets.
//! - [`conn`]: one connection's buffers and phases; the reactor's
//!   `reactor/http.rs` drives it.

pub mod body;
pub mod conn;
pub mod request;
pub mod response;
pub mod router;

use std::time::Duration;

/// What HTTP may cost: the flags behind it.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// `--web`: HTTP is served (off: every request gets 403).
    pub web: bool,
    /// `--http-max-head`: the longest request head.
    pub max_head: usize,
    /// `--http-max-headers`: headers in one request, at most.
    pub max_headers: usize,
    /// `--http-timeout`: a request head must arrive whole within it, an
    /// idle keep-alive connection is closed after it, and an answer the
    /// client does not read for that long is abandoned.
    pub timeout: Duration,
    /// `--max-http`: HTTP connections at once; past it, 503.
    pub max_conns: usize,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            web: true,
            max_head: 8 * 1024,
            max_headers: 64,
            timeout: Duration::from_secs(10),
            max_conns: 256,
        }
    }
}
