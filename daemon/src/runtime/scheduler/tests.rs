//! The scheduler on the virtual clock: weeks of schedule in milliseconds,
//! clock steps as inputs, and the airtime rows as the thing asserted.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use loa_schedules::{MediaProbe, Source};

use super::firing::{media_of, source_text};
use super::*;
use crate::cmd::simulate::run_virtual;
use crate::runtime::airtime::AirtimeLog;
use crate::runtime::clock::{to_system, Clock, VirtualClock};
use crate::runtime::engine::{SimEngine, VirtualEngine};
use loa_audio::Media;
use loa_schedules::Priority;

const STATION: &str = r#"station:
  id: test
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { output: main }
  thon-2: { output: main }
policy:
  quiet_hours: "21:30-05:00"
  late_start: join
"#;

fn table(p: &Path) -> Result<Duration, String> {
    match p.file_name().and_then(|n| n.to_str()) {
        Some("5m.mp3") => Ok(Duration::from_secs(300)),
        Some("10m.mp3") => Ok(Duration::from_secs(600)),
        Some("20m.mp3") => Ok(Duration::from_secs(1200)),
        Some("40m.mp3") => Ok(Duration::from_secs(2400)),
        _ => Err("no such file".into()),
    }
}

struct Table;
impl MediaProbe for Table {
    fn length(&self, p: &Path) -> Result<Duration, String> {
        table(p)
    }
}

struct Station {
    dir: tempfile::TempDir,
    sched: Scheduler<SimEngine>,
    clock: VirtualClock,
}

/// 2026-11-23 (a Monday) at HH:MM local (+07:00).
fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap() - TimeDelta::hours(7)
}

fn station(schedule: &str, start: DateTime<Utc>) -> Station {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("schedules")).unwrap();
    std::fs::write(dir.path().join("station.yaml"), STATION).unwrap();
    std::fs::write(dir.path().join("schedules/a.yaml"), schedule).unwrap();
    let report = loa_schedules::check::check_dir(dir.path(), &Table, None);
    let config = report
        .config
        .unwrap_or_else(|| panic!("{:#?}", report.diagnostics.errors));
    let (log, _) = AirtimeLog::open(
        &dir.path().join("airtime.sqlite"),
        "test",
        config.station.timezone,
    )
    .unwrap();
    let engine = SimEngine::new(1, to_system(start), Box::new(table));
    let sched = Scheduler::new(
        Arc::new(config),
        report.lengths,
        engine,
        log,
        Box::new(table),
    );
    Station {
        dir,
        sched,
        clock: VirtualClock::new(start),
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    program: String,
    source: String,
    scheduled: Option<String>,
    started: String,
    ended: Option<String>,
    aired_s: u64,
    outcome: String,
    detail: Option<String>,
}

impl Station {
    fn run_until(&mut self, t: DateTime<Utc>) {
        run_virtual(&mut self.sched, &self.clock, t);
    }

    /// Rows of the airtime log, read by `sql`.
    fn query<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        self.query_in("airtime.sqlite", sql, row)
    }

    /// Rows of the log file `file` in the station's directory, read by `sql`.
    fn query_in<T>(
        &self,
        file: &str,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let c = rusqlite::Connection::open(self.dir.path().join(file)).unwrap();
        let mut st = c.prepare(sql).unwrap();
        st.query_map([], row).unwrap().map(Result::unwrap).collect()
    }

    fn rows(&self) -> Vec<Row> {
        self.rows_in("airtime.sqlite")
    }

    fn rows_in(&self, file: &str) -> Vec<Row> {
        self.query_in(file, "SELECT program_id, source, scheduled_at, started_at, ended_at, aired_ms, outcome, detail FROM airtime ORDER BY id", |r| {
            Ok(Row {
                program: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                source: r.get(1)?,
                scheduled: r.get(2)?,
                started: r.get(3)?,
                ended: r.get(4)?,
                aired_s: r.get::<_, i64>(5)? as u64 / 1000,
                outcome: r.get(6)?,
                detail: r.get(7)?,
            })
        })
    }

    /// The schedule file becomes `schedule`, and the scheduler reloads it.
    fn reload(&mut self, schedule: &str) {
        std::fs::write(self.dir.path().join("schedules/a.yaml"), schedule).unwrap();
        let report = loa_schedules::check::check_dir(self.dir.path(), &Table, None);
        self.sched.reload(
            Arc::new(report.config.unwrap()),
            report.lengths,
            self.clock.now(),
        );
    }

    /// Announces `a` now.
    fn announce(&mut self, a: Announce) {
        self.sched.announce(a, self.clock.now());
    }

    fn rows_of(&self, program: &str) -> Vec<Row> {
        self.rows_of_in("airtime.sqlite", program)
    }

    fn rows_of_in(&self, file: &str, program: &str) -> Vec<Row> {
        self.rows_in(file)
            .into_iter()
            .filter(|r| r.program == program)
            .collect()
    }
}

