//! Commands from people, received on `shedwatch/{gateway}/cmd/{role}`. The role comes from the
//! topic, never from the payload, so a broker ACL decides who may do what.
//!
//! | role | action | stage before | stage after |
//! | --- | --- | --- | --- |
//! | platform | `dispatch` | raised | dispatched |
//! | platform | `silence` | any open | unchanged (re-notification muted for `duration_s`) |
//! | property | `arrive` | dispatched | on_site |
//! | property | `report` | dispatched, on_site | unchanged (progress note) |
//! | community | `close` | on_site (or raised/dispatched with `force` and a `reason`) | closed |
//! | community | `reopen` | closed, within `reopen_within_s` | raised |
//!
//! Closing an alarm or fire incident whose zone is at or above the alarm level, or whose
//! temperature is unknown, and closing a fault that persists, needs `force` with a `reason`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::escalation::{enter_stage, ms};
use super::{Closure, Event, EventKind, Incident, Kind, Role, Stage};
use crate::config::Commands;

/// Longest `request_id`, `actor` and `assignee` (characters).
pub const MAX_ID_CHARS: usize = 128;

/// What a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Platform: hand the incident to property staff.
    Dispatch,
    /// Platform: mute re-notification for a while.
    Silence,
    /// Property: staff are on site.
    Arrive,
    /// Property: a progress note.
    Report,
    /// Community: close the case.
    Close,
    /// Community: reopen a closed case.
    Reopen,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] = [
        Action::Dispatch,
        Action::Silence,
        Action::Arrive,
        Action::Report,
        Action::Close,
        Action::Reopen,
    ];

    /// Lower-case name as used in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Dispatch => "dispatch",
            Action::Silence => "silence",
            Action::Arrive => "arrive",
            Action::Report => "report",
            Action::Close => "close",
            Action::Reopen => "reopen",
        }
    }

    /// The role allowed to take this action.
    pub fn role(self) -> Role {
        match self {
            Action::Dispatch | Action::Silence => Role::Platform,
            Action::Arrive | Action::Report => Role::Property,
            Action::Close | Action::Reopen => Role::Community,
        }
    }
}

/// The command payload as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    request_id: Option<String>,
    incident: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    assignee: Option<String>,
    note: Option<String>,
    resolution: Option<String>,
    reason: Option<String>,
    force: Option<bool>,
    duration_s: Option<f64>,
}

/// A validated command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Role, from the topic.
    pub role: Role,
    /// Request id, for idempotency.
    pub request_id: String,
    /// Incident id.
    pub incident: String,
    /// What to do.
    pub action: Action,
    /// Who.
    pub actor: String,
    /// Whom to dispatch.
    pub assignee: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// Close resolution.
    pub resolution: Option<String>,
    /// Why a close is forced.
    pub reason: Option<String>,
    /// Force a close past the chain or the interlock.
    pub force: bool,
    /// Silence length (seconds).
    pub duration_s: Option<f64>,
}

