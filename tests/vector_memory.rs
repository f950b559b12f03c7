//! The vector store conformance suite against `MemoryVectorStore`, for every metric and through the
//! `Arc` / `Box` forwarding impls.

use std::sync::Arc;

use twelve_factor_ai::ErrorKind;
use twelve_factor_ai::testing::conformance::vector_store::{self, VectorStoreCapabilities};
use twelve_factor_ai::vector::{
    Document, Filter, MemoryVectorStore, Metric, VectorQuery, VectorStore, VectorStoreExt,
};

fn caps(dimension: usize, metric: Metric) -> VectorStoreCapabilities {
    VectorStoreCapabilities::new(dimension, metric).with_dotted_paths(true)
}

#[tokio::test]
async fn conformance_cosine() {
    for dimension in [2, 13, 384] {
        let store = MemoryVectorStore::new(dimension, Metric::Cosine).unwrap();
        vector_store::vector_store(&store, &caps(dimension, Metric::Cosine)).await;
        assert_eq!(store.memory_usage().capacity_bytes, 0, "left empty");
    }
}

#[tokio::test]
async fn conformance_dot() {
    for dimension in [2, 13, 384] {
        let store = MemoryVectorStore::new(dimension, Metric::Dot).unwrap();
        vector_store::vector_store(&store, &caps(dimension, Metric::Dot)).await;
    }
}

#[tokio::test]
async fn conformance_euclidean() {
    for dimension in [2, 13, 384] {
        let store = MemoryVectorStore::new(dimension, Metric::Euclidean).unwrap();
        vector_store::vector_store(&store, &caps(dimension, Metric::Euclidean)).await;
    }
}

#[tokio::test]
async fn conformance_through_arc_and_box() {
    let arc: Arc<dyn VectorStore> = MemoryVectorStore::new(8, Metric::Cosine).unwrap().boxed();
    vector_store::vector_store(&arc, &caps(8, Metric::Cosine)).await;
    let boxed: Box<dyn VectorStore> = Box::new(MemoryVectorStore::new(8, Metric::Dot).unwrap());
    vector_store::vector_store(&boxed, &caps(8, Metric::Dot)).await;
    // Arc of a concrete store, and the suite's checks one by one.
    let arc = Arc::new(MemoryVectorStore::new(4, Metric::Euclidean).unwrap());
    let c = caps(4, Metric::Euclidean);
    vector_store::filters(&arc, &c).await;
    vector_store::delete(&arc, &c).await;
}

#[tokio::test]
async fn subsets_for_limited_backends() {
    let store = MemoryVectorStore::new(3, Metric::Cosine).unwrap();
    let c = VectorStoreCapabilities::new(3, Metric::Cosine)
        .with_filters(false)
        .with_json_metadata(false)
        .with_ties_by_id(false)
        .with_score_tolerance(1e-3);
    vector_store::vector_store(&store, &c).await;
}

#[tokio::test]
#[should_panic(expected = "needs an empty store")]
async fn the_suite_refuses_a_non_empty_store() {
    let store = MemoryVectorStore::new(3, Metric::Cosine).unwrap();
    store
        .upsert_one(Document::new("x", vec![1.0, 0.0, 0.0]))
        .await
        .unwrap();
    vector_store::vector_store(&store, &caps(3, Metric::Cosine)).await;
}

#[tokio::test]
async fn ext_conveniences() {
    let store = MemoryVectorStore::new(2, Metric::Dot).unwrap().boxed();
    store
        .upsert_one(Document::new("a", vec![1.0, 0.0]).with_metadata("tag", "x"))
        .await
        .unwrap();
    store
        .upsert_one(Document::new("b", vec![0.0, 1.0]))
        .await
        .unwrap();
    let hits = store.search_k(vec![1.0, 0.5], 1).await.unwrap();
    assert_eq!(hits[0].id, "a");
    assert!(store.delete_one("a").await.unwrap());
    assert!(!store.delete_one("a").await.unwrap());
    assert_eq!(store.count().await.unwrap(), 1);
    store.health_check().await.unwrap();
}

