//! Streaming: [`ChatStream`], its [`StreamEvent`]s, and [`StreamCollector`], which folds a stream into a
//! [`ChatResponse`].

use std::collections::HashMap;
use std::pin::Pin;

use futures_core::Stream;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{ChatResponse, FinishReason, ToolCall, Usage};
use crate::{Error, Result};

/// A streamed answer: events until [`StreamEvent::Done`], or an error item.
///
/// A stream that ends without `Done` is incomplete; [`StreamCollector::finish`] reports it as
/// [`ErrorKind::Decode`](crate::ErrorKind::Decode), never as a short answer. Dropping the stream cancels
/// the upstream request.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent>> + Send>>;

/// One event of a [`ChatStream`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// What the provider said about the response before its content, when it said it.
    Start {
        /// The model the provider says answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// The provider's request id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_request_id: Option<String>,
        /// The stream replays a cached answer (see [`ChatResponse::cached`]): its usage was not spent again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        cached: bool,
    },
    /// A piece of the answer's text.
    TextDelta {
        /// The text to append.
        text: String,
    },
    /// A piece of a tool call. Pieces with the same `index` (and the same `id`, once one was given) belong to
    /// one call; `arguments` pieces are concatenated.
    ToolCallDelta {
        /// The call's position among the parallel calls of this answer.
        index: u32,
        /// The call's id, usually only on its first piece.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The tool's name, usually only on the first piece.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// A fragment of the JSON arguments.
        #[serde(default)]
        arguments: String,
    },
    /// Token counts; counts not given keep their earlier value.
    Usage {
        /// The counts.
        usage: Usage,
    },
    /// The answer is complete. Nothing but [`StreamEvent::Usage`] and [`StreamEvent::Cost`] may follow.
    Done {
        /// Why the model stopped.
        finish_reason: FinishReason,
    },
    /// What the call cost in US dollars ([`ChatResponse::cost_usd`]). Sent after [`StreamEvent::Done`] by
    /// the [`Cost`](crate::layer::cost::Cost) wrapper, once the usage is final; a later one replaces an
    /// earlier one.
    Cost {
        /// The cost in US dollars.
        cost_usd: f64,
    },
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Folds [`StreamEvent`]s into a [`ChatResponse`], one event at a time.
///
/// Wrappers that watch a stream go by (cache, logging) push each event as it passes; callers that just
/// want the whole answer use [`collect`].
///
/// Tool-call pieces are keyed by their `index` and, when given, their `id`: a piece with a new id at an
/// index that already has a call starts a new call, so servers that number every parallel call `0` do not
/// mix their arguments.
///
/// ```
/// use twelve_factor_ai::llm::{FinishReason, StreamCollector, StreamEvent};
///
/// let mut c = StreamCollector::new("scripted", "model-1");
/// c.push(StreamEvent::TextDelta { text: "Hel".into() })?;
/// c.push(StreamEvent::TextDelta { text: "lo".into() })?;
/// c.push(StreamEvent::Done { finish_reason: FinishReason::Stop })?;
/// assert_eq!(c.finish()?.content, "Hello");
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug)]
pub struct StreamCollector {
    response: ChatResponse,
    calls: Vec<PartialCall>,
    /// index → position in `calls` of the call currently receiving pieces at that index.
    current: HashMap<u32, usize>,
    done: bool,
}

impl StreamCollector {
    /// A collector for an answer from `provider` to a request for `requested_model`.
    pub fn new(provider: impl Into<String>, requested_model: impl Into<String>) -> Self {
        StreamCollector {
            response: ChatResponse::text(provider, requested_model, String::new()),
            calls: Vec::new(),
            current: HashMap::new(),
            done: false,
        }
    }

