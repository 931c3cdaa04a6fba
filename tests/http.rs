//! HTTP/1.1 on the chat port, over real sockets: requests parsed and
//! answered, keep-alive, limits, stalls, plain and inside TLS, and the
//! rules (`--web off`, `--tls-only`).

mod util;

use std::time::{Duration, Instant};

use util::http::Http;
use util::{Server, READ_TIMEOUT};

#[test]
fn unknown_paths_are_404_and_the_connection_stays_open() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut http = Http::connect(server.addr);
    let first = http.get("/nothing/here");
    assert_eq!(first.status, 404);
    assert_eq!(first.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(first.header("connection"), None, "{first:?}");
    // The same connection takes a second request, and a HEAD.
    let head = http.request("HEAD", "/also-nothing", &[]);
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some("11"));
    // Two pipelined requests get two answers in order.
    http.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(http.reply(false).status, 404);
    let last = http.reply(false);
    assert_eq!(last.header("connection"), Some("close"));
    assert!(http.closed());
    // Nobody joined or left.
    assert!(alice.sync().is_empty());
}

#[test]
fn https_is_the_same_inside_tls() {
    let server = Server::start(&["--tls-self-signed"]);
    let mut https = Http::connect_tls(server.addr);
    assert_eq!(https.get("/x").status, 404);
    let again = https.request("GET", "/y", &[("Connection", "close")]);
    assert_eq!(again.status, 404);
    assert!(https.closed());
}

#[test]
fn what_is_not_http_or_too_much_gets_a_clear_status() {
    let server = Server::start(&["--http-max-headers", "8", "--http-max-head", "2KiB"]);
    let status = |bytes: &[u8]| {
        let mut http = Http::connect(server.addr);
        http.send(bytes);
        let reply = http.reply(false);
        assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
        assert!(http.closed());
        reply.status
    };
    let many: String = (0..9).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(
        status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
        431
    );
    let long = "a".repeat(3000);
    assert_eq!(
        status(format!("GET /{long} HTTP/1.1\r\n\r\n").as_bytes()),
        431
    );
    assert_eq!(status(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"), 400);
    assert_eq!(
        status(b"PUT /u/x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"PUT /u/x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
        501
    );
    assert_eq!(status(b"GET / HTTP/3.0\r\n\r\n"), 505);
    // A request with a body nobody wants is answered and closed, so the
    // body is never taken for a request.
    assert_eq!(
        status(b"POST /nothing HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET "),
        404
    );
}

#[test]
fn a_request_that_trickles_in_is_cut_off() {
    let server = Server::start(&["--http-timeout", "1s"]);
    let socket = std::net::TcpStream::connect(server.addr).expect("connect");
    socket
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("timeout");
    let mut writer = socket.try_clone().expect("clone");
    let started = Instant::now();
    // A header line every 200 ms keeps bytes coming, but the head must be
    // whole within --http-timeout, however it trickles.
    let trickle = std::thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(b"GET / HTTP/1.1\r\n");
        for i in 0..50 {
            std::thread::sleep(Duration::from_millis(200));
            if writer
                .write_all(format!("X-{i}: y\r\n").as_bytes())
                .is_err()
            {
                return;
            }
        }
    });
    let mut slow = Http::over(Box::new(socket));
    let reply = slow.reply(false);
    assert_eq!(reply.status, 408, "{reply:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert!(slow.closed());
    drop(slow);
    let _ = trickle.join();
    // An idle keep-alive connection is closed quietly after the timeout.
    let mut idle = Http::connect(server.addr);
    assert_eq!(idle.get("/x").status, 404);
    let quiet = Instant::now();
    assert!(idle.try_reply(false).is_none());
    assert!(quiet.elapsed() >= Duration::from_millis(900));
    assert!(quiet.elapsed() < READ_TIMEOUT);
}

#[test]
fn web_off_turns_http_away() {
    let server = Server::start(&["--web", "off"]);
    let mut http = Http::connect(server.addr);
    let reply = http.get("/");
    assert_eq!(reply.status, 403);
    assert!(reply.text().contains("HTTP is turned off"), "{reply:?}");
    assert!(http.closed());
    // Chat is untouched.
    let mut alice = server.join("Alice");
    alice.send("/users");
    alice.sync();
}

#[test]
fn tls_only_redirects_every_plaintext_request() {
    let server = Server::start(&["--tls-self-signed", "--tls-only"]);
    let port = server.addr.port();
    let mut http = Http::connect(server.addr);
    http.send(b"PUT /u/abc HTTP/1.1\r\nHost: chat.example:9999\r\nContent-Length: 3\r\n\r\nabc");
    let reply = http.reply(false);
    assert_eq!(reply.status, 308);
    assert_eq!(
        reply.header("location"),
        Some("https://chat.example:9999/u/abc")
    );
    assert!(http.closed());
    // HTTPS is served.
    let mut https = Http::connect_tls(server.addr);
    assert_eq!(https.get("/f/x/y").status, 404);
    let _ = port;
}

#[test]
fn too_many_http_connections_get_503() {
    let server = Server::start(&["--max-http", "2"]);
    // Two kept-alive connections, each answered once: both are in.
    let mut first = Http::connect(server.addr);
    assert_eq!(first.get("/x").status, 404);
    let mut second = Http::connect(server.addr);
    assert_eq!(second.get("/x").status, 404);
    let mut third = Http::connect(server.addr);
    let reply = third.get("/x");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(third.closed());
    // Once one has gone, there is room again (the server hears of the
    // close a moment later: ask until it has, within the test's deadline).
    drop(first);
    let until = Instant::now() + READ_TIMEOUT;
    loop {
        let mut next = Http::connect(server.addr);
        match next.get("/x").status {
            404 => break,
            503 if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            other => panic!("{other}"),
        }
    }
    assert_eq!(second.get("/y").status, 404);
}

#[test]
fn a_client_pipelining_without_end_does_not_hold_up_the_room() {
    let server = Server::start(&["--rate", "off"]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    // Requests as fast as the server answers them, each with a big header
    // so that reading dominates.
    let socket = std::net::TcpStream::connect(server.addr).expect("connect");
    let request = format!("GET /x HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(6000));
    let held_out = util::while_flooding(socket, request.repeat(50).into_bytes(), true, || {
        alice.send("still here?");
        bob.expect("Alice >> still here?");
    });
    assert!(held_out, "the line came only after the flood ended");
}
