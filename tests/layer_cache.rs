//! Contract tests of the `Cache` wrapper: only complete answers are stored, keys change with everything
//! that changes the answer and nothing else, modes, TTL, size bounds, stream/chat sharing, metrics.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::json;
use twelve_factor_ai::layer::cache::{
    Cache, CacheBackend, CacheConfig, CacheMode, CacheValue, MemoryCache, TAG, TAG_FORCE, TAG_OFF,
};
use twelve_factor_ai::layer::names;
use twelve_factor_ai::llm::{
    ChatRequest, ChatResponse, Chunk, ContentPart, EmbedRequest, EmbedResponse, LlmProvider,
    LlmProviderExt, Message, ResponseFormat, Role, Scripted, StreamEvent, ToolCall, ToolChoice,
    ToolSpec,
};
use twelve_factor_ai::prompt::PromptRef;
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::{Error, ErrorKind, Result};

fn det(text: &str) -> ChatRequest {
    ChatRequest::builder()
        .user(text)
        .temperature(0.0)
        .build()
        .unwrap()
}

fn cached(inner: Scripted) -> Cache<Scripted> {
    Cache::new(inner, CacheConfig::default())
}

fn with(inner: Scripted, mode: CacheMode, backend: Arc<dyn CacheBackend>) -> Cache<Scripted> {
    let config = CacheConfig::builder()
        .mode(mode)
        .backend(backend)
        .build()
        .unwrap();
    Cache::new(inner, config)
}

fn echo() -> Scripted {
    Scripted::new("m").echo_when_empty()
}

/// Reads a stream to its end, returning its events and its first error.
async fn drain(cache: &impl LlmProvider, req: ChatRequest) -> (Vec<StreamEvent>, Option<Error>) {
    let mut stream = cache.chat_stream(req).await.unwrap();
    let mut events = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(e) => events.push(e),
            Err(e) => error = error.or(Some(e)),
        }
    }
    (events, error)
}

// ---- the cache never returns an error or a partial stream ----

#[tokio::test]
async fn an_error_is_not_cached() {
    let inner = Scripted::new("m");
    inner.push_error(Error::new(ErrorKind::Server, "boom").with_status(500));
    inner.push_text("fine");
    let cache = cached(inner);
    assert_eq!(
        cache.chat(det("q")).await.unwrap_err().kind(),
        ErrorKind::Server
    );
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "fine");
    assert_eq!(
        cache.get_ref().requests().len(),
        2,
        "the error was not served"
    );
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "fine");
    assert_eq!(
        cache.get_ref().requests().len(),
        2,
        "the answer after it was"
    );
}

#[tokio::test]
async fn an_error_opening_a_stream_is_not_cached() {
    let inner = Scripted::new("m");
    inner.push_error(Error::new(ErrorKind::Overloaded, "busy"));
    inner.push_text("fine");
    let cache = cached(inner);
    assert!(cache.chat_stream(det("q")).await.is_err());
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "fine");
    assert_eq!(cache.get_ref().requests().len(), 2);
}

#[tokio::test]
async fn a_failed_stream_is_not_cached() {
    let inner = Scripted::new("m");
    inner.push_stream([
        Chunk::text("partial "),
        Chunk::Error(Error::new(ErrorKind::Transport, "reset")),
    ]);
    inner.push_text("whole");
    let cache = cached(inner);
    let (events, error) = drain(&cache, det("q")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(error.unwrap().kind(), ErrorKind::Transport);
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "whole");
    assert_eq!(cache.get_ref().requests().len(), 2);
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "whole");
    assert_eq!(cache.get_ref().requests().len(), 2);
}

