//! Files over HTTP: `/upload` links, `PUT /u/<token>` streamed to the
//! file thread with back-pressure, `GET /f/<id>/<name>` read ahead in
//! bounded chunks, expiry. Every disk access is the file thread's
//! ([`crate::files::io`]); this file only moves bytes between sockets and
//! that thread, and tells the room when an upload is whole.
//!
//! Memory per transfer is bounded: an upload has at most
//! [`TRANSFER_WINDOW`] bytes with the file thread (past it the socket is
//! not read: the client's TCP window closes), a download at most half of
//! it queued plus one [`CHUNK`] being read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::outbox::Io;
use super::Reactor;
use crate::clock::Now;
use crate::files::ids::random_id;
use crate::files::index::{FileChange, FileEntry, Index, Offer};
use crate::files::io::{Done, FileIo, Job};
use crate::files::names::{disposition, human_size, url_segment};
use crate::files::{FilesConfig, CHUNK, OFFER_TTL, TRANSFER_WINDOW};
use crate::net::conn::Stream;
use crate::net::http::body::BodyReader;
use crate::net::http::conn::{Download, Phase, Upload};
use crate::net::http::request::{Body, Method, Request};
use crate::net::http::response::{Response, Status, CONTINUE};
use crate::room::commands::{FileShared, RefusedUpload, UploadOffer, UploadRefused};

/// The file store as the reactor holds it.
#[derive(Debug)]
pub(super) struct FileStore {
    /// The flags.
    pub(super) cfg: FilesConfig,
    /// Files, quota, offers.
    pub(super) index: Index,
    /// The file thread.
    pub(super) io: FileIo,
    /// The next transfer number.
    next: u64,
    /// Transfer number to HTTP connection (key, serial).
    transfers: HashMap<u64, (usize, u64)>,
    /// Uploads under way.
    uploads: usize,
    /// The listening address: the link for the console's `/upload`.
    listen: SocketAddr,
}

impl FileStore {
    /// The store over `index`, with its thread.
    pub(super) fn new(cfg: FilesConfig, index: Index, io: FileIo, listen: SocketAddr) -> FileStore {
        FileStore {
            cfg,
            index,
            io,
            next: 1,
            transfers: HashMap::new(),
            uploads: 0,
            listen,
        }
    }
}

/// Whether `stream` came over TLS, and the address it reached us at: what
/// its upload link should name, so that the link works from where that
/// person is. A WebSocket's is its socket's (never its `Host` header,
/// which the client writes and would let a link point elsewhere).
fn reached(stream: &Stream) -> (bool, Option<SocketAddr>) {
    match stream {
        Stream::Tcp(s) => (false, s.local_addr().ok()),
        Stream::Tls(s) => (true, s.socket().local_addr().ok()),
        Stream::Ws(ws) => reached(ws.inner()),
        Stream::Udp { socket, peer, .. } => {
            let here = socket.local_addr().ok();
            // Bound to 0.0.0.0 (or ::): the address the kernel would send
            // to this peer from, found by connecting a spare UDP socket
            // (no packet is sent).
            let routed = here.filter(|a| a.ip().is_unspecified()).and_then(|a| {
                let any = SocketAddr::new(a.ip(), 0);
                let probe = std::net::UdpSocket::bind(any).ok()?;
                probe.connect(peer).ok()?;
                probe
                    .local_addr()
                    .ok()
                    .map(|l| SocketAddr::new(l.ip(), a.port()))
            });
            (false, routed.or(here))
        }
        Stream::Local(_) => (false, None),
    }
}

/// Unix milliseconds of `now`.
fn ms(now: Now) -> i64 {
    now.wall.as_millisecond()
}

