//! A restarted engine resumes from its store: open incidents, sequence numbers and
//! deadlines; deadlines that passed while it was down fire at once.

use shedwatch::drive::node::Node;

use crate::support::{config, events, frame};

#[test]
fn restart_resumes_incidents_and_fires_missed_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut node = Node::open(config(""), &path, Some(0)).unwrap();
    let mut raised = Vec::new();
    for s in 0..5u64 {
        let step = node
            .handle(s * 1000, "thermal/cam/frame", &frame(s, Some(95.0)), &[])
            .unwrap();
        raised.extend(events(&step));
    }
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0]["incident"], "cam.bay-1.2000");
    drop(node); // the power goes

    // Back five minutes later: the dispatch deadline (62 s) and four repeats have passed.
    let mut node = Node::open(config(""), &path, Some(300_000)).unwrap();
    let step = node
        .handle(300_000, "thermal/cam/frame", &frame(300, Some(95.0)), &[])
        .unwrap();
    let got: Vec<(String, u64, u64)> = events(&step)
        .iter()
        .filter(|e| e["incident"] == "cam.bay-1.2000")
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["seq"].as_u64().unwrap(),
                e["at_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("escalated".to_owned(), 2, 62_000),
            ("renotified".to_owned(), 3, 122_000),
            ("renotified".to_owned(), 4, 182_000),
            ("renotified".to_owned(), 5, 242_000),
        ]
    );
}
