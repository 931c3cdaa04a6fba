//! The seam between the room and the world: everything the room asks for
//! (send, close, log, persist, ask the model, check a password) goes
//! through an [`Outbox`].
//! The reactor implements it over sockets; the room's tests record it.

use crate::history::Record;
use crate::net::charset::Encoding;
use crate::net::line::Line;
use crate::room::commands::{UploadOffer, UploadRefused};
use crate::room::schedules::Scheduled;
use crate::room::ConnKey;
#[cfg(doc)]
use crate::room::Room;

/// What the room asks of the world around it.
pub trait Outbox {
    /// Queues `line` for connection `to`, in that connection's encoding.
    fn send(&mut self, to: ConnKey, line: &Line);
    /// Sets the encoding of connection `to` (`/encoding`).
    fn set_encoding(&mut self, to: ConnKey, encoding: Encoding);
    /// The encoding connection `to` speaks now.
    fn encoding(&self, of: ConnKey) -> Encoding;
    /// Whether connection `of` speaks one encoding whatever is asked (a
    /// WebSocket's frames are UTF-8 by the protocol).
    fn encoding_fixed(&self, _of: ConnKey) -> bool {
        false
    }
    /// Closes connection `to` once what was queued for it has been sent.
    /// The room has already forgotten it.
    fn close(&mut self, to: ConnKey);
    /// Turns connection `to` away (room full, too busy, too many from its
    /// address, banned): what was queued for it gets one write, without
    /// waiting, and it is closed at once. Unlike [`Outbox::close`], which
    /// waits a little for the goodbye to be read, this holds nothing for a
    /// client that never hangs up: a flood of refused connections must not
    /// use up the server's descriptors. The room has already forgotten it.
    fn refuse(&mut self, to: ConnKey) {
        self.close(to);
    }
    /// Whether there is a room log; if not, [`Outbox::log`] is not called.
    fn logging(&self) -> bool;
    /// Appends one line (timestamp included, no newline) to the room log.
    fn log(&mut self, line: String);
    /// A scheduled message was added, removed or delivered: the store must
    /// follow. The store hands every change back, in order, through
    /// [`Room::saved`] once it is on disk (at once if nothing is kept);
    /// a delivery waits for that.
    fn persist(&mut self, change: StateChange);
    /// Asks the model `question`; the answer comes back later through
    /// [`Room::search_answer`] with the same `id`. Returns `false` if the
    /// question cannot be queued.
    fn search(&mut self, id: u64, question: &str) -> bool;
    /// Checks an `/admin` password against the admin password's hash, off
    /// the room's thread; the verdict comes back later through
    /// [`Room::admin_verdict`] with the same `id`. Returns `false` if the
    /// check cannot be queued.
    fn check_admin(&mut self, id: u64, password: &str) -> bool;
    /// A message said to the room, for the history on disk (nothing
    /// without a database: the room keeps its own recent messages).
    fn record(&mut self, _record: Record) {}
    /// Whether the history is kept on disk, so that `/find` goes to
    /// [`Outbox::find_history`].
    fn keeps_history(&self) -> bool {
        false
    }
    /// Looks for the messages with every one of `words` in the history on
    /// disk; the answer comes back through [`Room::find_answer`] with the
    /// same `id`. `false` without a database (the room then looks in what
    /// it keeps in memory) or when too many searches wait.
    fn find_history(&mut self, _id: u64, _words: Vec<String>) -> bool {
        false
    }
    /// `/upload`: a one-use upload link (`<url>/u/<token>`) for `offer`;
    /// the upload's end comes back through [`Room::file_shared`].
    ///
    /// # Errors
    ///
    /// No link can be made: files are off, or no token could be had.
    fn offer_upload(&mut self, offer: UploadOffer) -> Result<String, UploadRefused> {
        let _ = offer;
        Err(UploadRefused::Off)
    }
}

/// A change to the pending scheduled messages, for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// A new message; the next free id follows it.
    Added(Scheduled),
    /// A message was cancelled or dropped.
    Removed(u64),
    /// A message is going out: it must never go out again, even after a
    /// crash and a restart.
    Delivered(u64),
}

/// A change the store has written, handed back to the room
/// ([`Room::saved`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Saved {
    /// [`StateChange::Added`] of this id.
    Added(u64),
    /// [`StateChange::Removed`] of this id.
    Removed(u64),
    /// [`StateChange::Delivered`] of this id.
    Delivered(u64),
}

impl StateChange {
    /// How the store will name this change when it is written.
    pub fn saved(&self) -> Saved {
        match self {
            StateChange::Added(m) => Saved::Added(m.id),
            StateChange::Removed(id) => Saved::Removed(*id),
            StateChange::Delivered(id) => Saved::Delivered(*id),
        }
    }
}
