//! The web client on the chat port: the page at `/` (with `/app.js` and
//! `/app.css`), and the WebSocket at `/ws` that makes a browser one more
//! participant ([`ws`]).
//!
//! Everything here decides from a parsed request, without sockets: the
//! HTTP router sends `/`, `/app.js`, `/app.css` here as pages and `/ws` as
//! an upgrade; the reactor's HTTP phase carries the answers out.
//!
//! - The page and its script and style are embedded in the binary (the
//!   `web/` folder) and served with a strict Content-Security-Policy: no
//!   inline script or style, nothing from another origin.
//! - A WebSocket whose `Origin` is not the page's own (`http(s)://` and
//!   the request's `Host`) is refused with 403, unless `--web-origin`
//!   names it: another site must not seat its visitors in the room. A
//!   request without `Origin` is not from a browser page and is let in.

pub mod ws;

use crate::net::http::request::Request;
use crate::net::http::response::{Response, Status};
use crate::net::http::router::request_host;
use ws::WsLimits;

/// The page, its script and its style, as built into the binary.
const INDEX_HTML: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");
const APP_CSS: &str = include_str!("../../../web/app.css");

/// The server's side of the web.
#[derive(Debug, Clone)]
pub struct WebSetup {
    /// `--web-origin`: other origins whose pages may open `/ws`
    /// (`scheme://host[:port]`, or `*` for any).
    pub origins: Vec<String>,
    /// The WebSocket's limits.
    pub limits: WsLimits,
}

/// One of the files of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// `/`: the page.
    Index,
    /// `/app.js`.
    Script,
    /// `/app.css`.
    Style,
}

/// Which file of the page `path` names, if any.
pub fn asset(path: &str) -> Option<Asset> {
    match path {
        "/" | "/index.html" => Some(Asset::Index),
        "/app.js" => Some(Asset::Script),
        "/app.css" => Some(Asset::Style),
        _ => None,
    }
}

/// The answer for a file of the page.
///
/// ```
/// use suda::net::http::request::{parse, Parsed};
/// use suda::net::web::{page, Asset};
/// let Ok(Parsed::Complete(req, _)) = parse(b"GET / HTTP/1.1\r\nHost: h:9\r\n\r\n", 8) else { panic!() };
/// let text = String::from_utf8(page(Asset::Index, &req).encode(false)).unwrap();
/// assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(text.contains("Content-Security-Policy: default-src 'none'; script-src 'self';"));
/// ```
pub fn page(asset: Asset, req: &Request) -> Response {
    let (kind, body) = match asset {
        Asset::Index => ("text/html; charset=utf-8", INDEX_HTML),
        Asset::Script => ("text/javascript; charset=utf-8", APP_JS),
        Asset::Style => ("text/css; charset=utf-8", APP_CSS),
    };
    let mut response = Response::text(Status::Ok, body);
    response.headers.clear();
    let response = response
        .with("Content-Type", kind)
        .with("Cache-Control", "no-cache")
        .with("Referrer-Policy", "no-referrer");
    match asset {
        Asset::Index => response
            .with("Content-Security-Policy", policy(request_host(req)))
            .with("X-Frame-Options", "DENY"),
        _ => response,
    }
}

