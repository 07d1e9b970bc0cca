//! The deterministic core. The engine is fed `(time, topic, payload)` and returns what to
//! publish and what to store; it never reads a clock, a file or the network. Live mode and
//! `replay` are thin drivers around it.
//!
//! ```text
//! frame payload ─ decode ─ detect (kernel) ─ track (zones) ─┐
//!                                                            ├─ incidents ─ Step { messages, incidents, audit, replies }
//! command payload ─ parse ─ stage machine ──────────────────┤
//! time passes ─ escalation timers, camera supervision ──────┘
//! ```
//!
//! A [`Step`] is the unit of durability: a driver commits it to the store in one transaction
//! before it publishes anything in it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::Serialize;

use crate::config::{CameraConfig, Config, is_id};
use crate::decode::{DecodeOptions, Decoder};
use crate::detect::track::{Level, ZoneTracker};
use crate::detect::{Detector, Hotspot, Layout};
use crate::frame::{Frame, SATURATED, Scale};
use crate::incident::command::{self, Command, CommandError, Context, Reply};
use crate::incident::escalation::{self, Timer, ms};
use crate::incident::{
    AuditEntry, Closure, Event, EventKind, Fault, HotspotSummary, Incident, Kind, Role, Severity,
    Stage, Timers, round_c,
};

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// When the engine produced it (ms).
    pub at_ms: u64,
    /// MQTT topic.
    pub topic: String,
    /// Payload bytes (JSON, or a plain word for camera status).
    pub payload: Vec<u8>,
    /// Publish retained.
    pub retain: bool,
}

/// A command reply to remember for `request_id` deduplication.
#[derive(Debug, Clone, PartialEq)]
pub struct RememberedReply {
    /// Role of the command topic.
    pub role: Role,
    /// The request id.
    pub request_id: String,
    /// When it was answered (ms).
    pub at_ms: u64,
    /// The reply.
    pub reply: Reply,
}

/// Everything one input (or one advance of time) changed. Commit it, then publish it.
#[derive(Debug, Default, Clone)]
pub struct Step {
    /// Messages to publish, in order.
    pub messages: Vec<Outbound>,
    /// Incidents whose state changed (their state after the step).
    pub incidents: Vec<Incident>,
    /// Audit-trail entries.
    pub audit: Vec<AuditEntry>,
    /// Command replies to remember.
    pub replies: Vec<RememberedReply>,
}

impl Step {
    /// Whether the step changed nothing.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.incidents.is_empty()
            && self.audit.is_empty()
            && self.replies.is_empty()
    }

    /// Appends another step.
    pub fn extend(&mut self, other: Step) {
        self.messages.extend(other.messages);
        self.incidents.extend(other.incidents);
        self.audit.extend(other.audit);
        self.replies.extend(other.replies);
    }
}

/// What the store gives back on start.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Open incidents and those closed recently enough to be reopened.
    pub incidents: Vec<Incident>,
    /// Remembered command replies, oldest first.
    pub replies: Vec<RememberedReply>,
}

/// Camera health as published on `shedwatch/{gateway}/cameras/{camera}/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraStatus {
    /// Sending valid frames.
    Online,
    /// No frame for `offline_after_s`.
    Offline,
    /// Frames that fail to decode, are frozen or implausible.
    Invalid,
}

impl CameraStatus {
    /// The word published.
    pub fn as_str(self) -> &'static str {
        match self {
            CameraStatus::Online => "online",
            CameraStatus::Offline => "offline",
            CameraStatus::Invalid => "invalid",
        }
    }
}

/// Counters of one camera, for logs and the replay summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CameraCounters {
    /// Frames received.
    pub frames: u64,
    /// Frames decoded and analysed.
    pub analysed: u64,
    /// Decode errors by kind.
    pub decode_errors: BTreeMap<&'static str, u64>,
}

/// A zone (or the area outside every zone) of one camera.
#[derive(Debug)]
struct Zone {
    id: String,
    name: String,
    pile: Option<String>,
    alarm_c: f64,
    warning_c: f64,
    clear_ms: u64,
    tracker: ZoneTracker,
    /// Latest maximum (°C) and when.
    last: Option<(u64, f32)>,
    /// The level at which the last incident was closed by people; a new incident needs a
    /// higher level. Falls with the zone's level.
    baseline: Option<Level>,
    /// Since when the tracker has reported no level.
    quiet_since: Option<u64>,
}

/// Frozen-image detection: a fingerprint of sampled pixels and since when it is unchanged.
#[derive(Debug, Default)]
struct Fingerprint {
    value: u64,
    since_ms: Option<u64>,
}

#[derive(Debug)]
struct Camera {
    id: String,
    config: Option<CameraConfig>,
    configured: bool,
    options: DecodeOptions,
    zone_polygons: Vec<Vec<[f64; 2]>>,
    mask_polygons: Vec<Vec<[f64; 2]>>,
    zones: Vec<Zone>,
    layout: Option<Layout>,
    region_pixels: Vec<u32>,
    thresholds: Vec<u16>,
    thresholds_scale: Option<Scale>,
    counters: CameraCounters,
    last_frame_ms: u64,
    bad_since: Option<(u64, Fault)>,
    fingerprint: Fingerprint,
    status: Option<CameraStatus>,
    offline_after_ms: u64,
}

/// Per-zone observation of one frame, copied out of the detector's buffers.
#[derive(Debug, Clone, Copy, Default)]
struct Observation {
    max_c: f32,
    hottest: Option<HotspotSummary>,
    hottest_raw: u16,
}

/// The engine.
pub struct Engine {
    config: Arc<Config>,
    frame_topic: FrameTopic,
    prefix: String,
    now_ms: Option<u64>,
    started_ms: Option<u64>,
    cameras: BTreeMap<String, Camera>,
    unconfigured: usize,
    incidents: BTreeMap<String, Incident>,
    open: HashMap<(String, Option<String>), String>,
    replies: HashMap<(Role, String), Reply>,
    reply_order: VecDeque<(Role, String)>,
    decoder: Decoder,
    frame: Frame,
    detector: Detector,
    observations: Vec<Observation>,
    changed: BTreeSet<String>,
    refused_topics: u64,
    refused_cameras: HashSet<String>,
}

