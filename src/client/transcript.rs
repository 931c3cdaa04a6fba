//! The personal transcript: `<nick>_chat_log.txt`, one timestamped line
//! for each line shown and each message sent.
//!
//! The file is named after the nickname the server accepted, which is not
//! known until the `Welcome, <nick>!` line: the lines before it (the
//! server's welcome, the nickname questions) wait in memory and open the
//! file. After a `/rename` the transcript goes on in the new nickname's
//! file; the rename line is written to both, so each file says where the
//! conversation went or came from. Files are opened for appending: a
//! second session under the same nickname adds to the first.
//!
//! The file is UTF-8 whatever the terminal speaks. A line that already
//! carries the server's `[YYYY-MM-DD HH:MM] ` (`suda serve --timestamps`)
//! is written as it is; every other line gets the local date and time.
//!
//! A flooding server must not fill the disk: once the next line would
//! take the file past `--log-max`, it is renamed to `<nick>_chat_log.txt.1`
//! (replacing an older one) and a fresh file starts. That keeps the most
//! recent history, in two files of at most `--log-max` each (a single
//! line longer than that gets a file of its own).
//!
//! The transcript's folder may be shared (`--log-dir /tmp`), so the file
//! is never opened through a symbolic link, nor if it is anything but a
//! regular file (a FIFO planted there would block the client): such a
//! transcript stops with one notice, and the chat goes on.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::server_line::strip_stamp;
use crate::text::valid_nick;

/// Lines kept before the nickname is known: the welcome and a few
/// nickname attempts fit easily; a server that talks on and on before
/// accepting anyone only loses the oldest of them.
const EARLY_LINES: usize = 64;

/// Where the transcript goes.
#[derive(Debug)]
pub struct Transcript {
    /// The folder (`--log-dir`); `None` when there is no transcript
    /// (`--no-log`, or writing failed once).
    dir: Option<PathBuf>,
    /// `--log-max`: past this many bytes the file is rotated.
    max_bytes: u64,
    /// The open file, once the nickname is known.
    file: Option<Log>,
    /// Timestamped lines waiting for the file to be named.
    early: Vec<String>,
}

/// One open transcript file.
#[derive(Debug)]
struct Log {
    /// Where it is, to rotate it.
    path: PathBuf,
    /// Appends, flushed once per turn of the client's loop.
    out: BufWriter<File>,
    /// Its length so far, including what `out` still holds.
    bytes: u64,
}

impl Transcript {
    /// A transcript in `dir` (or none) whose files hold at most
    /// `max_bytes` each.
    pub fn new(dir: Option<PathBuf>, max_bytes: u64) -> Transcript {
        Transcript {
            dir,
            max_bytes,
            file: None,
            early: Vec::new(),
        }
    }

    /// The file for `nick` in `dir`.
    pub fn path(dir: &Path, nick: &str) -> PathBuf {
        dir.join(format!("{nick}_chat_log.txt"))
    }

    /// Where the file at `path` goes when it is full: `path` + `.1`.
    pub fn rotated(path: &Path) -> PathBuf {
        let mut name = OsString::from(path.as_os_str());
        name.push(".1");
        PathBuf::from(name)
    }

    /// Appends one line, stamped with the local date and time unless the
    /// server already stamped it.
    ///
    /// # Errors
    ///
    /// The file cannot be written or rotated; the caller should
    /// [`Transcript::stop`].
    pub fn record(&mut self, line: &str) -> io::Result<()> {
        if self.dir.is_none() {
            return Ok(());
        }
        let stamped = if strip_stamp(line).len() < line.len() {
            format!("{line}\n")
        } else {
            format!("[{}] {line}\n", super::local_time("%Y-%m-%d %H:%M:%S"))
        };
        match &mut self.file {
            Some(log) => log.append(&stamped, self.max_bytes),
            None => {
                if self.early.len() == EARLY_LINES {
                    self.early.remove(0);
                }
                self.early.push(stamped);
                Ok(())
            }
        }
    }

