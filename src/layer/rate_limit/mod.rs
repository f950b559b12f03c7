//! [`RateLimit`]: keeps calls to a provider within requests-per-minute and tokens-per-minute budgets, on
//! this side of the wire, so the provider's own 429s become rare.
//!
//! **Reserve, then reconcile.** Before a call the wrapper reserves its *estimated* cost: the input tokens
//! its [`TokenEstimator`] guesses plus the most output the call may produce (`max_tokens`, or
//! [`default_output_tokens`](RateLimitConfigBuilder::default_output_tokens) when unset). After the call it
//! settles the reservation with the usage the provider reported: the unused part goes back to the budget
//! at once, and extra usage is taken, which may leave the budget in debt so later calls wait.
//!
//! **When the budget is spent**, [`RateLimitMode::Wait`] waits for capacity (up to `max_wait`) and
//! [`RateLimitMode::FailFast`] refuses at once. A refusal is an [`ErrorKind::RateLimited`] error marked
//! [`local`](Error::local) (so this crate's own retry layer never retries it, while a fallback chain does
//! move on), with [`retry_after`](Error::retry_after) set to the time until capacity and a message naming
//! the limit (rpm or tpm) and the limiter.
//!
//! **Where the budgets live** is a [`RateLimitBackend`]: by default a [`LocalBackend`] of its own per
//! wrapper (GCRA from `governor` for requests, a sliding-window ledger for tokens); a shared backend (Redis)
//! plugs in through [`RateLimitConfigBuilder::backend`] without changing the wrapper.
//!
//! | operation | reserves | settles with |
//! |---|---|---|
//! | `chat` | 1 request; estimated input + `max_tokens` (or the default output estimate) | the response's usage (unreported counts keep their estimate); on an error, the input estimate only (an error carries no output) |
//! | `chat_stream` | as `chat`, before the stream opens | the [`Usage`](StreamEvent::Usage) events the stream carried, when it ends, fails or is dropped; a stream that carried none keeps its whole reservation, since the provider may have generated up to `max_tokens` before it noticed; a stream that fails to open, as an error of `chat` |
//! | `embed` | 1 request; estimated input | the reported input tokens |
//! | `health_check` | nothing | — |
//!
//! A call whose future is dropped before it answers (a timeout outside this wrapper) keeps its whole
//! reservation, for the same reason as a dropped stream.
//!
//! **In a stack**, put it outside the retry layer (`provider.with_retry(..).with_rate_limit(..)`, the
//! order of DESIGN.md): a call is admitted once, its retries run within its reservation, and it is settled
//! with the usage of the answer that finally came back. A retry layer placed outside it never retries its
//! refusals (they are local); a fallback layer outside it moves on to the next provider.

mod backend;
mod estimator;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

pub use backend::{
    Acquire, Cost, Limit, LimitKey, Limits, LocalBackend, RateLimitBackend, Reservation, WINDOW,
};
pub use estimator::{CharsPerToken, TokenEstimator};

use super::names;
use super::observe::{StreamEnd, StreamObserver, observe};
use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider, RequestMeta,
    StreamEvent, Usage,
};
use crate::{Error, ErrorKind, Result};

/// What a [`RateLimit`] does when a call does not fit the budget now.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitMode {
    /// Wait for capacity, up to `max_wait` in all for one call; refuse as soon as the wait needed is known
    /// to end past it (without sleeping first).
    Wait {
        /// The longest one call may wait for capacity.
        max_wait: Duration,
    },
    /// Refuse at once.
    FailFast,
}

/// The default `max_wait` of [`RateLimitMode::Wait`].
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(30);

