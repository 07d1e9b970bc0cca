//! The drivers around the engine: they own the clock and the I/O.
//!
//! - [`recording`]: the recording format (`recording.jsonl` plus payload files).
//! - [`replay`]: feeds a recording through the engine on a simulated clock.
//! - [`node`]: the engine bound to its store (durable before published).
//! - [`incidents`]: the `incidents` command, reading the store for people.
//! - [`live`]: `shedwatch run`: the daemon (tasks, signals, systemd).
//! - [`mqtt`]: connection options, the MQTT event loop, acknowledgement bookkeeping.
//! - [`inbox`]: bounded queues from the MQTT loop to the engine thread.
//! - [`publisher`]: store-and-forward from the outbox to the broker.
//! - [`broker`]: an embedded broker for the demo and the tests.
//! - [`record`]: captures live traffic into a recording.
//! - [`demo`]: `shedwatch demo`: broker, daemon, a simulated camera and scripted people in one
//!   process, the closure chain narrated.

pub mod broker;
pub mod demo;
pub mod inbox;
pub mod incidents;
pub mod live;
pub mod mqtt;
pub mod node;
pub mod publisher;
pub mod record;
pub mod recording;
pub mod replay;
