//! The drivers around the engine: they own the clock and the I/O.
//!
//! - [`recording`]: the recording format (`recording.jsonl` plus payload files).
//! - [`replay`]: feeds a recording through the engine on a simulated clock.

pub mod recording;
pub mod replay;
