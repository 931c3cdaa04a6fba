//! Passwords: the room password (`--password-file`), the admin password's
//! hash (`--admin-password-file`, made by `suda hash-password`), and the
//! worker thread that checks admin passwords.
//!
//! The admin password is kept only as an Argon2id hash (a PHC string such
//! as `$argon2id$v=19$m=19456,t=2,p=1$...`), so a copy of the file does not
//! give the password away. Checking one takes tens of milliseconds and
//! 19 MiB of memory on purpose: that is what makes guessing slow. The
//! reactor must not wait that long, so checks run on a thread of their
//! own and come back through the reactor's waker, as `/search` answers do.
//!
//! The room password is shared with the whole class and kept as it is
//! (it must be told to people anyway); it is compared in constant time.

use std::fmt;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use anyhow::{anyhow, Context as _};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use subtle::ConstantTimeEq;

/// Admin password checks waiting for the worker, at most. Each wrong one
/// is throttled per address already; this bounds what many addresses can
/// queue at once (a full queue answers "try again in a moment").
pub const CHECK_QUEUE: usize = 16;

/// Longest password read, in bytes: a line longer than this is no password.
const MAX_PASSWORD_BYTES: usize = 1024;

/// A password kept in memory. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Keeps `text` (surrounding whitespace removed, as when it is typed).
    pub fn new(text: &str) -> Secret {
        Secret(text.trim().to_string())
    }

    /// Whether `given` (surrounding whitespace ignored) is this password.
    /// The time taken depends on the lengths only, never on where the two
    /// first differ.
    ///
    /// ```
    /// use suda::passwords::Secret;
    /// let secret = Secret::new("open sesame");
    /// assert!(secret.matches(" open sesame\r"));
    /// assert!(!secret.matches("open sesamE"));
    /// assert!(!secret.matches("open"));
    /// ```
    pub fn matches(&self, given: &str) -> bool {
        let given = given.trim().as_bytes();
        let stored = self.0.as_bytes();
        let mut padded = vec![0u8; stored.len()];
        let common = given.len().min(stored.len());
        padded[..common].copy_from_slice(&given[..common]);
        let same_length = (given.len() as u64).ct_eq(&(stored.len() as u64));
        bool::from(padded.as_slice().ct_eq(stored) & same_length)
    }
}

/// Reads `--password-file`: its first line is the room password.
///
/// # Errors
///
/// The file cannot be read, or its first line is empty.
pub fn read_room_password(path: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --password-file {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default().trim();
    if first.is_empty() {
        return Err(anyhow!(
            "--password-file {}: the first line (the password) is empty",
            path.display()
        ));
    }
    Ok(Secret::new(first))
}

/// Reads `--admin-password-file`: a hash made by `suda hash-password`.
///
/// # Errors
///
/// The file cannot be read or holds no Argon2 hash.
pub fn read_admin_hash(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --admin-password-file {}", path.display()))?;
    let hash = text.lines().next().unwrap_or_default().trim().to_string();
    let parsed = PasswordHash::new(&hash).map_err(|_| {
        anyhow!(
            "--admin-password-file {}: not a password hash (make one with `suda hash-password`)",
            path.display()
        )
    })?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(anyhow!(
            "--admin-password-file {}: not an Argon2 hash (make one with `suda hash-password`)",
            path.display()
        ));
    }
    Ok(hash)
}

/// Hashes `password` with Argon2id, its recommended parameters and a
/// fresh random salt.
///
/// # Errors
///
/// Argon2 refused the input (a password past its length limit).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches `hash` (a PHC string; a malformed one
/// matches nothing). Slow by design.
pub fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// An admin password to check.
pub struct Check {
    /// The room's number for it.
    pub id: u64,
    /// What was typed.
    pub password: Secret,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check").field("id", &self.id).finish()
    }
}

/// The worker's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The check's number.
    pub id: u64,
    /// The password was right.
    pub right: bool,
}

