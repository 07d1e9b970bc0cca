//! Frame decoders: one file per wire format, picked by the payload's first bytes.
//!
//! - PNG (`\x89PNG`): 16-bit grayscale, raw counts (centikelvin unless the camera says
//!   otherwise).
//! - TFRM (`TFRM`): shedwatch's binary frame, little-endian; see the README.
//! - JSON (`{`): `{"width":…, "height":…, "celsius":[…], "ts_ms":…}` from hobby sensors.
//!
//! Every decoder checks sizes against [`DecodeOptions`] before allocating, and every pixel
//! against −60…1500 °C (the saturated raw count is always valid: it means "hottest possible").
//! A payload that fails leaves the output frame exactly as it was: decoders check everything
//! first and write the frame last.
//!
//! Allocation: [`Decoder::decode_into`] reuses the frame's pixel buffer and the decoder's
//! scratch buffers, so once they have grown to the frame size a successful TFRM or JSON decode
//! allocates nothing (`tests/decode_alloc.rs`; JSON keys written with escapes are the
//! exception). The PNG path allocates inside the `png` crate on every frame (decoder state,
//! inflate and row buffers: six allocations for a 160×120 frame). Errors that carry a
//! message allocate it.

#[cfg(test)]
mod fixtures;
mod json;
mod png;
mod tfrm;

pub use tfrm::{PixelFormat, TFRM_HEADER_LEN, TFRM_MAGIC, TFRM_VERSION, encode_tfrm};

use crate::frame::{Frame, MAX_VALID_C, MIN_VALID_C, SATURATED, Scale};

/// 0 °C in kelvin.
const ZERO_C_IN_K: f64 = 273.15;

/// Limits and scaling applied while decoding one camera's payloads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    /// Widest frame accepted (pixels).
    pub max_width: u32,
    /// Tallest frame accepted (pixels).
    pub max_height: u32,
    /// How 16-bit raw counts map to kelvin for this camera.
    pub raw_scale: Scale,
    /// The size the camera is configured for, if any; other sizes are refused.
    pub expected_size: Option<(u32, u32)>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_width: 1280,
            max_height: 1024,
            raw_scale: Scale::CENTIKELVIN,
            expected_size: None,
        }
    }
}

impl DecodeOptions {
    /// Largest payload worth reading for these limits (bytes): a JSON frame of the largest
    /// size with generous number formatting.
    pub fn max_payload_bytes(&self) -> usize {
        // Saturating: the limits come from configuration and must never overflow here.
        (self.max_width as usize)
            .saturating_mul(self.max_height as usize)
            .saturating_mul(24)
            .saturating_add(4096)
    }
}

/// Which wire format a payload is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 16-bit grayscale PNG.
    Png,
    /// Binary TFRM frame.
    Tfrm,
    /// JSON frame.
    Json,
}

