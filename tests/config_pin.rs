//! The pin check over real model ids of OpenAI, Anthropic (direct, Vertex AI, Bedrock), Google, Mistral,
//! Cohere, xAI, DeepSeek, Ollama, Hugging Face / vLLM and Azure: which name one fixed model, which are
//! aliases that move, and which cannot tell.

use twelve_factor_ai::config::{Pinning, check_pinned};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Pinned,
    Floating,
    Unknown,
}
use Want::*;

const DIGEST: &str =
    "llama3@sha256:6a0746a1ec1aef3e7ec53868f220ff6e389f6f8ef87a01d77c96807de94ca2aa";
const COMMIT: &str = "meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659";

/// (provider, model id, verdict)
const TABLE: &[(&str, &str, Want)] = &[
    // OpenAI: dated snapshots and the old -MMDD suffixes are pinned; the family names are aliases.
    ("openai", "gpt-4o-2024-08-06", Pinned),
    ("openai", "gpt-4o-2024-05-13", Pinned),
    ("openai", "gpt-4o-mini-2024-07-18", Pinned),
    ("openai", "gpt-4-turbo-2024-04-09", Pinned),
    ("openai", "gpt-4.1-2025-04-14", Pinned),
    ("openai", "gpt-5-2025-08-07", Pinned),
    ("openai", "o1-2024-12-17", Pinned),
    ("openai", "o3-mini-2025-01-31", Pinned),
    ("openai", "gpt-4o-audio-preview-2024-10-01", Pinned),
    ("openai", "gpt-4-0613", Pinned),
    ("openai", "gpt-4-0314", Pinned),
    ("openai", "gpt-4-32k-0613", Pinned),
    ("openai", "gpt-4-0125-preview", Pinned),
    ("openai", "gpt-4-1106-preview", Pinned),
    ("openai", "gpt-4-1106-vision-preview", Pinned),
    ("openai", "gpt-3.5-turbo-0125", Pinned),
    ("openai", "gpt-3.5-turbo-1106", Pinned),
    ("openai", "gpt-3.5-turbo-16k-0613", Pinned),
    ("openai", "GPT-4o-2024-08-06", Pinned),
    ("openai", "ft:gpt-4o-2024-08-06:acme::9aBcDeF", Pinned),
    ("openai", "text-embedding-3-small", Pinned),
    ("openai", "text-embedding-3-large", Pinned),
    ("openai", "text-embedding-ada-002", Pinned),
    ("openai", "gpt-4o", Floating),
    ("openai", "gpt-4", Floating),
    ("openai", "gpt-4o-mini", Floating),
    ("openai", "gpt-4-turbo", Floating),
    ("openai", "gpt-4-turbo-preview", Floating),
    ("openai", "gpt-4o-realtime-preview", Floating),
    ("openai", "gpt-3.5-turbo", Floating),
    ("openai", "gpt-4.1", Floating),
    ("openai", "o1", Floating),
    ("openai", "chatgpt-4o-latest", Floating),
    ("openai", "omni-moderation-latest", Floating),
    // Invalid dates do not pin: month 13, February 30.
    ("openai", "gpt-4o-2024-13-01", Floating),
    ("openai", "gpt-4-0230", Floating),
    // Anthropic: YYYYMMDD snapshots; `-latest` and dateless 4.x names are aliases.
    ("anthropic", "claude-3-opus-20240229", Pinned),
    ("anthropic", "claude-3-haiku-20240307", Pinned),
    ("anthropic", "claude-3-5-sonnet-20240620", Pinned),
    ("anthropic", "claude-3-5-sonnet-20241022", Pinned),
    ("anthropic", "claude-3-5-haiku-20241022", Pinned),
    ("anthropic", "claude-3-7-sonnet-20250219", Pinned),
    ("anthropic", "claude-sonnet-4-20250514", Pinned),
    ("anthropic", "claude-opus-4-1-20250805", Pinned),
    ("anthropic", "claude-sonnet-4-5-20250929", Pinned),
    ("anthropic", "claude-haiku-4-5-20251001", Pinned),
    ("anthropic", "claude-3-7-sonnet-latest", Floating),
    ("anthropic", "claude-3-5-sonnet-latest", Floating),
    ("anthropic", "claude-opus-4-5", Floating),
    ("anthropic", "claude-sonnet-4-0", Floating),
    ("anthropic", "claude-3-opus-20241340", Floating),
    // Anthropic through Vertex AI (`@date`) and Bedrock (`-vN:0`).
    ("openai-compatible", "claude-3-5-sonnet-v2@20241022", Pinned),
    ("openai-compatible", "claude-3-5-sonnet@20240620", Pinned),
    (
        "openai-compatible",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        Pinned,
    ),
    ("openai-compatible", "amazon.titan-embed-text-v2:0", Pinned),
    // Google Gemini: -00N stable versions, dated previews; bare 1.x / 2.0 names are auto-updated aliases.
    ("openai-compatible", "gemini-1.5-pro-002", Pinned),
    ("openai-compatible", "gemini-1.5-flash-001", Pinned),
    ("openai-compatible", "gemini-2.0-flash-001", Pinned),
    ("openai-compatible", "gemini-2.5-pro-preview-05-06", Pinned),
    ("openai-compatible", "gemini-2.5-flash", Pinned),
    ("openai-compatible", "gemini-exp-1206", Pinned),
    ("openai-compatible", "text-embedding-004", Pinned),
    ("openai-compatible", "gemini-1.5-pro", Floating),
    ("openai-compatible", "gemini-1.5-pro-latest", Floating),
    ("openai-compatible", "gemini-2.0-flash", Floating),
    ("openai-compatible", "gemini-2.0-flash-exp", Floating),
    // Mistral: -YYMM versions; -latest and bare names float.
    ("openai-compatible", "mistral-large-2411", Pinned),
    ("openai-compatible", "mistral-small-2501", Pinned),
    ("openai-compatible", "codestral-2405", Pinned),
    ("openai-compatible", "open-mistral-nemo-2407", Pinned),
    ("openai-compatible", "mistral-large-latest", Floating),
    ("openai-compatible", "mistral-large", Floating),
    // Cohere, xAI, DeepSeek.
    ("openai-compatible", "command-r-08-2024", Pinned),
    ("openai-compatible", "command-r-plus-08-2024", Pinned),
    ("openai-compatible", "command-r", Floating),
    ("openai-compatible", "grok-2-1212", Pinned),
    ("openai-compatible", "deepseek-chat", Floating),
    // Vendor ids behind a routing prefix are judged as vendor ids.
    ("openai-compatible", "openai/gpt-4o", Floating),
    ("openai-compatible", "openai/gpt-4o-2024-08-06", Pinned),
    ("openai-compatible", "anthropic/claude-3.5-sonnet", Floating),
    // Ollama: a tag with the quantization (or a version, or a digest) pins; bare names and size tags float.
    ("ollama", "llama3", Floating),
    ("ollama", "llama3:latest", Floating),
    ("ollama", "llama3:8b", Floating),
    ("ollama", "llama3:70b", Floating),
    ("ollama", "llama3:instruct", Floating),
    ("ollama", "qwen2.5:7b", Floating),
    ("ollama", "deepseek-r1:7b", Floating),
    ("ollama", "llama3.1:8b-instruct-q4_0", Pinned),
    ("ollama", "llama3.2:3b-instruct-q4_K_M", Pinned),
    ("ollama", "mistral:7b-instruct-v0.3-q4_K_M", Pinned),
    ("ollama", "gemma2:9b-instruct-fp16", Pinned),
    ("ollama", "qwen2.5-coder:7b-instruct-q5_K_M", Pinned),
    ("ollama", "nomic-embed-text:v1.5", Pinned),
    (
        "ollama",
        "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        Pinned,
    ),
    ("ollama", DIGEST, Pinned),
    ("ollama", "llama3@sha256:6a0746a1", Floating),
    // An Ollama model reached through the OpenAI provider follows the same tag rules.
    ("openai", "llama3:8b", Floating),
    ("openai", "llama3", Floating),
    // Hugging Face repos (vLLM): a version in the repo name pins; a size alone does not.
    ("vllm", "meta-llama/Llama-3.1-8B-Instruct", Pinned),
    ("vllm", "meta-llama/Meta-Llama-3-8B-Instruct", Pinned),
    ("vllm", "mistralai/Mistral-7B-Instruct-v0.3", Pinned),
    ("vllm", "mistralai/Mixtral-8x7B-Instruct-v0.1", Pinned),
    ("vllm", "Qwen/Qwen2.5-7B-Instruct", Pinned),
    ("vllm", "BAAI/bge-large-en-v1.5", Pinned),
    ("vllm", "BAAI/bge-large-en", Floating),
    ("vllm", COMMIT, Pinned),
    // vLLM served-model names and Azure deployment names cannot tell.
    ("vllm", "my-model", Unknown),
    ("azure", "my-gpt4o-deployment", Unknown),
    ("azure", "gpt-4o", Unknown),
    ("azure", "gpt-4o-2024-08-06", Pinned),
    ("azure", "gpt-4o-latest", Floating),
    // Nothing to judge.
    ("openai", "", Floating),
    ("openai", "   ", Floating),
];

