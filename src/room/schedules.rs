//! `/schedule`: when a message is due, and the messages waiting.
//!
//! Due times are wall-clock [`Timestamp`]s, because that is what survives a
//! restart and what people read. The room turns them into monotonic
//! deadlines for the timer wheel.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// When a scheduled message should go out, as the user wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `HH:MM`: the next time the room's wall clock shows it.
    At {
        /// 0 to 23.
        hour: i8,
        /// 0 to 59.
        minute: i8,
    },
    /// A humantime duration such as `90s`, `10m`, `1h30m`.
    After(Duration),
}

impl When {
    /// Reads `HH:MM` or a duration.
    ///
    /// ```
    /// use std::time::Duration;
    /// use suda::room::schedules::When;
    /// assert_eq!(When::parse("9:05"), Some(When::At { hour: 9, minute: 5 }));
    /// assert_eq!(When::parse("1h30m"), Some(When::After(Duration::from_secs(5400))));
    /// assert_eq!(When::parse("24:00"), None);
    /// assert_eq!(When::parse("soon"), None);
    /// ```
    pub fn parse(text: &str) -> Option<When> {
        if let Some((hour, minute)) = text.split_once(':') {
            let digits = |s: &str, max: usize| {
                (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.parse::<i8>().ok())
                    .flatten()
            };
            let hour = digits(hour, 2)?;
            let minute = digits(minute, 2).filter(|_| minute.len() == 2)?;
            return ((0..24).contains(&hour) && (0..60).contains(&minute))
                .then_some(When::At { hour, minute });
        }
        // humantime takes "1h 30m" too, but the argument is one word here;
        // a bare number is ambiguous, so it is refused.
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        humantime::parse_duration(text).ok().map(When::After)
    }

    /// The moment this means, seen from `now` in zone `tz`.
    ///
    /// `HH:MM` is the next time the wall clock shows it: later today, or
    /// tomorrow if that minute has begun or passed. In a daylight-saving gap
    /// the time is moved forward, as clocks do.
    pub fn resolve(self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            When::After(delay) => {
                let delay = SignedDuration::try_from(delay).ok()?;
                now.checked_add(delay).ok()
            }
            When::At { hour, minute } => {
                let today = now.to_zoned_datetime(tz.clone()).date();
                let mut day = today;
                loop {
                    let candidate = day
                        .at(hour, minute, 0, 0)
                        .to_zoned_datetime(tz.clone())
                        .ok()?
                        .timestamp();
                    if candidate > now {
                        return Some(candidate);
                    }
                    day = day.tomorrow().ok()?;
                    if day > today.tomorrow().ok()?.tomorrow().ok()? {
                        return None;
                    }
                }
            }
        }
    }
}

/// One message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    /// The number users see and cancel with (`#3`).
    pub id: u64,
    /// When it goes out.
    pub due: Timestamp,
    /// The author's nickname, kept up to date while the author renames.
    pub author: String,
    /// The message, already sanitized.
    pub text: String,
    /// The author's connection (slab key and serial) in this server run;
    /// `None` for messages loaded from the state file. The serial tells
    /// whether the author is still there. The messages belong to this
    /// connection, not to the name: once it is gone, only an admin can list
    /// or cancel them.
    #[serde(skip)]
    pub author_conn: Option<(usize, u64)>,
}

/// What the state file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SavedState {
    /// Format version, for future changes.
    pub version: u32,
    /// The next message number, so numbers are not reused after a restart.
    pub next_id: u64,
    /// The pending messages.
    pub messages: Vec<Scheduled>,
}

/// The pending scheduled messages of the room.
#[derive(Debug)]
pub struct Schedules {
    /// By id (ids grow, so this is also creation order).
    pending: BTreeMap<u64, Scheduled>,
    /// Message ids by author serial: `/schedules`, the per-author limit,
    /// renames and kicks, without scanning every pending message.
    by_author: HashMap<u64, BTreeSet<u64>>,
    /// The network each message of this run was written from (not the
    /// console's), for `--max-scheduled-per-ip`. Kept in memory only:
    /// restored messages count towards the room's limits, not an address's.
    origins: HashMap<u64, IpAddr>,
    /// Pending messages by the author's network.
    by_network: HashMap<IpAddr, usize>,
    /// Bytes of text pending, for `--max-scheduled-bytes`.
    bytes: usize,
    /// The id the next message gets.
    next_id: u64,
}

