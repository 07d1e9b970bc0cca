//! Stage deadlines, escalation and re-notification.
//!
//! Each open stage but `on_site` has a deadline (`dispatch_s` after raised, `on_site_s` after
//! dispatched), frozen into the incident when it is raised. When it passes, the incident
//! *escalates*: an `escalated` event names the overdue stage and notifies the tier above the
//! one that owns the stage (raised → property, dispatched → community). Then the alert is
//! sent again every `repeat_s`, at most `repeat_max` times, until a command moves the stage.
//! A silence mutes re-notification until it expires; it never delays an escalation. Only
//! commands move the stage.

use super::{Event, EventKind, Incident, Role, Severity, Stage};
use crate::config::{Escalation, StageDeadlines};

/// Deadlines of one severity.
pub fn deadlines(policy: &Escalation, severity: Severity) -> StageDeadlines {
    match severity {
        Severity::Warning => policy.warning,
        Severity::Alarm => policy.alarm,
        Severity::Fire => policy.fire,
        Severity::Fault => policy.fault,
    }
}

/// Seconds to milliseconds, rounded.
pub fn ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round().max(0.0) as u64
}

/// The tier that must act in a stage.
pub fn owner(stage: Stage) -> Role {
    match stage {
        Stage::Raised => Role::Platform,
        Stage::Dispatched => Role::Property,
        Stage::OnSite | Stage::Closed => Role::Community,
    }
}

fn stage_deadline_s(d: &StageDeadlines, stage: Stage) -> Option<f64> {
    match stage {
        Stage::Raised => Some(d.dispatch_s),
        Stage::Dispatched => Some(d.on_site_s),
        Stage::OnSite | Stage::Closed => None,
    }
}

/// Starts the timers of the incident's current stage at `now_ms`.
pub fn enter_stage(incident: &mut Incident, now_ms: u64) {
    let t = &mut incident.timers;
    t.stage_since_ms = now_ms;
    t.due_ms = stage_deadline_s(&t.deadlines, incident.stage).map(|s| now_ms + ms(s));
    t.escalated = false;
    t.repeats = 0;
    t.next_repeat_ms = None;
}

/// Severity rose at `now_ms`: the deadlines become the tighter of the frozen ones and the new
/// severity's, the new ones counted from now, so a warning that becomes an alarm gives the
/// platform the alarm's dispatch time from the moment it became an alarm, never more than the
/// warning had left.
pub fn tighten(incident: &mut Incident, policy: &Escalation, now_ms: u64) {
    let new = deadlines(policy, incident.severity);
    let t = &mut incident.timers;
    t.deadlines = StageDeadlines {
        dispatch_s: t.deadlines.dispatch_s.min(new.dispatch_s),
        on_site_s: t.deadlines.on_site_s.min(new.on_site_s),
        repeat_s: t.deadlines.repeat_s.min(new.repeat_s),
        repeat_max: t.deadlines.repeat_max.max(new.repeat_max),
    };
    if t.escalated {
        let sooner = now_ms + ms(t.deadlines.repeat_s);
        t.next_repeat_ms = Some(t.next_repeat_ms.map_or(sooner, |n| n.min(sooner)));
    } else if let Some(s) = stage_deadline_s(&new, incident.stage) {
        let sooner = now_ms + ms(s);
        t.due_ms = Some(t.due_ms.map_or(sooner, |d| d.min(sooner)));
    }
}

/// A timer of one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The current stage is overdue.
    StageDue,
    /// The silence ends.
    SilenceEnds,
    /// The next re-notification.
    Repeat,
}

/// The incident's next timer and when it fires (ms).
pub fn next_timer(incident: &Incident) -> Option<(u64, Timer)> {
    if !incident.is_open() {
        return None;
    }
    let t = &incident.timers;
    let mut next: Option<(u64, Timer)> = None;
    let mut consider = |at: Option<u64>, timer: Timer| {
        if let Some(at) = at
            && next.is_none_or(|(n, _)| at < n)
        {
            next = Some((at, timer));
        }
    };
    if !t.escalated {
        consider(t.due_ms, Timer::StageDue);
    }
    consider(t.silenced_until_ms, Timer::SilenceEnds);
    if t.escalated && t.repeats < t.deadlines.repeat_max {
        // While silenced the repeat waits for the silence to end.
        let at = t
            .next_repeat_ms
            .map(|r| r.max(t.silenced_until_ms.unwrap_or(0)));
        consider(at, Timer::Repeat);
    }
    next
}

/// Fires `timer` at `at_ms`; returns the event to publish. Bumps the incident's `seq`.
pub fn fire(incident: &mut Incident, timer: Timer, at_ms: u64) -> Option<Event> {
    incident.updated_ms = at_ms;
    match timer {
        Timer::StageDue => {
            let tier = owner(incident.stage).next();
            let t = &mut incident.timers;
            t.escalated = true;
            t.repeats = 0;
            t.next_repeat_ms = Some(at_ms + ms(t.deadlines.repeat_s));
            if !incident.notified.contains(&tier) {
                incident.notified.push(tier);
                incident.notified.sort();
            }
            incident.seq += 1;
            let mut e = Event::of(incident, EventKind::Escalated, at_ms);
            e.overdue = Some(incident.stage);
            e.tier = Some(tier);
            e.notify = incident.notified.clone();
            Some(e)
        }
        Timer::SilenceEnds => {
            let t = &mut incident.timers;
            t.silenced_until_ms = None;
            // A re-notification held back by the silence goes out now, not in the past.
            if let Some(r) = t.next_repeat_ms {
                t.next_repeat_ms = Some(r.max(at_ms));
            }
            incident.seq += 1;
            Some(Event::of(incident, EventKind::SilenceExpired, at_ms))
        }
        Timer::Repeat => {
            let t = &mut incident.timers;
            t.repeats += 1;
            t.next_repeat_ms = Some(at_ms + ms(t.deadlines.repeat_s));
            let repeat = t.repeats;
            incident.seq += 1;
            let mut e = Event::of(incident, EventKind::Renotified, at_ms);
            e.overdue = Some(incident.stage);
            e.repeat = Some(repeat);
            e.notify = incident.notified.clone();
            Some(e)
        }
    }
}
