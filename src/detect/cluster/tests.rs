//! The kernel against a per-pixel reference and imageproc, on both instruction sets.

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

// ---------------------------------------------------------------------------------------------
// References

use crate::detect::synth;
use imageproc::image::{GrayImage, Luma};
use imageproc::region_labelling::{Connectivity, connected_components};
use proptest::prelude::*;

/// What the kernel must produce, computed pixel by pixel with a flood fill.
#[derive(Debug)]
struct Reference {
    hotspots: Vec<Hotspot>,
    regions: Vec<RegionStats>,
    /// Hotspot index of every pixel, `None` when not hot; row-major.
    labels: Vec<Option<usize>>,
    hot: Vec<bool>,
}

fn reference(px: &[u16], layout: &Layout, thresholds: &[u16]) -> Reference {
    let (w, h) = (layout.width() as usize, layout.height() as usize);
    let region: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| layout.region_at(x as u32, y as u32)))
        .collect();
    let hot: Vec<bool> = (0..w * h)
        .map(|i| region[i] != MASKED && px[i] >= thresholds[region[i] as usize])
        .collect();
    let mut regions = vec![RegionStats::default(); layout.regions()];
    for i in 0..w * h {
        if region[i] != MASKED {
            let r = &mut regions[region[i] as usize];
            r.max_raw = r.max_raw.max(px[i]);
            r.hot_px += u32::from(hot[i]);
        }
    }
    let mut labels = vec![None; w * h];
    let mut hotspots = Vec::new();
    for first in 0..w * h {
        if !hot[first] || labels[first].is_some() {
            continue;
        }
        let id = hotspots.len();
        labels[first] = Some(id);
        let mut members = vec![first];
        let mut stack = vec![first];
        while let Some(i) = stack.pop() {
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for (dx, dy) in [
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let n = ny as usize * w + nx as usize;
                if hot[n] && labels[n].is_none() {
                    labels[n] = Some(id);
                    members.push(n);
                    stack.push(n);
                }
            }
        }
        members.sort_unstable();
        let (x0, y0) = ((first % w) as u32, (first / w) as u32);
        let mut spot = Hotspot {
            area_px: 0,
            bbox: [x0, y0, x0, y0],
            max_raw: px[first],
            max_x: x0,
            max_y: y0,
            sum_raw: 0,
            sum_x: 0,
            sum_y: 0,
            regions: 0,
        };
        for &i in &members {
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            spot.area_px += 1;
            spot.bbox = [
                spot.bbox[0].min(x),
                spot.bbox[1].min(y),
                spot.bbox[2].max(x),
                spot.bbox[3].max(y),
            ];
            // Strictly greater: the first hottest pixel in scan order wins.
            if px[i] > spot.max_raw {
                (spot.max_raw, spot.max_x, spot.max_y) = (px[i], x, y);
            }
            spot.sum_raw += u64::from(px[i]);
            spot.sum_x += u64::from(x);
            spot.sum_y += u64::from(y);
            spot.regions |= 1 << region[i];
        }
        hotspots.push(spot);
    }
    Reference {
        hotspots,
        regions,
        labels,
        hot,
    }
}

/// imageproc's labels (0 = background) of the hot pixels, 8-connected.
fn imageproc_labels(hot: &[bool], w: u32, h: u32) -> Vec<u32> {
    // imageproc 0.27 sizes its forest one label short and panics on a lone 1×1 foreground
    // pixel; a background column on the right avoids that and changes no component.
    let img = GrayImage::from_fn(w + 1, h, |x, y| {
        Luma([if x < w && hot[(y * w + x) as usize] {
            255
        } else {
            0
        }])
    });
    let labels = connected_components(&img, Connectivity::Eight, Luma([0u8]));
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| labels.get_pixel(x, y)[0])
        .collect()
}

/// The hotspot index of every pixel, built from [`Detector::runs`] alone.
fn labels_from_runs(d: &Detector, w: usize, h: usize) -> Vec<Option<usize>> {
    let mut labels = vec![None; w * h];
    for (y, x0, x1, c) in d.runs() {
        for x in x0..x1 {
            let i = y as usize * w + x as usize;
            assert!(labels[i].is_none(), "pixel ({x},{y}) is in two runs");
            labels[i] = Some(c);
        }
    }
    labels
}

