//! The disk thread: the room log and the database, written by a thread of
//! their own.
//!
//! A disk can stall (a full journal, a slow network volume); the reactor
//! must not. It hands log lines and changes to the scheduled messages to
//! this thread over a channel and goes on; it never waits for an answer.
//!
//! # Batches
//!
//! Changes are gathered for up to [`BATCH_WINDOW`] after the first one
//! arrives (or until [`MAX_BATCH`] of them), then written in one
//! transaction and synced once. A change costs the pages it touches, not
//! a rewrite of everything pending, and a flood of changes costs one sync
//! per window, not one per change.
//!
//! # Acknowledgements
//!
//! After each commit the thread sends the batch's changes back
//! ([`Saved`]) and wakes the reactor, which hands them to the room
//! ([`crate::room::Room::saved`]): a due message goes out only once its
//! delivery is written (see `room/durable.rs`). Without a database the
//! handle acknowledges at once, in the same turn. A failed commit is logged
//! and acknowledged all the same: the room goes on, and the operator learns
//! that a restart may not find what the disk refused.
//!
//! If the disk falls far behind, log lines are dropped (and counted) rather
//! than piling up in memory: [`MAX_QUEUED_LOG_BYTES`], and so are the
//! room's messages on their way to the history ([`MAX_QUEUED_HISTORY_BYTES`]:
//! the room still has them in memory, only a restart would miss them).
//! Changes to the state are never dropped; they are bounded by the
//! scheduled-message limits and the rate limit.
//!
//! # History
//!
//! The room's messages ride in the same batches (one transaction, one
//! sync, for the schedules and the history alike), and old ones are
//! pruned with the delivered schedules. A batch writes only the messages'
//! rows; their search tokens, the expensive part, are written later, in
//! steps of [`INDEX_STEP`], whenever nothing else waits (so a burst into
//! the room costs the thread one small insert per message, and the index
//! catches up when the burst is over). What is not indexed yet is read
//! by `/find` directly (`store/history.rs`), and what a crash or a stop
//! left unindexed is indexed after the next start, in the background too. `/find` is answered here too: the
//! thread owns the only connection (the file is held exclusively), and a
//! search that takes a few milliseconds delays a batch, never the room.
//! A search first commits what is pending, so it sees every message sent
//! before it was asked.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};

use crate::files::index::FileChange;
use crate::history::{Record, FIND_LIMIT};
use crate::room::{Saved, StateChange};
use crate::store::db::{self, Store};
use crate::store::shed::Shed;

/// How long the first change of a batch waits for others before the batch
/// is written: how much a crash can lose, and how late a due message may go
/// out, beyond the commit itself.
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// Changes in one transaction at most, so one commit stays short.
pub const MAX_BATCH: usize = 1024;

/// Log bytes waiting for the disk before new lines are dropped.
pub const MAX_QUEUED_LOG_BYTES: usize = 16 << 20;

/// Bytes of room messages waiting for the disk before new ones are left
/// out of the history (a burst of 20 000 messages a second of 100 bytes
/// fills it in 8 s of a stalled disk; memory stays bounded).
pub const MAX_QUEUED_HISTORY_BYTES: usize = 16 << 20;

/// Room messages in one transaction at most: more than [`MAX_BATCH`]
/// because each is one small insert, and a busy room sends thousands in a
/// window.
pub const MAX_HISTORY_BATCH: usize = 32_768;

/// Messages indexed for `/find` in one transaction at most: a few
/// milliseconds of work (BENCHMARKS.md, "History"), so a batch or a
/// search that arrives meanwhile waits no longer than that.
pub const INDEX_STEP: usize = 1_000;

/// `/find` requests waiting for the disk thread at most.
pub const MAX_FINDS_QUEUED: usize = 16;

/// How often delivered messages older than [`db::DELIVERED_KEEP`] (and
/// history older than `--history-keep`) are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What wakes the reactor when changes are written.
type Wake = Box<dyn Fn() + Send + Sync>;

