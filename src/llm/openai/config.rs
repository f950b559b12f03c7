//! [`OpenAiConfig`] and its builder.

use std::sync::Arc;

use crate::llm::catalog::Catalog;
use crate::llm::http::{header_name, header_value, redact_url};
use crate::llm::{HttpOptions, ShapingPolicy};
use crate::{Error, Result, Secret};

/// The official endpoint, with the version path (the OpenAI SDKs' `OPENAI_BASE_URL` convention).
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The largest number of inputs OpenAI accepts in one embeddings request.
pub const OPENAI_EMBEDDING_BATCH: usize = 2048;

/// Settings of an [`OpenAi`](super::OpenAi) provider. Build with [`OpenAiConfig::builder`]; nothing here
/// reads the environment unless you call one of the `from_env` functions.
///
/// `Debug` never shows the API key.
///
/// ```
/// use twelve_factor_ai::llm::OpenAiConfig;
///
/// // Ollama (or vLLM, llama.cpp server, LiteLLM, ...) through the same provider.
/// let cfg = OpenAiConfig::builder()
///     .model("llama3.2:3b-instruct-q4_K_M")
///     .base_url("http://localhost:11434/v1")
///     .provider_name("ollama")
///     .build()?;
/// assert_eq!(cfg.base_url(), "http://localhost:11434/v1");
///
/// // Azure OpenAI: the deployment URL, the `api-key` header and a pinned `api-version`.
/// let azure = OpenAiConfig::builder()
///     .model("gpt-4o-2024-08-06")
///     .base_url("https://my-resource.openai.azure.com/openai/deployments/my-gpt4o")
///     .api_key("azure-key")
///     .azure("2024-10-21")
///     .build()?;
/// assert!(!format!("{azure:?}").contains("azure-key"));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Clone)]
pub struct OpenAiConfig {
    pub(crate) model: String,
    pub(crate) embedding_model: Option<String>,
    pub(crate) api_key: Option<Secret>,
    pub(crate) base_url: String,
    pub(crate) organization: Option<String>,
    pub(crate) project: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) http: HttpOptions,
    pub(crate) provider_name: String,
    pub(crate) azure_api_version: Option<String>,
    pub(crate) embedding_batch_size: usize,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) shaping: ShapingPolicy,
}

impl std::fmt::Debug for OpenAiConfig {
    /// Shows settings, never secrets: the key is redacted, extra header values (they often carry a
    /// gateway's credentials) and user:password in the base URL too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, _)| (n.as_str(), "[REDACTED]"))
            .collect();
        f.debug_struct("OpenAiConfig")
            .field("model", &self.model)
            .field("embedding_model", &self.embedding_model)
            .field("api_key", &self.api_key)
            .field("base_url", &redact_url(&self.base_url))
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("headers", &headers)
            .field("http", &self.http)
            .field("provider_name", &self.provider_name)
            .field("azure_api_version", &self.azure_api_version)
            .field("embedding_batch_size", &self.embedding_batch_size)
            .field("catalog_entries", &self.catalog.len())
            .field("shaping", &self.shaping)
            .finish()
    }
}

impl OpenAiConfig {
    /// A builder with the defaults: the official endpoint, provider name `"openai"`, default
    /// [`HttpOptions`].
    pub fn builder() -> OpenAiConfigBuilder {
        OpenAiConfigBuilder::default()
    }

    /// Reads `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID` and `MODEL` from the
    /// environment and builds.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the missing or bad variable.
    pub fn from_env() -> Result<Self> {
        OpenAiConfigBuilder::from_env().build()
    }

    /// The pinned chat model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The embedding model: the one set with [`OpenAiConfigBuilder::embedding_model`], else [`model`](Self::model).
    pub fn embedding_model(&self) -> &str {
        self.embedding_model.as_deref().unwrap_or(&self.model)
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The provider name reported in responses, errors, logs and metrics.
    pub fn provider_name(&self) -> &str {
        &self.provider_name
    }

    /// The Azure OpenAI `api-version`, when this config targets Azure.
    pub fn azure_api_version(&self) -> Option<&str> {
        self.azure_api_version.as_deref()
    }

    /// The transport settings.
    pub fn http(&self) -> &HttpOptions {
        &self.http
    }

    /// The model catalog requests are shaped by (default [`Catalog::builtin`]).
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// What happens to a parameter the called model does not accept (default [`ShapingPolicy::Drop`]).
    pub fn shaping(&self) -> ShapingPolicy {
        self.shaping
    }

    /// The provider names the catalog is searched under, in order: this provider's name, then `"openai"`
    /// for OpenAI itself and for Azure OpenAI (which serves OpenAI's models). Other OpenAI-compatible
    /// servers (Ollama, vLLM, llama.cpp, LiteLLM: any other provider name) are looked up under their own
    /// name only, so they keep `max_tokens` and sampling unless the catalog has entries for them.
    pub fn catalog_providers(&self) -> Vec<&str> {
        let mut names = vec![self.provider_name.as_str()];
        if self.azure_api_version.is_some() && self.provider_name != "openai" {
            names.push("openai");
        }
        names
    }
}

/// Builds an [`OpenAiConfig`]; [`build`](OpenAiConfigBuilder::build) reports the first bad value.
#[derive(Clone, Default)]
pub struct OpenAiConfigBuilder {
    model: Option<String>,
    embedding_model: Option<String>,
    api_key: Option<Secret>,
    base_url: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    headers: Vec<(String, String)>,
    http: Option<HttpOptions>,
    provider_name: Option<String>,
    azure_api_version: Option<String>,
    embedding_batch_size: Option<usize>,
    catalog: Option<Arc<Catalog>>,
    shaping: Option<ShapingPolicy>,
}

impl std::fmt::Debug for OpenAiConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfigBuilder")
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url.as_deref().map(redact_url))
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("shaping", &self.shaping)
            .finish_non_exhaustive()
    }
}

