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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use loa_audio::{DeckEvent, Item, ItemId, Media, Outcome as DeckOutcome, Piece};
use loa_schedules::agenda::{playlist_files, Length, Lengths};
use loa_schedules::occurrence::resolve_local;
use loa_schedules::{
    Chime, Config, DailyWindow, IfBusy, LateStart, Order, Priority, Program, Source,
};
use tracing::{info, warn};

use crate::probe::Probe;
use crate::runtime::airtime::{AirtimeLog, NewRow, Outcome, Trigger};
use crate::runtime::clock::{from_system, to_system};
use crate::runtime::engine::{estimated_speech, Engine};

/// How far ahead an item goes to its deck: time to open files, resolve
/// globs and render TTS before the scheduled sample. Longer when a zone's
/// relay needs a longer preroll.
pub const LEAD: Duration = Duration::from_secs(3);

/// Switching a zone's amplifier, as the scheduler decides it (the zones
/// module turns these into relay commands with preroll and hold).
#[derive(Clone, Debug, PartialEq)]
pub enum ZoneNote {
    /// Sound starts on these zones at `at`.
    Sound {
        zones: Vec<String>,
        at: DateTime<Utc>,
    },
    /// Sound on these zones ended at `at`.
    Silent {
        zones: Vec<String>,
        at: DateTime<Utc>,
    },
    /// A higher item that does not target these zones takes their output at `at`.
    Mute {
        zones: Vec<String>,
        at: DateTime<Utc>,
    },
}

fn lead_for(config: &Config) -> Duration {
    let preroll = config
        .station
        .zones
        .iter()
        .map(|z| z.preroll)
        .max()
        .unwrap_or_default();
    LEAD.max(preroll + Duration::from_secs(1))
}
/// A wall-clock jump bigger than this (against the monotonic clock) is a step.
const STEP: TimeDelta = TimeDelta::seconds(2);
/// Open rows save their aired time this often.
const PROGRESS_EVERY: TimeDelta = TimeDelta::seconds(5);
/// A step this big (a dead RTC battery) re-anchors without replaying the past.
const REANCHOR: TimeDelta = TimeDelta::hours(24);

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn ms(d: TimeDelta) -> u64 {
    d.num_milliseconds().max(0) as u64
}

fn hms(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%H:%M:%S").to_string()
}

pub fn deck_priority(p: Priority) -> loa_audio::Priority {
    match p {
        Priority::Filler => loa_audio::Priority::Filler,
        Priority::Normal => loa_audio::Priority::Normal,
        Priority::Priority => loa_audio::Priority::Priority,
        Priority::Emergency => loa_audio::Priority::Emergency,
    }
}

/// What a schedule item plays, as the deck takes it. Globs resolve now.
pub fn media_of(source: &Source) -> Media {
    match source {
        Source::File(p) => Media::file(p.clone()),
        Source::Newest { glob, max_age } => Media::Newest {
            pattern: glob.into(),
            max_age: *max_age,
        },
        Source::Playlist { entries, order } => Media::Files {
            paths: playlist_files(entries),
            order: match order {
                Order::Sequential => loa_audio::Order::Sequential,
                Order::Shuffle => loa_audio::Order::Shuffle,
            },
        },
        Source::Tts { text, voice } => Media::Tts {
            text: text.clone(),
            voice: voice.clone(),
        },
        Source::Stream {
            urls,
            bandwidth,
            fallback,
        } => Media::Stream {
            sources: urls.clone(),
            bandwidth: *bandwidth,
            fallback: fallback.clone(),
        },
        Source::Live { input } => Media::Live {
            input: input.clone(),
        },
        Source::Silence(d) => Media::Silence(*d),
        Source::Tone { hz, length } => Media::Tone {
            hz: *hz as f32,
            length: *length,
        },
    }
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

/// An announcement to air now, from MQTT or the PC (SPEC section 4 rule 4):
/// the chime once, then the item `repeat` times, 2 s apart.
#[derive(Clone, Debug)]
pub struct Announce {
    pub id: String,
    pub title: String,
    pub priority: Priority,
    /// Zone ids, station.yaml order.
    pub zones: Vec<String>,
    pub media: Media,
    /// `source_kind` and `source` of its rows.
    pub kind: String,
    pub source: String,
    /// How long the item plays (a stream's duration), when known.
    pub length: Option<Duration>,
    pub repeat: u32,
    pub trigger: Trigger,
    pub requested_by: String,
    /// Still waiting behind a higher item at this instant: dropped.
    pub expires: DateTime<Utc>,
}

/// An announcement as `loa status` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnouncementView {
    pub id: String,
    pub title: String,
    pub priority: Priority,
    /// Its item's source kind: tts, file, stream, live.
    pub kind: String,
    pub zones: Vec<String>,
    pub trigger: Trigger,
    pub requested_by: String,
    /// When it first sounded (its chime); None while it waits.
    pub since: Option<DateTime<Utc>>,
    /// Its own audio (past the chime) is on the air.
    pub on_air: bool,
}

