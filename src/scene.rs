//! Synthetic shed scenes: a deterministic model of what a thermal camera over charging bays
//! sees, for test fixtures and the live demo.
//!
//! A [`Scene`] is an ambient field (a smooth gradient: a shed's roof is warmer than its floor),
//! sensor noise, and [`Object`]s painted over it in order. Each object has a [`Shape`] with a
//! soft edge, a temperature [`Curve`] over its age, and the times it appears and leaves.
//! [`Scene::render`] paints the scene at any time on its own: nothing depends on earlier
//! frames, and the noise of a frame is a pure function of the scene's seed, the time and the
//! pixel, so frame 1000 costs the same as frame 0 and two renders of a frame are identical.
//!
//! # The physics behind the curves
//!
//! The numbers are for the scenes to look plausible to the detector, not to predict a fire:
//!
//! - Ambient: an unheated shed in summer spans about 20–35 °C from floor to roof.
//! - Sensor noise: 0.15 °C standard deviation by default, a conservative per-pixel temporal
//!   noise for a radiometric microbolometer (a FLIR Lepton's NETD is below 50 mK).
//! - [`Curve::Warming`]: a first-order lump approaching ambient + ΔT,
//!   `T = T_amb + ΔT·(1 − e^(−age/τ))`. A Li-ion pack on a normal charge runs a few kelvin
//!   above ambient (Joule and entropic heat at ≤ 0.5 C); a dark beam in full sun
//!   (~1 kW/m², absorptance ~0.9) settles some 40–60 K above it.
//! - [`Curve::Cooling`]: Newton's law, `T = T_amb + (T₀ − T_amb)·e^(−age/τ)`. For a hub motor
//!   parked warm after a climb (casing 50–70 °C), the lumped time constant
//!   `τ = m·c / (h·A)` ≈ 1.4 kg × 900 J/(kg·K) / (10 W/(m²·K) × 0.14 m²) ≈ 900 s, i.e.
//!   10–20 min for motors of 1–2 kg of shell.
//! - [`Curve::Runaway`]: a pack that overheats while charging. Feng et al., "Thermal runaway
//!   mechanism of lithium ion battery for electric vehicles: A review", Energy Storage
//!   Materials 10 (2018) 246–267, doi:10.1016/j.ensm.2017.05.013, describe three
//!   characteristic temperatures: T1, the onset of self-heating (SEI decomposition,
//!   ~80–120 °C inside the cell); T2, the trigger, where the cell's own rate passes ~1 °C/s
//!   and the separator collapses; T3, the maximum, 400–1000 °C and above once the vent gas
//!   burns. A camera sees the pack's surface, which lags the cells inside, so the
//!   model rises in two stages of constant rate (12 °C/min, then 25 °C/min: above
//!   shedwatch's 10 and 20 °C/min rate-of-rise levels), vents at ~120 °C surface
//!   temperature, and reaches a flame of 600–900 °C a few seconds after venting.
//! - [`Curve::Flame`]: burning vent gas or an arc after a short circuit, 600–900 °C with
//!   flicker. A flame that fills only part of a pixel reads lower, which is how a small or
//!   distant flame is modelled.
//! - A sun glint (reflection off chrome) is an object that is present for one frame only
//!   (see [`Object::between`]): 95–120 °C apparent for exactly one frame.
//!
//! # Determinism
//!
//! The noise uses only integer arithmetic (splitmix64 and an Irwin–Hall sum of four 16-bit
//! uniforms, which is near-Gaussian with tails cut at ±3.46 σ), so it is bit-identical on every
//! platform. The curves use `exp` and `sin`, whose last bit may differ between platforms'
//! maths libraries; that almost never changes a value rounded to a raw count.

pub mod presets;

use std::f64::consts::TAU;

use crate::frame::{Frame, Scale};

/// Default sensor noise (°C, one standard deviation).
pub const DEFAULT_NOISE_C: f32 = 0.15;

