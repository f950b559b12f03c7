//! Conformance suite for [`VectorStore`]: what every backend must mean by upsert, search, delete and count.
//!
//! In the manner of `object_store`'s integration suite, the checks are plain `async fn`s that take a
//! `&dyn VectorStore` and **panic** with a message naming the check when the store does not conform.
//! [`vector_store`] runs them all; each is also public, so a backend that lacks a capability can run the
//! subset it supports. What a backend can do is described by [`VectorStoreCapabilities`].
//!
//! Precondition: the store is **empty** (a fresh collection or table). Each check removes what it wrote,
//! so the suite leaves the store empty, and checks can run one after another on the same store. Checks
//! use ids starting with `conformance-`.
//!
//! # Running it against your backend
//!
//! In the backend crate's `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! twelve-factor-ai = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! and a test, `tests/conformance.rs`:
//!
//! ```ignore
//! use twelve_factor_ai::testing::conformance::vector_store::{vector_store, VectorStoreCapabilities};
//! use twelve_factor_ai::vector::Metric;
//!
//! #[tokio::test]
//! async fn my_store_conforms() {
//!     let store = MyStore::connect("http://127.0.0.1:8000", "conformance", 384).await.unwrap();
//!     let caps = VectorStoreCapabilities::new(384, Metric::Cosine)
//!         .with_json_metadata(false); // e.g. a backend whose metadata is flat
//!     vector_store(&store, &caps).await;
//! }
//! ```
//!
//! The same, run here against the in-memory store:
//!
//! ```
//! use twelve_factor_ai::testing::conformance::vector_store::{vector_store, VectorStoreCapabilities};
//! use twelve_factor_ai::vector::{MemoryVectorStore, Metric};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> twelve_factor_ai::Result<()> {
//! for metric in Metric::ALL {
//!     let store = MemoryVectorStore::new(16, metric)?;
//!     vector_store(&store, &VectorStoreCapabilities::new(16, metric).with_dotted_paths(true)).await;
//! }
//! # Ok(())
//! # }
//! ```

use serde_json::{Map, Value, json};

use crate::ErrorKind;
use crate::vector::{Document, Filter, Metric, SearchHit, VectorQuery, VectorStore};

/// What the store under test can do; the suite skips or adapts the checks that need more.
///
/// Start from [`VectorStoreCapabilities::new`] (everything the trait promises, no optional extras) and
/// turn capabilities off or on with the `with_*` methods.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct VectorStoreCapabilities {
    /// The store's dimension. The suite needs at least 2.
    pub dimension: usize,
    /// The store's metric.
    pub metric: Metric,
    /// The store supports [`Filter`]s. Default `true`. When `false`, the filter checks are skipped and an
    /// invalid filter may fail with `Unsupported` instead of `InvalidRequest`.
    pub filters: bool,
    /// Filters reach into nested objects with dotted field names (`"author.name"`). Default `false`.
    pub dotted_paths: bool,
    /// Metadata values may be any JSON: `null`, arrays and nested objects, not only strings, numbers and
    /// booleans. Default `true`.
    pub json_metadata: bool,
    /// Hits with equal scores come back in ascending id order even at the `k` boundary. Default `true`
    /// (it is the trait's contract; approximate indexes may not manage it).
    pub ties_by_id: bool,
    /// How far a returned score may be from [`Metric::score`]'s reference value. Default `1e-4`.
    pub score_tolerance: f32,
}

impl VectorStoreCapabilities {
    /// The capabilities of a store of `dimension` and `metric` that does everything the trait promises.
    pub fn new(dimension: usize, metric: Metric) -> Self {
        VectorStoreCapabilities {
            dimension,
            metric,
            filters: true,
            dotted_paths: false,
            json_metadata: true,
            ties_by_id: true,
            score_tolerance: 1e-4,
        }
    }

    /// Sets [`filters`](Self::filters).
    pub fn with_filters(mut self, yes: bool) -> Self {
        self.filters = yes;
        self
    }

    /// Sets [`dotted_paths`](Self::dotted_paths).
    pub fn with_dotted_paths(mut self, yes: bool) -> Self {
        self.dotted_paths = yes;
        self
    }

    /// Sets [`json_metadata`](Self::json_metadata).
    pub fn with_json_metadata(mut self, yes: bool) -> Self {
        self.json_metadata = yes;
        self
    }

