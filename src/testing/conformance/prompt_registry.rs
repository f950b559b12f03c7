//! Conformance suite for [`PromptRegistry`] backends and wrappers.
//!
//! The trait has no insert, so a registry under test must first be loaded with the prompts in
//! [`FIXTURES`] (names under `tfa-conformance/`), by whatever means the backend offers: inserting them,
//! writing them as files into its prompts folder ([`fixture_files`] gives them in the prompt file format),
//! rows into its table. It may hold other prompts too.
//! Then call [`prompt_registry`], or the checks the backend supports. Every check is a plain `async fn`
//! taking `&dyn PromptRegistry` that panics with a message naming the broken rule.
//!
//! # Running it against your backend
//!
//! Add the crate as a dev-dependency with the `testing` feature, then in a test:
//!
//! ```toml
//! [dev-dependencies]
//! twelve-factor-ai = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! ```
//! use twelve_factor_ai::prompt::MemoryPromptRegistry;
//! use twelve_factor_ai::testing::conformance::prompt_registry::{
//!     prompt_registry, PromptRegistryCapabilities, FIXTURES,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> twelve_factor_ai::Result<()> {
//! let registry = MemoryPromptRegistry::new();
//! for fixture in FIXTURES {
//!     // Your backend: store fixture.name, .version, .labels, .role, .description, .template.
//!     registry.insert_prompt(fixture.spec())?;
//! }
//! prompt_registry(&registry, &PromptRegistryCapabilities::new()).await;
//! # Ok(())
//! # }
//! ```
//!
//! Labels move to the newest insert that claims one; each label is claimed by one fixture per name, so
//! the fixtures can be loaded in any order. Templates must be stored byte for byte: the suite checks
//! that each hash is [`prompt_hash`] of the fixture's template.

use std::cmp::Ordering;

use serde_json::{Value, json};

use crate::ErrorKind;
use crate::llm::{Message, Role};
use crate::prompt::{
    PromptRef, PromptRegistry, PromptRegistryExt, PromptSpec, Selector, compare_versions,
    prompt_hash,
};

/// One prompt a registry must hold before the suite runs.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptFixture {
    /// The prompt's name.
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
    /// The labels that point at this version.
    pub labels: &'static [&'static str],
    /// The role of the rendered message.
    pub role: Role,
    /// The description, if any.
    pub description: Option<&'static str>,
    /// The template source, to store byte for byte.
    pub template: &'static str,
}

impl PromptFixture {
    /// The fixture as a [`PromptSpec`], for registries that take one
    /// ([`MemoryPromptRegistry::insert_prompt`](crate::prompt::MemoryPromptRegistry::insert_prompt)).
    pub fn spec(&self) -> PromptSpec {
        let spec = PromptSpec::new(self.name, self.template)
            .version(self.version)
            .labels(self.labels.iter().copied())
            .role(self.role);
        match self.description {
            Some(description) => spec.description(description),
            None => spec,
        }
    }

    /// The fixture as a prompt file for folder-based registries
    /// ([`DirPromptRegistry`](crate::prompt::DirPromptRegistry),
    /// [`EmbeddedPromptRegistry`](crate::prompt::EmbeddedPromptRegistry)): the path relative to the
    /// prompts folder (`name@version.txt`, `name.txt` when unversioned) and the contents, TOML front matter
    /// followed by the template byte for byte.
    pub fn file(&self) -> (String, String) {
        let path = if self.version == crate::prompt::UNVERSIONED {
            format!("{}.txt", self.name)
        } else {
            format!("{}@{}.txt", self.name, self.version)
        };
        let labels: Vec<String> = self.labels.iter().map(|l| format!("{l:?}")).collect();
        let mut front = format!(
            "+++\nrole = \"{}\"\nlabels = [{}]\n",
            self.role,
            labels.join(", ")
        );
        if let Some(description) = self.description {
            front.push_str(&format!("description = {description:?}\n"));
        }
        front.push_str("+++\n");
        (path, front + self.template)
    }

