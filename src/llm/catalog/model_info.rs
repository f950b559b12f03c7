//! [`ModelInfo`]: what one model (or one documented family of models) accepts and costs, and the small
//! enums that describe the request rules of its API.

use serde::{Deserialize, Serialize};

use crate::llm::ModelPrice;

/// Which output-token parameter the API wants in a chat request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputTokensParam {
    /// `max_tokens`: Anthropic, OpenAI's older chat models and every OpenAI-compatible server.
    MaxTokens,
    /// `max_completion_tokens`: OpenAI's reasoning models (o-series, GPT-5), which refuse `max_tokens`.
    MaxCompletionTokens,
}

impl OutputTokensParam {
    /// The parameter's name on the wire: `max_tokens` or `max_completion_tokens`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputTokensParam::MaxTokens => "max_tokens",
            OutputTokensParam::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

/// Which sampling parameters (temperature, top_p, top_k; and presence/frequency penalties for OpenAI) the
/// model accepts.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// Any valid value.
    Accepted,
    /// Only the default value: OpenAI's o-series and GPT-5 take `temperature = 1` (and `top_p = 1`) and
    /// refuse anything else with a 400.
    DefaultOnly,
    /// Any value, even the default, is a 400: Anthropic's models from Claude Opus 4.7 on.
    Rejected,
}

impl Sampling {
    /// The value's name in catalog files: `accepted`, `default_only` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sampling::Accepted => "accepted",
            Sampling::DefaultOnly => "default_only",
            Sampling::Rejected => "rejected",
        }
    }
}

/// Where the system prompt goes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemPrompt {
    /// A message with role `system` (OpenAI's non-reasoning chat models, OpenAI-compatible servers).
    SystemRole,
    /// A message with role `developer` (OpenAI's o1 and later reasoning models; they also accept
    /// `system` and treat it as `developer`).
    DeveloperRole,
    /// The top-level `system` field of the request (Anthropic's Messages API).
    TopLevel,
}

impl SystemPrompt {
    /// The value's name in catalog files: `system_role`, `developer_role` or `top_level`.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemPrompt::SystemRole => "system_role",
            SystemPrompt::DeveloperRole => "developer_role",
            SystemPrompt::TopLevel => "top_level",
        }
    }
}

/// What the model is for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A chat (messages in, message out) model.
    Chat,
    /// An embedding model.
    Embedding,
}

/// The separators after which a family pattern's `*` may start matching (see [`ModelInfo::matches`]).
const SEPARATORS: &[char] = &['-', '_', ':', '@', '/'];

/// What one model (or a documented family pattern) accepts and costs: one entry of a
/// [`Catalog`](super::Catalog).
///
/// `model` is an exact id (`gpt-4o-2024-08-06`) or a family pattern ending in `*` (`gpt-5*`); see
/// [`matches`](ModelInfo::matches) for what a pattern covers.
///
/// In a catalog file (TOML), every field but `provider` and `model` may be left out; a missing field
/// takes the default of [`ModelInfo::new`]:
///
/// ```toml
/// [[model]]
/// provider = "openai"
/// model = "o3-2025-04-16"
/// kind = "chat"                                   # chat | embedding (default chat)
/// context_window = 200000                         # tokens, input and output together
/// # max_input_tokens = 150000                     # only when input is limited below the window
/// max_output_tokens = 100000
/// price = { input = 2.0, output = 8.0, cached_input = 0.5 }   # USD per million tokens
/// tools = true
/// parallel_tool_calls = true
/// json_schema = true
/// vision = true
/// reasoning = true
/// sampling = "default_only"                       # accepted | default_only | rejected
/// output_tokens_param = "max_completion_tokens"   # max_tokens | max_completion_tokens
/// system_prompt = "developer_role"                # system_role | developer_role | top_level
/// source = "https://platform.openai.com/docs/models/o3"
/// ```
///
/// In code:
///
/// ```
/// use twelve_factor_ai::llm::ModelPrice;
/// use twelve_factor_ai::llm::catalog::{ModelInfo, ModelKind, OutputTokensParam, Sampling, SystemPrompt};
///
/// let info = ModelInfo::new("openai", "my-gpt-5-finetune*", ModelKind::Chat)
///     .with_context_window(400_000)
///     .with_max_output_tokens(128_000)
///     .with_price(ModelPrice::new(1.25, 10.0))
///     .with_tools(true)
///     .with_reasoning(true)
///     .with_sampling(Sampling::DefaultOnly)
///     .with_output_tokens_param(OutputTokensParam::MaxCompletionTokens)
///     .with_system_prompt(SystemPrompt::DeveloperRole)
///     .with_source("our fine-tune of gpt-5-2025-08-07");
///
/// assert!(info.is_pattern());
/// assert!(info.matches("my-gpt-5-finetune-v2"));
/// assert!(!info.matches("my-gpt-5-finetuned"));
/// assert_eq!(info.output_tokens_param.as_str(), "max_completion_tokens");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The provider's name as its [`LlmProvider::name`](crate::llm::LlmProvider::name) gives it:
    /// `openai` (api.openai.com), `anthropic`, or the name of an OpenAI-compatible server (`ollama`,
    /// `vllm`, ...).
    pub provider: String,
    /// An exact model id, or a family pattern ending in `*` (`gpt-5*`, `claude-opus-4-7*`).
    pub model: String,
    /// Chat or embedding.
    #[serde(default = "chat")]
    pub kind: ModelKind,
    /// The context window in tokens (input and output together), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    /// The most input tokens one request may have, when the API limits input below the context window
    /// (GPT-5: 272,000 of 400,000); `None` when input is limited by the context window alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u32>,
    /// The most tokens one answer may have, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// The price per million tokens, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<ModelPrice>,
    /// The model can call tools.
    #[serde(default)]
    pub tools: bool,
    /// The model can call several tools in one answer (OpenAI's `parallel_tool_calls` parameter).
    #[serde(default)]
    pub parallel_tool_calls: bool,
    /// The model follows a JSON schema for its answer (structured output).
    #[serde(default)]
    pub json_schema: bool,
    /// The model reads images.
    #[serde(default)]
    pub vision: bool,
    /// The model reasons before answering (reasoning tokens, extended thinking).
    #[serde(default)]
    pub reasoning: bool,
    /// Which sampling parameter values the model accepts.
    #[serde(default = "accepted")]
    pub sampling: Sampling,
    /// Which output-token parameter the API wants.
    #[serde(default = "max_tokens")]
    pub output_tokens_param: OutputTokensParam,
    /// Where the system prompt goes.
    #[serde(default = "system_role")]
    pub system_prompt: SystemPrompt,
    /// Where the values come from: a documentation URL, LiteLLM's file, an issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn chat() -> ModelKind {
    ModelKind::Chat
}
fn accepted() -> Sampling {
    Sampling::Accepted
}
fn max_tokens() -> OutputTokensParam {
    OutputTokensParam::MaxTokens
}
fn system_role() -> SystemPrompt {
    SystemPrompt::SystemRole
}

