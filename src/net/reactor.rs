//! The reactor: one thread, one `mio::Poll`, every socket.
//!
//! # One turn of the loop
//!
//! 1. `poll` with a timeout taken from the earliest deadline (timer wheel,
//!    closing connections, accept back-off), or zero if work is left over.
//! 2. For each event: accept, read, or note that a blocked socket can take
//!    output again. Lines go to the [`Room`], which answers through the
//!    [`Outbox`] this module implements: output is only *queued* here.
//! 3. Connections whose read budget ran out last turn are read again.
//! 4. Timers fire (timeouts, scheduled messages).
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

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::clock::Now;
use crate::net::charset::{Charset, Encoding};
use crate::net::codec::{Frame, Frames};
use crate::net::conn::{Conn, Phase, Stream};
use crate::net::console::Console;
use crate::net::line::{Form, Line, TurnBuffer};
use crate::net::outq::Flushed;
use crate::room::{ConnKey, Gone, Input, Outbox, Room, StateChange, Via};
use crate::search::{Endpoint, Question, Searcher};
use crate::store::disk::Disk;

/// The listening socket's token (slab keys never get this high).
const LISTENER: Token = Token(usize::MAX);
/// The signal self-pipe's token.
const SIGNALS: Token = Token(usize::MAX - 1);
/// The waker's token: a `/search` answer is waiting.
const WAKER: Token = Token(usize::MAX - 2);
/// The UDP socket's token (`--udp`).
const UDP: Token = Token(usize::MAX - 3);

/// Datagrams read per turn before the rest of the turn runs.
const UDP_BATCH: usize = 256;
/// The datagram that starts a UDP session without giving a nickname yet.
const UDP_HELLO: &str = "HELO";
/// The keep-alive a UDP client sends; it only says "still here".
const UDP_PING: &str = "/ping";

/// Size of the read buffer shared by every connection.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read from one connection per turn before the others get a go.
const READ_BUDGET: usize = 64 * 1024;
/// Connections accepted per turn before the rest of the turn runs.
const ACCEPT_BATCH: usize = 256;
/// How long a closing connection may take to read its last lines and hang up.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
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

/// Everything the room's [`Outbox`] reaches: the connections and the disk.
#[derive(Debug)]
struct Io {
    /// Every connection, by key.
    conns: Slab<Conn>,
    /// Keys with output queued this turn (flushed at the end of the turn).
    dirty: Vec<usize>,
    /// Keys that are finished, removed at the end of the turn.
    dead: Vec<usize>,
    /// Closing connections with the moment we stop waiting for them, in
    /// order (every connection gets the same linger).
    closing: VecDeque<(Instant, usize, u64)>,
    /// Everything sent this turn, once per wire form; queues hold ranges of it.
    turn: TurnBuffer,
    /// The room log and the state file.
    disk: Disk,
    /// The `/search` worker pool, if a model is configured.
    searcher: Option<Searcher>,
    /// `--max-outbuf`.
    max_outbuf: usize,
    /// The time of this turn.
    now: Instant,
}

impl Io {
    fn mark_dirty(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.dirty && !conn.is_dead() {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    fn kill(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            conn.phase = Phase::Dead;
            conn.outq.clear();
            self.dead.push(key);
        }
    }

    fn linger(&mut self, key: usize) {
        if let Some(conn) = self.conns.get(key) {
            self.closing
                .push_back((self.now + CLOSE_LINGER, key, conn.serial));
        }
    }

    /// Queues bytes outside the turn's buffer (telnet answers) for `to`.
    fn queue(&mut self, to: usize, bytes: &Rc<[u8]>) {
        let Some(conn) = self.conns.get_mut(to) else {
            return;
        };
        if conn.is_dead() {
            return;
        }
        conn.outq.push_shared(bytes);
        self.mark_dirty(to);
    }
}

impl Outbox for Io {
    /// Queues a span of the turn's buffer: no copy, no count to touch, and
    /// usually no new queue entry (it extends the previous line's span).
    /// Whether the client keeps up is judged after the end-of-turn flush.
    fn send(&mut self, to: ConnKey, line: &Line) {
        let Some(conn) = self.conns.get_mut(to) else {
            return;
        };
        if conn.is_dead() {
            return;
        }
        let form = Form {
            encoding: conn.charset.encoding,
            crlf: conn.crlf,
        };
        conn.outq.push_turn(self.turn.place(line, form));
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(to);
        }
    }

