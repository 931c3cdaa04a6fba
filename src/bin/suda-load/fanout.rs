//! `fanout`: N clients in one room, S of them send M messages each, as
//! fast as the room takes them. Every delivery is counted at its receiver.
//!
//! # Counting
//!
//! Sender `k` is client `k` (nickname `ldf<k>`). A receiver counts the
//! lines of each read in one vectorised pass and takes away the lines the
//! room said (`[Server]: ... has joined`, found by their rare leading
//! `[`), so join and leave notices are not counted. Each receiver should
//! get every message of every sender but itself; whatever is missing at
//! the end is *lost*, and more than that means someone else spoke.
//!
//! # The window
//!
//! A sender may be at most `--fanout-window` messages ahead of what the
//! *designated receiver* (the last client, never a sender) has seen from
//! it. That receiver parses the sender's number from each line and
//! publishes per-sender counts; the senders read them. The room's queues
//! stay bounded, so what is measured is the server's pace, not how much it
//! can buffer before it disconnects someone as a slow reader.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memchr::{memchr, memchr_iter};
use mio::Registry;

use crate::client::{Client, ClientError};
use crate::context::{Context, Refusal};
use crate::report::Workload as Report;
use crate::worker::{self, Shared, Workload};

/// Nicknames of this workload: `ldf0`, `ldf1`, ...
const PREFIX: &str = "ldf";
/// A sender blocked on the window of a receiver in another thread looks
/// again this soon.
const WINDOW_RECHECK: Duration = Duration::from_millis(1);

/// The sizes of a fanout run.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Clients in the room (N).
    pub clients: usize,
    /// Clients that send (S), the first S.
    pub senders: usize,
    /// Messages per sender (M).
    pub messages: u64,
    /// Bytes of text per message (B).
    pub bytes: usize,
    /// Messages a sender may have in flight (sent, not yet seen by the
    /// designated receiver).
    pub window: u64,
}

impl Config {
    /// Deliveries client `id` should get when sender `k` sent `sent[k]`.
    fn expected(&self, id: usize, sent: &[u64]) -> u64 {
        let all: u64 = sent.iter().sum();
        all - sent.get(id).copied().unwrap_or(0)
    }

    fn check(&self) -> Result<(), String> {
        if self.senders == 0 || self.messages == 0 || self.bytes == 0 || self.window == 0 {
            return Err("fanout needs at least one sender, message, byte and window slot".into());
        }
        if self.senders >= self.clients {
            return Err(format!(
                "fanout needs more clients ({}) than senders ({}): one who only listens sets the pace",
                self.clients, self.senders
            ));
        }
        Ok(())
    }
}

/// One worker's part.
struct Fanout<'a> {
    cfg: &'a Config,
    /// Per sender: messages the designated receiver has seen.
    acked: &'a [AtomicU64],
    /// Global id of each local client.
    ids: Vec<usize>,
    /// Deliveries per local client.
    got: Vec<u64>,
    /// Local senders: (local index, messages sent).
    senders: Vec<(usize, u64)>,
    /// Local index of the designated receiver, if it is ours.
    designated: Option<usize>,
    /// One message line, newline included.
    message: Vec<u8>,
    /// Deliveries not yet added to the shared count.
    unpublished: u64,
    /// Sends not yet added to the shared count.
    unpublished_sent: u64,
    /// When the last delivery arrived.
    last_delivery: Option<Instant>,
    /// A `[Server]:` line that means the measurement is void.
    problem: Option<String>,
}

impl<'a> Fanout<'a> {
    fn new(cfg: &'a Config, acked: &'a [AtomicU64], ids: Vec<usize>) -> Fanout<'a> {
        let senders = ids
            .iter()
            .enumerate()
            .filter(|(_, &id)| id < cfg.senders)
            .map(|(local, _)| (local, 0))
            .collect();
        let designated = ids.iter().position(|&id| id == cfg.clients - 1);
        let mut message = vec![b'x'; cfg.bytes];
        message.push(b'\n');
        Fanout {
            cfg,
            acked,
            got: vec![0; ids.len()],
            ids,
            senders,
            designated,
            message,
            unpublished: 0,
            unpublished_sent: 0,
            last_delivery: None,
            problem: None,
        }
    }
}

