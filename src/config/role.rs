//! [`ModelRole`]: one named model of a config (`primary`, `fallback`, `embedding`, ...), and the partial
//! form in which files, profiles and variables override it.

use std::time::Duration;

use serde::Deserialize;

use crate::Result;
use crate::config::{Pinning, ProviderKind, SecretUrl, check_pinned, duration};
use crate::layer::timeout::TimeoutConfig;
use crate::llm::{ModelPrice, ShapingPolicy};

/// The longest timeout accepted: the timeout layer computes deadlines as `now + limit`.
const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// One model the service uses, under a role name: which provider, which pinned model, where, with which
/// key variable, parameters, limits and price.
///
/// In `models.toml` (see [`ModelConfig`](super::ModelConfig) for the whole file):
///
/// ```toml
/// [models.primary]
/// provider = "openai"                 # see ProviderKind for the list
/// model = "gpt-4o-2024-08-06"         # a pinned snapshot (see the pin check)
/// # base_url = "https://api.openai.com/v1"   # default per provider
/// # api_key_env = "OPENAI_API_KEY"           # the NAME of the variable; default per provider
/// temperature = 0.2                   # 0..=2 (0..=1 for anthropic)
/// max_tokens = 1024
/// timeout = "60s"                     # whole call; also first_chunk_timeout, idle_timeout
/// rpm = 500                           # requests per minute
/// tpm = 30000                         # tokens per minute
/// price = { input = 2.5, output = 10.0, cached_input = 1.25 }   # USD per million tokens
/// # shaping = "strict"                # refuse parameters the model rejects (default "drop": leave them out)
/// # context_check = false             # no pre-flight context-window check (default true)
/// ```
///
/// Durations are a whole number of seconds (`30`) or a string with units `ms`, `s`, `m`, `h` (`"500ms"`,
/// `"30s"`, `"1m30s"`). Unset timeouts take the defaults of
/// [`TimeoutConfig`](crate::layer::timeout::TimeoutConfig) (60 s total, 30 s first chunk, 30 s idle).
///
/// Roles built in code are checked by [`ModelConfig::validate`](super::ModelConfig::validate):
///
/// ```
/// use twelve_factor_ai::config::{ModelRole, ProviderKind};
///
/// let role = ModelRole::new(ProviderKind::Anthropic, "claude-sonnet-4-5-20250929")
///     .with_temperature(0.3)
///     .with_max_tokens(2048);
/// assert_eq!(role.api_key_env(), Some("ANTHROPIC_API_KEY"));
/// assert_eq!(role.effective_base_url(), Some("https://api.anthropic.com"));
/// assert!(role.pinning().is_pinned());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRole {
    provider: ProviderKind,
    model: String,
    base_url: Option<SecretUrl>,
    api_key_env: Option<String>,
    api_version: Option<String>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    timeout: Option<Duration>,
    first_chunk_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    rpm: Option<u32>,
    tpm: Option<u32>,
    price: Option<ModelPrice>,
    dimensions: Option<u32>,
    shaping: Option<ShapingPolicy>,
    context_check: Option<bool>,
}

impl ModelRole {
    /// A role with a provider and model and nothing else set.
    pub fn new(provider: ProviderKind, model: impl Into<String>) -> Self {
        ModelRole {
            provider,
            model: model.into(),
            base_url: None,
            api_key_env: None,
            api_version: None,
            temperature: None,
            max_tokens: None,
            timeout: None,
            first_chunk_timeout: None,
            idle_timeout: None,
            rpm: None,
            tpm: None,
            price: None,
            dimensions: None,
            shaping: None,
            context_check: None,
        }
    }

