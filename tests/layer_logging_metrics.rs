//! Contract tests of the `Logging` and `Metrics` wrappers: the exact fields of each log event (captured by a
//! local `tracing` layer), the exact metric names, labels and values (captured by a local
//! `DebuggingRecorder`), content policies, streams that complete, fail or are dropped, cancelled calls,
//! and the conformance suites of every trait they wrap.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use sha2::{Digest, Sha256};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use twelve_factor_ai::conversation::{ConversationStore, MemoryConversationStore, Window};
use twelve_factor_ai::layer::logging::{ContentPolicy, Logging, LoggingConfig};
use twelve_factor_ai::layer::metrics::{Metrics, MetricsConfig};
use twelve_factor_ai::layer::names::{
    COST_USD, ERROR_TYPE, ERRORS, IN_FLIGHT, OPERATION_DURATION, OPERATION_NAME, PROVIDER_NAME,
    REQUEST_MODEL, REQUESTS, RESPONSE_MODEL, STORE_OPERATION, STORE_OPERATION_DURATION,
    TIME_TO_FIRST_CHUNK, TOKEN_TYPE, TOKEN_USAGE,
};
use twelve_factor_ai::layer::names::{OUTCOME, STORE_KIND};
use twelve_factor_ai::llm::{
    ChatRequest, ChatResponse, Chunk, EmbedRequest, FinishReason, LlmProvider, LlmProviderExt,
    Message, Reply, Scripted, StreamEvent, Usage,
};
use twelve_factor_ai::prompt::{MemoryPromptRegistry, PromptRef, PromptRegistry};
use twelve_factor_ai::testing::conformance::conversation_store::{
    ConversationStoreCapabilities, conversation_store,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::testing::conformance::prompt_registry::{
    FIXTURES, PromptRegistryCapabilities, prompt_registry,
};
use twelve_factor_ai::testing::conformance::vector_store::{VectorStoreCapabilities, vector_store};
use twelve_factor_ai::vector::{Document, MemoryVectorStore, Metric, VectorQuery, VectorStore};
use twelve_factor_ai::{Error, ErrorKind};

// ---------------------------------------------------------------------------------------------------------
// A local tracing layer that records spans and events with their fields.

#[derive(Debug, Clone)]
struct Rec {
    is_span: bool,
    name: String,
    level: Level,
    fields: BTreeMap<String, String>,
    /// Events: the name of the span they were recorded in.
    parent: Option<String>,
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<Rec>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct SpanIndex(usize);

impl<S> Layer<S> for Captured
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let index = {
            let mut recs = self.0.lock().unwrap();
            recs.push(Rec {
                is_span: true,
                name: attrs.metadata().name().to_owned(),
                level: *attrs.metadata().level(),
                fields,
                parent: None,
            });
            recs.len() - 1
        };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanIndex(index));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(SpanIndex(i)) = span.extensions().get::<SpanIndex>() {
                let mut recs = self.0.lock().unwrap();
                values.record(&mut Fields(&mut recs[*i].fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let parent = ctx.event_span(event).map(|s| s.name().to_owned());
        self.0.lock().unwrap().push(Rec {
            is_span: false,
            name: event.metadata().name().to_owned(),
            level: *event.metadata().level(),
            fields,
            parent,
        });
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

    /// Our events (message `llm call` or `store call`).
    fn events(&self) -> Vec<Rec> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                !r.is_span
                    && matches!(
                        r.fields.get("message").map(String::as_str),
                        Some("llm call" | "store call")
                    )
            })
            .cloned()
            .collect()
    }

    fn only_event(&self) -> Rec {
        let events = self.events();
        assert_eq!(events.len(), 1, "exactly one event: {events:#?}");
        events.into_iter().next().unwrap()
    }

    fn spans(&self) -> Vec<Rec> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.is_span)
            .cloned()
            .collect()
    }

    /// Every field name and value of every span and event, in one string.
    fn all_text(&self) -> String {
        let mut out = String::new();
        for r in self.0.lock().unwrap().iter() {
            for (k, v) in &r.fields {
                out.push_str(k);
                out.push('=');
                out.push_str(v);
                out.push('\n');
            }
        }
        out
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

fn keys(rec: &Rec) -> BTreeSet<&str> {
    rec.fields.keys().map(String::as_str).collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

fn field<'a>(rec: &'a Rec, name: &str) -> &'a str {
    rec.fields
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no field {name} in {rec:#?}"))
}

fn sha_prefix(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

const MODEL: &str = "test-model-2024-01-01";

fn prompt_ref() -> PromptRef {
    PromptRef {
        name: "support/answer".into(),
        version: "1.2".into(),
        hash: "abcdef0123456789".into(),
        variant: None,
    }
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::builder()
        .system("Be brief.")
        .user(text)
        .request_id("req-1")
        .prompt(prompt_ref())
        .conversation_id("conv-7")
        .tenant("acme")
        .build()
        .unwrap()
}

fn usage(input: u64, output: u64, cached: Option<u64>) -> Usage {
    Usage {
        input_tokens: Some(input),
        output_tokens: Some(output),
        cached_input_tokens: cached,
        ..Usage::default()
    }
}

fn full_response(text: &str) -> ChatResponse {
    let mut r = ChatResponse::text("scripted", MODEL, text).with_usage(usage(12, 3, Some(4)));
    r.model = Some(format!("{MODEL}-resolved"));
    r.provider_request_id = Some("prov-req-9".into());
    r.cost_usd = Some(0.0025);
    r
}

const SECRET_PROMPT: &str = "my card number is 4111";
const SECRET_ANSWER: &str = "noted the card 4111";

// ---------------------------------------------------------------------------------------------------------
// Logging: LLM calls.

#[tokio::test(start_paused = true)]
async fn chat_success_logs_one_event_with_every_field() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    scripted.push_delayed(
        Duration::from_millis(150),
        Reply::Response(full_response(SECRET_ANSWER)),
    );
    let llm = Logging::new(scripted, LoggingConfig::default());
    let r = llm.chat(request(SECRET_PROMPT)).await.unwrap();
    assert_eq!(r.content, SECRET_ANSWER);

    let ev = cap.only_event();
    assert_eq!(ev.level, Level::INFO);
    assert_eq!(ev.parent.as_deref(), Some("gen_ai.chat"));
    assert_eq!(
        keys(&ev),
        set(&[
            "message",
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.response.model",
            "gen_ai.response.id",
            "gen_ai.response.finish_reasons",
            "gen_ai.conversation.id",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "usage.cached_input_tokens",
            "request_id",
            "tenant",
            "prompt.name",
            "prompt.version",
            "prompt.hash",
            "stream",
            "messages",
            "input_chars",
            "output_chars",
            "latency_ms",
            "cost_usd",
            "attempts",
            "outcome",
        ])
    );
    let expect = [
        ("message", "llm call"),
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "scripted"),
        ("gen_ai.request.model", MODEL),
        ("gen_ai.response.model", "test-model-2024-01-01-resolved"),
        ("gen_ai.response.id", "prov-req-9"),
        ("gen_ai.response.finish_reasons", "stop"),
        ("gen_ai.conversation.id", "conv-7"),
        ("gen_ai.usage.input_tokens", "12"),
        ("gen_ai.usage.output_tokens", "3"),
        ("usage.cached_input_tokens", "4"),
        ("request_id", "req-1"),
        ("tenant", "acme"),
        ("prompt.name", "support/answer"),
        ("prompt.version", "1.2"),
        ("prompt.hash", "abcdef0123456789"),
        ("stream", "false"),
        ("messages", "2"),
        ("input_chars", "31"),
        ("output_chars", "19"),
        ("latency_ms", "150.0"),
        ("cost_usd", "0.0025"),
        ("attempts", "1"),
        ("outcome", "ok"),
    ];
    for (k, v) in expect {
        assert_eq!(field(&ev, k), v, "field {k}");
    }

    let spans = cap.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "gen_ai.chat");
    assert_eq!(spans[0].level, Level::INFO);
    assert_eq!(field(&spans[0], "otel.name"), format!("chat {MODEL}"));
    assert_eq!(field(&spans[0], "otel.kind"), "client");
    assert_eq!(field(&spans[0], "request_id"), "req-1");
    assert!(!spans[0].fields.contains_key("otel.status_code"));

    // Content policy None (the default): no text of the prompt or the answer anywhere.
    let all = cap.all_text();
    assert!(!all.contains("4111"), "{all}");
    assert!(!all.contains("Be brief"), "{all}");
}

