//! The kinds of client the soak runs, one function each, every one in a
//! loop until the run's end. To add a kind, write its function here and
//! give it a row in `main.rs`'s `KINDS`.

use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::lines::Lines as _;
use crate::ws::WsConn;
use crate::{http, Soak};

/// Steady participants: there for the whole run, chatting at a steady pace;
/// every one of their lines must reach every other steady participant, in
/// order, and every scheduled message exactly once. Number 0 also schedules
/// messages and times `/users` as a probe; number 1 speaks TLS.
pub fn steady(soak: &Soak, i: usize) {
    let tls = (i == 1).then_some(&soak.tls);
    let nick = format!("steady{i}");
    let mut conn = match Conn::connect(soak.addr, tls)
        .map_err(|e| e.to_string())
        .and_then(|mut c| {
            c.join(&nick)?;
            Ok(c)
        }) {
        Ok(conn) => conn,
        Err(e) => return soak.fail(format!("{nick} could not join: {e}")),
    };
    soak.steady_ready.fetch_add(1, Ordering::SeqCst);
    // Nothing is read meanwhile: the first lines of the others wait in the
    // socket for the checks below.
    while soak.steady_ready.load(Ordering::SeqCst) < soak.steady_count && soak.running() {
        thread::sleep(Duration::from_millis(20));
    }
    // Per sender, the last number seen; scheduled texts seen.
    let mut last: HashMap<usize, u64> = HashMap::new();
    let mut scheduled: HashSet<String> = HashSet::new();
    let mut seq = 0u64;
    let mut next_say = Instant::now();
    let mut next_schedule = Instant::now() + Duration::from_secs(2);
    let mut next_users = Instant::now() + Duration::from_secs(5);
    let mut users_sent: Option<Instant> = None;
    let mut scheduled_n = 0u64;
    let mut receive = |line: &str,
                       last: &mut HashMap<usize, u64>,
                       users_sent: &mut Option<Instant>,
                       soak: &Soak| {
        if let Some((j, n)) = steady_line(line) {
            let want = last.get(&j).map_or(1, |l| l + 1);
            if n != want {
                soak.fail(format!(
                    "{nick} got line {n} of steady{j}, expected {want}: lost"
                ));
            }
            last.insert(j, n);
            soak.counters.checked.fetch_add(1, Ordering::Relaxed);
        } else if let Some(text) = line.strip_prefix("[Scheduled by steady0] ") {
            if !scheduled.insert(text.to_string()) {
                soak.fail(format!("{nick} got scheduled {text:?} twice"));
            }
            soak.counters.scheduled_seen.fetch_add(1, Ordering::Relaxed);
        } else if line.starts_with("[Server]: Users online (") {
            if let Some(sent) = users_sent.take() {
                soak.probe(sent.elapsed(), "/users");
            }
        } else if line.starts_with("[Server]: You are sending too fast") {
            soak.fail(format!("{nick} was told it floods at 3 lines/s"));
        }
    };
    while soak.running() {
        let now = Instant::now();
        if now >= next_say {
            seq += 1;
            if let Err(e) = conn.send(&format!("S{i} {seq}")) {
                return soak.fail(format!("{nick} lost its connection: {e}"));
            }
            soak.steady_sent[i].store(seq, Ordering::SeqCst);
            soak.counters.sent.fetch_add(1, Ordering::Relaxed);
            next_say = now + Duration::from_millis(300);
        }
        if i == 0 && now >= next_schedule {
            scheduled_n += 1;
            let _ = conn.send(&format!("/schedule 3s K{scheduled_n}"));
            soak.scheduled.fetch_add(1, Ordering::SeqCst);
            next_schedule = now + Duration::from_secs(5);
        }
        if i == 0 && now >= next_users && users_sent.is_none() {
            let _ = conn.send("/users");
            users_sent = Some(now);
            next_users = now + Duration::from_secs(10);
        }
        if let Some(sent) = users_sent {
            if sent.elapsed() > Duration::from_secs(1) {
                soak.probe(sent.elapsed(), "/users (no answer yet)");
                users_sent = None;
            }
        }
        match conn.line(Duration::from_millis(50)) {
            Ok(Some(line)) => receive(&line, &mut last, &mut users_sent, soak),
            Ok(None) => {}
            Err(e) => return soak.fail(format!("{nick} lost its connection: {e}")),
        }
    }
    // The end: a few seconds for the last lines and scheduled messages.
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        match conn.line(Duration::from_millis(100)) {
            Ok(Some(line)) => receive(&line, &mut last, &mut users_sent, soak),
            Ok(None) => {}
            Err(e) => return soak.fail(format!("{nick} lost its connection at the end: {e}")),
        }
    }
    for j in 0..soak.steady_count {
        if j == i {
            continue;
        }
        let sent = soak.steady_sent[j].load(Ordering::SeqCst);
        let got = last.get(&j).copied().unwrap_or(0);
        if got != sent {
            soak.fail(format!("{nick} got {got} of the {sent} lines of steady{j}"));
        }
    }
    if i != 0 {
        let want = soak.scheduled.load(Ordering::SeqCst) as usize;
        if scheduled.len() != want {
            soak.fail(format!(
                "{nick} got {} of {want} scheduled messages",
                scheduled.len()
            ));
        }
    }
    let _ = conn.send("/quit");
}