impl OpenAiConfigBuilder {
    /// A builder filled from the process environment (see [`from_env_vars`](Self::from_env_vars)).
    pub fn from_env() -> Self {
        Self::from_env_vars(|name| std::env::var(name).ok())
    }

    /// A builder filled from `lookup`: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`,
    /// `OPENAI_PROJECT_ID` and `MODEL`. Empty values count as unset. Settings made after this call
    /// override what the environment said.
    pub fn from_env_vars(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        OpenAiConfigBuilder {
            model: get("MODEL"),
            api_key: get("OPENAI_API_KEY").map(Secret::new),
            base_url: get("OPENAI_BASE_URL"),
            organization: get("OPENAI_ORG_ID"),
            project: get("OPENAI_PROJECT_ID"),
            ..Self::default()
        }
    }

    /// The pinned chat model (required).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The model `embed` calls when a request names none (default: [`model`](Self::model)).
    pub fn embedding_model(mut self, model: impl Into<String>) -> Self {
        self.embedding_model = Some(model.into());
        self
    }

    /// The API key, sent as `Authorization: Bearer` (or `api-key` for Azure). Required for the official
    /// endpoint and Azure; optional for local servers that need none.
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL including the version path (`https://api.openai.com/v1`, `http://localhost:11434/v1`,
    /// or an Azure deployment URL). A trailing slash is accepted.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The `OpenAI-Organization` header.
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    /// The `OpenAI-Project` header.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// An extra header sent with every request (for gateways such as LiteLLM or a corporate proxy).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Transport settings: timeouts and size limits.
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = Some(options);
        self
    }

    /// The name reported as `gen_ai.provider.name` (default `"openai"`, or `"azure.ai.openai"` with
    /// [`azure`](Self::azure)); set it for compatible servers (`"ollama"`, `"vllm"`, `"groq"`, ...).
    pub fn provider_name(mut self, name: impl Into<String>) -> Self {
        self.provider_name = Some(name.into());
        self
    }

    /// Targets Azure OpenAI: the key goes in the `api-key` header and every URL carries
    /// `api-version=<version>`, pinned here (Azure has no default version: pin the one you tested, such
    /// as `2024-10-21`, the GA version). The base URL is the deployment URL
    /// (`https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT`).
    ///
    /// Requests are shaped by the catalog's `"openai"` entries (Azure serves OpenAI's models), found by
    /// [`model`](Self::model): set it to the deployed model's id (`gpt-4o-2024-08-06`), not the deployment
    /// name, or the model is unknown to the catalog and requests go out unshaped (with one warning).
    pub fn azure(mut self, api_version: impl Into<String>) -> Self {
        self.azure_api_version = Some(api_version.into());
        self
    }

    /// How many inputs go into one embeddings request (default and maximum for OpenAI: 2048). Longer
    /// lists are split into batches sent one after another.
    pub fn embedding_batch_size(mut self, size: usize) -> Self {
        self.embedding_batch_size = Some(size);
        self
    }

