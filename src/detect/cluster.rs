//! The per-frame kernel: threshold, 8-connected components and their statistics.
//!
//! A pixel `p` in region `r` is hot when `p >= thresholds[r]` (raw counts). Hot pixels are
//! grouped into horizontal runs; runs on adjacent rows that overlap or touch diagonally
//! (`a.x0 <= b.x1 && b.x0 <= a.x1`, ends exclusive) are joined, and so are runs that meet at a
//! region boundary on the same row. No label image is written.
//!
//! Per component: pixel count, bounding box, maximum and its position, sum of raw counts
//! (mean = sum ÷ count), sums of coordinates (centroid = sum ÷ count + 0.5) and the set of
//! regions it touches. Per region: the maximum over all its unmasked pixels, hot or not, and
//! the number of hot pixels.
//!
//! # How
//!
//! Rows whose spans are the same form a *pattern*; for each pattern the per-column thresholds
//! and regions and the masks of unmasked columns and span starts are built once and kept
//! across frames (a camera's layout and thresholds rarely change). A pattern's rows are
//! scanned in bands of at most 16 rows, each band in strips of 64 columns:
//!
//! 1. *Fold*: each strip's rows are folded into their column maxima (one load and one `max`
//!    per 16 pixels, no more work than reading the frame), all strips of a band in one call.
//!    The maxima against the thresholds tell whether the strip has a hot pixel in the band;
//!    merged over the pattern they give each span's maximum, hence the regions' maxima.
//! 2. *Hot masks*: only strips with a hot pixel are read again, one 64-bit mask of unmasked
//!    hot pixels per row, and a bit per row that has one; other rows cost nothing.
//! 3. *Runs*: `trailing_zeros` on a row's masks yields its runs, split where a span begins.
//!    Each run takes the label of a run it touches on the row above (or on its left, across
//!    a region boundary), or a new label; only a run that touches two labels joins them
//!    (union-find over labels, not runs). Each label sums the stats of its runs as they
//!    come, its pixel sum in vector lanes and its maximum reduced across lanes only for a
//!    run hotter than the label's runs before it: reductions are long chains of latency.
//! 4. *Hotspots*: labels are merged into their roots, the first labels of their components,
//!    in scan order; only the first run that reaches a component's maximum is searched for
//!    the first hottest pixel.
//!
//! Hot bands run in a function of their own, so that they and the fold loop do not crowd
//! each other's registers.
//!
//! The vector work has two implementations, chosen at run time ([`Isa`]): AVX2 intrinsics on
//! x86_64 CPUs that have it, and portable Rust everywhere else. Both give identical results.

use std::ops::Range;

use super::{Layout, MASKED, Span};
#[cfg(target_arch = "x86_64")]
use vector::Avx2;
use vector::{BAND_ROWS, LANES, LaneSums, Portable, STRIP, StripRead, Task, Vector};

mod vector;

#[cfg(test)]
mod tests;

/// Bytes of a frame folded in one pass: they stay in the first-level cache (32 KiB on
/// common x86_64 cores) for the hot bands among them to be read again.
const FOLD_BYTES: usize = 16 * 1024;

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

/// A horizontal run of hot pixels `x0..x1` on row `y`, all in one region, and its label.
#[derive(Debug, Clone, Copy)]
struct Run {
    y: u32,
    x0: u32,
    x1: u32,
    label: u32,
}

/// No label (yet).
const NO_LABEL: u32 = u32::MAX;

/// Runs, their labels and the labels' union-find forest.
///
/// A run takes the label of a run it touches on the row above (or on its left, across a
/// region boundary) and only a run that touches two labels joins them; a run that touches
/// none starts a new label. Each label sums the stats of its own runs as they come, so at the
/// end a component's stats are merged over its few labels, not over its runs, and a round
/// blob needs no union-find at all.
#[derive(Debug, Default)]
struct Components {
    runs: Vec<Run>,
    /// Per label: its parent; a root is the smallest label of its set, the first created.
    parent: Vec<u32>,
    /// Per label: the stats of its runs.
    stats: Vec<LabelStats>,
}

