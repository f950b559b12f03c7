//! [`Fallback`]: an ordered chain of providers, each with its own pinned model and its own stack; when one
//! fails in a way another provider may not, the next one gets the request.
//!
//! - `chat` and `embed` try the candidates in order and return the first answer.
//! - `chat_stream` commits at the first event: a candidate whose stream fails (or ends) before its first
//!   event is skipped; once an event has reached the caller, a later failure is an error item of the
//!   stream and no other candidate is tried.
//! - `health_check` passes when any candidate is healthy: the chain can still serve.
//!
//! Each switch emits the counter [`FALLBACKS`](super::names::FALLBACKS) (labels: the provider that failed,
//! the operation, the error kind) and a `tracing` warning naming both providers.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::names;
use super::observe::{Opening, open, resume};
use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider, StreamEvent,
};
use crate::{Error, ErrorKind, Result};

type Predicate = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// When a [`Fallback`] chain moves on to its next provider.
#[derive(Clone)]
enum FallBackOn {
    /// [`Error::should_fallback`].
    Default,
    /// These kinds only.
    Kinds(Vec<ErrorKind>),
    /// A caller's predicate.
    When(Predicate),
}

/// Settings of a [`Fallback`] chain: which errors make it move on to the next provider.
///
/// The default falls back when [`Error::should_fallback`] is true: everything specific to one provider
/// (its rate limits, quota, health, key, model, context window, content policy, an open circuit) moves
/// on, because another provider may succeed; errors in the request, the host's configuration, local
/// stores, draining and budgets are returned at once, because every provider would fail the same way.
///
/// ```
/// use twelve_factor_ai::layer::fallback::FallbackConfig;
/// use twelve_factor_ai::{Error, ErrorKind};
///
/// let config = FallbackConfig::builder()
///     .on_kinds([ErrorKind::Overloaded, ErrorKind::Server])
///     .build()?;
/// assert!(config.falls_back_on(&Error::new(ErrorKind::Server, "boom")));
/// assert!(!config.falls_back_on(&Error::new(ErrorKind::RateLimited, "slow down")));
/// assert!(FallbackConfig::default().falls_back_on(&Error::new(ErrorKind::RateLimited, "slow down")));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Clone)]
pub struct FallbackConfig {
    on: FallBackOn,
}

impl Default for FallbackConfig {
    /// Falls back when [`Error::should_fallback`] is true (see the type's documentation for why).
    fn default() -> Self {
        FallbackConfig {
            on: FallBackOn::Default,
        }
    }
}

impl fmt::Debug for FallbackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("FallbackConfig");
        match &self.on {
            FallBackOn::Default => d.field("on", &"should_fallback"),
            FallBackOn::Kinds(kinds) => d.field("on", kinds),
            FallBackOn::When(_) => d.field("on", &"predicate"),
        };
        d.finish()
    }
}

impl FallbackConfig {
    /// A builder starting from the default ([`Error::should_fallback`]).
    pub fn builder() -> FallbackConfigBuilder {
        FallbackConfigBuilder {
            on: FallBackOn::Default,
        }
    }

    /// Whether the chain moves on to its next provider after `error`.
    pub fn falls_back_on(&self, error: &Error) -> bool {
        match &self.on {
            FallBackOn::Default => error.should_fallback(),
            FallBackOn::Kinds(kinds) => kinds.contains(&error.kind()),
            FallBackOn::When(predicate) => predicate(error),
        }
    }
}

/// Builds a [`FallbackConfig`]; the last of [`on_kinds`](Self::on_kinds) and [`when`](Self::when) wins.
#[derive(Clone)]
pub struct FallbackConfigBuilder {
    on: FallBackOn,
}

impl fmt::Debug for FallbackConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        FallbackConfig {
            on: self.on.clone(),
        }
        .fmt(f)
    }
}

impl FallbackConfigBuilder {
    /// Falls back on errors of these kinds only.
    pub fn on_kinds(mut self, kinds: impl IntoIterator<Item = ErrorKind>) -> Self {
        let mut list: Vec<ErrorKind> = Vec::new();
        for kind in kinds {
            if !list.contains(&kind) {
                list.push(kind);
            }
        }
        self.on = FallBackOn::Kinds(list);
        self
    }

    /// Falls back when `predicate` says so (it may call [`Error::should_fallback`] and refine it).
    pub fn when(mut self, predicate: impl Fn(&Error) -> bool + Send + Sync + 'static) -> Self {
        self.on = FallBackOn::When(Arc::new(predicate));
        self
    }

