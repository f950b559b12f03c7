//! Contract tests of the `RateLimit` wrapper: budgets hold under concurrency, reservations are reconciled
//! with reported usage, refusals are local and typed, all under paused tokio time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokio::time::Instant;
use twelve_factor_ai::layer::names;
use twelve_factor_ai::layer::rate_limit::{
    Acquire, Cost, Limit, LimitKey, Limits, LocalBackend, RateLimit, RateLimitBackend,
    RateLimitConfig, RateLimitConfigBuilder, RateLimitMode, Reservation, TokenEstimator,
};
use twelve_factor_ai::llm::{
    ChatRequest, ChatResponse, Chunk, EmbedRequest, LlmProvider, LlmProviderExt, Scripted,
    StreamEvent, Usage,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::{ErrorKind, Result};

const SEC: Duration = Duration::from_secs(1);

/// Estimates no input, so a call reserves exactly its `max_tokens`: the tests' arithmetic stays exact.
#[derive(Debug)]
struct NoInput;

impl TokenEstimator for NoInput {
    fn estimate_chat(&self, _: &ChatRequest) -> u64 {
        0
    }
    fn estimate_embed(&self, req: &EmbedRequest) -> u64 {
        req.inputs.iter().map(|t| t.len() as u64).sum()
    }
}

fn tpm(tokens: u32) -> RateLimitConfigBuilder {
    RateLimitConfig::builder()
        .tokens_per_minute(tokens)
        .estimator(Arc::new(NoInput))
        .wait(Duration::from_secs(3600))
}

fn req(max_tokens: u32) -> ChatRequest {
    ChatRequest::builder()
        .user("x")
        .max_tokens(max_tokens)
        .build()
        .unwrap()
}

fn usage(output: u64) -> Usage {
    Usage {
        input_tokens: Some(0),
        output_tokens: Some(output),
        ..Usage::default()
    }
}

/// Queues an answer that reports `output` tokens used.
fn answer_using(s: &Scripted, output: u64) {
    s.push_response(ChatResponse::text("scripted", "m", "ok").with_usage(usage(output)));
}

/// A provider that records when each call reached it and the tokens it reports using (the `use` tag, else
/// `max_tokens`), and takes the `delay_ms` tag to answer.
#[derive(Debug, Default)]
struct Recorder {
    grants: Mutex<Vec<(Instant, u64, u64)>>,
}

#[async_trait]
impl LlmProvider for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn model(&self) -> &str {
        "m"
    }
    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let tag = |name: &str| req.meta.tags.get(name).map(|v| v.parse::<u64>().unwrap());
        let reserved = u64::from(req.max_tokens.unwrap_or(0));
        let used = tag("use").unwrap_or(reserved);
        self.grants
            .lock()
            .unwrap()
            .push((Instant::now(), reserved, used));
        tokio::time::sleep(Duration::from_millis(tag("delay_ms").unwrap_or(0))).await;
        Ok(ChatResponse::text("recorder", "m", "ok").with_usage(usage(used)))
    }
}

