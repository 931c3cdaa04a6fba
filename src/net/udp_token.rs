//! The UDP address token: proof that an address receives what is sent to it.
//!
//! A UDP datagram's source address is whatever its sender wrote, so before
//! an address gets anything larger than one short line, it must echo a token
//! that only someone reading at that address could know (the stateless
//! cookies of DTLS, RFC 6347 §4.2.1, and QUIC's address validation, RFC 9000
//! §8). The token is a keyed MAC of the address, the port and a time bucket:
//! the server keeps nothing per unverified address, and a token cannot be
//! made for an address without the key, which is random and made at start.
//!
//! SipHash-2-4 is the MAC: a pseudo-random function keyed with 128 bits,
//! designed for short inputs such as these (an HMAC-SHA256 would do the
//! same job with more code and more time per datagram).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use siphasher::sip::SipHasher24;
use std::hash::Hasher as _;

/// Characters in a token: 12 × 5 = 60 bits of the MAC, which nobody can
/// guess within a token's life, in a word short enough to type.
pub const TOKEN_LEN: usize = 12;

/// A token is made for the bucket it was asked in and is accepted during
/// that bucket and the next, so it lives between one and two buckets:
/// at least 2 minutes, as the contract asks.
pub const BUCKET: Duration = Duration::from_secs(120);

/// The token's letters: digits and lowercase letters without `i`, `l`, `o`
/// and `u` (Crockford's base 32), so that a person copying it by eye cannot
/// mix up `1`, `l` and `I` or `0` and `o`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A token, as sent and as it must come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token([u8; TOKEN_LEN]);

impl Token {
    /// The token as text (ASCII).
    pub fn as_str(&self) -> &str {
        // Only ALPHABET's ASCII letters are ever put in.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Makes and checks tokens with one secret key.
pub struct Tokens {
    /// The SipHash key, two 64-bit halves.
    key: (u64, u64),
    /// Buckets count from here (the server's start: a restart makes a new
    /// key, so old tokens die with it anyway).
    epoch: Instant,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never in a log or a panic message.
        f.debug_struct("Tokens").finish_non_exhaustive()
    }
}

impl Tokens {
    /// Tokens under a key of 16 random bytes from the operating system.
    ///
    /// # Errors
    ///
    /// The operating system has no randomness to give.
    pub fn random(epoch: Instant) -> Result<Tokens, getrandom::Error> {
        let mut key = [0u8; 16];
        getrandom::getrandom(&mut key)?;
        Ok(Tokens::with_key(key, epoch))
    }

    /// Tokens under a given key (tests).
    pub fn with_key(key: [u8; 16], epoch: Instant) -> Tokens {
        let (k0, k1) = key.split_at(8);
        let half = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        Tokens {
            key: (half(k0), half(k1)),
            epoch,
        }
    }

    /// The token `peer` is given at `now`.
    pub fn issue(&self, peer: SocketAddr, now: Instant) -> Token {
        self.token(peer, self.bucket(now))
    }

    /// Whether `given` (as it came, any case, surrounding blanks ignored)
    /// is the token of `peer` for this bucket or the one before.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use suda::net::udp_token::Tokens;
    /// let start = Instant::now();
    /// let tokens = Tokens::with_key([7; 16], start);
    /// let alice = "192.0.2.1:40000".parse().unwrap();
    /// let token = tokens.issue(alice, start);
    /// assert!(tokens.check(alice, token.as_str().as_bytes(), start + Duration::from_secs(150)));
    /// let mallory = "192.0.2.1:40001".parse().unwrap();
    /// assert!(!tokens.check(mallory, token.as_str().as_bytes(), start));
    /// ```
    pub fn check(&self, peer: SocketAddr, given: &[u8], now: Instant) -> bool {
        let given = given.trim_ascii();
        if given.len() != TOKEN_LEN {
            return false;
        }
        let bucket = self.bucket(now);
        [Some(bucket), bucket.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|b| same(&self.token(peer, b).0, given))
    }

    fn bucket(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs() / BUCKET.as_secs()
    }

