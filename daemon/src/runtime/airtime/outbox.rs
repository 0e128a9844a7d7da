//! The airtime feed's side of the log (SPEC section 7): the rows the MQTT
//! link publishes, read oldest first over their own connection.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::*;

/// One row as SPEC's JSON (every column), None when there is no such row.
pub fn row_json_of(conn: &Connection, id: i64) -> rusqlite::Result<Option<serde_json::Value>> {
    conn.prepare_cached(
        r#"SELECT id, program_id, title, category, source_kind, source, "trigger",
            requested_by, priority, zones, scheduled_at, started_at, ended_at,
            planned_ms, aired_ms, outcome, detail FROM airtime WHERE id = ?1"#,
    )?
    .query_row([id], |r| {
        let text = |i: usize| r.get::<_, Option<String>>(i);
        Ok(serde_json::json!({
            "id": r.get::<_, i64>(0)?,
            "program_id": text(1)?,
            "title": text(2)?,
            "category": text(3)?,
            "source_kind": text(4)?,
            "source": text(5)?,
            "trigger": text(6)?,
            "requested_by": text(7)?,
            "priority": text(8)?,
            "zones": text(9)?,
            "scheduled_at": text(10)?,
            "started_at": text(11)?,
            "ended_at": text(12)?,
            "planned_ms": r.get::<_, i64>(13)?,
            "aired_ms": r.get::<_, i64>(14)?,
            "outcome": text(15)?,
            "detail": text(16)?,
        }))
    })
    .optional()
}

/// The MQTT feed's side of the log: its own connection (WAL lets it read
/// while the scheduler writes), oldest rows first. When the file is deleted
/// or replaced, it follows the log to the new file at the path.
pub struct Outbox {
    path: PathBuf,
    conn: std::sync::Mutex<Connection>,
}

impl Outbox {
    pub fn open(path: &Path) -> rusqlite::Result<Outbox> {
        Ok(Outbox {
            path: path.to_path_buf(),
            conn: std::sync::Mutex::new(Outbox::connect(path)?),
        })
    }

    pub(super) fn connect(path: &Path) -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        keep_wal(&conn);
        Ok(conn)
    }

    /// The connection, to the file now at the path.
    pub(super) fn conn(&self) -> rusqlite::Result<std::sync::MutexGuard<'_, Connection>> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // Only once the log has made the new file: never create it here.
        if has_moved(&conn) && self.path.exists() {
            *conn = Outbox::connect(&self.path)?;
        }
        Ok(conn)
    }

    /// Up to `limit` queued rows after row id `after`, oldest first, as JSON.
    pub fn pending(
        &self,
        after: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<(i64, serde_json::Value)>> {
        let conn = self.conn()?;
        let ids: Vec<i64> = conn
            .prepare_cached("SELECT row_id FROM outbox WHERE row_id > ?1 ORDER BY row_id LIMIT ?2")?
            .query_map(params![after, limit as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match row_json_of(&conn, id)? {
                Some(v) => out.push((id, v)),
                // The row is gone (log edited by hand).
                None => {
                    conn.prepare_cached("DELETE FROM outbox WHERE row_id = ?1")?
                        .execute([id])?;
                }
            }
        }
        Ok(out)
    }

    /// The broker has the row (PUBACK): forget it.
    pub fn ack(&self, id: i64) -> rusqlite::Result<()> {
        self.conn()?
            .prepare_cached("DELETE FROM outbox WHERE row_id = ?1")?
            .execute([id])?;
        Ok(())
    }
}
