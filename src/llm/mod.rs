//! LLM providers: the [`LlmProvider`] trait and the request, response and stream types.
//!
//! - [`ChatRequest`] (built with [`ChatRequest::builder`]) goes in; [`ChatResponse`] or a [`ChatStream`] of
//!   [`StreamEvent`]s comes out; [`StreamCollector`] / [`collect`] fold a stream back into a response.
//! - [`EmbedRequest`] / [`EmbedResponse`] for embeddings.
//! - [`Scripted`] is a provider for tests and demos that replays queued replies.

mod embed;
mod message;
mod provider;
mod request;
mod response;
mod scripted;
mod stream;

pub use embed::{EmbedRequest, EmbedResponse};
pub use message::{ContentPart, Message, Role, ToolCall};
pub use provider::{LlmProvider, LlmProviderExt};
pub use request::{
    ChatRequest, ChatRequestBuilder, RequestMeta, ResponseFormat, ToolChoice, ToolSpec,
    new_request_id,
};
pub use response::{ChatResponse, FinishReason, Usage};
pub use scripted::{Chunk, EmbedReply, Reply, Scripted};
pub use stream::{ChatStream, StreamCollector, StreamEvent, collect};
