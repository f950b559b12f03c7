//! The serde shape of a model config file (TOML or YAML), and the non-model settings a file, a profile
//! section, the environment or a builder may set.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::config::role::RoleDoc;
use crate::config::{PinPolicy, SecretUrl, duration};
use crate::layer::logging::ContentPolicy;
use crate::llm::catalog::ModelInfo;

/// The most characters per text field that `LOG_CONTENT=full` keeps: a few paragraphs, enough to read a
/// prompt and an answer in a log viewer, small enough to stay under common log-line limits (16-64 KiB).
pub const DEFAULT_LOG_MAX_CHARS: usize = 2000;

/// What `log_content` / `LOG_CONTENT` may look like, for error messages.
pub(crate) const LOG_CONTENT_FORM: &str = "none, hash, full or full:<max chars>";

/// One layer of a config file: the top level, or one `[profiles.NAME]` section (which may not nest
/// `profiles` again).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LayerDoc {
    #[serde(default)]
    pub(crate) models: BTreeMap<String, RoleDoc>,
    pub(crate) pin_policy: Option<PinPolicy>,
    pub(crate) enable_caching: Option<bool>,
    #[serde(default, deserialize_with = "duration::option")]
    pub(crate) cache_ttl: Option<Duration>,
    pub(crate) redis_url: Option<SecretUrl>,
    pub(crate) database_url: Option<SecretUrl>,
    pub(crate) vector_store_url: Option<SecretUrl>,
    pub(crate) conversation_store_url: Option<SecretUrl>,
    pub(crate) prompts_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "log_content_option")]
    pub(crate) log_content: Option<ContentPolicy>,
    /// `[[catalog]]`: model catalog entries that extend or override the built-in catalog.
    #[serde(default)]
    pub(crate) catalog: Vec<ModelInfo>,
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, LayerDoc>,
}

/// One layer of a config file, split into its parts.
pub(crate) struct LayerParts {
    pub(crate) models: BTreeMap<String, RoleDoc>,
    pub(crate) settings: SettingsPatch,
    pub(crate) catalog: Vec<ModelInfo>,
    pub(crate) profiles: BTreeMap<String, LayerDoc>,
}

impl LayerDoc {
    /// Splits the layer into its roles, its settings, its catalog entries and its profiles.
    pub(crate) fn split(self) -> LayerParts {
        let settings = SettingsPatch {
            pin_policy: self.pin_policy,
            enable_caching: self.enable_caching,
            cache_ttl: self.cache_ttl,
            redis_url: self.redis_url,
            database_url: self.database_url,
            vector_store_url: self.vector_store_url,
            conversation_store_url: self.conversation_store_url,
            prompts_dir: self.prompts_dir,
            log_content: self.log_content,
        };
        LayerParts {
            models: self.models,
            settings,
            catalog: self.catalog,
            profiles: self.profiles,
        }
    }
}

/// The settings besides models; every field optional, later layers win field by field.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SettingsPatch {
    pub(crate) pin_policy: Option<PinPolicy>,
    pub(crate) enable_caching: Option<bool>,
    pub(crate) cache_ttl: Option<Duration>,
    pub(crate) redis_url: Option<SecretUrl>,
    pub(crate) database_url: Option<SecretUrl>,
    pub(crate) vector_store_url: Option<SecretUrl>,
    pub(crate) conversation_store_url: Option<SecretUrl>,
    pub(crate) prompts_dir: Option<PathBuf>,
    pub(crate) log_content: Option<ContentPolicy>,
}

impl SettingsPatch {
    /// `later` over `self`, field by field.
    pub(crate) fn merged(self, later: SettingsPatch) -> SettingsPatch {
        SettingsPatch {
            pin_policy: later.pin_policy.or(self.pin_policy),
            enable_caching: later.enable_caching.or(self.enable_caching),
            cache_ttl: later.cache_ttl.or(self.cache_ttl),
            redis_url: later.redis_url.or(self.redis_url),
            database_url: later.database_url.or(self.database_url),
            vector_store_url: later.vector_store_url.or(self.vector_store_url),
            conversation_store_url: later.conversation_store_url.or(self.conversation_store_url),
            prompts_dir: later.prompts_dir.or(self.prompts_dir),
            log_content: later.log_content.or(self.log_content),
        }
    }

