//! [`ProviderKind`]: the providers a model config can name, with their default key variable and base URL.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The provider a [`ModelRole`](super::ModelRole) talks to, as written in `provider = "..."`.
///
/// A small, documented set: each name maps to one way of building a provider in this crate. A server that
/// speaks the OpenAI wire format but is not listed (Groq, Together, LiteLLM, llama.cpp server, ...) is
/// `openai-compatible` with its `base_url`.
///
/// | name | wire format | key variable (default) | base URL (default) |
/// |---|---|---|---|
/// | `openai` | OpenAI | `OPENAI_API_KEY` | `https://api.openai.com/v1` |
/// | `anthropic` | Anthropic Messages | `ANTHROPIC_API_KEY` | `https://api.anthropic.com` |
/// | `azure` | OpenAI, Azure flavour | `AZURE_OPENAI_API_KEY` | none: the deployment URL is required |
/// | `openai-compatible` | OpenAI | none | none: required |
/// | `ollama` | OpenAI (`/v1`) | none | `http://localhost:11434/v1` |
/// | `vllm` | OpenAI | none | `http://localhost:8000/v1` |
///
/// ```
/// use twelve_factor_ai::config::ProviderKind;
///
/// let p: ProviderKind = "anthropic".parse()?;
/// assert_eq!(p.default_api_key_env(), Some("ANTHROPIC_API_KEY"));
/// let err = "gemini".parse::<ProviderKind>().unwrap_err();
/// assert!(err.to_string().contains("openai-compatible"));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProviderKind {
    /// The OpenAI API.
    #[serde(rename = "openai")]
    OpenAi,
    /// The Anthropic Messages API.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Azure OpenAI: a deployment URL, the `api-key` header and a pinned `api_version`.
    #[serde(rename = "azure")]
    Azure,
    /// Any other server that speaks the OpenAI wire format; `base_url` is required.
    #[serde(rename = "openai-compatible")]
    OpenAiCompatible,
    /// A local Ollama server through its OpenAI-compatible `/v1` endpoint.
    #[serde(rename = "ollama")]
    Ollama,
    /// A vLLM server (OpenAI-compatible).
    #[serde(rename = "vllm")]
    Vllm,
}

impl ProviderKind {
    /// Every provider, in the order of the table above.
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Azure,
        ProviderKind::OpenAiCompatible,
        ProviderKind::Ollama,
        ProviderKind::Vllm,
    ];

    /// The name used in config files and `LLM_PROVIDER` (`"openai"`, `"openai-compatible"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Azure => "azure",
            ProviderKind::OpenAiCompatible => "openai-compatible",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Vllm => "vllm",
        }
    }

    /// The variable that holds the API key when a role names none (`api_key_env`). Local servers
    /// (`ollama`, `vllm`) and unknown gateways (`openai-compatible`) have none: they often need no key,
    /// and guessing `OPENAI_API_KEY` would send the real OpenAI key to a third party.
    pub fn default_api_key_env(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenAi => Some("OPENAI_API_KEY"),
            ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
            ProviderKind::Azure => Some("AZURE_OPENAI_API_KEY"),
            ProviderKind::OpenAiCompatible | ProviderKind::Ollama | ProviderKind::Vllm => None,
        }
    }

    /// The base URL used when a role names none. Like the official SDKs' variables, the OpenAI-style URLs
    /// include the version path and Anthropic's does not. `None` where there is no sensible default
    /// (`azure`, `openai-compatible`): such roles must set `base_url`.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenAi => Some("https://api.openai.com/v1"),
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::Ollama => Some("http://localhost:11434/v1"),
            ProviderKind::Vllm => Some("http://localhost:8000/v1"),
            ProviderKind::Azure | ProviderKind::OpenAiCompatible => None,
        }
    }

    /// The SDK variable that overrides the base URL of every role of this provider (`OPENAI_BASE_URL`,
    /// `ANTHROPIC_BASE_URL`), read by [`Settings::from_env`](super::Settings::from_env).
    pub fn base_url_env(self) -> Option<&'static str> {
        match self {
            ProviderKind::OpenAi => Some("OPENAI_BASE_URL"),
            ProviderKind::Anthropic => Some("ANTHROPIC_BASE_URL"),
            _ => None,
        }
    }

    /// Whether the provider speaks the OpenAI wire format (everything but `anthropic`).
    pub fn speaks_openai(self) -> bool {
        self != ProviderKind::Anthropic
    }

    /// Whether the provider's hosted API needs a key (`openai`, `anthropic`, `azure`). Local servers and
    /// gateways may work without one, and so may an `openai` role whose `base_url` points at one.
    pub fn requires_api_key(self) -> bool {
        matches!(
            self,
            ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::Azure
        )
    }

    /// The names of every provider, comma-separated, for error messages.
    pub(crate) fn list() -> String {
        ProviderKind::ALL
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = Error;

    /// Parses a provider name, case-insensitively; the error lists the known names.
    fn from_str(s: &str) -> Result<Self> {
        let name = s.trim().to_ascii_lowercase();
        ProviderKind::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| {
                Error::config(format!(
                    "{s:?} is not a known provider (expected one of: {})",
                    ProviderKind::list()
                ))
            })
    }
}
