//! How a new connection is carried: the decisions between accept and the
//! room, without sockets. The reactor (`reactor/arrival.rs`) does the I/O.
//!
//! ```text
//! accepted ──sniff──┬─ TLS ClientHello ── handshake ──sniff──┬─ chat ─▶ room
//!                   │                                        └─ HTTP ─▶ 501
//!                   ├─ HTTP ─▶ 501 (--tls-only: redirect to https://)
//!                   └─ text, telnet or silence ─▶ room (--tls-only: refused)
//! ```
//!
//! The room never learns which way a participant came in.

use crate::net::sniff::{sniff, sniff_plaintext, Sniffed};

/// The layer a connection's bytes are sniffed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The bare TCP stream.
    Plain,
    /// Plaintext inside an established TLS session.
    Tls,
}

/// The server's side of the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// A certificate is configured.
    pub tls: bool,
    /// `--tls-only`: plaintext chat and HTTP are turned away.
    pub tls_only: bool,
}

/// What to do with a connection next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Not enough bytes yet and `--sniff-wait` not over: wait.
    Wait,
    /// Start the TLS handshake.
    Handshake,
    /// A chat client: seat it in the room, its bytes are its first input.
    Chat,
    /// Read the HTTP request head, then answer it.
    Http,
    /// Plaintext chat under `--tls-only`: say how to connect, then close.
    NeedsTls,
    /// A ClientHello to a server without a certificate: nothing useful
    /// can be said in TLS, so hang up.
    Drop,
}

/// Decides from the first bytes at `layer`; `waited` says `--sniff-wait`
/// is over (or the peer closed), so undecided bytes or silence mean chat.
///
/// ```
/// use suda::net::transport::{decide, Layer, Next, Rules};
/// let rules = Rules { tls: true, tls_only: false };
/// assert_eq!(decide(Layer::Plain, b"\x16\x03\x01", false, rules), Next::Handshake);
/// assert_eq!(decide(Layer::Plain, b"", false, rules), Next::Wait);
/// assert_eq!(decide(Layer::Plain, b"", true, rules), Next::Chat);
/// assert_eq!(decide(Layer::Tls, b"GET / HTTP/1.1", false, rules), Next::Http);
/// ```
pub fn decide(layer: Layer, first: &[u8], waited: bool, rules: Rules) -> Next {
    let sniffed = match layer {
        Layer::Plain => sniff(first),
        Layer::Tls => sniff_plaintext(first),
    };
    let chat = || {
        if layer == Layer::Plain && rules.tls_only {
            Next::NeedsTls
        } else {
            Next::Chat
        }
    };
    match sniffed {
        Sniffed::Tls if rules.tls => Next::Handshake,
        Sniffed::Tls => Next::Drop,
        Sniffed::Http => Next::Http,
        Sniffed::Chat => chat(),
        Sniffed::Undecided if waited => chat(),
        Sniffed::Undecided => Next::Wait,
    }
}

/// The longest HTTP request head read before answering; a longer one is
/// answered as it stands.
pub const HTTP_HEAD_MAX: usize = 8 * 1024;

/// Whether `head` holds a whole request head (up to the empty line).
pub fn head_complete(head: &[u8]) -> bool {
    memchr::memmem::find(head, b"\r\n\r\n").is_some()
        || memchr::memmem::find(head, b"\n\n").is_some()
}

/// The line that turns plaintext chat away under `--tls-only`, naming the
/// address the client reached.
pub fn tls_needed_line(host_port: &str) -> String {
    format!("[Server]: This server needs TLS. Connect with: suda connect --tls {host_port}\n")
}

/// What an HTTP client gets until the web side exists.
const NOT_IMPLEMENTED_BODY: &str =
    "This port speaks suda chat. Join with `suda connect HOST:PORT` \
(add --tls for encryption), nc or telnet. There is no web page here yet.\n";

/// The answer to any HTTP request for now: `501 Not Implemented`, plain
/// text, and the connection closes.
pub fn not_implemented() -> Vec<u8> {
    response("501 Not Implemented", None, NOT_IMPLEMENTED_BODY)
}