    /// The reference a registry must report for this fixture.
    pub fn prompt_ref(&self) -> PromptRef {
        PromptRef {
            name: self.name.to_owned(),
            version: self.version.to_owned(),
            hash: prompt_hash(self.template),
            variant: None,
        }
    }
}

const GREETING: &str = "tfa-conformance/greeting";
const SYSTEM: &str = "tfa-conformance/system";
const PLAIN: &str = "tfa-conformance/plain";
const CONTEXT: &str = "tfa-conformance/rag/context";

/// The prompts a registry must hold before [`prompt_registry`] runs.
///
/// `tfa-conformance/greeting` has versions `1.2`, `1.9` (label `production`) and `1.10` (label `canary`),
/// so the latest is `1.10` only in natural order; `tfa-conformance/system` is a system prompt with an
/// optional variable; `tfa-conformance/plain` is unversioned and has no variables;
/// `tfa-conformance/rag/context` loops over a list of objects.
pub const FIXTURES: &[PromptFixture] = &[
    PromptFixture {
        name: GREETING,
        version: "1.2",
        labels: &[],
        role: Role::User,
        description: None,
        template: "Hello {{ name }}.",
    },
    PromptFixture {
        name: GREETING,
        version: "1.9",
        labels: &["production"],
        role: Role::User,
        description: None,
        template: "Hello, {{ name }}!",
    },
    PromptFixture {
        name: GREETING,
        version: "1.10",
        labels: &["canary"],
        role: Role::User,
        description: Some("Greets a returning user."),
        template: "Hi {{ name }}, welcome back to {{ product }}.",
    },
    PromptFixture {
        name: SYSTEM,
        version: "2024-06-01",
        labels: &["production"],
        role: Role::System,
        description: Some("The assistant's persona."),
        template: "You are a {{ persona }} assistant.{% if tone is defined %} Be {{ tone }}.{% endif %}",
    },
    PromptFixture {
        name: PLAIN,
        version: crate::prompt::UNVERSIONED,
        labels: &[],
        role: Role::Assistant,
        description: None,
        template: "No variables here.",
    },
    PromptFixture {
        name: CONTEXT,
        version: "1",
        labels: &[],
        role: Role::User,
        description: None,
        template: "Context:\n{% for doc in docs %}- {{ doc.title }}: {{ doc.text }}\n{% endfor %}Question: {{ question }}",
    },
];

/// Every fixture as a prompt file ([`PromptFixture::file`]), to write into a folder or embed.
pub fn fixture_files() -> Vec<(String, String)> {
    FIXTURES.iter().map(PromptFixture::file).collect()
}

/// What the registry under test supports beyond the rules every backend follows.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRegistryCapabilities {
    /// The registry supports labels ([`Selector::Label`]); when `false` the fixtures' labels need not be
    /// loaded and label checks are skipped. Default `true`.
    pub labels: bool,
}

impl Default for PromptRegistryCapabilities {
    fn default() -> Self {
        PromptRegistryCapabilities { labels: true }
    }
}

impl PromptRegistryCapabilities {
    /// Everything supported.
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry has no labels.
    pub fn without_labels(mut self) -> Self {
        self.labels = false;
        self
    }
}

/// Runs every check that `caps` allows. The registry must hold [`FIXTURES`].
pub async fn prompt_registry(registry: &dyn PromptRegistry, caps: &PromptRegistryCapabilities) {
    health_check(registry).await;
    list_contains_fixtures(registry).await;
    get_by_selector(registry, caps).await;
    render_output(registry, caps).await;
    variable_values_are_not_rendered(registry).await;
    missing_variable(registry).await;
    unknown_prompts(registry, caps).await;
    invalid_input(registry).await;
}

fn fixture(name: &str, version: &str) -> &'static PromptFixture {
    FIXTURES
        .iter()
        .find(|f| f.name == name && f.version == version)
        .unwrap_or_else(|| panic!("no fixture {name}@{version}"))
}

