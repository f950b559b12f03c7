//! A prompt template: what it is ([`Prompt`]), how it is declared ([`PromptSpec`]), and how it compiles and
//! renders ([`CompiledPrompt`], [`RenderedPrompt`]). Every registry compiles and renders through here, so
//! strict mode, escaping and error messages are the same for all of them.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ModelHints, PromptRef, PromptVariable, UNVERSIONED};
use crate::llm::{Message, Role};
use crate::{Error, Result};

/// How many hex characters of the SHA-256 a prompt hash keeps (64 bits).
const HASH_HEX_LEN: usize = 16;

/// A prompt as a registry holds it: identity, metadata and template source.
///
/// [`PromptRegistry::get`](super::PromptRegistry::get) returns one; [`Prompt::prompt_ref`] is what travels
/// with requests. A backend gets one from [`CompiledPrompt::new`] (and [`CompiledPrompt::prompt`]), which
/// computes the hash.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    /// The prompt's name (`support/answer`).
    pub name: String,
    /// Its version (`"1.2.0"`, or [`UNVERSIONED`]).
    pub version: String,
    /// The first 16 hex characters of the SHA-256 of the template's bytes ([`prompt_hash`]).
    pub hash: String,
    /// The labels (`"production"`) that currently point at this version.
    pub labels: Vec<String>,
    /// The role of the message the rendered text becomes.
    pub role: Role,
    /// What the prompt is for, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The minijinja template source: for a prompt file, everything after the front matter, byte for byte.
    pub source: String,
    /// The A/B variant this prompt is (`b` for `email@2.0+b.j2`), `None` for a prompt without variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The variant's relative weight in the sticky A/B choice (front matter `weight`, default 1); unused
    /// without a variant.
    pub weight: u32,
    /// Model parameters the prompt was written for (front matter `temperature`, `max_tokens`).
    pub hints: ModelHints,
    /// The declared variables (front matter `variables`), sorted by name; `None` when the prompt declares
    /// none, so any variable may be passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<PromptVariable>>,
    /// The file the prompt was loaded from, relative to its folder (`templates/summarization@1.1.0.j2`);
    /// `None` for a prompt inserted in code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Prompt {
    /// The reference to this exact prompt that travels with requests, with its variant if it has one.
    pub fn prompt_ref(&self) -> PromptRef {
        PromptRef {
            name: self.name.clone(),
            version: self.version.clone(),
            hash: self.hash.clone(),
            variant: self.variant.clone(),
        }
    }
}

/// A rendered prompt: the messages to send and the [`PromptRef`] to send with them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedPrompt {
    /// The messages, today one message of the prompt's role.
    pub messages: Vec<Message>,
    /// Which prompt, version and hash produced them.
    pub prompt: PromptRef,
}

impl RenderedPrompt {
    /// A rendered prompt, for registries that render without [`CompiledPrompt`] (a remote prompt
    /// service).
    pub fn new(messages: Vec<Message>, prompt: PromptRef) -> Self {
        RenderedPrompt { messages, prompt }
    }

    /// The rendered text of all messages, joined.
    pub fn text(&self) -> String {
        self.messages.iter().map(Message::text).collect()
    }
}

/// A prompt to add to a registry: name and template, plus version, labels, role and description.
///
/// ```
/// use twelve_factor_ai::llm::Role;
/// use twelve_factor_ai::prompt::PromptSpec;
///
/// let spec = PromptSpec::new("support/system", "You are a support agent for {{ product }}.")
///     .version("1.2.0")
///     .label("production")
///     .role(Role::System)
///     .description("System prompt of the support agent");
/// # let _ = spec;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptSpec {
    name: String,
    template: String,
    version: String,
    labels: Vec<String>,
    role: Role,
    description: Option<String>,
}

impl PromptSpec {
    /// A prompt named `name` with template source `template`, version [`UNVERSIONED`], no labels, role
    /// [`Role::User`] and no description.
    pub fn new(name: impl Into<String>, template: impl Into<String>) -> Self {
        PromptSpec {
            name: name.into(),
            template: template.into(),
            version: UNVERSIONED.to_owned(),
            labels: Vec::new(),
            role: Role::User,
            description: None,
        }
    }

