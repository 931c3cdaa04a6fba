//! A hierarchical timer wheel: login and idle timeouts, scheduled messages.
//!
//! Six levels of 64 slots with a 1 ms tick cover about two years; level `n`
//! slots are `64^n` ms wide. A timer goes into the level where its deadline
//! first differs from "now", so insertion is O(1) whatever the number of
//! pending timers (100 000 scheduled messages cost nothing per loop turn).
//! When time reaches a slot of an upper level, its timers move down
//! ("cascade"); each is moved at most five times in its life.
//!
//! Timers are never cancelled here. The owner checks on expiry whether the
//! timer still means something (is the connection still the same one, is the
//! message still pending?) and ignores it otherwise. That keeps the wheel
//! free of handles and the owner free of bookkeeping.
//!
//! Occupied slots are kept in one `u64` bit set per level, so the next
//! deadline (the reactor's poll timeout) is found with a few bit operations.

use std::time::{Duration, Instant};

/// Slots per level, as a power of two.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels: 64^6 ms is about 795 days.
const LEVELS: usize = 6;
/// Timers further away than this are parked half-way and looked at again.
const PARK_SPAN: u64 = 1 << 35;

/// One pending timer.
#[derive(Debug)]
struct Entry<T> {
    /// Deadline in ticks (ms) since the wheel's origin.
    when: u64,
    /// What the owner wants back.
    value: T,
}

/// One ring of slots.
#[derive(Debug)]
struct Level<T> {
    /// Bit `i` is set when `slots[i]` is not empty.
    occupied: u64,
    /// Timers by slot.
    slots: [Vec<Entry<T>>; SLOTS],
}

impl<T> Level<T> {
    fn new() -> Level<T> {
        Level {
            occupied: 0,
            slots: std::array::from_fn(|_| Vec::new()),
        }
    }
}

/// Timers keyed by monotonic deadline, each carrying a `T`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use suda::timer::TimerWheel;
/// let start = Instant::now();
/// let mut wheel = TimerWheel::new(start);
/// wheel.insert(start + Duration::from_secs(2), "b");
/// wheel.insert(start + Duration::from_secs(1), "a");
/// let mut fired = Vec::new();
/// wheel.expire(start + Duration::from_millis(1500), &mut fired);
/// assert_eq!(fired, ["a"]);
/// // Never later than the timer (possibly a slot boundary before it).
/// assert!(wheel.next_deadline() <= Some(start + Duration::from_secs(2)));
/// wheel.expire(start + Duration::from_secs(2), &mut fired);
/// assert_eq!(fired, ["a", "b"]);
/// ```
#[derive(Debug)]
pub struct TimerWheel<T> {
    /// Tick zero.
    origin: Instant,
    /// Ticks processed so far: every timer at or before this has fired.
    elapsed: u64,
    /// The rings, finest first.
    levels: Vec<Level<T>>,
    /// Timers inserted with a deadline already passed: fired on the next
    /// [`TimerWheel::expire`].
    due: Vec<T>,
    /// Number of pending timers.
    len: usize,
}