    /// Goes on in `<nick>_chat_log.txt` (after the welcome or a rename).
    ///
    /// A nickname that could not name a file (the server should never
    /// accept one; a fake server might send `../x`) leaves the transcript
    /// where it was.
    ///
    /// # Errors
    ///
    /// The file cannot be opened or written, or is a symbolic link or
    /// not a regular file.
    pub fn open(&mut self, nick: &str) -> io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        if !valid_nick(nick) {
            return Ok(());
        }
        let path = Transcript::path(dir, nick);
        if let Some(mut old) = self.file.take() {
            old.out.flush()?;
        }
        let mut log = Log::open(path)?;
        for line in self.early.drain(..) {
            log.append(&line, self.max_bytes)?;
        }
        self.file = Some(log);
        Ok(())
    }

    /// Writes out what is buffered (once per turn of the client's loop,
    /// so a crash loses little and the disk sees one write per burst).
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(log) => log.out.flush(),
            None => Ok(()),
        }
    }

    /// Keeps no transcript from now on (after a write error: the chat
    /// matters more than its record).
    pub fn stop(&mut self) {
        self.dir = None;
        self.early.clear();
        if let Some(mut log) = self.file.take() {
            // Whatever still fits is kept; the error was already reported.
            let _ = log.out.flush();
        }
    }
}

impl Log {
    /// Opens `path` for appending, refusing anything but a regular file
    /// reached without a symbolic link.
    fn open(path: PathBuf) -> io::Result<Log> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            // O_NOFOLLOW: a link planted at the name must not let someone
            // else choose the file we write. O_NONBLOCK: a FIFO there
            // fails at once instead of blocking until it has a reader; on
            // a regular file it changes nothing.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| refusal(&path).unwrap_or(e))?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(refusal(&path).unwrap_or_else(|| {
                io::Error::other(format!("{} is not a regular file", path.display()))
            }));
        }
        Ok(Log {
            path,
            out: BufWriter::new(file),
            bytes: meta.len(),
        })
    }

    /// Appends `text`, rotating first if it would take the file past
    /// `max_bytes` (an empty file takes even a longer line).
    fn append(&mut self, text: &str, max_bytes: u64) -> io::Result<()> {
        let len = u64::try_from(text.len()).unwrap_or(u64::MAX);
        if self.bytes > 0 && self.bytes.saturating_add(len) > max_bytes {
            self.rotate()?;
        }
        self.out.write_all(text.as_bytes())?;
        self.bytes = self.bytes.saturating_add(len);
        Ok(())
    }

    /// Moves the full file to `.1` and starts an empty one.
    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        // rename(2) moves a link planted at `.1` aside rather than
        // writing through it.
        std::fs::rename(&self.path, Transcript::rotated(&self.path))?;
        *self = Log::open(std::mem::take(&mut self.path))?;
        Ok(())
    }
}

