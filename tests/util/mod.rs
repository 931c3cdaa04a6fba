//! Helpers for the black-box tests: start the real `suda` binary on a free
//! loopback port and talk to it over real sockets, the way nc does.
//!
//! Every wait has a deadline ([`READ_TIMEOUT`]); a test that would hang
//! fails with what it was waiting for instead.

#![allow(dead_code)] // each test file uses its own subset

pub mod avahi;
pub mod http;
pub mod netns;
pub mod tls;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Said before the first line with Hangul to a participant whose
/// encoding nothing has confirmed (an ASCII nickname, no `/encoding`, no
/// non-ASCII line sent), on a UTF-8 server.
pub const ENCODING_HINT: &str =
    "[Server]: Hangul looks garbled? Type /encoding cp949 (Korean Windows).";

/// The binary under test, in a UTF-8 locale whatever the machine's: the
/// client follows the locale, and a test that wants another sets it.
pub fn suda() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_suda"));
    command
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("LANG", "C.UTF-8");
    command
}

/// The load generator (`src/bin/suda-load`).
pub fn suda_load() -> Command {
    Command::new(env!("CARGO_BIN_EXE_suda-load"))
}

/// A running `suda serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Everything the server printed on standard error.
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// The folder with the log and state files.
    pub dir: tempfile::TempDir,
    /// Standard input and output, when started with `--console`.
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<Lines<ChildStdout>>,
}

/// Flags every test server gets unless it sets them itself: a free port,
/// files in a fresh folder, UTC, debug diagnostics.
fn base_args(dir: &Path, given: &[&str]) -> Vec<String> {
    let defaults = [
        ("--bind", "127.0.0.1:0".to_string()),
        ("--log-file", dir.join("chat.log").display().to_string()),
        ("--state-file", dir.join("state.json").display().to_string()),
        ("--timezone", "UTC".to_string()),
        ("--verbosity", "debug".to_string()),
        // Replay and catch-up add lines after every welcome: tests about
        // something else read on without them; tests/history.rs turns
        // them on.
        ("--history", "0".to_string()),
        ("--history-catchup", "0".to_string()),
    ];
    let mut args = vec!["serve".to_string()];
    for (flag, value) in defaults {
        if !given.contains(&flag) {
            args.push(flag.to_string());
            args.push(value);
        }
    }
    args
}

impl Server {
    /// Starts a server with extra flags.
    pub fn start(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Server::start_in(dir, args)
    }

    /// Starts a server whose files live in `dir` (to restart on the same state).
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Server {
        Server::launch(dir, args, &[])
    }