    /// The config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an empty list of kinds: such a chain would never reach its second
    /// provider.
    pub fn build(self) -> Result<FallbackConfig> {
        if matches!(&self.on, FallBackOn::Kinds(kinds) if kinds.is_empty()) {
            return Err(Error::config(
                "fallback: the list of error kinds to fall back on is empty; the chain would never use its \
                 other providers (name at least one kind, or keep the default)",
            ));
        }
        Ok(FallbackConfig { on: self.on })
    }
}

/// An ordered chain of providers: the first that answers wins.
///
/// Each candidate is a whole provider stack, bound to its own pinned model (a primary OpenAI model with
/// its own retry and rate limit, then an Anthropic model with its own, ...). [`name`](LlmProvider::name)
/// and [`model`](LlmProvider::model) report the primary's.
///
/// **Model override.** A request's `model` names a model of the primary's provider, so the primary gets
/// the request as it is and every other candidate gets it with `model` cleared, to call its own pinned
/// model: that is the point of the chain. The same holds for [`EmbedRequest::model`].
///
/// **Answers.** The response's `provider`, `model` and `requested_model` are the answering candidate's,
/// and `attempts` adds the calls that failed before it (a failed candidate counts as one call plus the
/// attempts its error carries, such as a retry layer's) to the answer's own count.
///
/// **Failures.** An error the [`FallbackConfig`] does not fall back on is returned at once (carrying the
/// errors of the candidates tried before it as [`Error::attempts`]). When every candidate fails, the error
/// has the last one's kind, says that all N providers failed, and carries every candidate's error as
/// [`Error::attempts`].
///
/// **Streams** commit at the first event: until a candidate's stream yields an event, a failure (or an
/// end) moves on to the next candidate; after it, a failure is an error item of the stream, never a
/// silent end, and no other candidate is tried.
///
/// ```
/// use std::sync::Arc;
/// use twelve_factor_ai::layer::fallback::{Fallback, FallbackConfig};
/// use twelve_factor_ai::llm::{ChatRequest, LlmProvider, Scripted};
/// use twelve_factor_ai::{Error, ErrorKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let primary = Arc::new(Scripted::new("primary-model-2024-01-01").with_name("openai"));
/// primary.push_error(Error::new(ErrorKind::Overloaded, "busy").with_status(503));
/// let backup = Arc::new(Scripted::new("backup-model-2024-01-01").with_name("anthropic"));
/// backup.push_text("Hello from the backup");
///
/// let chain = Fallback::new(vec![primary.clone(), backup.clone()], FallbackConfig::default())?;
/// assert_eq!(chain.name(), "openai");
/// let answer = chain.chat(ChatRequest::user("Hi")).await?;
/// assert_eq!(answer.content, "Hello from the backup");
/// assert_eq!(answer.provider, "anthropic");
/// assert_eq!(answer.requested_model, "backup-model-2024-01-01");
/// assert_eq!(answer.attempts, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Fallback {
    /// Never empty: `new` refuses an empty chain.
    chain: Vec<Arc<dyn LlmProvider>>,
    config: FallbackConfig,
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("chain", &self.chain)
            .field("config", &self.config)
            .finish()
    }
}

impl Fallback {
    /// A chain trying `chain` in order.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when `chain` is empty.
    pub fn new(chain: Vec<Arc<dyn LlmProvider>>, config: FallbackConfig) -> Result<Self> {
        if chain.is_empty() {
            return Err(Error::config(
                "fallback: the chain has no provider; give at least one",
            ));
        }
        Ok(Fallback { chain, config })
    }

    /// A chain trying `primary`, then `others` in order.
    pub fn from_primary(
        primary: impl LlmProvider + 'static,
        others: impl IntoIterator<Item = Arc<dyn LlmProvider>>,
        config: FallbackConfig,
    ) -> Self {
        let mut chain: Vec<Arc<dyn LlmProvider>> = vec![Arc::new(primary)];
        chain.extend(others);
        Fallback { chain, config }
    }

    /// The candidates, primary first.
    pub fn get_ref(&self) -> &[Arc<dyn LlmProvider>] {
        &self.chain
    }

    /// The candidates, primary first.
    pub fn into_inner(self) -> Vec<Arc<dyn LlmProvider>> {
        self.chain
    }

    /// The settings.
    pub fn config(&self) -> &FallbackConfig {
        &self.config
    }