/// The stats of the runs of one label.
// The scalar sums are kept apart so that each is added as a scalar: packed together, the
// compiler gathers their addends into a vector, which costs more than it saves.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct LabelStats {
    sums: LaneSums,
    area_px: u32,
    /// Bounding box, inclusive.
    x0: u32,
    sum_x: u64,
    y0: u32,
    x1: u32,
    sum_y: u64,
    y1: u32,
    /// Index of the first run that reaches `max_raw`.
    max_run: u32,
    regions: u64,
    max_raw: u16,
}

/// The root of label `i` in the forest `parent`, halving the path on the way.
fn find(parent: &mut [u32], mut i: usize) -> usize {
    while parent[i] as usize != i {
        let grand = parent[parent[i] as usize];
        parent[i] = grand;
        i = grand as usize;
    }
    i
}

/// Joins the sets of labels `a` and `b` in the forest `parent`; returns the root.
fn union(parent: &mut [u32], a: u32, b: u32) -> u32 {
    let (ra, rb) = (find(parent, a as usize), find(parent, b as usize));
    // The smaller label becomes the root, so roots are first labels in scan order.
    let (root, child) = (ra.min(rb), ra.max(rb));
    parent[child] = root as u32;
    root as u32
}

/// Where the runs of the last row scanned in detail lie in [`Components::runs`].
#[derive(Debug)]
struct RowAbove {
    /// The row, `usize::MAX` for none.
    y: usize,
    runs: Range<usize>,
}

impl Default for RowAbove {
    fn default() -> Self {
        RowAbove {
            y: usize::MAX,
            runs: 0..0,
        }
    }
}

impl Components {
    fn clear(&mut self) {
        self.runs.clear();
        self.parent.clear();
        self.stats.clear();
    }

    fn find(&mut self, i: usize) -> usize {
        find(&mut self.parent, i)
    }

    /// The label of the run `x0..x1` from the runs it touches (8-connectivity): the run
    /// before it on its row, which ends at `left_x1` with `left_label`, when they meet at a
    /// region boundary, and the runs of the row above in `runs[*from..above_end]`, where
    /// `*from` is left at the first one that may touch the next run. [`NO_LABEL`] when it
    /// touches none.
    #[inline(always)]
    fn label(
        &mut self,
        above_end: usize,
        from: &mut usize,
        (left_x1, left_label): (u32, u32),
        x0: u32,
        x1: u32,
    ) -> u32 {
        let mut label = if left_x1 == x0 { left_label } else { NO_LABEL };
        let above = &self.runs[..above_end];
        while let Some(a) = above.get(*from)
            && a.x1 < x0
        {
            *from += 1;
        }
        // The last run touched may reach under the next run too, so `from` stays.
        for a in above[*from..].iter().take_while(|a| a.x0 <= x1) {
            if label == NO_LABEL {
                label = a.label;
            } else if a.label != label {
                label = union(&mut self.parent, label, a.label);
            }
        }
        label
    }

    /// Adds the run `x0..x1` of row `y` (the pixels `row`) in `region` to the stats of
    /// `label`, a new label when [`NO_LABEL`]; returns the label. Runs come in scan order.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn add<V: Vector>(
        &mut self,
        v: V,
        row: &[u16],
        label: u32,
        y: u32,
        x0: u32,
        x1: u32,
        region: u8,
    ) -> u32 {
        let index = self.runs.len() as u32;
        let mut label = label;
        if label == NO_LABEL {
            label = self.parent.len() as u32;
            self.parent.push(label);
            self.stats.push(LabelStats {
                sums: LaneSums::default(),
                area_px: 0,
                x0,
                sum_x: 0,
                y0: y,
                x1: x0,
                sum_y: 0,
                y1: y,
                // Until a pixel above 0 comes, this run holds the first hottest pixel.
                max_run: index,
                regions: 0,
                max_raw: 0,
            });
        }
        let s = &mut self.stats[label as usize];
        // The first run that reaches the maximum: a later one only when hotter.
        if let Some(max) = v.add_run(row, x0 as usize, x1 as usize, &mut s.sums, s.max_raw) {
            s.max_raw = max;
            s.max_run = index;
        }
        let n = x1 - x0;
        s.area_px += n;
        s.x0 = s.x0.min(x0);
        s.x1 = s.x1.max(x1 - 1);
        // A label's runs come in scan order, so the last row is this one.
        s.y1 = y;
        s.sum_x += u64::from(n) * u64::from(x0 + x1 - 1) / 2;
        s.sum_y += u64::from(n) * u64::from(y);
        s.regions |= 1u64 << region;
        self.runs.push(Run { y, x0, x1, label });
        label
    }
}

