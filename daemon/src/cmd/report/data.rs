//! The report's figures, aggregated by SQLite over the airtime log.
//!
//! A row counts on the day of its `started_at`. Times are stored with the
//! station's offset, so the first ten characters of `started_at` are the
//! local date: a period of days is the text range
//! `from <= started_at < day after to`, which the `started_at` index serves,
//! and `--by day` groups by `substr(started_at, 1, 10)`.

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
}

/// The key of the rows that have no program (announcements) with `--by program`.
/// Program ids are `[a-z0-9-]`, so it cannot clash with one.
pub const ANNOUNCEMENTS_KEY: &str = "(announcements)";

/// Items: rows that aired, chimes, silences and tones excepted.
const ITEM: &str = "(aired_ms > 0 AND source_kind NOT IN ('chime', 'silence', 'tone'))";

impl By {
    fn key_sql(self) -> String {
        match self {
            By::Category => "category".into(),
            By::Program => format!("COALESCE(program_id, '{ANNOUNCEMENTS_KEY}')"),
            By::Day => "substr(started_at, 1, 10)".into(),
            By::Source => {
                "CASE WHEN source_kind = 'stream' THEN source ELSE source_kind END".into()
            }
        }
    }
}

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
    /// distinct (title, requested_by, scheduled_at), chimes, silences, tones
    /// and rows that did not air excepted. A row without `scheduled_at`
    /// counts alone.
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
    /// aired_ms per stream URL, most aired first.
    pub relay: Vec<(String, u64)>,
    /// (local day, category, aired_ms), sorted; only when asked for.
    pub per_day: Vec<(String, String, u64)>,
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
pub fn figures(conn: &Connection, period: Period, by: By, days: bool) -> anyhow::Result<Figures> {
    scan(conn, period, by, days, None)
}

/// [`figures`] with the chart's days, calling `each` with every row of the
/// period in the order they started, in the same pass (the log book lists a
/// year's million rows; one pass instead of two saves a second).
pub fn figures_and_rows(
    conn: &Connection,
    period: Period,
    by: By,
    mut each: impl FnMut(&LogRow<'_>) -> std::io::Result<()>,
) -> anyhow::Result<Figures> {
    scan(conn, period, by, true, Some(&mut each))
}

/// What is called with each row of the chronological list.
type EachRow<'f> = &'f mut dyn FnMut(&LogRow<'_>) -> std::io::Result<()>;

/// One pass over the period's rows (through the `started_at` index),
/// summed here in hash maps: three GROUP BY queries had SQLite sort a
/// year's million rows three times, near the 2 s budget.
fn scan(
    conn: &Connection,
    period: Period,
    by: By,
    days: bool,
    mut each: Option<EachRow<'_>>,
) -> anyhow::Result<Figures> {
    let (lo, hi) = period.bounds();
    let sql = format!(
        "SELECT {key}, source_kind, aired_ms, planned_ms, outcome,
                CASE WHEN source_kind = 'stream' THEN source END,
                CASE WHEN category = 'announcement' AND priority = 'emergency' AND {ITEM}
                     THEN title || char(31) || COALESCE(requested_by, '') || char(31)
                          || COALESCE(scheduled_at, 'row ' || id) END,
                {title}, {day}, {rows}
         FROM airtime WHERE started_at >= ?1 AND started_at < ?2 {order}",
        key = by.key_sql(),
        // A program's title rarely changes; one of them names it.
        title = if by == By::Program { "title" } else { "NULL" },
        day = if days {
            "substr(started_at, 1, 10), category"
        } else {
            "NULL, NULL"
        },
        rows = if each.is_some() { ROW_COLUMNS } else { "NULL" },
        order = if each.is_some() {
            "ORDER BY started_at, id"
        } else {
            ""
        },
    );
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut relay: HashMap<String, u64> = HashMap::new();
    let mut emergencies: HashSet<String> = HashSet::new();
    let mut per_day: HashMap<String, HashMap<String, u64>> = HashMap::new();
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![lo, hi])?;
    while let Some(r) = rows.next()? {
        if let Some(each) = each.as_mut() {
            each(&log_row(r, 10)?)?;
        }
        let key = text(r.get_ref(0)?);
        let kind = text(r.get_ref(1)?);
        let aired = int(r.get_ref(2)?);
        let planned = int(r.get_ref(3)?);
        let outcome = text(r.get_ref(4)?);
        let g = match groups.get_mut(key) {
            Some(g) => g,
            None => groups.entry(key.to_string()).or_insert_with(|| Group {
                key: key.to_string(),
                ..Group::default()
            }),
        };
        g.items += u64::from(aired > 0 && !matches!(kind, "chime" | "silence" | "tone"));
        g.aired_ms += aired;
        g.planned_ms += planned;
        g.completed += u64::from(outcome == "completed");
        g.failed += u64::from(outcome == "failed");
        if let ValueRef::Text(_) = r.get_ref(7)? {
            let title = text(r.get_ref(7)?);
            if g.title.as_deref().is_none_or(|t| t < title) {
                g.title = Some(title.to_string());
            }
        }
        if let ValueRef::Text(_) = r.get_ref(5)? {
            let url = text(r.get_ref(5)?);
            match relay.get_mut(url) {
                Some(ms) => *ms += aired,
                None => {
                    relay.insert(url.to_string(), aired);
                }
            }
        }
        if let ValueRef::Text(_) = r.get_ref(6)? {
            emergencies.insert(text(r.get_ref(6)?).to_string());
        }
        if days {
            let (day, category) = (text(r.get_ref(8)?), text(r.get_ref(9)?));
            let cats = match per_day.get_mut(day) {
                Some(c) => c,
                None => per_day.entry(day.to_string()).or_default(),
            };
            match cats.get_mut(category) {
                Some(ms) => *ms += aired,
                None => {
                    cats.insert(category.to_string(), aired);
                }
            }
        }
    }
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
    })
}

