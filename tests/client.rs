//! `suda connect` as a user runs it: the real binary as a subprocess with
//! piped standard input and output, against the real server (or, where
//! the test must see the wire, a fake peer on a loopback socket).

mod util;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::ffi::OsStrExt;
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
    // The client told the server its encoding: no hint about garbled Hangul.
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
    assert_eq!(status.code(), Some(1), "{stderr}");
    // Why, and what to do; not the server's question, which nobody answers.
    assert_eq!(
        stderr,
        "suda: the nickname was refused (Nickname \"alice\" is already in use.); \
         try another --nick, or --nick-retries N\n"
    );
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

/// A port that cannot be is a mistake on the command line, like any
/// other: one line, exit code 2, and no attempt to connect.
#[test]
fn a_bad_port_is_a_bad_command_line() {
    for port in ["99999", "http", "0"] {
        let server = format!("127.0.0.1:{port}");
        let mut client = ChatClient::start(&[&server]);
        let (status, stderr) = client.finish();
        assert_eq!(status.code(), Some(2), "{server}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("suda: invalid value '{server}'"))
                && stderr.contains("port")
                && stderr.ends_with("(see --help)\n"),
            "{stderr}"
        );
    }
}

/// A host that does not exist is a failure to connect (exit 1), not a
/// bad command line (`.invalid` never resolves, RFC 6761).
#[test]
fn an_unknown_host_is_exit_code_1() {
    let mut client = ChatClient::start(&["nohost.invalid:9999"]);
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr,
        "suda: cannot connect to nohost.invalid:9999: host not found\n"
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

/// The Hangul exchange: a CP949 console and a UTF-8 terminal,
/// both `suda connect`, read each other through the real server.
#[test]
fn cp949_and_utf8_clients_exchange_hangul() {
    let server = Server::start(&[]);
    let mut yeonghee = server.chat_client(&["--nick", "영희", "--encoding", "utf-8"]);
    yeonghee.joined("영희");
    let mut cheolsu = server.chat_client(&["--nick", "철수", "--encoding", "cp949"]);
    let before = cheolsu
        .stdout
        .until_bytes(&cp949("[Server]: Welcome, 철수! Type /help for commands."));
    assert!(
        before.contains(&b"[Server]: Your encoding is now CP949.".to_vec()),
        "{before:?}"
    );
    yeonghee.expect("[Server]: 철수 has joined the chat.");

    yeonghee.send("안녕하세요, 철수님!");
    assert_eq!(
        cheolsu.stdout.next_bytes(),
        Some(cp949("영희 >> 안녕하세요, 철수님!"))
    );
    cheolsu.send_bytes(&cp949("반갑습니다 똠방각하\n"));
    yeonghee.expect("철수 >> 반갑습니다 똠방각하");
    // What CP949 cannot hold (and is no emoji) reaches the CP949 side as '?'.
    yeonghee.send("태국어 ก");
    let mut shown = cp949("영희 >> 태국어 ");
    shown.push(b'?');
    assert_eq!(cheolsu.stdout.next_bytes(), Some(shown));
}

/// `suda connect` to `server` with `args`, its terminal's locale set by
/// `vars` alone (whatever locale the test runs in is removed first).
fn client_in_locale(server: &Server, args: &[&OsStr], vars: &[(&str, &str)]) -> ChatClient {
    let mut command = suda();
    command
        .arg("connect")
        .arg(server.addr.to_string())
        .args(args)
        .arg("--no-log");
    for name in ["LC_ALL", "LC_CTYPE", "LANG"] {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied());
    ChatClient::spawn(command, Stdio::piped())
}

/// 철수 at a CP949 console joins as `--nick 철수` typed there (CP949 bytes
/// on the command line) and chats with Alice, a UTF-8 nc user: CP949
/// bytes in and out at his end, proper UTF-8 Hangul at hers.
fn cp949_console_chats_with_utf8(alice: &mut util::Client, cheolsu: &mut ChatClient) {
    let before = cheolsu
        .stdout
        .until_bytes(&cp949("[Server]: Welcome, 철수! Type /help for commands."));
    assert!(
        before.contains(&b"[Server]: Your encoding is now CP949.".to_vec()),
        "the server was asked for CP949: {before:?}"
    );
    // Alice's nickname is ASCII: before her first Hangul, the hint.
    alice.expect(util::ENCODING_HINT);
    alice.expect("[Server]: 철수 has joined the chat.");
    cheolsu.send_bytes(&cp949("반갑습니다 똠방각하\n"));
    alice.expect("철수 >> 반갑습니다 똠방각하");
    alice.send("안녕하세요, 철수님!");
    assert_eq!(
        cheolsu.stdout.next_bytes(),
        Some(cp949("Alice >> 안녕하세요, 철수님!"))
    );
}

/// `--encoding cp949`: the person's terminal is CP949, whatever the locale.
#[test]
fn encoding_cp949_means_a_cp949_terminal() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let nick = cp949("철수");
    let args = ["--nick", "", "--encoding", "cp949"].map(OsStr::new);
    let args = [args[0], OsStr::from_bytes(&nick), args[2], args[3]];
    let mut cheolsu = client_in_locale(&server, &args, &[("LANG", "C.UTF-8")]);
    cp949_console_chats_with_utf8(&mut alice, &mut cheolsu);

    // The wire follows what the server is told; the terminal stays CP949,
    // and what it cannot show becomes '?'.
    cheolsu.send("/encoding utf-8");
    assert_eq!(
        cheolsu.stdout.next_bytes().as_deref(),
        Some(&b"[Server]: Your encoding is now UTF-8."[..])
    );
    alice.send("한글 € ก");
    let mut shown = cp949("Alice >> 한글 € ");
    shown.push(b'?');
    assert_eq!(cheolsu.stdout.next_bytes(), Some(shown));
    cheolsu.send_bytes(&cp949("아직 한글\n"));
    alice.expect("철수 >> 아직 한글");

    cheolsu.close_stdin();
    alice.expect("[Server]: 철수 has left the chat.");
    let (status, stderr) = cheolsu.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// Without `--encoding`, a locale naming CP949 or EUC-KR (the first of
/// LC_ALL, LC_CTYPE, LANG that is set and not empty) means a CP949
/// terminal.
#[test]
fn a_cp949_locale_means_a_cp949_terminal() {
    let locales: [&[(&str, &str)]; 3] = [
        &[("LC_ALL", "ko_KR.CP949"), ("LANG", "C.UTF-8")],
        &[("LC_ALL", ""), ("LC_CTYPE", "ko_KR.EUC-KR")],
        &[("LANG", "ko_KR.euckr")],
    ];
    let nick = cp949("철수");
    for vars in locales {
        let server = Server::start(&[]);
        let mut alice = server.join("Alice");
        let args = [OsStr::new("--nick"), OsStr::from_bytes(&nick)];
        let mut cheolsu = client_in_locale(&server, &args, vars);
        cp949_console_chats_with_utf8(&mut alice, &mut cheolsu);
    }
}

/// A UTF-8 locale (or none) is a UTF-8 terminal, and the server is not
/// asked for CP949.
#[test]
fn a_utf8_locale_means_a_utf8_terminal() {
    for vars in [&[("LANG", "C.UTF-8")][..], &[]] {
        let server = Server::start(&[]);
        let mut alice = server.join("Alice");
        let mut younghee = client_in_locale(&server, &["--nick", "영희"].map(OsStr::new), vars);
        let before = younghee.until("[Server]: Welcome, 영희! Type /help for commands.");
        assert!(
            !before.iter().any(|line| line.contains("Your encoding")),
            "{before:?}"
        );
        alice.expect(util::ENCODING_HINT);
        alice.expect("[Server]: 영희 has joined the chat.");
        younghee.send("반가워요");
        alice.expect("영희 >> 반가워요");
        alice.send("안녕 😀");
        assert_eq!(
            younghee.stdout.next_bytes().as_deref(),
            Some("Alice >> 안녕 😀".as_bytes())
        );
    }
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

    // The terminal is CP949 too.
    client
        .stdout
        .until_bytes(&cp949("[Server]: Welcome, 철수! Type /help for commands."));
    assert_eq!(
        client.stdout.next_bytes(),
        Some(cp949("영희 >> 안녕하세요"))
    );
    client.send_bytes(&cp949("반갑습니다\n"));
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
    // The client says what it speaks before anything else.
    assert_eq!(server.line().as_deref(), Some(&b"/encoding utf-8"[..]));
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
    assert_eq!(datagram().0, "/encoding utf-8");
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

/// The token exchange against a fake server: `HELO` (again if nothing
/// comes), the token back, and lines held until the server speaks; the
/// token line itself is not shown.
#[test]
fn udp_token_exchange_against_a_fake_server() {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    let addr = peer.local_addr().expect("addr").to_string();
    let mut client = ChatClient::start(&[&addr, "--udp", "--nick", "Alice", "--encoding", "cp949"]);
    let mut buf = [0u8; 65536];
    let mut datagram = || -> (Vec<u8>, std::net::SocketAddr) {
        let (n, from) = peer
            .recv_from(&mut buf)
            .expect("a datagram from the client");
        (buf[..n].to_vec(), from)
    };
    let (hello, from) = datagram();
    assert_eq!(hello, b"HELO");
    // No answer: it asks again, and sends nothing else meanwhile.
    assert_eq!(datagram().0, b"HELO");
    peer.send_to(b"[Server]: Send HELO k3x9m2p7q4rt to join.\n", from)
        .expect("send");
    assert_eq!(datagram().0, b"HELO k3x9m2p7q4rt");
    peer.send_to(format!("{WELCOME}\n").as_bytes(), from)
        .expect("send");
    peer.send_to(format!("{PROMPT}\n").as_bytes(), from)
        .expect("send");
    // The CP949 request was held for the server to speak, then the nickname.
    assert_eq!(datagram().0, b"/encoding cp949");
    assert_eq!(datagram().0, b"Alice");
    client.expect(WELCOME);
    client.expect(PROMPT);
}

/// Pieces of lines (a start without its end, a continuation without its
/// start) are shown, never obeyed: over UDP only a whole datagram is the
/// server's word.
#[test]
fn udp_pieces_are_shown_but_never_obeyed() {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    let addr = peer.local_addr().expect("addr").to_string();
    let mut client = ChatClient::start(&[&addr, "--udp"]);
    let mut buf = [0u8; 64];
    let (_, from) = peer.recv_from(&mut buf).expect("HELO");
    let say = |d: &[u8]| {
        peer.send_to(d, from).expect("send");
    };
    say(format!("{WELCOME}\n").as_bytes());
    client.expect(WELCOME);
    say(b"+ [Server]: You have been kicked from the chat.\n");
    client.expect("+ [Server]: You have been kicked from the chat.");
    say(b"[Server]: The server is shutting down.");
    say(b"Bob >> after\n");
    client.expect("[Server]: The server is shutting down.");
    client.expect("Bob >> after");
    // A long line in pieces is one line again.
    say(b"Bob >> one ");
    say(b"+ two ");
    say(b"+ three\n");
    client.expect("Bob >> one two three");
    assert!(client.running(), "a piece ended the client");
    // The real notice, whole in one datagram, is obeyed.
    say(b"[Server]: You have been kicked from the chat.\n");
    client.expect("[Server]: You have been kicked from the chat.");
    let (status, _) = client.finish();
    assert_eq!(status.code(), Some(3));
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

/// Whether `line` starts with the `[YYYY-MM-DD HH:MM] ` of a server run
/// with `--timestamps`.
fn server_stamped(line: &str) -> bool {
    let shape = b"[dddd-dd-dd dd:dd] ";
    line.len() >= shape.len()
        && shape
            .iter()
            .zip(line.as_bytes())
            .all(|(&want, &got)| match want {
                b'd' => got.is_ascii_digit(),
                _ => want == got,
            })
}

/// Reads a raw participant's lines until one ends with `suffix`.
fn until_suffix(client: &mut util::Client, suffix: &str) -> String {
    loop {
        let line = client.line();
        if line.ends_with(suffix) {
            return line;
        }
    }
}

/// Reads the client's output until a line ends with `suffix`.
fn output_until_suffix(client: &mut ChatClient, suffix: &str) -> String {
    loop {
        match client.stdout.next_line() {
            Some(line) if line.ends_with(suffix) => return line,
            Some(_) => {}
            None => panic!("end of output before a line ending {suffix:?}"),
        }
    }
}

/// With `suda serve --timestamps` every line already carries the room's
/// time: the transcript keeps that one, and stamps only what has none
/// (our own lines).
#[test]
fn the_transcript_does_not_stamp_a_stamped_line_again() {
    let server = Server::start(&["--timestamps"]);
    let mut alice = server.connect();
    until_suffix(&mut alice, "[Server]: Enter your nickname:");
    alice.send("Alice");
    until_suffix(
        &mut alice,
        "[Server]: Welcome, Alice! Type /help for commands.",
    );
    let dir = tempfile::tempdir().expect("dir");
    let log_dir = dir.path().to_str().expect("utf-8 path");
    let mut bob = server.chat_client(&["--nick", "Bob", "--log-dir", log_dir]);
    output_until_suffix(&mut bob, "[Server]: Welcome, Bob! Type /help for commands.");
    until_suffix(&mut alice, "[Server]: Bob has joined the chat.");
    alice.send("hi Bob");
    let shown = output_until_suffix(&mut bob, "Alice >> hi Bob");
    assert!(server_stamped(&shown), "{shown}");
    bob.send("hello Alice");
    until_suffix(&mut alice, "Bob >> hello Alice");
    bob.send("/exit");
    output_until_suffix(&mut bob, "[Server]: Bye, Bob!");
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");

    let text = std::fs::read_to_string(dir.path().join("Bob_chat_log.txt")).expect("transcript");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&shown.as_str()), "{lines:#?}");
    for line in &lines {
        // One clock per line: the server's, or else the client's own.
        let rest = if server_stamped(line) {
            &line[19..]
        } else {
            &line[22..]
        };
        assert!(!rest.starts_with("[20"), "two clocks: {line:?}");
        if rest == "Bob >> hello Alice" {
            assert!(
                !server_stamped(line) && line.as_bytes()[20] == b']',
                "{line:?}"
            );
        }
    }
    assert!(lines
        .iter()
        .any(|line| line.ends_with("] Bob >> hello Alice")));
}

/// A flood cannot fill the disk: at `--log-max` the transcript moves to
/// `.1` and starts again, so the newest lines are kept in two files of at
/// most `--log-max` each.
#[test]
fn a_flood_rotates_the_transcript_at_log_max() {
    const LINES: usize = 400;
    const MAX: u64 = 4096;
    let server = Server::start(&["--rate", "off"]);
    let mut alice = server.join("Alice");
    let dir = tempfile::tempdir().expect("dir");
    let log_dir = dir.path().to_str().expect("utf-8 path");
    let mut bob = server.chat_client(&["--nick", "Bob", "--log-dir", log_dir, "--log-max", "4KiB"]);
    bob.joined("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    let flood = |n: usize| format!("flood {n:03} {}", "x".repeat(40));
    let mut burst = String::new();
    for n in 0..LINES {
        burst.push_str(&flood(n));
        burst.push('\n');
    }
    alice.send_raw(burst.as_bytes());
    bob.until(&format!("Alice >> {}", flood(LINES - 1)));
    bob.send("/exit");
    bob.expect("[Server]: Bye, Bob!");
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "rotating is not worth a notice");

    let path = dir.path().join("Bob_chat_log.txt");
    let older = dir.path().join("Bob_chat_log.txt.1");
    for file in [&path, &older] {
        let size = std::fs::metadata(file).expect("a transcript file").len();
        assert!(size <= MAX, "{}: {size} bytes", file.display());
    }
    // The newest lines, in order, none missing between the two files.
    let mut lines = transcript(&older);
    lines.extend(transcript(&path));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("[Server]: Bye, Bob!")
    );
    let floods: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains(" >> flood "))
        .collect();
    assert!(floods.len() > 40, "{} lines kept", floods.len());
    let first = LINES - floods.len();
    for (line, n) in floods.iter().zip(first..) {
        assert_eq!(**line, format!("Alice >> {}", flood(n)));
    }
}

/// A symbolic link planted at the transcript's name (in a shared folder,
/// say) is not written through: one notice, and the chat goes on.
#[test]
fn a_symbolic_link_at_the_transcript_is_not_followed() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let dir = tempfile::tempdir().expect("dir");
    let elsewhere = tempfile::tempdir().expect("dir");
    let target = elsewhere.path().join("precious.txt");
    std::fs::write(&target, "not yours to write\n").expect("write");
    let link = dir.path().join("Bob_chat_log.txt");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let log_dir = dir.path().to_str().expect("utf-8 path");
    let mut bob = server.chat_client(&["--nick", "Bob", "--log-dir", log_dir]);
    bob.joined("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    alice.send("are you there?");
    bob.expect("Alice >> are you there?");
    bob.send("still here");
    alice.expect("Bob >> still here");
    bob.send("/exit");
    bob.expect("[Server]: Bye, Bob!");
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "suda: The transcript stopped: {} is a symbolic link, which the transcript \
             does not follow. The chat goes on.\n",
            link.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "not yours to write\n"
    );
    assert!(std::fs::symlink_metadata(&link)
        .expect("link")
        .file_type()
        .is_symlink());
}
