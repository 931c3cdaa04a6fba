//! `/send` and `/get` as they run: each transfer on a thread of its own
//! with its own connection ([`http`](super::http)), so chat goes on; the
//! thread reports progress and its end over a channel and wakes the
//! client's loop with a `mio::Waker`.
//!
//! A `/send` first asks the server for an upload link (`/upload`) on the
//! chat connection; the server answers each `/upload` in turn, so the
//! links are matched to the sends waiting for one in order. A send that
//! gets no link within [`LINK_WAIT`] (an older server that has no files)
//! is dropped with a notice.
//!
//! Over https the transfer trusts exactly the certificate the chat
//! connection was shown (the same pin); when chat is plain and the link is
//! https, the `--ca`, `--pin` and `known_servers` rules apply to the link's
//! host as they would to a chat connection there.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Waker;

use super::editor::char_width;
use super::files::{self, human, Offer, Offers, SendRequest};
use super::http::{Connection, Url};
use super::tls::Trust;
use crate::net::tls::fingerprint::Fingerprint;

/// How long a `/send` waits for the server's upload link.
pub const LINK_WAIT: Duration = Duration::from_secs(30);

/// Progress is reported (and the bar redrawn) at most this often.
const REPORT_EVERY: Duration = Duration::from_millis(200);

/// Tries of an upload the server is too busy for (`503`).
const BUSY_RETRIES: usize = 4;

/// The longest `Retry-After` obeyed, in seconds: a server asking for more
/// is asked again sooner.
const MAX_RETRY_AFTER: u64 = 30;

/// Bytes moved per read and write.
const CHUNK: usize = 64 * 1024;

/// Transfers running at once; more are refused with a notice (each is a
/// thread and a connection, and the server has its own limits).
pub const MAX_RUNNING: usize = 8;

/// What a transfer thread says.
#[derive(Debug)]
enum Report {
    /// `done` bytes moved so far (of `total`, once known).
    Progress {
        id: u64,
        done: u64,
        total: Option<u64>,
    },
    /// Over: the notice for the user, and whether it went well.
    Finished { id: u64, notice: String },
}

/// A transfer thread's end of the channel.
struct Reporter {
    /// The transfer.
    id: u64,
    /// To the loop.
    tx: Sender<Report>,
    /// Wakes the loop.
    waker: Arc<Waker>,
    /// When progress was last reported.
    last: Option<Instant>,
}

impl Reporter {
    /// Reports progress, at most every [`REPORT_EVERY`].
    fn progress(&mut self, done: u64, total: Option<u64>) {
        let now = Instant::now();
        let last = total == Some(done);
        if !last && self.last.is_some_and(|at| now < at + REPORT_EVERY) {
            return;
        }
        self.last = Some(now);
        self.send(Report::Progress {
            id: self.id,
            done,
            total,
        });
    }

    fn send(&self, report: Report) {
        // The loop is gone only when the client is exiting.
        if self.tx.send(report).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

/// A transfer under way, as the status row shows it.
#[derive(Debug)]
struct Running {
    /// Its number.
    id: u64,
    /// `↑ name` or `↓ name`.
    label: String,
    /// Bytes moved.
    done: u64,
    /// Bytes in all, once known.
    total: Option<u64>,
    /// When it started (for the speed).
    started: Instant,
    /// For a download, the link: the same file is not fetched twice at
    /// once (both would write the one part file).
    link: Option<String>,
}

/// A `/send` waiting for its upload link.
#[derive(Debug)]
struct Waiting {
    /// The file, opened at `/send` (so a file renamed meanwhile still goes).
    file: File,
    /// Its size then.
    size: u64,
    /// The name given to the server.
    name: String,
    /// Until when the link may come.
    until: Instant,
}

/// What a line from the server means for files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Not about files (or not ours): shown as it came.
    Other,
    /// Shown as this instead (not in plain mode).
    Instead(String),
    /// Our upload link: a notice of the client's instead (not in plain mode).
    Notice(String),
}

/// The transfers of a session, and the offers.
#[derive(Debug)]
pub struct Transfers {
    /// Reports from the threads.
    rx: Receiver<Report>,
    /// Cloned into each thread.
    tx: Sender<Report>,
    /// Wakes the loop for a report.
    waker: Arc<Waker>,
    /// Under way.
    running: Vec<Running>,
    /// Sends waiting for a link, in the order asked.
    waiting: VecDeque<Waiting>,
    /// Offers, for `/get n`.
    offers: Offers,
    /// The names of the last uploads that ended (a few), to tell a
    /// refusal of one of them from a refusal of a waiting send.
    sent: VecDeque<String>,
    /// `--download-dir`.
    dir: PathBuf,
    /// How transfers connect.
    link: Link,
    /// The number of the next transfer.
    next_id: u64,
}

impl Transfers {
    /// Transfers saving into `dir`; `pin`: the certificate the chat
    /// connection was shown, if it is TLS.
    pub fn new(
        waker: Arc<Waker>,
        dir: PathBuf,
        trust: Trust,
        pin: Option<Fingerprint>,
        timeout: Duration,
    ) -> Transfers {
        let (tx, rx) = mpsc::channel();
        let link = Link {
            chat_pin: pin.is_some(),
            trust: match pin {
                Some(pin) => Trust {
                    pin: Some(pin),
                    ..trust
                },
                None => trust,
            },
            timeout,
        };
        Transfers {
            rx,
            tx,
            waker,
            running: Vec::new(),
            waiting: VecDeque::new(),
            offers: Offers::default(),
            sent: VecDeque::new(),
            dir,
            link,
            next_id: 1,
        }
    }

