//! When a program fires: its recurrence (`at` + `days`, or `cron`), its
//! `dates` window (solar, or lunar: `days`), the days it keeps to (`on`)
//! and skips (`except`), expanded into instants in the station's time zone
//! (SPEC section 3, "Occurrences" and "Calendar").
//!
//! Expansion works per local date: each date in range that the rule matches
//! yields its wall times, and each wall time becomes an instant by Loa's
//! daylight-saving rule ([`resolve_local`]). The time-of-day parsers the
//! schedule files share (`at`, `quiet_hours`, a slogan's `between`) live
//! here too, so every time in the files is read one way.
//!
//! Pure: no I/O, no clock. The caller passes the instants it cares about.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::{Tz, TzOffset};
use cron::TimeUnitSpec;

use crate::diag::did_you_mean;
use crate::lunar;

mod days;
pub use days::{DayList, LunarRange};

/// Days scanned to decide that a calendar pattern never matches. The
/// longest wait between two matching days of any rule is Feb 29 across a
/// skipped leap year (2096 -> 2104: 2,922 days).
const CALENDAR_PERIOD_DAYS: u64 = 2_930;

const DAY_NAMES: [(&str, &str, Weekday); 7] = [
    ("mon", "monday", Weekday::Mon),
    ("tue", "tuesday", Weekday::Tue),
    ("wed", "wednesday", Weekday::Wed),
    ("thu", "thursday", Weekday::Thu),
    ("fri", "friday", Weekday::Fri),
    ("sat", "saturday", Weekday::Sat),
    ("sun", "sunday", Weekday::Sun),
];

/// A set of weekdays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DaySet(u8); // bit 0 = Monday .. bit 6 = Sunday

impl DaySet {
    /// Every day of the week.
    pub const ALL: DaySet = DaySet(0x7f);

    pub fn empty() -> Self {
        DaySet(0)
    }

    pub fn insert(&mut self, d: Weekday) {
        self.0 |= 1 << d.num_days_from_monday();
    }

    pub fn contains(&self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first.
    pub fn iter(&self) -> impl Iterator<Item = Weekday> + '_ {
        DAY_NAMES
            .iter()
            .map(|&(_, _, d)| d)
            .filter(|d| self.contains(*d))
    }

    /// Parses one day name as the operator writes it: `mon`..`sun` or
    /// `monday`..`sunday`, in any case.
    pub fn parse_day(s: &str) -> Result<Weekday, String> {
        let word = s.trim().to_lowercase();
        if let Some(&(_, _, d)) = DAY_NAMES
            .iter()
            .find(|(short, long, _)| word == *short || word == *long)
        {
            return Ok(d);
        }
        let known = DAY_NAMES
            .iter()
            .flat_map(|(short, long, _)| [*short, *long]);
        Err(match did_you_mean(s.trim(), known) {
            Some(k) => format!("`{}` is not a day; did you mean `{k}`?", s.trim()),
            None => format!(
                "`{}` is not a day; write mon, tue, wed, thu, fri, sat or sun",
                s.trim()
            ),
        })
    }
}

/// A cron rule: six fields, seconds first (sec min hour day-of-month month
/// day-of-week); a classic five-field value gets seconds 0.
///
/// Day-of-week follows crontab(5): 0 or 7 = Sunday, 1 = Monday, names
/// Mon..Sun, ranges, lists and steps. The `cron` crate counts 1 = Sunday, so
/// Loa reads that field itself and leaves the other five to the crate.
/// Restricting both day-of-month and day-of-week is an error: crontab ORs
/// them, most cron crates AND them, and an operator cannot tell which.
#[derive(Clone, Debug)]
pub struct CronRule {
    source: String,
    // Ascending, so nested iteration yields wall times in order.
    hours: Vec<u32>,
    minutes: Vec<u32>,
    seconds: Vec<u32>,
    days_of_month: u32, // bit n = day n
    months: u16,        // bit n = month n
    days_of_week: DaySet,
}

/// The five fields the `cron` crate reads for Loa, as the operator names them.
const CRON_FIELDS: [(&str, &str); 5] = [
    ("second", "0-59"),
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
];

const WEEKDAY_HELP: &str =
    "write 0-7 (0 and 7 are Sunday), names mon-sun, lists (mon,wed), ranges (mon-fri) or steps (*/2)";

