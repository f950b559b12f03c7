//! The answers of the fake server when its queue is empty, chosen by the end of the path.

use serde_json::{Value, json};

use super::anthropic::{self, Block};
use super::{FakeReply, FakeUsage, RecordedRequest, StreamEnd, estimate_tokens, openai};
use super::{new_id, split_pieces, unix_now};

/// Dimension of echo embeddings when the request names none.
const DEFAULT_DIMENSIONS: u64 = 8;
/// Largest echo embedding dimension (the fake is not a load generator).
const MAX_DIMENSIONS: u64 = 65_536;
/// Model named in answers when the request names none.
const DEFAULT_MODEL: &str = "fake-model";

/// Which provider's conventions a request follows (request-id header, error format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    OpenAi,
    Anthropic,
}

impl Family {
    /// The request-id header this provider sends.
    pub(crate) fn request_id_header(self) -> &'static str {
        match self {
            Family::OpenAi => "x-request-id",
            Family::Anthropic => "request-id",
        }
    }

    /// An error reply in this provider's format, for the server's own refusals (413, 400).
    pub(crate) fn error(self, status: u16, message: &str) -> FakeReply {
        match self {
            Family::OpenAi => {
                let code = (status == 413).then_some("request_too_large");
                openai::error(status, "invalid_request_error", code, message)
            }
            Family::Anthropic => {
                let error_type = if status == 413 {
                    "request_too_large"
                } else {
                    "invalid_request_error"
                };
                anthropic::error(status, error_type, message)
            }
        }
    }
}

/// The path without query and trailing slash.
fn route(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or_default();
    path.trim_end_matches('/')
}

/// The family of a request target and headers: Anthropic for `/messages` paths or an `anthropic-version`
/// header.
pub(crate) fn family_of(path: &str, anthropic_version: bool) -> Family {
    let route = route(path);
    if anthropic_version
        || route.ends_with("/messages")
        || route.ends_with("/messages/count_tokens")
    {
        Family::Anthropic
    } else {
        Family::OpenAi
    }
}

/// The family of a recorded request.
pub(crate) fn family(req: &RecordedRequest) -> Family {
    family_of(&req.path, req.header("anthropic-version").is_some())
}

/// The echo answer to `req`.
pub(crate) fn reply(req: &RecordedRequest) -> FakeReply {
    let route = route(&req.path);
    if route.ends_with("/chat/completions") {
        openai_chat(req)
    } else if route.ends_with("/embeddings") {
        openai_embeddings(req)
    } else if route.ends_with("/messages") {
        anthropic_messages(req)
    } else if route.ends_with("/messages/count_tokens") {
        anthropic_count_tokens(req)
    } else if route.ends_with("/models") || model_id(route).is_some() {
        models(req, model_id(route))
    } else {
        not_found(req)
    }
}

/// `{id}` of a `…/models/{id}` route.
fn model_id(route: &str) -> Option<&str> {
    let (before, id) = route.rsplit_once('/')?;
    (before.ends_with("/models") && !id.is_empty()).then_some(id)
}

fn not_found(req: &RecordedRequest) -> FakeReply {
    FakeReply::json(
        404,
        openai::error_json(
            Some("invalid_request_error"),
            None,
            None,
            &format!("Invalid URL ({} {})", req.method, req.path_without_query()),
        ),
    )
}

/// The text of a message `content`: a string, or the `text` of its text parts joined without separator.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// The text of the last user message, and the characters of all message texts (for the usage estimate).
fn last_user_text(messages: &[Value]) -> (String, String) {
    let last = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| content_text(&m["content"]))
        .unwrap_or_default();
    let all = messages
        .iter()
        .map(|m| content_text(&m["content"]))
        .collect();
    (last, all)
}

/// Whether the echo should call a tool: the request declares tools and the text mentions one.
fn wants_tool(text: &str) -> bool {
    text.to_lowercase().contains("tool")
}

/// The body as JSON, or the error reply of the family.
fn json_body(req: &RecordedRequest, family: Family) -> Result<Value, FakeReply> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(body @ Value::Object(_)) => Ok(body),
        _ => Err(family.error(
            400,
            "We could not parse the JSON body of your request. The API expects a JSON object.",
        )),
    }
}

