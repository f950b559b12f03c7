//! [`CircuitBreaker`]: stops calling a provider that keeps failing, and lets one probe call find out when
//! it has recovered.
//!
//! - **Closed** (normal): calls go through; failures are counted. After
//!   [`consecutive_failures`](CircuitConfigBuilder::consecutive_failures) failures in a row, or a
//!   [`failure_ratio`](CircuitConfigBuilder::failure_ratio) over the last calls, the circuit opens.
//! - **Open**: calls fail at once with [`ErrorKind::CircuitOpen`] (a local error naming the provider and
//!   how long the cool-down still runs) without reaching the provider, for the cool-down.
//! - **Half-open**: after the cool-down exactly one call, the probe, goes through; calls made while it
//!   runs fail fast. The probe's success closes the circuit (counters reset); its failure opens it for
//!   another cool-down.
//!
//! Inside a [`Fallback`](super::fallback::Fallback) chain an open circuit makes the chain skip the provider
//! at once, since [`ErrorKind::CircuitOpen`] falls back. Each transition sets the gauge
//! [`CIRCUIT_STATE`](super::names::CIRCUIT_STATE) (0 closed, 1 half-open, 2 open); opening also logs a
//! `tracing` warning.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::names;
use super::observe::{StreamEnd, StreamObserver, observe};
use crate::llm::{ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider};
use crate::{Error, ErrorKind, Result};

type Predicate = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// Largest accepted sliding window: enough to smooth any real traffic, small enough to stay cheap.
const MAX_WINDOW: usize = 10_000;

/// The failure-ratio rule: open when at least `ratio` of the last `window` calls failed, once at least
/// `min_calls` calls are in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RatioRule {
    ratio: f64,
    window: usize,
    min_calls: usize,
}

/// Settings of a [`CircuitBreaker`]. Build one with [`CircuitConfig::builder`]; the builder checks every
/// value, so a `CircuitConfig` is always valid.
///
/// Defaults:
/// - **5 consecutive failures** open the circuit: one or two failures happen to healthy providers; five
///   in a row rarely do, and waiting longer only piles up slow failures.
/// - **a failure ratio of 50 % over the last 20 calls, once 10 calls are in the window**, also opens it:
///   a provider that fails every other call never fails five times in a row, yet is not healthy; the
///   minimum keeps a handful of early calls from deciding.
/// - **a cool-down of 30 s** before the probe: long enough for an overloaded provider to recover (and for
///   its rate-limit windows, usually per minute, to move on), short enough that a recovered provider is
///   back soon.
/// - **failures** are errors that say something about the provider's health: [`ErrorKind::Server`],
///   [`Overloaded`](ErrorKind::Overloaded), [`Timeout`](ErrorKind::Timeout),
///   [`Transport`](ErrorKind::Transport), [`Decode`](ErrorKind::Decode), and
///   [`RateLimited`](ErrorKind::RateLimited) when the provider said it (not this crate's own rate
///   limiter, whose refusals are [local](Error::is_local)). A caller's mistakes (invalid request, context
///   too long, content filtered) and every other kind count neither as failure nor as success. See
///   [`CircuitConfig::default_is_failure`].
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::circuit::CircuitConfig;
/// use twelve_factor_ai::{Error, ErrorKind};
///
/// let config = CircuitConfig::builder()
///     .consecutive_failures(3)
///     .failure_ratio(0.5, 40, 20)
///     .cooldown(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(config.consecutive_failures(), 3);
/// assert!(config.is_failure(&Error::new(ErrorKind::Overloaded, "busy")));
/// assert!(!config.is_failure(&Error::invalid_request("bad temperature")));
/// assert_eq!(CircuitConfig::builder().consecutive_failures(0).build().unwrap_err().kind(), ErrorKind::Config);
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Clone)]
pub struct CircuitConfig {
    consecutive: NonZeroU32,
    ratio: Option<RatioRule>,
    cooldown: Duration,
    is_failure: Option<Predicate>,
}

