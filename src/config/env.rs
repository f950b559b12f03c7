//! Reading the environment layer of [`Settings`](super::Settings): every variable parsed, every bad one a
//! problem naming the variable and the expected form (quoting the value only when it is not secret).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::doc::{LOG_CONTENT_FORM, SettingsPatch, UrlKind, parse_log_content};
use crate::config::duration::{DURATION_FORM, parse_duration};
use crate::config::role::RoleDoc;
use crate::config::{ModelConfig, PinPolicy, Profile, ProviderKind, SecretUrl};

/// The variable naming the model config file; `none` (or `off`) for no file.
pub const MODELS_CONFIG: &str = "MODELS_CONFIG";

/// The variable overriding the pin policy of every profile.
pub const TFA_PIN_POLICY: &str = "TFA_PIN_POLICY";

/// The file read when `MODELS_CONFIG` is unset, if it exists in the working directory.
pub const DEFAULT_MODELS_CONFIG: &str = "models.toml";

/// How the settings read a variable: `std::env::var` in production, a map in tests.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Which model config file the environment asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ModelsConfigVar {
    /// `MODELS_CONFIG` unset: `models.toml` if it exists.
    Default,
    /// `MODELS_CONFIG=none`.
    None,
    /// `MODELS_CONFIG=<path>`.
    Path(PathBuf),
}

/// Variables that override one role.
#[derive(Debug, Clone)]
pub(crate) struct RoleVars {
    pub(crate) role: &'static str,
    pub(crate) provider_var: &'static str,
    pub(crate) model_var: &'static str,
    /// Every variable of this role, for messages.
    pub(crate) vars: &'static str,
    pub(crate) doc: RoleDoc,
}

impl RoleVars {
    /// Whether any of the role's variables is set.
    pub(crate) fn is_set(&self) -> bool {
        self.doc != RoleDoc::default()
    }
}

/// The environment, parsed.
#[derive(Debug)]
pub(crate) struct EnvLayer {
    pub(crate) profile: Profile,
    pub(crate) models_config: ModelsConfigVar,
    pub(crate) settings: SettingsPatch,
    pub(crate) roles: Vec<RoleVars>,
    /// `OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`: the base URL of every role of that provider.
    pub(crate) base_urls: Vec<(ProviderKind, SecretUrl)>,
    /// `LLM_TIMEOUT`, `LLM_FIRST_CHUNK_TIMEOUT`, `LLM_IDLE_TIMEOUT`: timeouts of every role.
    pub(crate) timeouts: RoleDoc,
    pub(crate) problems: Vec<String>,
}

