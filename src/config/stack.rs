//! The recommended stack, built from [`Settings`] in one call (factors II, III, IV, VI, IX and X):
//! providers for each model role wrapped in the documented order, the fallback chain, prices, cache,
//! logging, metrics and drain, plus the stores chosen by URL scheme and the prompt folder.

use std::sync::Arc;

use super::{ModelConfig, ModelRole, Profile, ProviderKind, Settings};
use crate::conversation::{ConversationStore, MemoryConversationStore};
use crate::layer::cache::CacheConfig;
use crate::layer::circuit::CircuitConfig;
use crate::layer::defaults::RequestDefaults;
use crate::layer::drain::DrainHandle;
use crate::layer::fallback::{Fallback, FallbackConfig};
use crate::layer::logging::LoggingConfig;
use crate::layer::metrics::MetricsConfig;
use crate::layer::preflight::ContextCheckConfig;
use crate::layer::rate_limit::RateLimitConfig;
use crate::layer::retry::RetryConfig;
use crate::layer::{LayerExt, LlmStackExt};
use crate::llm::catalog::Catalog;
use crate::llm::{LlmProvider, LlmProviderExt, PriceTable};
use crate::prompt::{DirPromptRegistry, MemoryPromptRegistry, PromptRegistry};
use crate::vector::{MemoryVectorStore, Metric, VectorStore};
use crate::{Error, Result};

/// The backing services of an AI service, built from [`Settings`] by [`Settings::build_services`].
///
/// Every field is a trait object, so a host keeps it in its state without naming the stack's types.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::config::{ModelConfig, ModelRole, ProviderKind, Settings};
/// use twelve_factor_ai::llm::LlmProviderExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// // A local OpenAI-compatible server needs no key; nothing is called until the first request.
/// let settings = Settings::builder()
///     .role(ModelConfig::PRIMARY, ModelRole::new(ProviderKind::Ollama, "llama3.1:8b-instruct-q4_0"))
///     .prompts_dir("prompts")
///     .build()?;
/// let services = settings.build_services()?;
/// assert_eq!(services.llm.model(), "llama3.1:8b-instruct-q4_0");
/// assert!(services.prompts.list().await?.len() >= 4);
/// let report = services.drain.shutdown(Duration::from_secs(1)).await;
/// assert_eq!(report.still_running, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Services {
    /// The chat stack: the primary role, then the fallback roles, with every wrapper.
    pub llm: Arc<dyn LlmProvider>,
    /// The embedding stack of the `embedding` role, when the config has one.
    pub embedder: Option<Arc<dyn LlmProvider>>,
    /// Conversation state, from `CONVERSATION_STORE_URL` (memory only outside production).
    pub conversations: Arc<dyn ConversationStore>,
    /// The vector store, from `VECTOR_STORE_URL`, when one is configured (or, in dev, in memory when the
    /// embedding role states its dimensions).
    pub vectors: Option<Arc<dyn VectorStore>>,
    /// The prompts, loaded from the prompts folder.
    pub prompts: Arc<dyn PromptRegistry>,
    /// Starts a graceful shutdown of `llm` and `embedder` together.
    pub drain: DrainHandle,
}

/// The roles of the fallback chain, in order: `primary`, `fallback`, then every other role whose name
/// starts with `fallback` in name order (`fallback_2`, `fallback_3`, ...).
fn chain_roles(models: &ModelConfig) -> Vec<(&str, &ModelRole)> {
    let mut chain: Vec<(&str, &ModelRole)> = Vec::new();
    if let Some(primary) = models.role(ModelConfig::PRIMARY) {
        chain.push((ModelConfig::PRIMARY, primary));
    }
    let mut fallbacks: Vec<(&str, &ModelRole)> = models
        .roles()
        .filter(|(name, _)| name.starts_with("fallback"))
        .collect();
    fallbacks.sort_by_key(|(name, _)| (*name != "fallback", *name));
    chain.extend(fallbacks);
    chain
}

