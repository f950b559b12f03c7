//! What the wrappers cost: a bare `Scripted` provider against the full recommended stack around the same
//! provider, in the same run.
//!
//! Run: `cargo bench --bench stack_overhead`. The stack is drain → metrics (a `DebuggingRecorder` is
//! installed) → logging (a tracing registry is installed; a second figure adds `fmt`) → cache (every call a miss that is then
//! written) → cost (prices known) → fallback (primary answers) → context check (the model is in the
//! catalog) → rate limit (limits high enough never to wait) → retry →
//! circuit breaker → timeout → `Scripted`. Both sides build the same request per call, so the difference is
//! the wrappers' own cost.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use twelve_factor_ai::layer::cache::CacheConfig;
use twelve_factor_ai::layer::circuit::CircuitConfig;
use twelve_factor_ai::layer::fallback::FallbackConfig;
use twelve_factor_ai::layer::logging::LoggingConfig;
use twelve_factor_ai::layer::metrics::MetricsConfig;
use twelve_factor_ai::layer::preflight::ContextCheckConfig;
use twelve_factor_ai::layer::rate_limit::RateLimitConfig;
use twelve_factor_ai::layer::retry::RetryConfig;
use twelve_factor_ai::layer::timeout::TimeoutConfig;
use twelve_factor_ai::layer::{LayerExt, LlmStackExt};
use twelve_factor_ai::llm::catalog::{Catalog, ModelInfo, ModelKind};
use twelve_factor_ai::llm::{
    ChatRequest, LlmProvider, LlmProviderExt, ModelPrice, PriceTable, Scripted,
};

fn scripted(model: &str) -> Scripted {
    Scripted::new(model).echo_when_empty()
}

fn full_stack() -> Arc<dyn LlmProvider> {
    let per_provider = |p: Scripted| -> Arc<dyn LlmProvider> {
        p.with_timeout(TimeoutConfig::default())
            .with_circuit_breaker(CircuitConfig::default())
            .with_retry(RetryConfig::default())
            .with_rate_limit(
                RateLimitConfig::builder()
                    .requests_per_minute(u32::MAX)
                    .tokens_per_minute(u32::MAX)
                    .build()
                    .expect("rate limit config"),
            )
            .with_context_check(context_check())
            .boxed()
    };
    let (stack, _drain) = per_provider(scripted("primary-2024-01-01"))
        .with_fallback(
            [per_provider(scripted("backup-2024-01-01"))],
            FallbackConfig::default(),
        )
        .with_prices(prices())
        .with_cache(CacheConfig::default())
        .with_logging(LoggingConfig::default())
        .with_metrics(MetricsConfig::default())
        .with_drain();
    Arc::new(stack)
}

/// A catalog that knows both scripted models, so the context check estimates every request.
fn context_check() -> ContextCheckConfig {
    let mut catalog = Catalog::new();
    for model in ["primary-2024-01-01", "backup-2024-01-01"] {
        catalog.insert(
            ModelInfo::new("scripted", model, ModelKind::Chat).with_context_window(128_000),
        );
    }
    ContextCheckConfig::new().catalog(catalog)
}

