//! Writes the replay fixtures: `cargo run --example make_fixtures -- fixtures/`.
//!
//! Every synthetic fixture is rendered from a scene in `shedwatch::scene::presets` at 1 fps and
//! rewritten from scratch, so two runs give byte-identical files. The real-data fixtures are
//! copied from the shared thermal-data collection only when it is named:
//! `cargo run --example make_fixtures -- fixtures/ --real-data /work/shared/thermal-data`;
//! otherwise they are left as they are.
//!
//! A fixture is a directory with `config.toml`, `recording.jsonl` (one line per message:
//! `{"t_ms": …, "topic": …, "payload_file": …}`) and the payload files under `frames/`, all
//! written here, plus a hand-written `README.md` (and `LICENSE` for third-party data) saying
//! what shedwatch must report, which a rewrite keeps. Deliberately corrupted payloads have
//! `.corrupt-` in their file name.

mod chain;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use shedwatch::decode::{PixelFormat, encode_tfrm};
use shedwatch::frame::Scale;
use shedwatch::scene::{Scene, presets};

/// The camera clock at t = 0, written into TFRM and JSON payloads (2024-11-28 07:46:40 UTC).
const CAPTURE_EPOCH_MS: u64 = 1_732_780_000_000;

/// The hottest value a centikelvin PNG holds (°C).
const CENTIKELVIN_MAX_C: f32 = 382.2;

