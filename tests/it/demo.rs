//! `shedwatch demo`: the real binary runs the whole closure chain and narrates it in order.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Fast enough to keep the test short, slow enough that a busy machine keeps up.
const SPEED: &str = "25";

#[test]
fn demo_narrates_the_whole_chain_in_order_and_exits_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shedwatch"))
        .args(["demo", "--speed", SPEED])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            child.kill().unwrap();
            panic!("the demo ran for more than 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");

    let lines: Vec<&str> = stdout.lines().collect();
    let order = [
        "gateway  demo online",
        "bay-2    WARNING raised: abnormal heating",
        "bay-2    ALARM: fast heating",
        "bay-2    escalated: dispatch is overdue (property staff notified)",
        "bay-2    dispatched to Wang by Li (property staff notified)",
        "bay-2    FIRE:",
        "bay-2    Wang arrived on site",
        "bay-2    Wang reports: flames knocked down",
        "the community office (Zhao) tried to close: refused — zone is at",
        "bay-2    Wang reports: charger unplugged",
        "bay-2    closed by the community office (Zhao): handled",
        "close accepted, stage now closed",
        "gateway  demo stopped",
        "Summary (scene time)",
        ": closed (handled)",
    ];
    let mut from = 0;
    for needle in order {
        let Some(i) = lines[from..].iter().position(|l| l.contains(needle)) else {
            panic!("no {needle:?} after line {from} in\n{stdout}");
        };
        from += i + 1;
    }
    // Every printed step carries a scene time.
    let chain = lines
        .iter()
        .skip_while(|l| !l.contains("demo online"))
        .take_while(|l| !l.is_empty());
    for l in chain {
        let t = &l[..5];
        assert!(
            t.as_bytes()[2] == b':' && t.replace(':', "").bytes().all(|b| b.is_ascii_digit()),
            "{l}"
        );
    }
}
