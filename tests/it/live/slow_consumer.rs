//! Frames arriving faster than the engine handles them: the oldest frames of the camera are
//! dropped (and counted), and a fire is still raised promptly.

use std::time::{Duration, Instant};

use shedwatch::decode::{PixelFormat, encode_tfrm};

use super::*;

#[test]
fn frames_faster_than_processing_drop_the_oldest_and_alarms_stay_on_time() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start();
    let config = daemon_config(&broker.url(), dir.path(), "")
        .replace(
            "reconnect_max_s = 4",
            "reconnect_max_s = 4\nhealth_interval_s = 1",
        )
        .replace("width = 16\nheight = 12", "width = 640\nheight = 512")
        .replace(
            "[[0, 0], [8, 0], [8, 12], [0, 12]]",
            "[[0, 0], [320, 0], [320, 512], [0, 512]]",
        )
        .replace(
            "[[8, 0], [16, 0], [16, 12], [8, 12]]",
            "[[320, 0], [640, 0], [640, 512], [320, 512]]",
        );
    let mut daemon = Daemon::start(dir.path(), &config);
    let watcher = Watcher::start(&rt, broker.port, "watcher-slow", &["shedwatch/gw/#"]);
    watcher.wait_for("online", Duration::from_secs(10), |s| {
        s.iter()
            .any(|m| m.topic == "shedwatch/gw/status" && m.payload == b"online")
    });
    // 640×512 f32 frames (1.3 MB each) as fast as the broker takes them.
    let mut px = vec![25.0f32; 640 * 512];
    let len = px.len();
    for n in 0..300usize {
        px[(n * 7919) % len] += 0.01 * (n % 7) as f32;
        watcher.publish(
            "thermal/cam/frame",
            encode_tfrm(640, 512, 0, PixelFormat::F32(&px)),
        );
    }
    for (i, p) in px.iter_mut().enumerate().take(640 * 20) {
        *p = if i % 640 < 40 { 500.0 } else { 25.0 };
    }
    let sent = Instant::now();
    watcher.publish(
        "thermal/cam/frame",
        encode_tfrm(640, 512, 0, PixelFormat::F32(&px)),
    );
    watcher.wait_for("the fire alarm", Duration::from_secs(30), |s| {
        s.iter()
            .any(|m| m.topic.ends_with("/events") && m.json()["severity"] == "fire")
    });
    let raised = watcher
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.topic.ends_with("/events") && m.json()["severity"] == "fire")
        .map(|m| m.at)
        .unwrap();
    let delay = raised.saturating_duration_since(sent);
    note(&format!("fire raised {delay:?} after its frame"));
    assert!(
        delay < Duration::from_secs(5),
        "fire raised {delay:?} after its frame"
    );
    // The drop counter shows in the log.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !daemon.log_text().contains("frames dropped") {
        assert!(
            Instant::now() < deadline,
            "no drop was logged:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.terminate();
}
