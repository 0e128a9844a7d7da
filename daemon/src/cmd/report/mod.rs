//! `loa report`: the airtime report and the monthly log book (SPEC sections
//! 5 and 7), read from the airtime log.
//!
//! - `data`: the figures, aggregated by SQLite;
//! - `plain`: text, CSV and JSON;
//! - `html`: the printable log book with its chart;
//! - `words`: every string shown, in Vietnamese and English.

pub mod data;
pub mod district;
pub mod html;
pub mod plain;
pub mod words;

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OpenFlags};

use data::{By, Figures, Group, Period, SqliteRows, ANNOUNCEMENTS_KEY};
use words::Lang;

/// Arguments of `loa report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Configuration directory (the log is paths.state/airtime.sqlite).
    #[arg(
        long,
        value_name = "DIR",
        env = "LOA_CONFIG",
        default_value = "/etc/loa",
        conflicts_with = "db"
    )]
    pub config: PathBuf,
    /// An airtime database instead (e.g. one written by `loa simulate`),
    /// or the district book `loa collect` writes (postgres://USER@HOST:PORT/DB).
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
    /// With a district book: `all` (the default) or station ids, comma-separated.
    #[arg(long, value_name = "all|ID,..")]
    pub stations: Option<String>,
    /// First day, YYYY-MM-DD in the station's time zone, inclusive
    /// (default: the first day of last month, or of --to's month).
    #[arg(long, value_name = "D", value_parser = crate::cli::parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day, YYYY-MM-DD, inclusive (default: the last day of last
    /// month, or today when --from is given).
    #[arg(long, value_name = "D", value_parser = crate::cli::parse_date)]
    pub to: Option<NaiveDate>,
    /// What each line of the report adds up.
    #[arg(long, value_enum, default_value_t = By::Category)]
    pub by: By,
    /// Output format (html: the printable log book).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Language of the text, CSV headers and log book.
    #[arg(long, value_enum, default_value_t = Lang::Vi)]
    pub lang: Lang,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Csv,
    Json,
    Html,
}

/// What a report shows: the station and the figures.
pub struct Report {
    pub station_id: String,
    pub station_name: String,
    pub tz: Tz,
    pub lang: Lang,
    pub figures: Figures,
}

impl Report {
    /// The name of the key column.
    pub fn by_label(&self) -> &'static str {
        let w = self.lang.words();
        match self.figures.by {
            By::Category => w.key_category,
            By::Program => w.key_program,
            By::Day => w.key_day,
            By::Source => w.key_source,
            By::Station => w.key_station,
        }
    }

    /// Each silent station as a line for people: `xa-a: 3 days (05/11/2026,
    /// 07/11/2026–08/11/2026); offline since 07/11/2026`.
    pub fn silent_lines(&self) -> Vec<String> {
        let w = self.lang.words();
        self.figures
            .silent
            .iter()
            .map(|s| {
                let dates: Vec<String> = data::runs(&s.days)
                    .into_iter()
                    .map(|(a, b)| {
                        if a == b {
                            self.lang.date(&a.to_string())
                        } else {
                            format!(
                                "{}–{}",
                                self.lang.date(&a.to_string()),
                                self.lang.date(&b.to_string())
                            )
                        }
                    })
                    .collect();
                let mut line = format!("{}: {} {}", s.station, s.days.len(), w.days);
                if !dates.is_empty() {
                    line.push_str(&format!(" ({})", dates.join(", ")));
                }
                if let Some(d) = s.offline_since {
                    line.push_str(&format!(
                        "; {} {}",
                        w.offline_since,
                        self.lang.date(&d.to_string())
                    ));
                }
                line
            })
            .collect()
    }

    /// A group's key as the reader knows it.
    pub fn key_label(&self, g: &Group) -> String {
        match self.figures.by {
            By::Category => self.lang.category(&g.key).to_string(),
            By::Program if g.key == ANNOUNCEMENTS_KEY => self.lang.words().announcements.into(),
            By::Program => match &g.title {
                Some(t) => format!("{} ({})", t, g.key),
                None => g.key.clone(),
            },
            By::Day => self.lang.date(&g.key),
            By::Source if g.key.contains("://") => g.key.clone(),
            By::Source => self.lang.source_kind(&g.key).to_string(),
            By::Station => g.key.clone(),
        }
    }
}

