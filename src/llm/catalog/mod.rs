//! The model catalog: what each model accepts and costs, as data rather than code branches.
//!
//! Model versions change behaviour, and lately which requests are accepted at all: OpenAI's o-series and
//! GPT-5 refuse `max_tokens` and any temperature but the default; Anthropic's models from Claude Opus 4.7
//! on refuse `temperature`, `top_p` and `top_k` even at their defaults. The providers look up the model
//! they call in a [`Catalog`] and shape each request to what its [`ModelInfo`] says the model accepts.
//!
//! # What an entry holds
//!
//! Per provider and model id (an exact id, or a documented family pattern ending in `*`, see
//! [`ModelInfo::matches`]): the context window, the input and output token limits, the price per million
//! tokens, the capabilities (tools, parallel tool calls, JSON-schema output, vision, reasoning), and the
//! request rules: which sampling values are accepted ([`Sampling`]), which output-token parameter the API
//! wants ([`OutputTokensParam`]) and where the system prompt goes ([`SystemPrompt`]). Every entry names its
//! [`source`](ModelInfo::source). Unknown values are `None`, never guessed.
//!
//! # The shipped data and its sources
//!
//! [`Catalog::builtin`] parses `src/llm/catalog/builtin.toml`, shipped inside the crate. It covers the
//! current and previous generation of OpenAI and Anthropic chat and embedding models:
//!
//! | models | limits and prices | request rules |
//! |---|---|---|
//! | OpenAI gpt-4o, gpt-4o-mini, gpt-4.1 (-mini, -nano), gpt-4-turbo, gpt-4, gpt-3.5-turbo | LiteLLM's `model_prices_and_context_window.json` (BerriAI/litellm) | `max_tokens`, any temperature, `system` role |
//! | OpenAI o1, o3, o3-mini, o4-mini, gpt-5 (-mini, -nano), gpt-5.1 to gpt-5.6 | LiteLLM; GPT-5's 400,000-token window (272,000 in + 128,000 out) from OpenAI's model pages | `max_completion_tokens`, sampling at defaults only, `developer` role (OpenAI reasoning guide; the 400s quoted in issue 6) |
//! | OpenAI text-embedding-3-small, -3-large, ada-002 | LiteLLM; 8,191 input tokens (OpenAI embeddings guide) | — |
//! | Anthropic Claude 3.5 Haiku, 3.7 Sonnet, Sonnet 4 / 4.5 / 4.6, Opus 4 / 4.1 / 4.5 / 4.6, Haiku 4.5 | LiteLLM (Sonnet 4's window: 200,000 per Anthropic's models overview, 1M only in beta) | `max_tokens`, any sampling, top-level `system` |
//! | Anthropic Opus 4.7 / 4.8 / 5, Sonnet 5 / 5.5, Haiku 5.5, Fable 5 | LiteLLM where it lists them (Opus 4.7, 4.8, Sonnet 5, Fable 5); none for the others ("issue 6; not verified") | sampling rejected (issue 6; LiteLLM's `supports_sampling_params: false`) |
//!
//! Dated snapshots carry prices; family patterns (`gpt-4o*`, `claude-opus-4-7*`) carry the request rules
//! and the limits every member shares, and no price, because snapshots of one family have had different
//! prices. o1-mini and o1-preview (retired) are left out: they took no system or developer message, which
//! [`SystemPrompt`] cannot express.
//!
//! # File format
//!
//! TOML, one `[[model]]` table per entry, the fields of [`ModelInfo`] (all but `provider` and `model`
//! optional; unknown keys are errors with their line and column):
//!
//! ```toml
//! [[model]]
//! provider = "anthropic"
//! model = "claude-opus-4-7*"
//! context_window = 1000000
//! max_output_tokens = 128000
//! tools = true
//! sampling = "rejected"
//! system_prompt = "top_level"
//! source = "https://docs.anthropic.com/en/docs/about-claude/models"
//! ```
//!
//! # Extending and overriding it
//!
//! - In code: [`Catalog::insert`] / [`Catalog::merge`] (the merged-in catalog wins).
//! - From LiteLLM's file: [`Catalog::from_litellm`], which keeps the built-in request rules.
//! - From the host's model config: `[[catalog]]` tables in `models.toml` / `models.yaml`, read by
//!   [`ModelConfig`](crate::config::ModelConfig) and merged over the built-in data by
//!   [`Settings::catalog`](crate::config::Settings::catalog).

mod litellm;
mod model_info;
mod table;

pub use model_info::{ModelInfo, ModelKind, OutputTokensParam, Sampling, SystemPrompt};
pub use table::Catalog;
pub(crate) use table::check;
