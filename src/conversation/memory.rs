//! [`MemoryConversationStore`]: conversations in process memory, for tests and development.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{ConversationStore, Window, validate_conversation_id};
use crate::llm::Message;
use crate::{Error, Result};

/// The fewest conversations a store holds before it sweeps out expired ones on its own.
const MIN_SWEEP_LEN: usize = 64;

/// Conversations in process memory: one `VecDeque` of messages per conversation behind a lock.
///
/// For tests, examples and single-process development. Factor VI says production state lives in a backing
/// service (Redis, PostgreSQL), because this store forgets everything when the process ends and is not
/// shared between replicas.
///
/// - [`with_ttl`](Self::with_ttl): a conversation expires that long after its last append; expired
///   conversations behave as unknown at once. Their memory is reclaimed lazily: when the id is appended
///   to or deleted, in a sweep whenever the number of stored conversations has doubled since the last
///   one, or at once by [`purge_expired`](Self::purge_expired). Time is [`tokio::time::Instant`], so
///   tests with paused time are deterministic.
/// - [`with_max_messages`](Self::with_max_messages): keep only the newest `n` messages of each
///   conversation.
///
/// Appends are O(batch), loads O(window). The lock is never held across an `.await`.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::conversation::{ConversationStore, MemoryConversationStore, Window};
/// use twelve_factor_ai::llm::Message;
/// use twelve_factor_ai::ErrorKind;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let store = MemoryConversationStore::new().with_ttl(Duration::from_secs(30 * 60));
/// store.append("chat-42", &[Message::user("Hi")]).await?;
/// assert_eq!(store.load("chat-42", Window::All).await?, vec![Message::user("Hi")]);
///
/// let err = store.load("chat-43", Window::All).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryConversationStore {
    state: RwLock<State>,
    ttl: Option<Duration>,
    max_messages: Option<NonZeroUsize>,
}

#[derive(Debug, Default)]
struct State {
    conversations: HashMap<String, Conversation>,
    /// When the map reaches this many entries, an append sweeps out expired conversations first.
    sweep_at: usize,
}

#[derive(Debug)]
struct Conversation {
    messages: VecDeque<Message>,
    /// `None` without a TTL (or with one too large to represent).
    expires_at: Option<Instant>,
}

impl Conversation {
    fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

impl MemoryConversationStore {
    /// An empty store without TTL or message cap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets a conversation `ttl` after its last append (loads do not extend it). A zero TTL expires
    /// every conversation at once.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Keeps only the newest `max` messages of each conversation; older ones are dropped on append.
    pub fn with_max_messages(mut self, max: NonZeroUsize) -> Self {
        self.max_messages = Some(max);
        self
    }

    /// The TTL, if set.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The per-conversation message cap, if set.
    pub fn max_messages(&self) -> Option<NonZeroUsize> {
        self.max_messages
    }

    /// The number of live (unexpired) conversations; O(number of stored conversations).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.read()
            .conversations
            .values()
            .filter(|c| c.is_live(now))
            .count()
    }

    /// Whether the store holds no live conversation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every expired conversation now; returns how many were removed.
    pub fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let mut state = self.write();
        let before = state.conversations.len();
        state.conversations.retain(|_, c| c.is_live(now));
        before - state.conversations.len()
    }

    // No code panics while holding the lock, and every update is complete before the guard drops, so a
    // poisoned lock still holds consistent data: recover it instead of failing forever.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn expires_at(&self, now: Instant) -> Option<Instant> {
        self.ttl.and_then(|ttl| now.checked_add(ttl))
    }
}

impl State {
    /// Sweeps out expired conversations when the map has grown to twice its size after the last sweep, so
    /// conversations nobody touches again do not pile up; amortised O(1) per new conversation.
    fn maybe_sweep(&mut self, now: Instant) {
        if self.conversations.len() >= self.sweep_at.max(MIN_SWEEP_LEN) {
            self.conversations.retain(|_, c| c.is_live(now));
            self.sweep_at = self.conversations.len().saturating_mul(2);
        }
    }
}

#[async_trait]
impl ConversationStore for MemoryConversationStore {
    async fn append(&self, conversation: &str, messages: &[Message]) -> Result<()> {
        validate_conversation_id(conversation)?;
        if messages.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let expires_at = self.expires_at(now);
        let cap = self.max_messages.map_or(usize::MAX, NonZeroUsize::get);
        // Only the newest `cap` messages of the batch can survive; don't clone the others.
        let batch = &messages[messages.len().saturating_sub(cap)..];

        let mut state = self.write();
        if self.ttl.is_some() && !state.conversations.contains_key(conversation) {
            state.maybe_sweep(now);
        }
        let entry = match state.conversations.get_mut(conversation) {
            Some(entry) => entry,
            None => state
                .conversations
                .entry(conversation.to_owned())
                .or_insert_with(|| Conversation {
                    messages: VecDeque::new(),
                    expires_at: None,
                }),
        };
        if !entry.is_live(now) {
            entry.messages.clear();
        }
        entry.messages.extend(batch.iter().cloned());
        let excess = entry.messages.len().saturating_sub(cap);
        entry.messages.drain(..excess);
        entry.expires_at = expires_at;
        Ok(())
    }

