//! Which request goes where: a pure function of the request and the
//! server's rules, so the table is tested without sockets.
//!
//! A [`Route`] is either answered on the connection (a [`Response`] made
//! by the reactor's HTTP phase) or an [`Upgrade`]: the route takes the
//! connection's socket (plain or TLS) and the bytes already read after the
//! head (see [`HttpConn::take_over`](super::conn::HttpConn::take_over)),
//! and the HTTP side forgets it. The web client's `GET /ws` is meant to be
//! one; `GET /` (its page) an ordinary route.

use super::request::{Method, Request};
use super::response::{Response, Status};
use crate::files::ids::is_id;
use crate::net::transport::Layer;

/// What the server's rules say about HTTP on this connection.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// Plain or inside TLS.
    pub layer: Layer,
    /// `--web on`.
    pub web: bool,
    /// `--tls-only`.
    pub tls_only: bool,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `--web off`: HTTP is turned away.
    Off,
    /// `--tls-only` and plaintext: to the same place over `https://`.
    RedirectHttps,
    /// Nothing here.
    NotFound,
    /// The path exists, the method does not (the `Allow` header's value).
    MethodNotAllowed(&'static str),
    /// `PUT` or `POST /u/<token>`: an upload.
    Upload(String),
    /// `GET` or `HEAD /f/<id>/<name>`: a download (the name is only for
    /// people and browsers; the id decides).
    Download(String),
    /// The route takes the connection over.
    Upgrade(Upgrade),
}

/// Routes that take the connection's socket over. None yet: the web
/// client's WebSocket (`GET /ws`) will be the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {}

/// Routes `req`.
///
/// ```
/// use suda::net::http::request::{parse, Parsed};
/// use suda::net::http::router::{route, Ctx, Route};
/// use suda::net::transport::Layer;
/// let Ok(Parsed::Complete(req, _)) = parse(b"GET /nothing HTTP/1.1\r\n\r\n", 8) else { panic!() };
/// let ctx = Ctx { layer: Layer::Plain, web: true, tls_only: false };
/// assert_eq!(route(&req, &ctx), Route::NotFound);
/// ```
pub fn route(req: &Request, ctx: &Ctx) -> Route {
    if !ctx.web {
        return Route::Off;
    }
    if ctx.layer == Layer::Plain && ctx.tls_only {
        return Route::RedirectHttps;
    }
    let path = req.path();
    if let Some(token) = path.strip_prefix("/u/") {
        return match req.method {
            _ if !is_id(token) => Route::NotFound,
            Method::Put | Method::Post => Route::Upload(token.to_string()),
            _ => Route::MethodNotAllowed("PUT, POST"),
        };
    }
    if let Some(rest) = path.strip_prefix("/f/") {
        let id = rest.split('/').next().unwrap_or_default();
        return match req.method {
            _ if !is_id(id) => Route::NotFound,
            Method::Get | Method::Head => Route::Download(id.to_string()),
            _ => Route::MethodNotAllowed("GET, HEAD"),
        };
    }
    Route::NotFound
}

/// What `--web off` answers.
pub const OFF_BODY: &str = "This port speaks suda chat only: HTTP is turned off here. \
Join with `suda connect HOST:PORT`, nc or telnet.\n";

/// Under `--tls-only`, the same request over `https://` (308: the method
/// and body stay as they were). The request's `Host` is used when it is a
/// plain host name or address, otherwise `fallback` (the address the
/// client reached); a target that is not a plain path becomes `/`.
///
/// ```
/// use suda::net::http::request::{parse, Parsed};
/// use suda::net::http::router::redirect_to_https;
/// let Ok(Parsed::Complete(req, _)) =
///     parse(b"GET /f/1/a.txt HTTP/1.1\r\nHost: chat.example:9999\r\n\r\n", 8) else { panic!() };
/// let text = String::from_utf8(redirect_to_https(&req, "10.0.0.1:9999").encode(false)).unwrap();
/// assert!(text.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"));
/// assert!(text.contains("\r\nLocation: https://chat.example:9999/f/1/a.txt\r\n"));
/// ```
pub fn redirect_to_https(req: &Request, fallback: &str) -> Response {
    let target = Some(req.target.as_str())
        .filter(|t| {
            t.starts_with('/') && t.len() <= 2048 && t.bytes().all(|b| b.is_ascii_graphic())
        })
        .unwrap_or("/");
    let host = request_host(req).unwrap_or(fallback);
    let location = format!("https://{host}{target}");
    Response::error(
        Status::PermanentRedirect,
        &format!("This server needs TLS: {location}\n"),
    )
    .with("Location", location)
}

/// The request's `Host`, if it is a plain host name or address (with a
/// port): safe to put in a URL or a header.
pub fn request_host(req: &Request) -> Option<&str> {
    req.header_str("host").filter(|h| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::http::request::{parse, Parsed};

    fn req(bytes: &[u8]) -> Request {
        match parse(bytes, 16) {
            Ok(Parsed::Complete(r, _)) => r,
            other => panic!("{other:?}"),
        }
    }

    const OPEN: Ctx = Ctx {
        layer: Layer::Plain,
        web: true,
        tls_only: false,
    };

    #[test]
    fn rules_come_first() {
        let get = req(b"GET / HTTP/1.1\r\n\r\n");
        let off = Ctx { web: false, ..OPEN };
        assert_eq!(route(&get, &off), Route::Off);
        let only = Ctx {
            tls_only: true,
            ..OPEN
        };
        assert_eq!(route(&get, &only), Route::RedirectHttps);
        let inside = Ctx {
            layer: Layer::Tls,
            ..only
        };
        assert_eq!(route(&get, &inside), Route::NotFound);
    }

    #[test]
    fn files_by_id_only() {
        let id = "0123456789abcdef0123456789abcdef";
        let put = req(format!("PUT /u/{id} HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(route(&put, &OPEN), Route::Upload(id.into()));
        let get = req(format!("GET /f/{id}/a%20b.txt?x HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(route(&get, &OPEN), Route::Download(id.into()));
        let post = req(format!("POST /f/{id}/a HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(route(&post, &OPEN), Route::MethodNotAllowed("GET, HEAD"));
        for bad in [
            "/f/../../etc/passwd",
            "/f/%2e%2e/x",
            "/u/short",
            "/f/",
            "/u/",
        ] {
            let r = req(format!("GET {bad} HTTP/1.1\r\n\r\n").as_bytes());
            assert_eq!(route(&r, &OPEN), Route::NotFound, "{bad}");
        }
    }

    #[test]
    fn a_redirect_never_carries_what_it_should_not() {
        let text = |head: &[u8]| {
            String::from_utf8(redirect_to_https(&req(head), "127.0.0.1:9").encode(false))
                .expect("text")
        };
        assert!(text(b"GET http://evil/ HTTP/1.1\r\n\r\n")
            .contains("Location: https://127.0.0.1:9/\r\n"));
        assert!(text(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n")
            .contains("Location: https://127.0.0.1:9/\r\n"));
        assert!(text(b"GET /a HTTP/1.1\r\nhost: [::1]:9\r\n\r\n")
            .contains("Location: https://[::1]:9/a\r\n"));
    }
}
