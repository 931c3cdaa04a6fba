//! What a run found: one record per workload, printed as one table (a
//! column per workload, a row per figure) or as JSON for machines.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The whole run, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Run {
    /// Always `suda-load`.
    pub tool: &'static str,
    /// The generator's version (the crate's).
    pub version: &'static str,
    /// The server's address.
    pub addr: String,
    /// The server's process id, when known (CPU and memory figures need it).
    pub server_pid: Option<u32>,
    /// Generator threads.
    pub threads: usize,
    /// Scheduled messages left pending in the server before the workloads
    /// (`--pending-schedules`).
    pub pending_schedules: u64,
    /// One record per workload, in the order they ran.
    pub workloads: Vec<Workload>,
}

/// Percentiles of a histogram of microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Percentiles {
    /// Values recorded.
    pub samples: u64,
    /// Median, µs.
    pub p50: u64,
    /// 99th percentile, µs.
    pub p99: u64,
    /// 99.9th percentile, µs.
    pub p99_9: u64,
    /// Largest, µs.
    pub max: u64,
    /// Mean, µs.
    pub mean: f64,
}

impl Percentiles {
    /// Reads the figures off a histogram; `None` if it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<Percentiles> {
        if histogram.is_empty() {
            return None;
        }
        Some(Percentiles {
            samples: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            mean: histogram.mean(),
        })
    }
}

/// One workload's figures. A figure that does not apply (or could not be
/// measured, like the server's memory without `--server-pid`) is `null`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Workload {
    /// `fanout`, `latency`, `latency-udp` or `capacity`.
    pub name: &'static str,
    /// `tcp` or `udp`.
    pub transport: &'static str,
    /// Everything expected happened: no error, nothing lost over TCP.
    pub ok: bool,
    /// Why not, in one line.
    pub error: Option<String>,
    /// Things to know when reading the figures (the generator was busy).
    pub notes: Vec<String>,
    /// Clients in the room.
    pub clients: u64,
    /// Clients that send.
    pub senders: Option<u64>,
    /// Chat messages sent (by all senders together).
    pub messages_sent: Option<u64>,
    /// Bytes of text per message (the line without its newline).
    pub message_bytes: Option<u64>,
    /// Messages per second offered to the room (`latency`).
    pub offered_rate: Option<f64>,
    /// Lines the receivers got: each message counts once per receiver
    /// (for `capacity`: the `[Server]:` lines, join notices or summaries).
    pub deliveries: Option<u64>,
    /// Deliveries there should have been, from what was actually sent.
    pub expected: Option<u64>,
    /// Expected deliveries that never arrived.
    pub lost: Option<u64>,
    /// Seconds measured: from the first send to the last delivery
    /// (`fanout`), the sending time (`latency`).
    pub seconds: Option<f64>,
    /// Deliveries per second over `seconds`.
    pub deliveries_per_second: Option<f64>,
    /// Send-to-receive time at the probe receivers (read first in every
    /// batch), µs: the figure.
    pub latency_us: Option<Percentiles>,
    /// The same at every receiver, µs: adds the generator's own turn
    /// through each batch of sockets, so it is an upper bound.
    pub latency_all_receivers_us: Option<Percentiles>,
    /// How late the sends left against their schedule, µs (pacing quality).
    pub send_lag_us: Option<Percentiles>,
    /// Seconds from the first connection to the last welcome (`capacity`).
    pub join_seconds: Option<f64>,
    /// Seconds from the first connection to the last line before the room
    /// went quiet (`capacity`).
    pub settle_seconds: Option<f64>,
    /// Server resident memory before the clients came, KiB.
    pub server_rss_before_kib: Option<u64>,
    /// Server resident memory with every client joined and idle, KiB.
    pub server_rss_after_kib: Option<u64>,
    /// Server's peak resident memory so far (VmHWM), KiB.
    pub server_rss_peak_kib: Option<u64>,
    /// (after - before) / clients, bytes.
    pub server_rss_per_client_bytes: Option<f64>,
    /// Server CPU seconds (user + system) over the measured phase.
    pub server_cpu_seconds: Option<f64>,
    /// Deliveries per server CPU second: the figure that holds on a noisy machine.
    pub deliveries_per_server_cpu_second: Option<f64>,
    /// Generator CPU seconds (user + system, all threads) over the same phase.
    pub generator_cpu_seconds: Option<f64>,
    /// Of which in the kernel (socket reads and writes).
    pub generator_system_seconds: Option<f64>,
    /// Generator CPU over the time measured and the threads it had: near
    /// 1.0 the generator, not the server, set the pace.
    pub generator_busy: Option<f64>,
    /// CPU seconds the rest of the machine used meanwhile (other processes,
    /// interrupt work not charged to either): high means the figures were
    /// taken on a busy machine.
    pub other_cpu_seconds: Option<f64>,
}

