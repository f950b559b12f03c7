//! [`MemoryCache`]: the in-process [`CacheBackend`], bounded in entries and bytes, least recently used
//! entries evicted first.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{CacheBackend, CacheValue};
use crate::Result;
use crate::llm::{ChatResponse, EmbedResponse};

/// An in-process cache: a hash map bounded by a number of entries and an estimate of the bytes they hold,
/// evicting the least recently used entry (exact LRU) when either bound is passed.
///
/// - **Bounds.** At most [`DEFAULT_MAX_ENTRIES`](MemoryCache::DEFAULT_MAX_ENTRIES) entries (10,000) and
///   [`DEFAULT_MAX_BYTES`](MemoryCache::DEFAULT_MAX_BYTES) (64 MiB) by default: ten thousand typical chat
///   answers of a few KiB fit in both, while the byte bound keeps a few huge entries (long answers, batches
///   of embedding vectors, 6 KiB per 1536-dimension vector) from growing the process without limit. Sizes
///   are estimates (text lengths, vector lengths and a fixed overhead per entry), not allocator truth. An
///   entry larger than the byte bound on its own is not stored.
/// - **Eviction.** Exact LRU: every read and write moves the entry to the back of a recency order kept in a
///   `BTreeMap`, so reads and writes cost O(log n) under one short lock, and eviction pops the front. Exact
///   LRU is cheap enough here that an approximation (sampling, CLOCK) would buy nothing measurable.
/// - **Expiry.** Each entry expires `ttl` after it was written ([`tokio::time::Instant`], so tests with
///   paused time are deterministic). An expired entry is never returned; it is removed when read, or when
///   its turn for eviction comes.
///
/// The state lives behind one `std::sync::Mutex`, never held across an `.await`. It is process memory: for
/// a cache shared by several workers, implement [`CacheBackend`] over Redis.
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
/// use twelve_factor_ai::layer::cache::{CacheBackend, CacheValue, MemoryCache};
/// use twelve_factor_ai::llm::ChatResponse;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> twelve_factor_ai::Result<()> {
/// let cache = MemoryCache::with_limits(NonZeroUsize::new(2).unwrap(), NonZeroUsize::new(1 << 20).unwrap());
/// let answer = |text: &str| CacheValue::Chat(ChatResponse::text("p", "m", text));
/// let ttl = Duration::from_secs(60);
/// cache.put("a", answer("A"), ttl).await?;
/// cache.put("b", answer("B"), ttl).await?;
/// cache.get("a").await?; // "a" is now the most recently used
/// cache.put("c", answer("C"), ttl).await?; // evicts "b"
/// assert!(cache.get("b").await?.is_none());
/// assert_eq!(cache.get("a").await?, Some(answer("A")));
/// assert_eq!(cache.len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryCache {
    max_entries: usize,
    max_bytes: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Arc<str>, Slot>,
    /// Recency order: the smallest tick is the least recently used entry.
    order: BTreeMap<u64, Arc<str>>,
    next_tick: u64,
    bytes: usize,
}

#[derive(Debug)]
struct Slot {
    value: CacheValue,
    /// `None`: the TTL was too long to represent, so the entry never expires.
    expires_at: Option<Instant>,
    tick: u64,
    bytes: usize,
}

impl State {
    fn tick(&mut self) -> u64 {
        let t = self.next_tick;
        self.next_tick = self.next_tick.wrapping_add(1);
        t
    }

    fn remove(&mut self, key: &str) -> bool {
        match self.entries.remove(key) {
            Some(slot) => {
                self.order.remove(&slot.tick);
                self.bytes = self.bytes.saturating_sub(slot.bytes);
                true
            }
            None => false,
        }
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryCache {
    /// Default bound on entries: 10,000 (see the type's docs).
    pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
    /// Default bound on estimated bytes: 64 MiB (see the type's docs).
    pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

    /// A cache with the default bounds (10,000 entries, 64 MiB).
    pub fn new() -> Self {
        MemoryCache {
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            state: Mutex::new(State::default()),
        }
    }

    /// A cache holding at most `max_entries` entries and about `max_bytes` bytes.
    pub fn with_limits(max_entries: NonZeroUsize, max_bytes: NonZeroUsize) -> Self {
        MemoryCache {
            max_entries: max_entries.get(),
            max_bytes: max_bytes.get(),
            state: Mutex::new(State::default()),
        }
    }

    /// The bound on entries.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The bound on estimated bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Entries held, counting expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// The estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    // A poisoned lock only means a thread panicked while holding it; every update below leaves the maps
    // consistent before anything that could panic, so the state is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get_now(&self, key: &str, now: Instant) -> Option<CacheValue> {
        let mut state = self.lock();
        let (expired, old_tick) = match state.entries.get(key) {
            None => return None,
            Some(slot) => (slot.expires_at.is_some_and(|at| at <= now), slot.tick),
        };
        if expired {
            state.remove(key);
            return None;
        }
        let tick = state.tick();
        if let Some(k) = state.order.remove(&old_tick) {
            state.order.insert(tick, k);
        }
        let slot = state.entries.get_mut(key)?;
        slot.tick = tick;
        Some(slot.value.clone())
    }

    fn put_now(&self, key: &str, value: CacheValue, ttl: Duration, now: Instant) {
        let bytes = estimate(key, &value);
        let mut state = self.lock();
        state.remove(key);
        if ttl.is_zero() || bytes > self.max_bytes {
            return;
        }
        let key: Arc<str> = Arc::from(key);
        let tick = state.tick();
        state.order.insert(tick, Arc::clone(&key));
        state.bytes = state.bytes.saturating_add(bytes);
        state.entries.insert(
            key,
            Slot {
                value,
                expires_at: now.checked_add(ttl),
                tick,
                bytes,
            },
        );
        while state.entries.len() > self.max_entries || state.bytes > self.max_bytes {
            let Some((_, oldest)) = state.order.pop_first() else {
                break;
            };
            if let Some(slot) = state.entries.remove(&oldest) {
                state.bytes = state.bytes.saturating_sub(slot.bytes);
            }
        }
    }
}

/// A rough size of an entry: its texts and vectors plus a fixed overhead for the map, the order and the
/// structs themselves.
fn estimate(key: &str, value: &CacheValue) -> usize {
    const OVERHEAD: usize = 256;
    let value_bytes = match value {
        CacheValue::Chat(r) => chat_bytes(r),
        CacheValue::Embed(r) => embed_bytes(r),
    };
    OVERHEAD
        .saturating_add(key.len().saturating_mul(2))
        .saturating_add(value_bytes)
}

fn chat_bytes(r: &ChatResponse) -> usize {
    let calls: usize = r
        .tool_calls
        .iter()
        .map(|c| 72 + c.id.len() + c.name.len() + c.arguments.len())
        .sum();
    std::mem::size_of::<ChatResponse>()
        + r.content.len()
        + calls
        + r.provider.len()
        + r.requested_model.len()
        + r.model.as_ref().map_or(0, String::len)
        + r.provider_request_id.as_ref().map_or(0, String::len)
}

fn embed_bytes(r: &EmbedResponse) -> usize {
    let vectors: usize = r
        .embeddings
        .iter()
        .map(|v| 24 + v.len() * std::mem::size_of::<f32>())
        .sum();
    std::mem::size_of::<EmbedResponse>() + vectors + r.provider.len() + r.model.len()
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl CacheBackend for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<CacheValue>> {
        Ok(self.get_now(key, Instant::now()))
    }

    async fn put(&self, key: &str, value: CacheValue, ttl: Duration) -> Result<()> {
        self.put_now(key, value, ttl, Instant::now());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.lock().remove(key))
    }

