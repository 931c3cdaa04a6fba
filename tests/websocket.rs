//! The web client's transport without a browser: a WebSocket at `/ws` on
//! the chat port is a participant like a TCP one. Real sockets, the real
//! binary, tungstenite's client (or hand-made frames where the test needs
//! to control the bytes).

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};
use util::{Server, READ_TIMEOUT};

/// A blocking WebSocket client on `/ws`, with `origin` if given.
fn ws_connect(server: &Server, origin: Option<&str>) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .expect("request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().expect("header"));
    }
    let (ws, response) = tungstenite::client(request, stream).expect("handshake");
    assert_eq!(response.status(), 101);
    ws
}

/// The next text frame (pings and pongs skipped).
fn text(ws: &mut WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().expect("a frame") {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("not a text frame: {other:?}"),
        }
    }
}

/// Reads text frames until one equals `wanted`.
fn until(ws: &mut WebSocket<TcpStream>, wanted: &str) -> Vec<String> {
    let mut before = Vec::new();
    loop {
        let line = text(ws);
        if line == wanted {
            return before;
        }
        before.push(line);
    }
}

/// Joins over the WebSocket as `nick`.
fn ws_join(server: &Server, nick: &str) -> WebSocket<TcpStream> {
    let origin = format!("http://{}", server.addr);
    let mut ws = ws_connect(server, Some(&origin));
    let welcome = text(&mut ws);
    assert!(welcome.starts_with("[Server]: Welcome to "), "{welcome}");
    assert_eq!(text(&mut ws), "[Server]: Enter your nickname:");
    ws.send(Message::text(nick)).expect("send");
    assert_eq!(
        text(&mut ws),
        format!("[Server]: Welcome, {nick}! Type /help for commands.")
    );
    ws
}

