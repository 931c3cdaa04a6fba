//! The operator's side: console, log, signals, state across restarts,
//! and one-line errors for bad setups.

mod util;

use std::io::Write as _;
use std::process::Stdio;

use util::{suda, Server, SIGHUP, SIGINT, SIGTERM};

/// Runs `suda` expecting it to fail; returns its standard error.
fn fails(args: &[&str]) -> String {
    let output = suda()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run suda");
    assert!(!output.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_flag_values_are_one_line_errors() {
    for (flag, value) in [
        ("--rate", "banana"),
        ("--max-outbuf", "lots"),
        ("--idle-timeout", "soon"),
        ("--timezone", "Mars/Olympus"),
        ("--console", "two words"),
    ] {
        let stderr = fails(&["serve", "--bind", "127.0.0.1:0", flag, value]);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("suda: ") && stderr.contains(flag),
            "{stderr}"
        );
    }
}

#[test]
fn port_in_use_is_a_one_line_error() {
    let server = Server::start(&[]);
    let bind = server.addr.to_string();
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("log");
    let stderr = fails(&[
        "serve",
        "--bind",
        &bind,
        "--log-file",
        log.to_str().expect("path"),
    ]);
    assert_eq!(
        stderr.trim_end(),
        format!("suda: cannot listen on {bind}: the port is already in use (is another server running there?)")
    );
}

#[test]
fn unreadable_state_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state.json");
    std::fs::write(&state, "this is not json").expect("write");
    let stderr = fails(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--log-file",
        "none",
        "--state-file",
        state.to_str().expect("path"),
    ]);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is not valid"), "{stderr}");
}

#[test]
fn sigterm_says_goodbye_and_keeps_scheduled_messages_for_the_next_run() {
    let mut server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut joining = server.connect();
    joining.until("[Server]: Enter your nickname:");
    alice.send("/schedule 3s see you after the restart");
    alice.expect_prefix("[Server]: Message #1 scheduled for ");
    server.signal(SIGTERM);
    alice.expect("[Server]: The server is shutting down.");
    assert!(alice.expect_closed().is_empty());
    joining.expect("[Server]: The server is shutting down.");
    assert!(server.wait().success());
    assert!(
        server.file("suda.db").exists(),
        "the database beside the log"
    );

    // Same files, new process: the message is still on its way.
    let server = Server::start_in(server.into_dir(), &[]);
    let mut bob = server.join("Bob");
    bob.expect("[Scheduled by Alice] see you after the restart");
    bob.send("/schedule 1h numbering continues");
    bob.expect_prefix("[Server]: Message #2 scheduled for ");
}

/// After a restart, messages belong to no one: coming back under the
/// author's name gives nothing, and the first to join is no admin when
/// there is an admin password. An admin sees and cancels them.
#[test]
fn restored_messages_are_managed_by_admins_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hash = util::secret_file(dir.path(), "admin.hash", &util::hash_password("teacher pw"));
    let args = ["--admin-password-file", hash.as_str()];
    let mut server = Server::start_in(dir, &args);
    let mut carl = server.join("Carl");
    carl.send("/schedule 1h Quiz answers: 1-B 2-D 3-A");
    carl.expect_prefix("[Server]: Message #1 scheduled for ");
    server.signal(SIGTERM);
    assert!(server.wait().success());
    let server = Server::start_in(server.into_dir(), &args);
    let mut squatter = server.join("carl");
    squatter.send("/schedules");
    squatter.expect("[Server]: You have no scheduled messages.");
    squatter.send("/unschedule 1");
    squatter.expect("[Server]: You have no scheduled message #1.");
    squatter.send("/schedules all");
    squatter.expect("[Server]: Only an admin can use /schedules all.");
    let mut teacher = server.join("Teacher");
    teacher.send("/admin teacher pw");
    teacher.expect("[Server]: You are now an admin.");
    teacher.send("/schedules all");
    teacher.expect("[Server]: Scheduled messages (1):");
    let entry = teacher.line();
    assert!(
        entry.ends_with("by Carl (gone): Quiz answers: 1-B 2-D 3-A"),
        "{entry}"
    );
    teacher.send("/unschedule 1");
    teacher.expect("[Server]: Message #1 cancelled.");
}

#[test]
fn sigint_also_shuts_down_cleanly() {
    let mut server = Server::start(&[]);
    let mut alice = server.join("Alice");
    server.signal(SIGINT);
    alice.expect("[Server]: The server is shutting down.");
    assert!(server.wait().success());
}

#[test]
fn the_room_log_records_events_but_not_whispers() {
    let mut server = Server::start(&[]);
    let mut alice = server.join("Alice");
    let mut bob = server.join("Bob");
    alice.expect("[Server]: Bob has joined the chat.");
    alice.send("public words");
    bob.expect("Alice >> public words");
    bob.send("/w Alice secret words");
    alice.expect("[Whisper from Bob] secret words");
    alice.send("/nick Alicia");
    alice.expect("[Server]: Your nickname is now \"Alicia\".");
    alice.send("/kick Bob");
    alice.until("[Server]: Bob has been kicked from the chat.");
    server.signal(SIGTERM);
    assert!(server.wait().success());
    let log = std::fs::read_to_string(server.file("chat.log")).expect("log");
    for event in [
        "join Alice from 127.0.0.1:",
        "message Alice: public words",
        "whisper Bob -> Alice",
        "rename Alice -> Alicia",
        "kick Bob by Alicia",
        "shutdown",
    ] {
        assert!(log.contains(event), "{event:?} missing from:\n{log}");
    }
    assert!(!log.contains("secret"), "{log}");
    // Each line starts with an RFC 3339 timestamp.
    for line in log.lines() {
        let stamp = line.split(' ').next().unwrap_or_default();
        assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{line}");
    }
}

