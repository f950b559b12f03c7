//! [`Timeout`]: deadlines on calls, on the first chunk of a stream and on the silence between chunks.
//!
//! An expired limit is an [`ErrorKind::Timeout`] error naming the limit and the provider. It is not marked
//! [`local`](Error::local): a timed-out call may well succeed when sent again, so a [`Retry`] outside this
//! layer retries it.
//!
//! [`Retry`]: super::retry::Retry

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::time::{Instant, Sleep};

use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider, StreamEvent,
};
use crate::{Error, ErrorKind, Result};

/// The limits of a [`Timeout`]. Build one with [`TimeoutConfig::builder`], or take the [`Default`]. Every
/// limit is optional: `None` switches it off.
///
/// | limit | default | applies to | why |
/// |---|---|---|---|
/// | [`total`](TimeoutConfigBuilder::total) | 60 s | `chat`, `embed` | a non-streamed answer of a few thousand tokens arrives well within a minute on hosted models; past that the call is more likely stuck than slow, and the proxies and load balancers in front of a host service commonly give up at 60 s anyway |
/// | [`first_chunk`](TimeoutConfigBuilder::first_chunk) | 30 s | `chat_stream`, from the call to the first event | the first token usually comes within seconds; 30 s leaves room for reasoning models that think before they answer and for a cold start, while still catching a provider that accepted the request and went silent |
/// | [`idle`](TimeoutConfigBuilder::idle) | 30 s | `chat_stream`, between events | a healthy stream sends something every few hundred milliseconds; half a minute of silence mid-answer is a hung connection |
/// | [`stream_total`](TimeoutConfigBuilder::stream_total) | none | `chat_stream`, from the call to the stream's end | a stream that keeps making progress is not hung (the idle limit catches hangs), and long answers are why callers stream; set it to bound a stream's whole duration |
///
/// The HTTP providers also have their own transport timeouts (connect, read, whole request; see
/// `HttpOptions`), which bound each HTTP exchange and are deliberately looser. This layer bounds the call
/// as the caller sees it, through every layer inside it, and adds the stream limits a transport timeout
/// cannot express. Placed inside a [`Retry`](super::retry::Retry) (the usual place) it bounds each attempt
/// and a timed-out attempt is retried; placed outside, it bounds the call with all its retries.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::timeout::TimeoutConfig;
///
/// let config = TimeoutConfig::builder()
///     .total(Duration::from_secs(20))
///     .idle(None)
///     .build()?;
/// assert_eq!(config.total(), Some(Duration::from_secs(20)));
/// assert_eq!(config.idle(), None);
/// assert_eq!(config.first_chunk(), Some(Duration::from_secs(30)));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutConfig {
    total: Option<Duration>,
    first_chunk: Option<Duration>,
    idle: Option<Duration>,
    stream_total: Option<Duration>,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig {
            total: Some(Duration::from_secs(60)),
            first_chunk: Some(Duration::from_secs(30)),
            idle: Some(Duration::from_secs(30)),
            stream_total: None,
        }
    }
}

impl TimeoutConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> TimeoutConfigBuilder {
        TimeoutConfigBuilder {
            config: TimeoutConfig::default(),
        }
    }

    /// The deadline of a whole `chat` or `embed` call.
    pub fn total(&self) -> Option<Duration> {
        self.total
    }

    /// The longest wait, from the call, for a stream's first event.
    pub fn first_chunk(&self) -> Option<Duration> {
        self.first_chunk
    }

    /// The longest silence between two events of a stream.
    pub fn idle(&self) -> Option<Duration> {
        self.idle
    }

    /// The deadline of a whole stream, from the call to its end.
    pub fn stream_total(&self) -> Option<Duration> {
        self.stream_total
    }
}

/// Builds a [`TimeoutConfig`]. Each setter takes a `Duration` or `None` (no such limit);
/// [`build`](TimeoutConfigBuilder::build) refuses a zero limit.
#[derive(Debug, Clone)]
pub struct TimeoutConfigBuilder {
    config: TimeoutConfig,
}

