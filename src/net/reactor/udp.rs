//! The UDP transport: one socket shared by every UDP participant, one
//! line per datagram each way, silent peers swept out.
//!
//! # Trust
//!
//! A datagram's source address may be forged, so an address is a stranger
//! until it has echoed a token (see [`crate::net::udp_token`]). A stranger
//! gets at most one short line per datagram, `[Server]: Send HELO <token>
//! to join.`, and all strangers together at most `--udp-unverified-rate` of
//! them; nothing is kept about it. Only `HELO <token>` from the address the
//! token was made for opens a session: the room's `open`, exactly as a TCP
//! client's accept, so only verified addresses ever take a seat, a
//! nickname or a place among those joining. Strangers' datagrams that look
//! like a server's line, or that come from this server's own address, get
//! nothing at all: two servers pointed at each other fall silent.

use super::{interest, Reactor, UDP};
use crate::clock::Now;
use crate::net::charset::Charset;
use crate::net::conn::Stream;
use crate::net::datagram::{first_line, looks_like_server_line};
use crate::net::udp_token::{Token, Tokens};
use crate::room::ratelimit::{Rate, TokenBucket};
use crate::room::{Gone, Via};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Datagrams read per turn before the rest of the turn runs.
const UDP_BATCH: usize = 256;
/// The word that asks for a token, and that carries it back.
const UDP_HELLO: &[u8] = b"HELO";
/// The keep-alive a UDP client sends; it only says "still here".
const UDP_PING: &[u8] = b"/ping";
/// Token replies that may go out at once, as a share of a second's worth
/// of `--udp-unverified-rate`: a class arriving together is served at
/// once, and no window of a second sees more than 10 % over the rate.
const INVITE_BURST_SHARE: f64 = 0.1;

/// What `suda serve` hands the reactor for `--udp`.
#[derive(Debug)]
pub struct UdpSetup {
    /// The socket, bound to the TCP listener's address and port.
    pub socket: mio::net::UdpSocket,
    /// `--udp-idle`.
    pub idle: Duration,
    /// `--udp-unverified-rate`: token replies per second in all (`None`: no cap).
    pub unverified_rate: Option<f64>,
}

/// The UDP transport's state: one socket, many participants.
#[derive(Debug)]
pub(super) struct Udp {
    /// The socket, shared with every UDP participant's [`Stream::Udp`].
    pub(super) socket: Rc<mio::net::UdpSocket>,
    /// Verified participants (key, serial) by address.
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
    /// The socket's own address: a datagram from it (or from another local
    /// address with this port) is this server, or another one, talking.
    local: SocketAddr,
    /// Makes and checks the address tokens.
    tokens: Tokens,
    /// `--udp-unverified-rate` and its bucket, shared by all strangers.
    invites: Option<(Rate, TokenBucket)>,
}

impl Udp {
    /// Sets up the transport and watches the socket.
    ///
    /// # Errors
    ///
    /// The socket cannot be watched or read, or there is no randomness
    /// for the token key.
    pub(super) fn new(
        setup: UdpSetup,
        registry: &mio::Registry,
        now: Instant,
    ) -> anyhow::Result<Udp> {
        use anyhow::Context as _;
        let UdpSetup {
            mut socket,
            idle,
            unverified_rate,
        } = setup;
        registry
            .register(&mut socket, UDP, mio::Interest::READABLE)
            .context("cannot watch the UDP socket")?;
        let local = socket
            .local_addr()
            .context("cannot read the UDP socket's address")?;
        let tokens = Tokens::random(now)
            .map_err(|e| anyhow::anyhow!("cannot make the UDP token key: {e}"))?;
        let invites = unverified_rate.map(|per_second| {
            let burst = (per_second * INVITE_BURST_SHARE).ceil().clamp(1.0, 1e9) as u32;
            let rate = Rate { per_second, burst };
            (rate, TokenBucket::new(rate, now))
        });
        Ok(Udp {
            socket: Rc::new(socket),
            peers: HashMap::new(),
            idle,
            sweep_at: now,
            pending: false,
            blocked: Vec::new(),
            writable: false,
            local,
            tokens,
            invites,
        })
    }

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

    /// Whether `from` is this server's own address, or another local
    /// address on this port (a second server on this machine).
    fn is_own(&self, from: SocketAddr) -> bool {
        from.port() == self.local.port() && is_local(self.local.ip(), from.ip())
    }

    /// Takes one token reply from the server-wide allowance, if any is left.
    fn may_invite(&mut self, now: Instant) -> bool {
        match &mut self.invites {
            Some((rate, bucket)) => bucket.try_take(*rate, now),
            None => true,
        }
    }
}

