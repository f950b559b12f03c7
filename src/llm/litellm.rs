//! A reader for LiteLLM's `model_prices_and_context_window.json`: the widely used, community-maintained
//! list of models with their prices, context windows and capabilities.
//!
//! The file is a JSON object from model id to entry. Its first key, `sample_spec`, documents the format
//! (with strings where the real entries have numbers) and is skipped. Prices in the file are US dollars per
//! **token**; [`ModelPrice`] is per million tokens, so they are multiplied by 10⁶ (and rounded to 10⁻⁹
//! dollars per million, which drops the binary noise of figures like `3e-06` without changing any real
//! price).
//!
//! # Entries that do not parse
//!
//! The file has about two thousand entries and changes every week; one entry with a field of the wrong
//! type (a string where a number belongs) must not take every price down with it. Such an entry is
//! **skipped and reported**: [`LiteLlmFile::skipped`] lists each skipped id with the reason, and
//! [`PriceTable::from_litellm_json`] logs one `tracing` warning with their count and first ids. Fields
//! this reader does not know are ignored. A file that is not JSON, or not an object at the top, is an
//! [`ErrorKind::Config`](crate::ErrorKind::Config) error that names the line and column.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{ModelPrice, PriceTable};
use crate::{Error, Result};

/// The key of the entry that documents the format rather than a model.
const SAMPLE_SPEC: &str = "sample_spec";

/// How many skipped ids the warning of [`PriceTable::from_litellm_json`] names.
const WARN_IDS: usize = 5;

/// One model of LiteLLM's file: its prices, limits and capabilities.
///
/// Prices are as in the file, US dollars per **token**; [`price`](LiteLlmEntry::price) converts them. A
/// capability the file does not mention is `None` (LiteLLM itself reads a missing flag as "no").
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiteLlmEntry {
    /// The provider the entry is for, in LiteLLM's names: `openai`, `anthropic`, `azure`, `bedrock`,
    /// `vertex_ai-language-models`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub litellm_provider: Option<String>,
    /// What the model does: `chat`, `completion`, `embedding`, `image_generation`, `audio_transcription`,
    /// `audio_speech`, `moderation`, `rerank`, `responses`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Legacy limit: the output limit when the provider gives one, else the input limit.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_tokens: Option<u64>,
    /// The context window for input tokens.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_input_tokens: Option<u64>,
    /// The most tokens one answer may have.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_output_tokens: Option<u64>,
    /// The length of an embedding vector (embedding models).
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_vector_size: Option<u64>,
    /// USD per input token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// USD per output token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// USD per input token read from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<f64>,
    /// USD per input token written to the prompt cache (Anthropic's 5-minute cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<f64>,
    /// USD per input token written to the prompt cache with a one-hour lifetime (Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost_above_1hr: Option<f64>,
    /// USD per reasoning token, for the few models that bill them apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_reasoning_token: Option<f64>,
    /// USD per input token once the prompt passes 200k tokens (long-context pricing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token_above_200k_tokens: Option<f64>,
    /// USD per output token once the prompt passes 200k tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token_above_200k_tokens: Option<f64>,
    /// USD per input token through the provider's batch API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token_batches: Option<f64>,
    /// USD per output token through the provider's batch API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token_batches: Option<f64>,
    /// The model can call tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_function_calling: Option<bool>,
    /// The model can call several tools in one answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_parallel_function_calling: Option<bool>,
    /// The model accepts a tool choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_tool_choice: Option<bool>,
    /// The model reads images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_vision: Option<bool>,
    /// The model reads PDF documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_pdf_input: Option<bool>,
    /// The model reads audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_audio_input: Option<bool>,
    /// The model answers with audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_audio_output: Option<bool>,
    /// The model follows a JSON schema for its answer (structured output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_response_schema: Option<bool>,
    /// The model reasons before answering (reasoning tokens, thinking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_reasoning: Option<bool>,
    /// The provider caches prompts of this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_prompt_caching: Option<bool>,
    /// Whether the model takes sampling parameters (`temperature`, `top_p`) at all; `false` for Anthropic's
    /// models from Claude Opus 4.7 on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_sampling_params: Option<bool>,
    /// The model takes a system message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_system_messages: Option<bool>,
    /// The model continues an answer the request started (assistant prefill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_assistant_prefill: Option<bool>,
    /// The model can search the web.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_web_search: Option<bool>,
    /// What the model reads: `text`, `image`, `audio`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_modalities: Vec<String>,
    /// What the model writes: `text`, `image`, `audio`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_output_modalities: Vec<String>,
    /// The provider's endpoints that serve the model (`/v1/chat/completions`, `/v1/responses`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_endpoints: Vec<String>,
    /// When the provider retires the model, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_date: Option<String>,
}

