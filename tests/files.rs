//! Files over HTTP on the chat port, end to end over real sockets: the
//! `/upload` line, uploads with curl and with the tests' own client,
//! the announcement to the room or one person, downloads with Range, the
//! limits, expiry, stalls, a restart, TLS.

mod util;

use std::path::Path;
use std::time::{Duration, Instant};

use encoding_rs::EUC_KR;
use util::http::{Http, Reply};
use util::tls::TlsClient;
use util::{Client, Server, READ_TIMEOUT};

/// Asks for an upload link; returns the `<url>/u/<token>` it names.
fn upload_link(client: &mut Client, command: &str) -> String {
    client.send(command);
    let line = client.until_prefix("[Server]: Upload within 10 minutes: curl -T ");
    line.rsplit(' ').next().expect("a link").to_string()
}

/// The path part of a URL (`http://host:port/path` → `/path`).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").expect("a scheme").1;
    &rest[rest.find('/').expect("a path")..]
}

/// PUTs `body` with a Content-Length to `link`, over `http`.
fn put(http: &mut Http, link: &str, body: &[u8]) -> Reply {
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        path_of(link),
        body.len()
    );
    http.send(head.as_bytes());
    http.send(body);
    http.reply(false)
}

/// Bytes that differ everywhere, so a misplaced range shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Every file in the server's files folder.
fn stored(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("suda-files"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits (within the test's deadline) until `done` holds.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + READ_TIMEOUT;
    while !done() {
        assert!(Instant::now() < until, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_file_for_the_room_with_the_tests_own_client() {
    let server = Server::start(&[]);
    let port = server.addr.port();
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    let mut carol = server.join("Carol");
    alice.sync();
    bob.sync();
    alice.send("/upload notes v2.txt");
    let line = alice.until_prefix("[Server]: Upload within 10 minutes: ");
    let prefix = format!(
        "[Server]: Upload within 10 minutes: curl -T 'notes v2.txt' http://127.0.0.1:{port}/u/"
    );
    assert!(line.starts_with(&prefix), "{line}");
    let token = &line[prefix.len()..];
    assert_eq!(token.len(), 32, "{line}");
    let link = line.rsplit(' ').next().expect("link").to_string();
    let body = pattern(1229);
    let mut http = Http::connect(server.addr);
    let reply = put(&mut http, &link, &body);
    assert_eq!(reply.status, 201, "{reply:?}");
    let shared = bob.until_prefix("[File from Alice] ");
    let want = format!("[File from Alice] notes v2.txt (1.2 KiB) http://127.0.0.1:{port}/f/");
    assert!(shared.starts_with(&want), "{shared}");
    assert!(shared.ends_with("/notes%20v2.txt"), "{shared}");
    assert_eq!(carol.until_prefix("[File from Alice] "), shared);
    alice.expect("[Server]: Shared notes v2.txt (1.2 KiB).");
    assert!(
        alice.sync().iter().all(|l| !l.starts_with("[File from")),
        "the uploader is not sent its own file line"
    );
    // The link downloads the bytes, as an attachment that is never sniffed.
    let url = shared.rsplit(' ').next().expect("url").to_string();
    let got = http.get(path_of(&url));
    assert_eq!(got.status, 200);
    assert_eq!(got.body, body);
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"notes v2.txt\"; filename*=UTF-8''notes%20v2.txt")
    );
    // Ranges, on the same kept-alive connection.
    let part = http.request("GET", path_of(&url), &[("Range", "bytes=1000-1099")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &body[1000..1100]);
    assert_eq!(part.header("content-range"), Some("bytes 1000-1099/1229"));
    let tail = http.request("GET", path_of(&url), &[("Range", "bytes=-29")]);
    assert_eq!(tail.body, &body[1200..]);
    let beyond = http.request("GET", path_of(&url), &[("Range", "bytes=5000-")]);
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */1229"));
    let head = http.request("HEAD", path_of(&url), &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1229"));
    assert!(head.body.is_empty());
    // The token was for one use; a wrong id is not found.
    assert_eq!(
        put(&mut Http::connect(server.addr), &link, b"again").status,
        404
    );
    let wrong = http.get("/f/00000000000000000000000000000000/notes%20v2.txt");
    assert_eq!(wrong.status, 404);
    // Stored by id only.
    let files = stored(server.dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(url.contains(&files[0]), "{files:?} {url}");
}

#[test]
fn a_file_for_one_person_with_curl() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    let mut carol = server.join("Carol");
    alice.sync();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("report.bin");
    let body = pattern(300_000);
    std::fs::write(&path, &body).expect("write");
    let link = upload_link(&mut alice, "/upload @bob report.bin");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "-T"])
        .arg(&path)
        .arg(&link)
        .output()
        .expect("curl");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("Shared report.bin (293 KiB): http://"),
        "{out:?}"
    );
    let line = bob.until_prefix("[File from Alice] ");
    assert!(
        line.starts_with("[File from Alice] report.bin (293 KiB) http://"),
        "{line}"
    );
    alice.expect("[Server]: Shared report.bin (293 KiB).");
    assert!(carol.sync().iter().all(|l| !l.starts_with("[File from")));
    // curl downloads it whole, and resumes it with a range.
    let url = line.rsplit(' ').next().expect("url");
    let fetched = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "-r", "100000-", url])
        .output()
        .expect("curl");
    assert!(fetched.status.success());
    assert_eq!(fetched.stdout, &body[100_000..]);
}

