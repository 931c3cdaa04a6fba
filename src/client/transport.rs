//! The connection to the server: a TCP stream (plain or TLS, see
//! [`tls`](super::tls)), or a UDP socket that sends one datagram per line.
//!
//! Over UDP the server first wants proof that our address receives: the
//! transport sends `HELO`, answers the server's `Send HELO <token> to join.`
//! with `HELO <token>` and holds the user's lines until the server speaks
//! (it does so again should the server forget us). Long lines from the
//! server come in pieces, joined by [`Reassembly`].
//!
//! Both are non-blocking and polled edge-triggered: reads go on until
//! `WouldBlock` (or a per-turn budget, so a flood cannot starve the
//! keyboard), and WRITABLE is registered only while something is waiting
//! to be sent.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};

use super::tls::{Trust, Wire};
use crate::client::reassembly::Reassembly;
use crate::client::server_line;
use crate::net::codec::{Frame, Frames, LineCodec};

/// The port `suda serve` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9999;

/// The largest UDP payload over IPv4; a line longer than this cannot go
/// out as one datagram.
pub const MAX_DATAGRAM: usize = 65_507;

/// Bytes read from the server in one turn of the loop before the keyboard
/// gets its turn; the rest is read on the next turn, without waiting.
const READ_BUDGET: usize = 256 * 1024;

/// The token exchange's datagrams are sent again after this long without
/// an answer (one may be lost, or the server's token replies may be
/// rationed just then); `--connect-timeout` ends the trying.
pub const EXCHANGE_RETRY: Duration = Duration::from_secs(1);

/// One unit of what the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A complete line, without its line end: over UDP, one that came
    /// whole in one datagram. Only such a line may change what the client
    /// does.
    Line(Vec<u8>),
    /// Over UDP, a line that came in pieces (or a piece of one whose other
    /// pieces were lost): shown, never acted on.
    Pieced(Vec<u8>),
    /// A line longer than `--max-line`; its bytes were dropped.
    TooLong,
}

/// How far [`Transport::receive`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Everything available was read: wait for the next event.
    All,
    /// The budget ran out: read again next turn.
    More,
    /// The server closed the connection (TCP).
    Closed,
}

/// A line that cannot be sent as one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLongForUdp;

/// Where to connect, as the user wrote it and as addresses.
#[derive(Debug, Clone)]
pub struct Target {
    /// `HOST:PORT`, for messages.
    pub label: String,
    /// The addresses the host name resolved to, in resolver order.
    pub addrs: Vec<SocketAddr>,
}

/// Splits `HOST:PORT`, `HOST`, `[v6]:PORT` or a bare IPv6 address.
///
/// ```
/// use suda::client::transport::split_host_port;
/// assert_eq!(split_host_port("example.org:7000"), Ok(("example.org", 7000)));
/// assert_eq!(split_host_port("localhost"), Ok(("localhost", 9999)));
/// assert_eq!(split_host_port("[::1]:7000"), Ok(("::1", 7000)));
/// assert_eq!(split_host_port("::1"), Ok(("::1", 9999)));
/// assert!(split_host_port("host:port").is_err());
/// ```
///
/// # Errors
///
/// The port is not a number from 0 to 65535, or the brackets do not close.
pub fn split_host_port(text: &str) -> Result<(&str, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port number"))
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "missing ] after the IPv6 address".to_string())?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, port(p)?)),
            None if after.is_empty() => Ok((host, DEFAULT_PORT)),
            None => Err(format!("unexpected {after:?} after ]")),
        };
    }
    match text.matches(':').count() {
        0 => Ok((text, DEFAULT_PORT)),
        1 => {
            let (host, p) = text.split_once(':').unwrap_or((text, ""));
            Ok((host, port(p)?))
        }
        _ => Ok((text, DEFAULT_PORT)),
    }
}

impl Target {
    /// Resolves `HOST:PORT`.
    ///
    /// # Errors
    ///
    /// A one-line reason: a bad address, or the host is not found.
    pub fn resolve(text: &str) -> Result<Target, String> {
        let (host, port) = split_host_port(text.trim())?;
        let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(_) => Vec::new(),
        };
        if addrs.is_empty() {
            return Err("host not found".into());
        }
        Ok(Target {
            label: text.trim().to_string(),
            addrs,
        })
    }
}

/// Says what went wrong with a connection, in a few words.
pub fn describe(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset".into(),
        K::TimedOut => "timed out".into(),
        K::HostUnreachable => "host unreachable".into(),
        K::NetworkUnreachable => "network unreachable".into(),
        K::AddrNotAvailable => "address not available".into(),
        _ => e.to_string(),
    }
}

