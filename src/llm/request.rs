//! [`ChatRequest`] and what it carries: sampling parameters, tools, response format and [`RequestMeta`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Message, Role};
use crate::prompt::PromptRef;
use crate::{Error, Result};

/// Everything about a request that is not sent to the model but that wrappers read: ids for logs,
/// the prompt that produced it, the conversation, the tenant, free-form tags.
///
/// Tags and ids go into logs; keep them low in cardinality where they become metric labels.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMeta {
    /// This crate's id for the call, generated (UUID v4) when not set.
    #[serde(default = "new_request_id")]
    pub request_id: String,
    /// The prompt that produced the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptRef>,
    /// The conversation the request belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The tenant (customer, team) the request is made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A fresh request id, formatted as a UUID v4.
///
/// Ids are unique within the process and random across processes: a random 64-bit prefix drawn once per
/// process, and a per-call counter scrambled by a bijection (so ids never repeat and do not look
/// sequential). This costs nanoseconds, where drawing 122 random bits from the OS per call would cost a
/// system call on every request.
pub fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Scramble the counter with steps that are each a bijection on 62-bit values (multiplying by an odd
    // number, xor with a right shift), so distinct counters keep distinct ids after the 2 variant bits.
    const MASK: u64 = (1 << 62) - 1;
    let mut z = n & MASK;
    z = z.wrapping_mul(0x9E37_79B9_7F4A_7C15) & MASK;
    z ^= z >> 29;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9) & MASK;
    z ^= z >> 32;
    let hi = (prefix & !0xF000) | 0x4000; // version 4
    let lo = z | (0b10 << 62); // RFC 4122 variant
    uuid::Uuid::from_u64_pair(hi, lo).to_string()
}

impl Default for RequestMeta {
    /// Metadata with a freshly generated request id and nothing else.
    fn default() -> Self {
        RequestMeta {
            request_id: new_request_id(),
            prompt: None,
            conversation_id: None,
            tenant: None,
            tags: BTreeMap::new(),
        }
    }
}

/// A tool the model may call, described by a JSON schema of its parameters.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The tool's name: ASCII letters, digits, `_` and `-`, at most 64 characters.
    pub name: String,
    /// What the tool does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON schema (an object schema) of the tool's arguments.
    pub parameters: serde_json::Value,
    /// Ask the provider to enforce the schema exactly, where it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl ToolSpec {
    /// A tool with a name, a description and a JSON schema of its parameters.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> Self {
        ToolSpec {
            name: name.into(),
            description: Some(description.into()),
            parameters,
            strict: None,
        }
    }

    /// Sets strict schema adherence.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = Some(strict);
        self
    }

    fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(Error::invalid_request(format!(
                "tool name {:?} is invalid: use 1 to 64 ASCII letters, digits, '_' or '-'",
                self.name
            )));
        }
        if !self.parameters.is_object() {
            return Err(Error::invalid_request(format!(
                "parameters of tool {:?} must be a JSON schema object",
                self.name
            )));
        }
        Ok(())
    }
}

/// Whether and which tool the model must call.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "name")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// The model must not call tools.
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(String),
}

/// The shape the model's answer must take.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ResponseFormat {
    /// Free text (the default).
    #[default]
    Text,
    /// Any valid JSON object.
    Json,
    /// JSON that follows a schema.
    JsonSchema {
        /// The schema's name, as providers require one.
        name: String,
        /// The JSON schema.
        schema: serde_json::Value,
        /// Ask the provider to enforce the schema exactly, where it can.
        #[serde(default)]
        strict: bool,
    },
}

/// A chat request: messages, sampling parameters, tools, response format and [`RequestMeta`].
///
/// Build one with [`ChatRequest::builder`]; [`ChatRequestBuilder::build`] reports the first bad value.
///
/// ```
/// use twelve_factor_ai::llm::{ChatRequest, ResponseFormat};
///
/// let req = ChatRequest::builder()
///     .system("Answer in one word.")
///     .user("Capital of France?")
///     .temperature(0.0)
///     .max_tokens(16)
///     .response_format(ResponseFormat::Text)
///     .tag("feature", "geo-quiz")
///     .build()?;
/// assert_eq!(req.messages.len(), 2);
/// assert!(!req.meta.request_id.is_empty());
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// A model to call instead of the provider's pinned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// The most tokens the model may produce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sequences that stop generation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// A seed, for providers that offer best-effort determinism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Presence penalty, -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Frequency penalty, -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool the model must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// The shape of the answer.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// Ids, prompt reference, conversation, tenant and tags.
    #[serde(default)]
    pub meta: RequestMeta,
}

impl ChatRequest {
    /// A builder with no messages and no parameters set.
    pub fn builder() -> ChatRequestBuilder {
        ChatRequestBuilder::default()
    }

    /// A request made of one user message, with defaults for everything else.
    pub fn user(text: impl Into<String>) -> Self {
        ChatRequest::from_messages(vec![Message::user(text)])
    }

