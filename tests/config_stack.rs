//! The recommended stack built from settings (issue 5): the repository's `models.toml` and `prompts/`,
//! variables from a map, providers against the fake servers through real HTTP on loopback.

use std::collections::HashMap;

use twelve_factor_ai::config::{Services, Settings};
use twelve_factor_ai::layer::drain::DrainHandle;
use twelve_factor_ai::llm::{ChatRequest, LlmProvider, LlmProviderExt};
use twelve_factor_ai::prompt::PromptRegistryExt;
use twelve_factor_ai::testing::fake::{FakeServer, FakeUsage, anthropic, openai};
use twelve_factor_ai::{Error, ErrorKind};

const OPENAI_KEY: &str = "sk-test-stack-openai-key";
const ANTHROPIC_KEY: &str = "sk-ant-test-stack-key";

fn repo_file(name: &str) -> String {
    format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The variables of a deploy of the example config, with both providers pointed at fake servers.
fn env(
    profile: &str,
    openai: &FakeServer,
    anthropic: &FakeServer,
) -> HashMap<&'static str, String> {
    HashMap::from([
        ("TFA_PROFILE", profile.to_owned()),
        ("MODELS_CONFIG", repo_file("models.toml")),
        ("PROMPTS_DIR", repo_file("prompts")),
        ("OPENAI_API_KEY", OPENAI_KEY.to_owned()),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY.to_owned()),
        ("OPENAI_BASE_URL", openai.openai_base_url()),
        ("ANTHROPIC_BASE_URL", anthropic.anthropic_base_url()),
        ("CONVERSATION_STORE_URL", "memory://".to_owned()),
    ])
}

fn settings(vars: &HashMap<&'static str, String>) -> Result<Settings, Error> {
    Settings::from_env_vars(|name| vars.get(name).cloned())
}

fn services(vars: &HashMap<&'static str, String>) -> Result<Services, Error> {
    settings(vars)?.build_services()
}

async fn servers() -> (FakeServer, FakeServer) {
    (
        FakeServer::start().await.unwrap(),
        FakeServer::start().await.unwrap(),
    )
}

