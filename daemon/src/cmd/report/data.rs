//! The report's figures, added up over airtime rows wherever they come
//! from: a station's SQLite log ([`SqliteRows`]) or the district's
//! PostgreSQL book (`loa collect`, [`super::district`]). The rows' source
//! differs; what is counted and how is this one pass.
//!
//! A row counts on the day of its `started_at`. Times are stored with the
//! station's offset, so the first ten characters of `started_at` are the
//! local date: a period of days is the text range
//! `from <= started_at < day after to`, which the `started_at` index serves.

use chrono::{NaiveDate, TimeDelta};
use std::collections::{HashMap, HashSet};

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection};

/// What the groups are keyed by (`--by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Category,
    Program,
    Day,
    Source,
    /// The station a row came from (the district report).
    Station,
}

/// The key of the rows that have no program (announcements) with `--by program`.
/// Program ids are `[a-z0-9-]`, so it cannot clash with one.
pub const ANNOUNCEMENTS_KEY: &str = "(announcements)";

/// The detail of a row the scheduler closed because its window ended
/// (runtime/scheduler/firing.rs writes it).
pub const WINDOW_CLOSED: &str = "window closed";

/// A period of local days, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The `started_at` text range [lo, hi) of the period.
    pub fn bounds(&self) -> (String, String) {
        (
            self.from.format("%Y-%m-%d").to_string(),
            (self.to + TimeDelta::days(1))
                .format("%Y-%m-%d")
                .to_string(),
        )
    }

    /// Every day of the period.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while({
            let to = self.to;
            move |d| *d <= to
        })
    }
}

/// One line of the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    pub key: String,
    /// With `--by program`: the program's title.
    pub title: Option<String>,
    pub items: u64,
    pub aired_ms: u64,
    pub planned_ms: u64,
    /// Items (as counted in `items`) that ended completed.
    pub completed: u64,
    pub failed: u64,
}

/// The period's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub items: u64,
    pub aired_ms: u64,
    pub planned_ms: u64,
    pub completed: u64,
    pub failed: u64,
    /// Emergency announcements that aired. One announcement airing writes
    /// several rows (its chime, then each repeat), all with the same
    /// `scheduled_at` (the instant it was accepted): it counts once per
    /// distinct (station, title, requested_by, scheduled_at), chimes,
    /// silences, tones and rows that did not air excepted. A row without
    /// `scheduled_at` counts alone.
    pub emergency_announcements: u64,
    /// aired_ms of stream rows.
    pub relay_ms: u64,
}

impl Totals {
    /// The totals as a line of the groups' table (its key left empty).
    pub fn as_group(&self) -> Group {
        Group {
            items: self.items,
            aired_ms: self.aired_ms,
            planned_ms: self.planned_ms,
            completed: self.completed,
            failed: self.failed,
            ..Group::default()
        }
    }
}

/// The figures of a report.
#[derive(Clone, Debug)]
pub struct Figures {
    pub period: Period,
    pub by: By,
    /// By key for `--by day`, else most aired first.
    pub groups: Vec<Group>,
    pub totals: Totals,
    /// aired_ms per station relayed (the relay program's title, or the
    /// announcement's), most aired first; `--by source` splits by URL.
    pub relay: Vec<(String, u64)>,
    /// (local day, category, aired_ms), sorted; only when asked for.
    pub per_day: Vec<(String, String, u64)>,
    /// Each station's local days on which something aired.
    pub aired_days: HashMap<String, HashSet<String>>,
    /// The stations with days of the period on which nothing aired, by id
    /// (filled by [`Figures::find_silent`]).
    pub silent: Vec<Silent>,
}

/// A station that aired nothing on some days of the period: it was silent
/// (loudspeakers off, the PC down) or offline (its rows never reached the
/// district book).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silent {
    pub station: String,
    pub days: Vec<NaiveDate>,
    /// The local day it went offline, if its last status says offline.
    pub offline_since: Option<NaiveDate>,
}

/// A station a report covers, as its source knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownStation {
    pub id: String,
    /// The local day it went offline, if its last status says offline.
    pub offline_since: Option<NaiveDate>,
}