    fn token(&self, peer: SocketAddr, bucket: u64) -> Token {
        let mut mac = SipHasher24::new_with_keys(self.key.0, self.key.1);
        // An IPv4 client seen through a dual-stack socket is the same client.
        match peer.ip().to_canonical() {
            IpAddr::V4(ip) => {
                mac.write_u8(4);
                mac.write(&ip.octets());
            }
            IpAddr::V6(ip) => {
                mac.write_u8(6);
                mac.write(&ip.octets());
            }
        }
        mac.write_u16(peer.port());
        mac.write_u64(bucket);
        let mut bits = mac.finish();
        let mut text = [0u8; TOKEN_LEN];
        for c in &mut text {
            *c = ALPHABET[(bits & 31) as usize];
            bits >>= 5;
        }
        Token(text)
    }
}

/// Compares a token with what came back, case-insensitively and in time
/// that does not depend on where they first differ.
fn same(token: &[u8; TOKEN_LEN], given: &[u8]) -> bool {
    token
        .iter()
        .zip(given)
        .fold(0u8, |diff, (a, b)| diff | (a ^ b.to_ascii_lowercase()))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("address")
    }

    #[test]
    fn a_token_is_twelve_letters_of_the_alphabet() {
        let start = Instant::now();
        let tokens = Tokens::with_key([1; 16], start);
        let token = tokens.issue(addr("203.0.113.9:5000"), start);
        assert_eq!(token.as_str().len(), TOKEN_LEN);
        assert!(token.as_str().bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn it_lives_between_one_and_two_buckets() {
        let start = Instant::now();
        let tokens = Tokens::with_key([2; 16], start);
        let peer = addr("203.0.113.9:5000");
        // Asked at the very end of a bucket: still good a whole bucket later.
        let asked = start + BUCKET - Duration::from_secs(1);
        let token = tokens.issue(peer, asked);
        let good = |at: Instant| tokens.check(peer, token.as_str().as_bytes(), at);
        assert!(good(asked));
        assert!(good(asked + BUCKET));
        assert!(!good(start + 2 * BUCKET));
        // Asked at the start of a bucket: good until the end of the next.
        let token = tokens.issue(peer, start);
        let good = |at: Instant| tokens.check(peer, token.as_str().as_bytes(), at);
        assert!(good(start + 2 * BUCKET - Duration::from_millis(1)));
        assert!(!good(start + 2 * BUCKET));
    }

    #[test]
    fn it_belongs_to_one_address_port_and_key() {
        let start = Instant::now();
        let tokens = Tokens::with_key([3; 16], start);
        let peer = addr("198.51.100.4:40000");
        let token = tokens.issue(peer, start);
        let text = token.as_str().as_bytes();
        assert!(tokens.check(peer, text, start));
        for other in ["198.51.100.5:40000", "198.51.100.4:40001", "[::1]:40000"] {
            assert!(!tokens.check(addr(other), text, start), "{other}");
        }
        let other_key = Tokens::with_key([4; 16], start);
        assert!(!other_key.check(peer, text, start));
        // The same IPv4 client, seen through a dual-stack socket.
        assert!(tokens.check(addr("[::ffff:198.51.100.4]:40000"), text, start));
    }

    #[test]
    fn what_comes_back_may_differ_in_case_and_blanks_only() {
        let start = Instant::now();
        let tokens = Tokens::with_key([5; 16], start);
        let peer = addr("192.0.2.7:1234");
        let token = tokens.issue(peer, start).as_str().to_string();
        let check = |given: &str| tokens.check(peer, given.as_bytes(), start);
        assert!(check(&token.to_uppercase()));
        assert!(check(&format!(" {token}\r\n")));
        assert!(!check(&token[..TOKEN_LEN - 1]));
        assert!(!check(&format!("{token}x")));
        assert!(!check(""));
        let mut wrong = token.into_bytes();
        wrong[5] = if wrong[5] == b'a' { b'b' } else { b'a' };
        assert!(!tokens.check(peer, &wrong, start));
    }

    #[test]
    fn the_key_stays_out_of_debug_output() {
        let tokens = Tokens::with_key([0xAB; 16], Instant::now());
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
    }
}
