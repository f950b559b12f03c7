//! `ModelConfig`: the repository's models.toml and models.yaml (same content, equal configs), profiles,
//! every bad file (unknown key, bad syntax, unknown provider, out-of-range values, undefined roles and
//! profiles) with the messages they give, and the pin check under warn and deny.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::with_warnings;

use twelve_factor_ai::config::{ModelConfig, ModelRole, PinPolicy, Pinning, Profile, ProviderKind};
use twelve_factor_ai::llm::ModelPrice;
use twelve_factor_ai::{Error, ErrorKind};

fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// A file in the temp dir with a name unique to this test run.
fn temp_file(name: &str, text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tfa-config-model-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn config_err(result: Result<ModelConfig, Error>) -> String {
    let err = result.expect_err("the config should be refused");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    err.to_string()
}

const MINIMAL: &str = r#"
[models.primary]
provider = "openai"
model = "gpt-4o-2024-08-06"
"#;

// ---------------------------------------------------------------------------------------------------------
// The repository's example files.

#[test]
fn repo_models_toml_has_the_documented_roles() {
    let config = ModelConfig::load(repo_file("models.toml")).unwrap();
    let names: Vec<&str> = config.roles().map(|(n, _)| n).collect();
    assert_eq!(names, ["embedding", "fallback", "primary"]);
    assert_eq!(
        config.profile_names().collect::<Vec<_>>(),
        ["dev", "prod", "staging"]
    );

    let primary = config.role(ModelConfig::PRIMARY).unwrap();
    assert_eq!(primary.provider(), ProviderKind::OpenAi);
    assert_eq!(primary.model(), "gpt-4o-2024-08-06");
    assert_eq!(primary.temperature(), Some(0.2));
    assert_eq!(primary.max_tokens(), Some(1024));
    assert_eq!(primary.rpm(), Some(500));
    assert_eq!(primary.tpm(), Some(30_000));
    assert_eq!(primary.timeout(), Some(Duration::from_secs(60)));
    assert_eq!(primary.first_chunk_timeout(), Some(Duration::from_secs(20)));
    assert_eq!(
        primary.price(),
        Some(&ModelPrice::new(2.5, 10.0).with_cached_input(1.25))
    );
    assert_eq!(primary.api_key_env(), Some("OPENAI_API_KEY"));
    assert_eq!(
        primary.effective_base_url(),
        Some("https://api.openai.com/v1")
    );
    let timeouts = primary.timeout_config().unwrap();
    assert_eq!(timeouts.total(), Some(Duration::from_secs(60)));
    assert_eq!(timeouts.idle(), Some(Duration::from_secs(30)));

    let fallback = config.role(ModelConfig::FALLBACK).unwrap();
    assert_eq!(fallback.provider(), ProviderKind::Anthropic);
    assert_eq!(fallback.model(), "claude-sonnet-4-5-20250929");
    assert_eq!(fallback.api_key_env(), Some("ANTHROPIC_API_KEY"));

    let embedding = config.role(ModelConfig::EMBEDDING).unwrap();
    assert_eq!(embedding.model(), "text-embedding-3-small");
    assert_eq!(embedding.dimensions(), Some(1536));

    // Every role of the example is pinned, so prod's deny policy passes.
    assert!(config.unpinned().is_empty(), "{:?}", config.unpinned());
    assert_eq!(config.pin_policy_for(&Profile::Prod), PinPolicy::Deny);
    assert_eq!(config.pin_policy_for(&Profile::Dev), PinPolicy::Warn);
}

#[cfg(feature = "yaml")]
#[test]
fn repo_models_toml_and_yaml_load_to_equal_configs() {
    let toml = ModelConfig::load(repo_file("models.toml")).unwrap();
    let yaml = ModelConfig::load(repo_file("models.yaml")).unwrap();
    assert_eq!(toml, yaml);
    for profile in [Profile::Dev, Profile::Staging, Profile::Prod] {
        assert_eq!(
            toml.for_profile(&profile).unwrap(),
            yaml.for_profile(&profile).unwrap(),
            "{profile}"
        );
    }
}

#[test]
fn profiles_change_sizes_and_keep_parameters() {
    let config = ModelConfig::load(repo_file("models.toml")).unwrap();

    let dev = config.for_profile(&Profile::Dev).unwrap();
    assert_eq!(dev.profile(), Some(&Profile::Dev));
    assert_eq!(dev.profile_names().count(), 0);
    let primary = dev.role(ModelConfig::PRIMARY).unwrap();
    assert_eq!(primary.provider(), ProviderKind::Ollama);
    assert_eq!(primary.model(), "llama3.1:8b-instruct-q4_K_M");
    // A new provider resets what belonged to the old one...
    assert_eq!(primary.base_url(), None);
    assert_eq!(
        primary.effective_base_url(),
        Some("http://localhost:11434/v1")
    );
    assert_eq!(primary.api_key_env(), None);
    assert_eq!(
        (primary.rpm(), primary.tpm(), primary.price()),
        (None, None, None)
    );
    // ...and keeps the parameters.
    assert_eq!(primary.temperature(), Some(0.2));
    assert_eq!(primary.max_tokens(), Some(1024));
    assert_eq!(primary.timeout(), Some(Duration::from_secs(60)));
    let fallback = dev.role(ModelConfig::FALLBACK).unwrap();
    assert_eq!(fallback.model(), "claude-3-5-haiku-20241022");
    assert_eq!(fallback.rpm(), Some(5));
    assert_eq!(fallback.price(), Some(&ModelPrice::new(0.8, 4.0)));
    assert!(dev.unpinned().is_empty());

    let staging = config.for_profile(&Profile::Staging).unwrap();
    let primary = staging.role(ModelConfig::PRIMARY).unwrap();
    assert_eq!(primary.model(), "gpt-4o-2024-08-06");
    assert_eq!((primary.rpm(), primary.tpm()), (Some(50), Some(10_000)));
    assert!(primary.price().is_some(), "same model, same price");

    let prod = config.for_profile(&Profile::Prod).unwrap();
    assert_eq!(
        prod.role(ModelConfig::PRIMARY),
        config.role(ModelConfig::PRIMARY)
    );
    assert_eq!(prod.pin_policy_for(&Profile::Prod), PinPolicy::Deny);
}

#[test]
fn profile_keys_accept_aliases_and_custom_names() {
    let text = format!(
        "{MINIMAL}\n[profiles.production]\npin_policy = \"warn\"\n[profiles.QA.models.primary]\nrpm = 5\n"
    );
    let config = ModelConfig::from_toml_str(&text).unwrap();
    assert_eq!(config.profile_names().collect::<Vec<_>>(), ["prod", "qa"]);
    assert_eq!(config.pin_policy_for(&Profile::Prod), PinPolicy::Warn);
    let qa = config.for_profile(&"qa".parse().unwrap()).unwrap();
    assert_eq!(qa.role("primary").unwrap().rpm(), Some(5));
    // Built-in profiles need no section.
    assert!(config.for_profile(&Profile::Staging).is_ok());
}

// ---------------------------------------------------------------------------------------------------------
// Bad files.

#[test]
fn unknown_field_names_the_field_file_and_line() {
    let text = "[models.primary]\nprovider = \"openai\"\nmodel = \"gpt-4o-2024-08-06\"\ntemprature = 0.2\n";
    let path = temp_file("models.toml", text);
    let msg = config_err(ModelConfig::load(&path));
    assert!(msg.contains("unknown field `temprature`"), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");

    // Top-level typos too.
    let msg = config_err(ModelConfig::from_toml_str(
        "[modles.primary]\nmodel = \"x\"\n",
    ));
    assert!(msg.contains("unknown field `modles`"), "{msg}");
    // And in profile sections.
    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "{MINIMAL}\n[profiles.prod]\npin_polcy = \"deny\"\n"
    )));
    assert!(msg.contains("unknown field `pin_polcy`"), "{msg}");
}

