//! [`Settings`]: everything the recommended stack is built from, resolved from defaults, the model config
//! file, the profile and the environment (factor III), in that order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::doc::SettingsPatch;
use crate::config::env::{
    self, DEFAULT_MODELS_CONFIG, EnvLayer, Lookup, ModelsConfigVar, RoleVars,
};
use crate::config::model::problems_error;
use crate::config::role::RoleDoc;
use crate::config::{ModelConfig, ModelRole, PinPolicy, Profile, ProviderKind, SecretUrl};
use crate::layer::cache::CacheConfig;
use crate::layer::logging::ContentPolicy;
use crate::{Result, Secret};

/// The prompt folder when neither the file nor `PROMPTS_DIR` names one.
pub const DEFAULT_PROMPTS_DIR: &str = "prompts";

/// The settings of a service: its profile, its model roles with their keys, and its backing services.
///
/// Three ways to get one, none of which reads anything behind your back:
/// - [`Settings::new`] / [`Default`]: dev profile, no roles, every default below; reads nothing.
/// - [`Settings::builder`]: set values (and a [`ModelConfig`] you loaded) in code; reads nothing.
/// - [`Settings::from_env`] (or [`from_env_vars`](Settings::from_env_vars) with your own lookup, for
///   tests): reads the variables below and the model config file.
///
/// Each value comes from the last layer that sets it: **defaults, then the file's top level, then the
/// profile's section, then the environment** (or the builder's setters). Empty variables count as unset.
///
/// | variable | file key | default | what |
/// |---|---|---|---|
/// | `TFA_PROFILE`, else `APP_ENV` | | `dev` | the [`Profile`] |
/// | `MODELS_CONFIG` | | `models.toml` if it exists, else none | the model config file (`.toml`, `.yaml`, `.yml`); `none` for no file |
/// | `TFA_PIN_POLICY` | `pin_policy` | deny in prod, warn elsewhere | [`PinPolicy`] |
/// | `LLM_PROVIDER`, `MODEL`, `TEMPERATURE`, `MAX_TOKENS` | `[models.primary]` | provider `openai` when the file has no primary role | the `primary` role |
/// | `FALLBACK_PROVIDER`, `FALLBACK_MODEL` | `[models.fallback]` | provider `openai` when new | the `fallback` role |
/// | `EMBEDDING_PROVIDER`, `EMBEDDING_MODEL` | `[models.embedding]` | provider `openai` when new | the `embedding` role |
/// | `OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL` | `base_url` of a role | per provider | base URL of every role of that provider |
/// | `LLM_TIMEOUT`, `LLM_FIRST_CHUNK_TIMEOUT`, `LLM_IDLE_TIMEOUT` | `timeout`, ... of a role | 60 s, 30 s, 30 s | timeouts of every role |
/// | the role's `api_key_env` (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `AZURE_OPENAI_API_KEY`) | only the variable's name | none | each role's key |
/// | `ENABLE_CACHING` | `enable_caching` | `false` | whether the stack has a response cache (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`) |
/// | `CACHE_TTL_SECONDS` | `cache_ttl` | 1 hour ([`CacheConfig::DEFAULT_TTL`]) | cache entry lifetime |
/// | `REDIS_URL` | `redis_url` | none | Redis (`redis://`, `rediss://`, `redis+unix://`, `unix://`) |
/// | `DATABASE_URL` | `database_url` | none | PostgreSQL (`postgres://`, `postgresql://`) |
/// | `VECTOR_STORE_URL` | `vector_store_url` | none (in-memory) | the vector store, any `scheme://` |
/// | `CONVERSATION_STORE_URL` | `conversation_store_url` | `REDIS_URL`, else `DATABASE_URL`, else none (in-memory) | the conversation store (Redis, PostgreSQL or `memory://`) |
/// | `PROMPTS_DIR` | `prompts_dir` | `prompts` | the prompt folder |
/// | `LOG_CONTENT` | `log_content` | `none` | prompt and answer text in logs: `none`, `hash`, `full` (2000 characters) or `full:<max chars>` |
///
/// Why these defaults: caching is opt-in because it changes behaviour (repeated answers); logs carry no
/// text unless asked (prompts hold personal data); the conversation store follows Redis first because
/// appending turns is a hot key-value workload.
///
/// Variables override roles field by field like a profile does (see [`ModelConfig`]): a new provider
/// needs a model, a new model drops the file's price. Keys are read only from the environment (the file
/// names the variable), trimmed, and never empty: a missing key is `None` here and an error only when the
/// role is used, so a service that never embeds needs no embedding key.
///
/// Every invalid value is reported at once, in one [`Config`](crate::ErrorKind::Config) error naming
/// each variable or key and the expected form; values of keys and URLs never appear (URLs only with
/// their credentials redacted). `Debug` redacts keys and URL credentials.
///
/// ```
/// use std::collections::HashMap;
/// use twelve_factor_ai::config::{ModelConfig, Profile, Settings};
///
/// let vars = HashMap::from([
///     ("MODELS_CONFIG", "none"),
///     ("APP_ENV", "staging"),
///     ("LLM_PROVIDER", "anthropic"),
///     ("MODEL", "claude-sonnet-4-5-20250929"),
///     ("ANTHROPIC_API_KEY", "sk-ant-secret"),
///     ("REDIS_URL", "redis://:hunter2@cache:6379/0"),
///     ("ENABLE_CACHING", "yes"),
/// ]);
/// let settings = Settings::from_env_vars(|name| vars.get(name).map(|v| v.to_string()))?;
/// assert_eq!(settings.profile(), &Profile::Staging);
/// assert_eq!(settings.role(ModelConfig::PRIMARY).unwrap().model(), "claude-sonnet-4-5-20250929");
/// assert_eq!(settings.api_key(ModelConfig::PRIMARY).unwrap().expose(), "sk-ant-secret");
/// assert!(settings.enable_caching());
/// // The conversation store follows REDIS_URL.
/// assert_eq!(settings.conversation_store_url(), settings.redis_url());
/// let debug = format!("{settings:?}");
/// assert!(!debug.contains("sk-ant-secret") && !debug.contains("hunter2"));
///
/// let bad = HashMap::from([("MODELS_CONFIG", "none"), ("TEMPERATURE", "abc"), ("MAX_TOKENS", "0")]);
/// let err = Settings::from_env_vars(|name| bad.get(name).map(|v| v.to_string())).unwrap_err();
/// assert!(err.to_string().contains(r#"TEMPERATURE="abc" is not a number between 0 and 2"#));
/// assert!(err.to_string().contains(r#"MAX_TOKENS="0""#));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Settings {
    profile: Profile,
    pin_policy: PinPolicy,
    models: ModelConfig,
    api_keys: BTreeMap<String, Secret>,
    enable_caching: bool,
    cache_ttl: Duration,
    redis_url: Option<SecretUrl>,
    database_url: Option<SecretUrl>,
    vector_store_url: Option<SecretUrl>,
    conversation_store_url: Option<SecretUrl>,
    prompts_dir: PathBuf,
    models_config: Option<PathBuf>,
    log_content: ContentPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        let mut models = ModelConfig::default();
        models.set_profile(Profile::Dev);
        Settings {
            profile: Profile::Dev,
            pin_policy: Profile::Dev.default_pin_policy(),
            models,
            api_keys: BTreeMap::new(),
            enable_caching: false,
            cache_ttl: CacheConfig::DEFAULT_TTL,
            redis_url: None,
            database_url: None,
            vector_store_url: None,
            conversation_store_url: None,
            prompts_dir: PathBuf::from(DEFAULT_PROMPTS_DIR),
            models_config: None,
            log_content: ContentPolicy::None,
        }
    }
}

