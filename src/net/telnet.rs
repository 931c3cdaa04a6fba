//! Telnet (RFC 854) as the server speaks it: commands taken out of the
//! byte stream, and option negotiation by RFC 1143's Q method.
//!
//! A connection starts as plain text (netcat). Its first telnet command
//! shows a telnet client: the server then offers character mode
//! (WILL ECHO, WILL SGA), an 8-bit path both ways (WILL and DO BINARY) and
//! asks for the window size (DO NAWS). A client that agrees sends each key
//! as it is typed, untouched, and the server echoes and edits the line
//! (see [`crate::net::line_editor`]). The telnet listener (`--telnet-bind`)
//! makes the same offer at once, for clients that never speak first.
//!
//! Each option keeps the state RFC 1143 defines for each side (ours, the
//! peer's): NO, YES, WANTNO, WANTYES, with a one-request queue. Answers
//! follow from the state alone, so two endpoints can never loop.
//!
//! Byte 0xFF never occurs in UTF-8 or in CP949, so taking the commands out
//! before charset decoding is safe for both encodings. The filter keeps its
//! state between reads because a command can be split anywhere by TCP.

/// "Interpret as command": starts every telnet command.
const IAC: u8 = 255;
/// Refuse to let the peer enable an option.
const DONT: u8 = 254;
/// Ask the peer to enable an option.
const DO: u8 = 253;
/// Refuse to enable an option ourselves.
const WONT: u8 = 252;
/// Offer to enable an option.
const WILL: u8 = 251;
/// Start of subnegotiation, ended by IAC SE.
const SB: u8 = 250;
/// Erase line: what a line-mode client sends for its kill key.
const EL: u8 = 248;
/// Erase character.
const EC: u8 = 247;
/// Interrupt process: Ctrl-C in a line-mode client.
const IP: u8 = 244;
/// End of file: Ctrl-D in a line-mode client.
const EOF: u8 = 236;
/// End of subnegotiation; the lowest command byte.
const SE: u8 = 240;

/// Option: 8-bit data (RFC 856). Without it netkit telnet masks the high
/// bit when it looks for its special keys, which breaks Hangul.
const BINARY: u8 = 0;
/// Option: the server echoes what is typed (RFC 857).
const ECHO: u8 = 1;
/// Option: suppress go-ahead (RFC 858); with ECHO, character at a time.
const SGA: u8 = 3;
/// Option: timing mark (RFC 860), asked after an interrupt.
const TIMING_MARK: u8 = 6;
/// Option: negotiate about window size (RFC 1073).
const NAWS: u8 = 31;

/// The options the server enables on its own side, in `TelnetFilter::us`.
const OURS: [u8; 3] = [ECHO, SGA, BINARY];
/// The options the server accepts from the peer, in `TelnetFilter::him`.
const THEIRS: [u8; 3] = [BINARY, NAWS, SGA];

/// The byte a telnet client stood for with a special-key command, for
/// the commands netkit telnet (Linux's `telnet`) sends in place of its
/// default terminal keys.
///
/// netkit telnet checks each typed byte against those keys with the high
/// bit masked off unless BINARY is on. So the second byte of `요`
/// (EC 9A 94), 0x9A, "is" Ctrl-Z and goes out as IAC SUSP (and IAC DO
/// TIMING-MARK): the Hangul breaks. Inside a multi-byte character (right
/// after a byte of 0x80 or more) such a command can only be that, so the
/// filter puts the byte back: 0x80 plus the key.
fn typed_key(command: u8) -> Option<u8> {
    match command {
        IP => Some(0x03),  // intr, Ctrl-C
        243 => Some(0x1c), // BRK: quit, Ctrl-\
        237 => Some(0x1a), // SUSP: susp, Ctrl-Z
        EOF => Some(0x04), // eof, Ctrl-D
        245 => Some(0x0f), // AO: discard, Ctrl-O
        246 => Some(0x14), // AYT: status, Ctrl-T
        EL => Some(0x15),  // kill, Ctrl-U
        _ => None,
    }
}

