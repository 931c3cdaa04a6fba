//! Rules for the text people type: what may be relayed, what a nickname is.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;
use unicode_security::GeneralSecurityProfile;

/// The longest nickname, in characters (not bytes: Hangul counts as one).
pub const MAX_NICK_CHARS: usize = 16;

/// Removes everything that could act on another user's terminal.
///
/// Control characters other than tab go (C0, DEL and C1), and so do whole
/// escape sequences (`ESC [ 31 m` would otherwise leave `[31m` behind) and
/// every invisible mark ([`is_invisible`]): the bidirectional overrides that
/// can make text read backwards, zero-width spaces, the byte order mark. A
/// zero-width joiner stays only inside an emoji sequence (👨‍👩‍👧).
///
/// ```
/// use suda::text::sanitize;
/// assert_eq!(sanitize("\x1b[31mred\x1b[0m\tok\x07"), "red\tok");
/// assert_eq!(sanitize("plain 한글"), "plain 한글");
/// ```
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unwanted) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | '^' | '_' | 'X') => skip_string(&mut chars),
                // ESC with intermediates, e.g. `ESC ( B`: skip to the final byte.
                Some(' '..='/') => {
                    while let Some(&next) = chars.peek() {
                        chars.next();
                        if !(' '..='/').contains(&next) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\u{200d}'
                if crate::emoticons::joins_emoji(out.chars().last(), chars.peek().copied()) =>
            {
                out.push(c);
            }
            c if is_unwanted(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters (tab excepted) and invisible marks.
fn is_unwanted(c: char) -> bool {
    (c.is_control() && c != '\t') || is_invisible(c)
}

/// Unicode's format characters (general category Cf: zero-width spaces and
/// joiners, direction marks, embeddings, overrides and isolates, the byte
/// order mark, tags) and the line and paragraph separators (Zl, Zp). None
/// of them shows; each can hide a word, reorder a line or break it where
/// the reader does not expect. Hangul needs none of them (its fillers are
/// letters, U+3164 and U+115F/U+1160, and stay).
///
/// The table is Unicode 16's Cf, Zl and Zp, with the unassigned U+2065 of
/// the same block (a future format character).
pub fn is_invisible(c: char) -> bool {
    const INVISIBLE: &[(char, char)] = &[
        ('\u{00ad}', '\u{00ad}'),
        ('\u{0600}', '\u{0605}'),
        ('\u{061c}', '\u{061c}'),
        ('\u{06dd}', '\u{06dd}'),
        ('\u{070f}', '\u{070f}'),
        ('\u{0890}', '\u{0891}'),
        ('\u{08e2}', '\u{08e2}'),
        ('\u{180e}', '\u{180e}'),
        ('\u{200b}', '\u{200f}'),
        ('\u{2028}', '\u{202e}'),
        ('\u{2060}', '\u{206f}'),
        ('\u{feff}', '\u{feff}'),
        ('\u{fff9}', '\u{fffb}'),
        ('\u{110bd}', '\u{110bd}'),
        ('\u{110cd}', '\u{110cd}'),
        ('\u{13430}', '\u{1343f}'),
        ('\u{1bca0}', '\u{1bca3}'),
        ('\u{1d173}', '\u{1d17a}'),
        ('\u{e0001}', '\u{e0001}'),
        ('\u{e0020}', '\u{e007f}'),
    ];
    if c < '\u{ad}' {
        return false;
    }
    INVISIBLE
        .binary_search_by(|&(low, high)| {
            if high < c {
                std::cmp::Ordering::Less
            } else if low > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Skips a control sequence's parameters up to and including its final byte.
fn skip_csi(chars: &mut impl Iterator<Item = char>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) || !(' '..='~').contains(&c) {
            break;
        }
    }
}

/// Skips an OSC/DCS/PM/APC string up to its terminator (BEL or ESC \).
fn skip_string(chars: &mut std::iter::Peekable<impl Iterator<Item = char>>) {
    while let Some(c) = chars.next() {
        match c {
            '\x07' | '\u{9c}' => break,
            '\x1b' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

/// A nickname as typed, in the form it is kept and shown: without
/// surrounding spaces, composed (NFC), so that Hangul typed as separate
/// jamo (as macOS does) is the same name as Hangul typed as syllables.
pub fn normalize_nick(typed: &str) -> String {
    typed.trim().nfc().collect()
}

/// Whether `nick` (already [`normalize_nick`]ed) is an acceptable
/// nickname: 1 to 16 letters or digits of any script, `_` or `-`, and not
/// `Server` in any disguise.
///
/// Letters must be ones Unicode recommends for identifiers (UTS #39), which
/// leaves out invisible fillers (U+3164), fullwidth forms and the like.
///
/// ```
/// use suda::text::valid_nick;
/// assert!(valid_nick("민수_99"));
/// assert!(!valid_nick("SERVER"));
/// assert!(!valid_nick("Ѕerver")); // Cyrillic Ѕ
/// assert!(!valid_nick("two words"));
/// ```
pub fn valid_nick(nick: &str) -> bool {
    let count = nick.chars().count();
    (1..=MAX_NICK_CHARS).contains(&count)
        && nick
            .chars()
            .all(|c| (c.is_alphanumeric() && c.identifier_allowed()) || c == '_' || c == '-')
        && !same_person(nick, "server")
}

/// The form of a nickname used to compare two of them: case folded and
/// reduced to its confusable skeleton (UTS #39), so `Alice`, `ALICE`,
/// `Ａｌｉｃｅ` and `Аlice` (Cyrillic А) are all the same person.
///
/// Folding case first misses look-alikes that only capitals have: `I`
/// looks like `l` but `i` does not, so `AIice` must be compared by
/// [`nick_keys`], which also folds case after the skeleton.
pub fn nick_key(nick: &str) -> String {
    let folded: String = nick.nfkc().flat_map(char::to_lowercase).collect();
    skeleton(&folded).collect()
}

/// Both forms a nickname is known by: [`nick_key`] (case folded, then the
/// skeleton) and the skeleton of the name as written, case folded after
/// it (so `AIice` with a capital I, `T0M` and `B0B` with zeros, `WiIl`).
/// Two names are the same person when any of their keys meet.
///
/// ```
/// use suda::text::same_person;
/// assert!(same_person("AIice", "Alice"));
/// assert!(same_person("T0M", "Tom"));
/// assert!(!same_person("Alicia", "Alice"));
/// ```
pub fn nick_keys(nick: &str) -> [String; 2] {
    let first = nick_key(nick);
    let written: String = nick.nfkc().collect();
    let folded: String = skeleton(&written).flat_map(char::to_lowercase).collect();
    let second: String = skeleton(&folded).collect();
    [first, second]
}

/// Whether two nicknames would pass for each other ([`nick_keys`]).
pub fn same_person(a: &str, b: &str) -> bool {
    let (a, b) = (nick_keys(a), nick_keys(b));
    a.iter().any(|key| b.contains(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_escape_sequences_whole() {
        assert_eq!(sanitize("a\x1b[2J\x1b[1;1Hb"), "ab");
        assert_eq!(sanitize("\x1b]0;pwned\x07title"), "title");
        assert_eq!(sanitize("\x1b]8;;http://x\x1b\\link"), "link");
        assert_eq!(sanitize("\x1b(Bx"), "x");
        assert_eq!(sanitize("\u{9b}31mc1"), "c1");
        assert_eq!(sanitize("x\x1b"), "x");
    }

    #[test]
    fn removes_other_controls_but_keeps_tab_and_text() {
        assert_eq!(sanitize("a\0b\x08c\x7fd\r"), "abcd");
        assert_eq!(sanitize("tab\there"), "tab\there");
        assert_eq!(sanitize("evil\u{202e}txt.exe"), "eviltxt.exe");
        assert_eq!(
            sanitize("replacement \u{FFFD} stays"),
            "replacement \u{FFFD} stays"
        );
    }

    #[test]
    fn nickname_rules() {
        for ok in [
            "a",
            "Alice",
            "bob-2",
            "x_y",
            "김철수",
            "ĐặngVăn",
            "abcdefghijklmnop",
        ] {
            assert!(valid_nick(ok), "{ok}");
        }
        for bad in [
            "",
            "abcdefghijklmnopq",
            "a b",
            "a.b",
            "server",
            "Server",
            "é\u{301}",
            "a\tb",
        ] {
            assert!(!valid_nick(bad), "{bad}");
        }
        assert!(valid_nick("가나다라마바사아자차카타파하가나"));
        assert!(!valid_nick("가나다라마바사아자차카타파하가나다"));
    }

    #[test]
    fn lookalikes_are_the_same_name() {
        for disguise in ["Ａｌｉｃｅ", "Аlice", "ALICE", "alice"] {
            assert_eq!(nick_key(disguise), nick_key("Alice"), "{disguise}");
        }
        for server in ["Server", "ſerver", "Ѕerver", "ѕerver", "SERVER"] {
            assert!(!valid_nick(&normalize_nick(server)), "{server}");
        }
    }

    #[test]
    fn invisible_and_fullwidth_letters_are_refused() {
        for bad in ["\u{3164}", "\u{115f}\u{1160}", "Ａｌｉｃｅ", "a\u{ffa0}b"] {
            assert!(!valid_nick(&normalize_nick(bad)), "{bad:?}");
        }
    }

    #[test]
    fn decomposed_hangul_is_the_same_name() {
        let composed = "한글";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        assert_eq!(normalize_nick(&decomposed), composed);
        assert!(valid_nick(&normalize_nick(&decomposed)));
    }

    #[test]
    fn capitals_that_look_like_other_letters_are_the_same_name() {
        for (disguise, real) in [
            ("AIice", "Alice"),
            ("T0M", "Tom"),
            ("B0B", "Bob"),
            ("WiIl", "Will"),
            ("ALICE", "Alice"),
        ] {
            assert!(same_person(disguise, real), "{disguise} ~ {real}");
        }
        for (a, b) in [("Alice", "Alicia"), ("Tom", "Tim"), ("민수", "민주")] {
            assert!(!same_person(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn invisible_marks_are_removed_and_refused_in_names() {
        for mark in [
            '\u{061c}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{200e}',
            '\u{2028}',
            '\u{2029}',
            '\u{202e}',
            '\u{2060}',
            '\u{2066}',
            '\u{feff}',
            '\u{00ad}',
            '\u{e0041}',
        ] {
            assert_eq!(sanitize(&format!("a{mark}b")), "ab", "{:?}", mark);
            assert!(
                !valid_nick(&normalize_nick(&format!("Al{mark}ice"))),
                "{mark:?}"
            );
        }
        // Hangul, its filler, emoji and their variation selector stay.
        for kept in ["한글", "\u{3164}", "\u{2764}\u{fe0f}", "a\u{a0}b"] {
            assert_eq!(sanitize(kept), kept);
        }
    }

    #[test]
    fn nick_keys_ignore_case() {
        assert_eq!(nick_key("Alice"), nick_key("aLICE"));
        assert_ne!(nick_key("Alice"), nick_key("Alicia"));
    }
}
