//! Front matter: the optional TOML (`+++`) or YAML (`---`) header of a prompt file, split from the body
//! and parsed into [`FrontMatter`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::PromptVariable;
use crate::llm::Role;

/// A problem in a file at a line (1-based), when the line is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub(super) fn at(line: usize, message: impl Into<String>) -> Self {
        Problem {
            line: Some(line),
            message: message.into(),
        }
    }

    pub(super) fn whole_file(message: impl Into<String>) -> Self {
        Problem {
            line: None,
            message: message.into(),
        }
    }
}

/// A file split into its front matter and its body.
#[derive(Debug)]
pub(super) struct Split<'a> {
    pub front: Option<FrontText<'a>>,
    /// Everything after the front matter's closing line, byte for byte.
    pub body: &'a str,
    /// How many lines the front matter takes (0 without front matter): the body starts on line
    /// `front_lines + 1`.
    pub front_lines: usize,
}

/// The text between the delimiters.
#[derive(Debug)]
pub(super) struct FrontText<'a> {
    pub format: Format,
    pub text: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Toml,
    Yaml,
}

impl Format {
    fn delimiter(self) -> &'static str {
        match self {
            Format::Toml => "+++",
            Format::Yaml => "---",
        }
    }
}

/// Splits `contents` (without a byte order mark) into front matter and body. Front matter starts with a
/// first line that is exactly `+++` (TOML) or `---` (YAML), trailing spaces allowed, and ends at the next
/// such line.
pub(super) fn split(contents: &str) -> Result<Split<'_>, Problem> {
    let mut lines = Lines::new(contents);
    let format = match lines.next() {
        Some((_, line)) if line.trim_end() == "+++" => Format::Toml,
        Some((_, line)) if line.trim_end() == "---" => Format::Yaml,
        _ => {
            return Ok(Split {
                front: None,
                body: contents,
                front_lines: 0,
            });
        }
    };
    let text_start = lines.offset;
    let mut line_number = 1;
    while let Some((start, line)) = lines.next() {
        line_number += 1;
        if line.trim_end() == format.delimiter() {
            return Ok(Split {
                front: Some(FrontText {
                    format,
                    text: &contents[text_start..start],
                }),
                body: &contents[lines.offset..],
                front_lines: line_number,
            });
        }
    }
    Err(Problem::at(
        1,
        format!(
            "front matter opened with `{}` is never closed; end it with a line `{}`",
            format.delimiter(),
            format.delimiter()
        ),
    ))
}

/// Lines with their start offsets; a line excludes its `\n` (and a `\r` before it).
struct Lines<'a> {
    text: &'a str,
    offset: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines { text, offset: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.offset >= self.text.len() {
            return None;
        }
        let start = self.offset;
        let rest = &self.text[start..];
        let (line, advance) = match rest.find('\n') {
            Some(end) => (&rest[..end], end + 1),
            None => (rest, rest.len()),
        };
        self.offset += advance;
        Some((start, line.strip_suffix('\r').unwrap_or(line)))
    }
}

/// What a prompt file's front matter may say. Unknown keys are errors, so a typo (`lables`) fails the load
/// instead of being ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FrontMatter {
    #[serde(default, deserialize_with = "quoted")]
    pub version: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub role: Option<Role>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub weight: Option<u32>,
    pub variables: Option<Variables>,
}

/// Parses the front matter; line numbers in problems count from the top of the file.
pub(super) fn parse(front: &FrontText<'_>) -> Result<FrontMatter, Problem> {
    // The text starts on line 2, after the opening delimiter.
    const FIRST_LINE: usize = 2;
    match front.format {
        Format::Toml => toml::from_str(front.text).map_err(|err| {
            let line = err.span().map(|span| {
                FIRST_LINE
                    + front.text[..span.start.min(front.text.len())]
                        .matches('\n')
                        .count()
            });
            Problem {
                line,
                message: format!("front matter: {}", err.message().trim_end()),
            }
        }),
        Format::Yaml => parse_yaml(front.text, FIRST_LINE),
    }
}

#[cfg(feature = "yaml")]
fn parse_yaml(text: &str, first_line: usize) -> Result<FrontMatter, Problem> {
    // An empty YAML document is null, not an empty mapping.
    if text.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    serde_yaml_ng::from_str(text).map_err(|err| {
        let line = err
            .location()
            .map(|l| first_line + l.line().saturating_sub(1));
        let mut message = err.to_string();
        // The location is reported as the file line instead.
        if let Some(at) = message.find(" at line ") {
            message.truncate(at);
        }
        Problem {
            line,
            message: format!("front matter: {message}"),
        }
    })
}

#[cfg(not(feature = "yaml"))]
fn parse_yaml(_text: &str, _first_line: usize) -> Result<FrontMatter, Problem> {
    Err(Problem::at(
        1,
        "YAML front matter (`---`) needs the crate feature `yaml`; enable it or use TOML front matter (`+++`)",
    ))
}

/// A version must be a string: YAML reads `version: 1.10` as the number 1.1.
fn quoted<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Quoted;

    impl Visitor<'_> for Quoted {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a quoted version string such as \"1.10\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Err(number(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Err(number(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Err(number(v))
        }
    }

    fn number<E: de::Error>(v: impl fmt::Display) -> E {
        E::custom(format!(
            "the version is the number {v}, not a string; quote it as you mean it: \"1.10\" (unquoted 1.10 reads as 1.1)"
        ))
    }

    deserializer.deserialize_any(Quoted)
}

