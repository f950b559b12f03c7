//! [`Retry`]: sends a failed call again, with exponential backoff and full jitter, within a time budget.
//!
//! Only errors that say a second try may succeed are retried ([`Error::is_retryable`]): rate limits,
//! overload, timeouts, broken connections and server errors from the provider. Refusals by this crate's
//! own layers ([`Error::local`]: the local rate limiter, the circuit breaker, drain) and errors in the
//! request, the key or the configuration are returned at once.
//!
//! Streams are retried only until their first event reaches the caller; after that a failure is an error
//! item of the stream, never a retry (the caller has already seen part of the answer).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::names;
use super::observe::{Opening, open, resume};
use crate::llm::{ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider};
use crate::{Error, ErrorKind, Result};

/// How [`Retry`] retries. Build one with [`RetryConfig::builder`], or take the [`Default`].
///
/// | setting | default | why |
/// |---|---|---|
/// | [`max_attempts`](RetryConfigBuilder::max_attempts) | 3 (the first try and two retries) | two retries ride out the usual transient blips (a 429 burst, a 529 overload, a reset connection) without tripling the cost and latency of a real outage, which the circuit breaker and fallback handle better |
/// | [`base_delay`](RetryConfigBuilder::base_delay) | 250 ms | long enough to step past a momentary blip, short next to the seconds an LLM call takes |
/// | [`max_delay`](RetryConfigBuilder::max_delay) | 8 s | no single backoff sleep grows beyond what a caller waiting on a chat answer tolerates; past that, falling back beats waiting |
/// | [`budget`](RetryConfigBuilder::budget) | 30 s | no new attempt starts (and no sleep is taken) once it would pass 30 s from the first, well under the 60 s that proxies and load balancers in front of a host service commonly allow; an attempt already running is not cut off (bound each attempt with [`Timeout`](crate::layer::timeout::Timeout), and the whole call with an outer one) |
/// | [`max_retry_after`](RetryConfigBuilder::max_retry_after) | 30 s | a server asking for a longer wait is signalling a quota window, not a blip: failing (or falling back) beats holding the caller |
/// | [`jitter`](RetryConfigBuilder::jitter) | on | full jitter spreads the retries of many clients hit by the same outage, so they do not return in lockstep |
///
/// The sleep before retry `n` (0 for the first retry) is a random duration in
/// `[0, min(max_delay, base_delay * 2^n)]` (the upper bound itself with jitter off). When the error carries a
/// `Retry-After`, the sleep is at least that long; a `Retry-After` above `max_retry_after`, or a sleep that
/// would end past the budget, ends the retries at once and the error is returned.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::retry::RetryConfig;
///
/// let config = RetryConfig::builder()
///     .max_attempts(5)
///     .base_delay(Duration::from_millis(100))
///     .budget(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(config.max_attempts(), 5);
/// assert_eq!(RetryConfig::default().max_attempts(), 3);
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    max_attempts: NonZeroU32,
    base_delay: Duration,
    max_delay: Duration,
    budget: Duration,
    max_retry_after: Duration,
    jitter: bool,
    seed: Option<u64>,
}

const DEFAULT_MAX_ATTEMPTS: NonZeroU32 = match NonZeroU32::new(3) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            budget: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(30),
            jitter: true,
            seed: None,
        }
    }
}

impl RetryConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> RetryConfigBuilder {
        RetryConfigBuilder {
            config: RetryConfig::default(),
            max_attempts: DEFAULT_MAX_ATTEMPTS.get(),
        }
    }

    /// Attempts in all, counting the first.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.get()
    }

    /// The backoff before the first retry (doubled for each later one).
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The largest backoff.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The time after the first attempt's start past which no new attempt starts and no sleep is taken.
    /// An attempt already running is not cut off by it.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Whether backoffs are randomised (full jitter).
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// The fixed seed of the jitter, if one was set.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }
}

