//! The UDP transport: one datagram is one line, in the same room as TCP,
//! and only for addresses that have shown they receive (issue 11).

mod util;

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use util::{Server, READ_TIMEOUT};

/// The contract's bound on what an unverified address may be sent.
const STRANGER_MAX_BYTES: usize = 64;
/// The largest datagram the server sends.
const MAX_DATAGRAM: usize = 1200;
/// The marker of every piece of a long line but the first.
const CONTINUED: &str = "+ ";
/// Flags for tests that ask for many tokens in quick succession, where the
/// server-wide cap on token replies (tested on its own) would get in the way.
const UNCAPPED: [&str; 3] = ["--udp", "--udp-unverified-rate", "100000/s"];
/// What a stranger's datagram gets.
const INVITE_PREFIX: &str = "[Server]: Send HELO ";
const INVITE_SUFFIX: &str = " to join.\n";

/// A participant speaking datagrams, as `nc -u` would.
struct UdpClient {
    socket: UdpSocket,
}

impl UdpClient {
    fn new(server: &Server) -> UdpClient {
        UdpClient::from(server.addr, "127.0.0.1:0")
    }

    /// A socket bound to `local`, connected to `to`.
    fn from(to: SocketAddr, local: &str) -> UdpClient {
        let socket = UdpSocket::bind(local).expect("bind");
        socket.connect(to).expect("connect");
        socket
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        UdpClient { socket }
    }

    fn send(&self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    fn send_bytes(&self, bytes: &[u8]) {
        self.socket.send(bytes).expect("send");
    }

    /// The next datagram, as it came.
    fn datagram(&self) -> Vec<u8> {
        let mut buf = [0u8; 65536];
        let n = self.socket.recv(&mut buf).expect("a datagram in time");
        buf[..n].to_vec()
    }

    /// Datagrams already here, without waiting.
    fn waiting(&self) -> Vec<Vec<u8>> {
        self.socket.set_nonblocking(true).expect("nonblocking");
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // ICMP for an earlier datagram: nothing here.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => panic!("receive failed: {e}"),
            }
        }
        self.socket.set_nonblocking(false).expect("blocking");
        got
    }

    /// The next datagram, which must hold exactly one line.
    fn line(&self) -> String {
        let datagram = self.datagram();
        let text = String::from_utf8(datagram).expect("UTF-8");
        let line = text.strip_suffix('\n').expect("a line ends with \\n");
        assert!(!line.contains('\n'), "one line per datagram: {text:?}");
        line.to_string()
    }

    fn expect(&self, wanted: &str) {
        assert_eq!(self.line(), wanted);
    }

    fn until(&self, wanted: &str) {
        while self.line() != wanted {}
    }

    /// Asks for a token; returns it.
    fn token(&self) -> String {
        self.send("HELO");
        token_of(&self.datagram())
    }

    /// Does the exchange: HELO, the token back, the banner.
    fn verify(&self) {
        let token = self.token();
        self.send(&format!("HELO {token}"));
        let welcome = self.line();
        assert!(welcome.starts_with("[Server]: Welcome to "), "{welcome}");
        self.expect("[Server]: Enter your nickname:");
    }

    /// Verifies and joins as `nick`.
    fn join(&self, nick: &str) {
        self.verify();
        self.send(nick);
        self.expect(&format!(
            "[Server]: Welcome, {nick}! Type /help for commands."
        ));
    }
}

