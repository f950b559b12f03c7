//! Contract tests of the Fallback, CircuitBreaker and Drain wrappers, with scripted providers and paused
//! tokio time.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use twelve_factor_ai::layer::circuit::{CircuitBreaker, CircuitConfig, CircuitState};
use twelve_factor_ai::layer::drain::{Drain, DrainReport};
use twelve_factor_ai::layer::fallback::{Fallback, FallbackConfig};
use twelve_factor_ai::llm::{
    ChatRequest, ChatResponse, Chunk, LlmProvider, LlmProviderExt, Reply, Scripted,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::{Error, ErrorKind};

fn echo() -> Scripted {
    Scripted::new("m").echo_when_empty().with_hash_embeddings(8)
}

fn caps() -> LlmCapabilities {
    LlmCapabilities::default()
        .with_embeddings(true)
        .with_usage(true)
}

fn server(msg: &str) -> Error {
    Error::new(ErrorKind::Server, msg)
}

fn named(name: &str, model: &str) -> Arc<Scripted> {
    Arc::new(Scripted::new(model).with_name(name))
}

fn chain_of(providers: Vec<Arc<dyn LlmProvider>>) -> Fallback {
    Fallback::new(providers, FallbackConfig::default()).unwrap()
}

/// Collects a stream's items, keeping error items.
async fn items(provider: &dyn LlmProvider, req: ChatRequest) -> Vec<Result<String, ErrorKind>> {
    let mut stream = provider.chat_stream(req).await.unwrap();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(match item {
            Ok(twelve_factor_ai::llm::StreamEvent::TextDelta { text }) => Ok(text),
            Ok(other) => Ok(format!("{other:?}")),
            Err(e) => Err(e.kind()),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// Conformance: each wrapper, and a stack of all three, around an echoing scripted provider.

#[tokio::test]
async fn conformance_of_each_wrapper_and_of_the_stack() {
    let fallback = Fallback::from_primary(echo(), [echo().boxed()], FallbackConfig::default());
    llm_provider(&fallback, &caps()).await;

    let circuit = CircuitBreaker::new(echo(), CircuitConfig::default());
    llm_provider(&circuit, &caps()).await;

    let (drain, handle) = Drain::new(echo());
    llm_provider(&drain, &caps()).await;
    assert_eq!(handle.in_flight(), 0);

    let (drained, _handle) = Drain::new(CircuitBreaker::new(echo(), CircuitConfig::default()));
    let stack = Fallback::from_primary(drained, [echo().boxed()], FallbackConfig::default());
    llm_provider(&stack, &caps()).await;
}

// ---------------------------------------------------------------------------------------------------
// Fallback

#[tokio::test]
async fn fallback_answers_from_the_next_provider_with_its_own_model() {
    let a = named("openai", "gpt-pinned");
    a.push_error(Error::new(ErrorKind::Overloaded, "busy").with_status(503));
    let b = named("anthropic", "claude-pinned");
    b.push_text("from b");
    let f = chain_of(vec![a.clone(), b.clone()]);
    assert_eq!(f.name(), "openai");
    assert_eq!(f.model(), "gpt-pinned");

    let req = ChatRequest::builder()
        .user("q")
        .model("gpt-override")
        .build()
        .unwrap();
    let r = f.chat(req).await.unwrap();
    assert_eq!(r.content, "from b");
    assert_eq!(r.provider, "anthropic");
    assert_eq!(r.requested_model, "claude-pinned");
    assert_eq!(r.attempts, 2);
    // The override went to the primary only; the backup called its own pinned model.
    assert_eq!(a.requests()[0].model.as_deref(), Some("gpt-override"));
    assert_eq!(b.requests()[0].model, None);
}

#[tokio::test]
async fn fallback_returns_a_non_fallback_error_at_once() {
    let a = named("a", "ma");
    a.push_error(Error::invalid_request("temperature out of range"));
    let b = named("b", "mb");
    b.push_text("never");
    let f = chain_of(vec![a.clone(), b.clone()]);
    let err = f.chat(ChatRequest::user("q")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.attempts().is_empty());
    assert!(b.requests().is_empty());
}

#[tokio::test]
async fn fallback_config_chooses_the_kinds() {
    let a = named("a", "ma");
    a.push_error(Error::new(ErrorKind::RateLimited, "slow down"));
    let b = named("b", "mb");
    b.push_text("never");
    let config = FallbackConfig::builder()
        .on_kinds([ErrorKind::Server, ErrorKind::Overloaded])
        .build()
        .unwrap();
    let f = Fallback::new(vec![a.clone(), b.clone()], config).unwrap();
    let err = f.chat(ChatRequest::user("q")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(b.requests().is_empty());

    // A predicate may fall back on what the default does not.
    let a = named("a", "ma");
    a.push_error(Error::invalid_request("this provider rejects tool schemas"));
    let b = named("b", "mb");
    b.push_text("fine");
    let config = FallbackConfig::builder()
        .when(|e| e.should_fallback() || e.kind() == ErrorKind::InvalidRequest)
        .build()
        .unwrap();
    let f = Fallback::new(vec![a, b], config).unwrap();
    assert_eq!(f.complete("q").await.unwrap(), "fine");
}

#[tokio::test]
async fn fallback_that_fails_everywhere_keeps_every_error() {
    let a = named("a", "ma");
    a.push_error(server("a down").with_provider("a"));
    let b = named("b", "mb");
    b.push_error(Error::new(ErrorKind::Transport, "reset"));
    let c = named("c", "mc");
    c.push_error(Error::new(ErrorKind::Timeout, "slow"));
    let f = chain_of(vec![a, b, c]);
    let err = f.chat(ChatRequest::user("q")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("all 3 providers"), "{err}");
    let kinds: Vec<ErrorKind> = err.attempts().iter().map(Error::kind).collect();
    assert_eq!(
        kinds,
        [ErrorKind::Server, ErrorKind::Transport, ErrorKind::Timeout]
    );
    assert_eq!(err.attempts()[0].provider(), Some("a"));
    let text = err.to_string();
    assert!(text.contains("a down") && text.contains("reset"), "{text}");
}

#[tokio::test]
async fn fallback_stream_error_before_the_first_chunk_falls_back() {
    // The first candidate's stream fails before any event; the second's call itself fails; the third
    // answers.
    let a = named("a", "ma");
    a.push_stream([Chunk::Error(Error::new(ErrorKind::Overloaded, "busy"))]);
    let b = named("b", "mb");
    b.push_error(server("refused"));
    let c = named("c", "mc");
    c.push_stream([Chunk::text("Hel"), Chunk::text("lo"), Chunk::done()]);
    let f = chain_of(vec![a.clone(), b.clone(), c.clone()]);
    let got = items(&f, ChatRequest::user("q")).await;
    // The backup's stream named no model: the chain names the backup's pinned one first.
    assert!(
        got[0]
            .as_ref()
            .is_ok_and(|e| e.starts_with("Start") && e.contains("\"mc\"")),
        "{got:?}"
    );
    assert_eq!(got[1], Ok("Hel".to_owned()));
    assert_eq!(got[2], Ok("lo".to_owned()));
    assert!(got.iter().all(Result::is_ok));
    assert_eq!(
        (a.requests().len(), b.requests().len(), c.requests().len()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn fallback_stream_from_a_backup_reports_the_model_that_answered() {
    // Without a Start event from the backup, the collected answer would claim the primary's model.
    let a = named("a", "ma");
    a.push_stream([Chunk::Error(Error::new(ErrorKind::Overloaded, "busy"))]);
    let b = named("b", "mb");
    b.push_stream([Chunk::text("hi"), Chunk::done()]);
    let f = chain_of(vec![a.clone(), b.clone()]);
    let answer = f.chat_collected(ChatRequest::user("q")).await.unwrap();
    assert_eq!(answer.response_model(), "mb");
    assert_eq!(answer.content, "hi");

    // A backup that names its model itself is left alone; the primary's stream is never touched.
    a.push_stream([Chunk::Error(Error::new(ErrorKind::Overloaded, "busy"))]);
    b.push_stream([
        Chunk::Event(twelve_factor_ai::llm::StreamEvent::Start {
            model: Some("mb-2024-06-01".into()),
            provider_request_id: None,
            cached: false,
        }),
        Chunk::text("hi"),
        Chunk::done(),
    ]);
    let answer = f.chat_collected(ChatRequest::user("q")).await.unwrap();
    assert_eq!(answer.response_model(), "mb-2024-06-01");
    a.push_stream([Chunk::text("first"), Chunk::done()]);
    let got = items(&f, ChatRequest::user("q")).await;
    assert_eq!(got[0], Ok("first".to_owned()));
}

#[tokio::test]
async fn fallback_stream_error_after_the_first_chunk_is_an_error_item() {
    let a = named("a", "ma");
    a.push_stream([
        Chunk::text("partial"),
        Chunk::Error(Error::new(ErrorKind::Transport, "connection reset")),
    ]);
    let b = named("b", "mb");
    b.push_text("never");
    let f = chain_of(vec![a, b.clone()]);
    let got = items(&f, ChatRequest::user("q")).await;
    assert_eq!(
        got,
        vec![Ok("partial".to_owned()), Err(ErrorKind::Transport)]
    );
    assert!(b.requests().is_empty(), "no fallback after the first chunk");
    // Collecting it reports the failure, not a short answer.
    let a = named("a", "ma");
    a.push_stream([Chunk::text("partial"), Chunk::Error(server("x"))]);
    let f = chain_of(vec![a, named("b", "mb")]);
    let err = f.chat_collected(ChatRequest::user("q")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
}

#[tokio::test]
async fn fallback_stream_with_a_non_fallback_error_before_the_first_chunk_fails() {
    let a = named("a", "ma");
    a.push_stream([Chunk::Error(Error::invalid_request("bad"))]);
    let b = named("b", "mb");
    let f = chain_of(vec![a, b.clone()]);
    let err = f.chat_stream(ChatRequest::user("q")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(b.requests().is_empty());
}

#[tokio::test]
async fn fallback_health_check_passes_while_any_provider_is_healthy() {
    let a = named("a", "ma");
    let b = named("b", "mb");
    let f = chain_of(vec![a.clone(), b.clone()]);
    a.set_health(Some(Error::new(ErrorKind::Transport, "down")));
    assert!(f.health_check().await.is_ok());
    b.set_health(Some(Error::new(ErrorKind::Auth, "bad key")));
    let err = f.health_check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.attempts().len(), 2);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn fallback_switch_logs_a_warning_naming_both_providers() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A callsite first hit on another test thread may have cached "never" before this
    // scoped subscriber existed: make every callsite ask again.
    tracing::callsite::rebuild_interest_cache();
    let a = named("openai", "ma");
    a.push_error(Error::new(ErrorKind::QuotaExhausted, "no credit"));
    let b = named("anthropic", "mb");
    b.push_text("ok");
    chain_of(vec![a, b]).complete("q").await.unwrap();
    let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("WARN"), "{out}");
    assert!(out.contains("from=\"openai\""), "{out}");
    assert!(out.contains("to=\"anthropic\""), "{out}");
    assert!(out.contains("quota_exhausted"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn fallback_skips_a_provider_whose_circuit_is_open() {
    let primary = named("primary", "pm");
    let breaker = Arc::new(CircuitBreaker::new(
        primary.clone(),
        CircuitConfig::builder()
            .consecutive_failures(2)
            .build()
            .unwrap(),
    ));
    let backup = Arc::new(Scripted::new("bm").with_name("backup").echo_when_empty());
    let f = chain_of(vec![breaker.clone(), backup.clone()]);

    primary.push_delayed(Duration::from_secs(2), Reply::Error(server("down")));
    primary.push_delayed(Duration::from_secs(2), Reply::Error(server("down")));
    for _ in 0..2 {
        let r = f.chat(ChatRequest::user("q")).await.unwrap();
        assert_eq!(r.provider, "backup");
    }
    assert!(matches!(breaker.state(), CircuitState::Open { .. }));

    // Open: the chain moves on at once, without waiting on or calling the primary.
    let start = Instant::now();
    let r = f.chat(ChatRequest::user("q")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(r.provider, "backup");
    assert_eq!(primary.requests().len(), 2);
    let mut s = f.chat_stream(ChatRequest::user("q")).await.unwrap();
    while s.next().await.is_some() {}
    assert_eq!(primary.requests().len(), 2);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

// ---------------------------------------------------------------------------------------------------
// CircuitBreaker

#[tokio::test(start_paused = true)]
async fn circuit_opens_after_five_failures_and_fails_fast() {
    let cb = CircuitBreaker::new(
        Scripted::new("m").with_name("openai"),
        CircuitConfig::default(),
    );
    for i in 0..5 {
        assert_eq!(cb.state(), CircuitState::Closed, "before failure {i}");
        cb.get_ref().push_error(server("boom"));
        assert_eq!(
            cb.complete("q").await.unwrap_err().kind(),
            ErrorKind::Server
        );
    }
    let CircuitState::Open { until } = cb.state() else {
        panic!("not open: {:?}", cb.state())
    };
    assert_eq!(until, Instant::now() + Duration::from_secs(30));

    let err = cb.complete("q").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CircuitOpen);
    assert!(err.is_local());
    assert!(!err.is_retryable());
    assert!(err.should_fallback());
    assert_eq!(err.provider(), Some("openai"));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(err.message().contains("30.0 s"), "{err}");
    assert_eq!(cb.get_ref().requests().len(), 5, "not called while open");
    let err = cb.chat_stream(ChatRequest::user("q")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::CircuitOpen);
    assert_eq!(
        cb.embed_one("x").await.unwrap_err().kind(),
        ErrorKind::CircuitOpen
    );

    tokio::time::advance(Duration::from_millis(29_900)).await;
    assert!(matches!(cb.state(), CircuitState::Open { .. }));
    let err = cb.complete("q").await.unwrap_err();
    assert!(err.message().contains("0.1 s"), "{err}");
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(cb.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn circuit_ignores_the_callers_errors() {
    let cb = CircuitBreaker::new(Scripted::new("m"), CircuitConfig::default());
    for _ in 0..20 {
        cb.get_ref()
            .push_error(Error::new(ErrorKind::ContextLengthExceeded, "too long"));
        cb.get_ref()
            .push_error(Error::new(ErrorKind::ContentFiltered, "no"));
        cb.get_ref()
            .push_error(Error::new(ErrorKind::RateLimited, "ours").local());
    }
    for _ in 0..60 {
        assert!(cb.complete("q").await.is_err());
    }
    // Invalid requests are refused by the provider before its queue, and do not count either.
    for _ in 0..10 {
        let err = cb
            .chat(ChatRequest::from_messages(Vec::new()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }
    assert_eq!(cb.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn circuit_lets_exactly_one_probe_through_and_closes_on_its_success() {
    let cb = Arc::new(CircuitBreaker::new(
        Scripted::new("m"),
        CircuitConfig::builder()
            .consecutive_failures(1)
            .cooldown(Duration::from_secs(10))
            .build()
            .unwrap(),
    ));
    cb.get_ref().push_error(server("boom"));
    assert!(cb.complete("q").await.is_err());
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(cb.state(), CircuitState::HalfOpen);

    // The probe takes 5 s; calls made meanwhile fail fast.
    cb.get_ref().push_delayed(
        Duration::from_secs(5),
        Reply::Response(ChatResponse::text("scripted", "m", "recovered")),
    );
    let probe = tokio::spawn({
        let cb = Arc::clone(&cb);
        async move { cb.complete("probe").await }
    });
    tokio::task::yield_now().await;
    for _ in 0..3 {
        let err = cb.complete("meanwhile").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CircuitOpen);
        assert!(err.message().contains("probe"), "{err}");
    }
    assert_eq!(
        cb.get_ref().requests().len(),
        2,
        "only the probe reached the provider"
    );
    assert_eq!(probe.await.unwrap().unwrap(), "recovered");
    assert_eq!(cb.state(), CircuitState::Closed);

    // Closed with counters reset: calls go through again.
    cb.get_ref().push_text("normal");
    assert_eq!(cb.complete("q").await.unwrap(), "normal");
}

#[tokio::test(start_paused = true)]
async fn circuit_streaming_probe_holds_the_slot_until_its_stream_ends() {
    let cb = CircuitBreaker::new(
        Scripted::new("m"),
        CircuitConfig::builder()
            .consecutive_failures(1)
            .build()
            .unwrap(),
    );
    cb.get_ref().push_error(server("boom"));
    assert!(cb.complete("q").await.is_err());
    tokio::time::advance(Duration::from_secs(30)).await;

    cb.get_ref()
        .push_stream([Chunk::text("a"), Chunk::text("b"), Chunk::done()]);
    let mut probe = cb.chat_stream(ChatRequest::user("q")).await.unwrap();
    probe.next().await;
    assert_eq!(
        cb.complete("meanwhile").await.unwrap_err().kind(),
        ErrorKind::CircuitOpen
    );
    while probe.next().await.is_some() {}
    assert_eq!(cb.state(), CircuitState::Closed);

    // A probe stream that fails reopens the circuit.
    cb.get_ref().push_error(server("boom"));
    assert!(cb.complete("q").await.is_err());
    tokio::time::advance(Duration::from_secs(30)).await;
    cb.get_ref().push_stream([
        Chunk::text("a"),
        Chunk::Error(Error::new(ErrorKind::Transport, "reset")),
    ]);
    let mut probe = cb.chat_stream(ChatRequest::user("q")).await.unwrap();
    while probe.next().await.is_some() {}
    assert!(matches!(cb.state(), CircuitState::Open { .. }));
}

// ---------------------------------------------------------------------------------------------------
// Drain

/// The scenario: 100 calls in flight, half of them streams, all finish within the deadline; calls
/// made during and after the drain are refused.
#[tokio::test(start_paused = true)]
async fn drain_lets_a_hundred_calls_finish_and_refuses_new_ones() {
    let (drain, handle) = Drain::new(Scripted::new("m"));
    let drain = Arc::new(drain);
    for i in 0..100u64 {
        let delay = Duration::from_secs(1 + i % 10);
        if i % 2 == 0 {
            drain.get_ref().push_delayed(
                delay,
                Reply::Response(ChatResponse::text("scripted", "m", format!("answer {i}"))),
            );
        } else {
            drain.get_ref().push_stream([
                Chunk::text("streamed "),
                Chunk::Delay(delay),
                Chunk::text("answer"),
                Chunk::done(),
            ]);
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let drain = Arc::clone(&drain);
        tasks.spawn(async move {
            if i % 2 == 0 {
                drain.complete("q").await
            } else {
                // Streams read to their end; they count until then.
                drain
                    .chat_collected(ChatRequest::user("q"))
                    .await
                    .map(|r| r.content)
            }
        });
    }
    while handle.in_flight() < 100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(handle.in_flight(), 100);
    assert!(drain.health_check().await.is_ok());

    let start = Instant::now();
    let (report, during, health) = tokio::join!(
        handle.shutdown(Duration::from_secs(60)),
        drain.complete("during the drain"),
        drain.health_check(),
    );
    assert_eq!(
        report,
        DrainReport {
            finished: 100,
            still_running: 0
        }
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(10),
        "waited for the slowest call only"
    );
    assert_eq!(during.unwrap_err().kind(), ErrorKind::ShuttingDown);
    assert_eq!(health.unwrap_err().kind(), ErrorKind::ShuttingDown);
    while let Some(result) = tasks.join_next().await {
        assert!(result.unwrap().is_ok());
    }

    let after = drain.complete("after the drain").await.unwrap_err();
    assert_eq!(after.kind(), ErrorKind::ShuttingDown);
    assert!(after.is_local());
    assert!(!after.should_fallback());
    let after = drain
        .chat_stream(ChatRequest::user("x"))
        .await
        .err()
        .unwrap();
    assert_eq!(after.kind(), ErrorKind::ShuttingDown);
    assert_eq!(
        drain.get_ref().requests().len(),
        100,
        "refused calls never reach the provider"
    );
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn drain_deadline_reports_the_calls_still_running() {
    let (drain, handle) = Drain::new(Scripted::new("m"));
    let drain = Arc::new(drain);
    for i in 0..10u64 {
        let delay = if i < 6 {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(120)
        };
        if i % 2 == 0 {
            drain.get_ref().push_delayed(
                delay,
                Reply::Response(ChatResponse::text("scripted", "m", "ok")),
            );
        } else {
            drain
                .get_ref()
                .push_stream([Chunk::text("a"), Chunk::Delay(delay), Chunk::done()]);
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let drain = Arc::clone(&drain);
        tasks.spawn(async move {
            if i % 2 == 0 {
                drain.chat(ChatRequest::user("q")).await.map(|_| ())
            } else {
                drain
                    .chat_collected(ChatRequest::user("q"))
                    .await
                    .map(|_| ())
            }
        });
    }
    while handle.in_flight() < 10 {
        tokio::task::yield_now().await;
    }
    let start = Instant::now();
    let report = handle.shutdown(Duration::from_secs(30)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert_eq!(
        report,
        DrainReport {
            finished: 6,
            still_running: 4
        }
    );
    assert_eq!(handle.in_flight(), 4);

    // The late calls still finish; a second shutdown waits for them.
    let report = handle.shutdown(Duration::from_secs(300)).await;
    assert_eq!(
        report,
        DrainReport {
            finished: 4,
            still_running: 0
        }
    );
    assert_eq!(start.elapsed(), Duration::from_secs(120));
    while let Some(result) = tasks.join_next().await {
        assert!(result.unwrap().is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn drain_stops_counting_a_dropped_stream() {
    let (drain, handle) = Drain::new(Scripted::new("m"));
    drain.get_ref().push_stream([
        Chunk::text("a"),
        Chunk::Delay(Duration::from_secs(3600)),
        Chunk::done(),
    ]);
    let mut stream = drain.chat_stream(ChatRequest::user("q")).await.unwrap();
    stream.next().await;
    assert_eq!(handle.in_flight(), 1);

    let start = Instant::now();
    let (report, ()) = tokio::join!(handle.shutdown(Duration::from_secs(60)), async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        // The caller gives up on the stream: it stops counting, and the drain ends.
        drop(stream);
    });
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(
        report,
        DrainReport {
            finished: 1,
            still_running: 0
        }
    );
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn drain_counts_a_stream_never_read() {
    let (drain, handle) = Drain::new(Scripted::new("m"));
    drain
        .get_ref()
        .push_stream([Chunk::text("a"), Chunk::done()]);
    let stream = drain.chat_stream(ChatRequest::user("q")).await.unwrap();
    assert_eq!(handle.in_flight(), 1);
    let report = handle.shutdown(Duration::from_secs(1)).await;
    assert_eq!(
        report,
        DrainReport {
            finished: 0,
            still_running: 1
        }
    );
    drop(stream);
    assert_eq!(handle.in_flight(), 0);
}

/// A stream that sent only metadata (start, usage) before failing has shown the caller no content: the
/// chain still falls back.
#[tokio::test]
async fn metadata_before_the_first_content_does_not_commit_the_chain() {
    use twelve_factor_ai::llm::{Chunk, StreamEvent, Usage};
    let primary = Scripted::new("primary");
    primary.push_stream([
        Chunk::Event(StreamEvent::Start {
            model: Some("primary-1".into()),
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
    let backup = Scripted::new("backup").echo_when_empty();
    let chain = Fallback::new(
        vec![Arc::new(primary), Arc::new(backup)],
        FallbackConfig::default(),
    )
    .unwrap();
    let r = chain
        .chat_collected(ChatRequest::user("from the backup"))
        .await
        .unwrap();
    assert_eq!(r.content, "from the backup");
}
