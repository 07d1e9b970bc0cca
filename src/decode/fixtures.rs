//! Payload builders shared by the decoder tests.

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

/// A PNG of any pixel type `image` can write; `data` is in native byte order.
pub fn png_of(w: u32, h: u32, data: &[u8], color: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(data, w, h, color)
        .expect("encodable image");
    out
}

/// A 16-bit grayscale PNG whose pixel `(x, y)` is `f(x, y)`.
pub fn png16(w: u32, h: u32, f: impl Fn(u32, u32) -> u16) -> Vec<u8> {
    let data: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| f(x, y).to_ne_bytes())
        .collect();
    png_of(w, h, &data, ExtendedColorType::L16)
}

/// Rewrites the IHDR's width and height and fixes its CRC, so only the size is wrong.
pub fn set_png_size(png: &mut [u8], w: u32, h: u32) {
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    fix_ihdr_crc(png);
}

/// Rewrites the IHDR's bit depth and colour type and fixes its CRC.
pub fn set_png_pixel_type(png: &mut [u8], bit_depth: u8, color_type: u8) {
    png[24] = bit_depth;
    png[25] = color_type;
    fix_ihdr_crc(png);
}

fn fix_ihdr_crc(png: &mut [u8]) {
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
}

/// A chunk (length, type, data, CRC) as PNG lays it out.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[4..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// CRC-32 (ISO-HDLC) as PNG uses it; bitwise, which is plenty for tests.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A JSON frame declaring `w × h` with the given values, written as `{}` formats them.
pub fn json(w: u32, h: u32, celsius: &[f32], ts_ms: Option<u64>) -> Vec<u8> {
    let values: Vec<String> = celsius.iter().map(|c| c.to_string()).collect();
    let ts = ts_ms
        .map(|t| format!(r#","ts_ms":{t}"#))
        .unwrap_or_default();
    format!(
        r#"{{"width":{w},"height":{h},"celsius":[{}]{ts}}}"#,
        values.join(",")
    )
    .into_bytes()
}
