//! Metric and attribute names, in one place. OpenTelemetry GenAI semantic-convention names where they
//! exist; the crate's own `tfa.*` names for what they do not cover. Labels stay low-cardinality: provider,
//! model, operation, outcome kinds; never prompt text, ids or tenants.

/// Histogram, seconds: duration of a client operation (chat, embeddings, store operations use
/// [`STORE_OPERATION_DURATION`]).
pub const OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Histogram, tokens: tokens used, labelled by [`TOKEN_TYPE`] (`input` / `output`).
pub const TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Histogram, seconds: time from the request to the first chunk of a stream.
pub const TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.operation.time_to_first_chunk";

/// Attribute: `chat` or `embeddings`.
pub const OPERATION_NAME: &str = "gen_ai.operation.name";
/// Attribute: the provider (`openai`, `anthropic`, ...).
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// Attribute: the model the request asked for.
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
/// Attribute: the model the provider says answered.
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Attribute: `input` or `output`.
pub const TOKEN_TYPE: &str = "gen_ai.token.type";
/// Attribute: the [`ErrorKind`](crate::ErrorKind) name of a failure (`rate_limited`, ...).
pub const ERROR_TYPE: &str = "error.type";

/// Counter: calls made, by provider, model, operation.
pub const REQUESTS: &str = "tfa.client.requests";
/// Counter: calls that failed, by provider, model, operation, [`ERROR_TYPE`].
pub const ERRORS: &str = "tfa.client.errors";
/// US dollars spent on answered calls, when known (cache hits excluded). A gauge that only ever increases,
/// because the `metrics` facade's counters take whole numbers.
pub const COST_USD: &str = "tfa.client.cost";
/// Gauge: calls (and open streams) in flight, kept by the `Metrics` wrapper.
pub const IN_FLIGHT: &str = "tfa.client.in_flight";
/// Gauge: calls (and open streams) a `Drain` counts in flight; its own series, so it never adds into
/// [`IN_FLIGHT`] when both wrappers are stacked.
pub const DRAIN_IN_FLIGHT: &str = "tfa.drain.in_flight";
/// Counter: responses served from the cache.
pub const CACHE_HITS: &str = "tfa.cache.hits";
/// Counter: cacheable requests not found in the cache.
pub const CACHE_MISSES: &str = "tfa.cache.misses";
/// Counter: retries made (not counting first attempts).
pub const RETRIES: &str = "tfa.retry.retries";
/// Counter: moves to the next provider of a fallback chain.
pub const FALLBACKS: &str = "tfa.fallback.switches";
/// Histogram, seconds: time spent waiting for a rate limit.
pub const RATE_LIMIT_WAIT: &str = "tfa.rate_limit.wait";
/// Counter: calls refused by a rate limit.
pub const RATE_LIMIT_REFUSALS: &str = "tfa.rate_limit.refusals";
/// Gauge: circuit state, 0 closed, 1 half-open, 2 open.
pub const CIRCUIT_STATE: &str = "tfa.circuit.state";
/// Histogram, seconds: duration of a vector or conversation store operation, by `tfa.store.operation`.
pub const STORE_OPERATION_DURATION: &str = "tfa.store.operation.duration";
/// Attribute: the store operation (`upsert`, `search`, `append`, `load`, ...).
pub const STORE_OPERATION: &str = "tfa.store.operation";
/// Attribute: which kind of store an operation ran on (`vector`, `conversation`, `prompt`).
pub const STORE_KIND: &str = "tfa.store.kind";
/// Attribute: how a store operation ended (`ok`, `error`, `cancelled`).
pub const OUTCOME: &str = "tfa.outcome";
