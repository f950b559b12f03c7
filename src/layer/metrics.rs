//! [`Metrics`]: OpenTelemetry GenAI client metrics through the [`metrics`] facade (factor XIII), around any
//! [`LlmProvider`], [`VectorStore`], [`ConversationStore`] or [`PromptRegistry`].
//!
//! # What is recorded
//!
//! Names come from [`names`](super::names). Every LLM metric carries [`OPERATION_NAME`] (`chat` or
//! `embeddings`), [`PROVIDER_NAME`] (the wrapped provider's [`name`](LlmProvider::name)) and
//! [`REQUEST_MODEL`] (the request's model, else the provider's pinned one), plus the constant labels of
//! [`MetricsConfig`].
//!
//! | metric | kind | when | extra labels |
//! |---|---|---|---|
//! | [`REQUESTS`] | counter | each call, as it starts | |
//! | [`IN_FLIGHT`] | gauge | +1 as a call starts, -1 as it ends (a stream: when it ends or is dropped) | |
//! | [`OPERATION_DURATION`] | histogram, seconds | each call, as it ends (a stream: at its end) | [`RESPONSE_MODEL`] on success, [`ERROR_TYPE`] on failure |
//! | [`TOKEN_USAGE`] | histogram, tokens | on success, per reported count | [`RESPONSE_MODEL`], [`TOKEN_TYPE`] `input` / `output` |
//! | [`TIME_TO_FIRST_CHUNK`] | histogram, seconds | streams, at the first event | |
//! | [`ERRORS`] | counter | each failed call | [`ERROR_TYPE`] |
//! | [`COST_USD`] | gauge, only incremented | on success, when the response knows its cost | [`RESPONSE_MODEL`] |
//!
//! [`ERROR_TYPE`] is the [`ErrorKind`] name (`rate_limited`, ...), `decode` for a stream
//! that ended without its done event, and `cancelled` for a call whose future or stream the caller
//! dropped before it ended (so `IN_FLIGHT` always returns to zero, and cancellations stay visible).
//!
//! The cost is a gauge that only goes up because the facade's counters count integers and a call costs
//! fractions of a cent; `rate()` / `increase()` work on it as on a counter.
//!
//! Store operations record [`STORE_OPERATION_DURATION`] (seconds) labelled with [`STORE_KIND`]
//! (`vector`, `conversation`, `prompt`), [`STORE_OPERATION`] (`upsert`, `search`, `delete`, `count`,
//! `append`, `load`, `get`, `render`, `list`, `health_check`), [`OUTCOME`] (`ok`, `error`, `cancelled`) and,
//! on failure, [`ERROR_TYPE`]. A provider's `health_check` records nothing.
//!
//! Labels stay low-cardinality: never prompt text, request or conversation ids, tenants.
//!
//! # Cost per call
//!
//! Label values for the provider and the pinned model are built once (shared `Arc<str>`s, cloned by a
//! reference count). A call that asks for the pinned model, and is answered by it, updates metric handles
//! registered once per recorder through the facade's macros (each on first use), instead of building a
//! label vector and a key for each of its six updates (about 200 ns each); a chat call then costs the
//! wrapper roughly 1,700 instructions (a few hundred nanoseconds) with no recorder or a cheap one. Other
//! models, failures and store operations go through the macros on each update.
//!
//! The handles are tied to the recorder in use when they were registered, recognised by its address: the
//! global recorder never moves, and a scoped (`metrics::set_default_local_recorder`) recorder is
//! recognised as long as it lives. A scoped recorder dropped and replaced by a new one at the same address,
//! with no call in between under another recorder, would keep receiving the common case's updates
//! through the old handles: in tests that reuse one wrapper across scoped recorders, build a wrapper per
//! recorder.

use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use async_trait::async_trait;
use metrics::Label;
use tokio::time::Instant;

