//! What a new connection speaks, from its first bytes: deciding is
//! monotonic (more bytes never undo a decision) and a prefix of a
//! decision is undecided or the same decision.
#![no_main]

use suda::net::sniff::{sniff, sniff_plaintext, Sniffed, SNIFF_BYTES};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for classify in [sniff, sniff_plaintext] {
        let whole = classify(data);
        if data.len() >= SNIFF_BYTES {
            assert_ne!(
                whole,
                Sniffed::Undecided,
                "{SNIFF_BYTES} bytes and still undecided"
            );
        }
        for end in 0..data.len() {
            let part = classify(&data[..end]);
            assert!(
                part == Sniffed::Undecided || part == whole,
                "{part:?} after {end} bytes, {whole:?} after {}",
                data.len()
            );
        }
    }
});
