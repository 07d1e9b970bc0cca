//! The daemon is killed with SIGKILL mid-incident: the broker publishes its `offline` last
//! will; restarted, it says `online`, resumes the incident where it was, loses nothing and
//! never sends a sequence number twice with different content. SIGTERM exits cleanly within
//! 10 s with `stopped`.

use std::time::Duration;

use super::*;
use crate::support::frame;

fn status_seen(s: &[Seen], word: &[u8]) -> usize {
    s.iter()
        .filter(|m| m.topic == "shedwatch/gw/status" && m.payload == word)
        .count()
}

#[test]
fn sigkill_mid_incident_then_restart_resumes_it() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start();
    let config = daemon_config(
        &broker.url(),
        dir.path(),
        "[escalation.alarm]\ndispatch_s = 2\non_site_s = 60\nrepeat_s = 1\nrepeat_max = 500\n[escalation.fire]\ndispatch_s = 2\non_site_s = 60\nrepeat_s = 1\nrepeat_max = 500\n",
    );
    let mut daemon = Daemon::start(dir.path(), &config);
    let watcher = Watcher::start(&rt, broker.port, "watcher-restart", &["shedwatch/gw/#"]);
    watcher.wait_for("online", Duration::from_secs(10), |s| {
        status_seen(s, b"online") >= 1
    });
    for n in 0..4 {
        watcher.publish("thermal/cam/frame", frame(n, Some(95.0)));
        std::thread::sleep(Duration::from_millis(1000));
    }
    watcher.wait_for("escalation", Duration::from_secs(20), |s| {
        s.iter()
            .any(|m| m.topic.ends_with("/events") && m.json()["event"] == "renotified")
    });
    note("SIGKILL");
    daemon.kill();
    watcher.wait_for("the offline last will", Duration::from_secs(15), |s| {
        status_seen(s, b"offline") >= 1
    });
    let seq_before = check_events(&watcher.events())
        .values()
        .next()
        .and_then(|v| v.iter().max().copied())
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    daemon.restart();
    watcher.wait_for("online again", Duration::from_secs(10), |s| {
        status_seen(s, b"online") >= 2
    });
    // Escalation resumes: re-notifications continue after the restart, including the ones
    // that fell due while the daemon was down.
    watcher.wait_for(
        "re-notifications after the restart",
        Duration::from_secs(20),
        |s| {
            s.iter()
                .filter(|m| m.topic.ends_with("/events"))
                .any(|m| m.json()["seq"].as_u64() > Some(seq_before + 3))
        },
    );
    let order = check_events(&watcher.events());
    assert_eq!(
        order.len(),
        1,
        "one incident, resumed, not a new one: {order:?}"
    );
    let seqs = order.values().next().unwrap();
    let max = *seqs.iter().max().unwrap();
    assert_eq!(
        seqs,
        &(1..=max).collect::<Vec<_>>(),
        "lost or reordered: {seqs:?}"
    );

    let took = daemon.terminate();
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    watcher.wait_for("stopped", Duration::from_secs(5), |s| {
        status_seen(s, b"stopped") >= 1
    });
}
