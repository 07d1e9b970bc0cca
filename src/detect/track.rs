//! Per-zone tracking over time: dwell, hysteresis, rate of rise and cooling objects.
//!
//! Each frame gives a zone's maximum °C. For each level L (warning < alarm < fire):
//!
//! - the *condition* of L holds when
//!   - fire: max ≥ `fire_c`;
//!   - alarm: max ≥ `alarm_c`, or the rise is ≥ `rise_alarm_c_per_min` while max ≥
//!     `rise_min_c`;
//!   - warning: max ≥ `warning_c` and the zone is not cooling (its slope is known and above
//!     −`cooling_c_per_min`), or the rise is ≥ `rise_warning_c_per_min` while max ≥
//!     `rise_min_c`;
//!
//!   and every higher level's condition implies the lower ones';
//! - L is *entered* once its condition has held for its dwell time; entering L also enters
//!   every lower level;
//! - an entered L *clears* once max < L − `clear_tolerance_c` (and L's rate condition is
//!   false) has held for `clear_s`.
//!
//! The zone's level is the highest entered level.
//!
//! The slope is a least-squares fit of the maximum over the last `rise_window_s`, trusted once
//! the samples span `rise_min_span_s`. A jump of `step_c` or more between two frames (an
//! object arriving or leaving) or a gap longer than the window restarts the fit, so a hot
//! motor parked in a cool bay is not a "rise". Such an object raises no level warning until
//! its trend is known, and none while it cools; it still raises an alarm at `alarm_c`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::config::Rules;

/// A zone's alert level, ordered warning < alarm < fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Abnormal heat: someone should look.
    Warning,
    /// Dangerous heat: act now.
    Alarm,
    /// Flame temperatures.
    Fire,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 3] = [Level::Warning, Level::Alarm, Level::Fire];

    /// Lower-case name as used in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Alarm => "alarm",
            Level::Fire => "fire",
        }
    }
}

/// What made a level's condition true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The maximum reached the level's temperature.
    Temperature,
    /// The maximum rose fast enough (abnormal heating / thermal runaway onset).
    RateOfRise,
}

/// The tracker's verdict after one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneUpdate {
    /// Level after this frame.
    pub level: Option<Level>,
    /// Level before this frame.
    pub previous: Option<Level>,
    /// Why the current level's condition held when it was entered (if it rose now).
    pub trigger: Trigger,
    /// Zone maximum (°C).
    pub max_c: f32,
    /// Fitted slope (°C per minute), once trusted.
    pub slope_c_per_min: Option<f64>,
}

/// Rules converted to the units the tracker uses (ms, °C).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Limits {
    level_c: [f64; 3],
    dwell_ms: [u64; 3],
    clear_ms: u64,
    tolerance_c: f64,
    window_ms: u64,
    min_span_ms: u64,
    rise_min_c: f64,
    rise_c_per_min: [f64; 2],
    cooling_c_per_min: f64,
    step_c: f64,
}

fn ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round().max(0.0) as u64
}

impl From<&Rules> for Limits {
    fn from(r: &Rules) -> Self {
        Limits {
            level_c: [r.warning_c, r.alarm_c, r.fire_c],
            dwell_ms: [
                ms(r.warning_dwell_s),
                ms(r.alarm_dwell_s),
                ms(r.fire_dwell_s),
            ],
            clear_ms: ms(r.clear_s),
            tolerance_c: r.clear_tolerance_c,
            window_ms: ms(r.rise_window_s),
            min_span_ms: ms(r.rise_min_span_s),
            rise_min_c: r.rise_min_c,
            rise_c_per_min: [r.rise_warning_c_per_min, r.rise_alarm_c_per_min],
            cooling_c_per_min: r.cooling_c_per_min,
            step_c: r.step_c,
        }
    }
}

/// A frame closer than this to the newest sample of the rise window is left out of it, so a
/// fast camera's window holds at most one sample per 100 ms (600 over 60 s) and the fit costs
/// the same at 60 frames a second as at 9. Level conditions still see every frame.
pub const RISE_SAMPLE_GAP_MS: u64 = 100;

/// One zone's state over time.
#[derive(Debug, Clone)]
pub struct ZoneTracker {
    limits: Limits,
    samples: VecDeque<(u64, f32)>,
    /// The fit over `samples`, redone only when they change.
    slope: Option<f64>,
    last: Option<(u64, f32)>,
    condition_since: [Option<u64>; 3],
    clear_since: [Option<u64>; 3],
    entered: [bool; 3],
}

