//! [`Catalog`]: model entries by provider, exact ids and family patterns, with the shipped data.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use toml::Spanned;

use super::ModelInfo;
use crate::{Error, Result};

/// The shipped catalog file (see the [module docs](super) for its sources).
const BUILTIN: &str = include_str!("builtin.toml");

/// Model entries by provider and model id: what each model accepts and costs.
///
/// - [`Catalog::builtin`] is the data shipped with the crate (see the [module docs](super) for where each
///   value comes from); [`Catalog::from_toml_str`] reads the same format; [`Catalog::from_litellm`]
///   imports LiteLLM's price file.
/// - [`insert`](Catalog::insert) replaces the entry of the same provider and model; [`merge`](Catalog::merge)
///   adds another catalog, **the other one winning**: load the shipped data first, then merge the host's
///   entries into it.
/// - [`lookup`](Catalog::lookup) finds the exact id first, then the longest family pattern that
///   [matches](ModelInfo::matches) it, under that provider only: an OpenAI-compatible server named
///   `ollama` never gets the entries of `openai`.
///
/// ```
/// use twelve_factor_ai::llm::catalog::{Catalog, ModelInfo, ModelKind, OutputTokensParam, Sampling};
///
/// let builtin = Catalog::builtin();
/// let gpt5 = builtin.lookup("openai", "gpt-5-2025-08-07").unwrap();
/// assert_eq!(gpt5.output_tokens_param, OutputTokensParam::MaxCompletionTokens);
/// assert_eq!(gpt5.sampling, Sampling::DefaultOnly);
/// assert!(builtin.lookup("ollama", "gpt-5").is_none()); // another provider's entries never apply
///
/// // The host's own entries win over the shipped ones.
/// let mut catalog = (*builtin).clone();
/// catalog.merge(Catalog::from_toml_str(r#"
///     [[model]]
///     provider = "vllm"
///     model = "qwen3-32b*"
///     context_window = 32768
///     tools = true
///     source = "our vLLM deployment, --max-model-len 32768"
/// "#)?);
/// let qwen = catalog.lookup("vllm", "qwen3-32b-awq").unwrap();
/// assert_eq!(qwen.context_window, Some(32_768));
///
/// // Longest pattern wins, exact beats pattern.
/// let mut c = Catalog::new();
/// c.insert(ModelInfo::new("openai", "gpt-4o*", ModelKind::Chat).with_context_window(1));
/// c.insert(ModelInfo::new("openai", "gpt-4o-mini*", ModelKind::Chat).with_context_window(2));
/// c.insert(ModelInfo::new("openai", "gpt-4o-mini-2024-07-18", ModelKind::Chat).with_context_window(3));
/// assert_eq!(c.lookup("openai", "gpt-4o-2024-08-06").unwrap().context_window, Some(1));
/// assert_eq!(c.lookup("openai", "gpt-4o-mini-tts").unwrap().context_window, Some(2));
/// assert_eq!(c.lookup("openai", "gpt-4o-mini-2024-07-18").unwrap().context_window, Some(3));
/// assert_eq!(c.len(), 3);
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Catalog {
    providers: HashMap<String, ProviderEntries>,
}

/// A summary: the built-in catalog has about a hundred entries, too many for a log line.
impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut providers: Vec<(&str, usize)> = self
            .providers
            .iter()
            .map(|(name, e)| (name.as_str(), e.len()))
            .collect();
        providers.sort_unstable();
        f.debug_struct("Catalog")
            .field("len", &self.len())
            .field("providers", &providers)
            .finish()
    }
}

/// The entries of one provider.
#[derive(Debug, Clone, Default)]
struct ProviderEntries {
    exact: HashMap<String, ModelInfo>,
    /// Longest pattern first, so the first match is the longest one.
    patterns: Vec<ModelInfo>,
}

impl ProviderEntries {
    fn len(&self) -> usize {
        self.exact.len() + self.patterns.len()
    }
}

