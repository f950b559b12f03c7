//! Replies in the OpenAI wire format: Chat Completions (`chat.completion` objects and
//! `chat.completion.chunk` streams), Embeddings, and error bodies `{"error":{"message","type","param","code"}}`.
//!
//! Streams use the OpenAI framing, `data: JSON\n\n` per event and `data: [DONE]\n\n` at the end. Ids are
//! fresh (`chatcmpl-…`, `call_…`); `created` is the current time.
//!
//! ```
//! use twelve_factor_ai::testing::fake::{FakeServer, openai};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = FakeServer::start().await?;
//! server.push(openai::rate_limited(1));
//! server.push(openai::chat_stream("gpt-4o-mini-2024-07-18", &["Hel", "lo"], true));
//! // ... a client retrying on 429 first waits a second, then reads the stream "Hello".
//! # Ok(())
//! # }
//! ```

use serde_json::{Value, json};

use super::{FakeReply, FakeUsage, SseChunk, StreamEnd, estimate_tokens, new_id, unix_now};

/// The `system_fingerprint` the helpers write.
const FINGERPRINT: &str = "fp_fake0000";
/// Input tokens the helpers report when no usage is given.
const DEFAULT_INPUT_TOKENS: u64 = 10;

/// The OpenAI `usage` object.
pub(crate) fn usage_json(usage: FakeUsage) -> Value {
    json!({
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
        "prompt_tokens_details": { "cached_tokens": usage.cache_read, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// A `chat.completion` object with one choice holding `message`.
pub(crate) fn completion_json(
    model: &str,
    message: Value,
    finish_reason: &str,
    usage: FakeUsage,
) -> Value {
    json!({
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": usage_json(usage),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT
    })
}

/// An assistant message with text content.
fn text_message(text: &str) -> Value {
    json!({ "role": "assistant", "content": text, "refusal": null, "annotations": [] })
}

/// An assistant message with tool calls `(id, name, arguments)`.
fn tool_calls_message(calls: &[(&str, &str, &str)]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, arguments)| {
            json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } })
        })
        .collect();
    json!({ "role": "assistant", "content": null, "tool_calls": calls, "refusal": null, "annotations": [] })
}

/// Builds the chunks of one streamed completion; all share an id, a timestamp and a model.
pub(crate) struct ChunkWriter {
    id: String,
    created: u64,
    model: String,
    /// With `stream_options.include_usage`, every chunk but the last carries `"usage": null`.
    with_usage: bool,
    chunks: Vec<SseChunk>,
}

impl ChunkWriter {
    pub(crate) fn new(model: &str, with_usage: bool) -> Self {
        ChunkWriter {
            id: new_id("chatcmpl-"),
            created: unix_now(),
            model: model.to_owned(),
            with_usage,
            chunks: Vec::new(),
        }
    }

    fn base(&self, choices: Value) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices
        });
        if self.with_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    /// A chunk with one choice: `delta` and `finish_reason`.
    pub(crate) fn delta(&mut self, delta: Value, finish_reason: Option<&str>) {
        let chunk = self.base(json!([{
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": finish_reason
        }]));
        self.chunks.push(SseChunk::data(&chunk));
    }

    /// The final usage chunk, `choices: []`.
    pub(crate) fn usage(&mut self, usage: FakeUsage) {
        let mut chunk = self.base(json!([]));
        chunk["usage"] = usage_json(usage);
        self.chunks.push(SseChunk::data(&chunk));
    }

    /// Adds `data: [DONE]` and returns the chunks.
    pub(crate) fn done(mut self) -> Vec<SseChunk> {
        self.chunks.push(done());
        self.chunks
    }
}

/// A streamed text answer: role chunk, one chunk per piece, a `finish_reason: "stop"` chunk, the usage chunk
/// if `usage` is given, `[DONE]`.
pub(crate) fn text_stream_chunks(
    model: &str,
    pieces: &[&str],
    usage: Option<FakeUsage>,
) -> Vec<SseChunk> {
    let mut w = ChunkWriter::new(model, usage.is_some());
    w.delta(
        json!({ "role": "assistant", "content": "", "refusal": null }),
        None,
    );
    for piece in pieces {
        w.delta(json!({ "content": piece }), None);
    }
    w.delta(json!({}), Some("stop"));
    if let Some(usage) = usage {
        w.usage(usage);
    }
    w.done()
}

