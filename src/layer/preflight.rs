//! [`ContextCheck`]: the pre-flight context check. A chat call whose estimated input plus requested output
//! does not fit the context window of the model called fails with
//! [`ContextLengthExceeded`](crate::ErrorKind::ContextLengthExceeded) before anything is sent.
//!
//! # What it checks
//!
//! Before `chat` and `chat_stream` it looks up the model called (the request's model, else the inner
//! provider's pinned one) under the inner provider's [`name`](LlmProvider::name) in the [`Catalog`], and
//! with the entry found:
//!
//! | the entry has | the call fails when |
//! |---|---|
//! | `max_input_tokens` | the estimated input exceeds it (GPT-5: 272,000 of its 400,000-token window) |
//! | `context_window` | the estimated input plus the requested `max_tokens` exceed it |
//!
//! The input is estimated by a [`TokenEstimator`] (by default the rate limiter's [`CharsPerToken`]: about
//! 4 bytes of text per token plus framing; plug in a real tokenizer for exact counts). The output counted
//! is the request's `max_tokens`; **a request without one counts no output**, because the model may then
//! use whatever the window leaves (OpenAI), and a provider's own default (the Anthropic provider's
//! `default_max_tokens`) is filled in below this layer. Put [`Defaults`](super::defaults::Defaults)
//! above this layer so a role's configured `max_tokens` is counted.
//!
//! A model the catalog does not know, or whose entry has no window, passes unchecked, with one debug
//! event per model id (at most 1,024 ids are remembered). Embedding calls and health checks pass
//! unchanged.
//!
//! # The error
//!
//! `ContextLengthExceeded`, marked [local](crate::Error::is_local) (raised by this crate, never retried),
//! naming the provider and the numbers: "estimated 130,512 input + 4,096 output tokens exceed the
//! 128,000-token context window of gpt-4o-2024-08-06 by 6,608; ...". The kind
//! [falls back](crate::Error::should_fallback): the next provider of a fallback chain has its own check
//! against its own window, which may be larger.
//!
//! # Where it sits
//!
//! Per provider, above its rate limiter: each model has its own window (so not above the fallback), and
//! a call refused here reserves no tokens and costs no attempt.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::rate_limit::{CharsPerToken, TokenEstimator};
use crate::llm::catalog::Catalog;
use crate::llm::{ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider};
use crate::{Error, ErrorKind, Result};

/// How many model ids without a window one wrapper remembers having logged.
const MAX_NOTED: usize = 1024;

/// The settings of a [`ContextCheck`]: the catalog that knows the windows, the estimator of input tokens,
/// and how far an estimate may exceed a window before the call is refused.
///
/// | setting | default | why |
/// |---|---|---|
/// | catalog | [`Catalog::builtin`] | the windows of the OpenAI and Anthropic models the crate ships; merge the host's own entries into a clone of it for other models |
/// | estimator | [`CharsPerToken::default`] | the estimate the rate limiter reserves with, so both layers agree |
/// | tolerance | 0 % | the default estimator is within about 10 % for English text, above or below; a host that would rather let a borderline call reach the provider than refuse it sets a few percent |
///
/// ```
/// use std::sync::Arc;
/// use twelve_factor_ai::layer::preflight::ContextCheckConfig;
/// use twelve_factor_ai::llm::catalog::{Catalog, ModelInfo, ModelKind};
///
/// let mut catalog = (*Catalog::builtin()).clone();
/// catalog.insert(ModelInfo::new("vllm", "qwen3-32b*", ModelKind::Chat).with_context_window(32_768));
/// let config = ContextCheckConfig::new().catalog(catalog).tolerance_percent(5);
/// assert_eq!(config.get_tolerance_percent(), 5);
/// assert!(config.get_catalog().lookup("vllm", "qwen3-32b-awq").is_some());
/// ```
#[derive(Clone)]
pub struct ContextCheckConfig {
    catalog: Arc<Catalog>,
    estimator: Arc<dyn TokenEstimator>,
    tolerance_percent: u16,
    also_as: Option<String>,
}