/// The shape of a catalog file: `[[model]]` entries.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogDoc {
    #[serde(default)]
    model: Vec<Spanned<ModelInfo>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Catalog::default()
    }

    /// The catalog shipped with the crate, parsed once per process.
    ///
    /// The shipped file is checked by a unit test, so this never fails; if it ever did, the result is an
    /// empty catalog and one `tracing` error, never a panic.
    pub fn builtin() -> Arc<Catalog> {
        static BUILTIN_CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
        BUILTIN_CATALOG
            .get_or_init(|| match Catalog::parse(BUILTIN, "the built-in model catalog") {
                Ok(catalog) => Arc::new(catalog),
                Err(e) => {
                    tracing::error!(error = %e, "the built-in model catalog does not parse; using an empty catalog");
                    Arc::new(Catalog::new())
                }
            })
            .clone()
    }

    /// Parses a catalog in the shipped file's format: a TOML array of `[[model]]` tables, each a
    /// [`ModelInfo`] (see its docs for the fields).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the line and column of a syntax error,
    /// unknown field or wrong type, or the line of an invalid entry (empty provider or model, a `*`
    /// that is not last, a zero or inconsistent limit, a negative price) or of an entry given twice.
    pub fn from_toml_str(text: &str) -> Result<Catalog> {
        Catalog::parse(text, "model catalog")
    }

    fn parse(text: &str, origin: &str) -> Result<Catalog> {
        let doc: CatalogDoc = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            Error::config(match e.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    format!("{origin}: line {line}, column {column}: {message}")
                }
                None => format!("{origin}: {message}"),
            })
        })?;
        let mut catalog = Catalog::new();
        let mut lines: HashMap<(String, String), usize> = HashMap::new();
        for spanned in doc.model {
            let (line, _) = line_column(text, spanned.span().start);
            let info = spanned.into_inner();
            if let Err(problem) = check(&info) {
                return Err(Error::config(format!(
                    "{origin}: line {line}: {problem}; fix the entry"
                )));
            }
            match lines.entry((info.provider.clone(), info.model.clone())) {
                Entry::Occupied(first) => {
                    return Err(Error::config(format!(
                        "{origin}: line {line}: {}/{} is already listed at line {}; keep one entry",
                        info.provider,
                        info.model,
                        first.get()
                    )));
                }
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
            catalog.insert(info);
        }
        Ok(catalog)
    }

    /// Adds `info`, replacing the entry of the same provider and model (id or pattern).
    pub fn insert(&mut self, info: ModelInfo) {
        let entries = self.providers.entry(info.provider.clone()).or_default();
        if !info.is_pattern() {
            entries.exact.insert(info.model.clone(), info);
            return;
        }
        if let Some(same) = entries.patterns.iter_mut().find(|p| p.model == info.model) {
            *same = info;
            return;
        }
        // Keep longest first; equal lengths cannot both match one id unless they are the same pattern.
        let at = entries
            .patterns
            .iter()
            .position(|p| p.model.len() < info.model.len())
            .unwrap_or(entries.patterns.len());
        entries.patterns.insert(at, info);
    }

    /// [`insert`](Catalog::insert), for building a catalog in one expression.
    pub fn with(mut self, info: ModelInfo) -> Self {
        self.insert(info);
        self
    }

    /// Adds every entry of `other`; on the same provider and model, **`other` wins**.
    pub fn merge(&mut self, other: Catalog) {
        for (_, entries) in other.providers {
            for info in entries.exact.into_values().chain(entries.patterns) {
                self.insert(info);
            }
        }
    }

    /// The entry for `model` as served by `provider`: the exact id, else the longest family pattern
    /// that [matches](ModelInfo::matches) it, else `None`. Only `provider`'s own entries are searched.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&ModelInfo> {
        let entries = self.providers.get(provider)?;
        entries
            .exact
            .get(model)
            .or_else(|| entries.patterns.iter().find(|p| p.matches(model)))
    }

    /// How many entries (exact ids and patterns) the catalog has.
    pub fn len(&self) -> usize {
        self.providers.values().map(ProviderEntries::len).sum()
    }

    /// Whether the catalog has no entry.
    pub fn is_empty(&self) -> bool {
        self.providers.values().all(|e| e.len() == 0)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &ModelInfo> {
        self.providers
            .values()
            .flat_map(|e| e.exact.values().chain(e.patterns.iter()))
    }
}

/// What is wrong with an entry, if anything (shared by catalog files and model configs).
pub(crate) fn check(info: &ModelInfo) -> std::result::Result<(), String> {
    let name = format!("{}/{}", info.provider, info.model);
    if info.provider.trim().is_empty() {
        return Err(format!("model {:?} has an empty provider", info.model));
    }
    if info.provider.chars().any(char::is_whitespace) {
        return Err(format!(
            "provider {:?} contains whitespace; use the provider's name (openai, anthropic, ollama, ...)",
            info.provider
        ));
    }
    if info.model.is_empty() {
        return Err(format!(
            "an entry of provider {} has an empty model",
            info.provider
        ));
    }
    if info.model.trim_end_matches('*').contains('*') || info.model.ends_with("**") {
        return Err(format!(
            "{name}: `*` may only end a family pattern (`gpt-5*`)"
        ));
    }
    if info.context_window == Some(0) {
        return Err(format!("{name}: context_window must be greater than 0"));
    }
    if info.max_input_tokens == Some(0) {
        return Err(format!("{name}: max_input_tokens must be greater than 0"));
    }
    if info.max_output_tokens == Some(0) {
        return Err(format!("{name}: max_output_tokens must be greater than 0"));
    }
    if let Some(window) = info.context_window {
        let limits = [
            ("max_input_tokens", info.max_input_tokens),
            ("max_output_tokens", info.max_output_tokens),
        ];
        for (field, limit) in limits {
            if let Some(n) = limit.filter(|&n| n > window) {
                return Err(format!(
                    "{name}: {field} {n} is larger than context_window {window}"
                ));
            }
        }
    }
    if let Some(price) = &info.price {
        let prices = [
            ("input", Some(price.input)),
            ("output", Some(price.output)),
            ("cached_input", price.cached_input),
            ("cache_write", price.cache_write),
        ];
        for (field, value) in prices {
            if let Some(v) = value {
                if !v.is_finite() || v < 0.0 {
                    return Err(format!("{name}: price.{field} {v} is not a price"));
                }
            }
        }
    }
    Ok(())
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn the_shipped_file_parses() {
        let catalog = Catalog::parse(BUILTIN, "builtin.toml").unwrap();
        assert!(!catalog.is_empty());
        assert_eq!(catalog.len(), Catalog::builtin().len());
    }

    #[test]
    fn errors_name_the_line() {
        let err =
            Catalog::from_toml_str("[[model]]\nprovider = \"openai\"\nmodel = \"x\"\ncontxt = 1\n")
                .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("line 4"), "{}", err.message());
        assert!(err.message().contains("contxt"), "{}", err.message());

        let err = Catalog::from_toml_str(
            "[[model]]\nprovider = \"openai\"\nmodel = \"x\"\n\n[[model]]\nprovider = \"openai\"\nmodel = \"x\"\n",
        )
        .unwrap_err();
        assert!(err.message().contains("line 5"), "{}", err.message());
        assert!(
            err.message().contains("already listed at line 1"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn line_column_counts_from_one() {
        let text = "ab\ncd\né";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (2, 2));
        assert_eq!(line_column(text, 7), (3, 1)); // inside `é`: its start
        assert_eq!(line_column(text, 99), (3, 2));
    }
}
