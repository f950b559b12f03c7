//! [`Scripted`]: a provider that replays what a test tells it to, and records what it was asked.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

use super::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, LlmProvider, Role,
    StreamCollector, StreamEvent, Usage,
};
use crate::{Error, ErrorKind, Result};

/// One piece of a scripted stream.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Send this event.
    Event(StreamEvent),
    /// Wait this long (tokio time, so paused-time tests stay deterministic).
    Delay(Duration),
    /// Send this error; the stream ends after it.
    Error(Error),
}

impl Chunk {
    /// A text piece.
    pub fn text(text: impl Into<String>) -> Self {
        Chunk::Event(StreamEvent::TextDelta { text: text.into() })
    }

    /// The done event with finish reason `stop`.
    pub fn done() -> Self {
        Chunk::Event(StreamEvent::Done {
            finish_reason: super::FinishReason::Stop,
        })
    }
}

/// What the next chat call answers.
// A test double's queue: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Reply {
    /// A whole response (streamed as one piece by `chat_stream`).
    Response(ChatResponse),
    /// A failure.
    Error(Error),
    /// A stream of chunks (collected by `chat`).
    Stream(Vec<Chunk>),
}

/// What the next embed call answers.
#[derive(Debug, Clone)]
pub enum EmbedReply {
    /// These vectors.
    Embeddings(Vec<Vec<f32>>),
    /// A failure.
    Error(Error),
}

/// What a scripted provider does when a call finds its queue empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenEmpty {
    Fail,
    Echo,
}

#[derive(Debug)]
struct State {
    chat: VecDeque<(Duration, Reply)>,
    embed: VecDeque<(Duration, EmbedReply)>,
    chat_requests: Vec<ChatRequest>,
    embed_requests: Vec<EmbedRequest>,
    when_empty: WhenEmpty,
    hash_embedding_dimension: Option<usize>,
    health: Option<Error>,
}

/// A provider for tests and demos: it answers from a queue of scripted replies (responses, errors, streams
/// with delays and faults) and records every request it received.
///
/// With [`echo_when_empty`](Scripted::echo_when_empty) it answers any chat by echoing the last user
/// message, and with [`with_hash_embeddings`](Scripted::with_hash_embeddings) it embeds any text into a
/// deterministic bag-of-words vector, so demos and conformance suites run without a model.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::llm::{Chunk, LlmProvider, LlmProviderExt, Scripted};
/// use twelve_factor_ai::{Error, ErrorKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let llm = Scripted::new("test-model-2024-01-01");
/// llm.push_error(Error::new(ErrorKind::RateLimited, "slow down").with_status(429));
/// llm.push_stream([Chunk::text("Hel"), Chunk::Delay(Duration::from_millis(5)), Chunk::text("lo"), Chunk::done()]);
///
/// assert_eq!(llm.complete("hi").await.unwrap_err().kind(), ErrorKind::RateLimited);
/// assert_eq!(llm.complete("hi again").await?, "Hello");
/// assert_eq!(llm.requests().len(), 2);
/// assert_eq!(llm.requests()[1].messages[0].text(), "hi again");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Scripted {
    name: String,
    model: String,
    state: Mutex<State>,
}

impl Scripted {
    /// A scripted provider named `"scripted"`, pinned to `model`, with empty queues that fail when used.
    pub fn new(model: impl Into<String>) -> Self {
        Scripted {
            name: "scripted".to_owned(),
            model: model.into(),
            state: Mutex::new(State {
                chat: VecDeque::new(),
                embed: VecDeque::new(),
                chat_requests: Vec::new(),
                embed_requests: Vec::new(),
                when_empty: WhenEmpty::Fail,
                hash_embedding_dimension: None,
                health: None,
            }),
        }
    }

    /// Reports this provider name instead of `"scripted"` (to stand in for `"openai"` in a test).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// When the chat queue is empty, answer with the text of the last user message instead of failing.
    pub fn echo_when_empty(self) -> Self {
        self.lock().when_empty = WhenEmpty::Echo;
        self
    }

    /// When the embed queue is empty, embed each text into a deterministic, normalised bag-of-words
    /// vector of `dimension` (words hashed into buckets): texts sharing words get similar vectors.
    pub fn with_hash_embeddings(self, dimension: usize) -> Self {
        self.lock().hash_embedding_dimension = Some(dimension.max(1));
        self
    }

    // A poisoned lock only means another test thread panicked; the state itself is still consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a reply for the next chat call.
    pub fn push(&self, reply: Reply) {
        self.push_delayed(Duration::ZERO, reply);
    }

    /// Queues a reply that comes after `delay`.
    pub fn push_delayed(&self, delay: Duration, reply: Reply) {
        self.lock().chat.push_back((delay, reply));
    }

    /// Queues a plain text answer.
    pub fn push_text(&self, text: impl Into<String>) {
        let response = ChatResponse::text(self.name.clone(), self.model.clone(), text);
        self.push(Reply::Response(response));
    }

    /// Queues a whole response.
    pub fn push_response(&self, response: ChatResponse) {
        self.push(Reply::Response(response));
    }

