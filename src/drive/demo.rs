//! `shedwatch demo`: the whole closure chain on one machine, with no setup, in under a minute.
//!
//! ```text
//!  camera ──── thermal/shed-cam/frame ───►┐
//!  people ──── shedwatch/demo/cmd/… ─────►├─ embedded broker ◄──► daemon (drive::live,
//!  narrator ◄─ shedwatch/demo/# ──────────┘                        accelerated clock)
//! ```
//!
//! Everything runs in this process: the embedded broker on a free loopback port, the daemon
//! on a clock `speed` times faster than real time, a simulated camera publishing
//! [`presets::demo`] at one frame per scene second, and three scripted people, each its own
//! MQTT client, who answer the daemon's events the way staff would: the platform operator
//! dispatches late enough for the incident to escalate first, the property staff walk over,
//! put the fire out and report, and the community office tries to close while the bay is
//! still hot (the interlock refuses) and closes once the pack is out. A narrator subscribed
//! to everything the daemon publishes prints the chain in plain words.
//!
//! Times are scene time: `mm:ss` since the gateway came online. People act half a second
//! after a whole scene second, between two frames, so what the daemon saw when it handled a
//! command, and so what is printed, is the same on every run as long as a message takes
//! under half a scene second to get through.
//!
//! The people and the narrator do no I/O: they read events and replies and return what to
//! send or print, so a test can run the whole script against the engine on simulated time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, Publish, QoS};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::broker;
use super::live::{self, Clock};
use crate::config::Config;
use crate::decode::{PixelFormat, encode_tfrm};
use crate::incident::command::Reply;
use crate::incident::{Event, EventKind, Role, Severity, Stage};
use crate::scene::presets::{self, DemoResponse};

/// The demo's gateway id.
pub const GATEWAY: &str = "demo";
/// The demo's camera id.
pub const CAMERA: &str = "shed-cam";
/// Default speed: a scene minute takes six real seconds, so the chain closes in about 30 s.
pub const DEFAULT_SPEED: f64 = 10.0;
/// Scene time within which the chain must close (s).
pub const DEFAULT_LIMIT_S: u64 = 600;

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many times faster than real time the scene runs.
    pub speed: f64,
    /// Keep the config and the store in this directory instead of a temporary one.
    pub keep: Option<PathBuf>,
    /// Scene seconds within which the chain must close.
    pub limit_s: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            speed: DEFAULT_SPEED,
            keep: None,
            limit_s: DEFAULT_LIMIT_S,
        }
    }
}

/// How the demo ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every incident went through the chain and was closed.
    Closed,
    /// The scene-time limit passed with an incident still open (or none raised).
    Incomplete,
    /// Ctrl-C.
    Interrupted,
}

/// The demo's configuration: gateway `demo`, the broker on `port`, the store at `store`, and
/// the shed camera over the three bays of [`presets::BAYS`].
pub fn config_text(port: u16, store: &Path) -> String {
    let store = toml::Value::String(store.display().to_string());
    let mut text = format!(
        r#"# Written by `shedwatch demo`.
gateway = "{GATEWAY}"
site = "Demo estate, shed A"

[mqtt]
url = "mqtt://127.0.0.1:{port}"

[store]
path = {store}

[[cameras]]
id = "{CAMERA}"
name = "Shed A, north wall"
width = {width}
height = {height}
"#,
        width = presets::WIDTH,
        height = presets::HEIGHT,
    );
    for (i, bay) in presets::BAYS.iter().enumerate() {
        let polygon: Vec<String> = bay.iter().map(|[x, y]| format!("[{x}, {y}]")).collect();
        text.push_str(&format!(
            "\n[[cameras.zones]]\nid = \"bay-{n}\"\nname = \"Bay {n}\"\npolygon = [{}]\n",
            polygon.join(", "),
            n = i + 1,
        ));
    }
    text
}

/// Scene time of a command sent `after_s` whole seconds after the scene second of `at_ms`:
/// half a second past it, between two frames.
fn between_frames(at_ms: u64, after_s: u64) -> u64 {
    (at_ms / 1000 + after_s) * 1000 + 500
}

/// What a scripted person does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Send `payload` on the person's command topic at scene time `at_ms`.
    Command {
        /// Scene time (ms).
        at_ms: u64,
        /// The command.
        payload: serde_json::Value,
    },
    /// The staff act on the pack; the camera sees it from the scene times it names.
    Scene(DemoResponse),
}

/// A scripted person: reads the daemon's events and replies (times in scene ms), plans what
/// to do.
pub trait Person: Send {
    /// The role whose command topic the person uses.
    fn role(&self) -> Role;
    /// An event on `shedwatch/{gateway}/events`; `at_ms` is its scene time.
    fn on_event(&mut self, at_ms: u64, event: &Event) -> Vec<Act>;
    /// A reply on `shedwatch/{gateway}/cmd/result`.
    fn on_reply(&mut self, _reply: &Reply) -> Vec<Act> {
        Vec::new()
    }
}

