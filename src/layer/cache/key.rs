//! Cache keys: a SHA-256, in hex, of a canonical encoding of everything that changes the answer.
//!
//! The encoding is JSON written by serde from the typed structs below, whose field order is fixed, straight
//! into the hasher (no intermediate string). JSON objects inside the request (tool parameter schemas,
//! response schemas) are written with their keys sorted, whatever order the `serde_json::Map` keeps (it
//! keeps insertion order when some crate in the build enables serde_json's `preserve_order`). Every field
//! is always written (`null` when absent), so no two requests share an encoding by accident.
//!
//! The request and message types are destructured without `..`: a new field on them fails to compile here
//! until someone decides whether it belongs in the key. Any change of the encoding must bump
//! [`PREFIX`], so entries written by an older version are never served; the golden test in
//! `tests/layer_cache.rs` catches a change that forgot to.

use std::io;

use serde::ser::{Serialize, SerializeMap, Serializer};
use sha2::{Digest, Sha256};

use crate::llm::{
    ChatRequest, ContentPart, EmbedRequest, Message, RequestMeta, ResponseFormat, ToolCall,
    ToolChoice, ToolSpec,
};
use crate::prompt::PromptRef;
use crate::{Error, Result};

/// The version prefix of every key (and the first bytes hashed). Bump it whenever the encoding changes.
pub(crate) const PREFIX: &str = "tfa-cache-v1:";

/// The key of a chat request sent to `provider`, calling `model`.
pub(crate) fn chat_key(provider: &str, model: &str, req: &ChatRequest) -> Result<String> {
    // Exhaustive on purpose (see the module docs): a new field must be placed in or out of the key.
    let ChatRequest {
        messages,
        model: _, // resolved by the caller into `model`
        temperature,
        top_p,
        max_tokens,
        stop,
        seed,
        presence_penalty,
        frequency_penalty,
        tools,
        tool_choice,
        response_format,
        meta,
    } = req;
    let RequestMeta {
        request_id: _,
        prompt,
        conversation_id: _,
        tenant: _,
        tags: _,
    } = meta;
    hash(&ChatKey {
        op: "chat",
        provider,
        model,
        messages: Messages(messages),
        temperature: normalise(*temperature),
        top_p: normalise(*top_p),
        max_tokens: *max_tokens,
        stop,
        seed: *seed,
        presence_penalty: normalise(*presence_penalty),
        frequency_penalty: normalise(*frequency_penalty),
        tools: Tools(tools),
        tool_choice: tool_choice.as_ref().map(KeyToolChoice::from),
        response_format: KeyFormat::from(response_format),
        prompt: prompt.as_ref().map(KeyPrompt::from),
    })
}

/// The key of an embed request sent to `provider`, calling `model`.
pub(crate) fn embed_key(provider: &str, model: &str, req: &EmbedRequest) -> Result<String> {
    let EmbedRequest {
        inputs,
        model: _, // resolved by the caller into `model`
        dimensions,
        meta: _,
    } = req;
    hash(&EmbedKey {
        op: "embeddings",
        provider,
        model,
        dimensions: *dimensions,
        inputs,
    })
}

fn hash(key: &impl Serialize) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(PREFIX.as_bytes());
    serde_json::to_writer(HashWriter(&mut hasher), key).map_err(|e| {
        Error::invalid_request(format!(
            "the request could not be encoded as a cache key: {e}"
        ))
    })?;
    Ok(to_hex(&hasher.finalize()))
}

fn to_hex(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(PREFIX.len() + digest.len() * 2);
    out.push_str(PREFIX);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Feeds whatever serde_json writes straight into the hasher. (sha2 gathers input into 64-byte blocks
/// itself; an extra buffer here measured slower.)
struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `-0.0` and `0.0` ask for the same thing.
fn normalise(v: Option<f32>) -> Option<f32> {
    v.map(|x| x + 0.0)
}

#[derive(serde::Serialize)]
struct ChatKey<'a> {
    op: &'static str,
    provider: &'a str,
    model: &'a str,
    messages: Messages<'a>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    max_tokens: Option<u32>,
    stop: &'a [String],
    seed: Option<u64>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    tools: Tools<'a>,
    tool_choice: Option<KeyToolChoice<'a>>,
    response_format: KeyFormat<'a>,
    prompt: Option<KeyPrompt<'a>>,
}

#[derive(serde::Serialize)]
struct EmbedKey<'a> {
    op: &'static str,
    provider: &'a str,
    model: &'a str,
    dimensions: Option<u32>,
    inputs: &'a [String],
}

struct Messages<'a>(&'a [Message]);

impl Serialize for Messages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(KeyMessage::from))
    }
}

#[derive(serde::Serialize)]
struct KeyMessage<'a> {
    role: &'static str,
    content: Parts<'a>,
    tool_calls: ToolCalls<'a>,
    tool_call_id: Option<&'a str>,
    name: Option<&'a str>,
}

impl<'a> From<&'a Message> for KeyMessage<'a> {
    fn from(m: &'a Message) -> Self {
        let Message {
            role,
            content,
            tool_calls,
            tool_call_id,
            name,
        } = m;
        KeyMessage {
            role: role.as_str(),
            content: Parts(content),
            tool_calls: ToolCalls(tool_calls),
            tool_call_id: tool_call_id.as_deref(),
            name: name.as_deref(),
        }
    }
}

struct Parts<'a>(&'a [ContentPart]);

impl Serialize for Parts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(KeyPart::from))
    }
}

#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum KeyPart<'a> {
    Text {
        text: &'a str,
    },
    Image {
        url: &'a str,
        detail: Option<&'a str>,
    },
}

