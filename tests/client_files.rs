//! `suda connect`'s `/send` and `/get` over real sockets: between two
//! real clients through the real server, and against a fake server where
//! the test must make the server misbehave (a cut download, more bytes
//! than offered, a hostile file name).

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use util::{ChatClient, READ_TIMEOUT};

const WELCOME: &str = "[Server]: Welcome to suda! (0/10 online)";
const PROMPT: &str = "[Server]: Enter your nickname:";

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// Bytes that are not all alike, so a misplaced range would show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A socket of a fake server, plain or TLS.
trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// The accepted `stream`, inside TLS with `tls`.
fn wrap(stream: std::net::TcpStream, tls: Option<&Arc<ServerConfig>>) -> Box<dyn Duplex> {
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    match tls {
        Some(config) => {
            let conn = ServerConnection::new(Arc::clone(config)).expect("tls");
            Box::new(StreamOwned::new(conn, stream))
        }
        None => Box::new(stream),
    }
}

/// A TLS server config with a fresh self-signed certificate for
/// 127.0.0.1, and its fingerprint.
fn tls_config(dir: &Path, stem: &str) -> (Arc<ServerConfig>, String) {
    let (cert, key, fingerprint) = util::tls::write_cert(dir, stem, &["127.0.0.1"]);
    let certs = CertificateDer::pem_file_iter(&cert)
        .expect("cert")
        .collect::<Result<Vec<_>, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_file(&key).expect("key");
    let config = ServerConfig::builder_with_provider(suda::net::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("config");
    (Arc::new(config), fingerprint.to_string())
}

/// A chat server that logs the client in as Bob, says `lines`, answers
/// `/upload` with `link` (if any), then waits for the client to close its
/// side (it does once its input ended and its transfers finished).
/// Returns the lines the client sent.
fn fake_chat(
    listener: TcpListener,
    lines: Vec<String>,
    link: Option<String>,
    tls: Option<Arc<ServerConfig>>,
) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut wire = BufReader::new(wrap(stream, tls.as_ref()));
        let say = |wire: &mut BufReader<Box<dyn Duplex>>, text: &str| {
            let out = wire.get_mut();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .expect("send");
        };
        say(&mut wire, &format!("{WELCOME}\n{PROMPT}\n"));
        let mut heard = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if wire.read_line(&mut line).expect("read") == 0 {
                return heard;
            }
            let got = line.trim_end().to_string();
            if got == "Bob" {
                let mut text = "[Server]: Welcome, Bob! Type /help for commands.\n".to_string();
                for l in &lines {
                    text.push_str(l);
                    text.push('\n');
                }
                say(&mut wire, &text);
            }
            if let (true, Some(link)) = (got.starts_with("/upload"), &link) {
                say(&mut wire, &format!("{link}\n"));
            }
            heard.push(got);
        }
    })
}

/// One HTTP exchange the fake file server has: what it checks in the
/// request and what it answers.
struct Answer {
    /// A header line the request must carry (`None`: must carry no Range).
    expect_range: Option<String>,
    /// The bytes to answer with, head and body.
    reply: Vec<u8>,
}

/// An HTTP server that answers one request per entry of `answers`, in
/// order, then closes each connection.
fn fake_http(
    listener: TcpListener,
    answers: Vec<Answer>,
    tls: Option<Arc<ServerConfig>>,
) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut requests = Vec::new();
        for answer in answers {
            let (stream, _) = listener.accept().expect("accept");
            let mut stream = wrap(stream, tls.as_ref());
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).expect("request head");
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let range = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                .map(str::to_string);
            assert_eq!(range, answer.expect_range, "{head}");
            // The peer may have gone already (it refused the answer).
            let _ = stream
                .write_all(&answer.reply)
                .and_then(|()| stream.flush());
            requests.push(head.lines().next().unwrap_or("").to_string());
        }
        requests
    })
}

/// A client logged in as Bob to the fake chat server, saving into `dir`.
fn bob(chat: &TcpListener, dir: &Path, extra: &[&str]) -> ChatClient {
    let addr = chat.local_addr().expect("addr").to_string();
    let dir = dir.display().to_string();
    let mut args = vec![addr.as_str(), "--nick", "Bob", "--download-dir", &dir];
    args.extend_from_slice(extra);
    ChatClient::start(&args)
}

