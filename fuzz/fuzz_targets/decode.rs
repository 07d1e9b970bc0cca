//! Decodes arbitrary bytes with `Decoder::decode_into` under small, default and per-camera
//! limits: it must never panic, never allocate beyond the limits (run with
//! `-malloc_limit_mb`), and either produce a frame of a valid size with valid pixels or leave
//! the frame exactly as it was.
//!
//! A PNG input is also decoded with every chunk CRC recomputed: mutations almost always break
//! a CRC, and without the fix-up the fuzzer hardly gets past the chunk reader into inflate,
//! unfiltering and our own checks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shedwatch::decode::{DecodeOptions, Decoder};
use shedwatch::frame::{Frame, MAX_VALID_C, MIN_VALID_C, SATURATED, Scale};

fuzz_target!(|data: &[u8]| {
    decode_all(data);
    if let Some(fixed) = with_png_crcs_fixed(data) {
        decode_all(&fixed);
    }
});

fn decode_all(data: &[u8]) {
    let small = DecodeOptions {
        max_width: 16,
        max_height: 12,
        ..DecodeOptions::default()
    };
    let camera = DecodeOptions {
        raw_scale: Scale::DECIKELVIN,
        expected_size: Some((32, 24)),
        ..DecodeOptions::default()
    };
    // One decoder for all three, as the engine shares one between cameras.
    let mut decoder = Decoder::new();
    for options in [small, DecodeOptions::default(), camera] {
        let before = Frame::uniform(2, 1, Scale::CENTIKELVIN, 20.0);
        let mut frame = before.clone();
        match decoder.decode_into(data, &options, &mut frame) {
            Ok(_) => check_frame(&frame, &options),
            Err(e) => {
                assert_eq!(frame, before, "failed decode changed the frame: {e}");
                let message = e.to_string();
                assert!(!message.is_empty() && !message.ends_with('.'), "{message}");
                assert!(!e.kind().is_empty());
            }
        }
    }
}

fn check_frame(frame: &Frame, options: &DecodeOptions) {
    let (w, h) = (frame.width, frame.height);
    assert!((1..=options.max_width).contains(&w), "width {w}");
    assert!((1..=options.max_height).contains(&h), "height {h}");
    if let Some(size) = options.expected_size {
        assert_eq!((w, h), size);
    }
    assert_eq!(frame.pixels.len(), w as usize * h as usize);
    for &raw in &frame.pixels {
        let c = frame.scale.celsius(raw);
        // Rounding °C to a decikelvin count may land 0.05 °C past 1500 °C.
        assert!(
            raw == SATURATED || (MIN_VALID_C - 0.1..=MAX_VALID_C + 0.1).contains(&c),
            "{c} °C"
        );
    }
}

/// `data` with the CRC of every complete PNG chunk recomputed, if it starts like a PNG.
fn with_png_crcs_fixed(data: &[u8]) -> Option<Vec<u8>> {
    if !data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let mut out = data.to_vec();
    let mut at = 8;
    while let Some(len) = out.get(at..at + 4) {
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        let crc_at = (at + 8).checked_add(len)?;
        if crc_at + 4 > out.len() {
            break;
        }
        let crc = crc32(&out[at + 4..crc_at]);
        out[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
        at = crc_at + 4;
    }
    Some(out)
}

/// CRC-32 (ISO-HDLC) as PNG uses it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
