//! What the client understands of the server's lines.
//!
//! The client shows every line as it comes; a few of them also change what
//! it does next (answer the nickname prompt, name the transcript, exit with
//! the right code). Those lines are the protocol contract's exact words, so
//! they are recognised here by their wording and nowhere else.

use crate::net::charset::Encoding;

/// Everything from the server that is a notice starts with this.
pub const SERVER: &str = "[Server]: ";

/// The server's answer to our nickname, as far as auto-answering cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// `Enter your nickname:` after the welcome: the first question.
    First,
    /// The nickname we sent is taken: another one may work.
    Taken,
    /// Anything else ending in the question (an invalid nickname, `/help`
    /// before joining): only the user can answer it.
    Other,
}

/// What a line from the server means to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// `Welcome to <room>! (...)`: a new session starts (over UDP it may
    /// start again after the server forgot a silent client).
    Greeting,
    /// The server asks for a nickname.
    Prompt(Prompt),
    /// `Enter the room password:`: the room has a password (`--password-file`).
    Password,
    /// `Welcome, <nick>! ...`: the server accepted this nickname.
    Joined(&'a str),
    /// `Your nickname is now "<nick>".` after `/rename`.
    Renamed(&'a str),
    /// `Your encoding is now <name>.` after `/encoding`.
    Encoding(Encoding),
    /// `Bye, <nick>!` (or `Bye!` before joining): the server closes next.
    Bye,
    /// `You have been kicked from the chat.`: the server closes next.
    Kicked,
    /// The room is full, the server is shutting down, the password was
    /// wrong, the address is banned or has too many connections: it
    /// closes next.
    Closing,
    /// `Earlier messages (<k>):`, `Messages since you left (<k>):`,
    /// `Found <k> messages for "...":`: `k` lines of history follow; `true`
    /// for a catch-up (lines the user has not seen before).
    Replay(usize, bool),
    /// `End of earlier messages.`
    ReplayEnd,
    /// Chat, whispers, other notices.
    Other,
}

/// Removes the `[YYYY-MM-DD HH:MM] ` a server run with `--timestamps`
/// puts before every line.
///
/// ```
/// use suda::client::server_line::strip_stamp;
/// assert_eq!(strip_stamp("[2026-11-23 15:04] Bob >> hi"), "Bob >> hi");
/// assert_eq!(strip_stamp("[Server]: Bye!"), "[Server]: Bye!");
/// ```
pub fn strip_stamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    let shape = b"[dddd-dd-dd dd:dd] ";
    if bytes.len() < shape.len() {
        return line;
    }
    let matches = shape.iter().zip(bytes).all(|(&want, &got)| match want {
        b'd' => got.is_ascii_digit(),
        _ => want == got,
    });
    if matches {
        &line[shape.len()..]
    } else {
        line
    }
}

/// What a notice that asks a question says before the question: the
/// reason alone, for a message of our own. The question is a last
/// sentence `Enter ...:` (the nickname prompt, and any other the server
/// asks the same way); a notice that is only the question, or that does
/// not end in one, is kept whole.
///
/// ```
/// use suda::client::server_line::without_prompt;
/// assert_eq!(
///     without_prompt("Nickname \"Bob\" is already in use. Enter your nickname:"),
///     "Nickname \"Bob\" is already in use."
/// );
/// assert_eq!(without_prompt("Enter your nickname:"), "Enter your nickname:");
/// assert_eq!(without_prompt("Bob has joined the chat."), "Bob has joined the chat.");
/// ```
pub fn without_prompt(notice: &str) -> &str {
    let Some(question) = notice.strip_suffix(':') else {
        return notice;
    };
    let Some(at) = question.rfind(" Enter ") else {
        return notice;
    };
    let (reason, asked) = (&notice[..at], &question[at + " Enter ".len()..]);
    // The question is one sentence that follows a finished one; anything
    // else (a quote, a second sentence, a colon inside) is not ours to cut.
    let one_sentence = !asked.is_empty() && !asked.contains(['.', '!', '?', ':', '"']);
    if one_sentence && reason.ends_with(['.', '!', '?']) {
        reason
    } else {
        notice
    }
}