#[tokio::test(start_paused = true)]
async fn chat_error_logs_a_warning_with_the_error_kind() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    scripted.push_delayed(
        Duration::from_millis(20),
        Reply::Error(Error::new(ErrorKind::RateLimited, "slow down").with_status(429)),
    );
    let llm = Logging::new(scripted, LoggingConfig::default());
    let err = llm.chat(request(SECRET_PROMPT)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);

    let ev = cap.only_event();
    assert_eq!(ev.level, Level::WARN);
    assert_eq!(
        keys(&ev),
        set(&[
            "message",
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.conversation.id",
            "request_id",
            "tenant",
            "prompt.name",
            "prompt.version",
            "prompt.hash",
            "stream",
            "messages",
            "input_chars",
            "latency_ms",
            "outcome",
            "error.type",
            "error.message",
        ])
    );
    assert_eq!(field(&ev, "outcome"), "error");
    assert_eq!(field(&ev, "error.type"), "rate_limited");
    assert_eq!(field(&ev, "error.message"), "slow down");
    assert_eq!(field(&ev, "latency_ms"), "20.0");
    assert_eq!(field(&cap.spans()[0], "otel.status_code"), "ERROR");
    assert!(!cap.all_text().contains("4111"));
}

#[tokio::test]
async fn failed_fallback_chains_log_their_attempts() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    scripted.push_error(
        Error::new(ErrorKind::Overloaded, "all down").with_attempts(vec![
            Error::new(ErrorKind::Overloaded, "a"),
            Error::new(ErrorKind::Timeout, "b"),
        ]),
    );
    let llm = Logging::new(scripted, LoggingConfig::default());
    llm.chat(ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(field(&cap.only_event(), "attempts"), "2");
}

#[tokio::test(start_paused = true)]
async fn completed_stream_logs_at_its_end_with_time_to_first_chunk() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    scripted.push_stream([
        Chunk::Delay(Duration::from_millis(100)),
        Chunk::Event(StreamEvent::Start {
            model: Some("streamed-model".into()),
            cached: false,
            provider_request_id: Some("prov-s".into()),
        }),
        Chunk::text("Hel"),
        Chunk::Delay(Duration::from_millis(50)),
        Chunk::text("lo"),
        Chunk::Event(StreamEvent::Usage {
            usage: usage(7, 2, None),
        }),
        Chunk::Event(StreamEvent::Done {
            finish_reason: FinishReason::Length,
        }),
    ]);
    let llm = Logging::new(scripted, LoggingConfig::default());
    let mut stream = llm.chat_stream(request("hi")).await.unwrap();
    stream.next().await.unwrap().unwrap();
    assert!(cap.events().is_empty(), "no event before the stream ends");
    while let Some(item) = stream.next().await {
        item.unwrap();
    }
    assert_eq!(
        cap.events().len(),
        1,
        "the event fires when the stream ends"
    );
    drop(stream);

    let ev = cap.only_event();
    assert_eq!(ev.level, Level::INFO);
    assert_eq!(ev.parent.as_deref(), Some("gen_ai.chat"));
    assert_eq!(
        keys(&ev),
        set(&[
            "message",
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.response.model",
            "gen_ai.response.id",
            "gen_ai.response.finish_reasons",
            "gen_ai.conversation.id",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "request_id",
            "tenant",
            "prompt.name",
            "prompt.version",
            "prompt.hash",
            "stream",
            "messages",
            "input_chars",
            "output_chars",
            "latency_ms",
            "ttfc_ms",
            "outcome",
        ])
    );
    for (k, v) in [
        ("stream", "true"),
        ("gen_ai.response.model", "streamed-model"),
        ("gen_ai.response.id", "prov-s"),
        ("gen_ai.response.finish_reasons", "length"),
        ("gen_ai.usage.input_tokens", "7"),
        ("gen_ai.usage.output_tokens", "2"),
        ("output_chars", "5"),
        ("ttfc_ms", "100.0"),
        ("latency_ms", "150.0"),
        ("outcome", "ok"),
    ] {
        assert_eq!(field(&ev, k), v, "field {k}");
    }
}

