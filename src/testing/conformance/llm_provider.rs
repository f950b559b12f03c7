//! Conformance suite for [`LlmProvider`].
//!
//! Every provider and every wrapper around a provider must pass it. The provider under test must answer
//! any short chat request (a real or fake server, or [`Scripted`](crate::llm::Scripted) with
//! [`echo_when_empty`](crate::llm::Scripted::echo_when_empty)).
//!
//! A third-party provider runs it from its own tests, with this crate's `testing` feature on:
//!
//! ```
//! use twelve_factor_ai::llm::Scripted;
//! use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In a real test: #[tokio::test] async fn conformance() { ... }
//! let provider = Scripted::new("conformance-model-2024-01-01").echo_when_empty().with_hash_embeddings(16);
//! llm_provider(&provider, &LlmCapabilities::default().with_embeddings(true)).await;
//! # }
//! ```

use crate::ErrorKind;
use crate::llm::{
    ChatRequest, EmbedRequest, LlmProvider, LlmProviderExt, StreamCollector, StreamEvent,
};
use futures_util::StreamExt;

/// What the provider under test offers; the suite checks only what it claims.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct LlmCapabilities {
    /// The provider offers embeddings (else `embed` must fail with `Unsupported`).
    pub embeddings: bool,
    /// The provider reports input and output token counts on chat answers.
    pub usage: bool,
}

impl LlmCapabilities {
    /// Claims (or not) embeddings.
    pub fn with_embeddings(mut self, embeddings: bool) -> Self {
        self.embeddings = embeddings;
        self
    }

    /// Claims (or not) usage reporting.
    pub fn with_usage(mut self, usage: bool) -> Self {
        self.usage = usage;
        self
    }
}

/// Runs every check of the suite. Panics, naming the check, on the first non-conformance.
pub async fn llm_provider(provider: &dyn LlmProvider, caps: &LlmCapabilities) {
    identity(provider).await;
    chat_answers(provider, caps).await;
    chat_honours_model_override(provider).await;
    stream_is_complete_and_consistent(provider).await;
    invalid_request_is_refused(provider).await;
    embeddings(provider, caps).await;
    health_check(provider).await;
}

/// `name()` and `model()` are non-empty.
pub async fn identity(provider: &dyn LlmProvider) {
    assert!(
        !provider.name().is_empty(),
        "identity: name() must not be empty"
    );
    assert!(
        !provider.model().is_empty(),
        "identity: model() must not be empty"
    );
}

fn hello() -> ChatRequest {
    ChatRequest::builder()
        .system("You are a conformance test. Answer briefly.")
        .user("Say hello.")
        .max_tokens(32)
        .build()
        .unwrap_or_else(|e| panic!("building the conformance request failed: {e}"))
}

/// A plain chat gets an answer that names the provider and the pinned model it asked for.
pub async fn chat_answers(provider: &dyn LlmProvider, caps: &LlmCapabilities) {
    let r = provider
        .chat(hello())
        .await
        .unwrap_or_else(|e| panic!("chat_answers: chat failed: {e}"));
    assert!(
        !r.content.is_empty() || !r.tool_calls.is_empty(),
        "chat_answers: empty answer"
    );
    assert_eq!(
        r.provider,
        provider.name(),
        "chat_answers: response.provider"
    );
    assert_eq!(
        r.requested_model,
        provider.model(),
        "chat_answers: response.requested_model"
    );
    if caps.usage {
        assert!(
            r.usage.input_tokens.is_some(),
            "chat_answers: input tokens not reported"
        );
        assert!(
            r.usage.output_tokens.is_some(),
            "chat_answers: output tokens not reported"
        );
    }
}

/// A request that names a model records that model as requested.
pub async fn chat_honours_model_override(provider: &dyn LlmProvider) {
    let mut req = hello();
    req.model = Some("conformance-override-model".to_owned());
    let r = provider
        .chat(req)
        .await
        .unwrap_or_else(|e| panic!("chat_honours_model_override: chat failed: {e}"));
    assert_eq!(
        r.requested_model, "conformance-override-model",
        "chat_honours_model_override: response.requested_model"
    );
}

