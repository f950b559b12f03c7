//! The HTTP transport the providers share: a reqwest client with every timeout set, bounded body reads,
//! and the mapping from HTTP status and error bodies to [`ErrorKind`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use std::collections::VecDeque;

use super::{ChatStream, StreamEvent};
use crate::{Error, ErrorKind, Result, Secret};

/// Transport settings of an HTTP provider. Every limit has a default, chosen as stated on each field.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::llm::HttpOptions;
///
/// let opts = HttpOptions::default()
///     .connect_timeout(Duration::from_secs(3))
///     .request_timeout(Duration::from_secs(60));
/// assert_eq!(opts.max_body_bytes, 64 * 1024 * 1024);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Time to open a connection. Default 10 s: a healthy endpoint connects in milliseconds, and failing
    /// fast lets a fallback take over.
    pub connect_timeout: Duration,
    /// Time for a whole non-streaming call, and for a streaming call until its response headers arrive.
    /// Default 600 s, the official SDKs' default: long generations on reasoning models take minutes.
    pub request_timeout: Duration,
    /// Longest silence between two reads of a response body. Default 120 s: streaming providers send
    /// content or keep-alive pings well within that, so longer silence means a dead connection.
    pub read_timeout: Duration,
    /// Largest response body read into memory. Default 64 MiB: room for a full batch of 2,048
    /// large embeddings, far below what would hurt a service.
    pub max_body_bytes: usize,
    /// Largest single server-sent event of a stream. Default 4 MiB: real events are a few hundred bytes.
    pub max_event_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(600),
            read_timeout: Duration::from_secs(120),
            max_body_bytes: 64 * 1024 * 1024,
            max_event_bytes: 4 * 1024 * 1024,
        }
    }
}

impl HttpOptions {
    /// Sets [`connect_timeout`](HttpOptions::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`request_timeout`](HttpOptions::request_timeout).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`read_timeout`](HttpOptions::read_timeout).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets [`max_body_bytes`](HttpOptions::max_body_bytes).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`max_event_bytes`](HttpOptions::max_event_bytes).
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.connect_timeout.is_zero()
            || self.request_timeout.is_zero()
            || self.read_timeout.is_zero()
        {
            return Err(Error::config("HTTP timeouts must be greater than zero"));
        }
        if self.max_body_bytes == 0 || self.max_event_bytes == 0 {
            return Err(Error::config("HTTP size limits must be greater than zero"));
        }
        Ok(())
    }
}

/// A provider's HTTP client: default headers (auth marked sensitive), timeouts, limits and the key to
/// scrub from error messages. `Debug` leaves out the client, whose own `Debug` prints default headers.
#[derive(Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    pub(crate) options: HttpOptions,
    provider: String,
    key: Option<Secret>,
}

/// What the caller keeps of a response besides its body.
#[derive(Debug, Clone)]
pub(crate) struct ResponseMeta {
    pub(crate) request_id: Option<String>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.provider)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A URL for `Debug` output: user and password (`https://user:pw@host/…`) replaced by `[REDACTED]`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => format!(
            "{}[REDACTED]@{}",
            &url[..scheme_end],
            &url[scheme_end + at + 1..]
        ),
        None => url.to_owned(),
    }
}