/// The log to read and what the configuration (if any) adds.
struct Station {
    db: PathBuf,
    name: Option<String>,
    tz: Option<Tz>,
    id: Option<String>,
    /// approved_by of the programs, for the log book.
    approvals: HashMap<String, String>,
}

fn station(args: &ReportArgs) -> anyhow::Result<Station> {
    if let Some(db) = &args.db {
        return Ok(Station {
            db: db.clone(),
            name: None,
            tz: None,
            id: None,
            approvals: HashMap::new(),
        });
    }
    let dir = &args.config;
    let loaded = loa_schedules::load::load_dir(dir);
    // Errors in schedule files do not hide the log; only an unusable
    // station.yaml does.
    let Some(config) = loaded.config else {
        bail!(
            "{}: station.yaml has errors, so the airtime log's place (paths.state) is unknown; \
             run `loa check --config {}`, or name the log with --db PATH",
            dir.join("station.yaml").display(),
            dir.display()
        );
    };
    let approvals = config
        .programs
        .iter()
        .filter_map(|p| Some((p.id.clone(), p.approved_by.clone()?)))
        .collect();
    Ok(Station {
        db: crate::runtime::airtime::log_path(&config.station),
        name: Some(config.station.name.clone()),
        tz: Some(config.station.timezone),
        id: Some(config.station.id.clone()),
        approvals,
    })
}

/// Opens an airtime log for reading; never creates one.
pub fn open_log(path: &Path) -> anyhow::Result<Connection> {
    if !path.exists() {
        bail!(
            "{}: no airtime log there; check paths.state in station.yaml (the daemon writes \
             the log once it runs), or make one with `loa simulate --db {}`",
            path.display(),
            path.display()
        );
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("{}: cannot open the airtime log", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'airtime')",
            [],
            |r| r.get(0),
        )
        .with_context(|| format!("{}: not an airtime log (not SQLite?)", path.display()))?;
    if !has_table {
        bail!(
            "{}: not an airtime log (no table `airtime`)",
            path.display()
        );
    }
    // Columns a newer Loa added or changed would be misread.
    crate::runtime::airtime::schema::check_readable(&conn, path)?;
    Ok(conn)
}

/// The log's `meta` table (empty if it has none).
pub fn read_meta(conn: &Connection) -> HashMap<String, String> {
    let read = || -> rusqlite::Result<HashMap<String, String>> {
        conn.prepare("SELECT key, value FROM meta")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    };
    read().unwrap_or_default()
}

/// The period asked for; by default the previous month in the station's zone.
pub fn period(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> anyhow::Result<Period> {
    let first_of = |d: NaiveDate| d.with_day(1).expect("day 1 exists");
    let (from, to) = match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, today.max(f)),
        (None, Some(t)) => (first_of(t), t),
        (None, None) => {
            let last = first_of(today) - TimeDelta::days(1);
            (first_of(last), last)
        }
    };
    if to < from {
        bail!("--to {to} is before --from {from}");
    }
    Ok(Period { from, to })
}

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = args
        .db
        .as_ref()
        .and_then(|p| p.to_str())
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
    {
        return district(args, url);
    }
    if args.stations.is_some() {
        bail!("--stations is for a district book: give --db postgres://USER@HOST:PORT/DB");
    }
    let st = station(args)?;
    let conn = open_log(&st.db)?;
    let meta = read_meta(&conn);
    let tz = match meta.get("timezone") {
        Some(name) => name.parse::<Tz>().map_err(|_| {
            anyhow::anyhow!(
                "{}: meta has an unknown time zone `{name}`",
                st.db.display()
            )
        })?,
        None => st.tz.with_context(|| {
            format!(
                "{}: the log has no time zone (no `meta` table); use --config DIR so that \
                 station.yaml gives it",
                st.db.display()
            )
        })?,
    };
    let today = Utc::now().with_timezone(&tz).date_naive();
    let period = period(args.from, args.to, today)?;
    let station_id = meta
        .get("station_id")
        .cloned()
        .or(st.id)
        .unwrap_or_default();
    let station_name = st
        .name
        .or_else(|| meta.get("station_name").cloned())
        .unwrap_or_else(|| station_id.clone());
    let mut rows = SqliteRows {
        conn: &conn,
        station: station_id.clone(),
    };
    let names = (station_id, station_name);
    let what = st.db.display().to_string();
    let when = (period, today);
    render(args, &mut rows, names, tz, when, &st.approvals, &what)
}

