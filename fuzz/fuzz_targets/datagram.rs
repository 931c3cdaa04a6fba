//! The UDP datagram path: a line cut into datagrams fits, is put back
//! whole by the client, and no piece passes for a server line; the first
//! line of any datagram; the address token against any answer.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use suda::client::reassembly::Reassembly;
use suda::client::transport::Received;
use suda::net::datagram::{cut, first_line, looks_like_server_line, CONTINUED, MAX_DATAGRAM};
use suda::net::udp_token::{Tokens, TOKEN_LEN};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Incoming: only the first line counts.
    let first = first_line(data);
    assert!(data.starts_with(first));
    assert!(first.iter().filter(|&&b| b == b'\n').count() <= 1);
    let _ = looks_like_server_line(data);

    // Outgoing: the datagrams one line goes out as. What the server sends
    // is sanitized: no line end inside, no CR.
    let mut line: Vec<u8> = data
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && b != b'\r')
        .collect();
    // Long enough to be cut now and then, from short fuzz inputs.
    let times = usize::from(data.first().copied().unwrap_or(0) % 8) * 200 + 1;
    line = line.repeat(times.min(MAX_DATAGRAM * 4 / line.len().max(1) + 1));
    // Nor does it start like a piece: a server line starts with `[` or a
    // nickname (the first run of this target made one of "+ " and found
    // the client shows it as a piece, as it should).
    if line.starts_with(CONTINUED) {
        line.insert(0, b'x');
    }
    line.push(b'\n');
    let mut rest = &line[..];
    let mut continued = false;
    let mut pieces = Vec::new();
    while !rest.is_empty() {
        let take = cut(rest, continued);
        assert!(
            take > 0 && take <= rest.len(),
            "cut {take} of {}",
            rest.len()
        );
        let mut datagram = if continued {
            CONTINUED.to_vec()
        } else {
            Vec::new()
        };
        datagram.extend_from_slice(&rest[..take]);
        assert!(
            datagram.len() <= MAX_DATAGRAM,
            "a datagram of {}",
            datagram.len()
        );
        if continued {
            assert!(
                looks_like_server_line(&datagram),
                "a piece passes for a person"
            );
        }
        pieces.push(datagram);
        rest = &rest[take..];
        continued = true;
    }
    let mut whole = Reassembly::default();
    let mut got = Vec::new();
    let now = Instant::now();
    for piece in &pieces {
        whole.push(piece, now, 1 << 20, &mut got);
    }
    whole.expire(now + Duration::from_secs(10), &mut got);
    let body = &line[..line.len() - 1];
    let want = if pieces.len() == 1 {
        Received::Line(body.to_vec())
    } else {
        Received::Pieced(body.to_vec())
    };
    assert_eq!(got, [want], "{} pieces", pieces.len());

    // Any datagram into the client's reassembly: bounded, no panic.
    let mut any = Reassembly::default();
    let mut out = Vec::new();
    for piece in data.split(|&b| b == 0) {
        any.push(piece, now, 64, &mut out);
    }
    for received in &out {
        if let Received::Line(l) | Received::Pieced(l) = received {
            assert!(
                l.len() <= 64 + CONTINUED.len(),
                "{} bytes past the limit",
                l.len()
            );
        }
    }

    // The token: any answer but the issued one (up to case and blanks) fails.
    let tokens = Tokens::with_key([7; 16], now);
    let peer: SocketAddr = "192.0.2.1:5000".parse().expect("fixed");
    let token = tokens.issue(peer, now);
    if tokens.check(peer, data, now) {
        let cleaned: Vec<u8> = data
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .map(u8::to_ascii_lowercase)
            .collect();
        assert_eq!(cleaned.len(), TOKEN_LEN, "{data:?} passed");
        assert_eq!(cleaned, token.as_str().to_ascii_lowercase().as_bytes());
    }
    assert!(tokens.check(peer, token.as_str().as_bytes(), now));
});
