//! The airtime log against real SQLite files: rows through their life,
//! the report's reads, damage, a full disk and a deleted file.

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
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = log
        .conn()
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "FULL");
    let meta = |k: &str| -> String {
        log.conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(meta("station_id"), "au-lau");
    assert_eq!(meta("timezone"), "Asia/Ho_Chi_Minh");
    assert_eq!(meta("schema_version"), "1");
    let mut log = log;
    log.set_station_name("Đài truyền thanh xã Âu Lâu").unwrap();
    let name: String = log
        .conn()
        .query_row(
            "SELECT value FROM meta WHERE key = 'station_name'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, "Đài truyền thanh xã Âu Lâu");
    let cols: Vec<String> = log
        .conn()
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

/// The schema exactly as Loa wrote it before migrations (SCHEMA_VERSION
/// 1 in `meta`, user_version 0), with rows.
fn todays_log(path: &Path, rows: i64) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        r#"PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS airtime (
            id INTEGER PRIMARY KEY, program_id TEXT, title TEXT NOT NULL,
            category TEXT NOT NULL, source_kind TEXT NOT NULL, source TEXT NOT NULL,
            "trigger" TEXT NOT NULL, requested_by TEXT, priority TEXT NOT NULL,
            zones TEXT NOT NULL, scheduled_at TEXT, started_at TEXT NOT NULL,
            ended_at TEXT, planned_ms INTEGER NOT NULL, aired_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL, detail TEXT);
        CREATE INDEX IF NOT EXISTS airtime_started_at ON airtime (started_at);
        CREATE INDEX IF NOT EXISTS airtime_airing ON airtime (id) WHERE outcome = 'airing';
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS outbox (row_id INTEGER PRIMARY KEY);
        INSERT INTO meta VALUES ('station_id', 'au-lau'), ('timezone', 'Asia/Ho_Chi_Minh'),
            ('schema_version', '1'), ('station_name', 'Đài xã Âu Lâu');"#,
    )
    .unwrap();
    for i in 1..=rows {
        c.execute(
            r#"INSERT INTO airtime (id, program_id, title, category, source_kind, source,
                "trigger", priority, zones, scheduled_at, started_at, ended_at,
                planned_ms, aired_ms, outcome)
               VALUES (?1, 'thoi-su', 'Thời sự ' || ?1, 'news', 'file', 'thoi-su.mp3',
                'schedule', 'normal', 'thon-1', '2026-11-23T06:00:00.000+07:00',
                '2026-11-23T06:00:00.000+07:00', '2026-11-23T06:10:00.000+07:00',
                600000, 600000, 'completed')"#,
            [i],
        )
        .unwrap();
    }
    c.execute("INSERT INTO outbox VALUES (?1)", [rows]).unwrap();
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_log_written_before_migrations_is_adopted_in_place_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airtime.sqlite");
    todays_log(&path, 40);
    let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
    let c = log.conn();
    assert_eq!(count(c, "PRAGMA user_version"), schema::LATEST as i64);
    assert_eq!(count(c, "SELECT count(*) FROM airtime"), 40);
    assert_eq!(count(c, "SELECT count(*) FROM outbox"), 1);
    assert_eq!(count(c, "SELECT count(*) FROM seen_commands"), 0);
    assert_eq!(
        log.row_json(17).unwrap()["title"],
        "Thời sự 17",
        "rows keep their ids and columns"
    );
    // Adopting changes no table: no backup was needed.
    assert!(!schema::backup_path(&path, 1).exists());
    // New rows continue after the old ones.
    assert_eq!(log.start(&row()).unwrap(), 41);
}

