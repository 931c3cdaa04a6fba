//! The network side of the server: the reactor and everything that turns
//! sockets into lines for the room and lines back into bytes.
//!
//! - [`reactor`]: the mio event loop, split by phase under `reactor/`.
//! - [`conn`]: one connection: its socket, line codec, charset, output queue.
//! - [`codec`] and [`telnet`]: bytes to lines, telnet negotiation stripped
//!   and answered; [`line_editor`]: the line a telnet user types in
//!   character mode, echoed and edited by the server.
//! - [`charset`]: UTF-8 and CP949, detection and transcoding.
//! - [`line`](mod@line) and [`outq`]: an outgoing line encoded once per encoding and
//!   shared by every recipient's queue, written with `writev`.
//! - [`datagram`] and [`udp_token`]: UDP's one line per datagram (long
//!   lines in marked pieces) and the token that proves an address receives.
//! - [`console`]: `--console`, the operator's terminal as a participant.
//! - [`ipnet`] and [`connect_rate`]: address blocks (`--ip-exempt`), the
//!   network an address counts as, and `--connect-rate` per network.
//! - [`signals`]: SIGINT and SIGTERM through a self-pipe.
//! - [`sniff`], [`transport`], [`wire`] and [`tls`]: one port for chat,
//!   TLS and HTTP: what a new connection speaks, a socket with or without
//!   TLS, and TLS over a non-blocking socket.
//! - [`http`]: HTTP/1.1 on the chat port: parsing, routing, answers.
//! - [`announce`]: `--announce`, the mDNS / DNS-SD advertisement, on
//!   threads of its own; the reactor only hands it the online count.
//!
//! The client uses the wire pieces too ([`codec`], [`charset`], [`signals`]).

pub mod announce;
pub mod charset;
pub mod codec;
pub mod conn;
pub mod connect_rate;
pub mod console;
pub mod datagram;
pub mod http;
pub mod ipnet;
pub mod line;
pub mod line_editor;
pub mod outq;
pub mod reactor;
pub mod signals;
pub mod sniff;
pub mod telnet;
pub mod tls;
pub mod transport;
pub mod udp_token;
pub mod wire;
