//! The airtime log never silences the station and never loses a row it
//! could keep (SPEC section 7), with the real binary: a damaged log is moved
//! aside and its readable rows recovered while the schedule airs; a log
//! deleted while loa runs goes on in a new file with the rows since; rows
//! that meet a full disk wait and are written once there is space again.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use loa_e2e::{airtime_rows as rows, local_in, station_dir, wait_rows, wait_until, Daemon};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_loa");

const STATION: &str = r#"station:
  id: e2e
  name: "Đài thử nghiệm"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { output: main }
policy:
  loudness: null
  late_start: join
"#;

/// A program at `at` of `n` one-second tones (one airtime row each).
fn tones(at: &str, n: usize) -> String {
    let items: String = (0..n)
        .map(|i| format!("      - tone: {{ hz: {}, for: 1s }}\n", 400 + 100 * i))
        .collect();
    format!("programs:\n  - id: tones\n    at: \"{at}\"\n    zones: all\n    items:\n{items}")
}

/// The rows of the program `tones` that say what aired (not airing any more).
fn tones_done(rows: &[loa_e2e::AirtimeRow]) -> usize {
    rows.iter()
        .filter(|r| r.program_id.as_deref() == Some("tones") && r.outcome != "airing")
        .count()
}

/// Polls `loa status` until `pred` holds for its JSON (usually within `usual`).
fn wait_status(dir: &Path, what: &str, usual: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, usual, Duration::from_millis(200), || {
        let s = status(dir);
        if pred(&s) {
            Ok(s)
        } else {
            Err(s)
        }
    })
}

fn status(dir: &Path) -> Value {
    let out = loa_e2e::loa(
        BIN,
        &[
            "status",
            "--format",
            "json",
            "--config",
            dir.to_str().unwrap(),
        ],
    );
    serde_json::from_slice(&out.stdout).expect("loa status answers")
}

/// A log as today's Loa writes it, with `n` aired rows of an earlier day.
fn old_log(path: &Path, n: i64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        r#"PRAGMA journal_mode = WAL;
        CREATE TABLE airtime (
            id INTEGER PRIMARY KEY, program_id TEXT, title TEXT NOT NULL,
            category TEXT NOT NULL, source_kind TEXT NOT NULL, source TEXT NOT NULL,
            "trigger" TEXT NOT NULL, requested_by TEXT, priority TEXT NOT NULL,
            zones TEXT NOT NULL, scheduled_at TEXT, started_at TEXT NOT NULL,
            ended_at TEXT, planned_ms INTEGER NOT NULL, aired_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL, detail TEXT);
        CREATE INDEX airtime_started_at ON airtime (started_at);
        CREATE INDEX airtime_airing ON airtime (id) WHERE outcome = 'airing';
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE outbox (row_id INTEGER PRIMARY KEY);
        INSERT INTO meta VALUES ('station_id', 'e2e'), ('timezone', 'Asia/Ho_Chi_Minh'),
            ('schema_version', '1');"#,
    )
    .unwrap();
    for i in 1..=n {
        c.execute(
            r#"INSERT INTO airtime (program_id, title, category, source_kind, source, "trigger",
                priority, zones, started_at, ended_at, planned_ms, aired_ms, outcome)
               VALUES ('thoi-su', 'Thời sự ' || ?1 || ' ' || printf('%.200c', '.'), 'news',
                'file', 'thoi-su.mp3', 'schedule', 'normal', 'thon-1',
                '2026-11-23T06:00:00.000+07:00', '2026-11-23T06:10:00.000+07:00',
                600000, 600000, 'completed')"#,
            [i],
        )
        .unwrap();
    }
}

