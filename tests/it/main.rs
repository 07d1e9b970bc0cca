//! Integration tests, one binary, modules named by behaviour.

mod chain_invariants;
mod chain_stage_table;
mod crash;
mod demo;
mod golden;
mod live;
mod replay_cli;
mod restart;
mod support;
