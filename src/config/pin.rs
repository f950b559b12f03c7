//! The pin check (factor II): does a model id name one fixed model, or an alias the provider may move?

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Ids that name one fixed model although they carry no date or version (see [`check_pinned`]).
const EXACT_VERSIONS: [&str; 6] = [
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
];

/// Well-known aliases and the snapshot to pin instead, for the advice in [`Pinning::Floating`].
const SUGGESTIONS: [(&str, &str); 30] = [
    ("gpt-4o", "gpt-4o-2024-08-06"),
    ("gpt-4o-latest", "gpt-4o-2024-08-06"),
    ("chatgpt-4o-latest", "gpt-4o-2024-08-06"),
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    ("gpt-4", "gpt-4-0613"),
    ("gpt-4-turbo", "gpt-4-turbo-2024-04-09"),
    ("gpt-4-turbo-preview", "gpt-4-0125-preview"),
    ("gpt-3.5-turbo", "gpt-3.5-turbo-0125"),
    ("gpt-4.1", "gpt-4.1-2025-04-14"),
    ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
    ("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
    ("gpt-5", "gpt-5-2025-08-07"),
    ("gpt-5-mini", "gpt-5-mini-2025-08-07"),
    ("o1", "o1-2024-12-17"),
    ("o3-mini", "o3-mini-2025-01-31"),
    ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),
    ("claude-3-7-sonnet-latest", "claude-3-7-sonnet-20250219"),
    ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
    ("claude-3-opus-latest", "claude-3-opus-20240229"),
    ("claude-sonnet-4-0", "claude-sonnet-4-20250514"),
    ("claude-opus-4-0", "claude-opus-4-20250514"),
    ("claude-opus-4-1", "claude-opus-4-1-20250805"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
    ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
    ("claude-opus-4-5", "claude-opus-4-5-20251101"),
    ("gemini-1.5-pro", "gemini-1.5-pro-002"),
    ("gemini-1.5-flash", "gemini-1.5-flash-002"),
    ("gemini-2.0-flash", "gemini-2.0-flash-001"),
    ("mistral-large-latest", "mistral-large-2411"),
    ("mistral-small-latest", "mistral-small-2501"),
];

/// Name prefixes of vendor model families: behind a routing prefix (`openai/…`) such ids are judged by the
/// vendor rules, not as Hugging Face repos.
const VENDOR_FAMILIES: [&str; 12] = [
    "gpt-",
    "chatgpt-",
    "o1",
    "o3",
    "o4",
    "claude-",
    "gemini-",
    "mistral-",
    "codestral-",
    "command-",
    "deepseek-",
    "grok-",
];

/// The verdict of [`check_pinned`] on one model id.
///
/// ```
/// use twelve_factor_ai::config::{Pinning, check_pinned};
///
/// assert_eq!(check_pinned("openai", "gpt-4o-2024-08-06"), Pinning::Pinned);
/// let floating = check_pinned("openai", "gpt-4o");
/// assert!(!floating.is_pinned());
/// assert_eq!(
///     floating.reason(),
///     Some("`gpt-4o` is an alias that moves to new snapshots; pin `gpt-4o-2024-08-06`")
/// );
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinning {
    /// The id names one fixed model: a dated snapshot, an exact version or a digest.
    Pinned,
    /// The id is an alias the provider may point at another model at any time.
    Floating {
        /// Why, and what to pin instead.
        reason: String,
    },
    /// The id cannot tell (an Azure deployment name, a vLLM served-model name): the pin lives elsewhere.
    Unknown {
        /// Why, and where to check.
        reason: String,
    },
}

impl Pinning {
    /// Whether the id is [`Pinning::Pinned`].
    pub fn is_pinned(&self) -> bool {
        *self == Pinning::Pinned
    }

    /// Whether the id is [`Pinning::Floating`].
    pub fn is_floating(&self) -> bool {
        matches!(self, Pinning::Floating { .. })
    }

    /// The explanation of a floating or unknown verdict.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Pinning::Pinned => None,
            Pinning::Floating { reason } | Pinning::Unknown { reason } => Some(reason),
        }
    }
}

