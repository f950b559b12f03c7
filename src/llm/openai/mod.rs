//! The OpenAI provider (Chat Completions and Embeddings APIs), which also serves every OpenAI-compatible
//! server (Ollama, vLLM, llama.cpp server, LiteLLM, Groq, Together) and Azure OpenAI.
//!
//! # Request shaping
//!
//! Each chat request is shaped by the [catalog](crate::llm::catalog) entry of the model actually called
//! (the request's model, else the pinned one), found under the names of
//! [`OpenAiConfig::catalog_providers`]:
//! - `output_tokens_param = "max_completion_tokens"` (o-series, GPT-5): the request's `max_tokens` is sent
//!   as `max_completion_tokens`;
//! - `sampling = "default_only"`: `temperature`, `top_p` and the penalties are sent only at their defaults
//!   (1, 1, 0); other values are left out with one warning per model and parameter
//!   ([`ShapingPolicy::Drop`](crate::llm::ShapingPolicy::Drop)), or refused before sending
//!   ([`ShapingPolicy::Strict`](crate::llm::ShapingPolicy::Strict)); `sampling = "rejected"` leaves out
//!   any value;
//! - `system_prompt = "developer_role"`: system messages go with role `developer`.
//!
//! A model the catalog does not know is sent as given (`max_tokens`, every parameter, role `system`) with
//! one warning per model. OpenAI-compatible servers are looked up under their own provider name only.

mod config;
mod stream;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap};

pub use config::{OPENAI_BASE_URL, OPENAI_EMBEDDING_BATCH, OpenAiConfig, OpenAiConfigBuilder};

use crate::llm::catalog::SystemPrompt;
use crate::llm::http::{ErrorInfo, Transport, event_stream, header_name, header_value};
use crate::llm::shaping::{Cause, Param, Shaper};
use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider, ToolCall,
    Usage,
};
use crate::{Error, Result};
use stream::OpenAiStreamDecoder;
use wire::{ChatBody, ChatCompletion, EmbedBody, EmbeddingList, Shape, finish_reason};

/// An [`LlmProvider`] speaking the OpenAI Chat Completions and Embeddings APIs.
///
/// ```no_run
/// use twelve_factor_ai::llm::{LlmProviderExt, OpenAi, OpenAiConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// // Reads OPENAI_API_KEY, OPENAI_BASE_URL and MODEL; nothing else does.
/// let llm = OpenAi::from_env()?;
/// println!("{}", llm.complete("Say hello").await?);
///
/// // Or fully in code, for a local Ollama:
/// let local = OpenAi::new(
///     OpenAiConfig::builder()
///         .model("llama3.2:3b")
///         .base_url("http://localhost:11434/v1")
///         .provider_name("ollama")
///         .build()?,
/// )?;
/// # let _ = local;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OpenAi {
    config: OpenAiConfig,
    transport: Transport,
    chat_url: String,
    embeddings_url: String,
    models_url: String,
    shaper: Shaper,
}