impl Default for CircuitConfig {
    /// 5 consecutive failures, or 50 % of the last 20 calls (with at least 10), open the circuit for 30 s;
    /// see the type's documentation for why.
    fn default() -> Self {
        CircuitConfig {
            consecutive: NonZeroU32::MIN.saturating_add(4),
            ratio: Some(RatioRule {
                ratio: 0.5,
                window: 20,
                min_calls: 10,
            }),
            cooldown: Duration::from_secs(30),
            is_failure: None,
        }
    }
}

impl fmt::Debug for CircuitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitConfig")
            .field("consecutive_failures", &self.consecutive)
            .field("failure_ratio", &self.ratio)
            .field("cooldown", &self.cooldown)
            .field(
                "is_failure",
                &if self.is_failure.is_some() {
                    "predicate"
                } else {
                    "default"
                },
            )
            .finish()
    }
}

impl CircuitConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> CircuitConfigBuilder {
        let d = CircuitConfig::default();
        CircuitConfigBuilder {
            consecutive: d.consecutive.get(),
            ratio: d.ratio,
            cooldown: d.cooldown,
            is_failure: None,
        }
    }

    /// Failures in a row that open the circuit.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive.get()
    }

    /// The failure-ratio rule as `(ratio, window, min_calls)`, if any.
    pub fn failure_ratio(&self) -> Option<(f64, usize, usize)> {
        self.ratio.map(|r| (r.ratio, r.window, r.min_calls))
    }

    /// How long the circuit stays open before the probe.
    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }

    /// Whether `error` counts as a failure of the provider.
    pub fn is_failure(&self, error: &Error) -> bool {
        match &self.is_failure {
            Some(predicate) => predicate(error),
            None => Self::default_is_failure(error),
        }
    }

    /// The default failure rule: server errors, overload, timeouts, broken connections, undecodable
    /// answers, and rate limits the provider (not this crate) reported.
    pub fn default_is_failure(error: &Error) -> bool {
        match error.kind() {
            ErrorKind::Server
            | ErrorKind::Overloaded
            | ErrorKind::Timeout
            | ErrorKind::Transport
            | ErrorKind::Decode => true,
            ErrorKind::RateLimited => !error.is_local(),
            _ => false,
        }
    }
}

/// Builds a [`CircuitConfig`]; [`build`](Self::build) checks the values.
#[derive(Clone)]
pub struct CircuitConfigBuilder {
    consecutive: u32,
    ratio: Option<RatioRule>,
    cooldown: Duration,
    is_failure: Option<Predicate>,
}

impl fmt::Debug for CircuitConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitConfigBuilder")
            .field("consecutive_failures", &self.consecutive)
            .field("failure_ratio", &self.ratio)
            .field("cooldown", &self.cooldown)
            .field("is_failure", &self.is_failure.is_some())
            .finish()
    }
}

