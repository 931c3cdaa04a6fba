//! A TLS chat participant for the tests: rustls over a blocking socket,
//! accepting any certificate but remembering its fingerprint, so a test
//! can say which one the server showed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use suda::net::tls::fingerprint::Fingerprint;

use super::READ_TIMEOUT;

/// Takes any certificate; keeps the last one's fingerprint.
#[derive(Debug, Default)]
struct AnyCert {
    seen: Mutex<Option<Fingerprint>>,
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().expect("lock") = Some(Fingerprint::of(end_entity));
        Ok(ServerCertVerified::assertion())
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
            &suda::net::tls::provider().signature_verification_algorithms,
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
            &suda::net::tls::provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        suda::net::tls::provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A blocking TLS session to `addr` that accepts any certificate.
pub fn tls_stream(addr: SocketAddr) -> StreamOwned<ClientConnection, TcpStream> {
    let config = ClientConfig::builder_with_provider(suda::net::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert::default()))
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("name");
    let conn = ClientConnection::new(Arc::new(config), name).expect("client");
    let socket = TcpStream::connect_timeout(&addr, READ_TIMEOUT).expect("connect");
    socket
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    socket
        .set_write_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    StreamOwned::new(conn, socket)
}

/// A chat client over TLS.
pub struct TlsClient {
    stream: StreamOwned<ClientConnection, TcpStream>,
    /// The server certificate's fingerprint.
    pub fingerprint: Fingerprint,
    buf: Vec<u8>,
    /// The end came with close_notify (`Some(true)`) or without.
    clean_end: Option<bool>,
}

impl TlsClient {
    /// Connects and completes the handshake.
    pub fn connect(addr: SocketAddr) -> TlsClient {
        let verifier = Arc::new(AnyCert::default());
        let config = ClientConfig::builder_with_provider(suda::net::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").expect("name");
        let conn = ClientConnection::new(Arc::new(config), name).expect("client");
        let socket = TcpStream::connect_timeout(&addr, READ_TIMEOUT).expect("connect");
        socket
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        socket
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        let mut stream = StreamOwned::new(conn, socket);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .expect("TLS handshake");
        }
        let fingerprint = verifier.seen.lock().expect("lock").expect("a certificate");
        TlsClient {
            stream,
            fingerprint,
            buf: Vec::new(),
            clean_end: None,
        }
    }

    /// Connects, reads the welcome, joins as `nick` and reads the greeting.
    pub fn join(addr: SocketAddr, nick: &str) -> TlsClient {
        let mut client = TlsClient::connect(addr);
        let welcome = client.line();
        assert!(welcome.starts_with("[Server]: Welcome to "), "{welcome:?}");
        client.expect("[Server]: Enter your nickname:");
        client.send(nick);
        client.expect(&format!(
            "[Server]: Welcome, {nick}! Type /help for commands."
        ));
        client
    }

    /// Sends `text` and a newline.
    pub fn send(&mut self, text: &str) {
        self.send_raw(format!("{text}\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
        self.stream.flush().expect("flush");
    }

    /// The next line as bytes (without `\n`), or `None` at the end.
    pub fn line_bytes(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=at).collect();
                line.pop();
                return Some(line);
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.clean_end = Some(true);
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The server closed without close_notify: the end, too.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.clean_end = Some(false);
                    return None;
                }
                Err(e) => panic!(
                    "no line within {READ_TIMEOUT:?} ({e}); partial: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// The next line, UTF-8.
    pub fn line(&mut self) -> String {
        let bytes = self.line_bytes().expect("a line, not the end");
        String::from_utf8(bytes.clone()).unwrap_or_else(|_| panic!("not UTF-8: {bytes:?}"))
    }

    /// The next line must be `wanted`.
    pub fn expect(&mut self, wanted: &str) {
        assert_eq!(self.line(), wanted);
    }

    /// Reads until the line `wanted`; returns the lines before it.
    pub fn until(&mut self, wanted: &str) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            match self.line_bytes() {
                Some(line) if line == wanted.as_bytes() => return before,
                Some(line) => before.push(String::from_utf8_lossy(&line).into_owned()),
                None => panic!("end before {wanted:?}; got {before:?}"),
            }
        }
    }

    /// Reads until a line starting with `prefix`; returns it.
    pub fn until_prefix_tls(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// The server must end the session; what came before is returned.
    pub fn expect_closed(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Some(line) = self.line_bytes() {
            rest.push(String::from_utf8_lossy(&line).into_owned());
        }
        rest
    }

    /// Whether the server sent close_notify (a clean TLS end).
    pub fn closed_cleanly(&self) -> bool {
        self.clean_end == Some(true)
    }
}

/// A certificate and key as PEM files, made with rcgen for `names`; with
/// `ca`, signed by that CA (cert and key PEM), else self-signed.
pub fn write_cert(dir: &Path, stem: &str, names: &[&str]) -> (PathBuf, PathBuf, Fingerprint) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("rcgen");
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}.key"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
    (cert, key, Fingerprint::of(made.cert.der()))
}

/// A CA and a server certificate it signed for `names`, as PEM files:
/// `(ca.pem, server.pem, server.key)`.
pub fn write_ca_signed(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "suda test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("signed");
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write");
    std::fs::write(&paths.1, cert.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}