use super::names::{
    COST_USD, ERROR_TYPE, ERRORS, IN_FLIGHT, OPERATION_DURATION, OPERATION_NAME, PROVIDER_NAME,
    REQUEST_MODEL, REQUESTS, RESPONSE_MODEL, STORE_OPERATION, STORE_OPERATION_DURATION,
    TIME_TO_FIRST_CHUNK, TOKEN_TYPE, TOKEN_USAGE,
};
use super::observe::{StreamEnd, StreamObserver, observe};
use crate::conversation::{ConversationStore, Window};
use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider, Message,
    StreamEvent, Usage,
};
use crate::prompt::{Prompt, PromptRef, PromptRegistry, RenderedPrompt, Selector};
use crate::vector::{Document, SearchHit, VectorQuery, VectorStore};
use crate::{Error, ErrorKind, Result};

use crate::layer::names::{OUTCOME, STORE_KIND};

/// The [`ERROR_TYPE`] of a call the caller dropped before it ended.
const CANCELLED: &str = "cancelled";

const OP_CHAT: Label = Label::from_static_parts(OPERATION_NAME, "chat");
const OP_EMBEDDINGS: Label = Label::from_static_parts(OPERATION_NAME, "embeddings");
const TOKENS_INPUT: Label = Label::from_static_parts(TOKEN_TYPE, "input");
const TOKENS_OUTPUT: Label = Label::from_static_parts(TOKEN_TYPE, "output");
const OUTCOME_OK: Label = Label::from_static_parts(OUTCOME, "ok");
const OUTCOME_ERROR: Label = Label::from_static_parts(OUTCOME, "error");
const OUTCOME_CANCELLED: Label = Label::from_static_parts(OUTCOME, CANCELLED);

/// Label keys the wrapper sets itself, which constant labels may not reuse.
const RESERVED: [&str; 9] = [
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    TOKEN_TYPE,
    ERROR_TYPE,
    STORE_OPERATION,
    STORE_KIND,
    OUTCOME,
];

/// The settings of a [`Metrics`] wrapper: constant labels added to every metric it records.
///
/// Default: no constant labels (the provider, model and operation labels already tell calls apart; add
/// one, such as `("tier", "primary")`, only to tell apart two wrapped services that share them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    labels: Arc<[Label]>,
}

impl MetricsConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> MetricsConfigBuilder {
        MetricsConfigBuilder::default()
    }

    /// The constant labels, as (key, value) pairs.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels.iter().map(|l| (l.key(), l.value()))
    }
}

/// Builds a [`MetricsConfig`]; [`build`](MetricsConfigBuilder::build) reports a bad label.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfigBuilder {
    labels: Vec<(String, String)>,
}

impl MetricsConfigBuilder {
    /// Adds a constant label. Keep its value low in cardinality: it is part of every series.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Checks the labels: keys must be non-empty, distinct, and not one the wrapper sets itself
    /// ([`ErrorKind::Config`] otherwise).
    pub fn build(self) -> Result<MetricsConfig> {
        let mut labels = Vec::with_capacity(self.labels.len());
        for (i, (key, value)) in self.labels.iter().enumerate() {
            if key.is_empty() {
                return Err(Error::config(
                    "a constant metric label needs a non-empty key",
                ));
            }
            if RESERVED.contains(&key.as_str()) {
                return Err(Error::config(format!(
                    "constant metric label {key:?} is set by the Metrics wrapper itself; choose another key"
                )));
            }
            if self.labels[..i].iter().any(|(k, _)| k == key) {
                return Err(Error::config(format!(
                    "constant metric label {key:?} is given twice"
                )));
            }
            labels.push(Label::new(
                Arc::<str>::from(key.as_str()),
                Arc::<str>::from(value.as_str()),
            ));
        }
        Ok(MetricsConfig {
            labels: labels.into(),
        })
    }
}