    fn set_encoding(&mut self, to: ConnKey, encoding: Encoding) {
        if let Some(conn) = self.conns.get_mut(to) {
            conn.charset = Charset::fixed(encoding);
        }
    }

    fn encoding(&self, of: ConnKey) -> Encoding {
        self.conns
            .get(of)
            .map_or(Encoding::Utf8, |c| c.charset.encoding)
    }

    fn close(&mut self, to: ConnKey) {
        if let Some(conn) = self.conns.get_mut(to) {
            conn.close();
            self.linger(to);
            self.mark_dirty(to);
        }
    }

    fn logging(&self) -> bool {
        self.disk.logging()
    }

    fn log(&mut self, line: String) {
        self.disk.log(line);
    }

    fn persist(&mut self, change: StateChange) {
        self.disk.persist(change);
    }

    fn search(&mut self, id: u64, question: &str) -> bool {
        let Some(searcher) = &self.searcher else {
            return false;
        };
        searcher
            .submit(Question {
                id,
                text: question.to_string(),
            })
            .is_ok()
    }
}

/// What the reactor is started with; see [`crate::serve`].
#[derive(Debug)]
pub struct Parts {
    /// The listening socket.
    pub listener: TcpListener,
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
    /// `--udp`: the datagram socket, and how long a silent peer stays.
    pub udp: Option<(mio::net::UdpSocket, Duration)>,
    /// `--tcp-keepalive`.
    pub tcp_keepalive: Option<Duration>,
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
}

/// The UDP transport's state: one socket, many participants.
#[derive(Debug)]
struct Udp {
    /// The socket, shared with every UDP participant's [`Stream::Udp`].
    socket: Rc<mio::net::UdpSocket>,
    /// Participants (key, serial) by address.
    peers: HashMap<SocketAddr, (usize, u64)>,
    /// `--udp-idle`.
    idle: Duration,
    /// When to look for silent participants next.
    sweep_at: Instant,
    /// More datagrams may be waiting: the batch ran out.
    pending: bool,
    /// Participants whose output waits for the socket to take more.
    blocked: Vec<usize>,
    /// WRITABLE is registered on the socket.
    writable: bool,
}

impl Udp {
    /// Watches the socket for writability too, or no longer.
    fn watch(&mut self, registry: &mio::Registry, writable: bool) {
        if self.writable == writable {
            return;
        }
        self.writable = writable;
        // Through the descriptor: the socket is shared (`Rc`), and mio's own
        // `reregister` wants it `&mut`.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&*self.socket);
        if let Err(e) = registry.reregister(&mut mio::unix::SourceFd(&fd), UDP, interest(writable))
        {
            log::warn!("udp: cannot change what is watched on the socket: {e}");
        }
    }

