//! [`Cost`]: prices every answer from a [`PriceTable`], for `chat` and `chat_stream` alike.
//!
//! # What it does
//!
//! | call | what it sets |
//! |---|---|
//! | `chat` | [`ChatResponse::cost_usd`], from the answer's usage and the model that answered ([`ChatResponse::model`], priced as answered by [`ChatResponse::provider`]); when the table has no price for it, the model asked for ([`ChatResponse::requested_model`]: a config that pins and prices an alias gets answers from dated snapshots) |
//! | `chat_stream` | one final [`StreamEvent::Cost`] after the inner stream ends, computed from the stream's [`Usage`](StreamEvent::Usage) events and the model of its [`Start`](StreamEvent::Start) event (else, or when that one has no price, the requested model), so a collected stream has the same `cost_usd` as the same answer from `chat` |
//! | `embed` | [`EmbedResponse::cost_usd`], from its input tokens and the price of the model that made the vectors ([`ModelPrice::input_cost`]), unless the provider set one |
//! | `health_check` | nothing: forwarded unchanged |
//!
//! A stream that fails, ends without its done event or is dropped gets no cost event: its usage is not
//! final. When no cost can be computed, nothing is set or sent, so a cost the provider reported itself
//! (an inner [`StreamEvent::Cost`], or `cost_usd` on the answer) is kept; otherwise the table's price
//! replaces it. A cache hit ([`ChatResponse::cached`], `Start { cached: true }`) that already carries a
//! cost keeps the stored cost (metrics ignore the cost of hits; logs show it).
//!
//! # Unknown prices
//!
//! A model the table has no price for gets `cost_usd = None`, never a zero, and **one** `tracing` warning
//! per model id for the lifetime of the wrapper (and its clones), not one per call; at most
//! 1,024 distinct ids are remembered, past that further unknown ids are logged at debug level only. A
//! priced model whose answer lacks the input or output count also gets no cost (logged at debug level:
//! some servers never report usage).
//!
//! # Where it sits
//!
//! Just below the cache and above the fallback chain (see the [layer docs](crate::layer)): a cache hit
//! keeps the cost stored with it, and each fallback candidate's answer is priced by the model that
//! actually answered.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures_core::Stream;

use crate::Result;
use crate::llm::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider, ModelPrice,
    PriceTable, StreamEvent, Usage,
};

/// How many unknown model ids one wrapper remembers having warned about.
const MAX_WARNED: usize = 1024;

/// A provider whose answers carry their cost in US dollars, priced from a [`PriceTable`].
///
/// Built with [`LlmStackExt::with_prices`](crate::layer::LlmStackExt::with_prices) or [`Cost::new`]; see
/// the [module docs](self) for what it sets and when.
///
/// ```
/// use twelve_factor_ai::layer::LlmStackExt;
/// use twelve_factor_ai::llm::{
///     ChatRequest, ChatResponse, LlmProvider, LlmProviderExt, ModelPrice, PriceTable, Scripted, Usage,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// const MODEL: &str = "demo-model-2024-01-01";
/// let prices = PriceTable::new().with_price(MODEL, ModelPrice::new(2.5, 10.0));
/// let llm = Scripted::new(MODEL).with_prices(prices);
///
/// let usage = Usage { input_tokens: Some(1_000), output_tokens: Some(100), ..Usage::default() };
/// let answer = ChatResponse::text("scripted", MODEL, "Hello!").with_usage(usage);
/// llm.get_ref().push_response(answer.clone());
/// llm.get_ref().push_response(answer);
///
/// // (1,000 × 2.5 + 100 × 10) / 1,000,000
/// let chatted = llm.chat(ChatRequest::user("Hi")).await?;
/// assert_eq!(chatted.cost_usd, Some(0.0035));
/// // A stream ends with a cost event after its done event: collected, it costs the same.
/// let streamed = llm.chat_collected(ChatRequest::user("Hi")).await?;
/// assert_eq!(streamed.cost_usd, chatted.cost_usd);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Cost<P> {
    inner: P,
    pricer: Pricer,
}