impl CircuitConfigBuilder {
    /// Failures in a row that open the circuit (at least 1; default 5).
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive = n;
        self
    }

    /// Also opens the circuit when at least `ratio` (in `(0, 1]`) of the last `window` calls failed, once
    /// at least `min_calls` (1 to `window`) calls are in the window (window at most 10 000). Default: 0.5
    /// over 20 calls, at least 10.
    pub fn failure_ratio(mut self, ratio: f64, window: usize, min_calls: usize) -> Self {
        self.ratio = Some(RatioRule {
            ratio,
            window,
            min_calls,
        });
        self
    }

    /// Opens the circuit on consecutive failures only.
    pub fn without_failure_ratio(mut self) -> Self {
        self.ratio = None;
        self
    }

    /// How long the circuit stays open before the probe (more than zero; default 30 s).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Decides which errors count as failures instead of [`CircuitConfig::default_is_failure`]. Errors it
    /// rejects count neither as failure nor as success.
    pub fn failure_when(
        mut self,
        predicate: impl Fn(&Error) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.is_failure = Some(Arc::new(predicate));
        self
    }

    /// The config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the first value out of range.
    pub fn build(self) -> Result<CircuitConfig> {
        let Some(consecutive) = NonZeroU32::new(self.consecutive) else {
            return Err(Error::config(
                "circuit breaker: consecutive_failures must be at least 1",
            ));
        };
        if let Some(r) = &self.ratio {
            if !(r.ratio.is_finite() && r.ratio > 0.0 && r.ratio <= 1.0) {
                return Err(Error::config(format!(
                    "circuit breaker: failure ratio must be above 0 and at most 1, got {}",
                    r.ratio
                )));
            }
            if r.window == 0 || r.window > MAX_WINDOW {
                return Err(Error::config(format!(
                    "circuit breaker: the failure-ratio window must hold 1 to {MAX_WINDOW} calls, got {}",
                    r.window
                )));
            }
            if r.min_calls == 0 || r.min_calls > r.window {
                return Err(Error::config(format!(
                    "circuit breaker: min_calls must be 1 to the window size ({}), got {}",
                    r.window, r.min_calls
                )));
            }
        }
        if self.cooldown.is_zero() {
            return Err(Error::config(
                "circuit breaker: the cool-down must be longer than zero",
            ));
        }
        // The circuit reopens at `now + cooldown`, which must not overflow.
        if self.cooldown > Duration::from_secs(365 * 24 * 3600) {
            return Err(Error::config(
                "circuit breaker: the cool-down must be at most a year",
            ));
        }
        Ok(CircuitConfig {
            consecutive,
            ratio: self.ratio,
            cooldown: self.cooldown,
            is_failure: self.is_failure,
        })
    }
}

/// Where a [`CircuitBreaker`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls fail fast until `until`.
    Open {
        /// When the cool-down ends and the next call becomes the probe.
        until: Instant,
    },
    /// The cool-down is over: the next call (or the one running) is the probe.
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The last calls' outcomes, as a ring.
#[derive(Debug)]
struct Window {
    slots: Box<[bool]>,
    next: usize,
    len: usize,
    failures: usize,
}

impl Window {
    fn new(size: usize) -> Self {
        Window {
            slots: vec![false; size.max(1)].into_boxed_slice(),
            next: 0,
            len: 0,
            failures: 0,
        }
    }

    fn push(&mut self, failed: bool) {
        let size = self.slots.len();
        if let Some(slot) = self.slots.get_mut(self.next) {
            if self.len == size && *slot {
                self.failures -= 1;
            }
            *slot = failed;
        }
        if failed {
            self.failures += 1;
        }
        self.len = (self.len + 1).min(size);
        self.next = (self.next + 1) % size;
    }

    fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
        self.failures = 0;
    }
}

#[derive(Debug)]
struct State {
    phase: Phase,
    consecutive: u32,
    window: Window,
    /// Bumped each time the circuit closes, so calls begun before it opened do not count afterwards.
    generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Neither,
}

/// What changed, reported after the lock is released.
enum Transition {
    Opened {
        consecutive: u32,
        window_failures: usize,
        window_len: usize,
    },
    Reopened,
    Closed,
}

struct Shared {
    state: Mutex<State>,
    config: CircuitConfig,
    provider: String,
    model: String,
    gauge: metrics::Gauge,
}

const GAUGE_CLOSED: f64 = 0.0;
const GAUGE_HALF_OPEN: f64 = 1.0;
const GAUGE_OPEN: f64 = 2.0;