    /// Whether a transfer runs or waits for its link.
    pub fn busy(&self) -> bool {
        !self.running.is_empty() || !self.waiting.is_empty()
    }

    /// How many are running or waiting.
    pub fn count(&self) -> usize {
        self.running.len() + self.waiting.len()
    }

    /// `/send <args>`: the `/upload` line to send, or why not.
    ///
    /// # Errors
    ///
    /// In words for the user: bad arguments, no such file, a folder.
    pub fn send(&mut self, args: &str) -> Result<String, String> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let SendRequest { path, to } = files::parse_send(args, Path::exists, home.as_deref())?;
        let shown = path.display();
        let meta = fs::metadata(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("{shown}: no such file."),
            _ => format!("{shown}: {e}."),
        })?;
        if meta.is_dir() {
            return Err(format!("{shown} is a folder; /send takes one file."));
        }
        if !meta.is_file() {
            return Err(format!("{shown} is not a regular file."));
        }
        if self.count() >= MAX_RUNNING {
            return Err(format!(
                "{MAX_RUNNING} transfers are already under way; wait for one to finish."
            ));
        }
        let name = files::upload_name(&path).ok_or_else(|| format!("{shown} has no file name."))?;
        let file = File::open(&path).map_err(|e| format!("{shown}: {e}."))?;
        self.waiting.push_back(Waiting {
            file,
            size: meta.len(),
            name: name.clone(),
            until: Instant::now() + LINK_WAIT,
        });
        Ok(match to {
            Some(nick) => format!("/upload @{nick} {name}"),
            None => format!("/upload {name}"),
        })
    }

    /// `/get [n]`: starts the download; the notice to show.
    ///
    /// # Errors
    ///
    /// In words for the user.
    pub fn get(&mut self, args: &str) -> Result<String, String> {
        let n = files::parse_get(args)?;
        let (n, offer) = self.offers.get(n)?;
        let offer = offer.clone();
        if self.count() >= MAX_RUNNING {
            return Err(format!(
                "{MAX_RUNNING} transfers are already under way; wait for one to finish."
            ));
        }
        if self
            .running
            .iter()
            .any(|r| r.link.as_ref() == Some(&offer.url))
        {
            return Err(format!("File {n} is being downloaded already."));
        }
        let url = Url::parse(&offer.url)?;
        let safe = files::safe_name(&offer.name);
        let label = format!("↓ {safe}");
        let job = Download {
            offer: offer.clone(),
            number: n,
            url,
            dir: self.dir.clone(),
            safe,
        };
        let notice = format!(
            "Downloading file {n}, {} ({}), into {}.",
            crate::text::sanitize(&offer.name),
            offer.size,
            self.dir.display()
        );
        let link = self.link.clone();
        self.spawn(label, Some(offer.url.clone()), move |reporter| {
            job.run(&link, reporter)
        })?;
        Ok(notice)
    }

    /// A line from the server: an offer is numbered; an upload link for a
    /// waiting send starts it; a refusal drops it.
    pub fn seen(&mut self, line: &str) -> Seen {
        if let Some(offer) = files::parse_offer(line) {
            let n = self.offers.add(offer);
            let offer = self.offers.get(Some(n)).map(|(_, o)| files::shown(o, n));
            return offer.map_or(Seen::Other, Seen::Instead);
        }
        if let Some(link) = files::upload_link(line) {
            let Some(waiting) = self.waiting.pop_front() else {
                // A hand-typed /upload: the curl line is for the user.
                return Seen::Other;
            };
            let notice = match Url::parse(link) {
                Ok(url) => self.start_upload(waiting, url),
                Err(why) => format!("Cannot send {}: {why}", waiting.name),
            };
            return Seen::Notice(notice);
        }
        if files::no_link(line) {
            self.waiting.pop_front();
            return Seen::Other;
        }
        if let Some(why) = files::refusal(line) {
            // About an upload under way (its 413 ends it), or else refused
            // before any byte went: then the next waiting send is the one.
            let sending = self.running.iter().any(|r| {
                r.label
                    .strip_prefix("↑ ")
                    .is_some_and(|name| why.starts_with(name))
            });
            // Its thread may have seen the 413 before this line came.
            let sent = self
                .sent
                .iter()
                .position(|name| why.starts_with(name.as_str()));
            if let Some(at) = sent {
                self.sent.remove(at);
            } else if !sending {
                self.waiting.pop_front();
            }
        }
        Seen::Other
    }

    /// Starts the PUT of a send whose link came; the notice.
    fn start_upload(&mut self, waiting: Waiting, url: Url) -> String {
        let label = format!("↑ {}", waiting.name);
        let notice = format!("Sending {} ({}).", waiting.name, human(waiting.size));
        let job = Upload {
            file: waiting.file,
            size: waiting.size,
            name: waiting.name.clone(),
            url,
        };
        let link = self.link.clone();
        match self.spawn(label, None, move |reporter| job.run(&link, reporter)) {
            Ok(()) => notice,
            Err(why) => format!("Cannot send {}: {why}", waiting.name),
        }
    }

    /// Runs `job` on a thread of its own.
    fn spawn(
        &mut self,
        label: String,
        link: Option<String>,
        job: impl FnOnce(&mut Reporter) -> String + Send + 'static,
    ) -> Result<(), String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut reporter = Reporter {
            id,
            tx: self.tx.clone(),
            waker: Arc::clone(&self.waker),
            last: None,
        };
        std::thread::Builder::new()
            .name(format!("transfer-{id}"))
            .spawn(move || {
                let notice = job(&mut reporter);
                reporter.send(Report::Finished { id, notice });
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        self.running.push(Running {
            id,
            label,
            done: 0,
            total: None,
            started: Instant::now(),
            link,
        });
        Ok(())
    }

    /// Takes the threads' reports: the notices of transfers that ended.
    pub fn drain(&mut self) -> Vec<String> {
        let mut notices = Vec::new();
        while let Ok(report) = self.rx.try_recv() {
            match report {
                Report::Progress { id, done, total } => {
                    if let Some(r) = self.running.iter_mut().find(|r| r.id == id) {
                        r.done = done;
                        r.total = total;
                    }
                }
                Report::Finished { id, notice } => {
                    if let Some(at) = self.running.iter().position(|r| r.id == id) {
                        let done = self.running.remove(at);
                        if let Some(name) = done.label.strip_prefix("↑ ") {
                            if self.sent.len() == MAX_RUNNING {
                                self.sent.pop_front();
                            }
                            self.sent.push_back(name.to_string());
                        }
                    }
                    notices.push(notice);
                }
            }
        }
        notices
    }

    /// When a waiting send runs out of time.
    pub fn deadline(&self) -> Option<Instant> {
        self.waiting.iter().map(|w| w.until).min()
    }

    /// Drops the sends whose link did not come; their notices.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut notices = Vec::new();
        self.waiting.retain(|w| {
            let keep = now < w.until;
            if !keep {
                notices.push(format!(
                    "The server gave no upload link for {} within {} s (does it take files?).",
                    w.name,
                    LINK_WAIT.as_secs()
                ));
            }
            keep
        });
        notices
    }

    /// The status row: each transfer with its progress, at most `columns`
    /// wide; `None` when nothing runs.
    pub fn status(&self, columns: usize) -> Option<String> {
        if self.running.is_empty() {
            return None;
        }
        let bar = self.running.len() == 1;
        let parts: Vec<String> = self.running.iter().map(|r| r.describe(bar)).collect();
        Some(fit(&parts.join("   "), columns.saturating_sub(1)))
    }
}

