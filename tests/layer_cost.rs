//! Contract tests of the `Cost` wrapper: the same answer costs exactly the same through `chat` and through
//! `chat_stream` + `collect`; unknown models get no cost and one warning; incomplete streams get no cost
//! event; the cost event follows `Done`; logging and metrics see the same cost for both; a cache hit keeps
//! its stored cost; a fallback answer is priced by the model that answered; and the conformance suite.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use twelve_factor_ai::layer::cache::CacheConfig;
use twelve_factor_ai::layer::cost::Cost;
use twelve_factor_ai::layer::fallback::FallbackConfig;
use twelve_factor_ai::layer::logging::LoggingConfig;
use twelve_factor_ai::layer::metrics::MetricsConfig;
use twelve_factor_ai::layer::names::COST_USD;
use twelve_factor_ai::layer::{LayerExt, LlmStackExt};
use twelve_factor_ai::llm::{
    ChatRequest, ChatResponse, Chunk, FinishReason, LlmProvider, LlmProviderExt, ModelPrice,
    PriceTable, Scripted, StreamEvent, Usage, collect,
};
use twelve_factor_ai::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
use twelve_factor_ai::{Error, ErrorKind};

const MODEL: &str = "claude-sonnet-4-5-20250929";

fn prices() -> PriceTable {
    PriceTable::new()
        .with_price(
            MODEL,
            ModelPrice::new(3.0, 15.0)
                .with_cached_input(0.3)
                .with_cache_write(3.75),
        )
        .with_price("backup-model-2024-01-01", ModelPrice::new(1.0, 2.0))
}

/// Anthropic-like usage: 10,000 input tokens (6,000 read from the prompt cache, 2,000 written to it) and
/// 1,000 output tokens.
fn usage() -> Usage {
    Usage {
        input_tokens: Some(10_000),
        cached_input_tokens: Some(6_000),
        cache_creation_input_tokens: Some(2_000),
        output_tokens: Some(1_000),
        reasoning_tokens: None,
    }
}

/// 2,000 × 3 + 6,000 × 0.3 + 2,000 × 3.75 + 1,000 × 15 = 30,300 per million.
const COST: f64 = 0.0303;

fn answer() -> ChatResponse {
    let mut r = ChatResponse::text("scripted", MODEL, "Paris.").with_usage(usage());
    r.model = Some(MODEL.to_owned());
    r
}

/// The same answer as a provider streams it: start, text in pieces, input usage before the text and the
/// output count after done (as Anthropic sends it).
fn answer_chunks() -> Vec<Chunk> {
    vec![
        Chunk::Event(StreamEvent::Start {
            model: Some(MODEL.to_owned()),
            provider_request_id: None,
            cached: false,
        }),
        Chunk::Event(StreamEvent::Usage {
            usage: Usage {
                output_tokens: None,
                ..usage()
            },
        }),
        Chunk::text("Par"),
        Chunk::text("is."),
        Chunk::Event(StreamEvent::Done {
            finish_reason: FinishReason::Stop,
        }),
        Chunk::Event(StreamEvent::Usage {
            usage: Usage {
                output_tokens: Some(1_000),
                ..Usage::default()
            },
        }),
    ]
}

async fn events(stream: twelve_factor_ai::llm::ChatStream) -> Vec<Result<StreamEvent, Error>> {
    stream.collect().await
}

// ---- chat and stream cost the same ----

#[tokio::test]
async fn chat_and_collected_stream_cost_exactly_the_same() {
    let llm = Scripted::new(MODEL).with_prices(prices());
    llm.get_ref().push_response(answer());
    llm.get_ref().push_stream(answer_chunks());
    // Also the default streaming of a whole response (one piece).
    llm.get_ref().push_response(answer());

    let chatted = llm
        .chat(ChatRequest::user("Capital of France?"))
        .await
        .unwrap();
    let streamed = collect(
        llm.chat_stream(ChatRequest::user("Capital of France?"))
            .await
            .unwrap(),
        "scripted",
        MODEL,
    )
    .await
    .unwrap();
    let replayed = llm
        .chat_collected(ChatRequest::user("Capital of France?"))
        .await
        .unwrap();

    assert_eq!(chatted.cost_usd, Some(COST));
    assert_eq!(streamed.cost_usd, chatted.cost_usd);
    assert_eq!(replayed.cost_usd, chatted.cost_usd);
    assert_eq!(streamed.usage, chatted.usage);
    assert_eq!(streamed.content, chatted.content);
}