/// Li, the platform operator: dispatches Wang to every alarm or fire, but only
/// [`Platform::DISPATCH_AFTER_S`] after it, longer than the alarm's 60 s dispatch deadline,
/// so the incident escalates first.
#[derive(Debug, Default)]
pub struct Platform {
    dispatched: BTreeSet<String>,
}

impl Platform {
    /// Seconds from the first alarm (or fire) to the dispatch: Li is on another call.
    pub const DISPATCH_AFTER_S: u64 = 70;
}

impl Person for Platform {
    fn role(&self) -> Role {
        Role::Platform
    }

    fn on_event(&mut self, at_ms: u64, e: &Event) -> Vec<Act> {
        let urgent = matches!(e.severity, Severity::Alarm | Severity::Fire);
        if !urgent || e.stage != Stage::Raised || !self.dispatched.insert(e.incident.clone()) {
            return Vec::new();
        }
        vec![Act::Command {
            at_ms: between_frames(at_ms, Self::DISPATCH_AFTER_S),
            payload: json!({
                "request_id": format!("{}/dispatch", e.incident),
                "incident": e.incident,
                "action": "dispatch",
                "actor": "Li",
                "assignee": "Wang",
                "note": "sorry, was on another call; Wang please check bay 2 now",
            }),
        }]
    }
}

/// Wang, property staff: walks over when dispatched, knocks a fire down with the
/// extinguisher, carries the pack out to the sand bucket, and reports each step.
#[derive(Debug, Default)]
pub struct Property {
    response: DemoResponse,
}

impl Property {
    /// Seconds from the dispatch to Wang on site.
    pub const WALK_S: u64 = 45;
    /// Seconds from arrival to the flames knocked down.
    pub const EXTINGUISH_S: u64 = 15;
    /// Seconds from arrival to the pack carried out.
    pub const REMOVE_S: u64 = 45;
}

impl Person for Property {
    fn role(&self) -> Role {
        Role::Property
    }

    fn on_event(&mut self, at_ms: u64, e: &Event) -> Vec<Act> {
        let command = |after_s: u64, action: &str, note: Option<&str>| {
            let mut payload = json!({
                "request_id": format!("{}/{action}-{after_s}", e.incident),
                "incident": e.incident,
                "action": action,
                "actor": "Wang",
            });
            if let Some(note) = note {
                payload["note"] = note.into();
            }
            Act::Command {
                at_ms: between_frames(at_ms, after_s),
                payload,
            }
        };
        match e.event {
            EventKind::Dispatched if e.assignee.as_deref() == Some("Wang") => {
                vec![command(Self::WALK_S, "arrive", None)]
            }
            EventKind::Arrived if e.actor.as_deref() == Some("Wang") => {
                let mut acts = Vec::new();
                let now_s = at_ms / 1000;
                // Only the demo's pack in bay 2 can be acted on in the scene.
                let in_scene = e.zone.as_deref() == Some("bay-2");
                if e.severity == Severity::Fire {
                    if in_scene {
                        self.response.extinguished_s = Some((now_s + Self::EXTINGUISH_S) as f64);
                    }
                    acts.push(command(
                        Self::EXTINGUISH_S + 2,
                        "report",
                        Some("flames knocked down with the CO2 extinguisher; the pack is still very hot, keeping everyone out"),
                    ));
                }
                if in_scene {
                    self.response.removed_s = Some((now_s + Self::REMOVE_S) as f64);
                    acts.push(Act::Scene(self.response));
                }
                acts.push(command(
                    Self::REMOVE_S + 2,
                    "report",
                    Some("charger unplugged, pack carried out to the sand bucket; bay 2 is clear"),
                ));
                acts
            }
            _ => Vec::new(),
        }
    }
}

/// Zhao, the community office: tries to close an incident
/// [`Community::FIRST_TRY_S`] after the staff on site first report, and after a refusal tries
/// again [`Community::RETRY_S`] after their next report.
#[derive(Debug, Default)]
pub struct Community {
    /// Incidents with a close planned or awaiting its reply.
    trying: BTreeSet<String>,
    /// Closes tried per incident.
    tries: BTreeMap<String, u32>,
    /// Request ids awaiting a reply, with their incident.
    waiting: BTreeMap<String, String>,
}

impl Community {
    /// Seconds from the first report to the first try.
    pub const FIRST_TRY_S: u64 = 10;
    /// Seconds from a later report to another try.
    pub const RETRY_S: u64 = 20;
}

impl Person for Community {
    fn role(&self) -> Role {
        Role::Community
    }

    fn on_event(&mut self, at_ms: u64, e: &Event) -> Vec<Act> {
        if e.event != EventKind::Reported
            || e.stage != Stage::OnSite
            || !self.trying.insert(e.incident.clone())
        {
            return Vec::new();
        }
        let tries = self.tries.entry(e.incident.clone()).or_default();
        *tries += 1;
        let request_id = format!("{}/close-{tries}", e.incident);
        let after_s = if *tries == 1 {
            Self::FIRST_TRY_S
        } else {
            Self::RETRY_S
        };
        self.waiting.insert(request_id.clone(), e.incident.clone());
        vec![Act::Command {
            at_ms: between_frames(at_ms, after_s),
            payload: json!({
                "request_id": request_id,
                "incident": e.incident,
                "action": "close",
                "actor": "Zhao",
                "resolution": "handled",
            }),
        }]
    }

