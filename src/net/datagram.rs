//! One line per datagram, both ways, and what a datagram may look like.
//!
//! In: a datagram is one line. Only its first line counts (anything after
//! the first line end is dropped), so the per-person rate counts datagrams
//! and one datagram cannot carry a burst of commands.
//!
//! Out: a line longer than [`MAX_DATAGRAM`] goes in pieces, and every piece
//! after the first starts with [`CONTINUED`], which no line of the server
//! starts with (lines start with `[` or with a nickname, and `+` is neither).
//! So a piece can never be taken for a line of its own, whatever text a
//! sender puts where the cut falls; `suda connect --udp` joins the pieces
//! again. A whole line always ends with `\n`; a piece that does not is
//! followed by a continuation.

/// The largest datagram sent: a line longer than this goes out in pieces,
/// so that no datagram needs IP fragmentation on the way (about the
/// smallest path MTU minus headers).
pub const MAX_DATAGRAM: usize = 1200;

/// What every piece of a line but the first starts with.
pub const CONTINUED: &[u8] = b"+ ";

/// How the lines a suda server sends begin (after an optional timestamp),
/// besides `<nick> >> `.
const SERVER_STARTS: &[&[u8]] = &[
    b"[Server]:",
    b"[Whisper ",
    b"[Scheduled by ",
    b"[Search by ",
    b"[AI] ",
    b"[File from ",
];

/// Most bytes before ` >> ` in a chat line: 16 characters of at most 4 bytes.
const NICK_BYTES: usize = 16 * 4;

/// How many bytes of `rest` (what is left of a line, `\n` included) go in
/// the next datagram; `continued` says it is not the line's first piece,
/// so [`CONTINUED`] takes room in it too. The cut falls after the last
/// byte below 0x41 (space, digit, punctuation), which is never part of a
/// multi-byte character in UTF-8 or CP949; at the limit if there is none.
///
/// ```
/// use suda::net::datagram::{cut, MAX_DATAGRAM};
/// assert_eq!(cut(b"short\n", false), 6);
/// let long = "word ".repeat(300);
/// assert_eq!(cut(long.as_bytes(), false), MAX_DATAGRAM);
/// assert_eq!(cut(long.as_bytes(), true), MAX_DATAGRAM - 5);
/// ```
pub fn cut(rest: &[u8], continued: bool) -> usize {
    let room = MAX_DATAGRAM - if continued { CONTINUED.len() } else { 0 };
    if rest.len() <= room {
        return rest.len();
    }
    rest[..room]
        .iter()
        .rposition(|&b| b < 0x41)
        .map_or(room, |at| at + 1)
}

/// The line a datagram holds: up to its first line end (kept), or all of it.
///
/// ```
/// use suda::net::datagram::first_line;
/// assert_eq!(first_line(b"Teacher\n/schedules\n"), b"Teacher\n");
/// assert_eq!(first_line(b"hi"), b"hi");
/// ```
pub fn first_line(datagram: &[u8]) -> &[u8] {
    match memchr::memchr(b'\n', datagram) {
        Some(end) => &datagram[..=end],
        None => datagram,
    }
}

/// Whether a datagram starts like a line a suda server sends: another
/// server answering us (or our own line coming back). Such a datagram is
/// never answered, so two servers pointed at each other fall silent.
///
/// ```
/// use suda::net::datagram::looks_like_server_line;
/// assert!(looks_like_server_line(b"[Server]: Send HELO 0123456789ab to join.\n"));
/// assert!(looks_like_server_line(b"[2026-01-02 03:04] Alice >> hi"));
/// assert!(!looks_like_server_line(b"HELO"));
/// assert!(!looks_like_server_line(b"I think a >> b"));
/// ```
pub fn looks_like_server_line(datagram: &[u8]) -> bool {
    let text = strip_stamp(datagram);
    if text.starts_with(CONTINUED) || SERVER_STARTS.iter().any(|s| text.starts_with(s)) {
        return true;
    }
    let head = &text[..text.len().min(NICK_BYTES + 4)];
    memchr::memmem::find(head, b" >> ").is_some_and(|at| {
        at > 0
            && !head[..at]
                .iter()
                .any(|&b| b.is_ascii_whitespace() || b == b'[')
    })
}

