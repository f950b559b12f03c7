//! Watching a [`ChatStream`] go by: the shared piece every wrapper that must see a stream's events or its
//! end (logging, metrics, cache, rate-limit reconciliation, drain) builds on.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::llm::{ChatStream, StreamEvent};
use crate::{Error, Result};

/// How a watched stream ended.
#[derive(Debug)]
pub(crate) enum StreamEnd<'a> {
    /// The stream sent its done event and then ended.
    Completed,
    /// The stream ended without a done event (the collector would call it incomplete).
    Incomplete,
    /// The stream yielded this error (and ends after it).
    Failed(&'a Error),
    /// The caller dropped the stream before its end.
    Dropped,
}

/// Receives a stream's events as they pass, and exactly one call to `on_end`.
pub(crate) trait StreamObserver: Send + Unpin + 'static {
    /// Called for every event before the caller sees it.
    fn on_event(&mut self, event: &StreamEvent) {
        let _ = event;
    }
    /// Called once, when the stream ends, fails or is dropped.
    fn on_end(self, end: StreamEnd<'_>);
}

struct Observed<O: StreamObserver> {
    inner: ChatStream,
    observer: Option<O>,
    saw_done: bool,
}

impl<O: StreamObserver> Stream for Observed<O> {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        match &item {
            Some(Ok(event)) => {
                if matches!(event, StreamEvent::Done { .. }) {
                    this.saw_done = true;
                }
                if let Some(o) = this.observer.as_mut() {
                    o.on_event(event);
                }
            }
            Some(Err(e)) => {
                if let Some(o) = this.observer.take() {
                    o.on_end(StreamEnd::Failed(e));
                }
            }
            None => {
                if let Some(o) = this.observer.take() {
                    o.on_end(if this.saw_done {
                        StreamEnd::Completed
                    } else {
                        StreamEnd::Incomplete
                    });
                }
            }
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<O: StreamObserver> Drop for Observed<O> {
    fn drop(&mut self) {
        if let Some(o) = self.observer.take() {
            o.on_end(StreamEnd::Dropped);
        }
    }
}

/// Wraps `stream` so `observer` sees each event and, once, how it ended.
pub(crate) fn observe(stream: ChatStream, observer: impl StreamObserver) -> ChatStream {
    Box::pin(Observed {
        inner: stream,
        observer: Some(observer),
        saw_done: false,
    })
}

/// What a stream did before its first content.
pub(crate) enum Opening {
    /// It sent content: the events so far (metadata, then the first content event), to replay first.
    Content(Vec<StreamEvent>),
    /// It failed before any content (metadata it sent is discarded: the caller never saw it).
    Failed(Error),
    /// It ended before any content.
    Ended,
}

/// Reads `stream` up to its first content event: text, a tool call or the done event. Metadata that
/// comes first (`Start`, `Usage`: Anthropic sends both before any text) is held back, because retry and
/// fallback may still switch to another attempt until content reaches the caller.
pub(crate) async fn open(stream: &mut ChatStream) -> Opening {
    use futures_util::StreamExt;
    let mut held = Vec::new();
    loop {
        match stream.next().await {
            Some(Ok(event)) => {
                let content =
                    !matches!(event, StreamEvent::Start { .. } | StreamEvent::Usage { .. });
                held.push(event);
                if content {
                    return Opening::Content(held);
                }
            }
            Some(Err(e)) => return Opening::Failed(e),
            None => return Opening::Ended,
        }
    }
}

/// The held events, then the rest of the stream.
pub(crate) fn resume(held: Vec<StreamEvent>, rest: ChatStream) -> ChatStream {
    use futures_util::StreamExt;
    Box::pin(futures_util::stream::iter(held.into_iter().map(Ok)).chain(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ChatResponse, FinishReason};
    use futures_util::StreamExt;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl StreamObserver for Log {
        fn on_event(&mut self, event: &StreamEvent) {
            self.0.lock().unwrap().push(format!(
                "event {}",
                matches!(event, StreamEvent::Done { .. })
            ));
        }
        fn on_end(self, end: StreamEnd<'_>) {
            let text = match end {
                StreamEnd::Completed => "completed".to_owned(),
                StreamEnd::Incomplete => "incomplete".to_owned(),
                StreamEnd::Failed(e) => format!("failed {}", e.kind()),
                StreamEnd::Dropped => "dropped".to_owned(),
            };
            self.0.lock().unwrap().push(text);
        }
    }

    #[tokio::test]
    async fn every_ending_is_reported_once() {
        let full = ChatResponse::text("p", "m", "hi").with_finish_reason(FinishReason::Stop);

        let log = Log::default();
        let mut s = observe(full.clone().into_stream(), log.clone());
        while s.next().await.is_some() {}
        drop(s);
        assert_eq!(log.0.lock().unwrap().last().unwrap(), "completed");
        assert_eq!(
            log.0
                .lock()
                .unwrap()
                .iter()
                .filter(|l| !l.starts_with("event"))
                .count(),
            1
        );

        let log = Log::default();
        let cut: ChatStream = Box::pin(futures_util::stream::iter(vec![Ok(
            StreamEvent::TextDelta { text: "a".into() },
        )]));
        let mut s = observe(cut, log.clone());
        while s.next().await.is_some() {}
        assert_eq!(log.0.lock().unwrap().last().unwrap(), "incomplete");

        let log = Log::default();
        let failing: ChatStream = Box::pin(futures_util::stream::iter(vec![Err(Error::new(
            crate::ErrorKind::Server,
            "x",
        ))]));
        let mut s = observe(failing, log.clone());
        while s.next().await.is_some() {}
        drop(s);
        assert_eq!(*log.0.lock().unwrap(), vec!["failed server".to_owned()]);

        let log = Log::default();
        let mut s = observe(full.into_stream(), log.clone());
        s.next().await;
        drop(s);
        assert_eq!(log.0.lock().unwrap().last().unwrap(), "dropped");
    }
}
