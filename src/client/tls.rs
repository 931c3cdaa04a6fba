//! `suda connect --tls`: the handshake and whom to trust.
//!
//! In this order: `--pin SHA256:<hex>` accepts that certificate and no
//! other; a certificate the system's roots (or `--ca FILE`) vouch for is
//! accepted, and remembered; anything else (a self-signed server) is
//! trusted on first use: its fingerprint is remembered in `known_servers`
//! ([`known_servers`](super::known_servers)), and a different one later
//! stops the client with a warning naming both, as ssh does.
//!
//! The handshake runs before the loop starts, blocking with
//! `--connect-timeout` as connecting does; after it the stream is
//! non-blocking and polled like plain TCP.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::known_servers::{server_key, KnownServers};
use crate::net::tls::fingerprint::Fingerprint;
use crate::net::tls::stream::TlsStream;

/// A client-side TLS session over the server socket.
pub type ClientTls = TlsStream<ClientConnection, TcpStream>;

/// Whom to trust, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// `--ca FILE`: more roots, PEM.
    pub ca: Option<PathBuf>,
    /// `--pin`: only this certificate.
    pub pin: Option<Fingerprint>,
    /// `--known-servers FILE`, or the default in the data folder.
    pub known_servers: Option<PathBuf>,
}

/// What the verifier concluded about the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// It is the pinned one.
    Pinned,
    /// The roots vouch for it.
    Rooted(Fingerprint),
    /// The one remembered for this server.
    Remembered,
    /// Never seen for this server: trusted on first use.
    FirstUse(Fingerprint),
    /// Not the one remembered.
    Changed {
        /// What `known_servers` holds.
        remembered: Fingerprint,
        /// What the server showed.
        offered: Fingerprint,
    },
    /// Not the pinned one.
    NotPinned(Fingerprint),
}

/// Decides about the server's certificate during the handshake and keeps
/// the verdict for afterwards (to remember it, or to explain a refusal).
#[derive(Debug)]
struct Verifier {
    /// The roots' verifier, if there are roots at all.
    roots: Option<Arc<WebPkiServerVerifier>>,
    /// `--pin`.
    pin: Option<Fingerprint>,
    /// What `known_servers` holds for this server.
    remembered: Option<Fingerprint>,
    /// For the handshake signatures.
    provider: Arc<CryptoProvider>,
    /// The verdict, once given.
    verdict: Mutex<Option<Verdict>>,
}

