//! Finding suda servers on the local network: `suda discover`, and the
//! choice `suda connect` makes when it is given no address.
//!
//! Servers started with `--announce` advertise `_suda._tcp` over mDNS /
//! DNS-SD ([`crate::net::announce`]); so can anything else, Avahi's
//! `avahi-publish` included. mdns-sd browses on its own thread and hands
//! over what it resolves on a channel, which is read here until the
//! deadline.
//!
//! Everything in an answer comes from whoever sent it: names are
//! sanitised before they reach the terminal, numbers that are not numbers
//! show as `?`, and at most `--max-servers` servers are kept.

use std::collections::BTreeMap;
use std::io::{self, BufRead as _, IsTerminal as _, Write as _};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use mdns_sd::{ResolvedService, ScopedIp, ServiceDaemon, ServiceEvent};

use crate::cli::DiscoverArgs;
use crate::client::locale;
use crate::net::announce::SERVICE_TYPE;
use crate::net::charset::Encoding;
use crate::text::sanitize;

/// How long `suda connect` without an address, and `suda discover`
/// without `--timeout`, listen for servers (the contract's 3 s).
pub const LOOK_FOR: Duration = Duration::from_secs(3);

/// Servers `suda connect` keeps while looking (as `suda discover`'s
/// `--max-servers` default).
const CONNECT_MAX_SERVERS: usize = 100;

/// What `suda connect` says when nothing answered (the contract's words).
pub const NONE_FOUND: &str = "no suda server found on the local network";

/// A server that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The DNS-SD instance name.
    pub name: String,
    /// `room=` (the instance name if there is none).
    pub room: String,
    /// Where to connect.
    pub addr: SocketAddr,
    /// `online=`, if it is a number.
    pub online: Option<u32>,
    /// `max=`, if it is a number.
    pub max: Option<u32>,
    /// `tls=1`.
    pub tls: bool,
    /// `udp=1`.
    pub udp: bool,
    /// `web=1`.
    pub web: bool,
}

impl Found {
    /// A server from its instance name, address and TXT values
    /// (`txt(key)`), made safe to print.
    ///
    /// ```
    /// use suda::client::discover::Found;
    /// let txt = |key: &str| match key {
    ///     "room" => Some("3반\x1b[2J"), "online" => Some("4"), "max" => Some("lots"),
    ///     "udp" => Some("1"), _ => None,
    /// };
    /// let found = Found::from_txt("lab", "10.0.0.5:9999".parse().unwrap(), txt);
    /// assert_eq!(found.line(), "3반  10.0.0.5:9999  (4/? online)  udp");
    /// ```
    pub fn from_txt<'a>(
        name: &str,
        addr: SocketAddr,
        txt: impl Fn(&str) -> Option<&'a str>,
    ) -> Found {
        let clean = |text: &str| sanitize(&text.replace(['\t', '\r', '\n'], " ")).into_owned();
        let flag = |key: &str| txt(key).is_some_and(|v| v.trim() == "1");
        let number = |key: &str| txt(key).and_then(|v| v.trim().parse().ok());
        let name = clean(name);
        let room = match txt("room").map(clean) {
            Some(room) if !room.trim().is_empty() => room,
            _ => name.clone(),
        };
        Found {
            name,
            room,
            addr,
            online: number("online"),
            max: number("max"),
            tls: flag("tls"),
            udp: flag("udp"),
            web: flag("web"),
        }
    }

    /// `<room>  <host>:<port>  (<online>/<max> online)[  tls][  udp][  web]`.
    pub fn line(&self) -> String {
        let count = |n: Option<u32>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
        let mut line = format!(
            "{}  {}  ({}/{} online)",
            self.room,
            self.addr,
            count(self.online),
            count(self.max)
        );
        for (on, word) in [(self.tls, "tls"), (self.udp, "udp"), (self.web, "web")] {
            if on {
                line.push_str("  ");
                line.push_str(word);
            }
        }
        line
    }

    /// The server as a JSON object.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "room": self.room,
            "host": self.addr.ip().to_string(),
            "port": self.addr.port(),
            "online": self.online,
            "max": self.max,
            "tls": self.tls,
            "udp": self.udp,
            "web": self.web,
        })
    }

    /// From what mdns-sd resolved; `None` if it is not a suda service or
    /// has no address.
    fn from_resolved(service: &ResolvedService) -> Option<Found> {
        let name = instance_name(&service.fullname)?;
        let addr = match best_address(service.get_addresses())? {
            (IpAddr::V6(v6), scope) => {
                SocketAddr::V6(SocketAddrV6::new(v6, service.port, 0, scope))
            }
            (ip, _) => SocketAddr::new(ip, service.port),
        };
        let props = service.get_properties();
        Some(Found::from_txt(&name, addr, |key| {
            props.get_property_val_str(key)
        }))
    }
}

