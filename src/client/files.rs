//! Files in `suda connect`: what `/send` and `/get` mean, the server's
//! file lines, and the names files are saved under.
//!
//! The server's lines (the contract's "Files"):
//! - `[Server]: Upload within 10 minutes: curl -T '<name>' <url>/u/<token>`,
//!   the answer to our `/upload`: the client PUTs the file there itself
//!   ([`transfer`](super::transfer)).
//! - `[Server]: Upload refused: ...`: said plainly, the send is dropped.
//! - `[File from <nick>] <name> (<size>) <url>/f/<id>/<name>`: an offer,
//!   numbered in the order it came (1, 2, ...), shown as
//!   `[File 2 from nick] report.pdf (1.2 MiB) — /get 2`.
//!
//! A saved file's name comes from the offer, which anyone who can upload
//! chooses: [`safe_name`] keeps it a plain name inside `--download-dir`
//! ([`free_path`]: never over an existing file).

use std::path::{Path, PathBuf};

use super::server_line::{strip_stamp, SERVER};
use crate::text::valid_nick;

/// Offers remembered for `/get n`; older ones are forgotten (their number
/// then says so).
pub const MAX_OFFERS: usize = 1000;

/// The longest file name saved, in bytes (most file systems take 255).
const MAX_NAME_BYTES: usize = 200;

/// A file someone shared with us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Who shared it.
    pub from: String,
    /// Its name as the server gave it (not yet made safe).
    pub name: String,
    /// Its size as the server wrote it (`1.2 MiB`).
    pub size: String,
    /// Where to download it.
    pub url: String,
}

/// `[File from <nick>] <name> (<size>) <url>`.
///
/// ```
/// use suda::client::files::parse_offer;
/// let offer = parse_offer("[File from 민수] 과제 (최종).hwp (1.2 MiB) http://10.0.0.5:9999/f/abc/x.hwp")
///     .unwrap();
/// assert_eq!((offer.from.as_str(), offer.name.as_str()), ("민수", "과제 (최종).hwp"));
/// assert_eq!((offer.size.as_str(), offer.url.as_str()), ("1.2 MiB", "http://10.0.0.5:9999/f/abc/x.hwp"));
/// assert_eq!(parse_offer("Bob >> [File from Eve] a (1 B) http://h/f/1/a"), None);
/// ```
pub fn parse_offer(line: &str) -> Option<Offer> {
    let rest = strip_stamp(line).strip_prefix("[File from ")?;
    let (from, rest) = rest.split_once("] ")?;
    if !valid_nick(from) {
        return None;
    }
    // `<name> (<size>) <url>`; the name may hold `) http` itself, and a
    // server may leave a space unencoded in the link: the last `(<size>)
    // http` that reads as such is the one.
    let mut end = rest.len();
    while let Some(at) = rest[..end].rfind(") http") {
        end = at;
        let url = &rest[at + 2..];
        if !(url.starts_with("http://") || url.starts_with("https://")) || !url.contains("/f/") {
            continue;
        }
        let Some((name, size)) = rest[..at].rsplit_once(" (") else {
            continue;
        };
        if name.is_empty() || size_bound(size).is_none() {
            continue;
        }
        return Some(Offer {
            from: from.to_string(),
            name: name.to_string(),
            size: size.to_string(),
            url: url.to_string(),
        });
    }
    None
}

/// How an offer is shown (not in plain mode, whose lines stay as sent).
///
/// ```
/// use suda::client::files::{parse_offer, shown};
/// let offer = parse_offer("[File from Bob] a b.txt (830 B) http://h/f/1/a%20b.txt").unwrap();
/// assert_eq!(shown(&offer, 2), "[File 2 from Bob] a b.txt (830 B) — /get 2");
/// ```
pub fn shown(offer: &Offer, number: usize) -> String {
    format!(
        "[File {number} from {}] {} ({}) — /get {number}",
        offer.from,
        crate::text::sanitize(&offer.name),
        offer.size
    )
}

