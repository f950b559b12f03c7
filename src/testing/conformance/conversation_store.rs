//! Conformance suite for [`ConversationStore`] backends and wrappers.
//!
//! Every function is a plain `async fn` taking `&dyn ConversationStore`; it panics with a message that
//! names the broken rule. [`conversation_store`] runs them all, and a backend that lacks a capability
//! calls the ones it supports. Each function works on conversations with fresh, unique ids
//! (`tfa-conformance-<check>-<uuid>`) and deletes them when it passes, so the suite can run against a
//! shared server, and several runs at once.
//!
//! # Running it against your backend
//!
//! Add the crate as a dev-dependency with the `testing` feature and call the suite from a test:
//!
//! ```toml
//! [dev-dependencies]
//! twelve-factor-ai = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "test-util"] }
//! ```
//!
//! ```
//! use std::time::Duration;
//! use twelve_factor_ai::conversation::MemoryConversationStore;
//! use twelve_factor_ai::testing::conformance::conversation_store::{
//!     conversation_store, ConversationStoreCapabilities,
//! };
//!
//! // In a test: #[tokio::test(start_paused = true)] for a store on tokio time, so that the TTL check
//! // does not really sleep; a store on a server's clock sleeps for real (about twice the TTL).
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let ttl = Duration::from_secs(1);
//! let store = MemoryConversationStore::new().with_ttl(ttl);
//! conversation_store(&store, &ConversationStoreCapabilities::new().ttl(ttl)).await;
//! # }
//! ```
//!
//! Wrappers run the same suite around an in-memory store.

use std::time::Duration;

use futures_util::future::join_all;

use crate::ErrorKind;
use crate::conversation::{
    ConversationStore, ConversationStoreExt, Window, estimate_message_tokens,
};
use crate::llm::{ContentPart, Message, Role, ToolCall};

/// What the store under test promises beyond the rules every backend follows.
///
/// ```
/// use std::time::Duration;
/// use twelve_factor_ai::testing::conformance::conversation_store::ConversationStoreCapabilities;
///
/// let caps = ConversationStoreCapabilities::new().ttl(Duration::from_secs(2)).max_messages(100);
/// assert_eq!(caps.ttl, Some(Duration::from_secs(2)));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationStoreCapabilities {
    /// The store forgets a conversation this long after its last append. The TTL check sleeps about
    /// twice this long (on tokio time) and allows a quarter of it as slack on either side.
    pub ttl: Option<Duration>,
    /// The store keeps only the newest this-many messages of each conversation. The other checks keep
    /// their conversations within 200 messages; a cap below that skips most of them (the checks of ids,
    /// unknown conversations and, from a cap of 2, the TTL still run).
    pub max_messages: Option<usize>,
}

impl ConversationStoreCapabilities {
    /// No TTL, no cap: a store that keeps everything until deleted.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store was built with this TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The store was built with this per-conversation message cap.
    pub fn max_messages(mut self, max: usize) -> Self {
        self.max_messages = Some(max);
        self
    }
}

/// The most messages any check other than [`max_messages`] puts in one conversation.
const LARGEST_CONVERSATION: usize = 200;

/// Runs every check that `caps` allows.
pub async fn conversation_store(
    store: &dyn ConversationStore,
    caps: &ConversationStoreCapabilities,
) {
    health_check(store).await;
    invalid_ids(store).await;
    unknown_conversation(store).await;
    let uncapped = caps
        .max_messages
        .is_none_or(|max| max >= LARGEST_CONVERSATION);
    if uncapped {
        append_and_load(store).await;
        load_windows(store).await;
        delete(store).await;
        isolation(store).await;
        round_trip(store).await;
        concurrent_appends(store).await;
    }
    if let Some(max) = caps.max_messages {
        max_messages(store, max).await;
    }
    // The TTL check keeps two messages in its conversation.
    if let Some(ttl) = caps
        .ttl
        .filter(|_| caps.max_messages.is_none_or(|max| max >= 2))
    {
        ttl_expiry(store, ttl).await;
    }
}