    async fn load(&self, conversation: &str, window: Window) -> Result<Vec<Message>> {
        validate_conversation_id(conversation)?;
        let now = Instant::now();
        let state = self.read();
        let entry = state
            .conversations
            .get(conversation)
            .filter(|c| c.is_live(now))
            .ok_or_else(|| not_found(conversation))?;
        let keep = window.retained_len(entry.messages.iter().rev());
        let start = entry.messages.len() - keep;
        Ok(entry.messages.range(start..).cloned().collect())
    }

    async fn delete(&self, conversation: &str) -> Result<bool> {
        validate_conversation_id(conversation)?;
        let now = Instant::now();
        let removed = self.write().conversations.remove(conversation);
        Ok(removed.is_some_and(|c| c.is_live(now)))
    }

    async fn health_check(&self) -> Result<()> {
        Ok(())
    }
}

fn not_found(conversation: &str) -> Error {
    Error::not_found(format!(
        "conversation `{conversation}` does not exist (never written, deleted or expired)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::conversation::ConversationStoreExt;

    fn texts(messages: &[Message]) -> Vec<String> {
        messages.iter().map(Message::text).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn ttl_counts_from_the_last_append() {
        let store = MemoryConversationStore::new().with_ttl(Duration::from_secs(60));
        store.append("c", &[Message::user("a")]).await.unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        // A load does not extend the TTL.
        assert_eq!(store.load("c", Window::All).await.unwrap().len(), 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        let err = store.load("c", Window::All).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(store.history("c", Window::All).await.unwrap().is_empty());
        assert!(store.is_empty());

        // Appending to an expired conversation starts a fresh one.
        store.append("c", &[Message::user("b")]).await.unwrap();
        tokio::time::advance(Duration::from_secs(30)).await;
        store.append("c", &[Message::user("c")]).await.unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            texts(&store.load("c", Window::All).await.unwrap()),
            ["b", "c"]
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        // Deleting an expired conversation reports that it did not exist.
        assert!(!store.delete("c").await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn expired_conversations_are_purged() {
        let store = MemoryConversationStore::new().with_ttl(Duration::from_secs(10));
        for i in 0..10 {
            store
                .append(&format!("old-{i}"), &[Message::user("x")])
                .await
                .unwrap();
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        store.append("young", &[Message::user("y")]).await.unwrap();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(store.len(), 1);
        assert_eq!(store.purge_expired(), 10);
        assert_eq!(store.purge_expired(), 0);
        assert_eq!(store.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn sweep_bounds_untouched_expired_conversations() {
        let store = MemoryConversationStore::new().with_ttl(Duration::from_secs(1));
        for i in 0..1000 {
            store
                .append(&format!("c{i}"), &[Message::user("x")])
                .await
                .unwrap();
            tokio::time::advance(Duration::from_secs(2)).await;
        }
        // Every conversation expired before the next was created; the sweeps keep the map small.
        let stored = store.read().conversations.len();
        assert!(stored <= MIN_SWEEP_LEN, "{stored} conversations kept");
    }

    #[tokio::test]
    async fn zero_ttl_expires_at_once() {
        let store = MemoryConversationStore::new().with_ttl(Duration::ZERO);
        store.append("c", &[Message::user("a")]).await.unwrap();
        assert!(store.history("c", Window::All).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn huge_ttl_does_not_overflow() {
        let store = MemoryConversationStore::new().with_ttl(Duration::MAX);
        store.append("c", &[Message::user("a")]).await.unwrap();
        assert_eq!(store.load("c", Window::All).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn max_messages_keeps_the_newest() {
        let cap = NonZeroUsize::new(3).unwrap();
        let store = MemoryConversationStore::new().with_max_messages(cap);
        assert_eq!(store.max_messages(), Some(cap));
        store
            .append("c", &[Message::user("1"), Message::user("2")])
            .await
            .unwrap();
        store
            .append("c", &[Message::user("3"), Message::user("4")])
            .await
            .unwrap();
        assert_eq!(
            texts(&store.load("c", Window::All).await.unwrap()),
            ["2", "3", "4"]
        );
        let batch: Vec<Message> = (5..12).map(|i| Message::user(i.to_string())).collect();
        store.append("c", &batch).await.unwrap();
        assert_eq!(
            texts(&store.load("c", Window::All).await.unwrap()),
            ["9", "10", "11"]
        );
    }

    #[tokio::test]
    async fn invalid_input_changes_nothing() {
        let store = MemoryConversationStore::new();
        for err in [
            store.append("", &[Message::user("x")]).await.unwrap_err(),
            store.load("", Window::All).await.unwrap_err(),
            store.delete("").await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        }
        assert!(store.is_empty());
        // An empty batch does not create the conversation.
        store.append("c", &[]).await.unwrap();
        assert!(store.is_empty());
        assert_eq!(
            store.load("c", Window::All).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn windows_and_delete() {
        let store = MemoryConversationStore::new();
        let batch: Vec<Message> = (0..6).map(|i| Message::user(format!("m{i}"))).collect();
        store.append("c", &batch).await.unwrap();
        assert_eq!(
            texts(&store.load("c", Window::LastN(2)).await.unwrap()),
            ["m4", "m5"]
        );
        assert!(store.load("c", Window::LastN(0)).await.unwrap().is_empty());
        assert!(
            store
                .load("c", Window::TokenBudget(0))
                .await
                .unwrap()
                .is_empty()
        );
        // Each message estimates to 5 tokens.
        assert_eq!(
            texts(&store.load("c", Window::TokenBudget(12)).await.unwrap()),
            ["m4", "m5"]
        );
        assert!(store.delete("c").await.unwrap());
        assert!(!store.delete("c").await.unwrap());
    }
}
