//! `Detector::detect` allocates nothing once warmed up on frames like the ones it then sees.
//!
//! Its own test binary: the global allocator here counts every allocation the test thread
//! makes while counting is switched on.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use shedwatch::detect::{Detector, Isa, synth};

/// The system allocator, counting the test thread's allocations while it asks for that.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor, so reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call goes straight to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations the current thread makes while running `f`, and what `f` returned.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATIONS.load(Ordering::Relaxed) - before, out)
}

const WIDTH: u32 = 384;
const HEIGHT: u32 = 288;
/// Shares of hot pixels, as in the bench: none, 0.5 % and 5 %.
const HOT_FRACTIONS: [f64; 3] = [0.0, 0.005, 0.05];

#[test]
fn the_counter_counts_an_allocation() {
    let (n, boxed) = allocations_in(|| Box::new(7u64));
    assert_eq!(*boxed, 7);
    assert!(n >= 1, "a Box was not counted");
}

#[test]
fn detect_allocates_nothing_after_warm_up() {
    let layout = synth::shed_layout(WIDTH, HEIGHT);
    let thresholds = synth::thresholds(&layout);
    for isa in Isa::supported() {
        let mut detector = Detector::with_isa(isa);
        // Warm up: every kind of frame a few times, each with its own noise and blobs.
        for seed in 0..5 {
            for fraction in HOT_FRACTIONS {
                let px = synth::frame(WIDTH, HEIGHT, fraction, seed);
                detector.detect(&px, &layout, &thresholds);
            }
        }
        // Then many more frames of the same kinds, never seen before; only detect is counted.
        let mut hotspots = 0;
        for seed in 1000..1040 {
            for fraction in HOT_FRACTIONS {
                let px = synth::frame(WIDTH, HEIGHT, fraction, seed);
                let (n, found) = allocations_in(|| {
                    let out = detector.detect(&px, &layout, &thresholds);
                    out.hotspots.len()
                });
                assert_eq!(
                    n, 0,
                    "{isa:?}: detect allocated {n} times (seed {seed}, {fraction})"
                );
                hotspots += found;
            }
        }
        assert!(
            hotspots >= 40 * synth::BLOBS,
            "{isa:?}: too few hotspots to test much"
        );
    }
}
