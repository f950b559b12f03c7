//! [`Filter`]: a small, backend-neutral algebra over document metadata.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::{Error, Result};

/// How deeply filters (and the JSON values inside them) may nest. Deeper ones are rejected by
/// [`Filter::validate`], which keeps [`Filter::matches`] from exhausting the stack on hostile input.
pub const MAX_FILTER_DEPTH: usize = 64;

/// A condition on a document's metadata, restricting which documents a search considers.
///
/// A plain enum, so that every backend can translate it (to SQL over `jsonb` for pgvector, to a `where`
/// clause for Chroma) and so that it serialises as JSON:
/// `{"and": [{"eq": ["lang", "en"]}, {"range": {"field": "year", "gte": 2020.0}}]}`.
///
/// # Semantics
///
/// Every backend must give these answers; the conformance suite checks them.
///
/// - **Fields** name top-level metadata keys. If no top-level key has exactly that name and the name
///   contains dots, the dots walk into nested objects: `"author.name"` reads `{"author": {"name": ..}}`.
///   (Backends without nested metadata may support top-level keys only; see the conformance
///   capabilities.) A field that is absent is *missing*; a field whose value is JSON `null` is present.
/// - **Values** compare as JSON, except that numbers compare by value: `1`, `1.0` and `1e0` are equal.
///   Arrays and objects compare element by element; `Eq` does not look *inside* an array
///   (`Eq("tags", "a")` does not match `"tags": ["a", "b"]`).
/// - [`Eq`](Filter::Eq) on a missing field is `false`.
/// - [`Ne`](Filter::Ne) is exactly `Not(Eq)`: it matches documents whose field differs **or is missing**.
/// - [`In`](Filter::In) matches when the field equals any listed value; an empty list matches nothing.
/// - [`Range`](Filter::Range) compares numbers only: on a missing or non-numeric field (a string, even
///   `"2020"`) it is `false`. All bounds that are set must hold.
/// - [`And`](Filter::And) of no filters matches everything; [`Or`](Filter::Or) of none matches nothing.
///
/// # Validation
///
/// [`Filter::validate`] rejects, with [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest): an
/// empty field name, a range with no bound or a NaN bound, and nesting deeper than [`MAX_FILTER_DEPTH`].
/// Stores validate every filter before they search.
///
/// ```
/// use serde_json::json;
/// use twelve_factor_ai::vector::Filter;
///
/// let filter = Filter::eq("lang", "en")
///     .and(Filter::gte("year", 2020))
///     .and(Filter::not(Filter::is_in("status", ["draft", "deleted"])));
/// filter.validate()?;
///
/// let meta = json!({"lang": "en", "year": 2021.0, "status": "published"});
/// assert!(filter.matches(meta.as_object().unwrap()));
///
/// let meta = json!({"lang": "en", "year": "2021"}); // a string is not a number
/// assert!(!filter.matches(meta.as_object().unwrap()));
/// # Ok::<(), twelve_factor_ai::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// The field is present and equal to the value.
    Eq(String, Value),
    /// Not [`Eq`](Filter::Eq): the field is missing or differs from the value.
    Ne(String, Value),
    /// The field is present and equal to one of the values. An empty list matches nothing.
    In(String, Vec<Value>),
    /// The field is a number within the bounds that are set (at least one must be).
    Range {
        /// The metadata field.
        field: String,
        /// Exclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gt: Option<f64>,
        /// Inclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gte: Option<f64>,
        /// Exclusive upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lt: Option<f64>,
        /// Inclusive upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lte: Option<f64>,
    },
    /// Every filter matches (true when empty).
    And(Vec<Filter>),
    /// At least one filter matches (false when empty).
    Or(Vec<Filter>),
    /// The filter does not match.
    Not(Box<Filter>),
}

