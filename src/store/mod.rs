//! What the server keeps on disk, written off the reactor thread.
//!
//! - [`disk`]: the disk thread: the room log, and the changes to the
//!   database in small batched transactions, acknowledged back to the room.
//! - [`db`]: the database (SQLite): its schema by version, the pending
//!   scheduled messages.
//! - [`legacy`]: the JSON state file of earlier versions, imported once.
//!
//! # What a crash can lose
//!
//! The room tells nobody about a change to the scheduled messages before
//! the disk thread has committed it (see `room/durable.rs`): a message
//! acknowledged with `Message #N scheduled` is in the database, a message
//! is marked delivered before it goes out. So a kill -9 (or a power cut)
//! loses no acknowledged message and delivers none twice. It can lose a
//! `/schedule` that had not been answered yet (at most one batch window,
//! [`disk::BATCH_WINDOW`], plus the time of a commit), and a message that
//! was being delivered at that very moment: marked delivered, never sent.

pub mod db;
pub mod disk;
pub mod legacy;
