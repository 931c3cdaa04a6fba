//! The reactor: one thread, one `mio::Poll`, every socket.
//!
//! # One turn of the loop
//!
//! 1. `poll` with a timeout taken from the earliest deadline (timer wheel,
//!    closing connections, accept back-off), or zero if work is left over.
//! 2. For each event: accept, read, or note that a blocked socket can take
//!    output again. Lines go to the [`Room`], which answers through the
//!    [`Outbox`](crate::room::Outbox) this module implements: output is only *queued* here.
//! 3. Connections whose read budget ran out last turn are read again.
//! 4. Timers fire (timeouts, scheduled messages); the changes the disk
//!    thread has written come back to the room (see [`Disk`]), so the
//!    due messages that waited for them join this turn's output.
//! 5. Every connection with queued output is flushed, many lines per
//!    `writev`. This is where the bytes go out: one system call per client
//!    per turn, however many messages the turn produced.
//! 6. Finished connections are removed.
//!
//! # Edge triggering
//!
//! mio reports a socket once when it becomes ready, so a readable socket is
//! read until `WouldBlock`, and a blocked writer is retried only after a
//! writable event. To keep one flooder from starving the room, a connection
//! gets [`READ_BUDGET`] bytes per turn; if it had more, it goes on the ready
//! list and the next poll does not wait.
//!
//! WRITABLE interest is registered only while a socket's output is blocked,
//! and dropped once the queue drains.
//!
//! # Connection keys
//!
//! Connections live in a slab; the key is the mio token. A connection that
//! ends is only marked dead and removed at the end of the turn, after all
//! of the turn's events, so a stale event can never reach a newcomer that
//! reused the key. Lists that outlive a turn carry the connection's serial.
//!
//! # Layout
//!
//! This file is the loop itself (start, one turn, timeouts, signals,
//! shutdown); each phase of a turn is a file under `reactor/`:
//! `admission.rs` (accept), `arrival.rs` (what a new connection speaks:
//! sniffing, the TLS handshake; only chat reaches the room and the
//! connection slab), `http.rs` (HTTP connections: requests, answers,
//! keep-alive, their deadlines), `reading.rs` (read and dispatch), `flush.rs`
//! (writev, lingering closes, reaping), `udp.rs` (the datagram transport)
//! and `outbox.rs` (the room's [`Outbox`](crate::room::Outbox) over the slab).

mod admission;
mod arrival;
mod files;
mod flush;
mod http;
mod outbox;
mod reading;
mod udp;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::clock::Now;
use crate::net::announce::Announcer;
use crate::net::charset::{Charset, Encoding};
use crate::net::codec::Frames;
use crate::net::conn::{Phase, Stream};
use crate::net::connect_rate::ConnectRate;
use crate::net::console::Console;
use crate::net::ipnet::CidrList;
use crate::net::line::TurnBuffer;
use crate::passwords::Checker;
use crate::room::ratelimit::Rate;
use crate::room::Room;
use crate::search::{Endpoint, Searcher};
use crate::store::disk::Disk;
pub use arrival::TransportSetup;
use arrival::{Arrivals, ARRIVAL_BASE};
use http::{HttpConns, HTTP_BASE};
use outbox::Io;
use udp::Udp;
pub use udp::UdpSetup;

/// The listening socket's token (slab keys never get this high).
const LISTENER: Token = Token(usize::MAX);
/// The signal self-pipe's token.
const SIGNALS: Token = Token(usize::MAX - 1);
/// The waker's token: a `/search` answer, an admin password verdict or
/// written changes are waiting.
const WAKER: Token = Token(usize::MAX - 2);
/// The UDP socket's token (`--udp`).
const UDP: Token = Token(usize::MAX - 3);
/// The telnet listener's token (`--telnet-bind`).
const TELNET_LISTENER: Token = Token(usize::MAX - 4);

