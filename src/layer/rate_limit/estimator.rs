//! Guessing a call's input tokens before it is sent: the [`TokenEstimator`] trait and its default,
//! [`CharsPerToken`].

use std::fmt;
use std::num::NonZeroU32;

use serde_json::Value;

use crate::llm::{ChatRequest, ContentPart, EmbedRequest, ResponseFormat};

/// Estimates the input tokens of a request, before it is sent, for the rate limiter's reservation.
///
/// The estimate only has to be close: the limiter settles every reservation with the usage the provider
/// reports. An estimate that is too low lets a burst through that the provider may refuse; one that is too
/// high makes calls wait longer than needed until the reservation is settled. Implement it over a real
/// tokenizer (tiktoken, a model's own) for exact counts; it runs on every call, so keep it cheap.
///
/// ```
/// use twelve_factor_ai::layer::rate_limit::{CharsPerToken, TokenEstimator};
/// use twelve_factor_ai::llm::{ChatRequest, EmbedRequest};
///
/// let estimator = CharsPerToken::default();
/// // 40 bytes of text: 10 tokens, plus framing for one message and the reply.
/// assert_eq!(estimator.estimate_chat(&ChatRequest::user("a".repeat(40))), 10 + 4 + 3);
/// assert_eq!(estimator.estimate_embed(&EmbedRequest::new(["abcd", "efgh"])), 2);
/// ```
pub trait TokenEstimator: Send + Sync + fmt::Debug {
    /// Input tokens of a chat request: messages, tools, response schema (not the output).
    fn estimate_chat(&self, req: &ChatRequest) -> u64;

    /// Input tokens of an embed request.
    fn estimate_embed(&self, req: &EmbedRequest) -> u64;
}

/// The default estimator: a fixed number of bytes per token, plus framing per message and per request.
///
/// | setting | default | why |
/// |---|---|---|
/// | bytes per token | 4 | OpenAI's and Anthropic's rule of thumb for English is about 4 characters per token; counting UTF-8 bytes (free, where characters need a scan) keeps that for ASCII and comes closer than characters for scripts such as CJK, whose 3-byte characters are often a token each |
/// | per message | 4 tokens | the chat template wraps each message in role and separator tokens (OpenAI's counting recipe uses 3 to 4) |
/// | per request | 3 tokens | the tokens that prime the reply |
/// | per tool | 8 tokens | the framing of a tool definition, on top of its name, description and JSON schema |
/// | per image | 1,000 tokens | between OpenAI's 765 for a 1024×1024 high-detail image and Anthropic's ~1,600 for a 1092×1092 one; reconciliation corrects the difference |
///
/// Text counts: message text, tool calls (name and arguments), tool definitions (name, description and the
/// JSON size of the schema), and a JSON-schema response format. Byte counts are summed and divided once,
/// rounding up. Embeddings: each input's bytes divided by the bytes per token, rounded up, with no
/// framing.
///
/// ```
/// use std::num::NonZeroU32;
/// use twelve_factor_ai::layer::rate_limit::{CharsPerToken, TokenEstimator};
/// use twelve_factor_ai::llm::ChatRequest;
///
/// let three = CharsPerToken::new(NonZeroU32::new(3).unwrap()).with_message_overhead(0).with_request_overhead(0);
/// assert_eq!(three.estimate_chat(&ChatRequest::user("abcdefghi")), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharsPerToken {
    bytes_per_token: NonZeroU32,
    message_overhead: u32,
    request_overhead: u32,
    tool_overhead: u32,
    image_tokens: u32,
}

const FOUR: NonZeroU32 = match NonZeroU32::new(4) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

impl Default for CharsPerToken {
    fn default() -> Self {
        CharsPerToken {
            bytes_per_token: FOUR,
            message_overhead: 4,
            request_overhead: 3,
            tool_overhead: 8,
            image_tokens: 1_000,
        }
    }
}

impl CharsPerToken {
    /// The default framing with `bytes_per_token` bytes of text per token.
    pub fn new(bytes_per_token: NonZeroU32) -> Self {
        CharsPerToken {
            bytes_per_token,
            ..Self::default()
        }
    }

    /// Tokens added per message. Default 4.
    pub fn with_message_overhead(mut self, tokens: u32) -> Self {
        self.message_overhead = tokens;
        self
    }

    /// Tokens added once per request. Default 3.
    pub fn with_request_overhead(mut self, tokens: u32) -> Self {
        self.request_overhead = tokens;
        self
    }

    /// Tokens added per tool definition. Default 8.
    pub fn with_tool_overhead(mut self, tokens: u32) -> Self {
        self.tool_overhead = tokens;
        self
    }

    /// Tokens counted per image. Default 1,000.
    pub fn with_image_tokens(mut self, tokens: u32) -> Self {
        self.image_tokens = tokens;
        self
    }

    /// Bytes of text per token.
    pub fn bytes_per_token(&self) -> NonZeroU32 {
        self.bytes_per_token
    }

    fn tokens_of(&self, bytes: usize) -> u64 {
        (bytes as u64).div_ceil(u64::from(self.bytes_per_token.get()))
    }
}

