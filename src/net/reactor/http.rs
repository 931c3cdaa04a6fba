//! HTTP connections: requests read, routed and answered, keep-alive, and
//! the deadlines that close what stalls (`--http-timeout`).
//!
//! They live in a slab of their own, with tokens from [`HTTP_BASE`] up,
//! registered for reading and writing at once (edge-triggered, so a
//! writable socket costs one event when it changes, not one per turn).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use mio::{Interest, Token};
use slab::Slab;

use super::{Reactor, CLOSE_LINGER};
use crate::clock::Now;
use crate::net::conn::Stream;
use crate::net::http::conn::{Fill, HttpConn, Phase};
use crate::net::http::request::{self, Body, Method, Parsed, Request};
use crate::net::http::response::{Response, Status};
use crate::net::http::router::{self, Ctx, Route, Upgrade};
use crate::net::http::HttpLimits;
use crate::net::transport::Layer;
use crate::net::web::{self, ws::WsStream};
use crate::net::wire::Wire;

/// HTTP connections' tokens are their slab key plus this: above every
/// chat connection's key, below the arrivals' tokens.
pub(super) const HTTP_BASE: usize = 1 << (usize::BITS - 3);

/// Steps (a request read, an answer sent, a piece of a transfer) one HTTP
/// connection gets per turn. Like a chat connection's read budget: a
/// client pipelining requests without end would otherwise keep the
/// reactor to itself, and the room would wait for it. Past it the
/// connection goes on the ready list and the next turn goes on with it.
const STEPS_PER_TURN: usize = 32;

/// Every HTTP connection.
#[derive(Debug)]
pub(super) struct HttpConns {
    /// By key (token minus [`HTTP_BASE`]).
    pub(super) slab: Slab<HttpConn>,
    /// `(deadline, serial, key)`, earliest first.
    deadlines: BTreeSet<(Instant, u64, usize)>,
    /// Finished, removed at the end of the turn.
    dead: Vec<usize>,
    /// `(key, serial)` of connections that used their turn's steps with
    /// more to do (edge-triggered: no new event will say so).
    ready: Vec<(usize, u64)>,
    /// The flags.
    pub(super) limits: HttpLimits,
    /// `--tls-only`.
    tls_only: bool,
}

impl HttpConns {
    /// None yet.
    pub(super) fn new(limits: HttpLimits, tls_only: bool) -> HttpConns {
        HttpConns {
            slab: Slab::new(),
            deadlines: BTreeSet::new(),
            dead: Vec::new(),
            ready: Vec::new(),
            limits,
            tls_only,
        }
    }

    /// The earliest deadline, for the poll's timeout.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _, _)| at)
    }

    pub(super) fn set_deadline(&mut self, key: usize, at: Instant) {
        if let Some(conn) = self.slab.get_mut(key) {
            self.deadlines.remove(&(conn.deadline, conn.serial, key));
            conn.deadline = at;
            self.deadlines.insert((at, conn.serial, key));
        }
    }

    fn finish(&mut self, key: usize) {
        if let Some(conn) = self.slab.get_mut(key) {
            self.deadlines.remove(&(conn.deadline, conn.serial, key));
            if !conn.done {
                conn.done = true;
                self.dead.push(key);
            }
        }
    }

    /// Whether `key` is still the connection `serial` and not finished
    /// (what a list that outlives a turn must check).
    fn is_live(&self, key: usize, serial: u64) -> bool {
        self.slab
            .get(key)
            .is_some_and(|c| c.serial == serial && !c.done)
    }

    /// Whether some connection waits to go on at once.
    pub(super) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    fn live(&self) -> usize {
        self.slab.len() - self.dead.len()
    }
}

/// What a request gets.
enum Action {
    /// An answer on this connection (`HEAD`: the head only).
    Respond(Response, bool),
    /// An upload to the link with this token.
    Upload(String, Request),
    /// A download of the file with this id.
    Download(String, Request),
    /// The route takes the connection over.
    TakeOver(Upgrade, Request),
}