/// Builds a [`RetryConfig`]; [`build`](RetryConfigBuilder::build) reports the first invalid setting.
#[derive(Debug, Clone)]
pub struct RetryConfigBuilder {
    config: RetryConfig,
    max_attempts: u32,
}

impl RetryConfigBuilder {
    /// Attempts in all, counting the first (at least 1; 1 means never retry). Default 3.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The backoff before the first retry, doubled for each later one. Default 250 ms.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.config.base_delay = delay;
        self
    }

    /// The largest backoff (at least `base_delay`). Default 8 s.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.config.max_delay = delay;
        self
    }

    /// The time allowed for all attempts and sleeps of one call (greater than zero); no attempt starts
    /// after a sleep that would end past it. Default 30 s.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.config.budget = budget;
        self
    }

    /// The longest `Retry-After` to honour; an error asking for a longer wait is returned at once.
    /// Default 30 s.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.config.max_retry_after = max;
        self
    }

    /// Randomises each backoff in `[0, bound]` (on, the default) or sleeps exactly the bound (off:
    /// deterministic, for tests).
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.config.jitter = jitter;
        self
    }

    /// Seeds the jitter, so a test sees the same sequence of backoffs every run. By default each
    /// [`Retry`] draws its own random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// The configuration.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when `max_attempts` is 0, `max_delay` is below `base_delay`, or the budget
    /// is zero.
    pub fn build(self) -> Result<RetryConfig> {
        let mut config = self.config;
        config.max_attempts = NonZeroU32::new(self.max_attempts)
            .ok_or_else(|| Error::config("retry: max_attempts must be at least 1"))?;
        if config.max_delay < config.base_delay {
            return Err(Error::config(format!(
                "retry: max_delay ({:?}) must be at least base_delay ({:?})",
                config.max_delay, config.base_delay
            )));
        }
        if config.budget.is_zero() {
            return Err(Error::config("retry: budget must be greater than zero"));
        }
        Ok(config)
    }
}

/// Retries failed calls of an inner [`LlmProvider`] with exponential backoff and full jitter, within a
/// time budget, honouring `Retry-After`. See [`RetryConfig`] for the settings and the module docs for
/// what is retried.
///
/// - `chat` and `embed` are retried alike. A successful [`ChatResponse::attempts`] counts the failed tries
///   plus the inner response's own attempts.
/// - `chat_stream` is retried until the first event reaches the caller (an error, or a stream that ends
///   before any event, is a failed attempt); later failures are passed on as error items.
/// - When it gives up, it returns the last error with [`Error::attempts`] holding the errors of the
///   earlier tries, oldest first (followed by the attempts the last error itself carried, if any).
/// - Each retry increments the counter [`names::RETRIES`] (labels provider, request model, operation,
///   error type) and emits a `tracing` debug event.
///
/// Place it close to the provider, inside the rate limiter and the fallback chain (the recommended stack
/// reads `provider.with_timeout(..).with_retry(..).with_rate_limit(..)`): the timeout then bounds each
/// attempt and a timed-out attempt is retried, a fallback happens only after this provider's retries, and
/// the rate limiter's own refusals never reach the retry loop.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::retry::{Retry, RetryConfig};
/// use twelve_factor_ai::llm::{LlmProviderExt, Scripted};
/// use twelve_factor_ai::{Error, ErrorKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let scripted = Scripted::new("model-2024-01-01");
/// scripted.push_error(Error::new(ErrorKind::Overloaded, "busy").with_status(529));
/// scripted.push_text("Hello!");
///
/// let config = RetryConfig::builder().base_delay(Duration::from_millis(1)).build()?;
/// let llm = Retry::new(scripted, config);
/// assert_eq!(llm.complete("Hi").await?, "Hello!");
/// assert_eq!(llm.get_ref().requests().len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Retry<P> {
    inner: P,
    config: RetryConfig,
    rng: SplitMix64,
}

