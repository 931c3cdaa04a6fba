//! A thousand people pile in.

mod util;

use util::{Client, Server};

const PEOPLE: usize = 1000;

#[test]
fn a_thousand_concurrent_participants() {
    // Each side holds a thousand sockets: lift the soft limit (1024 on most machines).
    rlimit::increase_nofile_limit(u64::MAX).expect("raise the open file limit");
    let server = Server::start(&["--max-clients", &PEOPLE.to_string(), "--verbosity", "warn"]);
    // Everyone connects and sends a nickname at once, before reading anything.
    let mut clients: Vec<Client> = (0..PEOPLE)
        .map(|i| {
            let mut client = server.connect();
            client.send(&format!("p{i}"));
            client
        })
        .collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.until(&format!(
            "[Server]: Welcome, p{i}! Type /help for commands."
        ));
    }
    clients[0].send("/users");
    let users = clients[0].until_prefix("[Server]: Users online (");
    assert!(
        users.starts_with(&format!("[Server]: Users online ({PEOPLE}/{PEOPLE}): ")),
        "{users}"
    );
    assert_eq!(users.matches(", ").count(), PEOPLE - 1);

    // One message reaches all 999 others.
    clients[PEOPLE - 1].send("hello, everyone");
    let wanted = format!("p{} >> hello, everyone", PEOPLE - 1);
    for client in clients.iter_mut().take(PEOPLE - 1) {
        client.until(&wanted);
    }
    // And the room is still full.
    let mut late = server.connect();
    late.expect(&format!(
        "[Server]: The chat room is full ({PEOPLE}/{PEOPLE}). Try again later."
    ));
}
