//! The scenes behind the test fixtures, also meant for the live demo.
//!
//! Most are an 80×60 camera (a FLIR Lepton 2) high on a shed wall, looking down on three
//! charging bays ([`BAYS`]): the roof at the top of the frame is warmer than the floor. The
//! mlx90640 scene is a 32×24 hobby sensor over two bays ([`MLX_BAYS`]). Times are seconds of
//! scene time; the fixtures sample them at 1 fps from 0.

use super::{Ambient, Curve, Object, Runaway, Scene, Shape};

/// Width of the shed camera (pixels).
pub const WIDTH: u32 = 80;
/// Height of the shed camera (pixels).
pub const HEIGHT: u32 = 60;

/// The three bays of the 80×60 shed, left to right: trapezoids, as the floor is seen from
/// above at an angle.
pub const BAYS: [[[f64; 2]; 4]; 3] = [
    [[6.0, 22.0], [26.0, 22.0], [25.0, 58.0], [1.0, 58.0]],
    [[29.0, 22.0], [51.0, 22.0], [53.0, 58.0], [27.0, 58.0]],
    [[54.0, 22.0], [74.0, 22.0], [79.0, 58.0], [55.0, 58.0]],
];

/// The mask over the sunlit roof beam of [`masked_roof_beam`]: the beam and its soft edge,
/// with a margin.
pub const BEAM_MASK: [[f64; 2]; 4] = [[0.0, 0.0], [80.0, 0.0], [80.0, 12.0], [0.0, 12.0]];

/// Width of the MLX90640 sensor (pixels).
pub const MLX_WIDTH: u32 = 32;
/// Height of the MLX90640 sensor (pixels).
pub const MLX_HEIGHT: u32 = 24;

/// The two bays of the 32×24 sensor, left and right.
pub const MLX_BAYS: [[[f64; 2]; 4]; 2] = [
    [[1.0, 8.0], [15.0, 8.0], [15.0, 23.0], [1.0, 23.0]],
    [[17.0, 8.0], [31.0, 8.0], [31.0, 23.0], [17.0, 23.0]],
];

/// The upper limit of the MLX90640's object range (°C): it reports nothing hotter.
pub const MLX_MAX_C: f32 = 300.0;

/// x of the centre of each bay's pack (pixels).
const BAY_X: [f32; 3] = [14.5, 40.5, 66.5];
/// y of the packs (pixels).
const PACK_Y: f32 = 44.5;

/// A summer shed: 30–32 °C under the roof, 23–25 °C on the floor.
fn shed_ambient() -> Ambient {
    Ambient {
        top_left_c: 30.0,
        across_k: 2.0,
        down_k: -7.0,
        drift_k_per_h: 0.0,
    }
}

/// An e-bike pack lying in bay `bay` (0-based): about 36 × 16 cm at 4 cm per pixel.
fn pack(bay: usize, curve: Curve) -> Object {
    Object::new(
        Shape::Ellipse {
            cx: BAY_X[bay],
            cy: PACK_Y,
            rx: 4.5,
            ry: 2.0,
        },
        curve,
    )
    .with_falloff(0.3)
}

/// The charger brick beside the pack in bay `bay`.
fn charger(bay: usize, curve: Curve) -> Object {
    let x = BAY_X[bay] + 2.0;
    Object::new(
        Shape::Rect {
            x0: x,
            y0: 49.0,
            x1: x + 3.0,
            y1: 51.0,
        },
        curve,
    )
}

/// A pack put on charge at `appear_s` (negative: before the scene starts), settling at
/// ambient plus `rise_k`.
fn charging_pack(bay: usize, rise_k: f64, appear_s: f64) -> Object {
    pack(
        bay,
        Curve::Warming {
            rise_k,
            tau_s: 900.0,
        },
    )
    .between(appear_s, f64::INFINITY)
}

/// A charger brick plugged in at `appear_s` (chargers run 35–45 °C).
fn warm_charger(bay: usize, appear_s: f64) -> Object {
    charger(
        bay,
        Curve::Warming {
            rise_k: 12.0,
            tau_s: 600.0,
        },
    )
    .between(appear_s, f64::INFINITY)
}