/// Above this share of its threads' time, the generator may have limited
/// what was measured, and the report says so.
const BUSY_WARNING: f64 = 0.8;

impl Workload {
    /// Works out how busy the generator's `threads` were over the measured
    /// time and adds a note when that is close to all of it.
    pub fn judge_generator(&mut self, threads: usize) {
        let Some(cpu) = self.generator_cpu_seconds else {
            return;
        };
        let Some(wall) = self.seconds.or(self.settle_seconds) else {
            return;
        };
        if wall <= 0.0 {
            return;
        }
        let busy = cpu / (wall * threads.max(1) as f64);
        self.generator_busy = Some(busy);
        if busy >= BUSY_WARNING {
            self.notes.push(format!(
                "the generator was busy {:.0}% of the time measured: it may have set the pace \
                 (give it more cores with --threads, or use smaller sizes)",
                busy * 100.0
            ));
        }
    }

    /// An empty record for `name`.
    pub fn new(name: &'static str, transport: &'static str, clients: u64) -> Workload {
        Workload {
            name,
            transport,
            clients,
            ..Workload::default()
        }
    }
}

/// The run as one table: a column per workload, a row per figure that at
/// least one workload has; failures are listed under it.
pub fn table(run: &Run) -> String {
    let rows: Vec<(&str, Vec<Option<String>>)> = ROWS
        .iter()
        .map(|(label, cell)| (*label, run.workloads.iter().map(cell).collect::<Vec<_>>()))
        .filter(|(_, cells)| cells.iter().any(Option::is_some))
        .collect();
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = run
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| {
            rows.iter()
                .filter_map(|(_, cells)| cells[i].as_ref().map(|c| c.chars().count()))
                .chain([w.name.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "suda-load against {}{}, {} generator thread{}{}\n\n",
        run.addr,
        run.server_pid
            .map(|p| format!(" (server pid {p})"))
            .unwrap_or_default(),
        run.threads,
        if run.threads == 1 { "" } else { "s" },
        if run.pending_schedules > 0 {
            format!(
                ", {} scheduled messages pending",
                count(run.pending_schedules)
            )
        } else {
            String::new()
        }
    );
    let _ = write!(out, "{:label_width$}", "");
    for (w, width) in run.workloads.iter().zip(&widths) {
        let _ = write!(out, "  {:>width$}", w.name);
    }
    out.push('\n');
    for (label, cells) in &rows {
        let _ = write!(out, "{label:label_width$}");
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {:>width$}", cell.as_deref().unwrap_or("-"));
        }
        out.push('\n');
    }
    for w in &run.workloads {
        if let Some(error) = &w.error {
            let _ = writeln!(out, "\n{}: {error}", w.name);
        }
        for note in &w.notes {
            let _ = writeln!(out, "\n{}: note: {note}", w.name);
        }
    }
    out
}

type Cell = fn(&Workload) -> Option<String>;

/// The table's rows, in order.
const ROWS: &[(&str, Cell)] = &[
    ("result", |w| {
        Some(if w.ok { "ok" } else { "FAILED" }.into())
    }),
    ("transport", |w| Some(w.transport.into())),
    ("clients", |w| Some(count(w.clients))),
    ("senders", |w| w.senders.map(count)),
    ("message bytes", |w| w.message_bytes.map(count)),
    ("offered rate (msg/s)", |w| w.offered_rate.map(rate)),
    ("messages sent", |w| w.messages_sent.map(count)),
    ("deliveries", |w| w.deliveries.map(count)),
    ("lost", |w| w.lost.map(count)),
    ("measured (s)", |w| w.seconds.map(seconds)),
    ("deliveries/s", |w| w.deliveries_per_second.map(rate)),
    ("latency p50", |w| w.latency_us.map(|p| micros(p.p50))),
    ("latency p99", |w| w.latency_us.map(|p| micros(p.p99))),
    ("latency p99.9", |w| w.latency_us.map(|p| micros(p.p99_9))),
    ("latency max", |w| w.latency_us.map(|p| micros(p.max))),
    ("  p99 at every receiver", |w| {
        w.latency_all_receivers_us.map(|p| micros(p.p99))
    }),
    ("send lag p99", |w| w.send_lag_us.map(|p| micros(p.p99))),
    ("join time (s)", |w| w.join_seconds.map(seconds)),
    ("room quiet after (s)", |w| w.settle_seconds.map(seconds)),
    ("server RSS before", |w| w.server_rss_before_kib.map(kib)),
    ("server RSS after", |w| w.server_rss_after_kib.map(kib)),
    ("server RSS peak", |w| w.server_rss_peak_kib.map(kib)),
    ("server RSS per client", |w| {
        w.server_rss_per_client_bytes.map(bytes)
    }),
    ("server CPU (s)", |w| w.server_cpu_seconds.map(seconds)),
    ("deliveries/server CPU-s", |w| {
        w.deliveries_per_server_cpu_second.map(rate)
    }),
    ("generator CPU (s)", |w| {
        w.generator_cpu_seconds.map(seconds)
    }),
    ("  of which kernel (s)", |w| {
        w.generator_system_seconds.map(seconds)
    }),
    ("  busy share of its threads", |w| {
        w.generator_busy.map(|b| format!("{:.0}%", b * 100.0))
    }),
    ("everything else CPU (s)", |w| {
        w.other_cpu_seconds.map(seconds)
    }),
];

/// `19800000` as `19,800,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(r: f64) -> String {
    if r.is_finite() && r >= 0.0 {
        count(r.round() as u64)
    } else {
        "-".into()
    }
}

