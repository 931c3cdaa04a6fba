//! Scheduled messages on disk, tested as the attacks and accidents of
//! issue 10: kill -9 at the worst moments, a flood of changes, an upgrade
//! from the JSON state file, a file that is not ours.
//!
//! `SUDA_BIN=path/to/suda` runs the same tests against another build (the
//! figures before the database: they fail there, with what they measured).
//! `SUDA_KILLS=N` sets the number of kills in the kill loop (default 3).

mod util;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use util::{suda, Server, READ_TIMEOUT, SIGTERM};

/// The server under test: this build, or `SUDA_BIN`.
fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Server {
    match std::env::var_os("SUDA_BIN") {
        Some(bin) => Server::start_program(Path::new(&bin), dir, args),
        None => Server::start_in(dir, args),
    }
}

fn start(args: &[&str]) -> Server {
    start_in(tempfile::tempdir().expect("temp dir"), args)
}

/// Kills the server with SIGKILL (no goodbye, no last save) and starts it
/// again on the same files.
fn kill_and_restart(server: Server, args: &[&str]) -> Server {
    start_in(server.into_dir(), args)
}

/// Bytes the process has caused to be written to storage (`/proc/PID/io`).
fn write_bytes(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc/PID/io");
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("write_bytes")
}

#[test]
fn an_acknowledged_message_survives_kill_9_and_goes_out_once() {
    let server = start(&[]);
    let mut alice = server.join("Alice");
    alice.send("/schedule 3s survives the kill");
    alice.expect_prefix("[Server]: Message #1 scheduled for ");
    // The promise: a crash loses no message acknowledged a second before.
    std::thread::sleep(Duration::from_secs(1));

    let server = kill_and_restart(server, &[]);
    let mut bob = server.join("Bob");
    bob.expect("[Scheduled by Alice] survives the kill");

    // Delivered: another kill and restart must not bring it back. A marker
    // due later shows that nothing else arrived before it.
    let server = kill_and_restart(server, &[]);
    let mut bob = server.join("Bob");
    let mut carl = server.join("Carl");
    carl.send("/schedule 2s marker");
    carl.expect_prefix("[Server]: Message #2 scheduled for ");
    let before = bob.until("[Scheduled by Carl] marker");
    assert_eq!(before, ["[Server]: Carl has joined the chat."]);
}

#[test]
fn a_message_delivered_just_before_kill_9_is_not_delivered_again() {
    let server = start(&[]);
    let mut alice = server.join("Alice");
    let mut reader = server.join("Reader");
    alice.expect("[Server]: Reader has joined the chat.");
    alice.send("/schedule 1s just before the kill");
    alice.expect_prefix("[Server]: Message #1 scheduled for ");
    reader.expect("[Scheduled by Alice] just before the kill");
    let server = kill_and_restart(server, &[]);

    let mut reader = server.join("Reader");
    let mut marker = server.join("Marker");
    marker.send("/schedule 2s marker");
    marker.expect_prefix("[Server]: Message #2 scheduled for ");
    let before = reader.until("[Scheduled by Marker] marker");
    assert!(
        before.iter().all(|l| !l.contains("just before the kill")),
        "delivered twice: {before:?}"
    );
}

