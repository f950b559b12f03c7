//! [`FakeRules`]: the request rules of the real APIs that a [`FakeServer`](super::FakeServer) can enforce,
//! so a test shows that a request which the real API would refuse is refused here too, with the real
//! status and error body.

use serde_json::Value;

use super::{FakeReply, RecordedRequest, anthropic, openai};

/// The `anthropic-version` that changes auth and refuses sampling parameters on every model.
const ANTHROPIC_2026: &str = "2026-10-21";

/// Which rules of the real APIs the server enforces. [`FakeRules::default`] enforces none (what
/// [`FakeServer::start`](super::FakeServer::start) uses); [`FakeRules::real_apis`] enforces all (what
/// [`FakeServer::enforcing`](super::FakeServer::enforcing) uses).
///
/// A request that breaks an enforced rule gets the real API's error reply, the queue is left untouched
/// (the real API refuses before doing anything), and the request is still recorded.
///
/// ```
/// use twelve_factor_ai::testing::fake::FakeRules;
///
/// let mut rules = FakeRules::real_apis();
/// rules.anthropic_auth = false; // keep the relaxed auth check of the plain server
/// assert!(rules.openai_reasoning_models && rules.anthropic_sampling);
/// assert_eq!(FakeRules::default(), FakeRules::none());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FakeRules {
    /// OpenAI Chat Completions, for the o-series (`o1*`, `o3*`, `o4*`) and GPT-5 (`gpt-5*`) models:
    /// `max_tokens` is a 400 `unsupported_parameter` ("Use 'max_completion_tokens' instead."), and a
    /// `temperature`, `top_p` or penalty other than its default (1, 1, 0) is a 400 `unsupported_value`.
    pub openai_reasoning_models: bool,
    /// Anthropic Messages: `temperature`, `top_p` and `top_k` are a 400 `invalid_request_error`
    /// ("`temperature` is deprecated for this model.") for Claude Opus 4.7 and later (`claude-opus-4-7*`,
    /// `claude-opus-4-8*`, `claude-opus-5*`, `claude-sonnet-5*`, `claude-haiku-5*`, `claude-fable-5*`),
    /// and for every model under `anthropic-version: 2026-10-21`, which also refuses `document` blocks in
    /// assistant messages and `citations` on user text blocks.
    pub anthropic_sampling: bool,
    /// Anthropic auth per version: `x-api-key` for `2023-06-01` (and any version but `2026-10-21`),
    /// `Authorization: Bearer` for `2026-10-21`; otherwise 401 `authentication_error`. Without this rule
    /// the server accepts either header with any version.
    pub anthropic_auth: bool,
}

impl FakeRules {
    /// No rule enforced: the server's plain behaviour.
    pub fn none() -> Self {
        FakeRules::default()
    }

    /// Every rule enforced, as the real APIs do.
    pub fn real_apis() -> Self {
        FakeRules {
            openai_reasoning_models: true,
            anthropic_sampling: true,
            anthropic_auth: true,
        }
    }

    /// The real API's refusal of `req`, if it breaks an enforced rule.
    pub(crate) fn check(&self, req: &RecordedRequest) -> Option<FakeReply> {
        let route = req.path_without_query().trim_end_matches('/');
        if route.ends_with("/chat/completions") && self.openai_reasoning_models {
            check_openai(req)
        } else if route.ends_with("/messages") {
            self.check_anthropic(req)
        } else {
            None
        }
    }

    fn check_anthropic(&self, req: &RecordedRequest) -> Option<FakeReply> {
        let version = req.header("anthropic-version")?;
        let v2026 = version == ANTHROPIC_2026;
        if self.anthropic_auth {
            let bearer = req
                .header("authorization")
                .is_some_and(|v| v.starts_with("Bearer ") && v.len() > "Bearer ".len());
            let api_key = req.header("x-api-key").is_some_and(|v| !v.is_empty());
            if v2026 && !bearer {
                return Some(anthropic::error(
                    401,
                    "authentication_error",
                    "anthropic-version 2026-10-21 requires an Authorization: Bearer header",
                ));
            }
            if !v2026 && !api_key {
                return Some(anthropic::error(
                    401,
                    "authentication_error",
                    "x-api-key header is required",
                ));
            }
        }
        if !self.anthropic_sampling {
            return None;
        }
        let body: Value = serde_json::from_slice(&req.body).ok()?;
        let model = body["model"].as_str().unwrap_or_default();
        if v2026 || anthropic_rejects_sampling(model) {
            for param in ["temperature", "top_p", "top_k"] {
                if !body[param].is_null() {
                    return Some(anthropic::sampling_deprecated(param));
                }
            }
        }
        if v2026 {
            return check_anthropic_2026_blocks(&body);
        }
        None
    }
}

/// OpenAI's reasoning models: the o-series and GPT-5.
pub(crate) fn openai_is_reasoning_model(model: &str) -> bool {
    let o_series = ["o1", "o3", "o4"].iter().any(|family| {
        model
            .strip_prefix(family)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    });
    o_series || model.starts_with("gpt-5")
}

/// Anthropic's models that refuse sampling parameters: Claude Opus 4.7 and later.
pub(crate) fn anthropic_rejects_sampling(model: &str) -> bool {
    [
        "claude-opus-4-7",
        "claude-opus-4-8",
        "claude-opus-5",
        "claude-sonnet-5",
        "claude-haiku-5",
        "claude-fable-5",
    ]
    .iter()
    .any(|family| model.starts_with(family))
}

