//! The client side of `scripts/crashloop.sh`: a load that schedules
//! messages and writes down each acknowledgement the moment it comes, a
//! listener that writes down each scheduled line it receives, and the
//! verdict over all rounds.
//!
//! The files are plain text, one record a line, appended and flushed at
//! once, so a `kill -9` of the server (the client stays up) loses nothing:
//! - the ledger: `ack <text> <acked ms> <due ms>` (Unix milliseconds);
//! - the deliveries: `got <text> <ms>`;
//! - the kills (written by the script): `kill <ms>`.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::conn::Conn;
use crate::lines::Lines as _;

/// How long before a kill a message may be due and still be lost: the one
/// going out at that very moment (marked delivered, not yet sent) is the
/// loss the design allows (src/room/durable.rs), and the store's batch
/// window and the pacing are well inside it. One due after the kill was
/// pending then and must arrive.
const DUE_WINDOW_MS: u64 = 1500;

/// How long before a kill an acknowledgement must have come for its
/// message to be kept: the "before the last second".
const ACK_WINDOW_MS: u64 = 1000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn append(path: &Path, line: &str) {
    // Opened for each record: nothing stays in a buffer when the round ends.
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

/// One round's load, until the server goes away: a listener that records
/// every scheduled line, a scheduler that records every acknowledgement,
/// and chat between them.
pub fn load(addr: SocketAddr, round: u32, ledger: &Path, seen: &Path) -> ExitCode {
    let mut listener = match Conn::connect(addr, None)
        .map_err(|e| e.to_string())
        .and_then(|mut c| {
            c.join(&format!("listen{round}"))?;
            Ok(c)
        }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crash-load: the listener could not join: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seen = seen.to_path_buf();
    let listening = thread::spawn(move || listen(&mut listener, &seen, None));
    let mut scheduler = match Conn::connect(addr, None)
        .map_err(|e| e.to_string())
        .and_then(|mut c| {
            c.join(&format!("sched{round}"))?;
            Ok(c)
        }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crash-load: the scheduler could not join: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut n = 0u32;
    'load: loop {
        n += 1;
        // Due in 1 to 12 s: some in this round, some after the restart.
        let delay = 1 + (n * 7 + round * 3) % 12;
        let text = format!("r{round}m{n}");
        let sent = now_ms();
        if scheduler
            .send(&format!("/schedule {delay}s {text}"))
            .is_err()
        {
            break;
        }
        loop {
            match scheduler.line(Duration::from_secs(2)) {
                Ok(Some(line))
                    if line.starts_with("[Server]: Message #")
                        && line.contains(" scheduled for ") =>
                {
                    append(
                        ledger,
                        &format!("ack {text} {} {}", now_ms(), sent + u64::from(delay) * 1000),
                    );
                    break;
                }
                Ok(Some(line)) if line.starts_with("[Server]: You are sending too fast") => break,
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => break 'load,
            }
        }
        if scheduler.send(&format!("chatter {n}")).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    let _ = listening.join();
    ExitCode::SUCCESS
}

/// Records scheduled lines until the server closes or `for_` passes.
fn listen(conn: &mut Conn, seen: &Path, for_: Option<Duration>) {
    let until = for_.map(|d| std::time::Instant::now() + d);
    loop {
        if until.is_some_and(|u| std::time::Instant::now() >= u) {
            return;
        }
        match conn.line(Duration::from_millis(200)) {
            Ok(Some(line)) => {
                if let Some((_, text)) = line
                    .strip_prefix("[Scheduled by ")
                    .and_then(|l| l.split_once("] "))
                {
                    append(seen, &format!("got {text} {}", now_ms()));
                }
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// After the last round: listens for `wait` so every message still
/// pending comes due, then closes.
pub fn drain(addr: SocketAddr, seen: &Path, wait: Duration) -> ExitCode {
    let mut conn = match Conn::connect(addr, None)
        .map_err(|e| e.to_string())
        .and_then(|mut c| {
            c.join("drain")?;
            Ok(c)
        }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("crash-drain: could not join: {e}");
            return ExitCode::FAILURE;
        }
    };
    listen(&mut conn, seen, Some(wait));
    let _ = conn.send("/quit");
    ExitCode::SUCCESS
}

/// The verdict: every message acknowledged before the last second before a
/// kill was delivered (but the one going out at the kill), none twice.
pub fn check(ledger: &PathBuf, seen: &PathBuf, kills: &PathBuf) -> ExitCode {
    let read = |p: &PathBuf| fs::read_to_string(p).unwrap_or_default();
    let mut acked: Vec<(String, u64, u64)> = Vec::new();
    for line in read(ledger).lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        if let [_, text, at, due] = parts[..] {
            if let (Ok(at), Ok(due)) = (at.parse(), due.parse()) {
                acked.push((text.to_string(), at, due));
            }
        }
    }
    let mut got: HashMap<String, usize> = HashMap::new();
    for line in read(seen).lines() {
        if let Some(text) = line.split(' ').nth(1) {
            *got.entry(text.to_string()).or_default() += 1;
        }
    }
    let kills: Vec<u64> = read(kills)
        .lines()
        .filter_map(|l| l.strip_prefix("kill ")?.trim().parse().ok())
        .collect();
    let mut lost = Vec::new();
    let mut at_the_kill = 0;
    let mut unacked_ok = 0;
    for (text, at, due) in &acked {
        if got.contains_key(text) {
            continue;
        }
        // Acknowledged in the last second before the next kill: it may not
        // be on disk yet. Due shortly before a kill (any kill after it was
        // written: a pending message survives restarts): it may have been
        // going out. Due after a kill, it was pending then and must come.
        // (`due` is reckoned from when the request was sent, so the server's
        // is the same or a little later.)
        let next_kill = kills.iter().copied().find(|&k| k >= *at);
        let going_out = kills
            .iter()
            .any(|&k| k >= *at && *due <= k && *due + DUE_WINDOW_MS >= k);
        match next_kill {
            Some(k) if k.saturating_sub(*at) < ACK_WINDOW_MS => unacked_ok += 1,
            Some(_) if going_out => at_the_kill += 1,
            _ => lost.push(text.clone()),
        }
    }
    let twice: Vec<(&String, &usize)> = got.iter().filter(|(_, &n)| n > 1).collect();
    let known: std::collections::HashSet<&String> = acked.iter().map(|(t, _, _)| t).collect();
    let unknown = got.keys().filter(|t| !known.contains(t)).count();
    println!(
        "crash-check: {} kills, {} messages acknowledged, {} delivered, {} acknowledged within {ACK_WINDOW_MS} ms of a kill and lost (allowed), {} going out at the kill and lost (allowed), {} delivered without a written acknowledgement (the kill came between reply and record), {} lost, {} delivered twice",
        kills.len(),
        acked.len(),
        got.len(),
        unacked_ok,
        at_the_kill,
        unknown,
        lost.len(),
        twice.len()
    );
    if !lost.is_empty() || !twice.is_empty() {
        for text in lost.iter().take(10) {
            println!("crash-check: LOST {text}");
        }
        for (text, n) in twice.iter().take(10) {
            println!("crash-check: TWICE {text} ({n} times)");
        }
        println!("crash-check: FAIL");
        return ExitCode::FAILURE;
    }
    println!("crash-check: PASS");
    ExitCode::SUCCESS
}
