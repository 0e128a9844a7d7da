//! The airtime log (SPEC section 7): one SQLite row per aired item, written
//! when the item starts (outcome `airing`), its `aired_ms` saved as it airs,
//! and completed when it ends, so that the station can prove afterwards what
//! it aired. `loa report` (module `report`) reads it.
//!
//! Times are stored as RFC 3339 text with milliseconds and the station's
//! offset (`2026-11-23T06:00:00.000+07:00`): the first ten characters are the
//! local date, which is what reports group and select by.
//!
//! Announcements: every row of one announcement airing (its chime and each
//! repeat) should carry the same `scheduled_at`, the instant it was accepted;
//! reports count an emergency announcement once per distinct
//! (title, requested_by, scheduled_at).

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, TimeDelta, TimeZone};
use chrono_tz::Tz;
use loa_schedules::Priority;
use rusqlite::types::Value;
use rusqlite::{params, Connection};

mod open;
mod outbox;
mod salvage;
pub mod schema;
#[cfg(test)]
mod tests;

use open::{connect, fault_reason, file_stamp, keep_wal};
pub use open::{durable, has_moved, open_shared};
pub use outbox::{row_json_of, Outbox};

/// Detail of the rows found airing at start-up.
pub const INTERRUPTED_DETAIL: &str = "loa stopped unexpectedly (crash or power cut)";

/// RFC 3339 with milliseconds and the zone's offset, as stored.
pub fn format_time<Z: TimeZone>(t: &DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

fn clamp_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

pub use loa_core::Outcome;

/// Where a station keeps its airtime log: `paths.state/airtime.sqlite`.
pub fn log_path(station: &loa_schedules::Station) -> PathBuf {
    station.paths.state.join("airtime.sqlite")
}

/// What made an item air (column `trigger`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Mqtt,
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Mqtt => "mqtt",
            Trigger::Cli => "cli",
        }
    }
}

/// A row as the item starts (or, through [`AirtimeLog::record`], one that
/// never aired).
#[derive(Clone, Debug)]
pub struct NewRow {
    /// Schedule program id; None for announcements.
    pub program_id: Option<String>,
    pub title: String,
    /// Program category; `announcement` for announcements.
    pub category: String,
    /// file, stream, tts, live, tone, silence, chime.
    pub source_kind: String,
    /// Path, URL, or TTS text.
    pub source: String,
    pub trigger: Trigger,
    /// Key id (mqtt) or Unix user (cli); None for the schedule.
    pub requested_by: Option<String>,
    pub priority: Priority,
    /// Zone ids in station.yaml order; stored joined by commas.
    pub zones: Vec<String>,
    /// For announcements: the instant it was accepted, the same on its chime
    /// and every repeat (reports count an announcement once by it).
    pub scheduled_at: Option<DateTime<Tz>>,
    pub started_at: DateTime<Tz>,
    pub planned_ms: u64,
}

/// Errors of the airtime log; each names the database file.
#[derive(Debug, thiserror::Error)]
pub enum AirtimeError {
    #[error("{}: cannot create the directory of the airtime log: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot open the airtime log: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: airtime log: {source}", path.display())]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Schema(#[from] schema::SchemaError),
    #[error("{}: the airtime log is damaged ({why}) and could not be moved aside: {source}; \
             move it away by hand (loa starts a fresh log)", path.display())]
    MoveAside {
        path: PathBuf,
        why: String,
        source: std::io::Error,
    },
    #[error("{}: airtime log has no row {id}", path.display())]
    NoRow { path: PathBuf, id: i64 },
}

impl AirtimeError {
    fn sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            AirtimeError::Open { source, .. } | AirtimeError::Sql { source, .. } => Some(source),
            AirtimeError::Schema(e) => e.sqlite(),
            _ => None,
        }
    }

    /// The file is damaged: moving it aside and starting afresh is the cure.
    fn is_damage(&self) -> bool {
        self.sqlite().is_some_and(salvage::is_damage)
    }
}

