//! Runs the detection kernel many times on one synthetic shed frame, for instruction counts:
//! `valgrind --tool=callgrind --toggle-collect='*Detector*detect*' target/release/examples/kernel_loop 384 288 0.05`.
//!
//! Arguments: width, height, hot fraction (as in the bench: seeds 1, 2, 3 for 0, 0.5 % and
//! 5 %), repetitions (default 100) and `portable` or `avx2` to use that path instead of the best.

use std::hint::black_box;

use shedwatch::detect::{Detector, Isa, synth};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let w: u32 = arg(1, "384").parse().expect("width");
    let h: u32 = arg(2, "288").parse().expect("height");
    let fraction: f64 = arg(3, "0.05").parse().expect("hot fraction");
    let reps: u32 = arg(4, "100").parse().expect("repetitions");
    let isa = match arg(5, "").as_str() {
        "portable" => Isa::Portable,
        "avx2" => Isa::Avx2,
        _ => Isa::best(),
    };
    // The bench's seeds.
    let seed = if fraction == 0.0 {
        1
    } else if fraction < 0.01 {
        2
    } else {
        3
    };
    let layout = synth::shed_layout(w, h);
    let thresholds = synth::thresholds(&layout);
    let px = synth::frame(w, h, fraction, seed);
    let mut detector = Detector::with_isa(isa);
    let mut runs = 0;
    let mut found = 0;
    for _ in 0..reps {
        let out = detector.detect(black_box(&px), &layout, &thresholds);
        found += out.hotspots.len();
        runs = detector.runs().count();
    }
    println!(
        "{isa:?} {w}x{h} {fraction}: {} hotspots, {runs} runs",
        found / reps as usize
    );
}