impl Figures {
    /// Fills [`Figures::silent`]: for each of `stations`, the days of the
    /// period up to `until` (today: later days have not happened) on which
    /// none of its rows aired.
    pub fn find_silent(&mut self, stations: &[KnownStation], until: NaiveDate) {
        let none = HashSet::new();
        self.silent = stations
            .iter()
            .filter_map(|st| {
                let aired = self.aired_days.get(&st.id).unwrap_or(&none);
                let days: Vec<NaiveDate> = self
                    .period
                    .days()
                    .take_while(|d| *d <= until)
                    .filter(|d| !aired.contains(&d.format("%Y-%m-%d").to_string()))
                    .collect();
                (!days.is_empty() || st.offline_since.is_some()).then(|| Silent {
                    station: st.id.clone(),
                    days,
                    offline_since: st.offline_since,
                })
            })
            .collect();
        self.silent.sort_by(|a, b| a.station.cmp(&b.station));
    }
}

/// Consecutive days as (first, last) runs.
pub fn runs(days: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, last)) if *last + TimeDelta::days(1) == d => *last = d,
            _ => out.push((d, d)),
        }
    }
    out
}

/// One airtime row as the report reads it, borrowed from its source.
#[derive(Clone, Debug, Default)]
pub struct LogRow<'a> {
    /// The station's id (a station's own log: its `meta.station_id`).
    pub station: &'a str,
    pub id: i64,
    pub started_at: &'a str,
    pub scheduled_at: Option<&'a str>,
    pub title: &'a str,
    pub category: &'a str,
    pub source_kind: &'a str,
    pub source: &'a str,
    pub priority: &'a str,
    pub aired_ms: u64,
    pub planned_ms: u64,
    pub outcome: &'a str,
    pub trigger: &'a str,
    pub requested_by: Option<&'a str>,
    pub program_id: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl LogRow<'_> {
    /// The outcome as the log book reads it. A relay has no end of its
    /// own: the scheduler closes it `cut` when its window closes, which is
    /// the relay done, so that row reads `completed`.
    pub fn outcome(&self) -> &str {
        if self.outcome == "cut"
            && self.source_kind == "stream"
            && self.detail == Some(WINDOW_CLOSED)
        {
            "completed"
        } else {
            self.outcome
        }
    }

    /// An item: a row that aired, chimes, silences and tones excepted.
    pub fn is_item(&self) -> bool {
        self.aired_ms > 0 && !matches!(self.source_kind, "chime" | "silence" | "tone")
    }

    /// The group's key under `by`.
    fn key(&self, by: By) -> &str {
        match by {
            By::Category => self.category,
            By::Program => self.program_id.unwrap_or(ANNOUNCEMENTS_KEY),
            By::Day => self.started_at.get(0..10).unwrap_or(self.started_at),
            By::Source if self.source_kind == "stream" => self.source,
            By::Source => self.source_kind,
            By::Station => self.station,
        }
    }
}

