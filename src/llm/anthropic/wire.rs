//! The Messages API wire format: request bodies (typed structs borrowing from the [`ChatRequest`], serialized
//! in one pass) and response bodies (decoded leniently: unknown fields and blocks are ignored).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::llm::http::{ErrorContext, ErrorInfo};
use crate::llm::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, Message, ResponseFormat, Role, ToolCall,
    ToolChoice, Usage,
};
use crate::{Error, Result};

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Cow<'a, str>>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Debug, Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Vec<WireBlock<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBlock<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: ImageSource<'a>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: serde_json::Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent<'a>>,
    },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageSource<'a> {
    Url { url: &'a str },
    Base64 { media_type: &'a str, data: &'a str },
}

/// A tool result is a plain string unless it carries images.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ToolResultContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<WireBlock<'a>>),
}

#[derive(Debug, Serialize)]
struct WireTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: &'a serde_json::Value,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireToolChoice<'a> {
    Auto,
    Any,
    Tool { name: &'a str },
    None,
}

/// The sampling values to send, after request shaping (the catalog's and the API version's rules).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Sampled {
    pub(crate) temperature: Option<f32>,
    pub(crate) top_p: Option<f32>,
}

/// [`encode_shaped`] with the request's own sampling values.
#[cfg(test)]
pub(crate) fn encode_request(
    req: &ChatRequest,
    model: &str,
    default_max_tokens: u32,
    stream: bool,
) -> Result<Vec<u8>> {
    let sampled = Sampled {
        temperature: req.temperature,
        top_p: req.top_p,
    };
    encode_shaped(req, model, default_max_tokens, stream, sampled)
}

/// Encodes a (validated) request as a Messages API body for `model`, with `default_max_tokens` when the
/// request sets none, and the `sampled` values in place of the request's own.
///
/// The wire format has no `document` blocks and no `citations` on text blocks, so nothing it encodes
/// can break the rules `anthropic-version` 2026-10-21 adds for those.
///
/// # Errors
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) for parameters the Messages API does not have;
/// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for tool-call arguments that are not a
/// JSON object, a malformed `data:` image URL, or a conversation without user or assistant content.
pub(crate) fn encode_shaped(
    req: &ChatRequest,
    model: &str,
    default_max_tokens: u32,
    stream: bool,
    sampled: Sampled,
) -> Result<Vec<u8>> {
    if req.presence_penalty.is_some() {
        return Err(unsupported_param("presence_penalty"));
    }
    if req.frequency_penalty.is_some() {
        return Err(unsupported_param("frequency_penalty"));
    }
    match &req.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::Json => return Err(unsupported_param("response_format (JSON object)")),
        ResponseFormat::JsonSchema { .. } => {
            return Err(unsupported_param("response_format (JSON schema)"));
        }
    }
    let tool_choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(WireToolChoice::Auto),
        Some(ToolChoice::None) => Some(WireToolChoice::None),
        Some(ToolChoice::Required) => Some(WireToolChoice::Any),
        Some(ToolChoice::Tool(name)) => Some(WireToolChoice::Tool { name }),
    };
    let body = WireRequest {
        model,
        max_tokens: req.max_tokens.unwrap_or(default_max_tokens),
        system: system_text(&req.messages)?,
        messages: encode_messages(&req.messages)?,
        temperature: sampled.temperature,
        top_p: sampled.top_p,
        stop_sequences: &req.stop,
        tools: req
            .tools
            .iter()
            .map(|t| WireTool {
                name: &t.name,
                description: t.description.as_deref(),
                input_schema: &t.parameters,
            })
            .collect(),
        tool_choice,
        stream,
    };
    serde_json::to_vec(&body)
        .map_err(|e| Error::invalid_request(format!("the request could not be encoded: {e}")))
}

fn unsupported_param(name: &str) -> Error {
    Error::unsupported(format!(
        "{name} has no Anthropic Messages API equivalent; remove it or use a provider that supports it"
    ))
}

