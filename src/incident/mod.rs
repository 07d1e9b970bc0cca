//! Incidents and the closure chain: the device raises the alarm, the platform dispatches,
//! property staff report on site, the community closes the case.
//!
//! - this file: the incident record, its events and audit entries;
//! - [`command`]: commands from people, validated and applied to an incident;
//! - [`escalation`]: stage deadlines, escalation and re-notification timers;
//! - [`store`]: the SQLite store (incidents, audit trail, outbox).

pub mod command;
pub mod escalation;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::config::StageDeadlines;
use crate::detect::track::{Level, Trigger};

/// How serious an incident is. Hotspot incidents only go up (warning → alarm → fire);
/// a camera fault is its own severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Abnormal heat.
    Warning,
    /// Dangerous heat.
    Alarm,
    /// Flame temperatures.
    Fire,
    /// A camera that cannot be trusted (offline, invalid or frozen).
    Fault,
}

impl Severity {
    /// Lower-case name as used in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Alarm => "alarm",
            Severity::Fire => "fire",
            Severity::Fault => "fault",
        }
    }

    /// Order of attention: fire first, then alarm, fault, warning.
    pub fn priority(self) -> u8 {
        match self {
            Severity::Fire => 3,
            Severity::Alarm => 2,
            Severity::Fault => 1,
            Severity::Warning => 0,
        }
    }

    /// Whether closing needs the zone to be below the alarm level.
    pub fn latches(self) -> bool {
        matches!(self, Severity::Alarm | Severity::Fire)
    }
}

impl From<Level> for Severity {
    fn from(l: Level) -> Self {
        match l {
            Level::Warning => Severity::Warning,
            Level::Alarm => Severity::Alarm,
            Level::Fire => Severity::Fire,
        }
    }
}

/// Where an incident is in the closure chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The device raised it; waiting for the platform to dispatch.
    Raised,
    /// The platform dispatched it; waiting for property staff on site.
    Dispatched,
    /// Property staff are on site; waiting for the community to close it.
    OnSite,
    /// Closed by the community, or cleared by the device (warnings and faults).
    Closed,
}

impl Stage {
    /// Lower-case name as used in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Raised => "raised",
            Stage::Dispatched => "dispatched",
            Stage::OnSite => "on_site",
            Stage::Closed => "closed",
        }
    }
}

/// Who acts on an incident, and who is notified (the tiers, lowest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The monitoring platform: dispatches, may silence.
    Platform,
    /// Property-management staff: go on site, report.
    Property,
    /// The community office: closes, may reopen.
    Community,
}

impl Role {
    /// Every role, lowest tier first.
    pub const ALL: [Role; 3] = [Role::Platform, Role::Property, Role::Community];

    /// Lower-case name as used in topics and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Property => "property",
            Role::Community => "community",
        }
    }

    /// The role named by a command topic's last level.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The next tier up (the community is the top).
    pub fn next(self) -> Role {
        match self {
            Role::Platform => Role::Property,
            Role::Property | Role::Community => Role::Community,
        }
    }
}

/// What an incident is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Heat in a zone.
    Hotspot,
    /// A camera fault.
    Fault,
}

/// Why a camera is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// No valid frame for `offline_after_s`.
    Offline,
    /// Only undecodable frames for `invalid_after_s`.
    Invalid,
    /// Identical pixels for `frozen_after_s`.
    Frozen,
    /// A physically implausible image: uniform, or every pixel saturated.
    Implausible,
}

impl Fault {
    /// Lower-case name as used in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Offline => "offline",
            Fault::Invalid => "invalid",
            Fault::Frozen => "frozen",
            Fault::Implausible => "implausible",
        }
    }
}

/// The hottest component of a zone when the incident last changed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HotspotSummary {
    /// Pixels in the component.
    pub area_px: u32,
    /// Bounding box `[x0, y0, x1, y1]`, inclusive pixels.
    pub bbox: [u32; 4],
    /// Position of its hottest pixel `[x, y]`.
    pub max_at: [u32; 2],
    /// Mean temperature (°C).
    pub mean_c: f64,
}