#[test]
fn a_damaged_log_is_moved_aside_and_the_schedule_airs() {
    let (at, _) = local_in(4);
    let dir = station_dir(STATION, Some(&tones(&at, 2)));
    let db = dir.path().join("state/airtime.sqlite");
    old_log(&db, 400);
    // Half the file lost, as a failing disk or an interrupted copy leaves it.
    let size = std::fs::metadata(&db).unwrap().len();
    Command::new("truncate")
        .args(["-s", &(size / 2).to_string(), db.to_str().unwrap()])
        .status()
        .unwrap();

    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("on air", 10);
    wait_rows(
        dir.path(),
        "the schedule aired",
        Duration::from_secs(7),
        |r| tones_done(r) == 2,
    );
    let s = status(dir.path());
    let notice = s["airtime_log"]["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("was damaged"), "{s}");
    let log_file = d.log.clone();
    let (exit, _) = d.stop();
    assert!(exit.success(), "{exit:?}");

    let log = std::fs::read_to_string(&log_file).unwrap();
    assert_eq!(log.matches("was damaged").count(), 1, "said once:\n{log}");
    let moved: Vec<String> = std::fs::read_dir(dir.path().join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("airtime.sqlite.damaged-") && !n.ends_with("-wal") && !n.ends_with("-shm")
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        std::fs::metadata(dir.path().join("state").join(&moved[0]))
            .unwrap()
            .len(),
        size / 2
    );
    let all = rows(dir.path());
    let recovered = all
        .iter()
        .filter(|r| r.title.starts_with("Thời sự"))
        .count();
    assert!(
        recovered > 0 && recovered < 400,
        "the readable rows are in the new log: {recovered}"
    );
    let aired: Vec<_> = all
        .iter()
        .filter(|r| r.program_id.as_deref() == Some("tones"))
        .collect();
    assert_eq!(aired.len(), 2, "the schedule aired: {all:?}");
    assert!(aired.iter().all(|r| r.outcome == "completed"), "{aired:?}");
}

#[test]
fn a_log_deleted_while_running_goes_on_in_a_new_file_with_the_rows_since() {
    let (at, _) = local_in(4);
    // Eight tones; the third is long: the log is deleted while it airs.
    let schedule = tones(&at, 8).replace("hz: 600, for: 1s", "hz: 600, for: 5s");
    let dir = station_dir(STATION, Some(&schedule));
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("on air", 10);
    // An operator clears the state directory while the third tone airs:
    // once the first two are logged (the third then has seconds to go).
    wait_rows(
        dir.path(),
        "the first two tones",
        Duration::from_secs(7),
        |r| tones_done(r) == 2,
    );
    for f in ["airtime.sqlite", "airtime.sqlite-wal", "airtime.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join("state").join(f));
    }
    // The new file (read without creating it) ends with the last tone.
    wait_rows(
        dir.path(),
        "the last tone in the new file",
        Duration::from_secs(12),
        |r| {
            r.iter()
                .any(|x| x.source.contains("1100 Hz") && x.outcome == "completed")
        },
    );
    let log_file = d.log.clone();
    let (exit, _) = d.stop();
    assert!(exit.success(), "{exit:?}");

    let log = std::fs::read_to_string(&log_file).unwrap();
    assert_eq!(
        log.matches("deleted or replaced while loa ran").count(),
        1,
        "{log}"
    );
    let hz: Vec<String> = rows(dir.path())
        .iter()
        .filter(|r| r.outcome == "completed")
        .map(|r| r.source.clone())
        .collect();
    // The tone airing at the deletion and every one after it.
    let expect: Vec<String> = (2..8).map(|i| format!("{} Hz", 400 + 100 * i)).collect();
    assert!(
        expect
            .iter()
            .all(|e| hz.iter().any(|h| h.contains(e.as_str()))),
        "rows after the deletion are in the new file: {hz:?}"
    );
}

/// A small tmpfs at `at`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| Tmpfs(at.to_path_buf()))
            .or_else(|| {
                eprintln!(
                    "skipped: cannot mount a tmpfs here ({}); run as root to test a full disk",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn rows_that_meet_a_full_disk_are_written_once_there_is_space() {
    let (at, _) = local_in(5);
    let dir = station_dir(STATION, Some(&tones(&at, 4)));
    let state = dir.path().join("state");
    let Some(_fs) = Tmpfs::mount(&state, "4m") else {
        return;
    };
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("on air", 10);
    // The disk fills up before the program.
    let fill = state.join("fill");
    Command::new("dd")
        .args(["if=/dev/zero", "bs=64k", "status=none"])
        .arg(format!("of={}", fill.display()))
        .status()
        .unwrap();
    let s = wait_status(
        dir.path(),
        "rows waiting for space",
        Duration::from_secs(10),
        |s| s["airtime_log"]["waiting"].as_u64().unwrap_or(0) >= 2,
    );
    let a = &s["airtime_log"];
    assert_eq!(a["state"], "failing", "{s}");
    assert_eq!(a["reason"], "cannot write (disk full)", "{s}");
    assert!(a["waiting"].as_u64().unwrap() >= 2, "{s}");
    let text = loa_e2e::loa(BIN, &["status", "--config", dir.path().to_str().unwrap()]);
    assert!(
        loa_e2e::stdout(&text).contains("airtime log: cannot write (disk full):"),
        "{}",
        loa_e2e::stdout(&text)
    );

    // Space returns: at the next retry the rows are in the file, in order.
    std::fs::remove_file(&fill).unwrap();
    wait_status(
        dir.path(),
        "the log writing again",
        Duration::from_secs(7),
        |s| s["airtime_log"]["state"] == "ok",
    );
    wait_rows(
        dir.path(),
        "the program's four rows",
        Duration::from_secs(5),
        |r| tones_done(r) == 4,
    );
    let (exit, _) = d.stop();
    assert!(exit.success(), "{exit:?}");
    let got: Vec<String> = rows(dir.path())
        .iter()
        .filter(|r| r.program_id.as_deref() == Some("tones"))
        .map(|r| format!("{} {}", r.source, r.outcome))
        .collect();
    let want: Vec<String> = (0..4)
        .map(|i| format!("tone {} Hz completed", 400 + 100 * i))
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(g.contains(&w[5..]), "{got:?} vs {want:?}");
    }
}
