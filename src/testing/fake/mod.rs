//! Fake LLM provider servers: real HTTP/1.1 servers on `127.0.0.1` that speak the OpenAI Chat Completions /
//! Embeddings and Anthropic Messages wire formats (JSON and server-sent events, error bodies included) and
//! inject faults on demand.
//!
//! A test starts a [`FakeServer`], points the client under test at [`FakeServer::openai_base_url`] or
//! [`FakeServer::anthropic_base_url`], queues [`FakeReply`]s with [`FakeServer::push`] (built in one line with
//! the helpers in [`openai`] and [`anthropic`]) and afterwards reads what the client sent with
//! [`FakeServer::requests`].
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use twelve_factor_ai::testing::fake::{FakeServer, openai};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = FakeServer::start().await?;
//! server.push(openai::rate_limited(2));
//!
//! // Any HTTP client works; the client under test would use `server.openai_base_url()`.
//! let mut tcp = tokio::net::TcpStream::connect(server.addr()).await?;
//! let body = r#"{"model":"gpt-4o-mini-2024-07-18","messages":[{"role":"user","content":"hi"}]}"#;
//! let head = format!(
//!     "POST /v1/chat/completions HTTP/1.1\r\nhost: fake\r\ncontent-type: application/json\r\n\
//!      content-length: {}\r\nconnection: close\r\n\r\n",
//!     body.len()
//! );
//! tcp.write_all(head.as_bytes()).await?;
//! tcp.write_all(body.as_bytes()).await?;
//! let mut response = String::new();
//! tcp.read_to_string(&mut response).await?;
//!
//! assert!(response.starts_with("HTTP/1.1 429 "));
//! assert!(response.contains("retry-after: 2\r\n"));
//! assert!(response.contains(r#""code":"rate_limit_exceeded""#));
//! assert_eq!(server.requests()[0].path, "/v1/chat/completions");
//! assert_eq!(server.requests()[0].json()["model"], "gpt-4o-mini-2024-07-18");
//! # Ok(())
//! # }
//! ```
//!
//! # Echo mode
//!
//! When the queue is empty the server answers by echo, chosen by the end of the path (any prefix and the
//! query are ignored, so Azure's `/openai/deployments/{d}/chat/completions?api-version=…` works):
//!
//! | path ends with | answer |
//! |---|---|
//! | `/chat/completions` | an OpenAI `chat.completion` whose text is the text of the last user message (a string, or the `text` parts of an array joined without separator); `model` echoes the request's (on Azure paths without `model`, the deployment name); usage ≈ characters / 4, at least 1. With `"stream": true`: `chat.completion.chunk` events (a role chunk, the text in 2–3 pieces, a chunk with `finish_reason: "stop"`, a usage chunk with `choices: []` only if `stream_options.include_usage` is true), then `data: [DONE]`. If the request declares `tools` and the last user message contains `tool` (any case), a call of the first tool with arguments `{}` instead (`finish_reason: "tool_calls"`; streamed as `{` and `}` fragments). |
//! | `/embeddings` | an OpenAI embeddings list, one deterministic unit vector per input (a string or an array of strings), of dimension `dimensions` or 8. Only `encoding_format: "float"` is supported (else 400). |
//! | `/messages` | an Anthropic `message` with the same echo rules, `stop_reason: "end_turn"` (or `"tool_use"` with a `tool_use` block), usage with the cache fields. With `"stream": true` the full event sequence (`message_start`, `content_block_start`, one `ping`, `content_block_delta`s with `text_delta` or `input_json_delta`, `content_block_stop`, `message_delta`, `message_stop`). Like the real API it answers 400 without an `anthropic-version` header or `max_tokens`, and 401 without `x-api-key` (or `authorization`). |
//! | `/messages/count_tokens` | Anthropic `{"input_tokens": n}` |
//! | `/models`, `/models/{id}` | a model list or model object, in the Anthropic format if the request carries `anthropic-version`, else the OpenAI format |
//! | anything else | 404 with an OpenAI error body |
//!
//! Every response carries a request id: `request-id: req_…` for Anthropic requests (a `/messages` path or an
//! `anthropic-version` header), `x-request-id: req_…` for all others, unless the reply sets that header itself.
//!
//! # Enforcing the real APIs' request rules
//!
//! [`FakeServer::enforcing`] (or [`FakeServer::start_with`] and a [`FakeRules`]) also refuses what the
//! real APIs refuse, with their status and error body, before looking at the queue: `max_tokens` and
//! non-default sampling values for OpenAI's o-series and GPT-5 models; `temperature` / `top_p` / `top_k`
//! for Claude Opus 4.7 and later and for `anthropic-version: 2026-10-21`; the auth header each
//! `anthropic-version` wants. [`FakeServer::start`] enforces none of these.
//!
//! # HTTP behaviour
//!
//! Requests are read by `Content-Length` or `Transfer-Encoding: chunked` (up to 16 MiB of body, else 413; up
//! to 64 KiB of head, else 431; a malformed request gets 400); several requests share a connection unless the
//! client sends `Connection: close`. [`FakeReply::Json`] and [`FakeReply::Raw`] are sent with
//! `Content-Length`; [`FakeReply::Sse`] with `Transfer-Encoding: chunked` and `content-type: text/event-stream;
//! charset=utf-8`, each [`SseChunk`] as one HTTP chunk after its delay. Nothing the client sends makes the
//! server panic; a broken request just closes the connection.
//!
//! The server counts a [disconnect](FakeServer::disconnects) whenever the client goes away before the
//! response is complete: a failed write, or the peer closing while a stream, a slow drip or a hang is
//! pending. That is how a test checks that dropping a stream (or a timeout) cancels the request.

