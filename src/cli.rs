//! The command line: `suda serve ...` and `suda connect ...`.
//!
//! clap turns the doc comments below into `--help`. Every limit is a flag
//! with a default that suits a class on a small VM. Values are checked
//! here, so a bad one (`--rate banana`) stops the program with one line
//! before anything starts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jiff::tz::TimeZone;

use crate::net::charset::Encoding;
use crate::net::ipnet::CidrList;
use crate::room::ratelimit::RateSpec;

/// suda (수다): a chat room for terminals. UTF-8 and CP949 side by side.
#[derive(Debug, Parser)]
#[command(name = "suda", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the chat server.
    Serve(Box<ServeArgs>),
    /// Join a chat server from this terminal.
    Connect(Box<ConnectArgs>),
    /// Print the hash of an admin password, for --admin-password-file: asks
    /// twice without echo at a terminal, or reads one line from a pipe.
    HashPassword,
    /// Print the SHA-256 fingerprint of the server's TLS certificate, for
    /// people to check (or pin with `suda connect --tls --pin`).
    Fingerprint(FingerprintArgs),
    /// List the suda servers that announce themselves on the local network.
    Discover(Box<DiscoverArgs>),
}

/// `suda serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Use 0.0.0.0:9999 to accept people from other machines.
    #[arg(long, default_value = "127.0.0.1:9999", value_name = "HOST:PORT")]
    pub bind: String,

    /// Also listen for telnet here (e.g. 0.0.0.0:23, so `telnet HOST`
    /// works): its connections are offered character mode at once, since
    /// Linux and macOS telnet say nothing first on a port that is not 23.
    #[arg(long, value_name = "HOST:PORT")]
    pub telnet_bind: Option<String>,

    /// Connections the kernel may hold waiting to be accepted (when many
    /// join at once); capped by net.core.somaxconn.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub listen_backlog: u32,

    /// Also take participants over UDP on the same port: one datagram is one line.
    #[arg(long)]
    pub udp: bool,

    /// A UDP participant silent this long is removed, as if it had left.
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub udp_idle: Duration,

    /// Token replies (`Send HELO <token> to join.`) to UDP addresses not yet
    /// verified, for all of them together ("off": no cap). A datagram's
    /// sender may be forged: the cap keeps the server from being used to
    /// flood someone else.
    #[arg(long, default_value = "100/s", value_name = "N/s|off")]
    pub udp_unverified_rate: RateSpec,
    /// How long a new connection may stay silent before it counts as a chat
    /// client (nc, telnet) and gets the banner; a TLS client or a browser
    /// speaks first and is recognised at once. 0s: nothing is recognised,
    /// every connection is plaintext chat with the banner at once (no TLS).
    #[arg(long, default_value = "100ms", value_parser = parse_duration, value_name = "DURATION")]
    pub sniff_wait: Duration,

    /// TLS certificate chain, PEM, server certificate first (Let's Encrypt:
    /// /etc/letsencrypt/live/NAME/fullchain.pem). Re-read on SIGHUP.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The certificate's private key, PEM (Let's Encrypt: privkey.pem).
    /// Re-read on SIGHUP.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Speak TLS with a certificate made at first start and kept in
    /// --tls-dir; its fingerprint is printed at every start.
    #[arg(long)]
    pub tls_self_signed: bool,

    /// Where --tls-self-signed keeps its certificate and key
    /// [default: suda-tls beside the log].
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,

    /// Refuse plaintext: chat clients are told to use TLS, HTTP is
    /// redirected to https://.
    #[arg(long)]
    pub tls_only: bool,

    /// Another site whose pages may open the web client's WebSocket
    /// (`https://class.example`, or `*` for any); repeat for more. By
    /// default only the page this server serves may, so that no other
    /// site can seat its visitors in the room.
    #[arg(long = "web-origin", value_name = "ORIGIN")]
    pub web_origin: Vec<String>,

    /// A TLS handshake not finished this long after the client's hello is
    /// closed, so stalled handshakes cannot pile up.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub tls_handshake_timeout: Duration,

    /// Connections not yet recognised or in their TLS handshake, at most;
    /// past it, the one waiting longest is dropped to make room (a flood
    /// of stalled handshakes costs memory, not the room).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_handshakes: u32,

    /// Serve HTTP on the chat port (file downloads and uploads, the web
    /// client); "off" answers every HTTP request 403 and shares no files.
    #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set, value_name = "on|off")]
    pub web: bool,

    /// The longest HTTP request head (request line and headers); a longer
    /// one gets 431, so a client cannot make the server hold much for it.
    #[arg(long, default_value = "8KiB", value_parser = parse_http_head, value_name = "BYTES")]
    pub http_max_head: usize,

    /// Headers in one HTTP request, at most (past it: 431).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub http_max_headers: u32,

    /// An HTTP request head must arrive whole within this (a client
    /// trickling headers, "slowloris", gets 408), an idle keep-alive
    /// connection is closed after it, and so is an upload or a download
    /// that moves no byte for this long.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub http_timeout: Duration,

    /// HTTP connections at once (downloads, uploads, the web page); past
    /// it a new one gets 503, so HTTP cannot use up descriptors the chat needs.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_http: u32,

    /// Where shared files are kept (by id, never by the name people gave
    /// them) [default: suda-files beside the log].
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,

    /// How long a shared file can be downloaded; then it is deleted.
    #[arg(long, default_value = "24h", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub file_ttl: Duration,

    /// The largest file /upload takes (past it: HTTP 413 and a line to the uploader).
    #[arg(long, default_value = "25MiB", value_parser = parse_size, value_name = "BYTES")]
    pub max_file_size: usize,

    /// Bytes of shared files on disk in all; an upload that would pass it
    /// is refused (HTTP 507), so files cannot fill the server's disk.
    #[arg(long, default_value = "1GiB", value_parser = parse_size, value_name = "BYTES")]
    pub files_quota: usize,

    /// Uploads under way at once (each holds a descriptor and up to 256 KiB
    /// of memory); one more gets 503 and may try again.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_uploads: u32,

    /// The address people reach the server by, for the links in /upload
    /// and [File from ...] lines (e.g. http://203.0.113.7:9999 for a VM
    /// behind NAT) [default: the address each client connected to, http://
    /// or https:// as it came].
    #[arg(long, value_parser = parse_public_url, value_name = "URL")]
    pub public_url: Option<String>,

    /// Room name, shown in the welcome line.
    #[arg(long, default_value = "suda")]
    pub room: String,

    /// Announce the server on the local network (mDNS / DNS-SD, as
    /// _suda._tcp), so that `suda discover` and `suda connect` without an
    /// address find it. Only the interfaces --bind listens on are used: a
    /// server on 127.0.0.1 announces nothing.
    #[arg(long)]
    pub announce: bool,

    /// The name the server is announced under [default: the room name].
    #[arg(long, requires = "announce", value_parser = parse_announce_name, value_name = "NAME")]
    pub announce_name: Option<String>,

    /// The online count is re-announced at most this often: each update is
    /// a multicast packet to every machine on the network.
    #[arg(long, default_value = "3s", value_parser = parse_announce_interval, value_name = "DURATION")]
    pub announce_interval: Duration,

    /// Participants at most; one more is told the room is full.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_clients: u32,

    /// Connections still choosing a nickname, at most; past it, the one
    /// waiting longest from the busiest address is dropped to make room
    /// (never someone alone from their address within half of
    /// --login-timeout: they are typing) [default: --max-clients, at least 64].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_joining: Option<u32>,

    /// Time to choose a nickname before the connection is closed.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub login_timeout: Duration,

    /// Close participants who sent no line for this long ("off" never
    /// does): longer than a double lecture, so a silent class keeps its
    /// seats, while a forgotten or trickling socket gives its seat back.
    #[arg(long, default_value = "2h", value_parser = parse_optional_duration, value_name = "DURATION|off")]
    pub idle_timeout: OptionalDuration,

    /// Ask for a room password (the file's first line) before the nickname.
    /// Those who gave it do not count against --max-per-ip.
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,

    /// Admins are made by `/admin <password>`, checked against the hash in
    /// this file (made by `suda hash-password`), not by joining first.
    #[arg(long, value_name = "PATH")]
    pub admin_password_file: Option<PathBuf>,

    /// Connections at once from one address (IPv6: one /64), so a stranger
    /// cannot fill the room [default: half of --max-clients, at least 2].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_per_ip: Option<u32>,

    /// Addresses (CIDR blocks, comma-separated, e.g. 10.0.0.0/8,2001:db8::/32,
    /// or "none") that skip the per-address limits, the connect rate and the
    /// password throttles, and whose address a kick does not ban (only the
    /// nickname). Loopback is exempt by default because everything on this
    /// machine shares it.
    #[arg(long, default_value = "127.0.0.0/8,::1", value_parser = CidrList::parse, value_name = "CIDR,...|none")]
    pub ip_exempt: CidrList,

    /// How long /kick keeps the address and nickname out, unless the
    /// admin gives a duration ("/kick Mallory 1h"); 0s bans no one.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub kick_ban: Duration,

    /// Bans kept at most (in memory); past it, the one ending soonest goes.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_bans: u32,

    /// Probe a connection silent this long at the TCP level, so a client whose
    /// network vanished without a word is noticed and its seat freed ("off": never).
    #[arg(long, default_value = "60s", value_parser = parse_optional_duration, value_name = "DURATION|off")]
    pub tcp_keepalive: OptionalDuration,

    /// New connections per second from one address (IPv6: one /64), after
    /// --connect-burst; the rest are told to try again and closed at once,
    /// so a script reconnecting in a loop costs the server almost nothing ("off": no limit).
    #[arg(long, default_value = "10/s", value_name = "N/s|off")]
    pub connect_rate: RateSpec,

    /// Connections one address may open at once before --connect-rate
    /// applies: a class behind one school router arriving together.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub connect_burst: u32,

    /// Kernel send buffer per client (SO_SNDBUF; Linux doubles it). Enough
    /// for a busy room at internet round trips; it bounds the kernel memory
    /// a client that stops reading can pin (the rest waits in our own queue,
    /// up to --max-outbuf), where the kernel would otherwise grow it to
    /// tcp_wmem's maximum (4 MiB) for each socket.
    #[arg(long, default_value = "64KiB", value_parser = parse_sndbuf, value_name = "BYTES")]
    pub sndbuf: usize,

    /// Connections that said goodbye (/exit, kick, timeout) and whose client
    /// has not hung up yet, kept at most; past it the oldest is closed at
    /// once, so clients that never hang up cannot use up descriptors.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_lingering: u32,

    /// Longest line in bytes; longer ones are refused with a message.
    #[arg(long, default_value = "4096", value_parser = parse_line_size, value_name = "BYTES")]
    pub max_line: usize,

    /// Lines per participant ("5/s", "300/m"), or "off".
    #[arg(long, default_value = "5/s", value_name = "N/s|off")]
    pub rate: RateSpec,

    /// Lines a participant may send at once before --rate applies.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: u32,

    /// Output queued for one client before it is disconnected as too slow.
    #[arg(long, default_value = "1MiB", value_parser = parse_buffer_size, value_name = "BYTES")]
    pub max_outbuf: usize,

    /// Past this many participants, joins and leaves are announced together,
    /// once per --crowd-interval, instead of one line each.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub crowd_size: u32,

    /// How often a crowded room hears who joined and left.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub crowd_interval: Duration,

    /// Start every line sent with [YYYY-MM-DD HH:MM].
    #[arg(long)]
    pub timestamps: bool,

    /// The room's time zone (IANA name such as Asia/Seoul, or "local").
    #[arg(long, default_value = "local", value_parser = parse_zone, value_name = "ZONE")]
    pub timezone: TimeZone,

    /// Encoding of a new connection until it shows it speaks the other.
    #[arg(long, default_value = "utf-8", value_parser = parse_encoding, value_name = "utf-8|cp949")]
    pub default_encoding: Encoding,

    /// Join the room from this terminal as NICK, with admin rights (1:1 chat).
    #[arg(long, value_name = "NICK")]
    pub console: Option<String>,

    /// Room log ("none" for no log).
    #[arg(long, default_value = "suda-chat.log", value_name = "PATH|none")]
    pub log_file: PathBuf,

    /// The database (SQLite) that keeps the pending scheduled messages and
    /// the room's history across restarts and crashes ("none" to keep them
    /// in memory only); --history-db is the same flag [default: suda.db
    /// beside the log].
    #[arg(long, visible_alias = "history-db", value_name = "PATH|none")]
    pub db: Option<PathBuf>,

    /// Earlier messages a newcomer is shown on joining (0 for none).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=500))]
    pub history: u32,

    /// How long the room's messages are kept, and how long after leaving a
    /// nickname is caught up with what it missed.
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    pub history_keep: Duration,

    /// Room messages stored in the database a second at most (0: no cap).
    /// Past it a message is still replayed and found from memory, but a
    /// restart will not have it: writing and indexing cost the disk
    /// thread CPU per message, and at 20 000 a second (a room of 100
    /// people each sending several lines a second) that stays small
    /// beside the fanout it would otherwise slow.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub history_rate: u32,

    /// Messages a returning nickname is caught up with at most (the ring
    /// in memory holds this many, at least 500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub history_catchup: u32,

    /// The state file of earlier versions: imported into --db at start,
    /// then renamed to PATH.imported. "none" skips it, and without --db
    /// keeps everything in memory, as it always did [default:
    /// suda-state.json beside the log].
    #[arg(long, value_name = "PATH|none")]
    pub state_file: Option<PathBuf>,

    /// Pending scheduled messages per participant.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub max_scheduled: u32,

    /// Pending scheduled messages in the whole room.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
    pub max_scheduled_total: u32,

    /// Pending scheduled messages written from one address (IPv6: one
    /// /64), so reconnecting under new names cannot fill the room's quota.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
    pub max_scheduled_per_ip: u32,

    /// Bytes of pending scheduled text in the whole room (memory and state
    /// file stay small whatever --max-line is).
    #[arg(long, default_value = "4MiB", value_parser = parse_size, value_name = "BYTES")]
    pub max_scheduled_bytes: usize,

    /// Scheduled messages sent per 100 ms at most: many due at once go out
    /// over a few seconds instead of swamping readers.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub schedule_pace: u32,

    /// Bytes of scheduled text sent per 100 ms at most (one message always goes).
    #[arg(long, default_value = "32KiB", value_parser = parse_size, value_name = "BYTES")]
    pub schedule_pace_bytes: usize,

    /// How far ahead a message may be scheduled.
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    pub max_schedule_ahead: Duration,

    /// Base URL of an OpenAI-compatible API for /search; the server POSTs to
    /// URL/chat/completions (e.g. https://api.openai.com/v1,
    /// http://127.0.0.1:8080/v1 for llama.cpp, http://127.0.0.1:11434/v1 for
    /// Ollama). Without it /search is off. The key comes from the environment
    /// variable OPENAI_API_KEY or --search-key-file, never from the command line.
    #[arg(long, value_name = "URL")]
    pub search_url: Option<String>,

    /// Model name sent with each /search.
    #[arg(long, default_value = "gpt-4o-mini", value_name = "NAME")]
    pub search_model: String,

    /// How long a /search may take before it fails.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub search_timeout: Duration,

    /// File holding the API key (instead of OPENAI_API_KEY).
    #[arg(long, value_name = "PATH")]
    pub search_key_file: Option<PathBuf>,

    /// Characters of an answer shown at most; longer ones end with "(answer cut)".
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub search_max_chars: u32,

    /// Searches per participant ("1/10s" is one every ten seconds), or "off".
    #[arg(long, default_value = "1/10s", value_name = "N/DURATION|off")]
    pub search_rate: RateSpec,

    /// Searches waiting for the model at once, for the whole room.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub search_max_in_flight: u32,

    /// Threads making requests to the model.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub search_workers: u32,

    /// How long an answer is reused for the same question ("off" to ask every time).
    #[arg(long, default_value = "10m", value_parser = parse_optional_duration, value_name = "DURATION|off")]
    pub search_cache_ttl: OptionalDuration,

    /// System prompt sent with every question.
    #[arg(long, default_value = DEFAULT_SEARCH_SYSTEM, value_name = "TEXT")]
    pub search_system: String,

    /// Diagnostics on standard error: error, warn, info, debug
    /// [default: info, or warn with --console].
    #[arg(long, value_name = "LEVEL")]
    pub verbosity: Option<log::LevelFilter>,
}