/// Records OpenTelemetry GenAI client metrics for the service it wraps; see the [module docs](self).
///
/// Library code never installs a recorder: the host does (a Prometheus or OpenTelemetry exporter), before
/// the first call or after it (the wrapper notices a new recorder). With none installed, updates are no-ops.
///
/// ```
/// use twelve_factor_ai::layer::metrics::{Metrics, MetricsConfig};
/// use twelve_factor_ai::llm::{LlmProviderExt, Scripted};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let config = MetricsConfig::builder().label("tier", "primary").build()?;
/// let llm = Metrics::new(Scripted::new("demo-model-2024-01-01").echo_when_empty(), config);
/// // Records gen_ai.client.operation.duration, gen_ai.client.token.usage, tfa.client.requests, ...
/// assert_eq!(llm.complete("hello").await?, "hello");
/// assert_eq!(llm.get_ref().requests().len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Metrics<S> {
    inner: S,
    config: MetricsConfig,
    llm: OnceLock<Arc<LlmLabels>>,
}

impl<S> Metrics<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, config: MetricsConfig) -> Self {
        Metrics {
            inner,
            config,
            llm: OnceLock::new(),
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The settings.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

// ---------------------------------------------------------------------------------------------------------
// LLM calls.

/// Label values built once per wrapped provider, and the metric handles of the common case.
#[derive(Debug)]
struct LlmLabels {
    provider: Label,
    pinned_request: Label,
    pinned_response: Label,
    /// The first response model seen that is not the pinned one (an alias resolving to a dated version).
    other_response: OnceLock<Label>,
    chat: HandleSlot,
    embeddings: HandleSlot,
}

fn shared(key: &'static str, value: &str) -> Label {
    Label::new(key, Arc::<str>::from(value))
}

impl LlmLabels {
    fn new(provider: &str, model: &str) -> Self {
        LlmLabels {
            provider: shared(PROVIDER_NAME, provider),
            pinned_request: shared(REQUEST_MODEL, model),
            pinned_response: shared(RESPONSE_MODEL, model),
            other_response: OnceLock::new(),
            chat: HandleSlot::default(),
            embeddings: HandleSlot::default(),
        }
    }

    fn is_pinned(&self, requested: Option<&str>) -> bool {
        requested.is_none_or(|m| m == self.pinned_request.value())
    }

    fn request_model(&self, requested: Option<&str>) -> Label {
        match requested {
            Some(m) if m != self.pinned_request.value() => shared(REQUEST_MODEL, m),
            _ => self.pinned_request.clone(),
        }
    }

    fn response_model(&self, model: &str) -> Label {
        if model == self.pinned_response.value() {
            return self.pinned_response.clone();
        }
        let other = self
            .other_response
            .get_or_init(|| shared(RESPONSE_MODEL, model));
        if other.value() == model {
            other.clone()
        } else {
            shared(RESPONSE_MODEL, model)
        }
    }
}

/// Which recorder the facade would use right now, from this thread: its address and size.
///
/// Recorders are installed once (global, leaked, so the address is stable) or scoped (local, borrowed for
/// the scope). A recorder replaced by another at the same address and of the same size while one wrapper
/// lives (only possible with scoped recorders, or with zero-sized ones) would keep the first one's
/// handles for the common case.
pub(super) fn recorder_id() -> (usize, usize) {
    metrics::with_recorder(|r| {
        (
            std::ptr::from_ref(r).cast::<()>().addr(),
            std::mem::size_of_val(r),
        )
    })
}

/// Handles registered for the common label set of one operation (the pinned model asked for, and the
/// pinned model answering), so the common case updates handles instead of building a label vector and a
/// key per update (about 200 ns each). Each handle is registered on first use, so metrics that never
/// happen (time to first chunk without streams, cost without prices) create no series.
#[derive(Debug)]
struct Handles {
    recorder: (usize, usize),
    requests: OnceLock<metrics::Counter>,
    in_flight: OnceLock<metrics::Gauge>,
    ttfc: OnceLock<metrics::Histogram>,
    duration: OnceLock<metrics::Histogram>,
    tokens_input: OnceLock<metrics::Histogram>,
    tokens_output: OnceLock<metrics::Histogram>,
    cost: OnceLock<metrics::Gauge>,
}

/// The current [`Handles`] of one operation; replaced when the recorder in use changes.
#[derive(Debug, Default)]
struct HandleSlot(RwLock<Option<Arc<Handles>>>);

impl HandleSlot {
    fn get(&self) -> Arc<Handles> {
        let recorder = recorder_id();
        if let Some(h) = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            if h.recorder == recorder {
                return Arc::clone(h);
            }
        }
        let fresh = Arc::new(Handles {
            recorder,
            requests: OnceLock::new(),
            in_flight: OnceLock::new(),
            ttfc: OnceLock::new(),
            duration: OnceLock::new(),
            tokens_input: OnceLock::new(),
            tokens_output: OnceLock::new(),
            cost: OnceLock::new(),
        });
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&fresh));
        fresh
    }
}

