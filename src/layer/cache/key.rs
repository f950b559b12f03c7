//! Cache keys: a SHA-256, in hex, of a canonical binary encoding of everything that changes the answer.
//!
//! The encoding is a flat byte string written field by field in a fixed order: every string and byte
//! sequence as its length (u64, little endian) and then its bytes, every list as its length and then its
//! items, every `Option` as a `0` byte (absent) or a `1` byte and the value, every enum as a one-byte tag,
//! numbers in little endian (`f32` as its bits, `-0.0` as `0.0`). Length prefixes make it unambiguous: no
//! two requests share an encoding by accident. JSON values inside the request (tool parameter schemas,
//! response schemas) are written as their canonical JSON text, object keys sorted, whatever order the
//! `serde_json::Map` keeps (it keeps insertion order when some crate in the build enables serde_json's
//! `preserve_order`).
//!
//! Why binary and not JSON: the key is computed on every cacheable call, and escaping every message as JSON
//! cost more than hashing it (about 8,000 instructions per call for a short chat; the binary form is a few
//! copies).
//!
//! The request and message types are destructured without `..`: a new field on them fails to compile here
//! until someone decides whether it belongs in the key. Any change of the encoding must bump
//! [`PREFIX`], so entries written by an older version are never served; the golden test in
//! `tests/layer_cache.rs` catches a change that forgot to.

use serde::ser::{Serialize, SerializeMap, Serializer};
use sha2::{Digest, Sha256};

use crate::llm::{
    ChatRequest, ContentPart, EmbedRequest, Message, RequestMeta, ResponseFormat, ToolCall,
    ToolChoice, ToolSpec,
};
use crate::prompt::PromptRef;
use crate::{Error, Result};

/// The version prefix of every key (and the first bytes hashed). Bump it whenever the encoding changes.
pub(crate) const PREFIX: &str = "tfa-cache-v2:";

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
    let mut e = Encoder::with_capacity(256 + messages.iter().map(message_size).sum::<usize>());
    e.str("chat");
    e.str(provider);
    e.str(model);
    e.len(messages.len());
    for m in messages {
        e.message(m);
    }
    e.opt_f32(*temperature);
    e.opt_f32(*top_p);
    e.opt_u64(max_tokens.map(u64::from));
    e.len(stop.len());
    for s in stop {
        e.str(s);
    }
    e.opt_u64(*seed);
    e.opt_f32(*presence_penalty);
    e.opt_f32(*frequency_penalty);
    e.len(tools.len());
    for t in tools {
        e.tool(t)?;
    }
    match tool_choice {
        None => e.tag(0),
        Some(ToolChoice::Auto) => e.tag(1),
        Some(ToolChoice::None) => e.tag(2),
        Some(ToolChoice::Required) => e.tag(3),
        Some(ToolChoice::Tool(name)) => {
            e.tag(4);
            e.str(name);
        }
    }
    match response_format {
        ResponseFormat::Text => e.tag(0),
        ResponseFormat::Json => e.tag(1),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => {
            e.tag(2);
            e.str(name);
            e.json(schema)?;
            e.tag(u8::from(*strict));
        }
    }
    match prompt {
        None => e.tag(0),
        Some(p) => {
            let PromptRef {
                name,
                version,
                hash,
                variant,
            } = p;
            e.tag(1);
            e.str(name);
            e.str(version);
            e.str(hash);
            e.opt_str(variant.as_deref());
        }
    }
    Ok(e.finish())
}

/// The key of an embed request sent to `provider`, calling `model`.
pub(crate) fn embed_key(provider: &str, model: &str, req: &EmbedRequest) -> Result<String> {
    let EmbedRequest {
        inputs,
        model: _, // resolved by the caller into `model`
        dimensions,
        meta: _,
    } = req;
    let mut e = Encoder::with_capacity(64 + inputs.iter().map(|i| i.len() + 8).sum::<usize>());
    e.str("embeddings");
    e.str(provider);
    e.str(model);
    e.opt_u64(dimensions.map(u64::from));
    e.len(inputs.len());
    for input in inputs {
        e.str(input);
    }
    Ok(e.finish())
}

/// Roughly how many bytes a message adds to the encoding (to size the buffer once).
fn message_size(m: &Message) -> usize {
    32 + m
        .content
        .iter()
        .map(|p| match p {
            ContentPart::Text { text } => text.len() + 9,
            ContentPart::Image { url, .. } => url.len() + 32,
        })
        .sum::<usize>()
}

