//! Helpers shared by the integration tests.

use std::sync::Arc;

use shedwatch::config::Config;
use shedwatch::decode::{PixelFormat, encode_tfrm};
use shedwatch::engine::{Engine, Step};

/// The test camera: `cam`, 16×12, two bays split down the middle (TOML, last in a file).
pub const CAMERA: &str = r#"
[[cameras]]
id = "cam"
width = 16
height = 12
[[cameras.zones]]
id = "bay-1"
polygon = [[0, 0], [8, 0], [8, 12], [0, 12]]
[[cameras.zones]]
id = "bay-2"
polygon = [[8, 0], [16, 0], [16, 12], [8, 12]]
"#;

/// A config, gateway `gw`, with `extra` TOML and the test [`CAMERA`].
pub fn config(extra: &str) -> Arc<Config> {
    let text = format!("gateway = \"gw\"\n{extra}\n{CAMERA}");
    Arc::new(Config::parse(&text, Some(Default::default())).expect("test config is valid"))
}

/// A 16×12 TFRM frame near 25 °C whose pattern changes with `n` (never uniform, never
/// frozen), with a 2×2 patch at `hot_c` °C in bay-1 when given.
pub fn frame(n: u64, hot_c: Option<f32>) -> Vec<u8> {
    bays_frame(n, hot_c, None)
}

/// Like [`frame`], with a patch in each bay: bay-1 at `bay_1_c`, bay-2 at `bay_2_c` °C.
pub fn bays_frame(n: u64, bay_1_c: Option<f32>, bay_2_c: Option<f32>) -> Vec<u8> {
    let mut px = vec![0f32; 16 * 12];
    for (i, p) in px.iter_mut().enumerate() {
        *p = 25.0 + ((i as u64 * 7 + n * 13) % 10) as f32 * 0.05;
    }
    for (c, x0) in [(bay_1_c, 2), (bay_2_c, 11)] {
        if let Some(c) = c {
            for (x, y) in [(x0, 4), (x0 + 1, 4), (x0, 5), (x0 + 1, 5)] {
                px[y * 16 + x] = c;
            }
        }
    }
    encode_tfrm(16, 12, 0, PixelFormat::F32(&px))
}

/// Feeds one frame per second from `from_s` to `to_s` (exclusive) at `hot_c`.
pub fn frames(engine: &mut Engine, from_s: u64, to_s: u64, hot_c: Option<f32>) -> Vec<Step> {
    (from_s..to_s)
        .map(|s| engine.handle(s * 1000, "thermal/cam/frame", &frame(s, hot_c)))
        .collect()
}

/// A command payload.
pub fn command(request_id: &str, incident: &str, action: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"request_id":"{request_id}","incident":"{incident}","action":"{action}","actor":"tester"{extra}}}"#
    )
    .into_bytes()
}

/// The replies on `cmd/result` in a step, as JSON values.
pub fn replies(step: &Step) -> Vec<serde_json::Value> {
    step.messages
        .iter()
        .filter(|m| m.topic.ends_with("/cmd/result"))
        .map(|m| serde_json::from_slice(&m.payload).expect("replies are JSON"))
        .collect()
}

/// The events in a step, as JSON values.
pub fn events(step: &Step) -> Vec<serde_json::Value> {
    step.messages
        .iter()
        .filter(|m| m.topic.ends_with("/events"))
        .map(|m| serde_json::from_slice(&m.payload).expect("events are JSON"))
        .collect()
}
