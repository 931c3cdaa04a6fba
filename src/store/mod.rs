//! What the server keeps on disk, written off the reactor thread.
//!
//! - [`disk`]: the disk thread, the room log and the state file of pending
//!   scheduled messages.
//! - [`db`]: the database (SQLite): its schema by version, the pending
//!   scheduled messages.

pub mod db;
pub mod disk;
