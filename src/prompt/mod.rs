//! Prompts as code: the [`PromptRegistry`] trait and the in-memory registry.

mod prompt_ref;

pub use prompt_ref::PromptRef;
