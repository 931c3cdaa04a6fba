//! The line a telnet user is typing, kept and edited by the server.
//!
//! A telnet client in character mode sends every key as it is pressed and
//! shows only what the server sends back. So the server keeps the line:
//! it echoes what is typed, takes Backspace and Delete off one whole
//! character (two columns for Hangul, one for ASCII), Ctrl-U and Ctrl-W
//! off the line or the last word, and hands the line on at Enter. Ctrl-C,
//! and Ctrl-D on an empty line, leave the room.
//!
//! The line is kept as the bytes the client typed, in its own encoding
//! (UTF-8 or CP949). What a character is depends on that encoding, and a
//! connection may switch (detection, `/encoding`), so the line is cut into
//! characters in both encodings as it is typed, and the cut that applies
//! is chosen by the rule [`Charset::decode`] applies when the line
//! arrives: the connection's encoding, unless only the other makes sense.
//!
//! The row holding the line never wraps: a line wider than the window
//! (NAWS, else 80 columns) shows its end. When other lines arrive, the
//! caller erases the row, prints them, and asks for [`LineEditor::redraw`].
//!
//! The editor is pure: bytes in, lines and echo bytes out.

use encoding_rs::EUC_KR;
use unicode_width::UnicodeWidthChar;

use crate::net::charset::{Charset, Encoding};

/// Where the editor puts finished lines.
pub trait Lines {
    /// A line, without its line end, in the client's encoding.
    fn line(&mut self, line: &[u8]);
    /// A line went over the limit and was dropped.
    fn too_long(&mut self);
}

/// The line Ctrl-C (or Ctrl-D on an empty line) types for the user: the
/// room's own way out, so leaving by key is leaving by `/exit`.
pub const LEAVE: &[u8] = b"/exit";

/// Columns assumed until the client tells its window size.
pub const DEFAULT_COLUMNS: usize = 80;

/// Narrowest window believed: below this a NAWS report is taken as this.
const MIN_COLUMNS: usize = 8;

/// Bytes of an escape sequence (arrow keys, function keys) at most; a
/// longer one is not a key and is given up on.
const MAX_ESCAPE: usize = 16;

/// Carriage return and "erase to the end of the row" (ECMA-48 EL).
pub const ERASE_ROW: &[u8] = b"\r\x1b[K";

/// Where the editor is in an escape sequence the terminal sent for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Escape {
    /// Not in one.
    #[default]
    None,
    /// After ESC.
    Esc,
    /// After ESC [, with the bytes so far.
    Csi(usize),
    /// After ESC O.
    Ss3,
}

/// One character of the line, as cut by [`next_piece`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    /// Bytes it takes.
    len: usize,
    /// Columns it takes on the screen.
    width: usize,
    /// The start of a character whose last bytes have not come yet.
    partial: bool,
}

/// The first character of `bytes` (not empty) in `encoding`. A byte that
/// starts no character there counts as one column: terminals show a
/// replacement mark.
fn next_piece(encoding: Encoding, bytes: &[u8]) -> (Piece, bool) {
    let invalid = (
        Piece {
            len: 1,
            width: 1,
            partial: false,
        },
        false,
    );
    let partial = |len| {
        (
            Piece {
                len,
                width: 0,
                partial: true,
            },
            true,
        )
    };
    let first = bytes[0];
    if first < 0x80 {
        let piece = Piece {
            len: 1,
            width: 1,
            partial: false,
        };
        return (piece, true);
    }
    let len = match encoding {
        Encoding::Utf8 => match first {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return invalid,
        },
        Encoding::Cp949 => match first {
            0x81..=0xFE => 2,
            _ => return invalid,
        },
    };
    if bytes.len() < len {
        let ok = match encoding {
            Encoding::Utf8 => bytes[1..].iter().all(|&b| b & 0xC0 == 0x80),
            Encoding::Cp949 => true,
        };
        return if ok { partial(bytes.len()) } else { invalid };
    }
    let decoded = match encoding {
        Encoding::Utf8 => std::str::from_utf8(&bytes[..len])
            .ok()
            .and_then(|s| s.chars().next()),
        Encoding::Cp949 => EUC_KR
            .decode_without_bom_handling_and_without_replacement(&bytes[..len])
            .and_then(|s| s.chars().next()),
    };
    match decoded {
        Some(c) => {
            let piece = Piece {
                len,
                width: c.width().unwrap_or(0),
                partial: false,
            };
            (piece, true)
        }
        None => invalid,
    }
}

