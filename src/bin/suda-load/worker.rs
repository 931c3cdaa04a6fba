//! The generator's threads: each owns a share of the clients and runs its
//! own mio poll over them; the main thread only watches and decides.
//!
//! # Why threads and mio, not an async runtime
//!
//! The generator needs three things: many idle sockets drained cheaply
//! (10 000 for `capacity`), a hot read path that is nothing but `read` +
//! memchr, and sends at precise moments. One mio poll per thread gives all
//! three with no scheduler between the socket and the counting code, and
//! the thread count is an honest knob (`--threads`): each thread is one
//! core's worth of generator, and its CPU time can be read and compared
//! with the server's. An async runtime would add its own wakeups, task
//! queues and work stealing to exactly the path being measured.
//!
//! # Phases
//!
//! Every worker connects its clients (a bounded number of joins in flight),
//! then waits, still draining its sockets, for the main thread's start
//! signal ([`Shared::go`]); from then on its [`Workload`] sends. The main
//! thread ends the run with [`Shared::stop`]. Both signals wake the polls
//! through a [`Waker`], so no thread sleeps past them.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry, Token, Waker};

use crate::client::{Client, ClientError};

/// The token of each poll's waker (client tokens are their list index).
pub const WAKER: Token = Token(usize::MAX);
/// A worker looks at the shared flags at least this often.
pub const TICK: Duration = Duration::from_millis(5);
/// Bytes asked of the kernel per `read`: large, so a busy receiver costs
/// few system calls.
const READ_CHUNK: usize = 256 * 1024;
/// Readiness events taken per poll.
pub const EVENTS_PER_POLL: usize = 1024;
/// How often the main thread looks at the counters.
const WATCH_EVERY: Duration = Duration::from_millis(2);

/// What the threads of one workload share with the main thread.
#[derive(Debug, Default)]
pub struct Shared {
    /// Clients whose welcome arrived.
    pub joined: AtomicUsize,
    /// The workload's count of work done (deliveries, notices), published
    /// by the workers once per turn of their loop.
    pub progress: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Joined clients the server disconnected: always a failed run.
    pub closed: AtomicUsize,
    /// When the main thread gave the start signal.
    start: OnceLock<Instant>,
    /// The main thread wants the workers to stop.
    stop: AtomicBool,
    /// The first thing that went wrong, in words for the operator.
    failure: Mutex<Option<String>>,
    /// One per worker poll, to wake it for the start and stop signals.
    wakers: Mutex<Vec<Arc<Waker>>>,
}

impl Shared {
    /// Records a failure (the first one wins) and stops everyone.
    pub fn fail(&self, message: String) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(message);
        }
        self.stop();
    }

    /// The failure, if one happened.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// The start signal: workloads begin sending, measured from `start`.
    pub fn go(&self, start: Instant) {
        let _ = self.start.set(start);
        self.wake();
    }

    /// When the start signal was given.
    pub fn started(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    /// Tells every worker to stop (their clients are closed).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    /// Whether the workers should stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Registers a waker on `poll` (token [`WAKER`]) for the start and stop signals.
    ///
    /// # Errors
    ///
    /// The waker could not be made, in words.
    pub fn wake_me(&self, poll: &Poll) -> Result<(), String> {
        let waker = Waker::new(poll.registry(), WAKER)
            .map_err(|e| format!("cannot create a waker: {e}"))?;
        if let Ok(mut wakers) = self.wakers.lock() {
            wakers.push(Arc::new(waker));
        }
        Ok(())
    }

    fn wake(&self) {
        if let Ok(wakers) = self.wakers.lock() {
            for waker in wakers.iter() {
                let _ = waker.wake();
            }
        }
    }
}

/// What a workload does with its share of the clients.
pub trait Workload {
    /// A line (without its newline) arrived at joined client `client`
    /// (index in this worker's list) at `now`.
    fn line(&mut self, client: usize, line: &[u8], now: Instant);

    /// Whole lines arrived at once (each ends with `\n`): by default each
    /// goes to [`Workload::line`]; a workload that only counts can do a
    /// block in one pass.
    #[inline]
    fn lines(&mut self, client: usize, block: &[u8], now: Instant) {
        for line in crate::client::lines(block) {
            self.line(client, line, now);
        }
    }

    /// Whether some clients are to be read before the others of a batch.
    fn prioritises(&self) -> bool {
        false
    }

    /// Whether client `client` is read first (see [`Workload::prioritises`]).
    fn priority(&self, _client: usize) -> bool {
        false
    }

    /// After the start signal (given at `start`): send what is due.
    /// Returns when it wants to be called again at the latest; it is also
    /// called after every batch of events.
    ///
    /// # Errors
    ///
    /// A client could not send.
    fn pump(
        &mut self,
        clients: &mut [Client],
        registry: &Registry,
        start: Instant,
    ) -> Result<Option<Instant>, ClientError>;