impl Filter {
    /// `field == value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Eq(field.into(), value.into())
    }

    /// `field != value` (also true when the field is missing).
    pub fn ne(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Ne(field.into(), value.into())
    }

    /// `field` equals one of `values`.
    pub fn is_in<V: Into<Value>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Filter::In(field.into(), values.into_iter().map(Into::into).collect())
    }

    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<f64>) -> Self {
        Self::range(field, Some(value.into()), None, None, None)
    }

    /// `field >= value`.
    pub fn gte(field: impl Into<String>, value: impl Into<f64>) -> Self {
        Self::range(field, None, Some(value.into()), None, None)
    }

    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<f64>) -> Self {
        Self::range(field, None, None, Some(value.into()), None)
    }

    /// `field <= value`.
    pub fn lte(field: impl Into<String>, value: impl Into<f64>) -> Self {
        Self::range(field, None, None, None, Some(value.into()))
    }

    /// `low <= field <= high`.
    pub fn between(field: impl Into<String>, low: impl Into<f64>, high: impl Into<f64>) -> Self {
        Self::range(field, None, Some(low.into()), None, Some(high.into()))
    }

    fn range(
        field: impl Into<String>,
        gt: Option<f64>,
        gte: Option<f64>,
        lt: Option<f64>,
        lte: Option<f64>,
    ) -> Self {
        Filter::Range {
            field: field.into(),
            gt,
            gte,
            lt,
            lte,
        }
    }

    /// Every one of `filters` (matches everything when there are none).
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::And(filters.into_iter().collect())
    }

    /// Any one of `filters` (matches nothing when there are none).
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::Or(filters.into_iter().collect())
    }

    /// The negation of `filter`. Also available as `!filter`.
    #[allow(clippy::should_implement_trait)] // it is implemented too; this reads better in builders
    pub fn not(filter: Filter) -> Self {
        Filter::Not(Box::new(filter))
    }

    /// `self` and `other`; appends to `self` when it already is an [`And`](Filter::And).
    pub fn and(self, other: Filter) -> Self {
        match self {
            Filter::And(mut filters) => {
                filters.push(other);
                Filter::And(filters)
            }
            this => Filter::And(vec![this, other]),
        }
    }

    /// `self` or `other`; appends to `self` when it already is an [`Or`](Filter::Or).
    pub fn or(self, other: Filter) -> Self {
        match self {
            Filter::Or(mut filters) => {
                filters.push(other);
                Filter::Or(filters)
            }
            this => Filter::Or(vec![this, other]),
        }
    }

    /// Checks the filter is well formed: no empty field name, every range has at least one bound and no
    /// NaN bound, and nothing nests deeper than [`MAX_FILTER_DEPTH`]. Walks the filter without recursion.
    pub fn validate(&self) -> Result<()> {
        let mut stack: Vec<(&Filter, usize)> = vec![(self, 1)];
        while let Some((filter, depth)) = stack.pop() {
            if depth > MAX_FILTER_DEPTH {
                return Err(too_deep());
            }
            match filter {
                Filter::Eq(field, value) | Filter::Ne(field, value) => {
                    check_field(field)?;
                    check_value_depth(value, depth)?;
                }
                Filter::In(field, values) => {
                    check_field(field)?;
                    for value in values {
                        check_value_depth(value, depth)?;
                    }
                }
                Filter::Range {
                    field,
                    gt,
                    gte,
                    lt,
                    lte,
                } => {
                    check_field(field)?;
                    let bounds = [gt, gte, lt, lte];
                    if bounds.iter().all(|b| b.is_none()) {
                        return Err(Error::invalid_request(format!(
                            "filter: range on {field:?} has no bound; set at least one of gt, gte, lt, lte"
                        )));
                    }
                    if bounds.iter().any(|b| b.is_some_and(f64::is_nan)) {
                        return Err(Error::invalid_request(format!(
                            "filter: range on {field:?} has a NaN bound"
                        )));
                    }
                }
                Filter::And(filters) | Filter::Or(filters) => {
                    stack.extend(filters.iter().map(|f| (f, depth + 1)));
                }
                Filter::Not(inner) => stack.push((inner, depth + 1)),
            }
        }
        Ok(())
    }

    /// Whether a document with `metadata` passes the filter (see the type's docs for the semantics).
    ///
    /// Meant for filters that passed [`validate`](Filter::validate); an invalid one gives an answer but
    /// not a meaningful one (a range with no bound matches every number).
    pub fn matches(&self, metadata: &Map<String, Value>) -> bool {
        match self {
            Filter::Eq(field, value) => lookup(metadata, field).is_some_and(|v| value_eq(v, value)),
            Filter::Ne(field, value) => {
                !lookup(metadata, field).is_some_and(|v| value_eq(v, value))
            }
            Filter::In(field, values) => lookup(metadata, field)
                .is_some_and(|v| values.iter().any(|value| value_eq(v, value))),
            Filter::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            } => match lookup(metadata, field).and_then(Value::as_f64) {
                Some(x) => {
                    gt.is_none_or(|b| x > b)
                        && gte.is_none_or(|b| x >= b)
                        && lt.is_none_or(|b| x < b)
                        && lte.is_none_or(|b| x <= b)
                }
                None => false,
            },
            Filter::And(filters) => filters.iter().all(|f| f.matches(metadata)),
            Filter::Or(filters) => filters.iter().any(|f| f.matches(metadata)),
            Filter::Not(inner) => !inner.matches(metadata),
        }
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;

    fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }
}

