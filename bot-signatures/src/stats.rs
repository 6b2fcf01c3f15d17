//! How sure a held-out figure is: the 95% Wilson score interval of a share
//! (`versus` prints it beside each held-out recall and false-positive rate),
//! and the exact McNemar test of two matchers scored on the same lines (is
//! the difference from isbot more than chance on this many lines?).
//!
//! Both are the textbook forms (Newcombe 1998 for the interval; the exact
//! binomial form of McNemar's test, which needs no large-sample assumption and
//! so holds for the handful of lines where two matchers disagree).

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The 95% Wilson score interval of `hits` out of `n`, as shares in 0..=1;
/// `(0, 1)` when `n` is 0 (nothing is known).
pub fn wilson95(hits: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let hits = hits.min(n);
    let (k, m) = (hits as f64, n as f64);
    let p = k / m;
    let z2 = Z95 * Z95;
    let centre = p + z2 / (2.0 * m);
    let spread = Z95 * (p * (1.0 - p) / m + z2 / (4.0 * m * m)).sqrt();
    let scale = 1.0 + z2 / m;
    // The ends are exact where the share is: none or all.
    let lo = if hits == 0 {
        0.0
    } else {
        ((centre - spread) / scale).max(0.0)
    };
    let hi = if hits == n {
        1.0
    } else {
        ((centre + spread) / scale).min(1.0)
    };
    (lo, hi)
}

/// The two-sided p-value of the exact McNemar test: on the lines where two
/// matchers disagree, `only_a` flagged by the first alone and `only_b` by the
/// second alone; under "neither is better" each disagreement is a fair coin.
/// 1 when they never disagree.
pub fn mcnemar_exact(only_a: usize, only_b: usize) -> f64 {
    let n = only_a + only_b;
    let k = only_a.min(only_b);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in logs (n can be thousands).
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0f64;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::{mcnemar_exact, wilson95};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    /// Newcombe (1998), "Two-sided confidence intervals for the single
    /// proportion", Table I, method 3 (score interval without continuity
    /// correction), to four places.
    #[test]
    fn wilson_matches_newcombes_table() {
        for (hits, n, lo, hi) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let (l, h) = wilson95(hits, n);
            assert!(close(l, lo) && close(h, hi), "{hits}/{n}: ({l:.4}, {h:.4})");
        }
    }

    #[test]
    fn wilson_edges() {
        assert_eq!(wilson95(0, 0), (0.0, 1.0));
        let (l, h) = wilson95(20, 20);
        assert!(h == 1.0 && close(l, 1.0 - 0.1611), "({l}, {h})");
        let (l, h) = wilson95(0, 20);
        assert!(l == 0.0 && close(h, 0.1611), "({l}, {h})");
        let (l, h) = wilson95(10, 10);
        assert!(h == 1.0 && close(l, 0.7225), "({l}, {h})");
    }

    /// Exact values: with n disagreements the tail is a sum of binomial
    /// coefficients over 2^n.
    #[test]
    fn mcnemar_is_the_exact_binomial_tail() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        // 1 against 9: 2 * (1 + 10) / 1024.
        assert!((mcnemar_exact(1, 9) - 22.0 / 1024.0).abs() < 1e-12);
        assert!((mcnemar_exact(9, 1) - 22.0 / 1024.0).abs() < 1e-12);
        // 0 against 6: 2 / 64.
        assert!((mcnemar_exact(0, 6) - 2.0 / 64.0).abs() < 1e-12);
        // 3 against 7: 2 * (1 + 10 + 45 + 120) / 1024.
        assert!((mcnemar_exact(3, 7) - 352.0 / 1024.0).abs() < 1e-12);
        // Large n stays finite: 100 against 160 is far from chance.
        let p = mcnemar_exact(100, 160);
        assert!(p > 0.0 && p < 0.001, "{p}");
    }
}
