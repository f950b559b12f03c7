//! [`Defaults`]: the sampling parameters a model role is configured with (factor II), applied to every
//! request that does not set them itself.

use async_trait::async_trait;

use crate::llm::{ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider};
use crate::{Error, Result};

/// The parameters [`Defaults`] fills in when a request leaves them unset.
///
/// ```
/// use twelve_factor_ai::layer::defaults::RequestDefaults;
///
/// let defaults = RequestDefaults::new().temperature(0.2).max_tokens(500);
/// assert_eq!(defaults.get_temperature(), Some(0.2));
/// assert_eq!(defaults.get_max_tokens(), Some(500));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestDefaults {
    temperature: Option<f32>,
    max_tokens: Option<u32>,
}

impl RequestDefaults {
    /// No defaults: requests pass unchanged.
    pub fn new() -> Self {
        Self::default()
    }

    /// The temperature of requests that set none.
    pub fn temperature(mut self, temperature: impl Into<Option<f32>>) -> Self {
        self.temperature = temperature.into();
        self
    }

    /// The output-token limit of requests that set none.
    pub fn max_tokens(mut self, max_tokens: impl Into<Option<u32>>) -> Self {
        self.max_tokens = max_tokens.into();
        self
    }

    /// The default temperature, if any.
    pub fn get_temperature(&self) -> Option<f32> {
        self.temperature
    }

    /// The default output-token limit, if any.
    pub fn get_max_tokens(&self) -> Option<u32> {
        self.max_tokens
    }

    /// Fills the fields `req` leaves unset.
    pub fn apply(&self, req: &mut ChatRequest) {
        if req.temperature.is_none() {
            req.temperature = self.temperature;
        }
        if req.max_tokens.is_none() {
            req.max_tokens = self.max_tokens;
        }
    }

    fn check(&self) -> Result<()> {
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(Error::config(format!(
                    "default temperature {t} is outside 0..=2"
                )));
            }
        }
        if self.max_tokens == Some(0) {
            return Err(Error::config("default max_tokens must be at least 1"));
        }
        Ok(())
    }
}

/// Applies a model role's configured temperature and output-token limit to each chat request that does
/// not set them; a value the request sets always wins.
///
/// Each provider of a fallback chain gets its own `Defaults` (its role's parameters), so the parameters
/// travel with the model that answers. Embedding requests pass unchanged.
///
/// ```
/// use twelve_factor_ai::layer::LlmStackExt;
/// use twelve_factor_ai::layer::defaults::RequestDefaults;
/// use twelve_factor_ai::llm::{ChatRequest, LlmProvider, Scripted};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let llm = Scripted::new("model-2024-01-01")
///     .echo_when_empty()
///     .with_defaults(RequestDefaults::new().temperature(0.0).max_tokens(64))?;
/// llm.chat(ChatRequest::user("hi")).await?;
/// let seen = &llm.get_ref().requests()[0];
/// assert_eq!((seen.temperature, seen.max_tokens), (Some(0.0), Some(64)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Defaults<P> {
    inner: P,
    defaults: RequestDefaults,
}

impl<P: LlmProvider> Defaults<P> {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a temperature outside `0..=2` or `max_tokens`
    /// of 0.
    pub fn new(inner: P, defaults: RequestDefaults) -> Result<Self> {
        defaults.check()?;
        Ok(Defaults { inner, defaults })
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The defaults applied.
    pub fn defaults(&self) -> &RequestDefaults {
        &self.defaults
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<P: LlmProvider> LlmProvider for Defaults<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, mut req: ChatRequest) -> Result<ChatResponse> {
        self.defaults.apply(&mut req);
        self.inner.chat(req).await
    }

    async fn chat_stream(&self, mut req: ChatRequest) -> Result<ChatStream> {
        self.defaults.apply(&mut req);
        self.inner.chat_stream(req).await
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        self.inner.embed(req).await
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::layer::LlmStackExt;
    use crate::llm::{LlmProviderExt, Scripted};
    use std::sync::Arc;

    #[tokio::test]
    async fn request_values_win_and_unset_ones_are_filled() {
        let scripted = Arc::new(Scripted::new("m").echo_when_empty());
        let llm = Arc::clone(&scripted)
            .with_defaults(RequestDefaults::new().temperature(0.7).max_tokens(100))
            .unwrap();
        let mut req = ChatRequest::user("a");
        req.temperature = Some(0.1);
        llm.chat(req).await.unwrap();
        let mut req = ChatRequest::user("b");
        req.max_tokens = Some(5);
        llm.chat_collected(req).await.unwrap();
        llm.complete("c").await.unwrap();
        let seen: Vec<_> = scripted
            .requests()
            .iter()
            .map(|r| (r.temperature, r.max_tokens))
            .collect();
        assert_eq!(
            seen,
            [
                (Some(0.1), Some(100)),
                (Some(0.7), Some(5)),
                (Some(0.7), Some(100))
            ]
        );
    }

    #[test]
    fn bad_defaults_are_config_errors() {
        for bad in [
            RequestDefaults::new().temperature(2.5),
            RequestDefaults::new().temperature(f32::NAN),
            RequestDefaults::new().max_tokens(0),
        ] {
            let err = Defaults::new(Scripted::new("m"), bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
        }
    }
}
