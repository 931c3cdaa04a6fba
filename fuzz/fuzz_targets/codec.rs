//! The line codec with its telnet filter and line editor, fed arbitrary
//! byte chunks: lines never over the limit nor holding a line end, the
//! unfinished line bounded, the same lines and telnet answers however the
//! stream is cut, and no 0xFF (a telnet command) in what is echoed.
//!
//! The echo itself may differ between cuts: a read that ends inside a
//! character the editor later finds invalid costs one repaint of the row
//! (erase, redraw) that a whole read does not need. The screen is the same,
//! so the echo is not compared (the first run of this target found it).
#![no_main]

use suda::net::charset::{Charset, Encoding};
use suda::net::codec::{Frame, Frames, LineCodec};

/// `--max-line` is at least 32 bytes (cli.rs).
const LIMITS: [usize; 4] = [32, 33, 64, 4096];

/// What a connection would make of `chunks`: its frames and its answers
/// to telnet.
fn run(
    listener: bool,
    charset: Charset,
    max: usize,
    chunks: &[&[u8]],
) -> (Vec<Option<Vec<u8>>>, Vec<u8>) {
    let mut reply = Vec::new();
    let mut codec = if listener {
        LineCodec::telnet(&mut reply)
    } else {
        LineCodec::default()
    };
    codec.set_charset(charset);
    let (mut frames, mut seen) = (Frames::default(), Vec::new());
    let collect = |frames: &Frames, seen: &mut Vec<Option<Vec<u8>>>| {
        for frame in frames.iter() {
            seen.push(match frame {
                Frame::Line(line) => {
                    assert!(
                        line.len() <= max,
                        "a line of {} bytes, limit {max}",
                        line.len()
                    );
                    assert!(!line.contains(&b'\n'), "a line with a newline inside");
                    Some(line.to_vec())
                }
                Frame::TooLong => None,
            });
        }
    };
    for chunk in chunks {
        frames.clear();
        codec.feed(chunk, max, &mut frames, &mut reply);
        collect(&frames, &mut seen);
        assert!(
            !frames.echo().contains(&0xff),
            "0xFF echoed: a telnet command"
        );
        // One unfinished line at most, a few bytes of escape over the limit.
        assert!(
            codec.pending() <= max + 8,
            "{} bytes pending, limit {max}",
            codec.pending()
        );
    }
    frames.clear();
    codec.finish(&mut frames);
    collect(&frames, &mut seen);
    (seen, reply)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&head, input)) = data.split_first() else {
        return;
    };
    let listener = head & 1 != 0;
    let encoding = if head & 2 != 0 {
        Encoding::Cp949
    } else {
        Encoding::Utf8
    };
    let charset = if head & 4 != 0 {
        Charset::fixed(encoding)
    } else {
        Charset::detecting(encoding)
    };
    let max = LIMITS[usize::from(head >> 3) % LIMITS.len()];
    let whole = run(listener, charset, max, &[input]);
    let step = usize::from(head >> 5) + 1;
    let chunks: Vec<&[u8]> = input.chunks(step).collect();
    assert_eq!(
        run(listener, charset, max, &chunks),
        whole,
        "cut every {step} bytes"
    );
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        run(listener, charset, max, &bytes),
        whole,
        "cut byte by byte"
    );
});
