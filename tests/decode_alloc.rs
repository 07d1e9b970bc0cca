//! Counts heap allocations during `Decoder::decode_into` once the decoder and frame are warm.
//!
//! A binary of its own because it installs a counting global allocator. Counts are per
//! thread, so tests running in parallel do not see each other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use shedwatch::decode::{DecodeOptions, Decoder, PixelFormat, encode_tfrm};
use shedwatch::frame::Frame;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn warm_decode_allocations(payloads: &[Vec<u8>]) -> usize {
    let options = DecodeOptions::default();
    let mut decoder = Decoder::new();
    let mut frame = Frame::default();
    for p in payloads {
        decoder.decode_into(p, &options, &mut frame).unwrap();
    }
    allocations(|| {
        for p in payloads {
            decoder.decode_into(p, &options, &mut frame).unwrap();
        }
    })
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);
}

#[test]
fn tfrm_decode_allocates_nothing_once_warm() {
    let u16 = encode_tfrm(160, 120, 1, PixelFormat::U16(&[30000; 160 * 120]));
    let f32 = encode_tfrm(160, 120, 1, PixelFormat::F32(&[25.0; 160 * 120]));
    let small = encode_tfrm(32, 24, 1, PixelFormat::U16(&[30000; 32 * 24]));
    assert_eq!(warm_decode_allocations(&[u16, f32, small]), 0);
}

#[test]
fn json_decode_allocates_nothing_once_warm() {
    let values = vec!["21.25"; 32 * 24].join(",");
    let json = format!(r#"{{"width":32,"height":24,"celsius":[{values}],"ts_ms":1}}"#);
    assert_eq!(warm_decode_allocations(&[json.into_bytes()]), 0);
}

#[test]
fn refused_payload_allocates_nothing() {
    let options = DecodeOptions::default();
    let mut decoder = Decoder::new();
    let mut frame = Frame::default();
    let mut huge = encode_tfrm(1, 1, 0, PixelFormat::U16(&[30000]));
    huge[6..10].copy_from_slice(&[0xff; 4]);
    let n = allocations(|| {
        assert!(decoder.decode_into(&huge, &options, &mut frame).is_err());
    });
    assert_eq!(n, 0);
}