impl Io {
    /// [`Outbox::offer_upload`](crate::room::Outbox::offer_upload): a token,
    /// under the URL the uploader reached (or `--public-url`).
    pub(super) fn make_offer(&mut self, offer: UploadOffer) -> Result<String, UploadRefused> {
        let Some(files) = &mut self.files else {
            return Err(UploadRefused::Off);
        };
        let url = match &files.cfg.public_url {
            Some(url) => url.clone(),
            None => {
                let (tls, addr) = self
                    .conns
                    .get(offer.from.0)
                    .map_or((false, None), |c| reached(&c.stream));
                let addr = addr.unwrap_or(files.listen);
                format!("{}://{addr}", if tls { "https" } else { "http" })
            }
        };
        let token = random_id().ok_or(UploadRefused::Unavailable)?;
        let link = format!("{url}/u/{token}");
        let until = self.now + OFFER_TTL;
        // Offers are small; a flood of /upload is bounded by the room's rate.
        let max = 4 * files.cfg.max_uploads.max(64);
        files.index.offer(
            token,
            Offer {
                name: offer.name,
                from: offer.from,
                to: offer.to,
                url,
                until,
            },
            max,
            self.now,
        );
        Ok(link)
    }
}

impl Reactor {
    /// `PUT /u/<token>`: checks the offer and the limits, then reads the body.
    pub(super) fn start_upload(&mut self, key: usize, token: &str, req: &Request, now: Now) {
        let Some(files) = &mut self.io.files else {
            // The body is not read: closing keeps it from being a request.
            return self.answer_http(key, not_found().closing(true), false, now);
        };
        // Before the link is used up: a client told to add a length can
        // try again with the same link.
        let body = match req.body {
            Body::Length(n) => BodyReader::Length(n),
            Body::Chunked => BodyReader::chunked(),
            Body::None if req.header("content-length").is_some() => BodyReader::Length(0),
            Body::None => {
                let refused = Response::error(
                    Status::LengthRequired,
                    "An upload needs Content-Length or chunked encoding.\n",
                );
                return self.answer_http(key, refused, false, now);
            }
        };
        let Some(offer) = files.index.take_offer(token, now.mono) else {
            let gone = Response::error(
                Status::NotFound,
                "This upload link is unknown, used or expired. Type /upload again.\n",
            );
            return self.answer_http(key, gone, false, now);
        };
        let announced = match req.body {
            Body::Length(n) => n,
            _ => 0,
        };
        if announced > files.cfg.max_size {
            let limit = files.cfg.max_size;
            self.room.upload_refused(
                offer.from,
                &offer.name,
                RefusedUpload::TooLarge(limit),
                now,
                &mut self.io,
            );
            return self.answer_http(key, too_large(limit), false, now);
        }
        if files.uploads >= files.cfg.max_uploads {
            // The link stays good: the client may try again.
            let max = 4 * files.cfg.max_uploads.max(64);
            files.index.offer(token.to_string(), offer, max, now.mono);
            let busy = Response::error(
                Status::Unavailable,
                "Too many uploads at once. Try again in a moment.\n",
            )
            .with("Retry-After", "5");
            return self.answer_http(key, busy, false, now);
        }
        if !files.index.reserve(announced, files.cfg.quota) {
            self.room.upload_refused(
                offer.from,
                &offer.name,
                RefusedUpload::NoSpace,
                now,
                &mut self.io,
            );
            return self.answer_http(key, no_space(), false, now);
        }
        let n = files.next;
        files.next += 1;
        files.uploads += 1;
        files.io.send(Job::Create(n));
        let Some(conn) = self.http.slab.get_mut(key) else {
            return;
        };
        files.transfers.insert(n, (key, conn.serial));
        log::debug!(
            "HTTP from {}: upload {n} started ({announced} bytes announced)",
            conn.peer
        );
        if req.expects_continue {
            conn.queue(CONTINUE);
        }
        conn.phase = Phase::Upload(Box::new(Upload {
            n,
            body,
            offer,
            received: 0,
            reserved: announced,
            in_flight: 0,
            committing: false,
            id: None,
            keep_alive: req.keep_alive,
        }));
        let timeout = self.http.limits.timeout;
        self.http.set_deadline(key, now.mono + timeout);
    }

