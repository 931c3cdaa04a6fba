//! The room open to strangers: the room password and its throttle, admins
//! by password, bans, per-address limits, scheduled messages that belong
//! to a connection, paced delivery, idle seats.

use super::*;
use crate::net::ipnet::CidrList;
use crate::passwords::Secret;

const STRANGER: &str = "203.0.113.9:4000";

impl Harness {
    /// Connects from `from` ("IP:PORT"), forgetting the banner.
    fn connect_from(&mut self, from: &str) -> ConnKey {
        let key = self.next_key;
        self.next_key += 1;
        self.open(key, Via::Stream(addr(from)));
        self.lines(key);
        key
    }

    /// Connects from `from` and joins as `nick`.
    fn join_from(&mut self, from: &str, nick: &str) -> ConnKey {
        let key = self.connect_from(from);
        self.say(key, nick);
        assert_eq!(
            self.lines(key).last().map(String::as_str),
            Some(format!("[Server]: Welcome, {nick}! Type /help for commands.").as_str())
        );
        key
    }

    /// The answer to the last admin password check handed out.
    fn verdict(&mut self, right: bool) {
        let (id, _) = self.out.checks.last().cloned().expect("a check was asked");
        self.room.admin_verdict(id, right, self.now, &mut self.out);
    }
}

fn with_password() -> RoomConfig {
    RoomConfig {
        password: Some(Secret::new("open sesame")),
        ip_exempt: CidrList::default(),
        ..RoomConfig::default()
    }
}

#[test]
fn room_password_comes_before_the_nickname() {
    let mut h = Harness::with(with_password(), Schedules::default());
    let key = h.next_key;
    h.next_key += 1;
    h.open(key, Via::Stream(addr(STRANGER)));
    assert_eq!(
        h.lines(key),
        [
            "[Server]: Welcome to suda! (0/10 online)",
            "[Server]: Enter the room password:"
        ]
    );
    h.say(key, "open sesame");
    assert_eq!(h.lines(key), ["[Server]: Enter your nickname:"]);
    h.say(key, "Alice");
    assert_eq!(
        h.lines(key),
        ["[Server]: Welcome, Alice! Type /help for commands."]
    );
}

#[test]
fn encoding_and_exit_are_no_guesses_at_the_password() {
    let mut h = Harness::with(with_password(), Schedules::default());
    let key = h.connect_from(STRANGER);
    h.say(key, "/encoding cp949");
    assert_eq!(h.out.encoding(key), Encoding::Cp949);
    h.lines(key);
    h.say(key, "open sesame");
    assert_eq!(h.lines(key), ["[Server]: Enter your nickname:"]);
    let leaving = h.connect_from(STRANGER);
    h.say(leaving, "/exit");
    assert_eq!(h.lines(leaving), ["[Server]: Bye!"]);
    assert!(h.closed(leaving));
}

#[test]
fn wrong_room_password_closes_after_a_pause_and_is_never_logged() {
    let mut h = Harness::with(with_password(), Schedules::default());
    let key = h.connect_from(STRANGER);
    h.say(key, "let me in");
    assert_eq!(h.lines(key), ["[Server]: Wrong password."]);
    assert!(!h.closed(key));
    // A second guess on the same connection is not even read.
    h.say(key, "open sesame");
    assert!(h.lines(key).is_empty());
    h.advance(Duration::from_millis(999));
    assert!(!h.closed(key));
    h.advance(Duration::from_millis(1));
    assert!(h.closed(key));
    let log = h.out.log.join("\n");
    assert!(
        log.contains("wrong room password from 203.0.113.9"),
        "{log}"
    );
    assert!(!log.contains("let me in") && !log.contains("open sesame"));
}