/// Runs one session: the offer is shown, `/get` typed, input closed; the
/// client must exit 0 after its download. Returns its standard error.
fn get_once(offer: &str, dir: &Path, answers: Vec<Answer>) -> String {
    get_with(offer, dir, answers, None, &[])
}

/// [`get_once`] with the chat server and the file server over TLS with
/// these configs, and more client flags.
fn get_with(
    offer: &str,
    dir: &Path,
    answers: Vec<Answer>,
    tls: Option<(Arc<ServerConfig>, Arc<ServerConfig>)>,
    extra: &[&str],
) -> String {
    let chat = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = http.local_addr().expect("addr").port();
    let offer = offer.replace("PORT", &port.to_string());
    let (chat_tls, http_tls) = tls.unzip();
    let files = fake_http(http, answers, http_tls);
    let server = fake_chat(
        chat.try_clone().expect("clone"),
        vec![offer.clone()],
        None,
        chat_tls,
    );
    let mut client = bob(&chat, dir, extra);
    // Plain mode: the offer as sent, less what never shows (the client
    // drops format characters such as an RTL override from every line).
    client.until(&offer.replace('\u{202e}', ""));
    client.send("/get");
    client.close_stdin();
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    files.join().expect("http thread");
    let heard = server.join().expect("chat thread");
    assert!(
        !heard.iter().any(|l| l.starts_with("/get")),
        "/get is the client's own: {heard:?}"
    );
    stderr
}

/// A download cut in the middle leaves a part file, and the next `/get` of
/// the same link asks only for the rest (Range) and completes the file.
#[test]
fn a_cut_download_resumes_with_range() {
    let dir = tempfile::tempdir().expect("dir");
    let body = pattern(300_000);
    let offer = "[File from Alice] 보고서 1.pdf (293.0 KiB) http://127.0.0.1:PORT/f/0123abcd/%EB%B3%B4%EA%B3%A0%EC%84%9C%201.pdf";

    let mut cut = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
        body.len()
    )
    .into_bytes();
    cut.extend_from_slice(&body[..120_000]);
    let stderr = get_once(
        offer,
        dir.path(),
        vec![Answer {
            expect_range: None,
            reply: cut,
        }],
    );
    assert!(
        stderr.contains("Download of file 1 (보고서 1.pdf) failed: ")
            && stderr.contains("/get 1 again resumes it."),
        "{stderr}"
    );
    let names = listing(dir.path());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with(".보고서 1.pdf.") && names[0].ends_with(".part"));

    let mut rest = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes 120000-{}/{}\r\n\r\n",
        body.len() - 120_000,
        body.len() - 1,
        body.len()
    )
    .into_bytes();
    rest.extend_from_slice(&body[120_000..]);
    let stderr = get_once(
        offer,
        dir.path(),
        vec![Answer {
            expect_range: Some("Range: bytes=120000-".into()),
            reply: rest,
        }],
    );
    let saved = dir.path().join("보고서 1.pdf");
    assert!(
        stderr.contains(&format!("Saved 보고서 1.pdf as {}.", saved.display())),
        "{stderr}"
    );
    assert_eq!(listing(dir.path()), ["보고서 1.pdf"]);
    let got = std::fs::read(&saved).expect("saved file");
    assert_eq!(sha256(&got), sha256(&body));
}

/// A server that sends more than the size it offered is cut off and
/// leaves nothing behind, whether it says so up front (Content-Length)
/// or just keeps sending until it closes.
#[test]
fn more_bytes_than_offered_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let offer = "[File from Alice] small.txt (1.0 KiB) http://127.0.0.1:PORT/f/feed/small.txt";
    let announced = b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n".to_vec();
    let stderr = get_once(
        offer,
        dir.path(),
        vec![Answer {
            expect_range: None,
            reply: announced,
        }],
    );
    assert!(
        stderr.contains("failed: the server sends more than the 1.0 KiB it offered."),
        "{stderr}"
    );
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    let mut unbounded = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    unbounded.extend_from_slice(&pattern(64 * 1024));
    let stderr = get_once(
        offer,
        dir.path(),
        vec![Answer {
            expect_range: None,
            reply: unbounded,
        }],
    );
    assert!(
        stderr.contains("failed: the server sent more than the 1.0 KiB it offered."),
        "{stderr}"
    );
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

