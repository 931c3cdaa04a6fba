//! A stranger against a room open to the internet (issue 10): each test
//! plays one attack over real sockets and prints the figure it measures
//! (`cargo test --test trust -- --nocapture` shows them).
//!
//! Every client here comes from loopback, which `--ip-exempt` trusts by
//! default; the tests that need addresses to count pass `--ip-exempt none`,
//! and a second address is 127.0.0.2 (all of 127/8 is this machine).

mod util;

use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use util::{hash_password, secret_file, Client, Server, READ_TIMEOUT, SIGTERM};

/// Another address on this machine.
fn second_address() -> IpAddr {
    IpAddr::from([127, 0, 0, 2])
}

/// Joins from `from` as `nick`.
fn join_from(server: &Server, from: IpAddr, nick: &str) -> Client {
    let mut client = Client::connect_from(server.addr, from);
    client.expect_prefix("[Server]: Welcome to ");
    client.expect("[Server]: Enter your nickname:");
    client.send(nick);
    client.expect(&format!(
        "[Server]: Welcome, {nick}! Type /help for commands."
    ));
    client
}

/// The room log, once the server has stopped (so it is all on disk).
fn stop_and_read_log(mut server: Server) -> String {
    server.signal(SIGTERM);
    assert!(server.wait().success());
    std::fs::read_to_string(server.file("chat.log")).expect("room log")
}

#[test]
fn after_a_restart_the_first_to_join_is_no_admin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hash = hash_password("correct horse battery");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    let hash_file = secret_file(dir.path(), "admin.hash", &hash);
    let args = [
        "--admin-password-file",
        hash_file.as_str(),
        "--ip-exempt",
        "none",
        "--max-per-ip",
        "10",
    ];
    let mut server = Server::start_in(dir, &args);
    let mut teacher = server.join("Teacher");
    teacher.send("/admin correct horse battery");
    teacher.expect("[Server]: You are now an admin.");
    server.signal(SIGTERM);
    assert!(server.wait().success());

    // The attacker reconnects as soon as the port is there and takes the name.
    let started = Instant::now();
    let server = Server::start_in(server.into_dir(), &args);
    let mut mallory = server.join("Teacher");
    let joined_after = started.elapsed();
    let mut student = server.join("Student");
    mallory.expect("[Server]: Student has joined the chat.");
    mallory.send("/kick Student");
    mallory.expect("[Server]: Only the admin can kick users.");
    mallory.send("/users");
    mallory.expect("[Server]: Users online (2/10): Teacher, Student");

    // The real teacher comes in under another name and proves who they are.
    let mut real = server.join("RealTeacher");
    real.send("/admin correct horse battery");
    real.expect("[Server]: You are now an admin.");
    mallory.until("[Server]: RealTeacher is now an admin.");
    real.send("/kick Teacher");
    real.until("[Server]: Teacher has been kicked from the chat.");
    mallory.until("[Server]: You have been kicked from the chat.");
    assert!(mallory.expect_closed().is_empty());

    // Admin rights are never inherited.
    real.send("/exit");
    real.expect("[Server]: Bye, RealTeacher!");
    student.until("[Server]: RealTeacher has left the chat.");
    student.send("/kick Nobody");
    student.expect("[Server]: Only the admin can kick users.");
    let log = stop_and_read_log(server);
    assert!(!log.contains("correct horse"), "{log}");
    // Only the real teacher of the first run ever became admin as Teacher.
    assert_eq!(log.matches("admin Teacher from").count(), 1, "{log}");
    eprintln!(
        "figure: the attacker joined as Teacher {} ms after the restart and became admin: no (admins: 0 until the password); heir after the admin left: none",
        joined_after.as_millis()
    );
}

