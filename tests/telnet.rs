//! What telnet and netcat send: negotiation replayed byte for byte as
//! Windows telnet, PuTTY and netkit telnet send it, character mode with
//! the server's line editing, CR LF, no final newline; and the real
//! `telnet` in tmux, where it is installed.

mod util;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use util::{Client, Server, READ_TIMEOUT};

/// An nc participant who said what its terminal speaks, so the server's
/// hint about garbled Hangul (for an unconfirmed ASCII nickname) does not
/// stand between it and the lines under test.
fn utf8_join(server: &Server, nick: &str) -> util::Client {
    let mut client = server.join(nick);
    client.send("/encoding utf-8");
    client.expect("[Server]: Your encoding is now UTF-8.");
    client
}

/// What the server offers a telnet client: WILL ECHO, WILL SGA (character
/// mode), WILL BINARY, DO BINARY (8 bits both ways), DO NAWS.
const OFFERS: &[u8] = b"\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x00\xff\xfd\x1f";

/// Windows telnet (telnet.exe) at connect: DO SGA, WILL TTYPE, WILL NAWS
/// and, unasked, its window size (80x24).
const WINDOWS_OPENING: &[u8] =
    b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0";
/// Windows telnet agreeing to the offers: DO ECHO, DO BINARY, WILL BINARY.
const WINDOWS_AGREES: &[u8] = b"\xff\xfd\x01\xff\xfd\x00\xff\xfb\x00";

/// PuTTY at connect (telnet.c, "active" negotiation, the default):
/// WILL NAWS, WILL TSPEED, WILL TTYPE, WILL NEW-ENVIRON, DO ECHO,
/// WILL SGA, DO SGA.
const PUTTY_OPENING: &[u8] =
    b"\xff\xfb\x1f\xff\xfb\x20\xff\xfb\x18\xff\xfb\x27\xff\xfd\x01\xff\xfb\x03\xff\xfd\x03";
/// PuTTY agreeing: DO BINARY, WILL BINARY, then its size for DO NAWS.
const PUTTY_AGREES: &[u8] = b"\xff\xfd\x00\xff\xfb\x00\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0";

/// netkit telnet (Linux) agreeing to the offers, as captured from
/// `telnet-ssl` in a 60x16 window: DO ECHO, DO SGA, DO BINARY,
/// WILL BINARY, WILL NAWS, its size.
const NETKIT_AGREES: &[u8] =
    b"\xff\xfd\x01\xff\xfd\x03\xff\xfd\x00\xff\xfb\x00\xff\xfb\x1f\xff\xfa\x1f\x00\x3c\x00\x10\xff\xf0";

/// The line "요" as netkit telnet sends it before any negotiation: its
/// byte 0x9A counts as Ctrl-Z, and goes out as IAC SUSP, IAC DO TIMING-MARK.
const NETKIT_YO: &[u8] = b"\xec\xff\xed\xff\xfd\x06\x94\r\n";

/// Erase the typed row: what comes before lines printed above it.
const ERASE: &[u8] = b"\r\x1b[K";

/// Reads a netcat-style banner up to the nickname prompt.
fn banner(client: &mut Client) {
    client.expect_prefix("[Server]: Welcome to ");
    client.expect("[Server]: Enter your nickname:");
}

