//! Configuration: one TOML file layered over compiled-in defaults, with `SHEDWATCH_…`
//! environment overrides, checked in two stages (parse, then a semantic check that lists
//! every problem with its key path).
//!
//! Units are in the key names: `_c` is °C, `_s` seconds, `_px` pixels, `_c_per_min` °C per
//! minute.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Prefix of environment overrides (`SHEDWATCH_MQTT__URL` sets `mqtt.url`).
pub const ENV_PREFIX: &str = "SHEDWATCH";

/// Why a configuration was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed (syntax, unknown key, wrong type).
    #[error("{0}")]
    Parse(String),
    /// The file parsed but broke one or more rules; every problem is listed.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// One semantic problem: the key path and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `cameras[0].zones[2].polygon`.
    pub key: String,
    /// What is wrong, naming the value and its unit.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Declares the detection rules once and derives both the full set (`Rules`, every key with
/// its default) and the override set (`RuleOverrides`, every key optional).
macro_rules! rules {
    ($($(#[doc = $doc:expr])* $name:ident : $ty:ty = $default:expr;)*) => {
        /// Detection rules for one zone: levels, dwell and clear times, rate of rise.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Rules {
            $($(#[doc = $doc])* pub $name: $ty,)*
        }

        impl Default for Rules {
            fn default() -> Self {
                Rules { $($name: $default,)* }
            }
        }

        /// Rules a camera or zone overrides; unset keys inherit.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct RuleOverrides {
            $($(#[doc = $doc])* #[serde(skip_serializing_if = "Option::is_none")] pub $name: Option<$ty>,)*
        }

        impl Rules {
            /// These rules with `overrides` applied on top.
            pub fn with(&self, overrides: &RuleOverrides) -> Rules {
                Rules { $($name: overrides.$name.unwrap_or(self.$name),)* }
            }
        }
    };
}

rules! {
    /// Warning level (°C): a bay this hot for `warning_dwell_s` raises a warning.
    warning_c: f64 = 55.0;
    /// Alarm level (°C).
    alarm_c: f64 = 80.0;
    /// Fire level (°C).
    fire_c: f64 = 150.0;
    /// Seconds the warning condition must hold before the warning level is entered.
    warning_dwell_s: f64 = 5.0;
    /// Seconds the alarm condition must hold.
    alarm_dwell_s: f64 = 2.0;
    /// Seconds the fire condition must hold (0: the first frame).
    fire_dwell_s: f64 = 0.0;
    /// A level clears only below `level − clear_tolerance_c` (°C).
    clear_tolerance_c: f64 = 3.0;
    /// Seconds the clear condition must hold before a level clears.
    clear_s: f64 = 30.0;
    /// Sliding window (seconds) for the rate of rise of a bay's maximum.
    rise_window_s: f64 = 60.0;
    /// A slope is trusted only once the window holds at least this many seconds of samples.
    rise_min_span_s: f64 = 20.0;
    /// Rate of rise counts only while the bay's maximum is at or above this (°C).
    rise_min_c: f64 = 40.0;
    /// Rise (°C per minute) that raises a warning ("abnormal heating").
    rise_warning_c_per_min: f64 = 10.0;
    /// Rise (°C per minute) that raises an alarm (UL 9540A thermal runaway onset).
    rise_alarm_c_per_min: f64 = 20.0;
    /// A bay cooling faster than this (°C per minute) raises no warning for its level alone.
    cooling_c_per_min: f64 = 1.0;
    /// A jump of at least this (°C) between two frames means an object arrived or left:
    /// the rate-of-rise window restarts.
    step_c: f64 = 5.0;
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Gateway id: names this installation in every MQTT topic (`shedwatch/{gateway}/…`).
    pub gateway: String,
    /// Human name of the site, for messages to people.
    #[serde(default)]
    pub site: String,
    /// Size limits applied to every frame before anything is allocated.
    #[serde(default)]
    pub limits: Limits,
    /// Default detection rules for every camera and zone.
    #[serde(default)]
    pub rules: Rules,
    /// Configured cameras.
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
    /// Stage deadlines and re-notification per severity.
    #[serde(default)]
    pub escalation: Escalation,
    /// Limits on commands from people.
    #[serde(default)]
    pub commands: Commands,
    /// Camera fault detection.
    #[serde(default)]
    pub supervision: Supervision,
    /// Broker connection and topics.
    #[serde(default)]
    pub mqtt: Mqtt,
    /// The incident store.
    #[serde(default)]
    pub store: Store,
}

/// Frame size limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Widest frame accepted (pixels).
    pub max_width_px: u32,
    /// Tallest frame accepted (pixels).
    pub max_height_px: u32,
    /// Cameras not in the config whose frames are still analysed; frames from more are
    /// refused (and logged as errors) so a flood of topics cannot exhaust memory.
    pub max_unconfigured_cameras: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_width_px: 1280,
            max_height_px: 1024,
            max_unconfigured_cameras: 16,
        }
    }
}

/// One thermal camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Camera id, as it appears in the frame topic.
    pub id: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Expected frame width (pixels); frames of another size are rejected.
    #[serde(default)]
    pub width: Option<u32>,
    /// Expected frame height (pixels).
    #[serde(default)]
    pub height: Option<u32>,
    /// Kelvin per raw count of 16-bit payloads (0.01 centikelvin, 0.1 decikelvin, 0.015625
    /// for InfiRay raw/64).
    #[serde(default = "default_kelvin_per_count")]
    pub raw_kelvin_per_count: f64,
    /// Kelvin at raw count 0.
    #[serde(default)]
    pub raw_offset_k: f64,
    /// Rule overrides for every zone of this camera (and the area outside its zones).
    #[serde(default)]
    pub rules: RuleOverrides,
    /// Charging bays, each a polygon in pixel coordinates.
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    /// Areas to ignore (a lamp, a sunlit beam).
    #[serde(default)]
    pub masks: Vec<MaskConfig>,
    /// Overrides `supervision.offline_after_s` for this camera.
    #[serde(default)]
    pub offline_after_s: Option<f64>,
}