impl Shared {
    // A poisoned lock only means a panic elsewhere; the counters stay usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a call through, or refuses it while the circuit is open or a probe runs.
    fn acquire(self: &Arc<Self>) -> Result<Permit> {
        let mut state = self.lock();
        let probe = match state.phase {
            Phase::Closed => false,
            Phase::HalfOpen { probing: false } => {
                state.phase = Phase::HalfOpen { probing: true };
                true
            }
            Phase::HalfOpen { probing: true } => {
                drop(state);
                return Err(self.refusal(None));
            }
            Phase::Open { until } => {
                let now = Instant::now();
                if now < until {
                    drop(state);
                    return Err(self.refusal(Some(until - now)));
                }
                state.phase = Phase::HalfOpen { probing: true };
                self.gauge.set(GAUGE_HALF_OPEN);
                true
            }
        };
        Ok(Permit {
            shared: Arc::clone(self),
            generation: state.generation,
            probe,
            outcome: Outcome::Neither,
        })
    }

    fn refusal(&self, remaining: Option<Duration>) -> Error {
        let error = match remaining {
            Some(remaining) => Error::new(
                ErrorKind::CircuitOpen,
                format!(
                    "circuit breaker open after repeated failures; calls fail fast for another {:.1} s, \
                     then one probe call tests the provider",
                    remaining.as_secs_f64()
                ),
            )
            .with_retry_after(remaining),
            None => Error::new(
                ErrorKind::CircuitOpen,
                "circuit breaker half-open: a probe call is testing the provider; other calls fail fast \
                 until it ends",
            ),
        };
        error.with_provider(self.provider.clone()).local()
    }

    fn record(&self, generation: u64, probe: bool, outcome: Outcome) {
        let transition = {
            let mut state = self.lock();
            if probe {
                match outcome {
                    Outcome::Success => {
                        state.phase = Phase::Closed;
                        state.consecutive = 0;
                        state.window.clear();
                        state.generation = state.generation.wrapping_add(1);
                        Some(Transition::Closed)
                    }
                    Outcome::Failure => {
                        state.phase = Phase::Open {
                            until: Instant::now() + self.config.cooldown,
                        };
                        Some(Transition::Reopened)
                    }
                    // The probe told nothing (a caller's error, a dropped stream): the next call probes.
                    Outcome::Neither => {
                        state.phase = Phase::HalfOpen { probing: false };
                        None
                    }
                }
            } else if state.generation != generation || state.phase != Phase::Closed {
                // Began before the circuit last opened: only the probe decides now.
                None
            } else {
                match outcome {
                    Outcome::Neither => None,
                    Outcome::Success => {
                        state.consecutive = 0;
                        if self.config.ratio.is_some() {
                            state.window.push(false);
                        }
                        None
                    }
                    Outcome::Failure => {
                        state.consecutive = state.consecutive.saturating_add(1);
                        let mut trip = state.consecutive >= self.config.consecutive.get();
                        if let Some(rule) = &self.config.ratio {
                            state.window.push(true);
                            let w = &state.window;
                            trip |= w.len >= rule.min_calls
                                && w.failures as f64 >= rule.ratio * w.len as f64;
                        }
                        if trip {
                            let t = Transition::Opened {
                                consecutive: state.consecutive,
                                window_failures: state.window.failures,
                                window_len: state.window.len,
                            };
                            state.phase = Phase::Open {
                                until: Instant::now() + self.config.cooldown,
                            };
                            state.consecutive = 0;
                            state.window.clear();
                            Some(t)
                        } else {
                            None
                        }
                    }
                }
            }
        };
        match transition {
            None => {}
            Some(Transition::Closed) => {
                self.gauge.set(GAUGE_CLOSED);
                tracing::info!(
                    provider = %self.provider,
                    model = %self.model,
                    "circuit breaker closed: the probe call succeeded"
                );
            }
            Some(Transition::Reopened) => {
                self.gauge.set(GAUGE_OPEN);
                tracing::warn!(
                    provider = %self.provider,
                    model = %self.model,
                    cooldown_s = self.config.cooldown.as_secs_f64(),
                    "circuit breaker opened again: the probe call failed"
                );
            }
            Some(Transition::Opened {
                consecutive,
                window_failures,
                window_len,
            }) => {
                self.gauge.set(GAUGE_OPEN);
                tracing::warn!(
                    provider = %self.provider,
                    model = %self.model,
                    consecutive_failures = consecutive,
                    window_failures,
                    window_calls = window_len,
                    cooldown_s = self.config.cooldown.as_secs_f64(),
                    "circuit breaker opened: calls fail fast during the cool-down"
                );
            }
        }
    }

