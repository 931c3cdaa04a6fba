//! What every workload needs from the run: the server's address and
//! process, limits, the progress bar, CPU meters, and the checks made
//! before any client connects.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::{connect_error, refusal};
use crate::procfs::{self, CpuTimes, Memory, Pid};
use crate::report::Workload;
use crate::worker::Limits;

/// How long the probe connection waits to connect and for the greeting.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// File descriptors the generator needs besides its clients (polls,
/// wakers, the probe, standard streams).
const SPARE_FDS: u64 = 64;
/// The server counts as idle when its CPU time has not moved for this long.
const IDLE_FOR: Duration = Duration::from_millis(300);

/// The run's settings that are not a workload's sizes.
#[derive(Debug)]
pub struct Context {
    /// The server.
    pub addr: SocketAddr,
    /// Worker threads per workload.
    pub threads: usize,
    /// The server's process, for CPU and memory figures.
    pub server: Option<u32>,
    /// A workload may take this long at most.
    pub timeout: Duration,
    /// Give up when nothing progresses this long.
    pub stall: Duration,
    /// Wait at most this long for the server to go idle before a workload.
    pub settle: Duration,
    /// Timestamps in payloads are nanoseconds since this moment.
    pub origin: Instant,
    /// Draw progress bars (on standard error, if it is a terminal).
    pub progress: bool,
    /// `--tls`: every client speaks TLS with this configuration.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// `--ws`: every client joins over the web client's WebSocket.
    pub ws: bool,
}

/// Why a workload cannot start.
#[derive(Debug)]
pub enum Refusal {
    /// The server cannot be reached at all: no workload can run.
    Unreachable(String),
    /// This workload cannot run (room too small, joins refused).
    Workload(String),
}

impl Context {
    /// How the clients connect, for the report: `tcp`, `tls`, `ws` or `wss`.
    pub fn transport(&self) -> &'static str {
        if self.ws {
            return if self.tls.is_some() { "wss" } else { "ws" };
        }
        if self.tls.is_some() {
            "tls"
        } else {
            "tcp"
        }
    }

    /// The limits of a workload that starts now.
    pub fn limits(&self) -> Limits {
        Limits {
            deadline: Instant::now() + self.timeout,
            stall: self.stall,
        }
    }

    /// A progress bar for workload `name`.
    pub fn bar(&self, name: &str, len: u64, message: &'static str) -> ProgressBar {
        let target = if self.progress {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>11} {msg:<14} [{wide_bar}] {human_pos}/{human_len} {elapsed:>3}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_string());
        bar.set_message(message);
        bar
    }

    /// Starts measuring CPU time: the server's (if known), ours, the machine's.
    pub fn meter(&self) -> Meter {
        Meter {
            server_pid: self.server,
            server: self
                .server
                .and_then(|pid| procfs::cpu(Pid::Other(pid)).ok()),
            own: procfs::cpu(Pid::Myself).ok(),
            machine: procfs::machine_busy().ok(),
        }
    }

    /// The server's memory now, if its pid is known.
    pub fn server_memory(&self) -> Option<Memory> {
        self.server
            .and_then(|pid| procfs::memory(Pid::Other(pid)).ok())
    }

    /// Waits (at most `--settle`) until the server's CPU time stops moving:
    /// the clients of the workload before have left and the room is quiet.
    /// Without a pid there is nothing to watch: a short pause.
    pub fn settle_server(&self) {
        let Some(pid) = self.server else {
            std::thread::sleep(Duration::from_millis(200));
            return;
        };
        let give_up = Instant::now() + self.settle;
        let mut last = procfs::cpu(Pid::Other(pid)).ok();
        let mut still_since = Instant::now();
        while Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(50));
            let now = procfs::cpu(Pid::Other(pid)).ok();
            if now != last {
                last = now;
                still_since = Instant::now();
            } else if still_since.elapsed() >= IDLE_FOR {
                return;
            }
        }
    }

    /// Connects once and reads the greeting, to fail early and clearly:
    /// nobody listening, not a suda server, a room too small for `needed`
    /// more people.
    ///
    /// # Errors
    ///
    /// What stands in the way.
    pub fn probe(&self, needed: usize) -> Result<(), Refusal> {
        let addr = self.addr;
        let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
            .map_err(|e| Refusal::Unreachable(connect_error(addr, &e)))?;
        let _ = stream.set_read_timeout(Some(PROBE_TIMEOUT));
        let _ = stream.set_write_timeout(Some(PROBE_TIMEOUT));
        let stream: Box<dyn Read> = match &self.tls {
            Some(config) => {
                let session = crate::tls::session(config)
                    .map_err(|e| Refusal::Unreachable(format!("cannot start TLS: {e}")))?;
                Box::new(rustls::StreamOwned::new(session, stream))
            }
            None => Box::new(stream),
        };
        let mut line = Vec::new();
        let read = BufReader::new(stream)
            .take(4096)
            .read_until(b'\n', &mut line);
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        match read {
            Err(e) => {
                return Err(Refusal::Unreachable(format!(
                    "{addr} accepted a connection but sent no greeting ({e}): is it a suda server?"
                )))
            }
            Ok(0) => {
                return Err(Refusal::Unreachable(format!(
                    "{addr} closed the connection without a greeting: is it a suda server?"
                )))
            }
            Ok(_) => {}
        }
        if line.starts_with("[Server]: The chat room is full")
            || line.starts_with("[Server]: Too many people")
            || line.starts_with("[Server]: The server is too busy")
        {
            return Err(Refusal::Workload(refusal(&line)));
        }
        if !line.starts_with("[Server]: ") && line.contains("] [Server]: Welcome to ") {
            return Err(Refusal::Unreachable(format!(
                "{addr} starts every line with a time (--timestamps): the load test counts \
                 lines by their first bytes, start the server without it"
            )));
        }
        let Some((online, max)) = room_size(&line) else {
            return Err(Refusal::Unreachable(format!(
                "{addr} does not greet like a suda server (first line {line:?})"
            )));
        };
        let free = max.saturating_sub(online);
        if free < needed {
            return Err(Refusal::Workload(format!(
                "the room has space for {free} more ({online}/{max} online) but this workload \
                 needs {needed}: start the server with --max-clients {} or more",
                online + needed
            )));
        }
        Ok(())
    }

    /// The checks before a workload for `clients` participants: the
    /// workload's own sizes (`sizes`), enough file descriptors, and a
    /// server that answers and has room.
    ///
    /// # Returns
    ///
    /// `Ok(Err(why))` when this workload cannot run (the record says why
    /// and the next workload may still run).
    ///
    /// # Errors
    ///
    /// [`Refusal::Unreachable`]: no workload can run.
    pub fn ready(
        &self,
        clients: usize,
        sizes: Result<(), String>,
    ) -> Result<Result<(), String>, Refusal> {
        if let Err(e) = sizes.and_then(|()| self.check_fds(clients)) {
            return Ok(Err(e));
        }
        match self.probe(clients) {
            Ok(()) => Ok(Ok(())),
            Err(Refusal::Workload(e)) => Ok(Err(e)),
            Err(unreachable) => Err(unreachable),
        }
    }

    /// Makes sure this process may open `clients` sockets.
    ///
    /// # Errors
    ///
    /// The open file limit is too low, with what to do about it.
    fn check_fds(&self, clients: usize) -> Result<(), String> {
        let wanted = clients as u64 + SPARE_FDS;
        match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((soft, _)) if soft < wanted => Err(format!(
                "the generator may open {soft} files but {clients} clients need {wanted}: \
                 raise the limit (`ulimit -n {wanted}`, or the hard limit in limits.conf)"
            )),
            _ => Ok(()),
        }
    }
}

