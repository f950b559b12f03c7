//! The `OpenAi` provider against the fake server, through real HTTP on loopback: wire format, headers,
//! tools, streams, embeddings, Azure, and every fault ending in the right `ErrorKind`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use twelve_factor_ai::ErrorKind;
use twelve_factor_ai::llm::{
    ChatRequest, EmbedRequest, FinishReason, HttpOptions, LlmProvider, LlmProviderExt, OpenAi,
    OpenAiConfig, StreamEvent, ToolCall, ToolSpec,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::testing::fake::{FakeReply, FakeServer, Fault, StreamEnd, openai};

const KEY: &str = "sk-test-abcdefghijklmnopqrstuvwxyz";
const MODEL: &str = "gpt-4o-mini-2024-07-18";

fn provider_with(server: &FakeServer, http: HttpOptions) -> OpenAi {
    OpenAi::new(
        OpenAiConfig::builder()
            .model(MODEL)
            .api_key(KEY)
            .base_url(format!("{}/", server.openai_base_url()))
            .organization("org-test")
            .project("proj-test")
            .header("x-gateway-tag", "tests")
            .http(http)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn provider(server: &FakeServer) -> OpenAi {
    provider_with(
        server,
        HttpOptions::default().request_timeout(Duration::from_secs(10)),
    )
}

#[tokio::test]
async fn conforms_through_the_fake_server() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    llm_provider(
        &p,
        &LlmCapabilities::default()
            .with_embeddings(true)
            .with_usage(true),
    )
    .await;
}

#[tokio::test]
async fn sends_the_documented_headers_and_body() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    let r = p
        .chat(
            ChatRequest::builder()
                .system("s")
                .user("ping")
                .temperature(0.0)
                .max_tokens(5)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.content, "ping");
    assert_eq!(r.provider, "openai");
    assert_eq!(r.model.as_deref(), Some(MODEL));
    assert!(
        r.provider_request_id
            .as_deref()
            .unwrap_or("")
            .starts_with("req_")
    );
    assert!(r.usage.input_tokens.is_some());

    let req = server.last_request().unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(req.header("openai-organization"), Some("org-test"));
    assert_eq!(req.header("openai-project"), Some("proj-test"));
    assert_eq!(req.header("x-gateway-tag"), Some("tests"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json();
    assert_eq!(body["model"], MODEL);
    assert_eq!(
        body["messages"][0],
        serde_json::json!({"role": "system", "content": "s"})
    );
    assert_eq!(body["max_tokens"], 5);
    assert!(body.get("stream").is_none());
}

#[tokio::test]
async fn streams_ask_for_usage_and_collect() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    let r = p
        .chat_collected(ChatRequest::user("stream me please"))
        .await
        .unwrap();
    assert_eq!(r.content, "stream me please");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert!(
        r.usage.output_tokens.is_some(),
        "usage chunk was requested and decoded"
    );
    let body = server.last_request().unwrap().json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(
        server.last_request().unwrap().header("accept"),
        Some("text/event-stream")
    );
}

#[tokio::test]
async fn tool_calls_round_trip_including_parallel_streamed_fragments() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    let tool = ToolSpec::new(
        "weather",
        "weather by city",
        serde_json::json!({"type": "object"}),
    );
    let req = || {
        ChatRequest::builder()
            .user("weather?")
            .tool(tool.clone())
            .build()
            .unwrap()
    };

    server.push(openai::tool_calls_completion(
        MODEL,
        &[("call_1", "weather", r#"{"city":"Oslo"}"#)],
    ));
    let r = p.chat(req()).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        r.tool_calls,
        vec![ToolCall::new("call_1", "weather", r#"{"city":"Oslo"}"#)]
    );
    assert_eq!(
        server.last_request().unwrap().json()["tools"][0]["function"]["name"],
        "weather"
    );

    server.push(openai::tool_call_stream(
        MODEL,
        &[
            ("call_a", "weather", &["{\"ci", "ty\":\"Oslo\"}"]),
            ("call_b", "weather", &["{\"city\":", "\"Rome\"}"]),
        ],
    ));
    let r = p.chat_collected(req()).await.unwrap();
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall::new("call_a", "weather", r#"{"city":"Oslo"}"#),
            ToolCall::new("call_b", "weather", r#"{"city":"Rome"}"#),
        ]
    );
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
}

#[tokio::test]
async fn lenient_decoding_of_compatible_servers() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    // null content, an unknown finish reason, no usage, unknown fields.
    server.push(FakeReply::json(
        200,
        serde_json::json!({"choices": [{"message": {"role": "assistant", "content": null}, "finish_reason": "eos"}],
            "x_vendor": {"gpu": "a100"}}),
    ));
    let r = p.chat(ChatRequest::user("x")).await.unwrap();
    assert_eq!(r.content, "");
    assert_eq!(r.finish_reason, FinishReason::Other("eos".into()));
    assert_eq!(r.usage.input_tokens, None);
    // A stream re-split into 7-byte HTTP chunks, with keep-alive comments, decodes the same.
    server.push(
        openai::chat_stream(MODEL, &["Grüße, ", "wörld"], true)
            .with_comments("keep-alive")
            .rechunked(7),
    );
    assert_eq!(p.complete_streamed("x").await, "Grüße, wörld");
}

trait CompleteStreamed {
    async fn complete_streamed(&self, text: &str) -> String;
}

impl CompleteStreamed for OpenAi {
    async fn complete_streamed(&self, text: &str) -> String {
        self.chat_collected(ChatRequest::user(text))
            .await
            .unwrap()
            .content
    }
}

#[tokio::test]
async fn embeddings_are_batched_and_kept_in_order() {
    let server = FakeServer::start().await.unwrap();
    let p = OpenAi::new(
        OpenAiConfig::builder()
            .model(MODEL)
            .embedding_model("text-embedding-3-small")
            .api_key(KEY)
            .base_url(server.openai_base_url())
            .embedding_batch_size(2)
            .build()
            .unwrap(),
    )
    .unwrap();
    let inputs: Vec<String> = (0..5).map(|i| format!("text number {i}")).collect();
    let r = p
        .embed(EmbedRequest::new(inputs.clone()).with_dimensions(4))
        .await
        .unwrap();
    assert_eq!(r.embeddings.len(), 5);
    assert!(r.embeddings.iter().all(|v| v.len() == 4));
    assert_eq!(r.model, "text-embedding-3-small");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3, "5 inputs in batches of 2");
    assert_eq!(
        reqs[2].json()["input"],
        serde_json::json!(["text number 4"])
    );
    assert_eq!(reqs[0].json()["encoding_format"], "float");
    // Same text, same vector: the order survived batching.
    let single = p
        .embed(EmbedRequest::new(["text number 3"]).with_dimensions(4))
        .await
        .unwrap();
    assert_eq!(single.embeddings[0], r.embeddings[3]);
    // A server that returns too few vectors is a decode error, not a silent short list.
    server.push(openai::embeddings("m", &[vec![1.0]]));
    let err = p.embed(EmbedRequest::new(["a", "b"])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn azure_uses_the_deployment_url_api_key_header_and_api_version() {
    let server = FakeServer::start().await.unwrap();
    let p = OpenAi::new(
        OpenAiConfig::builder()
            .model("gpt-4o-2024-08-06")
            .base_url(format!("{}/openai/deployments/my-gpt4o", server.url()))
            .api_key("azure-secret-key")
            .azure("2024-10-21")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(p.name(), "azure.ai.openai");
    assert_eq!(p.complete("hello azure").await.unwrap(), "hello azure");
    let req = server.last_request().unwrap();
    assert_eq!(
        req.path,
        "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(req.header("api-key"), Some("azure-secret-key"));
    assert_eq!(req.header("authorization"), None);
    p.health_check().await.unwrap();
    assert_eq!(
        server.last_request().unwrap().path,
        "/openai/models?api-version=2024-10-21"
    );
}

#[tokio::test]
async fn local_servers_get_no_authorization_header() {
    let server = FakeServer::start().await.unwrap();
    let p = OpenAi::new(
        OpenAiConfig::builder()
            .model("llama3.2:3b")
            .base_url(server.openai_base_url())
            .provider_name("ollama")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(p.complete("hi").await.unwrap(), "hi");
    assert_eq!(server.last_request().unwrap().header("authorization"), None);
}

#[tokio::test]
async fn http_errors_map_to_kinds_with_retry_after_and_request_id() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    let cases: Vec<(FakeReply, ErrorKind)> = vec![
        (openai::rate_limited(2), ErrorKind::RateLimited),
        (openai::insufficient_quota(), ErrorKind::QuotaExhausted),
        (
            openai::context_length_exceeded(),
            ErrorKind::ContextLengthExceeded,
        ),
        (openai::content_filtered(), ErrorKind::ContentFiltered),
        (openai::invalid_api_key(), ErrorKind::Auth),
        (
            openai::error(403, "invalid_request_error", None, "forbidden"),
            ErrorKind::Auth,
        ),
        (
            openai::error(400, "invalid_request_error", None, "bad"),
            ErrorKind::InvalidRequest,
        ),
        (
            openai::error(404, "invalid_request_error", Some("model_not_found"), "no"),
            ErrorKind::NotFound,
        ),
        (openai::server_error(), ErrorKind::Server),
        (FakeReply::html_error_page(502), ErrorKind::Server),
        (FakeReply::html_error_page(503), ErrorKind::Overloaded),
        (
            openai::error(529, "overloaded", None, "busy"),
            ErrorKind::Overloaded,
        ),
    ];
    for (reply, kind) in cases {
        server.push(reply.clone());
        let err = p.chat(ChatRequest::user("x")).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.provider(), Some("openai"));
        assert!(err.status().is_some());
        assert!(
            err.request_id().is_some(),
            "request id kept on errors: {err:?}"
        );
        // The same reply on a stream request fails the same way before any event.
        server.push(reply);
        let err = p.chat_stream(ChatRequest::user("x")).await.err().unwrap();
        assert_eq!(err.kind(), kind, "stream: {err}");
    }
    server.push(openai::rate_limited(2));
    let err = p.chat(ChatRequest::user("x")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(err.status(), Some(429));
}

#[tokio::test]
async fn the_api_key_never_appears_in_errors() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    server.push(openai::error(
        401,
        "invalid_request_error",
        Some("invalid_api_key"),
        &format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com."),
    ));
    let err = p.chat(ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{:?}", p.config()),
        format!("{p:?}"),
    ] {
        assert!(!text.contains("abcdefghijklmnop"), "key leaked: {text}");
    }
}

#[tokio::test]
async fn transport_faults_end_in_typed_errors_within_the_timeout() {
    let server = FakeServer::start().await.unwrap();
    let timeout = Duration::from_millis(300);
    let p = provider_with(
        &server,
        HttpOptions::default()
            .request_timeout(timeout)
            .read_timeout(timeout)
            .max_body_bytes(64 * 1024),
    );
    let cases: Vec<(FakeReply, ErrorKind)> = vec![
        (FakeReply::Fault(Fault::Hang), ErrorKind::Timeout),
        (
            FakeReply::Fault(Fault::ResetMidBody {
                status: 200,
                partial: b"{\"choices\":[{\"mess".to_vec(),
                claimed_len: 4096,
            }),
            ErrorKind::Transport,
        ),
        (FakeReply::malformed_json(), ErrorKind::Decode),
        (
            FakeReply::Fault(Fault::Oversized { bytes: 1024 * 1024 }),
            ErrorKind::Decode,
        ),
        (
            FakeReply::Fault(Fault::SlowDrip {
                status: 200,
                body: serde_json::to_vec(
                    &serde_json::json!({"choices": [{"message": {"content": "slow"}}]}),
                )
                .unwrap(),
                chunk: 4,
                interval: Duration::from_millis(200),
            }),
            ErrorKind::Timeout,
        ),
    ];
    for (reply, kind) in cases {
        server.push(reply);
        let started = Instant::now();
        let err = p.chat(ChatRequest::user("x")).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(
            started.elapsed() < timeout + Duration::from_secs(2),
            "{kind}: took {:?}",
            started.elapsed()
        );
    }
    // A slow drip that fits in the deadline is just slow.
    server.push(FakeReply::Fault(Fault::SlowDrip {
        status: 200,
        body: serde_json::to_vec(
            &serde_json::json!({"choices": [{"message": {"content": "slow"}}]}),
        )
        .unwrap(),
        chunk: 16,
        interval: Duration::from_millis(10),
    }));
    assert_eq!(p.complete("x").await.unwrap(), "slow");
}

#[tokio::test]
async fn stream_faults_are_error_items_never_a_clean_end() {
    let server = FakeServer::start().await.unwrap();
    let p = provider_with(
        &server,
        HttpOptions::default()
            .request_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_millis(300))
            .max_event_bytes(1024),
    );
    let long_piece = "x".repeat(4096);
    let cases: Vec<(FakeReply, ErrorKind)> = vec![
        // Body ends cleanly but without [DONE].
        (
            openai::chat_stream(MODEL, &["a", "b"], true)
                .truncated(2)
                .with_end(StreamEnd::Clean),
            ErrorKind::Decode,
        ),
        // The connection drops mid-stream.
        (
            openai::chat_stream(MODEL, &["a", "b"], true).truncated(2),
            ErrorKind::Transport,
        ),
        // An error object inside the stream.
        (openai::stream_error_in_stream(MODEL), ErrorKind::Server),
        // The server goes silent mid-stream.
        (
            openai::chat_stream(MODEL, &["a", "b"], true)
                .truncated(2)
                .with_end(StreamEnd::Hang),
            ErrorKind::Timeout,
        ),
        // One event larger than max_event_bytes.
        (
            openai::chat_stream(MODEL, &[&long_piece], true),
            ErrorKind::Decode,
        ),
    ];
    for (reply, kind) in cases {
        server.push(reply);
        let mut stream = p.chat_stream(ChatRequest::user("x")).await.unwrap();
        let mut last = None;
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                last = Some(e);
                break;
            }
        }
        let err = last.unwrap_or_else(|| panic!("{kind}: the stream ended cleanly"));
        assert_eq!(err.kind(), kind, "{err}");
        assert!(stream.next().await.is_none(), "nothing after the error");
    }
}

#[tokio::test]
async fn dropping_a_stream_cancels_the_request() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    server.push(
        openai::chat_stream(MODEL, &["one ", "two ", "three ", "four"], true)
            .with_chunk_delay(Duration::from_millis(100)),
    );
    let mut stream = p.chat_stream(ChatRequest::user("x")).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(
        first,
        StreamEvent::Start { .. } | StreamEvent::TextDelta { .. }
    ));
    drop(stream);
    tokio::time::timeout(Duration::from_secs(5), server.wait_for_disconnects(1))
        .await
        .unwrap();
    assert_eq!(server.disconnects(), 1);
}

