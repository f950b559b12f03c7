//! Request shaping: what the OpenAI and Anthropic providers leave out of (or refuse in) a request because
//! the [`Catalog`] entry of the model actually called, or the pinned API version, says the API would reject
//! it with a 400.
//!
//! The providers share this code: the decisions are pure functions over a [`ModelInfo`]'s
//! [`Sampling`] and the request's values; [`Shaper`] adds the policy (drop with one warning, or refuse) and
//! remembers which warnings it has already given.

// Only the HTTP providers shape requests; without them the policy type stays for config files.
#![cfg_attr(not(feature = "http"), allow(dead_code))]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::llm::catalog::{Catalog, ModelInfo, Sampling};
use crate::{Error, Result};

/// What a provider does with a request parameter that the called model (or the pinned API version) does not
/// accept, according to the model catalog.
///
/// ```
/// use twelve_factor_ai::llm::ShapingPolicy;
///
/// assert_eq!(ShapingPolicy::default(), ShapingPolicy::Drop);
/// let strict: ShapingPolicy = serde_json::from_str("\"strict\"").unwrap();
/// assert_eq!(strict, ShapingPolicy::Strict);
/// assert_eq!(strict.as_str(), "strict");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapingPolicy {
    /// Leave the parameter out and send the request; log one `tracing` warning per model and parameter
    /// (per provider instance). The default: a host that pins its model should get an answer, not a 400.
    #[default]
    Drop,
    /// Refuse the request before sending it, with [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest)
    /// naming the parameter, the model and the catalog setting (for hosts that want to hear about it in
    /// tests rather than in logs).
    Strict,
}

impl ShapingPolicy {
    /// The name used in config files: `"drop"` or `"strict"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ShapingPolicy::Drop => "drop",
            ShapingPolicy::Strict => "strict",
        }
    }
}

/// One sampling parameter of a request and the value the API treats as its default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    /// The parameter's wire name (`"temperature"`).
    pub(crate) name: &'static str,
    /// The request's value; `None` is never sent.
    pub(crate) value: Option<f32>,
    /// The API's default (temperature 1, top_p 1, penalties 0).
    pub(crate) default: f32,
}

impl Param {
    pub(crate) fn new(name: &'static str, value: Option<f32>, default: f32) -> Self {
        Param {
            name,
            value,
            default,
        }
    }
}

/// Whether an API with `sampling` rules rejects `value` for a parameter whose default is `default`.
pub(crate) fn rejects(sampling: Sampling, value: f32, default: f32) -> bool {
    match sampling {
        Sampling::Accepted => false,
        // The APIs compare the JSON number; an f32 that prints as the default is the default.
        Sampling::DefaultOnly => (value - default).abs() > f32::EPSILON,
        Sampling::Rejected => true,
    }
}

/// Why a parameter is not sent: the model's catalog entry, or the pinned API version.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cause<'a> {
    /// The catalog entry of the model says so (its `sampling` setting).
    Catalog(Sampling),
    /// The API version rejects sampling parameters on every model (`anthropic-version 2026-10-21`).
    ApiVersion {
        /// The header's name (`"anthropic-version"`).
        header: &'static str,
        /// The pinned version.
        version: &'a str,
    },
}

impl Cause<'_> {
    fn sampling(&self) -> Sampling {
        match self {
            Cause::Catalog(s) => *s,
            Cause::ApiVersion { .. } => Sampling::Rejected,
        }
    }

    /// Why, and what fixes it, for `param` of `model` (one clause of a message).
    fn explain(&self, param: &Param, model: &str) -> String {
        match self {
            Cause::Catalog(Sampling::DefaultOnly) => format!(
                "model {model} accepts only the default {} = {} (catalog: sampling = \"default_only\"); \
                 leave it unset, or set sampling = \"accepted\" for {model} in the model catalog if the \
                 API now accepts it",
                param.name, param.default
            ),
            Cause::Catalog(s) => format!(
                "model {model} rejects {} at any value (catalog: sampling = \"{}\"); leave it unset, or \
                 set sampling = \"accepted\" for {model} in the model catalog if the API now accepts it",
                param.name,
                s.as_str()
            ),
            Cause::ApiVersion { header, version } => format!(
                "{header} {version} rejects {} on every model (model {model}); leave it unset, or pin \
                 {header} 2023-06-01",
                param.name
            ),
        }
    }
}

