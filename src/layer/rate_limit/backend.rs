//! Where the budgets live: the [`RateLimitBackend`] trait and the in-process [`LocalBackend`].
//!
//! The wrapper ([`RateLimit`](super::RateLimit)) decides *what* a call costs and *whether to wait*; a backend
//! only keeps the budgets and answers "may this cost pass now, and if not, when?". Keeping the two apart is
//! what lets a shared backend (Redis, across every worker of a service) replace the local one without any
//! change to the wrapper.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::Result;

/// The period every budget refers to: both limits are "per minute".
pub const WINDOW: Duration = Duration::from_secs(60);

const WINDOW_NANOS: u64 = 60_000_000_000;

/// Which of the two limits a decision is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Requests per minute.
    RequestsPerMinute,
    /// Tokens (input plus output) per minute.
    TokensPerMinute,
}

impl Limit {
    /// A short name: `"rpm"` or `"tpm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::RequestsPerMinute => "rpm",
            Limit::TokensPerMinute => "tpm",
        }
    }

    /// A human name for messages: `"requests per minute"` or `"tokens per minute"`.
    pub fn describe(self) -> &'static str {
        match self {
            Limit::RequestsPerMinute => "requests per minute",
            Limit::TokensPerMinute => "tokens per minute",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The budgets of one limiter: requests and tokens per minute, each optional (unset: unlimited).
///
/// Zero is unrepresentable; [`RateLimitConfig`](super::RateLimitConfig) also guarantees at least one is set.
/// The limits travel with every backend call, in the manner of `redis-cell`'s `CL.THROTTLE`, so a shared
/// backend needs no configuration of its own and two services cannot disagree with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    requests_per_minute: Option<NonZeroU32>,
    tokens_per_minute: Option<NonZeroU32>,
}

impl Limits {
    /// Budgets of `requests_per_minute` and `tokens_per_minute` (`None`: that limit is off).
    pub fn new(
        requests_per_minute: Option<NonZeroU32>,
        tokens_per_minute: Option<NonZeroU32>,
    ) -> Self {
        Limits {
            requests_per_minute,
            tokens_per_minute,
        }
    }

    /// Requests allowed per minute, if limited.
    pub fn requests_per_minute(&self) -> Option<NonZeroU32> {
        self.requests_per_minute
    }

    /// Tokens allowed per minute, if limited.
    pub fn tokens_per_minute(&self) -> Option<NonZeroU32> {
        self.tokens_per_minute
    }

    /// The budget of `limit`, if that limit is on.
    pub fn get(&self, limit: Limit) -> Option<NonZeroU32> {
        match limit {
            Limit::RequestsPerMinute => self.requests_per_minute,
            Limit::TokensPerMinute => self.tokens_per_minute,
        }
    }
}

/// Which budget a call draws on: the limiter's name and, for per-tenant limits, the tenant.
///
/// A shared backend builds its storage key from both (for example `tfa:rl:{limiter}:{tenant}`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitKey<'a> {
    /// The limiter's name (by default `provider/model` of the wrapped provider).
    pub limiter: &'a str,
    /// The tenant, when budgets are per tenant; `None` for the limiter's shared budget.
    pub tenant: Option<&'a str>,
}

impl<'a> LimitKey<'a> {
    /// The budget of `tenant` (or the shared one) in `limiter`.
    pub fn new(limiter: &'a str, tenant: Option<&'a str>) -> Self {
        LimitKey { limiter, tenant }
    }
}

/// What one call takes from the budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cost {
    /// Requests (1 for one call).
    pub requests: u32,
    /// Tokens reserved: estimated input plus the most output the call may produce.
    pub tokens: u64,
}

/// Tokens taken from a budget by a granted call, to be settled with [`RateLimitBackend::reconcile`] once
/// the real usage is known.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reservation {
    /// The backend's id for the reservation (a sliding-window backend finds its entry by it; a token bucket
    /// may ignore it).
    pub id: u64,
    /// The tokens reserved.
    pub tokens: u64,
}

impl Reservation {
    /// A reservation of `tokens` under the backend's `id`.
    pub fn new(id: u64, tokens: u64) -> Self {
        Reservation { id, tokens }
    }
}

/// A backend's answer to [`RateLimitBackend::acquire`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// The cost was taken from the budgets.
    Granted(Reservation),
    /// Nothing was taken: the cost fits no earlier than `wait` from now, because of `limit`.
    RetryAfter {
        /// The time until the budget may have room (other callers may take it first).
        wait: Duration,
        /// The limit that refused.
        limit: Limit,
    },
}

