//! [`Logging`]: one structured [`tracing`] event per call (factor XI, logs as event streams), around any
//! [`LlmProvider`], [`VectorStore`], [`ConversationStore`] or [`PromptRegistry`].
//!
//! # What is logged
//!
//! **LLM calls** (`chat`, `chat_stream`, `embed`) each get a span and, when the call ends, exactly one
//! event inside it: at the success level (default `INFO`) when it answered, at the failure level (default
//! `WARN`) when it failed. A stream's event fires when the stream ends, fails or is dropped by the caller,
//! so the event always knows the whole story (tokens, finish reason, time to first chunk).
//!
//! | field | meaning |
//! |---|---|
//! | `message` | `"llm call"` |
//! | `gen_ai.operation.name` | `chat` or `embeddings` |
//! | `gen_ai.provider.name` | the wrapped provider's [`name`](LlmProvider::name) |
//! | `gen_ai.request.model` | the model asked for (the request's, else the provider's pinned one) |
//! | `gen_ai.response.model` | the model the provider says answered (on success) |
//! | `gen_ai.response.id` | the provider's request id, when it sent one |
//! | `gen_ai.response.finish_reasons` | why generation stopped (`stop`, `length`, `tool_calls`, ...) |
//! | `gen_ai.conversation.id` | [`RequestMeta::conversation_id`](crate::llm::RequestMeta) |
//! | `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, `usage.cached_input_tokens` | reported usage |
//! | `request_id`, `tenant` | from [`RequestMeta`](crate::llm::RequestMeta) |
//! | `prompt.name`, `prompt.version`, `prompt.hash`, `prompt.variant` | the [`PromptRef`] the request came from |
//! | `stream` | whether the call was `chat_stream` |
//! | `messages` (chat) / `inputs` (embed) | how many messages or texts were sent |
//! | `input_chars`, `output_chars` | characters of text sent and (chat) received |
//! | `latency_ms` | from the call to its answer (streams: to the stream's end) |
//! | `ttfc_ms` | streams: time to the first event |
//! | `cost_usd`, `attempts` | as reported by the response (or the attempts of a failed fallback chain) |
//! | `outcome` | `ok`, `error`, or `cancelled` (a stream dropped before its end, logged at the success level) |
//! | `error.type`, `error.message` | the [`ErrorKind`] name and the one-line message |
//! | `input.sha256`, `output.sha256` | [`ContentPolicy::Hash`] only |
//! | `input.text`, `output.text` | [`ContentPolicy::Full`] only |
//!
//! The call's span (`gen_ai.chat` / `gen_ai.embeddings`) carries the operation, provider, requested model
//! and request id, and `api_version`: the API version the provider pinned (Anthropic's
//! `anthropic-version`, Azure OpenAI's `api-version`), recorded by the provider when it sends the request,
//! so a subscriber that prints span fields shows it next to the model.
//!
//! A stream that ends without its done event is an error with `error.type = "decode"` (what the
//! collector would report).
//!
//! **Store calls** log one event each, `message = "store call"`, with `component` (`vector_store`,
//! `conversation_store`, `prompt_registry`, or `llm` for a provider's health check), `operation`
//! (`upsert`, `search`, `delete`, `count`, `append`, `load`, `get`, `render`, `list`, `health_check`),
//! `latency_ms`, `outcome`, `error.type`, `error.message`, and the counts that fit the operation (`docs`,
//! `k`, `hits`, `ids`, `deleted`, `count`, `messages`, `existed`, `prompts`), plus
//! `gen_ai.conversation.id` / `window` for conversations and `prompt.*` / `selector` for prompts. Document
//! and message text appears only as `content.sha256` ([`ContentPolicy::Hash`]) or `content.text`
//! ([`ContentPolicy::Full`]). Health checks log at `DEBUG` (or the success level, if more verbose) when
//! they pass, so probes do not flood the log, and at the failure level when they fail.
//!
//! # Span names
//!
//! A `tracing` span's name is part of its static callsite metadata, so it cannot be built per call. Spans
//! are named `gen_ai.chat` and `gen_ai.embeddings`, and carry `otel.name = "chat {model}"` (or
//! `"embeddings {model}"`, the OpenTelemetry GenAI operation name), which `tracing-opentelemetry` uses as
//! the exported span's name, as the GenAI conventions ask. The name is formatted lazily, only by a
//! subscriber that records it. The span also carries `otel.kind = "client"` and, on failure,
//! `otel.status_code = "ERROR"`.
//!
//! # Secrets and content
//!
//! The wrapper only sees requests and answers: API keys stay inside providers and never reach it. Prompt
//! and answer text is left out unless [`ContentPolicy`] says otherwise.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::{Instrument, Level, Span};

use super::observe::{StreamEnd, StreamObserver, observe};
use crate::conversation::{ConversationStore, Window};
use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, ContentPart, EmbedRequest, EmbedResponse, FinishReason,
    LlmProvider, Message, StreamEvent, Usage,
};
use crate::prompt::{Prompt, PromptRef, PromptRegistry, RenderedPrompt, Selector};
use crate::vector::{Document, SearchHit, VectorQuery, VectorStore};
use crate::{Error, ErrorKind, Result};