    async fn clear(&self) -> Result<()> {
        let mut state = self.lock();
        state.entries.clear();
        state.order.clear();
        state.bytes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(text: &str) -> CacheValue {
        CacheValue::Chat(ChatResponse::text("p", "m", text))
    }

    fn limits(entries: usize, bytes: usize) -> MemoryCache {
        MemoryCache::with_limits(
            NonZeroUsize::new(entries).unwrap(),
            NonZeroUsize::new(bytes).unwrap(),
        )
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn reads_refresh_recency_and_the_oldest_goes_first() {
        let c = limits(3, usize::MAX);
        let now = Instant::now();
        for k in ["a", "b", "c"] {
            c.put_now(k, chat(k), HOUR, now);
        }
        assert!(c.get_now("a", now).is_some());
        c.put_now("d", chat("d"), HOUR, now);
        assert!(c.get_now("b", now).is_none(), "b was least recently used");
        for k in ["a", "c", "d"] {
            assert!(c.get_now(k, now).is_some(), "{k} kept");
        }
        let state = c.lock();
        assert_eq!(state.entries.len(), state.order.len());
    }

    #[test]
    fn overwriting_a_key_keeps_one_entry_and_exact_bytes() {
        let c = limits(10, usize::MAX);
        let now = Instant::now();
        c.put_now("k", chat("short"), HOUR, now);
        c.put_now("k", chat("a longer answer"), HOUR, now);
        assert_eq!(c.len(), 1);
        assert_eq!(c.bytes(), estimate("k", &chat("a longer answer")));
        assert_eq!(c.get_now("k", now), Some(chat("a longer answer")));
        assert_eq!(c.lock().order.len(), 1);
    }

    #[test]
    fn the_byte_bound_evicts_and_refuses_oversized_entries() {
        let one = estimate("k0", &chat("x"));
        let c = limits(100, one * 2);
        let now = Instant::now();
        for k in ["k0", "k1", "k2"] {
            c.put_now(k, chat("x"), HOUR, now);
        }
        assert_eq!(c.len(), 2);
        assert!(c.bytes() <= one * 2);
        assert!(c.get_now("k0", now).is_none());
        c.put_now("huge", chat(&"y".repeat(one * 4)), HOUR, now);
        assert!(c.get_now("huge", now).is_none());
        assert_eq!(c.len(), 2, "an oversized entry evicts nothing");
    }

    #[test]
    fn expired_entries_are_removed_when_read() {
        let c = MemoryCache::new();
        let now = Instant::now();
        c.put_now("k", chat("x"), Duration::from_secs(10), now);
        assert!(c.get_now("k", now + Duration::from_secs(9)).is_some());
        assert!(c.get_now("k", now + Duration::from_secs(10)).is_none());
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
        c.put_now("z", chat("x"), Duration::ZERO, now);
        assert!(c.is_empty(), "a zero TTL stores nothing");
        c.put_now("forever", chat("x"), Duration::MAX, now);
        assert!(c.get_now("forever", now + HOUR).is_some());
    }

    #[test]
    fn embeddings_count_their_vectors() {
        let small = CacheValue::Embed(EmbedResponse::new("p", "m", vec![vec![0.0; 4]]));
        let big = CacheValue::Embed(EmbedResponse::new("p", "m", vec![vec![0.0; 1536]; 10]));
        assert!(estimate("k", &big) - estimate("k", &small) >= 1532 * 4 * 10);
    }
}