/// The shaping state of one provider instance: the catalog, the policy, and the warnings already given.
/// Clones share the warnings.
#[derive(Debug, Clone)]
pub(crate) struct Shaper {
    catalog: Arc<Catalog>,
    policy: ShapingPolicy,
    /// Per model, what it was already warned about: a parameter name, or `""` for "not in the catalog".
    /// Keyed by model so the check on every request borrows instead of allocating; at most
    /// [`MAX_WARNED_MODELS`] models (the model comes from requests, which a host may take from users).
    warned: Arc<Mutex<HashMap<String, Vec<&'static str>>>>,
}

/// How many models a provider instance remembers warnings for; past it, new models are not warned about
/// (the warnings so far have made the point, and the set must not grow without bound).
const MAX_WARNED_MODELS: usize = 1024;

impl Shaper {
    pub(crate) fn new(catalog: Arc<Catalog>, policy: ShapingPolicy) -> Self {
        Shaper {
            catalog,
            policy,
            warned: Arc::default(),
        }
    }

    /// True the first time `(model, what)` is seen by this instance (and its clones), while fewer than
    /// [`MAX_WARNED_MODELS`] models have been seen.
    fn first_time(&self, model: &str, what: &'static str) -> bool {
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(seen) = warned.get_mut(model) {
            if seen.contains(&what) {
                return false;
            }
            seen.push(what);
            return true;
        }
        if warned.len() >= MAX_WARNED_MODELS {
            tracing::debug!(
                gen_ai.request.model = model,
                "request shaping: not warning about model {model} (already warned about {MAX_WARNED_MODELS} models)"
            );
            return false;
        }
        warned.insert(model.to_owned(), vec![what]);
        true
    }

    /// The catalog entry of `model` under the first of `providers` that has one. When none has, the
    /// request goes out as given and one warning per model says so.
    pub(crate) fn lookup(&self, providers: &[&str], model: &str) -> Option<&ModelInfo> {
        let found = providers
            .iter()
            .find_map(|provider| self.catalog.lookup(provider, model));
        if found.is_none() && self.first_time(model, "") {
            tracing::warn!(
                gen_ai.provider.name = providers.first().copied().unwrap_or_default(),
                gen_ai.request.model = model,
                "model {model} is not in the model catalog: the request is sent as given, unshaped; add \
                 the model to the catalog (the model config's [[catalog]] entries) to have requests shaped \
                 to what it accepts"
            );
        }
        found
    }