/// A hostile name (a path out of the folder, an RTL override that would
/// show `exe.txt` for `txt.exe`) is saved as a plain name inside the
/// folder, next to (never over) a file of that name.
#[test]
fn hostile_names_stay_in_the_folder_and_never_overwrite() {
    let top = tempfile::tempdir().expect("dir");
    let dir = top.path().join("downloads");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("_.._evilfdp.exe"), "mine").expect("write");
    let offer = "[File from Alice] ../../evil\u{202e}fdp.exe (5 B) http://127.0.0.1:PORT/f/beef/x";
    let stderr = get_once(
        offer,
        &dir,
        vec![Answer {
            expect_range: None,
            reply: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        }],
    );
    let saved = dir.join("_.._evilfdp (1).exe");
    assert!(
        stderr.contains(&format!("as {}.", saved.display())),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&saved).expect("saved"), b"hello");
    assert_eq!(
        std::fs::read(dir.join("_.._evilfdp.exe")).expect("old"),
        b"mine"
    );
    assert_eq!(listing(top.path()), ["downloads"]);
}

/// A link planted where the part file goes (a shared download folder) is
/// not written through: the download fails, the file it points to is
/// untouched.
#[test]
fn a_planted_link_is_not_written_through() {
    let top = tempfile::tempdir().expect("dir");
    let dir = top.path().join("shared");
    std::fs::create_dir(&dir).expect("mkdir");
    let victim = top.path().join("victim");
    std::fs::write(&victim, "precious").expect("write");
    let tag: String = sha256(b"/f/beef/a.txt")[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::os::unix::fs::symlink(&victim, dir.join(format!(".a.txt.{tag}.part"))).expect("symlink");
    let offer = "[File from Alice] a.txt (5 B) http://127.0.0.1:PORT/f/beef/a.txt";
    let stderr = get_once(
        offer,
        &dir,
        vec![Answer {
            expect_range: None,
            reply: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
        }],
    );
    assert!(
        stderr.contains("Download of file 1 (a.txt) failed: cannot write "),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
    assert!(!dir.join("a.txt").exists());
}

/// `/get` with nothing offered, `/send` of a missing file or a folder:
/// a plain local error, nothing sent to the server.
#[test]
fn local_mistakes_are_said_plainly() {
    let dir = tempfile::tempdir().expect("dir");
    let chat = TcpListener::bind("127.0.0.1:0").expect("bind");
    let server = fake_chat(
        chat.try_clone().expect("clone"),
        vec!["[Server]: ready".into()],
        None,
        None,
    );
    let mut client = bob(&chat, dir.path(), &[]);
    client.until("[Server]: ready");
    client.send("/get");
    client.send("/get 3");
    client.send(&format!(
        "/send {}",
        dir.path().join("없는 파일.txt").display()
    ));
    client.send(&format!("/send {}", dir.path().display()));
    client.close_stdin();
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let heard = server.join().expect("chat thread");
    assert!(
        !heard
            .iter()
            .any(|l| l.starts_with("/upload") || l.starts_with("/send")),
        "{heard:?}"
    );
    let missing = dir.path().join("없는 파일.txt");
    for wanted in [
        "suda: No file has been offered yet.\n".to_string(),
        format!("suda: {}: no such file.\n", missing.display()),
        format!(
            "suda: {} is a folder; /send takes one file.\n",
            dir.path().display()
        ),
    ] {
        assert!(stderr.contains(&wanted), "{wanted:?} in {stderr}");
    }
}

/// The upload link is used at once: the file goes up with its length on a
/// second connection, while the chat connection stays open.
#[test]
fn send_puts_the_file_at_the_link() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("my notes.txt");
    let body = pattern(200_000);
    std::fs::write(&path, &body).expect("write");

    let chat = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = http.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    let files = std::thread::spawn(move || {
        let (stream, _) = http.accept().expect("accept");
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("head");
            if line == "\r\n" {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let mut got = vec![0u8; 200_000];
        reader.read_exact(&mut got).expect("body");
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            .expect("answer");
        tx.send((head, got)).expect("report");
    });
    let link = format!(
        "[Server]: Upload within 10 minutes: curl -T 'my notes.txt' http://127.0.0.1:{port}/u/tok3n"
    );
    let server = fake_chat(chat.try_clone().expect("clone"), vec![], Some(link), None);
    let mut client = bob(&chat, dir.path(), &[]);
    client.joined("Bob");
    client.send(&format!("/send {} 민수", path.display()));
    let (head, got) = rx.recv_timeout(READ_TIMEOUT).expect("the upload");
    files.join().expect("http thread");
    assert_eq!(head[0], "PUT /u/tok3n HTTP/1.1");
    assert!(
        head.contains(&"Content-Length: 200000".to_string()),
        "{head:?}"
    );
    assert_eq!(sha256(&got), sha256(&body));
    // Chat goes on over the first connection.
    client.send("still here");
    client.close_stdin();
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("suda: Sent my notes.txt (195.3 KiB).\n"),
        "{stderr}"
    );
    let heard = server.join().expect("chat thread");
    assert!(
        heard.contains(&"/upload @민수 my notes.txt".to_string()),
        "{heard:?}"
    );
    assert!(heard.contains(&"still here".to_string()), "{heard:?}");
}

/// Over TLS the download's server must show the chat server's own
/// certificate: the same one is trusted without asking, another one is
/// refused (and not remembered), nothing is saved.
#[test]
fn over_tls_a_transfer_trusts_only_the_chat_certificate() {
    let keys = tempfile::tempdir().expect("dir");
    let (chat_tls, chat_fp) = tls_config(keys.path(), "chat");
    let (other_tls, other_fp) = tls_config(keys.path(), "other");
    let known = keys.path().join("known_servers");
    let known_arg = known.display().to_string();
    let flags = ["--tls", "--known-servers", known_arg.as_str()];
    let offer = "[File from Alice] a.txt (5 B) https://127.0.0.1:PORT/f/c0ffee/a.txt";
    let ok = || Answer {
        expect_range: None,
        reply: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
    };

    let dir = tempfile::tempdir().expect("dir");
    let tls = Some((Arc::clone(&chat_tls), Arc::clone(&chat_tls)));
    let stderr = get_with(offer, dir.path(), vec![ok()], tls, &flags);
    assert!(stderr.contains("Saved a.txt as "), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("a.txt")).expect("saved"),
        b"hello"
    );

    let dir = tempfile::tempdir().expect("dir");
    let chat = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = http.local_addr().expect("addr").port();
    let offer = offer.replace("PORT", &port.to_string());
    // The file server's handshake fails: it answers nothing.
    let files = std::thread::spawn(move || {
        let (stream, _) = http.accept().expect("accept");
        let mut stream = wrap(stream, Some(&other_tls));
        let mut byte = [0u8; 1];
        assert!(stream.read_exact(&mut byte).is_err(), "a request came");
    });
    let server = fake_chat(
        chat.try_clone().expect("clone"),
        vec![offer.clone()],
        None,
        Some(chat_tls),
    );
    let mut client = bob(&chat, dir.path(), &flags);
    client.until(&offer);
    client.send("/get");
    client.close_stdin();
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    files.join().expect("file server");
    server.join().expect("chat server");
    assert!(
        stderr.contains(&format!(
            "failed: 127.0.0.1 showed another certificate ({other_fp}) than the chat server, so it is not trusted."
        )),
        "{stderr}"
    );
    assert_eq!(listing(dir.path()), Vec::<String>::new());
    let remembered = std::fs::read_to_string(&known).expect("known_servers");
    assert!(
        remembered.contains(&chat_fp) && !remembered.contains(&other_fp),
        "{remembered}"
    );
}