/// The address to connect to, and its IPv6 scope (0 if none is needed):
/// IPv4 first, which every network routes, then a global IPv6 address,
/// then a link-local one, which needs its interface.
fn best_address(addrs: &std::collections::HashSet<ScopedIp>) -> Option<(IpAddr, u32)> {
    let mut choices: Vec<(u8, IpAddr, u32)> = addrs
        .iter()
        .map(|scoped| match scoped {
            ScopedIp::V4(v4) => (0, IpAddr::V4(*v4.addr()), 0),
            ScopedIp::V6(v6) if (v6.addr().segments()[0] & 0xffc0) == 0xfe80 => {
                (2, IpAddr::V6(*v6.addr()), v6.scope_id().index)
            }
            ScopedIp::V6(v6) => (1, IpAddr::V6(*v6.addr()), 0),
            // A kind of address this code does not know: skipped.
            _ => (u8::MAX, IpAddr::from([0, 0, 0, 0]), 0),
        })
        .filter(|(rank, _, _)| *rank != u8::MAX)
        .collect();
    choices.sort();
    choices.first().map(|(_, ip, scope)| (*ip, *scope))
}

/// The instance name in `Name._suda._tcp.local.`, unescaped (RFC 6763
/// 4.3: `\.`, `\\`, `\DDD`).
///
/// ```
/// # use suda::client::discover::instance_name;
/// assert_eq!(instance_name("Lab 3._suda._tcp.local.").as_deref(), Some("Lab 3"));
/// assert_eq!(instance_name(r"v1\.2._suda._tcp.local.").as_deref(), Some("v1.2"));
/// assert_eq!(instance_name(r"a\032b._suda._tcp.local.").as_deref(), Some("a b"));
/// assert_eq!(instance_name("x._http._tcp.local."), None);
/// ```
pub fn instance_name(fullname: &str) -> Option<String> {
    let cut = fullname.len().checked_sub(SERVICE_TYPE.len() + 1)?;
    let (name, rest) = (fullname.get(..cut)?, fullname.get(cut..)?);
    if !rest.starts_with('.') || !rest[1..].eq_ignore_ascii_case(SERVICE_TYPE) {
        return None;
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(u8::is_ascii_digit));
        match (bytes[i], digits) {
            (b'\\', Some(d)) => {
                let value = d.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            (b'\\', None) if i + 1 < bytes.len() => {
                out.push(bytes[i + 1]);
                i += 2;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// What browsing saw happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A server answered for the first time.
    Found(Found),
    /// A server's details changed (its online count, usually).
    Changed(Found),
    /// A server said goodbye, or stopped answering.
    Gone(Found),
}

/// A browse for `_suda._tcp` on every interface.
pub struct Browser {
    /// mdns-sd; shut down when the browser is dropped.
    daemon: ServiceDaemon,
    /// What it resolves.
    events: mdns_sd::Receiver<ServiceEvent>,
    /// The servers seen, by full DNS-SD name.
    servers: BTreeMap<String, Found>,
    /// Servers kept at most.
    max: usize,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("servers", &self.servers)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts browsing.
    ///
    /// # Errors
    ///
    /// mdns-sd could not start.
    pub fn start(max: usize) -> anyhow::Result<Browser> {
        let daemon =
            ServiceDaemon::new().map_err(|e| anyhow!("cannot look on the local network: {e}"))?;
        let events = daemon
            .browse(SERVICE_TYPE)
            .map_err(|e| anyhow!("cannot look on the local network: {e}"))?;
        Ok(Browser {
            daemon,
            events,
            servers: BTreeMap::new(),
            max,
        })
    }

    /// The next change, or `None` once `deadline` has passed (never, if
    /// `None`) or browsing failed.
    pub fn next(&mut self, deadline: Option<Instant>) -> Option<Change> {
        loop {
            let event = match deadline {
                Some(at) => self.events.recv_deadline(at).ok()?,
                None => self.events.recv().ok()?,
            };
            if let Some(change) = self.apply(event) {
                return Some(change);
            }
        }
    }

    /// Reads changes until `deadline`.
    pub fn wait(&mut self, deadline: Instant) {
        while self.next(Some(deadline)).is_some() {}
    }

    /// The servers seen and still there, by room and address.
    pub fn servers(&self) -> Vec<Found> {
        let mut servers: Vec<Found> = self.servers.values().cloned().collect();
        servers.sort_by(|a, b| (&a.room, a.addr).cmp(&(&b.room, b.addr)));
        servers
    }

    fn apply(&mut self, event: ServiceEvent) -> Option<Change> {
        match event {
            ServiceEvent::ServiceResolved(service) => {
                let found = Found::from_resolved(&service)?;
                let key = service.fullname.to_lowercase();
                let full = self.servers.len() >= self.max;
                match self.servers.get_mut(&key) {
                    Some(known) if *known == found => None,
                    Some(known) => {
                        *known = found.clone();
                        Some(Change::Changed(found))
                    }
                    None if full => None,
                    None => {
                        self.servers.insert(key, found.clone());
                        Some(Change::Found(found))
                    }
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => self
                .servers
                .remove(&fullname.to_lowercase())
                .map(Change::Gone),
            _ => None,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Not waited for: the process is about to exit, or to chat.
        let _ = self.daemon.shutdown();
    }
}

/// Runs `suda discover`.
pub fn run(args: DiscoverArgs) -> ExitCode {
    let terminal = locale::from_env();
    let timeout = args.timeout.or((!args.watch).then_some(LOOK_FOR));
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut browser = match Browser::start(args.max_servers as usize) {
        Ok(browser) => browser,
        Err(e) => {
            crate::client::screen::error_line(terminal, &format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    let mut out = io::stdout().lock();
    if args.watch {
        while let Some(change) = browser.next(deadline) {
            let text = if args.json {
                let (event, found) = match &change {
                    Change::Found(f) => ("found", f),
                    Change::Changed(f) => ("changed", f),
                    Change::Gone(f) => ("gone", f),
                };
                let mut object = found.json();
                object["event"] = event.into();
                format!("{object}\n")
            } else {
                let (mark, found) = match &change {
                    Change::Found(f) => ('+', f),
                    Change::Changed(f) => ('=', f),
                    Change::Gone(f) => ('-', f),
                };
                format!("{mark} {}\n", found.line())
            };
            if write_out(&mut out, terminal, &text, args.json).is_err() {
                // The reader went away (`| head`): nothing left to do.
                return ExitCode::SUCCESS;
            }
        }
        return ExitCode::SUCCESS;
    }
    if let Some(at) = deadline {
        browser.wait(at);
    }
    let servers = browser.servers();
    let text = if args.json {
        let list: Vec<_> = servers.iter().map(Found::json).collect();
        format!("{}\n", serde_json::Value::Array(list))
    } else {
        servers.iter().map(|s| s.line() + "\n").collect()
    };
    let _ = write_out(&mut out, terminal, &text, args.json);
    if servers.is_empty() {
        crate::client::screen::error_line(terminal, NONE_FOUND);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Writes for a person in the terminal's encoding; JSON is always UTF-8.
fn write_out(
    out: &mut impl io::Write,
    terminal: Encoding,
    text: &str,
    json: bool,
) -> io::Result<()> {
    if json {
        out.write_all(text.as_bytes())?;
    } else {
        out.write_all(&terminal.encode(text))?;
    }
    out.flush()
}

/// The server `suda connect` joins when given no address: it looks for
/// [`LOOK_FOR`]; one server is the answer, several are listed and, at a
/// terminal, the person picks one (`udp`: only servers taking UDP count).
///
/// # Errors
///
/// The line to print: nothing found, several found with nobody at a
/// terminal to choose (the list, so they can be named), or no choice made.
pub fn choose(udp: bool, terminal: Encoding) -> Result<SocketAddr, String> {
    let interactive = io::stdin().is_terminal() && io::stderr().is_terminal();
    let say = |text: &str| {
        let _ = io::stderr().write_all(&terminal.encode(text));
    };
    if interactive {
        say("Looking for suda servers on the local network...\n");
    }
    let mut browser = Browser::start(CONNECT_MAX_SERVERS).map_err(|e| format!("{e:#}"))?;
    browser.wait(Instant::now() + LOOK_FOR);
    let all = browser.servers();
    drop(browser);
    let servers: Vec<Found> = all.iter().filter(|s| s.udp || !udp).cloned().collect();
    match servers.as_slice() {
        [] if all.is_empty() => Err(NONE_FOUND.to_string()),
        [] => Err(format!(
            "{NONE_FOUND} that takes UDP ({} found take TCP only)",
            all.len()
        )),
        [one] => {
            if interactive {
                say(&format!("Joining {}.\n", one.line()));
            }
            Ok(one.addr)
        }
        several if interactive => pick(several, &say),
        several => {
            let mut text = format!(
                "{} suda servers found on the local network; say which, e.g. suda connect {}",
                several.len(),
                several[0].addr
            );
            for server in several {
                text.push_str("\n  ");
                text.push_str(&server.line());
            }
            Err(text)
        }
    }
}

/// Asks which of `servers` to join, until a number in range or the end of
/// input.
fn pick(servers: &[Found], say: &dyn Fn(&str)) -> Result<SocketAddr, String> {
    let mut list = String::from("suda servers on the local network:\n");
    for (i, server) in servers.iter().enumerate() {
        list.push_str(&format!("  {}) {}\n", i + 1, server.line()));
    }
    say(&list);
    let stdin = io::stdin();
    let mut answer = String::new();
    loop {
        say(&format!("Join which one? [1-{}] ", servers.len()));
        answer.clear();
        match stdin.lock().read_line(&mut answer) {
            Ok(0) | Err(_) => return Err("no server chosen".into()),
            Ok(_) => {}
        }
        match answer.trim().parse::<usize>() {
            Ok(n) if (1..=servers.len()).contains(&n) => return Ok(servers[n - 1].addr),
            _ => say(&format!(
                "Type a number from 1 to {}, or Ctrl-D to give up.\n",
                servers.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_answers_stay_printable() {
        let txt = |key: &str| match key {
            "room" => Some("\x1b]0;pwned\x07evil\nroom"),
            "online" => Some("-3"),
            "max" => Some("99999999999999"),
            "tls" => Some("yes"),
            "web" => Some("1"),
            _ => None,
        };
        let found = Found::from_txt("x", "10.0.0.1:1".parse().expect("addr"), txt);
        assert_eq!(found.room, "evil room");
        assert_eq!(found.online, None);
        assert_eq!(found.max, None);
        assert!(!found.tls && !found.udp && found.web);
        assert_eq!(found.line(), "evil room  10.0.0.1:1  (?/? online)  web");
    }

    #[test]
    fn a_server_without_a_room_shows_its_name() {
        let found = Found::from_txt("Lab PC", "[fe80::1%2]:9999".parse().expect("addr"), |_| {
            None
        });
        assert_eq!(found.room, "Lab PC");
        assert_eq!(found.line(), "Lab PC  [fe80::1%2]:9999  (?/? online)");
        let json = found.json();
        assert_eq!(json["host"], "fe80::1");
        assert_eq!(json["port"], 9999);
        assert_eq!(json["online"], serde_json::Value::Null);
    }

    #[test]
    fn odd_instance_names() {
        assert_eq!(instance_name("._suda._tcp.local.").as_deref(), Some(""));
        assert_eq!(instance_name("x._SUDA._TCP.LOCAL.").as_deref(), Some("x"));
        assert_eq!(
            instance_name(r"trail\.._suda._tcp.local.").as_deref(),
            Some("trail.")
        );
        assert_eq!(
            instance_name(r"big\999._suda._tcp.local.").as_deref(),
            Some("big?")
        );
        assert_eq!(instance_name("_suda._tcp.local."), None);
        assert_eq!(instance_name(""), None);
    }
}