    /// Adds what was counted since the last call to the shared counters
    /// (once per turn of the loop, not once per line); returns a failure
    /// the workload noticed (the server dropping messages, say).
    fn publish(&mut self, shared: &Shared) -> Option<String>;
}

/// When one worker's clients joined.
#[derive(Debug, Default, Clone, Copy)]
pub struct JoinTimes {
    /// The first connection attempt.
    pub first_connect: Option<Instant>,
    /// The last welcome.
    pub last_joined: Option<Instant>,
}

/// One worker's share of a workload.
#[derive(Debug)]
pub struct Plan {
    /// The server.
    pub addr: SocketAddr,
    /// Nicknames of this worker's clients, in order (index = token).
    pub nicks: Vec<String>,
    /// Joins in flight at most (connected, welcome not yet seen).
    pub join_window: usize,
    /// `--tls`: the client configuration.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// `--ws`: over the WebSocket.
    pub ws: bool,
}

/// Runs one worker until the main thread says stop (or something fails,
/// which is recorded in `shared` and stops everyone). The clients are
/// closed when it returns.
pub fn drive<W: Workload>(plan: &Plan, shared: &Shared, workload: &mut W) -> JoinTimes {
    match drive_inner(plan, shared, workload) {
        Ok(times) => times,
        Err(message) => {
            shared.fail(message);
            JoinTimes::default()
        }
    }
}

fn drive_inner<W: Workload>(
    plan: &Plan,
    shared: &Shared,
    workload: &mut W,
) -> Result<JoinTimes, String> {
    let addr = plan.addr;
    let mut poll = Poll::new().map_err(|e| format!("cannot create a poller: {e}"))?;
    shared.wake_me(&poll)?;
    let mut events = Events::with_capacity(EVENTS_PER_POLL);
    let mut clients: Vec<Client> = Vec::with_capacity(plan.nicks.len());
    let mut reader = Reader {
        addr,
        shared,
        scratch: vec![0u8; READ_CHUNK],
        joining: 0,
        times: JoinTimes::default(),
        again: Vec::new(),
    };
    let mut wake_at: Option<Instant> = None;
    while !shared.stopping() {
        // Keep the joins in flight topped up.
        while reader.joining < plan.join_window && clients.len() < plan.nicks.len() {
            let token = Token(clients.len());
            let client = Client::connect(
                addr,
                &plan.nicks[token.0],
                poll.registry(),
                token,
                plan.tls.as_ref(),
                plan.ws,
            )
            .map_err(|e| e.describe(addr))?;
            reader.times.first_connect.get_or_insert_with(Instant::now);
            clients.push(client);
            reader.joining += 1;
        }
        let now = Instant::now();
        let timeout = if reader.again.is_empty() {
            wake_at.map_or(TICK, |at| at.saturating_duration_since(now).min(TICK))
        } else {
            Duration::ZERO // data is waiting
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll failed: {e}"));
        }
        // Two passes when the workload has clients to serve first (latency
        // probes): they are read before the rest of the batch.
        let passes = if workload.prioritises() { 2 } else { 1 };
        for pass in 0..passes {
            for event in events.iter() {
                let i = event.token().0;
                let Some(client) = clients.get_mut(i) else {
                    continue; // the waker
                };
                if passes == 2 && (pass == 0) != workload.priority(i) {
                    continue;
                }
                if event.is_writable() {
                    client
                        .on_writable(poll.registry())
                        .map_err(|e| e.describe(addr))?;
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    let to_the_end = event.is_read_closed() || event.is_error();
                    reader.read(client, i, to_the_end, workload)?;
                }
            }
        }
        // Sockets whose read budget ran out last turn.
        for i in std::mem::take(&mut reader.again) {
            if let Some(client) = clients.get_mut(i) {
                reader.read(client, i, true, workload)?;
            }
        }
        if let Some(start) = shared.started() {
            wake_at = workload
                .pump(&mut clients, poll.registry(), start)
                .map_err(|e| e.describe(addr))?;
        }
        if let Some(problem) = workload.publish(shared) {
            return Err(problem);
        }
    }
    Ok(reader.times)
}

/// A worker's reading: the shared buffer and what reads find out.
struct Reader<'a> {
    addr: SocketAddr,
    shared: &'a Shared,
    /// The read buffer, one for all the worker's clients.
    scratch: Vec<u8>,
    /// Joins in flight.
    joining: usize,
    /// When the joins happened.
    times: JoinTimes,
    /// Clients to read again next turn (their budget ran out).
    again: Vec<usize>,
}