impl Running {
    /// `↑ a.pdf [######----] 60% 1.2 MiB of 2.0 MiB, 3.4 MiB/s`.
    fn describe(&self, bar: bool) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        let speed = if seconds > 0.5 {
            format!(", {}/s", human((self.done as f64 / seconds) as u64))
        } else {
            String::new()
        };
        match self.total {
            Some(total) if total > 0 => {
                let percent = (self.done.min(total) * 100 / total) as usize;
                let bar = if bar {
                    let full = percent / 5;
                    format!(" [{}{}]", "#".repeat(full), "-".repeat(20 - full))
                } else {
                    String::new()
                };
                format!(
                    "{}{bar} {percent}% {} of {}{speed}",
                    self.label,
                    human(self.done),
                    human(total)
                )
            }
            _ => format!("{} {}{speed}", self.label, human(self.done)),
        }
    }
}

/// `text` cut to `width` columns (Hangul takes two), with `…` if cut.
fn fit(text: &str, width: usize) -> String {
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        let w = char_width(c);
        if used + w + 1 > width {
            out.push('…');
            return out;
        }
        used += w;
        out.push(c);
    }
    out
}

/// How a transfer connects: whom it trusts and how long it waits.
#[derive(Debug, Clone)]
struct Link {
    /// Whom to trust over https.
    trust: Trust,
    /// `trust.pin` is the chat connection's certificate (not `--pin`).
    chat_pin: bool,
    /// `--transfer-timeout`: the connect, and every read and write.
    timeout: Duration,
}

