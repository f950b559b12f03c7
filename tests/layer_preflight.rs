//! The pre-flight context check: calls that cannot fit the model's context window fail with
//! `ContextLengthExceeded` before anything is sent; everything else passes unchanged.

use std::num::NonZeroU32;
use std::sync::Arc;

use futures_util::StreamExt;
use twelve_factor_ai::ErrorKind;
use twelve_factor_ai::layer::LlmStackExt;
use twelve_factor_ai::layer::fallback::FallbackConfig;
use twelve_factor_ai::layer::preflight::ContextCheckConfig;
use twelve_factor_ai::layer::rate_limit::{CharsPerToken, TokenEstimator};
use twelve_factor_ai::llm::catalog::{Catalog, ModelInfo, ModelKind};
use twelve_factor_ai::llm::{
    ChatRequest, EmbedRequest, LlmProvider, LlmProviderExt, Scripted, StreamEvent,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};

const SMALL: &str = "small-2024-01-01";
const LARGE: &str = "large-2024-01-01";

/// A catalog for the provider named "scripted": SMALL has a 1,000-token window, LARGE 100,000 with at
/// most 50,000 input tokens; "no-window" is known but has no window.
fn catalog() -> Catalog {
    Catalog::new()
        .with(ModelInfo::new("scripted", SMALL, ModelKind::Chat).with_context_window(1_000))
        .with(
            ModelInfo::new("scripted", "large*", ModelKind::Chat)
                .with_context_window(100_000)
                .with_max_input_tokens(50_000),
        )
        .with(ModelInfo::new("scripted", "no-window", ModelKind::Chat))
}

fn config() -> ContextCheckConfig {
    ContextCheckConfig::new().catalog(catalog())
}

/// A request of `bytes` bytes of user text asking for `max_tokens`; the default estimator counts
/// bytes / 4 + 7 tokens of framing.
fn request(bytes: usize, max_tokens: Option<u32>) -> ChatRequest {
    let mut req = ChatRequest::user("a".repeat(bytes));
    req.max_tokens = max_tokens;
    req
}