/// The token of an invitation datagram, which must be exactly that.
fn token_of(datagram: &[u8]) -> String {
    let text = std::str::from_utf8(datagram).expect("UTF-8");
    let token = text
        .strip_prefix(INVITE_PREFIX)
        .and_then(|rest| rest.strip_suffix(INVITE_SUFFIX))
        .unwrap_or_else(|| panic!("not an invitation: {text:?}"));
    assert!((8..=16).contains(&token.len()), "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
    assert!(datagram.len() <= STRANGER_MAX_BYTES, "{}", datagram.len());
    token.to_string()
}

/// Sends `datagram` from `from` to `to` (a stranger's datagram), and
/// returns every datagram `from` got for it. A second socket's HELO then
/// serves as the barrier: the server answers strangers at once, in the
/// order their datagrams came, so when the second socket has its answer,
/// any answer to the first is already here.
fn answers(to: SocketAddr, from: &UdpClient, datagram: &[u8]) -> Vec<Vec<u8>> {
    from.send_bytes(datagram);
    let barrier = UdpClient::from(to, "127.0.0.1:0");
    barrier.token();
    from.waiting()
}

#[test]
fn udp_and_tcp_participants_share_the_room() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    let token = udp.token();
    udp.send(&format!("HELO {token}"));
    udp.expect("[Server]: Welcome to suda! (1/10 online)");
    udp.expect("[Server]: Enter your nickname:");
    udp.send("Dgram\n");
    udp.expect("[Server]: Welcome, Dgram! Type /help for commands.");
    alice.expect("[Server]: Dgram has joined the chat.");

    udp.send("hello over udp");
    alice.expect("Dgram >> hello over udp");
    alice.send("hello over tcp");
    udp.expect("Alice >> hello over tcp");

    udp.send("/whisper Alice psst");
    udp.expect("[Whisper to Alice] psst");
    alice.expect("[Whisper from Dgram] psst");
    alice.send("/w dgram back at you");
    udp.expect("[Whisper from Alice] back at you");
    alice.expect("[Whisper to Dgram] back at you");

    udp.send("/users");
    udp.expect("[Server]: Users online (2/10): Alice (admin), Dgram");
    udp.send("/exit");
    udp.expect("[Server]: Bye, Dgram!");
    alice.expect("[Server]: Dgram has left the chat.");
}

/// What a stranger sends, whatever it is, gets one line of at most 64
/// bytes, and no seat: ten strangers sending a nickname each leave the
/// room as it was.
#[test]
fn a_stranger_gets_one_short_line_and_no_seat() {
    let server = Server::start(&[&UNCAPPED[..], &["--max-clients", "3"]].concat());
    let mut alice = server.join("Alice");
    let many_h = format!("Nick\n{}", "/h\n".repeat(19));
    let probes: Vec<&[u8]> = vec![
        b"HELO",
        b"x",
        b"ab",
        b"/who",
        b"/ping",
        b"HELO 0123456789ab",
        many_h.as_bytes(),
        b"Teacher\n/schedules\n/unschedule 2\n/users",
        "민수".as_bytes(),
    ];
    for probe in &probes {
        let stranger = UdpClient::new(&server);
        let got = answers(server.addr, &stranger, probe);
        assert_eq!(got.len(), 1, "{probe:?}: {got:?}");
        token_of(&got[0]);
    }
    // Ten strangers from one address, each with a good nickname.
    for i in 0..10 {
        let stranger = UdpClient::new(&server);
        let got = answers(server.addr, &stranger, format!("n{i}").as_bytes());
        assert_eq!(got.len(), 1);
    }
    alice.send("/users");
    alice.expect("[Server]: Users online (1/3): Alice (admin)");
    // The room still has its seats.
    let mut bob = server.join("Bob");
    bob.send("/users");
    bob.expect("[Server]: Users online (2/3): Alice (admin), Bob");
    // An empty datagram from a stranger gets nothing at all.
    let stranger = UdpClient::new(&server);
    assert!(answers(server.addr, &stranger, b"").is_empty());
}

/// A token is good for the address it was made for, and only that.
#[test]
fn a_token_works_only_from_its_own_address() {
    let server = Server::start(&UNCAPPED);
    let mut alice = server.join("Alice");
    let owner = UdpClient::new(&server);
    let token = owner.token();
    let thief = UdpClient::new(&server);
    let got = answers(server.addr, &thief, format!("HELO {token}").as_bytes());
    assert_eq!(got.len(), 1);
    assert_ne!(token_of(&got[0]), token, "another address, another token");
    // A wrong token is answered like any stranger's datagram.
    let got = answers(server.addr, &owner, b"HELO 0000000000zz");
    assert_eq!(got.len(), 1);
    token_of(&got[0]);
    // Typed by hand, in capitals, with a line end: still good.
    owner.send(&format!("helo {}\r\n", token.to_uppercase()));
    owner.expect("[Server]: Welcome to suda! (1/10 online)");
    owner.expect("[Server]: Enter your nickname:");
    // The handshake again from a participant is not a line for the room.
    owner.send(&format!("HELO {token}"));
    owner.send("HELO");
    owner.send("Dgram");
    owner.expect("[Server]: Welcome, Dgram! Type /help for commands.");
    alice.expect("[Server]: Dgram has joined the chat.");
}