impl fmt::Display for Pinning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pinning::Pinned => f.write_str("pinned"),
            Pinning::Floating { reason } => write!(f, "floating: {reason}"),
            Pinning::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// What to do about floating model ids, per profile (`pin_policy = "warn"` in a profile section, or
/// `TFA_PIN_POLICY`). Default: [`Profile::default_pin_policy`](super::Profile::default_pin_policy), deny
/// in prod and warn elsewhere.
///
/// ```
/// use twelve_factor_ai::config::PinPolicy;
///
/// assert_eq!("Deny".parse::<PinPolicy>()?, PinPolicy::Deny);
/// assert!("strict".parse::<PinPolicy>().is_err());
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinPolicy {
    /// No check.
    Off,
    /// One `tracing` warning per floating (or unknown) model id.
    Warn,
    /// A [`Config`](crate::ErrorKind::Config) error listing every role with a floating model id; unknown
    /// ids are still only warned about.
    Deny,
}

impl PinPolicy {
    /// `"off"`, `"warn"` or `"deny"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PinPolicy::Off => "off",
            PinPolicy::Warn => "warn",
            PinPolicy::Deny => "deny",
        }
    }
}

impl fmt::Display for PinPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinPolicy {
    type Err = Error;

    /// Parses `off`, `warn` or `deny`, case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(PinPolicy::Off),
            "warn" => Ok(PinPolicy::Warn),
            "deny" => Ok(PinPolicy::Deny),
            _ => Err(Error::config(format!(
                "{s:?} is not a pin policy (expected off, warn or deny)"
            ))),
        }
    }
}