async fn render_ok(
    registry: &dyn PromptRegistry,
    name: &str,
    selector: Selector,
    vars: &Value,
) -> (String, PromptRef, Role) {
    match registry.render(name, selector.clone(), vars).await {
        Ok(rendered) => {
            assert_eq!(
                rendered.messages.len(),
                1,
                "render({name}, {selector}) must return exactly one message"
            );
            let message: &Message = &rendered.messages[0];
            (message.text(), rendered.prompt, message.role)
        }
        Err(err) => panic!("render({name}, {selector}, {vars}) failed: {err}"),
    }
}

/// `health_check` succeeds on a working registry.
pub async fn health_check(registry: &dyn PromptRegistry) {
    if let Err(err) = registry.health_check().await {
        panic!("health_check failed on a working registry: {err}");
    }
}

/// `list` holds every fixture with its exact reference (hash of the template bytes), sorted by name, then
/// by version in natural order, then by variant (A/B variants of one version are listed one by one).
pub async fn list_contains_fixtures(registry: &dyn PromptRegistry) {
    let listed = match registry.list().await {
        Ok(listed) => listed,
        Err(err) => panic!("list failed: {err}"),
    };
    for fixture in FIXTURES {
        let expected = fixture.prompt_ref();
        assert!(
            listed.contains(&expected),
            "list must contain {expected} (hash = first 16 hex chars of SHA-256 of the template); got {listed:?}"
        );
    }
    for pair in listed.windows(2) {
        let order = pair[0]
            .name
            .cmp(&pair[1].name)
            .then_with(|| compare_versions(&pair[0].version, &pair[1].version))
            .then_with(|| pair[0].variant.cmp(&pair[1].variant));
        assert_eq!(
            order,
            Ordering::Less,
            "list must be sorted by name, then version, then variant, without duplicates: {} before {}",
            pair[0],
            pair[1]
        );
    }
}

/// `get` picks the right version for `Latest` (natural order), `Version` and `Label`, and returns the
/// fixture's metadata and source.
pub async fn get_by_selector(registry: &dyn PromptRegistry, caps: &PromptRegistryCapabilities) {
    for fixture in FIXTURES {
        let prompt = match registry
            .get(fixture.name, Selector::version(fixture.version))
            .await
        {
            Ok(prompt) => prompt,
            Err(err) => panic!(
                "get({}, version {}) failed: {err}",
                fixture.name, fixture.version
            ),
        };
        let label = format!("{}@{}", fixture.name, fixture.version);
        assert_eq!(prompt.name, fixture.name, "{label}: name");
        assert_eq!(prompt.version, fixture.version, "{label}: version");
        assert_eq!(
            prompt.hash,
            prompt_hash(fixture.template),
            "{label}: hash of the template bytes"
        );
        assert_eq!(
            prompt.source, fixture.template,
            "{label}: source must be the template, byte for byte"
        );
        assert_eq!(prompt.role, fixture.role, "{label}: role");
        assert_eq!(
            prompt.description.as_deref(),
            fixture.description,
            "{label}: description"
        );
        assert_eq!(
            prompt.prompt_ref(),
            fixture.prompt_ref(),
            "{label}: prompt_ref"
        );
        if caps.labels {
            for l in fixture.labels {
                assert!(
                    prompt.labels.iter().any(|have| have == l),
                    "{label}: labels must include {l:?}"
                );
            }
        }
    }

    let expectations = [
        (GREETING, "1.10"),
        (SYSTEM, "2024-06-01"),
        (PLAIN, "unversioned"),
        (CONTEXT, "1"),
    ];
    for (name, version) in expectations {
        match registry.get_latest(name).await {
            Ok(prompt) => assert_eq!(
                prompt.version, version,
                "the latest version of {name} must be {version} (natural order: 1.10 > 1.9 > 1.2)"
            ),
            Err(err) => panic!("get({name}, latest) failed: {err}"),
        }
    }

    if caps.labels {
        for (name, label, version) in [
            (GREETING, "production", "1.9"),
            (GREETING, "canary", "1.10"),
            (SYSTEM, "production", "2024-06-01"),
        ] {
            match registry.get(name, Selector::label(label)).await {
                Ok(prompt) => assert_eq!(
                    prompt.version, version,
                    "label {label} of {name} must point at {version}"
                ),
                Err(err) => panic!("get({name}, label {label}) failed: {err}"),
            }
        }
    }
}

