//! Opening the log's SQLite file: durability settings, WAL, noticing a file
//! deleted or replaced under the daemon, and the one-line reason for a fault.

use std::path::Path;

use chrono_tz::Tz;
use rusqlite::Connection;

use super::*;

/// Sets up a connection that writes to the airtime database (the log's, and
/// the remote gate's `seen_commands`): WAL with synchronous=FULL, so that a
/// power cut loses no committed row, and a wait of up to 5 s while another
/// connection (the daemon, `loa report`) holds the file.
pub fn durable(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    keep_wal(conn);
    // journal_mode answers with a row; pragma_update would reject that.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidQuery);
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // The kept -wal is emptied at a clean close, so the file alone is the
    // log then (and a copy of it is whole).
    conn.pragma_update(None, "journal_size_limit", 4 << 20)
}

/// Every connection of the daemon to the file keeps the -wal and -shm when
/// it closes: SQLite deletes them by name, and after the log was deleted and
/// started afresh that name is the new file's.
pub(super) fn keep_wal(conn: &Connection) {
    let mut persist = 1;
    let _ = conn.file_control(
        Some(rusqlite::MAIN_DB),
        rusqlite::FileControl::PersistWal(&mut persist),
    );
}

/// Whether the file a connection has open was deleted or replaced since.
pub fn has_moved(conn: &Connection) -> bool {
    let mut moved = 0;
    conn.file_control(
        Some(rusqlite::MAIN_DB),
        rusqlite::FileControl::HasMoved(&mut moved),
    )
    .is_ok()
        && moved != 0
}

/// Opens another connection to the airtime database for writing (the remote
/// gate's): durable, its tables brought to this Loa's version.
pub fn open_shared(path: &Path) -> Result<Connection, AirtimeError> {
    let mut conn = open_durable(path)?;
    schema::migrate(&mut conn, path)?;
    Ok(conn)
}

/// A connection to the file at `path`, set up as every Loa connection is
/// ([`durable`]).
pub(super) fn open_durable(path: &Path) -> Result<Connection, AirtimeError> {
    let conn = Connection::open(path).map_err(|source| AirtimeError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    durable(&conn).map_err(|source| AirtimeError::Sql {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(conn)
}

/// What an operator reads for an error that keeps rows waiting.
pub(super) fn fault_reason(e: &AirtimeError) -> String {
    use rusqlite::ErrorCode as C;
    let what = match e.sqlite().and_then(rusqlite::Error::sqlite_error_code) {
        Some(C::DiskFull) => "disk full".to_string(),
        Some(C::ReadOnly | C::PermissionDenied | C::CannotOpen) => {
            "the file or its directory is not writable".to_string()
        }
        Some(C::SystemIoFailure) => "I/O error".to_string(),
        Some(C::DatabaseBusy | C::DatabaseLocked) => "the file is held by another program".into(),
        _ => e.to_string(),
    };
    format!("cannot write ({what})")
}

/// The time in a moved file's name: when it was moved, by the PC's clock.
pub(super) fn file_stamp(tz: Tz) -> String {
    chrono::Utc::now()
        .with_timezone(&tz)
        .format("%Y%m%dT%H%M%S")
        .to_string()
}

/// A connection to the file at `path` with its tables at this Loa's version,
/// checked whole (a damaged page must be found now, not mid-program).
pub(super) fn connect(path: &Path, station_id: &str, tz: Tz) -> Result<Connection, AirtimeError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| AirtimeError::CreateDir {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let sql = |source| AirtimeError::Sql {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = open_durable(path)?;
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(sql)?;
    if check != "ok" {
        return Err(sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(check),
        )));
    }
    schema::migrate(&mut conn, path)?;
    // The log belongs to the station configured now; a renamed station
    // or a changed zone keeps its log (older rows keep their offsets).
    for (key, value) in [("station_id", station_id), ("timezone", tz.name())] {
        let w = Write::Meta {
            key: key.into(),
            value: value.into(),
        };
        w.apply(&conn).map_err(sql)?;
    }
    Ok(conn)
}