#[tokio::test]
async fn huge_k_is_fine() {
    let store = MemoryVectorStore::new(2, Metric::Euclidean).unwrap();
    store
        .upsert(vec![
            Document::new("a", vec![0.0, 0.0]),
            Document::new("b", vec![1.0, 1.0]),
        ])
        .await
        .unwrap();
    let hits = store
        .search(VectorQuery::new(vec![0.0, 0.0], usize::MAX))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    let err = store
        .search(VectorQuery::new(vec![0.0, 0.0], 1).with_filter(Filter::gte("", 1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

/// Many readers and writers at once on one store: no deadlock, no lost or phantom documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_readers_and_writers() {
    let store = MemoryVectorStore::new(16, Metric::Cosine).unwrap().boxed();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                let mut v = vec![0.1; 16];
                v[i % 16] = 1.0 + w as f32;
                store
                    .upsert_one(Document::new(format!("{w}-{i}"), v))
                    .await
                    .unwrap();
                let hits = store.search_k(vec![1.0; 16], 5).await.unwrap();
                assert!(hits.len() <= 5);
                if i % 2 == 0 {
                    assert!(store.delete_one(&format!("{w}-{i}")).await.unwrap());
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.count().await.unwrap(), 4 * 100);
    store.health_check().await.unwrap();
}

/// A store that breaks one rule on purpose, to show the suite notices.
#[derive(Debug)]
struct Broken {
    inner: MemoryVectorStore,
    fault: Fault,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Ignores the filter.
    NoFilter,
    /// Applies the filter after taking the `k` best.
    FilterAfterK,
    /// Writes the valid prefix of a batch before failing (it does reject repeated ids up front).
    PartialWrite,
    /// Returns hits worst first.
    Ascending,
    /// Reports every requested id as deleted.
    DeleteCountsRequests,
}

#[async_trait::async_trait]
impl VectorStore for Broken {
    async fn upsert(&self, docs: Vec<Document>) -> twelve_factor_ai::Result<()> {
        if let Fault::PartialWrite = self.fault {
            let mut seen = std::collections::HashSet::new();
            if !docs.iter().all(|d| seen.insert(d.id.clone())) {
                return Err(twelve_factor_ai::Error::invalid_request("duplicate id"));
            }
            for doc in docs {
                self.inner.upsert(vec![doc]).await?;
            }
            return Ok(());
        }
        self.inner.upsert(docs).await
    }

    async fn search(
        &self,
        mut query: VectorQuery,
    ) -> twelve_factor_ai::Result<Vec<twelve_factor_ai::vector::SearchHit>> {
        match self.fault {
            Fault::NoFilter => {
                query.filter.as_ref().map(Filter::validate).transpose()?;
                query.filter = None;
                self.inner.search(query).await
            }
            Fault::FilterAfterK => {
                let filter = query.filter.take();
                filter.as_ref().map(Filter::validate).transpose()?;
                let mut hits = self.inner.search(query).await?;
                hits.retain(|h| filter.as_ref().is_none_or(|f| f.matches(&h.metadata)));
                Ok(hits)
            }
            Fault::Ascending => {
                let mut hits = self.inner.search(query).await?;
                hits.reverse();
                Ok(hits)
            }
            _ => self.inner.search(query).await,
        }
    }

    async fn delete(&self, ids: &[String]) -> twelve_factor_ai::Result<usize> {
        let n = self.inner.delete(ids).await?;
        Ok(match self.fault {
            Fault::DeleteCountsRequests => ids.len(),
            _ => n,
        })
    }

    async fn count(&self) -> twelve_factor_ai::Result<usize> {
        self.inner.count().await
    }

    async fn health_check(&self) -> twelve_factor_ai::Result<()> {
        self.inner.health_check().await
    }
}

async fn run_broken(fault: Fault) {
    let store = Broken {
        inner: MemoryVectorStore::new(4, Metric::Cosine).unwrap(),
        fault,
    };
    vector_store::vector_store(&store, &caps(4, Metric::Cosine)).await;
}

#[tokio::test]
#[should_panic(expected = "filters: eq on a string: wrong hits")]
async fn the_suite_catches_an_ignored_filter() {
    run_broken(Fault::NoFilter).await;
}

#[tokio::test]
#[should_panic(expected = "filters: the filter applies before k")]
async fn the_suite_catches_a_filter_applied_after_k() {
    run_broken(Fault::FilterAfterK).await;
}

#[tokio::test]
#[should_panic(
    expected = "bad_input_leaves_store_unchanged: upsert with a valid new document followed by a bad one changed the count"
)]
async fn the_suite_catches_a_partial_write() {
    run_broken(Fault::PartialWrite).await;
}

#[tokio::test]
#[should_panic(expected = "wrong hits or order")]
async fn the_suite_catches_a_wrong_order() {
    run_broken(Fault::Ascending).await;
}

#[tokio::test]
#[should_panic(
    expected = "delete: deleting 2 stored ids (one listed twice) and 1 unknown must report 2"
)]
async fn the_suite_catches_a_wrong_delete_count() {
    run_broken(Fault::DeleteCountsRequests).await;
}
