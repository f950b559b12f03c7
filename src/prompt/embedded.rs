//! [`EmbeddedPromptRegistry`]: prompt files compiled into the binary, for releases whose prompts cannot
//! change under them; and [`embed_prompts!`](crate::embed_prompts), which embeds them.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Prompt, PromptRef, PromptRegistry, PromptSet, RenderedPrompt, Selector};
use crate::Result;

/// Prompt files compiled into the binary (`include_str!`), parsed by the same loader as
/// [`DirPromptRegistry`](super::DirPromptRegistry): same format, same checks, same hashes. What was
/// reviewed is what runs, whatever is on the disk of the machine.
///
/// Two ways to embed the files:
///
/// - [`embed_prompts!`](crate::embed_prompts) with a list of files (no build script);
/// - [`build::embed_dir`](super::build::embed_dir) in `build.rs`, which embeds every file of the folder
///   and fails the build on a bad prompt.
///
/// ```
/// use serde_json::json;
/// use twelve_factor_ai::embed_prompts;
/// use twelve_factor_ai::prompt::{EmbeddedPromptRegistry, PromptRegistryExt, Selector};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// // Paths are relative to the crate root (the folder of Cargo.toml).
/// static PROMPTS: &[(&str, &str)] = embed_prompts!("prompts", [
///     "templates/summarization.j2",
///     "templates/summarization@1.1.0.j2",
/// ]);
/// let prompts = EmbeddedPromptRegistry::from_files(PROMPTS)?;
/// let vars = json!({ "max_sentences": 2, "audience": "engineers", "text": "..." });
/// let rendered = prompts.render_latest("templates/summarization", &vars).await?;
/// assert_eq!(rendered.prompt.version, "1.1.0");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EmbeddedPromptRegistry {
    set: Arc<PromptSet>,
}

impl EmbeddedPromptRegistry {
    /// Parses and compiles `(path relative to the prompts folder, contents)` pairs, all or nothing.
    ///
    /// # Errors
    /// As [`PromptSet::parse`]: one error listing every bad file.
    pub fn from_files(files: &[(&str, &str)]) -> Result<Self> {
        Ok(EmbeddedPromptRegistry {
            set: Arc::new(PromptSet::parse(files.iter().copied())?),
        })
    }

    /// The compiled set.
    pub fn prompts(&self) -> &Arc<PromptSet> {
        &self.set
    }

    /// Renders with a sticky A/B choice by `key`; see [`PromptSet::render_for`].
    ///
    /// # Errors
    /// As [`PromptSet::render_for`].
    pub fn render_for(
        &self,
        name: &str,
        selector: Selector,
        key: &str,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        self.set.render_for(name, selector, key, vars)
    }

    /// Renders one variant by name; see [`PromptSet::render_variant`].
    ///
    /// # Errors
    /// As [`PromptSet::render_variant`].
    pub fn render_variant(
        &self,
        name: &str,
        selector: Selector,
        variant: &str,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        self.set.render_variant(name, selector, variant, vars)
    }

    /// Every variant of a version; see [`PromptSet::variants`].
    ///
    /// # Errors
    /// As [`PromptSet::variants`].
    pub fn variants(&self, name: &str, selector: Selector) -> Result<Vec<Arc<Prompt>>> {
        self.set.variants(name, selector)
    }
}

#[async_trait]
impl PromptRegistry for EmbeddedPromptRegistry {
    async fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>> {
        self.set.get(name, selector)
    }

    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        self.set.render(name, selector, vars)
    }

    async fn list(&self) -> Result<Vec<PromptRef>> {
        Ok(self.set.list())
    }

    async fn health_check(&self) -> Result<()> {
        Ok(())
    }
}

/// Embeds prompt files into the binary as `&[(path, contents)]` for
/// [`EmbeddedPromptRegistry::from_files`](crate::prompt::EmbeddedPromptRegistry::from_files).
///
/// `embed_prompts!("prompts", ["a.j2", "b/c.txt"])` expands to `include_str!`s of
/// `$CARGO_MANIFEST_DIR/prompts/a.j2` and so on: the folder is relative to the root of the crate that
/// uses the macro, and a missing file fails the build. To embed a whole folder without listing it, use
/// [`build::embed_dir`](crate::prompt::build::embed_dir) in a build script.
///
/// ```
/// static PROMPTS: &[(&str, &str)] =
///     twelve_factor_ai::embed_prompts!("prompts", ["system/code-review-agent.j2"]);
/// assert_eq!(PROMPTS[0].0, "system/code-review-agent.j2");
/// assert!(PROMPTS[0].1.contains("{{ diff }}"));
/// ```
#[macro_export]
macro_rules! embed_prompts {
    ($dir:literal, [$($file:literal),* $(,)?]) => {
        &[$((
            $file,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $file)),
        )),*]
    };
}