/// The system messages' text, joined by blank lines; borrowed when there is a single text part.
fn system_text(messages: &[Message]) -> Result<Option<Cow<'_, str>>> {
    // One entry per system message: its text parts concatenated (as `Message::text` does).
    let mut texts: Vec<Cow<'_, str>> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if m.role != Role::System {
            continue;
        }
        let mut parts: Vec<&str> = Vec::with_capacity(m.content.len());
        for part in &m.content {
            match part {
                ContentPart::Text { text } => parts.push(text),
                ContentPart::Image { .. } => {
                    return Err(Error::unsupported(format!(
                        "message {i} is a system message with a non-text part; Anthropic system \
                         prompts are text only"
                    )));
                }
            }
        }
        let text = match parts.as_slice() {
            [one] => Cow::Borrowed(*one),
            many => Cow::Owned(many.concat()),
        };
        if !text.is_empty() {
            texts.push(text);
        }
    }
    Ok(match texts.len() {
        0 => None,
        1 => texts.pop(),
        _ => Some(Cow::Owned(texts.join("\n\n"))),
    })
}

/// User, assistant and tool messages as alternating Messages API messages.
fn encode_messages(messages: &[Message]) -> Result<Vec<WireMessage<'_>>> {
    let mut out: Vec<WireMessage<'_>> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", content_blocks(i, &m.content)?),
            Role::Assistant => {
                let mut blocks = content_blocks(i, &m.content)?;
                for call in &m.tool_calls {
                    blocks.push(WireBlock::ToolUse {
                        id: &call.id,
                        name: &call.name,
                        input: tool_input(call)?,
                    });
                }
                ("assistant", blocks)
            }
            Role::Tool => ("user", vec![tool_result(i, m)?]),
        };
        if blocks.is_empty() {
            continue; // nothing to say; the API refuses empty content
        }
        match out.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.push(WireMessage {
                role,
                content: blocks,
            }),
        }
    }
    if out.is_empty() {
        return Err(Error::invalid_request(
            "the request has no user or assistant content; Anthropic needs at least one message \
             besides the system prompt",
        ));
    }
    // In a user message, tool results must come before any other content.
    for m in &mut out {
        if m.role == "user" {
            m.content
                .sort_by_key(|b| !matches!(b, WireBlock::ToolResult { .. }));
        }
    }
    Ok(out)
}

/// Text and image parts as blocks (empty text parts are dropped: the API refuses them).
fn content_blocks(index: usize, parts: &[ContentPart]) -> Result<Vec<WireBlock<'_>>> {
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            ContentPart::Text { text } if text.is_empty() => {}
            ContentPart::Text { text } => blocks.push(WireBlock::Text { text }),
            ContentPart::Image { url, .. } => blocks.push(WireBlock::Image {
                source: image_source(index, url)?,
            }),
        }
    }
    Ok(blocks)
}

/// A `url` source, or a `base64` source for `data:<media type>;base64,<data>` URLs.
fn image_source(index: usize, url: &str) -> Result<ImageSource<'_>> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(ImageSource::Url { url });
    };
    let bad = || {
        Error::invalid_request(format!(
            "message {index} has an image data URL that is not of the form \
             data:<media type>;base64,<data>"
        ))
    };
    let (meta, data) = rest.split_once(',').ok_or_else(bad)?;
    let media_type = meta.strip_suffix(";base64").ok_or_else(bad)?;
    if media_type.is_empty() {
        return Err(bad());
    }
    Ok(ImageSource::Base64 { media_type, data })
}

/// A tool call's arguments as the JSON object `tool_use.input` must be (empty arguments are `{}`).
fn tool_input(call: &ToolCall) -> Result<serde_json::Value> {
    if call.arguments.trim().is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<serde_json::Value>(&call.arguments) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(Error::invalid_request(format!(
            "the arguments of tool call {} ({}) are not a JSON object; Anthropic needs tool input \
             as an object",
            call.id, call.name
        ))),
    }
}