fn too_deep() -> Error {
    Error::invalid_request(format!(
        "filter: nested more than {MAX_FILTER_DEPTH} levels deep"
    ))
}

fn check_field(field: &str) -> Result<()> {
    if field.is_empty() {
        return Err(Error::invalid_request("filter: field name is empty"));
    }
    Ok(())
}

/// Rejects a JSON value that, at filter depth `depth`, would nest past [`MAX_FILTER_DEPTH`].
fn check_value_depth(value: &Value, depth: usize) -> Result<()> {
    let mut stack = vec![(value, depth)];
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_FILTER_DEPTH {
            return Err(too_deep());
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// The value of `field`: the top-level key of that name, or else the dotted path into nested objects.
fn lookup<'a>(metadata: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    if let Some(value) = metadata.get(field) {
        return Some(value);
    }
    let mut parts = field.split('.');
    let first = parts.next()?;
    let mut value = metadata.get(first)?;
    let mut walked = false;
    for part in parts {
        value = value.as_object()?.get(part)?;
        walked = true;
    }
    walked.then_some(value)
}

/// JSON equality, except that numbers compare by value (`1 == 1.0`). Recursion is bounded by the depth
/// of `b`, the filter's value, which [`Filter::validate`] limits.
fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| value_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && y.iter()
                    .all(|(k, b)| x.get(k).is_some_and(|a| value_eq(a, b)))
        }
        _ => a == b,
    }
}