/// Timers of the current stage; frozen from the policy when the incident is raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timers {
    /// The deadlines in force (seconds), frozen at raise; tightened if severity rises.
    pub deadlines: StageDeadlines,
    /// When the current stage began (ms).
    pub stage_since_ms: u64,
    /// When the current stage is overdue (ms); `None` when it has no deadline.
    pub due_ms: Option<u64>,
    /// Whether the current stage has escalated.
    pub escalated: bool,
    /// Re-notifications sent for the current stage.
    pub repeats: u32,
    /// When the next re-notification is due (ms).
    pub next_repeat_ms: Option<u64>,
    /// Re-notification is muted until then (ms).
    pub silenced_until_ms: Option<u64>,
}

/// How an incident was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    /// When (ms).
    pub at_ms: u64,
    /// Who: an actor name, or `device` for an automatic clear.
    pub by: String,
    /// The resolution (`false_alarm`, `handled`, `fire_brigade`, `cleared`, `recovered`, …).
    pub resolution: String,
    /// The reason given with `force`, when the chain was cut short or the zone was hot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced_reason: Option<String>,
}

/// The full current state of an incident (published retained on
/// `shedwatch/{gateway}/incidents/{incident}` and kept in the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Deterministic id: `{camera}.{zone}.{raised_ms}` (`_fault` for a camera fault).
    pub incident: String,
    /// Gateway id.
    pub gateway: String,
    /// Site name.
    pub site: String,
    /// Heat in a zone, or a camera fault.
    pub kind: Kind,
    /// Camera id.
    pub camera: String,
    /// Zone id (the camera id for the area outside its zones); `None` for a fault.
    pub zone: Option<String>,
    /// Zone name, for people.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub zone_name: String,
    /// Charging-pile outlet that feeds the zone.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pile: Option<String>,
    /// Current severity.
    pub severity: Severity,
    /// Current stage.
    pub stage: Stage,
    /// Sequence number of the incident's last event.
    pub seq: u64,
    /// When it was raised (ms).
    pub raised_ms: u64,
    /// When it last changed (ms).
    pub updated_ms: u64,
    /// The zone's level now (hotspots); `None` when the zone is below every level.
    pub level: Option<Level>,
    /// What made the level's condition true when it was last raised.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trigger: Option<Trigger>,
    /// The camera fault (fault incidents).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<Fault>,
    /// Whether the cause is present now: the zone is at some level, or the fault persists.
    pub active: bool,
    /// Zone maximum at the last change (°C).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_c: Option<f64>,
    /// Highest zone maximum seen (°C).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peak_c: Option<f64>,
    /// Zone slope at the last change (°C per minute).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slope_c_per_min: Option<f64>,
    /// The zone's hottest component at the last change.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hotspot: Option<HotspotSummary>,
    /// Tiers notified so far.
    pub notified: Vec<Role>,
    /// Whom the platform dispatched.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub assignee: Option<String>,
    /// Escalation timers.
    pub timers: Timers,
    /// How it was closed, once closed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub closure: Option<Closure>,
}

impl Incident {
    /// Whether the incident is still open.
    pub fn is_open(&self) -> bool {
        self.stage != Stage::Closed
    }
}

/// What happened to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The device raised the incident.
    Raised,
    /// Severity went up.
    SeverityRaised,
    /// The zone's level changed without raising severity (e.g. it cooled below alarm).
    LevelChanged,
    /// The device cleared it (a warning that cooled, a camera that recovered).
    Cleared,
    /// The platform dispatched it.
    Dispatched,
    /// Property staff arrived on site.
    Arrived,
    /// Property staff sent a progress note.
    Reported,
    /// The platform muted re-notification.
    Silenced,
    /// The silence ran out.
    SilenceExpired,
    /// The community closed it.
    Closed,
    /// The community reopened it.
    Reopened,
    /// A stage is overdue: the next tier up is notified.
    Escalated,
    /// The alert was sent again while a stage stays overdue.
    Renotified,
}

impl EventKind {
    /// Lower-case name as used in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Raised => "raised",
            EventKind::SeverityRaised => "severity_raised",
            EventKind::LevelChanged => "level_changed",
            EventKind::Cleared => "cleared",
            EventKind::Dispatched => "dispatched",
            EventKind::Arrived => "arrived",
            EventKind::Reported => "reported",
            EventKind::Silenced => "silenced",
            EventKind::SilenceExpired => "silence_expired",
            EventKind::Closed => "closed",
            EventKind::Reopened => "reopened",
            EventKind::Escalated => "escalated",
            EventKind::Renotified => "renotified",
        }
    }
}