fn default_kelvin_per_count() -> f64 {
    0.01
}

/// A charging bay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Zone id, unique within its camera.
    pub id: String,
    /// Human name ("Bay 3").
    #[serde(default)]
    pub name: String,
    /// Vertices `[x, y]` in pixels; (0, 0) is the top-left corner of the frame. A pixel
    /// belongs to the zone when its centre is inside.
    pub polygon: Vec<[f64; 2]>,
    /// The charging-pile outlet that feeds this bay, if any.
    #[serde(default)]
    pub pile: Option<String>,
    /// Rule overrides for this bay.
    #[serde(default)]
    pub rules: RuleOverrides,
}

/// An area whose pixels are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskConfig {
    /// Mask id, unique within its camera.
    pub id: String,
    /// Vertices `[x, y]` in pixels.
    pub polygon: Vec<[f64; 2]>,
}

/// Deadlines for one severity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDeadlines {
    /// Seconds from raised to dispatched before the incident escalates.
    pub dispatch_s: f64,
    /// Seconds from dispatched to on site before the incident escalates.
    pub on_site_s: f64,
    /// Seconds between re-notifications once escalated.
    pub repeat_s: f64,
    /// Most re-notifications per overdue stage.
    pub repeat_max: u32,
}

/// Escalation policy per severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Escalation {
    /// Warning deadlines.
    pub warning: StageDeadlines,
    /// Alarm deadlines.
    pub alarm: StageDeadlines,
    /// Fire deadlines.
    pub fire: StageDeadlines,
    /// Camera fault deadlines.
    pub fault: StageDeadlines,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            warning: StageDeadlines {
                dispatch_s: 600.0,
                on_site_s: 1800.0,
                repeat_s: 300.0,
                repeat_max: 6,
            },
            alarm: StageDeadlines {
                dispatch_s: 60.0,
                on_site_s: 300.0,
                repeat_s: 60.0,
                repeat_max: 30,
            },
            fire: StageDeadlines {
                dispatch_s: 30.0,
                on_site_s: 180.0,
                repeat_s: 60.0,
                repeat_max: 60,
            },
            fault: StageDeadlines {
                dispatch_s: 1800.0,
                on_site_s: 14400.0,
                repeat_s: 1800.0,
                repeat_max: 4,
            },
        }
    }
}