#[tokio::test]
async fn the_cost_event_comes_once_right_after_done_and_the_collected_answer_has_it() {
    let llm = Scripted::new(MODEL).with_prices(prices());
    llm.get_ref().push_stream(answer_chunks());
    let items = events(llm.chat_stream(ChatRequest::user("q")).await.unwrap()).await;
    let events: Vec<StreamEvent> = items.into_iter().map(Result::unwrap).collect();
    let done = events
        .iter()
        .position(|e| matches!(e, StreamEvent::Done { .. }))
        .unwrap();
    let costs: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, StreamEvent::Cost { .. }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(costs, [events.len() - 1], "one cost event, the last");
    assert!(costs[0] > done);
    assert_eq!(events.last(), Some(&StreamEvent::Cost { cost_usd: COST }));
}

#[tokio::test]
async fn a_request_without_a_reported_model_is_priced_by_the_requested_model() {
    let llm = Scripted::new("pinned-model").with_prices(prices());
    let plain = ChatResponse::text("scripted", MODEL, "x").with_usage(usage());
    llm.get_ref().push_response(plain.clone());
    llm.get_ref().push_response(plain);
    let req = || {
        ChatRequest::builder()
            .user("q")
            .model(MODEL)
            .build()
            .unwrap()
    };
    assert_eq!(llm.chat(req()).await.unwrap().cost_usd, Some(COST));
    assert_eq!(
        llm.chat_collected(req()).await.unwrap().cost_usd,
        Some(COST)
    );
}

// ---- unknown prices and missing data ----

/// An event's fields by name.
type Fields = BTreeMap<String, String>;

/// Events recorded by a local subscriber, with their level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(Level, Fields)>>>);

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Captured {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Visitor(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields));
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

    fn at(&self, level: Level) -> Vec<Fields> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, f)| f.clone())
            .collect()
    }

    /// The `llm call` events of the Logging wrapper.
    fn calls(&self) -> Vec<Fields> {
        self.at(Level::INFO)
            .into_iter()
            .filter(|f| f.get("message").map(String::as_str) == Some("llm call"))
            .collect()
    }
}

#[tokio::test]
async fn an_unknown_model_gets_no_cost_and_one_warning_over_many_calls() {
    let (cap, _guard) = Captured::install();
    // Arc'd so the wrapper can be cloned below.
    let llm = Arc::new(Scripted::new("unlisted-model-2025-01-01").echo_when_empty())
        .with_prices(prices());
    for _ in 0..3 {
        let r = llm.chat(ChatRequest::user("hello")).await.unwrap();
        assert_eq!(r.cost_usd, None, "never a zero");
        let s = llm
            .chat_collected(ChatRequest::user("hello"))
            .await
            .unwrap();
        assert_eq!(s.cost_usd, None);
    }
    // A stream of an unknown model ends without a cost event.
    let items = events(llm.chat_stream(ChatRequest::user("hello")).await.unwrap()).await;
    assert!(
        !items
            .iter()
            .any(|e| matches!(e, Ok(StreamEvent::Cost { .. })))
    );

    let warnings = cap.at(Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0]["model"], "unlisted-model-2025-01-01");
    assert_eq!(warnings[0]["provider"], "scripted");

    // Another unknown model: its own single warning. A clone of the wrapper shares the memory.
    let clone = llm.clone();
    let other = ChatRequest::builder()
        .user("x")
        .model("another-unlisted")
        .build()
        .unwrap();
    clone.chat(other.clone()).await.unwrap();
    llm.chat(other).await.unwrap();
    assert_eq!(cap.at(Level::WARN).len(), 2);
}

#[tokio::test]
async fn a_fresh_wrapper_warns_again() {
    // The warning is per model id per wrapper, not per process.
    let (cap, _guard) = Captured::install();
    for _ in 0..2 {
        let llm = Scripted::new("unlisted")
            .echo_when_empty()
            .with_prices(prices());
        llm.chat(ChatRequest::user("x")).await.unwrap();
        llm.chat(ChatRequest::user("x")).await.unwrap();
    }
    assert_eq!(cap.at(Level::WARN).len(), 2);
}

#[tokio::test]
async fn missing_token_counts_give_no_cost_and_no_warning() {
    let (cap, _guard) = Captured::install();
    let llm = Scripted::new(MODEL).with_prices(prices());
    let only_input = Usage {
        input_tokens: Some(100),
        ..Usage::default()
    };
    llm.get_ref()
        .push_response(ChatResponse::text("scripted", MODEL, "a").with_usage(only_input));
    llm.get_ref().push_text("no usage at all");
    llm.get_ref().push_text("no usage, streamed");
    assert_eq!(
        llm.chat(ChatRequest::user("q")).await.unwrap().cost_usd,
        None
    );
    assert_eq!(
        llm.chat(ChatRequest::user("q")).await.unwrap().cost_usd,
        None
    );
    let items = events(llm.chat_stream(ChatRequest::user("q")).await.unwrap()).await;
    assert!(
        !items
            .iter()
            .any(|e| matches!(e, Ok(StreamEvent::Cost { .. })))
    );
    assert!(cap.at(Level::WARN).is_empty(), "the price is known");
}