/// `render` produces the exact text, the prompt's role, and a `PromptRef` equal to `get`'s, stable across
/// calls.
pub async fn render_output(registry: &dyn PromptRegistry, caps: &PromptRegistryCapabilities) {
    let vars = json!({ "name": "Ada", "product": "Acme" });
    let (text, reference, role) = render_ok(registry, GREETING, Selector::Latest, &vars).await;
    assert_eq!(
        text, "Hi Ada, welcome back to Acme.",
        "render of {GREETING} latest"
    );
    assert_eq!(
        role,
        Role::User,
        "a user prompt must render as a user message"
    );
    assert_eq!(
        reference,
        fixture(GREETING, "1.10").prompt_ref(),
        "render must report the version it used"
    );
    let got = match registry.get_latest(GREETING).await {
        Ok(prompt) => prompt,
        Err(err) => panic!("get({GREETING}, latest) failed: {err}"),
    };
    assert_eq!(
        reference,
        got.prompt_ref(),
        "render's PromptRef must equal get()'s"
    );
    let (_, again, _) = render_ok(
        registry,
        GREETING,
        Selector::Latest,
        &json!({ "name": "Bo", "product": "X" }),
    )
    .await;
    assert_eq!(
        again, reference,
        "the PromptRef must not depend on the variables"
    );
    match registry.render_latest(GREETING, &vars).await {
        Ok(rendered) => assert_eq!(
            rendered.prompt, reference,
            "render_latest must render the latest version"
        ),
        Err(err) => panic!("render_latest({GREETING}) failed: {err}"),
    }

    let (text, reference, _) = render_ok(registry, GREETING, Selector::version("1.2"), &vars).await;
    assert_eq!(
        text, "Hello Ada.",
        "render of {GREETING} version 1.2 (extra variables are ignored)"
    );
    assert_eq!(
        reference,
        fixture(GREETING, "1.2").prompt_ref(),
        "render by version"
    );
    if caps.labels {
        let (text, reference, _) =
            render_ok(registry, GREETING, Selector::label("production"), &vars).await;
        assert_eq!(text, "Hello, Ada!", "render of {GREETING} label production");
        assert_eq!(
            reference,
            fixture(GREETING, "1.9").prompt_ref(),
            "render by label"
        );
    }

    let (text, _, role) = render_ok(
        registry,
        SYSTEM,
        Selector::Latest,
        &json!({ "persona": "careful" }),
    )
    .await;
    assert_eq!(
        text, "You are a careful assistant.",
        "an optional variable left out"
    );
    assert_eq!(
        role,
        Role::System,
        "a system prompt must render as a system message"
    );
    let with_tone = json!({ "persona": "careful", "tone": "brief" });
    let (text, _, _) = render_ok(registry, SYSTEM, Selector::Latest, &with_tone).await;
    assert_eq!(
        text, "You are a careful assistant. Be brief.",
        "an optional variable given"
    );

    for vars in [Value::Null, json!({})] {
        let (text, _, role) = render_ok(registry, PLAIN, Selector::Latest, &vars).await;
        assert_eq!(
            text, "No variables here.",
            "a prompt without variables renders with vars {vars}"
        );
        assert_eq!(
            role,
            Role::Assistant,
            "an assistant prompt must render as an assistant message"
        );
    }

    let docs = json!({
        "docs": [{ "title": "A", "text": "x" }, { "title": "B", "text": "y" }],
        "question": "Why?",
    });
    let (text, _, _) = render_ok(registry, CONTEXT, Selector::Latest, &docs).await;
    assert_eq!(
        text, "Context:\n- A: x\n- B: y\nQuestion: Why?",
        "loops, attributes and newlines"
    );
}

