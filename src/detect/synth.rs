//! Synthetic frames for benches and tests: a shed at 20–35 °C with sensor noise, a few hot
//! round blobs (60–120 °C), and a layout of four charging bays and one mask.
//!
//! Everything is deterministic: a seed gives the same frame on every platform.

use super::Layout;
use crate::frame::Scale;

/// Sensor noise, one standard deviation (°C).
pub const NOISE_C: f64 = 0.15;
/// The hot threshold of every region (°C).
pub const THRESHOLD_C: f32 = 55.0;
/// Hot blobs per frame that has any.
pub const BLOBS: usize = 3;

/// A small deterministic generator (SplitMix64); fine for test data, not for secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly standard normal: the sum of four uniforms, centred and scaled to unit variance
    /// (Irwin–Hall), so never beyond ±3.5.
    pub fn gaussian(&mut self) -> f64 {
        let sum: f64 = (0..4).map(|_| self.uniform()).sum();
        (sum - 2.0) * 3f64.sqrt()
    }
}

/// A hot round blob: temperature falls from `peak_c` at the centre to 60 °C at `radius`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blob {
    /// Centre column (pixels, continuous).
    pub cx: f64,
    /// Centre row.
    pub cy: f64,
    /// Radius (pixels).
    pub radius: f64,
    /// Temperature at the centre (°C).
    pub peak_c: f64,
}

/// Temperature at the rim of every blob (°C), above [`THRESHOLD_C`].
pub const BLOB_RIM_C: f64 = 60.0;

/// [`BLOBS`] blobs that together cover about `hot_fraction` of a `width × height` frame, inside
/// the frame and apart from each other where there is room.
pub fn blobs(width: u32, height: u32, hot_fraction: f64, rng: &mut Rng) -> Vec<Blob> {
    if hot_fraction <= 0.0 {
        return Vec::new();
    }
    let (w, h) = (f64::from(width), f64::from(height));
    let radius = (hot_fraction * w * h / (BLOBS as f64 * std::f64::consts::PI)).sqrt();
    let mut placed: Vec<Blob> = Vec::with_capacity(BLOBS);
    for _ in 0..BLOBS {
        let mut blob = Blob {
            cx: 0.0,
            cy: 0.0,
            radius,
            peak_c: 80.0 + 40.0 * rng.uniform(),
        };
        // Rejection sampling; after enough tries a blob may overlap, which only makes it
        // smaller in hot pixels.
        for _ in 0..100 {
            blob.cx = radius + (w - 2.0 * radius).max(0.0) * rng.uniform();
            blob.cy = radius + (h - 2.0 * radius).max(0.0) * rng.uniform();
            let apart = placed
                .iter()
                .all(|b| (b.cx - blob.cx).hypot(b.cy - blob.cy) > 2.0 * radius + 2.0);
            if apart {
                break;
            }
        }
        placed.push(blob);
    }
    placed
}

/// A frame in centikelvin: a smooth gradient from 20 °C (top left) to 35 °C (bottom right),
/// Gaussian-ish noise of [`NOISE_C`], and hot blobs covering about `hot_fraction` of it.
pub fn frame(width: u32, height: u32, hot_fraction: f64, seed: u64) -> Vec<u16> {
    let mut rng = Rng::new(seed);
    let blobs = blobs(width, height, hot_fraction, &mut rng);
    let scale = Scale::CENTIKELVIN;
    let (w, h) = (f64::from(width).max(2.0), f64::from(height).max(2.0));
    let mut pixels = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let mut celsius = 20.0 + 15.0 * (0.6 * fx / w + 0.4 * fy / h);
            for b in &blobs {
                let d2 = ((fx - b.cx).powi(2) + (fy - b.cy).powi(2)) / (b.radius * b.radius);
                if d2 < 1.0 {
                    celsius = celsius.max(BLOB_RIM_C + (b.peak_c - BLOB_RIM_C) * (1.0 - d2));
                }
            }
            pixels.push(scale.raw_nearest(celsius + NOISE_C * rng.gaussian()));
        }
    }
    pixels
}

/// A top-down view of a shed: four charging bays in a 2 × 2 grid with aisles between them,
/// and a mask over a wall heater near the top right (it overlaps the top of bay 1).
pub fn shed_layout(width: u32, height: u32) -> Layout {
    let (w, h) = (f64::from(width), f64::from(height));
    let rect = |x0: f64, y0: f64, x1: f64, y1: f64| -> [[f64; 2]; 4] {
        [
            [x0 * w, y0 * h],
            [x1 * w, y0 * h],
            [x1 * w, y1 * h],
            [x0 * w, y1 * h],
        ]
    };
    let bays = [
        rect(0.06, 0.10, 0.47, 0.50),
        rect(0.53, 0.10, 0.94, 0.50),
        rect(0.06, 0.56, 0.47, 0.96),
        rect(0.53, 0.56, 0.94, 0.96),
    ];
    let heater = rect(0.78, 0.02, 0.97, 0.16);
    let zones: Vec<&[[f64; 2]]> = bays.iter().map(|b| &b[..]).collect();
    Layout::new(width, height, &zones, &[&heater[..]])
}

/// One threshold per region of `layout`: [`THRESHOLD_C`] in centikelvin.
pub fn thresholds(layout: &Layout) -> Vec<u16> {
    vec![Scale::CENTIKELVIN.threshold(THRESHOLD_C); layout.regions()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_fraction_is_roughly_what_was_asked() {
        for (w, h) in [(160, 120), (384, 288), (640, 512)] {
            for fraction in [0.005, 0.05] {
                let px = frame(w, h, fraction, 7);
                let t = Scale::CENTIKELVIN.threshold(THRESHOLD_C);
                let hot = px.iter().filter(|&&p| p >= t).count() as f64 / px.len() as f64;
                assert!(
                    (hot / fraction - 1.0).abs() < 0.25,
                    "{w}x{h} {fraction}: {hot}"
                );
            }
        }
    }

    #[test]
    fn an_empty_frame_has_no_hot_pixel() {
        let t = Scale::CENTIKELVIN.threshold(THRESHOLD_C);
        assert!(frame(384, 288, 0.0, 1).iter().all(|&p| p < t));
    }

    #[test]
    fn shed_layout_has_four_bays_and_a_mask() {
        let l = shed_layout(384, 288);
        assert_eq!(l.regions(), 5);
        let masked = (0..l.width()).filter(|&x| l.region_at(x, 10) == super::super::MASKED);
        assert!(masked.count() > 0);
    }
}
