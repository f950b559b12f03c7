//! Test support: conformance suites every backend and wrapper must pass.
//!
//! Compiled for the crate's own tests and, for other crates, behind the `testing` feature.

pub mod conformance;
pub mod decode;
pub mod fake;
