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
    path: std::path::PathBuf,
    /// Also kept in memory, so a failing disk never lets a replay through
    /// while the daemon runs.
    recent: HashMap<String, i64>,
    pruned_at: Option<DateTime<Utc>>,
}

impl Seen {
    pub fn open(db: &Path) -> Result<Seen, crate::runtime::airtime::AirtimeError> {
        if let Some(dir) = db.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Durable: an accepted command must stay seen after a power cut. The
        // table is the airtime database's (module airtime::schema).
        let conn = crate::runtime::airtime::open_shared(db)?;
        Ok(Seen {
            conn,
            path: db.to_path_buf(),
            recent: HashMap::new(),
            pruned_at: None,
        })
    }

    /// Follows the airtime log to a new file when the old one was deleted or
    /// replaced (the log starts the new one; ids seen since are in memory).
    fn follow_file(&mut self) {
        if crate::runtime::airtime::has_moved(&self.conn) && self.path.exists() {
            match crate::runtime::airtime::open_shared(&self.path) {
                Ok(c) => self.conn = c,
                Err(e) => tracing::warn!("remote: {e}"),
            }
        }
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
    pub fn contains(&mut self, id: &str) -> Result<bool, String> {
        self.follow_file();
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
        self.follow_file();
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