#[tokio::test]
async fn invalid_requests_never_reach_the_server() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    let err = p
        .chat(ChatRequest::from_messages(vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_stream_request_answered_with_json_is_not_a_silent_decode_error() {
    let server = FakeServer::start().await.unwrap();
    let p = provider(&server);
    // A proxy that ignored `stream: true` and sent an error object with status 200.
    server.push(FakeReply::json(
        200,
        serde_json::json!({"error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "quota"}}),
    ));
    let err = p.chat_stream(ChatRequest::user("x")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted, "{err}");
    // A whole answer instead of a stream is a decode error that says so.
    server.push(openai::chat_completion(MODEL, "not streamed"));
    let err = p.chat_stream(ChatRequest::user("x")).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(
        err.message().contains("instead of an event stream"),
        "{err}"
    );
}

#[tokio::test]
async fn debug_output_hides_gateway_credentials() {
    let server = FakeServer::start().await.unwrap();
    let p = OpenAi::new(
        OpenAiConfig::builder()
            .model(MODEL)
            .base_url(server.openai_base_url())
            .api_key(KEY)
            .header("Helicone-Auth", "Bearer sk-helicone-very-secret")
            .build()
            .unwrap(),
    )
    .unwrap();
    let text = format!("{p:?}");
    assert!(
        !text.contains("very-secret") && !text.contains("abcdefghijklmnop"),
        "{text}"
    );
    assert_eq!(p.complete("still works").await.unwrap(), "still works");
    assert_eq!(
        server.last_request().unwrap().header("helicone-auth"),
        Some("Bearer sk-helicone-very-secret")
    );
}
