//! File names from uploaders, as shown in the room, in URLs, in the
//! `curl` line and in `Content-Disposition`: what is kept is a single
//! visible name (no path, no control or bidirectional characters, no
//! leading dot), cleaning it again changes nothing, and each way of
//! carrying it cannot break out of its quotes or its header.
#![no_main]

use suda::files::names::{clean_name, disposition, shell_quote, url_segment, NAME_MAX_CHARS};

fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{feff}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn unpercent(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("two hex digits");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let typed = String::from_utf8_lossy(data);
    let Some(name) = clean_name(&typed) else {
        return;
    };
    assert!(!name.is_empty());
    assert!(name.chars().count() <= NAME_MAX_CHARS, "{name:?}");
    assert!(!name.contains(['/', '\\']), "{name:?}");
    assert!(!name.starts_with('.'), "{name:?}");
    assert!(name != "." && name != "..");
    assert!(!name.chars().any(hidden), "{name:?}");
    assert_eq!(name.trim(), name, "{name:?}");
    assert_eq!(clean_name(&name).as_deref(), Some(name.as_str()));

    let segment = url_segment(&name);
    assert!(segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
    assert_eq!(unpercent(&segment), name.as_bytes());

    let quoted = shell_quote(&name);
    assert!(quoted.starts_with('\'') && quoted.ends_with('\''));
    assert_eq!(quoted[1..quoted.len() - 1].replace(r"'\''", "'"), name);

    let header = disposition(&name);
    assert!(
        header.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "{header:?}"
    );
    let fallback = header
        .strip_prefix("attachment; filename=\"")
        .and_then(|rest| rest.split_once("\"; filename*=UTF-8''"))
        .expect("two names");
    assert!(!fallback.0.contains(['"', '\\']), "{header:?}");
    assert_eq!(unpercent(fallback.1), name.as_bytes());
});