impl Settings {
    /// The defaults (see the table on [`Settings`]); reads nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder starting from the defaults; reads nothing.
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::default()
    }

    /// Reads the process environment and the model config file (see
    /// [`from_env_vars`](Self::from_env_vars)).
    ///
    /// # Errors
    /// As [`from_env_vars`](Self::from_env_vars).
    pub fn from_env() -> Result<Settings> {
        Self::from_env_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables in the table on [`Settings`] through `lookup`, loads the model config file
    /// (`MODELS_CONFIG`, else `models.toml` in the working directory if it exists), applies the profile's
    /// section, then the variables, validates everything and applies the pin check under the resulting
    /// policy.
    ///
    /// # Errors
    /// One [`Config`](crate::ErrorKind::Config) error listing every problem: a bad variable (named, with
    /// the expected form), an unreadable or invalid file (with file, line and column), an undefined
    /// custom profile, invalid roles, and floating model ids when the pin policy is deny.
    pub fn from_env_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let env = env::read(&lookup);
        let mut problems = env.problems.clone();
        let (path, explicit) = match &env.models_config {
            ModelsConfigVar::Default => {
                let default = Path::new(DEFAULT_MODELS_CONFIG);
                (default.is_file().then(|| default.to_path_buf()), false)
            }
            ModelsConfigVar::None => (None, false),
            ModelsConfigVar::Path(p) => (Some(p.clone()), true),
        };
        let config = match &path {
            Some(p) => match ModelConfig::load(p) {
                Ok(config) => Some(config),
                Err(e) => {
                    let via = if explicit {
                        " (from MODELS_CONFIG)"
                    } else {
                        ""
                    };
                    problems.push(format!("{}{via}", e.message()));
                    // Without the file the roles cannot be resolved; report what is known.
                    return Err(problems_error("settings", problems).unwrap_or_else(|| e.clone()));
                }
            },
            None => None,
        };
        let EnvLayer {
            profile,
            settings,
            roles,
            base_urls,
            timeouts,
            ..
        } = env;
        assemble(Assembly {
            profile,
            config,
            models_config: path,
            settings,
            validate_settings: false,
            role_vars: roles,
            code_roles: Vec::new(),
            base_urls,
            timeouts,
            api_keys: BTreeMap::new(),
            key_lookup: Some(&lookup),
            problems,
        })
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The pin policy that was applied.
    pub fn pin_policy(&self) -> PinPolicy {
        self.pin_policy
    }

    /// The model roles, resolved for the profile with every override applied.
    pub fn models(&self) -> &ModelConfig {
        &self.models
    }

    /// The role named `name` (shorthand for `models().role(name)`).
    pub fn role(&self, name: &str) -> Option<&ModelRole> {
        self.models.role(name)
    }

    /// The model catalog the providers shape requests with: the
    /// [built-in catalog](crate::llm::catalog::Catalog::builtin) with the config's `[[catalog]]` entries
    /// (and the profile's) merged over it, the config winning (see [`ModelConfig::catalog`]). Without
    /// entries this is the shared built-in catalog; with entries it is built on each call, so call it
    /// once and keep the `Arc`.
    pub fn catalog(&self) -> std::sync::Arc<crate::llm::catalog::Catalog> {
        self.models.catalog()
    }

    /// The API key of role `name`, read from the variable the role names
    /// ([`ModelRole::api_key_env`]) or set with [`SettingsBuilder::api_key`]; `None` when unset or empty.
    pub fn api_key(&self, role: &str) -> Option<&Secret> {
        self.api_keys.get(role)
    }

    /// Whether the stack gets a response cache.
    pub fn enable_caching(&self) -> bool {
        self.enable_caching
    }

    /// How long a cache entry lives.
    pub fn cache_ttl(&self) -> Duration {
        self.cache_ttl
    }

    /// The Redis URL (`REDIS_URL`), for the distributed rate limiter, the cache and conversations.
    pub fn redis_url(&self) -> Option<&SecretUrl> {
        self.redis_url.as_ref()
    }

    /// The PostgreSQL URL (`DATABASE_URL`).
    pub fn database_url(&self) -> Option<&SecretUrl> {
        self.database_url.as_ref()
    }

    /// The vector store URL (`VECTOR_STORE_URL`); `None` means the in-memory store.
    pub fn vector_store_url(&self) -> Option<&SecretUrl> {
        self.vector_store_url.as_ref()
    }

    /// The conversation store URL: `CONVERSATION_STORE_URL`, else [`redis_url`](Self::redis_url), else
    /// [`database_url`](Self::database_url); `None` means the in-memory store (fine in dev; in production
    /// it keeps state in the process, which factor VI rules out).
    pub fn conversation_store_url(&self) -> Option<&SecretUrl> {
        self.conversation_store_url
            .as_ref()
            .or(self.redis_url.as_ref())
            .or(self.database_url.as_ref())
    }

    /// The variable [`conversation_store_url`](Self::conversation_store_url) came from, for messages.
    pub(crate) fn conversation_store_url_source(&self) -> &'static str {
        if self.conversation_store_url.is_some() {
            "CONVERSATION_STORE_URL"
        } else if self.redis_url.is_some() {
            "REDIS_URL"
        } else {
            "DATABASE_URL"
        }
    }

    /// The prompt folder.
    pub fn prompts_dir(&self) -> &Path {
        &self.prompts_dir
    }

    /// The model config file that was loaded, if any.
    pub fn models_config(&self) -> Option<&Path> {
        self.models_config.as_deref()
    }

    /// What prompt and answer text the logging layer may record.
    pub fn log_content(&self) -> ContentPolicy {
        self.log_content
    }
}

