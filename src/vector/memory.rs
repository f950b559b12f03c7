//! [`MemoryVectorStore`]: exact nearest-neighbour search over one contiguous arena of `f32`.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::distance::{self, dot, squared_l2};
use super::{Document, Filter, Metric, SearchHit, VectorQuery, VectorStore};
use crate::{Error, Result};

/// An in-process vector store with exact (brute-force) search.
///
/// Built for tests, development and collections that fit in memory (a million 384-dimension vectors
/// take 1.5 GB). Every search scans every vector, so results are exact and there is no index to tune;
/// the scan runs close to memory bandwidth:
///
/// - All vectors live in **one** contiguous `Vec<f32>` (row `i` at `i * dimension`), so a scan streams
///   through memory with no pointer chasing. Deleting swaps the last row into the freed slot.
/// - Under [`Metric::Cosine`] vectors are normalised once, at insert, and the query once per search; the
///   scan then computes plain dot products.
/// - The `k` best are kept in a bounded heap: a row is compared with the current `k`-th best score and
///   skipped when it cannot enter (no full sort), and the [`Filter`] is evaluated only for rows that
///   would enter, since a score is cheaper than a filter.
/// - The arena grows by `max(needed, len / 16)` rather than doubling and shrinks after large deletes, so
///   its capacity stays within 1.1× of what it holds (see [`memory_usage`](MemoryVectorStore::memory_usage)).
///
/// State sits behind a `std::sync::RwLock`, held only for the synchronous part of each call (never across
/// an `.await`): searches run in parallel, writes one at a time. Searches run on the calling task; for
/// large collections call them from [`spawn_blocking`](https://docs.rs/tokio/latest/tokio/task/fn.spawn_blocking.html)
/// if the scan time (about a millisecond per 10 MB of vectors) matters to your executor.
///
/// ```
/// use twelve_factor_ai::vector::{Document, MemoryVectorStore, Metric, VectorQuery, VectorStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let store = MemoryVectorStore::new(2, Metric::Euclidean)?;
/// store
///     .upsert(vec![
///         Document::new("origin", vec![0.0, 0.0]).with_text("the origin"),
///         Document::new("near", vec![0.3, 0.4]),
///         Document::new("far", vec![3.0, 4.0]),
///     ])
///     .await?;
///
/// // Euclidean scores are negated distances: min_score -1.0 keeps distances up to 1.0.
/// let hits = store
///     .search(VectorQuery::new(vec![0.0, 0.0], 10).with_min_score(-1.0))
///     .await?;
/// assert_eq!(hits.len(), 2);
/// assert_eq!((hits[0].id.as_str(), hits[0].score), ("origin", 0.0));
/// assert_eq!((hits[1].id.as_str(), hits[1].score), ("near", -0.5));
/// assert_eq!(hits[0].text.as_deref(), Some("the origin"));
///
/// // Bad input is a typed error and changes nothing.
/// let err = store.upsert(vec![Document::new("bad", vec![1.0])]).await.unwrap_err();
/// assert_eq!(err.kind(), twelve_factor_ai::ErrorKind::InvalidRequest);
/// assert_eq!(store.count().await?, 3);
///
/// let usage = store.memory_usage();
/// assert_eq!(usage.used_bytes, 3 * 2 * 4);
/// # Ok(())
/// # }
/// ```
pub struct MemoryVectorStore {
    dimension: usize,
    metric: Metric,
    inner: RwLock<Arena>,
}

/// How much memory a [`MemoryVectorStore`]'s vector arena holds, from
/// [`MemoryVectorStore::memory_usage`].
///
/// Counts the arena of `f32` only, which dominates for real embeddings; ids, texts, metadata and the id
/// index are extra.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// How many documents the store holds.
    pub documents: usize,
    /// The store's dimension.
    pub dimension: usize,
    /// Bytes of vectors stored: `documents * dimension * 4`.
    pub used_bytes: usize,
    /// Bytes allocated for the arena (its capacity); at least `used_bytes`, and at most 1.1× of it.
    pub capacity_bytes: usize,
}

impl MemoryUsage {
    /// `capacity_bytes / used_bytes`, or `1.0` for an empty arena with no capacity.
    pub fn capacity_ratio(&self) -> f64 {
        if self.used_bytes == 0 {
            if self.capacity_bytes == 0 {
                1.0
            } else {
                f64::INFINITY
            }
        } else {
            self.capacity_bytes as f64 / self.used_bytes as f64
        }
    }
}

