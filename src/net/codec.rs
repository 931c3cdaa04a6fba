//! The line codec: bytes from a socket in, complete lines out.
//!
//! A line ends with `\n`; a `\r` just before it is dropped, so `\r\n` from
//! telnet works as well as `\n` from netcat. Telnet commands are removed
//! first ([`crate::net::telnet`]). A line longer than the limit is reported once
//! as [`Frame::TooLong`] and the rest of it, up to its newline, is discarded,
//! so a client can never make the server buffer more than one line's worth.
//!
//! Once the peer turns out to be a telnet client, its bytes go to the
//! [`LineEditor`] instead: in character mode it sends keys, not lines, and
//! CR, CR LF, CR NUL and LF each end one line. What the editor echoes is
//! kept with the frames of the read ([`Frames::echo`]).

use std::ops::Range;

use crate::net::charset::{Charset, Encoding};
use crate::net::line_editor::{LineEditor, Lines};
use crate::net::telnet::{Event, Receiver, TelnetFilter};

/// One unit of input found by [`LineCodec::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line without its line ending.
    Line(&'a [u8]),
    /// A line went over the limit; its bytes are dropped.
    TooLong,
}

/// Which buffer of [`Frames`] a line lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Entirely inside this read's data: no copy was needed.
    Data,
    /// Started in an earlier read, or came through the line editor:
    /// copied together with what came before.
    Joined,
}

/// The frames of one read, kept in reusable buffers so that steady-state
/// reading allocates nothing.
#[derive(Debug, Default)]
pub struct Frames {
    /// Telnet-stripped bytes of the read.
    data: Vec<u8>,
    /// Lines that began in an earlier read, back to back.
    joined: Vec<u8>,
    /// What was found, in order.
    items: Vec<Option<(Source, Range<usize>)>>,
    /// What the line editor echoed: bytes for the user's own screen.
    echo: Vec<u8>,
}

impl Frames {
    /// Forgets the previous read, keeping the buffers' memory.
    pub fn clear(&mut self) {
        self.data.clear();
        self.joined.clear();
        self.items.clear();
        self.echo.clear();
    }

    /// Number of frames found.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no frame was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `index`th frame.
    pub fn get(&self, index: usize) -> Option<Frame<'_>> {
        let item = self.items.get(index)?;
        Some(match item {
            None => Frame::TooLong,
            Some((Source::Data, range)) => Frame::Line(&self.data[range.clone()]),
            Some((Source::Joined, range)) => Frame::Line(&self.joined[range.clone()]),
        })
    }

    /// Iterates over the frames in order.
    pub fn iter(&self) -> impl Iterator<Item = Frame<'_>> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The echo of what was typed during the read (character mode only).
    pub fn echo(&self) -> &[u8] {
        &self.echo
    }

    /// Shrinks buffers that grew for one large read, so that idle
    /// connections do not pin memory (the frames buffer is shared by the
    /// whole reactor, but a burst should not keep megabytes around).
    pub fn trim(&mut self, keep: usize) {
        self.clear();
        self.data.shrink_to(keep);
        self.joined.shrink_to(keep);
        self.echo.shrink_to(keep);
    }

    /// Adds a line copied into `joined`.
    fn push_joined(&mut self, line: &[u8]) {
        let at = self.joined.len();
        self.joined.extend_from_slice(line);
        self.items.push(Some((Source::Joined, at..at + line.len())));
    }
}

impl Lines for Frames {
    fn line(&mut self, line: &[u8]) {
        self.push_joined(line);
    }

    fn too_long(&mut self) {
        self.items.push(None);
    }
}