    fn outcome_of(&self, error: &Error) -> Outcome {
        if self.config.is_failure(error) {
            Outcome::Failure
        } else {
            Outcome::Neither
        }
    }
}

/// One call let through. Records its outcome when dropped (`Neither` unless set), so a cancelled call
/// still frees the probe slot.
struct Permit {
    shared: Arc<Shared>,
    generation: u64,
    probe: bool,
    outcome: Outcome,
}

impl Permit {
    fn finish<T>(mut self, result: &Result<T>) {
        self.outcome = match result {
            Ok(_) => Outcome::Success,
            Err(e) => self.shared.outcome_of(e),
        };
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.shared
            .record(self.generation, self.probe, self.outcome);
    }
}

/// Decides a stream's outcome by how it ends.
struct StreamPermit(Permit);

impl StreamObserver for StreamPermit {
    fn on_end(mut self, end: StreamEnd<'_>) {
        self.0.outcome = match end {
            StreamEnd::Completed => Outcome::Success,
            StreamEnd::Failed(e) => self.0.shared.outcome_of(e),
            // A stream cut short says the provider (or the connection) failed.
            StreamEnd::Incomplete => Outcome::Failure,
            // The caller stopped reading: nothing learned about the provider.
            StreamEnd::Dropped => Outcome::Neither,
        };
    }
}

/// Fails calls fast while the provider keeps failing; see the [module documentation](self).
///
/// Streams count by how they end: a complete stream is a success, a stream that fails with a counted
/// error or ends without its done event is a failure, a stream the caller drops is neither. A streaming
/// probe holds the half-open slot until its stream ends.
///
/// The health check fails fast with [`ErrorKind::CircuitOpen`] during the cool-down and otherwise asks
/// the provider; its result does not move the circuit (health checks are not traffic).
///
/// Time is tokio's, so tests with paused time can step through the cool-down.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::circuit::{CircuitBreaker, CircuitConfig, CircuitState};
/// use twelve_factor_ai::llm::{LlmProviderExt, Scripted};
/// use twelve_factor_ai::{Error, ErrorKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let scripted = Scripted::new("model-2024-01-01");
/// scripted.push_error(Error::new(ErrorKind::Server, "boom"));
/// scripted.push_error(Error::new(ErrorKind::Server, "boom again"));
/// let config = CircuitConfig::builder()
///     .consecutive_failures(2)
///     .cooldown(Duration::from_secs(30))
///     .build()?;
/// let llm = CircuitBreaker::new(scripted, config);
///
/// assert_eq!(llm.complete("a").await.unwrap_err().kind(), ErrorKind::Server);
/// assert_eq!(llm.complete("b").await.unwrap_err().kind(), ErrorKind::Server);
/// assert!(matches!(llm.state(), CircuitState::Open { .. }));
/// // Open: refused without reaching the provider.
/// let refused = llm.complete("c").await.unwrap_err();
/// assert_eq!(refused.kind(), ErrorKind::CircuitOpen);
/// assert_eq!(llm.get_ref().requests().len(), 2);
/// # Ok(())
/// # }
/// ```
pub struct CircuitBreaker<P> {
    inner: P,
    shared: Arc<Shared>,
}

