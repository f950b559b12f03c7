//! The Anthropic provider: the Messages API (`POST {base}/v1/messages`), plain and streamed.
//!
//! [`Anthropic`] implements [`LlmProvider`] over the crate's shared HTTP transport; build it from an
//! [`AnthropicConfig`] (or from the environment with [`Anthropic::from_env`]).
//!
//! # How requests map to the Messages API
//!
//! - System messages become the top-level `system` text (several are joined with blank lines).
//! - User and assistant messages become content blocks (`text`, `image` with a `url` or, for `data:` URLs,
//!   a `base64` source, `tool_use`); tool results become `tool_result` blocks in a user message.
//!   Consecutive messages of one role are merged, as the API wants alternating roles and parallel tool
//!   results in one message. The participant `name` and an image's `detail` hint have no equivalent and
//!   are not sent.
//! - `max_tokens` is the request's, else [`AnthropicConfigBuilder::max_tokens`] (the API requires one).
//! - `temperature`, `top_p`, stop sequences, tools and tool choice map one to one (`Required` is
//!   `{"type":"any"}`), after request shaping (below). `seed` is best-effort by definition and is not
//!   sent, as Anthropic has none.
//! - `presence_penalty`, `frequency_penalty` and a JSON or JSON-schema response format have no
//!   Messages API equivalent: such a request fails with [`ErrorKind::Unsupported`] naming the parameter,
//!   never silently ignoring it.
//!
//! # Request shaping and the pinned API version
//!
//! The [catalog](crate::llm::catalog) entry of the model actually called (the request's model, else the
//! pinned one; looked up under [`AnthropicConfig::catalog_providers`]) decides whether `temperature` and
//! `top_p` are sent: models with `sampling = "rejected"` (Claude Opus 4.7 and later) get neither. The
//! pinned `anthropic-version` ([`AnthropicConfigBuilder::version`], default `2023-06-01`) adds its own
//! rules: `2026-10-21` refuses sampling parameters on every model and wants the key as
//! `Authorization: Bearer` instead of `x-api-key`. A parameter left out is logged once per model and
//! parameter ([`ShapingPolicy::Drop`](crate::llm::ShapingPolicy::Drop), the default) or refused before
//! sending ([`ShapingPolicy::Strict`](crate::llm::ShapingPolicy::Strict)). The version in use is recorded
//! as `api_version` on the current span (the `Logging` wrapper's call span), next to the model.
//!
//! # How responses map back
//!
//! Text blocks are concatenated; `tool_use` blocks become [`ToolCall`](crate::llm::ToolCall)s with their
//! input as JSON text; other blocks (thinking, server tools) are skipped. Stop reasons: `end_turn` and
//! `stop_sequence` → [`FinishReason::Stop`](crate::llm::FinishReason::Stop), `max_tokens` and
//! `model_context_window_exceeded` → `Length`, `tool_use` → `ToolCalls`, `refusal` → `ContentFilter`,
//! anything else → `Other`. Usage counts all input: `input_tokens` is Anthropic's uncached input plus
//! cache reads plus cache writes, with the cache parts also reported on their own.

mod config;
mod stream;
mod version;
mod wire;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;

pub use config::{
    ANTHROPIC_BASE_URL, ANTHROPIC_DEFAULT_MAX_TOKENS, ANTHROPIC_VERSION, AnthropicConfig,
    AnthropicConfigBuilder,
};

use super::catalog::Sampling;
use super::http::{Transport, event_stream, header_name, header_value};
use super::shaping::{Cause, Param, Shaper};
use super::{ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider};
use crate::{Error, ErrorKind, Result};
use version::Rules;

/// The longest a health check waits (or the request timeout, when that is shorter): a health probe that
/// takes longer than this is a failure worth reporting, not worth waiting for.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// An [`LlmProvider`] for Anthropic's Messages API.
///
/// `new` never reads the environment; [`Anthropic::from_env`] does, as a separate, named step.
/// `Debug` does not show the API key.
///
/// ```
/// use twelve_factor_ai::llm::{Anthropic, AnthropicConfig, LlmProvider};
///
/// let claude = Anthropic::new(
///     AnthropicConfig::builder()
///         .model("claude-sonnet-4-20250514")
///         .api_key("sk-ant-example")
///         .build()?,
/// )?;
/// assert_eq!(claude.name(), "anthropic");
/// assert_eq!(claude.model(), "claude-sonnet-4-20250514");
/// assert!(!format!("{claude:?}").contains("sk-ant-example"));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
///
/// A call (needs a key and the network):
///
/// ```no_run
/// use twelve_factor_ai::llm::{Anthropic, ChatRequest, LlmProvider};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let claude = Anthropic::from_env()?; // ANTHROPIC_API_KEY, MODEL, optional ANTHROPIC_BASE_URL
/// let answer = claude.chat(ChatRequest::user("Say hello.")).await?;
/// println!("{} ({:?} tokens)", answer.content, answer.usage.total_tokens());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Anthropic {
    config: AnthropicConfig,
    transport: Transport,
    messages_url: String,
    models_url: String,
    shaper: Shaper,
    rules: Rules,
}