/// A token count: an integer, or a float with no fraction (`128000.0`).
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(u) = n.as_u64() {
        return Ok(Some(u));
    }
    match n.as_f64() {
        // Checked integral and in range, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => {
            Ok(Some(f as u64))
        }
        _ => Err(D::Error::custom(format!(
            "expected a token count, found {n}"
        ))),
    }
}

/// USD per token to USD per million tokens, rounded to 10⁻⁹ (see the [module docs](self)).
fn per_million(per_token: f64) -> f64 {
    (per_token * 1e15).round() / 1e9
}

impl LiteLlmEntry {
    /// The entry's token prices as a [`ModelPrice`] (per million tokens), when it has them: an input and
    /// an output price per token, or for an embedding model (`mode = "embedding"`) an input price alone.
    /// Entries priced per image, per second or only by tiers have none.
    ///
    /// Long-context, batch, one-hour cache and reasoning prices stay in the entry's own fields: a
    /// [`ModelPrice`] carries the base prices only.
    pub fn price(&self) -> Option<ModelPrice> {
        let input = self.input_cost_per_token?;
        let output = match self.output_cost_per_token {
            Some(output) => output,
            None if self.mode.as_deref() == Some("embedding") => 0.0,
            None => return None,
        };
        Some(ModelPrice {
            input: per_million(input),
            output: per_million(output),
            cached_input: self.cache_read_input_token_cost.map(per_million),
            cache_write: self.cache_creation_input_token_cost.map(per_million),
        })
    }

    /// Why the entry cannot be used, if a price in it is negative or not finite once converted.
    fn check(&self) -> std::result::Result<(), String> {
        let prices = [
            ("input_cost_per_token", self.input_cost_per_token),
            ("output_cost_per_token", self.output_cost_per_token),
            (
                "cache_read_input_token_cost",
                self.cache_read_input_token_cost,
            ),
            (
                "cache_creation_input_token_cost",
                self.cache_creation_input_token_cost,
            ),
        ];
        for (name, value) in prices {
            if let Some(v) = value {
                if v < 0.0 || !per_million(v).is_finite() {
                    return Err(format!("{name}: {v} is not a price"));
                }
            }
        }
        Ok(())
    }
}

/// An entry of the file that was skipped, and why.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The model id (the entry's key).
    pub id: String,
    /// What was wrong, naming the field: `max_input_tokens: invalid type: string "lots", expected a JSON
    /// number`.
    pub reason: String,
}

/// LiteLLM's `model_prices_and_context_window.json`, parsed: every entry by model id, and the entries that
/// were skipped.
///
/// ```
/// use twelve_factor_ai::llm::LiteLlmFile;
///
/// let file = LiteLlmFile::parse(r#"{
///     "sample_spec": { "max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0 },
///     "gpt-4o-mini": {
///         "litellm_provider": "openai", "mode": "chat",
///         "max_input_tokens": 128000, "max_output_tokens": 16384,
///         "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,
///         "cache_read_input_token_cost": 7.5e-08, "supports_vision": true
///     },
///     "broken-model": { "input_cost_per_token": "cheap" }
/// }"#)?;
///
/// let mini = file.get("gpt-4o-mini").unwrap();
/// assert_eq!(mini.max_input_tokens, Some(128_000));
/// assert_eq!(mini.supports_vision, Some(true));
/// let price = mini.price().unwrap();
/// assert_eq!((price.input, price.output, price.cached_input), (0.15, 0.6, Some(0.075)));
///
/// assert_eq!(file.len(), 1); // sample_spec is not a model; broken-model was skipped
/// assert_eq!(file.skipped()[0].id, "broken-model");
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiteLlmFile {
    entries: BTreeMap<String, LiteLlmEntry>,
    skipped: Vec<SkippedEntry>,
}

