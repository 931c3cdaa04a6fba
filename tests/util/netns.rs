//! A local network of our own for the LAN discovery tests: Linux network
//! namespaces ("hosts") joined by veth pairs ("cables"), addresses in a
//! private test subnet, multicast routed onto the cables.
//!
//! Everything runs inside the namespaces made here (`ip netns exec`), so
//! multicast from a test reaches only that test's hosts, never the
//! machine's own network, and tests running at once do not hear each
//! other. The namespaces, and every process left in them, go when the
//! [`Lan`] is dropped. Where namespaces cannot be made (not root, no `ip`),
//! [`Lan::new`] says so and the test skips.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{base_args, ChatClient, Server, READ_TIMEOUT};

/// Tells namespaces of one test process apart.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A few namespaces, removed (with what runs in them) when dropped.
pub struct Lan {
    /// `suda-<pid>-<n>-`, before each host's name.
    prefix: String,
    /// The full names of the namespaces made so far.
    made: Vec<String>,
    /// Multicast routes added per namespace (each needs its own metric).
    routes: Vec<(String, u32)>,
}

/// Runs `ip ARGS`; the error output if it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    match Command::new("ip").args(args).stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run ip: {e}")),
    }
}

impl Lan {
    /// Makes one namespace per name in `hosts`, loopback up; `None`, with
    /// a line saying why, where this machine cannot.
    pub fn new(hosts: &[&str]) -> Option<Lan> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut lan = Lan {
            prefix: format!("suda-{}-{n}-", std::process::id()),
            made: Vec::new(),
            routes: Vec::new(),
        };
        for host in hosts {
            let name = lan.ns(host);
            if let Err(why) = ip(&["netns", "add", &name]) {
                eprintln!(
                    "skipping: cannot create network namespaces ({why}); the LAN tests need root and iproute2"
                );
                return None;
            }
            lan.made.push(name.clone());
            if let Err(why) = ip(&["-n", &name, "link", "set", "lo", "up"]) {
                eprintln!("skipping: {why}");
                return None;
            }
        }
        Some(lan)
    }

    /// The namespace's full name.
    pub fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.prefix)
    }

    /// Joins hosts `a` and `b` with a cable: `to-b` in `a` gets
    /// `a_ip`/24, `to-a` in `b` gets `b_ip`/24, and multicast goes out on it.
    pub fn link(&mut self, a: &str, a_ip: &str, b: &str, b_ip: &str) {
        let (na, nb) = (self.ns(a), self.ns(b));
        let (ia, ib) = (format!("to-{b}"), format!("to-{a}"));
        let run = |args: &[&str]| ip(args).unwrap_or_else(|e| panic!("{e}"));
        run(&[
            "link", "add", &ia, "netns", &na, "type", "veth", "peer", "name", &ib, "netns", &nb,
        ]);
        for (ns, dev, addr) in [(&na, &ia, a_ip), (&nb, &ib, b_ip)] {
            run(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            run(&["-n", ns, "link", "set", dev, "up"]);
            let metric = self.routes.iter().filter(|(n, _)| n == ns).count() as u32;
            self.routes.push((ns.clone(), metric));
            run(&[
                "-n",
                ns,
                "route",
                "add",
                "224.0.0.0/4",
                "dev",
                dev,
                "metric",
                &metric.to_string(),
            ]);
        }
    }

    /// `program` run inside host `host`.
    pub fn command(&self, host: &str, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec"])
            .arg(self.ns(host))
            .arg(program);
        command
    }

    /// The binary under test inside `host`, in a UTF-8 locale (as
    /// [`super::suda`]).
    pub fn suda(&self, host: &str) -> Command {
        let mut command = self.command(host, env!("CARGO_BIN_EXE_suda"));
        command
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env("LANG", "C.UTF-8");
        command
    }

    /// `suda serve ARGS` inside `host` (give it a `--bind`), once it is
    /// listening.
    pub fn serve(&self, host: &str, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = self.suda(host);
        command
            .env_remove("OPENAI_API_KEY")
            .args(base_args(dir.path(), args))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // `ip netns exec` execs the program: the child is the server itself.
        let mut child = command.spawn().expect("start suda in a namespace");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.strip_prefix("suda: listening on ") {
                        let _ = tx.send(addr.to_string());
                    }
                    lines.lock().expect("lock").push(line);
                }
            });
        }
        let addr = match rx.recv_timeout(READ_TIMEOUT) {
            Ok(addr) => addr.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not start: {:?}", lines.lock().expect("lock"));
            }
        };
        Server {
            child,
            addr,
            stderr: lines,
            dir,
            stdin: None,
            stdout: None,
        }
    }

    /// `suda connect ARGS` inside `host`, piped, without a transcript.
    pub fn chat(&self, host: &str, args: &[&str]) -> ChatClient {
        let mut command = self.suda(host);
        command.arg("connect").args(args).arg("--no-log");
        ChatClient::spawn(command, Stdio::piped())
    }

    /// Runs `suda ARGS` inside `host` to the end (killed, and the test
    /// failed, if it takes longer than `limit`).
    pub fn run(&self, host: &str, args: &[&str], limit: Duration) -> Output {
        let mut command = self.suda(host);
        command.args(args);
        run_bounded(command, limit)
    }
}

/// Runs `command` with no input to the end, within `limit`.
pub fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Waits until the server has printed a line containing `needle` on
/// standard error.
pub fn wait_for_stderr(server: &Server, needle: &str) {
    let deadline = Instant::now() + READ_TIMEOUT;
    while !server.stderr_text().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "the server never said {needle:?}: {}",
            server.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for name in &self.made {
            // Whatever a test left running in its namespaces is its own.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            // Deleting a namespace takes its cables with it.
            let _ = ip(&["netns", "del", name]);
        }
    }
}
