//! Contract tests of the `Retry` and `Timeout` wrappers, with `Scripted` providers and paused tokio time.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::time::Instant;
use twelve_factor_ai::layer::retry::{Retry, RetryConfig};
use twelve_factor_ai::layer::timeout::{Timeout, TimeoutConfig};
use twelve_factor_ai::llm::{
    ChatRequest, ChatResponse, ChatStream, Chunk, EmbedRequest, EmbedResponse, LlmProvider,
    LlmProviderExt, Reply, Scripted, StreamEvent,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::{Error, ErrorKind, Result};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn no_jitter() -> RetryConfig {
    RetryConfig::builder().jitter(false).build().unwrap()
}

fn conformance_provider() -> Scripted {
    Scripted::new("m").echo_when_empty().with_hash_embeddings(8)
}

fn caps() -> LlmCapabilities {
    LlmCapabilities::default()
        .with_embeddings(true)
        .with_usage(true)
}

// ---------------------------------------------------------------------------------------------------
// Retry
// ---------------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn retry_retries_transient_errors_and_succeeds() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::Overloaded, "busy").with_status(529));
    s.push_error(Error::new(ErrorKind::Server, "boom").with_status(500));
    s.push_error(Error::new(ErrorKind::Timeout, "slow"));
    s.push_error(Error::new(ErrorKind::RateLimited, "slow down").with_status(429));
    s.push_text("finally");
    let config = RetryConfig::builder()
        .max_attempts(5)
        .jitter(false)
        .build()
        .unwrap();
    let r = Retry::new(s, config);
    let start = Instant::now();
    let res = r.chat(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(res.content, "finally");
    assert_eq!(res.attempts, 5, "four failed tries plus the answer");
    assert_eq!(r.get_ref().remaining(), 0);
    // Backoffs without jitter: 250 ms, 500 ms, 1 s, 2 s.
    assert_eq!(start.elapsed(), Duration::from_millis(3750));
}

#[tokio::test(start_paused = true)]
async fn retry_adds_failed_tries_to_the_inner_attempts() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::Server, "boom"));
    let mut answer = ChatResponse::text("scripted", "m", "from a fallback");
    answer.attempts = 2;
    s.push_response(answer);
    let r = Retry::new(s, no_jitter());
    assert_eq!(r.chat(ChatRequest::user("hi")).await.unwrap().attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn retry_stops_at_max_attempts_keeping_every_error() {
    let s = Scripted::new("m");
    for i in 1..=3 {
        s.push_error(Error::new(ErrorKind::Server, format!("boom {i}")));
    }
    s.push_text("never reached");
    let r = Retry::new(s, no_jitter());
    let err = r.complete("hi").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.message(), "boom 3", "the last error is returned");
    let earlier: Vec<&str> = err.attempts().iter().map(Error::message).collect();
    assert_eq!(earlier, ["boom 1", "boom 2"], "with every earlier one");
    assert_eq!(r.get_ref().requests().len(), 3);
    assert_eq!(r.get_ref().remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_honours_retry_after_exactly() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::RateLimited, "slow down").with_retry_after(secs(3)));
    s.push_text("ok");
    let r = Retry::new(s, no_jitter());
    let start = Instant::now();
    assert_eq!(r.complete("hi").await.unwrap(), "ok");
    assert_eq!(start.elapsed(), secs(3));
}

#[tokio::test(start_paused = true)]
async fn retry_waits_at_least_the_backoff_when_retry_after_is_shorter() {
    let s = Scripted::new("m");
    s.push_error(
        Error::new(ErrorKind::RateLimited, "slow down").with_retry_after(Duration::from_millis(10)),
    );
    s.push_text("ok");
    let config = RetryConfig::builder()
        .jitter(false)
        .base_delay(secs(1))
        .build()
        .unwrap();
    let r = Retry::new(s, config);
    let start = Instant::now();
    assert_eq!(r.complete("hi").await.unwrap(), "ok");
    assert_eq!(start.elapsed(), secs(1));
}