/// A scene: frame size, ambient field, noise and the objects painted over it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The background temperature field.
    pub ambient: Ambient,
    /// Standard deviation of the per-pixel sensor noise (°C); 0 for none.
    pub noise_c: f32,
    /// Seed of the noise: scenes with different seeds have independent noise.
    pub seed: u64,
    /// Objects, painted in order (later ones in front).
    pub objects: Vec<Object>,
}

/// The background: a linear gradient over the frame that may drift over time.
///
/// `T(x, y, t) = top_left_c + across_k·x/width + down_k·y/height + drift_k_per_h·t/3600 s`,
/// with `(x, y)` in pixels from the top-left corner of the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ambient {
    /// °C at the top-left corner at time 0.
    pub top_left_c: f64,
    /// Kelvin added from the left edge to the right edge.
    pub across_k: f64,
    /// Kelvin added from the top edge to the bottom edge (negative: the floor is cooler than
    /// the roof).
    pub down_k: f64,
    /// Kelvin per hour added everywhere (a shed warming in the morning sun).
    pub drift_k_per_h: f64,
}

impl Ambient {
    /// The same temperature everywhere, all the time.
    pub fn uniform(celsius: f64) -> Ambient {
        Ambient {
            top_left_c: celsius,
            across_k: 0.0,
            down_k: 0.0,
            drift_k_per_h: 0.0,
        }
    }
}

/// An outline in pixel coordinates: (0, 0) is the top-left corner of the frame and the centre
/// of pixel `(x, y)` is `(x + 0.5, y + 0.5)`, as for zone polygons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// An axis-aligned ellipse.
    Ellipse {
        /// Centre, x.
        cx: f32,
        /// Centre, y.
        cy: f32,
        /// Half-width (pixels).
        rx: f32,
        /// Half-height (pixels).
        ry: f32,
    },
    /// An axis-aligned rectangle `[x0, x1] × [y0, y1]`.
    Rect {
        /// Left edge.
        x0: f32,
        /// Top edge.
        y0: f32,
        /// Right edge.
        x1: f32,
        /// Bottom edge.
        y1: f32,
    },
}

impl Shape {
    /// Centre of the shape.
    pub fn centre(&self) -> (f32, f32) {
        match *self {
            Shape::Ellipse { cx, cy, .. } => (cx, cy),
            Shape::Rect { x0, y0, x1, y1 } => ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
        }
    }

    /// Bounding box `[x0, y0, x1, y1]` of the outline.
    pub fn bounds(&self) -> [f32; 4] {
        match *self {
            Shape::Ellipse { cx, cy, rx, ry } => [cx - rx, cy - ry, cx + rx, cy + ry],
            Shape::Rect { x0, y0, x1, y1 } => [x0, y0, x1, y1],
        }
    }

    /// Signed distance (pixels) of `(x, y)` from the outline, negative inside, and the
    /// normalised radius (0 at the centre, 1 on the outline). The ellipse's distance is the
    /// first-order estimate `(ρ − 1)/|∇ρ|`, exact for circles.
    fn locate(&self, x: f32, y: f32) -> (f32, f32) {
        match *self {
            Shape::Ellipse { cx, cy, rx, ry } => {
                let (u, v) = ((x - cx) / rx, (y - cy) / ry);
                let rho = (u * u + v * v).sqrt();
                let grad = ((u / rx).powi(2) + (v / ry).powi(2)).sqrt();
                if grad == 0.0 {
                    (-rx.min(ry), 0.0)
                } else {
                    ((rho - 1.0) * rho / grad, rho)
                }
            }
            Shape::Rect { x0, y0, x1, y1 } => {
                let (hw, hh) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
                let (dx, dy) = ((x - (x0 + x1) / 2.0).abs(), (y - (y0 + y1) / 2.0).abs());
                let (qx, qy) = (dx - hw, dy - hh);
                let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
                let d = if outside > 0.0 { outside } else { qx.max(qy) };
                (d, (dx / hw).max(dy / hh))
            }
        }
    }
}

