//! What will air when: every occurrence in a period, after SPEC section 4's
//! rules: priorities per output (zones that share an output share its audio),
//! `if_busy`, hard ends and quiet hours.
//!
//! This is a plan, computed from the schedule and the media lengths alone:
//! the period run through `timeline`, a model of the daemon's scheduler
//! and decks that applies [`crate::rules`] as they do, event by event, and
//! each occurrence's fate told as a forecast with its reason. The daemon's
//! differential test checks it against `loa simulate`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::model::*;
use crate::occurrence::delta;
use crate::rules::EndCause;
use crate::MediaProbe;

mod timeline;
use timeline::{Ending, Fate, Model, Occurrence, Piece, Skip};

/// How long a program's items play, when it can be known.
#[derive(Clone, Debug, PartialEq)]
pub enum Length {
    Known(Duration),
    /// Why not: a missing file, an unrendered TTS text...
    Unknown(String),
    /// Streams, live input and loops: as long as the window.
    Endless,
}

/// The files a playlist names (a glob expanded, sorted by name).
pub fn playlist_files(entries: &PlaylistEntries) -> Vec<std::path::PathBuf> {
    match entries {
        PlaylistEntries::Files(f) => f.clone(),
        PlaylistEntries::Glob(g) => {
            let mut v: Vec<_> = glob::glob(g)
                .map(|it| it.filter_map(Result::ok).filter(|p| p.is_file()).collect())
                .unwrap_or_default();
            v.sort();
            v
        }
    }
}

fn file_length(path: &Path, probe: &dyn MediaProbe) -> Length {
    match probe.length(path) {
        Ok(d) => Length::Known(d),
        Err(e) => Length::Unknown(e),
    }
}

pub fn item_length(source: &Source, probe: &dyn MediaProbe) -> Length {
    match source {
        Source::File(p) => file_length(p, probe),
        Source::Newest { glob, .. } => match loa_core::newest(glob) {
            Ok((p, _)) => file_length(&p, probe),
            Err(why) => Length::Unknown(why),
        },
        Source::Playlist { entries, .. } => {
            let files = playlist_files(entries);
            if files.is_empty() {
                return Length::Unknown("the playlist matches no file".into());
            }
            let mut total = Duration::ZERO;
            for f in files {
                match file_length(&f, probe) {
                    Length::Known(d) => total += d,
                    other => return other,
                }
            }
            Length::Known(total)
        }
        Source::Tts { text, voice } => match probe.speech_length(text, voice) {
            Ok(d) => Length::Known(d),
            Err(e) => Length::Unknown(e),
        },
        Source::Stream { .. } | Source::Live { .. } => Length::Endless,
        Source::Silence(d) => Length::Known(*d),
        Source::Tone { length, .. } => Length::Known(*length),
    }
}

/// What the agenda expects of one occurrence: a forecast in its own words
/// (`airs`, `delayed`...), not one of the airtime log's outcomes
/// (`loa_core::Outcome`), which say what did air.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forecast {
    Airs,
    Preempted,
    Cut,
    Delayed,
    Skipped,
}

impl Forecast {
    pub fn as_str(self) -> &'static str {
        match self {
            Forecast::Airs => "airs",
            Forecast::Preempted => "preempted",
            Forecast::Cut => "cut",
            Forecast::Delayed => "delayed",
            Forecast::Skipped => "skipped",
        }
    }
}

/// One line of the agenda.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Index into `Config::programs`.
    pub program: usize,
    pub scheduled: DateTime<Tz>,
    /// When audio starts (later than `scheduled` when it waited).
    pub start: DateTime<Tz>,
    /// When it stops sounding on its first output (for one preempted and
    /// not resumed, when it was paused); None when unknown.
    pub end: Option<DateTime<Tz>>,
    pub forecast: Forecast,
    pub reason: Option<String>,
}

impl Entry {
    /// The shape of `loa agenda --format json`.
    pub fn to_json(&self, config: &Config) -> serde_json::Value {
        let p = &config.programs[self.program];
        let day = self.scheduled.date_naive();
        let holidays: Vec<&str> = config
            .station
            .calendar
            .holidays_on(day)
            .into_iter()
            .map(Holiday::id)
            .collect();
        serde_json::json!({
            "program": p.id,
            "title": p.title,
            "category": p.category,
            "start": self.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            "end": self.end.map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
            "zones": p.zones,
            "priority": p.priority.as_str(),
            "outcome": self.forecast.as_str(),
            "reason": self.reason,
            "lunar": LunarDate::from_solar(day).map(|l| l.to_string()),
            "holidays": holidays,
        })
    }
}

