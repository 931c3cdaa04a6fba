//! `suda connect`: the chat client.
//!
//! One thread runs a mio loop over the connection to the server and the
//! user's keyboard (standard input), so a line that arrives is shown at
//! once, even while another is being typed, and nothing ever waits on
//! anything else. Standard input that epoll cannot poll (a regular file)
//! is read by a helper thread; see [`stdin`].
//!
//! What the client does with a line from the server is decided by its
//! exact wording ([`server_line`]): the nickname prompt is answered
//! (`--nick`, [`login`]), the welcome names the transcript
//! ([`transcript`]), `Bye` and a kick decide the exit code. Everything
//! else is shown ([`screen`]) and recorded.
//!
//! Encodings: there are two, the terminal's and the wire's. The terminal
//! is CP949 with `--encoding cp949` (a legacy Korean console) and UTF-8
//! with `--encoding utf-8`; without the flag its locale decides
//! ([`locale`]: `LC_ALL`, `LC_CTYPE`, `LANG`, e.g. `ko_KR.CP949`). What
//! the person types (keys, piped lines, a `--nick` argument) is read in
//! the terminal's encoding, and what they see (standard output, and the
//! client's lines on standard error) is written in it, a character CP949
//! cannot show becoming `?`. The wire starts as the terminal: a CP949
//! terminal asks the server for CP949 at once (`/encoding cp949`), so emoji
//! arrive as text emoticons rather than as `?`. After that the wire
//! follows what the server says it speaks (`Your encoding is now ...`),
//! even after an `/encoding` typed by hand, while the terminal stays what
//! it is. A line from the server that is valid UTF-8 and not CP949 is
//! still read as UTF-8 (the welcome, sent before the server heard our
//! request). The transcript is UTF-8 whatever the terminal speaks.
//!
//! Files: `/send <path> [nick]` and `/get [n]` are the client's own
//! commands ([`files`], [`transfer`]): each transfer runs on a thread and
//! a connection of its own ([`http`]) with its progress in a status row,
//! while chat goes on. End of input waits for running transfers (the
//! server announces a file only while its uploader is still there);
//! `/exit`, Ctrl-C or a signal leaves at once and abandons them.
//!
//! Exit codes: 0 when the user left (`/exit`, end of input, Ctrl-D or
//! Ctrl-C), 1 when the connection could not be made or was lost, 2 for a
//! bad command line, 3 when kicked. Each failure prints one line on
//! standard error.

pub mod discover;
pub mod editor;
pub mod files;
pub mod http;
pub mod known_servers;
pub mod locale;
pub mod login;
pub mod reassembly;
pub mod screen;
pub mod server_line;
pub mod stdin;
pub mod tls;
pub mod transcript;
pub mod transfer;
pub mod transport;

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};

use crate::cli::ConnectArgs;
use crate::net::charset::{Charset, Encoding};
use crate::net::codec::{Frame, Frames, LineCodec};
use crate::net::signals;
use crate::text::sanitize;
use login::AutoNick;
use screen::{Mode, Screen, Typed};
use server_line::{strip_stamp, Event};
use stdin::Stdin;
use transcript::Transcript;
use transfer::{Seen, Transfers};
use transport::{Drained, Received, Target, Transport};

/// The connection to the server.
const SERVER: Token = Token(0);
/// Standard input (the keyboard, a pipe, or the relay of a file).
const STDIN: Token = Token(1);
/// SIGINT, SIGTERM, SIGHUP: leave.
const STOP: Token = Token(2);
/// SIGWINCH: the terminal changed size.
const RESIZE: Token = Token(3);
/// A file transfer thread has news.
const WAKE: Token = Token(4);

/// Exit code after a kick, so a script can tell it from a lost connection.
pub const EXIT_KICKED: u8 = 3;

/// Standard input is not read while this much is waiting to be sent: a
/// pasted file then waits in the pipe, not in our memory.
const SEND_BACKLOG: usize = 64 * 1024;

/// What the keep-alive says over UDP: a command the server ignores.
const KEEPALIVE: &str = "/ping";

/// How a session ended.
#[derive(Debug)]
enum End {
    /// The user left; exit 0.
    Left,
    /// The server closed the connection (`None`) or it failed.
    Lost(Option<io::Error>),
    /// The admin kicked us.
    Kicked,
    /// `--nick` was refused and nobody is at a keyboard to pick another:
    /// the server's reason, without the question nobody will answer.
    NickRefused(String),
    /// The room asks for a password and there is neither `--password-file`
    /// nor a keyboard to type it.
    PasswordNeeded,
}

