//! What a line from a participant asks for, and carrying it out.
//!
//! [`Command::parse`] needs no state, so the grammar can be read in one
//! place; `Room::apply` at the end of this file hands each command to the
//! file named after it (`whisper.rs`, `kick.rs`, ...). An unknown command is a variant,
//! not an error, and so is a command with missing arguments: both have an
//! answer the user must see.

mod admin;
mod chat;
mod emoticons;
mod encoding;
mod kick;
mod rename;
mod schedule;
mod search;
mod unban;
mod upload;
mod users;
mod whisper;

pub(in crate::room) use schedule::wall_delay;
#[cfg(test)]
pub(in crate::room) use search::answer_lines;
pub(in crate::room) use search::PendingSearch;
pub use upload::{FileShared, RefusedUpload, UploadOffer, UploadRefused};

use crate::clock::Now;
use crate::room::{ConnKey, Outbox, Room};

/// The usage line of each command that takes arguments.
pub mod usage {
    /// `/rename`.
    pub const RENAME: &str = "/rename <new-nickname>";
    /// `/whisper`.
    pub const WHISPER: &str = "/whisper <nick> <message>";
    /// `/schedule`.
    pub const SCHEDULE: &str = "/schedule <HH:MM|duration> <message>";
    /// `/unschedule`.
    pub const UNSCHEDULE: &str = "/unschedule <id>";
    /// `/kick`.
    pub const KICK: &str = "/kick <nick> [duration]";
    /// `/admin`.
    pub const ADMIN: &str = "/admin <password>";
    /// `/unban`.
    pub const UNBAN: &str = "/unban <nick>";
    /// `/schedules`.
    pub const SCHEDULES: &str = "/schedules [all]";
    /// `/search`.
    pub const SEARCH: &str = "/search <question>";
    /// `/encoding`.
    pub const ENCODING: &str = "/encoding <utf-8|cp949>";
    /// `/history`.
    pub const HISTORY: &str = "/history [n]";
    /// `/find`.
    pub const FIND: &str = "/find <words>";
    /// `/upload`.
    pub const UPLOAD: &str = "/upload [@nick] <file name>";
}

/// The lines of `/help` (without the `[Server]: ` prefix): a heading,
/// then each command as typed and what it does, then [`HELP_END`].
pub const HELP: &[(&str, &str)] = &[
    ("/help", "this list"),
    ("/users", "who is online (also /who)"),
    (
        "/rename <new-nickname>",
        "change your nickname (also /nick)",
    ),
    (
        "/whisper <nick> <message>",
        "private message (also /w, /msg)",
    ),
    (
        "/schedule <when> <message>",
        "send later; when is HH:MM or 90s, 10m, 1h30m",
    ),
    (
        "/schedules",
        "your pending scheduled messages, soonest first",
    ),
    ("/unschedule <id>", "cancel one of them"),
    (
        "/kick <nick> [duration]",
        "remove someone, kept out 10m (admin only)",
    ),
    ("/unban <nick>", "let a kicked person back in (admin only)"),
    (
        "/schedules all",
        "everyone's scheduled messages (admin only)",
    ),
    ("/admin <password>", "become an admin"),
    (
        usage::SEARCH,
        "ask the AI; the answer is shared (also /ask)",
    ),
    ("/history [n]", "the last n messages (20, at most 500)"),
    (
        "/find <words>",
        "the 10 latest messages with all these words",
    ),
    (usage::UPLOAD, "share a file with everyone or one person"),
    (
        "/encoding <utf-8|cp949>",
        "set the text encoding of your terminal",
    ),
    (
        "/emoticons",
        "the :codes: that become emoji, such as :smile:",
    ),
    ("/exit", "leave (also /quit, #exit)"),
];

/// `/history` without a number.
pub const DEFAULT_HISTORY: usize = 20;

/// The first line of `/help`.
pub const HELP_START: &str = "Commands:";

/// The last line of `/help`.
pub const HELP_END: &str =
    "Anything else is sent to everyone. Start a line with // to send one that begins with /.";

/// What `/help` says of `/search` on a server without a model.
pub const SEARCH_OFF: &str = "(not enabled on this server)";

