//! What the user sees: plain lines, or a decorated terminal with the line
//! being typed kept at the bottom.
//!
//! - [`Mode::Plain`] (standard output is not a terminal: a pipe, a file, a
//!   test): each line exactly as the server sent it, no escapes.
//! - [`Mode::Decorated`] (output is a terminal, input is not): each line
//!   starts with the local time `[HH:MM]`, nicknames are coloured.
//! - [`Mode::Interactive`] (both are terminals): decorated, and the
//!   terminal is in raw mode with the input row at the bottom. When a
//!   message arrives, the input row is cleared, the message is printed in
//!   its place (the terminal scrolls it up), and the input row is drawn
//!   again below it with the cursor where it was, so typing goes on
//!   undisturbed.
//!
//! While a file transfer runs (`/send`, `/get`), a status row with its
//! progress sits above the input row (at the bottom when there is none)
//! and is cleared and redrawn with it, so the two never garble each other
//! or the messages scrolling past. Plain mode has no status row.
//!
//! Output is gathered during a turn of the client's loop and written at
//! its end in one `write`, so a burst of messages redraws the input row
//! once and never flickers.
//!
//! Text is written in the terminal's encoding: UTF-8, or CP949 for a
//! legacy Korean console, where a character CP949 cannot show becomes `?`
//! (the escape sequences around it are ASCII, the same in both).

use std::io::{self, Write};

use crossterm::cursor::{MoveToColumn, MoveUp};
use crossterm::style::{Attribute, Color, Print, ResetColor, SetAttribute, SetForegroundColor};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::QueueableCommand;

use super::editor::{char_width, Edit, Editor, Keys};
use super::server_line::{strip_stamp, SERVER};
use crate::net::charset::Encoding;
use crate::text::valid_nick;

/// How lines are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lines as they came, nothing added.
    Plain,
    /// Local time and colours, lines read from a pipe.
    Decorated,
    /// Local time and colours, raw mode, the input row at the bottom.
    Interactive,
}

/// What the keyboard produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// A line to send.
    Line(String),
    /// The line typed after [`Screen::ask_secret`]: send it as it is, never
    /// show or record it.
    Secret(String),
    /// Ctrl-C, or Ctrl-D on an empty line.
    Quit,
}

/// The screen.
#[derive(Debug)]
pub struct Screen {
    /// How lines are shown.
    mode: Mode,
    /// Whether to colour (off with `NO_COLOR`).
    colour: bool,
    /// What the terminal shows text in.
    encoding: Encoding,
    /// What this turn will write.
    buf: Vec<u8>,
    /// Raw mode is on and must be turned off at the end.
    raw: bool,
    /// Bytes to keys (interactive only).
    keys: Keys,
    /// The line being typed (interactive only).
    editor: Editor,
    /// Our nickname, for the prompt and our own lines' colour.
    nick: Option<String>,
    /// The input row is shown (not after leaving).
    typing: bool,
    /// The line being typed is a password: the row shows no text.
    secret: bool,
    /// The input row is on screen as last drawn.
    drawn: bool,
    /// Width of the terminal, in columns.
    columns: usize,
    /// The transfers' progress, shown above the input row.
    status: Option<String>,
    /// The status row is on screen.
    status_drawn: bool,
}

impl Screen {
    /// Opens the screen; in interactive mode, switches the terminal to raw
    /// mode (undone on drop, and by a panic hook should anything panic).
    ///
    /// # Errors
    ///
    /// The terminal refuses raw mode.
    pub fn open(
        mode: Mode,
        colour: bool,
        max_line: usize,
        encoding: Encoding,
    ) -> io::Result<Screen> {
        let mut screen = Screen {
            mode,
            colour,
            encoding,
            buf: Vec::with_capacity(4096),
            raw: false,
            keys: Keys::new(encoding),
            editor: Editor::new(max_line),
            nick: None,
            typing: mode == Mode::Interactive,
            secret: false,
            drawn: false,
            columns: 80,
            status: None,
            status_drawn: false,
        };
        if mode == Mode::Interactive {
            restore_terminal_on_panic();
            terminal::enable_raw_mode()?;
            screen.raw = true;
            screen.resize();
        }
        Ok(screen)
    }