    /// Sets the base URL (OpenAI-style URLs include the version path: `http://localhost:11434/v1`).
    pub fn with_base_url(mut self, url: impl Into<SecretUrl>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the name of the variable holding the API key (not the key).
    pub fn with_api_key_env(mut self, name: impl Into<String>) -> Self {
        self.api_key_env = Some(name.into());
        self
    }

    /// Sets the provider API version: Azure's `api-version` (required there) or Anthropic's
    /// `anthropic-version`.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Sets the sampling temperature.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the output token limit.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets the deadline of a whole `chat` or `embed` call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the longest wait for a stream's first event.
    pub fn with_first_chunk_timeout(mut self, timeout: Duration) -> Self {
        self.first_chunk_timeout = Some(timeout);
        self
    }

    /// Sets the longest silence between two events of a stream.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Sets the requests-per-minute limit.
    pub fn with_rpm(mut self, rpm: u32) -> Self {
        self.rpm = Some(rpm);
        self
    }

    /// Sets the tokens-per-minute limit.
    pub fn with_tpm(mut self, tpm: u32) -> Self {
        self.tpm = Some(tpm);
        self
    }

    /// Sets the price.
    pub fn with_price(mut self, price: ModelPrice) -> Self {
        self.price = Some(price);
        self
    }

    /// Sets the embedding dimensions to request (embedding roles only).
    pub fn with_dimensions(mut self, dimensions: u32) -> Self {
        self.dimensions = Some(dimensions);
        self
    }

    /// The provider.
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// The model id sent to the provider.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The base URL as configured (credentials redacted in its `Debug`); `None` means the provider's
    /// default ([`effective_base_url`](Self::effective_base_url)).
    pub fn base_url(&self) -> Option<&SecretUrl> {
        self.base_url.as_ref()
    }

    /// The configured base URL, else the provider's default
    /// ([`ProviderKind::default_base_url`]); `None` only for providers without a default whose role sets
    /// none, which [`ModelConfig::validate`](super::ModelConfig::validate) refuses.
    pub fn effective_base_url(&self) -> Option<&str> {
        self.base_url
            .as_ref()
            .map(SecretUrl::expose)
            .or(self.provider.default_base_url())
    }

    /// The name of the variable holding the key: the configured one, else the provider's default
    /// ([`ProviderKind::default_api_key_env`]).
    pub fn api_key_env(&self) -> Option<&str> {
        self.api_key_env
            .as_deref()
            .or(self.provider.default_api_key_env())
    }

    /// The provider API version (Azure `api-version`, Anthropic `anthropic-version`), when set.
    pub fn api_version(&self) -> Option<&str> {
        self.api_version.as_deref()
    }

    /// The sampling temperature, when set.
    pub fn temperature(&self) -> Option<f32> {
        self.temperature
    }

    /// The output token limit, when set.
    pub fn max_tokens(&self) -> Option<u32> {
        self.max_tokens
    }

    /// The deadline of a whole call, when set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The longest wait for a stream's first event, when set.
    pub fn first_chunk_timeout(&self) -> Option<Duration> {
        self.first_chunk_timeout
    }

    /// The longest silence between two stream events, when set.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The timeout layer's settings: this role's timeouts over [`TimeoutConfig`]'s defaults.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a zero or over-long limit (a validated config
    /// has none).
    pub fn timeout_config(&self) -> Result<TimeoutConfig> {
        let mut builder = TimeoutConfig::builder();
        if let Some(t) = self.timeout {
            builder = builder.total(t);
        }
        if let Some(t) = self.first_chunk_timeout {
            builder = builder.first_chunk(t);
        }
        if let Some(t) = self.idle_timeout {
            builder = builder.idle(t);
        }
        builder.build()
    }

    /// The requests-per-minute limit, when set.
    pub fn rpm(&self) -> Option<u32> {
        self.rpm
    }

    /// The tokens-per-minute limit, when set.
    pub fn tpm(&self) -> Option<u32> {
        self.tpm
    }

    /// The price in USD per million tokens, when set.
    pub fn price(&self) -> Option<&ModelPrice> {
        self.price.as_ref()
    }

    /// What the provider does with a parameter the model's catalog entry says the API rejects (default
    /// [`ShapingPolicy::Drop`]: leave it out, with one warning per model).
    pub fn with_shaping(mut self, policy: ShapingPolicy) -> Self {
        self.shaping = Some(policy);
        self
    }

    /// Turns the pre-flight context check of the recommended stack off (`false`) or on (`true`, the
    /// default).
    pub fn with_context_check(mut self, enabled: bool) -> Self {
        self.context_check = Some(enabled);
        self
    }

    /// The shaping policy (default [`ShapingPolicy::Drop`]).
    pub fn shaping(&self) -> ShapingPolicy {
        self.shaping.unwrap_or_default()
    }

    /// Whether the recommended stack checks the context window before sending (default `true`).
    pub fn context_check(&self) -> bool {
        self.context_check.unwrap_or(true)
    }

    /// The embedding dimensions to request, when set.
    pub fn dimensions(&self) -> Option<u32> {
        self.dimensions
    }

    /// The pin check of this role's model ([`check_pinned`]).
    pub fn pinning(&self) -> Pinning {
        check_pinned(self.provider.as_str(), &self.model)
    }

    /// Every problem of this role, each a message starting with "role `name`: ".
    pub(crate) fn problems(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut bad = |msg: String| out.push(format!("role `{name}`: {msg}"));
        let model = self.model.trim();
        if model.is_empty() {
            bad("model is empty; name a pinned model id".to_owned());
        } else if model.len() != self.model.len() || model.chars().any(char::is_whitespace) {
            bad(format!("model {:?} contains whitespace", self.model));
        }
        if let Some(url) = &self.base_url {
            if !matches!(url.scheme(), Some("http" | "https")) {
                bad(format!(
                    "base_url {:?} must start with http:// or https://",
                    url.redacted()
                ));
            }
        } else if self.provider.default_base_url().is_none() {
            bad(format!(
                "provider {} has no default base URL; set base_url{}",
                self.provider,
                match self.provider {
                    ProviderKind::Azure => {
                        " to the deployment URL (https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT)"
                    }
                    _ => " (with the version path, such as http://localhost:8080/v1)",
                }
            ));
        }
        if let Some(var) = &self.api_key_env {
            if !is_var_name(var) {
                bad(format!(
                    "api_key_env {var:?} is not a variable name (letters, digits and _, not starting with a digit); it names the variable holding the key, not the key"
                ));
            }
        }
        match (self.provider, &self.api_version) {
            (ProviderKind::Azure, None) => bad(
                "provider azure needs api_version, the pinned Azure OpenAI API version (such as \"2024-10-21\")"
                    .to_owned(),
            ),
            (ProviderKind::Azure | ProviderKind::Anthropic, Some(v)) if v.trim().is_empty() => {
                bad("api_version is empty".to_owned())
            }
            (ProviderKind::Azure | ProviderKind::Anthropic, _) | (_, None) => {}
            (other, Some(_)) => bad(format!(
                "api_version applies to azure and anthropic only, not to {other}"
            )),
        }
        if let Some(t) = self.temperature {
            let max = if self.provider == ProviderKind::Anthropic {
                1.0
            } else {
                2.0
            };
            if !(t.is_finite() && (0.0..=max).contains(&t)) {
                bad(format!(
                    "temperature {t} is outside 0..={max} (the range {} accepts)",
                    self.provider
                ));
            }
        }
        for (field, value) in [
            ("max_tokens", self.max_tokens),
            ("rpm", self.rpm),
            ("tpm", self.tpm),
            ("dimensions", self.dimensions),
        ] {
            if value == Some(0) {
                bad(format!("{field} must be greater than 0"));
            }
        }
        for (field, value) in [
            ("timeout", self.timeout),
            ("first_chunk_timeout", self.first_chunk_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            match value {
                Some(d) if d.is_zero() => bad(format!("{field} must be greater than 0")),
                Some(d) if d > MAX_TIMEOUT => bad(format!("{field} must be at most a year")),
                _ => {}
            }
        }
        if let Some(price) = &self.price {
            let prices = [
                ("input", Some(price.input)),
                ("output", Some(price.output)),
                ("cached_input", price.cached_input),
                ("cache_write", price.cache_write),
            ];
            for (field, value) in prices {
                if value.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
                    bad(format!(
                        "price.{field} must be a finite number of USD per million tokens, at least 0"
                    ));
                }
            }
        }
        if self.dimensions.is_some() && matches!(name, "primary" | "fallback") {
            bad(
                "dimensions applies to embedding roles, not to the chat roles primary and fallback"
                    .to_owned(),
            );
        }
        out
    }
}

/// Whether `name` can be an environment variable's name.
pub(crate) fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A role as written in a file, a profile section or variables: every field optional. A full role needs
/// `provider` and `model`; an override sets only what it changes.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleDoc {
    pub(crate) provider: Option<ProviderKind>,
    pub(crate) model: Option<String>,
    pub(crate) base_url: Option<SecretUrl>,
    pub(crate) api_key_env: Option<String>,
    pub(crate) api_version: Option<String>,
    pub(crate) temperature: Option<f32>,
    pub(crate) max_tokens: Option<u32>,
    #[serde(default, deserialize_with = "duration::option")]
    pub(crate) timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration::option")]
    pub(crate) first_chunk_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration::option")]
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) rpm: Option<u32>,
    pub(crate) tpm: Option<u32>,
    pub(crate) price: Option<ModelPrice>,
    pub(crate) dimensions: Option<u32>,
    pub(crate) shaping: Option<ShapingPolicy>,
    pub(crate) context_check: Option<bool>,
}