    fn on_reply(&mut self, reply: &Reply) -> Vec<Act> {
        let Some(incident) = reply
            .request_id
            .as_ref()
            .and_then(|id| self.waiting.remove(id))
        else {
            return Vec::new();
        };
        if !reply.ok {
            // Wait for the next word from the staff on site.
            self.trying.remove(&incident);
        }
        Vec::new()
    }
}

/// The demo's three people: Li (platform), Wang (property), Zhao (community).
pub fn people() -> Vec<Box<dyn Person>> {
    vec![
        Box::new(Platform::default()),
        Box::new(Property::default()),
        Box::new(Community::default()),
    ]
}

/// One incident's chain as the narrator saw it (whole scene seconds, as printed).
#[derive(Debug, Clone, Default)]
struct Chain {
    zone: String,
    raised_s: u64,
    severities: Vec<(Severity, u64)>,
    escalations: u32,
    dispatched_s: Option<u64>,
    on_site_s: Option<u64>,
    closed_s: Option<u64>,
    stage: Option<Stage>,
    resolution: Option<String>,
}

/// A command the narrator saw go to the daemon.
#[derive(Debug, Clone)]
struct Sent {
    /// When the narrator saw it (scene ms): its reply is printed at this time, which does not
    /// depend on how long the daemon took to answer.
    at_ms: u64,
    role: Role,
    actor: String,
    action: String,
    incident: String,
}

/// Counts for the summary.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    events: u64,
    replies: u64,
    refused: u64,
    states: u64,
    statuses: u64,
    commands: u64,
}

/// Turns what the daemon publishes into lines for a person watching, and keeps what the
/// summary needs. Does no I/O.
#[derive(Debug)]
pub struct Narrator {
    prefix: String,
    origin_ms: u64,
    sent: BTreeMap<String, Sent>,
    chains: BTreeMap<String, Chain>,
    counts: Counts,
    stopped: bool,
}

impl Narrator {
    /// A narrator for `gateway`, whose scene time 0 is the daemon's clock at `origin_ms`.
    pub fn new(gateway: &str, origin_ms: u64) -> Narrator {
        Narrator {
            prefix: format!("shedwatch/{gateway}/"),
            origin_ms,
            sent: BTreeMap::new(),
            chains: BTreeMap::new(),
            counts: Counts::default(),
            stopped: false,
        }
    }