    /// Sets [`ties_by_id`](Self::ties_by_id).
    pub fn with_ties_by_id(mut self, yes: bool) -> Self {
        self.ties_by_id = yes;
        self
    }

    /// Sets [`score_tolerance`](Self::score_tolerance).
    pub fn with_score_tolerance(mut self, tolerance: f32) -> Self {
        self.score_tolerance = tolerance;
        self
    }
}

/// Runs every check, in order: [`health_check`], [`upsert_and_count`], [`upsert_replaces_by_id`],
/// [`search_orders_by_score`], [`search_respects_k`], [`min_score`], [`filters`], [`delete`],
/// [`bad_input_leaves_store_unchanged`], [`metadata_and_text_round_trip`].
///
/// Panics on the first non-conformance. The store must be empty; it is left empty.
pub async fn vector_store(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    health_check(store, caps).await;
    upsert_and_count(store, caps).await;
    upsert_replaces_by_id(store, caps).await;
    search_orders_by_score(store, caps).await;
    search_respects_k(store, caps).await;
    min_score(store, caps).await;
    filters(store, caps).await;
    delete(store, caps).await;
    bad_input_leaves_store_unchanged(store, caps).await;
    metadata_and_text_round_trip(store, caps).await;
}

/// `health_check` succeeds on a working store.
pub async fn health_check(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    let _ = caps;
    if let Err(err) = store.health_check().await {
        panic!("health_check: a working store reported {err}");
    }
}

/// `upsert` adds documents, `count` counts them, an empty batch is a no-op.
pub async fn upsert_and_count(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "upsert_and_count";
    let t = Setup::new(CHECK, store, caps).await;
    t.upsert(vec![]).await;
    t.expect_count(0, "after upserting an empty batch").await;
    t.upsert(vec![t.doc("a", 0), t.doc("b", 1), t.doc("c", 2)])
        .await;
    t.expect_count(3, "after upserting 3 documents").await;
    t.upsert(vec![t.doc("d", 3), t.doc("e", 4)]).await;
    t.expect_count(5, "after upserting 2 more").await;
    let removed = t.delete(&["a", "b", "c", "d", "e"]).await;
    assert_eq!(
        removed, 5,
        "{CHECK}: delete of 5 stored ids reported {removed}"
    );
    t.expect_count(0, "after deleting everything").await;
}

/// Upserting an existing id replaces the whole document: embedding, text and metadata (not merged).
pub async fn upsert_replaces_by_id(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "upsert_replaces_by_id";
    let t = Setup::new(CHECK, store, caps).await;
    t.upsert(vec![
        t.doc("r", 5)
            .with_text("old")
            .with_metadata("v", 1)
            .with_metadata("old_only", true),
    ])
    .await;
    t.upsert(vec![t.doc("r", 0).with_text("new").with_metadata("v", 2)])
        .await;
    t.expect_count(1, "after upserting the same id twice").await;
    let hits = t.search(t.query(0, 10)).await;
    t.expect_hits(&hits, 0, &[("r", 0)], "the replaced document");
    assert_eq!(
        hits[0].text.as_deref(),
        Some("new"),
        "{CHECK}: text was not replaced"
    );
    assert_eq!(
        Value::Object(hits[0].metadata.clone()),
        json!({"v": 2}),
        "{CHECK}: metadata must be replaced as a whole, not merged"
    );

    // A batch mixing a replacement and a new id; the replacement also drops the text.
    t.upsert(vec![t.doc("r", 3), t.doc("s", 1)]).await;
    t.expect_count(2, "after a batch with one replacement and one new id")
        .await;
    let hits = t.search(t.query(0, 10)).await;
    t.expect_hits(&hits, 0, &[("s", 1), ("r", 3)], "after the mixed batch");
    assert_eq!(
        hits[1].text, None,
        "{CHECK}: a replacement without text must clear the old text"
    );
    assert!(
        hits[1].metadata.is_empty(),
        "{CHECK}: a replacement without metadata must clear the old metadata"
    );
    t.cleanup(&["r", "s"]).await;
}

