//! Replies in the Anthropic Messages wire format: `message` objects, the streaming event sequence
//! (`message_start`, `content_block_start`, `ping`, `content_block_delta` with `text_delta` or
//! `input_json_delta`, `content_block_stop`, `message_delta`, `message_stop`, `error`), and error bodies
//! `{"type":"error","error":{"type","message"},"request_id"}`.
//!
//! Streams use the Anthropic framing, `event: NAME\ndata: JSON\n\n`. Ids are fresh (`msg_…`, `req_…`).
//!
//! | status | error type |
//! |---|---|
//! | 400 | `invalid_request_error` |
//! | 401 | `authentication_error` |
//! | 403 | `permission_error` |
//! | 404 | `not_found_error` |
//! | 413 | `request_too_large` |
//! | 429 | `rate_limit_error` |
//! | 500 | `api_error` |
//! | 529 | `overloaded_error` |
//!
//! ```
//! use twelve_factor_ai::testing::fake::{FakeServer, anthropic};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = FakeServer::start().await?;
//! server.push(anthropic::overloaded());
//! server.push(anthropic::message("claude-sonnet-4-20250514", "Hello"));
//! // ... a client with retries against server.anthropic_base_url() sees 529, then "Hello".
//! # Ok(())
//! # }
//! ```

use serde_json::{Value, json};

use super::{FakeReply, FakeUsage, SseChunk, StreamEnd, estimate_tokens, new_id};

/// Input tokens the helpers report when no usage is given.
const DEFAULT_INPUT_TOKENS: u64 = 10;

/// The Anthropic `usage` object.
pub(crate) fn usage_json(usage: FakeUsage) -> Value {
    json!({
        "input_tokens": usage.input,
        "cache_creation_input_tokens": usage.cache_creation,
        "cache_read_input_tokens": usage.cache_read,
        "output_tokens": usage.output,
        "service_tier": "standard"
    })
}

/// A `message` object.
pub(crate) fn message_json(
    model: &str,
    content: Vec<Value>,
    stop_reason: &str,
    stop_sequence: Option<&str>,
    usage: FakeUsage,
) -> Value {
    json!({
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage_json(usage)
    })
}

/// The Anthropic error body, with a fresh `request_id` (returned too).
pub(crate) fn error_json(error_type: &str, message: &str) -> (Value, String) {
    let request_id = new_id("req_");
    let body = json!({
        "type": "error",
        "error": { "type": error_type, "message": message },
        "request_id": request_id
    });
    (body, request_id)
}

/// One block of a streamed answer.
pub(crate) enum Block<'a> {
    /// A text block streamed as `text_delta` pieces.
    Text(&'a [&'a str]),
    /// A tool use block `(id, name)` streamed as `input_json_delta` fragments.
    ToolUse(&'a str, &'a str, &'a [&'a str]),
}

/// The whole event sequence of a streamed answer: `message_start`, then per block `content_block_start`
/// (followed once by `ping`), the deltas and `content_block_stop`, then `message_delta` with `stop_reason` and
/// `usage.output_tokens`, and `message_stop`.
pub(crate) fn stream_events(
    model: &str,
    blocks: &[Block<'_>],
    stop_reason: &str,
    usage: FakeUsage,
) -> Vec<SseChunk> {
    let mut start_usage = usage_json(usage);
    start_usage["output_tokens"] = json!(1);
    let mut events = vec![event(
        "message_start",
        json!({
            "type": "message_start",
            "message": {
                "id": new_id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": start_usage
            }
        }),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = match block {
            Block::Text(pieces) => (
                json!({ "type": "text", "text": "" }),
                pieces
                    .iter()
                    .map(|p| json!({ "type": "text_delta", "text": p }))
                    .collect(),
            ),
            Block::ToolUse(id, name, fragments) => (
                json!({ "type": "tool_use", "id": id, "name": name, "input": {} }),
                fragments
                    .iter()
                    .map(|f| json!({ "type": "input_json_delta", "partial_json": f }))
                    .collect(),
            ),
        };
        events.push(event(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": start }),
        ));
        if index == 0 {
            events.push(ping());
        }
        for delta in deltas {
            events.push(event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index, "delta": delta }),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
    }
    if blocks.is_empty() {
        events.push(ping());
    }
    events.push(event(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": { "output_tokens": usage.output }
        }),
    ));
    events.push(event("message_stop", json!({ "type": "message_stop" })));
    events
}