/// The key a command stands for when it is a real command: the line
/// editor takes these as if typed in character mode.
fn command_key(command: u8) -> Option<u8> {
    match command {
        IP => Some(0x03),
        EOF => Some(0x04),
        EC => Some(0x08),
        EL => Some(0x15),
        _ => None,
    }
}

/// Negotiation answers sent at most per connection. A real client settles
/// a handful of options once; one asking about options forever must not
/// make the server write forever. (A timing mark is answered every time:
/// netkit telnet holds back the screen until the answer comes, and the
/// answer is no bigger than the question.)
const MAX_REPLIES: usize = 64;

/// Bytes of one subnegotiation at most (window size, terminal type and
/// environment fit easily). A stray `IAC SB` without `IAC SE` would
/// otherwise swallow the rest of the connection's input.
const MAX_SUBNEGOTIATION: u16 = 512;

/// One side of one option, as RFC 1143 keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Q {
    /// Off.
    #[default]
    No,
    /// On.
    Yes,
    /// We asked to turn it off; `true` if we want it on again afterwards.
    WantNo(bool),
    /// We asked to turn it on; `true` if we want it off again afterwards.
    WantYes(bool),
}

/// What to send after a state change: the positive command (WILL or DO),
/// the negative one, or nothing.
type Answer = Option<bool>;

impl Q {
    /// The peer asks for the option on (DO for our side, WILL for its).
    fn on_yes(self, agree: bool) -> (Q, Answer) {
        match self {
            Q::No if agree => (Q::Yes, Some(true)),
            Q::No => (Q::No, Some(false)),
            Q::Yes => (Q::Yes, None),
            // RFC 1143 calls an enable in answer to our disable an error.
            Q::WantNo(false) => (Q::No, None),
            Q::WantNo(true) | Q::WantYes(false) => (Q::Yes, None),
            Q::WantYes(true) => (Q::WantNo(false), Some(false)),
        }
    }

    /// The peer says the option is off (DONT for our side, WONT for its).
    fn on_no(self) -> (Q, Answer) {
        match self {
            Q::No | Q::WantNo(false) | Q::WantYes(_) => (Q::No, None),
            Q::Yes => (Q::No, Some(false)),
            Q::WantNo(true) => (Q::WantYes(false), Some(true)),
        }
    }

    /// We want the option on.
    fn ask_yes(self) -> (Q, Answer) {
        match self {
            Q::No => (Q::WantYes(false), Some(true)),
            Q::Yes => (Q::Yes, None),
            Q::WantNo(_) => (Q::WantNo(true), None),
            Q::WantYes(_) => (Q::WantYes(false), None),
        }
    }
}

/// A change the rest of the connection must know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The first telnet command: the peer is a telnet client. The server
    /// has just made its offers.
    Telnet,
    /// The server now echoes what is typed (character mode), or no longer.
    Echo(bool),
    /// The peer's window is this many columns wide (NAWS).
    Columns(u16),
}

/// Where the filter hands what it found, in order.
pub trait Receiver {
    /// Data bytes (telnet commands removed).
    fn data(&mut self, bytes: &[u8]);
    /// A change of mode, between the data before and after it.
    fn event(&mut self, event: Event);
}

/// Where the filter is inside a telnet command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Ordinary data.
    #[default]
    Data,
    /// After IAC.
    Iac,
    /// After IAC WILL/WONT/DO/DONT, waiting for the option byte.
    Negotiate(u8),
    /// After IAC SB, waiting for the option byte.
    SubOption,
    /// Inside IAC SB ..., with the bytes seen so far.
    Sub(u16),
    /// After IAC inside a subnegotiation.
    SubIac(u16),
}

/// The subnegotiation being read: only NAWS is kept, and it is 4 bytes.
#[derive(Debug, Default, Clone, Copy)]
struct Subnegotiation {
    /// The option it is about.
    option: u8,
    /// Its first data bytes (IAC IAC already undone).
    bytes: [u8; 4],
    /// How many of `bytes` are filled.
    len: usize,
}

