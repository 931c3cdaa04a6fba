//! The server's certificate: read from PEM files (a Let's Encrypt pair as
//! certbot writes it), or made once and kept (`--tls-self-signed`).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::fingerprint::Fingerprint;

/// The certificate file in `--tls-dir`.
pub const SELF_SIGNED_CERT: &str = "cert.pem";
/// The private key file in `--tls-dir` (mode 0600).
pub const SELF_SIGNED_KEY: &str = "key.pem";

/// Names a self-signed certificate is made for. Clients of a self-signed
/// server trust it by fingerprint, not by name, so these are only a label.
const SELF_SIGNED_NAMES: [&str; 2] = ["localhost", "suda"];

/// A loaded certificate chain with its key, ready for rustls.
#[derive(Debug)]
pub struct Loaded {
    /// The chain and the signing key.
    pub key: CertifiedKey,
    /// The fingerprint of the first (the server's own) certificate.
    pub fingerprint: Fingerprint,
}

/// Reads a PEM certificate chain (server certificate first, as in
/// `fullchain.pem`) and its PEM private key (PKCS#8, RSA or EC, as in
/// `privkey.pem`), and checks that they belong together.
///
/// # Errors
///
/// A file cannot be read, holds no certificate or key, or the key does not
/// match the certificate. The key's bytes never appear in a message.
pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Loaded> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow!("cannot read the certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("cannot read the certificate {}: {e}", cert.display()))?;
    let Some(first) = chain.first() else {
        return Err(anyhow!(
            "no certificate in {} (expected PEM, -----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    };
    let fingerprint = Fingerprint::of(first);
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        anyhow!(
            "cannot read a private key from {} (expected PEM, e.g. certbot's privkey.pem): {e}",
            key.display()
        )
    })?;
    let key = CertifiedKey::from_der(chain, private, &super::provider()).map_err(|e| {
        anyhow!(
            "{} and {} do not go together: {e}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(Loaded { key, fingerprint })
}

/// The self-signed pair in `dir`, made there first if it is not there yet
/// (the folder mode 0700, the key 0600). Returns the certificate and key paths.
///
/// # Errors
///
/// The folder or the files cannot be made.
pub fn self_signed(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert = dir.join(SELF_SIGNED_CERT);
    let key = dir.join(SELF_SIGNED_KEY);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create --tls-dir {}", dir.display()))?;
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| anyhow!("cannot make a self-signed certificate: {e}"))?;
    // The key first: a certificate without its key would be taken as a pair.
    write_new(&key, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert, made.cert.pem().as_bytes(), 0o644)?;
    log::info!("made a self-signed certificate in {}", dir.display());
    Ok((cert, key))
}

/// Writes `bytes` to `path` through a temporary file in the same folder,
/// created with `mode` (so the key is never readable by others, not even
/// for a moment), then renamed into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let temp = path.with_extension("new");
    let _ = fs::remove_file(&temp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temp.display()))?;
    fs::rename(&temp, path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}

/// The fingerprint of the first certificate in a PEM file (`suda fingerprint`).
///
/// # Errors
///
/// The file cannot be read or holds no certificate.
pub fn fingerprint_of_file(cert: &Path) -> anyhow::Result<Fingerprint> {
    let first = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow!("cannot read {}: {e}", cert.display()))?
        .next()
        .ok_or_else(|| anyhow!("no certificate in {}", cert.display()))?
        .map_err(|e| anyhow!("cannot read {}: {e}", cert.display()))?;
    Ok(Fingerprint::of(&first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_self_signed_pair_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tls = dir.path().join("suda-tls");
        let (cert, key) = self_signed(&tls).expect("made");
        let first = load(&cert, &key).expect("loads").fingerprint;
        assert_eq!(fingerprint_of_file(&cert).expect("fingerprint"), first);
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&tls), 0o700);
        // The second start finds it: same fingerprint.
        let (cert, key) = self_signed(&tls).expect("kept");
        assert_eq!(load(&cert, &key).expect("loads").fingerprint, first);
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        let (cert_a, _) = self_signed(a.path()).expect("a");
        let (_, key_b) = self_signed(b.path()).expect("b");
        let err = load(&cert_a, &key_b).expect_err("mismatch").to_string();
        assert!(err.contains("do not go together"), "{err}");
        let err = load(&key_b, &key_b).expect_err("no cert").to_string();
        assert!(err.contains("no certificate"), "{err}");
    }
}