/// The store's state: row `i` has its vector at `vectors[i * dim..(i + 1) * dim]` and its id, text and
/// metadata at `rows[i]`; `slots` maps each id to its row.
#[derive(Default)]
struct Arena {
    vectors: Vec<f32>,
    rows: Vec<Row>,
    slots: HashMap<String, usize>,
}

struct Row {
    id: String,
    text: Option<String>,
    metadata: Map<String, Value>,
}

impl MemoryVectorStore {
    /// An empty store for vectors of `dimension` values, scored by `metric`.
    ///
    /// Fails with [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) when `dimension` is 0.
    pub fn new(dimension: usize, metric: Metric) -> Result<Self> {
        if dimension == 0 {
            return Err(Error::invalid_request(
                "memory vector store: dimension must be at least 1",
            ));
        }
        Ok(MemoryVectorStore {
            dimension,
            metric,
            inner: RwLock::new(Arena::default()),
        })
    }

    /// The length every embedding must have.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// How documents are scored.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The vector arena's size: bytes used and bytes allocated.
    pub fn memory_usage(&self) -> MemoryUsage {
        // A report: read even a poisoned lock (our writes cannot leave the arena half-updated).
        let arena = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let f32_bytes = std::mem::size_of::<f32>();
        MemoryUsage {
            documents: arena.rows.len(),
            dimension: self.dimension,
            used_bytes: arena.vectors.len() * f32_bytes,
            capacity_bytes: arena.vectors.capacity() * f32_bytes,
        }
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, Arena>> {
        self.inner.read().map_err(|_| poisoned())
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, Arena>> {
        self.inner.write().map_err(|_| poisoned())
    }

    /// Checks a whole batch and normalises its vectors (under cosine), before anything is written.
    fn prepare(&self, docs: &mut [Document]) -> Result<()> {
        let mut seen = HashSet::with_capacity(docs.len());
        for (i, doc) in docs.iter().enumerate() {
            if doc.id.is_empty() {
                return Err(Error::invalid_request(format!(
                    "upsert: document at index {i} has an empty id"
                )));
            }
            if !seen.insert(doc.id.as_str()) {
                return Err(Error::invalid_request(format!(
                    "upsert: id {:?} appears more than once in one batch",
                    doc.id
                )));
            }
            if doc.embedding.len() != self.dimension {
                return Err(Error::invalid_request(format!(
                    "upsert: document {:?} has dimension {}, the store expects {}",
                    doc.id,
                    doc.embedding.len(),
                    self.dimension
                )));
            }
            if let Some(j) = doc.embedding.iter().position(|x| !x.is_finite()) {
                return Err(Error::invalid_request(format!(
                    "upsert: document {:?} has a non-finite value ({}) at index {j}",
                    doc.id, doc.embedding[j]
                )));
            }
        }
        if self.metric == Metric::Cosine {
            for doc in docs.iter_mut() {
                if !distance::normalize(&mut doc.embedding) {
                    return Err(Error::invalid_request(format!(
                        "upsert: document {:?} has a zero vector, which has no direction under the cosine metric",
                        doc.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// The query vector, checked and (under cosine) normalised.
    fn prepare_query(&self, query: &mut VectorQuery) -> Result<()> {
        if query.embedding.len() != self.dimension {
            return Err(Error::invalid_request(format!(
                "search: query embedding has dimension {}, the store expects {}",
                query.embedding.len(),
                self.dimension
            )));
        }
        query.validate()?;
        if self.metric == Metric::Cosine && !distance::normalize(&mut query.embedding) {
            return Err(Error::invalid_request(
                "search: query embedding is a zero vector, which has no direction under the cosine metric",
            ));
        }
        Ok(())
    }

    fn upsert_sync(&self, mut docs: Vec<Document>) -> Result<()> {
        self.prepare(&mut docs)?;
        if docs.is_empty() {
            return Ok(());
        }
        let mut arena = self.write()?;
        let new_rows = docs
            .iter()
            .filter(|d| !arena.slots.contains_key(&d.id))
            .count();
        arena.reserve(new_rows, self.dimension)?;
        for doc in docs {
            arena.put(doc, self.dimension);
        }
        Ok(())
    }

    fn search_sync(&self, mut query: VectorQuery) -> Result<Vec<SearchHit>> {
        self.prepare_query(&mut query)?;
        let arena = self.read()?;
        let scan = Scan {
            arena: &arena,
            dim: self.dimension,
            query: &query.embedding,
            k: query.k,
            min_score: query.min_score,
            filter: query.filter.as_ref(),
        };
        let best = match self.metric {
            Metric::Cosine | Metric::Dot => scan.top_k(dot),
            Metric::Euclidean => scan.top_k(|a, b| -squared_l2(a, b).sqrt()),
        };
        Ok(best
            .into_iter()
            .filter_map(|Reverse(c)| {
                let row = arena.rows.get(c.slot)?;
                Some(SearchHit {
                    id: row.id.clone(),
                    score: c.score,
                    text: row.text.clone(),
                    metadata: row.metadata.clone(),
                })
            })
            .collect())
    }

    fn delete_sync(&self, ids: &[String]) -> Result<usize> {
        let mut arena = self.write()?;
        let mut removed = 0;
        for id in ids {
            if let Some(slot) = arena.slots.remove(id.as_str()) {
                arena.swap_remove(slot, self.dimension);
                removed += 1;
            }
        }
        if removed > 0 {
            arena.shrink_if_sparse();
        }
        Ok(removed)
    }

    fn health_check_sync(&self) -> Result<()> {
        let arena = self.read()?;
        let consistent = arena.vectors.len() == arena.rows.len() * self.dimension
            && arena.slots.len() == arena.rows.len();
        if !consistent {
            return Err(Error::store(
                "memory vector store: arena, rows and id index disagree; recreate the store",
            ));
        }
        Ok(())
    }
}

fn poisoned() -> Error {
    Error::store(
        "memory vector store: lock poisoned by a panic in another thread; recreate the store",
    )
}

impl Arena {
    /// Makes room for `new_rows` more rows without letting any vector double its capacity. Fails
    /// (changing nothing) if the memory cannot be had.
    fn reserve(&mut self, new_rows: usize, dim: usize) -> Result<()> {
        if new_rows == 0 {
            return Ok(());
        }
        let oom = |_| Error::store("memory vector store: out of memory growing the arena");
        let needed = new_rows
            .checked_mul(dim)
            .ok_or_else(|| Error::store("memory vector store: batch too large"))?;
        let len = self.vectors.len();
        if needed > self.vectors.capacity() - len {
            // Grow by at least 1/16 so that many small upserts stay amortised O(1), but never by the
            // doubling `Vec` would do: capacity stays within 1.0625× of the length.
            self.vectors
                .try_reserve_exact(needed.max(len / 16))
                .map_err(oom)?;
        }
        self.rows.try_reserve(new_rows).map_err(oom)?;
        self.slots.try_reserve(new_rows).map_err(oom)?;
        Ok(())
    }

    /// Inserts or replaces one checked document. Room was reserved by [`Arena::reserve`].
    fn put(&mut self, doc: Document, dim: usize) {
        let Document {
            id,
            embedding,
            text,
            metadata,
        } = doc;
        match self.slots.get(&id) {
            Some(&slot) => {
                let start = slot * dim;
                if let Some(dst) = self.vectors.get_mut(start..start + dim) {
                    dst.copy_from_slice(&embedding);
                }
                if let Some(row) = self.rows.get_mut(slot) {
                    row.text = text;
                    row.metadata = metadata;
                }
            }
            None => {
                let slot = self.rows.len();
                self.vectors.extend_from_slice(&embedding);
                self.slots.insert(id.clone(), slot);
                self.rows.push(Row { id, text, metadata });
            }
        }
    }

    /// Removes row `slot` by moving the last row into it.
    fn swap_remove(&mut self, slot: usize, dim: usize) {
        let last = self.rows.len() - 1;
        if slot != last {
            self.vectors
                .copy_within(last * dim..(last + 1) * dim, slot * dim);
        }
        self.vectors.truncate(last * dim);
        self.rows.swap_remove(slot);
        if let Some(moved) = self.rows.get(slot) {
            if let Some(s) = self.slots.get_mut(&moved.id) {
                *s = slot;
            }
        }
    }

    /// Gives memory back once the arena holds less than 1/1.1 of its capacity.
    fn shrink_if_sparse(&mut self) {
        let len = self.vectors.len();
        if self.vectors.capacity() - len > len / 10 {
            self.vectors.shrink_to(len + len / 16);
        }
        let rows = self.rows.len();
        if self.rows.capacity() > 2 * rows {
            self.rows.shrink_to(rows + rows / 16);
        }
        if self.slots.capacity() > 2 * rows + 16 {
            self.slots.shrink_to(rows);
        }
    }
}

/// A candidate hit; orders by score, then by id reversed, so that "greater" means "better".
struct Candidate<'a> {
    score: f32,
    id: &'a str,
    slot: usize,
}

impl Ord for Candidate<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.id.cmp(self.id))
    }
}

impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate<'_> {}

/// One exact scan of the arena.
struct Scan<'a> {
    arena: &'a Arena,
    dim: usize,
    query: &'a [f32],
    k: usize,
    min_score: Option<f32>,
    filter: Option<&'a Filter>,
}

impl<'a> Scan<'a> {
    /// The `k` best rows, best first (ties by ascending id), scoring with `score(query, row)`.
    ///
    /// A bounded min-heap holds the best so far; its worst score is the threshold a row must reach to
    /// be looked at further (its id, then the filter). Rows scoring NaN (a dot product that overflowed)
    /// are skipped.
    fn top_k(&self, score: impl Fn(&[f32], &[f32]) -> f32) -> Vec<Reverse<Candidate<'a>>> {
        let k = self.k.min(self.arena.rows.len());
        if k == 0 {
            return Vec::new();
        }
        let mut heap: BinaryHeap<Reverse<Candidate<'a>>> = BinaryHeap::with_capacity(k);
        let mut threshold = self.min_score.unwrap_or(f32::NEG_INFINITY);
        let rows = self
            .arena
            .vectors
            .chunks_exact(self.dim)
            .zip(&self.arena.rows);
        for (slot, (vector, row)) in rows.enumerate() {
            let s = score(self.query, vector);
            if s.is_nan() || s < threshold {
                continue;
            }
            let candidate = Candidate {
                score: s + 0.0, // -0.0 becomes 0.0, so that ties are broken by id alone
                id: &row.id,
                slot,
            };
            let full = heap.len() == k;
            if full && heap.peek().is_some_and(|worst| candidate <= worst.0) {
                continue;
            }
            if self.filter.is_some_and(|f| !f.matches(&row.metadata)) {
                continue;
            }
            if full {
                if let Some(mut worst) = heap.peek_mut() {
                    *worst = Reverse(candidate);
                }
            } else {
                heap.push(Reverse(candidate));
            }
            if heap.len() == k {
                if let Some(worst) = heap.peek() {
                    threshold = worst.0.score;
                }
            }
        }
        heap.into_sorted_vec()
    }
}

impl fmt::Debug for MemoryVectorStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MemoryVectorStore");
        d.field("dimension", &self.dimension);
        d.field("metric", &self.metric);
        match self.inner.try_read() {
            Ok(arena) => d.field("documents", &arena.rows.len()),
            Err(_) => d.field("documents", &format_args!("<locked>")),
        };
        d.finish()
    }
}

#[async_trait]
impl VectorStore for MemoryVectorStore {
    async fn upsert(&self, docs: Vec<Document>) -> Result<()> {
        self.upsert_sync(docs)
    }