/// Takes telnet commands out of a byte stream and negotiates options.
///
/// ```
/// use suda::net::telnet::{Event, Receiver, TelnetFilter};
/// #[derive(Default)]
/// struct Seen(Vec<u8>, Vec<Event>);
/// impl Receiver for Seen {
///     fn data(&mut self, bytes: &[u8]) { self.0.extend_from_slice(bytes) }
///     fn event(&mut self, event: Event) { self.1.push(event) }
/// }
/// let (mut filter, mut seen, mut reply) = (TelnetFilter::default(), Seen::default(), Vec::new());
/// filter.filter(b"hi\xff\xfd\x01!", &mut reply, &mut seen);
/// assert_eq!(seen.0, b"hi!");
/// // DO ECHO made the server offer the rest; ECHO was offered, so it is on.
/// assert_eq!(seen.1, [Event::Telnet, Event::Echo(true)]);
/// assert!(reply.starts_with(b"\xff\xfb\x01\xff\xfb\x03")); // WILL ECHO, WILL SGA, ...
/// ```
#[derive(Debug, Default, Clone)]
pub struct TelnetFilter {
    /// Position inside a command that may continue in the next read.
    state: State,
    /// The last data byte let through: tells whether a command arrived in
    /// the middle of a multi-byte character.
    last: u8,
    /// The negotiation, once the peer turned out to be a telnet client
    /// (or the server spoke first). Boxed: netcat connections, nearly all
    /// of them, never need it.
    session: Option<Box<Session>>,
}

/// What a telnet connection negotiated, and is negotiating.
#[derive(Debug, Default, Clone)]
struct Session {
    /// Our side of each option in [`OURS`].
    us: [Q; OURS.len()],
    /// The peer's side of each option in [`THEIRS`].
    him: [Q; THEIRS.len()],
    /// Negotiation answers sent so far.
    replies: usize,
    /// The subnegotiation being read.
    sub: Subnegotiation,
}

impl TelnetFilter {
    /// A filter for the telnet listener: the server speaks first, so the
    /// offers go out (into `reply`) before anything is read.
    pub fn speaking_first(reply: &mut Vec<u8>) -> TelnetFilter {
        let mut session = Box::<Session>::default();
        session.offer(reply);
        TelnetFilter {
            session: Some(session),
            ..TelnetFilter::default()
        }
    }

    /// Whether the peer is a telnet client (it sent a command, or it came
    /// in through the telnet listener).
    pub fn speaks_telnet(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the server echoes what the peer types (character mode).
    pub fn echoing(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.echoing())
    }

    /// Hands the data of `input` and any mode changes to `rx`, in order,
    /// and appends negotiation to `reply`.
    pub fn filter(&mut self, input: &[u8], reply: &mut Vec<u8>, rx: &mut impl Receiver) {
        // Nearly all input is plain text: hand it over in one go.
        if self.state == State::Data && memchr::memchr(IAC, input).is_none() {
            if let Some(&last) = input.last() {
                self.last = last;
                rx.data(input);
            }
            return;
        }
        let mut run = 0; // start of the data run not yet handed over
        for (at, &byte) in input.iter().enumerate() {
            if self.state == State::Data {
                if byte == IAC {
                    self.data(&input[run..at], rx);
                    self.state = State::Iac;
                }
                continue;
            }
            self.state = self.command(byte, reply, rx);
            run = at + 1;
        }
        if self.state == State::Data {
            self.data(&input[run.min(input.len())..], rx);
        }
    }

    fn data(&mut self, bytes: &[u8], rx: &mut impl Receiver) {
        if let Some(&last) = bytes.last() {
            self.last = last;
            rx.data(bytes);
        }
    }

