//! An HTTP/1.1 request head, parsed by `httparse` (sans-IO: bytes in, a
//! head or "not yet" out) and checked for what a hostile client may try:
//! too many or too large headers, a body length that lies two ways,
//! encodings we do not speak.

use super::response::Status;

/// The methods the server answers; the rest get 405 or 501.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: a `GET` without the body.
    Head,
    /// `PUT`.
    Put,
    /// `POST`.
    Post,
    /// Anything else (`OPTIONS`, `DELETE`, ...).
    Other,
}

/// How the request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The request target as sent (a path for everything we serve).
    pub target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor: u8,
    /// Header names in lower case, values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body's framing.
    pub body: Body,
    /// The client wants the connection kept open after the answer.
    pub keep_alive: bool,
    /// `Expect: 100-continue`: the client waits to hear it may send the body.
    pub expects_continue: bool,
}

impl Request {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of header `name` as text, if it is ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .filter(|v| v.is_ascii())
            .map(str::trim)
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// What the bytes so far hold.
#[derive(Debug)]
pub enum Parsed {
    /// A whole head: the request and the bytes it took.
    Complete(Request, usize),
    /// Not yet a whole head.
    Partial,
}

/// Parses the head at the start of `buf`, with at most `max_headers`
/// headers.
///
/// # Errors
///
/// The status to answer with before closing: 400 for what is not HTTP
/// (or lies about its length), 431 for too many headers, 505 for a
/// version other than 1.x, 501 for a transfer coding other than chunked.
///
/// ```
/// use suda::net::http::request::{parse, Body, Parsed};
/// let Parsed::Complete(req, used) = parse(b"PUT /u/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 16).unwrap()
/// else { panic!() };
/// assert_eq!((req.target.as_str(), req.body, used), ("/u/x", Body::Length(5), 40));
/// ```
pub fn parse(buf: &[u8], max_headers: usize) -> Result<Parsed, Status> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut req = httparse::Request::new(&mut slots);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(Status::HeadersTooLarge),
        Err(httparse::Error::Version) => return Err(Status::VersionNotSupported),
        Err(_) => return Err(Status::BadRequest),
    };
    let method = match req.method.unwrap_or_default() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    let target = req.path.unwrap_or_default().to_string();
    let minor = req.version.unwrap_or(1);
    let headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
    };
    let mut lengths = values("content-length").flat_map(|v| {
        v.split(',')
            .map(|part| part.trim().to_string())
            .collect::<Vec<_>>()
    });
    let length = match lengths.next() {
        None => None,
        Some(first) => {
            // Digits only: `+5`, `0x10` and `5 5` are lies or smuggling.
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Status::BadRequest);
            }
            let n: u64 = first.parse().map_err(|_| Status::BadRequest)?;
            if lengths.any(|other| other != first) {
                return Err(Status::BadRequest);
            }
            Some(n)
        }
    };
    let codings: Vec<String> = values("transfer-encoding")
        .flat_map(|v| {
            v.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    let body = match (codings.as_slice(), length) {
        ([], None) => Body::None,
        ([], Some(0)) => Body::None,
        ([], Some(n)) => Body::Length(n),
        // Both framings at once is how requests are smuggled past proxies.
        (_, Some(_)) => return Err(Status::BadRequest),
        ([only], None) if only == "chunked" => Body::Chunked,
        _ => return Err(Status::NotImplemented),
    };
    if body == Body::Chunked && minor == 0 {
        return Err(Status::BadRequest);
    }
    let connection: Vec<String> = values("connection")
        .flat_map(|v| {
            v.split(',')
                .map(|t| t.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let keep_alive = if minor == 0 {
        connection.iter().any(|t| t == "keep-alive")
    } else {
        !connection.iter().any(|t| t == "close")
    };
    let expects_continue = minor >= 1 && values("expect").any(|v| v.trim() == "100-continue");
    Ok(Parsed::Complete(
        Request {
            method,
            target,
            minor,
            headers,
            body,
            keep_alive,
            expects_continue,
        },
        used,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(bytes: &[u8]) -> Request {
        match parse(bytes, 8) {
            Ok(Parsed::Complete(r, _)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn heads_arrive_in_pieces() {
        let head = b"GET /f/1/a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        for cut in 0..head.len() {
            assert!(
                matches!(parse(&head[..cut], 8), Ok(Parsed::Partial)),
                "{cut}"
            );
        }
        let r = ok(head);
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path(), "/f/1/a.txt");
        assert!(r.keep_alive);
        assert_eq!(r.header_str("host"), Some("x"));
    }

    #[test]
    fn keep_alive_by_version() {
        assert!(!ok(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ok(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!ok(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
    }

    #[test]
    fn bodies() {
        assert_eq!(ok(b"PUT / HTTP/1.1\r\n\r\n").body, Body::None);
        assert_eq!(
            ok(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").body,
            Body::Chunked
        );
        assert_eq!(
            ok(b"PUT / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n").body,
            Body::Length(7)
        );
        let r = ok(b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
        assert!(r.expects_continue);
    }

    #[test]
    fn lies_and_excess_are_refused() {
        let status = |b: &[u8]| parse(b, 4).err();
        assert_eq!(
            status(b"PUT / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n"),
            Some(Status::BadRequest)
        );
        assert_eq!(
            status(b"PUT / HTTP/1.1\r\nContent-Length: +7\r\n\r\n"),
            Some(Status::BadRequest)
        );
        assert_eq!(
            status(b"PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            Some(Status::BadRequest)
        );
        assert_eq!(
            status(b"PUT / HTTP/1.1\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(Status::BadRequest)
        );
        assert_eq!(
            status(b"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Some(Status::NotImplemented)
        );
        assert_eq!(
            status(b"GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n"),
            Some(Status::HeadersTooLarge)
        );
        assert_eq!(
            status(b"GET / HTTP/2.0\r\n\r\n"),
            Some(Status::VersionNotSupported)
        );
        assert_eq!(
            status(b"GET /\0 HTTP/1.1\r\n\r\n"),
            Some(Status::BadRequest)
        );
    }
}
