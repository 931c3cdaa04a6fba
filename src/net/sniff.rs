//! What a new connection speaks, from its first bytes: one port serves
//! chat, TLS and HTTP (see the contract, "One port").
//!
//! A TLS client and a browser speak first; nc and telnet wait for the
//! banner. So the first bytes decide, and silence means chat. This file
//! only looks at bytes; waiting for them (`--sniff-wait`) is the
//! reactor's job.

/// Bytes that are always enough to decide: the longest thing looked for
/// is an HTTP method and its space (`OPTIONS `).
pub const SNIFF_BYTES: usize = 8;

/// HTTP request lines are recognised by these methods and the space
/// after them. A chat line rarely starts this way: a nickname cannot
/// hold a space.
const HTTP_METHODS: [&[u8]; 7] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"OPTIONS ",
    b"DELETE ",
    b"PATCH ",
];

/// A TLS record of type handshake (22) and the major version 3 that
/// every TLS version, 1.0 to 1.3, puts in a ClientHello's record header.
const TLS_HANDSHAKE: [u8; 2] = [0x16, 0x03];

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A TLS ClientHello.
    Tls,
    /// An HTTP request line.
    Http,
    /// Anything else (text, telnet negotiation): a chat client, and these
    /// bytes are its first input.
    Chat,
    /// Too few bytes to tell: wait for more (or for `--sniff-wait`).
    Undecided,
}

/// Classifies the first bytes of a plaintext connection.
///
/// ```
/// use suda::net::sniff::{sniff, Sniffed};
/// assert_eq!(sniff(b"\x16\x03\x01\x02\x00"), Sniffed::Tls);
/// assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Sniffed::Http);
/// assert_eq!(sniff(b"\xff\xfd\x18"), Sniffed::Chat); // telnet IAC DO
/// assert_eq!(sniff("민수\n".as_bytes()), Sniffed::Chat);
/// assert_eq!(sniff(b"GE"), Sniffed::Undecided);
/// assert_eq!(sniff(b""), Sniffed::Undecided);
/// ```
pub fn sniff(first: &[u8]) -> Sniffed {
    match prefix_of(first, &TLS_HANDSHAKE) {
        Some(true) => return Sniffed::Tls,
        Some(false) => return Sniffed::Undecided,
        None => {}
    }
    sniff_plaintext(first)
}

/// Classifies the first bytes inside TLS: HTTP (HTTPS) or chat. A second
/// ClientHello inside TLS is not TLS again, just bytes.
///
/// ```
/// use suda::net::sniff::{sniff_plaintext, Sniffed};
/// assert_eq!(sniff_plaintext(b"HEAD /x HTTP/1.0\r\n"), Sniffed::Http);
/// assert_eq!(sniff_plaintext(b"\x16\x03"), Sniffed::Chat);
/// assert_eq!(sniff_plaintext(b"OPTION"), Sniffed::Undecided);
/// ```
pub fn sniff_plaintext(first: &[u8]) -> Sniffed {
    if first.is_empty() {
        return Sniffed::Undecided;
    }
    let mut undecided = false;
    for method in HTTP_METHODS {
        match prefix_of(first, method) {
            Some(true) => return Sniffed::Http,
            Some(false) => undecided = true,
            None => {}
        }
    }
    if undecided {
        Sniffed::Undecided
    } else {
        Sniffed::Chat
    }
}

/// `Some(true)`: `first` starts with `wanted`; `Some(false)`: `first` is
/// a shorter start of it (more bytes could make it); `None`: it is not.
fn prefix_of(first: &[u8], wanted: &[u8]) -> Option<bool> {
    if first.len() >= wanted.len() {
        (first[..wanted.len()] == *wanted).then_some(true)
    } else {
        (!first.is_empty() && wanted[..first.len()] == *first).then_some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` the way it may arrive: cut after every offset, the
    /// classifier asked at each step with all bytes so far, as the
    /// reactor does. The first decision must be `wanted` and must come no
    /// later than [`SNIFF_BYTES`] (or the end of the input).
    fn decided(input: &[u8], inner: bool) -> Sniffed {
        let classify = if inner { sniff_plaintext } else { sniff };
        for cut in 0..=input.len() {
            let seen = &input[..cut];
            match classify(seen) {
                Sniffed::Undecided => {
                    assert!(
                        cut < SNIFF_BYTES,
                        "undecided after {cut} bytes of {input:?}"
                    );
                }
                decision => {
                    // Once decided, more bytes never change the answer.
                    for more in cut..=input.len() {
                        assert_eq!(classify(&input[..more]), decision, "{input:?} at {more}");
                    }
                    return decision;
                }
            }
        }
        Sniffed::Undecided
    }

    #[test]
    fn a_client_hello_is_tls_however_it_is_cut() {
        let hello = b"\x16\x03\x01\x00\xf4\x01\x00\x00\xf0\x03\x03";
        assert_eq!(decided(hello, false), Sniffed::Tls);
        assert_eq!(
            decided(hello, true),
            Sniffed::Chat,
            "inside TLS it is just bytes"
        );
        // A lone 0x16 is not enough, and 0x16 then anything else is chat.
        assert_eq!(sniff(b"\x16"), Sniffed::Undecided);
        assert_eq!(sniff(b"\x16x"), Sniffed::Chat);
    }

    #[test]
    fn http_request_lines_however_they_are_cut() {
        for request in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"HEAD / HTTP/1.1\r\n",
            b"PUT /u/abc HTTP/1.1\r\n",
            b"POST /ws HTTP/1.1\r\n",
            b"OPTIONS * HTTP/1.1\r\n",
            b"DELETE /f/1 HTTP/1.1\r\n",
            b"PATCH /x HTTP/1.1\r\n",
        ] {
            assert_eq!(decided(request, false), Sniffed::Http, "{request:?}");
            assert_eq!(decided(request, true), Sniffed::Http, "{request:?}");
        }
    }

    #[test]
    fn chat_however_it_is_cut() {
        for chat in [
            &b"\xff\xfb\x18\xff\xfd\x01"[..], // telnet negotiation first
            "민수\r\n".as_bytes(),
            b"\xb9\xce\xbc\xf6\r\n", // 민수 in CP949
            b"GETTY\n",              // a nickname that starts like a method
            b"GET\n",
            b"Post office\n", // methods are upper case
            b"/users\n",
            b"\n",
        ] {
            assert_eq!(decided(chat, false), Sniffed::Chat, "{chat:?}");
            assert_eq!(decided(chat, true), Sniffed::Chat, "{chat:?}");
        }
    }

    #[test]
    fn what_never_decides_is_left_to_the_wait() {
        // A chat client that typed "GE" and stopped: --sniff-wait decides.
        assert_eq!(decided(b"GE", false), Sniffed::Undecided);
        assert_eq!(decided(b"OPTIONS", true), Sniffed::Undecided);
        assert_eq!(decided(b"", false), Sniffed::Undecided);
    }
}