/// Builds [`Settings`] in code; [`build`](SettingsBuilder::build) resolves the profile, validates and
/// applies the pin check like [`Settings::from_env`], without reading anything.
///
/// ```
/// use twelve_factor_ai::config::{ModelConfig, ModelRole, PinPolicy, Profile, ProviderKind, Settings};
///
/// let config = ModelConfig::new()
///     .with_role("primary", ModelRole::new(ProviderKind::OpenAi, "gpt-4o-2024-08-06"));
/// let settings = Settings::builder()
///     .profile(Profile::Prod)
///     .model_config(config)
///     .api_key("primary", "sk-test")
///     .redis_url("redis://127.0.0.1:6379")
///     .build()?;
/// assert_eq!(settings.pin_policy(), PinPolicy::Deny);
/// assert!(settings.api_key("primary").is_some());
///
/// let floating = ModelConfig::new()
///     .with_role("primary", ModelRole::new(ProviderKind::OpenAi, "gpt-4o"));
/// let err = Settings::builder().profile(Profile::Prod).model_config(floating).build().unwrap_err();
/// assert!(err.to_string().contains("gpt-4o-2024-08-06"));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SettingsBuilder {
    profile: Option<Profile>,
    config: Option<ModelConfig>,
    settings: SettingsPatch,
    roles: Vec<(String, ModelRole)>,
    api_keys: BTreeMap<String, Secret>,
}