/// Something `stop_airing` stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Stopped {
    /// The announcement id, or the program id.
    pub id: String,
    pub title: String,
    pub announcement: bool,
}

/// What became of an announcement, for its acks.
#[derive(Clone, Debug, PartialEq)]
pub enum AnnouncementNote {
    Started {
        id: String,
    },
    Done {
        id: String,
        reason: Option<String>,
    },
    Failed {
        id: String,
        code: &'static str,
        reason: String,
    },
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
}

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

    /// How long a program's occurrence window lasts, when known.
    fn window(&self, p: &Program) -> Option<Duration> {
        p.duration.or(match self.lengths.get(&p.id) {
            Some(Length::Known(d)) => Some(*d),
            _ => None,
        })
    }

    /// The longest window of any program: how far back start-up looks.
    fn lookback(&self) -> TimeDelta {
        let longest = self
            .config
            .programs
            .iter()
            .filter_map(|p| self.window(p))
            .max()
            .unwrap_or(Duration::from_secs(3600));
        delta(longest.min(Duration::from_secs(86_400)))
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

    fn fire_due(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        startup: bool,
        stepped: bool,
    ) {
        let mut due: Vec<(DateTime<Utc>, Priority, usize)> = Vec::new();
        for (i, p) in self.config.programs.iter().enumerate() {
            for t in p.occurs.between(
                self.tz,
                from + TimeDelta::nanoseconds(1),
                to + TimeDelta::nanoseconds(1),
            ) {
                due.push((t.with_timezone(&Utc), p.priority, i));
            }
        }
        // In time order; at the same second the higher level first.
        due.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        for (t, _, i) in due {
            let program = self.config.programs[i].clone();
            if !self.fired.insert((t, program.id.clone())) {
                continue; // fired before a backward clock step
            }
            self.stats.fired += 1;
            if t + TimeDelta::seconds(1) >= now {
                self.fire(program, t, t, Duration::ZERO);
                continue;
            }
            // Found late: at start-up, or stepped over by the clock.
            let window_end = self.window(&program).map(|w| t + delta(w));
            if window_end.is_none_or(|e| e <= now) {
                // At start-up the log already holds what aired before; after
                // a step, say what the step cost.
                if !startup {
                    let why = if stepped {
                        "clock step"
                    } else {
                        "missed: loa was not scheduling (suspended?)"
                    };
                    self.skip(&program, t, now, why);
                }
                continue;
            }
            let policy = program
                .late_start
                .unwrap_or(self.config.station.policy.late_start);
            match policy {
                LateStart::Join => {
                    let offset = (now - t).to_std().unwrap_or_default();
                    info!("joining `{}` {} s late", program.id, offset.as_secs());
                    self.fire(program, t, now, offset);
                }
                LateStart::Restart => self.fire(program, t, now, Duration::ZERO),
                LateStart::Skip => self.skip(&program, t, now, "late start (late_start: skip)"),
            }
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the columns of one airtime row, from different stages of firing"
    )]
    fn row_for(
        &self,
        origin: &Origin,
        p: &Program,
        scheduled: DateTime<Utc>,
        started: DateTime<Utc>,
        kind: &str,
        source: String,
        planned_ms: u64,
    ) -> NewRow {
        let (program_id, trigger, requested_by) = match origin {
            Origin::Schedule => (Some(p.id.clone()), Trigger::Schedule, None),
            Origin::Announcement {
                trigger,
                requested_by,
                ..
            } => (None, *trigger, Some(requested_by.clone())),
        };
        NewRow {
            program_id,
            title: p.title.clone(),
            category: p.category.clone(),
            source_kind: kind.to_string(),
            source,
            trigger,
            requested_by,
            priority: p.priority,
            zones: p.zones.clone(),
            scheduled_at: Some(self.local(scheduled)),
            started_at: self.local(started),
            planned_ms,
        }
    }

    /// The row of a piece the decks report for run `r`.
    fn piece_row(&self, r: &Run, at: DateTime<Utc>, piece: &Piece, planned_ms: u64) -> NewRow {
        let kind = piece.kind.to_string();
        let source = piece.source.clone();
        self.row_for(
            &r.origin,
            &r.program,
            r.scheduled,
            at,
            &kind,
            source,
            planned_ms,
        )
    }

    /// What a program plays, item by item, as the decks take it.
    fn items_of(&self, p: &Program) -> Vec<RunItem> {
        let probe = ProbeFn(&*self.probe);
        p.items
            .iter()
            .map(|item| RunItem {
                media: media_of(&item.source),
                kind: item.source.kind().to_string(),
                source: source_text(&item.source),
                length: match loa_schedules::agenda::item_length(&item.source, &probe) {
                    Length::Known(d) => Some(d),
                    _ => None,
                },
                endless: item.source.is_endless(),
                gap_before: Duration::ZERO,
            })
            .collect()
    }

    /// Skipped rows, one per item of the program.
    fn skip(&mut self, p: &Program, scheduled: DateTime<Utc>, now: DateTime<Utc>, why: &str) {
        let items = self.items_of(p);
        self.skip_items(&Origin::Schedule, p, &items, scheduled, now, why);
    }

    fn skip_items(
        &mut self,
        origin: &Origin,
        p: &Program,
        items: &[RunItem],
        scheduled: DateTime<Utc>,
        now: DateTime<Utc>,
        why: &str,
    ) {
        for item in items {
            let planned = item.length.map_or(0, |d| d.as_millis() as u64);
            let row = self.row_for(
                origin,
                p,
                scheduled,
                now,
                &item.kind,
                item.source.clone(),
                planned,
            );
            let local = self.local(now);
            if let Err(e) = self.log.record(&row, local, 0, Outcome::Skipped, Some(why)) {
                warn!("airtime log: {e}");
            }
            self.stats.rows += 1;
        }
    }

    /// Puts an occurrence on the air: checks quiet hours and `if_busy`, then
    /// sends its first item (or the one `offset` reaches) to its decks.
    fn fire(
        &mut self,
        p: Program,
        scheduled: DateTime<Utc>,
        start: DateTime<Utc>,
        offset: Duration,
    ) {
        let outputs = self.outputs_of(&p);
        if let Some(q) = quiet_hours_hold(
            self.config.station.policy.quiet_hours,
            self.tz,
            p.priority,
            start,
        ) {
            let why = format!("quiet hours {}", loa_schedules::load::fmt_window(&q));
            self.skip(&p, scheduled, start, &why);
            return;
        }
        // Equal level already on one of these outputs: if_busy.
        let busy = self.equal_blocker(&p).map(|r| r.program.title.clone());
        // An earlier occurrence of the same level still waiting for this
        // output goes first.
        let queued_before = self.deferred.iter().any(|(d, t)| {
            *t < scheduled
                && d.priority == p.priority
                && self.outputs_of(d).iter().any(|o| outputs.contains(o))
        });
        if queued_before && start > self.now {
            self.deferred.push((p, scheduled));
            return;
        }
        if let Some(blocker) = busy {
            if start > self.now {
                self.deferred.push((p, scheduled));
                return;
            }
            match p.if_busy {
                IfBusy::Preempt => {}
                IfBusy::Skip => {
                    let why = format!("busy: {blocker} was airing (if_busy: skip)");
                    self.skip(&p, scheduled, start, &why);
                    return;
                }
                IfBusy::Wait(d) => {
                    let window_end = p.duration.map(|w| scheduled + delta(w));
                    let deadline =
                        (scheduled + delta(d)).min(window_end.unwrap_or(DateTime::<Utc>::MAX_UTC));
                    info!("`{}` waits up to {} s for `{blocker}`", p.id, d.as_secs());
                    self.waiting.push(Waiting {
                        program: p,
                        scheduled,
                        deadline,
                        blocker,
                    });
                    return;
                }
            }
        }
        let mut end = p.duration.map(|d| scheduled + delta(d));
        let mut end_reason = "window closed".to_string();
        if p.priority < Priority::Emergency {
            if let Some(q) = self.config.station.policy.quiet_hours {
                let horizon = end.unwrap_or(start + TimeDelta::hours(24));
                if let Some(qs) = next_quiet_start(&q, self.tz, start, horizon) {
                    end = Some(qs);
                    end_reason = format!("quiet hours from {}", q.start.format("%H:%M"));
                }
            }
        }
        // Joining late: which item, and how far into it.
        let items = self.items_of(&p);
        let (item, item_offset) = seek(&items, p.looped, offset);
        if item >= items.len() {
            return; // its items were all over before now: nothing to join
        }
        let mut run = Run {
            program: p,
            scheduled,
            outputs,
            end,
            end_reason,
            item,
            deck_items: Vec::new(),
            rows: HashMap::new(),
            stop_reason: None,
            demand: Vec::new(),
            items,
            origin: Origin::Schedule,
            sounded_at: None,
            relay_planned: None,
        };
        self.submit(&mut run, start, item_offset);
        self.claim_zones(&mut run, start);
        self.runs.push(run);
    }

    /// Airs an announcement from `start` (the caller has waited for the
    /// relays' preroll): at its priority on its zones' outputs, preempting
    /// lower items and, as an operator asking now expects, equal ones.
    pub fn announce(&mut self, a: Announce, start: DateTime<Utc>) {
        // The chime: policy.chime's file while it is there, else the built-in one.
        let chime = chime_media(&self.config.station.policy.chime);
        let chime_length = match &chime {
            Media::Files { paths, .. } => paths.first().and_then(|p| (self.probe)(p).ok()),
            _ => Some(loa_audio::BUILTIN_CHIME),
        };
        let length = a.length.or(match &a.media {
            Media::Tts { text, .. } => Some(estimated_speech(text)),
            Media::Files { paths, .. } => paths.first().and_then(|p| (self.probe)(p).ok()),
            _ => None,
        });
        let mut items = vec![RunItem {
            media: chime.clone(),
            kind: "chime".into(),
            source: match &chime {
                Media::Files { paths, .. } => paths
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                _ => "builtin".into(),
            },
            length: chime_length,
            endless: false,
            gap_before: Duration::ZERO,
        }];
        let live = matches!(a.media, Media::Live { .. });
        for i in 0..a.repeat.max(1) {
            items.push(RunItem {
                media: a.media.clone(),
                kind: a.kind.clone(),
                source: a.source.clone(),
                length,
                endless: live,
                gap_before: if i == 0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs(2)
                },
            });
        }
        let streamed = matches!(a.media, Media::Stream { .. });
        // A stream's hard end: the chime, then each repeat's duration and gaps.
        // A live session's: the chime, then policy.live_limit (it is meant to
        // end with `loa stop`; one left open is closed with a warning).
        let live_limit = self.config.station.policy.live_limit;
        let end = if live {
            Some(
                start + delta(chime_length.unwrap_or(loa_audio::BUILTIN_CHIME)) + delta(live_limit),
            )
        } else {
            streamed.then(|| {
                let each = a.length.unwrap_or(Duration::from_secs(60));
                start
                    + delta(loa_audio::BUILTIN_CHIME + Duration::from_secs(1))
                    + delta(each.saturating_mul(a.repeat.max(1)).saturating_add(
                        Duration::from_secs(2).saturating_mul(a.repeat.saturating_sub(1)),
                    ))
            })
        };
        let end_reason = if live {
            format!(
                "left open longer than policy.live_limit ({}): closed",
                span_text(live_limit)
            )
        } else {
            "its duration ended".into()
        };
        let program = Program {
            id: a.id.clone(),
            title: a.title.clone(),
            category: "announcement".into(),
            occurs: loa_schedules::Occurrences {
                recurrence: loa_schedules::Recurrence::Daily {
                    at: chrono::NaiveTime::MIN,
                    days: loa_schedules::DaySet::empty(),
                },
                dates: Default::default(),
                except: Default::default(),
            },
            zones: a.zones.clone(),
            priority: a.priority,
            duration: None,
            if_busy: IfBusy::Preempt,
            late_start: None,
            volume: 1.0,
            looped: false,
            approved_by: None,
            items: Vec::new(),
            loc: self
                .config
                .programs
                .first()
                .map(|p| p.loc.clone())
                .unwrap_or_else(|| loa_schedules::Loc {
                    file: "".into(),
                    pos: Default::default(),
                }),
        };
        let outputs = self.outputs_of(&program);
        let mut run = Run {
            program,
            scheduled: start,
            outputs,
            end,
            end_reason,
            item: 0,
            deck_items: Vec::new(),
            rows: HashMap::new(),
            stop_reason: None,
            demand: Vec::new(),
            items,
            origin: Origin::Announcement {
                id: a.id,
                trigger: a.trigger,
                requested_by: a.requested_by,
                expires: a.expires,
            },
            sounded_at: None,
            relay_planned: None,
        };
        self.submit(&mut run, start, Duration::ZERO);
        self.claim_zones(&mut run, start);
        self.runs.push(run);
    }

    /// Stops announcements (`target` None: all of them); returns their ids.
    pub fn stop_announcements(&mut self, target: Option<&str>, reason: &str) -> Vec<String> {
        let stopped = self.stop_runs(reason, |r| {
            matches!(&r.origin, Origin::Announcement { id, .. } if target.is_none_or(|t| t == id))
        });
        stopped
            .iter()
            .map(|&i| self.runs[i].id().to_string())
            .collect()
    }

    /// Stops the runs `pick` chooses (fading out; their rows get `reason`);
    /// returns their indices.
    fn stop_runs(&mut self, reason: &str, pick: impl Fn(&Run) -> bool) -> Vec<usize> {
        let mut stopped = Vec::new();
        let mut items = Vec::new();
        for (i, r) in self.runs.iter_mut().enumerate() {
            if pick(r) {
                r.stop_reason = Some(reason.to_string());
                items.extend(r.deck_items.iter().copied());
                stopped.push(i);
            }
        }
        for (o, id) in items {
            self.engine.stop(o, id);
        }
        stopped
    }

    /// Announcement acks decided since the last call.
    pub fn take_announcement_notes(&mut self) -> Vec<AnnouncementNote> {
        std::mem::take(&mut self.announcement_notes)
    }

    /// Announcements still waiting behind a higher item when they expire are dropped.
    fn expire_announcements(&mut self, now: DateTime<Utc>) {
        let expired = self.stop_runs("expired while waiting behind a higher item", |r| {
            matches!(r.origin, Origin::Announcement { expires, .. }
                if r.sounded_at.is_none() && expires <= now && r.stop_reason.is_none())
        });
        for i in expired {
            self.announcement_notes.push(AnnouncementNote::Failed {
                id: self.runs[i].id().to_string(),
                code: "expired",
                reason: "its exp passed while it waited behind a higher item".into(),
            });
        }
    }

    /// Zones: on before the sound when `run` will air at once; zones of
    /// lower items on its outputs that it does not target fall silent while
    /// it airs.
    fn claim_zones(&mut self, run: &mut Run, start: DateTime<Utc>) {
        let higher = self.runs.iter().any(|r| {
            r.program.priority > run.program.priority
                && r.outputs.iter().any(|o| run.outputs.contains(o))
        });
        if higher {
            return;
        }
        run.demand = run.program.zones.clone();
        self.zone_notes.push(ZoneNote::Sound {
            zones: run.demand.clone(),
            at: start,
        });
        let mut muted: Vec<String> = Vec::new();
        for r in self.runs.iter_mut().filter(|r| {
            r.program.priority <= run.program.priority
                && r.outputs.iter().any(|o| run.outputs.contains(o))
        }) {
            let (gone, kept): (Vec<String>, Vec<String>) = r
                .demand
                .drain(..)
                .partition(|z| !run.program.zones.contains(z));
            r.demand = kept;
            muted.extend(gone);
        }
        if !muted.is_empty() {
            self.zone_notes.push(ZoneNote::Mute {
                zones: muted,
                at: start,
            });
        }
    }

    /// Zone switching decided since the last call.
    pub fn take_zone_notes(&mut self) -> Vec<ZoneNote> {
        std::mem::take(&mut self.zone_notes)
    }

    /// After a run ended at `at`: its zones fall silent, and what resumes on
    /// its outputs sounds again.
    fn zones_after(&mut self, ended: &Run, at: DateTime<Utc>) {
        if !ended.demand.is_empty() {
            self.zone_notes.push(ZoneNote::Silent {
                zones: ended.demand.clone(),
                at,
            });
        }
        let outputs = &ended.outputs;
        let top = self
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.outputs.iter().any(|o| outputs.contains(o)))
            .max_by_key(|(_, r)| r.program.priority)
            .map(|(i, _)| i);
        if let Some(i) = top {
            let r = &mut self.runs[i];
            let missing: Vec<String> = r
                .program
                .zones
                .iter()
                .filter(|z| !r.demand.contains(z))
                .cloned()
                .collect();
            if !missing.is_empty() {
                r.demand.extend(missing.iter().cloned());
                self.zone_notes.push(ZoneNote::Sound { zones: missing, at });
            }
        }
    }

    /// The outputs a program's zones are on.
    fn outputs_of(&self, p: &Program) -> Vec<usize> {
        let st = &self.config.station;
        st.outputs_of(&p.zones)
            .iter()
            .filter_map(|o| st.outputs.iter().position(|x| x.name == *o))
            .collect()
    }

    /// A running occurrence of the same level on one of `p`'s outputs.
    fn equal_blocker(&self, p: &Program) -> Option<&Run> {
        let outputs = self.outputs_of(p);
        self.runs.iter().find(|r| {
            r.program.priority == p.priority && r.outputs.iter().any(|o| outputs.contains(o))
        })
    }

    fn busy_with_equal(&self, p: &Program) -> bool {
        self.equal_blocker(p).is_some()
    }

    fn submit(&mut self, run: &mut Run, start: DateTime<Utc>, offset: Duration) {
        let next = &run.items[run.item];
        let start = start + delta(next.gap_before);
        let mut item = Item::new(next.media.clone(), deck_priority(run.program.priority))
            .starting_at(to_system(start))
            .from_offset(offset)
            .with_volume(run.program.volume);
        if let Some(e) = run.end {
            item = item.ending_at(to_system(e));
        }
        run.deck_items = run
            .outputs
            .iter()
            .map(|&o| (o, self.engine.play(o, item.clone())))
            .collect();
    }

    fn start_waiting(&mut self, now: DateTime<Utc>) {
        let mut i = 0;
        while i < self.waiting.len() {
            let blocked = self.busy_with_equal(&self.waiting[i].program);
            let w = &self.waiting[i];
            if !blocked {
                let w = self.waiting.remove(i);
                info!(
                    "`{}` waited and starts now, from its beginning",
                    w.program.id
                );
                self.fire(w.program, w.scheduled, now, Duration::ZERO);
                continue;
            }
            if w.deadline <= now {
                let w = self.waiting.remove(i);
                let why = format!(
                    "waited until {} for {}",
                    hms(w.deadline, self.tz),
                    w.blocker
                );
                self.skip(&w.program, w.scheduled, now, &why);
                continue;
            }
            i += 1;
        }
    }

    fn save_progress(&mut self, now: DateTime<Utc>) {
        let mut any = false;
        for r in &self.runs {
            for row in r.rows.values() {
                any = true;
                if let Err(e) = self.log.progress(row.id, ms(now - row.started)) {
                    warn!("airtime log: {e}");
                }
            }
        }
        self.next_progress = any.then(|| now + PROGRESS_EVERY);
    }

    /// Deck events: rows start and end; programs go on to their next item.
    pub fn handle(&mut self, events: Vec<(usize, DeckEvent)>) {
        for (output, ev) in events {
            let item_id = match &ev {
                DeckEvent::Started { item, .. }
                | DeckEvent::Ended { item, .. }
                | DeckEvent::ItemEnded { item, .. } => *item,
                DeckEvent::OutputFailed { reason, at } => {
                    warn!("output {}: {reason}", self.output_name(output));
                    self.outputs_down
                        .insert(output, (reason.clone(), from_system(*at)));
                    continue;
                }
                DeckEvent::OutputRestored { gap, .. } => {
                    self.outputs_down.remove(&output);
                    warn!(
                        "output {} is back after {} ms of silence",
                        self.output_name(output),
                        gap.as_millis()
                    );
                    continue;
                }
            };
            let Some(ri) = self
                .runs
                .iter()
                .position(|r| r.deck_items.contains(&(output, item_id)))
            else {
                continue;
            };
            let primary = self.runs[ri].deck_items.first() == Some(&(output, item_id));
            match ev {
                DeckEvent::Started { piece, at, .. } if primary => {
                    let at = from_system(at);
                    let r = &self.runs[ri];
                    let item = &r.items[r.item];
                    // A playlist's file, a relay's window (once, for the
                    // first of its sources to air), or the item's length.
                    let planned = if item.endless {
                        if piece.kind == loa_audio::SourceKind::Stream
                            && r.relay_planned == Some(item_id)
                        {
                            0
                        } else {
                            r.end.map_or(0, |e| ms(e - at))
                        }
                    } else if piece.kind == loa_audio::SourceKind::File
                        && piece.source != item.source
                    {
                        (self.probe)(Path::new(&piece.source))
                            .map(|d| d.as_millis() as u64)
                            .unwrap_or(0)
                    } else {
                        item.length.map_or(0, |d| d.as_millis() as u64)
                    };
                    let row = self.piece_row(r, at, &piece, planned);
                    if piece.kind == loa_audio::SourceKind::Stream {
                        self.runs[ri].relay_planned = Some(item_id);
                    }
                    if self.runs[ri].sounded_at.is_none() {
                        self.runs[ri].sounded_at = Some(at);
                        if let Origin::Announcement { id, .. } = &self.runs[ri].origin {
                            self.announcement_notes
                                .push(AnnouncementNote::Started { id: id.clone() });
                        }
                    }
                    match self.log.start(&row) {
                        Ok(id) => {
                            self.stats.rows += 1;
                            self.runs[ri]
                                .rows
                                .insert((item_id, piece.source), OpenRow { id, started: at });
                            if self.save_progress && self.next_progress.is_none() {
                                self.next_progress = Some(at + PROGRESS_EVERY);
                            }
                        }
                        Err(e) => warn!("airtime log: {e}"),
                    }
                }
                DeckEvent::Ended {
                    piece,
                    outcome,
                    aired_frames,
                    at,
                    ..
                } if primary => {
                    let at_utc = from_system(at);
                    let aired_ms = aired_frames * 1000 / 48_000;
                    let (outcome, detail) = self.row_outcome(ri, output, &outcome);
                    let local = self.local(at_utc);
                    match self.runs[ri].rows.remove(&(item_id, piece.source.clone())) {
                        Some(row) => {
                            if let Err(e) =
                                self.log
                                    .finish(row.id, local, aired_ms, outcome, detail.as_deref())
                            {
                                warn!("airtime log: {e}");
                            }
                        }
                        None => {
                            // Ended without a start: it never sounded (a missing
                            // file...). A relay source that never aired failed
                            // over its whole window: its row starts when the
                            // run first sounded (or was due), on the day the
                            // report counts it, and plans the window once.
                            let r = &self.runs[ri];
                            let relay = piece.kind == loa_audio::SourceKind::Stream;
                            let started = if relay {
                                r.sounded_at.unwrap_or(r.scheduled).min(at_utc)
                            } else {
                                at_utc
                            };
                            let planned = if relay && r.relay_planned != Some(item_id) {
                                r.end.map_or(0, |e| ms(e - started))
                            } else {
                                0
                            };
                            let row = self.piece_row(r, started, &piece, planned);
                            if relay {
                                self.runs[ri].relay_planned = Some(item_id);
                            }
                            if let Err(e) =
                                self.log
                                    .record(&row, local, aired_ms, outcome, detail.as_deref())
                            {
                                warn!("airtime log: {e}");
                            }
                            self.stats.rows += 1;
                        }
                    }
                }
                DeckEvent::ItemEnded { outcome, at, .. } => {
                    let at = from_system(at);
                    self.runs[ri].deck_items.retain(|x| *x != (output, item_id));
                    if primary {
                        self.item_ended(ri, outcome, at);
                    }
                }
                _ => {}
            }
        }
    }

    fn output_name(&self, o: usize) -> &str {
        self.config
            .station
            .outputs
            .get(o)
            .map_or("?", |x| x.name.as_str())
    }

    /// The airtime outcome and detail of a piece's end.
    fn row_outcome(
        &self,
        ri: usize,
        output: usize,
        outcome: &DeckOutcome,
    ) -> (Outcome, Option<String>) {
        let r = &self.runs[ri];
        match outcome {
            DeckOutcome::Completed => (Outcome::Completed, None),
            DeckOutcome::Cut => (
                Outcome::Cut,
                Some(
                    r.stop_reason
                        .clone()
                        .unwrap_or_else(|| r.end_reason.clone()),
                ),
            ),
            DeckOutcome::Preempted => {
                let by = self
                    .runs
                    .iter()
                    .filter(|x| {
                        x.program.priority > r.program.priority && x.outputs.contains(&output)
                    })
                    .map(|x| x.program.title.clone())
                    .next();
                (
                    Outcome::Preempted,
                    Some(match by {
                        Some(t) => {
                            format!("preempted by {t}; its window closed before it could resume")
                        }
                        None => "preempted; its window closed before it could resume".into(),
                    }),
                )
            }
            DeckOutcome::Failed(why) => (Outcome::Failed, Some(why.clone())),
            DeckOutcome::NotAired => (
                Outcome::Skipped,
                Some(r.stop_reason.clone().unwrap_or_else(|| {
                    "never aired: a higher item held the output until its window closed".into()
                })),
            ),
        }
    }

    fn item_ended(&mut self, ri: usize, outcome: DeckOutcome, at: DateTime<Utc>) {
        // Secondary outputs follow the primary.
        let others: Vec<(usize, ItemId)> = self.runs[ri].deck_items.drain(..).collect();
        for (o, id) in others {
            self.engine.stop(o, id);
        }
        let go_on = matches!(outcome, DeckOutcome::Completed | DeckOutcome::Failed(_))
            && self.runs[ri].stop_reason.is_none()
            && self.runs[ri].end.is_none_or(|e| e > at);
        let r = &mut self.runs[ri];
        if go_on {
            r.item += 1;
            if r.item >= r.items.len() && r.program.looped {
                r.item = 0;
            }
            if r.item < r.items.len() {
                let mut run = self.runs.remove(ri);
                self.submit(&mut run, at, Duration::ZERO);
                self.runs.push(run);
                return;
            }
        }
        let run = self.runs.remove(ri);
        self.zones_after(&run, at);
        if let Origin::Announcement { id, .. } = &run.origin {
            let note = match (&outcome, &run.stop_reason) {
                (_, Some(r)) if r.starts_with("expired") => None, // already failed: expired
                (DeckOutcome::Completed, None) => Some(AnnouncementNote::Done {
                    id: id.clone(),
                    reason: None,
                }),
                (_, Some(r)) if run.sounded_at.is_some() => Some(AnnouncementNote::Done {
                    id: id.clone(),
                    reason: Some(r.clone()),
                }),
                (_, Some(r)) => Some(AnnouncementNote::Failed {
                    id: id.clone(),
                    code: "stopped",
                    reason: r.clone(),
                }),
                (DeckOutcome::Failed(why), None) => Some(AnnouncementNote::Failed {
                    id: id.clone(),
                    code: "failed",
                    reason: why.clone(),
                }),
                (DeckOutcome::Cut, None) => Some(AnnouncementNote::Done {
                    id: id.clone(),
                    reason: Some(run.end_reason.clone()),
                }),
                (_, None) => Some(AnnouncementNote::Failed {
                    id: id.clone(),
                    code: "preempted",
                    reason: "a higher item held its output".into(),
                }),
            };
            self.announcement_notes.extend(note);
            let live = run.items.get(run.item).is_some_and(|i| i.kind == "live");
            if live && matches!(outcome, DeckOutcome::Cut) && run.stop_reason.is_none() {
                warn!("live session {id}: {}", run.end_reason);
            }
        }
        // Open rows of this item that the deck did not close (should not happen).
        for row in run.rows.values() {
            let local = self.local(at);
            let _ = self.log.finish(
                row.id,
                local,
                ms(at - row.started),
                Outcome::Cut,
                Some("ended"),
            );
        }
        if !go_on {
            let why = match &outcome {
                DeckOutcome::NotAired => run
                    .stop_reason
                    .clone()
                    .unwrap_or_else(|| "the program's window closed before it aired".into()),
                _ => run
                    .stop_reason
                    .clone()
                    .unwrap_or_else(|| run.end_reason.clone()),
            };
            let from = if matches!(outcome, DeckOutcome::NotAired) {
                run.item
            } else {
                run.item + 1
            };
            if !run.program.looped {
                let rest = &run.items[from.min(run.items.len())..];
                self.skip_items(&run.origin, &run.program, rest, run.scheduled, at, &why);
            }
        }
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

    /// Closes every open row as cut (graceful shutdown after the fade).
    pub fn close_rows(&mut self, now: DateTime<Utc>, detail: &str) {
        let local = self.local(now);
        for r in self.runs.drain(..) {
            for row in r.rows.values() {
                if let Err(e) = self.log.finish(
                    row.id,
                    local,
                    ms(now - row.started),
                    Outcome::Cut,
                    Some(detail),
                ) {
                    warn!("airtime log: {e}");
                }
            }
        }
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

    /// Announcements on the air or waiting to, oldest first.
    pub fn announcements(&self) -> Vec<AnnouncementView> {
        self.runs
            .iter()
            .filter_map(|r| match &r.origin {
                Origin::Announcement {
                    id,
                    trigger,
                    requested_by,
                    ..
                } => Some(AnnouncementView {
                    id: id.clone(),
                    title: r.program.title.clone(),
                    priority: r.program.priority,
                    kind: r.items.last().map(|i| i.kind.clone()).unwrap_or_default(),
                    zones: r.program.zones.clone(),
                    trigger: *trigger,
                    requested_by: requested_by.clone(),
                    since: r.sounded_at,
                    // Past the chime, with a row open: its own audio sounds.
                    on_air: r.item >= 1 && !r.rows.is_empty(),
                }),
                Origin::Schedule => None,
            })
            .collect()
    }

    /// Stops whatever airs or waits on the decks now, scheduled programs
    /// and announcements alike (fading out; rows get `reason`). Programs
    /// waiting for their turn and later occurrences are not touched.
    pub fn stop_airing(&mut self, reason: &str) -> Vec<Stopped> {
        let stopped = self.stop_runs(reason, |r| r.stop_reason.is_none());
        stopped
            .into_iter()
            .map(|i| {
                let r = &self.runs[i];
                Stopped {
                    id: r.id().to_string(),
                    title: r.program.title.clone(),
                    announcement: matches!(r.origin, Origin::Announcement { .. }),
                }
            })
            .collect()
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

/// The quiet hours that keep `priority` off the air at `at` (SPEC section
/// 4: only emergency sounds in them), if `at` falls in them.
pub fn quiet_hours_hold(
    quiet_hours: Option<DailyWindow>,
    tz: Tz,
    priority: Priority,
    at: DateTime<Utc>,
) -> Option<DailyWindow> {
    let q = quiet_hours?;
    (priority < Priority::Emergency && q.contains(at.with_timezone(&tz).time())).then_some(q)
}

/// The chime before an announcement: policy.chime's file while it is
/// there, else the built-in one.
fn chime_media(chime: &Chime) -> Media {
    match chime {
        Chime::File(p) if p.is_file() => Media::file(p.clone()),
        _ => Media::Chime,
    }
}

/// "30 min", "90 s": a policy duration as the log says it.
fn span_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The item and the offset in it that `offset` into a run reaches.
fn seek(items: &[RunItem], looped: bool, offset: Duration) -> (usize, Duration) {
    let mut left = offset;
    for (i, item) in items.iter().enumerate() {
        if item.endless {
            return (i, Duration::ZERO); // relays and live input are joined live
        }
        let Some(len) = item.length else {
            return (i, left);
        };
        if left < len {
            return (i, left);
        }
        left -= len;
    }
    if looped {
        return (0, Duration::ZERO);
    }
    (items.len(), Duration::ZERO)
}

/// A `MediaProbe` over the scheduler's probe closure.
struct ProbeFn<'a>(&'a dyn Fn(&Path) -> Result<Duration, String>);

impl loa_schedules::MediaProbe for ProbeFn<'_> {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        (self.0)(path)
    }
    fn speech_length(&self, text: &str, _voice: Option<&str>) -> Result<Duration, String> {
        Ok(estimated_speech(text))
    }
}

