//! The line being typed, in raw terminal mode.
//!
//! In raw mode the terminal hands over bytes as keys are pressed and
//! echoes nothing, so the client edits the line itself. Doing it here,
//! without a terminal, keeps it testable: [`Keys`] turns bytes into
//! [`Key`]s (UTF-8 or CP949 characters, as the terminal speaks, and escape
//! sequences; each may be split across reads), and
//! [`Editor`] applies them and says which slice of the line fits on the
//! one row the input keeps at the bottom of the screen.

use encoding_rs::EUC_KR;
use unicode_width::UnicodeWidthChar;

use crate::net::charset::Encoding;

/// One key press that the editor understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character to insert (Hangul from an input method included).
    Char(char),
    /// Enter: send the line.
    Enter,
    /// Delete the character before the cursor.
    Backspace,
    /// Delete the character under the cursor.
    Delete,
    /// Cursor one character left.
    Left,
    /// Cursor one character right.
    Right,
    /// Cursor to the start (Home, Ctrl-A).
    Home,
    /// Cursor to the end (End, Ctrl-E).
    End,
    /// Delete the whole line (Ctrl-U).
    Clear,
    /// Delete the word before the cursor (Ctrl-W).
    DeleteWord,
    /// Ctrl-C: leave.
    Interrupt,
    /// Ctrl-D: leave if the line is empty, as at a shell prompt.
    EndOfInput,
}

/// Turns raw terminal bytes into keys.
#[derive(Debug)]
pub struct Keys {
    /// What the terminal's characters are written in.
    encoding: Encoding,
    /// The start of a character or escape sequence cut off by the end of
    /// a read. At most one escape sequence long: see [`Keys::feed`].
    pending: Vec<u8>,
}

impl Default for Keys {
    /// Keys from a UTF-8 terminal.
    fn default() -> Keys {
        Keys::new(Encoding::Utf8)
    }
}

/// Escape sequences longer than this are not keys we know: drop them
/// rather than wait forever for their end.
const MAX_SEQUENCE: usize = 16;

impl Keys {
    /// Keys from a terminal that writes characters in `encoding`.
    pub fn new(encoding: Encoding) -> Keys {
        Keys {
            encoding,
            pending: Vec::new(),
        }
    }

    /// Decodes `bytes`, appending the keys to `out`. Unknown keys and
    /// escape sequences are dropped.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Key>) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        while at < self.pending.len() {
            match decode(&self.pending[at..], self.encoding) {
                Decoded::Key(key, used) => {
                    out.extend(key);
                    at += used;
                }
                Decoded::Incomplete => break,
            }
        }
        self.pending.drain(..at);
        if self.pending.len() > MAX_SEQUENCE {
            self.pending.clear();
        }
    }
}

/// The result of decoding from the start of a buffer.
enum Decoded {
    /// A key (or nothing, for a byte to skip) and the bytes it took.
    Key(Option<Key>, usize),
    /// The buffer ends in the middle of a character or sequence.
    Incomplete,
}

fn decode(bytes: &[u8], encoding: Encoding) -> Decoded {
    let key = |key: Key, used: usize| Decoded::Key(Some(key), used);
    match bytes[0] {
        b'\r' | b'\n' => key(Key::Enter, 1),
        0x7f | 0x08 => key(Key::Backspace, 1),
        0x01 => key(Key::Home, 1),
        0x03 => key(Key::Interrupt, 1),
        0x04 => key(Key::EndOfInput, 1),
        0x05 => key(Key::End, 1),
        0x15 => key(Key::Clear, 1),
        0x17 => key(Key::DeleteWord, 1),
        b'\t' => key(Key::Char(' '), 1),
        0x1b => escape(bytes),
        byte if byte < 0x20 => Decoded::Key(None, 1),
        _ => match encoding {
            Encoding::Utf8 => utf8(bytes),
            Encoding::Cp949 => cp949(bytes),
        },
    }
}