/// One LLM call in flight. Dropped before [`finish`](Call::finish), it records a cancellation, so the
/// in-flight gauge always comes back down.
struct Call {
    labels: Arc<LlmLabels>,
    extra: Arc<[Label]>,
    operation: Label,
    request_model: Label,
    /// Set when the call asked for the pinned model.
    handles: Option<Arc<Handles>>,
    start: Instant,
    finished: bool,
}

/// How a call ended, for [`Call::finish`].
enum End<'a> {
    Ok {
        response_model: &'a str,
        usage: Usage,
        cost_usd: Option<f64>,
    },
    Failed(&'static str),
}

/// Updates the cached handle in `slot` (registering it on first use), or registers one for this update
/// when there is no cache.
fn with_handle<H>(
    slot: Option<&OnceLock<H>>,
    register: impl FnOnce() -> H,
    update: impl FnOnce(&H),
) {
    match slot {
        Some(slot) => update(slot.get_or_init(register)),
        None => update(&register()),
    }
}

impl Call {
    fn start(
        labels: Arc<LlmLabels>,
        extra: Arc<[Label]>,
        operation: Label,
        requested: Option<&str>,
    ) -> Self {
        let handles = labels.is_pinned(requested).then(|| {
            if operation == OP_CHAT {
                labels.chat.get()
            } else {
                labels.embeddings.get()
            }
        });
        let request_model = labels.request_model(requested);
        let call = Call {
            labels,
            extra,
            operation,
            request_model,
            handles,
            start: Instant::now(),
            finished: false,
        };
        let h = call.handles.as_deref();
        with_handle(
            h.map(|h| &h.requests),
            || metrics::counter!(REQUESTS, call.labels_with([])),
            |c| c.increment(1),
        );
        with_handle(
            h.map(|h| &h.in_flight),
            || metrics::gauge!(IN_FLIGHT, call.labels_with([])),
            |g| g.increment(1.0),
        );
        call
    }

    /// Operation, provider, request model, then `more`, then the constant labels.
    fn labels_with<const N: usize>(&self, more: [Label; N]) -> Vec<Label> {
        let mut v = Vec::with_capacity(3 + N + self.extra.len());
        v.push(self.operation.clone());
        v.push(self.labels.provider.clone());
        v.push(self.request_model.clone());
        v.extend(more);
        v.extend_from_slice(&self.extra);
        v
    }

    fn first_chunk(&self) {
        let seconds = self.start.elapsed().as_secs_f64();
        with_handle(
            self.handles.as_deref().map(|h| &h.ttfc),
            || metrics::histogram!(TIME_TO_FIRST_CHUNK, self.labels_with([])),
            |h| h.record(seconds),
        );
    }