    /// Sets the version; versions are immutable once inserted.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Claims a label for this version; the label moves here from any older version that had it.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        let label = label.into();
        if !self.labels.contains(&label) {
            self.labels.push(label);
        }
        self
    }

    /// Claims several labels ([`label`](Self::label) for each).
    pub fn labels<I>(self, labels: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        labels
            .into_iter()
            .fold(self, |spec, label| spec.label(label))
    }

    /// Sets the role of the rendered message (default [`Role::User`]).
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template source.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The labels this spec claims.
    pub fn claimed_labels(&self) -> &[String] {
        &self.labels
    }
}

/// A prompt compiled once, ready to render without I/O: what a registry stores.
///
/// Templates are [minijinja](https://docs.rs/minijinja) in strict mode: using a variable that was not
/// passed is an error, not an empty string (test for optional ones with `{% if x is defined %}`).
/// Nothing is auto-escaped, whatever the name ends with, and a single trailing newline is dropped.
/// Variable values are inserted as text and never rendered again, so a user's `{{ x }}` stays literal.
/// A template is self-contained: `include`, `import` and `extends` find no other template.
///
/// ```
/// use twelve_factor_ai::prompt::{CompiledPrompt, PromptSpec};
///
/// # fn main() -> twelve_factor_ai::Result<()> {
/// let compiled = CompiledPrompt::new(PromptSpec::new("greet", "Hello {{ name }}!").version("1"))?;
/// let rendered = compiled.render(&serde_json::json!({ "name": "{{ secret }}" }))?;
/// assert_eq!(rendered.text(), "Hello {{ secret }}!");
/// assert_eq!(rendered.prompt, compiled.prompt().prompt_ref());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct CompiledPrompt {
    prompt: Prompt,
    env: Environment<'static>,
}

impl CompiledPrompt {
    /// Validates `spec` and compiles its template.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for a bad name
    /// ([`validate_prompt_name`]), an empty version or label, or one with whitespace, control characters
    /// or slashes; [`ErrorKind::Template`](crate::ErrorKind::Template), with the line, for a template that
    /// does not compile.
    pub fn new(spec: PromptSpec) -> Result<Self> {
        validate_prompt_name(&spec.name)?;
        validate_tag("version", &spec.name, &spec.version)?;
        for label in &spec.labels {
            validate_tag("label", &spec.name, label)?;
        }
        let mut env = environment();
        env.add_template_owned(spec.name.clone(), spec.template.clone())
            .map_err(|err| {
                let what = describe(&err);
                let line = line_suffix(&err);
                Error::template(format!(
                    "prompt `{}` version `{}` does not compile: {what}{line}",
                    spec.name, spec.version
                ))
                .with_source(err)
            })?;
        let prompt = Prompt {
            hash: prompt_hash(&spec.template),
            name: spec.name,
            version: spec.version,
            labels: spec.labels,
            role: spec.role,
            description: spec.description,
            source: spec.template,
            variant: None,
            weight: 1,
            hints: ModelHints::default(),
            variables: None,
            file: None,
        };
        Ok(CompiledPrompt { prompt, env })
    }

    /// The prompt, with the labels its spec claimed.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }

    /// Renders the template with `vars` into one message of the prompt's role.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) when `vars` is neither a JSON object
    /// nor null ([`check_vars`]); [`ErrorKind::Template`](crate::ErrorKind::Template) when rendering fails,
    /// naming the undefined variable and the line when a variable is missing.
    pub fn render(&self, vars: &serde_json::Value) -> Result<RenderedPrompt> {
        check_vars(vars)?;
        let template = self
            .env
            .get_template(&self.prompt.name)
            .map_err(|err| self.render_error(err))?;
        let rendered = if vars.is_null() {
            template.render(serde_json::Map::new())
        } else {
            template.render(vars)
        };
        let text = rendered.map_err(|err| self.render_error(err))?;
        Ok(RenderedPrompt {
            messages: vec![Message::new(self.prompt.role, text)],
            prompt: self.prompt.prompt_ref(),
        })
    }

    fn render_error(&self, err: minijinja::Error) -> Error {
        let what = explain_render_error(&err, &self.prompt.source);
        Error::template(format!(
            "prompt `{}` version `{}` failed to render: {what}{}",
            self.prompt.name,
            self.prompt.version,
            line_suffix(&err)
        ))
        .with_source(err)
    }
}