/// One row pattern (the spans shared by a run of rows) in the form the scan needs. Per-pixel
/// buffers are padded to whole strips.
#[derive(Debug, Default)]
struct Pattern {
    /// The spans this describes.
    spans: Vec<Span>,
    /// Hot threshold of each pixel's region (any value for masked pixels and padding).
    thresholds: Vec<u16>,
    /// Region of each pixel ([`MASKED`] for masked pixels and padding).
    regions: Vec<u8>,
    /// Per strip: bit `i` set when pixel `64·strip + i` is in the frame and not masked.
    unmasked: Vec<u64>,
    /// Per strip: bit `i` set when a span starts at pixel `64·strip + i`.
    span_starts: Vec<u64>,
}

impl Pattern {
    /// Describes rows of `width` pixels made of `spans`, with `thresholds[r]` the threshold of
    /// region `r`.
    fn build(&mut self, width: usize, spans: &[Span], thresholds: &[u16]) {
        let strips = width.div_ceil(STRIP);
        self.spans.clear();
        self.spans.extend_from_slice(spans);
        self.thresholds.resize(strips * STRIP, 0);
        self.regions.clear();
        self.regions.resize(strips * STRIP, MASKED);
        self.unmasked.clear();
        self.unmasked.resize(strips, 0);
        self.span_starts.clear();
        self.span_starts.resize(strips, 0);
        for span in spans {
            let (x0, x1) = (span.x0 as usize, span.x1 as usize);
            self.span_starts[x0 / STRIP] |= 1 << (x0 % STRIP);
            self.regions[x0..x1].fill(span.region);
            if span.region != MASKED {
                self.thresholds[x0..x1].fill(thresholds[span.region as usize]);
                set_bits(&mut self.unmasked, x0, x1);
            }
        }
    }

    fn strip_thresholds(&self, strip: usize) -> &[u16; STRIP] {
        self.thresholds[strip * STRIP..][..STRIP]
            .try_into()
            .expect("whole strips")
    }
}

/// The row patterns of the last frames, in the order they appear down the frame. A camera's
/// layout and thresholds rarely change, so patterns are built once and then only checked.
#[derive(Debug, Default)]
struct Patterns {
    /// Frame width and per-region thresholds the patterns were built for.
    width: usize,
    thresholds: Vec<u16>,
    patterns: Vec<Pattern>,
}

impl Patterns {
    /// Forgets every pattern unless they were built for `width` and `thresholds`.
    fn start_frame(&mut self, width: usize, thresholds: &[u16]) {
        if self.width != width || self.thresholds != thresholds {
            self.width = width;
            self.thresholds.clear();
            self.thresholds.extend_from_slice(thresholds);
            for p in &mut self.patterns {
                p.spans.clear();
            }
        }
    }

    /// Pattern `index` of the frame, made to describe `spans`.
    #[inline(always)]
    fn get(&mut self, index: usize, spans: &[Span]) -> &Pattern {
        if index == self.patterns.len() {
            self.patterns.push(Pattern::default());
        }
        let p = &mut self.patterns[index];
        if p.spans != spans {
            p.build(self.width, spans, &self.thresholds);
        }
        p
    }
}

/// Per-frame scratch buffers.
#[derive(Debug, Default)]
struct Scratch {
    /// Per pixel: the maximum over the current pattern's rows, strip-padded plus `LANES`
    /// for vector reads at the end.
    column_max: Vec<u16>,
    /// Per band of the part of a pattern folded last and strip: the hot mask of the band's
    /// column maxima, `band_hot[b·(strips + 1) + s]` (one more strip: fold_strips may write
    /// a mask past a whole last strip).
    band_hot: Vec<u64>,
    /// Strips of the current band with a hot pixel, ascending.
    hot_strips: Vec<u32>,
    /// Hot masks of the band's hot strips, row by row: `masks[r·k + j]` for band row `r` and
    /// hot strip `j` of `k`.
    masks: Vec<u64>,
    /// The runs of one row as `(x0, x1)`, room for `w`.
    bounds: Vec<(u32, u32)>,
    above: RowAbove,
}