const DEFAULT_OUTPUT_TOKENS: NonZeroU32 = match NonZeroU32::new(1024) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// How a [`RateLimit`] limits. Build one with [`RateLimitConfig::builder`]; at least one of the two limits
/// must be set, and neither can be zero.
///
/// | setting | default | why |
/// |---|---|---|
/// | [`requests_per_minute`](RateLimitConfigBuilder::requests_per_minute) | off | set it to your provider tier's RPM (or a share of it per worker) |
/// | [`tokens_per_minute`](RateLimitConfigBuilder::tokens_per_minute) | off | set it to your tier's TPM; tokens are what large prompts exhaust first |
/// | [`mode`](RateLimitConfigBuilder::mode) | `Wait { max_wait: 30 s }` | short waits smooth a burst instead of failing it; past 30 s, about the deadline proxies and callers allow one request, a refusal (and a fallback) serves the caller better |
/// | [`default_output_tokens`](RateLimitConfigBuilder::default_output_tokens) | 1,024 | reserved for output when a request sets no `max_tokens`: room for a typical answer without holding a large share of the budget; reconciliation corrects it |
/// | [`estimator`](RateLimitConfigBuilder::estimator) | [`CharsPerToken::default()`] | about 4 bytes per token plus framing: free to compute, close enough for English; plug in a real tokenizer for exact counts |
/// | [`name`](RateLimitConfigBuilder::name) | `provider/model` of the wrapped provider | names the limiter in refusals and logs, and is the budget's key in the backend |
/// | [`per_tenant`](RateLimitConfigBuilder::per_tenant) | off | one budget per wrapper is what a provider account has; per tenant, each `RequestMeta::tenant` gets its own (calls without a tenant share one) |
/// | [`backend`](RateLimitConfigBuilder::backend) | a new [`LocalBackend`] per wrapper | budgets in process memory; share one backend (or use a shared store) for wrappers that must draw on one budget |
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::rate_limit::{RateLimitConfig, RateLimitMode};
///
/// let config = RateLimitConfig::builder()
///     .requests_per_minute(500)
///     .tokens_per_minute(90_000)
///     .mode(RateLimitMode::Wait { max_wait: Duration::from_secs(5) })
///     .build()?;
/// assert_eq!(config.limits().tokens_per_minute().map(|n| n.get()), Some(90_000));
///
/// let err = RateLimitConfig::builder().tokens_per_minute(0).build().unwrap_err();
/// assert_eq!(err.kind(), twelve_factor_ai::ErrorKind::Config);
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    limits: Limits,
    mode: RateLimitMode,
    default_output_tokens: NonZeroU32,
    estimator: Arc<dyn TokenEstimator>,
    name: Option<String>,
    per_tenant: bool,
    backend: Option<Arc<dyn RateLimitBackend>>,
}

impl RateLimitConfig {
    /// A builder with no limits set (set at least one) and the defaults for everything else.
    pub fn builder() -> RateLimitConfigBuilder {
        RateLimitConfigBuilder {
            requests_per_minute: None,
            tokens_per_minute: None,
            mode: RateLimitMode::Wait {
                max_wait: DEFAULT_MAX_WAIT,
            },
            default_output_tokens: DEFAULT_OUTPUT_TOKENS.get(),
            estimator: None,
            name: None,
            per_tenant: false,
            backend: None,
        }
    }

    /// The budgets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Wait or fail fast.
    pub fn mode(&self) -> RateLimitMode {
        self.mode
    }

    /// Output tokens reserved when a request sets no `max_tokens`.
    pub fn default_output_tokens(&self) -> NonZeroU32 {
        self.default_output_tokens
    }

    /// The input-token estimator.
    pub fn estimator(&self) -> &Arc<dyn TokenEstimator> {
        &self.estimator
    }

    /// The limiter's name, if set (else the wrapper uses `provider/model`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether each tenant has its own budget.
    pub fn per_tenant(&self) -> bool {
        self.per_tenant
    }

    /// The backend, if one was given (else each wrapper makes its own [`LocalBackend`]).
    pub fn backend(&self) -> Option<&Arc<dyn RateLimitBackend>> {
        self.backend.as_ref()
    }
}

/// Builds a [`RateLimitConfig`]; [`build`](RateLimitConfigBuilder::build) reports the first invalid
/// setting.
#[derive(Debug, Clone)]
pub struct RateLimitConfigBuilder {
    requests_per_minute: Option<u32>,
    tokens_per_minute: Option<u32>,
    mode: RateLimitMode,
    default_output_tokens: u32,
    estimator: Option<Arc<dyn TokenEstimator>>,
    name: Option<String>,
    per_tenant: bool,
    backend: Option<Arc<dyn RateLimitBackend>>,
}