impl<'a> From<&'a ContentPart> for KeyPart<'a> {
    fn from(p: &'a ContentPart) -> Self {
        match p {
            ContentPart::Text { text } => KeyPart::Text { text },
            ContentPart::Image { url, detail } => KeyPart::Image {
                url,
                detail: detail.as_deref(),
            },
        }
    }
}

struct ToolCalls<'a>(&'a [ToolCall]);

impl Serialize for ToolCalls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| {
            let ToolCall {
                id,
                name,
                arguments,
            } = c;
            KeyToolCall {
                id,
                name,
                arguments,
            }
        }))
    }
}

#[derive(serde::Serialize)]
struct KeyToolCall<'a> {
    id: &'a str,
    name: &'a str,
    /// Verbatim: the model's own text, which is what the provider is sent back.
    arguments: &'a str,
}

struct Tools<'a>(&'a [ToolSpec]);

impl Serialize for Tools<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|t| {
            let ToolSpec {
                name,
                description,
                parameters,
                strict,
            } = t;
            KeyTool {
                name,
                description: description.as_deref(),
                parameters: Canonical(parameters),
                strict: *strict,
            }
        }))
    }
}

#[derive(serde::Serialize)]
struct KeyTool<'a> {
    name: &'a str,
    description: Option<&'a str>,
    parameters: Canonical<'a>,
    strict: Option<bool>,
}

#[derive(serde::Serialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
enum KeyToolChoice<'a> {
    Auto,
    None,
    Required,
    Tool(&'a str),
}

impl<'a> From<&'a ToolChoice> for KeyToolChoice<'a> {
    fn from(c: &'a ToolChoice) -> Self {
        match c {
            ToolChoice::Auto => KeyToolChoice::Auto,
            ToolChoice::None => KeyToolChoice::None,
            ToolChoice::Required => KeyToolChoice::Required,
            ToolChoice::Tool(name) => KeyToolChoice::Tool(name),
        }
    }
}

#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum KeyFormat<'a> {
    Text,
    Json,
    JsonSchema {
        name: &'a str,
        schema: Canonical<'a>,
        strict: bool,
    },
}

impl<'a> From<&'a ResponseFormat> for KeyFormat<'a> {
    fn from(f: &'a ResponseFormat) -> Self {
        match f {
            ResponseFormat::Text => KeyFormat::Text,
            ResponseFormat::Json => KeyFormat::Json,
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => KeyFormat::JsonSchema {
                name,
                schema: Canonical(schema),
                strict: *strict,
            },
        }
    }
}

#[derive(serde::Serialize)]
struct KeyPrompt<'a> {
    name: &'a str,
    version: &'a str,
    hash: &'a str,
    variant: Option<&'a str>,
}

impl<'a> From<&'a PromptRef> for KeyPrompt<'a> {
    fn from(p: &'a PromptRef) -> Self {
        let PromptRef {
            name,
            version,
            hash,
            variant,
        } = p;
        KeyPrompt {
            name,
            version,
            hash,
            variant: variant.as_deref(),
        }
    }
}

/// A JSON value written with every object's keys in sorted order.
struct Canonical<'a>(&'a serde_json::Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde_json::Value;
        match self.0 {
            Value::Object(map) => {
                let mut out = s.serialize_map(Some(map.len()))?;
                // Without `preserve_order` the map is a BTreeMap and already sorted: no allocation then.
                if map.keys().zip(map.keys().skip(1)).all(|(a, b)| a <= b) {
                    for (k, v) in map {
                        out.serialize_entry(k, &Canonical(v))?;
                    }
                } else {
                    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in entries {
                        out.serialize_entry(k, &Canonical(v))?;
                    }
                }
                out.end()
            }
            Value::Array(items) => s.collect_seq(items.iter().map(Canonical)),
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatRequest;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_nested_object_keys() {
        let v = json!({"b": [{"z": 1, "a": 2}], "a": {"y": null, "x": "s"}});
        let text = serde_json::to_string(&Canonical(&v)).unwrap();
        assert_eq!(text, r#"{"a":{"x":"s","y":null},"b":[{"a":2,"z":1}]}"#);
    }

    #[test]
    fn keys_are_prefixed_hex_of_fixed_length() {
        let key = chat_key("p", "m", &ChatRequest::user("hi")).unwrap();
        assert!(key.starts_with(PREFIX));
        let hex = &key[PREFIX.len()..];
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn negative_zero_is_zero() {
        let mut a = ChatRequest::user("hi");
        a.temperature = Some(0.0);
        let mut b = a.clone();
        b.temperature = Some(-0.0);
        assert_eq!(
            chat_key("p", "m", &a).unwrap(),
            chat_key("p", "m", &b).unwrap()
        );
    }

    #[test]
    fn chat_and_embed_keys_never_collide() {
        let chat = chat_key("p", "m", &ChatRequest::user("x")).unwrap();
        let embed = embed_key("p", "m", &EmbedRequest::new(["x"])).unwrap();
        assert_ne!(chat, embed);
    }

    #[test]
    fn the_hasher_sees_what_serde_json_writes() {
        // The streaming hash equals the hash of the whole JSON text, so the encoding is plain JSON.
        let req = ChatRequest::user("hi");
        let key = chat_key("p", "m", &req).unwrap();
        let text = serde_json::to_string(&ChatKey {
            op: "chat",
            provider: "p",
            model: "m",
            messages: Messages(&req.messages),
            temperature: None,
            top_p: None,
            max_tokens: None,
            stop: &[],
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
            tools: Tools(&[]),
            tool_choice: None,
            response_format: KeyFormat::Text,
            prompt: None,
        })
        .unwrap();
        let mut h = Sha256::new();
        h.update(PREFIX.as_bytes());
        h.update(text.as_bytes());
        assert_eq!(key, to_hex(&h.finalize()));
    }
}