/// The connection.
#[derive(Debug)]
pub enum Transport {
    /// A TCP stream: lines end with `\n`.
    Tcp(Tcp),
    /// A connected UDP socket: one datagram per line.
    Udp(Udp),
}

/// The TCP side.
#[derive(Debug)]
pub struct Tcp {
    /// The stream, non-blocking, plain or TLS.
    stream: Wire,
    /// Splits what arrives into lines, with `--max-line` as the bound.
    codec: LineCodec,
    /// The lines of one read (reused).
    frames: Frames,
    /// Where reads land (reused).
    buf: Box<[u8]>,
    /// Encoded lines not yet taken by the socket.
    sendq: Vec<u8>,
    /// WRITABLE is registered: only while `sendq` waits on a full socket.
    writable: bool,
    /// Shut down our sending side once `sendq` is empty (we are leaving).
    close_when_sent: bool,
    /// Our sending side is shut down.
    closed: bool,
}

/// The UDP side.
#[derive(Debug)]
pub struct Udp {
    /// Connected to the server, so only its datagrams arrive and an ICMP
    /// "port unreachable" comes back as `ConnectionRefused`.
    socket: UdpSocket,
    /// Where datagrams land (reused).
    buf: Box<[u8]>,
    /// Datagrams the socket would not take yet.
    outq: VecDeque<Vec<u8>>,
    /// WRITABLE is registered: only while `outq` is not empty.
    writable: bool,
    /// When the last datagram left: the keep-alive counts from here.
    last_sent: Instant,
    /// Long lines' pieces, joined again.
    pieces: Reassembly,
    /// Where the token exchange is.
    exchange: Exchange,
    /// The user's lines, held while the exchange runs.
    held: VecDeque<Vec<u8>>,
}

/// The token exchange over UDP.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exchange {
    /// `datagram` (`HELO`, then `HELO <token>`) was sent at `at`; the server
    /// has not spoken since.
    Waiting {
        /// What to send again if nothing comes.
        datagram: Vec<u8>,
        /// When it was last sent.
        at: Instant,
    },
    /// The server talks to us.
    Done,
}

impl Transport {
    /// Connects over TCP, trying each address in turn.
    ///
    /// # Errors
    ///
    /// A one-line reason from the last address tried.
    pub fn tcp(target: &Target, timeout: Duration) -> Result<Transport, String> {
        let stream = connect(target, timeout)?;
        stream.set_nonblocking(true).map_err(|e| describe(&e))?;
        Ok(Tcp::over(Wire::Plain(TcpStream::from_std(stream))))
    }

    /// Connects over TCP and speaks TLS, trusting the server as `trust`
    /// says (see [`tls`](super::tls)).
    ///
    /// # Errors
    ///
    /// A one-line reason; for a certificate that changed, the warning.
    pub fn tls(target: &Target, timeout: Duration, trust: &Trust) -> Result<Transport, String> {
        let (host, port) = split_host_port(&target.label)?;
        let prepared = super::tls::prepare(host, port, trust)?;
        let stream = connect(target, timeout)?;
        let tls = super::tls::handshake(prepared, stream, timeout)?;
        Ok(Tcp::over(Wire::Tls(Box::new(tls))))
    }

    /// Opens a UDP socket connected to the first address; `HELO` is the
    /// first datagram to go. Whether the server is there shows when it
    /// answers.
    ///
    /// # Errors
    ///
    /// The socket cannot be opened or connected.
    pub fn udp(target: &Target) -> Result<Transport, String> {
        let Some(&addr) = target.addrs.first() else {
            return Err("host not found".into());
        };
        let local: SocketAddr = if addr.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let open = || -> io::Result<std::net::UdpSocket> {
            let socket = std::net::UdpSocket::bind(local)?;
            socket.connect(addr)?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        };
        let socket = open().map_err(|e| describe(&e))?;
        let now = Instant::now();
        // A new address asks for its token first.
        let hello = b"HELO".to_vec();
        Ok(Transport::Udp(Udp {
            socket: UdpSocket::from_std(socket),
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            outq: VecDeque::from([hello.clone()]),
            writable: false,
            last_sent: now,
            pieces: Reassembly::default(),
            exchange: Exchange::Waiting {
                datagram: hello,
                at: now,
            },
            held: VecDeque::new(),
        }))
    }

    /// Whether this is the UDP transport.
    pub fn is_udp(&self) -> bool {
        matches!(self, Transport::Udp(_))
    }

