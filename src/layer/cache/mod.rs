//! [`Cache`]: an exact-match response cache in front of a provider.
//!
//! # What is cached
//!
//! A chat answer is stored under a key that is the SHA-256 (hex, prefixed `tfa-cache-v2:`) of everything
//! that changes the answer: the provider's name, the model actually called
//! ([`ChatRequest::model_or`] the provider's pinned model), the messages (roles, content parts, tool calls,
//! tool-call ids, names), the sampling parameters (temperature, top-p, max tokens, stop sequences, seed,
//! penalties), the tools (name, description, parameter schema, strict), the tool choice, the response
//! format, and the prompt reference (name, version, hash, variant). The request id, conversation id, tenant
//! and tags are **not** in the key: two users asking the same thing share the entry. JSON schemas are
//! hashed with sorted keys, so key order never splits entries. [`Cache::chat_key`] shows a request's key.
//!
//! By default only **deterministic** requests are cached: those with `temperature` exactly `0`. A request
//! without a temperature is not deterministic, since providers then sample at their default (1.0 for
//! OpenAI and Anthropic); caching it would freeze one sample of many as "the" answer. Opt in per request
//! with the tag `cache = "force"` ([`TAG`], [`TAG_FORCE`]) or for every request with
//! [`CacheConfigBuilder::cache_nondeterministic`]. A request tagged `cache = "off"` ([`TAG_OFF`]) is never
//! read from or written to the cache. Other values of the tag are ignored. Requests that fail
//! [`ChatRequest::validate`] go straight to the provider, which refuses them.
//!
//! Only **complete answers** are stored: never an error, never a stream that failed, ended without its
//! done event, did not collect cleanly, or was dropped by the caller before its end (read a stream to its
//! end, as [`collect`](crate::llm::collect) does, for its answer to be stored; the write happens as the
//! stream ends, before it reports its end). Chat answers and streams share entries: a streamed request
//! served from the cache is replayed as a stream ([`ChatResponse::into_stream`]), and a chat can be
//! answered from an entry a stream wrote.
//!
//! Embeddings are cached by (provider, model, dimensions, inputs) when [`CacheConfig::cache_embeddings`] is
//! on (the default) **and the request names its model**: the provider trait does not say which embedding
//! model a provider calls by default, and serving vectors of another model would silently corrupt a
//! vector index.
//!
//! # What a hit looks like
//!
//! A hit returns the stored response unchanged (its `attempts`, usage, cost and provider request id are
//! those of the call that produced it). Hits and misses are visible as the counters
//! [`CACHE_HITS`](crate::layer::names::CACHE_HITS) and [`CACHE_MISSES`](crate::layer::names::CACHE_MISSES)
//! (labels provider, request model, operation) and as `tracing` debug events.
//!
//! # Failures
//!
//! The cache never fails a call: a backend error on read is logged (`tracing::warn!`) and treated as a
//! miss, on write it is logged and the answer returned. Concurrent identical misses each call the provider
//! (no request coalescing).

mod key;
mod memory;

use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use metrics::SharedString;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

pub use memory::MemoryCache;

use crate::layer::names;
use crate::layer::observe::{StreamEnd, StreamObserver, observe};
use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider,
    StreamCollector, StreamEvent,
};
use crate::{Error, Result};

/// The request tag ([`RequestMeta::tags`](crate::llm::RequestMeta::tags)) that steers the cache per
/// request: `"force"` ([`TAG_FORCE`]) or `"off"` ([`TAG_OFF`]).
pub const TAG: &str = "cache";
/// Value of [`TAG`]: cache this request even though it is not deterministic.
pub const TAG_FORCE: &str = "force";
/// Value of [`TAG`]: neither read nor write the cache for this request.
pub const TAG_OFF: &str = "off";

const OP_CHAT: &str = "chat";
const OP_EMBEDDINGS: &str = "embeddings";