/// How many hex characters of a SHA-256 [`ContentPolicy::Hash`] keeps: 64 bits, enough to correlate
/// identical texts across millions of log lines without making the log a lookup table.
const HASH_HEX_LEN: usize = 16;

/// What of the prompt and answer text a [`Logging`] event may carry.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentPolicy {
    /// No text at all (the default: prompts and answers often hold personal data, and logs are kept
    /// longer and read more widely than the data they describe).
    #[default]
    None,
    /// A 16-hex-character SHA-256 prefix of the prompt and of the answer (`input.sha256`,
    /// `output.sha256`, `content.sha256` for stores): correlate identical texts without logging them.
    Hash,
    /// The text itself, cut to at most `max_chars` characters (on a character boundary) per field. Opt
    /// in only where the log is allowed to hold the content.
    Full {
        /// The most characters kept per text field; at least 1 ([`LoggingConfigBuilder::build`] checks).
        max_chars: usize,
    },
}

/// The settings of a [`Logging`] wrapper. Build with [`LoggingConfig::builder`], or take the default.
///
/// Defaults: [`ContentPolicy::None`] (no text in logs unless asked), success level `INFO` (one line per
/// call is the event stream factor XI asks for), failure level `WARN` (a failed call is worth a look, but
/// the error is returned to the caller, who decides whether it is an `ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggingConfig {
    content: ContentPolicy,
    success_level: Level,
    failure_level: Level,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            content: ContentPolicy::None,
            success_level: Level::INFO,
            failure_level: Level::WARN,
        }
    }
}

impl LoggingConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> LoggingConfigBuilder {
        LoggingConfigBuilder {
            config: LoggingConfig::default(),
        }
    }

    /// What text the events may carry.
    pub fn content(&self) -> ContentPolicy {
        self.content
    }

    /// The level of the event of a call that succeeded (and of a stream the caller dropped).
    pub fn success_level(&self) -> Level {
        self.success_level
    }

    /// The level of the event of a call that failed.
    pub fn failure_level(&self) -> Level {
        self.failure_level
    }

    /// Health checks that pass log at `DEBUG`, or at the success level when that is more verbose.
    fn health_level(&self) -> Level {
        self.success_level.max(Level::DEBUG)
    }
}

/// Builds a [`LoggingConfig`]; [`build`](LoggingConfigBuilder::build) reports a bad setting.
#[derive(Debug, Clone)]
pub struct LoggingConfigBuilder {
    config: LoggingConfig,
}

impl LoggingConfigBuilder {
    /// Sets what text the events may carry.
    pub fn content(mut self, content: ContentPolicy) -> Self {
        self.config.content = content;
        self
    }

    /// Sets the level of success events.
    pub fn success_level(mut self, level: Level) -> Self {
        self.config.success_level = level;
        self
    }

    /// Sets the level of failure events.
    pub fn failure_level(mut self, level: Level) -> Self {
        self.config.failure_level = level;
        self
    }

    /// Checks the settings: [`ContentPolicy::Full`] needs `max_chars` of at least 1
    /// ([`ErrorKind::Config`] otherwise).
    pub fn build(self) -> Result<LoggingConfig> {
        if let ContentPolicy::Full { max_chars: 0 } = self.config.content {
            return Err(Error::config(
                "ContentPolicy::Full needs max_chars of at least 1; use ContentPolicy::None to log no text",
            ));
        }
        Ok(self.config)
    }
}

/// Logs one structured `tracing` event per call of the service it wraps; see the [module
/// docs](self) for the fields.
///
/// Library code never installs a subscriber: the host does (`tracing_subscriber::fmt().json().init()`,
/// or an OpenTelemetry layer). With no subscriber interested, the wrapper only checks two levels and
/// forwards the call.
///
/// ```
/// use twelve_factor_ai::layer::logging::{ContentPolicy, Logging, LoggingConfig};
/// use twelve_factor_ai::llm::{LlmProvider, LlmProviderExt, Scripted};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let config = LoggingConfig::builder().content(ContentPolicy::Hash).build()?;
/// let llm = Logging::new(Scripted::new("demo-model-2024-01-01").echo_when_empty(), config);
/// // Logs `llm call` with gen_ai.request.model="demo-model-2024-01-01", outcome="ok", input.sha256=...
/// assert_eq!(llm.complete("hello").await?, "hello");
/// assert_eq!(llm.get_ref().requests().len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Logging<S> {
    inner: S,
    config: LoggingConfig,
}

