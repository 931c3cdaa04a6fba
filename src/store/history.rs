//! The history's rows: written in the disk thread's batches, the recent
//! ones read once at startup, searched by `/find`, pruned by
//! `--history-keep`. Only the disk thread runs these once the server runs.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::{params, Transaction};

use crate::history::{grams, Record};
use crate::store::db::Store;

/// Index candidates `/find` checks at most before it answers with what it
/// has: the index leaves few false candidates (see `history::grams`), so
/// this only bounds a pathological case.
const MAX_CANDIDATES: usize = 5_000;

/// Not yet indexed messages `/find` reads at most, newest first: half a
/// second of a room at the default `--history-rate` (20 000 a second),
/// read and checked in Rust in about 30 ms in a debug build
/// (BENCHMARKS.md, "History"), within the 50 ms a search may take.
/// Only a room that has kept the disk thread busy for longer than that
/// leaves older unindexed messages out of an answer, until the thread is
/// idle again and indexes them.
pub const MAX_UNINDEXED_SCAN: usize = 10_000;

/// The longest one `/find` may read the database (see
/// [`Store::find_history`]): a search in 1 000 000 messages takes 0.03 to
/// 12 ms (BENCHMARKS.md), so only a pathological one is cut.
const FIND_BUDGET: Duration = Duration::from_millis(100);

/// Rows deleted per transaction when pruning, so one prune does not hold
/// one long transaction.
const PRUNE_CHUNK: i64 = 10_000;

/// Writes `records`, inside `tx`. Their search tokens are written later,
/// by [`Store::index_history`]: a burst costs the disk thread one small
/// insert per message, and the index catches up when it is idle.
pub(super) fn insert(tx: &Transaction<'_>, records: &[Record]) -> rusqlite::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut row =
        tx.prepare_cached("INSERT OR IGNORE INTO history (id, at, text) VALUES (?1, ?2, ?3)")?;
    for record in records {
        let id = i64::try_from(record.id)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        row.execute(params![id, record.at.as_millisecond(), record.text])?;
    }
    Ok(())
}

/// The highest message id whose tokens are in the index (every lower one
/// is too).
fn indexed(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'history_indexed'",
        [],
        |row| row.get(0),
    )
}

fn record(id: i64, at: i64, text: String) -> Option<Record> {
    Some(Record {
        id: u64::try_from(id).ok()?,
        at: Timestamp::from_millisecond(at).ok()?,
        text,
    })
}

impl Store {
    /// The last `limit` messages, oldest first.
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub fn recent_history(&self, limit: usize) -> rusqlite::Result<Vec<Record>> {
        let mut statement = self
            .conn
            .prepare("SELECT id, at, text FROM history ORDER BY id DESC LIMIT ?1")?;
        let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
        let mut records = Vec::new();
        for row in rows {
            let (id, at, text) = row?;
            // A row no suda wrote (out of range) is skipped, not fatal.
            records.extend(record(id, at, text));
        }
        records.reverse();
        Ok(records)
    }