#[tokio::test(start_paused = true)]
async fn dropped_stream_logs_a_cancellation() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    scripted.push_stream([
        Chunk::Delay(Duration::from_millis(30)),
        Chunk::text("Hel"),
        Chunk::Delay(Duration::from_secs(10)),
        Chunk::text("lo"),
        Chunk::done(),
    ]);
    let llm = Logging::new(scripted, LoggingConfig::default());
    let mut stream = llm.chat_stream(request("hi")).await.unwrap();
    stream.next().await.unwrap().unwrap();
    tokio::time::advance(Duration::from_millis(20)).await;
    drop(stream);

    let ev = cap.only_event();
    assert_eq!(ev.level, Level::INFO);
    assert_eq!(field(&ev, "outcome"), "cancelled");
    assert_eq!(field(&ev, "ttfc_ms"), "30.0");
    assert_eq!(field(&ev, "latency_ms"), "50.0");
    assert_eq!(field(&ev, "output_chars"), "3");
    assert!(!ev.fields.contains_key("gen_ai.response.model"));
    assert!(!ev.fields.contains_key("error.type"));
}

#[tokio::test]
async fn failed_and_truncated_streams_log_errors() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    scripted.push_stream([
        Chunk::text("a"),
        Chunk::Error(Error::new(ErrorKind::Transport, "connection reset")),
    ]);
    scripted.push_stream([Chunk::text("a")]);
    scripted.push_error(Error::new(ErrorKind::Auth, "bad key"));
    let llm = Logging::new(scripted, LoggingConfig::default());

    let mut s = llm.chat_stream(ChatRequest::user("x")).await.unwrap();
    while s.next().await.is_some() {}
    let mut s = llm.chat_stream(ChatRequest::user("x")).await.unwrap();
    while s.next().await.is_some() {}
    llm.chat_stream(ChatRequest::user("x")).await.err().unwrap();

    let events = cap.events();
    assert_eq!(events.len(), 3);
    let kinds: Vec<_> = events.iter().map(|e| field(e, "error.type")).collect();
    assert_eq!(kinds, ["transport", "decode", "auth"]);
    for e in &events {
        assert_eq!(e.level, Level::WARN);
        assert_eq!(field(e, "outcome"), "error");
    }
    assert_eq!(field(&events[0], "output_chars"), "1");
}

#[tokio::test(start_paused = true)]
async fn a_chat_future_dropped_by_the_caller_logs_a_cancellation() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    scripted.push_delayed(
        Duration::from_secs(5),
        Reply::Response(full_response("late")),
    );
    let llm = Logging::new(scripted, LoggingConfig::default());
    let timed_out = tokio::time::timeout(Duration::from_millis(250), llm.chat(request("hi"))).await;
    assert!(timed_out.is_err());
    let ev = cap.only_event();
    assert_eq!(field(&ev, "outcome"), "cancelled");
    assert_eq!(field(&ev, "latency_ms"), "250.0");
}

#[tokio::test]
async fn embed_logs_inputs_and_usage() {
    let (cap, _guard) = Captured::install();
    let llm = Logging::new(
        Scripted::new(MODEL).with_hash_embeddings(8),
        LoggingConfig::default(),
    );
    let mut req = EmbedRequest::new(["first text", "second"]).with_model("embed-model");
    req.meta.request_id = "req-e".into();
    let res = llm.embed(req).await.unwrap();
    assert_eq!(res.embeddings.len(), 2);

    let ev = cap.only_event();
    assert_eq!(ev.parent.as_deref(), Some("gen_ai.embeddings"));
    assert_eq!(
        keys(&ev),
        set(&[
            "message",
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.response.model",
            "gen_ai.usage.input_tokens",
            "request_id",
            "stream",
            "inputs",
            "input_chars",
            "latency_ms",
            "outcome",
        ])
    );
    for (k, v) in [
        ("gen_ai.operation.name", "embeddings"),
        ("gen_ai.request.model", "embed-model"),
        ("gen_ai.response.model", "embed-model"),
        ("gen_ai.usage.input_tokens", "4"),
        ("request_id", "req-e"),
        ("inputs", "2"),
        ("input_chars", "16"),
        ("outcome", "ok"),
    ] {
        assert_eq!(field(&ev, k), v, "field {k}");
    }
    assert_eq!(
        field(&cap.spans()[0], "otel.name"),
        "embeddings embed-model"
    );
    assert!(!cap.all_text().contains("first text"));
}

#[tokio::test]
async fn hash_policy_logs_sha256_prefixes_and_no_text() {
    let (cap, _guard) = Captured::install();
    let config = LoggingConfig::builder()
        .content(ContentPolicy::Hash)
        .build()
        .unwrap();
    let scripted = Scripted::new(MODEL);
    scripted.push_text(SECRET_ANSWER);
    scripted.push_stream([
        Chunk::text("noted the "),
        Chunk::text("card 4111"),
        Chunk::done(),
    ]);
    let llm = Logging::new(scripted, config);
    llm.chat(request(SECRET_PROMPT)).await.unwrap();
    llm.chat_collected(request(SECRET_PROMPT)).await.unwrap();

    let input = sha_prefix(&format!("system: Be brief.\nuser: {SECRET_PROMPT}"));
    let output = sha_prefix(SECRET_ANSWER);
    let events = cap.events();
    assert_eq!(events.len(), 2);
    for ev in &events {
        assert_eq!(field(ev, "input.sha256"), input);
        assert_eq!(
            field(ev, "output.sha256"),
            output,
            "streamed or not, same hash"
        );
        assert!(!ev.fields.contains_key("input.text"));
        assert!(!ev.fields.contains_key("output.text"));
    }
    assert!(!cap.all_text().contains("4111"));
}