fn sse(chunks: Vec<SseChunk>) -> FakeReply {
    FakeReply::Sse {
        status: 200,
        headers: Vec::new(),
        chunks,
        end: StreamEnd::Clean,
    }
}

/// A `message` answering `text`: one text block, `stop_reason: "end_turn"`, 10 input tokens, output ≈
/// characters / 4, no cache use.
pub fn message(model: &str, text: &str) -> FakeReply {
    message_with_usage(
        model,
        text,
        FakeUsage::new(DEFAULT_INPUT_TOKENS, estimate_tokens(text)),
    )
}

/// A `message` answering `text` with the given usage (`cache_read` → `cache_read_input_tokens`,
/// `cache_creation` → `cache_creation_input_tokens`).
pub fn message_with_usage(model: &str, text: &str, usage: FakeUsage) -> FakeReply {
    FakeReply::json(
        200,
        message_json(
            model,
            vec![json!({ "type": "text", "text": text })],
            "end_turn",
            None,
            usage,
        ),
    )
}

/// A `message` answering `text` that stopped for `stop_reason` (`"max_tokens"`, `"stop_sequence"`,
/// `"refusal"`, …), with `stop_sequence` set as given.
pub fn message_with_stop(
    model: &str,
    text: &str,
    stop_reason: &str,
    stop_sequence: Option<&str>,
) -> FakeReply {
    let usage = FakeUsage::new(DEFAULT_INPUT_TOKENS, estimate_tokens(text));
    FakeReply::json(
        200,
        message_json(
            model,
            vec![json!({ "type": "text", "text": text })],
            stop_reason,
            stop_sequence,
            usage,
        ),
    )
}

/// A `message` calling tools: one `tool_use` block per `(id, name, input)`, `stop_reason: "tool_use"`.
pub fn tool_use_message(model: &str, calls: &[(&str, &str, Value)]) -> FakeReply {
    let content: Vec<Value> = calls
        .iter()
        .map(|(id, name, input)| json!({ "type": "tool_use", "id": id, "name": name, "input": input }))
        .collect();
    let output = calls
        .iter()
        .map(|(_, name, input)| estimate_tokens(name) + estimate_tokens(&input.to_string()))
        .sum();
    FakeReply::json(
        200,
        message_json(
            model,
            content,
            "tool_use",
            None,
            FakeUsage::new(DEFAULT_INPUT_TOKENS, output),
        ),
    )
}

/// A streamed answer: one text block with one `text_delta` per piece, `stop_reason: "end_turn"`, one `ping`
/// after the first `content_block_start`.
pub fn stream(model: &str, pieces: &[&str]) -> FakeReply {
    let usage = FakeUsage::new(DEFAULT_INPUT_TOKENS, estimate_tokens(&pieces.concat()));
    stream_with_usage(model, pieces, usage)
}

/// A streamed answer with the given usage (input and cache counts in `message_start`, output tokens in
/// `message_delta`).
pub fn stream_with_usage(model: &str, pieces: &[&str], usage: FakeUsage) -> FakeReply {
    sse(stream_events(
        model,
        &[Block::Text(pieces)],
        "end_turn",
        usage,
    ))
}