/// A streamed tool-call answer: the first fragment of every call carries its index, id, type and name (with
/// `arguments: ""`), then the argument fragments of all calls interleaved round-robin, each keyed by index;
/// a `finish_reason: "tool_calls"` chunk, the usage chunk if `usage` is given, `[DONE]`.
pub(crate) fn tool_stream_chunks(
    model: &str,
    calls: &[(&str, &str, &[&str])],
    usage: Option<FakeUsage>,
) -> Vec<SseChunk> {
    let mut w = ChunkWriter::new(model, usage.is_some());
    for (index, (id, name, _)) in calls.iter().enumerate() {
        let mut delta = json!({
            "tool_calls": [{
                "index": index,
                "id": id,
                "type": "function",
                "function": { "name": name, "arguments": "" }
            }]
        });
        if index == 0 {
            delta["role"] = json!("assistant");
            delta["content"] = Value::Null;
        }
        w.delta(delta, None);
    }
    let rounds = calls.iter().map(|(_, _, f)| f.len()).max().unwrap_or(0);
    for round in 0..rounds {
        for (index, (_, _, fragments)) in calls.iter().enumerate() {
            if let Some(fragment) = fragments.get(round) {
                w.delta(
                    json!({ "tool_calls": [{ "index": index, "function": { "arguments": fragment } }] }),
                    None,
                );
            }
        }
    }
    w.delta(json!({}), Some("tool_calls"));
    if let Some(usage) = usage {
        w.usage(usage);
    }
    w.done()
}

/// The OpenAI error body `{"error":{"message","type","param","code"}}`.
pub(crate) fn error_json(
    error_type: Option<&str>,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Value {
    json!({ "error": { "message": message, "type": error_type, "param": param, "code": code } })
}

fn sse(chunks: Vec<SseChunk>) -> FakeReply {
    FakeReply::Sse {
        status: 200,
        headers: Vec::new(),
        chunks,
        end: StreamEnd::Clean,
    }
}

/// A `chat.completion` answering `text` (`finish_reason: "stop"`, 10 input tokens, output ≈ characters / 4).
pub fn chat_completion(model: &str, text: &str) -> FakeReply {
    chat_completion_with_usage(
        model,
        text,
        FakeUsage::new(DEFAULT_INPUT_TOKENS, estimate_tokens(text)),
    )
}

/// A `chat.completion` answering `text` with the given token counts (`cache_read` goes to
/// `prompt_tokens_details.cached_tokens`, `reasoning` to `completion_tokens_details.reasoning_tokens`).
pub fn chat_completion_with_usage(model: &str, text: &str, usage: FakeUsage) -> FakeReply {
    FakeReply::json(
        200,
        completion_json(model, text_message(text), "stop", usage),
    )
}

/// A `chat.completion` answering `text` that stopped for `finish_reason` (`"length"`, `"content_filter"`).
pub fn chat_completion_with_finish(model: &str, text: &str, finish_reason: &str) -> FakeReply {
    let usage = FakeUsage::new(DEFAULT_INPUT_TOKENS, estimate_tokens(text));
    FakeReply::json(
        200,
        completion_json(model, text_message(text), finish_reason, usage),
    )
}

/// A `chat.completion` calling tools: `calls` are `(id, function name, arguments JSON text)`;
/// `content: null`, `finish_reason: "tool_calls"`.
pub fn tool_calls_completion(model: &str, calls: &[(&str, &str, &str)]) -> FakeReply {
    let output: u64 = calls
        .iter()
        .map(|(_, name, args)| estimate_tokens(name) + estimate_tokens(args))
        .sum();
    FakeReply::json(
        200,
        completion_json(
            model,
            tool_calls_message(calls),
            "tool_calls",
            FakeUsage::new(DEFAULT_INPUT_TOKENS, output),
        ),
    )
}

/// A streamed answer: a role chunk, one `delta.content` chunk per piece, a `finish_reason: "stop"` chunk,
/// then, if `include_usage`, a usage chunk with `choices: []` (10 input tokens, output ≈ characters / 4;
/// the other chunks then carry `"usage": null`), then `data: [DONE]`.
pub fn chat_stream(model: &str, pieces: &[&str], include_usage: bool) -> FakeReply {
    let usage = include_usage
        .then(|| FakeUsage::new(DEFAULT_INPUT_TOKENS, estimate_tokens(&pieces.concat())));
    sse(text_stream_chunks(model, pieces, usage))
}

/// A streamed answer with a usage chunk carrying `usage`.
pub fn chat_stream_with_usage(model: &str, pieces: &[&str], usage: FakeUsage) -> FakeReply {
    sse(text_stream_chunks(model, pieces, Some(usage)))
}

/// Streamed parallel tool calls: `calls` are `(id, function name, argument fragments)`. First one chunk per
/// call with `index`, `id`, `type` and `function.name` (`arguments: ""`), then the argument fragments of all
/// calls interleaved (call 0's first, call 1's first, call 0's second, …), each keyed only by `index`; then
/// `finish_reason: "tool_calls"` and `data: [DONE]`.
pub fn tool_call_stream(model: &str, calls: &[(&str, &str, &[&str])]) -> FakeReply {
    sse(tool_stream_chunks(model, calls, None))
}

/// The embeddings list `{"object":"list","data":[{"object":"embedding","index":i,"embedding":[…]}],…}`,
/// one entry per vector, with `usage.prompt_tokens` = `total_tokens` = 1 per vector.
pub fn embeddings(model: &str, vectors: &[Vec<f32>]) -> FakeReply {
    FakeReply::json(200, embeddings_json(model, vectors, vectors.len() as u64))
}

/// The embeddings list body.
pub(crate) fn embeddings_json(model: &str, vectors: &[Vec<f32>], prompt_tokens: u64) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| json!({ "object": "embedding", "index": index, "embedding": v }))
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens }
    })
}