impl Settings {
    /// Builds everything: [`build_llm`](Self::build_llm), the embedder, the stores and the prompts, with
    /// one [`DrainHandle`] for both model stacks.
    ///
    /// # Errors
    /// The first error of the steps below.
    pub fn build_services(&self) -> Result<Services> {
        let drain = DrainHandle::new();
        Ok(Services {
            llm: self.build_llm(&drain)?,
            embedder: self.build_embedder(&drain)?,
            conversations: self.build_conversation_store()?,
            vectors: self.build_vector_store()?,
            prompts: self.build_prompt_registry()?,
            drain,
        })
    }

    /// The recommended chat stack (see [`crate::layer`] for the order and why):
    ///
    /// ```text
    /// Drain → Metrics → Logging → Cache (when ENABLE_CACHING) → Cost (when prices are known)
    ///   → Fallback over the chain roles, each: Defaults → ContextCheck → RateLimit (when rpm/tpm)
    ///     → Retry → CircuitBreaker → Timeout → the provider (shaped by the model catalog)
    /// ```
    ///
    /// The chain is `primary`, `fallback`, then other `fallback*` roles in name order. Each role's
    /// temperature and max tokens fill in requests that leave them unset (`Defaults`), so they reach the
    /// rate limiter's estimate and the context check too. The context check (on unless a role sets
    /// `context_check = false`) refuses, before sending, a request the model's context window cannot
    /// hold; the providers shape each request by the catalog ([`Settings::catalog`]: the built-in one and
    /// the config's `[[catalog]]` entries) with the role's `shaping` policy. Prices come from each role's
    /// `price`. The pin policy of the profile is applied first.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config): no `primary` role, a floating model under a
    /// `deny` pin policy, a role whose provider needs an API key that its variable does not hold, a
    /// provider whose cargo feature is off, or a bad value in a role.
    pub fn build_llm(&self, drain: &DrainHandle) -> Result<Arc<dyn LlmProvider>> {
        let models = self.models();
        models.check_pins(self.pin_policy())?;
        let chain = chain_roles(models);
        if chain.is_empty() {
            return Err(Error::config(
                "no `primary` model role: add [models.primary] to the model config or set LLM_PROVIDER and MODEL",
            ));
        }
        let mut prices = PriceTable::new();
        let mut providers = Vec::with_capacity(chain.len());
        let mut priced_by: Vec<(&str, &str)> = Vec::new(); // (model, role)
        for (name, role) in &chain {
            if let Some(price) = role.price() {
                // One table keyed by model id: two roles that price one model differently would
                // silently share the last price.
                if let Some(earlier) = prices.insert(role.model(), *price) {
                    if earlier != *price {
                        let other = priced_by
                            .iter()
                            .find(|(model, _)| *model == role.model())
                            .map_or("another role", |(_, role)| *role);
                        return Err(Error::config(format!(
                            "model roles `{other}` and `{name}` both call `{}` with different prices; give them the same price",
                            role.model()
                        )));
                    }
                }
                priced_by.push((role.model(), name));
            }
            providers.push(self.role_stack(name, role, false)?);
        }
        let mut llm: Arc<dyn LlmProvider> = if providers.len() == 1 {
            providers.remove(0)
        } else {
            Fallback::new(providers, FallbackConfig::default())?.boxed()
        };
        if prices.is_empty() {
            tracing::warn!(
                "no model role has a price: cost_usd stays unknown (add `price = {{ input = .., output = .. }}` to the roles)"
            );
        } else {
            llm = llm.with_prices(prices).boxed();
        }
        if self.enable_caching() {
            let cache = CacheConfig::builder().ttl(self.cache_ttl()).build()?;
            llm = llm.with_cache(cache).boxed();
        }
        self.observed(llm, drain)
    }

    /// The embedding stack of the `embedding` role (an OpenAI or OpenAI-compatible provider with timeout,
    /// circuit breaker, retry, rate limit, prices, logging, metrics and drain), or `None` without one.
    ///
    /// # Errors
    /// As [`build_llm`](Self::build_llm) for that role; an Anthropic embedding role is a config error
    /// (Anthropic has no embeddings API).
    pub fn build_embedder(&self, drain: &DrainHandle) -> Result<Option<Arc<dyn LlmProvider>>> {
        let Some(role) = self.models().role("embedding") else {
            return Ok(None);
        };
        if role.provider() == ProviderKind::Anthropic {
            return Err(Error::config(
                "model role `embedding` uses provider `anthropic`, which has no embeddings API; use openai or an OpenAI-compatible server",
            ));
        }
        let mut llm = self.role_stack("embedding", role, true)?;
        if let Some(price) = role.price() {
            llm = llm
                .with_prices(PriceTable::new().with_price(role.model(), *price))
                .boxed();
        }
        Ok(Some(self.observed(llm, drain)?))
    }