/// Keeps the budgets of rate limiters: the local [`LocalBackend`], or a shared one such as Redis.
///
/// The contract, which a shared backend implements as one atomic script (a Lua script over a sorted set or
/// a token bucket, keyed by [`LimitKey`]):
///
/// - [`acquire`](RateLimitBackend::acquire) takes the whole [`Cost`] from every limit that is on, or
///   nothing at all, and then says how long until the refusing limit has room. It never waits itself:
///   waiting, and for how long, is the wrapper's decision. The wrapper never asks for more than a whole
///   budget (it refuses such calls itself), so every wait is finite.
/// - [`reconcile`](RateLimitBackend::reconcile) settles a reservation with the tokens the call really used:
///   it gives back the unused part, or takes the extra, which may leave the budget in debt so later calls
///   wait longer. It is called at most once per reservation, from synchronous code (including a stream's
///   `Drop`), so it must not block: a remote backend sends the adjustment in the background and reports
///   only errors it sees at once. Not calling it keeps the whole reservation.
/// - Time is the backend's own: the local backend reads tokio's clock (so paused-time tests are exact); a
///   shared one should use its server's clock so every worker agrees.
#[async_trait]
pub trait RateLimitBackend: Send + Sync + fmt::Debug {
    /// Takes `cost` from the budgets of `key` under `limits`, or says how long until it fits.
    ///
    /// # Errors
    /// When the backend cannot answer (a shared store is unreachable). The wrapper then fails the call.
    async fn acquire(&self, key: &LimitKey<'_>, limits: &Limits, cost: Cost) -> Result<Acquire>;

    /// Settles `reservation` with the `actual_tokens` the call used. Must not block.
    ///
    /// # Errors
    /// When the adjustment could not be sent; the wrapper logs it and carries on.
    fn reconcile(
        &self,
        key: &LimitKey<'_>,
        limits: &Limits,
        reservation: &Reservation,
        actual_tokens: u64,
    ) -> Result<()>;
}

/// The in-process backend: budgets in this process's memory, exact under tokio's (paused) clock.
///
/// - **Requests** use [`governor`]'s GCRA with `Quota::per_minute(rpm)`: bursts of up to `rpm` requests,
///   then one more every `60 s / rpm`, the way providers enforce request limits over short periods. Its
///   clock follows `tokio::time::Instant`, so tests with paused time are exact.
/// - **Tokens** use a sliding-window ledger of our own: each grant counts its tokens for one minute. A call
///   passes when the grants of the last minute plus its cost fit the budget, so **no one-minute window
///   ever sees more than the budget granted**. Reconciliation needs what GCRA cannot give: governor's
///   state (a "theoretical arrival time") only moves forward through its API, so unused tokens could never
///   be given back; and a plain token bucket of the budget's size would let up to twice the budget through
///   in a minute (a full bucket plus a minute of refill). In the ledger a refund lowers the grant's count
///   and a debit raises it, which may push the window over budget: later calls then wait until enough
///   grants leave the window. Grants less than 10 ms apart share a bucket that leaves the window a minute
///   after its last grant, so memory stays bounded (at most 6,000 buckets per key) at the price of holding
///   some tokens up to 10 ms longer than needed.
///
/// Each `(limiter, tenant)` key has its own budgets, created on first use; a key idle for a minute is
/// indistinguishable from a fresh one, so idle tenants are dropped as the map grows. One `Mutex` guards the
/// state; it is held for well under a microsecond per call and never across an `.await`.
///
/// By default every [`RateLimit`](super::RateLimit) gets its own `LocalBackend`; share one (through
/// [`RateLimitConfigBuilder::backend`](super::RateLimitConfigBuilder::backend)) for wrappers that must
/// draw on one budget, giving them the same limiter name.
pub struct LocalBackend {
    state: Mutex<State>,
}

impl fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("LocalBackend")
            .field("limiters", &state.limiters.len())
            .finish_non_exhaustive()
    }
}

impl Default for LocalBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalBackend {
    /// An empty backend.
    pub fn new() -> Self {
        LocalBackend {
            state: Mutex::new(State {
                base: None,
                next_id: 0,
                limiters: Vec::new(),
            }),
        }
    }

