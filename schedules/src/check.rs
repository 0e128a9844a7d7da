//! Validation of a whole configuration directory, as `loa check` and every
//! load (start-up, reload) run it: the loader's per-file problems plus the
//! checks that need everything at once: duplicate ids, media files, quiet
//! hours, overlaps on an output, session length, relay coverage; and what
//! the calendar means for the coming year (the days programs that follow
//! it air and skip, the holidays whose days off are the law's).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc};

use crate::agenda::{self, Length, Lengths};
use crate::diag::{suggestion, Diagnostics};
use crate::load::{fmt_window, load_dir};
use crate::lunar;
use crate::model::*;
use crate::MediaProbe;

/// The outcome of checking a configuration directory.
pub struct Report {
    /// The configuration, when it has no errors.
    pub config: Option<Config>,
    pub diagnostics: Diagnostics,
    /// Per-program item lengths, as probed.
    pub lengths: Lengths,
    /// What the calendar means for the coming year (empty when invalid).
    pub calendar: CalendarReport,
}

/// Loads and checks `dir`. `today` (in the station's zone) anchors the
/// checks that look ahead (overlaps in the coming week): time is an input.
pub fn check_dir(dir: &Path, probe: &dyn MediaProbe, today: Option<NaiveDate>) -> Report {
    let probe = &ProbeOnce::new(probe);
    let loaded = load_dir(dir);
    let mut diags = loaded.diagnostics;
    let mut lengths = Lengths::new();
    let mut calendar = CalendarReport::default();
    let config = match loaded.config {
        Some(config) => {
            lengths = agenda::probe_lengths(&config, probe);
            media(&config, probe, &mut diags);
            voices(&config, probe, &mut diags);
            programs(&config, &lengths, &mut diags);
            relay_coverage(&config, &mut diags);
            let today = today.unwrap_or_else(|| {
                Utc::now()
                    .with_timezone(&config.station.timezone)
                    .date_naive()
            });
            // Overlaps need the agenda: only worth it (and only bounded) for a
            // configuration that is otherwise valid.
            if diags.is_valid() {
                overlaps(&config, &lengths, today, &mut diags);
                calendar = calendar_report(&config, today);
            }
            Some(config)
        }
        None => None,
    };
    diags.sort();
    Report {
        config: if diags.is_valid() { config } else { None },
        diagnostics: diags,
        lengths,
        calendar,
    }
}

/// Probes each media file once per check, although both the lengths and the
/// media warnings need it and several programs may name the same file.
struct ProbeOnce<'a> {
    probe: &'a dyn MediaProbe,
    seen: RefCell<HashMap<PathBuf, Result<Duration, String>>>,
}

impl<'a> ProbeOnce<'a> {
    fn new(probe: &'a dyn MediaProbe) -> Self {
        ProbeOnce {
            probe,
            seen: RefCell::default(),
        }
    }
}

impl MediaProbe for ProbeOnce<'_> {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        if let Some(known) = self.seen.borrow().get(path) {
            return known.clone();
        }
        let length = self.probe.length(path);
        self.seen
            .borrow_mut()
            .insert(path.to_path_buf(), length.clone());
        length
    }

    fn speech_length(&self, text: &str, voice: &loa_core::Voice) -> Result<Duration, String> {
        self.probe.speech_length(text, voice)
    }

    fn tts_voices(&self, command: &[String]) -> Result<Option<Vec<String>>, String> {
        self.probe.tts_voices(command)
    }
}

