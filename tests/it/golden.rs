//! Replay of every fixture against its checked-in output (`expected.jsonl`), plus what each
//! fixture must show. Regenerate the outputs with `UPDATE_GOLDEN=1 cargo test golden` and
//! review them as a diff.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shedwatch::config::Config;
use shedwatch::drive::replay::{self, Options};
use shedwatch::engine::Engine;

/// Every recording under `fixtures/`, including the chain scenarios.
fn recordings() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from("fixtures")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "frames") {
                if path.join("recording.jsonl").exists() {
                    out.push(path.clone());
                }
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Replays `dir` under its own config; returns the output and the engine.
fn run(dir: &Path) -> (String, Engine) {
    let text = fs::read_to_string(dir.join("config.toml")).unwrap();
    let config = Config::parse(&text, Some(Default::default())).unwrap();
    let mut engine = Engine::new(Arc::new(config));
    let mut out = Vec::new();
    let summary = replay::replay(&mut engine, dir, &Options::default(), &mut out, &mut |e| {
        panic!("{e}")
    })
    .unwrap();
    assert_eq!(summary.bad_lines, 0);
    (String::from_utf8(out).unwrap(), engine)
}

fn events(output: &str) -> Vec<serde_json::Value> {
    output
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["topic"].as_str().unwrap().ends_with("/events"))
        .map(|l| l["payload"].clone())
        .collect()
}

fn replies(output: &str) -> Vec<serde_json::Value> {
    output
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["topic"].as_str().unwrap().ends_with("/cmd/result"))
        .map(|l| l["payload"].clone())
        .collect()
}