/// The frame topic pattern, e.g. `thermal/{camera}/frame`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameTopic {
    levels: Vec<String>,
    camera_level: usize,
}

impl FrameTopic {
    /// Parses a pattern with one `{camera}` level (checked by the config).
    pub fn new(pattern: &str) -> FrameTopic {
        let levels: Vec<String> = pattern.split('/').map(str::to_owned).collect();
        let camera_level = levels.iter().position(|l| l == "{camera}").unwrap_or(0);
        FrameTopic {
            levels,
            camera_level,
        }
    }

    /// The subscription filter: `{camera}` becomes `+`.
    pub fn filter(&self) -> String {
        self.levels
            .iter()
            .map(|l| if l == "{camera}" { "+" } else { l.as_str() })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The camera id of a frame topic, or `None` if `topic` is not one.
    pub fn camera<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let mut camera = None;
        let mut levels = topic.split('/');
        for (i, pattern) in self.levels.iter().enumerate() {
            let level = levels.next()?;
            if i == self.camera_level {
                camera = Some(level);
            } else if level != pattern {
                return None;
            }
        }
        if levels.next().is_some() {
            return None;
        }
        camera
    }
}

/// Zone id used in incident ids of camera faults (zone ids start with a letter or digit).
const FAULT_ZONE: &str = "_fault";

impl Engine {
    /// A fresh engine.
    pub fn new(config: Arc<Config>) -> Engine {
        Self::restore(config, Snapshot::default())
    }

    /// An engine that resumes from a store snapshot.
    pub fn restore(config: Arc<Config>, snapshot: Snapshot) -> Engine {
        let mut engine = Engine {
            prefix: format!("shedwatch/{}", config.gateway),
            frame_topic: FrameTopic::new(&config.mqtt.frame_topic),
            config,
            now_ms: None,
            started_ms: None,
            cameras: BTreeMap::new(),
            unconfigured: 0,
            incidents: BTreeMap::new(),
            open: HashMap::new(),
            replies: HashMap::new(),
            reply_order: VecDeque::new(),
            decoder: Decoder::new(),
            frame: Frame::default(),
            detector: Detector::new(),
            observations: Vec::new(),
            changed: BTreeSet::new(),
            refused_topics: 0,
            refused_cameras: HashSet::new(),
        };
        for cam in engine.config.cameras.clone() {
            let state = engine.new_camera(&cam.id, Some(&cam));
            engine.cameras.insert(cam.id.clone(), state);
        }
        for incident in snapshot.incidents {
            if incident.is_open() {
                engine
                    .open
                    .insert(open_key(&incident), incident.incident.clone());
            }
            engine.incidents.insert(incident.incident.clone(), incident);
        }
        for r in snapshot.replies {
            engine.remember(r.role, r.request_id, r.reply);
        }
        engine
    }

    /// The configuration in force.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Takes a new configuration. Open incidents keep the deadlines frozen into them;
    /// cameras whose settings did not change keep their tracking state, others start afresh.
    pub fn reload(&mut self, config: Arc<Config>) {
        let old = std::mem::replace(&mut self.config, config);
        self.prefix = format!("shedwatch/{}", self.config.gateway);
        self.frame_topic = FrameTopic::new(&self.config.mqtt.frame_topic);
        let shared_changed = old.rules != self.config.rules
            || old.limits != self.config.limits
            || old.supervision != self.config.supervision;
        let mut previous = std::mem::take(&mut self.cameras);
        for cam in self.config.cameras.clone() {
            let kept = previous
                .remove(&cam.id)
                .filter(|state| !shared_changed && state.config.as_ref() == Some(&cam));
            let state = match kept {
                Some(state) => state,
                None => {
                    let mut state = self.new_camera(&cam.id, Some(&cam));
                    state.last_frame_ms = self.now_ms.unwrap_or(0);
                    state
                }
            };
            self.cameras.insert(cam.id.clone(), state);
        }
        // Cameras still unconfigured keep their state; removed ones are forgotten.
        previous.retain(|_, c| !c.configured);
        self.unconfigured = previous.len();
        self.cameras.extend(previous);
        tracing::info!(cameras = self.config.cameras.len(), "config reloaded");
    }

    /// The engine's current time (ms), once it has seen one.
    pub fn now_ms(&self) -> Option<u64> {
        self.now_ms
    }