impl CronRule {
    /// Parses a cron value; the Err is a one-line message for the operator
    /// saying what is wrong and how to fix it.
    pub fn parse(s: &str) -> Result<CronRule, String> {
        let trimmed = s.trim();
        let expanded;
        let text = if trimmed.starts_with('@') {
            expanded = expand_shorthand(trimmed)?;
            expanded
        } else {
            trimmed
        };
        let mut fields: Vec<&str> = text.split_whitespace().collect();
        match fields.len() {
            5 => fields.insert(0, "0"),
            6 => {}
            n => {
                let year = if n == 7 {
                    " (a year field is not supported)"
                } else {
                    ""
                };
                return Err(format!(
                    "cron needs 6 fields (sec min hour day month weekday) or 5, found {n}{year}"
                ));
            }
        }

        // Check each field alone first, so the message can name the bad one.
        for (i, (name, range)) in CRON_FIELDS.iter().enumerate() {
            let mut probe = ["0", "0", "0", "*", "*", "*"];
            probe[i] = fields[i];
            if cron::Schedule::from_str(&probe.join(" ")).is_err() {
                return Err(format!(
                    "the {name} field `{}` is not valid: write numbers {range}, lists (1,5), ranges (1-5) or steps (*/5)",
                    fields[i]
                ));
            }
        }
        let crate_text = format!("{} *", fields[..5].join(" "));
        let schedule =
            cron::Schedule::from_str(&crate_text).map_err(|e| format!("cron is not valid: {e}"))?;
        let days_of_week = parse_weekday_field(fields[5])?;

        let dom_restricted = restricts(fields[3], schedule.days_of_month().is_all());
        let dow_restricted = restricts(fields[5], days_of_week == DaySet::ALL);
        if dom_restricted && dow_restricted {
            return Err(
                "restrict either day-of-month or day-of-week, not both: put * in one of them"
                    .into(),
            );
        }

        Ok(CronRule {
            source: s.trim().to_string(),
            hours: schedule.hours().iter().collect(),
            minutes: schedule.minutes().iter().collect(),
            seconds: schedule.seconds().iter().collect(),
            days_of_month: schedule.days_of_month().iter().fold(0, |m, d| m | 1 << d),
            months: schedule.months().iter().fold(0, |m, d| m | 1 << d),
            days_of_week,
        })
    }

    /// The rule as the operator wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn matches(&self, d: NaiveDate) -> bool {
        self.months & (1 << d.month()) != 0
            && self.days_of_month & (1 << d.day()) != 0
            && self.days_of_week.contains(d.weekday())
    }

    fn each_time(&self, mut f: impl FnMut(NaiveTime)) {
        for &h in &self.hours {
            for &m in &self.minutes {
                for &s in &self.seconds {
                    if let Some(t) = NaiveTime::from_hms_opt(h, m, s) {
                        f(t);
                    }
                }
            }
        }
    }
}

/// A day field restricts unless it is written as `*`/`?` and covers every
/// day: crontab(5) looks at the leading `*`, so `1-31` with a weekday would
/// mean "either" there; Loa refuses it rather than guess.
fn restricts(field: &str, covers_all: bool) -> bool {
    !(covers_all && (field.starts_with('*') || field.starts_with('?')))
}

/// The crate's shorthands, spelt out so the weekday field is read Loa's way.
fn expand_shorthand(s: &str) -> Result<&'static str, String> {
    const SHORTHANDS: [(&str, &str); 6] = [
        ("@yearly", "0 0 0 1 1 *"),
        ("@annually", "0 0 0 1 1 *"),
        ("@monthly", "0 0 0 1 * *"),
        ("@weekly", "0 0 0 * * 0"),
        ("@daily", "0 0 0 * * *"),
        ("@hourly", "0 0 * * * *"),
    ];
    let lower = s.to_lowercase();
    SHORTHANDS
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, fields)| *fields)
        .ok_or_else(|| match did_you_mean(s, SHORTHANDS.iter().map(|(n, _)| *n)) {
            Some(k) => format!("`{s}` is not a cron shorthand; did you mean `{k}`?"),
            None => format!(
                "`{s}` is not a cron shorthand; use @yearly, @monthly, @weekly, @daily or @hourly, or six fields"
            ),
        })
}

/// Reads a crontab(5) day-of-week field: 0-7 (0 and 7 are Sunday), names,
/// `*`/`?`, ranges, lists and `/` steps.
fn parse_weekday_field(field: &str) -> Result<DaySet, String> {
    let bad = |why: String| format!("the weekday field `{field}` is not valid: {why}");
    let mut set = DaySet::empty();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => match s.parse::<u32>() {
                Ok(n) if (1..=7).contains(&n) => (b, Some(n)),
                _ => return Err(bad(format!("the step `/{s}` must be 1-7"))),
            },
            None => (item, None),
        };
        let (first, last) = if base == "*" || base == "?" {
            (0, 7)
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (
                weekday_number(a, false).map_err(bad)?,
                weekday_number(b, true).map_err(bad)?,
            );
            if a > b {
                return Err(bad(format!(
                    "the range `{base}` runs backwards; split it, e.g. fri-sun,mon"
                )));
            }
            (a, b)
        } else {
            let a = weekday_number(base, false).map_err(bad)?;
            // As in the crate's other fields, `N/step` runs from N to the end.
            (a, if step.is_some() { 7 } else { a })
        };
        for n in (first..=last).step_by(step.unwrap_or(1) as usize) {
            set.insert(crontab_weekday(n));
        }
    }
    Ok(set)
}

