//! A flood of malformed payloads (random bytes, oversized declared sizes, bad JSON) on the
//! frame topic and the command topics: the daemon keeps running, its memory stays bounded,
//! it answers every command it keeps, and a real fire still goes out.

use std::time::Duration;

use shedwatch::decode::{PixelFormat, encode_tfrm};

use super::*;
use crate::support::frame;

/// A small xorshift generator for payloads.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn malformed_flood_keeps_the_daemon_up_bounded_and_alarming() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start();
    let mut daemon = Daemon::start(dir.path(), &daemon_config(&broker.url(), dir.path(), ""));
    let watcher = Watcher::start(&rt, broker.port, "watcher-flood", &["shedwatch/gw/#"]);
    watcher.wait_for("online", Duration::from_secs(10), |s| {
        s.iter()
            .any(|m| m.topic == "shedwatch/gw/status" && m.payload == b"online")
    });
    watcher.publish("thermal/cam/frame", frame(0, None));
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = daemon.rss_kb();

    let mut rng = Rng(0x5eed_f100d);
    let mut oversized = encode_tfrm(4, 4, 0, PixelFormat::U16(&[30000; 16]));
    oversized[6..10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let mut peak_rss = 0;
    let mut commands = 0;
    for i in 0..3000u64 {
        let payload = match i % 6 {
            0 => {
                let n = 1 + (rng.next() % 200_000) as usize;
                rng.bytes(n)
            }
            1 => oversized.clone(),
            2 => b"{\"width\":640,\"height\":512,\"celsius\":[1,2,".to_vec(),
            3 => format!("{{\"width\":{},\"height\":1,\"celsius\":[]}}", u32::MAX).into_bytes(),
            4 => b"TFRM\x01\x02".to_vec(),
            _ => b"\x89PNG\r\n\x1a\ngarbage".to_vec(),
        };
        // Random camera ids too: the unconfigured-camera cap must hold.
        let camera = if i % 5 == 0 {
            format!("flood-{}", i % 40)
        } else {
            "cam".into()
        };
        watcher.publish(&format!("thermal/{camera}/frame"), payload);
        let role = ["platform", "property", "community"][(i % 3) as usize];
        let cmd = match i % 4 {
            0 => rng.bytes(64),
            1 => br#"{"request_id":"x","incident":"nope"}"#.to_vec(),
            2 => format!(r#"{{"request_id":"f{i}","incident":"nope","action":"close","actor":"a","resolution":"{}"}}"#, "z".repeat(4000)).into_bytes(),
            _ => format!(r#"{{"request_id":"f{i}","incident":"nope","action":"dispatch","actor":"a"}}"#).into_bytes(),
        };
        watcher.publish(&format!("shedwatch/gw/cmd/{role}"), cmd);
        commands += 1;
        if i % 250 == 0 {
            peak_rss = peak_rss.max(daemon.rss_kb());
        }
    }
    note("flood sent");
    // A real fire, right after the flood.
    for n in 1..3 {
        watcher.publish("thermal/cam/frame", frame(n, Some(450.0)));
    }
    watcher.wait_for("the fire alarm", Duration::from_secs(60), |s| {
        s.iter()
            .any(|m| m.topic.ends_with("/events") && m.json()["severity"] == "fire")
    });
    watcher.wait_for("a reply to every command", Duration::from_secs(60), |s| {
        s.iter()
            .filter(|m| m.topic.ends_with("/cmd/result"))
            .count()
            >= commands
    });
    peak_rss = peak_rss.max(daemon.rss_kb());
    assert!(daemon.running(), "daemon died:\n{}", daemon.log_text());
    note(&format!("RSS {rss_before} kB before, peak {peak_rss} kB"));
    assert!(peak_rss < 200_000, "RSS reached {peak_rss} kB");
    daemon.terminate();
}
