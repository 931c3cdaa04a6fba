//! Accepting: new sockets in, a newcomer turned away when the process is
//! out of descriptors or its address connects too often, and each
//! connection seated in the slab.

use super::{Reactor, ACCEPT_BACKOFF, ACCEPT_BATCH, BUSY_LINE, THROTTLED_LINE};
use crate::clock::Now;
use crate::net::charset::Charset;
use crate::net::codec::LineCodec;
use crate::net::conn::{Conn, Stream};
use crate::room::Via;
use mio::{Interest, Token};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;

impl Reactor {
    /// Accepts waiting connections, up to a batch per listener per turn.
    pub(super) fn accept(&mut self, now: Now) {
        if let Some(until) = self.accept_paused {
            if until > now.mono {
                return;
            }
            self.accept_paused = None;
        }
        if self.accept_pending {
            self.accept_pending = self.accept_from(false, now);
        }
        if self.telnet_pending && self.accept_paused.is_none() {
            self.telnet_pending = self.accept_from(true, now);
        }
    }

    /// Accepts from the chat listener or the telnet one; returns whether
    /// more may be waiting.
    fn accept_from(&mut self, telnet: bool, now: Now) -> bool {
        for _ in 0..ACCEPT_BATCH {
            let listener = if telnet {
                &self.telnet_listener
            } else {
                &self.listener
            };
            let Some(listener) = listener else {
                return false;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, telnet, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.refuse_one(telnet, now);
                    return true;
                }
                // ECONNABORTED and friends: that client is gone, the next may not be.
                Err(e) => log::debug!("accept failed: {e}"),
            }
        }
        true
    }

    /// Out of file descriptors: use the spare one to accept a waiting
    /// client, tell it, and close it; then pause accepting briefly.
    fn refuse_one(&mut self, telnet: bool, now: Now) {
        log::warn!(
            "out of file descriptors: refusing connections for a moment (raise `ulimit -n`)"
        );
        self.spare_fd = None;
        let listener = if telnet {
            &self.telnet_listener
        } else {
            &self.listener
        };
        if let Some(listener) = listener {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write(BUSY_LINE);
            }
        }
        self.spare_fd = File::open("/dev/null").ok();
        self.accept_paused = Some(now.mono + ACCEPT_BACKOFF);
    }

    /// Makes connection `key` a telnet client from now on: the server's
    /// offers (character mode) are queued before anything else, and its
    /// lines end with CR LF.
    pub(super) fn make_telnet(&mut self, key: usize) {
        let mut offers = Vec::new();
        if let Some(conn) = self.io.conns.get_mut(key) {
            conn.codec = LineCodec::telnet(&mut offers);
            conn.crlf = true;
        }
        self.io.queue(key, &Rc::from(offers));
    }

    /// Seats a new network client, unless its address is over
    /// `--connect-rate`. One from the chat port is sniffed first (chat, TLS
    /// or HTTP); one from the telnet listener is offered character mode
    /// before the welcome.
    fn admit(&mut self, mut stream: mio::net::TcpStream, peer: SocketAddr, telnet: bool, now: Now) {
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
        if !telnet {
            // What it speaks (chat, TLS, HTTP) is found out before the room
            // hears of it: see arrival.rs.
            self.arrive(stream, peer, now);
            return;
        }
        // The telnet listener speaks first: no first bytes to wait for.
        let charset = Charset::detecting(self.default_encoding);
        match self.add(Stream::Tcp(stream), Some(peer), charset) {
            Ok((key, serial)) => {
                log::debug!("conn {key} from {peer}: accepted (telnet)");
                self.make_telnet(key);
                self.room
                    .open(key, serial, Via::Stream(peer), now, &mut self.io);
            }
            Err(e) => log::warn!("cannot watch the connection from {peer}: {e}"),
        }
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
