//! [`Selector`]: which version of a prompt to use.

use serde::{Deserialize, Serialize};

/// Which version of a prompt [`PromptRegistry::get`](super::PromptRegistry::get) returns.
///
/// In configuration files a selector reads `"latest"`, `{ "version": "1.2.0" }` or
/// `{ "label": "production" }`.
///
/// ```
/// use twelve_factor_ai::prompt::Selector;
///
/// assert_eq!(Selector::default(), Selector::Latest);
/// assert_eq!(Selector::version("1.0"), Selector::Version("1.0".into()));
/// assert_eq!(Selector::label("production").to_string(), "label `production`");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// The greatest version in natural order ([`compare_versions`](super::compare_versions)).
    #[default]
    Latest,
    /// Exactly this version.
    Version(String),
    /// The version a label (`"production"`, `"staging"`) points at.
    Label(String),
}

impl Selector {
    /// Selects exactly `version`.
    pub fn version(version: impl Into<String>) -> Self {
        Selector::Version(version.into())
    }

    /// Selects the version `label` points at.
    pub fn label(label: impl Into<String>) -> Self {
        Selector::Label(label.into())
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Latest => f.write_str("latest version"),
            Selector::Version(version) => write!(f, "version `{version}`"),
            Selector::Label(label) => write!(f, "label `{label}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_shape() {
        assert_eq!(
            serde_json::to_string(&Selector::Latest).unwrap(),
            r#""latest""#
        );
        assert_eq!(
            serde_json::to_string(&Selector::version("1.0")).unwrap(),
            r#"{"version":"1.0"}"#
        );
        let s: Selector = serde_json::from_str(r#"{"label":"production"}"#).unwrap();
        assert_eq!(s, Selector::label("production"));
    }
}
