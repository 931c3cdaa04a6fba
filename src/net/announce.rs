//! `--announce`: the server shows itself on the local network with mDNS /
//! DNS-SD (RFC 6762, RFC 6763) as `_suda._tcp`, so that `suda discover`,
//! `suda connect` without an address, or any DNS-SD browser
//! (`avahi-browse -r _suda._tcp`, Bonjour) finds it.
//!
//! # Threads
//!
//! mdns-sd runs its own thread and takes commands over a channel. The
//! reactor never talks to it: it hands the online count to
//! [`Announcer::set_online`] every turn, which is a comparison and, when
//! the count changed, an atomic store and a `try_send` on a channel that
//! holds one wake-up, so it can neither block nor grow. A thread of ours
//! (`suda-announce`) wakes, reads the latest count and re-announces it, at
//! most once per `--announce-interval`: a room filling up at the start of
//! a class costs one packet every few seconds, not one per join. A second
//! thread logs what the daemon reports (conflicts, errors, the first
//! announcement on each interface).
//!
//! # Interfaces
//!
//! Only where the listener can be reached: a specific `--bind` address is
//! announced on its own interface only, `0.0.0.0` on every IPv4 interface
//! but loopback, `[::]` on every interface but loopback. A server bound to
//! a loopback address announces nothing (nobody else could connect) and
//! says so.
//!
//! # Withdrawal
//!
//! When shutdown begins, [`Announcer::withdraw`] has the thread unregister
//! the service, which sends the goodbye packet (TTL 0), so browsers drop
//! the server at once rather than when their cache expires. Dropping the
//! announcer waits, briefly, for that to be done.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use mdns_sd::{DaemonEvent, IfKind, ServiceDaemon, ServiceInfo};

use crate::config::Config;

/// The DNS-SD service type, with the mDNS domain.
pub const SERVICE_TYPE: &str = "_suda._tcp.local.";

/// An instance name is one DNS label: 63 bytes at most (RFC 6763 4.1.1).
pub const MAX_NAME_BYTES: usize = 63;

/// `room=` and its value must fit one TXT string (255 bytes); a longer
/// room name is cut, at a character boundary.
const MAX_ROOM_TXT_BYTES: usize = 255 - "room=".len();

/// The longest wait for mdns-sd to answer a command while withdrawing: the
/// goodbye goes out at once, but a wedged daemon must not hold the exit.
const WITHDRAW_WAIT: Duration = Duration::from_secs(1);

/// Probing a name takes about a second (RFC 6762 8.1: three probes 250 ms
/// apart, then the announcement); nothing by this time means something is
/// wrong, and the operator is told.
const ANNOUNCE_EXPECTED: Duration = Duration::from_secs(5);

/// What is announced besides the count, taken from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// The instance name (`--announce-name`).
    pub name: String,
    /// `room=`.
    pub room: String,
    /// `max=`: `--max-clients`.
    pub max: usize,
    /// `tls=1`: the port speaks TLS.
    pub tls: bool,
    /// `udp=1`: `--udp`.
    pub udp: bool,
    /// `web=1`: a browser can join.
    pub web: bool,
    /// The count is re-announced at most this often.
    pub interval: Duration,
}

impl Advert {
    /// The advertisement `config` asks for, if `--announce` is on.
    pub fn from_config(config: &Config) -> Option<Advert> {
        let setup = config.announce.as_ref()?;
        Some(Advert {
            name: setup.name.clone(),
            room: cut(&config.room.name, MAX_ROOM_TXT_BYTES).to_string(),
            max: config.room.max_clients,
            tls: config.transport.tls.is_some(),
            udp: config.udp_idle.is_some(),
            // The page at `/` and its WebSocket, unless `--web off`.
            web: config.transport.http.web,
            interval: setup.interval,
        })
    }

    /// The TXT record for `online` participants, in the contract's order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use suda::net::announce::Advert;
    /// let advert = Advert {
    ///     name: "lab".into(), room: "lab 3".into(), max: 10,
    ///     tls: false, udp: true, web: false, interval: Duration::from_secs(3),
    /// };
    /// let txt: Vec<String> = advert.txt(4).iter().map(|(k, v)| format!("{k}={v}")).collect();
    /// assert_eq!(txt, ["room=lab 3", "online=4", "max=10", "tls=0", "udp=1", "web=0"]);
    /// ```
    pub fn txt(&self, online: usize) -> Vec<(&'static str, String)> {
        let flag = |on: bool| if on { "1" } else { "0" }.to_string();
        vec![
            ("room", self.room.clone()),
            ("online", online.to_string()),
            ("max", self.max.to_string()),
            ("tls", flag(self.tls)),
            ("udp", flag(self.udp)),
            ("web", flag(self.web)),
        ]
    }
}