/// Size of the read buffer shared by every connection.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read from one connection per turn before the others get a go.
const READ_BUDGET: usize = 64 * 1024;
/// Connections accepted per turn before the rest of the turn runs.
const ACCEPT_BATCH: usize = 256;
/// How long a closing connection may take to read its last lines and hang
/// up: a client reads a goodbye within a round trip or two; waiting longer
/// only holds descriptors for clients that never hang up.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How long shutdown waits for clients to read the shutdown line.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Pause before accepting again when out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Readiness events taken per poll.
const EVENTS_PER_POLL: usize = 1024;
/// Shared buffers grown beyond this by a burst are shrunk back.
const FRAMES_KEEP: usize = 256 * 1024;
/// The turn's output buffer keeps this much between turns (a busy room
/// fills it every turn; growing it each time would cost more than writing).
const TURN_KEEP: usize = 1024 * 1024;
/// Between keep-alive probes once a connection has gone quiet.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the kernel declares the connection dead: with
/// the default `--tcp-keepalive 60s`, a vanished client is gone in under 2 min.
const KEEPALIVE_PROBES: u32 = 5;
/// Said to a connection refused for lack of file descriptors.
const BUSY_LINE: &[u8] = b"[Server]: The server is too busy right now. Try again later.\n";
/// Said to a connection over `--connect-rate`.
const THROTTLED_LINE: &[u8] =
    b"[Server]: Too many connections from your address. Try again in a moment.\n";

/// What the reactor is started with; see [`crate::serve`].
#[derive(Debug)]
pub struct Parts {
    /// The listening socket.
    pub listener: TcpListener,
    /// `--telnet-bind`: the listener whose connections are offered telnet
    /// character mode at once.
    pub telnet_listener: Option<TcpListener>,
    /// The signal self-pipe.
    pub signals: mio::net::UnixStream,
    /// The console threads and the reactor's end of the console socket.
    pub console: Option<(Console, mio::net::UnixStream, String)>,
    /// The room, with its restored scheduled messages.
    pub room: Room,
    /// The disk thread.
    pub disk: Disk,
    /// `--max-line`.
    pub max_line: usize,
    /// `--max-outbuf`.
    pub max_outbuf: usize,
    /// `--default-encoding`.
    pub default_encoding: Encoding,
    /// `/search`: the model and the number of worker threads.
    pub search: Option<(Endpoint, usize)>,
    /// `--udp`: the datagram socket and its limits.
    pub udp: Option<UdpSetup>,
    /// `--tcp-keepalive`.
    pub tcp_keepalive: Option<Duration>,
    /// `--announce`: told the online count, withdrawn at shutdown.
    pub announcer: Option<Announcer>,
    /// How new connections are recognised: sniffing, TLS.
    pub transport: TransportSetup,
    /// The admin password's hash (`--admin-password-file`), for the checker thread.
    pub admin_hash: Option<String>,
    /// What a flood of connections may cost.
    pub limits: NetLimits,
    /// The file store (its flags and its index as the database kept it),
    /// unless `--web off`.
    pub files: Option<(crate::files::FilesConfig, crate::files::index::Index)>,
}

/// The limits that keep a flood of connections cheap.
#[derive(Debug, Clone)]
pub struct NetLimits {
    /// `--ip-exempt`: addresses `--connect-rate` skips.
    pub ip_exempt: CidrList,
    /// `--connect-rate` and `--connect-burst`, if limited.
    pub connect_rate: Option<Rate>,
    /// `--sndbuf`.
    pub sndbuf: usize,
    /// `--max-lingering`.
    pub max_lingering: usize,
}

