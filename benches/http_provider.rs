//! The `OpenAi` provider against a raw reqwest client on the same local fake server, and the stream
//! decoder's throughput.
//!
//! Run: `cargo bench --bench http_provider`. The floor is a raw `reqwest::Client` posting the same JSON
//! body and parsing the answer with `serde_json` (what a hand-written client would do); the provider
//! adds building and validating the request, typed encoding and decoding, and error mapping.
//! Before criterion runs, the bench prints p50 / p99 latency of both over interleaved sequential calls.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::future::join_all;
use twelve_factor_ai::llm::{ChatRequest, LlmProvider, OpenAi, OpenAiConfig, StreamEvent};
use twelve_factor_ai::testing::decode::{anthropic_stream, openai_stream};
use twelve_factor_ai::testing::fake::FakeServer;

const PROMPT: &str = "Summarize the twelve-factor method for AI services in one sentence, please.";

struct Setup {
    rt: tokio::runtime::Runtime,
    _server: FakeServer,
    url: String,
    raw: reqwest::Client,
    provider: OpenAi,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = rt.block_on(FakeServer::start()).expect("fake server");
    let provider = OpenAi::new(
        OpenAiConfig::builder()
            .model("gpt-4o-mini-2024-07-18")
            .api_key("sk-bench-key-0000")
            .base_url(server.openai_base_url())
            .build()
            .expect("config"),
    )
    .expect("provider");
    Setup {
        url: format!("{}/chat/completions", server.openai_base_url()),
        raw: reqwest::Client::new(),
        provider,
        _server: server,
        rt,
    }
}

/// The floor: the same JSON body a hand-written client would send, parsed into a `serde_json::Value`.
async fn raw_call(client: &reqwest::Client, url: &str) -> String {
    let body = serde_json::json!({
        "model": "gpt-4o-mini-2024-07-18",
        "messages": [{"role": "user", "content": PROMPT}],
    });
    let bytes = client
        .post(url)
        .bearer_auth("sk-bench-key-0000")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("encode"))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn provider_call(provider: &OpenAi) -> String {
    provider
        .chat(ChatRequest::user(PROMPT))
        .await
        .expect("chat")
        .content
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// p50 / p99 of interleaved sequential calls, so both sides see the same machine noise.
fn latency_report(s: &Setup) {
    let n = if cfg!(debug_assertions) { 50 } else { 2000 };
    let mut raw = Vec::with_capacity(n);
    let mut ours = Vec::with_capacity(n);
    s.rt.block_on(async {
        for _ in 0..50 {
            raw_call(&s.raw, &s.url).await;
            provider_call(&s.provider).await;
        }
        for i in 0..n {
            // Alternate which goes first, so neither always follows the other's connection work.
            for first in [i % 2 == 0, i % 2 != 0] {
                let t = Instant::now();
                if first {
                    black_box(raw_call(&s.raw, &s.url).await);
                    raw.push(t.elapsed());
                } else {
                    black_box(provider_call(&s.provider).await);
                    ours.push(t.elapsed());
                }
            }
        }
    });
    raw.sort_unstable();
    ours.sort_unstable();
    for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
        let (r, o) = (percentile(&raw, p), percentile(&ours, p));
        println!(
            "latency {name}: raw reqwest {:>8.1} µs, OpenAi provider {:>8.1} µs, added {:>+7.1} µs",
            r.as_secs_f64() * 1e6,
            o.as_secs_f64() * 1e6,
            (o.as_secs_f64() - r.as_secs_f64()) * 1e6
        );
    }
}

/// Throughput of 32 calls at once, raw and provider rounds interleaved so both see the same noise.
fn throughput_report(s: &Setup) {
    let rounds = if cfg!(debug_assertions) { 5 } else { 200 };
    let (mut raw, mut ours) = (Duration::ZERO, Duration::ZERO);
    s.rt.block_on(async {
        for _ in 0..rounds {
            let t = Instant::now();
            black_box(join_all((0..32).map(|_| raw_call(&s.raw, &s.url))).await);
            raw += t.elapsed();
            let t = Instant::now();
            black_box(join_all((0..32).map(|_| provider_call(&s.provider))).await);
            ours += t.elapsed();
        }
    });
    let calls = f64::from(rounds * 32);
    let (raw_tp, our_tp) = (calls / raw.as_secs_f64(), calls / ours.as_secs_f64());
    println!(
        "32 concurrent: raw reqwest {raw_tp:.0} calls/s, OpenAi provider {our_tp:.0} calls/s, ratio {:.3}",
        our_tp / raw_tp
    );
}

