//! Conversation state: the [`ConversationStore`] trait and the in-memory store.
