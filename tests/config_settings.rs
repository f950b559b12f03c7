//! `Settings`: precedence (defaults < file < profile < environment), every bad variable reported at once
//! with its name and expected form, keys read from the variable each role names, redaction of keys and
//! URL passwords in `Debug` and errors, the pin policy per profile, and the builder that reads nothing.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::with_warnings;

use twelve_factor_ai::config::{
    DEFAULT_LOG_MAX_CHARS, ModelConfig, ModelRole, PinPolicy, Profile, ProviderKind, SecretUrl,
    Settings,
};
use twelve_factor_ai::layer::cache::CacheConfig;
use twelve_factor_ai::layer::logging::ContentPolicy;
use twelve_factor_ai::{Error, ErrorKind};

fn settings(vars: &[(&str, &str)]) -> Result<Settings, Error> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_env_vars(move |name| map.get(name).cloned())
}

fn settings_err(vars: &[(&str, &str)]) -> String {
    let err = settings(vars).expect_err("the settings should be refused");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    err.to_string()
}

fn repo_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(name)
        .display()
        .to_string()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tfa-config-settings-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------------------
// Defaults and precedence.

#[test]
fn defaults_read_nothing() {
    for s in [
        Settings::new(),
        Settings::default(),
        Settings::builder().build().unwrap(),
    ] {
        assert_eq!(s.profile(), &Profile::Dev);
        assert_eq!(s.pin_policy(), PinPolicy::Warn);
        assert_eq!(s.models().roles().count(), 0);
        assert!(!s.enable_caching());
        assert_eq!(s.cache_ttl(), CacheConfig::DEFAULT_TTL);
        assert_eq!(s.redis_url(), None);
        assert_eq!(s.conversation_store_url(), None);
        assert_eq!(s.prompts_dir(), Path::new("prompts"));
        assert_eq!(s.models_config(), None);
        assert_eq!(s.log_content(), ContentPolicy::None);
    }
}

#[test]
fn each_layer_wins_over_the_one_before() {
    let file = temp_file(
        "models.toml",
        r#"
        prompts_dir = "file-prompts"
        log_content = "hash"
        cache_ttl = "10m"
        enable_caching = false

        [models.primary]
        provider = "openai"
        model = "gpt-4o-2024-08-06"
        temperature = 0.2
        max_tokens = 1000
        rpm = 500
        price = { input = 2.5, output = 10.0 }

        [profiles.staging]
        log_content = "full:100"
        cache_ttl = "20m"
        enable_caching = true

        [profiles.staging.models.primary]
        max_tokens = 500
        rpm = 50
        "#,
    );
    let s = settings(&[
        ("MODELS_CONFIG", &file.display().to_string()),
        ("APP_ENV", "staging"),
        ("CACHE_TTL_SECONDS", "30"),
        ("MODEL", "gpt-4o-mini-2024-07-18"),
        ("LLM_TIMEOUT", "45s"),
    ])
    .unwrap();
    assert_eq!(s.models_config(), Some(file.as_path()));
    // Default: nothing sets it.
    assert_eq!(s.redis_url(), None);
    let primary = s.role("primary").unwrap();
    assert_eq!(primary.first_chunk_timeout(), None);
    // File over default.
    assert_eq!(s.prompts_dir(), Path::new("file-prompts"));
    assert_eq!(primary.temperature(), Some(0.2));
    // Profile over file.
    assert_eq!(s.log_content(), ContentPolicy::Full { max_chars: 100 });
    assert!(s.enable_caching());
    assert_eq!(primary.max_tokens(), Some(500));
    assert_eq!(primary.rpm(), Some(50));
    // Environment over profile and file.
    assert_eq!(s.cache_ttl(), Duration::from_secs(30));
    assert_eq!(primary.model(), "gpt-4o-mini-2024-07-18");
    assert_eq!(primary.timeout(), Some(Duration::from_secs(45)));
    // A new model drops the file's price, which was the old model's.
    assert_eq!(primary.price(), None);
}

#[test]
fn the_repo_file_is_read_by_default_and_profiles_apply() {
    // Integration tests run in the package root, where models.toml lives.
    let s = settings(&[("APP_ENV", "dev")]).unwrap();
    assert_eq!(s.models_config(), Some(Path::new("models.toml")));
    assert_eq!(
        s.role("primary").unwrap().model(),
        "llama3.1:8b-instruct-q4_K_M"
    );
    assert_eq!(
        s.log_content(),
        ContentPolicy::Full {
            max_chars: DEFAULT_LOG_MAX_CHARS
        }
    );

    let prod = settings(&[("APP_ENV", "production")]).unwrap();
    assert_eq!(prod.pin_policy(), PinPolicy::Deny);
    assert!(prod.enable_caching());
    assert_eq!(prod.role("primary").unwrap().model(), "gpt-4o-2024-08-06");

    let none = settings(&[("MODELS_CONFIG", "none")]).unwrap();
    assert_eq!(none.models_config(), None);
    assert_eq!(none.models().roles().count(), 0);
}

