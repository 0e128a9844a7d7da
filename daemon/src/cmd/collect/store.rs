//! The district's PostgreSQL book: its schema (refinery migrations, applied
//! at start; a newer schema is refused), the idempotent write of a batch
//! (rows keyed by (station, id): redelivered rows never double, a changed
//! row is updated) and the station state table.

use std::time::Duration;

use anyhow::{bail, Context};
use refinery::Migration;
use tokio_postgres::{Client, NoTls};

use super::input::{Row, Status};

/// The schema's migrations, oldest first. A new one is appended, never
/// edited (refinery checks that an applied migration is unchanged).
const MIGRATIONS: [(&str, &str); 1] = [(
    "V1__district_book",
    r#"
CREATE TABLE airtime (
    station      TEXT NOT NULL,
    id           BIGINT NOT NULL,
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
    planned_ms   BIGINT NOT NULL,
    aired_ms     BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (station, id)
);
-- Reports select a period of local days (started_at carries the station's offset).
CREATE INDEX airtime_started_at ON airtime (started_at);
CREATE TABLE station (
    station      TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    since        TIMESTAMPTZ NOT NULL,
    last_seen    TIMESTAMPTZ NOT NULL,
    version      TEXT,
    zones        JSONB,
    zone_faults  TEXT[] NOT NULL DEFAULT '{}',
    outputs      JSONB,
    config       JSONB,
    silent       BOOLEAN NOT NULL DEFAULT false
);
"#,
)];

/// The newest schema version this loa knows.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Connects (a password file, if any, read and trimmed) and returns the
/// client; the connection runs on its own task.
pub async fn connect(url: &str, password_file: Option<&std::path::Path>) -> anyhow::Result<Client> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .with_context(|| format!("database `{url}` is not a postgres:// URL"))?;
    if let Some(f) = password_file {
        let p = std::fs::read_to_string(f)
            .with_context(|| format!("database password_file {}", f.display()))?;
        config.password(p.trim_end_matches(['\n', '\r']));
    }
    config.connect_timeout(Duration::from_secs(10));
    let (client, connection) = config
        .connect(NoTls)
        .await
        .with_context(|| format!("cannot connect to the database {}", redacted(url)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("database connection: {e}");
        }
    });
    Ok(client)
}

/// The URL without a password in it, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Brings the schema to [`SCHEMA_VERSION`]; refuses a database a newer
/// loa has changed.
pub async fn migrate(client: &mut Client, url: &str) -> anyhow::Result<()> {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|(name, sql)| Migration::unapplied(name, sql))
        .collect::<Result<_, _>>()?;
    let runner = refinery::Runner::new(&migrations);
    // refinery's own reader fails on a database it has never written.
    let newest: Option<(i32, String)> = client
        .query_opt(
            "SELECT version, name FROM refinery_schema_history
             WHERE to_regclass('refinery_schema_history') IS NOT NULL
             ORDER BY version DESC LIMIT 1",
            &[],
        )
        .await
        .or_else(|e| match e.code() {
            // No such table: a new book.
            Some(c) if c.code() == "42P01" => Ok(None),
            _ => Err(e),
        })
        .with_context(|| format!("{}: cannot read the schema version", redacted(url)))?
        .map(|r| (r.get(0), r.get(1)));
    if let Some((version, name)) = newest {
        if version > SCHEMA_VERSION {
            bail!(
                "{}: the district book has schema version {version} ({name}); this loa knows \
                 versions up to {SCHEMA_VERSION}. Upgrade loa on this machine, or point the \
                 configuration's `database` at the book this version wrote",
                redacted(url),
            );
        }
    }
    runner
        .run_async(client)
        .await
        .with_context(|| format!("{}: cannot bring the schema up to date", redacted(url)))?;
    Ok(())
}

/// One message, stored.
#[derive(Clone, Debug)]
pub enum Record {
    Row(String, Row),
    Status(String, Status),
}

