//! `latency-udp`: the latency workload over the server's UDP transport
//! (`suda serve --udp`), beside the same workload over TCP.
//!
//! The contract: one datagram is one line, the same commands and the same
//! output lines as TCP, one datagram per line sent back, and a new address
//! first proves it receives: it sends `HELO`, gets `[Server]: Send HELO
//! <token> to join.`, and sends `HELO <token>`; then comes the banner. Each
//! client here is one connected UDP socket that goes through that exchange,
//! answers the nickname prompt and waits for `[Server]: Welcome, <nick>!
//! ...`. A lost datagram is possible, and the server rations its token
//! replies (`--udp-unverified-rate`), so each step is sent again until it
//! is answered; a server that never answers at all (or answers with ICMP
//! "port unreachable") was not started with `--udp`.
//!
//! Messages go out without a newline (the datagram is the line); lines come
//! back with or without one. A datagram lost on the way counts as a lost
//! delivery and is reported, but over UDP it does not fail the run.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use memchr::memchr_iter;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use crate::client::{is_refusal, refusal, trim_cr, ClientError};
use crate::context::{Context, Refusal};
use crate::latency::{self, Config, Pacer, Recorder, Sent};
use crate::report::Workload as Report;
use crate::worker::{self, Shared, EVENTS_PER_POLL, TICK};

/// Nicknames of this workload: `ldu0`, `ldu1`, ...
const PREFIX: &str = "ldu";
/// A client not yet answered sends its step of the join again after this long.
const JOIN_RETRY: Duration = Duration::from_millis(500);
/// Times one step is sent before giving up: 10 s, so a room of a few
/// hundred gets its tokens under the server's default 100 a second.
const JOIN_TRIES: u32 = 20;
/// What the server answers a new address with, around its token.
const INVITATION: (&[u8], &[u8]) = (b"[Server]: Send HELO ", b" to join.");
/// The banner's question.
const PROMPT: &[u8] = b"[Server]: Enter your nickname:";
/// Receive buffer asked for each socket, so a burst of datagrams waits for
/// the reader instead of being dropped (the kernel may grant less:
/// `net.core.rmem_max`).
const RECV_BUFFER: usize = 4 << 20;
/// Datagrams read from one socket per turn before the others get a turn.
const DATAGRAMS_PER_TURN: usize = 256;
/// The largest datagram read.
const DATAGRAM: usize = 64 * 1024;

/// One participant over UDP.
#[derive(Debug)]
struct UdpClient {
    socket: UdpSocket,
    nick: String,
    welcome: Vec<u8>,
    joined: bool,
    /// The join's current step: `HELO`, `HELO <token>`, then the nickname.
    step: Vec<u8>,
    /// Times the step was sent so far.
    tries: u32,
    /// When the step was last sent.
    tried_at: Instant,
}

impl UdpClient {
    fn open(addr: SocketAddr) -> io::Result<UdpSocket> {
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(|_| io::Error::other("bad local address"))?;
        let socket = StdUdpSocket::bind(local)?;
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(RECV_BUFFER);
        socket.connect(addr)?;
        socket.set_nonblocking(true)?;
        Ok(UdpSocket::from_std(socket))
    }

    /// Sends the join's current step (again).
    fn send_step(&mut self, now: Instant) -> io::Result<()> {
        self.tries += 1;
        self.tried_at = now;
        match self.socket.send(&self.step) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()), // the retry will do
            Err(e) => Err(e),
        }
    }

    /// Moves the join on to `step`, sent at once.
    fn next_step(&mut self, step: Vec<u8>, now: Instant) -> io::Result<()> {
        self.step = step;
        self.tries = 0;
        self.send_step(now)
    }

    /// A line while joining: the token, the prompt, the welcome or a refusal.
    fn joining(&mut self, line: &[u8], now: Instant) -> Result<(), io::Error> {
        if let Some(token) = line
            .strip_prefix(INVITATION.0)
            .and_then(|rest| rest.strip_suffix(INVITATION.1))
        {
            let mut answer = b"HELO ".to_vec();
            answer.extend_from_slice(token);
            return self.next_step(answer, now);
        }
        if line == PROMPT && self.step != self.nick.as_bytes() {
            let nick = self.nick.clone().into_bytes();
            return self.next_step(nick, now);
        }
        if line == self.welcome.as_slice() {
            self.joined = true;
        }
        Ok(())
    }
}

