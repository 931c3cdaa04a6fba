//! Telnet option negotiation, stripped from the byte stream.
//!
//! `telnet HOST 9999` on Windows (and any telnet talking to port 23 semantics)
//! sends IAC sequences (RFC 854) mixed with the text. They must never reach
//! the room. Byte 0xFF never occurs in UTF-8 or in CP949, so stripping IAC
//! before charset decoding is safe for both encodings.
//!
//! The filter keeps its state between reads because a sequence can be split
//! anywhere by TCP.

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
/// End of subnegotiation.
const SE: u8 = 240;

/// The byte a telnet client stood for with a special-key command, for
/// the commands netkit telnet (Linux's `telnet`) sends in place of its
/// default terminal keys.
///
/// netkit telnet checks each typed byte against those keys with the high
/// bit masked off, even with `-8`. So the second byte of `요` (EC 9A 94),
/// 0x9A, "is" Ctrl-Z and goes out as IAC SUSP (and IAC DO TIMING-MARK):
/// the Hangul breaks. Inside a multi-byte character (right after a byte
/// of 0x80 or more) such a command can only be that, so the filter puts
/// the byte back: 0x80 plus the key.
fn typed_key(command: u8) -> Option<u8> {
    match command {
        244 => Some(0x03), // IP: intr, Ctrl-C
        243 => Some(0x1c), // BRK: quit, Ctrl-\
        237 => Some(0x1a), // SUSP: susp, Ctrl-Z
        236 => Some(0x04), // EOF: eof, Ctrl-D
        245 => Some(0x0f), // AO: discard, Ctrl-O
        246 => Some(0x14), // AYT: status, Ctrl-T
        248 => Some(0x15), // EL: kill, Ctrl-U
        _ => None,
    }
}

/// Negotiation answers sent at most per connection. A real client asks
/// about a handful of options once; a client asking forever must not make
/// the server write forever.
const MAX_REPLIES: usize = 64;

/// Bytes of one subnegotiation at most (window size, terminal type and
/// environment fit easily). A stray `IAC SB` without `IAC SE` would
/// otherwise swallow the rest of the connection's input.
const MAX_SUBNEGOTIATION: usize = 512;

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
    /// Inside IAC SB ... (discarded), with the bytes seen so far.
    Sub(usize),
    /// After IAC inside a subnegotiation.
    SubIac(usize),
}

/// Removes telnet commands from a byte stream and answers option requests.
///
/// Every `DO x` is answered `WONT x` and every `WILL x` with `DONT x`: suda
/// supports no telnet options, and a clear refusal keeps the client in its
/// default line mode with local echo. `WONT`/`DONT` are never answered, which
/// is what rules out negotiation loops.
///
/// ```
/// use suda::net::telnet::TelnetFilter;
/// let mut filter = TelnetFilter::default();
/// let (mut data, mut reply) = (Vec::new(), Vec::new());
/// filter.filter(b"\xff\xfd\x18hi\xff\xff", &mut data, &mut reply);
/// assert_eq!(data, b"hi\xff");          // IAC IAC is a literal 0xFF
/// assert_eq!(reply, b"\xff\xfc\x18");   // DO TTYPE -> WONT TTYPE
/// ```
#[derive(Debug, Default, Clone)]
pub struct TelnetFilter {
    /// Position inside a command that may continue in the next read.
    state: State,
    /// The peer has sent a telnet command: it is a telnet client, and
    /// expects CR LF line ends (RFC 854's network virtual terminal).
    speaks_telnet: bool,
    /// Negotiation answers sent so far.
    replies: usize,
    /// The last data byte let through: tells whether a command arrived in
    /// the middle of a multi-byte character.
    last: u8,
}

impl TelnetFilter {
    /// Whether the peer has sent telnet commands (IAC sequences).
    pub fn speaks_telnet(&self) -> bool {
        self.speaks_telnet
    }

