//! `capacity`: C clients join and stay idle. How long do the joins take,
//! and how much memory does the server hold per connection?
//!
//! Joining is not free for the room: each newcomer is announced to
//! everyone already in. Up to the server's `--crowd-size` that is a line
//! per join for everyone (C(C-1)/2 lines for C clients); past it, the
//! server gathers joins into one summary per `--crowd-interval`. The
//! clients read whatever comes, as people's terminals would (or the server
//! would disconnect them as slow readers), and count the `[Server]:` lines.
//! The server's memory is read once every client has joined and no line
//! has arrived for [`QUIET`]: the memory of the idle room, not of its
//! queues in flight. The peak (VmHWM) shows the queues.
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::Registry;

use crate::client::{Client, ClientError};
use crate::context::{Context, Refusal};
use crate::report::Workload as Report;
use crate::worker::{self, Shared, Workload};

/// Nicknames of this workload: `ldc0`, `ldc1`, ...
const PREFIX: &str = "ldc";
/// What the room says.
const NOTICE: &[u8] = b"[Server]: ";
/// The room is at rest when no line has arrived for this long after the
/// last join.
const QUIET: Duration = Duration::from_millis(500);

/// The sizes of a capacity run.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Clients to join.
    pub clients: usize,
    /// Joins in flight at most (connected, welcome not yet seen).
    pub concurrency: usize,
}

/// One worker's part: count what the room says.
struct Capacity {
    unpublished: u64,
}

impl Workload for Capacity {
    #[inline]
    fn line(&mut self, _client: usize, line: &[u8], _now: Instant) {
        if line.starts_with(NOTICE) {
            self.unpublished += 1;
        }
    }

    fn pump(
        &mut self,
        _clients: &mut [Client],
        _registry: &Registry,
        _start: Instant,
    ) -> Result<Option<Instant>, ClientError> {
        Ok(None)
    }

    fn publish(&mut self, shared: &Shared) -> Option<String> {
        if self.unpublished > 0 {
            shared
                .progress
                .fetch_add(std::mem::take(&mut self.unpublished), Ordering::Relaxed);
        }
        None
    }
}

/// Runs the capacity workload.
///
/// # Errors
///
/// [`Refusal::Unreachable`] when the server cannot be reached.
pub fn run(ctx: &Context, cfg: &Config) -> Result<Report, Refusal> {
    let mut report = Report::new("capacity", ctx.transport(), cfg.clients as u64);
    let sizes = if cfg.clients < 1 || cfg.concurrency < 1 {
        Err("capacity needs at least one client and one join at a time".into())
    } else {
        Ok(())
    };
    if let Err(e) = ctx.ready(cfg.clients, sizes)? {
        report.error = Some(e);
        return Ok(report);
    }
    let hands = worker::deal(cfg.clients, ctx.threads);
    let window = cfg.concurrency.div_ceil(hands.len()).max(1);
    let plans = worker::plans(ctx, &hands, PREFIX, window);
    let shared = Shared::default();
    let limits = ctx.limits();
    let n = cfg.clients as u64;
    let before = ctx.server_memory();
    let meter = ctx.meter();
    let start = Instant::now();
    let bar = ctx.bar("capacity", n, "joining");
    let ((outcome, quiet_since, lines, after, used), workers) = worker::run_workers(
        &plans,
        &shared,
        |_| Capacity { unpublished: 0 },
        || {
            let joined = worker::watch(
                &shared,
                "joining",
                limits,
                |s| s.joined.load(Ordering::Relaxed) as u64,
                |_, joined| joined == n,
                |joined| bar.set_position(joined),
            );
            bar.set_message("room settling");
            // The last moment a line arrived, and how many had.
            let mut last = (shared.progress.load(Ordering::Relaxed), Instant::now());
            let outcome = joined.and_then(|()| {
                worker::watch(
                    &shared,
                    "waiting for the room to go quiet",
                    limits,
                    |s| s.progress.load(Ordering::Relaxed),
                    |_, lines| {
                        let now = Instant::now();
                        if lines != last.0 {
                            last = (lines, now);
                        }
                        now.duration_since(last.1) >= QUIET
                    },
                    |_| {},
                )
            });
            let used = meter.stop();
            // Every client joined and idle: the room at rest. The count is
            // taken now: once the workers stop, the first to close its
            // clients makes the others hear leave notices.
            (outcome, last.1, last.0, ctx.server_memory(), used)
        },
    );
    bar.finish_and_clear();
    let last_joined = workers.iter().filter_map(|(_, t)| t.last_joined).max();
    let joined = shared.joined.load(Ordering::Relaxed) as u64;
    report.deliveries = Some(lines);
    if joined == n {
        if let Some(last) = last_joined {
            report.join_seconds = Some(last.saturating_duration_since(start).as_secs_f64());
        }
        if outcome.is_ok() {
            report.settle_seconds =
                Some(quiet_since.saturating_duration_since(start).as_secs_f64());
        }
    }
    if let (Some(before), Some(after)) = (before, after) {
        report.server_rss_before_kib = Some(before.rss_kib);
        report.server_rss_after_kib = Some(after.rss_kib);
        report.server_rss_peak_kib = Some(after.peak_kib);
        report.server_rss_per_client_bytes =
            Some((after.rss_kib as f64 - before.rss_kib as f64) * 1024.0 / n as f64);
    }
    used.record(&mut report);
    report.error = outcome.err();
    report.ok = report.error.is_none();
    Ok(report)
}