    /// Topic prefix of everything the engine publishes: `shedwatch/{gateway}`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Incidents in memory (open, and closed but still reopenable).
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values()
    }

    /// Counters per camera seen or configured.
    pub fn camera_counters(&self) -> impl Iterator<Item = (&str, &CameraCounters)> {
        self.cameras
            .iter()
            .map(|(id, c)| (id.as_str(), &c.counters))
    }

    /// Messages on topics the engine does not handle.
    pub fn refused_topics(&self) -> u64 {
        self.refused_topics
    }

    /// Whether `topic` carries frames; returns the camera id.
    pub fn frame_camera<'t>(&self, topic: &'t str) -> Option<&'t str> {
        self.frame_topic.camera(topic)
    }

    /// When the engine next needs to run if nothing arrives (ms).
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_timer().map(|(at, _)| at)
    }

    /// Runs every timer due at or before `at_ms`.
    pub fn advance(&mut self, at_ms: u64) -> Step {
        let mut step = Step::default();
        self.advance_into(at_ms, &mut step);
        self.finish(&mut step);
        step
    }

    /// Handles one message at `at_ms` (timers due before it run first).
    pub fn handle(&mut self, at_ms: u64, topic: &str, payload: &[u8]) -> Step {
        let mut step = Step::default();
        self.advance_into(at_ms, &mut step);
        let now = self.now();
        if let Some(camera) = self.frame_camera(topic) {
            let camera = camera.to_owned();
            self.on_frame(now, &camera, payload, &mut step);
        } else if let Some(role) = topic
            .strip_prefix(&self.prefix)
            .and_then(|t| t.strip_prefix("/cmd/"))
            .and_then(Role::parse)
        {
            self.on_command(now, role, payload, &mut step);
        } else {
            self.refused_topics += 1;
        }
        self.finish(&mut step);
        step
    }

    fn now(&self) -> u64 {
        self.now_ms.unwrap_or(0)
    }

    fn set_now(&mut self, at_ms: u64) {
        // Time never goes backwards: a late message is handled at the current time.
        let now = self.now_ms.map_or(at_ms, |n| n.max(at_ms));
        self.now_ms = Some(now);
        if self.started_ms.is_none() {
            self.started_ms = Some(now);
            for cam in self.cameras.values_mut() {
                cam.last_frame_ms = now;
            }
        }
    }

    fn advance_into(&mut self, at_ms: u64, step: &mut Step) {
        self.set_now(at_ms);
        while let Some((due, what)) = self.next_timer() {
            if due > at_ms {
                break;
            }
            match what {
                Due::Incident(id, timer) => {
                    let Some(incident) = self.incidents.get_mut(&id) else {
                        break;
                    };
                    if let Some(event) = escalation::fire(incident, timer, due) {
                        self.emit(step, &id, event, None);
                    }
                }
                Due::CameraOffline(camera) => {
                    self.camera_fault(due, &camera, Fault::Offline, step);
                }
            }
        }
    }

    fn next_timer(&self) -> Option<(u64, Due)> {
        let mut best: Option<(u64, u8, Due)> = None;
        let mut consider = |at: u64, priority: u8, due: Due| {
            // Earliest first; at the same time, fire before alarm before fault before warning.
            if best
                .as_ref()
                .is_none_or(|(b, p, _)| at < *b || (at == *b && priority > *p))
            {
                best = Some((at, priority, due));
            }
        };
        for (id, incident) in &self.incidents {
            if let Some((at, timer)) = escalation::next_timer(incident) {
                consider(
                    at,
                    incident.severity.priority(),
                    Due::Incident(id.clone(), timer),
                );
            }
        }
        if self.started_ms.is_some() {
            for cam in self.cameras.values() {
                if cam.configured && cam.status != Some(CameraStatus::Offline) {
                    consider(
                        cam.last_frame_ms + cam.offline_after_ms,
                        Severity::Fault.priority(),
                        Due::CameraOffline(cam.id.clone()),
                    );
                }
            }
        }
        best.map(|(at, _, due)| (at, due))
    }

    /// Records the changed incidents' final states in the step.
    fn finish(&mut self, step: &mut Step) {
        for id in std::mem::take(&mut self.changed) {
            if let Some(incident) = self.incidents.get(&id) {
                step.incidents.push(incident.clone());
            }
        }
        self.forget_old_closed(step);
    }

    /// Closed incidents leave memory (the store keeps them) at twice the reopen window, so a
    /// late reopen is told it is too late rather than that the incident is unknown; their
    /// retained state is then cleared from the broker (an empty retained message).
    fn forget_old_closed(&mut self, step: &mut Step) {
        let now = self.now();
        let window = 2 * ms(self.config.commands.reopen_within_s);
        let expired: Vec<String> = self
            .incidents
            .values()
            .filter(|i| {
                i.closure
                    .as_ref()
                    .is_some_and(|c| !i.is_open() && now.saturating_sub(c.at_ms) > window)
            })
            .map(|i| i.incident.clone())
            .collect();
        for id in expired {
            self.incidents.remove(&id);
            step.messages.push(Outbound {
                at_ms: now,
                topic: format!("{}/incidents/{id}", self.prefix),
                payload: Vec::new(),
                retain: true,
            });
        }
    }

    fn new_camera(&mut self, id: &str, config: Option<&CameraConfig>) -> Camera {
        let c = &self.config;
        let raw_scale = config.map_or(Scale::CENTIKELVIN, |cam| Scale {
            kelvin_per_count: cam.raw_kelvin_per_count,
            offset_k: cam.raw_offset_k,
        });
        let options = DecodeOptions {
            max_width: c.limits.max_width_px,
            max_height: c.limits.max_height_px,
            raw_scale,
            expected_size: config.and_then(|cam| cam.width.zip(cam.height)),
        };
        let zone = |id: &str, name: &str, pile: Option<String>, rules: crate::config::Rules| Zone {
            id: id.to_owned(),
            name: name.to_owned(),
            pile,
            alarm_c: rules.alarm_c,
            warning_c: rules.warning_c,
            clear_ms: ms(rules.clear_s),
            tracker: ZoneTracker::new(&rules),
            last: None,
            baseline: None,
            quiet_since: None,
        };
        let mut zones: Vec<Zone> = config
            .map(|cam| {
                cam.zones
                    .iter()
                    .map(|z| {
                        zone(
                            &z.id,
                            &z.name,
                            z.pile.clone(),
                            c.rules_for(Some(cam), Some(z)),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The area outside every zone is a zone named after the camera.
        zones.push(zone(id, "", None, c.rules_for(config, None)));
        Camera {
            id: id.to_owned(),
            config: config.cloned(),
            configured: config.is_some(),
            options,
            zone_polygons: config.map_or(Vec::new(), |cam| {
                cam.zones.iter().map(|z| z.polygon.clone()).collect()
            }),
            mask_polygons: config.map_or(Vec::new(), |cam| {
                cam.masks.iter().map(|m| m.polygon.clone()).collect()
            }),
            zones,
            layout: None,
            region_pixels: Vec::new(),
            thresholds: Vec::new(),
            thresholds_scale: None,
            counters: CameraCounters::default(),
            last_frame_ms: self.started_ms.unwrap_or(0),
            bad_since: None,
            fingerprint: Fingerprint::default(),
            status: None,
            offline_after_ms: ms(config
                .and_then(|cam| cam.offline_after_s)
                .unwrap_or(c.supervision.offline_after_s)),
        }
    }

    fn on_frame(&mut self, now: u64, camera: &str, payload: &[u8], step: &mut Step) {
        if !self.cameras.contains_key(camera) {
            if !is_id(camera) {
                self.refused_topics += 1;
                if self.first_refusal(camera) {
                    tracing::warn!(
                        camera,
                        "frames refused: the camera id in the topic is not a valid id"
                    );
                }
                return;
            }
            if self.unconfigured >= self.config.limits.max_unconfigured_cameras {
                self.refused_topics += 1;
                if self.first_refusal(camera) {
                    tracing::error!(
                        camera,
                        limit = self.config.limits.max_unconfigured_cameras,
                        "frames refused: too many unconfigured cameras; add this camera to the config"
                    );
                }
                return;
            }
            tracing::warn!(
                camera,
                "unconfigured camera: analysing its frames with the default rules, whole frame as one zone"
            );
            self.unconfigured += 1;
            let state = self.new_camera(camera, None);
            self.cameras.insert(camera.to_owned(), state);
        }
        let cam = self.cameras.get_mut(camera).expect("inserted above");
        cam.counters.frames += 1;
        cam.last_frame_ms = now;
        let decoded = self
            .decoder
            .decode_into(payload, &cam.options, &mut self.frame);
        if let Err(e) = decoded {
            *cam.counters.decode_errors.entry(e.kind()).or_default() += 1;
            tracing::debug!(camera, error = %e, "frame refused");
            self.frame_was_bad(now, camera, Fault::Invalid, step);
            return;
        }
        match check_plausible(&self.frame, &mut cam.fingerprint, now) {
            Some(fault @ Fault::Frozen) => {
                let since = cam.fingerprint.since_ms.unwrap_or(now);
                let frozen_ms = ms(self.config.supervision.frozen_after_s);
                if now.saturating_sub(since) >= frozen_ms {
                    self.camera_fault(now, camera, fault, step);
                    return;
                }
            }
            Some(fault) => {
                self.frame_was_bad(now, camera, fault, step);
                return;
            }
            None => {}
        }
        self.camera_recovered(now, camera, step);
        self.analyse(now, camera, step);
    }

    /// Whether frames from `camera` are refused for the first time (logged once per camera,
    /// remembering a bounded number of cameras).
    fn first_refusal(&mut self, camera: &str) -> bool {
        if self.refused_cameras.len() >= 256 || self.refused_cameras.contains(camera) {
            return false;
        }
        self.refused_cameras.insert(camera.to_owned());
        true
    }

    /// A bad frame: after `invalid_after_s` of nothing but bad frames, the camera is at fault.
    fn frame_was_bad(&mut self, now: u64, camera: &str, fault: Fault, step: &mut Step) {
        let invalid_ms = ms(self.config.supervision.invalid_after_s);
        let cam = self.cameras.get_mut(camera).expect("camera exists");
        let since = cam.bad_since.get_or_insert((now, fault)).0;
        cam.bad_since = Some((since, fault));
        if now - since >= invalid_ms {
            self.camera_fault(now, camera, fault, step);
        }
    }

    /// Publishes a camera's status if it changed; returns whether it did.
    fn set_status(
        &mut self,
        now: u64,
        camera: &str,
        status: CameraStatus,
        step: &mut Step,
    ) -> bool {
        let cam = self.cameras.get_mut(camera).expect("camera exists");
        if cam.status == Some(status) {
            return false;
        }
        cam.status = Some(status);
        tracing::info!(camera, status = status.as_str(), "camera status");
        step.messages.push(Outbound {
            at_ms: now,
            topic: format!("{}/cameras/{camera}/status", self.prefix),
            payload: status.as_str().as_bytes().to_vec(),
            retain: true,
        });
        true
    }

    fn camera_fault(&mut self, now: u64, camera: &str, fault: Fault, step: &mut Step) {
        let status = if fault == Fault::Offline {
            CameraStatus::Offline
        } else {
            CameraStatus::Invalid
        };
        let changed = self.set_status(now, camera, status, step);
        let cam = &self.cameras[camera];
        if !cam.configured {
            return;
        }
        let key = (camera.to_owned(), None);
        let Some(id) = self.open.get(&key).cloned() else {
            // A fault that people closed while it persisted is raised again only when the
            // camera's status changes.
            if changed {
                let mut incident = self.new_incident(now, camera, None, Severity::Fault);
                incident.fault = Some(fault);
                incident.active = true;
                tracing::warn!(camera, fault = fault.as_str(), incident = %incident.incident, "camera fault");
                self.raise(step, incident);
            }
            return;
        };
        {
            let incident = self.incidents.get_mut(&id).expect("open incident exists");
            // A camera flipping between kinds of bad frames is one fault, not an event per
            // frame; going from bad frames to no frames (or back) is news.
            let offline = |f: Option<Fault>| f == Some(Fault::Offline);
            if offline(incident.fault) != offline(Some(fault)) || !incident.active {
                incident.fault = Some(fault);
                incident.active = true;
                incident.updated_ms = now;
                incident.seq += 1;
                let event = Event::of(incident, EventKind::LevelChanged, now);
                self.emit(step, &id, event, None);
            }
        }
    }

    fn camera_recovered(&mut self, now: u64, camera: &str, step: &mut Step) {
        let cam = self.cameras.get_mut(camera).expect("camera exists");
        cam.bad_since = None;
        self.set_status(now, camera, CameraStatus::Online, step);
        let key = (camera.to_owned(), None);
        let Some(id) = self.open.remove(&key) else {
            return;
        };
        let incident = self.incidents.get_mut(&id).expect("open incident exists");
        incident.active = false;
        close_by_device(incident, now, "recovered");
        tracing::info!(camera, incident = %id, "camera recovered");
        let mut event = Event::of(incident, EventKind::Cleared, now);
        event.resolution = Some("recovered".into());
        self.emit(step, &id, event, None);
    }

    fn analyse(&mut self, now: u64, camera: &str, step: &mut Step) {
        let cam = self.cameras.get_mut(camera).expect("camera exists");
        cam.counters.analysed += 1;
        let (w, h) = (self.frame.width, self.frame.height);
        if cam
            .layout
            .as_ref()
            .is_none_or(|l| (l.width(), l.height()) != (w, h))
        {
            let zones: Vec<&[[f64; 2]]> = cam.zone_polygons.iter().map(Vec::as_slice).collect();
            let masks: Vec<&[[f64; 2]]> = cam.mask_polygons.iter().map(Vec::as_slice).collect();
            let layout = Layout::new(w, h, &zones, &masks);
            cam.region_pixels = layout.region_pixels();
            cam.layout = Some(layout);
            cam.thresholds_scale = None;
        }
        if cam.thresholds_scale != Some(self.frame.scale) {
            let scale = self.frame.scale;
            cam.thresholds = cam
                .zones
                .iter()
                .map(|z| scale.threshold(z.warning_c as f32))
                .collect();
            cam.thresholds_scale = Some(scale);
        }
        let layout = cam.layout.as_ref().expect("built above");
        let detection = self
            .detector
            .detect(&self.frame.pixels, layout, &cam.thresholds);
        let scale = self.frame.scale;
        self.observations.clear();
        for stats in detection.regions {
            self.observations.push(Observation {
                max_c: scale.celsius(stats.max_raw),
                hottest: None,
                hottest_raw: 0,
            });
        }
        for h in detection.hotspots {
            let mut bits = h.regions;
            while bits != 0 {
                let r = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let o = &mut self.observations[r];
                if o.hottest.is_none() || h.max_raw > o.hottest_raw {
                    o.hottest = Some(summary(h, scale));
                    o.hottest_raw = h.max_raw;
                }
            }
        }
        for r in 0..self.observations.len() {
            let cam = self.cameras.get_mut(camera).expect("camera exists");
            if cam.region_pixels[r] == 0 {
                continue;
            }
            let o = self.observations[r];
            self.update_zone(now, camera, r, o, step);
        }
    }

    fn update_zone(&mut self, now: u64, camera: &str, r: usize, o: Observation, step: &mut Step) {
        let cam = self.cameras.get_mut(camera).expect("camera exists");
        let zone = &mut cam.zones[r];
        let u = zone.tracker.update(now, o.max_c);
        zone.last = Some((now, o.max_c));
        if u.level.is_none() {
            zone.quiet_since.get_or_insert(now);
        } else {
            zone.quiet_since = None;
        }
        let quiet_ms = zone.quiet_since.map_or(0, |q| now - q);
        let clear_ms = zone.clear_ms;
        let zone_id = zone.id.clone();
        let key = (camera.to_owned(), Some(zone_id.clone()));
        let Some(id) = self.open.get(&key).cloned() else {
            let zone = &mut self.cameras.get_mut(camera).expect("camera exists").zones[r];
            let above_baseline = match (u.level, zone.baseline) {
                (Some(level), Some(base)) => level > base,
                (Some(_), None) => true,
                (None, _) => false,
            };
            zone.baseline = zone.baseline.min(u.level);
            if let Some(level) = u.level.filter(|_| above_baseline) {
                zone.baseline = None;
                let (name, pile) = (zone.name.clone(), zone.pile.clone());
                let mut incident =
                    self.new_incident(now, camera, Some(&zone_id), Severity::from(level));
                incident.zone_name = name;
                incident.pile = pile;
                incident.level = Some(level);
                incident.active = true;
                incident.trigger = Some(u.trigger);
                observe(&mut incident, &o, u.slope_c_per_min);
                tracing::warn!(
                    camera,
                    zone = %zone_id,
                    severity = level.as_str(),
                    max_c = round_c(o.max_c as f64),
                    incident = %incident.incident,
                    "incident raised"
                );
                self.raise(step, incident);
            }
            return;
        };

        let incident = self.incidents.get_mut(&id).expect("open incident exists");
        let level_severity = u.level.map(Severity::from);
        let rises = match (level_severity, incident.severity) {
            (Some(new), old) => severity_rank(new) > severity_rank(old),
            (None, _) => false,
        };
        if rises {
            let level = u.level.expect("rises implies a level");
            incident.severity = Severity::from(level);
            incident.level = Some(level);
            incident.active = true;
            incident.trigger = Some(u.trigger);
            incident.updated_ms = now;
            observe(incident, &o, u.slope_c_per_min);
            escalation::tighten(incident, &self.config.escalation, now);
            let mut notify = vec![escalation::owner(incident.stage)];
            if level == Level::Fire {
                notify = Role::ALL.to_vec();
            }
            for role in &notify {
                if !incident.notified.contains(role) {
                    incident.notified.push(*role);
                }
            }
            incident.notified.sort();
            incident.seq += 1;
            tracing::warn!(camera, zone = %zone_id, severity = level.as_str(), incident = %id, "severity raised");
            let mut event = Event::of(incident, EventKind::SeverityRaised, now);
            event.trigger = Some(u.trigger);
            event.slope_c_per_min = u.slope_c_per_min.map(round_slope);
            event.notify = notify;
            self.emit(step, &id, event, None);
            return;
        }
        let auto_clear = incident.severity == Severity::Warning
            && u.level.is_none()
            && (u.previous.is_some() || quiet_ms >= clear_ms);
        if auto_clear {
            incident.level = None;
            incident.active = false;
            observe(incident, &o, u.slope_c_per_min);
            close_by_device(incident, now, "cleared");
            self.open.remove(&key);
            tracing::info!(camera, zone = %zone_id, incident = %id, "warning cleared");
            let mut event = Event::of(incident, EventKind::Cleared, now);
            event.resolution = Some("cleared".into());
            self.emit(step, &id, event, None);
            return;
        }
        if u.level != u.previous && u.level != incident.level {
            incident.level = u.level;
            incident.active = u.level.is_some();
            incident.updated_ms = now;
            observe(incident, &o, u.slope_c_per_min);
            incident.seq += 1;
            let event = Event::of(incident, EventKind::LevelChanged, now);
            self.emit(step, &id, event, None);
        } else if let Some(peak) = incident.peak_c
            && o.max_c as f64 > peak
        {
            // Keep the peak current in memory; it is stored with the next event.
            incident.peak_c = Some(round_c(o.max_c as f64));
        }
    }

    fn new_incident(
        &self,
        now: u64,
        camera: &str,
        zone: Option<&str>,
        severity: Severity,
    ) -> Incident {
        let id = format!("{camera}.{}.{now}", zone.unwrap_or(FAULT_ZONE));
        let notified = if severity == Severity::Fire {
            Role::ALL.to_vec()
        } else {
            vec![Role::Platform]
        };
        let mut incident = Incident {
            incident: id,
            gateway: self.config.gateway.clone(),
            site: self.config.site.clone(),
            kind: if zone.is_some() {
                Kind::Hotspot
            } else {
                Kind::Fault
            },
            camera: camera.to_owned(),
            zone: zone.map(str::to_owned),
            zone_name: String::new(),
            pile: None,
            severity,
            stage: Stage::Raised,
            seq: 0,
            raised_ms: now,
            updated_ms: now,
            level: None,
            trigger: None,
            fault: None,
            active: true,
            max_c: None,
            peak_c: None,
            slope_c_per_min: None,
            hotspot: None,
            notified,
            assignee: None,
            timers: Timers {
                deadlines: escalation::deadlines(&self.config.escalation, severity),
                stage_since_ms: now,
                due_ms: None,
                escalated: false,
                repeats: 0,
                next_repeat_ms: None,
                silenced_until_ms: None,
            },
            closure: None,
        };
        escalation::enter_stage(&mut incident, now);
        incident
    }

    fn raise(&mut self, step: &mut Step, mut incident: Incident) {
        let id = incident.incident.clone();
        incident.seq = 1;
        let mut event = Event::of(&incident, EventKind::Raised, incident.raised_ms);
        event.trigger = incident.trigger;
        event.slope_c_per_min = incident.slope_c_per_min;
        event.notify = incident.notified.clone();
        self.open.insert(open_key(&incident), id.clone());
        self.incidents.insert(id.clone(), incident);
        self.emit(step, &id, event, None);
    }

    /// Publishes an event and the incident's retained state, and audits it.
    fn emit(&mut self, step: &mut Step, id: &str, event: Event, actor: Option<(Role, &str)>) {
        let incident = &self.incidents[id];
        let payload = serde_json::to_vec(&event).expect("events serialise");
        // The audit keeps exactly what was published.
        let detail = serde_json::from_slice(&payload).expect("events are JSON");
        step.audit.push(AuditEntry {
            at_ms: event.at_ms,
            incident: Some(id.to_owned()),
            seq: Some(event.seq),
            entry: event.event.as_str().to_owned(),
            role: actor.map(|a| a.0).or(event.role),
            actor: actor.map(|a| a.1.to_owned()).or(event.actor.clone()),
            note: event.note.clone().or(event.resolution.clone()),
            detail,
        });
        step.messages.push(Outbound {
            at_ms: event.at_ms,
            topic: format!("{}/events", self.prefix),
            payload,
            retain: false,
        });
        step.messages.push(Outbound {
            at_ms: event.at_ms,
            topic: format!("{}/incidents/{id}", self.prefix),
            payload: serde_json::to_vec(incident).expect("incidents serialise"),
            retain: true,
        });
        self.changed.insert(id.to_owned());
    }

    fn on_command(&mut self, now: u64, role: Role, payload: &[u8], step: &mut Step) {
        let parsed = command::parse(role, payload, &self.config.commands);
        let request_id = match &parsed {
            Ok(cmd) => Some(cmd.request_id.clone()),
            Err((id, _)) => id.clone(),
        };
        if let Some(rid) = &request_id
            && let Some(previous) = self.replies.get(&(role, rid.clone())).cloned()
        {
            // The same request again: the same reply, nothing else changes.
            self.reply(now, step, role, None, previous, false);
            return;
        }
        let reply = match parsed {
            Err((request_id, error)) => self.refused(request_id, None, error),
            Ok(cmd) => self.apply_command(now, &cmd, step),
        };
        self.reply(now, step, role, request_id, reply, true);
    }

    fn refused(
        &self,
        request_id: Option<String>,
        incident: Option<&Incident>,
        error: CommandError,
    ) -> Reply {
        Reply {
            request_id,
            ok: false,
            error: Some(error.to_string()),
            incident: incident.map(|i| i.incident.clone()),
            stage: incident.map(|i| i.stage),
        }
    }

    fn apply_command(&mut self, now: u64, cmd: &Command, step: &mut Step) -> Reply {
        let Some(incident) = self.incidents.get(&cmd.incident) else {
            return self.refused(
                Some(cmd.request_id.clone()),
                None,
                CommandError::UnknownIncident(cmd.incident.clone()),
            );
        };
        let zone = incident.zone.as_ref().and_then(|z| {
            self.cameras
                .get(&incident.camera)
                .and_then(|c| c.zones.iter().find(|zone| &zone.id == z))
        });
        let fresh_ms = ms(self.config.supervision.offline_after_s);
        let zone_max_c = zone
            .and_then(|z| z.last)
            .filter(|(at, _)| now.saturating_sub(*at) <= fresh_ms)
            .map(|(_, c)| c);
        let alarm_c = zone.map_or(self.config.rules.alarm_c, |z| z.alarm_c);
        let key = open_key(incident);
        let other_open = self
            .open
            .get(&key)
            .filter(|other| **other != cmd.incident)
            .cloned();
        let limits = self.config.commands.clone();
        let ctx = Context {
            now_ms: now,
            limits: &limits,
            zone_max_c,
            alarm_c,
            other_open: other_open.as_deref(),
        };
        let mut updated = incident.clone();
        match command::apply(&mut updated, cmd, &ctx) {
            Err(error) => {
                let incident = &self.incidents[&cmd.incident];
                self.refused(Some(cmd.request_id.clone()), Some(incident), error)
            }
            Ok(event) => {
                let id = cmd.incident.clone();
                match updated.stage {
                    Stage::Closed => {
                        self.open.remove(&key);
                        if let Some(zone_id) = &updated.zone
                            && let Some(zone) = self
                                .cameras
                                .get_mut(&updated.camera)
                                .and_then(|c| c.zones.iter_mut().find(|z| &z.id == zone_id))
                        {
                            // A new incident needs the zone to go above its level now.
                            zone.baseline = zone.tracker.level();
                        }
                    }
                    _ => {
                        self.open.insert(key, id.clone());
                    }
                }
                tracing::info!(
                    incident = %id,
                    role = cmd.role.as_str(),
                    actor = %cmd.actor,
                    action = cmd.action.as_str(),
                    stage = updated.stage.as_str(),
                    "command applied"
                );
                let stage = updated.stage;
                self.incidents.insert(id.clone(), updated);
                self.emit(step, &id, event, Some((cmd.role, &cmd.actor)));
                Reply {
                    request_id: Some(cmd.request_id.clone()),
                    ok: true,
                    error: None,
                    incident: Some(id),
                    stage: Some(stage),
                }
            }
        }
    }

    fn reply(
        &mut self,
        now: u64,
        step: &mut Step,
        role: Role,
        request_id: Option<String>,
        reply: Reply,
        fresh: bool,
    ) {
        step.audit.push(AuditEntry {
            at_ms: now,
            incident: reply.incident.clone(),
            seq: None,
            entry: if fresh { "command" } else { "command_repeated" }.to_owned(),
            role: Some(role),
            actor: None,
            note: reply.error.clone(),
            detail: serde_json::to_value(&reply).expect("replies serialise"),
        });
        step.messages.push(Outbound {
            at_ms: now,
            topic: format!("{}/cmd/result", self.prefix),
            payload: serde_json::to_vec(&reply).expect("replies serialise"),
            retain: false,
        });
        if let Some(rid) = request_id.filter(|_| fresh) {
            self.remember(role, rid.clone(), reply.clone());
            step.replies.push(RememberedReply {
                role,
                request_id: rid,
                at_ms: now,
                reply,
            });
        }
    }

    fn remember(&mut self, role: Role, request_id: String, reply: Reply) {
        let key = (role, request_id);
        if self.replies.insert(key.clone(), reply).is_none() {
            self.reply_order.push_back(key);
        }
        while self.reply_order.len() > self.config.commands.remember_requests {
            if let Some(old) = self.reply_order.pop_front() {
                self.replies.remove(&old);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Due {
    Incident(String, Timer),
    CameraOffline(String),
}

fn open_key(incident: &Incident) -> (String, Option<String>) {
    (incident.camera.clone(), incident.zone.clone())
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Warning => 1,
        Severity::Alarm => 2,
        Severity::Fire => 3,
        Severity::Fault => 0,
    }
}

fn round_slope(s: f64) -> f64 {
    (s * 100.0).round() / 100.0
}

fn summary(h: &Hotspot, scale: Scale) -> HotspotSummary {
    HotspotSummary {
        area_px: h.area_px,
        bbox: h.bbox,
        max_at: [h.max_x, h.max_y],
        mean_c: round_c(scale.celsius_f64(h.mean_raw())),
    }
}

fn observe(incident: &mut Incident, o: &Observation, slope: Option<f64>) {
    let c = round_c(o.max_c as f64);
    incident.max_c = Some(c);
    incident.peak_c = Some(incident.peak_c.map_or(c, |p| p.max(c)));
    incident.slope_c_per_min = slope.map(round_slope);
    incident.hotspot = o.hottest;
}

fn close_by_device(incident: &mut Incident, now: u64, resolution: &str) {
    incident.stage = Stage::Closed;
    incident.updated_ms = now;
    incident.closure = Some(Closure {
        at_ms: now,
        by: "device".into(),
        resolution: resolution.into(),
        forced_reason: None,
    });
    escalation::enter_stage(incident, now);
    incident.seq += 1;
}

/// Checks a decoded frame for the signs of a broken camera: every sampled pixel equal
/// (uniform or all saturated), or the same pixels as the previous frames (frozen). Samples
/// up to 4096 pixels, so the check costs little next to the kernel.
fn check_plausible(frame: &Frame, fp: &mut Fingerprint, now: u64) -> Option<Fault> {
    const FNV_PRIME: u64 = 0x0100_0000_01b3;
    // Independent FNV-1a lanes: one chain of multiplies would wait out its latency per sample.
    const LANES: usize = 8;
    let px = &frame.pixels;
    let n = px.len();
    let stride = n.div_ceil(4096).max(1);
    let first = px[0];
    let seed = 0xcbf2_9ce4_8422_2325 ^ ((frame.width as u64) << 32 | frame.height as u64);
    let mut lanes = [seed; LANES];
    let mut uniform = true;
    let mut i = 0;
    while i + (LANES - 1) * stride < n {
        for (l, h) in lanes.iter_mut().enumerate() {
            let v = px[i + l * stride];
            uniform &= v == first;
            *h = (*h ^ v as u64).wrapping_mul(FNV_PRIME);
        }
        i += LANES * stride;
    }
    while i < n {
        let v = px[i];
        uniform &= v == first;
        lanes[0] = (lanes[0] ^ v as u64).wrapping_mul(FNV_PRIME);
        i += stride;
    }
    let hash = lanes
        .iter()
        .fold(seed, |a, &h| (a ^ h).wrapping_mul(FNV_PRIME));
    // A real sensor always shows noise; one value everywhere (all saturated included) is a
    // broken camera, not a scene.
    if uniform && (n > 1 || first == SATURATED) {
        return Some(Fault::Implausible);
    }
    if fp.since_ms.is_some() && hash == fp.value {
        return Some(Fault::Frozen);
    }
    fp.value = hash;
    fp.since_ms = Some(now);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{PixelFormat, encode_tfrm};

    fn config(extra: &str) -> Arc<Config> {
        let text = format!(
            r#"gateway = "gw"
[[cameras]]
id = "cam"
width = 16
height = 12
[[cameras.zones]]
id = "bay-1"
polygon = [[0, 0], [8, 0], [8, 12], [0, 12]]
[[cameras.zones]]
id = "bay-2"
polygon = [[8, 0], [16, 0], [16, 12], [8, 12]]
{extra}"#
        );
        Arc::new(Config::parse(&text, Some(Default::default())).unwrap())
    }

    /// A 16×12 frame at about 25 °C with a varying pattern (never uniform or frozen) and one
    /// 2×2 hot patch at `(x, y)`.
    fn frame(n: u64, hot: Option<(u32, u32, f32)>) -> Vec<u8> {
        let mut px = vec![0f32; 16 * 12];
        for (i, p) in px.iter_mut().enumerate() {
            *p = 25.0 + ((i as u64 * 7 + n * 13) % 10) as f32 * 0.05;
        }
        if let Some((x, y, c)) = hot {
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                px[((y + dy) * 16 + x + dx) as usize] = c;
            }
        }
        encode_tfrm(16, 12, 0, PixelFormat::F32(&px))
    }

    fn events(step: &Step) -> Vec<(String, String)> {
        step.messages
            .iter()
            .filter(|m| m.topic.ends_with("/events"))
            .map(|m| {
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                (
                    v["event"].as_str().unwrap().to_owned(),
                    v["severity"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn fire_frame_raises_fire_at_once_in_its_zone() {
        let mut e = Engine::new(config(""));
        let s = e.handle(0, "thermal/cam/frame", &frame(0, None));
        assert!(events(&s).is_empty());
        let s = e.handle(1000, "thermal/cam/frame", &frame(1, Some((10, 4, 400.0))));
        assert_eq!(events(&s), vec![("raised".into(), "fire".into())]);
        let i = &s.incidents[0];
        assert_eq!(i.incident, "cam.bay-2.1000");
        assert_eq!(i.hotspot.unwrap().area_px, 4);
        assert_eq!(i.notified, Role::ALL.to_vec());
        assert_eq!(s.messages[1].topic, "shedwatch/gw/incidents/cam.bay-2.1000");
        assert!(s.messages[1].retain);
    }

    #[test]
    fn alarm_latches_after_the_zone_cools() {
        let mut e = Engine::new(config(""));
        let mut all = Vec::new();
        for n in 0..200u64 {
            let hot = (10..20).contains(&n).then_some((2, 2, 95.0));
            all.extend(events(&e.handle(
                n * 1000,
                "thermal/cam/frame",
                &frame(n, hot),
            )));
        }
        assert_eq!(all[0], ("raised".into(), "alarm".into()));
        let open: Vec<_> = e.incidents().filter(|i| i.is_open()).collect();
        assert_eq!(open.len(), 1, "{all:?}");
        assert_eq!(open[0].level, None);
    }

    #[test]
    fn unconfigured_camera_is_analysed_as_one_zone() {
        let mut e = Engine::new(config(""));
        let s = e.handle(0, "thermal/other/frame", &frame(0, Some((3, 3, 500.0))));
        assert_eq!(events(&s), vec![("raised".into(), "fire".into())]);
        assert_eq!(s.incidents[0].zone.as_deref(), Some("other"));
    }

    #[test]
    fn silent_camera_raises_a_fault_and_recovers() {
        let mut e = Engine::new(config(""));
        e.handle(0, "thermal/cam/frame", &frame(0, None));
        assert_eq!(e.next_deadline(), Some(30_000));
        let s = e.advance(40_000);
        assert_eq!(events(&s), vec![("raised".into(), "fault".into())]);
        assert!(
            s.messages
                .iter()
                .any(|m| m.topic.ends_with("cameras/cam/status") && m.payload == b"offline")
        );
        let s = e.handle(45_000, "thermal/cam/frame", &frame(1, None));
        assert_eq!(events(&s), vec![("cleared".into(), "fault".into())]);
    }

    fn fault_of(step: &Step) -> Option<String> {
        step.messages
            .iter()
            .filter(|m| m.topic.ends_with("/events"))
            .map(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap())
            .find(|v| v["severity"] == "fault")
            .map(|v| {
                format!(
                    "{} {}",
                    v["event"].as_str().unwrap(),
                    v["fault"].as_str().unwrap_or("")
                )
            })
    }

    #[test]
    fn retained_state_of_a_long_closed_incident_is_cleared() {
        let mut e = Engine::new(config("[commands]\nreopen_within_s = 60"));
        e.handle(0, "thermal/cam/frame", &frame(0, Some((3, 3, 60.0))));
        let mut cleared = Vec::new();
        for s in 1..200u64 {
            let hot = (s < 40).then_some((3, 3, 60.0));
            let step = e.handle(s * 1000, "thermal/cam/frame", &frame(s, hot));
            cleared.extend(
                step.messages
                    .iter()
                    .filter(|m| m.retain && m.payload.is_empty())
                    .map(|m| (s, m.topic.clone())),
            );
        }
        // The warning cleared itself when the zone cooled; 120 s later its state goes.
        let closed_at = e.incidents().count();
        assert_eq!(closed_at, 0, "forgotten");
        assert_eq!(cleared.len(), 1, "{cleared:?}");
        assert!(
            cleared[0]
                .1
                .starts_with("shedwatch/gw/incidents/cam.bay-1.")
        );
    }

    #[test]
    fn frozen_camera_is_a_fault_after_frozen_after_s() {
        let mut e = Engine::new(config(""));
        let same = frame(7, None);
        let mut faults = Vec::new();
        for s in 0..=125u64 {
            let step = e.handle(s * 1000, "thermal/cam/frame", &same);
            if let Some(f) = fault_of(&step) {
                faults.push((s, f));
            }
        }
        assert_eq!(faults, vec![(120, "raised frozen".to_owned())]);
        let step = e.handle(126_000, "thermal/cam/frame", &frame(8, None));
        assert_eq!(fault_of(&step).as_deref(), Some("cleared frozen"));
    }

    #[test]
    fn undecodable_or_implausible_frames_are_an_invalid_camera() {
        let mut e = Engine::new(config(""));
        e.handle(0, "thermal/cam/frame", &frame(0, None));
        let mut faults = Vec::new();
        for s in 1..=40u64 {
            let payload = if s % 2 == 0 {
                b"garbage".to_vec()
            } else {
                // Every pixel saturated: no real scene looks like that.
                encode_tfrm(16, 12, 0, PixelFormat::U16(&[u16::MAX; 16 * 12]))
            };
            let step = e.handle(s * 1000, "thermal/cam/frame", &payload);
            assert!(
                events(&step).iter().all(|(_, sev)| sev == "fault"),
                "no fire from a broken camera"
            );
            if let Some(f) = fault_of(&step) {
                faults.push((s, f));
            }
        }
        // Bad since 1 s; invalid_after_s = 30 s.
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert_eq!(faults[0].0, 31);
        assert!(faults[0].1.starts_with("raised "), "{faults:?}");
        let (_, counters) = e.camera_counters().next().unwrap();
        assert_eq!(counters.decode_errors.values().sum::<u64>(), 20);
    }
}
