//! The room's limits and settings, as the command line sets them.

use std::time::Duration;

use crate::room::ratelimit::Rate;

/// The room's limits and settings.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Shown in the welcome line.
    pub name: String,
    /// Participants at most (`--max-clients`).
    pub max_clients: usize,
    /// Connections still choosing a nickname, at most.
    pub max_joining: usize,
    /// Time to choose a nickname (`--login-timeout`).
    pub login_timeout: Duration,
    /// Silence after which a participant is closed (`--idle-timeout`).
    pub idle_timeout: Option<Duration>,
    /// Flood control (`--rate`, `--burst`); `None` is off.
    pub rate: Option<Rate>,
    /// Longest line in bytes (`--max-line`), for the error message.
    pub max_line: usize,
    /// Pending scheduled messages per participant (`--max-scheduled`).
    pub max_scheduled: usize,
    /// Pending scheduled messages in the whole room (`--max-scheduled-total`):
    /// reconnecting must not be a way around the per-person limit.
    pub max_scheduled_total: usize,
    /// How far ahead a message may be scheduled (`--max-schedule-ahead`).
    pub max_schedule_ahead: Duration,
    /// `/search`, if a model is configured.
    pub search: Option<SearchRules>,
    /// Past this many participants, joins and leaves are announced in one
    /// summary per [`RoomConfig::crowd_interval`] instead of a line each
    /// (`--crowd-size`): a line each costs N deliveries per person, N² for
    /// a crowd arriving.
    pub crowd_size: usize,
    /// How often a crowded room hears who came and went (`--crowd-interval`).
    pub crowd_interval: Duration,
}

/// The room's rules for `/search` (the HTTP side is [`crate::search`]).
#[derive(Debug, Clone)]
pub struct SearchRules {
    /// Searches per participant (`--search-rate`), burst of one.
    pub rate: Rate,
    /// Searches waiting for the model at once, room-wide (`--search-max-in-flight`).
    pub max_in_flight: usize,
    /// How long an answer is reused for the same question (`--search-cache-ttl`).
    pub cache_ttl: Option<Duration>,
    /// Characters of an answer shown at most (`--search-max-chars`).
    pub max_chars: usize,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            name: "suda".into(),
            max_clients: 10,
            max_joining: 10,
            login_timeout: Duration::from_secs(60),
            idle_timeout: None,
            rate: Some(Rate {
                per_second: 5.0,
                burst: 20,
            }),
            max_line: 4096,
            max_scheduled: 20,
            max_scheduled_total: 10_000,
            max_schedule_ahead: Duration::from_secs(7 * 24 * 3600),
            search: None,
            crowd_size: 100,
            crowd_interval: Duration::from_secs(10),
        }
    }
}
