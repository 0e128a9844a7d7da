//! `loa report`, run as the operator runs it, over an airtime log made here
//! with SQLite directly (SPEC section 7's columns), as the daemon leaves it.

use std::path::Path;

use loa_e2e::{copy_dir, loa, repo, stderr, stdout};
use rusqlite::{params, Connection};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

/// (program_id, title, category, source_kind, source, trigger, requested_by,
/// priority, scheduled_at, started_at, planned_ms, aired_ms, outcome)
type Row<'a> = (
    Option<&'a str>,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    &'a str,
    i64,
    i64,
    &'a str,
);

const VOV: &str = "http://vov.example/vov1.m3u";

/// November 2026 at Âu Lâu (UTC+7), with rows just outside the month.
#[rustfmt::skip]
const ROWS: &[Row<'static>] = &[
    // 31 October, 23:50 local: outside.
    (Some("phien-sang"), "Phiên sáng", "news", "file", "news/a.mp3", "schedule", None, "normal",
     Some("2026-10-31T23:50:00.000+07:00"), "2026-10-31T23:50:00.000+07:00", 600_000, 600_000, "completed"),
    // 1 November, 06:00: the chime, the news, a silence.
    (Some("phien-sang"), "Phiên sáng", "news", "chime", "ident/chime.mp3", "schedule", None, "normal",
     Some("2026-11-01T06:00:00.000+07:00"), "2026-11-01T06:00:00.000+07:00", 4_000, 4_000, "completed"),
    (Some("phien-sang"), "Phiên sáng", "news", "file", "news/ban-tin-1.mp3", "schedule", None, "normal",
     Some("2026-11-01T06:00:00.000+07:00"), "2026-11-01T06:00:04.000+07:00", 900_000, 900_000, "completed"),
    (Some("phien-sang"), "Phiên sáng", "news", "silence", "2s", "schedule", None, "normal",
     Some("2026-11-01T06:00:00.000+07:00"), "2026-11-01T06:15:04.000+07:00", 2_000, 2_000, "completed"),
    // The VOV relay, cut short.
    (Some("vov1-sang"), "Tiếp sóng VOV1 — Thời sự sáng", "relay", "stream", VOV, "schedule", None, "normal",
     Some("2026-11-01T06:30:00.000+07:00"), "2026-11-01T06:30:00.000+07:00", 1_800_000, 1_200_000, "cut"),
    // A missing file.
    (Some("thoi-su-xa"), "Thời sự xã", "news", "file", "news/missing.mp3", "schedule", None, "normal",
     Some("2026-11-12T17:00:00.000+07:00"), "2026-11-12T17:00:00.000+07:00", 600_000, 0, "failed"),
    // An emergency announcement: chime and two repeats.
    (None, "Bão số 9", "announcement", "chime", "ident/chime.mp3", "mqtt", Some("chu-tich-xa"), "emergency",
     Some("2026-11-20T10:00:00.000+07:00"), "2026-11-20T10:00:01.000+07:00", 4_000, 4_000, "completed"),
    (None, "Bão số 9", "announcement", "tts", "Bão số 9 đổ bộ", "mqtt", Some("chu-tich-xa"), "emergency",
     Some("2026-11-20T10:00:00.000+07:00"), "2026-11-20T10:00:05.000+07:00", 60_000, 60_000, "completed"),
    (None, "Bão số 9", "announcement", "tts", "Bão số 9 đổ bộ", "mqtt", Some("chu-tich-xa"), "emergency",
     Some("2026-11-20T10:00:00.000+07:00"), "2026-11-20T10:01:07.000+07:00", 60_000, 60_000, "completed"),
    // 30 November, 23:30 local: inside; 1 December, 00:10 local: outside.
    (Some("vov1-sang"), "Tiếp sóng VOV1 — Thời sự sáng", "relay", "stream", VOV, "schedule", None, "normal",
     Some("2026-11-30T23:30:00.000+07:00"), "2026-11-30T23:30:00.000+07:00", 1_800_000, 1_800_000, "completed"),
    (Some("vov1-sang"), "Tiếp sóng VOV1 — Thời sự sáng", "relay", "stream", VOV, "schedule", None, "normal",
     Some("2026-12-01T00:10:00.000+07:00"), "2026-12-01T00:10:00.000+07:00", 1_800_000, 1_800_000, "completed"),
];

