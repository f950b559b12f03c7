//! The `Anthropic` provider against the fake server, through real HTTP on loopback: wire format, headers,
//! tools, streams, and every fault ending in the right `ErrorKind` within its deadline.
#![cfg(feature = "anthropic")]

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use twelve_factor_ai::llm::{
    Anthropic, AnthropicConfig, AnthropicConfigBuilder, ChatRequest, FinishReason, HttpOptions,
    LlmProvider, LlmProviderExt, Message, StreamEvent, ToolCall, ToolChoice, ToolSpec,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::testing::fake::{
    FakeReply, FakeServer, FakeUsage, Fault, SseChunk, StreamEnd, anthropic,
};
use twelve_factor_ai::{Error, ErrorKind};

const MODEL: &str = "claude-sonnet-4-20250514";
const KEY: &str = "sk-ant-api03-test-key-do-not-leak-0123456789";

/// No test may take longer than this, whatever the fault.
const DEADLINE: Duration = Duration::from_secs(20);

async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .expect("the call did not finish within the test deadline")
}

async fn server() -> FakeServer {
    FakeServer::start().await.expect("fake server starts")
}

fn config(server: &FakeServer) -> AnthropicConfigBuilder {
    AnthropicConfig::builder()
        .model(MODEL)
        .api_key(KEY)
        .base_url(server.anthropic_base_url())
}

fn provider(server: &FakeServer) -> Anthropic {
    Anthropic::new(config(server).build().unwrap()).unwrap()
}

fn provider_with(server: &FakeServer, http: HttpOptions) -> Anthropic {
    Anthropic::new(config(server).http(http).build().unwrap()).unwrap()
}

fn hello() -> ChatRequest {
    ChatRequest::builder()
        .system("Be brief.")
        .user("Say hello.")
        .build()
        .unwrap()
}

async fn chat_err(p: &Anthropic, req: ChatRequest) -> Error {
    within(p.chat(req)).await.expect_err("the call must fail")
}

/// Streams a request to the end and returns the first error item (or the error starting the stream).
async fn stream_err(p: &Anthropic, req: ChatRequest) -> Error {
    within(async {
        let mut stream = p.chat_stream(req).await?;
        while let Some(item) = stream.next().await {
            item?;
        }
        Ok::<(), Error>(())
    })
    .await
    .expect_err("the stream must fail")
}

fn assert_no_key(err: &Error) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
}

// ----- happy paths --------------------------------------------------------------------------------------

#[tokio::test]
async fn chat_round_trip() {
    let s = server().await;
    s.push(anthropic::message_with_usage(
        MODEL,
        "Hello!",
        FakeUsage::new(12, 3)
            .with_cache_read(100)
            .with_cache_creation(20),
    ));
    let p = provider(&s);
    let r = within(p.chat(hello())).await.unwrap();
    assert_eq!(r.content, "Hello!");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.provider, "anthropic");
    assert_eq!(r.requested_model, MODEL);
    assert_eq!(r.model.as_deref(), Some(MODEL));
    assert_eq!(r.usage.input_tokens, Some(132));
    assert_eq!(r.usage.cached_input_tokens, Some(100));
    assert_eq!(r.usage.cache_creation_input_tokens, Some(20));
    assert_eq!(r.usage.output_tokens, Some(3));
    assert!(
        r.provider_request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("req_")),
        "{:?}",
        r.provider_request_id
    );
}