/// Variable values are inserted as text: never rendered as templates, never HTML-escaped.
pub async fn variable_values_are_not_rendered(registry: &dyn PromptRegistry) {
    let sneaky = "{{ product }} {% if true %}x{% endif %} <b>&amp;\"'</b>";
    let vars = json!({ "name": sneaky, "product": "SECRET" });
    let (text, _, _) = render_ok(registry, GREETING, Selector::version("1.2"), &vars).await;
    assert_eq!(
        text,
        format!("Hello {sneaky}."),
        "a variable's value must print literally: not rendered again, not escaped"
    );
}

/// A missing variable is a `Template` error (strict mode), not an empty string.
pub async fn missing_variable(registry: &dyn PromptRegistry) {
    let cases = [
        (GREETING, Selector::Latest, json!({ "name": "Ada" })),
        (GREETING, Selector::version("1.2"), Value::Null),
        (SYSTEM, Selector::Latest, json!({ "tone": "brief" })),
        (
            CONTEXT,
            Selector::Latest,
            json!({ "docs": [{ "title": "A" }], "question": "q" }),
        ),
    ];
    for (name, selector, vars) in cases {
        match registry.render(name, selector.clone(), &vars).await {
            Err(err) => assert_eq!(
                err.kind(),
                ErrorKind::Template,
                "render({name}, {selector}) with a missing variable must be a Template error, got {err}"
            ),
            Ok(rendered) => panic!(
                "render({name}, {selector}) with a missing variable must fail (strict mode), rendered {:?}",
                rendered.messages
            ),
        }
    }
}

/// Unknown names, versions and labels are `NotFound`, for `get` and `render`.
pub async fn unknown_prompts(registry: &dyn PromptRegistry, caps: &PromptRegistryCapabilities) {
    let mut cases = vec![
        ("tfa-conformance/no-such-prompt", Selector::Latest),
        ("tfa-conformance/no-such-prompt", Selector::version("1.0")),
        (GREETING, Selector::version("1.3")),
        (GREETING, Selector::version("1.10.0")),
    ];
    if caps.labels {
        cases.push((GREETING, Selector::label("no-such-label")));
        cases.push((
            "tfa-conformance/no-such-prompt",
            Selector::label("production"),
        ));
    }
    for (name, selector) in cases {
        let get = registry
            .get(name, selector.clone())
            .await
            .err()
            .map(|e| e.kind());
        assert_eq!(
            get,
            Some(ErrorKind::NotFound),
            "get({name}, {selector}) must be NotFound"
        );
        let vars = json!({ "name": "Ada", "product": "Acme" });
        let render = registry
            .render(name, selector.clone(), &vars)
            .await
            .err()
            .map(|e| e.kind());
        assert_eq!(
            render,
            Some(ErrorKind::NotFound),
            "render({name}, {selector}) must be NotFound"
        );
    }
}

/// Bad names and `vars` that are not a JSON object (or null) are `InvalidRequest`.
pub async fn invalid_input(registry: &dyn PromptRegistry) {
    for name in [
        "",
        "/tfa-conformance/greeting",
        "../tfa-conformance/greeting",
        "tfa-conformance/../x",
        "tfa-conformance\\greeting",
    ] {
        let get = registry
            .get(name, Selector::Latest)
            .await
            .err()
            .map(|e| e.kind());
        assert_eq!(
            get,
            Some(ErrorKind::InvalidRequest),
            "get({name:?}) must be InvalidRequest"
        );
        let render = registry
            .render(name, Selector::Latest, &Value::Null)
            .await
            .err()
            .map(|e| e.kind());
        assert_eq!(
            render,
            Some(ErrorKind::InvalidRequest),
            "render({name:?}) must be InvalidRequest"
        );
    }
    for vars in [json!(["Ada"]), json!("Ada"), json!(1), json!(true)] {
        let render = registry
            .render(GREETING, Selector::Latest, &vars)
            .await
            .err()
            .map(|e| e.kind());
        assert_eq!(
            render,
            Some(ErrorKind::InvalidRequest),
            "render with vars {vars} must be InvalidRequest"
        );
    }
}
