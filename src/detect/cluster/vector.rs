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
/// Most rows in a band, the unit in which rows with a hot pixel are read again: more rows
/// spread the per-band work thinner, fewer mean fewer rows read again when a strip of the
/// band is hot. At most 32: a band's rows are bits of a `u32`.
pub(super) const BAND_ROWS: usize = 16;

/// A sum of pixels kept in four `u64` lanes, so that adding to it needs no horizontal sum:
/// [`LaneSums::total`] is the sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct LaneSums(pub [u64; 4]);

impl LaneSums {
    /// The sum of every pixel added.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// The operations the kernel is generic over; every implementation gives the same results.
///
/// A strip read covers `vectors` (1 to 4) vectors of `LANES` pixels from `off + r·stride` for
/// each row `r < rows`; the reads must lie inside `px` (they panic otherwise). Mask bits of
/// lanes past the `vectors` read are unspecified: callers clear them.
pub(super) trait Vector: Copy {
    /// Folds the rows of a strip into their column maxima, puts those into `column_max`
    /// (`column_max[i] = max_r px[off + r·stride + i]`, or when not `fresh` the maximum of
    /// that and `column_max[i]`), and writes the hot mask of each band of the rows (the
    /// first [`BAND_ROWS`] rows, the next, and so on) to `hot[b·step]`: bit `i` set when some
    /// row of band `b` has a hot pixel in column `i`, `>= thresholds[i]`.
    #[allow(clippy::too_many_arguments)]
    fn fold_strip(
        self,
        strip: StripRead<'_>,
        thresholds: &[u16; STRIP],
        column_max: &mut [u16; STRIP],
        fresh: bool,
        hot: &mut [u64],
        step: usize,
    );

    /// [`Vector::fold_strip`] for `strips` whole strips side by side and then, when
    /// `tail` is 1 to 4, one more strip of `tail` vectors: strip `s` reads from
    /// `off + 64·s + r·stride` for each row `r < rows` (`vectors` is ignored), folds into
    /// `column_max[64·s..]` against `thresholds[64·s..]` and writes the hot mask of its band
    /// `b` to `hot[b·step + s]`. Buffers hold whole strips. One bounds check for all strips.
    #[allow(clippy::too_many_arguments)]
    fn fold_strips(
        self,
        read: StripRead<'_>,
        strips: usize,
        tail: usize,
        thresholds: &[u16],
        column_max: &mut [u16],
        fresh: bool,
        hot: &mut [u64],
        step: usize,
    ) {
        let tail_strip = usize::from(tail > 0);
        for s in 0..strips + tail_strip {
            let x = s * STRIP;
            let strip = StripRead {
                off: read.off + x,
                vectors: if s < strips { STRIP / LANES } else { tail },
                ..read
            };
            let thresholds = thresholds[x..][..STRIP].try_into().expect("whole strips");
            let column_max = (&mut column_max[x..][..STRIP])
                .try_into()
                .expect("whole strips");
            self.fold_strip(strip, thresholds, column_max, fresh, &mut hot[s..], step);
        }
    }

    /// The hot mask of each row of a strip, kept to the bits of `keep`: `masks[r·step]` bit
    /// `i` set when `px[off + r·stride + i] >= thresholds[i]` and bit `i` of `keep` is set.
    /// Returns the rows with a hot pixel: bit `r` set when that mask is not 0 (at most 32
    /// rows).
    fn hot_rows(
        self,
        strip: StripRead<'_>,
        thresholds: &[u16; STRIP],
        keep: u64,
        masks: &mut [u64],
        step: usize,
    ) -> u32;

    /// Maximum of `px[start..end]`, 0 when empty.
    fn max_of(self, px: &[u16], start: usize, end: usize) -> u16;

    /// Adds the pixels of `row[start..end]`, a non-empty run, to `sums`, and returns their
    /// maximum when it is above `max` (the row is passed whole so short runs can be read as
    /// one vector). A run no hotter than `max` needs no maximum across lanes, and no sum
    /// needs a sum across lanes.
    fn add_run(
        self,
        row: &[u16],
        start: usize,
        end: usize,
        sums: &mut LaneSums,
        max: u16,
    ) -> Option<u16>;