    /// Records a failed candidate and decides: `Ok(())` to move on, `Err` to return now.
    fn on_failure(
        &self,
        index: usize,
        error: Error,
        failed: &mut Failed,
        operation: &'static str,
    ) -> Result<()> {
        if !self.config.falls_back_on(&error) {
            return Err(std::mem::take(failed).stop_with(error));
        }
        if let Some(next) = self.chain.get(index + 1) {
            let from = self.chain.get(index).map_or("", |p| p.name());
            switched(from, next.name(), operation, &error);
        }
        failed.push(error);
        Ok(())
    }

    fn all_failed(&self, failed: Failed) -> Error {
        failed.all_failed(self.chain.len())
    }
}

/// Emits the metric and the warning of one switch.
fn switched(from: &str, to: &str, operation: &'static str, error: &Error) {
    metrics::counter!(
        names::FALLBACKS,
        names::PROVIDER_NAME => from.to_owned(),
        names::OPERATION_NAME => operation,
        names::ERROR_TYPE => error.kind().as_str(),
    )
    .increment(1);
    tracing::warn!(
        from,
        to,
        operation,
        error.type = error.kind().as_str(),
        error = %error,
        "fallback: provider failed, trying the next one"
    );
}

/// The candidates that failed so far.
#[derive(Default)]
struct Failed {
    errors: Vec<Error>,
    calls: u32,
}

impl Failed {
    fn push(&mut self, error: Error) {
        // A failed candidate made one call plus the attempts its error reports (a retry layer's).
        let calls = u32::try_from(error.attempts().len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        self.calls = self.calls.saturating_add(calls);
        self.errors.push(error);
    }

    /// The error to return when a candidate fails in a way the chain does not fall back on.
    fn stop_with(mut self, error: Error) -> Error {
        if self.errors.is_empty() {
            return error;
        }
        self.errors.push(error.clone());
        error.with_attempts(self.errors)
    }

    /// The error when all `n` candidates failed.
    fn all_failed(self, n: usize) -> Error {
        let Some(last) = self.errors.last() else {
            return Error::config("fallback: the chain has no provider");
        };
        let mut error = Error::new(
            last.kind(),
            format!("all {n} providers of the fallback chain failed"),
        );
        if let Some(wait) = self.errors.iter().filter_map(Error::retry_after).min() {
            error = error.with_retry_after(wait);
        }
        if last.is_local() {
            error = error.local();
        }
        error.with_attempts(self.errors)
    }
}

/// Makes a backup's stream say which model answers: a stream without a `Start` model would otherwise be
/// taken, by logging, metrics and prices above the chain, for an answer of the model the caller asked
/// the primary for. (A backup is sent the request without its model override, so it calls its pinned
/// model.)
fn name_the_model(held: &mut Vec<StreamEvent>, model: &str) {
    for event in held.iter_mut() {
        if let StreamEvent::Start { model: named, .. } = event {
            if named.is_none() {
                *named = Some(model.to_owned());
            }
            return;
        }
    }
    held.insert(
        0,
        StreamEvent::Start {
            model: Some(model.to_owned()),
            provider_request_id: None,
            cached: false,
        },
    );
}

/// Hands out the request for candidate `index`: the primary gets it as is, the others without the model
/// override; the last candidate takes it without a copy.
struct Requests<R> {
    req: Option<R>,
    last: usize,
}

trait HasModel: Clone {
    fn clear_model(&mut self);
}

impl HasModel for ChatRequest {
    fn clear_model(&mut self) {
        self.model = None;
    }
}

impl HasModel for EmbedRequest {
    fn clear_model(&mut self) {
        self.model = None;
    }
}

impl<R: HasModel> Requests<R> {
    fn new(req: R, n: usize) -> Self {
        Requests {
            req: Some(req),
            last: n.saturating_sub(1),
        }
    }

