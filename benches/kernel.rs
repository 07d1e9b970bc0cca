//! The detection kernel against a memory-read floor, on synthetic shed frames.
//!
//! For each frame size, one criterion group holds the floor (summing the frame's `u16` values,
//! in cache) and the kernel on an empty frame and on frames with 0.5 % and 5 % hot pixels, so
//! their ratios come from one run. A ratio table follows, timed by interleaving floor and
//! kernel so that load from other processes hits both alike.
//!
//! `cargo bench --bench kernel`; `KERNEL_BENCH_TABLE_ONLY=1` skips criterion and prints only
//! the table, `KERNEL_BENCH_ISA=portable` times the portable kernel. The floor is compiled for the same instruction set the kernel runs (AVX2 where
//! the CPU has it, detected at run time), so neither side gets wider vectors than the other.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use shedwatch::detect::{Detector, Isa, Layout, synth};

/// Frame sizes of the cameras shedwatch supports (Lepton 3.5, 384 × 288 and 640 × 512 cores).
const SIZES: [(u32, u32); 3] = [(160, 120), (384, 288), (640, 512)];
/// Frames by the share of their pixels that are hot.
const CASES: [(&str, f64); 3] = [("empty", 0.0), ("hot_0.5pct", 0.005), ("hot_5pct", 0.05)];

/// A frame size with its frames, layout and thresholds.
struct Scene {
    width: u32,
    height: u32,
    layout: Layout,
    thresholds: Vec<u16>,
    frames: Vec<(&'static str, Vec<u16>)>,
}

impl Scene {
    fn new(width: u32, height: u32) -> Scene {
        let layout = synth::shed_layout(width, height);
        let thresholds = synth::thresholds(&layout);
        let frames = CASES
            .iter()
            .zip(1..)
            .map(|(&(name, fraction), seed)| (name, synth::frame(width, height, fraction, seed)))
            .collect();
        Scene {
            width,
            height,
            layout,
            thresholds,
            frames,
        }
    }

    fn name(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

/// The floor: a plain sum of the frame that the compiler vectorises, `u32` partial sums of at
/// most 65 536 values (which cannot overflow) added into a `u64`.
#[inline(always)]
fn sum_u16(px: &[u16]) -> u64 {
    px.chunks(1 << 16)
        .map(|c| u64::from(c.iter().map(|&p| u32::from(p)).sum::<u32>()))
        .sum()
}

/// [`sum_u16`] compiled with AVX2, for a fair floor when the kernel runs AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_u16_avx2(px: &[u16]) -> u64 {
    sum_u16(px)
}

/// The floor for the instruction set `isa` (the kernel's).
fn floor(isa: Isa, px: &[u16]) -> u64 {
    match isa {
        // SAFETY: `isa` is only Avx2 where the CPU runs it (see `Isa::supported`).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { sum_u16_avx2(px) },
        _ => sum_u16(px),
    }
}

fn criterion_groups(c: &mut Criterion, scenes: &[Scene], isa: Isa) {
    for scene in scenes {
        let mut group = c.benchmark_group(scene.name());
        group.throughput(Throughput::Elements(
            u64::from(scene.width) * u64::from(scene.height),
        ));
        let any = &scene.frames[0].1;
        group.bench_function("floor", |b| b.iter(|| floor(isa, black_box(any))));
        let mut detector = Detector::with_isa(isa);
        for (name, px) in &scene.frames {
            group.bench_function(*name, |b| {
                b.iter(|| {
                    let out = detector.detect(black_box(px), &scene.layout, &scene.thresholds);
                    black_box(out.hotspots.len())
                })
            });
        }
        group.finish();
    }
}

/// Median time of one call of `f`, sampled in rounds of `reps` calls.
fn time_per_call(reps: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed() / reps
}

/// Kernel and floor timed in alternation, so a burst of load from other processes spoils a
/// few rounds of both rather than all rounds of one. Shows the ratio of the medians and of
/// the fastest rounds (the least disturbed).
fn ratio_table(scenes: &[Scene], isa: Isa) {
    const ROUNDS: usize = 101;
    println!();
    println!("kernel ÷ floor ({isa:?} kernel, floor compiled for the same instruction set)");
    println!(
        "{:<9} {:<11} {:>10} {:>10} {:>7} {:>7} {:>7}",
        "size", "frame", "kernel µs", "floor µs", "ratio", "best", "hot %"
    );
    for scene in scenes {
        let pixels = scene.width as usize * scene.height as usize;
        // About 1 ms of floor work per round (the floor reads some 50 pixels a nanosecond).
        let reps = (50_000_000 / pixels as u32).max(1);
        let mut detector = Detector::with_isa(isa);
        for (name, px) in &scene.frames {
            let hot = detector
                .detect(px, &scene.layout, &scene.thresholds)
                .regions
                .iter()
                .map(|r| r.hot_px)
                .sum::<u32>();
            let mut kernel = Vec::with_capacity(ROUNDS);
            let mut floor_t = Vec::with_capacity(ROUNDS);
            for _ in 0..ROUNDS {
                floor_t.push(time_per_call(reps, || {
                    black_box(floor(isa, black_box(px)));
                }));
                kernel.push(time_per_call(reps, || {
                    let out = detector.detect(black_box(px), &scene.layout, &scene.thresholds);
                    black_box(out.hotspots.len());
                }));
            }
            kernel.sort_unstable();
            floor_t.sort_unstable();
            let (k, f) = (kernel[ROUNDS / 2], floor_t[ROUNDS / 2]);
            println!(
                "{:<9} {:<11} {:>10.2} {:>10.2} {:>7.2} {:>7.2} {:>7.2}",
                scene.name(),
                name,
                k.as_secs_f64() * 1e6,
                f.as_secs_f64() * 1e6,
                k.as_secs_f64() / f.as_secs_f64(),
                kernel[0].as_secs_f64() / floor_t[0].as_secs_f64(),
                100.0 * f64::from(hot) / pixels as f64,
            );
        }
    }
}

fn main() {
    let isa = match std::env::var("KERNEL_BENCH_ISA").as_deref() {
        Ok("portable") => Isa::Portable,
        _ => Isa::best(),
    };
    let scenes: Vec<Scene> = SIZES.iter().map(|&(w, h)| Scene::new(w, h)).collect();
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this with --test: check it runs, skip the timing.
    let test_mode = args.iter().any(|a| a == "--test" || a == "--list");
    if std::env::var_os("KERNEL_BENCH_TABLE_ONLY").is_none() || test_mode {
        let mut c = Criterion::default().configure_from_args();
        criterion_groups(&mut c, &scenes, isa);
        c.final_summary();
    }
    if !test_mode {
        ratio_table(&scenes, isa);
    }
}
