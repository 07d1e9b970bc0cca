//! Running as a service: SIGHUP re-reads the config (a bad one is refused and the running one
//! kept), and `shedwatch incidents` reads the store while the daemon runs.

use std::process::Command;
use std::time::{Duration, Instant};

use super::*;
use crate::support::frame;

fn wait_log(daemon: &Daemon, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log_text().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in the log:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_reloads_a_good_config_and_keeps_running_on_a_bad_one() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start();
    let config = daemon_config(&broker.url(), dir.path(), "");
    let mut daemon = Daemon::start(dir.path(), &config);
    let watcher = Watcher::start(&rt, broker.port, "watcher-hup", &["shedwatch/gw/#"]);
    watcher.wait_for("online", Duration::from_secs(10), |s| {
        s.iter()
            .any(|m| m.topic == "shedwatch/gw/status" && m.payload == b"online")
    });

    // A good change: bay-1 alarms at 60 °C instead of 80 °C.
    let lower = config.replace(
        "id = \"bay-1\"",
        "id = \"bay-1\"\nrules = { warning_c = 40, alarm_c = 60 }",
    );
    std::fs::write(&daemon.config, &lower).unwrap();
    super::unsafe_kill(daemon.pid(), "HUP");
    wait_log(&daemon, "config reloaded");
    for n in 0..4 {
        watcher.publish("thermal/cam/frame", frame(n, Some(70.0)));
        std::thread::sleep(Duration::from_millis(1000));
    }
    watcher.wait_for(
        "an alarm at 70 °C under the new rules",
        Duration::from_secs(10),
        |s| {
            s.iter()
                .any(|m| m.topic.ends_with("/events") && m.json()["severity"] == "alarm")
        },
    );

    // A bad change is refused; the daemon keeps running on the config it has.
    std::fs::write(&daemon.config, "gateway = \"gw\"\n[rules]\nalarm_c = 1e9\n").unwrap();
    super::unsafe_kill(daemon.pid(), "HUP");
    wait_log(&daemon, "config reload refused");
    assert!(daemon.running());

    // The store can be read while the daemon runs.
    let out = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .args(["incidents", "list", "--json", "--store"])
        .arg(dir.path().join("store.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    let incident: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(
        (incident["zone"].as_str(), incident["severity"].as_str()),
        (Some("bay-1"), Some("alarm"))
    );
    let id = incident["incident"].as_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .args(["incidents", "history", id, "--store"])
        .arg(dir.path().join("store.db"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("raised"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    daemon.terminate();
}
