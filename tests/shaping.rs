//! Request shaping through real HTTP on loopback: the same `ChatRequest` (system prompt, temperature 0.2,
//! max tokens 500) succeeds against every model family through the model catalog, against fake servers that
//! refuse what the real APIs refuse; sent unshaped it fails exactly as the real APIs fail.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use twelve_factor_ai::ErrorKind;
use twelve_factor_ai::llm::catalog::{Catalog, ModelInfo, ModelKind, OutputTokensParam};
use twelve_factor_ai::llm::{
    Anthropic, AnthropicConfig, ChatRequest, LlmProvider, OpenAi, OpenAiConfig, ShapingPolicy,
    StreamEvent,
};
use twelve_factor_ai::testing::fake::{FakeServer, RecordedRequest};

const OPENAI_KEY: &str = "sk-test-abcdefghijklmnopqrstuvwxyz";
const ANTHROPIC_KEY: &str = "sk-ant-test-abcdefghijklmnop";
const NEW_VERSION: &str = "2026-10-21";

/// The request every test sends: what a host with a pinned config would send to any model.
fn request() -> ChatRequest {
    ChatRequest::builder()
        .system("Answer in one word.")
        .user("Capital of France?")
        .temperature(0.2)
        .max_tokens(500)
        .build()
        .unwrap()
}

fn openai_with(
    server: &FakeServer,
    model: &str,
    edit: impl FnOnce(
        twelve_factor_ai::llm::OpenAiConfigBuilder,
    ) -> twelve_factor_ai::llm::OpenAiConfigBuilder,
) -> OpenAi {
    let builder = OpenAiConfig::builder()
        .model(model)
        .api_key(OPENAI_KEY)
        .base_url(server.openai_base_url());
    OpenAi::new(edit(builder).build().unwrap()).unwrap()
}

fn openai(server: &FakeServer, model: &str) -> OpenAi {
    openai_with(server, model, |b| b)
}

fn anthropic_with(
    server: &FakeServer,
    model: &str,
    version: &str,
    edit: impl FnOnce(
        twelve_factor_ai::llm::AnthropicConfigBuilder,
    ) -> twelve_factor_ai::llm::AnthropicConfigBuilder,
) -> Anthropic {
    let builder = AnthropicConfig::builder()
        .model(model)
        .api_key(ANTHROPIC_KEY)
        .base_url(server.anthropic_base_url())
        .version(version);
    Anthropic::new(edit(builder).build().unwrap()).unwrap()
}

fn anthropic(server: &FakeServer, model: &str, version: &str) -> Anthropic {
    anthropic_with(server, model, version, |b| b)
}

fn empty_catalog() -> Arc<Catalog> {
    Arc::new(Catalog::new())
}

fn last(server: &FakeServer) -> RecordedRequest {
    server.last_request().expect("the fake received a request")
}

// -------------------------------------------------------------------------------------------------------
// A local subscriber that records warnings and the values recorded on spans.
// -------------------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured {
    warnings: Arc<Mutex<Vec<String>>>,
    recorded: Arc<Mutex<Vec<(String, String)>>>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S> Layer<S> for Captured
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {}

    fn on_record(&self, _id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut recorded = self.recorded.lock().unwrap();
        values.record(&mut Fields(&mut recorded));
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            let mut fields = Vec::new();
            event.record(&mut Fields(&mut fields));
            let text = fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            self.warnings.lock().unwrap().push(text);
        }
    }
}

impl Captured {
    fn install() -> (Captured, tracing::subscriber::DefaultGuard) {
        let c = Captured::default();
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(c.clone()));
        // A callsite first hit on another test thread may have cached "never" before this
        // scoped subscriber existed: make every callsite ask again.
        tracing::callsite::rebuild_interest_cache();
        (c, guard)
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap().clone()
    }

    fn warnings_about(&self, needle: &str) -> usize {
        self.warnings()
            .iter()
            .filter(|w| w.contains(needle))
            .count()
    }
}

