//! `suda-load`: what can this machine's suda server hold? The load
//! generator behind `scripts/loadtest.sh`.
//!
//! It joins simulated participants to a running server (over the same
//! sockets and lines as people use) and runs workloads one after another,
//! then prints one table, or JSON with `--json`.
//!
//! # Layout
//!
//! - [`client`]: one participant over TCP: connect, join, lines split with
//!   memchr, output waiting for the socket.
//! - [`worker`]: the threads (one mio poll each over a share of the
//!   clients), the start and stop signals, the main thread's watch.
//! - [`fanout`], [`latency`], [`udp`], [`capacity`]: the workloads.
//! - [`pending`]: `--pending-schedules`, scheduled messages left waiting in
//!   the server before the workloads run.
//! - [`context`]: the run's settings, the checks before a workload (server
//!   reachable, room big enough, file descriptors), CPU meters.
//! - [`procfs`]: CPU time and memory of the server and the generator.
//! - [`report`]: the table and the JSON.
//!
//! The generator must never be the bottleneck: reads take 256 KiB at a
//! time, a fanout receiver counts the lines of a whole read with memchr's
//! vectorised count, and the work spreads over `--threads` polls. The table shows its CPU time
//! beside the server's, so a reader can check.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod capacity;
mod client;
mod context;
mod fanout;
mod latency;
mod pending;
mod procfs;
mod report;
mod tls;
mod udp;
mod worker;
mod ws;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use crate::context::{Context, Refusal};
use crate::report::Run;

/// Threads used when `--threads` is not given, at most.
const MAX_DEFAULT_THREADS: usize = 8;

/// suda-load: joins simulated participants to a suda server and measures
/// what it holds: throughput (fanout), latency at a fixed rate, and memory
/// per idle connection (capacity). Usually run through scripts/loadtest.sh,
/// which also starts the server.
///
/// The server must not limit the rate (`suda serve --rate off`) and must
/// admit enough people (--max-clients); the generator says so if not.
#[derive(Debug, Parser)]
#[command(name = "suda-load", version)]
struct Args {
    /// The server to load.
    #[arg(long, default_value = "127.0.0.1:9999", value_name = "HOST:PORT")]
    addr: String,

    /// The server's process id, for its CPU time and memory (/proc/PID).
    /// scripts/loadtest.sh passes it when it started the server.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,