/// A fresh conversation id for one check.
fn unique_id(check: &str) -> String {
    format!("tfa-conformance-{check}-{}", uuid::Uuid::new_v4())
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<Message> {
    range
        .map(|i| {
            if i % 2 == 0 {
                Message::user(format!("{prefix}{i}"))
            } else {
                Message::assistant(format!("{prefix}{i}"))
            }
        })
        .collect()
}

async fn load_ok(store: &dyn ConversationStore, id: &str, window: Window) -> Vec<Message> {
    match store.load(id, window).await {
        Ok(messages) => messages,
        Err(err) => panic!("load({id:?}, {window:?}) failed: {err}"),
    }
}

async fn append_ok(store: &dyn ConversationStore, id: &str, messages: &[Message]) {
    if let Err(err) = store.append(id, messages).await {
        panic!("append({id:?}, {} messages) failed: {err}", messages.len());
    }
}

async fn delete_ok(store: &dyn ConversationStore, id: &str) -> bool {
    match store.delete(id).await {
        Ok(existed) => existed,
        Err(err) => panic!("delete({id:?}) failed: {err}"),
    }
}

/// `health_check` succeeds on a working store.
pub async fn health_check(store: &dyn ConversationStore) {
    if let Err(err) = store.health_check().await {
        panic!("health_check failed on a working store: {err}");
    }
}

/// Batches land at the end, in order; `load(All)` returns everything, oldest first.
pub async fn append_and_load(store: &dyn ConversationStore) {
    let id = unique_id("append");
    let first = numbered("first-", 0..3);
    let second = numbered("second-", 0..2);
    append_ok(store, &id, &first).await;
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        first,
        "load(All) after one append must return the batch in order"
    );
    append_ok(store, &id, &second).await;
    let expected: Vec<Message> = first.iter().chain(&second).cloned().collect();
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        expected,
        "a second append must add its batch after the first, oldest first"
    );
    let one = Message::user("and one more");
    if let Err(err) = store.append_one(&id, one.clone()).await {
        panic!("append_one failed: {err}");
    }
    let all = load_ok(store, &id, Window::All).await;
    assert_eq!(
        all.last(),
        Some(&one),
        "append_one must add the message at the end"
    );
    assert_eq!(all.len(), 6, "append_one must add exactly one message");
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}

/// `LastN` and `TokenBudget` keep a contiguous run of the newest messages, oldest first; zero windows
/// are empty.
pub async fn load_windows(store: &dyn ConversationStore) {
    let id = unique_id("windows");
    let mut history = numbered("m", 0..4);
    history.push(Message::user("x".repeat(400)));
    history.extend(numbered("n", 5..9));
    append_ok(store, &id, &history).await;
    let len = history.len();

    for n in [0, 1, 3, len, len + 10] {
        let got = load_ok(store, &id, Window::LastN(n)).await;
        assert_eq!(
            got,
            history[len - n.min(len)..].to_vec(),
            "LastN({n}) must return the newest {n} messages (or all if fewer), oldest first"
        );
    }
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        history,
        "All must return everything"
    );

    let newest_three: usize = history[len - 3..].iter().map(estimate_message_tokens).sum();
    assert_eq!(
        load_ok(store, &id, Window::TokenBudget(newest_three)).await,
        history[len - 3..].to_vec(),
        "TokenBudget equal to the estimate of the newest 3 messages must return exactly them"
    );
    assert_eq!(
        load_ok(store, &id, Window::TokenBudget(newest_three - 1)).await,
        history[len - 2..].to_vec(),
        "TokenBudget one token short of 3 messages must return the newest 2"
    );
    // The 400-character message (index 4) does not fit in this budget; the shorter, older ones before
    // it would, but a window never skips past a message that does not fit.
    let after_long: usize = history[5..].iter().map(estimate_message_tokens).sum();
    let budget = after_long + estimate_message_tokens(&history[0]) + 1;
    assert_eq!(
        load_ok(store, &id, Window::TokenBudget(budget)).await,
        history[5..].to_vec(),
        "TokenBudget must stop at the first message that does not fit, never leave a gap"
    );
    assert_eq!(
        load_ok(store, &id, Window::TokenBudget(usize::MAX)).await,
        history,
        "a huge TokenBudget must return everything"
    );
    assert!(
        load_ok(store, &id, Window::TokenBudget(0)).await.is_empty(),
        "TokenBudget(0) must return an empty history for an existing conversation"
    );
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}