    // A poisoned lock only means a panic elsewhere while it was held; every update below leaves the state
    // consistent at each step, so carrying on is safe.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The synchronous heart of [`RateLimitBackend::acquire`].
    fn try_acquire(&self, key: &LimitKey<'_>, limits: &Limits, cost: Cost) -> Acquire {
        let mut state = self.lock();
        let now = state.now();
        let id = state.next_id;
        let acquired = state.with_slot(key, limits, now, |slot| {
            slot.last_used = now;
            if let Some(tpm) = limits.tokens_per_minute {
                slot.tokens.expire(now);
                if let Some(wait) = slot.tokens.wait_for(cost.tokens, u64::from(tpm.get()), now) {
                    return Acquire::RetryAfter {
                        wait: Duration::from_nanos(wait),
                        limit: Limit::TokensPerMinute,
                    };
                }
            }
            if let (Some(gcra), Some(n)) = (&slot.requests, NonZeroU32::new(cost.requests)) {
                gcra.clock().set(now);
                let refused = match gcra.check_n(n) {
                    Ok(Ok(())) => None,
                    Ok(Err(not_until)) => Some(not_until.wait_time_from(Nanos::from(now))),
                    // More requests than the whole burst: never happens for one call; wait a window.
                    Err(_) => Some(WINDOW),
                };
                if let Some(wait) = refused {
                    return Acquire::RetryAfter {
                        wait: wait.max(Duration::from_nanos(1)),
                        limit: Limit::RequestsPerMinute,
                    };
                }
            }
            if limits.tokens_per_minute.is_some() {
                slot.tokens.push(id, now, cost.tokens);
            }
            Acquire::Granted(Reservation::new(id, cost.tokens))
        });
        if matches!(acquired, Acquire::Granted(_)) {
            state.next_id = state.next_id.wrapping_add(1);
        }
        acquired
    }
}

#[async_trait]
impl RateLimitBackend for LocalBackend {
    async fn acquire(&self, key: &LimitKey<'_>, limits: &Limits, cost: Cost) -> Result<Acquire> {
        Ok(self.try_acquire(key, limits, cost))
    }

    fn reconcile(
        &self,
        key: &LimitKey<'_>,
        limits: &Limits,
        reservation: &Reservation,
        actual_tokens: u64,
    ) -> Result<()> {
        if limits.tokens_per_minute.is_none() || actual_tokens == reservation.tokens {
            return Ok(());
        }
        let mut state = self.lock();
        let now = state.now();
        let id = state.next_id;
        let appended = state.with_slot(key, limits, now, |slot| {
            slot.last_used = now;
            slot.tokens.expire(now);
            slot.tokens
                .settle(reservation.id, reservation.tokens, actual_tokens, now, id)
        });
        if appended {
            state.next_id = state.next_id.wrapping_add(1);
        }
        Ok(())
    }
}

/// A governor clock over tokio's clock: nanoseconds since the backend's first use, as read by the backend
/// (from `tokio::time::Instant`, so GCRA follows paused time in tests) and latched here, under the state's
/// lock, just before each check. Latching saves a second clock read per call and makes the request and
/// token limits decide at the very same instant.
#[derive(Debug, Default)]
struct LatchedClock {
    now: AtomicU64,
}

impl LatchedClock {
    fn set(&self, now: u64) {
        self.now.store(now, Ordering::Relaxed);
    }
}

impl Clock for LatchedClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.now.load(Ordering::Relaxed))
    }
}

