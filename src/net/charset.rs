//! UTF-8 and CP949 side by side.
//!
//! Each connection speaks one [`Encoding`]. Text inside the server is always
//! UTF-8 (`str`); bytes are decoded once when a line arrives and encoded once
//! per encoding when a line leaves (see [`crate::net::line::Line`]).
//!
//! CP949 is `encoding_rs::EUC_KR`: the WHATWG "EUC-KR" decoder is in fact
//! Windows code page 949 (Unified Hangul Code), with all 11 172 syllables.

use std::borrow::Cow;
use std::fmt;

use encoding_rs::{EncoderResult, EUC_KR};

use crate::emoticons;

/// The text encoding of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Unicode, what every modern terminal speaks.
    Utf8,
    /// Windows code page 949, the legacy Korean encoding.
    Cp949,
}

impl Encoding {
    /// Both encodings, in a fixed order (for per-encoding caches).
    pub const ALL: [Encoding; 2] = [Encoding::Utf8, Encoding::Cp949];

    /// Reads a user's or operator's name for an encoding.
    ///
    /// ```
    /// use suda::net::charset::Encoding;
    /// assert_eq!(Encoding::parse("UTF8"), Some(Encoding::Utf8));
    /// assert_eq!(Encoding::parse("euc-kr"), Some(Encoding::Cp949));
    /// assert_eq!(Encoding::parse("latin1"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" | "unicode" => Some(Encoding::Utf8),
            "cp949" | "cp-949" | "ms949" | "uhc" | "euc-kr" | "euckr" | "korean" => {
                Some(Encoding::Cp949)
            }
            _ => None,
        }
    }

    /// Position in [`Encoding::ALL`].
    pub fn index(self) -> usize {
        match self {
            Encoding::Utf8 => 0,
            Encoding::Cp949 => 1,
        }
    }

    /// Encodes text for a connection in this encoding.
    ///
    /// An emoji, which CP949 cannot hold, becomes its text emoticon
    /// ([`crate::emoticons`]: `^_^`, or `(?)` outside the table); any other
    /// character CP949 cannot hold becomes `?` (never the `&#...;` that
    /// `encoding_rs::Encoding::encode` would produce).
    ///
    /// ```
    /// use suda::net::charset::Encoding;
    /// assert_eq!(&*Encoding::Cp949.encode("가😄"), b"\xb0\xa1^_^");
    /// assert_eq!(&*Encoding::Cp949.encode("가\u{0E01}"), b"\xb0\xa1?");
    /// ```
    pub fn encode(self, text: &str) -> Cow<'_, [u8]> {
        match self {
            Encoding::Utf8 => Cow::Borrowed(text.as_bytes()),
            Encoding::Cp949 if text.is_ascii() => Cow::Borrowed(text.as_bytes()),
            Encoding::Cp949 => Cow::Owned(encode_cp949(text)),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Cp949 => "CP949",
        })
    }
}

fn encode_cp949(text: &str) -> Vec<u8> {
    let mut encoder = EUC_KR.new_encoder();
    let mut out = Vec::with_capacity(text.len() + 8);
    let mut rest = text;
    loop {
        let (result, read) =
            encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        rest = &rest[read..];
        match result {
            EncoderResult::InputEmpty => return out,
            EncoderResult::OutputFull => out.reserve(rest.len() + 8),
            EncoderResult::Unmappable(c) => match emoticons::cp949_fallback(c, rest) {
                Some((text, used)) => {
                    out.extend_from_slice(text.as_bytes());
                    rest = &rest[used..];
                }
                None => out.push(b'?'),
            },
        }
    }
}

/// The decoding side of one connection: its encoding and whether it may
/// still be switched by what the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charset {
    /// What the connection currently speaks.
    pub encoding: Encoding,
    /// Whether a line that only makes sense in the other encoding switches
    /// the connection. Turned off by `/encoding`: the user's word wins.
    pub auto: bool,
}

impl Charset {
    /// A connection that starts as `encoding` and detects the other.
    pub fn detecting(encoding: Encoding) -> Charset {
        Charset {
            encoding,
            auto: true,
        }
    }

    /// A connection pinned to `encoding`.
    pub fn fixed(encoding: Encoding) -> Charset {
        Charset {
            encoding,
            auto: false,
        }
    }

