//! [`MemoryPromptRegistry`]: prompts inserted in code, compiled once, held in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::{
    CompiledPrompt, Prompt, PromptRef, PromptRegistry, PromptSpec, RenderedPrompt, Selector,
    check_vars, compare_versions, validate_prompt_name,
};
use crate::{Error, Result};

/// Prompts inserted in code and held in memory: for tests, examples, and prompts compiled into the binary
/// (`include_str!`).
///
/// Templates are compiled when inserted ([`CompiledPrompt`] describes the dialect: strict minijinja, no
/// auto-escaping), so a broken template fails at startup, not on the first request. Rendering does no I/O.
///
/// - Versions are immutable: inserting a (name, version) again with the same template, role and
///   description is a no-op (apart from labels), with different ones it is
///   [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest).
/// - A label points at the version inserted most recently that claimed it.
/// - A failed insert leaves the registry as it was.
///
/// ```
/// use serde_json::json;
/// use twelve_factor_ai::prompt::{MemoryPromptRegistry, PromptRegistry, PromptSpec, Selector};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let prompts = MemoryPromptRegistry::new();
/// prompts.insert_prompt(PromptSpec::new("summarize", "Summarize: {{ text }}").version("1.9"))?;
/// prompts.insert_prompt(
///     PromptSpec::new("summarize", "Summarize in {{ words }} words: {{ text }}")
///         .version("1.10")
///         .label("canary"),
/// )?;
///
/// // "1.10" is newer than "1.9": versions compare in natural order.
/// let latest = prompts.get("summarize", Selector::Latest).await?;
/// assert_eq!(latest.version, "1.10");
/// assert_eq!(latest.labels, ["canary"]);
///
/// let vars = json!({ "text": "Twelve factors." });
/// let pinned = prompts.render("summarize", Selector::version("1.9"), &vars).await?;
/// assert_eq!(pinned.messages[0].text(), "Summarize: Twelve factors.");
///
/// // Strict mode: a missing variable is an error, not an empty string.
/// let err = prompts.render("summarize", Selector::Latest, &vars).await.unwrap_err();
/// assert!(err.message().contains("`words`"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryPromptRegistry {
    prompts: RwLock<BTreeMap<String, Family>>,
}

/// Every version of one prompt name.
#[derive(Debug)]
struct Family {
    versions: HashMap<String, Version>,
    /// Label -> version.
    labels: HashMap<String, String>,
    /// The greatest version in `compare_versions` order.
    latest: String,
}

#[derive(Debug)]
struct Version {
    compiled: Arc<CompiledPrompt>,
    /// The prompt with the labels that point at it now.
    prompt: Arc<Prompt>,
}