    /// Index of the first value in `px` equal to `value`, which `px` holds.
    fn first_equal(self, px: &[u16], value: u16) -> usize;

    /// Runs `task` in a function of its own, compiled for this instruction set: work the
    /// hot loops that call it rarely need, kept out of them so it does not crowd their
    /// registers.
    fn outlined<T: Task>(self, task: T) -> T::Output;
}

/// Work for [`Vector::outlined`]. Not a closure: a closure is compiled without the caller's
/// target features, so the vector code in it would not inline; `run` must be
/// `#[inline(always)]`.
pub(super) trait Task {
    type Output;
    fn run(self) -> Self::Output;
}

/// Where to read a strip: `vectors` (1 to 4) vectors of [`LANES`] pixels from
/// `off + r·stride` for each row `r < rows`.
#[derive(Debug, Clone, Copy)]
pub(super) struct StripRead<'a> {
    pub px: &'a [u16],
    pub off: usize,
    pub stride: usize,
    pub rows: usize,
    pub vectors: usize,
}

impl StripRead<'_> {
    /// Panics unless every read lies inside `px` and `vectors` is 1 to 4.
    #[inline(always)]
    fn check(&self) {
        assert!(
            (1..=STRIP / LANES).contains(&self.vectors),
            "1 to 4 vectors"
        );
        self.check_width(self.vectors * LANES);
    }

    /// Panics unless `width` pixels from `off + r·stride` lie inside `px` for every row.
    #[inline(always)]
    fn check_width(&self, width: usize) {
        if let Some(last_row) = self.rows.checked_sub(1) {
            // Saturating, so an overflow fails the assert too.
            let end = last_row
                .saturating_mul(self.stride)
                .saturating_add(self.off)
                .saturating_add(width);
            assert!(end <= self.px.len(), "strip read out of bounds");
        }
    }

    /// Pixels read from row `r`.
    #[inline(always)]
    fn row(&self, r: usize) -> &[u16] {
        &self.px[self.off + r * self.stride..][..self.vectors * LANES]
    }
}

/// Plain Rust; the compiler vectorises it for the build target (SSE2 on x86_64, NEON on
/// aarch64).
#[derive(Debug, Clone, Copy)]
pub(super) struct Portable;

impl Vector for Portable {
    #[inline(always)]
    fn fold_strip(
        self,
        strip: StripRead<'_>,
        thresholds: &[u16; STRIP],
        column_max: &mut [u16; STRIP],
        fresh: bool,
        hot: &mut [u64],
        step: usize,
    ) {
        strip.check();
        let mut all = if fresh { [0u16; STRIP] } else { *column_max };
        for (b, band) in (0..strip.rows).step_by(BAND_ROWS).enumerate() {
            let mut max = [0u16; STRIP];
            for r in band..(band + BAND_ROWS).min(strip.rows) {
                for (m, &p) in max.iter_mut().zip(strip.row(r)) {
                    *m = (*m).max(p);
                }
            }
            for (a, &m) in all.iter_mut().zip(&max) {
                *a = (*a).max(m);
            }
            hot[b * step] = hot_mask(&max, thresholds);
        }
        *column_max = all;
    }

    #[inline(always)]
    fn hot_rows(
        self,
        strip: StripRead<'_>,
        thresholds: &[u16; STRIP],
        keep: u64,
        masks: &mut [u64],
        step: usize,
    ) -> u32 {
        strip.check();
        if let Some(last) = strip.rows.checked_sub(1) {
            assert!(last * step < masks.len(), "hot_rows: masks too short");
        }
        let mut rows = 0;
        for (r, mask) in masks.iter_mut().step_by(step).take(strip.rows).enumerate() {
            let row = strip.row(r);
            *mask = keep
                & match row.try_into() {
                    Ok(px) => hot_mask(px, thresholds),
                    Err(_) => {
                        let mut px = [0u16; STRIP];
                        px[..row.len()].copy_from_slice(row);
                        hot_mask(&px, thresholds)
                    }
                };
            rows |= u32::from(*mask != 0) << r;
        }
        rows
    }