/// Why `path` is no place for a transcript, in words, if it is a link or
/// not a regular file (the bare errors, ELOOP and ENXIO, say neither).
fn refusal(path: &Path) -> Option<io::Error> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let why = if meta.file_type().is_symlink() {
        "is a symbolic link, which the transcript does not follow"
    } else if !meta.is_file() {
        "is not a regular file"
    } else {
        return None;
    };
    Some(io::Error::other(format!("{} {why}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cap no test reaches unless it means to.
    const MAX: u64 = 1 << 20;

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .expect("transcript")
            .lines()
            // "[YYYY-MM-DD HH:MM:SS] " is 22 bytes.
            .map(|line| line[22..].to_string())
            .collect()
    }

    #[test]
    fn early_lines_wait_for_the_nickname_and_renames_switch_files() {
        let dir = tempfile::tempdir().expect("dir");
        let mut transcript = Transcript::new(Some(dir.path().to_path_buf()), MAX);
        transcript
            .record("[Server]: Enter your nickname:")
            .expect("record");
        transcript
            .record("[Server]: Welcome, 민수! Type /help for commands.")
            .expect("record");
        transcript.open("민수").expect("open");
        transcript.record("Bob >> hi").expect("record");
        let renamed = "[Server]: Your nickname is now \"Minsu\".";
        transcript.record(renamed).expect("record");
        transcript.open("Minsu").expect("open");
        transcript.record(renamed).expect("record");
        transcript.record("Bob >> welcome back").expect("record");
        transcript.flush().expect("flush");
        assert_eq!(
            lines(&dir.path().join("민수_chat_log.txt")),
            [
                "[Server]: Enter your nickname:",
                "[Server]: Welcome, 민수! Type /help for commands.",
                "Bob >> hi",
                renamed,
            ]
        );
        assert_eq!(
            lines(&dir.path().join("Minsu_chat_log.txt")),
            [renamed, "Bob >> welcome back"]
        );
        let stamp = std::fs::read_to_string(dir.path().join("Minsu_chat_log.txt")).expect("read");
        assert!(stamp.starts_with("[20") && stamp.as_bytes()[21] == b' ');
    }

    #[test]
    fn a_nickname_that_is_not_a_file_name_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let mut transcript = Transcript::new(Some(dir.path().join("sub")), MAX);
        transcript.open("../escape").expect("ignored");
        transcript.record("x").expect("record");
        assert!(!dir.path().join("escape_chat_log.txt").exists());
    }

    #[test]
    fn a_line_the_server_stamped_keeps_its_one_stamp() {
        let dir = tempfile::tempdir().expect("dir");
        let mut transcript = Transcript::new(Some(dir.path().to_path_buf()), MAX);
        transcript.open("Bob").expect("open");
        transcript
            .record("[2026-12-02 02:04] Other >> hi")
            .expect("record");
        transcript.record("Bob >> hello").expect("record");
        transcript.flush().expect("flush");
        let text = std::fs::read_to_string(dir.path().join("Bob_chat_log.txt")).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[2026-12-02 02:04] Other >> hi");
        assert!(lines[1].starts_with("[20") && lines[1].ends_with("] Bob >> hello"));
        assert_eq!(lines[1].len(), 22 + "Bob >> hello".len());
    }

    #[test]
    fn a_full_file_moves_to_dot_1_and_the_newest_lines_stay() {
        let dir = tempfile::tempdir().expect("dir");
        let max = 1000;
        let mut transcript = Transcript::new(Some(dir.path().to_path_buf()), max);
        transcript.open("Bob").expect("open");
        for n in 0..100 {
            // 50 bytes with the line end: 20 lines fill a file.
            let line = format!("[2026-12-02 02:04] Alice >> line {n:03} {}", "x".repeat(12));
            transcript.record(&line).expect("record");
            transcript.flush().expect("flush");
        }
        let path = dir.path().join("Bob_chat_log.txt");
        let current = std::fs::read_to_string(&path).expect("read");
        let older = std::fs::read_to_string(Transcript::rotated(&path)).expect("read .1");
        for text in [&current, &older] {
            assert!(text.len() as u64 <= max, "{} bytes", text.len());
        }
        assert!(current.ends_with(&format!("line 099 {}\n", "x".repeat(12))));
        // The two files are the last lines, in order, with none lost between.
        let numbers: Vec<u32> = older
            .lines()
            .chain(current.lines())
            .map(|line| line[33..36].parse().expect("number"))
            .collect();
        assert_eq!(
            numbers,
            (100 - numbers.len() as u32..100).collect::<Vec<_>>()
        );
        assert_eq!(numbers.len(), 40);
    }

    #[test]
    fn a_file_too_big_already_is_rotated_at_the_first_line() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("Bob_chat_log.txt");
        std::fs::write(&path, "x".repeat(2000)).expect("write");
        let mut transcript = Transcript::new(Some(dir.path().to_path_buf()), 1000);
        transcript.record("[Server]: Welcome").expect("record");
        transcript.open("Bob").expect("open");
        transcript.flush().expect("flush");
        assert_eq!(
            std::fs::metadata(Transcript::rotated(&path))
                .expect(".1")
                .len(),
            2000
        );
        let current = std::fs::read_to_string(&path).expect("read");
        assert!(current.ends_with("] [Server]: Welcome\n"), "{current}");
    }

    #[test]
    fn a_symbolic_link_or_a_fifo_at_the_name_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "mine\n").expect("write");
        std::os::unix::fs::symlink(&target, dir.path().join("Bob_chat_log.txt")).expect("link");
        let mut transcript = Transcript::new(Some(dir.path().to_path_buf()), MAX);
        transcript.record("[Server]: Welcome").expect("record");
        let err = transcript.open("Bob").expect_err("a link");
        assert!(
            err.to_string().ends_with(
                "Bob_chat_log.txt is a symbolic link, which the transcript does not follow"
            ),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "mine\n");

        let fifo = Transcript::path(dir.path(), "Carol");
        // The crate forbids unsafe code, so not libc::mkfifo.
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let err = transcript.open("Carol").expect_err("a FIFO");
        assert!(
            err.to_string()
                .ends_with("Carol_chat_log.txt is not a regular file"),
            "{err}"
        );
    }
}