/// Asserts that two labellings split the same pixels into the same sets (labels may differ).
fn assert_same_partition(ours: &[Option<usize>], theirs: &[u32], components: usize) {
    let mut ours_to_theirs = vec![None; components];
    let mut theirs_to_ours = std::collections::HashMap::new();
    for (i, (&o, &t)) in ours.iter().zip(theirs).enumerate() {
        match (o, t) {
            (None, 0) => {}
            (Some(o), t) if t != 0 => {
                assert_eq!(*ours_to_theirs[o].get_or_insert(t), t, "pixel {i}: split");
                assert_eq!(
                    *theirs_to_ours.entry(t).or_insert(o),
                    o,
                    "pixel {i}: merged"
                );
            }
            _ => panic!("pixel {i}: hot {o:?} vs imageproc label {t}"),
        }
    }
    assert_eq!(theirs_to_ours.len(), components, "number of components");
}

/// Runs every supported instruction set on one frame and checks it against the reference
/// (every stat, every pixel's hotspot) and imageproc (the pixel sets).
fn check(px: &[u16], layout: &Layout, thresholds: &[u16]) {
    let (w, h) = (layout.width(), layout.height());
    let want = reference(px, layout, thresholds);
    let theirs = imageproc_labels(&want.hot, w, h);
    for isa in Isa::supported() {
        let mut d = Detector::with_isa(isa);
        let got = d.detect(px, layout, thresholds);
        assert_eq!(got.hotspots, &want.hotspots[..], "{isa:?} hotspots");
        assert_eq!(got.regions, &want.regions[..], "{isa:?} regions");
        let n = got.hotspots.len();
        let ours = labels_from_runs(&d, w as usize, h as usize);
        assert_eq!(ours, want.labels, "{isa:?} labels from runs");
        assert_same_partition(&ours, &theirs, n);
    }
}

/// A mask as a frame (hot = 100, cold = 10) over one region with threshold 50.
fn check_mask(w: u32, h: u32, hot: &[bool]) {
    let px: Vec<u16> = hot.iter().map(|&b| if b { 100 } else { 10 }).collect();
    check(&px, &Layout::whole(w, h), &[50]);
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Widths around the vector (16) and strip (64) sizes, and some others.
fn width() -> impl Strategy<Value = u32> {
    prop_oneof![
        prop::sample::select(vec![1u32, 2, 15, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129]),
        1u32..200,
    ]
}

/// Frame sizes, including single rows and single columns.
fn size() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        (width(), 1u32..40),
        (Just(1u32), 1u32..150),
        (1u32..300, Just(1u32)),
    ]
}

/// Structured masks that stress merging, splitting and the strip and band edges.
#[derive(Debug, Clone)]
enum Shape {
    Empty,
    Full,
    Single {
        x: u32,
        y: u32,
    },
    Discs {
        seed: u64,
        count: usize,
    },
    RowStripes {
        period: u32,
    },
    ColumnStripes {
        period: u32,
    },
    DiagonalStripes {
        period: u32,
    },
    Checkerboard {
        cell: u32,
    },
    /// Vertical prongs that only join at the bottom row.
    Comb {
        gap: u32,
    },
    /// A rectangular spiral of one-pixel walls; merges along its whole length.
    Spiral,
    /// Horizontal segments that mostly start and end at strip edges (multiples of 64, ± 1).
    StripEdges {
        seed: u64,
    },
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        Just(Shape::Full),
        (0u32..300, 0u32..150).prop_map(|(x, y)| Shape::Single { x, y }),
        (any::<u64>(), 1usize..6).prop_map(|(seed, count)| Shape::Discs { seed, count }),
        (2u32..6).prop_map(|period| Shape::RowStripes { period }),
        (2u32..6).prop_map(|period| Shape::ColumnStripes { period }),
        (2u32..6).prop_map(|period| Shape::DiagonalStripes { period }),
        (1u32..4).prop_map(|cell| Shape::Checkerboard { cell }),
        (1u32..4).prop_map(|gap| Shape::Comb { gap }),
        Just(Shape::Spiral),
        any::<u64>().prop_map(|seed| Shape::StripEdges { seed }),
    ]
}