    /// Registers for reading.
    ///
    /// # Errors
    ///
    /// From mio.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Transport::Tcp(tcp) => registry.register(&mut tcp.stream, token, Interest::READABLE),
            Transport::Udp(udp) => registry.register(&mut udp.socket, token, Interest::READABLE),
        }
    }

    /// Reads what the server sent into `out`, up to the turn's budget.
    ///
    /// # Errors
    ///
    /// The connection failed (reset; over UDP, nobody listening).
    pub fn receive(&mut self, max_line: usize, out: &mut Vec<Received>) -> io::Result<Drained> {
        match self {
            Transport::Tcp(tcp) => tcp.receive(max_line, out),
            Transport::Udp(udp) => udp.receive(max_line, out),
        }
    }

    /// Queues one line (already encoded, without line end).
    ///
    /// # Errors
    ///
    /// Over UDP, a line longer than one datagram can carry; it is not sent.
    pub fn send(&mut self, line: &[u8]) -> Result<(), TooLongForUdp> {
        match self {
            Transport::Tcp(tcp) => {
                tcp.sendq.extend_from_slice(line);
                tcp.sendq.push(b'\n');
            }
            Transport::Udp(udp) => {
                if line.len() > MAX_DATAGRAM {
                    return Err(TooLongForUdp);
                }
                if udp.exchange == Exchange::Done {
                    udp.outq.push_back(line.to_vec());
                } else {
                    udp.held.push_back(line.to_vec());
                }
            }
        }
        Ok(())
    }

    /// The fingerprint of the server's certificate, over TLS.
    pub fn peer_fingerprint(&self) -> Option<crate::net::tls::fingerprint::Fingerprint> {
        match self {
            Transport::Tcp(tcp) => tcp.stream.peer_fingerprint(),
            Transport::Udp(_) => None,
        }
    }

    /// Bytes queued and not yet sent.
    pub fn unsent(&self) -> usize {
        match self {
            Transport::Tcp(tcp) => tcp.sendq.len(),
            Transport::Udp(udp) => udp.outq.iter().chain(&udp.held).map(Vec::len).sum(),
        }
    }

    /// Over TCP, closes our sending side once the queue is sent: the
    /// server reads our last lines, then end of input. (UDP has nothing
    /// to close; the caller says `/exit`.)
    pub fn close(&mut self) {
        if let Transport::Tcp(tcp) = self {
            tcp.close_when_sent = true;
        }
    }

    /// When a keep-alive is due if nothing else is sent (UDP only, and not
    /// while datagrams are waiting, or the exchange runs: they will do).
    pub fn keepalive_due(&self, every: Duration) -> Option<Instant> {
        match self {
            Transport::Udp(udp) if udp.outq.is_empty() && udp.exchange == Exchange::Done => {
                Some(udp.last_sent + every)
            }
            _ => None,
        }
    }

    /// When [`Transport::receive`] has something to do even if nothing
    /// arrives (UDP: send the exchange's datagram again, show a line whose
    /// continuation is overdue).
    pub fn deadline(&self) -> Option<Instant> {
        let Transport::Udp(udp) = self else {
            return None;
        };
        let retry = match &udp.exchange {
            Exchange::Waiting { at, .. } => Some(*at + EXCHANGE_RETRY),
            Exchange::Done => None,
        };
        match (retry, udp.pieces.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends what the socket takes; asks for WRITABLE only while some is left.
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub fn flush(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Transport::Tcp(tcp) => tcp.flush(registry, token),
            Transport::Udp(udp) => udp.flush(registry, token),
        }
    }
}

/// A connected, blocking TCP stream to the first address that answers,
/// with Nagle off (chat lines must not wait for each other).
pub fn connect(target: &Target, timeout: Duration) -> Result<std::net::TcpStream, String> {
    let mut last = None;
    for addr in &target.addrs {
        match std::net::TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(|e| describe(&e))?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                last = Some(format!(
                    "no answer within {}",
                    humantime::format_duration(timeout)
                ));
            }
            Err(e) => last = Some(describe(&e)),
        }
    }
    Err(last.unwrap_or_else(|| "host not found".into()))
}

impl Tcp {
    /// The TCP transport over a connected, non-blocking stream.
    fn over(stream: Wire) -> Transport {
        Transport::Tcp(Tcp {
            stream,
            codec: LineCodec::default(),
            frames: Frames::default(),
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            sendq: Vec::new(),
            writable: false,
            close_when_sent: false,
            closed: false,
        })
    }