    /// Moves an upload on: body bytes to the file thread while the window
    /// allows. `true` if the connection left the upload phase.
    pub(super) fn step_upload(&mut self, key: usize, expired: bool, now: Now) -> bool {
        let timeout = self.http.limits.timeout;
        loop {
            let Some(files) = &mut self.io.files else {
                return false;
            };
            let Some(conn) = self.http.slab.get_mut(key) else {
                return false;
            };
            if conn.unsent() > 0 && conn.send().is_err() {
                self.close_http(key, "failed during an upload");
                return false;
            }
            let Phase::Upload(up) = &mut conn.phase else {
                return true;
            };
            if up.committing {
                return false;
            }
            if expired {
                let slow = Response::error(Status::RequestTimeout, "The upload stalled.\n");
                self.end_upload(key, Some(slow), now);
                return true;
            }
            if up.body.done() {
                if up.in_flight > 0 {
                    return false;
                }
                let Some(id) = random_id() else {
                    let failed = Response::error(Status::InternalError, "No id could be made.\n");
                    self.end_upload(key, Some(failed), now);
                    return true;
                };
                files.io.send(Job::Commit(up.n, id.clone()));
                up.id = Some(id);
                up.committing = true;
                return false;
            }
            if up.in_flight >= TRANSFER_WINDOW {
                return false; // back-pressure: the disk catches up first
            }
            if conn.input.is_empty() {
                match conn.fill(CHUNK) {
                    Ok(crate::net::http::conn::Fill::Read) => continue,
                    Ok(crate::net::http::conn::Fill::Blocked) => return false,
                    Ok(crate::net::http::conn::Fill::Eof) | Err(_) => {
                        self.end_upload(key, None, now);
                        return false;
                    }
                }
            }
            let take = conn.input.len().min(CHUNK);
            let mut chunk = Vec::with_capacity(take);
            let Ok(used) = up.body.feed(&conn.input[..take], &mut chunk) else {
                let bad = Response::error(
                    Status::BadRequest,
                    "The body does not follow its chunked framing.\n",
                );
                self.end_upload(key, Some(bad), now);
                return true;
            };
            conn.input.drain(..used);
            if chunk.is_empty() {
                continue;
            }
            up.received += chunk.len() as u64;
            if up.received > files.cfg.max_size {
                let limit = files.cfg.max_size;
                let (from, name) = (up.offer.from, up.offer.name.clone());
                self.room.upload_refused(
                    from,
                    &name,
                    RefusedUpload::TooLarge(limit),
                    now,
                    &mut self.io,
                );
                self.end_upload(key, Some(too_large(limit)), now);
                return true;
            }
            if up.received > up.reserved {
                // Chunked (or a body longer than announced): promise more.
                let more = up.received - up.reserved;
                if !files.index.reserve(more, files.cfg.quota) {
                    let (from, name) = (up.offer.from, up.offer.name.clone());
                    self.room.upload_refused(
                        from,
                        &name,
                        RefusedUpload::NoSpace,
                        now,
                        &mut self.io,
                    );
                    self.end_upload(key, Some(no_space()), now);
                    return true;
                }
                up.reserved += more;
            }
            up.in_flight += chunk.len();
            files.io.send(Job::Write(up.n, chunk));
            self.http.set_deadline(key, now.mono + timeout);
        }
    }

    /// Ends an upload that will not be kept: the part file goes, the
    /// promise is given back, nothing is announced. With `answer`, the
    /// client is told and the connection closes after it; without, it is
    /// closed now.
    pub(super) fn end_upload(&mut self, key: usize, answer: Option<Response>, now: Now) {
        if let Some(conn) = self.http.slab.get_mut(key) {
            if let Phase::Upload(up) = &conn.phase {
                if let Some(files) = &mut self.io.files {
                    files.io.send(Job::Abort(up.n));
                    files.index.release(up.reserved);
                    files.uploads = files.uploads.saturating_sub(1);
                    files.transfers.remove(&up.n);
                }
                log::debug!("HTTP from {}: upload {} not kept", conn.peer, up.n);
                conn.phase = Phase::Head;
            }
        }
        match answer {
            Some(response) => self.answer_http(key, response, false, now),
            None => self.close_http(key, "left during an upload"),
        }
    }