/// The upload link in the answer to `/upload`.
///
/// ```
/// use suda::client::files::upload_link;
/// assert_eq!(
///     upload_link("[Server]: Upload within 10 minutes: curl -T 'my file.txt' http://h:1/u/tok"),
///     Some("http://h:1/u/tok")
/// );
/// assert_eq!(upload_link("Eve >> [Server]: Upload within 1 minute: curl -T x http://e/u/t"), None);
/// ```
pub fn upload_link(line: &str) -> Option<&str> {
    let rest = strip_stamp(line)
        .strip_prefix(SERVER)?
        .strip_prefix("Upload within ")?;
    let (_, command) = rest.split_once(": curl -T ")?;
    let (_, url) = command.rsplit_once(' ')?;
    let link = (url.starts_with("http://") || url.starts_with("https://")) && url.contains("/u/");
    link.then_some(url)
}

/// `[Server]: Upload refused: <why>`: the reason.
///
/// ```
/// use suda::client::files::refusal;
/// assert_eq!(refusal("[Server]: Upload refused: a is larger than 25 MiB."), Some("a is larger than 25 MiB."));
/// ```
pub fn refusal(line: &str) -> Option<&str> {
    strip_stamp(line)
        .strip_prefix(SERVER)?
        .strip_prefix("Upload refused: ")
}

/// Whether `line` is the server's answer to an `/upload` that gives no
/// link: a bad name or recipient, files off, an older server without
/// `/upload`. The send waiting for that answer is dropped (the line
/// itself says why).
///
/// ```
/// use suda::client::files::no_link;
/// assert!(no_link("[Server]: No user named \"민수\"."));
/// assert!(no_link("[Server]: Unknown command \"/upload\". Type /help for commands."));
/// assert!(!no_link("[Server]: Bob has joined the chat."));
/// ```
pub fn no_link(line: &str) -> bool {
    let Some(notice) = strip_stamp(line).strip_prefix(SERVER) else {
        return false;
    };
    [
        "Unknown command \"/upload\"",
        "Usage: /upload",
        "That file name cannot be used.",
        "That is you.",
        "No user named \"",
        "File sharing is off",
        "Uploads are not possible",
    ]
    .iter()
    .any(|start| notice.starts_with(start))
}

/// The most bytes a size as the server writes it (`830 B`, `1.2 KiB`,
/// `3.4 MiB`) can stand for: a download is cut off past it, so a server
/// that sends more than it offered cannot fill the disk.
///
/// ```
/// use suda::client::files::size_bound;
/// assert_eq!(size_bound("830 B"), Some(830));
/// assert_eq!(size_bound("1.2 KiB"), Some(1280)); // up to 1.25 KiB
/// assert_eq!(size_bound("3 MiB"), Some(3_198_156));
/// assert_eq!(size_bound("lots"), None);
/// ```
pub fn size_bound(size: &str) -> Option<u64> {
    let (number, unit) = size.split_once(' ')?;
    let shift = match unit {
        "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        "PiB" => 50,
        _ => return None,
    };
    let (whole, tenths) = match number.split_once('.') {
        Some((w, t)) if t.len() == 1 => (w, t),
        Some(_) => return None,
        None => (number, "0"),
    };
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(tenths.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let tenths_total: u64 =
        whole.parse::<u64>().ok()?.checked_mul(10)? + tenths.parse::<u64>().ok()?;
    if shift == 0 {
        return Some(tenths_total / 10);
    }
    // Rounded to one decimal: the true size is below half a tenth more.
    let unit = 1u64 << shift;
    (tenths_total * 2 + 1).checked_mul(unit).map(|v| v / 20)
}

/// A byte count as the server writes it (`830 B`, `1.2 KiB`, `3 MiB`),
/// for the client's own lines and the progress row.
///
/// ```
/// use suda::client::files::human;
/// assert_eq!(human(830), "830 B");
/// assert_eq!(human(1230), "1.2 KiB");
/// assert_eq!(human(3 << 30), "3 GiB");
/// ```
pub fn human(bytes: u64) -> String {
    crate::files::names::human_size(bytes)
}

/// Whether `c` may not appear in a saved file name: controls (a newline in
/// a name breaks every script), bidirectional overrides and isolates (an
/// RTL override makes `exe.txt` show as `txt.exe`), zero-width characters.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || crate::text::is_invisible(c)
        || matches!(c,
            '/' | '\\'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061c}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// The name to save an offered file under: one plain name in the download
/// folder. Separators and unsafe characters become `_`; leading dots and
/// spaces go (no `..`, no hidden files), as do trailing ones; an empty
/// result is `download`; a long one is cut to [`MAX_NAME_BYTES`] bytes,
/// keeping the extension.
///
/// ```
/// use suda::client::files::safe_name;
/// assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
/// assert_eq!(safe_name(".."), "download");
/// assert_eq!(safe_name("보고서 최종.pdf"), "보고서 최종.pdf");
/// assert_eq!(safe_name("invoice\u{202e}fdp.exe"), "invoice_fdp.exe");
/// assert_eq!(safe_name(".bashrc"), "bashrc");
/// ```
pub fn safe_name(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| if unsafe_char(c) { '_' } else { c })
        .collect();
    let trimmed = replaced
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    // Nothing left but separators that became `_` is no name either.
    if trimmed.chars().all(|c| c == '_') {
        return "download".to_string();
    }
    if trimmed.len() <= MAX_NAME_BYTES {
        return trimmed.to_string();
    }
    let (stem, ext) = match trimmed.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 16 => (stem, Some(ext)),
        _ => (trimmed, None),
    };
    let room = MAX_NAME_BYTES - ext.map_or(0, |e| e.len() + 1);
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    match ext {
        Some(ext) => format!("{}.{ext}", &stem[..cut]),
        None => stem[..cut].to_string(),
    }
}

