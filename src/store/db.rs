//! The database: one SQLite file for everything that must outlive the
//! process: the scheduled messages and the room's history (its queries
//! are in `store/history.rs`).
//!
//! # What a crash can do to it
//!
//! The file is in WAL mode with `synchronous=FULL`: a transaction that
//! committed is in the write-ahead log and synced, so neither kill -9 nor
//! a power cut takes it back, and an interrupted one is rolled back when
//! the file is next opened. Only [`crate::store::disk`] writes, in one
//! transaction per batch of changes, so the syncs are few however busy the
//! room is.
//!
//! # Whose file it is
//!
//! A suda database says so in its header (`PRAGMA application_id`); a
//! SQLite file made by anything else is refused without being touched, and
//! so is a file that is not SQLite at all, a damaged one, one written by a
//! newer suda, and one that another process holds (the connection keeps an
//! exclusive lock for as long as the server runs: two servers on one file
//! would each deliver the same messages).
//!
//! # Schema
//!
//! [`MIGRATIONS`] lists the schema, one step per version; a database of an
//! older version is brought up to date at startup, each step in a
//! transaction of its own. The version is kept in the `meta` table with
//! the other counters (`next_id`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use jiff::Timestamp;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};

use crate::files::index::{FileChange, FileEntry};
use crate::history::Record;
use crate::room::schedules::{SavedState, Scheduled};
use crate::room::StateChange;

/// `PRAGMA application_id` of a suda database: "suda" in ASCII.
pub const APPLICATION_ID: i32 = 0x7375_6461;

/// The schema, one entry per version: entry `n` brings version `n` to
/// `n + 1`. Append; never edit a step that has shipped.
pub const MIGRATIONS: &[&str] = &[
    // 1: the pending scheduled messages. Times are Unix milliseconds.
    // A delivered message keeps its row (with `delivered_at`) for
    // DELIVERED_KEEP, so what went out can be looked up; a cancelled one
    // is deleted. `author_ip` is for the per-address limits.
    "CREATE TABLE meta (
         key TEXT PRIMARY KEY,
         value INTEGER NOT NULL
     );
     INSERT INTO meta (key, value) VALUES ('next_id', 1);
     CREATE TABLE schedules (
         id INTEGER PRIMARY KEY,
         due INTEGER NOT NULL,
         author TEXT NOT NULL,
         text TEXT NOT NULL,
         created INTEGER NOT NULL,
         delivered_at INTEGER,
         author_ip TEXT
     );",
    // 2: the room's history (see crate::history). `at` is Unix ms; `id`
    // increases with time, so the newest are the highest. The search
    // index holds each message's bigram tokens (history::grams) under the
    // same rowid; contentless (the text is in `history` already) with
    // deletes allowed, so retention can drop old rows. No positions
    // (`detail=none`): every candidate is checked in Rust anyway, and
    // positions were most of the cost of indexing a message. The column
    // sizes stay: SQLite refuses `columnsize=0` with `contentless_delete`.
    // (Edited in place before it shipped in a release; from now on, append.)
    "CREATE TABLE history (
         id INTEGER PRIMARY KEY,
         at INTEGER NOT NULL,
         text TEXT NOT NULL
     );
     CREATE INDEX history_at ON history (at);
     CREATE VIRTUAL TABLE history_grams USING fts5 (
         grams, content = '', contentless_delete = 1, tokenize = 'ascii',
         detail = none
     );",
    // 3: shared files (issue 14): the index of the files directory, whose
    // files are named by `id` (128 random bits in hex). Times are Unix
    // milliseconds; a row is deleted when its file expires.
    "CREATE TABLE files (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL,
         size INTEGER NOT NULL,
         uploader TEXT NOT NULL,
         created INTEGER NOT NULL,
         expires INTEGER NOT NULL
     );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// How long a delivered message's row is kept.
pub const DELIVERED_KEEP: Duration = Duration::from_secs(24 * 3600);