    /// How often silent participants are looked for: a quarter of the
    /// allowed silence, so one is removed at most 25 % late.
    fn sweep_every(&self) -> Duration {
        (self.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
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
        } = parts;
        let poll = Poll::new().context("cannot create the poller")?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .context("cannot watch the listening socket")?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .context("cannot watch for signals")?;
        let searcher = match search {
            Some((endpoint, workers)) => {
                // One waker per poller; the workers share it.
                let waker = Arc::new(
                    Waker::new(poll.registry(), WAKER).context("cannot create the waker")?,
                );
                let queue = room.search_capacity();
                let wake = move || {
                    if let Err(e) = waker.wake() {
                        log::error!("cannot wake the reactor: {e}");
                    }
                };
                Some(
                    Searcher::start(endpoint, workers, queue, wake)
                        .context("cannot start the /search workers")?,
                )
            }
            None => None,
        };
        let now = Instant::now();
        let udp = match udp {
            Some((mut socket, idle)) => {
                poll.registry()
                    .register(&mut socket, UDP, Interest::READABLE)
                    .context("cannot watch the UDP socket")?;
                Some(Udp {
                    socket: Rc::new(socket),
                    peers: HashMap::new(),
                    idle,
                    sweep_at: now,
                    pending: false,
                    blocked: Vec::new(),
                    writable: false,
                })
            }
            None => None,
        };
        let mut reactor = Reactor {
            poll,
            events: Events::with_capacity(EVENTS_PER_POLL),
            fired: Vec::with_capacity(EVENTS_PER_POLL),
            listener: Some(listener),
            accept_pending: true,
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
                max_outbuf,
                now,
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
            self.accept(now);
            if self.udp.as_ref().is_some_and(|u| u.pending) {
                self.read_udp(now);
            }
            self.sweep_udp(now);
            self.room.tick(now, &mut self.io);
            self.expire_closing(now);
            self.flush(now);
            self.reap(now);
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
        let accept_now = self.accept_pending
            && self.listener.is_some()
            && self.accept_paused.is_none_or(|until| until <= now);
        let udp_now = self.udp.as_ref().is_some_and(|u| u.pending);
        // Output queued outside a turn's flush (a signal's goodbye, the
        // console leaving) goes out now, not after the next event.
        let unflushed = !self.io.dirty.is_empty();
        if !self.ready.is_empty() || accept_now || udp_now || unflushed {
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
            self.accept_paused,
            self.stopping,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    // ----- accepting -----

    /// Accepts waiting connections, up to a batch per turn.
    fn accept(&mut self, now: Now) {
        if !self.accept_pending {
            return;
        }
        if let Some(until) = self.accept_paused {
            if until > now.mono {
                return;
            }
            self.accept_paused = None;
        }
        for _ in 0..ACCEPT_BATCH {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.refuse_one(now);
                    return;
                }
                // ECONNABORTED and friends: that client is gone, the next may not be.
                Err(e) => log::debug!("accept failed: {e}"),
            }
        }
    }

    /// Out of file descriptors: use the spare one to accept a waiting
    /// client, tell it, and close it; then pause accepting briefly.
    fn refuse_one(&mut self, now: Now) {
        log::warn!(
            "out of file descriptors: refusing connections for a moment (raise `ulimit -n`)"
        );
        self.spare_fd = None;
        if let Some(listener) = &self.listener {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write(BUSY_LINE);
            }
        }
        self.spare_fd = File::open("/dev/null").ok();
        self.accept_paused = Some(now.mono + ACCEPT_BACKOFF);
    }

