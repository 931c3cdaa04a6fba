//! Trust on first use: the certificate fingerprint each server showed the
//! first time, kept in the user's data folder, as ssh keeps `known_hosts`.
//!
//! One line per server, `HOST:PORT SHA256:<hex>`; other lines (comments,
//! anything unreadable) are left as they are.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::net::tls::fingerprint::Fingerprint;

/// The file's name in the data folder.
pub const FILE_NAME: &str = "known_servers";

/// A file larger than this is not a list of servers someone kept.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// `$XDG_DATA_HOME/suda/known_servers`, or `~/.local/share/suda/known_servers`.
pub fn default_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("share"))
        })?;
    Some(data.join("suda").join(FILE_NAME))
}

/// How a server is written in the file: the host in lower case, IPv6 in
/// brackets, and the port.
///
/// ```
/// use suda::client::known_servers::server_key;
/// assert_eq!(server_key("Chat.Example.org", 9999), "chat.example.org:9999");
/// assert_eq!(server_key("::1", 7000), "[::1]:7000");
/// ```
pub fn server_key(host: &str, port: u16) -> String {
    let host = host.to_lowercase();
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The remembered servers.
#[derive(Debug)]
pub struct KnownServers {
    /// Where they are kept.
    path: PathBuf,
    /// The file's lines, as read.
    lines: Vec<String>,
}

impl KnownServers {
    /// Reads the file; a file that is not there yet is an empty list.
    ///
    /// # Errors
    ///
    /// The file exists but cannot be read.
    pub fn load(path: &Path) -> Result<KnownServers, String> {
        let text = match fs::metadata(path) {
            Ok(meta) if meta.len() > MAX_FILE_BYTES => {
                return Err(format!(
                    "{} is too large to be a list of servers",
                    path.display()
                ))
            }
            Ok(_) => fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(KnownServers {
            path: path.to_path_buf(),
            lines: text.lines().map(str::to_string).collect(),
        })
    }

    /// Where the list is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fingerprint remembered for `server` (a [`server_key`]).
    pub fn get(&self, server: &str) -> Option<Fingerprint> {
        self.lines.iter().find_map(|line| {
            let (name, fingerprint) = parse_line(line)?;
            (name == server).then_some(fingerprint)
        })
    }

    /// Remembers `fingerprint` for `server`, replacing what was there, and
    /// saves the file (its folder made private if it is new).
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn remember(&mut self, server: &str, fingerprint: Fingerprint) -> Result<(), String> {
        let line = format!("{server} {fingerprint}");
        let mut replaced = false;
        for existing in &mut self.lines {
            if parse_line(existing).is_some_and(|(name, _)| name == server) {
                *existing = line.clone();
                replaced = true;
            }
        }
        if !replaced {
            self.lines.push(line);
        }
        self.save()
    }

    fn save(&self) -> Result<(), String> {
        let failed = |e: std::io::Error| format!("cannot save {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(failed)?;
        }
        let temp = self.path.with_extension("new");
        let mut text = self.lines.join("\n");
        text.push('\n');
        let _ = fs::remove_file(&temp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(failed)?;
        file.write_all(text.as_bytes()).map_err(failed)?;
        drop(file);
        fs::rename(&temp, &self.path).map_err(failed)
    }
}

/// `HOST:PORT SHA256:<hex>`, or `None` for any other line.
fn parse_line(line: &str) -> Option<(&str, Fingerprint)> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let fingerprint = Fingerprint::parse(words.next()?).ok()?;
    Some((name, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_replaces_and_keeps_other_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data").join("suda").join(FILE_NAME);
        let a = Fingerprint::of(b"a");
        let b = Fingerprint::of(b"b");
        let mut known = KnownServers::load(&path).expect("no file yet is fine");
        assert_eq!(known.get("h:1"), None);
        known.remember("h:1", a).expect("saved");
        known.remember("g:2", b).expect("saved");
        let mut text = fs::read_to_string(&path).expect("file");
        text.insert_str(0, "# kept by hand\n");
        fs::write(&path, text).expect("write");
        let mut known = KnownServers::load(&path).expect("load");
        assert_eq!(known.get("h:1"), Some(a));
        assert_eq!(known.get("g:2"), Some(b));
        known.remember("h:1", b).expect("replaced");
        let text = fs::read_to_string(&path).expect("file");
        assert_eq!(text, format!("# kept by hand\nh:1 {b}\ng:2 {b}\n"));
    }
}
