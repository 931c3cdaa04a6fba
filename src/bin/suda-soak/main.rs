//! `suda-soak`: a long mixed load against a running server, behind
//! `scripts/soak.sh`. People join and leave by every exit, chat, whisper
//! and schedule; a slow reader, a flooder, TLS, UDP and WebSocket clients
//! and someone sharing files run beside them. Every 10 s the server's
//! memory, open descriptors and CPU go into a CSV. It fails (exit 1) if a
//! steady participant loses a line or gets a scheduled message twice, if a
//! WebSocket participant misses a steady line, if a shared file comes back
//! different, if the server answers a probe later than 1 s, or if memory or
//! descriptors keep growing after the warm-up.
//!
//! # Layout
//!
//! - [`conn`]: one blocking line connection, plain or TLS.
//! - [`ws`]: one blocking WebSocket connection, a line per text frame.
//! - [`http`]: a minimal HTTP client, for the uploads and downloads.
//! - [`kinds`]: the kinds of client, one function each.
//! - [`crash`]: the client side of `scripts/crashloop.sh` (`crash-load`,
//!   `crash-drain`, `crash-check`).
//! - this file: the run, the sampler and the verdict.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod conn;
mod crash;
mod http;
mod kinds;
mod lines;
#[allow(dead_code)]
#[path = "../suda-load/procfs.rs"]
mod procfs;
#[allow(dead_code, unused_imports)]
#[path = "../suda-load/tls.rs"]
mod tls;
mod ws;

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rustls::ClientConfig;

use crate::procfs::Pid;

/// The kinds of client and how many of each. A new kind is a function in
/// `kinds.rs` and a row here.
const KINDS: &[(&str, usize, Kind)] = &[
    ("steady", STEADY, kinds::steady),
    ("churner", 6, kinds::churner),
    ("slow reader", 1, kinds::slow_reader),
    ("flooder", 1, kinds::flooder),
    ("udp", 2, kinds::udp),
    ("prober", 1, kinds::prober),
    ("websocket", 2, kinds::websocket),
    ("files", 1, kinds::files),
];

/// A kind of client: its thread's body, given the shared state and its
/// number among its kind.
type Kind = fn(&Soak, usize);

/// Steady participants (see [`kinds::steady`]).
const STEADY: usize = 4;

/// How often the server is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// The slowest answer to a probe that passes.
const PROBE_LIMIT: Duration = Duration::from_secs(1);

/// suda-soak: a long mixed load against a running suda server, with a CSV
/// of its memory, descriptors and CPU (`run`), and the client side of the
/// kill -9 loop. Usually run by scripts/soak.sh and scripts/crashloop.sh,
/// which start the server with the flags this expects.
#[derive(Debug, Parser)]
#[command(name = "suda-soak", version)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// The soak run.
    Run(RunArgs),
    /// One round of the kill -9 loop: schedule and chat until the server dies.
    CrashLoad {
        /// The server.
        #[arg(long)]
        addr: SocketAddr,
        /// The round's number (names and texts carry it).
        #[arg(long)]
        round: u32,
        /// Where acknowledgements are appended.
        #[arg(long)]
        ledger: PathBuf,
        /// Where received scheduled lines are appended.
        #[arg(long)]
        seen: PathBuf,
    },
    /// After the last round: receive what is still pending.
    CrashDrain {
        /// The server.
        #[arg(long)]
        addr: SocketAddr,
        /// Where received scheduled lines are appended.
        #[arg(long)]
        seen: PathBuf,
        /// How long to listen.
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// The verdict over all rounds.
    CrashCheck {
        /// The acknowledgements.
        #[arg(long)]
        ledger: PathBuf,
        /// The scheduled lines received.
        #[arg(long)]
        seen: PathBuf,
        /// The moments of the kills (`kill <unix ms>` lines).
        #[arg(long)]
        kills: PathBuf,
    },
}