#[test]
fn a_week_airs_every_occurrence_exactly_once_and_on_the_second() {
    let mut s = station(
        "programs:
  - id: sang
    at: \"06:00\"
    zones: all
    items: [{ file: 10m.mp3 }, { file: 5m.mp3 }]
  - id: thoi-su
    at: \"17:00\"
    days: [mon, wed, fri]
    zones: all
    items: [{ file: 20m.mp3 }]
  - id: cuoi-tuan
    cron: \"0 30 16 * * Sat,Sun\"
    zones: [thon-2]
    priority: filler
    items: [{ file: 40m.mp3 }]
",
        at(0, 0),
    );
    s.run_until(at(0, 0) + TimeDelta::days(7));
    let rows = s.rows();
    let count = |p: &str| {
        rows.iter()
            .filter(|r| r.program == p && r.outcome == "completed")
            .count()
    };
    assert_eq!(count("sang"), 14, "two files a day for 7 days");
    assert_eq!(count("thoi-su"), 3);
    assert_eq!(count("cuoi-tuan"), 2);
    assert_eq!(rows.len(), 19, "no other rows: {rows:#?}");
    // The first piece of each occurrence starts on its scheduled second, to the millisecond.
    for r in rows.iter().filter(|r| !r.source.ends_with("5m.mp3")) {
        assert_eq!(Some(&r.started), r.scheduled.as_ref(), "{r:?}");
    }
    // The second item follows the first without a gap.
    let sang: Vec<_> = rows.iter().filter(|r| r.program == "sang").collect();
    assert_eq!(sang[0].ended.as_deref(), Some(sang[1].started.as_str()));
    assert_eq!(sang[0].started, "2026-11-23T06:00:00.000+07:00");
    assert_eq!(
        sang[1].ended.as_deref(),
        Some("2026-11-23T06:15:00.000+07:00")
    );
}

#[test]
fn an_emergency_preempts_and_the_file_resumes_where_it_paused() {
    let mut s = station(
        "programs:
  - id: tin
    at: \"10:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: bao
    at: \"10:10\"
    priority: emergency
    zones: [thon-1]
    items: [{ file: 5m.mp3 }]
",
        at(9, 0),
    );
    s.run_until(at(12, 0));
    let tin = s.rows_of("tin");
    assert_eq!(tin.len(), 1, "a pause keeps the row open: {tin:#?}");
    assert_eq!(tin[0].outcome, "completed");
    assert_eq!(
        tin[0].aired_s,
        40 * 60,
        "aired time counts only what sounded"
    );
    assert_eq!(
        tin[0].ended.as_deref(),
        Some("2026-11-23T10:45:00.000+07:00")
    );
    let bao = s.rows_of("bao");
    assert_eq!(bao[0].started, "2026-11-23T10:10:00.000+07:00");
    assert_eq!(bao[0].outcome, "completed");
}