fn openai_invalid(param: &str, code: Option<&str>, message: &str) -> FakeReply {
    FakeReply::json(
        400,
        openai::error_json(Some("invalid_request_error"), code, Some(param), message),
    )
}

/// The deployment of an Azure path `/openai/deployments/{d}/…`.
fn azure_deployment(path: &str) -> Option<&str> {
    let (_, rest) = path.split_once("/deployments/")?;
    rest.split('/').next().filter(|d| !d.is_empty())
}

fn openai_model(req: &RecordedRequest, body: &Value) -> String {
    body["model"]
        .as_str()
        .or_else(|| azure_deployment(route(&req.path)))
        .unwrap_or(DEFAULT_MODEL)
        .to_owned()
}

fn openai_chat(req: &RecordedRequest) -> FakeReply {
    let body = match json_body(req, Family::OpenAi) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let Some(messages) = body["messages"].as_array() else {
        return openai_invalid(
            "messages",
            Some("missing_required_parameter"),
            "Missing required parameter: 'messages'.",
        );
    };
    let model = openai_model(req, &body);
    let (text, all) = last_user_text(messages);
    let stream = body["stream"] == true;
    let include_usage = body["stream_options"]["include_usage"] == true;
    let tool = body["tools"]
        .as_array()
        .and_then(|tools| tools.first())
        .and_then(|t| t["function"]["name"].as_str())
        .filter(|_| wants_tool(&text));
    let input = estimate_tokens(&all);

    match (tool, stream) {
        (Some(name), false) => {
            let id = new_id("call_");
            let usage = FakeUsage::new(input, estimate_tokens(name) + 1);
            FakeReply::json(
                200,
                openai::completion_json(
                    &model,
                    json!({
                        "role": "assistant",
                        "content": null,
                        "tool_calls": [{ "id": id, "type": "function", "function": { "name": name, "arguments": "{}" } }],
                        "refusal": null,
                        "annotations": []
                    }),
                    "tool_calls",
                    usage,
                ),
            )
        }
        (Some(name), true) => {
            let id = new_id("call_");
            let usage = FakeUsage::new(input, estimate_tokens(name) + 1);
            let fragments: &[&str] = &["{", "}"];
            sse(openai::tool_stream_chunks(
                &model,
                &[(&id, name, fragments)],
                include_usage.then_some(usage),
            ))
        }
        (None, false) => FakeReply::json(
            200,
            openai::completion_json(
                &model,
                json!({ "role": "assistant", "content": text, "refusal": null, "annotations": [] }),
                "stop",
                FakeUsage::new(input, estimate_tokens(&text)),
            ),
        ),
        (None, true) => {
            let pieces = split_pieces(&text);
            let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
            let usage = FakeUsage::new(input, estimate_tokens(&text));
            sse(openai::text_stream_chunks(
                &model,
                &pieces,
                include_usage.then_some(usage),
            ))
        }
    }
}

fn sse(chunks: Vec<super::SseChunk>) -> FakeReply {
    FakeReply::Sse {
        status: 200,
        headers: Vec::new(),
        chunks,
        end: StreamEnd::Clean,
    }
}

/// A deterministic unit vector of `dimensions` for `text` (FNV-1a seed, splitmix64 stream).
pub(crate) fn embedding_of(text: &str, dimensions: usize) -> Vec<f32> {
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        seed ^= u64::from(byte);
        seed = seed.wrapping_mul(0x0100_0000_01b3);
    }
    let mut values: Vec<f64> = (0..dimensions)
        .map(|i| {
            let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        for v in &mut values {
            *v /= norm;
        }
    }
    values.into_iter().map(|v| v as f32).collect()
}