/// The line cut into characters in one encoding, kept up to date as the
/// line grows and shrinks: a key costs the same at the end of a long line
/// as of a short one (a line may be `--max-line` long, and each key is
/// a packet a client can send as fast as it likes).
#[derive(Debug, Clone)]
struct Cut {
    /// The encoding it cuts in.
    encoding: Encoding,
    /// One byte per character: its length (bits 0-2), columns (bits 3-4),
    /// whether it is partial (bit 5) or invalid (bit 6).
    pieces: Vec<u8>,
    /// Bytes of the line the pieces cover.
    end: usize,
    /// Columns of the whole characters.
    width: usize,
    /// Characters not valid in this encoding.
    invalid: usize,
}

fn pack(piece: Piece, valid: bool) -> u8 {
    // A piece is at most 4 bytes and 2 columns.
    piece.len as u8
        | (piece.width.min(3) as u8) << 3
        | u8::from(piece.partial) << 5
        | u8::from(!valid) << 6
}

fn unpack(byte: u8) -> (Piece, bool) {
    let piece = Piece {
        len: usize::from(byte & 7),
        width: usize::from((byte >> 3) & 3),
        partial: byte & (1 << 5) != 0,
    };
    (piece, byte & (1 << 6) == 0)
}

impl Cut {
    fn new(encoding: Encoding) -> Cut {
        Cut {
            encoding,
            pieces: Vec::new(),
            end: 0,
            width: 0,
            invalid: 0,
        }
    }

    /// Follows `line`, which only ever grows at its end or is cut short:
    /// pieces past its end go, and so does a partial last piece (its
    /// missing bytes may have come); then the new bytes are cut.
    fn sync(&mut self, line: &[u8]) {
        while let Some(&last) = self.pieces.last() {
            let (piece, valid) = unpack(last);
            if self.end <= line.len() && !piece.partial {
                break;
            }
            self.pieces.pop();
            self.end -= piece.len;
            self.width -= piece.width;
            self.invalid -= usize::from(!valid);
        }
        while self.end < line.len() {
            let (piece, valid) = next_piece(self.encoding, &line[self.end..]);
            let packed = pack(piece, valid);
            // Counted as stored, so that popping it undoes exactly this.
            let piece = unpack(packed).0;
            self.pieces.push(packed);
            self.end += piece.len;
            self.width += piece.width;
            self.invalid += usize::from(!valid);
        }
    }

    /// Whether every character is valid in this encoding.
    fn valid(&self) -> bool {
        self.invalid == 0
    }

    /// Bytes of whole characters: a character cut by the end of a read is
    /// not shown until it is whole.
    fn complete(&self) -> usize {
        match self.pieces.last().map(|&b| unpack(b).0) {
            Some(piece) if piece.partial => self.end - piece.len,
            _ => self.end,
        }
    }

    /// The characters from the last one back, each with its start.
    fn backwards(&self) -> impl Iterator<Item = (usize, Piece)> + '_ {
        let mut end = self.end;
        self.pieces.iter().rev().map(move |&b| {
            let piece = unpack(b).0;
            end -= piece.len;
            (end, piece)
        })
    }
}

/// The line being typed on one connection, and what its row shows.
#[derive(Debug, Clone)]
pub struct LineEditor {
    /// The bytes typed since the last line end, in the client's encoding.
    line: Vec<u8>,
    /// The server echoes (character mode). Off for a telnet client that
    /// refused: it echoes and edits the line itself.
    echo: bool,
    /// The client's window width.
    columns: usize,
    /// The connection's charset at the last read.
    charset: Charset,
    /// The line cut in each encoding (by [`Encoding::index`]): which one
    /// applies can change with every key.
    cuts: [Cut; 2],
    /// Bytes of `line` the row shows, from its start, when `repaint` is off.
    shown: usize,
    /// The row does not show `line[..shown]` as it is (it shows the end of
    /// a line too wide, or what it shows is not known): the next change
    /// redraws the row.
    repaint: bool,
    /// The last byte was CR: an LF or NUL right after it is part of the
    /// same line end (CR LF, CR NUL), not another empty line.
    after_cr: bool,
    /// Inside an escape sequence.
    escape: Escape,
    /// The line went over the limit: drop what comes until its end.
    discarding: bool,
    /// The user left (Ctrl-C): nothing more is taken.
    gone: bool,
}