/// Why a payload is not a frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is empty.
    #[error("empty payload")]
    Empty,
    /// The payload is larger than any valid frame.
    #[error("payload of {bytes} bytes is larger than the {max} bytes a frame may have")]
    PayloadTooLarge {
        /// Payload size (bytes).
        bytes: usize,
        /// Limit (bytes).
        max: usize,
    },
    /// The first bytes match no supported encoding.
    #[error("unknown frame encoding (first bytes {0:02x?}); expected PNG, TFRM or JSON")]
    UnknownMagic(Vec<u8>),
    /// The payload ends before the data it declares.
    #[error("truncated {what}: needs {needed} bytes, got {got} bytes")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The frame is not the size configured for its camera.
    #[error(
        "frame size {width}×{height} px is not the configured {expected_width}×{expected_height} px"
    )]
    UnexpectedSize {
        /// Width (pixels).
        width: u32,
        /// Height (pixels).
        height: u32,
        /// Configured width (pixels).
        expected_width: u32,
        /// Configured height (pixels).
        expected_height: u32,
    },
    /// Bytes follow the declared data.
    #[error("{extra} bytes after the declared {width}×{height} px frame")]
    TrailingBytes {
        /// Declared width (pixels).
        width: u32,
        /// Declared height (pixels).
        height: u32,
        /// Extra bytes.
        extra: usize,
    },
    /// Width or height is 0.
    #[error("frame size {width}×{height} px has a zero side")]
    ZeroSize {
        /// Width (pixels).
        width: u32,
        /// Height (pixels).
        height: u32,
    },
    /// Width or height is beyond the configured limit.
    #[error("frame size {width}×{height} px is beyond the limit of {max_width}×{max_height} px")]
    TooLarge {
        /// Width (pixels).
        width: u32,
        /// Height (pixels).
        height: u32,
        /// Limit width (pixels).
        max_width: u32,
        /// Limit height (pixels).
        max_height: u32,
    },
    /// The number of pixels does not match the declared size.
    #[error("{width}×{height} px needs {expected} pixels, got {got}")]
    PixelCount {
        /// Width (pixels).
        width: u32,
        /// Height (pixels).
        height: u32,
        /// Pixels the size declares.
        expected: usize,
        /// Pixels present.
        got: usize,
    },
    /// A pixel is NaN, infinite or (in JSON) `null`.
    #[error("pixel {index} is not a finite temperature (NaN, infinite or null)")]
    NotFinite {
        /// Row-major pixel index.
        index: usize,
    },
    /// A pixel is outside −60…1500 °C.
    #[error("pixel {index} is {celsius:.2} °C, outside −60…1500 °C")]
    OutOfRange {
        /// Row-major pixel index.
        index: usize,
        /// Its temperature (°C).
        celsius: f32,
    },
    /// TFRM version other than 1.
    #[error("unsupported TFRM version {0} (supported: 1)")]
    Version(u8),
    /// TFRM pixel format other than 1 or 2.
    #[error("unsupported TFRM pixel format {0} (1 = u16 raw counts, 2 = f32 °C)")]
    PixelFormat(u8),
    /// A PNG that is not 16-bit grayscale, or is corrupt.
    #[error("bad PNG frame: {0}")]
    Png(String),
    /// Malformed JSON frame.
    #[error("bad JSON frame: {0}")]
    Json(String),
}

impl DecodeError {
    /// A short stable name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::PayloadTooLarge { .. } => "payload_too_large",
            DecodeError::UnknownMagic(_) => "unknown_encoding",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::TrailingBytes { .. } => "trailing_bytes",
            DecodeError::ZeroSize { .. } => "zero_size",
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::UnexpectedSize { .. } => "unexpected_size",
            DecodeError::PixelCount { .. } => "pixel_count",
            DecodeError::NotFinite { .. } => "not_finite",
            DecodeError::OutOfRange { .. } => "out_of_range",
            DecodeError::Version(_) => "version",
            DecodeError::PixelFormat(_) => "pixel_format",
            DecodeError::Png(_) => "png",
            DecodeError::Json(_) => "json",
        }
    }
}

/// The encoding a payload's first bytes announce.
pub fn sniff(payload: &[u8]) -> Result<Encoding, DecodeError> {
    const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    if payload.starts_with(PNG_MAGIC) {
        return Ok(Encoding::Png);
    }
    if payload.starts_with(TFRM_MAGIC) {
        return Ok(Encoding::Tfrm);
    }
    // JSON allows exactly these four whitespace bytes before the value.
    let first = payload
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first == Some(&b'{') {
        return Ok(Encoding::Json);
    }
    Err(DecodeError::UnknownMagic(
        payload[..payload.len().min(8)].to_vec(),
    ))
}

/// Reusable decoding state: scratch buffers survive between frames.
#[derive(Debug, Default)]
pub struct Decoder {
    /// PNG: decoded image bytes, checked before they reach the frame.
    png_bytes: Vec<u8>,
    /// JSON: parsed °C values, checked before they reach the frame.
    celsius: Vec<f32>,
    /// Raw counts being checked; it trades places with the frame's pixels when they pass.
    spare_pixels: Vec<u16>,
}