// -------------------------------------------------------------------------------------------------------
// The same request succeeds against every model family.
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_request_succeeds_against_every_openai_model_family() {
    let server = FakeServer::enforcing().await.unwrap();
    // (model, reasoning model: max_completion_tokens, no temperature, developer role)
    let families = [
        ("gpt-4o-2024-08-06", false),
        ("gpt-4.1", false),
        ("o3", true),
        ("o4-mini", true),
        ("gpt-5-2025-08-07", true),
    ];
    for (model, reasoning) in families {
        let reply = openai(&server, model).chat(request()).await;
        let reply = reply.unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(reply.content, "Capital of France?", "{model}");
        let body = last(&server).json();
        assert_eq!(body["model"], model);
        if reasoning {
            assert_eq!(body["max_completion_tokens"], 500, "{model}: {body}");
            assert!(body["max_tokens"].is_null(), "{model}: {body}");
            assert!(body["temperature"].is_null(), "{model}: {body}");
            assert_eq!(body["messages"][0]["role"], "developer", "{model}");
        } else {
            assert_eq!(body["max_tokens"], 500, "{model}: {body}");
            assert!(body["max_completion_tokens"].is_null(), "{model}: {body}");
            assert!(
                (body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6,
                "{model}: {body}"
            );
            assert_eq!(body["messages"][0]["role"], "system", "{model}");
        }
        assert_eq!(body["messages"][0]["content"], "Answer in one word.");
    }
    assert_eq!(server.requests().len(), families.len());
}

#[tokio::test]
async fn the_same_request_succeeds_against_every_anthropic_model_family_and_version() {
    let server = FakeServer::enforcing().await.unwrap();
    // (model, whether the model itself keeps temperature under 2023-06-01)
    let families = [
        ("claude-sonnet-4-5-20250929", true),
        ("claude-opus-4-7", false),
        ("claude-opus-4-7-20260416", false),
        ("claude-sonnet-5", false),
    ];
    for version in ["2023-06-01", NEW_VERSION] {
        for (model, keeps_sampling) in families {
            let reply = anthropic(&server, model, version).chat(request()).await;
            let reply = reply.unwrap_or_else(|e| panic!("{model} @ {version}: {e}"));
            assert_eq!(reply.content, "Capital of France?");
            let sent = last(&server);
            let body = sent.json();
            assert_eq!(body["model"], model);
            assert_eq!(body["max_tokens"], 500);
            assert_eq!(body["system"], "Answer in one word.");
            assert_eq!(sent.header("anthropic-version"), Some(version));
            if version == NEW_VERSION {
                assert!(body["temperature"].is_null(), "{model} @ {version}: {body}");
                assert_eq!(
                    sent.header("authorization"),
                    Some(format!("Bearer {ANTHROPIC_KEY}").as_str())
                );
                assert_eq!(sent.header("x-api-key"), None);
            } else {
                assert_eq!(
                    !body["temperature"].is_null(),
                    keeps_sampling,
                    "{model} @ {version}: {body}"
                );
                assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
                assert_eq!(sent.header("authorization"), None);
            }
        }
    }
}

#[tokio::test]
async fn streaming_requests_are_shaped_too() {
    let server = FakeServer::enforcing().await.unwrap();
    let mut providers: Vec<Box<dyn LlmProvider>> = vec![
        Box::new(openai(&server, "o3")),
        Box::new(openai(&server, "gpt-5-2025-08-07")),
        Box::new(anthropic(&server, "claude-opus-4-7", "2023-06-01")),
        Box::new(anthropic(
            &server,
            "claude-sonnet-4-5-20250929",
            NEW_VERSION,
        )),
    ];
    for provider in providers.drain(..) {
        let mut stream = provider.chat_stream(request()).await.unwrap();
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            if let StreamEvent::TextDelta { text: piece } = event.unwrap() {
                text.push_str(&piece);
            }
        }
        assert_eq!(text, "Capital of France?", "{}", provider.model());
        let body = last(&server).json();
        assert_eq!(body["stream"], true);
        assert!(body["temperature"].is_null(), "{body}");
    }
    let body = server.requests()[0].json();
    assert_eq!(body["max_completion_tokens"], 500);
    assert!(body["max_tokens"].is_null());
}