impl<S> Logging<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, config: LoggingConfig) -> Self {
        Logging { inner, config }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The settings.
    pub fn config(&self) -> &LoggingConfig {
        &self.config
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Whether an event at the success or the failure level would be recorded.
    fn enabled(&self) -> bool {
        enabled_at(self.config.failure_level) || enabled_at(self.config.success_level)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Levels chosen at run time. A tracing callsite's level is static, so each macro expands to one callsite
// per level and picks the right one.

macro_rules! event_at {
    ($level:expr, $($fields:tt)+) => {{
        let level: Level = $level;
        if level == Level::ERROR {
            tracing::event!(Level::ERROR, $($fields)+)
        } else if level == Level::WARN {
            tracing::event!(Level::WARN, $($fields)+)
        } else if level == Level::INFO {
            tracing::event!(Level::INFO, $($fields)+)
        } else if level == Level::DEBUG {
            tracing::event!(Level::DEBUG, $($fields)+)
        } else {
            tracing::event!(Level::TRACE, $($fields)+)
        }
    }};
}

macro_rules! span_at {
    ($level:expr, $($fields:tt)+) => {{
        let level: Level = $level;
        if level == Level::ERROR {
            tracing::span!(Level::ERROR, $($fields)+)
        } else if level == Level::WARN {
            tracing::span!(Level::WARN, $($fields)+)
        } else if level == Level::INFO {
            tracing::span!(Level::INFO, $($fields)+)
        } else if level == Level::DEBUG {
            tracing::span!(Level::DEBUG, $($fields)+)
        } else {
            tracing::span!(Level::TRACE, $($fields)+)
        }
    }};
}

fn enabled_at(level: Level) -> bool {
    if level == Level::ERROR {
        tracing::enabled!(Level::ERROR)
    } else if level == Level::WARN {
        tracing::enabled!(Level::WARN)
    } else if level == Level::INFO {
        tracing::enabled!(Level::INFO)
    } else if level == Level::DEBUG {
        tracing::enabled!(Level::DEBUG)
    } else {
        tracing::enabled!(Level::TRACE)
    }
}

/// `"chat {model}"`, formatted only when a subscriber records it.
struct SpanName<'a> {
    operation: &'static str,
    model: &'a str,
}

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.operation, self.model)
    }
}

const CHAT: &str = "chat";
const EMBEDDINGS: &str = "embeddings";

fn llm_span(
    level: Level,
    operation: &'static str,
    provider: &str,
    model: &str,
    request_id: &str,
) -> Span {
    let name = SpanName { operation, model };
    if operation == CHAT {
        span_at!(
            level,
            "gen_ai.chat",
            otel.name = %name,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = operation,
            gen_ai.provider.name = provider,
            gen_ai.request.model = model,
            // The provider's pinned API version (Anthropic's `anthropic-version`, Azure's `api-version`),
            // recorded by the provider when it sends the request.
            api_version = tracing::field::Empty,
            request_id = request_id,
        )
    } else {
        span_at!(
            level,
            "gen_ai.embeddings",
            otel.name = %name,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = operation,
            gen_ai.provider.name = provider,
            gen_ai.request.model = model,
            // The provider's pinned API version (Anthropic's `anthropic-version`, Azure's `api-version`),
            // recorded by the provider when it sends the request.
            api_version = tracing::field::Empty,
            request_id = request_id,
        )
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------------------
// Content capture: nothing, a running SHA-256, or text up to a character budget.

enum Capture {
    Off,
    Hash(Box<Sha256>),
    Text { text: String, left: usize },
}

/// What a capture produced: at most one of the two is set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Captured {
    sha256: Option<String>,
    text: Option<String>,
}

impl Capture {
    fn new(policy: ContentPolicy) -> Self {
        match policy {
            ContentPolicy::None => Capture::Off,
            ContentPolicy::Hash => Capture::Hash(Box::default()),
            ContentPolicy::Full { max_chars } => Capture::Text {
                text: String::new(),
                left: max_chars,
            },
        }
    }

    fn is_off(&self) -> bool {
        matches!(self, Capture::Off)
    }

    fn push(&mut self, s: &str) {
        match self {
            Capture::Off => {}
            Capture::Hash(h) => h.update(s.as_bytes()),
            Capture::Text { text, left } => {
                if *left == 0 || s.is_empty() {
                    return;
                }
                match s.char_indices().nth(*left) {
                    // More than `left` characters: keep the first `left`, ending on a char boundary.
                    Some((cut, _)) => {
                        text.push_str(&s[..cut]);
                        *left = 0;
                    }
                    None => {
                        text.push_str(s);
                        *left -= s.chars().count();
                    }
                }
            }
        }
    }

    fn push_messages(&mut self, messages: &[Message]) {
        if self.is_off() {
            return;
        }
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                self.push("\n");
            }
            self.push(m.role.as_str());
            self.push(": ");
            for part in &m.content {
                match part {
                    ContentPart::Text { text } => self.push(text),
                    _ => self.push("[image]"),
                }
            }
        }
    }

    fn push_texts<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        if self.is_off() {
            return;
        }
        for (i, t) in texts.into_iter().enumerate() {
            if i > 0 {
                self.push("\n");
            }
            self.push(t);
        }
    }

    fn finish(self) -> Captured {
        match self {
            Capture::Off => Captured::default(),
            Capture::Hash(h) => Captured {
                sha256: Some(hex_prefix(&h.finalize())),
                text: None,
            },
            Capture::Text { text, .. } => Captured {
                sha256: None,
                text: Some(text),
            },
        }
    }
}

