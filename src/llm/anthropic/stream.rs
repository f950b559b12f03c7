//! The Messages API event stream as [`StreamEvent`]s: a pure decoder (bytes in, events out), so that how
//! the network splits the body never changes the result (a property test checks it).
//!
//! | Anthropic event | our events |
//! |---|---|
//! | `message_start` | `Start { model, provider_request_id }`, then `Usage` with the input counts |
//! | `content_block_start` (text) | `TextDelta` when the block starts with text |
//! | `content_block_start` (tool_use) | `ToolCallDelta { index: block index, id, name, arguments: "" }` |
//! | `content_block_delta` (`text_delta`) | `TextDelta` |
//! | `content_block_delta` (`input_json_delta`) | `ToolCallDelta { index, arguments: partial_json }` |
//! | `message_delta` | `Usage` (output, and input when given; counts are cumulative); the stop reason is kept |
//! | `message_stop` | `Done { finish_reason }`; the stream is complete |
//! | `error` | one error item, mapped like an error response; the stream ends |
//! | `ping`, `content_block_stop`, thinking and signature deltas, unknown events | nothing |

use std::collections::{HashSet, VecDeque};

use serde::Deserialize;

use super::wire::{WireContentBlock, WireUsage, finish_reason, input_text};
use crate::Result;
use crate::llm::StreamEvent;
use crate::llm::http::{ErrorContext, ErrorInfo, EventDecoder};
use crate::llm::sse::{SseDecoder, SseEvent};

#[derive(Deserialize)]
struct MessageStart {
    message: StartMessage,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct BlockStart {
    index: u32,
    content_block: WireContentBlock,
}

#[derive(Deserialize)]
struct BlockDelta {
    index: u32,
    delta: Delta,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    delta: Option<MessageDeltaBody>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// The `type` of an event's data, for events sent without an `event:` name.
#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type", default)]
    kind: String,
}

/// The index of a `content_block_stop`.
#[derive(Deserialize)]
struct TypeIndex {
    #[serde(default)]
    index: u32,
}

/// Decodes an Anthropic Messages event stream.
#[derive(Debug)]
pub(crate) struct StreamDecoder {
    sse: SseDecoder,
    ctx: ErrorContext,
    /// Events decoded from the current piece (reused between pieces).
    scratch: Vec<SseEvent>,
    /// The indices of the `tool_use` blocks: only their `input_json_delta`s are tool-call arguments
    /// (server tools stream their input the same way).
    tool_blocks: HashSet<u32>,
    /// The `tool_use` blocks that have received some arguments; one that ends without any gets `{}`, as
    /// the non-streaming path gives, so `chat` and a collected stream agree.
    tool_blocks_with_args: HashSet<u32>,
    stop_reason: Option<String>,
    usage: WireUsage,
    seen_event: bool,
    done: bool,
    failed: bool,
}

impl StreamDecoder {
    /// A decoder whose errors carry `ctx`'s provider and request id, refusing events over
    /// `max_event_bytes`.
    pub(crate) fn new(ctx: ErrorContext, max_event_bytes: usize) -> Self {
        StreamDecoder {
            sse: SseDecoder::new(max_event_bytes),
            ctx,
            scratch: Vec::new(),
            tool_blocks: HashSet::new(),
            tool_blocks_with_args: HashSet::new(),
            stop_reason: None,
            usage: WireUsage::default(),
            seen_event: false,
            done: false,
            failed: false,
        }
    }

    fn parse<'a, T: Deserialize<'a>>(&self, name: &str, data: &'a str) -> Result<T> {
        serde_json::from_str(data).map_err(|e| {
            self.ctx
                .decode_error(format!("bad {name} event in the stream: {e}"))
        })
    }

