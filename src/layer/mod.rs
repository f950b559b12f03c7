//! Composable wrappers: retry, fallback, timeout, circuit breaker, rate limit, cache, logging, metrics,
//! drain. Each wraps a provider (logging and metrics also wrap the vector and conversation stores) and is
//! itself one, so a stack is built by wrapping, from the inside out, with the methods of [`LlmStackExt`]
//! and [`LayerExt`].
//!
//! # The recommended order
//!
//! A call enters at the top and goes down; the response comes back up. Each provider gets its own stack
//! (timeout, circuit breaker, retry, rate limit), the fallback chain joins them, and the layers above see
//! every call once:
//!
//! ```text
//!  caller
//!    │
//!    ▼
//!  Drain          refuses new calls while shutting down; counts calls and open streams in flight
//!  Metrics        one duration / token / error record per call (the facade; you install the recorder)
//!  Logging        one structured tracing event per call; content redacted by default
//!  Cache          a hit answers here, nothing below runs
//!  Cost           prices each answer by the model that answered (cost_usd; a final cost event on streams)
//!  Fallback ───────────────────────────────┬──────────────────────────────┐
//!    │ primary                             │ next                          │ ...
//!  ContextCheck  refuse what cannot fit   ContextCheck   (per provider: each model has its own window)
//!  RateLimit   reserve tokens, reconcile  RateLimit                       ...
//!  Retry       backoff, Retry-After       Retry
//!  CircuitBreaker  fail fast when dead    CircuitBreaker
//!  Timeout     per attempt                Timeout
//!  OpenAi                                 Anthropic
//! ```
//!
//! Why this order: the timeout is per attempt so a hung attempt is retried; the circuit breaker sees
//! every attempt and, once open, fails fast with `CircuitOpen`, which retry does not retry and fallback
//! skips at once; the rate limiter sits above retry so its own refusal (a local `RateLimited`) is never
//! retried and one logical call reserves tokens once; cost sits above the fallback so each answer is
//! priced by the model that actually gave it, and below the cache so a hit keeps the cost it was stored
//! with; the cache sits above the fallback so a hit costs no provider; logging and metrics see what the caller sees (cache hits included); drain is outermost
//! so it can refuse new calls before anything else runs.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use twelve_factor_ai::layer::cache::CacheConfig;
//! use twelve_factor_ai::layer::circuit::CircuitConfig;
//! use twelve_factor_ai::layer::fallback::FallbackConfig;
//! use twelve_factor_ai::layer::logging::LoggingConfig;
//! use twelve_factor_ai::layer::metrics::MetricsConfig;
//! use twelve_factor_ai::layer::rate_limit::RateLimitConfig;
//! use twelve_factor_ai::layer::retry::RetryConfig;
//! use twelve_factor_ai::layer::timeout::TimeoutConfig;
//! use twelve_factor_ai::layer::{LayerExt, LlmStackExt};
//! use twelve_factor_ai::llm::{LlmProvider, LlmProviderExt, ModelPrice, PriceTable, Scripted};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> twelve_factor_ai::Result<()> {
//! // Each provider with its own stack (Scripted here; OpenAi / Anthropic in production).
//! let per_provider = |p: Scripted| -> twelve_factor_ai::Result<Arc<dyn LlmProvider>> {
//!     Ok(p.with_timeout(TimeoutConfig::default())
//!         .with_circuit_breaker(CircuitConfig::default())
//!         .with_retry(RetryConfig::default())
//!         .with_rate_limit(RateLimitConfig::builder().requests_per_minute(600).tokens_per_minute(200_000).build()?)
//!         .boxed())
//! };
//! let primary = per_provider(Scripted::new("primary-2024-01-01").echo_when_empty())?;
//! let backup = per_provider(Scripted::new("backup-2024-01-01").echo_when_empty())?;
//!
//! let prices = PriceTable::new()
//!     .with_price("primary-2024-01-01", ModelPrice::new(2.5, 10.0))
//!     .with_price("backup-2024-01-01", ModelPrice::new(3.0, 15.0));
//! let (llm, drain) = primary
//!     .with_fallback([backup], FallbackConfig::default())
//!     .with_prices(prices)
//!     .with_cache(CacheConfig::default())
//!     .with_logging(LoggingConfig::default())
//!     .with_metrics(MetricsConfig::default())
//!     .with_drain();
//! // Store it without naming its type.
//! let llm: Arc<dyn LlmProvider> = Arc::new(llm);
//!
//! assert_eq!(llm.complete("hello").await?, "hello");
//! let report = drain.shutdown(Duration::from_secs(5)).await;
//! assert_eq!(report.still_running, 0);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use crate::llm::{LlmProvider, PriceTable};

