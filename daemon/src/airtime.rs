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
use rusqlite::{params, Connection, OptionalExtension};

/// Version of the tables below, kept in `meta` for later migrations.
pub const SCHEMA_VERSION: u32 = 1;

/// The `airtime` table: exactly SPEC's columns. `trigger` is an SQL keyword,
/// hence quoted everywhere.
const SCHEMA: &str = r#"
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
"#;

/// Detail of the rows found airing at start-up.
pub const INTERRUPTED_DETAIL: &str = "loa stopped unexpectedly (crash or power cut)";

/// How an item's airing ended (SPEC section 7, column `outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Airing,
    Completed,
    Cut,
    Preempted,
    Failed,
    Skipped,
    Interrupted,
}

impl Outcome {
    pub const NAMES: [&'static str; 7] = [
        "airing",
        "completed",
        "cut",
        "preempted",
        "failed",
        "skipped",
        "interrupted",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Where a station keeps its airtime log: `paths.state/airtime.sqlite`.
pub fn log_path(station: &loa_schedules::Station) -> std::path::PathBuf {
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
    #[error("{}: airtime log has no row {id}", path.display())]
    NoRow { path: PathBuf, id: i64 },
}

/// The station's airtime log, open for writing (one writer: the daemon or
/// `loa simulate`).
pub struct AirtimeLog {
    conn: Connection,
    path: PathBuf,
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

/// Sets up a connection that writes to the airtime database (the log's, and
/// the remote gate's `seen_commands`): WAL with synchronous=FULL, so that a
/// power cut loses no committed row, and a wait of up to 5 s while another
/// connection (the daemon, `loa report`) holds the file.
pub fn durable(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // journal_mode answers with a row; pragma_update would reject that.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidQuery);
    }
    conn.pragma_update(None, "synchronous", "FULL")
}

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

impl AirtimeLog {
    /// Opens (or creates, with its parent directories) the log at `path`:
    /// WAL with synchronous=FULL, so that a power cut loses no committed row.
    /// Rows left `airing` by a crash or power cut become `interrupted`, with
    /// their last saved `aired_ms` and `ended_at` = started_at + aired_ms.
    /// Returns the log and how many rows were so recovered.
    pub fn open(
        path: &Path,
        station_id: &str,
        tz: Tz,
    ) -> Result<(AirtimeLog, usize), AirtimeError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| AirtimeError::CreateDir {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| AirtimeError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut log = AirtimeLog {
            conn,
            path: path.to_path_buf(),
            feed: false,
            fed: false,
        };
        log.init(station_id, tz).map_err(|e| log.sql(e))?;
        let recovered = log.recover()?;
        Ok((log, recovered))
    }

    fn init(&mut self, station_id: &str, tz: Tz) -> rusqlite::Result<()> {
        durable(&self.conn)?;
        let tx = self.conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        // The log belongs to the station configured now; a renamed station
        // or a changed zone keeps its log (older rows keep their offsets).
        for (key, value) in [
            ("station_id", station_id.to_string()),
            ("timezone", tz.name().to_string()),
            ("schema_version", SCHEMA_VERSION.to_string()),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        tx.commit()
    }

    fn sql(&self, source: rusqlite::Error) -> AirtimeError {
        AirtimeError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Rows left airing become interrupted.
    fn recover(&mut self) -> Result<usize, AirtimeError> {
        let tx = self.conn.transaction().map_err(|e| AirtimeError::Sql {
            path: self.path.clone(),
            source: e,
        })?;
        let n = interrupt_airing(&tx).and_then(|n| tx.commit().map(|()| n));
        n.map_err(|e| self.sql(e))
    }

    fn insert(
        &mut self,
        row: &NewRow,
        ended_at: Option<&DateTime<Tz>>,
        aired_ms: u64,
        outcome: Outcome,
        detail: Option<&str>,
    ) -> Result<i64, AirtimeError> {
        let result = (|| {
            let mut stmt = self.conn.prepare_cached(
                r#"INSERT INTO airtime (program_id, title, category, source_kind, source, "trigger",
                    requested_by, priority, zones, scheduled_at, started_at, ended_at,
                    planned_ms, aired_ms, outcome, detail)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"#,
            )?;
            stmt.execute(params![
                row.program_id,
                row.title,
                row.category,
                row.source_kind,
                row.source,
                row.trigger.as_str(),
                row.requested_by,
                row.priority.as_str(),
                row.zones.join(","),
                row.scheduled_at.as_ref().map(format_time),
                format_time(&row.started_at),
                ended_at.map(format_time),
                clamp_ms(row.planned_ms),
                clamp_ms(aired_ms),
                outcome.as_str(),
                detail,
            ])?;
            Ok(self.conn.last_insert_rowid())
        })();
        result.map_err(|e| self.sql(e))
    }

    /// The item starts: a row with outcome `airing` and aired_ms 0.
    pub fn start(&mut self, row: &NewRow) -> Result<i64, AirtimeError> {
        self.insert(row, None, 0, Outcome::Airing, None)
    }

    /// Saves how long an airing row has aired so far (every 5 s), so that a
    /// crash loses at most that much.
    pub fn progress(&mut self, id: i64, aired_ms: u64) -> Result<(), AirtimeError> {
        let n = self
            .conn
            .prepare_cached("UPDATE airtime SET aired_ms = ?2 WHERE id = ?1 AND outcome = 'airing'")
            .and_then(|mut s| s.execute(params![id, clamp_ms(aired_ms)]))
            .map_err(|e| self.sql(e))?;
        self.changed(n, id)
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
        let n = self
            .conn
            .prepare_cached(
                "UPDATE airtime SET ended_at = ?2, aired_ms = ?3, outcome = ?4, detail = ?5 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    format_time(&ended_at),
                    clamp_ms(aired_ms),
                    outcome.as_str(),
                    detail
                ])
            })
            .map_err(|e| self.sql(e))?;
        self.changed(n, id)?;
        self.queue(id)
    }

