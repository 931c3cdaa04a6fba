//! `/emoticons`: the shortcode table, to the caller.
//!
//! The lines carry the emoji; a CP949 reader's encoder turns each into its
//! text form, so everyone reads the table in what their terminal shows.

use crate::clock::Now;
use crate::emoticons::TABLE;
use crate::room::{ConnKey, Outbox, Room};

/// Table entries on one line of the listing: a few dozen short lines
/// rather than one per code.
const PER_LINE: usize = 4;

impl Room {
    pub(in crate::room) fn list_emoticons(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) {
        self.tell(
            key,
            now,
            out,
            format_args!("Emoticons (type the :code: in a message):"),
        );
        for row in TABLE.chunks(PER_LINE) {
            let entries: Vec<String> = row
                .iter()
                .map(|e| format!(":{}: {}", e.code, e.emoji))
                .collect();
            self.tell(key, now, out, format_args!("  {}", entries.join("   ")));
        }
    }
}