impl Link {
    /// Connects to the server of `url`.
    fn open(&self, url: &Url) -> Result<Connection, String> {
        Connection::open(url, &self.trust, self.timeout).map_err(|why| {
            match why.strip_prefix("the server's certificate is ") {
                Some(rest) if self.chat_pin => {
                    let shown = rest.split(',').next().unwrap_or(rest);
                    format!(
                        "{} showed another certificate ({shown}) than the chat server, so it is not trusted.",
                        url.host
                    )
                }
                _ => why,
            }
        })
    }
}

/// One `/send`, after the link came.
struct Upload {
    /// The file, open.
    file: File,
    /// Its size when `/send` was typed.
    size: u64,
    /// Its name, as the server knows it.
    name: String,
    /// `<url>/u/<token>`.
    url: Url,
}

impl Upload {
    /// PUTs the file; the notice for the user.
    fn run(mut self, link: &Link, reporter: &mut Reporter) -> String {
        match self.put(link, reporter) {
            Ok(()) => format!("Sent {} ({}).", self.name, human(self.size)),
            Err(why) => format!("Upload of {} failed: {why}", self.name),
        }
    }

    /// PUTs the file, again after a `503` (the server's uploads are all
    /// busy: it says when to come back, and the link stays good).
    fn put(&mut self, link: &Link, reporter: &mut Reporter) -> Result<(), String> {
        for _ in 0..BUSY_RETRIES {
            match self.attempt(link, reporter)? {
                None => return Ok(()),
                Some(wait) => {
                    std::thread::sleep(wait);
                    self.file
                        .seek(io::SeekFrom::Start(0))
                        .map_err(|e| format!("cannot read the file: {e}."))?;
                    reporter.progress(0, Some(self.size));
                }
            }
        }
        Err("the server is busy with other uploads (HTTP 503); /send it again later.".into())
    }