/// The error for a server that does not speak UDP.
fn no_answer(addr: SocketAddr) -> String {
    format!("no answer over UDP from {addr}: is the server started with --udp?")
}

/// One worker: joins its UDP clients, then paces and records like the TCP
/// latency worker.
fn drive(
    addr: SocketAddr,
    nicks: &[String],
    shared: &Shared,
    pacer: &mut Pacer,
    recorder: &mut Recorder,
) -> Result<(), String> {
    let mut poll = Poll::new().map_err(|e| format!("cannot create a poller: {e}"))?;
    shared.wake_me(&poll)?;
    let mut clients = Vec::with_capacity(nicks.len());
    let now = Instant::now();
    for (i, nick) in nicks.iter().enumerate() {
        let mut socket = UdpClient::open(addr)
            .map_err(|e| format!("cannot open a UDP socket towards {addr}: {e}"))?;
        poll.registry()
            .register(&mut socket, Token(i), Interest::READABLE)
            .map_err(|e| format!("cannot watch a UDP socket: {e}"))?;
        let mut client = UdpClient {
            socket,
            nick: nick.clone(),
            welcome: format!("[Server]: Welcome, {nick}! Type /help for commands.").into_bytes(),
            joined: false,
            step: b"HELO".to_vec(),
            tries: 0,
            tried_at: now,
        };
        client.send_step(now).map_err(|e| udp_error(addr, &e))?;
        clients.push(client);
    }
    let mut events = Events::with_capacity(EVENTS_PER_POLL);
    let mut scratch = vec![0u8; DATAGRAM];
    let mut heard = false;
    let mut wake_at: Option<Instant> = None;
    // Sockets that had more datagrams than one turn reads.
    let mut again: Vec<usize> = Vec::new();
    let result = loop {
        if shared.stopping() {
            break Ok(());
        }
        let now = Instant::now();
        // Joins: say the current step again, or give up.
        for client in clients.iter_mut().filter(|c| !c.joined) {
            if now.duration_since(client.tried_at) < JOIN_RETRY {
                continue;
            }
            if client.tries >= JOIN_TRIES {
                return Err(if heard {
                    format!(
                        "{} got no welcome over UDP from {addr} after {JOIN_TRIES} tries",
                        client.nick
                    )
                } else {
                    no_answer(addr)
                });
            }
            client.send_step(now).map_err(|e| udp_error(addr, &e))?;
        }
        let timeout = if again.is_empty() {
            wake_at.map_or(TICK, |at| at.saturating_duration_since(now).min(TICK))
        } else {
            Duration::ZERO // datagrams are waiting
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break Err(format!("poll failed: {e}"));
        }
        // Probes first, as over TCP; then the sockets left over last turn.
        let passes = if recorder.has_probes() { 2 } else { 1 };
        let mut ready: Vec<usize> = Vec::new();
        for pass in 0..passes {
            for event in events.iter() {
                let i = event.token().0;
                if i < clients.len() && (passes == 1 || (pass == 0) == recorder.is_probe(i)) {
                    ready.push(i);
                }
            }
        }
        ready.extend(std::mem::take(&mut again));
        for i in ready {
            let client = &mut clients[i];
            let mut drained = false;
            for _ in 0..DATAGRAMS_PER_TURN {
                let n = match client.socket.recv(&mut scratch) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        drained = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(udp_error(addr, &e)),
                };
                heard = true;
                let now = Instant::now();
                for line in datagram_lines(&scratch[..n]) {
                    if client.joined {
                        recorder.line(i, line, now);
                    } else if is_refusal(line) {
                        return Err(refusal(&String::from_utf8_lossy(line)));
                    } else {
                        client.joining(line, now).map_err(|e| udp_error(addr, &e))?;
                        if client.joined {
                            shared.joined.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            if !drained && !again.contains(&i) {
                again.push(i); // no new edge will come for what is left
            }
        }
        if let Some(start) = shared.started() {
            wake_at = pacer
                .pump(start, |local, line| {
                    let datagram = line.strip_suffix(b"\n").unwrap_or(line);
                    match clients[local].socket.send(datagram) {
                        Ok(_) => Ok(Sent::Yes),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Sent::Later),
                        Err(e) => Err(ClientError::Io(e)),
                    }
                })
                .map_err(|e| e.describe(addr))?;
        }
        pacer.publish(shared);
        if let Some(problem) = recorder.publish(shared) {
            break Err(problem);
        }
    };
    // Leave now rather than when the server's --udp-idle runs out.
    for client in clients.iter().filter(|c| c.joined) {
        let _ = client.socket.send(b"/exit");
    }
    result
}

/// The lines of one datagram (normally exactly one).
fn datagram_lines(datagram: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut from = 0;
    let mut ends = memchr_iter(b'\n', datagram).chain([datagram.len()]);
    std::iter::from_fn(move || loop {
        let end = ends.next()?;
        if end < from {
            return None;
        }
        let line = trim_cr(&datagram[from..end]);
        from = end + 1;
        if !line.is_empty() {
            return Some(line);
        }
        if end == datagram.len() {
            return None;
        }
    })
}

fn udp_error(addr: SocketAddr, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        no_answer(addr)
    } else {
        format!("UDP towards {addr} failed: {e}")
    }
}

/// Runs the latency workload over UDP.
///
/// # Errors
///
/// [`Refusal::Unreachable`] when the server cannot be reached over TCP
/// either (the room's size is checked over TCP).
pub fn run(ctx: &Context, cfg: &Config) -> Result<Report, Refusal> {
    let mut report = Report::new("latency-udp", "udp", cfg.clients as u64);
    report.senders = Some(cfg.senders as u64);
    report.message_bytes = Some(cfg.bytes as u64);
    report.offered_rate = Some(cfg.rate as f64);
    if let Err(e) = ctx.ready(cfg.clients, cfg.check())? {
        report.error = Some(e);
        return Ok(report);
    }
    let hands = worker::deal(cfg.clients, ctx.threads);
    let shared = Shared::default();
    let (watched, parts) = std::thread::scope(|scope| {
        let handles: Vec<_> = hands
            .iter()
            .enumerate()
            .map(|(t, ids)| {
                let nicks: Vec<String> = ids.iter().map(|id| format!("{PREFIX}{id}")).collect();
                let shared = &shared;
                std::thread::Builder::new()
                    .name(format!("load-udp-{t}"))
                    .spawn_scoped(scope, move || {
                        let _watch = worker::PanicWatch(shared);
                        let mut pacer = Pacer::new(*cfg, ctx.origin, ids);
                        let mut recorder = Recorder::new(PREFIX, ctx.origin, cfg, ids);
                        if let Err(e) = drive(ctx.addr, &nicks, shared, &mut pacer, &mut recorder) {
                            shared.fail(e);
                        }
                        (pacer, recorder)
                    })
                    .map_err(|e| shared.fail(format!("cannot start a generator thread: {e}")))
            })
            .collect();
        let watched = latency::watch_paced(ctx, cfg, &shared, "latency-udp");
        shared.stop();
        let parts: Vec<(Pacer, Recorder)> = handles
            .into_iter()
            .filter_map(|h| h.ok()?.join().ok())
            .collect();
        (watched, parts)
    });
    let parts: Vec<(&Pacer, &Recorder)> = parts.iter().map(|(p, r)| (p, r)).collect();
    latency::finish_report(&mut report, cfg, watched, &parts, &shared, true);
    report.ok = report.error.is_none();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_is_a_line_with_or_without_newline() {
        let lines = |d: &'static [u8]| datagram_lines(d).collect::<Vec<_>>();
        assert_eq!(lines(b"ldu1 >> hi"), vec![&b"ldu1 >> hi"[..]]);
        assert_eq!(lines(b"ldu1 >> hi\n"), vec![&b"ldu1 >> hi"[..]]);
        assert_eq!(lines(b"a\r\nb\n"), vec![&b"a"[..], &b"b"[..]]);
        assert!(lines(b"").is_empty());
        assert!(lines(b"\n").is_empty());
    }
}
