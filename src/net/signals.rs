//! SIGINT and SIGTERM, turned into a readable socket for the reactor;
//! SIGHUP (reload the TLS certificate) on a thread of its own, or, with
//! nothing to reload, the same as SIGTERM.
//!
//! A signal handler may do almost nothing safely. signal-hook's handler
//! only writes a byte to a socket (the self-pipe trick); the reactor polls
//! the other end like any connection and shuts down on its own thread.

use std::io;
use std::os::unix::net::UnixStream;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Installs the handlers; returns the end the reactor reads. With
/// `hangup_stops`, SIGHUP (a closed terminal, `kill -HUP` with nothing to
/// reload) stops the server as SIGTERM does: everyone is told, output is
/// flushed, the store is closed, rather than the process simply vanishing.
///
/// # Errors
///
/// The socket pair or the handlers cannot be set up.
pub fn install(hangup_stops: bool) -> io::Result<mio::net::UnixStream> {
    if hangup_stops {
        pipe(&[SIGINT, SIGTERM, SIGHUP])
    } else {
        pipe(&[SIGINT, SIGTERM])
    }
}

/// A self-pipe for `signals`: each one writes a byte to a socket whose
/// other end, returned here, a mio loop polls. (The client uses it for
/// its own set: leaving on SIGHUP too, redrawing on SIGWINCH.)
///
/// # Errors
///
/// The socket pair or the handlers cannot be set up.
pub fn pipe(signals: &[libc::c_int]) -> io::Result<mio::net::UnixStream> {
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    // A full pipe must not block the handler: the reactor only needs one byte.
    write.set_nonblocking(true)?;
    for &signal in signals {
        signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
    }
    Ok(mio::net::UnixStream::from_std(read))
}

/// Runs `reload` on a thread of its own at each SIGHUP (`systemctl
/// reload`, `kill -HUP`): work that may touch the disk, kept off the
/// reactor. Only installed when there is something to reload; otherwise
/// SIGHUP stops the server gracefully (see [`install`]).
///
/// # Errors
///
/// The handler cannot be set up.
pub fn on_hangup(mut reload: impl FnMut() + Send + 'static) -> io::Result<()> {
    let mut hangups = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("sighup".into())
        .spawn(move || {
            for _ in hangups.forever() {
                reload();
            }
        })?;
    Ok(())
}