    /// A request made of these messages, with defaults for everything else (no validation).
    pub fn from_messages(messages: Vec<Message>) -> Self {
        ChatRequest {
            messages,
            model: None,
            temperature: None,
            top_p: None,
            max_tokens: None,
            stop: Vec::new(),
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
            tools: Vec::new(),
            tool_choice: None,
            response_format: ResponseFormat::Text,
            meta: RequestMeta::default(),
        }
    }

    /// The model this request calls: its own override, else the provider's pinned `default_model`.
    pub fn model_or<'a>(&'a self, default_model: &'a str) -> &'a str {
        self.model.as_deref().unwrap_or(default_model)
    }

    /// Checks the request: at least one message, parameters in range, valid and unique tool names, a
    /// tool choice that names a declared tool, a JSON-schema response format with an object schema.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) naming the first bad value.
    pub fn validate(&self) -> Result<()> {
        if self.messages.is_empty() {
            return Err(Error::invalid_request(
                "a chat request needs at least one message",
            ));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if m.role == Role::Tool && m.tool_call_id.as_deref().is_none_or(str::is_empty) {
                return Err(Error::invalid_request(format!(
                    "message {i} has role tool but no tool_call_id"
                )));
            }
        }
        check_range("temperature", self.temperature, 0.0, 2.0)?;
        check_range("top_p", self.top_p, 0.0, 1.0)?;
        check_range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        check_range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        if self.max_tokens == Some(0) {
            return Err(Error::invalid_request("max_tokens must be at least 1"));
        }
        if self.model.as_deref() == Some("") {
            return Err(Error::invalid_request("model override must not be empty"));
        }
        for (i, tool) in self.tools.iter().enumerate() {
            tool.validate()?;
            if self.tools[..i].iter().any(|t| t.name == tool.name) {
                return Err(Error::invalid_request(format!(
                    "tool {:?} is declared twice",
                    tool.name
                )));
            }
        }
        if let Some(ToolChoice::Tool(name)) = &self.tool_choice {
            if !self.tools.iter().any(|t| &t.name == name) {
                return Err(Error::invalid_request(format!(
                    "tool_choice names tool {name:?}, which the request does not declare"
                )));
            }
        }
        if let ResponseFormat::JsonSchema { name, schema, .. } = &self.response_format {
            if name.is_empty() || !schema.is_object() {
                return Err(Error::invalid_request(
                    "a JSON-schema response format needs a name and an object schema",
                ));
            }
        }
        Ok(())
    }
}

fn check_range(name: &str, value: Option<f32>, min: f32, max: f32) -> Result<()> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(Error::invalid_request(format!(
            "{name} must be between {min} and {max}, got {v}"
        ))),
        _ => Ok(()),
    }
}

/// Builds a [`ChatRequest`]; nothing is checked until [`build`](ChatRequestBuilder::build).
#[derive(Debug, Clone)]
pub struct ChatRequestBuilder {
    req: ChatRequest,
}

impl Default for ChatRequestBuilder {
    fn default() -> Self {
        ChatRequestBuilder {
            req: ChatRequest::from_messages(Vec::new()),
        }
    }
}

impl ChatRequestBuilder {
    /// Appends a message.
    pub fn message(mut self, message: Message) -> Self {
        self.req.messages.push(message);
        self
    }

    /// Appends several messages.
    pub fn messages(mut self, messages: impl IntoIterator<Item = Message>) -> Self {
        self.req.messages.extend(messages);
        self
    }

    /// Appends a system message.
    pub fn system(self, text: impl Into<String>) -> Self {
        self.message(Message::system(text))
    }

    /// Appends a user message.
    pub fn user(self, text: impl Into<String>) -> Self {
        self.message(Message::user(text))
    }

    /// Appends an assistant message.
    pub fn assistant(self, text: impl Into<String>) -> Self {
        self.message(Message::assistant(text))
    }