    fn finish(&mut self, end: End<'_>) {
        self.finished = true;
        let seconds = self.start.elapsed().as_secs_f64();
        let h = self.handles.as_deref();
        with_handle(
            h.map(|h| &h.in_flight),
            || metrics::gauge!(IN_FLIGHT, self.labels_with([])),
            |g| g.decrement(1.0),
        );
        match end {
            End::Ok {
                response_model,
                usage,
                cost_usd,
            } => {
                // The cached handles carry the pinned model as the response model.
                let h = h.filter(|_| response_model == self.labels.pinned_response.value());
                let response = || self.labels.response_model(response_model);
                with_handle(
                    h.map(|h| &h.duration),
                    || metrics::histogram!(OPERATION_DURATION, self.labels_with([response()])),
                    |d| d.record(seconds),
                );
                for (label, tokens, slot) in [
                    (TOKENS_INPUT, usage.input_tokens, h.map(|h| &h.tokens_input)),
                    (
                        TOKENS_OUTPUT,
                        usage.output_tokens,
                        h.map(|h| &h.tokens_output),
                    ),
                ] {
                    if let Some(tokens) = tokens {
                        with_handle(
                            slot,
                            || {
                                metrics::histogram!(
                                    TOKEN_USAGE,
                                    self.labels_with([response(), label])
                                )
                            },
                            // Token counts stay far below 2^53, where f64 is exact.
                            |t| t.record(tokens as f64),
                        );
                    }
                }
                if let Some(cost) = cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
                    with_handle(
                        h.map(|h| &h.cost),
                        || metrics::gauge!(COST_USD, self.labels_with([response()])),
                        |g| g.increment(cost),
                    );
                }
            }
            End::Failed(error_type) => {
                let error = Label::new(ERROR_TYPE, error_type);
                metrics::histogram!(OPERATION_DURATION, self.labels_with([error.clone()]))
                    .record(seconds);
                metrics::counter!(ERRORS, self.labels_with([error])).increment(1);
            }
        }
    }

    fn answered(&mut self, r: &ChatResponse) {
        // A cache hit spent no tokens and cost nothing: record the call, not its stored usage again.
        let (usage, cost_usd) = if r.cached {
            (Usage::default(), None)
        } else {
            (r.usage, r.cost_usd)
        };
        self.finish(End::Ok {
            response_model: r.response_model(),
            usage,
            cost_usd,
        });
    }

    fn failed(&mut self, err: &Error) {
        self.finish(End::Failed(err.kind().as_str()));
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(End::Failed(CANCELLED));
        }
    }
}

/// Watches a stream: time to first chunk, usage and response model, and how it ended.
struct StreamMetrics {
    call: Call,
    first_seen: bool,
    response_model: Option<String>,
    usage: Usage,
    cost_usd: Option<f64>,
    cached: bool,
}

impl StreamObserver for StreamMetrics {
    fn on_event(&mut self, event: &StreamEvent) {
        if !self.first_seen {
            self.first_seen = true;
            self.call.first_chunk();
        }
        match event {
            StreamEvent::Start { model, cached, .. } => {
                if let Some(m) = model {
                    self.response_model = Some(m.clone());
                }
                // A replayed cache hit spent no tokens: its usage is not recorded again.
                self.cached |= *cached;
            }
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::Cost { cost_usd } => self.cost_usd = Some(*cost_usd),
            _ => {}
        }
    }

    fn on_end(mut self, end: StreamEnd<'_>) {
        match end {
            StreamEnd::Completed => {
                let request_model = self.call.request_model.clone();
                self.call.finish(End::Ok {
                    response_model: self
                        .response_model
                        .as_deref()
                        .unwrap_or(request_model.value()),
                    usage: if self.cached {
                        Usage::default()
                    } else {
                        self.usage
                    },
                    // A replayed cache hit's cost was not spent again either.
                    cost_usd: if self.cached { None } else { self.cost_usd },
                });
            }
            StreamEnd::Incomplete => self.call.finish(End::Failed(ErrorKind::Decode.as_str())),
            StreamEnd::Failed(err) => self.call.failed(err),
            StreamEnd::Dropped => self.call.finish(End::Failed(CANCELLED)),
        }
    }
}