/// `name`, or `name (1).ext`, `name (2).ext`, ... : the first that does
/// not exist in `dir` (`taken` says whether a candidate exists). The final
/// rename checks again without overwriting ([`super::transfer`]).
///
/// ```
/// use suda::client::files::free_name;
/// let taken = |n: &str| n == "a.txt" || n == "a (1).txt";
/// assert_eq!(free_name("a.txt", taken), "a (2).txt");
/// assert_eq!(free_name("README", |n| n == "README"), "README (1)");
/// ```
pub fn free_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(name) {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (1u32..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| name.to_string())
}

/// [`free_name`] in the folder `dir`.
pub fn free_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(free_name(name, |n| dir.join(n).symlink_metadata().is_ok()))
}

/// What `/send` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    /// The file.
    pub path: PathBuf,
    /// To one person, or (`None`) to the room.
    pub to: Option<String>,
}

/// Reads the arguments of `/send <path> [nick]`. The path may be quoted
/// (`"my file.txt"`, `'my file.txt'`) and may start with `~/`. Unquoted,
/// the whole rest is the path if such a file exists (`exists`); otherwise
/// a last word that is a nickname (`@` optional) names the recipient.
///
/// ```
/// use suda::client::files::parse_send;
/// let none = |_: &std::path::Path| false;
/// let r = parse_send("'my notes.txt' @민수", none, None).unwrap();
/// assert_eq!((r.path.to_str(), r.to.as_deref()), (Some("my notes.txt"), Some("민수")));
/// let r = parse_send("my notes.txt Bob", none, None).unwrap();
/// assert_eq!((r.path.to_str(), r.to.as_deref()), (Some("my notes.txt"), Some("Bob")));
/// let r = parse_send("my notes.txt Bob", |p| p.to_str() == Some("my notes.txt Bob"), None).unwrap();
/// assert_eq!((r.path.to_str(), r.to), (Some("my notes.txt Bob"), None));
/// assert!(parse_send("", none, None).is_err());
/// ```
///
/// # Errors
///
/// No path, an unclosed quote, or words after the nickname.
pub fn parse_send(
    args: &str,
    exists: impl Fn(&Path) -> bool,
    home: Option<&Path>,
) -> Result<SendRequest, String> {
    const USAGE: &str = "Usage: /send <file> [nick]";
    let args = args.trim();
    if args.is_empty() {
        return Err(USAGE.into());
    }
    let (path, to) = if let Some(quote) = args.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        let rest = &args[1..];
        let end = rest
            .find(quote)
            .ok_or_else(|| format!("the quote {quote} is not closed. {USAGE}"))?;
        let after = rest[end + 1..].trim();
        let to = match after {
            "" => None,
            nick if !nick.contains(' ') => Some(nick),
            _ => return Err(USAGE.into()),
        };
        (rest[..end].to_string(), to)
    } else {
        match args.rsplit_once(' ') {
            Some((path, nick))
                if !exists(&expand(args, home))
                    && valid_nick(nick.strip_prefix('@').unwrap_or(nick)) =>
            {
                (path.trim_end().to_string(), Some(nick))
            }
            _ => (args.to_string(), None),
        }
    };
    if path.is_empty() {
        return Err(USAGE.into());
    }
    let to = to.map(|nick| nick.strip_prefix('@').unwrap_or(nick).to_string());
    if let Some(nick) = &to {
        if !valid_nick(nick) {
            return Err(format!("{nick:?} is not a nickname. {USAGE}"));
        }
    }
    Ok(SendRequest {
        path: expand(&path, home),
        to,
    })
}