#[test]
fn equal_level_waits_then_starts_from_its_beginning() {
    let mut s = station(
        "programs:
  - id: a
    at: \"08:00\"
    zones: all
    items: [{ file: 20m.mp3 }]
  - id: b
    at: \"08:10\"
    zones: [thon-2]
    if_busy: wait 15m
    items: [{ file: 10m.mp3 }]
  - id: c
    at: \"09:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: d
    at: \"09:05\"
    zones: all
    if_busy: wait 10m
    items: [{ file: 5m.mp3 }]
  - id: e
    at: \"09:06\"
    zones: all
    if_busy: skip
    items: [{ file: 5m.mp3 }]
",
        at(7, 0),
    );
    s.run_until(at(11, 0));
    let b = &s.rows_of("b")[0];
    assert_eq!(b.started, "2026-11-23T08:20:00.000+07:00");
    assert_eq!((b.outcome.as_str(), b.aired_s), ("completed", 600));
    let d = &s.rows_of("d")[0];
    assert_eq!(d.outcome, "skipped");
    assert!(
        d.detail
            .as_deref()
            .unwrap()
            .contains("waited until 09:15:00"),
        "{d:?}"
    );
    let e = &s.rows_of("e")[0];
    assert_eq!(e.outcome, "skipped");
    assert!(
        e.detail.as_deref().unwrap().contains("if_busy: skip"),
        "{e:?}"
    );
}

#[test]
fn quiet_hours_cut_a_program_that_runs_into_them() {
    let mut s = station(
        "programs:
  - id: toi
    at: \"21:10\"
    zones: all
    items: [{ file: 40m.mp3 }, { file: 5m.mp3 }]
",
        at(20, 0),
    );
    s.run_until(at(23, 0));
    let rows = s.rows_of("toi");
    assert_eq!(rows[0].outcome, "cut");
    assert_eq!(
        rows[0].ended.as_deref(),
        Some("2026-11-23T21:30:00.000+07:00")
    );
    assert_eq!(rows[0].aired_s, 20 * 60);
    assert!(rows[0].detail.as_deref().unwrap().contains("quiet hours"));
    assert_eq!(
        rows[1].outcome, "skipped",
        "items never reached are rows too"
    );
}