/// Where a report's rows come from.
pub trait RowSource {
    /// Calls `each` with every row that started in `period`, in the order
    /// they started when `ordered`.
    fn rows(
        &mut self,
        period: Period,
        ordered: bool,
        each: &mut dyn FnMut(&LogRow<'_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>;

    /// The stations the report covers, rows or none in the period.
    fn stations(&mut self) -> anyhow::Result<Vec<KnownStation>>;
}

/// A station's own log (SQLite).
pub struct SqliteRows<'c> {
    pub conn: &'c Connection,
    /// The log's station id (`meta.station_id`).
    pub station: String,
}

/// The columns a [`LogRow`] is read from, in [`SqliteRows`]' order.
const ROW_COLUMNS: &str = r#"id, started_at, scheduled_at, title, category, source_kind, source,
    priority, aired_ms, planned_ms, outcome, "trigger", requested_by, program_id, detail"#;

impl RowSource for SqliteRows<'_> {
    fn rows(
        &mut self,
        period: Period,
        ordered: bool,
        each: &mut dyn FnMut(&LogRow<'_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (lo, hi) = period.bounds();
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM airtime WHERE started_at >= ?1 AND started_at < ?2 {}",
            if ordered {
                "ORDER BY started_at, id"
            } else {
                ""
            }
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params![lo, hi])?;
        while let Some(r) = rows.next()? {
            let opt = |i: usize| -> rusqlite::Result<Option<&str>> {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => None,
                    v => Some(text(v)),
                })
            };
            each(&LogRow {
                station: &self.station,
                id: int(r.get_ref(0)?) as i64,
                started_at: text(r.get_ref(1)?),
                scheduled_at: opt(2)?,
                title: text(r.get_ref(3)?),
                category: text(r.get_ref(4)?),
                source_kind: text(r.get_ref(5)?),
                source: text(r.get_ref(6)?),
                priority: text(r.get_ref(7)?),
                aired_ms: int(r.get_ref(8)?),
                planned_ms: int(r.get_ref(9)?),
                outcome: text(r.get_ref(10)?),
                trigger: text(r.get_ref(11)?),
                requested_by: opt(12)?,
                program_id: opt(13)?,
                detail: opt(14)?,
            })?;
        }
        Ok(())
    }

    fn stations(&mut self) -> anyhow::Result<Vec<KnownStation>> {
        Ok(vec![KnownStation {
            id: self.station.clone(),
            offline_since: None,
        }])
    }
}

/// Text of a column, borrowed from SQLite's row (NULL and non-UTF-8 as "").
fn text(v: ValueRef<'_>) -> &str {
    match v {
        ValueRef::Text(b) => std::str::from_utf8(b).unwrap_or(""),
        _ => "",
    }
}

fn int(v: ValueRef<'_>) -> u64 {
    match v {
        ValueRef::Integer(i) => i.max(0) as u64,
        ValueRef::Real(f) => f.max(0.0) as u64,
        _ => 0,
    }
}

/// Aggregates the period: groups, totals and relay hours (and with `days`,
/// the airtime per day and category for the chart).
pub fn figures(
    source: &mut dyn RowSource,
    period: Period,
    by: By,
    days: bool,
) -> anyhow::Result<Figures> {
    scan(source, period, by, days, None)
}