    /// Workloads to run, comma-separated; they run in the order fanout,
    /// latency, udp, capacity.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fanout,latency,capacity",
        value_name = "LIST"
    )]
    only: Vec<Which>,

    /// Also run the latency workload over UDP, beside TCP (the server must
    /// be started with --udp).
    #[arg(long)]
    udp: bool,

    /// Speak TLS to the server (it needs --tls-cert or --tls-self-signed);
    /// any certificate is accepted.
    #[arg(long, conflicts_with = "udp")]
    tls: bool,

    /// Join every client over the web client's WebSocket (`/ws`) instead
    /// of a bare line stream, to compare the two (with --tls: `wss`).
    #[arg(long, conflicts_with = "udp")]
    ws: bool,

    /// Print JSON instead of the table (progress still goes to standard error).
    #[arg(long)]
    json: bool,

    /// Small sizes for a smoke run, a few seconds in all; sizes given
    /// explicitly still win.
    #[arg(long)]
    quick: bool,

    /// Generator threads, each with its own poll over a share of the
    /// clients [default: the CPUs this process may run on, at most 8].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,

    /// Give up on a workload that runs longer than this.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,

    /// Give up on a workload when nothing moves for this long (a lost
    /// delivery, a stuck server).
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION")]
    stall: Duration,

    /// Before each workload, wait up to this long for the server's CPU to
    /// go quiet (the previous workload's clients leaving). Needs --server-pid.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    settle: Duration,

    /// No progress bar.
    #[arg(long)]
    no_progress: bool,

    /// fanout: clients in the room [default: 100; --quick: 20].
    #[arg(long, help_heading = "Fanout (throughput)", value_name = "N",
          value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    fanout_clients: Option<u32>,

    /// fanout: clients that send [default: 10; --quick: 4].
    #[arg(long, help_heading = "Fanout (throughput)", value_name = "S",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    fanout_senders: Option<u32>,

    /// fanout: messages per sender [default: 20000; --quick: 2000].
    #[arg(long, help_heading = "Fanout (throughput)", value_name = "M",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    fanout_messages: Option<u64>,

    /// fanout: bytes of text per message [default: 64].
    #[arg(long, help_heading = "Fanout (throughput)", value_name = "B",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    fanout_bytes: Option<u32>,

    /// fanout: messages a sender may have in flight, not yet seen by the
    /// last client [default: 100].
    #[arg(long, help_heading = "Fanout (throughput)", value_name = "W",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    fanout_window: Option<u64>,

    /// latency: clients in the room [default: 100; --quick: 20].
    #[arg(long, help_heading = "Latency (fixed rate)", value_name = "N",
          value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    latency_clients: Option<u32>,

    /// latency: clients that send, taking turns [default: 10; --quick: 4].
    #[arg(long, help_heading = "Latency (fixed rate)", value_name = "S",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    latency_senders: Option<u32>,

    /// latency: messages per second into the room, all senders together
    /// [default: 1000; --quick: 200].
    #[arg(long, help_heading = "Latency (fixed rate)", value_name = "PER_SECOND",
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    latency_rate: Option<u64>,

    /// latency: how long to send [default: 10s; --quick: 2s].
    #[arg(long, help_heading = "Latency (fixed rate)", value_name = "DURATION",
          value_parser = parse_duration)]
    latency_duration: Option<Duration>,

    /// latency: bytes of text per message, at least 20 (the timestamp) [default: 64].
    #[arg(long, help_heading = "Latency (fixed rate)", value_name = "B",
          value_parser = clap::value_parser!(u32).range(20..=1_000_000))]
    latency_bytes: Option<u32>,

    /// latency: receivers whose latency makes the figure, spread over the
    /// room and read first in every batch (every receiver still counts
    /// for losses) [default: 10].
    #[arg(long, help_heading = "Latency (fixed rate)", value_name = "P",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    latency_probes: Option<u32>,

    /// Before the workloads, leave this many scheduled messages pending in
    /// the server (six days ahead), to see that they cost the room nothing.
    /// The server needs --max-scheduled and --max-scheduled-total at least N.
    #[arg(long, default_value_t = 0, value_name = "N",
          value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    pending_schedules: u64,

    /// capacity: idle clients to join [default: 10000; --quick: 500].
    #[arg(long, help_heading = "Capacity (memory)", value_name = "C",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    capacity_clients: Option<u32>,

    /// capacity: joins in flight at once [default: 256].
    #[arg(long, help_heading = "Capacity (memory)", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    capacity_concurrency: Option<u32>,

    /// Check the flags and exit, connecting to nothing: scripts/loadtest.sh
    /// runs this before it starts a server, so a typo fails at once.
    #[arg(long, hide = true)]
    check_args: bool,
}

/// A workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum Which {
    /// N clients, S senders, M messages each: deliveries per second.
    Fanout,
    /// A fixed rate for a fixed time: p50, p99, p99.9, max.
    Latency,
    /// The latency workload over UDP.
    Udp,
    /// C idle clients: join time and server memory per connection.
    Capacity,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("expected a duration such as 10s, 2m or 1h30m ({e})"))
}

