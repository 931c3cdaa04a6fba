//! The UDP transport: one socket shared by every UDP participant, one
//! line per datagram each way, silent peers swept out.

use super::{interest, Reactor, UDP};
use crate::clock::Now;
use crate::net::charset::Charset;
use crate::net::conn::Stream;
use crate::room::{Gone, Via};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Datagrams read per turn before the rest of the turn runs.
const UDP_BATCH: usize = 256;
/// The datagram that starts a UDP session without giving a nickname yet.
const UDP_HELLO: &str = "HELO";
/// The keep-alive a UDP client sends; it only says "still here".
const UDP_PING: &str = "/ping";

/// The UDP transport's state: one socket, many participants.
#[derive(Debug)]
pub(super) struct Udp {
    /// The socket, shared with every UDP participant's [`Stream::Udp`].
    pub(super) socket: Rc<mio::net::UdpSocket>,
    /// Participants (key, serial) by address.
    pub(super) peers: HashMap<SocketAddr, (usize, u64)>,
    /// `--udp-idle`.
    pub(super) idle: Duration,
    /// When to look for silent participants next.
    pub(super) sweep_at: Instant,
    /// More datagrams may be waiting: the batch ran out.
    pub(super) pending: bool,
    /// Participants whose output waits for the socket to take more.
    pub(super) blocked: Vec<usize>,
    /// WRITABLE is registered on the socket.
    pub(super) writable: bool,
}

impl Udp {
    /// Watches the socket for writability too, or no longer.
    pub(super) fn watch(&mut self, registry: &mio::Registry, writable: bool) {
        if self.writable == writable {
            return;
        }
        self.writable = writable;
        // Through the descriptor: the socket is shared (`Rc`), and mio's own
        // `reregister` wants it `&mut`.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&*self.socket);
        if let Err(e) = registry.reregister(&mut mio::unix::SourceFd(&fd), UDP, interest(writable))
        {
            log::warn!("udp: cannot change what is watched on the socket: {e}");
        }
    }

    /// How often silent participants are looked for: a quarter of the
    /// allowed silence, so one is removed at most 25 % late.
    pub(super) fn sweep_every(&self) -> Duration {
        (self.idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}

impl Reactor {
    /// Reads datagrams, a batch per turn.
    pub(super) fn read_udp(&mut self, now: Now) {
        let Some(socket) = self.udp.as_ref().map(|u| Rc::clone(&u.socket)) else {
            return;
        };
        for _ in 0..UDP_BATCH {
            match socket.recv_from(&mut self.scratch) {
                Ok((n, from)) => self.datagram(from, n, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(udp) = &mut self.udp {
                        udp.pending = false;
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // An ICMP error for an earlier send: nothing to do for this read.
                Err(e) => log::debug!("udp: receive failed: {e}"),
            }
        }
        if let Some(udp) = &mut self.udp {
            udp.pending = true;
        }
    }

    /// One datagram of `n` bytes (in the read buffer) from `from`: one line
    /// (or a few), a new session, or a keep-alive.
    fn datagram(&mut self, from: SocketAddr, n: usize, now: Now) {
        let Some(udp) = &self.udp else {
            return;
        };
        let text = String::from_utf8_lossy(&self.scratch[..n]);
        let word = text.trim();
        let keep_alive = word.is_empty() || word == UDP_PING;
        // A keep-alive from an address the server does not know (it forgot
        // a silent client, or restarted) starts a session like HELO, so the
        // client sees the prompt instead of its next line becoming a nickname.
        let hello = word.eq_ignore_ascii_case(UDP_HELLO) || word == UDP_PING;
        let known = udp.peers.get(&from).copied().filter(|&(key, serial)| {
            self.io
                .conns
                .get(key)
                .is_some_and(|c| c.serial == serial && c.is_open())
        });
        let key = match known {
            Some((key, _)) => key,
            // An empty datagram from nobody in particular starts nothing.
            None if word.is_empty() => return,
            None => {
                let socket = Rc::clone(&udp.socket);
                let charset = Charset::detecting(self.default_encoding);
                let Ok((key, serial)) =
                    self.add(Stream::Udp { socket, peer: from }, Some(from), charset)
                else {
                    return;
                };
                if let Some(udp) = &mut self.udp {
                    udp.peers.insert(from, (key, serial));
                }
                log::debug!("conn {key} from {from}: UDP session");
                self.room
                    .open(key, serial, Via::Datagram(from), now, &mut self.io);
                if hello {
                    if let Some(conn) = self.io.conns.get_mut(key) {
                        conn.heard = Some(now.mono);
                    }
                    return;
                }
                key
            }
        };
        let Some(conn) = self.io.conns.get_mut(key) else {
            return;
        };
        conn.heard = Some(now.mono);
        if keep_alive || !conn.is_open() {
            return;
        }
        // A datagram is complete: split it like a stream that ends there.
        let mut codec = crate::net::codec::LineCodec::default();
        self.frames.clear();
        self.reply.clear();
        codec.feed(
            &self.scratch[..n],
            self.max_line,
            &mut self.frames,
            &mut self.reply,
        );
        codec.finish(&mut self.frames);
        self.dispatch(key, now);
    }

    /// Removes UDP participants that went silent for `--udp-idle`.
    pub(super) fn sweep_udp(&mut self, now: Now) {
        let Some(udp) = &mut self.udp else {
            return;
        };
        if now.mono < udp.sweep_at {
            return;
        }
        udp.sweep_at = now.mono + udp.sweep_every();
        let idle = udp.idle;
        let silent: Vec<usize> = udp
            .peers
            .values()
            .filter_map(|&(key, serial)| {
                let conn = self.io.conns.get(key)?;
                let quiet = conn
                    .heard
                    .is_some_and(|at| now.mono.saturating_duration_since(at) >= idle);
                (conn.serial == serial && conn.is_open() && quiet).then_some(key)
            })
            .collect();
        for key in silent {
            log::debug!(
                "conn {key}: UDP participant silent for {}",
                crate::clock::compact(idle)
            );
            self.io.kill(key);
            self.room.gone(key, Gone::Silent, now, &mut self.io);
        }
    }

    /// A UDP participant's output did not fit in the socket's buffer: wait
    /// for the socket to become writable.
    pub(super) fn udp_blocked(&mut self, key: usize) {
        let Some(udp) = &mut self.udp else {
            return;
        };
        udp.blocked.push(key);
        udp.watch(self.poll.registry(), true);
    }

    /// The UDP socket takes output again: retry the waiting participants.
    pub(super) fn udp_writable(&mut self) {
        let Some(udp) = &mut self.udp else {
            return;
        };
        let waiting = std::mem::take(&mut udp.blocked);
        udp.watch(self.poll.registry(), false);
        for key in waiting {
            self.io.mark_dirty(key);
        }
    }
}
