//! `latency`: a fixed offered rate into the room for a fixed time; every
//! message carries its send time, every receiver records how long it took.
//!
//! # Pacing
//!
//! Message `i` (of all senders together) is due at `start + i / rate` and
//! belongs to sender `i mod S`. A worker sends everything due whenever it
//! wakes, catching up if it woke late, and sleeps in `poll` until the next
//! due time. mio rounds poll timeouts up to whole milliseconds, so a send
//! may leave up to about a millisecond after its slot; that lag is recorded
//! (`send lag`) and is not part of the latency, which runs from the moment
//! the message is written into the payload to the moment a receiver's
//! `read` returns it.
//!
//! # Timestamps
//!
//! The payload starts with the send time as 20 decimal digits of
//! nanoseconds since the generator's origin (one `Instant` shared by all
//! its threads), padded to the message size. Receivers parse it and record
//! microseconds in an hdrhistogram (3 significant digits); the workers'
//! histograms are added up at the end.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::Registry;

use crate::client::{Client, ClientError};
use crate::context::{Context, Refusal};
use crate::fanout::void_line;
use crate::report::{Percentiles, Workload as Report};
use crate::worker::{self, Shared, Workload};

/// Digits of the timestamp at the start of each payload.
pub const STAMP_DIGITS: usize = 20;
/// Highest latency the histograms hold, µs (an hour); longer is clamped.
const HIGHEST_US: u64 = 3_600_000_000;

/// The sizes of a latency run.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Clients in the room.
    pub clients: usize,
    /// Clients that send, the first ones.
    pub senders: usize,
    /// Messages per second into the room, all senders together.
    pub rate: u64,
    /// How long to send.
    pub duration: Duration,
    /// Bytes of text per message (at least [`STAMP_DIGITS`]).
    pub bytes: usize,
    /// Receivers whose latency makes the figure, spread over the join
    /// order and read first in every batch.
    pub probes: usize,
}

impl Config {
    /// Messages of the whole run.
    pub fn total(&self) -> u64 {
        (self.duration.as_secs_f64() * self.rate as f64).round() as u64
    }

    /// When message `i` is due, after the start.
    fn due(&self, i: u64) -> Duration {
        let nanos = u128::from(i) * 1_000_000_000 / u128::from(self.rate.max(1));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Whether client `id` is a probe: `probes` of the receivers (never a
    /// sender), evenly spaced from the first.
    pub fn is_probe(&self, id: usize) -> bool {
        let Some(n) = id.checked_sub(self.senders) else {
            return false;
        };
        let receivers = self.clients - self.senders;
        let stride = (receivers / self.probes.max(1)).max(1);
        self.probes > 0 && n % stride == 0 && n / stride < self.probes
    }

    /// # Errors
    ///
    /// Sizes that make no sense, in words.
    pub fn check(&self) -> Result<(), String> {
        if self.senders == 0 || self.rate == 0 || self.duration.is_zero() {
            return Err("latency needs at least one sender, a rate and a duration".into());
        }
        if self.senders >= self.clients {
            return Err(format!(
                "latency needs more clients ({}) than senders ({})",
                self.clients, self.senders
            ));
        }
        if self.bytes < STAMP_DIGITS {
            return Err(format!(
                "latency messages carry a {STAMP_DIGITS}-digit timestamp: --latency-bytes must be at least {STAMP_DIGITS}"
            ));
        }
        Ok(())
    }
}

/// A new latency histogram (µs).
pub fn histogram() -> Histogram<u64> {
    // 1 µs to an hour, 3 significant digits: these bounds are valid.
    Histogram::new_with_bounds(1, HIGHEST_US, 3)
        .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits is valid"))
}

/// Sends on schedule: the local senders and where each one is.
#[derive(Debug)]
pub struct Pacer {
    cfg: Config,
    /// Stamps are nanoseconds since this.
    origin: Instant,
    /// (local index, index of its next message of the whole run).
    senders: Vec<(usize, u64)>,
    /// Messages of the whole run.
    total: u64,
    /// Messages sent and not yet added to the shared count.
    unpublished: u64,
    /// How late each send left, µs.
    pub lag: Histogram<u64>,
    /// The message being written.
    buf: Vec<u8>,
}

/// What a transport did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// It is on its way (or queued behind earlier output).
    Yes,
    /// The socket is full: try again at the next wake.
    Later,
}

impl Pacer {
    /// The pacer of the senders among `ids` (global ids of local clients).
    pub fn new(cfg: Config, origin: Instant, ids: &[usize]) -> Pacer {
        let senders = ids
            .iter()
            .enumerate()
            .filter(|(_, &id)| id < cfg.senders)
            .map(|(local, &id)| (local, id as u64))
            .collect();
        Pacer {
            cfg,
            origin,
            senders,
            total: cfg.total(),
            unpublished: 0,
            lag: histogram(),
            buf: Vec::with_capacity(cfg.bytes + 1),
        }
    }

