//! Accepting: new sockets in, a newcomer turned away when the process is
//! out of descriptors or its address connects too often, and each
//! connection seated in the slab.

use super::{Reactor, ACCEPT_BACKOFF, ACCEPT_BATCH, BUSY_LINE, THROTTLED_LINE};
use crate::clock::Now;
use crate::net::charset::Charset;
use crate::net::conn::{Conn, Stream};
use mio::{Interest, Token};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

impl Reactor {
    /// Accepts waiting connections, up to a batch per turn.
    pub(super) fn accept(&mut self, now: Now) {
        if !self.accept_pending {
            return;
        }
        if let Some(until) = self.accept_paused {
            if until > now.mono {
                return;
            }
            self.accept_paused = None;
        }
        for _ in 0..ACCEPT_BATCH {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.refuse_one(now);
                    return;
                }
                // ECONNABORTED and friends: that client is gone, the next may not be.
                Err(e) => log::debug!("accept failed: {e}"),
            }
        }
    }

    /// Out of file descriptors: use the spare one to accept a waiting
    /// client, tell it, and close it; then pause accepting briefly.
    fn refuse_one(&mut self, now: Now) {
        log::warn!(
            "out of file descriptors: refusing connections for a moment (raise `ulimit -n`)"
        );
        self.spare_fd = None;
        if let Some(listener) = &self.listener {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write(BUSY_LINE);
            }
        }
        self.spare_fd = File::open("/dev/null").ok();
        self.accept_paused = Some(now.mono + ACCEPT_BACKOFF);
    }

    /// Seats a new network client and lets the room welcome it, unless its
    /// address is over `--connect-rate`.
    fn admit(&mut self, mut stream: mio::net::TcpStream, peer: SocketAddr, now: Now) {
        if let Some(rate) = &mut self.connect_rate {
            if !self.exempt.exempt(peer.ip()) && !rate.admit(peer.ip(), now.mono) {
                log::debug!("{peer}: over --connect-rate, turned away");
                // One try: a client whose buffer cannot take one line is
                // not worth waiting for. Reading what it may have sent
                // first lets the close be a FIN that delivers the line,
                // not a reset that could destroy it.
                let _ = stream.read(&mut self.scratch);
                let _ = stream.write(THROTTLED_LINE);
                return;
            }
        }
        // Chat is many small writes that must not wait for the next one.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("set_nodelay failed for {peer}: {e}");
        }
        let socket = socket2::SockRef::from(&stream);
        if let Some(keepalive) = &self.keepalive {
            if let Err(e) = socket.set_tcp_keepalive(keepalive) {
                log::debug!("keep-alive failed for {peer}: {e}");
            }
        }
        // Fixing the size also turns off the kernel's growing it, up to
        // tcp_wmem's maximum, for a client that does not read.
        if let Err(e) = socket.set_send_buffer_size(self.sndbuf) {
            log::debug!("SO_SNDBUF failed for {peer}: {e}");
        }
        // What it speaks (chat, TLS, HTTP) is found out before the room
        // hears of it: see arrival.rs.
        self.arrive(stream, peer, now);
    }

    /// Puts a stream in the slab and registers it.
    pub(super) fn add(
        &mut self,
        mut stream: Stream,
        peer: Option<SocketAddr>,
        charset: Charset,
    ) -> io::Result<(usize, u64)> {
        let entry = self.io.conns.vacant_entry();
        let key = entry.key();
        self.poll
            .registry()
            .register(&mut stream, Token(key), Interest::READABLE)?;
        let serial = self.next_serial;
        self.next_serial += 1;
        entry.insert(Conn::new(serial, stream, peer, charset));
        Ok((key, serial))
    }
}