#[tokio::test]
async fn full_policy_logs_text_truncated_on_a_char_boundary() {
    let (cap, _guard) = Captured::install();
    let config = LoggingConfig::builder()
        .content(ContentPolicy::Full { max_chars: 12 })
        .build()
        .unwrap();
    let scripted = Scripted::new(MODEL);
    scripted.push_text("héllo wörld, and more");
    scripted.push_stream([
        Chunk::text("日本語の"),
        Chunk::text("テキストです。長い"),
        Chunk::done(),
    ]);
    let llm = Logging::new(scripted, config);
    llm.chat(ChatRequest::user("añswer this question"))
        .await
        .unwrap();
    llm.chat_collected(ChatRequest::user("短い")).await.unwrap();

    let events = cap.events();
    assert_eq!(field(&events[0], "input.text"), "user: añswer");
    assert_eq!(field(&events[0], "output.text"), "héllo wörld,");
    assert_eq!(field(&events[1], "input.text"), "user: 短い");
    assert_eq!(field(&events[1], "output.text"), "日本語のテキストです。長");
    assert!(!events[0].fields.contains_key("input.sha256"));
}

#[tokio::test]
async fn levels_are_configurable() {
    let (cap, _guard) = Captured::install();
    let config = LoggingConfig::builder()
        .success_level(Level::DEBUG)
        .failure_level(Level::ERROR)
        .build()
        .unwrap();
    let scripted = Scripted::new(MODEL).echo_when_empty();
    scripted.push_error(Error::new(ErrorKind::Server, "boom"));
    let llm = Logging::new(scripted, config);
    llm.chat(ChatRequest::user("x")).await.unwrap_err();
    llm.chat(ChatRequest::user("x")).await.unwrap();
    let levels: Vec<_> = cap.events().iter().map(|e| e.level).collect();
    assert_eq!(levels, [Level::ERROR, Level::DEBUG]);
    assert_eq!(cap.spans()[0].level, Level::DEBUG);
}

#[tokio::test]
async fn health_checks_log_quietly_when_they_pass() {
    let (cap, _guard) = Captured::install();
    let scripted = Scripted::new(MODEL);
    let llm = Logging::new(scripted, LoggingConfig::default());
    llm.health_check().await.unwrap();
    llm.get_ref()
        .set_health(Some(Error::new(ErrorKind::Transport, "down")));
    llm.health_check().await.unwrap_err();
    let events = cap.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].level, Level::DEBUG);
    assert_eq!(events[1].level, Level::WARN);
    assert_eq!(field(&events[1], "component"), "llm");
    assert_eq!(field(&events[1], "operation"), "health_check");
    assert_eq!(field(&events[1], "gen_ai.provider.name"), "scripted");
    assert_eq!(field(&events[1], "error.type"), "transport");
}

