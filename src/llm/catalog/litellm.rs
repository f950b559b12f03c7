//! Catalog entries from LiteLLM's `model_prices_and_context_window.json` ([`Catalog::from_litellm`]).

use super::{Catalog, ModelInfo, ModelKind, Sampling, table};
use crate::llm::{LiteLlmEntry, LiteLlmFile};

/// What a catalog entry made from LiteLLM's file says about its origin.
const SOURCE: &str = "LiteLLM model_prices_and_context_window.json";

impl Catalog {
    /// Entries for every chat and embedding model of LiteLLM's `model_prices_and_context_window.json`,
    /// read with [`LiteLlmFile`]; merge them into the [built-in catalog](Catalog::builtin) to know the
    /// models it does not list yet.
    ///
    /// Each entry is keyed by the file's `litellm_provider` (`openai`, `anthropic`, `azure`, ...) and its
    /// id, without a `provider/` prefix that repeats that provider. The file has limits, prices and
    /// capabilities but not the request rules (sampling, output-token parameter, system prompt), so each
    /// entry **starts from the built-in entry that covers its id** (exact or family pattern; for example
    /// a new `gpt-5-…` snapshot gets the GPT-5 rules) or from [`ModelInfo::new`]'s defaults, and then takes
    /// from the file what the file has:
    ///
    /// - `max_input_tokens` → [`max_input_tokens`](ModelInfo::max_input_tokens) and `max_output_tokens`
    ///   → [`max_output_tokens`](ModelInfo::max_output_tokens), each only when it fits in the built-in
    ///   context window (LiteLLM lists some long-context beta limits as the input limit). The context
    ///   window itself stays the built-in one: LiteLLM does not give it apart from the input limit.
    /// - [`LiteLlmEntry::price`] → [`price`](ModelInfo::price).
    /// - `supports_function_calling`, `supports_parallel_function_calling`, `supports_response_schema`,
    ///   `supports_vision`, `supports_reasoning` → the capability flags, where the file says yes or no.
    /// - `supports_sampling_params: false` → [`Sampling::Rejected`] (a new Claude id the built-in data
    ///   does not cover yet still gets no temperature).
    ///
    /// Entries of other modes (image, audio, `responses`-only models, ...), without a provider, or that
    /// [`Catalog::from_toml_str`] would refuse (a limit of zero, an id with `*`) are left out.
    ///
    /// ```
    /// use twelve_factor_ai::llm::LiteLlmFile;
    /// use twelve_factor_ai::llm::catalog::{Catalog, OutputTokensParam, Sampling};
    ///
    /// let file = LiteLlmFile::parse(r#"{
    ///     "gpt-5-2026-01-01": {
    ///         "litellm_provider": "openai", "mode": "chat",
    ///         "max_input_tokens": 272000, "max_output_tokens": 128000,
    ///         "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
    ///         "supports_function_calling": true, "supports_vision": true
    ///     },
    ///     "ollama/llama3.1": { "litellm_provider": "ollama", "mode": "chat", "max_input_tokens": 8192 },
    ///     "dall-e-3": { "litellm_provider": "openai", "mode": "image_generation" }
    /// }"#)?;
    /// let imported = Catalog::from_litellm(&file);
    /// assert_eq!(imported.len(), 2);
    ///
    /// let snapshot = imported.lookup("openai", "gpt-5-2026-01-01").unwrap();
    /// assert_eq!(snapshot.price.unwrap().input, 1.25);
    /// // The request rules come from the built-in gpt-5* family.
    /// assert_eq!(snapshot.output_tokens_param, OutputTokensParam::MaxCompletionTokens);
    /// assert_eq!(snapshot.sampling, Sampling::DefaultOnly);
    ///
    /// assert_eq!(imported.lookup("ollama", "llama3.1").unwrap().max_input_tokens, Some(8192));
    ///
    /// // The shipped catalog plus LiteLLM's newer ids; the file wins on ids both have.
    /// let mut catalog = (*Catalog::builtin()).clone();
    /// catalog.merge(imported);
    /// # Ok::<(), twelve_factor_ai::Error>(())
    /// ```
    pub fn from_litellm(file: &LiteLlmFile) -> Catalog {
        let builtin = Catalog::builtin();
        let mut catalog = Catalog::new();
        for (id, entry) in file.entries() {
            if let Some(info) = import(id, entry, &builtin) {
                catalog.insert(info);
            }
        }
        catalog
    }
}

