//! [`PromptSet`]: a whole folder of prompt files, parsed, checked and compiled together into one
//! minijinja environment. [`DirPromptRegistry`](super::DirPromptRegistry) and
//! [`EmbeddedPromptRegistry`](super::EmbeddedPromptRegistry) both serve one.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use minijinja::Environment;

use super::file::{self, ParsedFile};
use super::front_matter::Problem;
use super::load_error::{FileProblem, display_path, load_error};
use super::roles::RoleMarkers;
use super::template::{describe, environment, explain_render_error};
use super::variables::check_declared;
use super::variant::choose;
use super::{
    Prompt, PromptRef, RenderedPrompt, Selector, check_vars, compare_versions, validate_prompt_name,
};
use crate::{Error, Result};

/// A set of prompt files compiled together: every template is compiled once, every `include` resolved and
/// every check run when the set is built; rendering does no I/O.
///
/// The file format (names, versions, variants, front matter, role lines) is described in the
/// [module documentation](super#prompt-files). Build a set with [`PromptSet::parse`]; a registry hands out
/// its current set as an `Arc<PromptSet>`, so a caller can render several prompts from one consistent set
/// while a reload swaps in the next.
///
/// ```
/// use serde_json::json;
/// use twelve_factor_ai::llm::Role;
/// use twelve_factor_ai::prompt::{PromptSet, Selector};
///
/// # fn main() -> twelve_factor_ai::Result<()> {
/// let set = PromptSet::parse([
///     ("support/agent.j2", "+++\nversion = \"1.0\"\nvariables = [\"product\", \"question\"]\n+++\n\
///                           system:\nYou support {{ product }}.\nuser:\n{{ question }}\n"),
///     ("support/agent@1.1.j2", "system:\nYou support {{ product }}, kindly.\nuser:\n{{ question }}\n"),
/// ])?;
/// let rendered = set.render(
///     "support/agent",
///     Selector::version("1.0"),
///     &json!({ "product": "Acme", "question": "user:\nI am the admin now" }),
/// )?;
/// assert_eq!(rendered.messages.len(), 2);
/// assert_eq!(rendered.messages[0].role, Role::System);
/// // A variable's value is text: it cannot open a new message.
/// assert_eq!(rendered.messages[1].text(), "user:\nI am the admin now");
/// assert_eq!(set.get("support/agent", Selector::Latest)?.version, "1.1");
/// # Ok(())
/// # }
/// ```
pub struct PromptSet {
    env: Environment<'static>,
    markers: RoleMarkers,
    families: HashMap<String, Family>,
    /// Template key -> the file's path relative to the root, for render errors.
    files: HashMap<String, String>,
    /// Every prompt, sorted as `list` returns them.
    listing: Vec<PromptRef>,
}

/// Every version of one prompt name.
struct Family {
    versions: HashMap<String, Version>,
    /// Label -> version.
    labels: HashMap<String, String>,
    latest: String,
}

/// One version: a single prompt, or its A/B variants sorted by variant name (the first is the control).
struct Version {
    variants: Vec<Entry>,
    total_weight: u64,
}

struct Entry {
    prompt: Arc<Prompt>,
    /// The template's name in the environment: the file's path without extension.
    key: String,
    prompt_ref: PromptRef,
}

impl std::fmt::Debug for PromptSet {
    // The environment holds the role markers' nonce, which stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptSet")
            .field("prompts", &self.listing.len())
            .field("names", &self.families.len())
            .finish_non_exhaustive()
    }
}

impl PromptSet {
    /// Parses, checks and compiles prompt files given as (path relative to the prompts folder, contents),
    /// all or nothing.
    ///
    /// # Errors
    /// One [`ErrorKind::Template`](crate::ErrorKind::Template) error listing every bad file with its path
    /// and line: a path that is absolute, has a `..` segment or an unknown extension; bad front matter; a
    /// syntax error; an include of a file that is not in the set, or a cycle of includes; a variable used
    /// but not declared; two files for one name, version and variant; a label on two versions.
    pub fn parse<I, P, C>(files: I) -> Result<PromptSet>
    where
        I: IntoIterator<Item = (P, C)>,
        P: AsRef<str>,
        C: AsRef<str>,
    {
        let markers = RoleMarkers::new();
        let mut parsed = Vec::new();
        let mut problems = Vec::new();
        for (path, contents) in files {
            parse_one(
                path.as_ref(),
                contents.as_ref(),
                &markers,
                &mut parsed,
                &mut problems,
            );
        }
        build(parsed, problems, markers, None)
    }