impl Workload for Fanout<'_> {
    fn line(&mut self, client: usize, line: &[u8], now: Instant) {
        if let Some(rest) = line.strip_prefix(PREFIX.as_bytes()) {
            self.got[client] += 1;
            self.unpublished += 1;
            self.last_delivery = Some(now);
            if Some(client) == self.designated {
                if let Some(ack) = leading_number(rest).and_then(|k| self.acked.get(k)) {
                    ack.fetch_add(1, Ordering::Release);
                }
            }
        } else if self.problem.is_none() {
            self.problem = void_line(line);
        }
    }

    /// Every receiver but the designated one only counts: the lines of a
    /// block, less those the room said (`[Server]: ...`, found by their
    /// rare `[`), in two vectorised passes instead of a step per line.
    /// A line from anyone else would be counted too, and show up as more
    /// deliveries than expected.
    fn lines(&mut self, client: usize, block: &[u8], now: Instant) {
        if Some(client) == self.designated {
            for line in crate::client::lines(block) {
                self.line(client, line, now);
            }
            return;
        }
        let total = memchr_iter(b'\n', block).count() as u64;
        let mut said = 0;
        for at in memchr_iter(b'[', block) {
            if at == 0 || block[at - 1] == b'\n' {
                said += 1;
                if self.problem.is_none() {
                    let end = memchr(b'\n', &block[at..]).map_or(block.len(), |e| at + e);
                    self.problem = void_line(&block[at..end]);
                }
            }
        }
        let deliveries = total - said;
        if deliveries > 0 {
            self.got[client] += deliveries;
            self.unpublished += deliveries;
            self.last_delivery = Some(now);
        }
    }

    fn pump(
        &mut self,
        clients: &mut [Client],
        registry: &Registry,
        _start: Instant,
    ) -> Result<Option<Instant>, ClientError> {
        let mut blocked = false;
        for (local, sent) in &mut self.senders {
            let left = self.cfg.messages - *sent;
            if left == 0 {
                continue;
            }
            let seen = self.acked[self.ids[*local]].load(Ordering::Acquire);
            let room = self
                .cfg
                .window
                .saturating_sub(*sent - seen.min(*sent))
                .min(left);
            if room == 0 {
                blocked = true;
                continue;
            }
            let client = &mut clients[*local];
            for _ in 0..room {
                client.queue(&self.message)?;
            }
            client.flush(registry)?;
            *sent += room;
            self.unpublished_sent += room;
        }
        // Acks from a receiver in this thread wake the poll; from another
        // thread they do not.
        Ok((blocked && self.designated.is_none()).then(|| Instant::now() + WINDOW_RECHECK))
    }

    fn publish(&mut self, shared: &Shared) -> Option<String> {
        if self.unpublished > 0 {
            shared
                .progress
                .fetch_add(std::mem::take(&mut self.unpublished), Ordering::Relaxed);
        }
        if self.unpublished_sent > 0 {
            shared.sent.fetch_add(
                std::mem::take(&mut self.unpublished_sent),
                Ordering::Relaxed,
            );
        }
        self.problem.take()
    }
}

/// A server line that makes the measurement meaningless, as a message.
pub fn void_line(line: &[u8]) -> Option<String> {
    if line.starts_with(b"[Server]: You are sending too fast") {
        Some("the server drops messages for flood control: start it with --rate off".into())
    } else if line.starts_with(b"[Server]: Message too long") {
        Some(
            "the server refuses the messages as too long: use fewer bytes or raise its --max-line"
                .into(),
        )
    } else {
        None
    }
}

/// The decimal number at the start of `bytes` (`12 >> x` gives 12).
pub fn leading_number(bytes: &[u8]) -> Option<usize> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 18 {
        return None;
    }
    Some(
        bytes[..digits]
            .iter()
            .fold(0usize, |n, &b| n * 10 + usize::from(b - b'0')),
    )
}