/// The instance name for a room: the room name, cut to one DNS label.
pub fn default_name(room: &str) -> String {
    match cut(room.trim(), MAX_NAME_BYTES) {
        "" => "suda".to_string(),
        name => name.to_string(),
    }
}

/// `text`, cut to at most `max` bytes without splitting a character.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Where a listener on `ip` can be reached from, as far as announcing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Only from this machine: nothing to announce.
    Loopback,
    /// One address, on one interface.
    One(IpAddr),
    /// `0.0.0.0`: every IPv4 address.
    AnyV4,
    /// `[::]`: every address (Linux accepts IPv4 there too).
    Any,
}

impl Reach {
    fn of(ip: IpAddr) -> Reach {
        match ip {
            ip if ip.is_loopback() => Reach::Loopback,
            IpAddr::V4(v4) if v4.is_unspecified() => Reach::AnyV4,
            IpAddr::V6(v6) if v6.is_unspecified() => Reach::Any,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()) => {
                Reach::Loopback
            }
            ip => Reach::One(ip),
        }
    }

    /// Whether an interface address is one this listener is reachable on.
    fn covers(self, ip: IpAddr) -> bool {
        match self {
            Reach::Loopback => false,
            Reach::One(one) => ip == one,
            Reach::AnyV4 => ip.is_ipv4() && !ip.is_loopback(),
            Reach::Any => !ip.is_loopback(),
        }
    }
}

/// This machine's name as one DNS label, for the SRV target: letters,
/// digits and `-` only.
fn host_label(raw: &str) -> String {
    let mut label: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(40);
    match label.trim_matches('-') {
        "" => "host".to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// The host name in the SRV record: this machine's name, made suda's own
/// with the port, so our address records never fight the ones the
/// machine's own responder (Avahi, Bonjour) publishes for its plain name.
fn host_name(port: u16) -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    format!("{}-suda-{port}.local.", host_label(&raw))
}

/// What the reactor and the announcing thread share.
#[derive(Debug, Default)]
struct Shared {
    /// The latest online count.
    online: AtomicUsize,
    /// Shutdown began: withdraw.
    stop: AtomicBool,
}

/// The advertisement, kept current from the reactor; see the module doc.
#[derive(Debug)]
pub struct Announcer {
    /// The latest count and the stop request.
    shared: Arc<Shared>,
    /// Wakes the announcing thread; holds one wake-up at most.
    wake: SyncSender<()>,
    /// Closed (or sent to) when the service has been withdrawn.
    done: Receiver<()>,
    /// The count last handed over, so an unchanged one costs nothing.
    told: usize,
}

impl Announcer {
    /// Starts announcing the server listening on `addr`.
    ///
    /// # Returns
    ///
    /// `None` when `addr` is only reachable from this machine, after a
    /// warning that says so.
    ///
    /// # Errors
    ///
    /// mdns-sd could not start, or refused the service.
    pub fn start(advert: Advert, addr: SocketAddr) -> anyhow::Result<Option<Announcer>> {
        let reach = Reach::of(addr.ip());
        if reach == Reach::Loopback {
            log::warn!(
                "--announce: nothing is announced on the local network, since {} can only be reached from this machine (listen on 0.0.0.0:{} or on this machine's network address to be found)",
                addr.ip(),
                addr.port()
            );
            return Ok(None);
        }
        let interfaces: Vec<String> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .filter(|i| i.is_oper_up() && reach.covers(i.ip()))
            .map(|i| format!("{} ({})", i.name, i.ip()))
            .collect();
        if interfaces.is_empty() {
            log::warn!(
                "--announce: no network interface is up for {}: the server is announced once one is",
                addr.ip()
            );
        } else {
            log::info!(
                "announcing \"{}\" as {SERVICE_TYPE} on {}",
                advert.name,
                interfaces.join(", ")
            );
        }

        let daemon = ServiceDaemon::new().map_err(|e| anyhow!("--announce: {e}"))?;
        let select = || -> mdns_sd::Result<()> {
            match reach {
                Reach::One(ip) => {
                    daemon.disable_interface(IfKind::All)?;
                    daemon.enable_interface(IfKind::Addr(ip))
                }
                Reach::AnyV4 => {
                    daemon.disable_interface(IfKind::All)?;
                    daemon.enable_interface(IfKind::IPv4)?;
                    daemon.disable_interface(IfKind::LoopbackV4)
                }
                Reach::Any => {
                    daemon.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])
                }
                Reach::Loopback => Ok(()),
            }
        };
        select().map_err(|e| anyhow!("--announce: cannot choose the interfaces: {e}"))?;
        let events = daemon.monitor().map_err(|e| anyhow!("--announce: {e}"))?;
        std::thread::Builder::new()
            .name("suda-mdns-log".into())
            .spawn(move || report(&events))
            .context("--announce: cannot start a thread")?;

        let publisher = Publisher {
            advert,
            host: host_name(addr.port()),
            addrs: match reach {
                Reach::One(ip) => vec![ip],
                _ => Vec::new(),
            },
            port: addr.port(),
            daemon,
        };
        let first = publisher.service(0)?;
        let fullname = first.get_fullname().to_string();
        publisher
            .daemon
            .register(first)
            .map_err(|e| anyhow!("--announce: {e}"))?;

        let shared = Arc::new(Shared::default());
        let (wake, woken) = mpsc::sync_channel(1);
        let (done_tx, done) = mpsc::channel();
        {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("suda-announce".into())
                .spawn(move || {
                    publisher.run(&shared, &woken, &fullname);
                    let _ = done_tx.send(());
                })
                .context("--announce: cannot start a thread")?;
        }
        Ok(Some(Announcer {
            shared,
            wake,
            done,
            told: 0,
        }))
    }

    /// Hands over the online count. Called every turn; costs a comparison
    /// unless the count changed, and never blocks.
    pub fn set_online(&mut self, online: usize) {
        if online == self.told {
            return;
        }
        self.told = online;
        self.shared.online.store(online, Ordering::Relaxed);
        self.poke();
    }

    /// Withdraws the service (the goodbye packet goes out from the
    /// announcing thread); never blocks.
    pub fn withdraw(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.poke();
    }

    fn poke(&self) {
        // Full: a wake-up is already waiting, and it will read the latest.
        // Disconnected: the thread is gone, and there is nothing to update.
        let _ = self.wake.try_send(());
    }
}

