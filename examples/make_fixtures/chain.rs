//! The closure-chain scenarios under `fixtures/chain/`: one shared camera recording (a 32×24
//! camera, a frame every 10 s for 30 min, a pack at 95 °C in bay 1 from 20 s to 600 s) and,
//! per scenario, a config and a `recording.jsonl` that adds the people's commands (inline
//! payloads) to the same frames. The alarm is raised at 30 s (alarm dwell 2 s, frames 10 s
//! apart) as incident `cam-01.bay-1.30000`; the zone is back below alarm at 630 s.

use std::fmt::Write as _;
use std::path::Path;

use shedwatch::frame::Scale;
use shedwatch::scene::{Ambient, Curve, Object, Scene, Shape};

use super::{counts, fresh_dir, png16, write};

const WIDTH: u32 = 32;
const HEIGHT: u32 = 24;
const FRAME_EVERY_S: u64 = 10;
const FRAMES_UNTIL_S: u64 = 1800;
const INCIDENT: &str = "cam-01.bay-1.30000";

fn scene() -> Scene {
    let pack = Object::new(
        Shape::Rect {
            x0: 5.0,
            y0: 9.0,
            x1: 10.0,
            y1: 15.0,
        },
        Curve::Constant(95.0),
    )
    .between(20.0, 600.0);
    Scene::new(WIDTH, HEIGHT, Ambient::uniform(24.0), 0x5EED_C4A1).with_object(pack)
}

fn config(extra: &str) -> String {
    format!(
        r#"# Closure-chain scenario: see ../README.md.
gateway = "gw-test"

[[cameras]]
id = "cam-01"
name = "Shed A, north wall"
width = {WIDTH}
height = {HEIGHT}

[[cameras.zones]]
id = "bay-1"
name = "Bay 1"
polygon = [[0, 0], [16, 0], [16, 24], [0, 24]]

[[cameras.zones]]
id = "bay-2"
name = "Bay 2"
polygon = [[16, 0], [32, 0], [32, 24], [16, 24]]
{extra}"#
    )
}

/// A command at `t_s` (seconds) from `role`, with the payload's JSON object fields.
struct Cmd {
    t_ms: u64,
    role: &'static str,
    payload: String,
}

fn cmd(t_s: f64, role: &'static str, fields: &str) -> Cmd {
    Cmd {
        t_ms: (t_s * 1000.0) as u64,
        role,
        payload: format!("{{{fields}}}"),
    }
}

/// `"request_id":…,"incident":INCIDENT,"action":…,"actor":…` plus `more`.
fn on(request_id: &str, action: &str, actor: &str, more: &str) -> String {
    format!(
        r#""request_id":"{request_id}","incident":"{INCIDENT}","action":"{action}","actor":"{actor}"{more}"#
    )
}

struct Scenario {
    name: &'static str,
    config_extra: &'static str,
    commands: Vec<Cmd>,
    /// The clock runs to here (s) after the last frame.
    until_s: u64,
}