#[cfg(feature = "openai")]
#[tokio::test]
async fn a_provider_key_never_reaches_the_log() {
    use twelve_factor_ai::llm::{OpenAi, OpenAiConfig};
    use twelve_factor_ai::testing::fake::{FakeServer, openai};

    const KEY: &str = "sk-live-secret-abcdefghijklmnop";
    let (cap, _guard) = Captured::install();
    let server = FakeServer::start().await.unwrap();
    let provider = OpenAi::new(
        OpenAiConfig::builder()
            .model("gpt-4o-mini-2024-07-18")
            .api_key(KEY)
            .base_url(server.openai_base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let config = LoggingConfig::builder()
        .content(ContentPolicy::Full { max_chars: 10_000 })
        .build()
        .unwrap();
    let llm = Logging::new(provider, config);
    assert!(!format!("{llm:?}").contains(KEY), "Debug of the wrapper");
    llm.chat(ChatRequest::user("hello")).await.unwrap();
    server.push(openai::invalid_api_key());
    llm.chat(ChatRequest::user("hello")).await.unwrap_err();
    llm.chat_collected(ChatRequest::user("hello"))
        .await
        .unwrap();
    let all = cap.all_text();
    assert_eq!(cap.events().len(), 3);
    assert!(!all.contains(KEY), "{all}");
    assert!(!all.contains("abcdefghijklmnop"), "{all}");
    assert!(
        !all.contains("OpenAiConfig") && !all.contains("base_url:"),
        "no provider or config Debug in the log: {all}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Logging: stores.

#[tokio::test]
async fn vector_operations_log_counts_and_no_text() {
    let (cap, _guard) = Captured::install();
    let store = Logging::new(
        MemoryVectorStore::new(2, Metric::Cosine).unwrap(),
        LoggingConfig::default(),
    );
    store
        .upsert(vec![
            Document::new("a", vec![1.0, 0.0]).with_text(SECRET_PROMPT),
            Document::new("b", vec![0.0, 1.0]).with_text("other"),
        ])
        .await
        .unwrap();
    let hits = store
        .search(VectorQuery::new(vec![1.0, 0.1], 5))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    store
        .delete(&["a".to_owned(), "zz".to_owned()])
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 1);
    store
        .upsert(vec![Document::new("bad", vec![1.0])])
        .await
        .unwrap_err();

    let events = cap.events();
    assert_eq!(events.len(), 5);
    let base = ["message", "component", "operation", "latency_ms", "outcome"];
    let with = |more: &[&'static str]| -> BTreeSet<&'static str> {
        base.iter().chain(more).copied().collect()
    };
    assert_eq!(keys(&events[0]), with(&["docs"]));
    assert_eq!(keys(&events[1]), with(&["k", "hits"]));
    assert_eq!(keys(&events[2]), with(&["ids", "deleted"]));
    assert_eq!(keys(&events[3]), with(&["count"]));
    assert_eq!(
        keys(&events[4]),
        with(&["docs", "error.type", "error.message"])
    );
    for (ev, op) in events
        .iter()
        .zip(["upsert", "search", "delete", "count", "upsert"])
    {
        assert_eq!(field(ev, "component"), "vector_store");
        assert_eq!(field(ev, "operation"), op);
        assert_eq!(field(ev, "message"), "store call");
    }
    assert_eq!(field(&events[0], "docs"), "2");
    assert_eq!(field(&events[1], "k"), "5");
    assert_eq!(field(&events[1], "hits"), "2");
    assert_eq!(field(&events[2], "ids"), "2");
    assert_eq!(field(&events[2], "deleted"), "1");
    assert_eq!(field(&events[3], "count"), "1");
    assert_eq!(events[3].level, Level::INFO);
    assert_eq!(events[4].level, Level::WARN);
    assert_eq!(field(&events[4], "outcome"), "error");
    assert_eq!(field(&events[4], "error.type"), "invalid_request");
    assert!(!cap.all_text().contains("4111"));
}

#[tokio::test]
async fn vector_text_is_logged_only_when_the_policy_allows() {
    let (cap, _guard) = Captured::install();
    for (policy, expect_hash, expect_text) in [
        (ContentPolicy::Hash, Some(sha_prefix("alpha\nbeta")), None),
        (
            ContentPolicy::Full { max_chars: 8 },
            None,
            Some("alpha\nbe"),
        ),
    ] {
        cap.clear();
        let config = LoggingConfig::builder().content(policy).build().unwrap();
        let store = Logging::new(MemoryVectorStore::new(2, Metric::Dot).unwrap(), config);
        store
            .upsert(vec![
                Document::new("a", vec![1.0, 0.0]).with_text("alpha"),
                Document::new("b", vec![0.0, 1.0]).with_text("beta"),
            ])
            .await
            .unwrap();
        let ev = cap.only_event();
        assert_eq!(ev.fields.get("content.sha256").cloned(), expect_hash);
        assert_eq!(
            ev.fields.get("content.text").map(String::as_str),
            expect_text
        );
    }
}

#[tokio::test]
async fn conversation_operations_log_counts_and_no_text() {
    let (cap, _guard) = Captured::install();
    let store = Logging::new(MemoryConversationStore::new(), LoggingConfig::default());
    store
        .append(
            "c-1",
            &[Message::user(SECRET_PROMPT), Message::assistant("ok")],
        )
        .await
        .unwrap();
    let loaded = store.load("c-1", Window::LastN(1)).await.unwrap();
    assert_eq!(loaded.len(), 1);
    assert!(store.delete("c-1").await.unwrap());
    assert_eq!(
        store.load("c-1", Window::All).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let events = cap.events();
    assert_eq!(events.len(), 4);
    let base = [
        "message",
        "component",
        "operation",
        "latency_ms",
        "outcome",
        "gen_ai.conversation.id",
    ];
    let with = |more: &[&'static str]| -> BTreeSet<&'static str> {
        base.iter().chain(more).copied().collect()
    };
    assert_eq!(keys(&events[0]), with(&["messages"]));
    assert_eq!(keys(&events[1]), with(&["messages", "window"]));
    assert_eq!(keys(&events[2]), with(&["existed"]));
    assert_eq!(
        keys(&events[3]),
        with(&["window", "error.type", "error.message"])
    );
    for (ev, op) in events.iter().zip(["append", "load", "delete", "load"]) {
        assert_eq!(field(ev, "component"), "conversation_store");
        assert_eq!(field(ev, "operation"), op);
        assert_eq!(field(ev, "gen_ai.conversation.id"), "c-1");
    }
    assert_eq!(field(&events[0], "messages"), "2");
    assert_eq!(field(&events[1], "messages"), "1");
    assert_eq!(field(&events[1], "window"), "LastN(1)");
    assert_eq!(field(&events[2], "existed"), "true");
    assert_eq!(field(&events[3], "error.type"), "not_found");
    assert!(!cap.all_text().contains("4111"));
}

#[tokio::test]
async fn prompt_operations_log_the_prompt_ref() {
    let (cap, _guard) = Captured::install();
    let registry = MemoryPromptRegistry::new();
    let r = registry.insert("greet", "Hello {{ name }}.").unwrap();
    let logged = Logging::new(registry, LoggingConfig::default());
    let rendered = logged
        .render(
            "greet",
            Default::default(),
            &serde_json::json!({ "name": "Ada-4111" }),
        )
        .await
        .unwrap();
    assert_eq!(rendered.messages[0].text(), "Hello Ada-4111.");
    let ev = cap.only_event();
    assert_eq!(field(&ev, "component"), "prompt_registry");
    assert_eq!(field(&ev, "operation"), "render");
    assert_eq!(field(&ev, "prompt.name"), "greet");
    assert_eq!(field(&ev, "prompt.version"), r.version);
    assert_eq!(field(&ev, "prompt.hash"), r.hash);
    assert_eq!(field(&ev, "selector"), "latest version");
    assert!(!cap.all_text().contains("4111"), "neither vars nor output");
}

// ---------------------------------------------------------------------------------------------------------
// Logging: conformance, with and without a subscriber listening.

fn echo() -> Scripted {
    Scripted::new("m").echo_when_empty().with_hash_embeddings(8)
}

fn llm_caps() -> LlmCapabilities {
    LlmCapabilities::default()
        .with_embeddings(true)
        .with_usage(true)
}

#[tokio::test]
async fn logging_passes_the_llm_suite() {
    llm_provider(&Logging::new(echo(), LoggingConfig::default()), &llm_caps()).await;
    let (cap, _guard) = Captured::install();
    let config = LoggingConfig::builder()
        .content(ContentPolicy::Full { max_chars: 50 })
        .build()
        .unwrap();
    llm_provider(&Logging::new(echo(), config), &llm_caps()).await;
    assert!(cap.events().len() > 5);
}

#[tokio::test]
async fn logging_passes_the_store_suites() {
    let caps = VectorStoreCapabilities::new(8, Metric::Cosine).with_dotted_paths(true);
    let store = Logging::new(
        MemoryVectorStore::new(8, Metric::Cosine).unwrap(),
        LoggingConfig::default(),
    );
    vector_store(&store, &caps).await;
    let conversations = Logging::new(MemoryConversationStore::new(), LoggingConfig::default());
    conversation_store(&conversations, &ConversationStoreCapabilities::new()).await;

    let (cap, _guard) = Captured::install();
    let config = LoggingConfig::builder()
        .content(ContentPolicy::Hash)
        .build()
        .unwrap();
    vector_store(
        &Logging::new(MemoryVectorStore::new(8, Metric::Cosine).unwrap(), config),
        &caps,
    )
    .await;
    conversation_store(
        &Logging::new(MemoryConversationStore::new(), config),
        &ConversationStoreCapabilities::new(),
    )
    .await;
    assert!(cap.events().len() > 10);
}

fn fixtures() -> MemoryPromptRegistry {
    let registry = MemoryPromptRegistry::new();
    for fixture in FIXTURES {
        registry.insert_prompt(fixture.spec()).unwrap();
    }
    registry
}

#[tokio::test]
async fn both_wrappers_pass_the_prompt_suite() {
    let (_cap, _guard) = Captured::install();
    let caps = PromptRegistryCapabilities::new();
    prompt_registry(&Logging::new(fixtures(), LoggingConfig::default()), &caps).await;
    prompt_registry(&Metrics::new(fixtures(), MetricsConfig::default()), &caps).await;
}

// ---------------------------------------------------------------------------------------------------------
// Metrics: a local DebuggingRecorder, accumulated across snapshots (a snapshot resets the values).

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Counter(u64),
    Gauge(f64),
    Hist(Vec<f64>),
}

type Labels = BTreeSet<(String, String)>;

struct Recorded {
    snapshotter: Snapshotter,
    totals: Mutex<BTreeMap<(String, Labels), Val>>,
}

impl Recorded {
    fn new(recorder: &DebuggingRecorder) -> Self {
        Recorded {
            snapshotter: recorder.snapshotter(),
            totals: Mutex::new(BTreeMap::new()),
        }
    }

    fn refresh(&self) {
        let mut totals = self.totals.lock().unwrap();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let (_, key) = key.into_parts();
            let labels: Labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let slot = (key.name().to_owned(), labels);
            match value {
                DebugValue::Counter(n) => match totals.entry(slot).or_insert(Val::Counter(0)) {
                    Val::Counter(c) => *c += n,
                    other => panic!("kind changed: {other:?}"),
                },
                DebugValue::Gauge(g) => match totals.entry(slot).or_insert(Val::Gauge(0.0)) {
                    Val::Gauge(v) => *v += g.into_inner(),
                    other => panic!("kind changed: {other:?}"),
                },
                DebugValue::Histogram(h) => {
                    match totals.entry(slot).or_insert(Val::Hist(Vec::new())) {
                        Val::Hist(v) => v.extend(h.into_iter().map(|f| f.into_inner())),
                        other => panic!("kind changed: {other:?}"),
                    }
                }
            }
        }
    }

    /// Every metric, as `name{sorted labels}`.
    fn all(&self) -> BTreeMap<(String, Labels), Val> {
        self.refresh();
        self.totals.lock().unwrap().clone()
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<Val> {
        let labels: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.all().get(&(name.to_owned(), labels)).cloned()
    }

    fn series_named(&self, name: &str) -> Vec<(Labels, Val)> {
        self.all()
            .into_iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, l), v)| (l, v))
            .collect()
    }
}

fn chat_labels<'a>(more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        (OPERATION_NAME, "chat"),
        (PROVIDER_NAME, "scripted"),
        (REQUEST_MODEL, MODEL),
    ];
    v.extend_from_slice(more);
    v
}

