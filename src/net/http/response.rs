//! HTTP responses: the statuses the server uses and a head writer. Every
//! answer says its length (or that the connection closes), and carries
//! `X-Content-Type-Options: nosniff`, so nothing the server sends is ever
//! guessed into HTML by a browser.

use std::fmt::Write as _;

/// The statuses the server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 100: go on with the body.
    Continue,
    /// 200.
    Ok,
    /// 201: an upload was kept.
    Created,
    /// 206: the asked-for range.
    PartialContent,
    /// 308: the same place over `https://` (`--tls-only`).
    PermanentRedirect,
    /// 400: not HTTP, or a body that lies about its length.
    BadRequest,
    /// 403: HTTP is off (`--web off`), or not allowed.
    Forbidden,
    /// 426: the WebSocket version we speak is in `Sec-WebSocket-Version`.
    UpgradeRequired,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 410: an upload whose uploader (or recipient) left.
    Gone,
    /// 408: the request did not arrive within `--http-timeout`.
    RequestTimeout,
    /// 411: an upload must say its length or be chunked.
    LengthRequired,
    /// 413: over `--max-file-size`.
    PayloadTooLarge,
    /// 416: a range outside the file.
    RangeNotSatisfiable,
    /// 431: over `--http-max-head` or `--http-max-headers`.
    HeadersTooLarge,
    /// 500: the disk failed.
    InternalError,
    /// 501: a transfer coding or method we do not speak.
    NotImplemented,
    /// 503: too many at once (`--max-http`, `--max-uploads`), or the quota is full.
    Unavailable,
    /// 505: not HTTP/1.x.
    VersionNotSupported,
    /// 507: `--files-quota` is full.
    InsufficientStorage,
}

impl Status {
    /// The code and its reason phrase.
    pub fn line(self) -> (u16, &'static str) {
        match self {
            Status::Continue => (100, "Continue"),
            Status::Ok => (200, "OK"),
            Status::Created => (201, "Created"),
            Status::PartialContent => (206, "Partial Content"),
            Status::PermanentRedirect => (308, "Permanent Redirect"),
            Status::BadRequest => (400, "Bad Request"),
            Status::Forbidden => (403, "Forbidden"),
            Status::NotFound => (404, "Not Found"),
            Status::UpgradeRequired => (426, "Upgrade Required"),
            Status::MethodNotAllowed => (405, "Method Not Allowed"),
            Status::RequestTimeout => (408, "Request Timeout"),
            Status::Gone => (410, "Gone"),
            Status::LengthRequired => (411, "Length Required"),
            Status::PayloadTooLarge => (413, "Payload Too Large"),
            Status::RangeNotSatisfiable => (416, "Range Not Satisfiable"),
            Status::HeadersTooLarge => (431, "Request Header Fields Too Large"),
            Status::InternalError => (500, "Internal Server Error"),
            Status::NotImplemented => (501, "Not Implemented"),
            Status::Unavailable => (503, "Service Unavailable"),
            Status::VersionNotSupported => (505, "HTTP Version Not Supported"),
            Status::InsufficientStorage => (507, "Insufficient Storage"),
        }
    }

    /// The code.
    pub fn code(self) -> u16 {
        self.line().0
    }
}

/// A response: status, headers and a body held in memory (small: pages,
/// errors), or the length of one that is streamed after the head (files).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: Status,
    /// Headers besides `Content-Length`, `Connection` and `nosniff`.
    pub headers: Vec<(&'static str, String)>,
    /// The body, when it is held whole.
    pub body: Vec<u8>,
    /// The length announced when the body is streamed instead of `body`.
    pub streamed: Option<u64>,
    /// The connection closes after this answer.
    pub close: bool,
}

impl Response {
    /// A plain-text answer.
    pub fn text(status: Status, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
            streamed: None,
            close: false,
        }
    }

    /// An error answer: plain text, and the connection closes after it
    /// (what the client sent next may be a body we did not read).
    pub fn error(status: Status, body: &str) -> Response {
        let mut response = Response::text(status, body);
        response.close = true;
        response
    }

    /// Closes the connection after this answer if `close` (it may already).
    #[must_use]
    pub fn closing(mut self, close: bool) -> Response {
        self.close |= close;
        self
    }

    /// Adds a header.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The head and (unless `head_only`, for `HEAD`) the in-memory body,
    /// ready to send.
    ///
    /// ```
    /// use suda::net::http::response::{Response, Status};
    /// let bytes = Response::text(Status::NotFound, "no\n").encode(false);
    /// let text = String::from_utf8(bytes).unwrap();
    /// assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
    /// assert!(text.contains("\r\nContent-Length: 3\r\n"));
    /// assert!(text.ends_with("\r\n\r\nno\n"));
    /// ```
    pub fn encode(&self, head_only: bool) -> Vec<u8> {
        let (code, reason) = self.status.line();
        let mut head = format!("HTTP/1.1 {code} {reason}\r\n");
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let length = self.streamed.unwrap_or(self.body.len() as u64);
        let _ = write!(head, "Content-Length: {length}\r\n");
        head.push_str("X-Content-Type-Options: nosniff\r\n");
        if self.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if !head_only && self.streamed.is_none() {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

/// `100 Continue`, sent before reading a body the client holds back.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
