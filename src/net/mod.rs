//! The network side of the server: the reactor and everything that turns
//! sockets into lines for the room and lines back into bytes.
//!
//! - [`reactor`]: the mio event loop, split by phase under `reactor/`.
//! - [`conn`]: one connection: its socket, line codec, charset, output queue.
//! - [`codec`] and [`telnet`]: bytes to lines, telnet negotiation stripped.
//! - [`charset`]: UTF-8 and CP949, detection and transcoding.
//! - [`line`](mod@line) and [`outq`]: an outgoing line encoded once per encoding and
//!   shared by every recipient's queue, written with `writev`.
//! - [`console`]: `--console`, the operator's terminal as a participant.
//! - [`signals`]: SIGINT and SIGTERM through a self-pipe.
//! - [`announce`]: `--announce`, the mDNS / DNS-SD advertisement, on
//!   threads of its own; the reactor only hands it the online count.
//!
//! The client uses the wire pieces too ([`codec`], [`charset`], [`signals`]).

pub mod announce;
pub mod charset;
pub mod codec;
pub mod conn;
pub mod console;
pub mod line;
pub mod outq;
pub mod reactor;
pub mod signals;
pub mod telnet;