/// An airtime log with SPEC's columns (and `meta` when `with_meta`).
fn make_log(path: &Path, with_meta: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        r#"PRAGMA journal_mode = WAL;
        CREATE TABLE airtime (id INTEGER PRIMARY KEY, program_id TEXT, title TEXT NOT NULL,
            category TEXT NOT NULL, source_kind TEXT NOT NULL, source TEXT NOT NULL,
            "trigger" TEXT NOT NULL, requested_by TEXT, priority TEXT NOT NULL, zones TEXT NOT NULL,
            scheduled_at TEXT, started_at TEXT NOT NULL, ended_at TEXT, planned_ms INTEGER NOT NULL,
            aired_ms INTEGER NOT NULL, outcome TEXT NOT NULL, detail TEXT);"#,
    )
    .unwrap();
    if with_meta {
        c.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('station_id', 'au-lau'), ('timezone', 'Asia/Ho_Chi_Minh'),
                                     ('schema_version', '1'),
                                     ('station_name', 'Đài truyền thanh xã Âu Lâu');",
        )
        .unwrap();
    }
    for r in ROWS {
        c.execute(
            r#"INSERT INTO airtime (program_id, title, category, source_kind, source, "trigger",
                requested_by, priority, zones, scheduled_at, started_at, ended_at, planned_ms,
                aired_ms, outcome, detail)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'thon-1,thon-2', ?9, ?10, ?10, ?11, ?12, ?13,
                       CASE WHEN ?13 = 'completed' THEN NULL ELSE 'test' END)"#,
            params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12],
        )
        .unwrap();
    }
}

fn ok(args: &[&str]) -> String {
    let out = loa(BIN, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

const NOVEMBER: [&str; 4] = ["--from", "2026-11-01", "--to", "2026-11-30"];

#[test]
fn json_figures_for_a_month_of_local_days() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("airtime.sqlite");
    make_log(&db, true);
    let db = db.to_str().unwrap();
    let mut args = vec!["report", "--db", db, "--format", "json"];
    args.extend(NOVEMBER);
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "from": "2026-11-01", "to": "2026-11-30", "station": "au-lau",
            "groups": [
                {"key": "relay", "items": 2, "aired_ms": 3_000_000, "planned_ms": 3_600_000, "completed": 1, "failed": 0},
                {"key": "news", "items": 1, "aired_ms": 906_000, "planned_ms": 1_506_000, "completed": 1, "failed": 1},
                {"key": "announcement", "items": 2, "aired_ms": 124_000, "planned_ms": 124_000, "completed": 2, "failed": 0},
            ],
            "totals": {"items": 5, "aired_ms": 4_030_000, "planned_ms": 5_230_000, "completed": 4,
                       "failed": 1, "emergency_announcements": 1, "relay_ms": 3_000_000},
            // Something aired on the 1st, 20th and 30th (the 12th's news failed).
            "silent": [{"station": "au-lau", "days": (2..=29)
                .filter(|d| *d != 20)
                .map(|d| format!("2026-11-{d:02}"))
                .collect::<Vec<_>>(), "offline_since": null}],
        })
    );

    // By day: 1 December 00:10 local belongs to December only.
    let out = ok(&[
        "report",
        "--db",
        db,
        "--format",
        "json",
        "--by",
        "day",
        "--from",
        "2026-11-30",
        "--to",
        "2026-12-01",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let days: Vec<_> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_string(),
                g["aired_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-30".to_string(), 1_800_000),
            ("2026-12-01".to_string(), 1_800_000)
        ]
    );

    // By source: the stream's URL, else the kind.
    let mut args = vec!["report", "--db", db, "--format", "json", "--by", "source"];
    args.extend(NOVEMBER);
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(v["groups"][0]["key"], VOV);
    let keys: Vec<_> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [VOV, "file", "tts", "chime", "silence"]);
}

#[test]
fn csv_has_a_bom_and_vietnamese_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("airtime.sqlite");
    make_log(&db, true);
    let mut args = vec![
        "report",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "csv",
        "--by",
        "program",
    ];
    args.extend(NOVEMBER);
    let out = loa(BIN, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let text = stdout(&out);
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "Chương trình,Số mục,Đã phát,Đã phát (ms),Dự kiến,Dự kiến (ms),Hoàn thành,Lỗi"
    );
    assert_eq!(lines[1], "vov1-sang,2,0:50:00,3000000,1:00:00,3600000,1,0");
    assert_eq!(lines[2], "phien-sang,1,0:15:06,906000,0:15:06,906000,1,0");
    assert_eq!(
        lines[3],
        "(announcements),2,0:02:04,124000,0:02:04,124000,2,0"
    );
    assert_eq!(lines[4], "thoi-su-xa,0,0:00:00,0,0:10:00,600000,0,1");
    assert_eq!(lines[5], "Tổng cộng,5,1:07:10,4030000,1:27:10,5230000,4,1");
    assert_eq!(lines[6], "");
    assert_eq!(lines[7], "Đài,Số ngày,Các ngày,Mất kết nối từ");
    assert!(
        lines[8].starts_with("au-lau,27,2026-11-02;2026-11-03;"),
        "{}",
        lines[8]
    );
    assert_eq!(lines.len(), 9);
}

