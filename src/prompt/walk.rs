//! Reading a prompts folder: every prompt file under it, never anything outside it.

use std::fs;
use std::path::{Path, PathBuf};

use super::file::is_prompt_file_name;
use super::front_matter::Problem;
use super::load_error::FileProblem;
use super::roles::RoleMarkers;
use super::set::{PromptSet, build, parse_one};
use crate::{Error, Result};

/// A prompt file found in the folder.
#[derive(Debug)]
pub(super) struct FoundFile {
    /// The path relative to the root, `/`-separated: what the file's name and key come from.
    pub rel: String,
    /// Where the bytes are, with symlinks resolved.
    pub abs: PathBuf,
    pub contents: String,
}

/// What a walk found: readable files, and problems with the rest.
#[derive(Debug, Default)]
pub(super) struct Walked {
    pub files: Vec<FoundFile>,
    pub problems: Vec<FileProblem>,
}

/// Reads and compiles the folder at `root` into a set, all or nothing.
pub(super) fn load_folder(root: &Path) -> Result<PromptSet> {
    let walked = read_folder(root)?;
    let markers = RoleMarkers::new();
    let mut parsed = Vec::with_capacity(walked.files.len());
    let mut problems = walked.problems;
    for file in &walked.files {
        parse_one(
            &file.rel,
            &file.contents,
            &markers,
            &mut parsed,
            &mut problems,
        );
    }
    build(parsed, problems, markers, Some(root))
}

/// Walks `root` recursively in name order. Hidden entries (`.git`, editor files), READMEs and files with
/// other extensions are skipped. A symlink is followed only when it resolves inside the root; one that
/// leads outside is a problem, and so is a file that cannot be read or is not UTF-8.
///
/// # Errors
/// [`ErrorKind::Config`](crate::ErrorKind::Config) when `root` is not a readable folder.
pub(super) fn read_folder(root: &Path) -> Result<Walked> {
    let canonical_root = fs::canonicalize(root).map_err(|err| {
        Error::config(format!(
            "prompt folder `{}` cannot be opened ({err}); create it or pass the folder that holds the prompt files",
            root.display()
        ))
    })?;
    if !canonical_root.is_dir() {
        return Err(Error::config(format!(
            "`{}` is not a folder; pass the folder that holds the prompt files",
            root.display()
        )));
    }
    let mut walk = Walk {
        root: &canonical_root,
        ancestors: vec![canonical_root.clone()],
        out: Walked::default(),
    };
    walk.dir(&canonical_root, "");
    Ok(walk.out)
}

struct Walk<'a> {
    root: &'a Path,
    /// The folders being walked, root first, so a symlink back up the tree cannot loop. (A symlink to a
    /// folder elsewhere in the tree is walked again under its own name, like any alias.)
    ancestors: Vec<PathBuf>,
    out: Walked,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, rel: &str) {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => {
                self.io(rel, format!("cannot list the folder: {err}"));
                return;
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => match entry.file_name().into_string() {
                    Ok(name) if name.starts_with('.') => {}
                    Ok(name) => names.push((name, entry.path())),
                    Err(name) => self.problem(
                        &join(rel, &name.to_string_lossy()),
                        "the file name is not UTF-8; rename it",
                    ),
                },
                Err(err) => self.io(rel, format!("cannot list the folder: {err}")),
            }
        }
        names.sort();
        for (name, path) in names {
            self.entry(&path, &join(rel, &name), &name);
        }
    }

    fn entry(&mut self, path: &Path, rel: &str, name: &str) {
        let metadata = match fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            Err(err) => return self.io(rel, format!("cannot read: {err}")),
        };
        let (target, metadata) = if metadata.file_type().is_symlink() {
            let target = match fs::canonicalize(path) {
                Ok(target) => target,
                Err(err) => return self.io(rel, format!("is a broken symlink: {err}")),
            };
            if !target.starts_with(self.root) {
                return self.problem(
                    rel,
                    "is a symlink that leads outside the prompts folder, refused; copy the file into the folder",
                );
            }
            match fs::metadata(&target) {
                Ok(metadata) => (target, metadata),
                Err(err) => return self.io(rel, format!("cannot read: {err}")),
            }
        } else {
            (path.to_path_buf(), metadata)
        };
        if metadata.is_dir() {
            if !self.ancestors.contains(&target) {
                self.ancestors.push(target.clone());
                self.dir(&target, rel);
                self.ancestors.pop();
            }
        } else if metadata.is_file() && is_prompt_file_name(name) {
            match fs::read(&target) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(contents) => self.out.files.push(FoundFile {
                        rel: rel.to_owned(),
                        abs: target,
                        contents,
                    }),
                    Err(_) => self.problem(rel, "is not valid UTF-8; save it as UTF-8"),
                },
                Err(err) => self.io(rel, format!("cannot read: {err}")),
            }
        }
    }

    fn problem(&mut self, rel: &str, message: &str) {
        self.out
            .problems
            .push(FileProblem::new(rel, Problem::whole_file(message)));
    }

    fn io(&mut self, rel: &str, message: String) {
        self.out.problems.push(FileProblem::io(rel, message));
    }
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}