/// Under `--tls-only`, a plaintext HTTP request is sent to the same place
/// over `https://` (308: the method and body stay as they were). The
/// request's `Host` is used when it is a plain host name or address,
/// otherwise `fallback` (the address the client reached).
///
/// ```
/// use suda::net::transport::redirect_to_https;
/// let answer = redirect_to_https(b"GET /f/1/a.txt HTTP/1.1\r\nHost: chat.example:9999\r\n\r\n", "10.0.0.1:9999");
/// let text = String::from_utf8(answer).unwrap();
/// assert!(text.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"));
/// assert!(text.contains("\r\nLocation: https://chat.example:9999/f/1/a.txt\r\n"));
/// ```
pub fn redirect_to_https(head: &[u8], fallback: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let target = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .filter(|t| {
            t.starts_with('/') && t.len() <= 2048 && t.bytes().all(|b| b.is_ascii_graphic())
        })
        .unwrap_or("/");
    let host = lines
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or(fallback);
    let location = format!("https://{host}{target}");
    let body = format!("This server needs TLS: {location}\n");
    response("308 Permanent Redirect", Some(&location), &body)
}

/// An HTTP/1.1 response that closes the connection.
fn response(status: &str, location: Option<&str>, body: &str) -> Vec<u8> {
    let location = location.map_or(String::new(), |l| format!("Location: {l}\r\n"));
    format!(
        "HTTP/1.1 {status}\r\n{location}Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Rules = Rules {
        tls: true,
        tls_only: false,
    };
    const ONLY: Rules = Rules {
        tls: true,
        tls_only: true,
    };
    const PLAIN: Rules = Rules {
        tls: false,
        tls_only: false,
    };

    #[test]
    fn plaintext_choices() {
        let hello = b"\x16\x03\x01\x00";
        assert_eq!(decide(Layer::Plain, hello, false, OPEN), Next::Handshake);
        assert_eq!(decide(Layer::Plain, hello, false, PLAIN), Next::Drop);
        assert_eq!(decide(Layer::Plain, b"GET / ", false, PLAIN), Next::Http);
        assert_eq!(decide(Layer::Plain, b"GET / ", false, ONLY), Next::Http);
        assert_eq!(decide(Layer::Plain, b"hi\n", false, OPEN), Next::Chat);
        assert_eq!(decide(Layer::Plain, b"hi\n", false, ONLY), Next::NeedsTls);
        assert_eq!(decide(Layer::Plain, b"", true, ONLY), Next::NeedsTls);
        assert_eq!(decide(Layer::Plain, b"GE", false, OPEN), Next::Wait);
        assert_eq!(decide(Layer::Plain, b"GE", true, OPEN), Next::Chat);
    }

    #[test]
    fn inside_tls_chat_is_welcome_even_with_tls_only() {
        assert_eq!(decide(Layer::Tls, b"hi\n", false, ONLY), Next::Chat);
        assert_eq!(decide(Layer::Tls, b"", true, ONLY), Next::Chat);
        assert_eq!(decide(Layer::Tls, b"\x16\x03", false, ONLY), Next::Chat);
        assert_eq!(decide(Layer::Tls, b"POST /", false, ONLY), Next::Http);
    }

    #[test]
    fn heads() {
        assert!(!head_complete(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(head_complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(head_complete(b"GET / HTTP/1.0\n\n"));
    }

    #[test]
    fn answers_are_whole_http_responses() {
        let answer = String::from_utf8(not_implemented()).expect("text");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 501 Not Implemented\r\n"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert!(head.contains("Content-Type: text/plain"));
    }

    #[test]
    fn a_redirect_never_carries_what_it_should_not() {
        let text =
            |head: &[u8]| String::from_utf8(redirect_to_https(head, "127.0.0.1:9")).expect("text");
        // No Host, a target that is not a path, a Host with a line break
        // smuggled in: the fallback and "/".
        assert!(text(b"GET http://evil/ HTTP/1.1\r\n\r\n")
            .contains("Location: https://127.0.0.1:9/\r\n"));
        assert!(text(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n")
            .contains("Location: https://127.0.0.1:9/\r\n"));
        assert!(text(b"GET /a HTTP/1.1\r\nhost: [::1]:9\r\n\r\n")
            .contains("Location: https://[::1]:9/a\r\n"));
        assert_eq!(
            tls_needed_line("h:1"),
            "[Server]: This server needs TLS. Connect with: suda connect --tls h:1\n"
        );
    }
}
