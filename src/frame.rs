//! A decoded radiometric frame: raw `u16` counts plus the linear map from counts to kelvin.
//!
//! The detection kernel works on the raw counts (thresholds are converted to counts once per
//! frame), so a 16-bit camera frame is never converted pixel by pixel.

/// Lowest temperature a decoded pixel may have; anything colder is a decode error.
pub const MIN_VALID_C: f32 = -60.0;
/// Highest temperature a decoded pixel may have; anything hotter is a decode error.
pub const MAX_VALID_C: f32 = 1500.0;
/// The raw count a 16-bit sensor reports when it saturates: treated as the hottest possible.
pub const SATURATED: u16 = u16::MAX;

const ZERO_C_IN_K: f64 = 273.15;

/// Linear map from raw counts to temperature: `T[K] = raw × kelvin_per_count + offset_k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Kelvin per raw count (0.01 for centikelvin, 0.1 for decikelvin, 1/64 for InfiRay raw).
    pub kelvin_per_count: f64,
    /// Kelvin at raw count 0.
    pub offset_k: f64,
}

impl Scale {
    /// FLIR Lepton TLinear high-resolution mode: K×100 (0 °C = 27315, saturates at 382.2 °C).
    pub const CENTIKELVIN: Scale = Scale {
        kelvin_per_count: 0.01,
        offset_k: 0.0,
    };
    /// FLIR Lepton TLinear low-resolution mode: K×10 (0 °C = 2731.5, saturates at 6280 °C).
    pub const DECIKELVIN: Scale = Scale {
        kelvin_per_count: 0.1,
        offset_k: 0.0,
    };

    /// Temperature in °C of a raw count (the saturated count maps to its nominal value).
    #[inline]
    pub fn celsius(&self, raw: u16) -> f32 {
        (raw as f64 * self.kelvin_per_count + self.offset_k - ZERO_C_IN_K) as f32
    }

    /// Temperature in °C of a (possibly fractional) mean raw value.
    #[inline]
    pub fn celsius_f64(&self, raw: f64) -> f64 {
        raw * self.kelvin_per_count + self.offset_k - ZERO_C_IN_K
    }

    /// Smallest raw count whose temperature is at or above `celsius`, clamped to the
    /// saturated count, so a saturated pixel always reaches every level.
    pub fn threshold(&self, celsius: f32) -> u16 {
        let raw = ((celsius as f64 + ZERO_C_IN_K - self.offset_k) / self.kelvin_per_count).ceil();
        if raw <= 0.0 {
            0
        } else if raw >= SATURATED as f64 {
            SATURATED
        } else {
            // Guard against the ceil landing one count high through rounding.
            let r = raw as u16;
            if r > 0 && self.celsius(r - 1) >= celsius {
                r - 1
            } else {
                r
            }
        }
    }

    /// Raw count nearest to `celsius`, saturating at both ends.
    pub fn raw_nearest(&self, celsius: f64) -> u16 {
        let raw = ((celsius + ZERO_C_IN_K - self.offset_k) / self.kelvin_per_count).round();
        raw.clamp(0.0, SATURATED as f64) as u16
    }
}

/// A decoded frame. Buffers are reused between frames, so decoders write into one.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Row-major raw counts, `width × height` of them.
    pub pixels: Vec<u16>,
    /// How raw counts map to temperature.
    pub scale: Scale,
    /// Capture time the camera put in the frame (ms since the Unix epoch), if any.
    pub captured_ms: Option<u64>,
}

impl Default for Frame {
    fn default() -> Self {
        Frame {
            width: 0,
            height: 0,
            pixels: Vec::new(),
            scale: Scale::CENTIKELVIN,
            captured_ms: None,
        }
    }
}

impl Frame {
    /// A frame filled with one temperature (used by tests, benches and the fixture generator).
    pub fn uniform(width: u32, height: u32, scale: Scale, celsius: f64) -> Frame {
        let raw = scale.raw_nearest(celsius);
        Frame {
            width,
            height,
            pixels: vec![raw; width as usize * height as usize],
            scale,
            captured_ms: None,
        }
    }

    /// Temperature in °C at `(x, y)`.
    pub fn celsius_at(&self, x: u32, y: u32) -> f32 {
        self.scale
            .celsius(self.pixels[y as usize * self.width as usize + x as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centikelvin_zero_celsius_is_27315() {
        assert_eq!(Scale::CENTIKELVIN.raw_nearest(0.0), 27315);
        assert!((Scale::CENTIKELVIN.celsius(27315)).abs() < 1e-4);
    }

    #[test]
    fn threshold_is_the_first_count_at_or_above() {
        for s in [Scale::CENTIKELVIN, Scale::DECIKELVIN] {
            for c in [-59.9f32, 0.0, 40.0, 55.0, 80.0, 150.0, 333.33] {
                let t = s.threshold(c);
                assert!(s.celsius(t) >= c, "{c}");
                assert!(t == 0 || s.celsius(t - 1) < c, "{c}");
            }
        }
    }

    #[test]
    fn threshold_above_the_range_is_the_saturated_count() {
        assert_eq!(Scale::CENTIKELVIN.threshold(600.0), SATURATED);
    }
}