impl Scratch {
    /// Lists the hot strips of band `b` of the pattern; returns whether there is one.
    #[inline(always)]
    fn list_hot_strips(&mut self, pattern: &Pattern, b: usize) -> bool {
        let step = pattern.unmasked.len() + 1;
        let hot = &self.band_hot[b * step..][..step - 1];
        self.hot_strips.clear();
        for (strip, (&hot, &unmasked)) in hot.iter().zip(&pattern.unmasked).enumerate() {
            if hot & unmasked != 0 {
                self.hot_strips.push(strip as u32);
            }
        }
        !self.hot_strips.is_empty()
    }
}

/// Rows `r < rows` whose `read` pixels from `first + r·stride` lie inside `len` pixels; the
/// last rows of a frame may read past its end.
#[inline(always)]
fn rows_inside(len: usize, first: usize, stride: usize, rows: usize, read: usize) -> usize {
    if first + (rows - 1) * stride + read <= len {
        rows
    } else if first + read <= len {
        (len - first - read) / stride + 1
    } else {
        0
    }
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

/// Reusable buffers for the kernel. They grow to the largest frame, layout, run count and
/// hotspot count seen so far; a call that needs no more than that allocates nothing.
#[derive(Debug)]
pub struct Detector {
    kernel: Kernel,
    components: Components,
    patterns: Patterns,
    scratch: Scratch,
    /// Per label: its hotspot.
    label_hotspot: Vec<u32>,
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
            components: Components::default(),
            patterns: Patterns::default(),
            scratch: Scratch::default(),
            label_hotspot: Vec::new(),
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
        Detection {
            hotspots: &self.hotspots,
            regions: &self.regions,
        }
    }

    /// Every hot run of the last frame as `(y, x0, x1, hotspot index)`, `x1` exclusive.
    pub fn runs(&self) -> impl Iterator<Item = (u32, u32, u32, usize)> + '_ {
        self.components.runs.iter().map(|r| {
            (
                r.y,
                r.x0,
                r.x1,
                self.label_hotspot[r.label as usize] as usize,
            )
        })
    }

    /// [`Detector::scan`] compiled with AVX2 enabled, so the intrinsics inline.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scan_avx2(&mut self, avx2: Avx2, pixels: &[u16], layout: &Layout, thresholds: &[u16]) {
        self.scan(avx2, pixels, layout, thresholds);
    }

    /// Fills the runs and region stats of one frame, pattern by pattern and band by band.
    #[inline(always)]
    fn scan<V: Vector>(&mut self, v: V, pixels: &[u16], layout: &Layout, thresholds: &[u16]) {
        let (w, h) = (layout.width() as usize, layout.height() as usize);
        let frame = Frame { v, pixels, w };
        self.components.clear();
        self.regions.clear();
        self.regions
            .resize(layout.regions(), RegionStats::default());
        self.patterns.start_frame(w, thresholds);
        let strips = w.div_ceil(STRIP);
        let scratch = &mut self.scratch;
        scratch.column_max.resize(strips * STRIP + LANES, 0);
        // A pattern is folded in parts of whole bands that stay in the first-level cache for
        // their hot bands to be read again, at least a band: a narrow frame's pattern in one
        // go or a few, a wide frame's band by band.
        let part_rows = (FOLD_BYTES / (2 * w)).max(BAND_ROWS) / BAND_ROWS * BAND_ROWS;
        scratch
            .band_hot
            .resize(part_rows / BAND_ROWS * (strips + 1), 0);
        // Sized for the worst band up front, so no later frame of this size grows them.
        scratch.hot_strips.reserve(strips);
        scratch.masks.reserve(strips * BAND_ROWS);
        // A row has at most `w` runs.
        scratch.bounds.resize(w, (0, 0));
        // No row above the first.
        scratch.above = RowAbove::default();
        let mut y = 0;
        let mut index = 0;
        while y < h {
            let spans = layout.row(y as u32);
            let end = layout.same_rows_until(y as u32) as usize;
            let pattern = self.patterns.get(index, spans);
            for part in (y..end).step_by(part_rows) {
                let part = part..(part + part_rows).min(end);
                frame.fold_part(pattern, &mut self.scratch, part.clone(), part.start == y);
                for (b, band) in part.clone().step_by(BAND_ROWS).enumerate() {
                    let rows = band..(band + BAND_ROWS).min(part.end);
                    if self.scratch.list_hot_strips(pattern, b) {
                        v.outlined(HotBand {
                            frame,
                            pattern,
                            scratch: &mut self.scratch,
                            rows,
                            components: &mut self.components,
                            regions: &mut self.regions,
                        });
                    }
                }
            }
            for span in spans {
                if span.region != MASKED {
                    let (x0, x1) = (span.x0 as usize, span.x1 as usize);
                    let max = v.max_of(&self.scratch.column_max, x0, x1);
                    let stats = &mut self.regions[span.region as usize];
                    stats.max_raw = stats.max_raw.max(max);
                }
            }
            y = end;
            index += 1;
        }
        self.collect(v, pixels, w);
    }

    /// Merges the labels' stats into hotspots, in scan order of their first run.
    #[inline(always)]
    fn collect<V: Vector>(&mut self, v: V, pixels: &[u16], w: usize) {
        self.hotspots.clear();
        self.label_hotspot.clear();
        let c = &mut self.components;
        // Labels into their roots; a root is a smaller label, so it is met first.
        let mut roots = 0;
        for label in 0..c.parent.len() {
            let root = c.find(label);
            if root == label {
                self.label_hotspot.push(roots);
                roots += 1;
                continue;
            }
            self.label_hotspot.push(self.label_hotspot[root]);
            let s = c.stats[label];
            let r = &mut c.stats[root];
            r.area_px += s.area_px;
            r.x0 = r.x0.min(s.x0);
            r.x1 = r.x1.max(s.x1);
            r.y1 = r.y1.max(s.y1);
            // On a tie the run first in scan order holds the first hottest pixel.
            if (s.max_raw, std::cmp::Reverse(s.max_run)) > (r.max_raw, std::cmp::Reverse(r.max_run))
            {
                (r.max_raw, r.max_run) = (s.max_raw, s.max_run);
            }
            for (r, s) in r.sums.0.iter_mut().zip(s.sums.0) {
                *r += s;
            }
            r.sum_x += s.sum_x;
            r.sum_y += s.sum_y;
            r.regions |= s.regions;
        }
        for (label, s) in c.stats.iter().enumerate() {
            if c.parent[label] as usize != label {
                continue;
            }
            // The first hottest pixel is in the first run that reaches the maximum; only
            // that run is searched for it.
            let run = c.runs[s.max_run as usize];
            let row = &pixels[run.y as usize * w..][run.x0 as usize..run.x1 as usize];
            self.hotspots.push(Hotspot {
                area_px: s.area_px,
                bbox: [s.x0, s.y0, s.x1, s.y1],
                max_raw: s.max_raw,
                max_x: run.x0 + v.first_equal(row, s.max_raw) as u32,
                max_y: run.y,
                sum_raw: s.sums.total(),
                sum_x: s.sum_x,
                sum_y: s.sum_y,
                regions: s.regions,
            });
        }
    }
}