/// Limits on commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Commands {
    /// Longest silence the platform may set (seconds).
    pub silence_max_s: f64,
    /// How long after closing the community may reopen (seconds).
    pub reopen_within_s: f64,
    /// Longest free text (note, resolution, reason) accepted, in characters.
    pub max_text_chars: usize,
    /// Largest command payload accepted (bytes).
    pub max_payload_bytes: usize,
    /// How many command replies are remembered for `request_id` deduplication.
    pub remember_requests: usize,
}

impl Default for Commands {
    fn default() -> Self {
        Commands {
            silence_max_s: 1800.0,
            reopen_within_s: 86400.0,
            max_text_chars: 500,
            max_payload_bytes: 8192,
            remember_requests: 10_000,
        }
    }
}

/// Camera fault detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Supervision {
    /// A configured camera with no valid frame for this long is offline (seconds, ≤ 100).
    pub offline_after_s: f64,
    /// A camera whose frames all failed to decode for this long is invalid (seconds).
    pub invalid_after_s: f64,
    /// A camera sending identical pixels for this long is frozen (seconds).
    pub frozen_after_s: f64,
}

impl Default for Supervision {
    fn default() -> Self {
        Supervision {
            offline_after_s: 30.0,
            invalid_after_s: 30.0,
            frozen_after_s: 120.0,
        }
    }
}

/// Broker connection and topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mqtt {
    /// Broker address: `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    /// Client id; empty means `shedwatch-{gateway}`.
    pub client_id: String,
    /// Frame topic pattern; `{camera}` marks the level that carries the camera id.
    pub frame_topic: String,
    /// QoS of the frame subscription (0 or 1).
    pub frame_qos: u8,
    /// MQTT 5 shared-subscription group for frames (`$share/{group}/…`); empty for none.
    pub share_group: String,
    /// Keep-alive interval (seconds).
    pub keep_alive_s: f64,
    /// First reconnect delay (seconds).
    pub reconnect_min_s: f64,
    /// Longest reconnect delay (seconds).
    pub reconnect_max_s: f64,
    /// Frames waiting for the engine, per camera, before the oldest is dropped.
    pub frame_queue_per_camera: usize,
    /// Messages published but not yet acknowledged at a time.
    pub inflight: u16,
    /// Seconds between retained health reports on `shedwatch/{gateway}/health`.
    pub health_interval_s: f64,
    /// User name.
    pub username: String,
    /// Password (prefer `password_file`).
    pub password: String,
    /// File holding the password; a relative name is looked up in `$CREDENTIALS_DIRECTORY`.
    pub password_file: String,
    /// CA certificate file (PEM) for `mqtts://`.
    pub ca_file: String,
    /// Client certificate file (PEM).
    pub client_cert_file: String,
    /// Client key file (PEM); a relative name is looked up in `$CREDENTIALS_DIRECTORY`.
    pub client_key_file: String,
}

impl Default for Mqtt {
    fn default() -> Self {
        Mqtt {
            url: "mqtt://127.0.0.1:1883".into(),
            client_id: String::new(),
            frame_topic: "thermal/{camera}/frame".into(),
            frame_qos: 0,
            share_group: String::new(),
            keep_alive_s: 15.0,
            reconnect_min_s: 0.5,
            reconnect_max_s: 30.0,
            frame_queue_per_camera: 4,
            inflight: 32,
            health_interval_s: 60.0,
            username: String::new(),
            password: String::new(),
            password_file: String::new(),
            ca_file: String::new(),
            client_cert_file: String::new(),
            client_key_file: String::new(),
        }
    }
}

/// The incident store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// SQLite file; a relative path is resolved against `$STATE_DIRECTORY` when set.
    pub path: PathBuf,
    /// Audit-trail events kept before the oldest closed incidents' events are pruned.
    pub audit_retain: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            path: PathBuf::from("shedwatch.db"),
            audit_retain: 10_000,
        }
    }
}

