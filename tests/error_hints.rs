//! Error hints: a provider 400 that refuses a request parameter becomes an `InvalidRequest` whose message
//! names the parameter, the model and the model-catalog setting that fixes it. Through the real providers
//! and real HTTP on loopback, with the exact error bodies the APIs send.
#![cfg(all(feature = "openai", feature = "anthropic"))]

use futures_util::StreamExt;
use serde_json::json;
use twelve_factor_ai::llm::{
    Anthropic, AnthropicConfig, ChatRequest, HttpOptions, LlmProvider, OpenAi, OpenAiConfig,
};
use twelve_factor_ai::testing::fake::{FakeReply, FakeServer, anthropic, openai};
use twelve_factor_ai::{Error, ErrorKind};

const OPENAI_KEY: &str = "sk-test-hints-abcdefghijklmnopqrstuvwxyz";
const ANTHROPIC_KEY: &str = "sk-ant-api03-hints-do-not-leak-0123456789";

const MAX_TOKENS_BODY: &str = r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#;
const TEMPERATURE_VALUE_BODY: &str = r#"{"error":{"message":"Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}"#;

fn openai_provider(server: &FakeServer, model: &str, name: &str) -> OpenAi {
    OpenAi::new(
        OpenAiConfig::builder()
            .model(model)
            .api_key(OPENAI_KEY)
            .base_url(server.openai_base_url())
            .provider_name(name)
            .http(HttpOptions::default())
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn anthropic_provider(server: &FakeServer, model: &str) -> Anthropic {
    Anthropic::new(
        AnthropicConfig::builder()
            .model(model)
            .api_key(ANTHROPIC_KEY)
            .base_url(server.anthropic_base_url())
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// The request of the issue: temperature 0.2 and 500 output tokens.
fn request() -> ChatRequest {
    let mut req = ChatRequest::user("Say hello.");
    req.temperature = Some(0.2);
    req.max_tokens = Some(500);
    req
}

fn reply(body: &str) -> FakeReply {
    FakeReply::json(400, serde_json::from_str(body).unwrap())
}

/// The error of a chat call, then of a stream call, both answered with `reply`.
async fn both_errors(p: &dyn LlmProvider, server: &FakeServer, reply: FakeReply) -> [Error; 2] {
    server.push(reply.clone());
    let chat = p.chat(request()).await.unwrap_err();
    server.push(reply);
    let stream = match p.chat_stream(request()).await {
        Err(e) => e,
        Ok(mut s) => {
            // Every error must come before the stream starts; a stream is never opened on a 400.
            let first = s.next().await;
            panic!("the stream opened on a 400: {first:?}");
        }
    };
    [chat, stream]
}

fn assert_clean(err: &Error) {
    let shown = format!("{err} {err:?}");
    for secret in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(!shown.contains(secret), "the key leaked: {shown}");
    }
}

#[tokio::test]
async fn openai_max_tokens_names_the_output_tokens_setting() {
    let server = FakeServer::start().await.unwrap();
    let p = openai_provider(&server, "o3-2025-04-16", "openai");
    for err in both_errors(&p, &server, reply(MAX_TOKENS_BODY)).await {
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.status(), Some(400));
        assert_eq!(err.provider(), Some("openai"));
        assert!(!err.is_retryable() && !err.should_fallback());
        let m = err.message();
        assert!(
            m.starts_with(
                "openai rejected `max_tokens` for model `o3-2025-04-16`: the model wants \
                 `max_completion_tokens`; add the model to the model catalog under provider `openai` \
                 with `output_tokens_param = \"max_completion_tokens\"`"
            ),
            "{m}"
        );
        // The provider's own words are kept after the hint.
        assert!(
            m.contains("unsupported_parameter: Unsupported parameter: 'max_tokens'"),
            "{m}"
        );
        assert_clean(&err);
    }
}

#[tokio::test]
async fn openai_temperature_value_names_the_sampling_setting() {
    let server = FakeServer::start().await.unwrap();
    let p = openai_provider(&server, "gpt-5-2025-08-07", "openai");
    for err in both_errors(&p, &server, reply(TEMPERATURE_VALUE_BODY)).await {
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let m = err.message();
        assert!(
            m.starts_with(
                "openai rejected `temperature` for model `gpt-5-2025-08-07`: the model accepts only \
                 the default value; add the model to the model catalog under provider `openai` with \
                 `sampling = \"default_only\"`"
            ),
            "{m}"
        );
        assert_clean(&err);
    }
}

#[tokio::test]
async fn a_request_override_is_the_model_named() {
    let server = FakeServer::start().await.unwrap();
    let p = openai_provider(&server, "gpt-4o-2024-08-06", "openai");
    server.push(reply(MAX_TOKENS_BODY));
    let mut req = request();
    req.model = Some("o4-mini-2025-04-16".into());
    let err = p.chat(req).await.unwrap_err();
    assert!(
        err.message().contains("for model `o4-mini-2025-04-16`"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_compatible_server_gets_the_hint_under_its_own_name() {
    let server = FakeServer::start().await.unwrap();
    let p = openai_provider(&server, "qwen3-32b", "vllm");
    // An older server that refuses the newer parameter, echoing the key it was sent (it must not leak).
    let body = json!({"error": {
        "message": format!("Unsupported parameter: 'max_completion_tokens' (key {OPENAI_KEY})"),
        "type": "BadRequestError", "param": null, "code": 400
    }});
    let [chat, stream] = both_errors(&p, &server, FakeReply::json(400, body)).await;
    for err in [chat, stream] {
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.provider(), Some("vllm"));
        let m = err.message();
        assert!(
            m.starts_with(
                "vllm rejected `max_completion_tokens` for model `qwen3-32b`: the model wants \
                 `max_tokens`; add the model to the model catalog under provider `vllm` with \
                 `output_tokens_param = \"max_tokens\"`"
            ),
            "{m}"
        );
        assert!(m.contains("[REDACTED]"), "{m}");
        assert_clean(&err);
    }
}

#[tokio::test]
async fn anthropic_deprecated_temperature_names_the_sampling_setting() {
    let server = FakeServer::start().await.unwrap();
    let p = anthropic_provider(&server, "claude-opus-4-7");
    let deprecated = anthropic::error(
        400,
        "invalid_request_error",
        "`temperature` is deprecated for this model.",
    );
    for err in both_errors(&p, &server, deprecated).await {
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.status(), Some(400));
        assert_eq!(err.provider(), Some("anthropic"));
        assert!(err.request_id().is_some(), "the request id is kept");
        let m = err.message();
        assert!(
            m.starts_with(
                "anthropic rejected `temperature` for model `claude-opus-4-7`: the model takes no \
                 sampling parameters, not even at their defaults; add the model to the model catalog \
                 under provider `anthropic` with `sampling = \"rejected\"`"
            ),
            "{m}"
        );
        assert!(
            m.contains("`temperature` is deprecated for this model."),
            "{m}"
        );
        assert_clean(&err);
    }
}

#[tokio::test]
async fn anthropic_temperature_with_top_p_says_to_send_one() {
    let server = FakeServer::start().await.unwrap();
    let p = anthropic_provider(&server, "claude-sonnet-4-5-20250929");
    server.push(anthropic::error(
        400,
        "invalid_request_error",
        "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
    ));
    let err = p.chat(request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(
        err.message().starts_with(
            "anthropic rejected `temperature` together with `top_p` for model \
             `claude-sonnet-4-5-20250929`: the model takes only one of them"
        ),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn other_errors_keep_their_message_and_kind() {
    let server = FakeServer::start().await.unwrap();
    let p = openai_provider(&server, "gpt-4o-2024-08-06", "openai");
    server.push(openai::error(
        400,
        "invalid_request_error",
        None,
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
    ));
    let err = p.chat(request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(
        err.message(),
        "invalid_request_error: 'messages' must contain the word 'json' in some form, to use \
         'response_format' of type 'json_object'."
    );

    server.push(openai::context_length_exceeded());
    let err = p.chat(request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert!(!err.message().contains("rejected"), "{}", err.message());

    // A 5xx that happens to mention a parameter is a server error, not a hint.
    server.push(FakeReply::json(
        500,
        json!({"error": {"message": "Unsupported parameter: 'max_tokens'", "type": "server_error",
            "param": null, "code": null}}),
    ));
    let err = p.chat(request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(!err.message().contains("rejected"), "{}", err.message());

    let a = anthropic_provider(&server, "claude-sonnet-4-20250514");
    server.push(anthropic::error(
        400,
        "invalid_request_error",
        "max_tokens: Field required",
    ));
    let err = a.chat(request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(
        err.message(),
        "invalid_request_error: max_tokens: Field required"
    );
    assert_clean(&err);
}
