//! The `replay` command line: bad lines are reported with their line number, the replay goes
//! on, and the exit code says a line was bad.

use std::fs;
use std::process::Command;

#[test]
fn bad_lines_are_reported_by_number_and_the_replay_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.toml"), "gateway = \"gw\"\n").unwrap();
    let frame = r#"{"width":2,"height":2,"celsius":[20.1,20.2,20.3,400]}"#;
    fs::write(
        dir.path().join("recording.jsonl"),
        format!(
            "{{\"t_ms\": 0, \"topic\": \"thermal/cam/frame\", \"payload_file\": \"missing.png\"}}\nnot json\n{{\"t_ms\": 1000, \"topic\": \"thermal/cam/frame\", \"payload\": {frame}}}\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .arg("replay")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("recording.jsonl:1: payload file missing.png"),
        "{stderr}"
    );
    assert!(
        stderr.contains("recording.jsonl:2: malformed line"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#""event":"raised""#),
        "line 3 was still replayed: {stdout}"
    );
}

#[test]
fn check_config_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    fs::write(
        &path,
        "gateway = \"gw\"\n[rules]\nwarning_c = 95\n[supervision]\noffline_after_s = 500\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("rules.warning_c: 95 °C is not below alarm_c (80 °C)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("supervision.offline_after_s: 500 s is above 100 s"),
        "{stdout}"
    );
    let good = dir.path().join("good.toml");
    fs::write(&good, "gateway = \"gw-test\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .args(["check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "config ok\n");
}