/// `suda connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The server, as HOST:PORT (port 9999 if left out). Without it, suda
    /// looks for servers on the local network for 3 s (as `suda discover`)
    /// and joins the one it finds, or asks which.
    #[arg(value_parser = parse_server, value_name = "HOST:PORT")]
    pub server: Option<String>,

    /// Answer the nickname prompt with NICK (UTF-8, or CP949 as typed on
    /// a CP949 console).
    #[arg(
        long,
        value_parser = clap::builder::TypedValueParser::try_map(
            clap::builder::OsStringValueParser::new(),
            parse_nick
        ),
        value_name = "NICK"
    )]
    pub nick: Option<String>,

    /// Answer the room password prompt with the first line of this file
    /// (at a terminal without it, the client asks, without echo).
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,

    /// If --nick is taken, try NICK_2, NICK_3, ... this many times before
    /// asking you (0: ask at once).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub nick_retries: u32,

    /// What your terminal speaks: cp949 for a legacy Korean console (what
    /// you type and see is CP949, and the server is asked for CP949), or
    /// utf-8 [default: from the locale, LC_ALL, LC_CTYPE or LANG: cp949 if
    /// it names CP949 or EUC-KR (ko_KR.CP949, ko_KR.EUC-KR), else utf-8].
    #[arg(long, value_parser = parse_encoding, value_name = "utf-8|cp949")]
    pub encoding: Option<Encoding>,

    /// Folder for the transcript, <nick>_chat_log.txt.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub log_dir: PathBuf,

    /// Keep no transcript.
    #[arg(long)]
    pub no_log: bool,

    /// Largest transcript file: when full it becomes <nick>_chat_log.txt.1
    /// (replacing the older one) and a new file starts, so at most twice
    /// this is kept.
    #[arg(long, default_value = "64MiB", value_parser = parse_log_size, value_name = "BYTES")]
    pub log_max: usize,

    /// Talk to the server over UDP (one datagram per line) instead of TCP.
    #[arg(long, conflicts_with = "tls")]
    pub udp: bool,

    /// Encrypt the connection (the server needs --tls-cert or
    /// --tls-self-signed). The certificate must be vouched for by the
    /// system's roots or --ca, match --pin, or else is trusted on first
    /// use: remembered in known_servers, and a change later stops the client.
    #[arg(long)]
    pub tls: bool,

    /// With --tls: also trust the certificates in this PEM file (a private CA).
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<PathBuf>,

    /// With --tls: accept only the certificate with this fingerprint, as
    /// `suda fingerprint` prints it on the server.
    #[arg(long, value_name = "SHA256:HEX", requires = "tls",
          value_parser = crate::net::tls::fingerprint::Fingerprint::parse)]
    pub pin: Option<crate::net::tls::fingerprint::Fingerprint>,

    /// With --tls: where first-use fingerprints are remembered
    /// [default: $XDG_DATA_HOME/suda/known_servers, or
    /// ~/.local/share/suda/known_servers].
    #[arg(long, value_name = "FILE")]
    pub known_servers: Option<PathBuf>,

    /// With --udp: send a keep-alive after this much silence, so the
    /// server (which drops silent UDP clients after --udp-idle, 2m by
    /// default) keeps us.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub keepalive: Duration,

    /// Give up connecting (or, over UDP, hearing from the server) after this long.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// After you leave (end of input, Ctrl-D), wait this long at most for
    /// the server's last lines.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub close_wait: Duration,

    /// Where `/get` saves files [default: ~/Downloads if it exists, else
    /// the current folder]. A file is never saved over another: a name in
    /// use gets ` (1)`, ` (2)`, ... before its extension.
    #[arg(long, value_name = "DIR")]
    pub download_dir: Option<PathBuf>,

    /// A file transfer (`/send`, `/get`) that moves no byte for this long
    /// is given up, so a server that stops answering does not hold it forever.
    #[arg(long, default_value = "60s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub transfer_timeout: Duration,

    /// Longest line taken from the server or from standard input; the
    /// server's own lines are at most its --max-line (1MiB at most) plus a
    /// nickname.
    #[arg(long, default_value = "2MiB", value_parser = parse_client_line_size, value_name = "BYTES")]
    pub max_line: usize,
}

