//! The Chat Completions and Embeddings wire formats: typed request bodies that borrow from the crate's
//! request (no intermediate JSON tree on the hot path) and lenient response shapes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::llm::catalog::OutputTokensParam;
use crate::llm::{
    ChatRequest, ContentPart, EmbedRequest, FinishReason, Message, ResponseFormat, Role,
    ToolChoice, Usage,
};

/// What request shaping decided for one request: the sampling values to send (after the catalog's rules),
/// the output-token parameter's name, and the system prompt's role.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shape {
    pub(crate) temperature: Option<f32>,
    pub(crate) top_p: Option<f32>,
    pub(crate) presence_penalty: Option<f32>,
    pub(crate) frequency_penalty: Option<f32>,
    pub(crate) output_tokens: OutputTokensParam,
    /// Send system messages with role `developer` (OpenAI's reasoning models).
    pub(crate) developer_role: bool,
}

impl Shape {
    /// The request as given: every value, `max_tokens`, role `system` (an unknown model, today's
    /// behaviour).
    pub(crate) fn as_given(req: &ChatRequest) -> Self {
        Shape {
            temperature: req.temperature,
            top_p: req.top_p,
            presence_penalty: req.presence_penalty,
            frequency_penalty: req.frequency_penalty,
            output_tokens: OutputTokensParam::MaxTokens,
            developer_role: false,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ChatBody<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<WireResponseFormat<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: WireContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum WireContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<WirePart<'a>>),
    Null(Option<()>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WirePart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: WireImage<'a> },
}

#[derive(Serialize)]
struct WireImage<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunctionCall<'a>,
}

#[derive(Serialize)]
struct WireFunctionCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    parameters: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum WireToolChoice<'a> {
    Mode(&'static str),
    Named {
        #[serde(rename = "type")]
        kind: &'static str,
        function: NameOnly<'a>,
    },
}

#[derive(Serialize)]
struct NameOnly<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireResponseFormat<'a> {
    JsonObject,
    JsonSchema { json_schema: WireJsonSchema<'a> },
}

#[derive(Serialize)]
struct WireJsonSchema<'a> {
    name: &'a str,
    schema: &'a serde_json::Value,
    strict: bool,
}

impl<'a> ChatBody<'a> {
    pub(crate) fn new(req: &'a ChatRequest, model: &'a str, stream: bool, shape: &Shape) -> Self {
        let completion = shape.output_tokens == OutputTokensParam::MaxCompletionTokens;
        ChatBody {
            model,
            messages: req
                .messages
                .iter()
                .map(|m| WireMessage::from_message(m, shape.developer_role))
                .collect(),
            temperature: shape.temperature,
            top_p: shape.top_p,
            max_tokens: req.max_tokens.filter(|_| !completion),
            max_completion_tokens: req.max_tokens.filter(|_| completion),
            stop: &req.stop,
            seed: req.seed,
            presence_penalty: shape.presence_penalty,
            frequency_penalty: shape.frequency_penalty,
            tools: req
                .tools
                .iter()
                .map(|t| WireTool {
                    kind: "function",
                    function: WireFunction {
                        name: &t.name,
                        description: t.description.as_deref(),
                        parameters: &t.parameters,
                        strict: t.strict,
                    },
                })
                .collect(),
            tool_choice: req.tool_choice.as_ref().map(|c| match c {
                ToolChoice::None => WireToolChoice::Mode("none"),
                ToolChoice::Required => WireToolChoice::Mode("required"),
                ToolChoice::Tool(name) => WireToolChoice::Named {
                    kind: "function",
                    function: NameOnly { name },
                },
                // `Auto` and any future choice: the API's default.
                _ => WireToolChoice::Mode("auto"),
            }),
            response_format: match &req.response_format {
                ResponseFormat::Json => Some(WireResponseFormat::JsonObject),
                ResponseFormat::JsonSchema {
                    name,
                    schema,
                    strict,
                } => Some(WireResponseFormat::JsonSchema {
                    json_schema: WireJsonSchema {
                        name,
                        schema,
                        strict: *strict,
                    },
                }),
                _ => None,
            },
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

impl<'a> WireMessage<'a> {
    fn from_message(m: &'a Message, developer_role: bool) -> Self {
        let only_text = m.content.iter().all(|p| p.as_text().is_some());
        let content = if m.content.is_empty() {
            // An assistant turn that only called tools has `content: null`; others send "".
            if m.role == Role::Assistant && !m.tool_calls.is_empty() {
                WireContent::Null(None)
            } else {
                WireContent::Text(Cow::Borrowed(""))
            }
        } else if only_text {
            match m.content.as_slice() {
                [single] => WireContent::Text(Cow::Borrowed(single.as_text().unwrap_or_default())),
                parts => WireContent::Text(Cow::Owned(
                    parts.iter().filter_map(ContentPart::as_text).collect(),
                )),
            }
        } else {
            WireContent::Parts(
                m.content
                    .iter()
                    .filter_map(|p| match p {
                        ContentPart::Text { text } => Some(WirePart::Text { text }),
                        ContentPart::Image { url, detail } => Some(WirePart::ImageUrl {
                            image_url: WireImage {
                                url,
                                detail: detail.as_deref(),
                            },
                        }),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    })
                    .collect(),
            )
        };
        WireMessage {
            role: match m.role {
                Role::System if developer_role => "developer",
                role => role.as_str(),
            },
            content,
            name: m.name.as_deref(),
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| WireToolCall {
                    id: &c.id,
                    kind: "function",
                    function: WireFunctionCall {
                        name: &c.name,
                        arguments: &c.arguments,
                    },
                })
                .collect(),
            tool_call_id: m.tool_call_id.as_deref(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct EmbedBody<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

impl<'a> EmbedBody<'a> {
    pub(crate) fn new(req: &'a EmbedRequest, model: &'a str, input: &'a [String]) -> Self {
        EmbedBody {
            model,
            input,
            encoding_format: "float",
            dimensions: req.dimensions,
        }
    }
}

// ---- responses: every field optional, unknown fields ignored ----

#[derive(Deserialize)]
pub(crate) struct ChatCompletion {
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) choices: Vec<Choice>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
    /// Some compatible servers answer 200 with an error object.
    #[serde(default)]
    pub(crate) error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub(crate) message: Option<ChoiceMessage>,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ChoiceMessage {
    #[serde(default)]
    pub(crate) content: Option<ContentIn>,
    #[serde(default)]
    pub(crate) refusal: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<ToolCallIn>>,
}

/// Message content as servers send it: a string, or (some compatible servers) an array of text parts.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum ContentIn {
    Text(String),
    Parts(Vec<PartIn>),
}

#[derive(Deserialize)]
pub(crate) struct PartIn {
    #[serde(default)]
    text: Option<String>,
}

impl ContentIn {
    pub(crate) fn into_text(self) -> String {
        match self {
            ContentIn::Text(t) => t,
            ContentIn::Parts(parts) => parts.into_iter().filter_map(|p| p.text).collect(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ToolCallIn {
    #[serde(default)]
    pub(crate) index: Option<u32>,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) function: Option<FunctionIn>,
}

#[derive(Deserialize)]
pub(crate) struct FunctionIn {
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// A JSON text per the spec; some servers send an object instead.
    #[serde(default)]
    pub(crate) arguments: Option<serde_json::Value>,
}

impl FunctionIn {
    pub(crate) fn arguments_text(&mut self) -> String {
        match self.arguments.take() {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize, Default)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    pub(crate) fn to_usage(&self) -> Usage {
        Usage {
            input_tokens: self.prompt_tokens,
            output_tokens: self.completion_tokens,
            cached_input_tokens: self
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
            cache_creation_input_tokens: None,
            reasoning_tokens: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens),
        }
    }
}

/// Maps a finish reason; a missing or empty one means the model stopped normally (or called tools).
pub(crate) fn finish_reason(reason: Option<&str>, called_tools: bool) -> FinishReason {
    match reason.unwrap_or("") {
        "" if called_tools => FinishReason::ToolCalls,
        "" | "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[derive(Deserialize)]
pub(crate) struct EmbeddingList {
    #[serde(default)]
    pub(crate) data: Vec<EmbeddingItem>,
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
}

#[derive(Deserialize)]
pub(crate) struct EmbeddingItem {
    #[serde(default)]
    pub(crate) index: Option<usize>,
    pub(crate) embedding: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ToolCall, ToolSpec};
    use serde_json::json;

    #[test]
    fn request_body_matches_the_chat_completions_format() {
        let req = ChatRequest::builder()
            .system("be brief")
            .message(Message::with_parts(
                Role::User,
                vec![
                    ContentPart::text("what is this?"),
                    ContentPart::image_url("https://x/y.png"),
                ],
            ))
            .message(Message::assistant_tool_calls(
                "",
                vec![ToolCall::new("c1", "look", r#"{"q":1}"#)],
            ))
            .message(Message::tool_result("c1", "found"))
            .temperature(0.0)
            .max_tokens(50)
            .stop("END")
            .seed(3)
            .tool(ToolSpec::new("look", "looks", json!({"type":"object"})))
            .tool_choice(ToolChoice::Tool("look".into()))
            .response_format(ResponseFormat::JsonSchema {
                name: "out".into(),
                schema: json!({"type":"object"}),
                strict: true,
            })
            .build()
            .unwrap();
        let shape = Shape::as_given(&req);
        let body =
            serde_json::to_value(ChatBody::new(&req, "gpt-4o-2024-08-06", true, &shape)).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-2024-08-06",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
                    ]},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{\"q\":1}"}}
                    ]},
                    {"role": "tool", "content": "found", "tool_call_id": "c1"}
                ],
                "temperature": 0.0,
                "max_tokens": 50,
                "stop": ["END"],
                "seed": 3,
                "tools": [{"type": "function", "function": {"name": "look", "description": "looks", "parameters": {"type": "object"}}}],
                "tool_choice": {"type": "function", "function": {"name": "look"}},
                "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}},
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
        let hi = ChatRequest::user("hi");
        let plain =
            serde_json::to_value(ChatBody::new(&hi, "m", false, &Shape::as_given(&hi))).unwrap();
        assert_eq!(
            plain,
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn shaped_body_uses_max_completion_tokens_and_the_developer_role() {
        let req = ChatRequest::builder()
            .system("be brief")
            .user("hi")
            .temperature(0.2)
            .max_tokens(500)
            .build()
            .unwrap();
        let shape = Shape {
            temperature: None,
            output_tokens: OutputTokensParam::MaxCompletionTokens,
            developer_role: true,
            ..Shape::as_given(&req)
        };
        let body = serde_json::to_value(ChatBody::new(&req, "o3", false, &shape)).unwrap();
        assert_eq!(
            body,
            json!({"model": "o3", "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": "hi"}
            ], "max_completion_tokens": 500})
        );
    }

    #[test]
    fn lenient_responses_decode() {
        let c: ChatCompletion = serde_json::from_value(json!({
            "id": "x", "object": "chat.completion", "created": 1, "model": "m", "system_fingerprint": null,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": {"k": 1}}}]},
                "finish_reason": null, "logprobs": null}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 1}},
            "brand_new_field": {"x": 1}
        }))
        .unwrap();
        let usage = c.usage.as_ref().unwrap().to_usage();
        assert_eq!(
            (
                usage.input_tokens,
                usage.cached_input_tokens,
                usage.reasoning_tokens
            ),
            (Some(5), Some(3), Some(1))
        );
        let mut calls = c
            .choices
            .into_iter()
            .next()
            .unwrap()
            .message
            .unwrap()
            .tool_calls
            .unwrap();
        assert_eq!(
            calls[0].function.as_mut().unwrap().arguments_text(),
            r#"{"k":1}"#
        );
        assert_eq!(finish_reason(None, true), FinishReason::ToolCalls);
        assert_eq!(finish_reason(Some(""), false), FinishReason::Stop);
        assert_eq!(
            finish_reason(Some("eos_token"), false),
            FinishReason::Other("eos_token".into())
        );
        let parts: ContentIn = serde_json::from_value(
            json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
        )
        .unwrap();
        assert_eq!(parts.into_text(), "ab");
    }
}
