//! The room's limits and settings, as the command line sets them.

use std::time::Duration;

use crate::net::ipnet::CidrList;
use crate::passwords::Secret;
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
    /// The room password (`--password-file`): asked before the nickname.
    pub password: Option<Secret>,
    /// Admins are made by `/admin <password>` (`--admin-password-file`):
    /// nobody becomes admin by joining first, and no one inherits it.
    pub admin_password: bool,
    /// Connections at once from one address, IPv6 /64 (`--max-per-ip`);
    /// with a room password, those that gave it do not count.
    pub max_per_ip: usize,
    /// Addresses that the per-address limits and the password throttles
    /// skip (`--ip-exempt`), and whose address a kick does not ban.
    pub ip_exempt: CidrList,
    /// How long a kick keeps the address and nickname out (`--kick-ban`).
    pub kick_ban: Duration,
    /// Bans kept at most (`--max-bans`); the one ending soonest makes room.
    pub max_bans: usize,
    /// Pending scheduled messages from one address (`--max-scheduled-per-ip`):
    /// reconnecting under new names must not multiply `max_scheduled`.
    pub max_scheduled_per_ip: usize,
    /// Bytes of pending scheduled text, room-wide (`--max-scheduled-bytes`):
    /// a count alone allows `--max-line` times `--max-scheduled-total`.
    pub max_scheduled_bytes: usize,
    /// Scheduled messages sent per [`PACE_TICK`] at most (`--schedule-pace`),
    /// so many due at once never swamp a reader.
    pub schedule_pace: usize,
    /// Bytes of scheduled text sent per [`PACE_TICK`] at most
    /// (`--schedule-pace-bytes`); one message always goes.
    pub schedule_pace_bytes: usize,
    /// Past this many participants, joins and leaves are announced in one
    /// summary per [`RoomConfig::crowd_interval`] instead of a line each
    /// (`--crowd-size`): a line each costs N deliveries per person, N² for
    /// a crowd arriving.
    pub crowd_size: usize,
    /// How often a crowded room hears who came and went (`--crowd-interval`).
    pub crowd_interval: Duration,
    /// Messages replayed to a newcomer (`--history`); 0 for none.
    pub history: usize,
    /// How long the history is kept, and how long a nickname that left is
    /// caught up when it comes back (`--history-keep`).
    pub history_keep: Duration,
    /// Messages a returning nickname is caught up with at most
    /// (`--history-catchup`).
    pub history_catchup: usize,
    /// Bytes one replay, catch-up, `/history` or `/find` answer holds at
    /// most (half of `--max-outbuf`): the newest messages that fit. More
    /// would be queued at once and drop the reader as too slow, and a
    /// page reconnecting after an outage would be dropped every time.
    pub history_bytes: usize,
}

/// How often due scheduled messages are let out (see
/// [`RoomConfig::schedule_pace`]).
pub const PACE_TICK: Duration = Duration::from_millis(100);

/// The default `--idle-timeout`: longer than a double lecture with its
/// break (2 x 50 min + 10), so a class that listens in silence keeps its
/// seats; short enough that a forgotten or trickling socket does not hold
/// a seat for the rest of the day.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

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
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            rate: Some(Rate {
                per_second: 5.0,
                burst: 20,
            }),
            max_line: 4096,
            max_scheduled: 20,
            max_scheduled_total: 10_000,
            max_schedule_ahead: Duration::from_secs(7 * 24 * 3600),
            search: None,
            password: None,
            admin_password: false,
            max_per_ip: 5,
            ip_exempt: CidrList::loopback(),
            kick_ban: Duration::from_secs(600),
            max_bans: 1000,
            max_scheduled_per_ip: 50,
            max_scheduled_bytes: 4 << 20,
            schedule_pace: 20,
            schedule_pace_bytes: 32 << 10,
            crowd_size: 100,
            crowd_interval: Duration::from_secs(10),
            history: 20,
            history_keep: Duration::from_secs(30 * 86_400),
            history_catchup: 500,
            history_bytes: 512 << 10,
        }
    }
}
