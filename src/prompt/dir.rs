//! [`DirPromptRegistry`]: the prompts of a folder (`prompts/`), loaded all or nothing, reloaded atomically.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;

use super::walk::load_folder;
use super::{Prompt, PromptRef, PromptRegistry, PromptSet, RenderedPrompt, Selector};
use crate::Result;

/// The prompts of a folder: every `.j2`, `.jinja`, `.jinja2`, `.txt` and `.md` file under it, named by
/// its path without extension (`system/customer-support-agent`). The file format is in the
/// [module documentation](super#prompt-files).
///
/// - Loading reads and compiles every file at once; a bad file fails the whole load, with one error that
///   lists every bad file with its path and line. Rendering does no I/O.
/// - [`reload`](Self::reload) builds the new set completely, then swaps it in; a failed reload keeps the
///   previous set, so a bad edit never takes prompts away from a running service.
/// - Hidden files and folders, READMEs and other extensions are skipped; a symlink that leads outside the
///   folder is refused.
///
/// ```
/// use serde_json::json;
/// use twelve_factor_ai::llm::Role;
/// use twelve_factor_ai::prompt::{DirPromptRegistry, PromptRegistry, Selector};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let prompts = DirPromptRegistry::load(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts"))?;
/// let rendered = prompts
///     .render(
///         "system/customer-support-agent",
///         Selector::label("production"),
///         &json!({
///             "company_name": "Acme Shop",
///             "facts": ["Refunds take five days."],
///             "question": "How long do refunds take?",
///         }),
///     )
///     .await?;
/// assert_eq!(rendered.messages[0].role, Role::System);
/// assert_eq!(rendered.messages[1].text(), "How long do refunds take?");
/// assert_eq!(rendered.prompt.name, "system/customer-support-agent");
///
/// // The model parameters the prompt was written for travel with it.
/// let prompt = prompts.get("system/customer-support-agent", Selector::Latest).await?;
/// assert_eq!(prompt.hints.temperature(), Some(0.2));
/// # Ok(())
/// # }
/// ```
pub struct DirPromptRegistry {
    root: PathBuf,
    set: RwLock<Arc<PromptSet>>,
}

impl std::fmt::Debug for DirPromptRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirPromptRegistry")
            .field("root", &self.root)
            .field("set", &*self.read())
            .finish()
    }
}

impl DirPromptRegistry {
    /// The folder a service keeps its prompts in, relative to its working directory.
    pub const DEFAULT_DIR: &'static str = "prompts";

    /// Loads every prompt file under `root`. Reads files: call it at startup, or from
    /// `tokio::task::spawn_blocking` in async code.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when `root` is not a readable folder or a file
    /// cannot be read; otherwise [`ErrorKind::Template`](crate::ErrorKind::Template) listing every bad file
    /// with its path and line (see [`PromptSet::parse`]).
    pub fn load(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let set = load_folder(&root)?;
        tracing::debug!(root = %root.display(), prompts = set.len(), "prompt folder loaded");
        Ok(DirPromptRegistry {
            root,
            set: RwLock::new(Arc::new(set)),
        })
    }

    /// Loads [`DEFAULT_DIR`](Self::DEFAULT_DIR) (`prompts/`).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_default() -> Result<Self> {
        Self::load(Self::DEFAULT_DIR)
    }

    /// Reads the folder again and swaps the new set in at once: requests already rendering finish on the
    /// old set, later ones see only the new one. Reads files, like [`load`](Self::load).
    ///
    /// # Errors
    /// As [`load`](Self::load); the previous set stays in use.
    pub fn reload(&self) -> Result<()> {
        match load_folder(&self.root) {
            Ok(set) => {
                tracing::info!(root = %self.root.display(), prompts = set.len(), "prompt folder reloaded");
                *self.set.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
                Ok(())
            }
            Err(err) => {
                tracing::warn!(
                    root = %self.root.display(),
                    error = %err,
                    "prompt folder reload failed; the previous prompts stay in use"
                );
                Err(err)
            }
        }
    }

    /// The folder the prompts come from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current set: stays the same for its holder across reloads.
    pub fn snapshot(&self) -> Arc<PromptSet> {
        Arc::clone(&self.read())
    }

    /// Renders with a sticky A/B choice by `key`; see [`PromptSet::render_for`]. No I/O.
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
        self.snapshot().render_for(name, selector, key, vars)
    }

    /// Renders one variant by name; see [`PromptSet::render_variant`]. No I/O.
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
        self.snapshot()
            .render_variant(name, selector, variant, vars)
    }

    /// Every variant of a version; see [`PromptSet::variants`].
    ///
    /// # Errors
    /// As [`PromptSet::variants`].
    pub fn variants(&self, name: &str, selector: Selector) -> Result<Vec<Arc<Prompt>>> {
        self.snapshot().variants(name, selector)
    }

    // Only whole `Arc`s are stored under the lock, so a poisoned lock still holds a complete set.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Arc<PromptSet>> {
        self.set.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PromptRegistry for DirPromptRegistry {
    async fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>> {
        self.snapshot().get(name, selector)
    }

    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        self.snapshot().render(name, selector, vars)
    }

    async fn list(&self) -> Result<Vec<PromptRef>> {
        Ok(self.snapshot().list())
    }

    async fn health_check(&self) -> Result<()> {
        Ok(())
    }
}
