//! A request body as it arrives: `Content-Length` bytes or chunked
//! (RFC 9112 §7.1), decoded without holding more than what was fed in.

/// The longest chunk-size line or trailer section accepted.
const LINE_MAX: usize = 4096;

/// Decodes one request body.
#[derive(Debug)]
pub enum BodyReader {
    /// This many bytes are still to come.
    Length(u64),
    /// Chunked, in this state.
    Chunked(Chunked),
}

/// Where a chunked body is.
#[derive(Debug)]
pub enum Chunked {
    /// Reading a chunk-size line (so far).
    Size(Vec<u8>),
    /// This many data bytes of the chunk left.
    Data(u64),
    /// The CR LF after a chunk's data: bytes of it seen.
    DataEnd(u8),
    /// Trailer lines after the last chunk (so far).
    Trailer(Vec<u8>),
    /// The body is over.
    Done,
}

/// The body does not follow the framing it announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl BodyReader {
    /// A chunked body.
    pub fn chunked() -> BodyReader {
        BodyReader::Chunked(Chunked::Size(Vec::new()))
    }

    /// Whether the whole body has been read.
    pub fn done(&self) -> bool {
        matches!(
            self,
            BodyReader::Length(0) | BodyReader::Chunked(Chunked::Done)
        )
    }

    /// Decodes what it can of `input`, appending body bytes to `out`;
    /// returns how many bytes of `input` it used (what is left after the
    /// end belongs to the next request).
    ///
    /// # Errors
    ///
    /// The framing is broken.
    ///
    /// ```
    /// use suda::net::http::body::BodyReader;
    /// let mut body = BodyReader::chunked();
    /// let mut out = Vec::new();
    /// let used = body.feed(b"5\r\nhello\r\n0\r\n\r\nGET", &mut out).unwrap();
    /// assert_eq!((out.as_slice(), used, body.done()), (&b"hello"[..], 15, true));
    /// ```
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Malformed> {
        let mut used = 0;
        while used < input.len() && !self.done() {
            let rest = &input[used..];
            match self {
                BodyReader::Length(left) => {
                    let n = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..n]);
                    *left -= n as u64;
                    used += n;
                }
                BodyReader::Chunked(state) => used += state.feed(rest, out)?,
            }
        }
        Ok(used)
    }
}

impl Chunked {
    fn feed(&mut self, rest: &[u8], out: &mut Vec<u8>) -> Result<usize, Malformed> {
        match self {
            Chunked::Size(line) => {
                let Some(at) = memchr::memchr(b'\n', rest) else {
                    line.extend_from_slice(rest);
                    return if line.len() > LINE_MAX {
                        Err(Malformed)
                    } else {
                        Ok(rest.len())
                    };
                };
                if line.len() + at > LINE_MAX {
                    return Err(Malformed);
                }
                line.extend_from_slice(&rest[..at]);
                let size = chunk_size(line)?;
                *self = if size == 0 {
                    Chunked::Trailer(Vec::new())
                } else {
                    Chunked::Data(size)
                };
                Ok(at + 1)
            }
            Chunked::Data(left) => {
                let n = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                out.extend_from_slice(&rest[..n]);
                *left -= n as u64;
                if *left == 0 {
                    *self = Chunked::DataEnd(0);
                }
                Ok(n)
            }
            Chunked::DataEnd(seen) => {
                let b = rest[0];
                match (*seen, b) {
                    (0, b'\r') => *seen = 1,
                    (_, b'\n') => *self = Chunked::Size(Vec::new()),
                    _ => return Err(Malformed),
                }
                Ok(1)
            }
            Chunked::Trailer(lines) => {
                // Trailers are read and dropped; the body ends at an empty line.
                let mut end = None;
                for (i, &b) in rest.iter().enumerate() {
                    lines.push(b);
                    if lines.len() > LINE_MAX {
                        return Err(Malformed);
                    }
                    if b == b'\n' {
                        let line = lines.strip_suffix(b"\n").unwrap_or(lines);
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        if line.is_empty() {
                            end = Some(i + 1);
                            break;
                        }
                        lines.clear();
                    }
                }
                match end {
                    Some(used) => {
                        *self = Chunked::Done;
                        Ok(used)
                    }
                    None => Ok(rest.len()),
                }
            }
            Chunked::Done => Ok(0),
        }
    }
}

/// The size on a chunk-size line (hex, extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Result<u64, Malformed> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = std::str::from_utf8(digits).map_err(|_| Malformed)?.trim();
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Malformed);
    }
    u64::from_str_radix(digits, 16).map_err(|_| Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_however_they_are_cut() {
        let wire =
            b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
        for cut in 1..wire.len() {
            let mut body = BodyReader::chunked();
            let mut out = Vec::new();
            let a = body.feed(&wire[..cut], &mut out).expect("first part");
            assert_eq!(a, cut);
            let b = body.feed(&wire[cut..], &mut out).expect("second part");
            assert_eq!(a + b, wire.len());
            assert!(body.done());
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
        }
    }

    #[test]
    fn broken_framing_is_refused() {
        let mut out = Vec::new();
        assert!(BodyReader::chunked().feed(b"zz\r\n", &mut out).is_err());
        assert!(BodyReader::chunked().feed(b"2\r\nabX", &mut out).is_err());
        assert!(BodyReader::chunked()
            .feed(b"ffffffffffffffffff\r\n", &mut out)
            .is_err());
        // A chunk-size line past LINE_MAX, even when its end comes along.
        let long = format!("5;{}\r\nhello\r\n0\r\n\r\n", "x".repeat(5000));
        assert!(BodyReader::chunked()
            .feed(long.as_bytes(), &mut out)
            .is_err());
        let mut body = BodyReader::Length(3);
        assert_eq!(body.feed(b"abcdef", &mut out), Ok(3));
        assert!(body.done());
    }
}