impl LiteLlmFile {
    /// Parses the file's text.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the text is not JSON or not an object at the
    /// top, with the line and column. A bad entry is not an error: it is [skipped](LiteLlmFile::skipped).
    pub fn parse(json: &str) -> Result<Self> {
        let object: Map<String, Value> = serde_json::from_str(json).map_err(|e| {
            Error::config(format!(
                "the LiteLLM price file is not a JSON object of model entries (line {}, column {}): {e}; \
                 use an unmodified model_prices_and_context_window.json",
                e.line(),
                e.column()
            ))
            .with_source(e)
        })?;
        let mut file = LiteLlmFile::default();
        for (id, value) in object {
            if id == SAMPLE_SPEC {
                continue;
            }
            match entry(value) {
                Ok(entry) => {
                    file.entries.insert(id, entry);
                }
                Err(reason) => file.skipped.push(SkippedEntry { id, reason }),
            }
        }
        Ok(file)
    }

    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the file cannot be read, or as
    /// [`parse`](LiteLlmFile::parse).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read the LiteLLM price file {}: {e}; check the path",
                path.display()
            ))
            .with_source(e)
        })?;
        Self::parse(&text)
    }

    /// The entry of this model id, exactly as the file spells it.
    pub fn get(&self, id: &str) -> Option<&LiteLlmEntry> {
        self.entries.get(id)
    }

    /// Every entry that parsed, by model id.
    pub fn entries(&self) -> &BTreeMap<String, LiteLlmEntry> {
        &self.entries
    }

    /// How many entries parsed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry parsed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries that were skipped because a field had the wrong type or a price was negative, in the
    /// file's order of keys (sorted).
    pub fn skipped(&self) -> &[SkippedEntry] {
        &self.skipped
    }

    /// A [`PriceTable`] of every entry that has token prices ([`LiteLlmEntry::price`]), each recorded with
    /// its `litellm_provider` so `provider/model` ids find it.
    pub fn price_table(&self) -> PriceTable {
        let mut table = PriceTable::new();
        for (id, entry) in &self.entries {
            if let Some(price) = entry.price() {
                table.insert_for_provider(id.clone(), entry.litellm_provider.clone(), price);
            }
        }
        table
    }
}