#[test]
fn wrong_admin_passwords_are_throttled_and_never_shown() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hash_file = secret_file(dir.path(), "admin.hash", &hash_password("s3cret"));
    let server = Server::start_in(
        dir,
        &[
            "--admin-password-file",
            hash_file.as_str(),
            "--ip-exempt",
            "none",
        ],
    );
    let mut mallory = server.join("Mallory");
    let mut bob = server.join("Bob");
    mallory.expect("[Server]: Bob has joined the chat.");
    let started = Instant::now();
    for n in 0..5 {
        mallory.send(&format!("/admin guess{n}"));
        mallory.expect("[Server]: Wrong admin password.");
    }
    let five_checked = started.elapsed();
    // The sixth is refused unchecked, even the right one.
    mallory.send("/admin s3cret");
    mallory.expect("[Server]: Wrong admin password.");
    // From another address the right one works.
    let mut teacher = join_from(&server, second_address(), "Teacher");
    teacher.send(" /admin s3cret");
    teacher.expect("[Server]: You are now an admin.");
    // Nothing of it reached the others but the news.
    assert_eq!(
        bob.sync(),
        [
            "[Server]: Teacher has joined the chat.",
            "[Server]: Teacher is now an admin."
        ]
    );
    teacher.send("/users");
    teacher.expect("[Server]: Users online (3/10): Mallory, Bob, Teacher (admin)");
    let log = stop_and_read_log(server);
    assert!(!log.contains("guess") && !log.contains("s3cret"), "{log}");
    assert!(
        log.contains("wrong admin password by Mallory from 127.0.0.1"),
        "{log}"
    );
    eprintln!(
        "figure: 5 wrong admin passwords checked in {} ms (Argon2id, off the reactor), the 6th refused unchecked",
        five_checked.as_millis()
    );
}

