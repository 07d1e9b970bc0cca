//! Property: any interleaving of frames, silences and commands keeps the chain's invariants:
//! stages only move along the chain, severity never falls while open, a closed incident
//! accepts only `reopen`, every command gets exactly one reply, event sequence numbers have
//! no gaps, and a zone has at most one open incident.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use shedwatch::engine::Engine;
use shedwatch::incident::{Incident, Kind, Severity, Stage};

use crate::support::{config, events, frame, replies};

#[derive(Debug, Clone)]
enum Op {
    /// Frames at one temperature for some seconds (1 fps).
    Frames { hot_c: Option<f32>, seconds: u64 },
    /// No frames for a while (timers run; the camera may go offline).
    Quiet { seconds: u64 },
    /// A command on one of the incidents seen so far (or an unknown one).
    Command {
        role: usize,
        action: usize,
        pick: usize,
        force: bool,
        repeat_last_request: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prop_oneof![Just(None), Just(Some(60.0f32)), Just(Some(95.0)), Just(Some(400.0))], 1..20u64)
            .prop_map(|(hot_c, seconds)| Op::Frames { hot_c, seconds }),
        1 => (1..400u64).prop_map(|seconds| Op::Quiet { seconds }),
        5 => (0..3usize, 0..6usize, 0..8usize, any::<bool>(), prop::bool::weighted(0.1)).prop_map(
            |(role, action, pick, force, repeat_last_request)| Op::Command {
                role,
                action,
                pick,
                force,
                repeat_last_request,
            }
        ),
    ]
}

const ROLES: [&str; 3] = ["platform", "property", "community"];
const ACTIONS: [&str; 6] = ["dispatch", "silence", "arrive", "report", "close", "reopen"];

fn rank(s: Severity) -> u8 {
    match s {
        Severity::Fault => 0,
        Severity::Warning => 1,
        Severity::Alarm => 2,
        Severity::Fire => 3,
    }
}

fn check_transition(
    before: &Incident,
    after: &Incident,
    reopened: bool,
) -> Result<(), TestCaseError> {
    use Stage::*;
    let ok = match (before.stage, after.stage) {
        (a, b) if a == b => true,
        (Raised, Dispatched) | (Dispatched, OnSite) => true,
        (Raised | Dispatched | OnSite, Closed) => true,
        (Closed, Raised) => reopened,
        _ => false,
    };
    prop_assert!(
        ok,
        "{}: {:?} → {:?}",
        after.incident,
        before.stage,
        after.stage
    );
    if before.is_open() && after.is_open() && after.kind == Kind::Hotspot {
        prop_assert!(
            rank(after.severity) >= rank(before.severity),
            "{}: severity fell from {:?} to {:?}",
            after.incident,
            before.severity,
            after.severity
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_keeps_the_chain_invariants(ops in prop::collection::vec(op(), 1..50)) {
        let mut engine = Engine::new(config(""));
        let mut t = 0u64;
        let mut n = 0u64;
        let mut seen: Vec<String> = Vec::new();
        let mut request = 0u64;
        let mut answered: BTreeMap<(usize, u64), serde_json::Value> = BTreeMap::new();
        for op in ops {
            let mut asked: Option<(usize, u64)> = None;
            let before: BTreeMap<String, Incident> =
                engine.incidents().map(|i| (i.incident.clone(), i.clone())).collect();
            let mut steps = Vec::new();
            let mut command: Option<(String, String)> = None;
            match op {
                Op::Frames { hot_c, seconds } => {
                    for _ in 0..seconds {
                        t += 1000;
                        n += 1;
                        steps.push(engine.handle(t, "thermal/cam/frame", &frame(n, hot_c)));
                    }
                }
                Op::Quiet { seconds } => {
                    t += seconds * 1000;
                    steps.push(engine.advance(t));
                }
                Op::Command { role, action, pick, force, repeat_last_request } => {
                    t += 500;
                    if !(repeat_last_request && request > 0) {
                        request += 1;
                    }
                    asked = Some((role, request));
                    let incident = seen.get(pick).cloned().unwrap_or_else(|| "cam.bay-1.999".into());
                    let action = ACTIONS[action];
                    let mut extra = match action {
                        "silence" => r#","duration_s":300"#.to_owned(),
                        "report" => r#","note":"looked""#.to_owned(),
                        "close" => r#","resolution":"handled""#.to_owned(),
                        _ => String::new(),
                    };
                    if force {
                        extra.push_str(r#","force":true,"reason":"test""#);
                    }
                    let payload = crate::support::command(&format!("r{request}"), &incident, action, &extra);
                    let topic = format!("shedwatch/gw/cmd/{}", ROLES[role]);
                    command = Some((incident, action.to_owned()));
                    // Timers due by now run in their own step, so the command's step holds
                    // only what the command did.
                    steps.push(engine.advance(t));
                    steps.push(engine.handle(t, &topic, &payload));
                }
            }
            let after: BTreeMap<String, Incident> =
                engine.incidents().map(|i| (i.incident.clone(), i.clone())).collect();

            // Exactly one reply per command, none otherwise.
            let reply_list: Vec<_> = steps.iter().flat_map(replies).collect();
            prop_assert_eq!(reply_list.len(), usize::from(command.is_some()));
            let accepted = reply_list.first().is_some_and(|r| r["ok"] == true);
            if let Some(key) = asked {
                if let Some(first) = answered.get(&key) {
                    // A repeated request id (same role) gets the first reply and changes nothing.
                    prop_assert_eq!(&reply_list[0], first);
                    let step = steps.last().unwrap();
                    prop_assert!(step.incidents.is_empty() && events(step).is_empty());
                    continue;
                }
                answered.insert(key, reply_list[0].clone());
            }

            // Event sequence numbers continue without gaps.
            let mut next_seq: BTreeMap<String, u64> =
                before.iter().map(|(id, i)| (id.clone(), i.seq + 1)).collect();
            for e in steps.iter().flat_map(events) {
                let id = e["incident"].as_str().unwrap().to_owned();
                let seq = e["seq"].as_u64().unwrap();
                let expected = next_seq.entry(id.clone()).or_insert(1);
                prop_assert_eq!(seq, *expected, "{} seq", id);
                *expected += 1;
                if !seen.contains(&id) {
                    seen.push(id);
                }
            }
            for (id, a) in &after {
                prop_assert_eq!(a.seq + 1, next_seq.get(id).copied().unwrap_or(a.seq + 1));
                if let Some(b) = before.get(id) {
                    let reopened = accepted && command.as_ref().is_some_and(|(i, act)| i == id && act == "reopen");
                    check_transition(b, a, reopened)?;
                    // A closed incident accepts only reopen.
                    if !b.is_open() && command.as_ref().is_some_and(|(i, act)| i == id && act != "reopen") {
                        prop_assert!(!accepted, "closed {} accepted a command", id);
                        prop_assert_eq!(a, b);
                    }
                }
            }
            // At most one open incident per zone (and one fault per camera).
            let mut zones = HashSet::new();
            for i in after.values().filter(|i| i.is_open()) {
                prop_assert!(zones.insert((i.camera.clone(), i.zone.clone())), "two open incidents on {:?}", i.zone);
            }
        }
    }
}