#[tokio::test(start_paused = true)]
async fn chat_success_records_duration_tokens_requests_and_cost() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    let scripted = Scripted::new(MODEL);
    scripted.push_delayed(
        Duration::from_millis(150),
        Reply::Response(full_response(SECRET_ANSWER)),
    );
    let llm = Metrics::new(scripted, MetricsConfig::default());
    llm.chat(request(SECRET_PROMPT)).await.unwrap();

    let response = "test-model-2024-01-01-resolved";
    let expected: BTreeMap<(String, Labels), Val> = [
        (REQUESTS, chat_labels(&[]), Val::Counter(1)),
        (IN_FLIGHT, chat_labels(&[]), Val::Gauge(0.0)),
        (
            OPERATION_DURATION,
            chat_labels(&[(RESPONSE_MODEL, response)]),
            Val::Hist(vec![0.15]),
        ),
        (
            TOKEN_USAGE,
            chat_labels(&[(RESPONSE_MODEL, response), (TOKEN_TYPE, "input")]),
            Val::Hist(vec![12.0]),
        ),
        (
            TOKEN_USAGE,
            chat_labels(&[(RESPONSE_MODEL, response), (TOKEN_TYPE, "output")]),
            Val::Hist(vec![3.0]),
        ),
        (
            COST_USD,
            chat_labels(&[(RESPONSE_MODEL, response)]),
            Val::Gauge(0.0025),
        ),
    ]
    .into_iter()
    .map(|(name, labels, v)| {
        let labels = labels
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        ((name.to_owned(), labels), v)
    })
    .collect();
    assert_eq!(rec.all(), expected);
    let text = format!("{:?}", rec.all());
    assert!(!text.contains("4111") && !text.contains("req-1") && !text.contains("acme"));
}