/// The clog of issue 10: a full room of 4 KB messages (10 000 of them),
/// then `/unschedule` and `/schedule` in turn at 2 lines a second for
/// 10 s. Each change used to rewrite the whole 42 MB file (447 MB in 10 s);
/// now it writes the pages it touches.
#[test]
fn alternating_unschedule_and_schedule_writes_little() {
    const PENDING: usize = 10_000;
    const TEXT: usize = 4000;
    let server = start(&[
        "--rate",
        "off",
        "--max-scheduled",
        "100000",
        "--max-scheduled-total",
        "100000",
        // The issue's clog, measured for what it writes: the room's other
        // limits on pending messages are out of the way.
        "--max-scheduled-per-ip",
        "10000000",
        "--max-scheduled-bytes",
        "1GiB",
        "--log-file",
        "none",
    ]);
    let mut x = server.join("x");
    let text = "q".repeat(TEXT);
    let mut batch = String::new();
    for _ in 0..PENDING {
        batch.push_str(&format!("/schedule 7d {text}\n"));
    }
    x.send_raw(batch.as_bytes());
    for _ in 0..PENDING {
        x.until_prefix("[Server]: Message #");
    }
    settle_writes(server.pid());

    let before = write_bytes(server.pid());
    let started = Instant::now();
    let mut id = 1;
    for turn in 0..20 {
        let next = started + Duration::from_millis(500 * turn);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        if turn % 2 == 0 {
            x.send(&format!("/unschedule {id}"));
            x.expect(&format!("[Server]: Message #{id} cancelled."));
            id += 1;
        } else {
            x.send(&format!("/schedule 7d {text}"));
            x.expect_prefix("[Server]: Message #");
        }
    }
    // Whatever was still to be written for those changes.
    settle_writes(server.pid());
    let written = write_bytes(server.pid()) - before;
    eprintln!(
        "alternating /unschedule and /schedule, 2 lines/s for {:.1} s over {PENDING} pending messages of {TEXT} B: {written} bytes written",
        started.elapsed().as_secs_f64()
    );
    assert!(written < 16 << 20, "{written} bytes written for 20 changes");
}

/// Waits until the process has written nothing for over a second (bounded).
fn settle_writes(pid: u32) {
    let deadline = Instant::now() + READ_TIMEOUT * 3;
    let mut last = write_bytes(pid);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(1200) {
        assert!(Instant::now() < deadline, "the server keeps writing");
        std::thread::sleep(Duration::from_millis(100));
        let now = write_bytes(pid);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

#[test]
fn the_json_state_file_is_imported_once_on_upgrade() {
    let dir = tempfile::tempdir().expect("dir");
    // What an earlier suda left: one message overdue, one ahead.
    std::fs::write(
        dir.path().join("state.json"),
        r#"{
  "version": 1,
  "next_id": 7,
  "messages": [
    {"id": 5, "due": "2020-01-01T00:00:00Z", "author": "Carl", "text": "missed while down"},
    {"id": 6, "due": "2099-01-01T00:00:00Z", "author": "Carl", "text": "far ahead"}
  ]
}
"#,
    )
    .expect("write");
    let server = start_in(dir, &[]);
    assert!(!server.file("state.json").exists());
    assert!(server.file("state.json.imported").exists());
    let mut alice = server.join("Alice");
    alice.expect("[Scheduled by Carl] missed while down");
    alice.send("/schedule 1h numbering goes on");
    alice.expect_prefix("[Server]: Message #7 scheduled for ");

    // Stopped and started again: nothing is imported twice, nothing
    // delivered twice.
    let mut server = server;
    server.signal(SIGTERM);
    assert!(server.wait().success());
    let server = start_in(server.into_dir(), &[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    bob.send("/schedule 2s marker");
    bob.expect_prefix("[Server]: Message #8 scheduled for ");
    let before = alice.until("[Scheduled by Bob] marker");
    assert_eq!(before, ["[Server]: Bob has joined the chat."]);
}

#[test]
fn a_database_that_is_not_ours_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("suda.db");
    let junk = b"SQLite format 3? no: a shopping list\n".repeat(200);
    std::fs::write(&db, &junk).expect("write");
    let output = suda()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--log-file",
            "none",
            "--db",
            db.to_str().expect("path"),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run suda");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("suda: ") && stderr.contains("is not a suda database"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), junk, "left as it was");
}

/// A participant that reads everything in a thread of its own.
struct Peer {
    /// For sending.
    stream: TcpStream,
    /// The reading thread; it ends at EOF or on an error (the server died).
    reading: JoinHandle<()>,
}

/// Connects and joins as `nick`; every later line goes to `on_line`
/// (with the moment it arrived) until the connection ends.
fn join_peer(
    addr: SocketAddr,
    nick: &str,
    mut on_line: impl FnMut(&str, Instant) + Send + 'static,
) -> Peer {
    let mut stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT).expect("connect");
    stream
        .set_read_timeout(Some(READ_TIMEOUT * 3))
        .expect("timeout");
    stream
        .set_write_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut lines = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    let welcome = format!("[Server]: Welcome, {nick}! Type /help for commands.\n");
    let mut sent = false;
    loop {
        line.clear();
        assert!(
            lines.read_line(&mut line).expect("read") > 0,
            "closed while joining"
        );
        if line == "[Server]: Enter your nickname:\n" && !sent {
            stream
                .write_all(format!("{nick}\n").as_bytes())
                .expect("send");
            sent = true;
        }
        if line == welcome {
            break;
        }
    }
    let reading = std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => on_line(line.trim_end_matches('\n'), Instant::now()),
            }
        }
    });
    Peer { stream, reading }
}

