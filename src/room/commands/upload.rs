//! `/upload`: a one-use link to send a file to the room or one person,
//! and the announcement once it has arrived. The room never sees the
//! file: the outbox makes the link ([`Outbox::offer_upload`]) and the
//! reactor says when the upload is whole ([`Room::file_shared`]).

use crate::clock::Now;
use crate::files::names::{clean_name, human_size, shell_quote};
use crate::net::line::Line;
use crate::room::{ConnKey, Outbox, Room};

/// What `/upload` asks the file store for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOffer {
    /// The name to show (clean).
    pub name: String,
    /// The uploader: connection and member uid.
    pub from: (ConnKey, u64),
    /// The one recipient, or the room.
    pub to: Option<(ConnKey, u64)>,
}

/// Why no link was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadRefused {
    /// The server shares no files (`--web off`, or no file store).
    Off,
    /// The OS gave no randomness for a token.
    Unavailable,
}

/// An upload that has arrived whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileShared {
    /// The uploader.
    pub from: (ConnKey, u64),
    /// The one recipient, or the room.
    pub to: Option<(ConnKey, u64)>,
    /// The name shown.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The download link.
    pub link: String,
}

/// Why an upload was refused after it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedUpload {
    /// Over `--max-file-size` (the limit).
    TooLarge(u64),
    /// `--files-quota` is full.
    NoSpace,
}

impl Room {
    pub(in crate::room) fn upload(
        &mut self,
        key: ConnKey,
        to: Option<&str>,
        typed: &str,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        let Some(name) = clean_name(typed) else {
            self.tell(
                key,
                now,
                out,
                format_args!("That file name cannot be used."),
            );
            return;
        };
        let to = match to {
            None => None,
            Some(nick) => match self.find(nick) {
                Some(target) if target == key => {
                    self.tell(key, now, out, format_args!("That is you."));
                    return;
                }
                Some(target) => self.member(target).map(|m| (target, m.uid)),
                None => {
                    self.tell(key, now, out, format_args!("No user named \"{nick}\"."));
                    return;
                }
            },
        };
        let Some(uid) = self.member(key).map(|m| m.uid) else {
            return;
        };
        let offer = UploadOffer {
            name,
            from: (key, uid),
            to,
        };
        match out.offer_upload(offer) {
            Ok(link) => {
                let typed = shell_quote(typed.trim());
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Upload within 10 minutes: curl -T {typed} {link}"),
                );
            }
            Err(UploadRefused::Off) => {
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("File sharing is off on this server."),
                );
            }
            Err(UploadRefused::Unavailable) => {
                self.tell(
                    key,
                    now,
                    out,
                    format_args!("Uploads are not possible right now."),
                );
            }
        }
    }

    /// The nickname on connection `key`, if it has one.
    pub fn nick_of(&self, key: ConnKey) -> Option<String> {
        self.nick(key).map(str::to_string)
    }

    /// Whether the member `(key, uid)` is still here: an upload from
    /// someone who left is never announced.
    pub fn present(&self, (key, uid): (ConnKey, u64)) -> bool {
        self.is(key, uid)
    }

    /// An upload has arrived whole: the recipients get the link, the
    /// uploader a confirmation. `false` (nothing said) if the uploader, or
    /// the one recipient, has left.
    pub fn file_shared(&mut self, shared: &FileShared, now: Now, out: &mut dyn Outbox) -> bool {
        let (key, _) = shared.from;
        if !self.present(shared.from) || shared.to.is_some_and(|to| !self.present(to)) {
            return false;
        }
        let nick = self.nick(key).unwrap_or_default().to_string();
        let size = human_size(shared.size);
        let line = self.line(
            now,
            format_args!(
                "[File from {nick}] {} ({size}) {}",
                shared.name, shared.link
            ),
        );
        match shared.to {
            Some((to, _)) => self.send(to, &line, now, out),
            None => self.announce_file(key, &line, now, out),
        }
        self.tell(
            key,
            now,
            out,
            format_args!("Shared {} ({size}).", shared.name),
        );
        let whom = match shared.to {
            Some((to, _)) => self.nick(to).unwrap_or_default().to_string(),
            None => "the room".to_string(),
        };
        self.log(
            now,
            out,
            format_args!("file {nick} -> {whom}: {} ({size})", shared.name),
        );
        true
    }

    /// The `[File from ...]` line to the room: one place, so that what
    /// the room keeps (its history) can hook it.
    fn announce_file(&mut self, uploader: ConnKey, line: &Line, now: Now, out: &mut dyn Outbox) {
        self.broadcast(Some(uploader), line, now, out);
    }

    /// An upload was refused once it had started (the uploader, if still
    /// here, is told why; the HTTP client got its status).
    pub fn upload_refused(
        &mut self,
        from: (ConnKey, u64),
        name: &str,
        why: RefusedUpload,
        now: Now,
        out: &mut dyn Outbox,
    ) {
        if !self.present(from) {
            return;
        }
        match why {
            RefusedUpload::TooLarge(limit) => self.tell(
                from.0,
                now,
                out,
                format_args!(
                    "Upload refused: {name} is larger than {}.",
                    human_size(limit)
                ),
            ),
            RefusedUpload::NoSpace => self.tell(
                from.0,
                now,
                out,
                format_args!("Upload refused: there is no space left for {name} on this server."),
            ),
        }
    }
}
