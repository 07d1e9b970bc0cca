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

use super::{Layout, MASKED};

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

/// Reusable buffers for the kernel; after the first frames of a size no call allocates.
#[derive(Debug, Default)]
pub struct Detector {
    runs: Vec<Run>,
    parent: Vec<u32>,
    component: Vec<u32>,
    hotspots: Vec<Hotspot>,
    regions: Vec<RegionStats>,
}

impl Detector {
    /// A detector with empty buffers.
    pub fn new() -> Detector {
        Detector::default()
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
        self.runs.clear();
        self.parent.clear();
        self.regions.clear();
        self.regions
            .resize(layout.regions(), RegionStats::default());
        let mut prev_row = 0..0;
        for y in 0..layout.height() {
            let row = &pixels[y as usize * w..(y as usize + 1) * w];
            let row_first = self.runs.len();
            for span in layout.row(y) {
                if span.region == MASKED {
                    continue;
                }
                let r = span.region as usize;
                let t = thresholds[r];
                let px = &row[span.x0 as usize..span.x1 as usize];
                let span_max = px.iter().copied().max().unwrap_or(0);
                let stats = &mut self.regions[r];
                stats.max_raw = stats.max_raw.max(span_max);
                let mut x = 0;
                while x < px.len() {
                    if px[x] < t {
                        x += 1;
                        continue;
                    }
                    let start = x;
                    let (mut max_raw, mut max_x, mut sum) = (px[x], x, 0u64);
                    while x < px.len() && px[x] >= t {
                        if px[x] > max_raw {
                            max_raw = px[x];
                            max_x = x;
                        }
                        sum += px[x] as u64;
                        x += 1;
                    }
                    self.regions[r].hot_px += (x - start) as u32;
                    self.push_run(Run {
                        y,
                        x0: span.x0 + start as u32,
                        x1: span.x0 + x as u32,
                        region: span.region,
                        max_raw,
                        max_x: span.x0 + max_x as u32,
                        sum_raw: sum,
                    });
                }
            }
            // Join with the previous row (8-connectivity) and with neighbours on this row.
            let mut p = prev_row.start;
            for i in row_first..self.runs.len() {
                let run = self.runs[i];
                if i > row_first && self.runs[i - 1].x1 == run.x0 {
                    self.union(i - 1, i);
                }
                while p < prev_row.end && self.runs[p].x1 < run.x0 {
                    p += 1;
                }
                let mut q = p;
                while q < prev_row.end && self.runs[q].x0 <= run.x1 {
                    self.union(q, i);
                    q += 1;
                }
            }
            prev_row = row_first..self.runs.len();
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
            .iter()
            .zip(&self.component)
            .map(|(r, &c)| (r.y, r.x0, r.x1, c as usize))
    }

    fn push_run(&mut self, run: Run) {
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

    fn collect(&mut self) {
        self.hotspots.clear();
        self.component.clear();
        for i in 0..self.runs.len() {
            let root = self.find(i);
            let run = self.runs[i];
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

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(rows: &[&str]) -> (Vec<Hotspot>, Vec<RegionStats>) {
        let h = rows.len() as u32;
        let w = rows[0].len() as u32;
        let px: Vec<u16> = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| if b == b'#' { 100 } else { 10 }))
            .collect();
        let layout = Layout::whole(w, h);
        let mut d = Detector::new();
        let out = d.detect(&px, &layout, &[50]);
        (out.hotspots.to_vec(), out.regions.to_vec())
    }

    #[test]
    fn diagonal_neighbours_are_one_component() {
        let (h, r) = detect(&["#...", ".#..", "..#.", "...."]);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].area_px, 3);
        assert_eq!(h[0].bbox, [0, 0, 2, 2]);
        assert_eq!(r[0].hot_px, 3);
        assert_eq!(r[0].max_raw, 100);
    }

    #[test]
    fn u_shape_merges_late() {
        let (h, _) = detect(&["#..#", "#..#", "####"]);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].area_px, 8);
        assert_eq!(h[0].centroid(), (2.0, 1.75));
    }

    #[test]
    fn separate_blobs_stay_apart() {
        let (h, _) = detect(&["##..#", "##..#", ".....", "..#.."]);
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.iter().map(|h| h.area_px).collect::<Vec<_>>(),
            vec![4, 2, 1]
        );
    }
}