    /// The next state after `byte`, inside a command.
    fn command(&mut self, byte: u8, reply: &mut Vec<u8>, rx: &mut impl Receiver) -> State {
        match self.state {
            State::Data => State::Data,
            State::Iac => {
                if byte == IAC {
                    self.data(&[IAC], rx);
                    return State::Data;
                }
                if byte < EOF {
                    // Not a command at all (a stray 0xFF): keep the byte,
                    // which may well be the newline ending the line.
                    self.data(&[byte], rx);
                    return State::Data;
                }
                if self.session.is_none() {
                    rx.event(Event::Telnet);
                    let mut session = Box::<Session>::default();
                    session.offer(reply);
                    self.session = Some(session);
                }
                let binary_in = self.session.as_ref().is_some_and(|s| s.him[0] == Q::Yes);
                match (byte, typed_key(byte)) {
                    (_, Some(key)) if self.last >= 0x80 && !binary_in => {
                        self.data(&[0x80 | key], rx);
                        State::Data
                    }
                    (WILL | WONT | DO | DONT, _) => State::Negotiate(byte),
                    (SB, _) => State::SubOption,
                    _ => {
                        if let Some(key) = command_key(byte) {
                            self.data(&[key], rx);
                        }
                        // NOP, GA, AYT, BRK, ... carry nothing for a chat.
                        State::Data
                    }
                }
            }
            // Every command started the session: past IAC there is one.
            _ => match self.session.as_deref_mut() {
                Some(session) => session.command(self.state, byte, reply, rx),
                None => State::Data,
            },
        }
    }
}

impl Session {
    /// Whether our ECHO is on.
    fn echoing(&self) -> bool {
        self.us[0] == Q::Yes
    }

    /// The next state after `byte`, in a negotiation or subnegotiation.
    fn command(
        &mut self,
        state: State,
        byte: u8,
        reply: &mut Vec<u8>,
        rx: &mut impl Receiver,
    ) -> State {
        match state {
            State::Data | State::Iac => State::Data,
            State::Negotiate(command) => {
                self.negotiate(command, byte, reply, rx);
                State::Data
            }
            State::SubOption => {
                self.sub = Subnegotiation {
                    option: byte,
                    ..Subnegotiation::default()
                };
                State::Sub(1)
            }
            State::Sub(n) | State::SubIac(n) if n >= MAX_SUBNEGOTIATION => State::Data,
            State::Sub(n) if byte == IAC => State::SubIac(n + 1),
            State::Sub(n) => {
                self.sub_byte(byte);
                State::Sub(n + 1)
            }
            State::SubIac(_) if byte == SE => {
                self.end_subnegotiation(rx);
                State::Data
            }
            State::SubIac(n) => {
                // IAC IAC inside a subnegotiation is a data byte 0xFF.
                self.sub_byte(byte);
                State::Sub(n + 1)
            }
        }
    }

    fn sub_byte(&mut self, byte: u8) {
        if let Some(slot) = self.sub.bytes.get_mut(self.sub.len) {
            *slot = byte;
            self.sub.len += 1;
        }
    }

    fn end_subnegotiation(&mut self, rx: &mut impl Receiver) {
        let Subnegotiation { option, bytes, len } = self.sub;
        if option == NAWS && len >= 2 {
            rx.event(Event::Columns(u16::from_be_bytes([bytes[0], bytes[1]])));
        }
    }

    /// The server's offers: character mode, 8 bits both ways, window size.
    fn offer(&mut self, reply: &mut Vec<u8>) {
        for option in OURS {
            self.ask(true, option, reply);
        }
        for option in [BINARY, NAWS] {
            self.ask(false, option, reply);
        }
    }

    /// Asks to turn `option` on, on our side (`ours`) or the peer's.
    fn ask(&mut self, ours: bool, option: u8, reply: &mut Vec<u8>) {
        let Some(q) = self.slot(ours, option) else {
            return;
        };
        let (next, answer) = q.ask_yes();
        self.set(ours, option, next);
        self.answer(ours, option, answer, reply);
    }

