//! The web client on the chat port: the page at `/` (with `/app.js` and
//! `/app.css`), and the WebSocket at `/ws` that makes a browser one more
//! participant ([`ws`]).
//!
//! Everything here decides from a whole HTTP request head, without
//! sockets: the reactor reads the head and carries out the [`Answer`].
//!
//! - The page and its script and style are embedded in the binary (the
//!   `web/` folder) and served with a strict Content-Security-Policy: no
//!   inline script or style, nothing from another origin.
//! - A WebSocket whose `Origin` is not the page's own (`http(s)://` and
//!   the request's `Host`) is refused with 403, unless `--web-origin`
//!   names it: another site must not seat its visitors in the room. A
//!   request without `Origin` is not from a browser page and is let in.

pub mod ws;

use ws::WsLimits;

/// The page, its script and its style, as built into the binary.
const INDEX_HTML: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");
const APP_CSS: &str = include_str!("../../../web/app.css");

/// Headers every answer from here carries.
const COMMON: &str = "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n";

/// The most headers read from a request (a browser sends about twenty).
const MAX_HEADERS: usize = 48;

/// The server's side of the web.
#[derive(Debug, Clone)]
pub struct WebSetup {
    /// `--web-origin`: other origins whose pages may open `/ws`
    /// (`scheme://host[:port]`, or `*` for any).
    pub origins: Vec<String>,
    /// The WebSocket's limits.
    pub limits: WsLimits,
}

/// What to do with an HTTP request.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Send this whole response and close.
    Respond(Vec<u8>, &'static str),
    /// Send this `101` answer and speak WebSocket; `leftover` are bytes the
    /// client sent after its head (its first frames).
    Upgrade {
        /// The `101 Switching Protocols` answer.
        response: Vec<u8>,
        /// Bytes after the head.
        leftover: Vec<u8>,
    },
    /// Not a path the web client serves.
    NotMine,
}

/// Decides what a request head (`head`, possibly followed by more bytes)
/// gets; `tls` says it came inside TLS (the page's scheme is https).
///
/// ```
/// use suda::net::web::{answer, Answer, WebSetup};
/// use suda::net::web::ws::WsLimits;
/// let setup = WebSetup { origins: vec![], limits: WsLimits { max_line: 4096, max_outbuf: 1 << 20 } };
/// let page = answer(b"GET / HTTP/1.1\r\nHost: h:9\r\n\r\n", false, &setup);
/// assert!(matches!(page, Answer::Respond(ref r, _) if r.starts_with(b"HTTP/1.1 200 OK\r\n")));
/// let evil = answer(b"GET /ws HTTP/1.1\r\nHost: h:9\r\nOrigin: http://evil\r\nUpgrade: websocket\r\n\
/// Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", false, &setup);
/// assert!(matches!(evil, Answer::Respond(ref r, _) if r.starts_with(b"HTTP/1.1 403 Forbidden\r\n")));
/// ```
pub fn answer(head: &[u8], tls: bool, setup: &WebSetup) -> Answer {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let used = match request.parse(head) {
        Ok(httparse::Status::Complete(n)) => n,
        // Incomplete, too many headers or not HTTP: whoever answers HTTP
        // otherwise on this port says so.
        _ => return Answer::NotMine,
    };
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Answer::NotMine;
    };
    let path = target.split('?').next().unwrap_or(target);
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return match path {
            "/" | "/app.js" | "/app.css" | "/ws" => Answer::Respond(
                respond(
                    "405 Method Not Allowed",
                    "text/plain",
                    b"GET only.\n",
                    "Allow: GET, HEAD\r\n",
                    false,
                ),
                "405",
            ),
            _ => Answer::NotMine,
        };
    }
    let host = header("host").filter(|h| valid_host(h));
    match path {
        "/" | "/index.html" => {
            let csp = policy(host);
            Answer::Respond(
                respond(
                    "200 OK",
                    "text/html; charset=utf-8",
                    INDEX_HTML.as_bytes(),
                    &csp,
                    head_only,
                ),
                "the page",
            )
        }
        "/app.js" => Answer::Respond(
            respond(
                "200 OK",
                "text/javascript; charset=utf-8",
                APP_JS.as_bytes(),
                "",
                head_only,
            ),
            "the script",
        ),
        "/app.css" => Answer::Respond(
            respond(
                "200 OK",
                "text/css; charset=utf-8",
                APP_CSS.as_bytes(),
                "",
                head_only,
            ),
            "the style",
        ),
        "/ws" => upgrade(&header, host, tls, setup, &head[used..]),
        _ => Answer::NotMine,
    }
}