    /// Seats a new network client and lets the room welcome it.
    fn admit(&mut self, stream: mio::net::TcpStream, peer: SocketAddr, now: Now) {
        // Chat is many small writes that must not wait for the next one.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay failed for {peer}: {e}");
        }
        if let Some(keepalive) = &self.keepalive {
            if let Err(e) = socket2::SockRef::from(&stream).set_tcp_keepalive(keepalive) {
                log::debug!("keep-alive failed for {peer}: {e}");
            }
        }
        let charset = Charset::detecting(self.default_encoding);
        match self.add(Stream::Tcp(stream), Some(peer), charset) {
            Ok((key, serial)) => {
                log::debug!("conn {key} from {peer}: accepted");
                self.room
                    .open(key, serial, Via::Stream(peer), now, &mut self.io);
            }
            Err(e) => log::warn!("cannot watch the connection from {peer}: {e}"),
        }
    }

    /// Puts a stream in the slab and registers it.
    fn add(
        &mut self,
        mut stream: Stream,
        peer: Option<SocketAddr>,
        charset: Charset,
    ) -> io::Result<(usize, u64)> {
        let entry = self.io.conns.vacant_entry();
        let key = entry.key();
        self.poll
            .registry()
            .register(&mut stream, Token(key), Interest::READABLE)?;
        let serial = self.next_serial;
        self.next_serial += 1;
        entry.insert(Conn::new(serial, stream, peer, charset));
        Ok((key, serial))
    }

    // ----- reading -----

    /// Reads connection `key` until `WouldBlock` or its budget is spent,
    /// handing complete lines to the room as they come.
    fn read(&mut self, key: usize, now: Now) {
        let mut budget = READ_BUDGET;
        loop {
            let Some(conn) = self.io.conns.get_mut(key) else {
                return;
            };
            if conn.is_dead() {
                return;
            }
            let n = match conn.stream.read(&mut self.scratch) {
                Ok(0) => return self.end_of_input(key, now),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.lost(key, Gone::Error, &e, now),
            };
            if conn.is_open() {
                self.frames.clear();
                self.reply.clear();
                conn.codec.feed(
                    &self.scratch[..n],
                    self.max_line,
                    &mut self.frames,
                    &mut self.reply,
                );
                conn.crlf |= conn.codec.speaks_telnet();
                if !self.reply.is_empty() {
                    self.io.queue(key, &Rc::from(&self.reply[..]));
                }
                self.dispatch(key, now);
            }
            // A closing connection's input is read only to be dropped.
            budget = budget.saturating_sub(n);
            if budget == 0 {
                if let Some(conn) = self.io.conns.get_mut(key) {
                    if !conn.ready {
                        conn.ready = true;
                        self.ready.push((key, conn.serial));
                    }
                }
                return;
            }
        }
    }

    /// Hands the frames of the last read to the room, decoding each line
    /// with the connection's charset.
    fn dispatch(&mut self, key: usize, now: Now) {
        for i in 0..self.frames.len() {
            let Some(conn) = self.io.conns.get_mut(key) else {
                return;
            };
            if !conn.is_open() {
                return; // the room closed it (/exit, kick): the rest is dropped
            }
            match self.frames.get(i) {
                Some(Frame::Line(bytes)) => {
                    let text = conn.charset.decode(bytes);
                    self.room.input(key, Input::Line(&text), now, &mut self.io);
                }
                Some(Frame::TooLong) => self.room.input(key, Input::TooLong, now, &mut self.io),
                None => return,
            }
        }
    }

    /// The client closed its side: its last unterminated line still counts.
    fn end_of_input(&mut self, key: usize, now: Now) {
        let Some(conn) = self.io.conns.get_mut(key) else {
            return;
        };
        let was_open = conn.is_open();
        if was_open {
            self.frames.clear();
            conn.codec.finish(&mut self.frames);
            self.dispatch(key, now);
        }
        let Some(conn) = self.io.conns.get_mut(key) else {
            return;
        };
        let was_open = was_open && conn.is_open();
        conn.peer_closed();
        if conn.is_dead() {
            self.io.dead.push(key);
        } else {
            self.io.linger(key);
            self.io.mark_dirty(key);
        }
        log::debug!("conn {key}: end of input");
        if was_open {
            self.room.gone(key, Gone::Closed, now, &mut self.io);
        }
    }

    /// The connection failed: drop it and tell the room.
    fn lost(&mut self, key: usize, why: Gone, error: &io::Error, now: Now) {
        let was_open = self.io.conns.get(key).is_some_and(Conn::is_open);
        log::debug!("conn {key}: lost: {error}");
        self.io.kill(key);
        if was_open {
            self.room.gone(key, why, now, &mut self.io);
        }
    }

    /// A client still had more than `--max-outbuf` queued after the socket
    /// took what it would: it is not reading. Drop it; the room goes on.
    fn slow(&mut self, key: usize, now: Now) {
        if let Some(conn) = self.io.conns.get(key) {
            match conn.peer {
                Some(peer) => log::info!("conn {key} from {peer}: too slow reading, disconnected"),
                None => log::warn!("the console is not reading; it is disconnected"),
            }
        }
        let was_open = self.io.conns.get(key).is_some_and(Conn::is_open);
        self.io.kill(key);
        if was_open {
            self.room.gone(key, Gone::SlowReader, now, &mut self.io);
        }
    }

    // ----- writing and closing -----

    /// Writes every connection that has output queued.
    fn flush(&mut self, now: Now) {
        // Telling the room about a lost or slow client queues more lines
        // (in a fresh turn buffer), hence the loop.
        while !self.io.dirty.is_empty() {
            let sealed = self.io.turn.seal();
            let keys = std::mem::take(&mut self.io.dirty);
            let mut failed = Vec::new();
            for &key in &keys {
                if let Some(conn) = self.io.conns.get_mut(key) {
                    conn.dirty = false;
                }
            }
            for key in keys {
                let Some(conn) = self.io.conns.get_mut(key) else {
                    continue;
                };
                if conn.is_dead() {
                    continue;
                }
                conn.outq.seal(&sealed);
                let blocked = match conn.flush() {
                    Ok(Flushed::All) => false,
                    Ok(Flushed::Blocked) => true,
                    Err(e) => {
                        failed.push((key, Gone::Error, e));
                        continue;
                    }
                };
                if conn.outq.len() > self.io.max_outbuf {
                    // Written what the socket took; the rest is too much.
                    failed.push((key, Gone::SlowReader, io::ErrorKind::WouldBlock.into()));
                    continue;
                }
                if self.stopping.is_some() && !blocked {
                    // Shutting down: once the goodbye is written, do not wait
                    // for the client to hang up.
                    if let Phase::Closing {
                        write_shut: true, ..
                    } = conn.phase
                    {
                        conn.phase = Phase::Dead;
                    }
                }
                if conn.is_dead() {
                    self.io.dead.push(key);
                    continue;
                }
                if conn.stream.is_udp() {
                    if blocked {
                        self.udp_blocked(key);
                    }
                    continue;
                }
                if conn.writable != blocked {
                    conn.writable = blocked;
                    if let Err(e) = self.poll.registry().reregister(
                        &mut conn.stream,
                        Token(key),
                        interest(blocked),
                    ) {
                        failed.push((key, Gone::Error, e));
                    }
                }
            }
            for (key, why, error) in failed {
                if why == Gone::SlowReader {
                    self.slow(key, now);
                } else {
                    self.lost(key, why, &error, now);
                }
            }
        }
    }

    /// Gives up on closing connections that took too long to go.
    fn expire_closing(&mut self, now: Now) {
        while let Some(&(deadline, key, serial)) = self.io.closing.front() {
            if deadline > now.mono {
                return;
            }
            self.io.closing.pop_front();
            if let Some(conn) = self.io.conns.get(key) {
                if conn.serial == serial && !conn.is_dead() {
                    log::debug!("conn {key}: did not finish closing in time");
                    self.io.kill(key);
                }
            }
        }
    }

    /// Removes finished connections: the end of the turn, so no event of
    /// this turn can be misdelivered.
    fn reap(&mut self, now: Now) {
        while let Some(key) = self.io.dead.pop() {
            if !self.io.conns.get(key).is_some_and(Conn::is_dead) {
                continue;
            }
            let mut conn = self.io.conns.remove(key);
            if let Err(e) = self.poll.registry().deregister(&mut conn.stream) {
                log::debug!("conn {key}: deregister failed: {e}");
            }
            if let (Stream::Udp { peer, .. }, Some(udp)) = (&conn.stream, &mut self.udp) {
                if udp.peers.get(peer) == Some(&(key, conn.serial)) {
                    udp.peers.remove(peer);
                }
            }
            log::debug!("conn {key}: closed");
        }
        // The operator leaving the console ends the server.
        if let Some((_, key, serial)) = &self.console {
            let here = self
                .io
                .conns
                .get(*key)
                .is_some_and(|c| c.serial == *serial && c.is_open());
            if !here && self.stopping.is_none() {
                log::info!("the console left");
                self.begin_shutdown(now);
            }
        }
    }

    // ----- UDP -----

    /// Reads datagrams, a batch per turn.
    fn read_udp(&mut self, now: Now) {
        let Some(socket) = self.udp.as_ref().map(|u| Rc::clone(&u.socket)) else {
            return;
        };
        for _ in 0..UDP_BATCH {
            match socket.recv_from(&mut self.scratch) {
                Ok((n, from)) => self.datagram(from, n, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(udp) = &mut self.udp {
                        udp.pending = false;
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // An ICMP error for an earlier send: nothing to do for this read.
                Err(e) => log::debug!("udp: receive failed: {e}"),
            }
        }
        if let Some(udp) = &mut self.udp {
            udp.pending = true;
        }
    }

    /// One datagram of `n` bytes (in the read buffer) from `from`: one line
    /// (or a few), a new session, or a keep-alive.
    fn datagram(&mut self, from: SocketAddr, n: usize, now: Now) {
        let Some(udp) = &self.udp else {
            return;
        };
        let text = String::from_utf8_lossy(&self.scratch[..n]);
        let word = text.trim();
        let keep_alive = word.is_empty() || word == UDP_PING;
        // A keep-alive from an address the server does not know (it forgot
        // a silent client, or restarted) starts a session like HELO, so the
        // client sees the prompt instead of its next line becoming a nickname.
        let hello = word.eq_ignore_ascii_case(UDP_HELLO) || word == UDP_PING;
        let known = udp.peers.get(&from).copied().filter(|&(key, serial)| {
            self.io
                .conns
                .get(key)
                .is_some_and(|c| c.serial == serial && c.is_open())
        });
        let key = match known {
            Some((key, _)) => key,
            // An empty datagram from nobody in particular starts nothing.
            None if word.is_empty() => return,
            None => {
                let socket = Rc::clone(&udp.socket);
                let charset = Charset::detecting(self.default_encoding);
                let Ok((key, serial)) =
                    self.add(Stream::Udp { socket, peer: from }, Some(from), charset)
                else {
                    return;
                };
                if let Some(udp) = &mut self.udp {
                    udp.peers.insert(from, (key, serial));
                }
                log::debug!("conn {key} from {from}: UDP session");
                self.room
                    .open(key, serial, Via::Datagram(from), now, &mut self.io);
                if hello {
                    if let Some(conn) = self.io.conns.get_mut(key) {
                        conn.heard = Some(now.mono);
                    }
                    return;
                }
                key
            }
        };
        let Some(conn) = self.io.conns.get_mut(key) else {
            return;
        };
        conn.heard = Some(now.mono);
        if keep_alive || !conn.is_open() {
            return;
        }
        // A datagram is complete: split it like a stream that ends there.
        let mut codec = crate::net::codec::LineCodec::default();
        self.frames.clear();
        self.reply.clear();
        codec.feed(
            &self.scratch[..n],
            self.max_line,
            &mut self.frames,
            &mut self.reply,
        );
        codec.finish(&mut self.frames);
        self.dispatch(key, now);
    }

    /// Removes UDP participants that went silent for `--udp-idle`.
    fn sweep_udp(&mut self, now: Now) {
        let Some(udp) = &mut self.udp else {
            return;
        };
        if now.mono < udp.sweep_at {
            return;
        }
        udp.sweep_at = now.mono + udp.sweep_every();
        let idle = udp.idle;
        let silent: Vec<usize> = udp
            .peers
            .values()
            .filter_map(|&(key, serial)| {
                let conn = self.io.conns.get(key)?;
                let quiet = conn
                    .heard
                    .is_some_and(|at| now.mono.saturating_duration_since(at) >= idle);
                (conn.serial == serial && conn.is_open() && quiet).then_some(key)
            })
            .collect();
        for key in silent {
            log::debug!(
                "conn {key}: UDP participant silent for {}",
                crate::clock::compact(idle)
            );
            self.io.kill(key);
            self.room.gone(key, Gone::Silent, now, &mut self.io);
        }
    }

    /// A UDP participant's output did not fit in the socket's buffer: wait
    /// for the socket to become writable.
    fn udp_blocked(&mut self, key: usize) {
        let Some(udp) = &mut self.udp else {
            return;
        };
        udp.blocked.push(key);
        udp.watch(self.poll.registry(), true);
    }

    /// The UDP socket takes output again: retry the waiting participants.
    fn udp_writable(&mut self) {
        let Some(udp) = &mut self.udp else {
            return;
        };
        let waiting = std::mem::take(&mut udp.blocked);
        udp.watch(self.poll.registry(), false);
        for key in waiting {
            self.io.mark_dirty(key);
        }
    }

    /// Hands the model's answers that have arrived to the room.
    fn take_answers(&mut self, now: Now) {
        let Some(searcher) = &self.io.searcher else {
            return;
        };
        let answers: Vec<_> = std::iter::from_fn(|| searcher.try_answer()).collect();
        for answer in answers {
            self.room
                .search_answer(answer.id, answer.result, now, &mut self.io);
        }
    }

    // ----- stopping -----

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
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.accept_pending = false;
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
        self.stopping = Some(now.mono + SHUTDOWN_GRACE);
    }
}
