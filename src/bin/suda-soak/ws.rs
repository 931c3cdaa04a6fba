//! One blocking WebSocket connection at `/ws`, a line per text frame as the
//! web page sees it, each wait bounded, with the ways a browser can leave:
//! a close frame, a dropped connection, a reset.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

/// A WebSocket that reads whole lines (text frames), each wait bounded.
pub struct WsConn {
    ws: WebSocket<TcpStream>,
}

impl WsConn {
    /// Connects and does the handshake, with the `Origin` the page itself
    /// would send: the server refuses any other site's.
    pub fn connect(addr: SocketAddr) -> Result<WsConn, String> {
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
        // A handshake the server never answers must not hang the thread.
        let timeouts = tcp
            .set_nodelay(true)
            .and_then(|()| tcp.set_read_timeout(Some(Duration::from_secs(5))))
            .and_then(|()| tcp.set_write_timeout(Some(Duration::from_secs(5))));
        timeouts.map_err(|e| format!("socket options: {e}"))?;
        let mut request = format!("ws://{addr}/ws")
            .into_client_request()
            .map_err(|e| format!("request: {e}"))?;
        let origin =
            HeaderValue::from_str(&format!("http://{addr}")).map_err(|e| format!("origin: {e}"))?;
        request.headers_mut().insert("Origin", origin);
        let (ws, _) = tungstenite::client(request, tcp).map_err(|e| format!("handshake: {e}"))?;
        Ok(WsConn { ws })
    }

    /// Sends one line as one text frame.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        self.ws
            .send(Message::text(line))
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// The next line, waiting at most `wait`: `Ok(None)` if none came in
    /// time, an error of kind `UnexpectedEof` if the server closed.
    pub fn line(&mut self, wait: Duration) -> io::Result<Option<String>> {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.ws.get_ref().set_read_timeout(Some(left))?;
            match self.ws.read() {
                Ok(Message::Text(text)) => return Ok(Some(text.to_string())),
                // tungstenite queues the pong itself.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Binary(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a binary frame from the server",
                    ))
                }
                Ok(Message::Close(_))
                | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Err(io::ErrorKind::UnexpectedEof.into())
                }
                // A timed-out read keeps what it has of a frame: the next
                // read goes on from there.
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
    }

    /// Leaves as a browser tab does: a close frame, then the server's
    /// answer within `wait`; `Err` says what came instead.
    pub fn close(mut self, wait: Duration) -> Result<(), String> {
        self.ws
            .close(None)
            .map_err(|e| format!("sending the close frame: {e}"))?;
        let until = Instant::now() + wait;
        let mut texts = 0;
        while Instant::now() < until {
            self.ws
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(200)))
                .map_err(|e| format!("socket options: {e}"))?;
            match self.ws.read() {
                Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
                Ok(_) => texts += 1,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(format!("after {texts} more frames: {e}")),
            }
        }
        Err(format!(
            "no answer within {} s ({texts} more frames)",
            wait.as_secs()
        ))
    }

    /// Leaves without a close frame: the socket is dropped (a FIN), as
    /// when a tab is killed.
    pub fn drop_connection(self) {}

    /// Leaves with a TCP reset: SO_LINGER 0, then drop.
    pub fn reset(self) {
        let _ = socket2::SockRef::from(self.ws.get_ref()).set_linger(Some(Duration::ZERO));
    }
}