    /// Starts a server with extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Server::launch(dir, args, env)
    }

    /// Starts another build of `suda` (`program`) whose files live in
    /// `dir`: to measure an older version against the same attack.
    pub fn start_program(program: &Path, dir: tempfile::TempDir, args: &[&str]) -> Server {
        Server::launch_command(Command::new(program), dir, args, &[])
    }

    fn launch(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::launch_command(suda(), dir, args, env)
    }

    fn launch_command(
        mut command: Command,
        dir: tempfile::TempDir,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        command
            .env_remove("OPENAI_API_KEY")
            .envs(env.iter().copied())
            .args(base_args(dir.path(), args))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start suda");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                // Drained all the time, so the server never blocks on it.
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
                panic!("server did not start: {:?}", lines.lock().expect("lock"));
            }
        };
        let console = args.contains(&"--console");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(Lines::new);
        Server {
            child,
            addr,
            stderr: lines,
            dir,
            stdin: if console { stdin } else { None },
            stdout: if console { stdout } else { None },
        }
    }

    /// Opens a connection (nothing read yet).
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Connects, reads the welcome, joins as `nick` and reads the greeting.
    pub fn join(&self, nick: &str) -> Client {
        let mut client = self.connect();
        client.expect_prefix("[Server]: Welcome to ");
        client.expect("[Server]: Enter your nickname:");
        client.send(nick);
        client.expect(&format!(
            "[Server]: Welcome, {nick}! Type /help for commands."
        ));
        client
    }

    /// Sends a signal to the server.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the server to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Path of a file in the server's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Everything the server printed on standard error so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("lock").join("\n")
    }

    /// The process id, for /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// File descriptors the server holds open right now (from /proc).
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| dir.count())
            .unwrap_or(0)
    }

    /// The telnet listener's address (for `--telnet-bind 127.0.0.1:0`), as
    /// the server printed it.
    pub fn telnet_addr(&self) -> SocketAddr {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            let found = self.stderr.lock().expect("lock").iter().find_map(|l| {
                l.strip_prefix("suda: telnet listening on ")
                    .map(str::to_string)
            });
            if let Some(addr) = found {
                return addr.parse().expect("telnet listening address");
            }
            assert!(
                Instant::now() < deadline,
                "no telnet listener: {}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Hands the folder over (the process is killed) for a restart.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(unused_imports)]
pub use libc::{SIGHUP, SIGINT, SIGTERM};

/// Line reading with a deadline over any reader.
pub struct Lines<R> {
    rx: Receiver<Option<Vec<u8>>>,
    _marker: std::marker::PhantomData<R>,
}

impl<R: Read + Send + 'static> Lines<R> {
    /// Reads `reader` on a thread, line by line.
    pub fn new(reader: R) -> Lines<R> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {
                        if tx.send(Some(line)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Lines {
            rx,
            _marker: std::marker::PhantomData,
        }
    }

    /// The next line (without its newline), or `None` at end of input.
    pub fn next_line(&mut self) -> Option<String> {
        match self.rx.recv_timeout(READ_TIMEOUT) {
            Ok(Some(line)) => Some(
                String::from_utf8_lossy(&line)
                    .trim_end_matches('\n')
                    .to_string(),
            ),
            Ok(None) => None,
            Err(_) => panic!("no line within {READ_TIMEOUT:?}"),
        }
    }

    /// The next line as the bytes it was (without its newline), for
    /// output that is not UTF-8; `None` at end of input.
    pub fn next_bytes(&mut self) -> Option<Vec<u8>> {
        match self.rx.recv_timeout(READ_TIMEOUT) {
            Ok(Some(mut line)) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Some(line)
            }
            Ok(None) => None,
            Err(_) => panic!("no line within {READ_TIMEOUT:?}"),
        }
    }

    /// Reads until a line of exactly the bytes `wanted`; returns the
    /// lines before it.
    pub fn until_bytes(&mut self, wanted: &[u8]) -> Vec<Vec<u8>> {
        let mut before = Vec::new();
        loop {
            match self.next_bytes() {
                Some(line) if line == wanted => return before,
                Some(line) => before.push(line),
                None => panic!(
                    "end of output before {:?}; got {before:?}",
                    String::from_utf8_lossy(wanted)
                ),
            }
        }
    }

    /// Reads until a line equal to `wanted`; returns the lines before it.
    pub fn until(&mut self, wanted: &str) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            match self.next_line() {
                Some(line) if line == wanted => return before,
                Some(line) => before.push(line),
                None => panic!("end of output before {wanted:?}; got {before:?}"),
            }
        }
    }
}