// -------------------------------------------------------------------------------------------------------
// Unshaped, the same request fails exactly as the real APIs fail.
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn unshaped_requests_fail_as_the_real_apis_fail() {
    let server = FakeServer::enforcing().await.unwrap();
    for model in ["o3", "o4-mini", "gpt-5-2025-08-07"] {
        let provider = openai_with(&server, model, |b| b.catalog(empty_catalog()));
        let err = provider.chat(request()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{model}: {err}");
        assert_eq!(err.status(), Some(400));
        assert!(err.to_string().contains("max_tokens"), "{model}: {err}");
        let body = last(&server).json();
        assert_eq!(body["max_tokens"], 500, "sent as given");
    }
    // Without max_tokens the next refusal is the temperature.
    let mut no_limit = request();
    no_limit.max_tokens = None;
    let err = openai_with(&server, "o3", |b| b.catalog(empty_catalog()))
        .chat(no_limit)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.to_string().contains("temperature"), "{err}");

    for model in ["claude-opus-4-7", "claude-sonnet-5"] {
        let provider = anthropic_with(&server, model, "2023-06-01", |b| b.catalog(empty_catalog()));
        let err = provider.chat(request()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{model}: {err}");
        assert_eq!(err.status(), Some(400));
        assert!(err.to_string().contains("temperature"), "{model}: {err}");
    }
    let streamed = openai_with(&server, "o3", |b| b.catalog(empty_catalog()))
        .chat_stream(request())
        .await;
    assert_eq!(
        streamed.err().map(|e| e.kind()),
        Some(ErrorKind::InvalidRequest)
    );
}

#[tokio::test]
async fn the_fake_refuses_the_wrong_auth_header_per_version() {
    let server = FakeServer::enforcing().await.unwrap();
    // A 2023-06-01 client talking to an API that wants 2026-10-21 auth: the header the version asks for
    // is what counts, so override the version header only (auth stays x-api-key).
    let provider = anthropic_with(&server, "claude-sonnet-4-5-20250929", "2023-06-01", |b| {
        b.header("anthropic-version", NEW_VERSION)
    });
    let err = provider.chat(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.status(), Some(401));
}

// -------------------------------------------------------------------------------------------------------
// Policies: strict refuses before sending; drop warns once per model and parameter.
// -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn strict_policy_refuses_before_sending_and_names_parameter_and_model() {
    let server = FakeServer::enforcing().await.unwrap();
    let o3 = openai_with(&server, "o3", |b| b.shaping(ShapingPolicy::Strict));
    let err = o3.chat(request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.is_local());
    for needle in ["temperature", "o3", "sampling"] {
        assert!(err.message().contains(needle), "{err}");
    }
    let err = o3.chat_stream(request()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);

    let opus = anthropic_with(&server, "claude-opus-4-7", "2023-06-01", |b| {
        b.shaping(ShapingPolicy::Strict)
    });
    let err = opus.chat(request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(err.provider(), Some("anthropic"));
    for needle in ["temperature", "claude-opus-4-7", "sampling = \"rejected\""] {
        assert!(err.message().contains(needle), "{err}");
    }

    let sonnet = anthropic_with(&server, "claude-sonnet-4-5-20250929", NEW_VERSION, |b| {
        b.shaping(ShapingPolicy::Strict)
    });
    let err = sonnet.chat(request()).await.unwrap_err();
    assert!(
        err.message().contains("anthropic-version 2026-10-21"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 0, "nothing was sent");

    // What strict accepts goes through: the default temperature and max tokens (renamed, not dropped).
    let mut fine = request();
    fine.temperature = Some(1.0);
    o3.chat(fine).await.unwrap();
    assert_eq!(last(&server).json()["temperature"], 1.0);
}

#[tokio::test]
async fn drop_policy_warns_once_per_model_and_parameter() {
    let (captured, _guard) = Captured::install();
    let server = FakeServer::enforcing().await.unwrap();
    let provider = openai(&server, "o3");
    for _ in 0..3 {
        provider.chat(request()).await.unwrap();
    }
    let other = request();
    let mut other_model = other.clone();
    other_model.model = Some("gpt-5-2025-08-07".into());
    provider.chat(other_model.clone()).await.unwrap();
    provider.chat(other_model).await.unwrap();
    assert_eq!(
        captured.warnings_about("parameter=temperature"),
        2,
        "{:?}",
        captured.warnings()
    );
    assert_eq!(
        captured.warnings_about("gen_ai.request.model=o3"),
        1,
        "{:?}",
        captured.warnings()
    );

    // A request override is shaped by its own model's entry: gpt-4.1 keeps its temperature.
    let mut to_gpt41 = request();
    to_gpt41.model = Some("gpt-4.1".into());
    provider.chat(to_gpt41).await.unwrap();
    assert!((last(&server).json()["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);

    let claude = anthropic(&server, "claude-opus-4-7", "2023-06-01");
    claude.chat(request()).await.unwrap();
    claude.chat(request()).await.unwrap();
    assert_eq!(
        captured.warnings_about("claude-opus-4-7"),
        1,
        "{:?}",
        captured.warnings()
    );
}

#[tokio::test]
async fn unknown_models_are_sent_as_given_with_one_warning() {
    let (captured, _guard) = Captured::install();
    let server = FakeServer::enforcing().await.unwrap();
    let provider = openai(&server, "ft:gpt-4o-mini:acme::abc123");
    provider.chat(request()).await.unwrap();
    provider.chat(request()).await.unwrap();
    let body = last(&server).json();
    assert_eq!(body["max_tokens"], 500);
    assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert_eq!(captured.warnings_about("not in the model catalog"), 1);
}

#[tokio::test]
async fn compatible_servers_keep_max_tokens_unless_their_catalog_says_otherwise() {
    let server = FakeServer::enforcing().await.unwrap();
    // Ollama is not looked up as OpenAI: its model keeps max_tokens and temperature.
    let ollama = openai_with(&server, "qwen3:8b", |b| b.provider_name("ollama"));
    ollama.chat(request()).await.unwrap();
    let body = last(&server).json();
    assert_eq!(body["max_tokens"], 500);
    assert!(body["max_completion_tokens"].is_null());
    assert_eq!(body["messages"][0]["role"], "system");

    // Unless the catalog has an entry under its provider name.
    let mut catalog = Catalog::new();
    catalog.insert(
        ModelInfo::new("ollama", "qwen3*", ModelKind::Chat)
            .with_output_tokens_param(OutputTokensParam::MaxCompletionTokens),
    );
    let shaped = openai_with(&server, "qwen3:8b", |b| {
        b.provider_name("ollama").catalog(Arc::new(catalog))
    });
    shaped.chat(request()).await.unwrap();
    assert_eq!(last(&server).json()["max_completion_tokens"], 500);
}

#[tokio::test]
async fn azure_is_shaped_by_the_openai_entries_and_logs_its_api_version() {
    let (captured, _guard) = Captured::install();
    let server = FakeServer::enforcing().await.unwrap();
    let azure = openai_with(&server, "o3-2025-04-16", |b| {
        b.base_url(format!("{}/openai/deployments/my-o3", server.url()))
            .azure("2024-10-21")
    });
    let span = tracing::info_span!("call", api_version = tracing::field::Empty);
    azure.chat(request()).instrument(span).await.unwrap();
    let sent = last(&server);
    assert!(sent.path.ends_with("?api-version=2024-10-21"));
    assert_eq!(sent.json()["max_completion_tokens"], 500);
    let recorded = captured.recorded.lock().unwrap().clone();
    assert!(
        recorded.contains(&("api_version".into(), "2024-10-21".into())),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn the_anthropic_version_is_recorded_and_unknown_versions_follow_the_nearest_rules() {
    let (captured, _guard) = Captured::install();
    let server = FakeServer::start().await.unwrap();
    let pinned = anthropic(&server, "claude-sonnet-4-5-20250929", "2023-06-01");
    let span = tracing::info_span!("call", api_version = tracing::field::Empty);
    pinned.chat(request()).instrument(span).await.unwrap();
    let recorded = captured.recorded.lock().unwrap().clone();
    assert!(
        recorded.contains(&("api_version".into(), "2023-06-01".into())),
        "{recorded:?}"
    );

    // A later date than the newest known version gets its rules: Bearer auth, no sampling.
    let future = anthropic(&server, "claude-sonnet-4-5-20250929", "2027-03-01");
    assert_eq!(
        captured.warnings_about("2027-03-01"),
        1,
        "{:?}",
        captured.warnings()
    );
    future.chat(request()).await.unwrap();
    let sent = last(&server);
    assert!(sent.header("authorization").is_some());
    assert!(sent.json()["temperature"].is_null());
}
