//! The request rules of each `anthropic-version`: which auth header it wants and whether it accepts
//! sampling parameters at all.
//!
//! | version | auth header | sampling parameters | documents / citations |
//! |---|---|---|---|
//! | `2023-06-01` (default) | `x-api-key: KEY` | as the model's catalog entry says | accepted |
//! | `2026-10-21` | `Authorization: Bearer KEY` | rejected on every model | no document blocks in assistant messages, no citations on user text blocks |
//!
//! Versions are dates. A version this crate does not know gets the rules of the newest known version at or
//! before its date (a later date than `2026-10-21` gets the `2026-10-21` rules, as the API's changes have
//! only tightened so far; an earlier or unparsable one gets the `2023-06-01` rules), and one warning when
//! the provider is built.

/// The newest version this crate knows the rules of.
pub(crate) const NEWEST_KNOWN: &str = "2026-10-21";

/// The rules a version follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    /// `2023-06-01`: `x-api-key`, sampling as the model allows.
    V2023_06_01,
    /// `2026-10-21`: `Authorization: Bearer`, no sampling parameters on any model.
    V2026_10_21,
}

impl Rules {
    /// The rules of `version`, and whether the version is one this crate knows.
    pub(crate) fn of(version: &str) -> (Rules, bool) {
        match version.trim() {
            "2023-06-01" => (Rules::V2023_06_01, true),
            NEWEST_KNOWN => (Rules::V2026_10_21, true),
            other => {
                let newer = is_date(other) && other > NEWEST_KNOWN;
                let rules = if newer {
                    Rules::V2026_10_21
                } else {
                    Rules::V2023_06_01
                };
                (rules, false)
            }
        }
    }

    /// The version whose rules these are.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rules::V2023_06_01 => "2023-06-01",
            Rules::V2026_10_21 => NEWEST_KNOWN,
        }
    }

    /// Whether the key goes in `Authorization: Bearer` rather than `x-api-key`.
    pub(crate) fn bearer_auth(self) -> bool {
        self == Rules::V2026_10_21
    }

    /// Whether every model refuses `temperature`, `top_p` and `top_k` under this version.
    pub(crate) fn rejects_sampling(self) -> bool {
        self == Rules::V2026_10_21
    }
}

/// `YYYY-MM-DD` with digits (so string order is date order).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_versions() {
        assert_eq!(Rules::of("2023-06-01"), (Rules::V2023_06_01, true));
        assert_eq!(Rules::of("2026-10-21"), (Rules::V2026_10_21, true));
        assert_eq!(Rules::of("2027-03-01"), (Rules::V2026_10_21, false));
        assert_eq!(Rules::of("2024-01-01"), (Rules::V2023_06_01, false));
        assert_eq!(Rules::of("2023-01-01"), (Rules::V2023_06_01, false));
        assert_eq!(Rules::of("next"), (Rules::V2023_06_01, false));
        assert!(Rules::V2026_10_21.bearer_auth() && Rules::V2026_10_21.rejects_sampling());
        assert!(!Rules::V2023_06_01.bearer_auth() && !Rules::V2023_06_01.rejects_sampling());
        assert_eq!(Rules::of("2027-03-01").0.name(), "2026-10-21");
    }
}