/// The burning vent gas of the pack in `bay`, rising above it once the flame has developed.
fn vent_plume(bay: usize) -> Object {
    Object::new(
        Shape::Ellipse {
            cx: BAY_X[bay],
            cy: PACK_Y - 6.0,
            rx: 3.5,
            ry: 5.0,
        },
        Curve::Flame {
            celsius: 650.0,
            flicker_k: 80.0,
        },
    )
    .with_edge(2.0)
    .with_falloff(0.5)
}

/// Three bays on a summer afternoon: two packs charging at 30–35 °C, a third plugged in at
/// 40 s. Nothing reaches 40 °C.
pub fn normal_charging() -> Scene {
    Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_0001)
        .with_object(charging_pack(0, 9.0, -1800.0))
        .with_object(warm_charger(0, -1800.0))
        .with_object(charging_pack(1, 7.0, -300.0))
        .with_object(charging_pack(2, 9.0, 40.0))
        .with_object(warm_charger(2, 40.0))
}

/// Onset of self-heating in [`slow_runaway`] (s).
pub const RUNAWAY_ONSET_S: f64 = 10.0;

/// Bay 2's pack goes into thermal runaway ([`Runaway::typical`]) at 10 s: 12 °C/min from
/// ~34.5 °C, 25 °C/min from 55 °C, venting at 120 °C at about 4.5 min and a flame of ~800 °C
/// with a plume above the pack. Bay 1 charges normally.
pub fn slow_runaway() -> Scene {
    let runaway = Runaway::typical(RUNAWAY_ONSET_S);
    let mut scene = Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_0002)
        .with_object(charging_pack(0, 8.0, -1800.0))
        .with_object(warm_charger(0, -1800.0))
        .with_object(pack(1, Curve::Runaway(runaway)).between(0.0, f64::INFINITY));
    let ambient = scene.ambient_c(BAY_X[1] as f64, PACK_Y as f64, 0.0);
    let (_, vent) = runaway.stage_ages(ambient);
    let plume = vent_plume(1).between(vent + runaway.ignition_s, f64::INFINITY);
    scene.objects.push(plume);
    scene
}

/// When the short circuit in [`short_circuit_flame`] ignites (s).
pub const SHORT_CIRCUIT_S: f64 = 30.0;

/// Bay 2's pack charges at ~32 °C until a short circuit sets it alight at 35 s: ambient to a
/// 750 ± 60 °C flame from one frame to the next.
pub fn short_circuit_flame() -> Scene {
    Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_0003)
        .with_object(charging_pack(0, 8.0, -1800.0))
        .with_object(charging_pack(1, 8.0, -1800.0))
        .with_object(warm_charger(1, -1800.0))
        .with_object(
            Object::new(
                Shape::Ellipse {
                    cx: BAY_X[1],
                    cy: PACK_Y - 3.0,
                    rx: 4.0,
                    ry: 5.0,
                },
                Curve::Flame {
                    celsius: 750.0,
                    flicker_k: 60.0,
                },
            )
            .with_edge(1.5)
            .with_falloff(0.4)
            .between(SHORT_CIRCUIT_S, f64::INFINITY),
        )
}

/// When the bike of [`hot_motor_cools`] is parked (s).
pub const MOTOR_PARKED_S: f64 = 10.0;

/// An e-bike is parked in bay 1 at 10 s with its rear hub motor at 65 °C (after a climb); the
/// motor cools by Newton's law (τ = 15 min) and its pack is 31 °C. Bay 2 charges normally.
pub fn hot_motor_cools() -> Scene {
    let parked = |o: Object| o.between(MOTOR_PARKED_S, f64::INFINITY);
    Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_0004)
        .with_object(charging_pack(1, 8.0, -1800.0))
        .with_object(parked(
            Object::new(
                Shape::Rect {
                    x0: 9.0,
                    y0: 32.0,
                    x1: 20.0,
                    y1: 35.0,
                },
                Curve::Cooling {
                    start_c: 31.0,
                    tau_s: 1200.0,
                },
            )
            .with_falloff(0.2),
        ))
        .with_object(parked(
            Object::new(
                Shape::Ellipse {
                    cx: 20.5,
                    cy: 42.5,
                    rx: 2.5,
                    ry: 2.5,
                },
                Curve::Cooling {
                    start_c: 65.0,
                    tau_s: 900.0,
                },
            )
            .with_falloff(0.3),
        ))
}

