//! Emoticons: `:smile:` typed in a message becomes 😄, and an emoji sent to
//! a CP949 terminal, which has no emoji, becomes a text emoticon (`^_^`)
//! instead of `?`.
//!
//! [`TABLE`] is the one place that says which emoticons exist: the room
//! reads it to replace shortcodes and to list them (`/emoticons`), the
//! CP949 encoder ([`crate::net::charset`]) to replace emoji. Adding a row
//! here is all it takes to add one.

use std::borrow::Cow;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emoticon {
    /// Typed between colons: `smile` for `:smile:`.
    pub code: &'static str,
    /// What a UTF-8 reader sees.
    pub emoji: &'static str,
    /// What a CP949 reader sees instead. ASCII, so it reads the same in
    /// both encodings and needs no encoding of its own.
    pub text: &'static str,
}

const fn row(code: &'static str, emoji: &'static str, text: &'static str) -> Emoticon {
    Emoticon { code, emoji, text }
}

/// Every shortcode, in the order `/emoticons` lists them: faces, then
/// hands, then things. Codes are the ones Slack, GitHub and Discord share.
pub const TABLE: &[Emoticon] = &[
    row("smile", "😄", "^_^"),
    row("grinning", "😀", ":D"),
    row("laughing", "😆", "^o^"),
    row("joy", "😂", "XD"),
    row("blush", "😊", "^^"),
    row("wink", "😉", ";)"),
    row("sweat_smile", "😅", "^^;"),
    row("heart_eyes", "😍", "*_*"),
    row("kissing_heart", "😘", ":*"),
    row("sunglasses", "😎", "B-)"),
    row("thinking", "🤔", "(hmm)"),
    row("neutral_face", "😐", "-_-"),
    row("sleeping", "😴", "(zzz)"),
    row("disappointed", "😞", ":("),
    row("cry", "😢", "T_T"),
    row("sob", "😭", "ToT"),
    row("angry", "😠", ">_<"),
    row("scream", "😱", "O_O"),
    row("thumbsup", "👍", "(b)"),
    row("thumbsdown", "👎", "(q)"),
    row("clap", "👏", "(clap)"),
    row("wave", "👋", "(wave)"),
    row("pray", "🙏", "(pray)"),
    row("ok_hand", "👌", "(ok)"),
    row("muscle", "💪", "(strong)"),
    row("heart", "❤️", "<3"),
    row("broken_heart", "💔", "</3"),
    row("fire", "🔥", "(fire)"),
    row("tada", "🎉", "(party)"),
    row("100", "💯", "(100)"),
    row("star", "⭐", "(*)"),
    row("coffee", "☕", "(coffee)"),
];

/// What a CP949 reader sees for an emoji that is not in [`TABLE`].
pub const UNKNOWN: &str = "(?)";

/// The longest code, so a `:word:` longer than that is skipped at once.
const LONGEST_CODE: usize = 16;

/// The row for a shortcode (without its colons), in any case.
pub fn by_code(code: &str) -> Option<&'static Emoticon> {
    if code.is_empty() || code.len() > LONGEST_CODE {
        return None;
    }
    TABLE.iter().find(|e| e.code.eq_ignore_ascii_case(code))
}