    /// Handles one server-sent event.
    fn event(&mut self, event: &SseEvent, out: &mut VecDeque<Result<StreamEvent>>) -> Result<()> {
        self.seen_event = true;
        let unnamed;
        let name: &str = if event.event.is_empty() {
            // No `event:` line (some proxies drop it): the data names its type.
            unnamed = self.parse::<TypeOnly>("unnamed", &event.data)?.kind;
            &unnamed
        } else {
            &event.event
        };
        match name {
            "message_start" => {
                let start: MessageStart = self.parse(name, &event.data)?;
                out.push_back(Ok(StreamEvent::Start {
                    model: start.message.model,
                    provider_request_id: self.ctx.request_id.clone(),
                    cached: false,
                }));
                if let Some(usage) = start.message.usage {
                    self.usage.update(&usage);
                    if usage.has_input() {
                        out.push_back(Ok(StreamEvent::Usage {
                            usage: self.usage.input_usage(),
                        }));
                    }
                }
            }
            "content_block_start" => {
                let start: BlockStart = self.parse(name, &event.data)?;
                let block = start.content_block;
                match block.kind.as_str() {
                    "text" => {
                        if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                            out.push_back(Ok(StreamEvent::TextDelta { text }));
                        }
                    }
                    "tool_use" => {
                        self.tool_blocks.insert(start.index);
                        // The stream sends `input: {}` and then the input in pieces; a server that sends
                        // the whole input up front is taken at its word.
                        let arguments = match &block.input {
                            Some(serde_json::Value::Object(map)) if !map.is_empty() => {
                                input_text(block.input.as_ref())
                            }
                            _ => String::new(),
                        };
                        if !arguments.is_empty() {
                            self.tool_blocks_with_args.insert(start.index);
                        }
                        out.push_back(Ok(StreamEvent::ToolCallDelta {
                            index: start.index,
                            id: block.id,
                            name: block.name,
                            arguments,
                        }));
                    }
                    _ => {} // thinking, server tools, future block types
                }
            }
            "content_block_delta" => {
                let delta: BlockDelta = self.parse(name, &event.data)?;
                match delta.delta.kind.as_str() {
                    "text_delta" => {
                        if let Some(text) = delta.delta.text.filter(|t| !t.is_empty()) {
                            out.push_back(Ok(StreamEvent::TextDelta { text }));
                        }
                    }
                    "input_json_delta" if self.tool_blocks.contains(&delta.index) => {
                        if let Some(arguments) = delta.delta.partial_json.filter(|j| !j.is_empty())
                        {
                            self.tool_blocks_with_args.insert(delta.index);
                            out.push_back(Ok(StreamEvent::ToolCallDelta {
                                index: delta.index,
                                id: None,
                                name: None,
                                arguments,
                            }));
                        }
                    }
                    _ => {} // thinking, signature, citations deltas
                }
            }
            "message_delta" => {
                let delta: MessageDelta = self.parse(name, &event.data)?;
                if let Some(stop) = delta.delta.and_then(|d| d.stop_reason) {
                    self.stop_reason = Some(stop);
                }
                if let Some(usage) = delta.usage {
                    self.usage.update(&usage);
                    let mut ours = if usage.has_input() {
                        self.usage.input_usage()
                    } else {
                        Default::default()
                    };
                    ours.output_tokens = usage.output_tokens;
                    out.push_back(Ok(StreamEvent::Usage { usage: ours }));
                }
            }
            "message_stop" => {
                self.done = true;
                out.push_back(Ok(StreamEvent::Done {
                    finish_reason: finish_reason(self.stop_reason.as_deref()),
                }));
            }
            "error" => {
                self.failed = true;
                let info = ErrorInfo::parse(event.data.as_bytes());
                return Err(self.ctx.stream_error(&info));
            }
            "content_block_stop" => {
                let stop: TypeIndex = self.parse(name, &event.data)?;
                if self.tool_blocks.contains(&stop.index)
                    && self.tool_blocks_with_args.insert(stop.index)
                {
                    out.push_back(Ok(StreamEvent::ToolCallDelta {
                        index: stop.index,
                        id: None,
                        name: None,
                        arguments: "{}".to_owned(),
                    }));
                }
            }
            _ => {} // ping and event types added later
        }
        Ok(())
    }
}

