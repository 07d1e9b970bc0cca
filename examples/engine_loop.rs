//! The engine alone on the end-to-end benchmark's load (8 cameras × 384×288 TFRM u16 decikelvin,
//! 48 zones each, quiet frames): µs per frame, for profiling (`perf record`) without a broker.
//! `cargo run --release --example engine_loop -- 40000` (the argument: frames to handle).

use shedwatch::config::Config;
use shedwatch::decode::{PixelFormat, encode_tfrm};
use shedwatch::detect::synth;
use shedwatch::engine::Engine;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let (w, h, cams) = (384u32, 288u32, 8usize);
    let mut s = String::from("gateway = \"e2e\"\n[supervision]\noffline_after_s = 100.0\n");
    for c in 0..cams {
        s.push_str(&format!("[[cameras]]\nid = \"cam-{c:02}\"\nwidth = {w}\nheight = {h}\nraw_kelvin_per_count = 0.1\n"));
        for z in 0..48u32 {
            let (x0, y0) = ((z % 8) * 48, (z / 8) * 48);
            let (x1, y1) = (x0 + 48, y0 + 48);
            s.push_str(&format!("[[cameras.zones]]\nid = \"bay-{z:02}\"\npolygon = [[{x0}, {y0}], [{x1}, {y0}], [{x1}, {y1}], [{x0}, {y1}]]\n"));
        }
    }
    let config = Arc::new(Config::parse(&s, None).unwrap());
    let mut engine = Engine::new(config);
    let frames: Vec<Vec<Vec<u8>>> = (0..cams)
        .map(|c| {
            (0..4)
                .map(|k| {
                    let ck = synth::frame(w, h, 0.0, (c * 4 + k) as u64 + 1);
                    let dk: Vec<u16> = ck.iter().map(|&v| (v + 5) / 10).collect();
                    encode_tfrm(w as u16, h as u16, 0, PixelFormat::U16(&dk))
                })
                .collect()
        })
        .collect();
    let topics: Vec<String> = (0..cams)
        .map(|c| format!("thermal/cam-{c:02}/frame"))
        .collect();
    let n = std::env::args()
        .nth(1)
        .map_or(20000, |a| a.parse().unwrap());
    let mut t = 1_000_000u64;
    let start = Instant::now();
    for i in 0..n {
        let c = i % cams;
        t += 1;
        let step = engine.handle(t, &topics[c], &frames[c][(i / cams) % 4]);
        std::hint::black_box(step);
    }
    let el = start.elapsed();
    println!("{:.2} µs per frame", el.as_secs_f64() * 1e6 / n as f64);
}
