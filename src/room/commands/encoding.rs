//! `/encoding`: this connection's charset, set by hand.

use crate::clock::Now;
use crate::net::charset::Encoding;
use crate::room::commands::usage;
use crate::room::{ConnKey, Outbox, Room};

impl Room {
    pub(in crate::room) fn set_encoding(
        &mut self,
        key: ConnKey,
        name: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        match Encoding::parse(name) {
            Some(_) if out.encoding_fixed(key) => {
                let current = out.encoding(key);
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("This connection is always {current}."),
                );
            }
            Some(encoding) => {
                out.set_encoding(key, encoding);
                self.encoding_confirmed(key);
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Your encoding is now {encoding}."),
                );
            }
            None => {
                let current = out.encoding(key);
                let usage = usage::ENCODING;
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Usage: {usage} (now {current})"),
                );
            }
        }
    }
}