    /// The values to send for `params`, in order: a value the `cause` rejects is left out (`None`) with one
    /// warning per model and parameter, or refused under [`ShapingPolicy::Strict`].
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) under the strict policy, naming the
    /// parameter, the model and the setting that fixes it.
    pub(crate) fn sampling<const N: usize>(
        &self,
        provider: &str,
        model: &str,
        cause: Cause<'_>,
        params: [Param; N],
    ) -> Result<[Option<f32>; N]> {
        let sampling = cause.sampling();
        let mut out = [None; N];
        for (slot, param) in out.iter_mut().zip(params) {
            let Some(value) = param.value else { continue };
            if !rejects(sampling, value, param.default) {
                *slot = Some(value);
                continue;
            }
            let why = cause.explain(&param, model);
            match self.policy {
                ShapingPolicy::Strict => {
                    return Err(Error::invalid_request(format!(
                        "{} = {value} is not accepted: {why} (shaping policy: strict)",
                        param.name
                    ))
                    .with_provider(provider.to_owned())
                    .local());
                }
                ShapingPolicy::Drop => {
                    if self.first_time(model, param.name) {
                        tracing::warn!(
                            gen_ai.provider.name = provider,
                            gen_ai.request.model = model,
                            parameter = param.name,
                            "{} = {value} left out of requests to {model}: {why}",
                            param.name
                        );
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::llm::catalog::ModelKind;

    #[test]
    fn warnings_are_remembered_per_model_and_bounded() {
        let shaper = Shaper::new(Arc::new(Catalog::new()), ShapingPolicy::Drop);
        assert!(shaper.first_time("m", ""));
        assert!(!shaper.first_time("m", ""));
        assert!(shaper.first_time("m", "temperature"));
        assert!(!shaper.first_time("m", "temperature"));
        for i in 1..MAX_WARNED_MODELS {
            assert!(shaper.first_time(&format!("m{i}"), ""));
        }
        // Full: a new model is not remembered (nor warned about); known ones still answer.
        assert!(!shaper.first_time("one-more", ""));
        assert!(!shaper.first_time("one-more", ""));
        assert!(shaper.first_time("m", "top_p"));
        let warned = shaper.warned.lock().unwrap();
        assert_eq!(warned.len(), MAX_WARNED_MODELS);
    }

    #[test]
    fn rejects_follows_the_sampling_rule() {
        assert!(!rejects(Sampling::Accepted, 0.2, 1.0));
        assert!(rejects(Sampling::DefaultOnly, 0.2, 1.0));
        assert!(!rejects(Sampling::DefaultOnly, 1.0, 1.0));
        assert!(!rejects(Sampling::DefaultOnly, 0.0, 0.0));
        assert!(rejects(Sampling::Rejected, 1.0, 1.0));
    }

    #[test]
    fn drop_keeps_accepted_values_and_unset_ones_stay_unset() {
        let shaper = Shaper::new(Arc::new(Catalog::new()), ShapingPolicy::Drop);
        let out = shaper
            .sampling(
                "openai",
                "o3",
                Cause::Catalog(Sampling::DefaultOnly),
                [
                    Param::new("temperature", Some(0.2), 1.0),
                    Param::new("top_p", Some(1.0), 1.0),
                    Param::new("presence_penalty", None, 0.0),
                ],
            )
            .unwrap();
        assert_eq!(out, [None, Some(1.0), None]);
    }

    #[test]
    fn strict_names_parameter_model_and_setting() {
        let shaper = Shaper::new(Arc::new(Catalog::new()), ShapingPolicy::Strict);
        let err = shaper
            .sampling(
                "anthropic",
                "claude-opus-4-7",
                Cause::Catalog(Sampling::Rejected),
                [Param::new("temperature", Some(0.2), 1.0)],
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.is_local());
        for needle in ["temperature", "claude-opus-4-7", "sampling = \"rejected\""] {
            assert!(err.message().contains(needle), "{err}");
        }
        let err = shaper
            .sampling(
                "anthropic",
                "claude-sonnet-4-5",
                Cause::ApiVersion {
                    header: "anthropic-version",
                    version: "2026-10-21",
                },
                [Param::new("top_p", Some(0.9), 1.0)],
            )
            .unwrap_err();
        assert!(
            err.message().contains("anthropic-version 2026-10-21"),
            "{err}"
        );
    }

    #[test]
    fn lookup_tries_providers_in_order() {
        let mut catalog = Catalog::new();
        catalog.insert(ModelInfo::new("openai", "gpt-5*", ModelKind::Chat));
        let shaper = Shaper::new(Arc::new(catalog), ShapingPolicy::Drop);
        assert!(
            shaper
                .lookup(&["azure.ai.openai", "openai"], "gpt-5-mini")
                .is_some()
        );
        assert!(shaper.lookup(&["ollama"], "gpt-5-mini").is_none());
        assert!(shaper.first_time("x", "temperature"));
        assert!(
            !shaper.clone().first_time("x", "temperature"),
            "clones share warnings"
        );
    }
}
