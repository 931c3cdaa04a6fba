//! `suda connect` as a user runs it: the real binary as a subprocess with
//! piped standard input and output, against the real server (or, where
//! the test must see the wire, a fake peer on a loopback socket).

mod util;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Stdio;

use encoding_rs::EUC_KR;
use util::{closed_port, suda, ChatClient, Server, READ_TIMEOUT};

const WELCOME: &str = "[Server]: Welcome to suda! (0/10 online)";
const PROMPT: &str = "[Server]: Enter your nickname:";

fn cp949(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = EUC_KR.encode(text);
    assert!(!unmappable, "{text} must be CP949");
    bytes.into_owned()
}

/// The transcript's lines without their `[YYYY-MM-DD HH:MM:SS] ` stamps,
/// checking each stamp's shape on the way.
fn transcript(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let (stamp, rest) = line.split_at(22);
            let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
            assert_eq!(digits.len(), 14, "stamp of {line:?}");
            assert!(stamp.starts_with('[') && stamp.ends_with("] "), "{line:?}");
            rest.to_string()
        })
        .collect()
}

#[test]
fn receives_and_sends() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.chat_client(&["--nick", "Bob"]);
    bob.expect("[Server]: Welcome to suda! (1/10 online)");
    bob.expect(PROMPT);
    bob.expect("[Server]: Welcome, Bob! Type /help for commands.");
    alice.expect("[Server]: Bob has joined the chat.");

    alice.send("Hello Bob, 안녕!");
    bob.expect(util::ENCODING_HINT);
    bob.expect("Alice >> Hello Bob, 안녕!");
    bob.send("Hi Alice");
    alice.expect("Bob >> Hi Alice");
    bob.send("/whisper Alice psst");
    bob.expect("[Whisper to Alice] psst");
    alice.expect("[Whisper from Bob] psst");

    // End of input leaves cleanly: the server sees the connection end.
    bob.close_stdin();
    alice.expect("[Server]: Bob has left the chat.");
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
    assert_eq!(bob.stdout.next_line(), None);
}

/// A line piped before the nickname prompt arrived is sent after the
/// server accepted `--nick`, not taken as the nickname.
#[test]
fn lines_typed_before_the_prompt_wait_for_the_nickname() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.chat_client(&["--nick", "Bob"]);
    bob.send("early bird");
    bob.send("/users");
    alice.expect("[Server]: Bob has joined the chat.");
    alice.expect("Bob >> early bird");
    bob.joined("Bob");
    bob.expect("[Server]: Users online (2/10): Alice (admin), Bob");
}

#[test]
fn exit_command_and_input_from_a_regular_file() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    // epoll refuses regular files: this is the relay thread's path.
    let path = server.file("input.txt");
    std::fs::write(&path, "hello from a file\n/exit\n").expect("write input");
    let mut command = suda();
    command.args([
        "connect",
        &server.addr.to_string(),
        "--nick",
        "Bob",
        "--no-log",
    ]);
    let mut bob = ChatClient::spawn(command, Stdio::from(File::open(&path).expect("open")));
    bob.joined("Bob");
    bob.expect("[Server]: Bye, Bob!");
    alice.expect("[Server]: Bob has joined the chat.");
    alice.expect("Bob >> hello from a file");
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

/// Without --nick, the user answers the prompt (piped or typed).
#[test]
fn without_nick_the_user_answers_the_prompt() {
    let server = Server::start(&[]);
    let _alice = server.join("Alice");
    let mut client = server.chat_client(&[]);
    client.until(PROMPT);
    client.send("alice");
    client.expect("[Server]: Nickname \"alice\" is already in use. Enter your nickname:");
    client.send("Carol");
    client.expect("[Server]: Welcome, Carol! Type /help for commands.");
}