#[tokio::test]
async fn headers_and_body_shape() {
    let s = server().await;
    let p = Anthropic::new(
        config(&s)
            .beta("prompt-caching-2024-07-31")
            .header("x-trace-id", "trace-1")
            .max_tokens(512)
            .build()
            .unwrap(),
    )
    .unwrap();
    let req = ChatRequest::builder()
        .system("Be brief.")
        .user("Hi")
        .temperature(0.3)
        .stop("END")
        .seed(7)
        .model("claude-3-5-haiku-20241022")
        .build()
        .unwrap();
    let r = within(p.chat(req)).await.unwrap();
    assert_eq!(r.content, "Hi", "the fake echoes the last user message");
    assert_eq!(r.requested_model, "claude-3-5-haiku-20241022");

    let sent = s.last_request().unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(sent.header("x-trace-id"), Some("trace-1"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(
        sent.json(),
        json!({
            "model": "claude-3-5-haiku-20241022",
            "max_tokens": 512,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "temperature": 0.3,
            "stop_sequences": ["END"]
        })
    );
}

#[tokio::test]
async fn trailing_slash_base_url_and_env_lookup() {
    let s = server().await;
    let base = format!("{}/", s.anthropic_base_url());
    let env = HashMap::from([
        ("ANTHROPIC_API_KEY", KEY.to_owned()),
        ("ANTHROPIC_BASE_URL", base),
        ("MODEL", MODEL.to_owned()),
    ]);
    let config = AnthropicConfigBuilder::from_env_vars(|name| env.get(name).cloned())
        .build()
        .unwrap();
    let p = Anthropic::new(config).unwrap();
    assert_eq!(within(p.complete("ping")).await.unwrap(), "ping");
    assert_eq!(s.last_request().unwrap().path, "/v1/messages");
}

#[tokio::test]
async fn stream_round_trip() {
    let s = server().await;
    s.push(anthropic::stream(MODEL, &["Hel", "lo ", "wörld ✓"]).rechunked(3));
    let p = provider(&s);
    let mut stream = within(p.chat_stream(hello())).await.unwrap();
    let mut events = Vec::new();
    while let Some(item) = within(stream.next()).await {
        events.push(item.unwrap());
    }
    assert!(
        matches!(&events[0], StreamEvent::Start { model: Some(m), cached: false, provider_request_id: Some(id) }
            if m == MODEL && id.starts_with("req_")),
        "{events:?}"
    );
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Done {
            finish_reason: FinishReason::Stop
        })
    ));
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hello wörld ✓");
    let sent = s.last_request().unwrap();
    assert_eq!(sent.json()["stream"], true);
    assert_eq!(sent.header("accept"), Some("text/event-stream"));

    // Collected, through the echo.
    let r = within(p.chat_collected(ChatRequest::user("echo me")))
        .await
        .unwrap();
    assert_eq!(r.content, "echo me");
    assert!(r.usage.input_tokens.is_some() && r.usage.output_tokens.is_some());
    assert_eq!(r.model.as_deref(), Some(MODEL));
}

fn weather_tools() -> ChatRequest {
    ChatRequest::builder()
        .user("Weather and time in Oslo? Use a tool.")
        .tool(ToolSpec::new(
            "weather",
            "Current weather in a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        ))
        .tool(ToolSpec::new(
            "time",
            "Current time in a time zone",
            json!({"type": "object", "properties": {"tz": {"type": "string"}}}),
        ))
        .tool_choice(ToolChoice::Required)
        .build()
        .unwrap()
}

#[tokio::test]
async fn tools_round_trip() {
    let s = server().await;
    s.push(anthropic::tool_use_message(
        MODEL,
        &[
            ("toolu_1", "weather", json!({"city": "Oslo"})),
            ("toolu_2", "time", json!({"tz": "CET"})),
        ],
    ));
    s.push(anthropic::message(MODEL, "12°C and 10:00 in Oslo."));
    let p = provider(&s);

    let req = weather_tools();
    let r = within(p.chat(req.clone())).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall::new("toolu_1", "weather", r#"{"city":"Oslo"}"#),
            ToolCall::new("toolu_2", "time", r#"{"tz":"CET"}"#),
        ]
    );
    let first = s.last_request().unwrap().json();
    assert_eq!(first["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        first["tools"][0],
        json!({
            "name": "weather",
            "description": "Current weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        })
    );

    // Send the results back: one assistant message with both calls, both results in one user message.
    let mut follow_up = req;
    follow_up.messages.push(r.to_message());
    follow_up
        .messages
        .push(Message::tool_result("toolu_1", "12°C"));
    follow_up
        .messages
        .push(Message::tool_result("toolu_2", "10:00"));
    let r = within(p.chat(follow_up)).await.unwrap();
    assert_eq!(r.content, "12°C and 10:00 in Oslo.");
    let second = s.last_request().unwrap().json();
    assert_eq!(
        second["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather and time in Oslo? Use a tool."}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {"tz": "CET"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12°C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "10:00"}
            ]}
        ])
    );
}

#[tokio::test]
async fn streamed_tool_calls_collect() {
    let s = server().await;
    s.push(
        anthropic::tool_use_stream(
            MODEL,
            &[
                ("toolu_1", "weather", &["{\"city\":", " \"Oslo\"}"]),
                ("toolu_2", "time", &["", "{\"tz\":\"CET\"}"]),
            ],
        )
        .rechunked(7),
    );
    let p = provider(&s);
    let r = within(p.chat_collected(weather_tools())).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall::new("toolu_1", "weather", r#"{"city": "Oslo"}"#),
            ToolCall::new("toolu_2", "time", r#"{"tz":"CET"}"#),
        ]
    );
    // The echo calls the first tool when asked to, with `{}` streamed as two fragments.
    let r = within(p.chat_collected(weather_tools())).await.unwrap();
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].name, "weather");
    assert_eq!(r.tool_calls[0].arguments, "{}");
}

#[tokio::test]
async fn conformance_against_the_echo() {
    let s = server().await;
    let p = provider(&s);
    within(llm_provider(
        &p,
        &LlmCapabilities::default().with_usage(true),
    ))
    .await;
    let health = s
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .expect("the health check called the server");
    assert_eq!(health.path, "/v1/models");
    assert_eq!(health.header("x-api-key"), Some(KEY));
    assert_eq!(health.header("anthropic-version"), Some("2023-06-01"));
}

