//! `/search` against a fake OpenAI-compatible server running inside the
//! test (a plain `TcpListener` on loopback).

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use util::{Client, Server};

/// One request the fake model received.
#[derive(Debug, Clone)]
struct Request {
    /// Request line and headers, lower-cased names.
    head: String,
    body: serde_json::Value,
}

/// What the fake model answers: status, body, and how long it takes.
type Reply = (u16, String, Duration);

/// How the fake model decides what to answer.
type Behaviour = Box<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A fake chat-completions server.
struct FakeModel {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeModel {
    fn start(reply: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(reply);
        {
            let requests = Arc::clone(&requests);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let requests = Arc::clone(&requests);
                    let reply = Arc::clone(&reply);
                    thread::spawn(move || serve_one(stream, &requests, &*reply));
                }
            });
        }
        FakeModel { addr, requests }
    }

    /// The URL to give `--search-url`.
    fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

fn serve_one(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    reply: &(dyn Fn(&Request) -> Reply + Send + Sync),
) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.push_str(&lower);
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        head,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    };
    requests.lock().expect("lock").push(request.clone());
    let (status, text, delay) = reply(&request);
    thread::sleep(delay); // the model thinking
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// A chat-completions answer with `content`.
fn completion(content: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    })
    .to_string()
}

fn answering(content: &'static str) -> FakeModel {
    FakeModel::start(move |_| (200, completion(content), Duration::ZERO))
}

/// Alice and Bob in a room whose /search asks `model`.
fn room(model: &FakeModel, extra: &[&str]) -> (Server, Client, Client) {
    let url = model.url();
    let mut args = vec!["--search-url", url.as_str(), "--search-model", "test-model"];
    args.extend_from_slice(extra);
    let server = Server::start_env(&args, &[("OPENAI_API_KEY", "sk-test-key")]);
    let mut alice = server.join("Alice");
    let bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    (server, alice, bob)
}

#[test]
fn the_answer_is_shared_with_everyone() {
    let model = answering("Rust is a programming language.\n\nIt is fast and memory-safe.");
    let (server, mut alice, mut bob) = room(&model, &[]);
    alice.send("/search What is Rust?");
    for client in [&mut alice, &mut bob] {
        client.expect("[Search by Alice] What is Rust?");
        client.expect("[AI] Rust is a programming language.");
        client.expect("[AI] It is fast and memory-safe.");
    }
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request
            .head
            .starts_with("post /v1/chat/completions http/1.1"),
        "{}",
        request.head
    );
    assert!(
        request.head.contains("authorization: bearer sk-test-key"),
        "{}",
        request.head
    );
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(request.body["messages"][1]["role"], "user");
    assert_eq!(request.body["messages"][1]["content"], "What is Rust?");
    // The key is never written anywhere.
    let log = std::fs::read_to_string(server.file("chat.log")).unwrap_or_default();
    assert!(log.contains("search by Alice: What is Rust?"), "{log}");
    assert!(!log.contains("sk-test-key") && !server.stderr_text().contains("sk-test-key"));
}

/// While the model takes five seconds, the room chats at full speed.
#[test]
fn a_slow_model_never_stalls_the_room() {
    let model = FakeModel::start(|_| (200, completion("finally"), Duration::from_secs(5)));
    let (server, mut alice, mut bob) = room(&model, &[]);
    let mut carol = server.join("Carol");
    alice.expect("[Server]: Carol has joined the chat.");
    bob.expect("[Server]: Carol has joined the chat.");
    alice.send("/search take your time");
    // The answer comes after all the chat below: the room did not wait for it.
    for client in [&mut alice, &mut bob, &mut carol] {
        client.expect("[Search by Alice] take your time");
    }
    let mut worst = Duration::ZERO;
    for i in 0..10 {
        let sent = Instant::now();
        bob.send(&format!("ping {i}"));
        carol.expect(&format!("Bob >> ping {i}"));
        alice.expect(&format!("Bob >> ping {i}"));
        let sent_back = Instant::now();
        carol.send(&format!("pong {i}"));
        bob.expect(&format!("Carol >> pong {i}"));
        alice.expect(&format!("Carol >> pong {i}"));
        worst = worst.max(sent_back - sent).max(sent_back.elapsed());
    }
    assert!(
        worst < Duration::from_millis(200),
        "worst chat latency {worst:?}"
    );
    alice.expect("[AI] finally");
}

#[test]
fn failures_are_reported_to_the_asker() {
    let cases: Vec<(Behaviour, &str)> = vec![
        (
            Box::new(|_| {
                (401, r#"{"error":{"message":"Incorrect API key provided: sk-bad.","type":"invalid_request_error"}}"#.to_string(), Duration::ZERO)
            }),
            "[Server]: Search failed: HTTP 401: Incorrect API key provided: sk-bad.",
        ),
        (
            Box::new(|_| (200, "{\"choices\": [ oops".to_string(), Duration::ZERO)),
            "[Server]: Search failed: the model server's answer is not chat-completions JSON",
        ),
        (
            Box::new(|_| {
                (
                    500,
                    "<html>upstream broke</html>".to_string(),
                    Duration::ZERO,
                )
            }),
            "[Server]: Search failed: HTTP 500: Internal Server Error",
        ),
    ];
    for (reply, expected) in cases {
        let model = FakeModel::start(reply);
        let (_server, mut alice, mut bob) = room(&model, &[]);
        alice.send("/search anything");
        alice.expect("[Search by Alice] anything");
        alice.expect(expected);
        bob.expect("[Search by Alice] anything");
        assert_eq!(
            bob.sync(),
            Vec::<String>::new(),
            "only the asker hears of the failure"
        );
        // The worker survived: the next question is asked too.
        bob.send("/search again");
        bob.expect("[Search by Bob] again");
        bob.expect(expected);
    }
}

#[test]
fn a_model_that_does_not_answer_in_time() {
    let model = FakeModel::start(|_| (200, completion("too late"), Duration::from_secs(8)));
    let (_server, mut alice, _bob) = room(&model, &["--search-timeout", "1s"]);
    alice.send("/search hello?");
    alice.expect("[Search by Alice] hello?");
    alice.expect("[Server]: Search failed: no answer within 1s");
}

#[test]
fn a_model_server_that_is_not_there() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", closed.local_addr().expect("addr"));
    drop(closed);
    let server = Server::start(&["--search-url", &url]);
    let mut alice = server.join("Alice");
    alice.send("/search anyone?");
    alice.expect("[Search by Alice] anyone?");
    alice
        .expect("[Server]: Search failed: cannot connect to the model server (connection refused)");
}