impl EventDecoder for StreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut VecDeque<Result<StreamEvent>>) {
        if self.done || self.failed {
            return;
        }
        let mut events = std::mem::take(&mut self.scratch);
        let decoded = self.sse.push(bytes, &mut events);
        for event in &events {
            if let Err(e) = self.event(event, out) {
                self.failed = true;
                out.push_back(Err(e));
                break;
            }
            if self.done {
                break; // nothing after message_stop belongs to the answer
            }
        }
        events.clear();
        self.scratch = events;
        if let Err(e) = decoded {
            if !self.done && !self.failed {
                self.failed = true;
                out.push_back(Err(self.ctx.decode_error(e.message().to_owned())));
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        let message = if self.seen_event {
            "stream ended before message_stop: the answer is incomplete"
        } else {
            "stream ended before message_stop: the response held no server-sent events"
        };
        Err(self.ctx.decode_error(message))
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ErrorKind;
    use crate::llm::{FinishReason, StreamCollector, ToolCall, Usage};

    /// A real-shaped transcript: text, two tool_use blocks with input_json_delta fragments, pings,
    /// a thinking block, an unknown event, message_delta usage.
    const TRANSCRIPT: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"abc\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check the weather \"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"in Oslo ☀️.\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_A\",\"name\":\"weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Os\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"lo\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
        ": a comment\n\n",
        "event: brand_new_event\n",
        "data: {\"type\":\"brand_new_event\",\"whatever\":[1,2,3]}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_B\",\"name\":\"time\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"tz\\\":\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"CET\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    fn decoder() -> StreamDecoder {
        StreamDecoder::new(
            ErrorContext {
                provider: "anthropic".into(),
                key: None,
                request_id: Some("req_42".into()),
            },
            1 << 20,
        )
    }

    /// Events as comparable values (errors by kind and message).
    type Item = std::result::Result<StreamEvent, (ErrorKind, String)>;

    fn run(chunks: &[&[u8]]) -> (Vec<Item>, Option<(ErrorKind, String)>, bool) {
        let mut d = decoder();
        let mut out = VecDeque::new();
        for chunk in chunks {
            d.push(chunk, &mut out);
        }
        let items: Vec<Item> = out
            .into_iter()
            .map(|r| r.map_err(|e| (e.kind(), e.message().to_owned())))
            .collect();
        let finish = d.finish().err().map(|e| (e.kind(), e.message().to_owned()));
        (items, finish, d.is_done())
    }

    fn text(t: &str) -> StreamEvent {
        StreamEvent::TextDelta { text: t.into() }
    }

    fn args(index: u32, a: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta {
            index,
            id: None,
            name: None,
            arguments: a.into(),
        }
    }

    #[test]
    fn transcript_decodes_to_the_expected_events() {
        let (items, finish, done) = run(&[TRANSCRIPT.as_bytes()]);
        assert!(done);
        assert_eq!(finish, None);
        let expected: Vec<Item> = vec![
            StreamEvent::Start {
                model: Some("claude-sonnet-4-20250514".into()),
                provider_request_id: Some("req_42".into()),
                cached: false,
            },
            StreamEvent::Usage {
                usage: Usage {
                    input_tokens: Some(130),
                    cached_input_tokens: Some(100),
                    cache_creation_input_tokens: Some(5),
                    ..Usage::default()
                },
            },
            text("Let me check the weather "),
            text("in Oslo ☀️."),
            StreamEvent::ToolCallDelta {
                index: 2,
                id: Some("toolu_A".into()),
                name: Some("weather".into()),
                arguments: String::new(),
            },
            args(2, "{\"city\": \"Os"),
            args(2, "lo\"}"),
            StreamEvent::ToolCallDelta {
                index: 3,
                id: Some("toolu_B".into()),
                name: Some("time".into()),
                arguments: String::new(),
            },
            args(3, "{\"tz\":"),
            args(3, "\"CET\"}"),
            StreamEvent::Usage {
                usage: Usage {
                    output_tokens: Some(89),
                    ..Usage::default()
                },
            },
            StreamEvent::Done {
                finish_reason: FinishReason::ToolCalls,
            },
        ]
        .into_iter()
        .map(Ok)
        .collect();
        assert_eq!(items, expected);

        // And the events collect into the answer.
        let mut c = StreamCollector::new("anthropic", "claude-sonnet-4-20250514");
        for item in items {
            c.push(item.unwrap()).unwrap();
        }
        let r = c.finish().unwrap();
        assert_eq!(r.content, "Let me check the weather in Oslo ☀️.");
        assert_eq!(
            r.tool_calls,
            vec![
                ToolCall::new("toolu_A", "weather", "{\"city\": \"Oslo\"}"),
                ToolCall::new("toolu_B", "time", "{\"tz\":\"CET\"}"),
            ]
        );
        assert_eq!(r.usage.input_tokens, Some(130));
        assert_eq!(r.usage.output_tokens, Some(89));
        assert_eq!(r.provider_request_id.as_deref(), Some("req_42"));
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn error_event_ends_the_stream_with_the_mapped_error() {
        let body = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Par\"}}\n\n",
            "event: error\n",
            "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"never\"}}\n\n",
        );
        let mut d = decoder();
        let mut out = VecDeque::new();
        d.push(body.as_bytes(), &mut out);
        let items: Vec<_> = out.into_iter().collect();
        assert_eq!(items.len(), 4, "{items:?}");
        assert_eq!(items[2].as_ref().unwrap(), &text("Par"));
        let err = items[3].as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Overloaded);
        assert_eq!(err.provider(), Some("anthropic"));
        assert_eq!(err.request_id(), Some("req_42"));
        assert!(err.is_retryable());
        // Nothing is decoded after the error.
        let mut more = VecDeque::new();
        d.push(b"event: message_stop\ndata: {}\n\n", &mut more);
        assert!(more.is_empty());
        assert!(!d.is_done());
    }

    #[test]
    fn a_cut_stream_is_a_decode_error() {
        let cut = &TRANSCRIPT.as_bytes()[..TRANSCRIPT.len() / 2];
        let (items, finish, done) = run(&[cut]);
        assert!(!done);
        assert!(items.iter().all(Result::is_ok));
        let (kind, message) = finish.unwrap();
        assert_eq!(kind, ErrorKind::Decode);
        assert!(message.contains("message_stop"), "{message}");

        let (_, finish, _) = run(&[b"{\"type\":\"message\",\"content\":[]}"]);
        let (kind, message) = finish.unwrap();
        assert_eq!(kind, ErrorKind::Decode);
        assert!(message.contains("no server-sent events"), "{message}");
    }

    #[test]
    fn bad_json_in_a_known_event_is_a_decode_error() {
        let (items, _, _) = run(&[
            b"event: message_start\ndata: {\"message\": nope}\n\nevent: message_stop\ndata: {}\n\n",
        ]);
        assert_eq!(items.len(), 1);
        let (kind, message) = items[0].clone().unwrap_err();
        assert_eq!(kind, ErrorKind::Decode);
        assert!(message.contains("message_start"), "{message}");
        // An unparsable error event is still an error (its text becomes the message).
        let (items, _, _) = run(&[b"event: error\ndata: upstream exploded\n\n"]);
        let (kind, message) = items[0].clone().unwrap_err();
        assert_eq!(kind, ErrorKind::Server);
        assert!(message.contains("upstream exploded"));
    }

    #[test]
    fn oversized_events_are_refused_with_the_provider_named() {
        let mut d = StreamDecoder::new(ErrorContext::default(), 32);
        let mut out = VecDeque::new();
        d.push(
            format!("data: {}\n\n", "x".repeat(100)).as_bytes(),
            &mut out,
        );
        let err = out.pop_front().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.message().contains("max_event_bytes"), "{err}");
    }