/// Every LF in `bytes` comes right after a CR: no staircase.
fn assert_crlf_only(bytes: &[u8]) {
    for (at, _) in bytes.iter().enumerate().filter(|(_, &b)| b == b'\n') {
        assert!(
            at > 0 && bytes[at - 1] == b'\r',
            "bare LF at {at} in {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// The 2 350 syllables of KS X 1001 (EUC-KR rows 0xB0-0xC8), in order.
fn ks_x_1001_syllables() -> Vec<char> {
    let mut all = Vec::new();
    for lead in 0xB0..=0xC8u8 {
        for trail in 0xA1..=0xFEu8 {
            let pair = [lead, trail];
            let (text, _, bad) = encoding_rs::EUC_KR.decode(&pair);
            assert!(!bad);
            all.extend(text.chars());
        }
    }
    assert_eq!(all.len(), 2350);
    all
}

fn cp949(text: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::EUC_KR.encode(text);
    assert!(!bad);
    bytes.into_owned()
}

#[test]
fn windows_telnet_at_connect_gets_character_mode_and_line_editing() {
    let server = Server::start(&[]);
    let mut alice = utf8_join(&server, "Alice");
    let mut telnet = server.connect();
    telnet.send_raw(WINDOWS_OPENING);
    // Offered at its first command; TTYPE refused; DO SGA and WILL NAWS
    // answer what the server itself asked, so they draw no reply.
    // It negotiated from its first byte: the offers come before the
    // banner, and the banner ends its lines with CR LF.
    assert_eq!(telnet.bytes_until(OFFERS), OFFERS);
    let banner = telnet.bytes_until(b"[Server]: Enter your nickname:\r\n");
    assert!(String::from_utf8_lossy(&banner).contains("online)\r\n"));
    assert_eq!(telnet.bytes_until(b"\xff\xfe\x18"), b"\xff\xfe\x18");
    telnet.send_raw(WINDOWS_AGREES);
    // Key by key, a typo fixed with Backspace (0x08), Enter as CR LF.
    for key in [&b"T"[..], b"e", b"x", b"\x08", b"l", b"l", b"\r\n"] {
        telnet.send_raw(key);
    }
    let welcome = b"[Server]: Welcome, Tell! Type /help for commands.\r\n";
    let seen = telnet.bytes_until(welcome);
    assert_eq!(seen, [&b"Tex\x08 \x08ll\r\n"[..], ERASE, welcome].concat());
    alice.expect("[Server]: Tell has joined the chat.");
    // The Korean Windows console types CP949; the room reads Hangul.
    telnet.send_raw(&cp949("안녕하세요 반갑습니다"));
    telnet.send_raw(b"\r\n");
    alice.expect("Tell >> 안녕하세요 반갑습니다");
    assert_eq!(
        telnet.bytes_until(b"\r\n"),
        [cp949("안녕하세요 반갑습니다"), b"\r\n".to_vec()].concat()
    );
    // A message arriving while a line is half typed goes above it.
    telnet.send_raw(b"half");
    assert_eq!(telnet.bytes_until(b"half"), b"half");
    alice.send("hello telnet");
    assert_eq!(
        telnet.bytes_until(b"hello telnet\r\nhalf"),
        [ERASE, b"Alice >> hello telnet\r\nhalf"].concat()
    );
    telnet.send_raw(b" done\r\n");
    alice.expect("Tell >> half done");
}

#[test]
fn putty_at_connect_gets_character_mode_and_hangul_arrives_whole() {
    let server = Server::start(&[]);
    let mut alice = utf8_join(&server, "Alice");
    let mut putty = server.connect();
    putty.send_raw(PUTTY_OPENING);
    assert_eq!(putty.bytes_until(OFFERS), OFFERS);
    putty.bytes_until(b"[Server]: Enter your nickname:\r\n");
    // Refused: TSPEED, TTYPE, NEW-ENVIRON; its WILL SGA is welcome.
    let answers = b"\xff\xfe\x20\xff\xfe\x18\xff\xfe\x27\xff\xfd\x03";
    assert_eq!(putty.bytes_until(answers), answers);
    putty.send_raw(PUTTY_AGREES);
    // In BINARY, PuTTY's Enter is a lone CR; its Backspace is DEL.
    putty.send_raw("푸티\r".as_bytes());
    putty.bytes_until(b"[Server]: Welcome, \xed\x91\xb8\xed\x8b\xb0! Type /help for commands.\r\n");
    alice.expect("[Server]: 푸티 has joined the chat.");
    putty.send_raw("안녕 세상아\x7f\x7f계\r".as_bytes());
    alice.expect("푸티 >> 안녕 세계");
    // Ctrl-U drops the line, Ctrl-W the last word.
    putty.send_raw("지울 줄\x15남는 말 지울말\x17끝\r".as_bytes());
    alice.expect("푸티 >> 남는 말 끝");
}

/// A client that negotiates in its very first bytes (PuTTY, Windows
/// telnet) is a telnet client before the banner: the offers come first and
/// the banner's two lines end with CR LF, so they do not staircase.
#[test]
fn a_client_negotiating_at_connect_gets_the_banner_with_crlf() {
    let server = Server::start(&[]);
    let mut putty = server.connect();
    putty.send_raw(PUTTY_OPENING);
    let seen = putty.bytes_until(b"[Server]: Enter your nickname:\r\n");
    let banner = seen
        .windows(9)
        .position(|w| w == b"[Server]:")
        .expect("the banner");
    assert!(
        seen[..banner].starts_with(OFFERS),
        "the offers before the banner: {seen:?}"
    );
    let text = String::from_utf8_lossy(&seen[banner..]);
    assert!(
        text.starts_with("[Server]: Welcome to suda! (0/10 online)\r\n"),
        "{text:?}"
    );
}

/// netkit telnet (Linux's `telnet HOST 9999`) negotiates nothing on a
/// port that is not 23; its first telnet command comes with the first
/// special key, and from then on it is offered character mode.
#[test]
fn netkit_after_its_first_command_switches_to_character_mode() {
    let server = Server::start(&[]);
    let mut alice = utf8_join(&server, "Alice");
    let mut netkit = server.connect();
    banner(&mut netkit);
    netkit.send_raw(b"Nk\r\n");
    netkit.expect("[Server]: Welcome, Nk! Type /help for commands.");
    alice.expect("[Server]: Nk has joined the chat.");
    netkit.send_raw(NETKIT_YO);
    alice.expect("Nk >> 요");
    // The offers, and WILL TIMING-MARK for its DO TIMING-MARK (RFC 860).
    let answer = [OFFERS, b"\xff\xfb\x06"].concat();
    assert_eq!(netkit.bytes_until(&answer), answer);
    netkit.send_raw(NETKIT_AGREES);
    // With BINARY on, netkit sends every byte untouched (0x85 of 녕
    // included) and Enter as a lone CR.
    netkit.send_raw("안녕 저녁 책\r".as_bytes());
    alice.expect("Nk >> 안녕 저녁 책");
    assert_eq!(netkit.bytes_until(b"\r\n"), "안녕 저녁 책\r\n".as_bytes());
    alice.send("after");
    assert_eq!(
        netkit.bytes_until(b"after\r\n"),
        [ERASE, b"Alice >> after\r\n"].concat()
    );
}

/// The telnet listener speaks first: `telnet HOST` on port 23 works from
/// the first line, and its lines end with CR LF from the banner on.
#[test]
fn the_telnet_listener_offers_character_mode_at_once() {
    let server = Server::start(&["--telnet-bind", "127.0.0.1:0"]);
    let mut alice = utf8_join(&server, "Alice");
    let mut telnet = Client::connect(server.telnet_addr());
    assert_eq!(telnet.bytes_until(OFFERS), OFFERS);
    let banner = telnet.bytes_until(b"Enter your nickname:\r\n");
    assert!(banner.starts_with(b"[Server]: Welcome to suda! (1/10 online)\r\n"));
    telnet.send_raw(NETKIT_AGREES);
    telnet.send_raw(b"Tina\r");
    telnet.bytes_until(b"Welcome, Tina! Type /help for commands.\r\n");
    alice.expect("[Server]: Tina has joined the chat.");
    telnet.send_raw("녀녁녕노녹명입업악셔셨종책테\r".as_bytes());
    alice.expect("Tina >> 녀녁녕노녹명입업악셔셨종책테");
}

/// BSD telnet (inetutils, as captured) on port 23, or given `-PORT`,
/// negotiates at connect: DO/WILL ENCRYPT, DO SGA, WILL TTYPE, NAWS,
/// TSPEED, LFLOW, LINEMODE, NEW-ENVIRON, DO STATUS. On the telnet listener
/// both sides speak first; the requests cross and settle.
#[test]
fn bsd_telnet_negotiating_at_connect_meets_the_offers() {
    let server = Server::start(&["--telnet-bind", "127.0.0.1:0"]);
    let mut alice = utf8_join(&server, "Alice");
    let mut telnet = Client::connect(server.telnet_addr());
    telnet.send_raw(b"\xff\xfd\x26\xff\xfb\x26\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f");
    telnet.send_raw(b"\xff\xfb\x20\xff\xfb\x21\xff\xfb\x22\xff\xfb\x27\xff\xfd\x05");
    assert_eq!(telnet.bytes_until(OFFERS), OFFERS);
    telnet.bytes_until(b"Enter your nickname:\r\n");
    // Refused: ENCRYPT both ways, TTYPE, TSPEED, LFLOW, LINEMODE (the
    // server edits), NEW-ENVIRON, STATUS.
    let refusals: &[u8] = b"\xff\xfc\x26\xff\xfe\x26\xff\xfe\x18\xff\xfe\x20\
        \xff\xfe\x21\xff\xfe\x22\xff\xfe\x27\xff\xfc\x05";
    assert_eq!(telnet.bytes_until(refusals), refusals);
    // Its answers to the offers, captured: DO ECHO, DO SGA, WILL BINARY,
    // DO BINARY, WILL NAWS (again), its size.
    telnet.send_raw(b"\xff\xfd\x01\xff\xfd\x03\xff\xfb\x00\xff\xfd\x00\xff\xfb\x1f");
    telnet.send_raw(b"\xff\xfa\x1f\x00\x64\x00\x14\xff\xf0");
    telnet.send_raw("Bsd\r아이고\r".as_bytes());
    alice.expect("[Server]: Bsd has joined the chat.");
    alice.expect("Bsd >> 아이고");
    let seen = telnet.bytes_until("아이고\r\n".as_bytes());
    assert!(!seen.contains(&0xff), "nothing more to negotiate: {seen:?}");
}

/// A telnet client that refuses every offer stays in line mode: it
/// echoes itself, the server sends no escape sequences, lines end CR LF.
#[test]
fn a_client_refusing_the_offers_keeps_line_mode_with_crlf() {
    let server = Server::start(&["--telnet-bind", "127.0.0.1:0"]);
    let mut alice = utf8_join(&server, "Alice");
    let mut telnet = Client::connect(server.telnet_addr());
    telnet.bytes_until(b"Enter your nickname:\r\n");
    telnet.send_raw(b"\xff\xfe\x01\xff\xfe\x03\xff\xfe\x00\xff\xfc\x00\xff\xfc\x1fLinus\r\n");
    let mut seen = telnet.bytes_until(b"Welcome, Linus! Type /help for commands.\r\n");
    alice.expect("[Server]: Linus has joined the chat.");
    alice.send("hi Linus");
    seen.extend(telnet.bytes_until(b"Alice >> hi Linus\r\n"));
    assert!(!seen.contains(&0x1b), "{seen:?}");
    assert!(!seen.contains(&0xff), "{seen:?}");
    assert_crlf_only(&seen);
}

/// What netkit telnet sends for `text` in line mode: the bytes that are
/// its special keys with the high bit masked go out as IAC SUSP, IAC BRK
/// or IAC IP with IAC DO TIMING-MARK; 0x85 (its echo toggle) and 0x9D (its
/// escape) never leave it. Returns the bytes and the number of marks.
fn netkit_line_mode(text: &str) -> (Vec<u8>, usize) {
    let (mut out, mut marks) = (Vec::new(), 0);
    for byte in text.bytes() {
        let command = match byte {
            0x9A => 0xED, // susp
            0x9C => 0xF3, // quit: BRK
            0x83 => 0xF4, // intr: IP
            0x85 | 0x9D => continue,
            _ => {
                out.push(byte);
                continue;
            }
        };
        out.extend_from_slice(&[0xFF, command, 0xFF, 0xFD, 0x06]);
        marks += 1;
    }
    out.extend_from_slice(b"\r\n");
    (out, marks)
}

/// The issue's staircase: netkit in line mode, the issue's own lines,
/// whose Hangul it turns into IAC SUSP / BRK with DO TIMING-MARK. Every
/// mark is answered, and every line it gets ends CR LF.
#[test]
fn no_staircase_whatever_netkit_sent() {
    let server = Server::start(&[]);
    let mut alice = utf8_join(&server, "Alice");
    let mut netkit = server.connect();
    banner(&mut netkit);
    netkit.send_raw(b"Stair\r\n");
    netkit.expect("[Server]: Welcome, Stair! Type /help for commands.");
    alice.expect("[Server]: Stair has joined the chat.");
    let mut marks = 0;
    for text in [
        "안녕하세요",
        "괜찮아요 수고하셨습니다 저녁 시간 친구 진짜 맛있어요",
    ] {
        let (bytes, n) = netkit_line_mode(text);
        netkit.send_raw(&bytes);
        marks += n;
        alice.expect_prefix("Stair >> ");
    }
    assert!(marks >= 5, "{marks}");
    for line in ["z1", "z2", "z3"] {
        alice.send(line);
    }
    let seen = netkit.bytes_until(b"Alice >> z3\r\n");
    assert_eq!(
        seen.windows(3).filter(|w| *w == b"\xff\xfb\x06").count(),
        marks
    );
    assert_crlf_only(&seen);
    assert!(!seen.contains(&0x1b), "line mode: no escape sequences");
    for line in ["z1", "z2", "z3"] {
        let wanted = format!("Alice >> {line}\r\n");
        assert!(
            seen.windows(wanted.len()).any(|w| w == wanted.as_bytes()),
            "{line} not on a line of its own: {:?}",
            String::from_utf8_lossy(&seen)
        );
    }
}

#[test]
fn interrupt_and_end_of_file_leave_as_exit_does() {
    let server = Server::start(&[]);
    let mut alice = utf8_join(&server, "Alice");
    let keys: [(&str, &[u8]); 4] = [
        ("Ctrl-C", b"typed half\x03"),
        ("IAC IP", b"\xff\xf4\xff\xfd\x06"),
        ("Ctrl-D", b"\x04"),
        ("IAC EOF", b"\xff\xec"),
    ];
    for (i, (what, bytes)) in keys.iter().enumerate() {
        let nick = format!("Quit{i}");
        let mut telnet = server.connect();
        telnet.send_raw(WINDOWS_OPENING);
        telnet.send_raw(WINDOWS_AGREES);
        telnet.send_raw(format!("{nick}\r\n").as_bytes());
        telnet.bytes_until(format!("Welcome, {nick}!").as_bytes());
        alice.expect(&format!("[Server]: {nick} has joined the chat."));
        telnet.send_raw(bytes);
        telnet.bytes_until(format!("[Server]: Bye, {nick}!\r\n").as_bytes());
        telnet.expect_closed();
        alice.expect(&format!("[Server]: {nick} has left the chat."));
        // Nothing typed before the key reached the room.
        assert!(alice.sync().is_empty(), "{what}");
    }
}

/// Every KS X 1001 syllable, typed in UTF-8 and in CP949 by a client in
/// character mode, arrives whole, and the client sees its own echo.
#[test]
fn every_ks_x_1001_syllable_arrives_whole_in_character_mode() {
    let server = Server::start(&["--rate", "off"]);
    let mut alice = utf8_join(&server, "Alice");
    let syllables = ks_x_1001_syllables();
    for (nick, utf8) in [("U8", true), ("Cp", false)] {
        let mut telnet = server.connect();
        telnet.send_raw(NETKIT_AGREES); // its first command: offers follow
        telnet.bytes_until(OFFERS);
        telnet.send_raw(format!("{nick}\r").as_bytes());
        telnet.bytes_until(format!("Welcome, {nick}! Type /help for commands.\r\n").as_bytes());
        alice.expect(&format!("[Server]: {nick} has joined the chat."));
        let mut arrived = String::new();
        // 25 syllables are 50 columns: the line fits the 60-column window.
        for chunk in syllables.chunks(25) {
            let text: String = chunk.iter().collect();
            let bytes = if utf8 {
                text.as_bytes().to_vec()
            } else {
                cp949(&text)
            };
            // One key at a time, as a terminal sends them.
            for c in text.chars() {
                let key = if utf8 {
                    c.to_string().into_bytes()
                } else {
                    cp949(&c.to_string())
                };
                telnet.send_raw(&key);
            }
            telnet.send_raw(b"\r");
            let line = alice.line();
            arrived.push_str(line.strip_prefix(&format!("{nick} >> ")).expect(&line));
            assert_eq!(
                telnet.bytes_until(b"\r\n"),
                [bytes, b"\r\n".to_vec()].concat()
            );
        }
        assert_eq!(arrived, syllables.iter().collect::<String>(), "{nick}");
        drop(telnet);
        alice.expect(&format!("[Server]: {nick} has left the chat."));
    }
}

/// nc users see what they always saw: no 0xFF, no escape sequence, LF
/// line ends, however busy the telnet users around them are.
#[test]
fn netcat_users_never_see_telnet_bytes() {
    let server = Server::start(&["--telnet-bind", "127.0.0.1:0"]);
    let mut nc = utf8_join(&server, "Nc");
    let mut telnet = Client::connect(server.telnet_addr());
    telnet.send_raw(NETKIT_AGREES);
    telnet.send_raw("Tel\r반쯤".as_bytes());
    let mut seen: Vec<u8> = Vec::new();
    let mut line = nc.line_bytes().expect("join line");
    assert_eq!(line, b"[Server]: Tel has joined the chat.");
    seen.extend(&line);
    telnet.send_raw("\x7f\x7f다 쓴 줄\r".as_bytes());
    line = nc.line_bytes().expect("chat line");
    assert_eq!(line, "Tel >> 다 쓴 줄".as_bytes());
    seen.extend(&line);
    telnet.send_raw(b"\x03");
    line = nc.line_bytes().expect("leave line");
    assert_eq!(line, b"[Server]: Tel has left the chat.");
    seen.extend(&line);
    assert!(!seen.iter().any(|&b| b == 0xff || b == 0x1b || b == b'\r'));
}

/// A client that asks about options forever must not make the server
/// queue answers forever: only the first few are answered.
#[test]
fn endless_negotiation_is_bounded() {
    let server = Server::start(&[]);
    let mut alice = utf8_join(&server, "Alice");
    let mut pest = server.connect();
    let burst = b"\xff\xfd\x18".repeat(10_000); // DO TTYPE, refused each time
    for _ in 0..20 {
        pest.send_raw(&burst);
    }
    pest.send_raw(b"Pest\n");
    alice.expect("[Server]: Pest has joined the chat.");
    let seen = pest.bytes_until(b"Welcome, Pest!");
    let refusals = seen.windows(3).filter(|w| *w == b"\xff\xfc\x18").count();
    // 64 answers in all, the offers among them.
    assert_eq!(refusals, 64 - OFFERS.len() / 3);
}

#[test]
fn crlf_and_lf_both_end_a_line() {
    let server = Server::start(&[]);
    let mut alice = utf8_join(&server, "Alice");
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
    let mut alice = utf8_join(&server, "Alice");
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
    let mut alice = utf8_join(&server, "Alice");
    let mut bob = utf8_join(&server, "Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    bob.stream().set_nodelay(true).expect("nodelay");
    for byte in "조각난 메시지".as_bytes() {
        bob.send_raw(&[*byte]);
    }
    bob.send_raw(b"\r\n");
    alice.expect("Bob >> 조각난 메시지");
}

// ---- The real telnet, driven through tmux ----

/// The telnet clients tried, where installed: `telnet` (netkit, or on
/// Debian 12 inetutils, both BSD telnet) and `telnet-ssl` (netkit 0.17).
const TELNETS: [&str; 2] = ["telnet", "telnet-ssl"];

/// Whether `program` is on the PATH.
fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

/// The telnet clients to test with, or why there are none.
fn real_telnets(test: &str) -> Vec<&'static str> {
    if !installed("tmux") {
        eprintln!("{test}: skipped: tmux is not installed (apt-get install tmux)");
        return Vec::new();
    }
    let found: Vec<_> = TELNETS.into_iter().filter(|t| installed(t)).collect();
    if found.is_empty() {
        eprintln!("{test}: skipped: no telnet client installed (apt-get install telnet)");
    } else {
        eprintln!("{test}: with {found:?}");
    }
    found
}

/// A tmux server of its own running one program in a pane, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str, columns: u16) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let socket = format!("suda-test-{}-{n}", std::process::id());
        let tmux = Tmux { socket };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "chat",
            "-x",
            &columns.to_string(),
            "-y",
            "40",
            command,
            // Keep the screen after the program ends, to read its last words.
            ";",
            "set-option",
            "-t",
            "chat",
            "remain-on-exit",
            "on",
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-u", "-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env("LANG", "C.UTF-8")
            .output()
            .expect("tmux");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` as it is.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "chat", "-l", text]);
    }

    /// Presses a key by tmux's name (Enter, BSpace, C-c).
    fn press(&self, key: &str) {
        self.run(&["send-keys", "-t", "chat", key]);
    }

    /// Types raw bytes, as a terminal in another encoding would.
    fn type_bytes(&self, bytes: &[u8]) {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut args = vec!["send-keys", "-t", "chat", "-H"];
        args.extend(hex.iter().map(String::as_str));
        self.run(&args);
    }

    /// The screen, one string per row.
    fn screen(&self) -> Vec<String> {
        self.run(&["capture-pane", "-p", "-t", "chat"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits until a row is `text` (trailing blanks aside).
    fn wait_for_row(&self, text: &str) {
        let deadline = Instant::now() + READ_TIMEOUT;
        while !self.screen().iter().any(|row| row.trim_end() == text) {
            assert!(
                Instant::now() < deadline,
                "no row {text:?}: {:#?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a row contains `text`; returns the screen.
    fn wait_for(&self, text: &str) -> Vec<String> {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let screen = self.screen();
            if screen.iter().any(|row| row.contains(text)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} not on the screen: {screen:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// Starts `program` on the server's telnet listener and joins as `nick`.
fn real_telnet(program: &str, addr: SocketAddr, nick: &str, columns: u16) -> Tmux {
    // -E, as the README says: netkit telnet otherwise compares typed bytes
    // with its escape key with the high bit masked, and 0x9D (in 이, 의,
    // 아이고) opens its telnet> prompt.
    let command = format!("{program} -E {} {}", addr.ip(), addr.port());
    join_in_tmux(&command, nick, columns)
}

/// Runs `command` (a telnet to the server) in tmux and joins as `nick`.
fn join_in_tmux(command: &str, nick: &str, columns: u16) -> Tmux {
    let tmux = Tmux::start(command, columns);
    tmux.wait_for("Enter your nickname:");
    tmux.type_text(nick);
    tmux.press("Enter");
    tmux.wait_for(&format!("Welcome, {nick}!"));
    tmux
}

/// All 2 350 syllables typed into the real telnet, in UTF-8 and as a
/// CP949 terminal sends them, arrive whole; the screen never staircases.
#[test]
fn real_telnet_carries_every_ks_x_1001_syllable() {
    for program in real_telnets("real_telnet_carries_every_ks_x_1001_syllable") {
        let server = Server::start(&["--telnet-bind", "127.0.0.1:0", "--rate", "off"]);
        let mut alice = utf8_join(&server, "Alice");
        let syllables = ks_x_1001_syllables();
        for (nick, utf8) in [("Utf", true), ("Euc", false)] {
            let tmux = real_telnet(program, server.telnet_addr(), nick, 100);
            alice.expect(&format!("[Server]: {nick} has joined the chat."));
            let mut arrived = String::new();
            for chunk in syllables.chunks(50) {
                let text: String = chunk.iter().collect();
                if utf8 {
                    tmux.type_text(&text);
                } else {
                    tmux.type_bytes(&cp949(&text));
                }
                tmux.press("Enter");
                let line = alice.line();
                let typed = line.strip_prefix(&format!("{nick} >> ")).expect(&line);
                assert_eq!(typed, text, "{program}");
                arrived.push_str(typed);
            }
            assert_eq!(arrived, syllables.iter().collect::<String>());
            for line in ["z1", "z2", "z3"] {
                alice.send(line);
            }
            let screen = tmux.wait_for("Alice >> z3");
            for line in ["z1", "z2", "z3"] {
                assert!(
                    screen.iter().any(|row| *row == format!("Alice >> {line}")),
                    "{program}: staircase? {screen:#?}"
                );
            }
            tmux.press("C-c");
            tmux.wait_for("closed by foreign host");
            alice.expect(&format!("[Server]: {nick} has left the chat."));
        }
    }
}

/// Lines that arrive while a line is half typed go above it; the typed
/// line stays whole at the bottom, and Backspace takes whole Hangul.
#[test]
fn real_telnet_keeps_the_typed_line_while_messages_arrive() {
    for program in real_telnets("real_telnet_keeps_the_typed_line_while_messages_arrive") {
        let server = Server::start(&["--telnet-bind", "127.0.0.1:0"]);
        let mut alice = utf8_join(&server, "Alice");
        let tmux = real_telnet(program, server.telnet_addr(), "Typist", 60);
        alice.expect("[Server]: Typist has joined the chat.");
        tmux.type_text("반쯤 쓴 줄이에요");
        tmux.press("BSpace");
        tmux.press("BSpace");
        tmux.wait_for_row("반쯤 쓴 줄이");
        for line in ["m1", "m2", "m3"] {
            alice.send(line);
        }
        let screen = tmux.wait_for("Alice >> m3");
        let rows: Vec<&String> = screen.iter().filter(|r| !r.trim().is_empty()).collect();
        let n = rows.len();
        assert!(n >= 4, "{screen:#?}");
        assert_eq!(
            rows[n - 4..],
            ["Alice >> m1", "Alice >> m2", "Alice >> m3", "반쯤 쓴 줄이"],
            "{program}: {screen:#?}"
        );
        tmux.type_text(" 끝");
        tmux.press("Enter");
        alice.expect("Typist >> 반쯤 쓴 줄이 끝");
    }
}

/// The README's command for the chat port: the minus before the port
/// makes BSD-derived telnets negotiate at connect, as on port 23.
#[test]
fn real_telnet_on_the_chat_port_with_a_minus_before_the_port() {
    for program in real_telnets("real_telnet_on_the_chat_port_with_a_minus_before_the_port") {
        let server = Server::start(&[]);
        let mut alice = utf8_join(&server, "Alice");
        let command = format!(
            "{program} -E -- {} -{}",
            server.addr.ip(),
            server.addr.port()
        );
        let tmux = join_in_tmux(&command, "Minus", 80);
        alice.expect("[Server]: Minus has joined the chat.");
        // 녕 and 저녁 hold 0x85 (netkit's echo key), 이 and 아이고 0x9D.
        tmux.type_text("안녕 아이고 저녁이에요");
        tmux.press("Enter");
        alice.expect("Minus >> 안녕 아이고 저녁이에요");
        alice.send("z1");
        alice.send("z2");
        let screen = tmux.wait_for("Alice >> z2");
        assert!(
            screen.iter().any(|row| row == "Alice >> z1"),
            "{program}: {screen:#?}"
        );
    }
}