mod echo;
mod http;
mod rules;
mod server;

pub mod anthropic;
pub mod openai;

use std::time::Duration;

pub use rules::FakeRules;
pub use server::FakeServer;

/// One request the server received, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, as sent (`"POST"`).
    pub method: String,
    /// The request target with its query, as sent (`"/v1/chat/completions?api-version=2024-10-21"`).
    pub path: String,
    /// The headers in the order they came, names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (chunked request bodies decoded).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The value of the first header named `name` (any case), if there is one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, or `Value::Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The path without its query (`"/v1/chat/completions"`).
    pub fn path_without_query(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

/// What the server answers to one request; queue it with [`FakeServer::push`].
///
/// The helpers in [`openai`] and [`anthropic`] build the common ones; the methods below adjust them
/// (`openai::chat_stream(..).with_chunk_delay(..).truncated(2)`).
///
/// In the header lists, `content-length` and `transfer-encoding` are ignored (the server frames the body);
/// any other header replaces the server's default of the same name (`content-type`, the request id).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum FakeReply {
    /// A JSON body with `content-type: application/json` and `Content-Length`.
    Json {
        /// HTTP status code.
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: serde_json::Value,
    },
    /// Any bytes with `Content-Length` (malformed JSON, an HTML 502 page); no default `content-type`.
    Raw {
        /// HTTP status code.
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        /// The body, sent as it is.
        body: Vec<u8>,
    },
    /// A server-sent-event stream, sent with `Transfer-Encoding: chunked`.
    Sse {
        /// HTTP status code.
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        /// The chunks, each written (after its delay) as one HTTP chunk and flushed.
        chunks: Vec<SseChunk>,
        /// How the stream ends.
        end: StreamEnd,
    },
    /// A fault at the transport level.
    Fault(Fault),
}

/// One piece of a streamed body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseChunk {
    /// The raw bytes, written as they are (an empty chunk is skipped: it would end the HTTP body).
    pub bytes: Vec<u8>,
    /// How long to wait before writing them.
    pub delay: Duration,
}

impl SseChunk {
    /// Raw bytes, sent as one chunk without delay.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SseChunk {
            bytes: bytes.into(),
            delay: Duration::ZERO,
        }
    }

    /// A data-only event, `data: JSON\n\n` (the OpenAI framing).
    pub fn data(json: &serde_json::Value) -> Self {
        SseChunk::new(format!("data: {json}\n\n"))
    }

    /// A named event, `event: NAME\ndata: JSON\n\n` (the Anthropic framing).
    pub fn event(name: &str, json: &serde_json::Value) -> Self {
        SseChunk::new(format!("event: {name}\ndata: {json}\n\n"))
    }

    /// A comment line, `: TEXT\n\n`, which clients must ignore (`SseChunk::comment("keep-alive")`).
    pub fn comment(text: &str) -> Self {
        SseChunk::new(format!(": {text}\n\n"))
    }

    /// The same chunk, written after `delay`.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// How a [`FakeReply::Sse`] stream ends.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamEnd {
    /// The terminating zero-length chunk; the connection stays open for the next request.
    #[default]
    Clean,
    /// The socket is closed mid-body, without the terminating chunk (a truncated stream).
    Abort,
    /// Nothing more is sent and the socket stays open until the client goes away (a stalled stream); the
    /// client leaving counts as a disconnect.
    Hang,
}