#[test]
fn chunked_uploads_and_a_cp949_reader() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut legacy = server.connect();
    legacy.until("[Server]: Enter your nickname:");
    let (nick, _, _) = EUC_KR.encode("철수");
    let mut nick = nick.into_owned();
    nick.push(b'\n');
    legacy.send_raw(&nick);
    legacy.line_bytes().expect("welcome");
    alice.until("[Server]: 철수 has joined the chat.");
    let link = upload_link(&mut alice, "/upload 과제.hwp");
    let mut http = Http::connect(server.addr);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        path_of(&link)
    );
    http.send(head.as_bytes());
    http.send(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    assert_eq!(http.reply(false).status, 201);
    let line = legacy.line_bytes().expect("the announcement");
    let (text, _, bad) = EUC_KR.decode(&line);
    assert!(!bad, "{line:?}");
    assert!(
        text.starts_with("[File from Alice] 과제.hwp (11 B) http://"),
        "{text}"
    );
    assert!(text.ends_with("/%EA%B3%BC%EC%A0%9C.hwp"), "{text}");
    let url = text.rsplit(' ').next().expect("url").to_string();
    assert_eq!(http.get(path_of(&url)).body, b"hello world");
}

#[test]
fn too_large_and_quota_full_are_refused_and_leave_nothing() {
    let server = Server::start(&["--max-file-size", "2KiB", "--files-quota", "3KiB"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    // Announced too large: 413 before a byte is read.
    let link = upload_link(&mut alice, "/upload big.iso");
    let mut http = Http::connect(server.addr);
    http.send(
        format!(
            "PUT {} HTTP/1.1\r\nContent-Length: 5000\r\n\r\n",
            path_of(&link)
        )
        .as_bytes(),
    );
    assert_eq!(http.reply(false).status, 413);
    alice.expect("[Server]: Upload refused: big.iso is larger than 2 KiB.");
    // Chunked and growing past the limit: 413 once it passes.
    let link = upload_link(&mut alice, "/upload stream.bin");
    let mut http = Http::connect(server.addr);
    http.send(
        format!(
            "PUT {} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            path_of(&link)
        )
        .as_bytes(),
    );
    let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
    for _ in 0..3 {
        if !http.try_send(chunk.as_bytes()) {
            break;
        }
    }
    assert_eq!(http.reply(false).status, 413);
    alice.expect("[Server]: Upload refused: stream.bin is larger than 2 KiB.");
    // 2 KiB fit the 3 KiB quota; 2 more do not.
    let link = upload_link(&mut alice, "/upload one.bin");
    assert_eq!(
        put(&mut Http::connect(server.addr), &link, &pattern(2048)).status,
        201
    );
    alice.expect("[Server]: Shared one.bin (2 KiB).");
    let link = upload_link(&mut alice, "/upload two.bin");
    assert_eq!(
        put(&mut Http::connect(server.addr), &link, &pattern(2048)).status,
        507
    );
    alice.expect("[Server]: Upload refused: there is no space left for two.bin on this server.");
    let lines = bob.sync();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("[File from")).count(),
        1,
        "{lines:?}"
    );
    eventually("only the kept file is on disk", || {
        stored(server.dir.path()).len() == 1
    });
}