impl RateLimitConfigBuilder {
    /// Requests allowed per minute (at least 1): bursts of up to this many, then one every
    /// `60 s / requests_per_minute` (GCRA). A full burst followed by the steady rate can let up to about
    /// twice this many through in one 60-second window; the token limit, by contrast, is an exact sliding
    /// window. Default: no request limit.
    pub fn requests_per_minute(mut self, requests: u32) -> Self {
        self.requests_per_minute = Some(requests);
        self
    }

    /// Tokens (input plus output) allowed per minute (at least 1): no one-minute window is granted more.
    /// Default: no token limit.
    pub fn tokens_per_minute(mut self, tokens: u32) -> Self {
        self.tokens_per_minute = Some(tokens);
        self
    }

    /// Wait (up to a maximum) or fail fast. Default `Wait { max_wait: 30 s }`.
    pub fn mode(mut self, mode: RateLimitMode) -> Self {
        self.mode = mode;
        self
    }

    /// Shorthand for `mode(RateLimitMode::Wait { max_wait })`.
    pub fn wait(self, max_wait: Duration) -> Self {
        self.mode(RateLimitMode::Wait { max_wait })
    }

    /// Shorthand for `mode(RateLimitMode::FailFast)`.
    pub fn fail_fast(self) -> Self {
        self.mode(RateLimitMode::FailFast)
    }

    /// Output tokens to reserve when a request sets no `max_tokens` (at least 1). Default 1,024.
    pub fn default_output_tokens(mut self, tokens: u32) -> Self {
        self.default_output_tokens = tokens;
        self
    }

    /// Estimates the input tokens of each request. Default [`CharsPerToken::default()`].
    pub fn estimator(mut self, estimator: Arc<dyn TokenEstimator>) -> Self {
        self.estimator = Some(estimator);
        self
    }

    /// Names the limiter (not empty): used in refusals and logs, and as the budget's key in the backend.
    /// Default `provider/model` of the wrapped provider.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Gives each tenant (`RequestMeta::tenant`) its own budgets; calls without a tenant share one.
    /// Default off: one budget per limiter.
    pub fn per_tenant(mut self, per_tenant: bool) -> Self {
        self.per_tenant = per_tenant;
        self
    }

    /// Keeps the budgets in `backend` (a shared [`LocalBackend`], or a store shared across processes).
    /// Default: a new [`LocalBackend`] for each wrapper.
    pub fn backend(mut self, backend: Arc<dyn RateLimitBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The configuration.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when neither limit is set, a limit or `default_output_tokens` is zero, or the
    /// name is empty.
    pub fn build(self) -> Result<RateLimitConfig> {
        fn non_zero(what: &str, n: Option<u32>) -> Result<Option<NonZeroU32>> {
            match n {
                None => Ok(None),
                Some(n) => NonZeroU32::new(n).map(Some).ok_or_else(|| {
                    Error::config(format!(
                        "rate limit: {what} must be at least 1 (leave it unset for no limit)"
                    ))
                }),
            }
        }
        let rpm = non_zero("requests_per_minute", self.requests_per_minute)?;
        let tpm = non_zero("tokens_per_minute", self.tokens_per_minute)?;
        if rpm.is_none() && tpm.is_none() {
            return Err(Error::config(
                "rate limit: set requests_per_minute, tokens_per_minute or both",
            ));
        }
        let default_output_tokens = NonZeroU32::new(self.default_output_tokens)
            .ok_or_else(|| Error::config("rate limit: default_output_tokens must be at least 1"))?;
        if self.name.as_deref() == Some("") {
            return Err(Error::config(
                "rate limit: the limiter name must not be empty",
            ));
        }
        Ok(RateLimitConfig {
            limits: Limits::new(rpm, tpm),
            mode: self.mode,
            default_output_tokens,
            estimator: self
                .estimator
                .unwrap_or_else(|| Arc::new(CharsPerToken::default())),
            name: self.name,
            per_tenant: self.per_tenant,
            backend: self.backend,
        })
    }
}

/// Limits the requests and tokens per minute sent to an inner [`LlmProvider`]: reserves each call's
/// estimated tokens before it, reconciles with the reported usage after it. See the
/// [module docs](self) for what each operation reserves and [`RateLimitConfig`] for the settings.
///
/// - Refusals are [`ErrorKind::RateLimited`], [`local`](Error::local) (never retried by this crate's
///   retry layer; a fallback chain moves on), with [`retry_after`](Error::retry_after) the time until
///   capacity. A call that needs more tokens than the whole per-minute budget is refused at once, in
///   either mode, without `retry_after`: it could never pass.
/// - Waiting is not a queue: a waiting call sleeps until the capacity it needs is due and tries again, so
///   smaller calls may overtake a large one; `max_wait` bounds how long any call waits.
/// - Each call that had to wait records its wait in seconds in the histogram [`names::RATE_LIMIT_WAIT`];
///   each refusal increments the counter [`names::RATE_LIMIT_REFUSALS`] (labels provider, request model,
///   operation); both also emit a `tracing` debug event.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::rate_limit::{RateLimit, RateLimitConfig};
/// use twelve_factor_ai::llm::{LlmProviderExt, Scripted};
/// use twelve_factor_ai::ErrorKind;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let config = RateLimitConfig::builder()
///     .requests_per_minute(2)
///     .tokens_per_minute(10_000)
///     .fail_fast()
///     .build()?;
/// let llm = RateLimit::new(Scripted::new("model-2024-01-01").echo_when_empty(), config);
/// assert_eq!(llm.complete("one").await?, "one");
/// assert_eq!(llm.complete("two").await?, "two");
///
/// let err = llm.complete("three").await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::RateLimited);
/// assert!(!err.is_retryable()); // our own refusal: our own retry layer leaves it alone
/// assert!(err.retry_after().unwrap() <= Duration::from_secs(30)); // one request every 30 s
/// assert!(err.message().contains("requests per minute"));
/// assert_eq!(llm.get_ref().requests().len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RateLimit<P> {
    inner: P,
    config: RateLimitConfig,
    limiter: Arc<str>,
    backend: Arc<dyn RateLimitBackend>,
}