    async fn search(&self, query: VectorQuery) -> Result<Vec<SearchHit>> {
        self.search_sync(query)
    }

    async fn delete(&self, ids: &[String]) -> Result<usize> {
        self.delete_sync(ids)
    }

    async fn count(&self) -> Result<usize> {
        Ok(self.read()?.rows.len())
    }

    async fn health_check(&self) -> Result<()> {
        self.health_check_sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::vector::VectorStoreExt;
    use serde_json::json;

    /// A tiny deterministic PRNG (xorshift64*), so tests need no `rand`.
    struct XorShift(u64);
    impl XorShift {
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n
        }
        fn next_f32(&mut self) -> f32 {
            ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
        fn vec(&mut self, n: usize) -> Vec<f32> {
            (0..n).map(|_| self.next_f32()).collect()
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn ids(hits: &[SearchHit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[test]
    fn dimension_zero_is_rejected() {
        let err = MemoryVectorStore::new(0, Metric::Cosine).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let store = MemoryVectorStore::new(7, Metric::Dot).unwrap();
        assert_eq!((store.dimension(), store.metric()), (7, Metric::Dot));
        assert!(format!("{store:?}").contains("documents: 0"));
    }

    /// The heap selection gives exactly what scoring every row and fully sorting gives.
    #[test]
    fn top_k_equals_a_full_sort_on_random_data() {
        block_on(async {
            let mut rng = XorShift(42);
            for metric in Metric::ALL {
                for dim in [1, 3, 8, 17, 64] {
                    let store = MemoryVectorStore::new(dim, metric).unwrap();
                    let n = 300;
                    let mut docs = Vec::new();
                    for i in 0..n {
                        // Some exact duplicates, so ties happen.
                        let v = if i % 10 == 9 {
                            docs.last().map(|d: &Document| d.embedding.clone()).unwrap()
                        } else {
                            rng.vec(dim)
                        };
                        docs.push(
                            Document::new(format!("d{:03}", rng.below(1000) * 1000 + i), v)
                                .with_metadata("bucket", rng.below(4)),
                        );
                    }
                    store.upsert(docs.clone()).await.unwrap();

                    for _ in 0..20 {
                        let q = rng.vec(dim);
                        let k = 1 + rng.below(40) as usize;
                        let filter = (rng.below(2) == 0).then(|| Filter::ne("bucket", 1));
                        let min_score = (rng.below(3) == 0).then(|| match metric {
                            Metric::Euclidean => -1.5,
                            _ => 0.1,
                        });

                        // Reference: the same kernels, every row, a full sort.
                        let mut qn = q.clone();
                        if metric == Metric::Cosine {
                            distance::normalize(&mut qn);
                        }
                        let mut all: Vec<(f32, &str)> = docs
                            .iter()
                            .filter(|d| filter.as_ref().is_none_or(|f| f.matches(&d.metadata)))
                            .map(|d| {
                                let mut v = d.embedding.clone();
                                let s = match metric {
                                    Metric::Cosine => {
                                        distance::normalize(&mut v);
                                        dot(&qn, &v)
                                    }
                                    Metric::Dot => dot(&qn, &v),
                                    Metric::Euclidean => -squared_l2(&qn, &v).sqrt(),
                                };
                                (s + 0.0, d.id.as_str())
                            })
                            .filter(|(s, _)| min_score.is_none_or(|m| *s >= m))
                            .collect();
                        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
                        all.truncate(k);

                        let mut query = VectorQuery::new(q, k);
                        query.filter = filter.clone();
                        query.min_score = min_score;
                        let hits = store.search(query).await.unwrap();
                        let got: Vec<(f32, &str)> =
                            hits.iter().map(|h| (h.score, h.id.as_str())).collect();
                        assert_eq!(got, all, "{metric} dim={dim} k={k}");
                    }
                }
            }
        });
    }

    #[test]
    fn scores_per_metric() {
        block_on(async {
            let cases = [
                (
                    Metric::Cosine,
                    [1.0, 0.0],
                    [2.0, 2.0],
                    std::f32::consts::FRAC_1_SQRT_2,
                ),
                (Metric::Dot, [1.0, 2.0], [3.0, 4.0], 11.0),
                (Metric::Euclidean, [1.0, 1.0], [4.0, 5.0], -5.0),
            ];
            for (metric, q, v, expected) in cases {
                let store = MemoryVectorStore::new(2, metric).unwrap();
                store
                    .upsert_one(Document::new("v", v.to_vec()))
                    .await
                    .unwrap();
                let hits = store.search_k(q.to_vec(), 1).await.unwrap();
                assert!(
                    (hits[0].score - expected).abs() < 1e-6,
                    "{metric}: {hits:?}"
                );
                assert!((hits[0].score - metric.score(&q, &v)).abs() < 1e-6);
            }
        });
    }

    #[test]
    fn ties_are_broken_by_id_even_at_the_boundary() {
        block_on(async {
            let store = MemoryVectorStore::new(2, Metric::Dot).unwrap();
            let docs = ["c", "a", "e", "b", "d"]
                .into_iter()
                .map(|id| Document::new(id, vec![1.0, 0.0]))
                .chain([Document::new("z", vec![2.0, 0.0])])
                .collect();
            store.upsert(docs).await.unwrap();
            let hits = store.search_k(vec![1.0, 0.0], 3).await.unwrap();
            assert_eq!(ids(&hits), ["z", "a", "b"]);
            let hits = store.search_k(vec![1.0, 0.0], 10).await.unwrap();
            assert_eq!(ids(&hits), ["z", "a", "b", "c", "d", "e"]);
            // Orthogonal query: all scores are 0.0 (some may be -0.0); order is by id.
            let hits = store.search_k(vec![0.0, -1.0], 10).await.unwrap();
            assert_eq!(ids(&hits), ["a", "b", "c", "d", "e", "z"]);
        });
    }

    #[test]
    fn filter_is_applied_before_k() {
        block_on(async {
            let store = MemoryVectorStore::new(2, Metric::Cosine).unwrap();
            let mut docs = Vec::new();
            for i in 0..50 {
                let angle = i as f32 * 0.01;
                docs.push(
                    Document::new(format!("{i:02}"), vec![angle.cos(), angle.sin()])
                        .with_metadata("even", i % 2 == 0),
                );
            }
            store.upsert(docs).await.unwrap();
            let q = VectorQuery::new(vec![1.0, 0.0], 3).with_filter(Filter::eq("even", false));
            assert_eq!(ids(&store.search(q).await.unwrap()), ["01", "03", "05"]);
            let q = VectorQuery::new(vec![1.0, 0.0], 3).with_filter(Filter::Or(vec![]));
            assert!(store.search(q).await.unwrap().is_empty());
        });
    }

    #[test]
    fn upsert_replaces_and_delete_swaps_rows() {
        block_on(async {
            let mut rng = XorShift(7);
            let dim = 12;
            let store = MemoryVectorStore::new(dim, Metric::Cosine).unwrap();
            let docs: Vec<Document> = (0..200)
                .map(|i| Document::new(format!("{i}"), rng.vec(dim)).with_metadata("i", i))
                .collect();
            store.upsert(docs.clone()).await.unwrap();
            // Delete every third document, in an order that moves rows around.
            let gone: Vec<String> = (0..200).rev().step_by(3).map(|i| i.to_string()).collect();
            let mut with_dup = gone.clone();
            with_dup.push(gone[0].clone());
            with_dup.push("nope".into());
            assert_eq!(store.delete(&with_dup).await.unwrap(), gone.len());
            assert_eq!(store.count().await.unwrap(), 200 - gone.len());
            store.health_check().await.unwrap();
            // Every remaining document is still its own nearest neighbour, with its own metadata.
            for doc in &docs {
                let hits = store.search_k(doc.embedding.clone(), 1).await.unwrap();
                if gone.contains(&doc.id) {
                    assert_ne!(hits[0].id, doc.id);
                } else {
                    assert_eq!(hits[0].id, doc.id);
                    assert_eq!(hits[0].metadata, doc.metadata);
                    assert!((hits[0].score - 1.0).abs() < 1e-5);
                }
            }
            // Replace one: new vector, text and metadata (not merged).
            assert!(!gone.contains(&"0".to_string()) && !gone.contains(&"2".to_string()));
            let moved = Document::new("0", docs[2].embedding.clone()).with_text("replaced");
            store.upsert_one(moved).await.unwrap();
            assert_eq!(store.count().await.unwrap(), 200 - gone.len());
            let hits = store.search_k(docs[2].embedding.clone(), 2).await.unwrap();
            assert_eq!(ids(&hits), ["0", "2"]);
            assert_eq!(hits[0].text.as_deref(), Some("replaced"));
            assert!(hits[0].metadata.is_empty());
        });
    }

    #[test]
    fn arena_capacity_stays_within_a_tenth_of_its_use() {
        block_on(async {
            let dim = 24;
            let store = MemoryVectorStore::new(dim, Metric::Euclidean).unwrap();
            let check = |store: &MemoryVectorStore| {
                let usage = store.memory_usage();
                assert_eq!(usage.used_bytes, usage.documents * dim * 4);
                assert!(usage.capacity_bytes >= usage.used_bytes);
                assert!(
                    usage.capacity_bytes * 10 <= usage.used_bytes * 11,
                    "capacity {} for {} used bytes",
                    usage.capacity_bytes,
                    usage.used_bytes
                );
            };
            // One at a time, where a doubling Vec would be up to 2x.
            for i in 0..3000 {
                store
                    .upsert_one(Document::new(format!("{i}"), vec![i as f32; dim]))
                    .await
                    .unwrap();
                check(&store);
            }
            // Batches of varied sizes.
            let mut next = 3000;
            for size in [1, 7, 100, 1000, 5000, 3] {
                let docs = (next..next + size)
                    .map(|i| Document::new(format!("{i}"), vec![0.5; dim]))
                    .collect();
                next += size;
                store.upsert(docs).await.unwrap();
                check(&store);
            }
            assert_eq!(store.count().await.unwrap(), next);
            // Delete one at a time, then in large chunks.
            for i in 0..2000 {
                assert_eq!(store.delete(&[format!("{i}")]).await.unwrap(), 1);
                check(&store);
            }
            let rest: Vec<String> = (2000..next).map(|i| i.to_string()).collect();
            for chunk in rest.chunks(1500) {
                store.delete(chunk).await.unwrap();
                check(&store);
            }
            let usage = store.memory_usage();
            assert_eq!((usage.documents, usage.capacity_bytes), (0, 0));
            assert_eq!(usage.capacity_ratio(), 1.0);
        });
    }

    #[test]
    fn cosine_rejects_zero_vectors_and_changes_nothing() {
        block_on(async {
            let store = MemoryVectorStore::new(3, Metric::Cosine).unwrap();
            store
                .upsert_one(Document::new("a", vec![1.0, 0.0, 0.0]))
                .await
                .unwrap();
            let batch = vec![
                Document::new("b", vec![0.0, 1.0, 0.0]),
                Document::new("z", vec![0.0; 3]),
            ];
            let err = store.upsert(batch).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert!(err.message().contains("zero vector"), "{err}");
            assert_eq!(store.count().await.unwrap(), 1);
            let err = store.search_k(vec![0.0; 3], 1).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            // Zero vectors are fine under the other metrics.
            for metric in [Metric::Dot, Metric::Euclidean] {
                let store = MemoryVectorStore::new(3, metric).unwrap();
                store
                    .upsert_one(Document::new("z", vec![0.0; 3]))
                    .await
                    .unwrap();
                assert_eq!(store.search_k(vec![0.0; 3], 1).await.unwrap().len(), 1);
            }
        });
    }

    #[test]
    fn error_messages_name_the_problem() {
        block_on(async {
            let store = MemoryVectorStore::new(2, Metric::Dot).unwrap();
            let cases: Vec<(Vec<Document>, &str)> = vec![
                (
                    vec![Document::new("a", vec![1.0])],
                    "has dimension 1, the store expects 2",
                ),
                (
                    vec![Document::new("a", vec![1.0, f32::NAN])],
                    "non-finite value (NaN) at index 1",
                ),
                (vec![Document::new("", vec![1.0, 1.0])], "empty id"),
                (
                    vec![
                        Document::new("a", vec![1.0, 1.0]),
                        Document::new("a", vec![1.0, 2.0]),
                    ],
                    "appears more than once",
                ),
            ];
            for (docs, msg) in cases {
                let err = store.upsert(docs).await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidRequest);
                assert!(err.message().contains(msg), "{err}");
            }
            let err = store.search_k(vec![1.0], 1).await.unwrap_err();
            assert!(
                err.message().contains("dimension 1, the store expects 2"),
                "{err}"
            );
            assert_eq!(store.count().await.unwrap(), 0);
        });
    }

    #[test]
    fn overflowing_dot_products_are_skipped_not_misordered() {
        block_on(async {
            let store = MemoryVectorStore::new(2, Metric::Dot).unwrap();
            store
                .upsert(vec![
                    Document::new("inf", vec![f32::MAX, f32::MAX]),
                    Document::new("nan", vec![f32::MAX, -f32::MAX]),
                    Document::new("one", vec![1.0, 0.0]),
                ])
                .await
                .unwrap();
            let hits = store.search_k(vec![2.0, 2.0], 10).await.unwrap();
            assert_eq!(ids(&hits), ["inf", "one"]);
            assert_eq!(hits[0].score, f32::INFINITY);
        });
    }

    #[test]
    fn metadata_and_text_come_back_unchanged() {
        block_on(async {
            let store = MemoryVectorStore::new(1, Metric::Euclidean).unwrap();
            let meta = json!({"n": 1, "f": 1.5, "s": "ü", "a": [1, {"b": null}], "t": true});
            let doc = Document::new("x", vec![1.0])
                .with_text("text")
                .with_metadata_map(meta.as_object().unwrap().clone());
            store.upsert_one(doc.clone()).await.unwrap();
            let hit = &store.search_k(vec![1.0], 1).await.unwrap()[0];
            assert_eq!(hit.metadata, doc.metadata);
            assert_eq!(hit.text, doc.text);
        });
    }
}