/// Why a command was refused. The text is what the reply's `error` says.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandError {
    /// The payload is too large.
    TooLarge {
        /// Payload size (bytes).
        bytes: usize,
        /// Limit (bytes).
        max: usize,
    },
    /// Not valid JSON, an unknown field or a wrong type.
    Malformed(String),
    /// A required field is missing or empty.
    Missing(&'static str),
    /// A text field is too long.
    TooLong {
        /// Field name.
        field: &'static str,
        /// Its length (characters).
        chars: usize,
        /// Limit (characters).
        max: usize,
    },
    /// The action is not one of the six.
    UnknownAction(String),
    /// The action belongs to another role.
    WrongRole {
        /// Who tried.
        role: Role,
        /// What.
        action: Action,
    },
    /// No such incident (or closed too long ago to be remembered).
    UnknownIncident(String),
    /// The action does not fit the incident's stage.
    OutOfTurn {
        /// What.
        action: Action,
        /// The incident's stage.
        stage: Stage,
    },
    /// Close of an incident nobody reported on site, without `force`.
    NotOnSite(Stage),
    /// `force` without a `reason`.
    ForceNeedsReason,
    /// Close while the zone is at or above the alarm level, without `force`.
    ZoneHot {
        /// Zone maximum (°C).
        max_c: f32,
        /// Alarm level (°C).
        alarm_c: f64,
    },
    /// Close while the zone's temperature is unknown, without `force`.
    ZoneUnknown,
    /// Close while the camera fault persists, without `force`.
    FaultActive,
    /// Silence length out of range.
    SilenceLength {
        /// Asked for (seconds).
        duration_s: f64,
        /// Limit (seconds).
        max_s: f64,
    },
    /// Reopen after the window.
    ReopenTooLate {
        /// Seconds since the close.
        closed_s_ago: u64,
        /// Window (seconds).
        max_s: f64,
    },
    /// Reopen while the zone already has another open incident.
    ZoneBusy(String),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CommandError::*;
        match self {
            TooLarge { bytes, max } => {
                write!(
                    f,
                    "payload of {bytes} bytes is larger than the {max} bytes allowed"
                )
            }
            Malformed(e) => write!(f, "malformed command: {e}"),
            Missing(field) => write!(f, "missing field {field}"),
            TooLong { field, chars, max } => {
                write!(
                    f,
                    "{field} is {chars} characters, more than the {max} allowed"
                )
            }
            UnknownAction(a) => write!(
                f,
                "unknown action {a:?} (dispatch, silence, arrive, report, close, reopen)"
            ),
            WrongRole { role, action } => write!(
                f,
                "{} may not {}; only {} may",
                role.as_str(),
                action.as_str(),
                action.role().as_str()
            ),
            UnknownIncident(id) => write!(f, "unknown incident {id:?}"),
            OutOfTurn { action, stage } => write!(
                f,
                "{} needs the incident {}; it is {}",
                action.as_str(),
                match action {
                    Action::Dispatch => "raised",
                    Action::Silence => "open",
                    Action::Arrive => "dispatched",
                    Action::Report => "dispatched or on_site",
                    Action::Close => "on_site",
                    Action::Reopen => "closed",
                },
                stage.as_str()
            ),
            NotOnSite(stage) => write!(
                f,
                "nobody reported on site (incident is {}): close needs force with a reason",
                stage.as_str()
            ),
            ForceNeedsReason => write!(f, "force needs a reason"),
            ZoneHot { max_c, alarm_c } => write!(
                f,
                "zone is at {max_c:.1} °C, at or above the alarm level ({alarm_c} °C): close needs force with a reason"
            ),
            ZoneUnknown => write!(
                f,
                "zone temperature is unknown (no recent frame): close needs force with a reason"
            ),
            FaultActive => write!(
                f,
                "the camera fault persists: close needs force with a reason"
            ),
            SilenceLength { duration_s, max_s } => {
                write!(f, "duration_s {duration_s} s is outside 1…{max_s} s")
            }
            ReopenTooLate {
                closed_s_ago,
                max_s,
            } => write!(
                f,
                "closed {closed_s_ago} s ago; reopen is allowed within {max_s} s"
            ),
            ZoneBusy(id) => write!(f, "the zone has another open incident {id:?}"),
        }
    }
}

/// The reply on `shedwatch/{gateway}/cmd/result`: exactly one per command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The command's `request_id` (`null` when it had none).
    pub request_id: Option<String>,
    /// Whether the command was applied.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The incident, when the command named one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub incident: Option<String>,
    /// The incident's stage after the command.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<Stage>,
}