/// Nanoseconds of tokio time since `base`.
fn nanos_since(base: Instant) -> u64 {
    u64::try_from(Instant::now().saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, LatchedClock, NoOpMiddleware<Nanos>>;

#[derive(Debug)]
struct State {
    /// The instant all times are measured from, set on first use (so a backend built outside a runtime
    /// still follows a paused runtime's clock).
    base: Option<Instant>,
    /// The id of the next reservation or ledger entry.
    next_id: u64,
    /// Few limiters per backend (one per wrapper sharing it): a vector beats hashing their names.
    limiters: Vec<(Box<str>, Limiter)>,
}

#[derive(Debug, Default)]
struct Limiter {
    shared: Option<Slot>,
    tenants: HashMap<Box<str>, Slot>,
    /// Prune idle tenants when the map reaches this size.
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 1024;

impl State {
    fn now(&mut self) -> u64 {
        nanos_since(*self.base.get_or_insert_with(Instant::now))
    }

    /// Runs `f` on the slot of `key`, creating it (or recreating it, if its limits changed) first.
    fn with_slot<R>(
        &mut self,
        key: &LimitKey<'_>,
        limits: &Limits,
        now: u64,
        f: impl FnOnce(&mut Slot) -> R,
    ) -> R {
        let pos = match self.limiters.iter().position(|(n, _)| **n == *key.limiter) {
            Some(pos) => pos,
            None => {
                self.limiters.push((key.limiter.into(), Limiter::default()));
                self.limiters.len() - 1
            }
        };
        let limiter = &mut self.limiters[pos].1;
        let slot = match key.tenant {
            None => limiter.shared.get_or_insert_with(|| Slot::new(*limits)),
            Some(tenant) => {
                if let Some(slot) = limiter.tenants.get_mut(tenant) {
                    return f(slot.refreshed(limits));
                }
                if limiter.tenants.len() >= limiter.prune_at.max(MIN_PRUNE_AT) {
                    limiter.tenants.retain(|_, s| !s.is_idle(now));
                    limiter.prune_at = limiter.tenants.len().saturating_mul(2);
                }
                limiter
                    .tenants
                    .entry(tenant.into())
                    .or_insert_with(|| Slot::new(*limits))
            }
        };
        f(slot.refreshed(limits))
    }
}

/// The budgets of one key.
struct Slot {
    limits: Limits,
    requests: Option<Gcra>,
    tokens: Ledger,
    last_used: u64,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("limits", &self.limits)
            .field("tokens", &self.tokens)
            .field("last_used", &self.last_used)
            .finish_non_exhaustive()
    }
}

impl Slot {
    fn new(limits: Limits) -> Self {
        Slot {
            limits,
            requests: limits.requests_per_minute.map(|rpm| {
                // The GCRA's own start is its clock at creation, 0: the backend's base instant.
                RateLimiter::direct_with_clock(Quota::per_minute(rpm), LatchedClock::default())
            }),
            tokens: Ledger::default(),
            last_used: 0,
        }
    }

    /// The slot, reset if a caller now gives other limits for the same key (a reconfigured service).
    fn refreshed(&mut self, limits: &Limits) -> &mut Self {
        if self.limits != *limits {
            *self = Slot::new(*limits);
        }
        self
    }

    /// Unused for a whole window: every ledger entry has expired and the GCRA is full again, so the slot
    /// equals a fresh one and can be dropped.
    fn is_idle(&self, now: u64) -> bool {
        self.last_used.saturating_add(WINDOW_NANOS) <= now
    }
}

/// Grants less than this far apart (from a bucket's first grant) share one ledger bucket: it bounds the
/// ledger to `WINDOW / BUCKET_SPAN` = 6,000 buckets per key however many calls a minute sees.
const BUCKET_SPAN_NANOS: u64 = 10_000_000;

/// Grants in the token ledger: those with ids `first_id..=last_id` of this key, granted from `first_at` to
/// `last_at` (less than [`BUCKET_SPAN_NANOS`] apart), holding `tokens` in all.
///
/// A bucket leaves the window a minute after its *last* grant, so each of its grants counts for at least a
/// minute (the guarantee holds) and at most 10 ms longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    first_id: u64,
    last_id: u64,
    first_at: u64,
    last_at: u64,
    tokens: u64,
}

impl Bucket {
    fn leaves_at(&self) -> u64 {
        self.last_at.saturating_add(WINDOW_NANOS)
    }
}

/// The sliding-window token ledger: the grants of the last minute in buckets, oldest first, and their sum.
///
/// Buckets are appended in time order with increasing ids (ids come from one counter per backend, so a
/// key's ids have gaps but never go back), so a reservation's bucket is found by binary search.
#[derive(Debug, Default)]
struct Ledger {
    buckets: VecDeque<Bucket>,
    sum: u64,
}

impl Ledger {
    /// Drops the buckets that left the window.
    fn expire(&mut self, now: u64) {
        while let Some(front) = self.buckets.front() {
            if front.leaves_at() > now {
                break;
            }
            self.sum = self.sum.saturating_sub(front.tokens);
            self.buckets.pop_front();
        }
    }

    /// `None` when `cost` fits now; else the nanoseconds until enough buckets leave the window for it to fit
    /// (also when the ledger is in debt, over `limit`).
    fn wait_for(&self, cost: u64, limit: u64, now: u64) -> Option<u64> {
        let total = self.sum.saturating_add(cost);
        if total <= limit {
            return None;
        }
        let mut to_free = total - limit;
        for b in &self.buckets {
            if b.tokens >= to_free {
                return Some(b.leaves_at().saturating_sub(now).max(1));
            }
            to_free -= b.tokens;
        }
        // Only when `cost` alone exceeds `limit`, which the wrapper refuses before asking.
        Some(WINDOW_NANOS)
    }

    /// Records grant `id` of `tokens` at `at`, in the last bucket if it is recent enough.
    fn push(&mut self, id: u64, at: u64, tokens: u64) {
        self.sum = self.sum.saturating_add(tokens);
        if let Some(last) = self.buckets.back_mut() {
            if at.saturating_sub(last.first_at) < BUCKET_SPAN_NANOS && id > last.last_id {
                last.last_id = id;
                last.last_at = at;
                last.tokens = last.tokens.saturating_add(tokens);
                return;
            }
        }
        self.buckets.push_back(Bucket {
            first_id: id,
            last_id: id,
            first_at: at,
            last_at: at,
            tokens,
        });
    }

    /// Settles reservation `id` of `reserved` tokens at `actual`. While its bucket is in the window the
    /// bucket takes the difference (a refund or a debit where the call was granted). Once it has left the
    /// window only extra usage matters: it is added as grant `new_id` at `now`. Returns whether it added
    /// one.
    fn settle(&mut self, id: u64, reserved: u64, actual: u64, now: u64, new_id: u64) -> bool {
        let after = self.buckets.partition_point(|b| b.first_id <= id);
        if let Some(b) = after
            .checked_sub(1)
            .and_then(|i| self.buckets.get_mut(i))
            .filter(|b| id <= b.last_id)
        {
            let before = b.tokens;
            b.tokens = b.tokens.saturating_sub(reserved).saturating_add(actual);
            self.sum = self.sum.saturating_sub(before).saturating_add(b.tokens);
            return false;
        }
        if actual > reserved {
            self.push(new_id, now, actual - reserved);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn cost(tokens: u64) -> Cost {
        Cost {
            requests: 1,
            tokens,
        }
    }

    #[test]
    fn ledger_grants_within_the_window_and_computes_waits() {
        let mut l = Ledger::default();
        assert_eq!(l.wait_for(600, 1000, 0), None);
        l.push(0, 0, 600);
        l.push(1, 10 * SEC, 300);
        assert_eq!(l.wait_for(100, 1000, 10 * SEC), None);
        // 500 more needs the first entry (600) to leave: at 60 s.
        assert_eq!(l.wait_for(500, 1000, 20 * SEC), Some(40 * SEC));
        // 800 more needs both to leave: at 70 s.
        assert_eq!(l.wait_for(800, 1000, 20 * SEC), Some(50 * SEC));
        l.expire(60 * SEC);
        assert_eq!(l.sum, 300);
        assert_eq!(l.buckets.len(), 1);
    }

    #[test]
    fn ledger_refunds_debits_and_debt() {
        let mut l = Ledger::default();
        l.push(0, 0, 1000);
        assert!(!l.settle(0, 1000, 100, SEC, 9));
        assert_eq!(l.sum, 100);
        assert_eq!(l.wait_for(900, 1000, SEC), None);
        // A debit past the budget puts the ledger in debt: even a 1-token call waits for the entry to leave.
        assert!(!l.settle(0, 1000, 1500, SEC, 9));
        assert_eq!(l.wait_for(1, 1000, SEC), Some(59 * SEC));
        // Settling after the entry left the window: extra usage is a new entry now, a refund is nothing.
        l.expire(60 * SEC);
        assert!(l.settle(0, 100, 400, 61 * SEC, 7));
        assert_eq!(
            l.buckets.back().copied(),
            Some(Bucket {
                first_id: 7,
                last_id: 7,
                first_at: 61 * SEC,
                last_at: 61 * SEC,
                tokens: 300
            })
        );
        assert!(!l.settle(5, 400, 100, 61 * SEC, 8));
        assert_eq!(l.sum, 300);
    }

    #[test]
    fn grants_close_together_share_a_bucket_that_leaves_after_the_last() {
        const MS: u64 = 1_000_000;
        let mut l = Ledger::default();
        l.push(1, 0, 100);
        l.push(3, 4 * MS, 200); // id 2 went to another key
        l.push(4, 9 * MS, 300);
        l.push(5, 10 * MS, 400); // 10 ms after the bucket's first grant: a new bucket
        assert_eq!(l.buckets.len(), 2);
        assert_eq!(l.sum, 1000);
        // Refund grant 3 inside the first bucket; an id this key never granted settles nothing.
        assert!(!l.settle(3, 200, 50, 20 * MS, 9));
        assert_eq!((l.buckets[0].tokens, l.sum), (450, 850));
        assert!(!l.settle(99, 10, 5, 20 * MS, 9));
        assert_eq!(l.sum, 850);
        // The first bucket leaves a minute after its last grant (9 ms), not its first.
        assert_eq!(l.wait_for(600, 1000, 0), Some(60 * SEC + 9 * MS));
        l.expire(60 * SEC + 8 * MS);
        assert_eq!(l.buckets.len(), 2);
        l.expire(60 * SEC + 9 * MS);
        assert_eq!((l.buckets.len(), l.sum), (1, 400));
    }

    #[tokio::test(start_paused = true)]
    async fn governor_follows_paused_tokio_time() {
        let b = LocalBackend::new();
        let limits = Limits::new(Some(nz(3)), None);
        let key = LimitKey::new("l", None);
        for _ in 0..3 {
            assert!(matches!(
                b.try_acquire(&key, &limits, cost(0)),
                Acquire::Granted(_)
            ));
        }
        assert_eq!(
            b.try_acquire(&key, &limits, cost(0)),
            Acquire::RetryAfter {
                wait: Duration::from_secs(20),
                limit: Limit::RequestsPerMinute
            }
        );
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(matches!(
            b.try_acquire(&key, &limits, cost(0)),
            Acquire::Granted(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_refusal_takes_no_request() {
        let b = LocalBackend::new();
        let limits = Limits::new(Some(nz(1)), Some(nz(100)));
        let key = LimitKey::new("l", None);
        assert!(matches!(
            b.try_acquire(&key, &limits, cost(100)),
            Acquire::Granted(_)
        ));
        tokio::time::advance(Duration::from_secs(30)).await;
        // Tokens refuse first; the request budget (one per minute) is not touched by the refusal.
        assert_eq!(
            b.try_acquire(&key, &limits, cost(50)),
            Acquire::RetryAfter {
                wait: Duration::from_secs(30),
                limit: Limit::TokensPerMinute
            }
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(matches!(
            b.try_acquire(&key, &limits, cost(50)),
            Acquire::Granted(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_separate_and_idle_tenants_are_pruned() {
        let b = LocalBackend::new();
        let limits = Limits::new(None, Some(nz(10)));
        for t in 0..MIN_PRUNE_AT {
            let name = format!("t{t}");
            let key = LimitKey::new("l", Some(&name));
            assert!(matches!(
                b.try_acquire(&key, &limits, cost(10)),
                Acquire::Granted(_)
            ));
        }
        let shared = LimitKey::new("l", None);
        assert!(matches!(
            b.try_acquire(&shared, &limits, cost(10)),
            Acquire::Granted(_)
        ));
        let other = LimitKey::new("other", Some("t0"));
        assert!(matches!(
            b.try_acquire(&other, &limits, cost(10)),
            Acquire::Granted(_)
        ));
        tokio::time::advance(WINDOW).await;
        let fresh = LimitKey::new("l", Some("new"));
        assert!(matches!(
            b.try_acquire(&fresh, &limits, cost(10)),
            Acquire::Granted(_)
        ));
        let state = b.lock();
        let l = &state.limiters.iter().find(|(n, _)| &**n == "l").unwrap().1;
        assert_eq!(l.tenants.len(), 1, "idle tenants were dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn new_limits_reset_a_key() {
        let b = LocalBackend::new();
        let key = LimitKey::new("l", None);
        let small = Limits::new(None, Some(nz(10)));
        assert!(matches!(
            b.try_acquire(&key, &small, cost(10)),
            Acquire::Granted(_)
        ));
        assert!(matches!(
            b.try_acquire(&key, &small, cost(1)),
            Acquire::RetryAfter { .. }
        ));
        let large = Limits::new(None, Some(nz(100)));
        assert!(matches!(
            b.try_acquire(&key, &large, cost(50)),
            Acquire::Granted(_)
        ));
    }
}
