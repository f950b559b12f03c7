//! [`EmbedRequest`] and [`EmbedResponse`].

use serde::{Deserialize, Serialize};

use super::{RequestMeta, Usage};
use crate::{Error, Result};

/// A request to embed one or more texts.
///
/// ```
/// use twelve_factor_ai::llm::EmbedRequest;
///
/// let req = EmbedRequest::new(["first text", "second text"]);
/// assert_eq!(req.inputs.len(), 2);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedRequest {
    /// The texts, embedded in order.
    pub inputs: Vec<String>,
    /// A model to call instead of the provider's pinned embedding model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The output dimension, for models that can shorten their vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// Ids, tenant and tags for wrappers.
    #[serde(default)]
    pub meta: RequestMeta,
}

impl EmbedRequest {
    /// A request for these texts.
    pub fn new<I, S>(inputs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EmbedRequest {
            inputs: inputs.into_iter().map(Into::into).collect(),
            model: None,
            dimensions: None,
            meta: RequestMeta::default(),
        }
    }

    /// Calls this model instead of the provider's pinned one.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Asks for vectors of this dimension.
    pub fn with_dimensions(mut self, dimensions: u32) -> Self {
        self.dimensions = Some(dimensions);
        self
    }

    /// Checks there is at least one input and that a requested dimension is not zero.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest).
    pub fn validate(&self) -> Result<()> {
        if self.inputs.is_empty() {
            return Err(Error::invalid_request(
                "an embed request needs at least one input",
            ));
        }
        if self.dimensions == Some(0) {
            return Err(Error::invalid_request("dimensions must be at least 1"));
        }
        Ok(())
    }
}

/// Embeddings, one per input, in the order of the inputs.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    /// One vector per input.
    pub embeddings: Vec<Vec<f32>>,
    /// The provider that answered.
    pub provider: String,
    /// The model that produced the vectors.
    pub model: String,
    /// Token counts (input only).
    #[serde(default)]
    pub usage: Usage,
    /// What the call cost in US dollars, when prices are known (set by the
    /// [`Cost`](crate::layer::cost::Cost) wrapper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl EmbedResponse {
    /// A response with these vectors.
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        embeddings: Vec<Vec<f32>>,
    ) -> Self {
        EmbedResponse {
            embeddings,
            provider: provider.into(),
            model: model.into(),
            usage: Usage::default(),
            cost_usd: None,
        }
    }
}