#[test]
fn a_hard_end_cuts_a_relay_and_the_window_never_moves() {
    let mut s = station(
        "programs:
  - id: vov
    at: \"06:00\"
    zones: all
    duration: 30m
    items:
      - stream: [http://vov.example.invalid/playlist.m3u8, http://vov.example.invalid:7001/]
        bandwidth: 64k
",
        at(5, 0),
    );
    s.run_until(at(8, 0));
    let rows = s.rows_of("vov");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    // The simulation has no network: the first source relays throughout.
    assert_eq!(r.source, "http://vov.example.invalid/playlist.m3u8");
    assert_eq!((r.outcome.as_str(), r.aired_s), ("cut", 1800));
    assert_eq!(r.ended.as_deref(), Some("2026-11-23T06:30:00.000+07:00"));
    assert_eq!(r.detail.as_deref(), Some("window closed"));
}

#[test]
fn started_late_it_joins_at_the_offset_it_would_have_reached() {
    let mut s = station(
        "programs:
  - id: sang
    at: \"06:00\"
    zones: all
    items: [{ file: 10m.mp3 }, { file: 20m.mp3 }]
",
        at(6, 15),
    );
    s.run_until(at(8, 0));
    let rows = s.rows_of("sang");
    assert_eq!(rows.len(), 1, "the first file was over: {rows:#?}");
    assert!(rows[0].source.ends_with("20m.mp3"));
    assert_eq!(rows[0].started, "2026-11-23T06:15:00.000+07:00");
    assert_eq!(
        rows[0].aired_s,
        15 * 60,
        "joined 5 minutes into the 20-minute file"
    );
}

#[test]
fn clock_steps_neither_repeat_nor_lose_a_program() {
    let schedule = "programs:
  - id: sang
    at: \"06:00\"
    zones: all
    duration: 30m
    items: [{ file: 40m.mp3 }]
  - id: som
    at: \"05:40\"
    zones: all
    items: [{ file: 5m.mp3 }]
";
    // Forward: from 05:30 the clock jumps to 06:10. 05:40's window is over
    // (a skipped row); 06:00's is open (joined 10 minutes in).
    let mut s = station(schedule, at(5, 0));
    s.run_until(at(5, 30));
    s.clock.step(TimeDelta::minutes(40));
    s.sched.engine.advance_to(to_system(s.clock.now()));
    s.run_until(at(9, 0));
    let som = s.rows_of("som");
    assert_eq!(
        (som.len(), som[0].outcome.as_str(), som[0].detail.as_deref()),
        (1, "skipped", Some("clock step"))
    );
    let sang = s.rows_of("sang");
    assert_eq!(sang.len(), 1);
    assert_eq!(sang[0].started, "2026-11-23T06:10:00.000+07:00");
    assert_eq!(
        (sang[0].outcome.as_str(), sang[0].aired_s),
        ("cut", 20 * 60)
    );

    // Backward: at 06:05, after 06:00 fired, the clock goes back 10 minutes.
    let mut s = station(schedule, at(5, 0));
    s.run_until(at(6, 5));
    s.clock.step(TimeDelta::minutes(-10));
    s.run_until(at(9, 0));
    assert_eq!(
        s.rows_of("sang").len(),
        1,
        "06:00 fired once: {:#?}",
        s.rows()
    );
    assert_eq!(s.rows_of("som").len(), 1);

    // A dead RTC battery: two days forward re-anchors without replaying them.
    let mut s = station(schedule, at(4, 0));
    s.run_until(at(4, 30));
    s.clock.step(TimeDelta::days(2));
    s.sched.engine.advance_to(to_system(s.clock.now()));
    s.run_until(at(4, 40) + TimeDelta::days(2));
    assert!(s.rows().is_empty(), "{:#?}", s.rows());
}

#[test]
fn a_program_a_reload_adds_inside_the_lead_time_airs_on_time() {
    let mut s = station(
        "programs:
  - id: a
    at: \"10:00\"
    zones: all
    items: [{ file: 10m.mp3 }]
",
        at(9, 0),
    );
    // 10:00:00 fired at its lead time (09:59:57); at 09:59:58 a reload adds
    // `b` at 10:30 and `c` at 09:59:59, a second ahead, inside the lead.
    s.run_until(at(9, 59) + chrono::TimeDelta::seconds(58));
    s.reload(
        "programs:
  - id: a
    at: \"10:00\"
    zones: all
    items: [{ file: 10m.mp3 }]
  - id: c
    at: \"09:59:59\"
    zones: all
    priority: priority
    items: [{ file: 10m.mp3 }]
",
    );
    s.run_until(at(11, 0));
    let c = s.rows_of("c");
    assert_eq!(c.len(), 1, "the program added inside the lead time aired");
    assert_eq!(c[0].started, "2026-11-23T09:59:59.000+07:00");
    // `a` fired once, before the reload, and was not fired again.
    assert_eq!(s.rows_of("a").len(), 1);
}

#[test]
fn a_reload_keeps_what_airs_unless_its_program_was_removed() {
    let mut s = station(
        "programs:
  - id: a
    at: \"10:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: b
    at: \"11:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
",
        at(9, 0),
    );
    s.run_until(at(10, 5));
    // The new schedule drops `a` and moves `b` to 11:30.
    s.reload(
        "programs:\n  - id: b\n    at: \"11:30\"\n    zones: all\n    items: [{ file: 10m.mp3 }]\n",
    );
    s.run_until(at(13, 0));
    let a = s.rows_of("a");
    assert_eq!(a[0].outcome, "cut");
    assert_eq!(
        a[0].detail.as_deref(),
        Some("removed from the schedule by a reload")
    );
    let b = s.rows_of("b");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].started, "2026-11-23T11:30:00.000+07:00");
}