fn scenarios() -> Vec<Scenario> {
    let long_note = "x".repeat(600);
    vec![
        Scenario {
            name: "full-chain",
            config_extra: "",
            commands: vec![
                cmd(
                    60.0,
                    "platform",
                    &on("fc-1", "dispatch", "ops-li", r#","assignee":"wang""#),
                ),
                cmd(200.0, "property", &on("fc-2", "arrive", "wang", "")),
                cmd(
                    250.0,
                    "property",
                    &on(
                        "fc-3",
                        "report",
                        "wang",
                        r#","note":"charger unplugged, pack moved outside""#,
                    ),
                ),
                cmd(
                    700.0,
                    "community",
                    &on("fc-4", "close", "office-zhao", r#","resolution":"handled""#),
                ),
            ],
            until_s: 800,
        },
        Scenario {
            name: "nobody-answers",
            config_extra: "\n[escalation.alarm]\ndispatch_s = 60\non_site_s = 300\nrepeat_s = 60\nrepeat_max = 5\n",
            commands: vec![],
            until_s: FRAMES_UNTIL_S,
        },
        Scenario {
            name: "silence",
            config_extra: "",
            commands: vec![
                cmd(
                    100.0,
                    "platform",
                    &on("si-1", "silence", "ops-li", r#","duration_s":3600"#),
                ),
                cmd(
                    101.0,
                    "platform",
                    &on(
                        "si-2",
                        "silence",
                        "ops-li",
                        r#","duration_s":300,"note":"crew on the way""#,
                    ),
                ),
            ],
            until_s: 700,
        },
        Scenario {
            name: "close-refused-while-hot",
            config_extra: "",
            commands: vec![
                cmd(
                    60.0,
                    "platform",
                    &on("ch-1", "dispatch", "ops-li", r#","assignee":"wang""#),
                ),
                cmd(120.0, "property", &on("ch-2", "arrive", "wang", "")),
                cmd(
                    300.0,
                    "community",
                    &on(
                        "ch-3",
                        "close",
                        "office-zhao",
                        r#","resolution":"false_alarm""#,
                    ),
                ),
                cmd(
                    700.0,
                    "community",
                    &on("ch-4", "close", "office-zhao", r#","resolution":"handled""#),
                ),
            ],
            until_s: 800,
        },
        Scenario {
            name: "force-close",
            config_extra: "",
            commands: vec![
                cmd(
                    60.0,
                    "platform",
                    &on("fo-1", "dispatch", "ops-li", r#","assignee":"wang""#),
                ),
                cmd(
                    150.0,
                    "community",
                    &on(
                        "fo-2",
                        "close",
                        "office-zhao",
                        r#","resolution":"fire_brigade","force":true"#,
                    ),
                ),
                cmd(
                    151.0,
                    "community",
                    &on(
                        "fo-3",
                        "close",
                        "office-zhao",
                        r#","resolution":"fire_brigade","force":true,"reason":"fire brigade removed the pack; camera view blocked""#,
                    ),
                ),
            ],
            until_s: 800,
        },
        Scenario {
            name: "reopen",
            config_extra: "\n[commands]\nreopen_within_s = 600\n",
            commands: vec![
                cmd(
                    60.0,
                    "platform",
                    &on("re-1", "dispatch", "ops-li", r#","assignee":"wang""#),
                ),
                cmd(120.0, "property", &on("re-2", "arrive", "wang", "")),
                cmd(
                    700.0,
                    "community",
                    &on("re-3", "close", "office-zhao", r#","resolution":"handled""#),
                ),
                cmd(
                    800.0,
                    "community",
                    &on(
                        "re-4",
                        "reopen",
                        "office-zhao",
                        r#","reason":"residents smell smoke again""#,
                    ),
                ),
                cmd(
                    830.0,
                    "platform",
                    &on("re-5", "dispatch", "ops-li", r#","assignee":"wang""#),
                ),
                cmd(900.0, "property", &on("re-6", "arrive", "wang", "")),
                cmd(
                    950.0,
                    "community",
                    &on("re-7", "close", "office-zhao", r#","resolution":"handled""#),
                ),
                cmd(
                    1600.0,
                    "community",
                    &on("re-8", "reopen", "office-zhao", ""),
                ),
            ],
            until_s: 1700,
        },
        Scenario {
            name: "bad-and-repeated-commands",
            config_extra: "",
            commands: vec![
                cmd(
                    60.0,
                    "platform",
                    &on("dup-1", "dispatch", "ops-li", r#","assignee":"wang""#),
                ),
                cmd(
                    61.0,
                    "platform",
                    &on("dup-1", "dispatch", "ops-li", r#","assignee":"wang""#),
                ),
                cmd(120.0, "property", &on("dup-1", "arrive", "wang", "")),
                cmd(
                    130.0,
                    "platform",
                    &on("dup-1", "dispatch", "ops-li", r#","assignee":"zhang""#),
                ),
                Cmd {
                    t_ms: 140_000,
                    role: "platform",
                    payload: "\"{not json\"".into(),
                },
                cmd(
                    141.0,
                    "platform",
                    r#""request_id":"bad-2","incident":"cam-01.bay-1.30000","action":"evacuate","actor":"ops-li""#,
                ),
                cmd(
                    142.0,
                    "platform",
                    r#""request_id":"bad-3","incident":"cam-01.bay-9.1","action":"silence","actor":"ops-li","duration_s":60"#,
                ),
                cmd(
                    143.0,
                    "property",
                    r#""request_id":"bad-4","incident":"cam-01.bay-1.30000","action":"report""#,
                ),
                cmd(
                    144.0,
                    "property",
                    &on(
                        "bad-5",
                        "report",
                        "wang",
                        &format!(r#","note":"{long_note}""#),
                    ),
                ),
                cmd(
                    145.0,
                    "property",
                    &on("bad-6", "report", "wang", r#","note":"ok","urgent":true"#),
                ),
                cmd(146.0, "community", &on("bad-7", "close", "office-zhao", "")),
            ],
            until_s: 300,
        },
    ]
}

/// Writes `fixtures/chain/` (shared frames) and one directory per scenario in it.
pub fn write_chain(out: &Path) -> Result<(), String> {
    let dir = fresh_dir(out, "chain")?;
    let scene = scene();
    let mut celsius = Vec::new();
    let mut frames = Vec::new();
    for t_s in (0..=FRAMES_UNTIL_S).step_by(FRAME_EVERY_S as usize) {
        let t_ms = t_s * 1000;
        scene.render(t_ms, &mut celsius);
        let rel = format!("frames/cam-01/{t_s:06}.png");
        write(
            &dir.join(&rel),
            &png16(WIDTH, HEIGHT, &counts(&celsius, Scale::CENTIKELVIN)),
        )?;
        frames.push((t_ms, rel));
    }
    for s in scenarios() {
        let sdir = fresh_dir(&dir, s.name)?;
        write(&sdir.join("config.toml"), config(s.config_extra).as_bytes())?;
        let mut lines: Vec<(u64, String)> = frames
            .iter()
            .filter(|(t, _)| *t <= s.until_s * 1000)
            .map(|(t, rel)| {
                (
                    *t,
                    format!(r#"{{"t_ms": {t}, "topic": "thermal/cam-01/frame", "payload_file": "../{rel}"}}"#),
                )
            })
            .collect();
        for c in &s.commands {
            lines.push((
                c.t_ms,
                format!(
                    r#"{{"t_ms": {}, "topic": "shedwatch/gw-test/cmd/{}", "payload": {}}}"#,
                    c.t_ms, c.role, c.payload
                ),
            ));
        }
        lines.push((
            s.until_s * 1000,
            format!(r#"{{"t_ms": {}}}"#, s.until_s * 1000),
        ));
        // Stable: a command at the same time as a frame comes after it.
        lines.sort_by_key(|(t, _)| *t);
        let mut text = String::new();
        for (_, line) in lines {
            writeln!(text, "{line}").expect("writing to a String");
        }
        write(&sdir.join("recording.jsonl"), text.as_bytes())?;
    }
    Ok(())
}