#[test]
fn silence_ends_a_session_and_the_server_asks_again() {
    let server = Server::start(&["--udp", "--udp-idle", "1s"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    udp.join("Quiet");
    alice.expect("[Server]: Quiet has joined the chat.");
    // Keep-alives are not chat.
    udp.send("/ping");
    udp.send("");
    assert_eq!(alice.sync(), Vec::<String>::new());
    alice.expect("[Server]: Quiet has left the chat.");
    alice.send("/users");
    alice.expect("[Server]: Users online (1/10): Alice (admin)");
    // A keep-alive after the server forgot the address is a stranger's
    // datagram: it gets a token, and the exchange starts again.
    udp.send("/ping");
    let token = token_of(&udp.datagram());
    udp.send(&format!("HELO {token}"));
    udp.expect("[Server]: Welcome to suda! (1/10 online)");
    udp.expect("[Server]: Enter your nickname:");
}

/// Keep-alives keep a silent UDP participant in, well past --udp-idle.
#[test]
fn keep_alives_keep_a_session() {
    let server = Server::start(&["--udp", "--udp-idle", "1s"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    udp.join("Pinger");
    alice.expect("[Server]: Pinger has joined the chat.");
    // Three times --udp-idle, a keep-alive every quarter of it (this pacing
    // is the client's job, not a wait for the server).
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        udp.send("/ping");
        std::thread::sleep(Duration::from_millis(250));
    }
    alice.send("/users");
    alice.expect("[Server]: Users online (2/10): Alice (admin), Pinger");
}

#[test]
fn every_line_is_its_own_datagram_and_limits_apply() {
    let server = Server::start(&["--udp", "--max-line", "64"]);
    let udp = UdpClient::new(&server);
    udp.join("Multi");
    udp.send("/help");
    udp.expect("[Server]: Commands:");
    udp.until("[Server]: Anything else is sent to everyone. Start a line with // to send one that begins with /.");
    udp.send(&"x".repeat(100));
    udp.expect("[Server]: Message too long (max 64 bytes).");
}

/// One datagram is one line: what follows its first line end is dropped,
/// from a nickname or from a participant, so a datagram cannot carry a
/// burst of commands past the rate.
#[test]
fn a_datagram_of_many_lines_runs_only_its_first() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let teacher = UdpClient::new(&server);
    teacher.verify();
    teacher.send("Teacher\n/schedules\n/users");
    teacher.expect("[Server]: Welcome, Teacher! Type /help for commands.");
    alice.expect("[Server]: Teacher has joined the chat.");
    // Had /schedules or /users run, their answers would come before this one.
    teacher.send("/users");
    teacher.expect("[Server]: Users online (2/10): Alice (admin), Teacher");

    teacher.send("first line\nsecond line\n/users\n");
    alice.expect("Teacher >> first line");
    assert_eq!(alice.sync(), Vec::<String>::new());
    teacher.send("/whisper Alice done");
    teacher.expect("[Whisper to Alice] done");
}

#[test]
fn cp949_over_udp() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    udp.verify();
    let (nick, _, _) = encoding_rs::EUC_KR.encode("민수");
    udp.send_bytes(&nick);
    loop {
        let datagram = udp.datagram();
        let (text, _, _) = encoding_rs::EUC_KR.decode(&datagram);
        if text.contains("Welcome, 민수!") {
            break;
        }
    }
    alice.expect(util::ENCODING_HINT);
    alice.expect("[Server]: 민수 has joined the chat.");
    alice.send("안녕하세요");
    assert_eq!(
        udp.datagram(),
        &encoding_rs::EUC_KR.encode("Alice >> 안녕하세요\n").0[..]
    );
}

/// `suda connect --udp` against the real server: the token exchange by
/// itself, the same room as a TCP client, both ways, whispers included; it
/// leaves cleanly at end of input.
#[test]
fn the_client_over_udp_meets_a_tcp_client() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let mut dana = server.chat_client(&["--udp", "--nick", "Dana"]);
    dana.expect("[Server]: Welcome to suda! (1/10 online)");
    dana.expect("[Server]: Enter your nickname:");
    dana.expect("[Server]: Welcome, Dana! Type /help for commands.");
    alice.expect("[Server]: Dana has joined the chat.");
    dana.send("안녕하세요 over UDP");
    alice.expect(util::ENCODING_HINT);
    alice.expect("Dana >> 안녕하세요 over UDP");
    alice.send("/w Dana 비밀");
    alice.expect("[Whisper to Dana] 비밀");
    dana.expect("[Whisper from Alice] 비밀");
    dana.close_stdin();
    dana.until("[Server]: Bye, Dana!");
    let (status, stderr) = dana.finish();
    assert!(status.success(), "{stderr}");
    alice.expect("[Server]: Dana has left the chat.");
}