/// Whether `ip` is an address of this machine. `bound` is the socket's
/// own (maybe unspecified) address. Loopback is always local; any other
/// address is local exactly when a socket can be bound to it, which the
/// kernel answers at once (this runs only for datagrams from our own port).
pub(super) fn is_local(bound: IpAddr, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    if ip.is_loopback() || ip == bound.to_canonical() || ip.is_unspecified() {
        return true;
    }
    std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// The one line a stranger may be sent.
pub(super) fn invitation(token: Token) -> String {
    format!("[Server]: Send HELO {} to join.\n", token.as_str())
}

/// What follows `HELO ` in a line, if it is `HELO <word>`.
fn hello_token(word: &[u8]) -> Option<&[u8]> {
    let (hello, rest) = word.split_at_checked(UDP_HELLO.len() + 1)?;
    (hello[..UDP_HELLO.len()].eq_ignore_ascii_case(UDP_HELLO) && hello[UDP_HELLO.len()] == b' ')
        .then_some(rest.trim_ascii())
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

    /// One datagram of `n` bytes (in the read buffer) from `from`.
    fn datagram(&mut self, from: SocketAddr, n: usize, now: Now) {
        let Some(udp) = &self.udp else {
            return;
        };
        let known = udp.peers.get(&from).copied().filter(|&(key, serial)| {
            self.io
                .conns
                .get(key)
                .is_some_and(|c| c.serial == serial && c.is_open())
        });
        match known {
            Some((key, _)) => self.participant_datagram(key, from, n, now),
            None => self.stranger_datagram(from, n, now),
        }
    }

    /// A datagram from an address that has not shown it receives: it gets
    /// a token, a session if it brought back a good one, or nothing.
    fn stranger_datagram(&mut self, from: SocketAddr, n: usize, now: Now) {
        // Shutting down: nobody new, as the listener accepts nobody.
        if self.stopping.is_some() {
            return;
        }
        let Some(udp) = &mut self.udp else {
            return;
        };
        let line = first_line(&self.scratch[..n]);
        let word = line.trim_ascii();
        // An empty datagram is a keep-alive, from nobody in particular.
        if word.is_empty() || looks_like_server_line(line) || udp.is_own(from) {
            return;
        }
        if let Some(token) = hello_token(word) {
            if udp.tokens.check(from, token, now.mono) {
                return self.open_session(from, now);
            }
        }
        if !udp.may_invite(now.mono) {
            return;
        }
        let reply = invitation(udp.tokens.issue(from, now.mono));
        // Sent at once and forgotten: nothing is kept for a stranger, not
        // even a queue. A full socket loses it; the client asks again.
        if let Err(e) = udp.socket.send_to(reply.as_bytes(), from) {
            log::debug!("udp: no token for {from}: {e}");
        }
    }

    /// `from` echoed its token: it becomes a connection, and the room
    /// greets it as it greets a TCP client (or turns it away).
    fn open_session(&mut self, from: SocketAddr, now: Now) {
        let Some(udp) = &self.udp else {
            return;
        };
        let stream = Stream::Udp {
            socket: Rc::clone(&udp.socket),
            peer: from,
            continuing: false,
        };
        let charset = Charset::detecting(self.default_encoding);
        let Ok((key, serial)) = self.add(stream, Some(from), charset) else {
            return;
        };
        if let Some(udp) = &mut self.udp {
            udp.peers.insert(from, (key, serial));
        }
        if let Some(conn) = self.io.conns.get_mut(key) {
            conn.heard = Some(now.mono);
        }
        log::debug!("conn {key} from {from}: UDP session");
        self.room
            .open(key, serial, Via::Datagram(from), now, &mut self.io);
    }

    /// A datagram from a participant: its first line is a line, as one
    /// line of a TCP client's; the rest of it is dropped.
    fn participant_datagram(&mut self, key: usize, from: SocketAddr, n: usize, now: Now) {
        let Some(udp) = &self.udp else {
            return;
        };
        let line = first_line(&self.scratch[..n]);
        let word = line.trim_ascii();
        // Keep-alives, and the handshake's HELO again (a client that lost
        // the banner, or repeated itself): still here, nothing to say.
        let keep_alive = word.is_empty()
            || word == UDP_PING
            || word.eq_ignore_ascii_case(UDP_HELLO)
            || hello_token(word).is_some_and(|t| udp.tokens.check(from, t, now.mono));
        let Some(conn) = self.io.conns.get_mut(key) else {
            return;
        };
        conn.heard = Some(now.mono);
        if keep_alive {
            return;
        }
        // A datagram is complete: split its line like a stream that ends there.
        let mut codec = crate::net::codec::LineCodec::default();
        self.frames.clear();
        self.reply.clear();
        codec.feed(line, self.max_line, &mut self.frames, &mut self.reply);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn local_addresses_are_ours_and_others_are_not() {
        let any = ip("0.0.0.0");
        assert!(is_local(ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(is_local(any, ip("127.0.0.9")));
        assert!(is_local(ip("::"), ip("::1")));
        assert!(is_local(ip("::"), ip("::ffff:127.0.0.1")));
        // Documentation ranges (RFC 5737, RFC 3849) are on no machine.
        assert!(!is_local(any, ip("192.0.2.1")));
        assert!(!is_local(ip("::"), ip("2001:db8::1")));
    }

    #[test]
    fn hello_carries_its_token() {
        assert_eq!(hello_token(b"HELO abc"), Some(&b"abc"[..]));
        assert_eq!(hello_token(b"helo  abc "), Some(&b"abc"[..]));
        assert_eq!(hello_token(b"HELO"), None);
        assert_eq!(hello_token(b"HELOabc"), None);
        assert_eq!(hello_token(b"HELLO abc"), None);
    }

    #[test]
    fn the_invitation_fits_the_contract() {
        let tokens = Tokens::with_key([9; 16], Instant::now());
        let peer = "[2001:db8::1]:65535".parse().expect("address");
        let line = invitation(tokens.issue(peer, Instant::now()));
        assert!(line.len() <= 64, "{}", line.len());
        assert!(line.starts_with("[Server]: Send HELO ") && line.ends_with(" to join.\n"));
    }
}