/// Piped chat is never taken as a nickname: if --nick is refused, the
/// client stops with one line instead (at a terminal, the user would be
/// asked for another).
#[test]
fn piped_chat_is_not_sent_as_a_nickname() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let path = server.file("chat.txt");
    std::fs::write(&path, "hello everyone\n").expect("write input");
    let mut command = suda();
    command.args([
        "connect",
        &server.addr.to_string(),
        "--nick",
        "alice",
        "--no-log",
    ]);
    let mut client = ChatClient::spawn(command, Stdio::from(File::open(&path).expect("open")));
    let (status, stderr) = client.finish();
    assert!(!status.success());
    assert!(stderr.contains("the nickname was refused"), "{stderr}");
    assert_eq!(
        alice.sync(),
        Vec::<String>::new(),
        "no one joined as \"hello everyone\""
    );
}

#[test]
fn nick_retries_try_numbered_names() {
    let server = Server::start(&[]);
    let _first = server.join("Alice");
    let _second = server.join("Alice_2");
    let mut client = server.chat_client(&["--nick", "Alice", "--nick-retries", "3"]);
    let before = client.until("[Server]: Welcome, Alice_3! Type /help for commands.");
    assert_eq!(
        &before[before.len() - 2..],
        [
            "[Server]: Nickname \"Alice\" is already in use. Enter your nickname:",
            "[Server]: Nickname \"Alice_2\" is already in use. Enter your nickname:",
        ]
    );
}

#[test]
fn writes_the_transcript_and_follows_a_rename() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let dir = tempfile::tempdir().expect("dir");
    let log_dir = dir.path().to_str().expect("utf-8 path");
    let mut bob = server.chat_client(&["--nick", "Bob", "--log-dir", log_dir]);
    bob.joined("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    alice.send("hi Bob");
    bob.expect("Alice >> hi Bob");
    bob.send("hello Alice");
    alice.expect("Bob >> hello Alice");
    bob.send("/rename Robert");
    bob.expect("[Server]: Your nickname is now \"Robert\".");
    alice.send("nice name");
    bob.expect("Alice >> nice name");
    bob.send("/exit");
    bob.expect("[Server]: Bye, Robert!");
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");

    let renamed = "[Server]: Your nickname is now \"Robert\".";
    assert_eq!(
        transcript(&dir.path().join("Bob_chat_log.txt")),
        [
            WELCOME.replace("(0/", "(1/").as_str(),
            PROMPT,
            "[Server]: Welcome, Bob! Type /help for commands.",
            "Alice >> hi Bob",
            "Bob >> hello Alice",
            renamed,
        ]
    );
    assert_eq!(
        transcript(&dir.path().join("Robert_chat_log.txt")),
        [renamed, "Alice >> nice name", "[Server]: Bye, Robert!"]
    );
}

#[test]
fn no_log_writes_no_transcript() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("dir");
    let mut command = suda();
    command.current_dir(dir.path()).args([
        "connect",
        &server.addr.to_string(),
        "--nick",
        "Bob",
        "--no-log",
    ]);
    let mut bob = ChatClient::spawn(command, Stdio::piped());
    bob.joined("Bob");
    bob.send("/exit");
    bob.expect("[Server]: Bye, Bob!");
    assert_eq!(bob.finish().0.code(), Some(0));
    let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn reports_connection_refused() {
    let port = closed_port();
    let mut client = ChatClient::start(&[&format!("127.0.0.1:{port}"), "--nick", "Bob"]);
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr,
        format!("suda: cannot connect to 127.0.0.1:{port}: connection refused\n")
    );
}

#[test]
fn a_bad_address_is_one_line_and_exit_code_1() {
    let mut client = ChatClient::start(&["127.0.0.1:http"]);
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr,
        "suda: cannot connect to 127.0.0.1:http: \"http\" is not a port number\n"
    );
}

#[test]
fn exits_when_kicked() {
    let server = Server::start(&[]);
    let mut admin = server.join("Alice");
    let mut bob = server.chat_client(&["--nick", "Bob"]);
    bob.joined("Bob");
    admin.expect("[Server]: Bob has joined the chat.");
    admin.send("/kick Bob");
    bob.expect("[Server]: You have been kicked from the chat.");
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(3));
    assert_eq!(stderr, "suda: You have been kicked from the chat.\n");
}