impl OpenAi {
    /// A provider for `config`. Never reads the environment.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the HTTP client cannot be built.
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            match config.azure_api_version {
                Some(_) => headers.insert("api-key", header_value("api-key", key.expose(), true)?),
                None => headers.insert(
                    AUTHORIZATION,
                    header_value("authorization", &format!("Bearer {}", key.expose()), true)?,
                ),
            };
        }
        if let Some(org) = &config.organization {
            headers.insert(
                "openai-organization",
                header_value("OpenAI-Organization", org, false)?,
            );
        }
        if let Some(project) = &config.project {
            headers.insert(
                "openai-project",
                header_value("OpenAI-Project", project, false)?,
            );
        }
        for (name, value) in &config.headers {
            // Extra headers often carry a gateway's credentials: never shown by reqwest's Debug.
            headers.insert(header_name(name)?, header_value(name, value, true)?);
        }
        let transport = Transport::new(
            &config.provider_name,
            config.http.clone(),
            headers,
            config.api_key.clone(),
        )?;
        if let Some(version) = &config.azure_api_version {
            tracing::debug!(
                gen_ai.provider.name = config.provider_name.as_str(),
                gen_ai.request.model = config.model.as_str(),
                api_version = version.as_str(),
                "Azure OpenAI provider built"
            );
        }
        let query = config
            .azure_api_version
            .as_ref()
            .map(|v| format!("?api-version={v}"))
            .unwrap_or_default();
        let base = &config.base_url;
        let models_url = match (
            config.azure_api_version.is_some(),
            base.find("/deployments/"),
        ) {
            // Azure lists models at the resource, not under a deployment.
            (true, Some(i)) => format!("{}/models{query}", &base[..i]),
            _ => format!("{base}/models{query}"),
        };
        Ok(OpenAi {
            shaper: Shaper::new(config.catalog.clone(), config.shaping),
            chat_url: format!("{base}/chat/completions{query}"),
            embeddings_url: format!("{base}/embeddings{query}"),
            models_url,
            transport,
            config,
        })
    }

    /// A provider configured from the environment ([`OpenAiConfig::from_env`]).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the missing or bad variable.
    pub fn from_env() -> Result<Self> {
        Self::new(OpenAiConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// What the catalog entry of `model` makes of `req` (see the [module docs](self)); also records the
    /// Azure `api-version` on the current span, next to the model.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) under the strict shaping policy.
    fn shape(&self, req: &ChatRequest, model: &str) -> Result<Shape> {
        if let Some(version) = &self.config.azure_api_version {
            // A no-op unless the current span declares the field (the Logging wrapper's span does).
            tracing::Span::current().record("api_version", version.as_str());
        }
        let providers = self.config.catalog_providers();
        let Some(info) = self.shaper.lookup(&providers, model) else {
            return Ok(Shape::as_given(req));
        };
        let [temperature, top_p, presence_penalty, frequency_penalty] = self.shaper.sampling(
            &self.config.provider_name,
            model,
            Cause::Catalog(info.sampling),
            [
                Param::new("temperature", req.temperature, 1.0),
                Param::new("top_p", req.top_p, 1.0),
                Param::new("presence_penalty", req.presence_penalty, 0.0),
                Param::new("frequency_penalty", req.frequency_penalty, 0.0),
            ],
        )?;
        Ok(Shape {
            temperature,
            top_p,
            presence_penalty,
            frequency_penalty,
            output_tokens: info.output_tokens_param,
            developer_role: info.system_prompt == SystemPrompt::DeveloperRole,
        })
    }

    fn decode_chat(
        &self,
        body: &[u8],
        requested_model: &str,
        request_id: Option<String>,
    ) -> Result<ChatResponse> {
        let ctx = self.transport.error_context(request_id.clone());
        let completion: ChatCompletion = serde_json::from_slice(body)
            .map_err(|e| ctx.decode_error(format!("chat completion is not valid JSON: {e}")))?;
        if let Some(error) = &completion.error {
            return Err(ctx.stream_error(&ErrorInfo::from_json(
                &serde_json::json!({ "error": error }),
            )));
        }
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| ctx.decode_error("chat completion has no choices"))?;
        let message = choice.message;
        let (content, tool_calls) = match message {
            Some(m) => {
                let content = m
                    .content
                    .map(wire::ContentIn::into_text)
                    .or(m.refusal)
                    .unwrap_or_default();
                let calls = m
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut c)| {
                        let (name, arguments) = match c.function.as_mut() {
                            Some(f) => (f.name.take().unwrap_or_default(), f.arguments_text()),
                            None => (String::new(), String::new()),
                        };
                        ToolCall::new(c.id.unwrap_or_else(|| format!("call_{i}")), name, arguments)
                    })
                    .collect::<Vec<_>>();
                (content, calls)
            }
            None => (String::new(), Vec::new()),
        };
        let finish = finish_reason(choice.finish_reason.as_deref(), !tool_calls.is_empty());
        let mut response =
            ChatResponse::text(self.config.provider_name.clone(), requested_model, content)
                .with_finish_reason(finish)
                .with_usage(
                    completion
                        .usage
                        .as_ref()
                        .map(wire::WireUsage::to_usage)
                        .unwrap_or_default(),
                );
        response.tool_calls = tool_calls;
        response.model = completion.model;
        response.provider_request_id = request_id;
        Ok(response)
    }

    async fn embed_batch(
        &self,
        req: &EmbedRequest,
        model: &str,
        inputs: &[String],
    ) -> Result<(Vec<Vec<f32>>, Usage)> {
        let body = serde_json::to_vec(&EmbedBody::new(req, model, inputs)).map_err(|e| {
            Error::invalid_request(format!("could not encode the embed request: {e}"))
        })?;
        let (meta, bytes) = self.transport.post_json(&self.embeddings_url, body).await?;
        let ctx = self.transport.error_context(meta.request_id);
        let list: EmbeddingList = serde_json::from_slice(&bytes)
            .map_err(|e| ctx.decode_error(format!("embedding list is not valid JSON: {e}")))?;
        if list.data.len() != inputs.len() {
            return Err(ctx.decode_error(format!(
                "asked for {} embeddings, got {}",
                inputs.len(),
                list.data.len()
            )));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; inputs.len()];
        for (position, item) in list.data.into_iter().enumerate() {
            let index = item.index.unwrap_or(position);
            match out.get_mut(index) {
                Some(slot @ None) => *slot = Some(item.embedding),
                _ => {
                    return Err(ctx.decode_error(format!(
                        "embedding index {index} is out of range or repeated"
                    )));
                }
            }
        }
        let vectors = out.into_iter().flatten().collect();
        let usage = list
            .usage
            .as_ref()
            .map(wire::WireUsage::to_usage)
            .unwrap_or_default();
        let _ = list.model;
        Ok((vectors, usage))
    }
}

