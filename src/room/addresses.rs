//! Addresses as the room counts them: one network per IPv4 address or
//! IPv6 /64, and the ranges `--ip-exempt` trusts.

use std::fmt;
use std::net::IpAddr;

/// The network an address belongs to, for fairness between addresses: an
/// IPv6 host has a whole /64 to pick addresses from, so the /64 counts as
/// one address. An IPv4 address mapped into IPv6 is the IPv4 address.
///
/// ```
/// use suda::room::addresses::network;
/// let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
/// assert_eq!(network(ip("2001:db8::1:2")), ip("2001:db8::"));
/// assert_eq!(network(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
/// ```
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

/// One range of addresses, `ADDRESS/PREFIX` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The first address of the range (host bits cleared).
    base: IpAddr,
    /// Leading bits that must match.
    prefix: u8,
}

impl Cidr {
    /// Reads `127.0.0.0/8`, `::1`, `2001:db8::/32`.
    ///
    /// ```
    /// use suda::room::addresses::Cidr;
    /// let net = Cidr::parse("10.1.0.0/16").unwrap();
    /// assert!(net.contains("10.1.200.3".parse().unwrap()));
    /// assert!(!net.contains("10.2.0.1".parse().unwrap()));
    /// assert!(Cidr::parse("10.0.0.0/33").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// Not an address, or a prefix longer than the address.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let ip: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an address or ADDRESS/PREFIX range"))?;
        let width: u8 = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|&bits| bits <= width)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {width}"))?,
        };
        Ok(Cidr {
            base: mask(ip, prefix),
            prefix,
        })
    }

    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.base.is_ipv4() && mask(ip, self.prefix) == self.base
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// `ip` with all but its first `prefix` bits cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

/// A list of ranges (`--ip-exempt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSet(Vec<Cidr>);

impl IpSet {
    /// Reads `CIDR,CIDR,...`, or `none` for the empty set.
    ///
    /// ```
    /// use suda::room::addresses::IpSet;
    /// let loopback = IpSet::parse("127.0.0.0/8,::1").unwrap();
    /// assert!(loopback.contains("127.0.0.2".parse().unwrap()));
    /// assert!(!IpSet::parse("none").unwrap().contains("127.0.0.1".parse().unwrap()));
    /// ```
    ///
    /// # Errors
    ///
    /// One of the ranges does not read.
    pub fn parse(text: &str) -> Result<IpSet, String> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(IpSet::default());
        }
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(IpSet)
    }

    /// The loopback addresses: `127.0.0.0/8,::1`.
    pub fn loopback() -> IpSet {
        IpSet(vec![
            Cidr {
                base: IpAddr::V4([127, 0, 0, 0].into()),
                prefix: 8,
            },
            Cidr {
                base: IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ])
    }

    /// Whether `ip` is in one of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn ranges_of_both_families() {
        let set = IpSet::parse("127.0.0.0/8, ::1,2001:db8::/32,192.0.2.7").expect("parse");
        for inside in [
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "2001:db8:ffff::1",
            "192.0.2.7",
            "::ffff:127.0.0.1",
        ] {
            assert!(set.contains(ip(inside)), "{inside}");
        }
        for outside in ["128.0.0.1", "::2", "2001:db9::1", "192.0.2.8", "10.0.0.1"] {
            assert!(!set.contains(ip(outside)), "{outside}");
        }
        assert_eq!(IpSet::parse("127.0.0.0/8,::1"), Ok(IpSet::loopback()));
        assert!(IpSet::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8")));
        assert!(IpSet::parse("::/0")
            .expect("all v6")
            .contains(ip("2001::1")));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "banana",
            "10.0.0.0/",
            "10.0.0/8",
            "/8",
        ] {
            assert!(IpSet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_group_an_ipv6_host() {
        assert_eq!(network(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(network(ip("203.0.113.9")), ip("203.0.113.9"));
    }
}