impl ModelInfo {
    /// An entry with nothing known but its name and kind: no limits, no price, no capability, sampling
    /// [`Accepted`](Sampling::Accepted), [`MaxTokens`](OutputTokensParam::MaxTokens) and the
    /// [`SystemRole`](SystemPrompt::SystemRole): what an unknown OpenAI-compatible chat model gets today.
    pub fn new(provider: impl Into<String>, model: impl Into<String>, kind: ModelKind) -> Self {
        ModelInfo {
            provider: provider.into(),
            model: model.into(),
            kind,
            context_window: None,
            max_input_tokens: None,
            max_output_tokens: None,
            price: None,
            tools: false,
            parallel_tool_calls: false,
            json_schema: false,
            vision: false,
            reasoning: false,
            sampling: Sampling::Accepted,
            output_tokens_param: OutputTokensParam::MaxTokens,
            system_prompt: SystemPrompt::SystemRole,
            source: None,
        }
    }

    /// Sets the context window in tokens.
    pub fn with_context_window(mut self, tokens: u32) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// Sets the most input tokens one request may have (when below the context window).
    pub fn with_max_input_tokens(mut self, tokens: u32) -> Self {
        self.max_input_tokens = Some(tokens);
        self
    }

    /// Sets the most tokens one answer may have.
    pub fn with_max_output_tokens(mut self, tokens: u32) -> Self {
        self.max_output_tokens = Some(tokens);
        self
    }

    /// Sets the price.
    pub fn with_price(mut self, price: ModelPrice) -> Self {
        self.price = Some(price);
        self
    }

    /// Sets whether the model can call tools.
    pub fn with_tools(mut self, yes: bool) -> Self {
        self.tools = yes;
        self
    }

    /// Sets whether the model can call several tools in one answer.
    pub fn with_parallel_tool_calls(mut self, yes: bool) -> Self {
        self.parallel_tool_calls = yes;
        self
    }

    /// Sets whether the model follows a JSON schema for its answer.
    pub fn with_json_schema(mut self, yes: bool) -> Self {
        self.json_schema = yes;
        self
    }

    /// Sets whether the model reads images.
    pub fn with_vision(mut self, yes: bool) -> Self {
        self.vision = yes;
        self
    }

    /// Sets whether the model reasons before answering.
    pub fn with_reasoning(mut self, yes: bool) -> Self {
        self.reasoning = yes;
        self
    }

    /// Sets which sampling parameter values the model accepts.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets which output-token parameter the API wants.
    pub fn with_output_tokens_param(mut self, param: OutputTokensParam) -> Self {
        self.output_tokens_param = param;
        self
    }

    /// Sets where the system prompt goes.
    pub fn with_system_prompt(mut self, system_prompt: SystemPrompt) -> Self {
        self.system_prompt = system_prompt;
        self
    }

