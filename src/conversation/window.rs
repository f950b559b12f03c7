//! [`Window`]: which part of a conversation's history to load, and the token estimate it uses.

use serde::{Deserialize, Serialize};

use crate::llm::Message;

/// Tokens added to every message for its role and framing, whatever its content.
const MESSAGE_OVERHEAD_TOKENS: usize = 4;
/// Tokens counted for each non-text content part (an image): a low-detail image in OpenAI's accounting.
const NON_TEXT_PART_TOKENS: usize = 85;
/// Characters per token in the estimate: the usual rule of thumb for English text.
const CHARS_PER_TOKEN: usize = 4;

/// Which part of a conversation's history [`ConversationStore::load`](super::ConversationStore::load)
/// returns.
///
/// Every window keeps a contiguous run of the *newest* messages, and messages always come back oldest
/// first, ready to be sent to a model. A window of zero (`LastN(0)`, `TokenBudget(0)`) returns an empty
/// history for an existing conversation (an unknown one is still
/// [`NotFound`](crate::ErrorKind::NotFound)).
///
/// In configuration files a window reads `"all"`, `{ "last_n": 20 }` or `{ "token_budget": 4000 }`.
///
/// ```
/// use twelve_factor_ai::conversation::Window;
/// use twelve_factor_ai::llm::Message;
///
/// let history = vec![Message::user("a"), Message::assistant("b"), Message::user("c")];
/// let last_two = Window::LastN(2).apply(history);
/// assert_eq!(last_two, vec![Message::assistant("b"), Message::user("c")]);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The whole history.
    #[default]
    All,
    /// The newest `n` messages (fewer if the conversation is shorter).
    LastN(usize),
    /// The newest messages whose estimated tokens ([`estimate_message_tokens`]) add up to at most this
    /// budget. The run stops at the first message that does not fit: an older, shorter message is never
    /// picked past it, so the history has no gaps.
    TokenBudget(usize),
}

impl Window {
    /// How many of the newest messages this window keeps, given the messages newest first.
    ///
    /// Backends use it to cut a history they have loaded; `TokenBudget` stops at the first message over
    /// budget. A cut window never starts with [`Role::Tool`](crate::llm::Role::Tool) results whose
    /// assistant turn was cut off (providers reject such a history), so it may keep fewer messages.
    ///
    /// ```
    /// use twelve_factor_ai::conversation::Window;
    /// use twelve_factor_ai::llm::Message;
    ///
    /// let history = [Message::user("a"), Message::assistant("b"), Message::user("c")];
    /// assert_eq!(Window::All.retained_len(history.iter().rev()), 3);
    /// assert_eq!(Window::LastN(10).retained_len(history.iter().rev()), 3);
    /// assert_eq!(Window::TokenBudget(0).retained_len(history.iter().rev()), 0);
    /// ```
    pub fn retained_len<'a, I>(self, newest_first: I) -> usize
    where
        I: IntoIterator<Item = &'a Message>,
    {
        let newest_first: Vec<&Message> = newest_first.into_iter().collect();
        let len = newest_first.len();
        let mut kept = match self {
            Window::All => len,
            Window::LastN(n) => n.min(len),
            Window::TokenBudget(budget) => {
                let mut used = 0usize;
                let mut kept = 0usize;
                for message in &newest_first {
                    used = used.saturating_add(estimate_message_tokens(message));
                    if used > budget {
                        break;
                    }
                    kept += 1;
                }
                kept
            }
        };
        // A window never starts with tool results whose assistant turn (the one holding the tool calls)
        // was cut off: providers reject such a history, so those results are left out too.
        while kept > 0 && kept < len && newest_first[kept - 1].role == crate::llm::Role::Tool {
            kept -= 1;
        }
        kept
    }

    /// Keeps the part of `messages` (oldest first) that this window selects, oldest first.
    pub fn apply(self, mut messages: Vec<Message>) -> Vec<Message> {
        let keep = self.retained_len(messages.iter().rev());
        let start = messages.len() - keep;
        messages.drain(..start);
        messages
    }
}