impl ZoneTracker {
    /// A tracker with no history.
    pub fn new(rules: &Rules) -> ZoneTracker {
        ZoneTracker {
            limits: Limits::from(rules),
            samples: VecDeque::new(),
            slope: None,
            last: None,
            condition_since: [None; 3],
            clear_since: [None; 3],
            entered: [false; 3],
        }
    }

    /// The current level.
    pub fn level(&self) -> Option<Level> {
        (0..3)
            .rev()
            .find(|&i| self.entered[i])
            .map(|i| Level::ALL[i])
    }

    /// The temperature of a level (°C).
    pub fn level_c(&self, level: Level) -> f64 {
        self.limits.level_c[level as usize]
    }

    /// Feeds the zone maximum `max_c` (°C) seen at `at_ms`.
    pub fn update(&mut self, at_ms: u64, max_c: f32) -> ZoneUpdate {
        let previous = self.level();
        let l = self.limits;
        let c = max_c as f64;

        let mut window_changed = false;
        if let Some((t, last_c)) = self.last
            && ((c - last_c as f64).abs() >= l.step_c || at_ms.saturating_sub(t) > l.window_ms)
        {
            self.samples.clear();
            window_changed = true;
        }
        self.last = Some((at_ms, max_c));
        if self
            .samples
            .back()
            .is_none_or(|&(t, _)| at_ms.saturating_sub(t) >= RISE_SAMPLE_GAP_MS)
        {
            self.samples.push_back((at_ms, max_c));
            window_changed = true;
        }
        while let Some(&(t, _)) = self.samples.front()
            && at_ms.saturating_sub(t) > l.window_ms
        {
            self.samples.pop_front();
            window_changed = true;
        }
        if window_changed {
            self.slope = self.slope_c_per_min();
        }
        let slope = self.slope;

        let rising =
            |i: usize| slope.is_some_and(|s| s >= l.rise_c_per_min[i]) && c >= l.rise_min_c;
        let not_cooling = slope.is_some_and(|s| s > -l.cooling_c_per_min);
        let hot = |i: usize| c >= l.level_c[i];
        let mut condition = [
            (hot(0) && not_cooling) || rising(0),
            hot(1) || rising(1),
            hot(2),
        ];
        // A higher level's condition implies the lower ones'.
        for i in (0..2).rev() {
            condition[i] |= condition[i + 1];
        }

        for (i, &holds) in condition.iter().enumerate() {
            if holds {
                let since = *self.condition_since[i].get_or_insert(at_ms);
                if at_ms - since >= l.dwell_ms[i] {
                    for lower in 0..=i {
                        self.entered[lower] = true;
                        self.clear_since[lower] = None;
                    }
                }
            } else {
                self.condition_since[i] = None;
            }
        }
        for i in 0..3 {
            if !self.entered[i] {
                continue;
            }
            let clear = c < l.level_c[i] - l.tolerance_c && !(i < 2 && rising(i));
            if clear {
                let since = *self.clear_since[i].get_or_insert(at_ms);
                if at_ms - since >= l.clear_ms {
                    self.entered[i] = false;
                    self.clear_since[i] = None;
                }
            } else {
                self.clear_since[i] = None;
            }
        }

        let level = self.level();
        let trigger = match level {
            Some(lv) if c < l.level_c[lv as usize] => Trigger::RateOfRise,
            _ => Trigger::Temperature,
        };
        ZoneUpdate {
            level,
            previous,
            trigger,
            max_c,
            slope_c_per_min: slope,
        }
    }

