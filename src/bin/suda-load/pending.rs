//! `--pending-schedules N`: fill the server with scheduled messages before
//! the workloads, to show that a long list of `/schedule`s waiting in the
//! timer wheel costs the room nothing while it talks.
//!
//! One participant schedules N messages for six days ahead (well past any
//! run), over the protocol like anyone would, and leaves: a scheduled
//! message outlives its author, so the messages stay pending.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The nickname of the participant who schedules.
const NICK: &str = "ldpending";
/// Lines sent before reading the confirmations back, so that neither side's
/// socket buffer fills while the other waits.
const BATCH: u64 = 1_000;
/// How long to wait for any one line from the server.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Schedules `count` messages; returns how long it took.
///
/// # Errors
///
/// The server cannot be reached, or refuses a message (its limits are
/// lower than `count`: the message says which flags to raise).
pub fn fill(addr: SocketAddr, count: u64) -> Result<Duration, String> {
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT)
        .map_err(|e| format!("pending schedules: cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| format!("pending schedules: {e}"))?;
    let mut reader = BufReader::new(
        stream
            .try_clone()
            .map_err(|e| format!("pending schedules: {e}"))?,
    );
    let mut writer = BufWriter::new(stream);
    let mut line = String::new();
    let mut next = |reader: &mut BufReader<TcpStream>| -> Result<String, String> {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => Err("pending schedules: the server closed the connection".to_string()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(format!("pending schedules: no answer from the server: {e}")),
        }
    };
    let send = |writer: &mut BufWriter<TcpStream>, text: &str| {
        writeln!(writer, "{text}").map_err(|e| format!("pending schedules: {e}"))
    };
    send(&mut writer, NICK)?;
    writer
        .flush()
        .map_err(|e| format!("pending schedules: {e}"))?;
    loop {
        let answer = next(&mut reader)?;
        if answer.contains(&format!("Welcome, {NICK}!")) {
            break;
        }
        if answer.contains("already in use") || answer.contains("room is full") {
            return Err(format!("pending schedules: cannot join: {answer}"));
        }
    }
    let mut sent = 0;
    let mut confirmed = 0;
    while confirmed < count {
        let batch = BATCH.min(count - sent);
        for _ in 0..batch {
            sent += 1;
            send(&mut writer, &format!("/schedule 6d pending message {sent}"))?;
        }
        writer
            .flush()
            .map_err(|e| format!("pending schedules: {e}"))?;
        while confirmed < sent {
            let answer = next(&mut reader)?;
            if answer.contains("] [Server]: Message #") || answer.starts_with("[Server]: Message #")
            {
                confirmed += 1;
            } else if answer.contains("scheduled messages, the limit")
                || answer.contains("sending too fast")
            {
                return Err(format!(
                    "pending schedules: the server refused message {}: {answer} \
                     (start it with --rate off --max-scheduled {count} --max-scheduled-total {count})",
                    confirmed + 1
                ));
            }
        }
    }
    send(&mut writer, "/exit")?;
    writer
        .flush()
        .map_err(|e| format!("pending schedules: {e}"))?;
    Ok(started.elapsed())
}