// ---- incomplete streams ----

#[tokio::test]
async fn a_failed_or_cut_stream_gets_no_cost_event() {
    let llm = Scripted::new(MODEL).with_prices(prices());

    // Fails after its usage and text.
    let mut failing = answer_chunks();
    failing.truncate(4);
    failing.push(Chunk::Error(Error::new(ErrorKind::Transport, "reset")));
    llm.get_ref().push_stream(failing);
    let items = events(llm.chat_stream(ChatRequest::user("q")).await.unwrap()).await;
    assert!(matches!(items.last(), Some(Err(e)) if e.kind() == ErrorKind::Transport));
    assert!(
        !items
            .iter()
            .any(|e| matches!(e, Ok(StreamEvent::Cost { .. })))
    );

    // Fails after done (the late usage never came): the usage is not final either.
    let mut late_failure = answer_chunks();
    late_failure.truncate(5);
    late_failure.push(Chunk::Error(Error::new(ErrorKind::Transport, "reset")));
    llm.get_ref().push_stream(late_failure);
    let items = events(llm.chat_stream(ChatRequest::user("q")).await.unwrap()).await;
    assert!(matches!(items.last(), Some(Err(_))));
    assert!(
        !items
            .iter()
            .any(|e| matches!(e, Ok(StreamEvent::Cost { .. })))
    );

    // Ends without done.
    let mut cut = answer_chunks();
    cut.truncate(4);
    llm.get_ref().push_stream(cut);
    let items = events(llm.chat_stream(ChatRequest::user("q")).await.unwrap()).await;
    assert_eq!(items.len(), 4);
    assert!(
        items
            .iter()
            .all(|e| !matches!(e, Ok(StreamEvent::Cost { .. })))
    );
    let mut cut = answer_chunks();
    cut.truncate(4);
    llm.get_ref().push_stream(cut);
    let err = llm
        .chat_collected(ChatRequest::user("q"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);

    // Dropped half-way: nothing more happens, nothing panics.
    llm.get_ref().push_stream(answer_chunks());
    let mut s = llm.chat_stream(ChatRequest::user("q")).await.unwrap();
    s.next().await.unwrap().unwrap();
    drop(s);
}

// ---- logging and metrics see the cost ----

#[tokio::test]
async fn logging_logs_the_same_cost_for_chat_and_stream() {
    let (cap, _guard) = Captured::install();
    let llm = Scripted::new(MODEL)
        .with_prices(prices())
        .with_logging(LoggingConfig::default());
    llm.get_ref().get_ref().push_response(answer());
    llm.get_ref().get_ref().push_stream(answer_chunks());
    llm.chat(ChatRequest::user("q")).await.unwrap();
    llm.chat_collected(ChatRequest::user("q")).await.unwrap();

    let calls = cap.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0]["stream"], "false");
    assert_eq!(calls[1]["stream"], "true");
    assert_eq!(calls[0]["cost_usd"], format!("{COST:?}"));
    assert_eq!(calls[1]["cost_usd"], calls[0]["cost_usd"]);
}

/// The `COST_USD` series a closure's calls recorded: labels and value.
async fn cost_series<F, Fut>(run: F) -> Vec<(Vec<(String, String)>, f64)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    {
        let _guard = metrics::set_default_local_recorder(&recorder);
        run().await;
    }
    let mut series: Vec<(Vec<(String, String)>, f64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == COST_USD)
        .map(|(key, _, _, value)| {
            let mut labels: Vec<(String, String)> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let DebugValue::Gauge(v) = value else {
                panic!("{COST_USD} is a gauge")
            };
            (labels, v.into_inner())
        })
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_record_the_same_cost_for_chat_and_stream() {
    let stack = || {
        Scripted::new(MODEL)
            .with_prices(prices())
            .with_metrics(MetricsConfig::default())
    };
    let chatted = cost_series(|| async {
        let llm = stack();
        llm.get_ref().get_ref().push_response(answer());
        llm.chat(ChatRequest::user("q")).await.unwrap();
    })
    .await;
    let streamed = cost_series(|| async {
        let llm = stack();
        llm.get_ref().get_ref().push_stream(answer_chunks());
        llm.chat_collected(ChatRequest::user("q")).await.unwrap();
    })
    .await;
    assert_eq!(chatted.len(), 1, "{chatted:?}");
    assert_eq!(chatted[0].1, COST);
    assert_eq!(streamed, chatted);
}

