//! The crate's one error type.
//!
//! Every fallible operation returns [`Error`], an opaque type that callers ask questions of
//! ([`Error::kind`], [`Error::is_retryable`], [`Error::should_fallback`], [`Error::retry_after`]) instead of
//! matching on a dependency's error. The wrappers (retry, fallback, circuit breaker) decide what to do from
//! these answers alone, so a backend's only duty is to pick the right [`ErrorKind`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the terms a wrapper or a caller needs to decide what to do next.
///
/// New kinds may be added in minor releases, so matches need a wildcard arm.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Too many requests or tokens per unit of time (HTTP 429, or this crate's own rate limiter).
    RateLimited,
    /// The account's quota or credit is spent (OpenAI `insufficient_quota`); waiting will not help.
    QuotaExhausted,
    /// The provider is overloaded (Anthropic 529 / `overloaded_error`, HTTP 503).
    Overloaded,
    /// A deadline passed before the operation finished.
    Timeout,
    /// The connection failed or broke (refused, reset, TLS, DNS).
    Transport,
    /// The server failed (HTTP 5xx other than overload).
    Server,
    /// The input plus the requested output does not fit the model's context window.
    ContextLengthExceeded,
    /// The provider refused the input or output under its content policy.
    ContentFiltered,
    /// The request is malformed or has values out of range; sending it again will not help.
    InvalidRequest,
    /// The credentials were rejected (HTTP 401 / 403).
    Auth,
    /// A response could not be decoded, or a stream ended before it was complete.
    Decode,
    /// The named thing (model, conversation, prompt) does not exist.
    NotFound,
    /// The backend does not offer this operation (for example embeddings on a chat-only provider).
    Unsupported,
    /// The configuration is invalid or incomplete.
    Config,
    /// A prompt template failed to compile or render.
    Template,
    /// A storage backend (vector, conversation, cache) failed.
    Store,
    /// The service is draining and takes no new calls.
    ShuttingDown,
    /// A circuit breaker is open and fails calls fast during its cool-down.
    CircuitOpen,
    /// A spending or token budget would be exceeded.
    BudgetExceeded,
}

impl ErrorKind {
    /// Every kind, in declaration order. Useful for tables and exhaustive tests.
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::RateLimited,
        ErrorKind::QuotaExhausted,
        ErrorKind::Overloaded,
        ErrorKind::Timeout,
        ErrorKind::Transport,
        ErrorKind::Server,
        ErrorKind::ContextLengthExceeded,
        ErrorKind::ContentFiltered,
        ErrorKind::InvalidRequest,
        ErrorKind::Auth,
        ErrorKind::Decode,
        ErrorKind::NotFound,
        ErrorKind::Unsupported,
        ErrorKind::Config,
        ErrorKind::Template,
        ErrorKind::Store,
        ErrorKind::ShuttingDown,
        ErrorKind::CircuitOpen,
        ErrorKind::BudgetExceeded,
    ];

    /// A short, stable, low-cardinality name (`"rate_limited"`), used as the `error.type` label in metrics
    /// and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::Server => "server",
            ErrorKind::ContextLengthExceeded => "context_length_exceeded",
            ErrorKind::ContentFiltered => "content_filtered",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Auth => "auth",
            ErrorKind::Decode => "decode",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Config => "config",
            ErrorKind::Template => "template",
            ErrorKind::Store => "store",
            ErrorKind::ShuttingDown => "shutting_down",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::BudgetExceeded => "budget_exceeded",
        }
    }

    /// Whether sending the same request again, to the same backend, after a pause, can succeed.
    ///
    /// Transient conditions only: rate limits, overload, timeouts, broken connections and server errors.
    /// Refusals raised by this crate's own layers are never retryable; see [`Error::is_retryable`].
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Timeout
                | ErrorKind::Transport
                | ErrorKind::Server
        )
    }

    /// Whether another provider in a fallback chain may succeed where this one failed.
    ///
    /// Everything that is specific to one provider (its limits, its health, its key, its model, its
    /// context window, its content policy) falls back; errors in the request itself, in the host's
    /// configuration or templates, local stores, draining and budgets do not, because every other
    /// provider would fail the same way.
    pub fn should_fallback(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::QuotaExhausted
                | ErrorKind::Overloaded
                | ErrorKind::Timeout
                | ErrorKind::Transport
                | ErrorKind::Server
                | ErrorKind::ContextLengthExceeded
                | ErrorKind::ContentFiltered
                | ErrorKind::Auth
                | ErrorKind::Decode
                | ErrorKind::NotFound
                | ErrorKind::Unsupported
                | ErrorKind::CircuitOpen
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The crate's error: opaque, cheap to clone, and answering the questions wrappers ask.
///
/// Build one with [`Error::new`] (or a shorthand such as [`Error::invalid_request`]) and the `with_*`
/// methods. The message is one line that says what happened and, where it helps, what to do; it never
/// contains secrets.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::RateLimited, "too many requests")
///     .with_status(429)
///     .with_provider("openai")
///     .with_retry_after(Duration::from_secs(2));
/// assert!(err.is_retryable());
/// assert!(err.should_fallback());
/// assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
/// assert_eq!(err.to_string(), "openai: rate_limited (HTTP 429): too many requests");
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    provider: Option<String>,
    retry_after: Option<Duration>,
    request_id: Option<String>,
    local: bool,
    source: Option<Source>,
    attempts: Vec<Error>,
}

