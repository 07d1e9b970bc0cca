//! `shedwatch record` captures live frames and commands into a recording that `replay` turns
//! back into the same incident.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;
use crate::support::frame;

#[test]
fn recorded_traffic_replays_into_the_same_incident() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start();
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, daemon_config(&broker.url(), dir.path(), "")).unwrap();
    let out = dir.path().join("rec");
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .args(["record", "--duration", "6s", "--config"])
        .arg(&config_path)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let watcher = Watcher::start(&rt, broker.port, "watcher-record", &["thermal/#"]);
    // The recorder subscribes once connected; give it a moment.
    std::thread::sleep(Duration::from_millis(800));
    for n in 0..4 {
        watcher.publish("thermal/cam/frame", frame(n, Some(95.0)));
        std::thread::sleep(Duration::from_millis(1000));
    }
    watcher.publish(
        "shedwatch/gw/cmd/platform",
        br#"{"request_id":"r1","incident":"x","action":"dispatch","actor":"li"}"#.to_vec(),
    );
    let status = recorder.wait().unwrap();
    assert!(status.success());
    let lines = std::fs::read_to_string(out.join("recording.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 5, "{lines}");
    let replay = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .arg("replay")
        .arg("--config")
        .arg(&config_path)
        .arg(&out)
        .output()
        .unwrap();
    assert!(replay.status.success());
    let text = String::from_utf8(replay.stdout).unwrap();
    assert!(
        text.contains(r#""event":"raised""#) && text.contains(r#""severity":"alarm""#),
        "{text}"
    );
    assert!(
        text.contains(r#""request_id":"r1""#),
        "the command was recorded and replayed: {text}"
    );
}