impl<S: LlmProvider> Metrics<S> {
    fn call(&self, operation: Label, requested: Option<&str>) -> Call {
        let labels = self
            .llm
            .get_or_init(|| Arc::new(LlmLabels::new(self.inner.name(), self.inner.model())));
        Call::start(
            Arc::clone(labels),
            Arc::clone(&self.config.labels),
            operation,
            requested,
        )
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: LlmProvider> LlmProvider for Metrics<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let mut call = self.call(OP_CHAT, req.model.as_deref());
        let result = self.inner.chat(req).await;
        match &result {
            Ok(r) => call.answered(r),
            Err(e) => call.failed(e),
        }
        result
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let mut call = self.call(OP_CHAT, req.model.as_deref());
        match self.inner.chat_stream(req).await {
            Ok(stream) => Ok(observe(
                stream,
                StreamMetrics {
                    call,
                    first_seen: false,
                    response_model: None,
                    usage: Usage::default(),
                    cost_usd: None,
                    cached: false,
                },
            )),
            Err(e) => {
                call.failed(&e);
                Err(e)
            }
        }
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let mut call = self.call(OP_EMBEDDINGS, req.model.as_deref());
        let result = self.inner.embed(req).await;
        match &result {
            Ok(r) => call.finish(End::Ok {
                response_model: &r.model,
                usage: r.usage,
                cost_usd: None,
            }),
            Err(e) => call.failed(e),
        }
        result
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

// ---------------------------------------------------------------------------------------------------------
// Store operations.

const VECTOR: &str = "vector";
const CONVERSATION: &str = "conversation";
const PROMPT: &str = "prompt";

/// One store operation in flight; dropped unfinished, it records `outcome = "cancelled"`.
struct StoreOp<'a> {
    kind: &'static str,
    operation: &'static str,
    extra: &'a [Label],
    start: Instant,
    finished: bool,
}

impl<'a> StoreOp<'a> {
    fn start(config: &'a MetricsConfig, kind: &'static str, operation: &'static str) -> Self {
        StoreOp {
            kind,
            operation,
            extra: &config.labels,
            start: Instant::now(),
            finished: false,
        }
    }

    fn record(&mut self, outcome: Label, error_type: Option<&'static str>) {
        self.finished = true;
        let seconds = self.start.elapsed().as_secs_f64();
        let mut labels = Vec::with_capacity(4 + self.extra.len());
        labels.push(Label::new(STORE_KIND, self.kind));
        labels.push(Label::new(STORE_OPERATION, self.operation));
        labels.push(outcome);
        if let Some(error_type) = error_type {
            labels.push(Label::new(ERROR_TYPE, error_type));
        }
        labels.extend_from_slice(self.extra);
        metrics::histogram!(STORE_OPERATION_DURATION, labels).record(seconds);
    }

    fn finish<T>(mut self, result: &Result<T>) {
        match result {
            Ok(_) => self.record(OUTCOME_OK, None),
            Err(e) => self.record(OUTCOME_ERROR, Some(e.kind().as_str())),
        }
    }
}

impl Drop for StoreOp<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.record(OUTCOME_CANCELLED, Some(CANCELLED));
        }
    }
}