/// `(online, max)` from `[Server]: Welcome to <room>! (<online>/<max> online)`.
fn room_size(greeting: &str) -> Option<(usize, usize)> {
    let rest = greeting.strip_prefix("[Server]: Welcome to ")?;
    let inner = rest.rsplit_once('(')?.1.strip_suffix(" online)")?;
    let (online, max) = inner.split_once('/')?;
    Some((online.trim().parse().ok()?, max.trim().parse().ok()?))
}

/// CPU time at the start of a measured phase.
#[derive(Debug)]
pub struct Meter {
    server_pid: Option<u32>,
    server: Option<CpuTimes>,
    own: Option<CpuTimes>,
    machine: Option<f64>,
}

impl Meter {
    /// The CPU used since the meter started.
    pub fn stop(&self) -> Used {
        let server = match (self.server_pid, self.server) {
            (Some(pid), Some(before)) => procfs::cpu(Pid::Other(pid))
                .ok()
                .map(|now| now.since(before).total()),
            _ => None,
        };
        let own = self
            .own
            .and_then(|before| Some(procfs::cpu(Pid::Myself).ok()?.since(before)));
        let machine = self
            .machine
            .and_then(|before| Some(procfs::machine_busy().ok()? - before));
        Used {
            server,
            own,
            machine,
        }
    }
}

/// CPU used over a measured phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Used {
    /// By the server, seconds (if its pid is known).
    pub server: Option<f64>,
    /// By the generator.
    pub own: Option<CpuTimes>,
    /// By the whole machine (every process and the kernel's interrupt work).
    pub machine: Option<f64>,
}

impl Used {
    /// Writes the figures into `report`, with deliveries per server CPU
    /// second if it has deliveries.
    pub fn record(&self, report: &mut Workload) {
        if let Some(used) = self.server {
            report.server_cpu_seconds = Some(used);
            if let Some(deliveries) = report.deliveries {
                if used > 0.0 {
                    report.deliveries_per_server_cpu_second = Some(deliveries as f64 / used);
                }
            }
        }
        if let Some(own) = self.own {
            report.generator_cpu_seconds = Some(own.total());
            report.generator_system_seconds = Some(own.system);
        }
        if let (Some(machine), Some(server), Some(own)) = (self.machine, self.server, self.own) {
            report.other_cpu_seconds = Some((machine - server - own.total()).max(0.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greeting_gives_the_room_size() {
        assert_eq!(
            room_size("[Server]: Welcome to suda! (3/10 online)"),
            Some((3, 10))
        );
        assert_eq!(
            room_size("[Server]: Welcome to (odd) room! (0/10000 online)"),
            Some((0, 10000))
        );
        assert_eq!(room_size("SSH-2.0-OpenSSH_9.6"), None);
    }
}