/// What went wrong in a render, naming the undefined variable when that is the problem. `source` is the
/// template the error's range points into.
pub(super) fn explain_render_error(err: &minijinja::Error, source: &str) -> String {
    if err.kind() != minijinja::ErrorKind::UndefinedError {
        return describe(err);
    }
    let expression = err
        .range()
        .and_then(|range| source.get(range))
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match expression {
        Some(path) if is_variable_path(path) => format!(
            "variable `{path}` is undefined; pass it in vars, or guard it with `{{% if {path} is defined %}}`"
        ),
        Some(expression) => {
            format!("undefined value in `{expression}`; pass every variable it uses")
        }
        None => "undefined value; pass every variable the template uses".to_owned(),
    }
}

/// The minijinja environment every registry compiles in: strict undefined, no auto-escaping, no debug
/// info (it would copy template source into errors).
pub(super) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_debug(false);
    env
}

/// "syntax error: unexpected end of input" from a minijinja error, without its location.
pub(super) fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

pub(super) fn line_suffix(err: &minijinja::Error) -> String {
    err.line()
        .map(|line| format!(" (line {line})"))
        .unwrap_or_default()
}

/// `name`, `user.name`: an expression that is just a variable, perhaps with attribute lookups.
fn is_variable_path(expression: &str) -> bool {
    expression.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric())
    })
}

/// The hash a prompt is known by: the first 16 hex characters of the SHA-256 of the template's bytes.
///
/// ```
/// use twelve_factor_ai::prompt::prompt_hash;
///
/// assert_eq!(prompt_hash(""), "e3b0c44298fc1c14");
/// assert_eq!(prompt_hash("Hello {{ name }}!").len(), 16);
/// ```
pub fn prompt_hash(template: &str) -> String {
    let digest = Sha256::digest(template.as_bytes());
    let mut hex = String::with_capacity(HASH_HEX_LEN);
    for byte in digest.iter().take(HASH_HEX_LEN / 2) {
        hex.push(hex_digit(byte >> 4));
        hex.push(hex_digit(byte & 0x0f));
    }
    hex
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

/// Checks a prompt name: not empty, not absolute (no leading `/`), no backslash, no empty, `.` or `..`
/// segment between slashes, no control character. Names such as `support/answer` map onto paths in a
/// prompts folder, so they must not be able to point outside it.
///
/// ```
/// use twelve_factor_ai::prompt::validate_prompt_name;
///
/// assert!(validate_prompt_name("support/answer-v2").is_ok());
/// assert!(validate_prompt_name("../etc/passwd").is_err());
/// assert!(validate_prompt_name("/abs").is_err());
/// assert!(validate_prompt_name("a\\b").is_err());
/// ```
///
/// # Errors
/// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest), saying which rule the name breaks.
pub fn validate_prompt_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('/') {
        Some("is absolute (starts with `/`)")
    } else if name.contains('\\') {
        Some("contains a backslash; separate segments with `/`")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.split('/').any(|segment| segment == "..") {
        Some("contains a `..` segment")
    } else if name
        .split('/')
        .any(|segment| segment.is_empty() || segment == ".")
    {
        Some("contains an empty or `.` segment")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::invalid_request(format!(
            "prompt name {name:?} {problem}; use a relative name such as `support/answer`"
        ))),
        None => Ok(()),
    }
}

/// Checks a version or label: not empty, no whitespace, control characters or slashes.
pub(super) fn validate_tag(what: &str, name: &str, tag: &str) -> Result<()> {
    if tag.is_empty()
        || tag
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\')
    {
        return Err(Error::invalid_request(format!(
            "{what} {tag:?} of prompt `{name}` is empty or contains whitespace, a control character or a slash"
        )));
    }
    Ok(())
}

