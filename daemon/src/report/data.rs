//! The report's figures, aggregated by SQLite over the airtime log.
//!
//! A row counts on the day of its `started_at`. Times are stored with the
//! station's offset, so the first ten characters of `started_at` are the
//! local date: a period of days is the text range
//! `from <= started_at < day after to`, which the `started_at` index serves,
//! and `--by day` groups by `substr(started_at, 1, 10)`.

use chrono::{NaiveDate, TimeDelta};
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
    /// Distinct emergency announcements that aired (see [`emergency_announcements`]).
    pub emergency_announcements: u64,
    /// aired_ms of stream rows.
    pub relay_ms: u64,
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
}

fn count(v: Option<i64>) -> u64 {
    v.unwrap_or(0).max(0) as u64
}

/// Aggregates the period.
pub fn figures(conn: &Connection, period: Period, by: By) -> rusqlite::Result<Figures> {
    let (lo, hi) = period.bounds();
    let sql = format!(
        "SELECT {key} AS k, SUM({ITEM}), SUM(aired_ms), SUM(planned_ms),
                SUM(outcome = 'completed'), SUM(outcome = 'failed'), {title}
         FROM airtime WHERE started_at >= ?1 AND started_at < ?2
         GROUP BY k",
        key = by.key_sql(),
        // A program's title rarely changes; one of them names it.
        title = if by == By::Program {
            "MAX(title)"
        } else {
            "NULL"
        },
    );
    let mut groups: Vec<Group> = conn
        .prepare(&sql)?
        .query_map(params![lo, hi], |r| {
            Ok(Group {
                key: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                items: count(r.get(1)?),
                aired_ms: count(r.get(2)?),
                planned_ms: count(r.get(3)?),
                completed: count(r.get(4)?),
                failed: count(r.get(5)?),
                title: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
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
    let mut relay: Vec<(String, u64)> = conn
        .prepare(
            "SELECT source, SUM(aired_ms) FROM airtime
             WHERE started_at >= ?1 AND started_at < ?2 AND source_kind = 'stream'
             GROUP BY source",
        )?
        .query_map(params![lo, hi], |r| Ok((r.get(0)?, count(r.get(1)?))))?
        .collect::<Result<_, _>>()?;
    relay.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    totals.relay_ms = relay.iter().map(|r| r.1).sum();
    totals.emergency_announcements = emergency_announcements(conn, period)?;
    Ok(Figures {
        period,
        by,
        groups,
        totals,
        relay,
    })
}

/// Emergency announcements that aired in the period. One announcement
/// airing writes several rows (its chime, then each repeat), all with the
/// same `scheduled_at` (the instant it was accepted): it counts once per
/// distinct (title, requested_by, scheduled_at), chimes/silences/tones and
/// rows that did not air excepted. A row without `scheduled_at` counts alone.
pub fn emergency_announcements(conn: &Connection, period: Period) -> rusqlite::Result<u64> {
    let (lo, hi) = period.bounds();
    let n: i64 = conn.query_row(
        &format!(
            "SELECT COUNT(*) FROM (
                SELECT DISTINCT title, requested_by, COALESCE(scheduled_at, 'row ' || id)
                FROM airtime
                WHERE started_at >= ?1 AND started_at < ?2
                  AND category = 'announcement' AND priority = 'emergency' AND {ITEM})"
        ),
        params![lo, hi],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

/// aired_ms per local day and category, for the chart.
pub fn per_day_category(
    conn: &Connection,
    period: Period,
) -> rusqlite::Result<Vec<(String, String, u64)>> {
    let (lo, hi) = period.bounds();
    conn.prepare(
        "SELECT substr(started_at, 1, 10) AS d, category, SUM(aired_ms) FROM airtime
         WHERE started_at >= ?1 AND started_at < ?2
         GROUP BY d, category",
    )?
    .query_map(params![lo, hi], |r| {
        Ok((r.get(0)?, r.get(1)?, count(r.get(2)?)))
    })?
    .collect()
}

/// One row of the chronological list.
#[derive(Clone, Debug)]
pub struct LogRow {
    pub started_at: String,
    pub title: String,
    pub category: String,
    pub source_kind: String,
    pub source: String,
    pub aired_ms: u64,
    pub outcome: String,
    pub trigger: String,
    pub requested_by: Option<String>,
    pub program_id: Option<String>,
    pub detail: Option<String>,
}

/// Calls `each` with every row of the period, in the order they started
/// (streamed: a year of rows need not fit in memory).
pub fn each_row(
    conn: &Connection,
    period: Period,
    mut each: impl FnMut(&LogRow) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let (lo, hi) = period.bounds();
    let mut stmt = conn.prepare(
        r#"SELECT started_at, title, category, source_kind, source, aired_ms, outcome,
                  "trigger", requested_by, program_id, detail
           FROM airtime WHERE started_at >= ?1 AND started_at < ?2
           ORDER BY started_at, id"#,
    )?;
    let mut rows = stmt.query(params![lo, hi])?;
    while let Some(r) = rows.next()? {
        let row = LogRow {
            started_at: r.get(0)?,
            title: r.get(1)?,
            category: r.get(2)?,
            source_kind: r.get(3)?,
            source: r.get(4)?,
            aired_ms: count(r.get(5)?),
            outcome: r.get(6)?,
            trigger: r.get(7)?,
            requested_by: r.get(8)?,
            program_id: r.get(9)?,
            detail: r.get(10)?,
        };
        each(&row)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::airtime::{AirtimeLog, NewRow, Outcome, Trigger};
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
        let f = figures(&conn, NOV, By::Category).unwrap();
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
        let f = figures(&conn, NOV, By::Day).unwrap();
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
        let f = figures(&conn, Period { from: d, to: d }, By::Day).unwrap();
        assert_eq!(f.groups.len(), 1);
        assert_eq!(f.totals.relay_ms, 1_800_000);
    }

    #[test]
    fn by_program_and_by_source() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let f = figures(&conn, NOV, By::Program).unwrap();
        let keys: Vec<_> = f.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["vov1", "tin-sang", "nhac", ANNOUNCEMENTS_KEY]);
        assert_eq!(group(&f, "tin-sang").failed, 1);

        let f = figures(&conn, NOV, By::Source).unwrap();
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
        assert_eq!(emergency_announcements(&conn, NOV).unwrap(), 3);
    }

    #[test]
    fn rows_come_in_the_order_they_started() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&november(dir.path()));
        let mut seen = Vec::new();
        each_row(&conn, NOV, |r| {
            seen.push(format!("{} {}", &r.started_at[..16], r.source_kind));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 11);
        assert_eq!(seen[0], "2026-11-01T00:10 chime");
        assert_eq!(seen[10], "2026-11-30T23:30 stream");
    }
}