#[test]
fn expired_links_are_404_and_their_files_deleted() {
    let server = Server::start(&["--file-ttl", "1s"]);
    let mut alice = server.join("Alice");
    let link = upload_link(&mut alice, "/upload brief.txt");
    let mut http = Http::connect(server.addr);
    assert_eq!(put(&mut http, &link, b"short-lived").status, 201);
    let reply_line = alice.until_prefix("[Server]: Shared brief.txt");
    assert_eq!(reply_line, "[Server]: Shared brief.txt (11 B).");
    let files = stored(server.dir.path());
    assert_eq!(files.len(), 1);
    let url = format!("/f/{}/brief.txt", files[0]);
    assert_eq!(http.get(&url).status, 200);
    let started = Instant::now();
    eventually("the link expires", || {
        Http::connect(server.addr).get(&url).status == 404
    });
    assert!(started.elapsed() < Duration::from_secs(3));
    eventually("the file is deleted", || {
        stored(server.dir.path()).is_empty()
    });
}

#[test]
fn unfinished_uploads_leave_nothing_and_announce_nothing() {
    let server = Server::start(&["--http-timeout", "1s"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    // Stalled halfway: 408, and the part is deleted.
    let link = upload_link(&mut alice, "/upload stalled.bin");
    let mut http = Http::connect(server.addr);
    http.send(
        format!(
            "PUT {} HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
            path_of(&link)
        )
        .as_bytes(),
    );
    http.send(&pattern(100));
    let started = Instant::now();
    assert_eq!(http.reply(false).status, 408);
    assert!(started.elapsed() < Duration::from_millis(2500));
    // Cut off halfway.
    let link = upload_link(&mut alice, "/upload cut.bin");
    let mut http = Http::connect(server.addr);
    http.send(
        format!(
            "PUT {} HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
            path_of(&link)
        )
        .as_bytes(),
    );
    http.send(&pattern(100));
    drop(http);
    // The uploader leaves before the end: nothing is announced, nothing kept.
    let mut dave = server.join("Dave");
    let link = upload_link(&mut dave, "/upload orphan.bin");
    dave.send("/exit");
    bob.until("[Server]: Dave has left the chat.");
    let reply = put(&mut Http::connect(server.addr), &link, b"nobody wants me");
    assert_eq!(reply.status, 410);
    assert!(bob.sync().iter().all(|l| !l.starts_with("[File from")));
    eventually("nothing is left on disk", || {
        stored(server.dir.path()).is_empty()
    });
}

#[test]
fn links_survive_a_restart() {
    let mut server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let link = upload_link(&mut alice, "/upload keep.txt");
    assert_eq!(
        put(&mut Http::connect(server.addr), &link, b"kept across").status,
        201
    );
    alice.until_prefix("[Server]: Shared keep.txt");
    let id = stored(server.dir.path()).pop().expect("a file");
    drop(alice);
    server.signal(libc::SIGTERM);
    assert!(server.wait().success());
    let server = Server::start_in(server.into_dir(), &[]);
    let got = Http::connect(server.addr).get(&format!("/f/{id}/keep.txt"));
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"kept across");
}

#[test]
fn files_over_tls_get_https_links() {
    let server = Server::start(&["--tls-self-signed"]);
    let port = server.addr.port();
    let mut alice = TlsClient::join(server.addr, "Alice");
    let mut bob = server.join("Bob");
    alice.send("/upload secret.pdf");
    let line = alice.until_prefix_tls("[Server]: Upload within 10 minutes: ");
    let link = line.rsplit(' ').next().expect("link").to_string();
    assert!(
        link.starts_with(&format!("https://127.0.0.1:{port}/u/")),
        "{line}"
    );
    let mut https = Http::connect_tls(server.addr);
    assert_eq!(put(&mut https, &link, &pattern(70_000)).status, 201);
    let shared = bob.until_prefix("[File from Alice] ");
    let url = shared.rsplit(' ').next().expect("url").to_string();
    assert!(url.starts_with("https://"), "{shared}");
    assert_eq!(https.get(path_of(&url)).body, pattern(70_000));
}

#[test]
fn hostile_names_never_leave_the_files_folder() {
    let server = Server::start(&["--public-url", "http://chat.example:8080/"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    let link = upload_link(&mut alice, "/upload ../../etc/passwd");
    assert!(link.starts_with("http://chat.example:8080/u/"), "{link}");
    let reply = put(&mut Http::connect(server.addr), &link, b"root:x:0:0");
    assert_eq!(reply.status, 201);
    let line = bob.until_prefix("[File from Alice] ");
    assert!(
        line.starts_with("[File from Alice] passwd (10 B) http://chat.example:8080/f/"),
        "{line}"
    );
    let link = upload_link(&mut alice, "/upload %2e%2e\u{202e}gpj.exe");
    assert_eq!(
        put(&mut Http::connect(server.addr), &link, b"x").status,
        201
    );
    let line = bob.until_prefix("[File from Alice] ");
    assert!(
        line.starts_with("[File from Alice] %2e%2egpj.exe (1 B) "),
        "{line}"
    );
    assert!(line.ends_with("/%252e%252egpj.exe"), "{line}");
    alice.send("/upload ..");
    alice.until("[Server]: That file name cannot be used.");
    // Paths that try to climb are not found; the folder holds ids only.
    let mut http = Http::connect(server.addr);
    for path in [
        "/f/../../etc/passwd",
        "/f/%2e%2e/%2e%2e/etc/passwd",
        "/u/../x",
    ] {
        assert_eq!(http.get(path).status, 404, "{path}");
    }
    let files = stored(server.dir.path());
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.len() == 32), "{files:?}");
}

#[test]
fn parallel_uploads_are_capped_and_memory_stays_bounded() {
    let server = Server::start(&["--max-uploads", "2", "--max-file-size", "64MiB"]);
    let mut alice = server.join("Alice");
    // Two uploads under way that send a little and wait.
    let mut open = Vec::new();
    for i in 0..2 {
        let link = upload_link(&mut alice, &format!("/upload part{i}.bin"));
        let mut http = Http::connect(server.addr);
        http.send(
            format!(
                "PUT {} HTTP/1.1\r\nContent-Length: 1000\r\n\r\nxx",
                path_of(&link)
            )
            .as_bytes(),
        );
        open.push(http);
    }
    // Each is known to the server once its part file exists.
    eventually("two uploads under way", || {
        stored(server.dir.path())
            .iter()
            .filter(|f| f.ends_with(".part"))
            .count()
            == 2
    });
    let link = upload_link(&mut alice, "/upload third.bin");
    let mut third = Http::connect(server.addr);
    let reply = put(&mut third, &link, b"abc");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    // The link is still good once one of the others is done.
    drop(open.pop());
    let mut retried = 0;
    eventually("the third upload goes through", || {
        retried += 1;
        put(&mut Http::connect(server.addr), &link, b"abc").status == 201
    });
    assert!(retried >= 1);
    // A 48 MiB upload through a slow-reading socket: the server's memory
    // does not grow with it (at most 256 KiB per transfer in flight).
    let before = rss_kib(server.pid());
    let link = upload_link(&mut alice, "/upload big.bin");
    let mut http = Http::connect(server.addr);
    let size = 48 << 20;
    http.send(
        format!(
            "PUT {} HTTP/1.1\r\nContent-Length: {size}\r\n\r\n",
            path_of(&link)
        )
        .as_bytes(),
    );
    let block = vec![0x5a_u8; 1 << 20];
    let mut peak = before;
    for _ in 0..48 {
        http.send(&block);
        peak = peak.max(rss_kib(server.pid()));
    }
    assert_eq!(http.reply(false).status, 201);
    assert!(
        peak < before + 16 * 1024,
        "RSS grew from {before} KiB to {peak} KiB during a 48 MiB upload"
    );
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_body_longer_than_announced_is_not_taken_for_the_file() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    let link = upload_link(&mut alice, "/upload five.txt");
    let mut http = Http::connect(server.addr);
    http.send(
        format!(
            "PUT {} HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello, and more bytes\r\n\r\n",
            path_of(&link)
        )
        .as_bytes(),
    );
    assert_eq!(http.reply(false).status, 201);
    // What follows the announced length is read as the next request.
    assert_eq!(http.reply(false).status, 400);
    assert!(http.closed());
    let line = bob.until_prefix("[File from Alice] ");
    assert!(
        line.starts_with("[File from Alice] five.txt (5 B) "),
        "{line}"
    );
    let url = line.rsplit(' ').next().expect("url").to_string();
    assert_eq!(Http::connect(server.addr).get(path_of(&url)).body, b"hello");
}

#[test]
fn a_latecomer_finds_the_rooms_file_in_the_replay_but_never_a_private_one() {
    let server = Server::start(&["--history", "20"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.sync();
    for (command, name) in [
        ("/upload @bob secret.txt", "secret.txt"),
        ("/upload slides.pdf", "slides.pdf"),
    ] {
        let link = upload_link(&mut alice, command);
        let reply = put(&mut Http::connect(server.addr), &link, b"0123456789");
        assert_eq!(reply.status, 201, "{reply:?}");
        alice.expect(&format!("[Server]: Shared {name} (10 B)."));
    }
    let room_line = bob.until_prefix("[File from Alice] slides.pdf");
    let mut carol = server.join("Carol");
    carol.expect("[Server]: Earlier messages (1):");
    let replay = carol.until("[Server]: End of earlier messages.");
    assert_eq!(replay.len(), 1, "{replay:?}");
    // Replayed with its time in front, the link as Bob got it.
    assert!(replay[0].ends_with(&room_line), "{replay:?} vs {room_line}");
    assert!(replay[0].starts_with('['), "{replay:?}");
    assert!(
        !replay[0].contains("secret.txt"),
        "a file for one person is never in the history: {replay:?}"
    );
}

#[test]
fn a_body_sent_with_a_download_is_never_a_second_request() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    let link = upload_link(&mut alice, "/upload data.bin");
    assert_eq!(
        put(&mut Http::connect(server.addr), &link, b"0123456789").status,
        201
    );
    let line = bob.until_prefix("[File from Alice] ");
    let url = line.rsplit(' ').next().expect("url").to_string();
    let smuggled = "GET /nothing-smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    for target in [path_of(&url).to_string(), "/f/0000/unknown".to_string()] {
        let mut http = Http::connect(server.addr);
        http.send(
            format!(
                "GET {target} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nContent-Length: {}\r\n\r\n{smuggled}",
                smuggled.len()
            )
            .as_bytes(),
        );
        let first = http.reply(false);
        assert!(matches!(first.status, 206 | 404), "{first:?}");
        assert!(
            http.closed(),
            "{target}: a second answer came: the body was read as a request"
        );
    }
    // And a download asked to close closes, found or not.
    for target in [path_of(&url).to_string(), "/f/0000/unknown".to_string()] {
        let mut http = Http::connect(server.addr);
        let reply = http.request("GET", &target, &[("Connection", "close")]);
        assert!(matches!(reply.status, 200 | 404), "{reply:?}");
        assert!(
            http.closed(),
            "{target} stayed open after Connection: close"
        );
    }
}

#[test]
fn an_upload_without_a_length_can_try_again_with_the_same_link() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let link = upload_link(&mut alice, "/upload again.txt");
    let mut http = Http::connect(server.addr);
    http.send(format!("PUT {} HTTP/1.1\r\nHost: x\r\n\r\n", path_of(&link)).as_bytes());
    assert_eq!(http.reply(false).status, 411);
    assert_eq!(
        put(&mut Http::connect(server.addr), &link, b"hello").status,
        201
    );
}