/// A steady participant's line as the room gets it, `steadyJ >> SJ N`:
/// `(J, N)`. A replayed one has a timestamp first, so it is not one.
fn steady_line(line: &str) -> Option<(usize, u64)> {
    let (who, rest) = line.split_once(" >> ")?;
    let j = who.strip_prefix("steady")?;
    let n = rest.strip_prefix('S')?.strip_prefix(j)?.strip_prefix(' ')?;
    Some((j.parse().ok()?, n.parse().ok()?))
}

/// How a churner leaves, in turn.
#[derive(Debug, Clone, Copy)]
enum Exit {
    Quit,
    Close,
    Reset,
    Idle,
    NoNickname,
}

const EXITS: [Exit; 5] = [
    Exit::Quit,
    Exit::Close,
    Exit::Reset,
    Exit::Idle,
    Exit::NoNickname,
];

/// People who come and go by every exit: `/quit`, closing, a reset,
/// falling silent (`--idle-timeout`) and never giving a nickname
/// (`--login-timeout`); they chat, whisper and schedule on the way
/// (some scheduled messages outlive their author). Every other one over TLS.
pub fn churner(soak: &Soak, i: usize) {
    let mut round = 0usize;
    while soak.running() {
        round += 1;
        let exit = EXITS[(i + round) % EXITS.len()];
        let tls = (round % 2 == 0).then_some(&soak.tls);
        let Ok(mut conn) = Conn::connect(soak.addr, tls) else {
            soak.counters.refused.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(200));
            continue;
        };
        if let Exit::NoNickname = exit {
            if !conn.closed_by_server(soak.login_timeout + Duration::from_secs(5)) {
                soak.fail(format!("churner {i}: not closed after the login timeout"));
            }
            soak.counters.left.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if conn.join(&format!("ch{i}r{round}")).is_err() {
            soak.counters.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        soak.counters.joined.fetch_add(1, Ordering::Relaxed);
        for n in 0..5 {
            let _ = conn.send(&format!("hello {n} from churner {i}"));
            let _ = conn.line(Duration::from_millis(150));
        }
        let _ = conn.send(&format!(
            "/whisper steady{} psst {round}",
            round % soak.steady_count
        ));
        if round % 3 == 0 {
            let _ = conn.send(&format!("/schedule 2s left behind by churner {i}"));
        }
        let _ = conn.send("/users");
        let _ = conn.until(Duration::from_millis(300), |_| false);
        match exit {
            Exit::Quit => {
                let _ = conn.send("/quit");
                if !conn.closed_by_server(Duration::from_secs(5)) {
                    soak.fail(format!("churner {i}: /quit did not close within 5 s"));
                }
            }
            Exit::Close => conn.close(),
            Exit::Reset => conn.reset(),
            Exit::Idle => {
                if !conn.closed_by_server(soak.idle_timeout + Duration::from_secs(5)) {
                    soak.fail(format!("churner {i}: not closed after the idle timeout"));
                }
            }
            Exit::NoNickname => {}
        }
        soak.counters.left.fetch_add(1, Ordering::Relaxed);
    }
}

/// A reader that never reads: the server must drop it (`--max-outbuf`)
/// rather than hold its output; then it comes back.
pub fn slow_reader(soak: &Soak, _: usize) {
    let mut round = 0;
    while soak.running() {
        round += 1;
        let Ok(mut conn) = Conn::connect(soak.addr, None) else {
            thread::sleep(Duration::from_millis(500));
            continue;
        };
        if conn.join(&format!("slow{round}")).is_err() {
            thread::sleep(Duration::from_millis(500));
            continue;
        }
        // Sleep while the room talks; then see whether we were dropped.
        let until = Instant::now() + Duration::from_secs(60);
        while soak.running() && Instant::now() < until {
            thread::sleep(Duration::from_millis(500));
        }
        soak.counters.left.fetch_add(1, Ordering::Relaxed);
        conn.reset();
    }
}

/// A flooder: long lines as fast as the socket takes them; the server
/// drops what is over `--rate` and says so, the room must not notice.
pub fn flooder(soak: &Soak, _: usize) {
    let long = "x".repeat(3000);
    let mut round = 0;
    while soak.running() {
        round += 1;
        let Ok(mut conn) = Conn::connect(soak.addr, None) else {
            thread::sleep(Duration::from_millis(500));
            continue;
        };
        if conn.join(&format!("flood{round}")).is_err() {
            thread::sleep(Duration::from_millis(500));
            continue;
        }
        let until = Instant::now() + Duration::from_secs(30);
        while soak.running() && Instant::now() < until {
            for _ in 0..20 {
                if conn.send(&long).is_err() {
                    break;
                }
            }
            // Reads what it is told, so it is a flooder, not a slow reader.
            while let Ok(Some(_)) = conn.line(Duration::from_millis(20)) {}
        }
        conn.close();
    }
}

/// UDP participants: the token handshake, a nickname, a few lines, then
/// `/quit` or silence (`--udp-idle`).
pub fn udp(soak: &Soak, i: usize) {
    let mut round = 0;
    while soak.running() {
        round += 1;
        let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
            return soak.fail("cannot bind a UDP socket".into());
        };
        let _ = socket.set_read_timeout(Some(Duration::from_millis(500)));
        if socket.connect(soak.addr).is_err() {
            return soak.fail("cannot reach the server over UDP".into());
        }
        let recv = |socket: &UdpSocket| -> Option<String> {
            let mut buf = [0u8; 2048];
            let n = socket.recv(&mut buf).ok()?;
            Some(String::from_utf8_lossy(&buf[..n]).trim_end().to_string())
        };
        let _ = socket.send(b"HELO");
        let Some(invite) = recv(&socket) else {
            soak.counters.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Some(token) = invite
            .strip_prefix("[Server]: Send HELO ")
            .and_then(|t| t.strip_suffix(" to join."))
        else {
            soak.counters.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let _ = socket.send(format!("HELO {token}").as_bytes());
        let nick = format!("udp{i}r{round}");
        let _ = socket.send(nick.as_bytes());
        let mut joined = false;
        for _ in 0..10 {
            match recv(&socket) {
                Some(l) if l.starts_with(&format!("[Server]: Welcome, {nick}!")) => {
                    joined = true;
                    break;
                }
                Some(l) if l.ends_with("Enter your nickname:") => {
                    let _ = socket.send(nick.as_bytes());
                }
                _ => {}
            }
        }
        if !joined {
            soak.counters.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        soak.counters.joined.fetch_add(1, Ordering::Relaxed);
        for n in 0..5 {
            let _ = socket.send(format!("udp hello {n}").as_bytes());
            while recv(&socket).is_some() {}
        }
        if round % 2 == 0 {
            let _ = socket.send(b"/quit");
        } else {
            // Silence: the server forgets the address after --udp-idle.
            let until = Instant::now() + soak.udp_idle + Duration::from_secs(2);
            while soak.running() && Instant::now() < until {
                thread::sleep(Duration::from_millis(200));
            }
        }
        soak.counters.left.fetch_add(1, Ordering::Relaxed);
    }
}

/// A newcomer every two seconds, timed from connect to the banner: the
/// server must answer within a second however busy it is.
pub fn prober(soak: &Soak, _: usize) {
    while soak.running() {
        let start = Instant::now();
        match Conn::connect(soak.addr, None) {
            Ok(mut conn) => {
                match conn.until(Duration::from_secs(3), |l| {
                    l.starts_with("[Server]: Welcome to")
                }) {
                    Ok(Some(_)) => soak.probe(start.elapsed(), "banner"),
                    _ => soak.probe(Duration::from_secs(3), "banner (none within 3 s)"),
                }
                conn.close();
            }
            Err(e) => soak.fail(format!("probe could not connect: {e}")),
        }
        thread::sleep(Duration::from_secs(2));
    }
}

/// How a browser leaves, in turn.
#[derive(Debug, Clone, Copy)]
enum WsExit {
    CloseFrame,
    Drop,
    Reset,
}

const WS_EXITS: [WsExit; 3] = [WsExit::CloseFrame, WsExit::Drop, WsExit::Reset];

/// Browsers on the WebSocket at `/ws`: they join, chat at a steady
/// participant's pace for 5 to 20 s and, while in the room, must get every
/// line of every steady participant in order, none missing between joining
/// and leaving; then they leave by a close frame, a dropped connection or
/// a reset and come back, every other time under the same nickname (its
/// catch-up replay has timestamps, so it is not taken for live lines).
pub fn websocket(soak: &Soak, i: usize) {
    let mut round = 0usize;
    let mut joins = 0u64;
    while soak.running() {
        round += 1;
        let exit = WS_EXITS[(i + round) % WS_EXITS.len()];
        // The same nickname comes back at once, every other round: its
        // catch-up is then short. After longer away it would hold the
        // flooder's lines, past --max-outbuf, and be dropped at the welcome.
        let nick = format!("ws{i}r{}", round.div_ceil(2));
        let joined = WsConn::connect(soak.addr).and_then(|mut ws| {
            ws.join(&nick)?;
            Ok(ws)
        });
        let Ok(mut ws) = joined else {
            // The same nickname back before the server saw it go, say.
            soak.counters.refused.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(500));
            continue;
        };
        joins += 1;
        soak.counters.ws_joins.fetch_add(1, Ordering::Relaxed);
        // What each steady participant had sent when the welcome came: its
        // next line may have reached the server before the join, the one
        // after cannot have.
        let at_join: Vec<u64> = soak
            .steady_sent
            .iter()
            .map(|s| s.load(Ordering::SeqCst))
            .collect();
        let mut last: HashMap<usize, u64> = HashMap::new();
        let check = |line: &str, last: &mut HashMap<usize, u64>| {
            if let Some((j, n)) = steady_line(line) {
                let Some(&joined_at) = at_join.get(j) else {
                    return;
                };
                match last.get(&j) {
                    Some(&l) if n != l + 1 => soak.fail(format!(
                        "{nick} (WebSocket) got line {n} of steady{j}, expected {}: lost",
                        l + 1
                    )),
                    None if n > joined_at + 2 => soak.fail(format!(
                        "{nick} (WebSocket) joined after line {joined_at} of steady{j} \
                         but first got {n}: lost"
                    )),
                    _ => {}
                }
                last.insert(j, n);
            } else if line.starts_with("[Server]: You are sending too fast") {
                soak.fail(format!(
                    "{nick} (WebSocket) was told it floods at 3 lines/s"
                ));
            }
        };
        let stay = Duration::from_secs(5 + 5 * ((i + round) % 4) as u64);
        let until = Instant::now() + stay;
        let mut seq = 0u64;
        let mut next_say = Instant::now();
        let mut lost = None;
        while lost.is_none() && soak.running() && Instant::now() < until {
            if Instant::now() >= next_say {
                seq += 1;
                if let Err(e) = ws.send(&format!("W{i} {seq}")) {
                    lost = Some(e);
                    break;
                }
                next_say = Instant::now() + Duration::from_millis(300);
            }
            match ws.line(Duration::from_millis(50)) {
                Ok(Some(line)) => check(&line, &mut last),
                Ok(None) => {}
                Err(e) => lost = Some(e),
            }
        }
        // Before leaving, every line the steady participants have sent so
        // far (those sent since the join) must come.
        let sent: Vec<u64> = soak
            .steady_sent
            .iter()
            .map(|s| s.load(Ordering::SeqCst))
            .collect();
        let by = Instant::now() + Duration::from_secs(10);
        while lost.is_none() {
            let missing: Vec<String> = (0..sent.len())
                .filter(|&j| sent[j] >= at_join[j] + 2 && last.get(&j).is_none_or(|&l| l < sent[j]))
                .map(|j| {
                    let got = last.get(&j).copied().unwrap_or(0);
                    format!("steady{j} (up to {got} of {})", sent[j])
                })
                .collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() >= by {
                soak.fail(format!(
                    "{nick} (WebSocket) did not get the lines of {} within 10 s",
                    missing.join(", ")
                ));
                break;
            }
            match ws.line(Duration::from_millis(100)) {
                Ok(Some(line)) => check(&line, &mut last),
                Ok(None) => {}
                Err(e) => lost = Some(e),
            }
        }
        if let Some(e) = lost {
            soak.fail(format!("{nick} (WebSocket) lost its connection: {e}"));
            continue;
        }
        match exit {
            WsExit::CloseFrame => {
                // The server sometimes shuts the socket without its
                // answering close frame: counted and shown, not failed,
                // until that is fixed, so the soak still judges the rest.
                if let Err(e) = ws.close(Duration::from_secs(5)) {
                    eprintln!("soak: WARN {nick} (WebSocket) sent a close frame: {e}");
                    soak.counters
                        .ws_close_unanswered
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            WsExit::Drop => ws.drop_connection(),
            WsExit::Reset => ws.reset(),
        }
        soak.counters.left.fetch_add(1, Ordering::Relaxed);
        // A moment for the server to see it go before the same nickname
        // comes back.
        thread::sleep(Duration::from_millis(200));
    }
    if joins == 0 {
        soak.fail(format!("websocket {i} never joined"));
    }
}

/// Someone who shares files, one every 3 s: `/upload`, a `PUT` of 1 KiB to
/// 512 KiB of pseudo-random bytes, then a download (every other one a
/// `Range`) compared byte for byte with what went up. The uploader is only
/// told `[Server]: Shared ...`, so a second connection of its own, in the
/// room like anyone, must get the `[File from ...]` line, whose link must
/// be the `201`'s `Location`.
pub fn files(soak: &Soak, i: usize) {
    let nick = format!("files{i}");
    let join = |nick: &str| {
        Conn::connect(soak.addr, None)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                c.join(nick)?;
                Ok(c)
            })
    };
    let (mut conn, mut watcher) = match (join(&nick), join(&format!("filesw{i}"))) {
        (Ok(conn), Ok(watcher)) => (conn, watcher),
        (Err(e), _) | (_, Err(e)) => return soak.fail(format!("files {i} could not join: {e}")),
    };
    let mut rng = 0x9e37_79b9_7f4a_7c15 ^ i as u64;
    let mut n = 0u64;
    let mut verified = 0u64;
    while soak.running() {
        n += 1;
        let name = format!("soak-{n}.bin");
        let size = 1024 + (splitmix(&mut rng) % (511 * 1024 + 1)) as usize;
        let data: Vec<u8> = (0..size.div_ceil(8))
            .flat_map(|_| splitmix(&mut rng).to_le_bytes())
            .take(size)
            .collect();
        let range = n % 2 == 0;
        match share(
            soak,
            &mut conn,
            &mut watcher,
            &nick,
            &name,
            &data,
            range,
            &mut rng,
        ) {
            Ok(()) => {
                verified += 1;
                soak.counters.files_verified.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => soak.fail(format!("{nick}: {name} ({size} bytes): {e}")),
        }
        // The watcher would otherwise fall silent past --idle-timeout.
        if let Err(e) = watcher.send(&format!("thanks for {name}")) {
            return soak.fail(format!("files {i} lost a connection: {e}"));
        }
        // Both read what the room says meanwhile: past --max-outbuf the
        // server would drop them.
        let until = Instant::now() + Duration::from_secs(3);
        while soak.running() && Instant::now() < until {
            for c in [&mut conn, &mut watcher] {
                if let Err(e) = c.line(Duration::from_millis(50)) {
                    return soak.fail(format!("files {i} lost a connection: {e}"));
                }
            }
        }
    }
    if verified == 0 {
        soak.fail(format!("{nick} never shared a file"));
    }
    let _ = conn.send("/quit");
    let _ = watcher.send("/quit");
}

/// One file up and down, each step checked: `Err` says which went wrong.
#[allow(clippy::too_many_arguments)]
fn share(
    soak: &Soak,
    conn: &mut Conn,
    watcher: &mut Conn,
    nick: &str,
    name: &str,
    data: &[u8],
    range: bool,
    rng: &mut u64,
) -> Result<(), String> {
    let wait = Duration::from_secs(30);
    conn.send(&format!("/upload {name}"))
        .map_err(|e| format!("sending /upload: {e}"))?;
    let offer = conn
        .until(Duration::from_secs(5), |l| {
            l.starts_with("[Server]: Upload within 10 minutes: curl -T ")
        })
        .map_err(|e| format!("waiting for the upload link: {e}"))?
        .ok_or("no upload link within 5 s")?;
    let put = offer
        .rsplit(' ')
        .next()
        .and_then(path_of)
        .ok_or_else(|| format!("no link in {offer:?}"))?;
    let reply = http::request(soak.addr, "PUT", put, &[], data, wait)
        .map_err(|e| format!("PUT {put}: {e}"))?;
    if reply.status != 201 {
        return Err(format!(
            "PUT {put} answered {}: {:?}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ));
    }
    let location = reply.header("location").ok_or("a 201 without a Location")?;
    let announced = format!("[File from {nick}] {name} (");
    let line = watcher
        .until(Duration::from_secs(10), |l| l.starts_with(&announced))
        .map_err(|e| format!("waiting for the announcement: {e}"))?
        .ok_or("the room was not told within 10 s")?;
    let link = line.rsplit(' ').next().unwrap_or_default();
    if link != location {
        return Err(format!(
            "the room's link {link} is not the 201's Location {location}"
        ));
    }
    let shared = format!("[Server]: Shared {name} (");
    conn.until(Duration::from_secs(5), |l| l.starts_with(&shared))
        .map_err(|e| format!("waiting for \"Shared\": {e}"))?
        .ok_or("the uploader was not told \"Shared\" within 5 s")?;
    let get = path_of(link).ok_or_else(|| format!("no path in the link {link}"))?;
    let (headers, status, want) = if range {
        let len = data.len() as u64;
        let a = splitmix(rng) % len;
        let b = a + splitmix(rng) % (len - a);
        let content_range = format!("bytes {a}-{b}/{len}");
        let (a, b) = (a as usize, b as usize);
        (
            vec![("Range", format!("bytes={a}-{b}"))],
            (206, Some(content_range)),
            &data[a..=b],
        )
    } else {
        (Vec::new(), (200, None), data)
    };
    let reply = http::request(soak.addr, "GET", get, &headers, &[], wait)
        .map_err(|e| format!("GET {get}: {e}"))?;
    if reply.status != status.0 {
        return Err(format!(
            "GET {get} {headers:?} answered {}, not {}",
            reply.status, status.0
        ));
    }
    if let Some(content_range) = status.1 {
        if reply.header("content-range") != Some(content_range.as_str()) {
            return Err(format!(
                "GET {get} {headers:?}: Content-Range {:?}, not {content_range:?}",
                reply.header("content-range")
            ));
        }
    }
    if reply.body != want {
        let at = reply
            .body
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(reply.body.len().min(want.len()));
        return Err(format!(
            "GET {get} {headers:?}: {} bytes, {} wanted, differing from byte {at}",
            reply.body.len(),
            want.len()
        ));
    }
    Ok(())
}

/// The path of `http://host:port/path`.
fn path_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    rest.find('/').map(|k| &rest[k..])
}

/// splitmix64: bytes that differ everywhere, so a misplaced chunk shows,
/// from a seed that makes a failure repeatable.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
