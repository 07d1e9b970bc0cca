//! 16-bit grayscale PNG frames (FLIR Lepton TLinear convention: raw counts in centikelvin,
//! or whatever the camera's `raw_kelvin_per_count` says).

use std::io::Cursor;

use image::codecs::png::PngDecoder;
use image::{ColorType, ImageDecoder, Limits};

use super::{DecodeError, DecodeOptions, check_raw_range, check_size};
use crate::frame::Frame;

pub(super) fn decode(
    payload: &[u8],
    options: &DecodeOptions,
    scratch: &mut Vec<u8>,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(options.max_width);
    limits.max_image_height = Some(options.max_height);
    limits.max_alloc = Some(options.max_width as u64 * options.max_height as u64 * 2 + (1 << 20));
    let decoder = PngDecoder::with_limits(Cursor::new(payload), limits).map_err(|e| match e {
        image::ImageError::Limits(_) => header_size(payload)
            .map(|(w, h)| DecodeError::TooLarge {
                width: w,
                height: h,
                max_width: options.max_width,
                max_height: options.max_height,
            })
            .unwrap_or_else(|| DecodeError::Png(e.to_string())),
        other => DecodeError::Png(other.to_string()),
    })?;
    let (width, height) = decoder.dimensions();
    let n = check_size(width, height, options)?;
    if decoder.color_type() != ColorType::L16 {
        return Err(DecodeError::Png(format!(
            "{:?} pixels; expected 16-bit grayscale",
            decoder.color_type()
        )));
    }
    scratch.clear();
    scratch.resize(n * 2, 0);
    decoder
        .read_image(scratch)
        .map_err(|e| DecodeError::Png(e.to_string()))?;
    frame.width = width;
    frame.height = height;
    frame.scale = options.raw_scale;
    frame.pixels.clear();
    frame.pixels.extend(
        scratch
            .chunks_exact(2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]])),
    );
    check_raw_range(&frame.pixels, frame.scale)
}

/// Width and height from the IHDR chunk, for error messages.
fn header_size(payload: &[u8]) -> Option<(u32, u32)> {
    let w = payload.get(16..20)?;
    let h = payload.get(20..24)?;
    Some((
        u32::from_be_bytes(w.try_into().ok()?),
        u32::from_be_bytes(h.try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeError, DecodeOptions, decode};
    use image::{ImageBuffer, Luma};

    fn png(w: u32, h: u32, f: impl Fn(u32, u32) -> u16) -> Vec<u8> {
        let img: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_fn(w, h, |x, y| Luma([f(x, y)]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn centikelvin_png_round_trips() {
        let bytes = png(4, 3, |x, y| 27315 + (x + 10 * y) as u16 * 100);
        let f = decode(&bytes, &DecodeOptions::default()).unwrap();
        assert_eq!((f.width, f.height), (4, 3));
        assert!((f.celsius_at(3, 2) - 23.0).abs() < 1e-3);
    }

    #[test]
    fn oversized_png_is_refused_before_decoding() {
        let bytes = png(20, 10, |_, _| 30000);
        let opts = DecodeOptions {
            max_width: 16,
            ..DecodeOptions::default()
        };
        assert!(matches!(
            decode(&bytes, &opts),
            Err(DecodeError::TooLarge {
                width: 20,
                height: 10,
                ..
            })
        ));
    }

    #[test]
    fn truncated_png_is_an_error() {
        let bytes = png(8, 8, |x, _| 29000 + x as u16);
        let err = decode(&bytes[..bytes.len() - 20], &DecodeOptions::default()).unwrap_err();
        assert!(matches!(err, DecodeError::Png(_)), "{err}");
    }
}
