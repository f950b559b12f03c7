//! [`AnthropicConfig`] and its builder: model, key, base URL, API version, default output limit, beta
//! flags, extra headers and transport options.

use std::fmt;
use std::sync::Arc;

use crate::llm::catalog::Catalog;
use crate::llm::{HttpOptions, ShapingPolicy};
use crate::{Error, Result, Secret};

/// The official endpoint. Like the `ANTHROPIC_BASE_URL` variable of the official SDKs it has no version
/// path: the provider appends `/v1/messages`.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` sent unless the builder sets another: `2023-06-01` is the version every Messages
/// API feature of this crate is written and tested against, and every Anthropic model still accepts it
/// (newer features come through `anthropic-beta` flags). `2026-10-21`, which the official SDKs' 2026
/// majors send, changes the auth header and refuses sampling parameters on every model; pin it with
/// [`AnthropicConfigBuilder::version`] once your host is ready for that.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The output limit sent when a request sets none: the Messages API requires `max_tokens` on every call.
/// 4096 fits every current model's output limit and a long answer, and keeps a runaway generation cheap.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 4096;

/// The provider name reported unless the builder sets another (`gen_ai.provider.name`).
pub(crate) const DEFAULT_PROVIDER_NAME: &str = "anthropic";

/// The host of the official API, where a missing key can only be a mistake.
const OFFICIAL_HOST: &str = "api.anthropic.com";

/// The configuration of an [`Anthropic`](super::Anthropic) provider, checked by
/// [`AnthropicConfigBuilder::build`].
///
/// `Debug` shows neither the API key nor the values of extra headers.
///
/// ```
/// use twelve_factor_ai::llm::AnthropicConfig;
///
/// let config = AnthropicConfig::builder()
///     .model("claude-sonnet-4-20250514")
///     .api_key("sk-ant-example")
///     .build()?;
/// assert_eq!(config.base_url(), "https://api.anthropic.com");
/// assert_eq!(config.version(), "2023-06-01");
/// assert_eq!(config.max_tokens(), 4096);
/// assert!(!format!("{config:?}").contains("sk-ant-example"));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Clone)]
pub struct AnthropicConfig {
    pub(crate) model: String,
    pub(crate) api_key: Option<Secret>,
    pub(crate) base_url: String,
    pub(crate) version: String,
    pub(crate) max_tokens: u32,
    pub(crate) betas: Vec<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) http: HttpOptions,
    pub(crate) provider_name: String,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) shaping: ShapingPolicy,
}

impl AnthropicConfig {
    /// A builder with nothing set; [`AnthropicConfigBuilder::build`] reports what is missing.
    pub fn builder() -> AnthropicConfigBuilder {
        AnthropicConfigBuilder::default()
    }

    /// The configuration from `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` and `MODEL`
    /// ([`AnthropicConfigBuilder::from_env`], then [`build`](AnthropicConfigBuilder::build)).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the first missing or bad value.
    pub fn from_env() -> Result<AnthropicConfig> {
        AnthropicConfigBuilder::from_env().build()
    }

    /// The pinned model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether an API key is set (it is sent as `x-api-key`, or `Authorization: Bearer` with
    /// `anthropic-version` 2026-10-21).
    pub fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// The base URL, without a trailing slash (`https://api.anthropic.com`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The `anthropic-version` header value.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The output limit used when a request sets none.
    pub fn max_tokens(&self) -> u32 {
        self.max_tokens
    }

    /// The `anthropic-beta` flags, in the order they were added.
    pub fn betas(&self) -> &[String] {
        &self.betas
    }

    /// The transport options.
    pub fn http(&self) -> &HttpOptions {
        &self.http
    }

    /// The provider name reported in responses, errors and metrics.
    pub fn provider_name(&self) -> &str {
        &self.provider_name
    }

    /// The model catalog requests are shaped by (default [`Catalog::builtin`]).
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// What happens to a parameter the called model or the pinned version does not accept (default
    /// [`ShapingPolicy::Drop`]).
    pub fn shaping(&self) -> ShapingPolicy {
        self.shaping
    }

    /// The provider names the catalog is searched under, in order: this provider's name, then
    /// `"anthropic"` (an instance renamed to tell two apart still calls Anthropic's models).
    pub fn catalog_providers(&self) -> Vec<&str> {
        let mut names = vec![self.provider_name.as_str()];
        if self.provider_name != DEFAULT_PROVIDER_NAME {
            names.push(DEFAULT_PROVIDER_NAME);
        }
        names
    }
}

