//! Arrival: a new connection between accept and the room. Its first bytes
//! say what it speaks ([`transport::decide`]); a TLS client gets its
//! handshake here, an HTTP client is passed on, and a chat client (plain or
//! TLS) is handed to the room only then, so the banner comes after the
//! choice and the room never sees a socket that is not chat.
//!
//! Arrivals live in a slab of their own, with tokens from [`ARRIVAL_BASE`]
//! up, so none of this touches the connections' slab or its hot path. A
//! plain connection is only peeked at (`MSG_PEEK`), never read, so its
//! first bytes reach the room through the usual read; TLS plaintext read
//! while sniffing is put back in front of the stream
//! ([`TlsStream::replay`](crate::net::tls::stream::TlsStream::replay)).
//!
//! An HTTP client goes on to the HTTP connections (`http.rs`), which
//! have a slab and limits of their own.
//!
//! Every arrival has a deadline: `--sniff-wait` for the first bytes (then
//! silence means chat), `--tls-handshake-timeout` for the handshake (then
//! it is closed), the close linger for one refused on the way.

use super::{Reactor, CLOSE_LINGER};
use crate::clock::Now;
use crate::net::charset::Charset;
use crate::net::conn::{Conn, Stream};
use crate::net::http::HttpLimits;
use crate::net::sniff::SNIFF_BYTES;
use crate::net::tls::stream::TlsStream;
use crate::net::tls::ServerTls;
use crate::net::transport::{self, Layer, Next, Rules};
use crate::net::wire::{is_wait, Wire};
use crate::room::Via;

/// Telnet's "interpret as command" byte, which starts every negotiation.
const IAC: u8 = 0xFF;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use slab::Slab;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arrivals' tokens are their slab key plus this: far above any
/// connection key, below the reactor's reserved tokens.
pub(super) const ARRIVAL_BASE: usize = 1 << (usize::BITS - 2);

/// A TLS alert record: content type 21, version 3.1, length 2, level
/// fatal (2), description handshake_failure (40).
const NO_TLS_ALERT: [u8; 7] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28];

/// How connections arrive: `--sniff-wait`, TLS and its limits.
#[derive(Debug, Clone)]
pub struct TransportSetup {
    /// The TLS configuration, if a certificate is set up.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `--tls-only`.
    pub tls_only: bool,
    /// `--sniff-wait`.
    pub sniff_wait: Duration,
    /// `--tls-handshake-timeout`.
    pub handshake_timeout: Duration,
    /// `--max-handshakes`.
    pub max_arrivals: usize,
    /// `--web` and the HTTP limits.
    pub http: HttpLimits,
}

/// Every connection not yet handed to the room.
#[derive(Debug)]
pub(super) struct Arrivals {
    /// By key (token minus [`ARRIVAL_BASE`]).
    slab: Slab<Arrival>,
    /// `(deadline, serial, key)` of every arrival, earliest first.
    deadlines: BTreeSet<(Instant, u64, usize)>,
    /// Finished arrivals, removed at the end of the turn.
    dead: Vec<usize>,
    /// The rules.
    setup: TransportSetup,
}

impl Arrivals {
    /// No arrivals yet.
    pub(super) fn new(setup: TransportSetup) -> Arrivals {
        Arrivals {
            slab: Slab::new(),
            deadlines: BTreeSet::new(),
            dead: Vec::new(),
            setup,
        }
    }

    /// The earliest deadline, for the poll's timeout.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _, _)| at)
    }

    fn rules(&self) -> Rules {
        Rules {
            tls: self.setup.tls.is_some(),
            tls_only: self.setup.tls_only,
        }
    }

    /// Moves an arrival's deadline.
    fn set_deadline(&mut self, key: usize, at: Instant) {
        if let Some(arrival) = self.slab.get_mut(key) {
            self.deadlines
                .remove(&(arrival.deadline, arrival.serial, key));
            arrival.deadline = at;
            self.deadlines.insert((at, arrival.serial, key));
        }
    }

    /// Forgets an arrival (its socket was handed on or is to be closed).
    fn finish(&mut self, key: usize) {
        if let Some(arrival) = self.slab.get_mut(key) {
            self.deadlines
                .remove(&(arrival.deadline, arrival.serial, key));
            if !arrival.done {
                arrival.done = true;
                self.dead.push(key);
            }
        }
    }
}

/// One connection being recognised.
#[derive(Debug)]
struct Arrival {
    /// Tells a reused key from the arrival a deadline was set for.
    serial: u64,
    /// Remote address.
    peer: SocketAddr,
    /// When waiting in the current state ends.
    deadline: Instant,
    /// WRITABLE is registered (TLS output blocked).
    writable: bool,
    /// Finished; removed at the end of the turn.
    done: bool,
    /// What it is doing.
    state: State,
}