#[tokio::test]
async fn over_the_window_fails_before_anything_is_sent() {
    let inner = Arc::new(Scripted::new(SMALL).echo_when_empty());
    let llm = Arc::clone(&inner).with_context_check(config());

    // 3,600 bytes → 900 + 7 = 907 input tokens; with 500 output that is 1,407: 407 over.
    let err = llm.chat(request(3_600, Some(500))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert_eq!(err.provider(), Some("scripted"));
    assert!(err.is_local());
    assert!(!err.is_retryable());
    assert!(
        err.should_fallback(),
        "another model may have a larger window"
    );
    assert_eq!(
        err.message(),
        "estimated 907 input + 500 output tokens exceed the 1,000-token context window of \
         small-2024-01-01 by 407; shorten the conversation (a token-budget Window) or lower max_tokens"
    );

    // Streams are checked too, before the stream opens.
    let err = match llm.chat_stream(request(3_600, Some(500))).await {
        Err(e) => e,
        Ok(_) => panic!("the stream opened"),
    };
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert!(err.message().contains("by 407"), "{}", err.message());

    assert!(inner.requests().is_empty(), "nothing reached the provider");
}

#[tokio::test]
async fn within_the_window_passes() {
    let inner = Arc::new(Scripted::new(SMALL).echo_when_empty());
    let llm = Arc::clone(&inner).with_context_check(config());
    // 907 + 93 = 1,000: exactly the window.
    llm.chat(request(3_600, Some(93))).await.unwrap();
    let mut stream = llm.chat_stream(request(400, Some(500))).await.unwrap();
    let mut done = false;
    while let Some(event) = stream.next().await {
        done |= matches!(event.unwrap(), StreamEvent::Done { .. });
    }
    assert!(done, "the stream ran to its end");
    assert_eq!(inner.requests().len(), 2);
    // One token more is refused.
    let err = llm.chat(request(3_600, Some(94))).await.unwrap_err();
    assert!(err.message().contains("by 1;"), "{}", err.message());
}

#[tokio::test]
async fn without_max_tokens_only_the_input_counts() {
    let inner = Arc::new(Scripted::new(SMALL).echo_when_empty());
    let llm = Arc::clone(&inner).with_context_check(config());
    llm.chat(request(3_600, None)).await.unwrap();
    let err = llm.chat(request(4_000, None)).await.unwrap_err();
    assert_eq!(
        err.message(),
        "estimated 1,007 input tokens exceed the 1,000-token context window of small-2024-01-01 by 7; \
         shorten the conversation (a token-budget Window)"
    );
    assert_eq!(inner.requests().len(), 1);
}

#[tokio::test]
async fn unknown_models_and_entries_without_a_window_pass() {
    let huge = request(400_000, Some(100_000));
    for (name, model) in [
        ("scripted", "unknown-2024-01-01"),
        ("scripted", "no-window"),
        // The catalog's entries are per provider: an "openai" provider never gets "scripted" entries.
        ("openai", SMALL),
    ] {
        let inner = Arc::new(Scripted::new(model).with_name(name).echo_when_empty());
        let llm = Arc::clone(&inner).with_context_check(config());
        llm.chat(huge.clone()).await.unwrap();
        let events: Vec<_> = llm.chat_stream(huge.clone()).await.unwrap().collect().await;
        assert!(
            matches!(events.last(), Some(Ok(StreamEvent::Done { .. }))),
            "{name}/{model}: the stream ran to its end"
        );
        assert_eq!(inner.requests().len(), 2, "{name}/{model}");
    }
}

#[tokio::test]
async fn the_model_called_is_checked_not_the_pinned_one() {
    let inner = Arc::new(Scripted::new(SMALL).echo_when_empty());
    let llm = Arc::clone(&inner).with_context_check(config());
    // Too big for SMALL, fine for LARGE (a family pattern).
    let mut req = request(20_000, Some(1_000));
    req.model = Some("large-2025-06-01".into());
    llm.chat(req).await.unwrap();

    // And the other way round: a pinned large model, a request for the small one.
    let inner = Arc::new(Scripted::new(LARGE).echo_when_empty());
    let llm = Arc::clone(&inner).with_context_check(config());
    llm.chat(request(20_000, Some(1_000))).await.unwrap();
    let mut req = request(20_000, Some(1_000));
    req.model = Some(SMALL.into());
    let err = llm.chat(req).await.unwrap_err();
    assert!(
        err.message().contains("context window of small-2024-01-01"),
        "{}",
        err.message()
    );
    assert_eq!(inner.requests().len(), 1);
}

#[tokio::test]
async fn the_input_limit_is_checked_below_the_window() {
    let inner = Arc::new(Scripted::new(LARGE).echo_when_empty());
    let llm = Arc::clone(&inner).with_context_check(config());
    // 200,000 bytes → 50,007 input tokens: over the 50,000 input limit though far below the window.
    let err = llm.chat(request(200_000, Some(10))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert_eq!(
        err.message(),
        "estimated 50,007 input tokens exceed the 50,000-token input limit of large-2024-01-01 by 7; \
         shorten the conversation (a token-budget Window)"
    );
    // Input within its limit, input plus output over the window.
    let err = llm.chat(request(199_000, Some(60_000))).await.unwrap_err();
    assert!(
        err.message().contains(
            "49,757 input + 60,000 output tokens exceed the 100,000-token context window"
        ),
        "{}",
        err.message()
    );
    llm.chat(request(199_000, Some(50_000))).await.unwrap();
    assert_eq!(inner.requests().len(), 1);
}

#[tokio::test]
async fn tolerance_and_estimator_are_the_configured_ones() {
    let inner = Arc::new(Scripted::new(SMALL).echo_when_empty());
    let tolerant = Arc::clone(&inner).with_context_check(config().tolerance_percent(50));
    // 1,407 tokens: within 1,000 + 50 %.
    tolerant.chat(request(3_600, Some(500))).await.unwrap();
    let err = tolerant.chat(request(3_600, Some(700))).await.unwrap_err();
    // The excess is reported against the window itself.
    assert!(err.message().contains("by 607"), "{}", err.message());

    // Two bytes per token, no framing: 3,600 bytes are 1,800 tokens.
    let two: Arc<dyn TokenEstimator> = Arc::new(
        CharsPerToken::new(NonZeroU32::new(2).unwrap())
            .with_message_overhead(0)
            .with_request_overhead(0),
    );
    let strict = Arc::clone(&inner).with_context_check(config().estimator(two));
    let err = strict.chat(request(3_600, None)).await.unwrap_err();
    assert!(
        err.message().starts_with("estimated 1,800 input tokens"),
        "{}",
        err.message()
    );
    assert_eq!(inner.requests().len(), 1);
}

#[tokio::test]
async fn the_default_config_uses_the_builtin_catalog() {
    let builtin = Catalog::builtin();
    let model = "gpt-5-2025-08-07";
    let Some(window) = builtin
        .lookup("openai", model)
        .and_then(|info| info.context_window)
    else {
        panic!("the built-in catalog has no window for openai/{model}");
    };
    let inner = Arc::new(Scripted::new(model).with_name("openai").echo_when_empty());
    let llm = Arc::clone(&inner).with_context_check(ContextCheckConfig::default());
    llm.chat(request(1_000, Some(500))).await.unwrap();
    // Four bytes per token: a text of the window's size in tokens cannot fit.
    let err = llm
        .chat(request(window as usize * 4, Some(500)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert!(err.message().contains(model), "{}", err.message());
    assert_eq!(inner.requests().len(), 1);
}

#[tokio::test]
async fn an_azure_provider_is_checked_against_openais_models() {
    // Azure OpenAI serves OpenAI's models under the provider name "azure".
    let model = "gpt-4o-2024-08-06";
    let inner = Arc::new(Scripted::new(model).with_name("azure").echo_when_empty());
    let unchecked = Arc::clone(&inner).with_context_check(ContextCheckConfig::default());
    let checked =
        Arc::clone(&inner).with_context_check(ContextCheckConfig::default().also_as("openai"));
    let huge = request(1_000_000, Some(500));
    unchecked.chat(huge.clone()).await.unwrap();
    let err = checked.chat(huge).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert_eq!(err.provider(), Some("azure"));
    assert_eq!(inner.requests().len(), 1);
}

#[tokio::test]
async fn a_fallback_chain_moves_on_to_a_larger_window() {
    let small = Arc::new(Scripted::new(SMALL).echo_when_empty());
    let large = Arc::new(Scripted::new(LARGE).echo_when_empty());
    let backup: Arc<dyn LlmProvider> = Arc::new(Arc::clone(&large).with_context_check(config()));
    let llm = Arc::clone(&small)
        .with_context_check(config())
        .with_fallback([backup], FallbackConfig::default());

    let answer = llm.chat(request(8_000, Some(500))).await.unwrap();
    assert_eq!(answer.content.len(), 8_000);
    assert!(
        small.requests().is_empty(),
        "the small model was never called"
    );
    assert_eq!(large.requests().len(), 1);

    // Too large for every window: the chain fails with the checks' own errors.
    let err = llm.chat(request(400_000, Some(500))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert_eq!(err.attempts().len(), 2);
    assert!(err.attempts().iter().all(|e| e.is_local()));
    assert_eq!(large.requests().len(), 1);
}

#[tokio::test]
async fn embeddings_and_health_checks_pass_through() {
    let inner = Arc::new(Scripted::new(SMALL).with_hash_embeddings(4));
    let llm = Arc::clone(&inner).with_context_check(config());
    let long = "word ".repeat(10_000);
    let response = llm.embed(EmbedRequest::new([long])).await.unwrap();
    assert_eq!(response.embeddings.len(), 1);
    assert_eq!(inner.embed_requests().len(), 1);
    llm.health_check().await.unwrap();
    assert_eq!((llm.name(), llm.model()), ("scripted", SMALL));
    assert_eq!(llm.get_ref().requests().len(), 0);
    assert_eq!(llm.config().get_catalog().len(), 3);
    let _inner: Arc<Scripted> = llm.into_inner();
}

#[tokio::test]
async fn conforms_around_a_conforming_provider() {
    // The pinned model is in the catalog, so every conformance call is checked (and fits).
    let catalog = Catalog::new().with(
        ModelInfo::new("scripted", "conformance-model", ModelKind::Chat)
            .with_context_window(100_000),
    );
    let llm = Scripted::new("conformance-model")
        .echo_when_empty()
        .with_hash_embeddings(8)
        .with_context_check(ContextCheckConfig::new().catalog(catalog));
    llm_provider(
        &llm,
        &LlmCapabilities::default()
            .with_embeddings(true)
            .with_usage(true),
    )
    .await;
    // And boxed, as a stack stores it.
    let boxed = Scripted::new("conformance-model")
        .echo_when_empty()
        .with_context_check(ContextCheckConfig::new())
        .boxed();
    llm_provider(&*boxed, &LlmCapabilities::default().with_usage(true)).await;
    let _ = boxed.complete("hi").await.unwrap();
}
