//! Helpers shared by the integration tests that declare `mod support;`.

// Each test crate uses the part it needs.
#![allow(dead_code)]

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Collects the `WARN` events it sees as `field=value ` text.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            let mut text = String::new();
            event.record(&mut Fields(&mut text));
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(text);
        }
    }
}

/// Runs `f` with a subscriber that records warnings on this thread; returns `f`'s result and the warnings.
pub fn with_warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let warnings = Warnings::default();
    let subscriber = tracing_subscriber::registry().with(warnings.clone());
    let out = tracing::subscriber::with_default(subscriber, || {
        // Scoped subscribers race with callsites first hit on other test threads (an interest cached
        // as "never" before this subscriber existed); rebuilding makes every callsite ask again.
        tracing::callsite::rebuild_interest_cache();
        f()
    });
    let seen = warnings
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    (out, seen)
}
