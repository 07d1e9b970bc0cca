//! `shedwatch incidents`: reads the store (also while the daemon runs) and prints incidents
//! for people, as a table or as JSON.

use std::io::{self, Write};

use crate::incident::store::{Store, StoreError};
use crate::incident::{AuditEntry, Incident};

/// Formats a time: UTC date and time for epoch ms, seconds from the start otherwise.
pub fn format_ms(ms: u64) -> String {
    // Anything before 2001 is a relative time base (a replay from t = 0).
    if ms < 978_307_200_000 {
        return format!("t+{:.1} s", ms as f64 / 1000.0);
    }
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Prints incidents as a table (or JSON lines).
pub fn list(store: &Store, all: bool, json: bool, out: &mut dyn Write) -> Result<(), StoreError> {
    let incidents = store.list(all, 1000)?;
    let io = |e: io::Error| StoreError::Corrupt {
        path: store.path().display().to_string(),
        message: format!("cannot write output: {e}"),
    };
    if json {
        for i in &incidents {
            serde_json::to_writer(&mut *out, i).map_err(|e| io(e.into()))?;
            writeln!(out).map_err(io)?;
        }
        return Ok(());
    }
    let rows: Vec<[String; 8]> = incidents
        .iter()
        .map(|i| {
            [
                i.incident.clone(),
                i.severity.as_str().to_owned(),
                i.stage.as_str().to_owned(),
                i.camera.clone(),
                opt(i.zone.as_deref()),
                format_ms(i.raised_ms),
                i.peak_c.map_or("-".into(), |c| format!("{c:.1} °C")),
                opt(i.assignee.as_deref()),
            ]
        })
        .collect();
    let header = [
        "INCIDENT", "SEVERITY", "STAGE", "CAMERA", "ZONE", "RAISED", "PEAK", "ASSIGNEE",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>, out: &mut dyn Write| -> io::Result<()> {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", text.join("  ").trim_end())
    };
    line(header.to_vec(), out).map_err(io)?;
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), out).map_err(io)?;
    }
    if rows.is_empty() {
        writeln!(out, "(no {}incidents)", if all { "" } else { "open " }).map_err(io)?;
    }
    Ok(())
}

/// Prints one incident.
pub fn show(incident: &Incident, json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, incident)?;
        return writeln!(out);
    }
    let i = incident;
    writeln!(out, "incident   {}", i.incident)?;
    writeln!(out, "severity   {}", i.severity.as_str())?;
    writeln!(out, "stage      {}", i.stage.as_str())?;
    writeln!(out, "camera     {}", i.camera)?;
    writeln!(
        out,
        "zone       {}{}",
        opt(i.zone.as_deref()),
        if i.zone_name.is_empty() {
            String::new()
        } else {
            format!(" ({})", i.zone_name)
        }
    )?;
    if let Some(f) = i.fault {
        writeln!(out, "fault      {}", f.as_str())?;
    }
    writeln!(out, "raised     {}", format_ms(i.raised_ms))?;
    writeln!(out, "updated    {}", format_ms(i.updated_ms))?;
    if let Some(c) = i.max_c {
        writeln!(
            out,
            "max        {c:.1} °C (peak {:.1} °C)",
            i.peak_c.unwrap_or(c)
        )?;
    }
    let notified: Vec<&str> = i.notified.iter().map(|r| r.as_str()).collect();
    writeln!(out, "notified   {}", notified.join(", "))?;
    if let Some(a) = &i.assignee {
        writeln!(out, "assignee   {a}")?;
    }
    if let Some(due) = i.timers.due_ms.filter(|_| i.is_open()) {
        writeln!(
            out,
            "due        {}{}",
            format_ms(due),
            if i.timers.escalated {
                " (escalated)"
            } else {
                ""
            }
        )?;
    }
    if let Some(c) = &i.closure {
        writeln!(
            out,
            "closed     {} by {}: {}{}",
            format_ms(c.at_ms),
            c.by,
            c.resolution,
            c.forced_reason
                .as_ref()
                .map_or(String::new(), |r| format!(" (forced: {r})"))
        )?;
    }
    Ok(())
}

/// Prints an incident's audit trail.
pub fn history(entries: &[AuditEntry], json: bool, out: &mut dyn Write) -> io::Result<()> {
    for e in entries {
        if json {
            serde_json::to_writer(&mut *out, e)?;
            writeln!(out)?;
            continue;
        }
        let who = match (e.role, &e.actor) {
            (Some(r), Some(a)) => format!("{} {a}", r.as_str()),
            (Some(r), None) => r.as_str().to_owned(),
            (None, Some(a)) => a.clone(),
            (None, None) => "device".to_owned(),
        };
        writeln!(
            out,
            "{:<20}  {:<3}  {:<16}  {:<20}  {}",
            format_ms(e.at_ms),
            opt(e.seq),
            e.entry,
            who,
            e.note.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::format_ms;

    #[test]
    fn epoch_ms_are_printed_as_utc() {
        assert_eq!(format_ms(1_732_780_000_000), "2024-11-28 07:46:40Z");
        assert_eq!(format_ms(1_709_210_096_000), "2024-02-29 12:34:56Z");
        assert_eq!(format_ms(61_500), "t+61.5 s");
    }
}