/// How an object's temperature follows its age (seconds since it appeared). `ambient_c` is
/// the background at the object's centre at the time of the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Curve {
    /// A fixed temperature (°C).
    Constant(f64),
    /// First-order warming from ambient: `T_amb + rise_k·(1 − e^(−age/tau_s))` (a pack on
    /// charge, a beam in the sun).
    Warming {
        /// Kelvin above ambient once settled.
        rise_k: f64,
        /// Time constant (s, > 0).
        tau_s: f64,
    },
    /// Newton cooling toward ambient: `T_amb + (start_c − T_amb)·e^(−age/tau_s)` (a hub motor
    /// parked warm).
    Cooling {
        /// Temperature on arrival (°C).
        start_c: f64,
        /// Time constant (s, > 0).
        tau_s: f64,
    },
    /// A charging pack going into thermal runaway.
    Runaway(Runaway),
    /// An open flame: `celsius` with a flicker of ±`flicker_k`.
    Flame {
        /// Mean flame temperature as the camera reads it (°C).
        celsius: f64,
        /// Flicker amplitude (K).
        flicker_k: f64,
    },
}

impl Curve {
    /// Temperature (°C) at `age_s` seconds after the object appeared.
    pub fn celsius(&self, age_s: f64, ambient_c: f64) -> f64 {
        match *self {
            Curve::Constant(c) => c,
            Curve::Warming { rise_k, tau_s } => {
                ambient_c + rise_k * (1.0 - (-age_s.max(0.0) / tau_s).exp())
            }
            Curve::Cooling { start_c, tau_s } => {
                ambient_c + (start_c - ambient_c) * (-age_s.max(0.0) / tau_s).exp()
            }
            Curve::Runaway(r) => r.celsius(age_s, ambient_c),
            Curve::Flame { celsius, flicker_k } => celsius + flicker_k * flicker(age_s),
        }
    }
}

/// Deterministic flame flicker in −1…1: two incommensurate sines.
fn flicker(t_s: f64) -> f64 {
    0.6 * (TAU * 0.37 * t_s).sin() + 0.4 * (TAU * 1.13 * t_s + 1.7).sin()
}

/// Thermal runaway of a pack on charge, as its surface appears to a camera: charging, two
/// stages of self-heating at constant rates, venting, ignition, flame.
///
/// Before `onset_s` the pack sits at `ambient + charging_k`. From there it rises at
/// `heating_c_per_min` up to `accelerating_c`, then at `accelerating_c_per_min` up to `vent_c`;
/// from venting the temperature ramps linearly to `flame_c` over `ignition_s` and then
/// flickers by ±`flicker_k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Runaway {
    /// Kelvin above ambient while the pack charges normally.
    pub charging_k: f64,
    /// Age at which self-heating starts (s).
    pub onset_s: f64,
    /// Rate of the first stage (°C/min).
    pub heating_c_per_min: f64,
    /// Temperature at which the heating accelerates (°C).
    pub accelerating_c: f64,
    /// Rate of the second stage (°C/min).
    pub accelerating_c_per_min: f64,
    /// Surface temperature at which the cells vent and the gas ignites (°C).
    pub vent_c: f64,
    /// Seconds from venting to a developed flame.
    pub ignition_s: f64,
    /// Mean flame temperature (°C).
    pub flame_c: f64,
    /// Flame flicker amplitude (K).
    pub flicker_k: f64,
}

impl Runaway {
    /// The runaway the fixtures use: charging at ambient + 10 K, onset at `onset_s`, 12 °C/min
    /// then 25 °C/min from 55 °C, venting at 120 °C and a flame of 800 ± 60 °C three seconds
    /// later.
    pub fn typical(onset_s: f64) -> Runaway {
        Runaway {
            charging_k: 10.0,
            onset_s,
            heating_c_per_min: 12.0,
            accelerating_c: 55.0,
            accelerating_c_per_min: 25.0,
            vent_c: 120.0,
            ignition_s: 3.0,
            flame_c: 800.0,
            flicker_k: 60.0,
        }
    }