    /// Local indexes of the senders.
    pub fn senders(&self) -> impl Iterator<Item = usize> + '_ {
        self.senders.iter().map(|&(local, _)| local)
    }

    /// Sends every message due by now through `send(local, line)` (the
    /// line ends with `\n`), and returns when the next one is due.
    ///
    /// # Errors
    ///
    /// What `send` returned.
    pub fn pump(
        &mut self,
        start: Instant,
        mut send: impl FnMut(usize, &[u8]) -> Result<Sent, ClientError>,
    ) -> Result<Option<Instant>, ClientError> {
        let mut next: Option<Instant> = None;
        let step = self.cfg.senders as u64;
        let woke = Instant::now();
        for (local, i) in &mut self.senders {
            while *i < self.total {
                let due = start + self.cfg.due(*i);
                if due > woke {
                    next = Some(next.map_or(due, |n| n.min(due)));
                    break;
                }
                // The stamp is the moment it is written, not its slot.
                let now = Instant::now();
                write_message(
                    &mut self.buf,
                    now.duration_since(self.origin),
                    self.cfg.bytes,
                );
                if send(*local, &self.buf)? == Sent::Later {
                    next = Some(now + Duration::from_millis(1));
                    break;
                }
                self.lag
                    .saturating_record(micros(now.saturating_duration_since(due)));
                *i += step;
                self.unpublished += 1;
            }
        }
        Ok(next)
    }

    /// Adds the sends since the last call to the shared count.
    pub fn publish(&mut self, shared: &Shared) {
        if self.unpublished > 0 {
            shared
                .sent
                .fetch_add(std::mem::take(&mut self.unpublished), Ordering::Relaxed);
        }
    }
}

/// Writes a message: the stamp, padding to `bytes`, a newline.
pub fn write_message(buf: &mut Vec<u8>, since_origin: Duration, bytes: usize) {
    use std::io::Write as _;
    buf.clear();
    let nanos = u64::try_from(since_origin.as_nanos()).unwrap_or(u64::MAX);
    let _ = write!(buf, "{nanos:020}");
    buf.resize(bytes.max(STAMP_DIGITS), b'.');
    buf.push(b'\n');
}

/// The stamp of a delivered line `<prefix><n> >> <stamp>...`, if it is one.
pub fn stamp(line: &[u8], prefix: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(prefix)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let payload = rest.get(digits..)?.strip_prefix(b" >> ")?;
    let stamp = payload.get(..STAMP_DIGITS)?;
    stamp.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.wrapping_mul(10).wrapping_add(u64::from(b - b'0')))
    })
}

