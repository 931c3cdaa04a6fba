//! Address blocks: `--ip-exempt`'s list of CIDR blocks, and the network an
//! address counts as for limits per address (IPv4 per address, IPv6 per
//! /64, since one IPv6 host is usually handed a whole /64).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One block: an address and how many of its leading bits matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The block's first address (bits past the prefix are zero).
    base: IpAddr,
    /// Leading bits that must match.
    prefix: u8,
}

/// The leading `prefix` bits of a 128-bit value.
fn mask128(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

/// The leading `prefix` bits of a 32-bit value.
fn mask32(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl Cidr {
    /// Whether `ip` lies in this block. An IPv4 address written as IPv6
    /// (`::ffff:a.b.c.d`, as a dual-stack socket reports it) counts as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, ip.to_canonical()) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(base)
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(base)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (one address).
    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let bad =
            || format!("expected an address or block such as 10.0.0.0/8 or ::1, not {text:?}");
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        // Bits past the prefix are ignored, as routers do: 10.1.2.3/8 is 10/8.
        let base = match addr {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask32(prefix)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask128(prefix)).into()),
        };
        Ok(Cidr { base, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// `--ip-exempt`: blocks of addresses the limits per address skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList(Vec<Cidr>);

impl CidrList {
    /// `CIDR,CIDR,...`, or `none` for an empty list.
    ///
    /// ```
    /// use suda::net::ipnet::CidrList;
    /// let list = CidrList::parse("127.0.0.0/8,::1").unwrap();
    /// assert!(list.exempt("127.0.0.53".parse().unwrap()));
    /// assert!(list.exempt("::1".parse().unwrap()));
    /// assert!(!list.exempt("10.0.0.1".parse().unwrap()));
    /// assert!(!CidrList::parse("none").unwrap().exempt("127.0.0.1".parse().unwrap()));
    /// assert!(CidrList::parse("10.0.0.0/33").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// A block that is not an address with an optional prefix length.
    pub fn parse(text: &str) -> Result<CidrList, String> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(CidrList::default());
        }
        text.split(',')
            .map(str::parse)
            .collect::<Result<Vec<Cidr>, String>>()
            .map(CidrList)
    }

    /// The loopback addresses, `127.0.0.0/8,::1`: `--ip-exempt`'s default,
    /// since everything on this machine shares them.
    pub fn loopback() -> CidrList {
        CidrList::parse("127.0.0.0/8,::1").unwrap_or_default()
    }

    /// Whether `ip` is in one of the blocks.
    pub fn exempt(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// Whether the list is empty (`none`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for CidrList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, block) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{block}")?;
        }
        Ok(())
    }
}

/// The network `ip` counts as for limits per address: the address itself
/// for IPv4, its /64 for IPv6 (IPv4 written as IPv6 is IPv4).
///
/// ```
/// use suda::net::ipnet::network;
/// let a = network("2001:db8:1:2::1".parse().unwrap());
/// assert_eq!(a, network("2001:db8:1:2:ffff::9".parse().unwrap()));
/// assert_ne!(a, network("2001:db8:1:3::1".parse().unwrap()));
/// assert_eq!(network("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1".parse::<std::net::IpAddr>().unwrap());
/// ```
pub fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask128(64)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let list = CidrList::parse("10.0.0.0/8, 192.168.1.7, 2001:db8::/32").expect("parse");
        assert!(list.exempt(ip("10.255.0.1")));
        assert!(!list.exempt(ip("11.0.0.1")));
        assert!(list.exempt(ip("192.168.1.7")));
        assert!(!list.exempt(ip("192.168.1.8")));
        assert!(list.exempt(ip("2001:db8:ffff::1")));
        assert!(!list.exempt(ip("2001:db9::1")));
        // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
        assert!(list.exempt(ip("::ffff:10.1.2.3")));
        assert_eq!(list.to_string(), "10.0.0.0/8,192.168.1.7/32,2001:db8::/32");
    }

    #[test]
    fn the_whole_internet_and_nothing() {
        let all = CidrList::parse("0.0.0.0/0,::/0").expect("parse");
        assert!(all.exempt(ip("8.8.8.8")) && all.exempt(ip("2001:db8::1")));
        let none = CidrList::parse("NONE").expect("parse");
        assert!(none.is_empty() && !none.exempt(ip("127.0.0.1")));
        assert_eq!(none.to_string(), "none");
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "banana",
            "10.0.0.0/8,",
            "1.2.3",
        ] {
            assert!(CidrList::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bits_past_the_prefix_are_ignored() {
        let list = CidrList::parse("10.1.2.3/8").expect("parse");
        assert!(list.exempt(ip("10.200.0.1")));
        assert_eq!(list.to_string(), "10.0.0.0/8");
    }
}