/// The most tokens (by `pick`) granted in any one-minute window `[t, t + 60 s)` (windows starting at a
/// grant are the worst ones).
fn max_in_any_window(
    grants: &[(Instant, u64, u64)],
    pick: impl Fn(&(Instant, u64, u64)) -> u64,
) -> u64 {
    let mut sorted = grants.to_vec();
    sorted.sort_by_key(|g| g.0);
    let (mut end, mut sum, mut max) = (0, 0, 0);
    for start in 0..sorted.len() {
        while end < sorted.len() && sorted[end].0 < sorted[start].0 + Duration::from_secs(60) {
            sum += pick(&sorted[end]);
            end += 1;
        }
        max = max.max(sum);
        sum -= pick(&sorted[start]);
    }
    max
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_tasks_never_exceed_the_budget_in_any_minute() {
    const BUDGET: u64 = 10_000;
    let llm = Arc::new(RateLimit::new(
        Recorder::default(),
        tpm(BUDGET as u32)
            .wait(Duration::from_secs(24 * 3600))
            .build()
            .unwrap(),
    ));
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let start = Instant::now();
    let mut reserved_total = 0;
    let mut tasks = Vec::new();
    for i in 0..1_000 {
        let max_tokens = 1 + next(2_000);
        // A third of the calls use less than they reserved; the rest all of it.
        let used = if i % 3 == 0 {
            next(max_tokens + 1)
        } else {
            max_tokens
        };
        let delay_ms = next(5_000);
        reserved_total += max_tokens;
        let req = ChatRequest::builder()
            .user("x")
            .max_tokens(max_tokens as u32)
            .tag("use", used.to_string())
            .tag("delay_ms", delay_ms.to_string())
            .build()
            .unwrap();
        let llm = Arc::clone(&llm);
        tasks.push(tokio::spawn(async move { llm.chat(req).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let grants = llm.get_ref().grants.lock().unwrap().clone();
    assert_eq!(grants.len(), 1_000);
    let most_used = max_in_any_window(&grants, |g| g.2);
    assert!(
        most_used <= BUDGET,
        "{most_used} tokens used in one minute, budget {BUDGET}"
    );
    // Calls that used all they reserved: their reservations alone never exceed the budget either.
    let full: Vec<_> = grants.iter().copied().filter(|g| g.1 == g.2).collect();
    assert!(max_in_any_window(&full, |g| g.1) <= BUDGET);
    // And the budget is used, not wasted: refunds make it faster than reserving alone would allow.
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let ideal = reserved_total as f64 / BUDGET as f64;
    assert!(
        minutes < ideal * 1.25 + 1.0,
        "took {minutes:.1} min, ideal at most {ideal:.1}"
    );
}

#[tokio::test(start_paused = true)]
async fn reconciliation_returns_unused_tokens() {
    let llm = RateLimit::new(Scripted::new("m"), tpm(1_000).build().unwrap());
    answer_using(llm.get_ref(), 100); // reserves 1,000, uses 100
    answer_using(llm.get_ref(), 900);
    answer_using(llm.get_ref(), 200);
    let start = Instant::now();
    llm.chat(req(1_000)).await.unwrap();
    tokio::time::advance(10 * SEC).await;
    // 900 fit at once: the first call gave back 900 of its 1,000.
    llm.chat(req(900)).await.unwrap();
    assert_eq!(start.elapsed(), 10 * SEC);
    // 200 more need the second call's 900 to leave the window (the first's 100 is not enough): at 70 s.
    llm.chat(req(200)).await.unwrap();
    assert_eq!(start.elapsed(), 70 * SEC);
}

#[tokio::test(start_paused = true)]
async fn without_reported_usage_the_reservation_is_kept() {
    let llm = RateLimit::new(Scripted::new("m"), tpm(1_000).build().unwrap());
    llm.get_ref().push_text("no usage");
    llm.get_ref().push_text("no usage");
    let start = Instant::now();
    llm.chat(req(1_000)).await.unwrap();
    tokio::time::advance(10 * SEC).await;
    llm.chat(req(900)).await.unwrap();
    assert_eq!(start.elapsed(), 60 * SEC);
}

#[tokio::test(start_paused = true)]
async fn extra_usage_is_debited_and_puts_the_budget_in_debt() {
    let llm = RateLimit::new(Scripted::new("m"), tpm(1_000).build().unwrap());
    answer_using(llm.get_ref(), 1_500); // reserves 100, uses 1,500
    answer_using(llm.get_ref(), 10);
    let start = Instant::now();
    llm.chat(req(100)).await.unwrap();
    llm.chat(req(10)).await.unwrap();
    assert_eq!(start.elapsed(), 60 * SEC);
}

#[tokio::test(start_paused = true)]
async fn an_error_answer_gives_back_the_output_reservation() {
    let config = RateLimitConfig::builder()
        .tokens_per_minute(1_000)
        .build()
        .unwrap();
    let llm = RateLimit::new(Scripted::new("m"), config);
    llm.get_ref()
        .push_error(twelve_factor_ai::Error::new(ErrorKind::Server, "boom"));
    let big = ChatRequest::builder()
        .user("x".repeat(400)) // about 100 input tokens with the default estimator
        .max_tokens(800)
        .build()
        .unwrap();
    let start = Instant::now();
    assert_eq!(llm.chat(big).await.unwrap_err().kind(), ErrorKind::Server);
    // The 800 output tokens came back; ~107 input tokens stay.
    llm.get_ref().push_text("ok");
    llm.chat(req(800)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn requests_per_minute_follow_gcra() {
    let config = RateLimitConfig::builder()
        .requests_per_minute(3)
        .build()
        .unwrap();
    let llm = RateLimit::new(Scripted::new("m").echo_when_empty(), config);
    let start = Instant::now();
    for _ in 0..3 {
        llm.complete("hi").await.unwrap();
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "a burst of up to 3");
    llm.complete("hi").await.unwrap();
    assert_eq!(start.elapsed(), 20 * SEC, "then one every 20 s");
    llm.complete("hi").await.unwrap();
    assert_eq!(start.elapsed(), 40 * SEC);
    tokio::time::advance(120 * SEC).await;
    let rested = Instant::now();
    for _ in 0..3 {
        llm.complete("hi").await.unwrap();
    }
    assert_eq!(
        rested.elapsed(),
        Duration::ZERO,
        "a rested limiter bursts again"
    );
    // Embeddings count as requests too.
    let config = RateLimitConfig::builder()
        .requests_per_minute(1)
        .fail_fast()
        .build()
        .unwrap();
    let llm = RateLimit::new(Scripted::new("m").with_hash_embeddings(4), config);
    llm.embed_one("a").await.unwrap();
    let err = llm.embed_one("b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

/// The waits recorded (seconds) and the refusals counted, from one snapshot (a snapshot drains
/// histograms).
fn rate_limit_metrics(recorder: &DebuggingRecorder) -> (Vec<f64>, u64) {
    let (mut waits, mut refusals) = (Vec::new(), 0);
    for (key, _, _, value) in recorder.snapshotter().snapshot().into_vec() {
        match value {
            DebugValue::Histogram(values) if key.key().name() == names::RATE_LIMIT_WAIT => {
                waits.extend(values.into_iter().map(|v| v.0));
            }
            DebugValue::Counter(n) if key.key().name() == names::RATE_LIMIT_REFUSALS => {
                refusals += n;
            }
            _ => {}
        }
    }
    (waits, refusals)
}

#[tokio::test(start_paused = true)]
async fn wait_mode_waits_exactly_the_time_to_capacity() {
    let recorder = DebuggingRecorder::new();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let llm = RateLimit::new(Scripted::new("m"), tpm(1_000).build().unwrap());
    answer_using(llm.get_ref(), 600);
    answer_using(llm.get_ref(), 600);
    llm.chat(req(600)).await.unwrap();
    tokio::time::advance(15 * SEC).await;
    let start = Instant::now();
    llm.chat(req(600)).await.unwrap();
    assert_eq!(start.elapsed(), 45 * SEC);
    assert_eq!(rate_limit_metrics(&recorder), (vec![45.0], 0));
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_max_wait_is_refused_at_once_with_retry_after() {
    let recorder = DebuggingRecorder::new();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let config = tpm(1_000)
        .name("openai-main")
        .wait(10 * SEC)
        .build()
        .unwrap();
    let llm = RateLimit::new(Scripted::new("m"), config);
    answer_using(llm.get_ref(), 600);
    llm.chat(req(600)).await.unwrap();
    tokio::time::advance(15 * SEC).await;
    let start = Instant::now();
    let err = llm.chat(req(600)).await.unwrap_err();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "refused without sleeping first"
    );
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_local());
    assert!(
        !err.is_retryable(),
        "our own Retry must never retry a local refusal"
    );
    assert!(err.should_fallback(), "another provider has its own budget");
    assert_eq!(err.retry_after(), Some(45 * SEC));
    assert_eq!(err.provider(), Some("scripted"));
    let msg = err.message();
    assert!(
        msg.contains("tokens per minute") && msg.contains("\"openai-main\""),
        "{msg}"
    );
    assert!(msg.contains("max_wait"), "{msg}");
    assert_eq!(
        llm.get_ref().requests().len(),
        1,
        "the refused call never reached the provider"
    );
    assert_eq!(rate_limit_metrics(&recorder), (vec![], 1));
}

#[tokio::test(start_paused = true)]
async fn waiting_stops_at_max_wait_when_others_take_the_capacity() {
    // Two waiters for one slot: the one that loses the race gives up once its total wait would pass
    // max_wait, and its refusal counts the time it already waited.
    let recorder = DebuggingRecorder::new();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let config = RateLimitConfig::builder()
        .requests_per_minute(1)
        .wait(90 * SEC)
        .build()
        .unwrap();
    let llm = Arc::new(RateLimit::new(Scripted::new("m").echo_when_empty(), config));
    llm.complete("first").await.unwrap();
    let start = Instant::now();
    let a = tokio::spawn({
        let llm = Arc::clone(&llm);
        async move { llm.complete("a").await }
    });
    let b = tokio::spawn({
        let llm = Arc::clone(&llm);
        async move { llm.complete("b").await }
    });
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(a.is_ok(), "the first waiter gets the slot at 60 s");
    let err = b.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(60 * SEC));
    assert_eq!(start.elapsed(), 60 * SEC);
    assert!(err.message().contains("requests per minute"), "{err}");
    assert_eq!(rate_limit_metrics(&recorder), (vec![60.0, 60.0], 1));
}

#[tokio::test(start_paused = true)]
async fn fail_fast_refuses_at_once() {
    let config = RateLimitConfig::builder()
        .requests_per_minute(2)
        .mode(RateLimitMode::FailFast)
        .build()
        .unwrap();
    let llm = RateLimit::new(Scripted::new("m").echo_when_empty(), config);
    llm.complete("a").await.unwrap();
    llm.complete("b").await.unwrap();
    tokio::time::advance(10 * SEC).await;
    let start = Instant::now();
    let err = llm.complete("c").await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_local() && !err.is_retryable());
    assert_eq!(err.retry_after(), Some(20 * SEC));
    assert!(err.message().contains("requests per minute") && err.message().contains("fail-fast"));
    assert!(err.message().contains("\"scripted/m\""), "{err}");
    tokio::time::advance(20 * SEC).await;
    assert_eq!(llm.complete("c").await.unwrap(), "c");
}

#[tokio::test(start_paused = true)]
async fn a_reservation_larger_than_the_budget_is_refused_at_once() {
    let llm = RateLimit::new(
        Scripted::new("m").echo_when_empty(),
        tpm(1_000).wait(3600 * SEC).build().unwrap(),
    );
    let start = Instant::now();
    let err = llm.chat(req(1_001)).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_local() && !err.is_retryable());
    assert_eq!(err.retry_after(), None, "it could never pass");
    assert!(err.message().contains("can never pass"), "{err}");
    assert!(err.message().contains("1001 tokens"), "{err}");
    assert!(llm.get_ref().requests().is_empty());
    // The default output estimate counts too: 1,024 tokens do not fit a budget of 1,000.
    let err = llm.complete("hi").await.unwrap_err();
    assert!(err.message().contains("can never pass"), "{err}");
    // A call that fits the whole budget passes.
    llm.chat(req(1_000)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn streams_reconcile_from_their_usage_events() {
    let llm = RateLimit::new(Scripted::new("m"), tpm(1_000).build().unwrap());
    llm.get_ref().push_stream([
        Chunk::text("hel"),
        Chunk::Delay(5 * SEC),
        Chunk::text("lo"),
        Chunk::Event(StreamEvent::Usage {
            usage: Usage {
                input_tokens: Some(40),
                ..Usage::default()
            },
        }),
        Chunk::done(),
        Chunk::Event(StreamEvent::Usage { usage: usage(60) }),
    ]);
    let start = Instant::now();
    let r = llm.chat_collected(req(1_000)).await.unwrap();
    assert_eq!(r.content, "hello");
    assert_eq!(start.elapsed(), 5 * SEC);
    // Input 0 (merged over by the second event) + output 60 = 60 used: 940 are free again.
    llm.get_ref().push_text("ok");
    llm.chat(req(940)).await.unwrap();
    assert_eq!(start.elapsed(), 5 * SEC);
}

#[tokio::test(start_paused = true)]
async fn streams_without_usage_keep_their_reservation_when_dropped_or_failed() {
    let llm = RateLimit::new(Scripted::new("m"), tpm(1_000).build().unwrap());
    // Dropped after the first event, before any usage.
    llm.get_ref()
        .push_stream([Chunk::text("a"), Chunk::text("b"), Chunk::done()]);
    let start = Instant::now();
    let mut stream = llm.chat_stream(req(600)).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    // Failed mid-way, without usage.
    tokio::time::advance(10 * SEC).await;
    llm.get_ref().push_stream([
        Chunk::text("a"),
        Chunk::Error(twelve_factor_ai::Error::new(ErrorKind::Transport, "reset")),
    ]);
    let err = llm.chat_collected(req(400)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    // Both reservations are kept: 1 more token waits for the first (600) to leave at 60 s.
    llm.get_ref().push_text("ok");
    llm.chat(req(1)).await.unwrap();
    assert_eq!(start.elapsed(), 60 * SEC);
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_fails_to_open_gives_back_its_output_reservation() {
    let llm = RateLimit::new(Scripted::new("m"), tpm(1_000).build().unwrap());
    llm.get_ref()
        .push_error(twelve_factor_ai::Error::new(ErrorKind::Overloaded, "busy"));
    assert!(llm.chat_stream(req(1_000)).await.is_err());
    llm.get_ref().push_text("ok");
    let start = Instant::now();
    llm.chat(req(1_000)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn embed_reconciles_with_reported_input_tokens() {
    // NoInput estimates embeddings at one token per byte; Scripted reports about 4 bytes per token.
    let llm = RateLimit::new(
        Scripted::new("m").with_hash_embeddings(4),
        tpm(100).build().unwrap(),
    );
    let start = Instant::now();
    let text = "x".repeat(80); // reserves 80, reports 20
    llm.embed_one(&text).await.unwrap();
    llm.embed_one(&text).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the refund of 60 made room at once"
    );
    llm.embed_one(&text).await.unwrap();
    assert_eq!(start.elapsed(), 60 * SEC);
}

#[tokio::test(start_paused = true)]
async fn tenants_get_their_own_budgets_when_asked() {
    let for_tenant = |tenant: &str| {
        let mut r = req(1_000);
        r.meta.tenant = Some(tenant.to_owned());
        r
    };
    let llm = RateLimit::new(
        Scripted::new("m").echo_when_empty(),
        tpm(1_000).per_tenant(true).fail_fast().build().unwrap(),
    );
    llm.chat(for_tenant("acme")).await.unwrap();
    llm.chat(for_tenant("globex")).await.unwrap();
    llm.chat(req(1_000)).await.unwrap(); // no tenant: the shared budget
    let err = llm.chat(for_tenant("acme")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);

    let shared = RateLimit::new(
        Scripted::new("m").echo_when_empty(),
        tpm(1_000).fail_fast().build().unwrap(),
    );
    shared.chat(for_tenant("acme")).await.unwrap();
    assert!(shared.chat(for_tenant("globex")).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn wrappers_sharing_a_backend_and_name_share_the_budget() {
    let backend: Arc<dyn RateLimitBackend> = Arc::new(LocalBackend::new());
    let config = tpm(1_000)
        .name("team-key")
        .backend(Arc::clone(&backend))
        .fail_fast()
        .build()
        .unwrap();
    // No usage reported: the reservations stand.
    let a = RateLimit::new(Scripted::new("a"), config.clone());
    let b = RateLimit::new(Scripted::new("b"), config);
    a.get_ref().push_text("ok");
    b.get_ref().push_text("ok");
    a.chat(req(700)).await.unwrap();
    assert!(b.chat(req(700)).await.is_err());
    b.chat(req(300)).await.unwrap();
    // Without a shared backend each wrapper has its own.
    let config = tpm(1_000).fail_fast().build().unwrap();
    let c = RateLimit::new(Scripted::new("m").echo_when_empty(), config.clone());
    let d = RateLimit::new(Scripted::new("m").echo_when_empty(), config);
    c.chat(req(1_000)).await.unwrap();
    d.chat(req(1_000)).await.unwrap();
}

/// A backend that records what the wrapper asks and refuses every other call: proof that the wrapper
/// goes through the trait only (a Redis backend plugs in the same way).
#[derive(Debug, Default)]
struct Recording {
    calls: Mutex<Vec<String>>,
    acquires: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl RateLimitBackend for Recording {
    async fn acquire(&self, key: &LimitKey<'_>, limits: &Limits, cost: Cost) -> Result<Acquire> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(format!(
            "acquire {} {:?} tpm={:?} tokens={}",
            key.limiter,
            key.tenant,
            limits.tokens_per_minute().map(|n| n.get()),
            cost.tokens
        ));
        let n = self
            .acquires
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(if n % 2 == 0 {
            Acquire::Granted(Reservation::new(42, cost.tokens))
        } else {
            Acquire::RetryAfter {
                wait: 7 * SEC,
                limit: Limit::TokensPerMinute,
            }
        })
    }

    fn reconcile(
        &self,
        key: &LimitKey<'_>,
        _: &Limits,
        reservation: &Reservation,
        actual_tokens: u64,
    ) -> Result<()> {
        self.calls.lock().unwrap().push(format!(
            "reconcile {} id={} reserved={} actual={actual_tokens}",
            key.limiter, reservation.id, reservation.tokens
        ));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_backend_is_pluggable() {
    let backend = Arc::new(Recording::default());
    let config = tpm(1_000)
        .name("shared")
        .backend(backend.clone())
        .fail_fast()
        .build()
        .unwrap();
    let llm = RateLimit::new(Scripted::new("m"), config);
    answer_using(llm.get_ref(), 30);
    llm.chat(req(500)).await.unwrap();
    let err = llm.chat(req(500)).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(7 * SEC));
    assert_eq!(
        *backend.calls.lock().unwrap(),
        [
            "acquire shared None tpm=Some(1000) tokens=500",
            "reconcile shared id=42 reserved=500 actual=30",
            "acquire shared None tpm=Some(1000) tokens=500",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn health_checks_are_not_limited() {
    let config = RateLimitConfig::builder()
        .requests_per_minute(1)
        .fail_fast()
        .build()
        .unwrap();
    let llm = RateLimit::new(Scripted::new("m").echo_when_empty(), config);
    llm.complete("a").await.unwrap();
    for _ in 0..5 {
        llm.health_check().await.unwrap();
    }
    assert_eq!(llm.name(), "scripted");
    assert_eq!(llm.model(), "m");
}

#[tokio::test(start_paused = true)]
async fn passes_the_llm_provider_conformance_suite() {
    let config = RateLimitConfig::builder()
        .requests_per_minute(1_000)
        .tokens_per_minute(100_000)
        .build()
        .unwrap();
    let llm = RateLimit::new(
        Scripted::new("m").echo_when_empty().with_hash_embeddings(8),
        config,
    );
    llm_provider(
        &llm,
        &LlmCapabilities::default()
            .with_embeddings(true)
            .with_usage(true),
    )
    .await;
    // As a trait object too, as stacks hold it.
    let boxed: Arc<dyn LlmProvider> = llm.boxed();
    llm_provider(&*boxed, &LlmCapabilities::default().with_embeddings(true)).await;
}
