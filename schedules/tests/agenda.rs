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
    assert_eq!(low.forecast, Forecast::Preempted);
    let reason = low.reason.as_deref().unwrap();
    assert!(reason.contains("06:10-06:20"), "{reason}");
    assert!(reason.contains("resumes after"), "{reason}");
    // Only the zones on the output taken over go quiet; xa-khac is on another output.
    assert!(reason.contains("zones thon-2 off meanwhile"), "{reason}");
    // The file pauses: it ends ten minutes later than planned.
    assert_eq!(hm(&low.end), "06:50");
    let high = find(&c, &e, "thong-bao");
    assert_eq!(high.forecast, Forecast::Airs);
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
    assert_eq!(b.forecast, Forecast::Delayed);
    assert_eq!(b.start.format("%H:%M").to_string(), "17:20");
    assert_eq!(hm(&b.end), "17:30");
    assert_eq!(find(&c, &e, "a").forecast, Forecast::Airs);
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
    assert_eq!(b.forecast, Forecast::Skipped);
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
    assert_eq!(find(&c, &e, "skip-me").forecast, Forecast::Skipped);
    assert_eq!(find(&c, &e, "a").forecast, Forecast::Airs);
    assert_eq!(find(&c, &e, "push-in").forecast, Forecast::Airs);
    assert_eq!(find(&c, &e, "b").forecast, Forecast::Preempted);
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
    assert_eq!(find(&c, &e, "a").forecast, Forecast::Airs);
    assert_eq!(find(&c, &e, "b").forecast, Forecast::Airs);
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
    assert_eq!(n.forecast, Forecast::Delayed);
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
    assert_eq!(hard.forecast, Forecast::Cut);
    assert_eq!(hm(&hard.end), "07:15");
    let late = find(&c, &e, "late");
    assert_eq!(late.forecast, Forecast::Cut);
    assert_eq!(hm(&late.end), "21:30");
    assert!(late.reason.as_deref().unwrap().contains("quiet hours"));
    assert_eq!(find(&c, &e, "storm").forecast, Forecast::Airs);
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
    // 2026-11-23 is Rằm tháng Mười, the 15th of the 10th lunar month.
    assert_eq!(v["lunar"], "15/10");
    assert_eq!(v["holidays"], serde_json::json!([]));
    let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "category", "end", "holidays", "lunar", "outcome", "priority", "program", "reason",
            "start", "title", "zones"
        ]
    );
}

#[test]
fn a_program_on_two_outputs_follows_its_first() {
    // "tin" is on main (thon-1) and phu (xa-khac); the warning takes main
    // only. On phu "tin" airs at its second; its entry (and its airtime
    // rows) follow its first output, main, where it waits for the warning.
    let (c, e) = day("programs:
  - id: canh-bao
    at: \"08:00\"
    priority: priority
    zones: [thon-1]
    items: [{ file: 20m.mp3 }]
  - id: tin
    at: \"08:05\"
    zones: [xa-khac, thon-1]
    items: [{ file: 10m.mp3 }]
");
    let tin = find(&c, &e, "tin");
    assert_eq!(tin.forecast, Forecast::Delayed);
    assert_eq!(tin.start.format("%H:%M").to_string(), "08:20");
    assert_eq!(hm(&tin.end), "08:30");
    assert!(tin.reason.as_deref().unwrap().contains("waits for"));
}

#[test]
fn released_together_the_newest_airs_first() {
    // Two fillers wait beneath an emergency (b, `if_busy: preempt`, goes
    // onto the decks above a); when it ends the decks air the newest among
    // equals (SPEC 4.2), then the other.
    let (c, e) = day("programs:
  - id: khan
    at: \"09:00\"
    priority: emergency
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: a
    at: \"09:05\"
    priority: filler
    zones: [thon-1]
    items: [{ file: 10m.mp3 }]
  - id: b
    at: \"09:10\"
    priority: filler
    zones: [thon-1]
    if_busy: preempt
    items: [{ file: 10m.mp3 }]
");
    let (a, b) = (find(&c, &e, "a"), find(&c, &e, "b"));
    assert_eq!(
        (b.forecast, hm(&Some(b.start))),
        (Forecast::Delayed, "09:40".into())
    );
    assert_eq!(
        (a.forecast, hm(&Some(a.start))),
        (Forecast::Delayed, "09:50".into())
    );
}

#[test]
fn held_beneath_until_its_window_closes_it_is_not_resumed() {
    // "nhac" airs 06:00-06:10; the news holds the output until 06:30, the
    // very instant nhac's window closes: it never airs again.
    let (c, e) = day("programs:
  - id: nhac
    at: \"06:00\"
    priority: filler
    zones: all
    duration: 30m
    items: [{ file: 40m.mp3 }]
  - id: tin
    at: \"06:10\"
    zones: all
    items: [{ file: 20m.mp3 }]
");
    let nhac = find(&c, &e, "nhac");
    assert_eq!(nhac.forecast, Forecast::Preempted);
    let reason = nhac.reason.as_deref().unwrap();
    assert!(reason.contains("06:10-06:30, not resumed"), "{reason}");
    assert_eq!(hm(&nhac.end), "06:10");
}

#[test]
fn the_text_shows_seconds_off_the_minute() {
    let (c, e) = day("programs:
  - id: tin
    title: Tin
    at: \"06:00:30\"
    zones: all
    items: [{ file: 10m.mp3 }]
  - id: sau
    title: Sau
    at: \"07:00\"
    zones: all
    items: [{ file: 10m.mp3 }]
");
    let text = loa_schedules::agenda::format_text(&c, &e);
    assert!(text.contains("06:00:30-06:10:30"), "{text}");
    assert!(text.contains("07:00-07:10 "), "{text}");
}

#[test]
fn an_unknown_end_is_said_and_holds_nothing_without_a_window() {
    // A file the probe cannot read fails at once on the air: the agenda
    // says its end is unknown, and does not make the next program wait.
    let (c, e) = day("programs:
  - id: mat
    at: \"06:00\"
    zones: all
    items: [{ file: nope.mp3 }]
  - id: sau
    at: \"06:05\"
    zones: all
    if_busy: skip
    items: [{ file: 10m.mp3 }]
");
    let mat = find(&c, &e, "mat");
    assert_eq!(mat.end, None);
    assert!(mat.reason.as_deref().unwrap().contains("end unknown"));
    let sau = find(&c, &e, "sau");
    assert_eq!(
        (sau.forecast, hm(&Some(sau.start))),
        (Forecast::Airs, "06:05".into())
    );
}