// Through the real server: two `suda connect` processes.

/// Reads the client's output until a line starting with `prefix`.
fn until_prefix(client: &mut ChatClient, prefix: &str) -> String {
    let mut before = Vec::new();
    loop {
        match client.stdout.next_line() {
            Some(line) if line.starts_with(prefix) => return line,
            Some(line) => before.push(line),
            None => panic!("end of output before {prefix:?}; got {before:?}"),
        }
    }
}

/// A `suda connect` as `nick`, saving into `dir`.
fn joined_client(server: &util::Server, nick: &str, dir: &Path) -> ChatClient {
    let dir = dir.display().to_string();
    let mut client = server.chat_client(&["--nick", nick, "--download-dir", &dir]);
    client.joined(nick);
    client
}

/// The whole flow for the room: Bob's `/send` of a file with a Hangul name
/// and a space, the offer at Alice's, her `/get`, the same bytes on disk.
#[test]
fn send_and_get_between_two_clients() {
    let server = util::Server::start(&[]);
    let shared = tempfile::tempdir().expect("dir");
    let saved = tempfile::tempdir().expect("dir");
    let body = pattern(3 << 20);
    let path = shared.path().join("보고서 최종.bin");
    std::fs::write(&path, &body).expect("write");

    let mut alice = joined_client(&server, "Alice", saved.path());
    let mut bob = joined_client(&server, "Bob", shared.path());
    until_prefix(&mut alice, "[Server]: Bob has joined the chat.");
    bob.send(&format!("/send {}", path.display()));
    // Plain output: the server's own lines, as sent.
    until_prefix(&mut bob, "[Server]: Upload within 10 minutes: curl -T ");
    until_prefix(&mut bob, "[Server]: Shared 보고서 최종.bin (3 MiB).");
    let offer = until_prefix(
        &mut alice,
        "[File from Bob] 보고서 최종.bin (3 MiB) http://",
    );
    assert!(offer.contains("/f/"), "{offer}");
    bob.send("still chatting");
    until_prefix(&mut alice, "Bob >> still chatting");

    alice.send("/get 1");
    alice.close_stdin();
    let (status, stderr) = alice.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let file = saved.path().join("보고서 최종.bin");
    assert!(
        stderr.contains(&format!("Saved 보고서 최종.bin as {}.", file.display())),
        "{stderr}"
    );
    assert_eq!(listing(saved.path()), ["보고서 최종.bin"]);
    assert_eq!(sha256(&std::fs::read(&file).expect("saved")), sha256(&body));

    bob.close_stdin();
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("suda: Sent 보고서 최종.bin (3 MiB).\n"),
        "{stderr}"
    );
}

