//! What the terminal speaks when `--encoding` does not say: its locale.
//!
//! A legacy Korean console announces itself the POSIX way, with a locale
//! such as `ko_KR.CP949` or `ko_KR.EUC-KR`; everything else the client
//! meets today is UTF-8. The variables are read as the C library reads
//! them for character handling: `LC_ALL`, then `LC_CTYPE`, then `LANG`,
//! the first one set and not empty deciding.

use std::ffi::OsString;

use crate::net::charset::Encoding;

/// The variables that name the character encoding, strongest first.
pub const VARIABLES: [&str; 3] = ["LC_ALL", "LC_CTYPE", "LANG"];

/// The terminal's encoding according to this process's environment.
pub fn from_env() -> Encoding {
    from_vars(|name| std::env::var_os(name))
}

/// The terminal's encoding according to `var` (an environment lookup).
///
/// ```
/// use suda::net::charset::Encoding;
/// use suda::client::locale::from_vars;
/// let env = |vars: &'static [(&str, &str)]| {
///     move |name: &str| {
///         vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).into())
///     }
/// };
/// assert_eq!(from_vars(env(&[("LANG", "ko_KR.CP949")])), Encoding::Cp949);
/// assert_eq!(from_vars(env(&[("LC_ALL", "C.UTF-8"), ("LANG", "ko_KR.euckr")])), Encoding::Utf8);
/// assert_eq!(from_vars(env(&[("LC_ALL", ""), ("LC_CTYPE", "ko_KR.EUC-KR")])), Encoding::Cp949);
/// assert_eq!(from_vars(env(&[])), Encoding::Utf8);
/// ```
pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Encoding {
    let locale = VARIABLES
        .iter()
        .filter_map(|name| var(name))
        .find(|value| !value.is_empty());
    match locale {
        Some(locale) if names_cp949(&locale.to_string_lossy()) => Encoding::Cp949,
        _ => Encoding::Utf8,
    }
}

/// Whether a locale name (`language[_territory][.codeset][@modifier]`)
/// has CP949 or EUC-KR for its codeset. EUC-KR is taken as CP949: the
/// consoles that say it use code page 949, of which it is a part.
fn names_cp949(locale: &str) -> bool {
    let Some((_, rest)) = locale.split_once('.') else {
        return false;
    };
    let codeset = rest.split('@').next().unwrap_or(rest);
    ["cp949", "euc-kr", "euckr"]
        .iter()
        .any(|name| codeset.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codesets_that_mean_cp949() {
        for locale in [
            "ko_KR.CP949",
            "ko_KR.cp949",
            "ko_KR.EUC-KR",
            "ko_KR.euckr",
            "ko_KR.EUCKR@dict",
        ] {
            assert!(names_cp949(locale), "{locale}");
        }
        for locale in [
            "ko_KR.UTF-8",
            "ko_KR",
            "C",
            "POSIX",
            "C.UTF-8",
            "en_US.ISO-8859-1",
            "cp949",
            "ko_KR.cp9490",
        ] {
            assert!(!names_cp949(locale), "{locale}");
        }
    }
}