impl MemoryPromptRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts `template` as prompt `name`, version [`UNVERSIONED`](super::UNVERSIONED), role user.
    ///
    /// # Errors
    /// As [`insert_prompt`](Self::insert_prompt).
    pub fn insert(
        &self,
        name: impl Into<String>,
        template: impl Into<String>,
    ) -> Result<PromptRef> {
        self.insert_prompt(PromptSpec::new(name, template))
    }

    /// Compiles and inserts a prompt, moving the labels it claims to it; returns its reference.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for a bad name, version or label,
    /// or a version that exists with different content; [`ErrorKind::Template`](crate::ErrorKind::Template)
    /// for a template that does not compile. The registry is unchanged on error.
    pub fn insert_prompt(&self, spec: PromptSpec) -> Result<PromptRef> {
        let labels = spec.claimed_labels().to_vec();
        let compiled = Arc::new(CompiledPrompt::new(spec)?);
        let new = compiled.prompt();
        let reference = new.prompt_ref();

        let mut prompts = self.write();
        if let Some(existing) = prompts
            .get(&new.name)
            .and_then(|family| family.versions.get(&new.version))
        {
            let old = existing.compiled.prompt();
            if old.source != new.source
                || old.role != new.role
                || old.description != new.description
            {
                return Err(Error::invalid_request(format!(
                    "prompt `{}` version `{}` already exists with different content (hash {}, new hash {}); \
                     versions are immutable, insert a new version",
                    new.name, new.version, old.hash, new.hash
                )));
            }
        }
        // Nothing below can fail: the insert is all or nothing.
        let family = prompts.entry(new.name.clone()).or_insert_with(|| Family {
            versions: HashMap::new(),
            labels: HashMap::new(),
            latest: new.version.clone(),
        });
        if !family.versions.contains_key(&new.version) {
            let prompt = Arc::new(Prompt {
                labels: Vec::new(),
                ..new.clone()
            });
            if compare_versions(&new.version, &family.latest).is_gt() {
                family.latest = new.version.clone();
            }
            family.versions.insert(
                new.version.clone(),
                Version {
                    compiled: Arc::clone(&compiled),
                    prompt,
                },
            );
        }
        for label in &labels {
            family.claim(label, &new.version);
        }
        Ok(reference)
    }

    /// The number of prompt versions held.
    pub fn len(&self) -> usize {
        self.read()
            .values()
            .map(|family| family.versions.len())
            .sum()
    }

    /// Whether the registry holds no prompt.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    // No code panics while holding the lock and every update completes before the guard drops, so a
    // poisoned lock still holds consistent data.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Family>> {
        self.prompts.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Family>> {
        self.prompts.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Looks up a version and applies `f` to it under the read lock.
    fn with_version<R>(
        &self,
        name: &str,
        selector: &Selector,
        f: impl FnOnce(&Version) -> R,
    ) -> Result<R> {
        validate_prompt_name(name)?;
        let prompts = self.read();
        let family = prompts
            .get(name)
            .ok_or_else(|| Error::not_found(format!("prompt `{name}` does not exist")))?;
        let version = match selector {
            Selector::Latest => family.versions.get(&family.latest),
            Selector::Version(version) => family.versions.get(version),
            Selector::Label(label) => family
                .labels
                .get(label)
                .and_then(|v| family.versions.get(v)),
        };
        version
            .map(f)
            .ok_or_else(|| Error::not_found(format!("prompt `{name}` has no {selector}")))
    }
}

impl Family {
    /// Points `label` at `version`, taking it off the version that had it.
    fn claim(&mut self, label: &str, version: &str) {
        let previous = self.labels.insert(label.to_owned(), version.to_owned());
        if let Some(previous) = previous.filter(|previous| previous != version) {
            if let Some(old) = self.versions.get_mut(&previous) {
                Arc::make_mut(&mut old.prompt).labels.retain(|l| l != label);
            }
        }
        if let Some(new) = self.versions.get_mut(version) {
            if !new.prompt.labels.iter().any(|l| l == label) {
                Arc::make_mut(&mut new.prompt).labels.push(label.to_owned());
            }
        }
    }
}

#[async_trait]
impl PromptRegistry for MemoryPromptRegistry {
    async fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>> {
        self.with_version(name, &selector, |version| Arc::clone(&version.prompt))
    }