#[test]
fn a_later_migration_upgrades_in_place_and_keeps_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airtime.sqlite");
    todays_log(&path, 25);
    let (log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
    drop(log);
    // A next version as a later Loa may add it.
    let mut list = schema::MIGRATIONS.to_vec();
    list.push("ALTER TABLE airtime ADD COLUMN loudness_lufs REAL;");
    let mut c = Connection::open(&path).unwrap();
    schema::migrate_with(&mut c, &path, &list).unwrap();
    assert_eq!(count(&c, "PRAGMA user_version"), 2);
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM airtime WHERE title LIKE 'Thời sự %'"
        ),
        25
    );
    assert_eq!(
        count(
            &c,
            "SELECT count(*) FROM pragma_table_info('airtime') WHERE name = 'loudness_lufs'"
        ),
        1
    );
    let backup = schema::backup_path(&path, 2);
    let b = Connection::open(&backup).unwrap();
    assert_eq!(count(&b, "SELECT count(*) FROM airtime"), 25);
    assert_eq!(count(&b, "PRAGMA user_version"), 1);
    drop(c);

    // This Loa (version 1) now refuses the upgraded log, naming both
    // versions and the backup to go back to.
    let e = AirtimeLog::open(&path, "au-lau", TZ)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("schema version 2"), "{e}");
    assert!(e.contains("knows versions up to 1"), "{e}");
    assert!(e.contains("Upgrade loa"), "{e}");
    assert!(e.contains(&backup.display().to_string()), "{e}");
    // So does `loa report`, and the daemon too (it never writes into it).
    let r = crate::cmd::report::open_log(&path)
        .err()
        .unwrap()
        .to_string();
    assert!(r.contains("schema version 2"), "{r}");
    assert!(AirtimeLog::open_on_air(&path, "au-lau", TZ).is_err());
    let c = Connection::open(&path).unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM airtime"), 25, "untouched");
}

#[test]
fn rows_that_meet_a_full_disk_wait_in_order_and_are_written_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airtime.sqlite");
    let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
    log.enable_feed();
    let first = log.start(&row()).unwrap();
    log.finish(first, at(23, 6, 30), 1_800_000, Outcome::Completed, None)
        .unwrap();
    // The file may not grow: SQLite answers SQLITE_FULL, as on a full disk.
    let pages = count(log.conn(), "PRAGMA page_count");
    log.conn()
        .pragma_update(None, "max_page_count", pages)
        .unwrap();
    let mut r = row();
    r.title = "x".repeat(3000);
    let mut ids = Vec::new();
    for i in 0..6 {
        r.started_at = at(23, 7, i);
        let id = log.start(&r).unwrap();
        log.progress(id, 5_000).unwrap();
        log.finish(
            id,
            at(23, 7, i) + TimeDelta::seconds(30),
            30_000,
            Outcome::Completed,
            None,
        )
        .unwrap();
        ids.push(id);
    }
    let status = log.status_json();
    assert_eq!(status["state"], "failing", "{status}");
    assert_eq!(status["reason"], "cannot write (disk full)");
    let waiting = status["waiting"].as_u64().unwrap();
    assert!(waiting >= 2, "{status}");
    // What was written before stays.
    assert_eq!(log.row_json(first).unwrap()["outcome"], "completed");

    // Space returns: the next retry writes every waiting row, in order.
    log.conn()
        .pragma_update(None, "max_page_count", 1_000_000)
        .unwrap();
    log.tick(std::time::Duration::from_secs(100));
    assert_eq!(log.status_json(), serde_json::json!({ "state": "ok" }));
    for (i, id) in ids.iter().enumerate() {
        let v = log.row_json(*id).unwrap();
        assert_eq!(v["outcome"], "completed");
        assert_eq!(v["aired_ms"], 30_000);
        assert_eq!(v["started_at"], format_time(&at(23, 7, i as u32)));
    }
    assert_eq!(
        count(log.conn(), "SELECT count(*) FROM outbox"),
        1 + ids.len() as i64,
        "every finished row is queued for the feed"
    );
}