impl Transport {
    pub(crate) fn new(
        provider: &str,
        options: HttpOptions,
        headers: HeaderMap,
        key: Option<Secret>,
    ) -> Result<Self> {
        options.validate()?;
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| {
                Error::config(format!("could not build the HTTP client: {e}"))
                    .with_provider(provider)
            })?;
        Ok(Transport {
            client,
            options,
            provider: provider.to_owned(),
            key,
        })
    }

    /// POSTs a JSON body and reads the whole (bounded) response; non-2xx statuses become errors.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
    ) -> Result<(ResponseMeta, Bytes)> {
        // Kept (a reference count, no copy) so an error can name the model the request asked for.
        let sent = Bytes::from(body);
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.options.request_timeout)
            .body(sent.clone());
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let meta = ResponseMeta {
            request_id: request_id(response.headers()),
        };
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            // Headers are only kept on the error path, where Retry-After matters.
            let headers = response.headers().clone();
            let body = self.read_body(response).await?;
            return Err(self.status_error(status, &headers, &body, Some(&sent)));
        }
        Ok((meta, self.read_body(response).await?))
    }

    /// POSTs a JSON body for a stream: waits (bounded) for the response headers and returns the response
    /// for the caller to read; non-2xx statuses become errors.
    pub(crate) async fn post_stream(
        &self,
        url: &str,
        body: Vec<u8>,
    ) -> Result<(ResponseMeta, reqwest::Response)> {
        let sent = Bytes::from(body);
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .body(sent.clone());
        let response = tokio::time::timeout(self.options.request_timeout, request.send())
            .await
            .map_err(|_| self.timeout_error("waiting for the stream to start"))?
            .map_err(|e| self.transport_error(e))?;
        let meta = ResponseMeta {
            request_id: request_id(response.headers()),
        };
        let status = response.status().as_u16();
        // A server or proxy that ignored `stream: true` answers with JSON: an error object (mapped to
        // its kind) or a whole answer (which this stream cannot pass on).
        let json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !(200..300).contains(&status) || json {
            let headers = response.headers().clone();
            let body = tokio::time::timeout(self.options.request_timeout, self.read_body(response))
                .await
                .map_err(|_| self.timeout_error("reading an error body"))??;
            if !(200..300).contains(&status) {
                return Err(self.status_error(status, &headers, &body, Some(&sent)));
            }
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            if value.get("error").is_some_and(|e| !e.is_null()) {
                let mut err = self
                    .error_context(meta.request_id)
                    .stream_error(&ErrorInfo::from_json(&value));
                if let Some(after) = retry_after(&headers, SystemTime::now()) {
                    err = err.with_retry_after(after);
                }
                return Err(err);
            }
            return Err(self.error_context(meta.request_id).decode_error(
                "the server answered a stream request with JSON instead of an event stream",
            ));
        }
        Ok((meta, response))
    }

    /// GETs a URL with a short deadline and checks for a 2xx status (health checks).
    pub(crate) async fn get_ok(&self, url: &str, timeout: Duration) -> Result<()> {
        let response = self
            .client
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let headers = response.headers().clone();
            let body = self.read_body(response).await?;
            return Err(self.status_error(status, &headers, &body, None));
        }
        self.read_body(response).await.map(drop)
    }

    /// Reads a body up to `max_body_bytes`.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Bytes> {
        let limit = self.options.max_body_bytes;
        let declared = response.content_length();
        if let Some(len) = declared {
            if len > limit as u64 {
                return Err(self.too_large(limit));
            }
            // hyper never yields more than a declared Content-Length, so the whole body fits the limit
            // and can be taken without a copy.
            return response.bytes().await.map_err(|e| self.transport_error(e));
        }
        let mut buf = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e))?
        {
            if buf.len() + chunk.len() > limit {
                return Err(self.too_large(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    }

    /// Reads the next piece of a streaming body; `None` at its end.
    pub(crate) async fn next_chunk(
        &self,
        response: &mut reqwest::Response,
    ) -> Result<Option<Bytes>> {
        response.chunk().await.map_err(|e| self.transport_error(e))
    }

    fn too_large(&self, limit: usize) -> Error {
        Error::decode(format!(
            "response body exceeds the limit of {limit} bytes (HttpOptions::max_body_bytes)"
        ))
        .with_provider(self.provider.clone())
    }

    fn timeout_error(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "no response within {:?} while {what} (HttpOptions::request_timeout)",
                self.options.request_timeout
            ),
        )
        .with_provider(self.provider.clone())
    }

    /// Maps a reqwest failure (connect, timeout, broken body) to an error without leaking a secret.
    pub(crate) fn transport_error(&self, err: reqwest::Error) -> Error {
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transport
        };
        let what = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else if err.is_body() || err.is_decode() {
            "the connection broke while reading the response"
        } else if err.is_request() {
            "the request could not be sent"
        } else {
            "HTTP transport failed"
        };
        let detail = scrub(&error_chain(&err), self.key.as_ref());
        Error::new(kind, format!("{what}: {detail}"))
            .with_provider(self.provider.clone())
            .with_source(err.without_url())
    }

    /// Maps a non-2xx response to an error. `request` is the JSON body that was sent, read only here
    /// (on the error path) for the model it named, so a rejected parameter can be explained per model.
    pub(crate) fn status_error(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        request: Option<&[u8]>,
    ) -> Error {
        let info = ErrorInfo::parse(body);
        let (kind, message) = match parameter_hint(status, &self.provider, &info, request) {
            Some(hint) => (ErrorKind::InvalidRequest, hint),
            None => (classify(Some(status), &info), info.describe()),
        };
        let message = scrub(&message, self.key.as_ref());
        let mut err = Error::new(kind, message)
            .with_status(status)
            .with_provider(self.provider.clone());
        if let Some(after) = retry_after(headers, SystemTime::now()) {
            err = err.with_retry_after(after);
        }
        if let Some(id) = request_id(headers) {
            err = err.with_request_id(id);
        }
        err
    }

    /// What a stream decoder needs to build errors like this transport does.
    pub(crate) fn error_context(&self, request_id: Option<String>) -> ErrorContext {
        ErrorContext {
            provider: self.provider.clone(),
            key: self.key.clone(),
            request_id,
        }
    }
}

