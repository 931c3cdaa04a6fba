//! A line on its way out: built once, encoded once per encoding, shared by
//! every recipient.
//!
//! A broadcast to 10 000 people is one `Line`. Each recipient's queue gets
//! a reference-counted handle to the same bytes, so delivering costs a
//! counter increment, not a copy or an encoding per person.

use std::cell::OnceCell;
use std::rc::Rc;

use crate::charset::Encoding;

/// Text to send, with its encodings made on first use.
#[derive(Debug)]
pub struct Line {
    /// The UTF-8 bytes, ending with `\n`.
    utf8: Rc<[u8]>,
    /// The CP949 bytes, made when the first CP949 recipient needs them.
    /// Pure ASCII lines share `utf8`.
    cp949: OnceCell<Rc<[u8]>>,
}

impl Line {
    /// A line from text that already ends with `\n`.
    pub fn new(text: &str) -> Line {
        debug_assert!(text.ends_with('\n'));
        Line {
            utf8: Rc::from(text.as_bytes()),
            cp949: OnceCell::new(),
        }
    }

    /// The bytes for a connection speaking `encoding`.
    ///
    /// ```
    /// use suda::{charset::Encoding, line::Line};
    /// let line = Line::new("가\n");
    /// assert_eq!(&**line.bytes(Encoding::Utf8), "가\n".as_bytes());
    /// assert_eq!(&**line.bytes(Encoding::Cp949), b"\xb0\xa1\n");
    /// ```
    pub fn bytes(&self, encoding: Encoding) -> &Rc<[u8]> {
        match encoding {
            Encoding::Utf8 => &self.utf8,
            Encoding::Cp949 => self.cp949.get_or_init(|| {
                if self.utf8.is_ascii() {
                    Rc::clone(&self.utf8)
                } else {
                    // The bytes came from a `&str`, so they are UTF-8.
                    let text = String::from_utf8_lossy(&self.utf8);
                    Rc::from(Encoding::Cp949.encode(&text).as_ref())
                }
            }),
        }
    }

    /// The text, for tests and logs.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.utf8)
    }
}