impl Decoder {
    /// A decoder with empty buffers.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes `payload` into `frame`, reusing its pixel buffer; on error `frame` is unchanged.
    pub fn decode_into(
        &mut self,
        payload: &[u8],
        options: &DecodeOptions,
        frame: &mut Frame,
    ) -> Result<Encoding, DecodeError> {
        let max = options.max_payload_bytes();
        if payload.len() > max {
            return Err(DecodeError::PayloadTooLarge {
                bytes: payload.len(),
                max,
            });
        }
        let encoding = sniff(payload)?;
        match encoding {
            Encoding::Png => png::decode(
                payload,
                options,
                &mut self.png_bytes,
                &mut self.spare_pixels,
                frame,
            )?,
            Encoding::Tfrm => tfrm::decode(payload, options, &mut self.spare_pixels, frame)?,
            Encoding::Json => json::decode(payload, options, &mut self.celsius, frame)?,
        }
        Ok(encoding)
    }
}

/// Decodes one payload into a fresh frame.
pub fn decode(payload: &[u8], options: &DecodeOptions) -> Result<Frame, DecodeError> {
    let mut frame = Frame::default();
    Decoder::new().decode_into(payload, options, &mut frame)?;
    Ok(frame)
}

/// Checks a declared size against the limits and returns the pixel count; called before
/// any allocation.
pub(crate) fn check_size(
    width: u32,
    height: u32,
    options: &DecodeOptions,
) -> Result<usize, DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSize { width, height });
    }
    let too_large = DecodeError::TooLarge {
        width,
        height,
        max_width: options.max_width,
        max_height: options.max_height,
    };
    if width > options.max_width || height > options.max_height {
        return Err(too_large);
    }
    if let Some((ew, eh)) = options.expected_size
        && (ew, eh) != (width, height)
    {
        return Err(DecodeError::UnexpectedSize {
            width,
            height,
            expected_width: ew,
            expected_height: eh,
        });
    }
    // Four bytes a pixel must stay addressable (f32 TFRM data), even on 32-bit targets.
    match (width as usize).checked_mul(height as usize) {
        Some(n) if n.checked_mul(4).is_some() => Ok(n),
        _ => Err(too_large),
    }
}

/// What a decoder read from a payload's header; it reaches the frame only with the pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    pub captured_ms: Option<u64>,
}

impl Header {
    fn write(self, frame: &mut Frame) {
        frame.width = self.width;
        frame.height = self.height;
        frame.captured_ms = self.captured_ms;
    }
}

/// Raw counts whose temperature under `scale` lies in −60…1500 °C, as an inclusive range.
fn valid_raw_range(scale: Scale) -> (u16, u16) {
    let lo = scale.threshold(MIN_VALID_C);
    // The largest count still at or below the upper limit.
    let hi = scale.threshold(MAX_VALID_C.next_up()).saturating_sub(1);
    (lo, hi)
}

/// Checks every raw count maps into −60…1500 °C; the saturated count is always valid.
fn check_raw_range(
    pixels: impl Iterator<Item = u16> + Clone,
    scale: Scale,
) -> Result<(), DecodeError> {
    let (lo, hi) = valid_raw_range(scale);
    let invalid = |v: u16| v != SATURATED && (v < lo || v > hi);
    // A branch-free pass first (it vectorises); the index is looked for only on failure.
    if !pixels.clone().fold(false, |bad, v| bad | invalid(v)) {
        return Ok(());
    }
    match pixels.enumerate().find(|&(_, v)| invalid(v)) {
        Some((index, raw)) => Err(DecodeError::OutOfRange {
            index,
            celsius: scale.celsius(raw),
        }),
        None => Ok(()),
    }
}

/// Checks raw counts, then writes them and `header` to `frame` (and nothing on error).
/// `spare` is a buffer of the decoder's: the values are checked as they are copied into it
/// (one pass over the payload), and it trades places with the frame's pixels on success.
pub(crate) fn store_raw(
    header: Header,
    scale: Scale,
    pixels: impl ExactSizeIterator<Item = u16> + Clone,
    spare: &mut Vec<u16>,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    let (lo, hi) = valid_raw_range(scale);
    let invalid = |v: u16| v != SATURATED && (v < lo || v > hi);
    // Usually the size of the last frame, so nothing is filled here.
    spare.resize(pixels.len(), 0);
    // Branch-free, so the copy and the check vectorise together.
    let mut bad = false;
    for (to, v) in spare.iter_mut().zip(pixels.clone()) {
        *to = v;
        bad |= invalid(v);
    }
    if bad {
        check_raw_range(pixels, scale)?;
    }
    header.write(frame);
    frame.scale = scale;
    std::mem::swap(&mut frame.pixels, spare);
    Ok(())
}

