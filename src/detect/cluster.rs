//! The per-frame kernel: threshold, 8-connected components and their statistics.
//!
//! A pixel `p` in region `r` is hot when `p >= thresholds[r]` (raw counts). Hot pixels are
//! grouped into horizontal runs; runs on adjacent rows that overlap or touch diagonally
//! (`a.x0 <= b.x1 && b.x0 <= a.x1`, ends exclusive) are joined with union-find, and so are
//! runs that meet at a region boundary on the same row. No label image is written.
//!
//! Per component: pixel count, bounding box, maximum and its position, sum of raw counts
//! (mean = sum ÷ count), sums of coordinates (centroid = sum ÷ count + 0.5) and the set of
//! regions it touches. Per region: the maximum over all its unmasked pixels, hot or not, and
//! the number of hot pixels.
//!
//! # How
//!
//! Rows whose spans repeat the row above form a band of at most [`BAND_ROWS`] rows. For each
//! band the kernel first folds every 64-pixel strip into its column maxima (one load and one
//! `max` per 16 pixels, the same work as a memory read), then compares those maxima with the
//! per-pixel thresholds: a strip with no hot bit is done, and the spans' maxima come from the
//! column maxima. Only hot strips are read again row by row, as 64-bit hot masks whose runs
//! fall out of `trailing_zeros`. Runs carry their own statistics, so components are merged
//! with union-find over runs, never pixels.
//!
//! The vector work has two implementations, chosen at run time ([`Isa`]): AVX2 intrinsics on
//! x86_64 CPUs that have it, and portable Rust everywhere else. Both give identical results.

use std::ops::Range;

use super::{Layout, MASKED, Span};
#[cfg(target_arch = "x86_64")]
use vector::Avx2;
use vector::{LANES, Portable, STRIP, Vector};

mod vector;

#[cfg(test)]
mod tests;

/// Most rows scanned as one band: more rows amortise the per-band work, fewer rows mean less
/// to re-read when a strip of the band is hot.
const BAND_ROWS: usize = 16;

/// One connected component of hot pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hotspot {
    /// Pixels in the component.
    pub area_px: u32,
    /// Bounding box `[x0, y0, x1, y1]`, inclusive.
    pub bbox: [u32; 4],
    /// Hottest raw count.
    pub max_raw: u16,
    /// Column of the hottest pixel (the first in scan order).
    pub max_x: u32,
    /// Row of the hottest pixel.
    pub max_y: u32,
    /// Sum of raw counts.
    pub sum_raw: u64,
    /// Sum of column indices.
    pub sum_x: u64,
    /// Sum of row indices.
    pub sum_y: u64,
    /// Bit `r` is set when the component has a pixel in region `r`.
    pub regions: u64,
}

impl Hotspot {
    /// Mean raw count.
    pub fn mean_raw(&self) -> f64 {
        self.sum_raw as f64 / self.area_px as f64
    }

    /// Centroid in pixel coordinates (pixel centres at `x + 0.5`).
    pub fn centroid(&self) -> (f64, f64) {
        let n = self.area_px as f64;
        (self.sum_x as f64 / n + 0.5, self.sum_y as f64 / n + 0.5)
    }

    /// Whether the component has a pixel in `region`.
    pub fn touches(&self, region: usize) -> bool {
        self.regions & (1u64 << region) != 0
    }
}

/// Statistics of one region for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionStats {
    /// Hottest raw count over the region's unmasked pixels (0 when it has none).
    pub max_raw: u16,
    /// Hot pixels in the region.
    pub hot_px: u32,
}

/// The result of one frame; borrows the detector's buffers.
#[derive(Debug, Clone, Copy)]
pub struct Detection<'a> {
    /// Components in scan order of their first pixel.
    pub hotspots: &'a [Hotspot],
    /// One entry per region of the layout.
    pub regions: &'a [RegionStats],
}

/// The instruction set a [`Detector`] scans with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust the compiler vectorises for the build target; runs everywhere.
    Portable,
    /// 256-bit AVX2 intrinsics, on x86_64 CPUs that report AVX2 at run time.
    Avx2,
}