/// A stream ends with exactly one `Done` (only usage and cost after it), and collects into a non-empty answer.
pub async fn stream_is_complete_and_consistent(provider: &dyn LlmProvider) {
    let mut stream = provider
        .chat_stream(hello())
        .await
        .unwrap_or_else(|e| panic!("stream: chat_stream failed: {e}"));
    let mut collector = StreamCollector::new(provider.name(), provider.model());
    let mut text = String::new();
    let mut dones = 0;
    while let Some(item) = stream.next().await {
        let event = item.unwrap_or_else(|e| panic!("stream: error item: {e}"));
        match &event {
            StreamEvent::TextDelta { text: t } => text.push_str(t),
            StreamEvent::Done { .. } => dones += 1,
            _ => {}
        }
        collector
            .push(event)
            .unwrap_or_else(|e| panic!("stream: inconsistent event order: {e}"));
    }
    assert_eq!(dones, 1, "stream: exactly one done event");
    let r = collector
        .finish()
        .unwrap_or_else(|e| panic!("stream: does not collect: {e}"));
    assert_eq!(r.content, text, "stream: collected text equals the deltas");
    assert!(
        !r.content.is_empty() || !r.tool_calls.is_empty(),
        "stream: empty answer"
    );
    let collected = provider
        .chat_collected(hello())
        .await
        .unwrap_or_else(|e| panic!("stream: chat_collected failed: {e}"));
    assert!(!collected.content.is_empty() || !collected.tool_calls.is_empty());
}

/// A request with no messages fails with `InvalidRequest`, for `chat` and `chat_stream` alike.
pub async fn invalid_request_is_refused(provider: &dyn LlmProvider) {
    let empty = ChatRequest::from_messages(Vec::new());
    let err = provider
        .chat(empty.clone())
        .await
        .err()
        .unwrap_or_else(|| panic!("invalid_request: chat accepted a request without messages"));
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidRequest,
        "invalid_request: chat: {err}"
    );
    let err = provider.chat_stream(empty).await.err().unwrap_or_else(|| {
        panic!("invalid_request: chat_stream accepted a request without messages")
    });
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidRequest,
        "invalid_request: chat_stream: {err}"
    );
}

/// Embeddings: one finite vector per input, all of one non-zero dimension, or `Unsupported`.
pub async fn embeddings(provider: &dyn LlmProvider, caps: &LlmCapabilities) {
    let req = EmbedRequest::new(["first conformance text", "second conformance text"]);
    if !caps.embeddings {
        let err = provider
            .embed(req)
            .await
            .err()
            .unwrap_or_else(|| panic!("embeddings: not claimed, but embed succeeded"));
        assert_eq!(err.kind(), ErrorKind::Unsupported, "embeddings: {err}");
        return;
    }
    let r = provider
        .embed(req)
        .await
        .unwrap_or_else(|e| panic!("embeddings: embed failed: {e}"));
    assert_eq!(r.embeddings.len(), 2, "embeddings: one vector per input");
    let dim = r.embeddings[0].len();
    assert!(dim > 0, "embeddings: zero dimension");
    for v in &r.embeddings {
        assert_eq!(v.len(), dim, "embeddings: all vectors have one dimension");
        assert!(
            v.iter().all(|x| x.is_finite()),
            "embeddings: non-finite value"
        );
    }
    let err = provider
        .embed(EmbedRequest::new(Vec::<String>::new()))
        .await
        .err()
        .unwrap_or_else(|| panic!("embeddings: an empty input list was accepted"));
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidRequest,
        "embeddings: empty input: {err}"
    );
}

/// The health check passes.
pub async fn health_check(provider: &dyn LlmProvider) {
    provider
        .health_check()
        .await
        .unwrap_or_else(|e| panic!("health_check failed: {e}"));
}
