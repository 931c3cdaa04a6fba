//! The server's settings, checked and resolved from the command line.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use crate::cli::ServeArgs;
use crate::net::charset::Encoding;
use crate::room::ratelimit::Rate;
use crate::room::{RoomConfig, SearchRules};
use crate::search::Endpoint;
use crate::text::valid_nick;

/// Name of the state file when `--state-file` is not given: it goes beside the log.
pub const DEFAULT_STATE_FILE: &str = "suda-state.json";

/// Everything `suda serve` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen, as given (resolved when binding).
    pub bind: String,
    /// Connections waiting to be accepted, at most.
    pub listen_backlog: u32,
    /// `--udp`: how long a silent UDP participant stays, if UDP is on.
    pub udp_idle: Option<std::time::Duration>,
    /// The room's rules and limits.
    pub room: RoomConfig,
    /// Output bytes queued for one client before it counts as too slow.
    pub max_outbuf: usize,
    /// Idle time before TCP keep-alive probes start, if on.
    pub tcp_keepalive: Option<std::time::Duration>,
    /// Encoding of a new connection.
    pub default_encoding: Encoding,
    /// The room's time zone.
    pub timezone: TimeZone,
    /// Whether lines carry `[YYYY-MM-DD HH:MM] `.
    pub timestamps: bool,
    /// The operator's nickname when the terminal takes part.
    pub console: Option<String>,
    /// The room log, if any.
    pub log_file: Option<PathBuf>,
    /// The state file for scheduled messages, if any.
    pub state_file: Option<PathBuf>,
    /// `/search`: where the model is and how many threads ask it.
    pub search: Option<SearchSetup>,
    /// `--announce`: how the server shows itself on the local network.
    pub announce: Option<AnnounceSetup>,
}

/// `--announce`: the name and the pace of the advertisement.
#[derive(Debug, Clone)]
pub struct AnnounceSetup {
    /// The DNS-SD instance name (`--announce-name`, else the room name).
    pub name: String,
    /// The online count is re-announced at most this often.
    pub interval: std::time::Duration,
}

/// How `/search` reaches its model.
#[derive(Debug, Clone)]
pub struct SearchSetup {
    /// URL, model, timeout, key, system prompt.
    pub endpoint: Endpoint,
    /// Worker threads.
    pub workers: usize,
    /// Where the key is to be read from at startup, if not from the environment.
    pub key_file: Option<PathBuf>,
}

/// The default `--max-joining` is at least this: a class arriving at once
/// must not be turned away, and a handful of silent sockets must not fill
/// the waiting room.
pub const MIN_JOINING: usize = 64;

/// The environment variable holding the `/search` API key.
pub const API_KEY_VAR: &str = "OPENAI_API_KEY";

/// `none` (any case) turns a file off.
fn optional_path(path: &Path) -> Option<PathBuf> {
    (!path.as_os_str().eq_ignore_ascii_case("none")).then(|| path.to_path_buf())
}

impl Config {
    /// Resolves the command line.
    ///
    /// # Errors
    ///
    /// A combination of flags that cannot work, in one line.
    pub fn from_args(args: ServeArgs) -> Result<Config, String> {
        if let Some(nick) = &args.console {
            if !valid_nick(nick) {
                return Err(format!(
                    "invalid value {nick:?} for '--console <NICK>': use 1-16 letters, digits, _ or - (not \"Server\")"
                ));
            }
        }
        let log_file = optional_path(&args.log_file);
        let state_file = match &args.state_file {
            Some(path) => optional_path(path),
            None => Some(match log_file.as_deref().and_then(Path::parent) {
                Some(dir) => dir.join(DEFAULT_STATE_FILE),
                None => PathBuf::from(DEFAULT_STATE_FILE),
            }),
        };
        let max_clients = args.max_clients as usize;
        let announce = args.announce.then(|| AnnounceSetup {
            name: args
                .announce_name
                .clone()
                .unwrap_or_else(|| crate::net::announce::default_name(&args.room)),
            interval: args.announce_interval,
        });
        let search_rules = args.search_url.as_ref().map(|_| SearchRules {
            // "off" means no per-person limit; the room-wide cap still holds.
            rate: Rate {
                per_second: args.search_rate.0.unwrap_or(1e9),
                burst: 1,
            },
            max_in_flight: args.search_max_in_flight as usize,
            cache_ttl: args.search_cache_ttl.0,
            max_chars: args.search_max_chars as usize,
        });
        let search = match args.search_url {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!(
                        "invalid value {url:?} for '--search-url <URL>': use an http:// or https:// URL"
                    ));
                }
                Some(SearchSetup {
                    endpoint: Endpoint {
                        url,
                        model: args.search_model,
                        timeout: args.search_timeout,
                        key: std::env::var(API_KEY_VAR)
                            .ok()
                            .filter(|k| !k.trim().is_empty()),
                        system: args.search_system,
                    },
                    workers: args.search_workers as usize,
                    key_file: args.search_key_file,
                })
            }
            None => None,
        };
        Ok(Config {
            bind: args.bind,
            listen_backlog: args.listen_backlog,
            udp_idle: args.udp.then_some(args.udp_idle),
            room: RoomConfig {
                name: args.room,
                max_clients,
                max_joining: args
                    .max_joining
                    .map_or(max_clients.max(MIN_JOINING), |n| n as usize),
                login_timeout: args.login_timeout,
                idle_timeout: args.idle_timeout.0,
                rate: args.rate.0.map(|per_second| Rate {
                    per_second,
                    burst: args.burst,
                }),
                max_line: args.max_line,
                max_scheduled: args.max_scheduled as usize,
                max_scheduled_total: args.max_scheduled_total as usize,
                max_schedule_ahead: args.max_schedule_ahead,
                search: search_rules,
                crowd_size: args.crowd_size as usize,
                crowd_interval: args.crowd_interval,
            },
            max_outbuf: args.max_outbuf,
            tcp_keepalive: args.tcp_keepalive.0,
            default_encoding: args.default_encoding,
            timezone: args.timezone,
            timestamps: args.timestamps,
            console: args.console,
            log_file,
            state_file,
            search,
            announce,
        })
    }
}
