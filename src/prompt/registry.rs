//! The [`PromptRegistry`] trait, its forwarding impls and the [`PromptRegistryExt`] conveniences.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Prompt, PromptRef, RenderedPrompt, Selector};
use crate::Result;

/// Where prompts live as versioned, hashed templates (factor I: prompts are code).
///
/// Backends must agree on these rules, which the conformance suite
/// (`testing::conformance::prompt_registry`, feature `testing`) checks:
///
/// - A prompt is identified by name and version; a version never changes once published. Its hash is the
///   first 16 hex characters of the SHA-256 of its template ([`prompt_hash`](super::prompt_hash)).
/// - [`Selector::Latest`] is the greatest version in [`compare_versions`](super::compare_versions) order;
///   a label points at one version.
/// - Templates are minijinja in strict mode and render without I/O ([`CompiledPrompt`](super::CompiledPrompt)
///   describes the dialect): a missing variable is [`ErrorKind::Template`](crate::ErrorKind::Template),
///   variable values are never rendered again.
/// - A version with A/B variants renders its control (the first variant in name order) through this
///   trait, with the variant in [`PromptRef::variant`](super::PromptRef::variant); a keyed, sticky choice
///   is a backend method ([`DirPromptRegistry::render_for`](super::DirPromptRegistry::render_for)).
/// - An unknown name, version or label is [`ErrorKind::NotFound`](crate::ErrorKind::NotFound); a bad name
///   ([`validate_prompt_name`](super::validate_prompt_name)) or `vars` that are not a JSON object (or null)
///   are [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest).
///
/// Use it as `Arc<dyn PromptRegistry>`; `Arc<T>` and `Box<T>` forward every method.
///
/// ```
/// use std::sync::Arc;
/// use serde_json::json;
/// use twelve_factor_ai::llm::Role;
/// use twelve_factor_ai::prompt::{
///     MemoryPromptRegistry, PromptRegistry, PromptRegistryExt, PromptSpec, Selector,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let memory = MemoryPromptRegistry::new();
/// memory.insert_prompt(
///     PromptSpec::new("support/system", "You help customers of {{ product }}.")
///         .version("1.0")
///         .label("production")
///         .role(Role::System),
/// )?;
/// let registry: Arc<dyn PromptRegistry> = Arc::new(memory);
///
/// let rendered = registry
///     .render("support/system", Selector::label("production"), &json!({ "product": "Acme" }))
///     .await?;
/// assert_eq!(rendered.messages[0].role, Role::System);
/// assert_eq!(rendered.messages[0].text(), "You help customers of Acme.");
/// assert_eq!(rendered.prompt.version, "1.0");
///
/// let prompt = registry.get_latest("support/system").await?;
/// assert_eq!(prompt.hash, rendered.prompt.hash);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait PromptRegistry: Send + Sync + std::fmt::Debug {
    /// The prompt `name` at the version `selector` picks.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown name, version or label;
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for a bad name.
    async fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>>;

    /// Renders the prompt `name` at the version `selector` picks with `vars` (a JSON object, or null for
    /// none).
    ///
    /// # Errors
    /// As [`get`](Self::get); [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) when `vars`
    /// is not an object or null; [`ErrorKind::Template`](crate::ErrorKind::Template) when rendering fails
    /// (a missing variable, named in the message).
    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt>;

    /// Every version of every prompt, sorted by name, then by version
    /// ([`compare_versions`](super::compare_versions)), then by variant (each A/B variant of a version is
    /// listed).
    async fn list(&self) -> Result<Vec<PromptRef>>;

    /// Checks that the registry can serve prompts.
    async fn health_check(&self) -> Result<()>;
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: PromptRegistry + ?Sized> PromptRegistry for Arc<T> {
    async fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>> {
        (**self).get(name, selector).await
    }

    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        (**self).render(name, selector, vars).await
    }

    async fn list(&self) -> Result<Vec<PromptRef>> {
        (**self).list().await
    }

    async fn health_check(&self) -> Result<()> {
        (**self).health_check().await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: PromptRegistry + ?Sized> PromptRegistry for Box<T> {
    async fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>> {
        (**self).get(name, selector).await
    }

    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        (**self).render(name, selector, vars).await
    }

    async fn list(&self) -> Result<Vec<PromptRef>> {
        (**self).list().await
    }

    async fn health_check(&self) -> Result<()> {
        (**self).health_check().await
    }
}

/// Conveniences on every [`PromptRegistry`], implemented for all of them; never implement it by hand.
#[async_trait]
pub trait PromptRegistryExt: PromptRegistry {
    /// Renders the latest version of `name`: `render(name, Selector::Latest, vars)`.
    ///
    /// # Errors
    /// As [`render`](PromptRegistry::render).
    async fn render_latest(&self, name: &str, vars: &serde_json::Value) -> Result<RenderedPrompt> {
        self.render(name, Selector::Latest, vars).await
    }

    /// The latest version of `name`: `get(name, Selector::Latest)`.
    ///
    /// # Errors
    /// As [`get`](PromptRegistry::get).
    async fn get_latest(&self, name: &str) -> Result<Arc<Prompt>> {
        self.get(name, Selector::Latest).await
    }
}

impl<T: PromptRegistry + ?Sized> PromptRegistryExt for T {}
