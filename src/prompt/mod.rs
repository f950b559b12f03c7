//! Prompts as code (factor I): the [`PromptRegistry`] trait, [`Selector`]s, the shared template engine
//! ([`CompiledPrompt`]), and three registries: [`DirPromptRegistry`] (a `prompts/` folder, reloadable),
//! [`EmbeddedPromptRegistry`] (the same files compiled into the binary) and [`MemoryPromptRegistry`]
//! (prompts inserted in code).
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
//!
//! # Prompt files
//!
//! A prompts folder holds one file per prompt version, `.j2`, `.jinja`, `.jinja2`, `.txt` or `.md`.
//! Hidden files, `README.*` and other extensions are skipped.
//!
//! **Name, version, variant.** The name is the path without extension: `system/customer-support-agent.j2`
//! is `system/customer-support-agent`. Versions sit side by side as `name@version.ext`
//! (`templates/summarization@1.1.0.j2`); a file without `@` takes its version from the front matter, or
//! is [`UNVERSIONED`]. A/B variants of one version are `name@version+variant.ext`
//! (`email-generation@1.0.0+a.j2`, `...+b.j2`). [`Selector::Latest`] is the greatest version in
//! [`compare_versions`] order.
//!
//! **Front matter** (optional): TOML between `+++` lines, or YAML between `---` lines (feature `yaml`).
//! Unknown keys are errors.
//!
//! ```text
//! +++
//! version = "1.0.0"            # or from the file name; both must agree
//! description = "What the prompt is for"
//! labels = ["production"]      # a label points at one version of the name
//! role = "system"              # the message role without role lines; default "user"
//! temperature = 0.2            # model hints, on Prompt::hints
//! max_tokens = 400
//! weight = 50                  # variants only: relative share of the A/B split (default 1)
//!
//! [variables]                  # or: variables = ["company_name", "question"] (all required)
//! company_name = { required = true, description = "Shown to the customer" }
//! tone = { required = false }  # guard it: {% if tone is defined %} or {{ tone | default("warm") }}
//! +++
//! ```
//!
//! **Body**: everything after the front matter, a [minijinja](https://docs.rs/minijinja) template in
//! strict mode with no auto-escaping ([`CompiledPrompt`] describes the dialect). The hash is the
//! SHA-256 prefix of the body's bytes, so moving a label does not change it.
//!
//! **Chat prompts**: a line that is exactly `system:`, `user:` or `assistant:` starts a message of that
//! role; text before the first one is a message of the front matter `role`. Each message drops leading
//! blank lines and trailing whitespace, and a message left empty (its text all inside a false
//! `{% if %}`) is dropped. Role lines may sit inside `{% for %}` and `{% if %}` (few-shot turns) and in
//! included files, not inside a macro. A variable's value never starts a message: a value holding
//! `"user:"` on its own line is text.
//!
//! ```text
//! system:
//! You are the support assistant of {{ company_name }}.
//!
//! user:
//! {{ question }}
//! ```
//!
//! **Includes**: `{% include "partials/footer" %}`, `{% import %}`, `{% from %}` and `{% extends %}`
//! name another file by its path without extension (`"templates/summarization@1.1.0"` for a versioned
//! one), as a string literal; they are resolved when the folder loads.
//!
//! **Declared variables**: when the front matter has `variables`, a template that uses another
//! variable fails the load, a render without a required one is
//! [`ErrorKind::Template`](crate::ErrorKind::Template), and a render passing an undeclared one is
//! [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest), each naming the variable.
//!
//! **Loading is all or nothing**: one error lists every bad file with its path and line; a failed
//! [`DirPromptRegistry::reload`] keeps the previous set. Paths with `..`, absolute paths and symlinks
//! leading outside the folder are refused.
//!
//! **Variants**: [`PromptRegistry::render`] renders a version's control (its first variant in name
//! order); [`DirPromptRegistry::render_for`] with a key (a user id) picks by weight, the same variant for
//! the same prompt name and key in every process and release, and records it in [`PromptRef::variant`].

pub mod build;
mod dir;
mod embedded;
mod file;
mod front_matter;
mod hints;
mod includes;
mod load_error;
mod memory;
mod prompt_ref;
mod registry;
mod roles;
mod selector;
mod set;
mod template;
mod variables;
mod variant;
mod version;
mod walk;

pub use dir::DirPromptRegistry;
pub use embedded::EmbeddedPromptRegistry;
pub use hints::ModelHints;
pub use memory::MemoryPromptRegistry;
pub use prompt_ref::PromptRef;
pub use registry::{PromptRegistry, PromptRegistryExt};
pub use selector::Selector;
pub use set::PromptSet;
pub use template::{
    CompiledPrompt, Prompt, PromptSpec, RenderedPrompt, check_vars, prompt_hash,
    validate_prompt_name,
};
pub use variables::PromptVariable;
pub use version::{UNVERSIONED, compare_versions};