    /// `GET`/`HEAD /f/<id>/<name>`: the head (200, 206 or 416), then the
    /// bytes, read ahead by the file thread.
    pub(super) fn start_download(&mut self, key: usize, id: &str, req: &Request, now: Now) {
        // A body on a download is never read, so it must not be taken for
        // the next request: the connection closes after the answer.
        let close = !req.keep_alive || req.body != Body::None;
        let Some(files) = &mut self.io.files else {
            return self.answer_http(key, not_found().closing(close), false, now);
        };
        let Some(entry) = files.index.get(id, ms(now)) else {
            return self.answer_http(key, not_found().closing(close), false, now);
        };
        let size = entry.size;
        let mut response = Response {
            status: Status::Ok,
            headers: vec![
                ("Content-Type", "application/octet-stream".into()),
                ("Content-Disposition", disposition(&entry.name)),
                ("Accept-Ranges", "bytes".into()),
                ("Cache-Control", "private, no-transform".into()),
            ],
            body: Vec::new(),
            streamed: Some(size),
            close,
        };
        let (start, end) = match req.header_str("range").map(|r| parse_range(r, size)) {
            None | Some(Range::Ignore) => (0, size),
            Some(Range::Part(a, b)) => {
                response.status = Status::PartialContent;
                response.streamed = Some(b - a);
                response
                    .headers
                    .push(("Content-Range", format!("bytes {a}-{}/{size}", b - 1)));
                (a, b)
            }
            Some(Range::Unsatisfiable) => {
                let refused = Response::text(Status::RangeNotSatisfiable, "")
                    .with("Content-Range", format!("bytes */{size}"))
                    .closing(close);
                return self.answer_http(key, refused, false, now);
            }
        };
        if req.method == Method::Head || start == end {
            return self.answer_http(key, response, req.method == Method::Head, now);
        }
        let n = files.next;
        files.next += 1;
        let id = entry.id.clone();
        let Some(conn) = self.http.slab.get_mut(key) else {
            return;
        };
        files.transfers.insert(n, (key, conn.serial));
        conn.queue(&response.encode(false));
        conn.phase = Phase::Download(Box::new(Download {
            n,
            id,
            next: start,
            end,
            reading: false,
            close: response.close,
        }));
        let timeout = self.http.limits.timeout;
        self.http.set_deadline(key, now.mono + timeout);
    }

    /// Moves a download on: sends what is queued, asks for the next chunk
    /// when little is left. `true` if the connection left the download phase.
    pub(super) fn step_download(&mut self, key: usize, expired: bool) -> bool {
        let Some(conn) = self.http.slab.get_mut(key) else {
            return false;
        };
        if expired {
            self.close_http(key, "did not read its download");
            return false;
        }
        let before = conn.unsent();
        if conn.send().is_err() {
            self.close_http(key, "failed during a download");
            return false;
        }
        let unsent = conn.unsent();
        if unsent < before {
            // The client reads: a slow reader is not a stalled one.
            let at = self.io.now + self.http.limits.timeout;
            self.http.set_deadline(key, at);
        }
        let Some(files) = &mut self.io.files else {
            return false;
        };
        let Some(conn) = self.http.slab.get_mut(key) else {
            return false;
        };
        let Phase::Download(d) = &mut conn.phase else {
            return true;
        };
        if d.next >= d.end && !d.reading {
            if unsent > 0 {
                return false;
            }
            files.transfers.remove(&d.n);
            conn.phase = Phase::Answer { close: d.close };
            return true;
        }
        if !d.reading && d.next < d.end && unsent < TRANSFER_WINDOW / 2 {
            let len = usize::try_from(d.end - d.next).map_or(CHUNK, |left| left.min(CHUNK));
            files.io.send(Job::Read {
                download: d.n,
                id: d.id.clone(),
                offset: d.next,
                len,
            });
            d.reading = true;
        }
        false
    }

