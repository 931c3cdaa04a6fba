//! The room log and the state file, written by a thread of their own.
//!
//! A disk can stall (a full journal, a slow network volume); the reactor
//! must not. It hands log lines and changes to the pending scheduled
//! messages to this thread over a channel and goes on. The thread keeps a
//! copy of the pending messages and rewrites the state file (atomically:
//! temporary file, then rename) at most once per [`STATE_SAVE_INTERVAL`],
//! and once more when the server stops.
//!
//! If the disk falls far behind, log lines are dropped (and counted) rather
//! than piling up in memory: [`MAX_QUEUED_LOG_BYTES`]. Changes to the state
//! are never dropped; they are bounded by the scheduled-message limits.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::room::schedules::{SavedState, Scheduled};
use crate::room::StateChange;

/// Rewrite the state file at most this often while messages come and go.
pub const STATE_SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// Log bytes waiting for the disk before new lines are dropped.
pub const MAX_QUEUED_LOG_BYTES: usize = 16 << 20;

/// Current version of the state file format.
const STATE_VERSION: u32 = 1;

/// Work for the disk thread.
#[derive(Debug)]
enum Job {
    /// One log line, without newline.
    Log(String),
    /// A scheduled message came or went.
    State(StateChange),
}

/// The reactor's handle on the disk thread.
#[derive(Debug)]
pub struct Disk {
    /// Jobs for the thread; `None` once finished.
    jobs: Option<Sender<Job>>,
    /// The thread, joined by [`Disk::finish`].
    thread: Option<JoinHandle<()>>,
    /// Log bytes sent and not yet written.
    queued: Arc<AtomicUsize>,
    /// Whether there is a log at all.
    logging: bool,
    /// Whether there is a state file at all (if not, the thread keeps no
    /// copy of the pending messages).
    saving: bool,
    /// Log lines dropped because the disk was too slow.
    dropped: u64,
}

/// Reads the state file. A missing file is an empty state.
///
/// # Errors
///
/// The file exists but cannot be read or is not a suda state file.
pub fn load_state(path: &Path) -> anyhow::Result<SavedState> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(SavedState::default()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read state file {}", path.display()))
        }
    };
    serde_json::from_str(&text).with_context(|| {
        format!(
            "state file {} is not valid (move it away to start afresh)",
            path.display()
        )
    })
}

/// Writes the state file atomically.
fn save_state(path: &Path, state: &SavedState) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = BufWriter::new(File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut file, state)?;
        file.write_all(b"\n")?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    fs::rename(&tmp, path)
}