/// An error reply: `status` and `{"error":{"message","type","param":null,"code"}}`.
pub fn error(status: u16, error_type: &str, code: Option<&str>, message: &str) -> FakeReply {
    FakeReply::json(status, error_json(Some(error_type), code, None, message))
}

/// 429 for a rate limit: `retry-after` (seconds), `retry-after-ms`, `x-ratelimit-*` headers, and the body
/// `type: "requests"`, `code: "rate_limit_exceeded"`.
pub fn rate_limited(retry_after_secs: u64) -> FakeReply {
    let message = format!(
        "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): \
         Limit 3, Used 3, Requested 1. Please try again in {retry_after_secs}s. Visit \
         https://platform.openai.com/account/rate-limits to learn more."
    );
    error(429, "requests", Some("rate_limit_exceeded"), &message)
        .with_header("retry-after", &retry_after_secs.to_string())
        .with_header(
            "retry-after-ms",
            &retry_after_secs.saturating_mul(1000).to_string(),
        )
        .with_header("x-ratelimit-limit-requests", "3")
        .with_header("x-ratelimit-remaining-requests", "0")
        .with_header(
            "x-ratelimit-reset-requests",
            &format!("{retry_after_secs}s"),
        )
}

/// 429 for an exhausted quota (not worth retrying): `type` and `code` `"insufficient_quota"`, no
/// `retry-after`.
pub fn insufficient_quota() -> FakeReply {
    error(
        429,
        "insufficient_quota",
        Some("insufficient_quota"),
        "You exceeded your current quota, please check your plan and billing details. For more \
         information on this error, read the docs: \
         https://platform.openai.com/docs/guides/error-codes/api-errors.",
    )
}

/// 400 `invalid_request_error` with `param: "messages"`, `code: "context_length_exceeded"`.
pub fn context_length_exceeded() -> FakeReply {
    FakeReply::json(
        400,
        error_json(
            Some("invalid_request_error"),
            Some("context_length_exceeded"),
            Some("messages"),
            "This model's maximum context length is 128000 tokens. However, your messages resulted in \
             130532 tokens. Please reduce the length of the messages.",
        ),
    )
}

/// 400 `invalid_request_error`, `param: "max_tokens"`, `code: "unsupported_parameter"`: what OpenAI's
/// reasoning models (o-series, GPT-5) answer to `max_tokens`.
pub fn max_tokens_unsupported() -> FakeReply {
    FakeReply::json(
        400,
        error_json(
            Some("invalid_request_error"),
            Some("unsupported_parameter"),
            Some("max_tokens"),
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use \
             'max_completion_tokens' instead.",
        ),
    )
}