/// Estimates how many tokens `message` takes in a model's context, without a tokenizer.
///
/// The heuristic, shared by every backend so that [`Window::TokenBudget`] means the same everywhere:
/// the characters (Unicode scalar values) of its text parts, its participant name, its tool-call id and
/// each tool call's id, name and arguments, divided by 4 and rounded up; plus 85 tokens for each
/// non-text part (an image, counted as OpenAI counts a low-detail one); plus 4 tokens of per-message
/// overhead for the role and framing. It over-counts code and under-counts some scripts; a later
/// release makes the estimator pluggable.
///
/// ```
/// use twelve_factor_ai::conversation::estimate_message_tokens;
/// use twelve_factor_ai::llm::Message;
///
/// assert_eq!(estimate_message_tokens(&Message::user("")), 4);
/// assert_eq!(estimate_message_tokens(&Message::user("hello")), 4 + 2); // 5 chars -> 2 tokens
/// assert_eq!(estimate_message_tokens(&Message::user("12345678")), 4 + 2);
/// ```
pub fn estimate_message_tokens(message: &Message) -> usize {
    let mut chars = 0usize;
    let mut non_text_parts = 0usize;
    for part in &message.content {
        match part.as_text() {
            Some(text) => chars = chars.saturating_add(text.chars().count()),
            None => non_text_parts += 1,
        }
    }
    for call in &message.tool_calls {
        chars = chars
            .saturating_add(call.id.chars().count())
            .saturating_add(call.name.chars().count())
            .saturating_add(call.arguments.chars().count());
    }
    for extra in [&message.name, &message.tool_call_id].into_iter().flatten() {
        chars = chars.saturating_add(extra.chars().count());
    }
    chars
        .div_ceil(CHARS_PER_TOKEN)
        .saturating_add(non_text_parts.saturating_mul(NON_TEXT_PART_TOKENS))
        .saturating_add(MESSAGE_OVERHEAD_TOKENS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cut_window_never_starts_with_orphaned_tool_results() {
        use crate::llm::ToolCall;
        let history = vec![
            Message::user("weather in Oslo and Rome?"),
            Message::assistant_tool_calls(
                "",
                vec![
                    ToolCall::new("a", "weather", "{}"),
                    ToolCall::new("b", "weather", "{}"),
                ],
            ),
            Message::tool_result("a", "rain"),
            Message::tool_result("b", "sun"),
            Message::assistant("Rain in Oslo, sun in Rome."),
        ];
        // The last 3 would start with the result of call "b", whose assistant turn is cut: drop it.
        let kept = Window::LastN(3).apply(history.clone());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].text(), "Rain in Oslo, sun in Rome.");
        // A window that reaches the assistant turn keeps the pair whole.
        assert_eq!(Window::LastN(4).apply(history.clone()).len(), 4);
        assert_eq!(Window::All.apply(history).len(), 5);
    }

    use super::*;
    use crate::llm::{ContentPart, Role, ToolCall};

    #[test]
    fn estimate_counts_text_tools_names_and_images() {
        assert_eq!(estimate_message_tokens(&Message::user("abcd")), 5);
        assert_eq!(estimate_message_tokens(&Message::user("abcde")), 6);
        // Characters, not bytes: four two-byte letters are one token.
        assert_eq!(estimate_message_tokens(&Message::user("éééé")), 5);
        let with_image = Message::with_parts(
            Role::User,
            vec![
                ContentPart::text("abcd"),
                ContentPart::image_url("https://x/y.png"),
            ],
        );
        assert_eq!(estimate_message_tokens(&with_image), 4 + 1 + 85);
        // id "c1" + name "f" + arguments "{}" = 5 chars -> 2 tokens.
        let call = Message::assistant_tool_calls("", vec![ToolCall::new("c1", "f", "{}")]);
        assert_eq!(estimate_message_tokens(&call), 4 + 2);
        // "c1" + "42" = 4 chars -> 1 token.
        assert_eq!(
            estimate_message_tokens(&Message::tool_result("c1", "42")),
            5
        );
        assert_eq!(
            estimate_message_tokens(&Message::user("ab").with_name("bo")),
            5
        );
    }

    #[test]
    fn windows_keep_the_newest_run() {
        let history: Vec<Message> = (0..5).map(|i| Message::user(format!("m{i}"))).collect();
        assert_eq!(Window::All.apply(history.clone()), history);
        assert_eq!(
            Window::LastN(2).apply(history.clone()),
            history[3..].to_vec()
        );
        assert_eq!(
            Window::LastN(0).apply(history.clone()),
            Vec::<Message>::new()
        );
        assert_eq!(Window::LastN(99).apply(history.clone()), history);
        // Each "mN" message estimates to 5 tokens.
        assert_eq!(
            Window::TokenBudget(14).apply(history.clone()),
            history[3..].to_vec()
        );
        assert_eq!(
            Window::TokenBudget(15).apply(history.clone()),
            history[2..].to_vec()
        );
        assert_eq!(
            Window::TokenBudget(4).apply(history.clone()),
            Vec::<Message>::new()
        );
        assert_eq!(
            Window::TokenBudget(0).apply(history.clone()),
            Vec::<Message>::new()
        );
        assert_eq!(
            Window::TokenBudget(usize::MAX).apply(history.clone()),
            history
        );
    }

    #[test]
    fn token_budget_never_skips_past_a_message_that_does_not_fit() {
        let history = vec![
            Message::user("a"),
            Message::user("x".repeat(400)),
            Message::user("b"),
        ];
        // "b" fits (5), the long one does not; "a" would fit but is not picked past the gap.
        assert_eq!(
            Window::TokenBudget(20).apply(history),
            vec![Message::user("b")]
        );
    }

    #[test]
    fn window_serde_shape() {
        assert_eq!(serde_json::to_string(&Window::All).unwrap(), r#""all""#);
        assert_eq!(
            serde_json::to_string(&Window::LastN(3)).unwrap(),
            r#"{"last_n":3}"#
        );
        let w: Window = serde_json::from_str(r#"{"token_budget":100}"#).unwrap();
        assert_eq!(w, Window::TokenBudget(100));
        assert_eq!(Window::default(), Window::All);
    }
}
