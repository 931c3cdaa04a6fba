//! What every kind of soak connection does with lines, whatever carries
//! them (a TCP or TLS socket, a WebSocket): wait for one, and join.

use std::io;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::ws::WsConn;

/// A connection that sends and reads whole lines.
pub trait Lines {
    /// Sends one line.
    fn send_line(&mut self, line: &str) -> io::Result<()>;

    /// The next line within `wait`, `None` if none came.
    fn next_line(&mut self, wait: Duration) -> io::Result<Option<String>>;

    /// Reads until a line satisfies `want` (returned) or `wait` passes.
    fn until(
        &mut self,
        wait: Duration,
        mut want: impl FnMut(&str) -> bool,
    ) -> io::Result<Option<String>> {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.next_line(left)? {
                Some(line) if want(&line) => return Ok(Some(line)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// Waits for the nickname prompt, answers `nick` and waits for the
    /// welcome. `Err` says what came instead.
    fn join(&mut self, nick: &str) -> Result<(), String> {
        let prompt = self
            .until(Duration::from_secs(5), |l| {
                l.ends_with("Enter your nickname:")
            })
            .map_err(|e| format!("before the prompt: {e}"))?;
        if prompt.is_none() {
            return Err("no nickname prompt within 5 s".into());
        }
        self.send_line(nick)
            .map_err(|e| format!("sending the nickname: {e}"))?;
        let welcome = format!("[Server]: Welcome, {nick}!");
        match self.until(Duration::from_secs(5), |l| {
            l.starts_with(&welcome) || l.contains("Enter your nickname")
        }) {
            Ok(Some(l)) if l.starts_with(&welcome) => Ok(()),
            Ok(Some(l)) => Err(format!("refused: {l}")),
            Ok(None) => Err("no welcome within 5 s".into()),
            Err(e) => Err(format!("waiting for the welcome: {e}")),
        }
    }
}

impl Lines for Conn {
    fn send_line(&mut self, line: &str) -> io::Result<()> {
        self.send(line)
    }

    fn next_line(&mut self, wait: Duration) -> io::Result<Option<String>> {
        self.line(wait)
    }
}

impl Lines for WsConn {
    fn send_line(&mut self, line: &str) -> io::Result<()> {
        self.send(line)
    }

    fn next_line(&mut self, wait: Duration) -> io::Result<Option<String>> {
        self.line(wait)
    }
}
