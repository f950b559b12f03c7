//! [`ModelConfig`]: the named model roles of a service, loaded from `models.toml` or `models.yaml`, with
//! per-profile overrides and the pin check.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::doc::{LayerDoc, LayerParts, SettingsPatch};
use crate::config::role::RoleDoc;
use crate::config::{ModelRole, PinPolicy, Pinning, Profile, ProviderKind};
use crate::llm::catalog::{self, Catalog, ModelInfo};
use crate::{Error, Result};

/// The model roles of a service (`primary`, `fallback`, `embedding`, or any other name), plus the
/// per-profile overrides and the other settings of the same file.
///
/// The file, in TOML (`[models.primary]`) or in the method's YAML shape (`models: { primary: {...} }`);
/// both go through the same serde structs, and unknown keys are errors naming the key, file, line and
/// column:
///
/// ```toml
/// # Optional settings, overridden by profile sections and then by environment variables.
/// enable_caching = true
/// log_content = "hash"
///
/// [models.primary]
/// provider = "openai"
/// model = "gpt-4o-2024-08-06"
/// temperature = 0.2
///
/// [models.embedding]
/// provider = "openai"
/// model = "text-embedding-3-small"
/// dimensions = 512
///
/// # Per-profile overrides: only what changes.
/// [profiles.dev.models.primary]
/// provider = "ollama"
/// model = "llama3.1:8b-instruct-q4_K_M"
///
/// [profiles.prod]
/// pin_policy = "deny"
/// ```
///
/// Role names are lowercase letters, digits, `-` and `_`. Three names have a meaning for the stack
/// builder: [`PRIMARY`](Self::PRIMARY) (the chat model), [`FALLBACK`](Self::FALLBACK) (the chat model
/// used when the primary fails) and [`EMBEDDING`](Self::EMBEDDING).
///
/// A profile section overrides fields of existing roles (or defines a new, complete role) and the
/// settings. Changing a role's `provider` resets what belonged to the old provider (`base_url`,
/// `api_key_env`, `api_version`, `rpm`, `tpm`, `price`) and needs a `model`; changing the `model` drops
/// the `price`. Parameters (temperature, max tokens, timeouts, dimensions) carry over: same prompts and
/// parameters, different sizes. An override cannot unset a field.
///
/// ```
/// use twelve_factor_ai::config::{ModelConfig, PinPolicy, Profile, ProviderKind};
///
/// let config = ModelConfig::from_toml_str(r#"
///     [models.primary]
///     provider = "openai"
///     model = "gpt-4o-2024-08-06"
///     temperature = 0.2
///     rpm = 500
///
///     [profiles.dev.models.primary]
///     model = "gpt-4o-mini-2024-07-18"
///     rpm = 20
/// "#)?;
/// let dev = config.for_profile(&Profile::Dev)?;
/// let primary = dev.role(ModelConfig::PRIMARY).unwrap();
/// assert_eq!(primary.model(), "gpt-4o-mini-2024-07-18");
/// assert_eq!(primary.rpm(), Some(20));
/// assert_eq!(primary.temperature(), Some(0.2)); // same parameters everywhere
/// assert_eq!(config.pin_policy_for(&Profile::Prod), PinPolicy::Deny);
///
/// let typo = ModelConfig::from_toml_str("[models.primary]\ntemprature = 0.2\n").unwrap_err();
/// assert!(typo.to_string().contains("unknown field `temprature`"));
/// assert!(typo.to_string().contains("line 2"));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelConfig {
    roles: BTreeMap<String, ModelRole>,
    settings: SettingsPatch,
    catalog: Vec<ModelInfo>,
    profiles: BTreeMap<String, ProfilePatch>,
    profile: Option<Profile>,
}

/// One `[profiles.NAME]` section.
#[derive(Debug, Clone, PartialEq, Default)]
struct ProfilePatch {
    models: BTreeMap<String, RoleDoc>,
    settings: SettingsPatch,
    catalog: Vec<ModelInfo>,
}

