//! What a model costs: [`ModelPrice`] per million tokens, and [`PriceTable`], which finds the price of a
//! model id and turns a [`Usage`] into US dollars.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Usage;

/// Tokens per unit of a [`ModelPrice`].
const PER: f64 = 1_000_000.0;

/// The price of one model in US dollars per million tokens.
///
/// In config files: `price = { input = 2.5, output = 10.0, cached_input = 1.25 }`.
///
/// ```
/// use twelve_factor_ai::llm::{ModelPrice, Usage};
///
/// let price = ModelPrice::new(2.5, 10.0).with_cached_input(1.25);
/// assert_eq!(price.cached_input, Some(1.25));
///
/// // 1,000 input tokens of which 400 came from the prompt cache, and 200 output tokens.
/// let usage = Usage {
///     input_tokens: Some(1_000),
///     cached_input_tokens: Some(400),
///     output_tokens: Some(200),
///     ..Usage::default()
/// };
/// // (600 × 2.5 + 400 × 1.25 + 200 × 10) / 1,000,000
/// assert_eq!(price.cost(&usage), Some(0.004));
/// # Ok::<(), twelve_factor_ai::Error>(())
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

    /// What a chat call with this usage cost, in US dollars.
    ///
    /// `input_tokens` includes the cached and cache-creation tokens (see [`Usage`]), so the uncached part is
    /// `input − cached − cache_creation` (never below zero), and
    ///
    /// ```text
    /// cost = (uncached × input + cached × cached_input + cache_creation × cache_write + output × output) / 1e6
    /// ```
    ///
    /// where a missing `cached_input` or `cache_write` price is the input price, and missing cached or
    /// cache-creation counts are zero. Reasoning tokens are part of `output_tokens` and billed as output.
    ///
    /// `None` when the input or the output count is unknown: a cost is never made up from missing data.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        let input = usage.input_tokens?;
        let output = usage.output_tokens?;
        let cached = usage.cached_input_tokens.unwrap_or(0);
        let created = usage.cache_creation_input_tokens.unwrap_or(0);
        let uncached = input.saturating_sub(cached).saturating_sub(created);
        // One division at the end keeps round prices and counts exact.
        let sum = tokens(uncached) * self.input
            + tokens(cached) * self.cached_input.unwrap_or(self.input)
            + tokens(created) * self.cache_write.unwrap_or(self.input)
            + tokens(output) * self.output;
        Some(sum / PER)
    }

    /// What embedding the input tokens of `usage` cost, in US dollars: input tokens × input price.
    /// `None` when the input count is unknown.
    ///
    /// ```
    /// use twelve_factor_ai::llm::{ModelPrice, Usage};
    ///
    /// let price = ModelPrice::new(0.02, 0.0);
    /// let usage = Usage { input_tokens: Some(50_000), ..Usage::default() };
    /// assert_eq!(price.input_cost(&usage), Some(0.001));
    /// ```
    pub fn input_cost(&self, usage: &Usage) -> Option<f64> {
        Some(tokens(usage.input_tokens?) * self.input / PER)
    }
}

/// A token count as a float; exact below 2^53 tokens, far beyond any call.
#[allow(clippy::cast_precision_loss)]
fn tokens(n: u64) -> f64 {
    n as f64
}

/// One priced model: its price and, when known, the provider the price is for.
#[derive(Debug, Clone, PartialEq)]
struct Priced {
    price: ModelPrice,
    provider: Option<String>,
}