impl Reactor {
    /// Takes an HTTP client in from the arrivals. Past `--max-http`, the
    /// wire comes back, answered 503 and shut, for the arrivals to linger on.
    pub(super) fn start_http(
        &mut self,
        mut wire: Wire,
        peer: SocketAddr,
        layer: Layer,
        first: Vec<u8>,
        now: Now,
    ) -> Option<Wire> {
        if self.http.live() >= self.http.limits.max_conns {
            log::debug!("HTTP from {peer}: too many at once (--max-http)");
            let busy = Response::error(
                Status::Unavailable,
                "Too many downloads and uploads at once. Try again in a moment.\n",
            )
            .with("Retry-After", "5");
            wire.say_and_shut(&busy.encode(false));
            return Some(wire);
        }
        let entry = self.http.slab.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().reregister(
            wire.socket_mut(),
            Token(HTTP_BASE + key),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot watch the HTTP connection from {peer}: {e}");
            return None;
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let deadline = now.mono + self.http.limits.timeout;
        entry.insert(HttpConn::new(serial, peer, wire, layer, first, deadline));
        self.http.deadlines.insert((deadline, serial, key));
        self.step_http(key, false, now);
        None
    }

    /// An HTTP connection's socket is ready.
    pub(super) fn http_event(&mut self, key: usize, now: Now) {
        self.step_http(key, false, now);
    }

    /// Goes on with the connections that used up their last turn.
    pub(super) fn step_ready_http(&mut self, now: Now) {
        for (key, serial) in std::mem::take(&mut self.http.ready) {
            if self.http.is_live(key, serial) {
                self.step_http(key, false, now);
            }
        }
    }

    /// Acts on HTTP connections whose wait is over.
    pub(super) fn expire_http(&mut self, now: Now) {
        while let Some(&(at, serial, key)) = self.http.deadlines.first() {
            if at > now.mono {
                return;
            }
            self.http.deadlines.pop_first();
            if self.http.is_live(key, serial) {
                self.step_http(key, true, now);
            }
        }
    }

    /// Removes finished HTTP connections (their sockets close as they drop).
    pub(super) fn reap_http(&mut self) {
        while let Some(key) = self.http.dead.pop() {
            if self.http.slab.get(key).is_some_and(|c| c.done) {
                self.http.slab.remove(key);
            }
        }
    }

    /// Moves connection `key` on as far as its socket allows; `expired`:
    /// its deadline has passed.
    pub(super) fn step_http(&mut self, key: usize, mut expired: bool, now: Now) {
        let limits = self.http.limits.clone();
        for _ in 0..STEPS_PER_TURN {
            let Some(conn) = self.http.slab.get_mut(key) else {
                return;
            };
            if conn.done {
                return;
            }
            match conn.phase {
                Phase::Head => {
                    match request::parse(&conn.input, limits.max_headers) {
                        Err(status) => {
                            log::debug!("HTTP from {}: {}", conn.peer, status.code());
                            let body = format!("{}\n", status.line().1);
                            self.answer_http(key, Response::error(status, &body), false, now);
                        }
                        Ok(Parsed::Complete(req, used)) => {
                            conn.input.drain(..used);
                            match self.route(key, req) {
                                Action::Respond(response, head_only) => {
                                    self.answer_http(key, response, head_only, now)
                                }
                                Action::Upload(token, req) => {
                                    self.start_upload(key, &token, &req, now)
                                }
                                Action::Download(id, req) => {
                                    self.start_download(key, &id, &req, now)
                                }
                                Action::TakeOver(upgrade, req) => {
                                    return self.upgrade(key, upgrade, req, now)
                                }
                            }
                        }
                        Ok(Parsed::Partial) if expired => {
                            if conn.input.is_empty() {
                                // Idle between requests (or silent): no one to tell.
                                self.close_http(key, "idle");
                                return;
                            }
                            log::debug!("HTTP from {}: request head too slow", conn.peer);
                            let slow = Response::error(
                                Status::RequestTimeout,
                                "The request did not arrive in time.\n",
                            );
                            self.answer_http(key, slow, false, now);
                        }
                        Ok(Parsed::Partial) if conn.input.len() >= limits.max_head => {
                            let big = Response::error(
                                Status::HeadersTooLarge,
                                "The request head is too large.\n",
                            );
                            self.answer_http(key, big, false, now);
                        }
                        Ok(Parsed::Partial) => match conn.fill(limits.max_head) {
                            Ok(Fill::Read) => continue,
                            Ok(Fill::Blocked) => return,
                            Ok(Fill::Eof) | Err(_) => {
                                self.close_http(key, "closed before a whole request");
                                return;
                            }
                        },
                    }
                    expired = false;
                }
                Phase::Answer { close } => match conn.send() {
                    Ok(true) if close => {
                        conn.wire.shut_write();
                        conn.phase = Phase::Closing;
                        self.http.set_deadline(key, now.mono + CLOSE_LINGER);
                        expired = false;
                    }
                    Ok(true) => {
                        conn.phase = Phase::Head;
                        self.http.set_deadline(key, now.mono + limits.timeout);
                        expired = false;
                    }
                    Ok(false) if expired => {
                        self.close_http(key, "did not read its answer");
                        return;
                    }
                    Ok(false) => return,
                    Err(_) => {
                        self.close_http(key, "failed while answered");
                        return;
                    }
                },
                Phase::Closing => {
                    if expired || conn.drain() {
                        self.close_http(key, "answered and closed");
                    }
                    return;
                }
                Phase::Upload(_) => {
                    if !self.step_upload(key, expired, now) {
                        return;
                    }
                    expired = false;
                }
                Phase::Download(_) => {
                    if !self.step_download(key, expired) {
                        return;
                    }
                    expired = false;
                }
            }
        }
        if let Some(conn) = self.http.slab.get(key) {
            if !conn.done {
                self.http.ready.push((key, conn.serial));
            }
        }
    }

    /// Queues `response` and starts sending it.
    pub(super) fn answer_http(
        &mut self,
        key: usize,
        response: Response,
        head_only: bool,
        now: Now,
    ) {
        let timeout = self.http.limits.timeout;
        if let Some(conn) = self.http.slab.get_mut(key) {
            conn.queue(&response.encode(head_only));
            conn.phase = Phase::Answer {
                close: response.close,
            };
        }
        self.http.set_deadline(key, now.mono + timeout);
    }

    /// Decides what request `req` on connection `key` gets.
    fn route(&mut self, key: usize, req: Request) -> Action {
        let Some(conn) = self.http.slab.get_mut(key) else {
            return Action::Respond(Response::error(Status::BadRequest, ""), false);
        };
        let ctx = Ctx {
            layer: conn.layer,
            web: self.http.limits.web,
            tls_only: self.http.tls_only,
        };
        let route = router::route(&req, &ctx);
        log::debug!(
            "HTTP from {}: {:?} {:?} -> {route:?}",
            conn.peer,
            req.method,
            // Quoted and cut: scanners send plenty, and bytes from the
            // network must not paint the operator's terminal.
            req.target.chars().take(120).collect::<String>()
        );
        let head_only = req.method == Method::Head;
        let mut response = match route {
            Route::Off => Response::error(Status::Forbidden, router::OFF_BODY),
            Route::RedirectHttps => {
                let here = conn
                    .wire
                    .socket()
                    .local_addr()
                    .map_or_else(|_| "localhost".to_string(), |a| a.to_string());
                router::redirect_to_https(&req, &here)
            }
            Route::NotFound => Response::text(Status::NotFound, "Not found.\n"),
            Route::MethodNotAllowed(allow) => {
                Response::text(Status::MethodNotAllowed, "Method not allowed.\n")
                    .with("Allow", allow)
            }
            Route::Page(asset) => web::page(asset, &req),
            Route::Upgrade(Upgrade::WebSocket) => {
                let tls = conn.layer == Layer::Tls;
                match web::check_upgrade(&req, tls, &self.arrivals.setup.web) {
                    Ok(_) => return Action::TakeOver(Upgrade::WebSocket, req),
                    Err(refusal) => refusal,
                }
            }
            Route::Upload(token) => return Action::Upload(token, req),
            Route::Download(id) => return Action::Download(id, req),
        };
        // A body nobody reads would be taken for the next request.
        if !req.keep_alive || req.body != Body::None {
            response.close = true;
        }
        Action::Respond(response, head_only)
    }

    /// Hands connection `key` to the route that takes it over.
    fn upgrade(&mut self, key: usize, upgrade: Upgrade, req: Request, now: Now) {
        self.http.finish(key);
        // Out of the HTTP slab now, and off the list to reap (which counts
        // against the slab's length).
        let Some(conn) = self.http.slab.try_remove(key) else {
            return;
        };
        self.http.dead.retain(|&k| k != key);
        let peer = conn.peer;
        let tls = conn.layer == Layer::Tls;
        match upgrade {
            Upgrade::WebSocket => {
                let setup = &self.arrivals.setup.web;
                // Checked when routed; the key is read again for the answer.
                let Ok(accept) = web::check_upgrade(&req, tls, setup) else {
                    return;
                };
                let limits = setup.limits;
                let (wire, leftover) = conn.take_over();
                let inner = match wire {
                    Wire::Plain(tcp) => Stream::Tcp(tcp),
                    Wire::Tls(tls) => Stream::Tls(tls),
                };
                let ws = WsStream::new(inner, web::switching(&accept), leftover, limits);
                self.seat(Stream::Ws(Box::new(ws)), peer, "WebSocket", false, now);
            }
        }
    }

    /// Drops connection `key`; closing its socket takes it out of the poller.
    pub(super) fn close_http(&mut self, key: usize, why: &str) {
        if let Some(conn) = self.http.slab.get(key) {
            log::debug!("HTTP from {}: {why}", conn.peer);
        }
        self.drop_transfer(key);
        self.http.finish(key);
    }
}
