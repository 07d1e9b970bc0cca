//! Decode throughput of each wire format on realistic noisy frames, next to a memory-read
//! floor over the same bytes. Throughput is payload bytes per second (MB/s, 10⁶ bytes).
//!
//! `cargo bench --bench decode`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use shedwatch::decode::{DecodeOptions, Decoder, PixelFormat, encode_tfrm};
use shedwatch::frame::{Frame, Scale};

/// Lepton 3 (160×120), a 384×288 core and a 640×512 core.
const CAMERA_SIZES: [(u32, u32); 3] = [(160, 120), (384, 288), (640, 512)];
/// MLX90640 (32×24) and AMG8833 (8×8), the sensors that send JSON.
const JSON_SIZES: [(u32, u32); 2] = [(32, 24), (8, 8)];

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [−1, 1).
    fn signed_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A shed at night in °C: a 19–23 °C gradient, ±0.15 °C sensor noise, and a 48 °C battery
/// pack charging in one corner.
fn scene(w: u32, h: u32) -> Vec<f64> {
    let mut rng = Rng(0x5EED_0000 ^ ((w as u64) << 16) ^ h as u64);
    let (cx, cy, r) = (w as f64 * 0.7, h as f64 * 0.6, w.min(h) as f64 * 0.12);
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x as f64, y as f64)))
        .map(|(x, y)| {
            let background = 19.0 + 4.0 * y / h as f64;
            let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
            let pack = 29.0 * (-(d / r).powi(2)).exp();
            background + pack + 0.15 * rng.signed_unit()
        })
        .collect()
}

fn centikelvin(celsius: &[f64]) -> Vec<u16> {
    celsius
        .iter()
        .map(|&c| Scale::CENTIKELVIN.raw_nearest(c))
        .collect()
}

fn png(w: u32, h: u32, raw: &[u16]) -> Vec<u8> {
    let bytes: Vec<u8> = raw.iter().flat_map(|v| v.to_ne_bytes()).collect();
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&bytes, w, h, ExtendedColorType::L16)
        .expect("encodable");
    out
}

/// Two decimals, as the MLX90640 and AMG8833 bridges print them.
fn json(w: u32, h: u32, celsius: &[f64]) -> Vec<u8> {
    let values: Vec<String> = celsius.iter().map(|c| format!("{c:.2}")).collect();
    format!(
        r#"{{"width":{w},"height":{h},"celsius":[{}],"ts_ms":1732780000000}}"#,
        values.join(",")
    )
    .into_bytes()
}

/// Benchmarks `decode_into` on one payload, reusing the decoder and frame as the engine does.
fn bench_payload(c: &mut Criterion, group: &str, (w, h): (u32, u32), payload: &[u8]) {
    let options = DecodeOptions::default();
    let mut decoder = Decoder::new();
    let mut frame = Frame::default();
    decoder
        .decode_into(payload, &options, &mut frame)
        .expect("bench payload decodes");
    assert_eq!((frame.width, frame.height), (w, h));
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::BytesDecimal(payload.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(format!("{w}x{h}")), |b| {
        b.iter(|| {
            decoder
                .decode_into(black_box(payload), &options, &mut frame)
                .unwrap()
        })
    });
    g.finish();
}

fn decode_benches(c: &mut Criterion) {
    for (w, h) in CAMERA_SIZES {
        let celsius = scene(w, h);
        let raw = centikelvin(&celsius);
        let as_f32: Vec<f32> = celsius.iter().map(|&c| c as f32).collect();
        let tfrm_u16 = encode_tfrm(w as u16, h as u16, 1, PixelFormat::U16(&raw));

        // The floor: summing the TFRM u16 payload's samples, the least any decoder must do.
        let mut g = c.benchmark_group("floor_read_u16");
        g.throughput(Throughput::BytesDecimal(tfrm_u16.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(format!("{w}x{h}")), |b| {
            b.iter(|| {
                black_box(&tfrm_u16[18..])
                    .chunks_exact(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]]) as u32)
                    .sum::<u32>()
            })
        });
        g.finish();

        bench_payload(c, "png_l16", (w, h), &png(w, h, &raw));
        bench_payload(c, "tfrm_u16", (w, h), &tfrm_u16);
        let tfrm_f32 = encode_tfrm(w as u16, h as u16, 1, PixelFormat::F32(&as_f32));
        bench_payload(c, "tfrm_f32", (w, h), &tfrm_f32);
    }
    for (w, h) in JSON_SIZES {
        bench_payload(c, "json", (w, h), &json(w, h, &scene(w, h)));
    }
}

criterion_group! {
    name = benches;
    // Short runs: the numbers are steady well within this on an idle machine.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = decode_benches
}
criterion_main!(benches);