/// `/send <path> <nick>`: only that person is offered the file; someone
/// else in the room (with nc) sees nothing of it.
#[test]
fn a_file_for_one_person_reaches_only_them() {
    let server = util::Server::start(&[]);
    let shared = tempfile::tempdir().expect("dir");
    let saved = tempfile::tempdir().expect("dir");
    let body = pattern(70_000);
    let path = shared.path().join("notes.txt");
    std::fs::write(&path, &body).expect("write");

    let mut dave = server.join("Dave");
    let mut carol = joined_client(&server, "Carol", saved.path());
    let mut bob = joined_client(&server, "Bob", shared.path());
    until_prefix(&mut carol, "[Server]: Bob has joined the chat.");
    bob.send(&format!("/send {} Carol", path.display()));
    until_prefix(&mut bob, "[Server]: Shared notes.txt (68.4 KiB).");
    until_prefix(&mut carol, "[File from Bob] notes.txt (68.4 KiB) http://");
    let seen = dave.sync();
    assert!(!seen.iter().any(|l| l.contains("[File from")), "{seen:?}");

    carol.send("/get");
    carol.close_stdin();
    let (status, stderr) = carol.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let got = std::fs::read(saved.path().join("notes.txt")).expect("saved");
    assert_eq!(sha256(&got), sha256(&body));
}