/// Whether the cache is read, written, both or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CacheMode {
    /// Pass every call through; nothing is hashed, read or written.
    Off,
    /// Serve hits, never write (a cache warmed elsewhere, or a frozen cache for evals).
    ReadOnly,
    /// Write answers, never serve them (warming a cache before switching reads on).
    WriteOnly,
    /// Serve hits and write answers to misses (the default).
    #[default]
    ReadWrite,
}

impl CacheMode {
    fn reads(self) -> bool {
        matches!(self, CacheMode::ReadOnly | CacheMode::ReadWrite)
    }

    fn writes(self) -> bool {
        matches!(self, CacheMode::WriteOnly | CacheMode::ReadWrite)
    }
}

/// What a [`CacheBackend`] stores: a chat answer or embeddings.
///
/// It serializes (tagged by `type`), so a backend over Redis or a database can store it as JSON.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum CacheValue {
    /// A chat answer (written by `chat` or by a completed stream).
    Chat(ChatResponse),
    /// Embeddings.
    Embed(EmbedResponse),
}

/// Where a [`Cache`] keeps its entries: [`MemoryCache`] in process; implement it over Redis or another
/// store to share a cache across workers.
///
/// Keys are ASCII (`tfa-cache-v2:` and 64 hex digits) and already namespaced by version. Errors returned
/// here never reach the caller of the cached provider: [`Cache`] logs them and carries on.
#[async_trait]
pub trait CacheBackend: Send + Sync + std::fmt::Debug {
    /// The live (unexpired) value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<CacheValue>>;

    /// Stores `value` under `key` for `ttl`, replacing any value there. A backend may drop entries early
    /// (eviction) but must never return one after its TTL.
    async fn put(&self, key: &str, value: CacheValue, ttl: Duration) -> Result<()>;

    /// Removes `key`; whether it was there.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Removes every entry.
    async fn clear(&self) -> Result<()>;
}

/// Settings of a [`Cache`]; build with [`CacheConfig::builder`], or take the defaults.
///
/// | setting | default | why |
/// |---|---|---|
/// | [`mode`](CacheConfigBuilder::mode) | [`CacheMode::ReadWrite`] | a cache that is on is read and written |
/// | [`ttl`](CacheConfigBuilder::ttl) | 1 hour | see below |
/// | [`cache_nondeterministic`](CacheConfigBuilder::cache_nondeterministic) | `false` | only `temperature = 0` requests have one right answer to keep |
/// | [`cache_embeddings`](CacheConfigBuilder::cache_embeddings) | `true` | an embedding is a pure function of model and text |
/// | [`backend`](CacheConfigBuilder::backend) | a fresh [`MemoryCache`] (10,000 entries, 64 MiB) | works without a server |
///
/// One hour, because the key already changes with everything the request says (prompt version, pinned
/// model, parameters), so the TTL only bounds staleness the key cannot see: a provider updating the
/// snapshot behind a floating alias, a fixed provider bug, an answer that depends on the date. An hour
/// absorbs bursts of repeats (retries by users, eval reruns, dashboards, fan-out of the same question) and
/// keeps such staleness to an hour.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    mode: CacheMode,
    ttl: Duration,
    cache_nondeterministic: bool,
    cache_embeddings: bool,
    backend: Arc<dyn CacheBackend>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            mode: CacheMode::default(),
            ttl: Self::DEFAULT_TTL,
            cache_nondeterministic: false,
            cache_embeddings: true,
            backend: Arc::new(MemoryCache::new()),
        }
    }
}

impl CacheConfig {
    /// The default time to live: one hour (see the type's docs).
    pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

    /// A builder starting from the defaults.
    pub fn builder() -> CacheConfigBuilder {
        CacheConfigBuilder {
            config: CacheConfig::default(),
        }
    }

    /// Whether the cache is read and written.
    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// How long an entry lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether requests without `temperature = 0` are cached too.
    pub fn cache_nondeterministic(&self) -> bool {
        self.cache_nondeterministic
    }

    /// Whether embed requests that name their model are cached.
    pub fn cache_embeddings(&self) -> bool {
        self.cache_embeddings
    }

    /// Where entries are kept.
    pub fn backend(&self) -> &Arc<dyn CacheBackend> {
        &self.backend
    }
}