/// The reactor's handle on the checking thread.
#[derive(Debug)]
pub struct Checker {
    /// Checks waiting for the worker (bounded).
    checks: SyncSender<Check>,
    /// Verdicts waiting for the reactor.
    verdicts: Receiver<Checked>,
}

impl Checker {
    /// Starts the worker for `hash`; each verdict is followed by `wake()`.
    ///
    /// # Errors
    ///
    /// The thread cannot be started.
    pub fn start(hash: String, wake: impl Fn() + Send + 'static) -> io::Result<Checker> {
        let (checks, inbox) = mpsc::sync_channel::<Check>(CHECK_QUEUE);
        let (outbox, verdicts) = mpsc::channel::<Checked>();
        std::thread::Builder::new()
            .name("suda-admin-check".into())
            .spawn(move || {
                // Ends when the reactor drops its sender.
                for check in inbox {
                    let right = verify(&hash, &check.password.0);
                    if outbox
                        .send(Checked {
                            id: check.id,
                            right,
                        })
                        .is_err()
                    {
                        return;
                    }
                    wake();
                }
            })?;
        Ok(Checker { checks, verdicts })
    }

    /// Queues a check; gives it back if the queue is full.
    pub fn submit(&self, check: Check) -> Result<(), Check> {
        self.checks.try_send(check).map_err(|e| match e {
            TrySendError::Full(c) | TrySendError::Disconnected(c) => c,
        })
    }

    /// A verdict that has arrived, if any.
    pub fn try_verdict(&self) -> Option<Checked> {
        self.verdicts.try_recv().ok()
    }
}

/// `suda hash-password`: asks for a password twice without echo at a
/// terminal (or reads one line from a pipe) and prints its hash, for
/// `--admin-password-file`.
pub fn hash_password_command() -> ExitCode {
    match read_new_password().and_then(|password| hash(&password).map_err(anyhow::Error::msg)) {
        Ok(hash) => {
            let mut out = io::stdout().lock();
            if writeln!(out, "{hash}").and_then(|()| out.flush()).is_err() {
                eprintln!("suda: cannot write the hash to standard output");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("suda: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The password to hash: typed twice at a terminal, or one piped line.
fn read_new_password() -> anyhow::Result<String> {
    let password = if io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New admin password: ")
            .context("cannot read the password from the terminal")?;
        let again = rpassword::prompt_password("Again: ")
            .context("cannot read the password from the terminal")?;
        if first != again {
            return Err(anyhow!("the two passwords differ; nothing was printed"));
        }
        first
    } else {
        let mut line = String::new();
        io::stdin()
            .lock()
            .take(MAX_PASSWORD_BYTES as u64 + 1)
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line
    };
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(anyhow!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    let password = password.trim();
    if password.is_empty() {
        return Err(anyhow!("the password is empty"));
    }
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_checks_its_password_and_no_other() {
        let hash = hash("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify(&hash, "correct horse"));
        assert!(!verify(&hash, "correct hors"));
        assert!(!verify("not a hash", "correct horse"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        let check = Check {
            id: 1,
            password: secret,
        };
        assert!(!format!("{check:?}").contains("hunter2"));
    }

    #[test]
    fn the_checker_answers_through_the_waker() {
        let (woke, wakes) = mpsc::channel();
        let checker = Checker::start(hash("pw").expect("hash"), move || {
            let _ = woke.send(());
        })
        .expect("start");
        for (id, typed) in [(1, "pw"), (2, "nope")] {
            assert!(checker
                .submit(Check {
                    id,
                    password: Secret::new(typed),
                })
                .is_ok());
        }
        let mut verdicts = Vec::new();
        while verdicts.len() < 2 {
            wakes
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("woken");
            verdicts.extend(std::iter::from_fn(|| checker.try_verdict()));
        }
        assert_eq!(
            verdicts,
            [
                Checked { id: 1, right: true },
                Checked {
                    id: 2,
                    right: false
                }
            ]
        );
    }
}
