//! File ids and upload tokens: 128 random bits from the operating
//! system, as 32 hex digits, so a link cannot be guessed or counted up to.

/// A fresh 128-bit random value in hex. `None` if the OS has no randomness
/// to give (then nothing is offered rather than something guessable).
pub fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `text` looks like an id (32 lower-case hex digits): anything
/// else is not looked up at all.
pub fn is_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_hex() {
        let a = random_id().expect("randomness");
        let b = random_id().expect("randomness");
        assert!(is_id(&a) && is_id(&b));
        assert_ne!(a, b);
        assert!(!is_id("../../etc/passwd"));
        assert!(!is_id(&a.to_uppercase()));
    }
}