impl Default for LineEditor {
    fn default() -> LineEditor {
        LineEditor::new()
    }
}

impl LineEditor {
    /// An empty line, not echoing yet, 80 columns wide.
    pub fn new() -> LineEditor {
        LineEditor {
            line: Vec::new(),
            echo: false,
            columns: DEFAULT_COLUMNS,
            charset: Charset::detecting(Encoding::Utf8),
            cuts: Encoding::ALL.map(Cut::new),
            shown: 0,
            repaint: false,
            after_cr: false,
            escape: Escape::None,
            discarding: false,
            gone: false,
        }
    }

    /// Starts with `bytes` already typed (the start of a line that came
    /// before the client switched to character mode), kept as typing would
    /// have kept them: the row is repainted with them, and an escaped 0xFF
    /// or a control byte echoed raw would be a telnet command or a terminal
    /// sequence on the user's screen.
    pub fn with_line(mut bytes: Vec<u8>, discarding: bool) -> LineEditor {
        bytes.retain(|&b| is_text(b));
        let mut editor = LineEditor {
            repaint: !bytes.is_empty(),
            line: bytes,
            discarding,
            ..LineEditor::new()
        };
        editor.sync();
        editor
    }

    /// Turns the server's echo on (character mode) or off.
    pub fn set_echo(&mut self, echo: bool) {
        // Whatever the client showed of the line so far was its own echo.
        self.repaint = echo && !self.line.is_empty();
        self.shown = 0;
        self.echo = echo;
    }

    /// Whether the server echoes.
    pub fn echoing(&self) -> bool {
        self.echo
    }

    /// The client's window is `columns` wide (0: it does not know).
    pub fn set_columns(&mut self, columns: u16) {
        self.columns = match usize::from(columns) {
            0 => DEFAULT_COLUMNS,
            n => n.max(MIN_COLUMNS),
        };
    }

    /// Bytes held for the unfinished line.
    pub fn pending(&self) -> usize {
        self.line.len()
    }

    /// At the end of input: a line typed without Enter. A line being
    /// typed in character mode was not sent by the user and is dropped.
    pub fn take_unfinished(&mut self) -> Option<Vec<u8>> {
        let line = std::mem::take(&mut self.line);
        self.sync();
        (!self.echo && !self.discarding && !self.gone && !line.is_empty()).then_some(line)
    }

    /// Takes the keys in `input`; finished lines go to `lines`, what the
    /// screen must show to `echo`. A line may hold at most `max_line` bytes.
    pub fn feed(
        &mut self,
        input: &[u8],
        charset: Charset,
        max_line: usize,
        lines: &mut impl Lines,
        echo: &mut Vec<u8>,
    ) {
        self.charset = charset;
        let mut at = 0;
        while at < input.len() && !self.gone {
            let byte = input[at];
            if self.escape != Escape::None && self.in_escape(byte) {
                at += 1;
                continue;
            }
            if is_text(byte) {
                let end = input[at..]
                    .iter()
                    .position(|&b| !is_text(b))
                    .map_or(input.len(), |n| at + n);
                self.after_cr = false;
                self.insert(&input[at..end], max_line, lines, echo);
                at = end;
                continue;
            }
            self.control(byte, max_line, lines, echo);
            at += 1;
        }
    }

    /// Writes what the row shows of the line, on a row the caller has just
    /// erased (after printing lines that arrived).
    pub fn redraw(&mut self, out: &mut Vec<u8>) {
        if self.echo {
            self.draw(out);
        }
    }

    /// Whether `byte` belongs to the escape sequence being read.
    fn in_escape(&mut self, byte: u8) -> bool {
        let (next, taken) = match self.escape {
            Escape::None => (Escape::None, false),
            Escape::Esc => match byte {
                b'[' => (Escape::Csi(0), true),
                b'O' => (Escape::Ss3, true),
                // ESC and a key is Alt and the key: keep the key.
                _ => (Escape::None, false),
            },
            Escape::Csi(_) if (0x40..=0x7E).contains(&byte) => (Escape::None, true),
            Escape::Csi(n) if (0x20..=0x3F).contains(&byte) && n < MAX_ESCAPE => {
                (Escape::Csi(n + 1), true)
            }
            Escape::Ss3 if (0x20..0x7F).contains(&byte) => (Escape::None, true),
            Escape::Csi(_) | Escape::Ss3 => (Escape::None, false),
        };
        self.escape = next;
        taken
    }

