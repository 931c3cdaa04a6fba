//! Clients of a TLS server: `suda connect --tls` and whom it trusts
//! (pinned, first use, a changed certificate, a CA), and the tools people
//! already have: `openssl s_client` and `socat`.

mod util;

use std::io::Write;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use util::tls::write_ca_signed;
use util::{ChatClient, Lines, Server};

/// The fingerprint the server printed at start.
fn printed_fingerprint(server: &Server) -> String {
    let text = server.stderr_text();
    text.lines()
        .find_map(|l| l.strip_prefix("suda: TLS certificate "))
        .unwrap_or_else(|| panic!("no fingerprint printed: {text}"))
        .to_string()
}

/// `suda connect --tls` to `server` with `args`, remembering in `known`.
fn tls_client(server: &Server, known: &std::path::Path, args: &[&str]) -> ChatClient {
    let known = known.display().to_string();
    let mut all = vec!["--tls", "--known-servers", known.as_str()];
    all.extend_from_slice(args);
    server.chat_client(&all)
}

#[test]
fn first_use_is_remembered_and_then_trusted_quietly() {
    let server = Server::start(&["--tls-self-signed"]);
    let fingerprint = printed_fingerprint(&server);
    let home = tempfile::tempdir().expect("temp dir");
    let known = home.path().join("suda").join("known_servers");
    let mut bob = server.join("Bob");

    let mut mina = tls_client(&server, &known, &["--nick", "미나"]);
    mina.joined("미나");
    bob.expect(util::ENCODING_HINT);
    bob.expect("[Server]: 미나 has joined the chat.");
    bob.send("어서 와요");
    mina.until("Bob >> 어서 와요");
    mina.send("고마워요!");
    bob.expect("미나 >> 고마워요!");
    mina.close_stdin();
    let (status, stderr) = mina.finish();
    assert!(status.success(), "{status:?} {stderr}");
    let key = format!("127.0.0.1:{}", server.addr.port());
    assert!(
        stderr.contains(&format!(
            "first time connecting to {key}; remembering {fingerprint}"
        )),
        "{stderr}"
    );
    let kept = std::fs::read_to_string(&known).expect("known_servers written");
    assert_eq!(kept, format!("{key} {fingerprint}\n"));
    bob.expect("[Server]: 미나 has left the chat.");

    // The second time it is known: nothing to say about it.
    let mut again = tls_client(&server, &known, &["--nick", "미나"]);
    again.joined("미나");
    again.close_stdin();
    let (status, stderr) = again.finish();
    assert!(status.success(), "{status:?} {stderr}");
    assert!(!stderr.contains("first time"), "{stderr}");
}

#[test]
fn a_changed_certificate_stops_the_client_naming_both() {
    let server = Server::start(&["--tls-self-signed"]);
    let offered = printed_fingerprint(&server);
    let home = tempfile::tempdir().expect("temp dir");
    let known = home.path().join("known_servers");
    let key = format!("127.0.0.1:{}", server.addr.port());
    let remembered = format!("SHA256:{}", "ab".repeat(32));
    std::fs::write(&known, format!("{key} {remembered}\n")).expect("write");
    let mut bob = server.join("Bob");

    let mut client = tls_client(&server, &known, &["--nick", "Mallory"]);
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has changed"), "{stderr}");
    assert!(stderr.contains(&remembered), "{stderr}");
    assert!(stderr.contains(&offered), "{stderr}");
    // Nothing was sent in the clear or otherwise; the file is untouched.
    assert!(bob.sync().is_empty());
    assert_eq!(
        std::fs::read_to_string(&known).expect("file"),
        format!("{key} {remembered}\n")
    );
}

#[test]
fn a_pin_accepts_that_certificate_only() {
    let server = Server::start(&["--tls-self-signed"]);
    let fingerprint = printed_fingerprint(&server);
    let home = tempfile::tempdir().expect("temp dir");
    let known = home.path().join("known_servers");

    let mut pinned = tls_client(&server, &known, &["--pin", &fingerprint, "--nick", "Pin"]);
    pinned.joined("Pin");
    pinned.close_stdin();
    let (status, stderr) = pinned.finish();
    assert!(status.success(), "{stderr}");
    assert!(!known.exists(), "a pin needs no memory");

    let wrong = format!("SHA256:{}", "00".repeat(32));
    let mut refused = tls_client(&server, &known, &["--pin", &wrong, "--nick", "Pin"]);
    let (status, stderr) = refused.finish();
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains(&fingerprint) && stderr.contains("--pin"),
        "{stderr}"
    );

    // --udp and --tls cannot go together: a usage error.
    let mut both = ChatClient::start(&[&server.addr.to_string(), "--tls", "--udp"]);
    let (status, stderr) = both.finish();
    assert_eq!(status.code(), Some(2), "{stderr}");
}