fn paint(shape: &Shape, w: u32, h: u32) -> Vec<bool> {
    let mut m = vec![false; (w * h) as usize];
    let at = |x: u32, y: u32| (y * w + x) as usize;
    match *shape {
        Shape::Empty => {}
        Shape::Full => m.fill(true),
        Shape::Single { x, y } => m[at(x % w, y % h)] = true,
        Shape::Discs { seed, count } => {
            let mut rng = synth::Rng::new(seed);
            for _ in 0..count {
                let (cx, cy) = (rng.uniform() * w as f64, rng.uniform() * h as f64);
                let r = 0.5 + rng.uniform() * (w.min(h) as f64 / 2.0);
                for y in 0..h {
                    for x in 0..w {
                        if (x as f64 + 0.5 - cx).hypot(y as f64 + 0.5 - cy) < r {
                            m[at(x, y)] = true;
                        }
                    }
                }
            }
        }
        Shape::RowStripes { period } => {
            for y in (0..h).filter(|y| y % period == 0) {
                (0..w).for_each(|x| m[at(x, y)] = true);
            }
        }
        Shape::ColumnStripes { period } => {
            for x in (0..w).filter(|x| x % period == 0) {
                (0..h).for_each(|y| m[at(x, y)] = true);
            }
        }
        Shape::DiagonalStripes { period } => {
            for y in 0..h {
                for x in (0..w).filter(|x| (x + y) % period == 0) {
                    m[at(x, y)] = true;
                }
            }
        }
        Shape::Checkerboard { cell } => {
            for y in 0..h {
                for x in (0..w).filter(|x| (x / cell + y / cell) % 2 == 0) {
                    m[at(x, y)] = true;
                }
            }
        }
        Shape::Comb { gap } => {
            for x in (0..w).filter(|x| x % (gap + 1) == 0) {
                (0..h).for_each(|y| m[at(x, y)] = true);
            }
            (0..w).for_each(|x| m[at(x, h - 1)] = true);
        }
        Shape::Spiral => {
            // Walls two pixels apart, drawn inwards from the border.
            let (mut x0, mut y0, mut x1, mut y1) = (0i64, 0i64, w as i64 - 1, h as i64 - 1);
            while x0 <= x1 && y0 <= y1 {
                (x0..=x1).for_each(|x| m[at(x as u32, y0 as u32)] = true);
                (y0..=y1).for_each(|y| m[at(x1 as u32, y as u32)] = true);
                if y1 > y0 + 1 {
                    (x0..=x1).for_each(|x| m[at(x as u32, y1 as u32)] = true);
                }
                if x1 > x0 + 1 {
                    (y0 + 2..=y1).for_each(|y| m[at(x0 as u32, y as u32)] = true);
                }
                (x0, y0, x1, y1) = (x0 + 2, y0 + 2, x1 - 2, y1 - 2);
            }
        }
        Shape::StripEdges { seed } => {
            let mut rng = synth::Rng::new(seed);
            let mut edge = || {
                let r = rng.next_u64();
                let x = 64 * (r % 5) as i64 + (r / 5 % 3) as i64 - 1;
                if r.is_multiple_of(7) {
                    (r % 300) as i64
                } else {
                    x
                }
            };
            for y in 0..h {
                for _ in 0..3 {
                    let (a, b) = (edge(), edge());
                    for x in a.min(b).max(0)..a.max(b).min(w as i64) {
                        m[at(x as u32, y)] = true;
                    }
                }
            }
        }
    }
    m
}

/// A random rectangle or triangle, partly outside the frame at times.
fn polygon(w: u32, h: u32) -> impl Strategy<Value = Vec<[f64; 2]>> {
    let (w, h) = (w as f64, h as f64);
    let point = move || (-0.2 * w..1.2 * w, -0.2 * h..1.2 * h).prop_map(|(x, y)| [x, y]);
    prop_oneof![
        (point(), point())
            .prop_map(|([x0, y0], [x1, y1])| { vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]] }),
        (point(), point(), point()).prop_map(|(a, b, c)| vec![a, b, c]),
    ]
}

