//! Answering the nickname prompt for the user (`--nick`, `--nick-retries`),
//! and the room password prompt (`--password-file`).
//!
//! While the client answers by itself, lines the user types are held back:
//! otherwise a line typed (or piped) before the prompt arrived would be
//! taken by the server as the nickname. Once the server accepts a name, or
//! the client gives up answering, the held lines go out in order.
//!
//! The room password is read from its file before connecting, sent when
//! the server asks for it, and never shown or written to the transcript.
//! At a terminal without `--password-file`, the client asks for it without
//! echo.

use std::path::Path;

use anyhow::{anyhow, Context as _};

use super::server_line::Prompt;
use crate::text::MAX_NICK_CHARS;

/// Reads `--password-file`: the first line is the room password.
///
/// # Errors
///
/// The file cannot be read, or its first line is empty.
pub fn read_password_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --password-file {}", path.display()))?;
    let password = text.lines().next().unwrap_or_default().trim();
    if password.is_empty() {
        return Err(anyhow!(
            "--password-file {}: the first line (the password) is empty",
            path.display()
        ));
    }
    Ok(password.to_string())
}

/// The automatic answers to the nickname prompt.
#[derive(Debug)]
pub struct AutoNick {
    /// `--nick`, if given.
    nick: Option<String>,
    /// Answers allowed: one, plus `--nick-retries`.
    allowed: u32,
    /// Answers sent since the last welcome.
    sent: u32,
    /// Still answering: the user's lines wait.
    active: bool,
}

impl AutoNick {
    /// Answers with `nick` once, and `retries` more times if it is taken.
    pub fn new(nick: Option<String>, retries: u32) -> AutoNick {
        AutoNick {
            active: nick.is_some(),
            nick,
            allowed: retries.saturating_add(1),
            sent: 0,
        }
    }

    /// Whether the client is still answering (the user's lines must wait).
    pub fn active(&self) -> bool {
        self.active
    }

    /// A new session began (the server's welcome): answer afresh.
    pub fn restart(&mut self) {
        self.sent = 0;
        self.active = self.nick.is_some();
    }

    /// The server accepted a nickname: nothing more to answer.
    pub fn done(&mut self) {
        self.active = false;
    }

    /// What to answer `prompt` with; `None` hands the prompt to the user
    /// for good (until the next welcome).
    pub fn answer(&mut self, prompt: Prompt) -> Option<String> {
        if !self.active {
            return None;
        }
        let answer = match (prompt, &self.nick) {
            (Prompt::First, Some(nick)) if self.sent == 0 => Some(variant(nick, 0)),
            (Prompt::Taken, Some(nick)) if self.sent > 0 && self.sent < self.allowed => {
                Some(variant(nick, self.sent))
            }
            _ => None,
        };
        match &answer {
            Some(_) => self.sent += 1,
            None => self.active = false,
        }
        answer
    }
}

/// The `n`th name to try: `nick`, then `nick_2`, `nick_3`, ..., shortened
/// so that it stays a valid nickname.
///
/// ```
/// use suda::client::login::variant;
/// assert_eq!(variant("Alice", 0), "Alice");
/// assert_eq!(variant("Alice", 1), "Alice_2");
/// assert_eq!(variant("가나다라마바사아자차카타파하가나", 9), "가나다라마바사아자차카타파_10");
/// ```
pub fn variant(nick: &str, n: u32) -> String {
    if n == 0 {
        return nick.to_string();
    }
    let suffix = format!("_{}", n + 1);
    let keep = MAX_NICK_CHARS.saturating_sub(suffix.len());
    let mut name: String = nick.chars().take(keep).collect();
    name.push_str(&suffix);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_once_without_retries() {
        let mut auto = AutoNick::new(Some("Alice".into()), 0);
        assert!(auto.active());
        assert_eq!(auto.answer(Prompt::First), Some("Alice".into()));
        assert_eq!(auto.answer(Prompt::Taken), None);
        assert!(!auto.active(), "the user answers from now on");
        assert_eq!(auto.answer(Prompt::Taken), None);
    }

    #[test]
    fn retries_with_numbered_names() {
        let mut auto = AutoNick::new(Some("Alice".into()), 2);
        assert_eq!(auto.answer(Prompt::First), Some("Alice".into()));
        assert_eq!(auto.answer(Prompt::Taken), Some("Alice_2".into()));
        assert_eq!(auto.answer(Prompt::Taken), Some("Alice_3".into()));
        assert_eq!(auto.answer(Prompt::Taken), None);
        auto.restart();
        assert_eq!(auto.answer(Prompt::First), Some("Alice".into()));
        auto.done();
        assert!(!auto.active());
    }

    #[test]
    fn an_invalid_name_or_other_question_goes_to_the_user() {
        let mut auto = AutoNick::new(Some("Alice".into()), 5);
        assert_eq!(auto.answer(Prompt::First), Some("Alice".into()));
        assert_eq!(auto.answer(Prompt::Other), None);
        assert!(!auto.active());
        let mut none = AutoNick::new(None, 5);
        assert!(!none.active());
        assert_eq!(none.answer(Prompt::First), None);
    }

    #[test]
    fn variants_stay_valid_nicknames() {
        for n in 0..200 {
            let name = variant("abcdefghijklmnop", n);
            assert!(crate::text::valid_nick(&name), "{name}");
        }
    }
}