#[tokio::test]
async fn health_check_reports_a_bad_key() {
    let s = server().await;
    s.push(anthropic::error(
        401,
        "authentication_error",
        "invalid x-api-key",
    ));
    let p = provider(&s);
    let err = within(p.health_check()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

// ----- faults -------------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limited_429_carries_retry_after() {
    let s = server().await;
    s.push(anthropic::rate_limited(7));
    let err = chat_err(&provider(&s), hello()).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.provider(), Some("anthropic"));
    assert!(err.request_id().is_some_and(|id| id.starts_with("req_")));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn overloaded_529() {
    let s = server().await;
    s.push(anthropic::overloaded());
    s.push(anthropic::overloaded());
    let p = provider(&s);
    let err = chat_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.status(), Some(529));
    assert!(err.is_retryable());
    // The same before a stream starts.
    let err = stream_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Overloaded);
}

#[tokio::test]
async fn unauthorized_401_never_shows_the_key() {
    let s = server().await;
    s.push(anthropic::error(
        401,
        "authentication_error",
        &format!("invalid x-api-key: {KEY}"),
    ));
    let err = chat_err(&provider(&s), hello()).await;
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    assert_no_key(&err);
    // Nor does the provider's Debug.
    let shown = format!("{:?}", provider(&s));
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn prompt_too_long_400_is_context_length_exceeded() {
    let s = server().await;
    s.push(anthropic::error(
        400,
        "invalid_request_error",
        "prompt is too long: 212345 tokens > 200000 maximum",
    ));
    let err = chat_err(&provider(&s), hello()).await;
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert!(err.should_fallback());
}

#[tokio::test]
async fn server_error_500() {
    let s = server().await;
    s.push(anthropic::error(500, "api_error", "Internal server error"));
    s.push(FakeReply::html_error_page(502));
    let p = provider(&s);
    let err = chat_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.status(), Some(500));
    let err = chat_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.status(), Some(502));
}

#[tokio::test]
async fn error_body_with_status_200() {
    let s = server().await;
    s.push(FakeReply::json(
        200,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let err = chat_err(&provider(&s), hello()).await;
    assert_eq!(err.kind(), ErrorKind::Overloaded);
}

#[tokio::test]
async fn reset_mid_body_is_transport() {
    let s = server().await;
    s.push(FakeReply::Fault(Fault::ResetMidBody {
        status: 200,
        partial: br#"{"id":"msg_1","type":"message","content":[{"type":"te"#.to_vec(),
        claimed_len: 4096,
    }));
    let err = chat_err(&provider(&s), hello()).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.is_retryable());
    assert_no_key(&err);
}

#[tokio::test]
async fn hang_times_out_within_request_timeout() {
    let s = server().await;
    s.push(FakeReply::Fault(Fault::Hang));
    s.push(FakeReply::Fault(Fault::Hang));
    let timeout = Duration::from_millis(300);
    let p = provider_with(&s, HttpOptions::default().request_timeout(timeout));

    let started = Instant::now();
    let err = chat_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < timeout * 10, "{:?}", started.elapsed());

    let started = Instant::now();
    let err = stream_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < timeout * 10, "{:?}", started.elapsed());
    // Giving up closes the connection: the server sees both clients go away.
    within(s.wait_for_disconnects(2)).await;
}

#[tokio::test]
async fn stalled_stream_times_out_on_read_timeout() {
    let s = server().await;
    s.push(
        anthropic::stream(MODEL, &["never", "ends"])
            .truncated(3)
            .with_end(StreamEnd::Hang),
    );
    let p = provider_with(
        &s,
        HttpOptions::default().read_timeout(Duration::from_millis(300)),
    );
    let err = stream_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn malformed_json_is_decode() {
    let s = server().await;
    s.push(FakeReply::malformed_json());
    s.push(FakeReply::json(200, json!({"unexpected": "shape"})));
    let p = provider(&s);
    let err = chat_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.request_id().is_some());
    let err = chat_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn oversized_body_is_decode() {
    let s = server().await;
    s.push(FakeReply::Fault(Fault::Oversized { bytes: 64 * 1024 }));
    let p = provider_with(&s, HttpOptions::default().max_body_bytes(4 * 1024));
    let err = chat_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.message().contains("max_body_bytes"), "{err}");
}

#[tokio::test]
async fn oversized_stream_event_is_decode() {
    let s = server().await;
    let big = "x".repeat(8 * 1024);
    s.push(FakeReply::Sse {
        status: 200,
        headers: Vec::new(),
        chunks: vec![anthropic::event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": big}}),
        )],
        end: StreamEnd::Clean,
    });
    let p = provider_with(&s, HttpOptions::default().max_event_bytes(1024));
    let err = stream_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.provider(), Some("anthropic"));
}

