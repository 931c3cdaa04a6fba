//! `capacity`: C clients join and stay idle. How long do the joins take,
//! and how much memory does the server hold per connection?
//!
//! Joining is not free for the room: each newcomer is announced to
//! everyone already in, so C joins make C(C-1)/2 join notices (50 million
//! for 10 000 clients). The clients read them all, as people's terminals
//! would, or the server would disconnect them as slow readers. The server's
//! memory is read when every notice has arrived, so it is the memory of
//! the idle room, not of its queues in flight; the peak (VmHWM) shows the
//! queues.

use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::Registry;

use crate::client::{Client, ClientError};
use crate::context::{Context, Refusal};
use crate::report::Workload as Report;
use crate::worker::{self, Plan, Shared, Workload};

/// Nicknames of this workload: `ldc0`, `ldc1`, ...
const PREFIX: &str = "ldc";
/// The start of a join notice of one of ours...
const NOTICE: &[u8] = b"[Server]: ldc";
/// ... and its end.
const JOINED: &[u8] = b" has joined the chat.";

/// The sizes of a capacity run.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Clients to join.
    pub clients: usize,
    /// Joins in flight at most (connected, welcome not yet seen).
    pub concurrency: usize,
}

/// One worker's part: count the notices.
struct Capacity {
    notices: u64,
    unpublished: u64,
}

impl Workload for Capacity {
    #[inline]
    fn line(&mut self, _client: usize, line: &[u8], _now: Instant) {
        // Only joins: when the run ends, one worker may already be closing
        // its clients (leave notices) while another still reads.
        if line.starts_with(NOTICE) && line.ends_with(JOINED) {
            self.notices += 1;
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
    let mut report = Report::new("capacity", "tcp", cfg.clients as u64);
    if cfg.clients < 1 || cfg.concurrency < 1 {
        report.error = Some("capacity needs at least one client and one join at a time".into());
        return Ok(report);
    }
    if let Err(e) = ctx.check_fds(cfg.clients) {
        report.error = Some(e);
        return Ok(report);
    }
    match ctx.probe(cfg.clients) {
        Ok(()) => {}
        Err(Refusal::Workload(e)) => {
            report.error = Some(e);
            return Ok(report);
        }
        Err(unreachable) => return Err(unreachable),
    }
    let hands = worker::deal(cfg.clients, ctx.threads);
    let window = cfg.concurrency.div_ceil(hands.len()).max(1);
    let plans: Vec<Plan> = hands
        .iter()
        .map(|ids| Plan {
            addr: ctx.addr,
            nicks: ids.iter().map(|id| format!("{PREFIX}{id}")).collect(),
            join_window: window,
        })
        .collect();
    let shared = Shared::default();
    let limits = ctx.limits();
    let n = cfg.clients as u64;
    let notices = n * (n - 1) / 2;
    let before = ctx.server_memory();
    let meter = ctx.meter();
    let start = Instant::now();
    let bar = ctx.bar("capacity", n, "joining");
    let ((outcome, settled, after, used), workers) = worker::run_workers(
        &plans,
        &shared,
        |_| Capacity {
            notices: 0,
            unpublished: 0,
        },
        || {
            let outcome = worker::watch(
                &shared,
                "joining",
                limits,
                |s| s.joined.load(Ordering::Relaxed) as u64,
                |_, joined| joined == n,
                |joined| bar.set_position(joined),
            )
            .and_then(|()| {
                bar.set_message("join notices");
                bar.set_length(notices);
                worker::watch(
                    &shared,
                    "reading the join notices",
                    limits,
                    |s| s.progress.load(Ordering::Relaxed),
                    |_, seen| seen >= notices,
                    |seen| bar.set_position(seen),
                )
            });
            let settled = Instant::now();
            let used = meter.stop();
            // Every client joined and idle: the room at rest.
            (outcome, settled, ctx.server_memory(), used)
        },
    );
    bar.finish_and_clear();
    let mut seen = 0;
    let mut last_joined = None;
    for (capacity, times) in &workers {
        seen += capacity.notices;
        last_joined = last_joined.max(times.last_joined);
    }
    let joined = shared.joined.load(Ordering::Relaxed) as u64;
    report.deliveries = Some(seen);
    report.expected = Some(notices);
    report.lost = Some(notices.saturating_sub(seen));
    if joined == n {
        if let Some(last) = last_joined {
            report.join_seconds = Some(last.saturating_duration_since(start).as_secs_f64());
        }
        if outcome.is_ok() {
            report.settle_seconds = Some(settled.saturating_duration_since(start).as_secs_f64());
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