impl Default for Schedules {
    fn default() -> Self {
        Schedules {
            pending: BTreeMap::new(),
            by_author: HashMap::new(),
            origins: HashMap::new(),
            by_network: HashMap::new(),
            bytes: 0,
            next_id: 1,
        }
    }
}

impl Schedules {
    /// Starts from saved state (or nothing). Restored messages belong to
    /// no one: their authors' connections ended with the last run, and
    /// whoever comes back under a name is not known to be the same person.
    pub fn restore(state: SavedState) -> Schedules {
        let mut schedules = Schedules {
            next_id: state.next_id.max(1),
            ..Schedules::default()
        };
        for mut message in state.messages {
            schedules.next_id = schedules.next_id.max(message.id + 1);
            message.author_conn = None;
            schedules.account(&message, None, true);
            schedules.pending.insert(message.id, message);
        }
        schedules
    }

    /// Counts `message` (written from `origin`) in or out of the
    /// per-network and byte totals.
    fn account(&mut self, message: &Scheduled, origin: Option<IpAddr>, added: bool) {
        if added {
            self.bytes += message.text.len();
        } else {
            self.bytes = self.bytes.saturating_sub(message.text.len());
        }
        let Some(network) = origin else {
            return;
        };
        if added {
            self.origins.insert(message.id, network);
            *self.by_network.entry(network).or_default() += 1;
        } else if let Some(count) = self.by_network.get_mut(&network) {
            *count -= 1;
            if *count == 0 {
                self.by_network.remove(&network);
            }
        }
    }

    /// Pending messages written from `network`.
    pub fn count_from(&self, network: IpAddr) -> usize {
        self.by_network.get(&network).copied().unwrap_or(0)
    }

    /// Bytes of text pending.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Every pending message, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Scheduled> {
        self.pending.values()
    }

    /// Number of pending messages.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The id the next message will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Adds a message by connection `(key, uid)`, written from `origin`,
    /// and returns it.
    pub fn add(
        &mut self,
        due: Timestamp,
        (key, uid): (usize, u64),
        author: &str,
        text: &str,
        origin: Option<IpAddr>,
    ) -> &Scheduled {
        let id = self.next_id;
        self.next_id += 1;
        self.by_author.entry(uid).or_default().insert(id);
        let message = Scheduled {
            id,
            due,
            author: author.to_string(),
            text: text.to_string(),
            author_conn: Some((key, uid)),
        };
        self.account(&message, origin, true);
        self.pending.entry(id).or_insert(message)
    }

    /// A pending message.
    pub fn get(&self, id: u64) -> Option<&Scheduled> {
        self.pending.get(&id)
    }

    /// Removes a message (sent or cancelled).
    pub fn remove(&mut self, id: u64) -> Option<Scheduled> {
        let message = self.pending.remove(&id)?;
        if let Some((_, uid)) = message.author_conn {
            forget(&mut self.by_author, &uid, id);
        }
        let origin = self.origins.remove(&id);
        self.account(&message, origin, false);
        Some(message)
    }

    /// The messages of one author, by id.
    pub fn by_author(&self, uid: u64) -> impl Iterator<Item = &Scheduled> {
        self.by_author
            .get(&uid)
            .into_iter()
            .flatten()
            .filter_map(|id| self.pending.get(id))
    }

    /// How many messages one author has pending.
    pub fn count_by(&self, uid: u64) -> usize {
        self.by_author.get(&uid).map_or(0, BTreeSet::len)
    }

    /// Follows an author's `/rename`.
    pub fn rename_author(&mut self, uid: u64, nick: &str) {
        for id in self.by_author.get(&uid).into_iter().flatten() {
            if let Some(message) = self.pending.get_mut(id) {
                message.author = nick.to_string();
            }
        }
    }

    /// Drops every message of an author (who was kicked); returns their ids.
    pub fn remove_author(&mut self, uid: u64) -> Vec<u64> {
        let ids: Vec<u64> = self.by_author.remove(&uid).into_iter().flatten().collect();
        for id in &ids {
            if let Some(message) = self.pending.remove(id) {
                let origin = self.origins.remove(id);
                self.account(&message, origin, false);
            }
        }
        ids
    }
}

