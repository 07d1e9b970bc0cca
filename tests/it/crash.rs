//! Crash safety: `shedwatch replay --store` is killed with SIGKILL at random points while
//! frames and commands flow, then restarted until it finishes. Afterwards the store is
//! consistent, every event in the audit trail reached the (stand-in) broker with the same
//! content, no `(incident, seq)` was published twice with different content, and the
//! escalation timers fired exactly as in an uninterrupted run.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shedwatch::incident::store::Store;

use crate::support::{CAMERA, bays_frame};

/// Ten minutes at one frame per second: bay-1 reaches alarm and nobody answers (it
/// escalates and re-notifies); bay-2 catches fire and goes through the whole chain, with a
/// refused close while hot, a repeated request and a malformed command on the way.
fn write_recording(dir: &Path) {
    fs::create_dir_all(dir.join("frames")).unwrap();
    fs::write(
        dir.join("config.toml"),
        format!("gateway = \"gw\"\n{CAMERA}"),
    )
    .unwrap();
    let mut lines = Vec::new();
    let fire_id = "cam.bay-2.200000";
    let commands: BTreeMap<u64, (&str, String)> = [
        (235, ("platform", format!(r#"{{"request_id":"c1","incident":"{fire_id}","action":"dispatch","actor":"ops","assignee":"wang"}}"#))),
        (236, ("platform", format!(r#"{{"request_id":"c1","incident":"{fire_id}","action":"dispatch","actor":"ops","assignee":"wang"}}"#))),
        (300, ("property", format!(r#"{{"request_id":"c2","incident":"{fire_id}","action":"arrive","actor":"wang"}}"#))),
        (320, ("property", format!(r#"{{"request_id":"c3","incident":"{fire_id}","action":"report","actor":"wang","note":"extinguisher used"}}"#))),
        (350, ("community", format!(r#"{{"request_id":"c4","incident":"{fire_id}","action":"close","actor":"li","resolution":"handled"}}"#))),
        (360, ("community", "{not json".to_owned())),
        (500, ("community", format!(r#"{{"request_id":"c5","incident":"{fire_id}","action":"close","actor":"li","resolution":"fire_brigade"}}"#))),
    ]
    .into_iter()
    .collect();
    for s in 0..600u64 {
        let bay_1 = (20..100).contains(&s).then_some(95.0);
        let bay_2 = (200..400).contains(&s).then_some(450.0);
        let name = format!("frames/{s:04}.tfrm");
        fs::write(dir.join(&name), bays_frame(s, bay_1, bay_2)).unwrap();
        lines.push(format!(
            r#"{{"t_ms":{},"topic":"thermal/cam/frame","payload_file":"{name}"}}"#,
            s * 1000
        ));
        if let Some((role, payload)) = commands.get(&s) {
            lines.push(format!(
                r#"{{"t_ms":{},"topic":"shedwatch/gw/cmd/{role}","payload":{}}}"#,
                s * 1000 + 500,
                serde_json::to_string(payload).unwrap()
            ));
        }
    }
    fs::write(dir.join("recording.jsonl"), lines.join("\n") + "\n").unwrap();
}

fn replay(dir: &Path, store: Option<&Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shedwatch"));
    cmd.arg("replay").arg(dir);
    if let Some(store) = store {
        cmd.arg("--store")
            .arg(store)
            .arg("--outbox-log")
            .arg(dir.join("published.jsonl"));
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Event payloads by `(incident, seq)`, from replay output lines.
fn events(text: &str) -> Vec<((String, u64), serde_json::Value)> {
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["topic"] == "shedwatch/gw/events")
        .map(|l| {
            let p = l["payload"].clone();
            (
                (
                    p["incident"].as_str().unwrap().to_owned(),
                    p["seq"].as_u64().unwrap(),
                ),
                p,
            )
        })
        .collect()
}

/// A small xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn sigkill_at_random_points_loses_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    write_recording(&rec);

    // The reference: one uninterrupted run without a store.
    let reference = replay(&rec, None).stdout(Stdio::piped()).output().unwrap();
    assert!(reference.status.success());
    let reference = events(&String::from_utf8(reference.stdout).unwrap());
    assert!(reference.iter().any(|(_, e)| e["event"] == "renotified"));
    assert!(reference.iter().any(|(_, e)| e["event"] == "closed"));

    // How long a full durable run takes, to spread the kills over it.
    let started = Instant::now();
    let probe_store = tmp.path().join("probe.db");
    assert!(replay(&rec, Some(&probe_store)).status().unwrap().success());
    let full_us = started.elapsed().as_micros() as u64;
    fs::remove_file(rec.join("published.jsonl")).unwrap();

    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| started.elapsed().as_nanos() as u64 | 1);
    eprintln!("crash test seed {seed} (set CRASH_SEED to repeat), full run {full_us} µs");
    let mut rng = Rng(seed);

    let mut kills = 0;
    let mut mid_run_kills = 0;
    let mut trials = 0;
    while kills < 50 {
        trials += 1;
        let trial = tmp.path().join(format!("trial-{trials}"));
        fs::create_dir_all(&trial).unwrap();
        let store = trial.join("store.db");
        let _ = fs::remove_file(rec.join("published.jsonl"));
        let mut restarts = 0;
        loop {
            let mut child = replay(&rec, Some(&store)).spawn().unwrap();
            std::thread::sleep(Duration::from_micros(rng.below(full_us)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                // Killed after committing something: the store holds a replay cursor.
                if store.exists()
                    && Store::open_read_only(&store)
                        .and_then(|s| s.meta("replay_cursor"))
                        .is_ok_and(|c| c.is_some())
                {
                    mid_run_kills += 1;
                }
                restarts += 1;
                continue;
            }
            let status = child.wait().unwrap();
            assert!(
                status.success(),
                "replay after {restarts} kills failed: {status}"
            );
            break;
        }
        check_trial(&rec, &store, &reference);
        fs::rename(rec.join("published.jsonl"), trial.join("published.jsonl")).unwrap();
    }
    eprintln!("{kills} kills ({mid_run_kills} after a commit) over {trials} trials");
    assert!(
        mid_run_kills >= 25,
        "only {mid_run_kills} kills landed mid-run"
    );
}

fn check_trial(rec: &Path, store_path: &Path, reference: &[((String, u64), serde_json::Value)]) {
    let store = Store::open(store_path, 10_000, 10_000).unwrap();
    store.integrity_check().unwrap();
    assert_eq!(store.pending_count().unwrap(), 0, "outbox drained");

    // Published at least once each, never twice with different content.
    let published = fs::read_to_string(rec.join("published.jsonl")).unwrap();
    let mut by_key: BTreeMap<(String, u64), serde_json::Value> = BTreeMap::new();
    for (key, payload) in events(&published) {
        if let Some(previous) = by_key.get(&key) {
            assert_eq!(
                previous, &payload,
                "{key:?} published twice with different content"
            );
        }
        by_key.insert(key, payload);
    }

    // Every event in the audit trail went out, as committed.
    let mut audited = 0;
    for incident in store.list(true, 1000).unwrap() {
        for entry in store.history(&incident.incident).unwrap() {
            let Some(seq) = entry.seq else { continue };
            audited += 1;
            let key = (incident.incident.clone(), seq);
            assert_eq!(
                by_key.get(&key),
                Some(&entry.detail),
                "{key:?} lost or changed"
            );
        }
        // Sequence numbers have no gaps.
        let seqs: Vec<u64> = by_key
            .keys()
            .filter(|(i, _)| *i == incident.incident)
            .map(|k| k.1)
            .collect();
        assert_eq!(
            seqs,
            (1..=incident.seq).collect::<Vec<_>>(),
            "{}",
            incident.incident
        );
    }
    assert_eq!(audited, by_key.len());

    // Same events as the uninterrupted run: escalation resumed at the same deadlines.
    let reference: BTreeMap<_, _> = reference.iter().cloned().collect();
    assert_eq!(
        by_key, reference,
        "events differ from the uninterrupted run"
    );
}
