//! The scheduler: fires each program occurrence at its scheduled second and
//! applies SPEC section 4 (priorities, `if_busy`, hard ends, quiet hours,
//! `late_start`, clock steps, reload), turning the decks' events into
//! airtime rows.
//!
//! It is a state machine driven by its owner: `tick(now, mono)` when time
//! passes, `handle(events)` when a deck reports. The same code runs under
//! `loa run` (wall clock, real decks) and `loa simulate` (virtual clock,
//! simulated decks). Items go to the deck a little ahead of time with their
//! exact start instant, so audio starts on the scheduled sample however
//! late the scheduler wakes.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use loa_audio::{Item, ItemId, Media};
use loa_schedules::agenda::Lengths;
use loa_schedules::{Config, Program};
use tracing::{info, warn};

use loa_schedules::occurrence::delta;

use crate::probe::Probe;
use crate::runtime::airtime::{AirtimeLog, Trigger};
use crate::runtime::clock::to_system;
use crate::runtime::engine::Engine;

mod announcements;
mod claims;
mod firing;
mod rows;

pub use announcements::{Announce, AnnouncementNote};
pub use claims::ZoneNote;
pub use firing::quiet_hours_hold;

/// How far ahead an item goes to its deck (`rules::lead`: the agenda
/// models the same).
fn lead_for(config: &Config) -> Duration {
    loa_schedules::rules::lead(&config.station)
}
/// A wall-clock jump bigger than this (against the monotonic clock) is a step.
const STEP: TimeDelta = TimeDelta::seconds(2);
/// Open rows save their aired time this often.
const PROGRESS_EVERY: TimeDelta = TimeDelta::seconds(5);
/// A step this big (a dead RTC battery) re-anchors without replaying the past.
const REANCHOR: TimeDelta = TimeDelta::hours(24);

fn ms(d: TimeDelta) -> u64 {
    d.num_milliseconds().max(0) as u64
}

fn hms(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M:%S").to_string()
}

/// Who asked for a run: the schedule, or someone over MQTT or at the PC.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Schedule,
    /// An announcement: its id, and who asked (key id or Unix user).
    Announcement {
        id: String,
        trigger: Trigger,
        requested_by: String,
        /// Dropped if still waiting behind a higher item at this instant.
        expires: DateTime<Utc>,
    },
}

/// One thing a run plays, in order.
#[derive(Clone, Debug)]
pub struct RunItem {
    pub media: Media,
    /// `source_kind` and `source` of its airtime rows.
    pub kind: String,
    pub source: String,
    /// How long it plays, when known.
    pub length: Option<Duration>,
    /// Relays and live input: joined live, never seeked.
    pub endless: bool,
    /// Silence before it (an announcement's repeats are 2 s apart).
    pub gap_before: Duration,
}

/// An open airtime row.
struct OpenRow {
    id: i64,
    started: DateTime<Utc>,
}

/// One occurrence on the air (or waiting beneath a higher one on its decks).
struct Run {
    program: Program,
    scheduled: DateTime<Utc>,
    outputs: Vec<usize>,
    /// Hard end: the window's end, or quiet hours' start when earlier.
    end: Option<DateTime<Utc>>,
    /// Why the hard end cuts (for the row's detail).
    end_reason: String,
    /// The program item on the decks now.
    item: usize,
    /// Its deck items, one per output (the first is the primary: rows come from it).
    deck_items: Vec<(usize, ItemId)>,
    /// The next program item, given to the decks ahead to follow these
    /// (SPEC 4.2: nothing beneath sounds between a program's items).
    next_items: Vec<(usize, ItemId)>,
    /// Events of `next_items` that came before they took over (a file that
    /// failed while being prepared): handled when they do.
    early: Vec<(usize, loa_audio::DeckEvent)>,
    rows: HashMap<(ItemId, String), OpenRow>,
    /// Detail for rows cut by a stop (shutdown, reload...).
    stop_reason: Option<String>,
    /// Zones this run holds on (a `ZoneNote::Sound` not yet released).
    demand: Vec<String>,
    items: Vec<RunItem>,
    origin: Origin,
    /// When its first row started (an announcement's `started` ack is sent once).
    sounded_at: Option<DateTime<Utc>>,
    /// The relay item whose window is already some source row's planned
    /// time: a relay's window is planned once, however many sources air.
    relay_planned: Option<ItemId>,
}

impl Run {
    /// A program item as the decks take it: the program's level and
    /// volume, and its hard end.
    fn deck_item(&self, next: &RunItem) -> Item {
        let item = Item::new(next.media.clone(), self.program.priority)
            .with_volume(self.program.volume)
            .titled(self.program.title.clone());
        match self.end {
            Some(e) => item.ending_at(to_system(e)),
            None => item,
        }
    }

    /// The program item after the one on the decks (looped programs start over).
    fn next_index(&self) -> Option<usize> {
        let n = self.item + 1;
        if n < self.items.len() {
            Some(n)
        } else if self.program.looped && !self.items.is_empty() {
            Some(0)
        } else {
            None
        }
    }

