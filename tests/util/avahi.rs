//! Avahi, the usual Linux mDNS responder, on one host of a test [`Lan`]:
//! its own D-Bus system bus and its own `avahi-daemon`, so that
//! `avahi-browse` and `avahi-publish` can be run there as on a desktop.
//!
//! The bus listens on a socket in a temporary folder, and the daemon runs
//! with a private `/run` (a tmpfs, in the mount namespace `ip netns exec`
//! gives it), so neither touches the machine's own D-Bus or Avahi, and two
//! tests can each have one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use super::netns::Lan;
use super::READ_TIMEOUT;

/// The programs this needs (Debian: dbus, avahi-daemon, avahi-utils).
const PROGRAMS: [&str; 4] = [
    "dbus-daemon",
    "avahi-daemon",
    "avahi-browse",
    "avahi-publish",
];

/// A D-Bus system bus and an Avahi daemon on one host, stopped when dropped.
pub struct Avahi {
    /// `dbus-daemon`, then `avahi-daemon`.
    children: Vec<Child>,
    /// `unix:path=...` of the bus.
    bus: String,
    /// The bus socket and the configuration files.
    _dir: tempfile::TempDir,
}

/// Whether `program` is on the PATH.
fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Avahi {
    /// Starts Avahi on `host`, answering on `interface` only, as the
    /// machine `host_name`.local; `None`, with a line saying why, if Avahi
    /// is not installed.
    pub fn start(lan: &Lan, host: &str, interface: &str, host_name: &str) -> Option<Avahi> {
        if let Some(missing) = PROGRAMS.iter().find(|p| !installed(p)) {
            eprintln!(
                "skipping the Avahi part: {missing} is not installed (apt-get install dbus avahi-daemon avahi-utils)"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("bus");
        let bus = format!("unix:path={}", socket.display());
        let bus_conf = dir.path().join("bus.conf");
        std::fs::write(
            &bus_conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>{bus}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"#
            ),
        )
        .expect("write the bus configuration");
        let avahi_conf = dir.path().join("avahi-daemon.conf");
        std::fs::write(
            &avahi_conf,
            format!(
                "[server]\nhost-name={host_name}\nuse-ipv4=yes\nuse-ipv6=no\n\
                 allow-interfaces={interface}\nenable-dbus=yes\n\
                 [wide-area]\nenable-wide-area=no\n\
                 [publish]\npublish-hinfo=no\npublish-workstation=no\n"
            ),
        )
        .expect("write the Avahi configuration");

        let mut avahi = Avahi {
            children: Vec::new(),
            bus: bus.clone(),
            _dir: dir,
        };
        let mut dbus = lan.command(host, "dbus-daemon");
        dbus.arg(format!("--config-file={}", bus_conf.display()))
            .args(["--nofork", "--nopidfile"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        avahi
            .children
            .push(dbus.spawn().expect("start dbus-daemon"));
        let deadline = std::time::Instant::now() + READ_TIMEOUT;
        while !socket.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "dbus-daemon did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }

        let mut daemon = lan.command(host, "sh");
        daemon
            .arg("-c")
            .arg(format!(
                "mount -t tmpfs tmpfs /run && exec avahi-daemon -f {} --no-drop-root --no-chroot --no-rlimits --no-proc-title",
                avahi_conf.display()
            ))
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = daemon.spawn().expect("start avahi-daemon");
        let stderr = child.stderr.take().expect("stderr");
        avahi.children.push(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("Server startup complete") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(READ_TIMEOUT)
            .expect("avahi-daemon did not start up");
        Some(avahi)
    }

    /// `program` (avahi-browse, avahi-publish) on the host, talking to
    /// this daemon.
    pub fn command(&self, lan: &Lan, host: &str, program: &str) -> Command {
        let mut command = lan.command(host, program);
        command.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus);
        command
    }
}

impl Drop for Avahi {
    fn drop(&mut self) {
        // The daemon first, while its bus is still there.
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