/// What a stream decoder needs to turn an error object inside a stream into an [`Error`]: the provider's
/// name, the key to scrub, and the request id of the response.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorContext {
    pub(crate) provider: String,
    pub(crate) key: Option<Secret>,
    pub(crate) request_id: Option<String>,
}

impl ErrorContext {
    /// Maps an error object sent inside a stream (there is no status) to an error.
    pub(crate) fn stream_error(&self, info: &ErrorInfo) -> Error {
        let kind = classify(None, info);
        let mut err = Error::new(kind, scrub(&info.describe(), self.key.as_ref()))
            .with_provider(self.provider.clone());
        if let Some(id) = &self.request_id {
            err = err.with_request_id(id.clone());
        }
        err
    }

    /// A decode error naming the provider.
    pub(crate) fn decode_error(&self, message: impl Into<String>) -> Error {
        let mut err = Error::decode(message).with_provider(self.provider.clone());
        if let Some(id) = &self.request_id {
            err = err.with_request_id(id.clone());
        }
        err
    }
}

/// Turns the bytes of one provider's streaming body into [`StreamEvent`]s.
pub(crate) trait EventDecoder: Send + 'static {
    /// Feeds a piece of the body. Decoded events go to `out`; an error goes to `out` as the last item.
    fn push(&mut self, bytes: &[u8], out: &mut VecDeque<Result<StreamEvent>>);
    /// The body ended: `Ok` when the stream had said it was complete, else the error to report.
    fn finish(&mut self) -> Result<()>;
    /// The stream said it was complete; nothing more needs to be read.
    fn is_done(&self) -> bool;
}

struct Driver<D> {
    transport: Transport,
    response: reqwest::Response,
    decoder: D,
    pending: VecDeque<Result<StreamEvent>>,
    ended: bool,
}

/// Reads a streaming response through a decoder as a [`ChatStream`]. The first error ends the stream;
/// a body that ends before the decoder saw the end is an error, never a clean end. Dropping the stream
/// drops the response, which closes the connection and so cancels the request upstream.
pub(crate) fn event_stream<D: EventDecoder>(
    transport: Transport,
    response: reqwest::Response,
    decoder: D,
) -> ChatStream {
    let driver = Driver {
        transport,
        response,
        decoder,
        pending: VecDeque::new(),
        ended: false,
    };
    Box::pin(futures_util::stream::unfold(driver, |mut d| async move {
        loop {
            if let Some(item) = d.pending.pop_front() {
                if item.is_err() {
                    d.ended = true;
                    d.pending.clear();
                }
                return Some((item, d));
            }
            if d.ended {
                return None;
            }
            if d.decoder.is_done() {
                d.ended = true;
                // Read the rest of the body (normally just the terminating chunk) so the connection goes
                // back to the pool; a server that keeps talking after the end is cut off.
                let drain = async {
                    let mut left: usize = 64 * 1024;
                    while let Ok(Some(bytes)) = d.response.chunk().await {
                        left = left.saturating_sub(bytes.len().max(1));
                        if left == 0 {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_millis(50), drain).await;
                return None;
            }
            match d.transport.next_chunk(&mut d.response).await {
                Ok(Some(bytes)) => d.decoder.push(&bytes, &mut d.pending),
                Ok(None) => {
                    d.ended = true;
                    return match d.decoder.finish() {
                        Ok(()) => None,
                        Err(e) => Some((Err(e), d)),
                    };
                }
                Err(e) => {
                    d.ended = true;
                    return Some((Err(e), d));
                }
            }
        }
    }))
}

/// The message and every source behind it, joined: reqwest's top-level message alone rarely says why.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Builds a header value, refusing control characters with a config error that names the header but
/// never shows its value.
pub(crate) fn header_value(name: &str, value: &str, sensitive: bool) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::config(format!(
            "the value of header {name} contains invalid characters"
        ))
    })?;
    v.set_sensitive(sensitive);
    Ok(v)
}