#[test]
fn table_of_real_model_ids() {
    assert!(TABLE.len() >= 40, "at least 40 ids");
    let mut wrong = Vec::new();
    for &(provider, model, want) in TABLE {
        let got = check_pinned(provider, model);
        let kind = match &got {
            Pinning::Pinned => Pinned,
            Pinning::Floating { .. } => Floating,
            Pinning::Unknown { .. } => Unknown,
            other => panic!("unexpected verdict {other:?}"),
        };
        if kind != want {
            wrong.push(format!("{provider} {model:?}: want {want:?}, got {got}"));
        }
        // Every verdict but Pinned says why.
        assert_eq!(got.reason().is_some(), kind != Pinned, "{model}");
        assert_eq!(got.is_pinned(), kind == Pinned);
        assert_eq!(got.is_floating(), kind == Floating);
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn reasons_say_what_to_pin_instead() {
    let cases = [
        (
            "openai",
            "gpt-4o",
            "`gpt-4o` is an alias that moves to new snapshots; pin `gpt-4o-2024-08-06`",
        ),
        (
            "anthropic",
            "claude-3-7-sonnet-latest",
            "`claude-3-7-sonnet-latest` is a `latest` alias that moves with every release; pin `claude-3-7-sonnet-20250219`",
        ),
        (
            "anthropic",
            "claude-opus-4-5",
            "`claude-opus-4-5` is an alias that moves to new snapshots; pin `claude-opus-4-5-20251101`",
        ),
        (
            "openai-compatible",
            "mistral-large-latest",
            "`mistral-large-latest` is a `latest` alias that moves with every release; pin `mistral-large-2411`",
        ),
        (
            "openai-compatible",
            "gemini-1.5-pro",
            "`gemini-1.5-pro` is an alias that moves to new snapshots; pin `gemini-1.5-pro-002`",
        ),
    ];
    for (provider, model, want) in cases {
        assert_eq!(
            check_pinned(provider, model).reason(),
            Some(want),
            "{model}"
        );
    }
    let ollama = check_pinned("ollama", "llama3").to_string();
    assert!(ollama.contains("`llama3:latest`"), "{ollama}");
    let size = check_pinned("ollama", "llama3:8b").to_string();
    assert!(
        size.contains("size") && size.contains("quantization"),
        "{size}"
    );
    let azure = check_pinned("azure", "prod-gpt").to_string();
    assert!(
        azure.starts_with("unknown:") && azure.contains("upgrade policy"),
        "{azure}"
    );
    let generic = check_pinned("openai-compatible", "deepseek-chat").to_string();
    assert!(generic.contains("dated snapshot"), "{generic}");
    let preview = check_pinned("openai", "gpt-4o-realtime-preview").to_string();
    assert!(
        preview.contains("preview alias without a date"),
        "{preview}"
    );
}