impl ConnectArgs {
    /// Whom `--tls` trusts.
    pub fn trust(&self) -> crate::client::tls::Trust {
        crate::client::tls::Trust {
            ca: self.ca.clone(),
            pin: self.pin,
            known_servers: self.known_servers.clone(),
        }
    }
}

/// `suda fingerprint`: the same certificate flags as `suda serve`.
#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// A PEM certificate (as given to `suda serve --tls-cert`).
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// The folder of `suda serve --tls-self-signed` [default: suda-tls
    /// beside the log].
    #[arg(long, value_name = "DIR", conflicts_with = "tls_cert")]
    pub tls_dir: Option<PathBuf>,

    /// The server's --log-file, to find the default --tls-dir beside it.
    #[arg(long, default_value = "suda-chat.log", value_name = "PATH|none")]
    pub log_file: PathBuf,
}

/// `suda discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// How long to listen for servers [default: 3s; with --watch, until
    /// interrupted].
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// Print a JSON array (with --watch, one JSON object per line).
    #[arg(long)]
    pub json: bool,

    /// Keep listening, printing servers as they appear (+), change (=) and
    /// go away (-).
    #[arg(long)]
    pub watch: bool,

    /// Servers listed at most; more are ignored (anyone on the network can
    /// answer, as often as they like).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_servers: u32,
}