/// [`Frame::scan_band`] as a [`Task`]: hot bands are rare next to the folding, and
/// kept apart they do not crowd the folding loop's registers nor it theirs.
struct HotBand<'a, V> {
    frame: Frame<'a, V>,
    pattern: &'a Pattern,
    scratch: &'a mut Scratch,
    rows: Range<usize>,
    components: &'a mut Components,
    regions: &'a mut [RegionStats],
}

impl<V: Vector> Task for HotBand<'_, V> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let HotBand {
            frame,
            pattern,
            scratch,
            rows,
            components,
            regions,
        } = self;
        frame.scan_band(pattern, scratch, rows, components, regions);
    }
}

/// A frame being scanned with the vector operations `V`.
#[derive(Clone, Copy)]
struct Frame<'a, V> {
    v: V,
    pixels: &'a [u16],
    w: usize,
}

impl<V: Vector> Frame<'_, V> {
    /// How to read strip `strip` on rows `rows.start..rows.start + n`.
    #[inline(always)]
    fn strip(&self, strip: usize, first_row: usize, rows: usize) -> StripRead<'_> {
        let x = strip * STRIP;
        StripRead {
            px: self.pixels,
            off: first_row * self.w + x,
            stride: self.w,
            rows,
            vectors: (self.w - x).div_ceil(LANES).min(STRIP / LANES),
        }
    }

    /// `read` cut to its rows whose vectors lie inside the frame; the last rows of a frame
    /// may read past its end, and [`Frame::padded_row`] reads those.
    #[inline(always)]
    fn inside<'r>(&self, read: StripRead<'r>) -> StripRead<'r> {
        let rows = rows_inside(
            self.pixels.len(),
            read.off,
            read.stride,
            read.rows,
            read.vectors * LANES,
        );
        StripRead { rows, ..read }
    }

    /// `f` of a one-row read of a copy of `read`'s row `r`, zero past the end of the frame.
    #[inline(always)]
    fn padded_row<T>(read: &StripRead<'_>, r: usize, f: impl FnOnce(StripRead<'_>) -> T) -> T {
        let mut copy = [0; STRIP];
        let start = read.off + r * read.stride;
        let available = &read.px[start.min(read.px.len())..];
        let n = available.len().min(read.vectors * LANES);
        copy[..n].copy_from_slice(&available[..n]);
        f(StripRead {
            px: &copy,
            off: 0,
            rows: 1,
            ..*read
        })
    }

    /// Folds the pattern's rows `rows` into its column maxima (they start at them when they
    /// are its `first`) and the hot masks of their bands.
    #[inline(always)]
    fn fold_part(&self, pattern: &Pattern, scratch: &mut Scratch, rows: Range<usize>, first: bool) {
        let whole = self.w / STRIP;
        let step = pattern.unmasked.len() + 1;
        // Vectors of a last, narrower strip; they may reach past the row's end and, on the
        // last rows of the frame, past the frame's end.
        let tail = (self.w - whole * STRIP).div_ceil(LANES);
        let all_rows = StripRead {
            px: self.pixels,
            off: rows.start * self.w,
            stride: self.w,
            rows: rows.len(),
            vectors: STRIP / LANES,
        };
        let last_read = (rows.end - 1) * self.w + whole * STRIP + tail * LANES;
        let tail_inside = last_read <= self.pixels.len();
        let hot = &mut scratch.band_hot;
        self.v.fold_strips(
            all_rows,
            whole,
            if tail_inside { tail } else { 0 },
            &pattern.thresholds,
            &mut scratch.column_max,
            first,
            hot,
            step,
        );
        if tail > 0 && !tail_inside {
            let strip = whole;
            let thresholds = pattern.strip_thresholds(strip);
            let column_max: &mut [u16; STRIP] = (&mut scratch.column_max[strip * STRIP..][..STRIP])
                .try_into()
                .expect("whole strips");
            let all = self.strip(strip, rows.start, rows.len());
            let inside = self.inside(all);
            let hot = &mut hot[strip..];
            self.v
                .fold_strip(inside, thresholds, column_max, first, hot, step);
            // Bands with no row inside have no mask yet.
            for b in inside.rows.div_ceil(BAND_ROWS)..all.rows.div_ceil(BAND_ROWS) {
                hot[b * step] = 0;
            }
            for r in inside.rows..all.rows {
                let mut row_hot = [0];
                Self::padded_row(&all, r, |one| {
                    self.v
                        .fold_strip(one, thresholds, column_max, false, &mut row_hot, 1)
                });
                hot[r / BAND_ROWS * step] |= row_hot[0];
            }
        }
    }

    /// Finds the runs of the band `rows` in its hot strips and links them row by row;
    /// `above` is the last row scanned in detail and its runs.
    #[inline(always)]
    fn scan_band(
        &self,
        pattern: &Pattern,
        scratch: &mut Scratch,
        rows: Range<usize>,
        components: &mut Components,
        regions: &mut [RegionStats],
    ) {
        let n = rows.len();
        let Scratch {
            hot_strips,
            masks,
            bounds,
            above,
            ..
        } = scratch;
        // Row by row: the masks of row `r` are `masks[r·k..(r + 1)·k]`, one per hot strip.
        let k = hot_strips.len();
        masks.resize(n * k, 0);
        // Bit `r` set when band row `r` has a hot pixel.
        let mut hot_rows = 0u32;
        for (j, &strip) in hot_strips.iter().enumerate() {
            let strip = strip as usize;
            let thresholds = pattern.strip_thresholds(strip);
            let all = self.strip(strip, rows.start, n);
            let inside = self.inside(all);
            let unmasked = pattern.unmasked[strip];
            hot_rows |= self
                .v
                .hot_rows(inside, thresholds, unmasked, &mut masks[j..], k);
            for r in inside.rows..n {
                hot_rows |= Self::padded_row(&all, r, |one| {
                    self.v
                        .hot_rows(one, thresholds, unmasked, &mut masks[r * k + j..], k)
                }) << r;
            }
        }
        while hot_rows != 0 {
            let r = hot_rows.trailing_zeros() as usize;
            hot_rows &= hot_rows - 1;
            let y = rows.start + r;
            let runs = row_bounds(pattern, hot_strips, &masks[r * k..][..k], self.w, bounds);
            self.add_row(pattern, y, &bounds[..runs], above, components, regions);
        }
    }

    /// Adds the runs `bounds` of row `y` and links them to the runs of row `y - 1`, which
    /// `above` points at when it has any; then points at the runs of row `y`.
    #[inline(always)]
    fn add_row(
        &self,
        pattern: &Pattern,
        y: usize,
        bounds: &[(u32, u32)],
        above: &mut RowAbove,
        components: &mut Components,
        regions: &mut [RegionStats],
    ) {
        let (mut from, above_end) = if above.y.wrapping_add(1) == y {
            (above.runs.start, above.runs.end)
        } else {
            (0, 0)
        };
        let start = components.runs.len();
        let row = &self.pixels[y * self.w..][..self.w];
        let mut left = (u32::MAX, NO_LABEL);
        for &(x0, x1) in bounds {
            // A run lies in one span, so its first pixel tells its region.
            let region = pattern.regions[x0 as usize];
            regions[region as usize].hot_px += x1 - x0;
            let label = components.label(above_end, &mut from, left, x0, x1);
            left = (
                x1,
                components.add(self.v, row, label, y as u32, x0, x1, region),
            );
        }
        *above = RowAbove {
            y,
            runs: start..components.runs.len(),
        };
    }
}