    #[inline(always)]
    fn max_of(self, px: &[u16], start: usize, end: usize) -> u16 {
        px[start..end].iter().copied().max().unwrap_or(0)
    }

    #[inline(always)]
    fn add_run(
        self,
        row: &[u16],
        start: usize,
        end: usize,
        sums: &mut LaneSums,
        max: u16,
    ) -> Option<u16> {
        let px = &row[start..end];
        sums.0[0] += sum_u16(px);
        let run_max = px.iter().copied().max().expect("a run is not empty");
        (run_max > max).then_some(run_max)
    }

    #[inline(always)]
    fn first_equal(self, px: &[u16], value: u16) -> usize {
        px.iter().position(|&p| p == value).expect("value in px")
    }

    #[inline(never)]
    fn outlined<T: Task>(self, task: T) -> T::Output {
        task.run()
    }
}

/// Bit `i` set when `px[i] >= thresholds[i]`.
#[inline(always)]
fn hot_mask(px: &[u16; STRIP], thresholds: &[u16; STRIP]) -> u64 {
    // Compare into bytes (which vectorises), then gather 8 bytes into 8 bits at a time:
    // a plain `mask |= bit << i` loop compiles to one shift per pixel, five times slower.
    let mut hot = [0u8; STRIP];
    for ((h, &p), &t) in hot.iter_mut().zip(px).zip(thresholds) {
        *h = u8::from(p >= t);
    }
    let mut mask = 0;
    for (k, bytes) in hot.chunks_exact(8).enumerate() {
        let bytes = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        mask |= gather_bits(bytes) << (8 * k);
    }
    mask
}