/// A file over `--max-file-size`: the server's refusal is shown, the
/// client says the upload failed with the HTTP status, nobody is offered
/// anything.
#[test]
fn an_oversize_file_is_refused_plainly() {
    let server = util::Server::start(&["--max-file-size", "1KiB"]);
    let shared = tempfile::tempdir().expect("dir");
    let path = shared.path().join("big.bin");
    std::fs::write(&path, pattern(64 * 1024)).expect("write");

    let mut alice = server.join("Alice");
    let mut bob = joined_client(&server, "Bob", shared.path());
    alice.until("[Server]: Bob has joined the chat.");
    bob.send(&format!("/send {}", path.display()));
    until_prefix(
        &mut bob,
        "[Server]: Upload refused: big.bin is larger than 1 KiB.",
    );
    bob.close_stdin();
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "suda: Upload of big.bin failed: the server refused it as too large (HTTP 413)"
        ),
        "{stderr}"
    );
    let seen = alice.sync();
    assert!(!seen.iter().any(|l| l.contains("[File from")), "{seen:?}");
}

/// A server whose uploads are all busy answers `503` with `Retry-After`:
/// the client waits that long and sends the whole file again.
#[test]
fn a_busy_server_gets_the_upload_again() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("a.bin");
    let body = pattern(50_000);
    std::fs::write(&path, &body).expect("write");
    let chat = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = http.local_addr().expect("addr").port();
    let files = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for reply in [
            &b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"[..],
            &b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"[..],
        ] {
            let (stream, _) = http.accept().expect("accept");
            stream
                .set_read_timeout(Some(READ_TIMEOUT))
                .expect("timeout");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("head");
                if line == "\r\n" {
                    break;
                }
                if let Some(n) = line.strip_prefix("Content-Length: ") {
                    length = n.trim().parse().expect("length");
                }
            }
            let mut got = vec![0u8; length];
            reader.read_exact(&mut got).expect("body");
            bodies.push(got);
            let mut stream = stream;
            stream.write_all(reply).expect("answer");
        }
        bodies
    });
    let link =
        format!("[Server]: Upload within 10 minutes: curl -T 'a.bin' http://127.0.0.1:{port}/u/t");
    let server = fake_chat(chat.try_clone().expect("clone"), vec![], Some(link), None);
    let mut client = bob(&chat, dir.path(), &[]);
    client.joined("Bob");
    client.send(&format!("/send {}", path.display()));
    client.close_stdin();
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("suda: Sent a.bin (48.8 KiB).\n"),
        "{stderr}"
    );
    let bodies = files.join().expect("http thread");
    assert_eq!(bodies.len(), 2);
    assert!(bodies.iter().all(|b| sha256(b) == sha256(&body)));
    server.join().expect("chat thread");
}

/// Over TLS through the real server: the links are https:// and the
/// transfers trust the chat's certificate, first-used and remembered
/// once, without a second question.
#[test]
fn send_and_get_over_tls() {
    let server = util::Server::start(&["--tls-self-signed"]);
    let keys = tempfile::tempdir().expect("dir");
    let shared = tempfile::tempdir().expect("dir");
    let saved = tempfile::tempdir().expect("dir");
    let body = pattern(500_000);
    let path = shared.path().join("secret.pdf");
    std::fs::write(&path, &body).expect("write");
    let known = keys.path().join("known_servers").display().to_string();
    let start = |nick: &str, dir: &Path| {
        let dir = dir.display().to_string();
        let mut client = server.chat_client(&[
            "--tls",
            "--known-servers",
            &known,
            "--nick",
            nick,
            "--download-dir",
            &dir,
        ]);
        client.joined(nick);
        client
    };
    let mut alice = start("Alice", saved.path());
    let mut bob = start("Bob", shared.path());
    until_prefix(&mut alice, "[Server]: Bob has joined the chat.");
    bob.send(&format!("/send {}", path.display()));
    until_prefix(
        &mut bob,
        "[Server]: Upload within 10 minutes: curl -T 'secret.pdf' https://",
    );
    until_prefix(&mut bob, "[Server]: Shared secret.pdf (488.3 KiB).");
    until_prefix(
        &mut alice,
        "[File from Bob] secret.pdf (488.3 KiB) https://",
    );
    alice.send("/get");
    alice.close_stdin();
    let (status, stderr) = alice.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let got = std::fs::read(saved.path().join("secret.pdf")).expect("saved");
    assert_eq!(sha256(&got), sha256(&body));
    bob.close_stdin();
    let (status, stderr) = bob.finish();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("suda: Sent secret.pdf (488.3 KiB).\n"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("first time"),
        "asked once, by Alice: {stderr}"
    );
}
