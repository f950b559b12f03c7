//! LLM providers: the [`LlmProvider`] trait and the request, response and stream types.

mod message;

pub use message::{ContentPart, Message, Role, ToolCall};