    /// Whether lines are shown exactly as the server sent them.
    pub fn plain(&self) -> bool {
        self.mode == Mode::Plain
    }

    /// Whether keys come through [`Screen::keys`] (rather than lines).
    pub fn interactive(&self) -> bool {
        self.mode == Mode::Interactive
    }

    /// A line from the server.
    pub fn show(&mut self, line: &str) {
        match self.mode {
            Mode::Plain => {
                self.buf.extend_from_slice(&self.encoding.encode(line));
                self.buf.push(b'\n');
            }
            Mode::Decorated | Mode::Interactive => {
                let spans = paint(strip_stamp(line));
                self.decorated(&spans);
            }
        }
    }

    /// A line of a replay (earlier messages, a catch-up, `/find`): marked
    /// and dimmed, with its own date and time instead of the time it
    /// arrived, so it cannot pass for something said just now. Plain mode
    /// shows it as the server sent it.
    pub fn replayed(&mut self, line: &str) {
        match self.mode {
            Mode::Plain => self.show(line),
            Mode::Decorated | Mode::Interactive => {
                self.clear_row();
                self.styled(Paint::Dim, "| ");
                self.styled(Paint::Dim, line);
                self.buf
                    .extend_from_slice(if self.raw { b"\r\n" } else { b"\n" });
            }
        }
    }

    /// A line we sent to the room, shown as the others see it (not in plain
    /// mode: there the input is not ours to repeat).
    pub fn own(&mut self, line: &str) {
        if self.mode != Mode::Plain {
            let spans = paint(line);
            self.decorated(&spans);
        }
    }

    /// A remark of the client's own (a line too long to send, a transcript
    /// that cannot be written). In plain mode it goes to standard error, so
    /// standard output stays exactly what the server said.
    pub fn notice(&mut self, text: &str) {
        match self.mode {
            Mode::Plain => error_line(self.encoding, text),
            Mode::Decorated | Mode::Interactive => {
                self.decorated(&[(Paint::Dim, "* "), (Paint::Dim, text)]);
            }
        }
    }

    /// Takes key bytes (interactive mode) and reports lines and quits.
    pub fn keys(&mut self, bytes: &[u8], out: &mut Vec<Typed>) {
        let mut keys = Vec::new();
        self.keys.feed(bytes, &mut keys);
        for key in keys {
            match self.editor.apply(key) {
                Edit::Changed => {}
                Edit::Submit(line) if self.secret => {
                    self.secret = false;
                    out.push(Typed::Secret(line));
                }
                Edit::Submit(line) => out.push(Typed::Line(line)),
                Edit::Quit => out.push(Typed::Quit),
            }
        }
        // The row is redrawn at the end of the turn.
        self.drawn = false;
    }

    /// The next line typed is a password (interactive mode): it is not
    /// echoed, and comes back as [`Typed::Secret`].
    pub fn ask_secret(&mut self) {
        self.secret = true;
        self.drawn = false;
    }

    /// The nickname the server accepted (shown in the prompt).
    pub fn set_nick(&mut self, nick: Option<&str>) {
        self.nick = nick.map(str::to_string);
        self.drawn = false;
    }

    /// The terminal changed size: the input row is drawn again to fit.
    pub fn resize(&mut self) {
        self.columns = terminal::size().map_or(80, |(columns, _)| usize::from(columns));
        self.drawn = false;
    }

    /// Width of the terminal, in columns (for the status row).
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The transfers' progress row (`None`: no row). Not in plain mode,
    /// whose output stays what the server said.
    pub fn set_status(&mut self, status: Option<String>) {
        if self.mode == Mode::Plain || status == self.status {
            return;
        }
        self.clear_row();
        self.status = status;
    }

    /// We are leaving: the input row goes away.
    pub fn leave(&mut self) {
        self.status = None;
        self.editor.clear();
        self.clear_row();
        self.typing = false;
    }