/// `ESC [ params final` (CSI) or `ESC O x` (SS3): cursor keys and friends.
fn escape(bytes: &[u8]) -> Decoded {
    match bytes.get(1) {
        None => Decoded::Incomplete,
        Some(b'[') => {
            let Some(end) = bytes[2..].iter().position(|b| (0x40..=0x7e).contains(b)) else {
                return Decoded::Incomplete;
            };
            let used = 2 + end + 1;
            let key = match &bytes[2..used] {
                b"C" => Some(Key::Right),
                b"D" => Some(Key::Left),
                b"H" | b"1~" | b"7~" => Some(Key::Home),
                b"F" | b"4~" | b"8~" => Some(Key::End),
                b"3~" => Some(Key::Delete),
                // Up, down, bracketed paste markers, modified keys: ignored.
                _ => None,
            };
            Decoded::Key(key, used)
        }
        Some(b'O') => match bytes.get(2) {
            None => Decoded::Incomplete,
            Some(b'C') => Decoded::Key(Some(Key::Right), 3),
            Some(b'D') => Decoded::Key(Some(Key::Left), 3),
            Some(b'H') => Decoded::Key(Some(Key::Home), 3),
            Some(b'F') => Decoded::Key(Some(Key::End), 3),
            Some(_) => Decoded::Key(None, 3),
        },
        // Esc alone, or Alt+key: drop the Esc, keep the key.
        Some(_) => Decoded::Key(None, 1),
    }
}

/// One UTF-8 character; a byte that cannot start one is skipped.
fn utf8(bytes: &[u8]) -> Decoded {
    let want = match bytes[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        0x00..=0x7f => 1,
        _ => return Decoded::Key(None, 1),
    };
    if bytes.len() < want {
        // A continuation byte that does not fit shows the character is
        // broken, not cut: skip its first byte.
        if bytes[1..].iter().all(|b| b & 0xc0 == 0x80) {
            return Decoded::Incomplete;
        }
        return Decoded::Key(None, 1);
    }
    match std::str::from_utf8(&bytes[..want])
        .ok()
        .and_then(|s| s.chars().next())
    {
        Some(c) if !c.is_control() => Decoded::Key(Some(Key::Char(c)), want),
        _ => Decoded::Key(None, 1),
    }
}

/// One CP949 character: ASCII, or a lead byte and a trail byte; a byte
/// that cannot start one, or a pair that is no character, loses its first
/// byte.
fn cp949(bytes: &[u8]) -> Decoded {
    let want = match bytes[0] {
        0x00..=0x7f => 1,
        0x81..=0xfe => 2,
        _ => return Decoded::Key(None, 1),
    };
    if bytes.len() < want {
        return Decoded::Incomplete;
    }
    let c = EUC_KR
        .decode_without_bom_handling_and_without_replacement(&bytes[..want])
        .and_then(|text| text.chars().next());
    match c {
        Some(c) if !c.is_control() => Decoded::Key(Some(Key::Char(c)), want),
        _ => Decoded::Key(None, 1),
    }
}

/// What a key did to the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The line or the cursor changed (or nothing did): redraw.
    Changed,
    /// Enter on a non-empty line: this is to be sent; the line is now empty.
    Submit(String),
    /// The user wants to leave.
    Quit,
}

/// The line being typed.
#[derive(Debug)]
pub struct Editor {
    /// The characters typed so far.
    text: Vec<char>,
    /// Their length in UTF-8 bytes, kept up to date for the limit.
    bytes: usize,
    /// The longest line, in UTF-8 bytes (`--max-line`): a huge paste stops
    /// there instead of growing without end.
    limit: usize,
    /// Where the next character goes, as an index into `text`.
    cursor: usize,
    /// The first character shown when the line is wider than the row:
    /// kept between redraws so the view does not jump about.
    scroll: usize,
}

/// The part of the line to draw on the input row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The characters that fit, in order.
    pub text: String,
    /// The cursor's column, counted from the start of `text`.
    pub cursor: usize,
}

impl Editor {
    /// An empty line that may grow to `limit` bytes.
    pub fn new(limit: usize) -> Editor {
        Editor {
            text: Vec::new(),
            bytes: 0,
            limit,
            cursor: 0,
            scroll: 0,
        }
    }

