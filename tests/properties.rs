//! The fuzz targets' invariants (fuzz/fuzz_targets/) on random inputs, in
//! the normal `cargo test`: CI keeps checking them without the fuzzer.
//! Kept quick: a few seconds for the whole file.

use proptest::collection::vec;
use proptest::prelude::*;

use suda::net::charset::{Charset, Encoding};
use suda::net::codec::{Frame, Frames, LineCodec};
use suda::net::telnet::{Event, Receiver, TelnetFilter};
use suda::text::{normalize_nick, same_person, valid_nick};

/// Frames of one connection fed `chunks`, as `Some(line)` or `None` for
/// too long, with what it answered to telnet. (Not the echo: a read that
/// ends inside a character the editor later finds invalid costs one more
/// repaint of the row than a whole read; the screen is the same.)
type Decoded = (Vec<Option<Vec<u8>>>, Vec<u8>);

fn decode(listener: bool, max: usize, chunks: &[&[u8]]) -> Decoded {
    let mut reply = Vec::new();
    let mut codec = if listener {
        LineCodec::telnet(&mut reply)
    } else {
        LineCodec::default()
    };
    let (mut frames, mut seen) = (Frames::default(), Vec::new());
    let collect = |frames: &Frames, seen: &mut Vec<Option<Vec<u8>>>| {
        for frame in frames.iter() {
            seen.push(match frame {
                Frame::Line(line) => {
                    assert!(line.len() <= max, "{} bytes over {max}", line.len());
                    assert!(!line.contains(&b'\n'));
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
        assert!(codec.pending() <= max + 8, "{} pending", codec.pending());
    }
    frames.clear();
    codec.finish(&mut frames);
    collect(&frames, &mut seen);
    (seen, reply)
}

/// Bytes that make lines, telnet commands and Hangul likely.
fn wire() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            4 => any::<u8>(),
            3 => prop::sample::select(b"ab \n\r/\x7f\x08\x1b[".to_vec()),
            2 => prop::sample::select(vec![0xff_u8, 0xfb, 0xfd, 0xfa, 0xf0, 0x01, 0x1f, 0x00]),
            1 => prop::sample::select(vec![0xea_u8, 0xb0, 0x80, 0xb0, 0xa1]),
        ],
        0..200,
    )
}

fn cuts(input: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let (mut out, mut rest) = (Vec::new(), input);
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let take = size.clamp(1, rest.len());
        out.push(rest[..take].to_vec());
        rest = &rest[take..];
    }
    out
}

#[derive(Debug, Default, PartialEq)]
struct Seen {
    data: Vec<u8>,
    events: Vec<Event>,
}

impl Receiver for Seen {
    fn data(&mut self, bytes: &[u8]) {
        assert!(!bytes.is_empty(), "empty data hand-over");
        self.data.extend_from_slice(bytes);
    }
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

fn filter(chunks: &[Vec<u8>]) -> (Seen, Vec<u8>) {
    let (mut f, mut seen, mut reply) = (TelnetFilter::default(), Seen::default(), Vec::new());
    for chunk in chunks {
        f.filter(chunk, &mut reply, &mut seen);
    }
    (seen, reply)
}

/// What the codec fuzzer first found (fuzz/fuzz_targets/codec.rs): typed
/// one byte at a time, a line with invalid UTF-8 in it is echoed with one
/// more repaint than typed in one read. The line sent is the same, and
/// nothing echoed is a telnet command.
#[test]
fn a_line_typed_byte_by_byte_is_the_line_typed_at_once() {
    let input: &[u8] =
        b"\xff\xfd\x01#\x1fAl\x7ficce\x9a\x05i\xe0\xe0\xe0\xe0\x80\x80\xf2\xbb\xe2\r\n";
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let whole = decode(true, 64, &[input]);
    assert_eq!(decode(true, 64, &bytes), whole);
    assert_eq!(
        whole.0,
        [Some(
            b"#Aicce\x9ai\xe0\xe0\xe0\xe0\x80\x80\xf2\xbb\xe2".to_vec()
        )]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// However the stream is cut, a connection gets the same lines and the
    /// same telnet answers; no line over the limit, no 0xFF echoed.
    #[test]
    fn codec_framing_does_not_depend_on_the_cuts(
        input in wire(),
        sizes in vec(1usize..20, 1..5),
        listener in any::<bool>(),
        max in prop::sample::select(vec![32usize, 33, 64, 4096]),
    ) {
        let whole = decode(listener, max, &[&input]);
        let parts = cuts(&input, &sizes);
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(decode(listener, max, &parts), whole);
    }

    /// No telnet command reaches the text: a 0xFF there comes from an
    /// escaped IAC IAC; the same data at every cut.
    #[test]
    fn telnet_filter_never_hands_a_command_over_as_text(
        input in wire(),
        sizes in vec(1usize..8, 1..4),
    ) {
        let whole = filter(std::slice::from_ref(&input));
        prop_assert_eq!(&filter(&cuts(&input, &sizes)), &whole);
        let escaped = input.windows(2).filter(|w| w == b"\xff\xff").count();
        let literal = whole.0.data.iter().filter(|&&b| b == 0xff).count();
        prop_assert!(literal <= escaped);
        if !input.contains(&0xff) {
            prop_assert_eq!(&whole.0.data, &input);
            prop_assert!(whole.1.is_empty());
        }
    }

    /// Hangul and ASCII go through CP949 and back unchanged; whatever CP949
    /// cannot hold still encodes to something a CP949 reader decodes
    /// without a replacement character.
    #[test]
    fn cp949_round_trips(text in "[a-zA-Z0-9 !?.가-힣]{0,40}", other in "\\PC{0,20}") {
        let bytes = Encoding::Cp949.encode(&text);
        prop_assert_eq!(Charset::fixed(Encoding::Cp949).decode(&bytes), text.as_str());
        let encoded = Encoding::Cp949.encode(&other);
        let decoded = Charset::fixed(Encoding::Cp949).decode(&encoded).into_owned();
        prop_assert!(!decoded.contains(char::REPLACEMENT_CHARACTER), "{:?}", decoded);
        prop_assert_eq!(&*Encoding::Utf8.encode(&other), other.as_bytes());
    }

    /// Names that differ only in case, or in surrounding blanks, are one
    /// person; being the same person is symmetric.
    #[test]
    fn nickname_folding(name in "[a-zA-Z0-9_가-힣-]{1,16}", other in "\\PC{0,16}") {
        prop_assert!(same_person(&name, &name.to_uppercase()));
        prop_assert!(same_person(&name, &name.to_lowercase()));
        let padded = format!("  {} ", name);
        prop_assert!(same_person(&name, &normalize_nick(&padded)));
        prop_assert_eq!(same_person(&name, &other), same_person(&other, &name));
        if valid_nick(&name) {
            prop_assert!(!same_person(&name, "server"));
        }
        let typed = normalize_nick(&other);
        prop_assert_eq!(normalize_nick(&typed), typed);
    }

    /// The room's promises (see `suda::room::fuzzing`) over random short
    /// sequences of joins, lines, leaves, clock moves and answers.
    #[test]
    fn room_invariants_hold_after_every_step(ops in vec(any::<u8>(), 0..400)) {
        suda::room::fuzzing::run(&ops);
    }
}