impl Config {
    /// Reads `path`, applies `SHEDWATCH_…` overrides from the process environment and checks
    /// the result.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
        Self::parse(&text, None).map_err(|e| match e {
            ConfigError::Parse(m) => ConfigError::Parse(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses TOML text with environment overrides (`env` = `None` reads the process
    /// environment) and checks the result.
    pub fn parse(text: &str, env: Option<BTreeMap<String, String>>) -> Result<Config, ConfigError> {
        let mut environment = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true);
        if let Some(env) = env {
            environment = environment.source(Some(env.into_iter().collect()));
        }
        let layered = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .add_source(environment)
            .build()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        let config: Config = layered
            .try_deserialize()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The merged configuration as TOML (secrets blanked).
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        if !shown.mqtt.password.is_empty() {
            shown.mqtt.password = "(set)".into();
        }
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot print config: {e}\n"))
    }

    /// The configured camera with this id.
    pub fn camera(&self, id: &str) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| c.id == id)
    }

    /// Rules in force for a zone (`zone` = `None`: the camera's area outside its zones).
    pub fn rules_for(&self, camera: Option<&CameraConfig>, zone: Option<&ZoneConfig>) -> Rules {
        let mut rules = self.rules.clone();
        if let Some(c) = camera {
            rules = rules.with(&c.rules);
        }
        if let Some(z) = zone {
            rules = rules.with(&z.rules);
        }
        rules
    }

    /// Every semantic problem, each with its key path.
    pub fn problems(&self) -> Vec<Problem> {
        let mut p = Problems::default();
        if !is_id(&self.gateway) {
            p.push("gateway", format!("{:?} {ID_RULE}", self.gateway));
        }
        check_limits(&mut p, &self.limits);
        check_rules(&mut p, "rules", &self.rules);
        let mut camera_ids = HashSet::new();
        for (i, cam) in self.cameras.iter().enumerate() {
            let key = format!("cameras[{i}]");
            check_camera(&mut p, &key, cam, self);
            if !camera_ids.insert(cam.id.as_str()) {
                p.push(
                    format!("{key}.id"),
                    format!("{:?} is used by another camera", cam.id),
                );
            }
        }
        for (name, d) in [
            ("warning", &self.escalation.warning),
            ("alarm", &self.escalation.alarm),
            ("fire", &self.escalation.fire),
            ("fault", &self.escalation.fault),
        ] {
            let key = format!("escalation.{name}");
            positive(&mut p, &format!("{key}.dispatch_s"), d.dispatch_s, "s");
            positive(&mut p, &format!("{key}.on_site_s"), d.on_site_s, "s");
            positive(&mut p, &format!("{key}.repeat_s"), d.repeat_s, "s");
        }
        let e = &self.escalation;
        for (stage, get) in [
            (
                "dispatch_s",
                (|d: &StageDeadlines| d.dispatch_s) as fn(&StageDeadlines) -> f64,
            ),
            ("on_site_s", |d: &StageDeadlines| d.on_site_s),
        ] {
            if get(&e.fire) > get(&e.alarm) {
                p.push(
                    format!("escalation.fire.{stage}"),
                    format!(
                        "{} s is longer than escalation.alarm.{stage} ({} s): fire must not wait longer than alarm",
                        get(&e.fire),
                        get(&e.alarm)
                    ),
                );
            }
        }
        positive(
            &mut p,
            "commands.silence_max_s",
            self.commands.silence_max_s,
            "s",
        );
        positive(
            &mut p,
            "commands.reopen_within_s",
            self.commands.reopen_within_s,
            "s",
        );
        if self.commands.max_text_chars == 0 {
            p.push("commands.max_text_chars", "must be at least 1 character");
        }
        if self.commands.max_payload_bytes < 256 {
            p.push(
                "commands.max_payload_bytes",
                format!(
                    "{} bytes is too small: at least 256 bytes",
                    self.commands.max_payload_bytes
                ),
            );
        }
        check_offline_after(
            &mut p,
            "supervision.offline_after_s",
            self.supervision.offline_after_s,
        );
        positive(
            &mut p,
            "supervision.invalid_after_s",
            self.supervision.invalid_after_s,
            "s",
        );
        positive(
            &mut p,
            "supervision.frozen_after_s",
            self.supervision.frozen_after_s,
            "s",
        );
        check_mqtt(&mut p, &self.mqtt);
        if self.store.path.as_os_str().is_empty() {
            p.push("store.path", "must not be empty");
        }
        if self.store.audit_retain < 10_000 {
            p.push(
                "store.audit_retain",
                format!(
                    "{} events is too few: at least 10000",
                    self.store.audit_retain
                ),
            );
        }
        p.0
    }
}

const ID_RULE: &str =
    "must be 1 to 64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit";

/// Ids appear in MQTT topics and incident ids, so they are kept to a safe alphabet.
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
}