/// The WebSocket handshake (RFC 6455, section 4.2) from a parsed request.
fn upgrade<'h>(
    header: &dyn Fn(&str) -> Option<&'h str>,
    host: Option<&str>,
    tls: bool,
    setup: &WebSetup,
    rest: &[u8],
) -> Answer {
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Answer::Respond(
            respond(
                "426 Upgrade Required",
                "text/plain",
                b"This is the chat's WebSocket: open the page at / instead.\n",
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                false,
            ),
            "426 (not a WebSocket request)",
        );
    }
    if header("sec-websocket-version") != Some("13") {
        return Answer::Respond(
            respond(
                "426 Upgrade Required",
                "text/plain",
                b"Only WebSocket version 13 is spoken here.\n",
                "Sec-WebSocket-Version: 13\r\n",
                false,
            ),
            "426 (WebSocket version)",
        );
    }
    let Some(key) = header("sec-websocket-key").filter(|k| !k.is_empty() && k.len() <= 64) else {
        return Answer::Respond(
            respond(
                "400 Bad Request",
                "text/plain",
                b"Sec-WebSocket-Key is missing.\n",
                "",
                false,
            ),
            "400 (no WebSocket key)",
        );
    };
    if let Some(origin) = header("origin") {
        if !origin_allowed(origin, host, tls, &setup.origins) {
            return Answer::Respond(
                respond(
                    "403 Forbidden",
                    "text/plain",
                    b"A page from another site may not join this chat (see --web-origin).\n",
                    "",
                    false,
                ),
                "403 (another origin)",
            );
        }
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    Answer::Upgrade {
        response,
        leftover: rest.to_vec(),
    }
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

/// A `Host` that can go into a header as it is: a name or address with
/// an optional port.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

/// The page's Content-Security-Policy: its own script and style only, no
/// inline code, no frames, connections back to this server only (the
/// WebSocket named explicitly, as older browsers do not count ws: as 'self').
fn policy(host: Option<&str>) -> String {
    let sockets = host.map_or(String::new(), |h| format!(" ws://{h} wss://{h}"));
    format!(
        "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'\r\n"
    )
}

/// A whole HTTP/1.1 response that closes the connection.
fn respond(status: &str, kind: &str, body: &[u8], extra: &str, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
Cache-Control: no-cache\r\n{COMMON}{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> WebSetup {
        WebSetup {
            origins: vec![],
            limits: WsLimits {
                max_line: 4096,
                max_outbuf: 1 << 20,
            },
        }
    }

    const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: localhost:9\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    #[test]
    fn the_handshake_answer_follows_the_rfc() {
        let head = format!("{UPGRADE}Origin: http://localhost:9\r\n\r\nextra");
        let Answer::Upgrade { response, leftover } = answer(head.as_bytes(), false, &setup())
        else {
            panic!("not an upgrade");
        };
        let text = String::from_utf8(response).expect("text");
        // The sample key and accept value of RFC 6455, section 1.3.
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert_eq!(leftover, b"extra");
    }

    #[test]
    fn origins() {
        let head = |origin: &str, tls| {
            answer(
                format!("{UPGRADE}Origin: {origin}\r\n\r\n").as_bytes(),
                tls,
                &setup(),
            )
        };
        assert!(matches!(
            head("http://localhost:9", false),
            Answer::Upgrade { .. }
        ));
        assert!(matches!(
            head("https://localhost:9", true),
            Answer::Upgrade { .. }
        ));
        for (origin, tls) in [
            ("https://localhost:9", false),
            ("http://localhost:9", true),
            ("http://localhost", false),
            ("null", false),
        ] {
            assert!(
                matches!(head(origin, tls), Answer::Respond(ref r, _) if r.starts_with(b"HTTP/1.1 403")),
                "{origin}"
            );
        }
    }

    #[test]
    fn the_page_is_locked_down() {
        let Answer::Respond(r, _) = answer(b"GET / HTTP/1.1\r\nHost: h:1\r\n\r\n", false, &setup())
        else {
            panic!("no page");
        };
        let text = String::from_utf8(r).expect("text");
        assert!(text.contains("Content-Security-Policy: default-src 'none'; script-src 'self';"));
        assert!(text.contains("connect-src 'self' ws://h:1 wss://h:1;"));
        assert!(!INDEX_HTML.contains("<script>"), "no inline script");
        assert!(!INDEX_HTML.contains("style="), "no inline style");
        assert!(!INDEX_HTML.contains("http"), "nothing from elsewhere");
        assert_eq!(
            answer(b"GET /f/1/x HTTP/1.1\r\n\r\n", false, &setup()),
            Answer::NotMine
        );
        assert_eq!(
            answer(b"GET / HTTP/1.1\r\n", false, &setup()),
            Answer::NotMine
        );
    }

    #[test]
    fn not_a_websocket() {
        let plain = answer(b"GET /ws HTTP/1.1\r\nHost: h\r\n\r\n", false, &setup());
        assert!(matches!(plain, Answer::Respond(ref r, _) if r.starts_with(b"HTTP/1.1 426")));
        let old = UPGRADE.replace("Version: 13", "Version: 8") + "\r\n";
        assert!(
            matches!(answer(old.as_bytes(), false, &setup()), Answer::Respond(ref r, _) if r.starts_with(b"HTTP/1.1 426"))
        );
    }
}
