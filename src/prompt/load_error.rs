//! The one error a failed load returns: every bad file, with its path and line.

use std::path::Path;

use super::front_matter::Problem;
use crate::Error;

/// A problem in one file.
#[derive(Debug, Clone)]
pub(super) struct FileProblem {
    /// The file's path relative to the set's root (empty for the root itself).
    pub path: String,
    pub problem: Problem,
    /// The file could not be read (as opposed to read and found wrong).
    pub io: bool,
}

impl FileProblem {
    pub(super) fn new(path: impl Into<String>, problem: Problem) -> Self {
        FileProblem {
            path: path.into(),
            problem,
            io: false,
        }
    }

    pub(super) fn io(path: impl Into<String>, message: impl Into<String>) -> Self {
        FileProblem {
            path: path.into(),
            problem: Problem::whole_file(message),
            io: true,
        }
    }
}

/// Where a file is, for people: the root joined with the relative path.
pub(super) fn display_path(origin: Option<&Path>, path: &str) -> String {
    match origin {
        Some(origin) if path.is_empty() => origin.display().to_string(),
        Some(origin) => origin.join(path).display().to_string(),
        None => path.to_owned(),
    }
}

/// One error listing every problem, sorted by file and line: [`ErrorKind::Config`](crate::ErrorKind::Config)
/// when a file could not be read, otherwise [`ErrorKind::Template`](crate::ErrorKind::Template).
pub(super) fn load_error(mut problems: Vec<FileProblem>, origin: Option<&Path>) -> Error {
    problems
        .sort_by(|a, b| (a.path.as_str(), a.problem.line).cmp(&(b.path.as_str(), b.problem.line)));
    problems.dedup_by(|a, b| a.path == b.path && a.problem == b.problem);
    let mut files: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    files.dedup();
    let list: Vec<String> = problems
        .iter()
        .map(|p| {
            let path = display_path(origin, &p.path);
            match p.problem.line {
                Some(line) => format!("{path}:{line}: {}", p.problem.message),
                None => format!("{path}: {}", p.problem.message),
            }
        })
        .collect();
    let message = format!(
        "{} prompt file{} failed to load, so none was loaded: {}",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        list.join("; ")
    );
    if problems.iter().any(|p| p.io) {
        Error::config(message)
    } else {
        Error::template(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn lists_every_problem_sorted() {
        let err = load_error(
            vec![
                FileProblem::new("b.j2", Problem::at(4, "syntax error")),
                FileProblem::new("a.j2", Problem::whole_file("bad")),
                FileProblem::new("b.j2", Problem::at(2, "other")),
            ],
            Some(Path::new("prompts")),
        );
        assert_eq!(err.kind(), ErrorKind::Template);
        assert_eq!(
            err.message(),
            "2 prompt files failed to load, so none was loaded: prompts/a.j2: bad; \
             prompts/b.j2:2: other; prompts/b.j2:4: syntax error"
        );
        let err = load_error(vec![FileProblem::io("x.j2", "permission denied")], None);
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().starts_with("1 prompt file failed"), "{err}");
    }
}