#[test]
fn back_to_back_programs_both_start_on_their_second() {
    let mut s = station(
        "programs:
  - id: a
    at: \"10:00\"
    zones: all
    items: [{ file: 10m.mp3 }]
  - id: b
    at: \"10:10\"
    zones: all
    items: [{ file: 5m.mp3 }]
",
        at(9, 0),
    );
    s.run_until(at(11, 0));
    let b = &s.rows_of("b")[0];
    assert_eq!(b.started, "2026-11-23T10:10:00.000+07:00", "{b:?}");
    assert_eq!(b.outcome, "completed");
}

#[test]
fn a_missing_file_at_air_time_is_a_failed_row_and_the_program_goes_on() {
    let mut s = station(
        "programs:
  - id: tin
    at: \"07:00\"
    zones: all
    items: [{ file: ban-tin-hom-nay.mp3 }, { file: 5m.mp3 }]
",
        at(6, 0),
    );
    s.run_until(at(8, 0));
    let rows = s.rows_of("tin");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0].outcome, "failed");
    assert!(rows[0].source.ends_with("ban-tin-hom-nay.mp3"));
    assert_eq!(rows[0].detail.as_deref(), Some("no such file"));
    assert_eq!(rows[0].aired_s, 0);
    assert_eq!(rows[1].outcome, "completed");
    assert_eq!(
        rows[1].started, "2026-11-23T07:00:00.000+07:00",
        "no dead air for the failed one"
    );
}

#[test]
fn programs_two_seconds_apart_each_start_on_their_second() {
    let mut yaml = String::from("programs:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  - id: p{i}\n    at: \"10:00:{:02}\"\n    zones: all\n    items: [{{ tone: {{ hz: 1000, for: 1s }} }}]\n",
            2 * i
        ));
    }
    let mut s = station(&yaml, at(9, 59));
    s.run_until(at(10, 1));
    let rows = s.rows();
    assert_eq!(rows.len(), 6, "{rows:#?}");
    for r in &rows {
        assert_eq!(Some(&r.started), r.scheduled.as_ref(), "{r:?}");
        assert_eq!(r.outcome, "completed");
    }
}

