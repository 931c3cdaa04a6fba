//! One HTTP connection's bytes: what was read and not yet parsed, what is
//! to be sent, and where it is in its life. The reactor's HTTP phase
//! (`reactor/http.rs`) moves it on; this file does the buffered I/O.
//!
//! ```text
//! Head ──request──▶ Answer ──sent──┬─ keep-alive ─▶ Head
//!   │                              └─ close ──────▶ Closing ─EOF─▶ gone
//!   └── a route that upgrades: take_over() hands the socket on
//! ```
//!
//! Memory is bounded: the input holds at most one request head
//! (`--http-max-head`) and the next one is not read until the answer is
//! out, so a client that pipelines without reading gets nothing more read.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use crate::net::transport::Layer;
use crate::net::wire::{is_wait, Wire};

/// Where a connection is.
#[derive(Debug)]
pub enum Phase {
    /// Reading a request head (or idle between requests).
    Head,
    /// Sending an answer; then the next head, or closing.
    Answer {
        /// Close once it is sent.
        close: bool,
    },
    /// Answered and our side shut: input is dropped until the peer hangs
    /// up, so the answer is not destroyed by a reset.
    Closing,
    /// Reading an upload's body into the file thread.
    Upload(Box<Upload>),
    /// Sending a file, read ahead in chunks by the file thread.
    Download(Box<Download>),
}

/// An upload under way.
#[derive(Debug)]
pub struct Upload {
    /// Its number with the file thread.
    pub n: u64,
    /// The body's framing.
    pub body: super::body::BodyReader,
    /// The offer it answers.
    pub offer: crate::files::index::Offer,
    /// Body bytes so far.
    pub received: u64,
    /// Bytes promised against the quota.
    pub reserved: u64,
    /// Bytes handed to the file thread and not yet written.
    pub in_flight: usize,
    /// The whole body is written; waiting for the file to be kept.
    pub committing: bool,
    /// The id it is being kept under, once committing.
    pub id: Option<String>,
    /// The client wants the connection kept afterwards.
    pub keep_alive: bool,
}

/// A download under way.
#[derive(Debug)]
pub struct Download {
    /// Its number with the file thread.
    pub n: u64,
    /// The file.
    pub id: String,
    /// The next byte to read.
    pub next: u64,
    /// One past the last byte to send.
    pub end: u64,
    /// A read is with the file thread.
    pub reading: bool,
    /// Close once it is sent.
    pub close: bool,
}

/// How a read went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Bytes came.
    Read,
    /// Nothing now.
    Blocked,
    /// The peer closed its side.
    Eof,
}

/// One HTTP connection.
#[derive(Debug)]
pub struct HttpConn {
    /// Tells a reused key from the connection a deadline was set for.
    pub serial: u64,
    /// Remote address.
    pub peer: SocketAddr,
    /// The socket, plain or TLS.
    pub wire: Wire,
    /// Plain or inside TLS.
    pub layer: Layer,
    /// Read, not yet parsed.
    pub input: Vec<u8>,
    /// To send.
    pub out: Vec<u8>,
    /// Of `out`, sent already.
    pub sent: usize,
    /// Where it is.
    pub phase: Phase,
    /// When waiting in the current phase ends.
    pub deadline: Instant,
    /// Finished; removed at the end of the turn.
    pub done: bool,
}

impl HttpConn {
    /// A connection whose first bytes (read while sniffing) are `first`.
    pub fn new(
        serial: u64,
        peer: SocketAddr,
        wire: Wire,
        layer: Layer,
        first: Vec<u8>,
        deadline: Instant,
    ) -> HttpConn {
        HttpConn {
            serial,
            peer,
            wire,
            layer,
            input: first,
            out: Vec::new(),
            sent: 0,
            phase: Phase::Head,
            deadline,
            done: false,
        }
    }

    /// Reads into `input` until it holds `cap` bytes, the socket has
    /// nothing more, or the peer closed.
    ///
    /// # Errors
    ///
    /// The socket (or TLS) failed.
    pub fn fill(&mut self, cap: usize) -> io::Result<Fill> {
        let mut chunk = [0u8; 4096];
        let mut got = false;
        while self.input.len() < cap {
            let room = (cap - self.input.len()).min(chunk.len());
            match self.wire.read(&mut chunk[..room]) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    got = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_wait(&e) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(if got { Fill::Read } else { Fill::Blocked })
    }

    /// Queues bytes to send.
    pub fn queue(&mut self, bytes: &[u8]) {
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
        self.out.extend_from_slice(bytes);
    }

    /// Bytes queued and not sent yet.
    pub fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Sends what is queued: `true` once all of it (TLS records too) is
    /// with the kernel, `false` if the socket is full.
    ///
    /// # Errors
    ///
    /// The socket failed.
    pub fn send(&mut self) -> io::Result<bool> {
        while self.sent < self.out.len() {
            match self.wire.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_wait(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.sent = 0;
        match self.wire.flush() {
            Ok(()) => Ok(true),
            Err(e) if is_wait(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reads and drops input: `true` once the peer has closed (or failed).
    pub fn drain(&mut self) -> bool {
        let mut sink = [0u8; 4096];
        loop {
            match self.wire.read(&mut sink) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if is_wait(&e) => return false,
                Err(_) => return true,
            }
        }
    }

    /// Hands the connection over to a route that speaks something else on
    /// it: the socket (still registered with the poller under the HTTP
    /// token: the taker re-registers it) and the bytes read after the
    /// request head. The HTTP side forgets it.
    pub fn take_over(self) -> (Wire, Vec<u8>) {
        (self.wire, self.input)
    }
}