#[test]
fn five_wrong_room_passwords_lock_the_address_for_a_minute() {
    let mut h = Harness::with(with_password(), Schedules::default());
    for n in 0..5 {
        let key = h.connect_from(STRANGER);
        h.say(key, &format!("guess{n}"));
        assert_eq!(h.lines(key), ["[Server]: Wrong password."]);
        h.advance(Duration::from_secs(1));
    }
    // Even the right password is not checked now...
    let key = h.connect_from(STRANGER);
    h.say(key, "open sesame");
    assert_eq!(h.lines(key), ["[Server]: Wrong password."]);
    // ...but it is from another address,
    let other = h.connect_from("198.51.100.4:4000");
    h.say(other, "open sesame");
    assert_eq!(h.lines(other), ["[Server]: Enter your nickname:"]);
    // and from this one once the first guess is a minute old.
    h.advance(Duration::from_secs(54));
    let key = h.connect_from(STRANGER);
    h.say(key, "open sesame");
    assert_eq!(
        h.lines(key),
        ["[Server]: Wrong password."],
        "59 s after the first"
    );
    h.advance(Duration::from_secs(1));
    let key = h.connect_from(STRANGER);
    h.say(key, "open sesame");
    assert_eq!(h.lines(key), ["[Server]: Enter your nickname:"]);
}