impl TokenEstimator for CharsPerToken {
    fn estimate_chat(&self, req: &ChatRequest) -> u64 {
        let mut bytes = 0usize;
        let mut framing = u64::from(self.request_overhead);
        for m in &req.messages {
            framing += u64::from(self.message_overhead);
            for part in &m.content {
                match part {
                    ContentPart::Text { text } => bytes = bytes.saturating_add(text.len()),
                    ContentPart::Image { .. } => framing += u64::from(self.image_tokens),
                }
            }
            for call in &m.tool_calls {
                bytes = bytes
                    .saturating_add(call.name.len())
                    .saturating_add(call.arguments.len());
            }
        }
        for tool in &req.tools {
            framing += u64::from(self.tool_overhead);
            bytes = bytes
                .saturating_add(tool.name.len())
                .saturating_add(tool.description.as_ref().map_or(0, String::len))
                .saturating_add(json_len(&tool.parameters, 0));
        }
        if let ResponseFormat::JsonSchema { name, schema, .. } = &req.response_format {
            bytes = bytes
                .saturating_add(name.len())
                .saturating_add(json_len(schema, 0));
        }
        self.tokens_of(bytes).saturating_add(framing)
    }

    fn estimate_embed(&self, req: &EmbedRequest) -> u64 {
        req.inputs
            .iter()
            .map(|t| self.tokens_of(t.len()))
            .fold(0u64, u64::saturating_add)
    }
}

/// Below this depth a JSON value counts as a few bytes, so a pathological value cannot exhaust the stack
/// (the same depth serde_json allows when parsing).
const MAX_JSON_DEPTH: usize = 128;

/// About the length of `v` serialised compactly, without serialising it: strings by their byte length,
/// numbers as 4 bytes, plus quotes, colons, commas and brackets.
fn json_len(v: &Value, depth: usize) -> usize {
    if depth >= MAX_JSON_DEPTH {
        return 4;
    }
    match v {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(_) => 4,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => items
            .iter()
            .fold(2 + items.len().saturating_sub(1), |n, item| {
                n.saturating_add(json_len(item, depth + 1))
            }),
        Value::Object(map) => map
            .iter()
            .fold(2 + map.len().saturating_sub(1), |n, (k, item)| {
                n.saturating_add(k.len() + 3)
                    .saturating_add(json_len(item, depth + 1))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Message, Role, ToolCall, ToolSpec};
    use serde_json::json;

    #[test]
    fn json_len_is_close_to_the_serialised_length() {
        let schema = json!({
            "type": "object",
            "properties": { "city": { "type": "string", "description": "the city" }, "days": { "type": "integer" } },
            "required": ["city"],
            "additionalProperties": false
        });
        let real = serde_json::to_string(&schema).unwrap().len();
        assert_eq!(json_len(&schema, 0), real);
        let mut deep = json!(1);
        for _ in 0..1_000 {
            deep = json!([deep]);
        }
        assert!(json_len(&deep, 0) < 400);
        // serde_json drops nested values recursively; keep the test's own stack safe.
        let mut v = deep;
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn counts_text_framing_tools_images_and_schemas() {
        let e = CharsPerToken::default();
        let plain = ChatRequest::builder()
            .system("12345678")
            .user("1234")
            .build()
            .unwrap();
        // 12 bytes → 3 tokens; 2 messages × 4; 3 for the reply.
        assert_eq!(e.estimate_chat(&plain), 3 + 8 + 3);

        let mut with_image = plain.clone();
        with_image.messages.push(Message::with_parts(
            Role::User,
            vec![ContentPart::image_url("https://example.com/a.png")],
        ));
        assert_eq!(e.estimate_chat(&with_image), 3 + 12 + 3 + 1_000);

        let mut with_tools = plain.clone();
        with_tools.messages.push(Message::assistant_tool_calls(
            "",
            vec![ToolCall::new("c1", "abcd", "{\"q\":1}")],
        ));
        with_tools
            .tools
            .push(ToolSpec::new("abcd", "1234", json!({"type": "object"})));
        let schema_bytes = serde_json::to_string(&json!({"type": "object"}))
            .unwrap()
            .len();
        let bytes = 12 + 4 + 7 + 4 + 4 + schema_bytes;
        assert_eq!(
            e.estimate_chat(&with_tools),
            (bytes as u64).div_ceil(4) + 12 + 3 + 8
        );

        let mut with_format = plain;
        with_format.response_format = ResponseFormat::JsonSchema {
            name: "abcd".into(),
            schema: json!({"type": "object"}),
            strict: true,
        };
        assert_eq!(
            e.estimate_chat(&with_format),
            ((12 + 4 + schema_bytes) as u64).div_ceil(4) + 8 + 3
        );
    }

    #[test]
    fn embed_counts_each_input_rounding_up() {
        let e = CharsPerToken::default();
        assert_eq!(
            e.estimate_embed(&EmbedRequest::new(["a", "abcde", ""])),
            1 + 2
        );
        let cjk = "日本語のテキスト"; // 8 characters, 24 bytes
        assert_eq!(e.estimate_embed(&EmbedRequest::new([cjk])), 6);
    }
}
