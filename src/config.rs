//! The server's settings, checked and resolved from the command line.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use crate::cli::ServeArgs;
use crate::net::charset::Encoding;
use crate::net::ipnet::CidrList;
use crate::net::tls::CertSource;
use crate::room::ratelimit::Rate;
use crate::room::{RoomConfig, SearchRules};
use crate::search::Endpoint;
use crate::text::valid_nick;

/// Name of the state file of earlier versions when `--state-file` is not
/// given: it was beside the log.
pub const DEFAULT_STATE_FILE: &str = "suda-state.json";

/// Name of the database when `--db` is not given: it goes beside the log.
pub const DEFAULT_DB: &str = "suda.db";
/// Name of the `--tls-self-signed` folder when `--tls-dir` is not given:
/// beside the log too.
pub const DEFAULT_TLS_DIR: &str = "suda-tls";
/// Name of the files folder when `--files-dir` is not given: beside the log.
pub const DEFAULT_FILES_DIR: &str = "suda-files";

/// Everything `suda serve` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen, as given (resolved when binding).
    pub bind: String,
    /// Where to listen for telnet clients that wait for the server to
    /// negotiate (`--telnet-bind`), if anywhere.
    pub telnet_bind: Option<String>,
    /// Connections waiting to be accepted, at most.
    pub listen_backlog: u32,
    /// `--udp`: how long a silent UDP participant stays, if UDP is on.
    pub udp_idle: Option<std::time::Duration>,
    /// `--udp-unverified-rate`: token replies per second to unverified
    /// addresses, all together (`None`: no cap).
    pub udp_unverified_rate: Option<f64>,
    /// The room's rules and limits.
    pub room: RoomConfig,
    /// `--history-rate`: room messages stored a second at most (0: all).
    pub history_rate: u32,
    /// Output bytes queued for one client before it counts as too slow.
    pub max_outbuf: usize,
    /// Idle time before TCP keep-alive probes start, if on.
    pub tcp_keepalive: Option<std::time::Duration>,
    /// Addresses the limits per address skip.
    pub ip_exempt: CidrList,
    /// New connections per network, if limited.
    pub connect_rate: Option<Rate>,
    /// SO_SNDBUF for each client.
    pub sndbuf: usize,
    /// Connections waiting for their client to hang up, at most.
    pub max_lingering: usize,
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
    /// The database for scheduled messages, if any.
    pub db: Option<PathBuf>,
    /// A state file of earlier versions to import into the database, if any.
    pub state_file: Option<PathBuf>,
    /// `/search`: where the model is and how many threads ask it.
    pub search: Option<SearchSetup>,
    /// `--password-file`, read at startup.
    pub password_file: Option<PathBuf>,
    /// `--admin-password-file`, read at startup.
    pub admin_password_file: Option<PathBuf>,
    /// How new connections are recognised and carried.
    pub transport: TransportConfig,
    /// `--announce`: how the server shows itself on the local network.
    pub announce: Option<AnnounceSetup>,
    /// The file store, unless `--web off`.
    pub files: Option<crate::files::FilesConfig>,
}

/// `--announce`: the name and the pace of the advertisement.
#[derive(Debug, Clone)]
pub struct AnnounceSetup {
    /// The DNS-SD instance name (`--announce-name`, else the room name).
    pub name: String,
    /// The online count is re-announced at most this often.
    pub interval: std::time::Duration,
}

/// One port for chat, TLS and HTTP: the certificate and the waits.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The certificate, if TLS is on.
    pub tls: Option<CertSource>,
    /// `--tls-only`.
    pub tls_only: bool,
    /// `--sniff-wait`.
    pub sniff_wait: std::time::Duration,
    /// `--tls-handshake-timeout`.
    pub handshake_timeout: std::time::Duration,
    /// `--max-handshakes`.
    pub max_handshakes: usize,
    /// `--web-origin`.
    pub web_origins: Vec<String>,
    /// `--web` and the HTTP limits.
    pub http: crate::net::http::HttpLimits,
}

