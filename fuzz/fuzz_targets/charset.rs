//! Charset detection and transcoding: decoding never fails, what CP949
//! encoding makes is valid CP949, and the round trips that must hold do.
#![no_main]

use suda::net::charset::{Charset, Encoding};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Lines as a connection decodes them, with detection switching.
    for start in Encoding::ALL {
        let mut charset = Charset::detecting(start);
        for line in data.split(|&b| b == b'\n') {
            let before = charset.encoding;
            let text = charset.decode(line).into_owned();
            // Valid in the encoding it had: decoded exactly, no switch.
            if before == Encoding::Utf8 {
                if let Ok(exact) = std::str::from_utf8(line) {
                    assert_eq!(text, exact);
                    assert_eq!(charset.encoding, Encoding::Utf8);
                }
            }
            // Whatever came out goes back out in each encoding.
            roundtrip(&text);
        }
        let mut fixed = Charset::fixed(start);
        let _ = fixed.decode(data);
        assert_eq!(fixed.encoding, start, "a pinned connection switched");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        roundtrip(text);
    }
});

fn roundtrip(text: &str) {
    assert_eq!(&*Encoding::Utf8.encode(text), text.as_bytes());
    let bytes = Encoding::Cp949.encode(text);
    // What the server sends a CP949 reader decodes without a single
    // replacement character...
    let mut reader = Charset::fixed(Encoding::Cp949);
    let back = reader.decode(&bytes).into_owned();
    if !text.contains('\u{FFFD}') {
        assert!(
            !back.contains('\u{FFFD}'),
            "{text:?} -> {bytes:?} -> {back:?}"
        );
    }
    // ... and Hangul syllables and ASCII come back exactly.
    if text
        .chars()
        .all(|c| c.is_ascii() || ('\u{AC00}'..='\u{D7A3}').contains(&c))
    {
        assert_eq!(back, text);
    }
}