    async fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        check_vars(vars)?;
        let compiled =
            self.with_version(name, &selector, |version| Arc::clone(&version.compiled))?;
        // Rendered outside the lock.
        compiled.render(vars)
    }

    async fn list(&self) -> Result<Vec<PromptRef>> {
        let prompts = self.read();
        let mut refs = Vec::with_capacity(prompts.values().map(|f| f.versions.len()).sum());
        for family in prompts.values() {
            let mut versions: Vec<&Version> = family.versions.values().collect();
            versions.sort_by(|a, b| compare_versions(&a.prompt.version, &b.prompt.version));
            refs.extend(versions.into_iter().map(|v| v.prompt.prompt_ref()));
        }
        Ok(refs)
    }

    async fn health_check(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::llm::Role;
    use crate::prompt::PromptRegistryExt;
    use serde_json::json;

    #[tokio::test]
    async fn latest_follows_natural_version_order_not_insert_order() {
        let reg = MemoryPromptRegistry::new();
        for v in ["1.10", "1.2", "1.9", "v2"] {
            reg.insert_prompt(PromptSpec::new("p", format!("v{v}")).version(v))
                .unwrap();
        }
        assert_eq!(reg.get_latest("p").await.unwrap().version, "1.10");
        let versions: Vec<String> = reg
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.version)
            .collect();
        assert_eq!(versions, ["v2", "1.2", "1.9", "1.10"]);
        assert_eq!(reg.len(), 4);
    }

    #[tokio::test]
    async fn labels_move_to_the_newest_claim() {
        let reg = MemoryPromptRegistry::new();
        reg.insert_prompt(PromptSpec::new("p", "a").version("1").label("production"))
            .unwrap();
        reg.insert_prompt(
            PromptSpec::new("p", "b")
                .version("2")
                .labels(["production", "beta"]),
        )
        .unwrap();
        assert_eq!(
            reg.get("p", Selector::label("production"))
                .await
                .unwrap()
                .version,
            "2"
        );
        assert!(
            reg.get("p", Selector::version("1"))
                .await
                .unwrap()
                .labels
                .is_empty()
        );
        // Re-inserting an existing version (same content) is idempotent and may move a label back.
        let again = reg
            .insert_prompt(PromptSpec::new("p", "a").version("1").label("production"))
            .unwrap();
        assert_eq!(again.version, "1");
        assert_eq!(
            reg.get("p", Selector::label("production"))
                .await
                .unwrap()
                .version,
            "1"
        );
        assert_eq!(
            reg.get("p", Selector::version("1")).await.unwrap().labels,
            ["production"]
        );
        assert_eq!(
            reg.get("p", Selector::version("2")).await.unwrap().labels,
            ["beta"]
        );
        // A label claimed by an older version does not change Latest.
        assert_eq!(reg.get_latest("p").await.unwrap().version, "2");
        assert_eq!(reg.len(), 2);
    }

    #[tokio::test]
    async fn versions_are_immutable_and_failed_inserts_change_nothing() {
        let reg = MemoryPromptRegistry::new();
        let first = reg.insert("p", "Hello {{ name }}").unwrap();
        assert_eq!(first.version, "unversioned");
        assert_eq!(reg.insert("p", "Hello {{ name }}").unwrap(), first);

        let err = reg.insert("p", "Bye {{ name }}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let err = reg
            .insert_prompt(PromptSpec::new("p", "Hello {{ name }}").role(Role::System))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);

        let err = reg
            .insert_prompt(PromptSpec::new("p", "{{ oops").version("2").label("x"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Template);
        assert!(err.message().contains("line 1"), "{err}");
        let err = reg.insert_prompt(PromptSpec::new("../p", "x")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);

        assert_eq!(reg.list().await.unwrap(), vec![first.clone()]);
        assert_eq!(
            reg.get("p", Selector::label("x")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let rendered = reg
            .render_latest("p", &json!({ "name": "Ada" }))
            .await
            .unwrap();
        assert_eq!(rendered.text(), "Hello Ada");
        assert_eq!(rendered.prompt, first);
    }

    #[tokio::test]
    async fn lookups_fail_typed() {
        let reg = MemoryPromptRegistry::new();
        assert!(reg.is_empty());
        reg.insert("p", "x").unwrap();
        let not_found = [
            reg.get("q", Selector::Latest).await.unwrap_err(),
            reg.get("p", Selector::version("9")).await.unwrap_err(),
            reg.get("p", Selector::label("prod")).await.unwrap_err(),
            reg.render("q", Selector::Latest, &json!({}))
                .await
                .unwrap_err(),
        ];
        for err in not_found {
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        }
        for name in ["", "/p", "a\\p", "../p"] {
            assert_eq!(
                reg.get(name, Selector::Latest).await.unwrap_err().kind(),
                ErrorKind::InvalidRequest
            );
        }
        let err = reg
            .render("p", Selector::Latest, &json!([1, 2]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(reg.health_check().await.is_ok());
    }

    #[tokio::test]
    async fn works_behind_arc_and_box_dyn() {
        let reg = MemoryPromptRegistry::new();
        reg.insert_prompt(
            PromptSpec::new("s", "Be {{ tone }}.")
                .role(Role::System)
                .description("d"),
        )
        .unwrap();
        let arc: Arc<dyn PromptRegistry> = Arc::new(reg);
        let boxed: Box<dyn PromptRegistry> = Box::new(Arc::clone(&arc));
        let out = boxed
            .render_latest("s", &json!({ "tone": "{{ tone }}" }))
            .await
            .unwrap();
        assert_eq!(
            out.messages,
            vec![crate::llm::Message::system("Be {{ tone }}.")]
        );
        let prompt = boxed.get_latest("s").await.unwrap();
        assert_eq!(prompt.description.as_deref(), Some("d"));
        assert_eq!(out.prompt, prompt.prompt_ref());
        assert_eq!(boxed.list().await.unwrap().len(), 1);
        assert!(boxed.health_check().await.is_ok());
    }
}