#[test]
fn a_truncated_log_is_moved_aside_and_its_readable_rows_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airtime.sqlite");
    let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
    log.set_station_name("Đài xã Âu Lâu").unwrap();
    let mut r = row();
    log.begin_batch().unwrap();
    for i in 0..400 {
        r.title = format!("Bản tin {i} {}", "·".repeat(200));
        log.record(&r, at(23, 7, 0), 1_000, Outcome::Completed, None)
            .unwrap();
    }
    log.commit_batch().unwrap();
    drop(log);
    let size = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(size / 2)
        .unwrap();

    let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
    let moved: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("airtime.sqlite.damaged-") && !n.contains("-wal") && !n.contains("-shm")
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        std::fs::metadata(dir.path().join(&moved[0])).unwrap().len(),
        size / 2,
        "the damaged file is kept as it was"
    );
    let recovered = count(log.conn(), "SELECT count(*) FROM airtime");
    assert!(
        recovered > 50 && recovered < 400,
        "about half the rows are readable: {recovered}"
    );
    assert_eq!(
        count(
            log.conn(),
            "SELECT count(*) FROM meta WHERE key = 'station_name'"
        ),
        1
    );
    let notice = log.status_json()["notice"].as_str().unwrap().to_string();
    assert!(notice.contains(&moved[0]), "{notice}");
    assert!(
        notice.contains(&format!("{recovered} airtime rows")),
        "{notice}"
    );
    // The fresh log takes new rows after the recovered ones.
    let id = log.start(&row()).unwrap();
    assert!(id > recovered);
    assert_eq!(log.row_json(id).unwrap()["outcome"], "airing");
}

#[test]
fn a_log_deleted_while_running_goes_on_in_a_new_file_with_the_rows_between() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airtime.sqlite");
    let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
    log.enable_feed();
    let old = log.start(&row()).unwrap();
    log.finish(old, at(23, 6, 30), 1_800_000, Outcome::Completed, None)
        .unwrap();
    let mut r = row();
    r.started_at = at(23, 7, 0);
    let airing = log.start(&r).unwrap();
    log.progress(airing, 5_000).unwrap();
    std::fs::remove_file(&path).unwrap();

    // The next write notices.
    log.progress(airing, 10_000).unwrap();
    r.started_at = at(23, 8, 0);
    let after = log
        .record(&r, at(23, 8, 0), 0, Outcome::Skipped, Some("test"))
        .unwrap();
    log.finish(airing, at(23, 7, 40), 40_000, Outcome::Completed, None)
        .unwrap();
    assert!(path.exists());
    let c = Connection::open(&path).unwrap();
    let ids: Vec<i64> = c
        .prepare("SELECT id FROM airtime ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // The row finished before the deletion was still waiting for the
    // feed: it is carried too.
    assert_eq!(ids, vec![old, airing, after]);
    assert_eq!(log.row_json(airing).unwrap()["aired_ms"], 40_000);
    assert_eq!(log.row_json(airing).unwrap()["outcome"], "completed");
    assert_eq!(count(&c, "SELECT count(*) FROM outbox"), 3);
    let notice = log.status_json()["notice"].as_str().unwrap().to_string();
    assert!(notice.contains("deleted or replaced"), "{notice}");

    // Deleted again while idle: the periodic check notices.
    std::fs::remove_file(&path).unwrap();
    log.tick(std::time::Duration::from_secs(1_000));
    assert!(
        path.exists(),
        "a new file is made without waiting for a row"
    );
}

#[test]
fn rows_kept_while_the_file_could_not_be_opened_are_renumbered_clear_of_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    // The state directory is not there yet (a disk not mounted): a file
    // stands where it should be.
    let state = dir.path().join("state");
    std::fs::write(&state, "").unwrap();
    let path = state.join("airtime.sqlite");
    let (mut log, _) = AirtimeLog::open_on_air(&path, "au-lau", TZ).unwrap();
    assert_eq!(log.status_json()["state"], "failing");
    let a = log.start(&row()).unwrap();
    log.finish(a, at(23, 6, 30), 1_800_000, Outcome::Completed, None)
        .unwrap();
    let b = log.start(&row()).unwrap();
    assert_eq!(log.status_json()["waiting"], 2);

    // The disk comes back with the log on it.
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    todays_log(&path, 3);
    log.tick(std::time::Duration::from_secs(10));
    assert_eq!(log.status_json()["state"], "ok");
    log.finish(b, at(23, 7, 0), 60_000, Outcome::Cut, Some("stopped"))
        .unwrap();
    let c = log.conn();
    assert_eq!(count(c, "SELECT count(*) FROM airtime"), 5);
    assert_eq!(
        count(
            c,
            "SELECT count(*) FROM airtime WHERE title LIKE 'Thời sự %'"
        ),
        3
    );
    assert_eq!(log.row_json(4).unwrap()["outcome"], "completed");
    assert_eq!(log.row_json(5).unwrap()["detail"], "stopped");
}