/// What one flooder sent and what the server acknowledged.
#[derive(Default)]
struct Flood {
    /// Each line's text, due delay and the moment it was written.
    sent: Vec<(String, Duration, Instant)>,
    /// Acknowledgements (`Message #N scheduled`) in order, with their time.
    acked: Vec<Instant>,
    /// Any other `[Server]:` reply.
    refused: Vec<String>,
}

/// Floods `/schedule` from `nick` at about `per_second` lines until
/// `until`, delays cycling through 1 s, 2 s and 3 s.
fn flood(
    addr: SocketAddr,
    nick: String,
    round: usize,
    per_second: u32,
    until: Instant,
) -> JoinHandle<Flood> {
    std::thread::spawn(move || {
        let record = Arc::new(Mutex::new(Flood::default()));
        let replies = Arc::clone(&record);
        let mut peer = join_peer(addr, &nick, move |line, at| {
            if line.starts_with("[Server]: Message #") && line.contains(" scheduled for ") {
                replies.lock().expect("lock").acked.push(at);
            } else if line.starts_with("[Server]: ") && !line.contains(" the chat") {
                replies.lock().expect("lock").refused.push(line.to_string());
            }
        });
        let started = Instant::now();
        let mut seq = 0u32;
        while Instant::now() < until {
            // In bursts of 10, paced to the rate.
            let next = started + Duration::from_secs(1) * seq / per_second;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            let mut burst = String::new();
            let mut lines = Vec::new();
            for _ in 0..10 {
                let delay = Duration::from_secs(1 + u64::from(seq % 3));
                let text = format!("{nick}-r{round}-{seq}");
                burst.push_str(&format!("/schedule {}s {text}\n", delay.as_secs()));
                lines.push((text, delay));
                seq += 1;
            }
            if peer.stream.write_all(burst.as_bytes()).is_err() {
                break;
            }
            let at = Instant::now();
            let mut record = record.lock().expect("lock");
            record
                .sent
                .extend(lines.into_iter().map(|(text, delay)| (text, delay, at)));
        }
        // The server is killed while this one still floods or waits for
        // replies: reading ends with the connection.
        let _ = peer.reading.join();
        let _ = peer.stream.shutdown(std::net::Shutdown::Both);
        let mut record = record.lock().expect("lock");
        std::mem::take(&mut *record)
    })
}

/// Deliveries seen by readers: text → how many times.
type Seen = Arc<Mutex<HashMap<String, u32>>>;

fn reader(addr: SocketAddr, seen: &Seen) -> Peer {
    let seen = Arc::clone(seen);
    join_peer(addr, "reader", move |line, _| {
        if let Some((_, text)) = line
            .strip_prefix("[Scheduled by ")
            .and_then(|l| l.split_once("] "))
        {
            *seen
                .lock()
                .expect("lock")
                .entry(text.to_string())
                .or_default() += 1;
        }
    })
}