fn main() {
    if let Err(e) = run() {
        eprintln!("make_fixtures: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut real = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--real-data" => {
                real = Some(PathBuf::from(
                    args.next().ok_or("--real-data needs a directory")?,
                ))
            }
            _ if out.is_none() => out = Some(PathBuf::from(arg)),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let out = out.ok_or("usage: make_fixtures OUT_DIR [--real-data THERMAL_DATA_DIR]")?;
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for fixture in synthetic() {
        write_synthetic(&out, &fixture)?;
        println!("wrote {}", out.join(fixture.name).display());
    }
    chain::write_chain(&out)?;
    println!("wrote {}", out.join("chain").display());
    if let Some(real) = real {
        write_electrical_panel(&out, &real)?;
        write_pouch_cell(&out, &real)?;
    } else {
        println!("real-data fixtures left as they are (pass --real-data DIR to refresh them)");
    }
    Ok(())
}

/// How a fixture's frames go on the wire.
#[derive(Clone, Copy)]
enum Wire {
    /// 16-bit grayscale PNG in the camera's scale (`raw_kelvin_per_count`).
    Png,
    /// Centikelvin PNG, or a TFRM frame of f32 °C when a frame is hotter than a PNG holds.
    PngOrTfrm,
    /// JSON frames as an MLX90640 bridge sends them, clipped at the sensor's range.
    Json { max_c: f32 },
}

/// A charging bay or mask: id, name and polygon.
struct Area {
    id: &'static str,
    name: &'static str,
    polygon: Vec<[f64; 2]>,
}

/// The camera as configured; `None` in a fixture means the camera is not in the config.
struct CameraConfig {
    name: &'static str,
    width: u32,
    height: u32,
    /// How the camera's 16-bit counts map to kelvin.
    scale: Scale,
    zones: Vec<Area>,
    masks: Vec<Area>,
}

/// A payload sent instead of the frame of that second.
#[derive(Clone, Copy)]
enum Corruption {
    RandomBytes,
    TruncatedPng,
    TfrmSizeMismatch,
    JsonNull,
    OversizedTfrm,
    UnknownMagic,
    Empty,
    WrongSizePng,
    EightBitPng,
}

impl Corruption {
    fn file_suffix(self) -> &'static str {
        match self {
            Corruption::RandomBytes => "corrupt-random.bin",
            Corruption::TruncatedPng => "corrupt-truncated.png",
            Corruption::TfrmSizeMismatch => "corrupt-size-mismatch.tfrm",
            Corruption::JsonNull => "corrupt-null.json",
            Corruption::OversizedTfrm => "corrupt-oversized.tfrm",
            Corruption::UnknownMagic => "corrupt-magic.gif",
            Corruption::Empty => "corrupt-empty.bin",
            Corruption::WrongSizePng => "corrupt-wrong-size.png",
            Corruption::EightBitPng => "corrupt-8bit.png",
        }
    }
}

struct Fixture {
    name: &'static str,
    scene: Scene,
    seconds: u32,
    camera_id: &'static str,
    camera: Option<CameraConfig>,
    wire: Wire,
    corrupt: Vec<(u32, Corruption)>,
}

fn bays() -> Vec<Area> {
    let names = [("bay-1", "Bay 1"), ("bay-2", "Bay 2"), ("bay-3", "Bay 3")];
    names
        .iter()
        .zip(presets::BAYS)
        .map(|(&(id, name), polygon)| Area {
            id,
            name,
            polygon: polygon.to_vec(),
        })
        .collect()
}

fn shed_camera(scale: Scale) -> CameraConfig {
    CameraConfig {
        name: "Shed A, north wall",
        width: presets::WIDTH,
        height: presets::HEIGHT,
        scale,
        zones: bays(),
        masks: Vec::new(),
    }
}

fn synthetic() -> Vec<Fixture> {
    vec![
        Fixture {
            name: "normal-charging",
            scene: presets::normal_charging(),
            seconds: 120,
            camera_id: "cam-01",
            camera: Some(shed_camera(Scale::DECIKELVIN)),
            wire: Wire::Png,
            corrupt: Vec::new(),
        },
        Fixture {
            name: "slow-runaway",
            scene: presets::slow_runaway(),
            seconds: 280,
            camera_id: "cam-01",
            camera: Some(shed_camera(Scale::DECIKELVIN)),
            wire: Wire::Png,
            corrupt: Vec::new(),
        },
        Fixture {
            name: "short-circuit-flame",
            scene: presets::short_circuit_flame(),
            seconds: 36,
            camera_id: "cam-01",
            camera: Some(shed_camera(Scale::CENTIKELVIN)),
            wire: Wire::PngOrTfrm,
            corrupt: Vec::new(),
        },
        Fixture {
            name: "hot-motor-cools",
            scene: presets::hot_motor_cools(),
            seconds: 90,
            camera_id: "cam-01",
            camera: Some(shed_camera(Scale::DECIKELVIN)),
            wire: Wire::Png,
            corrupt: Vec::new(),
        },
        Fixture {
            name: "glint",
            scene: presets::glint(),
            seconds: 45,
            camera_id: "cam-01",
            camera: Some(shed_camera(Scale::DECIKELVIN)),
            wire: Wire::Png,
            corrupt: Vec::new(),
        },
        Fixture {
            name: "masked-roof-beam",
            scene: presets::masked_roof_beam(),
            seconds: 45,
            camera_id: "cam-01",
            camera: Some(CameraConfig {
                masks: vec![Area {
                    id: "roof-beam",
                    name: "",
                    polygon: presets::BEAM_MASK.to_vec(),
                }],
                ..shed_camera(Scale::DECIKELVIN)
            }),
            wire: Wire::Png,
            corrupt: Vec::new(),
        },
        Fixture {
            name: "corrupted-stream",
            scene: presets::corrupted_stream(),
            seconds: 60,
            camera_id: "cam-01",
            camera: Some(shed_camera(Scale::CENTIKELVIN)),
            wire: Wire::Png,
            corrupt: vec![
                (5, Corruption::RandomBytes),
                (10, Corruption::TruncatedPng),
                (15, Corruption::TfrmSizeMismatch),
                (20, Corruption::JsonNull),
                (25, Corruption::OversizedTfrm),
                (31, Corruption::UnknownMagic),
                (40, Corruption::Empty),
                (45, Corruption::WrongSizePng),
                (50, Corruption::EightBitPng),
            ],
        },
        Fixture {
            name: "unconfigured-camera",
            scene: presets::unconfigured_camera(),
            seconds: 30,
            camera_id: "cam-99",
            camera: None,
            wire: Wire::Png,
            corrupt: Vec::new(),
        },
        Fixture {
            name: "mlx90640-json",
            scene: presets::mlx90640(),
            seconds: 30,
            camera_id: "cam-mlx",
            camera: Some(CameraConfig {
                name: "MLX90640 over bays 1-2",
                width: presets::MLX_WIDTH,
                height: presets::MLX_HEIGHT,
                scale: Scale::CENTIKELVIN,
                zones: vec![
                    Area {
                        id: "bay-1",
                        name: "Bay 1",
                        polygon: presets::MLX_BAYS[0].to_vec(),
                    },
                    Area {
                        id: "bay-2",
                        name: "Bay 2",
                        polygon: presets::MLX_BAYS[1].to_vec(),
                    },
                ],
                masks: Vec::new(),
            }),
            wire: Wire::Json {
                max_c: presets::MLX_MAX_C,
            },
            corrupt: Vec::new(),
        },
    ]
}

/// Files of a fixture written by hand, which a rewrite keeps.
const KEPT: [&str; 2] = ["README.md", "LICENSE"];

/// Empties `out/name` but for its README and licence, so nothing stale survives.
fn fresh_dir(out: &Path, name: &str) -> Result<PathBuf, String> {
    let dir = out.join(name);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let entries = fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if KEPT.iter().any(|k| path.file_name() == Some(k.as_ref())) {
            continue;
        }
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(dir)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_synthetic(out: &Path, f: &Fixture) -> Result<(), String> {
    let dir = fresh_dir(out, f.name)?;
    write(
        &dir.join("config.toml"),
        config_toml(f.name, f.camera_id, f.camera.as_ref()).as_bytes(),
    )?;

    let topic = format!("thermal/{}/frame", f.camera_id);
    let mut recording = String::new();
    let mut celsius = Vec::new();
    for second in 0..f.seconds {
        let t_ms = second as u64 * 1000;
        f.scene.render(t_ms, &mut celsius);
        let (file, payload) = match f.corrupt.iter().find(|(s, _)| *s == second) {
            Some(&(_, c)) => (
                format!("{second:06}.{}", c.file_suffix()),
                corrupt_payload(c, &f.scene, &celsius, t_ms),
            ),
            None => {
                let scale = f.camera.as_ref().map_or(Scale::CENTIKELVIN, |c| c.scale);
                encode(f.wire, scale, &f.scene, &celsius, t_ms, second)
            }
        };
        let rel = format!("frames/{}/{file}", f.camera_id);
        write(&dir.join(&rel), &payload)?;
        writeln!(
            recording,
            r#"{{"t_ms": {t_ms}, "topic": "{topic}", "payload_file": "{rel}"}}"#
        )
        .expect("writing to a String");
    }
    write(&dir.join("recording.jsonl"), recording.as_bytes())
}

/// The file name and payload of one frame.
fn encode(
    wire: Wire,
    scale: Scale,
    scene: &Scene,
    celsius: &[f32],
    t_ms: u64,
    second: u32,
) -> (String, Vec<u8>) {
    match wire {
        Wire::Png => (
            format!("{second:06}.png"),
            png16(scene.width, scene.height, &counts(celsius, scale)),
        ),
        Wire::PngOrTfrm => {
            let max = celsius.iter().copied().fold(f32::MIN, f32::max);
            if max < CENTIKELVIN_MAX_C {
                // TFRM f32 frames carry °C; PNG frames the camera's counts.
                debug_assert_eq!(scale, Scale::CENTIKELVIN);
                encode(Wire::Png, scale, scene, celsius, t_ms, second)
            } else {
                let tfrm = encode_tfrm(
                    scene.width as u16,
                    scene.height as u16,
                    CAPTURE_EPOCH_MS + t_ms,
                    PixelFormat::F32(celsius),
                );
                (format!("{second:06}.tfrm"), tfrm)
            }
        }
        Wire::Json { max_c } => {
            let clipped: Vec<f32> = celsius.iter().map(|c| c.min(max_c)).collect();
            (
                format!("{second:06}.json"),
                json_frame(scene.width, scene.height, &clipped, t_ms, None),
            )
        }
    }
}

fn counts(celsius: &[f32], scale: Scale) -> Vec<u16> {
    celsius
        .iter()
        .map(|&c| scale.raw_nearest(c as f64))
        .collect()
}

/// A 16-bit grayscale PNG, best compression.
fn png16(width: u32, height: u32, pixels: &[u16]) -> Vec<u8> {
    let bytes: Vec<u8> = pixels.iter().flat_map(|p| p.to_ne_bytes()).collect();
    png(width, height, &bytes, ExtendedColorType::L16)
}

fn png(width: u32, height: u32, bytes: &[u8], color: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(bytes, width, height, color)
        .expect("encoding a PNG into memory");
    out
}

/// `{"width":…,"height":…,"celsius":[…],"ts_ms":…}` with two decimals; `null_at` writes one
/// pixel as `null`, as serde_json writes NaN.
fn json_frame(
    width: u32,
    height: u32,
    celsius: &[f32],
    t_ms: u64,
    null_at: Option<usize>,
) -> Vec<u8> {
    let mut s = format!(r#"{{"width":{width},"height":{height},"celsius":["#);
    for (i, c) in celsius.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        if Some(i) == null_at {
            s.push_str("null");
        } else {
            write!(s, "{c:.2}").expect("writing to a String");
        }
    }
    write!(s, r#"],"ts_ms":{}}}"#, CAPTURE_EPOCH_MS + t_ms).expect("writing to a String");
    s.into_bytes()
}

/// A deterministic stand-in for a corrupted payload, built from the frame it replaces.
fn corrupt_payload(c: Corruption, scene: &Scene, celsius: &[f32], t_ms: u64) -> Vec<u8> {
    let (w, h) = (scene.width, scene.height);
    let ck = counts(celsius, Scale::CENTIKELVIN);
    match c {
        Corruption::RandomBytes => {
            let mut state = t_ms ^ 0xBAD0_BAD0;
            let mut bytes: Vec<u8> = (0..512)
                .map(|_| (splitmix64(&mut state) >> 56) as u8)
                .collect();
            // Random bytes that happened to start like a PNG, TFRM or JSON frame would test
            // another path; this first byte matches none.
            bytes[0] = 0xA5;
            bytes
        }
        Corruption::TruncatedPng => {
            let mut bytes = png16(w, h, &ck);
            bytes.truncate(bytes.len() / 2);
            bytes
        }
        Corruption::TfrmSizeMismatch => {
            let mut bytes = encode_tfrm(
                w as u16,
                h as u16,
                CAPTURE_EPOCH_MS + t_ms,
                PixelFormat::U16(&ck),
            );
            // One row short of what the header declares.
            bytes.truncate(bytes.len() - 2 * w as usize);
            bytes
        }
        Corruption::JsonNull => json_frame(
            w,
            h,
            celsius,
            t_ms,
            Some((h as usize / 2) * w as usize + w as usize / 2),
        ),
        Corruption::OversizedTfrm => {
            let mut bytes = encode_tfrm(4, 4, CAPTURE_EPOCH_MS + t_ms, PixelFormat::U16(&ck[..16]));
            // Declares 60000 × 60000 pixels (7.2 GB) over 32 bytes of data.
            bytes[6..8].copy_from_slice(&60000u16.to_le_bytes());
            bytes[8..10].copy_from_slice(&60000u16.to_le_bytes());
            bytes
        }
        Corruption::UnknownMagic => {
            let mut bytes = b"GIF89a".to_vec();
            bytes.extend_from_slice(&(w as u16).to_le_bytes());
            bytes.extend_from_slice(&(h as u16).to_le_bytes());
            bytes.extend_from_slice(&[0xF7, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x3B]);
            bytes
        }
        Corruption::Empty => Vec::new(),
        Corruption::WrongSizePng => {
            // Every other pixel of every other row: a 40 × 30 frame from a camera set to 80 × 60.
            let half: Vec<u16> = (0..h / 2)
                .flat_map(|y| (0..w / 2).map(move |x| (y * 2 * w + x * 2) as usize))
                .map(|i| ck[i])
                .collect();
            png16(w / 2, h / 2, &half)
        }
        Corruption::EightBitPng => {
            // A false-colour preview sent by mistake: 8-bit, no temperatures.
            let gray: Vec<u8> = celsius
                .iter()
                .map(|&c| ((c - 20.0) * 8.0).clamp(0.0, 255.0) as u8)
                .collect();
            png(w, h, &gray, ExtendedColorType::L8)
        }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The config: gateway `gw-test` and, when configured, the one camera.
fn config_toml(fixture: &str, camera_id: &str, camera: Option<&CameraConfig>) -> String {
    let mut s = format!("# Fixture {fixture}: see README.md.\ngateway = \"gw-test\"\n");
    let Some(c) = camera else {
        return s;
    };
    let polygon = |p: &[[f64; 2]]| {
        let points: Vec<String> = p.iter().map(|[x, y]| format!("[{x}, {y}]")).collect();
        format!("[{}]", points.join(", "))
    };
    write!(
        s,
        "\n[[cameras]]\nid = \"{camera_id}\"\nname = \"{}\"\nwidth = {}\nheight = {}\n",
        c.name, c.width, c.height
    )
    .expect("writing to a String");
    if c.scale != Scale::CENTIKELVIN {
        writeln!(s, "raw_kelvin_per_count = {}", c.scale.kelvin_per_count)
            .expect("writing to a String");
    }
    for z in &c.zones {
        write!(
            s,
            "\n[[cameras.zones]]\nid = \"{}\"\nname = \"{}\"\npolygon = {}\n",
            z.id,
            z.name,
            polygon(&z.polygon)
        )
        .expect("writing to a String");
    }
    for m in &c.masks {
        write!(
            s,
            "\n[[cameras.masks]]\nid = \"{}\"\npolygon = {}\n",
            m.id,
            polygon(&m.polygon)
        )
        .expect("writing to a String");
    }
    s
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    let bytes = fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    write(to, &bytes)
}

/// Two CC0 FLIR stills of one electrical panel, each held for 30 s at 1 fps.
fn write_electrical_panel(out: &Path, real: &Path) -> Result<(), String> {
    let name = "real-electrical-panel";
    let dir = fresh_dir(out, name)?;
    let stills = real.join("flir-wikimedia-stills/stills/ck16");
    let camera = CameraConfig {
        name: "FLIR InfraCAM over an electrical panel (Wikimedia Commons, CC0)",
        width: 120,
        height: 120,
        scale: Scale::CENTIKELVIN,
        zones: vec![
            Area {
                id: "upper-wires",
                name: "Wire bundle above the joint",
                polygon: vec![[40.0, 0.0], [80.0, 0.0], [80.0, 52.0], [40.0, 52.0]],
            },
            Area {
                id: "neutral-joint",
                name: "Overheated neutral conductor",
                polygon: vec![[40.0, 52.0], [80.0, 52.0], [80.0, 70.0], [40.0, 70.0]],
            },
            Area {
                id: "lower-wires",
                name: "Wire bundle below the joint",
                polygon: vec![[40.0, 70.0], [80.0, 70.0], [80.0, 120.0], [40.0, 120.0]],
            },
        ],
        masks: Vec::new(),
    };
    write(
        &dir.join("config.toml"),
        config_toml(name, "cam-01", Some(&camera)).as_bytes(),
    )?;
    let mut recording = String::new();
    for (i, still) in ["frame_000000.png", "frame_000014.png"].iter().enumerate() {
        let rel = format!("frames/cam-01/{still}");
        copy(&stills.join(still), &dir.join(&rel))?;
        for s in 0..30u64 {
            let t_ms = (i as u64 * 30 + s) * 1000;
            writeln!(
                recording,
                r#"{{"t_ms": {t_ms}, "topic": "thermal/cam-01/frame", "payload_file": "{rel}"}}"#
            )
            .expect("writing to a String");
        }
    }
    write(&dir.join("recording.jsonl"), recording.as_bytes())?;
    println!("wrote {}", dir.display());
    Ok(())
}

/// Every 5th second of the BSD-2 pouch-cell heating sequence (11 × 11 grid, 1 Hz).
fn write_pouch_cell(out: &Path, real: &Path) -> Result<(), String> {
    let name = "real-pouch-cell";
    let dir = fresh_dir(out, name)?;
    let grid = real.join("pouch-cell-heating-11x11/grid11/ck16");
    let camera = CameraConfig {
        name: "Pouch cell on an 11x11 grid (Battery Intelligence Lab, BSD-2-Clause)",
        width: 11,
        height: 11,
        scale: Scale::CENTIKELVIN,
        zones: vec![Area {
            id: "cell-centre",
            name: "Over the heater",
            polygon: vec![[3.0, 3.0], [8.0, 3.0], [8.0, 8.0], [3.0, 8.0]],
        }],
        masks: Vec::new(),
    };
    write(
        &dir.join("config.toml"),
        config_toml(name, "cam-01", Some(&camera)).as_bytes(),
    )?;
    let mut recording = String::new();
    for index in (0..977u64).step_by(5) {
        let file = format!("frame_{index:06}.png");
        let rel = format!("frames/cam-01/{file}");
        copy(&grid.join(&file), &dir.join(&rel))?;
        writeln!(
            recording,
            r#"{{"t_ms": {}, "topic": "thermal/cam-01/frame", "payload_file": "{rel}"}}"#,
            index * 1000
        )
        .expect("writing to a String");
    }
    write(&dir.join("recording.jsonl"), recording.as_bytes())?;
    println!("wrote {}", dir.display());
    Ok(())
}
