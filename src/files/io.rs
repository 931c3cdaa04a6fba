//! The file-I/O thread: every disk access the file store makes, so the
//! reactor never waits on the disk. Upload bytes go in as they arrive
//! and each write is acknowledged (the reactor stops reading a socket
//! while too much of it is unacknowledged: back-pressure); downloads are
//! read in bounded chunks on request.
//!
//! An upload is written to `<files-dir>/<n>.part` and renamed to its id
//! when it is whole; a refused or unfinished one is deleted. Names people
//! chose never reach the file system.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

/// Work for the thread.
#[derive(Debug)]
pub enum Job {
    /// Start upload `upload`'s part file.
    Create(u64),
    /// Append to it.
    Write(u64, Vec<u8>),
    /// It is whole: make it file `id`.
    Commit(u64, String),
    /// Throw it away.
    Abort(u64),
    /// Read up to `len` bytes of file `id` from `offset`, for download `download`.
    Read {
        /// The download asking.
        download: u64,
        /// The file.
        id: String,
        /// From here.
        offset: u64,
        /// At most this much.
        len: usize,
    },
    /// Delete file `id` (expired).
    Delete(String),
}

/// What the thread did.
#[derive(Debug)]
pub enum Done {
    /// `n` bytes of upload `upload` written (`ok`: so far without error).
    Written {
        /// The upload.
        upload: u64,
        /// Bytes of that write.
        n: usize,
        /// No write of it has failed.
        ok: bool,
    },
    /// Upload `upload` is (`true`) or is not file `id` now.
    Committed(u64, bool),
    /// Bytes for download `download` (empty: the file ended or is gone).
    Chunk(u64, io::Result<Vec<u8>>),
}

/// The reactor's handle.
#[derive(Debug)]
pub struct FileIo {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl FileIo {
    /// Starts the thread over `dir`; `wake` tells the reactor something is done.
    ///
    /// # Errors
    ///
    /// The thread cannot be started.
    pub fn start(dir: PathBuf, wake: impl Fn() + Send + 'static) -> io::Result<FileIo> {
        let (jobs, rx) = mpsc::channel();
        let (tx, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("suda-files".into())
            .spawn(move || run(&dir, &rx, &tx, &wake))?;
        Ok(FileIo {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }

    /// Queues a job (dropped if the thread is gone: the transfer then
    /// stalls and times out, which the client sees as an error).
    pub fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            if jobs.send(job).is_err() {
                log::error!("the file thread has stopped");
            }
        }
    }

    /// What is done, if anything.
    pub fn try_done(&self) -> Option<Done> {
        self.done.try_recv().ok()
    }
}

impl Drop for FileIo {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The part file of upload `n`.
pub fn part_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n}.part"))
}

fn run(dir: &Path, jobs: &Receiver<Job>, done: &Sender<Done>, wake: &dyn Fn()) {
    let mut open: HashMap<u64, (File, bool)> = HashMap::new();
    while let Ok(job) = jobs.recv() {
        let answer = match job {
            Job::Create(n) => {
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(part_path(dir, n));
                match file {
                    Ok(f) => {
                        open.insert(n, (f, true));
                    }
                    Err(e) => log::warn!("cannot start an upload in {}: {e}", dir.display()),
                }
                None
            }
            Job::Write(n, bytes) => {
                let ok = match open.get_mut(&n) {
                    Some((file, ok)) => {
                        if *ok {
                            if let Err(e) = file.write_all(&bytes) {
                                log::warn!("cannot write an upload: {e}");
                                *ok = false;
                            }
                        }
                        *ok
                    }
                    None => false,
                };
                Some(Done::Written {
                    upload: n,
                    n: bytes.len(),
                    ok,
                })
            }
            Job::Commit(n, id) => {
                let ok = match open.remove(&n) {
                    Some((file, true)) => {
                        let synced = file.sync_all();
                        drop(file);
                        synced
                            .and_then(|()| fs::rename(part_path(dir, n), dir.join(&id)))
                            .map_err(|e| log::warn!("cannot keep an upload: {e}"))
                            .is_ok()
                    }
                    _ => false,
                };
                if !ok {
                    let _ = fs::remove_file(part_path(dir, n));
                }
                Some(Done::Committed(n, ok))
            }
            Job::Abort(n) => {
                open.remove(&n);
                let _ = fs::remove_file(part_path(dir, n));
                None
            }
            Job::Read {
                download,
                id,
                offset,
                len,
            } => Some(Done::Chunk(download, read_at(&dir.join(id), offset, len))),
            Job::Delete(id) => {
                if let Err(e) = fs::remove_file(dir.join(&id)) {
                    if e.kind() != io::ErrorKind::NotFound {
                        log::warn!("cannot delete an expired file: {e}");
                    }
                }
                None
            }
        };
        if let Some(answer) = answer {
            if done.send(answer).is_err() {
                return;
            }
            wake();
        }
    }
    for n in open.into_keys() {
        let _ = fs::remove_file(part_path(dir, n));
    }
}

fn read_at(path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}
