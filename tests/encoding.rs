//! UTF-8 and CP949 side by side.

mod util;

use encoding_rs::EUC_KR;
use util::Server;

fn cp949(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = EUC_KR.encode(text);
    assert!(!unmappable, "{text} must be CP949");
    bytes.into_owned()
}

fn from_cp949(bytes: &[u8]) -> String {
    EUC_KR
        .decode_without_bom_handling_and_without_replacement(bytes)
        .unwrap_or_else(|| panic!("not CP949: {bytes:?}"))
        .into_owned()
}

/// A legacy Windows client (bytes from a CP949 encoder) and a UTF-8 client
/// read each other's Hangul.
#[test]
fn cp949_and_utf8_clients_chat_in_hangul() {
    let server = Server::start(&[]);
    let mut utf8 = server.join("영희");
    let mut legacy = server.connect();
    legacy.until("[Server]: Enter your nickname:");
    let mut nick = cp949("철수");
    nick.push(b'\n');
    legacy.send_raw(&nick);
    // The server noticed the CP949 nickname: its answer is CP949 too.
    let welcome = legacy.line_bytes().expect("welcome");
    assert_eq!(
        from_cp949(&welcome),
        "[Server]: Welcome, 철수! Type /help for commands."
    );
    utf8.expect("[Server]: 철수 has joined the chat.");

    utf8.send("안녕하세요, 철수님!");
    let line = legacy.line_bytes().expect("message");
    assert_eq!(line, cp949("영희 >> 안녕하세요, 철수님!"));

    let mut reply = cp949("반갑습니다 똠방각하");
    reply.push(b'\n');
    legacy.send_raw(&reply);
    utf8.expect("철수 >> 반갑습니다 똠방각하");

    // What CP949 cannot hold arrives as '?', not as "&#3585;".
    utf8.send("웃음 \u{0E01}");
    assert_eq!(legacy.line_bytes().expect("thai"), cp949("영희 >> 웃음 ?"));
}

#[test]
fn encoding_can_be_set_by_hand() {
    let server = Server::start(&[]);
    let mut utf8 = server.join("Alice");
    let mut legacy = server.join("Bob");
    utf8.expect("[Server]: Bob has joined the chat.");
    legacy.send("/encoding cp949");
    legacy.expect("[Server]: Your encoding is now CP949.");
    utf8.send("한글");
    assert_eq!(legacy.line_bytes().expect("line"), cp949("Alice >> 한글"));
    legacy.send("/encoding utf-8");
    legacy.expect("[Server]: Your encoding is now UTF-8.");
    utf8.send("다시");
    legacy.expect("Alice >> 다시");
}

#[test]
fn cp949_default_encoding_for_a_legacy_lab() {
    let server = Server::start(&["--default-encoding", "cp949"]);
    let mut legacy = server.join("Bob");
    let mut utf8 = server.join("Alice");
    legacy.line_bytes().expect("join notice");
    // The UTF-8 client is detected from its first non-ASCII line. Bob's
    // ASCII name told nothing: his first Hangul comes after the way out.
    utf8.send("안녕");
    assert_eq!(
        legacy.line_bytes().expect("hint"),
        b"[Server]: Hangul looks garbled? Type /encoding utf-8."
    );
    assert_eq!(legacy.line_bytes().expect("line"), cp949("Alice >> 안녕"));
    legacy.send_raw(&[cp949("네"), b"\n".to_vec()].concat());
    utf8.expect("Bob >> 네");
}

#[test]
fn bytes_valid_in_neither_encoding_do_not_break_anything() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    bob.send_raw(b"broken \x80\x80\xc3 bytes\n");
    let line = alice.line();
    assert!(
        line.starts_with("Bob >> broken ") && line.ends_with(" bytes"),
        "{line}"
    );
    assert!(line.contains('\u{FFFD}'), "{line}");
    bob.send("still here");
    alice.expect("Bob >> still here");
}

/// A Windows user on a CP949 terminal picks an ASCII nickname, so the
/// server cannot tell and speaks UTF-8 to them. Before the first Hangul
/// they would read as garbage comes one ASCII line (readable in CP949 too)
/// naming the way out; after `/encoding cp949` Hangul reads right.
#[test]
fn an_ascii_nickname_on_a_cp949_terminal_is_told_how_to_fix_hangul() {
    let server = Server::start(&[]);
    let mut minsu = server.join("민수");
    let mut legacy = server.join("Bob");
    minsu.expect("[Server]: Bob has joined the chat.");
    // The first line with Hangul (here only in a name) comes after the hint.
    minsu.send("hello");
    let hint = legacy.line_bytes().expect("hint");
    assert!(hint.is_ascii(), "{hint:?}");
    assert_eq!(
        hint,
        b"[Server]: Hangul looks garbled? Type /encoding cp949 (Korean Windows)."
    );
    // What it warned about: UTF-8 bytes, garbage on a CP949 terminal.
    assert_eq!(
        legacy.line_bytes().expect("line"),
        "민수 >> hello".as_bytes()
    );
    legacy.send("/encoding cp949");
    legacy.expect("[Server]: Your encoding is now CP949.");
    minsu.send("이제 보여요?");
    assert_eq!(
        legacy.line_bytes().expect("line"),
        cp949("민수 >> 이제 보여요?")
    );
    // Once only, and never to someone whose encoding is known: a Hangul
    // nickname, or a non-ASCII line first.
    let mut carol = server.join("Carol");
    minsu.expect("[Server]: Carol has joined the chat.");
    carol.send("café");
    minsu.expect("Carol >> café");
    minsu.send("다시 한번");
    carol.expect("민수 >> 다시 한번");
    assert_eq!(
        legacy.line_bytes().expect("join"),
        b"[Server]: Carol has joined the chat."
    );
    legacy.line_bytes().expect("café");
    assert_eq!(
        legacy.line_bytes().expect("line"),
        cp949("민수 >> 다시 한번")
    );
}