/// Builds a [`CacheConfig`]; [`build`](CacheConfigBuilder::build) reports a bad value.
#[derive(Debug, Clone)]
pub struct CacheConfigBuilder {
    config: CacheConfig,
}

impl CacheConfigBuilder {
    /// Whether the cache is read, written, both or neither (default [`CacheMode::ReadWrite`]).
    pub fn mode(mut self, mode: CacheMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// How long an entry lives (default one hour; must not be zero).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.config.ttl = ttl;
        self
    }

    /// Caches requests that are not deterministic (no temperature, or one above 0) too (default `false`).
    /// Every caller then gets the first sampled answer until it expires.
    pub fn cache_nondeterministic(mut self, yes: bool) -> Self {
        self.config.cache_nondeterministic = yes;
        self
    }

    /// Caches embed requests that name their model (default `true`).
    pub fn cache_embeddings(mut self, yes: bool) -> Self {
        self.config.cache_embeddings = yes;
        self
    }

    /// Keeps entries in `backend` (default: a fresh [`MemoryCache`]). Pass a shared `Arc` to let several
    /// caches, or an admin task, see the same entries; keys include the provider and model, so providers
    /// never see each other's answers.
    pub fn backend(mut self, backend: Arc<dyn CacheBackend>) -> Self {
        self.config.backend = backend;
        self
    }

    /// The config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the TTL is zero.
    pub fn build(self) -> Result<CacheConfig> {
        if self.config.ttl.is_zero() {
            return Err(Error::config(
                "cache ttl must be longer than zero; use CacheMode::Off to disable the cache",
            ));
        }
        Ok(self.config)
    }
}

/// An exact-match response cache around a provider (see the [module docs](self) for what is cached and
/// how keys are made).
///
/// ```
/// use twelve_factor_ai::layer::cache::{Cache, CacheConfig};
/// use twelve_factor_ai::llm::{ChatRequest, LlmProvider, LlmProviderExt, Scripted};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let llm = Cache::new(Scripted::new("model-2024-01-01").echo_when_empty(), CacheConfig::default());
/// let ask = || ChatRequest::builder().user("Capital of France?").temperature(0.0).build();
///
/// let first = llm.chat(ask()?).await?;
/// let second = llm.chat(ask()?).await?; // served from the cache
/// assert_eq!(first.content, second.content);
/// assert!(second.cached && !first.cached);
/// assert_eq!(llm.get_ref().requests().len(), 1);
///
/// // Streams are served from the same entry, replayed as events.
/// let streamed = llm.chat_collected(ask()?).await?;
/// assert_eq!(streamed.content, first.content);
/// assert_eq!(llm.get_ref().requests().len(), 1);
///
/// // Without temperature 0 a request is not deterministic, so it is not cached.
/// llm.complete("Capital of France?").await?;
/// llm.complete("Capital of France?").await?;
/// assert_eq!(llm.get_ref().requests().len(), 3);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Cache<P> {
    inner: P,
    config: CacheConfig,
    provider_label: SharedString,
    model_label: SharedString,
    counters: Arc<CounterSlot>,
}

/// Hit and miss counters of the pinned model, registered on first use for the recorder in use, so the
/// common lookup updates a handle instead of building a label set and a key (a few hundred ns).
#[derive(Debug, Default)]
struct CounterSlot(RwLock<Option<Arc<Counters>>>);

#[derive(Debug)]
struct Counters {
    recorder: (usize, usize),
    /// chat hit, chat miss, embeddings hit, embeddings miss.
    handles: [OnceLock<metrics::Counter>; 4],
}

impl CounterSlot {
    fn get(&self) -> Arc<Counters> {
        let recorder = crate::layer::metrics::recorder_id();
        if let Some(c) = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            if c.recorder == recorder {
                return Arc::clone(c);
            }
        }
        let fresh = Arc::new(Counters {
            recorder,
            handles: Default::default(),
        });
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&fresh));
        fresh
    }
}

/// What to do with one cacheable request.
struct Plan {
    key: String,
    read: bool,
    write: bool,
}

