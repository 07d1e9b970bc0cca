//! `replay`: feeds a recording through the engine on a simulated clock and writes every
//! message the engine would publish, one JSON object per line:
//! `{"t_ms":…,"topic":"…","payload":…}`. The same recording always gives the same bytes.
//!
//! With a store, every step is committed as in the daemon, with the recording line as a
//! cursor, so a replay killed at any point resumes where its last commit left off; the
//! outbox is then drained into a file, standing in for the broker.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;

use super::node::Node;
use super::recording::{LineError, Reader};
use crate::engine::{Engine, Outbound, Step};

/// How to replay.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Wait between messages as long as the recording did.
    pub realtime: bool,
    /// Keep the clock running this long after the last line (ms), so timers can fire.
    pub run_on_ms: u64,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines fed to the engine.
    pub inputs: usize,
    /// Lines skipped because a store already held them.
    pub resumed_after: usize,
    /// Lines that could not be used.
    pub bad_lines: usize,
    /// Messages written.
    pub outputs: usize,
}

/// Where replayed inputs go: a bare engine, or an engine with its store.
pub trait Target {
    /// Handles recording line `line`.
    fn handle(&mut self, line: usize, at_ms: u64, topic: &str, payload: &[u8]) -> io::Result<Step>;
    /// Runs timers up to `at_ms` (`line` is the line that moved the clock, 0 after the end).
    fn advance(&mut self, line: usize, at_ms: u64) -> io::Result<Step>;
    /// The engine.
    fn engine(&self) -> &Engine;
    /// Lines already handled by an earlier run.
    fn resume_after(&self) -> usize {
        0
    }
}

impl Target for Engine {
    fn handle(&mut self, _: usize, at_ms: u64, topic: &str, payload: &[u8]) -> io::Result<Step> {
        Ok(Engine::handle(self, at_ms, topic, payload))
    }

    fn advance(&mut self, _: usize, at_ms: u64) -> io::Result<Step> {
        Ok(Engine::advance(self, at_ms))
    }

    fn engine(&self) -> &Engine {
        self
    }
}

/// Meta key holding the last committed recording line.
const CURSOR: &str = "replay_cursor";

/// A replay into a store, with the outbox drained to a file after every commit.
pub struct Durable {
    node: Node,
    outbox_log: Option<File>,
    resume_after: usize,
}

impl Durable {
    /// Wraps a node; `outbox_log` receives every outbox message (appended, synced) before it
    /// leaves the outbox.
    pub fn new(mut node: Node, outbox_log: Option<&Path>) -> io::Result<Durable> {
        let resume_after = node
            .store()
            .meta(CURSOR)
            .map_err(io::Error::other)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let outbox_log = outbox_log
            .map(|p| OpenOptions::new().create(true).append(true).open(p))
            .transpose()?;
        let mut durable = Durable {
            node,
            outbox_log,
            resume_after,
        };
        // Messages committed before a crash go out first.
        durable.drain()?;
        Ok(durable)
    }

    fn drain(&mut self) -> io::Result<()> {
        let Some(log) = self.outbox_log.as_mut() else {
            return Ok(());
        };
        loop {
            let pending = self
                .node
                .store()
                .pending(0, 256)
                .map_err(io::Error::other)?;
            if pending.is_empty() {
                return Ok(());
            }
            for p in &pending {
                // One write per line: a kill leaves a line whole or absent, never torn.
                let mut line = Vec::new();
                write_message(&mut line, &p.message)?;
                log.write_all(&line)?;
            }
            log.sync_data()?;
            let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
            self.node
                .store()
                .acknowledge(&ids)
                .map_err(io::Error::other)?;
        }
    }

    fn committed(&mut self, step: Step) -> io::Result<Step> {
        self.drain()?;
        Ok(step)
    }
}

impl Target for Durable {
    fn handle(&mut self, line: usize, at_ms: u64, topic: &str, payload: &[u8]) -> io::Result<Step> {
        let cursor = line.to_string();
        let step = self
            .node
            .handle(at_ms, topic, payload, &[(CURSOR, &cursor)])
            .map_err(io::Error::other)?;
        self.committed(step)
    }