/// The event loop and everything it owns.
#[derive(Debug)]
pub struct Reactor {
    /// The poller.
    poll: Poll,
    /// Events of the last poll.
    events: Events,
    /// `(token, readable, writable)` of the last poll, copied so the
    /// handlers may borrow the reactor.
    fired: Vec<(Token, bool, bool)>,
    /// The listening socket; `None` once shutting down.
    listener: Option<TcpListener>,
    /// More connections may be waiting to be accepted.
    accept_pending: bool,
    /// The telnet listener (`--telnet-bind`); `None` without it or once
    /// shutting down.
    telnet_listener: Option<TcpListener>,
    /// More connections may be waiting on the telnet listener.
    telnet_pending: bool,
    /// Accepting is paused until then (out of file descriptors).
    accept_paused: Option<Instant>,
    /// A descriptor held in reserve, so that when the process runs out a
    /// waiting client can still be accepted, told, and closed instead of
    /// spinning on an accept that keeps failing.
    spare_fd: Option<File>,
    /// Readable when SIGINT or SIGTERM arrived.
    signals: mio::net::UnixStream,
    /// The room: all decisions.
    room: Room,
    /// Connections and disk, as the room's outbox.
    io: Io,
    /// The console's threads and its connection (key, serial).
    console: Option<(Console, usize, u64)>,
    /// `--max-line`.
    max_line: usize,
    /// `--default-encoding`.
    default_encoding: Encoding,
    /// The next connection serial.
    next_serial: u64,
    /// Connections (key, serial) with input left over after their budget.
    ready: Vec<(usize, u64)>,
    /// The frames of the read being handled.
    frames: Frames,
    /// The read buffer.
    scratch: Box<[u8]>,
    /// Telnet negotiation answers of the read being handled.
    reply: Vec<u8>,
    /// Shutting down: stop at this moment at the latest.
    stopping: Option<Instant>,
    /// A second signal arrived during shutdown: stop now.
    stop_now: bool,
    /// The UDP transport, if on.
    udp: Option<Udp>,
    /// Keep-alive probing for TCP clients, if on.
    keepalive: Option<socket2::TcpKeepalive>,
    /// `--ip-exempt`.
    exempt: CidrList,
    /// `--connect-rate` per network, if limited.
    connect_rate: Option<ConnectRate>,
    /// `--sndbuf`.
    sndbuf: usize,
    /// Connections not yet handed to the room (sniffing, TLS handshakes).
    arrivals: Arrivals,
    /// HTTP connections (plain or TLS).
    http: HttpConns,
    /// `--announce`, if on.
    announcer: Option<Announcer>,
}

