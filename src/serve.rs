//! `suda serve`: everything that must succeed before anyone can join, then
//! the reactor.
//!
//! Startup problems (port in use, a database that cannot be opened, an
//! invalid state file to import, unwritable log)
//! are reported here in one line and end the program with a non-zero code:
//! an operator should never find out from a confused user.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{anyhow, Context as _};
use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

use crate::clock::{Clock, Now};
use crate::config::Config;
use crate::net::announce::{Advert, Announcer};
use crate::net::reactor::{Parts, Reactor, TransportSetup, UdpSetup};
use crate::net::{console, signals};
use crate::room::schedules::{SavedState, Schedules};
use crate::room::Room;
use crate::store::db::Store;
use crate::store::disk::Disk;
use crate::store::legacy;

/// File descriptors kept for everything that is not a client: listener,
/// poller, log, database, console, signals.
const RESERVED_FDS: u64 = 32;

/// Runs the server until it is told to stop.
///
/// # Errors
///
/// Anything that prevents the server from starting, in words for the operator.
pub fn serve(config: Config) -> anyhow::Result<()> {
    raise_fd_limit(config.room.max_clients);
    let (store, state) = match &config.db {
        Some(path) => {
            let mut store = Store::open(path)?;
            if let Some(json) = &config.state_file {
                if let Some(added) = legacy::import(&mut store, json)? {
                    log::info!(
                        "{} imported into {} ({added} scheduled messages); it is now {}",
                        json.display(),
                        path.display(),
                        legacy::imported_path(json).display()
                    );
                }
            }
            let state = store.pending()?;
            (Some(store), state)
        }
        None => (None, SavedState::default()),
    };
    let ring = config
        .room
        .history
        .max(config.room.history_catchup)
        .max(crate::history::MAX_SHOWN);
    let (history, last_id) = match &store {
        Some(store) => {
            let fail =
                |e: rusqlite::Error| anyhow::anyhow!("database: cannot read the history: {e}");
            (
                store.recent_history(ring).map_err(fail)?,
                store.last_history_id().map_err(fail)?,
            )
        }
        None => (Vec::new(), 0),
    };
    let listener = bind(&config.bind, config.listen_backlog)?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let telnet_listener = match &config.telnet_bind {
        Some(spec) => Some(bind(spec, config.listen_backlog)?),
        None => None,
    };
    let telnet_addr = match &telnet_listener {
        Some(listener) => Some(
            listener
                .local_addr()
                .context("cannot read the telnet listening address")?,
        ),
        None => None,
    };
    let udp = match config.udp_idle {
        Some(idle) => {
            // The same address and port as TCP, so one HOST:PORT serves both.
            let socket = mio::net::UdpSocket::bind(addr)
                .with_context(|| format!("cannot listen for UDP on {addr}"))?;
            Some(UdpSetup {
                socket,
                idle,
                unverified_rate: config.udp_unverified_rate,
            })
        }
        None => None,
    };
    let files = match &config.files {
        Some(cfg) => {
            let entries = match &store {
                Some(store) => store.files()?,
                None => Vec::new(),
            };
            let index = crate::files::index::Index::restore(entries);
            prepare_files_dir(&cfg.dir, &index)?;
            if !index.is_empty() {
                log::info!("{} shared files restored", index.len());
            }
            Some((cfg.clone(), index))
        }
        None => None,
    };
    let mut disk = Disk::start(config.log_file.as_deref(), store, config.room.history_keep)?;
    disk.limit_history_rate(config.history_rate);
    let pending = state.messages.len();
    let mut rules = config.room.clone();
    if let Some(path) = &config.password_file {
        rules.password = Some(crate::passwords::read_room_password(path)?);
        log::info!("the room asks for a password");
    }
    let admin_hash = match &config.admin_password_file {
        Some(path) => {
            let hash = crate::passwords::read_admin_hash(path)?;
            log::info!("admins are made by /admin with the password");
            Some(hash)
        }
        None => None,
    };
    let mut room = Room::new(
        rules,
        Clock::new(config.timezone.clone(), config.timestamps),
        Schedules::restore(state),
        Now::read(),
    );
    if !history.is_empty() {
        log::info!("history: {} recent messages loaded", history.len());
    }
    room.restore_history(history, last_id, Now::read());
    // With PEM files SIGHUP re-reads them (net::tls); otherwise there is
    // nothing to reload and it stops the server like SIGTERM.
    let reloads = matches!(
        config.transport.tls,
        Some(crate::net::tls::CertSource::Files { .. })
    );
    let signals = signals::install(!reloads).context("cannot install signal handlers")?;
    let console = match &config.console {
        Some(nick) => {
            let (threads, stream) = console::start().context("cannot start the console")?;
            Some((threads, stream, nick.clone()))
        }
        None => None,
    };
    let search = match &config.search {
        Some(setup) => {
            let mut endpoint = setup.endpoint.clone();
            if let Some(path) = &setup.key_file {
                let key = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --search-key-file {}", path.display()))?;
                endpoint.key = Some(key.trim().to_string()).filter(|k| !k.is_empty());
            }
            if endpoint.key.is_some()
                && endpoint.url.starts_with("http://")
                && !is_loopback_url(&endpoint.url)
            {
                log::warn!(
                    "/search sends the API key unencrypted to {}: use https://",
                    endpoint.url
                );
            }
            log::info!(
                "/search asks {} at {} (key: {})",
                endpoint.model,
                endpoint.url,
                if endpoint.key.is_some() {
                    "set"
                } else {
                    "none"
                }
            );
            Some((endpoint, setup.workers))
        }
        None => None,
    };
    let tls = match &config.transport.tls {
        Some(source) => Some(crate::net::tls::setup(source)?),
        None => None,
    };
    let transport = TransportSetup {
        tls: tls.as_ref().map(|t| t.config.clone()),
        tls_only: config.transport.tls_only,
        sniff_wait: config.transport.sniff_wait,
        handshake_timeout: config.transport.handshake_timeout,
        max_arrivals: config.transport.max_handshakes,
        web: crate::net::web::WebSetup {
            origins: config.transport.web_origins.clone(),
            limits: crate::net::web::ws::WsLimits {
                max_line: config.room.max_line,
                max_outbuf: config.max_outbuf,
            },
        },
        http: config.transport.http.clone(),
    };
    let announcer = match Advert::from_config(&config) {
        Some(advert) => Announcer::start(advert, addr)?,
        None => None,
    };
    let reactor = Reactor::new(Parts {
        listener,
        telnet_listener,
        signals,
        console,
        room,
        disk,
        max_line: config.room.max_line,
        max_outbuf: config.max_outbuf,
        default_encoding: config.default_encoding,
        search,
        udp,
        tcp_keepalive: config.tcp_keepalive,
        limits: crate::net::reactor::NetLimits {
            ip_exempt: config.ip_exempt.clone(),
            connect_rate: config.connect_rate,
            sndbuf: config.sndbuf,
            max_lingering: config.max_lingering,
        },
        admin_hash,
        transport,
        announcer,
        files,
    })?;
    // Before the listening line, so whoever waits for that line has this too.
    match pending {
        0 => {}
        1 => log::info!("1 scheduled message restored"),
        n => log::info!("{n} scheduled messages restored"),
    }
    if let Some(tls) = &tls {
        // Always printed, so people can be told what to expect (or --pin).
        eprintln!("suda: TLS certificate {}", tls.fingerprint);
        if config.transport.tls_only {
            log::info!("plaintext chat is refused (--tls-only)");
        }
    }
    // Always printed (tests and scripts wait for it), whatever the log level.
    if let Some(telnet) = telnet_addr {
        eprintln!("suda: telnet listening on {telnet}");
    }
    eprintln!("suda: listening on {addr}");
    if config.udp_idle.is_some() {
        log::info!("UDP participants welcome on {addr} too");
    }
    reactor.run()
}

