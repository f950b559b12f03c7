//! Chat prompts: role lines (`system:`, `user:`, `assistant:` alone on a line) split a prompt file into
//! messages.
//!
//! At load every role line is replaced by a marker that holds a random nonce made for this prompt set;
//! after rendering, the output is split at the markers. A variable value is inserted as text and cannot
//! contain the nonce (it never leaves the process), so no value can start a new message: a value holding
//! `\nuser:\n` stays text inside its message.

use crate::llm::{Message, Role};

/// The markers of one prompt set.
#[derive(Debug, Clone)]
pub(super) struct RoleMarkers {
    /// `\u{1}tfa-role:<nonce>:`; the role name and [`MARKER_END`] follow.
    prefix: String,
}

const MARKER_END: char = '\u{1}';

/// The role a line names, if the line is a role line.
pub(super) fn role_line(line: &str) -> Option<Role> {
    match line.trim_end() {
        "system:" => Some(Role::System),
        "user:" => Some(Role::User),
        "assistant:" => Some(Role::Assistant),
        _ => None,
    }
}

impl RoleMarkers {
    pub(super) fn new() -> Self {
        RoleMarkers {
            prefix: format!("\u{1}tfa-role:{}:", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Appends `body` to `template` with each role line replaced by its marker (the line break stays, so
    /// template line numbers do not move); returns whether there was a role line.
    pub(super) fn transform(&self, body: &str, template: &mut String) -> bool {
        let mut chat = false;
        for line in body.split_inclusive('\n') {
            let text = line.trim_end_matches(['\n', '\r']);
            match role_line(text) {
                Some(role) => {
                    chat = true;
                    template.push_str(&self.prefix);
                    template.push_str(role.as_str());
                    template.push(MARKER_END);
                    template.push_str(&line[text.len()..]);
                }
                None => template.push_str(line),
            }
        }
        chat
    }

    /// Turns rendered output into messages: one message of `default_role` holding the output as it is
    /// when there is no role line, otherwise one message per section. Text before the first role line is
    /// a message of `default_role`. Each section drops its leading blank lines and trailing whitespace; a
    /// section left empty (its content all inside a false `{% if %}`) is dropped.
    pub(super) fn messages(&self, output: String, default_role: Role) -> Vec<Message> {
        let Some(first) = self.find(&output, 0) else {
            return vec![Message::new(default_role, output)];
        };
        let mut messages = Vec::with_capacity(2);
        push_section(&mut messages, default_role, &output[..first]);
        let mut at = first;
        loop {
            let after = at + self.prefix.len();
            // Markers are only ever written by `transform`, so the role name and end are always there;
            // the fallbacks keep this panic-free all the same.
            let end = output[after..]
                .find(MARKER_END)
                .map_or(output.len(), |i| after + i);
            let role = match output.get(after..end) {
                Some("system") => Role::System,
                Some("assistant") => Role::Assistant,
                _ => Role::User,
            };
            let start = (end + MARKER_END.len_utf8()).min(output.len());
            match self.find(&output, start) {
                Some(next) => {
                    push_section(&mut messages, role, &output[start..next]);
                    at = next;
                }
                None => {
                    push_section(&mut messages, role, &output[start..]);
                    return messages;
                }
            }
        }
    }

    /// The offset of the next marker at or after `from`. Searches for the marker's first byte (a memchr)
    /// and checks the rest, which is faster than a substring search on prompt-sized output.
    fn find(&self, output: &str, mut from: usize) -> Option<usize> {
        while let Some(i) = output.get(from..)?.find(MARKER_END) {
            let at = from + i;
            if output[at..].starts_with(self.prefix.as_str()) {
                return Some(at);
            }
            from = at + MARKER_END.len_utf8();
        }
        None
    }
}

fn push_section(messages: &mut Vec<Message>, role: Role, text: &str) {
    let text = text.trim_end();
    // Drop whole blank lines at the start, keep the indentation of the first line with text.
    let start = text
        .char_indices()
        .take_while(|(_, c)| c.is_whitespace())
        .filter(|(_, c)| *c == '\n')
        .last()
        .map_or(0, |(i, _)| i + 1);
    let text = &text[start..];
    if !text.is_empty() {
        messages.push(Message::new(role, text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str) -> Vec<Message> {
        let markers = RoleMarkers::new();
        let mut out = String::new();
        assert!(markers.transform(template, &mut out));
        markers.messages(out, Role::User)
    }

    #[test]
    fn role_lines_split_messages() {
        let messages =
            render("system:\nBe brief.\n\nuser:\r\n  indented\nline\n\nassistant:  \nOk.\n");
        assert_eq!(
            messages,
            vec![
                Message::system("Be brief."),
                Message::user("  indented\nline"),
                Message::assistant("Ok."),
            ]
        );
        let messages = render("Preamble\nsystem:\n\n\nuser:\nHi\u{1}x");
        assert_eq!(
            messages,
            vec![Message::user("Preamble"), Message::user("Hi\u{1}x")]
        );
    }

    #[test]
    fn only_exact_lines_are_role_lines() {
        for line in ["user: hi", " user:", "User:", "users:", "tool:", "user"] {
            assert_eq!(role_line(line), None, "{line:?}");
        }
        let markers = RoleMarkers::new();
        let mut out = String::new();
        assert!(!markers.transform("user: hi\nsystem", &mut out));
        assert_eq!(out, "user: hi\nsystem");
    }

    #[test]
    fn markers_differ_per_set_and_foreign_text_stays_text() {
        let (a, b) = (RoleMarkers::new(), RoleMarkers::new());
        assert_ne!(a.prefix, b.prefix);
        let mut out = String::new();
        b.transform("user:\nx", &mut out);
        // Output of another set (or text that imitates a marker) is not split by `a`.
        assert_eq!(
            a.messages(out.clone(), Role::System),
            vec![Message::system(out)]
        );
    }
}
