//! # twelve-factor-ai
//!
//! (crate docs: written at the end of the foundation work)

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod conversation;
pub mod error;
pub mod llm;
pub mod prompt;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod vector;

pub use error::{Error, ErrorKind, Result};