#[test]
fn a_certificate_from_a_trusted_ca_needs_no_first_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = write_ca_signed(dir.path(), &["127.0.0.1", "localhost"]);
    // As certbot writes fullchain.pem: the server's certificate, then its issuer.
    let fullchain = dir.path().join("fullchain.pem");
    let chain = [
        std::fs::read_to_string(&cert).expect("cert"),
        std::fs::read_to_string(&ca).expect("ca"),
    ]
    .concat();
    std::fs::write(&fullchain, chain).expect("write");
    let (cert, key) = (fullchain.display().to_string(), key.display().to_string());
    let server = Server::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let known = dir.path().join("known_servers");
    let ca = ca.display().to_string();
    let mut client = tls_client(&server, &known, &["--ca", &ca, "--nick", "Ca"]);
    client.joined("Ca");
    client.close_stdin();
    let (status, stderr) = client.finish();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("first time"), "{stderr}");
    // Without the CA the same certificate is only trusted on first use.
    let mut tofu = tls_client(&server, &dir.path().join("other"), &["--nick", "Tofu"]);
    tofu.joined("Tofu");
    tofu.close_stdin();
    let (_, stderr) = tofu.finish();
    assert!(stderr.contains("first time connecting"), "{stderr}");
}

/// Another program as a participant, its input and output piped.
struct Tool {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<ChildStdout>,
}

impl Tool {
    /// Starts `program args`, or `None` (with the reason printed) if it is
    /// not installed.
    fn start(program: &str, args: &[&str]) -> Option<Tool> {
        let mut child = match Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                eprintln!("skipped: {program} is not installed ({e}); apt-get install {program}");
                return None;
            }
        };
        let stdin = child.stdin.take().expect("stdin");
        let stdout = Lines::new(child.stdout.take().expect("stdout"));
        Some(Tool {
            child,
            stdin,
            stdout,
        })
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write");
        self.stdin.flush().expect("flush");
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UTF-8 participant typing with Windows line ends, then a CP949 one:
/// both chat with a plaintext participant through `tool`.
fn chat_through(server: &Server, mut start: impl FnMut() -> Option<Tool>) {
    let Some(mut utf8) = start() else { return };
    let mut bob = server.join("Bob");
    utf8.stdout.until("[Server]: Enter your nickname:");
    utf8.send("지수\r\n".as_bytes());
    utf8.stdout
        .until("[Server]: Welcome, 지수! Type /help for commands.");
    bob.expect(util::ENCODING_HINT);
    bob.expect("[Server]: 지수 has joined the chat.");
    utf8.send("안녕, 밥\r\n".as_bytes());
    bob.expect("지수 >> 안녕, 밥");
    bob.send("안녕 지수");
    utf8.stdout.until("Bob >> 안녕 지수");

    let Some(mut cp949) = start() else { return };
    cp949.stdout.until("[Server]: Enter your nickname:");
    cp949.send(b"\xb9\xce\xbc\xf6\n"); // 민수, in CP949
    let welcome = encoding_rs::EUC_KR
        .encode("[Server]: Welcome, 민수! Type /help for commands.")
        .0
        .into_owned();
    cp949.stdout.until_bytes(&welcome);
    bob.expect("[Server]: 민수 has joined the chat.");
    cp949.send(b"\xc7\xd1\xb1\xdb\n"); // 한글
    bob.expect("민수 >> 한글");
    bob.send("잘 보여요?");
    let seen = encoding_rs::EUC_KR
        .encode("Bob >> 잘 보여요?")
        .0
        .into_owned();
    cp949.stdout.until_bytes(&seen);
    utf8.stdout.until("Bob >> 잘 보여요?");
    drop(cp949);
    bob.expect("[Server]: 민수 has left the chat.");
}

#[test]
fn openssl_s_client_is_a_participant() {
    let server = Server::start(&["--tls-self-signed"]);
    let addr = server.addr.to_string();
    chat_through(&server, || {
        Tool::start("openssl", &["s_client", "-quiet", "-connect", &addr])
    });
}

#[test]
fn socat_is_a_participant() {
    let server = Server::start(&["--tls-self-signed"]);
    let target = format!("OPENSSL:{},verify=0", server.addr);
    chat_through(&server, || Tool::start("socat", &["-", &target]));
}

#[test]
fn tls_to_a_server_without_it_says_so() {
    let server = Server::start(&[]);
    let home = tempfile::tempdir().expect("temp dir");
    let mut client = tls_client(&server, &home.path().join("known"), &["--nick", "Tina"]);
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("does it have TLS on?"), "{stderr}");
    // And the plaintext client meets --tls-only's line, not silence.
    let strict = Server::start(&["--tls-self-signed", "--tls-only"]);
    let mut plain = strict.chat_client(&["--nick", "Tina"]);
    plain.expect(&format!(
        "[Server]: This server needs TLS. Connect with: suda connect --tls 127.0.0.1:{}",
        strict.addr.port()
    ));
    let (status, _) = plain.finish();
    assert_eq!(status.code(), Some(1));
}