impl Verifier {
    fn judge(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Verdict {
        let offered = Fingerprint::of(end_entity);
        if let Some(pin) = self.pin {
            return if pin == offered {
                Verdict::Pinned
            } else {
                Verdict::NotPinned(offered)
            };
        }
        if let Some(roots) = &self.roots {
            if roots
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
                .is_ok()
            {
                return Verdict::Rooted(offered);
            }
        }
        match self.remembered {
            Some(remembered) if remembered == offered => Verdict::Remembered,
            Some(remembered) => Verdict::Changed {
                remembered,
                offered,
            },
            None => Verdict::FirstUse(offered),
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.judge(end_entity, intermediates, server_name, ocsp, now);
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
        match verdict {
            Verdict::Changed { .. } | Verdict::NotPinned(_) => {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The system's roots plus `--ca`; `None` if there are none at all (then
/// only a pin or first use can trust a server).
fn roots(
    ca: Option<&std::path::Path>,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<WebPkiServerVerifier>>, String> {
    let mut store = RootCertStore::empty();
    // Unreadable system certificates only mean fewer roots.
    let native = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(native.certs);
    if let Some(ca) = ca {
        let certs = CertificateDer::pem_file_iter(ca)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("--ca {}: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!("--ca {}: no certificate in it", ca.display()));
        }
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "--ca {}: no usable certificate in it",
                ca.display()
            ));
        }
    }
    if store.is_empty() {
        return Ok(None);
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider))
        .build()
        .map(Some)
        .map_err(|e| format!("cannot use the trusted roots: {e}"))
}

/// Everything the handshake needs, made before connecting: reading the
/// system's roots takes a moment, and the server waits only
/// `--sniff-wait` for a client's first bytes before it treats it as
/// plaintext chat.
#[derive(Debug)]
pub struct Prepared {
    /// The rustls connection, its ClientHello ready.
    conn: ClientConnection,
    /// The verifier, for its verdict afterwards.
    verifier: Arc<Verifier>,
    /// `known_servers`, unless pinned.
    known: Option<KnownServers>,
    /// The server as written in `known_servers`.
    key: String,
}

/// Sets up a session with the server `host`:`port` as the user named it.
///
/// # Errors
///
/// A one-line reason: `--ca` or `known_servers` cannot be read, the host
/// is not a name TLS can use.
pub fn prepare(host: &str, port: u16, trust: &Trust) -> Result<Prepared, String> {
    let provider = crate::net::tls::provider();
    let key = server_key(host, port);
    let known_path = trust
        .known_servers
        .clone()
        .or_else(super::known_servers::default_path);
    let known = match &known_path {
        Some(path) if trust.pin.is_none() => Some(KnownServers::load(path)?),
        _ => None,
    };
    let verifier = Arc::new(Verifier {
        roots: roots(trust.ca.as_deref(), &provider)?,
        pin: trust.pin,
        remembered: known.as_ref().and_then(|k| k.get(&key)),
        provider: Arc::clone(&provider),
        verdict: Mutex::new(None),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is not a host name TLS can use"))?;
    let conn = ClientConnection::new(Arc::new(config), name)
        .map_err(|e| format!("cannot start TLS: {e}"))?;
    Ok(Prepared {
        conn,
        verifier,
        known,
        key,
    })
}

/// Runs the handshake over a connected socket and decides whether the
/// server is who it should be.
///
/// # Errors
///
/// A one-line reason (or, for a changed certificate, the ssh-like warning).
pub fn handshake(
    prepared: Prepared,
    socket: std::net::TcpStream,
    timeout: Duration,
) -> Result<ClientTls, String> {
    let (conn, socket) = handshake_blocking(prepared, socket, timeout)?;
    socket
        .set_nonblocking(true)
        .map_err(|e| super::transport::describe(&e))?;
    Ok(TlsStream::new(conn, TcpStream::from_std(socket)))
}

/// [`handshake`] for a socket that stays blocking (a file transfer on a
/// thread of its own, see [`http`](super::http)): the session and the
/// socket, with `timeout` left as the socket's read and write timeout.
///
/// # Errors
///
/// As [`handshake`].
pub fn handshake_blocking(
    prepared: Prepared,
    socket: std::net::TcpStream,
    timeout: Duration,
) -> Result<(ClientConnection, std::net::TcpStream), String> {
    let Prepared {
        mut conn,
        verifier,
        mut known,
        key,
    } = prepared;
    let mut socket = socket;
    let setup = socket
        .set_read_timeout(Some(timeout))
        .and_then(|()| socket.set_write_timeout(Some(timeout)));
    setup.map_err(|e| super::transport::describe(&e))?;
    let mut result = Ok(());
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut socket) {
            result = Err(e);
            break;
        }
    }
    let verdict = *verifier.verdict.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = result {
        return Err(match verdict {
            Some(Verdict::Changed {
                remembered,
                offered,
            }) => changed_warning(
                &key,
                remembered,
                offered,
                known.as_ref().map(KnownServers::path),
            ),
            Some(Verdict::NotPinned(offered)) => {
                format!("the server's certificate is {offered}, not the one given with --pin")
            }
            _ if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
            {
                format!(
                    "no TLS answer within {} (is it a suda server with TLS on?)",
                    humantime::format_duration(timeout)
                )
            }
            // It never showed a certificate: most likely no TLS there.
            None => format!(
                "the server did not take up TLS ({}); does it have TLS on?",
                super::transport::describe(&e)
            ),
            _ => format!("TLS handshake failed: {e}"),
        });
    }
    match (verdict, known.as_mut()) {
        (Some(Verdict::FirstUse(offered)), Some(known)) => {
            eprintln!("suda: first time connecting to {key}; remembering {offered}");
            if let Err(e) = known.remember(&key, offered) {
                eprintln!("suda: {e}");
            }
        }
        (Some(Verdict::FirstUse(offered)), None) => {
            eprintln!("suda: first time connecting to {key} ({offered}); nowhere to remember it (set HOME or --known-servers)");
        }
        // Kept too, so the same server showing a certificate the roots
        // do not vouch for later is noticed.
        (Some(Verdict::Rooted(offered)), Some(known)) if known.get(&key) != Some(offered) => {
            let _ = known.remember(&key, offered);
        }
        _ => {}
    }
    Ok((conn, socket))
}

/// What the user is told when a server shows another certificate than the
/// one remembered. Each line after the first is a line of its own on
/// standard error.
fn changed_warning(
    server: &str,
    remembered: Fingerprint,
    offered: Fingerprint,
    file: Option<&std::path::Path>,
) -> String {
    let file = file.map_or_else(|| "known_servers".to_string(), |f| f.display().to_string());
    format!(
        "WARNING: the certificate of {server} has changed!\n\
suda: remembered:  {remembered}\n\
suda: offered now: {offered}\n\
suda: Someone may be listening in (a man-in-the-middle attack), or the server got a new certificate.\n\
suda: If you trust the change, delete the line for {server} in {file}, or connect with --pin {offered}."
    )
}

/// A client's connection, plain TCP or TLS (`suda connect`, and the load
/// generator's clients).
#[derive(Debug)]
pub enum Wire {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<ClientTls>),
}

impl Wire {
    /// The socket under it.
    pub fn socket(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) => s,
            Wire::Tls(s) => s.socket(),
        }
    }