/// Whether `model` (as sent to `provider`) names one fixed model. `provider` is a
/// [`ProviderKind`](super::ProviderKind) name (`"openai"`, `"ollama"`, `"azure"`, ...); unknown names get
/// the generic rules. It looks only at these two strings and calls nothing. The rules, in the order they
/// apply:
///
/// | rule | pinned | floating |
/// |---|---|---|
/// | a `latest` part anywhere | | `gpt-4o-latest`, `claude-3-5-sonnet-latest`, `chatgpt-4o-latest`, `llama3:latest` |
/// | a `@sha256:` digest (64 hex digits) or a git commit (`@` + 40 hex digits) | `llama3@sha256:…` | a malformed digest |
/// | the exact-version table below | `text-embedding-3-small` | |
/// | OpenAI fine-tunes (`ft:…`): immutable, and they name their base snapshot | `ft:gpt-4o-2024-08-06:acme::abc` | |
/// | a date: `-YYYY-MM-DD`, `YYYYMMDD` (also after `@`), `-MM-YYYY`, `-MM-DD` after `preview`/`exp`; month and day must be valid | `gpt-4o-2024-08-06`, `claude-3-opus-20240229`, `claude-3-5-sonnet@20240620`, `command-r-08-2024`, `gemini-2.5-pro-preview-05-06` | `gpt-4o-2024-13-01` |
/// | a four-digit `-MMDD` (OpenAI) or `-YYMM` (Mistral) part after the first | `gpt-4-0613`, `gpt-4-0125-preview`, `mistral-large-2411`, `grok-2-1212` | |
/// | a version part: `v` + digits anywhere, or a zero-padded `-0NN` at the end (Gemini stable versions) | `nomic-embed-text:v1.5`, `amazon.titan-embed-text-v2:0`, `gemini-1.5-pro-002` | |
/// | `preview` / `exp` / `experimental` without a date | | `gpt-4-turbo-preview`, `gemini-2.0-flash-exp` |
/// | Ollama `name:tag`: the tag names a full build (a quantization such as `q4_K_M`, `fp16`) | `llama3.1:8b-instruct-q4_0` | `llama3:8b`, `qwen2.5:7b`, `llama3:instruct` |
/// | Ollama without a tag (it means `:latest`) | | `llama3` |
/// | Hugging Face `org/name`: the repo name carries a version number (a family number such as `3.1`, `Qwen2.5`, `v0.3`; sizes like `8B`, quantizations and context lengths do not count) | `meta-llama/Llama-3.1-8B-Instruct`, `mistralai/Mistral-7B-Instruct-v0.3`, `BAAI/bge-large-en-v1.5` | `BAAI/bge-large-en`, `openai/gpt-4o` |
/// | `azure` or `vllm` without any of the above: [`Pinning::Unknown`] | | |
/// | anything else | | `gpt-4o`, `gpt-4`, `claude-opus-4-5`, `gemini-1.5-pro`, `mistral-large`, `deepseek-chat` |
///
/// Decisions worth knowing:
/// - **Ollama size tags float.** `llama3:8b` is a size, not a version: Ollama points `8b` (like `latest`)
///   at whatever build is the current default for that size, and has changed default quantizations
///   before. A tag that also names the quantization (`8b-instruct-q4_K_M`) is the most specific name
///   Ollama publishes and counts as pinned; only a digest is byte-exact.
/// - **Hugging Face repos pin by name.** Publishers release each model version as a new repo
///   (`Llama-3.1-…`, `Llama-3.2-…`, `Mistral-7B-Instruct-v0.3`), so a repo name with a version number counts
///   as pinned; a repo name with no version at all (`bge-large-en`, or only a size) floats. Vendor ids
///   behind a routing prefix (`openai/gpt-4o`, `anthropic/claude-3.5-sonnet`) are judged as vendor ids.
/// - **Azure deployments and vLLM servers are [`Pinning::Unknown`]** unless the id itself is pinned by the
///   rules above: an Azure deployment name says nothing about the model version behind it (that is set on
///   the deployment, together with its upgrade policy), and vLLM serves whatever weights its operator
///   loaded under any name. Unknown ids are warned about under `warn` and `deny`, never refused.
///
/// Exact versions without a snapshot suffix (the provider does not move them):
///
/// | id | why |
/// |---|---|
/// | `text-embedding-3-small`, `text-embedding-3-large`, `text-embedding-ada-002` | OpenAI publishes no snapshots of its embedding models and does not change them: vectors stay comparable |
/// | `gemini-2.5-pro`, `gemini-2.5-flash`, `gemini-2.5-flash-lite` | Google names the Gemini 2.5 stable versions without a number; stable versions do not change |
///
/// ```
/// use twelve_factor_ai::config::{Pinning, check_pinned};
///
/// assert!(check_pinned("anthropic", "claude-sonnet-4-5-20250929").is_pinned());
/// assert!(check_pinned("ollama", "llama3").is_floating());
/// assert!(check_pinned("ollama", "llama3.1:8b-instruct-q4_0").is_pinned());
/// assert!(matches!(check_pinned("azure", "my-gpt4o"), Pinning::Unknown { .. }));
/// ```
pub fn check_pinned(provider: &str, model: &str) -> Pinning {
    let id = model.trim();
    if id.is_empty() {
        return floating("no model id is set; name a pinned model".to_owned());
    }
    let lower = id.to_ascii_lowercase();
    let provider = provider.trim().to_ascii_lowercase();
    let tokens: Vec<&str> = lower
        .split(['-', '_', ':', '@', '/', '.'])
        .filter(|t| !t.is_empty())
        .collect();

    if tokens.contains(&"latest") {
        return floating(format!(
            "`{id}` is a `latest` alias that moves with every release; pin {}",
            suggestion(&lower).unwrap_or_else(|| "a dated snapshot or exact version".to_owned())
        ));
    }
    if let Some((_, digest)) = lower.split_once("@sha256:") {
        return if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            Pinning::Pinned
        } else {
            floating(format!(
                "`{id}` has a malformed digest: expected `@sha256:` and 64 hex digits"
            ))
        };
    }
    let commit = lower
        .rsplit_once('@')
        .is_some_and(|(_, rev)| rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()));
    if commit {
        return Pinning::Pinned;
    }
    let last_segment = lower.rsplit('/').next().unwrap_or(&lower);
    if EXACT_VERSIONS.contains(&lower.as_str()) || EXACT_VERSIONS.contains(&last_segment) {
        return Pinning::Pinned;
    }
    if lower.starts_with("ft:") {
        return Pinning::Pinned;
    }
    if is_dated(&tokens) || has_version_part(&tokens) {
        return Pinning::Pinned;
    }
    if tokens
        .iter()
        .any(|t| matches!(*t, "preview" | "exp" | "experimental"))
    {
        return floating(format!(
            "`{id}` is a preview alias without a date, which may change or disappear; pin {}",
            suggestion(&lower).unwrap_or_else(|| "a dated snapshot".to_owned())
        ));
    }
    if let Some((_, tag)) = id.rsplit_once(':') {
        return ollama_tag(id, tag);
    }
    if provider == "ollama" {
        return floating(format!(
            "`{id}` means `{id}:latest`, which moves whenever the Ollama library updates it; pin a full \
             tag that names the quantization (as in `llama3.1:8b-instruct-q4_K_M`), or a digest"
        ));
    }
    let hf_repo = lower
        .rsplit_once('/')
        .map(|(_, name)| name)
        .filter(|name| !VENDOR_FAMILIES.iter().any(|f| name.starts_with(f)));
    if let Some(name) = hf_repo {
        return if hf_name_has_version(name) {
            Pinning::Pinned
        } else {
            floating(format!(
                "`{id}` names no version, only a size or variant; use a repo whose name carries the \
                 model version"
            ))
        };
    }
    match provider.as_str() {
        "azure" => Pinning::Unknown {
            reason: format!(
                "`{id}` is an Azure deployment name, which does not show the model version; pin the \
                 version on the deployment and set its upgrade policy to no auto-upgrade"
            ),
        },
        "vllm" => Pinning::Unknown {
            reason: format!(
                "`{id}` is a vLLM served-model name, which does not show the weights behind it; serve a \
                 versioned repo (`org/Model-3.1-8B-Instruct`) under its own name"
            ),
        },
        _ => match suggestion(&lower) {
            Some(pin) => floating(format!(
                "`{id}` is an alias that moves to new snapshots; pin {pin}"
            )),
            None => floating(format!(
                "`{id}` names no dated snapshot or version, so the provider can change the model behind \
                 it; pin a dated snapshot or exact version of it where the provider publishes one"
            )),
        },
    }
}