/// Parses a header name.
pub(crate) fn header_name(name: &str) -> Result<HeaderName> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::config(format!("{name:?} is not a valid HTTP header name")))
}

/// The provider's request id: `x-request-id` (OpenAI and most compatible servers) or `request-id`
/// (Anthropic).
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::to_owned)
}

/// How long the server asked to wait: `retry-after-ms` (milliseconds, OpenAI) first, then `retry-after`
/// in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    // A server may send anything here; no value may panic, and none is believed beyond a day.
    const MAX: Duration = Duration::from_secs(24 * 3600);
    let seconds = |secs: f64| {
        (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).map_or(MAX, |d| d.min(MAX)))
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if let Some(d) = seconds(ms / 1000.0) {
            return Some(d);
        }
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires senders to use.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let mut parts = s.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    // Four-digit years only (RFC 9110), which also keeps the arithmetic below far from overflow.
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::try_from(day).ok()? - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + sec;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// What an error body said, read leniently from the shapes providers and compatible servers use:
/// `{"error":{"type","code","message"}}` (OpenAI, Anthropic under `"type":"error"`), `{"error":"text"}`
/// (Ollama), `{"detail": ...}` (FastAPI-based servers), `{"message": ...}`, or plain text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorInfo {
    pub(crate) error_type: Option<String>,
    pub(crate) code: Option<String>,
    /// The request parameter the error is about (OpenAI's `param`), when the body names one.
    pub(crate) param: Option<String>,
    pub(crate) message: String,
}

impl ErrorInfo {
    pub(crate) fn parse(body: &[u8]) -> Self {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => Self::from_json(&value),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                ErrorInfo {
                    message: truncate(text.trim(), 300),
                    ..ErrorInfo::default()
                }
            }
        }
    }

    pub(crate) fn from_json(value: &serde_json::Value) -> Self {
        let text = |v: Option<&serde_json::Value>| -> Option<String> {
            match v? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let error = value.get("error");
        match error {
            Some(e) if e.is_object() => ErrorInfo {
                error_type: text(e.get("type")),
                code: text(e.get("code")),
                param: text(e.get("param")),
                message: truncate(&text(e.get("message")).unwrap_or_default(), 1000),
            },
            Some(serde_json::Value::String(s)) => ErrorInfo {
                message: truncate(s, 1000),
                ..ErrorInfo::default()
            },
            _ => ErrorInfo {
                message: truncate(
                    &text(value.get("detail"))
                        .or_else(|| text(value.get("message")))
                        .unwrap_or_else(|| value.to_string()),
                    1000,
                ),
                ..ErrorInfo::default()
            },
        }
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for part in [&self.error_type, &self.code].into_iter().flatten() {
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(part);
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        if self.message.is_empty() {
            out.push_str("(no message)");
        } else {
            out.push_str(&self.message);
        }
        out
    }
}

/// The sampling parameters a model may refuse; the catalog's `sampling` setting leaves them out.
const SAMPLING_PARAMS: [&str; 5] = [
    "temperature",
    "top_p",
    "top_k",
    "presence_penalty",
    "frequency_penalty",
];

/// How a provider refused one request parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rejection {
    /// Not accepted at all (OpenAI `unsupported_parameter`, Anthropic "is deprecated for this model");
    /// `instead` is the parameter the provider named in its place.
    Parameter {
        param: String,
        instead: Option<String>,
    },
    /// Accepted, but not with this value (OpenAI `unsupported_value`); `default_only` when the provider
    /// said only the default is allowed.
    Value { param: String, default_only: bool },
    /// Two parameters that may not be sent together (Anthropic: `temperature` and `top_p`).
    Together { first: String, second: String },
}

