//! A certificate's SHA-256 fingerprint, as `SHA256:<hex>`: what the server
//! prints at start, `suda fingerprint` shows, `--pin` takes and
//! `known_servers` remembers.

use std::fmt;

/// The SHA-256 of a certificate's DER bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    /// Reads `SHA256:<64 hex digits>`; case, colons between the digit
    /// pairs (as openssl prints them) and the `SHA256:` prefix's case do
    /// not matter.
    ///
    /// ```
    /// use suda::net::tls::fingerprint::Fingerprint;
    /// let hex = "ab".repeat(32);
    /// let fp = Fingerprint::parse(&format!("SHA256:{hex}")).unwrap();
    /// assert_eq!(fp.to_string(), format!("SHA256:{hex}"));
    /// assert_eq!(Fingerprint::parse(&format!("sha256:{}", "AB:".repeat(31) + "AB")), Ok(fp));
    /// assert!(Fingerprint::parse("SHA256:abc").is_err());
    /// assert!(Fingerprint::parse(&hex).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// Not that form, in words for the user.
    pub fn parse(text: &str) -> Result<Fingerprint, String> {
        let text = text.trim();
        let bad = || "expected SHA256: and 64 hex digits, as `suda fingerprint` prints".to_string();
        let hex = match text.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("SHA256:") => &text[7..],
            _ => return Err(bad()),
        };
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            bytes[i] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHA256:")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        // sha256("") is well known.
        assert_eq!(
            Fingerprint::of(b"").to_string(),
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn refuses_what_is_not_a_fingerprint() {
        for bad in [
            "",
            "SHA256:",
            "SHA1:00",
            "SHA256:zz",
            &format!("SHA256:{}", "g".repeat(64)),
        ] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
