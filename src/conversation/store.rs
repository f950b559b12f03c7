//! The [`ConversationStore`] trait, its forwarding impls and the [`ConversationStoreExt`] conveniences.

use std::sync::Arc;

use async_trait::async_trait;

use super::Window;
use crate::llm::Message;
use crate::{Error, ErrorKind, Result};

/// Where conversation histories live between requests, so that the service's processes stay stateless
/// (factor VI).
///
/// A conversation is a list of [`Message`]s under an id chosen by the host (a session id, a thread id).
/// Backends must agree on these rules, which the conformance suite
/// (`testing::conformance::conversation_store`, feature `testing`) checks:
///
/// - [`append`](Self::append) adds a batch of messages atomically (all or none) at the end, in order,
///   in time proportional to the batch and not to the history. It creates the conversation on first use.
///   Appending an empty slice changes nothing and does not create the conversation.
/// - [`load`](Self::load) returns the messages selected by a [`Window`], oldest first, exactly as they
///   were appended (roles, tool calls, names). An unknown conversation is
///   [`ErrorKind::NotFound`]; use [`ConversationStoreExt::history`] to get an empty history instead.
/// - [`delete`](Self::delete) removes a conversation and says whether it existed.
/// - An empty conversation id is [`ErrorKind::InvalidRequest`], and leaves the store unchanged
///   ([`validate_conversation_id`]).
/// - A backend with a time-to-live forgets a conversation that long after its last append; an expired
///   conversation behaves exactly like an unknown one.
///
/// Use it as `Arc<dyn ConversationStore>`; `Arc<T>` and `Box<T>` forward every method.
///
/// ```
/// use std::sync::Arc;
/// use twelve_factor_ai::conversation::{
///     ConversationStore, ConversationStoreExt, MemoryConversationStore, Window,
/// };
/// use twelve_factor_ai::llm::Message;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let store: Arc<dyn ConversationStore> = Arc::new(MemoryConversationStore::new());
/// store.append("session-1", &[Message::user("Hi"), Message::assistant("Hello!")]).await?;
/// store.append_one("session-1", Message::user("What is factor VI?")).await?;
///
/// let recent = store.load("session-1", Window::LastN(2)).await?;
/// assert_eq!(recent[0].text(), "Hello!");
/// assert_eq!(recent[1].text(), "What is factor VI?");
///
/// // A conversation nobody has written to yet has an empty history.
/// assert!(store.history("session-2", Window::All).await?.is_empty());
/// assert!(store.delete("session-1").await?);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug {
    /// Appends `messages`, in order, to the end of `conversation`, creating it if needed.
    ///
    /// All or nothing: on error no message of the batch is stored. An empty batch is a no-op.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for an empty id; [`ErrorKind::Store`] (or a transport kind) when
    /// the backend fails.
    async fn append(&self, conversation: &str, messages: &[Message]) -> Result<()>;

    /// Loads the part of `conversation` that `window` selects, oldest first.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for a conversation that does not exist (never written, deleted or
    /// expired); [`ErrorKind::InvalidRequest`] for an empty id.
    async fn load(&self, conversation: &str, window: Window) -> Result<Vec<Message>>;

    /// Deletes `conversation`; `true` if it existed.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for an empty id.
    async fn delete(&self, conversation: &str) -> Result<bool>;

    /// Checks that the backend can serve requests (a round trip to the server, for remote backends).
    async fn health_check(&self) -> Result<()>;
}

/// Checks a conversation id: it must not be empty. Every backend calls this first, so that the rule lives
/// in one place.
///
/// # Errors
/// [`ErrorKind::InvalidRequest`] for an empty id.
pub fn validate_conversation_id(conversation: &str) -> Result<()> {
    if conversation.is_empty() {
        return Err(Error::invalid_request(
            "conversation id is empty; pass the session or thread id the history belongs to",
        ));
    }
    Ok(())
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: ConversationStore + ?Sized> ConversationStore for Arc<T> {
    async fn append(&self, conversation: &str, messages: &[Message]) -> Result<()> {
        (**self).append(conversation, messages).await
    }

    async fn load(&self, conversation: &str, window: Window) -> Result<Vec<Message>> {
        (**self).load(conversation, window).await
    }

    async fn delete(&self, conversation: &str) -> Result<bool> {
        (**self).delete(conversation).await
    }

    async fn health_check(&self) -> Result<()> {
        (**self).health_check().await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: ConversationStore + ?Sized> ConversationStore for Box<T> {
    async fn append(&self, conversation: &str, messages: &[Message]) -> Result<()> {
        (**self).append(conversation, messages).await
    }

    async fn load(&self, conversation: &str, window: Window) -> Result<Vec<Message>> {
        (**self).load(conversation, window).await
    }

    async fn delete(&self, conversation: &str) -> Result<bool> {
        (**self).delete(conversation).await
    }

    async fn health_check(&self) -> Result<()> {
        (**self).health_check().await
    }
}

/// Conveniences on every [`ConversationStore`], implemented for all of them; never implement it by hand.
#[async_trait]
pub trait ConversationStoreExt: ConversationStore {
    /// Like [`load`](ConversationStore::load), but an unknown conversation has an empty history, which is
    /// what a request handler wants for a new session.
    ///
    /// # Errors
    /// Every error of `load` except [`ErrorKind::NotFound`].
    async fn history(&self, conversation: &str, window: Window) -> Result<Vec<Message>> {
        match self.load(conversation, window).await {
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            other => other,
        }
    }

    /// Appends one message.
    ///
    /// # Errors
    /// As [`append`](ConversationStore::append).
    async fn append_one(&self, conversation: &str, message: Message) -> Result<()> {
        self.append(conversation, std::slice::from_ref(&message))
            .await
    }
}

impl<T: ConversationStore + ?Sized> ConversationStoreExt for T {}
