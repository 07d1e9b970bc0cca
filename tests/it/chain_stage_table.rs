//! Every (stage, action, role) combination: accepted, or refused with the exact error.

use shedwatch::engine::Engine;

use crate::support::{command, config, frames, replies};

const INCIDENT: &str = "cam.bay-1.2000";

/// Drives a fresh engine to an alarm incident in `stage`, with the zone cooled to 25 °C.
fn engine_at(stage: &str) -> Engine {
    let mut e = Engine::new(config(""));
    frames(&mut e, 0, 4, Some(95.0));
    frames(&mut e, 4, 10, None);
    let mut t = 10_000;
    let mut send = |e: &mut Engine, role: &str, action: &str, extra: &str| {
        let topic = format!("shedwatch/gw/cmd/{role}");
        let reply = &replies(&e.handle(
            t,
            &topic,
            &command(&format!("setup-{t}"), INCIDENT, action, extra),
        ))[0];
        assert_eq!(reply["ok"], true, "setup {action}: {reply}");
        t += 1000;
    };
    let steps: &[(&str, &str, &str)] = match stage {
        "raised" => &[],
        "dispatched" => &[("platform", "dispatch", "")],
        "on_site" => &[("platform", "dispatch", ""), ("property", "arrive", "")],
        "closed" => &[
            ("platform", "dispatch", ""),
            ("property", "arrive", ""),
            ("community", "close", r#","resolution":"handled""#),
        ],
        other => panic!("unknown stage {other}"),
    };
    for (role, action, extra) in steps {
        send(&mut e, role, action, extra);
    }
    e
}

/// Fields each action needs to be complete.
fn extra(action: &str) -> &'static str {
    match action {
        "silence" => r#","duration_s":600"#,
        "report" => r#","note":"checked the charger""#,
        "close" => r#","resolution":"false_alarm""#,
        _ => "",
    }
}

const TABLE: &str = "
raised     platform  dispatch  ok dispatched
raised     platform  silence   ok raised
raised     platform  arrive    platform may not arrive; only property may
raised     platform  report    platform may not report; only property may
raised     platform  close     platform may not close; only community may
raised     platform  reopen    platform may not reopen; only community may
raised     property  dispatch  property may not dispatch; only platform may
raised     property  silence   property may not silence; only platform may
raised     property  arrive    arrive needs the incident dispatched; it is raised
raised     property  report    report needs the incident dispatched or on_site; it is raised
raised     property  close     property may not close; only community may
raised     property  reopen    property may not reopen; only community may
raised     community dispatch  community may not dispatch; only platform may
raised     community silence   community may not silence; only platform may
raised     community arrive    community may not arrive; only property may
raised     community report    community may not report; only property may
raised     community close     nobody reported on site (incident is raised): close needs force with a reason
raised     community reopen    reopen needs the incident closed; it is raised
dispatched platform  dispatch  dispatch needs the incident raised; it is dispatched
dispatched platform  silence   ok dispatched
dispatched platform  arrive    platform may not arrive; only property may
dispatched platform  report    platform may not report; only property may
dispatched platform  close     platform may not close; only community may
dispatched platform  reopen    platform may not reopen; only community may
dispatched property  dispatch  property may not dispatch; only platform may
dispatched property  silence   property may not silence; only platform may
dispatched property  arrive    ok on_site
dispatched property  report    ok dispatched
dispatched property  close     property may not close; only community may
dispatched property  reopen    property may not reopen; only community may
dispatched community dispatch  community may not dispatch; only platform may
dispatched community silence   community may not silence; only platform may
dispatched community arrive    community may not arrive; only property may
dispatched community report    community may not report; only property may
dispatched community close     nobody reported on site (incident is dispatched): close needs force with a reason
dispatched community reopen    reopen needs the incident closed; it is dispatched
on_site    platform  dispatch  dispatch needs the incident raised; it is on_site
on_site    platform  silence   ok on_site
on_site    platform  arrive    platform may not arrive; only property may
on_site    platform  report    platform may not report; only property may
on_site    platform  close     platform may not close; only community may
on_site    platform  reopen    platform may not reopen; only community may
on_site    property  dispatch  property may not dispatch; only platform may
on_site    property  silence   property may not silence; only platform may
on_site    property  arrive    arrive needs the incident dispatched; it is on_site
on_site    property  report    ok on_site
on_site    property  close     property may not close; only community may
on_site    property  reopen    property may not reopen; only community may
on_site    community dispatch  community may not dispatch; only platform may
on_site    community silence   community may not silence; only platform may
on_site    community arrive    community may not arrive; only property may
on_site    community report    community may not report; only property may
on_site    community close     ok closed
on_site    community reopen    reopen needs the incident closed; it is on_site
closed     platform  dispatch  dispatch needs the incident raised; it is closed
closed     platform  silence   silence needs the incident open; it is closed
closed     platform  arrive    platform may not arrive; only property may
closed     platform  report    platform may not report; only property may
closed     platform  close     platform may not close; only community may
closed     platform  reopen    platform may not reopen; only community may
closed     property  dispatch  property may not dispatch; only platform may
closed     property  silence   property may not silence; only platform may
closed     property  arrive    arrive needs the incident dispatched; it is closed
closed     property  report    report needs the incident dispatched or on_site; it is closed
closed     property  close     property may not close; only community may
closed     property  reopen    property may not reopen; only community may
closed     community dispatch  community may not dispatch; only platform may
closed     community silence   community may not silence; only platform may
closed     community arrive    community may not arrive; only property may
closed     community report    community may not report; only property may
closed     community close     close needs the incident on_site; it is closed
closed     community reopen    ok raised
";

#[test]
fn every_stage_action_and_role_gives_the_tabled_answer() {
    let mut rows = 0;
    for row in TABLE.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = row.split_whitespace();
        let (stage, role, action) = (
            words.next().unwrap(),
            words.next().unwrap(),
            words.next().unwrap(),
        );
        let expected: Vec<&str> = words.collect();
        let expected = expected.join(" ");
        let mut e = engine_at(stage);
        let topic = format!("shedwatch/gw/cmd/{role}");
        let step = e.handle(
            14_000,
            &topic,
            &command("case", INCIDENT, action, extra(action)),
        );
        let reply = &replies(&step)[0];
        let stage_now = e
            .incidents()
            .find(|i| i.incident == INCIDENT)
            .map(|i| i.stage.as_str())
            .unwrap();
        if let Some(after) = expected.strip_prefix("ok ") {
            assert_eq!(reply["ok"], true, "{row}: {reply}");
            assert_eq!(stage_now, after, "{row}");
            assert_eq!(reply["stage"], after, "{row}");
        } else {
            assert_eq!(reply["ok"], false, "{row}: {reply}");
            assert_eq!(reply["error"], expected.as_str(), "{row}");
            assert_eq!(
                stage_now, stage,
                "{row}: a refused command changed the stage"
            );
            assert_eq!(
                step.incidents.len(),
                0,
                "{row}: a refused command changed an incident"
            );
        }
        assert_eq!(reply["request_id"], "case", "{row}");
        rows += 1;
    }
    assert_eq!(rows, 4 * 3 * 6, "every combination is in the table");
}