/// Runs `suda connect`: one line on standard error and a non-zero exit
/// code when it goes wrong.
pub fn run(mut args: ConnectArgs) -> ExitCode {
    let terminal = args.encoding.unwrap_or_else(locale::from_env);
    let say = |text: &str| screen::error_line(terminal, text);
    if args.server.is_none() {
        match discover::choose(args.udp, terminal) {
            Ok(addr) => args.server = Some(addr.to_string()),
            Err(why) => {
                say(&why);
                return ExitCode::FAILURE;
            }
        }
    }
    // The session (and with it raw mode) is over before anything is printed.
    let end = Session::start(args, terminal).and_then(Session::run);
    match end {
        Ok(End::Left) => ExitCode::SUCCESS,
        Ok(End::Kicked) => {
            say("You have been kicked from the chat.");
            ExitCode::from(EXIT_KICKED)
        }
        Ok(End::Lost(None)) => {
            say("Connection closed by the server.");
            ExitCode::FAILURE
        }
        Ok(End::Lost(Some(e))) => {
            say(&format!("Connection lost: {}.", transport::describe(&e)));
            ExitCode::FAILURE
        }
        Ok(End::NickRefused(answer)) => {
            say(&format!(
                "the nickname was refused ({answer}); try another --nick, or --nick-retries N"
            ));
            ExitCode::FAILURE
        }
        Ok(End::PasswordNeeded) => {
            eprintln!("suda: the room asks for a password: use --password-file PATH");
            ExitCode::FAILURE
        }
        Err(e) => {
            say(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// A conversation with the server.
struct Session {
    /// The command line.
    args: ConnectArgs,
    /// `HOST:PORT` as given, for messages.
    label: String,
    /// The loop's poll.
    poll: Poll,
    /// The connection.
    transport: Transport,
    /// Standard input; `None` once it ended.
    stdin: Option<Stdin>,
    /// Lines from standard input when it is not a terminal (a terminal's
    /// keys go to the screen's editor instead).
    typed: LineCodec,
    /// The lines of one read of standard input (reused).
    typed_frames: Frames,
    /// Piped input is in the terminal's encoding, or in the other one if a
    /// line is only valid as that (a file written elsewhere).
    typed_charset: Charset,
    /// The terminal or standard output.
    screen: Screen,
    /// `<nick>_chat_log.txt`.
    transcript: Transcript,
    /// What we send in: the terminal's encoding at first, then what the
    /// server last confirmed (`/encoding`).
    wire: Encoding,
    /// How we read the server: UTF-8 or CP949 as each line shows, pinned
    /// once the server confirms an `/encoding`.
    incoming: Charset,
    /// The nickname the server accepted.
    nick: Option<String>,
    /// Answers to the nickname prompt.
    auto: AutoNick,
    /// The room password (`--password-file`), sent when asked for.
    password: Option<String>,
    /// Lines typed while `auto` is answering, to send after it.
    held: VecDeque<String>,
    /// Readiness not yet used up (edge-triggered: read until WouldBlock).
    server_ready: bool,
    /// Same, for standard input.
    stdin_ready: bool,
    /// Standard input has ended: leave once the held lines are out.
    input_ended: bool,
    /// `/exit` was sent or `Bye` seen: the server closing is the normal end.
    leaving: bool,
    /// The kick notice arrived: the close that follows means exit code 3.
    kicked: bool,
    /// Something came from the server (over UDP: it is there).
    heard: bool,
    /// We told the server our UTF-8 at start: its confirmation is ours,
    /// not news for the user, and is not shown.
    quiet_confirmation: bool,
    /// Lines of history still to come after a replay's header.
    replaying: usize,
    /// The replay is a catch-up: its lines are new to the user.
    catching_up: bool,
    /// We left: how long we still wait for the server's last lines.
    closing: Option<Instant>,
    /// When the session started (over UDP: the wait for an answer).
    started: Instant,
    /// The stop signals' self-pipe (the handler only writes a byte).
    stop: mio::net::UnixStream,
    /// The resize signal's self-pipe, in interactive mode.
    resize: Option<mio::net::UnixStream>,
    /// The end, once decided.
    end: Option<End>,
    /// `/send`, `/get` and the offers.
    files: Transfers,
    /// Input ended while transfers ran, and the user was told we wait.
    told_waiting: bool,
}

impl Session {
    /// Connects and sets up the loop.
    ///
    /// # Errors
    ///
    /// A one-line reason: the address, the connection, the terminal.
    fn start(args: ConnectArgs, terminal: Encoding) -> anyhow::Result<Session> {
        if !args.no_log && !args.log_dir.is_dir() {
            return Err(anyhow!(
                "--log-dir {}: no such folder",
                args.log_dir.display()
            ));
        }
        let download_dir = match &args.download_dir {
            Some(dir) if !dir.is_dir() => {
                return Err(anyhow!("--download-dir {}: no such folder", dir.display()));
            }
            Some(dir) => dir.clone(),
            None => default_download_dir(),
        };
        let password = args
            .password_file
            .as_deref()
            .map(login::read_password_file)
            .transpose()?;
        let server = args.server.clone().unwrap_or_default();
        let label = server.trim().to_string();
        let failed = |why: String| {
            let udp = if args.udp { " (UDP)" } else { "" };
            anyhow!("cannot connect to {label}{udp}: {why}")
        };
        let target = Target::resolve(&server).map_err(failed)?;
        let mut transport = if args.udp {
            Transport::udp(&target)
        } else if args.tls {
            Transport::tls(&target, args.connect_timeout, &args.trust())
        } else {
            Transport::tcp(&target, args.connect_timeout)
        }
        .map_err(failed)?;

        let poll = Poll::new().context("cannot start the event loop")?;
        transport
            .register(poll.registry(), SERVER)
            .context("cannot poll the connection")?;
        let waker = std::sync::Arc::new(
            mio::Waker::new(poll.registry(), WAKE).context("cannot start the event loop")?,
        );
        let files = Transfers::new(
            waker,
            download_dir,
            args.trust(),
            transport.peer_fingerprint(),
            args.transfer_timeout,
        );
        let stdin =
            Stdin::register(poll.registry(), STDIN).context("cannot read standard input")?;

        let out_tty = io::stdout().is_terminal()
            && std::env::var_os("TERM").is_none_or(|term| term != "dumb");
        let mode = match (out_tty, io::stdin().is_terminal()) {
            (false, _) => Mode::Plain,
            (true, false) => Mode::Decorated,
            (true, true) => Mode::Interactive,
        };
        // https://no-color.org: set and not empty means no colours.
        let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());

        let mut stop =
            signals::pipe(&[SIGINT, SIGTERM, SIGHUP]).context("cannot set up signals")?;
        poll.registry()
            .register(&mut stop, STOP, Interest::READABLE)?;
        let resize = if mode == Mode::Interactive {
            let mut resize = signals::pipe(&[SIGWINCH]).context("cannot set up signals")?;
            poll.registry()
                .register(&mut resize, RESIZE, Interest::READABLE)?;
            Some(resize)
        } else {
            None
        };
        let screen = Screen::open(mode, colour, args.max_line, terminal)
            .context("cannot set up the terminal")?;

        let transcript = Transcript::new(
            (!args.no_log).then(|| args.log_dir.clone()),
            u64::try_from(args.log_max).unwrap_or(u64::MAX),
        );
        let mut session = Session {
            label,
            poll,
            transport,
            stdin: Some(stdin),
            typed: LineCodec::default(),
            typed_frames: Frames::default(),
            typed_charset: Charset::detecting(terminal),
            screen,
            transcript,
            wire: terminal,
            incoming: Charset::detecting(Encoding::Utf8),
            nick: None,
            auto: AutoNick::new(args.nick.clone(), args.nick_retries),
            password,
            held: VecDeque::new(),
            server_ready: false,
            stdin_ready: false,
            input_ended: false,
            leaving: false,
            kicked: false,
            heard: false,
            quiet_confirmation: false,
            replaying: 0,
            catching_up: false,
            closing: None,
            started: Instant::now(),
            stop,
            resize,
            end: None,
            files,
            told_waiting: false,
            args,
        };
        // Before anything else, so even the server's first Hangul is in our
        // encoding; and a known encoding spares the user the server's hint
        // about garbled Hangul. A CP949 user is shown the server's answer
        // (it says what the console now speaks); a UTF-8 user, who changes
        // nothing, is not.
        session.quiet_confirmation = session.wire == Encoding::Utf8;
        let request = format!("/encoding {}", session.wire).to_ascii_lowercase();
        session.send_raw(&request);
        Ok(session)
    }

    /// The loop: until the user leaves or the server goes.
    fn run(mut self) -> anyhow::Result<End> {
        let mut events = Events::with_capacity(16);
        let mut received = Vec::new();
        let mut typed = Vec::new();
        loop {
            // What the last turn (or start(): HELO, /encoding) left to do.
            if let Some(end) = self.end_turn()? {
                return Ok(end);
            }
            let now = Instant::now();
            let timeout = self.timeout(now);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e).context("polling failed");
            }
            let (mut stop, mut resized, mut woke) = (false, false, false);
            for event in events.iter() {
                match event.token() {
                    SERVER => self.server_ready = true,
                    STDIN => self.stdin_ready = true,
                    STOP => stop = true,
                    RESIZE => resized = true,
                    WAKE => woke = true,
                    _ => {}
                }
            }
            if stop {
                drain(&mut self.stop);
                self.quit();
            }
            if resized {
                if let Some(resize) = &mut self.resize {
                    drain(resize);
                }
                self.screen.resize();
            }
            if woke {
                for notice in self.files.drain() {
                    self.screen.notice(&notice);
                }
            }
            if self.server_ready {
                self.receive(&mut received)?;
            }
            if self.end.is_none() {
                self.read_stdin(&mut typed);
            }
            if self.input_ended && self.held.is_empty() && self.closing.is_none() {
                if !self.files.busy() {
                    self.begin_close();
                } else if !self.told_waiting {
                    self.told_waiting = true;
                    let n = self.files.count();
                    let s = if n == 1 { "" } else { "s" };
                    self.screen.notice(&format!(
                        "Waiting for {n} file transfer{s} to finish before leaving (Ctrl-C leaves now)."
                    ));
                }
            }
            self.timers(Instant::now())?;
        }
    }

    /// Sends what was queued, writes out the screen and the transcript;
    /// returns the end if one was decided.
    fn end_turn(&mut self) -> anyhow::Result<Option<End>> {
        if let Err(e) = self.transport.flush(self.poll.registry(), SERVER) {
            let end = self.failed(e)?;
            self.end.get_or_insert(end);
        }
        if let Err(e) = self.transcript.flush() {
            self.transcript_failed(&e);
        }
        let status = self.files.status(self.screen.columns());
        self.screen.set_status(status);
        self.screen
            .flush()
            .context("cannot write to standard output")?;
        Ok(self.end.take())
    }

    /// How long the next poll may wait.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        if self.server_ready || (self.stdin_ready && self.may_read_stdin()) {
            return Some(Duration::ZERO);
        }
        let mut next = earliest(self.closing, self.transport.deadline());
        next = earliest(next, self.files.deadline());
        if self.transport.is_udp() {
            if !self.heard {
                next = earliest(next, Some(self.started + self.args.connect_timeout));
            }
            next = earliest(next, self.transport.keepalive_due(self.args.keepalive));
        }
        next.map(|at| at.saturating_duration_since(now))
    }

    /// Deadlines: the wait after leaving, the UDP answer and keep-alive.
    fn timers(&mut self, now: Instant) -> anyhow::Result<()> {
        for notice in self.files.expire(now) {
            self.screen.notice(&notice);
        }
        if self.closing.is_some_and(|at| now >= at) {
            let end = self.closed_end(None);
            self.end.get_or_insert(end);
        }
        if self.transport.deadline().is_some_and(|at| now >= at) {
            self.server_ready = true;
        }
        if self.transport.is_udp() {
            if !self.heard && now >= self.started + self.args.connect_timeout {
                return Err(anyhow!(
                    "cannot connect to {} (UDP): no answer within {}",
                    self.label,
                    humantime::format_duration(self.args.connect_timeout)
                ));
            }
            if self
                .transport
                .keepalive_due(self.args.keepalive)
                .is_some_and(|at| now >= at)
            {
                self.send_raw(KEEPALIVE);
            }
        }
        Ok(())
    }

    /// Reads and handles what the server sent.
    fn receive(&mut self, received: &mut Vec<Received>) -> anyhow::Result<()> {
        received.clear();
        let drained = self.transport.receive(self.args.max_line, received);
        for item in received.drain(..) {
            self.on_received(item);
        }
        match drained {
            Ok(Drained::All) => self.server_ready = false,
            Ok(Drained::More) => {}
            Ok(Drained::Closed) => {
                self.server_ready = false;
                let end = self.closed_end(None);
                self.end.get_or_insert(end);
            }
            Err(e) => {
                self.server_ready = false;
                let end = self.failed(e)?;
                self.end.get_or_insert(end);
            }
        }
        Ok(())
    }

    /// What a failed read or write means.
    ///
    /// # Errors
    ///
    /// Over UDP, refused before the server ever answered: nobody listens.
    fn failed(&self, e: io::Error) -> anyhow::Result<End> {
        if self.transport.is_udp() && !self.heard && e.kind() == io::ErrorKind::ConnectionRefused {
            return Err(anyhow!(
                "cannot connect to {} (UDP): connection refused",
                self.label
            ));
        }
        Ok(self.closed_end(Some(e)))
    }

    /// The end when the connection closes (or failed with `error`): a
    /// kick, the user leaving, or a loss.
    fn closed_end(&self, error: Option<io::Error>) -> End {
        if self.kicked {
            End::Kicked
        } else if self.leaving || self.closing.is_some() {
            End::Left
        } else {
            End::Lost(error)
        }
    }

    /// One line (or an over-long one) from the server.
    fn on_received(&mut self, item: Received) {
        self.heard = true;
        let (bytes, whole) = match item {
            Received::Line(bytes) => (bytes, true),
            // Shown, but never a kick or a rename: anyone's text may sit in it.
            Received::Pieced(bytes) => (bytes, false),
            Received::TooLong => {
                let max = self.args.max_line;
                self.screen.notice(&format!(
                    "A line from the server was longer than {max} bytes (--max-line) and was skipped."
                ));
                return;
            }
        };
        let text = sanitize(&self.incoming.decode(&bytes)).into_owned();
        let event = if whole {
            server_line::parse(&text)
        } else {
            Event::Other
        };
        let ours = matches!(event, Event::Encoding(Encoding::Utf8)) && self.quiet_confirmation;
        if matches!(event, Event::Encoding(_)) {
            self.quiet_confirmation = false;
        }
        let history =
            self.replaying > 0 && whole && !strip_stamp(&text).starts_with(server_line::SERVER);
        if ours {
            // The client's own /encoding confirmation: not shown.
        } else if history {
            // History: shown marked; written to the transcript only if the
            // user never saw it (a catch-up), so nothing is written twice.
            // A replayed offer is numbered too, so a latecomer can /get it.
            self.replaying -= 1;
            match self.files.seen(strip_stamp(&text)) {
                Seen::Instead(shown) if !self.screen.plain() => self.screen.replayed(&shown),
                _ => self.screen.replayed(&text),
            }
            if self.catching_up {
                self.record(&text);
            }
        } else {
            // The transcript keeps the server's line; the screen may number
            // an offer or say what the client does with an upload link.
            let seen = if whole {
                self.files.seen(&text)
            } else {
                Seen::Other
            };
            match seen {
                Seen::Instead(shown) if !self.screen.plain() => self.screen.show(&shown),
                Seen::Notice(notice) if !self.screen.plain() => self.screen.notice(&notice),
                _ => self.screen.show(&text),
            }
            self.record(&text);
        }
        match event {
            Event::Greeting => {
                // Over UDP a server that forgot us greets again: log in anew.
                self.nick = None;
                self.screen.set_nick(None);
                self.auto.restart();
            }
            Event::Password => match self.password.clone() {
                Some(password) => self.send_raw(&password),
                None if self.screen.interactive() => self.screen.ask_secret(),
                // Piped lines wait for --nick: none of them is the password.
                None if self.auto.active() => {
                    self.end.get_or_insert(End::PasswordNeeded);
                }
                // Without --nick, the first piped line answers, as with nc.
                None => {}
            },
            Event::Prompt(prompt) => {
                if self.auto.active() {
                    match self.auto.answer(prompt) {
                        Some(nick) => self.send_raw(&nick),
                        // Piped input is chat meant for the room: rather
                        // than send a line of it as a nickname, stop and say
                        // why. At a terminal the user types another name.
                        None if !self.screen.interactive() => {
                            let notice = strip_stamp(&text);
                            let notice = notice.strip_prefix(server_line::SERVER).unwrap_or(notice);
                            let reason = server_line::without_prompt(notice).to_string();
                            self.end.get_or_insert(End::NickRefused(reason));
                        }
                        None => self.release_held(),
                    }
                }
            }
            Event::Joined(nick) => {
                self.nick = Some(nick.to_string());
                self.screen.set_nick(Some(nick));
                self.open_transcript(nick);
                self.auto.done();
                self.release_held();
            }
            Event::Renamed(nick) => {
                self.nick = Some(nick.to_string());
                self.screen.set_nick(Some(nick));
                self.open_transcript(nick);
                // The rename line starts the new file too.
                self.record(&text);
            }
            Event::Encoding(encoding) => {
                // Both ways follow the server, even after a hand-typed /encoding.
                self.wire = encoding;
                self.incoming = Charset::fixed(encoding);
            }
            // The server closes next. UDP has no close to wait for; over
            // TCP, close our side too, and stop waiting after --close-wait
            // should the server not close.
            Event::Bye | Event::Kicked => {
                self.leaving |= event == Event::Bye;
                self.kicked |= event == Event::Kicked;
                if self.transport.is_udp() {
                    let end = self.closed_end(None);
                    self.end.get_or_insert(end);
                } else {
                    self.begin_close();
                }
            }
            Event::Closing => {
                // Over TCP the server's close follows; UDP has none.
                if self.transport.is_udp() {
                    self.end.get_or_insert(End::Lost(None));
                }
            }
            Event::Replay(k, catch_up) => {
                self.replaying = k;
                self.catching_up = catch_up;
            }
            Event::ReplayEnd => self.replaying = 0,
            Event::Other => {}
        }
    }

    /// Whether to read standard input now. A terminal is always read (the
    /// user may want to quit); a pipe waits while lines are held or much is
    /// unsent, so its order is kept and its writer is slowed down.
    fn may_read_stdin(&self) -> bool {
        self.stdin.is_some()
            && (self.screen.interactive()
                || (self.held.is_empty() && self.transport.unsent() < SEND_BACKLOG))
    }

    /// Reads standard input until it would block (or must pause).
    fn read_stdin(&mut self, typed: &mut Vec<Typed>) {
        let mut buf = [0u8; 16 * 1024];
        while self.stdin_ready && self.may_read_stdin() {
            let Some(stdin) = &mut self.stdin else { break };
            match stdin.read(&mut buf) {
                Ok(0) => self.end_of_input(),
                Ok(n) if self.screen.interactive() => {
                    typed.clear();
                    self.screen.keys(&buf[..n], typed);
                    for item in typed.drain(..) {
                        match item {
                            Typed::Line(line) => self.submit(line),
                            // Never held, shown or recorded.
                            Typed::Secret(password) => self.send_raw(&password),
                            Typed::Quit => self.quit(),
                        }
                    }
                }
                Ok(n) => {
                    self.typed_frames.clear();
                    self.typed.feed(
                        &buf[..n],
                        self.args.max_line,
                        &mut self.typed_frames,
                        &mut Vec::new(),
                    );
                    self.submit_frames();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.stdin_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A terminal that went away (EIO) is the end of input too.
                Err(_) => self.end_of_input(),
            }
        }
    }

    /// Sends (or holds) the lines of one read of piped input.
    fn submit_frames(&mut self) {
        let frames = std::mem::take(&mut self.typed_frames);
        for frame in frames.iter() {
            match frame {
                Frame::Line(bytes) => {
                    let line = self.typed_charset.decode(bytes).into_owned();
                    self.submit(line);
                }
                Frame::TooLong => {
                    let max = self.args.max_line;
                    self.screen.notice(&format!(
                        "A line of input was longer than {max} bytes (--max-line) and was not sent."
                    ));
                }
            }
        }
        self.typed_frames = frames;
    }

    /// Standard input ended: the last unfinished line still counts; leave
    /// once everything held is out.
    fn end_of_input(&mut self) {
        self.typed_frames.clear();
        self.typed.finish(&mut self.typed_frames);
        self.submit_frames();
        if let Some(mut stdin) = self.stdin.take() {
            stdin.deregister(self.poll.registry());
        }
        self.stdin_ready = false;
        self.input_ended = true;
    }

    /// Ctrl-C, Ctrl-D or a signal: leave now; a second time, do not wait
    /// for the server either.
    fn quit(&mut self) {
        if self.closing.is_some() {
            let end = self.closed_end(None);
            self.end.get_or_insert(end);
        } else {
            self.held.clear();
            self.begin_close();
        }
    }

    /// Leaves cleanly: over TCP, our side is shut down after the last
    /// lines (the server sees end of input, as from `nc`); over UDP, the
    /// server is told `/exit`. Then the server's last lines are awaited,
    /// `--close-wait` at most.
    fn begin_close(&mut self) {
        if self.closing.is_some() {
            return;
        }
        self.closing = Some(Instant::now() + self.args.close_wait);
        if self.transport.is_udp() {
            self.send_raw("/exit");
        } else {
            self.transport.close();
        }
        self.screen.leave();
    }

    /// A line the user typed.
    fn submit(&mut self, line: String) {
        if self.closing.is_some() {
            return;
        }
        if self.auto.active() {
            self.held.push_back(line);
            return;
        }
        let first = line.split_whitespace().next().unwrap_or("");
        if first.eq_ignore_ascii_case("/send") || first.eq_ignore_ascii_case("/get") {
            self.file_command(first, line[first.len()..].trim());
            return;
        }
        if ["/exit", "/quit", "#exit"]
            .iter()
            .any(|exit| first.eq_ignore_ascii_case(exit))
        {
            self.leaving = true;
        }
        if let Some(nick) = &self.nick {
            // Chat (not a command): shown and recorded as the others see it.
            let text = match line.strip_prefix('/') {
                Some(rest) if rest.starts_with('/') => Some(rest),
                Some(_) => None,
                None if line.trim().is_empty() || line.trim() == "#exit" => None,
                None => Some(line.as_str()),
            };
            if let Some(text) = text {
                let own = format!("{nick} >> {}", sanitize(text));
                self.screen.own(&own);
                self.record(&own);
            }
        }
        self.send_raw(&line);
    }

    /// `/send` or `/get`: the client's own commands, never sent as they are.
    fn file_command(&mut self, command: &str, args: &str) {
        let done = if command.eq_ignore_ascii_case("/send") {
            self.files.send(args).map(|upload| self.send_raw(&upload))
        } else {
            self.files
                .get(args)
                .map(|notice| self.screen.notice(&notice))
        };
        if let Err(why) = done {
            self.screen.notice(&why);
        }
    }

    /// Sends lines held while the nickname was being answered.
    fn release_held(&mut self) {
        while let Some(line) = self.held.pop_front() {
            self.submit(line);
        }
    }

    /// Encodes and queues one line, as it is.
    fn send_raw(&mut self, line: &str) {
        let bytes = self.wire.encode(line);
        if self.transport.send(&bytes).is_err() {
            self.screen.notice(&format!(
                "That line is {} bytes, more than one UDP datagram holds ({}); it was not sent.",
                bytes.len(),
                transport::MAX_DATAGRAM
            ));
        }
    }

    /// Appends to the transcript.
    fn record(&mut self, line: &str) {
        if let Err(e) = self.transcript.record(line) {
            self.transcript_failed(&e);
        }
    }

    /// Moves the transcript to `nick`'s file.
    fn open_transcript(&mut self, nick: &str) {
        if let Err(e) = self.transcript.open(nick) {
            self.transcript_failed(&e);
        }
    }

    /// The transcript cannot be written: say so once and go on without it.
    fn transcript_failed(&mut self, e: &io::Error) {
        self.transcript.stop();
        self.screen
            .notice(&format!("The transcript stopped: {e}. The chat goes on."));
    }
}

/// The local wall-clock time in `format` (strftime), for the screen and
/// the transcript.
fn local_time(format: &str) -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime(format)
        .to_string()
}

/// Where `/get` saves without `--download-dir`: `~/Downloads` if there is
/// one (where a browser would put the file), else the current folder.
fn default_download_dir() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(|home| std::path::Path::new(&home).join("Downloads"))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// The sooner of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Empties a self-pipe (edge-triggered: else no further wake-up).
fn drain(pipe: &mut mio::net::UnixStream) {
    let mut buf = [0u8; 64];
    while matches!(pipe.read(&mut buf), Ok(n) if n > 0) {}
}