/// Lengths probed once for a whole agenda: each program's, and each of its
/// items' (the agenda's model plays them one after another).
#[derive(Clone, Debug, Default)]
pub struct Lengths {
    programs: HashMap<String, Length>,
    items: HashMap<String, Vec<Length>>,
}

impl Lengths {
    pub fn new() -> Lengths {
        Lengths::default()
    }

    /// How long a program's items play, when known.
    pub fn get(&self, program: &str) -> Option<&Length> {
        self.programs.get(program)
    }

    /// Each item's length, in order.
    pub fn items(&self, program: &str) -> Option<&[Length]> {
        self.items.get(program).map(Vec::as_slice)
    }
}

pub fn probe_lengths(config: &Config, probe: &dyn MediaProbe) -> Lengths {
    let mut lengths = Lengths::new();
    for p in &config.programs {
        let items: Vec<Length> = p
            .items
            .iter()
            .map(|i| item_length(&i.source, probe))
            .collect();
        // The sum, or the first item that keeps it from being known.
        let total = if p.looped {
            Length::Endless
        } else {
            items
                .iter()
                .try_fold(Duration::ZERO, |t, l| match l {
                    Length::Known(d) => Ok(t + *d),
                    other => Err(other.clone()),
                })
                .map_or_else(|first| first, Length::Known)
        };
        lengths.programs.insert(p.id.clone(), total);
        lengths.items.insert(p.id.clone(), items);
    }
    lengths
}

/// "06:30", or "06:30:26" when not on the minute.
fn hm(t: &DateTime<Tz>) -> String {
    // Hot in year-long agendas: chrono's format() parses its pattern each call.
    use chrono::Timelike;
    match t.second() {
        0 => format!("{:02}:{:02}", t.hour(), t.minute()),
        s => format!("{:02}:{:02}:{s:02}", t.hour(), t.minute()),
    }
}

/// The agenda for occurrences starting in [from, to), in start order: the
/// period run through the model of the scheduler and its decks
/// (`timeline`), each occurrence's fate told as a forecast.
pub fn agenda(
    config: &Config,
    lengths: &Lengths,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Entry> {
    let tz = config.station.timezone;
    let st = &config.station;
    // Programs that started before `from` may still hold an output at `from`.
    let lookback = config
        .programs
        .iter()
        .filter_map(|p| p.duration)
        .max()
        .unwrap_or(Duration::from_secs(3600))
        .max(Duration::from_secs(6 * 3600));
    let early = from - delta(lookback);

    let output_index: HashMap<&str, usize> = st
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name.as_str(), i))
        .collect();

    let mut occurrences: Vec<Occurrence> = Vec::new();
    for (pi, p) in config.programs.iter().enumerate() {
        let outputs: Vec<usize> = st
            .outputs_of(&p.zones)
            .into_iter()
            .filter_map(|o| output_index.get(o).copied())
            .collect();
        // Endless items hold their outputs until their window closes. One
        // of unknown length (a TTS text not yet rendered, a missing file)
        // too when it has a window; without one it is told `end unknown`
        // and holds nothing (a missing file fails at once on the air). A
        // loop is one endless item.
        let piece = |l: Option<&Length>, endless: bool| Piece {
            length: match l {
                Some(Length::Known(d)) => Some(*d),
                Some(Length::Unknown(_)) | None if p.duration.is_none() => Some(Duration::ZERO),
                _ => None,
            },
            endless,
        };
        let items: Vec<Piece> = match lengths.items(&p.id) {
            _ if p.looped => vec![piece(Some(&Length::Endless), true)],
            Some(ls) if ls.len() == p.items.len() && !ls.is_empty() => ls
                .iter()
                .zip(&p.items)
                .map(|(l, i)| piece(Some(l), i.source.is_endless()))
                .collect(),
            _ => vec![piece(lengths.get(&p.id), false)],
        };
        for t in p.occurs.between(tz, early, to) {
            occurrences.push(Occurrence {
                scheduled: t,
                program: pi,
                priority: p.priority,
                if_busy: p.if_busy,
                window: p.duration,
                outputs: outputs.clone(),
                items: items.clone(),
            });
        }
    }
    let fates = Model::run(st, &occurrences);

    let from_tz = from.with_timezone(&tz);
    let to_tz = to.with_timezone(&tz);
    let tell = Teller {
        config,
        lengths,
        occ: &occurrences,
        fates: &fates,
    };
    let mut out: Vec<Entry> = (0..occurrences.len())
        .filter(|&i| {
            let t = occurrences[i].scheduled;
            t >= from_tz && t < to_tz
        })
        .map(|i| tell.entry(i))
        .collect();
    out.sort_by(|a, b| {
        a.scheduled
            .cmp(&b.scheduled)
            .then(a.program.cmp(&b.program))
    });
    out
}