    #[test]
    fn unnamed_events_use_the_data_type_and_start_text_is_kept() {
        let body = concat!(
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"Hi \"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":2,\"input_tokens\":7}}\n\n",
            "data: {\"type\":\"message_stop\"}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"after\"}}\n\n",
        );
        let (items, finish, done) = run(&[body.as_bytes()]);
        assert!(done);
        assert_eq!(finish, None);
        assert_eq!(
            items,
            vec![
                Ok(text("Hi ")),
                Ok(text("there")),
                Ok(StreamEvent::Usage {
                    usage: Usage {
                        input_tokens: Some(7),
                        output_tokens: Some(2),
                        ..Usage::default()
                    }
                }),
                Ok(StreamEvent::Done {
                    finish_reason: FinishReason::Length
                }),
            ]
        );
    }

    #[test]
    fn input_json_of_server_tools_is_not_a_tool_call() {
        let body = concat!(
            "event: content_block_start\n",
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"query\\\":\\\"x\\\"}\"}}\n\n",
            "event: message_stop\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        );
        let (items, _, _) = run(&[body.as_bytes()]);
        assert_eq!(
            items,
            vec![Ok(StreamEvent::Done {
                finish_reason: FinishReason::Stop
            })]
        );
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0..TRANSCRIPT.len(), 0..24)) {
            let bytes = TRANSCRIPT.as_bytes();
            let mut cuts = cuts;
            cuts.sort_unstable();
            cuts.dedup();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&bytes[from..cut]);
                from = cut;
            }
            chunks.push(&bytes[from..]);
            prop_assert_eq!(run(&chunks), run(&[bytes]));
        }

        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let slices: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let _ = run(&slices);
        }

        #[test]
        fn arbitrary_event_data_never_panics(
            name in prop::sample::select(vec!["message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop", "error", "ping", ""]),
            data in "[ -~]{0,80}",
        ) {
            let body = format!("event: {name}\ndata: {data}\n\n");
            let _ = run(&[body.as_bytes()]);
        }
    }
}