/// A fault at the transport level.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Read the request and never answer; hold the socket until the client goes away (counted as a
    /// disconnect) or the server is dropped.
    Hang,
    /// Send a head whose `Content-Length` claims `claimed_len` bytes, then `partial`, then reset the
    /// connection (TCP RST through a zero linger time).
    ResetMidBody {
        /// HTTP status code of the head.
        status: u16,
        /// The bytes sent before the reset (fewer than `claimed_len`).
        partial: Vec<u8>,
        /// The `Content-Length` announced.
        claimed_len: usize,
    },
    /// A `Content-Length` body written `chunk` bytes at a time (at least 1), with `interval` between pieces.
    SlowDrip {
        /// HTTP status code.
        status: u16,
        /// The whole body (`content-type: application/json`).
        body: Vec<u8>,
        /// Bytes per write.
        chunk: usize,
        /// Pause between writes.
        interval: Duration,
    },
    /// Status 200 and a valid JSON object `{"id":"x","padding":"aaaa…"}` of `bytes` bytes (at least 23),
    /// sent with `Content-Length`.
    Oversized {
        /// Size of the body.
        bytes: usize,
    },
}

/// Token counts for the usage objects the helpers write.
///
/// OpenAI: `prompt_tokens = input`, `completion_tokens = output`, `total_tokens = input + output`,
/// `prompt_tokens_details.cached_tokens = cache_read`, `completion_tokens_details.reasoning_tokens =
/// reasoning`. Anthropic: `input_tokens = input`, `output_tokens = output`, `cache_read_input_tokens =
/// cache_read`, `cache_creation_input_tokens = cache_creation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FakeUsage {
    /// Input (prompt) tokens.
    pub input: u64,
    /// Output (completion) tokens.
    pub output: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic only).
    pub cache_creation: u64,
    /// Reasoning tokens among the output tokens (OpenAI only).
    pub reasoning: u64,
}

impl FakeUsage {
    /// Input and output tokens, nothing cached, no reasoning.
    pub fn new(input: u64, output: u64) -> Self {
        FakeUsage {
            input,
            output,
            ..FakeUsage::default()
        }
    }

    /// The same counts with `cache_read` input tokens read from the cache.
    pub fn with_cache_read(mut self, cache_read: u64) -> Self {
        self.cache_read = cache_read;
        self
    }

    /// The same counts with `cache_creation` input tokens written to the cache.
    pub fn with_cache_creation(mut self, cache_creation: u64) -> Self {
        self.cache_creation = cache_creation;
        self
    }

    /// The same counts with `reasoning` reasoning tokens.
    pub fn with_reasoning(mut self, reasoning: u64) -> Self {
        self.reasoning = reasoning;
        self
    }
}

impl FakeReply {
    /// A JSON reply with `status` and no extra headers.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        FakeReply::Json {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// A raw reply with the given `content-type`.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        FakeReply::Raw {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    /// Status 200, `content-type: application/json`, and a body that is cut off in the middle of a JSON
    /// object (a decode error for the client).
    pub fn malformed_json() -> Self {
        FakeReply::raw(
            200,
            "application/json",
            r#"{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,"message":{"role":"#,
        )
    }

    /// An HTML error page such as a load balancer or CDN sends (`FakeReply::html_error_page(502)`).
    pub fn html_error_page(status: u16) -> Self {
        let reason = http::reason(status);
        let body = format!(
            "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} \
             {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        );
        FakeReply::raw(status, "text/html", body)
    }

    /// The same reply with one more header (no effect on [`FakeReply::Fault`]).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        match &mut self {
            FakeReply::Json { headers, .. }
            | FakeReply::Raw { headers, .. }
            | FakeReply::Sse { headers, .. } => headers.push((name.to_owned(), value.to_owned())),
            FakeReply::Fault(_) => {}
        }
        self
    }

    /// The same reply with the JSON body changed by `edit` (only [`FakeReply::Json`]):
    /// `openai::chat_completion("m", "hi").map_json(|b| b["choices"][0]["finish_reason"] = "length".into())`.
    pub fn map_json(mut self, edit: impl FnOnce(&mut serde_json::Value)) -> Self {
        if let FakeReply::Json { body, .. } = &mut self {
            edit(body);
        }
        self
    }

    /// The same stream with `delay` before every chunk (only [`FakeReply::Sse`]).
    pub fn with_chunk_delay(mut self, delay: Duration) -> Self {
        if let FakeReply::Sse { chunks, .. } = &mut self {
            for chunk in chunks {
                chunk.delay = delay;
            }
        }
        self
    }

    /// The same stream ending with `end` (only [`FakeReply::Sse`]).
    pub fn with_end(mut self, new_end: StreamEnd) -> Self {
        if let FakeReply::Sse { end, .. } = &mut self {
            *end = new_end;
        }
        self
    }

    /// The first `keep` chunks of the stream, then the socket is closed without the terminating chunk
    /// ([`StreamEnd::Abort`]; only [`FakeReply::Sse`]).
    pub fn truncated(mut self, keep: usize) -> Self {
        if let FakeReply::Sse { chunks, end, .. } = &mut self {
            chunks.truncate(keep);
            *end = StreamEnd::Abort;
        }
        self
    }

    /// The same stream bytes re-split into HTTP chunks of `size` bytes (at least 1), so events and even
    /// UTF-8 characters straddle chunk boundaries. Delays are dropped (only [`FakeReply::Sse`]).
    pub fn rechunked(mut self, size: usize) -> Self {
        if let FakeReply::Sse { chunks, .. } = &mut self {
            let all: Vec<u8> = chunks
                .iter()
                .flat_map(|c| c.bytes.iter().copied())
                .collect();
            *chunks = all.chunks(size.max(1)).map(SseChunk::new).collect();
        }
        self
    }

    /// The same stream with a comment chunk `: TEXT\n\n` before every chunk (only [`FakeReply::Sse`]), as
    /// proxies and some OpenAI-compatible servers send to keep the connection alive.
    pub fn with_comments(mut self, text: &str) -> Self {
        if let FakeReply::Sse { chunks, .. } = &mut self {
            *chunks = chunks
                .drain(..)
                .flat_map(|c| [SseChunk::comment(text), c])
                .collect();
        }
        self
    }
}

