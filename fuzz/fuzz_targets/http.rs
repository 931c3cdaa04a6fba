//! An HTTP request head and its body, as the chat port receives them:
//! the head parser never panics, a head cut anywhere before its end is
//! "not yet" (a request that arrives in pieces is not refused), and a
//! body decodes to the same bytes, the same end and the same verdict
//! however its bytes are cut.
#![no_main]

use suda::net::http::body::BodyReader;
use suda::net::http::request::{parse, Body, Parsed};

/// `--http-max-headers` defaults to 64; small values reach 431.
const MAX_HEADERS: [usize; 3] = [1, 8, 64];

/// The body fed as `pieces`: its bytes, how much input it used, whether
/// it ended, or `None` if the framing broke.
fn decode(mut body: BodyReader, pieces: &[&[u8]]) -> Option<(Vec<u8>, usize, bool)> {
    let mut out = Vec::new();
    let mut used = 0;
    for piece in pieces {
        if body.done() {
            break;
        }
        let n = body.feed(piece, &mut out).ok()?;
        assert!(n <= piece.len());
        used += n;
        if n < piece.len() {
            // The rest belongs to the next request: the body is over.
            assert!(body.done(), "stopped early without ending");
            break;
        }
    }
    Some((out, used, body.done()))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&cut, data)) = data.split_first() else {
        return;
    };
    let max_headers = MAX_HEADERS[usize::from(cut) % MAX_HEADERS.len()];
    let Ok(Parsed::Complete(req, used)) = parse(data, max_headers) else {
        return;
    };
    assert!(used <= data.len());
    match parse(&data[..used], max_headers) {
        Ok(Parsed::Complete(_, again)) => assert_eq!(again, used),
        other => panic!("the head alone parsed as {other:?}"),
    }
    for end in 0..used {
        assert!(
            matches!(parse(&data[..end], max_headers), Ok(Parsed::Partial)),
            "a head cut at {end} of {used} bytes was not \"not yet\""
        );
    }
    let reader = || match req.body {
        Body::Length(n) => Some(BodyReader::Length(n)),
        Body::Chunked => Some(BodyReader::chunked()),
        Body::None => None,
    };
    if reader().is_none() {
        return;
    }
    let reader = || reader().expect("a body");
    let rest = &data[used..];
    let whole = decode(reader(), &[rest]);
    // Cut the body into pieces of 1..=8 bytes, sizes from `cut`.
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut size = usize::from(cut);
    while at < rest.len() {
        let n = (size % 8 + 1).min(rest.len() - at);
        pieces.push(&rest[at..at + n]);
        at += n;
        size = size / 8 + n * 5 + 1;
    }
    let split = decode(reader(), &pieces);
    assert_eq!(whole, split, "the body depends on how it was cut");
});