/// A streamed tool use: one `tool_use` block per `(id, name, partial_json fragments)` (`input: {}` in
/// `content_block_start`, then `input_json_delta` events), `stop_reason: "tool_use"`.
pub fn tool_use_stream(model: &str, calls: &[(&str, &str, &[&str])]) -> FakeReply {
    let blocks: Vec<Block<'_>> = calls
        .iter()
        .map(|(id, name, fragments)| Block::ToolUse(id, name, fragments))
        .collect();
    let output = calls
        .iter()
        .map(|(_, _, f)| estimate_tokens(&f.concat()))
        .sum();
    sse(stream_events(
        model,
        &blocks,
        "tool_use",
        FakeUsage::new(DEFAULT_INPUT_TOKENS, output),
    ))
}

/// An error reply: `status` and `{"type":"error","error":{"type","message"},"request_id"}`, with the same
/// id in the `request-id` header.
pub fn error(status: u16, error_type: &str, message: &str) -> FakeReply {
    let (body, request_id) = error_json(error_type, message);
    FakeReply::json(status, body).with_header("request-id", &request_id)
}

/// 400 `invalid_request_error` "`PARAM` is deprecated for this model.": what Claude Opus 4.7 and later
/// (and every model under `anthropic-version: 2026-10-21`) answer to `temperature`, `top_p` or `top_k`.
pub fn sampling_deprecated(param: &str) -> FakeReply {
    error(
        400,
        "invalid_request_error",
        &format!("`{param}` is deprecated for this model."),
    )
}

/// 529 `overloaded_error`.
pub fn overloaded() -> FakeReply {
    error(529, "overloaded_error", "Overloaded")
}

/// 429 `rate_limit_error` with `retry-after` (seconds) and `anthropic-ratelimit-requests-*` headers.
pub fn rate_limited(retry_after_secs: u64) -> FakeReply {
    error(
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute. \
         For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    )
    .with_header("retry-after", &retry_after_secs.to_string())
    .with_header("anthropic-ratelimit-requests-limit", "50")
    .with_header("anthropic-ratelimit-requests-remaining", "0")
}

/// A stream that fails after it started: `message_start`, a text block start, `ping` and one delta, then
/// `event: error` with `overloaded_error`, and the end of the body.
pub fn stream_error_event(model: &str) -> FakeReply {
    let mut events = stream_events(
        model,
        &[Block::Text(&["Partial answ"])],
        "end_turn",
        FakeUsage::new(DEFAULT_INPUT_TOKENS, 3),
    );
    // message_start, content_block_start, ping, content_block_delta.
    events.truncate(4);
    events.push(event(
        "error",
        json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } }),
    ));
    sse(events)
}

/// One event in the Anthropic framing: `event: NAME\ndata: JSON\n\n`.
pub fn event(name: &str, json: Value) -> SseChunk {
    SseChunk::event(name, &json)
}

/// `event: ping\ndata: {"type": "ping"}\n\n`.
pub fn ping() -> SseChunk {
    event("ping", json!({ "type": "ping" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(reply: &FakeReply) -> Vec<String> {
        let FakeReply::Sse { chunks, .. } = reply else {
            panic!("not a stream");
        };
        chunks
            .iter()
            .map(|c| {
                let text = String::from_utf8(c.bytes.clone()).unwrap();
                let (event, data) = text.trim_end().split_once('\n').unwrap();
                let name = event.strip_prefix("event: ").unwrap();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], name, "the data names its event");
                name.to_owned()
            })
            .collect()
    }

    #[test]
    fn stream_sequence() {
        assert_eq!(
            names(&stream("claude", &["Hel", "lo"])),
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(
            names(&stream_error_event("claude")),
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "error"
            ]
        );
    }

    #[test]
    fn error_body_and_header_share_the_id() {
        let FakeReply::Json {
            status,
            headers,
            body,
        } = overloaded()
        else {
            panic!("not json");
        };
        assert_eq!(status, 529);
        assert_eq!(body["error"]["type"], "overloaded_error");
        assert_eq!(headers[0].0, "request-id");
        assert_eq!(body["request_id"], headers[0].1.as_str());
    }
}