impl Rejection {
    /// Reads a parameter refusal from an error body, in the words OpenAI and Anthropic use; `None` for
    /// every other error.
    fn read(info: &ErrorInfo) -> Option<Rejection> {
        let code = info.code.as_deref().unwrap_or("").to_ascii_lowercase();
        let message = info.message.as_str();
        let lower = message.to_ascii_lowercase();
        let param = || {
            info.param
                .clone()
                .filter(|p| is_identifier(p))
                .or_else(|| quoted(message, '\''))
        };
        if code == "unsupported_parameter" || lower.starts_with("unsupported parameter") {
            let instead = lower
                .find("use '")
                .and_then(|i| quoted(&message[i..], '\''));
            return Some(Rejection::Parameter {
                param: param()?,
                instead,
            });
        }
        if code == "unsupported_value" || lower.starts_with("unsupported value") {
            return Some(Rejection::Value {
                param: param()?,
                default_only: lower.contains("only the default"),
            });
        }
        if let Some(at) = lower.find("is deprecated for this model") {
            let word = message[..at].split_whitespace().last()?;
            let param = word.trim_matches(['`', '\'', '"']);
            return is_identifier(param).then(|| Rejection::Parameter {
                param: param.to_owned(),
                instead: None,
            });
        }
        if lower.contains("cannot both be specified") {
            let mut names = message
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|n| is_identifier(n));
            let (first, second) = (names.next()?, names.next()?);
            return Some(Rejection::Together {
                first: first.to_owned(),
                second: second.to_owned(),
            });
        }
        None
    }
}

/// A parameter name as providers write them: ASCII letters, digits and `_`, at most 64 characters.
fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The first `q`-quoted identifier in `s` (`'max_tokens'` in "Unsupported parameter: 'max_tokens' is …").
fn quoted(s: &str, q: char) -> Option<String> {
    let mut parts = s.split(q);
    parts.next()?;
    parts.next().filter(|p| is_identifier(p)).map(str::to_owned)
}

/// The `model` a JSON request body named, read on the error path only.
fn request_model(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ModelOnly {
        model: Option<String>,
    }
    let model = serde_json::from_slice::<ModelOnly>(body).ok()?.model?;
    Some(truncate(&model, 200))
}