/// One write to the log, kept in order until the file takes it.
#[derive(Clone, Debug)]
enum Write {
    /// Every column, the id first.
    Insert(Vec<Value>),
    Progress {
        id: i64,
        aired_ms: i64,
    },
    Finish {
        id: i64,
        ended_at: String,
        aired_ms: i64,
        outcome: Outcome,
        detail: Option<String>,
    },
    /// Queue a finished row for the MQTT feed.
    Feed(i64),
    Meta {
        key: String,
        value: String,
    },
}

impl Write {
    fn row_id(&self) -> Option<i64> {
        match self {
            Write::Insert(v) => match v.first() {
                Some(Value::Integer(id)) => Some(*id),
                _ => None,
            },
            Write::Progress { id, .. } | Write::Finish { id, .. } | Write::Feed(id) => Some(*id),
            Write::Meta { .. } => None,
        }
    }

    /// Uses the id a row was written under (see `AirtimeLog::renumbered`).
    fn renumber(&mut self, map: &std::collections::HashMap<i64, i64>) {
        match self {
            Write::Progress { id, .. } | Write::Finish { id, .. } | Write::Feed(id) => {
                if let Some(new) = map.get(id) {
                    *id = *new;
                }
            }
            Write::Insert(_) | Write::Meta { .. } => {}
        }
    }

    /// Whether a write that changes nothing means the row is not there.
    fn needs_row(&self) -> bool {
        matches!(self, Write::Progress { .. } | Write::Finish { .. })
    }

    /// Applies the write; returns how many rows it changed.
    fn apply(&self, conn: &Connection) -> rusqlite::Result<usize> {
        match self {
            Write::Insert(values) => conn
                .prepare_cached(
                    r#"INSERT INTO airtime (id, program_id, title, category, source_kind, source,
                        "trigger", requested_by, priority, zones, scheduled_at, started_at,
                        ended_at, planned_ms, aired_ms, outcome, detail)
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                        ?15, ?16, ?17)"#,
                )?
                .execute(rusqlite::params_from_iter(values.iter())),
            Write::Progress { id, aired_ms } => conn
                .prepare_cached(
                    "UPDATE airtime SET aired_ms = ?2 WHERE id = ?1 AND outcome = 'airing'",
                )?
                .execute(params![id, aired_ms]),
            Write::Finish {
                id,
                ended_at,
                aired_ms,
                outcome,
                detail,
            } => conn
                .prepare_cached(
                    "UPDATE airtime SET ended_at = ?2, aired_ms = ?3, outcome = ?4, detail = ?5
                     WHERE id = ?1",
                )?
                .execute(params![id, ended_at, aired_ms, outcome.as_str(), detail]),
            // Only a row that is there (a finish that found none queues nothing).
            Write::Feed(id) => conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO outbox (row_id)
                     SELECT ?1 WHERE EXISTS (SELECT 1 FROM airtime WHERE id = ?1)",
                )?
                .execute([id]),
            Write::Meta { key, value } => conn
                .prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![key, value]),
        }
    }
}

/// How often writes that failed are tried again, and how often the file is
/// checked for having been deleted or replaced while nothing is written.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The station's airtime log, open for writing (one writer: the daemon or
/// `loa simulate`).
///
/// A write the file cannot take (disk full, an I/O error, the file gone) is
/// kept in memory, in order, and tried again on the next write and every
/// [`RETRY_EVERY`]; [`AirtimeLog::status_json`] shows the fault meanwhile.
/// Row ids are given here, not by SQLite, so that a row that is still
/// waiting can already be finished.
pub struct AirtimeLog {
    /// None while the file cannot be opened (it is tried again).
    conn: Option<Connection>,
    path: PathBuf,
    station_id: String,
    tz: Tz,
    next_id: i64,
    pending: Vec<Write>,
    /// Why the last attempt to write failed, while writes wait.
    fault: Option<String>,
    /// The last time the file was moved aside or started afresh, and why
    /// (shown in the status until loa restarts).
    notice: Option<String>,
    last_try: Option<std::time::Duration>,
    /// Ids handed out while no file was open that the file turned out to
    /// have: the id each row was written under instead.
    renumbered: std::collections::HashMap<i64, i64>,
    /// Inside `begin_batch` .. `commit_batch`.
    batch: bool,
    /// Queue finished rows for the MQTT feed.
    feed: bool,
    /// A row was queued since the last `take_fed()`.
    fed: bool,
}