/// What an airtime row's `source` says of a schedule item.
pub fn source_text(s: &Source) -> String {
    match s {
        Source::File(p) => p.display().to_string(),
        Source::Newest { glob, .. } => glob.clone(),
        Source::Playlist { entries, .. } => match entries {
            loa_schedules::PlaylistEntries::Glob(g) => g.clone(),
            loa_schedules::PlaylistEntries::Files(f) => f
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        },
        Source::Tts { text, .. } => text.clone(),
        // The first source: the one the relay airs when all is well (the
        // audio crate's rows name the source that actually aired).
        Source::Stream { urls, .. } => urls.first().cloned().unwrap_or_default(),
        Source::Live { input } => input.clone(),
        Source::Silence(d) => format!("{} ms", d.as_millis()),
        Source::Tone { hz, length } => format!("{hz} Hz, {} ms", length.as_millis()),
    }
}

/// The first start of quiet hours in (start, until).
fn next_quiet_start(
    q: &loa_schedules::DailyWindow,
    tz: Tz,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut day = start.with_timezone(&tz).date_naive();
    let last = until.with_timezone(&tz).date_naive();
    while day <= last {
        let at = resolve_local(tz, day.and_time(q.start)).with_timezone(&Utc);
        if at > start && at < until {
            return Some(at);
        }
        day = day.succ_opt()?;
    }
    None
}

#[cfg(test)]
mod tests;