impl fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anthropic")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Anthropic {
    /// A provider for this configuration. Does not read the environment and makes no call.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the HTTP client cannot be built.
    pub fn new(config: AnthropicConfig) -> Result<Anthropic> {
        let (rules, known) = Rules::of(&config.version);
        if !known {
            tracing::warn!(
                gen_ai.provider.name = config.provider_name.as_str(),
                api_version = config.version.as_str(),
                "anthropic-version {} is not one this crate knows (2023-06-01, {}): requests follow the \
                 rules of {} (auth header, sampling parameters); pin a known version to be sure",
                config.version,
                version::NEWEST_KNOWN,
                rules.name()
            );
        }
        tracing::debug!(
            gen_ai.provider.name = config.provider_name.as_str(),
            gen_ai.request.model = config.model.as_str(),
            api_version = config.version.as_str(),
            "Anthropic provider built"
        );
        let headers = default_headers(&config)?;
        let transport = Transport::new(
            &config.provider_name,
            config.http.clone(),
            headers,
            config.api_key.clone(),
        )?;
        Ok(Anthropic {
            messages_url: format!("{}/v1/messages", config.base_url),
            models_url: format!("{}/v1/models", config.base_url),
            shaper: Shaper::new(config.catalog.clone(), config.shaping),
            rules,
            config,
            transport,
        })
    }

    /// A provider configured from `ANTHROPIC_API_KEY`, `MODEL` and `ANTHROPIC_BASE_URL`
    /// ([`AnthropicConfig::from_env`]).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the first missing or bad value.
    pub fn from_env() -> Result<Anthropic> {
        Anthropic::new(AnthropicConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    /// Checks the request and encodes the body; errors name this provider.
    fn encode(&self, req: &ChatRequest, stream: bool) -> Result<(String, Vec<u8>)> {
        let named = |e: Error| e.with_provider(self.config.provider_name.clone());
        req.validate().map_err(named)?;
        let model = req.model_or(&self.config.model);
        let sampled = self.shape(req, model).map_err(named)?;
        let body = wire::encode_shaped(req, model, self.config.max_tokens, stream, sampled)
            .map_err(named)?;
        Ok((model.to_owned(), body))
    }

    /// The sampling values to send to `model`: the pinned version's rules, else the model's catalog entry
    /// (see the [module docs](self)). Records the version on the current span.
    fn shape(&self, req: &ChatRequest, model: &str) -> Result<wire::Sampled> {
        // A no-op unless the current span declares the field (the Logging wrapper's span does).
        tracing::Span::current().record("api_version", self.config.version.as_str());
        let providers = self.config.catalog_providers();
        let info = self.shaper.lookup(&providers, model);
        let cause = if self.rules.rejects_sampling() {
            Cause::ApiVersion {
                header: "anthropic-version",
                version: &self.config.version,
            }
        } else {
            Cause::Catalog(info.map_or(Sampling::Accepted, |i| i.sampling))
        };
        let [temperature, top_p] = self.shaper.sampling(
            &self.config.provider_name,
            model,
            cause,
            [
                Param::new("temperature", req.temperature, 1.0),
                Param::new("top_p", req.top_p, 1.0),
            ],
        )?;
        Ok(wire::Sampled { temperature, top_p })
    }
}

/// The stream decoder of this provider, for `testing::decode` (the same shape as the OpenAI provider's).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn stream_decoder(
    max_event_bytes: usize,
    ctx: crate::llm::http::ErrorContext,
) -> stream::StreamDecoder {
    stream::StreamDecoder::new(ctx, max_event_bytes)
}

