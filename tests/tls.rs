//! One port for chat, TLS and HTTP: a TLS participant and a plaintext one
//! in the same room, what the first bytes decide, the certificate reload,
//! and the limits of a handshake.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use util::tls::{write_cert, TlsClient};
use util::{Client, Server, READ_TIMEOUT};

/// A Windows telnet client's opening negotiation.
const NEGOTIATION: &[u8] =
    b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0";

/// The fingerprint the server printed at start (`suda: TLS certificate SHA256:...`).
fn printed_fingerprint(server: &Server) -> String {
    let text = server.stderr_text();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("suda: TLS certificate "))
        .unwrap_or_else(|| panic!("no fingerprint printed: {text}"));
    line.to_string()
}

/// Waits until the server's standard error holds `wanted`.
fn wait_for_stderr(server: &Server, wanted: &str) {
    let deadline = Instant::now() + READ_TIMEOUT;
    while !server.stderr_text().contains(wanted) {
        assert!(
            Instant::now() < deadline,
            "{wanted:?} never printed: {}",
            server.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tls_and_plaintext_participants_talk_in_one_room() {
    let server = Server::start(&["--tls-self-signed"]);
    let mut minsu = TlsClient::join(server.addr, "민수");
    let mut bob = server.join("Bob");
    minsu.expect("[Server]: Bob has joined the chat.");
    minsu.send("안녕하세요, 밥!");
    // Bob's nickname is ASCII: before his first Hangul, the hint.
    bob.expect(util::ENCODING_HINT);
    bob.expect("민수 >> 안녕하세요, 밥!");
    bob.send("반가워요 민수 🙂");
    minsu.expect("Bob >> 반가워요 민수 🙂");
    // The fingerprint printed at start is the certificate the client got,
    // and `suda fingerprint` shows it too.
    let printed = printed_fingerprint(&server);
    assert_eq!(printed, minsu.fingerprint.to_string());
    let shown = util::suda()
        .args(["fingerprint", "--tls-dir"])
        .arg(server.file("suda-tls"))
        .output()
        .expect("suda fingerprint");
    assert!(shown.status.success(), "{shown:?}");
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), printed);
    // Leaving over TLS: the room hears it, the session ends cleanly.
    minsu.send("/exit");
    minsu.expect("[Server]: Bye, 민수!");
    assert!(minsu.expect_closed().is_empty());
    assert!(minsu.closed_cleanly(), "no close_notify");
    bob.expect("[Server]: 민수 has left the chat.");
}

#[test]
fn a_second_start_keeps_the_self_signed_certificate() {
    let server = Server::start(&["--tls-self-signed"]);
    let first = printed_fingerprint(&server);
    let key = server.file("suda-tls").join("key.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key).expect("key file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the key is for the server's eyes only");
    let server = Server::start_in(server.into_dir(), &["--tls-self-signed"]);
    assert_eq!(printed_fingerprint(&server), first);
    assert_eq!(
        TlsClient::connect(server.addr).fingerprint.to_string(),
        first
    );
}

#[test]
fn telnet_negotiation_as_the_very_first_bytes_is_not_lost() {
    let server = Server::start(&["--tls-self-signed"]);
    let mut alice = server.join("Alice");
    let mut telnet = server.connect();
    // Negotiation and the nickname before the banner, in one write.
    telnet.send_raw(&[NEGOTIATION, b"Tell\r\n"].concat());
    let all = read_past(&mut telnet, "Welcome, Tell!");
    // It was taken for telnet: its DO SGA answered (WILL SGA, character
    // mode), CR LF line ends.
    assert!(all.windows(3).any(|w| w == b"\xff\xfb\x03"), "{all:?}");
    assert!(
        String::from_utf8_lossy(&all)
            .contains("[Server]: Welcome, Tell! Type /help for commands.\r"),
        "{all:?}"
    );
    alice.expect("[Server]: Tell has joined the chat.");
    // One byte of IAC alone first: still a chat client, still not lost.
    let mut slow = server.connect();
    slow.send_raw(b"\xff");
    std::thread::sleep(Duration::from_millis(30));
    slow.send_raw(b"\xfb\x18Slow\r\n");
    let all = read_past(&mut slow, "Welcome, Slow!");
    assert!(all.windows(3).any(|w| w == b"\xff\xfe\x18"), "{all:?}");
    alice.expect("[Server]: Slow has joined the chat.");
}

/// Everything up to and with the line that holds `wanted` (telnet
/// answers may stand in front of it on the same line).
fn read_past(client: &mut Client, wanted: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    loop {
        let line = client.line_bytes().expect("a line");
        let done = String::from_utf8_lossy(&line).contains(wanted);
        seen.extend(line);
        seen.push(b'\n');
        if done {
            return seen;
        }
    }
}

#[test]
fn a_silent_client_gets_the_banner_after_the_sniff_wait() {
    for (flag, wait) in [
        (None, Duration::from_millis(100)),
        (Some("400ms"), Duration::from_millis(400)),
    ] {
        let args: Vec<&str> = match flag {
            Some(value) => vec!["--tls-self-signed", "--sniff-wait", value],
            None => vec!["--tls-self-signed"],
        };
        let server = Server::start(&args);
        let started = Instant::now();
        let mut nc = server.connect();
        let welcome = nc.line();
        let took = started.elapsed();
        assert!(welcome.starts_with("[Server]: Welcome to "), "{welcome:?}");
        // Not before the wait (a TLS client is given that long to speak),
        // and not much after (a busy machine gets a generous margin).
        assert!(
            took + Duration::from_millis(20) >= wait,
            "banner after {took:?}, wait {wait:?}"
        );
        assert!(
            took <= wait + Duration::from_millis(1500),
            "banner after {took:?}, wait {wait:?}"
        );
    }
}

#[test]
fn http_is_answered_and_the_room_never_hears_of_it() {
    let server = Server::start(&["--tls-self-signed"]);
    let mut alice = server.join("Alice");
    let mut http = server.connect();
    http.send_raw(b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    http.expect("HTTP/1.1 404 Not Found\r");
    let rest = http.expect_closed();
    assert!(
        rest.iter()
            .any(|l| l == "Content-Type: text/plain; charset=utf-8\r"),
        "{rest:?}"
    );
    // The same inside TLS.
    let mut https = TlsClient::connect(server.addr);
    https.send_raw(b"HEAD /nothing.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    https.expect("HTTP/1.1 404 Not Found\r");
    https.expect_closed();
    assert!(https.closed_cleanly());
    // Nobody joined or left.
    assert!(alice.sync().is_empty());
}

#[test]
fn tls_only_refuses_plaintext_and_redirects_http() {
    let server = Server::start(&["--tls-self-signed", "--tls-only"]);
    let port = server.addr.port();
    let mut nc = server.connect();
    nc.expect(&format!(
        "[Server]: This server needs TLS. Connect with: suda connect --tls 127.0.0.1:{port}"
    ));
    assert!(nc.expect_closed().is_empty());
    // One who typed first is turned away the same way.
    let mut typing = server.connect();
    typing.send("Alice");
    typing.expect(&format!(
        "[Server]: This server needs TLS. Connect with: suda connect --tls 127.0.0.1:{port}"
    ));
    let mut http = server.connect();
    http.send_raw(format!("GET /f/1/a.txt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes());
    http.expect("HTTP/1.1 308 Permanent Redirect\r");
    let head = http.until("\r");
    assert!(
        head.contains(&format!("Location: https://127.0.0.1:{port}/f/1/a.txt\r")),
        "{head:?}"
    );
    // TLS is welcome.
    let mut alice = TlsClient::join(server.addr, "Alice");
    let mut bob = TlsClient::join(server.addr, "Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    bob.send("hello");
    alice.expect("Bob >> hello");
    // Without a certificate there is nothing to be "only".
    let refused = util::suda()
        .args([
            "serve",
            "--tls-only",
            "--bind",
            "127.0.0.1:0",
            "--log-file",
            "none",
        ])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--tls-only needs a certificate"));
    // Nor can TLS be recognised without a moment to speak first.
    let refused = util::suda()
        .args([
            "serve",
            "--tls-self-signed",
            "--sniff-wait",
            "0s",
            "--bind",
            "127.0.0.1:0",
        ])
        .args(["--log-file", "none"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--sniff-wait 0s"));
}

#[test]
fn sighup_reloads_the_certificate_while_sessions_go_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key, first) = write_cert(dir.path(), "live", &["localhost"]);
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let server = Server::start(&["--tls-cert", &cert_arg, "--tls-key", &key_arg]);
    let mut alice = TlsClient::join(server.addr, "Alice");
    assert_eq!(alice.fingerprint, first);
    // certbot renews: new files in the same place, then SIGHUP.
    let (_, _, second) = write_cert(dir.path(), "live", &["localhost"]);
    assert_ne!(first, second);
    server.signal(libc::SIGHUP);
    wait_for_stderr(&server, &format!("TLS certificate reloaded: {second}"));
    let mut bob = TlsClient::join(server.addr, "Bob");
    assert_eq!(bob.fingerprint, second);
    // Alice, still on the old session, hears Bob and talks to him.
    alice.expect("[Server]: Bob has joined the chat.");
    alice.send("still here");
    bob.expect("Alice >> still here");
    bob.send("welcome back");
    alice.expect("Bob >> welcome back");
    // A broken pair is refused and the current certificate stays.
    std::fs::write(&key, "not a key").expect("write");
    server.signal(libc::SIGHUP);
    wait_for_stderr(&server, "keeping the current TLS certificate");
    assert_eq!(TlsClient::connect(server.addr).fingerprint, second);
    alice.send("and still");
    bob.expect("Alice >> and still");
    assert!(
        !server.stderr_text().contains("not a key"),
        "the key's bytes must not be printed"
    );
}

#[test]
fn a_handshake_that_stalls_is_closed() {
    let server = Server::start(&["--tls-self-signed", "--tls-handshake-timeout", "1s"]);
    let mut alice = server.join("Alice");
    let mut stalled = TcpStream::connect(server.addr).expect("connect");
    stalled
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    // The start of a ClientHello that promises 512 bytes and never sends them.
    stalled
        .write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        .expect("send");
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let ended = match stalled.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("the server said something to half a hello: {:?}", &buf[..n]),
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    let took = started.elapsed();
    assert!(ended, "not closed within {READ_TIMEOUT:?}");
    assert!(
        took >= Duration::from_millis(900),
        "closed after {took:?}, before the timeout"
    );
    // A client that is no TLS at all past the first two bytes fails at once.
    let mut junk = TcpStream::connect(server.addr).expect("connect");
    junk.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    junk.write_all(b"\x16\x03\xff\xff\xff\xff\xff\xff\xff\xff")
        .expect("send");
    let mut rest = Vec::new();
    let _ = junk.read_to_end(&mut rest);
    assert!(!rest.starts_with(b"[Server]"), "{rest:?}");
    assert!(alice.sync().is_empty(), "the room never heard of them");
}

#[test]
fn a_tls_participant_that_stops_reading_is_dropped_and_the_room_goes_on() {
    let server = Server::start(&[
        "--tls-self-signed",
        "--max-outbuf",
        "64KiB",
        "--rate",
        "off",
    ]);
    let mut alice = server.join("Alice");
    let stuck = TlsClient::join(server.addr, "Stuck");
    alice.expect("[Server]: Stuck has joined the chat.");
    let line = "x".repeat(4000);
    let mut left = false;
    // Up to 40 MB for Stuck, far more than the kernel buffers hold.
    for _ in 0..50 {
        for _ in 0..200 {
            alice.send(&line);
        }
        // Alice's own lines are not echoed; only the leave comes back.
        if alice_saw_leave(&mut alice) {
            left = true;
            break;
        }
    }
    assert!(left, "Stuck was never dropped");
    drop(stuck);
    // Everything Alice sent is in the room before Carol comes: otherwise
    // the tail of 800 KB reaches Carol, and on a busy machine she is
    // dropped as a slow reader at 64 KiB, which is not what this tests.
    alice.sync();
    let mut carol = server.join("Carol");
    alice.expect("[Server]: Carol has joined the chat.");
    alice.send("still fast");
    carol.expect("Alice >> still fast");
}

/// Whether Alice's next line (if one is waiting) says Stuck left.
fn alice_saw_leave(alice: &mut Client) -> bool {
    alice
        .stream()
        .set_read_timeout(Some(Duration::from_millis(5)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let waiting = alice.stream().peek(&mut byte).is_ok();
    alice
        .stream()
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    waiting && alice.line() == "[Server]: Stuck has left the chat."
}

#[test]
fn stalled_handshakes_cannot_keep_a_newcomer_out() {
    let server = Server::start(&["--tls-self-signed", "--max-handshakes", "2"]);
    let stall = || {
        let mut s = TcpStream::connect(server.addr).expect("connect");
        s.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
        s.write_all(b"\x16\x03\x01\x02\x00\x01").expect("send");
        s
    };
    let mut first = stall();
    let _second = stall();
    // Both are mid-handshake (10 s to go); a chat client still gets in, and
    // the one waiting longest made room for it.
    let mut alice = server.connect();
    alice.expect_prefix("[Server]: Welcome to ");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let closed = matches!(first.read(&mut buf), Ok(0))
        || matches!(first.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset);
    assert!(closed, "the oldest stalled handshake was not dropped");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "dropped only by its timeout"
    );
}
