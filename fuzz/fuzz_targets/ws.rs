//! The WebSocket stream as the reactor sees it, over a socket pair:
//! whatever frames a client sends, reading yields whole UTF-8 lines with
//! no line break inside and none longer than the frame limit, or ends
//! (closed, refused); and every line the room writes arrives at the
//! client as one text frame holding exactly that line.
#![no_main]

use std::io::{Cursor, IoSlice, Read, Write};

use mio::net::UnixStream;
use suda::net::conn::Stream;
use suda::net::web::ws::{WsLimits, WsStream};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

/// `--max-line` is at least 32 bytes (cli.rs).
const MAX_LINE: [usize; 3] = [32, 512, 4096];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&knobs, data)) = data.split_first() else {
        return;
    };
    let limits = WsLimits {
        max_line: MAX_LINE[usize::from(knobs) % MAX_LINE.len()],
        max_outbuf: 64 * 1024,
    };
    // The first part is what the client sends, the rest what the room writes.
    let at = data.iter().position(|&b| b == 0xfe).unwrap_or(data.len());
    let (sent, written) = (&data[..at], data.get(at + 1..).unwrap_or_default());
    let Ok((ours, mut theirs)) = UnixStream::pair() else {
        return;
    };
    let mut ws = WsStream::new(Stream::Local(ours), Vec::new(), sent.to_vec(), limits);

    let mut lines = Vec::new();
    let mut buf = [0u8; 7];
    let mut open = false;
    for _ in 0..10_000 {
        match ws.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => lines.extend_from_slice(&buf[..n]),
            Err(e) => {
                open = e.kind() == std::io::ErrorKind::WouldBlock;
                break;
            }
        }
    }
    let text = std::str::from_utf8(&lines).expect("lines are UTF-8");
    if !text.is_empty() {
        assert!(text.ends_with('\n'), "{text:?}");
    }
    for line in text.split_terminator('\n') {
        assert!(!line.contains('\r'), "{line:?}");
        assert!(line.len() <= limits.max_frame(), "{} bytes", line.len());
    }

    if !open {
        return;
    }
    // What the room writes: lines cut at its 0xfe bytes, each ending in \n.
    let mut expected = Vec::new();
    let mut out = Vec::new();
    for line in written.split(|&b| b == 0xfe).take(64) {
        let line: Vec<u8> = line
            .iter()
            .copied()
            .filter(|&b| b != b'\n')
            .take(limits.max_line)
            .collect();
        let shown = String::from_utf8_lossy(&line).into_owned();
        expected.push(shown.strip_suffix('\r').unwrap_or(&shown).to_string());
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    let mut taken = 0;
    let mut spins = 0;
    let mut framed = Vec::new();
    while taken < out.len() && spins < 1000 {
        spins += 1;
        let (a, b) = out[taken..].split_at((out.len() - taken) / 2);
        match ws.write_vectored(&[IoSlice::new(a), IoSlice::new(b)]) {
            Ok(n) => taken += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("an open WebSocket refused a write: {e}"),
        }
        let _ = ws.flush();
        let mut chunk = [0u8; 65536];
        while let Ok(n) = theirs.read(&mut chunk) {
            if n == 0 {
                break;
            }
            framed.extend_from_slice(&chunk[..n]);
        }
    }
    if taken < out.len() {
        return;
    }
    let mut client = WebSocket::from_raw_socket(Cursor::new(framed), Role::Client, None);
    let mut got = Vec::new();
    while let Ok(message) = client.read() {
        match message {
            Message::Text(t) => got.push(t.to_string()),
            // A pong or a close for what the client sent.
            Message::Pong(_) | Message::Close(_) | Message::Ping(_) => {}
            other => panic!("{other:?} sent to a browser"),
        }
    }
    assert_eq!(got, expected);
});