/// The folder beside the log (or the working folder) that holds `name`.
fn beside(log_file: Option<&Path>, name: &str) -> PathBuf {
    match log_file.and_then(Path::parent) {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

/// Where `--tls-self-signed` keeps its pair: `--tls-dir`, or beside the log.
pub fn tls_dir(given: Option<&Path>, log_file: &Path) -> PathBuf {
    match given {
        Some(dir) => dir.to_path_buf(),
        None => beside(optional_path(log_file).as_deref(), DEFAULT_TLS_DIR),
    }
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

/// The default `--max-per-ip` is half of `--max-clients`, and at least
/// this: one address cannot fill a default room of 10, and two people
/// sharing a home connection can both join a tiny one. A class behind one
/// school NAT needs the room password (those who gave it do not count)
/// or a larger `--max-per-ip`.
pub const MIN_PER_IP: usize = 2;

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
        let beside_log = |name: &str| match log_file.as_deref().and_then(Path::parent) {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        };
        let state_file = match &args.state_file {
            Some(path) => optional_path(path),
            None => Some(beside_log(DEFAULT_STATE_FILE)),
        };
        let db = match (&args.db, &args.state_file) {
            (Some(path), _) => optional_path(path),
            // `--state-file none` always meant "keep nothing on disk".
            (None, Some(_)) if state_file.is_none() => None,
            // Without a log, beside the state file that was named, so that
            // servers given different files never share one database.
            (None, Some(path)) if log_file.is_none() => Some(match path.parent() {
                Some(dir) => dir.join(DEFAULT_DB),
                None => PathBuf::from(DEFAULT_DB),
            }),
            (None, _) => Some(beside_log(DEFAULT_DB)),
        };
        let tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(CertSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, true) => Some(CertSource::SelfSigned {
                dir: tls_dir(args.tls_dir.as_deref(), &args.log_file),
            }),
            _ => None,
        };
        if tls.is_some() && args.sniff_wait.is_zero() {
            return Err(
                "--sniff-wait 0s turns recognising TLS off; give TLS clients a moment (the default is 100ms)"
                    .into(),
            );
        }
        if args.tls_only && tls.is_none() {
            return Err(
                "--tls-only needs a certificate: --tls-cert and --tls-key, or --tls-self-signed"
                    .into(),
            );
        }
        let files = args.web.then(|| crate::files::FilesConfig {
            dir: match &args.files_dir {
                Some(dir) => dir.clone(),
                None => beside(log_file.as_deref(), DEFAULT_FILES_DIR),
            },
            ttl: args.file_ttl,
            max_size: args.max_file_size as u64,
            quota: args.files_quota as u64,
            max_uploads: args.max_uploads as usize,
            public_url: args.public_url.clone(),
        });
        let transport = TransportConfig {
            tls,
            tls_only: args.tls_only,
            sniff_wait: args.sniff_wait,
            handshake_timeout: args.tls_handshake_timeout,
            max_handshakes: args.max_handshakes as usize,
            web_origins: args.web_origin.clone(),
            http: crate::net::http::HttpLimits {
                web: args.web,
                max_head: args.http_max_head,
                max_headers: args.http_max_headers as usize,
                timeout: args.http_timeout,
                max_conns: args.max_http as usize,
            },
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
            telnet_bind: args.telnet_bind,
            listen_backlog: args.listen_backlog,
            udp_idle: args.udp.then_some(args.udp_idle),
            udp_unverified_rate: args.udp_unverified_rate.0,
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
                max_scheduled_per_ip: args.max_scheduled_per_ip as usize,
                max_scheduled_bytes: args.max_scheduled_bytes,
                schedule_pace: args.schedule_pace as usize,
                schedule_pace_bytes: args.schedule_pace_bytes,
                password: None,
                admin_password: args.admin_password_file.is_some(),
                max_per_ip: args
                    .max_per_ip
                    .map_or((max_clients / 2).max(MIN_PER_IP), |n| n as usize),
                ip_exempt: args.ip_exempt.clone(),
                kick_ban: args.kick_ban,
                max_bans: args.max_bans as usize,
                max_schedule_ahead: args.max_schedule_ahead,
                search: search_rules,
                crowd_size: args.crowd_size as usize,
                crowd_interval: args.crowd_interval,
                history: args.history as usize,
                history_keep: args.history_keep,
                history_catchup: args.history_catchup as usize,
                history_bytes: args.max_outbuf / 2,
            },
            history_rate: args.history_rate,
            max_outbuf: args.max_outbuf,
            tcp_keepalive: args.tcp_keepalive.0,
            ip_exempt: args.ip_exempt,
            connect_rate: args.connect_rate.0.map(|per_second| Rate {
                per_second,
                burst: args.connect_burst,
            }),
            sndbuf: args.sndbuf,
            max_lingering: args.max_lingering as usize,
            default_encoding: args.default_encoding,
            timezone: args.timezone,
            timestamps: args.timestamps,
            console: args.console,
            log_file,
            db,
            state_file,
            search,
            password_file: args.password_file,
            admin_password_file: args.admin_password_file,
            transport,
            announce,
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["suda", "serve"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv)
            .expect("parse")
            .command
        {
            crate::cli::Command::Serve(args) => Config::from_args(*args).expect("config"),
            _ => panic!("not serve"),
        }
    }

    fn paths(args: &[&str]) -> (Option<PathBuf>, Option<PathBuf>) {
        let config = config(args);
        (config.db, config.state_file)
    }

    fn some(path: &str) -> Option<PathBuf> {
        Some(PathBuf::from(path))
    }

    #[test]
    fn the_database_goes_beside_the_log_and_the_old_state_file_is_looked_for_there() {
        assert_eq!(
            paths(&[]),
            (some("suda.db"), some("suda-state.json")),
            "working folder"
        );
        assert_eq!(
            paths(&["--log-file", "/var/lib/suda/chat.log"]),
            (
                some("/var/lib/suda/suda.db"),
                some("/var/lib/suda/suda-state.json")
            )
        );
        assert_eq!(
            paths(&["--db", "/x/room.db", "--state-file", "/y/old.json"]),
            (some("/x/room.db"), some("/y/old.json"))
        );
    }

    #[test]
    fn without_a_log_the_database_goes_beside_the_named_state_file() {
        assert_eq!(
            paths(&["--log-file", "none", "--state-file", "/srv/a/state.json"]),
            (some("/srv/a/suda.db"), some("/srv/a/state.json"))
        );
    }

    #[test]
    fn none_keeps_everything_in_memory() {
        assert_eq!(paths(&["--db", "none"]), (None, some("suda-state.json")));
        // What `--state-file none` always meant; scripts keep working.
        assert_eq!(paths(&["--state-file", "none"]), (None, None));
        assert_eq!(
            paths(&["--state-file", "none", "--db", "/x/suda.db"]),
            (some("/x/suda.db"), None)
        );
    }
}
