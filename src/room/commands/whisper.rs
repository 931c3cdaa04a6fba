//! `/whisper`: a line for one person only.

use crate::clock::Now;
use crate::emoticons::expand;
use crate::room::{ConnKey, Outbox, Room};

impl Room {
    pub(in crate::room) fn whisper(
        &mut self,
        key: ConnKey,
        to: &str,
        text: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some(target) = self.find(to) else {
            self.tell(key, now, out, format_args!("No user named \"{to}\"."));
            return;
        };
        let from = self.nick(key).unwrap_or_default().to_string();
        let to = self.nick(target).unwrap_or_default().to_string();
        let text = expand(text);
        let line = self.line(now, format_args!("[Whisper from {from}] {text}"));
        self.send(target, &line, now, out);
        let line = self.line(now, format_args!("[Whisper to {to}] {text}"));
        self.send(key, &line, now, out);
        self.log(now, out, format_args!("whisper {from} -> {to}"));
    }
}