#[cfg(feature = "yaml")]
#[test]
fn models_config_may_name_the_yaml_file() {
    let yaml = settings(&[
        ("MODELS_CONFIG", &repo_file("models.yaml")),
        ("APP_ENV", "prod"),
    ])
    .unwrap();
    let toml = settings(&[
        ("MODELS_CONFIG", &repo_file("models.toml")),
        ("APP_ENV", "prod"),
    ])
    .unwrap();
    assert_eq!(yaml.models(), toml.models());
}

#[test]
fn quick_variables_without_a_file() {
    let s = settings(&[
        ("MODELS_CONFIG", "none"),
        ("MODEL", "gpt-4o-2024-08-06"),
        ("TEMPERATURE", "0.7"),
        ("MAX_TOKENS", "256"),
        ("FALLBACK_PROVIDER", "anthropic"),
        ("FALLBACK_MODEL", "claude-3-5-haiku-20241022"),
        ("EMBEDDING_MODEL", "text-embedding-3-large"),
        ("OPENAI_BASE_URL", "http://localhost:11434/v1/"),
        ("ANTHROPIC_BASE_URL", "https://anthropic-proxy.internal"),
        ("LLM_IDLE_TIMEOUT", "2m"),
    ])
    .unwrap();
    let primary = s.role("primary").unwrap();
    assert_eq!(
        primary.provider(),
        ProviderKind::OpenAi,
        "openai by default"
    );
    assert_eq!(
        (primary.temperature(), primary.max_tokens()),
        (Some(0.7), Some(256))
    );
    assert_eq!(
        primary.effective_base_url(),
        Some("http://localhost:11434/v1/")
    );
    let fallback = s.role("fallback").unwrap();
    assert_eq!(fallback.provider(), ProviderKind::Anthropic);
    assert_eq!(
        fallback.effective_base_url(),
        Some("https://anthropic-proxy.internal")
    );
    let embedding = s.role("embedding").unwrap();
    assert_eq!(embedding.model(), "text-embedding-3-large");
    assert_eq!(
        embedding.effective_base_url(),
        Some("http://localhost:11434/v1/"),
        "OPENAI_BASE_URL applies to every openai role"
    );
    for (_, role) in s.models().roles() {
        assert_eq!(role.idle_timeout(), Some(Duration::from_secs(120)));
    }
}

#[test]
fn llm_provider_switches_the_file_role() {
    let s = settings(&[
        ("MODELS_CONFIG", &repo_file("models.toml")),
        ("APP_ENV", "prod"),
        ("LLM_PROVIDER", "anthropic"),
        ("MODEL", "claude-sonnet-4-5-20250929"),
    ])
    .unwrap();
    let primary = s.role("primary").unwrap();
    assert_eq!(primary.provider(), ProviderKind::Anthropic);
    assert_eq!(primary.api_key_env(), Some("ANTHROPIC_API_KEY"));
    assert_eq!(
        primary.effective_base_url(),
        Some("https://api.anthropic.com")
    );
    assert_eq!((primary.rpm(), primary.price()), (None, None));
    assert_eq!(primary.temperature(), Some(0.2), "parameters carry over");
}

#[test]
fn conversation_store_follows_redis_then_database() {
    let pg = "postgres://app:pw@db/app";
    let redis = "redis://:pw@cache:6379";
    let none = [("MODELS_CONFIG", "none")];
    let s = settings(&[none[0], ("DATABASE_URL", pg)]).unwrap();
    assert_eq!(s.conversation_store_url().map(SecretUrl::expose), Some(pg));
    let s = settings(&[none[0], ("DATABASE_URL", pg), ("REDIS_URL", redis)]).unwrap();
    assert_eq!(
        s.conversation_store_url().map(SecretUrl::expose),
        Some(redis)
    );
    let s = settings(&[
        none[0],
        ("REDIS_URL", redis),
        ("CONVERSATION_STORE_URL", "memory://"),
    ])
    .unwrap();
    assert_eq!(
        s.conversation_store_url().map(SecretUrl::expose),
        Some("memory://")
    );
}

// ---------------------------------------------------------------------------------------------------------
// Bad input.