/// Writes the runs of one row to `bounds` as `(x0, x1)`, left to right, from its hot masks
/// `masks[j]` in the band's hot strips `hot_strips[j]`, splitting them where a span begins;
/// returns how many. `w` is the frame's width and `bounds` holds at least `w` runs.
///
/// A run starts at a hot pixel whose left neighbour is not hot or where a span begins, and
/// ends before the first pixel after it that is not hot or begins a span. Both are found
/// 64 pixels at a time from the masks and the one bit carried over from the strip on the
/// left; starts and ends pair up in order.
#[inline(always)]
fn row_bounds(
    pattern: &Pattern,
    hot_strips: &[u32],
    masks: &[u64],
    w: usize,
    bounds: &mut [(u32, u32)],
) -> usize {
    // Runs `bounds[..started]` have started, `bounds[..ended]` have ended.
    let (mut started, mut ended) = (0, 0);
    // The last strip with a hot pixel, and its last pixel's hot bit.
    let mut last_strip = u32::MAX;
    let mut carry = 0u64;
    for (&hot, &strip) in masks.iter().zip(hot_strips) {
        if hot == 0 {
            continue;
        }
        let adjacent = strip == last_strip.wrapping_add(1);
        if carry != 0 && !adjacent {
            // A run open at the end of a strip ends there when the next strip is not hot.
            bounds[ended].1 = (last_strip + 1) * STRIP as u32;
            ended += 1;
        }
        let x = strip * STRIP as u32;
        let span = pattern.span_starts[strip as usize];
        // Pixels whose left neighbour is hot.
        let after_hot = hot << 1 | if adjacent { carry } else { 0 };
        let mut starts = hot & (!after_hot | span);
        let mut ends = (!hot | span) & after_hot;
        while starts != 0 {
            bounds[started].0 = x + starts.trailing_zeros();
            started += 1;
            starts &= starts - 1;
        }
        while ends != 0 {
            bounds[ended].1 = x + ends.trailing_zeros();
            ended += 1;
            ends &= ends - 1;
        }
        carry = hot >> 63;
        last_strip = strip;
    }
    if carry != 0 {
        // Bits past the row's end are never hot, so an open run ends at a strip's end.
        bounds[ended].1 = ((last_strip + 1) * STRIP as u32).min(w as u32);
    }
    started
}