/// A layout with up to five zones and two masks.
fn layout(w: u32, h: u32) -> impl Strategy<Value = Layout> {
    (
        prop::collection::vec(polygon(w, h), 0..=5),
        prop::collection::vec(polygon(w, h), 0..=2),
    )
        .prop_map(move |(zones, masks)| {
            let zones: Vec<&[[f64; 2]]> = zones.iter().map(|z| &z[..]).collect();
            let masks: Vec<&[[f64; 2]]> = masks.iter().map(|m| &m[..]).collect();
            Layout::new(w, h, &zones, &masks)
        })
}

/// Thresholds at the extremes and in between.
fn threshold() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(0u16),
        Just(1),
        Just(u16::MAX),
        Just(u16::MAX - 1),
        any::<u16>(),
        30_000u16..36_000
    ]
}

/// Pixels either independent (values at and around the thresholds, 0 and 65 535) or a
/// synthetic shed frame with blobs, where runs are long and cross region borders.
fn pixels(w: u32, h: u32, thresholds: Vec<u16>) -> impl Strategy<Value = Vec<u16>> {
    let n = (w * h) as usize;
    prop_oneof![
        prop::collection::vec((0u8..8, any::<u16>()), n).prop_map(move |raw| {
            raw.into_iter()
                .map(|(kind, r)| {
                    let t = thresholds[r as usize % thresholds.len()];
                    match kind {
                        0 => 0,
                        1 => u16::MAX,
                        2 => r,
                        3 => t.saturating_sub(1),
                        4 => t.saturating_add(1),
                        _ => t,
                    }
                })
                .collect()
        }),
        (any::<u64>(), 0.0f64..0.5).prop_map(move |(seed, hot)| synth::frame(w, h, hot, seed)),
    ]
}