fn openai_embeddings(req: &RecordedRequest) -> FakeReply {
    let body = match json_body(req, Family::OpenAi) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let inputs: Vec<&str> = match &body["input"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) if !items.is_empty() => {
            let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if strings.len() != items.len() {
                return openai_invalid(
                    "input",
                    None,
                    "The fake server only accepts 'input' as a string or an array of strings.",
                );
            }
            strings
        }
        Value::Null => {
            return openai_invalid(
                "input",
                Some("missing_required_parameter"),
                "Missing required parameter: 'input'.",
            );
        }
        _ => return openai_invalid("input", None, "'$.input' is invalid."),
    };
    if inputs.iter().any(|s| s.is_empty()) {
        return openai_invalid("input", None, "'$.input' is invalid.");
    }
    match &body["encoding_format"] {
        Value::Null => {}
        Value::String(f) if f == "float" => {}
        _ => {
            return openai_invalid(
                "encoding_format",
                None,
                "The fake server only supports encoding_format \"float\".",
            );
        }
    }
    let dimensions = match &body["dimensions"] {
        Value::Null => DEFAULT_DIMENSIONS,
        d => match d.as_u64() {
            Some(n) if (1..=MAX_DIMENSIONS).contains(&n) => n,
            _ => {
                return openai_invalid(
                    "dimensions",
                    None,
                    "'dimensions' must be an integer between 1 and 65536.",
                );
            }
        },
    };
    let vectors: Vec<Vec<f32>> = inputs
        .iter()
        .map(|s| embedding_of(s, dimensions as usize))
        .collect();
    let tokens = inputs.iter().map(|s| estimate_tokens(s)).sum();
    FakeReply::json(
        200,
        openai::embeddings_json(&openai_model(req, &body), &vectors, tokens),
    )
}