    fn control(&mut self, byte: u8, max_line: usize, lines: &mut impl Lines, echo: &mut Vec<u8>) {
        let after_cr = std::mem::take(&mut self.after_cr);
        match byte {
            b'\r' => {
                self.end_line(lines, echo);
                self.after_cr = true;
            }
            b'\n' | 0 if after_cr => {}
            b'\n' => self.end_line(lines, echo),
            0x08 | 0x7F => self.erase_char(echo),
            0x15 => self.kill(0, echo),
            0x17 => self.erase_word(echo),
            0x03 => self.leave(lines),
            0x04 if self.line.is_empty() => self.leave(lines),
            0x1B => self.escape = Escape::Esc,
            // A tab's width depends on where it lands; a space does not.
            b'\t' => self.insert(b" ", max_line, lines, echo),
            // Ctrl-] is telnet's own escape and never comes; other keys mean nothing here.
            _ => {}
        }
    }

    /// The cut that applies: the connection's encoding, unless the line
    /// only makes sense in the other one and detection is on.
    fn cut(&self) -> &Cut {
        let current = &self.cuts[self.charset.encoding.index()];
        let other = &self.cuts[1 - self.charset.encoding.index()];
        if self.charset.auto && !current.valid() && other.valid() {
            other
        } else {
            current
        }
    }

    /// Brings the cuts up to date after the line changed.
    fn sync(&mut self) {
        for cut in &mut self.cuts {
            cut.sync(&self.line);
        }
    }

    fn insert(
        &mut self,
        bytes: &[u8],
        max_line: usize,
        lines: &mut impl Lines,
        echo: &mut Vec<u8>,
    ) {
        if self.discarding {
            return;
        }
        if self.line.len() + bytes.len() > max_line {
            // Reported now, as the line codec does; the rest of the line
            // up to its end is dropped.
            lines.too_long();
            self.kill(0, echo);
            self.discarding = true;
            return;
        }
        self.line.extend_from_slice(bytes);
        self.sync();
        if !self.echo {
            return;
        }
        let cut = self.cut();
        let (complete, width) = (cut.complete(), cut.width);
        if !self.repaint && self.shown <= complete && width < self.columns {
            echo.extend_from_slice(&self.line[self.shown..complete]);
            self.shown = complete;
        } else {
            echo.extend_from_slice(ERASE_ROW);
            self.draw(echo);
        }
    }

    /// Backspace and Delete: the last character goes, however many bytes
    /// and columns it takes.
    fn erase_char(&mut self, echo: &mut Vec<u8>) {
        let last = self.cut().backwards().next().map(|(start, _)| start);
        if let Some(start) = last {
            self.kill(start, echo);
        }
    }

    /// Ctrl-W: the spaces at the end, and the word before them.
    fn erase_word(&mut self, echo: &mut Vec<u8>) {
        let mut cut = 0;
        let mut in_word = false;
        for (start, piece) in self.cut().backwards() {
            let space = piece.len == 1 && self.line[start] == b' ';
            if space && in_word {
                break;
            }
            in_word |= !space;
            cut = start;
        }
        self.kill(cut, echo);
    }

    /// Cuts the line at `at` (a character boundary) and updates the row.
    fn kill(&mut self, at: usize, echo: &mut Vec<u8>) {
        if at >= self.line.len() {
            return;
        }
        let cut = self.cut();
        let complete = cut.complete();
        let (mut gone, mut zero_width) = (0, false);
        for (start, piece) in cut.backwards() {
            if start < at {
                break;
            }
            gone += piece.width;
            zero_width |= piece.width == 0 && !piece.partial;
        }
        self.line.truncate(at);
        self.sync();
        self.discarding = false;
        if !self.echo {
            return;
        }
        if at == 0 {
            // The whole line goes: one erase, however wide it was.
            if self.shown > 0 || self.repaint {
                echo.extend_from_slice(ERASE_ROW);
            }
            self.shown = 0;
            self.repaint = false;
        } else if self.repaint || zero_width || self.shown != complete {
            echo.extend_from_slice(ERASE_ROW);
            self.draw(echo);
        } else {
            // Back over the characters, blank them, back again.
            for byte in [b'\x08', b' ', b'\x08'] {
                echo.extend(std::iter::repeat_n(byte, gone));
            }
            self.shown = self.cut().complete();
        }
    }