/// What the model is told about its job, unless `--search-system` says otherwise.
pub const DEFAULT_SEARCH_SYSTEM: &str = "You answer questions asked in a group chat. \
Answer briefly (at most a few sentences), in plain text without Markdown, \
in the language of the question.";

/// The longest duration any flag takes: past this, "never" is meant.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Prints a command-line error the way both binaries do: help and version
/// as clap writes them, a usage error as one line (`PROGRAM: ...`).
/// Returns the exit code: 0 for help and version, 2 otherwise.
pub fn report_usage_error(program: &str, error: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            std::process::ExitCode::from(if error.use_stderr() { 2 } else { 0 })
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("{program}: {first} (see --help)");
            std::process::ExitCode::from(2)
        }
    }
}

/// A humantime duration: `90s`, `10m`, `1h30m`; at most ten years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("expected a duration such as 90s, 10m or 1h30m ({e})"))?;
    if duration > MAX_DURATION {
        return Err("must be at most ten years (use \"off\" where a flag allows it)".into());
    }
    Ok(duration)
}

/// A duration that may be `off` (`None`). A newtype, because clap reads
/// an `Option` field as "the flag may be absent".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalDuration(pub Option<Duration>);

/// A duration, or `off`.
pub fn parse_optional_duration(text: &str) -> Result<OptionalDuration, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(OptionalDuration(None));
    }
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("use \"off\" rather than zero".into());
    }
    Ok(OptionalDuration(Some(duration)))
}