#[test]
fn reports_a_lost_connection() {
    let server = Server::start(&[]);
    let mut bob = server.chat_client(&["--nick", "Bob"]);
    bob.joined("Bob");
    drop(server);
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(1));
    assert_eq!(stderr, "suda: Connection closed by the server.\n");
}

/// The Hangul exchange: a CP949 client and a UTF-8 client, both
/// `suda connect`, read each other through the real server.
#[test]
fn cp949_and_utf8_clients_exchange_hangul() {
    let server = Server::start(&[]);
    let mut yeonghee = server.chat_client(&["--nick", "영희"]);
    yeonghee.joined("영희");
    let mut cheolsu = server.chat_client(&["--nick", "철수", "--encoding", "cp949"]);
    let before = cheolsu.until("[Server]: Welcome, 철수! Type /help for commands.");
    assert!(
        before.contains(&"[Server]: Your encoding is now CP949.".to_string()),
        "{before:?}"
    );
    yeonghee.expect("[Server]: 철수 has joined the chat.");

    yeonghee.send("안녕하세요, 철수님!");
    cheolsu.expect("영희 >> 안녕하세요, 철수님!");
    cheolsu.send("반갑습니다 똠방각하");
    yeonghee.expect("철수 >> 반갑습니다 똠방각하");
    // Emoji reach the CP949 side as text emoticons.
    yeonghee.send("웃음 😀 🦄");
    cheolsu.expect("영희 >> 웃음 :D (?)");
}

/// A fake server on a loopback TCP port, for tests that must see the
/// bytes on the wire.
struct FakeServer {
    /// Where the test's lines go to the client.
    out: TcpStream,
    /// What the client sends, read line by line with a deadline.
    wire: BufReader<TcpStream>,
}

impl FakeServer {
    /// Starts `suda connect` with `args` to a fresh port and accepts it.
    fn with_client(args: &[&str]) -> (FakeServer, ChatClient) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let mut all = vec![addr.as_str()];
        all.extend_from_slice(args);
        let client = ChatClient::start(&all);
        let (stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        let out = stream.try_clone().expect("clone");
        let wire = BufReader::new(stream);
        (FakeServer { out, wire }, client)
    }

    /// Sends bytes to the client as they are.
    fn say(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).expect("send");
    }

    /// The next line the client sent (without `\n`), or `None` once it
    /// closed its side.
    fn line(&mut self) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        match self.wire.read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) => {
                assert_eq!(line.pop(), Some(b'\n'), "line end");
                assert!(!line.contains(&0xff), "the client must not send telnet IAC");
                Some(line)
            }
            Err(e) => panic!("no line within {READ_TIMEOUT:?}: {e}"),
        }
    }
}