/// A crontab weekday number 0-7. Sunday is 0 at the start of a range and 7
/// at its end, so `fri-sun` and `sun-sat` both read naturally.
fn weekday_number(s: &str, range_end: bool) -> Result<u32, String> {
    if s.is_empty() {
        return Err(format!("a weekday is missing; {WEEKDAY_HELP}"));
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return match s.parse::<u32>() {
            Ok(n) if n <= 7 => Ok(n),
            _ => Err(format!("`{s}` is not a weekday number; {WEEKDAY_HELP}")),
        };
    }
    match DaySet::parse_day(s) {
        Ok(Weekday::Sun) => Ok(if range_end { 7 } else { 0 }),
        Ok(d) => Ok(d.number_from_monday()),
        Err(m) => Err(m),
    }
}

fn crontab_weekday(n: u32) -> Weekday {
    match n % 7 {
        0 => Weekday::Sun,
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        _ => Weekday::Sat,
    }
}

/// How a program recurs.
#[derive(Clone, Debug)]
pub enum Recurrence {
    /// `at` (+ `days`): once on each listed weekday.
    Daily { at: NaiveTime, days: DaySet },
    /// `cron`.
    Cron(CronRule),
}

impl Recurrence {
    /// Whether the rule has start times on local date `d`.
    fn matches(&self, d: NaiveDate) -> bool {
        match self {
            Recurrence::Daily { days, .. } => days.contains(d.weekday()),
            Recurrence::Cron(rule) => rule.matches(d),
        }
    }

    /// The wall times of a matching day, ascending.
    fn each_time(&self, mut f: impl FnMut(NaiveTime)) {
        match self {
            Recurrence::Daily { at, .. } => f(*at),
            Recurrence::Cron(rule) => rule.each_time(f),
        }
    }
}

/// Inclusive validity window of local dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

impl DateRange {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= d) && self.until.is_none_or(|u| d <= u)
    }
}

/// When one program fires.
#[derive(Clone, Debug)]
pub struct Occurrences {
    pub recurrence: Recurrence,
    pub dates: DateRange,
    /// `dates` written as lunar dates: the window every lunar year.
    pub lunar_dates: Option<LunarRange>,
    /// `on`: the only days it fires (None: every day the rule gives).
    pub on: Option<DayList>,
    /// Local dates (of the scheduled wall time) to skip.
    pub except: DayList,
}

impl Occurrences {
    /// Whenever `recurrence` gives: no `dates`, `on` or `except`.
    pub fn new(recurrence: Recurrence) -> Occurrences {
        Occurrences {
            recurrence,
            dates: DateRange::default(),
            lunar_dates: None,
            on: None,
            except: DayList::default(),
        }
    }

    /// Whether the rule has start times on local date `d`.
    pub fn fires_on(&self, d: NaiveDate) -> bool {
        self.gives(d) && !self.except.contains(d)
    }

    /// Whether the rule gives local date `d`, before `except` takes days.
    pub fn gives(&self, d: NaiveDate) -> bool {
        self.dates.contains(d)
            && self.recurrence.matches(d)
            && self.lunar_dates.is_none_or(|r| r.contains(d))
            && self.on.as_ref().is_none_or(|on| on.contains(d))
    }

    /// Whether the days follow the moon or the station's holidays, not
    /// only the weekday and solar calendar.
    pub fn follows_calendar(&self) -> bool {
        self.lunar_dates.is_some()
            || self.on.as_ref().is_some_and(|on| !on.is_dates_only())
            || !self.except.is_dates_only()
    }