#[tokio::test(start_paused = true)]
async fn retry_gives_up_at_once_when_retry_after_is_above_the_cap() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::RateLimited, "come back later").with_retry_after(secs(31)));
    s.push_text("unused");
    let r = Retry::new(s, no_jitter());
    let start = Instant::now();
    let err = r.complete("hi").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(
        err.retry_after(),
        Some(secs(31)),
        "the caller sees the server's wait"
    );
    assert_eq!(start.elapsed(), Duration::ZERO, "no sleep");
    assert_eq!(r.get_ref().remaining(), 1);

    // A smaller cap applies the same way.
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::Overloaded, "busy").with_retry_after(secs(5)));
    s.push_text("unused");
    let config = RetryConfig::builder()
        .jitter(false)
        .max_retry_after(secs(2))
        .build()
        .unwrap();
    let r = Retry::new(s, config);
    assert_eq!(
        r.complete("hi").await.unwrap_err().kind(),
        ErrorKind::Overloaded
    );
    assert_eq!(r.get_ref().remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_gives_up_when_retry_after_passes_the_budget() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::RateLimited, "wait").with_retry_after(secs(20)));
    s.push_text("unused");
    let config = RetryConfig::builder()
        .jitter(false)
        .budget(secs(10))
        .build()
        .unwrap();
    let r = Retry::new(s, config);
    let start = Instant::now();
    assert!(r.complete("hi").await.is_err());
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(r.get_ref().remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_respects_the_time_budget() {
    let s = Scripted::new("m");
    for i in 1..=5 {
        s.push_delayed(
            secs(10),
            Reply::Error(Error::new(ErrorKind::Server, format!("slow failure {i}"))),
        );
    }
    let config = RetryConfig::builder()
        .max_attempts(5)
        .jitter(false)
        .base_delay(secs(1))
        .budget(secs(25))
        .build()
        .unwrap();
    let r = Retry::new(s, config);
    let start = Instant::now();
    let err = r.complete("hi").await.unwrap_err();
    // Attempt 1 fails at 10 s, sleep 1 s; attempt 2 fails at 21 s, sleep 2 s (23 s ≤ 25 s); attempt 3
    // fails at 33 s, and a 4 s sleep would end past the budget: give up there.
    assert_eq!(start.elapsed(), secs(33));
    assert_eq!(err.message(), "slow failure 3");
    assert_eq!(err.attempts().len(), 2);
    assert_eq!(r.get_ref().remaining(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_never_retries_permanent_or_local_errors() {
    let permanent = [
        Error::invalid_request("bad temperature"),
        Error::new(ErrorKind::Auth, "bad key").with_status(401),
        Error::new(ErrorKind::CircuitOpen, "circuit open").local(),
        Error::new(ErrorKind::CircuitOpen, "circuit open (not marked local)"),
        Error::new(ErrorKind::ShuttingDown, "draining").local(),
        Error::new(ErrorKind::RateLimited, "local rate limit").local(),
        Error::new(ErrorKind::QuotaExhausted, "no credit"),
        Error::new(ErrorKind::ContextLengthExceeded, "too long"),
    ];
    for e in permanent {
        let s = Scripted::new("m");
        s.push_error(e.clone());
        s.push_text("unused");
        let r = Retry::new(s, no_jitter());
        let start = Instant::now();
        let err = r.complete("hi").await.unwrap_err();
        assert_eq!(err.kind(), e.kind(), "{e}");
        assert_eq!(err.message(), e.message());
        assert!(err.attempts().is_empty(), "{e}");
        assert_eq!(r.get_ref().remaining(), 1, "{e}: not retried");
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}

#[tokio::test(start_paused = true)]
async fn retry_stops_at_a_permanent_error_after_transient_ones() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::Server, "boom"));
    s.push_error(Error::new(ErrorKind::Auth, "key revoked"));
    s.push_text("unused");
    let r = Retry::new(s, no_jitter());
    let err = r.complete("hi").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.attempts().len(), 1);
    assert_eq!(err.attempts()[0].kind(), ErrorKind::Server);
    assert_eq!(r.get_ref().remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_jitter_stays_below_the_bound() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::Server, "boom"));
    s.push_text("ok");
    let r = Retry::new(s, RetryConfig::builder().seed(7).build().unwrap());
    let start = Instant::now();
    assert_eq!(r.complete("hi").await.unwrap(), "ok");
    assert!(start.elapsed() <= Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn retry_stream_error_before_the_first_chunk_is_retried() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::Overloaded, "busy"));
    s.push_stream([Chunk::Error(Error::new(ErrorKind::Transport, "reset"))]);
    s.push_stream([Chunk::text("Hel"), Chunk::text("lo"), Chunk::done()]);
    let r = Retry::new(s, no_jitter());
    let res = r.chat_collected(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(res.content, "Hello");
    assert_eq!(r.get_ref().requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_stream_error_after_the_first_chunk_is_an_item_not_a_retry() {
    let s = Scripted::new("m");
    s.push_stream([
        Chunk::text("partial"),
        Chunk::Error(Error::new(ErrorKind::Server, "broke mid-answer")),
    ]);
    s.push_text("must not be used");
    let r = Retry::new(s, no_jitter());
    let mut stream = r.chat_stream(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta {
            text: "partial".into()
        }
    );
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(stream.next().await.is_none());
    assert_eq!(r.get_ref().remaining(), 1, "no extra call");
    assert_eq!(r.get_ref().requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_stream_that_ends_without_an_event_is_retried() {
    let s = Scripted::new("m");
    s.push_stream([]);
    s.push_stream([Chunk::text("ok"), Chunk::done()]);
    let r = Retry::new(s, no_jitter());
    let res = r.chat_collected(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(res.content, "ok");
    assert_eq!(r.get_ref().requests().len(), 2);

    // Always empty: give up after max attempts with a retryable error naming the provider.
    let s = Scripted::new("m").with_name("openai");
    for _ in 0..3 {
        s.push_stream([]);
    }
    let r = Retry::new(s, no_jitter());
    let err = r.chat_stream(ChatRequest::user("hi")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.provider(), Some("openai"));
    assert_eq!(err.attempts().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_stream_gives_up_keeping_every_error() {
    let s = Scripted::new("m");
    s.push_error(Error::new(ErrorKind::Server, "one"));
    s.push_stream([Chunk::Error(Error::new(ErrorKind::Server, "two"))]);
    s.push_error(Error::new(ErrorKind::Server, "three"));
    let r = Retry::new(s, no_jitter());
    let err = r.chat_stream(ChatRequest::user("hi")).await.err().unwrap();
    assert_eq!(err.message(), "three");
    let earlier: Vec<&str> = err.attempts().iter().map(Error::message).collect();
    assert_eq!(earlier, ["one", "two"]);
}

#[tokio::test(start_paused = true)]
async fn retry_retries_embeddings_like_chat() {
    let s = conformance_provider();
    s.push_embed_error(Error::new(ErrorKind::Server, "boom"));
    s.push_embed_error(Error::new(ErrorKind::RateLimited, "wait").with_retry_after(secs(2)));
    let r = Retry::new(s, no_jitter());
    let start = Instant::now();
    let v = r.embed_one("text").await.unwrap();
    assert_eq!(v.len(), 8);
    assert_eq!(r.get_ref().embed_requests().len(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(250) + secs(2));

    let s = conformance_provider();
    s.push_embed_error(Error::new(ErrorKind::Auth, "bad key"));
    let r = Retry::new(s, no_jitter());
    assert_eq!(r.embed_one("x").await.unwrap_err().kind(), ErrorKind::Auth);
    assert_eq!(r.get_ref().embed_requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_passes_conformance() {
    let r = Retry::new(conformance_provider(), RetryConfig::default());
    llm_provider(&r, &caps()).await;
}

// ---------------------------------------------------------------------------------------------------
// Timeout
// ---------------------------------------------------------------------------------------------------

/// Wraps `Scripted`: records when a stream it handed out is dropped, and delays embeddings.
#[derive(Debug)]
struct Spy {
    inner: Scripted,
    embed_delay: Duration,
    dropped: Arc<AtomicBool>,
}

impl Spy {
    fn new(inner: Scripted) -> Self {
        Spy {
            inner,
            embed_delay: Duration::ZERO,
            dropped: Arc::new(AtomicBool::new(false)),
        }
    }

    fn dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }
}

struct DropFlag {
    inner: ChatStream,
    dropped: Arc<AtomicBool>,
}

impl Stream for DropFlag {
    type Item = Result<StreamEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl LlmProvider for Spy {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        self.inner.chat(req).await
    }
    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let inner = self.inner.chat_stream(req).await?;
        Ok(Box::pin(DropFlag {
            inner,
            dropped: self.dropped.clone(),
        }))
    }
    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        tokio::time::sleep(self.embed_delay).await;
        self.inner.embed(req).await
    }
}

fn assert_timeout(err: &Error, limit_words: &str) {
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains(limit_words), "{err}");
    assert_eq!(err.provider(), Some("scripted"), "{err}");
    assert!(!err.is_local(), "a timeout is not a local refusal");
    assert!(err.is_retryable(), "a timeout may be retried");
}

#[tokio::test(start_paused = true)]
async fn timeout_total_deadline_on_chat() {
    let s = Scripted::new("m");
    s.push_delayed(secs(90), Reply::Error(Error::config("never seen")));
    s.push_delayed(
        secs(59),
        Reply::Response(ChatResponse::text("scripted", "m", "just in time")),
    );
    let t = Timeout::new(s, TimeoutConfig::default());
    let start = Instant::now();
    let err = t.complete("slow").await.unwrap_err();
    assert_timeout(&err, "total deadline of 60s");
    assert_eq!(start.elapsed(), secs(60));

    let start = Instant::now();
    assert_eq!(t.complete("fast enough").await.unwrap(), "just in time");
    assert_eq!(start.elapsed(), secs(59));
}

#[tokio::test(start_paused = true)]
async fn timeout_total_deadline_on_embed() {
    let mut spy = Spy::new(conformance_provider());
    spy.embed_delay = secs(10);
    let config = TimeoutConfig::builder().total(secs(5)).build().unwrap();
    let t = Timeout::new(spy, config);
    let start = Instant::now();
    let err = t.embed_one("x").await.unwrap_err();
    assert_timeout(&err, "total deadline of 5s");
    assert_eq!(start.elapsed(), secs(5));
}

#[tokio::test(start_paused = true)]
async fn timeout_first_chunk_counts_from_the_call() {
    // The first event is late.
    let s = Scripted::new("m");
    s.push_stream([Chunk::Delay(secs(45)), Chunk::text("late"), Chunk::done()]);
    // The inner chat_stream call itself is slow: that counts too.
    s.push_delayed(
        secs(20),
        Reply::Stream(vec![Chunk::Delay(secs(15)), Chunk::text("late")]),
    );
    // Within the limit.
    s.push_stream([Chunk::Delay(secs(29)), Chunk::text("ok"), Chunk::done()]);
    let t = Timeout::new(s, TimeoutConfig::default());

    let start = Instant::now();
    let err = t.chat_stream(ChatRequest::user("a")).await.err().unwrap();
    assert_timeout(&err, "time-to-first-chunk limit of 30s");
    assert_eq!(start.elapsed(), secs(30));

    let start = Instant::now();
    let err = t.chat_stream(ChatRequest::user("b")).await.err().unwrap();
    assert_timeout(&err, "time-to-first-chunk");
    assert_eq!(start.elapsed(), secs(30));

    let r = t.chat_collected(ChatRequest::user("c")).await.unwrap();
    assert_eq!(r.content, "ok");
}

#[tokio::test(start_paused = true)]
async fn timeout_idle_limit_ends_the_stream_and_drops_the_inner_one() {
    let s = Scripted::new("m");
    s.push_stream([
        Chunk::text("a"),
        Chunk::Delay(secs(3600)),
        Chunk::text("never"),
        Chunk::done(),
    ]);
    let spy = Spy::new(s);
    let config = TimeoutConfig::builder().idle(secs(10)).build().unwrap();
    let t = Timeout::new(spy, config);
    let mut stream = t.chat_stream(ChatRequest::user("x")).await.unwrap();
    let start = Instant::now();
    assert!(stream.next().await.unwrap().is_ok());
    let err = stream.next().await.unwrap().unwrap_err();
    assert_timeout(&err, "idle limit of 10s");
    assert_eq!(start.elapsed(), secs(10));
    assert!(
        t.get_ref().dropped(),
        "the inner stream is dropped at the timeout"
    );
    assert!(
        stream.next().await.is_none(),
        "one error item, then the end"
    );
    assert_eq!(start.elapsed(), secs(10));
}

#[tokio::test(start_paused = true)]
async fn timeout_idle_limit_restarts_at_each_event() {
    let s = Scripted::new("m");
    s.push_stream([
        Chunk::text("a"),
        Chunk::Delay(secs(8)),
        Chunk::text("b"),
        Chunk::Delay(secs(8)),
        Chunk::text("c"),
        Chunk::Delay(secs(8)),
        Chunk::done(),
    ]);
    let config = TimeoutConfig::builder().idle(secs(10)).build().unwrap();
    let t = Timeout::new(s, config);
    let r = t.chat_collected(ChatRequest::user("x")).await.unwrap();
    assert_eq!(r.content, "abc");
}

#[tokio::test(start_paused = true)]
async fn timeout_stream_total_bounds_the_whole_stream() {
    let s = Scripted::new("m");
    let mut chunks = vec![Chunk::text("0")];
    for i in 1..10 {
        chunks.push(Chunk::Delay(secs(8)));
        chunks.push(Chunk::text(i.to_string()));
    }
    chunks.push(Chunk::done());
    s.push_stream(chunks);
    let spy = Spy::new(s);
    let config = TimeoutConfig::builder()
        .idle(secs(10))
        .stream_total(secs(30))
        .build()
        .unwrap();
    let t = Timeout::new(spy, config);
    let start = Instant::now();
    let mut stream = t.chat_stream(ChatRequest::user("x")).await.unwrap();
    let mut texts = String::new();
    let err = loop {
        match stream.next().await.unwrap() {
            Ok(StreamEvent::TextDelta { text }) => texts.push_str(&text),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_timeout(&err, "stream deadline of 30s");
    assert_eq!(texts, "0123", "events at 0, 8, 16 and 24 s");
    assert_eq!(start.elapsed(), secs(30));
    assert!(t.get_ref().dropped());
    assert!(stream.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn timeout_passes_inner_errors_through_unchanged() {
    let s = Scripted::new("m");
    s.push_stream([
        Chunk::text("a"),
        Chunk::Error(Error::new(ErrorKind::Server, "broke")),
    ]);
    s.push_error(Error::invalid_request("bad"));
    let t = Timeout::new(s, TimeoutConfig::default());
    let mut stream = t.chat_stream(ChatRequest::user("x")).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    assert_eq!(
        stream.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::Server
    );
    assert!(stream.next().await.is_none());
    assert_eq!(
        t.complete("y").await.unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_passes_conformance() {
    let t = Timeout::new(conformance_provider(), TimeoutConfig::default());
    llm_provider(&t, &caps()).await;
}

// ---------------------------------------------------------------------------------------------------
// Together
// ---------------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn retry_around_timeout_retries_a_stream_that_never_started() {
    let s = Scripted::new("m");
    s.push_stream([Chunk::Delay(secs(3600)), Chunk::text("never")]);
    s.push_stream([Chunk::text("second try"), Chunk::done()]);
    let config = TimeoutConfig::builder()
        .first_chunk(secs(5))
        .build()
        .unwrap();
    let r = Retry::new(Timeout::new(s, config), no_jitter());
    let start = Instant::now();
    let res = r.chat_collected(ChatRequest::user("x")).await.unwrap();
    assert_eq!(res.content, "second try");
    assert_eq!(start.elapsed(), secs(5) + Duration::from_millis(250));
    assert_eq!(r.get_ref().get_ref().requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn stacked_retry_and_timeout_pass_conformance() {
    let stacked = Retry::new(
        Timeout::new(conformance_provider(), TimeoutConfig::default()),
        RetryConfig::default(),
    );
    llm_provider(&stacked, &caps()).await;
}

/// Anthropic sends `message_start` (start + usage) before any text; an overload right after it has shown
/// the caller no content, so the stream is still retried.
#[tokio::test(start_paused = true)]
async fn metadata_before_the_first_content_does_not_commit_a_stream() {
    use twelve_factor_ai::llm::{Chunk, StreamEvent, Usage};
    let inner = Scripted::new("m");
    inner.push_stream([
        Chunk::Event(StreamEvent::Start {
            model: Some("m-1".into()),
            cached: false,
            provider_request_id: None,
        }),
        Chunk::Event(StreamEvent::Usage {
            usage: Usage {
                input_tokens: Some(5),
                ..Usage::default()
            },
        }),
        Chunk::Error(Error::new(ErrorKind::Overloaded, "overloaded_error")),
    ]);
    inner.push_stream([Chunk::text("second try"), Chunk::done()]);
    let retry = Retry::new(inner, RetryConfig::builder().jitter(false).build().unwrap());
    let r = retry.chat_collected(ChatRequest::user("x")).await.unwrap();
    assert_eq!(r.content, "second try");
    assert_eq!(retry.get_ref().requests().len(), 2);
}
