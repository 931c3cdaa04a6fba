//! How many of the room's messages a second go to the database
//! (`--history-rate`): past it, a message is still in the room's ring in
//! memory (replay, catch-up, `/history` and `/find` over the ring see it)
//! but not stored, so a restart would not have it.
//!
//! Why a rate and not only a queue: the disk thread shares the machine
//! with the reactor, and a burst it could buffer still costs it CPU per
//! message that the room's fanout then lacks. Capping what is stored keeps
//! that cost bounded however fast the room talks.

use std::time::{Duration, Instant};

/// How often a shedding disk is reported in the server's log.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// A token bucket of one second's worth of messages, and its count of
/// messages left out.
#[derive(Debug)]
pub struct Shed {
    /// Messages a second; 0 for no cap.
    rate: u32,
    /// Messages that may go now.
    tokens: f64,
    /// When `tokens` was last filled.
    filled: Instant,
    /// Messages left out so far.
    total: u64,
    /// Messages left out since the last report.
    unreported: u64,
    /// When the last report was logged.
    reported: Option<Instant>,
}

impl Shed {
    /// A bucket for `rate` messages a second (0: everything goes).
    pub fn new(rate: u32) -> Shed {
        Shed {
            rate,
            tokens: f64::from(rate),
            filled: Instant::now(),
            total: 0,
            unreported: 0,
            reported: None,
        }
    }

    /// Whether one more message may be stored at `now`; if not, it is
    /// counted, and reported at most once per [`REPORT_EVERY`].
    pub fn admit(&mut self, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        let rate = f64::from(self.rate);
        let elapsed = now.saturating_duration_since(self.filled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.filled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        self.total += 1;
        self.unreported += 1;
        if self
            .reported
            .is_none_or(|at| now.saturating_duration_since(at) >= REPORT_EVERY)
        {
            log::warn!(
                "history: more than {} messages a second (--history-rate): {} kept in memory only \
                 since the last report, {} in all",
                self.rate,
                self.unreported,
                self.total
            );
            self.unreported = 0;
            self.reported = Some(now);
        }
        false
    }

    /// Messages left out so far.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_s_worth_goes_then_the_rate_then_none_over_it() {
        let start = Instant::now();
        let mut shed = Shed::new(100);
        let first = (0..150).filter(|_| shed.admit(start)).count();
        assert_eq!(first, 100);
        assert_eq!(shed.total(), 50);
        // Half a second later, half a second's worth.
        let later = start + Duration::from_millis(500);
        let second = (0..150).filter(|_| shed.admit(later)).count();
        assert_eq!(second, 50);
        assert_eq!(shed.total(), 150);
    }

    #[test]
    fn zero_is_no_cap() {
        let mut shed = Shed::new(0);
        let now = Instant::now();
        assert!((0..100_000).all(|_| shed.admit(now)));
        assert_eq!(shed.total(), 0);
    }
}
