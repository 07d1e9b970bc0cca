//! `replay`: feeds a recording through the engine on a simulated clock and writes every
//! message the engine would publish, one JSON object per line:
//! `{"t_ms":…,"topic":"…","payload":…}`. The same recording always gives the same bytes.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;

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
    /// Lines that could not be used.
    pub bad_lines: usize,
    /// Messages written.
    pub outputs: usize,
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
    let quoted;
    let raw: Box<RawValue> = match serde_json::from_str::<Box<RawValue>>(&text) {
        Ok(raw) => raw,
        Err(_) => {
            quoted = serde_json::to_string(&text).expect("strings serialise");
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

/// Replays the recording in `dir` through `engine`, writing outputs to `out` and reporting
/// each bad line to `bad_line` (the replay goes on).
pub fn replay(
    engine: &mut Engine,
    dir: &Path,
    options: &Options,
    out: &mut dyn Write,
    bad_line: &mut dyn FnMut(&LineError),
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut clock: Option<(Instant, u64)> = None;
    let mut last_t = None;
    for input in Reader::open(dir)? {
        let input = match input {
            Ok(i) => i,
            Err(e) => {
                summary.bad_lines += 1;
                bad_line(&e);
                continue;
            }
        };
        if options.realtime {
            let (start, t0) = *clock.get_or_insert((Instant::now(), input.t_ms));
            // Timers between two lines fire at their own time.
            while let Some(due) = engine.next_deadline().filter(|d| *d < input.t_ms) {
                sleep_until(start, t0, due);
                write_step(out, &engine.advance(due), &mut summary)?;
                out.flush()?;
            }
            sleep_until(start, t0, input.t_ms);
        }
        let step = match &input.message {
            Some((topic, payload)) => engine.handle(input.t_ms, topic, payload),
            None => engine.advance(input.t_ms),
        };
        summary.inputs += 1;
        last_t = Some(engine.now_ms().unwrap_or(input.t_ms));
        write_step(out, &step, &mut summary)?;
        if options.realtime {
            out.flush()?;
        }
    }
    if let Some(last) = last_t
        && options.run_on_ms > 0
    {
        let end = last + options.run_on_ms;
        if options.realtime {
            let (start, t0) = clock.expect("set by the first line");
            while let Some(due) = engine.next_deadline().filter(|d| *d <= end) {
                sleep_until(start, t0, due);
                write_step(out, &engine.advance(due), &mut summary)?;
                out.flush()?;
            }
        }
        write_step(out, &engine.advance(end), &mut summary)?;
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