/// The request's checks the real Messages API makes first: version header, key, JSON, required fields.
fn anthropic_checked(req: &RecordedRequest) -> Result<Value, FakeReply> {
    if req.header("anthropic-version").is_none() {
        return Err(anthropic::error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    if req.header("x-api-key").is_none() && req.header("authorization").is_none() {
        return Err(anthropic::error(
            401,
            "authentication_error",
            "x-api-key header is required",
        ));
    }
    let body = json_body(req, Family::Anthropic)?;
    if !body["messages"].is_array() {
        return Err(anthropic::error(
            400,
            "invalid_request_error",
            "messages: Field required",
        ));
    }
    Ok(body)
}

/// The characters of the `system` field (a string or text blocks).
fn system_text(body: &Value) -> String {
    content_text(&body["system"])
}

fn anthropic_messages(req: &RecordedRequest) -> FakeReply {
    let body = match anthropic_checked(req) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if !body["max_tokens"].is_u64() {
        return anthropic::error(400, "invalid_request_error", "max_tokens: Field required");
    }
    let model = body["model"].as_str().unwrap_or(DEFAULT_MODEL);
    let messages = body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let (text, all) = last_user_text(messages);
    let input = estimate_tokens(&(system_text(&body) + &all));
    let tool = body["tools"]
        .as_array()
        .and_then(|tools| tools.first())
        .and_then(|t| t["name"].as_str())
        .filter(|_| wants_tool(&text));
    let stream = body["stream"] == true;

    match (tool, stream) {
        (Some(name), false) => FakeReply::json(
            200,
            anthropic::message_json(
                model,
                vec![
                    json!({ "type": "tool_use", "id": new_id("toolu_"), "name": name, "input": {} }),
                ],
                "tool_use",
                None,
                FakeUsage::new(input, estimate_tokens(name) + 1),
            ),
        ),
        (Some(name), true) => {
            let id = new_id("toolu_");
            sse(anthropic::stream_events(
                model,
                &[Block::ToolUse(&id, name, &["{", "}"])],
                "tool_use",
                FakeUsage::new(input, estimate_tokens(name) + 1),
            ))
        }
        (None, false) => FakeReply::json(
            200,
            anthropic::message_json(
                model,
                vec![json!({ "type": "text", "text": text })],
                "end_turn",
                None,
                FakeUsage::new(input, estimate_tokens(&text)),
            ),
        ),
        (None, true) => {
            let pieces = split_pieces(&text);
            let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
            sse(anthropic::stream_events(
                model,
                &[Block::Text(&pieces)],
                "end_turn",
                FakeUsage::new(input, estimate_tokens(&text)),
            ))
        }
    }
}

fn anthropic_count_tokens(req: &RecordedRequest) -> FakeReply {
    let body = match anthropic_checked(req) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let messages = body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let (_, all) = last_user_text(messages);
    FakeReply::json(
        200,
        json!({ "input_tokens": estimate_tokens(&(system_text(&body) + &all)) }),
    )
}

fn models(req: &RecordedRequest, id: Option<&str>) -> FakeReply {
    let anthropic = req.header("anthropic-version").is_some();
    let object = |id: &str| {
        if anthropic {
            json!({ "type": "model", "id": id, "display_name": id, "created_at": "2025-05-22T00:00:00Z" })
        } else {
            json!({ "id": id, "object": "model", "created": unix_now(), "owned_by": "system" })
        }
    };
    if let Some(id) = id {
        return FakeReply::json(200, object(id));
    }
    let ids: &[&str] = if anthropic {
        &["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"]
    } else {
        &["gpt-4o-mini-2024-07-18", "text-embedding-3-small"]
    };
    let data: Vec<Value> = ids.iter().map(|id| object(id)).collect();
    if anthropic {
        FakeReply::json(
            200,
            json!({ "data": data, "has_more": false, "first_id": ids[0], "last_id": ids[ids.len() - 1] }),
        )
    } else {
        FakeReply::json(200, json!({ "object": "list", "data": data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, headers: &[(&str, &str)], body: Value) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_string().into_bytes(),
        }
    }

    fn json_of(reply: FakeReply) -> (u16, Value) {
        match reply {
            FakeReply::Json { status, body, .. } => (status, body),
            other => panic!("not json: {other:?}"),
        }
    }

    #[test]
    fn routes_and_families() {
        assert_eq!(route("/v1/chat/completions/?a=b"), "/v1/chat/completions");
        assert_eq!(family_of("/v1/messages", false), Family::Anthropic);
        assert_eq!(family_of("/v1/models", true), Family::Anthropic);
        assert_eq!(family_of("/v1/chat/completions", false), Family::OpenAi);
        assert_eq!(model_id("/v1/models/gpt-x"), Some("gpt-x"));
        assert_eq!(model_id("/v1/models"), None);
        assert_eq!(
            azure_deployment("/openai/deployments/dep-1/chat/completions"),
            Some("dep-1")
        );
    }

    #[test]
    fn chat_echo_takes_the_last_user_text_parts() {
        let req = post(
            "/v1/chat/completions",
            &[],
            json!({ "model": "m", "messages": [
                { "role": "user", "content": "first" },
                { "role": "assistant", "content": "reply" },
                { "role": "user", "content": [{ "type": "text", "text": "sec" }, { "type": "image_url", "image_url": {} }, { "type": "text", "text": "ond" }] }
            ]}),
        );
        let (status, body) = json_of(reply(&req));
        assert_eq!(status, 200);
        assert_eq!(body["choices"][0]["message"]["content"], "second");
        assert_eq!(body["model"], "m");
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding_of("hello", 16);
        assert_eq!(a, embedding_of("hello", 16));
        assert_ne!(a, embedding_of("hellp", 16));
        let norm: f32 = a.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(embedding_of("x", 0).is_empty());
    }

    #[test]
    fn anthropic_requires_version_key_and_max_tokens() {
        let body = json!({ "model": "c", "max_tokens": 5, "messages": [{ "role": "user", "content": "hi" }] });
        let (status, err) = json_of(reply(&post("/v1/messages", &[], body.clone())));
        assert_eq!(
            (status, err["error"]["type"].as_str()),
            (400, Some("invalid_request_error"))
        );
        let (status, err) = json_of(reply(&post(
            "/v1/messages",
            &[("anthropic-version", "2023-06-01")],
            body.clone(),
        )));
        assert_eq!(
            (status, err["error"]["type"].as_str()),
            (401, Some("authentication_error"))
        );
        let headers = [("anthropic-version", "2023-06-01"), ("x-api-key", "k")];
        let (status, _) = json_of(reply(&post(
            "/v1/messages",
            &headers,
            json!({ "model": "c", "messages": [] }),
        )));
        assert_eq!(status, 400);
        let (status, msg) = json_of(reply(&post("/v1/messages", &headers, body)));
        assert_eq!(status, 200);
        assert_eq!(msg["content"][0]["text"], "hi");
    }
}