/// Tells each occurrence's fate in the agenda's words.
struct Teller<'a> {
    config: &'a Config,
    lengths: &'a Lengths,
    occ: &'a [Occurrence],
    fates: &'a [Fate],
}

impl Teller<'_> {
    fn program(&self, slot: usize) -> &Program {
        &self.config.programs[self.occ[slot].program]
    }

    /// "Title (level)".
    fn who(&self, slot: usize) -> String {
        let p = self.program(slot);
        format!("{} ({})", p.title, p.priority)
    }

    /// When an occurrence stops sounding on its primary, if it does.
    fn end_of(&self, slot: usize) -> Option<DateTime<Tz>> {
        let f = &self.fates[slot];
        match f.ended {
            Some((_, Ending::Preempted)) => f.pauses.last().map(|p| p.from),
            Some((at, _)) => Some(at),
            None => None,
        }
    }

    /// "X (level) airs until HH:MM, past its wait": why an occurrence that
    /// waited for `holder` never aired.
    fn past_wait(&self, holder: Option<usize>) -> String {
        let Some(h) = holder else {
            return "its output was held past its wait".into();
        };
        match self.end_of(h) {
            Some(e) => format!("{} airs until {}, past its wait", self.who(h), hm(&e)),
            None => format!("{} airs with no known end", self.who(h)),
        }
    }

    fn entry(&self, slot: usize) -> Entry {
        let o = &self.occ[slot];
        let f = &self.fates[slot];
        let p = self.program(slot);
        // A skipped occurrence shows the time it would have had.
        let length = o
            .items
            .iter()
            .try_fold(Duration::ZERO, |t, i| Some(t + i.length?));
        let planned_end = match (length, o.window) {
            (Some(l), Some(w)) => Some(o.scheduled + delta(l.min(w))),
            (Some(l), None) => Some(o.scheduled + delta(l)),
            (None, w) => w.map(|w| o.scheduled + delta(w)),
        };
        let skipped = |reason: String| Entry {
            program: o.program,
            scheduled: o.scheduled,
            start: o.scheduled,
            end: planned_end,
            forecast: Forecast::Skipped,
            reason: Some(reason),
        };
        match &f.skip {
            Some(Skip::Quiet(q)) => {
                return skipped(format!("quiet hours {}", crate::load::fmt_window(q)))
            }
            Some(Skip::Busy(b)) => {
                // The equal one may itself be waiting beneath a higher item.
                let airs = self.fates[*b].started.is_some_and(|s| s <= o.scheduled);
                return skipped(format!(
                    "busy: {} {} (if_busy: skip)",
                    self.program(*b).title,
                    if airs {
                        "airs"
                    } else {
                        "waits for the output too"
                    }
                ));
            }
            Some(Skip::Waited(b)) => return skipped(self.past_wait(Some(*b))),
            None => {}
        }
        // Started, then held beneath another at that very instant until it
        // ended: nothing aired (an item of no length aside).
        let aired_nothing =
            f.aired.is_zero() && f.ended.is_some() && length != Some(Duration::ZERO);
        let Some(start) = f.started.filter(|_| !aired_nothing) else {
            let holder = f
                .gave_up_to
                .or(f.held_by)
                .or(f.pauses.first().map(|p| p.by));
            return skipped(self.past_wait(holder));
        };
        let mut reasons: Vec<String> = Vec::new();
        if start > o.scheduled {
            reasons.push(match f.held_by {
                Some(h) => format!("waits for {} until {}", self.who(h), hm(&start)),
                None => format!("starts at {}", hm(&start)),
            });
        }
        let not_resumed = matches!(f.ended, Some((_, Ending::Preempted)));
        for (k, pause) in f.pauses.iter().enumerate() {
            let Some(to) = pause.to.or(f.ended.map(|e| e.0)) else {
                continue;
            };
            if to <= pause.from {
                continue;
            }
            let mut r = format!(
                "preempted by {} {}-{}",
                self.who(pause.by),
                hm(&pause.from),
                hm(&to)
            );
            let last = k + 1 == f.pauses.len();
            r.push_str(if last && not_resumed {
                match f.hard_end {
                    Some((_, EndCause::QuietHours(_))) => ", not resumed: quiet hours start",
                    _ => ", not resumed: its window closes",
                }
            } else {
                ", resumes after"
            });
            let silenced = self.silenced(slot, pause.by);
            if !silenced.is_empty() {
                r.push_str(&format!("; zones {} off meanwhile", silenced.join(",")));
            }
            reasons.push(r);
        }
        let paused = reasons.iter().any(|r| r.starts_with("preempted by"));
        // A relay or an item of unknown length plays until its window
        // closes: that is its length, not a cut.
        let fills_window = length.is_none()
            && o.window
                .is_some_and(|w| f.ended.is_some_and(|(at, _)| at == o.scheduled + delta(w)));
        let forecast = match f.ended {
            Some((_, Ending::Preempted)) => Forecast::Preempted,
            _ if paused => Forecast::Preempted,
            Some((at, Ending::Cut)) if !fills_window => {
                reasons.push(match f.hard_end {
                    Some((_, EndCause::QuietHours(_))) => {
                        format!("quiet hours start at {}", hm(&at))
                    }
                    _ => format!("window closes at {}, before its items end", hm(&at)),
                });
                Forecast::Cut
            }
            _ if start > o.scheduled => Forecast::Delayed,
            _ => Forecast::Airs,
        };
        let mut end = self.end_of(slot);
        if let Some(Length::Unknown(why)) = self.lengths.get(&p.id) {
            reasons.push(format!("end unknown: {why}"));
            if o.window.is_none() {
                end = None;
            }
        }
        Entry {
            program: o.program,
            scheduled: o.scheduled,
            start,
            end,
            forecast,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        }
    }

    /// The zones of `slot` that go quiet while `by` holds their output:
    /// on an output `by` takes, and not among `by`'s own zones.
    fn silenced(&self, slot: usize, by: usize) -> Vec<&str> {
        let st = &self.config.station;
        let mine = self.program(slot);
        let theirs = self.program(by);
        let taken: Vec<&str> = self.occ[by]
            .outputs
            .iter()
            .map(|&o| st.outputs[o].name.as_str())
            .collect();
        mine.zones
            .iter()
            .filter(|z| !theirs.zones.contains(z))
            .filter(|z| {
                st.zone(z)
                    .is_some_and(|z| taken.contains(&z.output.as_str()))
            })
            .map(String::as_str)
            .collect()
    }
}