/// Hits come back best first with the metric's scores (and, with
/// [`ties_by_id`](VectorStoreCapabilities::ties_by_id), equal scores in ascending id order).
pub async fn search_orders_by_score(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "search_orders_by_score";
    let t = Setup::new(CHECK, store, caps).await;
    // Ids run against the score order, and the batch is shuffled, so neither can pass for ranking.
    let names = ["h", "g", "f", "e", "d", "c", "b", "a"];
    let order = [3, 7, 0, 5, 1, 6, 2, 4];
    t.upsert(order.iter().map(|&i| t.doc(names[i], i)).collect())
        .await;
    let expected: Vec<(&str, usize)> = (0..8).map(|i| (names[i], i)).collect();
    let hits = t.search(t.query(0, 8)).await;
    t.expect_hits(&hits, 0, &expected, "query at angle 0");
    for pair in hits.windows(2) {
        assert!(
            pair[0].score >= pair[1].score,
            "{CHECK}: scores must not increase: {} then {}",
            pair[0].score,
            pair[1].score
        );
    }
    // From the other end the order reverses.
    let hits = t.search(t.query(7, 8)).await;
    let reversed: Vec<(&str, usize)> = expected.iter().rev().copied().collect();
    t.expect_hits(&hits, 7, &reversed, "query at angle 7");

    if caps.ties_by_id {
        t.upsert(vec![
            t.doc("tie-b", 12),
            t.doc("tie-a", 12),
            t.doc("tie-c", 12),
        ])
        .await;
        let hits = t.search(t.query(12, 1)).await;
        t.expect_hits(
            &hits,
            12,
            &[("tie-a", 12)],
            "k = 1 among three equal scores",
        );
        let hits = t.search(t.query(12, 3)).await;
        t.expect_hits(
            &hits,
            12,
            &[("tie-a", 12), ("tie-b", 12), ("tie-c", 12)],
            "three equal scores",
        );
        t.remove(&["tie-a", "tie-b", "tie-c"]).await;
    }
    t.cleanup(&names).await;
}

/// A search returns at most `k` hits (the best `k`), and all of them when `k` exceeds the count.
pub async fn search_respects_k(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "search_respects_k";
    let t = Setup::new(CHECK, store, caps).await;
    let hits = t.search(t.query(0, 5)).await;
    assert!(
        hits.is_empty(),
        "{CHECK}: an empty store returned {} hits",
        hits.len()
    );
    let names = ["k0", "k1", "k2", "k3", "k4"];
    t.upsert(names.iter().enumerate().map(|(i, n)| t.doc(n, i)).collect())
        .await;
    let all: Vec<(&str, usize)> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    for k in [1, 2, 3, 5] {
        let hits = t.search(t.query(0, k)).await;
        t.expect_hits(&hits, 0, &all[..k], &format!("k = {k}"));
    }
    for k in [6, 1000] {
        let hits = t.search(t.query(0, k)).await;
        t.expect_hits(&hits, 0, &all, &format!("k = {k} with 5 documents"));
    }
    t.cleanup(&names).await;
}

/// `min_score` drops hits scoring below it (under Euclidean it is a negated distance).
pub async fn min_score(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "min_score";
    let t = Setup::new(CHECK, store, caps).await;
    let names = ["m0", "m1", "m2", "m3", "m4", "m5"];
    t.upsert(names.iter().enumerate().map(|(i, n)| t.doc(n, i)).collect())
        .await;
    let all: Vec<(&str, usize)> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let between = |i: usize| (t.score_at(0, i) + t.score_at(0, i + 1)) / 2.0;

    let hits = t.search(t.query(0, 10).with_min_score(between(2))).await;
    t.expect_hits(
        &hits,
        0,
        &all[..3],
        "min_score between the 3rd and 4th scores",
    );
    let hits = t.search(t.query(0, 2).with_min_score(between(3))).await;
    t.expect_hits(&hits, 0, &all[..2], "k = 2 with min_score admitting 4");
    let hits = t.search(t.query(0, 10).with_min_score(between(0))).await;
    t.expect_hits(&hits, 0, &all[..1], "min_score admitting only the best");
    let above = t.score_at(0, 0) + 0.5;
    let hits = t.search(t.query(0, 10).with_min_score(above)).await;
    t.expect_hits(&hits, 0, &[], "min_score above every score");
    let below = t.score_at(0, 5) - 0.5;
    let hits = t.search(t.query(0, 10).with_min_score(below)).await;
    t.expect_hits(&hits, 0, &all, "min_score below every score");
    t.cleanup(&names).await;
}

