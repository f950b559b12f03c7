//! Configuration (factors II, III and X): model config files with named roles and profiles, pin checks,
//! settings from the environment, and the recommended stack built from them.
//!
//! - [`ModelConfig`]: the named model roles of a service (`primary`, `fallback`, `embedding`, ...) from
//!   `models.toml` or `models.yaml`, with per-profile overrides (factor II, X).
//! - [`ModelRole`]: one role: [`ProviderKind`], pinned model, base URL, the name of its key variable,
//!   temperature, max tokens, timeouts, rpm / tpm limits, price.
//! - [`check_pinned`] / [`Pinning`] / [`PinPolicy`]: whether a model id names one fixed model, and what to
//!   do when it does not (warn, or deny in prod by default).
//! - [`Profile`]: dev / staging / prod / custom, from `TFA_PROFILE` or `APP_ENV`.
//! - [`Settings`]: everything the stack is built from, resolved from defaults, the file, the profile and
//!   the environment, in that order (factor III); [`SecretUrl`] keeps credentials in URLs out of logs.
//!
//! ```
//! use std::collections::HashMap;
//! use twelve_factor_ai::config::{ModelConfig, Profile, Settings};
//!
//! // A deploy keeps one file; the profile picks the overrides; variables have the last word.
//! let vars = HashMap::from([
//!     ("MODELS_CONFIG", "models.toml"),
//!     ("APP_ENV", "production"),
//!     ("OPENAI_API_KEY", "sk-example"),
//! ]);
//! let settings = Settings::from_env_vars(|name| vars.get(name).map(|v| v.to_string()))?;
//! assert_eq!(settings.profile(), &Profile::Prod);
//! let primary = settings.role(ModelConfig::PRIMARY).unwrap();
//! assert_eq!(primary.model(), "gpt-4o-2024-08-06");
//! assert!(settings.api_key(ModelConfig::PRIMARY).is_some());
//! # Ok::<(), twelve_factor_ai::Error>(())
//! ```

mod doc;
mod duration;
mod env;
mod model;
mod pin;
mod profile;
mod provider;
mod role;
mod settings;
mod stack;
mod url;

pub use doc::DEFAULT_LOG_MAX_CHARS;
pub use env::{DEFAULT_MODELS_CONFIG, MODELS_CONFIG, TFA_PIN_POLICY};
pub use model::{ModelConfig, PinFinding};
pub use pin::{PinPolicy, Pinning, check_pinned};
pub use profile::{APP_ENV, Profile, TFA_PROFILE};
pub use provider::ProviderKind;
pub use role::ModelRole;
pub use settings::{DEFAULT_PROMPTS_DIR, Settings, SettingsBuilder};
pub use stack::Services;
pub use url::SecretUrl;