/// Who did it and what they said, for events caused by a command.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Actor {
    /// The role (from the command topic).
    pub role: Option<Role>,
    /// The person or system named in the command.
    pub actor: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

/// One event, published on `shedwatch/{gateway}/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Incident id.
    pub incident: String,
    /// Per-incident counter, from 1.
    pub seq: u64,
    /// What happened.
    pub event: EventKind,
    /// When (ms, the engine's time base).
    pub at_ms: u64,
    /// Gateway id.
    pub gateway: String,
    /// Severity after the event.
    pub severity: Severity,
    /// Stage after the event.
    pub stage: Stage,
    /// Camera id.
    pub camera: String,
    /// Zone id; `null` for a camera fault.
    pub zone: Option<String>,
    /// Zone level after the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Zone maximum (°C).
    pub max_c: Option<f64>,
    /// Pixels of the zone's hottest component.
    pub area_px: Option<u32>,
    /// Its bounding box `[x0, y0, x1, y1]`.
    pub bbox: Option<[u32; 4]>,
    /// Why the level was entered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// Zone slope (°C per minute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slope_c_per_min: Option<f64>,
    /// The camera fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// Tiers this event notifies.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notify: Vec<Role>,
    /// The overdue stage (escalations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue: Option<Stage>,
    /// The tier an escalation newly notifies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Role>,
    /// Re-notification count (renotified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Command role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Command actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Command note, resolution or reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whom the incident was dispatched to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Silence end (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silenced_until_ms: Option<u64>,
    /// The resolution (closed, cleared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Whether the close was forced.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub forced: bool,
}

impl Event {
    /// An event of `kind` describing `incident` as it is now (after `seq` was bumped).
    pub fn of(incident: &Incident, kind: EventKind, at_ms: u64) -> Event {
        Event {
            incident: incident.incident.clone(),
            seq: incident.seq,
            event: kind,
            at_ms,
            gateway: incident.gateway.clone(),
            severity: incident.severity,
            stage: incident.stage,
            camera: incident.camera.clone(),
            zone: incident.zone.clone(),
            level: incident.level,
            max_c: incident.max_c,
            area_px: incident.hotspot.map(|h| h.area_px),
            bbox: incident.hotspot.map(|h| h.bbox),
            trigger: None,
            slope_c_per_min: None,
            fault: incident.fault,
            notify: Vec::new(),
            overdue: None,
            tier: None,
            repeat: None,
            role: None,
            actor: None,
            note: None,
            assignee: None,
            silenced_until_ms: None,
            resolution: None,
            forced: false,
        }
    }
}

/// One row of the append-only audit trail: an event, or a command (accepted or refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (ms).
    pub at_ms: u64,
    /// Incident id, if the entry concerns a known one.
    pub incident: Option<String>,
    /// Event sequence number, for events.
    pub seq: Option<u64>,
    /// Event name, or `command`.
    pub entry: String,
    /// Role of the person, for commands.
    pub role: Option<Role>,
    /// Who.
    pub actor: Option<String>,
    /// Note, resolution or error.
    pub note: Option<String>,
    /// The event or the command reply, as JSON.
    pub detail: serde_json::Value,
}

/// Rounds a temperature for payloads (0.01 °C), so output is stable and readable.
pub fn round_c(c: f64) -> f64 {
    (c * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_back_from_its_payload_when_it_notifies_nobody() {
        let payload = r#"{"incident":"cam.bay-1.1000","seq":3,"event":"arrived","at_ms":5000,"gateway":"gw","severity":"alarm","stage":"on_site","camera":"cam","zone":"bay-1","max_c":95.2,"area_px":4,"bbox":[1,1,2,2],"role":"property","actor":"wang"}"#;
        let event: Event = serde_json::from_str(payload).unwrap();
        assert!(event.notify.is_empty());
        assert_eq!(event.actor.as_deref(), Some("wang"));
        assert_eq!(serde_json::to_string(&event).unwrap(), payload);
    }
}