/// Shows header names with their values redacted: extra headers often carry a proxy's credentials.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "[REDACTED]")))
            .finish()
    }
}

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("base_url", &crate::llm::http::redact_url(&self.base_url))
            .field("version", &self.version)
            .field("max_tokens", &self.max_tokens)
            .field("betas", &self.betas)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("http", &self.http)
            .field("provider_name", &self.provider_name)
            .field("catalog_entries", &self.catalog.len())
            .field("shaping", &self.shaping)
            .finish()
    }
}

/// Builds an [`AnthropicConfig`]. Setters never fail; [`build`](AnthropicConfigBuilder::build) reports the
/// first bad value. Nothing here reads the environment except [`from_env`](AnthropicConfigBuilder::from_env).
///
/// ```
/// use std::collections::HashMap;
/// use std::time::Duration;
/// use twelve_factor_ai::llm::{AnthropicConfigBuilder, HttpOptions};
///
/// // In production: AnthropicConfigBuilder::from_env(). Tests pass a map instead.
/// let env = HashMap::from([
///     ("ANTHROPIC_API_KEY", "sk-ant-example"),
///     ("MODEL", "claude-sonnet-4-20250514"),
///     ("ANTHROPIC_BASE_URL", ""), // empty counts as unset
/// ]);
/// let config = AnthropicConfigBuilder::from_env_vars(|name| env.get(name).map(|v| v.to_string()))
///     .max_tokens(1024)
///     .beta("prompt-caching-2024-07-31")
///     .http(HttpOptions::default().request_timeout(Duration::from_secs(120)))
///     .build()?;
/// assert_eq!(config.base_url(), "https://api.anthropic.com");
/// assert_eq!(config.max_tokens(), 1024);
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct AnthropicConfigBuilder {
    model: Option<String>,
    api_key: Option<Secret>,
    base_url: Option<String>,
    version: Option<String>,
    max_tokens: Option<u32>,
    betas: Vec<String>,
    headers: Vec<(String, String)>,
    http: Option<HttpOptions>,
    provider_name: Option<String>,
    catalog: Option<Arc<Catalog>>,
    shaping: Option<ShapingPolicy>,
}

impl fmt::Debug for AnthropicConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicConfigBuilder")
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field(
                "base_url",
                &self.base_url.as_deref().map(crate::llm::http::redact_url),
            )
            .field("version", &self.version)
            .field("max_tokens", &self.max_tokens)
            .field("betas", &self.betas)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("http", &self.http)
            .field("provider_name", &self.provider_name)
            .field("shaping", &self.shaping)
            .finish_non_exhaustive()
    }
}

impl AnthropicConfigBuilder {
    /// A builder preset from `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` and `MODEL`, read through `lookup`
    /// (a map in tests). A variable that is unset, empty or only whitespace is left unset; surrounding
    /// whitespace (a trailing newline from a secrets file) is trimmed.
    pub fn from_env_vars(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        AnthropicConfigBuilder {
            model: var("MODEL"),
            api_key: var("ANTHROPIC_API_KEY").map(Secret::new),
            base_url: var("ANTHROPIC_BASE_URL"),
            ..AnthropicConfigBuilder::default()
        }
    }

    /// A builder preset from the process environment ([`from_env_vars`](Self::from_env_vars) over
    /// [`std::env::var`]).
    pub fn from_env() -> Self {
        Self::from_env_vars(|name| std::env::var(name).ok())
    }

    /// The pinned model (required), such as `claude-sonnet-4-20250514`.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The API key, sent as `x-api-key` (as `Authorization: Bearer` with `anthropic-version` 2026-10-21).
    /// Required for the official endpoint; an empty key counts as none.
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The base URL without version path. Default `https://api.anthropic.com`; a trailing slash is
    /// accepted. Requests go to `{base_url}/v1/messages`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The `anthropic-version` header, pinned. Default `2023-06-01`: the version every Messages API feature
    /// of this crate is written against, which every Anthropic model still accepts; newer features are
    /// enabled with [`beta`](Self::beta) flags.
    ///
    /// The version decides the request rules: with `2026-10-21` the key is sent as
    /// `Authorization: Bearer` instead of `x-api-key`, and `temperature` / `top_p` are left out on every
    /// model (or refused, with [`ShapingPolicy::Strict`]). A version this crate does not know gets the
    /// rules of the newest known version at or before its date, with one warning when the provider is
    /// built.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The output limit sent when a request sets no `max_tokens` (the Messages API requires one).
    /// Default 4096: within every current model's output limit, enough for a long answer, and a cap on
    /// what a runaway generation costs. Must be at least 1.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Adds an `anthropic-beta` flag (`"prompt-caching-2024-07-31"`); several are sent comma-separated.
    pub fn beta(mut self, flag: impl Into<String>) -> Self {
        self.betas.push(flag.into());
        self
    }