/// An unknown conversation: `load` is `NotFound` whatever the window, `history` is empty, `delete` is
/// `false`, and an empty append does not create it.
pub async fn unknown_conversation(store: &dyn ConversationStore) {
    let id = unique_id("unknown");
    for window in [
        Window::All,
        Window::LastN(0),
        Window::LastN(5),
        Window::TokenBudget(100),
    ] {
        match store.load(&id, window).await {
            Err(err) => assert_eq!(
                err.kind(),
                ErrorKind::NotFound,
                "load({window:?}) of an unknown conversation must be NotFound, got {err}"
            ),
            Ok(messages) => panic!(
                "load({window:?}) of an unknown conversation must be NotFound, got {} messages",
                messages.len()
            ),
        }
    }
    match store.history(&id, Window::All).await {
        Ok(messages) => assert!(
            messages.is_empty(),
            "history() of an unknown conversation must be empty"
        ),
        Err(err) => panic!("history() of an unknown conversation must be Ok(empty), got {err}"),
    }
    assert!(
        !delete_ok(store, &id).await,
        "delete of an unknown conversation must return false"
    );

    append_ok(store, &id, &[]).await;
    let after = store.load(&id, Window::All).await.err().map(|e| e.kind());
    assert_eq!(
        after,
        Some(ErrorKind::NotFound),
        "appending an empty slice must not create the conversation"
    );
}

/// `delete` is `true` once, then `false`; the conversation is gone, and a new append starts afresh.
pub async fn delete(store: &dyn ConversationStore) {
    let id = unique_id("delete");
    append_ok(store, &id, &numbered("old", 0..3)).await;
    assert!(
        delete_ok(store, &id).await,
        "delete of an existing conversation must return true"
    );
    assert!(
        !delete_ok(store, &id).await,
        "a second delete must return false"
    );
    let err = store.load(&id, Window::All).await.err().map(|e| e.kind());
    assert_eq!(
        err,
        Some(ErrorKind::NotFound),
        "load after delete must be NotFound"
    );
    let fresh = numbered("new", 0..1);
    append_ok(store, &id, &fresh).await;
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        fresh,
        "a conversation appended to after delete must start empty"
    );
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}

