//! Distance kernels: dot product and squared L2 distance over `f32` slices.
//!
//! Written as plain safe loops over [`chunks_exact(8)`](slice::chunks_exact) with eight independent
//! accumulators (one per lane), so LLVM turns each into vector instructions for whatever target the crate
//! is built for (SSE2 by default on x86-64, AVX/FMA with `-C target-cpu=native`) without `unsafe` or
//! intrinsics. The accumulators also break the dependency chain of a single running sum, which is what
//! keeps a naive `iter().map().sum()` scalar: the compiler may not reorder float additions itself.
//!
//! The kernels sum in a different order from a sequential loop, so results differ from a naive sum in the
//! last bits; callers compare scores, never bit patterns.

/// Lanes per step: eight `f32` fill one AVX register or two SSE registers.
const LANES: usize = 8;

/// The dot product of `a` and `b` over their common length.
///
/// Callers pass slices of equal length (the store checks dimensions once, at its boundary).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let mut tail = 0.0f32;
    for (&x, &y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    reduce(acc) + tail
}

/// The squared Euclidean (L2) distance between `a` and `b` over their common length.
#[inline]
pub(crate) fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            let d = x - y;
            *s += d * d;
        }
    }
    let mut tail = 0.0f32;
    for (&x, &y) in ra.iter().zip(rb) {
        let d = x - y;
        tail += d * d;
    }
    reduce(acc) + tail
}

/// Sums the lanes pairwise (a tree, as the vector code does it).
#[inline]
fn reduce(acc: [f32; LANES]) -> f32 {
    let [a, b, c, d, e, f, g, h] = acc;
    ((a + e) + (c + g)) + ((b + f) + (d + h))
}

/// The Euclidean norm of `v`, accumulated in `f64` so that large finite components cannot overflow and
/// tiny ones cannot underflow to zero. Used once per vector (at insert or per query), never in the scan.
pub(crate) fn norm_f64(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Scales `v` to unit length in place. Returns `false` (and leaves `v` alone) when `v` has no direction:
/// its norm is zero, or not finite.
pub(crate) fn normalize(v: &mut [f32]) -> bool {
    let norm = norm_f64(v);
    if norm == 0.0 || !norm.is_finite() {
        return false;
    }
    for x in v.iter_mut() {
        *x = (f64::from(*x) / norm) as f32;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic PRNG (xorshift64*), so tests need no `rand`.
    struct XorShift(u64);
    impl XorShift {
        fn next_f32(&mut self) -> f32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
        fn vec(&mut self, n: usize) -> Vec<f32> {
            (0..n).map(|_| self.next_f32()).collect()
        }
    }

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum()
    }

    fn naive_l2(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum()
    }

    #[test]
    fn kernels_match_a_naive_reference_for_every_length() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        // Every remainder length, and a few sizes used in practice.
        for n in (0..=40).chain([127, 128, 129, 384, 768, 1536]) {
            for _ in 0..5 {
                let (a, b) = (rng.vec(n), rng.vec(n));
                let tol = 1e-5 * (n as f64 + 1.0);
                let (d, nd) = (f64::from(dot(&a, &b)), naive_dot(&a, &b));
                assert!((d - nd).abs() <= tol, "dot n={n}: {d} vs {nd}");
                let (l, nl) = (f64::from(squared_l2(&a, &b)), naive_l2(&a, &b));
                assert!((l - nl).abs() <= tol, "l2 n={n}: {l} vs {nl}");
            }
        }
    }

    #[test]
    fn kernels_on_exact_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let b = [1.0; 9];
        assert_eq!(dot(&a, &b), 45.0);
        assert_eq!(squared_l2(&a, &a), 0.0);
        assert_eq!(squared_l2(&[0.0, 0.0], &[3.0, 4.0]), 25.0);
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn normalize_handles_extremes() {
        let mut v = vec![3.0, 4.0];
        assert!(normalize(&mut v));
        assert!((v[0] - 0.6).abs() < 1e-7 && (v[1] - 0.8).abs() < 1e-7);
        // Components whose squares overflow f32 still normalise.
        let mut big = vec![3.0e30, 4.0e30];
        assert!(normalize(&mut big));
        assert!((big[0] - 0.6).abs() < 1e-6, "{big:?}");
        // Components whose squares underflow f32 still normalise.
        let mut tiny = vec![3.0e-30, 4.0e-30];
        assert!(normalize(&mut tiny));
        assert!((tiny[1] - 0.8).abs() < 1e-6, "{tiny:?}");
        let mut zero = vec![0.0; 4];
        assert!(!normalize(&mut zero));
        assert_eq!(zero, vec![0.0; 4]);
    }
}
