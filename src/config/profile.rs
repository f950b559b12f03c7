//! [`Profile`]: dev, staging, prod or a custom name, chosen by `TFA_PROFILE` or `APP_ENV` (factor X).

use std::fmt;
use std::str::FromStr;

use crate::config::PinPolicy;
use crate::{Error, Result};

/// The crate's own variable naming the profile; it wins over [`APP_ENV`].
pub const TFA_PROFILE: &str = "TFA_PROFILE";

/// The widely used variable naming the deployment environment (`development`, `staging`, `production`).
pub const APP_ENV: &str = "APP_ENV";

/// A deployment profile: one config file, with per-profile overrides (factor X, dev/prod parity: the same
/// prompts and parameters everywhere, different sizes, limits and endpoints).
///
/// Parsed case-insensitively from `TFA_PROFILE`, else `APP_ENV`, else [`Profile::Dev`]. `TFA_PROFILE`
/// wins so a host whose `APP_ENV` means something else (or uses values this crate does not know) can
/// choose the profile of this crate alone.
///
/// | value | profile | default [`PinPolicy`] |
/// |---|---|---|
/// | `dev`, `development` (or unset) | [`Profile::Dev`] | warn |
/// | `staging`, `stage` | [`Profile::Staging`] | warn |
/// | `prod`, `production` | [`Profile::Prod`] | deny |
/// | any other name of letters, digits, `-`, `_` (`qa`, `eu-prod`) | [`Profile::Custom`] (lowercased) | warn |
///
/// A custom profile must be defined in the model config file (`[profiles.qa]`) when a file is used, so a
/// typo such as `APP_ENV=prdo` fails instead of silently running with no overrides.
///
/// ```
/// use twelve_factor_ai::config::{PinPolicy, Profile};
///
/// let env = |name: &str| match name {
///     "APP_ENV" => Some("Production".to_string()),
///     _ => None,
/// };
/// let profile = Profile::from_env_vars(env)?;
/// assert_eq!(profile, Profile::Prod);
/// assert_eq!(profile.default_pin_policy(), PinPolicy::Deny);
/// assert_eq!("QA".parse::<Profile>()?, Profile::Custom("qa".into()));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Local development (the default).
    #[default]
    Dev,
    /// Pre-production.
    Staging,
    /// Production: floating model ids are refused unless the config says otherwise.
    Prod,
    /// Any other name, lowercased (`qa`, `eu-prod`).
    Custom(String),
}

impl Profile {
    /// The canonical name: `"dev"`, `"staging"`, `"prod"` or the custom name. Config files may use it or
    /// any accepted alias as the key under `[profiles]`.
    pub fn name(&self) -> &str {
        match self {
            Profile::Dev => "dev",
            Profile::Staging => "staging",
            Profile::Prod => "prod",
            Profile::Custom(name) => name,
        }
    }

    /// Whether this is [`Profile::Prod`].
    pub fn is_prod(&self) -> bool {
        *self == Profile::Prod
    }

    /// The pin policy when neither the config nor `TFA_PIN_POLICY` sets one: deny in prod (a floating
    /// alias can change answers in production without a deploy), warn elsewhere.
    pub fn default_pin_policy(&self) -> PinPolicy {
        if self.is_prod() {
            PinPolicy::Deny
        } else {
            PinPolicy::Warn
        }
    }

    /// Reads `TFA_PROFILE`, else `APP_ENV`, from the process environment (see
    /// [`from_env_vars`](Self::from_env_vars)).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable when its value is not a profile
    /// name.
    pub fn from_env() -> Result<Profile> {
        Self::from_env_vars(|name| std::env::var(name).ok())
    }

    /// Reads `TFA_PROFILE`, else `APP_ENV`, through `lookup`; [`Profile::Dev`] when both are unset or
    /// empty.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the variable when its value is not a profile
    /// name.
    pub fn from_env_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Profile> {
        for var in [TFA_PROFILE, APP_ENV] {
            if let Some(value) = lookup(var).filter(|v| !v.trim().is_empty()) {
                return Profile::parse_name(&value)
                    .map_err(|expected| Error::config(format!("{var}={value:?} {expected}")));
            }
        }
        Ok(Profile::Dev)
    }

    /// Parses a name; the error is the "is not ... (expected ...)" part of a message.
    pub(crate) fn parse_name(name: &str) -> std::result::Result<Profile, String> {
        let lower = name.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "dev" | "development" => Profile::Dev,
            "staging" | "stage" => Profile::Staging,
            "prod" | "production" => Profile::Prod,
            _ if is_custom_name(&lower) => Profile::Custom(lower),
            _ => {
                return Err(
                    "is not a profile name (expected dev, staging, prod, or a name of \
                     letters, digits, '-' and '_' starting with a letter, at most 64 characters)"
                        .to_owned(),
                );
            }
        })
    }
}

fn is_custom_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = Error;

    /// Parses a profile name case-insensitively (see the table on [`Profile`]).
    fn from_str(s: &str) -> Result<Self> {
        Profile::parse_name(s).map_err(|expected| Error::config(format!("{s:?} {expected}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        let ok = [
            ("dev", Profile::Dev),
            ("Development", Profile::Dev),
            ("STAGE", Profile::Staging),
            ("staging", Profile::Staging),
            ("prod", Profile::Prod),
            (" production ", Profile::Prod),
            ("eu-prod_2", Profile::Custom("eu-prod_2".into())),
        ];
        for (text, want) in ok {
            assert_eq!(text.parse::<Profile>().unwrap(), want, "{text}");
        }
        for bad in ["", "pr od", "1st", "../x", &"a".repeat(65)] {
            assert!(bad.parse::<Profile>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tfa_profile_wins_over_app_env() {
        let env = |name: &str| match name {
            "TFA_PROFILE" => Some("staging".to_owned()),
            "APP_ENV" => Some("production".to_owned()),
            _ => None,
        };
        assert_eq!(Profile::from_env_vars(env).unwrap(), Profile::Staging);
        let empty = |name: &str| (name == "TFA_PROFILE").then(String::new);
        assert_eq!(Profile::from_env_vars(empty).unwrap(), Profile::Dev);
        let bad = |name: &str| (name == "APP_ENV").then(|| "pr od".to_owned());
        let err = Profile::from_env_vars(bad).unwrap_err();
        assert!(err.to_string().contains("APP_ENV=\"pr od\""), "{err}");
    }
}