/// The low bits of 8 bytes that are each 0 or 1, byte `i` to bit `i`. The product puts byte
/// `i` at bit `56 + i` (`8i + 8j + 7 - j` with `i + j = 7`); every other partial product
/// lands below bit 56 on a bit of its own or above bit 63, so nothing carries into the top
/// byte.
#[inline(always)]
pub(super) fn gather_bits(bytes: u64) -> u64 {
    bytes.wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Sum of `u16` values, vectorised: `u32` partial sums of at most 65 536 values cannot
/// overflow (65 536 × 65 535 < 2³²).
#[inline(always)]
pub(super) fn sum_u16(px: &[u16]) -> u64 {
    px.chunks(1 << 16)
        .map(|c| u64::from(c.iter().map(|&p| u32::from(p)).sum::<u32>()))
        .sum()
}

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::Avx2;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BAND_ROWS, LANES, LaneSums, Portable, STRIP, StripRead, Task, Vector};
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
        fn fold_strip(
            self,
            strip: StripRead<'_>,
            thresholds: &[u16; STRIP],
            column_max: &mut [u16; STRIP],
            fresh: bool,
            hot: &mut [u64],
            step: usize,
        ) {
            strip.check();
            if let Some(last) = strip.rows.checked_sub(1) {
                assert!(
                    last / BAND_ROWS * step < hot.len(),
                    "fold_strip: hot too short"
                );
            }
            let p = strip.px.as_ptr().wrapping_add(strip.off);
            let (t, c, h) = (
                thresholds.as_ptr(),
                column_max.as_mut_ptr(),
                hot.as_mut_ptr(),
            );
            let (rows, stride) = (strip.rows, strip.stride);
            // One constant vector count per instance so the row loop is fully unrolled.
            // SAFETY: the checks bound every row and band; N <= 4 vectors of 64-lane arrays.
            unsafe {
                match strip.vectors {
                    1 => fold_core::<1>(p, rows, stride, t, c, fresh, h, step),
                    2 => fold_core::<2>(p, rows, stride, t, c, fresh, h, step),
                    3 => fold_core::<3>(p, rows, stride, t, c, fresh, h, step),
                    _ => fold_core::<4>(p, rows, stride, t, c, fresh, h, step),
                }
            }
        }

        #[inline(always)]
        fn fold_strips(
            self,
            read: StripRead<'_>,
            strips: usize,
            tail: usize,
            thresholds: &[u16],
            column_max: &mut [u16],
            fresh: bool,
            hot: &mut [u64],
            step: usize,
        ) {
            let width = strips * STRIP + tail * LANES;
            let bands = read.rows.div_ceil(BAND_ROWS);
            assert!(
                tail <= STRIP / LANES
                    && thresholds.len() >= width
                    && column_max.len() >= width
                    && (bands == 0 || (bands - 1) * step + strips < hot.len()),
                "fold_strips: buffers too short"
            );
            read.check_width(width);
            unsafe { fold_strips(read, strips, tail, thresholds, column_max, fresh, hot, step) }
        }

        #[inline(always)]
        fn hot_rows(
            self,
            strip: StripRead<'_>,
            thresholds: &[u16; STRIP],
            keep: u64,
            masks: &mut [u64],
            step: usize,
        ) -> u32 {
            strip.check();
            assert!(strip.rows <= 32, "hot_rows: at most 32 rows");
            if let Some(last) = strip.rows.checked_sub(1) {
                assert!(last * step < masks.len(), "hot_rows: masks too short");
            }
            let m = masks.as_mut_ptr();
            // SAFETY: the checks bound every row and mask.
            unsafe {
                match strip.vectors {
                    1 => hot_rows::<1>(strip, thresholds, keep, m, step),
                    2 => hot_rows::<2>(strip, thresholds, keep, m, step),
                    3 => hot_rows::<3>(strip, thresholds, keep, m, step),
                    _ => hot_rows::<4>(strip, thresholds, keep, m, step),
                }
            }
        }

        #[inline(always)]
        fn max_of(self, px: &[u16], start: usize, end: usize) -> u16 {
            unsafe { max_of(px, start, end) }
        }

        #[inline(always)]
        fn add_run(
            self,
            row: &[u16],
            start: usize,
            end: usize,
            sums: &mut LaneSums,
            max: u16,
        ) -> Option<u16> {
            unsafe { add_run(row, start, end, sums, max) }
        }

        #[inline(always)]
        fn first_equal(self, px: &[u16], value: u16) -> usize {
            unsafe { first_equal(px, value) }
        }

        #[inline(always)]
        fn outlined<T: Task>(self, task: T) -> T::Output {
            unsafe { outlined(task) }
        }
    }

    /// `task` inlined into a function with AVX2 enabled, so the intrinsics it calls inline.
    #[target_feature(enable = "avx2")]
    #[inline(never)]
    fn outlined<T: Task>(task: T) -> T::Output {
        task.run()
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

    /// Loads `N` vectors from `p`.
    ///
    /// # Safety
    /// `N·LANES` values from `p` are readable.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_n<const N: usize>(p: *const u16) -> [__m256i; N] {
        let mut v = [_mm256_setzero_si256(); N];
        for (i, v) in v.iter_mut().enumerate() {
            // SAFETY: inside the N·LANES values the caller vouches for.
            *v = unsafe { _mm256_loadu_si256(p.add(i * LANES).cast()) };
        }
        v
    }

    /// All ones in lanes `0..n`, zero above.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn first_lanes(n: usize) -> __m256i {
        let iota = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        _mm256_cmpgt_epi16(_mm256_set1_epi16(n as i16), iota)
    }

    /// All ones where `v >= t` (unsigned). `v` is used once, so a load of it folds into
    /// the `min`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn at_least(v: __m256i, t: __m256i) -> __m256i {
        _mm256_cmpeq_epi16(_mm256_min_epu16(t, v), t)
    }

    /// One bit per 16-bit lane of two all-ones/all-zeros masks: `a` in bits 0..16, `b` above.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn lane_bits(a: __m256i, b: __m256i) -> u32 {
        // packs interleaves 128-bit halves (a.lo, b.lo, a.hi, b.hi); the permute restores order.
        let bytes = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi16(a, b));
        _mm256_movemask_epi8(bytes) as u32
    }

    /// The hot mask of `N` vectors against their thresholds (bits past `N·LANES` are 0).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn hot_mask<const N: usize>(v: &[__m256i; N], thresholds: &[__m256i; N]) -> u64 {
        let mut hot = [_mm256_setzero_si256(); 4];
        for i in 0..N {
            hot[i] = at_least(v[i], thresholds[i]);
        }
        u64::from(lane_bits(hot[0], hot[1])) | u64::from(lane_bits(hot[2], hot[3])) << 32
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

    /// Folds `rows` rows of `N` vectors from `p + r·stride` into `column_max` (just their
    /// maxima when `fresh`) and writes the hot mask of each band of them against
    /// `thresholds` to `hot[b·step]`.
    ///
    /// # Safety
    /// The rows are readable, `thresholds` and `column_max` hold `N·LANES` values and `hot`
    /// a mask for each band.
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn fold_core<const N: usize>(
        mut p: *const u16,
        rows: usize,
        stride: usize,
        thresholds: *const u16,
        column_max: *mut u16,
        fresh: bool,
        mut hot: *mut u64,
        step: usize,
    ) {
        // Raw pointers: the caller bounds every row, so no bounds check per row.
        // SAFETY: N·LANES values, as the caller vouches.
        let t = unsafe { load_n::<N>(thresholds) };
        let mut all = if fresh {
            [_mm256_setzero_si256(); N]
        } else {
            // SAFETY: as above.
            unsafe { load_n::<N>(column_max) }
        };
        let mut left = rows;
        while left > 0 {
            let band = left.min(BAND_ROWS);
            let mut max = [_mm256_setzero_si256(); N];
            let mut fold = |p: *const u16| {
                // SAFETY: a row the caller vouches for.
                let v = unsafe { load_n::<N>(p) };
                for i in 0..N {
                    max[i] = _mm256_max_epu16(max[i], v[i]);
                }
            };
            // Four rows a turn: the loop overhead would otherwise cost almost as much as
            // the loads and maxima.
            let mut band_left = band;
            while band_left >= 4 {
                fold(p);
                fold(p.wrapping_add(stride));
                fold(p.wrapping_add(2 * stride));
                fold(p.wrapping_add(3 * stride));
                p = p.wrapping_add(4 * stride);
                band_left -= 4;
            }
            for _ in 0..band_left {
                fold(p);
                p = p.wrapping_add(stride);
            }
            for i in 0..N {
                all[i] = _mm256_max_epu16(all[i], max[i]);
            }
            // SAFETY: a mask for each band, as the caller vouches.
            unsafe { *hot = hot_mask(&max, &t) };
            hot = hot.wrapping_add(step);
            left -= band;
        }
        for (i, all) in all.iter().enumerate() {
            // SAFETY: as above.
            unsafe { _mm256_storeu_si256(column_max.add(i * LANES).cast(), *all) };
        }
    }

    /// # Safety
    /// `read.check_width(64·strips + 16·tail)` passed, `tail <= 4`, `thresholds` and
    /// `column_max` hold that many values and `hot` holds `hot[b·step + s]` for each band
    /// `b` and strip `s <= strips`.
    #[target_feature(enable = "avx2")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn fold_strips(
        read: StripRead<'_>,
        strips: usize,
        tail: usize,
        thresholds: &[u16],
        column_max: &mut [u16],
        fresh: bool,
        hot: &mut [u64],
        step: usize,
    ) {
        let first_row = read.px.as_ptr().wrapping_add(read.off);
        let (rows, stride) = (read.rows, read.stride);
        let (t, c, h) = (
            thresholds.as_ptr(),
            column_max.as_mut_ptr(),
            hot.as_mut_ptr(),
        );
        // SAFETY (every fold_core): strip s and the tail lie inside the rows and buffers,
        // as the caller vouches.
        for s in 0..strips {
            let x = s * STRIP;
            let (p, t, c, h) = (
                first_row.wrapping_add(x),
                t.wrapping_add(x),
                c.wrapping_add(x),
                h.wrapping_add(s),
            );
            unsafe { fold_core::<4>(p, rows, stride, t, c, fresh, h, step) };
        }
        let x = strips * STRIP;
        let (p, t, c, h) = (
            first_row.wrapping_add(x),
            t.wrapping_add(x),
            c.wrapping_add(x),
            h.wrapping_add(strips),
        );
        unsafe {
            match tail {
                0 => {}
                1 => fold_core::<1>(p, rows, stride, t, c, fresh, h, step),
                2 => fold_core::<2>(p, rows, stride, t, c, fresh, h, step),
                3 => fold_core::<3>(p, rows, stride, t, c, fresh, h, step),
                _ => fold_core::<4>(p, rows, stride, t, c, fresh, h, step),
            }
        }
    }

    /// # Safety
    /// `strip.check()` passed, `strip.vectors == N`, `strip.rows <= 32` and
    /// `masks.add(r·step)` is writable for each row `r`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn hot_rows<const N: usize>(
        strip: StripRead<'_>,
        thresholds: &[u16; STRIP],
        keep: u64,
        mut masks: *mut u64,
        step: usize,
    ) -> u32 {
        // SAFETY: N <= 4 vectors of a 64-lane array.
        let t = unsafe { load_n::<N>(thresholds.as_ptr()) };
        let mut p = strip.px.as_ptr().wrapping_add(strip.off);
        let mut rows = 0;
        for r in 0..strip.rows {
            // SAFETY: as in fold_strip.
            let v = unsafe { load_n::<N>(p) };
            let mask = hot_mask(&v, &t) & keep;
            // SAFETY: a mask the caller vouches for.
            unsafe { *masks = mask };
            rows |= u32::from(mask != 0) << r;
            p = p.wrapping_add(strip.stride);
            masks = masks.wrapping_add(step);
        }
        rows
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
    fn add_run(
        row: &[u16],
        start: usize,
        end: usize,
        sums: &mut LaneSums,
        max: u16,
    ) -> Option<u16> {
        assert!(start < end && end <= row.len(), "run out of bounds");
        if row.len() < LANES {
            return Portable.add_run(row, start, end, sums, max);
        }
        let zero = _mm256_setzero_si256();
        // Per 64-bit lane: the sum of the bytes of four pixels, and of their high bytes; a
        // pixel is its low byte plus 256 times its high one.
        let (mut bytes, mut high) = (zero, zero);
        let mut run_max = zero;
        let mut add = |v: __m256i| {
            run_max = _mm256_max_epu16(run_max, v);
            bytes = _mm256_add_epi64(bytes, _mm256_sad_epu8(v, zero));
            high = _mm256_add_epi64(high, _mm256_sad_epu8(_mm256_srli_epi16::<8>(v), zero));
        };
        let mut at = start;
        while end - at > LANES {
            // SAFETY: at + LANES < end <= row.len().
            add(unsafe { load(row, at) });
            at += LANES;
        }
        // The last 1 to 16 pixels, the lanes past `end` zeroed; at the row's end they are
        // read from further left, and the lanes before `at` zeroed too.
        let v = if at + LANES <= row.len() {
            // SAFETY: checked just above.
            _mm256_and_si256(unsafe { load(row, at) }, first_lanes(end - at))
        } else {
            let from = row.len() - LANES;
            let lanes = _mm256_andnot_si256(first_lanes(at - from), first_lanes(end - from));
            // SAFETY: row.len() >= LANES.
            _mm256_and_si256(unsafe { load(row, from) }, lanes)
        };
        add(v);
        // bytes + 255·high
        let run_sums =
            _mm256_sub_epi64(_mm256_add_epi64(bytes, _mm256_slli_epi64::<8>(high)), high);
        let p = sums.0.as_mut_ptr().cast::<__m256i>();
        // SAFETY: four u64 lanes, unaligned access.
        unsafe { _mm256_storeu_si256(p, _mm256_add_epi64(_mm256_loadu_si256(p), run_sums)) };
        // Lanes no higher than `max` compare equal to it after the `max`.
        let limit = _mm256_set1_epi16(max as i16);
        let not_above = _mm256_cmpeq_epi16(_mm256_max_epu16(run_max, limit), limit);
        (_mm256_movemask_epi8(not_above) != -1).then(|| horizontal_max(run_max))
    }

    /// Index of the first value in `px` equal to `value`, which `px` holds.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn first_equal(px: &[u16], value: u16) -> usize {
        let n = px.len();
        if n < LANES {
            return px.iter().position(|&p| p == value).expect("value in px");
        }
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
            assert!(from + LANES < n, "value in px");
            at += LANES;
        }
    }
}