impl Error {
    /// An error of `kind` with a one-line message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                status: None,
                provider: None,
                retry_after: None,
                request_id: None,
                local: false,
                source: None,
                attempts: Vec::new(),
            }),
        }
    }

    /// Shorthand for [`ErrorKind::InvalidRequest`]: bad input from the caller.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for [`ErrorKind::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Shorthand for [`ErrorKind::Decode`].
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }

    /// Shorthand for [`ErrorKind::Template`].
    pub fn template(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Template, message)
    }

    /// Shorthand for [`ErrorKind::Store`].
    pub fn store(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Store, message)
    }

    /// Sets the HTTP status the error came with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Sets the name of the provider or backend that failed (`"openai"`, `"redis"`).
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.inner.provider = Some(provider.into());
        self
    }

    /// Sets how long the server asked the caller to wait before trying again.
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.inner.retry_after = Some(retry_after);
        self
    }

    /// Sets the provider's request id (`x-request-id`, `request-id`), for support tickets.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.inner.request_id = Some(request_id.into());
        self
    }

    /// Keeps the underlying error as this error's [`source`](std::error::Error::source).
    ///
    /// The source must not carry secrets in its `Display` or `Debug` output.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Marks the error as raised by this crate's own layers (rate limiter, circuit breaker, drain, budget)
    /// rather than by a provider. Such refusals are never retried by this crate's own retry layer.
    pub fn local(mut self) -> Self {
        self.inner.local = true;
        self
    }

    /// Attaches the errors of every attempt that led to this one (a fallback chain that failed).
    pub fn with_attempts(mut self, attempts: Vec<Error>) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The one-line message, without the kind, provider or status.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The HTTP status, when the error came from an HTTP response.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The provider or backend that failed, when known.
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// How long the server asked to wait before trying again (`Retry-After`, `retry-after-ms`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The provider's request id, when the provider sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// Whether this crate's own layers raised the error (see [`Error::local`]).
    pub fn is_local(&self) -> bool {
        self.inner.local
    }

    /// The errors of every attempt behind this one; empty unless a fallback chain failed.
    pub fn attempts(&self) -> &[Error] {
        &self.inner.attempts
    }

    /// Whether sending the same request again to the same backend may succeed: the kind is transient
    /// ([`ErrorKind::is_retryable`]) and the error was not raised by this crate's own layers.
    pub fn is_retryable(&self) -> bool {
        !self.inner.local && self.inner.kind.is_retryable()
    }

    /// Whether a fallback chain should move on to its next provider ([`ErrorKind::should_fallback`]).
    pub fn should_fallback(&self) -> bool {
        self.inner.kind.should_fallback()
    }

    /// Whether a deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(provider) = &self.inner.provider {
            write!(f, "{provider}: ")?;
        }
        write!(f, "{}", self.inner.kind)?;
        if let Some(status) = self.inner.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ": {}", self.inner.message)?;
        if !self.inner.attempts.is_empty() {
            write!(f, " [attempts: ")?;
            for (i, attempt) in self.inner.attempts.iter().enumerate() {
                if i > 0 {
                    write!(f, "; ")?;
                }
                write!(f, "{attempt}")?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        d.field("message", &self.inner.message);
        if let Some(status) = self.inner.status {
            d.field("status", &status);
        }
        if let Some(provider) = &self.inner.provider {
            d.field("provider", provider);
        }
        if let Some(retry_after) = self.inner.retry_after {
            d.field("retry_after", &retry_after);
        }
        if let Some(request_id) = &self.inner.request_id {
            d.field("request_id", request_id);
        }
        if self.inner.local {
            d.field("local", &true);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        if !self.inner.attempts.is_empty() {
            d.field("attempts", &self.inner.attempts);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<minijinja::Error> for Error {
    /// A template error; minijinja's message already names the template and line.
    fn from(err: minijinja::Error) -> Self {
        Error::template(err.to_string()).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one place that pins down what each kind means to retry and fallback.
    #[test]
    fn retry_and_fallback_table() {
        use ErrorKind::*;
        // (kind, retryable, falls back)
        let table = [
            (RateLimited, true, true),
            (QuotaExhausted, false, true),
            (Overloaded, true, true),
            (Timeout, true, true),
            (Transport, true, true),
            (Server, true, true),
            (ContextLengthExceeded, false, true),
            (ContentFiltered, false, true),
            (InvalidRequest, false, false),
            (Auth, false, true),
            (Decode, false, true),
            (NotFound, false, true),
            (Unsupported, false, true),
            (Config, false, false),
            (Template, false, false),
            (Store, false, false),
            (ShuttingDown, false, false),
            (CircuitOpen, false, true),
            (BudgetExceeded, false, false),
        ];
        assert_eq!(
            table.len(),
            ErrorKind::ALL.len(),
            "every kind is in the table"
        );
        for (kind, retryable, falls_back) in table {
            let err = Error::new(kind, "x");
            assert_eq!(err.is_retryable(), retryable, "{kind} retryable");
            assert_eq!(err.should_fallback(), falls_back, "{kind} fallback");
            // A refusal by our own layers is never retried, whatever its kind.
            assert!(!err.clone().local().is_retryable(), "{kind} local");
        }
        for kind in ErrorKind::ALL {
            assert!(table.iter().any(|(k, _, _)| *k == kind), "{kind} missing");
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn display_and_accessors() {
        let inner = std::io::Error::other("connection reset");
        let err = Error::new(ErrorKind::Transport, "request failed")
            .with_provider("anthropic")
            .with_request_id("req_1")
            .with_source(inner);
        assert_eq!(err.to_string(), "anthropic: transport: request failed");
        assert_eq!(err.provider(), Some("anthropic"));
        assert_eq!(err.request_id(), Some("req_1"));
        assert_eq!(err.status(), None);
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "connection reset");
        assert!(format!("{err:?}").contains("req_1"));
    }

    #[test]
    fn attempts_are_kept_and_shown() {
        let a = Error::new(ErrorKind::Server, "boom").with_provider("openai");
        let b = Error::new(ErrorKind::Overloaded, "busy").with_provider("anthropic");
        let all =
            Error::new(ErrorKind::Overloaded, "every provider failed").with_attempts(vec![a, b]);
        assert_eq!(all.attempts().len(), 2);
        assert_eq!(all.attempts()[0].kind(), ErrorKind::Server);
        let text = all.to_string();
        assert!(text.contains("openai: server: boom"), "{text}");
        assert!(text.contains("anthropic: overloaded: busy"), "{text}");
    }
}