    /// Adds a header to every request (a proxy's credentials, a tracing header). It replaces a default
    /// header of the same name. Values are marked sensitive and never shown in `Debug`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Transport options: timeouts and size limits (default [`HttpOptions::default`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = Some(options);
        self
    }

    /// The provider name reported in responses, errors and metrics. Default `"anthropic"`; set another to
    /// tell apart two instances, or an Anthropic-compatible server.
    pub fn provider_name(mut self, name: impl Into<String>) -> Self {
        self.provider_name = Some(name.into());
        self
    }

    /// The model catalog that shapes requests (default [`Catalog::builtin`]); an empty catalog
    /// (`Arc::new(Catalog::new())`) sends every request as given, except for the version's rules.
    pub fn catalog(mut self, catalog: Arc<Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// What happens to a parameter the called model or the pinned version does not accept (default
    /// [`ShapingPolicy::Drop`]: left out, with one warning per model and parameter).
    pub fn shaping(mut self, policy: ShapingPolicy) -> Self {
        self.shaping = Some(policy);
        self
    }

    /// Checks the settings and returns the configuration.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the first problem: no model; no API key for
    /// the official endpoint; a base URL that is not `http(s)://host[/path]`; an empty version; a zero
    /// `max_tokens`; an invalid beta flag, header name or header value; invalid HTTP options; an empty
    /// provider name.
    pub fn build(self) -> Result<AnthropicConfig> {
        let model = self
            .model
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                Error::config(
                    "no Anthropic model is set: call AnthropicConfigBuilder::model or set MODEL \
                     (a pinned model such as claude-sonnet-4-20250514)",
                )
            })?;
        let base_url = normalize_base_url(self.base_url.as_deref().unwrap_or(ANTHROPIC_BASE_URL))?;
        let api_key = self.api_key.filter(|k| !k.is_empty());
        if api_key.is_none() && is_official(&base_url) {
            return Err(Error::config(
                "no Anthropic API key: set ANTHROPIC_API_KEY or call AnthropicConfigBuilder::api_key",
            ));
        }
        let version = self.version.unwrap_or_else(|| ANTHROPIC_VERSION.to_owned());
        if version.trim().is_empty() {
            return Err(Error::config(
                "the anthropic-version must not be empty (the default is 2023-06-01)",
            ));
        }
        let max_tokens = self.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS);
        if max_tokens == 0 {
            return Err(Error::config("the default max_tokens must be at least 1"));
        }
        for flag in &self.betas {
            if flag.trim().is_empty() || flag.contains(',') {
                return Err(Error::config(format!(
                    "anthropic-beta flag {flag:?} is invalid: give one non-empty flag per call to beta()"
                )));
            }
        }
        let provider_name = self
            .provider_name
            .unwrap_or_else(|| DEFAULT_PROVIDER_NAME.to_owned());
        if provider_name.is_empty() {
            return Err(Error::config("the provider name must not be empty"));
        }
        let http = self.http.unwrap_or_default();
        http.validate()?;
        let config = AnthropicConfig {
            model,
            api_key,
            base_url,
            version,
            max_tokens,
            betas: self.betas,
            headers: self.headers,
            http,
            provider_name,
            catalog: self.catalog.unwrap_or_else(Catalog::builtin),
            shaping: self.shaping.unwrap_or_default(),
        };
        // Header names and values are checked here, so `Anthropic::new` has nothing left to refuse.
        super::default_headers(&config)?;
        Ok(config)
    }
}

