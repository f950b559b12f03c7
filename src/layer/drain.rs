//! [`Drain`]: graceful shutdown (factor IX, disposability). It counts the calls in flight, and on
//! [`DrainHandle::shutdown`] refuses new calls and waits, up to a deadline, for those in flight to
//! finish, streams included.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::names;
use super::observe::{StreamEnd, StreamObserver, observe};
use crate::llm::{ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider};
use crate::{Error, ErrorKind, Result};

/// The top bit of the counter says "draining"; the other bits count the calls in flight. One atomic word
/// keeps "refuse or count" exact: a call is either counted before shutdown reads the count, or refused.
const DRAINING: usize = 1 << (usize::BITS - 1);

#[derive(Debug, Default)]
struct Shared {
    state: AtomicUsize,
    idle: Notify,
}

/// Starts and watches the drain of one or more [`Drain`] wrappers; cheap to clone and share (keep one in
/// the host's shutdown code, for example next to the signal handler).
///
/// Every `Drain` built with the same handle (through [`Drain::new`], [`Drain::with_handle`] or
/// [`Drain::handle`]) shares one count, so a single `shutdown` drains a service's chat and embedding
/// providers together.
#[derive(Clone, Default)]
pub struct DrainHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for DrainHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DrainHandle")
            .field("in_flight", &self.in_flight())
            .field("draining", &self.is_draining())
            .finish()
    }
}

/// What [`DrainHandle::shutdown`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainReport {
    /// Calls in flight when the drain began that finished before the deadline.
    pub finished: usize,
    /// Calls still running at the deadline (0 when everything finished).
    pub still_running: usize,
}

impl DrainHandle {
    /// A handle with nothing in flight, not draining; give it to [`Drain::with_handle`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls (and open streams) in flight now.
    pub fn in_flight(&self) -> usize {
        self.shared.state.load(Ordering::Acquire) & !DRAINING
    }

    /// Whether [`shutdown`](Self::shutdown) was called: new calls are refused.
    pub fn is_draining(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) & DRAINING != 0
    }

    /// From now on refuses new calls (and health checks) with [`ErrorKind::ShuttingDown`], then waits
    /// until the calls in flight have finished or `deadline` has passed, whichever comes first.
    ///
    /// Calls still running at the deadline are left alone (the host decides whether to wait more or exit);
    /// calling `shutdown` again waits for them again. The wait is event-driven: the last call to finish
    /// wakes it.
    pub async fn shutdown(&self, deadline: Duration) -> DrainReport {
        let before = self.shared.state.fetch_or(DRAINING, Ordering::AcqRel);
        let at_start = before & !DRAINING;
        if before & DRAINING == 0 {
            tracing::info!(
                in_flight = at_start,
                deadline_s = deadline.as_secs_f64(),
                "drain: refusing new calls, waiting for the calls in flight"
            );
        }
        let until = Instant::now().checked_add(deadline);
        loop {
            let idle = self.shared.idle.notified();
            let mut idle = std::pin::pin!(idle);
            // Registered before the check, so a call finishing in between still wakes us.
            idle.as_mut().enable();
            if self.in_flight() == 0 {
                break;
            }
            match until {
                Some(until) => {
                    if tokio::time::timeout_at(until, idle).await.is_err() {
                        break;
                    }
                }
                None => idle.await,
            }
        }
        let still_running = self.in_flight();
        let report = DrainReport {
            finished: at_start.saturating_sub(still_running),
            still_running,
        };
        if still_running > 0 {
            tracing::warn!(
                finished = report.finished,
                still_running,
                "drain: deadline passed with calls still running"
            );
        } else {
            tracing::info!(finished = report.finished, "drain: every call finished");
        }
        report
    }
}

/// What every call of one `Drain` shares: the handle's count and this wrapper's gauge.
struct Local {
    shared: Arc<Shared>,
    gauge: metrics::Gauge,
    provider: String,
}

impl Local {
    fn begin(self: &Arc<Self>) -> Result<InFlight> {
        let counted = self
            .shared
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                if v & DRAINING != 0 {
                    None
                } else {
                    v.checked_add(1).filter(|n| n & DRAINING == 0)
                }
            });
        if counted.is_err() {
            return Err(self.refusal());
        }
        self.gauge.increment(1.0);
        Ok(InFlight(Arc::clone(self)))
    }

    fn refusal(&self) -> Error {
        Error::new(
            ErrorKind::ShuttingDown,
            "the service is shutting down and takes no new calls; send this call to another instance",
        )
        .with_provider(self.provider.clone())
        .local()
    }
}

/// One call in flight; dropping it ends the call.
struct InFlight(Arc<Local>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let before = self.0.shared.state.fetch_sub(1, Ordering::AcqRel);
        self.0.gauge.decrement(1.0);
        if before == DRAINING | 1 {
            self.0.shared.idle.notify_waiters();
        }
    }
}

impl StreamObserver for InFlight {
    fn on_end(self, _end: StreamEnd<'_>) {
        // Dropping `self` ends the call.
    }
}