    /// Sets where the values come from.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// By how many tokens a request of `input` tokens that asks for up to `output` tokens exceeds the
    /// model's limits: input plus output over the [context window](ModelInfo::context_window), or input
    /// over the [input limit](ModelInfo::max_input_tokens), whichever is more. `None` when it fits or
    /// the limits are unknown.
    ///
    /// ```
    /// use twelve_factor_ai::llm::catalog::{ModelInfo, ModelKind};
    ///
    /// // GPT-5: a 400,000-token window, of which at most 272,000 input tokens.
    /// let gpt5 = ModelInfo::new("openai", "gpt-5", ModelKind::Chat)
    ///     .with_context_window(400_000)
    ///     .with_max_input_tokens(272_000);
    /// assert_eq!(gpt5.tokens_over(200_000, 100_000), None);
    /// assert_eq!(gpt5.tokens_over(300_000, 1_000), Some(28_000)); // input over 272,000
    /// assert_eq!(gpt5.tokens_over(270_000, 140_000), Some(10_000)); // total over 400,000
    /// assert_eq!(ModelInfo::new("vllm", "x", ModelKind::Chat).tokens_over(u64::MAX, 1), None);
    /// ```
    pub fn tokens_over(&self, input: u64, output: u64) -> Option<u64> {
        let over_window = self
            .context_window
            .map_or(0, |w| input.saturating_add(output).saturating_sub(w.into()));
        let over_input = self
            .max_input_tokens
            .map_or(0, |m| input.saturating_sub(m.into()));
        let over = over_window.max(over_input);
        (over > 0).then_some(over)
    }

    /// Whether [`model`](ModelInfo::model) is a family pattern (ends in `*`).
    pub fn is_pattern(&self) -> bool {
        self.model.ends_with('*')
    }

    /// Whether this entry covers the model id `model`.
    ///
    /// An exact entry covers its own id only. A pattern `prefix*` covers `prefix` itself and `prefix`
    /// followed by a separator (`-`, `_`, `:`, `@`, `/`) and anything: `gpt-5*` covers `gpt-5`,
    /// `gpt-5-2025-08-07` and `gpt-5-mini`, but not `gpt-50` nor `gpt-5.1` (a new version, which may
    /// differ in price and limits, needs its own entry). A prefix that itself ends in punctuation covers
    /// any suffix: `gpt-5.*` covers `gpt-5.1` and `gpt-5.4-mini`, `ft:gpt-4o-*` every fine-tune of gpt-4o;
    /// a bare `*` covers every id. Matching is case-sensitive, as the providers' ids are.
    pub fn matches(&self, model: &str) -> bool {
        match self.model.strip_suffix('*') {
            None => self.model == model,
            Some(prefix) => pattern_matches(prefix, model),
        }
    }
}

/// Whether `model` is `prefix` or continues it after a separator (see [`ModelInfo::matches`]).
pub(crate) fn pattern_matches(prefix: &str, model: &str) -> bool {
    let Some(rest) = model.strip_prefix(prefix) else {
        return false;
    };
    // A prefix that ends in punctuation (`gpt-5.`, `ft:`) or is empty (a bare `*`) takes any suffix; one
    // that ends in a letter or digit only continues after a separator, so `gpt-5*` is not `gpt-50`.
    rest.is_empty()
        || !prefix.ends_with(|c: char| c.is_ascii_alphanumeric())
        || rest.starts_with(SEPARATORS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_at_separators_only() {
        let p = ModelInfo::new("openai", "o1*", ModelKind::Chat);
        for yes in [
            "o1",
            "o1-2024-12-17",
            "o1-mini",
            "o1:custom",
            "o1_x",
            "o1@v",
            "o1/x",
        ] {
            assert!(p.matches(yes), "{yes}");
        }
        for no in ["o10x", "o10", "o1.5", "o", "xo1", "O1"] {
            assert!(!p.matches(no), "{no}");
        }
        let dot = ModelInfo::new("openai", "gpt-5.*", ModelKind::Chat);
        assert!(dot.matches("gpt-5.1") && dot.matches("gpt-5.4-mini") && dot.matches("gpt-5."));
        assert!(!dot.matches("gpt-5") && !dot.matches("gpt-5-mini"));
        let open = ModelInfo::new("openai", "ft:gpt-4o-*", ModelKind::Chat);
        assert!(open.matches("ft:gpt-4o-2024-08-06:org::abc"));
        assert!(open.matches("ft:gpt-4o-"));
        assert!(!open.matches("ft:gpt-4o"));
        let exact = ModelInfo::new("openai", "gpt-4o", ModelKind::Chat);
        assert!(exact.matches("gpt-4o"));
        assert!(!exact.matches("gpt-4o-mini"));
        assert!(!exact.is_pattern());
    }

    #[test]
    fn a_bare_star_matches_everything() {
        let any = ModelInfo::new("ollama", "*", ModelKind::Chat);
        assert!(any.matches("llama3.1:8b"));
        assert!(any.matches(""));
    }
}