/// The zone notes, replayed into the real zones module, leave every zone
/// as a station wants it: on while something targets it, off otherwise.
#[test]
fn zone_notes_follow_preemption_and_release_every_demand() {
    let mut s = station(
        "programs:
  - id: tin
    at: \"10:00\"
    zones: all
    items: [{ file: 20m.mp3 }]
  - id: thong-bao
    at: \"10:05\"
    priority: emergency
    zones: [thon-1]
    items: [{ file: 5m.mp3 }]
  - id: nho
    at: \"10:06\"
    priority: filler
    zones: [thon-2]
    duration: 40m
    items: [{ file: 5m.mp3 }]
",
        at(9, 0),
    );
    let mut notes = Vec::new();
    let mut t = at(9, 0);
    while t < at(11, 0) {
        t += TimeDelta::seconds(30);
        s.run_until(t);
        notes.extend(s.sched.take_zone_notes());
    }
    let config = s.sched.config().clone();
    // The zones as replaying the notes up to `when` leaves them.
    let state_at = |when: DateTime<Utc>| {
        let mut zones = crate::runtime::zones::Zones::new(&config);
        for n in &notes {
            match n {
                ZoneNote::Sound { zones: z, at } if *at <= when + TimeDelta::seconds(5) => {
                    zones.sound_from(z, *at)
                }
                ZoneNote::Silent { zones: z, at } if *at <= when => zones.silent_from(z, *at),
                ZoneNote::Mute { zones: z, at } if *at <= when => zones.mute(z, *at),
                _ => {}
            }
        }
        zones.tick(when);
        zones.states()
    };
    let on = |st: &[(String, &'static str)], z: &str| st.iter().find(|(id, _)| id == z).unwrap().1;
    let st = state_at(at(10, 2));
    assert_eq!(
        (on(&st, "thon-1"), on(&st, "thon-2")),
        ("on", "on"),
        "{notes:#?}"
    );
    let st = state_at(at(10, 7));
    assert_eq!(
        (on(&st, "thon-1"), on(&st, "thon-2")),
        ("on", "off"),
        "the emergency does not target thon-2: {notes:#?}"
    );
    let st = state_at(at(10, 12));
    assert_eq!(
        (on(&st, "thon-1"), on(&st, "thon-2")),
        ("on", "on"),
        "`tin` resumed on all zones: {notes:#?}"
    );
    let st = state_at(at(10, 59));
    assert_eq!(
        (on(&st, "thon-1"), on(&st, "thon-2")),
        ("off", "off"),
        "every demand released: {notes:#?}"
    );
}

fn announcement(
    id: &str,
    priority: Priority,
    zones: &[&str],
    repeat: u32,
    expires: DateTime<Utc>,
) -> Announce {
    Announce {
        id: id.into(),
        title: "Bão số 5".into(),
        priority,
        zones: zones.iter().map(|z| z.to_string()).collect(),
        media: Media::file("5m.mp3"),
        kind: "file".into(),
        source: "5m.mp3".into(),
        length: Some(Duration::from_secs(300)),
        repeat,
        trigger: Trigger::Mqtt,
        requested_by: "chu-tich-xa".into(),
        expires,
    }
}

#[derive(Debug)]
struct ARow {
    program: Option<String>,
    kind: String,
    trigger: String,
    requested_by: Option<String>,
    category: String,
    started: String,
    outcome: String,
    scheduled: Option<String>,
}

fn announcement_rows(s: &Station) -> Vec<ARow> {
    s.query(r#"SELECT program_id, source_kind, "trigger", requested_by, category, started_at, outcome, scheduled_at FROM airtime WHERE category = 'announcement' ORDER BY id"#, |r| {
        Ok(ARow {
            program: r.get(0)?,
            kind: r.get(1)?,
            trigger: r.get(2)?,
            requested_by: r.get(3)?,
            category: r.get(4)?,
            started: r.get(5)?,
            outcome: r.get(6)?,
            scheduled: r.get(7)?,
        })
    })
}

#[test]
fn an_emergency_announcement_preempts_the_program_which_resumes_after() {
    let mut s = station(
        "programs:
  - id: tin
    at: \"10:00\"
    zones: all
    items: [{ file: 40m.mp3 }]
",
        at(9, 0),
    );
    s.run_until(at(10, 10));
    let now = s.clock.now();
    s.announce(announcement(
        "a1b2c3d4",
        Priority::Emergency,
        &["thon-1"],
        2,
        now + TimeDelta::minutes(10),
    ));
    s.run_until(at(11, 30));
    let rows = announcement_rows(&s);
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["chime", "file", "file"], "{rows:#?}");
    for r in &rows {
        assert_eq!(
            (
                r.program.as_deref(),
                r.trigger.as_str(),
                r.requested_by.as_deref()
            ),
            (None, "mqtt", Some("chu-tich-xa"))
        );
        assert_eq!(
            (r.category.as_str(), r.outcome.as_str()),
            ("announcement", "completed")
        );
        assert_eq!(
            r.scheduled, rows[0].scheduled,
            "one announcement: one scheduled_at"
        );
    }
    assert_eq!(rows[0].started, "2026-11-23T10:10:00.000+07:00");
    // chime 1.6 s, 5 min, 2 s apart, 5 min
    assert_eq!(rows[2].started, "2026-11-23T10:15:03.600+07:00");
    let tin = s.rows_of("tin");
    assert_eq!(tin.len(), 1);
    assert_eq!(
        (tin[0].outcome.as_str(), tin[0].aired_s),
        ("completed", 2400),
        "resumed where it paused"
    );
    let notes = s.sched.take_announcement_notes();
    assert_eq!(
        notes,
        [
            AnnouncementNote::Started {
                id: "a1b2c3d4".into()
            },
            AnnouncementNote::Done {
                id: "a1b2c3d4".into(),
                reason: None
            }
        ]
    );
}