impl Drop for Announcer {
    /// Withdraws, and waits a moment for the goodbye to be sent before the
    /// process exits.
    fn drop(&mut self) {
        self.withdraw();
        let _ = self.done.recv_timeout(WITHDRAW_WAIT * 3);
    }
}

/// The announcing thread's side: the daemon handle and what to announce.
struct Publisher {
    /// What the TXT record says besides the count.
    advert: Advert,
    /// The SRV target.
    host: String,
    /// The addresses announced, or none to let mdns-sd follow the
    /// interfaces' addresses as they come and go (`0.0.0.0`, `[::]`).
    addrs: Vec<IpAddr>,
    /// The listening port.
    port: u16,
    /// mdns-sd.
    daemon: ServiceDaemon,
}

impl Publisher {
    /// The service record for `online` participants.
    fn service(&self, online: usize) -> anyhow::Result<ServiceInfo> {
        let txt = self.advert.txt(online);
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &self.advert.name,
            &self.host,
            &self.addrs[..],
            self.port,
            &txt[..],
        )
        .map_err(|e| anyhow!("--announce: {e}"))?;
        Ok(if self.addrs.is_empty() {
            info.enable_addr_auto()
        } else {
            info
        })
    }

    /// Re-announces the count as it changes, no more often than the
    /// interval, until told to stop; then withdraws.
    fn run(self, shared: &Shared, woken: &Receiver<()>, fullname: &str) {
        let mut published = 0;
        let mut next = Instant::now() + self.advert.interval;
        loop {
            let behind = shared.online.load(Ordering::Relaxed) != published;
            let wait = if behind {
                next.saturating_duration_since(Instant::now())
            } else {
                Duration::MAX
            };
            match woken.recv_timeout(wait) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let online = shared.online.load(Ordering::Relaxed);
            let now = Instant::now();
            if online == published || now < next {
                continue;
            }
            match self.service(online) {
                Ok(info) => match self.daemon.register(info) {
                    Ok(()) => log::debug!("online count re-announced: {online}"),
                    Err(e) => log::warn!("--announce: cannot update the count: {e}"),
                },
                Err(e) => log::warn!("{e:#}"),
            }
            published = online;
            next = now + self.advert.interval;
        }
        self.withdraw(fullname);
    }

    /// Unregisters (the goodbye packet), then stops the daemon.
    fn withdraw(&self, fullname: &str) {
        match self.daemon.unregister(fullname) {
            Ok(status) => match status.recv_timeout(WITHDRAW_WAIT) {
                Ok(_) => log::info!("withdrawn from the local network"),
                Err(_) => log::warn!("--announce: the goodbye was not confirmed"),
            },
            Err(e) => log::warn!("--announce: cannot withdraw: {e}"),
        }
        if let Ok(status) = self.daemon.shutdown() {
            let _ = status.recv_timeout(WITHDRAW_WAIT);
        }
    }
}

