//! Reading and dispatch: bytes until `WouldBlock` (within the turn's
//! budget), framed into lines for the room; the end of input; a socket
//! that failed or fell behind.

use super::{Reactor, READ_BUDGET};
use crate::clock::Now;
use crate::net::codec::Frame;
use crate::net::conn::Conn;
use crate::room::{Gone, Input};
use std::io::{self, Read};
use std::rc::Rc;

impl Reactor {
    /// Reads connection `key` until `WouldBlock` or its budget is spent,
    /// handing complete lines to the room as they come.
    pub(super) fn read(&mut self, key: usize, now: Now) {
        let mut budget = READ_BUDGET;
        loop {
            let Some(conn) = self.io.conns.get_mut(key) else {
                return;
            };
            if conn.is_dead() {
                return;
            }
            let n = match conn.stream.read(&mut self.scratch) {
                Ok(0) => return self.end_of_input(key, now),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // A WebSocket that used its turn on frames that carry no
                // line (see `ws.rs`), or a signal: go on next turn.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if !conn.ready {
                        conn.ready = true;
                        self.ready.push((key, conn.serial));
                    }
                    return;
                }
                Err(e) => return self.lost(key, Gone::Error, &e, now),
            };
            if conn.is_open() {
                self.frames.clear();
                self.reply.clear();
                conn.codec.set_charset(conn.charset);
                conn.codec.feed(
                    &self.scratch[..n],
                    self.max_line,
                    &mut self.frames,
                    &mut self.reply,
                );
                conn.crlf |= conn.codec.speaks_telnet();
                conn.typing = conn.codec.echoing();
                // With lines queued over the typed row, the redraw at the
                // flush shows the keys just typed; an echo now would land
                // between those lines.
                let echo = !conn.redraw_due && !self.frames.echo().is_empty();
                if !self.reply.is_empty() {
                    self.io.queue(key, &Rc::from(&self.reply[..]));
                }
                if echo {
                    self.io.queue(key, &Rc::from(self.frames.echo()));
                }
                self.dispatch(key, now);
            }
            // A closing connection's input is read only to be dropped.
            budget = budget.saturating_sub(n);
            if budget == 0 {
                if let Some(conn) = self.io.conns.get_mut(key) {
                    if !conn.ready {
                        conn.ready = true;
                        self.ready.push((key, conn.serial));
                    }
                }
                return;
            }
        }
    }

    /// Hands the frames of the last read to the room, decoding each line
    /// with the connection's charset.
    pub(super) fn dispatch(&mut self, key: usize, now: Now) {
        for i in 0..self.frames.len() {
            let Some(conn) = self.io.conns.get_mut(key) else {
                return;
            };
            if !conn.is_open() {
                return; // the room closed it (/exit, kick): the rest is dropped
            }
            match self.frames.get(i) {
                Some(Frame::Line(bytes)) => {
                    let text = conn.charset.decode(bytes);
                    self.room.input(key, Input::Line(&text), now, &mut self.io);
                }
                Some(Frame::TooLong) => self.room.input(key, Input::TooLong, now, &mut self.io),
                None => return,
            }
        }
    }

    /// The client closed its side: its last unterminated line still counts.
    fn end_of_input(&mut self, key: usize, now: Now) {
        let Some(conn) = self.io.conns.get_mut(key) else {
            return;
        };
        let was_open = conn.is_open();
        if was_open {
            self.frames.clear();
            conn.codec.finish(&mut self.frames);
            self.dispatch(key, now);
        }
        let Some(conn) = self.io.conns.get_mut(key) else {
            return;
        };
        let was_open = was_open && conn.is_open();
        conn.peer_closed();
        if conn.is_dead() {
            self.io.dead.push(key);
        } else {
            self.io.linger(key);
            self.io.mark_dirty(key);
        }
        log::debug!("conn {key}: end of input");
        if was_open {
            self.room.gone(key, Gone::Closed, now, &mut self.io);
        }
    }

    /// The connection failed: drop it and tell the room.
    pub(super) fn lost(&mut self, key: usize, why: Gone, error: &io::Error, now: Now) {
        let was_open = self.io.conns.get(key).is_some_and(Conn::is_open);
        log::debug!("conn {key}: lost: {error}");
        self.io.kill(key);
        if was_open {
            self.room.gone(key, why, now, &mut self.io);
        }
    }

    /// A client still had more than `--max-outbuf` queued after the socket
    /// took what it would: it is not reading. Drop it; the room goes on.
    pub(super) fn slow(&mut self, key: usize, now: Now) {
        if let Some(conn) = self.io.conns.get(key) {
            match conn.peer {
                Some(peer) => log::info!("conn {key} from {peer}: too slow reading, disconnected"),
                None => log::warn!("the console is not reading; it is disconnected"),
            }
        }
        let was_open = self.io.conns.get(key).is_some_and(Conn::is_open);
        // Reset, not closed: what it did not read would otherwise stay in
        // the kernel for as long as the client keeps its window shut.
        self.io.abort(key);
        if was_open {
            self.room.gone(key, Gone::SlowReader, now, &mut self.io);
        }
    }
}
