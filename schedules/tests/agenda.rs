//! The agenda applies SPEC section 4: what an operator sees in `loa agenda`
//! when programs meet on an output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use loa_schedules::agenda::{agenda, Entry, Forecast};
use loa_schedules::check::check_dir;
use loa_schedules::{Config, MediaProbe};

const STATION: &str = r#"station:
  id: test
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
  phu: "null"
zones:
  thon-1: { output: main }
  thon-2: { output: main }
  xa-khac: { output: phu }
policy:
  quiet_hours: "21:30-05:00"
"#;

struct Table(HashMap<&'static str, Duration>);

impl MediaProbe for Table {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        self.0
            .get(name)
            .copied()
            .ok_or_else(|| "file not found".into())
    }
}

fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// Loads a station with one schedule file; the agenda of 2026-11-23 (a Monday).
fn day(schedule: &str) -> (Config, Vec<Entry>) {
    // One directory per call: the tests run in parallel.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "loa-agenda-{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    std::fs::write(dir.join("station.yaml"), STATION).unwrap();
    std::fs::write(dir.join("schedules/a.yaml"), schedule).unwrap();
    let probe = Table(HashMap::from([
        ("10m.mp3", minutes(10)),
        ("20m.mp3", minutes(20)),
        ("40m.mp3", minutes(40)),
    ]));
    let report = check_dir(&dir, &probe, NaiveDate::from_ymd_opt(2026, 11, 23));
    let _ = std::fs::remove_dir_all(&dir);
    let config = report
        .config
        .unwrap_or_else(|| panic!("invalid: {:#?}", report.diagnostics.errors));
    // 2026-11-23 00:00 +07:00
    let from = Utc.with_ymd_and_hms(2026, 11, 22, 17, 0, 0).unwrap();
    let to = from + chrono::TimeDelta::days(1);
    let entries = agenda(&config, &report.lengths, from, to);
    (config, entries)
}

fn find<'a>(c: &Config, e: &'a [Entry], id: &str) -> &'a Entry {
    e.iter()
        .find(|x| c.programs[x.program].id == id)
        .unwrap_or_else(|| panic!("{id} not in agenda"))
}

fn hm(e: &Option<chrono::DateTime<chrono_tz::Tz>>) -> String {
    e.map(|t| t.format("%H:%M").to_string()).unwrap_or_default()
}

