//! SIGINT and SIGTERM, turned into a readable socket for the reactor.
//!
//! A signal handler may do almost nothing safely. signal-hook's handler
//! only writes a byte to a socket (the self-pipe trick); the reactor polls
//! the other end like any connection and shuts down on its own thread.

use std::io;
use std::os::unix::net::UnixStream;

use signal_hook::consts::{SIGINT, SIGTERM};

/// Installs the handlers; returns the end the reactor reads.
///
/// # Errors
///
/// The socket pair or the handlers cannot be set up.
pub fn install() -> io::Result<mio::net::UnixStream> {
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    // A full pipe must not block the handler: the reactor only needs one byte.
    write.set_nonblocking(true)?;
    signal_hook::low_level::pipe::register(SIGINT, write.try_clone()?)?;
    signal_hook::low_level::pipe::register(SIGTERM, write)?;
    Ok(mio::net::UnixStream::from_std(read))
}