    /// Ages (s) at which the second stage starts and the pack vents, for this ambient.
    pub fn stage_ages(&self, ambient_c: f64) -> (f64, f64) {
        let start = ambient_c + self.charging_k;
        let accelerating =
            self.onset_s + 60.0 * (self.accelerating_c - start).max(0.0) / self.heating_c_per_min;
        let from = start.max(self.accelerating_c);
        let vent =
            accelerating + 60.0 * (self.vent_c - from).max(0.0) / self.accelerating_c_per_min;
        (accelerating, vent)
    }

    /// Surface temperature (°C) at `age_s`.
    pub fn celsius(&self, age_s: f64, ambient_c: f64) -> f64 {
        let start = ambient_c + self.charging_k;
        let (accelerating, vent) = self.stage_ages(ambient_c);
        if age_s < self.onset_s {
            start
        } else if age_s < accelerating {
            start + self.heating_c_per_min * (age_s - self.onset_s) / 60.0
        } else if age_s < vent {
            start.max(self.accelerating_c)
                + self.accelerating_c_per_min * (age_s - accelerating) / 60.0
        } else if age_s < vent + self.ignition_s {
            let f = (age_s - vent) / self.ignition_s;
            self.vent_c + (self.flame_c - self.vent_c) * f
        } else {
            self.flame_c + self.flicker_k * flicker(age_s)
        }
    }
}

/// Something in the scene: a shape at a temperature, present from `appear_s` until
/// `leave_s`.
///
/// A pixel whose centre is at distance `d` from the outline (negative inside) takes the
/// weight `w = smoothstep((edge_px/2 − d)/edge_px) × (1 − falloff·min(ρ, 1)²)`, where `ρ` is
/// the normalised radius, and becomes `T_behind + w·(T_object − T_behind)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Object {
    /// Outline.
    pub shape: Shape,
    /// Width (pixels) of the soft edge, centred on the outline; 0 for a hard edge.
    pub edge_px: f32,
    /// Fraction of the excess over the background lost from the centre to the outline (0: the
    /// whole object is at its temperature; 0.5: the rim shows half the excess).
    pub falloff: f32,
    /// Temperature over the object's age.
    pub curve: Curve,
    /// Scene time the object appears (s); its age counts from here.
    pub appear_s: f64,
    /// Scene time it leaves (s, exclusive).
    pub leave_s: f64,
}

impl Object {
    /// An object present from time 0 on, with a one-pixel soft edge and no falloff.
    pub fn new(shape: Shape, curve: Curve) -> Object {
        Object {
            shape,
            edge_px: 1.0,
            falloff: 0.0,
            curve,
            appear_s: 0.0,
            leave_s: f64::INFINITY,
        }
    }

    /// This object present for scene times in `[appear_s, leave_s)`. A negative `appear_s`
    /// means it was there before the scene starts (a pack charging for an hour already).
    pub fn between(self, appear_s: f64, leave_s: f64) -> Object {
        Object {
            appear_s,
            leave_s,
            ..self
        }
    }

    /// This object with a soft edge `edge_px` wide.
    pub fn with_edge(self, edge_px: f32) -> Object {
        Object { edge_px, ..self }
    }

    /// This object with a temperature falloff toward its rim.
    pub fn with_falloff(self, falloff: f32) -> Object {
        Object { falloff, ..self }
    }

    /// Whether the object is in the scene at `t_s`.
    pub fn present_at(&self, t_s: f64) -> bool {
        self.appear_s <= t_s && t_s < self.leave_s
    }

    /// Weight of the object at the pixel centre `(x, y)`, 0…1.
    fn weight(&self, x: f32, y: f32) -> f32 {
        let (d, rho) = self.shape.locate(x, y);
        let cover = if self.edge_px > 0.0 {
            let u = ((0.5 * self.edge_px - d) / self.edge_px).clamp(0.0, 1.0);
            u * u * (3.0 - 2.0 * u)
        } else if d <= 0.0 {
            1.0
        } else {
            0.0
        };
        cover * (1.0 - self.falloff * rho.min(1.0).powi(2))
    }
}