/// Missing media files are warnings: they are checked again at air time
/// (an operator may copy the recording in later today).
fn media(config: &Config, probe: &dyn MediaProbe, diags: &mut Diagnostics) {
    let media_dir = &config.station.paths.media;
    let rel = |p: &Path| p.strip_prefix(media_dir).unwrap_or(p).display().to_string();
    for p in &config.programs {
        for item in &p.items {
            let mut warn =
                |msg: String| diags.warning(item.loc.clone(), format!("program `{}`: {msg}", p.id));
            match &item.source {
                Source::File(f) => {
                    if let Err(e) = probe.length(f) {
                        warn(format!("{}: {e} (checked again at air time)", rel(f)));
                    }
                }
                Source::Newest { glob, .. } if loa_core::newest(glob).is_err() => {
                    warn(format!(
                        "no file matches `{}` yet in {} (checked again at air time)",
                        rel(Path::new(glob)),
                        media_dir.display()
                    ));
                }
                Source::Playlist { entries, .. } => {
                    let files = agenda::playlist_files(entries);
                    if files.is_empty() {
                        warn("the playlist matches no file yet".into());
                    }
                    for f in files {
                        if let Err(e) = probe.length(&f) {
                            warn(format!("{}: {e}", rel(&f)));
                        }
                    }
                }
                Source::Stream { fallback, .. } => {
                    for f in fallback {
                        if let Err(e) = probe.length(f) {
                            warn(format!("fallback {}: {e}", rel(f)));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Chime::File(f) = &config.station.policy.chime {
        if let Err(e) = probe.length(f) {
            diags.warning(
                first_loc(config),
                format!(
                    "policy.chime {}: {e}; the built-in chime plays instead",
                    f.display()
                ),
            );
        }
    }
}

/// Every voice the station and its TTS items name is one the engine has,
/// when the engine can be asked (espeak-ng): a voice it lacks would fail
/// every notice at air time.
fn voices(config: &Config, probe: &dyn MediaProbe, diags: &mut Diagnostics) {
    let tts = &config.station.tts;
    let mut named: Vec<(Loc, String, &str)> = vec![(
        tts.voice_at.clone().unwrap_or_else(|| first_loc(config)),
        "tts.voice".to_string(),
        tts.voice.as_str(),
    )];
    for p in &config.programs {
        for item in &p.items {
            if let Source::Tts {
                voice: loa_core::Voice { name: Some(v), .. },
                ..
            } = &item.source
            {
                named.push((item.loc.clone(), format!("program `{}`", p.id), v));
            }
        }
    }
    // A rate or pitch the command has no place for would change nothing.
    for (key, placeholder, flag) in [("rate", "{rate}", "-s"), ("pitch", "{pitch}", "-p")] {
        if tts.command.iter().any(|a| a.contains(placeholder)) {
            continue;
        }
        for p in &config.programs {
            for item in &p.items {
                if let Source::Tts { voice, .. } = &item.source {
                    let set = if key == "rate" {
                        voice.rate
                    } else {
                        voice.pitch
                    };
                    if set.is_some() {
                        diags.error(
                            item.loc.clone(),
                            format!(
                                "program `{}`: `{key}` has no effect: the tts command in station.yaml has no {placeholder}; add \"{flag}\", \"{placeholder}\" to it",
                                p.id
                            ),
                        );
                    }
                }
            }
        }
    }
    let program = tts.command.first().map_or("", String::as_str);
    let known = match probe.tts_voices(&tts.command) {
        Ok(Some(known)) => known,
        Ok(None) => return,
        Err(e) => {
            diags.warning(
                named[0].0.clone(),
                format!("{e}: the voices cannot be checked, and TTS items will fail at air time until it runs"),
            );
            return;
        }
    };
    for (loc, what, voice) in named {
        if let Some(why) = missing_voice(program, voice, &known) {
            diags.error(loc, format!("{what}: {why}"));
        }
    }
}

/// Why `voice` cannot be used with an engine (`program`) that lists
/// `known`: the voices of its language, and the closest name.
pub fn missing_voice(program: &str, voice: &str, known: &[String]) -> Option<String> {
    if loa_core::Voice::listed(voice, known) {
        return None;
    }
    let language = voice.split(['-', '+']).next().unwrap_or(voice);
    let kin: Vec<&str> = known
        .iter()
        .map(String::as_str)
        .filter(|k| k.split('-').next() == Some(language))
        .collect();
    let has = if kin.is_empty() {
        format!("`{program} --voices` lists the voices it has")
    } else {
        format!("it has {}", kin.join(", "))
    };
    Some(format!(
        "{program} has no voice `{voice}`{} ({has})",
        suggestion(voice, known.iter().map(String::as_str))
    ))
}

fn first_loc(config: &Config) -> Loc {
    config
        .station
        .outputs
        .first()
        .map(|o| Loc {
            file: o.loc.file.clone(),
            pos: crate::yaml::Pos { line: 1, column: 1 },
        })
        .unwrap_or(Loc {
            file: "station.yaml".into(),
            pos: crate::yaml::Pos { line: 1, column: 1 },
        })
}

/// Per program: unknown end, session length, quiet hours by cron.
fn programs(config: &Config, lengths: &Lengths, diags: &mut Diagnostics) {
    let policy = &config.station.policy;
    let tz = config.station.timezone;
    for p in &config.programs {
        let len = lengths.get(&p.id);
        let span = match (p.duration, len) {
            (Some(d), _) => Some(d),
            (None, Some(Length::Known(d))) => Some(*d),
            _ => None,
        };
        if p.duration.is_none() {
            if let Some(Length::Unknown(why)) = len {
                diags.warning(
                    p.loc.clone(),
                    format!("program `{}`: its end is unknown ({why}); give it a `duration` or fix the media", p.id),
                );
            }
        }
        if let (Some(max), Some(span)) = (policy.max_session, span) {
            if span > max {
                diags.warning(
                    p.loc.clone(),
                    format!(
                        "program `{}` runs {}, longer than policy.max_session {}",
                        p.id,
                        format_duration(span),
                        format_duration(max)
                    ),
                );
            }
        }
        // Cron programs: every matching day has the same times, so one day's
        // starts tell how often it fires and whether it starts in quiet hours.
        if let Recurrence::Cron(rule) = &p.occurs.recurrence {
            let day = first_day_starts(p, tz);
            if day.len() > 1440 {
                diags.error(
                    p.loc.clone(),
                    format!(
                        "program `{}`: cron `{}` starts {} times a day; a broadcast program needs at least a minute between starts (the first field is seconds: `0 * * * * *` is every minute)",
                        p.id,
                        rule.source(),
                        day.len()
                    ),
                );
                continue;
            }
            if let (Some(q), true) = (policy.quiet_hours, p.priority < Priority::Emergency) {
                if let Some(t) = day.iter().find(|t| q.contains(t.time())) {
                    diags.error(
                        p.loc.clone(),
                        format!(
                            "program `{}` (cron `{}`) starts at {} inside quiet hours {}; only emergency may sound then",
                            p.id,
                            rule.source(),
                            t.format("%H:%M"),
                            fmt_window(&q)
                        ),
                    );
                    continue;
                }
            }
        }
        let Some(q) = policy.quiet_hours else {
            continue;
        };
        if p.priority == Priority::Emergency {
            continue;
        }
        // Running into quiet hours: cut when they start.
        if let (Recurrence::Daily { at, .. }, Some(span)) = (&p.occurs.recurrence, span) {
            let start = NaiveDate::default().and_time(*at);
            let end = start + TimeDelta::from_std(span).unwrap_or(TimeDelta::MAX);
            let qs = NaiveDate::default().and_time(q.start);
            let qs = if qs <= start {
                qs + TimeDelta::days(1)
            } else {
                qs
            };
            if qs < end {
                diags.warning(
                    p.loc.clone(),
                    format!(
                        "program `{}` runs into quiet hours {} and will be cut at {}",
                        p.id,
                        fmt_window(&q),
                        q.start.format("%H:%M")
                    ),
                );
            }
        }
    }
}

/// Zones without a relay hear everything on their output, also what targets
/// the other zones there. A custom relay without `renew` has no dead-man
/// switch: after a crash its amplifier stays on until someone goes there.
fn relay_coverage(config: &Config, diags: &mut Diagnostics) {
    for z in &config.station.zones {
        if let Some(Relay {
            device: RelayDevice::Custom { renew: None, .. },
            ..
        }) = &z.relay
        {
            diags.warning(
                z.loc.clone(),
                format!(
                    "zone `{}`: its custom relay has no `renew` message, so nothing switches its amplifier off if Loa dies (crash, power cut of the PC); program the device to switch off unless renewed and give `renew: {{topic, payload}}`",
                    z.id
                ),
            );
        }
    }
    for o in &config.station.outputs {
        let zones: Vec<&Zone> = config
            .station
            .zones
            .iter()
            .filter(|z| z.output == o.name)
            .collect();
        if zones.iter().any(|z| z.relay.is_some()) {
            for z in zones.iter().filter(|z| z.relay.is_none()) {
                diags.warning(
                    z.loc.clone(),
                    format!(
                        "zone `{}` has no relay but shares output `{}` with zones that have one: it hears everything on that output",
                        z.id, o.name
                    ),
                );
            }
        }
    }
}

/// Equal-priority programs that overlap on an output in the coming week.
fn overlaps(config: &Config, lengths: &Lengths, today: NaiveDate, diags: &mut Diagnostics) {
    let tz = config.station.timezone;
    let from = crate::occurrence::resolve_local(tz, today.and_hms_opt(0, 0, 0).unwrap_or_default())
        .with_timezone(&Utc);
    let to = from + TimeDelta::days(7);
    let entries = agenda::agenda(config, lengths, from, to);
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    // Spans as planned (before any waiting), per program occurrence.
    let spans: Vec<(
        usize,
        chrono::DateTime<chrono_tz::Tz>,
        chrono::DateTime<chrono_tz::Tz>,
    )> = entries
        .iter()
        .filter_map(|e| {
            let p = &config.programs[e.program];
            let len = match (p.duration, lengths.get(&p.id)) {
                (Some(d), _) => d,
                (None, Some(Length::Known(d))) => *d,
                _ => return None,
            };
            Some((
                e.program,
                e.scheduled,
                e.scheduled + TimeDelta::from_std(len).unwrap_or(TimeDelta::MAX),
            ))
        })
        .collect();
    for (i, &(a, sa, ea)) in spans.iter().enumerate() {
        for &(b, sb, eb) in &spans[i + 1..] {
            if sb >= ea {
                break; // sorted by start: nothing later overlaps `a`
            }
            if a == b || sa >= eb {
                continue;
            }
            let (pa, pb) = (&config.programs[a], &config.programs[b]);
            if pa.priority != pb.priority {
                continue;
            }
            let oa = config.station.outputs_of(&pa.zones);
            let shared: Vec<&str> = config
                .station
                .outputs_of(&pb.zones)
                .into_iter()
                .filter(|o| oa.contains(o))
                .collect();
            if shared.is_empty() {
                continue;
            }
            let (first, later) = if (sa, a) <= (sb, b) { (a, b) } else { (b, a) };
            if !reported.insert((first, later)) {
                continue;
            }
            let (pf, pl) = (&config.programs[first], &config.programs[later]);
            let what_happens = match pl.if_busy {
                IfBusy::Preempt => "it will preempt it (if_busy: preempt)".to_string(),
                IfBusy::Skip => "it will be skipped (if_busy: skip)".to_string(),
                IfBusy::Wait(d) => format!("it will wait up to {} (if_busy)", format_duration(d)),
            };
            let when = if sa <= sb { sb } else { sa };
            diags.warning(
                pl.loc.clone(),
                format!(
                    "program `{}` overlaps `{}` ({}, same priority {}, output {}) on {}; {what_happens}",
                    pl.id,
                    pf.id,
                    pf.title,
                    pl.priority,
                    shared.join(","),
                    when.format("%a %Y-%m-%d %H:%M")
                ),
            );
        }
    }
}

/// The days `loa check` looks ahead for the calendar: a year.
const CALENDAR_AHEAD_DAYS: u64 = 365;

/// What the calendar means for the coming year, for `loa check`: the days
/// each program that follows it (`on`, lunar dates, holidays) airs or
/// skips, and the holidays whose days off the station has not written.
#[derive(Clone, Debug, Default)]
pub struct CalendarReport {
    /// From `today`, for [`CALENDAR_AHEAD_DAYS`].
    pub from: Option<NaiveDate>,
    pub programs: Vec<CalendarDays>,
    /// The days off of holidays the programs name, as Loa will take them.
    pub days_off: Vec<HolidayDaysOff>,
}

/// One program's days in the coming year.
#[derive(Clone, Debug)]
pub struct CalendarDays {
    pub program: String,
    pub loc: Loc,
    /// The days it airs, with `on` or lunar `dates` (else every day but
    /// the skipped ones, not listed).
    pub airs: Option<Vec<NaiveDate>>,
    /// The days its rule gives that `except` takes away for a holiday or a
    /// lunar date.
    pub skips: Vec<NaiveDate>,
    /// When it airs on no day of the year: its next day, if any.
    pub next: Option<NaiveDate>,
}

#[derive(Clone, Debug)]
pub struct HolidayDaysOff {
    pub holiday: Holiday,
    pub year: i32,
    pub days: DaysOff,
    /// Written in station.yaml; else the law's.
    pub announced: bool,
}

fn calendar_report(config: &Config, today: NaiveDate) -> CalendarReport {
    let last = today + chrono::Days::new(CALENDAR_AHEAD_DAYS - 1);
    let year: Vec<NaiveDate> = today.iter_days().take_while(|d| *d <= last).collect();
    let calendar = &config.station.calendar;
    let mut named = BTreeSet::new();
    let mut programs = Vec::new();
    for p in &config.programs {
        let o = &p.occurs;
        if !o.follows_calendar() {
            continue;
        }
        for list in o.on.iter().chain([&o.except]) {
            named.extend(list.holidays.iter().copied());
        }
        let restricted = o.on.is_some() || o.lunar_dates.is_some();
        let airs: Vec<NaiveDate> = year.iter().copied().filter(|d| o.fires_on(*d)).collect();
        // Days the rule gives that `except` takes for the calendar's sake
        // (its plain dates are the operator's own list).
        let skips = year
            .iter()
            .copied()
            .filter(|d| o.gives(*d) && !o.except.dates.contains(d) && o.except.contains(*d))
            .collect();
        let next = if airs.is_empty() {
            last.iter_days()
                .skip(1)
                .take_while(|d| lunar::YEARS.contains(&d.year()))
                .find(|d| o.fires_on(*d))
        } else {
            None
        };
        programs.push(CalendarDays {
            program: p.id.clone(),
            loc: p.loc.clone(),
            airs: restricted.then_some(airs),
            skips,
            next,
        });
    }
    let mut days_off = Vec::new();
    for h in named {
        for y in today.year()..=last.year() + 1 {
            if let Some(days) = calendar.days_off(h, y) {
                if days.until >= today && days.from <= last {
                    days_off.push(HolidayDaysOff {
                        holiday: h,
                        year: y,
                        days,
                        announced: calendar.announced(h, y),
                    });
                }
            }
        }
    }
    days_off.sort_by_key(|d| d.days.from);
    CalendarReport {
        from: Some(today),
        programs,
        days_off,
    }
}

impl CalendarReport {
    /// One line each, as `loa check` prints them after the diagnostics:
    /// runs of days with what they are (`2027-02-04 to 2027-02-10 (Tết
    /// Nguyên Đán)`), and a note for each holiday whose days off Loa takes
    /// from the law because station.yaml does not name them.
    pub fn lines(&self, calendar: &Calendar) -> Vec<String> {
        let Some(from) = self.from else {
            return Vec::new();
        };
        let until = from + chrono::Days::new(CALENDAR_AHEAD_DAYS - 1);
        let mut out = Vec::new();
        for p in &self.programs {
            if let Some(airs) = &p.airs {
                let what = if airs.is_empty() {
                    match p.next {
                        Some(n) => format!(
                            "airs on no day from {from} to {until}; next on {n} ({})",
                            calendar.describe(n)
                        ),
                        None => format!("airs on no day from {from} to {until}, nor later"),
                    }
                } else {
                    format!("airs {}", runs(airs, calendar))
                };
                out.push(format!(
                    "calendar: {}: program `{}` {what}",
                    p.loc, p.program
                ));
            }
            if !p.skips.is_empty() {
                out.push(format!(
                    "calendar: {}: program `{}` skips {}",
                    p.loc,
                    p.program,
                    runs(&p.skips, calendar)
                ));
            }
        }
        // Only Tết's days and Quốc khánh's second day are the government's
        // to choose each year; the others are their fixed day.
        let chosen = |d: &&HolidayDaysOff| {
            !d.announced
                && d.holiday
                    .default_days(d.year)
                    .is_some_and(|off| off.days() > 1)
        };
        for d in self.days_off.iter().filter(chosen) {
            out.push(format!(
                "calendar: {} {}: Loa takes {} (the law's days off) until station.yaml names the announced days under calendar.days_off.{}.{}",
                d.holiday.name(),
                d.year,
                d.days,
                d.holiday.id(),
                d.year,
            ));
        }
        out
    }

    /// The shape of `loa check --format json`'s `calendar`.
    pub fn to_json(&self) -> serde_json::Value {
        let dates = |v: &[NaiveDate]| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        serde_json::json!({
            "from": self.from.map(|d| d.to_string()),
            "programs": self.programs.iter().map(|p| serde_json::json!({
                "program": p.program,
                "airs": p.airs.as_deref().map(dates),
                "skips": dates(&p.skips),
                "next": p.next.map(|d| d.to_string()),
            })).collect::<Vec<_>>(),
            "days_off": self.days_off.iter().map(|d| serde_json::json!({
                "holiday": d.holiday.id(),
                "year": d.year,
                "from": d.days.from.to_string(),
                "until": d.days.until.to_string(),
                "announced": d.announced,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Days as runs of consecutive ones, each with what it is: "2027-01-01
/// (Tết Dương lịch); 2027-02-04 to 2027-02-10 (Tết Nguyên Đán); 2027-09-15
/// (âm lịch 15/8 Đinh Mùi)"; a run keeps to one holiday's days. At most 12
/// runs, then how many more days.
fn runs(days: &[NaiveDate], calendar: &Calendar) -> String {
    const SHOWN: usize = 12;
    let mut groups: Vec<(NaiveDate, NaiveDate, Vec<Holiday>)> = Vec::new();
    for &d in days {
        let holidays = calendar.holidays_on(d);
        match groups.last_mut() {
            Some((_, end, hs)) if end.succ_opt() == Some(d) && *hs == holidays => *end = d,
            _ => groups.push((d, d, holidays)),
        }
    }
    let lunar = |d: NaiveDate| match LunarDate::from_solar(d) {
        Some(l) => format!("{l} {}", LunarDate::year_name(l.year)),
        None => String::new(),
    };
    let mut parts: Vec<String> = groups
        .iter()
        .take(SHOWN)
        .map(|(first, last, holidays)| {
            let label = if !holidays.is_empty() {
                holidays
                    .iter()
                    .map(|h| h.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            } else if first == last {
                format!("âm lịch {}", lunar(*first))
            } else {
                format!("âm lịch {} to {}", lunar(*first), lunar(*last))
            };
            if first == last {
                format!("{first} ({label})")
            } else {
                format!("{first} to {last} ({label})")
            }
        })
        .collect();
    if groups.len() > SHOWN {
        let more: i64 = groups[SHOWN..]
            .iter()
            .map(|(a, b, _)| (*b - *a).num_days() + 1)
            .sum();
        parts.push(format!("and {more} more days"));
    }
    parts.join("; ")
}

/// The starts of a program on the first local day it fires (from its
/// `dates.from`, or 2026-01-01).
fn first_day_starts(p: &Program, tz: chrono_tz::Tz) -> Vec<chrono::DateTime<chrono_tz::Tz>> {
    let anchor = p
        .occurs
        .dates
        .from
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date"));
    let midnight = |d: NaiveDate| {
        crate::occurrence::resolve_local(tz, d.and_time(chrono::NaiveTime::MIN)).with_timezone(&Utc)
    };
    let Some(first) = p
        .occurs
        .next_after(tz, midnight(anchor) - TimeDelta::seconds(1), 3000)
    else {
        return Vec::new();
    };
    let day = first.date_naive();
    p.occurs
        .between(tz, midnight(day), midnight(day + TimeDelta::days(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the probes of each path.
    struct Counting(RefCell<HashMap<PathBuf, usize>>);

    impl MediaProbe for Counting {
        fn length(&self, path: &Path) -> Result<Duration, String> {
            *self.0.borrow_mut().entry(path.to_path_buf()).or_default() += 1;
            Ok(Duration::from_secs(60))
        }
    }

    #[test]
    fn each_media_file_is_probed_once_per_check() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/au-lau");
        let probe = Counting(RefCell::default());
        let report = check_dir(&dir, &probe, NaiveDate::from_ymd_opt(2026, 11, 23));
        assert!(
            report.diagnostics.is_valid(),
            "{:?}",
            report.diagnostics.errors
        );
        let counts = probe.0.into_inner();
        assert!(counts.keys().any(|p| p.ends_with("ident/nhac-hieu.mp3")));
        let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
        assert!(twice.is_empty(), "probed more than once: {twice:?}");
    }
}
