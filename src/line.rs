//! A line on its way out: built once, encoded once per encoding, shared by
//! every recipient.
//!
//! A broadcast to 10 000 people is one `Line`. Each recipient's queue gets
//! a reference-counted handle to the same bytes, so delivering costs a
//! counter increment, not a copy or an encoding per person.
//!
//! There are at most four forms: UTF-8 or CP949, each with `\n` line ends
//! (netcat, most clients) or `\r\n` (telnet clients, whose terminals do not
//! return the carriage on a bare line feed).

use std::cell::OnceCell;
use std::rc::Rc;

use crate::charset::Encoding;

/// Text to send, with its other forms made on first use.
#[derive(Debug)]
pub struct Line {
    /// The UTF-8 bytes with `\n` line ends: what most recipients get.
    utf8: Rc<[u8]>,
    /// The other forms, by `(encoding, crlf)`: see [`Line::bytes`].
    /// Pure ASCII lines share the UTF-8 bytes for CP949.
    others: [OnceCell<Rc<[u8]>>; 3],
}

impl Line {
    /// A line from text that already ends with `\n`.
    pub fn new(text: &str) -> Line {
        debug_assert!(text.ends_with('\n'));
        Line {
            utf8: Rc::from(text.as_bytes()),
            others: Default::default(),
        }
    }

    /// The bytes for a connection speaking `encoding`, with CR LF line
    /// ends if `crlf`.
    ///
    /// ```
    /// use suda::{charset::Encoding, line::Line};
    /// let line = Line::new("가\n");
    /// assert_eq!(&**line.bytes(Encoding::Utf8, false), "가\n".as_bytes());
    /// assert_eq!(&**line.bytes(Encoding::Cp949, false), b"\xb0\xa1\n");
    /// assert_eq!(&**line.bytes(Encoding::Cp949, true), b"\xb0\xa1\r\n");
    /// ```
    pub fn bytes(&self, encoding: Encoding, crlf: bool) -> &Rc<[u8]> {
        let slot = match (encoding, crlf) {
            (Encoding::Utf8, false) => return &self.utf8,
            (Encoding::Cp949, false) => 0,
            (Encoding::Utf8, true) => 1,
            (Encoding::Cp949, true) => 2,
        };
        self.others[slot].get_or_init(|| {
            if encoding == Encoding::Cp949 && !self.utf8.is_ascii() {
                // The bytes came from a `&str`, so they are UTF-8.
                let text = String::from_utf8_lossy(&self.utf8);
                finish(&encoding.encode(&text), crlf)
            } else if crlf {
                finish(&self.utf8, true)
            } else {
                // ASCII is the same in CP949.
                Rc::clone(&self.utf8)
            }
        })
    }

    /// The text, for tests and logs.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.utf8)
    }
}

/// Shares `bytes`, turning each `\n` into `\r\n` if `crlf`.
fn finish(bytes: &[u8], crlf: bool) -> Rc<[u8]> {
    if !crlf {
        return Rc::from(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 2);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    Rc::from(out)
}
