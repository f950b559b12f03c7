//! LLM providers: the [`LlmProvider`] trait and the request, response and stream types.
//!
//! - [`ChatRequest`] (built with [`ChatRequest::builder`]) goes in; [`ChatResponse`] or a [`ChatStream`] of
//!   [`StreamEvent`]s comes out; [`StreamCollector`] / [`collect`] fold a stream back into a response.
//! - [`EmbedRequest`] / [`EmbedResponse`] for embeddings.
//! - [`Scripted`] is a provider for tests and demos that replays queued replies.

#[cfg(feature = "anthropic")]
pub mod anthropic;
pub mod catalog;
mod embed;
#[cfg(feature = "http")]
pub(crate) mod http;
mod litellm;
mod message;
#[cfg(feature = "openai")]
pub mod openai;
mod price;
mod provider;
mod request;
mod response;
mod scripted;
mod shaping;
pub mod sse;
mod stream;

#[cfg(feature = "anthropic")]
pub use anthropic::{Anthropic, AnthropicConfig, AnthropicConfigBuilder};
pub use embed::{EmbedRequest, EmbedResponse};
#[cfg(feature = "http")]
pub use http::HttpOptions;
pub use litellm::{LiteLlmEntry, LiteLlmFile, SkippedEntry};
pub use message::{ContentPart, Message, Role, ToolCall};
#[cfg(feature = "openai")]
pub use openai::{OpenAi, OpenAiConfig, OpenAiConfigBuilder};
pub use price::{ModelPrice, PriceTable};
pub use provider::{LlmProvider, LlmProviderExt};
pub use request::{
    ChatRequest, ChatRequestBuilder, RequestMeta, ResponseFormat, ToolChoice, ToolSpec,
    new_request_id,
};
pub use response::{ChatResponse, FinishReason, Usage};
pub use scripted::{Chunk, EmbedReply, Reply, Scripted};
pub use shaping::ShapingPolicy;
pub use stream::{ChatStream, StreamCollector, StreamEvent, collect};