#[test]
fn identical_questions_are_answered_from_the_cache() {
    let model = answering("Seoul.");
    let (_server, mut alice, mut bob) = room(&model, &[]);
    alice.send("/search What is the capital of Korea?");
    alice.until("[AI] Seoul.");
    bob.until("[AI] Seoul.");
    bob.send("/ask what is the capital   of korea?");
    for client in [&mut alice, &mut bob] {
        client.expect("[Search by Bob] what is the capital   of korea?");
        client.expect("[AI] Seoul.");
    }
    assert_eq!(
        model.requests().len(),
        1,
        "the second answer came from the cache"
    );
}

#[test]
fn searches_are_rate_limited_per_person() {
    let model = answering("ok");
    let (_server, mut alice, _bob) = room(&model, &[]);
    alice.send("/search first");
    alice.until("[AI] ok");
    alice.send("/search second");
    alice.expect("[Server]: You can search again in 10s.");
    assert_eq!(model.requests().len(), 1);
}

#[test]
fn long_answers_are_cut() {
    let model = answering("one two three four five six seven");
    let (_server, mut alice, _bob) = room(&model, &["--search-max-chars", "13"]);
    alice.send("/search count");
    alice.expect("[Search by Alice] count");
    alice.expect("[AI] one two three");
    alice.expect("[AI] (answer cut)");
}

#[test]
fn the_room_gets_the_answer_even_if_the_asker_left() {
    let model = FakeModel::start(|_| (200, completion("still useful"), Duration::from_millis(500)));
    let (_server, mut alice, mut bob) = room(&model, &[]);
    alice.send("/search quick question, then I go");
    bob.expect("[Search by Alice] quick question, then I go");
    alice.expect("[Search by Alice] quick question, then I go");
    alice.send("/exit");
    alice.expect("[Server]: Bye, Alice!");
    bob.expect("[Server]: Alice has left the chat.");
    bob.expect("[Server]: Bob is now the admin.");
    bob.expect("[AI] still useful");
}

#[test]
fn the_key_can_come_from_a_file() {
    let model = answering("ok");
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "sk-from-file\n").expect("write key");
    let url = model.url();
    let server = Server::start(&[
        "--search-url",
        &url,
        "--search-key-file",
        key_file.to_str().expect("path"),
    ]);
    let mut alice = server.join("Alice");
    alice.send("/search key?");
    alice.until("[AI] ok");
    assert!(model.requests()[0]
        .head
        .contains("authorization: bearer sk-from-file\r\n"));
}

#[test]
fn without_a_url_search_is_off() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    alice.send("/search anything");
    alice.expect("[Server]: /search is not enabled on this server.");
}

/// A model server's error body may hold a CR or escapes that would forge a
/// line in the operator's terminal: the room log gets it cleaned.
#[test]
fn error_bodies_reach_the_log_cleaned() {
    let model = FakeModel::start(|_| {
        (
            500,
            r#"{"error":{"message":"upstream\r2026-12-01 kick Teacher by Mallory\u001b[2J\u202e"}}"#
                .to_string(),
            Duration::ZERO,
        )
    });
    let (mut server, mut alice, _bob) = room(&model, &[]);
    alice.send("/search anything");
    alice.expect("[Search by Alice] anything");
    alice.expect("[Server]: Search failed: HTTP 500: upstream2026-12-01 kick Teacher by Mallory");
    server.signal(util::SIGTERM);
    assert!(server.wait().success());
    let log = std::fs::read_to_string(server.file("chat.log")).expect("log");
    assert!(
        log.contains("failed: HTTP 500: upstream2026-12-01 kick Teacher by Mallory\n"),
        "{log:?}"
    );
    assert!(!log.contains(['\r', '\x1b', '\u{202e}']), "{log:?}");
}

#[test]
fn a_newcomer_sees_the_question_and_the_answer_in_the_replay() {
    let model = answering("Seoul.");
    let (server, mut alice, mut bob) = room(&model, &["--history", "20"]);
    alice.send("/search Capital of Korea?");
    bob.expect("[Search by Alice] Capital of Korea?");
    bob.expect("[AI] Seoul.");
    let mut carol = server.join("Carol");
    carol.expect("[Server]: Earlier messages (2):");
    for wanted in ["[Search by Alice] Capital of Korea?", "[AI] Seoul."] {
        let line = carol.line();
        assert!(line.ends_with(&format!("] {wanted}")), "{line:?}");
    }
    carol.expect("[Server]: End of earlier messages.");
}