fn http(c: &mut Criterion) {
    let s = setup();
    latency_report(&s);
    throughput_report(&s);

    let mut g = c.benchmark_group("chat_sequential");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_reqwest", |b| {
        b.iter(|| s.rt.block_on(raw_call(&s.raw, &s.url)))
    });
    g.bench_function("openai_provider", |b| {
        b.iter(|| s.rt.block_on(provider_call(&s.provider)))
    });
    g.finish();

    let mut g = c.benchmark_group("chat_32_concurrent");
    g.throughput(Throughput::Elements(32));
    g.bench_function("raw_reqwest", |b| {
        b.iter(|| {
            s.rt.block_on(join_all((0..32).map(|_| raw_call(&s.raw, &s.url))))
        })
    });
    g.bench_function("openai_provider", |b| {
        b.iter(|| {
            s.rt.block_on(join_all((0..32).map(|_| provider_call(&s.provider))))
        })
    });
    g.finish();
}

/// A large synthetic stream: 20,000 content chunks as OpenAI sends them, then usage and [DONE].
fn synthetic_stream() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..20_000 {
        let chunk = serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": {"content": format!("token{i} ")}, "logprobs": null, "finish_reason": null}]
        });
        body.extend_from_slice(b"data: ");
        body.extend_from_slice(&serde_json::to_vec(&chunk).expect("encode"));
        body.extend_from_slice(b"\n\n");
    }
    body.extend_from_slice(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    );
    body.extend_from_slice(b"data: [DONE]\n\n");
    body
}

fn decoder(c: &mut Criterion) {
    let body = synthetic_stream();
    // Network-sized pieces (16 KiB), as reqwest hands them over.
    let pieces: Vec<&[u8]> = body.chunks(16 * 1024).collect();
    let events = openai_stream(&pieces);
    assert!(
        matches!(events.last(), Some(Ok(StreamEvent::Done { .. }))),
        "the synthetic stream decodes"
    );
    let n_events = events.len();
    let t = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        black_box(openai_stream(black_box(&pieces)));
    }
    let per = t.elapsed() / rounds;
    println!(
        "stream decoder: {:.1} MB/s, {:.0} events/s ({} bytes, {} events per run)",
        body.len() as f64 / per.as_secs_f64() / 1e6,
        n_events as f64 / per.as_secs_f64(),
        body.len(),
        n_events
    );
    let mut g = c.benchmark_group("openai_stream_decoder");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode", |b| b.iter(|| openai_stream(black_box(&pieces))));
    g.finish();

    let body = synthetic_anthropic_stream();
    let pieces: Vec<&[u8]> = body.chunks(16 * 1024).collect();
    assert!(
        matches!(
            anthropic_stream(&pieces).last(),
            Some(Ok(StreamEvent::Done { .. }))
        ),
        "the synthetic Anthropic stream decodes"
    );
    let mut g = c.benchmark_group("anthropic_stream_decoder");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| anthropic_stream(black_box(&pieces)))
    });
    g.finish();
}

/// The same 20,000 text pieces as Anthropic streams them.
fn synthetic_anthropic_stream() -> Vec<u8> {
    let mut body = Vec::new();
    let mut event = |name: &str, json: serde_json::Value| {
        body.extend_from_slice(format!("event: {name}\ndata: {json}\n\n").as_bytes());
    };
    event(
        "message_start",
        serde_json::json!({"type": "message_start", "message": {"id": "msg_bench", "type": "message",
        "role": "assistant", "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null,
        "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    );
    event(
        "content_block_start",
        serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    for i in 0..20_000 {
        event(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": format!("token{i} ")}}),
        );
    }
    event(
        "content_block_stop",
        serde_json::json!({"type": "content_block_stop", "index": 0}),
    );
    event(
        "message_delta",
        serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 20000}}),
    );
    event("message_stop", serde_json::json!({"type": "message_stop"}));
    body
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = http, decoder
}
criterion_main!(benches);
