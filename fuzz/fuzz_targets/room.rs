//! The room as a state machine: arbitrary sequences of opens, lines,
//! leaves, clock moves, store acknowledgements, search answers and admin
//! verdicts, with the room's promises checked after every step
//! (`suda::room::fuzzing`, shared with tests/properties.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = suda::room::fuzzing::run(data);
});