/// A readable table of the agenda for the operator.
pub fn format_text(config: &Config, entries: &[Entry]) -> String {
    let mut out = String::new();
    let mut last_day = None;
    for e in entries {
        let p = &config.programs[e.program];
        let day = e.scheduled.date_naive();
        if last_day != Some(day) {
            if last_day.is_some() {
                out.push('\n');
            }
            out.push_str(&e.scheduled.format("%A %Y-%m-%d").to_string());
            // The lunar date and the holidays: what a commune's plan follows.
            let calendar = config.station.calendar.describe(day);
            if !calendar.is_empty() {
                out.push_str(&format!(" ({calendar})"));
            }
            out.push('\n');
            last_day = Some(day);
        }
        let end = e.end.map(|t| hm(&t)).unwrap_or_else(|| "  ?  ".into());
        let zones = if p.zones.len() == config.station.zones.len() {
            "all".to_string()
        } else {
            p.zones.join(",")
        };
        out.push_str(&format!(
            "  {}-{}  {:<9} {:<9} {:<40} {}",
            hm(&e.start),
            end,
            e.forecast.as_str(),
            p.priority.as_str(),
            truncate(&p.title, 40),
            zones
        ));
        if let Some(r) = &e.reason {
            out.push_str(&format!("\n{:>16}{r}", ""));
        }
        out.push('\n');
    }
    if entries.is_empty() {
        out.push_str("nothing is scheduled in this period\n");
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