    fn for_candidate(&mut self, index: usize) -> Option<R> {
        if index == 1 {
            if let Some(req) = self.req.as_mut() {
                req.clear_model();
            }
        }
        if index >= self.last {
            self.req.take()
        } else {
            self.req.clone()
        }
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl LlmProvider for Fallback {
    fn name(&self) -> &str {
        // The chain is never empty (`new` refuses it); the default only keeps this free of panics.
        self.chain.first().map_or("fallback", |p| p.name())
    }

    fn model(&self) -> &str {
        self.chain.first().map_or("", |p| p.model())
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let mut requests = Requests::new(req, self.chain.len());
        let mut failed = Failed::default();
        for (i, candidate) in self.chain.iter().enumerate() {
            let Some(req) = requests.for_candidate(i) else {
                break;
            };
            match candidate.chat(req).await {
                Ok(mut response) => {
                    response.attempts = response.attempts.saturating_add(failed.calls);
                    return Ok(response);
                }
                Err(e) => self.on_failure(i, e, &mut failed, "chat")?,
            }
        }
        Err(self.all_failed(failed))
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let mut requests = Requests::new(req, self.chain.len());
        let mut failed = Failed::default();
        for (i, candidate) in self.chain.iter().enumerate() {
            let Some(req) = requests.for_candidate(i) else {
                break;
            };
            let error = match candidate.chat_stream(req).await {
                Err(e) => e,
                Ok(mut stream) => match open(&mut stream).await {
                    Opening::Content(mut held) => {
                        // Committed at the first content: from here on the caller sees this
                        // candidate's stream as it is.
                        if i > 0 {
                            name_the_model(&mut held, candidate.model());
                        }
                        return Ok(resume(held, stream));
                    }
                    Opening::Failed(e) => e,
                    Opening::Ended => Error::decode("the stream ended before its first content")
                        .with_provider(candidate.name()),
                },
            };
            self.on_failure(i, error, &mut failed, "chat")?;
        }
        Err(self.all_failed(failed))
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let mut requests = Requests::new(req, self.chain.len());
        let mut failed = Failed::default();
        for (i, candidate) in self.chain.iter().enumerate() {
            let Some(req) = requests.for_candidate(i) else {
                break;
            };
            match candidate.embed(req).await {
                Ok(response) => return Ok(response),
                Err(e) => self.on_failure(i, e, &mut failed, "embeddings")?,
            }
        }
        Err(self.all_failed(failed))
    }

    /// Healthy when any candidate is healthy (the chain can serve); the error carries every candidate's.
    async fn health_check(&self) -> Result<()> {
        let mut failed = Failed::default();
        for candidate in &self.chain {
            match candidate.health_check().await {
                Ok(()) => return Ok(()),
                Err(e) => failed.push(e),
            }
        }
        Err(self.all_failed(failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Chunk, LlmProviderExt, Scripted};
    use crate::testing::conformance::llm_provider::{LlmCapabilities, llm_provider};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use std::time::Duration;

    fn secs(d: Option<Duration>) -> Option<u64> {
        d.map(|d| d.as_secs())
    }

    fn scripted(name: &str, model: &str) -> Arc<Scripted> {
        Arc::new(Scripted::new(model).with_name(name))
    }

    fn chain(providers: &[&Arc<Scripted>], config: FallbackConfig) -> Fallback {
        let chain: Vec<Arc<dyn LlmProvider>> = providers
            .iter()
            .map(|p| Arc::clone(p) as Arc<dyn LlmProvider>)
            .collect();
        Fallback::new(chain, config).unwrap()
    }

    #[test]
    fn empty_chain_and_empty_kinds_are_config_errors() {
        let err = Fallback::new(Vec::new(), FallbackConfig::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = FallbackConfig::builder()
            .on_kinds(Vec::new())
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let cfg = FallbackConfig::builder()
            .when(|e| e.kind() == ErrorKind::InvalidRequest)
            .build()
            .unwrap();
        assert!(cfg.falls_back_on(&Error::invalid_request("x")));
        assert!(!cfg.falls_back_on(&Error::new(ErrorKind::Server, "x")));
        assert!(format!("{cfg:?}").contains("predicate"));
    }

    #[tokio::test]
    async fn conformance_single_and_double() {
        let caps = LlmCapabilities::default()
            .with_embeddings(true)
            .with_usage(true);
        let one = Fallback::from_primary(
            Scripted::new("m").echo_when_empty().with_hash_embeddings(8),
            Vec::new(),
            FallbackConfig::default(),
        );
        llm_provider(&one, &caps).await;
        let two = Fallback::from_primary(
            Scripted::new("m").echo_when_empty().with_hash_embeddings(8),
            [Scripted::new("other").echo_when_empty().boxed()],
            FallbackConfig::default(),
        );
        llm_provider(&two, &caps).await;
    }

    #[tokio::test]
    async fn attempts_add_the_failed_candidates_and_their_retries() {
        let a = scripted("a", "ma");
        let retried = Error::new(ErrorKind::Server, "third try").with_attempts(vec![
            Error::new(ErrorKind::Server, "1"),
            Error::new(ErrorKind::Server, "2"),
        ]);
        a.push_error(retried);
        let b = scripted("b", "mb");
        b.push_error(Error::new(ErrorKind::Timeout, "slow"));
        let c = scripted("c", "mc");
        let mut answer = ChatResponse::text("c", "mc", "ok");
        answer.attempts = 2;
        c.push_response(answer);
        let f = chain(&[&a, &b, &c], FallbackConfig::default());
        let r = f.chat(ChatRequest::user("q")).await.unwrap();
        assert_eq!(r.provider, "c");
        assert_eq!(r.requested_model, "mc");
        assert_eq!(r.attempts, 3 + 1 + 2);
    }

    #[tokio::test]
    async fn all_failed_keeps_every_error_and_the_soonest_retry_after() {
        let a = scripted("a", "ma");
        a.push_error(
            Error::new(ErrorKind::RateLimited, "slow").with_retry_after(Duration::from_secs(7)),
        );
        let b = scripted("b", "mb");
        b.push_error(
            Error::new(ErrorKind::RateLimited, "slower").with_retry_after(Duration::from_secs(3)),
        );
        let f = chain(&[&a, &b], FallbackConfig::default());
        let err = f.chat(ChatRequest::user("q")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.attempts().len(), 2);
        assert_eq!(secs(err.retry_after()), Some(3));
        assert!(err.message().contains("all 2 providers"), "{err}");
        assert!(!err.is_local());
    }

    #[tokio::test]
    async fn a_late_non_fallback_error_carries_the_earlier_ones() {
        let a = scripted("a", "ma");
        a.push_error(Error::new(ErrorKind::Server, "boom"));
        let b = scripted("b", "mb");
        b.push_error(Error::invalid_request("too long for b"));
        let c = scripted("c", "mc");
        let f = chain(&[&a, &b, &c], FallbackConfig::default());
        let err = f.chat(ChatRequest::user("q")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.attempts().len(), 2);
        assert_eq!(err.attempts()[0].kind(), ErrorKind::Server);
        assert!(c.requests().is_empty());
    }

    #[tokio::test]
    async fn switches_are_counted() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let _guard = metrics::set_default_local_recorder(&recorder);
        let a = scripted("a", "ma");
        a.push_error(Error::new(ErrorKind::Overloaded, "busy"));
        let b = scripted("b", "mb");
        b.push_text("ok");
        let f = chain(&[&a, &b], FallbackConfig::default());
        f.chat(ChatRequest::user("q")).await.unwrap();
        let found: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(k, _, _, _)| k.key().name() == names::FALLBACKS)
            .collect();
        assert_eq!(found.len(), 1);
        let (key, _, _, value) = &found[0];
        assert_eq!(value, &DebugValue::Counter(1));
        let labels: Vec<(String, String)> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        assert!(labels.contains(&(names::PROVIDER_NAME.to_owned(), "a".to_owned())));
        assert!(labels.contains(&(names::ERROR_TYPE.to_owned(), "overloaded".to_owned())));
        assert!(labels.contains(&(names::OPERATION_NAME.to_owned(), "chat".to_owned())));
    }

    #[tokio::test]
    async fn stream_that_ends_before_its_first_event_falls_back() {
        let a = scripted("a", "ma");
        a.push_stream([]);
        let b = scripted("b", "mb");
        b.push_stream([Chunk::text("from b"), Chunk::done()]);
        let f = chain(&[&a, &b], FallbackConfig::default());
        let r = f.chat_collected(ChatRequest::user("q")).await.unwrap();
        assert_eq!(r.content, "from b");
    }

    #[tokio::test]
    async fn embed_moves_on_from_unsupported() {
        let chat_only = scripted("chat-only", "m");
        let embedder = Arc::new(Scripted::new("e").with_hash_embeddings(4));
        let chain: Vec<Arc<dyn LlmProvider>> = vec![chat_only.clone(), embedder.clone()];
        let f = Fallback::new(chain, FallbackConfig::default()).unwrap();
        let v = f
            .embed(EmbedRequest::new(["x"]).with_model("primary-embedder"))
            .await
            .unwrap();
        assert_eq!(v.embeddings.len(), 1);
        // The primary gets the override, the next candidate its own pinned model.
        assert_eq!(
            chat_only.embed_requests()[0].model.as_deref(),
            Some("primary-embedder")
        );
        assert_eq!(embedder.embed_requests()[0].model, None);
    }
}