    /// Applies one key.
    pub fn apply(&mut self, key: Key) -> Edit {
        match key {
            Key::Char(c) if self.bytes + c.len_utf8() <= self.limit => {
                self.text.insert(self.cursor, c);
                self.bytes += c.len_utf8();
                self.cursor += 1;
            }
            Key::Enter => {
                if self.text.iter().all(|c| c.is_whitespace()) {
                    return Edit::Changed;
                }
                let line = self.text.drain(..).collect();
                self.bytes = 0;
                self.cursor = 0;
                self.scroll = 0;
                return Edit::Submit(line);
            }
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.bytes -= self.text.remove(self.cursor).len_utf8();
            }
            Key::Delete if self.cursor < self.text.len() => {
                self.bytes -= self.text.remove(self.cursor).len_utf8();
            }
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.text.len()),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.text.len(),
            Key::Clear => {
                self.text.clear();
                self.bytes = 0;
                self.cursor = 0;
            }
            Key::DeleteWord => {
                let mut start = self.cursor;
                while start > 0 && self.text[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.text[start - 1] != ' ' {
                    start -= 1;
                }
                let gone: usize = self
                    .text
                    .drain(start..self.cursor)
                    .map(char::len_utf8)
                    .sum();
                self.bytes -= gone;
                self.cursor = start;
            }
            Key::Interrupt => return Edit::Quit,
            Key::EndOfInput if self.text.is_empty() => return Edit::Quit,
            // Over the limit, or nothing to delete.
            Key::Char(_) | Key::Backspace | Key::Delete | Key::EndOfInput => {}
        }
        Edit::Changed
    }

    /// Forgets what was typed (when leaving).
    pub fn clear(&mut self) {
        self.apply(Key::Clear);
    }

    /// What to draw in `columns` columns, keeping the cursor in sight.
    ///
    /// One column is always left for the cursor after the last character,
    /// and a wide character never straddles the edge.
    pub fn view(&mut self, columns: usize) -> View {
        let columns = columns.max(2);
        let width = |chars: &[char]| chars.iter().map(|&c| char_width(c)).sum::<usize>();
        if width(&self.text) < columns {
            self.scroll = 0;
        }
        self.scroll = self.scroll.min(self.cursor);
        // Scroll right until the cursor is in sight; one pass, not a
        // rescan per step (a long pasted line would make that quadratic).
        let mut before_cursor = width(&self.text[self.scroll..self.cursor]);
        while self.scroll < self.cursor && before_cursor >= columns {
            before_cursor -= char_width(self.text[self.scroll]);
            self.scroll += 1;
        }
        let mut text = String::new();
        let mut used = 0;
        for &c in &self.text[self.scroll..] {
            let w = char_width(c);
            if used + w > columns - 1 {
                break;
            }
            text.push(c);
            used += w;
        }
        View {
            text,
            cursor: before_cursor,
        }
    }
}