/// Runs a fanout workload.
///
/// # Errors
///
/// [`Refusal::Unreachable`] when the server cannot be reached (the run
/// stops); anything else is reported in the record.
pub fn run(ctx: &Context, cfg: &Config) -> Result<Report, Refusal> {
    let mut report = Report::new("fanout", ctx.transport(), cfg.clients as u64);
    report.senders = Some(cfg.senders as u64);
    report.message_bytes = Some(cfg.bytes as u64);
    if let Err(e) = ctx.ready(cfg.clients, cfg.check())? {
        report.error = Some(e);
        return Ok(report);
    }
    let acked: Vec<AtomicU64> = (0..cfg.senders).map(|_| AtomicU64::new(0)).collect();
    let hands = worker::deal(cfg.clients, ctx.threads);
    let plans = worker::plans(ctx, &hands, PREFIX, cfg.clients);
    let shared = Shared::default();
    let limits = ctx.limits();
    let bar = ctx.bar("fanout", cfg.clients as u64, "joining");
    let full = cfg.senders as u64 * cfg.messages * (cfg.clients as u64 - 1);
    let ((outcome, start, end, used), workers) = worker::run_workers(
        &plans,
        &shared,
        |t| Fanout::new(cfg, &acked, hands[t].clone()),
        || {
            let joined = worker::watch(
                &shared,
                "joining",
                limits,
                |s| s.joined.load(Ordering::Relaxed) as u64,
                |_, n| n == cfg.clients as u64,
                |n| bar.set_position(n),
            );
            if let Err(e) = joined {
                return (Err(e), None, Instant::now(), None);
            }
            bar.set_message("delivering");
            bar.set_position(0);
            bar.set_length(full);
            let meter = ctx.meter();
            let start = Instant::now();
            shared.go(start);
            let outcome = worker::watch(
                &shared,
                "delivering",
                limits,
                |s| s.progress.load(Ordering::Relaxed),
                |_, n| n >= full,
                |n| bar.set_position(n),
            );
            (outcome, Some(start), Instant::now(), Some(meter.stop()))
        },
    );
    bar.finish_and_clear();
    let Some(start) = start else {
        report.error = outcome.err().or_else(|| shared.failure());
        return Ok(report);
    };
    // What was sent, per sender, and what each client got.
    let mut sent = vec![0u64; cfg.senders];
    let mut got = Vec::with_capacity(cfg.clients);
    let mut last_delivery = None;
    for (fanout, _) in &workers {
        for &(local, n) in &fanout.senders {
            sent[fanout.ids[local]] = n;
        }
        got.extend(fanout.ids.iter().copied().zip(fanout.got.iter().copied()));
        last_delivery = last_delivery.max(fanout.last_delivery);
    }
    let expected: u64 = got.iter().map(|&(id, _)| cfg.expected(id, &sent)).sum();
    let lost: u64 = got
        .iter()
        .map(|&(id, n)| cfg.expected(id, &sent).saturating_sub(n))
        .sum();
    let extra: u64 = got
        .iter()
        .map(|&(id, n)| n.saturating_sub(cfg.expected(id, &sent)))
        .sum();
    let deliveries: u64 = got.iter().map(|&(_, n)| n).sum();
    let seconds = last_delivery
        .unwrap_or(end)
        .saturating_duration_since(start)
        .as_secs_f64();
    report.messages_sent = Some(sent.iter().sum());
    report.deliveries = Some(deliveries);
    report.expected = Some(expected);
    report.lost = Some(lost);
    report.seconds = Some(seconds);
    if seconds > 0.0 {
        report.deliveries_per_second = Some(deliveries as f64 / seconds);
    }
    if let Some(used) = used {
        used.record(&mut report);
    }
    report.error = match outcome {
        Err(e) => Some(if lost > 0 {
            format!("{lost} deliveries lost: {e}")
        } else {
            e
        }),
        Ok(()) if lost > 0 => Some(format!("{lost} deliveries lost")),
        Ok(()) if extra > 0 => Some(format!(
            "{extra} lines more than were sent: someone else is talking in the room"
        )),
        Ok(()) => None,
    };
    report.ok = report.error.is_none();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_numbers_are_read_from_the_line() {
        assert_eq!(leading_number(b"12 >> xxx"), Some(12));
        assert_eq!(leading_number(b"0 >> x"), Some(0));
        assert_eq!(leading_number(b" >> x"), None);
        assert_eq!(leading_number(b"99999999999999999999 >> x"), None);
    }

    #[test]
    fn a_sender_does_not_hear_itself() {
        let cfg = Config {
            clients: 5,
            senders: 2,
            messages: 10,
            bytes: 8,
            window: 4,
        };
        let sent = [10, 7];
        assert_eq!(cfg.expected(0, &sent), 7);
        assert_eq!(cfg.expected(1, &sent), 10);
        assert_eq!(cfg.expected(4, &sent), 17);
    }

    #[test]
    fn the_room_must_have_a_listener() {
        let cfg = Config {
            clients: 3,
            senders: 3,
            messages: 1,
            bytes: 1,
            window: 1,
        };
        assert!(cfg.check().is_err());
    }
}