/// A chat client over a real socket.
pub struct Client {
    stream: TcpStream,
    /// Bytes received and not yet returned as lines.
    buf: Vec<u8>,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT).expect("connect");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        stream
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects to `addr` from the local address `from`: on Linux every
    /// 127.x.y.z is loopback, so one machine can play many addresses.
    pub fn connect_from(addr: SocketAddr, from: IpAddr) -> Client {
        Client::from_stream(connect_from(addr, from).expect("connect"))
    }

    /// Wraps a connected socket, with the usual deadlines.
    pub fn from_stream(stream: TcpStream) -> Client {
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        stream
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `text` and a newline.
    pub fn send(&mut self, text: &str) {
        self.send_raw(format!("{text}\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Closes the sending side (what nc does at end of input).
    pub fn shutdown_write(&mut self) {
        self.stream.shutdown(Shutdown::Write).expect("shutdown");
    }

    /// The next line as raw bytes (without `\n`), or `None` at EOF.
    pub fn line_bytes(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=at).collect();
                line.pop();
                return Some(line);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    assert!(
                        self.buf.is_empty(),
                        "EOF after a partial line {:?}",
                        self.buf
                    );
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "no line within {READ_TIMEOUT:?} ({e}); partial: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Every byte up to the end of the first `pattern` (which may already
    /// have arrived); what follows stays for the next read.
    pub fn bytes_until(&mut self, pattern: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = self.buf.windows(pattern.len()).position(|w| w == pattern) {
                return self.buf.drain(..at + pattern.len()).collect();
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!(
                    "EOF before {:?}; got {:?}",
                    String::from_utf8_lossy(pattern),
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "no {:?} within {READ_TIMEOUT:?} ({e}); got: {:?}",
                    String::from_utf8_lossy(pattern),
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// The next line, decoded as UTF-8.
    pub fn line(&mut self) -> String {
        let bytes = self.line_bytes().expect("a line, not EOF");
        String::from_utf8(bytes.clone()).unwrap_or_else(|_| panic!("not UTF-8: {bytes:?}"))
    }

    /// The next line must be exactly `wanted`.
    pub fn expect(&mut self, wanted: &str) {
        assert_eq!(self.line(), wanted);
    }

    /// The next line must start with `prefix`; returns it.
    pub fn expect_prefix(&mut self, prefix: &str) -> String {
        let line = self.line();
        assert!(
            line.starts_with(prefix),
            "{line:?} does not start with {prefix:?}"
        );
        line
    }

    /// Reads until a line equal to `wanted`; returns the lines before it.
    pub fn until(&mut self, wanted: &str) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            match self.line_bytes() {
                Some(line) if line == wanted.as_bytes() => return before,
                Some(line) => before.push(String::from_utf8_lossy(&line).into_owned()),
                None => panic!("EOF before {wanted:?}; got {before:?}"),
            }
        }
    }

    /// Reads until a line starting with `prefix`; returns that line.
    pub fn until_prefix(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Asks for `/users` and returns every line that arrived before the
    /// answer: proof of what did (and did not) arrive up to now.
    pub fn sync(&mut self) -> Vec<String> {
        self.send("/users");
        let mut before = Vec::new();
        loop {
            let line = self.line();
            if line.starts_with("[Server]: Users online (") {
                return before;
            }
            before.push(line);
        }
    }

    /// The server must close the connection: remaining lines are returned.
    pub fn expect_closed(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Some(line) = self.line_bytes() {
            rest.push(String::from_utf8_lossy(&line).into_owned());
        }
        rest
    }

    /// The socket, for tests that need more.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// A running `suda connect` with piped standard input and output (so in
/// plain mode: lines as the server sent them), killed when dropped.
pub struct ChatClient {
    child: Child,
    stdin: Option<ChildStdin>,
    /// What the client printed.
    pub stdout: Lines<ChildStdout>,
    /// Standard error, whole, once the client closes it.
    stderr: Receiver<String>,
}

impl ChatClient {
    /// Starts `suda connect ARGS`. Without `--log-dir` in `args`, the
    /// transcript is turned off so no test writes in the working folder.
    pub fn start(args: &[&str]) -> ChatClient {
        let mut command = suda();
        command.arg("connect").args(args);
        if !args.contains(&"--log-dir") && !args.contains(&"--no-log") {
            command.arg("--no-log");
        }
        ChatClient::spawn(command, Stdio::piped())
    }

    /// Starts a prepared command with `stdin` as its standard input.
    pub fn spawn(mut command: Command, stdin: Stdio) -> ChatClient {
        let mut child = command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start suda connect");
        let stdout = Lines::new(child.stdout.take().expect("stdout"));
        let mut err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        ChatClient {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr: rx,
        }
    }

    /// Types `line` and Enter.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write to the client");
        stdin.flush().expect("flush");
    }

    /// Types bytes as they are (a terminal that is not UTF-8).
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).expect("write to the client");
        stdin.flush().expect("flush");
    }

    /// Ends standard input (Ctrl-D at a terminal, the end of a pipe).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line printed must be exactly `wanted`.
    pub fn expect(&mut self, wanted: &str) {
        assert_eq!(self.stdout.next_line().as_deref(), Some(wanted));
    }

    /// Reads until the line `wanted`; returns the lines before it.
    pub fn until(&mut self, wanted: &str) -> Vec<String> {
        self.stdout.until(wanted)
    }

    /// Reads past the welcome and the nickname prompt until `nick` is in.
    pub fn joined(&mut self, nick: &str) {
        self.until(&format!(
            "[Server]: Welcome, {nick}! Type /help for commands."
        ));
    }

    /// Whether the client is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// Waits for the client to exit; returns its status and standard error.
    pub fn finish(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + READ_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "suda connect did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = self
            .stderr
            .recv_timeout(READ_TIMEOUT)
            .expect("standard error closed");
        (status, stderr)
    }
}

impl Drop for ChatClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `suda connect` to this server with extra flags.
    pub fn chat_client(&self, args: &[&str]) -> ChatClient {
        let addr = self.addr.to_string();
        let mut all = vec![addr.as_str()];
        all.extend_from_slice(args);
        ChatClient::start(&all)
    }
}

/// A TCP connection to `addr` from the local address `from` (bound before
/// connecting), with the connect bounded by [`READ_TIMEOUT`].
pub fn connect_from(addr: SocketAddr, from: IpAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect_timeout(&addr.into(), READ_TIMEOUT)?;
    Ok(socket.into())
}

/// The kernel's TCP memory for the whole machine, in pages: the `mem`
/// figure of the `TCP:` line of `/proc/net/sockstat`.
pub fn tcp_memory_pages() -> u64 {
    let text = std::fs::read_to_string("/proc/net/sockstat").expect("/proc/net/sockstat");
    let line = text
        .lines()
        .find(|l| l.starts_with("TCP:"))
        .expect("a TCP line in sockstat");
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if word == "mem" {
            return words
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a page count after mem");
        }
    }
    panic!("no mem in {line:?}");
}

/// IPv4 sockets whose local port is `port` (the server's side of its
/// connections, and the listener), from `/proc/net/tcp`: for each, its
/// state (hex, as the kernel prints it) and the bytes in its send queue.
pub fn server_sockets(port: u16) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let wanted = format!("{port:04X}");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            if local_port != wanted {
                return None;
            }
            let state = fields.get(3)?.to_string();
            let tx = fields.get(4)?.split(':').next()?;
            Some((state, u64::from_str_radix(tx, 16).ok()?))
        })
        .collect()
}

