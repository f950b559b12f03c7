//! Conformance suites, one per trait.

pub mod conversation_store;
pub mod llm_provider;
pub mod prompt_registry;
pub mod vector_store;