fn floating(reason: String) -> Pinning {
    Pinning::Floating { reason }
}

/// "`gpt-4o-2024-08-06`" for a well-known alias (also behind a routing prefix such as `openai/`).
fn suggestion(lower: &str) -> Option<String> {
    let name = lower.rsplit('/').next().unwrap_or(lower);
    SUGGESTIONS
        .iter()
        .find(|(alias, _)| *alias == lower || *alias == name)
        .map(|(_, pin)| format!("`{pin}`"))
}

/// An Ollama `name:tag`: pinned when the tag names a quantization (the full build); floating for a size
/// or variant alone.
fn ollama_tag(id: &str, tag: &str) -> Pinning {
    let tag_lower = tag.to_ascii_lowercase();
    if tag_lower.split(['-', '_']).any(is_quantization) {
        return Pinning::Pinned;
    }
    floating(format!(
        "`{id}`: the tag `{tag}` names a size or variant, which Ollama re-points at its current default \
         build; pin a full tag that names the quantization (as in `llama3.1:8b-instruct-q4_K_M`), or a \
         digest"
    ))
}

/// `q4_0`, `q4_k_m` (split into `q4`), `q8`, `iq3`, `fp16`, `bf16`, `f16`, `f32`, `int4`, `int8`.
fn is_quantization(t: &str) -> bool {
    let digits_after = |prefix: &str| {
        t.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    };
    digits_after("q")
        || digits_after("iq")
        || digits_after("fp")
        || digits_after("int")
        || matches!(t, "bf16" | "f16" | "f32")
}