/// Whether a URL names this machine (where plain HTTP is fine).
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    host == "localhost" || host.starts_with("127.") || rest.starts_with("[::1]")
}

/// Binds the listening socket, with a message an operator can act on.
fn bind(spec: &str, backlog: u32) -> anyhow::Result<TcpListener> {
    let addrs: Vec<_> = spec
        .to_socket_addrs()
        .with_context(|| format!("cannot listen on {spec}: not a HOST:PORT address"))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match listen(*addr, backlog) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    let Some(e) = last else {
        return Err(anyhow!("cannot listen on {spec}: the name has no address"));
    };
    let why = match e.kind() {
        io::ErrorKind::AddrInUse => {
            "the port is already in use (is another server running there?)".to_string()
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_string()
        }
        io::ErrorKind::AddrNotAvailable => {
            "that address does not belong to this machine".to_string()
        }
        _ => e.to_string(),
    };
    Err(anyhow!("cannot listen on {spec}: {why}"))
}

/// A non-blocking listening socket with room for `backlog` connections
/// waiting to be accepted (the kernel caps it at `net.core.somaxconn`).
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // A restarted server can bind at once, without waiting out TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Lifts the soft limit on open files to the hard one, as Redis does: each
/// client is a descriptor, and the usual soft limit (1024) is below what a
/// busy room needs.
fn raise_fd_limit(clients: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let wanted = clients as u64 + RESERVED_FDS;
            if limit < wanted {
                log::warn!(
                    "open file limit is {limit}, below the {wanted} that --max-clients needs: raise it (ulimit -n, LimitNOFILE=)"
                );
            }
        }
        Err(e) => log::warn!("cannot raise the open file limit: {e}"),
    }
}

/// Makes the files folder (owner only) and clears what no link points
/// to: parts of uploads a stop cut short, files whose rows are gone.
/// Only names the store itself makes are touched (ids and `<n>.part`).
fn prepare_files_dir(
    dir: &std::path::Path,
    index: &crate::files::index::Index,
) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create --files-dir {}", dir.display()))?;
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read --files-dir {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let part = name
            .strip_suffix(".part")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let orphan = crate::files::ids::is_id(name) && !index.holds(name);
        if part || orphan {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                log::warn!("cannot remove {}: {e}", entry.path().display());
            }
        }
    }
    Ok(())
}
