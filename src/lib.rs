//! # twelve-factor-ai
//!
//! The production parts of an AI service, as a library inside your own process: typed backing services for
//! LLMs, vector search, conversation state and prompts, with in-memory defaults that need no server, and
//! the pieces each factor of the "12-factor app for AI services" method asks for.
//!
//! ```
//! use twelve_factor_ai::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> twelve_factor_ai::Result<()> {
//! // Prompts are code: a versioned, hashed template.
//! let prompts = MemoryPromptRegistry::new();
//! prompts.insert("greet", "Say hello to {{ name }}.")?;
//! let rendered = prompts.render_latest("greet", &serde_json::json!({ "name": "Ada" })).await?;
//!
//! // A provider (Scripted here; OpenAI and Anthropic come with their own feature work).
//! let llm = Scripted::new("demo-model-2024-01-01").echo_when_empty();
//! let request = ChatRequest::builder()
//!     .messages(rendered.messages)
//!     .prompt(rendered.prompt)
//!     .build()?;
//! let answer = llm.chat(request).await?;
//! assert_eq!(answer.content, "Say hello to Ada.");
//!
//! // Conversation state outside the process's logic (memory here; Redis / Postgres in production).
//! let conversations = MemoryConversationStore::new();
//! conversations.append("c-1", &[Message::user("hi"), answer.to_message()]).await?;
//! assert_eq!(conversations.history("c-1", Window::All).await?.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! ## The factors and where they live
//!
//! | factor | what the crate gives | module | status |
//! |---|---|---|---|
//! | I prompts are code | [`PromptRegistry`](prompt::PromptRegistry): versioned, hashed minijinja templates in strict mode; a [`PromptRef`](prompt::PromptRef) travels with each request | [`prompt`] | folder registry ([`DirPromptRegistry`](prompt::DirPromptRegistry): front matter, chat prompts, versions, labels, A/B variants, atomic reload), embedded registry, in-memory registry |
//! | II pinned dependencies | model config ([`ModelConfig`](config::ModelConfig): `models.toml` / `models.yaml`), pin checks ([`check_pinned`](config::check_pinned)), prices ([`PriceTable`](llm::PriceTable), LiteLLM's price file), a model catalog ([`llm::catalog`]) that shapes each request to what the pinned model accepts, pinned provider API versions, a pre-flight context check ([`layer::preflight`]) | [`config`], [`llm`] | done |
//! | III config in env | [`Settings::from_env`](config::Settings::from_env); `new()` never reads the environment; [`Settings::build_services`](config::Settings::build_services) builds the whole stack | [`config`] | done |
//! | IV backing services | [`LlmProvider`](llm::LlmProvider), [`VectorStore`](vector::VectorStore), [`ConversationStore`](conversation::ConversationStore), [`PromptRegistry`](prompt::PromptRegistry) | [`llm`], [`vector`], [`conversation`], [`prompt`] | traits, in-memory backends, [`Scripted`](llm::Scripted), OpenAI / Anthropic / OpenAI-compatible providers; Redis / Postgres / pgvector / Chroma planned |
//! | V evaluate before release | eval suites, gates, reports | `eval` | planned |
//! | VI stateless processes | conversation state in a store, not in process memory | [`conversation`] | trait + memory store |
//! | VII port binding | service template binding `$PORT` | `examples/` | planned |
//! | VIII concurrency | request and token rate limits, reserve-then-reconcile | [`layer::rate_limit`] | local; Redis backend planned |
//! | IX disposability | health checks on every backend, drain | [`layer::drain`], every trait's `health_check` | done |
//! | X dev/prod parity | profiles ([`Profile`](config::Profile)) over one config | [`config`] | done |
//! | XI logs as event streams | one structured event per call, content redacted by default | [`layer::logging`] | done |
//! | XII admin processes | batch jobs | `admin` | planned |
//! | XIII quality monitoring | metrics on OpenTelemetry GenAI names, feedback signals | [`layer::metrics`], `quality` | metrics; signals planned |
//!
//! ## Errors
//!
//! Every operation returns [`Result`] with one opaque [`Error`]; ask it questions
//! ([`Error::kind`], [`Error::is_retryable`], [`Error::should_fallback`], [`Error::retry_after`]) instead of
//! matching on a dependency's error type.
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `openai` | yes | [`llm::OpenAi`]: OpenAI, OpenAI-compatible servers, Azure OpenAI (reqwest + rustls) |
//! | `anthropic` | yes | [`llm::Anthropic`]: the Messages API (reqwest + rustls) |
//! | `yaml` | yes | `models.yaml` model configs and YAML front matter in prompt files (serde_yaml_ng) |
//! | `testing` | no | `testing`: conformance suites, fake provider servers, stream decoders, for authors of third-party backends and for host services' own tests |

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod config;
pub mod conversation;
pub mod error;
pub mod layer;
pub mod llm;
pub mod prompt;
mod secret;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod vector;

pub use error::{Error, ErrorKind, Result};
pub use secret::Secret;

// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The types and traits most services use, in one import: `use twelve_factor_ai::prelude::*;`.
pub mod prelude {
    pub use crate::config::{Services, Settings};
    pub use crate::conversation::{
        ConversationStore, ConversationStoreExt, MemoryConversationStore, Window,
    };
    pub use crate::llm::{
        ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider,
        LlmProviderExt, Message, Role, Scripted, StreamEvent,
    };
    pub use crate::prompt::{
        DirPromptRegistry, EmbeddedPromptRegistry, MemoryPromptRegistry, PromptRef, PromptRegistry,
        PromptRegistryExt, RenderedPrompt, Selector,
    };
    pub use crate::vector::{
        Document, Filter, MemoryVectorStore, Metric, SearchHit, VectorQuery, VectorStore,
        VectorStoreExt,
    };
    pub use crate::{Error, ErrorKind, Result};
}