impl TimeoutConfigBuilder {
    /// The deadline of a whole `chat` or `embed` call. Default 60 s.
    pub fn total(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.config.total = limit.into();
        self
    }

    /// The longest wait, from the call, for a stream's first event. Default 30 s.
    pub fn first_chunk(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.config.first_chunk = limit.into();
        self
    }

    /// The longest silence between two events of a stream. Default 30 s.
    pub fn idle(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.config.idle = limit.into();
        self
    }

    /// The deadline of a whole stream, from the call to its end. Default none.
    pub fn stream_total(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.config.stream_total = limit.into();
        self
    }

    /// The configuration.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when a limit is zero (use `None` to switch a limit off).
    pub fn build(self) -> Result<TimeoutConfig> {
        let c = &self.config;
        for (name, limit) in [
            ("total", c.total),
            ("first_chunk", c.first_chunk),
            ("idle", c.idle),
            ("stream_total", c.stream_total),
        ] {
            if limit.is_some_and(|d| d.is_zero()) {
                return Err(Error::config(format!(
                    "timeout: {name} must be greater than zero (use None to switch it off)"
                )));
            }
            // Deadlines are `now + limit`, which must not overflow; a year is "never" for a call.
            if limit.is_some_and(|d| d > MAX_LIMIT) {
                return Err(Error::config(format!(
                    "timeout: {name} must be at most a year (use None to switch it off)"
                )));
            }
        }
        Ok(self.config)
    }
}

/// Which limit expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Total,
    FirstChunk,
    Idle,
    StreamTotal,
}

/// The longest limit accepted: deadlines are computed as `now + limit`.
const MAX_LIMIT: Duration = Duration::from_secs(365 * 24 * 3600);

fn expired(provider: &str, limit: Limit, after: Duration) -> Error {
    let message = match limit {
        Limit::Total => format!("no answer within the total deadline of {after:?} (timeout layer)"),
        Limit::FirstChunk => format!(
            "no first stream event within the time-to-first-chunk limit of {after:?} (timeout layer)"
        ),
        Limit::Idle => format!(
            "no stream event for the idle limit of {after:?} between events (timeout layer)"
        ),
        Limit::StreamTotal => format!(
            "the stream did not finish within the stream deadline of {after:?} (timeout layer)"
        ),
    };
    Error::new(ErrorKind::Timeout, message).with_provider(provider)
}

/// Puts deadlines on the calls of an inner [`LlmProvider`]; see [`TimeoutConfig`] for the limits.
///
/// - `chat` and `embed` must finish within the total deadline.
/// - `chat_stream` waits for the first event within the time-to-first-chunk limit (measured from the call,
///   including the inner `chat_stream` call), so an expired wait is an error of `chat_stream` itself and a
///   [`Retry`](super::retry::Retry) outside can still retry it. The returned stream gives that event first,
///   then enforces the idle limit between events and the stream deadline, if set. A limit hit mid-stream
///   yields one timeout error item and ends the stream, dropping the inner one, which cancels the request.
/// - `name`, `model` and `health_check` are forwarded untouched.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::timeout::{Timeout, TimeoutConfig};
/// use twelve_factor_ai::llm::{LlmProviderExt, Reply, Scripted};
/// use twelve_factor_ai::ErrorKind;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let scripted = Scripted::new("model-2024-01-01");
/// scripted.push_text("quick");
/// scripted.push_delayed(Duration::from_secs(3600), Reply::Error(twelve_factor_ai::Error::config("never")));
///
/// let llm = Timeout::new(scripted, TimeoutConfig::builder().total(Duration::from_millis(20)).build()?);
/// assert_eq!(llm.complete("fast?").await?, "quick");
/// let err = llm.complete("slow?").await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Timeout);
/// assert!(err.is_retryable());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Timeout<P> {
    inner: P,
    config: TimeoutConfig,
}