/// A fresh id: `prefix` followed by 24 hex digits.
fn new_id(prefix: &str) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &hex[..24])
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The rough token estimate of the echo: characters / 4, rounded up, at least 1.
fn estimate_tokens(text: &str) -> u64 {
    let chars = text.chars().count() as u64;
    chars.div_ceil(4).max(1)
}

/// Splits `text` into 3 pieces (2 if it has fewer than 3 characters) at character boundaries.
fn split_pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = if chars.len() >= 3 { 3 } else { 2 };
    (0..n)
        .map(|k| {
            let from = chars.len() * k / n;
            let to = chars.len() * (k + 1) / n;
            chars[from..to].iter().collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_rejoin_to_the_text() {
        for text in ["", "a", "ab", "abc", "hello there", "héllo wörld ✓"] {
            let pieces = split_pieces(text);
            assert!((2..=3).contains(&pieces.len()));
            assert_eq!(pieces.concat(), text);
        }
    }

    #[test]
    fn tokens_are_at_least_one() {
        assert_eq!(estimate_tokens(""), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
    }

    #[test]
    fn reply_adjusters() {
        let reply = openai::chat_stream("m", &["a", "b"], false)
            .with_chunk_delay(Duration::from_millis(5))
            .truncated(2);
        let FakeReply::Sse { chunks, end, .. } = reply else {
            panic!("not a stream");
        };
        assert_eq!(chunks.len(), 2);
        assert_eq!(end, StreamEnd::Abort);
        assert!(chunks.iter().all(|c| c.delay == Duration::from_millis(5)));

        let whole = openai::chat_stream("m", &["a", "b"], true);
        let FakeReply::Sse { chunks: before, .. } = whole.clone() else {
            panic!("not a stream");
        };
        let FakeReply::Sse { chunks: after, .. } = whole.rechunked(7) else {
            panic!("not a stream");
        };
        assert!(
            after
                .iter()
                .all(|c| c.bytes.len() <= 7 && !c.bytes.is_empty())
        );
        assert_eq!(
            before.concat_bytes(),
            after.concat_bytes(),
            "rechunking keeps the bytes"
        );

        let reply = openai::chat_completion("m", "hi")
            .map_json(|b| b["choices"][0]["finish_reason"] = "length".into());
        let FakeReply::Json { body, .. } = reply else {
            panic!("not json");
        };
        assert_eq!(body["choices"][0]["finish_reason"], "length");
    }

    trait ConcatBytes {
        fn concat_bytes(&self) -> Vec<u8>;
    }
    impl ConcatBytes for Vec<SseChunk> {
        fn concat_bytes(&self) -> Vec<u8> {
            self.iter().flat_map(|c| c.bytes.clone()).collect()
        }
    }

    #[test]
    fn recorded_request_accessors() {
        let req = RecordedRequest {
            method: "POST".into(),
            path: "/v1/embeddings?x=1".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"a":1}"#.to_vec(),
        };
        assert_eq!(req.header("Content-Type"), Some("application/json"));
        assert_eq!(req.header("x-missing"), None);
        assert_eq!(req.json()["a"], 1);
        assert_eq!(req.path_without_query(), "/v1/embeddings");
        let not_json = RecordedRequest {
            body: b"nope".to_vec(),
            ..req
        };
        assert!(not_json.json().is_null());
    }
}
