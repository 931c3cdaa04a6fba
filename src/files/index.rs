//! What files exist (id, name, size, who, until when), what space they
//! take, and the upload links handed out and not yet used. Kept in memory
//! by the reactor; every change also goes to the SQLite store through
//! the disk thread, so links outlive a restart.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use crate::room::ConnKey;

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// 128 random bits in hex: its link and its name on disk.
    pub id: String,
    /// The name shown (already clean, see [`super::names::clean_name`]).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Who sent it.
    pub uploader: String,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix milliseconds: gone after this.
    pub expires: i64,
}

/// A change to the index, for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// A file was shared.
    Added(FileEntry),
    /// A file expired.
    Removed(String),
}

/// A one-use upload link, as `/upload` made it.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The clean file name.
    pub name: String,
    /// The uploader's connection and its member uid (so a newcomer on the
    /// same key is never taken for the uploader).
    pub from: (ConnKey, u64),
    /// The one recipient, if not the room.
    pub to: Option<(ConnKey, u64)>,
    /// The base URL it was offered under.
    pub url: String,
    /// Unusable after this.
    pub until: Instant,
}

/// Upload links one member may hold unused at once: more than anyone
/// uploads in parallel, few enough that a loop of `/upload` only replaces
/// its own.
pub const OFFERS_PER_MEMBER: usize = 8;

/// The index and the offers.
#[derive(Debug, Default)]
pub struct Index {
    files: HashMap<String, FileEntry>,
    by_expiry: BTreeSet<(i64, String)>,
    /// Bytes of stored files.
    stored: u64,
    /// Bytes promised to uploads under way.
    reserved: u64,
    offers: HashMap<String, Offer>,
    offer_order: VecDeque<(Instant, String)>,
}

impl Index {
    /// The index as the store kept it.
    pub fn restore(entries: Vec<FileEntry>) -> Index {
        let mut index = Index::default();
        for entry in entries {
            index.insert(entry);
        }
        index
    }

    /// Adds a stored file.
    pub fn insert(&mut self, entry: FileEntry) {
        self.stored += entry.size;
        self.by_expiry.insert((entry.expires, entry.id.clone()));
        if let Some(old) = self.files.insert(entry.id.clone(), entry) {
            self.stored -= old.size;
        }
    }

    /// File `id`, if it has not expired by `now_ms`.
    pub fn get(&self, id: &str, now_ms: i64) -> Option<&FileEntry> {
        self.files.get(id).filter(|e| e.expires > now_ms)
    }

    /// Removes and returns the files expired by `now_ms`.
    pub fn expire(&mut self, now_ms: i64) -> Vec<FileEntry> {
        let mut gone = Vec::new();
        while let Some((at, _)) = self.by_expiry.first() {
            if *at > now_ms {
                break;
            }
            if let Some((_, id)) = self.by_expiry.pop_first() {
                if let Some(entry) = self.files.remove(&id) {
                    self.stored -= entry.size;
                    gone.push(entry);
                }
            }
        }
        gone
    }

    /// Removes file `id` at once (its upload was not announced).
    pub fn remove(&mut self, id: &str) -> Option<FileEntry> {
        let entry = self.files.remove(id)?;
        self.stored -= entry.size;
        self.by_expiry.remove(&(entry.expires, entry.id.clone()));
        Some(entry)
    }

    /// The next expiry, Unix milliseconds.
    pub fn next_expiry(&self) -> Option<i64> {
        self.by_expiry.first().map(|(at, _)| *at)
    }

    /// Bytes stored and promised.
    pub fn used(&self) -> u64 {
        self.stored + self.reserved
    }

    /// Promises `bytes` to an upload if `quota` allows.
    pub fn reserve(&mut self, bytes: u64, quota: u64) -> bool {
        if self.used().saturating_add(bytes) > quota {
            return false;
        }
        self.reserved += bytes;
        true
    }

    /// Gives a promise back (the upload ended, either way).
    pub fn release(&mut self, bytes: u64) {
        self.reserved = self.reserved.saturating_sub(bytes);
    }