/// Logs what mdns-sd reports until it stops: errors, a name taken by
/// someone else on the network (once per new name), and the first
/// announcement (once probing found the name free), or a warning if there
/// is none after [`ANNOUNCE_EXPECTED`].
fn report(events: &mdns_sd::Receiver<DaemonEvent>) {
    let mut announced = false;
    let mut warned = false;
    let mut renamed = String::new();
    let started = Instant::now();
    loop {
        let event = if announced || warned {
            events.recv().ok()
        } else {
            match events.recv_deadline(started + ANNOUNCE_EXPECTED) {
                Ok(event) => Some(event),
                Err(mdns_sd::RecvTimeoutError::Timeout) => {
                    warned = true;
                    log::warn!(
                        "--announce: nothing announced after {}s: is a network interface up, and can UDP port 5353 be shared (another mDNS responder holding it alone)?",
                        ANNOUNCE_EXPECTED.as_secs()
                    );
                    continue;
                }
                Err(mdns_sd::RecvTimeoutError::Disconnected) => None,
            }
        };
        let Some(event) = event else {
            return;
        };
        match event {
            DaemonEvent::Announce(fullname, _) if !announced => {
                announced = true;
                log::info!("announced on the local network as {fullname}");
            }
            DaemonEvent::NameChange(change) if change.new_name != renamed => {
                log::warn!(
                    "--announce: {} is taken on this network; announced as {} instead",
                    change.original,
                    change.new_name
                );
                renamed = change.new_name;
            }
            DaemonEvent::Error(e) => log::warn!("--announce: {e}"),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_a_listener_is_announced() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(Reach::of(ip("127.0.0.1")), Reach::Loopback);
        assert_eq!(Reach::of(ip("127.1.2.3")), Reach::Loopback);
        assert_eq!(Reach::of(ip("::1")), Reach::Loopback);
        assert_eq!(Reach::of(ip("::ffff:127.0.0.1")), Reach::Loopback);
        assert_eq!(Reach::of(ip("0.0.0.0")), Reach::AnyV4);
        assert_eq!(Reach::of(ip("::")), Reach::Any);
        assert_eq!(Reach::of(ip("10.1.2.3")), Reach::One(ip("10.1.2.3")));

        assert!(Reach::AnyV4.covers(ip("192.168.1.5")));
        assert!(!Reach::AnyV4.covers(ip("fe80::1")));
        assert!(!Reach::AnyV4.covers(ip("127.0.0.1")));
        assert!(Reach::Any.covers(ip("fe80::1")));
        assert!(!Reach::Any.covers(ip("::1")));
        assert!(Reach::One(ip("10.1.2.3")).covers(ip("10.1.2.3")));
        assert!(!Reach::One(ip("10.1.2.3")).covers(ip("10.1.2.4")));
    }

    #[test]
    fn names_fit_dns() {
        assert_eq!(host_label("Lab-PC_3.example"), "lab-pc-3-example");
        assert_eq!(host_label("  \n"), "host");
        assert_eq!(host_label("교실"), "host");
        assert!(host_label(&"x".repeat(100)).len() <= 40);

        assert_eq!(default_name("3반"), "3반");
        assert_eq!(default_name("  "), "suda");
        let long = "가".repeat(30); // 90 bytes
        let name = default_name(&long);
        assert!(name.len() <= MAX_NAME_BYTES && long.starts_with(&name));
        assert_eq!(name.chars().count(), 21);
    }
}