/// An open suda database, held exclusively.
#[derive(Debug)]
pub struct Store {
    /// The connection; only the disk thread uses it once the server runs.
    pub(super) conn: Connection,
    /// Where the file is, for messages.
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the database at `path` and brings its schema up
    /// to date.
    ///
    /// # Errors
    ///
    /// One line an operator can act on: the file cannot be created, is not
    /// SQLite, is another program's database, is damaged, comes from a
    /// newer suda, or is in use by another process.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let fail = |e: rusqlite::Error| explain(path, &e);
        let conn = Connection::open_with_flags(path, flags).map_err(fail)?;
        // Fail at once rather than wait if another process holds the file.
        conn.busy_timeout(Duration::ZERO).map_err(fail)?;
        // Before WAL: the log index then lives in memory, no -shm file,
        // and nobody else can open the file while we have it.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(fail)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        // Read before anything is written: a stranger's file stays as it was.
        let version = store.version()?;
        let mode: String = store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(anyhow!(
                "database {}: cannot use a write-ahead log (journal mode {mode})",
                path.display()
            ));
        }
        store
            .conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        store.migrate(version)?;
        Ok(store)
    }

    /// The schema version of the file; 0 for a new, empty one.
    fn version(&self) -> anyhow::Result<usize> {
        let fail = |e: rusqlite::Error| explain(&self.path, &e);
        let id: i32 = self
            .conn
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .map_err(fail)?;
        let objects: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(fail)?;
        if id == 0 && objects == 0 {
            return Ok(0);
        }
        if id != APPLICATION_ID {
            return Err(anyhow!(
                "{} is not a suda database (another program's SQLite file): move it away or choose another --db",
                self.path.display()
            ));
        }
        let version: Option<i64> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(fail)?;
        let version = version
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| damaged(&self.path, "no schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(anyhow!(
                "{} was written by a newer suda (schema {version}; this one knows up to {SCHEMA_VERSION}): upgrade suda or choose another --db",
                self.path.display()
            ));
        }
        Ok(version)
    }

    /// Applies the steps after `from`, each in its own transaction.
    fn migrate(&mut self, from: usize) -> anyhow::Result<()> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| explain(&path, &e);
        for (step, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            let tx = self.conn.transaction().map_err(fail)?;
            tx.execute_batch(sql).map_err(fail)?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                [step as i64 + 1],
            )
            .map_err(fail)?;
            if step == 0 {
                tx.pragma_update(None, "application_id", APPLICATION_ID)
                    .map_err(fail)?;
            }
            tx.commit().map_err(fail)?;
        }
        Ok(())
    }

    /// The messages still to be delivered and the next id.
    ///
    /// # Errors
    ///
    /// The file cannot be read or holds something no suda wrote.
    pub fn pending(&self) -> anyhow::Result<SavedState> {
        let fail = |e: rusqlite::Error| explain(&self.path, &e);
        let next_id: i64 = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'next_id'", [], |row| {
                row.get(0)
            })
            .map_err(fail)?;
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, due, author, text FROM schedules
                 WHERE delivered_at IS NULL ORDER BY id",
            )
            .map_err(fail)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(fail)?;
        let mut messages = Vec::new();
        for row in rows {
            let (id, due, author, text) = row.map_err(fail)?;
            let id = u64::try_from(id).map_err(|_| damaged(&self.path, "a negative id"))?;
            let due = Timestamp::from_millisecond(due)
                .map_err(|_| damaged(&self.path, "a due time out of range"))?;
            messages.push(Scheduled {
                id,
                due,
                author,
                text,
                author_conn: None,
            });
        }
        Ok(SavedState {
            version: SCHEMA_VERSION as u32,
            next_id: u64::try_from(next_id).unwrap_or(1).max(1),
            messages,
        })
    }

    /// Writes `changes` and the room's new messages in one transaction (all or none of them), at `now`.
    ///
    /// # Errors
    ///
    /// The disk refused the write (full, gone, read-only).
    pub fn apply(
        &mut self,
        changes: &[StateChange],
        history: &[Record],
        now: Timestamp,
    ) -> rusqlite::Result<()> {
        let now = now.as_millisecond();
        let tx = self.conn.transaction()?;
        super::history::insert(&tx, history)?;
        let mut next_id = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO schedules (id, due, author, text, created)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut delete = tx.prepare_cached("DELETE FROM schedules WHERE id = ?1")?;
            let mut deliver = tx.prepare_cached(
                "UPDATE schedules SET delivered_at = ?2 WHERE id = ?1 AND delivered_at IS NULL",
            )?;
            for change in changes {
                match change {
                    StateChange::Added(m) => {
                        next_id = next_id.max(m.id.saturating_add(1));
                        insert.execute(params![
                            sql_id(m.id)?,
                            m.due.as_millisecond(),
                            m.author,
                            m.text,
                            now
                        ])?;
                    }
                    StateChange::Removed(id) => {
                        delete.execute([sql_id(*id)?])?;
                    }
                    StateChange::Delivered(id) => {
                        deliver.execute(params![sql_id(*id)?, now])?;
                    }
                }
            }
        }
        if next_id > 0 {
            bump_next_id(&tx, next_id)?;
        }
        tx.commit()
    }

    /// Adds the messages of a state file from before the database, in one
    /// transaction. Ids already in the database are left as they are, so
    /// importing the same file twice (a crash between the import and the
    /// rename of the file) changes nothing. Returns how many were new.
    ///
    /// # Errors
    ///
    /// The disk refused the write.
    pub fn import(&mut self, state: &SavedState) -> anyhow::Result<usize> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| explain(&path, &e);
        let now = Timestamp::now().as_millisecond();
        let tx = self.conn.transaction().map_err(fail)?;
        let mut added = 0;
        let mut next_id = state.next_id;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO schedules (id, due, author, text, created)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(fail)?;
            for m in &state.messages {
                next_id = next_id.max(m.id.saturating_add(1));
                added += insert
                    .execute(params![
                        sql_id(m.id).map_err(fail)?,
                        m.due.as_millisecond(),
                        m.author,
                        m.text,
                        now
                    ])
                    .map_err(fail)?;
            }
        }
        bump_next_id(&tx, next_id).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(added)
    }

    /// Forgets messages delivered before `before`. Returns how many.
    ///
    /// # Errors
    ///
    /// The disk refused the write.
    pub fn prune(&mut self, before: Timestamp) -> rusqlite::Result<usize> {
        self.conn.execute(
            "DELETE FROM schedules WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
            [before.as_millisecond()],
        )
    }

    /// The shared files' index (expired rows included: the server deletes
    /// their files at start).
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn files(&self) -> anyhow::Result<Vec<FileEntry>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, size, uploader, created, expires FROM files")
            .map_err(|e| explain(&self.path, &e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(FileEntry {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    size: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    uploader: row.get(3)?,
                    created: row.get(4)?,
                    expires: row.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| explain(&self.path, &e))?;
        Ok(rows)
    }

    /// Writes one change to the file index.
    ///
    /// # Errors
    ///
    /// SQLite failed.
    pub fn apply_file(&mut self, change: &FileChange) -> rusqlite::Result<()> {
        match change {
            FileChange::Added(e) => self.conn.execute(
                "INSERT OR REPLACE INTO files (id, name, size, uploader, created, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    e.id,
                    e.name,
                    i64::try_from(e.size).unwrap_or(i64::MAX),
                    e.uploader,
                    e.created,
                    e.expires
                ],
            )?,
            FileChange::Removed(id) => self
                .conn
                .execute("DELETE FROM files WHERE id = ?1", params![id])?,
        };
        Ok(())
    }

    /// Folds the write-ahead log into the file and closes it, so a stopped
    /// server leaves one file behind.
    pub fn close(self) {
        let Store { conn, path } = self;
        let result = conn
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .and_then(|()| conn.close().map_err(|(_, e)| e));
        if let Err(e) = result {
            log::warn!("database {}: closing: {e}", path.display());
        }
    }
}

