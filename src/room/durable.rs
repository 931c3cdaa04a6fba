//! Scheduled messages that go out only once the store has them as
//! delivered.
//!
//! `[Scheduled by ...]` must not come twice when the server restarts after
//! a crash. So when a message falls due, the room hands
//! [`StateChange::Delivered`] to the store ([`Outbox::persist`]) and keeps
//! the message here until the store hands the change back
//! ([`Room::saved`]); only then does it go out. The store writes in
//! batches, so that is a few tens of milliseconds late; without a store
//! (`--db none`) it is the same turn.
//!
//! If the process dies in between, the message is marked delivered and was
//! never sent: a crash can lose a message that was going out at that very
//! moment, it can never deliver one twice. Whatever paces deliveries must
//! call `deliver` when a message is really to go out, not earlier, or that
//! window grows.
//!
//! Replies (`Message #N scheduled`) do not wait: the store commits within
//! a batch window, well inside the second in which a crash may lose an
//! acknowledged change, and a reply that waited could be overtaken by the
//! reply to the caller's next command.

use std::collections::HashMap;

use crate::clock::Now;
use crate::room::schedules::Scheduled;
use crate::room::{Outbox, Room, Saved, StateChange};

/// Due messages whose delivery mark the store has not written yet, by id.
pub(in crate::room) type Delivering = HashMap<u64, Scheduled>;

impl Room {
    /// Marks `message` delivered in the store; it goes out once that is written.
    pub(in crate::room) fn deliver_when_saved(&mut self, message: Scheduled, out: &mut dyn Outbox) {
        let id = message.id;
        self.delivering.insert(id, message);
        out.persist(StateChange::Delivered(id));
    }

    /// The store has written these changes: the messages whose delivery
    /// they mark go out now.
    pub fn saved(&mut self, saved: &[Saved], now: Now, out: &mut dyn Outbox) {
        for done in saved {
            if let Saved::Delivered(id) = done {
                if let Some(message) = self.delivering.remove(id) {
                    self.send_scheduled(message, now, out);
                }
            }
        }
    }
}