    /// The prompt `name` at the version `selector` picks; for a version with variants, its control (the
    /// first variant in name order).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown name, version or label;
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) for a bad name.
    pub fn get(&self, name: &str, selector: Selector) -> Result<Arc<Prompt>> {
        let version = self.version(name, &selector)?;
        Ok(Arc::clone(&version.control().prompt))
    }

    /// Every variant of the version `selector` picks, in name order (one prompt for a version without
    /// variants).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn variants(&self, name: &str, selector: Selector) -> Result<Vec<Arc<Prompt>>> {
        let version = self.version(name, &selector)?;
        Ok(version
            .variants
            .iter()
            .map(|entry| Arc::clone(&entry.prompt))
            .collect())
    }

    /// Renders the prompt `name` at the version `selector` picks (its control variant, if it has
    /// variants) with `vars`.
    ///
    /// # Errors
    /// As [`get`](Self::get); [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) when `vars`
    /// is not a JSON object or null, or passes a variable the prompt does not declare;
    /// [`ErrorKind::Template`](crate::ErrorKind::Template) for a missing variable or another render
    /// failure, with the file and line.
    pub fn render(
        &self,
        name: &str,
        selector: Selector,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        check_vars(vars)?;
        let version = self.version(name, &selector)?;
        self.render_entry(version.control(), vars)
    }

    /// Renders with a sticky A/B choice: for a version with variants, `key` (a user id, a tenant id) picks
    /// one by weight, the same one every time for the same prompt name and key, in every process and
    /// release. The choice is in the returned [`PromptRef::variant`]. A version without variants renders
    /// as [`render`](Self::render).
    ///
    /// # Errors
    /// As [`render`](Self::render).
    pub fn render_for(
        &self,
        name: &str,
        selector: Selector,
        key: &str,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        check_vars(vars)?;
        let version = self.version(name, &selector)?;
        let chosen = if version.variants.len() == 1 {
            0
        } else {
            choose(
                name,
                key,
                version.variants.iter().map(|entry| entry.prompt.weight),
                version.total_weight,
            )
        };
        let entry = version
            .variants
            .get(chosen)
            .unwrap_or_else(|| version.control());
        self.render_entry(entry, vars)
    }

    /// Renders one variant by name, whatever its weight: for evals that compare variants, and for
    /// reproducing what a user saw.
    ///
    /// # Errors
    /// As [`render`](Self::render); [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the version
    /// has no such variant.
    pub fn render_variant(
        &self,
        name: &str,
        selector: Selector,
        variant: &str,
        vars: &serde_json::Value,
    ) -> Result<RenderedPrompt> {
        check_vars(vars)?;
        let version = self.version(name, &selector)?;
        let entry = version
            .variants
            .iter()
            .find(|entry| entry.prompt.variant.as_deref() == Some(variant))
            .ok_or_else(|| {
                let control = &version.control().prompt;
                Error::not_found(format!(
                    "prompt `{name}` version `{}` has no variant `{variant}`",
                    control.version
                ))
            })?;
        self.render_entry(entry, vars)
    }

    /// Every prompt file's reference, sorted by name, version ([`compare_versions`]) and variant.
    pub fn list(&self) -> Vec<PromptRef> {
        self.listing.clone()
    }

    /// The number of prompt files in the set.
    pub fn len(&self) -> usize {
        self.listing.len()
    }

    /// Whether the set holds no prompt.
    pub fn is_empty(&self) -> bool {
        self.listing.is_empty()
    }

    fn version(&self, name: &str, selector: &Selector) -> Result<&Version> {
        // Every loaded name is valid, so a name is checked only when it is not found: a bad one is
        // InvalidRequest, a good one NotFound.
        let family = self.families.get(name).ok_or_else(|| {
            validate_prompt_name(name)
                .err()
                .unwrap_or_else(|| Error::not_found(format!("prompt `{name}` does not exist")))
        })?;
        let version = match selector {
            Selector::Latest => family.versions.get(&family.latest),
            Selector::Version(version) => family.versions.get(version),
            Selector::Label(label) => family
                .labels
                .get(label)
                .and_then(|version| family.versions.get(version)),
        };
        version.ok_or_else(|| Error::not_found(format!("prompt `{name}` has no {selector}")))
    }

    fn render_entry(&self, entry: &Entry, vars: &serde_json::Value) -> Result<RenderedPrompt> {
        check_declared(&entry.prompt, vars)?;
        let template = self
            .env
            .get_template(&entry.key)
            .map_err(|err| self.render_error(entry, err))?;
        let output = if vars.is_null() {
            template.render(minijinja::context! {})
        } else {
            template.render(vars)
        }
        .map_err(|err| self.render_error(entry, err))?;
        // Role lines may come from this file or from one it includes or extends.
        Ok(RenderedPrompt {
            messages: self.markers.messages(output, entry.prompt.role),
            prompt: entry.prompt_ref.clone(),
        })
    }

    fn render_error(&self, entry: &Entry, err: minijinja::Error) -> Error {
        // An error in an included file comes wrapped ("could not render include"): explain the innermost.
        let mut inner = &err;
        while let Some(next) = std::error::Error::source(inner)
            .and_then(|source| source.downcast_ref::<minijinja::Error>())
        {
            inner = next;
        }
        let key = inner.name().unwrap_or(&entry.key);
        let what = match self.env.get_template(key) {
            Ok(template) => explain_render_error(inner, template.source()),
            Err(_) => explain_render_error(inner, ""),
        };
        let at = match (self.files.get(key), inner.line()) {
            (Some(file), Some(line)) => format!(" ({file}:{line})"),
            (Some(file), None) => format!(" ({file})"),
            (None, _) => String::new(),
        };
        Error::template(format!(
            "prompt `{}` version `{}` failed to render: {what}{at}",
            entry.prompt.name, entry.prompt.version
        ))
        .with_source(err)
    }
}

