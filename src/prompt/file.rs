//! One prompt file: what its path says (name, version, variant) and what its contents hold (front matter,
//! template, role lines, references to other files).

use std::collections::BTreeSet;

use super::front_matter::{self, FrontMatter, Problem};
use super::includes::{self, Reference};
use super::roles::RoleMarkers;
use super::template::validate_tag;
use super::{ModelHints, Prompt, PromptVariable, UNVERSIONED, prompt_hash, validate_prompt_name};
use crate::llm::Role;

/// The extensions of prompt files; others are not prompts.
pub(super) const EXTENSIONS: [&str; 5] = ["j2", "jinja", "jinja2", "txt", "md"];

/// Whether a folder walk loads a file of this name: a prompt extension, not hidden (`.name`), not a
/// README (documentation of the folder).
pub(super) fn is_prompt_file_name(file_name: &str) -> bool {
    let Some((stem, ext)) = file_name.rsplit_once('.') else {
        return false;
    };
    EXTENSIONS.contains(&ext) && !file_name.starts_with('.') && !stem.eq_ignore_ascii_case("readme")
}

/// What a file's path says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileId {
    /// The path without extension: the name other templates include it by, unique in a set.
    pub key: String,
    /// The prompt's name: the key without the `@...` part of the file name.
    pub name: String,
    /// The version after `@`, if any.
    pub version: Option<String>,
    /// The variant after `@version+`, if any.
    pub variant: Option<String>,
}

/// Reads the identity from a relative path: `dir/name.ext`, `dir/name@version.ext` or
/// `dir/name@version+variant.ext`.
pub(super) fn identify(path: &str) -> Result<FileId, Problem> {
    let bad_path = |why: &str| Problem::whole_file(format!("file path {path:?} {why}"));
    let (key, ext) = path
        .rsplit_once('.')
        .filter(|(key, _)| !key.is_empty() && !key.ends_with('/'))
        .ok_or_else(|| bad_path("has no extension; name prompt files `*.j2`, `*.jinja`, `*.jinja2`, `*.txt` or `*.md`"))?;
    if !EXTENSIONS.contains(&ext) {
        return Err(bad_path(
            "has an extension that is not a prompt's; use `.j2`, `.jinja`, `.jinja2`, `.txt` or `.md`",
        ));
    }
    validate_prompt_name(key).map_err(|err| bad_path(&format!("is refused: {}", err.message())))?;
    let (dir, stem) = match key.rsplit_once('/') {
        Some((dir, stem)) => (Some(dir), stem),
        None => (None, key),
    };
    let (base, tail) = match stem.split_once('@') {
        Some((base, tail)) => (base, Some(tail)),
        None => (stem, None),
    };
    if base.is_empty() {
        return Err(bad_path(
            "has nothing before `@`; name it `name@version.ext`",
        ));
    }
    let (version, variant) = match tail {
        None => (None, None),
        Some(tail) => match tail.split_once('+') {
            Some((version, variant)) => (Some(version), Some(variant)),
            None => (Some(tail), None),
        },
    };
    if version.is_some_and(str::is_empty) || variant.is_some_and(str::is_empty) {
        return Err(bad_path(
            "has an empty version or variant; name it `name@version.ext` or `name@version+variant.ext`",
        ));
    }
    let name = match dir {
        Some(dir) => format!("{dir}/{base}"),
        None => base.to_owned(),
    };
    Ok(FileId {
        key: key.to_owned(),
        name,
        version: version.map(str::to_owned),
        variant: variant.map(str::to_owned),
    })
}

/// A parsed file, ready to be added to a set.
#[derive(Debug)]
pub(super) struct ParsedFile {
    pub path: String,
    pub key: String,
    /// The prompt with the labels this file claims.
    pub prompt: Prompt,
    /// The source minijinja compiles: the front matter as a comment of as many lines (so template lines
    /// are file lines), role lines as markers.
    pub template: String,
    pub references: Vec<Reference>,
    /// The line of the body's first line.
    pub first_body_line: usize,
}