/// Columns a character takes: 2 for Hangul and other wide characters.
pub fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(chunks: &[&[u8]]) -> Vec<Key> {
        let mut decoder = Keys::default();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut out);
        }
        out
    }

    fn typed(editor: &mut Editor, text: &str) {
        for c in text.chars() {
            editor.apply(Key::Char(c));
        }
    }

    #[test]
    fn bytes_split_anywhere_give_the_same_keys() {
        let input = "a한\x1b[D\x1b[3~\x7f\r\x1bOH글\x03".as_bytes();
        let whole = keys(&[input]);
        assert_eq!(
            whole,
            [
                Key::Char('a'),
                Key::Char('한'),
                Key::Left,
                Key::Delete,
                Key::Backspace,
                Key::Enter,
                Key::Home,
                Key::Char('글'),
                Key::Interrupt,
            ]
        );
        for i in 0..=input.len() {
            for j in i..=input.len() {
                assert_eq!(
                    keys(&[&input[..i], &input[i..j], &input[j..]]),
                    whole,
                    "{i},{j}"
                );
            }
        }
    }

    #[test]
    fn cp949_keys_split_anywhere_give_the_same_characters() {
        let (hangul, _, _) = EUC_KR.encode("a한\x1b[D똠\r");
        let input: &[u8] = &hangul;
        let decode = |chunks: &[&[u8]]| {
            let mut decoder = Keys::new(Encoding::Cp949);
            let mut out = Vec::new();
            for chunk in chunks {
                decoder.feed(chunk, &mut out);
            }
            out
        };
        let whole = decode(&[input]);
        assert_eq!(
            whole,
            [
                Key::Char('a'),
                Key::Char('한'),
                Key::Left,
                Key::Char('똠'),
                Key::Enter
            ]
        );
        for i in 0..=input.len() {
            assert_eq!(decode(&[&input[..i], &input[i..]]), whole, "{i}");
        }
        // A lead byte without a trail, and bytes that start nothing.
        assert_eq!(
            decode(&[b"\xb0\rx\x80\xffy"]),
            [Key::Enter, Key::Char('x'), Key::Char('y')]
        );
    }

    #[test]
    fn unknown_and_broken_input_is_dropped() {
        assert_eq!(
            keys(&[b"\x1b[A\x1b[200~x\x1b[201~\x02\xff\xc3y"]),
            [Key::Char('x'), Key::Char('y')]
        );
        // Alt+b: the Esc goes, the letter stays.
        assert_eq!(keys(&[b"\x1bb"]), [Key::Char('b')]);
        // A sequence that never ends does not hold input forever.
        let mut decoder = Keys::default();
        let mut out = Vec::new();
        decoder.feed(b"\x1b[", &mut out);
        decoder.feed(&[b'1'; 40], &mut out);
        decoder.feed(b"z", &mut out);
        assert_eq!(out, [Key::Char('z')]);
    }

    #[test]
    fn editing_and_submitting() {
        let mut editor = Editor::new(1024);
        typed(&mut editor, "helo");
        editor.apply(Key::Left);
        editor.apply(Key::Char('l'));
        editor.apply(Key::End);
        typed(&mut editor, " 수다");
        editor.apply(Key::Backspace);
        assert_eq!(editor.apply(Key::Enter), Edit::Submit("hello 수".into()));
        assert_eq!(
            editor.apply(Key::Enter),
            Edit::Changed,
            "empty: nothing sent"
        );
        typed(&mut editor, "one two  ");
        editor.apply(Key::DeleteWord);
        assert_eq!(editor.apply(Key::EndOfInput), Edit::Changed);
        assert_eq!(editor.apply(Key::Enter), Edit::Submit("one ".into()));
        assert_eq!(editor.apply(Key::EndOfInput), Edit::Quit);
        typed(&mut editor, "x");
        assert_eq!(editor.apply(Key::Interrupt), Edit::Quit);
    }

    #[test]
    fn the_line_stops_growing_at_the_limit() {
        let mut editor = Editor::new(7);
        typed(&mut editor, "ab한글x");
        // 2 + 3 + 3 would be 8 bytes: 글 is refused, the x still fits.
        assert_eq!(editor.apply(Key::Enter), Edit::Submit("ab한x".into()));
        typed(&mut editor, "한글");
        editor.apply(Key::Backspace);
        typed(&mut editor, "x");
        assert_eq!(editor.apply(Key::Enter), Edit::Submit("한x".into()));
    }

    #[test]
    fn view_follows_the_cursor_on_a_narrow_row() {
        let mut editor = Editor::new(1024);
        typed(&mut editor, "abc");
        assert_eq!(
            editor.view(10),
            View {
                text: "abc".into(),
                cursor: 3
            }
        );
        typed(&mut editor, "defghijkl");
        // Nine characters and the cursor's column.
        assert_eq!(
            editor.view(10),
            View {
                text: "defghijkl".into(),
                cursor: 9
            }
        );
        editor.apply(Key::Home);
        assert_eq!(editor.view(10).text, "abcdefghi");
        assert_eq!(editor.view(10).cursor, 0);
    }

    #[test]
    fn wide_characters_count_two_columns_and_never_straddle_the_edge() {
        let mut editor = Editor::new(1024);
        typed(&mut editor, "가나다라마");
        let view = editor.view(7);
        // The cursor sits after 마: 다라마 is 6 columns, the 7th is the cursor's.
        assert_eq!(view.text, "다라마");
        assert_eq!(view.cursor, 6);
        editor.apply(Key::Home);
        let view = editor.view(7);
        assert_eq!(view.text, "가나다");
        assert_eq!(view.cursor, 0);
    }
}