    /// Appends the data bytes of `input` to `data` and any negotiation
    /// answers to `reply`.
    pub fn filter(&mut self, input: &[u8], data: &mut Vec<u8>, reply: &mut Vec<u8>) {
        // Nearly all input is plain text: copy it in one go.
        if self.state == State::Data && !input.contains(&IAC) {
            data.extend_from_slice(input);
            self.last = input.last().copied().unwrap_or(self.last);
            return;
        }
        for &byte in input {
            if self.state == State::Iac && (SE..IAC).contains(&byte) {
                self.speaks_telnet = true;
            }
            self.state = match (self.state, byte) {
                (State::Data, IAC) => State::Iac,
                (State::Data, b) => {
                    data.push(b);
                    self.last = b;
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    self.last = IAC;
                    State::Data
                }
                (State::Iac, cmd) if self.last >= 0x80 && typed_key(cmd).is_some() => {
                    let byte = 0x80 | typed_key(cmd).unwrap_or_default();
                    data.push(byte);
                    self.last = byte;
                    State::Data
                }
                (State::Iac, cmd @ (WILL | WONT | DO | DONT)) => State::Negotiate(cmd),
                (State::Iac, SB) => State::Sub(0),
                // NOP, GA, AYT, IP, ... carry no data: drop them.
                (State::Iac, b) if b >= SE => State::Data,
                // Not a command at all (a stray 0xFF): keep the byte, which
                // may well be the newline ending the line.
                (State::Iac, b) => {
                    data.push(b);
                    State::Data
                }
                (State::Negotiate(cmd), option) => {
                    let answer = match cmd {
                        DO => Some(WONT),
                        WILL => Some(DONT),
                        _ => None,
                    };
                    if let Some(answer) = answer {
                        if self.replies < MAX_REPLIES {
                            self.replies += 1;
                            reply.extend_from_slice(&[IAC, answer, option]);
                        }
                    }
                    State::Data
                }
                (State::Sub(n) | State::SubIac(n), _) if n >= MAX_SUBNEGOTIATION => State::Data,
                (State::Sub(n), IAC) => State::SubIac(n + 1),
                (State::Sub(n), _) => State::Sub(n + 1),
                (State::SubIac(_), SE) => State::Data,
                (State::SubIac(n), _) => State::Sub(n + 1),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut filter = TelnetFilter::default();
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        for chunk in chunks {
            filter.filter(chunk, &mut data, &mut reply);
        }
        (data, reply)
    }

    /// What a Windows telnet client sends first, followed by a nickname.
    const SAMPLE: &[u8] =
        b"\xff\xfb\x1f\xff\xfb\x20\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0Al\xff\xf1ice\xff\xff\r\n";

    #[test]
    fn strips_negotiation_and_subnegotiation() {
        let (data, reply) = run(&[SAMPLE]);
        assert_eq!(data, b"Alice\xff\r\n");
        assert_eq!(reply, b"\xff\xfe\x1f\xff\xfe\x20");
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
    fn never_answers_refusals() {
        let (data, reply) = run(&[b"\xff\xfc\x01\xff\xfe\x03ok"]);
        assert_eq!(data, b"ok");
        assert!(reply.is_empty());
    }

    #[test]
    fn plain_text_passes_untouched() {
        let text = "안녕 hello\n".as_bytes();
        assert_eq!(run(&[text]).0, text);
    }

    #[test]
    fn endless_negotiation_gets_a_bounded_answer() {
        let mut filter = TelnetFilter::default();
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        for _ in 0..10_000 {
            filter.filter(b"\xff\xfd\x01", &mut data, &mut reply);
        }
        assert_eq!(reply.len(), 3 * MAX_REPLIES);
        assert!(data.is_empty());
    }

    #[test]
    fn an_unfinished_subnegotiation_does_not_swallow_the_connection() {
        let mut input = b"\xff\xfa\x18".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_SUBNEGOTIATION + 10));
        input.extend_from_slice(b"\nhello\n");
        let (data, _) = run(&[&input]);
        assert!(data.ends_with(b"\nhello\n"), "{data:?}");
    }

    /// What `telnet -8` on Linux sent for "요 반" (captured with nc -l).
    #[test]
    fn netkit_telnet_special_keys_inside_hangul_are_put_back() {
        let sent: &[u8] = b"\xec\xff\xed\xff\xfd\x06\x94 \xeb\xb0\x98\r\n";
        let (data, reply) = run(&[sent]);
        assert_eq!(data, "요 반\r\n".as_bytes());
        assert_eq!(reply, b"\xff\xfc\x06"); // WONT TIMING-MARK: telnet goes on
        for split in 0..sent.len() {
            assert_eq!(
                run(&[&sent[..split], &sent[split..]]).0,
                data,
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_real_interrupt_between_words_is_still_dropped() {
        assert_eq!(run(&[b"abc \xff\xf4\xff\xfd\x06def\n"]).0, b"abc def\n");
    }

    #[test]
    fn a_stray_ff_does_not_eat_the_newline() {
        assert_eq!(run(&[b"one\xff\ntwo\n"]).0, b"one\ntwo\n");
    }

    #[test]
    fn a_command_marks_a_telnet_client_but_a_literal_ff_does_not() {
        let mut filter = TelnetFilter::default();
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        filter.filter(b"a\xff\xffb", &mut data, &mut reply);
        assert!(!filter.speaks_telnet());
        filter.filter(b"\xff\xf1", &mut data, &mut reply);
        assert!(filter.speaks_telnet());
    }
}
