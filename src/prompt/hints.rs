//! [`ModelHints`]: the model parameters a prompt was written for.

use serde::Serialize;

use crate::llm::ChatRequestBuilder;
use crate::{Error, Result};

/// The model parameters a prompt was written for, from its front matter (`temperature`, `max_tokens`).
///
/// A prompt tuned at temperature 0.2 may answer differently at 1.0, so the file that holds the prompt also
/// holds the parameters; [`apply`](Self::apply) sets them on a request. Hints are suggestions: the
/// registry never sends requests itself, and a value the caller sets after `apply` wins.
///
/// ```
/// use twelve_factor_ai::llm::ChatRequest;
/// use twelve_factor_ai::prompt::ModelHints;
///
/// # fn main() -> twelve_factor_ai::Result<()> {
/// let hints = ModelHints::new().with_temperature(0.2)?.with_max_tokens(400);
/// let request = hints.apply(ChatRequest::builder().user("Hi")).build()?;
/// assert_eq!(request.temperature, Some(0.2));
/// assert_eq!(request.max_tokens, Some(400));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ModelHints {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

/// The highest temperature any provider accepts (OpenAI's limit; Anthropic stops at 1.0).
const MAX_TEMPERATURE: f32 = 2.0;

impl ModelHints {
    /// No hints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sampling temperature.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) unless `0.0 <= temperature <= 2.0`.
    pub fn with_temperature(mut self, temperature: f32) -> Result<Self> {
        if !(0.0..=MAX_TEMPERATURE).contains(&temperature) {
            return Err(Error::invalid_request(format!(
                "temperature {temperature} is out of range; use a number from 0.0 to {MAX_TEMPERATURE}"
            )));
        }
        self.temperature = Some(temperature);
        Ok(self)
    }

    /// Sets the maximum number of output tokens.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// The sampling temperature, if the prompt names one.
    pub fn temperature(&self) -> Option<f32> {
        self.temperature
    }

    /// The maximum number of output tokens, if the prompt names one.
    pub fn max_tokens(&self) -> Option<u32> {
        self.max_tokens
    }

    /// Whether the prompt names no parameter.
    pub fn is_empty(&self) -> bool {
        self.temperature.is_none() && self.max_tokens.is_none()
    }

    /// Sets the hinted parameters on `builder`, leaving the others as they are.
    pub fn apply(&self, builder: ChatRequestBuilder) -> ChatRequestBuilder {
        let builder = match self.temperature {
            Some(temperature) => builder.temperature(temperature),
            None => builder,
        };
        match self.max_tokens {
            Some(max_tokens) => builder.max_tokens(max_tokens),
            None => builder,
        }
    }
}

// A temperature is never NaN (`with_temperature` refuses it), so comparing bits is an equivalence.
impl PartialEq for ModelHints {
    fn eq(&self, other: &Self) -> bool {
        self.temperature.map(f32::to_bits) == other.temperature.map(f32::to_bits)
            && self.max_tokens == other.max_tokens
    }
}

impl Eq for ModelHints {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::llm::ChatRequest;

    #[test]
    fn temperature_is_checked_and_apply_leaves_unset_fields() {
        for bad in [-0.1, 2.01, f32::NAN, f32::INFINITY] {
            let err = ModelHints::new().with_temperature(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad}");
        }
        let hints = ModelHints::new().with_max_tokens(10);
        assert!(!hints.is_empty());
        assert_eq!(hints.temperature(), None);
        let request = hints
            .apply(ChatRequest::builder().user("x").temperature(0.7))
            .build()
            .unwrap();
        assert_eq!(request.temperature, Some(0.7));
        assert_eq!(request.max_tokens, Some(10));
        assert!(ModelHints::new().is_empty());
        assert_eq!(
            ModelHints::new().with_temperature(0.5).unwrap(),
            ModelHints::new().with_temperature(0.5).unwrap()
        );
    }
}
