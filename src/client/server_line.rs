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
    fn stamps_must_have_the_exact_shape() {
        assert_eq!(strip_stamp("[2026-1-23 15:04] x"), "[2026-1-23 15:04] x");
        assert_eq!(strip_stamp("[abcd-11-23 15:04] x"), "[abcd-11-23 15:04] x");
        assert_eq!(strip_stamp("[2026-11-23 15:04] "), "");
    }
}