impl RoleDoc {
    /// Applies this override to `base` (or builds a new role when there is none).
    ///
    /// A new `provider` resets what belongs to the old one (base URL, key variable, API version, rate
    /// limits, price) and needs a `model` too; a new `model` drops the price (it was the old model's).
    /// Parameters (temperature, max tokens, timeouts, dimensions) carry over. The error is the part of
    /// a message after "role `name`: ".
    pub(crate) fn apply(&self, base: Option<&ModelRole>) -> std::result::Result<ModelRole, String> {
        let mut role = match base {
            None => match (self.provider, &self.model) {
                (Some(provider), Some(model)) => ModelRole::new(provider, model.clone()),
                (provider, _) => {
                    let missing = if provider.is_none() {
                        "provider"
                    } else {
                        "model"
                    };
                    return Err(format!(
                        "{missing} is missing; a role needs provider and model"
                    ));
                }
            },
            Some(base) => {
                let mut role = base.clone();
                if let Some(provider) = self.provider.filter(|p| *p != base.provider) {
                    if self.model.is_none() {
                        return Err(format!(
                            "provider changes from {} to {provider} but no model is given; set model too",
                            base.provider
                        ));
                    }
                    role = ModelRole {
                        temperature: base.temperature,
                        max_tokens: base.max_tokens,
                        timeout: base.timeout,
                        first_chunk_timeout: base.first_chunk_timeout,
                        idle_timeout: base.idle_timeout,
                        dimensions: base.dimensions,
                        shaping: base.shaping,
                        context_check: base.context_check,
                        ..ModelRole::new(provider, base.model.clone())
                    };
                }
                if let Some(model) = self.model.as_ref().filter(|m| **m != base.model) {
                    role.model = model.clone();
                    role.price = None;
                }
                role
            }
        };
        let d = self.clone();
        role.base_url = d.base_url.or(role.base_url);
        role.api_key_env = d.api_key_env.or(role.api_key_env);
        role.api_version = d.api_version.or(role.api_version);
        role.temperature = d.temperature.or(role.temperature);
        role.max_tokens = d.max_tokens.or(role.max_tokens);
        role.timeout = d.timeout.or(role.timeout);
        role.first_chunk_timeout = d.first_chunk_timeout.or(role.first_chunk_timeout);
        role.idle_timeout = d.idle_timeout.or(role.idle_timeout);
        role.rpm = d.rpm.or(role.rpm);
        role.tpm = d.tpm.or(role.tpm);
        role.price = d.price.or(role.price);
        role.dimensions = d.dimensions.or(role.dimensions);
        role.shaping = d.shaping.or(role.shaping);
        role.context_check = d.context_check.or(role.context_check);
        Ok(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ModelRole {
        ModelRole::new(ProviderKind::OpenAi, "gpt-4o-2024-08-06")
            .with_base_url("https://gw.example/v1")
            .with_temperature(0.2)
            .with_rpm(500)
            .with_price(ModelPrice::new(2.5, 10.0))
    }

    #[test]
    fn new_provider_resets_what_belonged_to_the_old_one() {
        let doc = RoleDoc {
            provider: Some(ProviderKind::Ollama),
            model: Some("llama3.1:8b-instruct-q4_0".into()),
            ..RoleDoc::default()
        };
        let role = doc.apply(Some(&base())).unwrap();
        assert_eq!(role.provider(), ProviderKind::Ollama);
        assert_eq!(role.base_url(), None);
        assert_eq!(role.effective_base_url(), Some("http://localhost:11434/v1"));
        assert_eq!(role.rpm(), None);
        assert_eq!(role.price(), None);
        assert_eq!(role.temperature(), Some(0.2));
    }

    #[test]
    fn new_model_drops_the_price_only() {
        let doc = RoleDoc {
            model: Some("gpt-4o-mini-2024-07-18".into()),
            ..RoleDoc::default()
        };
        let role = doc.apply(Some(&base())).unwrap();
        assert_eq!(role.price(), None);
        assert_eq!(role.rpm(), Some(500));
        assert!(role.base_url().is_some());
        let same = RoleDoc {
            model: Some("gpt-4o-2024-08-06".into()),
            ..RoleDoc::default()
        };
        assert!(same.apply(Some(&base())).unwrap().price().is_some());
    }

    #[test]
    fn incomplete_roles_are_refused() {
        let doc = RoleDoc {
            provider: Some(ProviderKind::Anthropic),
            ..RoleDoc::default()
        };
        assert!(
            doc.apply(Some(&base()))
                .unwrap_err()
                .contains("set model too")
        );
        assert!(doc.apply(None).unwrap_err().contains("model is missing"));
        let no_provider = RoleDoc {
            model: Some("m".into()),
            ..RoleDoc::default()
        };
        assert!(
            no_provider
                .apply(None)
                .unwrap_err()
                .contains("provider is missing")
        );
    }
}