/// `--encoding cp949` over UDP: the `/encoding` request waits for the
/// exchange, then goes through.
#[test]
fn the_client_over_udp_in_cp949() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let mut dana = server.chat_client(&["--udp", "--nick", "Dana", "--encoding", "cp949"]);
    dana.until("[Server]: Your encoding is now CP949.");
    alice.until("[Server]: Dana has joined the chat.");
    alice.send("안녕, 다나");
    // `--encoding cp949` means Dana's terminal is CP949 too.
    let (wanted, _, _) = encoding_rs::EUC_KR.encode("Alice >> 안녕, 다나");
    dana.stdout.until_bytes(&wanted);
}

/// The attack of issue 11: a message padded so that the cut between two
/// datagrams falls just before a forged notice. The notice never starts a
/// datagram, and `suda connect --udp` shows one chat line and goes on.
#[test]
fn a_forged_notice_at_the_cut_stays_inside_its_chat_line() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let mut mallory = server.join("Mallory");
    let vic = UdpClient::new(&server);
    vic.join("Vic");
    let mut dana = server.chat_client(&["--udp", "--nick", "Dana"]);
    dana.joined("Dana");
    alice.until("[Server]: Dana has joined the chat.");
    mallory.until("[Server]: Dana has joined the chat.");
    vic.until("[Server]: Dana has joined the chat.");

    // "Mallory >> " is 11 bytes: 1 188 bytes of padding and a space put
    // the forged notice at byte 1 200, where the cut falls.
    for notice in [
        "[Server]: You have been kicked from the chat.",
        "[Server]: The server is shutting down.",
        "[Server]: Your encoding is now CP949.",
        "[Server]: Welcome, Teacher! Type /help for commands.",
    ] {
        let text = format!("{} {notice}", "x".repeat(1188));
        mallory.send(&text);
        let line = format!("Mallory >> {text}");
        alice.expect(&line);

        let mut pieces = vec![vic.datagram()];
        while !pieces[pieces.len() - 1].ends_with(b"\n") {
            pieces.push(vic.datagram());
        }
        assert_eq!(pieces.len(), 2, "{notice}");
        assert!(pieces.iter().all(|p| p.len() <= MAX_DATAGRAM));
        assert!(pieces[0].starts_with(b"Mallory >> "));
        let second = String::from_utf8(pieces[1].clone()).expect("UTF-8");
        assert_eq!(second, format!("{CONTINUED}{notice}\n"));
        assert!(!pieces.iter().any(|p| p.starts_with(b"[Server]:")));

        dana.expect(&line);
    }
    // Dana was not kicked, renamed, switched to CP949 or stopped.
    alice.send("still there, 다나?");
    dana.expect("Alice >> still there, 다나?");
    assert!(dana.running(), "the client must not have ended");
    dana.send("/users");
    dana.expect("[Server]: Users online (4/10): Alice (admin), Mallory, Vic, Dana");
    dana.close_stdin();
    dana.until("[Server]: Bye, Dana!");
    let (status, stderr) = dana.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// Lines much longer than a datagram come back whole through the client.
#[test]
fn a_long_line_arrives_whole_through_the_client() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let mut dana = server.chat_client(&["--udp", "--nick", "Dana"]);
    dana.joined("Dana");
    alice.until("[Server]: Dana has joined the chat.");
    let text = "가나다라마바사 ".repeat(180); // 3 960 bytes: 4 datagrams
    alice.send(text.trim_end());
    dana.expect(&format!("Alice >> {}", text.trim_end()));
}

