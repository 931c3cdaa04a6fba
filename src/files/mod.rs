//! Files shared with the room or one person over HTTP on the chat port
//! (see the contract, "Files", and docs/PROTOCOL.md, "Files").
//!
//! - [`names`]: what a name may show, and how URLs, shell lines and
//!   headers carry it; sizes in binary units.
//! - [`ids`]: ids and one-use tokens, 128 random bits from the OS.
//! - [`index`]: the files, their expiry, the quota, the offers.
//! - [`io`]: the thread that does every disk access of the store.
//!
//! The room only hears "an upload was announced" (`Room::file_shared`);
//! HTTP (`net/reactor/files.rs`) does the rest.

pub mod ids;
pub mod index;
pub mod io;
pub mod names;

use std::path::PathBuf;
use std::time::Duration;

/// How long an `/upload` link can be used.
pub const OFFER_TTL: Duration = Duration::from_secs(600);

/// Unacknowledged upload bytes per transfer (and download bytes read
/// ahead): past it the socket is not read until the disk catches up.
pub const TRANSFER_WINDOW: usize = 256 * 1024;

/// One read or write handed to the file thread, at most.
pub const CHUNK: usize = 64 * 1024;

/// The flags behind the file store.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// `--files-dir`.
    pub dir: PathBuf,
    /// `--file-ttl`.
    pub ttl: Duration,
    /// `--max-file-size`.
    pub max_size: u64,
    /// `--files-quota`.
    pub quota: u64,
    /// `--max-uploads`: uploads under way at once.
    pub max_uploads: usize,
    /// `--public-url`, without a trailing `/`.
    pub public_url: Option<String>,
}