    /// Scheduled start instants t with from <= t < to, ascending and without
    /// duplicates, in the station's zone `tz`.
    pub fn between(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Tz>> {
        let mut out = Vec::new();
        if from >= to {
            return out;
        }
        // A wall time may resolve up to a gap's length away from its date;
        // zone offsets change by less than a day, so one day either side
        // covers every wall time that can land in [from, to).
        let first = from.with_timezone(&tz).date_naive();
        let last = to.with_timezone(&tz).date_naive();
        let first = first.pred_opt().unwrap_or(first);
        let last = last.succ_opt().unwrap_or(last);
        for d in self.dates_within(first, last) {
            self.each_on(tz, d, |at| {
                if at >= from && at < to {
                    out.push(at);
                }
            });
        }
        // Spring-gap times resolve after earlier wall times and may meet a
        // real time (02:30 -> 03:30): sort, and fire each instant once.
        out.sort();
        out.dedup();
        out
    }

    /// The first scheduled start strictly after `after`, searching at most
    /// `horizon_days` local days ahead.
    pub fn next_after(
        &self,
        tz: Tz,
        after: DateTime<Utc>,
        horizon_days: u32,
    ) -> Option<DateTime<Tz>> {
        let today = after.with_timezone(&tz).date_naive();
        let first = today.pred_opt().unwrap_or(today);
        let last = today
            .checked_add_days(chrono::Days::new(horizon_days.into()))
            .unwrap_or(NaiveDate::MAX);
        let mut best: Option<(DateTime<Tz>, NaiveDate)> = None;
        for d in self.dates_within(first, last) {
            // A start found on day d could still be beaten by a gap time of
            // the next day; no later day can beat it.
            if best.is_some_and(|(_, found)| d > found.succ_opt().unwrap_or(found)) {
                break;
            }
            self.each_on(tz, d, |at| {
                if at > after && best.as_ref().is_none_or(|(b, _)| at < *b) {
                    best = Some((at, d));
                }
            });
        }
        best.map(|(at, _)| at)
    }

    /// True when the rule can never fire: no local date in its `dates`
    /// window, on its `on` days and outside `except`, matches its
    /// recurrence. A rule that follows the moon or the holidays is looked
    /// at day by day through the years the lunar calendar covers.
    ///
    /// `tz` does not change the answer: every local wall time resolves to
    /// some instant, so only the calendar matters.
    pub fn never_fires(&self, tz: Tz) -> bool {
        let _ = tz;
        let DateRange { from, until } = self.dates;
        if let Some(on) = self.on.as_ref().filter(|on| on.is_dates_only()) {
            // Finitely many days: try each.
            return !on.dates.iter().any(|d| self.fires_on(*d));
        }
        if self.follows_calendar() {
            // The moon and the days off repeat with no short period: look
            // day by day, through the years the lunar calendar covers.
            // Clamped to those years: a `dates.from` of year 0 would walk
            // 700,000 days that can match nothing.
            let first = NaiveDate::from_ymd_opt(*lunar::YEARS.start(), 1, 1).expect("valid date");
            let last = NaiveDate::from_ymd_opt(*lunar::YEARS.end(), 12, 31).expect("valid date");
            let start = from
                .unwrap_or(NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date"))
                .max(first);
            let end = until.unwrap_or(last).min(last);
            return !start
                .iter_days()
                .take_while(|d| *d <= end)
                .any(|d| self.fires_on(d));
        }
        match (from, until) {
            (Some(f), Some(u)) if f > u => true,
            (Some(f), Some(u)) => {
                // Bounded: `except` may cover every match, so honour it; stop
                // once a whole calendar period has passed without a match.
                let mut last_match = f;
                for d in f.iter_days().take_while(|d| *d <= u) {
                    if self.recurrence.matches(d) {
                        if !self.except.contains(d) {
                            return false;
                        }
                        last_match = d;
                    } else if (d - last_match).num_days() as u64 > CALENDAR_PERIOD_DAYS {
                        return true;
                    }
                }
                true
            }
            _ => {
                // Unbounded on one side: finitely many `except` dates cannot
                // cover infinitely many matches, so only the pattern counts,
                // and any one calendar period shows whether it ever matches.
                let start = from
                    .or_else(|| {
                        until.and_then(|u| {
                            u.checked_sub_days(chrono::Days::new(CALENDAR_PERIOD_DAYS))
                        })
                    })
                    .unwrap_or(NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date"));
                !start
                    .iter_days()
                    .take(CALENDAR_PERIOD_DAYS as usize + 1)
                    .any(|d| self.recurrence.matches(d))
            }
        }
    }

    /// The local dates in [first, last] that lie in `dates`.
    fn dates_within(&self, first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
        let first = self.dates.from.map_or(first, |f| f.max(first));
        let last = self.dates.until.map_or(last, |u| u.min(last));
        first.iter_days().take_while(move |d| *d <= last)
    }

    /// Calls `f` with each start scheduled on local date `d`, resolved.
    fn each_on(&self, tz: Tz, d: NaiveDate, mut f: impl FnMut(DateTime<Tz>)) {
        if !self.fires_on(d) {
            return;
        }
        let day = LocalDay::new(tz, d);
        self.recurrence.each_time(|t| f(day.resolve(d.and_time(t))));
    }
}

/// One local date's clock: most days have one UTC offset throughout, which
/// spares a zone lookup per wall time (a per-second cron rule has 86,400).
struct LocalDay {
    tz: Tz,
    offset: Option<TzOffset>,
}

impl LocalDay {
    fn new(tz: Tz, d: NaiveDate) -> LocalDay {
        let at = |t: NaiveTime| match tz.from_local_datetime(&d.and_time(t)) {
            LocalResult::Single(x) => Some(*x.offset()),
            _ => None,
        };
        let end = NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).expect("valid time");
        let offset = match (at(NaiveTime::MIN), at(end)) {
            (Some(a), Some(b)) if a.fix() == b.fix() => Some(a),
            _ => None,
        };
        LocalDay { tz, offset }
    }

    fn resolve(&self, local: NaiveDateTime) -> DateTime<Tz> {
        match &self.offset {
            Some(off) => {
                let utc = local - TimeDelta::seconds(off.fix().local_minus_utc().into());
                DateTime::from_naive_utc_and_offset(utc, *off)
            }
            None => resolve_local(self.tz, local),
        }
    }
}

/// Local wall time -> instant, Loa's DST rule: a time inside the
/// spring-forward gap moves forward by the gap (02:30 in a 02:00->03:00 gap
/// becomes 03:30 local); an ambiguous autumn time fires once, at its first
/// (earlier) instance.
/// A span as chrono counts it, saturating: a `Duration` past chrono's range
/// (no configured value comes near it) is the largest `TimeDelta`.
pub fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(a, b) => a.min(b),
        LocalResult::None => {
            // Moving forward by the gap is reading the wall time with the
            // offset in force before the gap. Step back to a wall time that
            // exists to learn that offset (gaps last at most a day).
            let before = (1..=4 * 48).find_map(|quarters| {
                match tz.from_local_datetime(&(local - TimeDelta::minutes(15 * quarters))) {
                    LocalResult::Single(t) => Some(t.offset().fix()),
                    LocalResult::Ambiguous(_, later) => Some(later.offset().fix()),
                    LocalResult::None => None,
                }
            });
            let offset = before.unwrap_or_else(|| tz.offset_from_utc_datetime(&local).fix());
            let utc = local - TimeDelta::seconds(offset.local_minus_utc().into());
            tz.from_utc_datetime(&utc)
        }
    }
}

