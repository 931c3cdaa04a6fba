//! `--console NICK`: the server's own terminal as a participant.
//!
//! The terminal is joined to the reactor through a socket pair. Two small
//! threads copy standard input into one end and the other end to standard
//! output; the reactor sees the other end as one more connection, with the
//! same line codec, output queue and limits as a network client. So the
//! reactor never blocks on a terminal (a paused terminal is a slow reader
//! like any other), and the console needs no special path through the room.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

/// How long to wait at exit for the last lines to reach the terminal.
const DRAIN_AT_EXIT: Duration = Duration::from_secs(2);

/// The threads behind the console connection.
#[derive(Debug)]
pub struct Console {
    /// Closed by the output thread when it has printed everything: waited
    /// for at exit so the shutdown line appears before the process ends.
    output_done: mpsc::Receiver<()>,
}

/// Starts the console threads and returns the reactor's end of the pair.
///
/// # Errors
///
/// The socket pair or the threads cannot be created.
pub fn start() -> io::Result<(Console, mio::net::UnixStream)> {
    let (ours, theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    let mut to_reactor = theirs.try_clone()?;
    let mut from_reactor = theirs;
    std::thread::Builder::new()
        .name("suda-console-in".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = io::stdin().lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if to_reactor.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            // End of input: the reactor sees EOF, as for a client leaving.
            let _ = to_reactor.shutdown(Shutdown::Write);
        })?;
    let (done, output_done) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("suda-console-out".into())
        .spawn(move || {
            let _done = done;
            let mut buf = [0u8; 16 * 1024];
            let mut stdout = io::stdout();
            loop {
                match from_reactor.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if stdout
                            .write_all(&buf[..n])
                            .and_then(|()| stdout.flush())
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        })?;
    Ok((
        Console { output_done },
        mio::net::UnixStream::from_std(ours),
    ))
}

impl Console {
    /// Waits (briefly) until everything sent to the console is printed. The
    /// reactor's end must be closed first.
    pub fn finish(&self) {
        // Returns when the thread drops its sender, or at the deadline.
        let _ = self.output_done.recv_timeout(DRAIN_AT_EXIT);
    }
}
