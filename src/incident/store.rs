//! The incident store: SQLite in WAL mode with `synchronous=FULL`, so a committed transaction
//! survives a crash or a power cut.
//!
//! It holds the incidents' current state, the append-only audit trail, the remembered
//! command replies and the **outbox**: every message the engine emits is inserted in the same
//! transaction as the state change that caused it, and leaves the outbox only when the broker
//! has acknowledged it. Schema changes are numbered migrations (`PRAGMA user_version`); a
//! store written by a newer shedwatch is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use super::command::Reply;
use super::{AuditEntry, Incident, Role, Stage};
use crate::engine::{Outbound, RememberedReply, Snapshot, Step};

/// Schema migrations; entry `n` takes the store from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    zone TEXT,
    severity TEXT NOT NULL,
    stage TEXT NOT NULL,
    seq INTEGER NOT NULL,
    raised_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    closed_ms INTEGER,
    state TEXT NOT NULL
);
CREATE INDEX incidents_by_close ON incidents (closed_ms);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    incident TEXT,
    seq INTEGER,
    entry TEXT NOT NULL,
    role TEXT,
    actor TEXT,
    note TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_incident ON audit (incident, id);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE replies (
    role TEXT NOT NULL,
    request_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    reply TEXT NOT NULL,
    PRIMARY KEY (role, request_id)
);
"#];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("incident store {path}: {source}")]
    Sqlite {
        /// The store file.
        path: String,
        /// The error.
        source: rusqlite::Error,
    },
    /// The store was written by a newer shedwatch.
    #[error(
        "incident store {path} has schema version {found}, newer than the {supported} this shedwatch supports; upgrade shedwatch"
    )]
    TooNew {
        /// The store file.
        path: String,
        /// Version found.
        found: i64,
        /// Version supported.
        supported: i64,
    },
    /// A stored row could not be read back.
    #[error("incident store {path}: corrupt row: {message}")]
    Corrupt {
        /// The store file.
        path: String,
        /// What was wrong.
        message: String,
    },
}

/// One message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Outbox row id: increases in commit order.
    pub id: i64,
    /// The message.
    pub message: Outbound,
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    audit_retain: usize,
    remember_replies: usize,
}

/// Resolves the configured store path: a relative path lives in `$STATE_DIRECTORY` (systemd's
/// `StateDirectory=`) when that is set.
pub fn resolve_path(configured: &Path) -> PathBuf {
    if configured.is_relative()
        && let Some(dir) = std::env::var_os("STATE_DIRECTORY")
    {
        // systemd may pass several directories separated by ':'; the first is ours.
        let dir = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_owned();
        if !dir.is_empty() {
            return Path::new(&dir).join(configured);
        }
    }
    configured.to_owned()
}

impl Store {
    /// Opens (or creates) the store at `path` and brings its schema up to date.
    pub fn open(
        path: &Path,
        audit_retain: usize,
        remember_replies: usize,
    ) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|e| sql(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            audit_retain,
            remember_replies,
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store read-only (for `shedwatch incidents` while the daemon runs).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sql(path, e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| sql(path, e))?;
        let store = Store {
            conn,
            path: path.to_owned(),
            audit_retain: usize::MAX,
            remember_replies: usize::MAX,
        };
        store.check_version()?;
        Ok(store)
    }