#[test]
fn an_announcement_that_expires_behind_a_higher_item_is_dropped() {
    let mut s = station(
        "programs:
  - id: khan
    at: \"10:00\"
    priority: emergency
    zones: all
    items: [{ file: 20m.mp3 }]
",
        at(9, 0),
    );
    s.run_until(at(10, 5));
    let now = s.clock.now();
    s.announce(announcement(
        "late0001",
        Priority::Normal,
        &["thon-1", "thon-2"],
        1,
        now + TimeDelta::minutes(5),
    ));
    s.run_until(at(11, 0));
    // It was accepted, so the log book says it never aired: skipped rows.
    let rows = announcement_rows(&s);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.outcome == "skipped"),
        "nothing aired: {rows:#?}"
    );
    let notes = s.sched.take_announcement_notes();
    assert!(
        matches!(
            &notes[..],
            [AnnouncementNote::Failed {
                code: "expired",
                ..
            }]
        ),
        "{notes:?}"
    );
}

#[test]
fn a_stop_ends_an_announcement_early() {
    let mut s = station("programs: []\n", at(9, 0));
    s.run_until(at(9, 1));
    let now = s.clock.now();
    s.announce(announcement(
        "stopme01",
        Priority::Priority,
        &["thon-1"],
        3,
        now + TimeDelta::minutes(5),
    ));
    s.run_until(at(9, 3));
    assert_eq!(
        s.sched
            .stop_announcements(Some("stopme01"), "stopped by chu-tich-xa"),
        ["stopme01"]
    );
    s.run_until(at(9, 30));
    let rows = announcement_rows(&s);
    assert_eq!(
        rows.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
        ["completed", "cut", "skipped", "skipped"]
    );
    let notes = s.sched.take_announcement_notes();
    assert_eq!(
        notes.last(),
        Some(&AnnouncementNote::Done {
            id: "stopme01".into(),
            reason: Some("stopped by chu-tich-xa".into())
        })
    );
}

#[test]
fn a_relay_item_goes_to_the_deck_with_its_sources_in_order() {
    let source = Source::Stream {
        urls: vec![
            "https://a.invalid/playlist.m3u8".into(),
            "http://b.invalid:7001/;stream/".into(),
        ],
        bandwidth: Some(64_000),
        fallback: vec!["/media/music/nen.mp3".into()],
    };
    assert_eq!(
        media_of(&source),
        Media::Stream {
            sources: vec![
                "https://a.invalid/playlist.m3u8".into(),
                "http://b.invalid:7001/;stream/".into()
            ],
            bandwidth: Some(64_000),
            fallback: vec!["/media/music/nen.mp3".into()],
        }
    );
    assert_eq!(source_text(&source), "https://a.invalid/playlist.m3u8");
}

/// The decks as a real machine has them when a file cannot be opened: the
/// item fails while it is prepared, that is when it is given (ahead, for a
/// program's next item), not when its turn comes.
struct FailsWhenGiven {
    sim: SimEngine,
    now: std::time::SystemTime,
    failed: u64,
    events: Vec<(usize, loa_audio::DeckEvent)>,
}

