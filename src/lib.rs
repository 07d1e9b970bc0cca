//! shedwatch: thermal-camera fire watch for e-bike charging sheds.
//!
//! # Layout
//!
//! - [`config`]: the TOML file, environment overrides and the semantic check.
//! - [`frame`]: a decoded frame (raw counts plus their scale to kelvin).
//! - [`decode`]: wire formats (PNG, TFRM, JSON) into frames; sizes checked before allocating.
//! - [`detect`]: the per-frame kernel (threshold + connected components) and per-zone tracking.
//! - [`scene`]: deterministic synthetic shed scenes (fixtures and the demo's simulated cameras).

pub mod config;
pub mod decode;
pub mod detect;
pub mod frame;
pub mod scene;
