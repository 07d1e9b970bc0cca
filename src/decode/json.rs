//! JSON frames from hobby sensors (MLX90640 32×24, AMG8833 8×8):
//! `{"width":32,"height":24,"celsius":[…],"ts_ms":1732780000000}` (`ts_ms` optional).
//!
//! The object is read in one streaming pass. The size is checked as soon as both `width` and
//! `height` have been read, and `celsius` is parsed into a reused buffer that never holds
//! more than the declared (or, before the size is known, the largest allowed) pixel count, so a
//! payload cannot make the decoder allocate more than the limits allow.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{DecodeError, DecodeOptions, Header, check_size, store_celsius};
use crate::frame::{Frame, MAX_VALID_C, MIN_VALID_C};

pub(super) fn decode(
    payload: &[u8],
    options: &DecodeOptions,
    values: &mut Vec<f32>,
    frame: &mut Frame,
) -> Result<(), DecodeError> {
    let mut refused = None;
    let mut de = serde_json::Deserializer::from_slice(payload);
    let seed = FrameSeed {
        options,
        values,
        refused: &mut refused,
    };
    let parsed = match seed.deserialize(&mut de).and_then(|p| de.end().map(|()| p)) {
        Ok(parsed) => parsed,
        // A typed refusal stopped the parser; it says more than the parser's message.
        Err(e) => return Err(refused.unwrap_or_else(|| DecodeError::Json(e.to_string()))),
    };
    let (width, height) = (parsed.width, parsed.height);
    let n = check_size(width, height, options)?;
    if parsed.count != n {
        return Err(DecodeError::PixelCount {
            width,
            height,
            expected: n,
            got: parsed.count,
        });
    }
    if let Some(e) = parsed.first_bad {
        return Err(e);
    }
    let header = Header {
        width,
        height,
        captured_ms: parsed.ts_ms,
    };
    store_celsius(header, values.iter().copied(), frame)
}

/// What the parser found; the values themselves are in the decoder's buffer.
struct Parsed {
    width: u32,
    height: u32,
    ts_ms: Option<u64>,
    /// Elements in `celsius`, including any beyond the buffer's cap.
    count: usize,
    /// The first element that is `null` or outside −60…1500 °C.
    first_bad: Option<DecodeError>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Width,
    Height,
    Celsius,
    TsMs,
}

/// Parses the frame object, refusing a bad size before the pixel array is read.
struct FrameSeed<'a> {
    options: &'a DecodeOptions,
    values: &'a mut Vec<f32>,
    /// Set when parsing stops for a reason with its own [`DecodeError`].
    refused: &'a mut Option<DecodeError>,
}

impl<'de> DeserializeSeed<'de> for FrameSeed<'_> {
    type Value = Parsed;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Parsed, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FrameSeed<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with width, height, celsius and optionally ts_ms")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let (mut width, mut height, mut ts_ms, mut celsius) = (None, None, None, None);
        let mut size_checked = false;
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Width if width.is_some() => return Err(de::Error::duplicate_field("width")),
                Field::Height if height.is_some() => {
                    return Err(de::Error::duplicate_field("height"));
                }
                Field::TsMs if ts_ms.is_some() => return Err(de::Error::duplicate_field("ts_ms")),
                Field::Celsius if celsius.is_some() => {
                    return Err(de::Error::duplicate_field("celsius"));
                }
                Field::Width => width = Some(map.next_value::<u32>()?),
                Field::Height => height = Some(map.next_value::<u32>()?),
                Field::TsMs => ts_ms = Some(map.next_value::<Option<u64>>()?),
                Field::Celsius => {
                    // Before the size is known, the largest allowed frame bounds the buffer.
                    let cap = match (width, height) {
                        (Some(w), Some(h)) => w as usize * h as usize,
                        _ => (self.options.max_width as usize)
                            .saturating_mul(self.options.max_height as usize),
                    };
                    let seed = CelsiusSeed {
                        values: &mut *self.values,
                        cap,
                    };
                    celsius = Some(map.next_value_seed(seed)?);
                }
            }
            if let (false, Some(w), Some(h)) = (size_checked, width, height) {
                size_checked = true;
                if let Err(e) = check_size(w, h, self.options) {
                    *self.refused = Some(e);
                    return Err(de::Error::custom("frame size refused"));
                }
            }
        }
        let (count, first_bad) = celsius.ok_or_else(|| de::Error::missing_field("celsius"))?;
        Ok(Parsed {
            width: width.ok_or_else(|| de::Error::missing_field("width"))?,
            height: height.ok_or_else(|| de::Error::missing_field("height"))?,
            ts_ms: ts_ms.flatten(),
            count,
            first_bad,
        })
    }
}