    /// The highest message id, 0 for none.
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub fn last_history_id(&self) -> rusqlite::Result<u64> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT max(id) FROM history", [], |row| row.get(0))?;
        Ok(id.and_then(|id| u64::try_from(id).ok()).unwrap_or(0))
    }

    /// The highest message id that is indexed for `/find`.
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub fn history_indexed(&self) -> rusqlite::Result<u64> {
        Ok(u64::try_from(indexed(&self.conn)?).unwrap_or(0))
    }

    /// Indexes the oldest messages not yet indexed, `max` at most, in one
    /// transaction. Returns how many; fewer than `max` means all are.
    ///
    /// # Errors
    ///
    /// The disk refused the write.
    pub fn index_history(&mut self, max: usize) -> rusqlite::Result<usize> {
        let tx = self.conn.transaction()?;
        let from = indexed(&tx)?;
        let rows: Vec<(i64, String)> = {
            let mut next = tx.prepare_cached(
                "SELECT id, text FROM history WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = next.query_map(
                params![from, i64::try_from(max).unwrap_or(i64::MAX)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let Some(&(last, _)) = rows.last() else {
            return Ok(0);
        };
        {
            let mut grams_row =
                tx.prepare_cached("INSERT INTO history_grams (rowid, grams) VALUES (?1, ?2)")?;
            for (id, text) in &rows {
                grams_row.execute(params![id, grams::index_tokens(text)])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('history_indexed', ?1)",
            [last],
        )?;
        tx.commit()?;
        Ok(rows.len())
    }

    /// The last `limit` messages that contain every one of `words`
    /// ([`grams::words`]), oldest first: the newest not yet indexed ones
    /// ([`MAX_UNINDEXED_SCAN`] at most) read and checked here, then the
    /// index for the rest.
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub fn find_history(&self, words: &[String], limit: usize) -> rusqlite::Result<Vec<Record>> {
        let Some(query) = grams::fts_query(words) else {
            return Ok(Vec::new());
        };
        // Many one-letter words make FTS5 walk most of the index; history
        // writes wait behind a search (one writer thread), so a search
        // gets FIND_BUDGET and answers with what it found by then.
        let deadline = Instant::now() + FIND_BUDGET;
        self.conn
            .progress_handler(1000, Some(move || Instant::now() >= deadline))?;
        let mut found = Vec::new();
        let gathered = self.gather(words, limit, &query, &mut found);
        self.conn.progress_handler(0, None::<fn() -> bool>)?;
        match gathered {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                log::debug!("history: a /find stopped after {FIND_BUDGET:?}");
            }
            other => other?,
        }
        found.sort_by_key(|r| r.id);
        Ok(found)
    }

    /// [`Self::find_history`]'s reading, newest first into `found`.
    fn gather(
        &self,
        words: &[String],
        limit: usize,
        query: &str,
        found: &mut Vec<Record>,
    ) -> rusqlite::Result<()> {
        let indexed = indexed(&self.conn)?;
        {
            let mut recent = self.conn.prepare_cached(
                "SELECT id, at, text FROM history WHERE id > ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let scan = i64::try_from(MAX_UNINDEXED_SCAN).unwrap_or(i64::MAX);
            let mut rows = recent.query(params![indexed, scan])?;
            while let Some(row) = rows.next()? {
                let text: String = row.get(2)?;
                if grams::matches(&text, words) {
                    found.extend(record(row.get(0)?, row.get(1)?, text));
                    if found.len() >= limit {
                        return Ok(());
                    }
                }
            }
        }
        let mut statement = self.conn.prepare_cached(
            "SELECT h.id, h.at, h.text FROM history_grams g JOIN history h ON h.id = g.rowid
             WHERE history_grams MATCH ?1 ORDER BY g.rowid DESC",
        )?;
        let mut rows = statement.query([query])?;
        let mut checked = 0;
        while let Some(row) = rows.next()? {
            checked += 1;
            let text: String = row.get(2)?;
            if grams::matches(&text, words) {
                found.extend(record(row.get(0)?, row.get(1)?, text));
                if found.len() >= limit {
                    break;
                }
            }
            if checked >= MAX_CANDIDATES {
                break;
            }
        }
        Ok(())
    }

    /// Forgets messages said before `before`. Returns how many.
    ///
    /// # Errors
    ///
    /// The disk refused the write.
    pub fn prune_history(&mut self, before: Timestamp) -> rusqlite::Result<usize> {
        let before = before.as_millisecond();
        let mut total = 0;
        loop {
            let tx = self.conn.transaction()?;
            // Rows not yet indexed have nothing in the index to delete.
            let indexed = indexed(&tx)?;
            let ids: Vec<i64> = {
                let mut old = tx.prepare_cached("SELECT id FROM history WHERE at < ?1 LIMIT ?2")?;
                let rows = old.query_map(params![before, PRUNE_CHUNK], |row| row.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            {
                let mut row = tx.prepare_cached("DELETE FROM history WHERE id = ?1")?;
                let mut grams_row =
                    tx.prepare_cached("DELETE FROM history_grams WHERE rowid = ?1")?;
                for id in &ids {
                    row.execute([id])?;
                    if *id <= indexed {
                        grams_row.execute([id])?;
                    }
                }
            }
            tx.commit()?;
            total += ids.len();
            if ids.len() < PRUNE_CHUNK as usize {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64, text: &str) -> Record {
        Record {
            id,
            at: Timestamp::from_second(1_790_000_000 + id as i64).expect("ts"),
            text: text.into(),
        }
    }

    fn ids(store: &Store, q: &str) -> Vec<u64> {
        store
            .find_history(&grams::words(q), 10)
            .expect("find")
            .iter()
            .map(|r| r.id)
            .collect()
    }

    #[test]
    fn find_joins_the_indexed_and_the_not_yet_indexed_newest_first() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("suda.db")).expect("open");
        let old: Vec<Record> = (1..=6).map(|i| rec(i, "Alice >> 과제 old")).collect();
        store.apply(&[], &old, Timestamp::now()).expect("apply");
        assert_eq!(store.index_history(4).expect("index"), 4);
        assert_eq!(store.history_indexed().expect("indexed"), 4);
        let new: Vec<Record> = (7..=9).map(|i| rec(i, "Bob >> 과제 new")).collect();
        store.apply(&[], &new, Timestamp::now()).expect("apply");
        // 5..=9 are read, 1..=4 come from the index; the latest 10, in order.
        assert_eq!(ids(&store, "과제"), (1..=9).collect::<Vec<_>>());
        assert_eq!(ids(&store, "new"), [7, 8, 9]);
        assert_eq!(ids(&store, "old alice"), [1, 2, 3, 4, 5, 6]);
        let latest = store.find_history(&grams::words("과제"), 2).expect("find");
        assert_eq!(latest.iter().map(|r| r.id).collect::<Vec<_>>(), [8, 9]);
        // Pruning across the line leaves both halves consistent.
        assert_eq!(store.prune_history(old[5].at).expect("prune"), 5);
        assert_eq!(store.index_history(100).expect("index"), 4);
        assert_eq!(ids(&store, "과제"), [6, 7, 8, 9]);
    }

    #[test]
    fn find_korean_english_and_mixed_and_prune() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("suda.db")).expect("open");
        let records = [
            rec(1, "민수 >> 과제는 내일까지"),
            rec(2, "Alice >> The HOMEWORK is due Friday"),
            rec(3, "Bob >> 숙제 링크: https://example.org/Notebooks"),
            rec(4, "Bob >> 과자 먹자"),
            rec(5, "[AI] 과제 제출은 Zoom으로"),
        ];
        store.apply(&[], &records, Timestamp::now()).expect("apply");
        // Written, not indexed yet: found all the same, by reading them.
        assert_eq!(store.history_indexed().expect("indexed"), 0);
        assert_eq!(ids(&store, "과제"), [1, 5]);
        assert_eq!(ids(&store, "bob 과"), [4]);
        assert_eq!(store.index_history(1_000).expect("index"), 5);
        assert_eq!(store.index_history(1_000).expect("index"), 0);
        assert_eq!(store.history_indexed().expect("indexed"), 5);
        assert_eq!(ids(&store, "과제"), [1, 5]);
        assert_eq!(ids(&store, "homework"), [2]);
        assert_eq!(ids(&store, "book"), [3]);
        assert_eq!(ids(&store, "zoom 과제"), [5]);
        assert_eq!(ids(&store, "과"), [1, 4, 5]);
        assert_eq!(ids(&store, "bob 과"), [4]);
        assert!(ids(&store, "nothing").is_empty());
        assert_eq!(store.last_history_id().expect("id"), 5);
        let recent = store.recent_history(2).expect("recent");
        assert_eq!(recent, [records[3].clone(), records[4].clone()]);
        let pruned = store.prune_history(records[2].at).expect("prune");
        assert_eq!(pruned, 2);
        assert_eq!(ids(&store, "과제"), [5]);
        assert_eq!(ids(&store, "homework"), Vec::<u64>::new());
    }
}

/// The figures in BENCHMARKS.md ("History"): `cargo test --lib -- --ignored
/// history_at_a_million --nocapture` (SQLite is built optimised in every
/// profile, see Cargo.toml).
#[cfg(test)]
mod bench {
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore = "a benchmark: a million rows, a minute"]
    fn history_at_a_million() {
        const N: u64 = 1_000_000;
        const BATCH: u64 = 1_000;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("suda.db");
        let mut store = Store::open(&path).expect("open");
        let nicks = ["Alice", "민수", "Bob", "지영", "Carol"];
        let korean = [
            "과제는 내일까지 제출하세요",
            "오늘 수업 자료 올렸어요",
            "점심 뭐 먹을까요",
            "시험 범위가 어디까지인가요",
            "링크 다시 보내주세요",
        ];
        let english = [
            "the homework is due tomorrow",
            "see the slides for chapter",
            "who is coming to the lab",
            "meeting moved to room",
            "thanks everyone",
        ];
        let started = Instant::now();
        let t0 = Timestamp::now().as_second() - 86_400;
        let mut id = 1;
        while id <= N {
            let records: Vec<Record> = (id..id + BATCH)
                .map(|i| {
                    let k = (i % 5) as usize;
                    let text = if i % 2 == 0 {
                        format!(
                            "{} >> {} {}",
                            nicks[k],
                            korean[(i / 5 % 5) as usize],
                            i % 997
                        )
                    } else {
                        format!(
                            "{} >> {} {}",
                            nicks[k],
                            english[(i / 5 % 5) as usize],
                            i % 997
                        )
                    };
                    Record {
                        id: i,
                        at: Timestamp::from_second(t0 + (i as i64) / 20).expect("ts"),
                        text,
                    }
                })
                .collect();
            store.apply(&[], &records, Timestamp::now()).expect("apply");
            id += BATCH;
        }
        let wrote = started.elapsed();
        println!(
            "wrote {N} messages in batches of {BATCH} (not indexed): {:.1} s, {:.0} messages/s",
            wrote.as_secs_f64(),
            N as f64 / wrote.as_secs_f64()
        );
        let words = grams::words("기말과제");
        let t = Instant::now();
        let found = store.find_history(&words, 10).expect("find").len();
        println!(
            "/find 기말과제 with {MAX_UNINDEXED_SCAN} unindexed read: {found} found, {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        let started = Instant::now();
        while store.index_history(1_000).expect("index") > 0 {}
        let indexed = started.elapsed();
        println!(
            "indexed {N} messages in steps of 1 000: {:.1} s, {:.0} messages/s",
            indexed.as_secs_f64(),
            N as f64 / indexed.as_secs_f64()
        );
        // A rare word among a million.
        let rare = Record {
            id: N + 1,
            at: Timestamp::now(),
            text: "Alice >> 기말과제 링크는 https://example.org/final".into(),
        };
        store.apply(&[], &[rare], Timestamp::now()).expect("apply");
        store.index_history(1_000).expect("index");
        store
            .conn
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .expect("checkpoint");
        let size = std::fs::metadata(&path).expect("size").len();
        println!("database: {:.0} MB for {N} messages", size as f64 / 1e6);
        for query in [
            "과제",
            "기말과제",
            "homework due",
            "과제 링크",
            "the",
            "final",
            "과",
            "zzzz",
        ] {
            let words = grams::words(query);
            let mut best = f64::MAX;
            let mut found = 0;
            for _ in 0..5 {
                let t = Instant::now();
                found = store.find_history(&words, 10).expect("find").len();
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
            }
            println!("/find {query}: {found} found, {best:.2} ms (best of 5)");
        }
    }
}