/// Per-connection line state.
#[derive(Debug)]
pub struct LineCodec {
    /// Telnet command state, kept across reads.
    telnet: TelnetFilter,
    /// The start of a line whose newline has not arrived. Usually empty and
    /// unallocated: most lines arrive whole in one read.
    partial: Vec<u8>,
    /// The current line went over the limit and was reported: drop the rest
    /// of it up to the next newline.
    discarding: bool,
    /// The line being typed, once the peer turned out to speak telnet
    /// (boxed: netcat connections, nearly all of them, never need it).
    editor: Option<Box<LineEditor>>,
    /// The connection's charset, which tells the editor what a character is.
    charset: Charset,
}

impl Default for LineCodec {
    fn default() -> LineCodec {
        LineCodec {
            telnet: TelnetFilter::default(),
            partial: Vec::new(),
            discarding: false,
            editor: None,
            charset: Charset::detecting(Encoding::Utf8),
        }
    }
}

/// Length of `line` without a final `\r`.
fn content_len(line: &[u8]) -> usize {
    line.len() - usize::from(line.last() == Some(&b'\r'))
}

impl LineCodec {
    /// The codec of a connection to the telnet listener: the server's
    /// offers (character mode, BINARY, NAWS) go to `offers` at once.
    pub fn telnet(offers: &mut Vec<u8>) -> LineCodec {
        LineCodec {
            telnet: TelnetFilter::speaking_first(offers),
            editor: Some(Box::default()),
            ..LineCodec::default()
        }
    }

    /// Tells the codec what the connection speaks now (detection and
    /// `/encoding` change it between reads).
    pub fn set_charset(&mut self, charset: Charset) {
        self.charset = charset;
    }

    /// Takes the bytes of one read. Complete lines and over-long reports go
    /// to `out`; answers to telnet negotiation go to `reply`.
    ///
    /// A line may hold at most `max_line` bytes, not counting its line end.
    pub fn feed(&mut self, input: &[u8], max_line: usize, out: &mut Frames, reply: &mut Vec<u8>) {
        let LineCodec {
            telnet,
            partial,
            discarding,
            editor,
            charset,
        } = self;
        let mut route = Route {
            partial,
            discarding,
            editor,
            charset: *charset,
            max_line,
            out,
        };
        telnet.filter(input, reply, &mut route);
    }

    /// At end of input: a last line without newline is still a line.
    pub fn finish(&mut self, out: &mut Frames) {
        if let Some(editor) = &mut self.editor {
            if let Some(line) = editor.take_unfinished() {
                out.push_joined(&line);
            }
            return;
        }
        let line = std::mem::take(&mut self.partial);
        if !self.discarding && !line.is_empty() {
            out.push_joined(&line[..content_len(&line)]);
        }
        self.discarding = false;
    }

    /// Whether the peer speaks telnet (and so wants CR LF line ends).
    pub fn speaks_telnet(&self) -> bool {
        self.telnet.speaks_telnet()
    }

    /// Whether the server echoes and edits the line being typed
    /// (character mode): the line must be kept below arriving lines.
    pub fn echoing(&self) -> bool {
        self.editor.as_ref().is_some_and(|e| e.echoing())
    }

    /// Writes the line being typed, for a row that was just erased.
    pub fn redraw(&mut self, out: &mut Vec<u8>) {
        if let Some(editor) = &mut self.editor {
            editor.redraw(out);
        }
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.partial.len() + self.editor.as_ref().map_or(0, |e| e.pending())
    }
}

/// Where the telnet filter's output goes: the line splitter for a netcat
/// connection, the line editor for a telnet client.
struct Route<'a> {
    partial: &'a mut Vec<u8>,
    discarding: &'a mut bool,
    editor: &'a mut Option<Box<LineEditor>>,
    charset: Charset,
    max_line: usize,
    out: &'a mut Frames,
}