impl Engine for FailsWhenGiven {
    fn play(&mut self, output: usize, item: Item) -> ItemId {
        let missing = match &item.media {
            Media::Files { paths, .. } if paths.len() == 1 && table(&paths[0]).is_err() => {
                Some(paths[0].display().to_string())
            }
            _ => None,
        };
        let Some(source) = missing else {
            return self.sim.play(output, item);
        };
        use loa_audio::{DeckEvent, Ending, Piece, SourceKind};
        self.failed += 1;
        let id = ItemId(1 << 40 | self.failed);
        let at = self.now;
        let piece = Piece {
            kind: SourceKind::File,
            source,
        };
        let failed = Ending::Failed("no such file".into());
        self.events.extend(self.sim.take_events());
        self.events.extend([
            (
                output,
                DeckEvent::Started {
                    item: id,
                    piece: piece.clone(),
                    at,
                },
            ),
            (
                output,
                DeckEvent::Ended {
                    item: id,
                    piece,
                    outcome: failed.clone(),
                    aired_frames: 0,
                    at,
                },
            ),
            (
                output,
                DeckEvent::ItemEnded {
                    item: id,
                    outcome: failed,
                    at,
                },
            ),
        ]);
        id
    }
    fn stop(&mut self, output: usize, id: ItemId) {
        self.sim.stop(output, id)
    }
    fn take_events(&mut self) -> Vec<(usize, loa_audio::DeckEvent)> {
        let mut events = std::mem::take(&mut self.events);
        events.extend(self.sim.take_events());
        events
    }
    fn poll_every(&self) -> Option<Duration> {
        None
    }
}

impl VirtualEngine for FailsWhenGiven {
    fn next_event(&self) -> Option<std::time::SystemTime> {
        self.sim.next_event()
    }
    fn advance_to(&mut self, t: std::time::SystemTime) {
        self.now = t;
        self.sim.advance_to(t)
    }
}

#[test]
fn a_next_item_that_fails_while_given_ahead_leaves_its_row_and_the_program_goes_on() {
    let start = at(6, 0);
    let s = station(
        "programs:
  - id: nhac
    at: \"06:55\"
    priority: filler
    zones: all
    items: [{ file: 40m.mp3 }]
  - id: tin
    at: \"07:00\"
    zones: all
    items: [{ file: 5m.mp3 }, { file: ban-tin-hom-nay.mp3 }, { file: 10m.mp3 }]
",
        start,
    );
    // The same station on decks that fail a file when it is given.
    let config = s.sched.config().clone();
    let (log, _) = AirtimeLog::open(
        &s.dir.path().join("airtime-2.sqlite"),
        "test",
        config.station.timezone,
    )
    .unwrap();
    let engine = FailsWhenGiven {
        sim: SimEngine::new(1, to_system(start), Box::new(table)),
        now: to_system(start),
        failed: 0,
        events: Vec::new(),
    };
    let lengths = loa_schedules::agenda::probe_lengths(&config, &Table);
    let mut sched = Scheduler::new(config, lengths, engine, log, Box::new(table));
    run_virtual(&mut sched, &s.clock, at(8, 0));

    let tin = s.rows_of_in("airtime-2.sqlite", "tin");
    assert_eq!(tin.len(), 3, "{tin:#?}");
    assert_eq!(
        (tin[0].source.ends_with("5m.mp3"), tin[0].outcome.as_str()),
        (true, "completed")
    );
    // The failure is recorded when it happened: while the item before aired.
    assert!(tin[1].source.ends_with("ban-tin-hom-nay.mp3"));
    assert_eq!(
        (tin[1].outcome.as_str(), tin[1].aired_s),
        ("failed", 0),
        "{tin:#?}"
    );
    assert_eq!(tin[1].detail.as_deref(), Some("no such file"));
    // The program goes on where the failed item would have started.
    assert_eq!(tin[2].outcome, "completed");
    assert_eq!(tin[2].started, "2026-11-23T07:05:00.000+07:00");
    assert_eq!(
        tin[2].ended.as_deref(),
        Some("2026-11-23T07:15:00.000+07:00")
    );
    // The music beneath pauses once, for the whole program, and airs whole.
    let nhac = s.rows_of_in("airtime-2.sqlite", "nhac");
    assert_eq!(nhac.len(), 1, "{nhac:#?}");
    assert_eq!(nhac[0].aired_s, 2400);
    assert_eq!(
        nhac[0].ended.as_deref(),
        Some("2026-11-23T07:50:00.000+07:00")
    );
}
