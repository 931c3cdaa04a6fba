//! The telnet filter alone: the same data, events and answers however the
//! stream is cut, no telnet command ever handed over as text, answers
//! bounded however the peer negotiates.
#![no_main]

use suda::net::telnet::{Event, Receiver, TelnetFilter};

#[derive(Debug, Default, PartialEq)]
struct Seen {
    data: Vec<u8>,
    events: Vec<Event>,
}

impl Receiver for Seen {
    fn data(&mut self, bytes: &[u8]) {
        assert!(!bytes.is_empty(), "empty data hand-over");
        self.data.extend_from_slice(bytes);
    }
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

fn run(listener: bool, chunks: &[&[u8]]) -> (Seen, Vec<u8>) {
    let mut reply = Vec::new();
    let mut filter = if listener {
        TelnetFilter::speaking_first(&mut reply)
    } else {
        TelnetFilter::default()
    };
    let mut seen = Seen::default();
    for chunk in chunks {
        filter.filter(chunk, &mut reply, &mut seen);
    }
    (seen, reply)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&head, input)) = data.split_first() else {
        return;
    };
    let listener = head & 1 != 0;
    let whole = run(listener, &[input]);
    // Cut where the first byte says, and byte by byte.
    let step = usize::from(head >> 1).max(1);
    let chunks: Vec<&[u8]> = input.chunks(step).collect();
    assert_eq!(run(listener, &chunks), whole, "cut every {step} bytes");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(listener, &bytes), whole, "cut byte by byte");
    // A 0xFF in the text can only come from an escaped IAC IAC.
    let escaped = input.windows(2).filter(|w| w == b"\xff\xff").count();
    let literal = whole.0.data.iter().filter(|&&b| b == 0xff).count();
    assert!(
        literal <= escaped,
        "{literal} 0xFF in the text, {escaped} escaped"
    );
    if !input.contains(&0xff) && !listener {
        assert_eq!(whole.0.data, input, "plain text changed");
        assert!(whole.1.is_empty(), "plain text answered");
    }
    // The answers stay bounded: a few bytes per option, not per request.
    assert!(whole.1.len() <= 4096, "{} bytes of answers", whole.1.len());
});