    fn configure(&self) -> Result<(), StoreError> {
        let c = &self.conn;
        c.busy_timeout(Duration::from_secs(5))
            .map_err(|e| self.err(e))?;
        let mode: String = c
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                path: self.path.display().to_string(),
                message: format!("journal_mode is {mode}, WAL is required"),
            });
        }
        c.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| self.err(e))?;
        c.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn check_version(&self) -> Result<i64, StoreError> {
        let found = self.version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.display().to_string(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(found)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.check_version()?;
        for (n, sql_text) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let path = self.path.clone();
            let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
            tx.execute_batch(sql_text).map_err(|e| sql(&path, e))?;
            tx.pragma_update(None, "user_version", n as i64 + 1)
                .map_err(|e| sql(&path, e))?;
            tx.commit().map_err(|e| sql(&path, e))?;
        }
        Ok(())
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sql(&self.path, e)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits a step in one transaction: incidents, audit entries, replies and outbox
    /// messages, plus `meta` key/values (e.g. a replay cursor). Returns once it is durable.
    pub fn commit(&mut self, step: &Step, meta: &[(&str, &str)]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let (retain, remember) = (self.audit_retain, self.remember_replies);
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        write_step(&tx, step, meta).map_err(|e| sql(&path, e))?;
        if !step.audit.is_empty() {
            prune(&tx, retain, remember).map_err(|e| sql(&path, e))?;
        }
        tx.commit().map_err(|e| sql(&path, e))
    }

    /// Open incidents and those closed at or after `closed_since_ms`, plus the remembered
    /// replies, for the engine to resume from.
    pub fn snapshot(&self, closed_since_ms: u64) -> Result<Snapshot, StoreError> {
        let mut incidents = Vec::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT state FROM incidents WHERE closed_ms IS NULL OR closed_ms >= ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([closed_since_ms as i64], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        for row in rows {
            incidents.push(self.decode_incident(&row.map_err(|e| self.err(e))?)?);
        }
        let mut replies = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT role, request_id, at_ms, reply FROM replies ORDER BY at_ms, rowid")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (role, request_id, at_ms, reply) = row.map_err(|e| self.err(e))?;
            let role = Role::parse(&role).ok_or_else(|| self.corrupt(format!("role {role:?}")))?;
            let reply: Reply =
                serde_json::from_str(&reply).map_err(|e| self.corrupt(format!("reply: {e}")))?;
            replies.push(RememberedReply {
                role,
                request_id,
                at_ms: at_ms as u64,
                reply,
            });
        }
        Ok(Snapshot { incidents, replies })
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.display().to_string(),
            message,
        }
    }

    fn decode_incident(&self, state: &str) -> Result<Incident, StoreError> {
        serde_json::from_str(state).map_err(|e| self.corrupt(format!("incident: {e}")))
    }

    /// Up to `limit` outbox messages with id above `after`, oldest first.
    pub fn pending(&self, after: i64, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at_ms, topic, payload, retain FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok(Pending {
                    id: r.get(0)?,
                    message: Outbound {
                        at_ms: r.get::<_, i64>(1)? as u64,
                        topic: r.get(2)?,
                        payload: r.get(3)?,
                        retain: r.get::<_, i64>(4)? != 0,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Messages waiting in the outbox.
    pub fn pending_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Removes acknowledged messages from the outbox.
    pub fn acknowledge(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .map_err(|e| sql(&path, e))?;
            for id in ids {
                stmt.execute([id]).map_err(|e| sql(&path, e))?;
            }
        }
        tx.commit().map_err(|e| sql(&path, e))
    }

    /// A `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Incidents, newest first: every open one, then closed ones, at most `limit` in all.
    pub fn list(&self, include_closed: bool, limit: usize) -> Result<Vec<Incident>, StoreError> {
        let query = if include_closed {
            "SELECT state FROM incidents ORDER BY (closed_ms IS NOT NULL), raised_ms DESC, id LIMIT ?1"
        } else {
            "SELECT state FROM incidents WHERE closed_ms IS NULL ORDER BY raised_ms DESC, id LIMIT ?1"
        };
        let mut stmt = self.conn.prepare(query).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.decode_incident(&row.map_err(|e| self.err(e))?)?);
        }
        Ok(out)
    }

    /// One incident.
    pub fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let state: Option<String> = self
            .conn
            .query_row("SELECT state FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        state.map(|s| self.decode_incident(&s)).transpose()
    }

    /// The audit trail of one incident, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at_ms, incident, seq, entry, role, actor, note, detail FROM audit WHERE incident = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (at_ms, incident, seq, entry, role, actor, note, detail) =
                row.map_err(|e| self.err(e))?;
            out.push(AuditEntry {
                at_ms: at_ms as u64,
                incident,
                seq: seq.map(|s| s as u64),
                entry,
                role: role.as_deref().and_then(Role::parse),
                actor,
                note,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| self.corrupt(format!("audit detail: {e}")))?,
            });
        }
        Ok(out)
    }

    /// Rows in the audit trail.
    pub fn audit_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Checks the store's own consistency (SQLite `integrity_check`).
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(self.corrupt(format!("integrity_check: {result}")))
        }
    }
}

