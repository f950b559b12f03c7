//! Conversation state (factor VI): the [`ConversationStore`] trait, [`Window`]s over a history, and the
//! in-memory store.
//!
//! A stateless service keeps each conversation's history in a backing service and loads the part it
//! needs on every request:
//!
//! ```
//! use twelve_factor_ai::conversation::{
//!     ConversationStore, ConversationStoreExt, MemoryConversationStore, Window,
//! };
//! use twelve_factor_ai::llm::Message;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> twelve_factor_ai::Result<()> {
//! let store = MemoryConversationStore::new();
//! let mut messages = store.history("thread-7", Window::TokenBudget(4_000)).await?;
//! let question = Message::user("Which factor covers logs?");
//! messages.push(question.clone());
//! // ... send `messages` to a model, get `answer` back ...
//! let answer = Message::assistant("Factor XI: logs as event streams.");
//! store.append("thread-7", &[question, answer]).await?;
//! assert_eq!(store.load("thread-7", Window::All).await?.len(), 2);
//! # Ok(())
//! # }
//! ```

mod memory;
mod store;
mod window;

pub use memory::MemoryConversationStore;
pub use store::{ConversationStore, ConversationStoreExt, validate_conversation_id};
pub use window::{Window, estimate_message_tokens};