/// Receives: counts deliveries and records their latency.
#[derive(Debug)]
pub struct Recorder {
    /// Nickname prefix of the senders.
    prefix: &'static [u8],
    origin: Instant,
    /// Per local client: a probe (read first, its latency is the figure).
    probes: Vec<bool>,
    /// Latency at the probes, µs.
    pub latency: Histogram<u64>,
    /// Latency at every receiver, µs: includes the generator's own turn
    /// through the batch of sockets.
    pub latency_all: Histogram<u64>,
    /// Deliveries (lines with a stamp).
    pub deliveries: u64,
    /// Not yet added to the shared count.
    unpublished: u64,
    /// A server line that voids the run.
    problem: Option<String>,
}

impl Recorder {
    /// A recorder for lines from senders named `<prefix><n>`, for the local
    /// clients `ids`.
    pub fn new(prefix: &'static str, origin: Instant, cfg: &Config, ids: &[usize]) -> Recorder {
        Recorder {
            prefix: prefix.as_bytes(),
            origin,
            probes: ids.iter().map(|&id| cfg.is_probe(id)).collect(),
            latency: histogram(),
            latency_all: histogram(),
            deliveries: 0,
            unpublished: 0,
            problem: None,
        }
    }

    /// Whether local client `client` is a probe.
    #[inline]
    pub fn is_probe(&self, client: usize) -> bool {
        self.probes.get(client).copied().unwrap_or(false)
    }

    /// Whether any local client is a probe.
    pub fn has_probes(&self) -> bool {
        self.probes.iter().any(|&p| p)
    }

    /// One line received by local client `client`, read at `now`.
    #[inline]
    pub fn line(&mut self, client: usize, line: &[u8], now: Instant) {
        if let Some(sent) = stamp(line, self.prefix) {
            let now = u64::try_from(now.duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX);
            let micros = now.saturating_sub(sent) / 1000;
            self.latency_all.saturating_record(micros);
            if self.is_probe(client) {
                self.latency.saturating_record(micros);
            }
            self.deliveries += 1;
            self.unpublished += 1;
        } else if self.problem.is_none() {
            self.problem = void_line(line);
        }
    }