    /// Writes the turn's output.
    ///
    /// # Errors
    ///
    /// Standard output is closed.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.status_drawn {
            if let Some(status) = self.status.clone() {
                let _ = self.buf.queue(Print('\r'));
                self.styled(Paint::Dim, &status);
                let _ = self.buf.queue(Clear(ClearType::UntilNewLine));
                if self.typing {
                    self.buf
                        .extend_from_slice(if self.raw { b"\r\n" } else { b"\n" });
                }
                self.status_drawn = true;
                self.drawn = false;
            }
        }
        if self.typing && !self.drawn {
            self.draw_row();
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        let written = out.write_all(&self.buf).and_then(|()| out.flush());
        self.buf.clear();
        written
    }

    /// Prints one decorated line above the input row.
    fn decorated(&mut self, spans: &[(Paint, &str)]) {
        self.clear_row();
        let time = super::local_time("[%H:%M] ");
        self.styled(Paint::Dim, &time);
        for (paint, text) in spans {
            self.styled(*paint, text);
        }
        self.buf
            .extend_from_slice(if self.raw { b"\r\n" } else { b"\n" });
    }

    /// Appends `text` in `paint`.
    fn styled(&mut self, paint: Paint, text: &str) {
        let colour = match paint {
            _ if !self.colour => None,
            Paint::Plain => None,
            Paint::Dim => Some(Color::DarkGrey),
            Paint::Server => Some(Color::Yellow),
            Paint::Whisper => Some(Color::Magenta),
            Paint::Nick(colour) => Some(colour),
        };
        // Writing to a Vec cannot fail.
        if let Some(colour) = colour {
            let _ = self.buf.queue(SetForegroundColor(colour));
        }
        self.buf.extend_from_slice(&self.encoding.encode(text));
        if colour.is_some() {
            let _ = self.buf.queue(ResetColor);
        }
    }

    /// Removes the input row (before printing a message in its place).
    fn clear_row(&mut self) {
        if self.drawn || (self.raw && self.typing) {
            let _ = self
                .buf
                .queue(Print('\r'))
                .and_then(|buf| buf.queue(Clear(ClearType::UntilNewLine)));
        }
        self.drawn = false;
        if self.status_drawn {
            // The status row is the one above (or, without an input row,
            // this one): the next line is printed in its place.
            if self.typing {
                let _ = self.buf.queue(MoveUp(1));
            }
            let _ = self
                .buf
                .queue(Print('\r'))
                .and_then(|buf| buf.queue(Clear(ClearType::UntilNewLine)));
            self.status_drawn = false;
        }
    }

    /// Draws the prompt and the visible part of the line being typed.
    fn draw_row(&mut self) {
        let mut prompt = match &self.nick {
            _ if self.secret => "Room password (not shown): ".to_string(),
            Some(nick) => format!("{nick}> "),
            None => "> ".to_string(),
        };
        let mut prompt_width: usize = prompt.chars().map(char_width).sum();
        if prompt_width + 10 > self.columns {
            prompt = "> ".into();
            prompt_width = 2;
        }
        let mut view = self.editor.view(self.columns.saturating_sub(prompt_width));
        if self.secret {
            view.text.clear();
            view.cursor = 0;
        }
        let _ = self.buf.queue(Print('\r'));
        let paint = self.nick.as_deref().map_or(Paint::Plain, nick_paint);
        if self.colour {
            let _ = self.buf.queue(SetAttribute(Attribute::Bold));
        }
        self.styled(paint, &prompt);
        if self.colour {
            let _ = self.buf.queue(SetAttribute(Attribute::Reset));
        }
        let column = prompt_width + view.cursor;
        self.buf
            .extend_from_slice(&self.encoding.encode(&view.text));
        let _ = self
            .buf
            .queue(Clear(ClearType::UntilNewLine))
            .and_then(|buf| buf.queue(MoveToColumn(u16::try_from(column).unwrap_or(u16::MAX))));
        self.drawn = true;
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.raw {
            self.leave();
            let _ = self.flush();
            let _ = terminal::disable_raw_mode();
        }
    }
}

/// Prints `suda: <text>` on standard error, in the terminal's encoding
/// (so a Hangul nickname in a message reads right on a CP949 console).
pub fn error_line(encoding: Encoding, text: &str) {
    let line = format!("suda: {text}\n");
    // Nowhere left to report a failure to report.
    let _ = io::stderr().lock().write_all(&encoding.encode(&line));
}