impl<P: std::fmt::Debug> std::fmt::Debug for Cost<P> {
    // The table may hold thousands of prices: show its size, not its content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cost")
            .field("inner", &self.inner)
            .field("prices", &self.pricer.prices.len())
            .finish_non_exhaustive()
    }
}

impl<P: LlmProvider> Cost<P> {
    /// Prices `inner`'s answers from `prices` (a [`PriceTable`], or an `Arc` of one to share it between
    /// stacks).
    pub fn new(inner: P, prices: impl Into<Arc<PriceTable>>) -> Self {
        Cost {
            inner,
            pricer: Pricer {
                prices: prices.into(),
                warned: Arc::default(),
            },
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

    /// The prices.
    pub fn prices(&self) -> &Arc<PriceTable> {
        &self.pricer.prices
    }
}

/// The model ids a wrapper has warned about.
#[derive(Debug, Default)]
struct Warned(Mutex<HashSet<String>>);

impl Warned {
    /// Whether this is the first time `model` is unknown (and there is room to remember it).
    fn first(&self, model: &str) -> Option<bool> {
        // A poisoned lock only means a thread panicked while inserting; the set is still usable.
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(model) {
            Some(false)
        } else if seen.len() >= MAX_WARNED {
            None
        } else {
            seen.insert(model.to_owned());
            Some(true)
        }
    }
}

/// The table and the warned-about ids, shared by a wrapper, its clones and its streams.
#[derive(Debug, Clone)]
struct Pricer {
    prices: Arc<PriceTable>,
    warned: Arc<Warned>,
}

impl Pricer {
    /// The cost of an answer from `provider` with `usage`, if the table prices the model that answered
    /// (`reported`, when the provider said) or else the model asked for (`requested`: a config that pins an
    /// alias such as `gpt-4o` prices the alias, and the answer reports the dated snapshot), and the usage
    /// has the counts; warns once per unknown model.
    fn cost(
        &self,
        provider: &str,
        reported: Option<&str>,
        requested: &str,
        usage: &Usage,
    ) -> Option<f64> {
        let found = reported
            .and_then(|model| self.prices.lookup(model, Some(provider)))
            .or_else(|| self.prices.lookup(requested, Some(provider)));
        let model = reported.unwrap_or(requested);
        let Some(price) = found else {
            self.unknown(provider, model);
            return None;
        };
        let cost = ModelPrice::cost(price, usage);
        if cost.is_none() {
            tracing::debug!(
                provider,
                model,
                "no cost: the answer did not report its input and output token counts"
            );
        }
        cost
    }

    fn unknown(&self, provider: &str, model: &str) {
        match self.warned.first(model) {
            Some(true) => tracing::warn!(
                provider,
                model,
                "no price for model {model}: cost_usd stays unset; add the model to the price table \
                 (PriceTable::insert, or alias it to a listed model)"
            ),
            Some(false) => {}
            None => tracing::debug!(provider, model, "no price for model {model}"),
        }
    }
}

/// Passes a stream through, noting what it needs to price it, and sends one cost event after its end.
struct Priced {
    inner: ChatStream,
    pricer: Pricer,
    provider: Arc<str>,
    requested_model: String,
    reported_model: Option<String>,
    usage: Usage,
    cached: bool,
    had_cost: bool,
    saw_done: bool,
    failed: bool,
    ended: bool,
}

impl Priced {
    fn note(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Start { model, cached, .. } => {
                if model.is_some() {
                    self.reported_model.clone_from(model);
                }
                self.cached |= *cached;
            }
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::Done { .. } => self.saw_done = true,
            StreamEvent::Cost { .. } => self.had_cost = true,
            _ => {}
        }
    }

    /// The cost event to send after the inner stream's end, if any.
    fn closing(&self) -> Option<StreamEvent> {
        // An incomplete answer's usage is not final; a cache hit keeps the cost stored with it.
        if !self.saw_done || self.failed || (self.cached && self.had_cost) {
            return None;
        }
        let cost_usd = self.pricer.cost(
            &self.provider,
            self.reported_model.as_deref(),
            &self.requested_model,
            &self.usage,
        )?;
        Some(StreamEvent::Cost { cost_usd })
    }
}

impl Stream for Priced {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(event))) => {
                this.note(&event);
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.failed = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                // The inner stream is not polled again: some streams panic when polled after their end.
                this.ended = true;
                Poll::Ready(this.closing().map(Ok))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended {
            return (0, Some(0));
        }
        let (low, high) = self.inner.size_hint();
        (low, high.and_then(|h| h.checked_add(1)))
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<P: LlmProvider> LlmProvider for Cost<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        let mut answer = self.inner.chat(req).await?;
        if !(answer.cached && answer.cost_usd.is_some()) {
            let priced = self.pricer.cost(
                &answer.provider,
                answer.model.as_deref(),
                &answer.requested_model,
                &answer.usage,
            );
            if priced.is_some() {
                answer.cost_usd = priced;
            }
        }
        Ok(answer)
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        let requested_model = req.model_or(self.inner.model()).to_owned();
        let inner = self.inner.chat_stream(req).await?;
        Ok(Box::pin(Priced {
            inner,
            pricer: self.pricer.clone(),
            provider: Arc::from(self.inner.name()),
            requested_model,
            reported_model: None,
            usage: Usage::default(),
            cached: false,
            had_cost: false,
            saw_done: false,
            failed: false,
            ended: false,
        }))
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        let mut response = self.inner.embed(req).await?;
        if response.cost_usd.is_none() {
            match self
                .pricer
                .prices
                .lookup(&response.model, Some(&response.provider))
            {
                Some(price) => response.cost_usd = price.input_cost(&response.usage),
                None => self.pricer.unknown(&response.provider, &response.model),
            }
        }
        Ok(response)
    }

    async fn health_check(&self) -> Result<()> {
        self.inner.health_check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Chunk, FinishReason, LlmProviderExt, Scripted};
    use futures_util::StreamExt;

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            ..Usage::default()
        }
    }

    fn table() -> PriceTable {
        PriceTable::new().with_price("m", ModelPrice::new(2.0, 8.0))
    }

    #[tokio::test]
    async fn a_stream_is_priced_once_after_done_and_not_polled_after_its_end() {
        let inner = Scripted::new("m");
        inner.push_stream([
            Chunk::text("a"),
            Chunk::Event(StreamEvent::Usage {
                usage: usage(1_000, 0),
            }),
            Chunk::Event(StreamEvent::Done {
                finish_reason: FinishReason::Stop,
            }),
            // Anthropic-style: the output count comes after done.
            Chunk::Event(StreamEvent::Usage {
                usage: Usage {
                    output_tokens: Some(500),
                    ..Usage::default()
                },
            }),
        ]);
        let llm = Cost::new(inner, table());
        let mut s = llm.chat_stream(ChatRequest::user("x")).await.unwrap();
        let mut events = Vec::new();
        while let Some(e) = s.next().await {
            events.push(e.unwrap());
        }
        // (1,000 × 2 + 500 × 8) / 1e6
        assert_eq!(events.last(), Some(&StreamEvent::Cost { cost_usd: 0.006 }));
        assert_eq!(events.len(), 5);
        assert!(s.next().await.is_none());
        assert_eq!(s.size_hint(), (0, Some(0)));
    }

    #[tokio::test]
    async fn a_reported_model_is_priced_not_the_requested_one() {
        let inner = Scripted::new("alias");
        let mut r = ChatResponse::text("scripted", "alias", "hi").with_usage(usage(1_000, 1_000));
        r.model = Some("m".into());
        inner.push_response(r.clone());
        inner.push_response(r);
        let llm = Cost::new(inner, table());
        assert_eq!(
            llm.chat(ChatRequest::user("x")).await.unwrap().cost_usd,
            Some(0.01)
        );
        assert_eq!(
            llm.chat_collected(ChatRequest::user("x"))
                .await
                .unwrap()
                .cost_usd,
            Some(0.01)
        );
    }

    #[tokio::test]
    async fn embeddings_are_priced_by_their_input_tokens() {
        let inner = Scripted::new("m").with_hash_embeddings(4);
        let llm = Cost::new(inner, table());
        // 400 characters: the scripted provider reports about 100 input tokens.
        let r = llm
            .embed(EmbedRequest::new(["a".repeat(400)]))
            .await
            .unwrap();
        let tokens = r.usage.input_tokens.unwrap();
        assert_eq!(r.cost_usd, Some(tokens as f64 * 2.0 / 1e6));
        let unpriced = Cost::new(Scripted::new("x").with_hash_embeddings(4), table());
        let r = unpriced.embed(EmbedRequest::new(["a"])).await.unwrap();
        assert_eq!(r.cost_usd, None);
    }

    #[tokio::test]
    async fn an_unpriced_snapshot_is_priced_as_the_alias_that_was_asked_for() {
        // The table prices "m" (what the config pinned); the answer reports a dated snapshot of it.
        let inner = Scripted::new("m");
        let mut r = ChatResponse::text("scripted", "m", "hi").with_usage(usage(1_000, 1_000));
        r.model = Some("m-2024-08-06".into());
        inner.push_response(r.clone());
        inner.push_response(r);
        let llm = Cost::new(inner, table());
        assert_eq!(
            llm.chat(ChatRequest::user("x")).await.unwrap().cost_usd,
            Some(0.01)
        );
        assert_eq!(
            llm.chat_collected(ChatRequest::user("x"))
                .await
                .unwrap()
                .cost_usd,
            Some(0.01)
        );
    }

    #[tokio::test]
    async fn an_inner_cost_is_kept_only_when_no_price_is_known_or_the_answer_is_a_cache_hit() {
        let inner = Scripted::new("m");
        let mut own = ChatResponse::text("scripted", "m", "hi").with_usage(usage(1_000, 0));
        own.cost_usd = Some(1.0);
        inner.push_response(own.clone());
        let mut hit = own.clone();
        hit.cached = true;
        inner.push_response(hit.clone());
        inner.push_response(hit);
        let mut unknown = own;
        unknown.requested_model = "unpriced".into();
        inner.push_response(unknown);
        let llm = Cost::new(inner, table());

        let req = || ChatRequest::user("x");
        assert_eq!(llm.chat(req()).await.unwrap().cost_usd, Some(0.002));
        assert_eq!(llm.chat(req()).await.unwrap().cost_usd, Some(1.0));
        assert_eq!(llm.chat_collected(req()).await.unwrap().cost_usd, Some(1.0));
        let unpriced = ChatRequest::builder()
            .user("x")
            .model("unpriced")
            .build()
            .unwrap();
        assert_eq!(llm.chat(unpriced).await.unwrap().cost_usd, Some(1.0));
    }

    #[test]
    fn warned_ids_are_bounded() {
        let w = Warned::default();
        assert_eq!(w.first("a"), Some(true));
        assert_eq!(w.first("a"), Some(false));
        for i in 1..MAX_WARNED {
            assert_eq!(w.first(&i.to_string()), Some(true));
        }
        assert_eq!(w.first("one-too-many"), None);
        assert_eq!(w.first("a"), Some(false));
    }

    #[test]
    fn debug_shows_the_table_size_only() {
        let llm = Cost::new(Scripted::new("m"), table());
        let text = format!("{llm:?}");
        assert!(text.contains("prices: 1"), "{text}");
    }
}
