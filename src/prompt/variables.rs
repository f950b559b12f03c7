//! Declared variables: [`PromptVariable`], and the render-time check that the caller passes exactly what a
//! prompt declares.

use serde::Serialize;

use super::Prompt;
use crate::{Error, Result};

/// A variable a prompt declares in its front matter.
///
/// When a prompt declares variables, a render that leaves out a required one is
/// [`ErrorKind::Template`](crate::ErrorKind::Template) and one that passes an undeclared one is
/// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest), both naming the variable; loading
/// fails when the template uses a variable it does not declare.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromptVariable {
    /// The variable's name, as the template uses it.
    pub name: String,
    /// Whether every render must pass it (default `true`). An optional one is guarded in the template
    /// with `{% if x is defined %}` or `{{ x | default(...) }}`.
    pub required: bool,
    /// What the variable holds, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl PromptVariable {
    /// A variable named `name`.
    pub fn new(name: impl Into<String>, required: bool) -> Self {
        PromptVariable {
            name: name.into(),
            required,
            description: None,
        }
    }
}

/// Checks `vars` (an object or null, see [`check_vars`](super::check_vars)) against the variables
/// `prompt` declares; a prompt that declares none accepts anything.
pub(super) fn check_declared(prompt: &Prompt, vars: &serde_json::Value) -> Result<()> {
    let Some(declared) = &prompt.variables else {
        return Ok(());
    };
    let passed = vars.as_object();
    if let Some(passed) = passed {
        for name in passed.keys() {
            if !declared.iter().any(|v| v.name == *name) {
                return Err(Error::invalid_request(format!(
                    "prompt `{}` version `{}` does not declare variable `{name}`; pass only {}",
                    prompt.name,
                    prompt.version,
                    list_names(declared)
                )));
            }
        }
    }
    let missing = declared
        .iter()
        .find(|v| v.required && !passed.is_some_and(|p| p.contains_key(&v.name)));
    match missing {
        Some(variable) => Err(Error::template(format!(
            "prompt `{}` version `{}` failed to render: required variable `{}` is missing; pass it in vars",
            prompt.name, prompt.version, variable.name
        ))),
        None => Ok(()),
    }
}

fn list_names(declared: &[PromptVariable]) -> String {
    if declared.is_empty() {
        return "no variables (it declares none)".to_owned();
    }
    let names: Vec<String> = declared.iter().map(|v| format!("`{}`", v.name)).collect();
    names.join(", ")
}