/// A date in the id: `YYYYMMDD`, `YYYY-MM-DD`, `MM-YYYY`, `-MM-DD` after `preview`/`exp`, or a four-digit
/// `MMDD` / `YYMM` part after the first.
fn is_dated(tokens: &[&str]) -> bool {
    (0..tokens.len()).any(|i| date_at(tokens, i))
}

/// Whether a date starts at `tokens[i]`.
fn date_at(tokens: &[&str], i: usize) -> bool {
    let num = |t: Option<&&str>, len: usize| -> Option<u32> {
        t.filter(|t| t.len() == len && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
    };
    let year = |t: Option<&&str>| num(t, 4).filter(|y| (2000..=2099).contains(y));
    let (t, next, after) = (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2));
    let previous = i.checked_sub(1).and_then(|p| tokens.get(p)).copied();
    // YYYYMMDD, also after `@` (Vertex AI: `claude-3-5-sonnet@20240620`).
    let compact = num(t, 8).is_some_and(|v| {
        (2000..=2099).contains(&(v / 10_000)) && valid_month_day(v / 100 % 100, v % 100)
    });
    // YYYY-MM-DD.
    let iso = year(t).is_some()
        && matches!((num(next, 2), num(after, 2)), (Some(m), Some(d)) if valid_month_day(m, d));
    // MM-YYYY (Cohere `command-r-08-2024`, Gemini `preview-09-2025`).
    let month_year = num(t, 2).is_some_and(|m| (1..=12).contains(&m)) && year(next).is_some();
    // MM-DD after preview / exp (Gemini `preview-05-06`).
    let preview_day = matches!(previous, Some("preview" | "exp"))
        && matches!((num(t, 2), num(next, 2)), (Some(m), Some(d)) if valid_month_day(m, d));
    // MMDD (OpenAI `gpt-4-0613`) or YYMM (Mistral `mistral-large-2411`), never the first part.
    let short = i > 0
        && num(t, 4).is_some_and(|v| {
            let (hi, lo) = (v / 100, v % 100);
            valid_month_day(hi, lo) || ((20..=39).contains(&hi) && (1..=12).contains(&lo))
        });
    compact || iso || month_year || preview_day || short
}

/// `v` followed by digits anywhere (`v1`, `v0` of `v0.3`), or a zero-padded `0NN` last part.
fn has_version_part(tokens: &[&str]) -> bool {
    let v_digits = |t: &&str| {
        t.strip_prefix('v')
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
    };
    let zero_padded = tokens.last().is_some_and(|t| {
        t.len() == 3 && t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit())
    });
    tokens.iter().any(v_digits) || zero_padded
}

fn valid_month_day(month: u32, day: u32) -> bool {
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 29,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Whether a Hugging Face repo name (lowercased, without the org) carries a version number: a part with a
/// digit that is not a size (`8b`, `8x7b`, `a3b`, `e4b`, `125m`), a context length (`32k`), a quantization
/// or a bit width.
fn hf_name_has_version(name: &str) -> bool {
    name.split(['-', '_'])
        .filter(|t| t.bytes().any(|b| b.is_ascii_digit()))
        .any(|t| !is_size_like(t) && !is_quantization(t))
}

fn is_size_like(t: &str) -> bool {
    let number = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && s.starts_with(|c: char| c.is_ascii_digit())
    };
    let strip = t.strip_prefix(['a', 'e']).unwrap_or(t);
    let size = strip.strip_suffix(['b', 'm', 'k', 't']).is_some_and(number);
    let experts = t.split_once('x').is_some_and(|(experts, size)| {
        number(experts) && size.strip_suffix('b').is_some_and(number)
    });
    size || experts || t.strip_suffix("bit").is_some_and(number)
}
