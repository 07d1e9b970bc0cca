//! JSON frames from hobby sensors (MLX90640 32×24, AMG8833 8×8):
//! `{"width":32,"height":24,"celsius":[…],"ts_ms":1732780000000}` (`ts_ms` optional).

use serde::Deserialize;

use super::{DecodeError, DecodeOptions, celsius_into_frame, check_size};
use crate::frame::Frame;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFrame {
    width: u32,
    height: u32,
    // Options allow `null`, which serde_json writes for NaN and ∞; they are refused below.
    celsius: Vec<Option<f32>>,
    #[serde(default)]
    ts_ms: Option<u64>,
}

pub(super) fn decode(
    payload: &[u8],
    options: &DecodeOptions,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    // The payload size was bounded by the caller, which bounds what serde allocates.
    let parsed: JsonFrame =
        serde_json::from_slice(payload).map_err(|e| DecodeError::Json(e.to_string()))?;
    let n = check_size(parsed.width, parsed.height, options)?;
    if parsed.celsius.len() != n {
        return Err(DecodeError::PixelCount {
            width: parsed.width,
            height: parsed.height,
            expected: n,
            got: parsed.celsius.len(),
        });
    }
    if let Some(index) = parsed.celsius.iter().position(Option::is_none) {
        return Err(DecodeError::NotFinite { index });
    }
    frame.width = parsed.width;
    frame.height = parsed.height;
    frame.captured_ms = parsed.ts_ms;
    celsius_into_frame(parsed.celsius.iter().map(|c| c.unwrap_or(f32::NAN)), frame)
}

#[cfg(test)]
mod tests {
    use super::super::{DecodeError, DecodeOptions, decode};

    #[test]
    fn amg8833_frame_decodes() {
        let celsius: Vec<String> = (0..64).map(|i| format!("{}.25", 20 + i % 8)).collect();
        let text = format!(
            r#"{{"width":8,"height":8,"celsius":[{}],"ts_ms":1732780000000}}"#,
            celsius.join(",")
        );
        let f = decode(text.as_bytes(), &DecodeOptions::default()).unwrap();
        assert_eq!((f.width, f.height), (8, 8));
        assert!((f.celsius_at(7, 0) - 27.25).abs() < 0.006);
        assert_eq!(f.captured_ms, Some(1_732_780_000_000));
    }

    #[test]
    fn bad_json_is_a_typed_error() {
        let opts = DecodeOptions::default();
        assert!(matches!(
            decode(b"{\"width\":", &opts),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            decode(br#"{"width":2,"height":2,"celsius":[1,2,3]}"#, &opts),
            Err(DecodeError::PixelCount {
                expected: 4,
                got: 3,
                ..
            })
        ));
        assert!(matches!(
            decode(br#"{"width":0,"height":2,"celsius":[]}"#, &opts),
            Err(DecodeError::ZeroSize { .. })
        ));
        assert_eq!(
            decode(br#"{"width":2,"height":1,"celsius":[1,null]}"#, &opts),
            Err(DecodeError::NotFinite { index: 1 })
        );
    }
}