fn sql(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

fn write_step(tx: &Transaction<'_>, step: &Step, meta: &[(&str, &str)]) -> rusqlite::Result<()> {
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO incidents (id, camera, zone, severity, stage, seq, raised_ms, updated_ms, closed_ms, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (id) DO UPDATE SET severity = ?4, stage = ?5, seq = ?6, updated_ms = ?8,
                 closed_ms = ?9, state = ?10",
        )?;
        for i in &step.incidents {
            let closed_ms = (i.stage == Stage::Closed)
                .then(|| i.closure.as_ref().map(|c| c.at_ms as i64))
                .flatten();
            stmt.execute(params![
                i.incident,
                i.camera,
                i.zone,
                i.severity.as_str(),
                i.stage.as_str(),
                i.seq as i64,
                i.raised_ms as i64,
                i.updated_ms as i64,
                closed_ms,
                serde_json::to_string(i).expect("incidents serialise"),
            ])?;
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO audit (at_ms, incident, seq, entry, role, actor, note, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for a in &step.audit {
            stmt.execute(params![
                a.at_ms as i64,
                a.incident,
                a.seq.map(|s| s as i64),
                a.entry,
                a.role.map(Role::as_str),
                a.actor,
                a.note,
                a.detail.to_string(),
            ])?;
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO replies (role, request_id, at_ms, reply) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for r in &step.replies {
            stmt.execute(params![
                r.role.as_str(),
                r.request_id,
                r.at_ms as i64,
                serde_json::to_string(&r.reply).expect("replies serialise"),
            ])?;
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO outbox (at_ms, topic, payload, retain) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for m in &step.messages {
            stmt.execute(params![m.at_ms as i64, m.topic, m.payload, m.retain as i64])?;
        }
    }
    {
        let mut stmt =
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
        for (k, v) in meta {
            stmt.execute(params![k, v])?;
        }
    }
    Ok(())
}

/// Keeps the audit trail at or under `retain` rows by dropping the whole history of the
/// oldest closed incidents first, then the oldest entries that belong to no incident; open
/// incidents keep their whole history. Also trims remembered replies.
fn prune(tx: &Transaction<'_>, retain: usize, remember: usize) -> rusqlite::Result<()> {
    let count = |tx: &Transaction<'_>| -> rusqlite::Result<usize> {
        tx.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
    };
    let mut total = count(tx)?;
    while total > retain {
        let oldest: Option<String> = tx
            .query_row(
                "SELECT id FROM incidents WHERE closed_ms IS NOT NULL ORDER BY closed_ms, id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = oldest else {
            // Only open incidents left: drop the oldest entries of no incident.
            tx.execute(
                "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE incident IS NULL ORDER BY id LIMIT ?1)",
                [(total - retain) as i64],
            )?;
            break;
        };
        let removed = tx.execute("DELETE FROM audit WHERE incident = ?1", [&id])?;
        tx.execute("DELETE FROM incidents WHERE id = ?1", [&id])?;
        total -= removed;
    }
    tx.execute(
        "DELETE FROM replies WHERE rowid IN (SELECT rowid FROM replies ORDER BY at_ms DESC, rowid DESC LIMIT -1 OFFSET ?1)",
        [remember as i64],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Escalation;
    use crate::incident::{Kind, Severity, Timers};

    fn incident(id: &str, stage: Stage, closed_ms: Option<u64>) -> Incident {
        Incident {
            incident: id.into(),
            gateway: "gw".into(),
            site: String::new(),
            kind: Kind::Hotspot,
            camera: "cam".into(),
            zone: Some("bay".into()),
            zone_name: String::new(),
            pile: None,
            severity: Severity::Alarm,
            stage,
            seq: 1,
            raised_ms: 0,
            updated_ms: 0,
            level: None,
            trigger: None,
            fault: None,
            active: false,
            max_c: None,
            peak_c: None,
            slope_c_per_min: None,
            hotspot: None,
            notified: vec![Role::Platform],
            assignee: None,
            timers: Timers {
                deadlines: Escalation::default().alarm,
                stage_since_ms: 0,
                due_ms: None,
                escalated: false,
                repeats: 0,
                next_repeat_ms: None,
                silenced_until_ms: None,
            },
            closure: closed_ms.map(|at_ms| super::super::Closure {
                at_ms,
                by: "x".into(),
                resolution: "handled".into(),
                forced_reason: None,
            }),
        }
    }

    fn audit(id: &str, at_ms: u64) -> AuditEntry {
        AuditEntry {
            at_ms,
            incident: Some(id.into()),
            seq: Some(1),
            entry: "raised".into(),
            role: None,
            actor: None,
            note: None,
            detail: serde_json::json!({}),
        }
    }

    fn message(topic: &str) -> Outbound {
        Outbound {
            at_ms: 1,
            topic: topic.into(),
            payload: b"{}".to_vec(),
            retain: false,
        }
    }

    #[test]
    fn outbox_keeps_messages_until_acknowledged_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path, 10_000, 100).unwrap();
        let step = Step {
            messages: vec![message("a"), message("b"), message("c")],
            ..Step::default()
        };
        store.commit(&step, &[]).unwrap();
        // A fake publisher: takes two, acknowledges the first only, then "crashes".
        let first = store.pending(0, 2).unwrap();
        assert_eq!(
            first
                .iter()
                .map(|p| p.message.topic.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        store.acknowledge(&[first[0].id]).unwrap();
        drop(store);
        let store = Store::open(&path, 10_000, 100).unwrap();
        let rest = store.pending(0, 10).unwrap();
        assert_eq!(
            rest.iter()
                .map(|p| p.message.topic.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert_eq!(store.pending(rest[0].id, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open(&path, 10_000, 100).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(&path, 10_000, 100).err().unwrap().to_string();
        assert!(
            err.contains("newer than the 1 this shedwatch supports"),
            "{err}"
        );
    }

    #[test]
    fn store_uses_wal_and_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), 10_000, 100).unwrap();
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = store
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
    }

    #[test]
    fn pruning_drops_the_oldest_closed_incidents_first_and_keeps_open_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db"), 10_000, 100).unwrap();
        let mut step = Step::default();
        // An open incident with a long history, then 120 closed ones with 100 entries each.
        step.incidents.push(incident("open", Stage::Raised, None));
        step.audit.extend((0..500).map(|t| audit("open", t)));
        store.commit(&step, &[]).unwrap();
        for k in 0..120u64 {
            let id = format!("closed-{k:03}");
            let step = Step {
                incidents: vec![incident(&id, Stage::Closed, Some(1000 + k))],
                audit: (0..100).map(|t| audit(&id, t)).collect(),
                ..Step::default()
            };
            store.commit(&step, &[]).unwrap();
        }
        let kept = store.audit_count().unwrap();
        assert!((9_900..=10_000).contains(&kept), "{kept} entries kept");
        assert_eq!(store.history("open").unwrap().len(), 500);
        assert!(store.incident("closed-000").unwrap().is_none());
        assert_eq!(store.history("closed-119").unwrap().len(), 100);
        // 500 + 95 × 100 = 10 000: the 25 oldest closed incidents went.
        assert!(store.incident("closed-024").unwrap().is_none());
        assert!(store.incident("closed-025").unwrap().is_some());
    }

    #[test]
    fn snapshot_holds_open_and_recently_closed_incidents() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db"), 10_000, 100).unwrap();
        let step = Step {
            incidents: vec![
                incident("a", Stage::Dispatched, None),
                incident("b", Stage::Closed, Some(10)),
                incident("c", Stage::Closed, Some(5000)),
            ],
            ..Step::default()
        };
        store.commit(&step, &[]).unwrap();
        let ids: Vec<String> = store
            .snapshot(1000)
            .unwrap()
            .incidents
            .into_iter()
            .map(|i| i.incident)
            .collect();
        assert_eq!(ids, ["a", "c"]);
    }
}