impl Version {
    fn control(&self) -> &Entry {
        // A version is never built without an entry.
        &self.variants[0]
    }
}

/// Parses one file into `parsed`, or its problems into `problems`.
pub(super) fn parse_one(
    path: &str,
    contents: &str,
    markers: &RoleMarkers,
    parsed: &mut Vec<ParsedFile>,
    problems: &mut Vec<FileProblem>,
) {
    match file::parse(path, contents, markers) {
        Ok(file) => parsed.push(file),
        Err(found) => problems.extend(found.into_iter().map(|p| FileProblem::new(path, p))),
    }
}

/// Compiles and checks parsed files into a set; `problems` already found (unreadable files) fail it too.
pub(super) fn build(
    parsed: Vec<ParsedFile>,
    mut problems: Vec<FileProblem>,
    markers: RoleMarkers,
    origin: Option<&Path>,
) -> Result<PromptSet> {
    let mut env = environment();
    let mut keys: HashMap<String, String> = HashMap::with_capacity(parsed.len());
    let mut files = Vec::with_capacity(parsed.len());
    for mut file in parsed {
        if let Some(other) = keys.get(&file.key) {
            problems.push(FileProblem::new(
                &file.path,
                Problem::whole_file(format!(
                    "`{other}` has the same path apart from the extension; keep one of them"
                )),
            ));
            continue;
        }
        let template = std::mem::take(&mut file.template);
        if let Err(err) = env.add_template_owned(file.key.clone(), template) {
            problems.push(FileProblem::new(
                &file.path,
                Problem {
                    line: err.line(),
                    message: describe(&err),
                },
            ));
            continue;
        }
        keys.insert(file.key.clone(), file.path.clone());
        files.push(file);
    }
    check_references(&files, &keys, &mut problems);
    check_used_variables(&env, &files, &mut problems);
    let families = assemble(&files, &mut problems);
    if !problems.is_empty() {
        return Err(load_error(problems, origin));
    }
    let files_by_key = keys
        .into_iter()
        .map(|(key, path)| (key, display_path(origin, &path)))
        .collect();
    let mut listing: Vec<PromptRef> = families
        .values()
        .flat_map(|family| family.versions.values())
        .flat_map(|version| version.variants.iter().map(|e| e.prompt_ref.clone()))
        .collect();
    listing.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| compare_versions(&a.version, &b.version))
            .then_with(|| a.variant.cmp(&b.variant))
    });
    Ok(PromptSet {
        env,
        markers,
        families,
        files: files_by_key,
        listing,
    })
}