/// The accident of issue 10: kill -9 while a few clients flood
/// `/schedule`, again and again. No message acknowledged a second before
/// a kill may be lost, none delivered twice (before the database: 58 299
/// of 77 751 lost over 25 kills, and a message delivered 0.3 s before a
/// kill came again).
#[test]
fn kill_9_under_a_schedule_flood_loses_nothing_acknowledged_and_repeats_nothing() {
    const FLOODERS: usize = 3;
    const PER_SECOND: u32 = 1000;
    const FLOOD_FOR: Duration = Duration::from_secs(1);
    /// How long before a kill a message may have been due and still be
    /// on its way out.
    const IN_FLIGHT: Duration = Duration::from_millis(500);
    let kills: usize = std::env::var("SUDA_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let args = [
        "--rate",
        "off",
        "--max-scheduled",
        "100000",
        "--max-scheduled-total",
        "10000000",
        "--max-scheduled-per-ip",
        "10000000",
        "--max-scheduled-bytes",
        "1GiB",
        "--schedule-pace",
        "100000",
        "--max-clients",
        "20",
        "--log-file",
        "none",
    ];
    let seen: Seen = Arc::default();
    // Every line sent: text → (delay, sent at, acknowledged at).
    let mut lines: HashMap<String, (Duration, Instant, Option<Instant>)> = HashMap::new();
    let mut killed_at = Vec::new();
    let mut dir = tempfile::tempdir().expect("dir");
    for round in 0..kills {
        let server = start_in(dir, &args);
        let watcher = reader(server.addr, &seen);
        let until = Instant::now() + FLOOD_FOR;
        let floods: Vec<_> = (0..FLOODERS)
            .map(|c| flood(server.addr, format!("f{c}"), round, PER_SECOND, until))
            .collect();
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        killed_at.push(Instant::now());
        dir = server.into_dir(); // kill -9, in the middle of the flood
        for handle in floods {
            let record = handle.join().expect("flooder");
            assert!(record.refused.is_empty(), "refused: {:?}", record.refused);
            for (i, (text, delay, at)) in record.sent.into_iter().enumerate() {
                lines.insert(text, (delay, at, record.acked.get(i).copied()));
            }
        }
        let _ = watcher.reading.join();
    }
    // The last start: every pending message goes out before a marker due
    // after all of them.
    let server = start_in(dir, &args);
    let watcher = reader(server.addr, &seen);
    let mut marker = server.join("marker");
    marker.send("/schedule 5s marker");
    marker.until_prefix("[Server]: Message #");
    let deadline = Instant::now() + READ_TIMEOUT * 3;
    while !seen.lock().expect("lock").contains_key("marker") {
        assert!(Instant::now() < deadline, "the marker never came");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    let _ = watcher.reading.join();

    let seen = seen.lock().expect("lock");
    let acked: Vec<_> = lines
        .iter()
        .filter_map(|(text, (delay, sent, acked))| acked.map(|at| (text, *delay, *sent, at)))
        .collect();
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    // A message whose delivery was under way at a kill is marked delivered
    // and may never have reached anyone: at most once, by design. Its due
    // time (between sending and acknowledgement, plus its delay) was then
    // just before the kill: within a batch window, a commit and a turn of
    // a busy reactor.
    let never: Vec<_> = acked
        .iter()
        .filter(|(text, ..)| !seen.contains_key(text.as_str()))
        .collect();
    // A message whose delivery was under way at a kill is marked delivered
    // and may never have reached anyone: at most once, by design. Its due
    // time (between sending and acknowledgement, plus its delay) was then
    // just before the kill: within a batch window, a commit and a turn of
    // a busy reactor.
    let in_flight = |sent: Instant, delay: Duration, at: Instant| {
        killed_at
            .iter()
            .any(|&kill| sent + delay <= kill && at + delay + IN_FLIGHT >= kill)
    };
    // The age of an acknowledgement at the next kill after it.
    let age = |at: Instant| {
        killed_at
            .iter()
            .find(|&&kill| kill >= at)
            .map_or(Duration::ZERO, |&kill| kill - at)
    };
    let mut delivering = Vec::new();
    let mut recent = Vec::new();
    let mut old = Vec::new();
    for &&(text, delay, sent, at) in &never {
        if in_flight(sent, delay, at) {
            delivering.push(text);
        } else if age(at) < Duration::from_secs(1) {
            recent.push(age(at));
        } else {
            old.push(text);
        }
    }
    let oldest_lost = recent.iter().max();
    eprintln!(
        "{kills} kills under a /schedule flood ({FLOODERS} clients, ~{} lines/s): {} sent, {} acknowledged; acknowledged and lost: {} over a second before the kill, {} within the last second (the oldest acknowledged {oldest_lost:?} before it); {} more never delivered but due within {IN_FLIGHT:?} before a kill; {} delivered twice",
        FLOODERS as u32 * PER_SECOND,
        lines.len(),
        acked.len(),
        old.len(),
        recent.len(),
        delivering.len(),
        twice.len()
    );
    assert!(acked.len() > kills * 100, "the flood hardly ran");
    assert!(old.is_empty(), "acknowledged and lost: {old:?}");
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
}