/// Marks the rows still airing as interrupted, ending them at
/// started_at + aired_ms (their last saved progress).
fn interrupt_airing(conn: &Connection) -> rusqlite::Result<usize> {
    let open: Vec<(i64, String, i64)> = conn
        .prepare("SELECT id, started_at, aired_ms FROM airtime WHERE outcome = 'airing'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut update =
        conn.prepare("UPDATE airtime SET outcome = ?2, ended_at = ?3, detail = ?4 WHERE id = ?1")?;
    for (id, started, aired) in &open {
        // A start time that does not parse (edited by hand) ends where it began.
        let end = DateTime::<FixedOffset>::parse_from_rfc3339(started)
            .map(|s| format_time(&(s + TimeDelta::milliseconds((*aired).max(0)))))
            .unwrap_or_else(|_| started.clone());
        update.execute(params![
            id,
            Outcome::Interrupted.as_str(),
            end,
            INTERRUPTED_DETAIL
        ])?;
    }
    Ok(open.len())
}

impl AirtimeLog {
    /// Opens (or creates, with its parent directories) the log at `path`:
    /// WAL with synchronous=FULL, so that a power cut loses no committed row.
    /// Rows left `airing` by a crash or power cut become `interrupted`, with
    /// their last saved `aired_ms` and `ended_at` = started_at + aired_ms.
    /// A damaged file is moved aside and its readable rows recovered into a
    /// fresh one. Returns the log and how many rows were left airing.
    ///
    /// Fails when the file cannot be opened now; [`AirtimeLog::open_on_air`]
    /// is the daemon's, which airs regardless.
    pub fn open(
        path: &Path,
        station_id: &str,
        tz: Tz,
    ) -> Result<(AirtimeLog, usize), AirtimeError> {
        let mut log = AirtimeLog::closed(path, station_id, tz);
        let conn = log.connect_or_salvage()?;
        let n = log.adopt(conn)?;
        Ok((log, n))
    }

    /// [`AirtimeLog::open`] for the daemon: only a log written by a newer
    /// Loa is refused. A file that cannot be opened now (disk full, not
    /// writable) leaves the log waiting, its rows kept in memory and the
    /// file tried again, while the schedule airs.
    pub fn open_on_air(
        path: &Path,
        station_id: &str,
        tz: Tz,
    ) -> Result<(AirtimeLog, usize), AirtimeError> {
        match AirtimeLog::open(path, station_id, tz) {
            Ok(x) => Ok(x),
            Err(e @ AirtimeError::Schema(schema::SchemaError::Newer { .. })) => Err(e),
            Err(e) => {
                tracing::error!(
                    "{e}; the station airs and loa tries the log again every {} s, keeping its \
                     rows meanwhile; free space or fix the file's permissions",
                    RETRY_EVERY.as_secs()
                );
                let mut log = AirtimeLog::closed(path, station_id, tz);
                log.fault = Some(fault_reason(&e));
                Ok((log, 0))
            }
        }
    }

    fn closed(path: &Path, station_id: &str, tz: Tz) -> AirtimeLog {
        AirtimeLog {
            conn: None,
            path: path.to_path_buf(),
            station_id: station_id.to_string(),
            tz,
            // Set from the file; rows written while none is open are
            // renumbered clear of the file's own when it comes back.
            next_id: 0,
            pending: Vec::new(),
            fault: None,
            notice: None,
            last_try: None,
            renumbered: std::collections::HashMap::new(),
            batch: false,
            feed: false,
            fed: false,
        }
    }

    /// Takes a fresh connection: rows left airing are interrupted and ids
    /// continue after the file's. Rows that waited for the file under ids it
    /// already has are renumbered.
    fn adopt(&mut self, conn: Connection) -> Result<usize, AirtimeError> {
        let n = interrupt_airing(&conn).map_err(|e| self.sql(e))?;
        let max: i64 = conn
            .query_row("SELECT coalesce(max(id), 0) FROM airtime", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        let clash = self
            .pending
            .iter()
            .any(|w| matches!(w, Write::Insert(_)) && w.row_id().is_some_and(|id| id <= max));
        let mut next = self.next_id.max(max + 1);
        if clash {
            for w in &mut self.pending {
                let old = w.row_id();
                if let (Write::Insert(v), Some(old)) = (w, old) {
                    v[0] = Value::Integer(next);
                    self.renumbered.insert(old, next);
                    next += 1;
                }
            }
            for w in &mut self.pending {
                w.renumber(&self.renumbered);
            }
        }
        self.next_id = next;
        self.conn = Some(conn);
        Ok(n)
    }

    /// Connects; a damaged file is moved aside and what can be read of it
    /// goes into a fresh one.
    fn connect_or_salvage(&mut self) -> Result<Connection, AirtimeError> {
        match connect(&self.path, &self.station_id, self.tz) {
            Ok(c) => Ok(c),
            Err(e) if e.is_damage() => self.salvage(&e.to_string()),
            Err(e) => Err(e),
        }
    }

    fn salvage(&mut self, why: &str) -> Result<Connection, AirtimeError> {
        self.conn = None;
        let moved = salvage::move_aside(&self.path, &file_stamp(self.tz)).map_err(|source| {
            AirtimeError::MoveAside {
                path: self.path.clone(),
                why: why.to_string(),
                source,
            }
        })?;
        let mut conn = connect(&self.path, &self.station_id, self.tz)?;
        let got = salvage::recover_into(&moved, &mut conn);
        let note = format!(
            "{} was damaged ({why}); it was moved aside to {} and {} airtime rows (and {} other \
             rows) read from it into a fresh log. Rows on damaged pages are lost: keep the moved \
             file for the record, and check the disk (`loa doctor`, `dmesg`) for errors",
            self.path.display(),
            got.moved_to.display(),
            got.airtime_rows,
            got.other_rows
        );
        tracing::error!("{note}");
        self.notice = Some(note);
        Ok(conn)
    }

    fn sql(&self, source: rusqlite::Error) -> AirtimeError {
        AirtimeError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// The file was deleted or replaced while open: rows went into a file
    /// nobody will read. Start the log afresh at its path with the rows that
    /// still matter (airing, or not yet sent to the feed).
    fn reopen_moved(&mut self) -> Result<(), AirtimeError> {
        let Some(old) = self.conn.take() else {
            return Ok(());
        };
        let carried = carry_rows(&old);
        drop(old);
        if !self.path.exists() {
            // The -wal and -shm left at the path are the deleted file's.
            for side in ["-wal", "-shm"] {
                let mut p = self.path.as_os_str().to_owned();
                p.push(side);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
        }
        let conn = self.connect_or_salvage()?;
        let (rows, queued) = carried.unwrap_or_default();
        let n = rows.len();
        for values in rows {
            let _ = conn
                .prepare_cached(
                    r#"INSERT OR IGNORE INTO airtime (id, program_id, title, category,
                        source_kind, source, "trigger", requested_by, priority, zones,
                        scheduled_at, started_at, ended_at, planned_ms, aired_ms, outcome, detail)
                       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                        ?15, ?16, ?17)"#,
                )
                .and_then(|mut s| s.execute(rusqlite::params_from_iter(values.iter())));
        }
        for id in queued {
            let _ = Write::Feed(id).apply(&conn);
        }
        let max: i64 = conn
            .query_row("SELECT coalesce(max(id), 0) FROM airtime", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        self.next_id = self.next_id.max(max + 1);
        self.conn = Some(conn);
        let note = format!(
            "{} was deleted or replaced while loa ran; loa goes on in a new log there, with the \
             {n} rows still airing or waiting for the MQTT feed. Rows before are only in the \
             old file: restore it from a backup if it was deleted by mistake (stop loa first)",
            self.path.display()
        );
        tracing::error!("{note}");
        self.notice = Some(note);
        Ok(())
    }

    /// Makes sure a connection to the file at the path is open.
    fn ensure_open(&mut self) -> Result<(), AirtimeError> {
        if self.conn.as_ref().is_some_and(has_moved) {
            return self.reopen_moved();
        }
        if self.conn.is_none() {
            let conn = self.connect_or_salvage()?;
            // Rows of the file left airing before loa started (the file
            // could not be opened then) are interrupted; ours wait in memory.
            self.adopt(conn)?;
        }
        Ok(())
    }

    /// Writes what waits, in order, in one transaction; on failure all of it
    /// keeps waiting. Returns the row ids that writes needed and did not find.
    fn flush(&mut self) -> Result<Vec<i64>, AirtimeError> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let result = self.write_pending();
        let result = match result {
            // A page found damaged mid-run: move the file aside, recover, and
            // write into the fresh one.
            Err(e) if e.is_damage() => {
                let why = e.to_string();
                self.salvage(&why).and_then(|conn| {
                    self.conn = Some(conn);
                    self.write_pending()
                })
            }
            r => r,
        };
        match result {
            Ok(missing) => {
                if self.fault.take().is_some() {
                    tracing::warn!(
                        "airtime log: {} is written again; no row was lost",
                        self.path.display()
                    );
                }
                Ok(missing)
            }
            Err(e) => {
                let reason = fault_reason(&e);
                if self.fault.as_deref() != Some(reason.as_str()) {
                    tracing::error!(
                        "airtime log: {e}; {} rows wait in memory and are written as soon as \
                         the file takes them (a restart before then loses them): free space on \
                         the disk of {}",
                        self.waiting_rows(),
                        self.path.display()
                    );
                }
                self.fault = Some(reason);
                Err(e)
            }
        }
    }

    fn write_pending(&mut self) -> Result<Vec<i64>, AirtimeError> {
        self.ensure_open()?;
        let path = self.path.clone();
        let sql = |source| AirtimeError::Sql {
            path: path.clone(),
            source,
        };
        let conn = self.conn.as_mut().expect("opened above");
        // A savepoint nests in a batch's transaction and is one outside it.
        let sp = conn.savepoint().map_err(sql)?;
        let mut missing = Vec::new();
        for w in &self.pending {
            let n = w.apply(&sp).map_err(sql)?;
            if n == 0 && w.needs_row() {
                missing.extend(w.row_id());
            }
        }
        sp.commit().map_err(sql)?;
        self.pending.clear();
        Ok(missing)
    }

    /// Rows with writes waiting.
    fn waiting_rows(&self) -> usize {
        let mut ids: Vec<i64> = self.pending.iter().filter_map(Write::row_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Queues a write and writes what waits. An error for a row this write
    /// names is the caller's; a fault that keeps it waiting is not an error.
    fn write(&mut self, mut w: Write) -> Result<(), AirtimeError> {
        w.renumber(&self.renumbered);
        let id = w.row_id();
        let needs_row = w.needs_row();
        // Only the last saved progress of a waiting row matters.
        if let Write::Progress { id, aired_ms } = &w {
            if let Some(Write::Progress { aired_ms: a, .. }) = self
                .pending
                .iter_mut()
                .rev()
                .find(|p| matches!(p, Write::Progress { id: i, .. } if i == id))
            {
                *a = *aired_ms;
                return self.flush().map(|_| ()).or(Ok(()));
            }
        }
        self.pending.push(w);
        match self.flush() {
            Ok(missing) => {
                for m in missing.iter().filter(|m| Some(**m) != id || !needs_row) {
                    tracing::warn!("airtime log: a write for row {m} found no such row");
                }
                match id {
                    Some(id) if needs_row && missing.contains(&id) => Err(AirtimeError::NoRow {
                        path: self.path.clone(),
                        id,
                    }),
                    _ => Ok(()),
                }
            }
            // Kept: written when the file takes it (the fault is in the status).
            Err(_) => Ok(()),
        }
    }

    /// Tries waiting writes again (every [`RETRY_EVERY`]) and checks that the
    /// file is still the one at the path; the serve loop calls it each turn.
    pub fn tick(&mut self, mono: std::time::Duration) {
        if self
            .last_try
            .is_some_and(|t| mono.saturating_sub(t) < RETRY_EVERY)
        {
            return;
        }
        self.last_try = Some(mono);
        if self.batch {
            return;
        }
        if !self.pending.is_empty() {
            let _ = self.flush();
        } else if self.conn.is_none() || self.conn.as_ref().is_some_and(has_moved) {
            self.fault = self.ensure_open().err().map(|e| fault_reason(&e));
        }
    }

    /// At shutdown: one last try to write what waits. What the file still
    /// cannot take (a full disk) goes to the journal, one line per write,
    /// so that nothing is lost without a trace and an administrator can put
    /// it back by hand.
    pub fn close(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let _ = self.flush();
        if self.pending.is_empty() {
            return;
        }
        tracing::error!(
            "airtime log: {} write(s) for {} row(s) could not be saved before stopping ({}); each follows on its own line",
            self.pending.len(),
            self.waiting_rows(),
            self.fault.as_deref().unwrap_or("cannot write")
        );
        for w in &self.pending {
            tracing::error!("airtime log: unsaved: {w:?}");
        }
    }

    /// The log's part of the status document: `ok`, or `failing` with why
    /// and how many rows wait; and the last time the file was replaced.
    pub fn status_json(&self) -> serde_json::Value {
        let mut v = match &self.fault {
            None => serde_json::json!({ "state": "ok" }),
            Some(reason) => serde_json::json!({
                "state": "failing",
                "reason": reason,
                "waiting": self.waiting_rows(),
            }),
        };
        if let Some(n) = &self.notice {
            v["notice"] = n.clone().into();
        }
        v
    }

    /// The item starts: a row with outcome `airing` and aired_ms 0.
    pub fn start(&mut self, row: &NewRow) -> Result<i64, AirtimeError> {
        self.insert(row, None, 0, Outcome::Airing, None)
    }

    fn insert(
        &mut self,
        row: &NewRow,
        ended_at: Option<&DateTime<Tz>>,
        aired_ms: u64,
        outcome: Outcome,
        detail: Option<&str>,
    ) -> Result<i64, AirtimeError> {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        let text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
        let values = vec![
            Value::Integer(id),
            text(row.program_id.clone()),
            Value::Text(row.title.clone()),
            Value::Text(row.category.clone()),
            Value::Text(row.source_kind.clone()),
            Value::Text(row.source.clone()),
            Value::Text(row.trigger.as_str().into()),
            text(row.requested_by.clone()),
            Value::Text(row.priority.as_str().into()),
            Value::Text(row.zones.join(",")),
            text(row.scheduled_at.as_ref().map(format_time)),
            Value::Text(format_time(&row.started_at)),
            text(ended_at.map(format_time)),
            Value::Integer(clamp_ms(row.planned_ms)),
            Value::Integer(clamp_ms(aired_ms)),
            Value::Text(outcome.as_str().into()),
            text(detail.map(str::to_string)),
        ];
        self.write(Write::Insert(values))?;
        Ok(id)
    }

    /// Saves how long an airing row has aired so far (every 5 s), so that a
    /// crash loses at most that much.
    pub fn progress(&mut self, id: i64, aired_ms: u64) -> Result<(), AirtimeError> {
        self.write(Write::Progress {
            id,
            aired_ms: clamp_ms(aired_ms),
        })
    }

    /// The item ended.
    pub fn finish(
        &mut self,
        id: i64,
        ended_at: DateTime<Tz>,
        aired_ms: u64,
        outcome: Outcome,
        detail: Option<&str>,
    ) -> Result<(), AirtimeError> {
        self.write(Write::Finish {
            id,
            ended_at: format_time(&ended_at),
            aired_ms: clamp_ms(aired_ms),
            outcome,
            detail: detail.map(str::to_string),
        })?;
        self.queue(id)
    }

    /// Queue finished rows for the MQTT feed from now on.
    pub fn enable_feed(&mut self) {
        self.feed = true;
    }

    /// Whether rows were queued for the feed since the last call.
    pub fn take_fed(&mut self) -> bool {
        std::mem::take(&mut self.fed)
    }

    fn queue(&mut self, id: i64) -> Result<(), AirtimeError> {
        if self.feed {
            self.write(Write::Feed(id))?;
            self.fed = true;
        }
        Ok(())
    }

    /// A row that never aired or ended at once (skipped, failed), inserted
    /// complete.
    pub fn record(
        &mut self,
        row: &NewRow,
        ended_at: DateTime<Tz>,
        aired_ms: u64,
        outcome: Outcome,
        detail: Option<&str>,
    ) -> Result<i64, AirtimeError> {
        let id = self.insert(row, Some(&ended_at), aired_ms, outcome, detail)?;
        self.queue(id)?;
        Ok(id)
    }

    /// One row as SPEC's JSON (every column); the feed reads rows through
    /// [`Outbox`], the tests through this.
    #[cfg(test)]
    pub fn row_json(&self, id: i64) -> Result<serde_json::Value, AirtimeError> {
        let conn = self.conn.as_ref().expect("the log is open");
        row_json_of(conn, id)
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| AirtimeError::NoRow {
                path: self.path.clone(),
                id,
            })
    }

    #[cfg(test)]
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("the log is open")
    }

    /// Starts a transaction around many calls (the simulator writes a year
    /// of rows; one fsync per row would take minutes).
    pub fn begin_batch(&mut self) -> Result<(), AirtimeError> {
        self.ensure_open()?;
        let conn = self.conn.as_ref().expect("opened above");
        conn.execute_batch("BEGIN").map_err(|e| self.sql(e))?;
        self.batch = true;
        Ok(())
    }

    pub fn commit_batch(&mut self) -> Result<(), AirtimeError> {
        self.batch = false;
        let conn = self.conn.as_ref().expect("opened in begin_batch");
        if let Err(e) = conn.execute_batch("COMMIT") {
            return Err(self.sql(e));
        }
        self.flush().map(|_| ())
    }

    /// Records the station's name in `meta`, for reports read without the
    /// configuration (`loa report --db`).
    pub fn set_station_name(&mut self, name: &str) -> Result<(), AirtimeError> {
        self.write(Write::Meta {
            key: "station_name".into(),
            value: name.into(),
        })
    }
}

/// The rows of a file about to be left that must go on in the new one:
/// those still airing and those the feed has not sent, and the feed's queue.
fn carry_rows(conn: &Connection) -> rusqlite::Result<(Vec<Vec<Value>>, Vec<i64>)> {
    let rows = conn
        .prepare(
            r#"SELECT id, program_id, title, category, source_kind, source, "trigger",
                requested_by, priority, zones, scheduled_at, started_at, ended_at,
                planned_ms, aired_ms, outcome, detail FROM airtime
               WHERE outcome = 'airing' OR id IN (SELECT row_id FROM outbox) ORDER BY id"#,
        )?
        .query_map([], |r| (0..17).map(|i| r.get::<_, Value>(i)).collect())?
        .collect::<rusqlite::Result<Vec<Vec<Value>>>>()?;
    let queued = conn
        .prepare("SELECT row_id FROM outbox ORDER BY row_id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok((rows, queued))
}