fn text(
    value: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, CommandError> {
    match value {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => {
            let chars = v.chars().count();
            if chars > max {
                Err(CommandError::TooLong { field, chars, max })
            } else {
                Ok(Some(v))
            }
        }
        None => Ok(None),
    }
}

fn required(
    value: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<String, CommandError> {
    text(value, field, max)?.ok_or(CommandError::Missing(field))
}

/// Parses and validates a command payload. On error, also returns the `request_id` if one
/// could be read, for the reply.
pub fn parse(
    role: Role,
    payload: &[u8],
    limits: &Commands,
) -> Result<Command, (Option<String>, CommandError)> {
    if payload.len() > limits.max_payload_bytes {
        return Err((
            None,
            CommandError::TooLarge {
                bytes: payload.len(),
                max: limits.max_payload_bytes,
            },
        ));
    }
    let p: Payload = serde_json::from_slice(payload).map_err(|e| {
        // Still answer with the request id when the rest is wrong.
        let id = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("request_id")?.as_str().map(str::to_owned))
            .filter(|id| id.chars().count() <= MAX_ID_CHARS);
        (id, CommandError::Malformed(e.to_string()))
    })?;
    let request_id = p
        .request_id
        .clone()
        .filter(|id| !id.trim().is_empty() && id.chars().count() <= MAX_ID_CHARS);
    validate(role, p, limits).map_err(|e| (request_id, e))
}

fn validate(role: Role, p: Payload, limits: &Commands) -> Result<Command, CommandError> {
    let max = limits.max_text_chars;
    let request_id = required(p.request_id, "request_id", MAX_ID_CHARS)?;
    let action_text = required(p.action, "action", MAX_ID_CHARS)?;
    let action = Action::ALL
        .into_iter()
        .find(|a| a.as_str() == action_text)
        .ok_or(CommandError::UnknownAction(action_text))?;
    if action.role() != role {
        return Err(CommandError::WrongRole { role, action });
    }
    let incident = required(p.incident, "incident", MAX_ID_CHARS)?;
    let actor = required(p.actor, "actor", MAX_ID_CHARS)?;
    let assignee = text(p.assignee, "assignee", MAX_ID_CHARS)?;
    let note = text(p.note, "note", max)?;
    let resolution = text(p.resolution, "resolution", max)?;
    let reason = text(p.reason, "reason", max)?;
    let force = p.force.unwrap_or(false);
    match action {
        Action::Report if note.is_none() => return Err(CommandError::Missing("note")),
        Action::Close if resolution.is_none() => return Err(CommandError::Missing("resolution")),
        Action::Silence => {
            let d = p.duration_s.ok_or(CommandError::Missing("duration_s"))?;
            if !(d.is_finite() && d >= 1.0 && d <= limits.silence_max_s) {
                return Err(CommandError::SilenceLength {
                    duration_s: d,
                    max_s: limits.silence_max_s,
                });
            }
        }
        _ => {}
    }
    if force && reason.is_none() {
        return Err(CommandError::ForceNeedsReason);
    }
    Ok(Command {
        role,
        request_id,
        incident,
        action,
        actor,
        assignee,
        note,
        resolution,
        reason,
        force,
        duration_s: p.duration_s,
    })
}

/// What the engine knows about the incident's surroundings when a command arrives.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Now (ms).
    pub now_ms: u64,
    /// Command limits.
    pub limits: &'a Commands,
    /// The zone's latest maximum (°C), `None` when no recent frame.
    pub zone_max_c: Option<f32>,
    /// The zone's alarm level (°C).
    pub alarm_c: f64,
    /// Another open incident on the same zone, if any.
    pub other_open: Option<&'a str>,
}