    fn receive(&mut self, max_line: usize, out: &mut Vec<Received>) -> io::Result<Drained> {
        let mut taken = 0;
        // Telnet answers are never sent: the client must not speak telnet.
        let mut telnet_reply = Vec::new();
        loop {
            if taken >= READ_BUDGET {
                return Ok(Drained::More);
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => {
                    self.frames.clear();
                    self.codec.finish(&mut self.frames);
                    collect(&self.frames, out);
                    return Ok(Drained::Closed);
                }
                Ok(n) => {
                    taken += n;
                    self.frames.clear();
                    self.codec.feed(
                        &self.buf[..n],
                        max_line,
                        &mut self.frames,
                        &mut telnet_reply,
                    );
                    telnet_reply.clear();
                    collect(&self.frames, out);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Drained::All),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let mut sent = 0;
        while sent < self.sendq.len() {
            match self.stream.write(&self.sendq[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.sendq.drain(..sent);
        let waiting = !self.sendq.is_empty() || self.stream.holds_unsent()?;
        want_writable(
            &mut self.stream,
            registry,
            token,
            &mut self.writable,
            waiting,
        )?;
        if !waiting && self.close_when_sent && !self.closed {
            self.closed = true;
            // Already closed by the server: its EOF is on the way to us.
            let _ = self.stream.shutdown_write();
        }
        Ok(())
    }
}

impl Udp {
    fn receive(&mut self, max_line: usize, out: &mut Vec<Received>) -> io::Result<Drained> {
        let mut taken = 0;
        loop {
            if taken >= READ_BUDGET {
                return Ok(Drained::More);
            }
            match self.socket.recv(&mut self.buf) {
                Ok(n) => {
                    taken += n.max(1);
                    let now = Instant::now();
                    if !self.exchanged(n, now) {
                        self.pieces.push(&self.buf[..n], now, max_line, out);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let now = Instant::now();
                    self.pieces.expire(now, out);
                    self.retry(now);
                    return Ok(Drained::All);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes part in the token exchange with the datagram of `n` bytes that
    /// just came; returns whether it was the token (which is not shown).
    fn exchanged(&mut self, n: usize, now: Instant) -> bool {
        let datagram = &self.buf[..n];
        // Only a whole line is the server's: a piece may be anyone's text.
        let token = datagram
            .strip_suffix(b"\n")
            .and_then(|line| std::str::from_utf8(line).ok())
            .and_then(|line| server_line::token_request(line.trim_end_matches('\r')));
        match token {
            Some(token) => {
                // Also when the server forgot a silent client and asks again.
                let answer = format!("HELO {token}").into_bytes();
                self.outq.push_front(answer.clone());
                self.exchange = Exchange::Waiting {
                    datagram: answer,
                    at: now,
                };
                true
            }
            None => {
                if self.exchange != Exchange::Done {
                    self.exchange = Exchange::Done;
                    self.outq.extend(self.held.drain(..));
                }
                false
            }
        }
    }

    /// Sends the exchange's datagram again if it had no answer in time.
    fn retry(&mut self, now: Instant) {
        if let Exchange::Waiting { datagram, at } = &mut self.exchange {
            if now >= *at + EXCHANGE_RETRY {
                *at = now;
                if !self.outq.contains(datagram) {
                    self.outq.push_front(datagram.clone());
                }
            }
        }
    }

    fn flush(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        while let Some(datagram) = self.outq.front() {
            match self.socket.send(datagram) {
                Ok(_) => {
                    self.outq.pop_front();
                    self.last_sent = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let waiting = !self.outq.is_empty();
        want_writable(
            &mut self.socket,
            registry,
            token,
            &mut self.writable,
            waiting,
        )
    }
}

/// Registers WRITABLE while output waits (`waiting`) and drops it when
/// the queue is empty; `writable` remembers which is registered.
fn want_writable(
    source: &mut impl Source,
    registry: &Registry,
    token: Token,
    writable: &mut bool,
    waiting: bool,
) -> io::Result<()> {
    if waiting != *writable {
        let interest = if waiting {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.reregister(source, token, interest)?;
        *writable = waiting;
    }
    Ok(())
}

fn collect(frames: &Frames, out: &mut Vec<Received>) {
    out.extend(frames.iter().map(|frame| match frame {
        Frame::Line(line) => Received::Line(line.to_vec()),
        Frame::TooLong => Received::TooLong,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port("127.0.0.1:9"), Ok(("127.0.0.1", 9)));
        assert!(split_host_port("[::1").is_err());
        assert!(split_host_port("[::1]x").is_err());
        assert!(split_host_port("host:99999").is_err());
    }
}