    /// Adds the deliveries since the last call to the shared count;
    /// returns a problem seen in the server's lines.
    pub fn publish(&mut self, shared: &Shared) -> Option<String> {
        if self.unpublished > 0 {
            shared
                .progress
                .fetch_add(std::mem::take(&mut self.unpublished), Ordering::Relaxed);
        }
        self.problem.take()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The TCP latency worker.
struct Latency {
    pacer: Pacer,
    recorder: Recorder,
}

impl Workload for Latency {
    #[inline]
    fn line(&mut self, client: usize, line: &[u8], now: Instant) {
        self.recorder.line(client, line, now);
    }

    fn prioritises(&self) -> bool {
        self.recorder.has_probes()
    }

    #[inline]
    fn priority(&self, client: usize) -> bool {
        self.recorder.is_probe(client)
    }

    fn pump(
        &mut self,
        clients: &mut [Client],
        registry: &Registry,
        start: Instant,
    ) -> Result<Option<Instant>, ClientError> {
        let next = self.pacer.pump(start, |local, line| {
            clients[local].queue(line)?;
            Ok(Sent::Yes)
        })?;
        for local in self.pacer.senders() {
            clients[local].flush(registry)?;
        }
        Ok(next)
    }

    fn publish(&mut self, shared: &Shared) -> Option<String> {
        self.pacer.publish(shared);
        self.recorder.publish(shared)
    }
}

/// What the main thread saw of a paced run.
pub struct Watched {
    /// Why it did not finish cleanly.
    pub outcome: Result<(), String>,
    /// The start signal, if the joins finished.
    pub start: Option<Instant>,
    /// CPU used from the start signal to the last delivery.
    pub used: Option<crate::context::Used>,
}

/// The main thread's part of a paced run (TCP or UDP): wait for the joins,
/// give the start signal, wait for the sends and then the deliveries.
pub fn watch_paced(ctx: &Context, cfg: &Config, shared: &Shared, name: &str) -> Watched {
    let limits = ctx.limits();
    let bar = ctx.bar(name, cfg.clients as u64, "joining");
    let joined = worker::watch(
        shared,
        "joining",
        limits,
        |s| s.joined.load(Ordering::Relaxed) as u64,
        |_, n| n == cfg.clients as u64,
        |n| bar.set_position(n),
    );
    if let Err(e) = joined {
        bar.finish_and_clear();
        return Watched {
            outcome: Err(e),
            start: None,
            used: None,
        };
    }
    let total = cfg.total();
    let full = total * (cfg.clients as u64 - 1);
    bar.set_message("sending");
    bar.set_position(0);
    bar.set_length(full);
    let meter = ctx.meter();
    let start = Instant::now();
    shared.go(start);
    // Sending takes the configured time; stalls only count once it is over.
    let sending = worker::Limits {
        stall: cfg.duration + limits.stall,
        ..limits
    };
    let outcome = worker::watch(
        shared,
        "sending",
        sending,
        |s| s.progress.load(Ordering::Relaxed),
        |s, _| s.sent.load(Ordering::Relaxed) >= total,
        |n| bar.set_position(n),
    )
    .and_then(|()| {
        bar.set_message("draining");
        worker::watch(
            shared,
            "waiting for the last deliveries",
            limits,
            |s| s.progress.load(Ordering::Relaxed),
            |_, n| n >= full,
            |n| bar.set_position(n),
        )
    });
    let used = meter.stop();
    bar.finish_and_clear();
    Watched {
        outcome,
        start: Some(start),
        used: Some(used),
    }
}

/// Fills in a latency record from the workers' pacers and recorders.
pub fn finish_report(
    report: &mut Report,
    cfg: &Config,
    watched: Watched,
    parts: &[(&Pacer, &Recorder)],
    shared: &Shared,
    lossy: bool,
) {
    if watched.start.is_none() {
        report.error = watched.outcome.err().or_else(|| shared.failure());
        return;
    }
    let mut latency = histogram();
    let mut latency_all = histogram();
    let mut lag = histogram();
    let mut deliveries = 0;
    for (pacer, recorder) in parts {
        let _ = latency.add(&recorder.latency);
        let _ = latency_all.add(&recorder.latency_all);
        let _ = lag.add(&pacer.lag);
        deliveries += recorder.deliveries;
    }
    let sent = shared.sent.load(Ordering::Relaxed);
    let expected = sent * (cfg.clients as u64 - 1);
    let lost = expected.saturating_sub(deliveries);
    let seconds = cfg.duration.as_secs_f64();
    report.messages_sent = Some(sent);
    report.offered_rate = Some(cfg.rate as f64);
    report.deliveries = Some(deliveries);
    report.expected = Some(expected);
    report.lost = Some(lost);
    report.seconds = Some(seconds);
    report.deliveries_per_second = Some(deliveries as f64 / seconds);
    report.latency_us = Percentiles::of(&latency);
    report.latency_all_receivers_us = Percentiles::of(&latency_all);
    report.send_lag_us = Percentiles::of(&lag);
    if let Some(used) = &watched.used {
        used.record(report);
    }
    report.error = match watched.outcome {
        // Datagrams may be dropped; over UDP a loss is a figure, not a failure.
        Err(_) if lossy && lost > 0 && shared.failure().is_none() => None,
        Err(e) => Some(if lost > 0 {
            format!("{lost} deliveries lost: {e}")
        } else {
            e
        }),
        Ok(()) if lost > 0 && !lossy => Some(format!("{lost} deliveries lost")),
        Ok(()) => None,
    };
}

/// Runs the latency workload over TCP.
///
/// # Errors
///
/// [`Refusal::Unreachable`] when the server cannot be reached.
pub fn run(ctx: &Context, cfg: &Config) -> Result<Report, Refusal> {
    const PREFIX: &str = "ldl";
    let mut report = Report::new("latency", ctx.transport(), cfg.clients as u64);
    report.senders = Some(cfg.senders as u64);
    report.message_bytes = Some(cfg.bytes as u64);
    report.offered_rate = Some(cfg.rate as f64);
    if let Err(e) = ctx.ready(cfg.clients, cfg.check())? {
        report.error = Some(e);
        return Ok(report);
    }
    let hands = worker::deal(cfg.clients, ctx.threads);
    let plans = worker::plans(ctx, &hands, PREFIX, cfg.clients);
    let shared = Shared::default();
    let (watched, workers) = worker::run_workers(
        &plans,
        &shared,
        |t| Latency {
            pacer: Pacer::new(*cfg, ctx.origin, &hands[t]),
            recorder: Recorder::new(PREFIX, ctx.origin, cfg, &hands[t]),
        },
        || watch_paced(ctx, cfg, &shared, "latency"),
    );
    let parts: Vec<(&Pacer, &Recorder)> = workers
        .iter()
        .map(|(w, _)| (&w.pacer, &w.recorder))
        .collect();
    finish_report(&mut report, cfg, watched, &parts, &shared, false);
    report.ok = report.error.is_none();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_survives_the_trip_through_the_room() {
        let mut buf = Vec::new();
        write_message(&mut buf, Duration::from_nanos(1_234_567_890), 64);
        assert_eq!(buf.len(), 65);
        assert_eq!(buf.last(), Some(&b'\n'));
        let mut line = b"ldl7 >> ".to_vec();
        line.extend_from_slice(&buf[..buf.len() - 1]);
        assert_eq!(stamp(&line, b"ldl"), Some(1_234_567_890));
        assert_eq!(stamp(b"ldl7 >> ldl7", b"ldl"), None);
        assert_eq!(stamp(b"[Server]: ldl7 has joined the chat.", b"ldl"), None);
    }

    #[test]
    fn probes_are_spread_over_the_receivers() {
        let cfg = Config {
            clients: 100,
            senders: 10,
            rate: 1000,
            duration: Duration::from_secs(1),
            bytes: 64,
            probes: 10,
        };
        let probes: Vec<usize> = (0..100).filter(|&id| cfg.is_probe(id)).collect();
        assert_eq!(probes, vec![10, 19, 28, 37, 46, 55, 64, 73, 82, 91]);
        let all = Config {
            probes: 1000,
            ..cfg
        };
        assert_eq!((0..100).filter(|&id| all.is_probe(id)).count(), 90);
        let none = Config { probes: 0, ..cfg };
        assert!((0..100).all(|id| !none.is_probe(id)));
    }

    #[test]
    fn the_schedule_spreads_messages_evenly() {
        let cfg = Config {
            clients: 10,
            senders: 3,
            rate: 1000,
            duration: Duration::from_secs(2),
            bytes: 64,
            probes: 10,
        };
        assert_eq!(cfg.total(), 2000);
        assert_eq!(cfg.due(0), Duration::ZERO);
        assert_eq!(cfg.due(1), Duration::from_millis(1));
        assert_eq!(cfg.due(1500), Duration::from_millis(1500));
    }

    #[test]
    fn a_late_pacer_catches_up_and_each_sender_takes_its_turn() {
        let cfg = Config {
            clients: 4,
            senders: 2,
            rate: 1000,
            duration: Duration::from_millis(10),
            bytes: 32,
            probes: 1,
        };
        let origin = Instant::now();
        let mut pacer = Pacer::new(cfg, origin, &[0, 1, 2, 3]);
        // Started 20 ms ago: all ten messages are overdue.
        let start = Instant::now() - Duration::from_millis(20);
        let mut sent = Vec::new();
        let next = pacer
            .pump(start, |local, line| {
                assert_eq!(line.len(), 33);
                sent.push(local);
                Ok(Sent::Yes)
            })
            .expect("pump");
        assert_eq!(next, None, "nothing left to send");
        assert_eq!(sent.iter().filter(|&&l| l == 0).count(), 5);
        assert_eq!(sent.iter().filter(|&&l| l == 1).count(), 5);
        assert_eq!(pacer.lag.len(), 10);
    }
}