// ---- position in the stack ----

#[tokio::test]
async fn below_the_cache_a_hit_keeps_its_stored_cost() {
    let (cap, _guard) = Captured::install();
    let llm = Scripted::new(MODEL)
        .with_prices(prices())
        .with_cache(CacheConfig::default());
    llm.get_ref().get_ref().push_stream(answer_chunks());
    let det = || {
        ChatRequest::builder()
            .user("q")
            .temperature(0.0)
            .build()
            .unwrap()
    };
    // A streamed miss is stored with the cost its final event carried ...
    let first = llm.chat_collected(det()).await.unwrap();
    assert_eq!(first.cost_usd, Some(COST));
    // ... and hits, chat or stream, carry that stored cost.
    let hit = llm.chat(det()).await.unwrap();
    assert!(hit.cached);
    assert_eq!(hit.cost_usd, Some(COST));
    let items = events(llm.chat_stream(det()).await.unwrap()).await;
    let costs: Vec<f64> = items
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::Cost { cost_usd }) => Some(*cost_usd),
            _ => None,
        })
        .collect();
    assert_eq!(costs, [COST]);
    assert_eq!(llm.get_ref().get_ref().requests().len(), 1);
    assert!(cap.at(Level::WARN).is_empty());
}

#[tokio::test]
async fn above_the_fallback_the_answering_model_is_priced() {
    let primary = Arc::new(Scripted::new(MODEL));
    let backup = Arc::new(Scripted::new("backup-model-2024-01-01").with_name("other"));
    let down = || Error::new(ErrorKind::Overloaded, "overloaded").with_status(529);
    primary.push_error(down());
    primary.push_error(down());
    let backup_answer = || {
        ChatResponse::text("other", "backup-model-2024-01-01", "Paris").with_usage(Usage {
            input_tokens: Some(1_000),
            output_tokens: Some(500),
            ..Usage::default()
        })
    };
    let mut streamed = backup_answer();
    streamed.model = Some("backup-model-2024-01-01".to_owned());
    backup.push_response(backup_answer());
    backup.push_response(streamed);

    let llm = Arc::clone(&primary)
        .with_fallback(
            [Arc::clone(&backup) as Arc<dyn LlmProvider>],
            FallbackConfig::default(),
        )
        .with_prices(prices());
    // (1,000 × 1 + 500 × 2) / 1e6, the backup's price, not the primary's.
    let chatted = llm.chat(ChatRequest::user("q")).await.unwrap();
    assert_eq!(chatted.provider, "other");
    assert_eq!(chatted.cost_usd, Some(0.002));
    let collected = llm.chat_collected(ChatRequest::user("q")).await.unwrap();
    assert_eq!(collected.cost_usd, Some(0.002));
}

#[tokio::test]
async fn a_shared_table_serves_several_stacks() {
    let table = Arc::new(prices());
    let a = Scripted::new(MODEL).with_prices(Arc::clone(&table));
    let b = Cost::new(Scripted::new(MODEL), Arc::clone(&table));
    assert!(Arc::ptr_eq(a.prices(), b.prices()));
    a.get_ref().push_response(answer());
    assert_eq!(
        a.chat(ChatRequest::user("q")).await.unwrap().cost_usd,
        Some(COST)
    );
    let inner = b.into_inner();
    assert_eq!(inner.model(), MODEL);
}

#[tokio::test]
async fn embed_and_health_check_are_forwarded() {
    let llm = Scripted::new(MODEL)
        .with_hash_embeddings(8)
        .with_prices(prices());
    assert_eq!(llm.embed_one("hello").await.unwrap().len(), 8);
    assert_eq!(llm.get_ref().embed_requests().len(), 1);
    llm.get_ref()
        .set_health(Some(Error::new(ErrorKind::Transport, "down")));
    assert_eq!(
        llm.health_check().await.unwrap_err().kind(),
        ErrorKind::Transport
    );
    assert_eq!(llm.name(), "scripted");
    assert_eq!(llm.model(), MODEL);
}

// ---- conformance ----

#[tokio::test]
async fn conformance_with_known_and_unknown_prices() {
    let table = PriceTable::new().with_price("conformance-model", ModelPrice::new(1.0, 2.0));
    let priced = Scripted::new("conformance-model")
        .echo_when_empty()
        .with_hash_embeddings(8)
        .with_prices(table);
    llm_provider(
        &priced,
        &LlmCapabilities::default()
            .with_embeddings(true)
            .with_usage(true),
    )
    .await;
    let unpriced = Scripted::new("conformance-model-unlisted")
        .echo_when_empty()
        .with_prices(PriceTable::new());
    llm_provider(&unpriced, &LlmCapabilities::default().with_usage(true)).await;
}