impl Scene {
    /// An empty scene with the default noise.
    pub fn new(width: u32, height: u32, ambient: Ambient, seed: u64) -> Scene {
        Scene {
            width,
            height,
            ambient,
            noise_c: DEFAULT_NOISE_C,
            seed,
            objects: Vec::new(),
        }
    }

    /// This scene with another noise level (°C standard deviation).
    pub fn with_noise(self, noise_c: f32) -> Scene {
        Scene { noise_c, ..self }
    }

    /// This scene with `object` added in front of the others.
    pub fn with_object(mut self, object: Object) -> Scene {
        self.objects.push(object);
        self
    }

    /// Ambient temperature (°C) at the point `(x, y)` (pixels) at scene time `t_s`.
    pub fn ambient_c(&self, x: f64, y: f64, t_s: f64) -> f64 {
        let a = &self.ambient;
        a.top_left_c
            + a.across_k * x / self.width as f64
            + a.down_k * y / self.height as f64
            + a.drift_k_per_h * t_s / 3600.0
    }

    /// Nominal temperature (°C, without noise) of object `index` at `t_s`; `None` while it is
    /// absent.
    pub fn object_c(&self, index: usize, t_s: f64) -> Option<f64> {
        let o = self.objects.get(index)?;
        if !o.present_at(t_s) {
            return None;
        }
        let (cx, cy) = o.shape.centre();
        let ambient = self.ambient_c(cx as f64, cy as f64, t_s);
        Some(o.curve.celsius(t_s - o.appear_s, ambient))
    }

    /// Renders the scene at `at_ms` (ms of scene time) into `out` as °C, row-major; `out` is
    /// resized to `width × height` and its capacity reused.
    pub fn render(&self, at_ms: u64, out: &mut Vec<f32>) {
        let (w, h) = (self.width as usize, self.height as usize);
        out.clear();
        out.resize(w * h, 0.0);
        if out.is_empty() {
            return;
        }
        let t_s = at_ms as f64 / 1000.0;

        // The gradient is linear, so each row is a start value plus a constant step.
        let a = &self.ambient;
        let step = (a.across_k / w as f64) as f32;
        for (y, row) in out.chunks_exact_mut(w).enumerate() {
            let first = self.ambient_c(0.5, y as f64 + 0.5, t_s) as f32;
            for (x, v) in row.iter_mut().enumerate() {
                *v = first + step * x as f32;
            }
        }

        for (i, o) in self.objects.iter().enumerate() {
            let Some(c) = self.object_c(i, t_s) else {
                continue;
            };
            let c = c as f32;
            let [bx0, by0, bx1, by1] = o.shape.bounds();
            let margin = 0.5 * o.edge_px;
            // Pixels whose centres lie within the bounds plus half the soft edge.
            let px_range = |lo: f32, hi: f32, n: usize| {
                let first = (lo - margin - 0.5).ceil().max(0.0) as usize;
                let last = ((hi + margin - 0.5).floor() as i64 + 1).clamp(0, n as i64) as usize;
                first..last.max(first)
            };
            for y in px_range(by0, by1, h) {
                let row = &mut out[y * w..(y + 1) * w];
                for x in px_range(bx0, bx1, w) {
                    let weight = o.weight(x as f32 + 0.5, y as f32 + 0.5);
                    if weight > 0.0 {
                        row[x] += weight * (c - row[x]);
                    }
                }
            }
        }

        if self.noise_c > 0.0 {
            let key = frame_key(self.seed, at_ms);
            for (i, v) in out.iter_mut().enumerate() {
                *v += self.noise_c * standard_noise(key, i as u64);
            }
        }
    }

