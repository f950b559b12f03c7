//! Prompts as code (factor I): the [`PromptRegistry`] trait, [`Selector`]s, the shared template engine
//! ([`CompiledPrompt`]) and the in-memory registry.
//!
//! Every prompt has a name, a version and a content hash; rendering it returns the messages together with
//! a [`PromptRef`] that travels with the request into logs, metrics and eval reports.
//!
//! ```
//! use serde_json::json;
//! use twelve_factor_ai::prompt::{MemoryPromptRegistry, PromptRegistryExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> twelve_factor_ai::Result<()> {
//! let prompts = MemoryPromptRegistry::new();
//! let greet = prompts.insert("greet", "Say hello to {{ name }}.")?;
//! let rendered = prompts.render_latest("greet", &json!({ "name": "Ada" })).await?;
//! assert_eq!(rendered.messages[0].text(), "Say hello to Ada.");
//! assert_eq!(rendered.prompt, greet);
//! assert_eq!(greet.version, "unversioned");
//! # Ok(())
//! # }
//! ```

mod memory;
mod prompt_ref;
mod registry;
mod selector;
mod template;
mod version;

pub use memory::MemoryPromptRegistry;
pub use prompt_ref::PromptRef;
pub use registry::{PromptRegistry, PromptRegistryExt};
pub use selector::Selector;
pub use template::{
    CompiledPrompt, Prompt, PromptSpec, RenderedPrompt, check_vars, prompt_hash,
    validate_prompt_name,
};
pub use version::{UNVERSIONED, compare_versions};