#[cfg(feature = "yaml")]
#[test]
fn unknown_field_in_yaml_names_the_field_file_and_line() {
    let text = "models:\n  primary:\n    provider: openai\n    model: gpt-4o-2024-08-06\n    temprature: 0.2\n";
    let path = temp_file("models.yaml", text);
    let msg = config_err(ModelConfig::load(&path));
    assert!(msg.contains("unknown field `temprature`"), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn bad_toml_syntax_gives_the_line() {
    let msg = config_err(ModelConfig::from_toml_str(
        "[models.primary]\nprovider = \"openai\"\nmodel = gpt-4o\n",
    ));
    assert!(msg.contains("line 3"), "{msg}");
    assert!(
        msg.starts_with("config: TOML model config: line 3"),
        "{msg}"
    );
}

#[cfg(feature = "yaml")]
#[test]
fn bad_yaml_syntax_gives_the_line() {
    let msg = config_err(ModelConfig::from_yaml_str(
        "models:\n  primary:\n    provider: openai\n   model: [unclosed\n",
    ));
    assert!(msg.contains("line 4"), "{msg}");
    // A wrong type is reported with its place too.
    let msg = config_err(ModelConfig::from_yaml_str(
        "models:\n  primary:\n    provider: openai\n    model: m\n    max_tokens: lots\n",
    ));
    assert!(msg.contains("max_tokens") || msg.contains("u32"), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");
}

#[test]
fn unknown_provider_lists_the_known_ones() {
    let msg = config_err(ModelConfig::from_toml_str(
        "[models.primary]\nprovider = \"gemini\"\nmodel = \"gemini-1.5-pro-002\"\n",
    ));
    assert!(msg.contains("unknown variant `gemini`"), "{msg}");
    for name in [
        "openai",
        "anthropic",
        "azure",
        "openai-compatible",
        "ollama",
        "vllm",
    ] {
        assert!(msg.contains(name), "{msg} should list {name}");
    }
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let text = r#"
        [models.primary]
        provider = "openai"
        model = "gpt-4o-2024-08-06"
        temperature = 3.5
        max_tokens = 0
        rpm = 0
        timeout = "0s"
        dimensions = 256
        api_key_env = "sk-live-123"

        [models.fallback]
        provider = "anthropic"
        model = "claude-sonnet-4-5-20250929"
        temperature = 1.5
        base_url = "api.anthropic.com"

        [models.azure]
        provider = "azure"
        model = "gpt-4o-2024-08-06"

        [models.local]
        provider = "openai-compatible"
        model = "llama3"
        api_version = "2024-10-21"

        [models.Bad]
        provider = "ollama"
        model = "llama3:8b-instruct-q4_0"
    "#;
    let msg = config_err(ModelConfig::from_toml_str(text));
    let expected = [
        "role `primary`: temperature 3.5 is outside 0..=2",
        "role `primary`: max_tokens must be greater than 0",
        "role `primary`: rpm must be greater than 0",
        "role `primary`: timeout must be greater than 0",
        "role `primary`: dimensions applies to embedding roles",
        "role `primary`: api_key_env \"sk-live-123\" is not a variable name",
        "role `fallback`: temperature 1.5 is outside 0..=1",
        "role `fallback`: base_url \"api.anthropic.com\" must start with http:// or https://",
        "role `azure`: provider azure has no default base URL",
        "role `azure`: provider azure needs api_version",
        "role `local`: provider openai-compatible has no default base URL",
        "role `local`: api_version applies to azure and anthropic only",
        "role name `Bad` must be lowercase",
    ];
    for want in expected {
        assert!(msg.contains(want), "missing {want:?} in {msg}");
    }
    assert!(msg.contains("13 problems"), "{msg}");
}

#[test]
fn incomplete_roles_and_bad_durations() {
    let msg = config_err(ModelConfig::from_toml_str(
        "[models.primary]\nprovider = \"openai\"\n",
    ));
    assert!(msg.contains("role `primary`: model is missing"), "{msg}");

    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "{MINIMAL}timeout = \"soon\"\n"
    )));
    assert!(msg.contains("\"soon\" is not a duration"), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");

    let ok = ModelConfig::from_toml_str(&format!(
        "{MINIMAL}timeout = \"1m30s\"\nfirst_chunk_timeout = 15\nidle_timeout = \"500ms\"\n"
    ))
    .unwrap();
    let primary = ok.role("primary").unwrap();
    assert_eq!(primary.timeout(), Some(Duration::from_secs(90)));
    assert_eq!(primary.first_chunk_timeout(), Some(Duration::from_secs(15)));
    assert_eq!(primary.idle_timeout(), Some(Duration::from_millis(500)));
}

#[test]
fn profile_overriding_an_undefined_role_is_an_error() {
    let text = format!("{MINIMAL}\n[profiles.prod.models.primry]\nrpm = 10\n");
    let msg = config_err(ModelConfig::from_toml_str(&text));
    assert!(
        msg.contains("profile `prod`: sets fields of role `primry`, which is not defined (defined roles: primary)"),
        "{msg}"
    );
    // A complete new role in a profile is fine.
    let text = format!(
        "{MINIMAL}\n[profiles.dev.models.local]\nprovider = \"ollama\"\nmodel = \"llama3.1:8b-instruct-q4_0\"\n"
    );
    let config = ModelConfig::from_toml_str(&text).unwrap();
    assert!(config.role("local").is_none());
    let dev = config.for_profile(&Profile::Dev).unwrap();
    assert_eq!(dev.role("local").unwrap().provider(), ProviderKind::Ollama);
    // require_role names the defined roles.
    let err = dev.require_role("summarizer").unwrap_err();
    assert!(
        err.to_string().contains("defined roles: local, primary"),
        "{err}"
    );
}

#[test]
fn profile_values_are_validated_even_when_another_profile_runs() {
    let text = format!(
        "{MINIMAL}\n[profiles.prod.models.primary]\ntemperature = 9\n[profiles.staging.models.primary]\nprovider = \"anthropic\"\n"
    );
    let msg = config_err(ModelConfig::from_toml_str(&text));
    assert!(
        msg.contains("profile `prod`: role `primary`: temperature 9 is outside 0..=2"),
        "{msg}"
    );
    assert!(
        msg.contains("profile `staging`: role `primary`: provider changes from openai to anthropic but no model is given"),
        "{msg}"
    );
}

#[test]
fn custom_profiles_must_be_defined() {
    let config = ModelConfig::from_toml_str(&format!("{MINIMAL}\n[profiles.qa]\n")).unwrap();
    let err = config
        .for_profile(&Profile::Custom("prdo".into()))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("profile `prdo` is not defined in the model config (defined: qa; built in: dev, staging, prod)"),
        "{msg}"
    );
    assert!(config.for_profile(&Profile::Custom("qa".into())).is_ok());
}