/// A byte count: `4096`, `64KiB`, `1MiB` (K, KB and KiB all mean 1024).
///
/// ```
/// use suda::cli::parse_size;
/// assert_eq!(parse_size("4096"), Ok(4096));
/// assert_eq!(parse_size("64KiB"), Ok(65536));
/// assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let bad = || format!("expected a size in bytes such as 4096, 64KiB or 1MiB, not {text:?}");
    let count: usize = digits.parse().map_err(|_| bad())?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    count.checked_mul(scale).ok_or_else(bad)
}

/// `--max-line`: long enough for a nickname and a command.
fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("use http://HOST[:PORT] or https://HOST[:PORT]")?;
    if rest.is_empty()
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]/_~".contains(&b))
    {
        return Err("use http://HOST[:PORT] or https://HOST[:PORT]".into());
    }
    Ok(url.to_string())
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err("use on or off".into()),
    }
}

fn parse_http_head(text: &str) -> Result<usize, String> {
    let size = parse_size(text)?;
    if !(1024..=1024 * 1024).contains(&size) {
        return Err("use 1KiB to 1MiB".into());
    }
    Ok(size)
}

fn parse_line_size(text: &str) -> Result<usize, String> {
    match parse_size(text)? {
        size if size < 32 => Err("must be at least 32 bytes".into()),
        size if size > 1 << 20 => Err("must be at most 1MiB".into()),
        size => Ok(size),
    }
}