/// Prices by model id: where a [`Cost`](crate::layer::cost::Cost) wrapper looks up what each answer cost.
///
/// # Where prices come from
///
/// - The host's own model config: [`insert`](PriceTable::insert) (or [`with_price`](PriceTable::with_price)).
///   An insert replaces what the table held for that id.
/// - LiteLLM's `model_prices_and_context_window.json`:
///   [`PriceTable::from_litellm_json`] / [`PriceTable::from_litellm_file`].
/// - [`merge`](PriceTable::merge) joins two tables; **the merged-in table wins** on ids both have. So
///   load LiteLLM's file first and merge (or insert) the host's prices into it: the host's config always
///   wins over the file.
///
/// # How a model id is found ([`lookup`](PriceTable::lookup))
///
/// 1. The id exactly as given.
/// 2. An [alias](PriceTable::alias) the table was told about, resolved by rules 1, 3 and 4.
/// 3. For an id with a provider prefix (`anthropic/claude-…`, `openai/gpt-…`), the id without it, when the
///    prefix names the provider that answered or the provider the table's entry is for.
/// 4. The id with the answering provider's name put in front (`claude-…` from provider `anthropic` finds
///    `anthropic/claude-…`).
///
/// Nothing else: a dated snapshot that is not in the table (`gpt-4o-2024-11-20` when only `gpt-4o` is)
/// is **not** priced as its undated alias, because snapshots of one alias have had different prices. Say
/// so explicitly with [`alias`](PriceTable::alias) when they share one.
///
/// ```
/// use twelve_factor_ai::llm::{ModelPrice, PriceTable, Usage};
///
/// let mut prices = PriceTable::new()
///     .with_price("gpt-4o-2024-08-06", ModelPrice::new(2.5, 10.0).with_cached_input(1.25))
///     .with_price("claude-sonnet-4-5-20250929", ModelPrice::new(3.0, 15.0));
/// prices.alias("gpt-4o", "gpt-4o-2024-08-06");
///
/// let usage = Usage { input_tokens: Some(2_000), output_tokens: Some(500), ..Usage::default() };
/// assert_eq!(prices.cost("gpt-4o", &usage), Some(0.01));
/// assert_eq!(prices.cost("gpt-4o-2024-11-20", &usage), None); // not in the table, not guessed
/// assert!(prices.lookup("anthropic/claude-sonnet-4-5-20250929", Some("anthropic")).is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    prices: HashMap<String, Priced>,
    aliases: HashMap<String, String>,
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> Self {
        PriceTable::default()
    }

    /// Sets the price of `model`, replacing any price the table held for that id (the host's config wins
    /// over a loaded file). Returns the replaced price.
    pub fn insert(&mut self, model: impl Into<String>, price: ModelPrice) -> Option<ModelPrice> {
        self.prices
            .insert(
                model.into(),
                Priced {
                    price,
                    provider: None,
                },
            )
            .map(|p| p.price)
    }

    /// [`insert`](PriceTable::insert), for building a table in one expression.
    pub fn with_price(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.insert(model, price);
        self
    }

    /// Sets a price and the provider it is for (LiteLLM's `litellm_provider`), which lets
    /// `provider/model` ids find it.
    pub(crate) fn insert_for_provider(
        &mut self,
        model: String,
        provider: Option<String>,
        price: ModelPrice,
    ) {
        self.prices.insert(model, Priced { price, provider });
    }

    /// Prices `model` as `target`: for a dated snapshot billed like its alias, or a deployment name
    /// (`my-gpt4o-deployment`) that runs a listed model. An exact price for `model` still wins.
    pub fn alias(&mut self, model: impl Into<String>, target: impl Into<String>) {
        self.aliases.insert(model.into(), target.into());
    }

    /// [`alias`](PriceTable::alias), for building a table in one expression.
    pub fn with_alias(mut self, model: impl Into<String>, target: impl Into<String>) -> Self {
        self.alias(model, target);
        self
    }

    /// Adds every price and alias of `other`; on ids both tables have, **`other` wins** (as an
    /// [`insert`](PriceTable::insert) would).
    pub fn merge(&mut self, other: PriceTable) {
        self.prices.extend(other.prices);
        self.aliases.extend(other.aliases);
    }

    /// The price stored under exactly this id (no alias, no prefix rules).
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model).map(|p| &p.price)
    }

    /// The price of `model` as answered by `provider` (`gen_ai.provider.name`, when known), by the
    /// lookup rules of the [type docs](PriceTable).
    pub fn lookup(&self, model: &str, provider: Option<&str>) -> Option<&ModelPrice> {
        self.find(model, provider).or_else(|| {
            let target = self.aliases.get(model)?;
            self.find(target, provider)
        })
    }

    /// Rules 1, 3 and 4 of the lookup.
    fn find(&self, model: &str, provider: Option<&str>) -> Option<&ModelPrice> {
        if let Some(p) = self.prices.get(model) {
            return Some(&p.price);
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if let Some(p) = self.prices.get(rest) {
                if provider == Some(prefix) || p.provider.as_deref() == Some(prefix) {
                    return Some(&p.price);
                }
            }
        }
        let provider = provider.filter(|p| !p.is_empty())?;
        self.prices
            .get(&format!("{provider}/{model}"))
            .map(|p| &p.price)
    }

    /// What a call to `model` with this usage cost in US dollars ([`ModelPrice::cost`]); `None` when the
    /// table has no price for `model` or the usage lacks the input or output count.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.lookup(model, None)?.cost(usage)
    }

    /// How many ids have a price (aliases not counted).
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// Whether no id has a price.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// Every priced id with its price, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.prices.iter().map(|(id, p)| (id.as_str(), &p.price))
    }
}