#[tokio::test]
async fn cut_stream_is_decode() {
    let s = server().await;
    // message_start, content_block_start, ping, one delta, then the body ends cleanly: incomplete.
    s.push(
        anthropic::stream(MODEL, &["Partial ", "answer"])
            .truncated(4)
            .with_end(StreamEnd::Clean),
    );
    // Everything but message_stop.
    let mut whole = anthropic::stream(MODEL, &["Partial ", "answer"]);
    if let FakeReply::Sse { chunks, .. } = &mut whole {
        chunks.pop();
    }
    s.push(whole);
    // The same cut, but the connection drops without ending the body: the transport broke.
    s.push(anthropic::stream(MODEL, &["Partial ", "answer"]).truncated(4));
    let p = provider(&s);
    for _ in 0..2 {
        let err = stream_err(&p, hello()).await;
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        assert!(err.message().contains("message_stop"), "{err}");
        assert!(!err.is_retryable());
    }
    let err = stream_err(&p, hello()).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[tokio::test]
async fn error_event_in_stream_is_overloaded() {
    let s = server().await;
    s.push(anthropic::stream_error_event(MODEL));
    let p = provider(&s);
    let mut stream = within(p.chat_stream(hello())).await.unwrap();
    let mut text = String::new();
    let err = loop {
        match within(stream.next()).await {
            Some(Ok(StreamEvent::TextDelta { text: t })) => text.push_str(&t),
            Some(Ok(_)) => {}
            Some(Err(e)) => break e,
            None => panic!("the stream ended without its error"),
        }
    };
    assert_eq!(text, "Partial answ");
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert!(err.request_id().is_some());
    assert!(
        within(stream.next()).await.is_none(),
        "the error ends the stream"
    );
}

#[tokio::test]
async fn slow_drip_within_limits_succeeds() {
    let s = server().await;
    let body = json!({
        "id": "msg_slow", "type": "message", "role": "assistant", "model": MODEL,
        "content": [{"type": "text", "text": "slow but fine"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 5, "output_tokens": 4}
    })
    .to_string()
    .into_bytes();
    s.push(FakeReply::Fault(Fault::SlowDrip {
        status: 200,
        body,
        chunk: 32,
        interval: Duration::from_millis(5),
    }));
    s.push(
        anthropic::stream(MODEL, &["slow ", "stream"]).with_chunk_delay(Duration::from_millis(20)),
    );
    let p = provider_with(
        &s,
        HttpOptions::default()
            .request_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(2)),
    );
    let r = within(p.chat(hello())).await.unwrap();
    assert_eq!(r.content, "slow but fine");
    let r = within(p.chat_collected(hello())).await.unwrap();
    assert_eq!(r.content, "slow stream");
}

#[tokio::test]
async fn dropping_a_stream_disconnects() {
    let s = server().await;
    s.push(
        anthropic::stream(MODEL, &["one ", "two ", "three ", "four"])
            .with_chunk_delay(Duration::from_millis(100)),
    );
    let p = provider(&s);
    let mut stream = within(p.chat_stream(hello())).await.unwrap();
    let first = within(stream.next()).await.unwrap().unwrap();
    assert!(matches!(first, StreamEvent::Start { .. }), "{first:?}");
    drop(stream);
    within(s.wait_for_disconnects(1)).await;
    assert_eq!(s.disconnects(), 1);
}

#[tokio::test]
async fn unsupported_parameters_never_reach_the_server() {
    let s = server().await;
    let p = provider(&s);
    let mut req = hello();
    req.frequency_penalty = Some(0.5);
    let err = chat_err(&p, req.clone()).await;
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().contains("frequency_penalty"), "{err}");
    assert_eq!(
        within(p.chat_stream(req)).await.err().map(|e| e.kind()),
        Some(ErrorKind::Unsupported)
    );
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn sse_chunk_helpers_are_understood() {
    // Keep-alive comments between every event, as proxies send them.
    let s = server().await;
    s.push(anthropic::stream(MODEL, &["a", "b"]).with_comments("keep-alive"));
    s.push(FakeReply::Sse {
        status: 200,
        headers: Vec::new(),
        chunks: vec![
            SseChunk::new("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}\n\n"),
            SseChunk::new("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"pause_turn\"},\"usage\":{\"output_tokens\":0}}\n\n"),
            SseChunk::new("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        ],
        end: StreamEnd::Clean,
    });
    let p = provider(&s);
    let r = within(p.chat_collected(hello())).await.unwrap();
    assert_eq!(r.content, "ab");
    let r = within(p.chat_collected(hello())).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::Other("pause_turn".into()));
}