impl<S> Metrics<S> {
    fn store_op(&self, kind: &'static str, operation: &'static str) -> StoreOp<'_> {
        StoreOp::start(&self.config, kind, operation)
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: VectorStore> VectorStore for Metrics<S> {
    async fn upsert(&self, docs: Vec<Document>) -> Result<()> {
        let op = self.store_op(VECTOR, "upsert");
        let result = self.inner.upsert(docs).await;
        op.finish(&result);
        result
    }

    async fn search(&self, query: VectorQuery) -> Result<Vec<SearchHit>> {
        let op = self.store_op(VECTOR, "search");
        let result = self.inner.search(query).await;
        op.finish(&result);
        result
    }

    async fn delete(&self, ids: &[String]) -> Result<usize> {
        let op = self.store_op(VECTOR, "delete");
        let result = self.inner.delete(ids).await;
        op.finish(&result);
        result
    }

    async fn count(&self) -> Result<usize> {
        let op = self.store_op(VECTOR, "count");
        let result = self.inner.count().await;
        op.finish(&result);
        result
    }

    async fn health_check(&self) -> Result<()> {
        let op = self.store_op(VECTOR, "health_check");
        let result = VectorStore::health_check(&self.inner).await;
        op.finish(&result);
        result
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: ConversationStore> ConversationStore for Metrics<S> {
    async fn append(&self, conversation: &str, messages: &[Message]) -> Result<()> {
        let op = self.store_op(CONVERSATION, "append");
        let result = self.inner.append(conversation, messages).await;
        op.finish(&result);
        result
    }

    async fn load(&self, conversation: &str, window: Window) -> Result<Vec<Message>> {
        let op = self.store_op(CONVERSATION, "load");
        let result = self.inner.load(conversation, window).await;
        op.finish(&result);
        result
    }

    async fn delete(&self, conversation: &str) -> Result<bool> {
        let op = self.store_op(CONVERSATION, "delete");
        let result = self.inner.delete(conversation).await;
        op.finish(&result);
        result
    }

    async fn health_check(&self) -> Result<()> {
        let op = self.store_op(CONVERSATION, "health_check");
        let result = ConversationStore::health_check(&self.inner).await;
        op.finish(&result);
        result
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<S: PromptRegistry> PromptRegistry for Metrics<S> {
    async fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>> {
        let op = self.store_op(PROMPT, "get");
        let result = self.inner.get(name, selector).await;
        op.finish(&result);
        result
    }

    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        let op = self.store_op(PROMPT, "render");
        let result = self.inner.render(name, selector, vars).await;
        op.finish(&result);
        result
    }

    async fn list(&self) -> Result<Vec<PromptRef>> {
        let op = self.store_op(PROMPT, "list");
        let result = self.inner.list().await;
        op.finish(&result);
        result
    }

    async fn health_check(&self) -> Result<()> {
        let op = self.store_op(PROMPT, "health_check");
        let result = PromptRegistry::health_check(&self.inner).await;
        op.finish(&result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validates_constant_labels() {
        assert_eq!(MetricsConfig::default().labels().count(), 0);
        let c = MetricsConfig::builder()
            .label("tier", "primary")
            .label("region", "eu")
            .build()
            .unwrap();
        assert_eq!(
            c.labels().collect::<Vec<_>>(),
            vec![("tier", "primary"), ("region", "eu")]
        );
        for bad in [
            MetricsConfig::builder().label("", "x"),
            MetricsConfig::builder().label(PROVIDER_NAME, "x"),
            MetricsConfig::builder().label(OUTCOME, "x"),
            MetricsConfig::builder().label("a", "1").label("a", "2"),
        ] {
            assert_eq!(bad.build().unwrap_err().kind(), ErrorKind::Config);
        }
    }

    #[test]
    fn model_labels_are_shared_in_the_common_cases() {
        let l = LlmLabels::new("openai", "gpt-x");
        assert_eq!(l.request_model(None), l.pinned_request);
        assert_eq!(l.request_model(Some("gpt-x")), l.pinned_request);
        assert_eq!(l.request_model(Some("other")).value(), "other");
        assert_eq!(l.response_model("gpt-x"), l.pinned_response);
        assert_eq!(l.response_model("gpt-x-2024").value(), "gpt-x-2024");
        assert_eq!(l.other_response.get().map(Label::value), Some("gpt-x-2024"));
        assert_eq!(l.response_model("gpt-x-2025").value(), "gpt-x-2025");
        assert_eq!(l.response_model("gpt-x-2024").key(), RESPONSE_MODEL);
    }
}
