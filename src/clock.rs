//! Time as the room sees it: a monotonic clock for deadlines, the wall
//! clock in the room's time zone for what people read.

use std::fmt::Write as _;
use std::time::Instant;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// One reading of both clocks, taken once per loop turn and passed down, so
/// that the room never reads a clock itself (tests hand it any time they like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// For deadlines and rates: never jumps.
    pub mono: Instant,
    /// For what people read: `HH:MM`, timestamps, the log.
    pub wall: Timestamp,
}

impl Now {
    /// Reads the system clocks.
    pub fn read() -> Now {
        Now {
            mono: Instant::now(),
            wall: Timestamp::now(),
        }
    }

    /// This moment plus `delay` on both clocks.
    pub fn after(self, delay: std::time::Duration) -> Now {
        let wall = jiff::SignedDuration::try_from(delay)
            .ok()
            .and_then(|d| self.wall.checked_add(d).ok())
            .unwrap_or(Timestamp::MAX);
        Now {
            mono: self.mono + delay,
            wall,
        }
    }
}

/// The room's time zone and how it writes times.
#[derive(Debug, Clone)]
pub struct Clock {
    /// The zone `HH:MM` and timestamps are read in.
    tz: TimeZone,
    /// Whether every line sent starts with `[YYYY-MM-DD HH:MM] `.
    timestamps: bool,
    /// The last prefix made and the minute it is for: lines in the same
    /// minute share it instead of converting the time again.
    prefix: (i64, String),
}

impl Clock {
    /// A clock for `tz`, stamping lines if `timestamps` is set.
    pub fn new(tz: TimeZone, timestamps: bool) -> Clock {
        Clock {
            tz,
            timestamps,
            prefix: (i64::MIN, String::new()),
        }
    }

    /// The room's time zone.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// `YYYY-MM-DD HH:MM` in the room's zone.
    pub fn minute(&self, wall: Timestamp) -> String {
        wall.to_zoned_datetime(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// `YYYY-MM-DD HH:MM:SS` in the room's zone.
    pub fn second(&self, wall: Timestamp) -> String {
        wall.to_zoned_datetime(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// RFC 3339 with milliseconds and offset, for the log.
    pub fn rfc3339(&self, wall: Timestamp) -> String {
        wall.to_zoned_datetime(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string()
    }

    /// The start of every line sent at `wall`: `[YYYY-MM-DD HH:MM] ` with
    /// `--timestamps`, nothing otherwise.
    pub fn prefix(&mut self, wall: Timestamp) -> &str {
        if !self.timestamps {
            return "";
        }
        let minute = wall.as_second().div_euclid(60);
        if self.prefix.0 != minute {
            let mut text = String::with_capacity(20);
            let _ = write!(text, "[{}] ", self.minute(wall));
            self.prefix = (minute, text);
        }
        &self.prefix.1
    }
}

/// A duration the way people type them here: `7d`, `1h30m`, `90s` is `1m30s`.
///
/// ```
/// use std::time::Duration;
/// use suda::clock::compact;
/// assert_eq!(compact(Duration::from_secs(7 * 86400)), "7d");
/// assert_eq!(compact(Duration::from_secs(5400)), "1h30m");
/// assert_eq!(compact(Duration::from_millis(1500)), "1s500ms");
/// ```
pub fn compact(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    let millis = duration.subsec_millis();
    let mut text = String::new();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hours, rest) = (rest / 3_600, rest % 3_600);
    let (minutes, seconds) = (rest / 60, rest % 60);
    for (count, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")] {
        if count > 0 {
            let _ = write!(text, "{count}{unit}");
        }
    }
    if millis > 0 || text.is_empty() {
        let _ = write!(text, "{millis}ms");
    }
    text
}

/// Reads a time zone name for `--timezone`: an IANA name, or `local` for
/// the system's zone.
pub fn parse_zone(name: &str) -> Result<TimeZone, String> {
    if name.eq_ignore_ascii_case("local") {
        return TimeZone::try_system()
            .map_err(|e| format!("cannot read the system time zone: {e}"));
    }
    TimeZone::get(name).map_err(|_| {
        format!("unknown time zone {name:?}: use an IANA name such as UTC or Asia/Seoul")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seoul() -> TimeZone {
        parse_zone("Asia/Seoul").expect("bundled zone")
    }

    #[test]
    fn formats_in_the_room_zone() {
        let wall: Timestamp = "2026-11-23T15:04:05.678Z".parse().expect("timestamp");
        let clock = Clock::new(seoul(), true);
        assert_eq!(clock.minute(wall), "2026-11-24 00:04");
        assert_eq!(clock.rfc3339(wall), "2026-11-24T00:04:05.678+09:00");
    }

    #[test]
    fn prefix_only_with_timestamps_and_follows_the_minute() {
        let wall: Timestamp = "2026-11-23T15:04:59Z".parse().expect("timestamp");
        let mut plain = Clock::new(TimeZone::UTC, false);
        assert_eq!(plain.prefix(wall), "");
        let mut stamped = Clock::new(TimeZone::UTC, true);
        assert_eq!(stamped.prefix(wall), "[2026-11-23 15:04] ");
        let next: Timestamp = "2026-11-23T15:05:00Z".parse().expect("timestamp");
        assert_eq!(stamped.prefix(next), "[2026-11-23 15:05] ");
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_zone("UTC").is_ok());
    }
}