fn positive(p: &mut Problems, key: &str, value: f64, unit: &str) {
    if !(value.is_finite() && value > 0.0) {
        p.push(key, format!("{value} {unit} must be positive"));
    }
}

fn non_negative(p: &mut Problems, key: &str, value: f64, unit: &str) {
    if !(value.is_finite() && value >= 0.0) {
        p.push(key, format!("{value} {unit} must not be negative"));
    }
}

fn check_offline_after(p: &mut Problems, key: &str, value: f64) {
    positive(p, key, value, "s");
    if value > 100.0 {
        p.push(
            key,
            format!("{value} s is above 100 s, the fault-reporting limit for fire-alarm equipment"),
        );
    }
}

fn check_limits(p: &mut Problems, l: &Limits) {
    for (key, v) in [
        ("limits.max_width_px", l.max_width_px),
        ("limits.max_height_px", l.max_height_px),
    ] {
        if !(1..=16384).contains(&v) {
            p.push(key, format!("{v} px is outside 1…16384 px"));
        }
    }
}

fn check_rules(p: &mut Problems, key: &str, r: &Rules) {
    for (name, v) in [
        ("warning_c", r.warning_c),
        ("alarm_c", r.alarm_c),
        ("fire_c", r.fire_c),
        ("rise_min_c", r.rise_min_c),
    ] {
        if !(v.is_finite() && (-60.0..=1500.0).contains(&v)) {
            p.push(
                format!("{key}.{name}"),
                format!("{v} °C is outside −60…1500 °C"),
            );
        }
    }
    if r.warning_c >= r.alarm_c {
        p.push(
            format!("{key}.warning_c"),
            format!("{} °C is not below alarm_c ({} °C)", r.warning_c, r.alarm_c),
        );
    }
    if r.alarm_c >= r.fire_c {
        p.push(
            format!("{key}.alarm_c"),
            format!("{} °C is not below fire_c ({} °C)", r.alarm_c, r.fire_c),
        );
    }
    for (name, v) in [
        ("warning_dwell_s", r.warning_dwell_s),
        ("alarm_dwell_s", r.alarm_dwell_s),
        ("fire_dwell_s", r.fire_dwell_s),
    ] {
        non_negative(p, &format!("{key}.{name}"), v, "s");
    }
    positive(p, &format!("{key}.clear_s"), r.clear_s, "s");
    non_negative(
        p,
        &format!("{key}.clear_tolerance_c"),
        r.clear_tolerance_c,
        "°C",
    );
    positive(p, &format!("{key}.rise_window_s"), r.rise_window_s, "s");
    positive(p, &format!("{key}.rise_min_span_s"), r.rise_min_span_s, "s");
    if r.rise_min_span_s > r.rise_window_s {
        p.push(
            format!("{key}.rise_min_span_s"),
            format!(
                "{} s is longer than rise_window_s ({} s)",
                r.rise_min_span_s, r.rise_window_s
            ),
        );
    }
    positive(
        p,
        &format!("{key}.rise_warning_c_per_min"),
        r.rise_warning_c_per_min,
        "°C/min",
    );
    positive(
        p,
        &format!("{key}.rise_alarm_c_per_min"),
        r.rise_alarm_c_per_min,
        "°C/min",
    );
    if r.rise_warning_c_per_min >= r.rise_alarm_c_per_min {
        p.push(
            format!("{key}.rise_warning_c_per_min"),
            format!(
                "{} °C/min is not below rise_alarm_c_per_min ({} °C/min)",
                r.rise_warning_c_per_min, r.rise_alarm_c_per_min
            ),
        );
    }
    positive(
        p,
        &format!("{key}.cooling_c_per_min"),
        r.cooling_c_per_min,
        "°C/min",
    );
    positive(p, &format!("{key}.step_c"), r.step_c, "°C");
}