impl Default for ContextCheckConfig {
    fn default() -> Self {
        ContextCheckConfig {
            catalog: Catalog::builtin(),
            estimator: Arc::new(CharsPerToken::default()),
            tolerance_percent: 0,
            also_as: None,
        }
    }
}

impl fmt::Debug for ContextCheckConfig {
    /// The catalog by its size: its entries would fill a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextCheckConfig")
            .field("catalog_entries", &self.catalog.len())
            .field("estimator", &self.estimator)
            .field("tolerance_percent", &self.tolerance_percent)
            .field("also_as", &self.also_as)
            .finish()
    }
}

impl ContextCheckConfig {
    /// The defaults: the built-in catalog, the default estimator, no tolerance.
    pub fn new() -> Self {
        Self::default()
    }

    /// The catalog whose windows are checked (a [`Catalog`] or an `Arc` of one).
    pub fn catalog(mut self, catalog: impl Into<Arc<Catalog>>) -> Self {
        self.catalog = catalog.into();
        self
    }

    /// The estimator of a request's input tokens (a real tokenizer for exact counts).
    pub fn estimator(mut self, estimator: Arc<dyn TokenEstimator>) -> Self {
        self.estimator = estimator;
        self
    }

    /// How far, in percent of the limit, an estimate may exceed a window or input limit before the call
    /// is refused. Default 0.
    pub fn tolerance_percent(mut self, percent: u16) -> Self {
        self.tolerance_percent = percent;
        self
    }

    /// A second provider name to look the model up under when the wrapped provider's own name has no
    /// entry: `"openai"` for an Azure OpenAI provider, which serves OpenAI's models under the name
    /// `azure` (the request shaping of [`OpenAi`](crate::llm::OpenAi) does the same).
    pub fn also_as(mut self, provider: impl Into<String>) -> Self {
        self.also_as = Some(provider.into());
        self
    }

    /// The catalog.
    pub fn get_catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The estimator.
    pub fn get_estimator(&self) -> &Arc<dyn TokenEstimator> {
        &self.estimator
    }

    /// The tolerance in percent.
    pub fn get_tolerance_percent(&self) -> u16 {
        self.tolerance_percent
    }

    /// `limit` plus the tolerance.
    fn allowed(&self, limit: u32) -> u64 {
        let limit = u64::from(limit);
        limit + limit * u64::from(self.tolerance_percent) / 100
    }
}

/// A provider whose chat calls are refused, before anything is sent, when they cannot fit the context
/// window of the model called (see the [module docs](self) for what is counted and when).
///
/// Built with [`LlmStackExt::with_context_check`](super::LlmStackExt::with_context_check) or
/// [`ContextCheck::new`].
///
/// ```
/// use twelve_factor_ai::ErrorKind;
/// use twelve_factor_ai::layer::LlmStackExt;
/// use twelve_factor_ai::layer::preflight::ContextCheckConfig;
/// use twelve_factor_ai::llm::catalog::{Catalog, ModelInfo, ModelKind};
/// use twelve_factor_ai::llm::{ChatRequest, LlmProvider, Scripted};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// // A small model behind a provider named "scripted", with a 1,000-token window.
/// let catalog = Catalog::new()
///     .with(ModelInfo::new("scripted", "tiny-2024-01-01", ModelKind::Chat).with_context_window(1_000));
/// let llm = Scripted::new("tiny-2024-01-01")
///     .echo_when_empty()
///     .with_context_check(ContextCheckConfig::new().catalog(catalog));
///
/// // Fits: about 10 tokens in, 200 out.
/// let mut small = ChatRequest::user("What is the capital of France?");
/// small.max_tokens = Some(200);
/// llm.chat(small).await?;
///
/// // 4,000 bytes of text is about 1,000 tokens: with 200 more out, it cannot fit.
/// let mut big = ChatRequest::user("a".repeat(4_000));
/// big.max_tokens = Some(200);
/// let err = llm.chat(big).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
/// assert!(err.message().contains("exceed the 1,000-token context window of tiny-2024-01-01 by 207"));
/// assert_eq!(llm.get_ref().requests().len(), 1); // the big one was never sent
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ContextCheck<P> {
    inner: P,
    config: ContextCheckConfig,
    noted: Arc<Noted>,
}

