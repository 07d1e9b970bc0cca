//! A camera's zones and masks rasterised for one frame size.
//!
//! A pixel belongs to a polygon when its centre `(x + 0.5, y + 0.5)` is inside (even-odd
//! rule). Where zones overlap the first zone listed wins; masks win over zones. Pixels in no
//! zone form the last region, "outside", named after the camera.

use super::{MASKED, MAX_ZONES};

/// A run of pixels `x0..x1` on one row that all belong to `region`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First pixel.
    pub x0: u32,
    /// One past the last pixel.
    pub x1: u32,
    /// Zone index, the outside region (`zones.len()`), or [`MASKED`].
    pub region: u8,
}

/// Every row of a frame split into spans that cover it left to right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    width: u32,
    height: u32,
    regions: usize,
    spans: Vec<Span>,
    row_starts: Vec<u32>,
    /// `repeats_above[y]`: row `y` has exactly the spans of row `y - 1`.
    repeats_above: Vec<bool>,
    /// `same_until[y]`: the first row after `y` whose spans differ from row `y`'s.
    same_until: Vec<u32>,
}

impl Layout {
    /// A layout with one region (index 0) covering the whole frame.
    pub fn whole(width: u32, height: u32) -> Layout {
        Self::new(width, height, &[], &[])
    }

    /// Rasterises `zones` (regions `0..zones.len()`) and `masks`; region `zones.len()` is the
    /// area outside every zone.
    pub fn new(width: u32, height: u32, zones: &[&[[f64; 2]]], masks: &[&[[f64; 2]]]) -> Layout {
        assert!(zones.len() <= MAX_ZONES, "at most {MAX_ZONES} zones");
        let outside = zones.len() as u8;
        let mut row = vec![outside; width as usize];
        let mut spans = Vec::new();
        let mut row_starts = Vec::with_capacity(height as usize + 1);
        let mut repeats_above = Vec::with_capacity(height as usize);
        let mut crossings = Vec::new();
        for y in 0..height {
            row.fill(outside);
            let cy = y as f64 + 0.5;
            // Later polygons are painted first so earlier zones, then masks, win.
            for (i, poly) in zones.iter().enumerate().rev() {
                fill_row(&mut row, poly, cy, i as u8, &mut crossings);
            }
            for poly in masks {
                fill_row(&mut row, poly, cy, MASKED, &mut crossings);
            }
            row_starts.push(spans.len() as u32);
            let mut x0 = 0usize;
            for x in 1..=width as usize {
                if x == width as usize || row[x] != row[x0] {
                    spans.push(Span {
                        x0: x0 as u32,
                        x1: x as u32,
                        region: row[x0],
                    });
                    x0 = x;
                }
            }
            let this = row_starts[y as usize] as usize;
            let above = if y == 0 {
                this
            } else {
                row_starts[y as usize - 1] as usize
            };
            repeats_above.push(y > 0 && spans[above..this] == spans[this..]);
        }
        row_starts.push(spans.len() as u32);
        let mut same_until = vec![height; height as usize];
        for y in (1..height as usize).rev() {
            if repeats_above[y] {
                same_until[y - 1] = same_until[y];
            } else {
                same_until[y - 1] = y as u32;
            }
        }
        Layout {
            width,
            height,
            regions: zones.len() + 1,
            spans,
            row_starts,
            repeats_above,
            same_until,
        }
    }

    /// Frame width this layout was made for (pixels).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height (pixels).
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Number of regions: the zones plus the outside region.
    pub fn regions(&self) -> usize {
        self.regions
    }

    /// Spans of row `y`, left to right.
    #[inline]
    pub fn row(&self, y: u32) -> &[Span] {
        let a = self.row_starts[y as usize] as usize;
        let b = self.row_starts[y as usize + 1] as usize;
        &self.spans[a..b]
    }

    /// Whether row `y` has exactly the spans of row `y - 1` (never for row 0); the kernel
    /// treats such rows as one band.
    #[inline]
    pub fn repeats_row_above(&self, y: u32) -> bool {
        self.repeats_above[y as usize]
    }

    /// The first row after `y` whose spans differ from row `y`'s (the height when none does);
    /// the kernel scans such a group of rows as one pattern.
    #[inline]
    pub(crate) fn same_rows_until(&self, y: u32) -> u32 {
        self.same_until[y as usize]
    }

