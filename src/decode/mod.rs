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
//! scratch buffers, so once they have grown to the frame size the TFRM path allocates nothing.
//! The JSON path allocates nothing either unless a key holds escapes; the PNG path allocates
//! inside the `png` crate (inflate state, row buffers) on every frame.

#[cfg(test)]
mod fixtures;
mod json;
mod png;
mod tfrm;

pub use tfrm::{PixelFormat, TFRM_HEADER_LEN, TFRM_MAGIC, TFRM_VERSION, encode_tfrm};

use crate::frame::{Frame, MAX_VALID_C, MIN_VALID_C, SATURATED, Scale};

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
            Encoding::Png => png::decode(payload, options, &mut self.png_bytes, frame)?,
            Encoding::Tfrm => tfrm::decode(payload, options, frame)?,
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
pub(crate) fn store_raw(
    header: Header,
    scale: Scale,
    pixels: impl Iterator<Item = u16> + Clone,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    check_raw_range(pixels.clone(), scale)?;
    header.write(frame);
    frame.scale = scale;
    frame.pixels.clear();
    frame.pixels.extend(pixels);
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
    let mut max = f32::MIN;
    for (index, c) in values.clone().enumerate() {
        if !c.is_finite() {
            return Err(DecodeError::NotFinite { index });
        }
        if !(MIN_VALID_C..=MAX_VALID_C).contains(&c) {
            return Err(DecodeError::OutOfRange { index, celsius: c });
        }
        max = max.max(c);
    }
    let scale = if max < 382.0 {
        Scale::CENTIKELVIN
    } else {
        Scale::DECIKELVIN
    };
    header.write(frame);
    frame.scale = scale;
    frame.pixels.clear();
    frame
        .pixels
        .extend(values.map(|c| scale.raw_nearest(c as f64)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_recognises_each_encoding() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Ok(Encoding::Png));
        assert_eq!(sniff(b"TFRM\x01"), Ok(Encoding::Tfrm));
        assert_eq!(sniff(b"  {\"width\":1}"), Ok(Encoding::Json));
        assert_eq!(sniff(b""), Err(DecodeError::Empty));
        assert!(matches!(
            sniff(b"GIF89a"),
            Err(DecodeError::UnknownMagic(_))
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
    }
}