impl<T> TimerWheel<T> {
    /// An empty wheel whose clock starts at `origin`.
    pub fn new(origin: Instant) -> TimerWheel<T> {
        TimerWheel {
            origin,
            elapsed: 0,
            levels: (0..LEVELS).map(|_| Level::new()).collect(),
            due: Vec::new(),
            len: 0,
        }
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a timer firing at `at` (never before it; up to a tick after).
    pub fn insert(&mut self, at: Instant, value: T) {
        let since = at.saturating_duration_since(self.origin);
        // Round up so that a timer never fires early.
        let when = u64::try_from(since.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        self.len += 1;
        if when <= self.elapsed {
            self.due.push(value);
        } else {
            self.place(Entry { when, value });
        }
    }

    /// The earliest deadline, for the poll timeout. It may be a slot
    /// boundary before the actual timer: waking then only cascades.
    pub fn next_deadline(&self) -> Option<Instant> {
        let tick = if self.due.is_empty() {
            self.next_slot()?.2
        } else {
            self.elapsed
        };
        Some(self.origin + Duration::from_millis(tick))
    }

    /// Moves the clock to `now` and appends the values of every timer whose
    /// deadline has passed to `fired`, earliest first.
    pub fn expire(&mut self, now: Instant, fired: &mut Vec<T>) {
        let target = u64::try_from(now.saturating_duration_since(self.origin).as_millis())
            .unwrap_or(u64::MAX);
        self.len -= self.due.len();
        fired.append(&mut self.due);
        while let Some((level, slot, tick)) = self.next_slot() {
            if tick > target {
                break;
            }
            self.elapsed = self.elapsed.max(tick);
            let entries = std::mem::take(&mut self.levels[level].slots[slot]);
            self.levels[level].occupied &= !(1 << slot);
            for entry in entries {
                if entry.when <= self.elapsed {
                    self.len -= 1;
                    fired.push(entry.value);
                } else {
                    self.place(entry);
                }
            }
        }
        self.elapsed = self.elapsed.max(target);
    }

    /// Puts a future entry in the level where its deadline first differs
    /// from `elapsed`.
    fn place(&mut self, entry: Entry<T>) {
        let at = entry.when.min(self.elapsed + PARK_SPAN);
        let differing = (self.elapsed ^ at) | (SLOTS as u64 - 1);
        let level = ((63 - differing.leading_zeros()) / SLOT_BITS) as usize;
        let level = level.min(LEVELS - 1);
        let slot = ((at >> (level as u32 * SLOT_BITS)) as usize) & (SLOTS - 1);
        self.levels[level].slots[slot].push(entry);
        self.levels[level].occupied |= 1 << slot;
    }

    /// The first occupied slot at or after now: `(level, slot, start tick)`.
    ///
    /// Lower levels always hold earlier deadlines than higher ones, so the
    /// first level with anything in it decides.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        self.levels.iter().enumerate().find_map(|(index, level)| {
            if level.occupied == 0 {
                return None;
            }
            let shift = index as u32 * SLOT_BITS;
            let slot_span = 1u64 << shift;
            let level_span = slot_span << SLOT_BITS;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            let ahead = level
                .occupied
                .rotate_right(now_slot as u32)
                .trailing_zeros() as usize;
            let slot = (now_slot + ahead) & (SLOTS - 1);
            let level_start = self.elapsed & !(level_span - 1);
            let mut tick = level_start + slot as u64 * slot_span;
            if slot < now_slot {
                // Wrapped around: that slot's turn comes in the next rotation.
                tick += level_span;
            }
            Some((index, slot, tick.max(self.elapsed)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers (xorshift), so failures repeat.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_order_and_never_early() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(start);
        for (i, delay) in [5u64, 1, 70, 64, 4096, 63, 300_000, 1].iter().enumerate() {
            wheel.insert(start + ms(*delay), (*delay, i));
        }
        let mut fired = Vec::new();
        wheel.expire(start + ms(0), &mut fired);
        assert!(fired.is_empty());
        wheel.expire(start + ms(64), &mut fired);
        let delays: Vec<u64> = fired.iter().map(|(d, _)| *d).collect();
        assert_eq!(delays, [1, 1, 5, 63, 64]);
        fired.clear();
        wheel.expire(start + ms(1_000_000), &mut fired);
        let delays: Vec<u64> = fired.iter().map(|(d, _)| *d).collect();
        assert_eq!(delays, [70, 4096, 300_000]);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn past_deadlines_fire_on_next_expire() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(start);
        let mut fired = Vec::new();
        wheel.expire(start + ms(100), &mut fired);
        wheel.insert(start + ms(50), "late");
        assert_eq!(wheel.next_deadline(), Some(start + ms(100)));
        wheel.expire(start + ms(100), &mut fired);
        assert_eq!(fired, ["late"]);
    }

    /// Random deadlines and random clock steps, checked against a sorted list.
    #[test]
    fn matches_a_sorted_list_under_random_use() {
        let mut rng = Rng(0x5eed_cafe_f00d_d00d);
        let start = Instant::now();
        let mut wheel = TimerWheel::new(start);
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut now = 0u64;
        let mut id = 0u64;
        for _ in 0..20_000 {
            if rng.next() % 3 != 0 {
                let delay = match rng.next() % 4 {
                    0 => rng.next() % 64,
                    1 => rng.next() % 5_000,
                    2 => rng.next() % 10_000_000,
                    _ => rng.next() % 100_000_000_000,
                };
                wheel.insert(start + ms(now + delay), id);
                model.push((now + delay, id));
                id += 1;
            } else {
                // Poll as the reactor would: never past the next deadline
                // by more than a random step.
                if let Some(next) = wheel.next_deadline() {
                    let next = next.duration_since(start).as_millis() as u64;
                    let earliest = model.iter().map(|(w, _)| *w).min().unwrap_or(u64::MAX);
                    assert!(next <= earliest, "deadline {next} > earliest {earliest}");
                }
                now += match rng.next() % 3 {
                    0 => rng.next() % 10,
                    1 => rng.next() % 10_000,
                    _ => rng.next() % 1_000_000_000,
                };
                let mut fired = Vec::new();
                wheel.expire(start + ms(now), &mut fired);
                let mut expected: Vec<(u64, u64)> = model
                    .iter()
                    .copied()
                    .filter(|(when, _)| *when <= now)
                    .collect();
                model.retain(|(when, _)| *when > now);
                expected.sort();
                let mut got = fired.clone();
                got.sort();
                let mut want: Vec<u64> = expected.iter().map(|(_, id)| *id).collect();
                want.sort();
                assert_eq!(got, want, "at {now}");
                assert_eq!(wheel.len(), model.len());
            }
        }
    }

    #[test]
    fn next_deadline_is_exact_for_near_timers() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(start);
        wheel.insert(start + ms(37), ());
        assert_eq!(wheel.next_deadline(), Some(start + ms(37)));
    }

    #[test]
    fn far_deadlines_are_parked_and_still_exact() {
        let start = Instant::now();
        let mut wheel = TimerWheel::new(start);
        let far = 3 * 365 * 24 * 3600 * 1000u64;
        wheel.insert(start + ms(far), "far");
        let mut fired = Vec::new();
        wheel.expire(start + ms(far - 1), &mut fired);
        assert!(fired.is_empty());
        wheel.expire(start + ms(far), &mut fired);
        assert_eq!(fired, ["far"]);
    }
}
