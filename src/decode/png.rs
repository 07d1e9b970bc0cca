//! 16-bit grayscale PNG frames (FLIR Lepton TLinear convention: raw counts in centikelvin,
//! or whatever the camera's `raw_kelvin_per_count` says).
//!
//! The IHDR chunk is read here, before the `png` crate sees the payload, so the size and the
//! pixel type are refused before anything is allocated for them.

use std::io::Cursor;

use image::codecs::png::PngDecoder;
use image::{ColorType, ImageDecoder, ImageError, Limits};

use super::{DecodeError, DecodeOptions, Header, check_size, store_raw};
use crate::frame::Frame;

/// Signature (8), IHDR length (4), type (4), data (13) and CRC (4).
const IHDR_END: usize = 33;

/// Memory the `png` crate may use besides the image itself (ancillary chunks, row buffers).
const PNG_OVERHEAD_BYTES: u64 = 1 << 20;

pub(super) fn decode(
    payload: &[u8],
    options: &DecodeOptions,
    bytes: &mut Vec<u8>,
    spare: &mut Vec<u16>,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    let ihdr = Ihdr::parse(payload)?;
    let (width, height) = (ihdr.width, ihdr.height);
    let n = check_size(width, height, options)?;
    ihdr.check_pixel_type()?;

    let mut limits = Limits::default();
    limits.max_image_width = Some(options.max_width);
    limits.max_image_height = Some(options.max_height);
    let max_alloc = (n as u64 * 2).saturating_add(PNG_OVERHEAD_BYTES);
    limits.max_alloc = Some(max_alloc);
    let decoder = PngDecoder::with_limits(Cursor::new(payload), limits)
        .map_err(|e| png_error(e, &ihdr, max_alloc))?;
    // `read_image` asserts the buffer length, so the size it uses must be the one checked.
    if decoder.dimensions() != (width, height) {
        return Err(DecodeError::Png(format!(
            "decoder sees {}×{} px, the IHDR chunk says {width}×{height} px",
            decoder.dimensions().0,
            decoder.dimensions().1
        )));
    }
    if decoder.color_type() != ColorType::L16 {
        // Only a tRNS chunk gets here: `image` turns 16-bit gray plus tRNS into gray + alpha.
        return Err(DecodeError::Png(
            "16-bit grayscale with a tRNS transparency chunk; expected plain 16-bit grayscale"
                .into(),
        ));
    }
    bytes.clear();
    bytes.resize(n * 2, 0);
    decoder
        .read_image(bytes)
        .map_err(|e| png_error(e, &ihdr, max_alloc))?;
    let header = Header {
        width,
        height,
        captured_ms: None,
    };
    // `read_image` hands 16-bit samples over in native byte order.
    let pixels = bytes
        .as_chunks::<2>()
        .0
        .iter()
        .map(|&b| u16::from_ne_bytes(b));
    store_raw(header, options.raw_scale, pixels, spare, frame)
}

/// The fields of the IHDR chunk that decide whether a PNG can be a frame.
#[derive(Debug)]
struct Ihdr {
    width: u32,
    height: u32,
    bit_depth: u8,
    color_type: u8,
}

impl Ihdr {
    /// Reads the IHDR chunk, which the PNG format requires to come first.
    fn parse(payload: &[u8]) -> Result<Ihdr, DecodeError> {
        if payload.len() < IHDR_END {
            return Err(DecodeError::Truncated {
                what: "PNG header",
                needed: IHDR_END,
                got: payload.len(),
            });
        }
        let be32 = |at: usize| {
            u32::from_be_bytes([
                payload[at],
                payload[at + 1],
                payload[at + 2],
                payload[at + 3],
            ])
        };
        let (length, kind) = (be32(8), &payload[12..16]);
        if kind != b"IHDR" || length != 13 {
            return Err(DecodeError::Png(format!(
                "first chunk is {:?} of {length} bytes; expected IHDR of 13 bytes",
                String::from_utf8_lossy(kind)
            )));
        }
        Ok(Ihdr {
            width: be32(16),
            height: be32(20),
            bit_depth: payload[24],
            color_type: payload[25],
        })
    }

    /// Refuses every pixel type but 16-bit grayscale, naming the one found.
    fn check_pixel_type(&self) -> Result<(), DecodeError> {
        if (self.color_type, self.bit_depth) == (0, 16) {
            return Ok(());
        }
        let color = match self.color_type {
            0 => "grayscale",
            2 => "RGB",
            3 => "palette",
            4 => "grayscale + alpha",
            6 => "RGBA",
            _ => "unknown colour type",
        };
        Err(DecodeError::Png(format!(
            "{}-bit {color} pixels (colour type {}); expected 16-bit grayscale raw counts",
            self.bit_depth, self.color_type
        )))
    }
}

