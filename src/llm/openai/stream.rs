//! Decodes a Chat Completions SSE stream (`chat.completion.chunk` events ending in `data: [DONE]`) into
//! [`StreamEvent`]s.

use std::collections::VecDeque;

use serde::Deserialize;

use super::wire::{ContentIn, ToolCallIn, WireUsage, finish_reason};
use crate::Result;
use crate::llm::http::{ErrorContext, ErrorInfo, EventDecoder};
use crate::llm::sse::{SseDecoder, SseEvent};
use crate::llm::{FinishReason, StreamEvent};

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<ContentIn>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallIn>>,
}

/// The OpenAI stream decoder: pure (bytes in, events out), so any split of the body decodes the same.
pub(crate) struct OpenAiStreamDecoder {
    sse: SseDecoder,
    ctx: ErrorContext,
    scratch: Vec<SseEvent>,
    started: bool,
    finish: Option<FinishReason>,
    called_tools: bool,
    done: bool,
    failed: bool,
}

impl OpenAiStreamDecoder {
    pub(crate) fn new(max_event_bytes: usize, ctx: ErrorContext) -> Self {
        OpenAiStreamDecoder {
            sse: SseDecoder::new(max_event_bytes),
            ctx,
            scratch: Vec::new(),
            started: false,
            finish: None,
            called_tools: false,
            done: false,
            failed: false,
        }
    }

    fn event(&mut self, event: &SseEvent, out: &mut VecDeque<Result<StreamEvent>>) -> Result<()> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            let finish = self
                .finish
                .take()
                .unwrap_or_else(|| finish_reason(None, self.called_tools));
            out.push_back(Ok(StreamEvent::Done {
                finish_reason: finish,
            }));
            self.done = true;
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            self.ctx
                .decode_error(format!("stream chunk is not valid JSON: {e}"))
        })?;
        if let Some(error) = &chunk.error {
            return Err(self.ctx.stream_error(&ErrorInfo::from_json(
                &serde_json::json!({ "error": error }),
            )));
        }
        if event.event == "error" {
            return Err(self.ctx.stream_error(&ErrorInfo::default()));
        }
        if !self.started
            && (chunk.model.as_deref().is_some_and(|m| !m.is_empty()) || !chunk.choices.is_empty())
        {
            self.started = true;
            out.push_back(Ok(StreamEvent::Start {
                // Azure's first chunk (content-filter results) carries `"model": ""`.
                model: chunk.model.clone().filter(|m| !m.is_empty()),
                provider_request_id: self.ctx.request_id.clone(),
                cached: false,
            }));
        }
        for choice in chunk.choices {
            // One answer per request (n = 1); other choices are not part of this crate's model.
            if choice.index != 0 {
                continue;
            }
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.map(ContentIn::into_text).or(delta.refusal) {
                    if !text.is_empty() {
                        out.push_back(Ok(StreamEvent::TextDelta { text }));
                    }
                }
                for (position, mut call) in
                    delta.tool_calls.unwrap_or_default().into_iter().enumerate()
                {
                    self.called_tools = true;
                    let (name, arguments) = match call.function.as_mut() {
                        Some(f) => (f.name.take(), f.arguments_text()),
                        None => (None, String::new()),
                    };
                    out.push_back(Ok(StreamEvent::ToolCallDelta {
                        index: call
                            .index
                            .unwrap_or(u32::try_from(position).unwrap_or(u32::MAX)),
                        id: call.id.filter(|id| !id.is_empty()),
                        name: name.filter(|n| !n.is_empty()),
                        arguments,
                    }));
                }
            }
            if let Some(reason) = choice.finish_reason.as_deref().filter(|r| !r.is_empty()) {
                self.finish = Some(finish_reason(Some(reason), self.called_tools));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push_back(Ok(StreamEvent::Usage {
                usage: usage.to_usage(),
            }));
        }
        Ok(())
    }
}