    /// Queues a failure.
    pub fn push_error(&self, error: Error) {
        self.push(Reply::Error(error));
    }

    /// Queues a stream.
    pub fn push_stream(&self, chunks: impl IntoIterator<Item = Chunk>) {
        self.push(Reply::Stream(chunks.into_iter().collect()));
    }

    /// Queues vectors for the next embed call.
    pub fn push_embeddings(&self, embeddings: Vec<Vec<f32>>) {
        self.lock()
            .embed
            .push_back((Duration::ZERO, EmbedReply::Embeddings(embeddings)));
    }

    /// Queues a failure for the next embed call.
    pub fn push_embed_error(&self, error: Error) {
        self.lock()
            .embed
            .push_back((Duration::ZERO, EmbedReply::Error(error)));
    }

    /// Makes health checks fail with `error` (`None`: healthy again).
    pub fn set_health(&self, error: Option<Error>) {
        self.lock().health = error;
    }

    /// The chat requests received so far, oldest first.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.lock().chat_requests.clone()
    }

    /// The embed requests received so far, oldest first.
    pub fn embed_requests(&self) -> Vec<EmbedRequest> {
        self.lock().embed_requests.clone()
    }

    /// How many chat replies are still queued.
    pub fn remaining(&self) -> usize {
        self.lock().chat.len()
    }

    fn next_chat(&self, req: &ChatRequest) -> Result<(Duration, Reply)> {
        let mut state = self.lock();
        state.chat_requests.push(req.clone());
        if let Some(step) = state.chat.pop_front() {
            return Ok(step);
        }
        match state.when_empty {
            WhenEmpty::Echo => Ok((Duration::ZERO, Reply::Response(self.echo(req)))),
            WhenEmpty::Fail => Err(Error::new(
                ErrorKind::Config,
                "scripted provider has no reply queued for this chat call",
            )
            .with_provider(self.name.clone())),
        }
    }

    fn echo(&self, req: &ChatRequest) -> ChatResponse {
        let text = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.text())
            .unwrap_or_default();
        let input_chars: usize = req.messages.iter().map(|m| m.text().len()).sum();
        ChatResponse::text(self.name.clone(), self.model.clone(), text.clone()).with_usage(Usage {
            input_tokens: Some(approx_tokens(input_chars)),
            output_tokens: Some(approx_tokens(text.len())),
            cached_input_tokens: None,
            reasoning_tokens: None,
            cache_creation_input_tokens: None,
        })
    }

    fn stream_of(&self, chunks: Vec<Chunk>) -> ChatStream {
        let provider = self.name.clone();
        let stream = futures_util::stream::unfold(
            (VecDeque::from(chunks), false),
            move |(mut chunks, ended)| {
                let provider = provider.clone();
                async move {
                    if ended {
                        return None;
                    }
                    loop {
                        match chunks.pop_front()? {
                            Chunk::Delay(d) => tokio::time::sleep(d).await,
                            Chunk::Event(e) => return Some((Ok(e), (chunks, false))),
                            Chunk::Error(e) => {
                                let e = if e.provider().is_none() {
                                    e.with_provider(provider)
                                } else {
                                    e
                                };
                                return Some((Err(e), (chunks, true)));
                            }
                        }
                    }
                }
            },
        );
        Box::pin(stream)
    }

    fn finish_response(&self, mut response: ChatResponse, req: &ChatRequest) -> ChatResponse {
        response.provider = self.name.clone();
        response.requested_model = req.model_or(&self.model).to_owned();
        response
    }
}

/// About four characters per token: a rough figure for scripted usage counts.
fn approx_tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX)
}

/// Feature hashing of lowercase words into `dimension` buckets, normalised to length 1.
fn hash_embedding(text: &str, dimension: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; dimension];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        // FNV-1a: stable across runs and platforms, unlike std's randomly seeded hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.to_lowercase().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let bucket = usize::try_from(h % dimension as u64).unwrap_or(0);
        v[bucket] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else {
        v[0] = 1.0;
    }
    v
}

#[async_trait]
impl LlmProvider for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse> {
        req.validate()?;
        let (delay, reply) = self.next_chat(&req)?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match reply {
            Reply::Response(r) => Ok(self.finish_response(r, &req)),
            Reply::Error(e) => Err(e),
            Reply::Stream(chunks) => {
                let mut stream = self.stream_of(chunks);
                let mut collector =
                    StreamCollector::new(self.name.clone(), req.model_or(&self.model));
                while let Some(event) = stream.next().await {
                    collector.push(event?)?;
                }
                collector.finish()
            }
        }
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChatStream> {
        req.validate()?;
        let (delay, reply) = self.next_chat(&req)?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match reply {
            Reply::Response(r) => Ok(self.finish_response(r, &req).into_stream()),
            Reply::Error(e) => Err(e),
            Reply::Stream(chunks) => Ok(self.stream_of(chunks)),
        }
    }

