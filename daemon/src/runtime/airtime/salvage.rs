//! A damaged airtime database must never keep the station off the air: the
//! file (with its -wal and -shm) is moved aside with a timestamp, a fresh log
//! is made in its place, and every row that can still be read from the
//! damaged copy is written into the fresh one. Unreadable pages are skipped:
//! the rows on them are the only ones lost.
//!
//! The bundled SQLite has no recovery extension, so rows are read table by
//! table in rowid order; where a read fails, the scan seeks past the damage
//! (doubling the step, then narrowing back) and goes on.

use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

/// What a salvage did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvaged {
    /// Where the damaged file now is.
    pub moved_to: PathBuf,
    /// Rows recovered from the `airtime` table.
    pub airtime_rows: u64,
    /// Rows recovered from the other tables (meta, outbox, seen commands).
    pub other_rows: u64,
}

/// Whether an error means the file is damaged (as opposed to full, busy or
/// unwritable, which waiting or the operator can cure).
pub fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// The path with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Moves `path` and its -wal and -shm aside as `path.damaged-<stamp>`.
pub fn move_aside(path: &Path, stamp: &str) -> std::io::Result<PathBuf> {
    let mut to = with_suffix(path, &format!(".damaged-{stamp}"));
    let mut n = 1;
    while to.exists() {
        n += 1;
        to = with_suffix(path, &format!(".damaged-{stamp}-{n}"));
    }
    std::fs::rename(path, &to)?;
    for side in ["-wal", "-shm"] {
        let from = with_suffix(path, side);
        if from.exists() {
            std::fs::rename(&from, with_suffix(&to, side))?;
        }
    }
    Ok(to)
}

/// Reads every readable row of the damaged file at `damaged` into `fresh`
/// (tables it knows, columns both have; rows already there are kept).
pub fn recover_into(damaged: &Path, fresh: &mut Connection) -> Salvaged {
    let mut out = Salvaged {
        moved_to: damaged.to_path_buf(),
        airtime_rows: 0,
        other_rows: 0,
    };
    let Ok(src) = open_damaged(damaged) else {
        return out;
    };
    for table in ["airtime", "meta", "outbox", "seen_commands"] {
        let n = copy_table(&src, fresh, table);
        if table == "airtime" {
            out.airtime_rows = n;
        } else {
            out.other_rows += n;
        }
    }
    out
}

/// Opens the moved copy so that its WAL is read but never checkpointed into
/// it nor deleted: the copy stays as it was found, for whoever looks later.
fn open_damaged(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    let mut persist = 1;
    let _ = conn.file_control(
        Some(rusqlite::MAIN_DB),
        rusqlite::FileControl::PersistWal(&mut persist),
    );
    // A truncated file is shorter than its header says: SQLite refuses it
    // unless the schema is "writable", and then reads the pages there are.
    // Nothing is written (query_only).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_WRITABLE_SCHEMA, true)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap_or_default()
}

/// Copies the readable rows of one table; returns how many were new.
fn copy_table(src: &Connection, dst: &mut Connection, table: &str) -> u64 {
    let have = columns(src, table);
    let cols: Vec<String> = columns(dst, table)
        .into_iter()
        .filter(|c| have.contains(c))
        .collect();
    if cols.is_empty() {
        return 0;
    }
    let quoted: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    let select = format!(
        "SELECT rowid, {} FROM \"{table}\" WHERE rowid > ?1 ORDER BY rowid",
        quoted.join(", ")
    );
    let insert = format!(
        "INSERT OR IGNORE INTO \"{table}\" ({}) VALUES ({})",
        quoted.join(", "),
        (1..=cols.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Ok(tx) = dst.transaction() else {
        return 0;
    };
    let mut copied = 0;
    {
        let Ok(mut ins) = tx.prepare(&insert) else {
            return 0;
        };
        let mut after = i64::MIN;
        loop {
            let (rows, broke) = read_from(src, &select, after, cols.len());
            for row in &rows {
                // The rowid read first is for the scan: the tables' keys are
                // their own columns.
                if ins
                    .execute(rusqlite::params_from_iter(row[1..].iter()))
                    .unwrap_or(0)
                    > 0
                {
                    copied += 1;
                }
            }
            if let Some(Value::Integer(last)) = rows.last().and_then(|r| r.first()) {
                after = *last;
            }
            if !broke {
                break;
            }
            match skip_damage(src, &select, after, cols.len()) {
                Some(next) => after = next,
                None => break,
            }
        }
    }
    if tx.commit().is_err() {
        return 0;
    }
    copied
}

/// Rows after rowid `after` up to the first unreadable one; true when the
/// scan stopped at damage rather than at the table's end.
fn read_from(src: &Connection, select: &str, after: i64, ncols: usize) -> (Vec<Vec<Value>>, bool) {
    let mut rows = Vec::new();
    let Ok(mut stmt) = src.prepare(select) else {
        return (rows, false);
    };
    let Ok(mut it) = stmt.query([after]) else {
        return (rows, true);
    };
    loop {
        match it.next() {
            Ok(Some(r)) => {
                let row: rusqlite::Result<Vec<Value>> = (0..=ncols).map(|i| r.get(i)).collect();
                match row {
                    Ok(v) => rows.push(v),
                    Err(_) => return (rows, true),
                }
            }
            Ok(None) => return (rows, false),
            Err(_) => return (rows, true),
        }
    }
}

/// Whether a scan after `after` reads its first row (or finds the end).
fn readable_after(src: &Connection, select: &str, after: i64, ncols: usize) -> bool {
    let Ok(mut stmt) = src.prepare(select) else {
        return false;
    };
    let Ok(mut it) = stmt.query([after]) else {
        return false;
    };
    match it.next() {
        Ok(Some(r)) => (0..=ncols).all(|i| r.get::<_, Value>(i).is_ok()),
        Ok(None) => true,
        Err(_) => false,
    }
}

/// The smallest rowid bound past the damage after `after` from which a scan
/// reads again; None when no readable row follows.
fn skip_damage(src: &Connection, select: &str, after: i64, ncols: usize) -> Option<i64> {
    let mut bad = after;
    let mut step: i64 = 1;
    let good = loop {
        let probe = bad.checked_add(step)?;
        if readable_after(src, select, probe, ncols) {
            break probe;
        }
        bad = probe;
        step = step.checked_mul(2)?;
    };
    // Narrow back: rows just past the damage are worth the probes.
    let (mut lo, mut hi) = (bad, good);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if readable_after(src, select, mid, ncols) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}