/// Parses the `celsius` array into `values`, keeping at most `cap` of them but counting all.
struct CelsiusSeed<'a> {
    values: &'a mut Vec<f32>,
    cap: usize,
}

impl<'de> DeserializeSeed<'de> for CelsiusSeed<'_> {
    type Value = (usize, Option<DecodeError>);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CelsiusSeed<'_> {
    type Value = (usize, Option<DecodeError>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of °C numbers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.values.clear();
        let (mut count, mut first_bad) = (0, None);
        // `null` is what serde_json writes for NaN and ∞.
        while let Some(value) = seq.next_element::<Option<f64>>()? {
            // Checked as f64: 1e39 is finite in JSON but infinite as f32.
            let bad = match value {
                None => Some(DecodeError::NotFinite { index: count }),
                Some(c) if !(MIN_VALID_C as f64..=MAX_VALID_C as f64).contains(&c) => {
                    Some(DecodeError::OutOfRange {
                        index: count,
                        celsius: c as f32,
                    })
                }
                Some(_) => None,
            };
            if first_bad.is_none() {
                first_bad = bad;
            }
            if count < self.cap {
                self.values.push(value.unwrap_or(f64::NAN) as f32);
            }
            count += 1;
        }
        Ok((count, first_bad))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::fixtures::json;
    use super::super::{DecodeError, DecodeOptions, Decoder, decode};
    use crate::frame::{Frame, Scale};

    fn opts() -> DecodeOptions {
        DecodeOptions::default()
    }

    fn json_message(err: DecodeError) -> String {
        match err {
            DecodeError::Json(m) => m,
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }

    #[test]
    fn amg8833_frame_decodes() {
        let celsius: Vec<String> = (0..64).map(|i| format!("{}.25", 20 + i % 8)).collect();
        let text = format!(
            r#"{{"width":8,"height":8,"celsius":[{}],"ts_ms":1732780000000}}"#,
            celsius.join(",")
        );
        let f = decode(text.as_bytes(), &opts()).unwrap();
        assert_eq!((f.width, f.height), (8, 8));
        assert_eq!(f.scale, Scale::CENTIKELVIN);
        assert!((f.celsius_at(7, 0) - 27.25).abs() < 0.006);
        assert_eq!(f.captured_ms, Some(1_732_780_000_000));
    }

    #[test]
    fn keys_may_come_in_any_order_after_whitespace() {
        let text =
            b" \r\n\t{ \"celsius\" : [ 20 , 1e2 ] , \"ts_ms\":null, \"height\":1,\"width\":2 } \n";
        let f = decode(text, &opts()).unwrap();
        assert_eq!((f.width, f.height), (2, 1));
        assert!((f.celsius_at(1, 0) - 100.0).abs() < 0.006);
        assert_eq!(f.captured_ms, None);
    }

    #[test]
    fn invalid_json_is_a_typed_error() {
        for text in [
            &b"{\"width\":"[..],
            b"{\"width\":2,\"height\":1,\"celsius\":[20,21]} trailing",
            b"{\"width\":2,\"height\":1,\"celsius\":[20,21],}",
            b"{\"width\":-2,\"height\":1,\"celsius\":[20,21]}",
            b"{\"width\":2.0,\"height\":1,\"celsius\":[20,21]}",
            b"{\"width\":2,\"height\":1,\"celsius\":[\"20\",21]}",
            b"{\"width\":2,\"height\":1,\"celsius\":[20,21],\"ts_ms\":-1}",
            b"{\"width\":2,\"height\":1}",
        ] {
            let err = decode(text, &opts()).unwrap_err();
            assert!(
                matches!(err, DecodeError::Json(_)),
                "{}: {err:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn unknown_and_duplicate_keys_are_refused() {
        let unknown = br#"{"width":1,"height":1,"celsius":[20],"kelvin":[293]}"#;
        let m = json_message(decode(unknown, &opts()).unwrap_err());
        assert!(m.starts_with("unknown field `kelvin`"), "{m}");
        let twice = br#"{"width":1,"width":1,"height":1,"celsius":[20]}"#;
        let m = json_message(decode(twice, &opts()).unwrap_err());
        assert!(m.starts_with("duplicate field `width`"), "{m}");
    }

    #[test]
    fn pixel_count_must_match_the_declared_size() {
        assert_eq!(
            decode(&json(2, 2, &[1.0, 2.0, 3.0], None), &opts()),
            Err(DecodeError::PixelCount {
                width: 2,
                height: 2,
                expected: 4,
                got: 3
            })
        );
        assert!(matches!(
            decode(&json(2, 1, &[1.0, 2.0, 3.0], None), &opts()),
            Err(DecodeError::PixelCount {
                expected: 2,
                got: 3,
                ..
            })
        ));
    }

    #[test]
    fn zero_and_oversized_sides_are_refused() {
        assert!(matches!(
            decode(br#"{"width":0,"height":2,"celsius":[]}"#, &opts()),
            Err(DecodeError::ZeroSize { .. })
        ));
        assert!(matches!(
            decode(&json(1281, 1, &[20.0], None), &opts()),
            Err(DecodeError::TooLarge { width: 1281, .. })
        ));
        let opts = DecodeOptions {
            expected_size: Some((32, 24)),
            ..opts()
        };
        assert!(matches!(
            decode(&json(8, 8, &[20.0; 64], None), &opts),
            Err(DecodeError::UnexpectedSize { width: 8, .. })
        ));
    }

    #[test]
    fn huge_size_is_refused_before_the_array_is_read() {
        let text = br#"{"width":4000000000,"height":4000000000,"celsius":[20, 21"#;
        assert!(matches!(
            decode(text, &opts()),
            Err(DecodeError::TooLarge {
                width: 4_000_000_000,
                ..
            })
        ));
    }

    #[test]
    fn long_array_before_the_size_is_counted_not_stored() {
        // More values than the largest allowed frame, before width and height.
        let opts = DecodeOptions {
            max_width: 4,
            max_height: 4,
            ..opts()
        };
        let values = vec!["20"; 100].join(",");
        let text = format!(r#"{{"celsius":[{values}],"width":4,"height":4}}"#);
        let mut decoder = Decoder::new();
        let err = decoder
            .decode_into(text.as_bytes(), &opts, &mut Frame::default())
            .unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::PixelCount {
                    expected: 16,
                    got: 100,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(decoder.celsius.len() <= 16, "{}", decoder.celsius.len());
    }

    #[test]
    fn null_is_not_a_temperature() {
        assert_eq!(
            decode(br#"{"width":2,"height":1,"celsius":[1,null]}"#, &opts()),
            Err(DecodeError::NotFinite { index: 1 })
        );
    }

    #[test]
    fn numbers_beyond_f64_are_a_parse_error_and_beyond_f32_out_of_range() {
        let m = json_message(
            decode(br#"{"width":2,"height":1,"celsius":[20,1e309]}"#, &opts()).unwrap_err(),
        );
        assert!(m.starts_with("number out of range"), "{m}");
        // Finite in JSON, infinite as f32: out of range, not "not finite".
        assert!(matches!(
            decode(br#"{"width":2,"height":1,"celsius":[20,-1e39]}"#, &opts()),
            Err(DecodeError::OutOfRange { index: 1, .. })
        ));
        // Checked before rounding to f32, which would make it 1500.
        assert!(matches!(
            decode(br#"{"width":1,"height":1,"celsius":[1500.00001]}"#, &opts()),
            Err(DecodeError::OutOfRange { index: 0, .. })
        ));
        assert!(matches!(
            decode(&json(2, 1, &[20.0, -60.5], None), &opts()),
            Err(DecodeError::OutOfRange { index: 1, .. })
        ));
    }

    #[test]
    fn deep_nesting_is_refused_quickly_without_overflowing_the_stack() {
        let started = Instant::now();
        for prefix in [r#"{"celsius":"#, r#"{"width":"#, r#"{"extra":"#] {
            let text = format!("{prefix}{}", "[".repeat(100_000));
            assert!(matches!(
                decode(text.as_bytes(), &opts()),
                Err(DecodeError::Json(_))
            ));
        }
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn flame_temperatures_use_decikelvin() {
        let f = decode(&json(2, 1, &[25.0, 1200.0], Some(0)), &opts()).unwrap();
        assert_eq!(f.scale, Scale::DECIKELVIN);
        assert!((f.celsius_at(1, 0) - 1200.0).abs() < 0.06);
        assert_eq!(f.captured_ms, Some(0));
    }

    #[test]
    fn failed_decode_leaves_the_frame_untouched() {
        let mut decoder = Decoder::new();
        let mut frame = Frame::default();
        decoder
            .decode_into(&json(2, 1, &[20.0, 21.0], Some(5)), &opts(), &mut frame)
            .unwrap();
        let before = frame.clone();
        for bad in [
            json(3, 1, &[20.0, 21.0, 2000.0], Some(9)),
            json(3, 1, &[20.0, 21.0], Some(9)),
            br#"{"width":3,"height":1,"celsius":[20,21,null]}"#.to_vec(),
            br#"{"width":3,"height":1,"celsius":[20,21,22]"#.to_vec(),
        ] {
            assert!(decoder.decode_into(&bad, &opts(), &mut frame).is_err());
            assert_eq!(frame, before);
        }
    }
}