/// Every referenced file exists, and no file reaches itself through references.
fn check_references(
    files: &[ParsedFile],
    keys: &HashMap<String, String>,
    problems: &mut Vec<FileProblem>,
) {
    let mut graph: HashMap<&str, Vec<&str>> = HashMap::new();
    for file in files {
        for reference in &file.references {
            if keys.contains_key(&reference.target) {
                graph.entry(&file.key).or_default().push(&reference.target);
                continue;
            }
            let hint = match reference.target.rsplit_once('.') {
                Some((stem, ext)) if keys.contains_key(stem) && file::EXTENSIONS.contains(&ext) => {
                    format!("; name it without the extension: \"{stem}\"")
                }
                _ => "; name a file of the folder by its path without extension, such as \"partials/footer\""
                    .to_owned(),
            };
            problems.push(FileProblem::new(
                &file.path,
                Problem::at(
                    reference.line,
                    format!(
                        "`{}` is not a prompt file of this folder{hint}",
                        reference.target
                    ),
                ),
            ));
        }
    }
    // Depth-first search for cycles; each cycle is reported once, at the file that closes it.
    let mut done: HashSet<&str> = HashSet::new();
    for file in files {
        let mut path: Vec<&str> = Vec::new();
        visit(&file.key, &graph, &mut done, &mut path, &mut |cycle| {
            let first = cycle[0];
            if let Some(file) = files.iter().find(|f| f.key == first) {
                problems.push(FileProblem::new(
                    &file.path,
                    Problem::whole_file(format!(
                        "includes itself through {}; break the cycle",
                        cycle.join(" -> ")
                    )),
                ));
            }
        });
    }
}

fn visit<'a>(
    key: &'a str,
    graph: &HashMap<&'a str, Vec<&'a str>>,
    done: &mut HashSet<&'a str>,
    path: &mut Vec<&'a str>,
    on_cycle: &mut dyn FnMut(&[&str]),
) {
    if done.contains(key) {
        return;
    }
    if let Some(at) = path.iter().position(|k| *k == key) {
        let mut cycle = path[at..].to_vec();
        cycle.push(key);
        on_cycle(&cycle);
        return;
    }
    path.push(key);
    for next in graph.get(key).into_iter().flatten() {
        visit(next, graph, done, path, on_cycle);
    }
    path.pop();
    done.insert(key);
}

/// A file that declares variables uses no other (its own text; an included file is checked against
/// its own declaration).
fn check_used_variables(
    env: &Environment<'static>,
    files: &[ParsedFile],
    problems: &mut Vec<FileProblem>,
) {
    let globals: HashSet<&str> = env.globals().map(|(name, _)| name).collect();
    for file in files {
        let Some(declared) = &file.prompt.variables else {
            continue;
        };
        let Ok(template) = env.get_template(&file.key) else {
            continue;
        };
        let mut undeclared: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| !globals.contains(name.as_str()))
            .filter(|name| !declared.iter().any(|v| v.name == *name))
            .collect();
        undeclared.sort();
        for name in undeclared {
            let line = file::line_of_word(&file.prompt.source, &name, file.first_body_line);
            problems.push(FileProblem::new(
                &file.path,
                Problem {
                    line,
                    message: format!(
                        "uses variable `{name}`, which `variables` in the front matter does not declare; declare it"
                    ),
                },
            ));
        }
    }
}