/// [`figures`] with the chart's days, calling `each` with every row of the
/// period in the order they started, in the same pass (the log book lists a
/// year's million rows; one pass instead of two saves a second).
pub fn figures_and_rows(
    source: &mut dyn RowSource,
    period: Period,
    by: By,
    mut each: impl FnMut(&LogRow<'_>) -> std::io::Result<()>,
) -> anyhow::Result<Figures> {
    scan(source, period, by, true, Some(&mut each))
}

/// What is called with each row of the chronological list.
type EachRow<'f> = &'f mut dyn FnMut(&LogRow<'_>) -> std::io::Result<()>;

/// Adds `v` to `map[k]`, allocating the key only when it is new.
fn add(map: &mut HashMap<String, u64>, k: &str, v: u64) {
    match map.get_mut(k) {
        Some(ms) => *ms += v,
        None => {
            map.insert(k.to_string(), v);
        }
    }
}

/// One pass over the period's rows, summed here in hash maps (three GROUP
/// BY queries had SQLite sort a year's million rows three times).
fn scan(
    source: &mut dyn RowSource,
    period: Period,
    by: By,
    days: bool,
    mut each: Option<EachRow<'_>>,
) -> anyhow::Result<Figures> {
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut relay: HashMap<String, u64> = HashMap::new();
    let mut emergencies: HashSet<String> = HashSet::new();
    let mut per_day: HashMap<String, HashMap<String, u64>> = HashMap::new();
    let mut aired_days: HashMap<String, HashSet<String>> = HashMap::new();
    source.rows(period, each.is_some(), &mut |r| {
        if let Some(each) = each.as_mut() {
            each(r)?;
        }
        let key = r.key(by);
        let g = match groups.get_mut(key) {
            Some(g) => g,
            None => groups.entry(key.to_string()).or_insert_with(|| Group {
                key: key.to_string(),
                ..Group::default()
            }),
        };
        let item = r.is_item();
        let outcome = r.outcome();
        g.items += u64::from(item);
        g.aired_ms += r.aired_ms;
        g.planned_ms += r.planned_ms;
        g.completed += u64::from(item && outcome == "completed");
        g.failed += u64::from(outcome == "failed");
        // A program's title rarely changes; one of them names it.
        if by == By::Program && g.title.as_deref().is_none_or(|t| t < r.title) {
            g.title = Some(r.title.to_string());
        }
        if r.source_kind == "stream" {
            add(&mut relay, r.title, r.aired_ms);
        }
        if r.aired_ms > 0 {
            let day = r.started_at.get(0..10).unwrap_or(r.started_at);
            let days = match aired_days.get_mut(r.station) {
                Some(d) => d,
                None => aired_days.entry(r.station.to_string()).or_default(),
            };
            if !days.contains(day) {
                days.insert(day.to_string());
            }
        }
        if r.category == "announcement" && r.priority == "emergency" && item {
            let mut k = String::with_capacity(64);
            for part in [r.station, "\u{1f}", r.title, "\u{1f}"] {
                k.push_str(part);
            }
            k.push_str(r.requested_by.unwrap_or(""));
            k.push('\u{1f}');
            match r.scheduled_at {
                Some(s) => k.push_str(s),
                None => k.push_str(&format!("row {}", r.id)),
            }
            emergencies.insert(k);
        }
        if days {
            let day = r.started_at.get(0..10).unwrap_or(r.started_at);
            let cats = match per_day.get_mut(day) {
                Some(c) => c,
                None => per_day.entry(day.to_string()).or_default(),
            };
            add(cats, r.category, r.aired_ms);
        }
        Ok(())
    })?;
    let mut groups: Vec<Group> = groups.into_values().collect();
    if by == By::Day {
        groups.sort_by(|a, b| a.key.cmp(&b.key));
    } else {
        groups.sort_by(|a, b| b.aired_ms.cmp(&a.aired_ms).then_with(|| a.key.cmp(&b.key)));
    }
    let mut totals = Totals::default();
    for g in &groups {
        totals.items += g.items;
        totals.aired_ms += g.aired_ms;
        totals.planned_ms += g.planned_ms;
        totals.completed += g.completed;
        totals.failed += g.failed;
    }
    let mut relay: Vec<(String, u64)> = relay.into_iter().collect();
    relay.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    totals.relay_ms = relay.iter().map(|r| r.1).sum();
    totals.emergency_announcements = emergencies.len() as u64;
    let mut per_day: Vec<(String, String, u64)> = per_day
        .into_iter()
        .flat_map(|(d, cats)| cats.into_iter().map(move |(c, ms)| (d.clone(), c, ms)))
        .collect();
    per_day.sort();
    Ok(Figures {
        period,
        by,
        groups,
        totals,
        relay,
        per_day,
        aired_days,
        silent: Vec::new(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::runtime::airtime::{AirtimeLog, NewRow, Outcome, Trigger};
    use chrono::{DateTime, TimeZone};
    use chrono_tz::Tz;
    use loa_schedules::Priority;

    pub const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    pub fn at(m: u32, d: u32, h: u32, min: u32) -> DateTime<Tz> {
        TZ.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap()
    }

    pub fn row(
        program: Option<&str>,
        category: &str,
        kind: &str,
        start: DateTime<Tz>,
        ms: u64,
    ) -> NewRow {
        NewRow {
            program_id: program.map(str::to_string),
            title: program.unwrap_or("Thông báo").to_string(),
            category: category.into(),
            source_kind: kind.into(),
            source: match kind {
                "stream" => "http://vov1.example/live.m3u".into(),
                "tts" => "Kính thưa bà con".into(),
                _ => format!("{category}/a.mp3"),
            },
            trigger: if program.is_some() {
                Trigger::Schedule
            } else {
                Trigger::Mqtt
            },
            requested_by: program.is_none().then(|| "chu-tich-xa".to_string()),
            priority: Priority::Normal,
            zones: vec!["thon-1".into()],
            scheduled_at: Some(start),
            started_at: start,
            planned_ms: ms,
        }
    }

    /// November 2026 at a station in Vietnam (UTC+7), with rows around the
    /// month's edges.
    pub fn november(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("airtime.sqlite");
        let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        let mut add = |r: NewRow, aired: u64, o: Outcome| {
            let end = r.started_at + TimeDelta::milliseconds(aired as i64);
            log.record(&r, end, aired, o, (o != Outcome::Completed).then_some("x"))
                .unwrap();
        };
        // 31 October 23:59 local: before the period.
        add(
            row(Some("tin-sang"), "news", "file", at(10, 31, 23, 59), 60_000),
            60_000,
            Outcome::Completed,
        );
        // 1 November 00:10 local is 31 October 17:10 UTC: inside.
        add(
            row(Some("tin-sang"), "news", "chime", at(11, 1, 0, 10), 5_000),
            5_000,
            Outcome::Completed,
        );
        add(
            row(Some("tin-sang"), "news", "file", at(11, 1, 0, 10), 600_000),
            600_000,
            Outcome::Completed,
        );
        add(
            row(Some("tin-sang"), "news", "silence", at(11, 1, 0, 20), 2_000),
            2_000,
            Outcome::Completed,
        );
        add(
            row(Some("tin-sang"), "news", "file", at(11, 2, 6, 0), 600_000),
            0,
            Outcome::Failed,
        );
        add(
            row(Some("vov1"), "relay", "stream", at(11, 2, 6, 15), 1_800_000),
            1_700_000,
            Outcome::Cut,
        );
        add(
            row(Some("nhac"), "music", "tone", at(11, 15, 17, 0), 1_000),
            1_000,
            Outcome::Completed,
        );
        add(
            row(Some("nhac"), "music", "file", at(11, 15, 17, 0), 300_000),
            300_000,
            Outcome::Completed,
        );
        // An emergency announcement: chime and two repeats, counted once.
        let mut a = row(None, "announcement", "tts", at(11, 20, 9, 0), 30_000);
        a.priority = Priority::Emergency;
        let accepted = a.started_at;
        for (i, kind) in ["chime", "tts", "tts"].iter().enumerate() {
            let mut r = a.clone();
            r.source_kind = kind.to_string();
            r.started_at = accepted + TimeDelta::seconds(40 * i as i64);
            add(r, 30_000, Outcome::Completed);
        }
        // 30 November 23:30 local counts; 1 December 00:10 local does not.
        add(
            row(
                Some("vov1"),
                "relay",
                "stream",
                at(11, 30, 23, 30),
                1_800_000,
            ),
            1_800_000,
            Outcome::Completed,
        );
        add(
            row(Some("vov1"), "relay", "stream", at(12, 1, 0, 10), 1_800_000),
            1_800_000,
            Outcome::Completed,
        );
        path
    }

    pub const NOV: Period = Period {
        from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    };

    fn open(path: &std::path::Path) -> Connection {
        Connection::open(path).unwrap()
    }

    pub fn rows(conn: &Connection) -> SqliteRows<'_> {
        SqliteRows {
            conn,
            station: "au-lau".into(),
        }
    }

    fn group<'a>(f: &'a Figures, key: &str) -> &'a Group {
        f.groups
            .iter()
            .find(|g| g.key == key)
            .unwrap_or_else(|| panic!("no group {key}: {:?}", f.groups))
    }

    #[test]
    fn silent_days_are_the_days_nothing_aired_until_today() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let mut f = figures(&mut rows(&conn), NOV, By::Category, false).unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let stations = [
            KnownStation {
                id: "au-lau".into(),
                offline_since: None,
            },
            // Heard from once, offline since: silent every day.
            KnownStation {
                id: "xa-khac".into(),
                offline_since: Some(day(20)),
            },
        ];
        // Today the 25th: the days after it have not happened.
        f.find_silent(&stations, day(25));
        // The 2nd aired a relay (its failed news did not count); the
        // 1st's chime and silence aside, its news aired.
        assert_eq!(
            runs(&f.silent[0].days),
            [(day(3), day(14)), (day(16), day(19)), (day(21), day(25))]
        );
        assert_eq!(f.silent[0].offline_since, None);
        assert_eq!(f.silent[1].station, "xa-khac");
        assert_eq!(runs(&f.silent[1].days), [(day(1), day(25))]);
        assert_eq!(f.silent[1].offline_since, Some(day(20)));
        // A station that aired every day is not listed.
        let mut f = figures(&mut rows(&conn), NOV, By::Category, false).unwrap();
        f.find_silent(&stations[..1], day(2));
        assert_eq!(f.silent, []);
    }

    #[test]
    fn by_category_counts_items_but_not_chimes_silences_tones_or_unaired_rows() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let f = figures(&mut rows(&conn), NOV, By::Category, false).unwrap();
        let keys: Vec<_> = f.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["relay", "news", "music", "announcement"]);
        assert_eq!(
            *group(&f, "news"),
            Group {
                key: "news".into(),
                title: None,
                items: 1, // the file; not the chime, the silence, or the failed file
                aired_ms: 607_000,
                planned_ms: 1_207_000,
                completed: 1, // of the items: the file (the chime and silence are none)
                failed: 1,
            }
        );
        assert_eq!(group(&f, "music").items, 1);
        assert_eq!(group(&f, "music").completed, 1, "the tone is no item");
        assert_eq!(group(&f, "announcement").items, 2);
        assert_eq!(
            group(&f, "announcement").completed,
            2,
            "the chime is no item"
        );
        assert_eq!(group(&f, "relay").aired_ms, 3_500_000);
        assert_eq!(
            f.totals,
            Totals {
                items: 6,
                aired_ms: 607_000 + 3_500_000 + 301_000 + 90_000,
                planned_ms: 1_207_000 + 3_600_000 + 301_000 + 90_000,
                completed: 1 + 1 + 1 + 2,
                failed: 1,
                emergency_announcements: 1,
                relay_ms: 3_500_000,
            }
        );
    }

    #[test]
    fn days_are_the_stations_local_days() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let f = figures(&mut rows(&conn), NOV, By::Day, false).unwrap();
        let keys: Vec<_> = f.groups.iter().map(|g| g.key.as_str()).collect();
        // 1 November 00:10 local (31 October in UTC) is in; 31 October 23:59
        // and 1 December 00:10 local are out; 30 November 23:30 is in.
        assert_eq!(
            keys,
            [
                "2026-11-01",
                "2026-11-02",
                "2026-11-15",
                "2026-11-20",
                "2026-11-30"
            ]
        );
        assert_eq!(group(&f, "2026-11-30").aired_ms, 1_800_000);
        // One day only.
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let f = figures(&mut rows(&conn), Period { from: d, to: d }, By::Day, false).unwrap();
        assert_eq!(f.groups.len(), 1);
        assert_eq!(f.totals.relay_ms, 1_800_000);
    }

    #[test]
    fn by_program_and_by_source() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let f = figures(&mut rows(&conn), NOV, By::Program, false).unwrap();
        let keys: Vec<_> = f.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["vov1", "tin-sang", "nhac", ANNOUNCEMENTS_KEY]);
        assert_eq!(group(&f, "tin-sang").failed, 1);

        let f = figures(&mut rows(&conn), NOV, By::Source, false).unwrap();
        let keys: Vec<_> = f.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "http://vov1.example/live.m3u",
                "file",
                "tts",
                "chime",
                "silence",
                "tone"
            ]
        );
        assert_eq!(group(&f, "file").items, 2);
        assert_eq!(group(&f, "chime").items, 0);
        // Relay hours by the station relayed, not by URL.
        assert_eq!(f.relay, [("vov1".to_string(), 3_500_000)]);
    }

    /// One relay program with two sources, as the relay logs it: a row per
    /// source that aired (its relayed audio only), a failed one for a source
    /// that never did, and the fallback's file between.
    #[test]
    fn relay_hours_count_relayed_audio_only_per_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airtime.sqlite");
        let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        let start = at(11, 3, 6, 0);
        let end = start + TimeDelta::minutes(30);
        let mut source = |url: &str, aired: u64, o: Outcome, detail: Option<&str>| {
            let mut r = row(Some("vov1"), "relay", "stream", start, 1_800_000);
            r.source = url.into();
            log.record(&r, end, aired, o, detail).unwrap();
        };
        source(
            "https://vov.example/playlist.m3u8",
            20 * 60_000,
            Outcome::Cut,
            Some("window closed"),
        );
        source(
            "http://vov.example:7001/;stream/",
            7 * 60_000,
            Outcome::Cut,
            Some("window closed"),
        );
        source(
            "http://spare.example/live.m3u",
            0,
            Outcome::Failed,
            Some("never aired: connection refused"),
        );
        let fallback = row(Some("vov1"), "relay", "file", start, 1_800_000);
        log.record(
            &fallback,
            end,
            3 * 60_000,
            Outcome::Cut,
            Some("window closed"),
        )
        .unwrap();
        drop(log);
        let conn = open(&path);
        let f = figures(&mut rows(&conn), NOV, By::Source, false).unwrap();
        let per_url: Vec<(&str, u64)> = f
            .groups
            .iter()
            .filter(|g| g.key.contains("://"))
            .map(|g| (g.key.as_str(), g.aired_ms))
            .collect();
        assert_eq!(
            per_url,
            [
                ("https://vov.example/playlist.m3u8", 20 * 60_000),
                ("http://vov.example:7001/;stream/", 7 * 60_000),
                ("http://spare.example/live.m3u", 0),
            ]
        );
        // The relay hours name the station relayed (the program's title).
        assert_eq!(f.relay, [("vov1".to_string(), 27 * 60_000)]);
        // The two sources that aired until the window closed did their
        // job: completed; the fallback's file cut at the window is cut.
        let relayed: u64 = f
            .groups
            .iter()
            .filter(|g| g.key.starts_with("http"))
            .map(|g| g.completed)
            .sum();
        assert_eq!(relayed, 2);
        assert_eq!(group(&f, "file").completed, 0);
        assert_eq!(
            f.totals.relay_ms,
            27 * 60_000,
            "the fallback is not relay time"
        );
        assert_eq!(f.totals.aired_ms, 30 * 60_000);
        assert_eq!(group(&f, "http://spare.example/live.m3u").failed, 1);
    }

    #[test]
    fn an_emergency_announcement_counts_once_and_only_if_it_aired() {
        let dir = tempfile::tempdir().unwrap();
        let path = november(dir.path());
        let (mut log, _) = AirtimeLog::open(&path, "au-lau", TZ).unwrap();
        // A second one, refused at air time: not counted.
        let mut a = row(None, "announcement", "tts", at(11, 21, 9, 0), 30_000);
        a.priority = Priority::Emergency;
        log.record(
            &a,
            a.started_at,
            0,
            Outcome::Failed,
            Some("TTS engine missing"),
        )
        .unwrap();
        // A third, airing twice from the same key, accepted at different times.
        a.started_at = at(11, 22, 9, 0);
        a.scheduled_at = Some(a.started_at);
        log.record(&a, a.started_at, 30_000, Outcome::Completed, None)
            .unwrap();
        a.started_at = at(11, 22, 10, 0);
        a.scheduled_at = Some(a.started_at);
        log.record(&a, a.started_at, 30_000, Outcome::Completed, None)
            .unwrap();
        let conn = open(&path);
        let f = figures(&mut rows(&conn), NOV, By::Category, false).unwrap();
        assert_eq!(f.totals.emergency_announcements, 3);
    }

    #[test]
    fn rows_come_in_the_order_they_started() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let mut seen = Vec::new();
        let f = figures_and_rows(&mut rows(&conn), NOV, By::Day, |r| {
            seen.push(format!("{} {}", &r.started_at[..16], r.source_kind));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            f.groups,
            figures(&mut rows(&conn), NOV, By::Day, false)
                .unwrap()
                .groups
        );
        assert_eq!(f.per_day.len(), 6, "{:?}", f.per_day);
        assert_eq!(seen.len(), 11);
        assert_eq!(seen[0], "2026-11-01T00:10 chime");
        assert_eq!(seen[10], "2026-11-30T23:30 stream");
    }
}