    /// Every problem of the values set here, naming each field with `name(field)` (the file key or the
    /// variable).
    pub(crate) fn problems(&self, name: impl Fn(&str) -> String) -> Vec<String> {
        let mut out = Vec::new();
        if self.cache_ttl.is_some_and(|t| t.is_zero()) {
            out.push(format!("{} must be greater than 0", name("cache_ttl")));
        }
        let urls = [
            ("redis_url", &self.redis_url, UrlKind::Redis),
            ("database_url", &self.database_url, UrlKind::Postgres),
            ("vector_store_url", &self.vector_store_url, UrlKind::Any),
            (
                "conversation_store_url",
                &self.conversation_store_url,
                UrlKind::ConversationStore,
            ),
        ];
        for (field, url, kind) in urls {
            if let Some(problem) = url.as_ref().and_then(|u| kind.problem(&name(field), u)) {
                out.push(problem);
            }
        }
        if self
            .prompts_dir
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            out.push(format!("{} is empty", name("prompts_dir")));
        }
        if let Some(ContentPolicy::Full { max_chars: 0 }) = self.log_content {
            out.push(format!(
                "{} full needs max chars of at least 1",
                name("log_content")
            ));
        }
        out
    }
}

/// The schemes a backing-service URL may have.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UrlKind {
    Redis,
    Postgres,
    ConversationStore,
    Http,
    Any,
}

impl UrlKind {
    fn schemes(self) -> &'static [&'static str] {
        match self {
            UrlKind::Redis => &["redis", "rediss", "redis+unix", "unix"],
            UrlKind::Postgres => &["postgres", "postgresql"],
            UrlKind::ConversationStore => &[
                "redis",
                "rediss",
                "redis+unix",
                "unix",
                "postgres",
                "postgresql",
                "memory",
            ],
            UrlKind::Http => &["http", "https"],
            UrlKind::Any => &[],
        }
    }

    /// The problem with `url` as this kind, naming it `label`; never the raw value (it may hold a
    /// password), only its redacted form when it parses as a URL.
    pub(crate) fn problem(self, label: &str, url: &SecretUrl) -> Option<String> {
        let schemes = self.schemes();
        let scheme = url.scheme().map(str::to_ascii_lowercase);
        let ok = match &scheme {
            None => false,
            Some(s) => schemes.is_empty() || schemes.contains(&s.as_str()),
        };
        if ok {
            return None;
        }
        let shown = match scheme {
            Some(_) => format!("{:?}", url.redacted()),
            None => "(value hidden)".to_owned(),
        };
        let expected = if schemes.is_empty() {
            "a URL of the form scheme://...".to_owned()
        } else {
            format!(
                "a URL starting with {}",
                schemes
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Some(format!("{label} {shown} is not {expected}"))
    }
}

/// Parses `none`, `hash`, `full` ([`DEFAULT_LOG_MAX_CHARS`]) or `full:<max chars>`, case-insensitively.
pub(crate) fn parse_log_content(text: &str) -> Option<ContentPolicy> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "none" => Some(ContentPolicy::None),
        "hash" => Some(ContentPolicy::Hash),
        "full" => Some(ContentPolicy::Full {
            max_chars: DEFAULT_LOG_MAX_CHARS,
        }),
        _ => {
            let n = lower.strip_prefix("full:")?.trim().parse::<usize>().ok()?;
            (n > 0).then_some(ContentPolicy::Full { max_chars: n })
        }
    }
}

fn log_content_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ContentPolicy>, D::Error> {
    struct LogContentVisitor;
    impl Visitor<'_> for LogContentVisitor {
        type Value = ContentPolicy;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a content policy: {LOG_CONTENT_FORM}")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<ContentPolicy, E> {
            parse_log_content(v).ok_or_else(|| {
                E::custom(format!(
                    "{v:?} is not a content policy (expected {LOG_CONTENT_FORM})"
                ))
            })
        }
    }
    d.deserialize_str(LogContentVisitor).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_content_forms() {
        assert_eq!(parse_log_content("None"), Some(ContentPolicy::None));
        assert_eq!(parse_log_content("hash"), Some(ContentPolicy::Hash));
        assert_eq!(
            parse_log_content("full"),
            Some(ContentPolicy::Full {
                max_chars: DEFAULT_LOG_MAX_CHARS
            })
        );
        assert_eq!(
            parse_log_content("full:500"),
            Some(ContentPolicy::Full { max_chars: 500 })
        );
        for bad in ["all", "full:0", "full:x", ""] {
            assert_eq!(parse_log_content(bad), None, "{bad}");
        }
    }

    #[test]
    fn url_problems_never_show_a_password() {
        let bad = SecretUrl::new("http://u:hunter2@h:6379");
        let msg = UrlKind::Redis.problem("REDIS_URL", &bad).unwrap();
        assert!(
            !msg.contains("hunter2") && msg.contains("redis://"),
            "{msg}"
        );
        let not_url = SecretUrl::new("hunter2");
        let msg = UrlKind::Postgres.problem("DATABASE_URL", &not_url).unwrap();
        assert!(
            !msg.contains("hunter2") && msg.contains("value hidden"),
            "{msg}"
        );
        assert!(
            UrlKind::Redis
                .problem("x", &SecretUrl::new("rediss://:p@h"))
                .is_none()
        );
        assert!(
            UrlKind::Any
                .problem("x", &SecretUrl::new("memory://"))
                .is_none()
        );
    }
}
