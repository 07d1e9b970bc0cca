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

use super::{DecodeError, DecodeOptions, Header, check_size, store_celsius, store_raw};
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
///
/// The pixels are written as given, even when there are not `width × height` of them, so
/// tests can build frames whose declared size is wrong.
pub fn encode_tfrm(width: u16, height: u16, captured_ms: u64, pixels: PixelFormat<'_>) -> Vec<u8> {
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
    out
}

pub(super) fn decode(
    payload: &[u8],
    options: &DecodeOptions,
    spare: &mut Vec<u16>,
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
    let header = Header {
        width,
        height,
        // 0 means the camera did not know the time.
        captured_ms: (captured_ms != 0).then_some(captured_ms),
    };
    // Array chunks, unlike `chunks_exact`, let the copy and the checks vectorise.
    if format == 1 {
        let pixels = data
            .as_chunks::<2>()
            .0
            .iter()
            .map(|&b| u16::from_le_bytes(b));
        store_raw(header, options.raw_scale, pixels, spare, frame)
    } else {
        let values = data
            .as_chunks::<4>()
            .0
            .iter()
            .map(|&b| f32::from_le_bytes(b));
        store_celsius(header, values, frame)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeError, DecodeOptions, Decoder, decode};
    use super::*;
    use crate::frame::{SATURATED, Scale};

    fn opts() -> DecodeOptions {
        DecodeOptions::default()
    }

    #[test]
    fn u16_frame_round_trips() {
        let px = [27315u16, 30000, 35315, 65535];
        let bytes = encode_tfrm(2, 2, 1_732_780_000_000, PixelFormat::U16(&px));
        let f = decode(&bytes, &opts()).unwrap();
        assert_eq!(f.pixels, px);
        assert_eq!(f.scale, Scale::CENTIKELVIN);
        assert_eq!(f.captured_ms, Some(1_732_780_000_000));
    }

    #[test]
    fn u16_frame_uses_the_configured_raw_scale() {
        // 17731 dK = 1499.95 °C is valid; 17740 dK = 1500.85 °C is not; saturated always is.
        let opts = DecodeOptions {
            raw_scale: Scale::DECIKELVIN,
            ..opts()
        };
        let ok = encode_tfrm(3, 1, 0, PixelFormat::U16(&[2731, 17731, SATURATED]));
        assert_eq!(decode(&ok, &opts).unwrap().scale, Scale::DECIKELVIN);
        let hot = encode_tfrm(2, 1, 0, PixelFormat::U16(&[2731, 17740]));
        assert!(matches!(
            decode(&hot, &opts),
            Err(DecodeError::OutOfRange { index: 1, .. })
        ));
    }

    #[test]
    fn f32_flame_uses_decikelvin() {
        let px = [25.0f32, 900.0];
        let f = decode(&encode_tfrm(2, 1, 0, PixelFormat::F32(&px)), &opts()).unwrap();
        assert_eq!(f.scale, Scale::DECIKELVIN);
        assert!((f.celsius_at(1, 0) - 900.0).abs() < 0.06);
        assert_eq!(f.captured_ms, None);
    }

    #[test]
    fn truncated_header_is_refused() {
        let bytes = encode_tfrm(2, 2, 0, PixelFormat::U16(&[30000; 4]));
        assert_eq!(
            decode(&bytes[..10], &opts()),
            Err(DecodeError::Truncated {
                what: "TFRM header",
                needed: 18,
                got: 10
            })
        );
    }

    #[test]
    fn declared_size_must_match_the_data() {
        let mut bytes = encode_tfrm(2, 2, 0, PixelFormat::U16(&[30000; 4]));
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(
            decode(&bytes, &opts()),
            Err(DecodeError::PixelCount {
                expected: 4,
                got: 3,
                ..
            })
        ));
        let long = encode_tfrm(2, 2, 0, PixelFormat::F32(&[20.0; 5]));
        assert_eq!(
            decode(&long, &opts()),
            Err(DecodeError::TrailingBytes {
                width: 2,
                height: 2,
                extra: 4
            })
        );
    }

    #[test]
    fn zero_side_is_refused() {
        let bytes = encode_tfrm(0, 5, 0, PixelFormat::U16(&[]));
        assert_eq!(
            decode(&bytes, &opts()),
            Err(DecodeError::ZeroSize {
                width: 0,
                height: 5
            })
        );
    }

    #[test]
    fn huge_declared_size_is_refused_before_allocating() {
        let mut bytes = encode_tfrm(1, 1, 0, PixelFormat::U16(&[30000]));
        bytes[6..8].copy_from_slice(&60000u16.to_le_bytes());
        bytes[8..10].copy_from_slice(&60000u16.to_le_bytes());
        assert!(matches!(
            decode(&bytes, &opts()),
            Err(DecodeError::TooLarge { width: 60000, .. })
        ));
    }

    #[test]
    fn unknown_version_and_pixel_format_are_refused() {
        let mut bytes = encode_tfrm(1, 1, 0, PixelFormat::U16(&[30000]));
        bytes[4] = 2;
        assert_eq!(decode(&bytes, &opts()), Err(DecodeError::Version(2)));
        bytes[4] = TFRM_VERSION;
        bytes[5] = 3;
        assert_eq!(decode(&bytes, &opts()), Err(DecodeError::PixelFormat(3)));
    }

    #[test]
    fn nan_infinity_and_out_of_range_are_refused() {
        for (bad, index) in [(f32::NAN, 1), (f32::INFINITY, 1), (f32::NEG_INFINITY, 1)] {
            let bytes = encode_tfrm(2, 1, 0, PixelFormat::F32(&[20.0, bad]));
            assert_eq!(
                decode(&bytes, &opts()),
                Err(DecodeError::NotFinite { index })
            );
        }
        for bad in [-80.0f32, 1500.5, 1e30] {
            let bytes = encode_tfrm(2, 1, 0, PixelFormat::F32(&[bad, 20.0]));
            assert!(matches!(
                decode(&bytes, &opts()),
                Err(DecodeError::OutOfRange { index: 0, celsius }) if celsius == bad
            ));
        }
        // The ends of the range are valid.
        let edges = encode_tfrm(2, 1, 0, PixelFormat::F32(&[-60.0, 1500.0]));
        assert!(decode(&edges, &opts()).is_ok());
    }

    #[test]
    fn cold_raw_count_is_refused_but_saturated_is_not() {
        let bytes = encode_tfrm(3, 1, 0, PixelFormat::U16(&[SATURATED, 30000, 1000]));
        assert!(matches!(
            decode(&bytes, &opts()),
            Err(DecodeError::OutOfRange { index: 2, .. })
        ));
    }

    #[test]
    fn failed_decode_leaves_the_frame_untouched() {
        let mut decoder = Decoder::new();
        let mut frame = Frame::default();
        let good = encode_tfrm(2, 1, 5, PixelFormat::U16(&[30000, 31000]));
        decoder.decode_into(&good, &opts(), &mut frame).unwrap();
        let before = frame.clone();
        let bad = [
            encode_tfrm(3, 1, 9, PixelFormat::U16(&[30000, 31000, 10])),
            encode_tfrm(3, 1, 9, PixelFormat::F32(&[20.0, 30.0, f32::NAN])),
            encode_tfrm(3, 1, 9, PixelFormat::F32(&[20.0, 30.0])),
        ];
        for payload in bad {
            assert!(decoder.decode_into(&payload, &opts(), &mut frame).is_err());
            assert_eq!(frame, before);
        }
    }
}
