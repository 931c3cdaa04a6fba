//! `/users`: who is online, in join order, each admin marked.

use crate::clock::Now;
use crate::room::{ConnKey, Outbox, Room};

impl Room {
    pub(in crate::room) fn users(&mut self, key: ConnKey, now: Now, out: &mut dyn Outbox) {
        let mut people: Vec<(u64, bool, &str)> = self
            .members
            .iter()
            .filter_map(|m| {
                let m = m.as_ref()?;
                Some((m.seq, m.admin, m.nick.as_deref()?))
            })
            .collect();
        people.sort_unstable();
        let mut list = String::new();
        for (i, (_, admin, nick)) in people.iter().enumerate() {
            if i > 0 {
                list.push_str(", ");
            }
            list.push_str(nick);
            if *admin {
                list.push_str(" (admin)");
            }
        }
        let (n, max) = (self.joined, self.cfg.max_clients);
        self.tell(
            key,
            now,
            out,
            format_args!("Users online ({n}/{max}): {list}"),
        );
    }
}
