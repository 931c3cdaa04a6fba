//! What `/proc` says about a process: CPU time and memory.
//!
//! The server's figures come from `/proc/<pid>/stat` and
//! `/proc/<pid>/status`, the generator's own from `/proc/self/...`. Both
//! are Linux only; elsewhere the readers fail and the report says "-".

use std::fs;
use std::io;
use std::process::Command;
use std::sync::OnceLock;

/// Which process to ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// The generator itself.
    Myself,
    /// Another process (the server).
    Other(u32),
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::Myself => "/proc/self".to_string(),
            Pid::Other(pid) => format!("/proc/{pid}"),
        }
    }
}

/// CPU time used by a process since it started, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// Time spent running its own code (`utime`).
    pub user: f64,
    /// Time the kernel spent on its behalf: system calls, socket copies (`stime`).
    pub system: f64,
}

impl CpuTimes {
    /// User plus system.
    pub fn total(self) -> f64 {
        self.user + self.system
    }

    /// What was used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: (self.user - earlier.user).max(0.0),
            system: (self.system - earlier.system).max(0.0),
        }
    }
}

/// Reads `utime` and `stime` from `/proc/<pid>/stat`.
///
/// # Errors
///
/// The process is gone (or this is not Linux), or the file is not what
/// Linux writes.
pub fn cpu(pid: Pid) -> io::Result<CpuTimes> {
    let text = fs::read_to_string(format!("{}/stat", pid.dir()))?;
    parse_stat(&text, clock_ticks())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc stat format"))
}

/// `utime` and `stime` (fields 14 and 15) of a stat line, in seconds.
///
/// The command name (field 2) is in parentheses and may itself hold spaces
/// and parentheses, so the fields are counted from the last `)`.
fn parse_stat(text: &str, ticks_per_second: f64) -> Option<CpuTimes> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (field 3) ... utime is field 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(CpuTimes {
        user: utime as f64 / ticks_per_second,
        system: stime as f64 / ticks_per_second,
    })
}

/// Clock ticks per second of the times in `/proc/<pid>/stat`, as
/// `getconf CLK_TCK` prints it. Linux fixes it at 100 for user space
/// (`USER_HZ`), which is also the fallback.
pub fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|ticks| *ticks > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU seconds the whole machine spent busy since boot (all cores: user,
/// nice, system, interrupts, steal), from the first line of `/proc/stat`.
/// Less the server's and the generator's, it shows how much else ran
/// during a workload: on a shared machine, the reason figures vary.
///
/// # Errors
///
/// Not Linux, or not the format Linux writes.
pub fn machine_busy() -> io::Result<f64> {
    let text = fs::read_to_string("/proc/stat")?;
    parse_machine(&text, clock_ticks())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/stat format"))
}

fn parse_machine(text: &str, ticks_per_second: f64) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest is in user).
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    Some(busy as f64 / ticks_per_second)
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// The highest it has been (`VmHWM`, the high water mark).
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status`.
///
/// # Errors
///
/// The process is gone, or this is not Linux.
pub fn memory(pid: Pid) -> io::Result<Memory> {
    let text = fs::read_to_string(format!("{}/status", pid.dir()))?;
    parse_status(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS/VmHWM in /proc status"))
}

fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "4242 (suda (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 1 0 1000 1000000 300 18446744073709551615";
        let cpu = parse_stat(line, 100.0).expect("parse");
        assert_eq!(cpu.user, 2.5);
        assert_eq!(cpu.system, 0.75);
        assert_eq!(cpu.total(), 3.25);
    }

    #[test]
    fn machine_time_leaves_out_idle_and_iowait() {
        let text = "cpu  100 10 50 9000 300 5 20 15 0 0\ncpu0 50 5 25 4500 150 2 10 7 0 0\n";
        assert_eq!(parse_machine(text, 100.0), Some(2.0));
    }

    #[test]
    fn status_gives_rss_and_peak() {
        let text = "Name:\tsuda\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(
            parse_status(text),
            Some(Memory {
                rss_kib: 4096,
                peak_kib: 5120
            })
        );
    }

    #[test]
    fn our_own_process_can_be_read() {
        assert!(cpu(Pid::Myself).is_ok());
        assert!(memory(Pid::Myself).expect("status").rss_kib > 0);
    }
}