/// Every [`Filter`] operator, with the documented semantics for missing fields, numbers (`1 == 1.0`),
/// non-numbers in ranges and empty `In` / `And` / `Or`; the filter applies before `k` is taken.
/// Skipped unless [`filters`](VectorStoreCapabilities::filters).
pub async fn filters(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "filters";
    if !caps.filters {
        return;
    }
    let t = Setup::new(CHECK, store, caps).await;
    let f0 = t
        .doc("f0", 0)
        .with_metadata("lang", "en")
        .with_metadata("year", 2019)
        .with_metadata("rating", 4.5);
    let f0 = if caps.json_metadata {
        f0.with_metadata("author", json!({"name": "ada", "born": 1815}))
    } else {
        f0
    };
    t.upsert(vec![
        f0,
        t.doc("f1", 1)
            .with_metadata("lang", "de")
            .with_metadata("year", 2021),
        t.doc("f2", 2)
            .with_metadata("lang", "en")
            .with_metadata("year", 2023.0),
        t.doc("f3", 3).with_metadata("year", "2021"),
        t.doc("f4", 4)
            .with_metadata("lang", "fr")
            .with_metadata("year", 2020)
            .with_metadata("draft", true),
        t.doc("f5", 5),
    ])
    .await;
    let f = |names: &[&'static str]| -> Vec<(&'static str, usize)> {
        names
            .iter()
            .map(|n| (*n, usize::from(n.as_bytes()[1] - b'0')))
            .collect()
    };
    let all = f(&["f0", "f1", "f2", "f3", "f4", "f5"]);
    let not_en = f(&["f1", "f3", "f4", "f5"]);
    /// (case name, filter, expected hits as (name, step)).
    type Case = (&'static str, Filter, Vec<(&'static str, usize)>);
    let cases: Vec<Case> = vec![
        ("eq on a string", Filter::eq("lang", "en"), f(&["f0", "f2"])),
        ("eq on a missing field", Filter::eq("nope", "en"), vec![]),
        (
            "eq 2021.0 matches 2021",
            Filter::eq("year", 2021.0),
            f(&["f1"]),
        ),
        (
            "eq 2023 matches 2023.0",
            Filter::eq("year", 2023),
            f(&["f2"]),
        ),
        ("eq on a float", Filter::eq("rating", 4.5), f(&["f0"])),
        (
            "eq \"2021\" matches only the string",
            Filter::eq("year", "2021"),
            f(&["f3"]),
        ),
        ("eq on a bool", Filter::eq("draft", true), f(&["f4"])),
        (
            "ne matches missing fields",
            Filter::ne("lang", "en"),
            not_en.clone(),
        ),
        ("in", Filter::is_in("lang", ["de", "fr"]), f(&["f1", "f4"])),
        (
            "in mixing numbers",
            Filter::is_in("year", [json!(2019.0), json!(2020)]),
            f(&["f0", "f4"]),
        ),
        (
            "in with an empty list",
            Filter::In("lang".into(), vec![]),
            vec![],
        ),
        (
            "range skips non-numbers",
            Filter::Range {
                field: "year".into(),
                gt: None,
                gte: Some(2020.0),
                lt: Some(2023.0),
                lte: None,
            },
            f(&["f1", "f4"]),
        ),
        ("gt", Filter::gt("year", 2019), f(&["f1", "f2", "f4"])),
        ("lte", Filter::lte("year", 2019), f(&["f0"])),
        (
            "between (inclusive)",
            Filter::between("year", 2021, 2023),
            f(&["f1", "f2"]),
        ),
        ("range on a missing field", Filter::gte("nope", 0), vec![]),
        (
            "and",
            Filter::eq("lang", "en").and(Filter::gte("year", 2020)),
            f(&["f2"]),
        ),
        (
            "or",
            Filter::eq("lang", "de").or(Filter::eq("draft", true)),
            f(&["f1", "f4"]),
        ),
        ("not", Filter::not(Filter::eq("lang", "en")), not_en.clone()),
        (
            "and of nothing matches all",
            Filter::And(vec![]),
            all.clone(),
        ),
        ("or of nothing matches nothing", Filter::Or(vec![]), vec![]),
        (
            "not of or-nothing",
            Filter::not(Filter::Or(vec![])),
            all.clone(),
        ),
        (
            "nested and/or/not",
            Filter::any([
                Filter::all([
                    Filter::eq("lang", "en"),
                    Filter::not(Filter::gt("year", 2020)),
                ]),
                Filter::eq("year", "2021"),
            ]),
            f(&["f0", "f3"]),
        ),
    ];
    for (name, filter, expected) in cases {
        let hits = t.search(t.query(0, 10).with_filter(filter)).await;
        t.expect_hits(&hits, 0, &expected, name);
    }
    let hits = t
        .search(t.query(0, 2).with_filter(Filter::ne("lang", "en")))
        .await;
    t.expect_hits(
        &hits,
        0,
        &f(&["f1", "f3"]),
        "the filter applies before k (k = 2 of the non-English)",
    );
    let hits = t
        .search(t.query(0, 1).with_filter(Filter::eq("lang", "fr")))
        .await;
    t.expect_hits(
        &hits,
        0,
        &f(&["f4"]),
        "k = 1 with a filter matching a far document",
    );
    let min = (t.score_at(0, 3) + t.score_at(0, 4)) / 2.0;
    let hits = t
        .search(
            t.query(0, 10)
                .with_filter(Filter::ne("lang", "en"))
                .with_min_score(min),
        )
        .await;
    t.expect_hits(&hits, 0, &f(&["f1", "f3"]), "filter with min_score");
    if caps.dotted_paths && caps.json_metadata {
        let hits = t
            .search(t.query(0, 10).with_filter(Filter::eq("author.name", "ada")))
            .await;
        t.expect_hits(&hits, 0, &f(&["f0"]), "a dotted path into a nested object");
        let hits = t
            .search(t.query(0, 10).with_filter(Filter::lt("author.born", 1900)))
            .await;
        t.expect_hits(&hits, 0, &f(&["f0"]), "a range on a dotted path");
    }
    t.cleanup(&["f0", "f1", "f2", "f3", "f4", "f5"]).await;
}