/// Work for the disk thread.
#[derive(Debug)]
enum Job {
    /// One log line, without newline.
    Log(String),
    /// A scheduled message came, went or was delivered.
    State(StateChange),
    /// A shared file came or expired: written at once, in a transaction
    /// of its own (files are few; a lost row only loses a link).
    File(FileChange),
    /// Messages said to the room, for the history: one reactor turn's.
    History(Vec<Record>),
    /// A `/find`: its id and its words ([`crate::history::grams::words`]).
    Find(u64, Vec<String>),
}

/// The answer to a `/find`: its id and the messages found, oldest first
/// (or why there are none).
#[derive(Debug)]
pub struct Found {
    /// The id given to [`Disk::find`].
    pub id: u64,
    /// The messages, or the database's error.
    pub result: Result<Vec<Record>, String>,
}

/// The reactor's handle on the disk thread.
pub struct Disk {
    /// Jobs for the thread; `None` once finished.
    jobs: Option<Sender<Job>>,
    /// Written changes, from the thread.
    saved: Receiver<Vec<Saved>>,
    /// Changes acknowledged without the thread (no database, or the thread died).
    instant: Vec<Saved>,
    /// Set once the reactor has a waker.
    wake: Arc<OnceLock<Wake>>,
    /// The thread, joined by [`Disk::finish`].
    thread: Option<JoinHandle<()>>,
    /// Log bytes sent and not yet written.
    queued: Arc<AtomicUsize>,
    /// History bytes sent and not yet written.
    history_queued: Arc<AtomicUsize>,
    /// `/find` requests sent and not yet answered.
    finds: Arc<AtomicUsize>,
    /// Answers to `/find`, from the thread.
    found: Receiver<Found>,
    /// The highest message id indexed for `/find` (from the thread).
    indexed: Arc<AtomicU64>,
    /// Room messages left out of the history because the disk was too slow.
    history_dropped: u64,
    /// `--history-rate`: messages over it are left out of the database.
    shed: Shed,
    /// This turn's messages, sent together by [`Disk::send_history`]: one
    /// channel send (and at most one wake of the thread) per turn, not one
    /// per message.
    outgoing: Vec<Record>,
    /// Whether there is a log at all.
    logging: bool,
    /// Whether there is a database at all.
    saving: bool,
    /// Log lines dropped because the disk was too slow.
    dropped: u64,
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disk")
            .field("logging", &self.logging)
            .field("saving", &self.saving)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Disk {
    /// Opens the log, then starts the thread with the database (already
    /// open and loaded, see [`Store::open`]), if any.
    ///
    /// # Errors
    ///
    /// The log cannot be opened: the operator must know before anyone joins.
    pub fn start(
        log_file: Option<&Path>,
        store: Option<Store>,
        history_keep: Duration,
    ) -> anyhow::Result<Disk> {
        let log = match log_file {
            Some(path) => Some(BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open log file {}", path.display()))?,
            )),
            None => None,
        };
        let logging = log.is_some();
        let saving = store.is_some();
        let queued = Arc::new(AtomicUsize::new(0));
        let wake = Arc::new(OnceLock::new());
        let (jobs, receiver) = mpsc::channel();
        let (acks, saved) = mpsc::channel();
        let (answers, found) = mpsc::channel();
        let history_queued = Arc::new(AtomicUsize::new(0));
        let finds = Arc::new(AtomicUsize::new(0));
        let indexed = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            history: Vec::new(),
            history_queued: Arc::clone(&history_queued),
            history_keep,
            finds: Arc::clone(&finds),
            answers,
            jobs: receiver,
            log,
            store,
            batch: Vec::new(),
            batch_since: None,
            acks,
            wake: Arc::clone(&wake),
            queued: Arc::clone(&queued),
            log_failed: false,
            store_failed: false,
            pruned_at: None,
            index_behind: true,
            indexed: Arc::clone(&indexed),
        };
        let thread = std::thread::Builder::new()
            .name("suda-disk".into())
            .spawn(move || worker.run())
            .context("cannot start the disk thread")?;
        Ok(Disk {
            jobs: Some(jobs),
            saved,
            instant: Vec::new(),
            wake,
            thread: Some(thread),
            queued,
            history_queued,
            finds,
            found,
            indexed,
            history_dropped: 0,
            shed: Shed::new(0),
            outgoing: Vec::new(),
            logging,
            saving,
            dropped: 0,
        })
    }

    /// Sets what the thread calls after each commit (the reactor's waker).
    pub fn on_saved(&self, wake: impl Fn() + Send + Sync + 'static) {
        if self.wake.set(Box::new(wake)).is_err() {
            log::warn!("the disk thread already has a waker");
        }
    }

    /// Whether log lines are wanted.
    pub fn logging(&self) -> bool {
        self.logging
    }

    /// Queues one log line, unless the disk is too far behind.
    pub fn log(&mut self, line: String) {
        if !self.logging {
            return;
        }
        let len = line.len() + 1;
        if self.queued.load(Ordering::Relaxed) + len > MAX_QUEUED_LOG_BYTES {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                log::warn!(
                    "room log: disk too slow, {} lines dropped so far",
                    self.dropped
                );
            }
            return;
        }
        self.queued.fetch_add(len, Ordering::Relaxed);
        self.send(Job::Log(line));
    }

    /// Queues a change to the scheduled messages; it comes back from
    /// [`Disk::take_saved`] once written.
    pub fn persist(&mut self, change: StateChange) {
        let saved = change.saved();
        if !self.saving || !self.send(Job::State(change)) {
            self.instant.push(saved);
        }
    }

    /// Whether the history is kept in the database (and `/find` answered here).
    pub fn keeps_history(&self) -> bool {
        self.saving && self.jobs.is_some()
    }

    /// Stores at most `per_second` room messages a second (0: all); see
    /// [`crate::store::shed`].
    pub fn limit_history_rate(&mut self, per_second: u32) {
        self.shed = Shed::new(per_second);
    }

    /// Queues a room message for the history, unless it is over
    /// `--history-rate` or the disk is too far behind (then it is counted
    /// and left out).
    pub fn record(&mut self, record: Record) {
        if !self.keeps_history() || !self.shed.admit(Instant::now()) {
            return;
        }
        let len = record.text.len() + 32;
        if self.history_queued.load(Ordering::Relaxed) + len > MAX_QUEUED_HISTORY_BYTES {
            self.history_dropped += 1;
            if self.history_dropped.is_power_of_two() {
                log::warn!(
                    "history: disk too slow, {} messages left out so far",
                    self.history_dropped
                );
            }
            return;
        }
        self.history_queued.fetch_add(len, Ordering::Relaxed);
        self.outgoing.push(record);
    }

    /// Sends the messages [`Disk::record`]ed since the last call; the
    /// reactor calls it once per turn.
    pub fn send_history(&mut self) {
        if !self.outgoing.is_empty() {
            let records = std::mem::take(&mut self.outgoing);
            self.send(Job::History(records));
        }
    }

    /// Room messages left out of the history so far (too slow a disk, or
    /// over `--history-rate`).
    pub fn history_dropped(&self) -> u64 {
        self.history_dropped + self.shed.total()
    }

    /// The highest message id whose search tokens are written (every
    /// lower one's are too): the index's progress, for tests and logs.
    pub fn history_indexed(&self) -> u64 {
        self.indexed.load(Ordering::Relaxed)
    }

    /// Asks the thread for the messages with every one of `words`; the
    /// answer comes from [`Disk::take_found`]. `false` if there is no
    /// database or too many searches wait.
    pub fn find(&mut self, id: u64, words: Vec<String>) -> bool {
        if !self.keeps_history() || self.finds.load(Ordering::Relaxed) >= MAX_FINDS_QUEUED {
            return false;
        }
        self.finds.fetch_add(1, Ordering::Relaxed);
        // What was said before the question is in the answer.
        self.send_history();
        if self.send(Job::Find(id, words)) {
            return true;
        }
        self.finds.fetch_sub(1, Ordering::Relaxed);
        false
    }

    /// The `/find` answers that have arrived.
    pub fn take_found(&mut self) -> Vec<Found> {
        std::iter::from_fn(|| self.found.try_recv().ok()).collect()
    }

    /// Queues a change to the file index (nothing without a database).
    pub fn persist_file(&mut self, change: FileChange) {
        if self.saving {
            self.send(Job::File(change));
        }
    }

    /// The changes written since the last call, in the order they were made.
    pub fn take_saved(&mut self) -> Vec<Saved> {
        let mut saved = std::mem::take(&mut self.instant);
        while let Ok(batch) = self.saved.try_recv() {
            saved.extend(batch);
        }
        saved
    }

    /// Sends a job; `false` if the thread is gone.
    fn send(&mut self, job: Job) -> bool {
        let Some(jobs) = &self.jobs else {
            return false;
        };
        if jobs.send(job).is_ok() {
            return true;
        }
        log::error!("the disk thread has stopped; log and database are no longer written");
        self.jobs = None;
        false
    }

    /// Writes what is queued, commits and closes the database, and stops
    /// the thread.
    pub fn finish(&mut self) {
        self.send_history();
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("the disk thread panicked");
            }
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The disk thread's state.
struct Worker {
    /// Work from the reactor.
    jobs: Receiver<Job>,
    /// The room log.
    log: Option<BufWriter<File>>,
    /// The database.
    store: Option<Store>,
    /// Changes received and not yet written.
    batch: Vec<StateChange>,
    /// When the first change of `batch` arrived.
    batch_since: Option<Instant>,
    /// Written changes, to the reactor.
    acks: Sender<Vec<Saved>>,
    /// Wakes the reactor (shared with the handle, which sets it).
    wake: Arc<OnceLock<Wake>>,
    /// Log bytes queued by the reactor (shared).
    queued: Arc<AtomicUsize>,
    /// A log write failed: warn once, not on every line.
    log_failed: bool,
    /// A commit failed: the same.
    store_failed: bool,
    /// When delivered messages were last pruned.
    pruned_at: Option<Instant>,
    /// Room messages received and not yet written.
    history: Vec<Record>,
    /// History bytes queued by the reactor (shared).
    history_queued: Arc<AtomicUsize>,
    /// `--history-keep`.
    history_keep: Duration,
    /// `/find` requests queued by the reactor (shared).
    finds: Arc<AtomicUsize>,
    /// `/find` answers, to the reactor.
    answers: Sender<Found>,
    /// Whether messages may wait to be indexed (set by every commit with
    /// messages, and at start for what a crash left).
    index_behind: bool,
    /// [`Disk::history_indexed`] (shared).
    indexed: Arc<AtomicU64>,
}