/// The soak run's settings.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The server (TCP, TLS and UDP on this port).
    #[arg(long, value_name = "HOST:PORT")]
    addr: String,
    /// The server's process id, for /proc/PID.
    #[arg(long, value_name = "PID")]
    server_pid: u32,
    /// How long to run.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Where the samples go.
    #[arg(long, default_value = "soak.csv")]
    csv: PathBuf,
    /// The server's --idle-timeout (churners wait for it).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// The server's --login-timeout.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    login_timeout: Duration,
    /// The server's --udp-idle.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    udp_idle: Duration,
}

/// Running totals, for the CSV and the summary.
#[derive(Debug, Default)]
pub struct Counters {
    /// Lines the steady participants sent.
    pub sent: AtomicU64,
    /// Steady lines received and checked.
    pub checked: AtomicU64,
    /// Scheduled lines received by steady participants.
    pub scheduled_seen: AtomicU64,
    /// Churner and UDP joins.
    pub joined: AtomicU64,
    /// Leaves, by any exit.
    pub left: AtomicU64,
    /// Connections or joins that did not go through (not a failure).
    pub refused: AtomicU64,
    /// WebSocket joins.
    pub ws_joins: AtomicU64,
    /// WebSocket close frames the server did not answer with its own.
    pub ws_close_unanswered: AtomicU64,
    /// Files shared, downloaded and found the same.
    pub files_verified: AtomicU64,
    /// Probes answered.
    pub probes: AtomicU64,
    /// The slowest probe answer so far, in microseconds.
    pub probe_max_us: AtomicU64,
}

/// What every client thread shares.
#[derive(Debug)]
pub struct Soak {
    /// The server.
    pub addr: SocketAddr,
    /// The TLS client configuration (any certificate: the server's is
    /// self-signed).
    pub tls: Arc<ClientConfig>,
    /// The server's timeouts, for the clients that wait for them.
    pub idle_timeout: Duration,
    /// See [`Soak::idle_timeout`].
    pub login_timeout: Duration,
    /// See [`Soak::idle_timeout`].
    pub udp_idle: Duration,
    /// When the load stops.
    pub deadline: Instant,
    stop: AtomicBool,
    /// How many steady participants there are, and how many have joined.
    pub steady_count: usize,
    /// See [`Soak::steady_count`].
    pub steady_ready: AtomicUsize,
    /// The last number each steady participant sent.
    pub steady_sent: Vec<AtomicU64>,
    /// Messages steady0 scheduled.
    pub scheduled: AtomicU64,
    /// Totals.
    pub counters: Counters,
    failures: Mutex<Vec<String>>,
}

impl Soak {
    /// Whether the load goes on.
    pub fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && Instant::now() < self.deadline
    }

    /// Records a failure of the run (the first few are printed).
    pub fn fail(&self, why: String) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() < 20 {
            eprintln!("soak: FAIL {why}");
        }
        failures.push(why);
    }

    /// Records how long the server took to answer a probe.
    pub fn probe(&self, took: Duration, what: &str) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.counters.probes.fetch_add(1, Ordering::Relaxed);
        self.counters.probe_max_us.fetch_max(us, Ordering::Relaxed);
        if took > PROBE_LIMIT {
            self.fail(format!(
                "{what} answered in {} ms (limit {} ms)",
                took.as_millis(),
                PROBE_LIMIT.as_millis()
            ));
        }
    }
}

/// One row of the CSV.
#[derive(Debug, Clone, Copy)]
struct Sample {
    secs: u64,
    rss_kib: u64,
    fds: u64,
    cpu_pct: f64,
}

fn fds(pid: u32) -> std::io::Result<u64> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

fn main() -> ExitCode {
    match Cli::parse().mode {
        Mode::Run(args) => run(&args),
        Mode::CrashLoad {
            addr,
            round,
            ledger,
            seen,
        } => crash::load(addr, round, &ledger, &seen),
        Mode::CrashDrain { addr, seen, wait } => crash::drain(addr, &seen, wait),
        Mode::CrashCheck {
            ledger,
            seen,
            kills,
        } => crash::check(&ledger, &seen, &kills),
    }
}