impl<S: Into<String>> Extend<(S, ModelPrice)> for PriceTable {
    /// Inserts each price; later ones win, as with [`insert`](PriceTable::insert).
    fn extend<I: IntoIterator<Item = (S, ModelPrice)>>(&mut self, iter: I) {
        for (model, price) in iter {
            self.insert(model, price);
        }
    }
}

impl<S: Into<String>> FromIterator<(S, ModelPrice)> for PriceTable {
    fn from_iter<I: IntoIterator<Item = (S, ModelPrice)>>(iter: I) -> Self {
        let mut table = PriceTable::new();
        table.extend(iter);
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            ..Usage::default()
        }
    }

    #[test]
    fn plain_input_and_output() {
        let p = ModelPrice::new(2.5, 10.0);
        // (1,000 × 2.5 + 500 × 10) / 1e6
        assert_eq!(p.cost(&usage(1_000, 500)), Some(0.0075));
        assert_eq!(p.cost(&usage(0, 0)), Some(0.0));
    }

    #[test]
    fn cached_and_cache_creation_tokens_are_carved_out_of_input() {
        // Anthropic-like: input 3, cache read 0.3, cache write 3.75, output 15.
        let p = ModelPrice::new(3.0, 15.0)
            .with_cached_input(0.3)
            .with_cache_write(3.75);
        let u = Usage {
            input_tokens: Some(3_500),
            cached_input_tokens: Some(2_000),
            cache_creation_input_tokens: Some(500),
            output_tokens: Some(400),
            reasoning_tokens: Some(100),
        };
        // uncached 1,000 × 3 + 2,000 × 0.3 + 500 × 3.75 + 400 × 15 = 3,000 + 600 + 1,875 + 6,000 = 11,475
        assert_eq!(p.cost(&u), Some(0.011475));
    }

    #[test]
    fn missing_cache_prices_fall_back_to_the_input_price() {
        let p = ModelPrice::new(2.0, 8.0);
        let u = Usage {
            input_tokens: Some(1_000),
            cached_input_tokens: Some(600),
            cache_creation_input_tokens: Some(100),
            output_tokens: Some(250),
            reasoning_tokens: None,
        };
        // Every input token at 2: 1,000 × 2 + 250 × 8 = 4,000
        assert_eq!(p.cost(&u), Some(0.004));
    }

    #[test]
    fn counts_that_do_not_add_up_never_go_negative() {
        let p = ModelPrice::new(1.0, 1.0).with_cached_input(0.5);
        let u = Usage {
            input_tokens: Some(100),
            cached_input_tokens: Some(300),
            output_tokens: Some(0),
            ..Usage::default()
        };
        // Uncached saturates at 0; the 300 cached tokens are still billed at 0.5.
        assert_eq!(p.cost(&u), Some(0.00015));
    }

    #[test]
    fn unknown_counts_give_no_cost_never_zero() {
        let p = ModelPrice::new(2.5, 10.0);
        let only_input = Usage {
            input_tokens: Some(10),
            ..Usage::default()
        };
        let only_output = Usage {
            output_tokens: Some(10),
            ..Usage::default()
        };
        assert_eq!(p.cost(&only_input), None);
        assert_eq!(p.cost(&only_output), None);
        assert_eq!(p.cost(&Usage::default()), None);
        assert_eq!(p.input_cost(&only_output), None);
        assert_eq!(p.input_cost(&only_input), Some(0.000025));
    }

    #[test]
    fn lookup_exact_alias_and_prefixes() {
        let mut t = PriceTable::new()
            .with_price("gpt-4o-2024-08-06", ModelPrice::new(2.5, 10.0))
            .with_price("claude-haiku-4-5", ModelPrice::new(1.0, 5.0))
            .with_price("openai/gpt-oss-120b", ModelPrice::new(0.1, 0.5));
        t.insert_for_provider(
            "claude-sonnet-4-5".into(),
            Some("anthropic".into()),
            ModelPrice::new(3.0, 15.0),
        );
        t.alias("gpt-4o", "gpt-4o-2024-08-06");

        assert_eq!(t.lookup("gpt-4o-2024-08-06", None).unwrap().input, 2.5);
        assert_eq!(t.lookup("gpt-4o", None).unwrap().input, 2.5);
        // Not in the table and no alias: not guessed from the undated id.
        assert!(t.lookup("gpt-4o-2024-11-20", Some("openai")).is_none());

        // Prefix removed when it names the answering provider, or the entry's own provider.
        assert!(t.lookup("anthropic/claude-haiku-4-5", None).is_none());
        assert_eq!(
            t.lookup("anthropic/claude-haiku-4-5", Some("anthropic"))
                .unwrap()
                .input,
            1.0
        );
        assert_eq!(
            t.lookup("anthropic/claude-sonnet-4-5", None).unwrap().input,
            3.0
        );
        // Another provider's prefix is another provider's price: not taken.
        assert!(
            t.lookup("bedrock/claude-sonnet-4-5", Some("openai"))
                .is_none()
        );
        // Prefix added from the answering provider.
        assert_eq!(t.lookup("gpt-oss-120b", Some("openai")).unwrap().input, 0.1);
        assert!(t.lookup("gpt-oss-120b", None).is_none());
        assert!(t.lookup("gpt-oss-120b", Some("")).is_none());
        assert!(t.get("gpt-4o").is_none(), "get is exact only");
    }

    #[test]
    fn an_exact_price_wins_over_an_alias() {
        let t = PriceTable::new()
            .with_price("a", ModelPrice::new(1.0, 1.0))
            .with_price("b", ModelPrice::new(2.0, 2.0))
            .with_alias("a", "b");
        assert_eq!(t.lookup("a", None).unwrap().input, 1.0);
    }

    #[test]
    fn insert_and_merge_precedence() {
        let mut file = PriceTable::new()
            .with_price("m", ModelPrice::new(1.0, 2.0))
            .with_price("only-file", ModelPrice::new(5.0, 5.0));
        let host: PriceTable = [("m", ModelPrice::new(1.5, 2.5))].into_iter().collect();
        file.merge(host);
        assert_eq!(file.get("m"), Some(&ModelPrice::new(1.5, 2.5)));
        assert_eq!(file.len(), 2);
        let old = file.insert("m", ModelPrice::new(9.0, 9.0));
        assert_eq!(old, Some(ModelPrice::new(1.5, 2.5)));
        assert_eq!(file.cost("m", &usage(1_000_000, 0)), Some(9.0));
        assert_eq!(file.cost("unknown", &usage(1, 1)), None);
        assert_eq!(file.iter().count(), 2);
        assert!(!file.is_empty());
    }
}
