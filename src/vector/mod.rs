//! Vector stores: the [`VectorStore`] trait, documents, queries, filters and the in-memory store.