    /// Queue finished rows for the MQTT airtime feed from now on.
    pub fn enable_feed(&mut self) {
        self.feed = true;
    }

    /// Whether rows were queued for the feed since the last call.
    pub fn take_fed(&mut self) -> bool {
        std::mem::take(&mut self.fed)
    }

    fn queue(&mut self, id: i64) -> Result<(), AirtimeError> {
        if self.feed {
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO outbox (row_id) VALUES (?1)")
                .and_then(|mut s| s.execute([id]))
                .map_err(|e| self.sql(e))?;
            self.fed = true;
        }
        Ok(())
    }

    fn changed(&self, n: usize, id: i64) -> Result<(), AirtimeError> {
        if n == 0 {
            return Err(AirtimeError::NoRow {
                path: self.path.clone(),
                id,
            });
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
        row_json_of(&self.conn, id)
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| AirtimeError::NoRow {
                path: self.path.clone(),
                id,
            })
    }

    /// Starts a transaction around many calls (the simulator writes a year
    /// of rows; one fsync per row would take minutes).
    pub fn begin_batch(&mut self) -> Result<(), AirtimeError> {
        self.conn.execute_batch("BEGIN").map_err(|e| self.sql(e))
    }

    pub fn commit_batch(&mut self) -> Result<(), AirtimeError> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.sql(e))
    }

    /// Records the station's name in `meta`, for reports read without the
    /// configuration (`loa report --db`).
    pub fn set_station_name(&mut self, name: &str) -> Result<(), AirtimeError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('station_name', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [name],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }
}

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
/// while the scheduler writes), oldest rows first.
pub struct Outbox {
    conn: Connection,
}