#[test]
fn a_higher_level_preempts_the_output_and_silences_the_other_zones() {
    let (c, e) = day("programs:
  - id: tin-xa
    at: \"06:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: thong-bao
    at: \"06:10\"
    priority: priority
    zones: [thon-1]
    items: [{ file: 10m.mp3 }]
");
    let low = find(&c, &e, "tin-xa");
    assert_eq!(low.outcome, Forecast::Preempted);
    let reason = low.reason.as_deref().unwrap();
    assert!(reason.contains("06:10-06:20"), "{reason}");
    assert!(reason.contains("resumes after"), "{reason}");
    // Only the zones on the output taken over go quiet; xa-khac is on another output.
    assert!(reason.contains("zones thon-2 off meanwhile"), "{reason}");
    // The file pauses: it ends ten minutes later than planned.
    assert_eq!(hm(&low.end), "06:50");
    let high = find(&c, &e, "thong-bao");
    assert_eq!(high.outcome, Forecast::Airs);
}

#[test]
fn equal_level_waits_then_airs_from_its_beginning() {
    let (c, e) = day("programs:
  - id: a
    at: \"17:00\"
    zones: all
    items: [{ file: 20m.mp3 }]
  - id: b
    at: \"17:10\"
    zones: [thon-1]
    if_busy: wait 15m
    items: [{ file: 10m.mp3 }]
");
    let b = find(&c, &e, "b");
    assert_eq!(b.outcome, Forecast::Delayed);
    assert_eq!(b.start.format("%H:%M").to_string(), "17:20");
    assert_eq!(hm(&b.end), "17:30");
    assert_eq!(find(&c, &e, "a").outcome, Forecast::Airs);
}

#[test]
fn a_wait_too_short_skips() {
    let (c, e) = day("programs:
  - id: a
    at: \"17:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: b
    at: \"17:10\"
    zones: all
    if_busy: wait 5m
    items: [{ file: 10m.mp3 }]
");
    let b = find(&c, &e, "b");
    assert_eq!(b.outcome, Forecast::Skipped);
    assert!(b.reason.as_deref().unwrap().contains("17:40"));
}

#[test]
fn if_busy_skip_and_preempt() {
    let (c, e) = day("programs:
  - id: a
    at: \"08:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: skip-me
    at: \"08:05\"
    zones: all
    if_busy: skip
    items: [{ file: 10m.mp3 }]
  - id: b
    at: \"09:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: push-in
    at: \"09:05\"
    zones: all
    if_busy: preempt
    items: [{ file: 10m.mp3 }]
");
    assert_eq!(find(&c, &e, "skip-me").outcome, Forecast::Skipped);
    assert_eq!(find(&c, &e, "a").outcome, Forecast::Airs);
    assert_eq!(find(&c, &e, "push-in").outcome, Forecast::Airs);
    assert_eq!(find(&c, &e, "b").outcome, Forecast::Preempted);
}

#[test]
fn programs_on_different_outputs_do_not_meet() {
    let (c, e) = day("programs:
  - id: a
    at: \"08:00\"
    zones: [thon-1]
    items: [{ file: 40m.mp3 }]
  - id: b
    at: \"08:05\"
    zones: [xa-khac]
    if_busy: skip
    items: [{ file: 10m.mp3 }]
");
    assert_eq!(find(&c, &e, "a").outcome, Forecast::Airs);
    assert_eq!(find(&c, &e, "b").outcome, Forecast::Airs);
}

#[test]
fn a_lower_level_waits_for_the_higher_one() {
    let (c, e) = day("programs:
  - id: khan
    at: \"10:00\"
    priority: emergency
    zones: all
    items: [{ file: 20m.mp3 }]
  - id: nhac
    at: \"10:05\"
    priority: filler
    zones: [thon-2]
    duration: 30m
    items: [{ file: 10m.mp3 }]
");
    let n = find(&c, &e, "nhac");
    assert_eq!(n.outcome, Forecast::Delayed);
    assert_eq!(n.start.format("%H:%M").to_string(), "10:20");
    // Waiting uses up the window; it never moves it.
    assert_eq!(hm(&n.end), "10:30");
}

#[test]
fn hard_end_and_quiet_hours_cut() {
    let (c, e) = day("programs:
  - id: hard
    at: \"07:00\"
    zones: all
    duration: 15m
    items: [{ file: 40m.mp3 }]
  - id: late
    at: \"21:10\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: storm
    at: \"23:00\"
    priority: emergency
    zones: all
    items: [{ file: 10m.mp3 }]
");
    let hard = find(&c, &e, "hard");
    assert_eq!(hard.outcome, Forecast::Cut);
    assert_eq!(hm(&hard.end), "07:15");
    let late = find(&c, &e, "late");
    assert_eq!(late.outcome, Forecast::Cut);
    assert_eq!(hm(&late.end), "21:30");
    assert!(late.reason.as_deref().unwrap().contains("quiet hours"));
    assert_eq!(find(&c, &e, "storm").outcome, Forecast::Airs);
}

#[test]
fn json_shape_is_the_contract() {
    let (c, e) = day("programs:
  - id: a
    title: \"Thời sự\"
    category: news
    at: \"06:00\"
    zones: [thon-1]
    items: [{ file: 10m.mp3 }]
");
    let v = e[0].to_json(&c);
    assert_eq!(v["program"], "a");
    assert_eq!(v["title"], "Thời sự");
    assert_eq!(v["category"], "news");
    assert_eq!(v["start"], "2026-11-23T06:00:00+07:00");
    assert_eq!(v["end"], "2026-11-23T06:10:00+07:00");
    assert_eq!(v["zones"], serde_json::json!(["thon-1"]));
    assert_eq!(v["priority"], "normal");
    assert_eq!(v["outcome"], "airs");
    assert!(v["reason"].is_null());
    let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "category", "end", "outcome", "priority", "program", "reason", "start", "title",
            "zones"
        ]
    );
}