/// Turns an `image`/`png` error into a [`DecodeError`] with a lowercase message.
fn png_error(e: ImageError, ihdr: &Ihdr, max_alloc: u64) -> DecodeError {
    let (width, height) = (ihdr.width, ihdr.height);
    let detail = match e {
        ImageError::Limits(_) => {
            format!("decoding {width}×{height} px needs more than the {max_alloc} bytes allowed")
        }
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("payload ends before the end of the {width}×{height} px PNG")
        }
        // `image` wraps the `png` crate's message, which is the useful part.
        ImageError::Decoding(d) => {
            let inner =
                std::error::Error::source(&d).map_or_else(|| d.to_string(), |s| s.to_string());
            // The IDAT data ran out before the declared size was filled: say which size.
            if inner.contains("not have enough data") {
                format!("{inner} (IHDR declares {width}×{height} px)")
            } else {
                inner
            }
        }
        other => other.to_string(),
    };
    DecodeError::Png(lowercase_message(&detail))
}

/// Lowercases the first letter (unless it starts an acronym such as "IDAT") and drops a
/// trailing period, so foreign messages read like ours.
fn lowercase_message(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let mut chars = message.chars();
    match (chars.next(), chars.next()) {
        (Some(first), second) if !second.is_some_and(char::is_uppercase) => first
            .to_lowercase()
            .chain(message[first.len_utf8()..].chars())
            .collect(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use image::ExtendedColorType;

    use super::super::fixtures::{png_chunk, png_of, png16, set_png_pixel_type, set_png_size};
    use super::super::{DecodeError, DecodeOptions, Decoder, decode};
    use super::lowercase_message;
    use crate::frame::{Frame, SATURATED, Scale};

    fn png_message(err: DecodeError) -> String {
        match err {
            DecodeError::Png(m) => m,
            other => panic!("expected a PNG error, got {other:?}"),
        }
    }

    #[test]
    fn centikelvin_png_round_trips() {
        let bytes = png16(4, 3, |x, y| 27315 + (x + 10 * y) as u16 * 100);
        let f = decode(&bytes, &DecodeOptions::default()).unwrap();
        assert_eq!((f.width, f.height), (4, 3));
        assert_eq!(f.captured_ms, None);
        assert!((f.celsius_at(3, 2) - 23.0).abs() < 1e-3);
    }

    #[test]
    fn raw_scale_comes_from_the_options() {
        // 3731 dK = 100 °C.
        let bytes = png16(2, 1, |_, _| 3731);
        let opts = DecodeOptions {
            raw_scale: Scale::DECIKELVIN,
            ..DecodeOptions::default()
        };
        let f = decode(&bytes, &opts).unwrap();
        assert_eq!(f.scale, Scale::DECIKELVIN);
        assert!((f.celsius_at(1, 0) - 99.95).abs() < 1e-3);
    }

    #[test]
    fn saturated_count_is_valid_and_cold_count_is_not() {
        let hot = png16(3, 1, |x, _| if x == 2 { SATURATED } else { 30000 });
        assert!(decode(&hot, &DecodeOptions::default()).is_ok());
        // 100 cK is −272 °C.
        let cold = png16(3, 1, |x, _| if x == 1 { 100 } else { 30000 });
        assert!(matches!(
            decode(&cold, &DecodeOptions::default()),
            Err(DecodeError::OutOfRange { index: 1, .. })
        ));
    }

    #[test]
    fn oversized_png_is_refused_before_decoding() {
        let bytes = png16(20, 10, |_, _| 30000);
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
    fn huge_declared_ihdr_size_is_refused_from_the_header_alone() {
        // 2³¹−1 × 2³¹−1 px would be 8 EiB of samples; only the 33 header bytes are needed.
        let mut bytes = png16(2, 2, |_, _| 30000);
        set_png_size(&mut bytes, i32::MAX as u32, i32::MAX as u32);
        assert!(matches!(
            decode(&bytes[..33], &DecodeOptions::default()),
            Err(DecodeError::TooLarge { .. })
        ));
        // Just beyond the limit in one direction.
        set_png_size(&mut bytes, 1281, 1);
        assert!(matches!(
            decode(&bytes, &DecodeOptions::default()),
            Err(DecodeError::TooLarge { width: 1281, .. })
        ));
    }

    #[test]
    fn zero_side_is_refused() {
        let mut bytes = png16(2, 2, |_, _| 30000);
        set_png_size(&mut bytes, 2, 0);
        assert_eq!(
            decode(&bytes, &DecodeOptions::default()),
            Err(DecodeError::ZeroSize {
                width: 2,
                height: 0
            })
        );
    }

    #[test]
    fn size_other_than_the_configured_one_is_refused() {
        let bytes = png16(4, 3, |_, _| 30000);
        let opts = DecodeOptions {
            expected_size: Some((160, 120)),
            ..DecodeOptions::default()
        };
        assert!(matches!(
            decode(&bytes, &opts),
            Err(DecodeError::UnexpectedSize { width: 4, .. })
        ));
    }

    #[test]
    fn eight_bit_rgb_and_palette_pngs_are_refused_by_name() {
        let opts = DecodeOptions::default();
        let gray8 = png_of(2, 2, &[1, 2, 3, 4], ExtendedColorType::L8);
        let m = png_message(decode(&gray8, &opts).unwrap_err());
        assert!(m.starts_with("8-bit grayscale pixels"), "{m}");
        assert!(m.ends_with("expected 16-bit grayscale raw counts"), "{m}");

        let rgb = png_of(1, 1, &[1, 2, 3], ExtendedColorType::Rgb8);
        let m = png_message(decode(&rgb, &opts).unwrap_err());
        assert!(m.starts_with("8-bit RGB pixels"), "{m}");

        let rgb16: Vec<u8> = [1u16, 2, 3].iter().flat_map(|v| v.to_ne_bytes()).collect();
        let rgb16 = png_of(1, 1, &rgb16, ExtendedColorType::Rgb16);
        let m = png_message(decode(&rgb16, &opts).unwrap_err());
        assert!(m.starts_with("16-bit RGB pixels"), "{m}");

        // `image` writes no palette PNGs; relabel a gray one (refused from the IHDR alone).
        let mut palette = gray8.clone();
        set_png_pixel_type(&mut palette, 8, 3);
        let m = png_message(decode(&palette, &opts).unwrap_err());
        assert!(m.starts_with("8-bit palette pixels"), "{m}");

        let la16 = png_of(1, 1, &[0; 4], ExtendedColorType::La16);
        let m = png_message(decode(&la16, &opts).unwrap_err());
        assert!(m.starts_with("16-bit grayscale + alpha pixels"), "{m}");
    }

    #[test]
    fn transparency_chunk_is_refused_with_a_clear_message() {
        let plain = png16(2, 2, |_, _| 30000);
        let mut trns = plain[..33].to_vec();
        trns.extend(png_chunk(b"tRNS", &[0, 0]));
        trns.extend_from_slice(&plain[33..]);
        let m = png_message(decode(&trns, &DecodeOptions::default()).unwrap_err());
        assert!(m.contains("tRNS"), "{m}");
    }

    #[test]
    fn truncated_header_is_a_truncated_error() {
        let bytes = png16(8, 8, |_, _| 30000);
        assert_eq!(
            decode(&bytes[..20], &DecodeOptions::default()),
            Err(DecodeError::Truncated {
                what: "PNG header",
                needed: 33,
                got: 20
            })
        );
    }

    #[test]
    fn truncated_png_is_an_error() {
        let bytes = png16(8, 8, |x, _| 29000 + x as u16);
        // Cut in the IDAT data; a cut IEND does not matter once the pixels are complete.
        for cut in [40, bytes.len() - 20] {
            let m = png_message(decode(&bytes[..cut], &DecodeOptions::default()).unwrap_err());
            assert_eq!(
                m, "payload ends before the end of the 8×8 px PNG",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn idat_with_less_data_than_the_ihdr_declares_is_refused() {
        // Four rows of data under a header that declares eight.
        let mut bytes = png16(8, 4, |x, _| 29000 + x as u16);
        set_png_size(&mut bytes, 8, 8);
        let m = png_message(decode(&bytes, &DecodeOptions::default()).unwrap_err());
        assert!(m.contains("not have enough data"), "{m}");
        assert!(m.ends_with("(IHDR declares 8×8 px)"), "{m}");
    }

    #[test]
    fn corrupt_chunk_is_refused() {
        let mut bytes = png16(8, 8, |x, _| 29000 + x as u16);
        // A bit in the IDAT data: the CRC no longer matches.
        let at = bytes.len() - 20;
        bytes[at] ^= 0x01;
        let m = png_message(decode(&bytes, &DecodeOptions::default()).unwrap_err());
        assert!(m.starts_with("CRC error"), "{m}");
        // The IHDR chunk is not first.
        let mut moved = bytes.clone();
        moved[12..16].copy_from_slice(b"IDAT");
        let m = png_message(decode(&moved, &DecodeOptions::default()).unwrap_err());
        assert!(m.starts_with("first chunk is \"IDAT\""), "{m}");
    }

    #[test]
    fn failed_decode_leaves_the_frame_untouched() {
        let mut decoder = Decoder::new();
        let mut frame = Frame::default();
        let good = png16(3, 2, |x, y| 29000 + (x + y) as u16);
        decoder
            .decode_into(&good, &DecodeOptions::default(), &mut frame)
            .unwrap();
        let before = frame.clone();
        // Valid up to the last pixel, which is too cold.
        let cold = png16(3, 2, |x, y| if (x, y) == (2, 1) { 0 } else { 29500 });
        assert!(
            decoder
                .decode_into(&cold, &DecodeOptions::default(), &mut frame)
                .is_err()
        );
        assert_eq!(frame, before);
    }

    #[test]
    fn foreign_messages_are_lowercased_unless_an_acronym() {
        assert_eq!(
            lowercase_message("Invalid bit depth 3."),
            "invalid bit depth 3"
        );
        assert_eq!(
            lowercase_message("IDAT chunk is missing."),
            "IDAT chunk is missing"
        );
        assert_eq!(lowercase_message(""), "");
    }
}
