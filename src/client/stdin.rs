//! Standard input as a mio source, whatever it is.
//!
//! A terminal or a pipe is polled directly, but not through file
//! descriptor 0: in a shell, descriptors 0, 1 and 2 usually share one open
//! file description, and making it non-blocking (which edge-triggered
//! polling needs) would make the shell's terminal and our own standard
//! output non-blocking too. So the same terminal or pipe is opened again
//! through `/proc/self/fd/0`, which gives a description of our own.
//!
//! epoll refuses regular files and `/dev/null` (`EPERM`): `suda connect
//! < lines.txt` is read by a small thread that copies standard input into
//! a socket pair, and the loop polls the pair instead. The same thread
//! serves wherever reopening fails (a socket, no `/proc`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// Standard input, registered for reading.
#[derive(Debug)]
pub enum Stdin {
    /// Our own non-blocking description of the terminal or pipe.
    Direct(File),
    /// The end of a socket pair that a thread fills from standard input.
    Relay(mio::net::UnixStream),
}

impl Stdin {
    /// Registers standard input with `registry`, directly if it can be.
    ///
    /// # Errors
    ///
    /// Neither way works (no socket pair, no thread).
    pub fn register(registry: &Registry, token: Token) -> io::Result<Stdin> {
        if let Some(file) = reopen() {
            let fd = file.as_raw_fd();
            if registry
                .register(&mut SourceFd(&fd), token, Interest::READABLE)
                .is_ok()
            {
                return Ok(Stdin::Direct(file));
            }
        }
        let mut relay = relay()?;
        registry.register(&mut relay, token, Interest::READABLE)?;
        Ok(Stdin::Relay(relay))
    }

    /// Stops polling (at end of input).
    pub fn deregister(&mut self, registry: &Registry) {
        // Failing to deregister a source about to be dropped changes nothing.
        let _ = match self {
            Stdin::Direct(file) => registry.deregister(&mut SourceFd(&file.as_raw_fd())),
            Stdin::Relay(relay) => registry.deregister(relay),
        };
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stdin::Direct(file) => file.read(buf),
            Stdin::Relay(relay) => relay.read(buf),
        }
    }
}

/// Opens standard input again, non-blocking, unless it is a regular file
/// (which epoll refuses, and which would be read again from its start).
fn reopen() -> Option<File> {
    let stdin = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    if stdin.metadata().ok()?.is_file() {
        return None;
    }
    OpenOptions::new()
        .read(true)
        // O_NOCTTY: opening a terminal must never make it ours to control.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open("/proc/self/fd/0")
        .ok()
}

/// Starts the thread that copies standard input into a socket pair.
fn relay() -> io::Result<mio::net::UnixStream> {
    let (ours, mut theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("suda-stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 16 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // The loop has gone: nobody to read for.
                        if theirs.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            // The loop sees end of input, as from a pipe.
            let _ = theirs.shutdown(Shutdown::Write);
        })?;
    Ok(mio::net::UnixStream::from_std(ours))
}