    /// The model catalog that shapes requests (default [`Catalog::builtin`]); pass a catalog merged with
    /// the host's own entries, or an empty one (`Arc::new(Catalog::new())`) to send every request as
    /// given.
    pub fn catalog(mut self, catalog: Arc<Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// What happens to a parameter the called model does not accept (default
    /// [`ShapingPolicy::Drop`]: left out, with one warning per model and parameter).
    pub fn shaping(mut self, policy: ShapingPolicy) -> Self {
        self.shaping = Some(policy);
        self
    }

    /// Checks the settings and builds the config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the first bad value: no model, a base URL
    /// that is not http(s), no key for the official endpoint or Azure, a bad header, bad limits.
    pub fn build(self) -> Result<OpenAiConfig> {
        let model = self
            .model
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| Error::config("OpenAI: no model set (set MODEL or call .model(..))"))?;
        let base_url = self
            .base_url
            .unwrap_or_else(|| OPENAI_BASE_URL.to_owned())
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::config(format!(
                "OpenAI: base URL {base_url:?} must start with http:// or https://"
            )));
        }
        let api_key = self.api_key.filter(|k| !k.is_empty());
        let official = base_url.starts_with("https://api.openai.com");
        if api_key.is_none() && (official || self.azure_api_version.is_some()) {
            return Err(Error::config(
                "OpenAI: no API key set for an endpoint that requires one (set OPENAI_API_KEY or call .api_key(..))",
            ));
        }
        for (name, value) in &self.headers {
            header_name(name)?;
            header_value(name, value, false)?;
        }
        for (name, value) in [
            ("OpenAI-Organization", &self.organization),
            ("OpenAI-Project", &self.project),
        ] {
            if let Some(v) = value {
                header_value(name, v, false)?;
            }
        }
        if let Some(key) = &api_key {
            header_value("authorization", key.expose(), true)?;
        }
        let embedding_batch_size = self.embedding_batch_size.unwrap_or(OPENAI_EMBEDDING_BATCH);
        if embedding_batch_size == 0 {
            return Err(Error::config(
                "OpenAI: embedding_batch_size must be at least 1",
            ));
        }
        let http = self.http.unwrap_or_default();
        http.validate()?;
        let provider_name = self.provider_name.unwrap_or_else(|| {
            if self.azure_api_version.is_some() {
                "azure.ai.openai".to_owned()
            } else {
                "openai".to_owned()
            }
        });
        Ok(OpenAiConfig {
            model,
            embedding_model: self.embedding_model,
            api_key,
            base_url,
            organization: self.organization,
            project: self.project,
            headers: self.headers,
            http,
            provider_name,
            azure_api_version: self.azure_api_version,
            embedding_batch_size,
            catalog: self.catalog.unwrap_or_else(Catalog::builtin),
            shaping: self.shaping.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn from_env_vars_reads_the_sdk_variables() {
        let cfg = OpenAiConfigBuilder::from_env_vars(env(&[
            ("OPENAI_API_KEY", "sk-test-123456"),
            ("OPENAI_BASE_URL", "http://localhost:11434/v1/"),
            ("MODEL", "llama3.2:3b"),
            ("OPENAI_ORG_ID", "org-1"),
        ]))
        .build()
        .unwrap();
        assert_eq!(cfg.model(), "llama3.2:3b");
        assert_eq!(cfg.base_url(), "http://localhost:11434/v1");
        assert_eq!(cfg.organization.as_deref(), Some("org-1"));
        assert!(!format!("{cfg:?}").contains("sk-test-123456"));
    }

    #[test]
    fn missing_or_bad_settings_are_config_errors() {
        let cases = [
            (
                OpenAiConfigBuilder::from_env_vars(env(&[("OPENAI_API_KEY", "k")])),
                "no model",
            ),
            (OpenAiConfig::builder().model("m"), "no API key"),
            (
                OpenAiConfigBuilder::from_env_vars(env(&[("MODEL", "m"), ("OPENAI_API_KEY", "")])),
                "no API key",
            ),
            (
                OpenAiConfig::builder()
                    .model("m")
                    .base_url("localhost:8000"),
                "http://",
            ),
            (
                OpenAiConfig::builder()
                    .model("m")
                    .base_url("https://x.openai.azure.com/openai/deployments/d")
                    .azure("2024-10-21"),
                "no API key",
            ),
            (
                OpenAiConfig::builder()
                    .model("m")
                    .base_url("http://h/v1")
                    .header("bad header", "v"),
                "header name",
            ),
            (
                OpenAiConfig::builder()
                    .model("m")
                    .base_url("http://h/v1")
                    .embedding_batch_size(0),
                "embedding_batch_size",
            ),
        ];
        for (builder, needle) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(
                err.to_string().contains(needle),
                "{err} should mention {needle}"
            );
        }
    }

    #[test]
    fn debug_shows_no_credentials() {
        let cfg = OpenAiConfig::builder()
            .model("m")
            .base_url("https://user:hunter2@gateway.example/v1")
            .api_key("sk-live-secret-123")
            .header("Helicone-Auth", "Bearer sk-helicone-secret")
            .build()
            .unwrap();
        let text = format!("{cfg:?}");
        for secret in ["hunter2", "sk-live-secret-123", "sk-helicone-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("Helicone-Auth"));
        let builder = format!(
            "{:?}",
            OpenAiConfig::builder()
                .api_key("sk-live-secret-123")
                .header("x", "sk-h")
        );
        assert!(
            !builder.contains("sk-live-secret-123") && !builder.contains("sk-h\""),
            "{builder}"
        );
    }

    #[test]
    fn local_servers_need_no_key() {
        let cfg = OpenAiConfig::builder()
            .model("m")
            .base_url("http://127.0.0.1:8000/v1")
            .build()
            .unwrap();
        assert!(cfg.api_key.is_none());
        assert_eq!(cfg.provider_name(), "openai");
    }
}