/// One parsed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// Text for everyone.
    Chat(&'a str),
    /// `/help`.
    Help,
    /// `/users`, `/user`, `/who`.
    Users,
    /// `/rename <new>`, `/nick <new>`.
    Rename(&'a str),
    /// `/whisper <nick> <message>`, `/w`, `/msg`.
    Whisper {
        /// Who it is for, as typed.
        to: &'a str,
        /// The message.
        text: &'a str,
    },
    /// `/schedule <when> <message>`.
    Schedule {
        /// `HH:MM` or a duration, not yet checked.
        when: &'a str,
        /// The message.
        text: &'a str,
    },
    /// `/schedules`.
    Schedules,
    /// `/schedules all` (admins).
    AllSchedules,
    /// `/unschedule <id>`.
    Unschedule(u64),
    /// `/kick <nick> [duration]`.
    Kick {
        /// Who, as typed.
        nick: &'a str,
        /// How long the ban lasts, as typed (not yet checked); `None` for
        /// `--kick-ban`.
        ban: Option<&'a str>,
    },
    /// `/unban <nick>`.
    Unban(&'a str),
    /// `/admin <password>`: never logged, never relayed.
    Admin(&'a str),
    /// `/search <question>`, `/ask`.
    Search(&'a str),
    /// `/encoding <name>`, without checking the name.
    Encoding(&'a str),
    /// `/emoticons`.
    Emoticons,
    /// `/history [n]`: how many (already at most [`crate::history::MAX_SHOWN`]).
    History(usize),
    /// `/find <words>`.
    Find(&'a str),
    /// `/upload [@nick] <file name>`.
    Upload {
        /// The one recipient, as typed (without `@`).
        to: Option<&'a str>,
        /// The file name, as typed.
        name: &'a str,
    },
    /// `/exit`, `/quit`, `#exit`.
    Exit,
    /// A known command with missing or malformed arguments: its usage line.
    Usage(&'static str),
    /// `/<name>` that is no command (`name` as typed, without the slash).
    Unknown(&'a str),
}

/// Whether `line` is `/admin` followed by nothing or whitespace.
fn is_admin_command(line: &str) -> bool {
    let (name, _) = first_word(line);
    name.eq_ignore_ascii_case("/admin")
}

/// Splits `text` at its first run of whitespace.
fn first_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    }
}

impl<'a> Command<'a> {
    /// Reads one line (already decoded and sanitized, not empty).
    ///
    /// ```
    /// use suda::room::commands::Command;
    /// assert_eq!(Command::parse("hi /all"), Command::Chat("hi /all"));
    /// assert_eq!(Command::parse("/W bob  psst"), Command::Whisper { to: "bob", text: "psst" });
    /// assert_eq!(Command::parse("//shrug"), Command::Chat("/shrug"));
    /// assert_eq!(Command::parse("#exit"), Command::Exit);
    /// ```
    pub fn parse(line: &'a str) -> Command<'a> {
        if line.trim().eq_ignore_ascii_case("#exit") {
            return Command::Exit;
        }
        // A password typed after a stray space must not become chat.
        let line = match line.trim_start() {
            spaced if spaced.len() != line.len() && is_admin_command(spaced) => spaced,
            _ => line,
        };
        let Some(rest) = line.strip_prefix('/') else {
            return Command::Chat(line);
        };
        if rest.starts_with('/') {
            return Command::Chat(rest);
        }
        let (name, args) = first_word(rest);
        let args = args.trim_end();
        let lower = name.to_ascii_lowercase();
        let need = |usage: &'static str, value: Command<'a>| {
            if args.is_empty() {
                Command::Usage(usage)
            } else {
                value
            }
        };
        match lower.as_str() {
            "help" | "h" | "?" => Command::Help,
            "users" | "user" | "who" => Command::Users,
            "rename" | "nick" => need(usage::RENAME, Command::Rename(args)),
            "whisper" | "w" | "msg" => match first_word(args) {
                (to, text) if !to.is_empty() && !text.is_empty() => Command::Whisper { to, text },
                _ => Command::Usage(usage::WHISPER),
            },
            "schedule" => match first_word(args) {
                (when, text) if !when.is_empty() && !text.is_empty() => {
                    Command::Schedule { when, text }
                }
                _ => Command::Usage(usage::SCHEDULE),
            },
            "schedules" if args.is_empty() => Command::Schedules,
            "schedules" if args.eq_ignore_ascii_case("all") => Command::AllSchedules,
            "schedules" => Command::Usage(usage::SCHEDULES),
            "unschedule" => match args.trim_start_matches('#').parse() {
                Ok(id) => Command::Unschedule(id),
                Err(_) => Command::Usage(usage::UNSCHEDULE),
            },
            "kick" => match first_word(args) {
                ("", _) => Command::Usage(usage::KICK),
                (nick, "") => Command::Kick { nick, ban: None },
                (nick, ban) if !ban.contains(char::is_whitespace) => Command::Kick {
                    nick,
                    ban: Some(ban),
                },
                _ => Command::Usage(usage::KICK),
            },
            "unban" => need(usage::UNBAN, Command::Unban(args)),
            "admin" => need(usage::ADMIN, Command::Admin(args)),
            "search" | "ask" => need(usage::SEARCH, Command::Search(args)),
            "encoding" | "charset" => need(usage::ENCODING, Command::Encoding(args)),
            "emoticons" => Command::Emoticons,
            "history" if args.is_empty() => Command::History(DEFAULT_HISTORY),
            // Digits only (`+2` is not a count); 0 asks for nothing, so
            // it gets the usage rather than the most there is.
            "history" if !args.bytes().all(|b| b.is_ascii_digit()) => {
                Command::Usage(usage::HISTORY)
            }
            "history" => match args.parse::<usize>() {
                Ok(0) => Command::Usage(usage::HISTORY),
                Ok(n) => Command::History(n.min(crate::history::MAX_SHOWN)),
                // A number too big to parse is still "as many as there are".
                Err(_) if args.bytes().any(|b| b != b'0') => {
                    Command::History(crate::history::MAX_SHOWN)
                }
                Err(_) => Command::Usage(usage::HISTORY),
            },
            "find" => need(usage::FIND, Command::Find(args)),
            "upload" => match args.strip_prefix('@').map(first_word) {
                Some((to, name)) if !to.is_empty() && !name.is_empty() => {
                    Command::Upload { to: Some(to), name }
                }
                Some(_) => Command::Usage(usage::UPLOAD),
                None => need(
                    usage::UPLOAD,
                    Command::Upload {
                        to: None,
                        name: args,
                    },
                ),
            },
            "exit" | "quit" => Command::Exit,
            _ => Command::Unknown(name),
        }
    }
}

impl Room {
    /// Carries out a participant's command.
    pub(in crate::room) fn apply(
        &mut self,
        key: ConnKey,
        command: Command<'_>,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        match command {
            Command::Chat(text) => self.chat(key, text, now, out),
            Command::Help => self.help(key, now, out),
            Command::Users => self.users(key, now, out),
            Command::Rename(nick) => self.rename(key, nick, now, out),
            Command::Whisper { to, text } => self.whisper(key, to, text, now, out),
            Command::Schedule { when, text } => self.schedule(key, when, text, now, out),
            Command::Schedules => self.list_schedules(key, now, out),
            Command::AllSchedules => self.list_all_schedules(key, now, out),
            Command::Unschedule(id) => self.unschedule(key, id, now, out),
            Command::Kick { nick, ban } => self.kick(key, nick, ban, now, out),
            Command::Unban(nick) => self.unban(key, nick, now, out),
            Command::Admin(password) => self.admin(key, password, now, out),
            Command::Search(question) => self.search(key, question, now, out),
            Command::Encoding(name) => self.set_encoding(key, name, now, out),
            Command::Emoticons => self.list_emoticons(key, now, out),
            Command::History(n) => self.show_history(key, n, now, out),
            Command::Find(words) => self.find_messages(key, words, now, out),
            Command::Upload { to, name } => self.upload(key, to, name, now, out),
            Command::Exit => {
                let nick = self.nick(key).unwrap_or_default().to_string();
                self.tell(key, now, out, format_args!("Bye, {nick}!"));
                self.leave(key, "quit", now, out);
                out.close(key);
            }
            Command::Usage(usage) => {
                self.tell(key, now, out, format_args!("Usage: {usage}"));
            }
            Command::Unknown(name) => {
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Unknown command \"/{name}\". Type /help for commands."),
                );
            }
        }
    }
}

impl Room {
    /// `/help`: every command, `/search` marked when there is no model.
    fn help(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) {
        self.tell(key, now, out, format_args!("{HELP_START}"));
        let search = self.cfg.search.is_some();
        for &(command, what) in HELP {
            let what = if command == usage::SEARCH && !search {
                SEARCH_OFF
            } else {
                what
            };
            self.tell(key, now, out, format_args!("  {command:<28} {what}"));
        }
        self.tell(key, now, out, format_args!("{HELP_END}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_map_to_the_same_command() {
        for line in ["/users", "/user", "/who", "/WHO"] {
            assert_eq!(Command::parse(line), Command::Users, "{line}");
        }
        for line in ["/exit", "/quit", "#exit", "#EXIT", " #exit "] {
            assert_eq!(Command::parse(line), Command::Exit, "{line}");
        }
        assert_eq!(Command::parse("/nick 민수"), Command::Rename("민수"));
        assert_eq!(
            Command::parse("/msg Bob hi there"),
            Command::Whisper {
                to: "Bob",
                text: "hi there"
            }
        );
        assert_eq!(Command::parse("/ask why?"), Command::Search("why?"));
        assert_eq!(
            Command::parse("/upload 과제 1.hwp"),
            Command::Upload {
                to: None,
                name: "과제 1.hwp"
            }
        );
        assert_eq!(
            Command::parse("/upload @Bob a.txt"),
            Command::Upload {
                to: Some("Bob"),
                name: "a.txt"
            }
        );
        assert_eq!(
            Command::parse("/upload @Bob"),
            Command::Usage(usage::UPLOAD)
        );
        assert_eq!(Command::parse("/upload"), Command::Usage(usage::UPLOAD));
    }

    #[test]
    fn missing_arguments_give_the_usage_line() {
        assert_eq!(Command::parse("/rename"), Command::Usage(usage::RENAME));
        assert_eq!(Command::parse("/rename   "), Command::Usage(usage::RENAME));
        assert_eq!(
            Command::parse("/whisper Bob"),
            Command::Usage(usage::WHISPER)
        );
        assert_eq!(
            Command::parse("/schedule 10m"),
            Command::Usage(usage::SCHEDULE)
        );
        assert_eq!(
            Command::parse("/unschedule x"),
            Command::Usage(usage::UNSCHEDULE)
        );
        assert_eq!(Command::parse("/kick"), Command::Usage(usage::KICK));
        assert_eq!(Command::parse("/kick a b c"), Command::Usage(usage::KICK));
        assert_eq!(Command::parse("/unban"), Command::Usage(usage::UNBAN));
        assert_eq!(Command::parse("/admin  "), Command::Usage(usage::ADMIN));
        assert_eq!(
            Command::parse("/schedules mine"),
            Command::Usage(usage::SCHEDULES)
        );
        assert_eq!(Command::parse("/search"), Command::Usage(usage::SEARCH));
        assert_eq!(Command::parse("/encoding"), Command::Usage(usage::ENCODING));
    }

    #[test]
    fn message_text_keeps_its_inner_spacing() {
        assert_eq!(
            Command::parse("/schedule 10:30  Meeting  starts soon"),
            Command::Schedule {
                when: "10:30",
                text: "Meeting  starts soon"
            }
        );
        assert_eq!(Command::parse("/unschedule #12"), Command::Unschedule(12));
    }

    #[test]
    fn trust_commands() {
        assert_eq!(
            Command::parse("/kick Mallory"),
            Command::Kick {
                nick: "Mallory",
                ban: None
            }
        );
        assert_eq!(
            Command::parse("/kick Mallory 1h"),
            Command::Kick {
                nick: "Mallory",
                ban: Some("1h")
            }
        );
        assert_eq!(Command::parse("/schedules ALL"), Command::AllSchedules);
        assert_eq!(
            Command::parse("/admin s3cret pw"),
            Command::Admin("s3cret pw")
        );
        // A leading space does not turn the password into chat.
        assert_eq!(Command::parse("  /ADMIN s3cret"), Command::Admin("s3cret"));
        assert_eq!(Command::parse(" /admin"), Command::Usage(usage::ADMIN));
        assert_eq!(
            Command::parse(" /administer"),
            Command::Chat(" /administer")
        );
    }

    #[test]
    fn unknown_commands_keep_their_name() {
        assert_eq!(Command::parse("/dance now"), Command::Unknown("dance"));
        assert_eq!(Command::parse("/"), Command::Unknown(""));
    }
}