/// `(at_ms, event, severity)` of each event.
fn timeline(output: &str) -> Vec<(u64, String, String)> {
    events(output)
        .iter()
        .map(|e| {
            (
                e["at_ms"].as_u64().unwrap(),
                e["event"].as_str().unwrap().to_owned(),
                e["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn tl(items: &[(u64, &str, &str)]) -> Vec<(u64, String, String)> {
    items
        .iter()
        .map(|(t, e, s)| (*t, e.to_string(), s.to_string()))
        .collect()
}

#[test]
fn every_fixture_replays_to_its_golden_output_twice_alike() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let all = recordings();
    assert!(all.len() >= 18, "fixtures found: {all:?}");
    let mut mismatched = Vec::new();
    for dir in &all {
        let (first, _) = run(dir);
        let (second, _) = run(dir);
        assert_eq!(first, second, "{}: two replays differ", dir.display());
        let golden = dir.join("expected.jsonl");
        if update {
            fs::write(&golden, &first).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", golden.display()));
        if expected != first {
            mismatched.push(dir.display().to_string());
        }
    }
    assert!(
        mismatched.is_empty(),
        "replay output differs from expected.jsonl in {mismatched:?}; review, then UPDATE_GOLDEN=1"
    );
}

#[test]
fn quiet_scenes_raise_nothing() {
    for name in [
        "normal-charging",
        "hot-motor-cools",
        "glint",
        "masked-roof-beam",
        "real-pouch-cell",
    ] {
        let (out, _) = run(&Path::new("fixtures").join(name));
        assert_eq!(events(&out), Vec::<serde_json::Value>::new(), "{name}");
    }
}

#[test]
fn slow_runaway_warns_by_rate_of_rise_then_alarms_then_fire() {
    let (out, _) = run(Path::new("fixtures/slow-runaway"));
    let e = events(&out);
    let raised = &e[0];
    assert_eq!(
        (raised["event"].as_str(), raised["severity"].as_str()),
        (Some("raised"), Some("warning"))
    );
    assert_eq!(raised["trigger"], "rate_of_rise");
    assert!(
        raised["max_c"].as_f64().unwrap() < 55.0,
        "warned before 55 °C"
    );
    let severities: Vec<&str> = e
        .iter()
        .filter(|e| e["event"] == "severity_raised")
        .map(|e| e["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["alarm", "fire"]);
    assert!(e.iter().all(|e| e["zone"] == "bay-2"));
}

#[test]
fn short_circuit_flame_is_fire_on_its_first_frame() {
    let (out, _) = run(Path::new("fixtures/short-circuit-flame"));
    assert_eq!(timeline(&out), tl(&[(30_000, "raised", "fire")]));
    assert_eq!(
        events(&out)[0]["notify"],
        serde_json::json!(["platform", "property", "community"])
    );
}

#[test]
fn corrupted_payloads_are_counted_and_the_alarm_still_goes_out() {
    let (out, engine) = run(Path::new("fixtures/corrupted-stream"));
    assert_eq!(timeline(&out), tl(&[(32_000, "raised", "alarm")]));
    let (_, counters) = engine.camera_counters().next().unwrap();
    assert_eq!(counters.decode_errors.values().sum::<u64>(), 9);
    assert_eq!(counters.frames, 60);
}

#[test]
fn unconfigured_camera_fire_is_reported_in_its_whole_frame_zone() {
    let (out, _) = run(Path::new("fixtures/unconfigured-camera"));
    let e = events(&out);
    assert_eq!(
        (e[0]["severity"].as_str(), e[0]["zone"].as_str()),
        (Some("fire"), Some("cam-99"))
    );
}

#[test]
fn mlx90640_json_stream_raises_fire() {
    let (out, _) = run(Path::new("fixtures/mlx90640-json"));
    assert_eq!(timeline(&out), tl(&[(20_000, "raised", "fire")]));
}

#[test]
fn real_panel_overheated_neutral_is_one_hotspot_near_88_c() {
    let (out, engine) = run(Path::new("fixtures/real-electrical-panel"));
    let e = events(&out);
    let neutral: Vec<_> = e.iter().filter(|e| e["zone"] == "neutral-joint").collect();
    assert_eq!(neutral.len(), 1);
    assert_eq!(neutral[0]["severity"], "alarm");
    let max_c = neutral[0]["max_c"].as_f64().unwrap();
    assert!((86.0..=90.0).contains(&max_c), "{max_c} °C");
    let incident = engine
        .incidents()
        .find(|i| i.zone.as_deref() == Some("neutral-joint"))
        .unwrap();
    let hotspot = incident.hotspot.unwrap();
    assert!(hotspot.area_px >= 2, "{hotspot:?}");
    assert!((86.0..=90.0).contains(&(incident.peak_c.unwrap())));
}

fn chain(name: &str) -> String {
    run(&Path::new("fixtures/chain").join(name)).0
}

#[test]
fn full_chain_in_time_never_escalates() {
    let out = chain("full-chain");
    assert_eq!(
        timeline(&out),
        tl(&[
            (30_000, "raised", "alarm"),
            (60_000, "dispatched", "alarm"),
            (200_000, "arrived", "alarm"),
            (250_000, "reported", "alarm"),
            (630_000, "level_changed", "alarm"),
            (700_000, "closed", "alarm"),
        ])
    );
    assert!(replies(&out).iter().all(|r| r["ok"] == true));
}

#[test]
fn nobody_answering_escalates_at_the_deadline_and_repeats_up_to_the_cap() {
    let out = chain("nobody-answers");
    let e = events(&out);
    let escalated: Vec<_> = e.iter().filter(|e| e["event"] == "escalated").collect();
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0]["at_ms"], 90_000, "raised at 30 s + 60 s");
    assert_eq!(escalated[0]["overdue"], "raised");
    assert_eq!(escalated[0]["tier"], "property");
    let repeats: Vec<u64> = e
        .iter()
        .filter(|e| e["event"] == "renotified")
        .map(|e| e["at_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(
        repeats,
        [150_000, 210_000, 270_000, 330_000, 390_000],
        "repeat_max = 5"
    );
}

#[test]
fn silence_mutes_renotification_until_it_expires() {
    let out = chain("silence");
    let r = replies(&out);
    assert_eq!(r[0]["error"], "duration_s 3600 s is outside 1…1800 s");
    let t = timeline(&out);
    assert!(t.contains(&(101_000, "silenced".into(), "alarm".into())));
    assert!(t.contains(&(401_000, "silence_expired".into(), "alarm".into())));
    let repeats: Vec<u64> = t
        .iter()
        .filter(|e| e.1 == "renotified")
        .map(|e| e.0)
        .collect();
    assert_eq!(
        repeats[0], 401_000,
        "none while silenced, the held-back one at the end"
    );
    assert!(repeats.windows(2).all(|w| w[1] - w[0] == 60_000));
}

#[test]
fn close_is_refused_while_the_zone_is_hot() {
    let out = chain("close-refused-while-hot");
    let r = replies(&out);
    assert_eq!(
        r[2]["error"],
        "zone is at 95.2 °C, at or above the alarm level (80 °C): close needs force with a reason"
    );
    assert_eq!(r[2]["stage"], "on_site");
    assert_eq!(r[3]["ok"], true);
}

#[test]
fn force_close_needs_a_reason_and_records_it() {
    let out = chain("force-close");
    let r = replies(&out);
    assert_eq!(r[1]["error"], "force needs a reason");
    let closed = events(&out)
        .into_iter()
        .find(|e| e["event"] == "closed")
        .unwrap();
    assert_eq!(closed["forced"], true);
    assert_eq!(
        closed["note"],
        "fire brigade removed the pack; camera view blocked"
    );
    assert_eq!(closed["stage"], "closed");
}

#[test]
fn reopen_works_within_the_window_and_is_refused_after() {
    let out = chain("reopen");
    let reopened = events(&out)
        .into_iter()
        .find(|e| e["event"] == "reopened")
        .unwrap();
    assert_eq!(
        (reopened["at_ms"].as_u64(), reopened["stage"].as_str()),
        (Some(800_000), Some("raised"))
    );
    let last = replies(&out).pop().unwrap();
    assert_eq!(
        last["error"],
        "closed 650 s ago; reopen is allowed within 600 s"
    );
}

#[test]
fn repeated_request_ids_get_the_same_reply_and_bad_commands_a_clear_error() {
    let out = chain("bad-and-repeated-commands");
    let r = replies(&out);
    assert_eq!(r[0], r[1], "same request, same reply");
    assert_eq!(
        r[3], r[0],
        "a repeat after the stage moved still gets the first reply"
    );
    assert_eq!(
        r[2]["stage"], "on_site",
        "the same id from another role is another request"
    );
    let dispatched = events(&out)
        .iter()
        .filter(|e| e["event"] == "dispatched")
        .count();
    assert_eq!(dispatched, 1);
    let errors: Vec<&str> = r[4..]
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    assert!(
        errors[0].starts_with("malformed command: "),
        "{}",
        errors[0]
    );
    assert_eq!(r[4]["request_id"], serde_json::Value::Null);
    assert_eq!(
        &errors[1..],
        [
            "unknown action \"evacuate\" (dispatch, silence, arrive, report, close, reopen)",
            "unknown incident \"cam-01.bay-9.1\"",
            "missing field actor",
            "note is 600 characters, more than the 500 allowed",
            errors[5],
            "missing field resolution",
        ]
    );
    assert!(
        errors[5].contains("unknown field `urgent`"),
        "{}",
        errors[5]
    );
}