impl Isa {
    /// The fastest instruction set this CPU runs.
    pub fn best() -> Isa {
        if Isa::Avx2.is_supported() {
            Isa::Avx2
        } else {
            Isa::Portable
        }
    }

    /// Whether this CPU runs `self`.
    pub fn is_supported(self) -> bool {
        Kernel::new(self).is_some()
    }

    /// Every instruction set this CPU runs, portable first.
    pub fn supported() -> impl Iterator<Item = Isa> {
        [Isa::Portable, Isa::Avx2]
            .into_iter()
            .filter(|isa| isa.is_supported())
    }
}

/// An [`Isa`] together with the proof that this CPU runs it.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
}

impl Kernel {
    fn new(isa: Isa) -> Option<Kernel> {
        match isa {
            Isa::Portable => Some(Kernel::Portable),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => Avx2::detect().map(Kernel::Avx2),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 => None,
        }
    }

    fn isa(self) -> Isa {
        match self {
            Kernel::Portable => Isa::Portable,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(_) => Isa::Avx2,
        }
    }
}

/// A horizontal run of hot pixels `x0..x1` on row `y`, all in one region.
#[derive(Debug, Clone, Copy)]
struct Run {
    y: u32,
    x0: u32,
    x1: u32,
    region: u8,
    max_raw: u16,
    max_x: u32,
    sum_raw: u64,
}

/// Runs and their union-find forest; a root is always the first run of its component.
#[derive(Debug, Default)]
struct Runs {
    runs: Vec<Run>,
    parent: Vec<u32>,
}

impl Runs {
    fn clear(&mut self) {
        self.runs.clear();
        self.parent.clear();
    }

    fn len(&self) -> usize {
        self.runs.len()
    }

    fn push(&mut self, run: Run) {
        self.parent.push(self.runs.len() as u32);
        self.runs.push(run);
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] as usize != i {
            let grand = self.parent[self.parent[i] as usize];
            self.parent[i] = grand;
            i = grand as usize;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        // The smaller index becomes the root, so roots are first runs in scan order.
        if ra < rb {
            self.parent[rb] = ra as u32;
        } else if rb < ra {
            self.parent[ra] = rb as u32;
        }
    }

    /// Joins the runs of one row (`row`) with each other where they meet at a region boundary
    /// and with the runs of the row above (`above`, possibly empty) where they touch
    /// (8-connectivity). Both ranges are in left-to-right order.
    fn link(&mut self, above: Range<usize>, row: Range<usize>) {
        let mut p = above.start;
        for i in row.clone() {
            let run = self.runs[i];
            if i > row.start && self.runs[i - 1].x1 == run.x0 {
                self.union(i - 1, i);
            }
            while p < above.end && self.runs[p].x1 < run.x0 {
                p += 1;
            }
            let mut q = p;
            while q < above.end && self.runs[q].x0 <= run.x1 {
                self.union(q, i);
                q += 1;
            }
        }
    }
}

/// What the kernel knows about the current band's row pattern, plus the band's column maxima.
/// Per-pixel and per-strip buffers are padded to whole strips.
#[derive(Debug, Default)]
struct Band {
    /// Hot threshold of each pixel's region (any value for masked pixels and padding).
    thresholds: Vec<u16>,
    /// Per strip: bit `i` set when pixel `64·strip + i` is in the frame and not masked.
    unmasked: Vec<u64>,
    /// Per strip: bit `i` set when a span starts at pixel `64·strip + i`.
    span_starts: Vec<u64>,
    /// Per pixel: the maximum over the band's rows; `LANES` more for vector reads at the end.
    column_max: Vec<u16>,
    /// Strips of the band with a hot pixel, ascending.
    hot_strips: Vec<u32>,
}

impl Band {
    /// Sizes the buffers for rows of `width` pixels.
    fn resize(&mut self, width: usize) {
        let strips = width.div_ceil(STRIP);
        self.thresholds.resize(strips * STRIP, 0);
        self.unmasked.resize(strips, 0);
        self.span_starts.resize(strips, 0);
        self.column_max.resize(strips * STRIP + LANES, 0);
    }

