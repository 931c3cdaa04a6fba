//! File names as people see them, and as URLs, shell lines and headers
//! carry them. A file is stored by its id only, so a name never reaches
//! the file system: these rules are about what is shown, not where bytes go.

use std::fmt::Write as _;

/// The longest name kept, in characters; a longer one is cut.
pub const NAME_MAX_CHARS: usize = 120;

/// Makes `typed` a name fit to show: only its last path component (no
/// `/`, `\`), no control or bidirectional-override characters (which can
/// make `exe.txt` read as `txt.exe`), no leading dots, trimmed and cut.
/// `None` if nothing is left.
///
/// ```
/// use suda::files::names::clean_name;
/// assert_eq!(clean_name("../../etc/passwd").as_deref(), Some("passwd"));
/// assert_eq!(clean_name("과제\u{202e}txt.exe").as_deref(), Some("과제txt.exe"));
/// assert_eq!(clean_name(".."), None);
/// assert_eq!(clean_name("a\0b.txt").as_deref(), Some("ab.txt"));
/// ```
pub fn clean_name(typed: &str) -> Option<String> {
    let last = typed.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c) && c != '\u{feff}')
        .take(NAME_MAX_CHARS)
        .collect();
    // Dots and spaces in any mix: ` . ..x` must not become `..x`.
    let kept = kept
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end();
    (!kept.is_empty()).then(|| kept.to_string())
}

/// The characters that reorder text on screen.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Percent-encodes `name` for a URL path segment: everything but
/// unreserved ASCII, so `%2e%2e` in a name stays text.
///
/// ```
/// use suda::files::names::url_segment;
/// assert_eq!(url_segment("보고서 1.pdf"), "%EB%B3%B4%EA%B3%A0%EC%84%9C%201.pdf");
/// ```
pub fn url_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `name` quoted for a POSIX shell, for the `curl -T '<file name>'` line.
///
/// ```
/// use suda::files::names::shell_quote;
/// assert_eq!(shell_quote("it's.txt"), r"'it'\''s.txt'");
/// ```
pub fn shell_quote(name: &str) -> String {
    format!("'{}'", name.replace('\'', r"'\''"))
}

/// `Content-Disposition: attachment` with the name twice: an ASCII
/// fallback and the exact UTF-8 name (RFC 6266, RFC 5987).
///
/// ```
/// use suda::files::names::disposition;
/// assert_eq!(disposition("a b.txt"), r#"attachment; filename="a b.txt"; filename*=UTF-8''a%20b.txt"#);
/// assert_eq!(disposition("과제.hwp"), r#"attachment; filename="__.hwp"; filename*=UTF-8''%EA%B3%BC%EC%A0%9C.hwp"#);
/// ```
pub fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        url_segment(name)
    )
}

/// A size in binary units, one decimal at most: `830 B`, `1.2 KiB`,
/// `3.4 MiB`, `25 MiB`.
///
/// ```
/// use suda::files::names::human_size;
/// assert_eq!(human_size(830), "830 B");
/// assert_eq!(human_size(1229), "1.2 KiB");
/// assert_eq!(human_size(25 << 20), "25 MiB");
/// assert_eq!(human_size(3_565_158), "3.4 MiB");
/// ```
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_made_harmless() {
        for (typed, shown) in [
            ("%2e%2e/%2e%2e/x", Some("x")),
            ("%2e%2e", Some("%2e%2e")),
            ("..\\..\\boot.ini", Some("boot.ini")),
            ("  .hidden  ", Some("hidden")),
            ("\u{2067}evil\u{2069}.sh", Some("evil.sh")),
            ("/", None),
            ("\0", None),
            ("../", None),
            // Found by the `names` fuzz target: dots behind a space.
            (" . ..hid", Some("hid")),
            (". . .", None),
        ] {
            assert_eq!(clean_name(typed).as_deref(), shown, "{typed:?}");
        }
        let long = "가".repeat(500);
        assert_eq!(
            clean_name(&long).map(|n| n.chars().count()),
            Some(NAME_MAX_CHARS)
        );
        assert_eq!(url_segment("%2e%2e"), "%252e%252e");
    }
}
