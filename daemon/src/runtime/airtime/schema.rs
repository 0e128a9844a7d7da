//! The tables of the airtime database (`state/airtime.sqlite`) and their
//! migrations: every table in that file (`airtime`, `meta`, `outbox`,
//! `seen_commands`) is created and changed here, by one numbered list, so
//! that a newer Loa upgrades an older log in place and keeps every row, and
//! an older Loa refuses a log that a newer one has changed.
//!
//! The version lives in SQLite's `PRAGMA user_version`, as rusqlite_migration
//! keeps it; that crate itself is not used because its releases are tied to
//! an older rusqlite than the workspace's. Logs written before migrations
//! existed have user_version 0 and `meta.schema_version = '1'`: they are
//! adopted as version 1 without touching a row.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The schema as first released (SCHEMA_VERSION 1 in `meta`), exactly; every
/// statement `IF NOT EXISTS`, because a log of that time may lack
/// `seen_commands` (made only once remote commands were on).
const V1: &str = r#"
CREATE TABLE IF NOT EXISTS airtime (
    id           INTEGER PRIMARY KEY,
    program_id   TEXT,
    title        TEXT NOT NULL,
    category     TEXT NOT NULL,
    source_kind  TEXT NOT NULL,
    source       TEXT NOT NULL,
    "trigger"    TEXT NOT NULL,
    requested_by TEXT,
    priority     TEXT NOT NULL,
    zones        TEXT NOT NULL,
    scheduled_at TEXT,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    planned_ms   INTEGER NOT NULL,
    aired_ms     INTEGER NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT
);
-- Reports select a period of local days.
CREATE INDEX IF NOT EXISTS airtime_started_at ON airtime (started_at);
-- Start-up recovery looks for the (few) rows still airing.
CREATE INDEX IF NOT EXISTS airtime_airing ON airtime (id) WHERE outcome = 'airing';
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Finished rows waiting for the MQTT airtime feed (P/airtime): durable, so
-- that a broker outage of any length loses none.
CREATE TABLE IF NOT EXISTS outbox (
    row_id INTEGER PRIMARY KEY
);
-- Remote command ids already obeyed (module remote::seen).
CREATE TABLE IF NOT EXISTS seen_commands (
    id      TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
);
"#;

/// The migrations, in order: entry N-1 takes a log from version N-1 to N.
/// Append only; never edit one that has been released.
pub const MIGRATIONS: &[&str] = &[V1];

/// The version this Loa writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// Why the tables could not be brought to [`LATEST`].
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "{}: the airtime log has schema version {found}, written by a newer loa; this loa knows \
         versions up to {known}. Upgrade loa, or stop it and restore the log from {}",
        path.display(),
        backup_hint(path, *known)
    )]
    Newer {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("{}: cannot bring the airtime log to schema version {LATEST}: {source}", path.display())]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

impl SchemaError {
    pub fn sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            SchemaError::Sql { source, .. } => Some(source),
            SchemaError::Newer { .. } => None,
        }
    }
}

/// Where an upgrade to `version` keeps the log as it was before.
pub fn backup_path(path: &Path, version: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".before-v{version}"));
    PathBuf::from(name)
}

fn backup_hint(path: &Path, known: u32) -> String {
    let b = backup_path(path, known + 1);
    if b.exists() {
        format!("the backup the upgrade made, {}", b.display())
    } else {
        format!(
            "a backup of your own ({} is not there)",
            b.file_name().unwrap_or_default().to_string_lossy()
        )
    }
}

/// The version a log says it has; 1 for a log written before migrations.
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    let v: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if v > 0 {
        return Ok(v);
    }
    let legacy: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .or_else(|e| match e {
            // No `meta` table: a new, empty file.
            rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => {
                Ok(None)
            }
            e => Err(e),
        })?;
    Ok(legacy.map_or(0, |_| 1))
}

/// Refuses a log newer than this Loa (for readers such as `loa report`).
pub fn check_readable(conn: &Connection, path: &Path) -> Result<(), SchemaError> {
    let found = version(conn).map_err(|source| SchemaError::Sql {
        path: path.to_path_buf(),
        source,
    })?;
    if found > LATEST {
        return Err(SchemaError::Newer {
            path: path.to_path_buf(),
            found,
            known: LATEST,
        });
    }
    Ok(())
}

/// Brings the tables to [`LATEST`], in one transaction that waits for any
/// other connection's (the daemon's and the remote gate's connections run
/// this at open; the second finds nothing to do).
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), SchemaError> {
    migrate_with(conn, path, MIGRATIONS)
}

/// [`migrate`] with a given list (tests bring a log through a later one).
pub fn migrate_with(
    conn: &mut Connection,
    path: &Path,
    migrations: &[&str],
) -> Result<(), SchemaError> {
    let sql = |source| SchemaError::Sql {
        path: path.to_path_buf(),
        source,
    };
    let latest = migrations.len() as u32;
    let newer = |found| SchemaError::Newer {
        path: path.to_path_buf(),
        found,
        known: latest,
    };
    // A log that has rows in a released version is copied before it is
    // changed, so that an older Loa can be put back with its log (VACUUM
    // cannot run inside the transaction below).
    let before = version(conn).map_err(sql)?;
    if before > latest {
        return Err(newer(before));
    }
    if before >= 1 && before < latest {
        let backup = backup_path(path, latest);
        if !backup.exists() {
            conn.execute("VACUUM INTO ?1", [backup.to_string_lossy()])
                .map_err(sql)?;
        }
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let stored: u32 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    let found = version(&tx).map_err(sql)?;
    if found > latest {
        return Err(newer(found));
    }
    if found == latest && stored == latest {
        return Ok(());
    }
    // Version 1 of a log written before migrations: its statements are all
    // IF NOT EXISTS, so running it again adds only what is missing.
    let from = if stored == 0 && found == 1 { 0 } else { found };
    for m in &migrations[from as usize..] {
        tx.execute_batch(m).map_err(sql)?;
    }
    tx.pragma_update(None, "user_version", latest)
        .map_err(sql)?;
    // Kept for the tools that read `meta` (and older reports).
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [latest.to_string()],
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)
}