/// `delete` removes documents and reports how many existed; unknown and repeated ids are not errors.
pub async fn delete(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "delete";
    let t = Setup::new(CHECK, store, caps).await;
    t.upsert(vec![
        t.doc("d0", 0),
        t.doc("d1", 1),
        t.doc("d2", 2),
        t.doc("d3", 3),
    ])
    .await;
    let removed = t.delete(&["d1", "d3", "never-stored", "d1"]).await;
    assert_eq!(
        removed, 2,
        "{CHECK}: deleting 2 stored ids (one listed twice) and 1 unknown must report 2"
    );
    t.expect_count(2, "after deleting 2 of 4").await;
    let hits = t.search(t.query(0, 10)).await;
    t.expect_hits(
        &hits,
        0,
        &[("d0", 0), ("d2", 2)],
        "after deleting d1 and d3",
    );
    assert_eq!(
        t.delete(&[]).await,
        0,
        "{CHECK}: deleting no ids must report 0"
    );
    assert_eq!(
        t.delete(&["d1"]).await,
        0,
        "{CHECK}: deleting an already deleted id must report 0"
    );
    t.upsert(vec![t.doc("d1", 1)]).await;
    t.expect_count(3, "after upserting a deleted id again")
        .await;
    let hits = t.search(t.query(0, 10)).await;
    t.expect_hits(
        &hits,
        0,
        &[("d0", 0), ("d1", 1), ("d2", 2)],
        "after re-inserting d1",
    );
    t.cleanup(&["d0", "d1", "d2"]).await;
}

