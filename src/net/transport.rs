//! How a new connection is carried: the decisions between accept and the
//! room, without sockets. The reactor (`reactor/arrival.rs`) does the I/O.
//!
//! ```text
//! accepted ──sniff──┬─ TLS ClientHello ── handshake ──sniff──┬─ chat ─▶ room
//!                   │                                        └─ HTTP ─▶ net::http
//!                   ├─ HTTP ─▶ net::http (--tls-only: redirect to https://)
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
    /// An HTTP client: to the HTTP connections.
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

/// The line that turns plaintext chat away under `--tls-only`, naming the
/// address the client reached.
pub fn tls_needed_line(host_port: &str) -> String {
    format!("[Server]: This server needs TLS. Connect with: suda connect --tls {host_port}\n")
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
    fn the_tls_needed_line() {
        assert_eq!(
            tls_needed_line("h:1"),
            "[Server]: This server needs TLS. Connect with: suda connect --tls h:1\n"
        );
    }
}