    /// What the file thread has done, back to the transfers waiting for it.
    pub(super) fn take_file_io(&mut self, now: Now) {
        let timeout = self.http.limits.timeout;
        loop {
            let Some(files) = &mut self.io.files else {
                return;
            };
            let Some(done) = files.io.try_done() else {
                return;
            };
            let n = match &done {
                Done::Written { upload, .. } | Done::Committed(upload, _) => *upload,
                Done::Chunk(download, _) => *download,
            };
            let Some(&(key, serial)) = files.transfers.get(&n) else {
                continue; // its connection is gone
            };
            let Some(conn) = self.http.slab.get_mut(key).filter(|c| c.serial == serial) else {
                files.transfers.remove(&n);
                continue;
            };
            match (done, &mut conn.phase) {
                (Done::Written { n: bytes, ok, .. }, Phase::Upload(up)) => {
                    up.in_flight = up.in_flight.saturating_sub(bytes);
                    if !ok {
                        let failed = Response::error(
                            Status::InternalError,
                            "The server could not write the file.\n",
                        );
                        self.end_upload(key, Some(failed), now);
                    }
                }
                (Done::Committed(_, ok), Phase::Upload(_)) => {
                    self.upload_kept(key, ok, now);
                }
                (Done::Chunk(_, Ok(bytes)), Phase::Download(d)) if !bytes.is_empty() => {
                    d.reading = false;
                    d.next += bytes.len() as u64;
                    conn.queue(&bytes);
                    self.http.set_deadline(key, now.mono + timeout);
                }
                (Done::Chunk(..), Phase::Download(_)) => {
                    // The file vanished or shrank under us: the length
                    // already sent cannot be met, so the client must see
                    // a cut connection, not a short file.
                    files.transfers.remove(&n);
                    self.close_http(key, "its file could not be read");
                    continue;
                }
                _ => continue,
            }
            self.step_http(key, false, now);
        }
    }

    /// The upload on connection `key` is on disk (`ok`) or not: index it,
    /// announce it, answer.
    fn upload_kept(&mut self, key: usize, ok: bool, now: Now) {
        let Some(files) = &mut self.io.files else {
            return;
        };
        let Some(conn) = self.http.slab.get_mut(key) else {
            return;
        };
        let Phase::Upload(up) = std::mem::replace(&mut conn.phase, Phase::Head) else {
            return;
        };
        files.uploads = files.uploads.saturating_sub(1);
        files.transfers.remove(&up.n);
        files.index.release(up.reserved);
        let close = !up.keep_alive;
        let (true, Some(id)) = (ok, up.id.clone()) else {
            let failed = Response::error(
                Status::InternalError,
                "The server could not keep the file.\n",
            );
            return self.answer_http(key, failed, false, now);
        };
        let entry = FileEntry {
            id: id.clone(),
            name: up.offer.name.clone(),
            size: up.received,
            uploader: self.room.nick_of(up.offer.from.0).unwrap_or_default(),
            created: ms(now),
            expires: ms(now)
                .saturating_add(i64::try_from(files.cfg.ttl.as_millis()).unwrap_or(i64::MAX)),
        };
        let link = format!("{}/f/{id}/{}", up.offer.url, url_segment(&entry.name));
        let shared = FileShared {
            from: up.offer.from,
            to: up.offer.to,
            name: entry.name.clone(),
            size: entry.size,
            link: link.clone(),
        };
        files.index.insert(entry.clone());
        self.io.disk.persist_file(FileChange::Added(entry));
        if self.room.file_shared(&shared, now, &mut self.io) {
            let size = human_size(shared.size);
            let mut answer = Response::text(
                Status::Created,
                &format!("Shared {} ({size}): {link}\n", shared.name),
            )
            .with("Location", link);
            answer.close = close;
            self.answer_http(key, answer, false, now);
        } else {
            // The uploader (or the one recipient) left: nothing is announced
            // and nothing is kept.
            self.forget_file(&id);
            let gone = Response::error(
                Status::Gone,
                "Nobody is left to share this file with; it was not kept.\n",
            );
            self.answer_http(key, gone, false, now);
        }
    }

    /// Deletes file `id` from the index, the store and the disk.
    fn forget_file(&mut self, id: &str) {
        let Some(files) = &mut self.io.files else {
            return;
        };
        if files.index.remove(id).is_some() {
            files.io.send(Job::Delete(id.to_string()));
            self.io
                .disk
                .persist_file(FileChange::Removed(id.to_string()));
        }
    }