/// The token in the server's answer to a UDP address it does not know
/// yet, `[Server]: Send HELO <token> to join.` (8 to 16 letters and digits).
///
/// ```
/// use suda::client::server_line::token_request;
/// assert_eq!(token_request("[Server]: Send HELO k3x9m2p7q4rt to join."), Some("k3x9m2p7q4rt"));
/// assert_eq!(token_request("Bob >> [Server]: Send HELO k3x9m2p7q4rt to join."), None);
/// ```
pub fn token_request(line: &str) -> Option<&str> {
    let token = strip_stamp(line)
        .strip_prefix(SERVER)?
        .strip_prefix("Send HELO ")?
        .strip_suffix(" to join.")?;
    ((8..=16).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(token)
}

/// Reads one line (already decoded and sanitized).
///
/// ```
/// use suda::client::server_line::{parse, Event, Prompt};
/// assert_eq!(parse("[Server]: Welcome, 민수! Type /help for commands."), Event::Joined("민수"));
/// assert_eq!(
///     parse("[Server]: Nickname \"Bob\" is already in use. Enter your nickname:"),
///     Event::Prompt(Prompt::Taken)
/// );
/// assert_eq!(parse("Bob >> [Server]: Bye!"), Event::Other);
/// ```
pub fn parse(line: &str) -> Event<'_> {
    let Some(notice) = strip_stamp(line).strip_prefix(SERVER) else {
        return Event::Other;
    };
    if notice == "Enter the room password:" {
        return Event::Password;
    }
    if notice.ends_with("Enter your nickname:") {
        return Event::Prompt(if notice == "Enter your nickname:" {
            Prompt::First
        } else if notice.starts_with("Nickname \"") && notice.contains("\" is already in use.") {
            Prompt::Taken
        } else {
            Prompt::Other
        });
    }
    if let Some(nick) = notice
        .strip_prefix("Welcome, ")
        .and_then(|rest| rest.strip_suffix("! Type /help for commands."))
    {
        return Event::Joined(nick);
    }
    if notice.starts_with("Welcome to ") {
        return Event::Greeting;
    }
    if let Some(nick) = notice
        .strip_prefix("Your nickname is now \"")
        .and_then(|rest| rest.strip_suffix("\"."))
    {
        return Event::Renamed(nick);
    }
    if let Some(encoding) = notice
        .strip_prefix("Your encoding is now ")
        .and_then(|rest| rest.strip_suffix('.'))
        .and_then(Encoding::parse)
    {
        return Event::Encoding(encoding);
    }
    if notice == "Bye!" || (notice.starts_with("Bye, ") && notice.ends_with('!')) {
        return Event::Bye;
    }
    if let Some(replay) = replay_header(notice) {
        return replay;
    }
    if notice == "End of earlier messages." {
        return Event::ReplayEnd;
    }
    if notice == "You have been kicked from the chat." {
        return Event::Kicked;
    }
    if notice.starts_with("The chat room is full")
        || notice == "The server is shutting down."
        || notice == "Wrong password."
        || notice == "Too many connections from your address."
        || notice.starts_with("You are banned from this room until ")
    {
        return Event::Closing;
    }
    Event::Other
}

