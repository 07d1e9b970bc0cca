//! Recordings: a directory holding `recording.jsonl` and the payload files it names.
//!
//! Each line is one input message, in time order:
//!
//! ```json
//! {"t_ms": 0, "topic": "thermal/cam-01/frame", "payload_file": "frames/cam-01/000000.png"}
//! {"t_ms": 61000, "topic": "shedwatch/gw-test/cmd/platform", "payload": {"action": "dispatch", …}}
//! {"t_ms": 1800000}
//! ```
//!
//! `payload_file` is relative to the recording directory; `payload` is an inline JSON value
//! (sent as its compact JSON text, or a string's own bytes). A line with only `t_ms` lets
//! the clock run to that time. `t_ms` may be epoch ms or relative to the start.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Name of the line file inside a recording directory.
pub const LINES_FILE: &str = "recording.jsonl";
/// Largest payload file read (bytes).
pub const MAX_PAYLOAD_FILE_BYTES: u64 = 64 << 20;

/// One input of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// 1-based line number in `recording.jsonl`.
    pub line: usize,
    /// When (ms).
    pub t_ms: u64,
    /// Topic and payload; `None` for a clock-only line.
    pub message: Option<(String, Vec<u8>)>,
}

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct LineError {
    /// The line file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    t_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_file: Option<String>,
    // Raw, so an inline payload is replayed byte for byte as it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<Box<RawValue>>,
}

/// Reads a recording line by line.
pub struct Reader {
    dir: PathBuf,
    file: String,
    lines: std::io::Lines<BufReader<fs::File>>,
    line: usize,
}

impl Reader {
    /// Opens `dir/recording.jsonl`.
    pub fn open(dir: &Path) -> std::io::Result<Reader> {
        let path = dir.join(LINES_FILE);
        let file = fs::File::open(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Reader {
            dir: dir.to_owned(),
            file: path.display().to_string(),
            lines: BufReader::new(file).lines(),
            line: 0,
        })
    }

    fn error(&self, message: impl Into<String>) -> LineError {
        LineError {
            file: self.file.clone(),
            line: self.line,
            message: message.into(),
        }
    }

    fn parse(&self, text: &str) -> Result<Input, LineError> {
        let line: Line =
            serde_json::from_str(text).map_err(|e| self.error(format!("malformed line: {e}")))?;
        let payload = match (&line.payload_file, line.payload) {
            (Some(_), Some(_)) => {
                return Err(self.error("has both payload_file and payload"));
            }
            (Some(name), None) => Some(self.read_payload(name)?),
            // A JSON string stands for its own text (e.g. a payload that is not JSON).
            (None, Some(raw)) if raw.get().starts_with('"') => Some(
                serde_json::from_str::<String>(raw.get())
                    .map_err(|e| self.error(format!("malformed payload: {e}")))?
                    .into_bytes(),
            ),
            (None, Some(raw)) => Some(raw.get().as_bytes().to_vec()),
            (None, None) => None,
        };
        let message = match (line.topic, payload) {
            (Some(topic), Some(payload)) => Some((topic, payload)),
            (Some(_), None) => return Err(self.error("has a topic but no payload")),
            (None, Some(_)) => return Err(self.error("has a payload but no topic")),
            (None, None) => None,
        };
        Ok(Input {
            line: self.line,
            t_ms: line.t_ms,
            message,
        })
    }

    fn read_payload(&self, name: &str) -> Result<Vec<u8>, LineError> {
        let path = self.dir.join(name);
        let meta =
            fs::metadata(&path).map_err(|e| self.error(format!("payload file {name}: {e}")))?;
        if meta.len() > MAX_PAYLOAD_FILE_BYTES {
            return Err(self.error(format!(
                "payload file {name}: {} bytes is larger than {MAX_PAYLOAD_FILE_BYTES} bytes",
                meta.len()
            )));
        }
        fs::read(&path).map_err(|e| self.error(format!("payload file {name}: {e}")))
    }
}

impl Iterator for Reader {
    type Item = Result<Input, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let text = self.lines.next()?;
            self.line += 1;
            let text = match text {
                Ok(t) => t,
                Err(e) => return Some(Err(self.error(format!("unreadable line: {e}")))),
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(self.parse(&text));
        }
    }
}

/// Writes a recording: payloads into files under `frames/{camera}/`, small JSON payloads
/// inline.
pub struct Writer {
    dir: PathBuf,
    lines: std::io::BufWriter<fs::File>,
    count: u64,
}

impl Writer {
    /// Creates `dir` (which must not hold a recording yet).
    pub fn create(dir: &Path) -> std::io::Result<Writer> {
        fs::create_dir_all(dir)?;
        let path = dir.join(LINES_FILE);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Writer {
            dir: dir.to_owned(),
            lines: std::io::BufWriter::new(file),
            count: 0,
        })
    }

    /// Appends one message. `file_stem` names the payload's folder (the camera id) when it
    /// goes to a file; JSON objects up to 4 KiB stay inline.
    pub fn push(
        &mut self,
        t_ms: u64,
        topic: &str,
        payload: &[u8],
        file_stem: Option<&str>,
    ) -> std::io::Result<()> {
        let inline = payload.len() <= 4096
            && payload.first() == Some(&b'{')
            && serde_json::from_slice::<serde_json::Value>(payload).is_ok();
        let mut line = Line {
            t_ms,
            topic: Some(topic.to_owned()),
            payload_file: None,
            payload: None,
        };
        if inline {
            let text = String::from_utf8_lossy(payload).into_owned();
            line.payload = RawValue::from_string(text).ok();
        } else {
            let folder = file_stem.unwrap_or("other");
            let ext = match crate::decode::sniff(payload) {
                Ok(crate::decode::Encoding::Png) => "png",
                Ok(crate::decode::Encoding::Tfrm) => "tfrm",
                Ok(crate::decode::Encoding::Json) => "json",
                Err(_) => "bin",
            };
            let name = format!("frames/{folder}/{:06}.{ext}", self.count);
            let path = self.dir.join(&name);
            fs::create_dir_all(path.parent().expect("has a parent"))?;
            fs::write(&path, payload)?;
            line.payload_file = Some(name);
        }
        self.count += 1;
        serde_json::to_writer(&mut self.lines, &line)?;
        self.lines.write_all(b"\n")
    }

    /// Flushes the line file to disk.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.lines.flush()?;
        self.lines.get_ref().sync_all()?;
        Ok(self.count)
    }
}
