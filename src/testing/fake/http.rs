//! The HTTP/1.1 side of the fake server: reading requests off a connection, writing heads and bodies, and
//! watching for the peer going away while the server waits.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::RecordedRequest;

/// Largest request head (request line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
/// Longest line of a chunked body's framing.
const MAX_LINE: usize = 8 * 1024;

/// Why a request could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The peer closed or the socket failed in the middle of a request: just close.
    Closed,
    /// The request is malformed: answer 400 and close.
    Bad(&'static str),
    /// The head is too large: answer 431 and close.
    HeadTooLarge,
    /// The body is too large: answer 413 (in the format of the request's path) and close.
    BodyTooLarge {
        /// The request line's target, to choose the error format.
        path: String,
    },
}

/// The peer went away (or the socket failed) while the server was writing or waiting.
#[derive(Debug)]
pub(crate) struct Gone;

impl From<io::Error> for Gone {
    fn from(_: io::Error) -> Self {
        Gone
    }
}

/// How a response body is framed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Framing {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// One server-side connection with its read buffer.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(8 * 1024),
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut scratch = [0u8; 16 * 1024];
        let n = self.stream.read(&mut scratch).await?;
        self.buf.extend_from_slice(&scratch[..n]);
        Ok(n)
    }

    /// Makes sure the buffer holds at least `n` bytes.
    async fn fill_to(&mut self, n: usize) -> Result<(), ReadError> {
        while self.buf.len() < n {
            match self.fill().await {
                Ok(0) | Err(_) => return Err(ReadError::Closed),
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// Reads one CRLF-terminated line of chunked framing, without its CRLF.
    async fn read_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(at) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.drain(..at + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(ReadError::Bad("chunk framing line too long"));
            }
            match self.fill().await {
                Ok(0) | Err(_) => return Err(ReadError::Closed),
                Ok(_) => {}
            }
        }
    }

    /// Reads the next request. `Ok(None)` when the peer closed cleanly between requests.
    ///
    /// Returns the request and whether the connection may be kept alive after the response.
    pub(crate) async fn read_request(
        &mut self,
    ) -> Result<Option<(RecordedRequest, bool)>, ReadError> {
        // The head.
        let head_end = loop {
            // Empty lines before a request line are ignored (RFC 9112, section 2.2).
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                if at > MAX_HEAD {
                    return Err(ReadError::HeadTooLarge);
                }
                break at;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::HeadTooLarge);
            }
            match self.fill().await {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) | Err(_) => return Err(ReadError::Closed),
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);

        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ').filter(|p| !p.is_empty());
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ReadError::Bad("malformed request line"));
        };
        let http_1_0 = match version {
            "HTTP/1.1" => false,
            "HTTP/1.0" => true,
            _ => return Err(ReadError::Bad("unsupported HTTP version")),
        };
        if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ReadError::Bad("malformed method"));
        }
        let mut headers = Vec::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                return Err(ReadError::Bad("malformed header line"));
            };
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ReadError::Bad("malformed header name"));
            }
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }

        let values = |name| header_values(&headers, name);
        let has_token = |name, token| has_token(&headers, name, token);
        let chunked = has_token("transfer-encoding", "chunked");
        if !chunked && values("transfer-encoding").next().is_some() {
            return Err(ReadError::Bad("unsupported transfer-encoding"));
        }
        let mut length = None;
        for value in values("content-length").flat_map(|v| v.split(',')) {
            let Ok(n) = value.trim().parse::<usize>() else {
                return Err(ReadError::Bad("malformed content-length"));
            };
            if length.is_some_and(|l| l != n) {
                return Err(ReadError::Bad("conflicting content-length"));
            }
            length = Some(n);
        }
        let keep_alive = if http_1_0 {
            has_token("connection", "keep-alive")
        } else {
            !has_token("connection", "close")
        };
        let too_large = || ReadError::BodyTooLarge {
            path: target.to_owned(),
        };
        if length.is_some_and(|n| n > MAX_BODY) && !chunked {
            return Err(too_large());
        }
        let expects_body = chunked || length.is_some_and(|n| n > 0);
        if expects_body && has_token("expect", "100-continue") {
            self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(|_| ReadError::Closed)?;
        }

        // The body.
        let body = if chunked {
            self.read_chunked_body(too_large).await?
        } else {
            let n = length.unwrap_or(0);
            self.fill_to(n).await?;
            self.buf.drain(..n).collect()
        };

        let request = RecordedRequest {
            method: method.to_owned(),
            path: target.to_owned(),
            headers,
            body,
        };
        Ok(Some((request, keep_alive)))
    }

    /// Decodes a `Transfer-Encoding: chunked` body (extensions and trailers are skipped).
    async fn read_chunked_body(
        &mut self,
        too_large: impl Fn() -> ReadError,
    ) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let Ok(size) = usize::from_str_radix(size, 16) else {
                return Err(ReadError::Bad("malformed chunk size"));
            };
            if size == 0 {
                // Trailers, up to the empty line.
                let mut trailer_bytes = 0;
                loop {
                    let trailer = self.read_line().await?;
                    if trailer.is_empty() {
                        return Ok(body);
                    }
                    trailer_bytes += trailer.len();
                    if trailer_bytes > MAX_HEAD {
                        return Err(ReadError::HeadTooLarge);
                    }
                }
            }
            if size > MAX_BODY || body.len() + size > MAX_BODY {
                return Err(too_large());
            }
            self.fill_to(size + 2).await?;
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(ReadError::Bad("chunk not followed by CRLF"));
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// Writes and flushes `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Writes `bytes` as one HTTP chunk (nothing for an empty slice: that would end the body).
    pub(crate) async fn write_chunk(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut framed = Vec::with_capacity(bytes.len() + 12);
        framed.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
        framed.extend_from_slice(bytes);
        framed.extend_from_slice(b"\r\n");
        self.write_all(&framed).await
    }

    /// Waits `delay` while watching the socket: `Err(Gone)` if the peer closes meanwhile. Bytes the peer
    /// sends meanwhile (a pipelined request) are kept for the next read.
    pub(crate) async fn pause(&mut self, delay: Duration) -> Result<(), Gone> {
        let deadline = Instant::now() + delay;
        loop {
            let mut scratch = [0u8; 4 * 1024];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Err(_elapsed) => return Ok(()),
                Ok(Ok(0) | Err(_)) => return Err(Gone),
                Ok(Ok(n)) => self.keep(&scratch[..n]),
            }
        }
    }

    /// Waits until the peer closes the connection (or the socket fails).
    pub(crate) async fn wait_for_close(&mut self) {
        loop {
            let mut scratch = [0u8; 4 * 1024];
            match self.stream.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(n) => self.keep(&scratch[..n]),
            }
        }
    }

    /// Keeps bytes read while waiting, up to the size of the largest request.
    fn keep(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() <= MAX_HEAD + MAX_BODY {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Closes the connection with a TCP reset (zero linger time), dropping it.
    pub(crate) fn reset(self) {
        // `set_linger` is deprecated because a non-zero linger blocks the thread on drop; a zero linger
        // does not block, it makes the close abortive (RST), which is what this fault is for.
        #[allow(deprecated)]
        let _ = self.stream.set_linger(Some(Duration::ZERO));
        drop(self.stream);
    }

    /// Closes the sending side cleanly (FIN) and drops the connection.
    pub(crate) async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Closes the sending side cleanly, then reads and discards what the peer still sends (for at most
    /// `limit`), so that a refusal sent before the request body was read reaches the client instead of
    /// being overtaken by a reset.
    pub(crate) async fn close_after_refusal(mut self, limit: Duration) {
        let _ = self.stream.shutdown().await;
        let deadline = Instant::now() + limit;
        let mut scratch = [0u8; 16 * 1024];
        while let Ok(Ok(n)) =
            tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await
        {
            if n == 0 {
                break;
            }
        }
    }
}

/// The values of the headers named `name` (lowercase).
fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Whether a comma-separated header named `name` holds `token` (any case).
fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    header_values(headers, name)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Builds a response head. `defaults` come first and are replaced by `extra` headers of the same name;
/// framing headers in `extra` are ignored; CR and LF in names and values become spaces.
pub(crate) fn head(
    status: u16,
    defaults: &[(&str, String)],
    extra: &[(String, String)],
    framing: Framing,
    close: bool,
) -> Vec<u8> {
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    let is_framing = |name: &str| {
        name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
    };
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in defaults {
        if !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            out.push_str(&format!("{name}: {}\r\n", clean(value)));
        }
    }
    for (name, value) in extra {
        let dropped = is_framing(name) || (close && name.eq_ignore_ascii_case("connection"));
        if !dropped {
            out.push_str(&format!("{}: {}\r\n", clean(name), clean(value)));
        }
    }
    match framing {
        Framing::Length(n) => out.push_str(&format!("content-length: {n}\r\n")),
        Framing::Chunked => out.push_str("transfer-encoding: chunked\r\n"),
    }
    if close {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Whether the reply's own headers ask to close the connection.
pub(crate) fn asks_close(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("connection")
            && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
    })
}

/// The reason phrase of a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_merges_defaults_and_extra() {
        let head = head(
            200,
            &[
                ("content-type", "application/json".to_owned()),
                ("x-request-id", "req_1".to_owned()),
            ],
            &[
                ("Content-Type".to_owned(), "text/plain".to_owned()),
                ("content-length".to_owned(), "999".to_owned()),
                ("x-evil".to_owned(), "a\r\nb".to_owned()),
            ],
            Framing::Length(5),
            true,
        );
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("Content-Type: text/plain\r\n"));
        assert!(!head.contains("application/json"));
        assert!(head.contains("x-request-id: req_1\r\n"));
        assert!(head.contains("content-length: 5\r\n"));
        assert!(!head.contains("999"));
        assert!(head.contains("x-evil: a  b\r\n"));
        assert!(head.ends_with("connection: close\r\n\r\n"));
    }

    #[test]
    fn find_finds() {
        assert_eq!(find(b"abc\r\n\r\n", b"\r\n\r\n"), Some(3));
        assert_eq!(find(b"abc", b"\r\n\r\n"), None);
    }
}