/// Checks a request for `/ws` (RFC 6455, section 4.2): the
/// `Sec-WebSocket-Accept` value if it may be upgraded, else the answer
/// that refuses it; `tls` says the request came inside TLS.
///
/// # Errors
///
/// Not a WebSocket request (400), another version (426 with the one we
/// speak), or a page from another origin (403).
pub fn check_upgrade(req: &Request, tls: bool, setup: &WebSetup) -> Result<String, Response> {
    let has_token = |name: &str, token: &str| {
        req.header_str(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err(Response::error(
            Status::BadRequest,
            "This is the chat's WebSocket: open the page at / instead.\n",
        ));
    }
    if req.header_str("sec-websocket-version") != Some("13") {
        return Err(Response::error(
            Status::UpgradeRequired,
            "Only WebSocket version 13 is spoken here.\n",
        )
        .with("Sec-WebSocket-Version", "13"));
    }
    let Some(key) = req.header_str("sec-websocket-key").filter(|k| is_key(k)) else {
        return Err(Response::error(
            Status::BadRequest,
            "Sec-WebSocket-Key is missing or is not 16 bytes in base64.\n",
        ));
    };
    if let Some(origin) = req.header_str("origin") {
        if !origin_allowed(origin, request_host(req), tls, &setup.origins) {
            return Err(Response::error(
                Status::Forbidden,
                "A page from another site may not join this chat (see --web-origin).\n",
            ));
        }
    }
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// A `Sec-WebSocket-Key` as RFC 6455 §4.2.1 has it: 16 bytes in base64,
/// which is 22 characters of the alphabet and `==`.
fn is_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key.as_bytes()[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// The `101 Switching Protocols` answer for an accepted upgrade.
pub fn switching(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// Whether a page at `origin` may open the WebSocket: it is the page's
/// own origin (the scheme this connection speaks and its `Host`), or
/// `--web-origin` lists it (or `*`).
///
/// ```
/// use suda::net::web::origin_allowed;
/// assert!(origin_allowed("http://chat.example:9999", Some("chat.example:9999"), false, &[]));
/// assert!(!origin_allowed("http://chat.example:9999", Some("chat.example:9999"), true, &[]));
/// assert!(!origin_allowed("https://evil.example", Some("chat.example:9999"), true, &[]));
/// assert!(origin_allowed("https://class.example", Some("h"), true, &["https://class.example".into()]));
/// ```
pub fn origin_allowed(origin: &str, host: Option<&str>, tls: bool, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some(host) = host else {
        return false;
    };
    let scheme = if tls { "https://" } else { "http://" };
    origin.len() == scheme.len() + host.len()
        && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
        && origin[scheme.len()..].eq_ignore_ascii_case(host)
}

/// The page's Content-Security-Policy: its own script and style only, no
/// inline code, no frames, connections back to this server only (the
/// WebSocket named explicitly, as older browsers do not count ws: as 'self').
fn policy(host: Option<&str>) -> String {
    let sockets = host.map_or(String::new(), |h| format!(" ws://{h} wss://{h}"));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::http::request::{parse, Parsed};

    fn setup() -> WebSetup {
        WebSetup {
            origins: vec![],
            limits: WsLimits {
                max_line: 4096,
                max_outbuf: 1 << 20,
            },
        }
    }

    fn req(text: &str) -> Request {
        match parse(text.as_bytes(), 32) {
            Ok(Parsed::Complete(r, _)) => r,
            other => panic!("{other:?}"),
        }
    }

    const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: localhost:9\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    #[test]
    fn the_handshake_answer_follows_the_rfc() {
        let r = req(&format!("{UPGRADE}Origin: http://localhost:9\r\n\r\n"));
        // The sample key and accept value of RFC 6455, section 1.3.
        assert_eq!(
            check_upgrade(&r, false, &setup()).ok().as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        for bad in ["!!!notbase64", "dGhlIHNhbXBsZSBub25jZQ", &"A".repeat(64)] {
            let r = req(&format!(
                "GET /ws HTTP/1.1\r\nHost: localhost:9\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {bad}\r\n\r\n"
            ));
            let refused = check_upgrade(&r, false, &setup()).err().map(|r| r.status);
            assert_eq!(refused, Some(Status::BadRequest), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let check = |origin: &str, tls| {
            check_upgrade(
                &req(&format!("{UPGRADE}Origin: {origin}\r\n\r\n")),
                tls,
                &setup(),
            )
            .map_err(|r| r.status.code())
        };
        assert!(check("http://localhost:9", false).is_ok());
        assert!(check("https://localhost:9", true).is_ok());
        for (origin, tls) in [
            ("https://localhost:9", false),
            ("http://localhost:9", true),
            ("http://localhost", false),
            ("null", false),
        ] {
            assert_eq!(check(origin, tls), Err(403), "{origin}");
        }
    }

    #[test]
    fn the_page_is_locked_down() {
        let text = String::from_utf8(
            page(Asset::Index, &req("GET / HTTP/1.1\r\nHost: h:1\r\n\r\n")).encode(false),
        )
        .expect("text");
        assert!(text.contains("connect-src 'self' ws://h:1 wss://h:1;"));
        assert!(!INDEX_HTML.contains("<script>"), "no inline script");
        assert!(!INDEX_HTML.contains("style="), "no inline style");
        assert!(!INDEX_HTML.contains("http"), "nothing from elsewhere");
        assert_eq!(asset("/f/1/x"), None);
    }

    #[test]
    fn not_a_websocket() {
        let status =
            |text: &str| check_upgrade(&req(text), false, &setup()).map_err(|r| r.status.code());
        assert_eq!(status("GET /ws HTTP/1.1\r\nHost: h\r\n\r\n"), Err(400));
        let old = UPGRADE.replace("Version: 13", "Version: 8") + "\r\n";
        assert_eq!(status(&old), Err(426));
    }
}
