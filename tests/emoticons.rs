//! Emoticons over real sockets: `:smile:` becomes 😄 for everyone, and a
//! CP949 terminal, which has no emoji, reads text emoticons instead of `?`.

mod util;

use encoding_rs::EUC_KR;
use suda::emoticons::TABLE;
use util::{Client, Server};

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

/// Joins with a nickname typed on a CP949 terminal (so the server detects
/// CP949 from it).
fn join_cp949(server: &Server, nick: &str) -> Client {
    let mut client = server.connect();
    client.until("[Server]: Enter your nickname:");
    client.send_raw(&[cp949(nick), b"\n".to_vec()].concat());
    let welcome = client.line_bytes().expect("welcome");
    assert_eq!(
        from_cp949(&welcome),
        format!("[Server]: Welcome, {nick}! Type /help for commands.")
    );
    client
}

/// Lines (raw) until one that starts with `prefix`, which is dropped.
fn until_bytes(client: &mut Client, prefix: &[u8]) -> Vec<Vec<u8>> {
    let mut before = Vec::new();
    loop {
        let line = client.line_bytes().expect("a line");
        if line.starts_with(prefix) {
            return before;
        }
        before.push(line);
    }
}

#[test]
fn shortcodes_become_emoji_and_cp949_reads_text_emoticons() {
    let server = Server::start(&[]);
    let mut minsu = server.join("민수");
    let mut yeonghee = server.join("영희");
    minsu.expect("[Server]: 영희 has joined the chat.");
    let mut cheolsu = join_cp949(&server, "철수");
    minsu.expect("[Server]: 철수 has joined the chat.");
    yeonghee.expect("[Server]: 철수 has joined the chat.");

    minsu.send(":smile: hi 😢 🦄");
    yeonghee.expect("민수 >> 😄 hi 😢 🦄");
    assert_eq!(
        cheolsu.line_bytes().expect("line"),
        cp949("민수 >> ^_^ hi T_T (?)")
    );

    // The contract's six, typed or from a code, with Hangul around them.
    minsu.send(":laughing: 좋아요 👍 :heart: 👏 :nope:");
    yeonghee.expect("민수 >> 😆 좋아요 👍 ❤️ 👏 :nope:");
    assert_eq!(
        cheolsu.line_bytes().expect("line"),
        cp949("민수 >> ^o^ 좋아요 (b) <3 (clap) :nope:")
    );

    // Sequences are one emoji each: no '?', no stray selector bytes.
    minsu.send("가족 👨\u{200D}👩\u{200D}👧 ❤\u{FE0F} 👍🏽 🇰🇷 끝");
    yeonghee.expect("민수 >> 가족 👨\u{200D}👩\u{200D}👧 ❤\u{FE0F} 👍🏽 🇰🇷 끝");
    let line = cheolsu.line_bytes().expect("line");
    assert_eq!(line, cp949("민수 >> 가족 (?) <3 (b) (?) 끝"));

    // From the CP949 side: the code works there too.
    cheolsu.send_raw(&[cp949(":thumbsup: 네"), b"\n".to_vec()].concat());
    minsu.expect("철수 >> 👍 네");
    yeonghee.expect("철수 >> 👍 네");
}

#[test]
fn emoticons_lists_the_table_in_the_readers_encoding() {
    let server = Server::start(&[]);
    let mut minsu = server.join("민수");
    let mut cheolsu = join_cp949(&server, "철수");
    minsu.expect("[Server]: 철수 has joined the chat.");

    minsu.send("/emoticons");
    minsu.expect("[Server]: Emoticons (type the :code: in a message):");
    minsu.send("/users");
    let utf8 = until_bytes(&mut minsu, b"[Server]: Users online (").concat();
    let utf8 = String::from_utf8(utf8).expect("UTF-8");
    for entry in [":smile: 😄", ":heart: ❤️", ":thumbsup: 👍", ":cry: 😢"] {
        assert!(utf8.contains(entry), "{entry} in {utf8}");
    }
    for e in TABLE {
        assert!(utf8.contains(&format!(":{}: {}", e.code, e.emoji)), "{e:?}");
    }

    cheolsu.send("/emoticons");
    assert_eq!(
        cheolsu.line_bytes().expect("heading"),
        b"[Server]: Emoticons (type the :code: in a message):"
    );
    cheolsu.send("/users");
    let lines = until_bytes(&mut cheolsu, b"[Server]: Users online (");
    let text: Vec<String> = lines.iter().map(|l| from_cp949(l)).collect();
    let text = text.join("\n");
    for entry in [
        ":smile: ^_^",
        ":laughing: ^o^",
        ":cry: T_T",
        ":thumbsup: (b)",
        ":heart: <3",
        ":clap: (clap)",
    ] {
        assert!(text.contains(entry), "{entry} in {text}");
    }
    assert!(!text.contains('?'), "{text}");
    for e in TABLE {
        assert!(text.contains(&format!(":{}: {}", e.code, e.text)), "{e:?}");
    }
}