    /// Whether [`StreamEvent::Done`] has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.response.content
    }

    /// Adds one event.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) for content after [`StreamEvent::Done`] (only usage
    /// and cost may follow it).
    pub fn push(&mut self, event: StreamEvent) -> Result<()> {
        if self.done && !matches!(event, StreamEvent::Usage { .. } | StreamEvent::Cost { .. }) {
            return Err(Error::decode(format!(
                "stream sent {} after its done event",
                event_name(&event)
            )));
        }
        match event {
            StreamEvent::Start {
                model,
                provider_request_id,
                cached,
            } => {
                self.response.cached |= cached;
                if model.is_some() {
                    self.response.model = model;
                }
                if provider_request_id.is_some() {
                    self.response.provider_request_id = provider_request_id;
                }
            }
            StreamEvent::TextDelta { text } => self.response.content.push_str(&text),
            StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                let slot = match self.current.get(&index) {
                    Some(&pos)
                        if id.is_none()
                            || self.calls[pos].id == id
                            || self.calls[pos].id.is_none() =>
                    {
                        pos
                    }
                    _ => {
                        self.calls.push(PartialCall::default());
                        let pos = self.calls.len() - 1;
                        self.current.insert(index, pos);
                        pos
                    }
                };
                let call = &mut self.calls[slot];
                if call.id.is_none() {
                    call.id = id;
                }
                if let Some(name) = name {
                    call.name.push_str(&name);
                }
                call.arguments.push_str(&arguments);
            }
            StreamEvent::Usage { usage } => self.response.usage.merge(&usage),
            StreamEvent::Done { finish_reason } => {
                self.response.finish_reason = finish_reason;
                self.done = true;
            }
            StreamEvent::Cost { cost_usd } => self.response.cost_usd = Some(cost_usd),
        }
        Ok(())
    }

    /// The whole answer.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the stream never said it was done (it was cut
    /// short) or a tool call never got a name.
    pub fn finish(mut self) -> Result<ChatResponse> {
        if !self.done {
            return Err(Error::decode(
                "stream ended before its done event: the answer is incomplete",
            ));
        }
        for (i, call) in self.calls.into_iter().enumerate() {
            if call.name.is_empty() {
                return Err(Error::decode(format!("streamed tool call {i} has no name")));
            }
            let id = call.id.unwrap_or_else(|| format!("call_{i}"));
            self.response
                .tool_calls
                .push(ToolCall::new(id, call.name, call.arguments));
        }
        Ok(self.response)
    }
}

fn event_name(event: &StreamEvent) -> &'static str {
    match event {
        StreamEvent::Start { .. } => "a start event",
        StreamEvent::TextDelta { .. } => "text",
        StreamEvent::ToolCallDelta { .. } => "a tool call",
        StreamEvent::Usage { .. } => "usage",
        StreamEvent::Done { .. } => "a second done event",
        StreamEvent::Cost { .. } => "a cost event",
    }
}

/// Reads a whole stream into a [`ChatResponse`]; the first error item ends it.
///
/// # Errors
/// The stream's own error, or [`ErrorKind::Decode`](crate::ErrorKind::Decode) as in
/// [`StreamCollector::finish`].
pub async fn collect(
    mut stream: ChatStream,
    provider: impl Into<String>,
    requested_model: impl Into<String>,
) -> Result<ChatResponse> {
    let mut collector = StreamCollector::new(provider, requested_model);
    while let Some(event) = stream.next().await {
        collector.push(event?)?;
    }
    collector.finish()
}

impl ChatResponse {
    /// The events that stream this response: start, text, one piece per tool call, usage, done, and its
    /// cost when it has one. Collecting them gives back this response.
    pub fn to_events(&self) -> Vec<StreamEvent> {
        let mut events = Vec::with_capacity(5 + self.tool_calls.len());
        if self.model.is_some() || self.provider_request_id.is_some() || self.cached {
            events.push(StreamEvent::Start {
                model: self.model.clone(),
                provider_request_id: self.provider_request_id.clone(),
                cached: self.cached,
            });
        }
        if !self.content.is_empty() {
            events.push(StreamEvent::TextDelta {
                text: self.content.clone(),
            });
        }
        for (i, call) in self.tool_calls.iter().enumerate() {
            events.push(StreamEvent::ToolCallDelta {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                id: Some(call.id.clone()),
                name: Some(call.name.clone()),
                arguments: call.arguments.clone(),
            });
        }
        if self.usage != Usage::default() {
            events.push(StreamEvent::Usage { usage: self.usage });
        }
        events.push(StreamEvent::Done {
            finish_reason: self.finish_reason.clone(),
        });
        if let Some(cost_usd) = self.cost_usd {
            events.push(StreamEvent::Cost { cost_usd });
        }
        events
    }