impl Worker {
    fn run(mut self) {
        self.prune();
        loop {
            let first = match self.batch_since {
                Some(since) => self
                    .jobs
                    .recv_timeout((since + BATCH_WINDOW).saturating_duration_since(Instant::now())),
                // Idle with messages to index: one step, then look again.
                None if self.index_behind => match self.jobs.try_recv() {
                    Ok(job) => Ok(job),
                    Err(mpsc::TryRecvError::Empty) => {
                        self.index_step();
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                },
                None => self.jobs.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let open = match first {
                Ok(job) => {
                    self.handle(job);
                    self.drain()
                }
                Err(RecvTimeoutError::Timeout) => true,
                Err(RecvTimeoutError::Disconnected) => false,
            };
            self.flush_log();
            if !open || self.batch_due() {
                self.commit();
            }
            if !open {
                if let Some(store) = self.store.take() {
                    store.close();
                }
                return;
            }
        }
    }

    /// Takes whatever else is queued, up to a full or due batch. Returns
    /// `false` once the reactor has hung up.
    fn drain(&mut self) -> bool {
        loop {
            if self.batch_due() {
                return true;
            }
            match self.jobs.try_recv() {
                Ok(job) => self.handle(job),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn batch_due(&self) -> bool {
        self.batch.len() >= MAX_BATCH
            || self.history.len() >= MAX_HISTORY_BATCH
            || self
                .batch_since
                .is_some_and(|since| since.elapsed() >= BATCH_WINDOW)
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Log(line) => {
                self.queued.fetch_sub(line.len() + 1, Ordering::Relaxed);
                if let Some(log) = &mut self.log {
                    let result = log
                        .write_all(line.as_bytes())
                        .and_then(|()| log.write_all(b"\n"));
                    check("room log", &mut self.log_failed, result);
                }
            }
            Job::State(change) => {
                self.batch_since.get_or_insert_with(Instant::now);
                self.batch.push(change);
            }
            Job::History(records) => {
                let bytes: usize = records.iter().map(|r| r.text.len() + 32).sum();
                self.history_queued.fetch_sub(bytes, Ordering::Relaxed);
                self.batch_since.get_or_insert_with(Instant::now);
                self.history.extend(records);
            }
            Job::Find(id, words) => {
                // What was said before the question is in the answer.
                self.commit();
                let result = match &self.store {
                    Some(store) => store
                        .find_history(&words, FIND_LIMIT)
                        .map_err(|e| e.to_string()),
                    None => Err("no database".into()),
                };
                self.finds.fetch_sub(1, Ordering::Relaxed);
                if self.answers.send(Found { id, result }).is_ok() {
                    if let Some(wake) = self.wake.get() {
                        wake();
                    }
                }
            }
            Job::File(change) => {
                if let Some(store) = &mut self.store {
                    let result = store.apply_file(&change).map_err(io::Error::other);
                    check("database", &mut self.store_failed, result);
                }
            }
        }
    }

    /// Indexes up to [`INDEX_STEP`] messages; once none are left (or the
    /// database refuses), waits for the next commit with messages.
    fn index_step(&mut self) {
        let Some(store) = &mut self.store else {
            self.index_behind = false;
            return;
        };
        match store.index_history(INDEX_STEP) {
            Ok(n) => {
                self.index_behind = n == INDEX_STEP;
                check("database", &mut self.store_failed, Ok(()));
            }
            Err(e) => {
                // Retried after the next batch, not in a loop on a sick disk.
                self.index_behind = false;
                check("database", &mut self.store_failed, Err(io::Error::other(e)));
            }
        }
        if let Ok(id) = store.history_indexed() {
            self.indexed.store(id, Ordering::Relaxed);
        }
    }

    fn flush_log(&mut self) {
        if let Some(log) = &mut self.log {
            let result = log.flush();
            check("room log", &mut self.log_failed, result);
        }
    }

    /// Writes the batch in one transaction and acknowledges it.
    fn commit(&mut self) {
        self.batch_since = None;
        if self.batch.is_empty() && self.history.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let history = std::mem::take(&mut self.history);
        if let Some(store) = &mut self.store {
            let result = store
                .apply(&batch, &history, Timestamp::now())
                .map_err(io::Error::other);
            check("database", &mut self.store_failed, result);
        }
        self.index_behind |= !history.is_empty();
        if batch.is_empty() {
            self.maybe_prune();
            return;
        }
        let saved = batch.iter().map(StateChange::saved).collect();
        if self.acks.send(saved).is_ok() {
            if let Some(wake) = self.wake.get() {
                wake();
            }
        }
        self.maybe_prune();
    }

    fn maybe_prune(&mut self) {
        if self.pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            self.prune();
        }
    }

    /// Forgets messages delivered long ago.
    fn prune(&mut self) {
        self.pruned_at = Some(Instant::now());
        let Some(store) = &mut self.store else {
            return;
        };
        let keep = SignedDuration::try_from(db::DELIVERED_KEEP).unwrap_or(SignedDuration::ZERO);
        let before = Timestamp::now()
            .checked_sub(keep)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let result = store.prune(before).map(drop).map_err(io::Error::other);
        check("database", &mut self.store_failed, result);
        let keep = SignedDuration::try_from(self.history_keep).unwrap_or(SignedDuration::MAX);
        let before = Timestamp::now()
            .checked_sub(keep)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        match store.prune_history(before) {
            Ok(0) => {}
            Ok(n) => log::info!("history: {n} messages older than --history-keep forgotten"),
            Err(e) => check("database", &mut self.store_failed, Err(io::Error::other(e))),
        }
    }
}

/// Logs a failed write once, until writes work again.
fn check(what: &str, failed: &mut bool, result: io::Result<()>) {
    match result {
        Ok(()) => *failed = false,
        Err(e) if !*failed => {
            *failed = true;
            log::error!("{what}: write failed: {e}");
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::schedules::Scheduled;
    use std::fs;

    const KEEP: Duration = Duration::from_secs(30 * 86_400);

    fn message(id: u64) -> Scheduled {
        Scheduled {
            id,
            due: "2026-11-23T05:00:00Z".parse().expect("ts"),
            author: "Charlie".into(),
            text: "Meeting starts soon".into(),
            author_conn: Some((1, 2)),
        }
    }

    /// Waits for `n` acknowledgements.
    fn saved(disk: &mut Disk, n: usize) -> Vec<Saved> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut all = Vec::new();
        while all.len() < n {
            assert!(Instant::now() < deadline, "only {all:?} written");
            all.extend(disk.take_saved());
            std::thread::sleep(Duration::from_millis(5));
        }
        all
    }

    #[test]
    fn log_lines_and_changes_reach_the_disk_and_come_back_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("chat.log");
        let db = dir.path().join("suda.db");
        let store = Store::open(&db).expect("open");
        let mut disk = Disk::start(Some(&log), Some(store), KEEP).expect("start");
        let woken = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&woken);
        disk.on_saved(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        disk.log("first".into());
        disk.log("second".into());
        disk.persist(StateChange::Added(message(4)));
        disk.persist(StateChange::Added(message(5)));
        disk.persist(StateChange::Delivered(4));
        assert_eq!(
            saved(&mut disk, 3),
            [Saved::Added(4), Saved::Added(5), Saved::Delivered(4)]
        );
        assert!(woken.load(Ordering::Relaxed) >= 1);
        // Acknowledged means written: another look at the file sees it
        // once the thread lets go of it.
        disk.finish();
        assert_eq!(fs::read_to_string(&log).expect("log"), "first\nsecond\n");
        let pending = Store::open(&db)
            .expect("reopen")
            .pending()
            .expect("pending");
        assert_eq!(pending.next_id, 6);
        assert_eq!(
            pending.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            [5]
        );
    }

    #[test]
    fn a_flood_of_changes_is_written_in_few_transactions() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("suda.db")).expect("open");
        let mut disk = Disk::start(None, Some(store), KEEP).expect("start");
        let batches = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&batches);
        disk.on_saved(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let started = Instant::now();
        for id in 1..=3000 {
            disk.persist(StateChange::Added(message(id)));
            disk.persist(StateChange::Removed(id));
        }
        let all = saved(&mut disk, 6000);
        assert_eq!(all.len(), 6000);
        assert_eq!(all[5999], Saved::Removed(3000));
        // One commit per window or per full batch, not one per change.
        let commits = batches.load(Ordering::Relaxed);
        let windows = started.elapsed().as_millis() as usize / 50 + 1;
        assert!(
            commits <= windows + 6000 / MAX_BATCH + 1,
            "{commits} commits"
        );
    }

    #[test]
    fn history_is_written_and_found_on_the_disk_thread() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("suda.db");
        let mut disk =
            Disk::start(None, Some(Store::open(&db).expect("open")), KEEP).expect("start");
        assert!(disk.keeps_history());
        for (id, text) in [
            (1, "민수 >> 과제는 내일까지"),
            (2, "Bob >> ok"),
            (3, "[AI] 과제 링크"),
        ] {
            disk.record(Record {
                id,
                at: Timestamp::now(),
                text: text.into(),
            });
        }
        // Asked at once: the search first commits what was sent before it.
        assert!(disk.find(7, crate::history::grams::words("과제")));
        let deadline = Instant::now() + Duration::from_secs(10);
        let found = loop {
            if let Some(found) = disk.take_found().pop() {
                break found;
            }
            assert!(Instant::now() < deadline, "no answer");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(found.id, 7);
        let ids: Vec<u64> = found.result.expect("found").iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 3]);
        disk.finish();
        let store = Store::open(&db).expect("reopen");
        assert_eq!(store.recent_history(10).expect("recent").len(), 3);
    }

    fn found(disk: &mut Disk) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = disk.take_found().pop() {
                return found.result.expect("found").iter().map(|r| r.id).collect();
            }
            assert!(Instant::now() < deadline, "no answer");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait_indexed(disk: &Disk, id: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while disk.history_indexed() < id {
            assert!(
                Instant::now() < deadline,
                "indexed only to {}",
                disk.history_indexed()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn history_is_indexed_when_the_thread_is_idle_and_after_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("suda.db");
        // Written without the thread, as a crash before indexing leaves it.
        let mut store = Store::open(&db).expect("open");
        let records: Vec<Record> = (1..=2_500)
            .map(|id| Record {
                id,
                at: Timestamp::now(),
                text: format!("Alice >> message {id}"),
            })
            .collect();
        store.apply(&[], &records, Timestamp::now()).expect("apply");
        assert_eq!(store.history_indexed().expect("indexed"), 0);
        store.close();
        let mut disk =
            Disk::start(None, Some(Store::open(&db).expect("open")), KEEP).expect("start");
        // Indexed in the background after the start, in several steps.
        wait_indexed(&disk, 2_500);
        disk.record(Record {
            id: 2_501,
            at: Timestamp::now(),
            text: "Bob >> 과제는 내일까지".into(),
        });
        // Sent with the reactor's turn.
        disk.send_history();
        wait_indexed(&disk, 2_501);
        assert!(disk.find(1, crate::history::grams::words("과제")));
        assert_eq!(found(&mut disk), [2_501]);
        assert!(disk.find(2, crate::history::grams::words("message 1234")));
        assert_eq!(found(&mut disk), [1_234]);
        disk.finish();
        let store = Store::open(&db).expect("reopen");
        assert_eq!(store.history_indexed().expect("indexed"), 2_501);
    }

    #[test]
    fn without_a_database_there_is_no_history_on_disk() {
        let mut disk = Disk::start(None, None, KEEP).expect("start");
        assert!(!disk.keeps_history());
        assert!(!disk.find(1, vec!["x".into()]));
    }

    #[test]
    fn without_a_database_changes_come_back_at_once() {
        let mut disk = Disk::start(None, None, KEEP).expect("start");
        disk.persist(StateChange::Added(message(1)));
        disk.persist(StateChange::Removed(1));
        assert_eq!(disk.take_saved(), [Saved::Added(1), Saved::Removed(1)]);
        assert!(disk.take_saved().is_empty());
    }

    #[test]
    fn unwritable_log_is_refused_at_start() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("no/such/dir/chat.log");
        let err = Disk::start(Some(&missing), None, KEEP).expect_err("refused");
        assert!(format!("{err:#}").contains("cannot open log file"));
    }
}