    /// Writes the end of the line that fits the row, the row being empty.
    fn draw(&mut self, out: &mut Vec<u8>) {
        let cut = self.cut();
        let complete = cut.complete();
        let room = self.columns - 1;
        let mut from = complete;
        let mut width = 0;
        for (start, piece) in cut.backwards() {
            if start >= complete {
                continue; // the partial character
            }
            if width + piece.width > room {
                break;
            }
            width += piece.width;
            from = start;
        }
        out.extend_from_slice(&self.line[from..complete]);
        self.shown = complete;
        self.repaint = from > 0;
    }

    /// Enter: the line goes; the row it was typed on stays as a record
    /// (the whole line, if only its end was showing).
    fn end_line(&mut self, lines: &mut impl Lines, echo: &mut Vec<u8>) {
        if self.echo {
            if self.repaint && !self.discarding {
                echo.extend_from_slice(ERASE_ROW);
                echo.extend_from_slice(&self.line);
            }
            echo.extend_from_slice(b"\r\n");
        }
        if !std::mem::take(&mut self.discarding) {
            lines.line(&self.line);
        }
        self.line.clear();
        self.sync();
        self.shown = 0;
        self.repaint = false;
    }

    fn leave(&mut self, lines: &mut impl Lines) {
        lines.line(LEAVE);
        self.line.clear();
        self.sync();
        self.shown = 0;
        self.repaint = false;
        self.gone = true;
    }
}