/// Each kind of bad input fails with `InvalidRequest` and leaves the store exactly as it was: a wrong
/// dimension, NaN or infinite values, an empty id, an id repeated within a batch (also when the rest of
/// the batch is valid), a zero vector under cosine, `k = 0`, a NaN `min_score`, an invalid filter.
pub async fn bad_input_leaves_store_unchanged(
    store: &dyn VectorStore,
    caps: &VectorStoreCapabilities,
) {
    const CHECK: &str = "bad_input_leaves_store_unchanged";
    let t = Setup::new(CHECK, store, caps).await;
    t.upsert(vec![
        t.doc("b0", 0).with_text("zero").with_metadata("n", 0),
        t.doc("b1", 1).with_text("one").with_metadata("n", 1),
        t.doc("b2", 2),
    ])
    .await;
    let snapshot = t.snapshot().await;
    let dim = caps.dimension;

    let with_value = |index: usize, value: f32| {
        let mut doc = t.doc("bad", 0);
        doc.embedding[index] = value;
        doc
    };
    let mut bad_upserts: Vec<(&str, Vec<Document>)> = vec![
        (
            "a vector one too long",
            vec![t.doc_raw("bad", vec![0.5; dim + 1])],
        ),
        (
            "a vector one too short",
            vec![t.doc_raw("bad", vec![0.5; dim - 1])],
        ),
        ("an empty vector", vec![t.doc_raw("bad", vec![])]),
        ("a NaN value", vec![with_value(dim - 1, f32::NAN)]),
        ("an infinite value", vec![with_value(0, f32::INFINITY)]),
        (
            "a negative infinite value",
            vec![with_value(1, f32::NEG_INFINITY)],
        ),
        ("an empty id", vec![Document::new("", t.vector(3))]),
        (
            "an id twice in one batch",
            vec![t.doc("dup", 3), t.doc("dup", 4)],
        ),
        (
            "a stored id twice in one batch",
            vec![t.doc("b0", 5), t.doc("b0", 6)],
        ),
        (
            "a valid new document followed by a bad one",
            vec![t.doc("fresh", 3), t.doc_raw("bad", vec![0.5; dim + 1])],
        ),
        (
            "a valid replacement followed by a bad one",
            vec![t.doc("b1", 7).with_text("changed"), with_value(0, f32::NAN)],
        ),
    ];
    if caps.metric == Metric::Cosine {
        bad_upserts.push((
            "a zero vector under cosine",
            vec![t.doc("fresh", 3), t.doc_raw("bad", vec![0.0; dim])],
        ));
    }
    for (name, docs) in bad_upserts {
        let result = store.upsert(docs).await;
        t.expect_invalid(result.map(|_| ()), &format!("upsert with {name}"), false);
        t.expect_snapshot(&snapshot, &format!("upsert with {name}"))
            .await;
    }

    let mut nan_query = t.query(0, 3);
    nan_query.embedding[dim - 1] = f32::NAN;
    let mut inf_query = t.query(0, 3);
    inf_query.embedding[0] = f32::INFINITY;
    let mut bad_queries: Vec<(&str, VectorQuery, bool)> = vec![
        (
            "a query one too long",
            VectorQuery::new(vec![0.5; dim + 1], 3),
            false,
        ),
        (
            "a query one too short",
            VectorQuery::new(vec![0.5; dim - 1], 3),
            false,
        ),
        ("a NaN in the query", nan_query, false),
        ("an infinite value in the query", inf_query, false),
        ("k = 0", t.query(0, 0), false),
        (
            "a NaN min_score",
            t.query(0, 3).with_min_score(f32::NAN),
            false,
        ),
        (
            "a filter with an empty field name",
            t.query(0, 3).with_filter(Filter::eq("", "x")),
            true,
        ),
        (
            "a range filter with no bound",
            t.query(0, 3).with_filter(Filter::Range {
                field: "n".into(),
                gt: None,
                gte: None,
                lt: None,
                lte: None,
            }),
            true,
        ),
        (
            "a range filter with a NaN bound",
            t.query(0, 3).with_filter(Filter::gte("n", f64::NAN)),
            true,
        ),
        (
            "an invalid filter nested in a valid one",
            t.query(0, 3)
                .with_filter(Filter::eq("n", 1).and(Filter::not(Filter::lt("", 2)))),
            true,
        ),
    ];
    if caps.metric == Metric::Cosine {
        bad_queries.push((
            "a zero query vector under cosine",
            VectorQuery::new(vec![0.0; dim], 3),
            false,
        ));
    }
    for (name, query, is_filter) in bad_queries {
        let result = store.search(query).await;
        t.expect_invalid(
            result.map(|_| ()),
            &format!("search with {name}"),
            is_filter,
        );
        t.expect_snapshot(&snapshot, &format!("search with {name}"))
            .await;
    }
    t.cleanup(&["b0", "b1", "b2"]).await;
}

