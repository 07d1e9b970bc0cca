//! The kernel's vector operations, once in portable Rust and once in AVX2 intrinsics.
//!
//! The kernel reads a frame in strips of [`STRIP`] pixels: four vectors of [`LANES`] `u16`
//! lanes, one bit per pixel in a `u64` hot mask. [`Portable`] is plain Rust that the compiler
//! vectorises for whatever target it builds; [`Avx2`] can only be made after a run-time check,
//! so holding one proves the CPU can run its instructions.

/// Pixels per strip: one bit each in a `u64` mask.
pub(super) const STRIP: usize = 64;
/// `u16` lanes per vector.
pub(super) const LANES: usize = 16;

/// Maximum, position of the first maximum, and sum of a run of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RunStats {
    pub max: u16,
    pub max_at: usize,
    pub sum: u64,
}

/// The operations the kernel is generic over; every implementation gives the same results.
pub(super) trait Vector: Copy {
    /// Folds `rows` rows of a strip into `acc` lane by lane:
    /// `acc[i] = max(acc[i], px[off + r·stride + i])` for `r < rows` and `i < LANES·vectors`.
    /// `vectors` is 1 to 4. Panics if a read would leave `px`.
    fn fold_max(
        self,
        px: &[u16],
        off: usize,
        stride: usize,
        rows: usize,
        vectors: usize,
        acc: &mut [u16; STRIP],
    );

    /// Bit `i` is set when `px[i] >= thresholds[i]`.
    fn hot_bits(self, px: &[u16; STRIP], thresholds: &[u16; STRIP]) -> u64;

    /// Maximum of `px[start..end]`, 0 when empty.
    fn max_of(self, px: &[u16], start: usize, end: usize) -> u16;

    /// Statistics of a run; `px` is not empty.
    fn run_stats(self, px: &[u16]) -> RunStats;
}

/// Plain Rust; the compiler vectorises it for the build target (SSE2 on x86_64, NEON on
/// aarch64).
#[derive(Debug, Clone, Copy)]
pub(super) struct Portable;

impl Vector for Portable {
    #[inline(always)]
    fn fold_max(
        self,
        px: &[u16],
        off: usize,
        stride: usize,
        rows: usize,
        vectors: usize,
        acc: &mut [u16; STRIP],
    ) {
        // One constant width per call site so the inner loop is fully unrolled.
        match vectors {
            1 => fold_max_portable::<LANES>(px, off, stride, rows, acc),
            2 => fold_max_portable::<{ 2 * LANES }>(px, off, stride, rows, acc),
            3 => fold_max_portable::<{ 3 * LANES }>(px, off, stride, rows, acc),
            4 => fold_max_portable::<STRIP>(px, off, stride, rows, acc),
            _ => panic!("a strip has 1 to 4 vectors, not {vectors}"),
        }
    }

    #[inline(always)]
    fn hot_bits(self, px: &[u16; STRIP], thresholds: &[u16; STRIP]) -> u64 {
        let mut bits = 0;
        for (i, (&p, &t)) in px.iter().zip(thresholds).enumerate() {
            bits |= u64::from(p >= t) << i;
        }
        bits
    }

    #[inline(always)]
    fn max_of(self, px: &[u16], start: usize, end: usize) -> u16 {
        px[start..end].iter().copied().max().unwrap_or(0)
    }

    #[inline(always)]
    fn run_stats(self, px: &[u16]) -> RunStats {
        if px.len() < LANES {
            return run_stats_scalar(px);
        }
        // Three simple passes the compiler vectorises beat one branchy pass.
        let max = px.iter().copied().max().unwrap_or(0);
        let max_at = px.iter().position(|&p| p == max).unwrap_or(0);
        RunStats {
            max,
            max_at,
            sum: sum_u16(px),
        }
    }
}

#[inline(always)]
fn fold_max_portable<const N: usize>(
    px: &[u16],
    off: usize,
    stride: usize,
    rows: usize,
    acc: &mut [u16; STRIP],
) {
    let acc: &mut [u16; N] = (&mut acc[..N]).try_into().expect("N <= STRIP");
    for r in 0..rows {
        let row: &[u16; N] = px[off + r * stride..][..N].try_into().expect("N pixels");
        for (a, &p) in acc.iter_mut().zip(row) {
            *a = (*a).max(p);
        }
    }
}

/// Sum of `u16` values, vectorised: `u32` partial sums of at most 65 536 values cannot
/// overflow (65 536 × 65 535 < 2³²).
#[inline(always)]
pub(super) fn sum_u16(px: &[u16]) -> u64 {
    px.chunks(1 << 16)
        .map(|c| u64::from(c.iter().map(|&p| u32::from(p)).sum::<u32>()))
        .sum()
}

