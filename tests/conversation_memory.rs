//! The conversation-store conformance suite against `MemoryConversationStore`, with and without TTL and
//! message cap, behind `Arc<dyn _>` and `Box<dyn _>`, and with appends from several threads.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use twelve_factor_ai::conversation::{ConversationStore, MemoryConversationStore};
use twelve_factor_ai::testing::conformance::conversation_store::{
    self as suite, ConversationStoreCapabilities, conversation_store,
};

#[tokio::test]
async fn memory_store_passes_the_suite() {
    let store = MemoryConversationStore::new();
    conversation_store(&store, &ConversationStoreCapabilities::new()).await;
    assert!(store.is_empty(), "the suite deletes what it creates");
}

#[tokio::test(start_paused = true)]
async fn memory_store_with_ttl_passes_the_suite() {
    let ttl = Duration::from_secs(30 * 60);
    let store = MemoryConversationStore::new().with_ttl(ttl);
    conversation_store(&store, &ConversationStoreCapabilities::new().ttl(ttl)).await;
    assert!(store.is_empty());
}

#[tokio::test]
async fn memory_store_with_a_large_cap_passes_the_suite() {
    let store = MemoryConversationStore::new().with_max_messages(NonZeroUsize::new(500).unwrap());
    conversation_store(
        &store,
        &ConversationStoreCapabilities::new().max_messages(500),
    )
    .await;
}

#[tokio::test]
async fn memory_store_with_a_small_cap_passes_the_cap_checks() {
    for cap in [1, 5] {
        let store =
            MemoryConversationStore::new().with_max_messages(NonZeroUsize::new(cap).unwrap());
        conversation_store(
            &store,
            &ConversationStoreCapabilities::new().max_messages(cap),
        )
        .await;
        assert!(store.is_empty());
    }
}

#[tokio::test]
async fn arc_and_box_dyn_forward_everything() {
    let arc: Arc<dyn ConversationStore> = Arc::new(MemoryConversationStore::new());
    conversation_store(&arc, &ConversationStoreCapabilities::new()).await;
    let boxed: Box<dyn ConversationStore> = Box::new(Arc::clone(&arc));
    conversation_store(&boxed, &ConversationStoreCapabilities::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_from_spawned_tasks_all_land() {
    let store: Arc<dyn ConversationStore> = Arc::new(MemoryConversationStore::new());
    let id = "spawned-writers";
    let (writers, batches) = (16, 50);
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                suite::concurrent_appends_with(&*store, id, writer, batches).await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task panicked");
    }
    suite::check_concurrent_appends(&*store, id, writers, batches).await;
    assert!(store.delete(id).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn memory_store_with_ttl_and_a_small_cap_passes() {
    let ttl = Duration::from_secs(5);
    let store = MemoryConversationStore::new()
        .with_ttl(ttl)
        .with_max_messages(NonZeroUsize::new(2).unwrap());
    let caps = ConversationStoreCapabilities::new()
        .ttl(ttl)
        .max_messages(2);
    conversation_store(&store, &caps).await;
    assert!(store.is_empty());
}