    /// Region of pixel `(x, y)`.
    pub fn region_at(&self, x: u32, y: u32) -> u8 {
        self.row(y)
            .iter()
            .find(|s| s.x0 <= x && x < s.x1)
            .map_or(MASKED, |s| s.region)
    }

    /// Pixels in each region (masked pixels are not counted).
    pub fn region_pixels(&self) -> Vec<u32> {
        let mut n = vec![0u32; self.regions];
        for s in &self.spans {
            if s.region != MASKED {
                n[s.region as usize] += s.x1 - s.x0;
            }
        }
        n
    }
}

/// Paints the pixels of one row whose centres lie inside `poly` with `value`.
fn fill_row(row: &mut [u8], poly: &[[f64; 2]], cy: f64, value: u8, crossings: &mut Vec<f64>) {
    crossings.clear();
    let n = poly.len();
    for i in 0..n {
        let [x0, y0] = poly[i];
        let [x1, y1] = poly[(i + 1) % n];
        // Half-open in y so a vertex on the scan line is counted once.
        if (y0 <= cy) != (y1 <= cy) {
            crossings.push(x0 + (cy - y0) * (x1 - x0) / (y1 - y0));
        }
    }
    crossings.sort_by(f64::total_cmp);
    let w = row.len() as f64;
    for pair in crossings.chunks_exact(2) {
        // Pixel x is inside when a <= x + 0.5 < b.
        let a = (pair[0] - 0.5).ceil().clamp(0.0, w) as usize;
        let b = (pair[1] - 0.5).ceil().clamp(0.0, w) as usize;
        if a < b {
            row[a..b].fill(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangle_covers_exactly_its_pixels() {
        let zone: &[[f64; 2]] = &[[2.0, 1.0], [5.0, 1.0], [5.0, 3.0], [2.0, 3.0]];
        let l = Layout::new(8, 4, &[zone], &[]);
        for y in 0..4 {
            for x in 0..8 {
                let inside = (2..5).contains(&x) && (1..3).contains(&y);
                assert_eq!(l.region_at(x, y), if inside { 0 } else { 1 }, "({x},{y})");
            }
        }
        assert_eq!(l.region_pixels(), vec![6, 26]);
    }

    #[test]
    fn masks_win_over_zones_and_first_zone_wins_overlaps() {
        let a: &[[f64; 2]] = &[[0.0, 0.0], [4.0, 0.0], [4.0, 2.0], [0.0, 2.0]];
        let b: &[[f64; 2]] = &[[2.0, 0.0], [6.0, 0.0], [6.0, 2.0], [2.0, 2.0]];
        let m: &[[f64; 2]] = &[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        let l = Layout::new(6, 2, &[a, b], &[m]);
        assert_eq!(l.region_at(0, 0), MASKED);
        assert_eq!(l.region_at(3, 0), 0);
        assert_eq!(l.region_at(4, 1), 1);
        assert_eq!(l.regions(), 3);
    }

    #[test]
    fn spans_cover_every_row() {
        let tri: &[[f64; 2]] = &[[0.0, 0.0], [10.0, 5.0], [0.0, 10.0]];
        let l = Layout::new(10, 10, &[tri], &[]);
        for y in 0..10 {
            let row = l.row(y);
            assert_eq!(row[0].x0, 0);
            assert_eq!(row.last().unwrap().x1, 10);
            assert!(row.windows(2).all(|w| w[0].x1 == w[1].x0));
        }
    }

    #[test]
    fn rows_with_the_same_spans_repeat_the_row_above() {
        let rect: &[[f64; 2]] = &[[2.0, 1.0], [5.0, 1.0], [5.0, 3.0], [2.0, 3.0]];
        let l = Layout::new(8, 4, &[rect], &[]);
        let repeats: Vec<bool> = (0..4).map(|y| l.repeats_row_above(y)).collect();
        assert_eq!(repeats, vec![false, false, true, false]);
        let until: Vec<u32> = (0..4).map(|y| l.same_rows_until(y)).collect();
        assert_eq!(until, vec![1, 3, 3, 4]);
    }
}