    /// The announcement's id, or the program's.
    fn id(&self) -> &str {
        match &self.origin {
            Origin::Announcement { id, .. } => id,
            Origin::Schedule => &self.program.id,
        }
    }
}

/// An occurrence waiting (`if_busy: wait`) for an equal one to end.
struct Waiting {
    program: Program,
    scheduled: DateTime<Utc>,
    deadline: DateTime<Utc>,
    blocker: String,
}

/// Counts for a simulation summary.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub fired: u64,
    pub rows: u64,
}

pub struct Scheduler<E: Engine> {
    config: Arc<Config>,
    lengths: Lengths,
    pub engine: E,
    log: AirtimeLog,
    tz: Tz,
    /// Occurrences scheduled up to here have been considered.
    cursor: Option<DateTime<Utc>>,
    last_tick: Option<(DateTime<Utc>, Duration)>,
    /// Occurrence keys (instant, program id) that fired, so none fires twice.
    fired: BTreeSet<(DateTime<Utc>, String)>,
    runs: Vec<Run>,
    waiting: Vec<Waiting>,
    /// Occurrences that met a busy output at their lead time: decided again
    /// at their scheduled second (what airs may well have ended by then).
    deferred: Vec<(Program, DateTime<Utc>)>,
    /// The time of the last tick.
    now: DateTime<Utc>,
    lead: Duration,
    /// The first occurrence after the cursor: (instant, program index).
    upcoming: Option<(DateTime<Utc>, usize)>,
    zone_notes: Vec<ZoneNote>,
    announcement_notes: Vec<AnnouncementNote>,
    next_progress: Option<DateTime<Utc>>,
    /// Save aired time of open rows every 5 s (off in simulation: no crash to survive).
    pub save_progress: bool,
    probe: Probe,
    pub stats: Stats,
    /// Outputs whose device failed and has not come back: why, and since when.
    outputs_down: BTreeMap<usize, (String, DateTime<Utc>)>,
    /// The latest outages of outputs (an Icecast server gone, a card
    /// pulled), for the rows of what aired meanwhile: what its listeners
    /// could not hear.
    outages: VecDeque<Outage>,
}

/// An output down from `from` until `to` (None: still down).
#[derive(Clone, Debug)]
struct Outage {
    output: usize,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    reason: String,
}

/// Outages remembered for rows still airing: far more than a day has.
const OUTAGES_KEPT: usize = 64;

impl<E: Engine> Scheduler<E> {
    pub fn new(
        config: Arc<Config>,
        lengths: Lengths,
        engine: E,
        log: AirtimeLog,
        probe: Probe,
    ) -> Self {
        let tz = config.station.timezone;
        let lead = lead_for(&config);
        Scheduler {
            config,
            lengths,
            engine,
            log,
            tz,
            cursor: None,
            last_tick: None,
            fired: BTreeSet::new(),
            runs: Vec::new(),
            waiting: Vec::new(),
            deferred: Vec::new(),
            now: DateTime::<Utc>::MIN_UTC,
            lead,
            upcoming: None,
            zone_notes: Vec::new(),
            announcement_notes: Vec::new(),
            next_progress: None,
            save_progress: true,
            probe,
            stats: Stats::default(),
            outputs_down: BTreeMap::new(),
            outages: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn log(&mut self) -> &mut AirtimeLog {
        &mut self.log
    }

    /// The airtime log's part of the status document.
    pub fn log_status(&self) -> serde_json::Value {
        self.log.status_json()
    }

    fn local(&self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.tz)
    }

    /// Time passes: fire what is due, start what waited, save progress.
    pub fn tick(&mut self, now: DateTime<Utc>, mono: Duration) {
        // Rows the file could not take yet are tried again from here.
        self.log.tick(mono);
        let cursor_before = self.cursor;
        let mut stepped = false;
        let first = self.last_tick.is_none();
        if let Some((w0, m0)) = self.last_tick {
            let expected = w0 + delta(mono.saturating_sub(m0));
            let step = now - expected;
            if step > STEP || step < -STEP {
                stepped = true;
                warn!(
                    "the wall clock stepped by {} s (NTP or an operator setting the date)",
                    step.num_seconds()
                );
                if step > REANCHOR {
                    warn!(
                        "a step over 24 h: re-anchoring at the new time without replaying the past"
                    );
                    self.cursor = Some(now);
                } else if step < TimeDelta::zero() {
                    // Back in time: scan again from now; the fired keys keep
                    // what already aired from airing twice.
                    self.cursor = Some(now);
                }
            }
        }
        self.last_tick = Some((now, mono));
        self.now = now;
        let cursor = match self.cursor {
            Some(c) => c,
            None => now - self.lookback(),
        };
        // An occurrence that waited (if_busy: wait) for what has now ended
        // starts before one still ahead of its second takes the output: at
        // its second that one finds it airing and follows its if_busy
        // (SPEC 4.3).
        self.start_waiting(now);
        // Deferred occurrences go as soon as their output is free (still
        // ahead of their second, so audio starts on time) or, at their
        // second, follow if_busy.
        let mut deferred = std::mem::take(&mut self.deferred);
        deferred.sort_by_key(|(_, t)| *t);
        for (p, t) in deferred {
            if t <= now || !self.busy_with_equal(&p) {
                self.fire(p, t, now.max(t), Duration::ZERO);
            } else {
                self.deferred.push((p, t));
            }
        }
        let horizon = now + delta(self.lead);
        if horizon > cursor {
            self.fire_due(cursor, horizon, now, first, stepped);
            self.cursor = Some(horizon);
        }
        // Keep a day of fired keys: enough for any backward step short of a re-anchor.
        let keep_from = now - TimeDelta::hours(26);
        while self.fired.first().is_some_and(|(t, _)| *t < keep_from) {
            self.fired.pop_first();
        }
        // The cached next occurrence holds until the cursor reaches it (or
        // moves back).
        let moved_back = cursor_before.is_some_and(|b| self.cursor.is_some_and(|c| c < b));
        if moved_back
            || self
                .upcoming
                .is_none_or(|(t, _)| self.cursor.is_some_and(|c| t <= c))
        {
            self.refresh_upcoming();
        }
        self.expire_announcements(now);
        self.start_waiting(now);
        if self.next_progress.is_some_and(|t| t <= now) {
            self.save_progress(now);
        }
    }

    /// When the scheduler next needs a tick (an occurrence's lead time, a
    /// wait's deadline, a progress save).
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.cursor?;
        let mut next: Option<DateTime<Utc>> = None;
        let mut consider =
            |t: DateTime<Utc>| next = Some(next.map_or(t, |n: DateTime<Utc>| n.min(t)));
        if let Some((t, _)) = self.upcoming {
            consider(t - delta(self.lead));
        }
        for w in &self.waiting {
            consider(w.deadline);
        }
        for (_, t) in &self.deferred {
            consider(*t);
        }
        if let Some(t) = self.next_progress {
            consider(t);
        }
        next
    }