fn number_eq(x: &Number, y: &Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a == b;
    }
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn eq_and_ne_on_missing_fields() {
        let m = meta(json!({"lang": "en", "n": null}));
        assert!(Filter::eq("lang", "en").matches(&m));
        assert!(!Filter::eq("lang", "de").matches(&m));
        assert!(!Filter::eq("missing", "en").matches(&m));
        assert!(!Filter::eq("missing", Value::Null).matches(&m));
        assert!(Filter::eq("n", Value::Null).matches(&m));
        // Ne is exactly Not(Eq): a missing field matches.
        assert!(Filter::ne("missing", "en").matches(&m));
        assert!(Filter::ne("lang", "de").matches(&m));
        assert!(!Filter::ne("lang", "en").matches(&m));
        for f in [
            Filter::eq("lang", "en"),
            Filter::eq("missing", 1),
            Filter::eq("n", 1),
        ] {
            let Filter::Eq(field, value) = f.clone() else {
                unreachable!()
            };
            assert_eq!(
                Filter::Ne(field, value).matches(&m),
                Filter::not(f).matches(&m)
            );
        }
    }

    #[test]
    fn numbers_compare_by_value() {
        let m = meta(json!({"i": 1, "f": 1.0, "neg": -3, "big": u64::MAX, "s": "1"}));
        assert!(Filter::eq("i", 1.0).matches(&m));
        assert!(Filter::eq("f", 1).matches(&m));
        assert!(Filter::eq("neg", -3.0).matches(&m));
        assert!(Filter::eq("big", u64::MAX).matches(&m));
        assert!(!Filter::eq("big", u64::MAX - 1).matches(&m));
        assert!(!Filter::eq("s", 1).matches(&m), "a string is not a number");
        assert!(Filter::is_in("i", [json!("x"), json!(1.0)]).matches(&m));
        assert!(Filter::eq("arr", json!([1, 2.0])).matches(&meta(json!({"arr": [1.0, 2]}))));
        assert!(Filter::eq("obj", json!({"a": 1})).matches(&meta(json!({"obj": {"a": 1.0}}))));
        assert!(
            !Filter::eq("obj", json!({"a": 1})).matches(&meta(json!({"obj": {"a": 1, "b": 2}})))
        );
        assert!(!Filter::eq("tags", "a").matches(&meta(json!({"tags": ["a", "b"]}))));
    }

    #[test]
    fn in_and_range() {
        let m = meta(json!({"lang": "en", "year": 2021, "ratio": 0.5, "label": "2021"}));
        assert!(Filter::is_in("lang", ["de", "en"]).matches(&m));
        assert!(!Filter::is_in("lang", ["de", "fr"]).matches(&m));
        assert!(!Filter::is_in("lang", Vec::<Value>::new()).matches(&m));
        assert!(!Filter::is_in("missing", ["en"]).matches(&m));

        assert!(Filter::gte("year", 2021).matches(&m));
        assert!(!Filter::gt("year", 2021).matches(&m));
        assert!(Filter::lte("year", 2021).matches(&m));
        assert!(!Filter::lt("year", 2021).matches(&m));
        assert!(Filter::between("ratio", 0.5, 0.5).matches(&m));
        assert!(!Filter::between("ratio", 0.6, 1.0).matches(&m));
        assert!(!Filter::gte("label", 2000).matches(&m), "range on a string");
        assert!(!Filter::gte("missing", 0).matches(&m));
        let both = Filter::Range {
            field: "year".into(),
            gt: Some(2020.0),
            gte: None,
            lt: Some(2022.0),
            lte: Some(2021.0),
        };
        assert!(both.matches(&m));
    }

    #[test]
    fn boolean_algebra() {
        let m = meta(json!({"a": 1, "b": 2}));
        assert!(Filter::And(vec![]).matches(&m), "And([]) matches all");
        assert!(!Filter::Or(vec![]).matches(&m), "Or([]) matches none");
        assert!(!Filter::Not(Box::new(Filter::And(vec![]))).matches(&m));
        let a1 = Filter::eq("a", 1);
        let b3 = Filter::eq("b", 3);
        assert!(!a1.clone().and(b3.clone()).matches(&m));
        assert!(a1.clone().or(b3.clone()).matches(&m));
        assert!((!b3.clone()).matches(&m));
        assert!(Filter::all([a1.clone(), !b3.clone()]).matches(&m));
        assert!(!Filter::any([!a1.clone(), b3.clone()]).matches(&m));
        // Builders flatten.
        let f = a1.clone().and(b3.clone()).and(a1.clone());
        assert!(matches!(&f, Filter::And(v) if v.len() == 3));
        let f = a1.clone().or(b3.clone()).or(a1);
        assert!(matches!(&f, Filter::Or(v) if v.len() == 3));
    }

    #[test]
    fn dotted_paths() {
        let m = meta(json!({
            "author": {"name": "Ada", "born": 1815},
            "a.b": "literal",
            "a": {"b": "nested"},
            "scalar": 3
        }));
        assert!(Filter::eq("author.name", "Ada").matches(&m));
        assert!(Filter::between("author.born", 1800, 1900).matches(&m));
        assert!(!Filter::eq("author.missing", "Ada").matches(&m));
        assert!(!Filter::eq("scalar.x", 3).matches(&m));
        assert!(
            Filter::eq("a.b", "literal").matches(&m),
            "an exact key wins"
        );
        assert!(Filter::ne("author.missing", "x").matches(&m));
        assert!(!Filter::eq("", 1).matches(&m));
    }

    #[test]
    fn validation() {
        let ok = [
            Filter::eq("a", 1),
            Filter::gte("y", 2020),
            Filter::And(vec![]),
            Filter::Or(vec![]),
            Filter::is_in("a", Vec::<Value>::new()),
            Filter::not(Filter::ne("a", json!({"x": [1, 2]}))),
        ];
        for f in ok {
            f.validate().unwrap();
        }
        let no_bound = Filter::Range {
            field: "y".into(),
            gt: None,
            gte: None,
            lt: None,
            lte: None,
        };
        let bad = [
            (Filter::eq("", 1), "field name is empty"),
            (Filter::is_in("", [1]), "field name is empty"),
            (Filter::gte("", 1), "field name is empty"),
            (no_bound, "has no bound"),
            (Filter::gte("y", f64::NAN), "NaN bound"),
            (Filter::between("y", 0.0, f64::NAN), "NaN bound"),
            (
                Filter::eq("a", 1).and(Filter::not(Filter::eq("", 1))),
                "field name is empty",
            ),
        ];
        for (f, msg) in bad {
            let err = f.validate().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert!(err.message().contains(msg), "{err}");
        }

        let mut deep = Filter::eq("a", 1);
        for _ in 0..MAX_FILTER_DEPTH {
            deep = Filter::not(deep);
        }
        assert!(deep.validate().unwrap_err().message().contains("nested"));
        let mut value = json!(1);
        for _ in 0..MAX_FILTER_DEPTH {
            value = json!([value]);
        }
        assert!(Filter::eq("a", value).validate().is_err());
    }

    #[test]
    fn serde_shape() {
        let f = Filter::eq("lang", "en")
            .and(Filter::gte("year", 2020))
            .and(Filter::not(Filter::is_in("s", ["x"])))
            .and(Filter::ne("k", 1).or(Filter::lt("n", 2)));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(
            json,
            json!({"and": [
                {"eq": ["lang", "en"]},
                {"range": {"field": "year", "gte": 2020.0}},
                {"not": {"in": ["s", ["x"]]}},
                {"or": [{"ne": ["k", 1]}, {"range": {"field": "n", "lt": 2.0}}]}
            ]})
        );
        let back: Filter = serde_json::from_value(json).unwrap();
        assert_eq!(back, f);
    }
}