/// Appends to several conversations, interleaved, never mix them.
pub async fn isolation(store: &dyn ConversationStore) {
    let ids: Vec<String> = (0..3)
        .map(|i| unique_id(&format!("isolation{i}")))
        .collect();
    for round in 0..4 {
        for (i, id) in ids.iter().enumerate() {
            append_ok(store, id, &[Message::user(format!("c{i}-r{round}"))]).await;
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let texts: Vec<String> = load_ok(store, id, Window::All)
            .await
            .iter()
            .map(Message::text)
            .collect();
        let expected: Vec<String> = (0..4).map(|round| format!("c{i}-r{round}")).collect();
        assert_eq!(
            texts, expected,
            "conversation {i} must hold only its own messages, in order"
        );
    }
    for id in &ids {
        assert!(
            delete_ok(store, id).await,
            "delete must report that the conversation existed"
        );
    }
}

/// Messages come back exactly as appended: roles, every content part, tool calls, tool-call ids, names,
/// empty content and non-ASCII text.
pub async fn round_trip(store: &dyn ConversationStore) {
    let id = unique_id("roundtrip");
    let messages = vec![
        Message::system("Be brief.").with_name("ops"),
        Message::with_parts(
            Role::User,
            vec![
                ContentPart::text("What is in this picture? "),
                ContentPart::image_url("data:image/png;base64,iVBORw0KGgo="),
                ContentPart::text("Answer in one line."),
            ],
        )
        .with_name("alice"),
        Message::assistant_tool_calls(
            "",
            vec![
                ToolCall::new("call_1", "lookup", r#"{"q":"cat","n":2}"#),
                ToolCall::new("call_2", "weather", "{not json"),
            ],
        ),
        Message::tool_result("call_1", r#"{"hits":["a","b"]}"#),
        Message::tool_result("call_2", ""),
        Message::assistant("Ünïcödé ✓ — 日本語, emoji 🦀, quotes \" ' and a\nnewline\ttab"),
        Message::with_parts(Role::User, Vec::new()),
    ];
    append_ok(store, &id, &messages[..3]).await;
    append_ok(store, &id, &messages[3..]).await;
    let loaded = load_ok(store, &id, Window::All).await;
    assert_eq!(loaded.len(), messages.len(), "every message must be stored");
    for (i, (got, want)) in loaded.iter().zip(&messages).enumerate() {
        assert_eq!(got, want, "message {i} must round-trip exactly");
    }
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}

/// Appends from several concurrent writers all land, and each batch stays contiguous and in order.
///
/// The writers are futures polled together (`join_all`), so a remote backend sees overlapping requests.
/// To check appends from several threads as well, call [`concurrent_appends_with`] from futures you
/// spawn.
pub async fn concurrent_appends(store: &dyn ConversationStore) {
    let id = unique_id("concurrent");
    let writers = 8;
    let batches = 10;
    join_all((0..writers).map(|w| concurrent_appends_with(store, &id, w, batches))).await;
    check_concurrent_appends(store, &id, writers, batches).await;
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}

/// One writer of a concurrent-append check: appends `batches` two-message batches to `conversation`,
/// tagged with `writer`. Run several at once (with distinct `writer` numbers from 0), then call
/// [`check_concurrent_appends`].
pub async fn concurrent_appends_with(
    store: &dyn ConversationStore,
    conversation: &str,
    writer: usize,
    batches: usize,
) {
    for b in 0..batches {
        let batch = [
            Message::user(format!("w{writer}-b{b}-q")),
            Message::assistant(format!("w{writer}-b{b}-a")),
        ];
        append_ok(store, conversation, &batch).await;
    }
}

/// Checks the result of `writers` concurrent [`concurrent_appends_with`] runs of `batches` batches each:
/// every message landed, each batch is contiguous, and each writer's batches are in order.
pub async fn check_concurrent_appends(
    store: &dyn ConversationStore,
    conversation: &str,
    writers: usize,
    batches: usize,
) {
    let texts: Vec<String> = load_ok(store, conversation, Window::All)
        .await
        .iter()
        .map(Message::text)
        .collect();
    assert_eq!(
        texts.len(),
        writers * batches * 2,
        "every message of every concurrent append must land"
    );
    let mut next_batch = vec![0usize; writers];
    for pair in texts.chunks(2) {
        let [q, a] = pair else {
            panic!("the history must consist of whole two-message batches");
        };
        let stem = q
            .strip_suffix("-q")
            .unwrap_or_else(|| panic!("batches must not interleave: {q:?} then {a:?}"));
        assert_eq!(
            *a,
            format!("{stem}-a"),
            "batches must not interleave: {q:?} then {a:?}"
        );
        let (writer, batch) = stem
            .strip_prefix('w')
            .and_then(|s| s.split_once("-b"))
            .and_then(|(w, b)| Some((w.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("unexpected message {q:?}"));
        assert!(writer < writers, "unexpected writer in {q:?}");
        assert_eq!(
            batch, next_batch[writer],
            "writer {writer}'s batches must stay in order"
        );
        next_batch[writer] += 1;
    }
}

/// An empty conversation id is `InvalidRequest` for every method and changes nothing.
pub async fn invalid_ids(store: &dyn ConversationStore) {
    let id = unique_id("invalid");
    let before = numbered("keep", 0..1);
    append_ok(store, &id, &before).await;

    let kinds = [
        store
            .append("", &[Message::user("lost")])
            .await
            .err()
            .map(|e| e.kind()),
        store.load("", Window::All).await.err().map(|e| e.kind()),
        store.delete("").await.err().map(|e| e.kind()),
    ];
    for (method, kind) in ["append", "load", "delete"].iter().zip(kinds) {
        assert_eq!(
            kind,
            Some(ErrorKind::InvalidRequest),
            "{method} with an empty conversation id must be InvalidRequest"
        );
    }
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        before,
        "a rejected call must leave other conversations unchanged"
    );
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}

/// With a cap of `max` messages per conversation, only the newest `max` are kept, across appends and
/// within one large batch.
///
/// # Panics
/// Also when `max` is zero: such a store could not keep any history.
pub async fn max_messages(store: &dyn ConversationStore, max: usize) {
    assert!(
        max > 0,
        "a message cap of 0 keeps no history; the suite needs a cap of at least 1"
    );
    let id = unique_id("cap");
    let history = numbered("m", 0..max + 3);
    append_ok(store, &id, &history[..2]).await;
    append_ok(store, &id, &history[2..]).await;
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        history[3..].to_vec(),
        "a store capped at {max} messages must keep the newest {max}"
    );
    let big = numbered("big", 0..2 * max + 1);
    append_ok(store, &id, &big).await;
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        big[max + 1..].to_vec(),
        "a batch larger than the cap must leave its newest {max} messages"
    );
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}

/// A conversation expires `ttl` after its last append (an append renews it); expired ones behave as
/// unknown. Sleeps on tokio time, about `2 * ttl` in all.
pub async fn ttl_expiry(store: &dyn ConversationStore, ttl: Duration) {
    let id = unique_id("ttl");
    let quarter = ttl / 4;
    append_ok(store, &id, &[Message::user("first")]).await;
    tokio::time::sleep(ttl / 2).await;
    append_ok(store, &id, &[Message::user("second")]).await;
    // 3/4 of the TTL since the last append (more than a TTL since the first): still there.
    tokio::time::sleep(ttl / 2 + quarter).await;
    let texts: Vec<String> = load_ok(store, &id, Window::All)
        .await
        .iter()
        .map(Message::text)
        .collect();
    assert_eq!(
        texts,
        ["first", "second"],
        "a conversation must live a whole TTL after its last append"
    );
    // 1 1/4 TTL since the last append: gone.
    tokio::time::sleep(ttl / 2).await;
    let err = store.load(&id, Window::All).await.err().map(|e| e.kind());
    assert_eq!(
        err,
        Some(ErrorKind::NotFound),
        "a conversation must expire a TTL after its last append"
    );
    match store.history(&id, Window::All).await {
        Ok(messages) => assert!(
            messages.is_empty(),
            "history() of an expired conversation must be empty"
        ),
        Err(err) => panic!("history() of an expired conversation must be Ok(empty), got {err}"),
    }
    assert!(
        !delete_ok(store, &id).await,
        "delete of an expired conversation must return false"
    );
    append_ok(store, &id, &[Message::user("again")]).await;
    assert_eq!(
        load_ok(store, &id, Window::All).await,
        [Message::user("again")],
        "appending to an expired conversation must start a fresh one"
    );
    assert!(
        delete_ok(store, &id).await,
        "delete must report that the conversation existed"
    );
}
