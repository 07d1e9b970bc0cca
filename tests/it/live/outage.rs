//! The broker goes away for 20 s while an incident escalates; when it is back every committed
//! message arrives, in order per incident, none lost.

use std::time::Duration;

use super::*;
use crate::support::frame;

#[test]
fn broker_outage_loses_nothing_and_keeps_order() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut broker = TestBroker::start();
    // Fast escalation so the outage spans many messages; slow reconnect so the watcher is
    // back before the daemon drains.
    let config = daemon_config(
        &broker.url(),
        dir.path(),
        "[escalation.alarm]\ndispatch_s = 2\non_site_s = 60\nrepeat_s = 1\nrepeat_max = 500\n[escalation.fire]\ndispatch_s = 2\non_site_s = 60\nrepeat_s = 1\nrepeat_max = 500\n",
    )
    .replace("reconnect_min_s = 0.5", "reconnect_min_s = 2");
    let mut daemon = Daemon::start(dir.path(), &config);
    let watcher = Watcher::start(&rt, broker.port, "watcher-outage", &["shedwatch/gw/#"]);
    watcher.wait_for("online", Duration::from_secs(10), |s| {
        s.iter()
            .any(|m| m.topic == "shedwatch/gw/status" && m.payload == b"online")
    });
    for n in 0..4 {
        watcher.publish("thermal/cam/frame", frame(n, Some(95.0)));
        std::thread::sleep(Duration::from_millis(1000));
    }
    watcher.wait_for("two re-notifications", Duration::from_secs(20), |s| {
        s.iter()
            .filter(|m| m.topic.ends_with("/events") && m.json()["event"] == "renotified")
            .count()
            >= 2
    });
    note("stopping the broker for 20 s");
    broker.stop();
    std::thread::sleep(Duration::from_secs(20));
    broker.restart();
    note("broker back");
    assert!(
        daemon.running(),
        "daemon died during the outage:\n{}",
        daemon.log_text()
    );

    // Wait until the watcher saw every sequence number the store holds.
    let store = dir.path().join("store.db");
    let committed = || {
        let s = shedwatch::incident::store::Store::open_read_only(&store).unwrap();
        s.list(true, 100)
            .unwrap()
            .iter()
            .map(|i| (i.incident.clone(), i.seq))
            .collect::<Vec<_>>()
    };
    let before = committed();
    assert_eq!(before.len(), 1);
    let (id, seq_at_restart) = before[0].clone();
    assert!(
        seq_at_restart >= 20,
        "about 20 escalation events were committed during the outage, got seq {seq_at_restart}"
    );
    watcher.wait_for("every committed event", Duration::from_secs(30), |s| {
        s.iter().any(|m| {
            m.topic.ends_with("/events")
                && m.json()["incident"] == id.as_str()
                && m.json()["seq"].as_u64() >= Some(seq_at_restart)
        })
    });
    let order = check_events(&watcher.events());
    let seqs = &order[&id];
    let max = *seqs.iter().max().unwrap();
    assert_eq!(
        seqs,
        &(1..=max).collect::<Vec<_>>(),
        "gaps or reordering in {seqs:?}"
    );
    // The backlog drains (escalation goes on adding two messages a second).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let outbox = shedwatch::incident::store::Store::open_read_only(&store)
            .unwrap()
            .pending_count()
            .unwrap();
        if outbox <= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "outbox still holds {outbox} messages"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.terminate();
}