    /// The conversation store named by `CONVERSATION_STORE_URL` (factor VI).
    ///
    /// | URL | store |
    /// |---|---|
    /// | `memory://` | [`MemoryConversationStore`]; refused in `prod` (state would die with the process) |
    /// | `redis://`, `rediss://`, `postgres://`, `postgresql://` | not in this release: a config error saying so, except in `dev`, which keeps conversations in memory with a warning (so a service's `REDIS_URL` or `DATABASE_URL` does not stop it from starting) |
    /// | unset | in memory with a warning in `dev`; an error in every other profile |
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) as the table says, or for an unknown scheme.
    pub fn build_conversation_store(&self) -> Result<Arc<dyn ConversationStore>> {
        let profile = self.profile();
        let dev = *profile == Profile::Dev;
        let memory = || -> Arc<dyn ConversationStore> { Arc::new(MemoryConversationStore::new()) };
        let Some(url) = self.conversation_store_url() else {
            if dev {
                tracing::warn!(
                    "no CONVERSATION_STORE_URL (or REDIS_URL / DATABASE_URL): conversations are kept in memory and lost on restart (dev profile only)"
                );
                return Ok(memory());
            }
            return Err(Error::config(format!(
                "profile `{}` needs a conversation store: set CONVERSATION_STORE_URL (or REDIS_URL / DATABASE_URL) to a redis:// or postgres:// URL",
                profile.name()
            )));
        };
        // Name the variable the URL came from: CONVERSATION_STORE_URL falls back to REDIS_URL, then
        // DATABASE_URL, which many services set for other reasons.
        let source = self.conversation_store_url_source();
        match url.scheme() {
            Some("memory") => {
                if profile.is_prod() {
                    return Err(Error::config(format!(
                        "{source}=memory:// is refused in the prod profile: conversation state must outlive the process (factor VI); use redis:// or postgres://"
                    )));
                }
                tracing::warn!(
                    "conversations are kept in memory ({source}=memory://) and lost on restart"
                );
                Ok(memory())
            }
            Some(scheme @ ("redis" | "rediss" | "postgres" | "postgresql")) => {
                if dev {
                    // A service's REDIS_URL or DATABASE_URL must not stop it from starting in dev
                    // while these stores are not here yet.
                    tracing::warn!(
                        url = %url.redacted(),
                        "{source}: the {scheme} conversation store is not in this release of twelve-factor-ai; conversations are kept in memory and lost on restart (dev profile only)"
                    );
                    return Ok(memory());
                }
                Err(Error::config(format!(
                    "{source}={}: the {scheme} conversation store is not in this release of twelve-factor-ai; outside production use CONVERSATION_STORE_URL=memory:// until it lands",
                    url.redacted()
                )))
            }
            _ => Err(Error::config(format!(
                "{source}={} has an unknown scheme for a conversation store; expected memory://, redis://, rediss://, postgres:// or postgresql://",
                url.redacted()
            ))),
        }
    }

    /// The vector store named by `VECTOR_STORE_URL`: `memory://` is a [`MemoryVectorStore`] (cosine) of
    /// the embedding role's `dimensions`; unset gives `None`, except in `dev` with an embedding role that
    /// states its dimensions, which gets one in memory.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for `memory://` without an embedding role's
    /// `dimensions`, for the vector databases of later releases (pgvector, Chroma), or an unknown scheme.
    pub fn build_vector_store(&self) -> Result<Option<Arc<dyn VectorStore>>> {
        let dimensions = self
            .models()
            .role("embedding")
            .and_then(ModelRole::dimensions);
        let memory = |dimensions: u32| -> Result<Arc<dyn VectorStore>> {
            let dimension = usize::try_from(dimensions)
                .map_err(|_| Error::config("embedding dimensions do not fit this platform"))?;
            Ok(Arc::new(MemoryVectorStore::new(dimension, Metric::Cosine)?))
        };
        let Some(url) = self.vector_store_url() else {
            return match dimensions {
                Some(d) if *self.profile() == Profile::Dev => Ok(Some(memory(d)?)),
                _ => Ok(None),
            };
        };
        match url.scheme() {
            Some("memory") => match dimensions {
                Some(d) => Ok(Some(memory(d)?)),
                None => Err(Error::config(
                    "VECTOR_STORE_URL=memory:// needs the embedding role's `dimensions` (for example 1536 for text-embedding-3-small)",
                )),
            },
            Some(scheme @ ("postgres" | "postgresql" | "chroma" | "http" | "https")) => {
                Err(Error::config(format!(
                    "VECTOR_STORE_URL={}: the {scheme} vector store is not in this release of twelve-factor-ai; use memory:// until it lands",
                    url.redacted()
                )))
            }
            _ => Err(Error::config(format!(
                "VECTOR_STORE_URL={} has an unknown scheme; expected memory://",
                url.redacted()
            ))),
        }
    }

    /// The prompts of the prompts folder (`PROMPTS_DIR`, default `prompts`), compiled once. A folder that
    /// does not exist gives an empty registry with a warning in `dev`, and an error elsewhere.
    ///
    /// # Errors
    /// Every bad prompt file, as [`DirPromptRegistry::load`] reports them; a missing folder outside dev.
    pub fn build_prompt_registry(&self) -> Result<Arc<dyn PromptRegistry>> {
        let dir = self.prompts_dir();
        if !dir.exists() {
            if *self.profile() == Profile::Dev {
                tracing::warn!(
                    dir = %dir.display(),
                    "the prompts folder does not exist: no prompts are loaded (set PROMPTS_DIR)"
                );
                return Ok(Arc::new(MemoryPromptRegistry::new()));
            }
            return Err(Error::config(format!(
                "the prompts folder `{}` does not exist; set PROMPTS_DIR",
                dir.display()
            )));
        }
        Ok(Arc::new(DirPromptRegistry::load(dir)?))
    }

    /// Logging, metrics and drain around a built stack.
    fn observed(
        &self,
        llm: Arc<dyn LlmProvider>,
        drain: &DrainHandle,
    ) -> Result<Arc<dyn LlmProvider>> {
        let logging = LoggingConfig::builder()
            .content(self.log_content())
            .build()?;
        Ok(llm
            .with_logging(logging)
            .with_metrics(MetricsConfig::default())
            .with_drain_handle(drain.clone())
            .boxed())
    }

    /// One role's provider with its own stack: Defaults → ContextCheck (chat roles, unless the role turns
    /// it off) → RateLimit → Retry → CircuitBreaker → Timeout.
    fn role_stack(
        &self,
        name: &str,
        role: &ModelRole,
        embedding: bool,
    ) -> Result<Arc<dyn LlmProvider>> {
        let provider = self.provider(name, role, embedding)?;
        let mut llm = provider
            .with_timeout(role.timeout_config()?)
            .with_circuit_breaker(CircuitConfig::default())
            .with_retry(RetryConfig::default())
            .boxed();
        if role.rpm().is_some() || role.tpm().is_some() {
            let mut limits = RateLimitConfig::builder().name(format!("{name}:{}", role.model()));
            if let Some(rpm) = role.rpm() {
                limits = limits.requests_per_minute(rpm);
            }
            if let Some(tpm) = role.tpm() {
                limits = limits.tokens_per_minute(tpm);
            }
            llm = llm.with_rate_limit(limits.build()?).boxed();
        }
        if !embedding && role.context_check() {
            // Above the rate limit, so a call refused here reserves no tokens.
            let mut check = ContextCheckConfig::new().catalog(self.catalog());
            if role.provider() == ProviderKind::Azure {
                check = check.also_as(ProviderKind::OpenAi.as_str());
            }
            llm = llm.with_context_check(check).boxed();
        }
        let defaults = RequestDefaults::new()
            .temperature(role.temperature())
            .max_tokens(role.max_tokens());
        if defaults != RequestDefaults::new() {
            llm = llm.with_defaults(defaults)?.boxed();
        }
        Ok(llm)
    }

    /// The bare provider of a role.
    fn provider(
        &self,
        name: &str,
        role: &ModelRole,
        embedding: bool,
    ) -> Result<Arc<dyn LlmProvider>> {
        let kind = role.provider();
        let key = self.api_key(name).cloned();
        // A key is needed for the provider's own endpoint; a local server behind `openai` (through
        // OPENAI_BASE_URL) may need none, and its provider config says so if it does.
        let own_endpoint = match (role.effective_base_url(), kind.default_base_url()) {
            (Some(url), Some(default)) => {
                url.trim_end_matches('/') == default.trim_end_matches('/')
            }
            _ => true,
        };
        if key.is_none() && kind.requires_api_key() && own_endpoint {
            let var = role
                .api_key_env()
                .or(kind.default_api_key_env())
                .unwrap_or("its api_key_env");
            return Err(Error::config(format!(
                "model role `{name}` ({} {}) needs an API key: set {var}",
                kind.as_str(),
                role.model()
            )));
        }
        let catalog = self.catalog();
        if kind == ProviderKind::Anthropic {
            return anthropic(role, key, catalog);
        }
        openai(role, key, embedding, catalog)
    }
}