    /// Files stored.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// No files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether `id` is a stored file (expired or not): what the disk may keep.
    pub fn holds(&self, id: &str) -> bool {
        self.files.contains_key(id)
    }

    /// Keeps an offer under `token`, at most `max` at once (the oldest go)
    /// and [`OFFERS_PER_MEMBER`] of one uploader's (that uploader's oldest
    /// goes), so one member typing `/upload` in a loop cannot push
    /// everyone else's links out.
    pub fn offer(&mut self, token: String, offer: Offer, max: usize, now: Instant) {
        self.drop_stale_offers(now);
        let theirs: Vec<usize> = self
            .offer_order
            .iter()
            .enumerate()
            .filter(|(_, (_, t))| self.offers.get(t).is_some_and(|o| o.from == offer.from))
            .map(|(i, _)| i)
            .collect();
        if theirs.len() >= OFFERS_PER_MEMBER {
            if let Some((_, old)) = self.offer_order.remove(theirs[0]) {
                self.offers.remove(&old);
            }
        }
        while self.offers.len() >= max.max(1) {
            match self.offer_order.pop_front() {
                Some((_, old)) => {
                    self.offers.remove(&old);
                }
                None => break,
            }
        }
        self.offer_order.push_back((offer.until, token.clone()));
        self.offers.insert(token, offer);
    }

    /// Takes the offer behind `token` (one use), if it has not run out.
    pub fn take_offer(&mut self, token: &str, now: Instant) -> Option<Offer> {
        self.drop_stale_offers(now);
        self.offers.remove(token).filter(|o| o.until > now)
    }

    fn drop_stale_offers(&mut self, now: Instant) {
        while let Some((until, _)) = self.offer_order.front() {
            if *until > now {
                break;
            }
            if let Some((_, token)) = self.offer_order.pop_front() {
                self.offers.remove(&token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, size: u64, expires: i64) -> FileEntry {
        FileEntry {
            id: id.into(),
            name: "a".into(),
            size,
            uploader: "A".into(),
            created: 0,
            expires,
        }
    }

    #[test]
    fn expiry_and_quota() {
        let mut index = Index::restore(vec![entry("a", 10, 100), entry("b", 5, 200)]);
        assert_eq!(index.used(), 15);
        assert!(index.reserve(5, 20));
        assert!(!index.reserve(1, 20));
        index.release(5);
        assert!(index.get("a", 99).is_some());
        assert!(index.get("a", 100).is_none());
        let gone = index.expire(150);
        assert_eq!(gone.len(), 1);
        assert_eq!(index.used(), 5);
        assert_eq!(index.next_expiry(), Some(200));
    }

    #[test]
    fn offers_are_one_use_and_run_out() {
        let now = Instant::now();
        let later = now + std::time::Duration::from_secs(600);
        let offer = Offer {
            name: "a".into(),
            from: (1, 1),
            to: None,
            url: "http://x".into(),
            until: later,
        };
        let mut index = Index::default();
        index.offer("t".into(), offer.clone(), 10, now);
        assert!(index.take_offer("t", now).is_some());
        assert!(index.take_offer("t", now).is_none());
        index.offer("u".into(), offer, 10, now);
        assert!(index.take_offer("u", later).is_none());
    }

    #[test]
    fn one_uploader_in_a_loop_only_pushes_out_their_own_links() {
        let now = Instant::now();
        let until = now + std::time::Duration::from_secs(600);
        let by = |from| Offer {
            name: "a".into(),
            from,
            to: None,
            url: "http://x".into(),
            until,
        };
        let mut index = Index::default();
        index.offer("alice".into(), by((1, 1)), 256, now);
        for i in 0..300 {
            index.offer(format!("m{i}"), by((2, 2)), 256, now);
        }
        assert!(index.take_offer("alice", now).is_some());
        assert!(index.take_offer("m291", now).is_none(), "the ninth newest");
        assert!(index.take_offer("m292", now).is_some(), "the eighth newest");
        assert!(index.take_offer("m299", now).is_some());
    }
}