impl SettingsBuilder {
    /// The profile (default dev).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// The model config as loaded (with its profiles); the builder applies the profile.
    pub fn model_config(mut self, config: ModelConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Adds or replaces a role after the profile is applied (the layer the environment would be).
    pub fn role(mut self, name: impl Into<String>, role: ModelRole) -> Self {
        self.roles.push((name.into(), role));
        self
    }

    /// The API key of role `name`.
    pub fn api_key(mut self, role: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.api_keys.insert(role.into(), key.into());
        self
    }

    /// The pin policy, over the file's and the profile's.
    pub fn pin_policy(mut self, policy: PinPolicy) -> Self {
        self.settings.pin_policy = Some(policy);
        self
    }

    /// Whether the stack gets a response cache.
    pub fn enable_caching(mut self, enable: bool) -> Self {
        self.settings.enable_caching = Some(enable);
        self
    }

    /// How long a cache entry lives (greater than zero).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.settings.cache_ttl = Some(ttl);
        self
    }

    /// The Redis URL.
    pub fn redis_url(mut self, url: impl Into<SecretUrl>) -> Self {
        self.settings.redis_url = Some(url.into());
        self
    }

    /// The PostgreSQL URL.
    pub fn database_url(mut self, url: impl Into<SecretUrl>) -> Self {
        self.settings.database_url = Some(url.into());
        self
    }