/// `--max-outbuf`: room for a few lines at least.
fn parse_buffer_size(text: &str) -> Result<usize, String> {
    match parse_size(text)? {
        size if size < 1024 => Err("must be at least 1KiB".into()),
        size => Ok(size),
    }
}

/// `--sndbuf`: a few lines at least, and no more than the kernel would
/// take (it caps the value at net.core.wmem_max anyway).
fn parse_sndbuf(text: &str) -> Result<usize, String> {
    match parse_size(text)? {
        size if size < 4096 => Err("must be at least 4KiB".into()),
        size if size > 64 << 20 => Err("must be at most 64MiB".into()),
        size => Ok(size),
    }
}

/// A duration that is not zero (a zero keep-alive would spin).
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        duration if duration.is_zero() => Err("must be more than zero".into()),
        duration => Ok(duration),
    }
}

/// The client's `--max-line`: at least a few server lines' worth.
fn parse_client_line_size(text: &str) -> Result<usize, String> {
    match parse_size(text)? {
        size if size < 1024 => Err("must be at least 1KiB".into()),
        size => Ok(size),
    }
}

/// `suda connect HOST:PORT`: a port that cannot be is a typo on the
/// command line (exit 2), not a failure to connect; only the host is
/// left to the resolver.
fn parse_server(text: &str) -> Result<String, String> {
    match crate::client::transport::split_host_port(text.trim())? {
        (_, 0) => Err("port 0 cannot be connected to; use a port from 1 to 65535".into()),
        _ => Ok(text.to_string()),
    }
}

/// `--announce-name`: one DNS label (63 bytes), printable.
fn parse_announce_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() || name.len() > crate::net::announce::MAX_NAME_BYTES {
        return Err(format!(
            "use 1 to {} bytes",
            crate::net::announce::MAX_NAME_BYTES
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("control characters cannot be announced".into());
    }
    Ok(name.to_string())
}

/// `--announce-interval`: a second at least, or a busy room would flood
/// the network with updates.
fn parse_announce_interval(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d < Duration::from_secs(1) => Err("must be at least 1s".into()),
        d => Ok(d),
    }
}

