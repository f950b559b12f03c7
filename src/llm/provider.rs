//! The [`LlmProvider`] trait, its forwarding impls and the [`LlmProviderExt`] conveniences.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, collect};
use crate::{Error, Result};

/// A chat (and optionally embedding) model behind some API.
///
/// An instance is bound to one pinned model ([`LlmProvider::model`]); a request may name another. Only
/// [`chat`](LlmProvider::chat), [`name`](LlmProvider::name) and [`model`](LlmProvider::model) are required:
/// streaming defaults to one event stream built from `chat`, embeddings to an
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) error, the health check to `Ok`.
///
/// ```
/// use std::sync::Arc;
/// use twelve_factor_ai::llm::{LlmProvider, LlmProviderExt, Scripted};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let scripted = Scripted::new("demo-model-2024-01-01");
/// scripted.push_text("Hello!");
/// let llm: Arc<dyn LlmProvider> = Arc::new(scripted);
/// assert_eq!(llm.complete("Hi").await?, "Hello!");
/// assert_eq!(llm.model(), "demo-model-2024-01-01");
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait LlmProvider: Send + Sync + std::fmt::Debug {
    /// The provider's name, as `gen_ai.provider.name`: `"openai"`, `"anthropic"`, `"scripted"`, ...
    fn name(&self) -> &str;

    /// The pinned model this instance calls unless a request names another.
    fn model(&self) -> &str;

    /// Sends a chat request and waits for the whole answer.
    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse>;

    /// Sends a chat request and streams the answer. The default calls [`chat`](LlmProvider::chat) and
    /// streams its result as one piece.
    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        Ok(self.chat(req).await?.into_stream())
    }

    /// Embeds texts. The default fails with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let _ = req;
        Err(Error::unsupported(format!(
            "provider {} does not offer embeddings; configure an embedding provider",
            self.name()
        ))
        .with_provider(self.name()))
    }

    /// Checks the provider can be reached. The default reports healthy without a call.
    async fn health_check(&self) -> Result<()> {
        Ok(())
    }
}

macro_rules! forward_llm_provider {
    ($ty:ty) => {
        #[deny(clippy::missing_trait_methods)]
        #[async_trait]
        impl<T: LlmProvider + ?Sized> LlmProvider for $ty {
            fn name(&self) -> &str {
                (**self).name()
            }
            fn model(&self) -> &str {
                (**self).model()
            }
            async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
                (**self).chat(req).await
            }
            async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
                (**self).chat_stream(req).await
            }
            async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
                (**self).embed(req).await
            }
            async fn health_check(&self) -> Result<()> {
                (**self).health_check().await
            }
        }
    };
}

forward_llm_provider!(Arc<T>);
forward_llm_provider!(Box<T>);

/// Conveniences for every [`LlmProvider`]; implemented for all of them, never by hand.
#[async_trait]
pub trait LlmProviderExt: LlmProvider {
    /// Sends one user message and returns the answer's text.
    async fn complete(&self, prompt: &str) -> Result<String> {
        Ok(self.chat(ChatRequest::user(prompt)).await?.content)
    }

    /// Streams a request and collects the whole answer (useful to check a stream end to end).
    async fn chat_collected(&self, req: ChatRequest) -> Result<ChatResponse> {
        let model = req.model_or(self.model()).to_owned();
        let stream = self.chat_stream(req).await?;
        collect(stream, self.name(), model).await
    }

    /// Embeds one text.
    async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let mut res = self.embed(EmbedRequest::new([text])).await?;
        match res.embeddings.pop() {
            Some(v) if res.embeddings.is_empty() => Ok(v),
            _ => Err(Error::decode(format!(
                "provider {} returned {} embeddings for one input",
                self.name(),
                res.embeddings.len() + 1
            ))),
        }
    }

    /// Boxes the provider as `Arc<dyn LlmProvider>`, the type stacks and fallback chains hold.
    fn boxed(self) -> Arc<dyn LlmProvider>
    where
        Self: Sized + 'static,
    {
        Arc::new(self)
    }
}

impl<T: LlmProvider + ?Sized> LlmProviderExt for T {}