    /// One try: `Some(wait)` if the server is busy and asks to come back.
    fn attempt(
        &mut self,
        link: &Link,
        reporter: &mut Reporter,
    ) -> Result<Option<Duration>, String> {
        let mut conn = link.open(&self.url)?;
        let extra = format!(
            "Content-Length: {}\r\nContent-Type: application/octet-stream\r\n",
            self.size
        );
        let mut sent = 0u64;
        // A server that refuses (413) may answer and close before the
        // body is through: the answer says more than the broken pipe.
        let mut broken = conn.send_head("PUT", &self.url, &extra).err();
        let mut buf = vec![0u8; CHUNK];
        while broken.is_none() && sent < self.size {
            let want = usize::try_from(self.size - sent)
                .unwrap_or(CHUNK)
                .min(CHUNK);
            let n = match self.file.read(&mut buf[..want]) {
                Ok(0) => return Err("the file got shorter while it was being sent.".into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot read the file: {e}.")),
            };
            if let Err(e) = conn.write_all(&buf[..n]) {
                broken = Some(e);
                break;
            }
            sent += n as u64;
            reporter.progress(sent, Some(self.size));
        }
        if broken.is_none() {
            broken = conn.flush().err();
        }
        let head = match (conn.read_head(), broken) {
            (Ok(head), _) => head,
            (Err(_), Some(e)) => return Err(format!("{}.", super::transport::describe(&e))),
            (Err(why), None) => return Err(format!("{why}.")),
        };
        match head.status {
            200..=299 => Ok(None),
            503 => {
                let wait = head
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(5)
                    .clamp(1, MAX_RETRY_AFTER);
                Ok(Some(Duration::from_secs(wait)))
            }
            413 => {
                let text = conn.error_text(&head);
                Err(format!(
                    "the server refused it as too large (HTTP 413){}",
                    with_detail(&text)
                ))
            }
            status => {
                let reason = head.reason.clone();
                let text = conn.error_text(&head);
                Err(format!("HTTP {status} {reason}{}", with_detail(&text)))
            }
        }
    }
}

/// `: <text>` or `.`.
fn with_detail(text: &str) -> String {
    if text.is_empty() {
        ".".into()
    } else {
        format!(": {text}")
    }
}

/// One `/get`.
struct Download {
    /// What was offered.
    offer: Offer,
    /// Its number, for messages.
    number: usize,
    /// The link.
    url: Url,
    /// `--download-dir`.
    dir: PathBuf,
    /// The name it is saved under (before ` (1)` etc.).
    safe: String,
}

impl Download {
    /// Downloads into a `.part` file, then renames it; the notice.
    fn run(self, link: &Link, reporter: &mut Reporter) -> String {
        let name = crate::text::sanitize(&self.offer.name).into_owned();
        match self.fetch(link, reporter) {
            Ok(path) => format!("Saved {name} as {}.", path.display()),
            Err(why) => format!("Download of file {} ({name}) failed: {why}", self.number),
        }
    }

    /// The partial file: hidden, named after the link's path too (`/f/<id>/`,
    /// not the host, which `--public-url` may change), so `/get` of the
    /// same file resumes it and another file of the same name never does.
    fn part_path(&self) -> PathBuf {
        let digest = ring::digest::digest(&ring::digest::SHA256, self.url.path.as_bytes());
        let tag: String = digest.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!(".{}.{tag}.part", self.safe))
    }

    fn fetch(&self, link: &Link, reporter: &mut Reporter) -> Result<PathBuf, String> {
        // The offer says how big it is: a server that sends more is cut off.
        let bound = files::size_bound(&self.offer.size).unwrap_or(u64::MAX);
        let part = self.part_path();
        let mut retried = false;
        loop {
            let have = fs::symlink_metadata(&part)
                .ok()
                .filter(fs::Metadata::is_file)
                .map_or(0, |m| m.len());
            let mut conn = link.open(&self.url)?;
            let range = if have > 0 {
                format!("Range: bytes={have}-\r\n")
            } else {
                String::new()
            };
            conn.send_head("GET", &self.url, &range)
                .and_then(|()| conn.flush())
                .map_err(|e| super::transport::describe(&e))?;
            let head = conn.read_head()?;
            let start = match head.status {
                200 => 0,
                206 if content_range_start(head.header("content-range")) == Some(have) => have,
                206 => return Err("the server resumed at the wrong place.".into()),
                // The part is whole or longer than the file: start again.
                416 if !retried => {
                    retried = true;
                    let _ = fs::remove_file(&part);
                    continue;
                }
                404 | 410 => {
                    return Err("the link has expired or is unknown (HTTP 404).".into());
                }
                status => {
                    let reason = head.reason.clone();
                    let text = conn.error_text(&head);
                    return Err(format!("HTTP {status} {reason}{}", with_detail(&text)));
                }
            };
            let total = head.content_length()?.map(|n| start + n);
            if total.is_some_and(|t| t > bound) {
                return Err(format!(
                    "the server sends more than the {} it offered.",
                    self.offer.size
                ));
            }
            // Never through a link someone planted in a shared folder.
            let mut out = OpenOptions::new()
                .custom_flags(libc::O_NOFOLLOW)
                .create(true)
                .write(true)
                .truncate(start == 0)
                .append(start > 0)
                .open(&part)
                .map_err(|e| format!("cannot write {}: {e}.", part.display()))?;
            let mut body = conn.body(&head)?;
            let mut done = start;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match body.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(format!(
                            "{}; /get {} again resumes it.",
                            super::transport::describe(&e),
                            self.number
                        ))
                    }
                };
                done += n as u64;
                if done > bound {
                    drop(out);
                    let _ = fs::remove_file(&part);
                    return Err(format!(
                        "the server sent more than the {} it offered.",
                        self.offer.size
                    ));
                }
                out.write_all(&buf[..n])
                    .map_err(|e| format!("cannot write {}: {e}.", part.display()))?;
                reporter.progress(done, total);
            }
            out.sync_all()
                .map_err(|e| format!("cannot write {}: {e}.", part.display()))?;
            return place(&part, &self.dir, &self.safe);
        }
    }
}