fn check_camera(p: &mut Problems, key: &str, cam: &CameraConfig, config: &Config) {
    if !is_id(&cam.id) {
        p.push(format!("{key}.id"), format!("{:?} {ID_RULE}", cam.id));
    }
    for (name, v, limit) in [
        ("width", cam.width, config.limits.max_width_px),
        ("height", cam.height, config.limits.max_height_px),
    ] {
        if let Some(v) = v
            && (v == 0 || v > limit)
        {
            p.push(
                format!("{key}.{name}"),
                format!("{v} px is outside 1…{limit} px (limits.max_{name}_px)"),
            );
        }
    }
    if cam.width.is_some() != cam.height.is_some() {
        p.push(
            format!("{key}.width"),
            "width and height must be given together",
        );
    }
    positive(
        p,
        &format!("{key}.raw_kelvin_per_count"),
        cam.raw_kelvin_per_count,
        "K",
    );
    if !cam.raw_offset_k.is_finite() {
        p.push(
            format!("{key}.raw_offset_k"),
            format!("{} K is not a number", cam.raw_offset_k),
        );
    }
    if let Some(v) = cam.offline_after_s {
        check_offline_after(p, &format!("{key}.offline_after_s"), v);
    }
    let camera_rules = config.rules.with(&cam.rules);
    check_rules(p, &format!("{key}.rules"), &camera_rules);
    let mut ids = HashSet::new();
    let size = cam.width.zip(cam.height);
    for (j, zone) in cam.zones.iter().enumerate() {
        let zkey = format!("{key}.zones[{j}]");
        if !is_id(&zone.id) {
            p.push(format!("{zkey}.id"), format!("{:?} {ID_RULE}", zone.id));
        } else if zone.id == cam.id {
            p.push(
                format!("{zkey}.id"),
                format!(
                    "{:?} is the camera's own id, which names the area outside its zones",
                    zone.id
                ),
            );
        } else if !ids.insert(zone.id.as_str()) {
            p.push(
                format!("{zkey}.id"),
                format!(
                    "{:?} is used by another zone or mask of this camera",
                    zone.id
                ),
            );
        }
        check_polygon(p, &format!("{zkey}.polygon"), &zone.polygon, size);
        if let Some(pile) = &zone.pile
            && !is_id(pile)
        {
            p.push(format!("{zkey}.pile"), format!("{pile:?} {ID_RULE}"));
        }
        check_rules(p, &format!("{zkey}.rules"), &camera_rules.with(&zone.rules));
    }
    if cam.zones.len() > crate::detect::MAX_ZONES {
        p.push(
            format!("{key}.zones"),
            format!(
                "{} zones is more than the {} a camera may have",
                cam.zones.len(),
                crate::detect::MAX_ZONES
            ),
        );
    }
    for (j, mask) in cam.masks.iter().enumerate() {
        let mkey = format!("{key}.masks[{j}]");
        if !is_id(&mask.id) {
            p.push(format!("{mkey}.id"), format!("{:?} {ID_RULE}", mask.id));
        } else if !ids.insert(mask.id.as_str()) {
            p.push(
                format!("{mkey}.id"),
                format!(
                    "{:?} is used by another zone or mask of this camera",
                    mask.id
                ),
            );
        }
        check_polygon(p, &format!("{mkey}.polygon"), &mask.polygon, size);
    }
}

