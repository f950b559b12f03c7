//! The [`VectorStore`] trait, its forwarding impls and the [`VectorStoreExt`] conveniences.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Document, SearchHit, VectorQuery};
use crate::Result;

/// A store of embedded documents that answers nearest-neighbour queries.
///
/// Every backend means the same thing by each method (the conformance suite in
/// `testing::conformance::vector_store` checks it):
///
/// - A store has a fixed dimension and [`Metric`](super::Metric). Scores are "higher is better" under
///   every metric; hits come back best first, ties in ascending id order.
/// - Bad input (a wrong dimension, a NaN or infinite value, an empty or repeated id, `k = 0`, a NaN
///   `min_score`, an invalid [`Filter`](super::Filter)) fails with
///   [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) and leaves the store exactly as it
///   was: a batch is checked whole before anything is written.
///
/// ```
/// use std::sync::Arc;
/// use twelve_factor_ai::vector::{
///     Document, Filter, MemoryVectorStore, Metric, VectorQuery, VectorStore, VectorStoreExt,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let store: Arc<dyn VectorStore> = Arc::new(MemoryVectorStore::new(3, Metric::Cosine)?);
/// store
///     .upsert(vec![
///         Document::new("rust", vec![1.0, 0.0, 0.0]).with_metadata("kind", "language"),
///         Document::new("ferris", vec![0.9, 0.1, 0.0]).with_metadata("kind", "mascot"),
///         Document::new("tea", vec![0.0, 0.0, 1.0]).with_metadata("kind", "drink"),
///     ])
///     .await?;
///
/// let hits = store.search_k(vec![1.0, 0.05, 0.0], 2).await?;
/// assert_eq!(hits[0].id, "rust");
/// assert_eq!(hits[1].id, "ferris");
///
/// let query = VectorQuery::new(vec![1.0, 0.05, 0.0], 2).with_filter(Filter::ne("kind", "language"));
/// let hits = store.search(query).await?;
/// assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["ferris", "tea"]);
///
/// assert_eq!(store.delete(&["tea".to_string(), "coffee".to_string()]).await?, 1);
/// assert_eq!(store.count().await?, 2);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait VectorStore: Send + Sync + std::fmt::Debug {
    /// Inserts documents, replacing any stored document with the same id (embedding, text and metadata
    /// alike). The batch is validated whole first: on any error nothing is written. Ids must be unique
    /// within one batch. An empty batch is a no-op.
    async fn upsert(&self, docs: Vec<Document>) -> Result<()>;

    /// Returns at most `query.k` hits, best first (ties by ascending id), among the documents that match
    /// `query.filter`, dropping those scoring below `query.min_score`.
    async fn search(&self, query: VectorQuery) -> Result<Vec<SearchHit>>;

    /// Deletes the documents with these ids and returns how many existed (an id listed twice counts
    /// once). Unknown ids are not an error.
    async fn delete(&self, ids: &[String]) -> Result<usize>;

    /// How many documents the store holds.
    async fn count(&self) -> Result<usize>;

    /// Checks the store can serve requests (reaches its server, its state is sound).
    async fn health_check(&self) -> Result<()>;
}

macro_rules! forward_vector_store {
    ($ty:ty) => {
        #[deny(clippy::missing_trait_methods)]
        #[async_trait]
        impl<T: VectorStore + ?Sized> VectorStore for $ty {
            async fn upsert(&self, docs: Vec<Document>) -> Result<()> {
                (**self).upsert(docs).await
            }
            async fn search(&self, query: VectorQuery) -> Result<Vec<SearchHit>> {
                (**self).search(query).await
            }
            async fn delete(&self, ids: &[String]) -> Result<usize> {
                (**self).delete(ids).await
            }
            async fn count(&self) -> Result<usize> {
                (**self).count().await
            }
            async fn health_check(&self) -> Result<()> {
                (**self).health_check().await
            }
        }
    };
}

forward_vector_store!(Arc<T>);
forward_vector_store!(Box<T>);

/// Conveniences for every [`VectorStore`]; implemented for all of them, never by hand.
#[async_trait]
pub trait VectorStoreExt: VectorStore {
    /// Inserts or replaces one document.
    async fn upsert_one(&self, doc: Document) -> Result<()> {
        self.upsert(vec![doc]).await
    }

    /// The `k` documents nearest to `embedding`, with no filter and no minimum score.
    async fn search_k(&self, embedding: Vec<f32>, k: usize) -> Result<Vec<SearchHit>> {
        self.search(VectorQuery::new(embedding, k)).await
    }

    /// Deletes one document; returns whether it existed.
    async fn delete_one(&self, id: &str) -> Result<bool> {
        Ok(self.delete(&[id.to_owned()]).await? > 0)
    }

    /// Boxes the store as `Arc<dyn VectorStore>`, the type services and wrappers hold.
    fn boxed(self) -> Arc<dyn VectorStore>
    where
        Self: Sized + 'static,
    {
        Arc::new(self)
    }
}

impl<T: VectorStore + ?Sized> VectorStoreExt for T {}