/// The district book at a postgres:// URL (`loa collect`'s).
fn district(args: &ReportArgs, url: &str) -> anyhow::Result<ExitCode> {
    let stations: Option<Vec<String>> = match args.stations.as_deref() {
        None | Some("all") => None,
        Some(list) => {
            let ids: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
            if let Some(bad) = ids
                .iter()
                .find(|s| !crate::cmd::collect::input::valid_station(s))
            {
                bail!("--stations: `{bad}` is not a station id (1 to 40 of a-z, 0-9, -); write all or ID,ID");
            }
            Some(ids)
        }
    };
    let label = match &stations {
        None => "all".to_string(),
        Some(ids) => ids.join(","),
    };
    let mut rows = district::PgRows::connect(url, stations)?;
    // Vietnam keeps one time zone; the stations' rows carry their offsets.
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let period = period(args.from, args.to, today)?;
    let what = crate::cmd::collect::store::redacted(url);
    render(
        args,
        &mut rows,
        (label.clone(), label),
        tz,
        (period, today),
        &HashMap::new(),
        &what,
    )
}

/// The report of `rows`, whatever their source, as asked (`today`: the
/// last day that may count as silent).
fn render(
    args: &ReportArgs,
    rows: &mut dyn data::RowSource,
    (station_id, station_name): (String, String),
    tz: Tz,
    (period, today): (Period, NaiveDate),
    approvals: &HashMap<String, String>,
    what: &str,
) -> anyhow::Result<ExitCode> {
    let stations = rows.stations()?;
    let report = |mut figures: Figures| {
        figures.find_silent(&stations, period.to.min(today));
        Report {
            station_id,
            station_name,
            tz,
            lang: args.lang,
            figures,
        }
    };
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(path)
                .with_context(|| format!("{}: cannot write the report", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout().lock())),
    };
    let reading = || format!("{what}: cannot read the airtime log");
    let written = match args.format {
        ReportFormat::Html => html::log_book(
            rows, period, args.by, args.lang, approvals, report, &mut out,
        ),
        format => {
            let r = report(data::figures(rows, period, args.by, false).with_context(reading)?);
            match format {
                ReportFormat::Text => plain::text(&r, &mut out),
                ReportFormat::Csv => plain::csv(&r, &mut out),
                _ => plain::json(&r, &mut out),
            }
            .map_err(anyhow::Error::from)
        }
    };
    let target = args
        .out
        .as_ref()
        .map_or("standard output".to_string(), |p| p.display().to_string());
    written
        .and_then(|()| out.flush().map_err(anyhow::Error::from))
        .with_context(|| format!("{target}: cannot write the report"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::cli::parse_date(s).unwrap()
    }

    #[test]
    fn the_default_period_is_the_previous_month() {
        let p = period(None, None, d("2026-11-25")).unwrap();
        assert_eq!((p.from, p.to), (d("2026-10-01"), d("2026-10-31")));
        let p = period(None, None, d("2026-01-01")).unwrap();
        assert_eq!((p.from, p.to), (d("2025-12-01"), d("2025-12-31")));
        let p = period(None, None, d("2028-03-31")).unwrap();
        assert_eq!((p.from, p.to), (d("2028-02-01"), d("2028-02-29")));
    }

    #[test]
    fn one_end_given() {
        let today = d("2026-11-25");
        let p = period(Some(d("2026-11-10")), None, today).unwrap();
        assert_eq!((p.from, p.to), (d("2026-11-10"), today));
        let p = period(None, Some(d("2026-09-17")), today).unwrap();
        assert_eq!((p.from, p.to), (d("2026-09-01"), d("2026-09-17")));
        let e = period(Some(d("2026-11-10")), Some(d("2026-11-09")), today).unwrap_err();
        assert_eq!(e.to_string(), "--to 2026-11-09 is before --from 2026-11-10");
    }
}