fn hex_prefix(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(HASH_HEX_LEN);
    for b in digest.iter().take(HASH_HEX_LEN / 2) {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

fn message_chars(messages: &[Message]) -> usize {
    messages
        .iter()
        .flat_map(|m| m.content.iter())
        .filter_map(ContentPart::as_text)
        .map(|t| t.chars().count())
        .sum()
}

// ---------------------------------------------------------------------------------------------------------
// LLM calls.

/// What is known about a call before it is made (owned, so a stream's end can still log it).
struct CallInfo {
    operation: &'static str,
    stream: bool,
    provider: String,
    request_model: String,
    request_id: String,
    prompt: Option<PromptRef>,
    conversation_id: Option<String>,
    tenant: Option<String>,
    messages: Option<usize>,
    inputs: Option<usize>,
    input_chars: usize,
    input: Captured,
}

impl CallInfo {
    fn chat(
        req: &ChatRequest,
        provider: &str,
        model: &str,
        stream: bool,
        content: ContentPolicy,
    ) -> Self {
        let mut capture = Capture::new(content);
        capture.push_messages(&req.messages);
        CallInfo {
            operation: CHAT,
            stream,
            provider: provider.to_owned(),
            request_model: model.to_owned(),
            request_id: req.meta.request_id.clone(),
            prompt: req.meta.prompt.clone(),
            conversation_id: req.meta.conversation_id.clone(),
            tenant: req.meta.tenant.clone(),
            messages: Some(req.messages.len()),
            inputs: None,
            input_chars: message_chars(&req.messages),
            input: capture.finish(),
        }
    }

    fn embed(req: &EmbedRequest, provider: &str, model: &str, content: ContentPolicy) -> Self {
        let mut capture = Capture::new(content);
        capture.push_texts(req.inputs.iter().map(String::as_str));
        CallInfo {
            operation: EMBEDDINGS,
            stream: false,
            provider: provider.to_owned(),
            request_model: model.to_owned(),
            request_id: req.meta.request_id.clone(),
            prompt: req.meta.prompt.clone(),
            conversation_id: req.meta.conversation_id.clone(),
            tenant: req.meta.tenant.clone(),
            messages: None,
            inputs: Some(req.inputs.len()),
            input_chars: req.inputs.iter().map(|t| t.chars().count()).sum(),
            input: capture.finish(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Error,
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// How a call ended.
struct CallEnd<'a> {
    outcome: Outcome,
    latency: Duration,
    ttfc: Option<Duration>,
    response_model: Option<&'a str>,
    response_id: Option<&'a str>,
    finish_reason: Option<&'a str>,
    usage: Usage,
    cost_usd: Option<f64>,
    attempts: Option<usize>,
    output_chars: Option<usize>,
    error_type: Option<&'a str>,
    error_message: Option<&'a str>,
    output: Captured,
}

impl<'a> CallEnd<'a> {
    fn new(outcome: Outcome, latency: Duration) -> Self {
        CallEnd {
            outcome,
            latency,
            ttfc: None,
            response_model: None,
            response_id: None,
            finish_reason: None,
            usage: Usage::default(),
            cost_usd: None,
            attempts: None,
            output_chars: None,
            error_type: None,
            error_message: None,
            output: Captured::default(),
        }
    }

    fn failed(latency: Duration, err: &'a Error) -> Self {
        CallEnd {
            error_type: Some(err.kind().as_str()),
            error_message: Some(err.message()),
            attempts: (!err.attempts().is_empty()).then(|| err.attempts().len()),
            ..CallEnd::new(Outcome::Error, latency)
        }
    }

    fn answered(latency: Duration, r: &'a ChatResponse, content: ContentPolicy) -> Self {
        let mut capture = Capture::new(content);
        capture.push(&r.content);
        CallEnd {
            response_model: Some(r.response_model()),
            response_id: r.provider_request_id.as_deref(),
            finish_reason: Some(r.finish_reason.as_str()),
            usage: r.usage,
            cost_usd: r.cost_usd,
            attempts: usize::try_from(r.attempts).ok(),
            output_chars: Some(r.content.chars().count()),
            output: capture.finish(),
            ..CallEnd::new(Outcome::Ok, latency)
        }
    }

    fn embedded(latency: Duration, r: &'a EmbedResponse) -> Self {
        CallEnd {
            response_model: Some(&r.model),
            usage: r.usage,
            ..CallEnd::new(Outcome::Ok, latency)
        }
    }
}

/// Emits the one event of an LLM call, inside its span.
fn emit_call(config: &LoggingConfig, span: &Span, info: &CallInfo, end: &CallEnd<'_>) {
    if end.outcome == Outcome::Error {
        span.record("otel.status_code", "ERROR");
    }
    let level = match end.outcome {
        Outcome::Error => config.failure_level,
        Outcome::Ok | Outcome::Cancelled => config.success_level,
    };
    let prompt = info.prompt.as_ref();
    span.in_scope(|| {
        event_at!(
            level,
            gen_ai.operation.name = info.operation,
            gen_ai.provider.name = info.provider.as_str(),
            gen_ai.request.model = info.request_model.as_str(),
            gen_ai.response.model = end.response_model,
            gen_ai.response.id = end.response_id,
            gen_ai.response.finish_reasons = end.finish_reason,
            gen_ai.conversation.id = info.conversation_id.as_deref(),
            gen_ai.usage.input_tokens = end.usage.input_tokens,
            gen_ai.usage.output_tokens = end.usage.output_tokens,
            usage.cached_input_tokens = end.usage.cached_input_tokens,
            request_id = info.request_id.as_str(),
            tenant = info.tenant.as_deref(),
            prompt.name = prompt.map(|p| p.name.as_str()),
            prompt.version = prompt.map(|p| p.version.as_str()),
            prompt.hash = prompt.map(|p| p.hash.as_str()),
            prompt.variant = prompt.and_then(|p| p.variant.as_deref()),
            stream = info.stream,
            messages = info.messages,
            inputs = info.inputs,
            input_chars = info.input_chars,
            output_chars = end.output_chars,
            latency_ms = millis(end.latency),
            ttfc_ms = end.ttfc.map(millis),
            cost_usd = end.cost_usd,
            attempts = end.attempts,
            outcome = end.outcome.as_str(),
            error.type = end.error_type,
            error.message = end.error_message,
            input.sha256 = info.input.sha256.as_deref(),
            output.sha256 = end.output.sha256.as_deref(),
            input.text = info.input.text.as_deref(),
            output.text = end.output.text.as_deref(),
            "llm call"
        )
    });
}

/// An LLM call being logged. Dropped before [`finish`](PendingCall::finish) (the caller gave up on the
/// future, or dropped a stream), it logs the call as cancelled.
struct PendingCall {
    config: LoggingConfig,
    span: Span,
    info: CallInfo,
    start: Instant,
    armed: bool,
}

impl PendingCall {
    fn start(config: LoggingConfig, span: Span, info: CallInfo) -> Self {
        PendingCall {
            config,
            span,
            info,
            start: Instant::now(),
            armed: true,
        }
    }

    fn finish(&mut self, end: &CallEnd<'_>) {
        self.armed = false;
        emit_call(&self.config, &self.span, &self.info, end);
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if self.armed {
            let end = CallEnd::new(Outcome::Cancelled, self.start.elapsed());
            self.finish(&end);
        }
    }
}

/// Watches a stream for its log event.
struct StreamLog {
    pending: PendingCall,
    ttfc: Option<Duration>,
    response_model: Option<String>,
    response_id: Option<String>,
    finish_reason: Option<FinishReason>,
    usage: Usage,
    cost_usd: Option<f64>,
    output_chars: usize,
    output: Capture,
}

impl StreamObserver for StreamLog {
    fn on_event(&mut self, event: &StreamEvent) {
        if self.ttfc.is_none() {
            self.ttfc = Some(self.pending.start.elapsed());
        }
        match event {
            StreamEvent::Start {
                model,
                provider_request_id,
                ..
            } => {
                if model.is_some() {
                    self.response_model.clone_from(model);
                }
                if provider_request_id.is_some() {
                    self.response_id.clone_from(provider_request_id);
                }
            }
            StreamEvent::TextDelta { text } => {
                self.output_chars += text.chars().count();
                self.output.push(text);
            }
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::Done { finish_reason } => self.finish_reason = Some(finish_reason.clone()),
            StreamEvent::Cost { cost_usd } => self.cost_usd = Some(*cost_usd),
            _ => {}
        }
    }

    fn on_end(self, end: StreamEnd<'_>) {
        let StreamLog {
            mut pending,
            ttfc,
            response_model,
            response_id,
            finish_reason,
            usage,
            cost_usd,
            output_chars,
            output,
        } = self;
        let latency = pending.start.elapsed();
        let request_model = pending.info.request_model.clone();
        let mut call = match end {
            StreamEnd::Completed => CallEnd {
                response_model: Some(response_model.as_deref().unwrap_or(&request_model)),
                ..CallEnd::new(Outcome::Ok, latency)
            },
            StreamEnd::Incomplete => CallEnd {
                error_type: Some(ErrorKind::Decode.as_str()),
                error_message: Some("stream ended before its done event: the answer is incomplete"),
                ..CallEnd::new(Outcome::Error, latency)
            },
            StreamEnd::Failed(err) => CallEnd::failed(latency, err),
            StreamEnd::Dropped => CallEnd::new(Outcome::Cancelled, latency),
        };
        call.ttfc = ttfc;
        call.response_id = response_id.as_deref();
        call.finish_reason = finish_reason.as_ref().map(FinishReason::as_str);
        call.usage = usage;
        call.cost_usd = cost_usd;
        call.output_chars = Some(output_chars);
        call.output = output.finish();
        pending.finish(&call);
    }
}

/// Polls a stream inside the call's span, so what the provider logs while streaming nests under it.
struct InSpan {
    inner: ChatStream,
    span: Span,
}

impl Stream for InSpan {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        this.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: LlmProvider> LlmProvider for Logging<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        if !self.enabled() {
            return self.inner.chat(req).await;
        }
        // Boxed so the disabled path's future stays small (moving a large future costs on every call).
        Box::pin(self.chat_logged(req)).await
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        if !self.enabled() {
            return self.inner.chat_stream(req).await;
        }
        Box::pin(self.chat_stream_logged(req)).await
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        if !self.enabled() {
            return self.inner.embed(req).await;
        }
        Box::pin(self.embed_logged(req)).await
    }

    async fn health_check(&self) -> Result<()> {
        if !self.enabled() && !enabled_at(self.config.health_level()) {
            return self.inner.health_check().await;
        }
        let start = Instant::now();
        let result = self.inner.health_check().await;
        let mut op = Op::new(LLM, HEALTH_CHECK, start, result.as_ref().err());
        op.provider = Some(self.inner.name());
        op.emit(&self.config);
        result
    }
}

impl<S: LlmProvider> Logging<S> {
    async fn chat_logged(&self, req: ChatRequest) -> Result<ChatResponse> {
        let mut pending = self.pending_chat(&req, false);
        let span = pending.span.clone();
        let result = self.inner.chat(req).instrument(span).await;
        let latency = pending.start.elapsed();
        let end = match &result {
            Ok(r) => CallEnd::answered(latency, r, self.config.content),
            Err(e) => CallEnd::failed(latency, e),
        };
        pending.finish(&end);
        result
    }

    async fn chat_stream_logged(&self, req: ChatRequest) -> Result<ChatStream> {
        let mut pending = self.pending_chat(&req, true);
        let span = pending.span.clone();
        match self.inner.chat_stream(req).instrument(span).await {
            Ok(stream) => Ok(observe(
                Box::pin(InSpan {
                    inner: stream,
                    span: pending.span.clone(),
                }),
                StreamLog {
                    pending,
                    ttfc: None,
                    response_model: None,
                    response_id: None,
                    finish_reason: None,
                    usage: Usage::default(),
                    cost_usd: None,
                    output_chars: 0,
                    output: Capture::new(self.config.content),
                },
            )),
            Err(err) => {
                pending.finish(&CallEnd::failed(pending.start.elapsed(), &err));
                Err(err)
            }
        }
    }

    async fn embed_logged(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let model = req.model.as_deref().unwrap_or(self.inner.model());
        let span = llm_span(
            self.config.success_level,
            EMBEDDINGS,
            self.inner.name(),
            model,
            &req.meta.request_id,
        );
        let info = CallInfo::embed(&req, self.inner.name(), model, self.config.content);
        let mut pending = PendingCall::start(self.config, span.clone(), info);
        let result = self.inner.embed(req).instrument(span).await;
        let latency = pending.start.elapsed();
        let end = match &result {
            Ok(r) => CallEnd::embedded(latency, r),
            Err(e) => CallEnd::failed(latency, e),
        };
        pending.finish(&end);
        result
    }

    fn pending_chat(&self, req: &ChatRequest, stream: bool) -> PendingCall {
        let model = req.model_or(self.inner.model());
        let span = llm_span(
            self.config.success_level,
            CHAT,
            self.inner.name(),
            model,
            &req.meta.request_id,
        );
        let info = CallInfo::chat(req, self.inner.name(), model, stream, self.config.content);
        PendingCall::start(self.config, span, info)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Store calls.

const LLM: &str = "llm";
const VECTOR: &str = "vector_store";
const CONVERSATION: &str = "conversation_store";
const PROMPT: &str = "prompt_registry";
const HEALTH_CHECK: &str = "health_check";

/// One store operation's event.
struct Op<'a> {
    component: &'static str,
    operation: &'static str,
    latency: Duration,
    error: Option<&'a Error>,
    provider: Option<&'a str>,
    docs: Option<usize>,
    k: Option<usize>,
    hits: Option<usize>,
    ids: Option<usize>,
    deleted: Option<usize>,
    count: Option<usize>,
    messages: Option<usize>,
    existed: Option<bool>,
    prompts: Option<usize>,
    conversation_id: Option<&'a str>,
    window: Option<Window>,
    prompt_name: Option<&'a str>,
    prompt_version: Option<&'a str>,
    prompt_hash: Option<&'a str>,
    selector: Option<&'a Selector>,
    content: Captured,
}

impl<'a> Op<'a> {
    fn new(
        component: &'static str,
        operation: &'static str,
        start: Instant,
        error: Option<&'a Error>,
    ) -> Self {
        Op {
            component,
            operation,
            latency: start.elapsed(),
            error,
            provider: None,
            docs: None,
            k: None,
            hits: None,
            ids: None,
            deleted: None,
            count: None,
            messages: None,
            existed: None,
            prompts: None,
            conversation_id: None,
            window: None,
            prompt_name: None,
            prompt_version: None,
            prompt_hash: None,
            selector: None,
            content: Captured::default(),
        }
    }

    fn emit(&self, config: &LoggingConfig) {
        let level = match self.error {
            Some(_) => config.failure_level,
            None if self.operation == HEALTH_CHECK => config.health_level(),
            None => config.success_level,
        };
        let outcome = if self.error.is_some() {
            Outcome::Error
        } else {
            Outcome::Ok
        };
        event_at!(
            level,
            component = self.component,
            operation = self.operation,
            gen_ai.provider.name = self.provider,
            latency_ms = millis(self.latency),
            outcome = outcome.as_str(),
            error.type = self.error.map(|e| e.kind().as_str()),
            error.message = self.error.map(Error::message),
            docs = self.docs,
            k = self.k,
            hits = self.hits,
            ids = self.ids,
            deleted = self.deleted,
            count = self.count,
            messages = self.messages,
            existed = self.existed,
            prompts = self.prompts,
            gen_ai.conversation.id = self.conversation_id,
            window = self.window.map(tracing::field::debug),
            prompt.name = self.prompt_name,
            prompt.version = self.prompt_version,
            prompt.hash = self.prompt_hash,
            selector = self.selector.map(tracing::field::display),
            content.sha256 = self.content.sha256.as_deref(),
            content.text = self.content.text.as_deref(),
            "store call"
        );
    }
}

fn doc_texts(docs: &[Document], content: ContentPolicy) -> Captured {
    let mut c = Capture::new(content);
    c.push_texts(docs.iter().filter_map(|d| d.text.as_deref()));
    c.finish()
}

fn hit_texts(hits: &[SearchHit], content: ContentPolicy) -> Captured {
    let mut c = Capture::new(content);
    c.push_texts(hits.iter().filter_map(|h| h.text.as_deref()));
    c.finish()
}

fn message_texts(messages: &[Message], content: ContentPolicy) -> Captured {
    let mut c = Capture::new(content);
    c.push_messages(messages);
    c.finish()
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: VectorStore> VectorStore for Logging<S> {
    async fn upsert(&self, docs: Vec<Document>) -> Result<()> {
        if !self.enabled() {
            return self.inner.upsert(docs).await;
        }
        let n = docs.len();
        let content = doc_texts(&docs, self.config.content);
        let start = Instant::now();
        let result = self.inner.upsert(docs).await;
        let mut op = Op::new(VECTOR, "upsert", start, result.as_ref().err());
        op.docs = Some(n);
        op.content = content;
        op.emit(&self.config);
        result
    }

    async fn search(&self, query: VectorQuery) -> Result<Vec<SearchHit>> {
        if !self.enabled() {
            return self.inner.search(query).await;
        }
        let k = query.k;
        let start = Instant::now();
        let result = self.inner.search(query).await;
        let mut op = Op::new(VECTOR, "search", start, result.as_ref().err());
        op.k = Some(k);
        if let Ok(hits) = &result {
            op.hits = Some(hits.len());
            op.content = hit_texts(hits, self.config.content);
        }
        op.emit(&self.config);
        result
    }

    async fn delete(&self, ids: &[String]) -> Result<usize> {
        if !self.enabled() {
            return self.inner.delete(ids).await;
        }
        let start = Instant::now();
        let result = self.inner.delete(ids).await;
        let mut op = Op::new(VECTOR, "delete", start, result.as_ref().err());
        op.ids = Some(ids.len());
        op.deleted = result.as_ref().ok().copied();
        op.emit(&self.config);
        result
    }

    async fn count(&self) -> Result<usize> {
        if !self.enabled() {
            return self.inner.count().await;
        }
        let start = Instant::now();
        let result = self.inner.count().await;
        let mut op = Op::new(VECTOR, "count", start, result.as_ref().err());
        op.count = result.as_ref().ok().copied();
        op.emit(&self.config);
        result
    }

    async fn health_check(&self) -> Result<()> {
        if !self.enabled() && !enabled_at(self.config.health_level()) {
            return VectorStore::health_check(&self.inner).await;
        }
        let start = Instant::now();
        let result = VectorStore::health_check(&self.inner).await;
        Op::new(VECTOR, HEALTH_CHECK, start, result.as_ref().err()).emit(&self.config);
        result
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: ConversationStore> ConversationStore for Logging<S> {
    async fn append(&self, conversation: &str, messages: &[Message]) -> Result<()> {
        if !self.enabled() {
            return self.inner.append(conversation, messages).await;
        }
        let start = Instant::now();
        let result = self.inner.append(conversation, messages).await;
        let mut op = Op::new(CONVERSATION, "append", start, result.as_ref().err());
        op.conversation_id = Some(conversation);
        op.messages = Some(messages.len());
        op.content = message_texts(messages, self.config.content);
        op.emit(&self.config);
        result
    }

    async fn load(&self, conversation: &str, window: Window) -> Result<Vec<Message>> {
        if !self.enabled() {
            return self.inner.load(conversation, window).await;
        }
        let start = Instant::now();
        let result = self.inner.load(conversation, window).await;
        let mut op = Op::new(CONVERSATION, "load", start, result.as_ref().err());
        op.conversation_id = Some(conversation);
        op.window = Some(window);
        if let Ok(messages) = &result {
            op.messages = Some(messages.len());
            op.content = message_texts(messages, self.config.content);
        }
        op.emit(&self.config);
        result
    }

    async fn delete(&self, conversation: &str) -> Result<bool> {
        if !self.enabled() {
            return self.inner.delete(conversation).await;
        }
        let start = Instant::now();
        let result = self.inner.delete(conversation).await;
        let mut op = Op::new(CONVERSATION, "delete", start, result.as_ref().err());
        op.conversation_id = Some(conversation);
        op.existed = result.as_ref().ok().copied();
        op.emit(&self.config);
        result
    }

    async fn health_check(&self) -> Result<()> {
        if !self.enabled() && !enabled_at(self.config.health_level()) {
            return ConversationStore::health_check(&self.inner).await;
        }
        let start = Instant::now();
        let result = ConversationStore::health_check(&self.inner).await;
        Op::new(CONVERSATION, HEALTH_CHECK, start, result.as_ref().err()).emit(&self.config);
        result
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: PromptRegistry> PromptRegistry for Logging<S> {
    async fn get(&self, name: &str, selector: Selector) -> Result<std::sync::Arc<Prompt>> {
        if !self.enabled() {
            return self.inner.get(name, selector).await;
        }
        let logged = selector.clone();
        let start = Instant::now();
        let result = self.inner.get(name, selector).await;
        let mut op = Op::new(PROMPT, "get", start, result.as_ref().err());
        op.prompt_name = Some(name);
        op.selector = Some(&logged);
        if let Ok(prompt) = &result {
            op.prompt_version = Some(&prompt.version);
            op.prompt_hash = Some(&prompt.hash);
        }
        op.emit(&self.config);
        result
    }

    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        if !self.enabled() {
            return self.inner.render(name, selector, vars).await;
        }
        let logged = selector.clone();
        let start = Instant::now();
        let result = self.inner.render(name, selector, vars).await;
        let mut op = Op::new(PROMPT, "render", start, result.as_ref().err());
        op.prompt_name = Some(name);
        op.selector = Some(&logged);
        if let Ok(rendered) = &result {
            op.prompt_version = Some(&rendered.prompt.version);
            op.prompt_hash = Some(&rendered.prompt.hash);
            op.messages = Some(rendered.messages.len());
            op.content = message_texts(&rendered.messages, self.config.content);
        }
        op.emit(&self.config);
        result
    }

    async fn list(&self) -> Result<Vec<PromptRef>> {
        if !self.enabled() {
            return self.inner.list().await;
        }
        let start = Instant::now();
        let result = self.inner.list().await;
        let mut op = Op::new(PROMPT, "list", start, result.as_ref().err());
        op.prompts = result.as_ref().ok().map(Vec::len);
        op.emit(&self.config);
        result
    }

    async fn health_check(&self) -> Result<()> {
        if !self.enabled() && !enabled_at(self.config.health_level()) {
            return PromptRegistry::health_check(&self.inner).await;
        }
        let start = Instant::now();
        let result = PromptRegistry::health_check(&self.inner).await;
        Op::new(PROMPT, HEALTH_CHECK, start, result.as_ref().err()).emit(&self.config);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(policy: ContentPolicy, parts: &[&str]) -> Captured {
        let mut c = Capture::new(policy);
        for p in parts {
            c.push(p);
        }
        c.finish()
    }

    #[test]
    fn config_defaults_and_validation() {
        let c = LoggingConfig::default();
        assert_eq!(c.content(), ContentPolicy::None);
        assert_eq!(c.success_level(), Level::INFO);
        assert_eq!(c.failure_level(), Level::WARN);
        assert_eq!(c.health_level(), Level::DEBUG);
        assert_eq!(LoggingConfig::builder().build().unwrap(), c);

        let err = LoggingConfig::builder()
            .content(ContentPolicy::Full { max_chars: 0 })
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);

        let c = LoggingConfig::builder()
            .content(ContentPolicy::Full { max_chars: 3 })
            .success_level(Level::TRACE)
            .failure_level(Level::ERROR)
            .build()
            .unwrap();
        assert_eq!(c.health_level(), Level::TRACE);
        assert_eq!(c.failure_level(), Level::ERROR);
    }

    #[test]
    fn full_truncates_on_char_boundaries_across_pieces() {
        let full = |n| ContentPolicy::Full { max_chars: n };
        assert_eq!(
            text_of(full(4), &["héé", "llo"]).text.as_deref(),
            Some("héél")
        );
        assert_eq!(text_of(full(2), &["日本語"]).text.as_deref(), Some("日本"));
        assert_eq!(
            text_of(full(10), &["ab", "", "c"]).text.as_deref(),
            Some("abc")
        );
        assert_eq!(text_of(full(3), &["abc", "d"]).text.as_deref(), Some("abc"));
        assert_eq!(text_of(full(1), &["🦀🦀"]).text.as_deref(), Some("🦀"));
    }

    #[test]
    fn hash_is_a_sha256_prefix_independent_of_chunking() {
        let whole = text_of(ContentPolicy::Hash, &["hello world"]);
        let pieces = text_of(ContentPolicy::Hash, &["hel", "lo wo", "rld"]);
        assert_eq!(whole, pieces);
        // sha256("hello world") = b94d27b9934d3e08...
        assert_eq!(whole.sha256.as_deref(), Some("b94d27b9934d3e08"));
        assert_eq!(whole.text, None);
        assert_eq!(text_of(ContentPolicy::None, &["x"]), Captured::default());
    }

    #[test]
    fn messages_render_with_roles() {
        let msgs = [Message::system("be brief"), Message::user("hi")];
        assert_eq!(
            message_texts(&msgs, ContentPolicy::Full { max_chars: 100 })
                .text
                .as_deref(),
            Some("system: be brief\nuser: hi")
        );
        assert_eq!(message_chars(&msgs), 10);
    }

    #[test]
    fn span_name_formats_operation_and_model() {
        let name = SpanName {
            operation: CHAT,
            model: "gpt-x",
        };
        assert_eq!(name.to_string(), "chat gpt-x");
    }
}