/// `~/x` in the home folder.
fn expand(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The name the server is told in `/upload`: the file's own name, one
/// line of printable text (controls become `_`), not starting with `@`
/// (which would read as a recipient).
///
/// ```
/// use suda::client::files::upload_name;
/// use std::path::Path;
/// assert_eq!(upload_name(Path::new("/tmp/보고서 1.pdf")), Some("보고서 1.pdf".into()));
/// assert_eq!(upload_name(Path::new("@home.txt")), Some("_home.txt".into()));
/// assert_eq!(upload_name(Path::new("/")), None);
/// ```
pub fn upload_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    let mut clean: String = name
        .chars()
        .map(|c| if unsafe_char(c) { '_' } else { c })
        .collect();
    if clean.starts_with('@') {
        clean.replace_range(..1, "_");
    }
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// Reads `/get [n]`: `None` for the last offer.
///
/// # Errors
///
/// Not a number.
pub fn parse_get(args: &str) -> Result<Option<usize>, String> {
    match args.trim() {
        "" => Ok(None),
        n => n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .map(Some)
            .ok_or_else(|| "Usage: /get [n] (n: the file's number, as shown)".to_string()),
    }
}

/// The offers of this session, numbered from 1.
#[derive(Debug, Default)]
pub struct Offers {
    /// The remembered ones, oldest first.
    list: std::collections::VecDeque<Offer>,
    /// How many came in all: the next one's number is this plus one.
    count: usize,
}

impl Offers {
    /// Remembers an offer; returns its number.
    pub fn add(&mut self, offer: Offer) -> usize {
        if self.list.len() == MAX_OFFERS {
            self.list.pop_front();
        }
        self.list.push_back(offer);
        self.count += 1;
        self.count
    }

    /// Offer `n` (or the last one).
    ///
    /// # Errors
    ///
    /// None yet, no such number, or forgotten: in words for the user.
    pub fn get(&self, n: Option<usize>) -> Result<(usize, &Offer), String> {
        let n = match n {
            None if self.count == 0 => return Err("No file has been offered yet.".into()),
            None => self.count,
            Some(n) if n > self.count => {
                return Err(match self.count {
                    0 => "No file has been offered yet.".to_string(),
                    1 => "There is only file 1.".to_string(),
                    c => format!("There are files 1 to {c} only."),
                })
            }
            Some(n) => n,
        };
        let first = self.count - self.list.len() + 1;
        if n < first {
            return Err(format!(
                "File {n} is too old to remember (only the last {MAX_OFFERS} are kept)."
            ));
        }
        Ok((n, &self.list[n - first]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_need_the_whole_shape() {
        let ok = "[File from Bob] a.txt (1.0 KiB) https://h/f/0123/a.txt";
        assert!(parse_offer(ok).is_some());
        assert!(parse_offer("[2026-11-23 15:04] [File from Bob] a (1 B) http://h/f/1/a").is_some());
        let odd = parse_offer("[File from Bob] x (2 B) http://e (3 B) http://h/f/1/x (2 B) http")
            .unwrap();
        assert_eq!(
            (odd.name.as_str(), odd.size.as_str()),
            ("x (2 B) http://e", "3 B")
        );
        assert_eq!(odd.url, "http://h/f/1/x (2 B) http");
        for bad in [
            "[File from Bob] a.txt (1.0 KiB) ftp://h/f/1/a.txt",
            "[File from Bob] a.txt (big) http://h/f/1/a.txt",
            "[File from Bob] a.txt http://h/f/1/a.txt",
            "[File from two words] a (1 B) http://h/f/1/a",
            "[File from Bob]  (1 B) http://h/f/1/a",
            "[File from Bob] a (1 B) http://h/u/1",
        ] {
            assert_eq!(parse_offer(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_cannot_leave_the_folder_or_hide() {
        for (given, saved) in [
            ("a/b", "a_b"),
            ("..\\..\\x", "_.._x"),
            ("%2e%2e/x", "%2e%2e_x"),
            ("a\0b\nc", "a_b_c"),
            ("\u{1b}[31mred", "_[31mred"),
            ("  . . ", "download"),
            ("/", "download"),
            ("name.", "name"),
            ("a\u{2066}b\u{200b}c", "a_b_c"),
        ] {
            assert_eq!(safe_name(given), saved, "{given:?}");
            assert!(!saved.contains('/') && !saved.starts_with('.'));
        }
    }

    #[test]
    fn long_names_keep_their_extension_and_utf8() {
        let long = format!("{}.pdf", "가".repeat(100));
        let saved = safe_name(&long);
        assert!(saved.len() <= MAX_NAME_BYTES, "{}", saved.len());
        assert!(saved.ends_with("가.pdf"));
        let no_ext = "x".repeat(300);
        assert_eq!(safe_name(&no_ext).len(), MAX_NAME_BYTES);
    }

    #[test]
    fn free_path_never_picks_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "x").unwrap();
        std::fs::create_dir(dir.path().join("a (1).txt")).unwrap();
        assert_eq!(free_path(dir.path(), "a.txt"), dir.path().join("a (2).txt"));
        assert_eq!(free_path(dir.path(), "b.txt"), dir.path().join("b.txt"));
    }

    #[test]
    fn offers_are_numbered_and_old_ones_forgotten() {
        let mut offers = Offers::default();
        assert!(offers.get(None).is_err());
        let offer = |i: usize| Offer {
            from: "Bob".into(),
            name: format!("{i}.txt"),
            size: "1 B".into(),
            url: format!("http://h/f/{i}/x"),
        };
        for i in 1..=MAX_OFFERS + 2 {
            assert_eq!(offers.add(offer(i)), i);
        }
        assert_eq!(
            offers.get(None).unwrap().1.name,
            format!("{}.txt", MAX_OFFERS + 2)
        );
        assert_eq!(offers.get(Some(3)).unwrap().1.name, "3.txt");
        assert!(offers.get(Some(2)).unwrap_err().contains("too old"));
        assert!(offers.get(Some(MAX_OFFERS + 3)).is_err());
    }

    #[test]
    fn send_arguments() {
        let none = |_: &Path| false;
        let home = Path::new("/home/u");
        let r = parse_send("~/a b.txt", none, Some(home)).unwrap();
        assert_eq!(
            (r.path, r.to),
            (PathBuf::from("/home/u/a b.txt"), None::<String>)
        );
        assert!(parse_send("\"unclosed", none, None).is_err());
        assert!(parse_send("'a' two words", none, None).is_err());
        assert_eq!(parse_get(" 3 "), Ok(Some(3)));
        assert!(parse_get("0").is_err() && parse_get("x").is_err());
    }
}