#[test]
fn the_html_log_book_from_a_config_directory() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("schedules/examples/au-lau"), tmp.path());
    // No `meta`: the time zone comes from station.yaml.
    make_log(&tmp.path().join("state/airtime.sqlite"), false);
    let dir = tmp.path().to_str().unwrap();
    let file = tmp.path().join("so-nhat-ky.html");
    let mut args = vec![
        "report",
        "--config",
        dir,
        "--format",
        "html",
        "--out",
        file.to_str().unwrap(),
    ];
    args.extend(NOVEMBER);
    assert_eq!(ok(&args), "");
    let html = std::fs::read_to_string(&file).unwrap();
    for s in [
        "<html lang=\"vi\">",
        "<h1>Sổ nhật ký chương trình</h1>",
        "Đài truyền thanh xã Âu Lâu",
        "từ 01/11/2026 đến 30/11/2026",
        "<tr><th>Số mục đã phát</th><td>5</td></tr>",
        "<tr><th>Số giờ đã phát</th><td>1:07:10</td></tr>",
        // Relay hours by the station relayed, not its URL.
        "Tiếp sóng VOV1 — Thời sự sáng: 0:50:00",
        "<tr><th>Thông báo khẩn cấp</th><td>1</td></tr>",
        "<tr><th>Số lần phát lỗi</th><td>1</td></tr>",
        "1:07:10 / 1:27:10 (77,1 %)",
        // The approval from the schedule file, and who asked for the announcement.
        "Nguyễn Văn Hùng, Phó Chủ tịch UBND xã",
        "chu-tich-xa",
        "<td>30/11/2026</td><td>23:30:00</td>",
    ] {
        assert!(html.contains(s), "missing {s:?}");
    }
    assert!(
        !html.contains("01/12/2026</td>"),
        "a December row in November's book"
    );
    let svg = &html[html.find("<svg").expect("a chart")..html.find("</svg>").unwrap()];
    assert!(svg.contains(">Giờ</text>") && svg.contains(">Ngày</text>"));
    assert!(svg.contains(">Tiếp sóng (0:50:00)</text>"), "legend: {svg}");

    let mut args = vec![
        "report", "--config", dir, "--format", "html", "--lang", "en",
    ];
    args.extend(NOVEMBER);
    let en = ok(&args);
    assert!(en.contains("<h1>Programme log book</h1>"));
    assert!(en.contains("<tr><th>Emergency announcements</th><td>1</td></tr>"));
    assert!(en.contains("<svg"));
    assert!(!en.contains("Sổ nhật ký"));
}

#[test]
fn text_is_a_readable_table() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("airtime.sqlite");
    make_log(&db, true);
    let mut args = vec!["report", "--db", db.to_str().unwrap(), "--lang", "en"];
    args.extend(NOVEMBER);
    let text = ok(&args);
    assert!(
        text.starts_with("Airtime report — Đài truyền thanh xã Âu Lâu (au-lau)\n"),
        "{text}"
    );
    let total = text.lines().find(|l| l.starts_with("Total")).expect(&text);
    let cells: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(cells, ["Total", "5", "1:07:10", "1:27:10", "4", "1"]);
    assert!(text.contains("Emergency announcements: 1"), "{text}");
}

#[test]
fn a_missing_log_is_one_line_naming_it_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("nowhere.sqlite");
    let out = loa(BIN, &["report", "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(db.to_str().unwrap()) && err.contains("loa simulate"),
        "{err}"
    );
    assert!(!db.exists(), "reporting created a log");

    copy_dir(&repo().join("schedules/examples/au-lau"), tmp.path());
    let out = loa(BIN, &["report", "--config", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("state/airtime.sqlite") && err.contains("paths.state"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["report", "--format", "pdf"][..],
        &["report", "--from", "2026-11-31"],
        &["report", "--by", "week"],
        &["report", "--db", "x.sqlite", "--config", "/etc/loa"],
    ] {
        let out = loa(BIN, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}