/// Raises `next_id` to at least `to`.
fn bump_next_id(tx: &rusqlite::Transaction<'_>, to: u64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE meta SET value = max(value, ?1) WHERE key = 'next_id'",
        [sql_id(to)?],
    )
    .map(drop)
}

/// An id as SQLite stores it (a signed 64-bit integer).
fn sql_id(id: u64) -> rusqlite::Result<i64> {
    i64::try_from(id).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn damaged(path: &Path, what: &str) -> anyhow::Error {
    anyhow!(
        "database {} is damaged ({what}): move it away to start afresh",
        path.display()
    )
}

/// A SQLite error at startup, as one line that says what to do.
fn explain(path: &Path, e: &rusqlite::Error) -> anyhow::Error {
    let path = path.display();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => anyhow!(
            "{path} is not a suda database (not SQLite at all): move it away or choose another --db"
        ),
        Some(ErrorCode::DatabaseCorrupt) => {
            anyhow!("database {path} is damaged ({e}): move it away to start afresh")
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => anyhow!(
            "database {path} is in use by another process (is another suda serve running on it?)"
        ),
        Some(ErrorCode::CannotOpen) => anyhow!("cannot open database {path}: {e}"),
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            anyhow!("cannot write database {path}: {e}")
        }
        _ => anyhow!("database {path}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn message(id: u64, text: &str) -> Scheduled {
        Scheduled {
            id,
            due: at("2026-11-23T05:00:00.123Z"),
            author: "Charlie".into(),
            text: text.into(),
            author_conn: Some((1, 2)),
        }
    }

    fn texts(state: &SavedState) -> Vec<(u64, &str)> {
        state
            .messages
            .iter()
            .map(|m| (m.id, m.text.as_str()))
            .collect()
    }

    #[test]
    fn changes_survive_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("suda.db");
        let mut store = Store::open(&path).expect("open");
        assert!(store.pending().expect("pending").messages.is_empty());
        let now = at("2026-11-23T04:00:00Z");
        store
            .apply(
                &[
                    StateChange::Added(message(1, "one")),
                    StateChange::Added(message(2, "two")),
                    StateChange::Added(message(3, "three")),
                ],
                &[],
                now,
            )
            .expect("apply");
        store
            .apply(
                &[StateChange::Removed(2), StateChange::Delivered(3)],
                &[],
                now,
            )
            .expect("apply");
        // Dropped without close: what a kill leaves.
        drop(store);
        let store = Store::open(&path).expect("reopen");
        let state = store.pending().expect("pending");
        assert_eq!(texts(&state), [(1, "one")]);
        assert_eq!(state.next_id, 4);
        assert_eq!(state.messages[0].due, at("2026-11-23T05:00:00.123Z"));
        assert_eq!(state.messages[0].author, "Charlie");
        assert_eq!(state.messages[0].author_conn, None);
        store.close();
        assert!(
            !dir.path().join("suda.db-wal").exists(),
            "close folds the log in"
        );
    }

    #[test]
    fn delivered_rows_are_pruned_after_a_while() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("suda.db")).expect("open");
        let then = at("2026-11-20T00:00:00Z");
        store
            .apply(
                &[
                    StateChange::Added(message(1, "old")),
                    StateChange::Added(message(2, "pending")),
                    StateChange::Delivered(1),
                ],
                &[],
                then,
            )
            .expect("apply");
        assert_eq!(store.prune(at("2026-11-19T00:00:00Z")).expect("prune"), 0);
        assert_eq!(store.prune(at("2026-11-21T00:00:00Z")).expect("prune"), 1);
        assert_eq!(texts(&store.pending().expect("pending")), [(2, "pending")]);
    }

    #[test]
    fn a_second_delivery_mark_keeps_the_first_time() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("suda.db")).expect("open");
        store
            .apply(
                &[
                    StateChange::Added(message(1, "x")),
                    StateChange::Delivered(1),
                ],
                &[],
                at("2026-11-20T00:00:00Z"),
            )
            .expect("apply");
        store
            .apply(
                &[StateChange::Delivered(1)],
                &[],
                at("2026-11-22T00:00:00Z"),
            )
            .expect("apply");
        assert_eq!(store.prune(at("2026-11-21T00:00:00Z")).expect("prune"), 1);
    }

    #[test]
    fn import_is_idempotent_and_keeps_numbering() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("suda.db")).expect("open");
        let state = SavedState {
            version: 1,
            next_id: 12,
            messages: vec![message(4, "four"), message(7, "seven")],
        };
        assert_eq!(store.import(&state).expect("import"), 2);
        store
            .apply(&[StateChange::Delivered(4)], &[], Timestamp::now())
            .expect("apply");
        assert_eq!(store.import(&state).expect("again"), 0);
        let pending = store.pending().expect("pending");
        assert_eq!(texts(&pending), [(7, "seven")]);
        assert_eq!(pending.next_id, 12);
    }

    #[test]
    fn strangers_files_are_refused_untouched() {
        let dir = tempfile::tempdir().expect("dir");
        let garbage = dir.path().join("garbage.db");
        let bytes = b"this is certainly not a database, it is a shopping list\n".repeat(100);
        std::fs::write(&garbage, &bytes).expect("write");
        let err = format!("{:#}", Store::open(&garbage).expect_err("garbage"));
        assert!(err.contains("is not a suda database"), "{err}");
        assert_eq!(std::fs::read(&garbage).expect("read"), bytes);

        let foreign = dir.path().join("foreign.db");
        {
            let conn = Connection::open(&foreign).expect("create");
            conn.execute_batch(
                "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('kimchi');",
            )
            .expect("fill");
        }
        let before = std::fs::read(&foreign).expect("read");
        let err = format!("{:#}", Store::open(&foreign).expect_err("foreign"));
        assert!(err.contains("another program's SQLite file"), "{err}");
        assert_eq!(std::fs::read(&foreign).expect("read"), before);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("suda.db");
        Store::open(&path).expect("open").close();
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute(
                "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
                [],
            )
            .expect("bump");
        }
        let err = format!("{:#}", Store::open(&path).expect_err("newer"));
        assert!(err.contains("newer suda (schema 99"), "{err}");
    }

    #[test]
    fn a_file_in_use_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("suda.db");
        let _first = Store::open(&path).expect("open");
        let err = format!("{:#}", Store::open(&path).expect_err("in use"));
        assert!(err.contains("in use by another process"), "{err}");
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("suda.db");
        let mut store = Store::open(&path).expect("open");
        let many: Vec<StateChange> = (1..=200)
            .map(|id| StateChange::Added(message(id, &"x".repeat(2000))))
            .collect();
        store.apply(&many, &[], Timestamp::now()).expect("apply");
        store.close();
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
        let result = Store::open(&path).and_then(|s| s.pending());
        let err = format!("{:#}", result.expect_err("truncated"));
        assert!(err.contains("damaged"), "{err}");
    }
}
