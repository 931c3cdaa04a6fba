//! What the server keeps on disk, written off the reactor thread.
//!
//! - [`disk`]: the disk thread: the room log, and the changes to the
//!   database in small batched transactions, acknowledged back to the room.
//! - [`db`]: the database (SQLite): its schema by version, the pending
//!   scheduled messages; [`history`]: the room's messages, searched by
//!   `/find`.
//! - [`legacy`]: the JSON state file of earlier versions, imported once.
//! - [`shed`]: `--history-rate`, how many messages a second are stored.
//!
//! # What a crash can lose
//!
//! A change reaches the database within [`disk::BATCH_WINDOW`] and a
//! commit (synced): a kill -9 or a power cut loses only the changes of
//! that last moment, so never a message acknowledged (`Message #N
//! scheduled`) a second before. A due message is marked delivered before
//! it goes out (see `room/durable.rs`), so none is delivered twice; the
//! price is that a message going out at the very moment of the crash
//! (marked, not yet sent) is lost.

pub mod db;
pub mod disk;
pub mod history;
pub mod legacy;
pub mod shed;
