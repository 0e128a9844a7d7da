//! Command ids already obeyed, kept in the airtime database (table
//! `seen_commands`) so that a replay is refused across restarts too. An id
//! needs keeping only while its timestamp could still pass the skew check:
//! rows older than twice `max_skew` are pruned.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

pub struct Seen {
    conn: Connection,
    /// Also kept in memory, so a failing disk never lets a replay through
    /// while the daemon runs.
    recent: HashMap<String, i64>,
    pruned_at: Option<DateTime<Utc>>,
}

impl Seen {
    pub fn open(db: &Path) -> rusqlite::Result<Seen> {
        if let Some(dir) = db.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(db)?;
        // An accepted command must stay seen after a power cut.
        crate::airtime::durable(&conn)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS seen_commands (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL)",
        )?;
        Ok(Seen {
            conn,
            recent: HashMap::new(),
            pruned_at: None,
        })
    }

    /// Drops ids older than `keep` (at most once a minute).
    pub fn prune(&mut self, now: DateTime<Utc>, keep: Duration) {
        if self
            .pruned_at
            .is_some_and(|t| (now - t).num_seconds().abs() < 60)
        {
            return;
        }
        self.pruned_at = Some(now);
        let before = now.timestamp() - keep.as_secs() as i64;
        self.recent.retain(|_, at| *at >= before);
        if let Err(e) = self.conn.execute(
            "DELETE FROM seen_commands WHERE seen_at < ?1",
            params![before],
        ) {
            tracing::warn!("remote: cannot prune seen command ids: {e}");
        }
    }

    /// Whether `id` was seen; Err (the database's complaint) when that
    /// cannot be known, which the gate treats as seen: it fails closed.
    pub fn contains(&self, id: &str) -> Result<bool, String> {
        if self.recent.contains_key(id) {
            return Ok(true);
        }
        match self.conn.query_row(
            "SELECT 1 FROM seen_commands WHERE id = ?1",
            params![id],
            |_| Ok(()),
        ) {
            Ok(()) => Ok(true),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn insert(&mut self, id: &str, now: DateTime<Utc>) {
        self.recent.insert(id.to_string(), now.timestamp());
        if let Err(e) = self.conn.execute(
            "INSERT OR REPLACE INTO seen_commands (id, seen_at) VALUES (?1, ?2)",
            params![id, now.timestamp()],
        ) {
            tracing::warn!(
                "remote: cannot record command id {id}: {e}; a replay after a restart would not be recognised"
            );
        }
    }
}