/// Drops the `[YYYY-MM-DD HH:MM] ` a server with `--timestamps` puts first.
fn strip_stamp(text: &[u8]) -> &[u8] {
    let shape = b"[dddd-dd-dd dd:dd] ";
    if text.len() < shape.len() {
        return text;
    }
    let stamped = shape.iter().zip(text).all(|(&want, &got)| match want {
        b'd' => got.is_ascii_digit(),
        _ => want == got,
    });
    if stamped {
        &text[shape.len()..]
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The datagrams a line goes out as, the way the UDP stream sends it.
    fn pieces(line: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = line;
        let mut continued = false;
        while !rest.is_empty() {
            let take = cut(rest, continued);
            let mut datagram = if continued {
                CONTINUED.to_vec()
            } else {
                Vec::new()
            };
            datagram.extend_from_slice(&rest[..take]);
            out.push(datagram);
            rest = &rest[take..];
            continued = true;
        }
        out
    }

    #[test]
    fn long_lines_are_cut_between_characters() {
        let short = "짧은 줄\n".as_bytes();
        assert_eq!(cut(short, false), short.len());
        let long = "가나다 ".repeat(300); // 10 bytes per word: no cut inside a syllable
        let at = cut(long.as_bytes(), false);
        assert!(at <= MAX_DATAGRAM);
        assert!(long.is_char_boundary(at));
        assert_eq!(&long.as_bytes()[at - 1..at], b" ");
        let solid = "가".repeat(1000);
        assert_eq!(cut(solid.as_bytes(), false), MAX_DATAGRAM);
    }

    #[test]
    fn every_piece_after_the_first_is_marked_and_fits() {
        let line = format!("Mallory >> {}\n", "수다 떨자 ".repeat(400));
        let sent = pieces(line.as_bytes());
        assert!(sent.len() >= 4, "{}", sent.len());
        assert!(sent.iter().all(|d| d.len() <= MAX_DATAGRAM));
        assert!(sent[0].starts_with(b"Mallory >> "));
        assert!(sent[1..].iter().all(|d| d.starts_with(CONTINUED)));
        // Only the last piece ends the line.
        assert!(sent[..sent.len() - 1].iter().all(|d| !d.ends_with(b"\n")));
        assert!(sent[sent.len() - 1].ends_with(b"\n"));
        let joined: Vec<u8> = sent
            .iter()
            .enumerate()
            .flat_map(|(i, d)| d[if i == 0 { 0 } else { CONTINUED.len() }..].to_vec())
            .collect();
        assert_eq!(joined, line.as_bytes());
    }

    /// The attack of issue 11: padding so that the cut falls just before a
    /// forged notice. Wherever the cut falls, no piece starts like a line.
    #[test]
    fn no_piece_of_a_padded_line_passes_for_a_server_line() {
        let notice = "[Server]: You have been kicked from the chat.";
        for pad in 1100..1300 {
            let line = format!("Mallory >> {} {notice}\n", "x".repeat(pad));
            for (i, piece) in pieces(line.as_bytes()).iter().enumerate().skip(1) {
                assert!(piece.starts_with(CONTINUED), "pad {pad}, piece {i}");
                assert!(looks_like_server_line(piece), "pad {pad}, piece {i}");
            }
        }
    }

    #[test]
    fn the_first_line_is_the_line() {
        assert_eq!(first_line(b""), b"");
        assert_eq!(first_line(b"\n/h\n/h"), b"\n");
        assert_eq!(first_line(b"x\r\n/schedules"), b"x\r\n");
    }

    #[test]
    fn server_lines_are_recognised_and_people_are_not() {
        for line in [
            "[Server]: Welcome to suda! (1/10 online)\n",
            "[Whisper from Bob] hi",
            "[Scheduled by Bob] hi",
            "[Search by Bob] what?",
            "[AI] an answer",
            "[File from Bob] a.txt (1 KiB) http://x/f/1/a.txt",
            "Alice >> hi",
            "민수 >> 안녕",
            "+ the rest of a line",
            "[2026-11-23 15:04] [Server]: Bye!",
        ] {
            assert!(looks_like_server_line(line.as_bytes()), "{line}");
        }
        for line in [
            "HELO",
            "HELO 0123456789ab",
            "Alice",
            "/who",
            "",
            "I think a >> b",
            " >> nobody",
            "[Servers] are down",
            "2 + 2",
        ] {
            assert!(!looks_like_server_line(line.as_bytes()), "{line}");
        }
        let (cp949, _, _) = encoding_rs::EUC_KR.encode("민수 >> 안녕");
        assert!(looks_like_server_line(&cp949));
    }
}
