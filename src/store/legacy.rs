//! The state file of suda before the database (`suda-state.json`): read
//! once at the first start after an upgrade, imported into the database and
//! renamed, so it is never read again.
//!
//! The import commits before the rename. A crash between the two leaves the
//! file in place, and the next start imports it again, which changes
//! nothing ([`Store::import`] keeps what is already there).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::room::schedules::SavedState;
use crate::store::db::Store;

/// What an imported state file is renamed to end with.
pub const IMPORTED_SUFFIX: &str = ".imported";

/// Reads a state file. A missing file is an empty state.
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

/// `path` with [`IMPORTED_SUFFIX`].
pub fn imported_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(IMPORTED_SUFFIX);
    PathBuf::from(name)
}

/// Imports the state file at `path`, if there is one, into `store`, then
/// renames it. Returns how many messages were new to the database.
///
/// # Errors
///
/// The file is unreadable or invalid, the database refused the import, or
/// the file cannot be renamed (it would be imported again at every start).
pub fn import(store: &mut Store, path: &Path) -> anyhow::Result<Option<usize>> {
    if !path.exists() {
        return Ok(None);
    }
    let state = load_state(path)?;
    let added = store.import(&state)?;
    let done = imported_path(path);
    fs::rename(path, &done).with_context(|| {
        format!(
            "imported {} but cannot rename it to {}",
            path.display(),
            done.display()
        )
    })?;
    Ok(Some(added))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_state_file_is_an_error_and_a_missing_one_is_not() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.json");
        assert!(load_state(&path)
            .expect("missing is fine")
            .messages
            .is_empty());
        fs::write(&path, "{not json").expect("write");
        let err = load_state(&path).expect_err("broken");
        assert!(format!("{err:#}").contains("not valid"));
    }

    #[test]
    fn a_state_file_is_imported_once_and_renamed() {
        let dir = tempfile::tempdir().expect("dir");
        let json = dir.path().join("suda-state.json");
        fs::write(
            &json,
            r#"{"version":1,"next_id":9,"messages":[
                {"id":8,"due":"2026-11-23T05:00:00Z","author":"Carl","text":"quiz at 3"}
            ]}"#,
        )
        .expect("write");
        let mut store = Store::open(&dir.path().join("suda.db")).expect("open");
        assert_eq!(import(&mut store, &json).expect("import"), Some(1));
        assert!(!json.exists());
        assert!(imported_path(&json).exists());
        assert_eq!(import(&mut store, &json).expect("nothing left"), None);
        let pending = store.pending().expect("pending");
        assert_eq!(pending.messages.len(), 1);
        assert_eq!(pending.messages[0].text, "quiz at 3");
        assert_eq!(pending.next_id, 9);
    }

    #[test]
    fn an_invalid_state_file_is_left_where_it_is() {
        let dir = tempfile::tempdir().expect("dir");
        let json = dir.path().join("suda-state.json");
        fs::write(&json, "this is not json").expect("write");
        let mut store = Store::open(&dir.path().join("suda.db")).expect("open");
        let err = import(&mut store, &json).expect_err("invalid");
        assert!(format!("{err:#}").contains("is not valid"));
        assert!(json.exists());
    }
}
