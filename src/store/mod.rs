//! What the server keeps on disk, written off the reactor thread.
//!
//! - [`disk`]: the disk thread, the room log and the state file of pending
//!   scheduled messages.

pub mod disk;
