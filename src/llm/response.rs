//! [`ChatResponse`], [`FinishReason`] and [`Usage`].

use serde::{Deserialize, Serialize};

use super::{ContentPart, Message, Role, ToolCall};

/// Why the model stopped.
///
/// Providers name these differently and add new ones; unknown reasons are kept in [`FinishReason::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(from = "String", into = "String")]
pub enum FinishReason {
    /// The model finished its answer or hit a stop sequence.
    #[default]
    Stop,
    /// The output-token limit cut the answer short.
    Length,
    /// The model asked for tool calls.
    ToolCalls,
    /// The provider's content filter stopped the answer.
    ContentFilter,
    /// A reason this crate does not know, as the provider sent it.
    Other(String),
}

impl FinishReason {
    /// The canonical name (`"stop"`, `"length"`, `"tool_calls"`, `"content_filter"`, or the unknown text).
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(s) => s,
        }
    }
}

impl From<String> for FinishReason {
    fn from(s: String) -> Self {
        match s.as_str() {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            _ => FinishReason::Other(s),
        }
    }
}

impl From<FinishReason> for String {
    fn from(r: FinishReason) -> Self {
        match r {
            FinishReason::Other(s) => s,
            known => known.as_str().to_owned(),
        }
    }
}

/// Token counts a provider reported. Each is `None` when the provider did not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the input (prompt), including cached ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Tokens in the output (completion), including reasoning ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Input tokens read from the provider's prompt cache (part of `input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache (Anthropic's `cache_creation_input_tokens`; part
    /// of `input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Output tokens spent on hidden reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// Input plus output tokens, when both are known.
    pub fn total_tokens(&self) -> Option<u64> {
        Some(self.input_tokens? + self.output_tokens?)
    }

    /// Takes every count `other` knows, keeping ours where it does not. Streams report usage in pieces.
    pub fn merge(&mut self, other: &Usage) {
        fn take(ours: &mut Option<u64>, theirs: Option<u64>) {
            if theirs.is_some() {
                *ours = theirs;
            }
        }
        take(&mut self.input_tokens, other.input_tokens);
        take(&mut self.output_tokens, other.output_tokens);
        take(&mut self.cached_input_tokens, other.cached_input_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            other.cache_creation_input_tokens,
        );
        take(&mut self.reasoning_tokens, other.reasoning_tokens);
    }
}

/// A model's answer to a [`ChatRequest`](super::ChatRequest).
///
/// ```
/// use twelve_factor_ai::llm::{ChatResponse, FinishReason};
///
/// let r = ChatResponse::text("scripted", "model-2024-01-01", "Paris");
/// assert_eq!(r.content, "Paris");
/// assert_eq!(r.finish_reason, FinishReason::Stop);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer's text (empty when the model only called tools).
    pub content: String,
    /// The tool calls the model asked for, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Why the model stopped.
    #[serde(default)]
    pub finish_reason: FinishReason,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// The provider that answered (`gen_ai.provider.name`).
    pub provider: String,
    /// The model the request asked for (`gen_ai.request.model`).
    pub requested_model: String,
    /// The model the provider says answered (`gen_ai.response.model`), often a dated snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The provider's id for the request (`x-request-id`, `request-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_request_id: Option<String>,
    /// What the call cost in US dollars, when prices are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// How many provider calls it took to get this answer, counting retries and fallbacks (1 when the
    /// first call answered).
    #[serde(default = "one")]
    pub attempts: u32,
    /// The answer came from a response cache, not from a provider call: its usage and cost were not
    /// spent again (metrics and logs outside the cache read this).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

fn one() -> u32 {
    1
}

impl ChatResponse {
    /// A plain text answer that finished normally, with no usage.
    pub fn text(
        provider: impl Into<String>,
        requested_model: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        ChatResponse {
            content: content.into(),
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
            provider: provider.into(),
            requested_model: requested_model.into(),
            model: None,
            provider_request_id: None,
            cost_usd: None,
            attempts: 1,
            cached: false,
        }
    }

    /// Sets the tool calls and the finish reason [`FinishReason::ToolCalls`].
    pub fn with_tool_calls(mut self, tool_calls: Vec<ToolCall>) -> Self {
        self.tool_calls = tool_calls;
        self.finish_reason = FinishReason::ToolCalls;
        self
    }

    /// Sets the usage.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    /// Sets the finish reason.
    pub fn with_finish_reason(mut self, reason: FinishReason) -> Self {
        self.finish_reason = reason;
        self
    }

    /// The model that answered as reported, else the one requested.
    pub fn response_model(&self) -> &str {
        self.model.as_deref().unwrap_or(&self.requested_model)
    }

    /// The answer as an assistant [`Message`], to append to the conversation.
    pub fn to_message(&self) -> Message {
        let content = if self.content.is_empty() {
            Vec::new()
        } else {
            vec![ContentPart::text(self.content.clone())]
        };
        let mut m = Message::with_parts(Role::Assistant, content);
        m.tool_calls = self.tool_calls.clone();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reason_keeps_unknown_values() {
        for (text, reason) in [
            ("stop", FinishReason::Stop),
            ("length", FinishReason::Length),
            ("tool_calls", FinishReason::ToolCalls),
            ("content_filter", FinishReason::ContentFilter),
            ("end_turn_v9", FinishReason::Other("end_turn_v9".into())),
        ] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<FinishReason>(&json).unwrap(), reason);
        }
    }

    #[test]
    fn usage_merges_and_totals() {
        let mut u = Usage {
            input_tokens: Some(10),
            ..Usage::default()
        };
        assert_eq!(u.total_tokens(), None);
        u.merge(&Usage {
            output_tokens: Some(5),
            cached_input_tokens: Some(2),
            ..Usage::default()
        });
        assert_eq!(u.input_tokens, Some(10));
        assert_eq!(u.total_tokens(), Some(15));
        assert_eq!(u.cached_input_tokens, Some(2));
    }

    #[test]
    fn response_round_trips_and_becomes_a_message() {
        let r = ChatResponse::text("p", "m", "hi")
            .with_tool_calls(vec![ToolCall::new("1", "f", "{}")])
            .with_usage(Usage {
                input_tokens: Some(3),
                output_tokens: Some(4),
                cached_input_tokens: None,
                reasoning_tokens: Some(1),
                cache_creation_input_tokens: Some(2),
            });
        let back: ChatResponse = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let m = r.to_message();
        assert_eq!(m.role, Role::Assistant);
        assert_eq!(m.text(), "hi");
        assert_eq!(m.tool_calls.len(), 1);
    }
}