/// Checks °C values, then writes them as raw counts and `header` to `frame` (and nothing on
/// error): centikelvin when everything fits below 382 °C, decikelvin otherwise (flames reach
/// 600–1000 °C).
pub(crate) fn store_celsius(
    header: Header,
    values: impl Iterator<Item = f32> + Clone,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    let valid = |c: f32| (MIN_VALID_C..=MAX_VALID_C).contains(&c);
    // A branch-free pass first (NaN and ∞ are outside the range too); the index is looked for
    // only on failure.
    let (all_valid, max) = values
        .clone()
        .fold((true, f32::MIN), |(ok, max), c| (ok & valid(c), max.max(c)));
    if !all_valid && let Some((index, c)) = values.clone().enumerate().find(|&(_, c)| !valid(c)) {
        return Err(if c.is_finite() {
            DecodeError::OutOfRange { index, celsius: c }
        } else {
            DecodeError::NotFinite { index }
        });
    }
    let scale = if max < 382.0 {
        Scale::CENTIKELVIN
    } else {
        Scale::DECIKELVIN
    };
    header.write(frame);
    frame.scale = scale;
    frame.pixels.clear();
    frame.pixels.extend(values.map(|c| raw_nearest(scale, c)));
    Ok(())
}

/// [`Scale::raw_nearest`] for a valid temperature, without its `f64::round`: that is a libm
/// call on baseline x86-64 and made °C frames five times slower to decode. `as` saturates,
/// so the clamp comes free; rounding differs only for raw values within 1e-16 of 0.5.
#[inline]
fn raw_nearest(scale: Scale, celsius: f32) -> u16 {
    let raw = (celsius as f64 + ZERO_C_IN_K - scale.offset_k) / scale.kelvin_per_count;
    (raw + 0.5) as u16
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::fixtures::{json, png16, set_png_size};
    use super::*;

    #[test]
    fn sniff_recognises_each_encoding() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Ok(Encoding::Png));
        assert_eq!(sniff(b"TFRM\x01"), Ok(Encoding::Tfrm));
        assert_eq!(sniff(b" \t\r\n{\"width\":1}"), Ok(Encoding::Json));
        assert_eq!(sniff(b""), Err(DecodeError::Empty));
        assert!(matches!(
            sniff(b"GIF89a"),
            Err(DecodeError::UnknownMagic(_))
        ));
        // Form feed is whitespace to Rust but not to JSON.
        assert!(matches!(
            sniff(b"\x0c{}"),
            Err(DecodeError::UnknownMagic(_))
        ));
    }

    #[test]
    fn unknown_magic_and_empty_payloads_are_refused() {
        let opts = DecodeOptions::default();
        assert_eq!(decode(b"", &opts), Err(DecodeError::Empty));
        assert_eq!(
            decode(b"GIF89a\x01\x00\x01\x00", &opts),
            Err(DecodeError::UnknownMagic(b"GIF89a\x01\x00".to_vec()))
        );
        assert!(matches!(
            decode(b"    ", &opts),
            Err(DecodeError::UnknownMagic(_))
        ));
    }

    #[test]
    fn payload_beyond_the_limit_is_refused_unread() {
        let opts = DecodeOptions {
            max_width: 2,
            max_height: 2,
            ..DecodeOptions::default()
        };
        let max = opts.max_payload_bytes();
        assert_eq!(max, 4 * 24 + 4096);
        // Not even the magic is looked at.
        let payload = vec![b'x'; max + 1];
        assert_eq!(
            decode(&payload, &opts),
            Err(DecodeError::PayloadTooLarge {
                bytes: max + 1,
                max
            })
        );
    }

    #[test]
    fn extreme_limits_do_not_overflow() {
        let opts = DecodeOptions {
            max_width: u32::MAX,
            max_height: u32::MAX,
            ..DecodeOptions::default()
        };
        assert_eq!(opts.max_payload_bytes(), usize::MAX);
        assert!(check_size(u32::MAX, u32::MAX, &opts).is_err());
        // A JSON frame declaring that size is refused before its array is read.
        let text = format!(r#"{{"width":{0},"height":{0},"celsius":[]}}"#, u32::MAX);
        assert!(matches!(
            decode(text.as_bytes(), &opts),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn raw_range_accepts_saturated_and_refuses_cold() {
        let s = Scale::CENTIKELVIN;
        let check = |px: &[u16], s| check_raw_range(px.iter().copied(), s);
        assert!(check(&[27315, SATURATED], s).is_ok());
        let err = check(&[27315, 100], s).unwrap_err();
        assert!(
            matches!(err, DecodeError::OutOfRange { index: 1, .. }),
            "{err}"
        );
        let d = Scale::DECIKELVIN;
        assert!(check(&[2731, 17731, SATURATED], d).is_ok());
        assert!(check(&[2731, 17740], d).is_err());
        // Every count of a centikelvin frame is at or below 382.2 °C.
        assert!(check(&[21315, SATURATED - 1], s).is_ok());
        assert!(check(&[21314], s).is_err());
    }

    const SCALES: [Scale; 3] = [
        Scale::CENTIKELVIN,
        Scale::DECIKELVIN,
        // InfiRay-style raw counts: 1/64 K each.
        Scale {
            kelvin_per_count: 1.0 / 64.0,
            offset_k: 0.0,
        },
    ];

    #[test]
    fn fast_raw_nearest_agrees_with_the_scale_across_the_valid_range() {
        for scale in SCALES {
            for step in 0..=156_000 {
                let c = MIN_VALID_C + step as f32 * 0.01;
                assert_eq!(
                    raw_nearest(scale, c),
                    scale.raw_nearest(c as f64),
                    "{c} °C, {scale:?}"
                );
            }
        }
    }

    /// Messages read like the rest of shedwatch's: lowercase (acronyms aside), no period.
    fn assert_message_style(message: &str) {
        let mut chars = message.chars();
        let (first, second) = (chars.next(), chars.next());
        assert!(
            !first.is_some_and(char::is_uppercase) || second.is_some_and(char::is_uppercase),
            "{message}"
        );
        assert!(!message.ends_with('.'), "{message}");
    }

    #[test]
    fn messages_name_value_and_unit() {
        let cases = [
            (
                DecodeError::PayloadTooLarge { bytes: 9, max: 8 },
                "payload of 9 bytes is larger than the 8 bytes a frame may have",
            ),
            (
                DecodeError::TooLarge {
                    width: 2000,
                    height: 10,
                    max_width: 1280,
                    max_height: 1024,
                },
                "frame size 2000×10 px is beyond the limit of 1280×1024 px",
            ),
            (
                DecodeError::OutOfRange {
                    index: 3,
                    celsius: -80.0,
                },
                "pixel 3 is -80.00 °C, outside −60…1500 °C",
            ),
            (
                DecodeError::PixelCount {
                    width: 2,
                    height: 2,
                    expected: 4,
                    got: 3,
                },
                "2×2 px needs 4 pixels, got 3",
            ),
            (
                DecodeError::Truncated {
                    what: "TFRM header",
                    needed: 18,
                    got: 3,
                },
                "truncated TFRM header: needs 18 bytes, got 3 bytes",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn every_error_class_has_a_well_formed_message() {
        let opts = DecodeOptions {
            max_width: 8,
            max_height: 8,
            ..DecodeOptions::default()
        };
        let mut cut_png = png16(4, 4, |_, _| 30000);
        cut_png.truncate(cut_png.len() - 20);
        let mut zero_png = png16(4, 4, |_, _| 30000);
        set_png_size(&mut zero_png, 0, 4);
        let payloads: Vec<Vec<u8>> = vec![
            vec![],
            vec![b' '; opts.max_payload_bytes() + 1],
            b"GIF89a".to_vec(),
            b"TFRM\x01".to_vec(),
            b"TFRM\x02\x01".to_vec(),
            encode_tfrm(1, 1, 0, PixelFormat::U16(&[0])),
            encode_tfrm(9, 1, 0, PixelFormat::U16(&[30000; 9])),
            encode_tfrm(2, 1, 0, PixelFormat::F32(&[f32::NAN, 1.0])),
            encode_tfrm(2, 1, 0, PixelFormat::F32(&[1.0, 1.0, 1.0])),
            cut_png,
            zero_png,
            json(2, 2, &[1.0], None),
            b"{\"width\":".to_vec(),
            b"{\"Width\":1}".to_vec(),
        ];
        for payload in payloads {
            let err = decode(&payload, &opts).unwrap_err();
            assert_message_style(&err.to_string());
            assert!(!err.kind().is_empty());
        }
    }

    // Property tests: arbitrary and mutated payloads never panic, and either decode to a frame
    // consistent with its size or fail with the frame untouched.

    /// Options the properties run under: the defaults and small limits that real payloads hit.
    fn option_sets() -> [DecodeOptions; 3] {
        let small = DecodeOptions {
            max_width: 6,
            max_height: 5,
            ..DecodeOptions::default()
        };
        let expected = DecodeOptions {
            raw_scale: Scale::DECIKELVIN,
            expected_size: Some((4, 3)),
            ..DecodeOptions::default()
        };
        [DecodeOptions::default(), small, expected]
    }

    /// Decodes `payload` into a frame that already holds another frame and checks the outcome.
    fn check_decode(payload: &[u8]) -> Result<(), TestCaseError> {
        let mut decoder = Decoder::new();
        for options in option_sets() {
            let before = Frame {
                width: 3,
                height: 1,
                pixels: vec![30000, 30001, 30002],
                scale: Scale::DECIKELVIN,
                captured_ms: Some(42),
            };
            let mut frame = before.clone();
            match decoder.decode_into(payload, &options, &mut frame) {
                Ok(_) => {
                    let (w, h) = (frame.width, frame.height);
                    prop_assert!((1..=options.max_width).contains(&w), "width {}", w);
                    prop_assert!((1..=options.max_height).contains(&h), "height {}", h);
                    prop_assert_eq!(frame.pixels.len(), w as usize * h as usize);
                    if let Some(size) = options.expected_size {
                        prop_assert_eq!((w, h), size);
                    }
                    for &raw in &frame.pixels {
                        let c = frame.scale.celsius(raw);
                        // Rounding to a decikelvin count may land 0.05 °C past 1500 °C.
                        prop_assert!(
                            raw == SATURATED
                                || (MIN_VALID_C - 0.1..=MAX_VALID_C + 0.1).contains(&c),
                            "{} °C",
                            c
                        );
                    }
                }
                Err(e) => {
                    prop_assert_eq!(&frame, &before, "{}", e);
                    assert_message_style(&e.to_string());
                }
            }
        }
        Ok(())
    }

    #[derive(Debug, Clone, Copy)]
    enum Format {
        Png,
        TfrmU16,
        TfrmF32,
        Json,
    }

    /// A frame that is mostly valid: most counts lie in −60…382 °C, some anywhere.
    fn raw_frame() -> impl Strategy<Value = (u32, u32, Vec<u16>)> {
        (1u32..=7, 1u32..=6).prop_flat_map(|(w, h)| {
            let count = prop_oneof![9 => 21315u16..=SATURATED, 1 => any::<u16>()];
            let pixels = prop::collection::vec(count, (w * h) as usize);
            (Just(w), Just(h), pixels)
        })
    }

    /// Builds a payload, optionally declaring another size than the data has.
    fn encode(
        format: Format,
        w: u32,
        h: u32,
        raw: &[u16],
        declared: Option<(u32, u32)>,
    ) -> Vec<u8> {
        let celsius: Vec<f32> = raw.iter().map(|&v| Scale::CENTIKELVIN.celsius(v)).collect();
        let (dw, dh) = declared.unwrap_or((w, h));
        match format {
            Format::Png => {
                let mut png = png16(w, h, |x, y| raw[(y * w + x) as usize]);
                if declared.is_some() {
                    set_png_size(&mut png, dw, dh);
                }
                png
            }
            Format::TfrmU16 => encode_tfrm(dw as u16, dh as u16, 7, PixelFormat::U16(raw)),
            Format::TfrmF32 => encode_tfrm(dw as u16, dh as u16, 7, PixelFormat::F32(&celsius)),
            Format::Json => json(dw, dh, &celsius, Some(7)),
        }
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        FlipBit(Index, u8),
        Truncate(Index),
        Insert(Index, Vec<u8>),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
            any::<Index>().prop_map(Mutation::Truncate),
            (any::<Index>(), prop::collection::vec(any::<u8>(), 1..6))
                .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        ]
    }

    fn apply(payload: &mut Vec<u8>, mutation: &Mutation) {
        match mutation {
            Mutation::FlipBit(at, bit) if !payload.is_empty() => {
                let i = at.index(payload.len());
                payload[i] ^= 1 << bit;
            }
            Mutation::Truncate(at) => payload.truncate(at.index(payload.len() + 1)),
            Mutation::Insert(at, bytes) => {
                let i = at.index(payload.len() + 1);
                payload.splice(i..i, bytes.iter().copied());
            }
            Mutation::FlipBit(..) => {}
        }
    }

    fn format() -> impl Strategy<Value = Format> {
        prop_oneof![
            Just(Format::Png),
            Just(Format::TfrmU16),
            Just(Format::TfrmF32),
            Just(Format::Json)
        ]
    }

    fn declared_size() -> impl Strategy<Value = Option<(u32, u32)>> {
        let side = prop_oneof![0u32..=9, Just(65_535), Just(u32::MAX), any::<u32>()];
        prop_oneof![3 => Just(None), 1 => (side.clone(), side).prop_map(Some)]
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(
            prefix in prop_oneof![
                Just(&b""[..]),
                Just(&b"\x89PNG\r\n\x1a\n"[..]),
                Just(&b"TFRM\x01\x01"[..]),
                Just(&b"TFRM\x01\x02"[..]),
                Just(&b"{"[..]),
            ],
            bytes in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut payload = prefix.to_vec();
            payload.extend_from_slice(&bytes);
            check_decode(&payload)?;
        }

        #[test]
        fn mutated_payloads_never_panic(
            format in format(),
            (w, h, raw) in raw_frame(),
            declared in declared_size(),
            mutations in prop::collection::vec(mutation(), 0..4),
        ) {
            let mut payload = encode(format, w, h, &raw, declared);
            for m in &mutations {
                apply(&mut payload, m);
            }
            check_decode(&payload)?;
        }

        #[test]
        fn fast_raw_nearest_agrees_with_the_scale(c in MIN_VALID_C..=MAX_VALID_C, s in 0usize..3) {
            prop_assert_eq!(raw_nearest(SCALES[s], c), SCALES[s].raw_nearest(c as f64));
        }

        #[test]
        fn valid_payloads_round_trip(format in format(), (w, h, raw) in raw_frame()) {
            let payload = encode(format, w, h, &raw, None);
            let valid = raw.iter().all(|&v| v >= 21315);
            match (decode(&payload, &DecodeOptions::default()), valid) {
                (Ok(frame), true) => {
                    prop_assert_eq!((frame.width, frame.height), (w, h));
                    for (i, &v) in raw.iter().enumerate() {
                        let (x, y) = (i as u32 % w, i as u32 / w);
                        let (want, got) = (Scale::CENTIKELVIN.celsius(v), frame.celsius_at(x, y));
                        // f32 °C loses a little; JSON writes the shortest round-trip form.
                        prop_assert!((want - got).abs() <= 0.06, "pixel {}: {} vs {}", i, want, got);
                    }
                }
                (Err(DecodeError::OutOfRange { .. }), false) => {}
                (other, valid) => prop_assert!(false, "valid {}: {:?}", valid, other),
            }
        }
    }
}