impl<P> Timeout<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, config: TimeoutConfig) -> Self {
        Timeout { inner, config }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &TimeoutConfig {
        &self.config
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: LlmProvider> LlmProvider for Timeout<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        match self.config.total {
            None => self.inner.chat(req).await,
            Some(limit) => tokio::time::timeout(limit, self.inner.chat(req))
                .await
                .unwrap_or_else(|_| Err(expired(self.inner.name(), Limit::Total, limit))),
        }
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let start = Instant::now();
        let stream_end = self.config.stream_total.map(|d| (start + d, d));
        // The first event must come before the earlier of the two limits that run from the call.
        let first_deadline = match (self.config.first_chunk, stream_end) {
            (Some(d), Some((end, total))) if total < d => Some((end, Limit::StreamTotal, total)),
            (Some(d), _) => Some((start + d, Limit::FirstChunk, d)),
            (None, Some((end, total))) => Some((end, Limit::StreamTotal, total)),
            (None, None) => None,
        };
        let open = async {
            let mut stream = self.inner.chat_stream(req).await?;
            let first = stream.next().await;
            Ok::<_, Error>((first, stream))
        };
        let (first, stream) = match first_deadline {
            None => open.await?,
            Some((deadline, limit, after)) => tokio::time::timeout_at(deadline, open)
                .await
                .unwrap_or_else(|_| Err(expired(self.inner.name(), limit, after)))?,
        };
        let Some(first) = first else {
            // The inner stream ended at once: hand back an empty stream, as the inner one was.
            return Ok(Box::pin(futures_util::stream::empty()));
        };
        let failed = first.is_err();
        let idle = self.config.idle;
        let mut timed = Timed {
            first: Some(first),
            inner: (!failed).then_some(stream),
            timer: None,
            idle,
            end: stream_end,
            firing: Limit::Idle,
            provider: Arc::from(self.inner.name()),
        };
        if !failed {
            if let Some((deadline, firing)) = timed.next_deadline(Instant::now()) {
                timed.firing = firing;
                timed.timer = Some(Box::pin(tokio::time::sleep_until(deadline)));
            }
        }
        Ok(Box::pin(timed))
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        match self.config.total {
            None => self.inner.embed(req).await,
            Some(limit) => tokio::time::timeout(limit, self.inner.embed(req))
                .await
                .unwrap_or_else(|_| Err(expired(self.inner.name(), Limit::Total, limit))),
        }
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

/// The stream `chat_stream` returns: its first event, then the inner stream's, under the idle limit and
/// the stream deadline.
struct Timed {
    first: Option<Result<StreamEvent>>,
    /// `None` once the stream ended, failed or timed out: dropping it cancels the upstream request.
    inner: Option<ChatStream>,
    /// `None` when neither the idle limit nor the stream deadline is set.
    timer: Option<Pin<Box<Sleep>>>,
    idle: Option<Duration>,
    end: Option<(Instant, Duration)>,
    /// The limit the timer's current deadline stands for.
    firing: Limit,
    provider: Arc<str>,
}

impl Timed {
    /// The next deadline after an event at `now`: the earlier of the idle limit and the stream deadline
    /// (`None` when neither is set).
    fn next_deadline(&self, now: Instant) -> Option<(Instant, Limit)> {
        match (self.idle, self.end) {
            (Some(idle), Some((end, _))) if end <= now + idle => Some((end, Limit::StreamTotal)),
            (Some(idle), _) => Some((now + idle, Limit::Idle)),
            (None, Some((end, _))) => Some((end, Limit::StreamTotal)),
            (None, None) => None,
        }
    }

    fn stop(&mut self) {
        self.inner = None;
        self.timer = None;
    }
}

impl Stream for Timed {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        // The inner stream first: an event that has arrived wins over a timer that expired meanwhile.
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(event))) => {
                // Only the idle limit moves; the stream deadline stays where it was set.
                if this.idle.is_some() {
                    if let Some((deadline, firing)) = this.next_deadline(Instant::now()) {
                        this.firing = firing;
                        if let Some(timer) = this.timer.as_mut() {
                            timer.as_mut().reset(deadline);
                        }
                    }
                }
                return Poll::Ready(Some(Ok(event)));
            }
            Poll::Ready(other) => {
                // An error item or the end: the stream is over either way.
                this.stop();
                return Poll::Ready(other);
            }
            Poll::Pending => {}
        }
        let Some(timer) = this.timer.as_mut() else {
            return Poll::Pending;
        };
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let after = match this.firing {
            Limit::StreamTotal => this.end.map(|(_, d)| d),
            _ => this.idle,
        }
        .unwrap_or_default();
        let err = expired(&this.provider, this.firing, after);
        this.stop();
        Poll::Ready(Some(Err(err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Chunk, LlmProviderExt, Reply, Scripted};

    #[test]
    fn defaults_and_validation() {
        let c = TimeoutConfig::default();
        assert_eq!(c.total(), Some(Duration::from_secs(60)));
        assert_eq!(c.first_chunk(), Some(Duration::from_secs(30)));
        assert_eq!(c.idle(), Some(Duration::from_secs(30)));
        assert_eq!(c.stream_total(), None);
        assert_eq!(TimeoutConfig::builder().build().unwrap(), c);
        for bad in [
            TimeoutConfig::builder().total(Duration::ZERO),
            TimeoutConfig::builder().first_chunk(Duration::ZERO),
            TimeoutConfig::builder().idle(Duration::ZERO),
            TimeoutConfig::builder().stream_total(Duration::ZERO),
        ] {
            let err = bad.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
        }
        let off = TimeoutConfig::builder()
            .total(None)
            .first_chunk(None)
            .idle(None)
            .build()
            .unwrap();
        assert_eq!(off.total(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn no_limits_means_no_timer() {
        let s = Scripted::new("m");
        s.push_delayed(
            Duration::from_secs(7200),
            Reply::Error(Error::config("late")),
        );
        s.push_stream([
            Chunk::text("a"),
            Chunk::Delay(Duration::from_secs(7200)),
            Chunk::text("b"),
            Chunk::done(),
        ]);
        let config = TimeoutConfig::builder()
            .total(None)
            .first_chunk(None)
            .idle(None)
            .build()
            .unwrap();
        let t = Timeout::new(s, config);
        let start = Instant::now();
        assert_eq!(t.complete("x").await.unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(start.elapsed(), Duration::from_secs(7200));
        let r = t.chat_collected(ChatRequest::user("y")).await.unwrap();
        assert_eq!(r.content, "ab");
    }

    #[tokio::test(start_paused = true)]
    async fn stream_total_shorter_than_first_chunk_names_the_stream_deadline() {
        let s = Scripted::new("m");
        s.push_stream([Chunk::Delay(Duration::from_secs(20)), Chunk::text("a")]);
        let config = TimeoutConfig::builder()
            .stream_total(Duration::from_secs(5))
            .build()
            .unwrap();
        let t = Timeout::new(s, config);
        let err = t.chat_stream(ChatRequest::user("x")).await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err.message().contains("stream deadline"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_error_item_is_passed_on_unchanged() {
        let s = Scripted::new("m");
        s.push_stream([Chunk::Error(Error::new(ErrorKind::Server, "boom"))]);
        s.push_stream([]);
        let t = Timeout::new(s, TimeoutConfig::default());
        let mut stream = t.chat_stream(ChatRequest::user("x")).await.unwrap();
        assert_eq!(
            stream.next().await.unwrap().unwrap_err().kind(),
            ErrorKind::Server
        );
        assert!(stream.next().await.is_none());
        let mut empty = t.chat_stream(ChatRequest::user("y")).await.unwrap();
        assert!(empty.next().await.is_none());
    }

    #[tokio::test]
    async fn forwards_identity_and_health() {
        let s = Scripted::new("pinned").with_name("openai");
        s.set_health(Some(Error::new(ErrorKind::Auth, "bad key")));
        let t = Timeout::new(s, TimeoutConfig::default());
        assert_eq!(t.name(), "openai");
        assert_eq!(t.model(), "pinned");
        assert_eq!(t.health_check().await.unwrap_err().kind(), ErrorKind::Auth);
        assert_eq!(t.config(), &TimeoutConfig::default());
        let _inner: Scripted = t.into_inner();
    }
}