#[tokio::test]
async fn chat_error_records_errors_by_type() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    let scripted = Scripted::new(MODEL).echo_when_empty();
    scripted.push_error(Error::new(ErrorKind::RateLimited, "slow down"));
    scripted.push_error(Error::new(ErrorKind::RateLimited, "slow down"));
    let llm = Metrics::new(scripted, MetricsConfig::default());
    llm.chat(ChatRequest::user("x")).await.unwrap_err();
    llm.chat(ChatRequest::user("x")).await.unwrap_err();
    llm.chat(ChatRequest::user("x")).await.unwrap();

    assert_eq!(
        rec.get(ERRORS, &chat_labels(&[(ERROR_TYPE, "rate_limited")])),
        Some(Val::Counter(2))
    );
    assert_eq!(rec.get(REQUESTS, &chat_labels(&[])), Some(Val::Counter(3)));
    match rec.get(
        OPERATION_DURATION,
        &chat_labels(&[(ERROR_TYPE, "rate_limited")]),
    ) {
        Some(Val::Hist(v)) => assert_eq!(v.len(), 2),
        other => panic!("{other:?}"),
    }
    // The echo answer carries the pinned model as its response model.
    match rec.get(OPERATION_DURATION, &chat_labels(&[(RESPONSE_MODEL, MODEL)])) {
        Some(Val::Hist(v)) => assert_eq!(v.len(), 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(rec.series_named(ERRORS).len(), 1);
    assert!(rec.series_named(COST_USD).is_empty(), "no cost known");
    assert_eq!(rec.get(IN_FLIGHT, &chat_labels(&[])), Some(Val::Gauge(0.0)));
}

#[tokio::test(start_paused = true)]
async fn streams_record_ttfc_and_stay_in_flight_until_dropped() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    let scripted = Scripted::new(MODEL);
    scripted.push_stream([
        Chunk::Delay(Duration::from_millis(100)),
        Chunk::text("Hel"),
        Chunk::Delay(Duration::from_secs(5)),
        Chunk::text("lo"),
        Chunk::done(),
    ]);
    scripted.push_stream([
        Chunk::Delay(Duration::from_millis(40)),
        Chunk::Event(StreamEvent::Start {
            model: Some("streamed-model".into()),
            cached: false,
            provider_request_id: None,
        }),
        Chunk::text("ok"),
        Chunk::Event(StreamEvent::Usage {
            usage: usage(5, 1, None),
        }),
        Chunk::done(),
    ]);
    let llm = Metrics::new(scripted, MetricsConfig::default());

    let mut stream = llm.chat_stream(ChatRequest::user("x")).await.unwrap();
    assert_eq!(rec.get(IN_FLIGHT, &chat_labels(&[])), Some(Val::Gauge(1.0)));
    stream.next().await.unwrap().unwrap();
    assert_eq!(
        rec.get(TIME_TO_FIRST_CHUNK, &chat_labels(&[])),
        Some(Val::Hist(vec![0.1]))
    );
    assert_eq!(rec.get(IN_FLIGHT, &chat_labels(&[])), Some(Val::Gauge(1.0)));
    tokio::time::advance(Duration::from_millis(50)).await;
    drop(stream);
    assert_eq!(rec.get(IN_FLIGHT, &chat_labels(&[])), Some(Val::Gauge(0.0)));
    assert_eq!(
        rec.get(ERRORS, &chat_labels(&[(ERROR_TYPE, "cancelled")])),
        Some(Val::Counter(1))
    );
    assert_eq!(
        rec.get(
            OPERATION_DURATION,
            &chat_labels(&[(ERROR_TYPE, "cancelled")])
        ),
        Some(Val::Hist(vec![0.15]))
    );

    let collected = llm.chat_collected(ChatRequest::user("x")).await.unwrap();
    assert_eq!(collected.content, "ok");
    assert_eq!(
        rec.get(TIME_TO_FIRST_CHUNK, &chat_labels(&[])),
        Some(Val::Hist(vec![0.1, 0.04]))
    );
    assert_eq!(
        rec.get(
            OPERATION_DURATION,
            &chat_labels(&[(RESPONSE_MODEL, "streamed-model")])
        ),
        Some(Val::Hist(vec![0.04]))
    );
    assert_eq!(
        rec.get(
            TOKEN_USAGE,
            &chat_labels(&[(RESPONSE_MODEL, "streamed-model"), (TOKEN_TYPE, "input")])
        ),
        Some(Val::Hist(vec![5.0]))
    );
    assert_eq!(rec.get(IN_FLIGHT, &chat_labels(&[])), Some(Val::Gauge(0.0)));
    assert_eq!(rec.get(REQUESTS, &chat_labels(&[])), Some(Val::Counter(2)));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_chat_future_leaves_nothing_in_flight() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    let scripted = Scripted::new(MODEL);
    scripted.push_delayed(
        Duration::from_secs(5),
        Reply::Response(full_response("late")),
    );
    let llm = Metrics::new(scripted, MetricsConfig::default());
    let timed_out =
        tokio::time::timeout(Duration::from_millis(250), llm.chat(ChatRequest::user("x"))).await;
    assert!(timed_out.is_err());
    assert_eq!(rec.get(IN_FLIGHT, &chat_labels(&[])), Some(Val::Gauge(0.0)));
    assert_eq!(
        rec.get(
            OPERATION_DURATION,
            &chat_labels(&[(ERROR_TYPE, "cancelled")])
        ),
        Some(Val::Hist(vec![0.25]))
    );
}

#[tokio::test]
async fn embed_and_model_overrides_are_labelled() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    let config = MetricsConfig::builder()
        .label("tier", "primary")
        .build()
        .unwrap();
    let llm = Metrics::new(Scripted::new(MODEL).with_hash_embeddings(4), config);
    llm.embed(EmbedRequest::new(["abcd", "efgh"]))
        .await
        .unwrap();
    llm.embed(EmbedRequest::new(["x"]).with_model("other-embedder"))
        .await
        .unwrap();

    let labels = |model: &'static str, more: &[(&'static str, &'static str)]| {
        let mut v = vec![
            (OPERATION_NAME, "embeddings"),
            (PROVIDER_NAME, "scripted"),
            (REQUEST_MODEL, model),
            ("tier", "primary"),
        ];
        v.extend_from_slice(more);
        v
    };
    assert_eq!(
        rec.get(REQUESTS, &labels(MODEL, &[])),
        Some(Val::Counter(1))
    );
    assert_eq!(
        rec.get(REQUESTS, &labels("other-embedder", &[])),
        Some(Val::Counter(1))
    );
    assert_eq!(
        rec.get(
            TOKEN_USAGE,
            &labels(MODEL, &[(RESPONSE_MODEL, MODEL), (TOKEN_TYPE, "input")])
        ),
        Some(Val::Hist(vec![2.0]))
    );
    match rec.get(
        OPERATION_DURATION,
        &labels("other-embedder", &[(RESPONSE_MODEL, "other-embedder")]),
    ) {
        Some(Val::Hist(v)) => assert_eq!(v.len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(
        rec.series_named(TOKEN_USAGE)
            .iter()
            .all(|(l, _)| !l.contains(&(TOKEN_TYPE.to_owned(), "output".to_owned()))),
        "embeddings report no output tokens"
    );
}

fn store_labels<'a>(kind: &'a str, op: &'a str, outcome: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (STORE_KIND, kind),
        (STORE_OPERATION, op),
        (OUTCOME, outcome),
    ]
}