fn run(args: &RunArgs) -> ExitCode {
    let Some(addr) = args.addr.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        eprintln!("soak: cannot resolve {}", args.addr);
        return ExitCode::from(2);
    };
    let tls = match tls::config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let soak = Arc::new(Soak {
        addr,
        tls,
        idle_timeout: args.idle_timeout,
        login_timeout: args.login_timeout,
        udp_idle: args.udp_idle,
        deadline: start + args.duration,
        stop: AtomicBool::new(false),
        steady_count: STEADY,
        steady_ready: AtomicUsize::new(0),
        steady_sent: (0..STEADY).map(|_| AtomicU64::new(0)).collect(),
        scheduled: AtomicU64::new(0),
        counters: Counters::default(),
        failures: Mutex::new(Vec::new()),
    });
    let mut threads = Vec::new();
    for &(name, count, run) in KINDS {
        for i in 0..count {
            let shared = Arc::clone(&soak);
            let spawned = thread::Builder::new()
                .name(format!("{name} {i}"))
                .spawn(move || run(&shared, i));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => soak.fail(format!("cannot start a {name} thread: {e}")),
            }
        }
    }
    let samples = sample(&soak, args.server_pid, start, &args.csv);
    soak.stop.store(true, Ordering::Relaxed);
    for handle in threads {
        if handle.join().is_err() {
            soak.fail("a client thread panicked".into());
        }
    }
    if fds(args.server_pid).is_err() {
        soak.fail("the server is gone".into());
    }
    let warmup = (args.duration / 5).min(Duration::from_secs(60));
    growth(&soak, &samples, warmup);
    summary(&soak, &samples);
    let failures = soak.failures.lock().unwrap_or_else(|e| e.into_inner());
    if failures.is_empty() {
        println!("soak: PASS");
        ExitCode::SUCCESS
    } else {
        println!(
            "soak: FAIL ({} problems; the first: {})",
            failures.len(),
            failures[0]
        );
        ExitCode::FAILURE
    }
}

/// Samples the server every [`SAMPLE_EVERY`] until the deadline, writing
/// each row to `csv` as it comes.
fn sample(soak: &Soak, pid: u32, start: Instant, csv: &PathBuf) -> Vec<Sample> {
    let mut out = match fs::File::create(csv) {
        Ok(file) => Some(file),
        Err(e) => {
            soak.fail(format!("cannot write {}: {e}", csv.display()));
            None
        }
    };
    if let Some(file) = &mut out {
        let _ = writeln!(
            file,
            "seconds,rss_kib,fds,cpu_percent,sent,checked,scheduled_seen,joined,left,probe_max_ms,ws_joins,files_verified"
        );
    }
    let mut samples = Vec::new();
    let mut last_cpu = procfs::cpu(Pid::Other(pid)).ok();
    let mut last_at = Instant::now();
    let mut next = start + SAMPLE_EVERY;
    while Instant::now() < soak.deadline {
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(soak.deadline.saturating_duration_since(Instant::now()));
        thread::sleep(wait);
        if Instant::now() < next {
            break;
        }
        next += SAMPLE_EVERY;
        let (Ok(memory), Ok(fds), Ok(cpu)) = (
            procfs::memory(Pid::Other(pid)),
            fds(pid),
            procfs::cpu(Pid::Other(pid)),
        ) else {
            soak.fail(format!("the server (pid {pid}) is gone"));
            break;
        };
        let elapsed = last_at.elapsed().as_secs_f64();
        let cpu_pct = last_cpu.map_or(0.0, |l| cpu.since(l).total() / elapsed * 100.0);
        last_cpu = Some(cpu);
        last_at = Instant::now();
        let s = Sample {
            secs: start.elapsed().as_secs(),
            rss_kib: memory.rss_kib,
            fds,
            cpu_pct,
        };
        samples.push(s);
        let c = &soak.counters;
        let mut row = String::new();
        let _ = write!(
            row,
            "{},{},{},{:.1},{},{},{},{},{},{:.1},{},{}",
            s.secs,
            s.rss_kib,
            s.fds,
            s.cpu_pct,
            c.sent.load(Ordering::Relaxed),
            c.checked.load(Ordering::Relaxed),
            c.scheduled_seen.load(Ordering::Relaxed),
            c.joined.load(Ordering::Relaxed),
            c.left.load(Ordering::Relaxed),
            c.probe_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
            c.ws_joins.load(Ordering::Relaxed),
            c.files_verified.load(Ordering::Relaxed),
        );
        println!("soak: {row}");
        if let Some(file) = &mut out {
            let _ = writeln!(file, "{row}");
        }
    }
    samples
}