fn check_openai(req: &RecordedRequest) -> Option<FakeReply> {
    let body: Value = serde_json::from_slice(&req.body).ok()?;
    let model = body["model"].as_str().unwrap_or_default();
    if !openai_is_reasoning_model(model) {
        return None;
    }
    if !body["max_tokens"].is_null() {
        return Some(openai::max_tokens_unsupported());
    }
    for (param, default) in [
        ("temperature", 1.0),
        ("top_p", 1.0),
        ("presence_penalty", 0.0),
        ("frequency_penalty", 0.0),
    ] {
        match &body[param] {
            Value::Null => {}
            Value::Number(n) if n.as_f64() == Some(default) => {}
            value => return Some(openai::unsupported_value(param, value, default)),
        }
    }
    None
}

/// `2026-10-21` refuses document blocks in assistant messages and citations on user text blocks.
fn check_anthropic_2026_blocks(body: &Value) -> Option<FakeReply> {
    for (i, message) in body["messages"].as_array()?.iter().enumerate() {
        let Some(blocks) = message["content"].as_array() else {
            continue;
        };
        for (j, block) in blocks.iter().enumerate() {
            let refusal = match message["role"].as_str() {
                Some("assistant") if block["type"] == "document" => {
                    "document blocks are not supported in assistant messages"
                }
                Some("user") if block["type"] == "text" && !block["citations"].is_null() => {
                    "citations are not supported on user text blocks"
                }
                _ => continue,
            };
            return Some(anthropic::error(
                400,
                "invalid_request_error",
                &format!("messages.{i}.content.{j}: {refusal} with anthropic-version 2026-10-21"),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_families() {
        for m in [
            "o1",
            "o3",
            "o3-mini",
            "o4-mini-2025-04-16",
            "gpt-5",
            "gpt-5.1",
            "gpt-5-2025-08-07",
        ] {
            assert!(openai_is_reasoning_model(m), "{m}");
        }
        for m in ["gpt-4o-2024-08-06", "gpt-4.1", "omni", "o30", "llama3.2:3b"] {
            assert!(!openai_is_reasoning_model(m), "{m}");
        }
        for m in [
            "claude-opus-4-7",
            "claude-opus-4-7-20260115",
            "claude-sonnet-5-5",
            "claude-fable-5",
        ] {
            assert!(anthropic_rejects_sampling(m), "{m}");
        }
        for m in [
            "claude-sonnet-4-5-20250929",
            "claude-opus-4-1",
            "claude-3-5-haiku-20241022",
        ] {
            assert!(!anthropic_rejects_sampling(m), "{m}");
        }
    }

    fn request(path: &str, headers: &[(&str, &str)], body: Value) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_string().into_bytes(),
        }
    }

    fn status(reply: Option<FakeReply>) -> Option<u16> {
        reply.map(|r| match r {
            FakeReply::Json { status, .. } => status,
            _ => 0,
        })
    }

    #[test]
    fn openai_rules() {
        let rules = FakeRules::real_apis();
        let chat = |body| rules.check(&request("/v1/chat/completions", &[], body));
        let ok = serde_json::json!({"model": "o3", "max_completion_tokens": 5, "temperature": 1});
        assert_eq!(status(chat(ok)), None);
        let bad = serde_json::json!({"model": "o3", "max_tokens": 5});
        assert_eq!(status(chat(bad)), Some(400));
        let bad = serde_json::json!({"model": "gpt-5", "presence_penalty": 0.5});
        assert_eq!(status(chat(bad)), Some(400));
        let other = serde_json::json!({"model": "gpt-4o", "max_tokens": 5, "temperature": 0.2});
        assert_eq!(status(chat(other)), None);
        assert_eq!(
            FakeRules::none().check(&request(
                "/v1/chat/completions",
                &[],
                serde_json::json!({"model": "o3", "max_tokens": 5})
            )),
            None
        );
    }

    #[test]
    fn anthropic_rules() {
        let rules = FakeRules::real_apis();
        let old = [("anthropic-version", "2023-06-01"), ("x-api-key", "k")];
        let new = [
            ("anthropic-version", "2026-10-21"),
            ("authorization", "Bearer k"),
        ];
        let body = |model: &str| serde_json::json!({"model": model, "max_tokens": 5, "temperature": 0.2, "messages": []});
        let check = |h: &[(&str, &str)], b| status(rules.check(&request("/v1/messages", h, b)));
        assert_eq!(check(&old, body("claude-sonnet-4-5")), None);
        assert_eq!(check(&old, body("claude-opus-4-7")), Some(400));
        assert_eq!(check(&new, body("claude-sonnet-4-5")), Some(400));
        assert_eq!(check(&new[..1], body("claude-sonnet-4-5")), Some(401));
        assert_eq!(
            check(
                &[("anthropic-version", "2026-10-21"), ("x-api-key", "k")],
                body("x")
            ),
            Some(401)
        );
        let cited = serde_json::json!({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a", "citations": []}]}
        ]});
        assert_eq!(check(&new, cited.clone()), Some(400));
        assert_eq!(check(&old, cited), None);
    }
}