/// Replaces every known `:code:` in `text` with its emoji; an unknown
/// `:word:` stays as typed. A line without a known code is not copied.
///
/// No emoji is longer in bytes than its `:code:`, so a line never grows
/// past `--max-line` by this.
///
/// ```
/// use suda::emoticons::expand;
/// assert_eq!(expand("hi :smile: :nope: :cry:"), "hi 😄 :nope: 😢");
/// assert_eq!(expand("at 10:30:00"), "at 10:30:00");
/// assert_eq!(expand("a::heart:"), "a:❤️");
/// ```
pub fn expand(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    // `text[..copied]` is already in `out`; colons are looked for from `from`.
    let (mut copied, mut from) = (0, 0);
    while let Some(open) = text[from..].find(':').map(|at| from + at) {
        let Some(close) = text[open + 1..].find(':').map(|at| open + 1 + at) else {
            break;
        };
        match by_code(&text[open + 1..close]) {
            Some(emoticon) => {
                out.push_str(&text[copied..open]);
                out.push_str(emoticon.emoji);
                copied = close + 1;
                from = close + 1;
            }
            // `:nope:smile:`: the closing colon may open the next code.
            None => from = close,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Zero width joiner: glues emoji into one picture (👨‍👩‍👧).
const ZWJ: char = '\u{200D}';
/// Combining keycap: `1️⃣`.
const KEYCAP: char = '\u{20E3}';

/// Variation selectors: text (U+FE0E) or emoji (U+FE0F) presentation.
fn is_selector(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}')
}

/// Skin tones (🏻 to 🏿), which follow the emoji they colour.
fn is_skin_tone(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

/// Tag characters, which spell subdivision flags (🏴󠁧󠁢󠁳󠁣󠁴󠁿).
fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0020}'..='\u{E007F}')
}

/// Half of a country flag: 🇰🇷 is two of these.
fn is_regional(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

/// What only changes the character before it; alone it shows nothing
/// worth a `?`.
fn is_extender(c: char) -> bool {
    is_selector(c) || is_skin_tone(c) || is_tag(c) || c == KEYCAP || c == ZWJ
}

/// Whether a zero-width joiner between `before` and `after` glues one emoji
/// sequence (👨‍👩‍👧: man, ZWJ, woman, ZWJ, girl), the only place a joiner
/// belongs in chat; anywhere else it is an invisible mark and is removed.
///
/// ```
/// use suda::emoticons::joins_emoji;
/// assert!(joins_emoji(Some('👨'), Some('👩')));
/// assert!(joins_emoji(Some('\u{FE0F}'), Some('🔥')));
/// assert!(!joins_emoji(Some('a'), Some('b')));
/// assert!(!joins_emoji(None, Some('👩')));
/// ```
pub fn joins_emoji(before: Option<char>, after: Option<char>) -> bool {
    let glued =
        |c: Option<char>| c.is_some_and(|c| is_pictograph(c) || is_selector(c) || is_skin_tone(c));
    glued(before) && after.is_some_and(is_pictograph)
}

/// Emoji: the pictograph blocks and dingbats whole, and the symbols of
/// other blocks that have an emoji form (⌚, ⏰, ↩, ▶, ⭐, ...). Other
/// symbols CP949 lacks are not emoji: they still become `?`.
fn is_pictograph(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF
        | 0x2600..=0x27BF
        | 0x203C | 0x2049 | 0x2139 | 0x24C2
        | 0x2194..=0x2199 | 0x21A9..=0x21AA
        | 0x231A..=0x231B | 0x2328 | 0x23CF | 0x23E9..=0x23F3 | 0x23F8..=0x23FA
        | 0x25AA..=0x25AB | 0x25B6 | 0x25C0 | 0x25FB..=0x25FE
        | 0x2934..=0x2935
        | 0x2B05..=0x2B07 | 0x2B1B..=0x2B1C | 0x2B50 | 0x2B55
        | 0x3030 | 0x303D | 0x3297 | 0x3299)
}

/// What a CP949 reader sees instead of a character CP949 cannot hold.
///
/// `first` is that character and `rest` the text after it. Returns the
/// replacement and how many bytes of `rest` it covers too: an emoji with
/// its selector, skin tone, keycap or tags, a ZWJ sequence or a flag is one
/// emoji and gets one replacement. An extender left alone (a selector after
/// a character CP949 does have, `♥️`) becomes nothing. `None`: not an emoji;
/// the caller writes `?` as for any other character.
///
/// ```
/// use suda::emoticons::cp949_fallback;
/// assert_eq!(cp949_fallback('\u{2764}', "\u{FE0F} x"), Some(("<3", 3)));
/// assert_eq!(cp949_fallback('👍', "\u{1F3FD}!"), Some(("(b)", 4)));
/// assert_eq!(cp949_fallback('🦄', ""), Some(("(?)", 0)));
/// assert_eq!(cp949_fallback('\u{FE0F}', "x"), Some(("", 0)));
/// assert_eq!(cp949_fallback('ก', ""), None);
/// ```
pub fn cp949_fallback(first: char, rest: &str) -> Option<(&'static str, usize)> {
    if is_extender(first) {
        return Some(("", 0));
    }
    let mut chars = rest.char_indices().peekable();
    let emoji = is_pictograph(first)
        || is_regional(first)
        // ©️ and the like: a selector asks for an emoji picture.
        || chars.peek().is_some_and(|&(_, c)| c == '\u{FE0F}');
    if !emoji {
        return None;
    }
    let mut used = 0;
    let mut joined = false;
    if is_regional(first) {
        if let Some(&(at, c)) = chars.peek() {
            if is_regional(c) {
                chars.next();
                used = at + c.len_utf8();
                joined = true;
            }
        }
    }
    while let Some(&(at, c)) = chars.peek() {
        if !is_extender(c) {
            break;
        }
        chars.next();
        used = at + c.len_utf8();
        if c == ZWJ {
            // The joiner takes the next picture into this emoji (and
            // nothing else: `😄\u{200D}가` keeps its 가).
            if let Some(&(at, next)) = chars.peek() {
                if is_pictograph(next) && !is_extender(next) {
                    chars.next();
                    used = at + next.len_utf8();
                    joined = true;
                }
            }
        }
    }
    // A skin tone or a selector does not change which emoticon it is; a
    // sequence of several pictures is no row of the table.
    let text = if joined {
        UNKNOWN
    } else {
        TABLE
            .iter()
            .find(|e| e.emoji.starts_with(first))
            .map_or(UNKNOWN, |e| e.text)
    };
    Some((text, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_typeable() {
        for (i, e) in TABLE.iter().enumerate() {
            assert!(
                e.code.len() <= LONGEST_CODE
                    && e.code
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{e:?}"
            );
            assert!(
                TABLE[..i].iter().all(|o| o.code != e.code),
                "{} twice",
                e.code
            );
            assert!(e.text.is_ascii() && !e.text.contains('?'), "{e:?}");
        }
        assert!(TABLE.len() >= 30);
    }

    #[test]
    fn an_emoji_is_never_longer_than_its_code() {
        for e in TABLE {
            assert!(e.emoji.len() <= e.code.len() + 2, "{e:?}");
        }
        let all: String = TABLE.iter().map(|e| format!(":{}:", e.code)).collect();
        assert!(expand(&all).len() <= all.len());
    }

    #[test]
    fn every_emoji_comes_back_from_its_code() {
        for e in TABLE {
            assert_eq!(expand(&format!(":{}:", e.code)), e.emoji);
            assert_eq!(expand(&format!(":{}:", e.code.to_uppercase())), e.emoji);
        }
    }

    #[test]
    fn unknown_and_broken_codes_stay_as_typed() {
        for text in [
            ":",
            "::",
            ":smile",
            "smile:",
            ": smile:",
            ":smile :",
            ":unicorn:",
            "::::::",
            "12:30:45",
        ] {
            assert!(matches!(expand(text), Cow::Borrowed(_)), "{text:?}");
        }
        assert_eq!(expand(":nope:smile:"), ":nope😄");
        assert_eq!(expand(":smile::smile:"), "😄😄");
        assert_eq!(expand("한글 :cry: 끝"), "한글 😢 끝");
    }

    #[test]
    fn sequences_are_one_emoji() {
        // Family: man ZWJ woman ZWJ girl.
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        let (first, rest) = family.split_at(4);
        let first = first.chars().next().unwrap_or_default();
        assert_eq!(cp949_fallback(first, rest), Some((UNKNOWN, rest.len())));
        // Rainbow flag: white flag, selector, ZWJ, rainbow.
        let flag = "\u{FE0F}\u{200D}\u{1F308}!";
        assert_eq!(cp949_fallback('\u{1F3F3}', flag), Some((UNKNOWN, 10)));
        // Korea: two regional indicators.
        assert_eq!(cp949_fallback('\u{1F1F0}', "\u{1F1F7}"), Some((UNKNOWN, 4)));
        // A thumbs up of any tone is a thumbs up.
        for tone in '\u{1F3FB}'..='\u{1F3FF}' {
            assert_eq!(cp949_fallback('👍', &tone.to_string()), Some(("(b)", 4)));
        }
        // Text presentation is still the heart.
        assert_eq!(cp949_fallback('\u{2764}', "\u{FE0E}"), Some(("<3", 3)));
        // A joiner at the very end, or before a letter, takes nothing more.
        assert_eq!(cp949_fallback('😄', "\u{200D}"), Some(("^_^", 3)));
        assert_eq!(cp949_fallback('😄', "\u{200D}가"), Some(("^_^", 3)));
    }
}