/// The value given, or the default for a normal or a `--quick` run.
fn pick<T>(given: Option<T>, normal: T, quick: T, is_quick: bool) -> T {
    given.unwrap_or(if is_quick { quick } else { normal })
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => return suda::cli::report_usage_error("suda-load", &e),
    };
    if args.check_args {
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("suda-load: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen workloads and prints the result.
///
/// # Errors
///
/// The address is not one, or the server cannot be reached at all.
fn run(args: &Args) -> Result<ExitCode, String> {
    let addr = resolve(&args.addr)?;
    // Each client is a descriptor: lift the soft limit to the hard one.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let q = args.quick;
    let fanout = fanout::Config {
        clients: pick(args.fanout_clients, 100, 20, q) as usize,
        senders: pick(args.fanout_senders, 10, 4, q) as usize,
        messages: pick(args.fanout_messages, 20_000, 2_000, q),
        bytes: pick(args.fanout_bytes, 64, 64, q) as usize,
        window: pick(args.fanout_window, 100, 100, q),
    };
    let latency = latency::Config {
        clients: pick(args.latency_clients, 100, 20, q) as usize,
        senders: pick(args.latency_senders, 10, 4, q) as usize,
        rate: pick(args.latency_rate, 1000, 200, q),
        duration: pick(
            args.latency_duration,
            Duration::from_secs(10),
            Duration::from_secs(2),
            q,
        ),
        bytes: pick(args.latency_bytes, 64, 64, q) as usize,
        probes: pick(args.latency_probes, 10, 10, q) as usize,
    };
    let capacity = capacity::Config {
        clients: pick(args.capacity_clients, 10_000, 500, q) as usize,
        concurrency: pick(args.capacity_concurrency, 256, 256, q) as usize,
    };
    let mut which = args.only.clone();
    if args.udp {
        which.push(Which::Udp);
    }
    which.sort();
    which.dedup();

    let threads = args.threads.map_or_else(default_threads, usize::from);
    let ctx = Context {
        addr,
        threads,
        server: args.server_pid,
        timeout: args.timeout,
        stall: args.stall,
        settle: args.settle,
        origin: Instant::now(),
        progress: !args.no_progress,
        tls: if args.tls { Some(tls::config()?) } else { None },
        ws: args.ws,
    };
    let mut run = Run {
        tool: "suda-load",
        version: env!("CARGO_PKG_VERSION"),
        addr: addr.to_string(),
        server_pid: args.server_pid,
        threads,
        pending_schedules: args.pending_schedules,
        workloads: Vec::new(),
    };
    if args.pending_schedules > 0 {
        let took = pending::fill(addr, args.pending_schedules)?;
        eprintln!(
            "suda-load: {} scheduled messages pending in the server ({:.1} s to schedule)",
            args.pending_schedules,
            took.as_secs_f64()
        );
    }
    let mut unreachable = None;
    for workload in which {
        ctx.settle_server();
        let result = match workload {
            Which::Fanout => fanout::run(&ctx, &fanout),
            Which::Latency => latency::run(&ctx, &latency),
            Which::Udp => udp::run(&ctx, &latency),
            Which::Capacity => capacity::run(&ctx, &capacity),
        };
        match result {
            Ok(mut report) => {
                report.judge_generator(threads);
                if let Some(error) = &report.error {
                    eprintln!("suda-load: {}: {error}", report.name);
                }
                run.workloads.push(report);
            }
            Err(Refusal::Unreachable(message) | Refusal::Workload(message)) => {
                unreachable = Some(message);
                break;
            }
        }
    }
    let ok = unreachable.is_none() && run.workloads.iter().all(|w| w.ok);
    if !run.workloads.is_empty() {
        if args.json {
            let json = serde_json::to_string_pretty(&run)
                .map_err(|e| format!("cannot write the JSON: {e}"))?;
            println!("{json}");
        } else {
            print!("{}", report::table(&run));
        }
    }
    if let Some(message) = unreachable {
        return Err(message);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `HOST:PORT` to an address, with a message an operator can act on.
fn resolve(spec: &str) -> Result<SocketAddr, String> {
    spec.to_socket_addrs()
        .map_err(|e| format!("cannot use --addr {spec}: {e} (expected HOST:PORT)"))?
        .next()
        .ok_or_else(|| format!("cannot use --addr {spec}: the name has no address"))
}

/// One thread per CPU this process may run on (`taskset` narrows it).
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_DEFAULT_THREADS)
}
