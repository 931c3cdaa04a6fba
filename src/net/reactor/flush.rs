//! Flushing, once per turn: every connection with queued output gets one
//! `writev`; closing connections linger until sent or expired; the dead
//! are reaped after the turn's events.

use super::{interest, Reactor};
use crate::clock::Now;
use crate::net::conn::{Conn, Phase, Stream};
use crate::net::outq::Flushed;
use crate::room::Gone;
use mio::Token;
use std::io::{self, Read};
use std::rc::Rc;

impl Reactor {
    /// Writes every connection that has output queued.
    pub(super) fn flush(&mut self, now: Now) {
        // Telling the room about a lost or slow client queues more lines
        // (in a fresh turn buffer), hence the loop.
        while !self.io.dirty.is_empty() {
            let sealed = self.io.turn.seal();
            let keys = std::mem::take(&mut self.io.dirty);
            let mut failed = Vec::new();
            for &key in &keys {
                if let Some(conn) = self.io.conns.get_mut(key) {
                    conn.dirty = false;
                }
            }
            for key in keys {
                let Some(conn) = self.io.conns.get_mut(key) else {
                    continue;
                };
                if conn.is_dead() {
                    continue;
                }
                if std::mem::take(&mut conn.redraw_due) {
                    let mut row = Vec::new();
                    conn.codec.redraw(&mut row);
                    if !row.is_empty() {
                        conn.outq.push_shared(&Rc::from(row));
                    }
                }
                conn.outq.seal(&sealed);
                let blocked = match conn.flush() {
                    Ok(Flushed::All) => false,
                    Ok(Flushed::Blocked) => true,
                    Err(e) => {
                        failed.push((key, Gone::Error, e));
                        continue;
                    }
                };
                if conn.refused {
                    // Turned away: that one write was all it gets.
                    conn.phase = Phase::Dead;
                    self.io.dead.push(key);
                    continue;
                }
                if conn.outq.len() > self.io.max_outbuf {
                    // Written what the socket took; the rest is too much.
                    failed.push((key, Gone::SlowReader, io::ErrorKind::WouldBlock.into()));
                    continue;
                }
                if self.stopping.is_some() && !blocked {
                    // Shutting down: once the goodbye is written, do not wait
                    // for the client to hang up.
                    if let Phase::Closing {
                        write_shut: true, ..
                    } = conn.phase
                    {
                        conn.phase = Phase::Dead;
                    }
                }
                if conn.is_dead() {
                    self.io.dead.push(key);
                    continue;
                }
                if conn.stream.is_udp() {
                    if blocked {
                        self.udp_blocked(key);
                    }
                    continue;
                }
                if conn.writable != blocked {
                    conn.writable = blocked;
                    if let Err(e) = self.poll.registry().reregister(
                        &mut conn.stream,
                        Token(key),
                        interest(blocked),
                    ) {
                        failed.push((key, Gone::Error, e));
                    }
                }
            }
            for (key, why, error) in failed {
                if why == Gone::SlowReader {
                    self.slow(key, now);
                } else {
                    self.lost(key, why, &error, now);
                }
            }
        }
    }

    /// Gives up on closing connections that took too long to go.
    pub(super) fn expire_closing(&mut self, now: Now) {
        while let Some(&(deadline, key, serial)) = self.io.closing.front() {
            if deadline > now.mono {
                return;
            }
            self.io.closing.pop_front();
            if let Some(conn) = self.io.conns.get(key) {
                if conn.serial == serial && !conn.is_dead() {
                    log::debug!("conn {key}: did not finish closing in time");
                    self.io.abort(key);
                }
            }
        }
    }

    /// Removes finished connections: the end of the turn, so no event of
    /// this turn can be misdelivered.
    pub(super) fn reap(&mut self, now: Now) {
        while let Some(key) = self.io.dead.pop() {
            if !self.io.conns.get(key).is_some_and(Conn::is_dead) {
                continue;
            }
            let mut conn = self.io.conns.remove(key);
            if let Err(e) = self.poll.registry().deregister(&mut conn.stream) {
                log::debug!("conn {key}: deregister failed: {e}");
            }
            if conn.refused {
                // Input left unread would turn the close into a reset,
                // which can destroy the one line it was sent.
                let _ = conn.stream.read(&mut self.scratch);
            }
            if let (Stream::Udp { peer, .. }, Some(udp)) = (&conn.stream, &mut self.udp) {
                if udp.peers.get(peer) == Some(&(key, conn.serial)) {
                    udp.peers.remove(peer);
                }
            }
            log::debug!("conn {key}: closed");
        }
        // The operator leaving the console ends the server.
        if let Some((_, key, serial)) = &self.console {
            let here = self
                .io
                .conns
                .get(*key)
                .is_some_and(|c| c.serial == *serial && c.is_open());
            if !here && self.stopping.is_none() {
                log::info!("the console left");
                self.begin_shutdown(now);
            }
        }
    }
}