/// How to tell mio to watch a connection.
fn interest(writable: bool) -> Interest {
    if writable {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

impl Reactor {
    /// Registers the sockets and, with `--console`, seats the operator.
    ///
    /// # Errors
    ///
    /// The poller or a registration failed, or the console nickname was refused.
    pub fn new(parts: Parts) -> anyhow::Result<Reactor> {
        let Parts {
            mut listener,
            mut telnet_listener,
            mut signals,
            console,
            room,
            disk,
            max_line,
            max_outbuf,
            default_encoding,
            search,
            udp,
            tcp_keepalive,
            limits,
            admin_hash,
            transport,
            announcer,
            files,
        } = parts;
        let listen = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let poll = Poll::new().context("cannot create the poller")?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .context("cannot watch the listening socket")?;
        if let Some(telnet) = &mut telnet_listener {
            poll.registry()
                .register(telnet, TELNET_LISTENER, Interest::READABLE)
                .context("cannot watch the telnet listening socket")?;
        }
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .context("cannot watch for signals")?;
        // One waker per poller: the disk thread, the search workers and the
        // admin password checker share it.
        let waker =
            Arc::new(Waker::new(poll.registry(), WAKER).context("cannot create the waker")?);
        let wake = move || {
            if let Err(e) = waker.wake() {
                log::error!("cannot wake the reactor: {e}");
            }
        };
        disk.on_saved(wake.clone());
        let files = match files {
            Some((cfg, index)) => {
                let io = crate::files::io::FileIo::start(cfg.dir.clone(), wake.clone())
                    .context("cannot start the file thread")?;
                Some(files::FileStore::new(cfg, index, io, listen))
            }
            None => None,
        };
        let checker = match admin_hash {
            Some(hash) => Some(
                Checker::start(hash, wake.clone())
                    .context("cannot start the admin password checker")?,
            ),
            None => None,
        };
        let searcher = match search {
            Some((endpoint, workers)) => {
                let queue = room.search_capacity();
                Some(
                    Searcher::start(endpoint, workers, queue, wake)
                        .context("cannot start the /search workers")?,
                )
            }
            _ => None,
        };
        let now = Instant::now();
        let udp = match udp {
            Some(setup) => Some(Udp::new(setup, poll.registry(), now)?),
            None => None,
        };
        let mut reactor = Reactor {
            poll,
            events: Events::with_capacity(EVENTS_PER_POLL),
            fired: Vec::with_capacity(EVENTS_PER_POLL),
            listener: Some(listener),
            accept_pending: true,
            telnet_pending: telnet_listener.is_some(),
            telnet_listener,
            accept_paused: None,
            spare_fd: File::open("/dev/null").ok(),
            signals,
            room,
            io: Io {
                conns: Slab::new(),
                dirty: Vec::new(),
                dead: Vec::new(),
                closing: VecDeque::new(),
                turn: TurnBuffer::default(),
                disk,
                searcher,
                checker,
                files,
                max_outbuf,
                max_lingering: limits.max_lingering,
                now,
                erase_row: Rc::from(crate::net::line_editor::ERASE_ROW),
            },
            console: None,
            max_line,
            default_encoding,
            next_serial: 1,
            ready: Vec::new(),
            frames: Frames::default(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            reply: Vec::new(),
            stopping: None,
            stop_now: false,
            udp,
            keepalive: tcp_keepalive.map(|idle| {
                socket2::TcpKeepalive::new()
                    .with_time(idle)
                    .with_interval(KEEPALIVE_INTERVAL)
                    .with_retries(KEEPALIVE_PROBES)
            }),
            exempt: limits.ip_exempt,
            connect_rate: limits.connect_rate.map(|rate| ConnectRate::new(rate, now)),
            sndbuf: limits.sndbuf,
            http: HttpConns::new(transport.http.clone(), transport.tls_only),
            arrivals: Arrivals::new(transport),
            announcer,
        };
        if let Some((threads, stream, nick)) = console {
            let now = Now::read();
            let (key, serial) = reactor
                .add(
                    Stream::Local(stream),
                    None,
                    Charset::detecting(Encoding::Utf8),
                )
                .context("cannot watch the console")?;
            reactor
                .room
                .open_console(key, serial, &nick, now, &mut reactor.io)
                .map_err(anyhow::Error::msg)?;
            reactor.console = Some((threads, key, serial));
        }
        Ok(reactor)
    }

    /// Runs until SIGINT or SIGTERM (or the console leaves), then says
    /// goodbye, flushes and saves.
    ///
    /// # Errors
    ///
    /// Only if polling itself fails; a failing connection never ends the loop.
    pub fn run(mut self) -> anyhow::Result<()> {
        let result = self.event_loop();
        // Dropping the connections closes the console socket, so its output
        // thread can finish printing; then the disk writes the final state.
        self.io.conns.clear();
        if let Some((console, _, _)) = &self.console {
            console.finish();
        }
        self.io.disk.finish();
        result
    }

    fn event_loop(&mut self) -> anyhow::Result<()> {
        loop {
            let timeout = self.timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut self.events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e).context("poll failed");
            }
            let now = Now::read();
            self.io.now = now.mono;
            self.fired.clear();
            self.fired.extend(self.events.iter().map(|e| {
                (
                    e.token(),
                    e.is_readable() || e.is_read_closed() || e.is_error(),
                    e.is_writable() || e.is_write_closed(),
                )
            }));
            for i in 0..self.fired.len() {
                let (token, readable, writable) = self.fired[i];
                match token {
                    LISTENER => self.accept_pending = true,
                    TELNET_LISTENER => self.telnet_pending = true,
                    SIGNALS => self.on_signal(now),
                    WAKER => self.take_answers(now),
                    UDP => {
                        if writable {
                            self.udp_writable();
                        }
                        if readable {
                            self.read_udp(now);
                        }
                    }
                    Token(key) if key >= ARRIVAL_BASE => {
                        self.arrival_event(key - ARRIVAL_BASE, now)
                    }
                    Token(key) if key >= HTTP_BASE => self.http_event(key - HTTP_BASE, now),
                    Token(key) => {
                        if writable {
                            self.io.mark_dirty(key);
                        }
                        if readable {
                            self.read(key, now);
                        }
                    }
                }
            }
            for (key, serial) in std::mem::take(&mut self.ready) {
                if let Some(conn) = self.io.conns.get_mut(key) {
                    if conn.serial == serial {
                        conn.ready = false;
                        self.read(key, now);
                    }
                }
            }
            self.step_ready_http(now);
            self.accept(now);
            self.expire_arrivals(now);
            self.expire_http(now);
            self.expire_files(now);
            if self.udp.as_ref().is_some_and(|u| u.pending) {
                self.read_udp(now);
            }
            self.sweep_udp(now);
            self.room.tick(now, &mut self.io);
            self.io.disk.send_history();
            self.take_saved(now);
            if let Some(announcer) = &mut self.announcer {
                announcer.set_online(self.room.online());
            }
            self.expire_closing(now);
            self.flush(now);
            self.reap(now);
            self.reap_arrivals();
            self.reap_http();
            self.frames.trim(FRAMES_KEEP);
            self.io.turn.trim(TURN_KEEP);
            if let Some(deadline) = self.stopping {
                if self.stop_now || self.io.conns.is_empty() || now.mono >= deadline {
                    log::info!("stopped");
                    return Ok(());
                }
            }
        }
    }

    /// How long the next poll may wait.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let waiting = (self.accept_pending && self.listener.is_some())
            || (self.telnet_pending && self.telnet_listener.is_some());
        let accept_now = waiting && self.accept_paused.is_none_or(|until| until <= now);
        let udp_now = self.udp.as_ref().is_some_and(|u| u.pending);
        // Output queued outside a turn's flush (a signal's goodbye, the
        // console leaving) goes out now, not after the next event.
        let unflushed = !self.io.dirty.is_empty();
        if !self.ready.is_empty() || self.http.has_ready() || accept_now || udp_now || unflushed {
            return Some(Duration::ZERO);
        }
        let udp_sweep = self
            .udp
            .as_ref()
            .filter(|u| !u.peers.is_empty())
            .map(|u| u.sweep_at);
        [
            self.room.next_deadline(),
            udp_sweep,
            self.io.closing.front().map(|(at, _, _)| *at),
            self.arrivals.next_deadline(),
            self.http.next_deadline(),
            self.files_deadline(now),
            self.accept_paused,
            self.stopping,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    /// Hands the model's answers and the admin password verdicts that
    /// have arrived to the room.
    fn take_answers(&mut self, now: Now) {
        for found in self.io.disk.take_found() {
            self.room
                .find_answer(found.id, found.result, now, &mut self.io);
        }
        self.take_file_io(now);
        if let Some(checker) = &self.io.checker {
            let verdicts: Vec<_> = std::iter::from_fn(|| checker.try_verdict()).collect();
            for verdict in verdicts {
                self.room
                    .admin_verdict(verdict.id, verdict.right, now, &mut self.io);
            }
        }
        let Some(searcher) = &self.io.searcher else {
            return;
        };
        let answers: Vec<_> = std::iter::from_fn(|| searcher.try_answer()).collect();
        for answer in answers {
            self.room
                .search_answer(answer.id, answer.result, now, &mut self.io);
        }
    }

    /// Hands the room the changes the disk thread has written (or, without
    /// a database, that were made this turn): due messages that waited for
    /// them go out in this turn's flush.
    fn take_saved(&mut self, now: Now) {
        let saved = self.io.disk.take_saved();
        if !saved.is_empty() {
            self.room.saved(&saved, now, &mut self.io);
        }
    }

    fn on_signal(&mut self, now: Now) {
        let mut buf = [0u8; 64];
        loop {
            match self.signals.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if self.stopping.is_some() {
            log::warn!("second signal: stopping now");
            self.stop_now = true;
        } else {
            log::info!("signal received: shutting down");
            self.begin_shutdown(now);
        }
    }

    /// Stops accepting, says goodbye to everyone and lets the loop flush.
    fn begin_shutdown(&mut self, now: Now) {
        for mut listener in [self.listener.take(), self.telnet_listener.take()]
            .into_iter()
            .flatten()
        {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.accept_pending = false;
        self.telnet_pending = false;
        // Connections that already said goodbye only wait for the peer to
        // hang up; stopping does not wait for that.
        let lingering: Vec<usize> = self
            .io
            .conns
            .iter()
            .filter(|(_, c)| {
                matches!(
                    c.phase,
                    Phase::Closing {
                        write_shut: true,
                        ..
                    }
                )
            })
            .map(|(key, _)| key)
            .collect();
        for key in lingering {
            self.io.kill(key);
        }
        self.room.shutdown(now, &mut self.io);
        if let Some(announcer) = &self.announcer {
            announcer.withdraw();
        }
        self.stopping = Some(now.mono + SHUTDOWN_GRACE);
    }
}
