//! The daemon's own loop (`serve`: scheduler, bus, control socket, reloads,
//! watchdog, shutdown) on virtual time: tokio's paused clock drives every
//! timer, so a week of the station runs in seconds and the airtime rows
//! say what aired when, to the millisecond.

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use loa_audio::{DeckEvent, Item, ItemId};
use loa_schedules::MediaProbe;

use super::*;
use crate::runtime::clock::{to_system, PausedClock};
use crate::runtime::engine::{SimEngine, VirtualEngine};

const STATION: &str = r#"station:
  id: test
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { output: main }
policy:
  late_start: join
"#;

const DAILY: &str = r#"programs:
  - id: tin-sang
    title: "Tin sáng"
    at: "06:00"
    zones: [thon-1]
    items: [{ file: 10m.mp3 }]
  - id: tin-chieu
    title: "Tin chiều"
    at: "17:00"
    zones: [thon-1]
    items: [{ file: 5m.mp3 }]
"#;

/// The noon notice added to DAILY on Wednesday.
const NOON: &str = r#"  - id: thong-bao
    title: "Thông báo"
    at: "12:30"
    zones: [thon-1]
    items: [{ file: 5m.mp3 }]
"#;

fn table(p: &Path) -> Result<Duration, String> {
    match p.file_name().and_then(|n| n.to_str()) {
        Some("5m.mp3") => Ok(Duration::from_secs(300)),
        Some("10m.mp3") => Ok(Duration::from_secs(600)),
        _ => Err("no such file".into()),
    }
}

struct Table;
impl MediaProbe for Table {
    fn length(&self, p: &Path) -> Result<Duration, String> {
        table(p)
    }
}

/// The simulated decks, moved to the clock's time whenever the loop looks.
struct OnClock {
    sim: SimEngine,
    clock: Rc<PausedClock>,
}

impl Engine for OnClock {
    fn play(&mut self, output: usize, item: Item) -> ItemId {
        self.sim.advance_to(to_system(self.clock.now()));
        self.sim.play(output, item)
    }
    fn stop(&mut self, output: usize, id: ItemId) {
        self.sim.advance_to(to_system(self.clock.now()));
        self.sim.stop(output, id)
    }
    fn take_events(&mut self) -> Vec<(usize, DeckEvent)> {
        self.sim.advance_to(to_system(self.clock.now()));
        self.sim.take_events()
    }
    fn poll_every(&self) -> Option<Duration> {
        None
    }
    fn next_event_at(&self) -> Option<SystemTime> {
        self.sim.next_event()
    }
}

/// 2026-11-23 (a Monday) plus `day` days at HH:MM local (+07:00).
fn local(day: i64, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap() + TimeDelta::days(day)
        - TimeDelta::hours(7)
}

struct Station {
    dir: tempfile::TempDir,
    clock: Rc<PausedClock>,
    sched: Scheduler<OnClock>,
    loader: Loader,
}

fn station(schedule: &str, start: DateTime<Utc>) -> Station {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("schedules")).unwrap();
    std::fs::write(dir.path().join("station.yaml"), STATION).unwrap();
    std::fs::write(dir.path().join("schedules/a.yaml"), schedule).unwrap();
    let loader = Loader {
        dir: dir.path().to_path_buf(),
        overrides: Vec::new(),
        probe: Arc::new(Table),
    };
    let (config, lengths) = loader.load().expect("the station loads");
    let (log, _) = AirtimeLog::open(
        &crate::runtime::airtime::log_path(&config.station),
        "test",
        config.station.timezone,
    )
    .unwrap();
    let clock = Rc::new(PausedClock::new(start));
    let engine = OnClock {
        sim: SimEngine::new(1, to_system(start), Box::new(table)),
        clock: clock.clone(),
    };
    let sched = Scheduler::new(Arc::new(config), lengths, engine, log, Box::new(table));
    Station {
        dir,
        clock,
        sched,
        loader,
    }
}

impl Station {
    /// (program, started_at, outcome, detail) of every row, in order.
    fn rows(&self) -> Vec<(String, String, String, Option<String>)> {
        let c = rusqlite::Connection::open(self.dir.path().join("state/airtime.sqlite")).unwrap();
        let mut st = c
            .prepare("SELECT program_id, started_at, outcome, detail FROM airtime ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// `2026-11-23T06:00:00.000+07:00` for day `day` at HH:MM.
fn stamp(day: i64, h: u32, m: u32) -> String {
    let tz: chrono_tz::Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
    crate::runtime::airtime::format_time(&local(day, h, m).with_timezone(&tz).fixed_offset())
}

#[tokio::test(start_paused = true)]
async fn a_week_on_the_daemons_loop_airs_on_time_reloads_and_stops_once() {
    let mut s = station(DAILY, local(0, 5, 0));
    let tasks = Tasks::new();
    let (tx, inputs) = tokio::sync::mpsc::unbounded_channel();
    let clock = s.clock.clone();
    let dir = s.dir.path().to_path_buf();
    let outside = async {
        // Wednesday 12:00: the operator adds a noon notice (SIGHUP).
        clock.sleep_until(local(2, 12, 0)).await;
        std::fs::write(dir.join("schedules/a.yaml"), format!("{DAILY}{NOON}")).unwrap();
        tx.send(Input::Reload("SIGHUP")).unwrap();
        // Thursday 12:00: a broken edit, seen by the file watcher: refused,
        // the noon notice stays on air.
        clock.sleep_until(local(3, 12, 0)).await;
        std::fs::write(dir.join("schedules/a.yaml"), "programs: [oops").unwrap();
        tx.send(Input::Changed).unwrap();
        // Friday 12:00: the notice is taken out again (file watcher).
        clock.sleep_until(local(4, 12, 0)).await;
        std::fs::write(dir.join("schedules/a.yaml"), DAILY).unwrap();
        tx.send(Input::Changed).unwrap();
        // The next Monday, five minutes into the morning news: SIGTERM.
        clock.sleep_until(local(7, 6, 5)).await;
        tasks.cancel();
    };
    let (served, ()) = tokio::join!(
        serve(&mut s.sched, &*s.clock, &tasks, &s.loader, inputs),
        outside
    );
    served.unwrap();
    assert!(
        tasks.running().is_empty(),
        "every task joined: {:?}",
        tasks.running()
    );

    let mut want = Vec::new();
    for day in 0..7 {
        want.push(("tin-sang", stamp(day, 6, 0)));
        if (2..=3).contains(&day) {
            want.push(("thong-bao", stamp(day, 12, 30)));
        }
        want.push(("tin-chieu", stamp(day, 17, 0)));
    }
    want.push(("tin-sang", stamp(7, 6, 0)));
    let rows = s.rows();
    let got: Vec<(&str, String)> = rows.iter().map(|r| (r.0.as_str(), r.1.clone())).collect();
    assert_eq!(
        got, want,
        "what aired, in order, each at its minute to the ms"
    );
    let (last, done) = rows.split_last().unwrap();
    assert!(done.iter().all(|r| r.2 == "completed"), "{done:?}");
    assert_eq!(
        (last.2.as_str(), last.3.as_deref()),
        ("cut", Some("shutdown")),
        "the program airing at SIGTERM closes as cut, once"
    );
    assert_eq!(
        s.clock.now(),
        local(7, 6, 5),
        "the shutdown took no virtual time: nothing slept a fixed time"
    );
}