    /// Deletes the files whose `--file-ttl` is over.
    pub(super) fn expire_files(&mut self, now: Now) {
        let Some(files) = &mut self.io.files else {
            return;
        };
        if files.index.next_expiry().is_none_or(|at| at > ms(now)) {
            return;
        }
        for entry in files.index.expire(ms(now)) {
            log::debug!("file {} expired", entry.id);
            files.io.send(Job::Delete(entry.id.clone()));
            self.io.disk.persist_file(FileChange::Removed(entry.id));
        }
    }

    /// When the next file expires, for the poll's timeout.
    pub(super) fn files_deadline(&self, now: Instant) -> Option<Instant> {
        let files = self.io.files.as_ref()?;
        let at = files.index.next_expiry()?;
        let left = at.saturating_sub(jiff::Timestamp::now().as_millisecond());
        Some(now + Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }

    /// A transfer's connection is being dropped: its upload leaves nothing.
    pub(super) fn drop_transfer(&mut self, key: usize) {
        let Some(conn) = self.http.slab.get_mut(key) else {
            return;
        };
        let Some(files) = &mut self.io.files else {
            return;
        };
        match std::mem::replace(&mut conn.phase, Phase::Closing) {
            Phase::Upload(up) => {
                if up.committing {
                    // The rename may already be done: delete whatever it made.
                    if let Some(id) = &up.id {
                        files.io.send(Job::Delete(id.clone()));
                    }
                }
                files.io.send(Job::Abort(up.n));
                files.index.release(up.reserved);
                files.uploads = files.uploads.saturating_sub(1);
                files.transfers.remove(&up.n);
            }
            Phase::Download(d) => {
                files.transfers.remove(&d.n);
            }
            other => conn.phase = other,
        }
    }
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Nothing we serve as a range (several ranges, other units): the whole file.
    Ignore,
    /// Bytes `start..end`.
    Part(u64, u64),
    /// Outside the file: 416.
    Unsatisfiable,
}

/// Parses one `bytes=` range against a file of `size` bytes.
fn parse_range(header: &str, size: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    // Digits past u64 are still a number: the largest there is (so a
    // start past any file is 416, an end past it means the end).
    let num = |t: &str| -> Option<u64> {
        let t = t.trim();
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().unwrap_or(u64::MAX))
    };
    let (a, b) = (a.trim(), b.trim());
    match (num(a), num(b)) {
        // `a-`: from a to the end.
        (Some(start), None) if b.is_empty() => {
            if start < size {
                Range::Part(start, size)
            } else {
                Range::Unsatisfiable
            }
        }
        // `a-b`, inclusive; `b` past the end means the end.
        (Some(start), Some(last)) if start <= last => {
            if start < size {
                Range::Part(start, last.saturating_add(1).min(size))
            } else {
                Range::Unsatisfiable
            }
        }
        // `-n`: the last n bytes.
        (None, Some(suffix)) if a.is_empty() => {
            if suffix > 0 && size > 0 {
                Range::Part(size - suffix.min(size), size)
            } else {
                Range::Unsatisfiable
            }
        }
        // Anything else is not a valid range: it is ignored (RFC 9110 14.2).
        _ => Range::Ignore,
    }
}

fn not_found() -> Response {
    Response::text(Status::NotFound, "No such file (or it has expired).\n")
}

fn too_large(limit: u64) -> Response {
    Response::error(
        Status::PayloadTooLarge,
        &format!("The file is larger than {}.\n", human_size(limit)),
    )
}

fn no_space() -> Response {
    Response::error(
        Status::InsufficientStorage,
        "The server's space for files is full.\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Part(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), Range::Part(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), Range::Part(90, 100));
        assert_eq!(parse_range("bytes=-1000", 100), Range::Part(0, 100));
        assert_eq!(parse_range("bytes=50-1000", 100), Range::Part(50, 100));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=200-300", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Ignore);
        assert_eq!(parse_range("items=0-1", 100), Range::Ignore);
        assert_eq!(parse_range("bytes=9-3", 100), Range::Ignore);
        // Past u64: still numbers (the review found them ignored).
        assert_eq!(
            parse_range("bytes=99999999999999999999-", 100),
            Range::Unsatisfiable
        );
        assert_eq!(
            parse_range("bytes=0-99999999999999999999999", 100),
            Range::Part(0, 100)
        );
    }
}
