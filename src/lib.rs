//! suda (수다, "chatter"): a chat server and client for small groups who
//! talk through a terminal, in UTF-8 or CP949.
//!
//! # Layout
//!
//! The server is one thread running a non-blocking reactor. Everything that
//! decides *what* happens is plain code without sockets; the reactor only
//! moves bytes and time. Arrows only point down: [`net`] calls [`room`],
//! the room calls nothing but its [`room::Outbox`].
//!
//! - [`serve`]: startup (bind, load state, open the log), then the reactor.
//! - [`net`]: the reactor (accepting, reading, flushing, UDP, one file per
//!   phase), one connection, and the wire: line codec, telnet, charset,
//!   outgoing lines and output queues; UDP's address token and one line
//!   per datagram; the console and the signals; one port for chat, TLS
//!   and HTTP (sniffing, TLS); HTTP/1.1 itself under `net/http/`
//!   (parsing, routing, answers), its connections driven by the reactor;
//!   the web client under `net/web/` (its page, and the WebSocket at `/ws`
//!   as one more kind of connection).
//! - [`room`]: who is in the room and what each command does: joining and
//!   leaving, one file per command under `room/commands/`, crowd summaries,
//!   the command parser, flood control, the pending scheduled messages, and
//!   what keeps strangers in check: the room password, bans, per-address
//!   limits; `room/fuzzing.rs`, the room as a state machine with its
//!   invariants, for `fuzz/` and `tests/properties.rs`.
//! - [`store`]: the room log and the database (scheduled messages, the
//!   history, shared files' index), written off the reactor thread.
//! - [`search`]: `/search` requests to an OpenAI-compatible model, on worker threads.
//! - [`history`]: the room's recent messages (replay, catch-up,
//!   `/history`) and how `/find` matches words (character pairs).
//! - [`passwords`]: the room password, the admin password's hash, and the
//!   thread that checks admin passwords (slow by design).
//! - [`timer`], [`clock`], [`text`]: the timer wheel behind timeouts and
//!   scheduled messages, the room's time zone, what text may be relayed and
//!   what a nickname may be.
//! - [`files`]: shared files: names, ids, the index (expiry, quota,
//!   upload offers) and the file-I/O thread; HTTP moves the bytes
//!   (`net/reactor/files.rs`), the room only announces.
//! - [`emoticons`]: the shortcode table, `:smile:` to 😄 for everyone and
//!   😄 to `^_^` for CP949 readers.
//! - [`config`] and [`cli`]: the command line and the limits it sets.
//!
//! The client, `suda connect`, is one thread too: a mio loop over the
//! connection (TCP, TLS or UDP) and the keyboard.
//!
//! - [`client`]: the loop, the terminal display, the nickname answers, the
//!   personal transcript; `/send` and `/get` on threads of their own
//!   (`client::files`, `client::transfer`, `client::http`).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod emoticons;
pub mod files;
pub mod history;
pub mod net;
pub mod passwords;
pub mod room;
pub mod search;
pub mod serve;
pub mod store;
pub mod text;
pub mod timer;
