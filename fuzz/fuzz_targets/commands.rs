//! The command parser, the nickname rules and `/schedule`'s times, on any
//! text: no panic, and the rules agree with each other.
#![no_main]

use jiff::tz::TimeZone;
use jiff::Timestamp;
use suda::room::commands::Command;
use suda::room::schedules::When;
use suda::text::{nick_keys, normalize_nick, same_person, sanitize, valid_nick};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let line = sanitize(&text);
    // What the room parses is the sanitized line; parsing is total.
    let command = Command::parse(&line);
    match command {
        Command::Whisper { to, text } => {
            assert!(!to.is_empty() && !text.is_empty());
            assert!(!to.contains(char::is_whitespace), "whisper to {to:?}");
        }
        Command::Schedule { when, text } => {
            assert!(!when.is_empty() && !text.is_empty());
            if let Some(when) = When::parse(when) {
                // Any time, any zone: resolving never panics.
                for now in [Timestamp::MIN, Timestamp::UNIX_EPOCH, Timestamp::MAX] {
                    let _ = when.resolve(now, &TimeZone::UTC);
                }
                let seoul = TimeZone::fixed(jiff::tz::offset(9));
                let now: Timestamp = "2026-11-23T05:00:00Z".parse().expect("fixed");
                // Never the past; "0s" is now (sent at the next tick).
                if let Some(at) = when.resolve(now, &seoul) {
                    assert!(at >= now, "{when:?} resolved to the past");
                }
            }
        }
        Command::Kick { nick, ban } => {
            assert!(!nick.is_empty());
            if let Some(ban) = ban {
                assert!(!ban.contains(char::is_whitespace));
            }
        }
        _ => {}
    }
    // Parsing the same line twice gives the same command.
    assert_eq!(Command::parse(&line), command);

    // Nicknames: split the text in two names and compare them.
    let (a, b) = text.split_once('\n').unwrap_or((&text, ""));
    let (a, b) = (normalize_nick(a), normalize_nick(b));
    assert_eq!(normalize_nick(&a), a, "normalizing twice changes {a:?}");
    assert!(same_person(&a, &a), "{a:?} is not itself");
    assert_eq!(same_person(&a, &b), same_person(&b, &a), "{a:?} / {b:?}");
    if valid_nick(&a) {
        assert!(!same_person(&a, "server"), "{a:?} passes for the server");
        assert!(a.chars().count() <= suda::text::MAX_NICK_CHARS);
        let keys = nick_keys(&a);
        assert!(keys.iter().all(|k| !k.is_empty()), "{a:?} has an empty key");
        // Case never makes another person: what the room compares is
        // the same for the name and its capitals or small letters.
        let lower = a.to_lowercase();
        if valid_nick(&lower) {
            assert!(same_person(&a, &lower), "{a:?} and {lower:?}");
        }
        let upper = a.to_uppercase();
        if valid_nick(&upper) {
            assert!(same_person(&a, &upper), "{a:?} and {upper:?}");
        }
    }
});