impl<P: LlmProvider> RateLimit<P> {
    /// Wraps `inner`. Without a configured name the limiter is named `provider/model`; without a
    /// configured backend it gets a [`LocalBackend`] of its own.
    pub fn new(inner: P, config: RateLimitConfig) -> Self {
        let limiter: Arc<str> = match &config.name {
            Some(name) => name.as_str().into(),
            None => format!("{}/{}", inner.name(), inner.model()).into(),
        };
        let backend = config
            .backend
            .clone()
            .unwrap_or_else(|| Arc::new(LocalBackend::new()));
        RateLimit {
            inner,
            config,
            limiter,
            backend,
        }
    }
}

impl<P> RateLimit<P> {
    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The limiter's name: the configured one, or `provider/model`.
    pub fn limiter_name(&self) -> &str {
        &self.limiter
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

const OP_CHAT: &str = "chat";
const OP_EMBED: &str = "embeddings";

/// What one call reserves, in tokens: the input estimate and the output allowance.
#[derive(Debug, Clone, Copy)]
struct Plan {
    input: u64,
    output: u64,
}

impl Plan {
    const NONE: Plan = Plan {
        input: 0,
        output: 0,
    };

    fn tokens(self) -> u64 {
        self.input.saturating_add(self.output)
    }

    /// The tokens a call used: reported counts, else the estimate for the missing ones.
    fn actual(self, usage: &Usage) -> u64 {
        usage
            .input_tokens
            .unwrap_or(self.input)
            .saturating_add(usage.output_tokens.unwrap_or(self.output))
    }
}

/// Why a call is refused.
enum Refusal {
    FailFast,
    MaxWait(Duration),
    Oversize(Plan),
}

impl<P: LlmProvider> RateLimit<P> {
    fn has_token_limit(&self) -> bool {
        self.config.limits.tokens_per_minute().is_some()
    }

    fn plan_chat(&self, req: &ChatRequest) -> Plan {
        if !self.has_token_limit() {
            return Plan::NONE;
        }
        Plan {
            input: self.config.estimator.estimate_chat(req),
            output: u64::from(
                req.max_tokens
                    .unwrap_or(self.config.default_output_tokens.get()),
            ),
        }
    }

    fn tenant(&self, meta: &RequestMeta) -> Option<String> {
        if self.config.per_tenant {
            meta.tenant.clone()
        } else {
            None
        }
    }

    /// Takes `plan` (and one request) from the budgets, waiting as the mode allows.
    async fn admit(
        &self,
        tenant: Option<&str>,
        plan: Plan,
        operation: &'static str,
        model: &str,
    ) -> Result<Reservation> {
        let key = LimitKey::new(&self.limiter, tenant);
        let cost = Cost {
            requests: 1,
            tokens: plan.tokens(),
        };
        if let Some(tpm) = self.config.limits.tokens_per_minute() {
            if cost.tokens > u64::from(tpm.get()) {
                return Err(self.refuse(
                    Limit::TokensPerMinute,
                    None,
                    Refusal::Oversize(plan),
                    None,
                    operation,
                    model,
                ));
            }
        }
        let (wait, limit) = match self
            .backend
            .acquire(&key, &self.config.limits, cost)
            .await?
        {
            Acquire::Granted(reservation) => return Ok(reservation),
            Acquire::RetryAfter { wait, limit } => (wait, limit),
        };
        let max_wait = match self.config.mode {
            RateLimitMode::FailFast => {
                return Err(self.refuse(
                    limit,
                    Some(wait),
                    Refusal::FailFast,
                    None,
                    operation,
                    model,
                ));
            }
            RateLimitMode::Wait { max_wait } => max_wait,
        };
        // Boxed: the waiting loop (and its timer) stays out of the future of every call that never waits.
        Box::pin(self.wait_for_capacity(key, cost, wait, limit, max_wait, operation, model)).await
    }

    /// Waits until `cost` is granted, or refuses once the wait needed would end past `max_wait`.
    #[allow(clippy::too_many_arguments)] // private; one call site
    async fn wait_for_capacity(
        &self,
        key: LimitKey<'_>,
        cost: Cost,
        mut wait: Duration,
        mut limit: Limit,
        max_wait: Duration,
        operation: &'static str,
        model: &str,
    ) -> Result<Reservation> {
        let start = Instant::now();
        loop {
            let waited = start.elapsed();
            if wait > max_wait.saturating_sub(waited) {
                return Err(self.refuse(
                    limit,
                    Some(wait),
                    Refusal::MaxWait(max_wait),
                    Some(waited),
                    operation,
                    model,
                ));
            }
            tracing::debug!(
                limiter = key.limiter,
                tenant = key.tenant,
                limit = limit.as_str(),
                wait = ?wait,
                operation,
                "rate limit: waiting for capacity"
            );
            tokio::time::sleep(wait).await;
            match self
                .backend
                .acquire(&key, &self.config.limits, cost)
                .await?
            {
                Acquire::Granted(reservation) => {
                    self.record_wait(start.elapsed(), operation, model);
                    return Ok(reservation);
                }
                Acquire::RetryAfter {
                    wait: next_wait,
                    limit: next_limit,
                } => (wait, limit) = (next_wait, next_limit),
            }
        }
    }

    fn record_wait(&self, waited: Duration, operation: &'static str, model: &str) {
        metrics::histogram!(
            names::RATE_LIMIT_WAIT,
            names::PROVIDER_NAME => self.inner.name().to_owned(),
            names::REQUEST_MODEL => model.to_owned(),
            names::OPERATION_NAME => operation,
        )
        .record(waited.as_secs_f64());
    }

    fn refuse(
        &self,
        limit: Limit,
        wait: Option<Duration>,
        why: Refusal,
        waited: Option<Duration>,
        operation: &'static str,
        model: &str,
    ) -> Error {
        if let Some(waited) = waited.filter(|w| !w.is_zero()) {
            self.record_wait(waited, operation, model);
        }
        metrics::counter!(
            names::RATE_LIMIT_REFUSALS,
            names::PROVIDER_NAME => self.inner.name().to_owned(),
            names::REQUEST_MODEL => model.to_owned(),
            names::OPERATION_NAME => operation,
        )
        .increment(1);
        let budget = self.config.limits.get(limit).map_or(0, NonZeroU32::get);
        let message = match why {
            Refusal::Oversize(plan) => format!(
                "rate limiter {:?}: the call needs {} tokens (estimated input {} + output {}), more than \
                 the whole {} limit ({budget}), so it can never pass; lower max_tokens, shorten the \
                 input or raise the limit",
                self.limiter,
                plan.tokens(),
                plan.input,
                plan.output,
                limit.describe(),
            ),
            Refusal::FailFast => format!(
                "rate limiter {:?}: {} limit ({budget}) reached; capacity in {:?} (fail-fast mode)",
                self.limiter,
                limit.describe(),
                wait.unwrap_or_default(),
            ),
            Refusal::MaxWait(max_wait) => format!(
                "rate limiter {:?}: {} limit ({budget}) reached; capacity in {:?}, past max_wait {:?}",
                self.limiter,
                limit.describe(),
                wait.unwrap_or_default(),
                max_wait,
            ),
        };
        tracing::debug!(
            limiter = &*self.limiter,
            limit = limit.as_str(),
            retry_after = ?wait,
            operation,
            "rate limit: call refused"
        );
        let err = Error::new(ErrorKind::RateLimited, message).with_provider(self.inner.name());
        match wait {
            Some(wait) => err.with_retry_after(wait).local(),
            None => err.local(),
        }
    }

    fn settle(&self, tenant: Option<&str>, reservation: &Reservation, actual: u64) {
        settle(
            &*self.backend,
            &LimitKey::new(&self.limiter, tenant),
            &self.config.limits,
            reservation,
            actual,
        );
    }
}

/// Settles a reservation, logging (not failing) when the backend cannot.
fn settle(
    backend: &dyn RateLimitBackend,
    key: &LimitKey<'_>,
    limits: &Limits,
    reservation: &Reservation,
    actual: u64,
) {
    if limits.tokens_per_minute().is_none() || actual == reservation.tokens {
        return;
    }
    if let Err(e) = backend.reconcile(key, limits, reservation, actual) {
        tracing::warn!(
            limiter = key.limiter,
            error = %e,
            "rate limit: could not reconcile a reservation; the budget keeps the estimate"
        );
    }
}

/// Settles a stream's reservation from the usage events it carried, when it ends.
struct StreamSettle {
    backend: Arc<dyn RateLimitBackend>,
    limiter: Arc<str>,
    tenant: Option<String>,
    limits: Limits,
    reservation: Reservation,
    plan: Plan,
    usage: Option<Usage>,
}

impl StreamObserver for StreamSettle {
    fn on_event(&mut self, event: &StreamEvent) {
        if let StreamEvent::Usage { usage } = event {
            self.usage.get_or_insert_with(Usage::default).merge(usage);
        }
    }

    fn on_end(self, end: StreamEnd<'_>) {
        let Some(usage) = self.usage else {
            tracing::debug!(
                limiter = &*self.limiter,
                end = ?end,
                "rate limit: stream ended without usage; keeping its whole reservation"
            );
            return;
        };
        settle(
            &*self.backend,
            &LimitKey::new(&self.limiter, self.tenant.as_deref()),
            &self.limits,
            &self.reservation,
            self.plan.actual(&usage),
        );
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: LlmProvider> LlmProvider for RateLimit<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let plan = self.plan_chat(&req);
        let tenant = self.tenant(&req.meta);
        let reservation = self
            .admit(
                tenant.as_deref(),
                plan,
                OP_CHAT,
                req.model_or(self.inner.model()),
            )
            .await?;
        let result = self.inner.chat(req).await;
        let actual = match &result {
            Ok(r) => plan.actual(&r.usage),
            // A refusal by a layer below (an open circuit, a drain) sent nothing: refund it all.
            Err(e) if e.is_local() => 0,
            Err(_) => plan.input,
        };
        self.settle(tenant.as_deref(), &reservation, actual);
        result
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let plan = self.plan_chat(&req);
        let tenant = self.tenant(&req.meta);
        let reservation = self
            .admit(
                tenant.as_deref(),
                plan,
                OP_CHAT,
                req.model_or(self.inner.model()),
            )
            .await?;
        match self.inner.chat_stream(req).await {
            Ok(stream) if self.has_token_limit() => Ok(observe(
                stream,
                StreamSettle {
                    backend: Arc::clone(&self.backend),
                    limiter: Arc::clone(&self.limiter),
                    tenant,
                    limits: self.config.limits,
                    reservation,
                    plan,
                    usage: None,
                },
            )),
            Ok(stream) => Ok(stream),
            Err(e) => {
                self.settle(tenant.as_deref(), &reservation, plan.input);
                Err(e)
            }
        }
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let plan = Plan {
            input: if self.has_token_limit() {
                self.config.estimator.estimate_embed(&req)
            } else {
                0
            },
            output: 0,
        };
        let tenant = self.tenant(&req.meta);
        let model = req.model.as_deref().unwrap_or(self.inner.model());
        let reservation = self.admit(tenant.as_deref(), plan, OP_EMBED, model).await?;
        let result = self.inner.embed(req).await;
        let actual = match &result {
            Ok(r) => plan.actual(&r.usage),
            // A refusal by a layer below (an open circuit, a drain) sent nothing: refund it all.
            Err(e) if e.is_local() => 0,
            Err(_) => plan.input,
        };
        self.settle(tenant.as_deref(), &reservation, actual);
        result
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{LlmProviderExt, Scripted};

    #[test]
    fn config_rejects_what_cannot_work() {
        let kind = |b: RateLimitConfigBuilder| b.build().unwrap_err().kind();
        assert_eq!(kind(RateLimitConfig::builder()), ErrorKind::Config);
        assert_eq!(
            kind(RateLimitConfig::builder().requests_per_minute(0)),
            ErrorKind::Config
        );
        assert_eq!(
            kind(
                RateLimitConfig::builder()
                    .tokens_per_minute(0)
                    .requests_per_minute(5)
            ),
            ErrorKind::Config
        );
        assert_eq!(
            kind(
                RateLimitConfig::builder()
                    .tokens_per_minute(5)
                    .default_output_tokens(0)
            ),
            ErrorKind::Config
        );
        assert_eq!(
            kind(RateLimitConfig::builder().tokens_per_minute(5).name("")),
            ErrorKind::Config
        );
        let c = RateLimitConfig::builder()
            .requests_per_minute(5)
            .build()
            .unwrap();
        assert_eq!(
            c.limits().requests_per_minute().map(NonZeroU32::get),
            Some(5)
        );
        assert_eq!(c.limits().tokens_per_minute(), None);
        assert_eq!(
            c.mode(),
            RateLimitMode::Wait {
                max_wait: DEFAULT_MAX_WAIT
            }
        );
        assert_eq!(c.default_output_tokens().get(), 1024);
        assert!(!c.per_tenant());
        assert!(c.backend().is_none());
        assert!(c.name().is_none());
    }

    #[test]
    fn plan_counts_reported_usage_and_keeps_estimates_for_the_rest() {
        let plan = Plan {
            input: 100,
            output: 50,
        };
        assert_eq!(plan.tokens(), 150);
        assert_eq!(plan.actual(&Usage::default()), 150);
        let only_output = Usage {
            output_tokens: Some(7),
            ..Usage::default()
        };
        assert_eq!(plan.actual(&only_output), 107);
        let both = Usage {
            input_tokens: Some(90),
            output_tokens: Some(7),
            ..Usage::default()
        };
        assert_eq!(plan.actual(&both), 97);
    }

    #[tokio::test(start_paused = true)]
    async fn default_name_is_provider_and_model_and_rpm_only_skips_estimation() {
        let config = RateLimitConfig::builder()
            .requests_per_minute(1)
            .fail_fast()
            .build()
            .unwrap();
        let llm = RateLimit::new(Scripted::new("m").echo_when_empty(), config);
        assert_eq!(llm.limiter_name(), "scripted/m");
        assert_eq!(llm.plan_chat(&ChatRequest::user("hello")).tokens(), 0);
        llm.complete("a").await.unwrap();
        let err = llm.complete("b").await.unwrap_err();
        assert!(err.message().contains("\"scripted/m\""), "{err}");
        assert!(err.is_local());
        assert_eq!(err.provider(), Some("scripted"));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
        assert_eq!(llm.into_inner().requests().len(), 1);
    }
}