/// The catalog entry for one LiteLLM entry, or `None` when it is not a usable chat or embedding model.
fn import(id: &str, entry: &LiteLlmEntry, base: &Catalog) -> Option<ModelInfo> {
    let kind = match entry.mode.as_deref()? {
        "chat" => ModelKind::Chat,
        "embedding" => ModelKind::Embedding,
        _ => return None,
    };
    let provider = entry.litellm_provider.as_deref()?;
    let model = id
        .strip_prefix(provider)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(id);
    if model.contains('*') {
        return None;
    }
    let (mut info, source) = match base.lookup(provider, model) {
        Some(known) => {
            let mut info = known.clone();
            let source = format!(
                "{SOURCE}; request rules from the built-in entry {}",
                known.model
            );
            info.model = model.to_owned();
            info.kind = kind;
            (info, source)
        }
        None => (ModelInfo::new(provider, model, kind), SOURCE.to_owned()),
    };
    info.source = Some(source);
    let fits = |n: u64| {
        u32::try_from(n)
            .ok()
            .filter(|&n| info.context_window.is_none_or(|window| n <= window))
    };
    if let Some(n) = entry.max_input_tokens.and_then(fits) {
        info.max_input_tokens = Some(n);
    }
    if let Some(n) = entry.max_output_tokens.and_then(fits) {
        info.max_output_tokens = Some(n);
    }
    if let Some(price) = entry.price() {
        info.price = Some(price);
    }
    let flags = [
        (&mut info.tools, entry.supports_function_calling),
        (
            &mut info.parallel_tool_calls,
            entry.supports_parallel_function_calling,
        ),
        (&mut info.json_schema, entry.supports_response_schema),
        (&mut info.vision, entry.supports_vision),
        (&mut info.reasoning, entry.supports_reasoning),
    ];
    for (flag, value) in flags {
        if let Some(value) = value {
            *flag = value;
        }
    }
    // The file can only say "none at all"; "the default value only" (OpenAI's reasoning models) stays
    // the built-in rule.
    if entry.supports_sampling_params == Some(false) {
        info.sampling = Sampling::Rejected;
    }
    table::check(&info).ok().map(|()| info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::catalog::{OutputTokensParam, SystemPrompt};

    fn file(json: &str) -> LiteLlmFile {
        LiteLlmFile::parse(json).unwrap()
    }

    #[test]
    fn the_built_in_window_bounds_the_file_limits() {
        // LiteLLM lists Sonnet 4's long-context beta limit as its input limit.
        let f = file(
            r#"{"claude-sonnet-4-20250514": {"litellm_provider": "anthropic", "mode": "chat",
                "max_input_tokens": 1000000, "max_output_tokens": 64000,
                "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05}}"#,
        );
        let c = Catalog::from_litellm(&f);
        let sonnet = c.lookup("anthropic", "claude-sonnet-4-20250514").unwrap();
        assert_eq!(sonnet.context_window, Some(200_000));
        assert_eq!(sonnet.max_input_tokens, None);
        assert_eq!(sonnet.max_output_tokens, Some(64_000));
        assert_eq!(sonnet.system_prompt, SystemPrompt::TopLevel);
        assert!(
            sonnet
                .source
                .as_deref()
                .unwrap()
                .contains("claude-sonnet-4-20250514")
        );
    }

    #[test]
    fn unknown_models_get_the_defaults_and_the_file_flags() {
        let f = file(
            r#"{"vllm/qwen3": {"litellm_provider": "vllm", "mode": "chat", "max_input_tokens": 32768,
                "supports_function_calling": true, "supports_vision": false},
                "openai/text-embedding-9": {"litellm_provider": "openai", "mode": "embedding",
                "max_input_tokens": 8191, "input_cost_per_token": 2e-08}}"#,
        );
        let c = Catalog::from_litellm(&f);
        let qwen = c.lookup("vllm", "qwen3").unwrap();
        assert!(qwen.tools && !qwen.vision);
        assert_eq!(qwen.sampling, Sampling::Accepted);
        assert_eq!(qwen.output_tokens_param, OutputTokensParam::MaxTokens);
        assert_eq!(
            qwen.source.as_deref(),
            Some("LiteLLM model_prices_and_context_window.json")
        );
        let emb = c.lookup("openai", "text-embedding-9").unwrap();
        assert_eq!(emb.kind, ModelKind::Embedding);
        assert_eq!(emb.price.unwrap().input, 0.02);
    }

    #[test]
    fn a_model_without_sampling_parameters_gets_none() {
        // A Claude id the built-in data does not know yet; LiteLLM says it takes no sampling parameters.
        let f = file(
            r#"{"claude-future-9": {"litellm_provider": "anthropic", "mode": "chat",
                "supports_sampling_params": false},
                "claude-older-1": {"litellm_provider": "anthropic", "mode": "chat",
                "supports_sampling_params": true}}"#,
        );
        let c = Catalog::from_litellm(&f);
        let future = c.lookup("anthropic", "claude-future-9").unwrap();
        assert_eq!(future.sampling, Sampling::Rejected);
        let older = c.lookup("anthropic", "claude-older-1").unwrap();
        assert_eq!(older.sampling, Sampling::Accepted);
    }

    #[test]
    fn unusable_entries_are_left_out() {
        let f = file(
            r#"{"no-provider": {"mode": "chat"},
                "no-mode": {"litellm_provider": "openai"},
                "o1-pro": {"litellm_provider": "openai", "mode": "responses"},
                "zero": {"litellm_provider": "openai", "mode": "chat", "max_output_tokens": 0},
                "star*": {"litellm_provider": "openai", "mode": "chat"},
                "fallback_generalizations": {"rules": []}}"#,
        );
        assert!(Catalog::from_litellm(&f).is_empty());
    }
}