/// The message for a 400 that refuses a request parameter: which parameter, for which model, and the
/// model-catalog setting that makes the crate shape it away; the provider's own words follow. `None`
/// for every other error, which keeps its message.
fn parameter_hint(
    status: u16,
    provider: &str,
    info: &ErrorInfo,
    request: Option<&[u8]>,
) -> Option<String> {
    // OpenAI and Anthropic answer 400; FastAPI-based compatible servers (vLLM) may answer 422.
    if !matches!(status, 400 | 422) {
        return None;
    }
    let rejection = Rejection::read(info)?;
    let model = request.and_then(request_model);
    let model = model
        .as_deref()
        .map_or_else(|| "the model called".to_owned(), |m| format!("model `{m}`"));
    let catalog = |setting: &str| {
        format!(
            "add the model to the model catalog under provider `{provider}` with `{setting}` (or update \
             the crate: the built-in catalog shapes this for the models it knows)"
        )
    };
    let sampling = |p: &str| SAMPLING_PARAMS.contains(&p);
    let (param, advice) = match &rejection {
        Rejection::Parameter { param, .. } if param == "max_tokens" => (
            param,
            format!(
                "the model wants `max_completion_tokens`; {}",
                catalog("output_tokens_param = \"max_completion_tokens\"")
            ),
        ),
        Rejection::Parameter { param, .. } if param == "max_completion_tokens" => (
            param,
            format!(
                "the model wants `max_tokens`; {}",
                catalog("output_tokens_param = \"max_tokens\"")
            ),
        ),
        Rejection::Parameter { param, .. } if sampling(param) => (
            param,
            format!(
                "the model takes no sampling parameters, not even at their defaults; {}",
                catalog("sampling = \"rejected\"")
            ),
        ),
        Rejection::Value {
            param,
            default_only,
        } if sampling(param) => (
            param,
            if *default_only {
                format!(
                    "the model accepts only the default value; {}",
                    catalog("sampling = \"default_only\"")
                )
            } else {
                format!(
                    "the model does not accept this value; {}",
                    catalog("sampling = \"default_only\"")
                )
            },
        ),
        Rejection::Parameter { param, instead } => (
            param,
            match instead {
                Some(other) => {
                    format!("the model wants `{other}`; leave `{param}` out of the request")
                }
                None => format!("the model does not take it; leave `{param}` out of the request"),
            },
        ),
        Rejection::Value { param, .. } => (
            param,
            format!("the model does not accept this value; leave `{param}` out or change it"),
        ),
        Rejection::Together { first, second } => {
            return Some(format!(
                "{provider} rejected `{first}` together with `{second}` for {model}: the model takes only \
                 one of them; set only one in the request [{}]",
                info.describe()
            ));
        }
    };
    Some(format!(
        "{provider} rejected `{param}` for {model}: {advice} [{}]",
        info.describe()
    ))
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The error kind for a status (absent for errors inside a stream) and what the body said. What the body
/// names wins over the status: OpenAI sends both rate limits and exhausted quota as 429.
pub(crate) fn classify(status: Option<u16>, info: &ErrorInfo) -> ErrorKind {
    let t = info
        .error_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let c = info.code.as_deref().unwrap_or("").to_ascii_lowercase();
    let m = info.message.to_ascii_lowercase();
    let says = |needle: &str| t == needle || c == needle;
    if says("insufficient_quota")
        || says("billing_hard_limit_reached")
        || m.contains("exceeded your current quota")
    {
        return ErrorKind::QuotaExhausted;
    }
    if says("overloaded_error") || status == Some(529) {
        return ErrorKind::Overloaded;
    }
    if says("context_length_exceeded")
        || m.contains("maximum context length")
        || m.contains("prompt is too long")
        || m.contains("context window")
        || m.contains("exceed context limit")
    {
        return ErrorKind::ContextLengthExceeded;
    }
    if says("content_filter")
        || says("content_policy_violation")
        || m.contains("content management policy")
        || m.contains("content filter")
    {
        return ErrorKind::ContentFiltered;
    }
    if says("rate_limit_error")
        || says("rate_limit_exceeded")
        || (says("tokens") && status == Some(429))
    {
        return ErrorKind::RateLimited;
    }
    if says("authentication_error") || says("permission_error") || says("invalid_api_key") {
        return ErrorKind::Auth;
    }
    if says("not_found_error") || says("model_not_found") {
        return ErrorKind::NotFound;
    }
    if says("timeout_error") {
        return ErrorKind::Timeout;
    }
    if says("api_error") || says("server_error") {
        return ErrorKind::Server;
    }
    match status {
        Some(429) => ErrorKind::RateLimited,
        Some(401 | 403) => ErrorKind::Auth,
        Some(404) => ErrorKind::NotFound,
        Some(408) => ErrorKind::Timeout,
        Some(503) => ErrorKind::Overloaded,
        Some(s) if (500..600).contains(&s) => ErrorKind::Server,
        Some(s) if (400..500).contains(&s) => ErrorKind::InvalidRequest,
        Some(_) => ErrorKind::Server,
        // An error object inside a stream that names no known type: the server failed mid-answer.
        None if says("invalid_request_error") => ErrorKind::InvalidRequest,
        None => ErrorKind::Server,
    }
}

/// Removes the API key, and anything shaped like one (`sk-...`), from a message. Providers echo parts of
/// a rejected key ("Incorrect API key provided: sk-abc***xyz"); none of it belongs in logs.
pub(crate) fn scrub(message: &str, key: Option<&Secret>) -> String {
    let mut out = match key {
        Some(k) if k.expose().len() >= 4 => message.replace(k.expose(), "[REDACTED]"),
        _ => message.to_owned(),
    };
    let mut from = 0;
    while let Some(pos) = out[from..].find("sk-") {
        let start = from + pos;
        let boundary = start == 0 || !out[..start].ends_with(|c: char| c.is_ascii_alphanumeric());
        let end = out[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.')))
            .map_or(out.len(), |i| start + i);
        if boundary && end - start > 6 {
            out.replace_range(start..end, "sk-[REDACTED]");
            from = start + "sk-[REDACTED]".len();
        } else {
            from = start + 3;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(header_name(k).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "7"), ("retry-after-ms", "1500")]),
                now
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")]),
                now
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:00 GMT")]),
                now
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        // Absurd values never panic and are capped at a day.
        let day = Some(Duration::from_secs(86_400));
        assert_eq!(retry_after(&headers(&[("retry-after", "1e30")]), now), day);
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "1e300")]), now),
            day
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "inf")]), now), None);
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 999999999999 08:49:37 GMT")]),
                now
            ),
            None
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]),
                now
            ),
            day
        );
    }

    #[test]
    fn classification_table() {
        let openai = |t: &str, c: Option<&str>, m: &str| {
            ErrorInfo::parse(
                serde_json::json!({"error": {"type": t, "code": c, "message": m, "param": null}})
                    .to_string()
                    .as_bytes(),
            )
        };
        let anthropic = |t: &str, m: &str| {
            ErrorInfo::parse(
                serde_json::json!({"type": "error", "error": {"type": t, "message": m}})
                    .to_string()
                    .as_bytes(),
            )
        };
        use ErrorKind::*;
        let cases = [
            (
                Some(429),
                openai(
                    "requests",
                    Some("rate_limit_exceeded"),
                    "Rate limit reached",
                ),
                RateLimited,
            ),
            (
                Some(429),
                openai(
                    "insufficient_quota",
                    Some("insufficient_quota"),
                    "You exceeded your current quota",
                ),
                QuotaExhausted,
            ),
            (
                Some(529),
                anthropic("overloaded_error", "Overloaded"),
                Overloaded,
            ),
            (
                None,
                anthropic("overloaded_error", "Overloaded"),
                Overloaded,
            ),
            (Some(503), ErrorInfo::parse(b"<html>503</html>"), Overloaded),
            (
                Some(400),
                openai(
                    "invalid_request_error",
                    Some("context_length_exceeded"),
                    "This model's maximum context length is 8192 tokens",
                ),
                ContextLengthExceeded,
            ),
            (
                Some(400),
                anthropic(
                    "invalid_request_error",
                    "prompt is too long: 210000 tokens > 200000 maximum",
                ),
                ContextLengthExceeded,
            ),
            (
                Some(400),
                openai(
                    "invalid_request_error",
                    Some("content_filter"),
                    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
                ),
                ContentFiltered,
            ),
            (
                Some(401),
                openai(
                    "invalid_request_error",
                    Some("invalid_api_key"),
                    "Incorrect API key",
                ),
                Auth,
            ),
            (
                Some(401),
                anthropic("authentication_error", "invalid x-api-key"),
                Auth,
            ),
            (Some(403), anthropic("permission_error", "no access"), Auth),
            (
                Some(404),
                anthropic("not_found_error", "model: x"),
                NotFound,
            ),
            (
                Some(404),
                ErrorInfo::parse(br#"{"error":"model 'llama9' not found"}"#),
                NotFound,
            ),
            (
                Some(400),
                openai("invalid_request_error", None, "bad param"),
                InvalidRequest,
            ),
            (
                Some(422),
                ErrorInfo::parse(br#"{"detail":[{"msg":"field required"}]}"#),
                InvalidRequest,
            ),
            (Some(500), anthropic("api_error", "Internal"), Server),
            (Some(502), ErrorInfo::parse(b"Bad Gateway"), Server),
            (Some(504), anthropic("timeout_error", "slow"), Timeout),
            (
                None,
                openai("server_error", None, "The server had an error"),
                Server,
            ),
            (None, ErrorInfo::default(), Server),
        ];
        for (status, info, kind) in cases {
            assert_eq!(classify(status, &info), kind, "{status:?} {info:?}");
        }
    }

    #[test]
    fn parameter_refusals_are_read() {
        let openai = |code: &str, param: Option<&str>, m: &str| {
            ErrorInfo::parse(
                serde_json::json!({"error": {"type": "invalid_request_error", "code": code,
                    "param": param, "message": m}})
                .to_string()
                .as_bytes(),
            )
        };
        let anthropic = |m: &str| {
            ErrorInfo::parse(
                serde_json::json!({"type": "error", "error": {"type": "invalid_request_error", "message": m}})
                    .to_string()
                    .as_bytes(),
            )
        };
        let cases = [
            (
                openai(
                    "unsupported_parameter",
                    Some("max_tokens"),
                    "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                ),
                Some(Rejection::Parameter {
                    param: "max_tokens".into(),
                    instead: Some("max_completion_tokens".into()),
                }),
            ),
            // A gateway that keeps the message but drops `param` and `code`.
            (
                openai(
                    "",
                    None,
                    "Unsupported parameter: 'max_tokens' is not supported with this model.",
                ),
                Some(Rejection::Parameter {
                    param: "max_tokens".into(),
                    instead: None,
                }),
            ),
            (
                openai(
                    "unsupported_value",
                    Some("temperature"),
                    "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.",
                ),
                Some(Rejection::Value {
                    param: "temperature".into(),
                    default_only: true,
                }),
            ),
            (
                anthropic("`temperature` is deprecated for this model."),
                Some(Rejection::Parameter {
                    param: "temperature".into(),
                    instead: None,
                }),
            ),
            (
                anthropic("top_k is deprecated for this model."),
                Some(Rejection::Parameter {
                    param: "top_k".into(),
                    instead: None,
                }),
            ),
            (
                anthropic(
                    "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
                ),
                Some(Rejection::Together {
                    first: "temperature".into(),
                    second: "top_p".into(),
                }),
            ),
            (anthropic("max_tokens: Field required"), None),
            (
                openai(
                    "context_length_exceeded",
                    Some("messages"),
                    "This model's maximum context length is 8192 tokens",
                ),
                None,
            ),
            (
                openai("unsupported_parameter", Some("max tokens!"), "Unsupported"),
                None,
            ),
        ];
        for (info, want) in cases {
            assert_eq!(Rejection::read(&info), want, "{info:?}");
        }
    }

    #[test]
    fn parameter_hints_name_parameter_model_and_setting() {
        let body = br#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#;
        let info = ErrorInfo::parse(body);
        let request = br#"{"model":"o3-2025-04-16","messages":[],"max_tokens":500}"#;
        let hint = parameter_hint(400, "openai", &info, Some(request)).unwrap();
        assert!(
            hint.starts_with(
                "openai rejected `max_tokens` for model `o3-2025-04-16`: the model wants \
                 `max_completion_tokens`; add the model to the model catalog under provider `openai` \
                 with `output_tokens_param = \"max_completion_tokens\"`"
            ),
            "{hint}"
        );
        assert!(
            hint.contains("Unsupported parameter: 'max_tokens'"),
            "{hint}"
        );
        // Without the request body the model is not named, but the hint stays.
        let hint = parameter_hint(400, "openai", &info, None).unwrap();
        assert!(hint.contains("for the model called:"), "{hint}");
        // Only client errors get a hint.
        assert_eq!(parameter_hint(500, "openai", &info, Some(request)), None);
        assert_eq!(request_model(b"not json"), None);
        assert_eq!(request_model(br#"{"messages":[]}"#), None);
    }

    #[test]
    fn lenient_error_bodies() {
        assert_eq!(ErrorInfo::parse(br#"{"error":"boom"}"#).message, "boom");
        assert_eq!(ErrorInfo::parse(br#"{"detail":"nope"}"#).message, "nope");
        assert_eq!(ErrorInfo::parse(br#"{"message":"m"}"#).message, "m");
        assert_eq!(ErrorInfo::parse(b"plain").message, "plain");
        let long = "x".repeat(5000);
        assert!(ErrorInfo::parse(long.as_bytes()).message.chars().count() <= 301);
        let info = ErrorInfo::parse(br#"{"error":{"type":"t","code":429,"message":"m"}}"#);
        assert_eq!(info.code.as_deref(), Some("429"));
    }

    #[test]
    fn keys_are_scrubbed() {
        let key = Secret::new("sk-proj-abcdefghijklmnop");
        let m = scrub(
            "Incorrect API key provided: sk-proj-abcdefghijklmnop. Also sk-abc***mnop and task-force sk-",
            Some(&key),
        );
        assert!(!m.contains("abcdefghijklmnop"), "{m}");
        assert!(!m.contains("sk-abc***mnop"), "{m}");
        assert!(m.contains("task-force"), "{m}");
        let other = Secret::new("plain-key-123456");
        assert_eq!(
            scrub("bad key plain-key-123456", Some(&other)),
            "bad key [REDACTED]"
        );
    }

    #[test]
    fn urls_lose_their_credentials_in_debug() {
        assert_eq!(
            redact_url("https://user:pw@gw.example/v1"),
            "https://[REDACTED]@gw.example/v1"
        );
        assert_eq!(
            redact_url("http://h:8080/v1?a=b@c"),
            "http://h:8080/v1?a=b@c"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(SystemTime::UNIX_EPOCH)
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("garbage"), None);
    }
}
