//! Figures for `loa collect` (printed, never asserted): rows per second
//! stored from a backlog waiting in the broker (a province catching up after
//! an outage; target at least 5,000 rows/s), the collector's resident set,
//! and `loa report --db postgres://...` over what it stored.
//!
//! Run: `cargo bench -p loa --bench collect` (needs mosquitto and
//! PostgreSQL 15, scripts/install-deps; BENCH_ROWS sets the backlog,
//! default 200,000: 100 stations of 2,000 rows; 1000000 is the issue's
//! million-row burst). BENCH_REPORT_ROWS=10000000 then adds that many rows
//! straight into PostgreSQL (generate_series: 600 communes, November) and
//! times the report over them.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use loa_e2e::{wait_until, Broker, Postgres};

const BIN: &str = env!("CARGO_BIN_EXE_loa");
const STATIONS: usize = 100;

fn count(pg: &Postgres) -> usize {
    pg.query("SELECT count(*) FROM airtime")
        .ok()
        .and_then(|l| l.first().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// A row as stations send it; ids 1.. per station, a month of November.
fn row(id: usize) -> String {
    let day = 1 + id % 30;
    let minute = id % 1440;
    let at = format!(
        "2026-11-{day:02}T{:02}:{:02}:00.000+07:00",
        minute / 60,
        minute % 60
    );
    serde_json::json!({
        "id": id, "program_id": "tin-sang", "title": "Bản tin sáng", "category": "news",
        "source_kind": "file", "source": "news/ban-tin.mp3", "trigger": "schedule",
        "requested_by": null, "priority": "normal", "zones": "thon-1,thon-2",
        "scheduled_at": at, "started_at": at, "ended_at": at,
        "planned_ms": 600_000, "aired_ms": 600_000, "outcome": "completed", "detail": null
    })
    .to_string()
}

fn start_collector(config: &std::path::Path, log: &std::path::Path) -> std::process::Child {
    Command::new(BIN)
        .args(["collect", "--config", config.to_str().unwrap()])
        // Each batch's size and times, for the figures below.
        .env("LOA_LOG", "info,loa::cmd::collect=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn main() {
    let total: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let per = total / STATIONS;
    let total = per * STATIONS;
    let broker = Broker::start_queueing(total + 1000);
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let config = loa_e2e::collect_config(tmp.path(), "bench", &broker, &pg, "");
    let log = tmp.path().join("collect.log");

    // The session and its subscriptions exist; then the collector is away.
    let mut c = start_collector(&config, &log);
    wait_until(
        "the collector subscribed",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            let t = std::fs::read_to_string(&log).unwrap_or_default();
            if t.contains("district book") {
                Ok(())
            } else {
                Err(t)
            }
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    c.kill().unwrap();
    c.wait().unwrap();

    // The backlog: every station's rows, queued in the broker.
    let t = Instant::now();
    for s in 0..STATIONS {
        let mut p = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &broker.port.to_string(),
                "-q",
                "1",
                "-l",
            ])
            .args(["-t", &format!("loa/xa-{s:03}/airtime")])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = String::with_capacity(per * 500);
        for id in 1..=per {
            lines.push_str(&row(id));
            lines.push('\n');
        }
        p.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
        assert!(p.wait().unwrap().success());
    }
    println!(
        "backlog: {total} rows from {STATIONS} stations queued in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let limit = Duration::from_secs(
        std::env::var("BENCH_LIMIT_S")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(600),
    );
    let t = Instant::now();
    let mut c = start_collector(&config, &log);
    let pid = c.id();
    let mut peak = 0;
    loop {
        peak = peak.max(loa_e2e::proc_kib(pid, "VmHWM").unwrap_or(0));
        if count(&pg) >= total {
            break;
        }
        if t.elapsed() > limit {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            println!(
                "loa collect: only {} of {total} rows stored in {} s; the log's last lines:",
                count(&pg),
                limit.as_secs()
            );
            for l in tail.iter().rev() {
                println!("  {l}");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = t.elapsed().as_secs_f64();
    let drained = count(&pg) >= total;
    if drained {
        println!(
            "loa collect: {total} rows stored in {took:.1} s: {:.0} rows/s (target >= 5000)",
            total as f64 / took,
        );
    }
    println!("loa collect: peak RSS (VmHWM) {} MiB", peak / 1024);
    c.kill().unwrap();
    c.wait().unwrap();
    // The batches, from the collector's debug lines.
    let sizes: Vec<usize> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("batch of ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    if !sizes.is_empty() {
        println!(
            "batches: {}, {:.0} messages each on average, at most {}",
            sizes.len(),
            sizes.iter().sum::<usize>() as f64 / sizes.len() as f64,
            sizes.iter().max().unwrap_or(&0)
        );
    }

    reports(&pg, &[&["--format", "html"][..]]);
    let more: usize = std::env::var("BENCH_REPORT_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if more > 0 {
        let t = Instant::now();
        pg.query(&format!(
            r#"INSERT INTO airtime (station, id, program_id, title, category, source_kind, source,
                   "trigger", requested_by, priority, zones, scheduled_at, started_at, ended_at,
                   planned_ms, aired_ms, outcome, detail)
               SELECT 'huyen-' || (g % 600), 1000000 + g / 600, 'p-' || (g % 7),
                   'Chương trình ' || (g % 7),
                   (ARRAY['news', 'music', 'relay', 'announcement'])[1 + g % 4],
                   CASE WHEN g % 4 = 2 THEN 'stream' ELSE 'file' END,
                   CASE WHEN g % 4 = 2 THEN 'http://vov1.example.invalid/vov1.m3u'
                        ELSE 'news/ban-tin.mp3' END,
                   'schedule', NULL, 'normal', 'thon-1', at, at, at, 600000,
                   CASE WHEN g % 50 = 0 THEN 0 ELSE 600000 END,
                   CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'completed' END, NULL
               FROM generate_series(1, {more}) AS g,
                   LATERAL (SELECT to_char(timestamp '2026-11-01' + (g % 43200) * interval '1 minute',
                       'YYYY-MM-DD"T"HH24:MI:SS.000+07:00') AS at) AS t"#
        ))
        .unwrap();
        pg.query("ANALYZE airtime").unwrap();
        println!(
            "{more} more rows inserted with generate_series in {:.0} s ({} in the book)",
            t.elapsed().as_secs_f64(),
            count(&pg)
        );
        reports(&pg, &[]);
    }
}

/// Times `loa report --db` over November: by station and by category as
/// JSON, as text, and `extra`.
fn reports(pg: &Postgres, extra: &[&[&str]]) {
    let mut kinds: Vec<&[&str]> = vec![
        &["--by", "station", "--format", "json"][..],
        &["--by", "category", "--format", "json"][..],
        &["--by", "station", "--format", "text"][..],
    ];
    kinds.extend(extra);
    for args in kinds {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args([
                "report",
                "--db",
                &pg.url(),
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "loa report --db postgres {:<38} {:.2} s  {} bytes",
            args.join(" "),
            t.elapsed().as_secs_f64(),
            out.stdout.len()
        );
    }
}