    /// Handles IAC `command` `option` from the peer.
    fn negotiate(&mut self, command: u8, option: u8, reply: &mut Vec<u8>, rx: &mut impl Receiver) {
        let ours = matches!(command, DO | DONT);
        if option == TIMING_MARK && ours {
            // RFC 860: the mark says "everything before has been
            // processed"; it is answered each time and never kept on.
            if command == DO {
                reply.extend_from_slice(&[IAC, WILL, TIMING_MARK]);
            }
            return;
        }
        let echoing = self.echoing();
        match (self.slot(ours, option), command) {
            (Some(q), DO | WILL) => {
                let (next, answer) = q.on_yes(self.replies < MAX_REPLIES);
                self.set(ours, option, next);
                self.answer(ours, option, answer, reply);
            }
            (Some(q), _) => {
                let (next, answer) = q.on_no();
                self.set(ours, option, next);
                self.answer(ours, option, answer, reply);
            }
            // An option we do not support is off, and stays off.
            (None, DO | WILL) => self.answer(ours, option, Some(false), reply),
            (None, _) => {}
        }
        if self.echoing() != echoing {
            rx.event(Event::Echo(self.echoing()));
        }
    }

    /// Sends WILL/WONT (our side) or DO/DONT (the peer's), within the budget.
    fn answer(&mut self, ours: bool, option: u8, answer: Answer, reply: &mut Vec<u8>) {
        let Some(positive) = answer else {
            return;
        };
        if self.replies >= MAX_REPLIES {
            return;
        }
        self.replies += 1;
        let command = match (ours, positive) {
            (true, true) => WILL,
            (true, false) => WONT,
            (false, true) => DO,
            (false, false) => DONT,
        };
        reply.extend_from_slice(&[IAC, command, option]);
    }

    fn slot(&self, ours: bool, option: u8) -> Option<Q> {
        let (list, states) = if ours {
            (&OURS[..], &self.us[..])
        } else {
            (&THEIRS[..], &self.him[..])
        };
        list.iter()
            .position(|&o| o == option)
            .map(|index| states[index])
    }

