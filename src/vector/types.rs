//! The values that travel through a [`VectorStore`](super::VectorStore): documents, queries, hits and the
//! similarity metric.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Filter;
use super::distance;
use crate::{Error, Result};

/// One stored item: an id, its embedding, and optionally the text it was made from and metadata to
/// filter on.
///
/// Upserting a document whose id is already stored replaces the whole document (embedding, text and
/// metadata; metadata is not merged).
///
/// ```
/// use serde_json::json;
/// use twelve_factor_ai::vector::Document;
///
/// let doc = Document::new("doc-1", vec![0.1, 0.2, 0.3])
///     .with_text("Rust is a systems language.")
///     .with_metadata("lang", "en")
///     .with_metadata("year", 2024);
/// assert_eq!(doc.metadata["year"], json!(2024));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The caller's id, unique within a store. Must not be empty.
    pub id: String,
    /// The embedding; its length must equal the store's dimension and every value must be finite.
    pub embedding: Vec<f32>,
    /// The text the embedding was made from, returned with search hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Metadata that [`Filter`]s look at and search hits return unchanged.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl Document {
    /// A document with an id and an embedding, no text and no metadata.
    pub fn new(id: impl Into<String>, embedding: Vec<f32>) -> Self {
        Document {
            id: id.into(),
            embedding,
            text: None,
            metadata: Map::new(),
        }
    }

    /// Sets the text the embedding was made from.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets one metadata field, replacing an earlier value under the same key.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Replaces all metadata with `metadata`.
    pub fn with_metadata_map(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A nearest-neighbour query: the `k` best documents by [`Metric`] score, optionally restricted to those
/// whose metadata matches a [`Filter`] and whose score reaches `min_score`.
///
/// The filter restricts the candidates *before* the `k` best are chosen: a query for `k = 3` with a filter
/// returns the three best matching documents, not the matching ones among the three best overall.
///
/// ```
/// use twelve_factor_ai::vector::{Filter, VectorQuery};
///
/// let query = VectorQuery::new(vec![0.1, 0.2, 0.3], 5)
///     .with_filter(Filter::eq("lang", "en"))
///     .with_min_score(0.75);
/// assert_eq!(query.k, 5);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorQuery {
    /// The query embedding; its length must equal the store's dimension and every value must be finite.
    pub embedding: Vec<f32>,
    /// How many hits to return at most. Must be at least 1.
    pub k: usize,
    /// Only documents whose metadata matches this filter are candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// Only hits with a score at least this high are returned (see [`Metric`] for what scores mean).
    /// Must not be NaN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f32>,
}

impl VectorQuery {
    /// A query for the `k` documents nearest to `embedding`, with no filter and no minimum score.
    pub fn new(embedding: Vec<f32>, k: usize) -> Self {
        VectorQuery {
            embedding,
            k,
            filter: None,
            min_score: None,
        }
    }

    /// Restricts the candidates to documents whose metadata matches `filter`.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Drops hits whose score is below `min_score`.
    pub fn with_min_score(mut self, min_score: f32) -> Self {
        self.min_score = Some(min_score);
        self
    }

    /// Checks what can be checked without knowing the store: `k` is at least 1, `min_score` is not NaN,
    /// every embedding value is finite, and the filter is valid. Stores add their own dimension check.
    ///
    /// Every failure is an [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest).
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::invalid_request("vector query: k must be at least 1"));
        }
        if self.min_score.is_some_and(f32::is_nan) {
            return Err(Error::invalid_request("vector query: min_score is NaN"));
        }
        if let Some(i) = self.embedding.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid_request(format!(
                "vector query: embedding value at index {i} is not finite ({})",
                self.embedding[i]
            )));
        }
        if let Some(filter) = &self.filter {
            filter.validate()?;
        }
        Ok(())
    }
}

