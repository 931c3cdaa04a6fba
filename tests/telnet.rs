//! What telnet and netcat send: IAC negotiation, CR LF, no final newline.

mod util;

use util::Server;

/// A Windows telnet client's opening negotiation.
const NEGOTIATION: &[u8] =
    b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0";

#[test]
fn negotiation_is_stripped_and_refused() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut telnet = server.connect();
    telnet.send_raw(NEGOTIATION);
    let mut raw = Vec::new();
    // The refusals (WONT SGA, DONT TTYPE, DONT NAWS) come before any line we
    // had not read yet; collect everything up to the prompt.
    while !String::from_utf8_lossy(&raw).contains("Enter your nickname:") {
        raw.extend(telnet.line_bytes().expect("line"));
        raw.push(b'\n');
    }
    telnet.send_raw(b"Te\xff\xf1ll\r\n");
    let welcome = telnet.line_bytes().expect("welcome");
    let all: Vec<u8> = [raw, welcome].concat();
    for refusal in [&b"\xff\xfc\x03"[..], b"\xff\xfe\x18", b"\xff\xfe\x1f"] {
        assert!(
            all.windows(3).any(|w| w == refusal),
            "missing {refusal:?} in {all:?}"
        );
    }
    // A telnet client gets CR LF line ends from its first negotiation on;
    // netcat-style clients keep plain LF.
    assert!(
        String::from_utf8_lossy(&all)
            .contains("[Server]: Welcome, Tell! Type /help for commands.\r"),
        "{all:?}"
    );
    alice.expect("[Server]: Tell has joined the chat.");
    telnet.send_raw(b"hi \xff\xf6there\r\n");
    alice.expect("Tell >> hi there");
    alice.send("hello telnet");
    assert_eq!(
        telnet.line_bytes().expect("line"),
        b"Alice >> hello telnet\r"
    );
}

/// A client that asks about options forever must not make the server
/// queue answers forever: only the first few are answered.
#[test]
fn endless_negotiation_is_bounded() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut pest = server.connect();
    let burst = b"\xff\xfd\x01".repeat(10_000);
    for _ in 0..20 {
        pest.send_raw(&burst);
    }
    pest.send_raw(b"Pest\n");
    alice.expect("[Server]: Pest has joined the chat.");
    let mut answers = 0;
    let mut raw = Vec::new();
    while !String::from_utf8_lossy(&raw).contains("Welcome, Pest!") {
        let line = pest.line_bytes().expect("line");
        answers += line.windows(3).filter(|w| *w == b"\xff\xfc\x01").count();
        raw.extend(line);
    }
    assert_eq!(answers, 64);
}

#[test]
fn crlf_and_lf_both_end_a_line() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.connect();
    bob.send_raw(b"Bob\r\none\r\ntwo\nthree\r\n");
    alice.expect("[Server]: Bob has joined the chat.");
    alice.expect("Bob >> one");
    alice.expect("Bob >> two");
    alice.expect("Bob >> three");
}

#[test]
fn a_last_line_without_newline_is_delivered_at_eof() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.connect();
    bob.send_raw(b"Bob\ngoodbye without newline");
    bob.shutdown_write();
    alice.expect("[Server]: Bob has joined the chat.");
    alice.expect("Bob >> goodbye without newline");
    alice.expect("[Server]: Bob has left the chat.");
    // Bob still reads what was sent to him, then the server closes.
    let rest = bob.expect_closed();
    assert!(
        rest.iter()
            .any(|l| l == "[Server]: Welcome, Bob! Type /help for commands."),
        "{rest:?}"
    );
}

#[test]
fn lines_split_across_packets_are_joined() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    bob.stream().set_nodelay(true).expect("nodelay");
    for byte in "조각난 메시지".as_bytes() {
        bob.send_raw(&[*byte]);
    }
    bob.send_raw(b"\r\n");
    alice.expect(util::ENCODING_HINT);
    alice.expect("Bob >> 조각난 메시지");
}
