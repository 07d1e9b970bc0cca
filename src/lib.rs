//! shedwatch: thermal-camera fire watch for e-bike charging sheds.
//!
//! # Layout
//!
//! - [`config`]: the TOML file, environment overrides and the semantic check.
//! - [`frame`]: a decoded frame (raw counts plus their scale to kelvin).
//! - [`decode`]: wire formats (PNG, TFRM, JSON) into frames; sizes checked before allocating.
//! - [`detect`]: the per-frame kernel (threshold + connected components) and per-zone tracking.
//! - [`incident`]: incidents, the closure chain, escalation and the store.
//! - [`engine`]: the deterministic core: `(time, topic, payload)` in, messages and state out.
//! - [`drive`]: the drivers around the engine: replay, live MQTT, the embedded broker, the
//!   demo.
//! - [`scene`]: deterministic synthetic shed scenes (fixtures and the demo's simulated cameras).
//!
//! # Pipeline
//!
//! ```text
//! MQTT/recording ─► decode ─► detect::cluster ─► detect::track ─► engine (incidents, chain,
//!                                                                   escalation) ─► store ─► MQTT
//! ```

pub mod config;
pub mod decode;
pub mod detect;
pub mod drive;
pub mod engine;
pub mod frame;
pub mod incident;
pub mod scene;