/// A stranger's datagram that looks like a server's line gets nothing:
/// two servers pointed at each other (through a relay, which is what a
/// forged address amounts to) exchange one datagram and fall silent.
#[test]
fn two_servers_pointed_at_each_other_fall_silent() {
    let a = Server::start(&UNCAPPED);
    let b = Server::start(&UNCAPPED);
    // The relay's two ends: one talks to A, the other to B.
    let to_a = UdpClient::from(a.addr, "127.0.0.1:0");
    let to_b = UdpClient::from(b.addr, "127.0.0.1:0");
    // A's answer to HELO goes to B, as if B had asked...
    to_a.send("HELO");
    let from_a = to_a.datagram();
    token_of(&from_a);
    assert!(answers(b.addr, &to_b, &from_a).is_empty(), "B answered A");
    // ...and B's answer goes to A.
    to_b.send("HELO");
    let from_b = to_b.datagram();
    assert!(answers(a.addr, &to_a, &from_b).is_empty(), "A answered B");
    // Nor does any other line a server sends start a conversation.
    for line in [
        "[Server]: Welcome to suda! (1/10 online)\n",
        "[Whisper from Bob] hi\n",
        "[Scheduled by Bob] hi\n",
        "[Search by Bob] why?\n",
        "[AI] because\n",
        "Bob >> hi\n",
        "+ the rest of a long line\n",
        "[2026-11-23 15:04] [Server]: Enter your nickname:\n",
    ] {
        assert!(answers(a.addr, &to_a, line.as_bytes()).is_empty(), "{line}");
    }
}

/// A datagram from the server's own port on a local address (the server
/// itself, or a second server on this machine) gets nothing; the same
/// datagram from another port does.
#[test]
fn the_servers_own_address_gets_no_answer() {
    let server = Server::start(&UNCAPPED);
    let port = server.addr.port();
    let twin = UdpClient::from(server.addr, &format!("127.0.0.2:{port}"));
    assert!(answers(server.addr, &twin, b"HELO").is_empty());
    let other = UdpClient::from(server.addr, "127.0.0.2:0");
    assert_eq!(answers(server.addr, &other, b"HELO").len(), 1);
}