/// Counts the calls in flight through a provider so shutdown can wait for them; refuses new calls once a
/// [`DrainHandle::shutdown`] began.
///
/// A stream counts until it ends or the caller drops it. Health checks are not counted; during a drain
/// they fail with [`ErrorKind::ShuttingDown`], so load balancers stop sending traffic to this instance.
///
/// The [`DRAIN_IN_FLIGHT`](names::DRAIN_IN_FLIGHT) gauge (label: provider) is registered at construction, with the
/// metrics recorder installed at that moment.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::layer::drain::{Drain, DrainReport};
/// use twelve_factor_ai::llm::{LlmProviderExt, Scripted};
/// use twelve_factor_ai::ErrorKind;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let (llm, handle) = Drain::new(Scripted::new("model-2024-01-01").echo_when_empty());
/// assert_eq!(llm.complete("hi").await?, "hi");
///
/// // On SIGTERM: stop taking calls, give the ones in flight 25 s.
/// let report = handle.shutdown(Duration::from_secs(25)).await;
/// assert_eq!(report, DrainReport { finished: 0, still_running: 0 });
/// assert_eq!(llm.complete("late").await.unwrap_err().kind(), ErrorKind::ShuttingDown);
/// # Ok(())
/// # }
/// ```
pub struct Drain<P> {
    inner: P,
    local: Arc<Local>,
}

impl<P: fmt::Debug> fmt::Debug for Drain<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("inner", &self.inner)
            .field("handle", &self.handle())
            .finish()
    }
}

impl<P: LlmProvider> Drain<P> {
    /// Wraps `inner` with a new handle.
    pub fn new(inner: P) -> (Self, DrainHandle) {
        let handle = DrainHandle::new();
        (Self::with_handle(inner, handle.clone()), handle)
    }

    /// Wraps `inner`, counting its calls on `handle` (shared with other `Drain`s).
    pub fn with_handle(inner: P, handle: DrainHandle) -> Self {
        let provider = inner.name().to_owned();
        let gauge =
            metrics::gauge!(names::DRAIN_IN_FLIGHT, names::PROVIDER_NAME => provider.clone());
        Drain {
            inner,
            local: Arc::new(Local {
                shared: handle.shared,
                gauge,
                provider,
            }),
        }
    }
}

impl<P> Drain<P> {
    /// A handle on this wrapper's drain.
    pub fn handle(&self) -> DrainHandle {
        DrainHandle {
            shared: Arc::clone(&self.local.shared),
        }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The wrapped provider.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: LlmProvider> LlmProvider for Drain<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let _in_flight = self.local.begin()?;
        self.inner.chat(req).await
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let in_flight = self.local.begin()?;
        let stream = self.inner.chat_stream(req).await?;
        Ok(observe(stream, in_flight))
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let _in_flight = self.local.begin()?;
        self.inner.embed(req).await
    }

    /// Fails with [`ErrorKind::ShuttingDown`] during a drain; otherwise asks the provider.
    async fn health_check(&self) -> Result<()> {
        if self.local.shared.state.load(Ordering::Acquire) & DRAINING != 0 {
            return Err(self.local.refusal());
        }
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Chunk, LlmProviderExt, Reply, Scripted};
    use crate::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
    use futures_util::StreamExt;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[tokio::test]
    async fn conformance() {
        let (d, handle) = Drain::new(Scripted::new("m").echo_when_empty().with_hash_embeddings(8));
        llm_provider(
            &d,
            &LlmCapabilities::default()
                .with_embeddings(true)
                .with_usage(true),
        )
        .await;
        assert_eq!(handle.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_with_nothing_in_flight_returns_at_once() {
        let (d, handle) = Drain::new(Scripted::new("m").echo_when_empty());
        let start = Instant::now();
        let report = handle.shutdown(Duration::from_secs(60)).await;
        assert_eq!(report, DrainReport::default());
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(handle.is_draining());
        let err = d.health_check().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ShuttingDown);
        assert!(err.is_local());
        assert_eq!(err.provider(), Some("scripted"));
        let err = d.embed_one("x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ShuttingDown);
        let err = d.chat_stream(ChatRequest::user("x")).await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::ShuttingDown);
        assert!(d.get_ref().requests().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn handles_are_shared_between_wrappers() {
        let handle = DrainHandle::new();
        let chat = Drain::with_handle(Scripted::new("chat"), handle.clone());
        let embed = Drain::with_handle(
            Scripted::new("embed").with_hash_embeddings(4),
            handle.clone(),
        );
        chat.get_ref().push_delayed(
            Duration::from_secs(5),
            Reply::Error(Error::new(ErrorKind::Server, "x")),
        );
        let (a, b, report) = tokio::join!(chat.complete("q"), embed.embed_one("t"), async {
            tokio::task::yield_now().await;
            assert_eq!(handle.in_flight(), 1, "the embed call finished at once");
            handle.shutdown(Duration::from_secs(10)).await
        });
        assert!(a.is_err());
        assert!(b.is_ok());
        assert_eq!(
            report,
            DrainReport {
                finished: 1,
                still_running: 0
            }
        );
        assert!(embed.handle().is_draining());
    }

    #[tokio::test(start_paused = true)]
    async fn gauge_counts_streams_until_they_end() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _guard = metrics::set_default_local_recorder(&recorder);
        let gauge = || {
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .find(|(k, _, _, _)| k.key().name() == names::DRAIN_IN_FLIGHT)
                .map(|(_, _, _, v)| match v {
                    DebugValue::Gauge(g) => g.into_inner(),
                    other => panic!("{other:?}"),
                })
        };
        // (A snapshot resets gauges to zero, so the test reads it once.)
        let (d, _handle) = Drain::new(Scripted::new("m"));
        d.get_ref().push_stream([Chunk::text("a"), Chunk::done()]);
        d.get_ref().push_stream([Chunk::text("b"), Chunk::done()]);
        let mut finished = d.chat_stream(ChatRequest::user("q")).await.unwrap();
        let open = d.chat_stream(ChatRequest::user("q")).await.unwrap();
        while finished.next().await.is_some() {}
        assert_eq!(gauge(), Some(1.0));
        drop(open);
    }
}