/// Fails the run if memory or descriptors keep growing after `warmup`:
/// the samples after it in thirds, each third's mean above the one before
/// by more than the noise allowed (10 % and 4 MiB of RSS; 16 descriptors,
/// a few churners caught mid-connect).
fn growth(soak: &Soak, samples: &[Sample], warmup: Duration) {
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.secs >= warmup.as_secs())
        .collect();
    if after.len() < 6 {
        println!(
            "soak: {} samples after the warm-up, too few to judge growth",
            after.len()
        );
        return;
    }
    let third = after.len() / 3;
    let mean = |part: &[&Sample], f: fn(&Sample) -> f64| {
        part.iter().map(|s| f(s)).sum::<f64>() / part.len() as f64
    };
    let parts = [
        &after[..third],
        &after[third..2 * third],
        &after[2 * third..],
    ];
    let rss: Vec<f64> = parts
        .iter()
        .map(|p| mean(p, |s| s.rss_kib as f64))
        .collect();
    let fd: Vec<f64> = parts.iter().map(|p| mean(p, |s| s.fds as f64)).collect();
    println!(
        "soak: RSS by third {:.0} / {:.0} / {:.0} KiB; fds {:.1} / {:.1} / {:.1}",
        rss[0], rss[1], rss[2], fd[0], fd[1], fd[2]
    );
    if rss[1] > rss[0] && rss[2] > rss[1] && rss[2] > rss[0] * 1.10 + 4096.0 {
        soak.fail(format!(
            "RSS keeps growing: {:.0} -> {:.0} -> {:.0} KiB",
            rss[0], rss[1], rss[2]
        ));
    }
    if fd[1] > fd[0] && fd[2] > fd[1] && fd[2] > fd[0] + 16.0 {
        soak.fail(format!(
            "open descriptors keep growing: {:.1} -> {:.1} -> {:.1}",
            fd[0], fd[1], fd[2]
        ));
    }
}

fn summary(soak: &Soak, samples: &[Sample]) {
    let c = &soak.counters;
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let fd_peak = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    println!(
        "soak: steady lines sent {}, checked {}, scheduled {} (seen {} times), churn joins {} leaves {} refused {}, WebSocket joins {} (close frames unanswered {}), files verified {}, probes {} (slowest {:.1} ms), peak RSS {} KiB, peak fds {}",
        c.sent.load(Ordering::Relaxed),
        c.checked.load(Ordering::Relaxed),
        soak.scheduled.load(Ordering::Relaxed),
        c.scheduled_seen.load(Ordering::Relaxed),
        c.joined.load(Ordering::Relaxed),
        c.left.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.ws_joins.load(Ordering::Relaxed),
        c.ws_close_unanswered.load(Ordering::Relaxed),
        c.files_verified.load(Ordering::Relaxed),
        c.probes.load(Ordering::Relaxed),
        c.probe_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
        peak,
        fd_peak,
    );
}