#[test]
fn bad_profile_sections() {
    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "{MINIMAL}\n[profiles.prod]\n[profiles.production]\n"
    )));
    assert!(msg.contains("defined twice"), "{msg}");
    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "{MINIMAL}\n[profiles.prod.profiles.dev]\n"
    )));
    assert!(msg.contains("profiles cannot nest"), "{msg}");
    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "{MINIMAL}\n[profiles.\"no good\"]\n"
    )));
    assert!(
        msg.contains("profile key `no good` is not a profile name"),
        "{msg}"
    );
    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "{MINIMAL}\n[profiles.prod]\npin_policy = \"strict\"\n"
    )));
    assert!(msg.contains("unknown variant `strict`"), "{msg}");
}

#[test]
fn bad_settings_in_the_file() {
    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "redis_url = \"http://:hunter2@cache:6379\"\ndatabase_url = \"hunter2\"\ncache_ttl = 0\n{MINIMAL}"
    )));
    assert!(
        msg.contains(
            "redis_url \"http://:[REDACTED]@cache:6379\" is not a URL starting with redis://"
        ),
        "{msg}"
    );
    assert!(msg.contains("database_url (value hidden)"), "{msg}");
    assert!(msg.contains("cache_ttl must be greater than 0"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    let msg = config_err(ModelConfig::from_toml_str(&format!(
        "log_content = \"everything\"\n{MINIMAL}"
    )));
    assert!(
        msg.contains("\"everything\" is not a content policy"),
        "{msg}"
    );
    assert!(msg.contains("line 1"), "{msg}");
}

#[test]
fn load_by_extension() {
    let json = temp_file("models.json", "{}");
    let msg = config_err(ModelConfig::load(&json));
    assert!(msg.contains("use a .toml, .yaml or .yml file"), "{msg}");
    let missing = std::env::temp_dir().join("tfa-no-such-dir/models.toml");
    let msg = config_err(ModelConfig::load(&missing));
    assert!(
        msg.contains("tfa-no-such-dir/models.toml: cannot read the model config"),
        "{msg}"
    );
    // Empty files are empty configs.
    assert_eq!(
        ModelConfig::load(temp_file("models.toml", "")).unwrap(),
        ModelConfig::new()
    );
    #[cfg(feature = "yaml")]
    assert_eq!(
        ModelConfig::load(temp_file("models.yml", "# nothing yet\n")).unwrap(),
        ModelConfig::new()
    );
}

#[test]
fn configs_built_in_code_are_validated() {
    let config = ModelConfig::new().with_role(
        "primary",
        ModelRole::new(ProviderKind::OpenAi, "gpt-4o-2024-08-06")
            .with_temperature(f32::NAN)
            .with_price(ModelPrice::new(-1.0, 10.0)),
    );
    let err = config.validate().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("temperature NaN is outside 0..=2"), "{msg}");
    assert!(msg.contains("price.input must be a finite number"), "{msg}");
    assert!(
        ModelConfig::from_toml_str(MINIMAL)
            .unwrap()
            .validate()
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------------------
// The pin check under each policy.

fn floating_config() -> ModelConfig {
    ModelConfig::new()
        .with_role("primary", ModelRole::new(ProviderKind::OpenAi, "gpt-4o"))
        .with_role("summarizer", ModelRole::new(ProviderKind::OpenAi, "gpt-4o"))
        .with_role(
            "fallback",
            ModelRole::new(ProviderKind::Anthropic, "claude-3-7-sonnet-latest"),
        )
        .with_role(
            "azure",
            ModelRole::new(ProviderKind::Azure, "prod-gpt")
                .with_base_url("https://r.openai.azure.com/openai/deployments/prod-gpt")
                .with_api_version("2024-10-21"),
        )
        .with_role(
            "embedding",
            ModelRole::new(ProviderKind::OpenAi, "text-embedding-3-small"),
        )
}

#[test]
fn warn_policy_warns_once_per_model_id() {
    let config = floating_config();
    let (result, warnings) = with_warnings(|| config.check_pins(PinPolicy::Warn));
    result.unwrap();
    // gpt-4o (two roles, one warning), claude-3-7-sonnet-latest, and the Azure deployment (unknown).
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    let gpt = warnings
        .iter()
        .find(|w| w.contains("model=gpt-4o "))
        .unwrap();
    assert!(gpt.contains("roles=primary,summarizer"), "{gpt}");
    assert!(gpt.contains("pin `gpt-4o-2024-08-06`"), "{gpt}");
    assert!(warnings.iter().any(|w| w.contains("model=prod-gpt")));

    let (result, warnings) = with_warnings(|| config.check_pins(PinPolicy::Off));
    result.unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn deny_policy_lists_every_floating_role() {
    let config = floating_config();
    let (result, warnings) = with_warnings(|| config.check_pins(PinPolicy::Deny));
    let msg = result.unwrap_err().to_string();
    for want in [
        "role `primary` (openai `gpt-4o`): `gpt-4o` is an alias that moves to new snapshots; pin `gpt-4o-2024-08-06`",
        "role `summarizer` (openai `gpt-4o`)",
        "role `fallback` (anthropic `claude-3-7-sonnet-latest`)",
        "pin_policy = \"warn\"",
    ] {
        assert!(msg.contains(want), "missing {want:?} in {msg}");
    }
    assert!(
        !msg.contains("prod-gpt"),
        "unknown ids are not refused: {msg}"
    );
    assert!(!msg.contains("text-embedding-3-small"), "{msg}");
    // Unknown ids are still warned about.
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("prod-gpt"));

    let findings = config.unpinned();
    assert_eq!(findings.len(), 4);
    let azure = findings.iter().find(|f| f.role == "azure").unwrap();
    assert!(matches!(azure.pinning, Pinning::Unknown { .. }));
}
