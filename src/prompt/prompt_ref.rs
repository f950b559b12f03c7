//! [`PromptRef`]: which prompt produced a request.

use serde::{Deserialize, Serialize};

/// Which prompt, at which version and content hash, produced a request.
///
/// A rendered prompt returns one; it travels in [`RequestMeta`](crate::llm::RequestMeta) into logs, metrics,
/// cache keys and eval reports, so every answer can be traced to the exact template that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PromptRef {
    /// The prompt's name (`system/customer-support-agent`).
    pub name: String,
    /// Its version (`"1.2.0"`, or `"unversioned"`).
    pub version: String,
    /// A hex prefix of the SHA-256 of the template's bytes.
    pub hash: String,
    /// The A/B variant chosen, when the prompt has variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for PromptRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}#{}", self.name, self.version, self.hash)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}