#[test]
fn timestamps_use_the_room_time_zone() {
    let server = Server::start(&["--timestamps", "--timezone", "Asia/Seoul"]);
    let mut alice = server.connect();
    let line = alice.line();
    let seoul = jiff::tz::TimeZone::get("Asia/Seoul").expect("zone");
    let now = jiff::Timestamp::now().to_zoned_datetime(seoul.clone());
    let before = now.strftime("[%Y-%m-%d %H:%M] ").to_string();
    let after = jiff::Timestamp::now()
        .to_zoned_datetime(seoul)
        .strftime("[%Y-%m-%d %H:%M] ")
        .to_string();
    assert!(
        line.starts_with(&before) || line.starts_with(&after),
        "{line:?} vs {before:?}"
    );
    assert!(
        line.ends_with("[Server]: Welcome to suda! (0/10 online)"),
        "{line}"
    );
}

#[test]
fn clock_time_schedules_are_read_in_the_room_zone() {
    let server = Server::start(&["--timezone", "Asia/Seoul"]);
    let mut alice = server.join("Alice");
    let seoul = jiff::tz::TimeZone::get("Asia/Seoul").expect("zone");
    let target = jiff::Timestamp::now()
        .to_zoned_datetime(seoul)
        .checked_add(jiff::SignedDuration::from_mins(90))
        .expect("time");
    let hhmm = target.strftime("%H:%M").to_string();
    alice.send(&format!("/schedule {hhmm} later today or tomorrow"));
    alice.expect(&format!(
        "[Server]: Message #1 scheduled for {}.",
        target.strftime("%Y-%m-%d %H:%M")
    ));
}

/// `--console`: the server's terminal is a participant (the 1:1 chat).
#[test]
fn console_is_an_admin_participant() {
    let mut server = Server::start(&["--console", "host", "--max-clients", "2"]);
    let mut stdin = server.stdin.take().expect("stdin");
    let mut stdout = server.stdout.take().expect("stdout");
    stdout.until("[Server]: Welcome, host! Type /help for commands.");
    let mut guest = server.join("guest");
    stdout.until("[Server]: guest has joined the chat.");
    guest.send("hello host");
    stdout.until("guest >> hello host");
    writeln!(stdin, "hello guest, 반가워요").expect("type");
    guest.expect(util::ENCODING_HINT);
    guest.expect("host >> hello guest, 반가워요");
    guest.send("/users");
    guest.expect("[Server]: Users online (2/2): host (admin), guest");
    // Two is the limit: a third person is turned away.
    let mut third = server.connect();
    third.expect("[Server]: The chat room is full (2/2). Try again later.");
    // The operator leaving ends the server, and that is all the guest
    // hears: not who left, not who is admin now.
    writeln!(stdin, "/exit").expect("type");
    stdout.until("[Server]: Bye, host!");
    guest.expect("[Server]: The server is shutting down.");
    assert!(guest.expect_closed().is_empty());
    assert!(server.wait().success());
}

/// The restart notice counts in words an operator reads without wincing.
#[test]
fn restored_messages_are_counted_with_the_right_plural() {
    let mut server = Server::start(&[]);
    let mut carl = server.join("Carl");
    carl.send("/schedule 1h one");
    carl.expect_prefix("[Server]: Message #1 scheduled for ");
    server.signal(SIGTERM);
    assert!(server.wait().success());

    let mut server = Server::start_in(server.into_dir(), &[]);
    let stderr = server.stderr_text();
    assert!(stderr.contains("1 scheduled message restored"), "{stderr}");
    assert!(!stderr.contains("messages restored"), "{stderr}");
    let mut carl = server.join("Carl");
    carl.send("/schedule 2h two");
    carl.expect_prefix("[Server]: Message #2 scheduled for ");
    server.signal(SIGTERM);
    assert!(server.wait().success());

    let server = Server::start_in(server.into_dir(), &[]);
    let stderr = server.stderr_text();
    assert!(stderr.contains("2 scheduled messages restored"), "{stderr}");
}

/// With nothing to reload (no --tls-cert), SIGHUP (a closed terminal,
/// `kill -HUP`) stops the server as SIGTERM does: everyone is told, and
/// the process ends cleanly instead of vanishing.
#[test]
fn sighup_without_a_certificate_to_reload_stops_the_server_gracefully() {
    let mut server = Server::start(&[]);
    let mut alice = server.join("Alice");
    server.signal(SIGHUP);
    alice.expect("[Server]: The server is shutting down.");
    assert!(alice.expect_closed().is_empty());
    assert!(server.wait().success());
}