/// One entry, or why it cannot be used (naming the first field that is wrong).
fn entry(value: Value) -> std::result::Result<LiteLlmEntry, String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "expected an object of fields, found {}",
            kind(&value)
        ));
    };
    match serde_json::from_value::<LiteLlmEntry>(Value::Object(fields.clone())) {
        Ok(entry) => entry.check().map(|()| entry),
        // serde_json does not name the field; find it by parsing one field at a time (unknown fields
        // parse, so the first failure is a known field with the wrong type).
        Err(e) => Err(fields
            .into_iter()
            .find_map(|(name, v)| {
                let single = Value::Object(Map::from_iter([(name.clone(), v)]));
                serde_json::from_value::<LiteLlmEntry>(single)
                    .err()
                    .map(|e| format!("{name}: {e}"))
            })
            .unwrap_or_else(|| e.to_string())),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl PriceTable {
    /// The prices of LiteLLM's `model_prices_and_context_window.json` (see [`LiteLlmFile::price_table`]).
    ///
    /// Entries that do not parse are skipped, with one `tracing` warning that gives their count and first
    /// ids; use [`LiteLlmFile::parse`] to get every skipped id and reason. Insert or merge the host's own
    /// prices afterwards: they then win over the file.
    ///
    /// ```
    /// use twelve_factor_ai::llm::{ModelPrice, PriceTable, Usage};
    ///
    /// let mut prices = PriceTable::from_litellm_json(r#"{
    ///     "claude-haiku-4-5-20251001": {
    ///         "litellm_provider": "anthropic", "mode": "chat",
    ///         "input_cost_per_token": 1e-06, "output_cost_per_token": 5e-06,
    ///         "cache_read_input_token_cost": 1e-07, "cache_creation_input_token_cost": 1.25e-06
    ///     }
    /// }"#)?;
    /// assert_eq!(
    ///     prices.get("claude-haiku-4-5-20251001"),
    ///     Some(&ModelPrice::new(1.0, 5.0).with_cached_input(0.1).with_cache_write(1.25))
    /// );
    /// // The host's negotiated price wins over the file.
    /// prices.insert("claude-haiku-4-5-20251001", ModelPrice::new(0.8, 4.0));
    /// let usage = Usage { input_tokens: Some(10_000), output_tokens: Some(1_000), ..Usage::default() };
    /// assert_eq!(prices.cost("claude-haiku-4-5-20251001", &usage), Some(0.012));
    /// # Ok::<(), twelve_factor_ai::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`LiteLlmFile::parse`].
    pub fn from_litellm_json(json: &str) -> Result<PriceTable> {
        let file = LiteLlmFile::parse(json)?;
        warn_skipped(&file);
        Ok(file.price_table())
    }

    /// [`from_litellm_json`](PriceTable::from_litellm_json) on the file at `path`.
    ///
    /// # Errors
    /// As [`LiteLlmFile::read`].
    pub fn from_litellm_file(path: impl AsRef<Path>) -> Result<PriceTable> {
        let file = LiteLlmFile::read(path)?;
        warn_skipped(&file);
        Ok(file.price_table())
    }
}

fn warn_skipped(file: &LiteLlmFile) {
    let skipped = file.skipped();
    if skipped.is_empty() {
        return;
    }
    let first: Vec<&str> = skipped
        .iter()
        .take(WARN_IDS)
        .map(|s| s.id.as_str())
        .collect();
    tracing::warn!(
        skipped = skipped.len(),
        first = ?first,
        first_reason = skipped[0].reason.as_str(),
        "LiteLLM price file: {} entries skipped for malformed fields; those models have no price",
        skipped.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn per_token_prices_become_clean_per_million_prices() {
        for (per_token, per_million_expected) in [
            (3e-06, 3.0),
            (1.5e-05, 15.0),
            (7.5e-08, 0.075),
            (1.25e-06, 1.25),
            (2e-08, 0.02),
            (1.0003e-07, 0.10003),
            (0.0, 0.0),
        ] {
            assert_eq!(per_million(per_token), per_million_expected, "{per_token}");
        }
    }

    #[test]
    fn counts_accept_integral_floats_and_refuse_the_rest() {
        let e: LiteLlmEntry =
            serde_json::from_str(r#"{"max_tokens": 4096.0, "max_input_tokens": null}"#).unwrap();
        assert_eq!(e.max_tokens, Some(4096));
        assert_eq!(e.max_input_tokens, None);
        for bad in [
            r#"{"max_tokens": 1.5}"#,
            r#"{"max_tokens": -1}"#,
            r#"{"max_tokens": "8k"}"#,
        ] {
            assert!(serde_json::from_str::<LiteLlmEntry>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_entries_are_skipped_with_the_field_named() {
        let file = LiteLlmFile::parse(
            r#"{
                "good": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "mode": "chat"},
                "string-price": {"input_cost_per_token": "0.001", "output_cost_per_token": 2e-06},
                "negative": {"input_cost_per_token": -1e-06, "output_cost_per_token": 2e-06},
                "not-an-object": 42,
                "bad-flag": {"supports_vision": "yes", "some_future_field": {"x": 1}}
            }"#,
        )
        .unwrap();
        assert_eq!(file.len(), 1);
        let reasons: BTreeMap<&str, &str> = file
            .skipped()
            .iter()
            .map(|s| (s.id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 4);
        assert!(reasons["string-price"].starts_with("input_cost_per_token: invalid type: string"));
        assert!(reasons["negative"].starts_with("input_cost_per_token: -0.000001"));
        assert_eq!(
            reasons["not-an-object"],
            "expected an object of fields, found a number"
        );
        assert!(reasons["bad-flag"].starts_with("supports_vision: invalid type"));
    }

    #[test]
    fn bad_json_is_a_config_error_with_line_and_column() {
        let err =
            LiteLlmFile::parse("{\n  \"a\": {\n    \"mode\": \"chat\",,\n  }\n}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message().contains("line 3, column"),
            "{}",
            err.message()
        );
        let err = LiteLlmFile::parse("[1, 2]").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message().contains("line 1, column"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn which_entries_get_a_price() {
        let file = LiteLlmFile::parse(
            r#"{
                "emb": {"input_cost_per_token": 2e-08, "mode": "embedding"},
                "chat-no-output": {"input_cost_per_token": 2e-08, "mode": "chat"},
                "image": {"output_cost_per_image": 0.04, "mode": "image_generation"},
                "tiered": {"mode": "chat", "tiered_pricing": [{"input_cost_per_token": 1e-06}]}
            }"#,
        )
        .unwrap();
        assert_eq!(file.len(), 4);
        assert!(file.skipped().is_empty());
        let table = file.price_table();
        assert_eq!(table.len(), 1);
        assert_eq!(table.get("emb"), Some(&ModelPrice::new(0.02, 0.0)));
    }

    #[test]
    fn the_table_knows_each_entry_provider() {
        let table = PriceTable::from_litellm_json(
            r#"{"claude-x": {"litellm_provider": "anthropic", "input_cost_per_token": 1e-06,
                "output_cost_per_token": 5e-06}}"#,
        )
        .unwrap();
        assert!(table.lookup("anthropic/claude-x", None).is_some());
        assert!(table.lookup("openai/claude-x", None).is_none());
    }

    #[test]
    fn a_missing_file_is_a_config_error() {
        let err = LiteLlmFile::read("/nonexistent/model_prices.json").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("/nonexistent/model_prices.json"));
    }
}
