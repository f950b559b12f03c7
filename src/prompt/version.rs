//! Version ordering: which version of a prompt is the latest.

use std::cmp::Ordering;

/// The version a prompt gets when none is given (`MemoryPromptRegistry::insert`, a file without a
/// version).
pub const UNVERSIONED: &str = "unversioned";

/// Compares two version strings in natural order, the order [`Selector::Latest`](super::Selector::Latest)
/// uses.
///
/// Both strings are split into runs of ASCII digits and runs of everything else, compared run by run:
///
/// - two digit runs compare as numbers, of any length (`"1.10" > "1.9"`, `"v10" > "v9"`);
/// - two other runs compare by bytes (`"v2" > "v1"` because `2 > 1`; `"b" > "a"`);
/// - a digit run is greater than any other run, so a numbered version beats a word at the same place
///   (`"1.0" > "unversioned"`, `"2" > "v2"`);
/// - when one string runs out first, it is the smaller (`"1.0.1" > "1.0"`). Pre-release suffixes get no
///   special treatment: `"1.0-rc1" > "1.0"`, so point a label at a release candidate instead of
///   publishing it as the latest version.
///
/// Strings that are equal in this order but differ in bytes (`"01"`, `"1"`) are then ordered by bytes, so
/// the order is total and only identical strings compare equal.
///
/// ```
/// use std::cmp::Ordering;
/// use twelve_factor_ai::prompt::compare_versions;
///
/// assert_eq!(compare_versions("1.10", "1.9"), Ordering::Greater);
/// assert_eq!(compare_versions("v2", "v10"), Ordering::Less);
/// assert_eq!(compare_versions("2024-06-01", "2024-05-31"), Ordering::Greater);
/// assert_eq!(compare_versions("1.0", "unversioned"), Ordering::Greater);
/// assert_eq!(compare_versions("1.2.0", "1.2.0"), Ordering::Equal);
/// ```
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a_runs, mut b_runs) = (Runs(a), Runs(b));
    loop {
        let ordering = match (a_runs.next(), b_runs.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => compare_runs(x, y),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
}

fn compare_runs(x: &str, y: &str) -> Ordering {
    match (is_digits(x), is_digits(y)) {
        (true, true) => {
            let x = x.trim_start_matches('0');
            let y = y.trim_start_matches('0');
            // Same number of significant digits: byte order is numeric order.
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x.cmp(y),
    }
}

fn is_digits(run: &str) -> bool {
    run.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// Splits a string into maximal runs of ASCII digits and of everything else.
struct Runs<'a>(&'a str);

impl<'a> Iterator for Runs<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let first = self.0.bytes().next()?;
        let digits = first.is_ascii_digit();
        // ASCII digits are single bytes, and a UTF-8 continuation byte is never one, so splitting where
        // digit-ness changes always falls on a char boundary.
        let end = self
            .0
            .bytes()
            .position(|b| b.is_ascii_digit() != digits)
            .unwrap_or(self.0.len());
        let (run, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let ascending = [
            "",
            "unversioned",
            "v1",
            "v2",
            "v9",
            "v10",
            "0.9",
            "1",
            "1.0",
            "1.0-rc1",
            "1.0.1",
            "1.2",
            "1.9",
            "1.10",
            "1.10.0",
            "2",
            "10",
            "2024-01-01",
            "99999999999999999999999999",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(compare_versions(a, b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn total_order_on_numerically_equal_strings() {
        assert_eq!(compare_versions("01", "1"), Ordering::Less);
        assert_eq!(compare_versions("1", "01"), Ordering::Greater);
        assert_eq!(compare_versions("1.01", "1.1"), "1.01".cmp("1.1"));
        assert_eq!(compare_versions("été2", "été10"), Ordering::Less);
    }
}