#[test]
fn every_bad_variable_is_reported_at_once() {
    let msg = settings_err(&[
        ("MODELS_CONFIG", "none"),
        ("MODEL", "gpt-4o-2024-08-06"),
        ("TEMPERATURE", "abc"),
        ("MAX_TOKENS", "0"),
        ("ENABLE_CACHING", "maybe"),
        ("CACHE_TTL_SECONDS", "-5"),
        ("LOG_CONTENT", "all"),
        ("TFA_PIN_POLICY", "strict"),
        ("LLM_TIMEOUT", "soon"),
        ("FALLBACK_PROVIDER", "gemini"),
        ("FALLBACK_MODEL", "gemini-1.5-pro-002"),
        ("TFA_PROFILE", "pr od"),
        ("REDIS_URL", "http://:hunter2@cache:6379"),
        ("DATABASE_URL", "hunter2"),
        ("OPENAI_BASE_URL", "localhost:11434"),
    ]);
    let expected = [
        r#"TEMPERATURE="abc" is not a number between 0 and 2"#,
        r#"MAX_TOKENS="0" is not a whole number greater than 0"#,
        r#"ENABLE_CACHING="maybe" is not a boolean (expected true/false, 1/0, yes/no or on/off)"#,
        r#"CACHE_TTL_SECONDS="-5" is not a whole number of seconds greater than 0"#,
        r#"LOG_CONTENT="all" is not a content policy (expected none, hash, full or full:<max chars>)"#,
        r#"TFA_PIN_POLICY="strict" is not a pin policy (expected off, warn or deny)"#,
        r#"LLM_TIMEOUT="soon" is not a duration greater than 0"#,
        r#"FALLBACK_PROVIDER="gemini" is not a known provider (expected one of: openai, anthropic, azure, openai-compatible, ollama, vllm)"#,
        r#"TFA_PROFILE="pr od" is not a profile name"#,
        r#"REDIS_URL "http://:[REDACTED]@cache:6379" is not a URL starting with redis://, rediss://"#,
        "DATABASE_URL (value hidden) is not a URL starting with postgres://, postgresql://",
        "OPENAI_BASE_URL (value hidden) is not a URL starting with http://, https://",
    ];
    for want in expected {
        assert!(msg.contains(want), "missing {want:?} in {msg}");
    }
    assert!(msg.starts_with("config: settings: 12 problems: "), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn out_of_range_values() {
    for (var, value, want) in [
        (
            "TEMPERATURE",
            "3",
            r#"TEMPERATURE="3" is not a number between 0 and 2"#,
        ),
        ("TEMPERATURE", "NaN", r#"TEMPERATURE="NaN""#),
        ("MAX_TOKENS", "-1", r#"MAX_TOKENS="-1""#),
        ("MAX_TOKENS", "99999999999", r#"MAX_TOKENS="99999999999""#),
        ("CACHE_TTL_SECONDS", "0", r#"CACHE_TTL_SECONDS="0""#),
        (
            "LLM_FIRST_CHUNK_TIMEOUT",
            "0s",
            r#"LLM_FIRST_CHUNK_TIMEOUT="0s""#,
        ),
    ] {
        let msg = settings_err(&[
            ("MODELS_CONFIG", "none"),
            ("MODEL", "gpt-4o-2024-08-06"),
            (var, value),
        ]);
        assert!(msg.contains(want), "{var}={value}: {msg}");
    }
    // Anthropic's narrower range is checked on the role.
    let msg = settings_err(&[
        ("MODELS_CONFIG", "none"),
        ("LLM_PROVIDER", "anthropic"),
        ("MODEL", "claude-sonnet-4-5-20250929"),
        ("TEMPERATURE", "1.5"),
    ]);
    assert!(
        msg.contains("role `primary`: temperature 1.5 is outside 0..=1"),
        "{msg}"
    );
}

#[test]
fn role_variables_need_a_role_to_change() {
    let msg = settings_err(&[("MODELS_CONFIG", "none"), ("TEMPERATURE", "0.5")]);
    assert!(
        msg.contains("set fields of role `primary`, which is not defined: set MODEL"),
        "{msg}"
    );
    let msg = settings_err(&[
        ("MODELS_CONFIG", &repo_file("models.toml")),
        ("LLM_PROVIDER", "anthropic"),
    ]);
    assert!(
        msg.contains(r#"LLM_PROVIDER="anthropic" changes role `primary` from ollama to anthropic, but MODEL is not set"#),
        "{msg}"
    );
    let msg = settings_err(&[("MODELS_CONFIG", "none"), ("MODEL", "gpt 4o")]);
    assert!(msg.contains(r#"MODEL="gpt 4o" is not a model id"#), "{msg}");
}

#[test]
fn bad_or_missing_files_and_profiles() {
    let msg = settings_err(&[
        ("MODELS_CONFIG", "/nonexistent/models.toml"),
        ("TEMPERATURE", "x"),
    ]);
    assert!(
        msg.contains("/nonexistent/models.toml: cannot read the model config"),
        "{msg}"
    );
    assert!(msg.contains("(from MODELS_CONFIG)"), "{msg}");
    assert!(
        msg.contains(r#"TEMPERATURE="x""#),
        "variables are still checked: {msg}"
    );

    let typo = temp_file(
        "models.toml",
        "[models.primary]\nprovider = \"openai\"\nmodle = \"x\"\n",
    );
    let msg = settings_err(&[("MODELS_CONFIG", &typo.display().to_string())]);
    assert!(
        msg.contains("unknown field `modle`") && msg.contains("line 3"),
        "{msg}"
    );

    // A custom profile must exist in the file, so APP_ENV=prdo does not silently run without overrides.
    let msg = settings_err(&[
        ("MODELS_CONFIG", &repo_file("models.toml")),
        ("APP_ENV", "prdo"),
    ]);
    assert!(
        msg.contains(
            "profile `prdo` is not defined in the model config (defined: dev, prod, staging"
        ),
        "{msg}"
    );
    // Without a file any profile name is fine.
    let s = settings(&[("MODELS_CONFIG", "none"), ("APP_ENV", "qa")]).unwrap();
    assert_eq!(s.profile(), &Profile::Custom("qa".into()));
    assert_eq!(s.pin_policy(), PinPolicy::Warn);
}

// ---------------------------------------------------------------------------------------------------------
// Keys and redaction.

#[test]
fn keys_come_from_the_variable_each_role_names() {
    let file = temp_file(
        "models.toml",
        r#"
        [models.primary]
        provider = "openai"
        model = "gpt-4o-2024-08-06"
        api_key_env = "PRIMARY_OPENAI_KEY"

        [models.fallback]
        provider = "anthropic"
        model = "claude-sonnet-4-5-20250929"

        [models.embedding]
        provider = "openai"
        model = "text-embedding-3-small"

        [models.local]
        provider = "ollama"
        model = "llama3.1:8b-instruct-q4_0"
        "#,
    );
    let s = settings(&[
        ("MODELS_CONFIG", &file.display().to_string()),
        ("PRIMARY_OPENAI_KEY", "sk-primary"),
        ("OPENAI_API_KEY", "  sk-shared\n"),
        ("ANTHROPIC_API_KEY", "   "),
    ])
    .unwrap();
    assert_eq!(s.api_key("primary").unwrap().expose(), "sk-primary");
    assert_eq!(
        s.api_key("embedding").unwrap().expose(),
        "sk-shared",
        "trimmed"
    );
    // An empty key is no key; a missing key is an error only when the role is used.
    assert!(s.api_key("fallback").is_none());
    assert!(s.api_key("local").is_none());

    let msg = settings_err(&[
        ("MODELS_CONFIG", &file.display().to_string()),
        ("OPENAI_API_KEY", "sk-abc def"),
    ]);
    assert!(
        msg.contains("OPENAI_API_KEY (value hidden) contains whitespace or control characters"),
        "{msg}"
    );
    assert!(!msg.contains("sk-abc"), "{msg}");
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let s = settings(&[
        ("MODELS_CONFIG", &repo_file("models.toml")),
        ("APP_ENV", "prod"),
        ("OPENAI_API_KEY", "sk-live-topsecret"),
        ("ANTHROPIC_API_KEY", "sk-ant-topsecret"),
        ("REDIS_URL", "redis://:redispass@cache:6379/0"),
        (
            "DATABASE_URL",
            "postgres://app:pgpass@db:5432/app?password=pgpass2",
        ),
        ("VECTOR_STORE_URL", "https://vec.example/?api_key=vecpass"),
        ("OPENAI_BASE_URL", "https://user:gwpass@gateway.example/v1"),
    ])
    .unwrap();
    let debug = format!("{s:?}");
    for secret in [
        "sk-live-topsecret",
        "sk-ant-topsecret",
        "redispass",
        "pgpass",
        "vecpass",
        "gwpass",
    ] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(
        debug.contains("redis://:[REDACTED]@cache:6379/0"),
        "{debug}"
    );
    assert!(
        debug.contains("gpt-4o-2024-08-06"),
        "settings are shown: {debug}"
    );
    // The full values are there for the code that connects.
    assert_eq!(
        s.redis_url().unwrap().expose(),
        "redis://:redispass@cache:6379/0"
    );
    assert_eq!(s.api_key("primary").unwrap().expose(), "sk-live-topsecret");
    assert_eq!(
        s.redis_url().unwrap().to_string(),
        "redis://:[REDACTED]@cache:6379/0"
    );
}

// ---------------------------------------------------------------------------------------------------------
// The pin policy per profile.

#[test]
fn floating_model_is_denied_in_prod_and_warned_elsewhere() {
    let floating = |profile: &'static str| {
        with_warnings(move || {
            settings(&[
                ("MODELS_CONFIG", &repo_file("models.toml")),
                ("APP_ENV", profile),
                ("MODEL", "gpt-4o"),
            ])
        })
    };
    let (prod, _) = floating("production");
    let msg = prod.unwrap_err().to_string();
    assert!(
        msg.contains("role `primary` (openai `gpt-4o`): `gpt-4o` is an alias that moves to new snapshots; pin `gpt-4o-2024-08-06`"),
        "{msg}"
    );
    assert!(
        msg.contains("the pin policy of profile `prod` is deny"),
        "{msg}"
    );

    let (staging, warnings) = floating("staging");
    let staging = staging.unwrap();
    assert_eq!(staging.pin_policy(), PinPolicy::Warn);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("model=gpt-4o") && warnings[0].contains("profile=staging"));

    // The variable overrides the profile's policy.
    let (prod_warn, warnings) = with_warnings(|| {
        settings(&[
            ("MODELS_CONFIG", &repo_file("models.toml")),
            ("APP_ENV", "prod"),
            ("MODEL", "gpt-4o"),
            ("TFA_PIN_POLICY", "warn"),
        ])
    });
    assert_eq!(prod_warn.unwrap().pin_policy(), PinPolicy::Warn);
    assert_eq!(warnings.len(), 1);

    // Prod without a file denies by default too, and all pinned ids pass quietly.
    let (ok, warnings) = with_warnings(|| {
        settings(&[
            ("MODELS_CONFIG", "none"),
            ("APP_ENV", "prod"),
            ("MODEL", "gpt-4o-2024-08-06"),
        ])
    });
    assert_eq!(ok.unwrap().pin_policy(), PinPolicy::Deny);
    assert!(warnings.is_empty(), "{warnings:#?}");
}

// ---------------------------------------------------------------------------------------------------------
// The builder.

#[test]
fn builder_resolves_profiles_and_checks_values() {
    let config = ModelConfig::load(repo_file("models.toml")).unwrap();
    let s = Settings::builder()
        .profile(Profile::Staging)
        .model_config(config.clone())
        .role(
            "summarizer",
            ModelRole::new(ProviderKind::OpenAi, "gpt-4o-mini-2024-07-18"),
        )
        .api_key("primary", "sk-builder")
        .enable_caching(true)
        .cache_ttl(Duration::from_secs(60))
        .prompts_dir("/srv/prompts")
        .log_content(ContentPolicy::Hash)
        .database_url("postgres://db/app")
        .build()
        .unwrap();
    assert_eq!(
        s.role("primary").unwrap().rpm(),
        Some(50),
        "staging profile"
    );
    assert!(s.role("summarizer").is_some());
    assert_eq!(s.api_key("primary").unwrap().expose(), "sk-builder");
    assert!(
        s.api_key("fallback").is_none(),
        "the builder reads no variable"
    );
    assert_eq!(s.cache_ttl(), Duration::from_secs(60));
    assert_eq!(s.prompts_dir(), Path::new("/srv/prompts"));
    assert_eq!(s.log_content(), ContentPolicy::Hash);
    assert_eq!(
        s.conversation_store_url().unwrap().expose(),
        "postgres://db/app"
    );

    let err = Settings::builder()
        .model_config(config)
        .api_key("nope", "k")
        .cache_ttl(Duration::ZERO)
        .redis_url("postgres://wrong")
        .log_content(ContentPolicy::Full { max_chars: 0 })
        .pin_policy(PinPolicy::Off)
        .role(
            "primary",
            ModelRole::new(ProviderKind::OpenAi, "gpt-4o").with_max_tokens(0),
        )
        .build()
        .unwrap_err();
    let msg = err.to_string();
    for want in [
        "an API key is set for role `nope`, which is not defined",
        "cache_ttl must be greater than 0",
        "redis_url \"postgres://wrong\" is not a URL starting with redis://",
        "log_content full needs max chars of at least 1",
        "role `primary`: max_tokens must be greater than 0",
    ] {
        assert!(msg.contains(want), "missing {want:?} in {msg}");
    }
    assert!(!msg.contains("pin `gpt-4o"), "pin policy off: {msg}");
}