    /// A message received at scene time `at_ms`; returns the lines to print.
    pub fn on_message(&mut self, at_ms: u64, topic: &str, payload: &[u8]) -> Vec<String> {
        let Some(rest) = topic.strip_prefix(&self.prefix) else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(payload);
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            ["status"] => {
                self.counts.statuses += 1;
                self.stopped |= text == "stopped";
                vec![line(at_ms, "gateway", &format!("{GATEWAY} {text}"))]
            }
            ["cameras", camera, "status"] => {
                self.counts.statuses += 1;
                vec![line(at_ms, "camera", &format!("{camera} {text}"))]
            }
            ["incidents", _] => {
                self.counts.states += 1;
                Vec::new()
            }
            ["events"] => match serde_json::from_slice::<Event>(payload) {
                Ok(e) => {
                    self.counts.events += 1;
                    self.on_event(&e)
                }
                Err(e) => vec![line(at_ms, "?", &format!("unreadable event: {e}"))],
            },
            ["cmd", "result"] => match serde_json::from_slice::<Reply>(payload) {
                Ok(r) => {
                    self.counts.replies += 1;
                    self.on_reply(at_ms, &r)
                }
                Err(e) => vec![line(at_ms, "?", &format!("unreadable reply: {e}"))],
            },
            ["cmd", role] => {
                if let (Some(role), Ok(v)) = (
                    Role::parse(role),
                    serde_json::from_slice::<serde_json::Value>(payload),
                ) && let Some(id) = v["request_id"].as_str()
                {
                    self.counts.commands += 1;
                    let field = |k: &str| v[k].as_str().unwrap_or("").to_owned();
                    self.sent.insert(
                        id.to_owned(),
                        Sent {
                            at_ms,
                            role,
                            actor: field("actor"),
                            action: field("action"),
                            incident: field("incident"),
                        },
                    );
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn scene_ms(&self, engine_ms: u64) -> u64 {
        engine_ms.saturating_sub(self.origin_ms)
    }

    fn on_event(&mut self, e: &Event) -> Vec<String> {
        let at = self.scene_ms(e.at_ms);
        let at_s = at / 1000;
        let zone = e.zone.clone().unwrap_or_else(|| e.camera.clone());
        let chain = self
            .chains
            .entry(e.incident.clone())
            .or_insert_with(|| Chain {
                zone: zone.clone(),
                raised_s: at_s,
                ..Chain::default()
            });
        chain.stage = Some(e.stage);
        let actor = e.actor.as_deref().unwrap_or("someone");
        let max = e.max_c.map(|c| format!("{c:.1} °C")).unwrap_or_default();
        let text = match e.event {
            EventKind::Raised | EventKind::SeverityRaised => {
                chain.severities.push((e.severity, at_s));
                let mut text = e.severity.as_str().to_uppercase();
                if e.event == EventKind::Raised {
                    text.push_str(" raised");
                }
                text.push_str(": ");
                text.push_str(&match (e.fault, e.trigger, e.slope_c_per_min) {
                    (Some(fault), _, _) => format!("camera fault ({})", fault.as_str()),
                    (None, Some(crate::detect::track::Trigger::RateOfRise), Some(slope)) => {
                        let how = if e.severity == Severity::Warning {
                            "abnormal heating"
                        } else {
                            "fast heating"
                        };
                        format!("{how}, {max} rising {slope:.1} °C/min")
                    }
                    _ => max.clone(),
                });
                format!("{text}{}", notified(&e.notify))
            }
            EventKind::LevelChanged => match (e.fault, e.level) {
                (Some(fault), _) => format!("camera fault now {}", fault.as_str()),
                (None, Some(level)) => format!("zone now at the {} level, {max}", level.as_str()),
                (None, None) => format!("zone cooled below every level, {max}"),
            },
            EventKind::Cleared => {
                chain.closed_s = Some(at_s);
                chain.resolution = e.resolution.clone();
                format!(
                    "cleared by the device: {}",
                    e.resolution.as_deref().unwrap_or("cleared")
                )
            }
            EventKind::Dispatched => {
                chain.dispatched_s = Some(at_s);
                format!(
                    "dispatched to {} by {actor}{}",
                    e.assignee.as_deref().unwrap_or("nobody"),
                    notified(&e.notify)
                )
            }
            EventKind::Arrived => {
                chain.on_site_s = Some(at_s);
                format!("{actor} arrived on site")
            }
            EventKind::Reported => {
                format!("{actor} reports: {}", e.note.as_deref().unwrap_or(""))
            }
            EventKind::Silenced => format!(
                "{actor} silenced re-notification until {}",
                mmss(self.scene_ms(e.silenced_until_ms.unwrap_or(e.at_ms)))
            ),
            EventKind::SilenceExpired => "the silence is over".to_owned(),
            EventKind::Closed => {
                chain.closed_s = Some(at_s);
                chain.resolution = e.resolution.clone();
                format!(
                    "closed by the community office ({actor}): {}{}",
                    e.resolution.as_deref().unwrap_or(""),
                    if e.forced { " (forced)" } else { "" }
                )
            }
            EventKind::Reopened => {
                chain.closed_s = None;
                format!("reopened by {actor}{}", notified(&e.notify))
            }
            EventKind::Escalated => {
                chain.escalations += 1;
                format!(
                    "escalated: {} is overdue{}",
                    overdue(e.overdue),
                    notified(e.tier.as_slice())
                )
            }
            EventKind::Renotified => format!(
                "alert sent again (#{}): {} is still overdue",
                e.repeat.unwrap_or(0),
                overdue(e.overdue)
            ),
        };
        vec![line(at, &zone, &text)]
    }

    fn on_reply(&mut self, at_ms: u64, r: &Reply) -> Vec<String> {
        let sent = r
            .request_id
            .as_ref()
            .and_then(|id| self.sent.get(id))
            .cloned();
        let sent = sent.as_ref();
        let zone = sent
            .and_then(|s| self.chains.get(&s.incident))
            .map_or("", |c| c.zone.as_str());
        let who = sent.map_or("someone".to_owned(), |s| {
            format!("{} ({})", role_words(s.role), s.actor)
        });
        let action = sent.map_or("do something", |s| s.action.as_str());
        let text = if r.ok {
            format!(
                "  ↳ {action} accepted, stage now {}",
                r.stage.map_or("?", Stage::as_str)
            )
        } else {
            self.counts.refused += 1;
            format!(
                "{who} tried to {action}: refused — {}",
                r.error.as_deref().unwrap_or("no reason given")
            )
        };
        vec![line(sent.map_or(at_ms, |s| s.at_ms), zone, &text)]
    }

    /// Whether at least one incident was raised and every one is closed.
    pub fn chain_closed(&self) -> bool {
        !self.chains.is_empty() && self.chains.values().all(|c| c.stage == Some(Stage::Closed))
    }

    /// Whether the gateway said it stopped.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The summary: each incident's steps in scene time, and the messages delivered.
    pub fn summary(&self, frames: u64) -> Vec<String> {
        let mut out = Vec::new();
        for (id, c) in &self.chains {
            let stage = c.stage.map_or("?", Stage::as_str);
            let resolution = c
                .resolution
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            out.push(format!("incident {id}: {stage}{resolution}"));
            let severities: Vec<String> = c
                .severities
                .iter()
                .map(|(s, at_s)| format!("{} {}", s.as_str(), mmss(at_s * 1000)))
                .collect();
            out.push(format!("  {}", severities.join(" → ")));
            let steps = [
                ("raised → dispatched", Some(c.raised_s), c.dispatched_s),
                ("dispatched → on site", c.dispatched_s, c.on_site_s),
                ("on site → closed", c.on_site_s, c.closed_s),
                ("raised → closed", Some(c.raised_s), c.closed_s),
            ];
            for (name, from, to) in steps {
                let took = match (from, to) {
                    (Some(a), Some(b)) => mmss(b.saturating_sub(a) * 1000),
                    _ => "--:--".to_owned(),
                };
                let note = if name == "raised → dispatched" && c.escalations > 0 {
                    format!("  (escalated {}×)", c.escalations)
                } else {
                    String::new()
                };
                out.push(format!("  {name:<22}{took}{note}"));
            }
        }
        let n = &self.counts;
        out.push(format!("camera → daemon: {frames} frames published"));
        out.push(format!(
            "people → daemon: {} commands, {} refused",
            n.commands, n.refused
        ));
        out.push(format!(
            "daemon → people: {} events, {} command replies, {} incident states, {} status words",
            n.events, n.replies, n.states, n.statuses
        ));
        out
    }
}

/// `mm:ss` of scene milliseconds.
pub fn mmss(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}", s / 60, s % 60)
}

fn line(at_ms: u64, subject: &str, text: &str) -> String {
    format!("{}  {subject:<8} {text}", mmss(at_ms))
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Platform => "the platform",
        Role::Property => "property staff",
        Role::Community => "the community office",
    }
}

fn overdue(stage: Option<Stage>) -> &'static str {
    match stage {
        Some(Stage::Raised) => "dispatch",
        Some(Stage::Dispatched) => "arrival on site",
        _ => "the next step",
    }
}