fn hist_len(v: Option<Val>) -> usize {
    match v {
        Some(Val::Hist(v)) => v.len(),
        other => panic!("not a histogram: {other:?}"),
    }
}

#[tokio::test]
async fn vector_operations_record_durations_by_operation_and_outcome() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    let store = Metrics::new(
        MemoryVectorStore::new(2, Metric::Cosine).unwrap(),
        MetricsConfig::default(),
    );
    store
        .upsert(vec![Document::new("a", vec![1.0, 0.0])])
        .await
        .unwrap();
    store
        .upsert(vec![Document::new("b", vec![1.0])])
        .await
        .unwrap_err();
    store
        .search(VectorQuery::new(vec![1.0, 0.0], 1))
        .await
        .unwrap();
    store.delete(&["a".to_owned()]).await.unwrap();
    store.count().await.unwrap();
    VectorStore::health_check(&store).await.unwrap();

    for op in ["upsert", "search", "delete", "count", "health_check"] {
        assert_eq!(
            hist_len(rec.get(STORE_OPERATION_DURATION, &store_labels("vector", op, "ok"))),
            1,
            "{op}"
        );
    }
    let mut failed = store_labels("vector", "upsert", "error");
    failed.push((ERROR_TYPE, "invalid_request"));
    assert_eq!(hist_len(rec.get(STORE_OPERATION_DURATION, &failed)), 1);
    assert_eq!(rec.all().len(), 6, "{:#?}", rec.all());
}

#[tokio::test]
async fn conversation_operations_record_durations_by_operation_and_outcome() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    let store = Metrics::new(MemoryConversationStore::new(), MetricsConfig::default());
    store.append("c", &[Message::user("hi")]).await.unwrap();
    store.load("c", Window::All).await.unwrap();
    store.delete("c").await.unwrap();
    store.load("c", Window::All).await.unwrap_err();

    for op in ["append", "load", "delete"] {
        assert_eq!(
            hist_len(rec.get(
                STORE_OPERATION_DURATION,
                &store_labels("conversation", op, "ok")
            )),
            1,
            "{op}"
        );
    }
    let mut failed = store_labels("conversation", "load", "error");
    failed.push((ERROR_TYPE, "not_found"));
    assert_eq!(hist_len(rec.get(STORE_OPERATION_DURATION, &failed)), 1);
    let text = format!("{:?}", rec.all());
    assert!(
        !text.contains("\"c\""),
        "no conversation id in labels: {text}"
    );
}

#[tokio::test]
async fn metrics_pass_the_suites() {
    let recorder = DebuggingRecorder::new();
    let rec = Recorded::new(&recorder);
    let _guard = metrics::set_default_local_recorder(&recorder);

    llm_provider(&Metrics::new(echo(), MetricsConfig::default()), &llm_caps()).await;
    vector_store(
        &Metrics::new(
            MemoryVectorStore::new(8, Metric::Cosine).unwrap(),
            MetricsConfig::default(),
        ),
        &VectorStoreCapabilities::new(8, Metric::Cosine).with_dotted_paths(true),
    )
    .await;
    conversation_store(
        &Metrics::new(MemoryConversationStore::new(), MetricsConfig::default()),
        &ConversationStoreCapabilities::new(),
    )
    .await;
    for (labels, value) in rec.series_named(IN_FLIGHT) {
        assert_eq!(value, Val::Gauge(0.0), "{labels:?}");
    }
}

#[tokio::test]
async fn the_whole_stack_passes_the_llm_suite_with_everything_listening() {
    let recorder = DebuggingRecorder::new();
    let _metrics = metrics::set_default_local_recorder(&recorder);
    let (cap, _guard) = Captured::install();
    let stack = Metrics::new(
        Logging::new(echo(), LoggingConfig::default()),
        MetricsConfig::default(),
    );
    llm_provider(&stack, &llm_caps()).await;
    let outer = Logging::new(
        Metrics::new(echo(), MetricsConfig::default()),
        LoggingConfig::default(),
    );
    llm_provider(&outer, &llm_caps()).await;
    assert!(!cap.events().is_empty());
}

#[tokio::test]
async fn cached_handles_follow_the_recorder_in_use() {
    let llm = Metrics::new(
        Scripted::new(MODEL).echo_when_empty(),
        MetricsConfig::default(),
    );
    // No recorder: nothing to see, nothing breaks.
    llm.chat(ChatRequest::user("x")).await.unwrap();
    for _ in 0..2 {
        let recorder = DebuggingRecorder::new();
        let rec = Recorded::new(&recorder);
        let guard = metrics::set_default_local_recorder(&recorder);
        llm.chat(ChatRequest::user("x")).await.unwrap();
        llm.chat(ChatRequest::user("x")).await.unwrap();
        drop(guard);
        llm.chat(ChatRequest::user("x")).await.unwrap();
        assert_eq!(rec.get(REQUESTS, &chat_labels(&[])), Some(Val::Counter(2)));
        assert_eq!(rec.get(IN_FLIGHT, &chat_labels(&[])), Some(Val::Gauge(0.0)));
    }
}

#[test]
fn wrappers_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Logging<Scripted>>();
    check::<Metrics<Scripted>>();
    check::<Logging<MemoryVectorStore>>();
    check::<Metrics<MemoryConversationStore>>();
}
