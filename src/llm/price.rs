//! What a model costs: [`ModelPrice`] per million tokens.

use serde::{Deserialize, Serialize};

/// The price of one model in US dollars per million tokens.
///
/// In config files: `price = { input = 2.5, output = 10.0, cached_input = 1.25 }`.
///
/// ```
/// use twelve_factor_ai::llm::ModelPrice;
///
/// let price = ModelPrice::new(2.5, 10.0).with_cached_input(1.25);
/// assert_eq!(price.cached_input, Some(1.25));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Input (prompt) tokens, USD per million.
    pub input: f64,
    /// Output (completion) tokens, including reasoning tokens, USD per million.
    pub output: f64,
    /// Input tokens read from the provider's prompt cache, USD per million (default: the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Input tokens written to the provider's prompt cache, USD per million (default: the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

impl ModelPrice {
    /// Input and output prices in USD per million tokens.
    pub fn new(input: f64, output: f64) -> Self {
        ModelPrice {
            input,
            output,
            cached_input: None,
            cache_write: None,
        }
    }

    /// Sets the price of cached input tokens.
    pub fn with_cached_input(mut self, cached_input: f64) -> Self {
        self.cached_input = Some(cached_input);
        self
    }

    /// Sets the price of input tokens written to the prompt cache.
    pub fn with_cache_write(mut self, cache_write: f64) -> Self {
        self.cache_write = Some(cache_write);
        self
    }
}