/// ` (platform, property staff and community notified)`.
fn notified(roles: &[Role]) -> String {
    let names: Vec<&str> = roles
        .iter()
        .map(|r| match r {
            Role::Platform => "platform",
            Role::Property => "property staff",
            Role::Community => "community",
        })
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(" ({one} notified)"),
        [rest @ .., last] => format!(" ({} and {last} notified)", rest.join(", ")),
    }
}

/// The daemon's clock seen from the scene: 0 is when the gateway came online.
#[derive(Debug, Clone, Copy)]
struct SceneClock {
    clock: Clock,
    origin_ms: u64,
}

impl SceneClock {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms().saturating_sub(self.origin_ms)
    }

    fn scene_ms(&self, engine_ms: u64) -> u64 {
        engine_ms.saturating_sub(self.origin_ms)
    }

    async fn sleep_until(&self, at_ms: u64) {
        loop {
            let now = self.now_ms();
            if now >= at_ms {
                return;
            }
            tokio::time::sleep(self.clock.real(at_ms - now)).await;
        }
    }
}

/// One MQTT client of the demo; a task polls its event loop and forwards what arrives.
struct Client {
    client: AsyncClient,
    /// Publishes received, in order. Bounded: when full the event loop waits (nothing in the
    /// demo sends anywhere near that much).
    received: mpsc::Receiver<Publish>,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects `id` to the broker on `port`, subscribes to `filters` (QoS 1) and returns once
/// the broker acknowledged them.
async fn connect(port: u16, id: &str, filters: &[String]) -> anyhow::Result<Client> {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    // Frames are ~19 KB, beyond rumqttc's 10 KiB default.
    options.set_max_packet_size(1 << 20, 1 << 20);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let (tx, received) = mpsc::channel(4096);
    let (ready_tx, ready_rx) = oneshot::channel();
    let subscriber = client.clone();
    let filters = filters.to_vec();
    let task = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut acked = 0;
        loop {
            match eventloop.poll().await {
                Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                    for f in &filters {
                        // Never await in the polling task: try_ only queues the request.
                        let _ = subscriber.try_subscribe(f.clone(), QoS::AtLeastOnce);
                    }
                    if filters.is_empty()
                        && let Some(r) = ready.take()
                    {
                        let _ = r.send(());
                    }
                }
                Ok(MqttEvent::Incoming(Packet::SubAck(_))) => {
                    acked += 1;
                    if acked == filters.len()
                        && let Some(r) = ready.take()
                    {
                        let _ = r.send(());
                    }
                }
                Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    if tx.is_closed() {
                        return;
                    }
                    // The broker may not be listening yet.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .ok()
        .and_then(Result::ok)
        .with_context(|| format!("cannot connect to the embedded broker on 127.0.0.1:{port}"))?;
    Ok(Client {
        client,
        received,
        task,
    })
}

/// The simulated camera: one frame of [`presets::demo`] per scene second, TFRM f32 (the flame
/// is beyond a centikelvin PNG). Scene changes from the staff arrive on `response`.
async fn camera(
    client: AsyncClient,
    clock: SceneClock,
    mut response: watch::Receiver<DemoResponse>,
    frames: watch::Sender<u64>,
) {
    let topic = format!("thermal/{CAMERA}/frame");
    let mut scene = presets::demo(*response.borrow_and_update());
    let mut celsius = Vec::new();
    for n in 0u64.. {
        let at_ms = n * 1000;
        clock.sleep_until(at_ms).await;
        if response.has_changed().unwrap_or(false) {
            scene = presets::demo(*response.borrow_and_update());
        }
        scene.render(at_ms, &mut celsius);
        let payload = encode_tfrm(
            scene.width as u16,
            scene.height as u16,
            clock.origin_ms + at_ms,
            PixelFormat::F32(&celsius),
        );
        if client
            .publish(&topic, QoS::AtMostOnce, false, payload)
            .await
            .is_err()
        {
            return;
        }
        frames.send_replace(n + 1);
    }
}

/// Runs one person: feeds it what its client receives, sends its commands on time.
async fn person(
    mut person: Box<dyn Person>,
    mut link: Client,
    clock: SceneClock,
    scene: watch::Sender<DemoResponse>,
) {
    let topic = format!("shedwatch/{GATEWAY}/cmd/{}", person.role().as_str());
    let mut plans: BinaryHeap<Reverse<(u64, u64, String)>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let next = plans.peek().map(|Reverse((at, _, _))| *at);
        let due = async {
            match next {
                Some(at) => clock.sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let acts = tokio::select! {
            p = link.received.recv() => {
                let Some(p) = p else { return };
                if p.topic.ends_with("/events") {
                    match serde_json::from_slice::<Event>(&p.payload) {
                        Ok(e) => person.on_event(clock.scene_ms(e.at_ms), &e),
                        Err(_) => Vec::new(),
                    }
                } else {
                    match serde_json::from_slice::<Reply>(&p.payload) {
                        Ok(r) => person.on_reply(&r),
                        Err(_) => Vec::new(),
                    }
                }
            }
            _ = due => {
                if let Some(Reverse((_, _, payload))) = plans.pop()
                    && link.client.publish(&topic, QoS::AtLeastOnce, false, payload).await.is_err()
                {
                    return;
                }
                Vec::new()
            }
        };
        for act in acts {
            match act {
                Act::Command { at_ms, payload } => {
                    seq += 1;
                    plans.push(Reverse((at_ms, seq, payload.to_string())));
                }
                Act::Scene(r) => {
                    scene.send_replace(r);
                }
            }
        }
    }
}

enum Dir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Dir::Temp(t) => t.path(),
            Dir::Kept(p) => p,
        }
    }
}