impl EventDecoder for OpenAiStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut VecDeque<Result<StreamEvent>>) {
        if self.failed || self.done {
            return;
        }
        self.scratch.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let decoded = self.sse.push(bytes, &mut scratch);
        for event in &scratch {
            if let Err(e) = self.event(event, out) {
                out.push_back(Err(e));
                self.failed = true;
                break;
            }
            if self.done {
                break;
            }
        }
        self.scratch = scratch;
        if let Err(e) = decoded {
            if !self.failed && !self.done {
                out.push_back(Err(self.ctx.decode_error(e.message().to_owned())));
                self.failed = true;
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.done || self.failed {
            return Ok(());
        }
        Err(self
            .ctx
            .decode_error("stream ended before [DONE]: the answer is incomplete"))
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::llm::{StreamCollector, ToolCall, Usage};
    use proptest::prelude::*;

    const TRANSCRIPT: &str = concat!(
        ": keep-alive\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"time\",\"arguments\":\"{\\\"tz\\\":\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"UTC\\\"}\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n",
        "data: [DONE]\n\n",
    );

    fn ctx() -> ErrorContext {
        ErrorContext {
            provider: "openai".into(),
            key: None,
            request_id: Some("req_1".into()),
        }
    }

    fn decode(chunks: &[&[u8]]) -> (Vec<Result<StreamEvent>>, Result<()>) {
        let mut d = OpenAiStreamDecoder::new(1 << 20, ctx());
        let mut out = VecDeque::new();
        for c in chunks {
            d.push(c, &mut out);
        }
        let end = d.finish();
        (out.into_iter().collect(), end)
    }

    #[test]
    fn a_full_transcript_collects_into_text_tools_and_usage() {
        let (events, end) = decode(&[TRANSCRIPT.as_bytes()]);
        end.unwrap();
        let mut c = StreamCollector::new("openai", "gpt-4o");
        for e in events {
            c.push(e.unwrap()).unwrap();
        }
        let r = c.finish().unwrap();
        assert_eq!(r.content, "Héllo");
        assert_eq!(r.model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(r.provider_request_id.as_deref(), Some("req_1"));
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            r.tool_calls,
            vec![
                ToolCall::new("call_a", "weather", r#"{"city":"Oslo"}"#),
                ToolCall::new("call_b", "time", r#"{"tz":"UTC"}"#),
            ]
        );
        assert_eq!(r.usage.input_tokens, Some(9));
        assert_eq!(r.usage.output_tokens, Some(4));
        assert_eq!(r.usage.total_tokens(), Some(13));
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: Some(9),
                output_tokens: Some(4),
                ..Usage::default()
            }
        );
    }

    #[test]
    fn a_cut_stream_is_incomplete() {
        let cut = &TRANSCRIPT[..TRANSCRIPT.find("data: [DONE]").unwrap()];
        let (events, end) = decode(&[cut.as_bytes()]);
        assert!(events.iter().all(Result::is_ok));
        assert_eq!(end.unwrap_err().kind(), ErrorKind::Decode);
    }

    #[test]
    fn an_error_object_inside_the_stream_is_a_typed_error() {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n";
        let (events, end) = decode(&[body.as_bytes()]);
        end.unwrap();
        let err = events.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert_eq!(err.request_id(), Some("req_1"));
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Ok(StreamEvent::Done { .. })))
        );
    }

    #[test]
    fn malformed_json_is_a_decode_error() {
        let (events, _) = decode(&[b"data: {not json\n\n"]);
        assert_eq!(
            events.last().unwrap().as_ref().unwrap_err().kind(),
            ErrorKind::Decode
        );
    }

    #[test]
    fn done_without_finish_reason_is_a_clean_stop() {
        let (events, end) =
            decode(&[b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n"]);
        end.unwrap();
        assert!(matches!(
            events.last(),
            Some(Ok(StreamEvent::Done {
                finish_reason: FinishReason::Stop
            }))
        ));
    }

    fn comparable(
        events: &[Result<StreamEvent>],
    ) -> Vec<std::result::Result<StreamEvent, ErrorKind>> {
        events
            .iter()
            .map(|e| e.clone().map_err(|e| e.kind()))
            .collect()
    }

    proptest! {
        #[test]
        fn any_split_decodes_the_same(cuts in proptest::collection::vec(0usize..TRANSCRIPT.len(), 0..20)) {
            let bytes = TRANSCRIPT.as_bytes();
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for c in cuts {
                pieces.push(&bytes[last..c]);
                last = c;
            }
            pieces.push(&bytes[last..]);
            let (whole, _) = decode(&[bytes]);
            let (split, end) = decode(&pieces);
            prop_assert!(end.is_ok());
            prop_assert_eq!(comparable(&whole), comparable(&split));
        }

        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let pieces: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let _ = decode(&pieces);
        }
    }
}
