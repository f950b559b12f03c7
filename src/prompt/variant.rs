//! Sticky A/B choice: which variant of a prompt version a key (a user id, a tenant) gets.

use sha2::{Digest, Sha256};

/// A point in `0..total` fixed by (prompt name, key): SHA-256, so the same key gets the same point in
/// every process and every release (unlike `std`'s randomly seeded hasher). The version is left out on
/// purpose, so a user keeps their bucket when a new version keeps the same variants and weights.
pub(super) fn bucket(name: &str, key: &str, total: u64) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    // A separator, so ("ab", "c") and ("a", "bc") differ.
    hasher.update([0u8]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // The bias of `%` is below total / 2^64: nothing for weights that fit in u32s.
    u64::from_be_bytes(first) % total.max(1)
}

/// The index of the variant whose weight range holds the key's point; `weights` are in variant order and
/// their sum is `total` (> 0).
pub(super) fn choose(
    name: &str,
    key: &str,
    weights: impl IntoIterator<Item = u32>,
    total: u64,
) -> usize {
    let point = bucket(name, key, total);
    let mut upper = 0u64;
    let mut last = 0;
    for (i, weight) in weights.into_iter().enumerate() {
        upper += u64::from(weight);
        if weight > 0 {
            last = i;
        }
        if point < upper {
            return i;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_across_processes_and_releases() {
        // Pinned values: a change here reshuffles every running experiment.
        assert_eq!(
            bucket("templates/email", "user-1", 100),
            bucket("templates/email", "user-1", 100)
        );
        let digest = Sha256::digest(b"templates/email\0user-1");
        let expected = u64::from_be_bytes(digest[..8].try_into().unwrap()) % 100;
        assert_eq!(bucket("templates/email", "user-1", 100), expected);
        assert_ne!(bucket("ab", "c", u64::MAX), bucket("a", "bc", u64::MAX));
    }

    #[test]
    fn weights_shape_the_split_and_zero_weight_is_never_chosen() {
        let mut counts = [0usize; 3];
        for i in 0..10_000 {
            counts[choose("p", &format!("user-{i}"), [1, 0, 3], 4)] += 1;
        }
        assert_eq!(counts[1], 0);
        // 25% / 75% within a wide margin.
        assert!((2_000..3_000).contains(&counts[0]), "{counts:?}");
        assert!((7_000..8_000).contains(&counts[2]), "{counts:?}");
    }
}
