//! An incremental decoder for server-sent events (the WHATWG `text/event-stream` format), with a bound on
//! the size of one event.
//!
//! Both providers stream over SSE: OpenAI as `data:` lines ending in `data: [DONE]`, Anthropic as named
//! `event:` / `data:` pairs. The decoder takes bytes in whatever pieces the network delivers them and
//! emits whole events; how a piece is split never changes the events (a property test checks this).

use crate::{Error, Result};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; empty when the server sent none (the spec's default type is `message`).
    pub event: String,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
    /// The `id:` field, when sent.
    pub id: Option<String>,
}

/// Turns bytes into [`SseEvent`]s.
///
/// ```
/// use twelve_factor_ai::llm::sse::SseDecoder;
///
/// let mut d = SseDecoder::new(1 << 20);
/// let mut events = Vec::new();
/// d.push(b"event: ping\nda", &mut events)?;
/// d.push(b"ta: {}\n\n: a comment\n\ndata: [DONE]\n\n", &mut events)?;
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0].event, "ping");
/// assert_eq!(events[1].data, "[DONE]");
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug)]
pub struct SseDecoder {
    max_event_bytes: usize,
    /// Bytes of the line being read (not yet terminated).
    line: Vec<u8>,
    /// The previous piece ended in `\r`: a `\n` at the start of the next piece belongs to it.
    after_cr: bool,
    /// At the very start: an optional UTF-8 byte-order mark is skipped.
    at_start: bool,
    event: String,
    data: String,
    has_data: bool,
    id: Option<String>,
    /// Bytes taken by the event being built, to enforce `max_event_bytes`.
    event_bytes: usize,
}

impl SseDecoder {
    /// A decoder that refuses any single event (or line) larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        SseDecoder {
            max_event_bytes,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            event: String::new(),
            data: String::new(),
            has_data: false,
            id: None,
            event_bytes: 0,
        }
    }

    /// Feeds a piece of the stream; complete events are appended to `out`.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when an event grows past the limit or a line is not
    /// UTF-8. The decoder must not be used after an error.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<()> {
        if self.at_start {
            // Hold the first bytes until we know whether they are a byte-order mark, which is skipped.
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let take = (BOM.len() - self.line.len()).min(bytes.len());
            self.line.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.line.len() < BOM.len() && BOM.starts_with(&self.line) {
                return Ok(());
            }
            self.at_start = false;
            let held = std::mem::take(&mut self.line);
            let held = held.strip_prefix(BOM).unwrap_or(&held);
            self.push_lines(held, out)?;
        }
        self.push_lines(bytes, out)
    }

    fn push_lines(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        while !bytes.is_empty() {
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.grow(end)?;
                    self.line.extend_from_slice(&bytes[..end]);
                    let is_cr = bytes[end] == b'\r';
                    bytes = &bytes[end + 1..];
                    if is_cr {
                        if bytes.first() == Some(&b'\n') {
                            bytes = &bytes[1..];
                        } else if bytes.is_empty() {
                            self.after_cr = true;
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line, out)?;
                    self.line = line;
                    self.line.clear();
                }
                None => {
                    self.grow(bytes.len())?;
                    self.line.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
        }
        Ok(())
    }

    fn grow(&mut self, n: usize) -> Result<()> {
        self.event_bytes = self.event_bytes.saturating_add(n);
        if self.event_bytes > self.max_event_bytes {
            return Err(Error::decode(format!(
                "a server-sent event exceeds the limit of {} bytes (max_event_bytes)",
                self.max_event_bytes
            )));
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<()> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // a comment, such as a keep-alive
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| Error::decode("a server-sent event line is not valid UTF-8"))?;
        let (field, value) = match line.find(':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                self.event.clear();
                self.event.push_str(value);
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {} // `retry` and unknown fields are ignored, as the spec says
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: std::mem::take(&mut self.event),
                data: std::mem::take(&mut self.data),
                id: self.id.clone(),
            });
        } else {
            self.event.clear();
        }
        self.has_data = false;
        self.event_bytes = 0;
    }

    /// Whether bytes of an unfinished event are held (the stream stopped mid-event).
    pub fn has_partial_event(&self) -> bool {
        self.has_data || !self.line.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn decode_all(input: &[u8]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        d.push(input, &mut out).unwrap();
        out
    }

    #[test]
    fn fields_comments_and_line_endings() {
        let events = decode_all(
            b"\xEF\xBB\xBF: keep-alive\r\nevent: a\r\ndata: 1\r\ndata:2\r\nid: 7\r\n\r\ndata\n\nretry: 5\nevent: b\ndata: x\r\r",
        );
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "a".into(),
                    data: "1\n2".into(),
                    id: Some("7".into())
                },
                SseEvent {
                    event: String::new(),
                    data: String::new(),
                    id: Some("7".into())
                },
                SseEvent {
                    event: "b".into(),
                    data: "x".into(),
                    id: Some("7".into())
                },
            ]
        );
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        assert!(decode_all(b"event: lonely\n\n").is_empty());
    }

    #[test]
    fn split_crlf_is_one_line_end() {
        let mut d = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        d.push(b"data: a\r", &mut out).unwrap();
        d.push(b"\n\r", &mut out).unwrap();
        d.push(b"\n", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "a");
    }

    #[test]
    fn oversized_events_and_lines_are_refused() {
        let mut d = SseDecoder::new(16);
        let mut out = Vec::new();
        let err = d.push(b"data: 0123456789abcdef\n\n", &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        // A line that never ends is refused too, before it eats memory.
        let mut d = SseDecoder::new(16);
        d.push(b"data: 0123", &mut out).unwrap();
        assert!(d.push(&[b'x'; 64], &mut out).is_err());
        // Many small events are fine: the bound is per event.
        let mut d = SseDecoder::new(16);
        for _ in 0..100 {
            d.push(b"data: 12345\n\n", &mut out).unwrap();
        }
    }

    #[test]
    fn partial_event_is_reported() {
        let mut d = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        d.push(b"data: {\"half\":", &mut out).unwrap();
        assert!(d.has_partial_event());
        d.push(b"1}\n\n", &mut out).unwrap();
        assert!(!d.has_partial_event());
    }

    #[test]
    fn invalid_utf8_is_a_decode_error() {
        let mut d = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        assert_eq!(
            d.push(b"data: \xff\xfe\n\n", &mut out).unwrap_err().kind(),
            ErrorKind::Decode
        );
    }
}