/// One pass for short runs, where vector set-up would cost more than it saves.
#[inline(always)]
fn run_stats_scalar(px: &[u16]) -> RunStats {
    let mut stats = RunStats {
        max: px[0],
        max_at: 0,
        sum: 0,
    };
    for (i, &p) in px.iter().enumerate() {
        if p > stats.max {
            stats.max = p;
            stats.max_at = i;
        }
        stats.sum += u64::from(p);
    }
    stats
}

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::Avx2;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{LANES, RunStats, STRIP, Vector, run_stats_scalar};
    use std::arch::x86_64::*;

    /// Proof that this CPU runs AVX2: only [`Avx2::detect`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(in crate::detect::cluster) struct Avx2(());

    impl Avx2 {
        /// `Some` when the CPU reports AVX2 (the check is cached by the standard library).
        pub fn detect() -> Option<Avx2> {
            is_x86_feature_detected!("avx2").then_some(Avx2(()))
        }
    }

    // SAFETY (every call below): an `Avx2` value exists, so the CPU has AVX2.
    impl Vector for Avx2 {
        #[inline(always)]
        fn fold_max(
            self,
            px: &[u16],
            off: usize,
            stride: usize,
            rows: usize,
            vectors: usize,
            acc: &mut [u16; STRIP],
        ) {
            unsafe { fold_max(px, off, stride, rows, vectors, acc) }
        }

        #[inline(always)]
        fn hot_bits(self, px: &[u16; STRIP], thresholds: &[u16; STRIP]) -> u64 {
            unsafe { hot_bits(px, thresholds) }
        }

        #[inline(always)]
        fn max_of(self, px: &[u16], start: usize, end: usize) -> u16 {
            unsafe { max_of(px, start, end) }
        }

        #[inline(always)]
        fn run_stats(self, px: &[u16]) -> RunStats {
            unsafe { run_stats(px) }
        }
    }

    /// Loads 16 lanes from `px[at..at + 16]`.
    ///
    /// # Safety
    /// `at + LANES <= px.len()`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load(px: &[u16], at: usize) -> __m256i {
        debug_assert!(at + LANES <= px.len());
        // SAFETY: the caller keeps the 16 lanes inside `px`; loadu has no alignment needs.
        unsafe { _mm256_loadu_si256(px.as_ptr().add(at).cast()) }
    }

    /// All ones in lanes `0..n`, zero above.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn first_lanes(n: usize) -> __m256i {
        let iota = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        _mm256_cmpgt_epi16(_mm256_set1_epi16(n as i16), iota)
    }

    /// All ones where `v >= t` (unsigned).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn at_least(v: __m256i, t: __m256i) -> __m256i {
        _mm256_cmpeq_epi16(_mm256_max_epu16(v, t), v)
    }

    /// One bit per 16-bit lane of two all-ones/all-zeros masks: `a` in bits 0..16, `b` above.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn lane_bits(a: __m256i, b: __m256i) -> u32 {
        // packs interleaves 128-bit halves (a.lo, b.lo, a.hi, b.hi); the permute restores order.
        let bytes = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi16(a, b));
        _mm256_movemask_epi8(bytes) as u32
    }

    /// Largest lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn horizontal_max(v: __m256i) -> u16 {
        let m = _mm_max_epu16(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        // minpos finds the smallest lane; the largest is the smallest of the complement.
        let inverted = _mm_xor_si128(m, _mm_set1_epi32(-1));
        !(_mm_cvtsi128_si32(_mm_minpos_epu16(inverted)) as u16)
    }

    /// Sum of the eight `u32` lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn horizontal_sum(v: __m256i) -> u64 {
        let mut lanes = [0u32; 8];
        // SAFETY: `lanes` is 32 bytes; storeu has no alignment needs.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
        lanes.iter().map(|&l| u64::from(l)).sum()
    }

    /// The 16 lanes widened to `u32` and added pairwise into 8 lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn widen_pairs(v: __m256i) -> __m256i {
        let zero = _mm256_setzero_si256();
        _mm256_add_epi32(
            _mm256_unpacklo_epi16(v, zero),
            _mm256_unpackhi_epi16(v, zero),
        )
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn fold_max(
        px: &[u16],
        off: usize,
        stride: usize,
        rows: usize,
        vectors: usize,
        acc: &mut [u16; STRIP],
    ) {
        if rows == 0 {
            return;
        }
        // Saturating, so an overflow fails the assert; closures here would not inline.
        let end = (rows - 1)
            .saturating_mul(stride)
            .saturating_add(off)
            .saturating_add(vectors * LANES);
        assert!(
            (1..=4).contains(&vectors) && end <= px.len(),
            "strip read out of bounds"
        );
        // SAFETY: the assert bounds every row's read.
        unsafe {
            match vectors {
                1 => fold_max_n::<1>(px, off, stride, rows, acc),
                2 => fold_max_n::<2>(px, off, stride, rows, acc),
                3 => fold_max_n::<3>(px, off, stride, rows, acc),
                _ => fold_max_n::<4>(px, off, stride, rows, acc),
            }
        }
    }

    /// # Safety
    /// `off + (rows - 1)·stride + N·LANES <= px.len()`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn fold_max_n<const N: usize>(
        px: &[u16],
        off: usize,
        stride: usize,
        rows: usize,
        acc: &mut [u16; STRIP],
    ) {
        let mut m = [_mm256_setzero_si256(); N];
        for (i, m) in m.iter_mut().enumerate() {
            // SAFETY: N <= 4, so the lanes lie inside `acc`.
            *m = unsafe { load(acc, i * LANES) };
        }
        let mut p = px.as_ptr().wrapping_add(off);
        for _ in 0..rows {
            for (i, m) in m.iter_mut().enumerate() {
                // SAFETY: the caller bounds the rows; raw pointers skip a bounds check per row.
                let v = unsafe { _mm256_loadu_si256(p.add(i * LANES).cast()) };
                *m = _mm256_max_epu16(*m, v);
            }
            p = p.wrapping_add(stride);
        }
        for (i, m) in m.iter().enumerate() {
            // SAFETY: as for the loads from `acc`.
            unsafe { _mm256_storeu_si256(acc.as_mut_ptr().add(i * LANES).cast(), *m) };
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn hot_bits(px: &[u16; STRIP], thresholds: &[u16; STRIP]) -> u64 {
        let mut hot = [_mm256_setzero_si256(); 4];
        for (i, h) in hot.iter_mut().enumerate() {
            // SAFETY: lanes 0..64 of two 64-lane arrays.
            *h = unsafe { at_least(load(px, i * LANES), load(thresholds, i * LANES)) };
        }
        let low = lane_bits(hot[0], hot[1]);
        let high = lane_bits(hot[2], hot[3]);
        u64::from(low) | u64::from(high) << 32
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn max_of(px: &[u16], start: usize, end: usize) -> u16 {
        assert!(start <= end && end <= px.len(), "range out of bounds");
        let n = end - start;
        if n >= LANES {
            let mut m = _mm256_setzero_si256();
            let mut at = start;
            while at + LANES <= end {
                // SAFETY: at + LANES <= end <= px.len().
                m = _mm256_max_epu16(m, unsafe { load(px, at) });
                at += LANES;
            }
            if at < end {
                // The last 16 overlap lanes already seen: harmless for a maximum.
                // SAFETY: n >= LANES, so end - LANES >= start.
                m = _mm256_max_epu16(m, unsafe { load(px, end - LANES) });
            }
            horizontal_max(m)
        } else if start + LANES <= px.len() {
            // SAFETY: checked just above; lanes past `end` are zeroed.
            let v = unsafe { load(px, start) };
            horizontal_max(_mm256_and_si256(v, first_lanes(n)))
        } else {
            px[start..end].iter().copied().max().unwrap_or(0)
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn run_stats(px: &[u16]) -> RunStats {
        let n = px.len();
        if n < LANES {
            return run_stats_scalar(px);
        }
        // u32 lanes take two values per vector: flushing every 4096 vectors keeps each lane
        // below 8192 × 65 535 and their total below 2³².
        const FLUSH_EVERY: usize = 4096;
        let (mut max, mut lane_sums, mut sum) = (_mm256_setzero_si256(), _mm256_setzero_si256(), 0);
        let mut at = 0;
        let mut since_flush = 0;
        while at + LANES <= n {
            // SAFETY: at + LANES <= n.
            let v = unsafe { load(px, at) };
            max = _mm256_max_epu16(max, v);
            lane_sums = _mm256_add_epi32(lane_sums, widen_pairs(v));
            at += LANES;
            since_flush += 1;
            if since_flush == FLUSH_EVERY {
                sum += horizontal_sum(lane_sums);
                lane_sums = _mm256_setzero_si256();
                since_flush = 0;
            }
        }
        let tail = n - at;
        if tail > 0 {
            // SAFETY: n >= LANES. Only the last `tail` lanes are new to the sum.
            let v = unsafe { load(px, n - LANES) };
            max = _mm256_max_epu16(max, v);
            let fresh = _mm256_andnot_si256(first_lanes(LANES - tail), v);
            lane_sums = _mm256_add_epi32(lane_sums, widen_pairs(fresh));
        }
        sum += horizontal_sum(lane_sums);
        let max = horizontal_max(max);
        RunStats {
            max,
            max_at: first_equal(px, max),
            sum,
        }
    }

    /// Index of the first lane equal to `value`, which `px` (at least 16 long) holds.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn first_equal(px: &[u16], value: u16) -> usize {
        let n = px.len();
        let target = _mm256_set1_epi16(value as i16);
        let mut at = 0;
        loop {
            // The last vector ends at n; lanes it repeats held no match.
            let from = at.min(n - LANES);
            // SAFETY: from + LANES <= n.
            let eq = _mm256_cmpeq_epi16(unsafe { load(px, from) }, target);
            let mask = _mm256_movemask_epi8(eq) as u32;
            if mask != 0 {
                return from + mask.trailing_zeros() as usize / 2;
            }
            assert!(from + LANES < n, "value not in run");
            at += LANES;
        }
    }
}