/// The stream decoder, for [`testing::decode`](crate::testing::decode).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn stream_decoder(
    max_event_bytes: usize,
    ctx: crate::llm::http::ErrorContext,
) -> OpenAiStreamDecoder {
    OpenAiStreamDecoder::new(max_event_bytes, ctx)
}

fn encode(body: &ChatBody<'_>) -> Result<Vec<u8>> {
    serde_json::to_vec(body)
        .map_err(|e| Error::invalid_request(format!("could not encode the chat request: {e}")))
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl LlmProvider for OpenAi {
    fn name(&self) -> &str {
        &self.config.provider_name
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        req.validate()?;
        let model = req.model_or(&self.config.model);
        let shape = self.shape(&req, model)?;
        let body = encode(&ChatBody::new(&req, model, false, &shape))?;
        let (meta, bytes) = self.transport.post_json(&self.chat_url, body).await?;
        self.decode_chat(&bytes, model, meta.request_id)
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        req.validate()?;
        let model = req.model_or(&self.config.model);
        let shape = self.shape(&req, model)?;
        let body = encode(&ChatBody::new(&req, model, true, &shape))?;
        let (meta, response) = self.transport.post_stream(&self.chat_url, body).await?;
        let decoder = OpenAiStreamDecoder::new(
            self.config.http.max_event_bytes,
            self.transport.error_context(meta.request_id),
        );
        Ok(event_stream(self.transport.clone(), response, decoder))
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        req.validate()?;
        let model = req
            .model
            .clone()
            .unwrap_or_else(|| self.config.embedding_model().to_owned());
        let mut embeddings = Vec::with_capacity(req.inputs.len());
        let mut usage = Usage::default();
        for batch in req.inputs.chunks(self.config.embedding_batch_size) {
            let (vectors, batch_usage) = self.embed_batch(&req, &model, batch).await?;
            embeddings.extend(vectors);
            usage.input_tokens = add(usage.input_tokens, batch_usage.input_tokens);
        }
        let mut response = EmbedResponse::new(self.config.provider_name.clone(), model, embeddings);
        response.usage = usage;
        Ok(response)
    }

    async fn health_check(&self) -> Result<()> {
        let deadline = self
            .config
            .http
            .request_timeout
            .min(Duration::from_secs(10));
        self.transport.get_ok(&self.models_url, deadline).await
    }
}

fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}