#[tokio::test]
async fn staging_stack_answers_from_the_primary_with_the_roles_parameters_and_price() {
    let (oa, an) = servers().await;
    let s = services(&env("staging", &oa, &an)).unwrap();
    assert_eq!(s.llm.model(), "gpt-4o-2024-08-06");

    oa.push(openai::chat_completion_with_usage(
        "gpt-4o-2024-08-06",
        "Paris",
        FakeUsage::new(1000, 100),
    ));
    let answer = s
        .llm
        .chat(ChatRequest::user("Capital of France?"))
        .await
        .unwrap();
    assert_eq!(answer.content, "Paris");
    // 1000 input tokens at $2.5/M plus 100 output tokens at $10/M (the primary role's price).
    let expected = (1000.0 * 2.5 + 100.0 * 10.0) / 1e6;
    assert!(
        (answer.cost_usd.unwrap() - expected).abs() < 1e-12,
        "{answer:?}"
    );

    // The role's temperature and max tokens were applied to a request that set neither.
    let sent = oa.last_request().unwrap().json();
    assert_eq!(sent["model"], "gpt-4o-2024-08-06");
    assert!(
        (sent["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6,
        "{sent}"
    );
    assert_eq!(
        sent.get("max_tokens")
            .or(sent.get("max_completion_tokens"))
            .and_then(serde_json::Value::as_u64),
        Some(1024),
        "{sent}"
    );
    assert_eq!(
        oa.last_request().unwrap().header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
}

#[tokio::test]
async fn a_streamed_answer_costs_the_same_as_a_plain_one() {
    let (oa, an) = servers().await;
    let s = services(&env("staging", &oa, &an)).unwrap();
    let usage = || FakeUsage::new(1234, 56);
    oa.push(openai::chat_completion_with_usage(
        "gpt-4o-2024-08-06",
        "Hello there",
        usage(),
    ));
    oa.push(openai::chat_stream_with_usage(
        "gpt-4o-2024-08-06",
        &["Hello", " there"],
        usage(),
    ));
    let plain = s.llm.chat(ChatRequest::user("hi")).await.unwrap();
    let streamed = s.llm.chat_collected(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(streamed.content, plain.content);
    assert!(plain.cost_usd.is_some());
    assert_eq!(streamed.cost_usd, plain.cost_usd);
}

#[tokio::test]
async fn the_fallback_role_answers_when_the_primary_refuses_and_is_priced_as_itself() {
    let (oa, an) = servers().await;
    let s = services(&env("staging", &oa, &an)).unwrap();
    // A bad key is the primary's own problem: not retried, the chain moves on.
    oa.push(openai::invalid_api_key());
    an.push(anthropic::message_with_usage(
        "claude-sonnet-4-5-20250929",
        "Bonjour",
        FakeUsage::new(200, 10),
    ));
    let answer = s.llm.chat(ChatRequest::user("hello")).await.unwrap();
    assert_eq!(answer.content, "Bonjour");
    assert_eq!(answer.response_model(), "claude-sonnet-4-5-20250929");
    assert_eq!(answer.attempts, 2);
    let expected = (200.0 * 3.0 + 10.0 * 15.0) / 1e6;
    assert!(
        (answer.cost_usd.unwrap() - expected).abs() < 1e-12,
        "{answer:?}"
    );
    let sent = an.last_request().unwrap();
    assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(sent.json()["max_tokens"], 1024);
    assert_eq!(oa.requests().len(), 1);
}

#[tokio::test]
async fn prod_caches_deterministic_requests_and_refuses_memory_conversations() {
    let (oa, an) = servers().await;
    let mut vars = env("prod", &oa, &an);
    // Factor VI: conversation state must outlive the process in production.
    let err = services(&vars).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("memory://"), "{err}");
    vars.remove("CONVERSATION_STORE_URL");
    let err = services(&vars).unwrap_err();
    assert!(
        err.message().contains("needs a conversation store"),
        "{err}"
    );
    vars.insert(
        "CONVERSATION_STORE_URL",
        "redis://:hunter2@127.0.0.1:6379".into(),
    );
    let err = services(&vars).unwrap_err();
    assert!(err.message().contains("not in this release"), "{err}");
    assert!(
        err.message().starts_with("CONVERSATION_STORE_URL="),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // The same URL from REDIS_URL alone is named as such.
    vars.remove("CONVERSATION_STORE_URL");
    vars.insert("REDIS_URL", "redis://:hunter2@127.0.0.1:6379".into());
    let err = services(&vars).unwrap_err();
    assert!(err.message().starts_with("REDIS_URL="), "{err}");
    vars.remove("REDIS_URL");
    vars.insert(
        "CONVERSATION_STORE_URL",
        "redis://:hunter2@127.0.0.1:6379".into(),
    );

    // The model stack itself builds in prod, with the cache the prod profile turns on.
    let settings = settings(&vars).unwrap();
    assert!(settings.enable_caching());
    let llm = settings.build_llm(&DrainHandle::new()).unwrap();
    oa.push(openai::chat_completion_with_usage(
        "gpt-4o-2024-08-06",
        "4",
        FakeUsage::new(10, 1),
    ));
    let ask = || {
        ChatRequest::builder()
            .user("2+2?")
            .temperature(0.0)
            .build()
            .unwrap()
    };
    let first = llm.chat(ask()).await.unwrap();
    let second = llm.chat(ask()).await.unwrap();
    assert!(!first.cached && second.cached);
    assert_eq!(second.content, "4");
    assert_eq!(oa.requests().len(), 1);
}

#[tokio::test]
async fn prod_refuses_a_floating_model() {
    let (oa, an) = servers().await;
    let mut vars = env("prod", &oa, &an);
    vars.insert("MODEL", "gpt-4o".into());
    let err = settings(&vars)
        .and_then(|s| s.build_llm(&DrainHandle::new()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("gpt-4o"), "{err}");
}

#[tokio::test]
async fn dev_builds_everything_offline_with_memory_stores_and_the_prompts_folder() {
    let (oa, an) = servers().await;
    let mut vars = env("dev", &oa, &an);
    vars.remove("CONVERSATION_STORE_URL");
    // A service's own DATABASE_URL must not stop it from starting in dev while the PostgreSQL
    // conversation store is not here yet: conversations stay in memory, with a warning.
    vars.insert(
        "DATABASE_URL",
        "postgres://app:hunter2@127.0.0.1/app".into(),
    );
    let s = services(&vars).unwrap();
    // dev: a local Ollama model (no key needed), conversations and vectors in memory.
    assert_eq!(s.llm.name(), "ollama");
    assert!(s.vectors.is_some());
    assert!(s.embedder.is_some());
    let history = s.conversations.load("nobody", Default::default()).await;
    assert_eq!(history.unwrap_err().kind(), ErrorKind::NotFound);
    let prompts = s.prompts.list().await.unwrap();
    assert!(
        prompts
            .iter()
            .any(|p| p.name == "system/customer-support-agent"),
        "{prompts:?}"
    );
    let rendered = s
        .prompts
        .render_latest(
            "templates/summarization",
            &serde_json::json!({ "max_sentences": 2, "audience": "engineers", "text": "{{ not rendered }}" }),
        )
        .await
        .unwrap();
    assert!(rendered.text().contains("{{ not rendered }}"));
}

#[tokio::test]
async fn a_missing_key_names_the_variable_and_never_a_secret() {
    let (oa, an) = servers().await;
    let mut vars = env("staging", &oa, &an);
    vars.remove("ANTHROPIC_API_KEY");
    // Against a local server a key may not be needed; against the provider's own endpoint it is.
    assert!(services(&vars).is_ok());
    vars.remove("ANTHROPIC_BASE_URL");
    let err = services(&vars).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("ANTHROPIC_API_KEY"), "{err}");
    assert!(err.message().contains("fallback"), "{err}");
    assert!(!err.to_string().contains(OPENAI_KEY));
}

#[tokio::test]
async fn the_embedding_role_embeds_through_its_own_stack() {
    let (oa, an) = servers().await;
    let s = services(&env("staging", &oa, &an)).unwrap();
    let embedder = s.embedder.clone().unwrap();
    assert_eq!(embedder.model(), "text-embedding-3-small");
    oa.push(openai::embeddings(
        "text-embedding-3-small",
        &[vec![0.1, 0.2, 0.3]],
    ));
    let v = embedder.embed_one("hello").await.unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(
        oa.last_request().unwrap().json()["model"],
        "text-embedding-3-small"
    );
}

#[tokio::test]
async fn a_request_too_long_for_every_model_is_refused_before_anything_is_sent() {
    // About 150,000 estimated tokens: over gpt-4o's 128,000-token window (the context check refuses it
    // before sending, and the chain moves on), and over the fallback role's whole 30,000 tokens-per-minute
    // budget (its rate limiter refuses it for good). Neither server sees a request.
    let (oa, an) = servers().await;
    let s = services(&env("staging", &oa, &an)).unwrap();
    let long = "word ".repeat(120_000);
    let err = s.llm.chat(ChatRequest::user(long)).await.unwrap_err();
    let kinds: Vec<ErrorKind> = err.attempts().iter().map(Error::kind).collect();
    assert_eq!(
        kinds,
        [ErrorKind::ContextLengthExceeded, ErrorKind::RateLimited],
        "{err:?}"
    );
    assert!(
        err.attempts()[0]
            .message()
            .contains("128,000-token context window"),
        "{err:?}"
    );
    assert_eq!((oa.requests().len(), an.requests().len()), (0, 0));
}

#[tokio::test]
async fn roles_are_shaped_by_the_catalog_and_the_role_policy() {
    use twelve_factor_ai::config::{ModelConfig, ModelRole, ProviderKind};
    use twelve_factor_ai::llm::ShapingPolicy;

    let (oa, _an) = servers().await;
    let role = |policy| {
        ModelRole::new(ProviderKind::OpenAi, "o3-2025-04-16")
            .with_base_url(oa.openai_base_url())
            .with_temperature(0.2)
            .with_max_tokens(500)
            .with_shaping(policy)
    };
    let build = |policy| {
        Settings::builder()
            .role(ModelConfig::PRIMARY, role(policy))
            .api_key(ModelConfig::PRIMARY, OPENAI_KEY)
            .prompts_dir(repo_file("prompts"))
            .build()
            .unwrap()
            .build_llm(&DrainHandle::new())
            .unwrap()
    };
    // Drop (default): o3 wants max_completion_tokens and only the default temperature.
    oa.push(openai::chat_completion("o3-2025-04-16", "ok"));
    build(ShapingPolicy::Drop)
        .chat(
            ChatRequest::builder()
                .system("Be brief.")
                .user("hi")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let sent = oa.last_request().unwrap().json();
    assert_eq!(sent["max_completion_tokens"], 500, "{sent}");
    assert!(sent.get("max_tokens").is_none(), "{sent}");
    assert!(sent.get("temperature").is_none(), "{sent}");
    assert_eq!(sent["messages"][0]["role"], "developer", "{sent}");

    // Strict: the role's temperature is refused before anything is sent.
    let err = build(ShapingPolicy::Strict)
        .chat(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.message().contains("temperature"), "{err}");
    assert_eq!(oa.requests().len(), 1);
}

#[tokio::test]
async fn two_roles_pricing_one_model_differently_is_a_config_error() {
    use twelve_factor_ai::config::{ModelConfig, ModelRole, ProviderKind};
    use twelve_factor_ai::llm::ModelPrice;

    let (oa, _an) = servers().await;
    let role = |price: f64| {
        ModelRole::new(ProviderKind::OpenAi, "gpt-4o-2024-08-06")
            .with_base_url(oa.openai_base_url())
            .with_price(ModelPrice::new(price, 10.0))
    };
    let settings = |backup_price: f64| {
        Settings::builder()
            .role(ModelConfig::PRIMARY, role(2.5))
            .role(ModelConfig::FALLBACK, role(backup_price))
            .api_key(ModelConfig::PRIMARY, OPENAI_KEY)
            .api_key(ModelConfig::FALLBACK, OPENAI_KEY)
            .build()
            .unwrap()
    };
    assert!(settings(2.5).build_llm(&DrainHandle::new()).is_ok());
    let err = settings(5.0).build_llm(&DrainHandle::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("different prices"), "{err}");
    assert!(
        err.message().contains("`primary`") && err.message().contains("`fallback`"),
        "{err}"
    );
}