/// Runs the demo, printing the chain to `out` as it happens.
pub async fn run(options: &Options, out: &mut (dyn Write + Send)) -> anyhow::Result<Outcome> {
    let speed = options.speed;
    anyhow::ensure!(
        speed.is_finite() && (0.1..=100.0).contains(&speed),
        "--speed {speed}: must be between 0.1 and 100"
    );
    let started = Instant::now();
    let dir = match &options.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("--keep {}", d.display()))?;
            Dir::Kept(d.clone())
        }
        None => Dir::Temp(
            tempfile::Builder::new()
                .prefix("shedwatch-demo-")
                .tempdir()?,
        ),
    };
    let port = broker::free_port()?;
    broker::spawn(([127, 0, 0, 1], port).into())?;
    let config_path = dir.path().join("config.toml");
    let text = config_text(port, &dir.path().join("shedwatch.db"));
    std::fs::write(&config_path, &text)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    // The demo's own config, whatever SHEDWATCH_… variables are set.
    let config = Config::parse(&text, Some(BTreeMap::new()))
        .map_err(|e| anyhow::anyhow!("the demo's config is invalid: {e}"))?;

    let prefix = format!("shedwatch/{GATEWAY}");
    // One filter, so the broker keeps the daemon's messages in the order they were sent.
    let mut narrator_link = connect(port, "demo-narrator", &[format!("{prefix}/#")]).await?;
    let mut links = Vec::new();
    for (person, id) in people()
        .into_iter()
        .zip(["demo-li", "demo-wang", "demo-zhao"])
    {
        let filters = [format!("{prefix}/events"), format!("{prefix}/cmd/result")];
        links.push((person, connect(port, id, &filters).await?));
    }
    let camera_link = connect(port, "demo-camera", &[]).await?;

    let clock = Clock::accelerated(speed);
    let (stop_daemon, stopping) = oneshot::channel::<()>();
    let mut daemon = tokio::spawn(live::run(config_path, config, clock, async move {
        let _ = stopping.await;
    }));

    // Scene time starts when the gateway is online (subscribed to frames and commands).
    let online = async {
        while let Some(p) = narrator_link.received.recv().await {
            if p.topic == format!("{prefix}/status") && p.payload.as_ref() == b"online" {
                return Some(p);
            }
        }
        None
    };
    let online = tokio::select! {
        p = tokio::time::timeout(Duration::from_secs(15), online) => p.ok().flatten(),
        result = &mut daemon => {
            result??;
            anyhow::bail!("the daemon stopped before it came online");
        }
    };
    let online = online.context("the daemon did not come online within 15 s")?;
    let scene_clock = SceneClock {
        clock,
        origin_ms: clock.now_ms(),
    };
    let mut narrator = Narrator::new(GATEWAY, scene_clock.origin_ms);

    writeln!(
        out,
        "shedwatch demo: a thermal camera over three e-bike charging bays; the pack in bay 2 is about to overheat."
    )?;
    writeln!(
        out,
        "Broker, daemon, camera and people all run here, {speed}× faster than real time; times are scene time (mm:ss)."
    )?;
    writeln!(out)?;
    for l in narrator.on_message(0, &online.topic, &online.payload) {
        writeln!(out, "{l}")?;
    }

    let (scene_tx, scene_rx) = watch::channel(DemoResponse::default());
    let (frames_tx, frames_rx) = watch::channel(0u64);
    let mut tasks = vec![tokio::spawn(camera(
        camera_link.client.clone(),
        scene_clock,
        scene_rx,
        frames_tx,
    ))];
    for (p, link) in links {
        let task = tokio::spawn(person(p, link, scene_clock, scene_tx.clone()));
        tasks.push(task);
    }

    let limit_ms = options.limit_s * 1000;
    let mut outcome = Outcome::Incomplete;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            p = narrator_link.received.recv() => {
                let Some(p) = p else { anyhow::bail!("lost the connection to the embedded broker") };
                for l in narrator.on_message(scene_clock.now_ms(), &p.topic, &p.payload) {
                    writeln!(out, "{l}")?;
                }
                out.flush()?;
                if narrator.chain_closed() {
                    outcome = Outcome::Closed;
                    break;
                }
            }
            _ = scene_clock.sleep_until(limit_ms) => break,
            _ = &mut ctrl_c => {
                outcome = Outcome::Interrupted;
                break;
            }
            result = &mut daemon => {
                result??;
                anyhow::bail!("the daemon stopped on its own");
            }
        }
    }

    // Stop the daemon first (it publishes `stopped` once its outbox is drained), then the rest.
    let _ = stop_daemon.send(());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut daemon_result = None;
    while !narrator.stopped() {
        tokio::select! {
            p = narrator_link.received.recv() => {
                let Some(p) = p else { break };
                for l in narrator.on_message(scene_clock.now_ms(), &p.topic, &p.payload) {
                    writeln!(out, "{l}")?;
                }
            }
            result = &mut daemon, if daemon_result.is_none() => daemon_result = Some(result),
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    let daemon_result = match daemon_result {
        Some(r) => r,
        None => tokio::time::timeout(Duration::from_secs(10), &mut daemon)
            .await
            .context("the daemon did not stop within 10 s")?,
    };
    daemon_result?.context("the daemon failed")?;
    for t in &tasks {
        t.abort();
    }
    drop((camera_link, narrator_link));

    writeln!(out)?;
    match outcome {
        Outcome::Closed => writeln!(out, "Summary (scene time)")?,
        Outcome::Incomplete => writeln!(
            out,
            "The chain did not close within {} of scene time. Summary (scene time)",
            mmss(limit_ms)
        )?,
        Outcome::Interrupted => writeln!(out, "Interrupted. Summary (scene time)")?,
    }
    for l in narrator.summary(*frames_rx.borrow()) {
        writeln!(out, "  {l}")?;
    }
    writeln!(
        out,
        "  took {:.1} s of real time at {speed}×",
        started.elapsed().as_secs_f64()
    )?;
    if let Dir::Kept(d) = &dir {
        writeln!(
            out,
            "  config and store kept in {} (try: shedwatch incidents --store {} list --all)",
            d.display(),
            d.join("shedwatch.db").display()
        )?;
    }
    out.flush()?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::Engine;

    /// Runs the demo's scene and people against the engine on simulated time, as the live
    /// demo does over MQTT: frames at whole scene seconds, commands half a second later.
    fn simulate(limit_s: u64) -> (Vec<String>, Narrator) {
        let text = config_text(1883, Path::new("unused.db"));
        let config = Arc::new(Config::parse(&text, Some(BTreeMap::new())).unwrap());
        let mut engine = Engine::new(config);
        let mut people = people();
        let mut narrator = Narrator::new(GATEWAY, 0);
        let mut lines = Vec::new();
        let mut response = DemoResponse::default();
        let mut scene = presets::demo(response);
        // (at_ms, order, person index, payload)
        let mut plans: BinaryHeap<Reverse<(u64, u64, usize, String)>> = BinaryHeap::new();
        let mut seq = 0;
        let mut celsius = Vec::new();
        let frame_topic = format!("thermal/{CAMERA}/frame");
        let mut inputs: Vec<(u64, String, Vec<u8>)> = Vec::new();
        for n in 0..limit_s {
            let at_ms = n * 1000;
            scene.render(at_ms, &mut celsius);
            let frame = encode_tfrm(80, 60, at_ms, PixelFormat::F32(&celsius));
            inputs.push((at_ms, frame_topic.clone(), frame));
            while let Some(Reverse((at, _, _, _))) = plans.peek()
                && *at < at_ms + 1000
            {
                let Reverse((at, _, who, payload)) = plans.pop().unwrap();
                let topic = format!("shedwatch/{GATEWAY}/cmd/{}", people[who].role().as_str());
                inputs.push((at, topic, payload.into_bytes()));
            }
            for (at, topic, payload) in inputs.drain(..) {
                lines.extend(narrator.on_message(at, &topic, &payload));
                let step = engine.handle(at, &topic, &payload);
                for m in step.messages {
                    lines.extend(narrator.on_message(m.at_ms, &m.topic, &m.payload));
                    let mut acts = Vec::new();
                    for (who, p) in people.iter_mut().enumerate() {
                        let got = if m.topic.ends_with("/events") {
                            p.on_event(m.at_ms, &serde_json::from_slice(&m.payload).unwrap())
                        } else if m.topic.ends_with("/cmd/result") {
                            p.on_reply(&serde_json::from_slice(&m.payload).unwrap())
                        } else {
                            Vec::new()
                        };
                        acts.extend(got.into_iter().map(|a| (who, a)));
                    }
                    for (who, act) in acts {
                        match act {
                            Act::Command { at_ms, payload } => {
                                seq += 1;
                                plans.push(Reverse((at_ms, seq, who, payload.to_string())));
                            }
                            Act::Scene(r) => {
                                response = r;
                                scene = presets::demo(response);
                            }
                        }
                    }
                }
            }
            if narrator.chain_closed() {
                break;
            }
        }
        (lines, narrator)
    }

    fn position(lines: &[String], needle: &str) -> usize {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{}", lines.join("\n")))
    }

    #[test]
    fn the_scripted_chain_escalates_refuses_a_hot_close_and_closes() {
        let (lines, narrator) = simulate(DEFAULT_LIMIT_S);
        let text = lines.join("\n");
        assert!(narrator.chain_closed(), "{text}");
        let order = [
            "WARNING raised: abnormal heating",
            "ALARM: fast heating",
            "escalated: dispatch is overdue (property staff notified)",
            "dispatched to Wang by Li (property staff notified)",
            "FIRE:",
            "Wang arrived on site",
            "Wang reports: flames knocked down",
            "the community office (Zhao) tried to close: refused — zone is at",
            "Wang reports: charger unplugged",
            "closed by the community office (Zhao): handled",
        ];
        let at: Vec<usize> = order.iter().map(|n| position(&lines, n)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(
            lines.iter().filter(|l| l.contains("escalated")).count(),
            1,
            "{text}"
        );
        // Only bay 2 ever raises anything.
        for l in lines.iter().filter(|l| l.contains("raised")) {
            assert!(l.contains("bay-2"), "{l}");
        }
    }

    #[test]
    fn the_simulated_chain_is_the_same_every_time() {
        assert_eq!(simulate(DEFAULT_LIMIT_S).0, simulate(DEFAULT_LIMIT_S).0);
    }

    #[test]
    fn a_refused_close_is_tried_again_after_the_next_report() {
        let mut zhao = Community::default();
        let report = |incident: &str| -> Event {
            serde_json::from_str(&format!(
                r#"{{"incident":"{incident}","seq":4,"event":"reported","at_ms":100000,"gateway":"demo","severity":"fire","stage":"on_site","camera":"c","zone":"bay-2","max_c":300.0,"area_px":4,"bbox":[0,0,1,1],"role":"property","actor":"Wang","note":"x"}}"#
            ))
            .unwrap()
        };
        let acts = zhao.on_event(100_000, &report("i"));
        assert!(matches!(&acts[..], [Act::Command { at_ms: 110_500, .. }]));
        // A second report while the first try is pending changes nothing.
        assert!(zhao.on_event(105_000, &report("i")).is_empty());
        let refused = Reply {
            request_id: Some("i/close-1".into()),
            ok: false,
            error: Some("zone is hot".into()),
            incident: Some("i".into()),
            stage: Some(Stage::OnSite),
        };
        zhao.on_reply(&refused);
        let acts = zhao.on_event(130_000, &report("i"));
        let [Act::Command { at_ms, payload }] = &acts[..] else {
            panic!("{acts:?}")
        };
        assert_eq!(*at_ms, 150_500);
        assert_eq!(payload["request_id"], "i/close-2");
    }

    #[test]
    fn the_demo_config_is_valid() {
        let text = config_text(1883, Path::new("/tmp/it's \"quoted\".db"));
        let config = Config::parse(&text, Some(BTreeMap::new())).unwrap();
        assert_eq!(config.cameras[0].zones.len(), 3);
        assert_eq!(config.store.path, PathBuf::from("/tmp/it's \"quoted\".db"));
    }
}