    /// Renders the scene at `at_ms` into `frame` as raw counts of `scale`, using `celsius` as
    /// scratch (both keep their buffers between calls). Values beyond the scale saturate:
    /// pick [`Scale::DECIKELVIN`] for scenes with flames above 382 °C.
    pub fn render_frame(
        &self,
        at_ms: u64,
        scale: Scale,
        celsius: &mut Vec<f32>,
        frame: &mut Frame,
    ) {
        self.render(at_ms, celsius);
        frame.width = self.width;
        frame.height = self.height;
        frame.scale = scale;
        frame.captured_ms = None;
        frame.pixels.clear();
        frame
            .pixels
            .extend(celsius.iter().map(|&c| scale.raw_nearest(c as f64)));
    }
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 output function (Steele, Lea and Flood, 2014).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of one frame's noise: a pure function of the scene seed and the time.
fn frame_key(seed: u64, at_ms: u64) -> u64 {
    mix64(seed ^ mix64(at_ms.wrapping_add(GOLDEN_GAMMA)))
}

/// Standard noise (mean 0, σ 1) of pixel `index` of the frame with `key`: the splitmix64
/// draw number `index + 1`, split into four 16-bit uniforms whose Irwin–Hall sum is
/// rescaled.
fn standard_noise(key: u64, index: u64) -> f32 {
    let bits = mix64(key.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA)));
    let sum = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48);
    // Each lane is uniform on 0…65535: mean 32767.5, variance (65536² − 1)/12.
    const MEAN: f32 = 4.0 * 32767.5;
    const SIGMA: f32 = 37_837.23; // sqrt(4 × (65536² − 1) / 12)
    (sum as f32 - MEAN) / SIGMA
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shed() -> Scene {
        Scene::new(
            80,
            60,
            Ambient {
                top_left_c: 30.0,
                across_k: 2.0,
                down_k: -6.0,
                drift_k_per_h: 0.0,
            },
            7,
        )
        .with_object(
            Object::new(
                Shape::Ellipse {
                    cx: 20.5,
                    cy: 40.5,
                    rx: 4.0,
                    ry: 2.0,
                },
                Curve::Warming {
                    rise_k: 8.0,
                    tau_s: 600.0,
                },
            )
            .between(-600.0, f64::INFINITY)
            .with_falloff(0.3),
        )
    }

    #[test]
    fn the_same_frame_renders_identically() {
        let s = shed();
        let (mut a, mut b, mut other) = (Vec::new(), Vec::new(), Vec::new());
        s.render(42_000, &mut a);
        s.render(43_000, &mut other);
        s.render(42_000, &mut b);
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[test]
    fn noise_has_the_configured_mean_and_deviation() {
        let s = Scene::new(80, 60, Ambient::uniform(25.0), 1);
        let mut buf = Vec::new();
        let (mut n, mut sum, mut sum2, mut max) = (0.0f64, 0.0f64, 0.0f64, 0.0f32);
        for t in 0..20 {
            s.render(t * 1000, &mut buf);
            for &v in &buf {
                let e = v - 25.0;
                n += 1.0;
                sum += e as f64;
                sum2 += (e as f64).powi(2);
                max = max.max(e.abs());
            }
        }
        let mean = sum / n;
        let sigma = (sum2 / n - mean * mean).sqrt();
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((sigma - 0.15).abs() < 0.005, "sigma {sigma}");
        assert!(max <= 0.15 * 3.47, "max {max}");
    }

    #[test]
    fn noise_of_consecutive_frames_is_uncorrelated() {
        let s = Scene::new(80, 60, Ambient::uniform(0.0), 3);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        s.render(0, &mut a);
        s.render(1000, &mut b);
        let r: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum::<f32>() / a.len() as f32;
        assert!((r / 0.0225).abs() < 0.05, "correlation {}", r / 0.0225);
    }

    #[test]
    fn an_object_centre_reads_its_temperature_and_far_pixels_the_ambient() {
        let s = shed().with_noise(0.0);
        let mut buf = Vec::new();
        s.render(0, &mut buf);
        let c = s.object_c(0, 0.0).unwrap() as f32;
        assert!((buf[40 * 80 + 20] - c).abs() < 1e-4);
        let far = s.ambient_c(60.5, 10.5, 0.0) as f32;
        assert!((buf[10 * 80 + 60] - far).abs() < 1e-4);
        // The soft edge stays within half its width of the outline.
        assert!((buf[40 * 80 + 26] - s.ambient_c(26.5, 40.5, 0.0) as f32).abs() < 1e-4);
    }

    #[test]
    fn render_frame_rounds_the_rendered_celsius() {
        let s = shed();
        let (mut celsius, mut frame) = (Vec::new(), Frame::default());
        s.render_frame(5000, Scale::CENTIKELVIN, &mut celsius, &mut frame);
        assert_eq!((frame.width, frame.height), (80, 60));
        for (i, &c) in celsius.iter().enumerate() {
            let back = frame.scale.celsius(frame.pixels[i]);
            assert!((back - c).abs() <= 0.0051, "{back} vs {c}");
        }
    }

    #[test]
    fn runaway_passes_the_stated_rates() {
        let r = Runaway::typical(60.0);
        let amb = 25.0;
        let rate = |a: f64, b: f64| (r.celsius(b, amb) - r.celsius(a, amb)) / (b - a) * 60.0;
        assert_eq!(r.celsius(0.0, amb), 35.0);
        assert_eq!(r.celsius(59.0, amb), 35.0);
        let (accelerating, vent) = r.stage_ages(amb);
        assert_eq!(accelerating, 160.0); // 35 → 55 °C at 12 °C/min
        assert_eq!(vent, 316.0); // 55 → 120 °C at 25 °C/min
        assert!((rate(70.0, 150.0) - 12.0).abs() < 1e-9);
        assert!((rate(170.0, 310.0) - 25.0).abs() < 1e-9);
        // Nothing falls until the flame flickers.
        let mut last = f64::MIN;
        for s in 0..=(vent as u32 + 3) {
            let c = r.celsius(s as f64, amb);
            assert!(c >= last, "{s} s: {c} < {last}");
            last = c;
        }
        for s in (vent as u32 + 3)..(vent as u32 + 120) {
            let c = r.celsius(s as f64, amb);
            assert!((740.0..=860.0).contains(&c), "{s} s: {c}");
        }
    }

    #[test]
    fn cooling_is_monotone_toward_ambient() {
        let curve = Curve::Cooling {
            start_c: 65.0,
            tau_s: 900.0,
        };
        let mut last = f64::MAX;
        for s in 0..3600 {
            let c = curve.celsius(s as f64, 24.0);
            assert!(c < last && c > 24.0, "{s} s: {c}");
            last = c;
        }
        // One time constant takes 63 % of the excess.
        let one_tau = curve.celsius(900.0, 24.0);
        assert!((one_tau - (24.0 + 41.0 / std::f64::consts::E)).abs() < 1e-9);
    }

    #[test]
    fn a_glint_is_present_for_exactly_one_frame() {
        let glint = Object::new(
            Shape::Ellipse {
                cx: 10.5,
                cy: 10.5,
                rx: 1.0,
                ry: 0.7,
            },
            Curve::Constant(110.0),
        )
        .between(30.0, 30.5);
        let frames: Vec<u32> = (0..60).filter(|&s| glint.present_at(s as f64)).collect();
        assert_eq!(frames, [30]);
    }

    /// The committed fixtures under `fixtures/`, made with these scenes by
    /// `examples/make_fixtures.rs`.
    mod fixtures {
        use std::collections::BTreeMap;
        use std::path::{Path, PathBuf};

        use crate::config::Config;
        use crate::decode::{DecodeOptions, decode};
        use crate::frame::{Frame, Scale};
        use crate::scene::presets;

        /// Every directory holding a recording, the closure-chain scenarios included.
        fn fixture_dirs() -> Vec<PathBuf> {
            let mut dirs = Vec::new();
            let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
            while let Some(dir) = stack.pop() {
                for entry in
                    std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                {
                    let path = entry.unwrap().path();
                    if path.is_dir() && path.file_name().is_some_and(|n| n != "frames") {
                        if path.join("recording.jsonl").exists() {
                            dirs.push(path.clone());
                        }
                        stack.push(path);
                    }
                }
            }
            dirs.sort();
            assert!(dirs.len() >= 11, "only {} fixtures", dirs.len());
            dirs
        }

        fn config(dir: &Path) -> Config {
            let text = std::fs::read_to_string(dir.join("config.toml")).unwrap();
            Config::parse(&text, Some(BTreeMap::new()))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        }

        /// Decoding options for `camera` as the config sets them (defaults when unknown).
        fn options(config: &Config, camera: &str) -> DecodeOptions {
            let cam = config.camera(camera);
            DecodeOptions {
                max_width: config.limits.max_width_px,
                max_height: config.limits.max_height_px,
                raw_scale: cam.map_or(Scale::CENTIKELVIN, |c| Scale {
                    kelvin_per_count: c.raw_kelvin_per_count,
                    offset_k: c.raw_offset_k,
                }),
                expected_size: cam.and_then(|c| c.width.zip(c.height)),
            }
        }

        /// `(t_ms, camera, payload_file)` of every frame line of the recording (command and
        /// clock lines are skipped).
        fn recording(dir: &Path) -> Vec<(u64, String, String)> {
            let text = std::fs::read_to_string(dir.join("recording.jsonl")).unwrap();
            text.lines()
                .filter_map(|line| {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    let camera = v["topic"]
                        .as_str()?
                        .strip_prefix("thermal/")?
                        .strip_suffix("/frame")?
                        .to_string();
                    Some((
                        v["t_ms"].as_u64().unwrap(),
                        camera,
                        v["payload_file"].as_str().unwrap().to_string(),
                    ))
                })
                .collect()
        }

        #[test]
        fn every_fixture_config_is_valid() {
            for dir in fixture_dirs() {
                config(&dir);
            }
        }

        #[test]
        fn every_fixture_payload_decodes_except_the_corrupted_ones() {
            for dir in fixture_dirs() {
                let config = config(&dir);
                let lines = recording(&dir);
                assert!(!lines.is_empty(), "{}", dir.display());
                assert!(
                    lines.windows(2).all(|w| w[0].0 <= w[1].0),
                    "{}",
                    dir.display()
                );
                for (t_ms, camera, file) in lines {
                    let payload = std::fs::read(dir.join(&file))
                        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()));
                    let decoded = decode(&payload, &options(&config, &camera));
                    if file.contains(".corrupt-") {
                        assert!(decoded.is_err(), "{}/{file} decoded", dir.display());
                    } else if let Err(e) = decoded {
                        panic!("{}/{file} at {t_ms} ms: {e}", dir.display());
                    }
                }
            }
        }

        #[test]
        fn committed_frames_are_what_the_presets_render() {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
            let cases = [
                ("normal-charging", presets::normal_charging(), 60),
                ("slow-runaway", presets::slow_runaway(), 270),
                ("short-circuit-flame", presets::short_circuit_flame(), 10),
            ];
            for (name, scene, second) in cases {
                let dir = root.join(name);
                let config = config(&dir);
                let file = format!("frames/cam-01/{second:06}.png");
                let options = options(&config, "cam-01");
                let stored = decode(&std::fs::read(dir.join(&file)).unwrap(), &options).unwrap();
                let (mut celsius, mut rendered) = (Vec::new(), Frame::default());
                scene.render_frame(
                    second * 1000,
                    options.raw_scale,
                    &mut celsius,
                    &mut rendered,
                );
                // One count of slack for `exp`/`sin` differing in the last bit elsewhere.
                let off = stored
                    .pixels
                    .iter()
                    .zip(&rendered.pixels)
                    .filter(|(a, b)| a.abs_diff(**b) > 1)
                    .count();
                assert_eq!(off, 0, "{name}/{file}: regenerate the fixtures");
            }
        }
    }
}