/// A loopback port with nothing listening on it (bound, then let go).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The hash `suda hash-password` prints for `password` (read from a pipe).
pub fn hash_password(password: &str) -> String {
    let mut child = suda()
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start suda hash-password");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    let output = child.wait_with_output().expect("suda hash-password");
    assert!(
        output.status.success(),
        "hash-password failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 hash")
        .trim()
        .to_string()
}

/// Writes `contents` to `dir/name` (a password file, a hash) and returns its path.
pub fn secret_file(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{contents}\n")).expect("write the file");
    path.display().to_string()
}

/// Writes `burst` to `socket` again and again and runs `during` once the
/// flood is under way (a burst written; with `read_answers`, also the
/// server's first answer read and every answer dropped; without, nothing
/// is read, as a flooder that ignores pongs). Returns whether the flood
/// was still going when `during` returned: `false` means `during` only got
/// through once the flood's 20 s were over, i.e. the flood held the server.
pub fn while_flooding(
    mut socket: TcpStream,
    burst: Vec<u8>,
    read_answers: bool,
    during: impl FnOnce(),
) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    socket
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut reader = socket.try_clone().expect("clone");
    let (under_way, started) = mpsc::channel();
    let answered = under_way.clone();
    let drain = std::thread::spawn(move || {
        if !read_answers {
            let _ = answered.send(());
            return;
        }
        let mut sink = [0u8; 65536];
        let mut first = true;
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {
            if std::mem::take(&mut first) {
                let _ = answered.send(());
            }
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let stopped_by_test = Arc::clone(&stop);
    let flooder = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(20);
        let mut first = true;
        while !stop.load(Ordering::SeqCst) && Instant::now() < until {
            if socket.write_all(&burst).is_err() {
                break;
            }
            if std::mem::take(&mut first) {
                let _ = under_way.send(());
            }
        }
        let _ = socket.shutdown(Shutdown::Both);
        stop.load(Ordering::SeqCst)
    });
    for _ in 0..2 {
        started
            .recv_timeout(READ_TIMEOUT)
            .expect("the flood never got going");
    }
    during();
    stopped_by_test.store(true, Ordering::SeqCst);
    let held_out = flooder.join().expect("flooder");
    let _ = drain.join();
    held_out
}