/// Where an arrival is.
#[derive(Debug)]
enum State {
    /// Plain TCP, waiting for the first bytes (peeked, never taken).
    Sniffing(TcpStream),
    /// In the TLS handshake.
    Handshaking(Box<ServerTls>),
    /// TLS is up; waiting for the first plaintext, kept here.
    Opened(Box<ServerTls>, Vec<u8>),
    /// Answered: input is read and dropped until the peer hangs up, so
    /// the answer is not destroyed by a reset.
    Closing(Wire),
    /// Handed on, or between two states.
    Gone,
}

/// What a step left the arrival as.
enum Outcome {
    /// Still arriving.
    Stay(State),
    /// A chat client: to the room; `true` if its first byte was telnet's
    /// IAC (it negotiates, so even the banner needs CR LF).
    Seat(Stream, &'static str, bool),
    /// An HTTP client: to the HTTP connections, with the bytes read so
    /// far (inside TLS; a plain socket was only peeked at).
    Http(Wire, Vec<u8>, Layer),
    /// Close it (dropping the socket).
    Close(&'static str),
}

impl Reactor {
    /// Takes a new TCP connection in; it is looked at at once (a TLS
    /// client has often sent its hello already).
    pub(super) fn arrive(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Now) {
        if self.arrivals.setup.sniff_wait.is_zero() {
            // `--sniff-wait 0s`: nothing is recognised, every connection is
            // plaintext chat and gets the banner at once.
            let charset = Charset::detecting(self.default_encoding);
            match self.add(Stream::Tcp(stream), Some(peer), charset) {
                Ok((key, serial)) => {
                    log::debug!("conn {key} from {peer}: accepted");
                    self.room
                        .open(key, serial, Via::Stream(peer), now, &mut self.io);
                }
                Err(e) => log::warn!("cannot watch the connection from {peer}: {e}"),
            }
            return;
        }
        // Finished arrivals wait in the slab for the end of the turn; they
        // do not count.
        let live = self.arrivals.slab.len() - self.arrivals.dead.len();
        if live >= self.arrivals.setup.max_arrivals {
            self.evict_oldest_arrival(now);
        }
        let entry = self.arrivals.slab.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(ARRIVAL_BASE + key),
            Interest::READABLE,
        ) {
            log::warn!("cannot watch the connection from {peer}: {e}");
            return;
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let deadline = now.mono + self.arrivals.setup.sniff_wait;
        entry.insert(Arrival {
            serial,
            peer,
            deadline,
            writable: false,
            done: false,
            state: State::Sniffing(stream),
        });
        self.arrivals.deadlines.insert((deadline, serial, key));
        self.step_arrival(key, false, now);
    }

    /// An arrival's socket is ready.
    pub(super) fn arrival_event(&mut self, key: usize, now: Now) {
        self.step_arrival(key, false, now);
    }

    /// Acts on arrivals whose wait is over.
    pub(super) fn expire_arrivals(&mut self, now: Now) {
        while let Some(&(at, serial, key)) = self.arrivals.deadlines.first() {
            if at > now.mono {
                return;
            }
            self.arrivals.deadlines.pop_first();
            if self
                .arrivals
                .slab
                .get(key)
                .is_some_and(|a| a.serial == serial && !a.done)
            {
                self.step_arrival(key, true, now);
            }
        }
    }

    /// Removes finished arrivals: the end of the turn, so no event of this
    /// turn can reach a newcomer that reused the key.
    pub(super) fn reap_arrivals(&mut self) {
        while let Some(key) = self.arrivals.dead.pop() {
            if self.arrivals.slab.get(key).is_some_and(|a| a.done) {
                self.arrivals.slab.remove(key);
            }
        }
    }

    /// Too many at once: the one waiting longest makes way, so a newcomer
    /// is always looked at. One still silent is taken for a chat client
    /// now rather than dropped: it may be a person with nc, who gets the
    /// banner (or the room's answer) a little early instead of silence. One
    /// in a TLS handshake that never finishes is dropped.
    fn evict_oldest_arrival(&mut self, now: Now) {
        let oldest = self
            .arrivals
            .slab
            .iter()
            .filter(|(_, a)| !a.done)
            .min_by_key(|(_, a)| a.serial)
            .map(|(key, a)| (key, a.peer, matches!(a.state, State::Sniffing(_))));
        match oldest {
            Some((key, peer, true)) => {
                self.step_arrival(key, true, now);
                // Its first bytes said TLS after all: it waits no more.
                if self.arrivals.slab.get(key).is_some_and(|a| !a.done) {
                    log::debug!("too many connections arriving at once: dropped one from {peer}");
                    self.close_arrival(key);
                }
            }
            Some((key, peer, false)) => {
                log::debug!(
                    "too many connections arriving at once: dropped the oldest, from {peer}"
                );
                self.close_arrival(key);
            }
            None => {}
        }
    }

    /// Moves arrival `key` on as far as its socket allows; `expired`: its
    /// deadline has passed.
    fn step_arrival(&mut self, key: usize, expired: bool, now: Now) {
        let rules = self.arrivals.rules();
        let setup = self.arrivals.setup.clone();
        let Some(arrival) = self.arrivals.slab.get_mut(key) else {
            return;
        };
        if arrival.done {
            return;
        }
        let peer = arrival.peer;
        let mut state = std::mem::replace(&mut arrival.state, State::Gone);
        let mut expired = expired;
        let outcome = loop {
            let (outcome, deadline) = step(state, expired, rules, &setup, peer);
            match (outcome, deadline) {
                (Outcome::Stay(next), Some(wait)) => {
                    // A new state with a wait of its own: it may have
                    // something to do at once (the plaintext that came with
                    // the handshake's end).
                    self.arrivals.set_deadline(key, now.mono + wait);
                    state = next;
                    expired = false;
                }
                (outcome, _) => break outcome,
            }
        };
        match outcome {
            Outcome::Stay(state) => {
                let registry = self.poll.registry();
                if let Some(arrival) = self.arrivals.slab.get_mut(key) {
                    arrival.state = state;
                    watch_output(arrival, key, registry);
                }
            }
            Outcome::Seat(stream, how, telnet) => {
                self.arrivals.finish(key);
                self.seat(stream, peer, how, telnet, now);
            }
            Outcome::Http(wire, first, layer) => {
                if let Some(wire) = self.start_http(wire, peer, layer, first, now) {
                    // Too many HTTP connections: it was answered 503 and
                    // lingers here until it hangs up.
                    let registry = self.poll.registry();
                    if let Some(arrival) = self.arrivals.slab.get_mut(key) {
                        arrival.state = State::Closing(wire);
                        watch_output(arrival, key, registry);
                    }
                    self.arrivals.set_deadline(key, now.mono + CLOSE_LINGER);
                } else {
                    self.arrivals.finish(key);
                }
            }
            Outcome::Close(why) => {
                log::debug!("arrival from {peer}: {why}");
                self.close_arrival(key);
            }
        }
    }

    /// Drops an arrival; closing its socket takes it out of the poller.
    fn close_arrival(&mut self, key: usize) {
        if let Some(arrival) = self.arrivals.slab.get_mut(key) {
            arrival.state = State::Gone;
        }
        self.arrivals.finish(key);
    }

    /// Hands a chat client to the room, then reads what it already sent.
    fn seat(&mut self, mut stream: Stream, peer: SocketAddr, how: &str, telnet: bool, now: Now) {
        if self.stopping.is_some() {
            return; // shutting down: the socket closes as it drops
        }
        let entry = self.io.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .reregister(&mut stream, Token(key), Interest::READABLE)
        {
            log::warn!("cannot watch the connection from {peer}: {e}");
            return;
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let charset = Charset::detecting(self.default_encoding);
        entry.insert(Conn::new(serial, stream, Some(peer), charset));
        log::debug!("conn {key} from {peer}: accepted ({how})");
        if telnet {
            // A client that negotiates from its first byte (PuTTY, Windows
            // telnet) is a telnet client before the banner: our offers go
            // first and the banner ends its lines with CR LF, or its first
            // two lines would staircase.
            self.make_telnet(key);
        }
        self.room
            .open(key, serial, Via::Stream(peer), now, &mut self.io);
        // Its first bytes (or the end of its input) are already here, and
        // no new readiness event may come for them.
        self.read(key, now);
    }
}

/// Registers WRITABLE while TLS output waits for the socket, and drops it after.
fn watch_output(arrival: &mut Arrival, key: usize, registry: &Registry) {
    let (socket, blocked) = match &mut arrival.state {
        State::Handshaking(t) | State::Opened(t, _) => {
            let blocked = t.has_unsent();
            (t.socket_mut(), blocked)
        }
        State::Closing(Wire::Tls(t)) => {
            let blocked = t.has_unsent();
            (t.socket_mut(), blocked)
        }
        _ => return,
    };
    if blocked != arrival.writable {
        let interest = if blocked {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if registry
            .reregister(socket, Token(ARRIVAL_BASE + key), interest)
            .is_ok()
        {
            arrival.writable = blocked;
        }
    }
}

/// One step of an arrival's life: the next state and, if it starts a new
/// wait, how long that wait is.
fn step(
    state: State,
    expired: bool,
    rules: Rules,
    setup: &TransportSetup,
    peer: SocketAddr,
) -> (Outcome, Option<Duration>) {
    match state {
        State::Sniffing(tcp) => {
            let mut first = [0u8; SNIFF_BYTES];
            let (seen, waited) = match tcp.peek(&mut first) {
                Ok(0) => (0, true), // the peer closed: whatever it is, it said nothing
                Ok(n) => (n, expired),
                Err(e) if is_wait(&e) => (0, expired),
                Err(_) => return (Outcome::Close("failed before a byte"), None),
            };
            match transport::decide(Layer::Plain, &first[..seen], waited, rules) {
                Next::Wait => (Outcome::Stay(State::Sniffing(tcp)), None),
                Next::Chat => {
                    let telnet = first[..seen].first() == Some(&IAC);
                    (Outcome::Seat(Stream::Tcp(tcp), "plain", telnet), None)
                }
                Next::Handshake => match setup
                    .tls
                    .as_ref()
                    .map(|c| rustls::ServerConnection::new(Arc::clone(c)))
                {
                    Some(Ok(conn)) => (
                        Outcome::Stay(State::Handshaking(Box::new(TlsStream::new(conn, tcp)))),
                        Some(setup.handshake_timeout),
                    ),
                    _ => (Outcome::Close("TLS could not start"), None),
                },
                Next::Http => (
                    Outcome::Http(Wire::Plain(tcp), Vec::new(), Layer::Plain),
                    None,
                ),
                Next::NeedsTls => {
                    let here = tcp
                        .local_addr()
                        .map_or_else(|_| "HOST:PORT".to_string(), |a| a.to_string());
                    let mut wire = Wire::Plain(tcp);
                    wire.say_and_shut(transport::tls_needed_line(&here).as_bytes());
                    log::debug!("arrival from {peer}: plaintext chat refused (--tls-only)");
                    (Outcome::Stay(State::Closing(wire)), Some(CLOSE_LINGER))
                }
                Next::Drop => {
                    // A fatal handshake_failure alert (a plaintext record, as
                    // before any keys): the client says why, not "reset".
                    let mut wire = Wire::Plain(tcp);
                    wire.say_and_shut(&NO_TLS_ALERT);
                    log::debug!("arrival from {peer}: TLS hello, but no certificate is set up");
                    (Outcome::Stay(State::Closing(wire)), Some(CLOSE_LINGER))
                }
            }
        }
        State::Handshaking(mut tls) => match tls.handshake() {
            Ok(progress) if progress.done => (
                Outcome::Stay(State::Opened(tls, Vec::with_capacity(SNIFF_BYTES))),
                Some(setup.sniff_wait),
            ),
            Ok(_) if expired => (Outcome::Close("TLS handshake did not finish in time"), None),
            Ok(_) => (Outcome::Stay(State::Handshaking(tls)), None),
            Err(_) => (Outcome::Close("TLS handshake failed"), None),
        },
        State::Opened(mut tls, mut first) => {
            // The handshake's last flight, if the socket was full (reading
            // below sends it too, but only when rustls has to read).
            let _ = tls.flush();
            let mut waited = expired;
            while first.len() < SNIFF_BYTES {
                let mut more = [0u8; SNIFF_BYTES];
                let room = SNIFF_BYTES - first.len();
                match tls.read(&mut more[..room]) {
                    Ok(0) => {
                        waited = true;
                        break;
                    }
                    Ok(n) => {
                        first.extend_from_slice(&more[..n]);
                        if transport::decide(Layer::Tls, &first, false, rules) != Next::Wait {
                            break;
                        }
                    }
                    Err(e) if is_wait(&e) => break,
                    Err(_) => return (Outcome::Close("TLS failed before a byte"), None),
                }
            }
            match transport::decide(Layer::Tls, &first, waited, rules) {
                Next::Wait => (Outcome::Stay(State::Opened(tls, first)), None),
                Next::Http => (Outcome::Http(Wire::Tls(tls), first, Layer::Tls), None),
                // Inside TLS nothing else is possible: it is chat.
                _ => {
                    let telnet = first.first() == Some(&IAC);
                    tls.replay(&first);
                    (Outcome::Seat(Stream::Tls(tls), "TLS", telnet), None)
                }
            }
        }
        State::Closing(mut wire) => {
            if expired {
                return (Outcome::Close("did not hang up after its answer"), None);
            }
            let _ = wire.flush();
            let mut sink = [0u8; 2048];
            loop {
                match wire.read(&mut sink) {
                    Ok(0) => return (Outcome::Close("answered and closed"), None),
                    Ok(_) => {}
                    Err(e) if is_wait(&e) => return (Outcome::Stay(State::Closing(wire)), None),
                    Err(_) => return (Outcome::Close("answered; then it failed"), None),
                }
            }
        }
        State::Gone => (Outcome::Close("gone"), None),
    }
}