/// One search result: a stored document's id, its score for the query, and its text and metadata.
///
/// Hits come back best first (highest score first); hits with equal scores come in ascending id order.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The document's id.
    pub id: String,
    /// The document's score for the query: higher is better, see [`Metric`].
    pub score: f32,
    /// The document's text, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The document's metadata, unchanged.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl SearchHit {
    /// A hit with an id and a score, no text and no metadata (for backend authors).
    pub fn new(id: impl Into<String>, score: f32) -> Self {
        SearchHit {
            id: id.into(),
            score,
            text: None,
            metadata: Map::new(),
        }
    }

    /// Sets the document's text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets one metadata field.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Replaces all metadata with `metadata`.
    pub fn with_metadata_map(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// How a store scores a document against a query. Scores are always "higher is better", whatever the
/// metric, so `min_score` and the order of hits mean the same thing on every backend:
///
/// | metric | score | range for unit vectors |
/// |---|---|---|
/// | [`Cosine`](Metric::Cosine) | cosine similarity `a·b / (‖a‖‖b‖)` | `-1.0 ..= 1.0` |
/// | [`Dot`](Metric::Dot) | dot product `a·b` | `-1.0 ..= 1.0` |
/// | [`Euclidean`](Metric::Euclidean) | the **negated** L2 distance `-‖a - b‖` | `-2.0 ..= 0.0` |
///
/// So under `Euclidean` a `min_score` of `-0.5` keeps the documents at distance `0.5` or less. Backends
/// whose database reports distances (pgvector's `<=>` cosine distance `1 - cos`, Chroma's squared L2)
/// convert them to these scores.
///
/// Serialised (and parsed with [`FromStr`]) as `"cosine"`, `"dot"`, `"euclidean"`.
///
/// ```
/// use twelve_factor_ai::vector::Metric;
///
/// assert_eq!(Metric::Euclidean.score(&[0.0, 0.0], &[3.0, 4.0]), -5.0);
/// assert_eq!("cosine".parse::<Metric>()?, Metric::Cosine);
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Cosine similarity: the angle between the vectors, ignoring their lengths. The usual choice for
    /// text embeddings. Zero vectors have no direction and are rejected.
    Cosine,
    /// Dot (inner) product: for embeddings that are already normalised, or where length carries meaning.
    Dot,
    /// Euclidean distance, reported negated so that higher is better.
    Euclidean,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [Metric::Cosine, Metric::Dot, Metric::Euclidean];

    /// The name used in configuration and serialisation: `"cosine"`, `"dot"`, `"euclidean"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::Euclidean => "euclidean",
        }
    }

    /// The reference score of `b` for query `a` under this metric (see the table above): what every
    /// backend must return, up to rounding. Cosine of a zero vector is `NaN`.
    ///
    /// Computed directly in `f64` for accuracy; stores use faster kernels that agree to a few ULPs.
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        let dot = || -> f64 {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum()
        };
        let score = match self {
            Metric::Cosine => dot() / (distance::norm_f64(a) * distance::norm_f64(b)),
            Metric::Dot => dot(),
            Metric::Euclidean => -a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum::<f64>()
                .sqrt(),
        };
        score as f32
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = Error;

    /// Parses `"cosine"`, `"dot"` or `"euclidean"` (ASCII case-insensitive; `"l2"` and `"inner_product"`
    /// are accepted as aliases).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" => Ok(Metric::Cosine),
            "dot" | "inner_product" => Ok(Metric::Dot),
            "euclidean" | "l2" => Ok(Metric::Euclidean),
            _ => Err(Error::invalid_request(format!(
                "unknown vector metric {s:?}; expected \"cosine\", \"dot\" or \"euclidean\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T>(value: &T) -> T
    where
        T: Serialize + serde::de::DeserializeOwned,
    {
        let json = serde_json::to_string(value).unwrap();
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn serde_round_trips() {
        let doc = Document::new("a", vec![0.5, -1.0])
            .with_text("hello")
            .with_metadata("lang", "en")
            .with_metadata("nested", json!({"x": [1, 2.5, null]}));
        assert_eq!(round_trip(&doc), doc);
        let bare = Document::new("b", vec![1.0]);
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"id": "b", "embedding": [1.0]})
        );
        assert_eq!(round_trip(&bare), bare);

        let query = VectorQuery::new(vec![1.0, 2.0], 3)
            .with_filter(Filter::eq("lang", "en").and(Filter::gte("year", 2020)))
            .with_min_score(-0.5);
        assert_eq!(round_trip(&query), query);

        let hit = SearchHit::new("a", 0.25)
            .with_text("t")
            .with_metadata("k", true);
        assert_eq!(round_trip(&hit), hit);

        for metric in Metric::ALL {
            assert_eq!(round_trip(&metric), metric);
            assert_eq!(
                serde_json::to_value(metric).unwrap(),
                json!(metric.as_str())
            );
            assert_eq!(metric.as_str().parse::<Metric>().unwrap(), metric);
            assert_eq!(metric.to_string(), metric.as_str());
        }
        let err = "manhattan".parse::<Metric>().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidRequest);
    }

    #[test]
    fn reference_scores() {
        assert!(
            (Metric::Cosine.score(&[1.0, 0.0], &[2.0, 2.0]) - std::f32::consts::FRAC_1_SQRT_2)
                .abs()
                < 1e-6
        );
        assert_eq!(Metric::Dot.score(&[1.0, 2.0], &[3.0, 4.0]), 11.0);
        assert_eq!(Metric::Euclidean.score(&[1.0, 1.0], &[4.0, 5.0]), -5.0);
        assert!(Metric::Cosine.score(&[0.0, 0.0], &[1.0, 0.0]).is_nan());
    }

    #[test]
    fn query_validation() {
        let ok = VectorQuery::new(vec![1.0], 1);
        assert!(ok.validate().is_ok());
        let bad = [
            VectorQuery::new(vec![1.0], 0),
            VectorQuery::new(vec![f32::NAN], 1),
            VectorQuery::new(vec![f32::INFINITY], 1),
            VectorQuery::new(vec![1.0], 1).with_min_score(f32::NAN),
            VectorQuery::new(vec![1.0], 1).with_filter(Filter::eq("", 1)),
        ];
        for q in bad {
            let err = q.validate().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidRequest, "{q:?}");
        }
    }
}
