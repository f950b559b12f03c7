//! Finds the other prompt files a template names in `{% include %}`, `{% import %}`, `{% from %}` and
//! `{% extends %}`, so a missing one fails the load instead of the first render.

use super::front_matter::Problem;

/// A reference from one template to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reference {
    /// The file line of the tag.
    pub line: usize,
    /// The name in the tag: a file's path without extension.
    pub target: String,
}

const KEYWORDS: [&str; 4] = ["include", "import", "from", "extends"];

/// The references in `body`, whose first line is file line `first_line`. A reference must name its
/// target with a string literal (a list of literals for `include`), so it can be resolved at load.
pub(super) fn scan(body: &str, first_line: usize) -> Result<Vec<Reference>, Vec<Problem>> {
    let mut refs = Vec::new();
    let mut problems = Vec::new();
    let line_of = |at: usize| first_line + body[..at].matches('\n').count();
    let mut pos = 0;
    while let Some(found) = body[pos..].find('{') {
        let start = pos + found;
        let rest = &body[start..];
        if rest.starts_with("{#") {
            pos = skip_past(body, start + 2, "#}");
        } else if rest.starts_with("{{") {
            pos = skip_past(body, start + 2, "}}");
        } else if rest.starts_with("{%") {
            let end = skip_past(body, start + 2, "%}");
            let inner = tag_inner(body, start, end)
                .trim_start_matches(['-', '+'])
                .trim();
            let keyword = inner.split_whitespace().next().unwrap_or("");
            if keyword == "raw" {
                pos = skip_raw(body, end);
                continue;
            }
            if KEYWORDS.contains(&keyword) {
                let args = inner[keyword.len()..].trim_start();
                match literals(args, keyword == "include") {
                    Some(targets) => refs.extend(targets.into_iter().map(|target| Reference {
                        line: line_of(start),
                        target,
                    })),
                    None => problems.push(Problem::at(
                        line_of(start),
                        format!(
                            "`{{% {keyword} %}}` must name the file with a string literal such as \
                             \"partials/footer\", so it can be checked at load"
                        ),
                    )),
                }
            }
            pos = end;
        } else {
            pos = start + 1;
        }
    }
    if problems.is_empty() {
        Ok(refs)
    } else {
        Err(problems)
    }
}

/// The offset just past the next `close` at or after `from`, or the end of `text`.
fn skip_past(text: &str, from: usize, close: &str) -> usize {
    text[from..]
        .find(close)
        .map_or(text.len(), |i| from + i + close.len())
}

/// The text between `{%` at `start` and the `%}` that ends at `end`; for a tag that never closes (`end`
/// is then the end of `text`), everything after `{%`. Never slices inside a character.
fn tag_inner(text: &str, start: usize, end: usize) -> &str {
    let closed = end >= start + 4 && text.get(..end).is_some_and(|t| t.ends_with("%}"));
    let stop = if closed { end - 2 } else { end };
    text.get(start + 2..stop).unwrap_or("")
}

/// The offset past the `{% endraw %}` that closes a raw block.
fn skip_raw(text: &str, mut pos: usize) -> usize {
    while let Some(found) = text[pos..].find("{%") {
        let start = pos + found;
        let end = skip_past(text, start + 2, "%}");
        let inner = tag_inner(text, start, end).trim_matches(['-', '+']).trim();
        if inner == "endraw" {
            return end;
        }
        pos = end;
    }
    text.len()
}

/// The string literal(s) at the start of `args`: `"a"`, or for include also `["a", 'b']`.
fn literals(args: &str, allow_list: bool) -> Option<Vec<String>> {
    if let Some((first, _)) = literal(args) {
        return Some(vec![first]);
    }
    let mut rest = args.strip_prefix('[').filter(|_| allow_list)?.trim_start();
    let mut out = Vec::new();
    loop {
        if rest.starts_with(']') {
            return (!out.is_empty()).then_some(out);
        }
        let (value, after) = literal(rest)?;
        out.push(value);
        rest = after.trim_start();
        rest = rest.strip_prefix(',').map_or(rest, str::trim_start);
    }
}

/// A quoted string at the start of `text` and the text after it.
fn literal(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let mut value = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            c if c == quote => return Some((value, &text[1 + i + 1..])),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_tag_before_a_multibyte_character_does_not_panic() {
        for body in [
            "Hello {% \u{20ac}",
            "{%\u{20ac}",
            "{% raw %}x{% \u{20ac}",
            "{%",
            "{%}",
        ] {
            let _ = scan(body, 1);
        }
        assert!(scan("{% include \"a\" %}", 1).is_ok());
    }

    fn targets(body: &str) -> Vec<(usize, String)> {
        scan(body, 1)
            .unwrap()
            .into_iter()
            .map(|r| (r.line, r.target))
            .collect()
    }

    #[test]
    fn finds_every_kind_of_reference() {
        let body = "a\n{% include \"p/footer\" %}\n{%- import 'macros' as m -%}\n\
                    {% from \"x/y\" import z %}{% extends \"base\" %}\n{% include ['a', \"b\"] ignore missing %}";
        assert_eq!(
            targets(body),
            [
                (2, "p/footer".to_owned()),
                (3, "macros".to_owned()),
                (4, "x/y".to_owned()),
                (4, "base".to_owned()),
                (5, "a".to_owned()),
                (5, "b".to_owned()),
            ]
        );
    }

    #[test]
    fn skips_comments_expressions_and_raw_blocks() {
        let body = "{# {% include \"no\" %} #}{{ \"{% include 'no' %}\" }}\
                    {% raw %}{% include \"no\" %}{% endraw %}{% if x %}{% include \"yes\" %}{% endif %}";
        assert_eq!(targets(body), [(1, "yes".to_owned())]);
        assert_eq!(targets("{% set include = 1 %}{{ include }}"), []);
    }

    #[test]
    fn dynamic_names_are_problems_with_lines() {
        let problems = scan("x\n\n{% include name %}\n{% extends [\"a\"] %}", 10).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].line, Some(12));
        assert_eq!(problems[1].line, Some(13));
        assert!(problems[0].message.contains("string literal"));
    }
}