impl Outbox {
    pub fn open(path: &Path) -> rusqlite::Result<Outbox> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Outbox { conn })
    }

    /// Up to `limit` queued rows after row id `after`, oldest first, as JSON.
    pub fn pending(
        &self,
        after: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<(i64, serde_json::Value)>> {
        let ids: Vec<i64> = self
            .conn
            .prepare_cached("SELECT row_id FROM outbox WHERE row_id > ?1 ORDER BY row_id LIMIT ?2")?
            .query_map(params![after, limit as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match row_json_of(&self.conn, id)? {
                Some(v) => out.push((id, v)),
                None => self.ack(id)?, // the row is gone (log edited by hand)
            }
        }
        Ok(out)
    }

    /// The broker has the row (PUBACK): forget it.
    pub fn ack(&self, id: i64) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE row_id = ?1")?
            .execute([id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Tz> {
        TZ.from_local_datetime(
            &NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap(),
        )
        .unwrap()
    }

    fn row() -> NewRow {
        NewRow {
            program_id: Some("vov1-sang".into()),
            title: "Tiếp sóng VOV1 — Thời sự sáng".into(),
            category: "relay".into(),
            source_kind: "stream".into(),
            source: "http://example.invalid/vov1.m3u".into(),
            trigger: Trigger::Schedule,
            requested_by: None,
            priority: Priority::Normal,
            zones: vec!["thon-1".into(), "thon-2".into(), "cho".into()],
            scheduled_at: Some(at(23, 6, 0)),
            started_at: at(23, 6, 0),
            planned_ms: 1_800_000,
        }
    }

    #[test]
    fn a_row_starts_airing_and_finishes_with_every_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/sub/airtime.sqlite");
        let (mut log, recovered) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        assert_eq!(recovered, 0);
        let id = log.start(&row()).unwrap();
        let v = log.row_json(id).unwrap();
        assert_eq!(v["outcome"], "airing");
        assert_eq!(v["aired_ms"], 0);
        assert_eq!(v["ended_at"], serde_json::Value::Null);
        log.progress(id, 5_000).unwrap();
        assert_eq!(log.row_json(id).unwrap()["aired_ms"], 5_000);
        log.finish(id, at(23, 6, 30), 1_800_000, Outcome::Completed, None)
            .unwrap();
        let v = log.row_json(id).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": id, "program_id": "vov1-sang", "title": "Tiếp sóng VOV1 — Thời sự sáng",
                "category": "relay", "source_kind": "stream",
                "source": "http://example.invalid/vov1.m3u", "trigger": "schedule",
                "requested_by": null, "priority": "normal", "zones": "thon-1,thon-2,cho",
                "scheduled_at": "2026-11-23T06:00:00.000+07:00",
                "started_at": "2026-11-23T06:00:00.000+07:00",
                "ended_at": "2026-11-23T06:30:00.000+07:00",
                "planned_ms": 1_800_000, "aired_ms": 1_800_000,
                "outcome": "completed", "detail": null,
            })
        );
        // A finished row takes no more progress.
        assert!(matches!(
            log.progress(id, 1),
            Err(AirtimeError::NoRow { .. })
        ));
        assert!(log
            .finish(999, at(23, 7, 0), 0, Outcome::Cut, Some("x"))
            .unwrap_err()
            .to_string()
            .contains("airtime.sqlite: airtime log has no row 999"));
    }

    #[test]
    fn the_log_is_wal_with_synchronous_full_and_meta() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airtime.sqlite");
        let (log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        let mode: String = log
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = log
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        let meta = |k: &str| -> String {
            log.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(meta("station_id"), "au-lau");
        assert_eq!(meta("timezone"), "Asia/Ho_Chi_Minh");
        assert_eq!(meta("schema_version"), "1");
        let mut log = log;
        log.set_station_name("Đài truyền thanh xã Âu Lâu").unwrap();
        let name: String = log
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'station_name'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(name, "Đài truyền thanh xã Âu Lâu");
        let cols: Vec<String> = log
            .conn
            .prepare("SELECT name FROM pragma_table_info('airtime')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            cols.join(" "),
            "id program_id title category source_kind source trigger requested_by priority \
             zones scheduled_at started_at ended_at planned_ms aired_ms outcome detail"
        );
    }

    #[test]
    fn rows_left_airing_become_interrupted_on_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airtime.sqlite");
        let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        let done = log.start(&row()).unwrap();
        log.finish(done, at(23, 6, 30), 1_800_000, Outcome::Completed, None)
            .unwrap();
        let mut r = row();
        r.started_at = at(23, 7, 0);
        let left = log.start(&r).unwrap();
        log.progress(left, 65_000).unwrap();
        drop(log); // a power cut: nothing more is written

        let (log, recovered) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        assert_eq!(recovered, 1);
        let v = log.row_json(left).unwrap();
        assert_eq!(v["outcome"], "interrupted");
        assert_eq!(v["aired_ms"], 65_000);
        assert_eq!(v["ended_at"], "2026-11-23T07:01:05.000+07:00");
        assert_eq!(v["detail"], INTERRUPTED_DETAIL);
        assert_eq!(log.row_json(done).unwrap()["outcome"], "completed");
        drop(log);
        let (_, recovered) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        assert_eq!(recovered, 0);
    }

    #[test]
    fn recorded_rows_and_batches_keep_milliseconds_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airtime.sqlite");
        let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        let mut r = row();
        r.program_id = None;
        r.category = "announcement".into();
        r.source_kind = "tts".into();
        r.trigger = Trigger::Mqtt;
        r.requested_by = Some("chu-tich-xa".into());
        r.priority = Priority::Emergency;
        r.zones = vec!["cho".into()];
        r.started_at = at(24, 9, 15) + TimeDelta::milliseconds(42);
        log.begin_batch().unwrap();
        let a = log
            .record(
                &r,
                at(24, 9, 15),
                0,
                Outcome::Failed,
                Some("TTS engine missing"),
            )
            .unwrap();
        let b = log
            .record(&r, at(24, 9, 16), 0, Outcome::Skipped, Some("clock step"))
            .unwrap();
        log.commit_batch().unwrap();
        let v = log.row_json(a).unwrap();
        assert_eq!(v["started_at"], "2026-11-24T09:15:00.042+07:00");
        assert_eq!(v["zones"], "cho");
        assert_eq!(v["trigger"], "mqtt");
        assert_eq!(v["priority"], "emergency");
        assert_eq!(v["outcome"], "failed");
        assert_eq!(v["detail"], "TTS engine missing");
        assert_eq!(log.row_json(b).unwrap()["outcome"], "skipped");
    }

    #[test]
    fn times_are_rfc3339_with_milliseconds_and_the_zones_offset() {
        assert_eq!(format_time(&at(1, 0, 0)), "2026-11-01T00:00:00.000+07:00");
        let paris = chrono_tz::Europe::Paris
            .with_ymd_and_hms(2026, 7, 1, 12, 0, 0)
            .unwrap();
        assert_eq!(format_time(&paris), "2026-07-01T12:00:00.000+02:00");
    }
}