/// `--log-max`: a few lines' worth at least, or every line would rotate.
fn parse_log_size(text: &str) -> Result<usize, String> {
    match parse_size(text)? {
        size if size < 1024 => Err("must be at least 1KiB".into()),
        size => Ok(size),
    }
}

/// `--nick`: checked here, so a typo fails before connecting. A CP949
/// console hands over its own bytes, which are never valid UTF-8 when
/// they hold Hangul, so those are read as CP949.
fn parse_nick(text: std::ffi::OsString) -> Result<String, String> {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = text.as_bytes();
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => encoding_rs::EUC_KR
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or("neither UTF-8 nor CP949 text")?,
    };
    if crate::text::valid_nick(&text) {
        Ok(text.into_owned())
    } else {
        Err("use 1-16 letters, digits, _ or - (and not \"Server\")".into())
    }
}

fn parse_zone(text: &str) -> Result<TimeZone, String> {
    if text.trim().eq_ignore_ascii_case("local") {
        // Falls back to UTC (with a warning) where the system zone is unknown.
        return Ok(TimeZone::system());
    }
    crate::clock::parse_zone(text.trim())
}

fn parse_encoding(text: &str) -> Result<Encoding, String> {
    Encoding::parse(text).ok_or_else(|| "expected utf-8 or cp949".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt as _;

    fn serve(args: &[&str]) -> Result<ServeArgs, String> {
        let mut argv = vec!["suda", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Serve(args),
            }) => Ok(*args),
            Ok(_) => Err("not serve".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn connect(args: &[&str]) -> Result<ConnectArgs, String> {
        let mut argv = vec!["suda", "connect"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Connect(args),
            }) => Ok(*args),
            Ok(_) => Err("not connect".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn connect_defaults() {
        let args = connect(&[]).expect("defaults parse");
        assert_eq!(args.server, None, "no address: look on the local network");
        assert_eq!(args.encoding, None, "the locale decides");
        assert_eq!(args.keepalive, Duration::from_secs(30));
        assert_eq!(args.log_dir, PathBuf::from("."));
        assert_eq!(args.log_max, 64 << 20);
        assert!(!args.udp && !args.no_log && args.nick.is_none());
        assert!(!args.tls && args.pin.is_none() && args.ca.is_none());
    }

    #[test]
    fn tls_flags_go_together() {
        let hex = "0f".repeat(32);
        let pin = format!("SHA256:{hex}");
        let args = connect(&["--tls", "--pin", &pin, "h:1"]).expect("parse");
        assert_eq!(args.pin.map(|p| p.to_string()), Some(pin.clone()));
        for bad in [
            vec!["--tls", "--udp"],
            vec!["--pin", &pin],
            vec!["--ca", "x.pem"],
            vec!["--tls", "--pin", "SHA256:12"],
        ] {
            let err = connect(&bad).expect_err("refused");
            assert!(
                err.contains("--udp") || err.contains("--tls") || err.contains("--pin"),
                "{err}"
            );
        }
        let err = serve(&["--tls-cert", "c.pem"]).expect_err("needs a key");
        assert!(err.contains("--tls-key"), "{err}");
        let err = serve(&[
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--tls-self-signed",
        ])
        .expect_err("one or the other");
        assert!(err.contains("--tls-self-signed"), "{err}");
        let args = serve(&[]).expect("defaults");
        assert_eq!(args.sniff_wait, Duration::from_millis(100));
        assert_eq!(args.tls_handshake_timeout, Duration::from_secs(10));
    }

    #[test]
    fn connect_refuses_bad_values_with_the_flag_named() {
        for (flag, value) in [
            ("--nick", "two words"),
            ("--nick", "server"),
            ("--encoding", "latin1"),
            ("--keepalive", "0s"),
            ("--max-line", "10"),
            ("--log-max", "100"),
            ("--log-max", "lots"),
        ] {
            let err = connect(&[flag, value]).expect_err(flag);
            assert!(err.contains(flag), "{err}");
        }
        for server in ["127.0.0.1:99999", "127.0.0.1:http", "host:0", "[::1"] {
            let err = connect(&[server]).expect_err(server);
            assert!(err.contains("HOST:PORT"), "{err}");
        }
        let args =
            connect(&["localhost:1234", "--nick", "민수", "--encoding", "cp949"]).expect("parse");
        assert_eq!(args.nick.as_deref(), Some("민수"));
        assert_eq!(args.encoding, Some(Encoding::Cp949));
        // A CP949 console's --nick.
        let cli = Cli::try_parse_from([
            "suda".as_ref(),
            "connect".as_ref(),
            "--nick".as_ref(),
            std::ffi::OsStr::from_bytes(b"\xc3\xb6\xbc\xf6"),
        ])
        .map_err(|e| e.to_string());
        match cli.map(|cli| cli.command) {
            Ok(Command::Connect(args)) => assert_eq!(args.nick.as_deref(), Some("철수")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_contract() {
        let args = serve(&[]).expect("defaults parse");
        assert_eq!(args.bind, "127.0.0.1:9999");
        assert_eq!(args.max_clients, 10);
        assert_eq!(args.max_line, 4096);
        assert_eq!(args.max_outbuf, 1 << 20);
        assert_eq!(args.rate, RateSpec(Some(5.0)));
        assert_eq!(args.burst, 20);
        assert_eq!(args.login_timeout, Duration::from_secs(60));
        assert_eq!(
            args.idle_timeout,
            OptionalDuration(Some(Duration::from_secs(7200)))
        );
        assert_eq!(args.kick_ban, Duration::from_secs(600));
        assert_eq!(args.max_per_ip, None);
        assert_eq!(args.ip_exempt, CidrList::loopback());
        assert!(args.password_file.is_none() && args.admin_password_file.is_none());
        assert_eq!(args.default_encoding, Encoding::Utf8);
        assert_eq!(args.ip_exempt.to_string(), "127.0.0.0/8,::1/128");
        assert_eq!(args.connect_rate, RateSpec(Some(10.0)));
        assert_eq!(args.connect_burst, 20);
        assert_eq!(args.sndbuf, 64 * 1024);
        assert_eq!(args.max_lingering, 64);
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        for (flag, value) in [
            ("--rate", "banana"),
            ("--max-line", "10"),
            ("--max-outbuf", "1x"),
            ("--idle-timeout", "soon"),
            ("--timezone", "Mars/Base"),
            ("--max-clients", "0"),
            ("--default-encoding", "latin1"),
            ("--login-timeout", "500000000000y"),
            ("--ip-exempt", "10.0.0.0/40"),
            ("--connect-rate", "fast"),
            ("--sndbuf", "100"),
            ("--max-lingering", "0"),
            ("--max-per-ip", "0"),
            ("--kick-ban", "forever"),
        ] {
            let err = serve(&[flag, value]).expect_err(flag);
            assert!(err.contains(flag), "{err}");
        }
    }

    #[test]
    fn announce_flags() {
        let args = serve(&[]).expect("defaults parse");
        assert!(!args.announce && args.announce_name.is_none());
        assert_eq!(args.announce_interval, Duration::from_secs(3));
        let args = serve(&["--announce", "--announce-name", "Room 204"]).expect("parse");
        assert_eq!(args.announce_name.as_deref(), Some("Room 204"));
        let err = serve(&["--announce-name", "x"]).expect_err("needs --announce");
        assert!(err.contains("--announce"), "{err}");
        for (flag, value) in [
            ("--announce-name", ""),
            ("--announce-name", &"x".repeat(64)),
            ("--announce-name", "bell\x07"),
            ("--announce-interval", "500ms"),
        ] {
            let err = serve(&["--announce", flag, value]).expect_err(flag);
            assert!(err.contains(flag), "{err}");
        }
    }

    #[test]
    fn discover_defaults() {
        let cli = Cli::try_parse_from(["suda", "discover"]).expect("parse");
        let Command::Discover(args) = cli.command else {
            panic!("not discover");
        };
        assert_eq!(args.timeout, None, "3s, or forever with --watch");
        assert!(!args.json && !args.watch);
        assert_eq!(args.max_servers, 100);
        let cli = Cli::try_parse_from(["suda", "discover", "--timeout", "0s"]);
        assert!(cli.is_err());
    }

    #[test]
    fn sizes_and_durations() {
        let args = serve(&[
            "--max-line",
            "100",
            "--max-outbuf",
            "64KiB",
            "--idle-timeout",
            "5m",
        ])
        .expect("parse");
        assert_eq!(args.max_line, 100);
        assert_eq!(args.max_outbuf, 65536);
        assert_eq!(
            args.idle_timeout,
            OptionalDuration(Some(Duration::from_secs(300)))
        );
    }
}