/// When the glint of [`glint`] shows (s).
pub const GLINT_S: f64 = 30.0;

/// Packs charge in bays 1 and 3; at 30 s, and for that one frame only, the sun glints off the
/// chrome of a bike in bay 2 and reads 110 °C.
pub fn glint() -> Scene {
    Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_0005)
        .with_object(charging_pack(0, 8.0, -1800.0))
        .with_object(charging_pack(2, 6.0, -600.0))
        .with_object(
            Object::new(
                Shape::Ellipse {
                    cx: 38.5,
                    cy: 33.5,
                    rx: 1.0,
                    ry: 0.7,
                },
                Curve::Constant(110.0),
            )
            .between(GLINT_S, GLINT_S + 0.5),
        )
}

/// A hot afternoon: a steel roof beam across the top of the frame has been in the sun for
/// 1.5 h and reads ~81 °C; it lies inside [`BEAM_MASK`]. Packs charge in bays 1 and 2.
pub fn masked_roof_beam() -> Scene {
    let ambient = Ambient {
        top_left_c: 33.0,
        across_k: 2.0,
        down_k: -8.0,
        drift_k_per_h: 0.0,
    };
    Scene::new(WIDTH, HEIGHT, ambient, 0x5EED_0006)
        .with_object(
            Object::new(
                Shape::Rect {
                    x0: 0.0,
                    y0: 3.0,
                    x1: 80.0,
                    y1: 8.0,
                },
                Curve::Warming {
                    rise_k: 52.0,
                    tau_s: 1800.0,
                },
            )
            .with_edge(1.5)
            .between(-5400.0, f64::INFINITY),
        )
        .with_object(charging_pack(0, 8.0, -1800.0))
        .with_object(charging_pack(1, 9.0, -1200.0))
}

/// When the hot pack of [`corrupted_stream`] is put down (s).
pub const HOT_PACK_S: f64 = 30.0;

/// Packs charge in bays 1 and 2; at 30 s a pack that overheated on the ride is put on charge
/// in bay 3 at 95 °C and cools slowly (τ = 20 min): an alarm by level.
pub fn corrupted_stream() -> Scene {
    Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_0007)
        .with_object(charging_pack(0, 8.0, -1800.0))
        .with_object(warm_charger(0, -1800.0))
        .with_object(charging_pack(1, 6.0, -900.0))
        .with_object(
            pack(
                2,
                Curve::Cooling {
                    start_c: 95.0,
                    tau_s: 1200.0,
                },
            )
            .between(HOT_PACK_S, f64::INFINITY),
        )
}

/// When the fire of [`unconfigured_camera`] starts (s).
pub const UNCONFIGURED_FIRE_S: f64 = 20.0;

/// A camera nobody configured: a pack charging, then at 20 s a small flame that fills only
/// part of each pixel and reads 300 ± 25 °C (within a centikelvin PNG's 382 °C).
pub fn unconfigured_camera() -> Scene {
    Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_0008)
        .with_object(charging_pack(1, 8.0, -1800.0))
        .with_object(
            Object::new(
                Shape::Ellipse {
                    cx: 40.5,
                    cy: 40.5,
                    rx: 2.5,
                    ry: 3.5,
                },
                Curve::Flame {
                    celsius: 300.0,
                    flicker_k: 25.0,
                },
            )
            .with_falloff(0.4)
            .between(UNCONFIGURED_FIRE_S, f64::INFINITY),
        )
}

/// When the flame of [`mlx90640`] starts (s).
pub const MLX_FLAME_S: f64 = 20.0;