/// Writes `records` in one transaction: the rows with one statement
/// (later copies of a row in the batch win), then the stations' states.
pub async fn write(client: &mut Client, records: &[Record]) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // One row per key: ON CONFLICT may not touch a row twice in a statement.
    let mut rows: std::collections::HashMap<(&str, i64), &Row> = std::collections::HashMap::new();
    let mut seen: Vec<&str> = Vec::new();
    for r in records {
        if let Record::Row(station, row) = r {
            rows.insert((station.as_str(), row.id), row);
            if !seen.contains(&station.as_str()) {
                seen.push(station);
            }
        }
    }
    if !rows.is_empty() {
        let mut c: Vec<Vec<Option<&str>>> =
            (0..15).map(|_| Vec::with_capacity(rows.len())).collect();
        let mut ids = Vec::with_capacity(rows.len());
        let mut planned = Vec::with_capacity(rows.len());
        let mut aired = Vec::with_capacity(rows.len());
        for ((station, id), r) in &rows {
            ids.push(*id);
            planned.push(r.planned_ms);
            aired.push(r.aired_ms);
            let texts = [
                Some(*station),
                r.program_id.as_deref(),
                Some(r.title.as_str()),
                Some(r.category.as_str()),
                Some(r.source_kind.as_str()),
                Some(r.source.as_str()),
                Some(r.trigger.as_str()),
                r.requested_by.as_deref(),
                Some(r.priority.as_str()),
                Some(r.zones.as_str()),
                r.scheduled_at.as_deref(),
                Some(r.started_at.as_str()),
                r.ended_at.as_deref(),
                Some(r.outcome.as_str()),
                r.detail.as_deref(),
            ];
            for (i, t) in texts.into_iter().enumerate() {
                c[i].push(t);
            }
        }
        tx.execute(
            r#"INSERT INTO airtime (station, id, program_id, title, category, source_kind, source,
                   "trigger", requested_by, priority, zones, scheduled_at, started_at, ended_at,
                   planned_ms, aired_ms, outcome, detail)
               SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                   $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                   $12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[],
                   $17::text[], $18::text[])
               ON CONFLICT (station, id) DO UPDATE SET
                   program_id = EXCLUDED.program_id, title = EXCLUDED.title,
                   category = EXCLUDED.category, source_kind = EXCLUDED.source_kind,
                   source = EXCLUDED.source, "trigger" = EXCLUDED."trigger",
                   requested_by = EXCLUDED.requested_by, priority = EXCLUDED.priority,
                   zones = EXCLUDED.zones, scheduled_at = EXCLUDED.scheduled_at,
                   started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,
                   planned_ms = EXCLUDED.planned_ms, aired_ms = EXCLUDED.aired_ms,
                   outcome = EXCLUDED.outcome, detail = EXCLUDED.detail,
                   received_at = now()
               WHERE (airtime.ended_at, airtime.aired_ms, airtime.outcome, airtime.detail)
                   IS DISTINCT FROM (EXCLUDED.ended_at, EXCLUDED.aired_ms, EXCLUDED.outcome,
                   EXCLUDED.detail)"#,
            &[
                &c[0], &ids, &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7], &c[8], &c[9], &c[10],
                &c[11], &c[12], &planned, &aired, &c[13], &c[14],
            ],
        )
        .await?;
        // A row is a sign of life.
        tx.execute(
            "INSERT INTO station (station, state, since, last_seen)
                 SELECT s, 'online', now(), now() FROM UNNEST($1::text[]) AS s
             ON CONFLICT (station) DO UPDATE SET last_seen = now(), silent = false",
            &[&seen],
        )
        .await?;
    }
    for r in records {
        if let Record::Status(station, s) = r {
            let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
            tx.execute(
                "INSERT INTO station (station, state, since, last_seen, version, zones,
                     zone_faults, outputs, config)
                 VALUES ($1, $2, now(), now(), $3, $4::text::jsonb, $5, $6::text::jsonb,
                     $7::text::jsonb)
                 ON CONFLICT (station) DO UPDATE SET
                     since = CASE WHEN station.state = EXCLUDED.state THEN station.since
                                  ELSE now() END,
                     state = EXCLUDED.state, last_seen = now(), silent = false,
                     version = COALESCE(EXCLUDED.version, station.version),
                     zones = COALESCE(EXCLUDED.zones, station.zones),
                     zone_faults = CASE WHEN EXCLUDED.zones IS NULL THEN station.zone_faults
                                        ELSE EXCLUDED.zone_faults END,
                     outputs = COALESCE(EXCLUDED.outputs, station.outputs),
                     config = COALESCE(EXCLUDED.config, station.config)",
                &[
                    station,
                    &s.state,
                    &s.version,
                    &json(&s.zones),
                    &s.zone_faults,
                    &json(&s.outputs),
                    &json(&s.config),
                ],
            )
            .await?;
        }
    }
    tx.commit().await
}

/// Whether the database refused a value (data exceptions, integrity,
/// program limits: SQLSTATE classes 22, 23, 54), as opposed to being away
/// or shutting down (a server shutting down answers 57P01).
pub fn refused_value(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| matches!(c.code().get(0..2), Some("22" | "23" | "54")))
}

/// Flags the stations not heard from for `after`; returns those newly flagged.
pub async fn flag_silent(
    client: &Client,
    after: Duration,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "UPDATE station SET silent = true
             WHERE NOT silent AND last_seen < now() - make_interval(secs => $1)
             RETURNING station",
            &[&after.as_secs_f64()],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