    /// The socket, to register it with a poller.
    pub fn socket_mut(&mut self) -> &mut TcpStream {
        match self {
            Wire::Plain(s) => s,
            Wire::Tls(s) => s.socket_mut(),
        }
    }

    /// The SHA-256 of the certificate the server showed (TLS only): a
    /// file transfer to the same server accepts that one and no other.
    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        match self {
            Wire::Plain(_) => None,
            Wire::Tls(s) => s
                .connection()
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|cert| Fingerprint::of(cert)),
        }
    }

    /// Whether a short read may be taken to mean the socket is empty: not
    /// over TLS, where rustls may hold more plaintext than one read takes.
    pub fn short_read_drains(&self) -> bool {
        matches!(self, Wire::Plain(_))
    }

    /// Closes our sending side (after close_notify, over TLS).
    ///
    /// # Errors
    ///
    /// From the socket.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.shutdown(Shutdown::Write),
            Wire::Tls(s) => {
                s.close_notify();
                s.socket().shutdown(Shutdown::Write)
            }
        }
    }

    /// Whether bytes already written are still waiting for the socket
    /// (TLS records); tries to send them first.
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub fn holds_unsent(&mut self) -> io::Result<bool> {
        match self {
            Wire::Plain(_) => Ok(false),
            Wire::Tls(s) => match s.flush() {
                Ok(()) => Ok(false),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
                Err(e) => Err(e),
            },
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.flush(),
            Wire::Tls(s) => s.flush(),
        }
    }
}

impl Source for Wire {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.register(registry, token, interests),
            Wire::Tls(s) => s.socket_mut().register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.reregister(registry, token, interests),
            Wire::Tls(s) => s.socket_mut().reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.deregister(registry),
            Wire::Tls(s) => s.socket_mut().deregister(registry),
        }
    }
}