/// A tool message as a `tool_result` block: a string, or blocks when it carries images.
fn tool_result(index: usize, m: &Message) -> Result<WireBlock<'_>> {
    let tool_use_id = m.tool_call_id.as_deref().unwrap_or_default();
    let has_images = m.content.iter().any(|p| p.as_text().is_none());
    let content = if has_images {
        Some(ToolResultContent::Blocks(content_blocks(
            index, &m.content,
        )?))
    } else {
        let texts: Vec<&str> = m.content.iter().filter_map(ContentPart::as_text).collect();
        match texts.as_slice() {
            [] => None,
            [""] => None,
            [one] => Some(ToolResultContent::Text(Cow::Borrowed(*one))),
            many => Some(ToolResultContent::Text(Cow::Owned(many.concat()))),
        }
    };
    Ok(WireBlock::ToolResult {
        tool_use_id,
        content,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------

/// The `usage` object of a message, `message_start` or `message_delta` (every count optional).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) output_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Takes every count `newer` has (Anthropic's counts are cumulative, so the latest wins).
    pub(crate) fn update(&mut self, newer: &WireUsage) {
        fn take(ours: &mut Option<u64>, theirs: Option<u64>) {
            if theirs.is_some() {
                *ours = theirs;
            }
        }
        take(&mut self.input_tokens, newer.input_tokens);
        take(&mut self.output_tokens, newer.output_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            newer.cache_creation_input_tokens,
        );
        take(
            &mut self.cache_read_input_tokens,
            newer.cache_read_input_tokens,
        );
    }

    /// The input counts in our terms: all input (uncached + cache reads + cache writes), and the cache
    /// parts on their own.
    pub(crate) fn input_usage(&self) -> Usage {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        let input_tokens = parts.iter().flatten().copied().reduce(u64::saturating_add);
        Usage {
            input_tokens,
            cached_input_tokens: self.cache_read_input_tokens,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            ..Usage::default()
        }
    }

    /// Everything in our terms.
    pub(crate) fn to_usage(self) -> Usage {
        Usage {
            output_tokens: self.output_tokens,
            ..self.input_usage()
        }
    }

    /// Whether any input count is present.
    pub(crate) fn has_input(&self) -> bool {
        self.input_tokens.is_some()
            || self.cache_creation_input_tokens.is_some()
            || self.cache_read_input_tokens.is_some()
    }
}

/// A content block of a response or of `content_block_start`: only the fields this crate reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireContentBlock {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) input: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct WireResponse {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Option<Vec<WireContentBlock>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// Our finish reason for an Anthropic `stop_reason` (absent means the model finished).
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> FinishReason {
    match stop_reason {
        None | Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

/// A tool-use input as the JSON text of a [`ToolCall`] (`{}` when absent).
pub(crate) fn input_text(input: Option<&serde_json::Value>) -> String {
    match input {
        None | Some(serde_json::Value::Null) => "{}".to_owned(),
        Some(value) => value.to_string(),
    }
}

/// Decodes a message body into a response to a request for `requested_model`.
///
/// # Errors
/// The mapped error for an error body (`{"type":"error",...}`, even with status 200);
/// [`ErrorKind::Decode`](crate::ErrorKind::Decode) for a body that is not a message.
pub(crate) fn decode_response(
    body: &[u8],
    ctx: &ErrorContext,
    requested_model: String,
) -> Result<ChatResponse> {
    let wire: WireResponse = serde_json::from_slice(body)
        .map_err(|e| ctx.decode_error(format!("the response is not an Anthropic message: {e}")))?;
    match wire.kind.as_deref() {
        Some("error") => {
            let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            return Err(ctx.stream_error(&ErrorInfo::from_json(&value)));
        }
        None | Some("message") => {}
        Some(other) => {
            return Err(ctx.decode_error(format!(
                "the response is not an Anthropic message (type {other:?})"
            )));
        }
    }
    let Some(blocks) = wire.content else {
        return Err(ctx.decode_error("the response is not an Anthropic message (no content)"));
    };
    let mut response = ChatResponse::text(ctx.provider.clone(), requested_model, String::new());
    for block in blocks {
        match block.kind.as_str() {
            "text" => {
                if let Some(text) = block.text {
                    response.content.push_str(&text);
                }
            }
            "tool_use" => {
                let (Some(id), Some(name)) = (block.id, block.name) else {
                    return Err(ctx.decode_error("a tool_use block has no id or name"));
                };
                response
                    .tool_calls
                    .push(ToolCall::new(id, name, input_text(block.input.as_ref())));
            }
            _ => {} // thinking, redacted_thinking, server tools: not part of our answer
        }
    }
    response.finish_reason = finish_reason(wire.stop_reason.as_deref());
    response.usage = wire.usage.map(WireUsage::to_usage).unwrap_or_default();
    response.model = wire.model;
    response.provider_request_id = ctx.request_id.clone();
    Ok(response)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::ErrorKind;
    use crate::llm::ToolSpec;

    fn encode(req: &ChatRequest) -> Value {
        serde_json::from_slice(&encode_request(req, "claude-test", 4096, false).unwrap()).unwrap()
    }

    fn ctx() -> ErrorContext {
        ErrorContext {
            provider: "anthropic".into(),
            key: None,
            request_id: Some("req_1".into()),
        }
    }

    fn decode(body: Value) -> Result<ChatResponse> {
        decode_response(body.to_string().as_bytes(), &ctx(), "claude-req".into())
    }

    #[test]
    fn minimal_request() {
        let body = encode(&ChatRequest::user("hi"));
        assert_eq!(
            body,
            json!({
                "model": "claude-test",
                "max_tokens": 4096,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
            })
        );
        let streamed: Value = serde_json::from_slice(
            &encode_request(&ChatRequest::user("hi"), "m", 7, true).unwrap(),
        )
        .unwrap();
        assert_eq!(streamed["stream"], true);
        assert_eq!(streamed["max_tokens"], 7);
    }

    #[test]
    fn parameters_map_and_seed_is_left_out() {
        let req = ChatRequest::builder()
            .user("hi")
            .temperature(0.5)
            .top_p(0.25)
            .max_tokens(100)
            .stop("END")
            .stop("STOP")
            .seed(42)
            .tool(ToolSpec::new(
                "lookup",
                "finds things",
                json!({"type": "object", "properties": {"q": {"type": "string"}}}),
            ))
            .tool_choice(ToolChoice::Tool("lookup".into()))
            .build()
            .unwrap();
        let body = encode(&req);
        assert_eq!(body["temperature"], 0.5);
        assert_eq!(body["top_p"], 0.25);
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["stop_sequences"], json!(["END", "STOP"]));
        assert!(body.get("seed").is_none());
        assert!(body.get("stream").is_none());
        assert_eq!(
            body["tools"],
            json!([{
                "name": "lookup",
                "description": "finds things",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}
            }])
        );
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": "lookup"})
        );
        for (choice, wire) in [
            (ToolChoice::Auto, json!({"type": "auto"})),
            (ToolChoice::None, json!({"type": "none"})),
            (ToolChoice::Required, json!({"type": "any"})),
        ] {
            let mut r = req.clone();
            r.tool_choice = Some(choice);
            assert_eq!(encode(&r)["tool_choice"], wire);
        }
    }

    #[test]
    fn system_messages_are_hoisted_and_joined() {
        let req = ChatRequest::builder()
            .system("Be brief.")
            .user("hi")
            .system("Answer in French.")
            .build()
            .unwrap();
        let body = encode(&req);
        assert_eq!(body["system"], "Be brief.\n\nAnswer in French.");
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        let only_one = encode(
            &ChatRequest::builder()
                .system("S")
                .user("u")
                .build()
                .unwrap(),
        );
        assert_eq!(only_one["system"], "S");

        let err = encode_request(
            &ChatRequest::from_messages(vec![Message::system("s")]),
            "m",
            1,
            false,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let img_system = ChatRequest::from_messages(vec![
            Message::with_parts(
                Role::System,
                vec![ContentPart::image_url("https://x/y.png")],
            ),
            Message::user("u"),
        ]);
        assert_eq!(
            encode_request(&img_system, "m", 1, false)
                .unwrap_err()
                .kind(),
            ErrorKind::Unsupported
        );
    }

    #[test]
    fn tool_round_trip_is_merged_into_alternating_messages() {
        let req = ChatRequest::from_messages(vec![
            Message::system("sys"),
            Message::user("weather and time in Oslo?"),
            Message::user("quickly"),
            Message::assistant_tool_calls(
                "Let me check.",
                vec![
                    ToolCall::new("toolu_1", "weather", r#"{"city":"Oslo"}"#),
                    ToolCall::new("toolu_2", "time", ""),
                ],
            ),
            Message::tool_result("toolu_1", "12°C"),
            Message::tool_result("toolu_2", "10:00"),
            Message::user("thanks"),
            Message::assistant(""),
        ]);
        let body = encode(&req);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "weather and time in Oslo?"},
                    {"type": "text", "text": "quickly"}
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12°C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "10:00"},
                    {"type": "text", "text": "thanks"}
                ]}
            ])
        );
    }

    #[test]
    fn tool_results_come_first_in_a_user_message() {
        let req = ChatRequest::from_messages(vec![
            Message::assistant_tool_calls("", vec![ToolCall::new("t1", "f", "{}")]),
            Message::user("by the way"),
            Message::tool_result("t1", "done"),
        ]);
        let body = encode(&req);
        let content = &body["messages"][1]["content"];
        assert_eq!(content[0]["type"], "tool_result");
        assert_eq!(content[1]["type"], "text");
    }

    #[test]
    fn bad_tool_arguments_name_the_call() {
        for args in ["[1,2]", "{oops", "\"text\""] {
            let req = ChatRequest::from_messages(vec![
                Message::user("u"),
                Message::assistant_tool_calls("", vec![ToolCall::new("toolu_9", "lookup", args)]),
            ]);
            let err = encode_request(&req, "m", 1, false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert!(err.message().contains("toolu_9"), "{err}");
            assert!(err.message().contains("lookup"), "{err}");
        }
    }

    #[test]
    fn images() {
        let req = ChatRequest::from_messages(vec![Message::with_parts(
            Role::User,
            vec![
                ContentPart::text("what is this?"),
                ContentPart::image_url("https://example.com/cat.png"),
                ContentPart::image_url("data:image/png;base64,iVBORw0KGgo="),
            ],
        )]);
        let body = encode(&req);
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
            ])
        );
        for bad in [
            "data:image/png,raw",
            "data:;base64,AA==",
            "data:image/png;base64",
        ] {
            let req = ChatRequest::from_messages(vec![Message::with_parts(
                Role::User,
                vec![ContentPart::image_url(bad)],
            )]);
            assert_eq!(
                encode_request(&req, "m", 1, false).unwrap_err().kind(),
                ErrorKind::InvalidRequest,
                "{bad}"
            );
        }
        // A tool result with an image is sent as blocks.
        let mut result = Message::tool_result("t1", "see image");
        result
            .content
            .push(ContentPart::image_url("https://example.com/chart.png"));
        let req = ChatRequest::from_messages(vec![
            Message::assistant_tool_calls("", vec![ToolCall::new("t1", "chart", "{}")]),
            result,
        ]);
        assert_eq!(
            encode(&req)["messages"][1]["content"][0]["content"],
            json!([
                {"type": "text", "text": "see image"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/chart.png"}}
            ])
        );
    }

    #[test]
    fn unsupported_parameters_are_refused_by_name() {
        let base = ChatRequest::user("hi");
        let mut cases: Vec<(ChatRequest, &str)> = Vec::new();
        let mut r = base.clone();
        r.presence_penalty = Some(0.1);
        cases.push((r, "presence_penalty"));
        let mut r = base.clone();
        r.frequency_penalty = Some(0.1);
        cases.push((r, "frequency_penalty"));
        let mut r = base.clone();
        r.response_format = ResponseFormat::Json;
        cases.push((r, "response_format"));
        let mut r = base.clone();
        r.response_format = ResponseFormat::JsonSchema {
            name: "a".into(),
            schema: json!({"type": "object"}),
            strict: true,
        };
        cases.push((r, "response_format"));
        for (req, name) in cases {
            let err = encode_request(&req, "m", 1, false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported);
            assert!(err.message().contains(name), "{err}");
        }
    }

    #[test]
    fn response_with_text_tools_and_cache_usage() {
        let r = decode(json!({
            "id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Checking "},
                {"type": "text", "text": "now."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "tool_use", "id": "toolu_2", "name": "time"}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 20,
                      "cache_read_input_tokens": 30, "output_tokens": 5, "service_tier": "standard"},
            "future_field": {"x": 1}
        }))
        .unwrap();
        assert_eq!(r.content, "Checking now.");
        assert_eq!(
            r.tool_calls,
            vec![
                ToolCall::new("toolu_1", "weather", r#"{"city":"Oslo"}"#),
                ToolCall::new("toolu_2", "time", "{}"),
            ]
        );
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: Some(60),
                output_tokens: Some(5),
                cached_input_tokens: Some(30),
                cache_creation_input_tokens: Some(20),
                reasoning_tokens: None,
            }
        );
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
        assert_eq!(r.requested_model, "claude-req");
        assert_eq!(r.provider, "anthropic");
        assert_eq!(r.provider_request_id.as_deref(), Some("req_1"));
    }

    #[test]
    fn stop_reasons() {
        for (stop, reason) in [
            (json!("end_turn"), FinishReason::Stop),
            (json!("stop_sequence"), FinishReason::Stop),
            (json!("max_tokens"), FinishReason::Length),
            (json!("tool_use"), FinishReason::ToolCalls),
            (json!("refusal"), FinishReason::ContentFilter),
            (
                json!("pause_turn"),
                FinishReason::Other("pause_turn".into()),
            ),
            (json!("brand_new"), FinishReason::Other("brand_new".into())),
            (Value::Null, FinishReason::Stop),
        ] {
            let r = decode(json!({"type": "message", "content": [], "stop_reason": stop})).unwrap();
            assert_eq!(r.finish_reason, reason, "{stop}");
        }
    }

    #[test]
    fn lenient_about_missing_fields() {
        let r = decode(json!({"content": [{"type": "text", "text": "hi"}]})).unwrap();
        assert_eq!(r.content, "hi");
        assert_eq!(r.usage, Usage::default());
        assert_eq!(r.model, None);
        let r = decode(json!({"type": "message", "content": [], "usage": {"output_tokens": 3}}))
            .unwrap();
        assert_eq!(r.usage.input_tokens, None);
        assert_eq!(r.usage.output_tokens, Some(3));
        let r = decode(json!({"type": "message", "content": [], "model": null, "usage": null}))
            .unwrap();
        assert_eq!(r.usage, Usage::default());
    }

    #[test]
    fn not_a_message_is_a_decode_error() {
        for body in [
            json!({}),
            json!([]),
            json!("text"),
            json!({"type": "completion", "completion": "hi"}),
            json!({"type": "message", "content": "not blocks"}),
            json!({"type": "message", "content": [{"type": "tool_use", "input": {}}]}),
        ] {
            let err = decode(body.clone()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{body}: {err}");
            assert_eq!(err.provider(), Some("anthropic"));
            assert_eq!(err.request_id(), Some("req_1"));
        }
        let err = decode_response(b"{\"type\":\"message\",\"content\":[", &ctx(), "m".into())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
    }

    #[test]
    fn error_body_with_status_200_is_mapped() {
        let err = decode(json!({
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"}
        }))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Overloaded);
        assert!(err.message().contains("Overloaded"));
    }
}