/// Checks a base URL and removes trailing slashes. The error never shows the URL, which may carry
/// credentials in its user-info part.
fn normalize_base_url(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| {
        Error::config(format!(
            "the Anthropic base URL is not a valid URL ({e}); use the form https://api.anthropic.com"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "the Anthropic base URL must use http or https, not {:?}",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::config("the Anthropic base URL has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::config(
            "the Anthropic base URL must not have a query or fragment: the provider appends /v1/messages",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Whether the (checked) base URL points at the official API.
fn is_official(base_url: &str) -> bool {
    reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(OFFICIAL_HOST)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ErrorKind;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn ok() -> AnthropicConfigBuilder {
        AnthropicConfig::builder()
            .model("claude-test")
            .api_key("sk-ant-secret-value")
    }

    #[test]
    fn defaults() {
        let c = ok().build().unwrap();
        assert_eq!(c.model(), "claude-test");
        assert_eq!(c.base_url(), "https://api.anthropic.com");
        assert_eq!(c.version(), "2023-06-01");
        assert_eq!(c.max_tokens(), 4096);
        assert_eq!(c.provider_name(), "anthropic");
        assert!(c.has_api_key());
        assert!(c.betas().is_empty());
        assert_eq!(c.http(), &HttpOptions::default());
    }

    #[test]
    fn base_url_trailing_slash_and_custom_hosts() {
        let c = ok()
            .base_url("http://127.0.0.1:8080/proxy/")
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:8080/proxy");
        // No key is fine for a gateway or a local server.
        let c = AnthropicConfig::builder()
            .model("m")
            .base_url("http://localhost:4000")
            .build()
            .unwrap();
        assert!(!c.has_api_key());
    }

    #[test]
    fn first_bad_value_is_reported() {
        let cases: Vec<(AnthropicConfigBuilder, &str)> = vec![
            (AnthropicConfig::builder().api_key("k"), "model"),
            (ok().model("  "), "model"),
            (AnthropicConfig::builder().model("m"), "API key"),
            (AnthropicConfig::builder().model("m").api_key(""), "API key"),
            (
                AnthropicConfig::builder()
                    .model("m")
                    .base_url("https://API.anthropic.com/"),
                "API key",
            ),
            (ok().base_url("ftp://example.com"), "http or https"),
            (ok().base_url("not a url"), "not a valid URL"),
            (ok().base_url("https://example.com/?x=1"), "query"),
            (ok().version(""), "anthropic-version"),
            (ok().max_tokens(0), "max_tokens"),
            (ok().beta(""), "beta"),
            (ok().beta("a,b"), "beta"),
            (ok().header("bad name", "v"), "header name"),
            (ok().header("x-ok", "line\nbreak"), "x-ok"),
            (ok().provider_name(""), "provider name"),
            (
                ok().http(HttpOptions::default().max_body_bytes(0)),
                "size limits",
            ),
        ];
        for (builder, needle) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            assert!(
                err.message().contains(needle),
                "{err} should mention {needle}"
            );
        }
    }

    #[test]
    fn bad_url_error_does_not_show_credentials() {
        let err = ok()
            .base_url("ftp://user:hunter2@example.com")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn from_env_vars_reads_and_treats_empty_as_unset() {
        let b = AnthropicConfigBuilder::from_env_vars(env(&[
            ("ANTHROPIC_API_KEY", "sk-ant-from-env\n"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/"),
            ("MODEL", "claude-env"),
        ]));
        let c = b.build().unwrap();
        assert_eq!(c.model(), "claude-env");
        assert_eq!(c.base_url(), "http://127.0.0.1:9");
        assert_eq!(
            c.api_key.as_ref().map(Secret::expose),
            Some("sk-ant-from-env")
        );

        // Empty variables are unset: the default URL is used, and the missing key is an error, never "".
        let err = AnthropicConfigBuilder::from_env_vars(env(&[
            ("ANTHROPIC_API_KEY", ""),
            ("ANTHROPIC_BASE_URL", ""),
            ("MODEL", "claude-env"),
        ]))
        .build()
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("ANTHROPIC_API_KEY"), "{err}");

        let err = AnthropicConfigBuilder::from_env_vars(env(&[("ANTHROPIC_API_KEY", "k")]))
            .build()
            .unwrap_err();
        assert!(err.message().contains("MODEL"), "{err}");

        // Explicit settings after from_env_vars win.
        let c = AnthropicConfigBuilder::from_env_vars(env(&[
            ("MODEL", "a"),
            ("ANTHROPIC_API_KEY", "k"),
        ]))
        .model("b")
        .build()
        .unwrap();
        assert_eq!(c.model(), "b");
    }

    #[test]
    fn debug_shows_no_secret() {
        let builder = ok().header("x-proxy-auth", "proxy-secret-token");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("sk-ant-secret-value"), "{shown}");
        assert!(!shown.contains("proxy-secret-token"), "{shown}");
        let c = builder.build().unwrap();
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("sk-ant-secret-value"), "{shown}");
        assert!(!shown.contains("proxy-secret-token"), "{shown}");
        assert!(shown.contains("x-proxy-auth"), "{shown}");
        assert!(shown.contains("claude-test"), "{shown}");
    }
}