/// Text and metadata come back from search exactly as stored (unicode, every JSON type with
/// [`json_metadata`](VectorStoreCapabilities::json_metadata)); absent text stays absent.
pub async fn metadata_and_text_round_trip(store: &dyn VectorStore, caps: &VectorStoreCapabilities) {
    const CHECK: &str = "metadata_and_text_round_trip";
    let t = Setup::new(CHECK, store, caps).await;
    let mut metadata = json!({
        "string": "Grüße, 世界 🦀 \"quoted\" \\ back",
        "int": 42,
        "negative": -7,
        "float": 0.125,
        "big": 9_007_199_254_740_991_i64,
        "yes": true,
        "no": false,
        "empty": "",
    });
    if caps.json_metadata {
        if let Some(m) = metadata.as_object_mut() {
            m.insert("null".into(), Value::Null);
            m.insert("list".into(), json!([1, "two", 3.5, null, [true]]));
            m.insert("object".into(), json!({"a": {"b": [1, 2]}, "c": "d"}));
        }
    }
    let Value::Object(metadata) = metadata else {
        unreachable!("json! of an object is an object")
    };
    let text = "line one\nline two\ttabbed — Grüße 🦀";
    t.upsert(vec![
        t.doc("rich", 0)
            .with_text(text)
            .with_metadata_map(metadata.clone()),
        t.doc("bare", 1),
    ])
    .await;
    let hits = t.search(t.query(0, 10)).await;
    t.expect_hits(&hits, 0, &[("rich", 0), ("bare", 1)], "the two documents");
    assert_eq!(
        hits[0].text.as_deref(),
        Some(text),
        "{CHECK}: text did not round-trip"
    );
    assert_eq!(
        Value::Object(hits[0].metadata.clone()),
        Value::Object(metadata),
        "{CHECK}: metadata did not round-trip"
    );
    assert_eq!(
        hits[1].text, None,
        "{CHECK}: a document stored without text came back with text"
    );
    assert_eq!(
        hits[1].metadata,
        Map::new(),
        "{CHECK}: a document stored without metadata came back with metadata"
    );
    t.cleanup(&["rich", "bare"]).await;
}

/// Shared plumbing for one check: names, vectors, and assertions that say which check failed.
struct Setup<'a> {
    check: &'static str,
    store: &'a dyn VectorStore,
    caps: &'a VectorStoreCapabilities,
}

/// Angle between neighbouring test vectors, in degrees.
const STEP_DEGREES: f64 = 6.0;

impl<'a> Setup<'a> {
    /// Checks the preconditions: a usable dimension and an empty store.
    async fn new(
        check: &'static str,
        store: &'a dyn VectorStore,
        caps: &'a VectorStoreCapabilities,
    ) -> Self {
        assert!(
            caps.dimension >= 2,
            "{check}: the conformance suite needs a store of dimension 2 or more, not {}",
            caps.dimension
        );
        let t = Setup { check, store, caps };
        let n = t.count().await;
        assert_eq!(
            n, 0,
            "{check}: the conformance suite needs an empty store, this one holds {n} documents"
        );
        t
    }

    fn id(&self, name: &str) -> String {
        format!("conformance-{name}")
    }

    /// The unit vector at `step * STEP_DEGREES` degrees in the plane of the first and last axes.
    /// Against the query at step 0, documents at larger steps score lower under every metric.
    fn vector(&self, step: usize) -> Vec<f32> {
        let angle = (step as f64 * STEP_DEGREES).to_radians();
        let mut v = vec![0.0f32; self.caps.dimension];
        v[0] = angle.cos() as f32;
        v[self.caps.dimension - 1] = angle.sin() as f32;
        v
    }

    fn doc(&self, name: &str, step: usize) -> Document {
        Document::new(self.id(name), self.vector(step))
    }

    fn doc_raw(&self, name: &str, embedding: Vec<f32>) -> Document {
        Document::new(self.id(name), embedding)
    }

    fn query(&self, step: usize, k: usize) -> VectorQuery {
        VectorQuery::new(self.vector(step), k)
    }

    /// The reference score of the document at `doc_step` for the query at `query_step`.
    fn score_at(&self, query_step: usize, doc_step: usize) -> f32 {
        self.caps
            .metric
            .score(&self.vector(query_step), &self.vector(doc_step))
    }