impl<P: fmt::Debug> fmt::Debug for CircuitBreaker<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("state", &self.shared.lock().phase)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl<P: LlmProvider> CircuitBreaker<P> {
    /// Wraps `inner`, closed.
    ///
    /// The [`CIRCUIT_STATE`](names::CIRCUIT_STATE) gauge (labels: provider, model) is registered here with
    /// the metrics recorder installed at this moment, and set to 0.
    pub fn new(inner: P, config: CircuitConfig) -> Self {
        let provider = inner.name().to_owned();
        let model = inner.model().to_owned();
        let gauge = metrics::gauge!(
            names::CIRCUIT_STATE,
            names::PROVIDER_NAME => provider.clone(),
            names::REQUEST_MODEL => model.clone(),
        );
        gauge.set(GAUGE_CLOSED);
        let window = Window::new(config.ratio.map_or(1, |r| r.window));
        CircuitBreaker {
            inner,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    phase: Phase::Closed,
                    consecutive: 0,
                    window,
                    generation: 0,
                }),
                config,
                provider,
                model,
                gauge,
            }),
        }
    }
}

impl<P> CircuitBreaker<P> {
    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The wrapped provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// The settings.
    pub fn config(&self) -> &CircuitConfig {
        &self.shared.config
    }

    /// Where the circuit stands now. An open circuit whose cool-down is over reports
    /// [`CircuitState::HalfOpen`]: the next call is the probe.
    pub fn state(&self) -> CircuitState {
        match self.shared.lock().phase {
            Phase::Closed => CircuitState::Closed,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
            Phase::Open { until } if Instant::now() >= until => CircuitState::HalfOpen,
            Phase::Open { until } => CircuitState::Open { until },
        }
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: LlmProvider> LlmProvider for CircuitBreaker<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let permit = self.shared.acquire()?;
        let result = self.inner.chat(req).await;
        permit.finish(&result);
        result
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let permit = self.shared.acquire()?;
        match self.inner.chat_stream(req).await {
            Ok(stream) => Ok(observe(stream, StreamPermit(permit))),
            Err(e) => {
                let result = Err(e);
                permit.finish::<ChatStream>(&result);
                result
            }
        }
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let permit = self.shared.acquire()?;
        let result = self.inner.embed(req).await;
        permit.finish(&result);
        result
    }

    /// Fails fast during the cool-down; otherwise asks the provider, without moving the circuit.
    async fn health_check(&self) -> Result<()> {
        if let CircuitState::Open { until } = self.state() {
            return Err(self
                .shared
                .refusal(Some(until.saturating_duration_since(Instant::now()))));
        }
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Chunk, Reply, Scripted};
    use crate::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
    use futures_util::{FutureExt, StreamExt};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    fn server() -> Error {
        Error::new(ErrorKind::Server, "boom")
    }

    fn breaker(consecutive: u32) -> CircuitBreaker<Scripted> {
        let config = CircuitConfig::builder()
            .consecutive_failures(consecutive)
            .without_failure_ratio()
            .cooldown(Duration::from_secs(30))
            .build()
            .unwrap();
        CircuitBreaker::new(Scripted::new("m"), config)
    }

    async fn call(cb: &CircuitBreaker<Scripted>) -> Result<ChatResponse> {
        cb.chat(ChatRequest::user("q")).await
    }

    #[test]
    fn config_rejects_bad_values() {
        let bad = [
            CircuitConfig::builder().consecutive_failures(0),
            CircuitConfig::builder().failure_ratio(0.0, 10, 5),
            CircuitConfig::builder().failure_ratio(1.5, 10, 5),
            CircuitConfig::builder().failure_ratio(f64::NAN, 10, 5),
            CircuitConfig::builder().failure_ratio(0.5, 0, 0),
            CircuitConfig::builder().failure_ratio(0.5, 10, 11),
            CircuitConfig::builder().failure_ratio(0.5, 10, 0),
            CircuitConfig::builder().failure_ratio(0.5, MAX_WINDOW + 1, 5),
            CircuitConfig::builder().cooldown(Duration::ZERO),
        ];
        for b in bad {
            let text = format!("{b:?}");
            assert_eq!(b.build().unwrap_err().kind(), ErrorKind::Config, "{text}");
        }
        let d = CircuitConfig::builder().build().unwrap();
        assert_eq!(d.consecutive_failures(), 5);
        assert_eq!(d.failure_ratio(), Some((0.5, 20, 10)));
        assert_eq!(d.cooldown(), Duration::from_secs(30));
    }