/// Makes a panic print on a sane terminal: raw mode off first, then the
/// usual message. Installed once, before raw mode is turned on.
fn restore_terminal_on_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = terminal::disable_raw_mode();
            eprintln!();
            previous(info);
        }));
    });
}

/// How a piece of a line is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// As the terminal shows text.
    Plain,
    /// The time, separators, the client's own remarks.
    Dim,
    /// `[Server]:` lines.
    Server,
    /// Whispers, to and from.
    Whisper,
    /// A nickname, always in the same colour.
    Nick(Color),
}

/// Colours for nicknames: readable on dark and light backgrounds, and
/// none of them the server's yellow or the whispers' magenta.
const NICK_COLOURS: [Color; 6] = [
    Color::Green,
    Color::Cyan,
    Color::Red,
    Color::Blue,
    Color::DarkYellow,
    Color::DarkCyan,
];

/// The colour of `nick`: the same in every session and every client
/// (a fixed hash, not Rust's randomised one), case-insensitive as the
/// server's nicknames are.
pub fn nick_paint(nick: &str) -> Paint {
    let mut hash: u32 = 0x811c_9dc5;
    for c in nick.chars().flat_map(char::to_lowercase) {
        hash ^= u32::from(c);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    Paint::Nick(NICK_COLOURS[hash as usize % NICK_COLOURS.len()])
}

/// Splits a line into coloured pieces.
///
/// ```
/// use suda::client::screen::{nick_paint, paint, Paint};
/// assert_eq!(
///     paint("Bob >> hi"),
///     [(nick_paint("Bob"), "Bob"), (Paint::Dim, " >> "), (Paint::Plain, "hi")]
/// );
/// assert_eq!(paint("[Server]: Bye!"), [(Paint::Server, "[Server]: Bye!")]);
/// ```
pub fn paint(line: &str) -> Vec<(Paint, &str)> {
    if line.starts_with(SERVER) {
        return vec![(Paint::Server, line)];
    }
    if line.starts_with("[Whisper from ") || line.starts_with("[Whisper to ") {
        return vec![(Paint::Whisper, line)];
    }
    for tag in ["[Scheduled by ", "[Search by "] {
        if let Some((nick, text)) = line
            .strip_prefix(tag)
            .and_then(|rest| rest.split_once("] "))
            .filter(|(nick, _)| valid_nick(nick))
        {
            return vec![
                (Paint::Dim, tag),
                (nick_paint(nick), nick),
                (Paint::Dim, "] "),
                (Paint::Plain, text),
            ];
        }
    }
    if let Some(text) = line.strip_prefix("[AI] ") {
        return vec![(Paint::Dim, "[AI] "), (Paint::Plain, text)];
    }
    if let Some((nick, text)) = line.split_once(" >> ").filter(|(nick, _)| valid_nick(nick)) {
        return vec![
            (nick_paint(nick), nick),
            (Paint::Dim, " >> "),
            (Paint::Plain, text),
        ];
    }
    vec![(Paint::Plain, line)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_colours_are_stable_and_ignore_case() {
        assert_eq!(nick_paint("Alice"), nick_paint("alice"));
        assert_eq!(nick_paint("민수"), nick_paint("민수"));
        let colours: std::collections::HashSet<_> = ["Alice", "Bob", "Charlie", "Dave", "Eve"]
            .iter()
            .map(|nick| format!("{:?}", nick_paint(nick)))
            .collect();
        assert!(colours.len() > 1, "not all one colour");
    }

    #[test]
    fn each_kind_of_line_is_set_apart() {
        assert_eq!(
            paint("[Whisper from Bob] psst"),
            [(Paint::Whisper, "[Whisper from Bob] psst")]
        );
        assert_eq!(
            paint("[Scheduled by 철수] 회의"),
            [
                (Paint::Dim, "[Scheduled by "),
                (nick_paint("철수"), "철수"),
                (Paint::Dim, "] "),
                (Paint::Plain, "회의"),
            ]
        );
        assert_eq!(
            paint("[AI] an answer"),
            [(Paint::Dim, "[AI] "), (Paint::Plain, "an answer")]
        );
        // Not a nickname before " >> ": plain text.
        assert_eq!(paint("two words >> x"), [(Paint::Plain, "two words >> x")]);
    }
}