    /// Decodes one complete line.
    ///
    /// A line valid in the connection's encoding is taken as such. Otherwise,
    /// if detection is on and the line decodes cleanly in the other encoding,
    /// the connection switches. Bytes valid in neither become U+FFFD.
    ///
    /// ```
    /// use suda::net::charset::{Charset, Encoding};
    /// let mut charset = Charset::detecting(Encoding::Utf8);
    /// assert_eq!(charset.decode(b"\xbe\xc8\xb3\xe7"), "안녕");
    /// assert_eq!(charset.encoding, Encoding::Cp949);
    /// ```
    pub fn decode<'a>(&mut self, bytes: &'a [u8]) -> Cow<'a, str> {
        if let Some(text) = strict(self.encoding, bytes) {
            return text;
        }
        if self.auto {
            let other = match self.encoding {
                Encoding::Utf8 => Encoding::Cp949,
                Encoding::Cp949 => Encoding::Utf8,
            };
            if let Some(text) = strict(other, bytes) {
                self.encoding = other;
                return text;
            }
        }
        match self.encoding {
            Encoding::Utf8 => String::from_utf8_lossy(bytes),
            Encoding::Cp949 => EUC_KR.decode_without_bom_handling(bytes).0,
        }
    }
}

/// Decodes `bytes` if they are valid in `encoding`, without replacement.
fn strict(encoding: Encoding, bytes: &[u8]) -> Option<Cow<'_, str>> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Encoding::Cp949 => EUC_KR.decode_without_bom_handling_and_without_replacement(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANGUL: &str = "안녕하세요, 수다방입니다! 똠방각하 햏";

    #[test]
    fn every_hangul_syllable_round_trips_through_cp949() {
        let all: String = ('\u{AC00}'..='\u{D7A3}').collect();
        let bytes = Encoding::Cp949.encode(&all);
        let mut charset = Charset::fixed(Encoding::Cp949);
        assert_eq!(charset.decode(&bytes), all);
    }

    #[test]
    fn utf8_connection_switches_on_first_cp949_line() {
        let mut charset = Charset::detecting(Encoding::Utf8);
        assert_eq!(charset.decode(b"hello"), "hello");
        assert_eq!(charset.encoding, Encoding::Utf8);
        let cp949 = Encoding::Cp949.encode(HANGUL);
        assert_eq!(charset.decode(&cp949), HANGUL);
        assert_eq!(charset.encoding, Encoding::Cp949);
        // And back, if the client turns out to speak UTF-8 after all.
        assert_eq!(charset.decode(HANGUL.as_bytes()), HANGUL);
        assert_eq!(charset.encoding, Encoding::Utf8);
    }

    #[test]
    fn pinned_connection_does_not_switch() {
        let mut charset = Charset::fixed(Encoding::Utf8);
        let cp949 = Encoding::Cp949.encode("한글");
        let text = charset.decode(&cp949);
        assert!(text.contains('\u{FFFD}'));
        assert_eq!(charset.encoding, Encoding::Utf8);
    }

    #[test]
    fn garbage_becomes_replacement_characters() {
        let mut charset = Charset::detecting(Encoding::Utf8);
        let text = charset.decode(b"ok \xff\xfe\x80 end");
        assert!(text.starts_with("ok ") && text.ends_with(" end"));
        assert!(text.contains('\u{FFFD}'));
        assert_eq!(charset.encoding, Encoding::Utf8);
    }

    #[test]
    fn unmappable_characters_become_question_marks() {
        assert_eq!(&*Encoding::Cp949.encode("a€b"), b"a\xa2\xe6b");
        assert_eq!(&*Encoding::Cp949.encode("\u{0E01}x\u{FFFD}"), b"?x?");
    }

    #[test]
    fn every_emoji_of_the_table_becomes_its_text_form() {
        for e in emoticons::TABLE {
            let wanted = format!("가{}나", e.text);
            let typed = format!("가{}나", e.emoji);
            let bytes = Encoding::Cp949.encode(&typed);
            let mut charset = Charset::fixed(Encoding::Cp949);
            assert_eq!(charset.decode(&bytes), wanted, "{e:?}");
        }
    }

    #[test]
    fn emoji_sequences_leave_no_question_marks_and_no_selectors() {
        let cases = [
            ("\u{2764}\u{FE0F} \u{2764}", "<3 <3"),
            ("👍🏿👍🏻", "(b)(b)"),
            (
                "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} 가족",
                "(?) 가족",
            ),
            ("\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}", "(?)"),
            ("🇰🇷🇯🇵", "(?)(?)"),
            ("\u{2665}\u{FE0F}", "♥"),
            ("1\u{FE0F}\u{20E3}", "1"),
            ("\u{00A9}\u{FE0F}", "(?)"),
            ("🦄 \u{1F9D1}\u{1F3FD}\u{200D}\u{1F4BB}", "(?) (?)"),
            (
                "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
                "(?)",
            ),
        ];
        for (text, wanted) in cases {
            let bytes = Encoding::Cp949.encode(text);
            let mut charset = Charset::fixed(Encoding::Cp949);
            assert_eq!(charset.decode(&bytes), wanted, "{text:?}");
        }
    }
}