    async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse> {
        req.validate()?;
        let model = req.model.clone().unwrap_or_else(|| self.model.clone());
        let step = {
            let mut state = self.lock();
            state.embed_requests.push(req.clone());
            match state.embed.pop_front() {
                Some(step) => Ok(step),
                None => match state.hash_embedding_dimension {
                    Some(dim) => Ok((
                        Duration::ZERO,
                        EmbedReply::Embeddings(req.inputs.iter().map(|t| hash_embedding(t, dim)).collect()),
                    )),
                    None => Err(Error::unsupported(
                        "scripted provider has no embeddings queued and no hash embeddings configured",
                    )
                    .with_provider(self.name.clone())),
                },
            }
        };
        let (delay, reply) = step?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match reply {
            EmbedReply::Embeddings(embeddings) => {
                let chars: usize = req.inputs.iter().map(String::len).sum();
                let mut res = EmbedResponse::new(self.name.clone(), model, embeddings);
                res.usage.input_tokens = Some(approx_tokens(chars));
                Ok(res)
            }
            EmbedReply::Error(e) => Err(e),
        }
    }

    async fn health_check(&self) -> Result<()> {
        match &self.lock().health {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{FinishReason, LlmProviderExt, collect};

    #[tokio::test]
    async fn replays_in_order_and_records_requests() {
        let s = Scripted::new("m");
        s.push_text("one");
        s.push_error(Error::new(ErrorKind::Server, "boom"));
        s.push_text("three");
        assert_eq!(s.complete("a").await.unwrap(), "one");
        assert_eq!(s.complete("b").await.unwrap_err().kind(), ErrorKind::Server);
        assert_eq!(s.complete("c").await.unwrap(), "three");
        let empty = s.complete("d").await.unwrap_err();
        assert_eq!(empty.kind(), ErrorKind::Config);
        let texts: Vec<String> = s.requests().iter().map(|r| r.messages[0].text()).collect();
        assert_eq!(texts, ["a", "b", "c", "d"]);
    }

    #[tokio::test(start_paused = true)]
    async fn stream_delays_use_tokio_time() {
        let s = Scripted::new("m");
        s.push_stream([
            Chunk::text("a"),
            Chunk::Delay(Duration::from_secs(30)),
            Chunk::text("b"),
            Chunk::done(),
        ]);
        let start = tokio::time::Instant::now();
        let r = s.chat_collected(ChatRequest::user("x")).await.unwrap();
        assert_eq!(r.content, "ab");
        assert_eq!(r.finish_reason, FinishReason::Stop);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_stream_error_is_an_item_and_ends_the_stream() {
        let s = Scripted::new("m");
        s.push_stream([
            Chunk::text("partial"),
            Chunk::Error(Error::new(ErrorKind::Transport, "reset")),
            Chunk::text("never"),
        ]);
        let mut stream = s.chat_stream(ChatRequest::user("x")).await.unwrap();
        assert!(stream.next().await.unwrap().is_ok());
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport);
        assert_eq!(err.provider(), Some("scripted"));
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn a_cut_stream_is_not_a_clean_answer() {
        let s = Scripted::new("m");
        s.push_stream([Chunk::text("half")]);
        let err = s.complete("x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
    }

    #[tokio::test]
    async fn echo_and_hash_embeddings() {
        let s = Scripted::new("m")
            .echo_when_empty()
            .with_hash_embeddings(32);
        let r = s
            .chat(
                ChatRequest::builder()
                    .system("sys")
                    .user("hello there")
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.content, "hello there");
        assert!(r.usage.input_tokens.unwrap() > 0);
        let streamed = collect(
            s.chat_stream(ChatRequest::user("hi")).await.unwrap(),
            "scripted",
            "m",
        )
        .await
        .unwrap();
        assert_eq!(streamed.content, "hi");

        let a = s.embed_one("red apples and green pears").await.unwrap();
        let b = s.embed_one("green pears and red apples").await.unwrap();
        let c = s.embed_one("tax law").await.unwrap();
        assert_eq!(a.len(), 32);
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&a, &b) - 1.0).abs() < 1e-5, "same words, same vector");
        assert!(dot(&a, &c) < 0.5);
    }

    #[tokio::test]
    async fn invalid_requests_are_refused_before_the_queue() {
        let s = Scripted::new("m");
        s.push_text("kept");
        let err = s
            .chat(ChatRequest::from_messages(vec![]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(s.remaining(), 1);
        assert!(s.requests().is_empty());
    }

    #[tokio::test]
    async fn model_override_and_health() {
        let s = Scripted::new("pinned").with_name("openai");
        s.push_text("x");
        let r = s
            .chat(
                ChatRequest::builder()
                    .user("q")
                    .model("other")
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.requested_model, "other");
        assert_eq!(r.provider, "openai");
        assert!(s.health_check().await.is_ok());
        s.set_health(Some(Error::new(ErrorKind::Transport, "down")));
        assert_eq!(
            s.health_check().await.unwrap_err().kind(),
            ErrorKind::Transport
        );
        assert_eq!(
            s.embed_one("x").await.unwrap_err().kind(),
            ErrorKind::Unsupported
        );
    }
}