/// What `--encoding cp949` puts on the wire, seen by a fake server.
#[test]
fn cp949_mode_speaks_cp949_on_the_wire() {
    let (mut server, mut client) =
        FakeServer::with_client(&["--nick", "철수", "--encoding", "cp949"]);
    server.say(format!("{WELCOME}\n{PROMPT}\n").as_bytes());
    assert_eq!(server.line().as_deref(), Some(&b"/encoding cp949"[..]));
    server.say(b"[Server]: Your encoding is now CP949.\n");
    assert_eq!(server.line(), Some(cp949("철수")));
    server.say(&cp949(
        "[Server]: Welcome, 철수! Type /help for commands.\n",
    ));
    server.say(&cp949("영희 >> 안녕하세요\n"));

    client.until("[Server]: Welcome, 철수! Type /help for commands.");
    client.expect("영희 >> 안녕하세요");
    client.send("반갑습니다");
    assert_eq!(server.line(), Some(cp949("반갑습니다")));

    // End of input: our side of the connection is shut down.
    client.close_stdin();
    assert_eq!(server.line(), None);
    drop(server);
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// After `Bye` the client closes its side and, should the server not
/// close, stops waiting after --close-wait.
#[test]
fn bye_ends_the_session_even_if_the_server_lingers() {
    let (mut server, mut client) = FakeServer::with_client(&["--close-wait", "200ms"]);
    server.say(b"[Server]: Welcome, Bob! Type /help for commands.\n");
    client.send("/exit");
    assert_eq!(server.line().as_deref(), Some(&b"/exit"[..]));
    server.say(b"[Server]: Bye, Bob!\n");
    assert_eq!(server.line(), None, "the client closed its side");
    // The server keeps its side open (it lives to the end of the test):
    // only the --close-wait deadline can end the client.
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    client.until("[Server]: Bye, Bob!");
}

/// The UDP transport against a fake server: HELO first, one line per
/// datagram each way, keep-alives, `/exit` at the end of input.
#[test]
fn udp_transport_against_a_fake_server() {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    let addr = peer.local_addr().expect("addr").to_string();
    let mut client =
        ChatClient::start(&[&addr, "--udp", "--nick", "Alice", "--keepalive", "200ms"]);
    let mut buf = [0u8; 65536];
    let mut datagram = || -> (String, std::net::SocketAddr) {
        let (n, from) = peer
            .recv_from(&mut buf)
            .expect("a datagram from the client");
        let text = String::from_utf8(buf[..n].to_vec()).expect("UTF-8");
        assert!(!text.contains('\n'), "one line per datagram: {text:?}");
        (text, from)
    };
    let (hello, client_addr) = datagram();
    assert_eq!(hello, "HELO");
    let say = |line: &str| {
        peer.send_to(line.as_bytes(), client_addr).expect("send");
    };
    say(&format!("{WELCOME}\n"));
    say(&format!("{PROMPT}\n"));
    assert_eq!(datagram().0, "Alice");
    say("[Server]: Welcome, Alice! Type /help for commands.\n");
    client.expect(WELCOME);
    client.expect(PROMPT);
    client.expect("[Server]: Welcome, Alice! Type /help for commands.");

    client.send("hello");
    client.send("second line");
    let mut next = || loop {
        let (text, _) = datagram();
        if text != "/ping" {
            return text;
        }
    };
    assert_eq!(next(), "hello");
    assert_eq!(next(), "second line");
    // A datagram without a line end is a line too.
    say("Bob >> hi Alice");
    client.expect("Bob >> hi Alice");
    // Silence: the keep-alive comes.
    assert_eq!(datagram().0, "/ping");

    client.close_stdin();
    loop {
        let (text, _) = datagram();
        if text == "/exit" {
            break;
        }
        assert_eq!(text, "/ping");
    }
    say("[Server]: Bye, Alice!\n");
    client.expect("[Server]: Bye, Alice!");
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn udp_kick_ends_with_the_kick_code() {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    let addr = peer.local_addr().expect("addr").to_string();
    let mut client = ChatClient::start(&[&addr, "--udp"]);
    let mut buf = [0u8; 64];
    let (_, from) = peer.recv_from(&mut buf).expect("HELO");
    peer.send_to(b"[Server]: You have been kicked from the chat.\n", from)
        .expect("send");
    client.expect("[Server]: You have been kicked from the chat.");
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(3));
    assert_eq!(stderr, "suda: You have been kicked from the chat.\n");
}

/// Over UDP nothing connects: a port where nobody listens answers with
/// ICMP "port unreachable", which the client reports as refused.
#[test]
fn udp_with_nobody_listening_is_refused() {
    let port = {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("addr").port()
    };
    let mut client = ChatClient::start(&[&format!("127.0.0.1:{port}"), "--udp"]);
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr,
        format!("suda: cannot connect to 127.0.0.1:{port} (UDP): connection refused\n")
    );
}
