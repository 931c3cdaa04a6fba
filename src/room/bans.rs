//! Kicked means gone for a while: the kicked person's address and
//! nickname stay out until the ban ends or an admin lifts it.
//!
//! Bans live in memory only: a restart lifts them (the teacher who
//! restarts the server is there to kick again), and a ban list that
//! outlived restarts would need a way to see and edit it offline.

use std::net::IpAddr;
use std::time::Instant;

use jiff::Timestamp;

use crate::text::{nick_keys, same_person};

/// One kick's ban.
#[derive(Debug, Clone)]
pub struct Ban {
    /// The nickname as it was shown.
    pub nick: String,
    /// Its [`nick_keys`].
    keys: [String; 2],
    /// The network kept out, unless it is exempt (`--ip-exempt`).
    pub network: Option<IpAddr>,
    /// When it ends, for the room's clock.
    pub until: Instant,
    /// When it ends, for people.
    pub until_wall: Timestamp,
}

/// The bans in force, at most `max` (`--max-bans`).
#[derive(Debug)]
pub struct Bans {
    /// In no order; small, and scanned only when someone arrives.
    bans: Vec<Ban>,
    /// The most kept: past it, the ban that ends soonest makes room.
    max: usize,
}

impl Bans {
    /// No bans, room for `max`.
    pub fn new(max: usize) -> Bans {
        Bans {
            bans: Vec::new(),
            max,
        }
    }

    /// Bans `nick` (and `network`, if any) until `until`.
    pub fn add(
        &mut self,
        nick: &str,
        network: Option<IpAddr>,
        until: Instant,
        until_wall: Timestamp,
        now: Instant,
    ) {
        if self.max == 0 {
            return;
        }
        self.expire(now);
        self.bans.retain(|ban| !same_person(&ban.nick, nick));
        if self.bans.len() >= self.max {
            if let Some(soonest) = (0..self.bans.len()).min_by_key(|&i| self.bans[i].until) {
                self.bans.swap_remove(soonest);
            }
        }
        self.bans.push(Ban {
            nick: nick.to_string(),
            keys: nick_keys(nick),
            network,
            until,
            until_wall,
        });
    }

    /// The ban keeping `network` out, if any.
    pub fn of_network(&self, network: IpAddr, now: Instant) -> Option<&Ban> {
        self.bans
            .iter()
            .filter(|ban| ban.until > now && ban.network == Some(network))
            .max_by_key(|ban| ban.until)
    }

    /// The ban on nickname `nick` (or one that passes for it), if any.
    pub fn of_nick(&self, nick: &str, now: Instant) -> Option<&Ban> {
        let keys = nick_keys(nick);
        self.bans
            .iter()
            .filter(|ban| ban.until > now && ban.keys.iter().any(|k| keys.contains(k)))
            .max_by_key(|ban| ban.until)
    }

    /// Lifts the ban on `nick` (name and address); returns it.
    pub fn lift(&mut self, nick: &str, now: Instant) -> Option<Ban> {
        self.expire(now);
        let keys = nick_keys(nick);
        let at = self
            .bans
            .iter()
            .position(|ban| ban.keys.iter().any(|k| keys.contains(k)))?;
        Some(self.bans.swap_remove(at))
    }

    /// Bans kept (some may have ended).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.bans.len()
    }

    fn expire(&mut self, now: Instant) {
        self.bans.retain(|ban| ban.until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_ban_covers_name_address_and_lookalikes_until_it_ends() {
        let now = Instant::now();
        let wall = Timestamp::UNIX_EPOCH;
        let ip: IpAddr = "198.51.100.7".parse().expect("ip");
        let mut bans = Bans::new(10);
        bans.add(
            "Mallory",
            Some(ip),
            now + Duration::from_secs(600),
            wall,
            now,
        );
        assert!(bans.of_network(ip, now).is_some());
        assert!(bans.of_nick("MALL0RY", now).is_some());
        assert!(bans.of_nick("Alice", now).is_none());
        let later = now + Duration::from_secs(600);
        assert!(bans.of_network(ip, later).is_none());
        assert!(bans.of_nick("Mallory", later).is_none());
        assert_eq!(
            bans.lift("mallory", now).map(|b| b.nick),
            Some("Mallory".into())
        );
        assert!(bans.of_network(ip, now).is_none());
    }

    #[test]
    fn the_list_is_bounded() {
        let now = Instant::now();
        let wall = Timestamp::UNIX_EPOCH;
        let mut bans = Bans::new(3);
        for n in 0..10u64 {
            let until = now + Duration::from_secs(100 + n);
            bans.add(&format!("u{n}"), None, until, wall, now);
        }
        assert_eq!(bans.len(), 3);
        // The ones ending soonest made room.
        assert!(bans.of_nick("u9", now).is_some());
        assert!(bans.of_nick("u0", now).is_none());
    }
}