impl<P: LlmProvider> Cache<P> {
    /// Caches `inner`'s answers as `config` says.
    pub fn new(inner: P, config: CacheConfig) -> Self {
        let provider_label = SharedString::from(Arc::<str>::from(inner.name()));
        let model_label = SharedString::from(Arc::<str>::from(inner.model()));
        Cache {
            inner,
            config,
            provider_label,
            model_label,
            counters: Arc::default(),
        }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The wrapped provider, unwrapped.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// The config.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Where entries are kept (to [`clear`](CacheBackend::clear) or [`delete`](CacheBackend::delete) them).
    pub fn backend(&self) -> &Arc<dyn CacheBackend> {
        &self.config.backend
    }

    /// The key `req` is cached under (whether or not it is cacheable): `tfa-cache-v2:` and 64 hex digits.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) if the request cannot be encoded,
    /// which no request built from this crate's types triggers.
    pub fn chat_key(&self, req: &ChatRequest) -> Result<String> {
        key::chat_key(self.inner.name(), req.model_or(self.inner.model()), req)
    }

    /// The key `req` is cached under (whether or not it is cacheable); a request without a model is keyed
    /// with the provider's pinned model.
    ///
    /// # Errors
    /// As [`chat_key`](Cache::chat_key).
    pub fn embed_key(&self, req: &EmbedRequest) -> Result<String> {
        let model = req.model.as_deref().unwrap_or(self.inner.model());
        key::embed_key(self.inner.name(), model, req)
    }

    fn chat_plan(&self, req: &ChatRequest) -> Option<Plan> {
        let (read, write) = (self.config.mode.reads(), self.config.mode.writes());
        if !read && !write {
            return None;
        }
        let allowed = match req.meta.tags.get(TAG).map(String::as_str) {
            Some(TAG_OFF) => false,
            Some(TAG_FORCE) => true,
            _ => self.config.cache_nondeterministic || req.temperature == Some(0.0),
        };
        if !allowed || req.validate().is_err() {
            return None;
        }
        self.plan(self.chat_key(req), read, write)
    }

    fn embed_plan(&self, req: &EmbedRequest) -> Option<Plan> {
        let (read, write) = (self.config.mode.reads(), self.config.mode.writes());
        if (!read && !write)
            || !self.config.cache_embeddings
            || req.model.as_deref().is_none_or(str::is_empty)
            || req.meta.tags.get(TAG).map(String::as_str) == Some(TAG_OFF)
            || req.validate().is_err()
        {
            return None;
        }
        self.plan(self.embed_key(req), read, write)
    }

    fn plan(&self, key: Result<String>, read: bool, write: bool) -> Option<Plan> {
        match key {
            Ok(key) => Some(Plan { key, read, write }),
            Err(e) => {
                tracing::warn!(
                    provider = self.inner.name(),
                    error = %e,
                    "cache key failed; not caching this call"
                );
                None
            }
        }
    }

    async fn fetch(&self, key: &str) -> Option<CacheValue> {
        match self.config.backend.get(key).await {
            Ok(value) => value,
            Err(e) => {
                tracing::warn!(
                    provider = self.inner.name(),
                    error = %e,
                    "cache read failed; treating it as a miss"
                );
                None
            }
        }
    }

    async fn lookup_chat(&self, key: &str, model: &str) -> Option<ChatResponse> {
        let hit = match self.fetch(key).await {
            Some(CacheValue::Chat(mut r)) => {
                r.cached = true;
                Some(r)
            }
            Some(_) => {
                tracing::warn!(
                    provider = self.inner.name(),
                    key,
                    "cache entry for a chat holds another kind of value; treating it as a miss"
                );
                None
            }
            None => None,
        };
        self.record(hit.is_some(), OP_CHAT, model, key);
        hit
    }

    async fn lookup_embed(&self, key: &str, model: &str) -> Option<EmbedResponse> {
        let hit = match self.fetch(key).await {
            Some(CacheValue::Embed(r)) => Some(r),
            Some(_) => {
                tracing::warn!(
                    provider = self.inner.name(),
                    key,
                    "cache entry for embeddings holds another kind of value; treating it as a miss"
                );
                None
            }
            None => None,
        };
        self.record(hit.is_some(), OP_EMBEDDINGS, model, key);
        hit
    }

    fn record(&self, hit: bool, operation: &'static str, model: &str, key: &str) {
        let name = if hit {
            names::CACHE_HITS
        } else {
            names::CACHE_MISSES
        };
        let register = |model_label: SharedString| {
            metrics::counter!(
                name,
                names::PROVIDER_NAME => self.provider_label.clone(),
                names::REQUEST_MODEL => model_label,
                names::OPERATION_NAME => operation,
            )
        };
        if model == self.inner.model() {
            let slot = usize::from(!hit) + if operation == OP_CHAT { 0 } else { 2 };
            let counters = self.counters.get();
            counters.handles[slot]
                .get_or_init(|| register(self.model_label.clone()))
                .increment(1);
        } else {
            register(SharedString::from(model.to_owned())).increment(1);
        }
        tracing::debug!(
            provider = self.inner.name(),
            model,
            operation,
            key,
            hit,
            "cache lookup"
        );
    }
}

async fn store(
    backend: &dyn CacheBackend,
    key: &str,
    value: CacheValue,
    ttl: Duration,
    provider: &str,
) {
    if let Err(e) = backend.put(key, value, ttl).await {
        tracing::warn!(provider, error = %e, "cache write failed; the answer is returned uncached");
    }
}

/// Collects a stream as it passes and hands over its answer only when it completed and collected cleanly.
struct Recorder {
    collector: StreamCollector,
    clean: bool,
    answer: oneshot::Sender<ChatResponse>,
}

impl StreamObserver for Recorder {
    fn on_event(&mut self, event: &StreamEvent) {
        if self.clean && self.collector.push(event.clone()).is_err() {
            self.clean = false;
        }
    }