    /// Least-squares slope of the window (°C per minute), once it spans `rise_min_span_s`.
    pub fn slope_c_per_min(&self) -> Option<f64> {
        let (&(t0, _), &(t1, _)) = (self.samples.front()?, self.samples.back()?);
        if t1 - t0 < self.limits.min_span_ms || self.samples.len() < 3 {
            return None;
        }
        let n = self.samples.len() as f64;
        let (mut st, mut sc, mut stt, mut stc) = (0.0, 0.0, 0.0, 0.0);
        for &(t, c) in &self.samples {
            let t = (t - t0) as f64 / 60_000.0;
            let c = c as f64;
            st += t;
            sc += c;
            stt += t * t;
            stc += t * c;
        }
        let denom = n * stt - st * st;
        (denom > 0.0).then(|| (n * stc - st * sc) / denom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rules: &Rules, series: impl IntoIterator<Item = (u64, f32)>) -> Vec<Option<Level>> {
        let mut t = ZoneTracker::new(rules);
        series
            .into_iter()
            .map(|(at, c)| t.update(at, c).level)
            .collect()
    }

    #[test]
    fn single_frame_glint_raises_nothing() {
        let levels = run(
            &Rules::default(),
            (0..60).map(|s| (s * 1000, if s == 30 { 120.0 } else { 25.0 })),
        );
        assert!(levels.iter().all(Option::is_none));
    }

    #[test]
    fn fast_camera_keeps_a_small_rise_window_and_the_same_verdicts() {
        // A steady 12 °C/min rise seen at 100 frames a second and at 1 frame a second.
        let rules = Rules::default();
        let (mut fast, mut slow) = (ZoneTracker::new(&rules), ZoneTracker::new(&rules));
        let c = |t: u64| 40.0 + 12.0 * (t as f64 / 60_000.0) as f32;
        let mut warned_at = None;
        for t in (0..90_000).step_by(10) {
            let f = fast.update(t, c(t));
            if t % 1000 == 0 {
                let s = slow.update(t, c(t));
                assert_eq!(f.level, s.level, "at {t} ms");
                if f.level.is_some() {
                    warned_at.get_or_insert(t);
                }
            }
            assert!(fast.samples.len() <= 601, "{} samples", fast.samples.len());
        }
        // Trusted after 20 s of samples, then warning's 5 s dwell.
        assert_eq!(warned_at, Some(25_000));
        let (f, s) = (fast.slope.unwrap(), slow.slope.unwrap());
        assert!(
            (f - 12.0).abs() < 0.05 && (s - 12.0).abs() < 0.05,
            "{f} {s}"
        );
    }

    #[test]
    fn fire_is_entered_on_the_first_frame() {
        let levels = run(&Rules::default(), [(0, 25.0), (1000, 25.0), (2000, 400.0)]);
        assert_eq!(levels[2], Some(Level::Fire));
    }

    #[test]
    fn alarm_needs_its_dwell() {
        let levels = run(&Rules::default(), (0..5).map(|s| (s * 1000, 90.0)));
        assert_eq!(
            levels,
            vec![
                None,
                None,
                Some(Level::Alarm),
                Some(Level::Alarm),
                Some(Level::Alarm)
            ]
        );
    }

    #[test]
    fn level_clears_only_after_clear_time_below_tolerance() {
        let mut t = ZoneTracker::new(&Rules::default());
        for s in 0..5 {
            t.update(s * 1000, 90.0);
        }
        assert_eq!(t.level(), Some(Level::Alarm));
        // 78 °C is below 80 but within the 3 °C tolerance: stays.
        for s in 5..60 {
            t.update(s * 1000, 78.0);
        }
        assert_eq!(t.level(), Some(Level::Alarm));
        for s in 60..=90 {
            t.update(s * 1000, 70.0);
        }
        assert_eq!(t.level(), Some(Level::Warning));
    }

    #[test]
    fn steady_rise_of_12_c_per_min_warns_before_any_level() {
        let mut t = ZoneTracker::new(&Rules::default());
        let mut first = None;
        for s in 0..200u64 {
            let c = 30.0 + 0.2 * s as f32;
            let u = t.update(s * 1000, c);
            if u.level.is_some() && first.is_none() {
                first = Some((u.level, u.trigger, c));
            }
        }
        let (level, trigger, c) = first.unwrap();
        assert_eq!(
            (level, trigger),
            (Some(Level::Warning), Trigger::RateOfRise)
        );
        assert!(c < 55.0, "warned at {c} °C");
    }

    #[test]
    fn cooling_motor_raises_no_warning_but_alarm_still_counts() {
        // Arrives at 68 °C and cools with a 15-minute time constant toward 25 °C.
        let cool = |s: u64| 25.0 + 43.0 * (-(s as f32) / 900.0).exp();
        let mut series = vec![(0, 25.0)];
        series.extend((1..600).map(|s| (s * 1000, cool(s))));
        assert!(run(&Rules::default(), series).iter().all(Option::is_none));

        let mut t = ZoneTracker::new(&Rules::default());
        for s in 0..30 {
            t.update(s * 1000, cool(s));
        }
        for s in 30..40 {
            t.update(s * 1000, 85.0);
        }
        assert_eq!(t.level(), Some(Level::Alarm));
    }
}