/// Reads every variable the settings know; values that are empty or only whitespace count as unset.
pub(crate) fn read(lookup: Lookup<'_>) -> EnvLayer {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut problems = Vec::new();

    let profile = Profile::from_env_vars(|name| lookup(name)).unwrap_or_else(|e| {
        problems.push(e.message().to_owned());
        Profile::Dev
    });
    let models_config = match get(MODELS_CONFIG) {
        None => ModelsConfigVar::Default,
        Some(v) if matches!(v.to_ascii_lowercase().as_str(), "none" | "off") => {
            ModelsConfigVar::None
        }
        Some(v) => ModelsConfigVar::Path(PathBuf::from(v)),
    };

    let mut p = Parser {
        get: &get,
        problems: &mut problems,
    };
    let settings = SettingsPatch {
        pin_policy: p.parse(
            TFA_PIN_POLICY,
            "a pin policy (expected off, warn or deny)",
            |v| v.parse::<PinPolicy>().ok(),
        ),
        enable_caching: p.parse(
            "ENABLE_CACHING",
            "a boolean (expected true/false, 1/0, yes/no or on/off)",
            parse_bool,
        ),
        cache_ttl: p.parse(
            "CACHE_TTL_SECONDS",
            "a whole number of seconds greater than 0",
            |v| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_secs)
            },
        ),
        redis_url: p.url("REDIS_URL", UrlKind::Redis),
        database_url: p.url("DATABASE_URL", UrlKind::Postgres),
        vector_store_url: p.url("VECTOR_STORE_URL", UrlKind::Any),
        conversation_store_url: p.url("CONVERSATION_STORE_URL", UrlKind::ConversationStore),
        prompts_dir: (p.get)("PROMPTS_DIR").map(PathBuf::from),
        log_content: p.parse(
            "LOG_CONTENT",
            &format!("a content policy (expected {LOG_CONTENT_FORM})"),
            parse_log_content,
        ),
    };

    let primary_params = RoleDoc {
        temperature: p.parse("TEMPERATURE", "a number between 0 and 2", |v| {
            v.parse::<f32>()
                .ok()
                .filter(|t| t.is_finite() && (0.0..=2.0).contains(t))
        }),
        max_tokens: p.parse("MAX_TOKENS", "a whole number greater than 0", |v| {
            v.parse::<u32>().ok().filter(|n| *n > 0)
        }),
        ..RoleDoc::default()
    };
    let roles = vec![
        p.role(
            ModelConfig::PRIMARY,
            "LLM_PROVIDER",
            "MODEL",
            "LLM_PROVIDER, MODEL, TEMPERATURE, MAX_TOKENS",
            primary_params,
        ),
        p.role(
            ModelConfig::FALLBACK,
            "FALLBACK_PROVIDER",
            "FALLBACK_MODEL",
            "FALLBACK_PROVIDER, FALLBACK_MODEL",
            RoleDoc::default(),
        ),
        p.role(
            ModelConfig::EMBEDDING,
            "EMBEDDING_PROVIDER",
            "EMBEDDING_MODEL",
            "EMBEDDING_PROVIDER, EMBEDDING_MODEL",
            RoleDoc::default(),
        ),
    ];

    let mut base_urls = Vec::new();
    for provider in ProviderKind::ALL {
        if let Some(var) = provider.base_url_env() {
            if let Some(url) = p.url(var, UrlKind::Http) {
                base_urls.push((provider, url));
            }
        }
    }

    let duration = |p: &mut Parser<'_>, var: &str| {
        p.parse(
            var,
            &format!("a duration greater than 0 ({DURATION_FORM})"),
            |v| parse_duration(v).filter(|d| !d.is_zero()),
        )
    };
    let timeouts = RoleDoc {
        timeout: duration(&mut p, "LLM_TIMEOUT"),
        first_chunk_timeout: duration(&mut p, "LLM_FIRST_CHUNK_TIMEOUT"),
        idle_timeout: duration(&mut p, "LLM_IDLE_TIMEOUT"),
        ..RoleDoc::default()
    };

    EnvLayer {
        profile,
        models_config,
        settings,
        roles,
        base_urls,
        timeouts,
        problems,
    }
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, case-insensitively.
fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

struct Parser<'a> {
    get: Lookup<'a>,
    problems: &'a mut Vec<String>,
}

impl Parser<'_> {
    /// A non-secret variable: a bad value is quoted in the problem.
    fn parse<T>(&mut self, var: &str, expected: &str, f: impl Fn(&str) -> Option<T>) -> Option<T> {
        let value = (self.get)(var)?;
        let parsed = f(&value);
        if parsed.is_none() {
            self.problems
                .push(format!("{var}={value:?} is not {expected}"));
        }
        parsed
    }

    /// A URL variable: the value may hold a password, so a problem shows at most its redacted form.
    fn url(&mut self, var: &str, kind: UrlKind) -> Option<SecretUrl> {
        let url = SecretUrl::new((self.get)(var)?);
        match kind.problem(var, &url) {
            Some(problem) => {
                self.problems.push(problem);
                None
            }
            None => Some(url),
        }
    }

    /// The provider and model variables of one role, plus the role's other fields.
    fn role(
        &mut self,
        role: &'static str,
        provider_var: &'static str,
        model_var: &'static str,
        vars: &'static str,
        doc: RoleDoc,
    ) -> RoleVars {
        let provider = (self.get)(provider_var).and_then(|v| match v.parse::<ProviderKind>() {
            Ok(p) => Some(p),
            Err(_) => {
                self.problems.push(format!(
                    "{provider_var}={v:?} is not a known provider (expected one of: {})",
                    ProviderKind::list()
                ));
                None
            }
        });
        let model = (self.get)(model_var);
        if let Some(m) = &model {
            if m.chars().any(char::is_whitespace) {
                self.problems.push(format!(
                    "{model_var}={m:?} is not a model id (it contains whitespace)"
                ));
            }
        }
        RoleVars {
            role,
            provider_var,
            model_var,
            vars,
            doc: RoleDoc {
                provider,
                model,
                ..doc
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for (v, want) in [
            ("TRUE", true),
            ("1", true),
            ("yes", true),
            ("Off", false),
            ("0", false),
        ] {
            assert_eq!(parse_bool(v), Some(want), "{v}");
        }
        for bad in ["maybe", "2", "y"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }
}