#[test]
fn exempt_addresses_are_never_throttled() {
    let cfg = RoomConfig {
        ip_exempt: CidrList::loopback(),
        ..with_password()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    for _ in 0..8 {
        let key = h.connect_from("127.0.0.1:5000");
        h.say(key, "wrong");
        h.advance(Duration::from_secs(1));
    }
    let key = h.connect_from("127.0.0.1:5000");
    h.say(key, "open sesame");
    assert_eq!(h.lines(key), ["[Server]: Enter your nickname:"]);
}

#[test]
fn one_address_cannot_fill_the_room() {
    let cfg = RoomConfig {
        max_per_ip: 3,
        ip_exempt: CidrList::default(),
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let first = h.join_from("203.0.113.9:1", "M1");
    h.join_from("203.0.113.9:2", "M2");
    // Waiting at the prompt counts too, and so does UDP.
    h.open(h.next_key, Via::Datagram(addr("203.0.113.9:3")));
    let udp = h.next_key;
    h.next_key += 1;
    h.lines(udp);
    let late = h.next_key;
    h.next_key += 1;
    h.open(late, Via::Stream(addr("203.0.113.9:4")));
    assert_eq!(
        h.lines(late),
        ["[Server]: Too many connections from your address."]
    );
    assert!(h.closed(late));
    // Someone else still gets in; one leaving frees a seat for the address.
    h.join_from("198.51.100.4:1", "Alice");
    h.room.gone(first, Gone::Closed, h.now, &mut h.out);
    h.join_from("203.0.113.9:5", "M3");
    // One IPv6 host is one /64.
    for n in 1..=3 {
        h.connect_from(&format!("[2001:db8:0:1::{n}]:1"));
    }
    let v6 = h.next_key;
    h.next_key += 1;
    h.open(v6, Via::Stream(addr("[2001:db8:0:1::99]:1")));
    assert!(h.closed(v6));
}

#[test]
fn those_who_gave_the_room_password_do_not_count_against_their_address() {
    let cfg = RoomConfig {
        max_per_ip: 2,
        ..with_password()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    for n in 0..6 {
        let key = h.connect_from(&format!("203.0.113.9:{n}"));
        h.say(key, "open sesame");
        h.say(key, &format!("Student{n}"));
        assert_eq!(
            h.lines(key).last().map(String::as_str),
            Some(format!("[Server]: Welcome, Student{n}! Type /help for commands.").as_str())
        );
    }
    h.connect_from("203.0.113.9:10");
    h.connect_from("203.0.113.9:11");
    let third = h.next_key;
    h.next_key += 1;
    h.open(third, Via::Stream(addr("203.0.113.9:12")));
    assert!(h.closed(third), "the third stranger at the prompt");
}

fn with_admin_password() -> RoomConfig {
    RoomConfig {
        admin_password: true,
        ip_exempt: CidrList::default(),
        ..RoomConfig::default()
    }
}

#[test]
fn with_an_admin_password_nobody_is_admin_by_arriving_first() {
    let mut h = Harness::with(with_admin_password(), Schedules::default());
    let mallory = h.join_from(STRANGER, "Mallory");
    let teacher = h.join_from("198.51.100.4:1", "Teacher");
    h.lines(mallory);
    h.say(mallory, "/kick Teacher");
    assert_eq!(
        h.lines(mallory),
        ["[Server]: Only the admin can kick users."]
    );
    h.say(mallory, "/users");
    assert_eq!(
        h.lines(mallory),
        ["[Server]: Users online (2/10): Mallory, Teacher"]
    );
    h.say(teacher, "/admin correct horse");
    assert_eq!(h.out.checks, [(1, "correct horse".to_string())]);
    assert!(h.lines(teacher).is_empty(), "nothing until the verdict");
    h.verdict(true);
    assert_eq!(h.lines(teacher), ["[Server]: You are now an admin."]);
    assert_eq!(h.lines(mallory), ["[Server]: Teacher is now an admin."]);
    h.say(teacher, "/admin again");
    assert_eq!(h.lines(teacher), ["[Server]: You are already an admin."]);
    // The password went nowhere but to the checker.
    let log = h.out.log.join("\n");
    assert!(
        log.contains("admin Teacher from 198.51.100.4 (password)"),
        "{log}"
    );
    assert!(!log.contains("correct horse"));
}

#[test]
fn several_admins_and_no_heir() {
    let mut h = Harness::with(with_admin_password(), Schedules::default());
    let a = h.join_from("198.51.100.1:1", "Ann");
    let b = h.join_from("198.51.100.2:1", "Ben");
    let c = h.join_from("198.51.100.3:1", "Cid");
    for key in [a, b] {
        h.say(key, "/admin pw");
        h.verdict(true);
    }
    h.say(c, "/users");
    assert_eq!(
        h.lines(c).last().map(String::as_str),
        Some("[Server]: Users online (3/10): Ann (admin), Ben (admin), Cid")
    );
    h.say(a, "/exit");
    h.say(b, "/exit");
    h.say(c, "/users");
    assert_eq!(
        h.lines(c),
        [
            "[Server]: Ann has left the chat.",
            "[Server]: Ben has left the chat.",
            "[Server]: Users online (1/10): Cid"
        ]
    );
}

#[test]
fn wrong_admin_passwords_are_throttled_per_address() {
    let mut h = Harness::with(with_admin_password(), Schedules::default());
    let m = h.join_from(STRANGER, "Mallory");
    for n in 0..5 {
        h.say(m, &format!("/admin guess{n}"));
        h.verdict(false);
        assert_eq!(h.lines(m), ["[Server]: Wrong admin password."]);
    }
    h.say(m, "/admin the right one");
    assert_eq!(h.lines(m), ["[Server]: Wrong admin password."]);
    assert_eq!(h.out.checks.len(), 5, "the sixth was not checked");
    // A second connection from the same address is no way around it.
    let m2 = h.join_from(STRANGER, "Mallory2");
    h.say(m2, "/admin x");
    assert_eq!(h.lines(m2), ["[Server]: Wrong admin password."]);
    assert_eq!(h.out.checks.len(), 5);
    h.advance(Duration::from_secs(60));
    h.say(m2, "/admin x");
    assert_eq!(h.out.checks.len(), 6);
    assert!(!h.out.log.join("\n").contains("guess"));
}

#[test]
fn without_an_admin_password_the_first_joiner_rule_stands() {
    let mut h = Harness::new();
    let alice = h.join("Alice");
    h.say(alice, "/admin anything");
    assert_eq!(
        h.lines(alice),
        ["[Server]: This room has no admin password: its first participant is the admin."]
    );
    assert!(h.out.checks.is_empty());
}

#[test]
fn admin_lines_are_never_relayed() {
    let mut h = Harness::with(with_admin_password(), Schedules::default());
    let a = h.join_from("198.51.100.1:1", "Ann");
    let b = h.join_from("198.51.100.2:1", "Ben");
    h.lines(a);
    h.say(a, " /admin hunter2");
    h.verdict(false);
    assert!(h.lines(b).is_empty());
    assert!(!h.out.log.join("\n").contains("hunter2"));
}

#[test]
fn a_kick_keeps_the_address_and_the_name_out_until_the_ban_ends() {
    let mut h = Harness::with(
        RoomConfig {
            ip_exempt: CidrList::default(),
            ..RoomConfig::default()
        },
        Schedules::default(),
    );
    let teacher = h.join_from("198.51.100.4:1", "Teacher");
    let mallory = h.join_from(STRANGER, "Mallory");
    h.lines(teacher);
    h.say(teacher, "/kick Mallory");
    assert!(h.closed(mallory));
    // 14:00 Seoul + 10 min.
    let back = h.next_key;
    h.next_key += 1;
    h.open(back, Via::Stream(addr("203.0.113.9:999")));
    assert_eq!(
        h.lines(back),
        ["[Server]: You are banned from this room until 14:10."]
    );
    assert!(h.closed(back));
    // The name is banned from anywhere, look-alikes included.
    let elsewhere = h.connect_from("192.0.2.1:1");
    h.say(elsewhere, "MALL0RY");
    assert_eq!(
        h.lines(elsewhere),
        ["[Server]: You are banned from this room until 14:10."]
    );
    assert!(h.closed(elsewhere));
    let friend = h.join_from("192.0.2.2:1", "Friend");
    h.say(friend, "/rename Mallory");
    assert_eq!(
        h.lines(friend),
        ["[Server]: Nickname \"Mallory\" is banned from this room until 14:10."]
    );
    h.advance(Duration::from_secs(600));
    h.join_from("203.0.113.9:1000", "Mallory");
}

#[test]
fn kick_with_a_duration_and_unban() {
    let mut h = Harness::with(
        RoomConfig {
            ip_exempt: CidrList::default(),
            ..RoomConfig::default()
        },
        Schedules::default(),
    );
    let teacher = h.join_from("198.51.100.4:1", "Teacher");
    let bob = h.join_from("198.51.100.5:1", "Bob");
    h.join_from(STRANGER, "Mallory");
    h.lines(teacher);
    h.say(teacher, "/kick Mallory soon");
    assert_eq!(
        h.lines(teacher),
        ["[Server]: Invalid duration \"soon\". Use a duration such as 90s, 10m, 1h30m."]
    );
    h.say(teacher, "/kick Mallory 2h");
    h.lines(teacher);
    let back = h.next_key;
    h.next_key += 1;
    h.open(back, Via::Stream(addr(STRANGER)));
    assert_eq!(
        h.lines(back),
        ["[Server]: You are banned from this room until 16:00."]
    );
    h.lines(bob);
    h.say(bob, "/unban Mallory");
    assert_eq!(h.lines(bob), ["[Server]: Only an admin can use /unban."]);
    h.say(teacher, "/unban mallory");
    assert_eq!(h.lines(teacher), ["[Server]: Mallory may join again."]);
    h.say(teacher, "/unban Mallory");
    assert_eq!(h.lines(teacher), ["[Server]: No ban for \"Mallory\"."]);
    h.join_from(STRANGER, "Mallory");
}

#[test]
fn on_an_exempt_address_only_the_name_is_banned() {
    let mut h = Harness::new();
    let teacher = h.join("Teacher");
    h.join("Mallory");
    h.say(teacher, "/kick Mallory");
    // Everyone here is on 127.0.0.1: the class is not locked out.
    h.join("Student");
    let again = h.connect();
    h.lines(again);
    h.say(again, "Mallory");
    assert_eq!(
        h.lines(again),
        ["[Server]: You are banned from this room until 14:10."]
    );
}

#[test]
fn schedules_belong_to_the_connection_not_the_name() {
    let mut h = Harness::with(
        RoomConfig {
            ip_exempt: CidrList::default(),
            ..RoomConfig::default()
        },
        Schedules::default(),
    );
    let teacher = h.join_from("198.51.100.4:1", "Teacher");
    h.join_from("198.51.100.5:1", "Student");
    let helper = h.join_from("198.51.100.6:1", "Helper");
    h.say(helper, "/schedule 30m Quiz answers: 1-B 2-D 3-A");
    h.lines(helper);
    h.say(helper, "/exit");
    // Someone takes the name, or renames to it: nothing to see or cancel.
    let squatter = h.join_from(STRANGER, "Helper");
    h.say(squatter, "/schedules");
    assert_eq!(
        h.lines(squatter),
        ["[Server]: You have no scheduled messages."]
    );
    h.say(squatter, "/unschedule 1");
    assert_eq!(
        h.lines(squatter),
        ["[Server]: You have no scheduled message #1."]
    );
    h.say(squatter, "/schedules all");
    assert_eq!(
        h.lines(squatter),
        ["[Server]: Only an admin can use /schedules all."]
    );
    // Kicking the squatter does not cost the author's message.
    h.say(teacher, "/kick Helper");
    assert_eq!(h.room.schedules().len(), 1);
    h.lines(teacher);
    h.say(teacher, "/schedules all");
    assert_eq!(
        h.lines(teacher),
        [
            "[Server]: Scheduled messages (1):",
            "[Server]:   #1 at 2026-11-23 14:30:00 by Helper (gone): Quiz answers: 1-B 2-D 3-A"
        ]
    );
    h.say(teacher, "/unschedule 1");
    assert_eq!(h.lines(teacher), ["[Server]: Message #1 cancelled."]);
    assert!(h.room.schedules().is_empty());
}

#[test]
fn restored_messages_are_nobody_s_but_an_admin_s() {
    let saved = SavedState {
        version: 1,
        next_id: 8,
        messages: vec![Scheduled {
            id: 7,
            due: "2026-11-23T06:00:00Z".parse::<Timestamp>().expect("ts"),
            author: "Teacher".into(),
            text: "Quiz answers".into(),
            author_conn: None,
        }],
    };
    let cfg = RoomConfig {
        admin_password: true,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::restore(saved));
    let first = h.join("Teacher");
    h.say(first, "/schedules");
    assert_eq!(
        h.lines(first),
        ["[Server]: You have no scheduled messages."]
    );
    h.say(first, "/unschedule 7");
    assert_eq!(
        h.lines(first),
        ["[Server]: You have no scheduled message #7."]
    );
    h.say(first, "/admin pw");
    h.verdict(true);
    h.lines(first);
    h.say(first, "/schedules all");
    assert_eq!(
        h.lines(first),
        [
            "[Server]: Scheduled messages (1):",
            "[Server]:   #7 at 2026-11-23 15:00 by Teacher (gone): Quiz answers"
        ]
    );
}

#[test]
fn schedules_are_limited_per_address_and_in_bytes() {
    let cfg = RoomConfig {
        ip_exempt: CidrList::default(),
        max_scheduled: 3,
        max_scheduled_per_ip: 5,
        max_scheduled_bytes: 100,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    // Reconnecting under new names: each gets 3, the address 5 in all.
    let x1 = h.join_from(STRANGER, "x1");
    for _ in 0..3 {
        h.say(x1, "/schedule 1h spam");
    }
    h.say(x1, "/exit");
    let x2 = h.join_from(STRANGER, "x2");
    h.lines(x2);
    for _ in 0..2 {
        h.say(x2, "/schedule 1h spam");
    }
    h.lines(x2);
    h.say(x2, "/schedule 1h spam");
    assert_eq!(
        h.lines(x2),
        ["[Server]: Your address already has 5 scheduled messages, the limit. Try again when some have been sent."]
    );
    assert_eq!(h.room.schedules().len(), 5);
    // The room's byte budget holds for everyone: 20 of 100 bytes are used.
    let alice = h.join_from("198.51.100.4:1", "Alice");
    h.say(alice, &format!("/schedule 1h {}", "a".repeat(80)));
    h.lines(alice);
    h.say(alice, "/schedule 1h b");
    assert_eq!(
        h.lines(alice),
        ["[Server]: The room's scheduled messages already take 100 bytes, the limit. Try again later."]
    );
}

#[test]
fn many_messages_due_at_once_go_out_a_few_per_tick() {
    let cfg = RoomConfig {
        max_scheduled: 100,
        schedule_pace: 20,
        rate: None,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let author = h.join("Author");
    let reader = h.join("Reader");
    for n in 0..50 {
        h.say(author, &format!("/schedule 1m note {n}"));
    }
    h.lines(reader);
    h.advance(Duration::from_secs(60));
    assert_eq!(h.lines(reader).len(), 20);
    h.advance(Duration::from_millis(100));
    assert_eq!(h.lines(reader).len(), 20);
    h.advance(Duration::from_millis(100));
    let last = h.lines(reader);
    assert_eq!(last.len(), 10);
    assert_eq!(
        last.last().map(String::as_str),
        Some("[Scheduled by Author] note 49")
    );
    // A lone message later goes at once.
    h.say(author, "/schedule 1m alone");
    h.advance(Duration::from_secs(60));
    assert_eq!(h.lines(reader), ["[Scheduled by Author] alone"]);
}

#[test]
fn big_messages_due_at_once_are_paced_by_bytes() {
    let cfg = RoomConfig {
        schedule_pace: 100,
        schedule_pace_bytes: 1000,
        rate: None,
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let author = h.join("Author");
    let reader = h.join("Reader");
    for _ in 0..10 {
        h.say(author, &format!("/schedule 1m {}", "x".repeat(400)));
    }
    h.lines(reader);
    h.advance(Duration::from_secs(60));
    // 400 + 400 is under 1000, the third passes it: three per tick.
    assert_eq!(h.lines(reader).len(), 3);
    h.advance(Duration::from_millis(100));
    assert_eq!(h.lines(reader).len(), 3);
}

#[test]
fn trickled_bytes_and_blank_lines_do_not_keep_a_seat() {
    let cfg = RoomConfig {
        idle_timeout: Some(Duration::from_secs(300)),
        ..RoomConfig::default()
    };
    let mut h = Harness::with(cfg, Schedules::default());
    let squatter = h.join("Squatter");
    for _ in 0..29 {
        h.advance(Duration::from_secs(10));
        h.say(squatter, "   ");
        h.room.input(squatter, Input::TooLong, h.now, &mut h.out);
    }
    h.advance(Duration::from_secs(10));
    assert!(h.closed(squatter));
}

/// An admin whose encoding nothing has confirmed reads `/schedules all`
/// with someone's Hangul in it: the hint comes before the list's heading,
/// not between its lines.
#[test]
fn the_encoding_hint_does_not_split_schedules_all() {
    let mut h = Harness::new();
    let admin = h.join("Hadm");
    let writer = h.join("Hb");
    h.say(writer, "/schedule 1h 숙제 제출");
    h.lines(writer);
    h.lines(admin);
    h.say(admin, "/schedules all");
    let lines = h.lines(admin);
    assert_eq!(
        lines.first().map(String::as_str),
        Some("[Server]: Hangul looks garbled? Type /encoding cp949 (Korean Windows).")
    );
    assert_eq!(
        lines.get(1).map(String::as_str),
        Some("[Server]: Scheduled messages (1):")
    );
    assert!(lines[2].ends_with("by Hb: 숙제 제출"), "{lines:?}");
    assert_eq!(lines.len(), 3, "{lines:?}");
}
