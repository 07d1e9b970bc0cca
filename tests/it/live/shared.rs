//! Two gateways share the frame subscription (`$share/{group}/…`): each frame is handled by
//! exactly one of them.

use std::time::Duration;

use super::*;
use crate::support::frame;

/// Frames `gateway` handled, from its latest health report.
fn handled(seen: &[Seen], gateway: &str) -> Option<u64> {
    let topic = format!("shedwatch/{gateway}/health");
    seen.iter()
        .rev()
        .find(|m| m.topic == topic)
        .and_then(|m| m.json()["frames_handled"].as_u64())
}

#[test]
fn shared_subscription_splits_frames_between_instances() {
    let rt = runtime();
    let broker = TestBroker::start();
    let mut daemons = Vec::new();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, dir) in dirs.iter().enumerate() {
        let config = daemon_config(&broker.url(), dir.path(), "")
            .replace("gateway = \"gw\"", &format!("gateway = \"gw-{i}\""))
            .replace(
                "reconnect_max_s = 4",
                "reconnect_max_s = 4\nshare_group = \"sheds\"\nhealth_interval_s = 1",
            );
        daemons.push(Daemon::start(dir.path(), &config));
    }
    let watcher = Watcher::start(
        &rt,
        broker.port,
        "watcher-shared",
        &["shedwatch/+/status", "shedwatch/+/health"],
    );
    watcher.wait_for("both online", Duration::from_secs(10), |s| {
        ["gw-0", "gw-1"].iter().all(|g| {
            s.iter()
                .any(|m| m.topic == format!("shedwatch/{g}/status") && m.payload == b"online")
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    let sent = 40u64;
    for n in 0..sent {
        watcher.publish("thermal/cam/frame", frame(n, None));
        std::thread::sleep(Duration::from_millis(20));
    }
    watcher.wait_for("every frame handled once", Duration::from_secs(10), |s| {
        handled(s, "gw-0").unwrap_or(0) + handled(s, "gw-1").unwrap_or(0) == sent
    });
    let seen = watcher.seen.lock().unwrap().clone();
    let (a, b) = (
        handled(&seen, "gw-0").unwrap(),
        handled(&seen, "gw-1").unwrap(),
    );
    note(&format!("gw-0 handled {a}, gw-1 handled {b}"));
    assert!(a > 0 && b > 0, "one instance got every frame: {a} / {b}");
    for d in &mut daemons {
        d.terminate();
    }
}