#[tokio::test]
async fn a_cut_stream_without_done_is_not_cached() {
    let inner = Scripted::new("m");
    inner.push_stream([Chunk::text("half an ans")]);
    inner.push_text("whole");
    let cache = cached(inner);
    // The caller sees the stream exactly as the provider sent it (collecting it reports it incomplete).
    let err = cache.chat_collected(det("q")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "whole");
    assert_eq!(cache.get_ref().requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_stream_is_not_cached() {
    let inner = Scripted::new("m");
    inner.push_stream([
        Chunk::text("first "),
        Chunk::Delay(Duration::from_secs(1)),
        Chunk::text("second"),
        Chunk::done(),
    ]);
    inner.push_text("whole");
    let cache = cached(inner);
    let mut stream = cache.chat_stream(det("q")).await.unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "whole");
    assert_eq!(cache.get_ref().requests().len(), 2);
}

#[tokio::test]
async fn a_stream_dropped_after_done_but_before_its_end_is_not_cached() {
    let inner = Scripted::new("m");
    inner.push_stream([Chunk::text("all"), Chunk::done()]);
    inner.push_text("again");
    let cache = cached(inner);
    let mut stream = cache.chat_stream(det("q")).await.unwrap();
    while let Some(item) = stream.next().await {
        if matches!(item.unwrap(), StreamEvent::Done { .. }) {
            break;
        }
    }
    drop(stream);
    assert_eq!(cache.chat(det("q")).await.unwrap().content, "again");
    assert_eq!(cache.get_ref().requests().len(), 2);
}

#[tokio::test]
async fn a_backend_that_fails_never_fails_a_call() {
    #[derive(Debug)]
    struct Broken;
    #[async_trait]
    impl CacheBackend for Broken {
        async fn get(&self, _: &str) -> Result<Option<CacheValue>> {
            Err(Error::store("cache down"))
        }
        async fn put(&self, _: &str, _: CacheValue, _: Duration) -> Result<()> {
            Err(Error::store("cache down"))
        }
        async fn delete(&self, _: &str) -> Result<bool> {
            Err(Error::store("cache down"))
        }
        async fn clear(&self) -> Result<()> {
            Err(Error::store("cache down"))
        }
    }
    let cache = with(echo(), CacheMode::ReadWrite, Arc::new(Broken));
    assert_eq!(cache.chat(det("a")).await.unwrap().content, "a");
    assert_eq!(cache.chat(det("a")).await.unwrap().content, "a");
    assert_eq!(cache.chat_collected(det("a")).await.unwrap().content, "a");
    assert_eq!(cache.get_ref().requests().len(), 3);
}

#[tokio::test]
async fn an_entry_of_the_wrong_kind_is_a_miss() {
    let backend = Arc::new(MemoryCache::new());
    let cache = with(echo(), CacheMode::ReadWrite, backend.clone());
    let key = cache.chat_key(&det("a")).unwrap();
    let ttl = Duration::from_secs(60);
    backend
        .put(
            &key,
            CacheValue::Embed(EmbedResponse::new("p", "m", vec![vec![1.0]])),
            ttl,
        )
        .await
        .unwrap();
    assert_eq!(cache.chat(det("a")).await.unwrap().content, "a");
    assert_eq!(cache.get_ref().requests().len(), 1);
}

// ---- hits ----

#[tokio::test]
async fn identical_deterministic_requests_hit_and_return_the_stored_answer() {
    let inner = Scripted::new("m");
    let mut stored = ChatResponse::text("ignored", "ignored", "Paris");
    stored.attempts = 3;
    stored.cost_usd = Some(0.25);
    inner.push_response(stored);
    let cache = cached(inner);
    let first = cache.chat(det("Capital of France?")).await.unwrap();
    let second = cache.chat(det("Capital of France?")).await.unwrap();
    assert!(
        second.cached && !first.cached,
        "a hit says it came from the cache"
    );
    let mut expected = first.clone();
    expected.cached = true;
    assert_eq!(second, expected);
    assert_eq!(
        second.attempts, 3,
        "attempts are those of the stored answer"
    );
    assert_eq!(cache.get_ref().requests().len(), 1);
}

#[tokio::test]
async fn request_id_tenant_conversation_and_tags_do_not_matter() {
    let cache = cached(echo());
    let a = ChatRequest::builder()
        .user("same")
        .temperature(0.0)
        .request_id("r-1")
        .tenant("t-1")
        .conversation_id("c-1")
        .tag("feature", "x")
        .build()
        .unwrap();
    let b = ChatRequest::builder()
        .user("same")
        .temperature(0.0)
        .request_id("r-2")
        .tenant("t-2")
        .conversation_id("c-2")
        .tag("feature", "y")
        .tag(TAG, "something-else")
        .build()
        .unwrap();
    assert_eq!(cache.chat_key(&a).unwrap(), cache.chat_key(&b).unwrap());
    cache.chat(a).await.unwrap();
    cache.chat(b).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 1);
}