/// A 32×24 MLX90640 over two bays (noise 0.3 °C): a pack charging in the left bay; at 20 s a
/// 700 °C flame in the right bay, which the sensor reports as at most [`MLX_MAX_C`].
pub fn mlx90640() -> Scene {
    let ambient = Ambient {
        top_left_c: 24.0,
        across_k: 1.0,
        down_k: -3.0,
        drift_k_per_h: 0.0,
    };
    Scene::new(MLX_WIDTH, MLX_HEIGHT, ambient, 0x5EED_0009)
        .with_noise(0.3)
        .with_object(
            Object::new(
                Shape::Ellipse {
                    cx: 8.0,
                    cy: 17.5,
                    rx: 2.5,
                    ry: 1.2,
                },
                Curve::Warming {
                    rise_k: 9.0,
                    tau_s: 900.0,
                },
            )
            .with_falloff(0.3)
            .between(-1800.0, f64::INFINITY),
        )
        .with_object(
            Object::new(
                Shape::Ellipse {
                    cx: 24.5,
                    cy: 15.5,
                    rx: 1.5,
                    ry: 2.5,
                },
                Curve::Flame {
                    celsius: 700.0,
                    flicker_k: 60.0,
                },
            )
            .with_falloff(0.5)
            .between(MLX_FLAME_S, f64::INFINITY),
        )
}

/// What the property staff of [`demo`] have done to bay 2's pack, in scene seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DemoResponse {
    /// When the flames were knocked down with an extinguisher.
    pub extinguished_s: Option<f64>,
    /// When the pack was carried out of the shed.
    pub removed_s: Option<f64>,
}

/// When the pack of [`demo`] starts to self-heat (s).
pub const DEMO_ONSET_S: f64 = 5.0;

/// The runaway of [`demo`]: [`Runaway::typical`] faster, so the whole chain fits in a few
/// minutes of scene time: 15 °C/min from charging (~36 °C) to 50 °C, then 40 °C/min to
/// venting at 120 °C, which is at about 2 min 47 s. The two rates still straddle shedwatch's
/// 10 and 20 °C/min rate-of-rise levels, so the detector sees the same sequence as in
/// [`slow_runaway`]: a warning by rate, an alarm by rate, then fire.
pub fn demo_runaway() -> Runaway {
    Runaway {
        heating_c_per_min: 15.0,
        accelerating_c: 50.0,
        accelerating_c_per_min: 40.0,
        ..Runaway::typical(DEMO_ONSET_S + 1800.0)
    }
}

/// Temperature of the pack's casing right after its flames are knocked down (°C): the gas
/// flame (~800 °C) is out, the casing and the cells under it are not.
pub const DEMO_PACK_AFTER_FIRE_C: f64 = 350.0;

/// The scene of `shedwatch demo`: packs charge normally in bays 1 and 3; bay 2's pack has
/// been on charge for half an hour when it starts to self-heat at [`DEMO_ONSET_S`]
/// ([`demo_runaway`]): a warning by rate of rise at about 22 s, an alarm by rate at about
/// 80 s, venting and a flame with a plume (as in [`slow_runaway`]) at about 167 s.
///
/// What happens next is up to the people, given in `response`: once extinguished the
/// flame and plume are gone and the pack cools by Newton's law from
/// [`DEMO_PACK_AFTER_FIRE_C`] with τ = 5 min (a ~2.5 kg pack, h·A ≈ 8 W/K: still-air
/// convection and radiation from a hot casing); once carried out, bay 2 holds only its
/// charger brick (~37 °C).
pub fn demo(response: DemoResponse) -> Scene {
    let runaway = demo_runaway();
    let out = response.extinguished_s.unwrap_or(f64::INFINITY);
    let removed = response.removed_s.unwrap_or(f64::INFINITY);
    let burning_until = out.min(removed);
    let mut scene = Scene::new(WIDTH, HEIGHT, shed_ambient(), 0x5EED_00DE)
        .with_object(charging_pack(0, 8.0, -1800.0))
        .with_object(warm_charger(0, -1800.0))
        .with_object(charging_pack(2, 7.0, -600.0))
        .with_object(warm_charger(2, -600.0))
        .with_object(warm_charger(1, -1800.0))
        .with_object(pack(1, Curve::Runaway(runaway)).between(-1800.0, burning_until));
    let ambient = scene.ambient_c(BAY_X[1] as f64, PACK_Y as f64, 0.0);
    let (_, vent_age) = runaway.stage_ages(ambient);
    let flame_s = vent_age - 1800.0 + runaway.ignition_s;
    let plume = vent_plume(1).between(flame_s, burning_until);
    scene.objects.push(plume);
    if out < removed {
        let cooling = Curve::Cooling {
            start_c: DEMO_PACK_AFTER_FIRE_C,
            tau_s: 300.0,
        };
        scene.objects.push(pack(1, cooling).between(out, removed));
    }
    scene
}