/// Checks that render variables are a JSON object, or null for none.
///
/// # Errors
/// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for any other JSON value.
pub fn check_vars(vars: &serde_json::Value) -> Result<()> {
    let kind = match vars {
        serde_json::Value::Object(_) | serde_json::Value::Null => return Ok(()),
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
    };
    Err(Error::invalid_request(format!(
        "prompt variables must be a JSON object (or null for none), got {kind}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use serde_json::json;

    fn compile(template: &str) -> Result<CompiledPrompt> {
        CompiledPrompt::new(PromptSpec::new("t/test.html", template).version("1"))
    }

    #[test]
    fn hash_is_sha256_prefix() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(prompt_hash("abc"), "ba7816bf8f01cfea");
        let compiled = compile("abc").unwrap();
        assert_eq!(compiled.prompt().hash, "ba7816bf8f01cfea");
        assert_eq!(
            compiled.prompt().prompt_ref().to_string(),
            "t/test.html@1#ba7816bf8f01cfea"
        );
    }

    #[test]
    fn renders_without_escaping_or_re_rendering() {
        let compiled = compile("<b>{{ a }}</b> & {{ b }}").unwrap();
        let out = compiled
            .render(&json!({ "a": "<i>x</i> & y", "b": "{{ a }} {% if 1 %}z{% endif %}" }))
            .unwrap();
        assert_eq!(
            out.text(),
            "<b><i>x</i> & y</b> & {{ a }} {% if 1 %}z{% endif %}"
        );
        assert_eq!(out.messages[0].role, Role::User);
    }

    #[test]
    fn missing_variables_are_named() {
        let compiled = compile("line one\nHello {{ user.name }} from {{ place }}").unwrap();
        let err = compiled
            .render(&json!({ "user": {}, "place": "x" }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Template);
        assert!(err.message().contains("`user.name`"), "{err}");
        assert!(err.message().contains("line 2"), "{err}");
        let err = compiled
            .render(&json!({ "user": { "name": "Ada" } }))
            .unwrap_err();
        assert!(err.message().contains("`place`"), "{err}");
        let err = compile("{% if flag %}x{% endif %}")
            .unwrap()
            .render(&json!(null))
            .unwrap_err();
        assert!(err.message().contains("`flag`"), "{err}");
        // An optional variable guarded with `is defined` is fine.
        let ok = compile("a{% if flag is defined %}{{ flag }}{% endif %}").unwrap();
        assert_eq!(ok.render(&json!(null)).unwrap().text(), "a");
        assert_eq!(ok.render(&json!({ "flag": 1 })).unwrap().text(), "a1");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = compile("ok\n{{ oops").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Template);
        assert!(err.message().contains("line 2"), "{err}");
        assert!(err.message().contains("syntax error"), "{err}");
        let err = compile("{% for x in xs %}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Template);
    }

    #[test]
    fn vars_must_be_an_object() {
        let compiled = compile("x").unwrap();
        for bad in [json!([1]), json!("s"), json!(1), json!(true)] {
            assert_eq!(
                compiled.render(&bad).unwrap_err().kind(),
                ErrorKind::InvalidRequest
            );
        }
        assert_eq!(compiled.render(&json!(null)).unwrap().text(), "x");
        assert_eq!(compiled.render(&json!({})).unwrap().text(), "x");
    }

    #[test]
    fn names_versions_and_labels_are_checked() {
        for bad in [
            "", "/a", "a\\b", "../a", "a/../b", "a/..", "a//b", "a/", "./a", "a\u{0}b",
        ] {
            let err = CompiledPrompt::new(PromptSpec::new(bad, "x")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad:?}");
        }
        for good in ["a", "support/answer", "a..b", "a/b.c/d_e-f", "ünï/códe"] {
            assert!(validate_prompt_name(good).is_ok(), "{good:?}");
        }
        for bad_version in ["", "1 0", "1/0", "a\\b", "1\n"] {
            let err =
                CompiledPrompt::new(PromptSpec::new("a", "x").version(bad_version)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad_version:?}");
        }
        let err = CompiledPrompt::new(PromptSpec::new("a", "x").label("")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn spec_builder_and_trailing_newline() {
        let spec = PromptSpec::new("sys", "Be {{ tone }}.\n")
            .version("2")
            .labels(["a", "b", "a"])
            .role(Role::System)
            .description("d");
        assert_eq!(spec.claimed_labels(), ["a", "b"]);
        assert_eq!(spec.name(), "sys");
        let compiled = CompiledPrompt::new(spec).unwrap();
        let prompt = compiled.prompt();
        assert_eq!(prompt.description.as_deref(), Some("d"));
        assert_eq!(prompt.source, "Be {{ tone }}.\n");
        let out = compiled.render(&json!({ "tone": "brief" })).unwrap();
        assert_eq!(out.messages, vec![Message::system("Be brief.")]);
    }
}