/// Applies a validated command to its incident; returns the event, or why not (changing
/// nothing).
pub fn apply(
    incident: &mut Incident,
    cmd: &Command,
    ctx: &Context<'_>,
) -> Result<Event, CommandError> {
    let now = ctx.now_ms;
    let out_of_turn = CommandError::OutOfTurn {
        action: cmd.action,
        stage: incident.stage,
    };
    if incident.stage == Stage::Closed && cmd.action != Action::Reopen {
        return Err(out_of_turn);
    }
    let kind = match cmd.action {
        Action::Dispatch => {
            if incident.stage != Stage::Raised {
                return Err(out_of_turn);
            }
            EventKind::Dispatched
        }
        Action::Silence => EventKind::Silenced,
        Action::Arrive => {
            if incident.stage != Stage::Dispatched {
                return Err(out_of_turn);
            }
            EventKind::Arrived
        }
        Action::Report => {
            if incident.stage == Stage::Raised {
                return Err(out_of_turn);
            }
            EventKind::Reported
        }
        Action::Close => {
            check_close(incident, cmd, ctx)?;
            EventKind::Closed
        }
        Action::Reopen => {
            let Some(closure) = incident
                .closure
                .as_ref()
                .filter(|_| incident.stage == Stage::Closed)
            else {
                return Err(out_of_turn);
            };
            let ago = now.saturating_sub(closure.at_ms);
            if ago > ms(ctx.limits.reopen_within_s) {
                return Err(CommandError::ReopenTooLate {
                    closed_s_ago: ago / 1000,
                    max_s: ctx.limits.reopen_within_s,
                });
            }
            if let Some(other) = ctx.other_open {
                return Err(CommandError::ZoneBusy(other.to_owned()));
            }
            EventKind::Reopened
        }
    };

    // Accepted: change the incident.
    incident.updated_ms = now;
    let mut note = cmd.note.clone();
    match cmd.action {
        Action::Dispatch => {
            incident.stage = Stage::Dispatched;
            incident.assignee = cmd.assignee.clone();
            notify(incident, Role::Property);
            enter_stage(incident, now);
        }
        Action::Silence => {
            let until = now + ms(cmd.duration_s.unwrap_or(0.0));
            incident.timers.silenced_until_ms = Some(until);
        }
        Action::Arrive => {
            incident.stage = Stage::OnSite;
            enter_stage(incident, now);
        }
        Action::Report => {}
        Action::Close => {
            incident.stage = Stage::Closed;
            incident.closure = Some(Closure {
                at_ms: now,
                by: cmd.actor.clone(),
                resolution: cmd.resolution.clone().unwrap_or_default(),
                forced_reason: cmd.force.then(|| cmd.reason.clone()).flatten(),
            });
            incident.timers.silenced_until_ms = None;
            enter_stage(incident, now);
            note = note.or_else(|| cmd.reason.clone());
        }
        Action::Reopen => {
            incident.stage = Stage::Raised;
            incident.closure = None;
            enter_stage(incident, now);
            note = note.or_else(|| cmd.reason.clone());
        }
    }
    incident.seq += 1;
    let mut e = Event::of(incident, kind, now);
    e.role = Some(cmd.role);
    e.actor = Some(cmd.actor.clone());
    e.note = note;
    match cmd.action {
        Action::Dispatch => {
            e.assignee = cmd.assignee.clone();
            e.notify = vec![Role::Property];
        }
        Action::Silence => e.silenced_until_ms = incident.timers.silenced_until_ms,
        Action::Close => {
            e.resolution = cmd.resolution.clone();
            e.forced = cmd.force;
        }
        Action::Reopen => e.notify = incident.notified.clone(),
        _ => {}
    }
    Ok(e)
}

fn notify(incident: &mut Incident, role: Role) {
    if !incident.notified.contains(&role) {
        incident.notified.push(role);
        incident.notified.sort();
    }
}

fn check_close(incident: &Incident, cmd: &Command, ctx: &Context<'_>) -> Result<(), CommandError> {
    if cmd.force {
        // `validate` made sure a forced command carries a reason.
        return Ok(());
    }
    if incident.stage != Stage::OnSite {
        return Err(CommandError::NotOnSite(incident.stage));
    }
    match incident.kind {
        Kind::Fault if incident.active => Err(CommandError::FaultActive),
        Kind::Hotspot if incident.severity.latches() => match ctx.zone_max_c {
            None => Err(CommandError::ZoneUnknown),
            Some(c) if c as f64 >= ctx.alarm_c => Err(CommandError::ZoneHot {
                max_c: c,
                alarm_c: ctx.alarm_c,
            }),
            Some(_) => Ok(()),
        },
        _ => Ok(()),
    }
}