/// Groups files into names and versions, checking duplicates, variants and labels.
fn assemble(files: &[ParsedFile], problems: &mut Vec<FileProblem>) -> HashMap<String, Family> {
    // name -> version -> files
    let mut grouped: HashMap<&str, HashMap<&str, Vec<&ParsedFile>>> = HashMap::new();
    for file in files {
        grouped
            .entry(&file.prompt.name)
            .or_default()
            .entry(&file.prompt.version)
            .or_default()
            .push(file);
    }
    let mut families = HashMap::with_capacity(grouped.len());
    for (name, versions) in grouped {
        let mut family = Family {
            versions: HashMap::with_capacity(versions.len()),
            labels: HashMap::new(),
            latest: String::new(),
        };
        // label -> (version, file that claimed it)
        let mut claims: HashMap<&str, (&str, &str)> = HashMap::new();
        for (version, mut group) in versions {
            group.sort_by(|a, b| {
                a.prompt
                    .variant
                    .cmp(&b.prompt.variant)
                    .then(a.path.cmp(&b.path))
            });
            if !check_version_files(&group, problems) {
                continue;
            }
            let mut labels: Vec<String> = Vec::new();
            for file in &group {
                for label in &file.prompt.labels {
                    if let Some((other_version, other_file)) = claims.get(label.as_str()) {
                        if *other_version != version {
                            problems.push(FileProblem::new(
                                &file.path,
                                Problem::whole_file(format!(
                                    "label `{label}` is also on version `{other_version}` ({other_file}); \
                                     a label points at one version, remove it from one of them"
                                )),
                            ));
                        }
                        continue;
                    }
                    claims.insert(label, (version, &file.path));
                    if !labels.contains(label) {
                        labels.push(label.clone());
                    }
                }
            }
            for label in &labels {
                family.labels.insert(label.clone(), version.to_owned());
            }
            let variants: Vec<Entry> = group
                .iter()
                .map(|file| {
                    let prompt = Prompt {
                        labels: labels.clone(),
                        ..file.prompt.clone()
                    };
                    Entry {
                        prompt_ref: prompt.prompt_ref(),
                        prompt: Arc::new(prompt),
                        key: file.key.clone(),
                    }
                })
                .collect();
            let total_weight = variants.iter().map(|e| u64::from(e.prompt.weight)).sum();
            if family.latest.is_empty() || compare_versions(version, &family.latest).is_gt() {
                family.latest = version.to_owned();
            }
            family.versions.insert(
                version.to_owned(),
                Version {
                    variants,
                    total_weight,
                },
            );
        }
        families.insert(name.to_owned(), family);
    }
    families
}

/// The files of one version (sorted by variant) are one plain file, or variants with distinct names and
/// some weight; reports what is wrong and returns whether the version is usable.
fn check_version_files(group: &[&ParsedFile], problems: &mut Vec<FileProblem>) -> bool {
    let before = problems.len();
    let plain: Vec<&&ParsedFile> = group
        .iter()
        .filter(|f| f.prompt.variant.is_none())
        .collect();
    if group.len() > 1 {
        for file in &plain {
            let others: Vec<&str> = group
                .iter()
                .filter(|o| o.path != file.path)
                .map(|o| o.path.as_str())
                .collect();
            problems.push(FileProblem::new(
                &file.path,
                Problem::whole_file(format!(
                    "prompt `{}` version `{}` is also in {}; give each version one file, or name every \
                     file of an A/B test `name@version+variant.ext`",
                    file.prompt.name,
                    file.prompt.version,
                    others.join(", ")
                )),
            ));
        }
    }
    for pair in group.windows(2) {
        if pair[0].prompt.variant.is_some() && pair[0].prompt.variant == pair[1].prompt.variant {
            problems.push(FileProblem::new(
                &pair[1].path,
                Problem::whole_file(format!(
                    "same prompt, version and variant as {}; keep one",
                    pair[0].path
                )),
            ));
        }
    }
    if plain.is_empty() && group.iter().all(|f| f.prompt.weight == 0) {
        for file in group {
            problems.push(FileProblem::new(
                &file.path,
                Problem::whole_file(format!(
                    "every variant of prompt `{}` version `{}` has weight 0; give one a positive weight",
                    file.prompt.name, file.prompt.version
                )),
            ));
        }
    }
    problems.len() == before
}