/// Takes `id` out of an index entry, dropping the entry when it empties.
fn forget<K: std::hash::Hash + Eq>(index: &mut HashMap<K, BTreeSet<u64>>, key: &K, id: u64) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(&id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn seoul() -> TimeZone {
        TimeZone::get("Asia/Seoul").expect("zone")
    }

    #[test]
    fn parses_clock_times_and_durations() {
        assert_eq!(When::parse("00:00"), Some(When::At { hour: 0, minute: 0 }));
        assert_eq!(
            When::parse("23:59"),
            Some(When::At {
                hour: 23,
                minute: 59
            })
        );
        assert_eq!(
            When::parse("90s"),
            Some(When::After(Duration::from_secs(90)))
        );
        assert_eq!(
            When::parse("10m"),
            Some(When::After(Duration::from_secs(600)))
        );
        for bad in [
            "", "12:5", "12:", ":30", "123:00", "12:60", "-1:00", "1:2:3", "90", "1x", "+5m",
        ] {
            assert_eq!(When::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn clock_time_is_the_next_one_in_the_room_zone() {
        // 14:00 in Seoul is 05:00 UTC.
        let now = at("2026-11-23T05:00:30Z");
        let later = When::At {
            hour: 14,
            minute: 30,
        }
        .resolve(now, &seoul());
        assert_eq!(later, Some(at("2026-11-23T05:30:00Z")));
        // 14:00 has already begun: tomorrow.
        let tomorrow = When::At {
            hour: 14,
            minute: 0,
        }
        .resolve(now, &seoul());
        assert_eq!(tomorrow, Some(at("2026-11-24T05:00:00Z")));
        // The same wall time in UTC means something else.
        let utc = When::At {
            hour: 14,
            minute: 30,
        }
        .resolve(now, &TimeZone::UTC);
        assert_eq!(utc, Some(at("2026-11-23T14:30:00Z")));
    }

    #[test]
    fn clock_time_in_a_dst_gap_moves_forward() {
        let ny = TimeZone::get("America/New_York").expect("zone");
        // 2026-03-08 02:30 does not exist in New York: clocks jump 02:00 -> 03:00.
        let now = at("2026-03-08T06:00:00Z"); // 01:00 EST
        let due = When::At {
            hour: 2,
            minute: 30,
        }
        .resolve(now, &ny)
        .expect("due");
        assert_eq!(due, at("2026-03-08T07:30:00Z")); // 03:30 EDT
    }

    #[test]
    fn durations_add_to_now() {
        let now = at("2026-11-23T05:00:00Z");
        let due = When::After(Duration::from_secs(5400)).resolve(now, &seoul());
        assert_eq!(due, Some(at("2026-11-23T06:30:00Z")));
    }

    #[test]
    fn store_tracks_authors() {
        let mut store = Schedules::default();
        let due = at("2026-11-23T05:00:00Z");
        let net: IpAddr = "198.51.100.1".parse().expect("ip");
        let first = store.add(due, (1, 7), "Charlie", "one", Some(net)).id;
        let second = store.add(due, (1, 7), "Charlie", "two", Some(net)).id;
        store.add(due, (2, 8), "Dana", "three", None);
        assert_eq!(store.count_by(7), 2);
        assert_eq!(store.count_from(net), 2);
        assert_eq!(store.bytes(), 11);
        store.rename_author(7, "Chuck");
        assert!(store.by_author(7).all(|m| m.author == "Chuck"));
        assert_eq!(store.remove(first).map(|m| m.text), Some("one".into()));
        assert_eq!(store.remove_author(7), vec![second]);
        assert_eq!(store.len(), 1);
        assert_eq!(store.count_by(7), 0);
        assert_eq!(store.count_from(net), 0);
        assert_eq!(store.bytes(), 5);
    }

    #[test]
    fn restored_messages_belong_to_nobody_but_still_count() {
        let state = SavedState {
            version: 1,
            next_id: 3,
            messages: vec![Scheduled {
                id: 2,
                due: at("2026-11-23T05:00:00Z"),
                author: "Carl".into(),
                text: "xyz".into(),
                author_conn: None,
            }],
        };
        let mut store = Schedules::restore(state);
        assert_eq!(store.bytes(), 3);
        assert_eq!(store.count_by(11), 0);
        assert_eq!(store.remove_author(11), Vec::<u64>::new());
        assert_eq!(store.remove(2).map(|m| m.author), Some("Carl".into()));
        assert_eq!(store.bytes(), 0);
    }

    #[test]
    fn restore_keeps_numbering_ahead() {
        let state = SavedState {
            version: 1,
            next_id: 3,
            messages: vec![Scheduled {
                id: 9,
                due: at("2026-11-23T05:00:00Z"),
                author: "A".into(),
                text: "x".into(),
                author_conn: None,
            }],
        };
        let store = Schedules::restore(state);
        assert_eq!(store.next_id(), 10);
        assert_eq!(store.len(), 1);
    }
}