    fn advance(&mut self, line: usize, at_ms: u64) -> io::Result<Step> {
        let cursor = line.to_string();
        let meta: &[(&str, &str)] = if line > 0 { &[(CURSOR, &cursor)] } else { &[] };
        let step = self.node.advance(at_ms, meta).map_err(io::Error::other)?;
        self.committed(step)
    }

    fn engine(&self) -> &Engine {
        self.node.engine()
    }

    fn resume_after(&self) -> usize {
        self.resume_after
    }
}

#[derive(Serialize)]
struct OutputLine<'a> {
    t_ms: u64,
    topic: &'a str,
    payload: &'a RawValue,
}

/// Writes one published message as a replay output line.
pub fn write_message(out: &mut dyn Write, m: &Outbound) -> io::Result<()> {
    let text = String::from_utf8_lossy(&m.payload);
    let raw: Box<RawValue> = match serde_json::from_str::<Box<RawValue>>(&text) {
        Ok(raw) => raw,
        Err(_) => {
            let quoted = serde_json::to_string(&text).expect("strings serialise");
            RawValue::from_string(quoted).expect("a JSON string is valid JSON")
        }
    };
    let line = OutputLine {
        t_ms: m.at_ms,
        topic: &m.topic,
        payload: &raw,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

fn write_step(out: &mut dyn Write, step: &Step, summary: &mut Summary) -> io::Result<()> {
    for m in &step.messages {
        write_message(out, m)?;
        summary.outputs += 1;
    }
    Ok(())
}

/// Replays the recording in `dir` into `target`, writing outputs to `out` and reporting
/// each bad line to `bad_line` (the replay goes on).
pub fn replay(
    target: &mut dyn Target,
    dir: &Path,
    options: &Options,
    out: &mut dyn Write,
    bad_line: &mut dyn FnMut(&LineError),
) -> io::Result<Summary> {
    let mut summary = Summary {
        resumed_after: target.resume_after(),
        ..Summary::default()
    };
    let mut clock: Option<(Instant, u64)> = None;
    let mut last_t = None;
    for input in Reader::open(dir)? {
        let input = match input {
            Ok(i) if i.line <= summary.resumed_after => {
                // Handled by an earlier run; its time still counts for `run_on_ms`.
                last_t = Some(i.t_ms);
                continue;
            }
            Ok(i) => i,
            Err(e) if e.line <= summary.resumed_after => continue,
            Err(e) => {
                summary.bad_lines += 1;
                bad_line(&e);
                continue;
            }
        };
        if options.realtime {
            let (start, t0) = *clock.get_or_insert((Instant::now(), input.t_ms));
            // Timers between two lines fire at their own time.
            while let Some(due) = target.engine().next_deadline().filter(|d| *d < input.t_ms) {
                sleep_until(start, t0, due);
                write_step(out, &target.advance(input.line, due)?, &mut summary)?;
                out.flush()?;
            }
            sleep_until(start, t0, input.t_ms);
        }
        let step = match &input.message {
            Some((topic, payload)) => target.handle(input.line, input.t_ms, topic, payload)?,
            None => target.advance(input.line, input.t_ms)?,
        };
        summary.inputs += 1;
        last_t = Some(target.engine().now_ms().unwrap_or(input.t_ms));
        write_step(out, &step, &mut summary)?;
        if options.realtime {
            out.flush()?;
        }
    }
    if let Some(last) = last_t
        && options.run_on_ms > 0
    {
        let end = last + options.run_on_ms;
        if let Some((start, t0)) = clock.filter(|_| options.realtime) {
            while let Some(due) = target.engine().next_deadline().filter(|d| *d <= end) {
                sleep_until(start, t0, due);
                write_step(out, &target.advance(0, due)?, &mut summary)?;
                out.flush()?;
            }
        }
        write_step(out, &target.advance(0, end)?, &mut summary)?;
    }
    out.flush()?;
    Ok(summary)
}

fn sleep_until(start: Instant, t0: u64, t_ms: u64) {
    let target = start + Duration::from_millis(t_ms.saturating_sub(t0));
    let now = Instant::now();
    if target > now {
        std::thread::sleep(target - now);
    }
}