/// Whether `byte` is typed text (not a control key). Bytes of 0x80 and
/// more are parts of characters in both encodings, except 0xFF, which is
/// in neither, and which echoed would be a telnet command.
fn is_text(byte: u8) -> bool {
    byte >= 0x20 && byte != 0x7F && byte != 0xFF
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as a user would see them arrive; "<long>" for a dropped one.
    #[derive(Debug, Default, PartialEq)]
    struct Sent(Vec<Vec<u8>>);

    impl Lines for Sent {
        fn line(&mut self, line: &[u8]) {
            self.0.push(line.to_vec());
        }
        fn too_long(&mut self) {
            self.0.push(b"<long>".to_vec());
        }
    }

    /// One terminal row at a time, as a terminal draws the echo: wide
    /// characters take two cells, BS moves left, ESC [ K erases to the end
    /// of the row, a bare LF moves down without going back (a staircase).
    #[derive(Debug, Default)]
    struct Screen {
        rows: Vec<String>,
        cells: Vec<char>,
        col: usize,
    }

    /// Marks the second cell of a wide character.
    const WIDE: char = '\u{0}';

    impl Screen {
        fn show(&mut self, encoding: Encoding, bytes: &[u8]) {
            let text = match encoding {
                Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
                Encoding::Cp949 => EUC_KR.decode_without_bom_handling(bytes).0.into_owned(),
            };
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\r' => self.col = 0,
                    '\n' => {
                        self.rows.push(self.row());
                        self.cells = vec![' '; self.col];
                    }
                    '\x08' => self.col = self.col.saturating_sub(1),
                    '\x1b' => {
                        assert_eq!(chars.next(), Some('['));
                        assert_eq!(chars.next(), Some('K'));
                        self.cells.truncate(self.col);
                    }
                    c => {
                        let w = c.width().unwrap_or(0);
                        assert!(!c.is_control(), "control {c:?} echoed");
                        if self.cells.len() < self.col + w {
                            self.cells.resize(self.col + w, ' ');
                        }
                        if w > 0 {
                            self.cells[self.col] = c;
                        }
                        if w == 2 {
                            self.cells[self.col + 1] = WIDE;
                        }
                        self.col += w;
                    }
                }
            }
        }

        fn row(&self) -> String {
            let text: String = self.cells.iter().filter(|&&c| c != WIDE).collect();
            text.trim_end().to_string()
        }
    }

    /// Types `chunks` into an echoing editor; returns the lines sent, the
    /// rows left on the screen, and the row being typed.
    fn type_in(
        charset: Charset,
        columns: u16,
        max_line: usize,
        chunks: &[&[u8]],
    ) -> (Sent, Vec<String>, String) {
        let mut editor = LineEditor::new();
        editor.set_echo(true);
        editor.set_columns(columns);
        let (mut sent, mut screen) = (Sent::default(), Screen::default());
        for chunk in chunks {
            let mut echo = Vec::new();
            editor.feed(chunk, charset, max_line, &mut sent, &mut echo);
            screen.show(charset.encoding, &echo);
        }
        let row = screen.row();
        (sent, screen.rows, row)
    }

    fn utf8() -> Charset {
        Charset::fixed(Encoding::Utf8)
    }

    fn cp949() -> Charset {
        Charset::fixed(Encoding::Cp949)
    }

    fn lines(sent: &Sent, encoding: Encoding) -> Vec<String> {
        sent.0
            .iter()
            .map(|l| match encoding {
                Encoding::Utf8 => String::from_utf8_lossy(l).into_owned(),
                Encoding::Cp949 => EUC_KR.decode_without_bom_handling(l).0.into_owned(),
            })
            .collect()
    }

    /// The same keys split at every offset give the same lines and the
    /// same screen.
    fn every_split(charset: Charset, columns: u16, input: &[u8]) -> (Sent, Vec<String>, String) {
        let whole = type_in(charset, columns, 4096, &[input]);
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let parts = type_in(
                    charset,
                    columns,
                    4096,
                    &[&input[..i], &input[i..j], &input[j..]],
                );
                assert_eq!(parts.0, whole.0, "lines, split at {i},{j}");
                assert_eq!(parts.2, whole.2, "row, split at {i},{j}");
            }
        }
        whole
    }

    #[test]
    fn typing_is_echoed_and_enter_sends_the_line() {
        let (sent, rows, row) = every_split(utf8(), 80, "안녕 hi\r".as_bytes());
        assert_eq!(lines(&sent, Encoding::Utf8), ["안녕 hi"]);
        assert_eq!(rows, ["안녕 hi"]);
        assert_eq!(row, "");
    }

    #[test]
    fn backspace_and_delete_take_one_whole_character() {
        for charset in [utf8(), cp949()] {
            let enc = charset.encoding;
            let input = [&enc.encode("가나다a")[..], b"\x7f\x7f\x08", b"x\r"].concat();
            let (sent, rows, _) = every_split(charset, 80, &input);
            assert_eq!(lines(&sent, enc), ["가x"], "{enc}");
            assert_eq!(rows, ["가x"], "{enc}");
        }
    }

    #[test]
    fn hangul_typed_in_cp949_on_a_detecting_connection_is_cut_right() {
        let charset = Charset::detecting(Encoding::Utf8);
        let input = [&Encoding::Cp949.encode("한글")[..], b"\x7f"].concat();
        for split in 0..=input.len() {
            let mut editor = LineEditor::new();
            editor.set_echo(true);
            let (mut sent, mut screen) = (Sent::default(), Screen::default());
            for chunk in [&input[..split], &input[split..]] {
                let mut echo = Vec::new();
                editor.feed(chunk, charset, 4096, &mut sent, &mut echo);
                // The terminal is CP949: it shows what a CP949 terminal shows.
                screen.show(Encoding::Cp949, &echo);
            }
            assert_eq!(screen.row(), "한", "split at {split}");
            assert_eq!(editor.line, Encoding::Cp949.encode("한").as_ref());
        }
    }

    #[test]
    fn every_line_end_ends_one_line() {
        let input: &[u8] = b"a\r\nb\r\0c\nd\re\r\n\r\nf\n\ng";
        let (sent, rows, row) = every_split(utf8(), 80, input);
        assert_eq!(
            lines(&sent, Encoding::Utf8),
            ["a", "b", "c", "d", "e", "", "f", ""]
        );
        assert_eq!(rows, ["a", "b", "c", "d", "e", "", "f", ""]);
        assert_eq!(row, "g");
    }

    #[test]
    fn kill_line_and_kill_word() {
        let (sent, rows, _) = every_split(
            utf8(),
            80,
            "abc 한글 def  \x17\x17x\r지움\x15y\r".as_bytes(),
        );
        assert_eq!(lines(&sent, Encoding::Utf8), ["abc x", "y"]);
        assert_eq!(rows, ["abc x", "y"]);
    }

    #[test]
    fn a_byte_ff_is_never_taken_nor_echoed() {
        let (sent, rows, _) = every_split(utf8(), 80, b"a\xffb\xff\r");
        assert_eq!(sent.0, [b"ab".to_vec()]);
        assert_eq!(rows, ["ab"]);
        let mut editor = LineEditor::new();
        editor.set_echo(true);
        let (mut sent, mut echo) = (Sent::default(), Vec::new());
        editor.feed(b"x\xff", utf8(), 4096, &mut sent, &mut echo);
        assert_eq!(echo, b"x");
    }

    #[test]
    fn ctrl_c_leaves_and_nothing_after_it_counts() {
        let (sent, _, _) = every_split(utf8(), 80, b"half a line\x03more\r");
        assert_eq!(sent.0, [LEAVE]);
    }

    #[test]
    fn ctrl_d_leaves_only_on_an_empty_line() {
        let (sent, _, _) = type_in(utf8(), 80, 4096, &[b"ab\x04c\r\x04x\r"]);
        assert_eq!(lines(&sent, Encoding::Utf8), ["abc", "/exit"]);
    }

    #[test]
    fn arrow_and_function_keys_are_swallowed() {
        let (sent, rows, _) = every_split(utf8(), 80, b"ab\x1b[D\x1b[1;5C\x1bOPc\r");
        assert_eq!(lines(&sent, Encoding::Utf8), ["abc"]);
        assert_eq!(rows, ["abc"]);
    }

    #[test]
    fn a_line_wider_than_the_window_shows_its_end() {
        let typed = "0123456789가나다라마바사아자차";
        let input = [typed.as_bytes(), b"\x7f"].concat();
        let (sent, rows, row) = every_split(utf8(), 20, &input);
        assert!(sent.0.is_empty() && rows.is_empty());
        // 19 columns at most, and never half a Hangul character.
        assert_eq!(row, "9가나다라마바사아자");
        let (sent, rows, row) = type_in(utf8(), 20, 4096, &[&input, b"\x15\x7fok\r"]);
        assert_eq!(lines(&sent, Encoding::Utf8), ["ok"]);
        assert_eq!(
            (rows.as_slice(), row.as_str()),
            (&["ok".to_string()][..], "")
        );
        // Enter on a long line leaves the whole line on the screen.
        let (_, rows, _) = type_in(utf8(), 20, 4096, &[typed.as_bytes(), b"\r"]);
        assert_eq!(rows, [typed]);
    }

    /// A key costs the same at the end of a long line: each echo is at
    /// most a row, and 100 000 keys one packet each take no time at all
    /// (with work per key growing with the line, this would take minutes).
    #[test]
    fn keys_on_a_long_line_cost_a_row_at_most() {
        let mut editor = LineEditor::new();
        editor.set_echo(true);
        let (mut sent, mut echo) = (Sent::default(), Vec::new());
        for i in 0..100_000 {
            echo.clear();
            let key: &[u8] = if i % 3 == 2 {
                b"\x7f"
            } else {
                "가".as_bytes()
            };
            editor.feed(key, utf8(), 1 << 20, &mut sent, &mut echo);
            assert!(echo.len() <= ERASE_ROW.len() + 80 * 3, "{}", echo.len());
        }
        echo.clear();
        editor.feed(b"\r", utf8(), 1 << 20, &mut sent, &mut echo);
        assert_eq!(sent.0, ["가".repeat(33_334).into_bytes()]);
    }

    /// Random keys, checked against a plain model of the line, with the
    /// row redrawn at random moments as arriving lines make it.
    #[test]
    fn random_keys_match_a_simple_model() {
        let keys: [&str; 13] = [
            "a", " ", "가", "é", "\x7f", "\x08", "\x15", "\x17", "\r", "\n", "\r\n", "\x1b[D", "\t",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut editor = LineEditor::new();
            editor.set_echo(true);
            editor.set_columns(10);
            let mut sent = Sent::default();
            let (mut model, mut wanted, mut after_cr) = (Vec::<char>::new(), Vec::new(), false);
            for _ in 0..60 {
                let key = keys[(next() % keys.len() as u64) as usize];
                let mut echo = Vec::new();
                editor.feed(key.as_bytes(), utf8(), 4096, &mut sent, &mut echo);
                if next() % 4 == 0 {
                    editor.redraw(&mut echo);
                }
                for c in key.chars() {
                    let was_cr = std::mem::take(&mut after_cr);
                    match c {
                        '\r' => {
                            wanted.push(model.drain(..).collect::<String>());
                            after_cr = true;
                        }
                        '\n' if was_cr => {}
                        '\n' => wanted.push(model.drain(..).collect::<String>()),
                        '\x7f' | '\x08' => {
                            model.pop();
                        }
                        '\x15' => model.clear(),
                        '\x17' => {
                            while model.last() == Some(&' ') {
                                model.pop();
                            }
                            while model.last().is_some_and(|&c| c != ' ') {
                                model.pop();
                            }
                        }
                        '\x1b' | '[' | 'D' => {}
                        '\t' => model.push(' '),
                        c => model.push(c),
                    }
                }
            }
            assert_eq!(lines(&sent, Encoding::Utf8), wanted);
        }
    }

    #[test]
    fn a_line_over_the_limit_is_reported_once_and_dropped() {
        let (sent, _, row) = type_in(utf8(), 80, 8, &[b"123456", b"789 and more", b"\rok\r"]);
        assert_eq!(lines(&sent, Encoding::Utf8), ["<long>", "ok"]);
        assert_eq!(row, "");
    }

    #[test]
    fn without_echo_lines_still_arrive_and_nothing_is_echoed() {
        let mut editor = LineEditor::new();
        let (mut sent, mut echo) = (Sent::default(), Vec::new());
        editor.feed(b"hello\r\nbye", utf8(), 4096, &mut sent, &mut echo);
        assert_eq!(sent.0, [b"hello".to_vec()]);
        assert!(echo.is_empty());
        assert_eq!(editor.take_unfinished(), Some(b"bye".to_vec()));
    }

    #[test]
    fn redraw_shows_the_line_again_after_other_lines() {
        let mut editor = LineEditor::new();
        editor.set_echo(true);
        let (mut sent, mut echo) = (Sent::default(), Vec::new());
        editor.feed("반가워".as_bytes(), utf8(), 4096, &mut sent, &mut echo);
        let mut screen = Screen::default();
        screen.show(Encoding::Utf8, &echo);
        // What the reactor writes when a line arrives: erase, line, redraw.
        let mut out = ERASE_ROW.to_vec();
        out.extend_from_slice(b"Alice >> hi\r\n");
        editor.redraw(&mut out);
        editor.feed(b"\x7f!", utf8(), 4096, &mut sent, &mut out);
        screen.show(Encoding::Utf8, &out);
        assert_eq!(screen.rows, ["Alice >> hi"]);
        assert_eq!(screen.row(), "반가!");
    }

    /// The 2 350 syllables of KS X 1001 (rows 0xB0-0xC8 of EUC-KR).
    fn ks_x_1001_syllables() -> Vec<char> {
        (0xB0..=0xC8u8)
            .flat_map(|lead| (0xA1..=0xFEu8).map(move |trail| [lead, trail]))
            .filter_map(|pair| {
                EUC_KR
                    .decode_without_bom_handling_and_without_replacement(&pair)
                    .and_then(|s| s.chars().next())
            })
            .collect()
    }

    #[test]
    fn every_ks_x_1001_syllable_arrives_whole_and_erases_whole() {
        let syllables = ks_x_1001_syllables();
        assert_eq!(syllables.len(), 2350);
        let all: String = syllables.iter().collect();
        // A connection whose CP949 was detected still detects: some
        // CP949 pairs are valid UTF-8 too, and must be cut as CP949.
        for charset in [utf8(), cp949(), Charset::detecting(Encoding::Cp949)] {
            let enc = charset.encoding;
            // Each syllable typed twice, the second erased, then Enter:
            // what arrives and what the row shows is the syllable, whole.
            let mut input = Vec::new();
            for &c in &syllables {
                let bytes = enc.encode(&c.to_string()).into_owned();
                input.extend_from_slice(&bytes);
                input.extend_from_slice(&bytes);
                input.extend_from_slice(b"\x7f\r");
            }
            let (sent, rows, _) = type_in(charset, 80, 4096, &[&input]);
            let each: Vec<String> = syllables.iter().map(|c| c.to_string()).collect();
            assert_eq!(lines(&sent, enc), each, "{charset:?}");
            assert_eq!(rows, each, "{charset:?}");
            // And all of them pasted as one line.
            let (sent, _, _) = type_in(charset, 80, 1 << 20, &[&enc.encode(&all), b"\r"]);
            assert_eq!(lines(&sent, enc), std::slice::from_ref(&all), "{charset:?}");
        }
    }
}
