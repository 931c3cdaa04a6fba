//! The load generator against a real server, with tiny sizes: it must
//! finish, lose nothing, print JSON a machine can read, and say clearly
//! why when it cannot run. So `scripts/loadtest.sh` cannot rot unnoticed.

mod util;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::process::Output;

use serde_json::Value;
use util::{suda_load, Server};

/// Flags of a server fit for load: no flood control, no files, UDP too.
const LOAD_SERVER: &[&str] = &[
    "--udp",
    "--rate",
    "off",
    "--max-clients",
    "200",
    "--log-file",
    "none",
    "--state-file",
    "none",
    "--verbosity",
    "warn",
];

/// Limits that keep a broken run from hanging the test suite.
const BOUNDED: &[&str] = &[
    "--no-progress",
    "--timeout",
    "30s",
    "--stall",
    "5s",
    "--settle",
    "2s",
];

/// Runs suda-load against `addr` with `args`.
fn load(addr: SocketAddr, args: &[&str]) -> Output {
    suda_load()
        .arg("--addr")
        .arg(addr.to_string())
        .args(BOUNDED)
        .args(args)
        .output()
        .expect("run suda-load")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The workloads of a `--json` run, by name.
fn workloads(output: &Output) -> HashMap<String, Value> {
    let run: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(run["tool"], "suda-load");
    run["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .map(|w| (w["name"].as_str().expect("name").to_string(), w.clone()))
        .collect()
}

#[test]
fn every_workload_runs_against_the_real_server_and_loses_nothing() {
    let server = Server::start(LOAD_SERVER);
    let pid = server.pid().to_string();
    let output = load(
        server.addr,
        &[
            "--server-pid",
            &pid,
            "--json",
            "--fanout-clients",
            "5",
            "--fanout-senders",
            "2",
            "--fanout-messages",
            "200",
            "--latency-clients",
            "5",
            "--latency-senders",
            "2",
            "--latency-rate",
            "200",
            "--latency-duration",
            "1s",
            "--capacity-clients",
            "50",
            "--udp",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let runs = workloads(&output);

    let fanout = &runs["fanout"];
    assert_eq!(fanout["ok"], true, "{fanout}");
    assert_eq!(fanout["messages_sent"], 400);
    // Each of 2 senders reaches the 4 others.
    assert_eq!(fanout["deliveries"], 2 * 200 * 4);
    assert_eq!(fanout["lost"], 0);
    assert!(fanout["deliveries_per_second"].as_f64().expect("rate") > 0.0);
    assert!(fanout["server_cpu_seconds"].is_number(), "{fanout}");

    let latency = &runs["latency"];
    assert_eq!(latency["ok"], true, "{latency}");
    assert_eq!(latency["messages_sent"], 200);
    assert_eq!(latency["deliveries"], 200 * 4);
    assert_eq!(latency["lost"], 0);
    let p50 = latency["latency_us"]["p50"].as_u64().expect("p50");
    let max = latency["latency_us"]["max"].as_u64().expect("max");
    assert!(p50 <= max && max < 10_000_000, "{latency}");

    let udp = &runs["latency-udp"];
    assert_eq!(udp["ok"], true, "{udp}");
    assert_eq!(udp["transport"], "udp");
    assert_eq!(udp["messages_sent"], 200);
    // A datagram may be dropped; loopback at this rate hardly ever does.
    assert!(
        udp["deliveries"].as_u64().expect("deliveries") > 700,
        "{udp}"
    );
    assert!(udp["latency_us"]["p99"].is_number(), "{udp}");

    let capacity = &runs["capacity"];
    assert_eq!(capacity["ok"], true, "{capacity}");
    // Everyone hears of everyone who joined after them.
    assert_eq!(capacity["deliveries"], 50 * 49 / 2);
    assert!(capacity["join_seconds"].is_number(), "{capacity}");
    assert!(capacity["server_rss_after_kib"].as_u64().expect("rss") > 0);
}

#[test]
fn the_table_is_printed_without_json() {
    let server = Server::start(LOAD_SERVER);
    let output = load(
        server.addr,
        &[
            "--only",
            "fanout",
            "--fanout-clients",
            "3",
            "--fanout-senders",
            "1",
            "--fanout-messages",
            "50",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    let lost = table
        .lines()
        .find(|l| l.starts_with("lost "))
        .unwrap_or_else(|| panic!("no lost row: {table}"));
    assert_eq!(lost.split_whitespace().last(), Some("0"), "{table}");
    assert!(table.contains("deliveries/s"), "{table}");
}

#[test]
fn an_unreachable_server_is_one_clear_line() {
    // A port nobody listens on: bind one, then let it go.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let output = load(addr, &["--only", "fanout"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("suda-load: cannot connect to "), "{err}");
    assert!(err.contains("connection refused"), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_room_too_small_says_which_flag_to_raise() {
    let server = Server::start(&["--rate", "off", "--max-clients", "3"]);
    let output = load(
        server.addr,
        &[
            "--only",
            "fanout",
            "--fanout-clients",
            "5",
            "--fanout-senders",
            "1",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("--max-clients 5"), "{err}");
    let runs = workloads(&output);
    assert_eq!(runs["fanout"]["ok"], false);
}

#[test]
fn refused_joins_are_reported() {
    // The room is big enough, but only two may choose a nickname at once.
    // --sniff-wait 0 seats each connection at accept, before its nickname
    // arrives, so joins overlap; with the default wait a client that sends
    // its nickname at once is recognised and joined in one step.
    let server = Server::start(&[
        "--rate",
        "off",
        "--max-clients",
        "50",
        "--max-joining",
        "2",
        "--sniff-wait",
        "0s",
    ]);
    let output = load(server.addr, &["--only", "fanout", "--fanout-clients", "20"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("the server refused a join"), "{err}");
    assert!(err.contains("--max-joining"), "{err}");
}

#[test]
fn flood_control_is_named_as_the_problem() {
    let server = Server::start(&["--max-clients", "50"]); // default --rate 5/s
    let output = load(
        server.addr,
        &[
            "--only",
            "fanout",
            "--fanout-clients",
            "3",
            "--fanout-senders",
            "1",
            "--fanout-messages",
            "100",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("--rate off"), "{err}");
}

#[test]
fn udp_without_server_support_says_so() {
    let server = Server::start(&["--rate", "off", "--max-clients", "50"]);
    let output = load(
        server.addr,
        &[
            "--only",
            "udp",
            "--latency-clients",
            "3",
            "--latency-senders",
            "1",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("no answer over UDP from") && err.contains("--udp"),
        "{err}"
    );
}

#[test]
fn help_documents_every_flag() {
    let output = suda_load().arg("--help").output().expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--addr",
        "--server-pid",
        "--only",
        "--udp",
        "--json",
        "--quick",
        "--threads",
        "--fanout-clients",
        "--fanout-senders",
        "--fanout-messages",
        "--fanout-bytes",
        "--fanout-window",
        "--latency-rate",
        "--latency-duration",
        "--latency-probes",
        "--capacity-clients",
        "--capacity-concurrency",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