    /// Describes rows made of `spans`, with `thresholds[r]` the threshold of region `r`.
    #[inline(always)]
    fn set_pattern(&mut self, spans: &[Span], thresholds: &[u16]) {
        self.unmasked.fill(0);
        self.span_starts.fill(0);
        for span in spans {
            let (x0, x1) = (span.x0 as usize, span.x1 as usize);
            self.span_starts[x0 / STRIP] |= 1 << (x0 % STRIP);
            if span.region == MASKED {
                continue;
            }
            self.thresholds[x0..x1].fill(thresholds[span.region as usize]);
            set_bits(&mut self.unmasked, x0, x1);
        }
    }
}

/// Strip `strip` of a strip-padded per-pixel buffer.
fn strip_of(buffer: &[u16], strip: usize) -> &[u16; STRIP] {
    buffer[strip * STRIP..][..STRIP]
        .try_into()
        .expect("whole strips")
}

/// Sets bits `start..end` (not empty) of a bit set stored in `u64` words.
#[inline(always)]
fn set_bits(words: &mut [u64], start: usize, end: usize) {
    let (first, last) = (start / 64, (end - 1) / 64);
    for (w, word) in words[first..=last].iter_mut().enumerate() {
        let base = (first + w) * 64;
        let lo = start.max(base) - base;
        let hi = end.min(base + 64) - base;
        let ones = if hi - lo == 64 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        *word |= ones;
    }
}

/// Reusable buffers for the kernel; after the first frames of a size no call allocates.
#[derive(Debug)]
pub struct Detector {
    kernel: Kernel,
    runs: Runs,
    band: Band,
    component: Vec<u32>,
    hotspots: Vec<Hotspot>,
    regions: Vec<RegionStats>,
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new()
    }
}

impl Detector {
    /// A detector with empty buffers that scans with the fastest instruction set of this CPU.
    pub fn new() -> Detector {
        Detector::with_isa(Isa::best())
    }

    /// A detector that scans with `isa`; panics when this CPU does not run it
    /// (see [`Isa::is_supported`]).
    pub fn with_isa(isa: Isa) -> Detector {
        let kernel =
            Kernel::new(isa).unwrap_or_else(|| panic!("this CPU does not run the {isa:?} kernel"));
        Detector {
            kernel,
            runs: Runs::default(),
            band: Band::default(),
            component: Vec::new(),
            hotspots: Vec::new(),
            regions: Vec::new(),
        }
    }

    /// The instruction set this detector scans with.
    pub fn isa(&self) -> Isa {
        self.kernel.isa()
    }