fn prices() -> PriceTable {
    PriceTable::new()
        .with_price("primary-2024-01-01", ModelPrice::new(2.5, 10.0))
        .with_price("backup-2024-01-01", ModelPrice::new(3.0, 15.0))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh deterministic request per call: the cache looks it up, misses, and stores the answer.
fn request() -> ChatRequest {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    ChatRequest::builder()
        .system("You are a benchmark.")
        .user(format!("question number {n}"))
        .temperature(0.0)
        .max_tokens(64)
        .build()
        .expect("request")
}

/// Mean nanoseconds per call of bare and stack, over interleaved rounds (both see the same noise).
fn interleaved(
    rt: &tokio::runtime::Runtime,
    bare: &Arc<dyn LlmProvider>,
    stack: &Arc<dyn LlmProvider>,
) -> (f64, f64) {
    let rounds: u32 = if cfg!(debug_assertions) { 200 } else { 50_000 };
    let (mut t_bare, mut t_stack) = (Duration::ZERO, Duration::ZERO);
    rt.block_on(async {
        for _ in 0..rounds {
            let t = Instant::now();
            black_box(bare.chat(request()).await.expect("bare"));
            t_bare += t.elapsed();
            let t = Instant::now();
            black_box(stack.chat(request()).await.expect("stack"));
            t_stack += t.elapsed();
        }
    });
    (
        t_bare.as_nanos() as f64 / f64::from(rounds),
        t_stack.as_nanos() as f64 / f64::from(rounds),
    )
}

fn report(what: &str, (b, s): (f64, f64)) {
    println!(
        "{what}: bare Scripted {b:.0} ns/call, full stack {s:.0} ns/call, added {:.0} ns ({:.2}x)",
        s - b,
        s / b
    );
}

/// Each wrapper alone around the same provider, so the cost of the stack can be traced to its layers.
fn per_layer_report(rt: &tokio::runtime::Runtime) {
    let rate_limit = || {
        RateLimitConfig::builder()
            .requests_per_minute(u32::MAX)
            .tokens_per_minute(u32::MAX)
            .build()
            .expect("rate limit config")
    };
    let s = || scripted("primary-2024-01-01");
    let layers: Vec<(&str, Arc<dyn LlmProvider>)> = vec![
        (
            "timeout",
            s().with_timeout(TimeoutConfig::default()).boxed(),
        ),
        (
            "circuit breaker",
            s().with_circuit_breaker(CircuitConfig::default()).boxed(),
        ),
        ("retry", s().with_retry(RetryConfig::default()).boxed()),
        ("rate limit", s().with_rate_limit(rate_limit()).boxed()),
        (
            "fallback (2 providers)",
            s().with_fallback([s().boxed()], FallbackConfig::default())
                .boxed(),
        ),
        ("cost", s().with_prices(prices()).boxed()),
        (
            "context check",
            s().with_context_check(context_check()).boxed(),
        ),
        (
            "cache (miss + write)",
            s().with_cache(CacheConfig::default()).boxed(),
        ),
        (
            "logging",
            s().with_logging(LoggingConfig::default()).boxed(),
        ),
        (
            "metrics",
            s().with_metrics(MetricsConfig::default()).boxed(),
        ),
        ("drain", s().with_drain().0.boxed()),
    ];
    let bare = s().boxed();
    for (name, layer) in &layers {
        let (b, l) = interleaved(rt, &bare, layer);
        println!("  {name:24} adds {:>6.0} ns/call", l - b);
    }
}

fn overhead(c: &mut Criterion) {
    // The host's observability is installed, as in production: a metrics recorder, and a tracing
    // subscriber that keeps spans and events (a registry) but formats nothing, so what is measured is the
    // crate's own cost. A second figure adds a `fmt` subscriber writing to a sink: formatting ~25 fields
    // per event is the subscriber's cost, paid by any library that logs that much.
    metrics::set_global_recorder(metrics_util::debugging::DebuggingRecorder::new())
        .expect("recorder");
    tracing::subscriber::set_global_default(tracing_subscriber::registry()).expect("subscriber");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bare: Arc<dyn LlmProvider> = scripted("primary-2024-01-01").boxed();
    let stack = full_stack();

    report(
        "registry subscriber, DebuggingRecorder",
        interleaved(&rt, &bare, &stack),
    );
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let with_fmt = tracing::subscriber::with_default(fmt, || interleaved(&rt, &bare, &stack));
    report("fmt subscriber (to a sink), DebuggingRecorder", with_fmt);
    println!("each wrapper alone (registry subscriber, DebuggingRecorder):");
    per_layer_report(&rt);

    let mut g = c.benchmark_group("stack_overhead");
    g.bench_function("bare_scripted", |bch| {
        bch.iter(|| rt.block_on(bare.chat(request())).expect("bare"))
    });
    g.bench_function("full_stack", |bch| {
        bch.iter(|| rt.block_on(stack.chat(request())).expect("stack"))
    });
    g.bench_function("full_stack_stream", |bch| {
        bch.iter(|| {
            rt.block_on(stack.chat_collected(request()))
                .expect("stream")
        })
    });
    g.bench_function("bare_scripted_stream", |bch| {
        bch.iter(|| rt.block_on(bare.chat_collected(request())).expect("stream"))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = overhead
}
criterion_main!(benches);