    async fn upsert(&self, docs: Vec<Document>) {
        if let Err(err) = self.store.upsert(docs).await {
            panic!("{}: upsert of valid documents failed: {err}", self.check);
        }
    }

    async fn search(&self, query: VectorQuery) -> Vec<SearchHit> {
        let what = format!("{query:?}");
        match self.store.search(query).await {
            Ok(hits) => hits,
            Err(err) => panic!("{}: search failed: {err}; query {what}", self.check),
        }
    }

    async fn delete(&self, names: &[&str]) -> usize {
        let ids: Vec<String> = names.iter().map(|n| self.id(n)).collect();
        match self.store.delete(&ids).await {
            Ok(n) => n,
            Err(err) => panic!("{}: delete failed: {err}", self.check),
        }
    }

    async fn count(&self) -> usize {
        match self.store.count().await {
            Ok(n) => n,
            Err(err) => panic!("{}: count failed: {err}", self.check),
        }
    }

    async fn expect_count(&self, expected: usize, when: &str) {
        let n = self.count().await;
        assert_eq!(
            n, expected,
            "{}: count {when} is {n}, expected {expected}",
            self.check
        );
    }

    /// Deletes what the check wrote and checks the store is empty again.
    async fn cleanup(&self, names: &[&str]) {
        self.remove(names).await;
        self.expect_count(0, "after cleanup").await;
    }

    /// Deletes documents the check wrote, checking each existed.
    async fn remove(&self, names: &[&str]) {
        let removed = self.delete(names).await;
        assert_eq!(
            removed,
            names.len(),
            "{}: cleanup deleted {removed} of {} documents",
            self.check,
            names.len()
        );
    }

    /// Checks the hits are exactly `expected` (name, step), in order, each scored as [`Metric::score`]
    /// says for the query at `query_step`.
    fn expect_hits(
        &self,
        hits: &[SearchHit],
        query_step: usize,
        expected: &[(&str, usize)],
        case: &str,
    ) {
        let got: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        let want: Vec<String> = expected.iter().map(|(n, _)| self.id(n)).collect();
        assert_eq!(
            got,
            want,
            "{}: {case}: wrong hits or order; scores {:?}",
            self.check,
            hits.iter().map(|h| h.score).collect::<Vec<_>>()
        );
        for hit in hits {
            assert!(
                hit.score.is_finite(),
                "{}: {case}: hit {} has a non-finite score {}",
                self.check,
                hit.id,
                hit.score
            );
        }
        for pair in hits.windows(2) {
            assert!(
                pair[0].score >= pair[1].score - self.caps.score_tolerance,
                "{}: {case}: scores must not increase: {} ({}) then {} ({})",
                self.check,
                pair[0].id,
                pair[0].score,
                pair[1].id,
                pair[1].score
            );
        }
        for (hit, &(_, step)) in hits.iter().zip(expected) {
            let want = self.score_at(query_step, step);
            assert!(
                (hit.score - want).abs() <= self.caps.score_tolerance,
                "{}: {case}: hit {} scored {}, the {} metric gives {want}",
                self.check,
                hit.id,
                hit.score,
                self.caps.metric
            );
        }
    }

    /// The full observable state: the count and every document's hit for a fixed query.
    async fn snapshot(&self) -> (usize, Vec<SearchHit>) {
        (self.count().await, self.search(self.query(0, 1000)).await)
    }

    async fn expect_snapshot(&self, before: &(usize, Vec<SearchHit>), after_what: &str) {
        let after = self.snapshot().await;
        assert_eq!(
            after.0, before.0,
            "{}: {after_what} changed the count from {} to {}",
            self.check, before.0, after.0
        );
        assert_eq!(
            &after.1, &before.1,
            "{}: {after_what} changed the stored documents",
            self.check
        );
    }

    fn expect_invalid(&self, result: crate::Result<()>, what: &str, is_filter: bool) {
        match result {
            Ok(()) => panic!(
                "{}: {what} succeeded; it must fail with InvalidRequest",
                self.check
            ),
            Err(err) => {
                let ok = err.kind() == ErrorKind::InvalidRequest
                    || (is_filter && !self.caps.filters && err.kind() == ErrorKind::Unsupported);
                assert!(
                    ok,
                    "{}: {what} failed with {:?}, expected InvalidRequest: {err}",
                    self.check,
                    err.kind()
                );
            }
        }
    }
}