#[test]
fn a_kicked_user_stays_out_for_the_ban() {
    let server = Server::start(&[
        "--ip-exempt",
        "none",
        "--max-per-ip",
        "10",
        "--kick-ban",
        "3s",
        // The reconnect loop below is the ban's test, not the connect rate's.
        "--connect-rate",
        "off",
    ]);
    let mut teacher = server.join("Teacher");
    let mut mallory = server.join("Mallory");
    teacher.expect("[Server]: Mallory has joined the chat.");
    teacher.send("/kick Mallory");
    let kicked = Instant::now();
    teacher.expect("[Server]: Mallory has been kicked from the chat.");
    mallory.expect("[Server]: You have been kicked from the chat.");
    assert!(mallory.expect_closed().is_empty());
    // The name is banned from another address too.
    let mut elsewhere = Client::connect_from(server.addr, second_address());
    elsewhere.until("[Server]: Enter your nickname:");
    elsewhere.send("Mallory");
    let line = elsewhere.line();
    assert!(
        line.starts_with("[Server]: You are banned from this room until "),
        "{line}"
    );
    // Reconnecting from the same address is refused until the ban ends.
    let mut refused = 0;
    let (back_after, mut back) = loop {
        assert!(kicked.elapsed() < READ_TIMEOUT, "never let back in");
        let mut again = server.connect();
        let first = again.line();
        if first.starts_with("[Server]: Welcome to ") {
            again.expect("[Server]: Enter your nickname:");
            again.send("Mallory");
            again.expect("[Server]: Welcome, Mallory! Type /help for commands.");
            break (kicked.elapsed(), again);
        }
        assert!(
            first.starts_with("[Server]: You are banned from this room until "),
            "{first}"
        );
        assert!(again.expect_closed().is_empty());
        refused += 1;
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(back_after >= Duration::from_millis(2900), "{back_after:?}");
    assert!(refused > 10);
    // /unban lets someone in at once.
    teacher.send("/kick Mallory 1h");
    teacher.until("[Server]: Mallory has been kicked from the chat.");
    back.until("[Server]: You have been kicked from the chat.");
    teacher.send("/unban Mallory");
    teacher.expect("[Server]: Mallory may join again.");
    server.join("Mallory");
    eprintln!(
        "figure: kicked user back after {:.2} s (ban 3 s; {refused} reconnects refused), at once after /unban",
        back_after.as_secs_f64()
    );
}

#[test]
fn one_address_cannot_fill_the_room() {
    let server = Server::start(&["--ip-exempt", "none", "--max-clients", "10"]);
    let started = Instant::now();
    let mut seated = Vec::new();
    let mut refused = 0;
    for n in 0..10 {
        let mut socket = server.connect();
        let first = socket.line();
        if first == "[Server]: Too many connections from your address." {
            assert!(socket.expect_closed().is_empty());
            refused += 1;
            continue;
        }
        socket.expect("[Server]: Enter your nickname:");
        socket.send(&format!("bot{n}"));
        socket.until_prefix("[Server]: Welcome, bot");
        seated.push(socket);
    }
    let tried_for = started.elapsed();
    assert_eq!((seated.len(), refused), (5, 5));
    // Someone from another address still gets in.
    let mut alice = join_from(&server, second_address(), "Alice");
    alice.send("/users");
    let users = alice.line();
    assert!(
        users.starts_with("[Server]: Users online (6/10): "),
        "{users}"
    );
    // One leaving frees a seat for the address.
    drop(seated.pop());
    alice.until("[Server]: bot4 has left the chat.");
    server.join("bot9");
    eprintln!(
        "figure: 10 sockets from one address in {} ms: 5 seated of 10, 5 refused; another address joins",
        tried_for.as_millis()
    );
}

#[test]
fn trickling_bytes_do_not_keep_a_seat() {
    let server = Server::start(&["--idle-timeout", "2s"]);
    let mut squatter = server.join("Squatter");
    let mut writer = squatter.stream().try_clone().expect("clone");
    let started = Instant::now();
    let trickle = std::thread::spawn(move || {
        let mut sent = 0;
        while started.elapsed() < READ_TIMEOUT {
            if writer.write_all(b"x").is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        sent
    });
    squatter.expect("[Server]: Disconnected after 2s of silence.");
    let closed_after = started.elapsed();
    assert!(squatter.expect_closed().is_empty());
    let _ = squatter.stream().shutdown(std::net::Shutdown::Both);
    let sent = trickle.join().expect("trickle");
    assert!(
        closed_after >= Duration::from_millis(1900),
        "{closed_after:?}"
    );
    assert!(closed_after < Duration::from_secs(4), "{closed_after:?}");
    eprintln!(
        "figure: a participant trickling a byte every 200 ms lost its seat after {:.2} s (--idle-timeout 2s), {sent} bytes sent",
        closed_after.as_secs_f64()
    );
}

#[test]
fn taking_a_name_gives_no_scheduled_messages() {
    let server = Server::start(&[]);
    let mut teacher = server.join("Teacher");
    let mut helper = server.join("Helper");
    helper.send("/schedule 1h Quiz answers: 1-B 2-D 3-A");
    helper.expect_prefix("[Server]: Message #1 scheduled for ");
    helper.send("/exit");
    helper.expect("[Server]: Bye, Helper!");
    let mut squatter = server.join("Helper");
    squatter.send("/schedules");
    squatter.expect("[Server]: You have no scheduled messages.");
    squatter.send("/unschedule 1");
    squatter.expect("[Server]: You have no scheduled message #1.");
    squatter.send("/rename Helper2");
    squatter.expect("[Server]: Your nickname is now \"Helper2\".");
    squatter.send("/rename Helper");
    squatter.expect("[Server]: Your nickname is now \"Helper\".");
    squatter.send("/schedules");
    squatter.expect("[Server]: You have no scheduled messages.");
    // Kicking the squatter does not cost the author's message.
    teacher.send("/kick Helper");
    teacher.until("[Server]: Helper has been kicked from the chat.");
    teacher.send("/schedules all");
    teacher.expect("[Server]: Scheduled messages (1):");
    let entry = teacher.line();
    assert!(
        entry.ends_with("by Helper (gone): Quiz answers: 1-B 2-D 3-A"),
        "{entry}"
    );
    eprintln!("figure: messages listed or cancelled by taking the author's name: 0 of 1; by the admin: 1 of 1");
}

#[test]
fn reconnecting_cannot_pile_up_scheduled_messages() {
    let server = Server::start(&["--ip-exempt", "none", "--max-per-ip", "10", "--rate", "off"]);
    let mut accepted = 0;
    let mut connections = 0;
    'reconnect: for n in 0..10 {
        let mut x = server.join(&format!("x{n}"));
        connections += 1;
        for _ in 0..20 {
            x.send("/schedule 1h spam spam spam");
            let answer = x.line();
            if answer.starts_with("[Server]: Your address already has 50 scheduled messages") {
                break 'reconnect;
            }
            assert!(answer.starts_with("[Server]: Message #"), "{answer}");
            accepted += 1;
        }
        x.send("/exit");
        x.until_prefix("[Server]: Bye, x");
    }
    assert_eq!(accepted, 50);
    // Someone at another address still may.
    let mut alice = join_from(&server, second_address(), "Alice");
    alice.send("/schedule 1h mine");
    alice.expect_prefix("[Server]: Message #51 scheduled for ");
    eprintln!(
        "figure: one address, {connections} connections under new names: {accepted} messages accepted (--max-scheduled-per-ip 50), the rest refused"
    );
}

#[test]
fn scheduled_messages_have_a_byte_budget() {
    let server = Server::start(&["--max-scheduled-bytes", "64KiB"]);
    let big = "q".repeat(4000);
    let mut accepted = 0;
    let mut refusal = String::new();
    'people: for n in 0..10 {
        // Each from its own loopback address, each within its own limits.
        let from = IpAddr::from([127, 0, 1, n as u8 + 1]);
        let mut x = join_from(&server, from, &format!("p{n}"));
        for _ in 0..5 {
            x.send(&format!("/schedule 1h {big}"));
            let answer = x.line();
            if !answer.starts_with("[Server]: Message #") {
                refusal = answer;
                break 'people;
            }
            accepted += 1;
        }
    }
    assert_eq!(
        refusal,
        "[Server]: The room's scheduled messages already take 64KiB, the limit. Try again later."
    );
    assert_eq!(accepted, 16, "16 x 4000 bytes fit in 64 KiB");
    let mut server = server;
    server.signal(SIGTERM);
    assert!(server.wait().success());
    // The pending messages live in the database beside the log.
    let state: u64 = ["suda.db", "suda.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(server.file(name)).ok())
        .map(|meta| meta.len())
        .sum();
    assert!(state > 0, "no database written");
    // 64 KiB of text, and SQLite's pages around it.
    assert!(state < 120_000, "{state} bytes");
    eprintln!(
        "figure: {accepted} messages of 4000 bytes accepted (--max-scheduled-bytes 64KiB); database {state} bytes on disk"
    );
}

#[test]
fn a_burst_of_due_messages_is_paced_and_readers_stay() {
    const MESSAGES: usize = 500;
    let server = Server::start(&[
        "--rate",
        "off",
        "--max-scheduled",
        "1000",
        "--max-scheduled-per-ip",
        "1000",
        "--max-outbuf",
        "32KiB",
    ]);
    let mut author = server.join("Author");
    let readers: Vec<Client> = (0..5).map(|n| server.join(&format!("r{n}"))).collect();
    author.until("[Server]: r4 has joined the chat.");
    let filler = "z".repeat(1000);
    let mut batch = String::new();
    for n in 0..MESSAGES {
        batch.push_str(&format!("/schedule 3s {n} {filler}\n"));
    }
    author.send_raw(batch.as_bytes());
    for _ in 0..MESSAGES {
        author.expect_prefix("[Server]: Message #");
    }
    let handles: Vec<_> = readers
        .into_iter()
        .map(|mut reader| {
            std::thread::spawn(move || {
                let mut times = Vec::new();
                while times.len() < MESSAGES {
                    let line = reader.line();
                    assert!(!line.contains("has left the chat"), "{line}");
                    if line.starts_with("[Scheduled by Author] ") {
                        times.push(Instant::now());
                    }
                }
                (reader, times)
            })
        })
        .collect();
    let mut spreads = Vec::new();
    let mut readers = Vec::new();
    for handle in handles {
        let (reader, times) = handle.join().expect("reader");
        assert_eq!(times.len(), MESSAGES);
        spreads.push(times[MESSAGES - 1] - times[0]);
        readers.push(reader);
    }
    // All still connected: nobody was dropped as a slow reader.
    for reader in &mut readers {
        assert_eq!(reader.sync(), Vec::<String>::new());
    }
    let shortest = spreads.iter().min().copied().unwrap_or_default();
    // 500 at 20 per 100 ms: 25 ticks, about 2.4 s.
    assert!(shortest >= Duration::from_secs(2), "{spreads:?}");
    eprintln!(
        "figure: {MESSAGES} messages of 1 KB due at once reached 5 of 5 readers (--max-outbuf 32KiB), spread over {:.2} s",
        shortest.as_secs_f64()
    );
}

#[test]
fn capitals_and_zeros_cannot_pass_for_someone() {
    let server = Server::start(&[]);
    let _people: Vec<Client> = ["Alice", "Tom", "Bob", "Will"]
        .iter()
        .map(|nick| server.join(nick))
        .collect();
    let mut mallory = server.connect();
    mallory.until("[Server]: Enter your nickname:");
    for disguise in ["AIice", "T0M", "B0B", "WiIl"] {
        mallory.send(disguise);
        mallory.expect(&format!(
            "[Server]: Nickname \"{disguise}\" is already in use. Enter your nickname:"
        ));
    }
    mallory.send("Mallory");
    mallory.expect("[Server]: Welcome, Mallory! Type /help for commands.");
    eprintln!("figure: look-alike names accepted beside the real ones: 0 of 4");
}

#[test]
fn invisible_marks_are_removed_from_text_and_the_log() {
    let server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    let marks = "\u{061c}\u{200b}\u{200d}\u{feff}\u{2028}\u{2029}\u{202e}";
    bob.send(&format!("pay{marks} here\r"));
    let line = alice.line();
    assert_eq!(line, "Bob >> pay here");
    let log = stop_and_read_log(server);
    assert!(log.contains("message Bob: pay here"), "{log}");
    for mark in marks.chars() {
        assert!(!log.contains(mark), "{mark:?} in the log");
    }
    eprintln!(
        "figure: invisible marks relayed: 0 of {}; in the log: 0",
        marks.chars().count()
    );
}

#[test]
fn the_room_password_is_asked_and_guessing_is_throttled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let password = secret_file(dir.path(), "room.pw", "class 3B");
    let server = Server::start_in(
        dir,
        &[
            "--password-file",
            password.as_str(),
            "--ip-exempt",
            "none",
            "--max-per-ip",
            "10",
        ],
    );
    let mut wrong = server.connect();
    wrong.expect_prefix("[Server]: Welcome to ");
    wrong.expect("[Server]: Enter the room password:");
    let sent = Instant::now();
    wrong.send("class 3A");
    wrong.expect("[Server]: Wrong password.");
    assert!(wrong.expect_closed().is_empty());
    let closed_after = sent.elapsed();
    assert!(
        closed_after >= Duration::from_millis(900),
        "{closed_after:?}"
    );
    // Four more guesses: the address has used its five for this minute.
    let mut guesses = Vec::new();
    for n in 0..4 {
        let mut guess = server.connect();
        guess.until("[Server]: Enter the room password:");
        guess.send(&format!("guess {n}"));
        guess.expect("[Server]: Wrong password.");
        guesses.push(guess);
    }
    let mut right = server.connect();
    right.until("[Server]: Enter the room password:");
    right.send("class 3B");
    right.expect("[Server]: Wrong password.");
    // From another address the password works.
    let mut student = Client::connect_from(server.addr, second_address());
    student.expect_prefix("[Server]: Welcome to ");
    student.expect("[Server]: Enter the room password:");
    student.send("class 3B");
    student.expect("[Server]: Enter your nickname:");
    student.send("Student");
    student.expect("[Server]: Welcome, Student! Type /help for commands.");
    let log = stop_and_read_log(server);
    assert!(log.contains("wrong room password from 127.0.0.1"), "{log}");
    assert!(!log.contains("class 3") && !log.contains("guess"), "{log}");
    eprintln!(
        "figure: closed {:.2} s after a wrong password; 5 guesses per address per minute checked, the 6th (right) refused unchecked",
        closed_after.as_secs_f64()
    );
}

#[test]
fn suda_connect_answers_the_room_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let password = secret_file(dir.path(), "room.pw", "class 3B");
    let server = Server::start_in(dir, &["--password-file", password.as_str()]);
    let other = tempfile::tempdir().expect("temp dir");
    let good = secret_file(other.path(), "good.pw", "class 3B");
    let mut kim = server.chat_client(&["--nick", "Kim", "--password-file", good.as_str()]);
    kim.joined("Kim");
    let bad = secret_file(other.path(), "bad.pw", "class 3C");
    let mut client = server.chat_client(&["--nick", "Kim", "--password-file", bad.as_str()]);
    client.until("[Server]: Wrong password.");
    let (status, stderr) = client.finish();
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("Connection closed by the server."),
        "{stderr}"
    );
    // Piped input with --nick and no password: stop with a clear line.
    let mut piped = server.chat_client(&["--nick", "Lee"]);
    let (status, stderr) = piped.finish();
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("use --password-file"), "{stderr}");
    // The password never shows on Kim's screen.
    kim.send("/exit");
    let shown = kim.until("[Server]: Bye, Kim!").join("\n");
    assert!(!shown.contains("class 3B"), "{shown}");
}