#[tokio::test]
async fn an_explicit_model_equal_to_the_pinned_one_shares_the_entry() {
    let cache = cached(echo());
    let mut explicit = det("q");
    explicit.model = Some("m".into());
    assert_eq!(
        cache.chat_key(&explicit).unwrap(),
        cache.chat_key(&det("q")).unwrap()
    );
}

// ---- misses: every change of what the model sees ----

fn tool() -> ToolSpec {
    ToolSpec::new(
        "lookup",
        "find a thing",
        json!({"type": "object", "properties": {"q": {"type": "string"}}}),
    )
}

fn prompt(version: &str, hash: &str) -> PromptRef {
    PromptRef {
        name: "support".into(),
        version: version.into(),
        hash: hash.into(),
        variant: None,
    }
}

#[test]
fn every_change_that_changes_the_answer_changes_the_key() {
    let cache = cached(Scripted::new("m"));
    let base = || {
        ChatRequest::builder()
            .system("be brief")
            .user("hi")
            .temperature(0.0)
            .tool(tool())
            .prompt(prompt("1.0.0", "abc"))
    };
    let mut variants: Vec<(&str, ChatRequest)> = vec![
        ("base", base().build().unwrap()),
        ("model", base().model("other").build().unwrap()),
        (
            "text",
            ChatRequest::builder()
                .system("be brief")
                .user("hi!")
                .temperature(0.0)
                .tool(tool())
                .prompt(prompt("1.0.0", "abc"))
                .build()
                .unwrap(),
        ),
        (
            "extra message",
            base().assistant("hello").user("hi").build().unwrap(),
        ),
        (
            "name",
            base()
                .message(Message::user("x").with_name("ada"))
                .build()
                .unwrap(),
        ),
        (
            "no name",
            base().message(Message::user("x")).build().unwrap(),
        ),
        (
            "tool call",
            base()
                .message(Message::assistant_tool_calls(
                    "",
                    vec![ToolCall::new("c1", "lookup", r#"{"q":"a"}"#)],
                ))
                .message(Message::tool_result("c1", "42"))
                .build()
                .unwrap(),
        ),
        (
            "tool call arguments",
            base()
                .message(Message::assistant_tool_calls(
                    "",
                    vec![ToolCall::new("c1", "lookup", r#"{"q":"b"}"#)],
                ))
                .message(Message::tool_result("c1", "42"))
                .build()
                .unwrap(),
        ),
        (
            "tool call id",
            base()
                .message(Message::assistant_tool_calls(
                    "",
                    vec![ToolCall::new("c2", "lookup", r#"{"q":"a"}"#)],
                ))
                .message(Message::tool_result("c2", "42"))
                .build()
                .unwrap(),
        ),
        (
            "image part",
            base()
                .message(Message::with_parts(
                    Role::User,
                    vec![ContentPart::image_url("https://x/a.png")],
                ))
                .build()
                .unwrap(),
        ),
        ("temperature", base().temperature(0.5).build().unwrap()),
        ("top_p", base().top_p(0.9).build().unwrap()),
        ("max_tokens", base().max_tokens(10).build().unwrap()),
        ("stop", base().stop("END").build().unwrap()),
        ("seed", base().seed(7).build().unwrap()),
        (
            "presence_penalty",
            base().presence_penalty(0.5).build().unwrap(),
        ),
        (
            "frequency_penalty",
            base().frequency_penalty(0.5).build().unwrap(),
        ),
        (
            "second tool",
            base()
                .tool(ToolSpec::new("other", "d", json!({"type": "object"})))
                .build()
                .unwrap(),
        ),
        (
            "tool strict",
            ChatRequest::builder()
                .system("be brief")
                .user("hi")
                .temperature(0.0)
                .tool(tool().strict(true))
                .prompt(prompt("1.0.0", "abc"))
                .build()
                .unwrap(),
        ),
        (
            "tool schema",
            ChatRequest::builder()
                .system("be brief")
                .user("hi")
                .temperature(0.0)
                .tool(ToolSpec::new(
                    "lookup",
                    "find a thing",
                    json!({"type": "object", "properties": {"q": {"type": "integer"}}}),
                ))
                .prompt(prompt("1.0.0", "abc"))
                .build()
                .unwrap(),
        ),
        (
            "tool description",
            ChatRequest::builder()
                .system("be brief")
                .user("hi")
                .temperature(0.0)
                .tool(ToolSpec::new(
                    "lookup",
                    "find anything",
                    json!({"type": "object", "properties": {"q": {"type": "string"}}}),
                ))
                .prompt(prompt("1.0.0", "abc"))
                .build()
                .unwrap(),
        ),
        (
            "tool choice auto",
            base().tool_choice(ToolChoice::Auto).build().unwrap(),
        ),
        (
            "tool choice required",
            base().tool_choice(ToolChoice::Required).build().unwrap(),
        ),
        (
            "tool choice named",
            base()
                .tool_choice(ToolChoice::Tool("lookup".into()))
                .build()
                .unwrap(),
        ),
        (
            "json format",
            base()
                .response_format(ResponseFormat::Json)
                .build()
                .unwrap(),
        ),
        (
            "json schema format",
            base()
                .response_format(ResponseFormat::JsonSchema {
                    name: "answer".into(),
                    schema: json!({"type": "object"}),
                    strict: false,
                })
                .build()
                .unwrap(),
        ),
        (
            "json schema strict",
            base()
                .response_format(ResponseFormat::JsonSchema {
                    name: "answer".into(),
                    schema: json!({"type": "object"}),
                    strict: true,
                })
                .build()
                .unwrap(),
        ),
        (
            "prompt version",
            base().prompt(prompt("1.0.1", "abc")).build().unwrap(),
        ),
        (
            "prompt hash",
            base().prompt(prompt("1.0.0", "abd")).build().unwrap(),
        ),
        (
            "prompt name",
            base()
                .prompt(PromptRef {
                    name: "sales".into(),
                    ..prompt("1.0.0", "abc")
                })
                .build()
                .unwrap(),
        ),
        (
            "no prompt",
            ChatRequest::builder()
                .system("be brief")
                .user("hi")
                .temperature(0.0)
                .tool(tool())
                .build()
                .unwrap(),
        ),
    ];
    let mut role_changed = variants[0].1.clone();
    role_changed.messages[0].role = Role::User;
    variants.push(("role", role_changed));

    let mut seen = HashSet::new();
    for (what, req) in &variants {
        assert!(
            seen.insert(cache.chat_key(req).unwrap()),
            "{what}: the key did not change"
        );
    }
    // Another provider never shares an entry.
    let other = cached(Scripted::new("m").with_name("other"));
    assert!(seen.insert(other.chat_key(&variants[0].1).unwrap()));
}

#[tokio::test]
async fn a_changed_request_misses_end_to_end() {
    let cache = cached(echo());
    cache.chat(det("a")).await.unwrap();
    let mut other_model = det("a");
    other_model.model = Some("m2".into());
    cache.chat(other_model).await.unwrap();
    let mut other_tokens = det("a");
    other_tokens.max_tokens = Some(5);
    cache.chat(other_tokens).await.unwrap();
    cache.chat(det("b")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 4);
}

#[test]
fn the_key_is_stable_across_runs() {
    // A golden value: if this fails, the key encoding changed. Bump the `tfa-cache-v2:` prefix in
    // src/layer/cache/key.rs (so old entries are never served) and update the value here.
    let cache = cached(Scripted::new("model-2024-01-01").with_name("openai"));
    let req = ChatRequest::builder()
        .system("You are terse.")
        .user("Capital of France?")
        .model("gpt-4o-2024-08-06")
        .temperature(0.0)
        .max_tokens(16)
        .stop("\n")
        .seed(42)
        .tool(
            ToolSpec::new(
                "lookup",
                "Look a city up.",
                json!({"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}),
            )
            .strict(true),
        )
        .tool_choice(ToolChoice::Auto)
        .response_format(ResponseFormat::Json)
        .prompt(prompt("1.2.0", "9f86d081"))
        .request_id("not-in-the-key")
        .build()
        .unwrap();
    assert_eq!(cache.chat_key(&req).unwrap(), GOLDEN_CHAT_KEY);
    let embed = EmbedRequest::new(["a", "b"])
        .with_model("text-embedding-3-small")
        .with_dimensions(256);
    assert_eq!(cache.embed_key(&embed).unwrap(), GOLDEN_EMBED_KEY);
}

/// Computed independently of the crate, with Python, from the layout in `src/layer/cache/key.rs` (strings
/// as u64-LE length + bytes, lists as u64-LE count + items, options as a 0/1 byte + value, enums as a tag
/// byte, numbers little endian, JSON schemas as canonical JSON text):
///
/// ```text
/// P = b"tfa-cache-v2:"; s = lambda x: struct.pack('<Q', len(x.encode())) + x.encode(); n = lambda k: struct.pack('<Q', k)
/// chat = P + s("chat") + s("openai") + s("gpt-4o-2024-08-06") + n(2)
///   + s("system") + n(1) + b"\0" + s("You are terse.") + n(0) + b"\0\0"
///   + s("user") + n(1) + b"\0" + s("Capital of France?") + n(0) + b"\0\0"
///   + b"\1" + struct.pack('<f', 0.0) + b"\0" + b"\1" + n(16) + n(1) + s("\n") + b"\1" + n(42) + b"\0\0"
///   + n(1) + s("lookup") + b"\1" + s("Look a city up.")
///   + s('{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"}') + b"\2"
///   + b"\1" + b"\1" + b"\1" + s("support") + s("1.2.0") + s("9f86d081") + b"\0"
/// ```
const GOLDEN_CHAT_KEY: &str =
    "tfa-cache-v2:55261b0f42de40342551c9eec1da783c9db1ef09720fcdf60c37873d2a234468";
/// Likewise, of `P + s("embeddings") + s("openai") + s("text-embedding-3-small") + b"\1" + n(256) + n(2)
/// + s("a") + s("b")`.
const GOLDEN_EMBED_KEY: &str =
    "tfa-cache-v2:447ce21f4298b0684289cb4692d67ff2154508c949938234cc7425a8f1566c1c";

// ---- what is cached ----

#[tokio::test]
async fn non_deterministic_requests_are_not_cached_by_default() {
    let cache = cached(echo());
    cache.chat(ChatRequest::user("a")).await.unwrap();
    cache.chat(ChatRequest::user("a")).await.unwrap();
    let mut warm = det("a");
    warm.temperature = Some(0.7);
    cache.chat(warm.clone()).await.unwrap();
    cache.chat(warm).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 4);
    assert!(cache.backend().get("anything").await.unwrap().is_none());
}

#[tokio::test]
async fn the_force_tag_and_the_config_opt_in() {
    let cache = cached(echo());
    let forced = || {
        ChatRequest::builder()
            .user("a")
            .tag(TAG, TAG_FORCE)
            .build()
            .unwrap()
    };
    cache.chat(forced()).await.unwrap();
    cache.chat(forced()).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 1);

    let config = CacheConfig::builder()
        .cache_nondeterministic(true)
        .build()
        .unwrap();
    let cache = Cache::new(echo(), config);
    cache.chat(ChatRequest::user("a")).await.unwrap();
    cache.chat(ChatRequest::user("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 1);
}

#[tokio::test]
async fn the_off_tag_neither_reads_nor_writes() {
    let cache = cached(echo());
    let off = || {
        ChatRequest::builder()
            .user("a")
            .temperature(0.0)
            .tag(TAG, TAG_OFF)
            .build()
            .unwrap()
    };
    cache.chat(off()).await.unwrap();
    cache.chat(det("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 2, "off wrote nothing");
    cache.chat(off()).await.unwrap();
    assert_eq!(
        cache.get_ref().requests().len(),
        3,
        "off read nothing either"
    );
    cache.chat(det("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 3);
}

#[tokio::test]
async fn invalid_requests_pass_through_to_be_refused() {
    let cache = cached(echo());
    let mut empty = det("a");
    empty.messages.clear();
    for _ in 0..2 {
        let err = cache.chat(empty.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }
}

// ---- modes ----

#[tokio::test]
async fn mode_off_passes_everything_through() {
    let backend = Arc::new(MemoryCache::new());
    let cache = with(echo(), CacheMode::Off, backend.clone());
    cache.chat(det("a")).await.unwrap();
    cache.chat(det("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 2);
    assert!(backend.is_empty());
}

#[tokio::test]
async fn read_only_serves_but_never_writes_and_write_only_the_reverse() {
    let backend = Arc::new(MemoryCache::new());
    let read_only = with(echo(), CacheMode::ReadOnly, backend.clone());
    read_only.chat(det("a")).await.unwrap();
    read_only.chat_collected(det("a")).await.unwrap();
    assert_eq!(read_only.get_ref().requests().len(), 2);
    assert!(backend.is_empty(), "read-only wrote");

    let write_only = with(echo(), CacheMode::WriteOnly, backend.clone());
    write_only.chat(det("a")).await.unwrap();
    write_only.chat(det("a")).await.unwrap();
    assert_eq!(
        write_only.get_ref().requests().len(),
        2,
        "write-only served"
    );
    assert_eq!(backend.len(), 1);
    write_only.chat_collected(det("b")).await.unwrap();
    assert_eq!(backend.len(), 2, "write-only stores streams too");

    read_only.chat(det("a")).await.unwrap();
    read_only.chat_collected(det("b")).await.unwrap();
    assert_eq!(
        read_only.get_ref().requests().len(),
        2,
        "read-only served both"
    );
}

// ---- TTL and size ----

#[tokio::test(start_paused = true)]
async fn entries_expire_after_the_ttl() {
    let config = CacheConfig::builder()
        .ttl(Duration::from_secs(10))
        .build()
        .unwrap();
    let cache = Cache::new(echo(), config);
    cache.chat(det("a")).await.unwrap();
    tokio::time::advance(Duration::from_secs(9)).await;
    cache.chat(det("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    cache.chat(det("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 2, "expired");
    cache.chat(det("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 2, "written again");
}

#[tokio::test]
async fn the_size_bound_evicts_the_least_recently_used() {
    let backend = Arc::new(MemoryCache::with_limits(
        NonZeroUsize::new(2).unwrap(),
        NonZeroUsize::new(1 << 20).unwrap(),
    ));
    let cache = with(echo(), CacheMode::ReadWrite, backend.clone());
    cache.chat(det("a")).await.unwrap();
    cache.chat(det("b")).await.unwrap();
    cache.chat(det("a")).await.unwrap(); // hit: "a" is now the most recent
    cache.chat(det("c")).await.unwrap(); // evicts "b"
    assert_eq!(backend.len(), 2);
    assert_eq!(cache.get_ref().requests().len(), 3);
    cache.chat(det("a")).await.unwrap();
    cache.chat(det("c")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 3, "a and c kept");
    cache.chat(det("b")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 4, "b was evicted");
}

#[tokio::test]
async fn the_byte_bound_holds() {
    let backend = Arc::new(MemoryCache::with_limits(
        NonZeroUsize::new(1000).unwrap(),
        NonZeroUsize::new(4096).unwrap(),
    ));
    let cache = with(echo(), CacheMode::ReadWrite, backend.clone());
    for i in 0..50 {
        cache.chat(det(&format!("question {i}"))).await.unwrap();
        assert!(backend.bytes() <= 4096);
    }
    assert!(backend.len() < 50);
    // An answer bigger than the whole bound is returned but not stored.
    let long = "x".repeat(10_000);
    cache.chat(det(&long)).await.unwrap();
    cache.chat(det(&long)).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 52);
}

// ---- chat and streams share entries ----

#[tokio::test]
async fn a_stream_is_replayed_from_an_entry_a_chat_wrote() {
    let inner = Scripted::new("m");
    let mut answer = ChatResponse::text("x", "x", "Paris")
        .with_tool_calls(vec![ToolCall::new("c1", "lookup", "{}")]);
    answer.model = Some("m-2024".into());
    inner.push_response(answer);
    let cache = cached(inner);
    let stored = cache.chat(det("q")).await.unwrap();
    let (events, error) = drain(&cache, det("q")).await;
    assert!(error.is_none());
    // The replay is the stored answer's events, marked as a cache hit.
    let mut hit = stored.clone();
    hit.cached = true;
    assert_eq!(events, hit.to_events());
    assert_eq!(cache.get_ref().requests().len(), 1);
    assert_eq!(cache.chat_collected(det("q")).await.unwrap(), hit);
}

#[tokio::test(start_paused = true)]
async fn a_chat_is_served_from_an_entry_a_stream_wrote() {
    let inner = Scripted::new("m");
    inner.push_stream([
        Chunk::Event(StreamEvent::Start {
            model: Some("m-2024".into()),
            cached: false,
            provider_request_id: Some("req-1".into()),
        }),
        Chunk::text("Hel"),
        Chunk::Delay(Duration::from_millis(5)),
        Chunk::text("lo"),
        Chunk::done(),
        Chunk::Event(StreamEvent::Usage {
            usage: twelve_factor_ai::llm::Usage {
                input_tokens: Some(3),
                output_tokens: Some(2),
                ..Default::default()
            },
        }),
    ]);
    let cache = cached(inner);
    let streamed = cache.chat_collected(det("q")).await.unwrap();
    let served = cache.chat(det("q")).await.unwrap();
    assert!(
        served.cached && !streamed.cached,
        "a hit says it came from the cache"
    );
    let mut expected = streamed.clone();
    expected.cached = true;
    assert_eq!(served, expected);
    assert_eq!(served.content, "Hello");
    assert_eq!(served.provider, "scripted");
    assert_eq!(served.requested_model, "m");
    assert_eq!(served.provider_request_id.as_deref(), Some("req-1"));
    assert_eq!(
        served.usage.output_tokens,
        Some(2),
        "usage after done is kept"
    );
    assert_eq!(cache.get_ref().requests().len(), 1);
}

// ---- embeddings ----

#[tokio::test]
async fn embeddings_with_a_model_are_cached_by_model_dimensions_and_inputs() {
    let cache = cached(echo().with_hash_embeddings(8));
    let req = || EmbedRequest::new(["alpha", "beta"]).with_model("emb-1");
    let first = cache.embed(req()).await.unwrap();
    assert_eq!(cache.embed(req()).await.unwrap(), first);
    assert_eq!(cache.get_ref().embed_requests().len(), 1);
    cache.embed(req().with_dimensions(4)).await.unwrap();
    cache
        .embed(EmbedRequest::new(["alpha"]).with_model("emb-1"))
        .await
        .unwrap();
    cache
        .embed(EmbedRequest::new(["alpha", "beta"]).with_model("emb-2"))
        .await
        .unwrap();
    assert_eq!(cache.get_ref().embed_requests().len(), 4);
}

#[tokio::test]
async fn embeddings_without_a_model_or_when_disabled_are_not_cached() {
    let cache = cached(echo().with_hash_embeddings(8));
    cache.embed(EmbedRequest::new(["a"])).await.unwrap();
    cache.embed(EmbedRequest::new(["a"])).await.unwrap();
    assert_eq!(cache.get_ref().embed_requests().len(), 2);

    let config = CacheConfig::builder()
        .cache_embeddings(false)
        .build()
        .unwrap();
    let cache = Cache::new(echo().with_hash_embeddings(8), config);
    let req = || EmbedRequest::new(["a"]).with_model("emb-1");
    cache.embed(req()).await.unwrap();
    cache.embed(req()).await.unwrap();
    assert_eq!(cache.get_ref().embed_requests().len(), 2);
}

#[tokio::test]
async fn an_embed_error_is_not_cached() {
    let inner = echo().with_hash_embeddings(8);
    inner.push_embed_error(Error::new(ErrorKind::Server, "boom"));
    let cache = cached(inner);
    let req = || EmbedRequest::new(["a"]).with_model("emb-1");
    assert!(cache.embed(req()).await.is_err());
    cache.embed(req()).await.unwrap();
    cache.embed(req()).await.unwrap();
    assert_eq!(cache.get_ref().embed_requests().len(), 2);
}

// ---- metrics ----

#[test]
fn hits_and_misses_are_counted_with_provider_and_model() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let cache = cached(echo());
            cache.chat(det("a")).await.unwrap(); // miss
            cache.chat(det("a")).await.unwrap(); // hit
            cache.chat_collected(det("a")).await.unwrap(); // hit
            let mut other = det("a");
            other.model = Some("m2".into());
            cache.chat(other).await.unwrap(); // miss, model m2
            cache.chat(ChatRequest::user("a")).await.unwrap(); // not cacheable: neither
        });
    });
    let mut counts = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
                .unwrap_or_default()
        };
        let DebugValue::Counter(n) = value else {
            continue;
        };
        assert_eq!(label(names::PROVIDER_NAME), "scripted");
        assert_eq!(label(names::OPERATION_NAME), "chat");
        counts.push((key.name().to_owned(), label(names::REQUEST_MODEL), n));
    }
    counts.sort();
    assert_eq!(
        counts,
        vec![
            (names::CACHE_HITS.to_owned(), "m".to_owned(), 2),
            (names::CACHE_MISSES.to_owned(), "m".to_owned(), 1),
            (names::CACHE_MISSES.to_owned(), "m2".to_owned(), 1),
        ]
    );
}

// ---- conformance ----

#[tokio::test]
async fn conformance_with_defaults() {
    let cache = cached(Scripted::new("m").echo_when_empty().with_hash_embeddings(8));
    llm_provider(
        &cache,
        &LlmCapabilities::default()
            .with_embeddings(true)
            .with_usage(true),
    )
    .await;
}

#[tokio::test]
async fn conformance_when_everything_is_cached() {
    // Every request of the suite is cacheable here, so hits (chat served to streams and back) are checked.
    let config = CacheConfig::builder()
        .cache_nondeterministic(true)
        .build()
        .unwrap();
    let cache = Cache::new(
        Scripted::new("m").echo_when_empty().with_hash_embeddings(8),
        config,
    );
    for _ in 0..2 {
        llm_provider(
            &cache,
            &LlmCapabilities::default()
                .with_embeddings(true)
                .with_usage(true),
        )
        .await;
    }
    let calls = cache.get_ref().requests().len();
    llm_provider(
        &cache,
        &LlmCapabilities::default()
            .with_embeddings(true)
            .with_usage(true),
    )
    .await;
    // Only the requests without messages (refused) reach the provider again.
    assert!(cache.get_ref().requests().len() <= calls + 2);
}

#[tokio::test]
async fn entries_can_be_deleted_and_cleared() {
    let cache = cached(echo());
    cache.chat(det("a")).await.unwrap();
    cache.chat(det("b")).await.unwrap();
    let key = cache.chat_key(&det("a")).unwrap();
    assert!(cache.backend().delete(&key).await.unwrap());
    assert!(!cache.backend().delete(&key).await.unwrap());
    cache.chat(det("a")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 3, "a was deleted");
    cache.backend().clear().await.unwrap();
    cache.chat(det("a")).await.unwrap();
    cache.chat(det("b")).await.unwrap();
    assert_eq!(cache.get_ref().requests().len(), 5, "both were cleared");
}

/// Behind a fallback chain the key names the primary: a backup's answer during an outage is not stored
/// under it, so the primary answers again once it is back.
#[tokio::test]
async fn answers_from_a_fallback_backup_are_not_stored_under_the_primary() {
    use twelve_factor_ai::layer::fallback::{Fallback, FallbackConfig};
    let primary = Arc::new(Scripted::new("primary").with_name("openai"));
    primary.push_error(Error::new(ErrorKind::Overloaded, "down"));
    primary.push_text("from the primary");
    let backup = Arc::new(
        Scripted::new("backup")
            .with_name("anthropic")
            .echo_when_empty(),
    );
    let chain = Fallback::new(
        vec![primary.clone(), backup.clone()],
        FallbackConfig::default(),
    )
    .unwrap();
    let cache = Cache::new(chain, CacheConfig::default());
    let first = cache.chat(det("q")).await.unwrap();
    assert_eq!(first.provider, "anthropic");
    let second = cache.chat(det("q")).await.unwrap();
    assert_eq!(second.content, "from the primary");
    assert!(!second.cached);
    let third = cache.chat(det("q")).await.unwrap();
    assert!(third.cached, "the primary's own answer is stored");
    assert_eq!(primary.requests().len(), 2);
}

/// A streamed cache hit says so (`Start { cached: true }`, collected as `cached`), and `Metrics` above the
/// cache does not record its stored token usage a second time.
#[test]
fn streamed_hits_are_marked_and_not_counted_as_spent_tokens() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use twelve_factor_ai::layer::metrics::{Metrics, MetricsConfig};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (first, second) = metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let stack = Metrics::new(
                Cache::new(Scripted::new("m").echo_when_empty(), CacheConfig::default()),
                MetricsConfig::default(),
            );
            let first = stack.chat_collected(det("count me once")).await.unwrap();
            let second = stack.chat_collected(det("count me once")).await.unwrap();
            (first, second)
        })
    });
    assert!(!first.cached && second.cached, "{first:?} {second:?}");
    let token_samples: usize = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, _, _, _)| k.key().name() == names::TOKEN_USAGE)
        .map(|(_, _, _, v)| match v {
            DebugValue::Histogram(samples) => samples.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(token_samples, 2, "input and output of the first call only");
}