fn check_polygon(p: &mut Problems, key: &str, polygon: &[[f64; 2]], size: Option<(u32, u32)>) {
    if polygon.len() < 3 {
        p.push(
            key,
            format!("needs at least 3 points, got {}", polygon.len()),
        );
        return;
    }
    for (k, [x, y]) in polygon.iter().enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            p.push(format!("{key}[{k}]"), format!("[{x}, {y}] is not a point"));
            continue;
        }
        let (w, h) = size.map_or((f64::MAX, f64::MAX), |(w, h)| (w as f64, h as f64));
        if *x < 0.0 || *y < 0.0 || *x > w || *y > h {
            let frame = size.map_or(String::new(), |(w, h)| format!(" {w}×{h} px"));
            p.push(
                format!("{key}[{k}]"),
                format!("[{x}, {y}] px is outside the frame{frame}"),
            );
        }
    }
    let area2: f64 = polygon
        .iter()
        .zip(polygon.iter().cycle().skip(1))
        .map(|(a, b)| a[0] * b[1] - b[0] * a[1])
        .sum();
    if area2.abs() < 1e-9 {
        p.push(key, "has no area (all points on one line)");
    }
}

fn check_mqtt(p: &mut Problems, m: &Mqtt) {
    if !(m.url.starts_with("mqtt://") || m.url.starts_with("mqtts://")) {
        p.push(
            "mqtt.url",
            format!("{:?} must start with mqtt:// or mqtts://", m.url),
        );
    }
    let levels: Vec<&str> = m.frame_topic.split('/').collect();
    if levels.iter().filter(|l| **l == "{camera}").count() != 1 {
        p.push(
            "mqtt.frame_topic",
            format!(
                "{:?} must have exactly one level that is {{camera}}",
                m.frame_topic
            ),
        );
    }
    if levels
        .iter()
        .any(|l| *l != "{camera}" && (l.contains('+') || l.contains('#') || l.contains('{')))
    {
        p.push(
            "mqtt.frame_topic",
            format!(
                "{:?} may hold no other wildcard or placeholder",
                m.frame_topic
            ),
        );
    }
    if m.frame_qos > 1 {
        p.push("mqtt.frame_qos", format!("{} must be 0 or 1", m.frame_qos));
    }
    if !m.share_group.is_empty() && !is_id(&m.share_group) {
        p.push("mqtt.share_group", format!("{:?} {ID_RULE}", m.share_group));
    }
    positive(p, "mqtt.keep_alive_s", m.keep_alive_s, "s");
    // The watchdog needs the MQTT loop to show life well within WatchdogSec.
    if m.keep_alive_s > 60.0 {
        p.push(
            "mqtt.keep_alive_s",
            format!("{} s is longer than 60 s", m.keep_alive_s),
        );
    }
    if m.reconnect_max_s > 60.0 {
        p.push(
            "mqtt.reconnect_max_s",
            format!("{} s is longer than 60 s", m.reconnect_max_s),
        );
    }
    positive(p, "mqtt.reconnect_min_s", m.reconnect_min_s, "s");
    positive(p, "mqtt.reconnect_max_s", m.reconnect_max_s, "s");
    if m.reconnect_min_s > m.reconnect_max_s {
        p.push(
            "mqtt.reconnect_min_s",
            format!(
                "{} s is longer than reconnect_max_s ({} s)",
                m.reconnect_min_s, m.reconnect_max_s
            ),
        );
    }
    if m.frame_queue_per_camera == 0 {
        p.push("mqtt.frame_queue_per_camera", "0 frames must be at least 1");
    }
    positive(p, "mqtt.health_interval_s", m.health_interval_s, "s");
    if m.inflight == 0 {
        p.push("mqtt.inflight", "0 messages must be at least 1");
    }
    if !m.password.is_empty() && !m.password_file.is_empty() {
        p.push("mqtt.password", "set password or password_file, not both");
    }
    if m.client_cert_file.is_empty() != m.client_key_file.is_empty() {
        p.push(
            "mqtt.client_cert_file",
            "client_cert_file and client_key_file must be given together",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Some(BTreeMap::new()))
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Err(ConfigError::Invalid(p)) => p.iter().map(|p| p.to_string()).collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn gateway_alone_is_a_valid_config() {
        let c = parse("gateway = \"gw-test\"").unwrap();
        assert_eq!(c.gateway, "gw-test");
        assert_eq!(c.rules.alarm_c, 80.0);
        assert_eq!(c.escalation.fire.dispatch_s, 30.0);
    }

    #[test]
    fn the_example_config_is_valid_and_sets_every_key() {
        let text = include_str!("../config/shedwatch.example.toml");
        let c = parse(text).unwrap();
        assert_eq!(c.cameras[0].zones.len(), 3);
        assert_eq!(c.cameras[0].zones[1].rules.warning_c, Some(50.0));
        // Every top-level section and every key of each section appears in the example.
        let example: toml::Table = text.parse().unwrap();
        let defaults: toml::Table =
            toml::from_str(&toml::to_string(&parse("gateway = \"gw\"").unwrap()).unwrap()).unwrap();
        for (section, value) in &defaults {
            let Some(keys) = value.as_table() else {
                assert!(
                    example.contains_key(section),
                    "{section} missing from the example"
                );
                continue;
            };
            let documented = example[section].as_table().unwrap();
            for key in keys.keys() {
                assert!(
                    documented.contains_key(key),
                    "{section}.{key} missing from the example"
                );
            }
        }
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = parse("gateway = \"gw\"\n[rules]\nalarm_cc = 70").unwrap_err();
        assert!(e.to_string().contains("alarm_cc"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = BTreeMap::from([
            (
                "SHEDWATCH_MQTT__URL".to_string(),
                "mqtt://10.0.0.2:1884".to_string(),
            ),
            ("SHEDWATCH_RULES__ALARM_C".to_string(), "75".to_string()),
        ]);
        let c = Config::parse("gateway = \"gw\"\n[rules]\nalarm_c = 70", Some(env)).unwrap();
        assert_eq!(c.mqtt.url, "mqtt://10.0.0.2:1884");
        assert_eq!(c.rules.alarm_c, 75.0);
    }

    #[test]
    fn every_problem_is_reported_with_its_key_path() {
        let p = problems(
            r#"
gateway = "gw"
[rules]
warning_c = 95
[[cameras]]
id = "cam-01"
width = 160
height = 120
[[cameras.zones]]
id = "bay-1"
polygon = [[0, 0], [10, 0], [10, 10]]
[[cameras.zones]]
id = "bay-1"
polygon = [[0, 0], [200, 0], [10, 10]]
[[cameras.zones]]
id = "bay-3"
polygon = [[0, 0], [1, 1]]
[cameras.zones.rules]
clear_s = 0
"#,
        );
        let expected = [
            "rules.warning_c: 95 °C is not below alarm_c (80 °C)",
            "cameras[0].zones[1].id: \"bay-1\" is used by another zone or mask of this camera",
            "cameras[0].zones[1].polygon[1]: [200, 0] px is outside the frame 160×120 px",
            "cameras[0].zones[2].polygon: needs at least 3 points, got 2",
            "cameras[0].zones[2].rules.clear_s: 0 s must be positive",
        ];
        for e in expected {
            assert!(p.iter().any(|x| x == e), "missing {e:?} in {p:#?}");
        }
    }

    #[test]
    fn offline_after_above_100_s_is_refused() {
        let p = problems("gateway = \"gw\"\n[supervision]\noffline_after_s = 120");
        assert_eq!(
            p,
            [
                "supervision.offline_after_s: 120 s is above 100 s, the fault-reporting limit for fire-alarm equipment"
            ]
        );
    }

    #[test]
    fn zone_overrides_camera_overrides_defaults() {
        let c = parse(
            r#"
gateway = "gw"
[[cameras]]
id = "c"
rules = { alarm_c = 70 }
[[cameras.zones]]
id = "z"
polygon = [[0, 0], [4, 0], [4, 4]]
rules = { warning_c = 50 }
"#,
        )
        .unwrap();
        let cam = c.camera("c").unwrap();
        let r = c.rules_for(Some(cam), Some(&cam.zones[0]));
        assert_eq!((r.warning_c, r.alarm_c, r.fire_c), (50.0, 70.0, 150.0));
    }
}
