//! The prompt-registry conformance suite against `MemoryPromptRegistry`, directly and behind
//! `Arc<dyn _>` / `Box<dyn _>`, whatever order the fixtures are inserted in.

use std::sync::Arc;

use twelve_factor_ai::prompt::{MemoryPromptRegistry, PromptRegistry};
use twelve_factor_ai::testing::conformance::prompt_registry::{
    FIXTURES, PromptFixture, PromptRegistryCapabilities, prompt_registry,
};

fn loaded(fixtures: impl IntoIterator<Item = &'static PromptFixture>) -> MemoryPromptRegistry {
    let registry = MemoryPromptRegistry::new();
    for fixture in fixtures {
        registry
            .insert_prompt(fixture.spec())
            .expect("fixtures compile");
    }
    registry
}

#[tokio::test]
async fn memory_registry_passes_the_suite() {
    let registry = loaded(FIXTURES);
    prompt_registry(&registry, &PromptRegistryCapabilities::new()).await;
}

#[tokio::test]
async fn fixture_order_does_not_matter() {
    let registry = loaded(FIXTURES.iter().rev());
    prompt_registry(&registry, &PromptRegistryCapabilities::new()).await;
}

#[tokio::test]
async fn other_prompts_and_idempotent_reinserts_do_not_disturb_it() {
    let registry = loaded(FIXTURES);
    registry.insert("zzz/other", "{{ x }}").unwrap();
    registry.insert("aaa/other", "y").unwrap();
    for fixture in FIXTURES {
        assert_eq!(
            registry.insert_prompt(fixture.spec()).unwrap(),
            fixture.prompt_ref()
        );
    }
    prompt_registry(&registry, &PromptRegistryCapabilities::new()).await;
    prompt_registry(
        &registry,
        &PromptRegistryCapabilities::new().without_labels(),
    )
    .await;
}

#[tokio::test]
async fn arc_and_box_dyn_forward_everything() {
    let arc: Arc<dyn PromptRegistry> = Arc::new(loaded(FIXTURES));
    prompt_registry(&arc, &PromptRegistryCapabilities::new()).await;
    let boxed: Box<dyn PromptRegistry> = Box::new(Arc::clone(&arc));
    prompt_registry(&boxed, &PromptRegistryCapabilities::new()).await;
}
