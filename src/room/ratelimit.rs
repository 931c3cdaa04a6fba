//! Flood control: a token bucket per participant.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How many lines a participant may send: `per_second` on average, with
/// bursts of up to `burst` (someone pasting a few lines is not a flood).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained lines per second.
    pub per_second: f64,
    /// Lines that may be sent at once after a quiet spell.
    pub burst: u32,
}

/// A rate as written on the command line: `N/s`, `N/m` or `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSpec(pub Option<f64>);

impl FromStr for RateSpec {
    type Err = String;

    /// ```
    /// use suda::room::ratelimit::RateSpec;
    /// assert_eq!("5/s".parse::<RateSpec>(), Ok(RateSpec(Some(5.0))));
    /// assert_eq!("120/m".parse::<RateSpec>(), Ok(RateSpec(Some(2.0))));
    /// assert_eq!("1/10s".parse::<RateSpec>(), Ok(RateSpec(Some(0.1))));
    /// assert_eq!("off".parse::<RateSpec>(), Ok(RateSpec(None)));
    /// assert!("banana".parse::<RateSpec>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(RateSpec(None));
        }
        let bad = || format!("expected a rate like 5/s, 300/m, 1/10s or off, not {text:?}");
        let (count, unit) = text.split_once('/').ok_or_else(bad)?;
        let count: f64 = count.trim().parse().map_err(|_| bad())?;
        let seconds = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            // "1/10s": one per ten seconds.
            other => match humantime::parse_duration(other) {
                Ok(d) if !d.is_zero() => d.as_secs_f64(),
                _ => return Err(bad()),
            },
        };
        if !(count.is_finite() && count > 0.0) {
            return Err(bad());
        }
        Ok(RateSpec(Some(count / seconds)))
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(rate) => write!(f, "{rate}/s"),
        }
    }
}

/// One participant's bucket.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    /// Lines that may be sent right now (fractional while refilling).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket: a newcomer may say a few lines at once.
    pub fn new(rate: Rate, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(rate.burst),
            updated: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated);
        self.updated = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * rate.per_second)
            .min(f64::from(rate.burst.max(1)));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Gives back a token taken for something that did not happen.
    pub fn refund(&mut self, rate: Rate) {
        self.tokens = (self.tokens + 1.0).min(f64::from(rate.burst.max(1)));
    }

    /// How long until the next line would be accepted.
    pub fn wait(&self, rate: Rate) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / rate.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_second: 5.0,
        burst: 20,
    };

    #[test]
    fn burst_then_steady_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(RATE, start);
        let sent = (0..100).filter(|_| bucket.try_take(RATE, start)).count();
        assert_eq!(sent, 20);
        // One second later: five more.
        let later = start + Duration::from_secs(1);
        let sent = (0..100).filter(|_| bucket.try_take(RATE, later)).count();
        assert_eq!(sent, 5);
    }

    #[test]
    fn refill_stops_at_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(RATE, start);
        let much_later = start + Duration::from_secs(3600);
        let sent = (0..100)
            .filter(|_| bucket.try_take(RATE, much_later))
            .count();
        assert_eq!(sent, 20);
    }

    #[test]
    fn tokens_accumulate_across_small_steps() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(RATE, start);
        while bucket.try_take(RATE, start) {}
        // A second in 1 ms steps (plus slack for rounding) is five tokens at 5/s.
        let mut accepted = 0;
        for ms in 1..=1010 {
            if bucket.try_take(RATE, start + Duration::from_millis(ms)) {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 5);
    }

    #[test]
    fn parse_rejects_nonsense() {
        for bad in ["", "5", "5/x", "-1/s", "0/s", "nan/s", "/s"] {
            assert!(bad.parse::<RateSpec>().is_err(), "{bad}");
        }
    }
}