/// 400 `invalid_request_error`, `code: "unsupported_value"`: what OpenAI's reasoning models answer to a
/// sampling parameter other than its default (`unsupported_value("temperature", &json!(0.2), 1.0)`:
/// "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is
/// supported.").
pub fn unsupported_value(param: &str, value: &Value, default: f64) -> FakeReply {
    FakeReply::json(
        400,
        error_json(
            Some("invalid_request_error"),
            Some("unsupported_value"),
            Some(param),
            &format!(
                "Unsupported value: '{param}' does not support {value} with this model. Only the \
                 default ({default}) value is supported."
            ),
        ),
    )
}

/// 400 for a prompt rejected by the content filter, as Azure OpenAI sends it: `code: "content_filter"`,
/// `param: "prompt"`, `type: null`, with an `innererror` naming the policy.
pub fn content_filtered() -> FakeReply {
    let mut body = error_json(
        None,
        Some("content_filter"),
        Some("prompt"),
        "The response was filtered due to the prompt triggering Azure OpenAI's content management \
         policy. Please modify your prompt and retry.",
    );
    body["error"]["status"] = json!(400);
    body["error"]["innererror"] = json!({
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {
            "hate": { "filtered": false, "severity": "safe" },
            "self_harm": { "filtered": false, "severity": "safe" },
            "sexual": { "filtered": false, "severity": "safe" },
            "violence": { "filtered": true, "severity": "high" }
        }
    });
    FakeReply::json(400, body)
}

/// 401 `invalid_request_error`, `code: "invalid_api_key"`.
pub fn invalid_api_key() -> FakeReply {
    error(
        401,
        "invalid_request_error",
        Some("invalid_api_key"),
        "Incorrect API key provided: sk-fake***. You can find your API key at \
         https://platform.openai.com/account/api-keys.",
    )
}

/// 500 `server_error`.
pub fn server_error() -> FakeReply {
    error(
        500,
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    )
}

/// A stream that fails after it started: a role chunk and a content chunk, then
/// `data: {"error":{…"type":"server_error"…}}` and the end of the body, without `[DONE]`.
pub fn stream_error_in_stream(model: &str) -> FakeReply {
    let mut w = ChunkWriter::new(model, false);
    w.delta(
        json!({ "role": "assistant", "content": "", "refusal": null }),
        None,
    );
    w.delta(json!({ "content": "Partial answ" }), None);
    let mut chunks = w.chunks;
    chunks.push(chunk(error_json(
        Some("server_error"),
        None,
        None,
        "The server had an error while processing your request. Sorry about that!",
    )));
    sse(chunks)
}

/// One event in the OpenAI framing: `data: JSON\n\n`.
pub fn chunk(json: Value) -> SseChunk {
    SseChunk::data(&json)
}

/// The end of an OpenAI stream: `data: [DONE]\n\n`.
pub fn done() -> SseChunk {
    SseChunk::new("data: [DONE]\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(reply: &FakeReply) -> Vec<String> {
        let FakeReply::Sse { chunks, .. } = reply else {
            panic!("not a stream");
        };
        chunks
            .iter()
            .map(|c| {
                let text = String::from_utf8(c.bytes.clone()).unwrap();
                assert!(text.starts_with("data: ") && text.ends_with("\n\n"));
                text["data: ".len()..text.len() - 2].to_owned()
            })
            .collect()
    }

    #[test]
    fn stream_with_usage_has_null_usage_then_a_usage_chunk() {
        let events = events(&chat_stream("m", &["Hel", "lo"], true));
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        let json: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let (last, rest) = json.split_last().unwrap();
        assert!(
            rest.iter()
                .all(|c| c["usage"].is_null() && c.get("usage").is_some())
        );
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"]["total_tokens"], 12);
        assert!(json.iter().all(|c| c["id"] == json[0]["id"]));
    }

    #[test]
    fn parallel_tool_fragments_interleave() {
        let reply = tool_call_stream(
            "m",
            &[
                ("call_a", "f", &["{\"x\":", "1}"]),
                ("call_b", "g", &["{}"]),
            ],
        );
        let events = events(&reply);
        let json: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let calls: Vec<&Value> = json
            .iter()
            .map(|c| &c["choices"][0]["delta"]["tool_calls"][0])
            .collect();
        assert_eq!(calls[0]["id"], "call_a");
        assert_eq!(calls[1]["id"], "call_b");
        assert_eq!(calls[2]["index"], 0);
        assert_eq!(calls[3]["index"], 1);
        assert_eq!(calls[4]["function"]["arguments"], "1}");
        assert_eq!(
            json.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
    }
}