#[cfg(feature = "anthropic")]
fn anthropic(
    role: &ModelRole,
    key: Option<crate::Secret>,
    catalog: Arc<Catalog>,
) -> Result<Arc<dyn LlmProvider>> {
    use crate::llm::{Anthropic, AnthropicConfig};
    let mut config = AnthropicConfig::builder()
        .model(role.model())
        .catalog(catalog)
        .shaping(role.shaping());
    if let Some(url) = role.effective_base_url() {
        config = config.base_url(url);
    }
    if let Some(key) = key {
        config = config.api_key(key);
    }
    if let Some(version) = role.api_version() {
        config = config.version(version);
    }
    if let Some(max_tokens) = role.max_tokens() {
        config = config.max_tokens(max_tokens);
    }
    Ok(Anthropic::new(config.build()?)?.boxed())
}

#[cfg(not(feature = "anthropic"))]
fn anthropic(
    role: &ModelRole,
    _key: Option<crate::Secret>,
    _catalog: Arc<Catalog>,
) -> Result<Arc<dyn LlmProvider>> {
    Err(Error::config(format!(
        "model `{}` uses provider `anthropic`: enable the cargo feature `anthropic`",
        role.model()
    )))
}

#[cfg(feature = "openai")]
fn openai(
    role: &ModelRole,
    key: Option<crate::Secret>,
    embedding: bool,
    catalog: Arc<Catalog>,
) -> Result<Arc<dyn LlmProvider>> {
    use crate::llm::{OpenAi, OpenAiConfig};
    let kind = role.provider();
    let mut config = OpenAiConfig::builder()
        .model(role.model())
        .provider_name(kind.as_str())
        .catalog(catalog)
        .shaping(role.shaping());
    if embedding {
        config = config.embedding_model(role.model());
    }
    if let Some(url) = role.effective_base_url() {
        config = config.base_url(url);
    }
    if let Some(key) = key {
        config = config.api_key(key);
    }
    if kind == ProviderKind::Azure {
        let version = role.api_version().ok_or_else(|| {
            Error::config(format!(
                "model `{}` uses provider `azure`, which needs a pinned `api_version` (for example \"2024-10-21\")",
                role.model()
            ))
        })?;
        config = config.azure(version);
    }
    Ok(OpenAi::new(config.build()?)?.boxed())
}

#[cfg(not(feature = "openai"))]
fn openai(
    role: &ModelRole,
    _key: Option<crate::Secret>,
    _embedding: bool,
    _catalog: Arc<Catalog>,
) -> Result<Arc<dyn LlmProvider>> {
    Err(Error::config(format!(
        "model `{}` uses provider `{}`: enable the cargo feature `openai`",
        role.model(),
        role.provider().as_str()
    )))
}