impl<P: LlmProvider> ContextCheck<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, config: ContextCheckConfig) -> Self {
        ContextCheck {
            inner,
            config,
            noted: Arc::default(),
        }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The settings.
    pub fn config(&self) -> &ContextCheckConfig {
        &self.config
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// `Ok` when `req` fits the window of the model it calls, or the model has no known window.
    fn check(&self, req: &ChatRequest) -> Result<()> {
        let provider = self.inner.name();
        let model = req.model_or(self.inner.model());
        let found = self.config.catalog.lookup(provider, model).or_else(|| {
            self.config
                .also_as
                .as_deref()
                .and_then(|other| self.config.catalog.lookup(other, model))
        });
        let Some(info) = found else {
            self.noted
                .note(provider, model, "the model is not in the model catalog");
            return Ok(());
        };
        if info.max_input_tokens.is_none() && info.context_window.is_none() {
            self.noted
                .note(provider, model, "the catalog entry has no context window");
            return Ok(());
        }
        let input = self.config.estimator.estimate_chat(req);
        if let Some(limit) = info.max_input_tokens {
            if input > self.config.allowed(limit) {
                return Err(exceeded(
                    provider,
                    format!(
                        "estimated {} input tokens exceed the {}-token input limit of {model} by {}; \
                         shorten the conversation (a token-budget Window)",
                        thousands(input),
                        thousands(u64::from(limit)),
                        thousands(input - u64::from(limit)),
                    ),
                ));
            }
        }
        let Some(window) = info.context_window else {
            return Ok(());
        };
        let output = u64::from(req.max_tokens.unwrap_or(0));
        let total = input.saturating_add(output);
        if total <= self.config.allowed(window) {
            return Ok(());
        }
        let over = thousands(total - u64::from(window));
        let window = thousands(u64::from(window));
        let message = if output == 0 {
            format!(
                "estimated {} input tokens exceed the {window}-token context window of {model} by \
                 {over}; shorten the conversation (a token-budget Window)",
                thousands(input),
            )
        } else {
            format!(
                "estimated {} input + {} output tokens exceed the {window}-token context window of \
                 {model} by {over}; shorten the conversation (a token-budget Window) or lower max_tokens",
                thousands(input),
                thousands(output),
            )
        };
        Err(exceeded(provider, message))
    }
}

/// The refusal: `ContextLengthExceeded`, local, naming the provider.
fn exceeded(provider: &str, message: String) -> Error {
    Error::new(ErrorKind::ContextLengthExceeded, message)
        .with_provider(provider)
        .local()
}

/// `130512` as `130,512`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The model ids a wrapper has logged as unchecked, so each is logged once.
#[derive(Debug, Default)]
struct Noted(Mutex<HashSet<String>>);

impl Noted {
    fn note(&self, provider: &str, model: &str, why: &str) {
        // A poisoned lock only means a thread panicked while inserting; the set is still usable.
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() < MAX_NOTED && seen.insert(model.to_owned()) {
            tracing::debug!(
                provider,
                model,
                "no pre-flight context check for model {model}: {why}"
            );
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<P: LlmProvider> LlmProvider for ContextCheck<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        self.check(&req)?;
        self.inner.chat(req).await
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        self.check(&req)?;
        self.inner.chat_stream(req).await
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        self.inner.embed(req).await
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (130_512, "130,512"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(thousands(n), s);
        }
    }

    #[test]
    fn tolerance_widens_the_limit() {
        let c = ContextCheckConfig::new();
        assert_eq!(c.allowed(128_000), 128_000);
        let c = c.tolerance_percent(10);
        assert_eq!(c.allowed(128_000), 140_800);
        assert_eq!(c.tolerance_percent(u16::MAX).allowed(u32::MAX), {
            let l = u64::from(u32::MAX);
            l + l * u64::from(u16::MAX) / 100
        });
    }

    #[test]
    fn unchecked_models_are_remembered_up_to_a_bound() {
        let noted = Noted::default();
        for i in 0..MAX_NOTED + 10 {
            noted.note("p", &format!("m{i}"), "why");
        }
        noted.note("p", "m0", "why");
        assert_eq!(noted.0.lock().unwrap().len(), MAX_NOTED);
    }
}
