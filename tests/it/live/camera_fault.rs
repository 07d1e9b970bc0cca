//! A camera that goes quiet is a fault within `offline_after_s` plus one frame period; when
//! it sends again the fault clears.

use std::time::{Duration, Instant};

use super::*;
use crate::support::frame;

#[test]
fn silent_camera_is_a_fault_and_recovery_clears_it() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start();
    let config = daemon_config(&broker.url(), dir.path(), "")
        .replace("offline_after_s = 100", "offline_after_s = 2");
    let mut daemon = Daemon::start(dir.path(), &config);
    let watcher = Watcher::start(&rt, broker.port, "watcher-fault", &["shedwatch/gw/#"]);
    watcher.wait_for("online", Duration::from_secs(10), |s| {
        s.iter()
            .any(|m| m.topic == "shedwatch/gw/status" && m.payload == b"online")
    });
    let period = Duration::from_millis(500);
    for n in 0..6 {
        watcher.publish("thermal/cam/frame", frame(n, None));
        std::thread::sleep(period);
    }
    let last_frame = Instant::now() - period;
    watcher.wait_for("a fault", Duration::from_secs(10), |s| {
        s.iter()
            .any(|m| m.topic.ends_with("/events") && m.json()["severity"] == "fault")
    });
    let fault = watcher
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.topic.ends_with("/events") && m.json()["severity"] == "fault")
        .cloned()
        .unwrap();
    let after = fault.at - last_frame;
    assert!(
        after <= Duration::from_secs(2) + period + Duration::from_millis(300),
        "fault {after:?} after the last frame"
    );
    assert_eq!(fault.json()["fault"], "offline");
    watcher.wait_for("camera offline status", Duration::from_secs(2), |s| {
        s.iter()
            .any(|m| m.topic == "shedwatch/gw/cameras/cam/status" && m.payload == b"offline")
    });

    watcher.publish("thermal/cam/frame", frame(100, None));
    watcher.wait_for("the fault cleared", Duration::from_secs(5), |s| {
        s.iter().any(|m| {
            m.topic.ends_with("/events")
                && m.json()["event"] == "cleared"
                && m.json()["resolution"] == "recovered"
        })
    });
    watcher.wait_for("camera online again", Duration::from_secs(2), |s| {
        s.iter()
            .filter(|m| m.topic == "shedwatch/gw/cameras/cam/status" && m.payload == b"online")
            .count()
            >= 2
    });
    daemon.terminate();
}
