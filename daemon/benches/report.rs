//! `loa report` over a province's year: 1,000,000 airtime rows written by the
//! real writer (`airtime::AirtimeLog` in one batch), then the real binary
//! timed for each format. Target: under 2 s. Prints figures; asserts nothing.
//!
//!     cargo bench -p loa --bench report

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone};
use loa::runtime::airtime::{AirtimeLog, NewRow, Outcome, Trigger};
use loa_schedules::Priority;

const ROWS: u64 = 1_000_000;
const TZ: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// A small deterministic generator (no dependency for a bench).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn generate(path: &std::path::Path) -> Duration {
    let t = Instant::now();
    let (mut log, _) = AirtimeLog::open(path, "tinh-mau", TZ).expect("open");
    let mut rng = Lcg(42);
    let start = TZ.with_ymd_and_hms(2026, 1, 1, 5, 0, 0).unwrap();
    // A year spread evenly: ~2,740 rows a day (many communes' stations).
    let step_ms = 365 * 86_400_000 / ROWS as i64;
    let kinds = [
        ("news", "file", "news/ban-tin.mp3"),
        ("relay", "stream", "http://vov.example/vov1.m3u"),
        ("relay", "stream", "http://province.example/ptth.m3u"),
        ("music", "file", "music/dan-ca.mp3"),
        ("ident", "chime", "ident/nhac-hieu.mp3"),
        (
            "education",
            "tts",
            "Kính thưa bà con, phòng chống dịch bệnh...",
        ),
        ("announcement", "tts", "Thông báo họp tổ dân phố"),
        ("news", "silence", "2s"),
    ];
    let zones = vec!["thon-1".to_string(), "thon-2".to_string()];
    log.begin_batch().expect("begin");
    for i in 0..ROWS {
        let r = rng.next();
        let (category, kind, source) = kinds[(r % kinds.len() as u64) as usize];
        let at = start + TimeDelta::milliseconds(i as i64 * step_ms);
        let planned = 60_000 + (r >> 8) % 1_740_000;
        let (outcome, aired) = match (r >> 20) % 50 {
            0 => (Outcome::Failed, 0),
            1 | 2 => (Outcome::Cut, planned / 2),
            _ => (Outcome::Completed, planned),
        };
        let announcement = category == "announcement";
        let row = NewRow {
            program_id: (!announcement).then(|| format!("{category}-{}", r % 7)),
            title: format!("{category} {}", r % 7),
            category: category.into(),
            source_kind: kind.into(),
            source: source.into(),
            trigger: if announcement {
                Trigger::Mqtt
            } else {
                Trigger::Schedule
            },
            requested_by: announcement.then(|| "chu-tich-xa".to_string()),
            priority: if announcement && r % 10 == 3 {
                Priority::Emergency
            } else {
                Priority::Normal
            },
            zones: zones.clone(),
            scheduled_at: Some(at),
            started_at: at,
            planned_ms: planned,
        };
        let end = at + TimeDelta::milliseconds(aired as i64);
        let detail = (outcome != Outcome::Completed).then_some("bench");
        log.record(&row, end, aired, outcome, detail)
            .expect("record");
    }
    log.commit_batch().expect("commit");
    t.elapsed()
}

/// Runs `loa report ARGS` `n` times; the best wall time and the output size.
fn time(db: &str, out: &str, args: &[&str], n: usize) -> (Duration, u64) {
    let mut best = Duration::MAX;
    for _ in 0..n {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_loa"))
            .args(["report", "--db", db, "--out", out])
            .args(args)
            .output()
            .expect("loa runs");
        let e = t.elapsed();
        assert!(
            o.status.success(),
            "loa report {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        best = best.min(e);
    }
    (best, std::fs::metadata(out).map(|m| m.len()).unwrap_or(0))
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("airtime.sqlite");
    let took = generate(&db);
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated {ROWS} rows in {:.2} s ({:.0} MB)",
        took.as_secs_f64(),
        size as f64 / 1e6
    );
    let (db, out) = (
        db.to_str().unwrap().to_string(),
        dir.path().join("report.out"),
    );
    let out = out.to_str().unwrap();
    let year = ["--from", "2026-01-01", "--to", "2026-12-31"];
    let month = ["--from", "2026-11-01", "--to", "2026-11-30"];
    // Warm the page cache once, as a second report run would find it.
    time(&db, out, &year, 1);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "year  json  --by category",
            [&year[..], &["--format", "json"]].concat(),
        ),
        (
            "year  json  --by program",
            [&year[..], &["--format", "json", "--by", "program"]].concat(),
        ),
        (
            "year  json  --by day",
            [&year[..], &["--format", "json", "--by", "day"]].concat(),
        ),
        (
            "year  json  --by source",
            [&year[..], &["--format", "json", "--by", "source"]].concat(),
        ),
        ("year  text", [&year[..], &["--format", "text"]].concat()),
        ("year  csv", [&year[..], &["--format", "csv"]].concat()),
        (
            "year  html (every row listed)",
            [&year[..], &["--format", "html"]].concat(),
        ),
        ("month json", [&month[..], &["--format", "json"]].concat()),
        ("month html", [&month[..], &["--format", "html"]].concat()),
    ];
    println!("loa report over {ROWS} rows, best of 3 (target < 2 s):");
    for (name, args) in cases {
        let (t, bytes) = time(&db, out, &args, 3);
        println!(
            "  {name:<32} {:>7.3} s  {:>10} bytes{}",
            t.as_secs_f64(),
            bytes,
            if t > Duration::from_secs(2) {
                "  OVER TARGET"
            } else {
                ""
            }
        );
    }
}