/// Under a flood of strangers' datagrams from many ports, the token
/// replies in all stay within `--udp-unverified-rate` (with its burst of a
/// tenth of a second's worth).
#[test]
fn token_replies_stay_within_the_rate_under_a_flood() {
    const RATE: f64 = 50.0;
    const BURST: f64 = 5.0;
    let server = Server::start(&["--udp", "--udp-unverified-rate", "50/s"]);
    let sockets: Vec<UdpClient> = (0..40).map(|_| UdpClient::new(&server)).collect();
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for s in &sockets {
            s.send("HELO");
            sent += 1;
        }
        // Pacing the flood (about 20 000 datagrams a second), not waiting
        // for the server.
        std::thread::sleep(Duration::from_millis(2));
    }
    // Collect: until nothing has come for 300 ms (bounded: the server
    // cannot send more than the rate allows for long).
    let (mut replies, mut bytes, mut last) = (0u64, 0usize, Instant::now());
    let deadline = Instant::now() + READ_TIMEOUT;
    while last.elapsed() < Duration::from_millis(300) && Instant::now() < deadline {
        let mut any = false;
        for s in &sockets {
            for d in s.waiting() {
                token_of(&d);
                replies += 1;
                bytes += d.len();
                any = true;
            }
        }
        if any {
            last = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let span = last.duration_since(start).as_secs_f64().max(1.0);
    println!(
        "flood: {sent} datagrams from {} ports in 1 s; {replies} replies ({bytes} B) in {span:.2} s; cap {RATE}/s",
        sockets.len()
    );
    assert!(
        sent > 2000,
        "the flood was too thin to test anything: {sent}"
    );
    assert!(replies >= BURST as u64, "{replies}");
    assert!(
        replies as f64 <= RATE * span + BURST + 1.0,
        "{replies} replies in {span:.2} s at {RATE}/s"
    );
}

/// One row of the amplification table: what was sent, what came back.
struct Row {
    request: String,
    sent: usize,
    datagrams: usize,
    bytes: usize,
}

impl Row {
    fn print(&self) {
        println!(
            "| {} ({} B) | {} datagram{}, {} B | {:.1}× |",
            self.request,
            self.sent,
            self.datagrams,
            if self.datagrams == 1 { "" } else { "s" },
            self.bytes,
            self.bytes as f64 / self.sent as f64
        );
    }
}

/// What one stranger's datagram brings back, from a fresh address.
fn stranger_row(to: SocketAddr, request: &str, datagram: &[u8]) -> Row {
    let stranger = UdpClient::from(to, "127.0.0.1:0");
    let got = answers(to, &stranger, datagram);
    Row {
        request: request.to_string(),
        sent: datagram.len(),
        datagrams: got.len(),
        bytes: got.iter().map(Vec::len).sum(),
    }
}

/// Issue 11's amplification table, measured again with real sockets
/// (`cargo test --test udp amplification -- --nocapture` prints it). Every
/// request of the table, in the state the table names, now brings a
/// stranger one line of at most 64 bytes; a participant's datagram of
/// many commands runs one.
#[test]
fn amplification_table_after_issue_11() {
    let mut server = Server::start(&[&UNCAPPED[..], &["--max-clients", "120"]].concat());
    let to = server.addr;
    let mut rows = Vec::new();
    let mut teacher = server.join("Teacher");
    for i in 0..19 {
        teacher.send(&format!("/schedule 1h {i:02}{}", "s".repeat(4000)));
        teacher.expect_prefix(&format!("[Server]: Message #{} scheduled for ", i + 1));
    }
    rows.push(stranger_row(to, "`HELO`", b"HELO"));
    rows.push(stranger_row(to, "a one-letter nickname", b"x"));
    let help = format!("N\n{}", "/h\n".repeat(19));
    rows.push(stranger_row(
        to,
        "a nickname and 19 × `/h` in one datagram",
        help.as_bytes(),
    ));
    let crowd: Vec<_> = (0..97).map(|i| server.join(&format!("p{i}"))).collect();
    let who = format!("N\n{}", "/who\n".repeat(19));
    rows.push(stranger_row(
        to,
        "a nickname and 19 × `/who` with 98 people online",
        who.as_bytes(),
    ));
    // The blind setup of the table: 19 × 4 KB schedules from a forged address.
    let blind = UdpClient::new(&server);
    for _ in 0..19 {
        let setup = format!("N\n/schedule 1h {}", "b".repeat(4000));
        assert_eq!(answers(to, &blind, setup.as_bytes()).len(), 1);
    }
    let got = answers(to, &blind, b"/schedules");
    rows.push(Row {
        request: "`/schedules` after a blind setup of 19 × 4 KB schedules".into(),
        sent: b"/schedules".len(),
        datagrams: got.len(),
        bytes: got.iter().map(Vec::len).sum(),
    });

    server.signal(util::SIGTERM);
    assert!(server.wait().success());
    drop((teacher, crowd));
    let server = Server::start_in(server.into_dir(), &UNCAPPED);
    let to = server.addr;
    rows.push(stranger_row(
        to,
        "`x\\n/schedules` after a restart with 19 orphaned 4 KB schedules",
        b"x\n/schedules",
    ));
    rows.push(stranger_row(
        to,
        "`Teacher\\n/schedules\\n/unschedule 2\\n/users` after the restart",
        b"Teacher\n/schedules\n/unschedule 2\n/users",
    ));

    println!("| request (from an unverified address) | reply | factor |");
    println!("|---|---|---|");
    for row in &rows {
        row.print();
        assert_eq!(row.datagrams, 1, "{}", row.request);
        assert!(row.bytes <= STRANGER_MAX_BYTES, "{}", row.request);
    }

    // A verified participant's datagram of 19 commands runs one of them.
    let dana = UdpClient::new(&server);
    dana.join("Dana");
    let count_help = |datagram: &str| {
        dana.send(datagram);
        dana.send("/users");
        let mut n = 0;
        while !dana.line().starts_with("[Server]: Users online") {
            n += 1;
        }
        n
    };
    let one = count_help("/h");
    let many = count_help(&"/h\n".repeat(19));
    println!(
        "verified participant: `/h` gets {one} datagrams; 19 × `/h` in one datagram gets {many}"
    );
    assert!(one > 1);
    assert_eq!(many, one);
}
