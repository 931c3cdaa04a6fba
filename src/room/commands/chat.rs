//! A line that is not a command: to everyone else.

use crate::clock::Now;
use crate::emoticons::expand;
use crate::room::{ConnKey, Outbox, Room};

impl Room {
    pub(in crate::room) fn chat(
        &mut self,
        key: ConnKey,
        text: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let nick = self.nick(key).unwrap_or_default().to_string();
        let text = expand(text);
        self.broadcast_kept(Some(key), &format!("{nick} >> {text}"), now, out);
        self.log(now, out, format_args!("message {nick}: {text}"));
    }
}