impl Reader<'_> {
    /// Reads client `i` and hands its lines to the workload.
    fn read<W: Workload>(
        &mut self,
        client: &mut Client,
        i: usize,
        to_the_end: bool,
        workload: &mut W,
    ) -> Result<(), String> {
        let now = Instant::now();
        let outcome = client
            .read(&mut self.scratch, to_the_end, |block| {
                workload.lines(i, block, now)
            })
            .map_err(|e| e.describe(self.addr))?;
        if outcome.joined {
            self.joining -= 1;
            self.times.last_joined = Some(now);
            self.shared.joined.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.closed {
            self.shared.closed.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.more {
            self.again.push(i);
        }
        Ok(())
    }
}

/// How long the main thread waits, and for what.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The whole workload must be over by then.
    pub deadline: Instant,
    /// Give up when the progress count has not moved for this long.
    pub stall: Duration,
}

/// The main thread's view of a phase: it waits until `done` says so,
/// calling `tick` every few milliseconds (the progress bar), and gives up
/// on a worker's failure, a disconnect, a stall or the deadline.
///
/// # Errors
///
/// Why the phase did not finish, in one line.
pub fn watch(
    shared: &Shared,
    what: &str,
    limits: Limits,
    mut count: impl FnMut(&Shared) -> u64,
    mut done: impl FnMut(&Shared, u64) -> bool,
    mut tick: impl FnMut(u64),
) -> Result<(), String> {
    let mut last = count(shared);
    let mut moved = Instant::now();
    loop {
        if let Some(failure) = shared.failure() {
            return Err(failure);
        }
        let closed = shared.closed.load(Ordering::Relaxed);
        if closed > 0 {
            return Err(format!(
                "the server disconnected {closed} client(s) while {what} \
                 (too slow reading for its --max-outbuf, or it stopped)"
            ));
        }
        let now = Instant::now();
        let current = count(shared);
        tick(current);
        if done(shared, current) {
            return Ok(());
        }
        if current != last {
            last = current;
            moved = now;
        } else if now.duration_since(moved) >= limits.stall {
            return Err(format!(
                "nothing happened for {} while {what} (stuck at {current}; see --stall)",
                humantime::format_duration(limits.stall)
            ));
        }
        if now >= limits.deadline {
            return Err(format!(
                "the workload took longer than --timeout while {what} (at {current})"
            ));
        }
        std::thread::sleep(WATCH_EVERY);
    }
}

/// Tells the main thread at once when a worker panics (instead of letting
/// it wait for a stall): it fails the run when dropped while unwinding.
#[derive(Debug)]
pub struct PanicWatch<'a>(pub &'a Shared);

impl Drop for PanicWatch<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .fail("a generator thread panicked (a bug in suda-load)".to_string());
        }
    }
}

/// One plan per worker: the clients `hands` dealt it, named `PREFIX<id>`.
pub fn plans(
    ctx: &crate::context::Context,
    hands: &[Vec<usize>],
    prefix: &str,
    join_window: usize,
) -> Vec<Plan> {
    hands
        .iter()
        .map(|ids| Plan {
            addr: ctx.addr,
            nicks: ids.iter().map(|id| format!("{prefix}{id}")).collect(),
            join_window,
            tls: ctx.tls.clone(),
            ws: ctx.ws,
        })
        .collect()
}

/// Deals `count` clients out to `threads` workers, round robin: worker `t`
/// gets clients `t`, `t + threads`, ...
pub fn deal(count: usize, threads: usize) -> Vec<Vec<usize>> {
    let threads = threads.clamp(1, count.max(1));
    let mut hands = vec![Vec::with_capacity(count / threads + 1); threads];
    for id in 0..count {
        hands[id % threads].push(id);
    }
    hands
}

/// Runs one worker thread per plan, each with the workload `make(t)`
/// builds, while the main thread runs `main`; then stops the workers and
/// returns what `main` returned and every worker's workload and join times.
///
/// A worker that panics is reported as a failure in `shared`.
pub fn run_workers<'a, W, T>(
    plans: &'a [Plan],
    shared: &'a Shared,
    make: impl Fn(usize) -> W + Sync,
    main: impl FnOnce() -> T,
) -> (T, Vec<(W, JoinTimes)>)
where
    W: Workload + Send,
{
    std::thread::scope(|scope| {
        let make = &make;
        let handles: Vec<_> = plans
            .iter()
            .enumerate()
            .map(|(t, plan)| {
                std::thread::Builder::new()
                    .name(format!("load-{t}"))
                    .spawn_scoped(scope, move || {
                        let _watch = PanicWatch(shared);
                        let mut workload = make(t);
                        let times = drive(plan, shared, &mut workload);
                        (workload, times)
                    })
                    .map_err(|e| shared.fail(format!("cannot start a generator thread: {e}")))
            })
            .collect();
        let result = main();
        shared.stop();
        let mut done = Vec::with_capacity(handles.len());
        // A thread that could not start was reported already.
        for handle in handles.into_iter().flatten() {
            match handle.join() {
                Ok(worker) => done.push(worker),
                Err(_) => shared.fail("a generator thread panicked".to_string()),
            }
        }
        (result, done)
    })
}