    #[test]
    fn default_failure_rule() {
        use ErrorKind::*;
        for kind in [Server, Overloaded, Timeout, Transport, Decode, RateLimited] {
            assert!(
                CircuitConfig::default_is_failure(&Error::new(kind, "x")),
                "{kind}"
            );
        }
        assert!(!CircuitConfig::default_is_failure(
            &Error::new(RateLimited, "ours").local()
        ));
        for kind in [
            InvalidRequest,
            ContextLengthExceeded,
            ContentFiltered,
            Auth,
            CircuitOpen,
        ] {
            assert!(
                !CircuitConfig::default_is_failure(&Error::new(kind, "x")),
                "{kind}"
            );
        }
    }

    #[test]
    fn window_ring_counts_the_last_calls() {
        let mut w = Window::new(3);
        for f in [true, true, false, false] {
            w.push(f);
        }
        assert_eq!((w.len, w.failures), (3, 1));
        w.push(false);
        assert_eq!((w.len, w.failures), (3, 0));
    }

    #[tokio::test]
    async fn conformance() {
        let cb = CircuitBreaker::new(
            Scripted::new("m").echo_when_empty().with_hash_embeddings(8),
            CircuitConfig::default(),
        );
        llm_provider(
            &cb,
            &LlmCapabilities::default()
                .with_embeddings(true)
                .with_usage(true),
        )
        .await;
        assert_eq!(cb.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn successes_reset_the_consecutive_count() {
        let cb = breaker(3);
        for _ in 0..2 {
            cb.get_ref().push_error(server());
        }
        cb.get_ref().push_text("ok");
        for _ in 0..2 {
            cb.get_ref().push_error(server());
        }
        for _ in 0..5 {
            let _ = call(&cb).await;
        }
        assert_eq!(cb.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn ratio_opens_without_consecutive_failures() {
        let config = CircuitConfig::builder()
            .consecutive_failures(100)
            .failure_ratio(0.5, 10, 6)
            .build()
            .unwrap();
        let cb = CircuitBreaker::new(Scripted::new("m"), config);
        // ok, fail, ok, fail, ok, fail: 3 of 6 failed, at the minimum of 6 calls.
        for i in 0..6 {
            if i % 2 == 0 {
                cb.get_ref().push_text("ok");
            } else {
                cb.get_ref().push_error(server());
            }
        }
        for i in 0..6 {
            let _ = call(&cb).await;
            let open = matches!(cb.state(), CircuitState::Open { .. });
            assert_eq!(open, i == 5, "after call {i}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn probe_failure_reopens_for_another_cooldown() {
        let cb = breaker(1);
        cb.get_ref().push_error(server());
        cb.get_ref().push_error(server());
        let _ = call(&cb).await;
        let CircuitState::Open { until } = cb.state() else {
            panic!("not open")
        };
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(cb.state(), CircuitState::HalfOpen);
        assert_eq!(call(&cb).await.unwrap_err().kind(), ErrorKind::Server);
        let CircuitState::Open { until: again } = cb.state() else {
            panic!("not open again")
        };
        assert!(again >= until + Duration::from_secs(30));
        assert_eq!(call(&cb).await.unwrap_err().kind(), ErrorKind::CircuitOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_frees_the_slot() {
        let cb = breaker(1);
        cb.get_ref().push_error(server());
        let _ = call(&cb).await;
        tokio::time::advance(Duration::from_secs(30)).await;
        cb.get_ref()
            .push_delayed(Duration::from_secs(60), Reply::Error(server()));
        // The probe is cancelled by a short timeout.
        let cancelled = tokio::time::timeout(Duration::from_secs(1), call(&cb)).await;
        assert!(cancelled.is_err());
        assert_eq!(cb.state(), CircuitState::HalfOpen);
        cb.get_ref().push_text("ok");
        assert!(call(&cb).await.is_ok());
        assert_eq!(cb.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_begun_before_opening_do_not_count_afterwards() {
        let cb = Arc::new(breaker(1));
        cb.get_ref()
            .push_delayed(Duration::from_secs(100), Reply::Error(server()));
        cb.get_ref().push_error(server());
        let slow = tokio::spawn({
            let cb = Arc::clone(&cb);
            async move { call(&cb).await }
        });
        tokio::task::yield_now().await;
        // Opens the circuit.
        let _ = call(&cb).await;
        tokio::time::advance(Duration::from_secs(30)).await;
        cb.get_ref().push_text("ok");
        assert!(call(&cb).await.is_ok(), "probe");
        assert_eq!(cb.state(), CircuitState::Closed);
        // The slow call, begun in the earlier closed period, fails now: it does not reopen the circuit.
        assert!(slow.await.unwrap().is_err());
        assert_eq!(cb.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn streams_count_by_how_they_end() {
        let cb = breaker(1);
        // Completed: success.
        cb.get_ref().push_stream([Chunk::text("a"), Chunk::done()]);
        let mut s = cb.chat_stream(ChatRequest::user("q")).await.unwrap();
        while s.next().await.is_some() {}
        drop(s);
        assert_eq!(cb.state(), CircuitState::Closed);
        // Dropped: neither.
        cb.get_ref().push_stream([Chunk::text("a"), Chunk::done()]);
        let mut s = cb.chat_stream(ChatRequest::user("q")).await.unwrap();
        s.next().await;
        drop(s);
        assert_eq!(cb.state(), CircuitState::Closed);
        // A caller's error item: neither.
        cb.get_ref().push_stream([
            Chunk::text("a"),
            Chunk::Error(Error::new(ErrorKind::ContentFiltered, "no")),
        ]);
        let mut s = cb.chat_stream(ChatRequest::user("q")).await.unwrap();
        while s.next().await.is_some() {}
        assert_eq!(cb.state(), CircuitState::Closed);
        // Incomplete: failure.
        cb.get_ref().push_stream([Chunk::text("a")]);
        let mut s = cb.chat_stream(ChatRequest::user("q")).await.unwrap();
        while s.next().await.is_some() {}
        assert!(matches!(cb.state(), CircuitState::Open { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn gauge_follows_transitions() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _guard = metrics::set_default_local_recorder(&recorder);
        let gauge = || {
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .find(|(k, _, _, _)| k.key().name() == names::CIRCUIT_STATE)
                .map(|(_, _, _, v)| match v {
                    DebugValue::Gauge(g) => g.into_inner(),
                    other => panic!("{other:?}"),
                })
        };
        let cb = breaker(1);
        assert_eq!(gauge(), Some(0.0));
        cb.get_ref().push_error(server());
        let _ = call(&cb).await;
        assert_eq!(gauge(), Some(2.0));
        tokio::time::advance(Duration::from_secs(30)).await;
        cb.get_ref()
            .push_delayed(Duration::from_secs(1), Reply::Error(server()));
        let probe = call(&cb);
        let mut probe = std::pin::pin!(probe);
        assert!(probe.as_mut().now_or_never().is_none());
        assert_eq!(gauge(), Some(1.0));
        assert!(probe.await.is_err());
        assert_eq!(gauge(), Some(2.0));
        tokio::time::advance(Duration::from_secs(30)).await;
        cb.get_ref().push_text("ok");
        call(&cb).await.unwrap();
        assert_eq!(gauge(), Some(0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn health_check_fails_fast_while_open() {
        let cb = breaker(1);
        cb.get_ref().push_error(server());
        let _ = call(&cb).await;
        let err = cb.health_check().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CircuitOpen);
        assert!(err.retry_after().is_some());
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(cb.health_check().await.is_ok());
        assert_eq!(
            cb.state(),
            CircuitState::HalfOpen,
            "health checks do not probe"
        );
    }
}
