//! What will air when: every occurrence in a period, after SPEC section 4's
//! rules: priorities per output (zones that share an output share its audio),
//! `if_busy`, hard ends and quiet hours.
//!
//! This is a plan, computed from the schedule and the media lengths alone.
//! The rules themselves are [`crate::rules`], which the daemon's scheduler
//! and its simulated decks apply live: what this module adds is the
//! timeline (who holds which output until when).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::model::*;
use crate::occurrence::delta;
use crate::rules::{self, EndCause, Meeting};
use crate::MediaProbe;

/// How long a program's items play, when it can be known.
#[derive(Clone, Debug, PartialEq)]
pub enum Length {
    Known(Duration),
    /// Why not: a missing file, an unrendered TTS text...
    Unknown(String),
    /// Streams, live input and loops: as long as the window.
    Endless,
}

/// Probes every item of a program and adds the lengths.
pub fn program_length(p: &Program, probe: &dyn MediaProbe) -> Length {
    if p.looped {
        return Length::Endless;
    }
    let mut total = Duration::ZERO;
    for item in &p.items {
        match item_length(&item.source, probe) {
            Length::Known(d) => total += d,
            other => return other,
        }
    }
    Length::Known(total)
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
        Source::Tts { text, voice } => match probe.speech_length(text, voice.as_deref()) {
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
    /// The earlier of the window's end and the items' end; None when unknown.
    pub end: Option<DateTime<Tz>>,
    pub outcome: Forecast,
    pub reason: Option<String>,
}

impl Entry {
    /// The shape of `loa agenda --format json`.
    pub fn to_json(&self, config: &Config) -> serde_json::Value {
        let p = &config.programs[self.program];
        serde_json::json!({
            "program": p.id,
            "title": p.title,
            "category": p.category,
            "start": self.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            "end": self.end.map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
            "zones": p.zones,
            "priority": p.priority.as_str(),
            "outcome": self.outcome.as_str(),
            "reason": self.reason,
        })
    }
}

/// Per-program lengths, probed once for a whole agenda.
pub type Lengths = HashMap<String, Length>;

pub fn probe_lengths(config: &Config, probe: &dyn MediaProbe) -> Lengths {
    config
        .programs
        .iter()
        .map(|p| (p.id.clone(), program_length(p, probe)))
        .collect()
}

fn hm(t: &DateTime<Tz>) -> String {
    // Hot in year-long agendas: chrono's format() parses its pattern each call.
    use chrono::Timelike;
    format!("{:02}:{:02}", t.hour(), t.minute())
}

fn to_std(d: TimeDelta) -> Duration {
    d.to_std().unwrap_or(Duration::ZERO)
}

/// The working state of one occurrence during the simulation.
struct Slot {
    entry: Entry,
    outputs: Vec<usize>,
    priority: Priority,
    /// The hard end of the window (None without `duration`).
    window_end: Option<DateTime<Tz>>,
    /// How long the items play (None when unknown; Some(window) when endless).
    length: Option<Duration>,
    done: bool,
}

/// The agenda for occurrences starting in [from, to), in start order.
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

    let mut slots: Vec<Slot> = Vec::new();
    for (pi, p) in config.programs.iter().enumerate() {
        let outputs: Vec<usize> = st
            .outputs_of(&p.zones)
            .into_iter()
            .filter_map(|o| output_index.get(o).copied())
            .collect();
        let len = lengths
            .get(&p.id)
            .cloned()
            .unwrap_or(Length::Unknown("not probed".into()));
        for t in p.occurs.between(tz, early, to) {
            let window_end = p.duration.map(|d| t + delta(d));
            let length = match &len {
                Length::Known(d) => Some(*d),
                Length::Endless => p.duration,
                Length::Unknown(_) => None,
            };
            let (end, outcome, reason) = natural_end(t, window_end, length, &len);
            slots.push(Slot {
                entry: Entry {
                    program: pi,
                    scheduled: t,
                    start: t,
                    end,
                    outcome,
                    reason,
                },
                outputs: outputs.clone(),
                priority: p.priority,
                window_end,
                length,
                done: false,
            });
        }
    }
    // Start order; at the same second the higher priority goes first, then file order.
    slots.sort_by(|a, b| {
        rules::due_order(
            (&a.entry.start, a.priority, a.entry.program),
            (&b.entry.start, b.priority, b.entry.program),
        )
    });

    // Event loop: `queue` holds indices of slots yet to start, by start time.
    // At one instant the higher level goes first; among equals an
    // occurrence at its scheduled second before one that waited until then
    // (SPEC 4.1: a program starts at its scheduled second; the one waiting
    // meets it airing and goes on waiting).
    type Key = (DateTime<Tz>, std::cmp::Reverse<Priority>, bool, usize);
    let mut queue: std::collections::BTreeSet<Key> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.entry.start, std::cmp::Reverse(s.priority), false, i))
        .collect();
    let mut airing: Vec<usize> = Vec::new();
    while let Some(&key) = queue.iter().next() {
        queue.remove(&key);
        let (t, _, _, i) = key;
        airing.retain(|&a| slots[a].entry.end.is_some_and(|e| e > t) && !slots[a].done);

        let p = &config.programs[slots[i].entry.program];
        // Quiet hours: only emergency may sound.
        if let Some(q) = rules::quiet_hold(st.policy.quiet_hours, slots[i].priority, t.time()) {
            let s = &mut slots[i];
            s.entry.outcome = Forecast::Skipped;
            s.entry.reason = Some(format!("quiet hours {}", crate::load::fmt_window(&q)));
            s.done = true;
            continue;
        }
        // Quiet hours' start is a hard end, as a window's is, whether the
        // items reach it undisturbed or a pause beneath a higher item
        // carries them there (the scheduler ends the run there).
        if let Some((qs, EndCause::QuietHours(_))) = rules::hard_end(
            &slots[i].entry.scheduled,
            &t,
            p.duration,
            slots[i].priority,
            st.policy.quiet_hours,
        ) {
            let s = &mut slots[i];
            s.window_end = Some(qs);
            if s.entry.end.is_none_or(|e| e > qs) {
                s.entry.end = Some(qs);
                s.entry.outcome = Forecast::Cut;
                s.entry.reason = Some(format!("quiet hours start at {}", hm(&qs)));
            }
        }

        // Who holds an output this one needs?
        let rivals: Vec<usize> = airing
            .iter()
            .copied()
            .filter(|&a| {
                slots[a]
                    .outputs
                    .iter()
                    .any(|o| slots[i].outputs.contains(o))
            })
            .collect();
        let top = rivals.iter().copied().max_by_key(|&a| slots[a].priority);
        let Some(top) = top else {
            airing.push(i);
            continue;
        };
        let mine = slots[i].priority;
        let theirs = slots[top].priority;
        let top_title = config.programs[slots[top].entry.program].title.clone();
        let top_end = slots[top].entry.end;

        let meeting = rules::meet(
            mine,
            p.if_busy,
            theirs,
            &slots[i].entry.scheduled,
            slots[i].window_end.as_ref(),
        );
        if meeting == Meeting::Preempts {
            let my_end = slots[i].entry.end.unwrap_or(t);
            let my_zones = &p.zones;
            for &a in &rivals {
                // Every rival at or below its level pauses, the one airing
                // and those already paused beneath it (their resume moves
                // with it).
                if slots[a].priority > mine {
                    continue;
                }
                let rp = &config.programs[slots[a].entry.program];
                // Zones of the paused program on the outputs taken over go quiet.
                let taken: Vec<&str> = slots[i]
                    .outputs
                    .iter()
                    .map(|&o| st.outputs[o].name.as_str())
                    .collect();
                let silenced: Vec<&str> = rp
                    .zones
                    .iter()
                    .filter(|z| !my_zones.contains(z))
                    .filter(|z| {
                        st.zone(z)
                            .is_some_and(|z| taken.contains(&z.output.as_str()))
                    })
                    .map(String::as_str)
                    .collect();
                let pause = to_std(my_end - t);
                let ra = &mut slots[a];
                let new_end = ra.entry.end.map(|e| {
                    let shifted = e + delta(pause);
                    match ra.window_end {
                        Some(w) => shifted.min(w),
                        None => shifted,
                    }
                });
                let resumes = new_end.is_some_and(|e| e > my_end);
                if ra.entry.start == t {
                    // It was to start at this very instant and has not
                    // sounded: it waits beneath the newcomer, and starts
                    // from its beginning when that ends (as the decks hold it).
                    let waited = format!("waits for {} ({mine}) until {}", p.title, hm(&my_end));
                    if !resumes {
                        ra.entry.outcome = Forecast::Skipped;
                        ra.entry.reason = Some(format!(
                            "{} ({mine}) airs until {}, past its wait",
                            p.title,
                            hm(&my_end)
                        ));
                        ra.done = true;
                        continue;
                    }
                    let (end, outcome, why) = natural_end(
                        my_end,
                        ra.window_end,
                        ra.length,
                        &Length::Known(Duration::ZERO),
                    );
                    ra.entry.start = my_end;
                    ra.entry.end = end;
                    ra.entry.outcome = if outcome == Forecast::Cut {
                        Forecast::Cut
                    } else {
                        Forecast::Delayed
                    };
                    ra.entry.reason = Some(match why {
                        Some(r) => format!("{waited}; {r}"),
                        None => waited,
                    });
                    continue;
                }
                let mut reason = format!(
                    "preempted by {} ({}) {}-{}",
                    p.title,
                    mine,
                    hm(&t),
                    hm(&my_end)
                );
                reason.push_str(if resumes {
                    ", resumes after"
                } else {
                    ", not resumed: its window closes"
                });
                if !silenced.is_empty() {
                    reason.push_str(&format!("; zones {} off meanwhile", silenced.join(",")));
                }
                ra.entry.outcome = Forecast::Preempted;
                ra.entry.reason = Some(reason);
                ra.entry.end = if resumes { new_end } else { Some(t) };
            }
            airing.push(i);
            continue;
        }

        // It cannot sound now: wait, or skip.
        let wait_limit = match meeting {
            Meeting::Waits { until } => until,
            Meeting::Skips => {
                let s = &mut slots[i];
                s.entry.outcome = Forecast::Skipped;
                s.entry.reason = Some(format!("busy: {top_title} airs (if_busy: skip)"));
                s.done = true;
                continue;
            }
            Meeting::Preempts => unreachable!("handled above"),
        };
        let fits = match (top_end, wait_limit, slots[i].window_end) {
            (None, _, _) => false,
            (Some(e), Some(limit), w) => e <= limit && w.is_none_or(|w| e < w),
            (Some(e), None, w) => w.is_none_or(|w| e < w),
        };
        let s = &mut slots[i];
        if !fits {
            s.entry.outcome = Forecast::Skipped;
            s.entry.reason = Some(match top_end {
                Some(e) => format!(
                    "{top_title} ({theirs}) airs until {}, past its wait",
                    hm(&e)
                ),
                None => format!("{top_title} ({theirs}) airs with no known end"),
            });
            s.done = true;
            continue;
        }
        let new_start = top_end.expect("fits implies a known end");
        s.entry.start = new_start;
        let (end, outcome, reason) = natural_end(
            new_start,
            s.window_end,
            s.length,
            &Length::Known(Duration::ZERO),
        );
        s.entry.end = end;
        s.entry.outcome = if outcome == Forecast::Cut {
            Forecast::Cut
        } else {
            Forecast::Delayed
        };
        let waited = format!("waits for {top_title} ({theirs}) until {}", hm(&new_start));
        s.entry.reason = Some(match reason {
            Some(r) => format!("{waited}; {r}"),
            None => waited,
        });
        queue.insert((new_start, std::cmp::Reverse(s.priority), true, i));
    }

    let from_tz = from.with_timezone(&tz);
    let to_tz = to.with_timezone(&tz);
    let mut out: Vec<Entry> = slots
        .into_iter()
        .map(|s| s.entry)
        .filter(|e| e.scheduled >= from_tz && e.scheduled < to_tz)
        .collect();
    out.sort_by(|a, b| {
        a.scheduled
            .cmp(&b.scheduled)
            .then(a.program.cmp(&b.program))
    });
    out
}

/// The end of an occurrence that starts at `start` and is not disturbed.
fn natural_end(
    start: DateTime<Tz>,
    window_end: Option<DateTime<Tz>>,
    length: Option<Duration>,
    len: &Length,
) -> (Option<DateTime<Tz>>, Forecast, Option<String>) {
    let items_end = length.map(|d| start + delta(d));
    match (items_end, window_end) {
        (Some(i), Some(w)) if i > w => (
            Some(w),
            Forecast::Cut,
            Some(format!("window closes at {}, before its items end", hm(&w))),
        ),
        (Some(i), Some(w)) => (Some(i.min(w)), Forecast::Airs, None),
        (Some(i), None) => (Some(i), Forecast::Airs, None),
        (None, Some(w)) => (Some(w), Forecast::Airs, None),
        (None, None) => (
            None,
            Forecast::Airs,
            match len {
                Length::Unknown(why) => Some(format!("end unknown: {why}")),
                _ => None,
            },
        ),
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
            out.push_str(&format!("{}\n", e.scheduled.format("%A %Y-%m-%d")));
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
            e.outcome.as_str(),
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
