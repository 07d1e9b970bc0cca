//! TFRM: shedwatch's binary frame. Little-endian:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `TFRM` |
//! | 4 | 1 | version, 1 |
//! | 5 | 1 | pixel format: 1 = u16 raw counts (centikelvin by default), 2 = f32 °C |
//! | 6 | 2 | width (pixels) |
//! | 8 | 2 | height (pixels) |
//! | 10 | 8 | capture time, ms since the Unix epoch (0 = unknown) |
//! | 18 | w×h×2 or w×h×4 | pixels, row-major |

use super::{DecodeError, DecodeOptions, celsius_into_frame, check_raw_range, check_size};
use crate::frame::Frame;

/// First four bytes of every TFRM frame.
pub const TFRM_MAGIC: &[u8; 4] = b"TFRM";
/// The only version defined.
pub const TFRM_VERSION: u8 = 1;
/// Bytes before the pixels.
pub const TFRM_HEADER_LEN: usize = 18;

/// Pixels of a TFRM frame, for encoding.
#[derive(Debug, Clone, Copy)]
pub enum PixelFormat<'a> {
    /// Format 1: raw counts.
    U16(&'a [u16]),
    /// Format 2: °C.
    F32(&'a [f32]),
}

/// Encodes a TFRM frame (used by `record`, the fixture generator and the benches).
pub fn encode_tfrm(width: u16, height: u16, captured_ms: u64, pixels: PixelFormat<'_>) -> Vec<u8> {
    let n = width as usize * height as usize;
    let (format, bytes) = match pixels {
        PixelFormat::U16(p) => (1u8, p.len() * 2),
        PixelFormat::F32(p) => (2u8, p.len() * 4),
    };
    let mut out = Vec::with_capacity(TFRM_HEADER_LEN + bytes);
    out.extend_from_slice(TFRM_MAGIC);
    out.push(TFRM_VERSION);
    out.push(format);
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&captured_ms.to_le_bytes());
    match pixels {
        PixelFormat::U16(p) => p
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        PixelFormat::F32(p) => p
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
    }
    debug_assert!(n == 0 || out.len() == TFRM_HEADER_LEN + bytes);
    out
}

pub(super) fn decode(
    payload: &[u8],
    options: &DecodeOptions,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    if payload.len() < TFRM_HEADER_LEN {
        return Err(DecodeError::Truncated {
            what: "TFRM header",
            needed: TFRM_HEADER_LEN,
            got: payload.len(),
        });
    }
    let version = payload[4];
    if version != TFRM_VERSION {
        return Err(DecodeError::Version(version));
    }
    let format = payload[5];
    let bytes_per_px = match format {
        1 => 2,
        2 => 4,
        other => return Err(DecodeError::PixelFormat(other)),
    };
    let width = u16::from_le_bytes([payload[6], payload[7]]) as u32;
    let height = u16::from_le_bytes([payload[8], payload[9]]) as u32;
    let captured_ms = u64::from_le_bytes(payload[10..18].try_into().expect("8 bytes"));
    let n = check_size(width, height, options)?;
    let data = &payload[TFRM_HEADER_LEN..];
    let needed = n * bytes_per_px;
    if data.len() < needed {
        return Err(DecodeError::PixelCount {
            width,
            height,
            expected: n,
            got: data.len() / bytes_per_px,
        });
    }
    if data.len() > needed {
        return Err(DecodeError::TrailingBytes {
            width,
            height,
            extra: data.len() - needed,
        });
    }
    frame.width = width;
    frame.height = height;
    frame.captured_ms = (captured_ms != 0).then_some(captured_ms);
    if format == 1 {
        frame.scale = options.raw_scale;
        frame.pixels.clear();
        frame.pixels.extend(
            data.chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]])),
        );
        check_raw_range(&frame.pixels, frame.scale)
    } else {
        let values = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        celsius_into_frame(values, frame)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeError, DecodeOptions, decode};
    use super::*;
    use crate::frame::Scale;

    #[test]
    fn u16_frame_round_trips() {
        let px = [27315u16, 30000, 35315, 65535];
        let bytes = encode_tfrm(2, 2, 1_732_780_000_000, PixelFormat::U16(&px));
        let f = decode(&bytes, &DecodeOptions::default()).unwrap();
        assert_eq!(f.pixels, px);
        assert_eq!(f.captured_ms, Some(1_732_780_000_000));
    }

    #[test]
    fn f32_flame_uses_decikelvin() {
        let px = [25.0f32, 900.0];
        let f = decode(
            &encode_tfrm(2, 1, 0, PixelFormat::F32(&px)),
            &DecodeOptions::default(),
        )
        .unwrap();
        assert_eq!(f.scale, Scale::DECIKELVIN);
        assert!((f.celsius_at(1, 0) - 900.0).abs() < 0.06);
        assert_eq!(f.captured_ms, None);
    }

    #[test]
    fn declared_size_must_match_the_data() {
        let mut bytes = encode_tfrm(2, 2, 0, PixelFormat::U16(&[30000; 4]));
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(
            decode(&bytes, &DecodeOptions::default()),
            Err(DecodeError::PixelCount {
                expected: 4,
                got: 3,
                ..
            })
        ));
    }

    #[test]
    fn huge_declared_size_is_refused_before_allocating() {
        let mut bytes = encode_tfrm(1, 1, 0, PixelFormat::U16(&[30000]));
        bytes[6..8].copy_from_slice(&60000u16.to_le_bytes());
        bytes[8..10].copy_from_slice(&60000u16.to_le_bytes());
        assert!(matches!(
            decode(&bytes, &DecodeOptions::default()),
            Err(DecodeError::TooLarge { width: 60000, .. })
        ));
    }

    #[test]
    fn nan_and_out_of_range_are_refused() {
        let nan = encode_tfrm(2, 1, 0, PixelFormat::F32(&[20.0, f32::NAN]));
        assert_eq!(
            decode(&nan, &DecodeOptions::default()).unwrap_err(),
            DecodeError::NotFinite { index: 1 }
        );
        let cold = encode_tfrm(2, 1, 0, PixelFormat::F32(&[-80.0, 20.0]));
        assert!(matches!(
            decode(&cold, &DecodeOptions::default()),
            Err(DecodeError::OutOfRange { index: 0, .. })
        ));
    }
}