/// An HTTP request's raw answer (the server closes after it).
fn http(server: &Server, request: &str) -> String {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client's text frame, masked as RFC 6455 requires.
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

const KEY_HEAD: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

#[test]
fn a_browser_and_a_terminal_share_the_room() {
    let server = Server::start(&[]);
    let page = http(
        &server,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Security-Policy: default-src 'none'; script-src 'self';"));
    assert!(page.contains("<script src=\"/app.js\""));
    let script = http(
        &server,
        "GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(script.contains("Content-Type: text/javascript"), "{script}");

    let mut term = server.join("터미널");
    let mut web = ws_join(&server, "브라우저");
    term.until("[Server]: 브라우저 has joined the chat.");
    web.send(Message::text("안녕하세요 from the web"))
        .expect("send");
    term.expect("브라우저 >> 안녕하세요 from the web");
    term.send("반가워요 from nc");
    until(&mut web, "터미널 >> 반가워요 from nc");
    // A frame is one line: a line break inside it does not start another.
    web.send(Message::text("one\ntwo")).expect("send");
    term.expect("브라우저 >> one two");
    // Whispers work both ways too.
    term.send("/w 브라우저 비밀");
    until(&mut web, "[Whisper from 터미널] 비밀");
}

#[test]
fn a_frame_split_across_reads_is_one_line() {
    let server = Server::start(&[]);
    let mut term = server.join("Term");
    let mut raw = TcpStream::connect(server.addr).expect("connect");
    raw.set_nodelay(true).expect("nodelay");
    raw.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    // The request head itself in two pieces, the first frame right behind it.
    let head = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\n{KEY_HEAD}\r\n",
        server.addr
    );
    let (a, b) = head.split_at(20);
    raw.write_all(a.as_bytes()).expect("write");
    std::thread::sleep(Duration::from_millis(30));
    let mut rest = b.as_bytes().to_vec();
    rest.extend(masked_frame(1, "Splitter".as_bytes()));
    raw.write_all(&rest).expect("write");
    // Byte by byte, with pauses, so the server surely reads it in pieces.
    let frame = masked_frame(1, "조각조각 hello".as_bytes());
    for byte in &frame {
        raw.write_all(&[*byte]).expect("write");
        std::thread::sleep(Duration::from_millis(5));
    }
    term.until("[Server]: Splitter has joined the chat.");
    term.until("Splitter >> 조각조각 hello");
    let mut answer = [0u8; 12];
    raw.read_exact(&mut answer).expect("101");
    assert_eq!(&answer, b"HTTP/1.1 101");
}

#[test]
fn long_lines_are_answered_and_huge_frames_closed() {
    let server = Server::start(&["--max-line", "100"]);
    let mut term = server.join("Term");
    let mut web = ws_join(&server, "Web");
    // Over --max-line but within what is read: the room's answer, as over TCP.
    web.send(Message::text("x".repeat(150))).expect("send");
    until(&mut web, "[Server]: Message too long (max 100 bytes).");
    web.send(Message::text("still here")).expect("send");
    term.until("Web >> still here");
    // Far over it: closed with 1009, and the room hears the person left.
    let _ = web.send(Message::text("y".repeat(5000)));
    let deadline = Instant::now() + READ_TIMEOUT;
    let code = loop {
        assert!(Instant::now() < deadline, "no close frame");
        match web.read() {
            Ok(Message::Close(Some(frame))) => break frame.code,
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    };
    assert_eq!(code, CloseCode::Size);
    term.until("[Server]: Web has left the chat.");
}

#[test]
fn another_sites_page_is_refused_unless_allowed() {
    let server = Server::start(&["--web-origin", "https://class.example"]);
    let request = |origin: &str| {
        http(
            &server,
            &format!(
                "GET /ws HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\n{KEY_HEAD}\r\n",
                server.addr
            ),
        )
    };
    let evil = request("http://evil.example");
    assert!(evil.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{evil}");
    assert!(!evil.contains("Welcome"));
    let mut allowed = ws_connect(&server, Some("https://class.example"));
    assert!(text(&mut allowed).starts_with("[Server]: Welcome to "));
    let mut own = ws_connect(&server, Some(&format!("http://{}", server.addr)));
    assert!(text(&mut own).starts_with("[Server]: Welcome to "));
    let plain = http(&server, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(plain.starts_with("HTTP/1.1 400 "), "{plain}");
    let old = http(
        &server,
        &format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\n{}\r\n",
            KEY_HEAD.replace("Version: 13", "Version: 8")
        ),
    );
    assert!(old.starts_with("HTTP/1.1 426 "), "{old}");
    assert!(old.contains("Sec-WebSocket-Version: 13\r\n"), "{old}");
}

#[test]
fn pings_are_answered_and_closes_are_clean() {
    let server = Server::start(&[]);
    let mut term = server.join("Term");
    let mut web = ws_join(&server, "Pinger");
    web.send(Message::Ping(b"are you there"[..].into()))
        .expect("ping");
    let pong = loop {
        match web.read().expect("frame") {
            Message::Pong(data) => break data,
            Message::Text(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(&pong[..], b"are you there");

    // The client closes: it gets the closing handshake, the room the leave.
    web.close(None).expect("close");
    let deadline = Instant::now() + READ_TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "no close answer");
        match web.read() {
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => break,
            Ok(_) => {}
            Err(e) => panic!("not a clean close: {e}"),
        }
    }
    term.until("[Server]: Pinger has left the chat.");

    // The server closes (/exit): "Bye!", then a normal close frame.
    let mut leaver = ws_join(&server, "Leaver");
    leaver.send(Message::text("/exit")).expect("send");
    until(&mut leaver, "[Server]: Bye, Leaver!");
    match leaver.read() {
        Ok(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("no close frame: {other:?}"),
    }
    term.until("[Server]: Leaver has left the chat.");
}

#[test]
fn a_browser_that_stops_reading_is_dropped_not_waited_for() {
    let server = Server::start(&[
        "--max-outbuf",
        "64KiB",
        "--rate",
        "off",
        "--sndbuf",
        "16KiB",
    ]);
    let mut sender = server.join("Sender");
    let sluggard = ws_join(&server, "Sluggard");
    sender.until("[Server]: Sluggard has joined the chat.");
    // Send until the room says the sluggard is gone; it never reads.
    let body = "m".repeat(200);
    let deadline = Instant::now() + READ_TIMEOUT * 2;
    let mut batch = String::new();
    for i in 0..200 {
        batch.push_str(&format!("{i} {body}\n"));
    }
    sender.send_raw(batch.as_bytes());
    let mut sent = 1;
    loop {
        assert!(Instant::now() < deadline, "the sluggard was never dropped");
        let left = sender.sync();
        if left
            .iter()
            .any(|l| l == "[Server]: Sluggard has left the chat.")
        {
            break;
        }
        assert!(sent < 200, "8 MB sent and the sluggard is still in");
        sender.send_raw(batch.as_bytes());
        sent += 1;
    }
    drop(sluggard);
}

#[test]
fn the_load_tool_fans_out_to_browsers_without_loss() {
    let server = Server::start(&[
        "--rate",
        "off",
        "--max-clients",
        "100",
        "--log-file",
        "none",
    ]);
    // Thirty WebSockets joining at once, then every message to all of them.
    let output = util::suda_load()
        .args([
            "--addr",
            &server.addr.to_string(),
            "--ws",
            "--json",
            "--no-progress",
        ])
        .args([
            "--only",
            "fanout",
            "--fanout-clients",
            "30",
            "--fanout-senders",
            "2",
        ])
        .args([
            "--fanout-messages",
            "100",
            "--timeout",
            "30s",
            "--stall",
            "5s",
        ])
        .output()
        .expect("run suda-load");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let fanout = &run["workloads"][0];
    assert_eq!(fanout["transport"], "ws", "{fanout}");
    assert_eq!(fanout["ok"], true, "{fanout}");
    assert_eq!(fanout["deliveries"], 2 * 100 * 29, "{fanout}");
    assert_eq!(fanout["lost"], 0, "{fanout}");
}

#[test]
fn a_ping_flood_does_not_hold_up_the_room() {
    let server = Server::start(&["--rate", "off"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    let mut socket = TcpStream::connect(server.addr).expect("connect");
    let origin = format!("http://{}", server.addr);
    socket
        .write_all(
            format!("GET /ws HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\n{KEY_HEAD}\r\n").as_bytes(),
        )
        .expect("handshake");
    // Pings carry no line: nothing the reactor's line budget sees, and
    // this flooder never reads the pongs.
    let mut burst = Vec::new();
    for _ in 0..100_000 {
        burst.extend_from_slice(&masked_frame(0x9, b"p"));
    }
    let held_out = util::while_flooding(socket, burst, false, || {
        alice.send("still here?");
        bob.expect("Alice >> still here?");
    });
    assert!(held_out, "the line came only after the flood ended");
}

#[test]
fn a_line_longer_than_the_write_buffer_still_reaches_a_browser() {
    // --max-outbuf 4KiB caps the WebSocket's framed output at 4 KiB; the
    // answer to /users in a room of 260 is longer than that.
    let server = Server::start(&[
        "--max-outbuf",
        "4KiB",
        "--max-clients",
        "300",
        "--max-per-ip",
        "300",
        "--rate",
        "off",
    ]);
    let crowd: Vec<_> = (0..260)
        .map(|i| server.join(&format!("someone_with_{i:03}")))
        .collect();
    let mut ws = ws_join(&server, "Webby");
    ws.send(Message::text("/users")).expect("send");
    let users = loop {
        let line = text(&mut ws);
        if line.starts_with("[Server]: Users online (") {
            break line;
        }
    };
    assert!(users.len() > 4096, "{} bytes", users.len());
    assert!(users.contains("someone_with_259"), "{users}");
    // And the lines after it come too.
    ws.send(Message::text("/users")).expect("send");
    let again = loop {
        let line = text(&mut ws);
        if line.starts_with("[Server]: Users online (") {
            break line;
        }
    };
    assert_eq!(again, users);
    drop(crowd);
}

#[test]
fn a_browser_is_always_utf8_and_never_told_to_change() {
    let server = Server::start(&[]);
    let mut nc = server.join("Teacher");
    let mut ws = ws_join(&server, "학생");
    nc.until("[Server]: 학생 has joined the chat.");
    nc.send("안녕하세요");
    // No "Hangul looks garbled?" before the first Hangul: nothing to change.
    assert_eq!(text(&mut ws), "Teacher >> 안녕하세요");
    ws.send(Message::text("/encoding cp949")).expect("send");
    assert_eq!(text(&mut ws), "[Server]: This connection is always UTF-8.");
    nc.send("여전히 UTF-8");
    assert_eq!(text(&mut ws), "Teacher >> 여전히 UTF-8");
}
