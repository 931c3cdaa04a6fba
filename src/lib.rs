//! suda (수다, "chatter"): a chat server and client for small groups who
//! talk through a terminal, in UTF-8 or CP949.
//!
//! # Layout
//!
//! The server is one thread running a non-blocking reactor. Everything that
//! decides *what* happens is plain code without sockets; the reactor only
//! moves bytes and time.
//!
//! - [`reactor`]: the mio event loop: listener, connections in a slab,
//!   reading, end-of-turn flushing, timers, signals, shutdown.
//! - [`conn`]: one connection: its socket, line codec, charset, output queue.
//! - [`codec`] and [`telnet`]: bytes to lines, telnet negotiation stripped.
//! - [`charset`]: UTF-8 and CP949, detection and transcoding.
//! - [`line`] and [`outq`]: an outgoing line encoded once per encoding and
//!   shared by every recipient's queue, written with `writev`.
//! - [`room`] and [`command`]: who is in the room, what each command does.
//! - [`timer`]: the timer wheel behind timeouts and scheduled messages.
//! - [`schedule`]: `/schedule` times and the pending messages.
//! - [`ratelimit`], [`text`], [`clock`]: flood control, what text may be
//!   relayed, the room's time zone.
//! - [`disk`]: the room log and the state file, written off the reactor thread.
//! - [`search`]: `/search` requests to an OpenAI-compatible model, on worker threads.
//! - [`console`]: `--console`, the operator's terminal as a participant.
//! - [`signals`]: SIGINT and SIGTERM through a self-pipe.
//! - [`serve`]: startup (bind, load state, open the log), then the reactor.
//! - [`config`] and [`cli`]: the command line and the limits it sets.
//!
//! The client, `suda connect`, is one thread too: a mio loop over the
//! connection (TCP or UDP) and the keyboard.
//!
//! - [`client`]: the loop, the terminal display, the nickname answers, the
//!   personal transcript.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod charset;
pub mod cli;
pub mod client;
pub mod clock;
pub mod codec;
pub mod command;
pub mod config;
pub mod conn;
pub mod console;
pub mod disk;
pub mod line;
pub mod outq;
pub mod ratelimit;
pub mod reactor;
pub mod room;
pub mod schedule;
pub mod search;
pub mod serve;
pub mod signals;
pub mod telnet;
pub mod text;
pub mod timer;
