//! Vector stores: the [`VectorStore`] trait, documents, queries, filters and the in-memory store.
//!
//! - [`VectorStore`]: the trait every backend implements (upsert, search, delete, count, health check),
//!   with conveniences in [`VectorStoreExt`].
//! - [`Document`], [`VectorQuery`], [`SearchHit`]: what goes in and comes out.
//! - [`Metric`]: cosine, dot or Euclidean; scores are "higher is better" under all three.
//! - [`Filter`]: conditions on metadata that every backend translates the same way.
//! - [`MemoryVectorStore`]: exact search over one contiguous arena, for tests, development and
//!   collections that fit in memory.

mod distance;
mod filter;
mod memory;
mod store;
mod types;

pub use filter::{Filter, MAX_FILTER_DEPTH};
pub use memory::{MemoryUsage, MemoryVectorStore};
pub use store::{VectorStore, VectorStoreExt};
pub use types::{Document, Metric, SearchHit, VectorQuery};