/// One row of the chronological list, borrowed from SQLite.
#[derive(Clone, Debug)]
pub struct LogRow<'a> {
    pub started_at: &'a str,
    pub title: &'a str,
    pub category: &'a str,
    pub source_kind: &'a str,
    pub source: &'a str,
    pub aired_ms: u64,
    pub outcome: &'a str,
    pub trigger: &'a str,
    pub requested_by: Option<&'a str>,
    pub program_id: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// The columns of a [`LogRow`], in its order.
const ROW_COLUMNS: &str = r#"started_at, title, category, source_kind, source, aired_ms, outcome,
    "trigger", requested_by, program_id, detail"#;

/// The [`LogRow`] in the columns from `at` on.
fn log_row<'a>(r: &'a rusqlite::Row<'_>, at: usize) -> rusqlite::Result<LogRow<'a>> {
    let opt = |i: usize| -> rusqlite::Result<Option<&'a str>> {
        Ok(match r.get_ref(at + i)? {
            ValueRef::Null => None,
            v => Some(text(v)),
        })
    };
    Ok(LogRow {
        started_at: text(r.get_ref(at)?),
        title: text(r.get_ref(at + 1)?),
        category: text(r.get_ref(at + 2)?),
        source_kind: text(r.get_ref(at + 3)?),
        source: text(r.get_ref(at + 4)?),
        aired_ms: int(r.get_ref(at + 5)?),
        outcome: text(r.get_ref(at + 6)?),
        trigger: text(r.get_ref(at + 7)?),
        requested_by: opt(8)?,
        program_id: opt(9)?,
        detail: opt(10)?,
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

    fn group<'a>(f: &'a Figures, key: &str) -> &'a Group {
        f.groups
            .iter()
            .find(|g| g.key == key)
            .unwrap_or_else(|| panic!("no group {key}: {:?}", f.groups))
    }

    #[test]
    fn by_category_counts_items_but_not_chimes_silences_tones_or_unaired_rows() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let f = figures(&conn, NOV, By::Category, false).unwrap();
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
                completed: 3,
                failed: 1,
            }
        );
        assert_eq!(group(&f, "music").items, 1);
        assert_eq!(group(&f, "announcement").items, 2);
        assert_eq!(group(&f, "relay").aired_ms, 3_500_000);
        assert_eq!(
            f.totals,
            Totals {
                items: 6,
                aired_ms: 607_000 + 3_500_000 + 301_000 + 90_000,
                planned_ms: 1_207_000 + 3_600_000 + 301_000 + 90_000,
                completed: 3 + 1 + 2 + 3,
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
        let f = figures(&conn, NOV, By::Day, false).unwrap();
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
        let f = figures(&conn, Period { from: d, to: d }, By::Day, false).unwrap();
        assert_eq!(f.groups.len(), 1);
        assert_eq!(f.totals.relay_ms, 1_800_000);
    }

    #[test]
    fn by_program_and_by_source() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let f = figures(&conn, NOV, By::Program, false).unwrap();
        let keys: Vec<_> = f.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["vov1", "tin-sang", "nhac", ANNOUNCEMENTS_KEY]);
        assert_eq!(group(&f, "tin-sang").failed, 1);

        let f = figures(&conn, NOV, By::Source, false).unwrap();
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
        assert_eq!(
            f.relay,
            [("http://vov1.example/live.m3u".to_string(), 3_500_000)]
        );
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
        let f = figures(&conn, NOV, By::Source, false).unwrap();
        assert_eq!(
            f.relay,
            [
                ("https://vov.example/playlist.m3u8".to_string(), 20 * 60_000),
                ("http://vov.example:7001/;stream/".to_string(), 7 * 60_000),
                ("http://spare.example/live.m3u".to_string(), 0),
            ]
        );
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
        let f = figures(&conn, NOV, By::Category, false).unwrap();
        assert_eq!(f.totals.emergency_announcements, 3);
    }

    #[test]
    fn rows_come_in_the_order_they_started() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let mut seen = Vec::new();
        let f = figures_and_rows(&conn, NOV, By::Day, |r| {
            seen.push(format!("{} {}", &r.started_at[..16], r.source_kind));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            f.groups,
            figures(&conn, NOV, By::Day, false).unwrap().groups
        );
        assert_eq!(f.per_day.len(), 6, "{:?}", f.per_day);
        assert_eq!(seen.len(), 11);
        assert_eq!(seen[0], "2026-11-01T00:10 chime");
        assert_eq!(seen[10], "2026-11-30T23:30 stream");
    }
}
