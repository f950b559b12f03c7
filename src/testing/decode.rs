//! Decode a recorded provider stream body into [`StreamEvent`]s, exactly as the providers do on the wire.
//!
//! Useful to test code that consumes streams against transcripts captured from a real provider, and to
//! measure the decoders without a network (see `benches/http_provider.rs`).

use std::collections::VecDeque;

use crate::Result;
use crate::llm::StreamEvent;
#[cfg(feature = "http")]
use crate::llm::http::{ErrorContext, EventDecoder};

/// Feeds `pieces` (the body, split as the network delivered it) through a decoder; the last item is
/// the decoder's verdict on the end of the body when it was not complete.
#[cfg(feature = "http")]
fn run(mut decoder: impl EventDecoder, pieces: &[&[u8]]) -> Vec<Result<StreamEvent>> {
    let mut out = VecDeque::new();
    for piece in pieces {
        decoder.push(piece, &mut out);
    }
    if !out.iter().any(Result::is_err) {
        if let Err(e) = decoder.finish() {
            out.push_back(Err(e));
        }
    }
    out.into()
}

/// Decodes an OpenAI Chat Completions SSE body (`data: {chat.completion.chunk}` … `data: [DONE]`).
///
/// ```
/// use twelve_factor_ai::llm::StreamEvent;
/// use twelve_factor_ai::testing::decode::openai_stream;
///
/// let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
/// let events = openai_stream(&[&body[..10], &body[10..]]);
/// assert!(matches!(&events[1], Ok(StreamEvent::TextDelta { text }) if text == "Hi"));
/// ```
#[cfg(feature = "openai")]
pub fn openai_stream(pieces: &[&[u8]]) -> Vec<Result<StreamEvent>> {
    let ctx = ErrorContext {
        provider: "openai".to_owned(),
        ..ErrorContext::default()
    };
    run(
        crate::llm::openai::stream_decoder(crate::llm::HttpOptions::default().max_event_bytes, ctx),
        pieces,
    )
}

/// Decodes an Anthropic Messages SSE body (`event: message_start` … `event: message_stop`).
///
/// ```
/// use twelve_factor_ai::llm::StreamEvent;
/// use twelve_factor_ai::testing::decode::anthropic_stream;
///
/// let body = concat!(
///     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
///     "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
///     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
///     "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
/// );
/// let events = anthropic_stream(&[body.as_bytes()]);
/// assert!(events.iter().any(|e| matches!(e, Ok(StreamEvent::TextDelta { text }) if text == "Hi")));
/// assert!(matches!(events.last(), Some(Ok(StreamEvent::Done { .. }))));
/// ```
#[cfg(feature = "anthropic")]
pub fn anthropic_stream(pieces: &[&[u8]]) -> Vec<Result<StreamEvent>> {
    let ctx = ErrorContext {
        provider: "anthropic".to_owned(),
        ..ErrorContext::default()
    };
    run(
        crate::llm::anthropic::stream_decoder(
            crate::llm::HttpOptions::default().max_event_bytes,
            ctx,
        ),
        pieces,
    )
}