    /// Applies a new, valid configuration: what has not started uses it;
    /// what airs keeps airing unless its program was removed.
    pub fn reload(&mut self, config: Arc<Config>, lengths: Lengths, now: DateTime<Utc>) {
        let ids: std::collections::HashSet<&str> =
            config.programs.iter().map(|p| p.id.as_str()).collect();
        let removed = self.stop_runs("removed from the schedule by a reload", |r| {
            !ids.contains(r.program.id.as_str())
        });
        for i in removed {
            info!(
                "`{}` was removed from the schedule: stopping it",
                self.runs[i].program.id
            );
        }
        self.waiting.retain(|w| ids.contains(w.program.id.as_str()));
        self.deferred.retain(|(p, _)| ids.contains(p.id.as_str()));
        self.tz = config.station.timezone;
        self.lead = lead_for(&config);
        self.config = config;
        self.lengths = lengths;
        // The cursor runs a lead time ahead of now: a program the reload adds
        // (or moves) into that lead must still be found. Scan again from
        // now; the fired keys keep what already fired from firing twice.
        if self.cursor.is_some_and(|c| c > now) {
            self.cursor = Some(now);
        }
        self.refresh_upcoming();
    }

    /// Stops everything (fading out) with the given reason on the rows.
    pub fn stop_all(&mut self, reason: &str) {
        self.stop_runs(reason, |_| true);
        self.waiting.clear();
        self.deferred.clear();
    }

    /// What airs now: the highest run that has sounded and not ended (also
    /// between an announcement's repeats, so boards keep its text).
    pub fn now_airing(&self) -> Option<(&Program, DateTime<Utc>)> {
        self.runs
            .iter()
            .filter_map(|r| r.sounded_at.map(|t| (r, t)))
            .max_by_key(|(r, _)| r.program.priority)
            .map(|(r, t)| (&r.program, t))
    }

    /// The next occurrence not yet fired.
    pub fn next_up(&self) -> Option<(&Program, DateTime<Utc>)> {
        self.upcoming
            .and_then(|(t, i)| self.config.programs.get(i).map(|p| (p, t)))
    }

    /// Finds the first occurrence after the cursor, once per cursor move
    /// (the loop asks for it every few milliseconds while something airs).
    fn refresh_upcoming(&mut self) {
        let Some(after) = self.cursor else {
            self.upcoming = None;
            return;
        };
        self.upcoming = self
            .config
            .programs
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.occurs
                    .next_after(self.tz, after, 3000)
                    .map(|t| (t.with_timezone(&Utc), i))
            })
            .min();
    }

    /// Outputs whose device failed and is not back: (output index, why, since).
    pub fn outputs_down(&self) -> Vec<(usize, String, DateTime<Utc>)> {
        self.outputs_down
            .iter()
            .map(|(o, (why, at))| (*o, why.clone(), *at))
            .collect()
    }

    pub fn is_idle(&self) -> bool {
        self.runs.is_empty() && self.waiting.is_empty() && self.deferred.is_empty()
    }
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
