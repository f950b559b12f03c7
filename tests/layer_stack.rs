//! The recommended stack as a whole, with a failing primary: per-provider timeout, circuit breaker, retry
//! and rate limit under a fallback chain, for chat and streams (paused time, scripted providers).

use std::sync::Arc;
use std::time::Duration;

use twelve_factor_ai::layer::circuit::{CircuitConfig, CircuitState};
use twelve_factor_ai::layer::fallback::FallbackConfig;
use twelve_factor_ai::layer::rate_limit::RateLimitConfig;
use twelve_factor_ai::layer::retry::RetryConfig;
use twelve_factor_ai::layer::timeout::TimeoutConfig;
use twelve_factor_ai::layer::{LlmStackExt, circuit::CircuitBreaker};
use twelve_factor_ai::llm::{ChatRequest, LlmProvider, LlmProviderExt, Scripted};
use twelve_factor_ai::{Error, ErrorKind};

fn rate_limit() -> RateLimitConfig {
    RateLimitConfig::builder()
        .requests_per_minute(1_000)
        .tokens_per_minute(1_000_000)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_dead_primary_is_retried_then_skipped_and_the_backup_answers() {
    let primary = Arc::new(Scripted::new("primary-2024-01-01"));
    for _ in 0..20 {
        primary.push_error(Error::new(ErrorKind::Overloaded, "overloaded").with_status(529));
    }
    // The circuit breaker is kept reachable to read its state: wrap a shared Arc.
    let circuit = Arc::new(CircuitBreaker::new(
        primary.clone().with_timeout(TimeoutConfig::default()),
        CircuitConfig::builder()
            .consecutive_failures(4)
            .cooldown(Duration::from_secs(30))
            .build()
            .unwrap(),
    ));
    let primary_stack = circuit
        .clone()
        .with_retry(
            RetryConfig::builder()
                .max_attempts(2)
                .jitter(false)
                .build()
                .unwrap(),
        )
        .with_rate_limit(rate_limit());
    let backup = Scripted::new("backup-2024-01-01").echo_when_empty();
    let backup_stack: Arc<dyn LlmProvider> = backup
        .with_timeout(TimeoutConfig::default())
        .with_retry(RetryConfig::default())
        .with_rate_limit(rate_limit())
        .boxed();
    let chain = primary_stack.with_fallback([backup_stack], FallbackConfig::default());

    // Call 1: the primary fails twice (one retry), the backup answers.
    let r = chain.chat(ChatRequest::user("first")).await.unwrap();
    assert_eq!(r.content, "first");
    assert_eq!(r.requested_model, "backup-2024-01-01");
    assert_eq!(r.attempts, 3, "two primary attempts, then the backup");
    // Call 2: two more failures open the circuit (4 in a row); the backup answers again.
    let r = chain.chat(ChatRequest::user("second")).await.unwrap();
    assert_eq!(r.content, "second");
    assert!(matches!(circuit.state(), CircuitState::Open { .. }));
    assert_eq!(primary.requests().len(), 4);

    // While open the primary is skipped at once: no call reaches it, no retry sleeps, no time passes.
    let start = tokio::time::Instant::now();
    let streamed = chain
        .chat_collected(ChatRequest::user("third, streamed"))
        .await
        .unwrap();
    assert_eq!(streamed.content, "third, streamed");
    assert_eq!(
        primary.requests().len(),
        4,
        "the open circuit kept the call away from the primary"
    );
    assert_eq!(start.elapsed(), Duration::ZERO);

    // After the cool-down one probe goes through; it fails, so the circuit opens again.
    tokio::time::advance(Duration::from_secs(31)).await;
    let r = chain.chat(ChatRequest::user("fourth")).await.unwrap();
    assert_eq!(r.content, "fourth");
    assert_eq!(primary.requests().len(), 5, "exactly one probe");
    assert!(matches!(circuit.state(), CircuitState::Open { .. }));
}