#[test]
fn on_a_wildcard_address_links_name_the_address_people_reached() {
    let server = Server::start(&["--bind", "0.0.0.0:0"]);
    let port = server.addr.port();
    let here = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // A browser's WebSocket on 127.0.0.1: its link must say 127.0.0.1,
    // not the 0.0.0.0 the server listens on.
    let socket = std::net::TcpStream::connect(here).expect("connect");
    socket
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{here}/ws"))
            .expect("request");
    request
        .headers_mut()
        .insert("Origin", format!("http://{here}").parse().expect("origin"));
    let (mut ws, _) = tungstenite::client(request, socket).expect("handshake");
    {
        let mut next = || loop {
            match ws.read().expect("a frame") {
                tungstenite::Message::Text(t) => return t.to_string(),
                _ => continue,
            }
        };
        assert!(next().starts_with("[Server]: Welcome to "));
        assert_eq!(next(), "[Server]: Enter your nickname:");
    }
    ws.send(tungstenite::Message::text("Webby")).expect("send");
    ws.send(tungstenite::Message::text("/upload a.txt"))
        .expect("send");
    let line = loop {
        let tungstenite::Message::Text(t) = ws.read().expect("a frame") else {
            continue;
        };
        if t.starts_with("[Server]: Upload within") {
            break t.to_string();
        }
    };
    let expected = format!("curl -T 'a.txt' http://127.0.0.1:{port}/u/");
    assert!(line.contains(&expected), "{line}");
}