    /// The vector store URL.
    pub fn vector_store_url(mut self, url: impl Into<SecretUrl>) -> Self {
        self.settings.vector_store_url = Some(url.into());
        self
    }

    /// The conversation store URL.
    pub fn conversation_store_url(mut self, url: impl Into<SecretUrl>) -> Self {
        self.settings.conversation_store_url = Some(url.into());
        self
    }

    /// The prompt folder.
    pub fn prompts_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.prompts_dir = Some(dir.into());
        self
    }

    /// What prompt and answer text the logging layer may record.
    pub fn log_content(mut self, policy: ContentPolicy) -> Self {
        self.settings.log_content = Some(policy);
        self
    }

    /// Resolves and checks the settings.
    ///
    /// # Errors
    /// One [`Config`](crate::ErrorKind::Config) error listing every problem (see
    /// [`Settings::from_env_vars`]).
    pub fn build(self) -> Result<Settings> {
        assemble(Assembly {
            profile: self.profile.unwrap_or_default(),
            config: self.config,
            models_config: None,
            settings: self.settings,
            validate_settings: true,
            role_vars: Vec::new(),
            code_roles: self.roles,
            base_urls: Vec::new(),
            timeouts: RoleDoc::default(),
            api_keys: self.api_keys,
            key_lookup: None,
            problems: Vec::new(),
        })
    }
}

/// Everything the last step needs, from the environment or from a builder.
struct Assembly<'a> {
    profile: Profile,
    config: Option<ModelConfig>,
    models_config: Option<PathBuf>,
    /// The environment's or the builder's settings.
    settings: SettingsPatch,
    /// Whether `settings` still needs checking (the environment's were checked as they were read).
    validate_settings: bool,
    role_vars: Vec<RoleVars>,
    code_roles: Vec<(String, ModelRole)>,
    base_urls: Vec<(ProviderKind, SecretUrl)>,
    timeouts: RoleDoc,
    api_keys: BTreeMap<String, Secret>,
    key_lookup: Option<Lookup<'a>>,
    problems: Vec<String>,
}

