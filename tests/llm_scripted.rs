//! The `LlmProvider` conformance suite against the `Scripted` provider, bare and behind `Arc` / `Box`.

use std::sync::Arc;

use twelve_factor_ai::llm::{LlmProvider, Scripted};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};

fn provider() -> Scripted {
    Scripted::new("conformance-model-2024-01-01")
        .echo_when_empty()
        .with_hash_embeddings(64)
}

#[tokio::test]
async fn scripted_with_embeddings_conforms() {
    let caps = LlmCapabilities::default()
        .with_embeddings(true)
        .with_usage(true);
    llm_provider(&provider(), &caps).await;
}

#[tokio::test]
async fn scripted_without_embeddings_conforms() {
    let p = Scripted::new("conformance-model-2024-01-01").echo_when_empty();
    llm_provider(&p, &LlmCapabilities::default()).await;
}

#[tokio::test]
async fn forwarding_impls_conform() {
    let caps = LlmCapabilities::default()
        .with_embeddings(true)
        .with_usage(true);
    let arc: Arc<dyn LlmProvider> = Arc::new(provider());
    llm_provider(&arc, &caps).await;
    let boxed: Box<dyn LlmProvider> = Box::new(provider());
    llm_provider(&boxed, &caps).await;
}