    /// Calls this model instead of the provider's pinned one.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.req.model = Some(model.into());
        self
    }

    /// Sampling temperature, 0 to 2.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.req.temperature = Some(temperature);
        self
    }

    /// Nucleus sampling, 0 to 1.
    pub fn top_p(mut self, top_p: f32) -> Self {
        self.req.top_p = Some(top_p);
        self
    }

    /// The most tokens the model may produce.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.req.max_tokens = Some(max_tokens);
        self
    }

    /// Adds a stop sequence.
    pub fn stop(mut self, stop: impl Into<String>) -> Self {
        self.req.stop.push(stop.into());
        self
    }

    /// A seed for best-effort determinism.
    pub fn seed(mut self, seed: u64) -> Self {
        self.req.seed = Some(seed);
        self
    }

    /// Presence penalty, -2 to 2.
    pub fn presence_penalty(mut self, penalty: f32) -> Self {
        self.req.presence_penalty = Some(penalty);
        self
    }

    /// Frequency penalty, -2 to 2.
    pub fn frequency_penalty(mut self, penalty: f32) -> Self {
        self.req.frequency_penalty = Some(penalty);
        self
    }

    /// Declares a tool.
    pub fn tool(mut self, tool: ToolSpec) -> Self {
        self.req.tools.push(tool);
        self
    }

    /// Whether and which tool the model must call.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.req.tool_choice = Some(choice);
        self
    }

    /// The shape of the answer.
    pub fn response_format(mut self, format: ResponseFormat) -> Self {
        self.req.response_format = format;
        self
    }

    /// Sets this crate's request id instead of a generated one.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.req.meta.request_id = id.into();
        self
    }

    /// Records the prompt that produced the request.
    pub fn prompt(mut self, prompt: PromptRef) -> Self {
        self.req.meta.prompt = Some(prompt);
        self
    }

    /// Records the conversation the request belongs to.
    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.req.meta.conversation_id = Some(id.into());
        self
    }

    /// Records the tenant the request is made for.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.req.meta.tenant = Some(tenant.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.req.meta.tags.insert(key.into(), value.into());
        self
    }

    /// Checks the request ([`ChatRequest::validate`]) and returns it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) naming the first bad value.
    pub fn build(mut self) -> Result<ChatRequest> {
        if self.req.meta.request_id.is_empty() {
            self.req.meta.request_id = new_request_id();
        }
        self.req.validate()?;
        Ok(self.req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use serde_json::json;

    #[test]
    fn builder_sets_everything_and_round_trips() {
        let req = ChatRequest::builder()
            .system("s")
            .user("u")
            .model("gpt-4o-2024-08-06")
            .temperature(0.2)
            .top_p(0.9)
            .max_tokens(100)
            .stop("END")
            .seed(7)
            .presence_penalty(0.1)
            .frequency_penalty(-0.1)
            .tool(ToolSpec::new("lookup", "find a thing", json!({"type":"object"})).strict(true))
            .tool_choice(ToolChoice::Tool("lookup".into()))
            .response_format(ResponseFormat::JsonSchema {
                name: "answer".into(),
                schema: json!({"type":"object"}),
                strict: true,
            })
            .request_id("r1")
            .prompt(PromptRef {
                name: "p".into(),
                version: "1".into(),
                hash: "abc".into(),
                variant: None,
            })
            .conversation_id("c1")
            .tenant("t1")
            .tag("k", "v")
            .build()
            .unwrap();
        assert_eq!(req.meta.request_id, "r1");
        assert_eq!(req.model_or("x"), "gpt-4o-2024-08-06");
        let back: ChatRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn request_ids_are_uuid_v4_shaped_and_unique() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(20) {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version(), Some(uuid::Version::Random));
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        }
    }

    #[test]
    fn request_ids_are_generated_and_distinct() {
        let a = ChatRequest::builder().user("x").build().unwrap();
        let b = ChatRequest::builder().user("x").build().unwrap();
        assert!(!a.meta.request_id.is_empty());
        assert_ne!(a.meta.request_id, b.meta.request_id);
        // A recorded request without an id gets one when read back.
        let r: ChatRequest =
            serde_json::from_value(json!({"messages":[{"role":"user","content":[]}]})).unwrap();
        assert!(!r.meta.request_id.is_empty());
    }

    #[test]
    fn bad_values_are_refused_at_build() {
        let cases: Vec<(ChatRequestBuilder, &str)> = vec![
            (ChatRequest::builder(), "at least one message"),
            (
                ChatRequest::builder().user("x").temperature(2.5),
                "temperature",
            ),
            (
                ChatRequest::builder().user("x").temperature(f32::NAN),
                "temperature",
            ),
            (ChatRequest::builder().user("x").top_p(-0.1), "top_p"),
            (ChatRequest::builder().user("x").max_tokens(0), "max_tokens"),
            (ChatRequest::builder().user("x").model(""), "model"),
            (
                ChatRequest::builder()
                    .user("x")
                    .tool(ToolSpec::new("bad name", "", json!({}))),
                "tool name",
            ),
            (
                ChatRequest::builder()
                    .user("x")
                    .tool(ToolSpec::new("f", "", json!("string"))),
                "schema object",
            ),
            (
                ChatRequest::builder()
                    .user("x")
                    .tool(ToolSpec::new("f", "", json!({})))
                    .tool(ToolSpec::new("f", "", json!({}))),
                "twice",
            ),
            (
                ChatRequest::builder()
                    .user("x")
                    .tool_choice(ToolChoice::Tool("g".into())),
                "does not declare",
            ),
            (
                ChatRequest::builder().message(Message::new(Role::Tool, "r")),
                "tool_call_id",
            ),
        ];
        for (builder, needle) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert!(
                err.message().contains(needle),
                "{err} should mention {needle}"
            );
        }
    }
}