impl<P> Retry<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, config: RetryConfig) -> Self {
        let seed = config
            .seed
            .unwrap_or_else(|| RandomState::new().hash_one(0x7466_615f_7265_7472_u64));
        Retry {
            inner,
            config,
            rng: SplitMix64(AtomicU64::new(seed)),
        }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// The sleep before retry `retry` (0 for the first retry), before any `Retry-After`.
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.min(31);
        let bound = self
            .config
            .base_delay
            .saturating_mul(factor)
            .min(self.config.max_delay);
        if !self.config.jitter || bound.is_zero() {
            return bound;
        }
        let bound_nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        // Multiply-shift maps a uniform u64 onto [0, bound_nanos] without a division.
        let scaled = (u128::from(self.rng.next()) * (u128::from(bound_nanos) + 1)) >> 64;
        Duration::from_nanos(u64::try_from(scaled).unwrap_or(bound_nanos))
    }
}

/// A small, lock-free PRNG (SplitMix64) for jitter: shared by concurrent calls through one atomic.
#[derive(Debug)]
struct SplitMix64(AtomicU64);

impl SplitMix64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(Self::GAMMA, Ordering::Relaxed)
            .wrapping_add(Self::GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The state of one call across its attempts.
struct Attempts {
    start: Instant,
    failed: Vec<Error>,
}

impl Attempts {
    fn new() -> Self {
        Attempts {
            start: Instant::now(),
            failed: Vec::new(),
        }
    }

    /// Whether the next attempt is the last one allowed.
    fn next_is_last(&self, config: &RetryConfig) -> bool {
        self.failed.len() + 1 >= config.max_attempts.get() as usize
    }

    fn failed_count(&self) -> u32 {
        u32::try_from(self.failed.len()).unwrap_or(u32::MAX)
    }

    /// The error to return: the last one, carrying the earlier ones.
    fn give_up(&mut self, last: Error) -> Error {
        if self.failed.is_empty() {
            return last;
        }
        let mut all = std::mem::take(&mut self.failed);
        all.extend_from_slice(last.attempts());
        last.with_attempts(all)
    }
}

impl<P: LlmProvider> Retry<P> {
    /// Decides whether to retry after `err`: sleeps and returns `Ok` to go on, or returns the error to
    /// give back to the caller.
    async fn pause(
        &self,
        attempts: &mut Attempts,
        err: Error,
        operation: &'static str,
        model: &str,
    ) -> Result<(), Error> {
        let attempt = attempts.failed_count().saturating_add(1);
        if !err.is_retryable() {
            return Err(attempts.give_up(err));
        }
        let backoff = self.backoff(attempt - 1);
        let wait = match err.retry_after() {
            Some(asked) if asked > self.config.max_retry_after => {
                tracing::debug!(
                    kind = err.kind().as_str(),
                    attempt,
                    retry_after = ?asked,
                    max_retry_after = ?self.config.max_retry_after,
                    "retry: giving up, Retry-After is longer than the configured maximum"
                );
                return Err(attempts.give_up(err));
            }
            Some(asked) => asked.max(backoff),
            None => backoff,
        };
        if attempts.start.elapsed().saturating_add(wait) > self.config.budget {
            tracing::debug!(
                kind = err.kind().as_str(),
                attempt,
                wait = ?wait,
                budget = ?self.config.budget,
                "retry: giving up, the next attempt would start past the time budget"
            );
            return Err(attempts.give_up(err));
        }
        metrics::counter!(
            names::RETRIES,
            names::PROVIDER_NAME => self.inner.name().to_owned(),
            names::REQUEST_MODEL => model.to_owned(),
            names::OPERATION_NAME => operation,
            names::ERROR_TYPE => err.kind().as_str(),
        )
        .increment(1);
        tracing::debug!(
            kind = err.kind().as_str(),
            attempt,
            wait = ?wait,
            provider = self.inner.name(),
            operation,
            "retry: attempt failed, retrying"
        );
        attempts.failed.push(err);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Opens a stream and waits for its first content (metadata before it is held back): an error before
    /// it is a failed attempt.
    async fn open_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let mut stream = self.inner.chat_stream(req).await?;
        match open(&mut stream).await {
            Opening::Content(held) => Ok(resume(held, stream)),
            Opening::Failed(e) => Err(e),
            Opening::Ended => Err(Error::new(
                ErrorKind::Transport,
                "the stream ended before its first content",
            )
            .with_provider(self.inner.name())),
        }
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: LlmProvider> LlmProvider for Retry<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let mut attempts = Attempts::new();
        loop {
            if attempts.next_is_last(&self.config) {
                // The last try takes the request itself: no clone.
                return match self.inner.chat(req).await {
                    Ok(mut r) => {
                        r.attempts = r.attempts.saturating_add(attempts.failed_count());
                        Ok(r)
                    }
                    Err(e) => Err(attempts.give_up(e)),
                };
            }
            match self.inner.chat(req.clone()).await {
                Ok(mut r) => {
                    r.attempts = r.attempts.saturating_add(attempts.failed_count());
                    return Ok(r);
                }
                Err(e) => {
                    let model = req.model_or(self.inner.model());
                    self.pause(&mut attempts, e, "chat", model).await?;
                }
            }
        }
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let mut attempts = Attempts::new();
        loop {
            if attempts.next_is_last(&self.config) {
                return self.open_stream(req).await.map_err(|e| attempts.give_up(e));
            }
            match self.open_stream(req.clone()).await {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    let model = req.model_or(self.inner.model());
                    self.pause(&mut attempts, e, "chat", model).await?;
                }
            }
        }
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let mut attempts = Attempts::new();
        loop {
            if attempts.next_is_last(&self.config) {
                return self.inner.embed(req).await.map_err(|e| attempts.give_up(e));
            }
            match self.inner.embed(req.clone()).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let model = req.model.as_deref().unwrap_or(self.inner.model());
                    self.pause(&mut attempts, e, "embeddings", model).await?;
                }
            }
        }
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{LlmProviderExt, Scripted};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    fn no_jitter() -> RetryConfigBuilder {
        RetryConfig::builder().jitter(false)
    }

    #[test]
    fn defaults_and_validation() {
        let c = RetryConfig::default();
        assert_eq!(c.max_attempts(), 3);
        assert_eq!(c.base_delay(), Duration::from_millis(250));
        assert_eq!(c.max_delay(), Duration::from_secs(8));
        assert_eq!(c.budget(), Duration::from_secs(30));
        assert_eq!(c.max_retry_after(), Duration::from_secs(30));
        assert!(c.jitter());
        assert_eq!(RetryConfig::builder().build().unwrap(), c);

        for bad in [
            RetryConfig::builder().max_attempts(0),
            RetryConfig::builder()
                .base_delay(Duration::from_secs(2))
                .max_delay(Duration::from_secs(1)),
            RetryConfig::builder().budget(Duration::ZERO),
        ] {
            assert_eq!(bad.build().unwrap_err().kind(), ErrorKind::Config);
        }
        assert_eq!(
            RetryConfig::builder()
                .max_attempts(1)
                .build()
                .unwrap()
                .max_attempts(),
            1
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_without_jitter() {
        let r = Retry::new(Scripted::new("m"), no_jitter().build().unwrap());
        let ms: Vec<u128> = (0..8).map(|n| r.backoff(n).as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(r.backoff(u32::MAX), Duration::from_secs(8));
    }

    #[test]
    fn full_jitter_stays_in_range_and_is_seeded() {
        let config = RetryConfig::builder().seed(42).build().unwrap();
        let a = Retry::new(Scripted::new("m"), config.clone());
        let b = Retry::new(Scripted::new("m"), config);
        let mut seen_low = false;
        let mut seen_high = false;
        for n in 0..2000u32 {
            let retry = n % 6;
            let bound = Duration::from_millis(250)
                .saturating_mul(1 << retry)
                .min(Duration::from_secs(8));
            let x = a.backoff(retry);
            assert_eq!(x, b.backoff(retry), "same seed, same sequence");
            assert!(x <= bound);
            seen_low |= x < bound / 4;
            seen_high |= x > bound * 3 / 4;
        }
        assert!(seen_low && seen_high, "spread over the whole range");

        let c = Retry::new(
            Scripted::new("m"),
            RetryConfig::builder().seed(43).build().unwrap(),
        );
        let d = Retry::new(
            Scripted::new("m"),
            RetryConfig::builder().seed(42).build().unwrap(),
        );
        let from_c: Vec<Duration> = (0..4).map(|_| c.backoff(3)).collect();
        let from_d: Vec<Duration> = (0..4).map(|_| d.backoff(3)).collect();
        assert_ne!(from_c, from_d, "different seeds, different sequences");
    }

    #[test]
    fn zero_base_delay_never_sleeps() {
        let r = Retry::new(
            Scripted::new("m"),
            RetryConfig::builder()
                .base_delay(Duration::ZERO)
                .build()
                .unwrap(),
        );
        assert_eq!(r.backoff(0), Duration::ZERO);
        assert_eq!(r.backoff(5), Duration::ZERO);
    }

    #[test]
    fn each_retry_is_counted_with_low_cardinality_labels() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let s = Scripted::new("m").with_name("openai");
                s.push_error(Error::new(ErrorKind::Server, "boom"));
                s.push_error(Error::new(ErrorKind::Overloaded, "busy"));
                s.push_text("ok");
                let r = Retry::new(s, no_jitter().build().unwrap());
                let res = r.chat(ChatRequest::user("hi")).await.unwrap();
                assert_eq!(res.attempts, 3);
            });
        });
        let mut total = 0;
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            if key.key().name() != names::RETRIES {
                continue;
            }
            let labels: Vec<(String, String)> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            assert!(labels.contains(&(names::PROVIDER_NAME.into(), "openai".into())));
            assert!(labels.contains(&(names::REQUEST_MODEL.into(), "m".into())));
            assert!(labels.contains(&(names::OPERATION_NAME.into(), "chat".into())));
            if let DebugValue::Counter(n) = value {
                total += n;
            }
        }
        assert_eq!(total, 2, "two retries, the first attempt is not counted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_attempt_never_retries() {
        let s = Scripted::new("m");
        s.push_error(Error::new(ErrorKind::Server, "boom"));
        s.push_text("unused");
        let r = Retry::new(s, no_jitter().max_attempts(1).build().unwrap());
        let err = r.complete("hi").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert!(err.attempts().is_empty());
        assert_eq!(r.get_ref().remaining(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn nested_attempts_of_the_last_error_are_kept() {
        let s = Scripted::new("m");
        s.push_error(Error::new(ErrorKind::Server, "first"));
        let inner_a = Error::new(ErrorKind::Overloaded, "a");
        let inner_b = Error::new(ErrorKind::Timeout, "b");
        s.push_error(
            Error::new(ErrorKind::Timeout, "chain failed").with_attempts(vec![inner_a, inner_b]),
        );
        let r = Retry::new(s, no_jitter().max_attempts(2).build().unwrap());
        let err = r.complete("hi").await.unwrap_err();
        assert_eq!(err.message(), "chain failed");
        let messages: Vec<&str> = err.attempts().iter().map(Error::message).collect();
        assert_eq!(messages, ["first", "a", "b"]);
    }

    #[tokio::test]
    async fn forwards_identity_and_health() {
        let s = Scripted::new("pinned").with_name("anthropic");
        s.set_health(Some(Error::new(ErrorKind::Transport, "down")));
        let r = Retry::new(s, RetryConfig::default());
        assert_eq!(r.name(), "anthropic");
        assert_eq!(r.model(), "pinned");
        assert_eq!(
            r.health_check().await.unwrap_err().kind(),
            ErrorKind::Transport
        );
        let _inner: Scripted = r.into_inner();
    }
}
