//! The drivers around the engine: they own the clock and the I/O.
//!
//! - [`recording`]: the recording format (`recording.jsonl` plus payload files).
//! - [`replay`]: feeds a recording through the engine on a simulated clock.
//! - [`node`]: the engine bound to its store (durable before published).
//! - [`incidents`]: the `incidents` command, reading the store for people.

pub mod incidents;
pub mod node;
pub mod recording;
pub mod replay;
