//! Guessing passwords from one address: after [`GUESSES`] wrong ones
//! within [`WINDOW`], that address gets "wrong" without being checked
//! until the oldest of them is a minute old.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong passwords an address may give within [`WINDOW`].
pub const GUESSES: usize = 5;
/// How long a wrong password counts against its address.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most. Each costs a few dozen bytes; past this
/// (an attacker with a whole IPv6 block), the entries that end soonest go.
const ADDRESSES: usize = 65_536;

/// Recent wrong passwords, by network.
#[derive(Debug, Default)]
pub struct Throttle {
    /// When each of the last [`GUESSES`] wrong passwords came, oldest first.
    misses: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Throttle {
    /// Whether `network` has used up its guesses for now.
    pub fn locked(&self, network: IpAddr, now: Instant) -> bool {
        self.misses.get(&network).is_some_and(|times| {
            times.len() >= GUESSES
                && times
                    .front()
                    .is_some_and(|&first| now.saturating_duration_since(first) < WINDOW)
        })
    }

    /// `network` gave a wrong password.
    pub fn miss(&mut self, network: IpAddr, now: Instant) {
        if self.misses.len() >= ADDRESSES && !self.misses.contains_key(&network) {
            self.forget_old(now);
            if self.misses.len() >= ADDRESSES {
                let soonest = self
                    .misses
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(ip, _)| *ip);
                if let Some(ip) = soonest {
                    self.misses.remove(&ip);
                }
            }
        }
        let times = self.misses.entry(network).or_default();
        if times.len() >= GUESSES {
            times.pop_front();
        }
        times.push_back(now);
    }

    /// Drops addresses whose last wrong password no longer counts.
    fn forget_old(&mut self, now: Instant) {
        self.misses.retain(|_, times| {
            times
                .back()
                .is_some_and(|&last| now.saturating_duration_since(last) < WINDOW)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_misses_lock_the_address_for_the_rest_of_the_minute() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        let ip: IpAddr = "203.0.113.5".parse().expect("ip");
        let other: IpAddr = "203.0.113.6".parse().expect("ip");
        for n in 0..GUESSES {
            assert!(!throttle.locked(ip, start), "after {n}");
            throttle.miss(ip, start + Duration::from_secs(n as u64));
        }
        assert!(throttle.locked(ip, start + Duration::from_secs(30)));
        assert!(!throttle.locked(other, start + Duration::from_secs(30)));
        // A minute after the first miss, one more guess is allowed.
        assert!(throttle.locked(ip, start + Duration::from_millis(59_999)));
        assert!(!throttle.locked(ip, start + WINDOW));
        throttle.miss(ip, start + WINDOW);
        assert!(throttle.locked(ip, start + WINDOW));
    }
}
