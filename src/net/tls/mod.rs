//! TLS on the chat port: the server's rustls configuration, its
//! certificate (swapped on SIGHUP without dropping anyone), and the
//! non-blocking stream both the server and `suda connect --tls` use.
//!
//! - [`certs`]: PEM files, the self-signed pair in `--tls-dir`.
//! - [`fingerprint`]: a certificate as `SHA256:<hex>`.
//! - [`stream`]: a rustls connection over a non-blocking socket.

pub mod certs;
pub mod fingerprint;
pub mod stream;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::anyhow;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};

use fingerprint::Fingerprint;

/// A server-side TLS session over a client's socket.
pub type ServerTls = stream::TlsStream<ServerConnection, mio::net::TcpStream>;

/// The cryptography behind every TLS session: ring, the provider ureq
/// already links, so the binary carries one crypto library.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate handed to each new handshake. A reload replaces it;
/// sessions already running keep the keys they agreed on.
#[derive(Debug)]
pub struct CertStore {
    /// The current chain and key.
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    /// A store holding `key`.
    pub fn new(key: CertifiedKey) -> CertStore {
        CertStore {
            current: RwLock::new(Arc::new(key)),
        }
    }

    /// Uses `key` for the handshakes from now on.
    pub fn replace(&self, key: CertifiedKey) {
        // A writer that panicked left a whole Arc behind: still usable.
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = Arc::new(key);
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        Some(Arc::clone(&current))
    }
}

/// Where the certificate comes from (`--tls-cert`/`--tls-key` or `--tls-self-signed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// The operator's PEM files, re-read on SIGHUP.
    Files {
        /// The chain (`fullchain.pem`).
        cert: PathBuf,
        /// The private key (`privkey.pem`).
        key: PathBuf,
    },
    /// A certificate made at first start and kept in this folder.
    SelfSigned {
        /// `--tls-dir`.
        dir: PathBuf,
    },
}

/// The server's TLS, ready for the reactor.
#[derive(Debug)]
pub struct ServerSetup {
    /// Shared by every handshake.
    pub config: Arc<ServerConfig>,
    /// The certificate's fingerprint at start.
    pub fingerprint: Fingerprint,
}

/// Loads (or makes) the certificate and builds the configuration; with
/// PEM files, installs the SIGHUP reload. Called at startup, off the reactor.
///
/// # Errors
///
/// The certificate cannot be had, in words for the operator.
pub fn setup(source: &CertSource) -> anyhow::Result<ServerSetup> {
    let (cert, key) = match source {
        CertSource::Files { cert, key } => (cert.clone(), key.clone()),
        CertSource::SelfSigned { dir } => certs::self_signed(dir)?,
    };
    let loaded = certs::load(&cert, &key)?;
    let fingerprint = loaded.fingerprint;
    let store = Arc::new(CertStore::new(loaded.key));
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&store) as Arc<dyn ResolvesServerCert>);
    // Chat sessions are long: resumption would save little and every
    // ticket sent is a write to a client that has not said anything yet.
    config.send_tls13_tickets = 0;
    if let CertSource::Files { .. } = source {
        reload_on_hangup(store, cert, key)?;
    }
    Ok(ServerSetup {
        config: Arc::new(config),
        fingerprint,
    })
}

/// On each SIGHUP, re-reads the PEM files on a thread of its own (the
/// reactor never waits on the disk) and swaps the certificate in. A pair
/// that does not load is reported and the old certificate stays.
fn reload_on_hangup(store: Arc<CertStore>, cert: PathBuf, key: PathBuf) -> anyhow::Result<()> {
    crate::net::signals::on_hangup(move || match certs::load(&cert, &key) {
        Ok(loaded) => {
            store.replace(loaded.key);
            log::info!("TLS certificate reloaded: {}", loaded.fingerprint);
        }
        Err(e) => log::warn!("SIGHUP: keeping the current TLS certificate: {e:#}"),
    })
    .map_err(|e| anyhow!("cannot watch for SIGHUP: {e}"))
}