/// Defaults, then the file, then the profile, then the environment or builder; then every check.
fn assemble(a: Assembly<'_>) -> Result<Settings> {
    let mut problems = a.problems;
    let profile = a.profile;
    let mut models = match &a.config {
        Some(config) => match config.resolve(&profile) {
            Ok(resolved) => resolved,
            Err(found) => {
                problems.extend(
                    found
                        .into_iter()
                        .map(|p| format!("profile `{profile}`: {p}")),
                );
                let mut empty = ModelConfig::default();
                empty.set_profile(profile.clone());
                empty
            }
        },
        None => {
            let mut empty = ModelConfig::default();
            empty.set_profile(profile.clone());
            empty
        }
    };

    for vars in a.role_vars.iter().filter(|v| v.is_set()) {
        apply_role_vars(&mut models, vars, &mut problems);
    }
    for (name, role) in a.code_roles {
        models.set_role(name, role);
    }
    let updates: Vec<(String, ModelRole)> = models
        .roles()
        .filter_map(|(name, role)| {
            let base_url = a
                .base_urls
                .iter()
                .find(|(p, _)| *p == role.provider())
                .map(|(_, url)| url.clone());
            let doc = RoleDoc {
                base_url,
                ..a.timeouts.clone()
            };
            (doc != RoleDoc::default())
                .then(|| doc.apply(Some(role)).ok())
                .flatten()
                .map(|r| (name.to_owned(), r))
        })
        .collect();
    for (name, role) in updates {
        models.set_role(name, role);
    }
    problems.extend(models.role_problems());

    let later = a.settings;
    if a.validate_settings {
        problems.extend(later.problems(str::to_owned));
    }
    let merged = models.settings().clone().merged(later);
    let pin_policy = merged
        .pin_policy
        .unwrap_or_else(|| profile.default_pin_policy());

    let mut api_keys = BTreeMap::new();
    for (name, key) in a.api_keys {
        if models.role(&name).is_none() {
            problems.push(format!(
                "an API key is set for role `{name}`, which is not defined"
            ));
        } else if let Some(problem) = key_problem(&format!("the API key of role `{name}`"), &key) {
            problems.push(problem);
        } else if !key.expose().trim().is_empty() {
            api_keys.insert(name, Secret::new(key.expose().trim()));
        }
    }
    if let Some(lookup) = a.key_lookup {
        for (name, role) in models.roles() {
            let Some(var) = role.api_key_env() else {
                continue;
            };
            let Some(value) = lookup(var) else { continue };
            let key = Secret::new(value.trim());
            if key.is_empty() {
                continue;
            }
            match key_problem(var, &key) {
                Some(problem) => problems.push(problem),
                None => {
                    api_keys.entry(name.to_owned()).or_insert(key);
                }
            }
        }
    }

    problems.extend(models.pin_problems(pin_policy));
    if let Some(err) = problems_error("settings", problems) {
        return Err(err);
    }
    Ok(Settings {
        profile,
        pin_policy,
        models,
        api_keys,
        enable_caching: merged.enable_caching.unwrap_or(false),
        cache_ttl: merged.cache_ttl.unwrap_or(CacheConfig::DEFAULT_TTL),
        redis_url: merged.redis_url,
        database_url: merged.database_url,
        vector_store_url: merged.vector_store_url,
        conversation_store_url: merged.conversation_store_url,
        prompts_dir: merged
            .prompts_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PROMPTS_DIR)),
        models_config: a.models_config,
        log_content: merged.log_content.unwrap_or_default(),
    })
}

/// Applies `LLM_PROVIDER` / `MODEL` / ... to their role, with messages that name the variables.
fn apply_role_vars(models: &mut ModelConfig, vars: &RoleVars, problems: &mut Vec<String>) {
    let RoleVars {
        role,
        provider_var,
        model_var,
        vars: all_vars,
        doc,
    } = vars;
    let mut doc = doc.clone();
    let base = models.role(role);
    match base {
        None if doc.model.is_none() => {
            problems.push(format!(
                "{all_vars} set fields of role `{role}`, which is not defined: set {model_var} (and {provider_var}, default openai) or define [models.{role}] in the model config"
            ));
            return;
        }
        None => {
            doc.provider = doc.provider.or(Some(ProviderKind::OpenAi));
        }
        Some(base) => {
            if let Some(provider) = doc.provider.filter(|p| *p != base.provider()) {
                if doc.model.is_none() {
                    problems.push(format!(
                        "{provider_var}={:?} changes role `{role}` from {} to {provider}, but {model_var} is not set: set {model_var} to a pinned {provider} model",
                        provider.as_str(),
                        base.provider()
                    ));
                    return;
                }
            }
        }
    }
    match doc.apply(base) {
        Ok(updated) => models.set_role((*role).to_owned(), updated),
        Err(msg) => problems.push(format!("role `{role}` (from {all_vars}): {msg}")),
    }
}

/// A key with whitespace or control characters inside is a copy-paste accident; say so without the value.
fn key_problem(label: &str, key: &Secret) -> Option<String> {
    key.expose()
        .trim()
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
        .then(|| {
            format!("{label} (value hidden) contains whitespace or control characters; an API key has none")
        })
}