impl Receiver for Route<'_> {
    fn data(&mut self, bytes: &[u8]) {
        match self.editor {
            Some(editor) => {
                let mut echo = std::mem::take(&mut self.out.echo);
                editor.feed(bytes, self.charset, self.max_line, self.out, &mut echo);
                self.out.echo = echo;
            }
            None => {
                let start = self.out.data.len();
                self.out.data.extend_from_slice(bytes);
                self.split(start);
            }
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Telnet => {
                // The line started before the first command is finished in
                // the editor; a CR at its end is a line end cut in two.
                let mut line = std::mem::take(self.partial);
                let cr = line.last() == Some(&b'\r');
                line.truncate(content_len(&line));
                let discarding = std::mem::take(self.discarding);
                let editor = self
                    .editor
                    .insert(Box::new(LineEditor::with_line(line, discarding)));
                if cr {
                    let mut echo = Vec::new();
                    editor.feed(b"\r", self.charset, self.max_line, self.out, &mut echo);
                }
            }
            Event::Echo(on) => {
                if let Some(editor) = self.editor {
                    editor.set_echo(on);
                }
            }
            Event::Columns(columns) => {
                if let Some(editor) = self.editor {
                    editor.set_columns(columns);
                }
            }
        }
    }
}

impl Route<'_> {
    /// Finds the lines in `out.data[start..]`, joining the first with what
    /// an earlier read left.
    fn split(&mut self, start: usize) {
        let out = &mut *self.out;
        let max_line = self.max_line;
        let mut pos = start;
        while let Some(offset) = memchr::memchr(b'\n', &out.data[pos..]) {
            let end = pos + offset;
            if *self.discarding {
                *self.discarding = false;
            } else if self.partial.is_empty() {
                let len = content_len(&out.data[pos..end]);
                out.items.push(if len > max_line {
                    None
                } else {
                    Some((Source::Data, pos..pos + len))
                });
            } else {
                let mut line = std::mem::take(self.partial);
                line.extend_from_slice(&out.data[pos..end]);
                let len = content_len(&line);
                if len > max_line {
                    out.items.push(None);
                } else {
                    out.push_joined(&line[..len]);
                }
            }
            pos = end + 1;
        }
        if !*self.discarding && pos < out.data.len() {
            self.partial.extend_from_slice(&out.data[pos..]);
            if content_len(self.partial) > max_line {
                // Report now rather than at the newline: the sender learns
                // at once, and we stop holding the bytes.
                out.items.push(None);
                *self.partial = Vec::new();
                *self.discarding = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a user would see: each frame as a string, too-long as "<long>".
    fn decode(chunks: &[&[u8]], max: usize, eof: bool) -> Vec<String> {
        let mut codec = LineCodec::default();
        let mut frames = Frames::default();
        let mut reply = Vec::new();
        let mut seen = Vec::new();
        let mut collect = |frames: &Frames| {
            for frame in frames.iter() {
                seen.push(match frame {
                    Frame::Line(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                    Frame::TooLong => "<long>".to_string(),
                });
            }
        };
        for chunk in chunks {
            frames.clear();
            codec.feed(chunk, max, &mut frames, &mut reply);
            collect(&frames);
        }
        if eof {
            frames.clear();
            codec.finish(&mut frames);
            collect(&frames);
        }
        seen
    }

    #[test]
    fn splits_lines_and_drops_carriage_returns() {
        assert_eq!(
            decode(&[b"a\nbb\r\n\nccc"], 10, true),
            ["a", "bb", "", "ccc"]
        );
    }

    #[test]
    fn last_line_without_newline_waits_for_eof() {
        assert_eq!(decode(&[b"hello"], 10, false), Vec::<String>::new());
        assert_eq!(decode(&[b"hello"], 10, true), ["hello"]);
    }

    #[test]
    fn every_split_gives_the_same_lines() {
        let input: &[u8] =
            b"Alice\r\n\xec\x95\x88\xeb\x85\x95\n\xff\xfb\x01x\r\n0123456789AB\nok\n";
        let whole = decode(&[input], 10, true);
        assert_eq!(whole, ["Alice", "안녕", "x", "<long>", "ok"]);
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let parts = decode(&[&input[..i], &input[i..j], &input[j..]], 10, true);
                assert_eq!(parts, whole, "split at {i},{j}");
            }
        }
    }

    /// The first telnet command arrives in the middle of a line (or of
    /// its CR LF): the line is finished by the editor, whole and once.
    #[test]
    fn switching_to_telnet_mid_line_keeps_the_line() {
        let input: &[u8] = b"ab\xff\xf1cd\r\nef\r\xff\xf1\ngh\r\0ij\n";
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let parts = decode(&[&input[..i], &input[i..j], &input[j..]], 10, true);
                assert_eq!(parts, ["abcd", "ef", "gh", "ij"], "split at {i},{j}");
            }
        }
        // The first command right between a CR and its LF.
        let input: &[u8] = b"ab\r\xff\xf1\nx\n";
        for i in 0..=input.len() {
            let parts = decode(&[&input[..i], &input[i..]], 10, true);
            assert_eq!(parts, ["ab", "x"], "split at {i}");
        }
    }

    #[test]
    fn a_telnet_listener_codec_offers_and_echoes_once_agreed() {
        let mut offers = Vec::new();
        let mut codec = LineCodec::telnet(&mut offers);
        assert!(offers.starts_with(b"\xff\xfb\x01")); // WILL ECHO first
        assert!(codec.speaks_telnet() && !codec.echoing());
        let (mut frames, mut reply) = (Frames::default(), Vec::new());
        codec.feed(b"\xff\xfd\x01hi\r", 100, &mut frames, &mut reply);
        assert!(codec.echoing());
        assert_eq!(frames.echo(), b"hi\r\n");
        assert_eq!(frames.iter().collect::<Vec<_>>(), [Frame::Line(b"hi")]);
    }

    /// Found by the codec fuzzer: an escaped 0xFF (IAC IAC) and NULs typed
    /// before the client's first command were echoed raw when the editor
    /// took the line over, and an echoed 0xFF is a telnet command.
    #[test]
    fn the_line_before_the_switch_is_echoed_without_commands() {
        let mut codec = LineCodec::default();
        codec.set_charset(Charset::detecting(Encoding::Cp949));
        let (mut frames, mut reply) = (Frames::default(), Vec::new());
        let mut echo = Vec::new();
        let mut lines = Vec::new();
        let input: &[u8] = b"\xbe\xff\xff\x00\x00\xff\xfd\x01\xffD\xf8\xff\x08";
        for chunk in input.chunks(2).chain([&b"\r"[..]]) {
            frames.clear();
            codec.feed(chunk, 33, &mut frames, &mut reply);
            echo.extend_from_slice(frames.echo());
            lines.extend(frames.iter().map(|f| format!("{f:?}")));
        }
        assert!(codec.echoing());
        assert!(!echo.contains(&0xff), "echoed {echo:?}");
        // What was typed before the switch stays in the line, as typed text.
        assert_eq!(lines, [format!("{:?}", Frame::Line(b"\xbeD"))]);
    }

    #[test]
    fn exact_limit_is_accepted_and_one_more_is_not() {
        assert_eq!(
            decode(&[b"12345\r\n123456\n"], 5, true),
            ["12345", "<long>"]
        );
        // A CR held back at the end of a read is not counted against the line.
        assert_eq!(decode(&[b"12345\r", b"\n"], 5, true), ["12345"]);
    }

    #[test]
    fn long_line_is_reported_once_and_its_tail_dropped() {
        let chunks: Vec<&[u8]> = vec![b"xxxxxxxx", b"xxxxxxxx", b"xxxx\nnext\n"];
        assert_eq!(decode(&chunks, 5, true), ["<long>", "next"]);
    }

    #[test]
    fn partial_buffer_never_exceeds_the_limit() {
        let mut codec = LineCodec::default();
        let mut frames = Frames::default();
        for _ in 0..100 {
            codec.feed(&[b'x'; 1000], 64, &mut frames, &mut Vec::new());
            assert!(codec.pending() <= 64 + 1);
        }
    }
}