    /// Runs the kernel on `pixels` (row-major, `layout.width() × layout.height()`), with
    /// `thresholds[r]` the hot threshold of region `r`.
    pub fn detect(&mut self, pixels: &[u16], layout: &Layout, thresholds: &[u16]) -> Detection<'_> {
        let w = layout.width() as usize;
        assert_eq!(pixels.len(), w * layout.height() as usize, "frame size");
        assert_eq!(
            thresholds.len(),
            layout.regions(),
            "one threshold per region"
        );
        match self.kernel {
            Kernel::Portable => self.scan(Portable, pixels, layout, thresholds),
            // SAFETY: the token proves the CPU has AVX2.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(avx2) => unsafe { self.scan_avx2(avx2, pixels, layout, thresholds) },
        }
        self.collect();
        Detection {
            hotspots: &self.hotspots,
            regions: &self.regions,
        }
    }

    /// Every hot run of the last frame as `(y, x0, x1, hotspot index)`, `x1` exclusive.
    pub fn runs(&self) -> impl Iterator<Item = (u32, u32, u32, usize)> + '_ {
        self.runs
            .runs
            .iter()
            .zip(&self.component)
            .map(|(r, &c)| (r.y, r.x0, r.x1, c as usize))
    }

    /// [`Detector::scan`] compiled with AVX2 enabled, so the intrinsics inline.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scan_avx2(&mut self, avx2: Avx2, pixels: &[u16], layout: &Layout, thresholds: &[u16]) {
        self.scan(avx2, pixels, layout, thresholds);
    }

    /// Fills the runs and region stats of one frame, band by band.
    #[inline(always)]
    fn scan<V: Vector>(&mut self, v: V, pixels: &[u16], layout: &Layout, thresholds: &[u16]) {
        let (w, h) = (layout.width() as usize, layout.height() as usize);
        self.runs.clear();
        self.regions.clear();
        self.regions
            .resize(layout.regions(), RegionStats::default());
        self.band.resize(w);
        // The runs of the last row scanned in detail, and that row.
        let mut above: (usize, Range<usize>) = (usize::MAX, 0..0);
        let mut y = 0;
        while y < h {
            let spans = layout.row(y as u32);
            if y == 0 || !layout.repeats_row_above(y as u32) {
                self.band.set_pattern(spans, thresholds);
            }
            let mut end = y + 1;
            while end < h && end - y < BAND_ROWS && layout.repeats_row_above(end as u32) {
                end += 1;
            }
            if self.fold_band(v, pixels, w, y..end, spans) {
                for row in y..end {
                    let first = self.runs.len();
                    self.scan_row(v, pixels, w, row, spans);
                    let linked = if above.0.wrapping_add(1) == row {
                        above.1.clone()
                    } else {
                        0..0
                    };
                    self.runs.link(linked, first..self.runs.len());
                    above = (row, first..self.runs.len());
                }
            }
            y = end;
        }
    }

    /// Folds rows `rows` into column maxima, adds the spans' maxima to their regions and
    /// lists the strips with a hot pixel; returns whether there is one.
    #[inline(always)]
    fn fold_band<V: Vector>(
        &mut self,
        v: V,
        pixels: &[u16],
        w: usize,
        rows: Range<usize>,
        spans: &[Span],
    ) -> bool {
        let band = &mut self.band;
        band.hot_strips.clear();
        for strip in 0..band.unmasked.len() {
            let x = strip * STRIP;
            let vectors = (w - x).div_ceil(LANES).min(STRIP / LANES);
            let acc: &mut [u16; STRIP] = (&mut band.column_max[x..x + STRIP])
                .try_into()
                .expect("whole strips");
            *acc = [0; STRIP];
            let first = rows.start * w + x;
            // Rows whose read ends inside the frame; a strip of the last rows may not.
            let read = vectors * LANES;
            let direct = if first + (rows.len() - 1) * w + read <= pixels.len() {
                rows.len()
            } else if first + read <= pixels.len() {
                (pixels.len() - first - read) / w + 1
            } else {
                0
            };
            v.fold_max(pixels, first, w, direct, vectors, acc);
            for r in direct..rows.len() {
                let padded = padded_strip(pixels, first + r * w);
                v.fold_max(&padded, 0, 0, 1, vectors, acc);
            }
            let hot = v.hot_bits(acc, strip_of(&band.thresholds, strip)) & band.unmasked[strip];
            if hot != 0 {
                band.hot_strips.push(strip as u32);
            }
        }
        for span in spans {
            if span.region != MASKED {
                let max = v.max_of(&band.column_max, span.x0 as usize, span.x1 as usize);
                let stats = &mut self.regions[span.region as usize];
                stats.max_raw = stats.max_raw.max(max);
            }
        }
        !band.hot_strips.is_empty()
    }

    /// Finds the hot runs of row `y` in the band's hot strips, in left-to-right order.
    #[inline(always)]
    fn scan_row<V: Vector>(&mut self, v: V, pixels: &[u16], w: usize, y: usize, spans: &[Span]) {
        let row = &pixels[y * w..(y + 1) * w];
        let mut span_index = 0;
        let mut emit = |runs: &mut Runs, regions: &mut [RegionStats], x0: usize, x1: usize| {
            while spans[span_index].x1 as usize <= x0 {
                span_index += 1;
            }
            let region = spans[span_index].region;
            let stats = v.run_stats(&row[x0..x1]);
            regions[region as usize].hot_px += (x1 - x0) as u32;
            runs.push(Run {
                y: y as u32,
                x0: x0 as u32,
                x1: x1 as u32,
                region,
                max_raw: stats.max,
                max_x: (x0 + stats.max_at) as u32,
                sum_raw: stats.sum,
            });
        };
        // A run still open at the end of the last strip read, and where that strip ended.
        let mut open: Option<usize> = None;
        let mut read_to = 0;
        for &strip in &self.band.hot_strips {
            let x = strip as usize * STRIP;
            let start = y * w + x;
            let padded;
            let px: &[u16; STRIP] = match pixels.get(start..start + STRIP) {
                Some(px) => px.try_into().expect("a strip"),
                None => {
                    padded = padded_strip(pixels, start);
                    &padded
                }
            };
            let mut hot = v.hot_bits(px, strip_of(&self.band.thresholds, strip as usize))
                & self.band.unmasked[strip as usize];
            // A run breaks where a pixel is not hot or a new span (region) begins.
            let breaks = !hot | self.band.span_starts[strip as usize];
            if let Some(x0) = open.take() {
                if read_to == x && breaks & 1 == 0 {
                    let end = (breaks & !1).trailing_zeros() as usize;
                    if end == STRIP {
                        open = Some(x0);
                        read_to = x + STRIP;
                        continue;
                    }
                    emit(&mut self.runs, &mut self.regions, x0, x + end);
                    hot &= u64::MAX << end;
                } else {
                    emit(&mut self.runs, &mut self.regions, x0, read_to);
                }
            }
            while hot != 0 {
                let start = hot.trailing_zeros() as usize;
                // Breaks after `start`; 2 << 63 wraps to 0, so the mask covers all bits then.
                let after = breaks & !(2u64 << start).wrapping_sub(1);
                let end = after.trailing_zeros() as usize;
                if end == STRIP {
                    open = Some(x + start);
                    break;
                }
                emit(&mut self.runs, &mut self.regions, x + start, x + end);
                hot &= u64::MAX << end;
            }
            read_to = x + STRIP;
        }
        if let Some(x0) = open {
            // Bits past the row's end are never hot, so an open run ends at a strip's end.
            emit(&mut self.runs, &mut self.regions, x0, read_to.min(w));
        }
    }

    /// Turns runs into hotspots, in scan order of their first run.
    fn collect(&mut self) {
        self.hotspots.clear();
        self.component.clear();
        for i in 0..self.runs.len() {
            let root = self.runs.find(i);
            let run = self.runs.runs[i];
            let c = if root == i {
                self.hotspots.push(Hotspot {
                    area_px: 0,
                    bbox: [run.x0, run.y, run.x1 - 1, run.y],
                    max_raw: 0,
                    max_x: run.max_x,
                    max_y: run.y,
                    sum_raw: 0,
                    sum_x: 0,
                    sum_y: 0,
                    regions: 0,
                });
                self.hotspots.len() - 1
            } else {
                self.component[root] as usize
            };
            self.component.push(c as u32);
            let h = &mut self.hotspots[c];
            let n = (run.x1 - run.x0) as u64;
            h.area_px += n as u32;
            h.bbox[0] = h.bbox[0].min(run.x0);
            h.bbox[2] = h.bbox[2].max(run.x1 - 1);
            h.bbox[3] = h.bbox[3].max(run.y);
            if run.max_raw > h.max_raw {
                h.max_raw = run.max_raw;
                h.max_x = run.max_x;
                h.max_y = run.y;
            }
            h.sum_raw += run.sum_raw;
            h.sum_x += n * (run.x0 as u64 + run.x1 as u64 - 1) / 2;
            h.sum_y += n * run.y as u64;
            h.regions |= 1u64 << run.region;
        }
    }
}

/// The strip of pixels at `start`, zero past the end of the frame.
#[inline(always)]
fn padded_strip(pixels: &[u16], start: usize) -> [u16; STRIP] {
    let mut strip = [0; STRIP];
    let available = &pixels[start.min(pixels.len())..];
    let n = available.len().min(STRIP);
    strip[..n].copy_from_slice(&available[..n]);
    strip
}