    fn set(&mut self, ours: bool, option: u8, q: Q) {
        let (list, states) = if ours {
            (&OURS[..], &mut self.us[..])
        } else {
            (&THEIRS[..], &mut self.him[..])
        };
        if let Some(index) = list.iter().position(|&o| o == option) {
            states[index] = q;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the filter handed over, data and events in order.
    #[derive(Debug, Default, PartialEq)]
    struct Seen {
        data: Vec<u8>,
        events: Vec<Event>,
    }

    impl Receiver for Seen {
        fn data(&mut self, bytes: &[u8]) {
            assert!(!bytes.is_empty(), "empty data hand-over");
            self.data.extend_from_slice(bytes);
        }
        fn event(&mut self, event: Event) {
            self.events.push(event);
        }
    }

    fn run_with(mut filter: TelnetFilter, chunks: &[&[u8]]) -> (Seen, Vec<u8>, TelnetFilter) {
        let (mut seen, mut reply) = (Seen::default(), Vec::new());
        for chunk in chunks {
            filter.filter(chunk, &mut reply, &mut seen);
        }
        (seen, reply, filter)
    }

    fn run(chunks: &[&[u8]]) -> (Seen, Vec<u8>) {
        let (seen, reply, _) = run_with(TelnetFilter::default(), chunks);
        (seen, reply)
    }

    /// What the server offers when a client turns out to speak telnet:
    /// WILL ECHO, WILL SGA, WILL BINARY, DO BINARY, DO NAWS.
    const OFFERS: &[u8] = b"\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x00\xff\xfd\x1f";

    /// A client's opening (WILL NAWS, WILL TSPEED, an early window size),
    /// then a nickname with a NOP and a literal 0xFF inside.
    const SAMPLE: &[u8] =
        b"\xff\xfb\x1f\xff\xfb\x20\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0Al\xff\xf1ice\xff\xff\r\n";

    #[test]
    fn strips_commands_and_negotiates() {
        let (seen, reply) = run(&[SAMPLE]);
        assert_eq!(seen.data, b"Alice\xff\r\n");
        assert_eq!(seen.events, [Event::Telnet, Event::Columns(80)]);
        // Offers, then: WILL NAWS answers our DO NAWS (no reply), TSPEED is refused.
        assert_eq!(reply, [OFFERS, b"\xff\xfe\x20"].concat());
    }

    #[test]
    fn same_result_at_every_split() {
        let whole = run(&[SAMPLE]);
        for i in 0..=SAMPLE.len() {
            for j in i..=SAMPLE.len() {
                let parts = run(&[&SAMPLE[..i], &SAMPLE[i..j], &SAMPLE[j..]]);
                assert_eq!(parts, whole, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn plain_text_passes_untouched_and_starts_nothing() {
        let text = "안녕 hello\n".as_bytes();
        let (seen, reply, filter) = run_with(TelnetFilter::default(), &[text]);
        assert_eq!(seen.data, text);
        assert!(reply.is_empty() && seen.events.is_empty());
        assert!(!filter.speaks_telnet());
    }

    /// What PuTTY sends at connect (its telnet.c, active negotiation):
    /// WILL NAWS, WILL TSPEED, WILL TTYPE, WILL NEW-ENVIRON, DO ECHO,
    /// WILL SGA, DO SGA.
    #[test]
    fn putty_gets_character_mode_without_a_loop() {
        let putty: &[u8] =
            b"\xff\xfb\x1f\xff\xfb\x20\xff\xfb\x18\xff\xfb\x27\xff\xfd\x01\xff\xfb\x03\xff\xfd\x03";
        let (seen, reply, filter) = run_with(TelnetFilter::default(), &[putty]);
        assert_eq!(seen.events, [Event::Telnet, Event::Echo(true)]);
        // Refused: TSPEED, TTYPE, NEW-ENVIRON. Agreed: SGA (theirs, DO SGA).
        let answers = [OFFERS, b"\xff\xfe\x20\xff\xfe\x18\xff\xfe\x27\xff\xfd\x03"].concat();
        assert_eq!(reply, answers);
        // Its answers to our offers (PuTTY accepts BINARY both ways) change
        // nothing more and draw no further reply.
        let (seen, reply, filter) = run_with(filter, &[b"\xff\xfd\x00\xff\xfb\x00"]);
        assert!(reply.is_empty(), "{reply:?}");
        assert!(seen.events.is_empty());
        assert!(filter.echoing());
    }

    /// Two servers' worth of Q method facing each other: every message
    /// one sends is fed to the other until neither has anything to say.
    #[test]
    fn two_filters_talking_settle() {
        let mut a_reply = Vec::new();
        let mut a = TelnetFilter::speaking_first(&mut a_reply);
        let mut b = TelnetFilter::default();
        let (mut sa, mut sb) = (Seen::default(), Seen::default());
        let mut rounds = 0;
        while !a_reply.is_empty() {
            let mut b_reply = Vec::new();
            b.filter(&a_reply, &mut b_reply, &mut sb);
            a_reply.clear();
            a.filter(&b_reply, &mut a_reply, &mut sa);
            rounds += 1;
            assert!(rounds < 5, "negotiation does not settle");
        }
        // Each refuses to let the other echo for it: a server echoes, it
        // is never echoed to.
        assert!(!a.echoing() && !b.echoing());
    }

    #[test]
    fn a_refused_echo_leaves_line_mode_and_is_not_answered() {
        let mut reply = Vec::new();
        let filter = TelnetFilter::speaking_first(&mut reply);
        assert_eq!(reply, OFFERS);
        let (seen, reply, filter) = run_with(filter, &[b"\xff\xfe\x01\xff\xfe\x03ok"]);
        assert_eq!(seen.data, b"ok");
        assert!(reply.is_empty(), "{reply:?}");
        assert!(!filter.echoing());
        assert!(seen.events.is_empty());
    }

    #[test]
    fn echo_turned_off_later_is_acknowledged_and_reported() {
        let (_, _, filter) = run_with(TelnetFilter::default(), &[b"\xff\xfd\x01"]);
        assert!(filter.echoing());
        let (seen, reply, filter) = run_with(filter, &[b"\xff\xfe\x01"]);
        assert_eq!(reply, b"\xff\xfc\x01"); // WONT ECHO
        assert_eq!(seen.events, [Event::Echo(false)]);
        assert!(!filter.echoing());
    }

    #[test]
    fn endless_requests_get_a_bounded_answer() {
        let mut filter = TelnetFilter::default();
        let (mut seen, mut reply) = (Seen::default(), Vec::new());
        for _ in 0..10_000 {
            filter.filter(b"\xff\xfd\x18", &mut reply, &mut seen); // DO TTYPE
        }
        assert_eq!(reply.len(), 3 * MAX_REPLIES);
        assert!(seen.data.is_empty());
        // Asking for a supported option again and again is answered once.
        let (_, reply, _) = run_with(TelnetFilter::default(), &[&b"\xff\xfd\x01".repeat(1000)]);
        assert_eq!(reply, OFFERS);
    }

    #[test]
    fn an_unfinished_subnegotiation_does_not_swallow_the_connection() {
        let mut input = b"\xff\xfa\x18".to_vec();
        input.extend(std::iter::repeat_n(
            b'x',
            usize::from(MAX_SUBNEGOTIATION) + 10,
        ));
        input.extend_from_slice(b"\nhello\n");
        let (seen, _) = run(&[&input]);
        assert!(seen.data.ends_with(b"\nhello\n"), "{:?}", seen.data);
    }

    #[test]
    fn window_size_with_an_escaped_ff_at_every_split() {
        // 255 columns: the 0xFF is doubled inside the subnegotiation.
        let sent: &[u8] = b"\xff\xfa\x1f\x00\xff\xff\x00\x18\xff\xf0x";
        for split in 0..=sent.len() {
            let (seen, _) = run(&[&sent[..split], &sent[split..]]);
            assert_eq!(seen.events, [Event::Telnet, Event::Columns(255)]);
            assert_eq!(seen.data, b"x");
        }
    }

    /// What `telnet -8` on Linux sent for "요 반" (captured with nc -l):
    /// the answer to its timing mark is WILL (RFC 860).
    #[test]
    fn netkit_telnet_special_keys_inside_hangul_are_put_back() {
        let sent: &[u8] = b"\xec\xff\xed\xff\xfd\x06\x94 \xeb\xb0\x98\r\n";
        let (seen, reply) = run(&[sent]);
        assert_eq!(seen.data, "요 반\r\n".as_bytes());
        assert_eq!(reply, [OFFERS, b"\xff\xfb\x06"].concat());
        for split in 0..sent.len() {
            assert_eq!(
                run(&[&sent[..split], &sent[split..]]).0,
                seen,
                "split at {split}"
            );
        }
    }

    #[test]
    fn with_binary_on_a_command_after_hangul_is_a_command() {
        let (_, _, filter) = run_with(TelnetFilter::default(), &[b"\xff\xfb\x00"]);
        let (seen, _, _) = run_with(filter, &[b"\xec\xff\xf4"]);
        assert_eq!(seen.data, b"\xec\x03");
    }

    #[test]
    fn interrupt_and_editing_commands_become_keys() {
        let (seen, reply) = run(&[b"abc \xff\xf4\xff\xfd\x06d\xff\xf7\xff\xf8\xff\xec"]);
        assert_eq!(seen.data, b"abc \x03d\x08\x15\x04");
        assert!(reply.ends_with(b"\xff\xfb\x06"));
    }

    #[test]
    fn a_stray_ff_does_not_eat_the_newline() {
        assert_eq!(run(&[b"one\xff\ntwo\n"]).0.data, b"one\ntwo\n");
    }

    #[test]
    fn a_command_marks_a_telnet_client_but_a_literal_ff_does_not() {
        let (seen, reply, filter) = run_with(TelnetFilter::default(), &[b"a\xff\xffb"]);
        assert!(!filter.speaks_telnet() && reply.is_empty() && seen.events.is_empty());
        let (seen, _, filter) = run_with(filter, &[b"\xff\xf1"]);
        assert!(filter.speaks_telnet());
        assert_eq!(seen.events, [Event::Telnet]);
    }
}
