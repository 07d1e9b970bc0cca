//! Detection: from a frame's raw counts to hot components and per-zone maxima.
//!
//! - [`layout`]: a camera's zones and masks rasterised into per-row spans of one region.
//! - [`cluster`]: the per-frame kernel: threshold, connected components (8-connectivity) and
//!   their statistics, plus each region's maximum, in one pass with reusable buffers.
//! - [`track`]: per-zone levels over time: dwell, hysteresis, rate of rise, cooling objects.
//! - `synth` (hidden): synthetic frames and a shed layout shared by benches and tests.

pub mod cluster;
pub mod layout;
#[doc(hidden)]
pub mod synth;
pub mod track;

pub use cluster::{Detection, Detector, Hotspot, Isa, RegionStats};
pub use layout::{Layout, Span};

/// Most zones one camera may have; with the area outside its zones that is 64 regions, so a
/// component's regions fit in a `u64` bit set.
pub const MAX_ZONES: usize = 63;

/// Region index of masked pixels (never hot, never part of a maximum).
pub const MASKED: u8 = u8::MAX;
