//! [`SecretUrl`]: a backing-service URL that may carry credentials, shown only with them redacted.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::Secret;

/// A URL such as `redis://:password@host:6379/0` or `postgres://user:password@host/db`, which often carries
/// credentials.
///
/// `Debug` and `Display` show it with the password (or a lone user token) and the values of query
/// parameters that look like secrets (`password`, `token`, `key`, `secret`, `sig`, ...) replaced by
/// `[REDACTED]`; [`expose`](SecretUrl::expose) gives the full URL to the code that connects.
///
/// ```
/// use twelve_factor_ai::config::SecretUrl;
///
/// let url = SecretUrl::new("postgres://app:hunter2@db.internal:5432/app?sslmode=require");
/// assert_eq!(url.to_string(), "postgres://app:[REDACTED]@db.internal:5432/app?sslmode=require");
/// assert!(!format!("{url:?}").contains("hunter2"));
/// assert_eq!(url.scheme(), Some("postgres"));
/// assert!(url.expose().contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Secret);

impl SecretUrl {
    /// Wraps a URL (surrounding whitespace is trimmed). Nothing is checked here; the settings check the
    /// scheme they expect.
    pub fn new(url: impl Into<String>) -> Self {
        let url: String = url.into();
        SecretUrl(Secret::new(url.trim()))
    }

    /// The full URL, credentials included. Pass it to the client that connects; never log it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL with its credentials replaced by `[REDACTED]`, safe for logs and error messages.
    pub fn redacted(&self) -> String {
        redact_url(self.expose())
    }

    /// The scheme as written (`"redis"`, `"postgres"`, `"http"`); `None` when the text has no valid
    /// `scheme://` prefix.
    pub fn scheme(&self) -> Option<&str> {
        let url = self.expose();
        let end = url.find("://")?;
        let scheme = &url[..end];
        let valid = !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        valid.then_some(scheme)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl From<&str> for SecretUrl {
    fn from(url: &str) -> Self {
        SecretUrl::new(url)
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        SecretUrl::new(url)
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretUrl::new)
    }
}

/// Query parameter names whose values are credentials (matched as substrings, case-insensitively).
const SECRET_PARAMS: [&str; 8] = [
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "sig",
    "auth",
    "credential",
];

/// Replaces the password of the userinfo (or the whole userinfo when it is a lone token) and the values of
/// secret-looking query parameters with `[REDACTED]`. Text that is not a `scheme://` URL is returned whole
/// only when it has no `@`; otherwise it is redacted entirely, since it cannot be parsed safely.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return if url.contains('@') || url.contains('=') {
            "[REDACTED]".to_owned()
        } else {
            url.to_owned()
        };
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let mut out = String::with_capacity(url.len() + 10);
    out.push_str(&url[..scheme_end]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..=colon]);
                    out.push_str("[REDACTED]");
                }
                None => out.push_str("[REDACTED]"),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &url[authority_end..];
    let (before_fragment, fragment) = match rest.find('#') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match before_fragment.find('?') {
        Some(q) => {
            out.push_str(&before_fragment[..=q]);
            let params: Vec<String> = before_fragment[q + 1..]
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_secret_param(name) => format!("{name}=[REDACTED]"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(before_fragment),
    }
    out.push_str(fragment);
    out
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let cases = [
            ("redis://:pw@host:6379/0", "redis://:[REDACTED]@host:6379/0"),
            (
                "postgres://u:pw@h/db?sslmode=require&password=x",
                "postgres://u:[REDACTED]@h/db?sslmode=require&password=[REDACTED]",
            ),
            (
                "https://token@gw.example/v1",
                "https://[REDACTED]@gw.example/v1",
            ),
            ("http://localhost:8001", "http://localhost:8001"),
            (
                "http://h/v1?api_key=abc#frag",
                "http://h/v1?api_key=[REDACTED]#frag",
            ),
            ("http://h/v1?a=b@c", "http://h/v1?a=b@c"),
            ("not a url", "not a url"),
            ("user:pw@host", "[REDACTED]"),
            ("host=h password=pw", "[REDACTED]"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn scheme() {
        assert_eq!(SecretUrl::new("rediss://h").scheme(), Some("rediss"));
        assert_eq!(
            SecretUrl::new("redis+unix:///tmp/r.sock").scheme(),
            Some("redis+unix")
        );
        assert_eq!(SecretUrl::new("localhost:6379").scheme(), None);
        assert_eq!(SecretUrl::new("://h").scheme(), None);
    }
}
