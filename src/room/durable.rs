//! What the room says only once the store has it.
//!
//! `Message #3 scheduled` promises that the message survives a crash, and
//! `[Scheduled by ...]` must not come twice when the server restarts after
//! one. So the room hands the change to the store ([`Outbox::persist`])
//! and keeps what depends on it here, until the store hands the change
//! back ([`Room::saved`]): a reply is sent, a due message goes out. The
//! store writes in batches, so that is a few tens of milliseconds later;
//! without a store (`--db none`) it is the same turn.
//!
//! If the process dies in between, the reply was never sent (the user saw
//! no promise), or the message was marked delivered and never sent: a
//! crash can lose a due message that was going out at that moment, it can
//! never deliver one twice.

use std::collections::HashMap;

use crate::clock::Now;
use crate::net::line::Line;
use crate::room::schedules::Scheduled;
use crate::room::{ConnKey, Outbox, Room, Saved, StateChange};

/// What to do once a change is written.
#[derive(Debug)]
pub(in crate::room) enum AfterSave {
    /// Send this reply to the connection (key, serial), if still there.
    Tell {
        /// Slab key.
        key: ConnKey,
        /// Serial: the reply never reaches a newcomer on the same key.
        uid: u64,
        /// The reply, made when it was asked for.
        line: Line,
    },
    /// Send this scheduled message to the room.
    Deliver(Scheduled),
}

/// Changes handed to the store and not yet written, with what waits on them.
pub(in crate::room) type Awaiting = HashMap<Saved, AfterSave>;

impl Room {
    /// Hands `change` to the store; `then` happens once it is written.
    pub(in crate::room) fn persist_then(
        &mut self,
        change: StateChange,
        then: AfterSave,
        out: &mut dyn Outbox,
    ) {
        self.awaiting.insert(change.saved(), then);
        out.persist(change);
    }

    /// Hands `change` to the store and tells `key` once it is written.
    pub(in crate::room) fn tell_when_saved(
        &mut self,
        change: StateChange,
        key: ConnKey,
        now: Now,
        out: &mut dyn Outbox,
        text: std::fmt::Arguments<'_>,
    ) {
        let Some(uid) = self.member(key).map(|m| m.uid) else {
            out.persist(change);
            return;
        };
        let line = self.notice(now, text);
        self.persist_then(change, AfterSave::Tell { key, uid, line }, out);
    }

    /// The store has written these changes: what waited on them happens now.
    pub fn saved(&mut self, saved: &[Saved], now: Now, out: &mut dyn Outbox) {
        for done in saved {
            match self.awaiting.remove(done) {
                Some(AfterSave::Tell { key, uid, line }) if self.is(key, uid) => {
                    out.send(key, &line);
                }
                Some(AfterSave::Deliver(message)) => self.send_scheduled(message, now, out),
                Some(AfterSave::Tell { .. }) | None => {}
            }
        }
    }
}
