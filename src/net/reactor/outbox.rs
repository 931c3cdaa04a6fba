//! The room's [`Outbox`] over the slab: what the room says is queued on
//! the connections, logged and persisted through the disk thread, and
//! asked of the `/search` workers and the admin password checker.

use super::CLOSE_LINGER;
use crate::net::charset::{Charset, Encoding};
use crate::net::conn::{Conn, Phase};
use crate::net::line::{Form, Line, TurnBuffer};
use crate::passwords::{Check, Checker, Secret};
use crate::room::{ConnKey, Outbox, StateChange};
use crate::search::{Question, Searcher};
use crate::store::disk::Disk;
use slab::Slab;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

/// Everything the room's [`Outbox`] reaches: the connections and the disk.
#[derive(Debug)]
pub(super) struct Io {
    /// Every connection, by key.
    pub(super) conns: Slab<Conn>,
    /// Keys with output queued this turn (flushed at the end of the turn).
    pub(super) dirty: Vec<usize>,
    /// Keys that are finished, removed at the end of the turn.
    pub(super) dead: Vec<usize>,
    /// Closing connections with the moment we stop waiting for them, in
    /// order (every connection gets the same linger).
    pub(super) closing: VecDeque<(Instant, usize, u64)>,
    /// Everything sent this turn, once per wire form; queues hold ranges of it.
    pub(super) turn: TurnBuffer,
    /// The room log and the database.
    pub(super) disk: Disk,
    /// The `/search` worker pool, if a model is configured.
    pub(super) searcher: Option<Searcher>,
    /// The admin password checker, with `--admin-password-file`.
    pub(super) checker: Option<Checker>,
    /// The file store, unless `--web off`.
    pub(super) files: Option<super::files::FileStore>,
    /// `--max-outbuf`.
    pub(super) max_outbuf: usize,
    /// `--max-lingering`.
    pub(super) max_lingering: usize,
    /// The time of this turn.
    pub(super) now: Instant,
    /// What goes before the first line of a turn to a connection in
    /// character mode: back to the start of the typed line, and erase it.
    pub(super) erase_row: Rc<[u8]>,
}

impl Io {
    pub(super) fn mark_dirty(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.dirty && !conn.is_dead() {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    pub(super) fn kill(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            conn.phase = Phase::Dead;
            conn.outq.clear();
            self.dead.push(key);
        }
    }

    /// Gives up on a connection: it is reset, so nothing it left unsent
    /// stays in the kernel.
    pub(super) fn abort(&mut self, key: usize) {
        if let Some(conn) = self.conns.get(key) {
            conn.stream.reset_on_close();
        }
        self.kill(key);
    }

    /// Lets a closing connection finish: up to [`CLOSE_LINGER`] for its
    /// client to read the last lines and hang up. Past `--max-lingering`
    /// such connections the oldest is given up on.
    pub(super) fn linger(&mut self, key: usize) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        self.closing
            .push_back((self.now + CLOSE_LINGER, key, conn.serial));
        if self.closing.len() <= self.max_lingering {
            return;
        }
        // Entries of connections that have finished since are only dropped
        // when they reach the front: drop them all before counting.
        let conns = &self.conns;
        self.closing.retain(|&(_, key, serial)| {
            conns
                .get(key)
                .is_some_and(|c| c.serial == serial && !c.is_dead())
        });
        while self.closing.len() > self.max_lingering {
            let Some((_, oldest, _)) = self.closing.pop_front() else {
                break;
            };
            log::debug!("conn {oldest}: too many closing connections, given up on");
            self.abort(oldest);
        }
    }

    /// Queues bytes outside the turn's buffer (telnet answers) for `to`.
    pub(super) fn queue(&mut self, to: usize, bytes: &Rc<[u8]>) {
        let Some(conn) = self.conns.get_mut(to) else {
            return;
        };
        if conn.is_dead() {
            return;
        }
        conn.outq.push_shared(bytes);
        self.mark_dirty(to);
    }
}

impl Outbox for Io {
    /// Queues a span of the turn's buffer: no copy, no count to touch, and
    /// usually no new queue entry (it extends the previous line's span).
    /// Whether the client keeps up is judged after the end-of-turn flush.
    fn send(&mut self, to: ConnKey, line: &Line) {
        let Some(conn) = self.conns.get_mut(to) else {
            return;
        };
        if conn.is_dead() {
            return;
        }
        let form = Form {
            encoding: conn.charset.encoding,
            crlf: conn.crlf,
        };
        if conn.typing && !conn.redraw_due {
            // The lines go where the typed line was; it comes back below
            // them at the flush. Per connection, around the shared bytes.
            conn.redraw_due = true;
            conn.outq.push_shared(&self.erase_row);
        }
        conn.outq.push_turn(self.turn.place(line, form));
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(to);
        }
    }

    fn set_encoding(&mut self, to: ConnKey, encoding: Encoding) {
        if let Some(conn) = self.conns.get_mut(to) {
            // A WebSocket's text frames are UTF-8 whatever is asked.
            if !matches!(conn.stream, crate::net::conn::Stream::Ws(_)) {
                conn.charset = Charset::fixed(encoding);
            }
        }
    }

    fn encoding_fixed(&self, of: ConnKey) -> bool {
        self.conns
            .get(of)
            .is_some_and(|c| matches!(c.stream, crate::net::conn::Stream::Ws(_)))
    }

    fn encoding(&self, of: ConnKey) -> Encoding {
        self.conns
            .get(of)
            .map_or(Encoding::Utf8, |c| c.charset.encoding)
    }

    fn close(&mut self, to: ConnKey) {
        if let Some(conn) = self.conns.get_mut(to) {
            conn.close();
            self.linger(to);
            self.mark_dirty(to);
        }
    }

    fn refuse(&mut self, to: ConnKey) {
        if let Some(conn) = self.conns.get_mut(to) {
            conn.close();
            conn.refused = true;
            self.mark_dirty(to);
        }
    }

    fn logging(&self) -> bool {
        self.disk.logging()
    }

    fn log(&mut self, line: String) {
        self.disk.log(line);
    }

    fn persist(&mut self, change: StateChange) {
        self.disk.persist(change);
    }

    fn search(&mut self, id: u64, question: &str) -> bool {
        let Some(searcher) = &self.searcher else {
            return false;
        };
        searcher
            .submit(Question {
                id,
                text: question.to_string(),
            })
            .is_ok()
    }

    fn record(&mut self, record: crate::history::Record) {
        self.disk.record(record);
    }

    fn keeps_history(&self) -> bool {
        self.disk.keeps_history()
    }

    fn find_history(&mut self, id: u64, words: Vec<String>) -> bool {
        self.disk.find(id, words)
    }

    fn offer_upload(
        &mut self,
        offer: crate::room::commands::UploadOffer,
    ) -> Result<String, crate::room::commands::UploadRefused> {
        self.make_offer(offer)
    }

    fn check_admin(&mut self, id: u64, password: &str) -> bool {
        let Some(checker) = &self.checker else {
            return false;
        };
        checker
            .submit(Check {
                id,
                password: Secret::new(password),
            })
            .is_ok()
    }
}