/// The header of a replay, with its count.
fn replay_header(notice: &str) -> Option<Event<'static>> {
    let count = |rest: &str| rest.strip_suffix("):").and_then(|n| n.parse().ok());
    if let Some(k) = notice.strip_prefix("Earlier messages (").and_then(count) {
        return Some(Event::Replay(k, false));
    }
    if let Some(k) = notice
        .strip_prefix("Messages since you left (")
        .and_then(count)
    {
        return Some(Event::Replay(k, true));
    }
    let (k, rest) = notice.strip_prefix("Found ")?.split_once(' ')?;
    let k = k.parse().ok()?;
    (rest.starts_with("message") && rest.ends_with("\":")).then_some(Event::Replay(k, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_the_client_acts_on() {
        let cases = [
            (
                "[Server]: Welcome to suda! (0/10 online)",
                Event::Greeting,
            ),
            (
                "[Server]: Enter your nickname:",
                Event::Prompt(Prompt::First),
            ),
            (
                "[Server]: Invalid nickname. Use 1-16 letters, digits, _ or -. Enter your nickname:",
                Event::Prompt(Prompt::Other),
            ),
            (
                "[Server]: Choose a nickname first: 1-16 letters, digits, _ or -. Enter your nickname:",
                Event::Prompt(Prompt::Other),
            ),
            (
                "[Server]: Welcome, Alice! Type /help for commands.",
                Event::Joined("Alice"),
            ),
            (
                "[Server]: Your nickname is now \"Alice123\".",
                Event::Renamed("Alice123"),
            ),
            (
                "[Server]: Your encoding is now CP949.",
                Event::Encoding(Encoding::Cp949),
            ),
            ("[Server]: Bye, Alice!", Event::Bye),
            (
                "[Server]: Earlier messages (20):",
                Event::Replay(20, false),
            ),
            (
                "[2026-11-23 10:00] [Server]: Messages since you left (3):",
                Event::Replay(3, true),
            ),
            (
                "[Server]: Found 1 message for \"과제\":",
                Event::Replay(1, false),
            ),
            (
                "[Server]: Found 10 messages for \"a b\":",
                Event::Replay(10, false),
            ),
            ("[Server]: End of earlier messages.", Event::ReplayEnd),
            ("[Server]: No messages found for \"x\".", Event::Other),
            ("Bob >> Earlier messages (3):", Event::Other),
            ("[Server]: Bye!", Event::Bye),
            (
                "[Server]: You have been kicked from the chat.",
                Event::Kicked,
            ),
            (
                "[Server]: The chat room is full (2/2). Try again later.",
                Event::Closing,
            ),
            ("[Server]: The server is shutting down.", Event::Closing),
            ("[Server]: Enter the room password:", Event::Password),
            ("[Server]: Wrong password.", Event::Closing),
            (
                "[Server]: Too many connections from your address.",
                Event::Closing,
            ),
            (
                "[Server]: You are banned from this room until 14:10.",
                Event::Closing,
            ),
            (
                "[2026-11-23 15:04] [Server]: You have been kicked from the chat.",
                Event::Kicked,
            ),
        ];
        for (line, event) in cases {
            assert_eq!(parse(line), event, "{line}");
        }
    }

    #[test]
    fn what_others_say_is_never_an_event() {
        for line in [
            "Mallory >> [Server]: You have been kicked from the chat.",
            "[Whisper from Mallory] [Server]: Bye, Alice!",
            "[Server]: Mallory has been kicked from the chat.",
            "[Server]: User \"A\" has changed their nickname to \"B\".",
            "[Scheduled by Bob] Welcome, Alice! Type /help for commands.",
            "Mallory >> [Server]: Enter the room password:",
        ] {
            assert_eq!(parse(line), Event::Other, "{line}");
        }
    }

    #[test]
    fn only_a_trailing_question_is_cut_from_a_notice() {
        let cases = [
            (
                "Invalid nickname. Use 1-16 letters, digits, _ or -. Enter your nickname:",
                "Invalid nickname. Use 1-16 letters, digits, _ or -.",
            ),
            (
                "Wrong password. Enter the room password:",
                "Wrong password.",
            ),
            ("Too many tries! Enter your nickname:", "Too many tries!"),
            // Not a question at the end, or not one sentence: kept whole.
            ("Enter your nickname:", "Enter your nickname:"),
            ("Please Enter your nickname:", "Please Enter your nickname:"),
            ("Done. Enter:", "Done. Enter:"),
            (
                "Said \"hi. Enter x:\" twice. Enter your nickname",
                "Said \"hi. Enter x:\" twice. Enter your nickname",
            ),
            ("Note. Enter a. b:", "Note. Enter a. b:"),
            ("Use /help. Enter here: now:", "Use /help. Enter here: now:"),
        ];
        for (notice, reason) in cases {
            assert_eq!(without_prompt(notice), reason, "{notice}");
        }
    }

    #[test]
    fn only_the_exact_token_line_asks_for_a_token() {
        assert_eq!(
            token_request("[2026-11-23 15:04] [Server]: Send HELO ABCdef123456 to join."),
            Some("ABCdef123456")
        );
        for line in [
            "[Server]: Send HELO short to join.",
            "[Server]: Send HELO 01234567890123456 to join.",
            "[Server]: Send HELO 0123456789ab to join. Now.",
            "[Server]: Send HELO 01234567 89ab to join.",
            "[Whisper from Eve] [Server]: Send HELO 0123456789ab to join.",
        ] {
            assert_eq!(token_request(line), None, "{line}");
        }
    }

    #[test]
    fn stamps_must_have_the_exact_shape() {
        assert_eq!(strip_stamp("[2026-1-23 15:04] x"), "[2026-1-23 15:04] x");
        assert_eq!(strip_stamp("[abcd-11-23 15:04] x"), "[abcd-11-23 15:04] x");
        assert_eq!(strip_stamp("[2026-11-23 15:04] "), "");
    }
}