/// The headers of every request: the key (sensitive; `x-api-key`, or `Authorization: Bearer` when the
/// version wants it), `anthropic-version`, `anthropic-beta`, then the extra headers, which replace defaults
/// of the same name.
fn default_headers(config: &AnthropicConfig) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(key) = &config.api_key {
        if Rules::of(&config.version).0.bearer_auth() {
            let bearer = format!("Bearer {}", key.expose());
            headers.insert(
                reqwest::header::AUTHORIZATION,
                header_value("authorization", &bearer, true)?,
            );
        } else {
            headers.insert("x-api-key", header_value("x-api-key", key.expose(), true)?);
        }
    }
    headers.insert(
        "anthropic-version",
        header_value("anthropic-version", &config.version, false)?,
    );
    if !config.betas.is_empty() {
        headers.insert(
            "anthropic-beta",
            header_value("anthropic-beta", &config.betas.join(","), false)?,
        );
    }
    for (name, value) in &config.headers {
        let parsed = header_name(name)?;
        headers.insert(parsed, header_value(name, value, true)?);
    }
    Ok(headers)
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl LlmProvider for Anthropic {
    fn name(&self) -> &str {
        &self.config.provider_name
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let (model, body) = self.encode(&req, false)?;
        let (meta, bytes) = self.transport.post_json(&self.messages_url, body).await?;
        let ctx = self.transport.error_context(meta.request_id);
        wire::decode_response(&bytes, &ctx, model)
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let (_model, body) = self.encode(&req, true)?;
        let (meta, response) = self.transport.post_stream(&self.messages_url, body).await?;
        let decoder = stream::StreamDecoder::new(
            self.transport.error_context(meta.request_id),
            self.config.http.max_event_bytes,
        );
        Ok(event_stream(self.transport.clone(), response, decoder))
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let _ = req;
        Err(Error::new(
            ErrorKind::Unsupported,
            "Anthropic offers no embeddings API; configure an embedding provider (OpenAI, or Voyage AI, \
             which Anthropic recommends) for embeddings",
        )
        .with_provider(self.config.provider_name.clone()))
    }

    async fn health_check(&self) -> Result<()> {
        let timeout = HEALTH_CHECK_TIMEOUT.min(self.config.http.request_timeout);
        self.transport.get_ok(&self.models_url, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_set_and_the_key_is_sensitive() {
        let config = AnthropicConfig::builder()
            .model("m")
            .api_key("sk-ant-k")
            .beta("a-1")
            .beta("b-2")
            .header("anthropic-version", "2099-01-01")
            .header("x-trace", "t")
            .build()
            .unwrap();
        let h = default_headers(&config).unwrap();
        assert_eq!(h["x-api-key"], "sk-ant-k");
        assert!(h["x-api-key"].is_sensitive());
        assert_eq!(h["anthropic-beta"], "a-1,b-2");
        assert_eq!(
            h["anthropic-version"], "2099-01-01",
            "extra headers replace defaults"
        );
        assert_eq!(h["x-trace"], "t");
    }

    #[test]
    fn version_2026_10_21_authenticates_with_bearer() {
        let config = AnthropicConfig::builder()
            .model("m")
            .api_key("sk-ant-k")
            .version("2026-10-21")
            .build()
            .unwrap();
        let h = default_headers(&config).unwrap();
        assert!(h.get("x-api-key").is_none());
        assert_eq!(h["authorization"], "Bearer sk-ant-k");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["anthropic-version"], "2026-10-21");
    }

    #[test]
    fn no_key_no_header() {
        let config = AnthropicConfig::builder()
            .model("m")
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        let h = default_headers(&config).unwrap();
        assert!(h.get("x-api-key").is_none());
        assert_eq!(h["anthropic-version"], "2023-06-01");
    }

    #[tokio::test]
    async fn embed_is_unsupported_and_requests_are_checked_before_sending() {
        let p = Anthropic::new(
            AnthropicConfig::builder()
                .model("m")
                .base_url("http://127.0.0.1:1")
                .build()
                .unwrap(),
        )
        .unwrap();
        let err = p.embed(EmbedRequest::new(["x"])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.message().contains("Anthropic"), "{err}");
        assert_eq!(err.provider(), Some("anthropic"));

        let empty = ChatRequest::from_messages(Vec::new());
        let err = p.chat(empty.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.provider(), Some("anthropic"));
        assert_eq!(
            p.chat_stream(empty).await.err().map(|e| e.kind()),
            Some(ErrorKind::InvalidRequest)
        );
        let mut req = ChatRequest::user("x");
        req.presence_penalty = Some(0.5);
        let err = p.chat(req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.message().contains("presence_penalty"), "{err}");
    }
}