fn seconds(s: f64) -> String {
    format!("{s:.2}")
}

fn micros(us: u64) -> String {
    if us < 10_000 {
        format!("{us} µs")
    } else {
        format!("{:.1} ms", us as f64 / 1000.0)
    }
}

fn kib(k: u64) -> String {
    bytes(k as f64 * 1024.0)
}

fn bytes(b: f64) -> String {
    if b < 0.0 {
        return format!("-{}", bytes(-b));
    }
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_generator_is_pointed_out() {
        let mut w = Workload::new("latency", "tcp", 100);
        w.seconds = Some(10.0);
        w.generator_cpu_seconds = Some(9.0);
        w.judge_generator(1);
        assert_eq!(w.notes.len(), 1);
        let mut w = Workload::new("fanout", "tcp", 100);
        w.seconds = Some(10.0);
        w.generator_cpu_seconds = Some(9.0);
        w.judge_generator(2);
        assert!(w.notes.is_empty());
        assert_eq!(w.generator_busy, Some(0.45));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(19_800_000), "19,800,000");
        assert_eq!(micros(85), "85 µs");
        assert_eq!(micros(12_345), "12.3 ms");
        assert_eq!(bytes(213.0), "213 B");
        assert_eq!(bytes(4300.0), "4.2 KiB");
        assert_eq!(bytes(45.0 * 1024.0 * 1024.0), "45.0 MiB");
    }

    #[test]
    fn the_table_has_a_column_per_workload_and_only_rows_with_figures() {
        let mut fanout = Workload::new("fanout", "tcp", 100);
        fanout.ok = true;
        fanout.deliveries = Some(19_800_000);
        fanout.lost = Some(0);
        let mut capacity = Workload::new("capacity", "tcp", 10_000);
        capacity.error = Some("the server refused a join".into());
        capacity.server_rss_after_kib = Some(46_000);
        let run = Run {
            tool: "suda-load",
            version: "0",
            addr: "127.0.0.1:9999".into(),
            server_pid: Some(42),
            threads: 1,
            pending_schedules: 100_000,
            workloads: vec![fanout, capacity],
        };
        let text = table(&run);
        assert!(text.contains("(server pid 42)"), "{text}");
        assert!(
            text.contains("100,000 scheduled messages pending"),
            "{text}"
        );
        let deliveries = text
            .lines()
            .find(|l| l.starts_with("deliveries "))
            .expect("a deliveries row");
        assert!(deliveries.contains("19,800,000"), "{deliveries}");
        assert!(deliveries.trim_end().ends_with('-'), "{deliveries}");
        assert!(!text.contains("latency p50"), "{text}");
        assert!(text.contains("FAILED"), "{text}");
        assert!(
            text.contains("capacity: the server refused a join"),
            "{text}"
        );
    }
}
