//! `--connect-rate`: new connections per second from one network (an IPv4
//! address, an IPv6 /64), a token bucket each, so that one address cannot
//! make the server accept, welcome and evict thousands of sockets a second.
//!
//! The table is bounded: a bucket that has refilled says nothing a fresh
//! one would not, so buckets untouched for a whole refill are swept away,
//! and past [`MAX_NETWORKS`] a network not yet known is let through
//! untracked (a flood from that many sources is beyond what a per-address
//! limit can stop; the waiting room's eviction still applies to it).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::net::ipnet::network;
use crate::room::ratelimit::{Rate, TokenBucket};

/// Networks tracked at once, at most: about 64 bytes each, so a few MiB
/// at worst, and it takes some 30 000 new sources a second to fill it.
pub const MAX_NETWORKS: usize = 65_536;

/// Between sweeps at least (a very high rate refills almost at once).
const MIN_SWEEP: Duration = Duration::from_millis(100);

/// Token buckets by network.
#[derive(Debug)]
pub struct ConnectRate {
    /// Connections per second after the burst, and the burst.
    rate: Rate,
    /// Each network's bucket and when it last took a token.
    buckets: HashMap<IpAddr, (TokenBucket, Instant)>,
    /// How long an untouched bucket takes to fill up again.
    refill: Duration,
    /// When refilled buckets are next swept away.
    sweep_at: Instant,
    /// Most networks tracked (see [`MAX_NETWORKS`]).
    capacity: usize,
    /// When the operator was last told the table is full.
    warned: Option<Instant>,
}

impl ConnectRate {
    /// An empty table for `rate`.
    pub fn new(rate: Rate, now: Instant) -> ConnectRate {
        ConnectRate::with_capacity(rate, MAX_NETWORKS, now)
    }

    fn with_capacity(rate: Rate, capacity: usize, now: Instant) -> ConnectRate {
        let refill = Duration::try_from_secs_f64(f64::from(rate.burst.max(1)) / rate.per_second)
            .unwrap_or(Duration::MAX)
            .max(MIN_SWEEP);
        ConnectRate {
            rate,
            buckets: HashMap::new(),
            refill,
            sweep_at: now.checked_add(refill).unwrap_or(now),
            capacity,
            warned: None,
        }
    }

    /// Whether one more connection from `ip` may come in now (it takes a
    /// token if so).
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> bool {
        if now >= self.sweep_at {
            self.sweep(now);
        }
        let net = network(ip);
        if let Some((bucket, last)) = self.buckets.get_mut(&net) {
            *last = now;
            return bucket.try_take(self.rate, now);
        }
        if self.buckets.len() >= self.capacity {
            self.sweep(now);
            if self.buckets.len() >= self.capacity {
                let quiet = self
                    .warned
                    .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(60));
                if quiet {
                    self.warned = Some(now);
                    log::warn!(
                        "connections from more than {} networks within {:?}: --connect-rate cannot follow them all",
                        self.capacity,
                        self.refill
                    );
                }
                return true;
            }
        }
        let mut bucket = TokenBucket::new(self.rate, now);
        let admitted = bucket.try_take(self.rate, now);
        self.buckets.insert(net, (bucket, now));
        admitted
    }

    /// Forgets the buckets that have filled up again.
    fn sweep(&mut self, now: Instant) {
        let refill = self.refill;
        self.buckets
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < refill);
        self.sweep_at = now.checked_add(refill).unwrap_or(now);
    }

    /// Networks tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const RATE: Rate = Rate {
        per_second: 2.0,
        burst: 3,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn a_burst_then_the_rate_per_address() {
        let start = Instant::now();
        let mut table = ConnectRate::new(RATE, start);
        let first = (0..10)
            .filter(|_| table.admit(ip("10.0.0.1"), start))
            .count();
        assert_eq!(first, 3);
        // Another address has its own bucket.
        assert!(table.admit(ip("10.0.0.2"), start));
        // Half a second at 2/s: one more.
        let later = start + Duration::from_millis(500);
        let more = (0..10)
            .filter(|_| table.admit(ip("10.0.0.1"), later))
            .count();
        assert_eq!(more, 1);
    }

    #[test]
    fn an_ipv6_host_counts_as_its_slash_64() {
        let start = Instant::now();
        let mut table = ConnectRate::new(RATE, start);
        let admitted = (0..10u16)
            .filter(|i| table.admit(ip(&format!("2001:db8:0:1::{i:x}")), start))
            .count();
        assert_eq!(admitted, 3);
        assert!(table.admit(ip("2001:db8:0:2::1"), start));
        // IPv4 seen through a dual-stack socket is the same IPv4 address.
        let v4 = (0..10)
            .filter(|_| table.admit(ip("::ffff:192.0.2.1"), start))
            .count()
            + usize::from(table.admit(ip("192.0.2.1"), start));
        assert_eq!(v4, 3);
    }

    #[test]
    fn the_table_stays_bounded_under_many_sources() {
        let start = Instant::now();
        let mut table = ConnectRate::with_capacity(RATE, 1000, start);
        // 5 000 sources in one moment: the table holds 1 000, the rest pass untracked.
        for i in 0..5000u32 {
            assert!(table.admit(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), start));
        }
        assert_eq!(table.tracked(), 1000);
        // Once their buckets have refilled (1.5 s at 2/s, burst 3) they are swept.
        let later = start + Duration::from_secs(2);
        assert!(table.admit(ip("192.0.2.1"), later));
        assert_eq!(table.tracked(), 1);
    }

    #[test]
    fn a_bucket_in_use_is_not_swept() {
        let start = Instant::now();
        let mut table = ConnectRate::new(RATE, start);
        for _ in 0..3 {
            table.admit(ip("10.0.0.1"), start);
        }
        // Keeps knocking every second: never forgotten, never more than the rate.
        let mut admitted = 0;
        for second in 1..=10 {
            let now = start + Duration::from_secs(second);
            admitted += (0..5).filter(|_| table.admit(ip("10.0.0.1"), now)).count();
        }
        assert_eq!(admitted, 20);
    }
}