    fn on_end(self, end: StreamEnd<'_>) {
        if matches!(end, StreamEnd::Completed) && self.clean {
            if let Ok(answer) = self.collector.finish() {
                let _ = self.answer.send(answer);
            }
        }
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: LlmProvider> LlmProvider for Cache<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let Some(plan) = self.chat_plan(&req) else {
            return self.inner.chat(req).await;
        };
        if plan.read {
            if let Some(hit) = self
                .lookup_chat(&plan.key, req.model_or(self.inner.model()))
                .await
            {
                return Ok(hit);
            }
        }
        let answer = self.inner.chat(req).await?;
        // Behind a fallback chain the key names the primary; an answer from a backup is not stored
        // under it, or a short outage would pin the backup's answers for the whole TTL.
        if plan.write && answer.provider == self.inner.name() {
            let mut stored = answer.clone();
            stored.cached = false;
            let value = CacheValue::Chat(stored);
            store(
                &*self.config.backend,
                &plan.key,
                value,
                self.config.ttl,
                self.inner.name(),
            )
            .await;
        }
        Ok(answer)
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let Some(plan) = self.chat_plan(&req) else {
            return self.inner.chat_stream(req).await;
        };
        let model = req.model_or(self.inner.model()).to_owned();
        if plan.read {
            if let Some(hit) = self.lookup_chat(&plan.key, &model).await {
                return Ok(hit.into_stream());
            }
        }
        let stream = self.inner.chat_stream(req).await?;
        if !plan.write {
            return Ok(stream);
        }
        let (tx, rx) = oneshot::channel();
        let recorder = Recorder {
            collector: StreamCollector::new(self.inner.name(), model),
            clean: true,
            answer: tx,
        };
        let observed = observe(stream, recorder);
        let backend = Arc::clone(&self.config.backend);
        let ttl = self.config.ttl;
        let provider = self.provider_label.clone();
        let key = plan.key;
        // After the last event: store the answer if the recorder handed one over (it drops the sender
        // otherwise), then end without yielding anything more.
        let write = futures_util::stream::once(async move {
            if let Ok(answer) = rx.await {
                store(&*backend, &key, CacheValue::Chat(answer), ttl, &provider).await;
            }
        })
        .filter_map(|()| futures_util::future::ready(None::<Result<StreamEvent>>));
        Ok(Box::pin(observed.chain(write)))
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let Some(plan) = self.embed_plan(&req) else {
            return self.inner.embed(req).await;
        };
        if plan.read {
            let model = req.model.as_deref().unwrap_or(self.inner.model());
            if let Some(hit) = self.lookup_embed(&plan.key, model).await {
                return Ok(hit);
            }
        }
        let answer = self.inner.embed(req).await?;
        if plan.write {
            let value = CacheValue::Embed(answer.clone());
            store(
                &*self.config.backend,
                &plan.key,
                value,
                self.config.ttl,
                self.inner.name(),
            )
            .await;
        }
        Ok(answer)
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::llm::{Chunk, Scripted};

    fn det(text: &str) -> ChatRequest {
        ChatRequest::builder()
            .user(text)
            .temperature(0.0)
            .build()
            .unwrap()
    }

    #[test]
    fn modes_read_and_write_as_named() {
        assert!(!CacheMode::Off.reads() && !CacheMode::Off.writes());
        assert!(CacheMode::ReadOnly.reads() && !CacheMode::ReadOnly.writes());
        assert!(!CacheMode::WriteOnly.reads() && CacheMode::WriteOnly.writes());
        assert!(CacheMode::ReadWrite.reads() && CacheMode::ReadWrite.writes());
        assert_eq!(CacheMode::default(), CacheMode::ReadWrite);
    }

    #[test]
    fn defaults_are_as_documented() {
        let c = CacheConfig::default();
        assert_eq!(c.mode(), CacheMode::ReadWrite);
        assert_eq!(c.ttl(), Duration::from_secs(3600));
        assert!(!c.cache_nondeterministic());
        assert!(c.cache_embeddings());
        let err = CacheConfig::builder()
            .ttl(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }

    #[test]
    fn plans_follow_temperature_tags_mode_and_validity() {
        let cache = Cache::new(Scripted::new("m"), CacheConfig::default());
        assert!(cache.chat_plan(&det("x")).is_some());
        assert!(cache.chat_plan(&ChatRequest::user("x")).is_none());
        let mut hot = det("x");
        hot.temperature = Some(0.7);
        assert!(cache.chat_plan(&hot).is_none());
        hot.meta.tags.insert(TAG.into(), TAG_FORCE.into());
        assert!(cache.chat_plan(&hot).is_some());
        let mut off = det("x");
        off.meta.tags.insert(TAG.into(), TAG_OFF.into());
        assert!(cache.chat_plan(&off).is_none());
        let mut odd = det("x");
        odd.meta.tags.insert(TAG.into(), "maybe".into());
        assert!(
            cache.chat_plan(&odd).is_some(),
            "unknown tag values are ignored"
        );
        let mut invalid = det("x");
        invalid.messages.clear();
        assert!(cache.chat_plan(&invalid).is_none());

        let off = Cache::new(
            Scripted::new("m"),
            CacheConfig::builder().mode(CacheMode::Off).build().unwrap(),
        );
        assert!(off.chat_plan(&det("x")).is_none());
    }

    #[tokio::test]
    async fn a_collector_error_mid_stream_is_not_stored() {
        // A text event after done does not collect: the caller sees the events, the cache stores nothing.
        let inner = Scripted::new("m");
        inner.push_stream([Chunk::text("a"), Chunk::done(), Chunk::text("late")]);
        inner.push_text("fresh");
        let cache = Cache::new(inner, CacheConfig::default());
        let mut s = cache.chat_stream(det("q")).await.unwrap();
        let mut n = 0;
        while let Some(item) = s.next().await {
            item.unwrap();
            n += 1;
        }
        assert_eq!(n, 3);
        drop(s);
        assert_eq!(cache.chat(det("q")).await.unwrap().content, "fresh");
        assert_eq!(cache.get_ref().requests().len(), 2);
    }
}