/// The first byte of `Content-Range: bytes <start>-<end>/<size>`.
fn content_range_start(value: Option<&str>) -> Option<u64> {
    let rest = value?.trim().strip_prefix("bytes ")?;
    rest.split_once('-')?.0.trim().parse().ok()
}

/// Gives the finished `part` its name in `dir`, never over an existing
/// file: a hard link fails if the name was taken meanwhile, and the next
/// free name is tried.
fn place(part: &Path, dir: &Path, name: &str) -> Result<PathBuf, String> {
    for _ in 0..100 {
        let target = files::free_path(dir, name);
        match fs::hard_link(part, &target) {
            Ok(()) => {
                let _ = fs::remove_file(part);
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            // A file system without hard links: a rename, after the check.
            Err(_) if !target.exists() => {
                return fs::rename(part, &target)
                    .map(|()| target)
                    .map_err(|e| format!("cannot name the file: {e}."));
            }
            Err(e) => return Err(format!("cannot name the file: {e}.")),
        }
    }
    Err("cannot find a free name for the file.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfers(dir: &Path) -> (mio::Poll, Transfers) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let t = Transfers::new(
            waker,
            dir.to_path_buf(),
            Trust::default(),
            None,
            Duration::from_secs(5),
        );
        (poll, t)
    }

    #[test]
    fn sends_wait_for_links_and_refusals_drop_them() {
        let dir = tempfile::tempdir().unwrap();
        let (_poll, mut t) = transfers(dir.path());
        let path = dir.path().join("a b.txt");
        fs::write(&path, "x").unwrap();
        let args = format!("'{}' 민수", path.display());
        assert_eq!(t.send(&args), Ok("/upload @민수 a b.txt".to_string()));
        assert_eq!(
            t.send(&format!("{}", path.display())),
            Ok("/upload a b.txt".into())
        );
        assert_eq!(t.count(), 2);
        // Someone else's refusal quoted in chat is no refusal.
        assert_eq!(t.seen("Eve >> [Server]: Upload refused: x"), Seen::Other);
        assert_eq!(t.count(), 2);
        t.seen("[Server]: No user named \"민수\".");
        assert_eq!(t.count(), 1);
        t.seen("[Server]: Bob has joined the chat.");
        assert_eq!(t.count(), 1);
        assert!(t.expire(Instant::now()).is_empty());
        let notices = t.expire(Instant::now() + LINK_WAIT);
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(!t.busy());
    }

    #[test]
    fn offers_are_shown_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let (_poll, mut t) = transfers(dir.path());
        let line = "[File from Bob] a.txt (1 B) http://h/f/1/a.txt";
        assert_eq!(
            t.seen(line),
            Seen::Instead("[File 1 from Bob] a.txt (1 B) — /get 1".into())
        );
        assert_eq!(
            t.seen(line),
            Seen::Instead("[File 2 from Bob] a.txt (1 B) — /get 2".into())
        );
        // An upload link nobody here asked for is the user's own /upload.
        let link = "[Server]: Upload within 10 minutes: curl -T 'a' http://h/u/t";
        assert_eq!(t.seen(link), Seen::Other);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range_start(Some("bytes 100-199/200")), Some(100));
        assert_eq!(content_range_start(Some("bytes */200")), None);
        assert_eq!(content_range_start(None), None);
    }

    #[test]
    fn placing_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join(".a.txt.1234.part");
        fs::write(dir.path().join("a.txt"), "old").unwrap();
        fs::write(&part, "new").unwrap();
        let placed = place(&part, dir.path(), "a.txt").unwrap();
        assert_eq!(placed, dir.path().join("a (1).txt"));
        assert_eq!(fs::read_to_string(dir.path().join("a.txt")).unwrap(), "old");
        assert_eq!(fs::read_to_string(placed).unwrap(), "new");
        assert!(!part.exists());
    }

    #[test]
    fn the_status_fits_the_row() {
        assert_eq!(fit("↑ 보고서.pdf", 8), "↑ 보고…");
        assert_eq!(fit("short", 80), "short");
    }
}
