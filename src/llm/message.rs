//! Chat messages: who speaks ([`Role`]) and what they say ([`ContentPart`]s, [`ToolCall`]s).

use serde::{Deserialize, Serialize};

/// Who a message is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the host service.
    System,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, sent back to the model.
    Tool,
}

impl Role {
    /// The lowercase name (`"system"`, `"user"`, `"assistant"`, `"tool"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One part of a message's content. Text today; images and more as providers accept them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, by URL (`https://…` or a `data:` URL).
    Image {
        /// Where the image is.
        url: String,
        /// The provider's detail hint (`"low"`, `"high"`, `"auto"`), when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text { text: text.into() }
    }

    /// An image part by URL.
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::Image {
            url: url.into(),
            detail: None,
        }
    }

    /// The text of a text part, `None` for other parts.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentPart::Text { text } => Some(text),
            _ => None,
        }
    }
}

/// A call of a tool that the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call; the tool's result refers to it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them: a JSON text, kept verbatim because models do not always
    /// write valid JSON. [`ToolCall::parse_arguments`] parses it.
    pub arguments: String,
}

impl ToolCall {
    /// A tool call.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    /// Parses the arguments as JSON; an empty text parses as `{}`.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the model wrote invalid JSON.
    pub fn parse_arguments(&self) -> crate::Result<serde_json::Value> {
        if self.arguments.trim().is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_str(&self.arguments).map_err(|e| {
            crate::Error::decode(format!(
                "arguments of tool call {} ({}) are not valid JSON: {e}",
                self.id, self.name
            ))
        })
    }
}

/// One message of a conversation.
///
/// ```
/// use twelve_factor_ai::llm::{Message, Role};
///
/// let m = Message::user("What is 12-factor?");
/// assert_eq!(m.role, Role::User);
/// assert_eq!(m.text(), "What is 12-factor?");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who the message is from.
    pub role: Role,
    /// What it says, in parts.
    #[serde(default)]
    pub content: Vec<ContentPart>,
    /// The tool calls an assistant message asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a [`Role::Tool`] message: the id of the call this is the result of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    /// A message of `role` with one text part.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: vec![ContentPart::text(text)],
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// A message of `role` with the given parts.
    pub fn with_parts(role: Role, content: Vec<ContentPart>) -> Self {
        Message {
            role,
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::new(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new(Role::User, text)
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, text)
    }

    /// An assistant message that asks for tool calls (and says `text`, which may be empty).
    pub fn assistant_tool_calls(text: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        let text = text.into();
        let content = if text.is_empty() {
            Vec::new()
        } else {
            vec![ContentPart::text(text)]
        };
        Message {
            tool_calls,
            ..Self::with_parts(Role::Assistant, content)
        }
    }

    /// The result of tool call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, text: impl Into<String>) -> Self {
        Message {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, text)
        }
    }

    /// Sets the participant name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The text parts joined together (other parts are skipped).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            if let Some(t) = part.as_text() {
                out.push_str(t);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trips_through_json() {
        let messages = vec![
            Message::system("be brief").with_name("ops"),
            Message::with_parts(
                Role::User,
                vec![
                    ContentPart::text("what is this?"),
                    ContentPart::image_url("data:image/png;base64,AA=="),
                ],
            ),
            Message::assistant_tool_calls("", vec![ToolCall::new("c1", "lookup", r#"{"q":"x"}"#)]),
            Message::tool_result("c1", "42"),
        ];
        let json = serde_json::to_string(&messages).unwrap();
        let back: Vec<Message> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, messages);
        assert!(json.contains(r#""role":"tool""#));
        assert!(json.contains(r#""type":"image""#));
    }

    #[test]
    fn tool_arguments_parse_or_fail_typed() {
        assert_eq!(
            ToolCall::new("a", "f", "").parse_arguments().unwrap(),
            serde_json::json!({})
        );
        assert_eq!(
            ToolCall::new("a", "f", r#"{"x":1}"#)
                .parse_arguments()
                .unwrap()["x"],
            1
        );
        let err = ToolCall::new("a", "f", "{oops")
            .parse_arguments()
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Decode);
    }
}