    /// This response as a [`ChatStream`] (see [`ChatResponse::to_events`]).
    pub fn into_stream(self) -> ChatStream {
        Box::pin(futures_util::stream::iter(
            self.to_events().into_iter().map(Ok),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn delta(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta {
            index,
            id: id.map(Into::into),
            name: name.map(Into::into),
            arguments: args.into(),
        }
    }

    fn done() -> StreamEvent {
        StreamEvent::Done {
            finish_reason: FinishReason::ToolCalls,
        }
    }

    #[test]
    fn interleaved_parallel_tool_calls_do_not_mix() {
        let mut c = StreamCollector::new("p", "m");
        for e in [
            delta(0, Some("a"), Some("weather"), ""),
            delta(1, Some("b"), Some("time"), ""),
            delta(0, None, None, "{\"city\":"),
            delta(1, None, None, "{\"tz\":"),
            delta(0, None, None, "\"Oslo\"}"),
            delta(1, None, None, "\"UTC\"}"),
            done(),
        ] {
            c.push(e).unwrap();
        }
        let r = c.finish().unwrap();
        assert_eq!(
            r.tool_calls,
            vec![
                ToolCall::new("a", "weather", r#"{"city":"Oslo"}"#),
                ToolCall::new("b", "time", r#"{"tz":"UTC"}"#),
            ]
        );
    }

    #[test]
    fn same_index_with_new_id_starts_a_new_call() {
        // Some OpenAI-compatible servers send every parallel call at index 0.
        let mut c = StreamCollector::new("p", "m");
        for e in [
            delta(0, Some("a"), Some("f"), "{\"x\":1}"),
            delta(0, Some("b"), Some("g"), "{\"y\":"),
            delta(0, None, None, "2}"),
            done(),
        ] {
            c.push(e).unwrap();
        }
        let r = c.finish().unwrap();
        assert_eq!(r.tool_calls[0], ToolCall::new("a", "f", "{\"x\":1}"));
        assert_eq!(r.tool_calls[1], ToolCall::new("b", "g", "{\"y\":2}"));
    }

    #[test]
    fn a_stream_without_done_is_incomplete() {
        let mut c = StreamCollector::new("p", "m");
        c.push(StreamEvent::TextDelta {
            text: "partial".into(),
        })
        .unwrap();
        let err = c.finish().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.message().contains("incomplete"));
    }

    #[test]
    fn only_usage_and_cost_may_follow_done() {
        let mut c = StreamCollector::new("p", "m");
        c.push(StreamEvent::Done {
            finish_reason: FinishReason::Stop,
        })
        .unwrap();
        c.push(StreamEvent::Usage {
            usage: Usage {
                output_tokens: Some(3),
                ..Usage::default()
            },
        })
        .unwrap();
        c.push(StreamEvent::Cost { cost_usd: 0.5 }).unwrap();
        c.push(StreamEvent::Cost { cost_usd: 0.25 }).unwrap();
        assert_eq!(
            c.push(StreamEvent::TextDelta { text: "x".into() })
                .unwrap_err()
                .kind(),
            ErrorKind::Decode
        );
        let r = c.finish().unwrap();
        assert_eq!(r.cost_usd, Some(0.25), "the last cost event wins");
        assert_eq!(r.usage.output_tokens, Some(3));
    }

    #[tokio::test]
    async fn a_response_streams_and_collects_back_to_itself() {
        let mut r = ChatResponse::text("p", "m", "hello")
            .with_tool_calls(vec![
                ToolCall::new("1", "f", "{}"),
                ToolCall::new("2", "g", "[]"),
            ])
            .with_usage(Usage {
                input_tokens: Some(1),
                output_tokens: Some(2),
                cached_input_tokens: Some(0),
                reasoning_tokens: None,
                cache_creation_input_tokens: None,
            });
        r.model = Some("m-2024".into());
        r.provider_request_id = Some("req".into());
        r.cost_usd = Some(0.0125);
        let back = collect(r.clone().into_stream(), "p", "m").await.unwrap();
        assert_eq!(back, r);
        assert!(matches!(
            r.to_events().last(),
            Some(StreamEvent::Cost { cost_usd }) if *cost_usd == 0.0125
        ));
        // Events round-trip through JSON, so streams can be recorded and replayed.
        for e in r.to_events() {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<StreamEvent>(&json).unwrap(), e);
        }
    }

    #[tokio::test]
    async fn an_error_item_ends_collection() {
        let items: Vec<Result<StreamEvent>> = vec![
            Ok(StreamEvent::TextDelta { text: "a".into() }),
            Err(Error::new(ErrorKind::Server, "cut")),
        ];
        let stream: ChatStream = Box::pin(futures_util::stream::iter(items));
        assert_eq!(
            collect(stream, "p", "m").await.unwrap_err().kind(),
            ErrorKind::Server
        );
    }
}