/// A frame, its layout and one threshold per region.
fn case() -> impl Strategy<Value = (Vec<u16>, Layout, Vec<u16>)> {
    size()
        .prop_flat_map(|(w, h)| layout(w, h))
        .prop_flat_map(|layout| {
            let n = layout.regions();
            (Just(layout), prop::collection::vec(threshold(), n))
        })
        .prop_flat_map(|(layout, thresholds)| {
            let px = pixels(layout.width(), layout.height(), thresholds.clone());
            (px, Just(layout), Just(thresholds))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_masks_match_imageproc_and_the_reference(
        (w, h, hot) in size().prop_flat_map(|(w, h)| {
            (Just(w), Just(h), 0.0f64..=1.0).prop_flat_map(|(w, h, density)| {
                let bits = prop::collection::vec(prop::bool::weighted(density), (w * h) as usize);
                (Just(w), Just(h), bits)
            })
        })
    ) {
        check_mask(w, h, &hot);
    }

    #[test]
    fn structured_masks_match_imageproc_and_the_reference((w, h) in size(), shape in shape()) {
        check_mask(w, h, &paint(&shape, w, h));
    }

    #[test]
    fn stats_match_the_reference_with_zones_masks_and_extreme_values(
        (px, layout, thresholds) in case()
    ) {
        check(&px, &layout, &thresholds);
    }

    #[test]
    fn run_sums_maxima_and_first_maxima_agree_between_instruction_sets(
        row in prop::collection::vec(prop_oneof![any::<u16>(), 65_530u16..=65_535, 0u16..3], 1..300),
        ends in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
        limit in prop_oneof![Just(0u16), any::<u16>(), 65_530u16..=65_535],
        before in any::<[u32; 4]>(),
    ) {
        let (a, b) = (ends.0.index(row.len()), ends.1.index(row.len()));
        let (start, end) = (a.min(b), a.max(b) + 1);
        let run = &row[start..end];
        let max = *run.iter().max().unwrap();
        let sum: u64 = run.iter().map(|&p| u64::from(p)).sum();
        let before = LaneSums(before.map(u64::from));
        let want_max = (max > limit).then_some(max);
        let first = run.iter().position(|&p| p == max).unwrap();
        let mut sums = before;
        prop_assert_eq!(Portable.add_run(&row, start, end, &mut sums, limit), want_max);
        prop_assert_eq!(sums.total(), before.total() + sum);
        prop_assert_eq!(Portable.first_equal(run, max), first);
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = Avx2::detect() {
            let mut sums = before;
            prop_assert_eq!(avx2.add_run(&row, start, end, &mut sums, limit), want_max);
            prop_assert_eq!(sums.total(), before.total() + sum);
            prop_assert_eq!(avx2.first_equal(run, max), first);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Named cases

fn frame_of(rows: &[&str]) -> (Vec<u16>, u32, u32) {
    let px = rows
        .iter()
        .flat_map(|r| r.bytes().map(|b| if b == b'#' { 100 } else { 10 }))
        .collect();
    (px, rows[0].len() as u32, rows.len() as u32)
}

#[test]
fn gather_bits_maps_each_byte_to_its_bit() {
    for bits in 0u64..256 {
        let bytes = (0..8).fold(0u64, |b, i| b | (bits >> i & 1) << (8 * i));
        assert_eq!(vector::gather_bits(bytes), bits);
    }
}

#[test]
fn run_sums_past_two_to_the_sixteen_pixels_do_not_overflow() {
    let row = vec![u16::MAX; 3 << 16];
    for (start, end) in [(0, row.len()), (5, row.len() - 3), (1, (1 << 16) + 2)] {
        let want = (end - start) as u64 * u64::from(u16::MAX);
        let mut sums = LaneSums::default();
        assert_eq!(
            Portable.add_run(&row, start, end, &mut sums, 0),
            Some(u16::MAX)
        );
        assert_eq!(sums.total(), want);
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = Avx2::detect() {
            let mut sums = LaneSums::default();
            assert_eq!(avx2.add_run(&row, start, end, &mut sums, 0), Some(u16::MAX));
            assert_eq!(sums.total(), want);
        }
    }
}

#[test]
fn runs_that_meet_at_a_region_boundary_are_joined() {
    let zone: &[[f64; 2]] = &[[3.0, 0.0], [6.0, 0.0], [6.0, 1.0], [3.0, 1.0]];
    let layout = Layout::new(8, 1, &[zone], &[]);
    let (px, _, _) = frame_of(&[".######."]);
    check(&px, &layout, &[50, 50]);
    let mut d = Detector::new();
    let out = d.detect(&px, &layout, &[50, 50]);
    assert_eq!(out.hotspots.len(), 1);
    assert_eq!(out.hotspots[0].regions, 0b11);
    assert_eq!(d.runs().count(), 3);
}

#[test]
fn a_mask_splits_a_run_and_hides_its_pixels() {
    let mask: &[[f64; 2]] = &[[3.0, 0.0], [4.0, 0.0], [4.0, 3.0], [3.0, 3.0]];
    let layout = Layout::new(8, 3, &[], &[mask]);
    let (mut px, _, _) = frame_of(&["########", "........", "########"]);
    px[3] = u16::MAX;
    check(&px, &layout, &[50]);
    let mut d = Detector::new();
    let out = d.detect(&px, &layout, &[50]);
    assert_eq!(out.hotspots.len(), 4);
    assert_eq!(
        out.regions[0].max_raw, 100,
        "masked pixels are not in the maximum"
    );
}

#[test]
fn runs_crossing_strips_and_vectors_keep_their_stats() {
    for w in [63u32, 64, 65, 100, 128, 129, 200, 300] {
        let mut px: Vec<u16> = (0..w * 3).map(|i| 40 + (i % 7) as u16 * 10).collect();
        px[(w + w / 2) as usize] = u16::MAX;
        check(&px, &Layout::whole(w, 3), &[40]);
        check(&px, &Layout::whole(w, 3), &[41]);
    }
}

#[test]
fn a_run_does_not_leap_over_a_cold_strip() {
    // Hot up to the end of strip 0, strip 1 cold, hot again from the start of strip 2.
    let w = 200;
    let px: Vec<u16> = (0..w)
        .map(|x| if (64..128).contains(&x) { 10 } else { 100 })
        .collect();
    check(&px, &Layout::whole(w as u32, 1), &[50]);
    assert_eq!(
        Detector::new()
            .detect(&px, &Layout::whole(w as u32, 1), &[50])
            .hotspots
            .len(),
        2
    );
}

#[test]
fn the_first_hottest_pixel_wins_ties() {
    let (w, h) = (150, 20);
    let px = vec![7u16; (w * h) as usize];
    let mut d = Detector::new();
    let out = d.detect(&px, &Layout::whole(w, h), &[7]);
    assert_eq!(out.hotspots.len(), 1);
    assert_eq!((out.hotspots[0].max_x, out.hotspots[0].max_y), (0, 0));
    check(&px, &Layout::whole(w, h), &[7]);
}

#[test]
fn threshold_zero_makes_every_unmasked_pixel_hot() {
    let mask: &[[f64; 2]] = &[[10.0, 0.0], [20.0, 0.0], [20.0, 40.0], [10.0, 40.0]];
    let layout = Layout::new(70, 40, &[], &[mask]);
    let px = vec![0u16; 70 * 40];
    check(&px, &layout, &[0]);
    let out = Detector::new().detect(&px, &layout, &[0]).hotspots.len();
    assert_eq!(out, 2);
}

#[test]
fn saturated_pixels_reach_the_highest_threshold() {
    let mut px = vec![u16::MAX - 1; 40 * 40];
    px[41 * 20] = u16::MAX;
    check(&px, &Layout::whole(40, 40), &[u16::MAX]);
    let mut d = Detector::new();
    assert_eq!(
        d.detect(&px, &Layout::whole(40, 40), &[u16::MAX]).hotspots[0].area_px,
        1
    );
}

#[test]
fn a_line_through_many_bands_stays_one_component() {
    // 100 identical rows make several bands; the line crosses every band border.
    let (w, h) = (90u32, 100u32);
    let px: Vec<u16> = (0..w * h)
        .map(|i| if i % w == 70 { 100 } else { 10 })
        .collect();
    check(&px, &Layout::whole(w, h), &[50]);
}

#[test]
fn tall_patterns_folded_in_several_parts_are_right() {
    // A pattern taller than one fold part (FOLD_BYTES of rows) is folded part by part; blobs
    // and a vertical line cross the parts' borders.
    let mut rng = synth::Rng::new(7);
    for (w, h) in [
        (64u32, 300u32),
        (100, 260),
        (130, 200),
        (257, 90),
        (500, 70),
    ] {
        let layout = Layout::whole(w, h);
        let thresholds = synth::thresholds(&layout);
        let mut px = synth::frame(w, h, 0.08, rng.next_u64());
        for y in 0..h {
            px[(y * w + w / 3) as usize] = thresholds[0] + 1;
        }
        // The frame's hottest pixel is in the first part: later parts must not forget it.
        px[(2 * w + w / 3) as usize] = u16::MAX;
        check(&px, &layout, &thresholds);
    }
}

#[test]
fn one_detector_serves_frames_of_changing_size_and_layout() {
    let mut rng = synth::Rng::new(11);
    let mut d = Detector::new();
    let mut portable = Detector::with_isa(Isa::Portable);
    for i in 0..40 {
        let w = 1 + (rng.next_u64() % 300) as u32;
        let h = 1 + (rng.next_u64() % 60) as u32;
        let layout = if i % 2 == 0 {
            synth::shed_layout(w, h)
        } else {
            Layout::whole(w, h)
        };
        let thresholds =
            vec![synth::thresholds(&layout)[0] - (rng.next_u64() % 2000) as u16; layout.regions()];
        let px = synth::frame(w, h, rng.uniform() * 0.3, rng.next_u64());
        let want = reference(&px, &layout, &thresholds);
        for d in [&mut d, &mut portable] {
            let got = d.detect(&px, &layout, &thresholds);
            assert_eq!(got.hotspots, &want.hotspots[..], "frame {i}: {w}x{h}");
            assert_eq!(got.regions, &want.regions[..], "frame {i}: {w}x{h}");
        }
    }
}

#[test]
fn the_shed_frames_of_the_bench_are_right() {
    for (w, h) in [(160, 120), (384, 288), (640, 512)] {
        let layout = synth::shed_layout(w, h);
        let thresholds = synth::thresholds(&layout);
        for (fraction, seed) in [(0.0, 1), (0.005, 2), (0.05, 3)] {
            check(&synth::frame(w, h, fraction, seed), &layout, &thresholds);
        }
    }
}

#[test]
fn avx2_is_tested_where_the_cpu_has_it() {
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        Isa::supported().any(|i| i == Isa::Avx2),
        std::arch::is_x86_feature_detected!("avx2")
    );
    assert!(Isa::supported().any(|i| i == Isa::Portable));
}