impl Disk {
    /// Opens the log and checks that the state file can be written, then
    /// starts the thread. `state` is what the room starts with.
    ///
    /// # Errors
    ///
    /// The log cannot be opened or the state file cannot be written: the
    /// operator must know before anyone joins.
    pub fn start(
        log_file: Option<&Path>,
        state_file: Option<&Path>,
        state: &SavedState,
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
        if let Some(path) = state_file {
            save_state(path, state)
                .with_context(|| format!("cannot write state file {}", path.display()))?;
        }
        let logging = log.is_some();
        let saving = state_file.is_some();
        let queued = Arc::new(AtomicUsize::new(0));
        let (jobs, receiver) = mpsc::channel();
        let worker = Worker {
            jobs: receiver,
            log,
            state_file: state_file.map(Path::to_path_buf),
            pending: state.messages.iter().map(|m| (m.id, m.clone())).collect(),
            next_id: state.next_id,
            queued: Arc::clone(&queued),
            dirty: false,
            saved_at: Instant::now(),
            failed: false,
        };
        let thread = std::thread::Builder::new()
            .name("suda-disk".into())
            .spawn(move || worker.run())
            .context("cannot start the disk thread")?;
        Ok(Disk {
            jobs: Some(jobs),
            thread: Some(thread),
            queued,
            logging,
            saving,
            dropped: 0,
        })
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

    /// Queues a change to the pending scheduled messages.
    pub fn persist(&mut self, change: StateChange) {
        if self.saving {
            self.send(Job::State(change));
        }
    }

    fn send(&mut self, job: Job) {
        if let Some(jobs) = &self.jobs {
            if jobs.send(job).is_err() {
                log::error!("the disk thread has stopped; log and state are no longer written");
                self.jobs = None;
            }
        }
    }

    /// Writes what is queued, saves the state and stops the thread.
    pub fn finish(&mut self) {
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
    /// Where the pending messages are saved.
    state_file: Option<PathBuf>,
    /// A copy of the room's pending messages.
    pending: BTreeMap<u64, Scheduled>,
    /// The next message id, saved so ids are not reused.
    next_id: u64,
    /// Log bytes queued by the reactor (shared).
    queued: Arc<AtomicUsize>,
    /// `pending` changed since the last save.
    dirty: bool,
    /// When the state was last saved.
    saved_at: Instant,
    /// A write failed: warn once, not on every line.
    failed: bool,
}

impl Worker {
    fn run(mut self) {
        loop {
            let first = if self.dirty {
                let wait =
                    (self.saved_at + STATE_SAVE_INTERVAL).saturating_duration_since(Instant::now());
                self.jobs.recv_timeout(wait)
            } else {
                self.jobs.recv().map_err(|_| RecvTimeoutError::Disconnected)
            };
            let open = match first {
                Ok(job) => {
                    self.handle(job);
                    // Take whatever else is queued before touching the disk.
                    loop {
                        match self.jobs.try_recv() {
                            Ok(job) => self.handle(job),
                            Err(mpsc::TryRecvError::Empty) => break true,
                            Err(mpsc::TryRecvError::Disconnected) => break false,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => true,
                Err(RecvTimeoutError::Disconnected) => false,
            };
            self.flush_log();
            if self.dirty && (!open || self.saved_at.elapsed() >= STATE_SAVE_INTERVAL) {
                self.save();
            }
            if !open {
                return;
            }
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Log(line) => {
                self.queued.fetch_sub(line.len() + 1, Ordering::Relaxed);
                if let Some(log) = &mut self.log {
                    let result = log
                        .write_all(line.as_bytes())
                        .and_then(|()| log.write_all(b"\n"));
                    self.check("room log", result);
                }
            }
            Job::State(StateChange::Added(message)) => {
                self.next_id = self.next_id.max(message.id + 1);
                self.pending.insert(message.id, message);
                self.dirty = true;
            }
            // The state file keeps pending messages only.
            Job::State(StateChange::Removed(id) | StateChange::Delivered(id)) => {
                self.pending.remove(&id);
                self.dirty = true;
            }
        }
    }

    fn flush_log(&mut self) {
        if let Some(log) = &mut self.log {
            let result = log.flush();
            self.check("room log", result);
        }
    }

    fn save(&mut self) {
        self.dirty = false;
        self.saved_at = Instant::now();
        let Some(path) = &self.state_file else {
            return;
        };
        let state = SavedState {
            version: STATE_VERSION,
            next_id: self.next_id,
            messages: self.pending.values().cloned().collect(),
        };
        let result = save_state(path, &state);
        self.check("state file", result);
    }

    fn check(&mut self, what: &str, result: io::Result<()>) {
        match result {
            Ok(()) => self.failed = false,
            Err(e) if !self.failed => {
                self.failed = true;
                log::error!("{what}: write failed: {e}");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("suda-disk-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn log_lines_and_state_reach_the_disk() {
        let dir = temp_dir("write");
        let log = dir.join("chat.log");
        let state = dir.join("state.json");
        let mut disk =
            Disk::start(Some(&log), Some(&state), &SavedState::default()).expect("start");
        disk.log("first".into());
        disk.log("second".into());
        let message = Scheduled {
            id: 4,
            due: "2026-11-23T05:00:00Z".parse().expect("ts"),
            author: "Charlie".into(),
            text: "Meeting starts soon".into(),
            author_conn: Some((1, 2)),
        };
        disk.persist(StateChange::Added(message.clone()));
        disk.finish();
        assert_eq!(fs::read_to_string(&log).expect("log"), "first\nsecond\n");
        let saved = load_state(&state).expect("state");
        assert_eq!(saved.next_id, 5);
        assert_eq!(saved.messages.len(), 1);
        assert_eq!(saved.messages[0].text, message.text);
        assert_eq!(saved.messages[0].author_conn, None);
    }

    #[test]
    fn broken_state_file_is_an_error_and_a_missing_one_is_not() {
        let dir = temp_dir("broken");
        let path = dir.join("state.json");
        assert!(load_state(&path)
            .expect("missing is fine")
            .messages
            .is_empty());
        fs::write(&path, "{not json").expect("write");
        let err = load_state(&path).expect_err("broken");
        assert!(format!("{err:#}").contains("not valid"));
    }

    #[test]
    fn unwritable_log_is_refused_at_start() {
        let dir = temp_dir("unwritable");
        let missing = dir.join("no/such/dir/chat.log");
        let err = Disk::start(Some(&missing), None, &SavedState::default()).expect_err("refused");
        assert!(format!("{err:#}").contains("cannot open log file"));
    }
}