/// Parses a file; every problem found is returned, each with its line when known.
pub(super) fn parse(
    path: &str,
    contents: &str,
    markers: &RoleMarkers,
) -> Result<ParsedFile, Vec<Problem>> {
    let id = identify(path).map_err(|p| vec![p])?;
    let contents = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    let split = front_matter::split(contents).map_err(|p| vec![p])?;
    let front = match &split.front {
        Some(text) => front_matter::parse(text).map_err(|p| vec![p])?,
        None => FrontMatter::default(),
    };
    let mut problems = Vec::new();
    let version = match (id.version.clone(), front.version.clone()) {
        (Some(from_name), Some(from_front)) if from_name != from_front => {
            problems.push(Problem::whole_file(format!(
                "the file name says version `{from_name}` but the front matter says `{from_front}`; keep one"
            )));
            from_name
        }
        (Some(version), _) | (None, Some(version)) => version,
        (None, None) => UNVERSIONED.to_owned(),
    };
    let checks = [
        ("version", Some(&version)),
        ("variant", id.variant.as_ref()),
    ];
    for (what, tag) in checks {
        if let Some(Err(err)) = tag.map(|tag| validate_tag(what, &id.name, tag)) {
            problems.push(Problem::whole_file(err.message().to_owned()));
        }
    }
    let mut labels: Vec<String> = Vec::new();
    for label in &front.labels {
        match validate_tag("label", &id.name, label) {
            Err(err) => problems.push(Problem::whole_file(err.message().to_owned())),
            Ok(()) if !labels.contains(label) => labels.push(label.clone()),
            Ok(()) => {}
        }
    }
    if front.weight.is_some() && id.variant.is_none() {
        problems.push(Problem::whole_file(
            "`weight` applies to A/B variants only; name the file `name@version+variant.ext` or drop `weight`",
        ));
    }
    let role = front.role.unwrap_or(Role::User);
    if role == Role::Tool {
        problems.push(Problem::whole_file(
            "role `tool` cannot be a prompt's role; use `system`, `user` or `assistant`",
        ));
    }
    let mut hints = ModelHints::new();
    if let Some(temperature) = front.temperature {
        match hints.with_temperature(temperature) {
            Ok(with) => hints = with,
            Err(err) => problems.push(Problem::whole_file(err.message().to_owned())),
        }
    }
    if let Some(max_tokens) = front.max_tokens {
        hints = hints.with_max_tokens(max_tokens);
    }
    let variables = match front.variables {
        Some(declared) => Some(check_variables(declared.0, &mut problems)),
        None => None,
    };

    let first_body_line = split.front_lines + 1;
    let mut template = String::with_capacity(split.body.len() + split.front_lines + 4);
    if split.front_lines > 0 {
        template.push_str("{#");
        template.extend(std::iter::repeat_n('\n', split.front_lines));
        template.push_str("#}");
    }
    markers.transform(split.body, &mut template);
    let references = match includes::scan(split.body, first_body_line) {
        Ok(references) => references,
        Err(found) => {
            problems.extend(found);
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ParsedFile {
        path: path.to_owned(),
        key: id.key,
        prompt: Prompt {
            hash: prompt_hash(split.body),
            name: id.name,
            version,
            labels,
            role,
            description: front.description,
            source: split.body.to_owned(),
            variant: id.variant,
            weight: front.weight.unwrap_or(1),
            hints,
            variables,
            file: Some(path.to_owned()),
        },
        template,
        references,
        first_body_line,
    })
}

/// Checks declared names (identifiers, no duplicates) and sorts them.
fn check_variables(
    mut declared: Vec<PromptVariable>,
    problems: &mut Vec<Problem>,
) -> Vec<PromptVariable> {
    let mut seen = BTreeSet::new();
    for variable in &declared {
        if !is_identifier(&variable.name) {
            problems.push(Problem::whole_file(format!(
                "variable name {:?} is not an identifier; use letters, digits and `_`, not starting with a digit",
                variable.name
            )));
        } else if !seen.insert(variable.name.as_str()) {
            problems.push(Problem::whole_file(format!(
                "variable `{}` is declared twice",
                variable.name
            )));
        }
    }
    declared.sort_by(|a, b| a.name.cmp(&b.name));
    declared
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The first line of `body` that mentions `word` as a whole word, as a file line; a best effort to point
/// at a variable's use.
pub(super) fn line_of_word(body: &str, word: &str, first_body_line: usize) -> Option<usize> {
    let is_ident = |c: char| c == '_' || c.is_alphanumeric();
    body.lines().enumerate().find_map(|(i, line)| {
        line.match_indices(word)
            .any(|(at, _)| {
                !line[..at].chars().next_back().is_some_and(is_ident)
                    && !line[at + word.len()..].chars().next().is_some_and(is_ident)
            })
            .then_some(first_body_line + i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_the_path() {
        let id = identify("templates/summarization@1.1.0.j2").unwrap();
        assert_eq!(id.key, "templates/summarization@1.1.0");
        assert_eq!(id.name, "templates/summarization");
        assert_eq!(id.version.as_deref(), Some("1.1.0"));
        assert_eq!(id.variant, None);
        let id = identify("a/email@2+b.txt").unwrap();
        assert_eq!(
            (
                id.name.as_str(),
                id.version.as_deref(),
                id.variant.as_deref()
            ),
            ("a/email", Some("2"), Some("b"))
        );
        let id = identify("c++/review.md").unwrap();
        assert_eq!((id.name.as_str(), id.version), ("c++/review", None));
        let id = identify("team@x/p.jinja2").unwrap();
        assert_eq!(id.name, "team@x/p");
        for bad in [
            "../x.j2", "/x.j2", "a//b.j2", "x.html", "x", "a/.j2", "@1.j2", "x@.j2", "x@1+.j2",
            "a\\b.j2",
        ] {
            assert!(identify(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn walk_filter() {
        for yes in [
            "a.j2",
            "a.jinja",
            "a.jinja2",
            "a.txt",
            "a.md",
            "readme-first.md",
        ] {
            assert!(is_prompt_file_name(yes), "{yes}");
        }
        for no in [
            "README.md",
            "readme.txt",
            ".hidden.j2",
            "a.json",
            "a",
            "a.J2",
        ] {
            assert!(!is_prompt_file_name(no), "{no}");
        }
    }

    #[test]
    fn parse_collects_every_problem() {
        let markers = RoleMarkers::new();
        let file = "+++\nversion = \"2\"\nweight = 3\nrole = \"tool\"\ntemperature = 9.0\nlabels = [\"a b\"]\n\
                    variables = [\"ok\", \"1bad\", \"ok\"]\n+++\n{% include x %}";
        let problems = parse("p@1.j2", file, &markers).unwrap_err();
        let all: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(problems.len(), 8, "{all:#?}");
    }

    #[test]
    fn parse_builds_the_prompt() {
        let markers = RoleMarkers::new();
        let file = "\u{feff}+++\ndescription = \"d\"\nlabels = [\"production\", \"production\"]\nmax_tokens = 5\n\
                    variables = [\"b\", \"a\"]\n+++\nsystem:\n{{ a }}{{ b }}\n";
        let parsed = parse("x/p@1.0+a.txt", file, &markers).unwrap();
        assert_eq!(parsed.key, "x/p@1.0+a");
        assert!(parsed.template.contains("tfa-role:"));
        assert_eq!(parsed.first_body_line, 7);
        assert_eq!(parsed.template.lines().count(), 8);
        let p = &parsed.prompt;
        assert_eq!(p.source, "system:\n{{ a }}{{ b }}\n");
        assert_eq!(p.hash, prompt_hash("system:\n{{ a }}{{ b }}\n"));
        assert_eq!(p.labels, ["production"]);
        assert_eq!(p.variant.as_deref(), Some("a"));
        assert_eq!(p.weight, 1);
        assert_eq!(p.hints.max_tokens(), Some(5));
        let names: Vec<&str> = p
            .variables
            .as_ref()
            .unwrap()
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(line_of_word(&p.source, "b", 7), Some(8));
        assert_eq!(line_of_word("ab a_b", "b", 1), None);
    }
}