pub mod cache;
pub mod circuit;
pub mod cost;
pub mod defaults;
pub mod drain;
pub mod fallback;
pub mod logging;
pub mod metrics;
pub mod names;
mod observe;
pub mod preflight;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

use cache::{Cache, CacheConfig};
use circuit::{CircuitBreaker, CircuitConfig};
use cost::Cost;
use defaults::{Defaults, RequestDefaults};
use drain::{Drain, DrainHandle};
use fallback::{Fallback, FallbackConfig};
use logging::{Logging, LoggingConfig};
use metrics::{Metrics, MetricsConfig};
use preflight::{ContextCheck, ContextCheckConfig};
use rate_limit::{RateLimit, RateLimitConfig};
use retry::{Retry, RetryConfig};
use timeout::{Timeout, TimeoutConfig};

/// Stacking methods for every [`LlmProvider`], read from the inside out (see the [module docs](self) for
/// the recommended order). Implemented for all providers; never implement it by hand.
pub trait LlmStackExt: LlmProvider + Sized {
    /// Limits each call: a total deadline, time to first chunk, idle time between chunks.
    fn with_timeout(self, config: TimeoutConfig) -> Timeout<Self> {
        Timeout::new(self, config)
    }

    /// Fills in the temperature and output-token limit of requests that set none (a model role's
    /// configured parameters).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a temperature outside `0..=2` or a zero limit.
    fn with_defaults(self, defaults: RequestDefaults) -> crate::Result<Defaults<Self>> {
        Defaults::new(self, defaults)
    }

    /// Fails fast with `CircuitOpen` while the provider looks dead, letting one probe through after a
    /// cool-down.
    fn with_circuit_breaker(self, config: CircuitConfig) -> CircuitBreaker<Self> {
        CircuitBreaker::new(self, config)
    }

    /// Retries transient failures with backoff, honouring `Retry-After`.
    fn with_retry(self, config: RetryConfig) -> Retry<Self> {
        Retry::new(self, config)
    }

    /// Refuses a chat call whose estimated input plus requested output exceeds the model's context
    /// window (from the model catalog) with `ContextLengthExceeded`, before anything is sent.
    fn with_context_check(self, config: ContextCheckConfig) -> ContextCheck<Self> {
        ContextCheck::new(self, config)
    }

    /// Limits requests and tokens per minute, reserving before each call and reconciling after it.
    fn with_rate_limit(self, config: RateLimitConfig) -> RateLimit<Self> {
        RateLimit::new(self, config)
    }

    /// Makes this provider the first of a fallback chain; `others` are tried in order.
    fn with_fallback(
        self,
        others: impl IntoIterator<Item = Arc<dyn LlmProvider>>,
        config: FallbackConfig,
    ) -> Fallback
    where
        Self: 'static,
    {
        Fallback::from_primary(self, others, config)
    }

    /// Prices every answer from `prices` (a [`PriceTable`] or an `Arc` of one): sets `cost_usd`, and ends
    /// each complete stream with a cost event.
    fn with_prices(self, prices: impl Into<Arc<PriceTable>>) -> Cost<Self> {
        Cost::new(self, prices)
    }

    /// Answers repeated deterministic requests from a cache.
    fn with_cache(self, config: CacheConfig) -> Cache<Self> {
        Cache::new(self, config)
    }

    /// Counts calls in flight and refuses new ones once the returned handle starts a shutdown.
    fn with_drain(self) -> (Drain<Self>, DrainHandle) {
        Drain::new(self)
    }

    /// Like [`with_drain`](Self::with_drain), sharing an existing handle (one shutdown for several stacks).
    fn with_drain_handle(self, handle: DrainHandle) -> Drain<Self> {
        Drain::with_handle(self, handle)
    }
}

impl<P: LlmProvider + Sized> LlmStackExt for P {}

/// Logging and metrics, for any backing service they wrap: providers, vector stores, conversation stores.
pub trait LayerExt: Sized {
    /// One structured `tracing` event per call; content redacted unless the config says otherwise.
    fn with_logging(self, config: LoggingConfig) -> Logging<Self> {
        Logging::new(self, config)
    }

    /// Durations, token usage, errors and in-flight calls on the `metrics` facade.
    fn with_metrics(self, config: MetricsConfig) -> Metrics<Self> {
        Metrics::new(self, config)
    }
}

impl<S: Sized> LayerExt for S {}