/// A role whose model is not pinned, found by [`ModelConfig::unpinned`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinFinding {
    /// The role name.
    pub role: String,
    /// The role's provider.
    pub provider: ProviderKind,
    /// The model id.
    pub model: String,
    /// The verdict: [`Pinning::Floating`] or [`Pinning::Unknown`].
    pub pinning: Pinning,
}

impl ModelConfig {
    /// The role of the chat model.
    pub const PRIMARY: &'static str = "primary";
    /// The role of the chat model used when the primary fails.
    pub const FALLBACK: &'static str = "fallback";
    /// The role of the embedding model.
    pub const EMBEDDING: &'static str = "embedding";

    /// An empty config: no roles, no profiles.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a role (checked by [`validate`](Self::validate)).
    pub fn with_role(mut self, name: impl Into<String>, role: ModelRole) -> Self {
        self.roles.insert(name.into(), role);
        self
    }

    /// Parses a TOML config (`[models.primary]`, `[profiles.prod]`, ...) and validates it, every profile
    /// included.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config): a syntax error or unknown key with its line and
    /// column, or the list of every invalid value.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        Self::parse_toml(text, "TOML model config")
    }

    /// Parses a YAML config (`models: { primary: { provider, model, temperature } }`) and validates it,
    /// every profile included. Needs the `yaml` feature (on by default).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config): a syntax error or unknown key with its line and
    /// column, or the list of every invalid value.
    #[cfg(feature = "yaml")]
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        Self::parse_yaml(text, "YAML model config")
    }

    /// Reads and parses a config file by its extension: `.toml`, or `.yaml` / `.yml` (feature `yaml`).
    /// Error messages name the file.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the file cannot be read, has another
    /// extension, is YAML without the `yaml` feature, or does not parse or validate.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let read = || {
            std::fs::read_to_string(path).map_err(|e| {
                Error::config(format!("{origin}: cannot read the model config: {e}")).with_source(e)
            })
        };
        match ext.as_deref() {
            Some("toml") => Self::parse_toml(&read()?, &origin),
            #[cfg(feature = "yaml")]
            Some("yaml" | "yml") => Self::parse_yaml(&read()?, &origin),
            #[cfg(not(feature = "yaml"))]
            Some("yaml" | "yml") => Err(Error::config(format!(
                "{origin}: YAML model configs need the crate feature `yaml`; enable it or use a .toml file"
            ))),
            _ => Err(Error::config(format!(
                "{origin}: unknown model config format; use a .toml, .yaml or .yml file"
            ))),
        }
    }

    fn parse_toml(text: &str, origin: &str) -> Result<Self> {
        let doc: LayerDoc = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            let text = match e.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    format!("{origin}: line {line}, column {column}: {message}")
                }
                None => format!("{origin}: {message}"),
            };
            Error::config(text)
        })?;
        Self::from_doc(doc, origin)
    }

    #[cfg(feature = "yaml")]
    fn parse_yaml(text: &str, origin: &str) -> Result<Self> {
        // An empty or comment-only file is an empty config, as it is in TOML.
        let blank = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        let doc: LayerDoc = if blank {
            LayerDoc::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| {
                Error::config(format!(
                    "{origin}: {}",
                    e.to_string().trim().replace('\n', " ")
                ))
            })?
        };
        Self::from_doc(doc, origin)
    }

    /// Builds the config from a parsed file and validates it; every problem in one error.
    fn from_doc(doc: LayerDoc, origin: &str) -> Result<Self> {
        let mut problems = Vec::new();
        let LayerParts {
            models,
            settings,
            catalog,
            profiles: profile_docs,
        } = doc.split();
        let mut config = ModelConfig {
            settings,
            catalog,
            ..Self::default()
        };
        for (name, role) in models {
            match role.apply(None) {
                Ok(role) => {
                    config.roles.insert(name, role);
                }
                Err(msg) => problems.push(format!("role `{name}`: {msg}")),
            }
        }
        for (key, layer) in profile_docs {
            let profile = match Profile::parse_name(&key) {
                Ok(p) => p,
                Err(expected) => {
                    problems.push(format!("profile key `{key}` {expected}"));
                    continue;
                }
            };
            let LayerParts {
                models,
                settings,
                catalog,
                profiles: nested,
            } = layer.split();
            if !nested.is_empty() {
                problems.push(format!(
                    "profile `{key}`: profiles cannot nest; move its `profiles` section to the top level"
                ));
            }
            let name = profile.name().to_owned();
            if config.profiles.contains_key(&name) {
                problems.push(format!(
                    "profile `{key}` is defined twice (under two names for profile `{name}`)"
                ));
                continue;
            }
            config.profiles.insert(
                name,
                ProfilePatch {
                    models,
                    settings,
                    catalog,
                },
            );
        }
        if problems.is_empty() {
            problems = config.problems();
        }
        match problems_error(origin, problems) {
            Some(err) => Err(err),
            None => Ok(config),
        }
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&ModelRole> {
        self.roles.get(name)
    }

    /// The role named `name`, or a [`Config`](crate::ErrorKind::Config) error listing the defined roles.
    ///
    /// # Errors
    /// When no such role is defined.
    pub fn require_role(&self, name: &str) -> Result<&ModelRole> {
        self.roles.get(name).ok_or_else(|| {
            Error::config(format!(
                "role `{name}` is not defined (defined roles: {}); add [models.{name}] to the model config",
                self.role_list()
            ))
        })
    }

    /// Every role, by name in alphabetical order.
    pub fn roles(&self) -> impl Iterator<Item = (&str, &ModelRole)> {
        self.roles.iter().map(|(name, role)| (name.as_str(), role))
    }

    /// The names of the profiles the file defines (canonical names, alphabetical); empty after
    /// [`for_profile`](Self::for_profile).
    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// The profile applied by [`for_profile`](Self::for_profile), if any.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// The pin policy of `profile`: its section's `pin_policy`, else the file's top-level `pin_policy`,
    /// else [`Profile::default_pin_policy`] (deny in prod, warn elsewhere). `TFA_PIN_POLICY` overrides
    /// all of them in [`Settings`](super::Settings).
    pub fn pin_policy_for(&self, profile: &Profile) -> PinPolicy {
        self.profiles
            .get(profile.name())
            .and_then(|p| p.settings.pin_policy)
            .or(self.settings.pin_policy)
            .unwrap_or_else(|| profile.default_pin_policy())
    }

    /// The config as `profile` sees it: the profile's overrides applied to the roles and settings,
    /// validated. The result has no profiles left and remembers the one applied
    /// ([`profile`](Self::profile)). Call it on the config as loaded.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when `profile` is custom and the file does not
    /// define it (built-in profiles need no section), or when the overrides give invalid roles (an
    /// override of an undefined role without provider and model, a provider change without a model,
    /// an out-of-range value); every problem in one error.
    pub fn for_profile(&self, profile: &Profile) -> Result<ModelConfig> {
        let resolved = self
            .resolve(profile)
            .and_then(|c| {
                let problems = c.problems();
                if problems.is_empty() {
                    Ok(c)
                } else {
                    Err(problems)
                }
            })
            .map_err(|p| {
                problems_error(&format!("profile `{profile}`"), p)
                    .unwrap_or_else(|| Error::config("invalid profile"))
            })?;
        Ok(resolved)
    }

    /// Applies the profile's overrides without validating the resulting roles.
    pub(crate) fn resolve(
        &self,
        profile: &Profile,
    ) -> std::result::Result<ModelConfig, Vec<String>> {
        let patch = match self.profiles.get(profile.name()) {
            Some(patch) => patch.clone(),
            None if matches!(profile, Profile::Custom(_)) => {
                let defined: Vec<&str> = self.profile_names().collect();
                return Err(vec![format!(
                    "profile `{profile}` is not defined in the model config (defined: {}; built in: dev, staging, prod); add a [profiles.{profile}] section or fix the name",
                    if defined.is_empty() {
                        "none".to_owned()
                    } else {
                        defined.join(", ")
                    }
                )]);
            }
            None => ProfilePatch::default(),
        };
        let mut problems = Vec::new();
        let mut roles = self.roles.clone();
        for (name, doc) in &patch.models {
            match (doc.apply(roles.get(name)), roles.contains_key(name)) {
                (Ok(role), _) => {
                    roles.insert(name.clone(), role);
                }
                (Err(_), false) if doc.provider.is_none() || doc.model.is_none() => {
                    problems.push(format!(
                        "sets fields of role `{name}`, which is not defined (defined roles: {}); fix the name or give the new role provider and model",
                        self.role_list()
                    ));
                }
                (Err(msg), _) => problems.push(format!("role `{name}`: {msg}")),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ModelConfig {
            roles,
            settings: self.settings.clone().merged(patch.settings),
            catalog: merged_entries(&self.catalog, patch.catalog),
            profiles: BTreeMap::new(),
            profile: Some(profile.clone()),
        })
    }

    /// Checks every role and setting and every profile's overrides.
    ///
    /// # Errors
    /// One [`Config`](crate::ErrorKind::Config) error listing every problem (like reqwest's builder, which
    /// reports at `build()`), each naming the role or profile and the field.
    pub fn validate(&self) -> Result<()> {
        match problems_error("model config", self.problems()) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Every problem of the roles, the settings and each profile's resolution.
    fn problems(&self) -> Vec<String> {
        let mut out = self.role_problems();
        out.extend(self.settings.problems(str::to_owned));
        out.extend(catalog_problems(&self.catalog));
        for name in self.profiles.keys() {
            let profile = Profile::parse_name(name).unwrap_or(Profile::Custom(name.clone()));
            let prefix = format!("profile `{name}`");
            match self.resolve(&profile) {
                Ok(resolved) => out.extend(
                    resolved
                        .role_problems()
                        .into_iter()
                        .chain(resolved.settings.problems(str::to_owned))
                        .chain(
                            self.profiles
                                .get(name)
                                .map_or_else(Vec::new, |p| catalog_problems(&p.catalog)),
                        )
                        .filter(|p| !out.contains(p))
                        .map(|p| format!("{prefix}: {p}"))
                        .collect::<Vec<_>>(),
                ),
                Err(problems) => out.extend(problems.into_iter().map(|p| format!("{prefix}: {p}"))),
            }
        }
        out
    }

    /// Every problem of the roles alone (names and values).
    pub(crate) fn role_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, role) in &self.roles {
            if !is_role_name(name) {
                out.push(format!(
                    "role name `{name}` must be lowercase letters, digits, '-' and '_', starting with a letter"
                ));
            }
            out.extend(role.problems(name));
        }
        out
    }

    /// The settings of the file (after [`for_profile`](Self::for_profile): file and profile merged).
    pub(crate) fn settings(&self) -> &SettingsPatch {
        &self.settings
    }

    /// Replaces a role (used by the settings' later layers).
    pub(crate) fn set_role(&mut self, name: String, role: ModelRole) {
        self.roles.insert(name, role);
    }

    /// Records the profile of a config built without a file.
    pub(crate) fn set_profile(&mut self, profile: Profile) {
        self.profile = Some(profile);
    }

    /// Adds a model catalog entry, as a `[[catalog]]` table of the file would (checked by
    /// [`validate`](Self::validate)); an entry for the same provider and model is replaced.
    pub fn with_catalog_entry(mut self, info: ModelInfo) -> Self {
        self.catalog = merged_entries(&self.catalog, vec![info]);
        self
    }

    /// The file's model catalog entries (`[[catalog]]`), in file order; after
    /// [`for_profile`](Self::for_profile), the profile's own entries are added over them.
    pub fn catalog_entries(&self) -> &[ModelInfo] {
        &self.catalog
    }

    /// The [built-in catalog](Catalog::builtin) with this config's [entries](Self::catalog_entries)
    /// merged over it (the config wins on the same provider and model). Without entries, the built-in
    /// catalog itself, not a copy.
    ///
    /// ```
    /// use twelve_factor_ai::config::ModelConfig;
    /// use twelve_factor_ai::llm::catalog::Sampling;
    ///
    /// let config = ModelConfig::from_toml_str(r#"
    ///     [models.primary]
    ///     provider = "ollama"
    ///     model = "llama3.1:8b-instruct-q4_K_M"
    ///
    ///     [[catalog]]
    ///     provider = "ollama"
    ///     model = "llama3.1:8b-instruct-q4_K_M"
    ///     context_window = 8192
    ///     tools = true
    ///     source = "OLLAMA_CONTEXT_LENGTH=8192 on our machines"
    ///
    ///     [[catalog]]
    ///     provider = "openai"
    ///     model = "gpt-4o-2024-08-06"
    ///     context_window = 128000
    ///     sampling = "rejected"
    ///     source = "overrides the built-in entry: our gateway refuses temperature"
    /// "#)?;
    /// assert_eq!(config.catalog_entries().len(), 2);
    /// let catalog = config.catalog();
    /// let llama = catalog.lookup("ollama", "llama3.1:8b-instruct-q4_K_M").unwrap();
    /// assert_eq!(llama.context_window, Some(8192));
    /// assert_eq!(catalog.lookup("openai", "gpt-4o-2024-08-06").unwrap().sampling, Sampling::Rejected);
    /// assert!(catalog.lookup("openai", "o3-2025-04-16").is_some()); // the built-in entries stay
    ///
    /// let typo = ModelConfig::from_toml_str("[[catalog]]\nprovider = \"openai\"\nmodel = \"x\"\ncontext = 1\n")
    ///     .unwrap_err();
    /// assert!(typo.to_string().contains("unknown field `context`"));
    /// assert!(typo.to_string().contains("line 4"));
    /// # Ok::<(), twelve_factor_ai::Error>(())
    /// ```
    pub fn catalog(&self) -> std::sync::Arc<Catalog> {
        let builtin = Catalog::builtin();
        if self.catalog.is_empty() {
            return builtin;
        }
        let mut catalog = (*builtin).clone();
        for info in &self.catalog {
            catalog.insert(info.clone());
        }
        std::sync::Arc::new(catalog)
    }

    /// Every role whose model id is not pinned ([`Pinning::Floating`] or [`Pinning::Unknown`]), by role
    /// name.
    ///
    /// ```
    /// use twelve_factor_ai::config::{ModelConfig, ModelRole, ProviderKind};
    ///
    /// let config = ModelConfig::new()
    ///     .with_role("primary", ModelRole::new(ProviderKind::OpenAi, "gpt-4o"))
    ///     .with_role("embedding", ModelRole::new(ProviderKind::OpenAi, "text-embedding-3-small"));
    /// let findings = config.unpinned();
    /// assert_eq!(findings.len(), 1);
    /// assert_eq!(findings[0].role, "primary");
    /// ```
    pub fn unpinned(&self) -> Vec<PinFinding> {
        self.roles
            .iter()
            .filter_map(|(name, role)| {
                let pinning = role.pinning();
                (!pinning.is_pinned()).then(|| PinFinding {
                    role: name.clone(),
                    provider: role.provider(),
                    model: role.model().to_owned(),
                    pinning,
                })
            })
            .collect()
    }

    /// Applies the pin check under `policy`: [`PinPolicy::Off`] does nothing; [`PinPolicy::Warn`] emits
    /// one `tracing` warning per floating or unknown model id (not per role); [`PinPolicy::Deny`] fails
    /// on floating ids and warns about unknown ones.
    ///
    /// ```
    /// use twelve_factor_ai::config::{ModelConfig, ModelRole, PinPolicy, ProviderKind};
    ///
    /// let config = ModelConfig::new()
    ///     .with_role("primary", ModelRole::new(ProviderKind::OpenAi, "gpt-4o"));
    /// assert!(config.check_pins(PinPolicy::Warn).is_ok());
    /// let err = config.check_pins(PinPolicy::Deny).unwrap_err();
    /// assert!(err.to_string().contains("role `primary` (openai `gpt-4o`)"));
    /// ```
    ///
    /// # Errors
    /// Under [`PinPolicy::Deny`], one [`Config`](crate::ErrorKind::Config) error listing every role with a
    /// floating model id and what to pin instead.
    pub fn check_pins(&self, policy: PinPolicy) -> Result<()> {
        match problems_error("pin check", self.pin_problems(policy)) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// The pin check's refusals under `policy` (empty unless deny), after emitting its warnings.
    pub(crate) fn pin_problems(&self, policy: PinPolicy) -> Vec<String> {
        if policy == PinPolicy::Off {
            return Vec::new();
        }
        let findings = self.unpinned();
        let profile = self.profile.as_ref().map_or("none", Profile::name);
        // One warning per model id, naming every role that uses it.
        let mut warned: BTreeMap<(&str, &str), (Vec<&str>, &Pinning)> = BTreeMap::new();
        let mut problems = Vec::new();
        for f in &findings {
            if policy == PinPolicy::Deny && f.pinning.is_floating() {
                problems.push(format!(
                    "role `{}` ({} `{}`): {}",
                    f.role,
                    f.provider,
                    f.model,
                    f.pinning.reason().unwrap_or("floating")
                ));
            } else {
                warned
                    .entry((f.provider.as_str(), f.model.as_str()))
                    .or_insert_with(|| (Vec::new(), &f.pinning))
                    .0
                    .push(&f.role);
            }
        }
        for ((provider, model), (roles, pinning)) in warned {
            tracing::warn!(
                provider = %provider,
                model = %model,
                roles = %roles.join(","),
                profile = %profile,
                pin_policy = %policy,
                "model id not pinned: {}",
                pinning.reason().unwrap_or("floating")
            );
        }
        if !problems.is_empty() {
            problems.push(format!(
                "the pin policy of profile `{profile}` is deny: pin these models, or set pin_policy = \"warn\" for the profile (or TFA_PIN_POLICY=warn)"
            ));
        }
        problems
    }

    fn role_list(&self) -> String {
        if self.roles.is_empty() {
            "none".to_owned()
        } else {
            self.roles.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }
}

/// `base` with `later` added; an entry of `later` replaces the one of `base` for the same provider and
/// model, in place.
fn merged_entries(base: &[ModelInfo], later: Vec<ModelInfo>) -> Vec<ModelInfo> {
    let mut out = base.to_vec();
    for info in later {
        match out
            .iter_mut()
            .find(|e| e.provider == info.provider && e.model == info.model)
        {
            Some(same) => *same = info,
            None => out.push(info),
        }
    }
    out
}

/// Every problem of a list of catalog entries: invalid values, and the same provider and model twice.
fn catalog_problems(entries: &[ModelInfo]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, info) in entries.iter().enumerate() {
        if let Err(problem) = catalog::check(info) {
            out.push(format!("catalog entry {}: {problem}", i + 1));
        }
        if entries[..i]
            .iter()
            .any(|e| e.provider == info.provider && e.model == info.model)
        {
            out.push(format!(
                "catalog entry {}: {}/{} is listed twice; keep one entry",
                i + 1,
                info.provider,
                info.model
            ));
        }
    }
    out
}

/// Whether `name` can be a role name.
fn is_role_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// One error listing every problem, prefixed by where they are; `None` when there are none.
pub(crate) fn problems_error(origin: &str, mut problems: Vec<String>) -> Option<Error> {
    // The same problem can be found twice (two roles reading one bad key variable): say it once.
    let mut seen = std::collections::BTreeSet::new();
    problems.retain(|p| seen.insert(p.clone()));
    match problems.len() {
        0 => None,
        1 => Some(Error::config(format!("{origin}: {}", problems[0]))),
        n => Some(Error::config(format!(
            "{origin}: {n} problems: {}",
            problems.join("; ")
        ))),
    }
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let text = "a\nbc\ndéf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 2));
        assert_eq!(line_column(text, 6), (3, 2));
        assert_eq!(line_column(text, 8), (3, 3));
        // Out of range or inside a character: the whole text, never a panic.
        assert_eq!(line_column(text, 99), (3, 4));
        assert_eq!(line_column(text, 7), (3, 4));
    }

    #[cfg(not(feature = "yaml"))]
    #[test]
    fn yaml_without_the_feature_says_which_feature() {
        let path = std::env::temp_dir().join(format!("tfa-no-yaml-{}.yaml", std::process::id()));
        std::fs::write(&path, "models: {}\n").unwrap();
        let err = ModelConfig::load(&path).unwrap_err();
        assert!(err.to_string().contains("feature `yaml`"), "{err}");
    }
}