/// `variables = ["a", "b"]` (all required) or a table `[variables] a = { required = false }`.
#[derive(Debug)]
pub(super) struct Variables(pub Vec<PromptVariable>);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariableDecl {
    #[serde(default = "required_by_default")]
    required: bool,
    description: Option<String>,
}

fn required_by_default() -> bool {
    true
}

impl<'de> Deserialize<'de> for Variables {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VariablesVisitor;

        impl<'de> Visitor<'de> for VariablesVisitor {
            type Value = Variables;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of variable names, or a table of `name = { required = true }`")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let names: Vec<String> =
                    Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Variables(
                    names
                        .into_iter()
                        .map(|name| PromptVariable::new(name, true))
                        .collect(),
                ))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let table: BTreeMap<String, VariableDecl> =
                    Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Variables(
                    table
                        .into_iter()
                        .map(|(name, decl)| PromptVariable {
                            name,
                            required: decl.required,
                            description: decl.description,
                        })
                        .collect(),
                ))
            }
        }

        deserializer.deserialize_any(VariablesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_toml_and_yaml_and_counts_lines() {
        let file = "+++\nversion = \"1\"\n+++\nHello\n";
        let split = split(file).unwrap();
        let front = split.front.as_ref().unwrap();
        assert_eq!(front.format, Format::Toml);
        assert_eq!(front.text, "version = \"1\"\n");
        assert_eq!(split.body, "Hello\n");
        assert_eq!(split.front_lines, 3);
        let fm = parse(front).unwrap();
        assert_eq!(fm.version.as_deref(), Some("1"));

        let split = super::split("---  \r\nlabels: [a]\r\n---\r\nBody").unwrap();
        assert_eq!(split.front.as_ref().unwrap().format, Format::Yaml);
        assert_eq!(split.body, "Body");
        assert_eq!(split.front_lines, 3);

        let split = super::split("No front matter\n+++\n").unwrap();
        assert!(split.front.is_none());
        assert_eq!(split.front_lines, 0);
        let split = super::split("+++\n+++").unwrap();
        assert_eq!(split.body, "");
        assert!(
            parse(split.front.as_ref().unwrap())
                .unwrap()
                .labels
                .is_empty()
        );
    }

    #[test]
    fn problems_have_file_lines() {
        let err = split("+++\nversion = \"1\"\nbody").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.message.contains("never closed"), "{}", err.message);

        let file = "+++\nversion = \"1\"\nlables = [\"x\"]\n+++\n";
        let err = parse(split(file).unwrap().front.as_ref().unwrap()).unwrap_err();
        assert_eq!(err.line, Some(3), "{err:?}");
        assert!(err.message.contains("lables"), "{}", err.message);

        let file = "+++\nversion = 1.10\n+++\n";
        let err = parse(split(file).unwrap().front.as_ref().unwrap()).unwrap_err();
        assert!(err.message.contains("quote"), "{}", err.message);
    }

    #[cfg(feature = "yaml")]
    #[test]
    fn yaml_variables_and_errors() {
        let file = "---\nversion: \"2\"\nvariables:\n  a: { required: false, description: x }\n  b: {}\n---\n";
        let fm = parse(split(file).unwrap().front.as_ref().unwrap()).unwrap();
        let vars = fm.variables.unwrap().0;
        assert_eq!(vars.len(), 2);
        assert!(!vars[0].required);
        assert_eq!(vars[0].description.as_deref(), Some("x"));
        assert!(vars[1].required);

        let file = "---\nversion: 1.10\n---\n";
        let err = parse(split(file).unwrap().front.as_ref().unwrap()).unwrap_err();
        assert!(err.message.contains("quote"), "{}", err.message);

        let file = "---\nversion: \"1\"\nrole: boss\n---\n";
        let err = parse(split(file).unwrap().front.as_ref().unwrap()).unwrap_err();
        assert_eq!(err.line, Some(3), "{err:?}");
        assert!(!err.message.contains(" at line "), "{}", err.message);

        assert!(parse(split("---\n---\n").unwrap().front.as_ref().unwrap()).is_ok());
    }

    #[cfg(not(feature = "yaml"))]
    #[test]
    fn yaml_needs_the_feature() {
        let err = parse(
            split("---\nversion: \"1\"\n---\n")
                .unwrap()
                .front
                .as_ref()
                .unwrap(),
        )
        .unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.message.contains("feature `yaml`"), "{}", err.message);
    }

    #[test]
    fn variables_as_list_or_table() {
        let file = "+++\nvariables = [\"a\", \"b\"]\n+++\n";
        let fm = parse(split(file).unwrap().front.as_ref().unwrap()).unwrap();
        let names: Vec<_> = fm
            .variables
            .unwrap()
            .0
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        let file = "+++\n[variables]\na = { required = false }\nb = { requird = true }\n+++\n";
        let err = parse(split(file).unwrap().front.as_ref().unwrap()).unwrap_err();
        assert!(err.message.contains("requird"), "{}", err.message);
        let file = "+++\nvariables = 3\n+++\n";
        assert!(parse(split(file).unwrap().front.as_ref().unwrap()).is_err());
    }
}
