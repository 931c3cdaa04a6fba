//! The UDP transport: one datagram is one line, in the same room as TCP.

mod util;

use std::net::UdpSocket;

use util::{Server, READ_TIMEOUT};

/// A participant speaking datagrams, as `nc -u` would.
struct UdpClient {
    socket: UdpSocket,
}

impl UdpClient {
    fn new(server: &Server) -> UdpClient {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.connect(server.addr).expect("connect");
        socket
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        UdpClient { socket }
    }

    fn send(&self, text: &str) {
        self.socket.send(text.as_bytes()).expect("send");
    }

    /// The next datagram, which must hold exactly one line.
    fn line(&self) -> String {
        let mut buf = [0u8; 65536];
        let n = self.socket.recv(&mut buf).expect("a datagram in time");
        let text = std::str::from_utf8(&buf[..n]).expect("UTF-8");
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
}

#[test]
fn udp_and_tcp_participants_share_the_room() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    udp.send("HELO");
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

#[test]
fn a_nickname_can_be_the_first_datagram_and_silence_ends_the_session() {
    let server = Server::start(&["--udp", "--udp-idle", "1s"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    udp.send("Quiet");
    udp.until("[Server]: Welcome, Quiet! Type /help for commands.");
    alice.expect("[Server]: Quiet has joined the chat.");
    // Keep-alives are not chat, and do not count as a new session.
    udp.send("/ping");
    udp.send("");
    assert_eq!(alice.sync(), Vec::<String>::new());
    alice.expect("[Server]: Quiet has left the chat.");
    alice.send("/users");
    alice.expect("[Server]: Users online (1/10): Alice (admin)");
    // A keep-alive after the server forgot the address gets the prompt
    // again, rather than the next line silently becoming a nickname.
    udp.send("/ping");
    udp.expect("[Server]: Welcome to suda! (1/10 online)");
    udp.expect("[Server]: Enter your nickname:");
}

/// Keep-alives keep a silent UDP participant in, well past --udp-idle.
#[test]
fn keep_alives_keep_a_session() {
    let server = Server::start(&["--udp", "--udp-idle", "1s"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    udp.send("Pinger");
    udp.until("[Server]: Welcome, Pinger! Type /help for commands.");
    alice.expect("[Server]: Pinger has joined the chat.");
    // Three times --udp-idle, a keep-alive every quarter of it (this pacing
    // is the client's job, not a wait for the server).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        udp.send("/ping");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    alice.send("/users");
    alice.expect("[Server]: Users online (2/10): Alice (admin), Pinger");
}

#[test]
fn every_line_is_its_own_datagram_and_limits_apply() {
    let server = Server::start(&["--udp", "--max-line", "64"]);
    let udp = UdpClient::new(&server);
    udp.send("Multi");
    udp.until("[Server]: Welcome, Multi! Type /help for commands.");
    udp.send("/help");
    udp.expect("[Server]: Commands:");
    udp.until("[Server]: Anything else is sent to everyone. Start a line with // to send one that begins with /.");
    udp.send(&"x".repeat(100));
    udp.expect("[Server]: Message too long (max 64 bytes).");
}

#[test]
fn cp949_over_udp() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let udp = UdpClient::new(&server);
    let (nick, _, _) = encoding_rs::EUC_KR.encode("민수");
    udp.socket.send(&nick).expect("send");
    let mut buf = [0u8; 2048];
    loop {
        let n = udp.socket.recv(&mut buf).expect("datagram");
        let (text, _, _) = encoding_rs::EUC_KR.decode(&buf[..n]);
        if text.contains("Welcome, 민수!") {
            break;
        }
    }
    alice.expect(util::ENCODING_HINT);
    alice.expect("[Server]: 민수 has joined the chat.");
    alice.send("안녕하세요");
    let n = udp.socket.recv(&mut buf).expect("datagram");
    assert_eq!(
        &buf[..n],
        &encoding_rs::EUC_KR.encode("Alice >> 안녕하세요\n").0[..]
    );
}

/// `suda connect --udp` against the real server: the same room as a TCP
/// client, both ways, whispers included; it leaves cleanly at end of input.
#[test]
fn the_client_over_udp_meets_a_tcp_client() {
    let server = Server::start(&["--udp"]);
    let mut alice = server.join("Alice");
    let mut dana = server.chat_client(&["--udp", "--nick", "Dana"]);
    dana.joined("Dana");
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