/// Writes the encoding described in the module docs into one buffer, hashed once at the end.
struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(PREFIX.len() + capacity);
        buf.extend_from_slice(PREFIX.as_bytes());
        Encoder { buf }
    }

    fn tag(&mut self, tag: u8) {
        self.buf.push(tag);
    }

    fn len(&mut self, n: usize) {
        self.buf.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.tag(0),
            Some(s) => {
                self.tag(1);
                self.str(s);
            }
        }
    }

    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.tag(0),
            Some(v) => {
                self.tag(1);
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    /// `-0.0` and `0.0` ask for the same thing.
    fn opt_f32(&mut self, v: Option<f32>) {
        match v {
            None => self.tag(0),
            Some(v) => {
                self.tag(1);
                self.buf
                    .extend_from_slice(&(v + 0.0).to_bits().to_le_bytes());
            }
        }
    }

    /// Canonical JSON text: object keys sorted at every level.
    fn json(&mut self, value: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_vec(&Canonical(value)).map_err(|e| {
            Error::invalid_request(format!(
                "the request could not be encoded as a cache key: {e}"
            ))
        })?;
        self.len(text.len());
        self.buf.extend_from_slice(&text);
        Ok(())
    }

    fn message(&mut self, m: &Message) {
        let Message {
            role,
            content,
            tool_calls,
            tool_call_id,
            name,
        } = m;
        self.str(role.as_str());
        self.len(content.len());
        for part in content {
            match part {
                ContentPart::Text { text } => {
                    self.tag(0);
                    self.str(text);
                }
                ContentPart::Image { url, detail } => {
                    self.tag(1);
                    self.str(url);
                    self.opt_str(detail.as_deref());
                }
            }
        }
        self.len(tool_calls.len());
        for call in tool_calls {
            let ToolCall {
                id,
                name,
                arguments,
            } = call;
            self.str(id);
            self.str(name);
            // Verbatim: the model's own text, which is what the provider is sent back.
            self.str(arguments);
        }
        self.opt_str(tool_call_id.as_deref());
        self.opt_str(name.as_deref());
    }

    fn tool(&mut self, t: &ToolSpec) -> Result<()> {
        let ToolSpec {
            name,
            description,
            parameters,
            strict,
        } = t;
        self.str(name);
        self.opt_str(description.as_deref());
        self.json(parameters)?;
        match strict {
            None => self.tag(0),
            Some(false) => self.tag(1),
            Some(true) => self.tag(2),
        }
        Ok(())
    }

    /// The prefix and the hex SHA-256 of everything written.
    fn finish(self) -> String {
        to_hex(&Sha256::digest(&self.buf))
    }
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
    fn length_prefixes_keep_boundaries_apart() {
        // The same bytes split differently between fields or messages are different requests.
        let two = |a: &str, b: &str| ChatRequest::builder().user(a).user(b).build().unwrap();
        assert_ne!(
            chat_key("p", "m", &two("ab", "c")).unwrap(),
            chat_key("p", "m", &two("a", "bc")).unwrap()
        );
        assert_ne!(
            chat_key("pm", "", &two("a", "b")).unwrap(),
            chat_key("p", "m", &two("a", "b")).unwrap()
        );
        let mut none = ChatRequest::user("x");
        let mut empty = none.clone();
        none.stop = vec![];
        empty.stop = vec![String::new()];
        assert_ne!(
            chat_key("p", "m", &none).unwrap(),
            chat_key("p", "m", &empty).unwrap()
        );
        assert_ne!(
            embed_key("p", "m", &EmbedRequest::new(["ab", "c"])).unwrap(),
            embed_key("p", "m", &EmbedRequest::new(["a", "bc"])).unwrap()
        );
    }

    #[test]
    fn the_hash_is_of_the_prefix_and_the_encoding() {
        // An embed request's encoding written out by hand.
        let mut bytes = PREFIX.as_bytes().to_vec();
        for s in ["embeddings", "p", "m"] {
            bytes.extend_from_slice(&(s.len() as u64).to_le_bytes());
            bytes.extend_from_slice(s.as_bytes());
        }
        bytes.push(0); // no dimensions
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&2u64.to_le_bytes());
        bytes.extend_from_slice(b"hi");
        assert_eq!(
            embed_key("p", "m", &EmbedRequest::new(["hi"])).unwrap(),
            to_hex(&Sha256::digest(&bytes))
        );
    }
}