/// A daily window like quiet hours "21:30-05:00" or slogans' between
/// "06:00-21:00"; it may cross midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailyWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl DailyWindow {
    /// Parses "HH:MM-HH:MM" (each side as [`parse_time_of_day`] reads it).
    pub fn parse(s: &str) -> Result<Self, String> {
        // Accept an en dash too: word processors put one between times.
        let Some((a, b)) = s.split_once('-').or_else(|| s.split_once('–')) else {
            return Err(format!(
                "`{}` is not a daily window; write START-END such as 21:30-05:00",
                s.trim()
            ));
        };
        let start = parse_time_of_day(a)?;
        let end = parse_time_of_day(b)?;
        if start == end {
            return Err(format!(
                "`{}` starts and ends at the same time; write START-END such as 21:30-05:00, or leave it out for all day",
                s.trim()
            ));
        }
        Ok(DailyWindow { start, end })
    }

    /// Whether wall time `t` lies in the window (start inclusive, end
    /// exclusive; a window crossing midnight wraps).
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// Parses a local time of day, 24-hour: "HH:MM" or "HH:MM:SS", and also
/// "H:MM" because operators write "6:00". Minutes and seconds take two
/// digits; 24:00 and leap seconds are refused.
pub fn parse_time_of_day(s: &str) -> Result<NaiveTime, String> {
    let text = s.trim();
    let bad =
        || format!("`{text}` is not a time of day; write HH:MM from 00:00 to 23:59 (or HH:MM:SS)");
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let number = |p: &str, widths: std::ops::RangeInclusive<usize>, max: u32| {
        if widths.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse::<u32>().ok().filter(|n| *n <= max)
        } else {
            None
        }
    };
    let h = number(parts[0], 1..=2, 23).ok_or_else(bad)?;
    let m = number(parts[1], 2..=2, 59).ok_or_else(bad)?;
    let sec = match parts.get(2) {
        Some(p) => number(p, 2..=2, 59).ok_or_else(bad)?,
        None => 0,
    };
    NaiveTime::from_hms_opt(h, m, sec).ok_or_else(bad)
}

#[cfg(test)]
mod tests;
