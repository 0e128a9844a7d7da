//! Firing: each occurrence that falls due becomes a run of items on its
//! decks, by the rules of SPEC section 4 (`loa_schedules::rules`: the order
//! of what falls due at once, quiet hours, hard ends, `if_busy`; the decks
//! themselves put the higher level on the air), and `late_start`; waiting
//! runs start when their output frees.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use loa_audio::Media;
use loa_schedules::agenda::{playlist_files, Length};
use loa_schedules::rules::{self, EndCause, Meeting};
use loa_schedules::{DailyWindow, IfBusy, LateStart, Order, Priority, Program, Source};
use tracing::{info, warn};

use crate::runtime::airtime::Outcome;
use crate::runtime::engine::{estimated_speech, Engine};

use super::*;

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

/// The quiet hours that keep `priority` off the air at `at` (SPEC section
/// 4: only emergency sounds in them), if `at` falls in them: the rule, at
/// the station's local time.
pub fn quiet_hours_hold(
    quiet_hours: Option<DailyWindow>,
    tz: Tz,
    priority: Priority,
    at: DateTime<Utc>,
) -> Option<DailyWindow> {
    rules::quiet_hold(quiet_hours, priority, at.with_timezone(&tz).time())
}

/// "30 min", "90 s": a policy duration as the log says it.
pub(super) fn span_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The item and the offset in it that `offset` into a run reaches.
pub(super) fn seek(items: &[RunItem], looped: bool, offset: Duration) -> (usize, Duration) {
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
pub(super) struct ProbeFn<'a>(&'a dyn Fn(&Path) -> Result<Duration, String>);

impl loa_schedules::MediaProbe for ProbeFn<'_> {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        (self.0)(path)
    }
    fn speech_length(&self, text: &str, _voice: &loa_core::Voice) -> Result<Duration, String> {
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

impl<E: Engine> Scheduler<E> {
    /// How long a program's occurrence window lasts, when known.
    pub(super) fn window(&self, p: &Program) -> Option<Duration> {
        p.duration.or(match self.lengths.get(&p.id) {
            Some(Length::Known(d)) => Some(*d),
            _ => None,
        })
    }

    /// The longest window of any program: how far back start-up looks.
    pub(super) fn lookback(&self) -> TimeDelta {
        let longest = self
            .config
            .programs
            .iter()
            .filter_map(|p| self.window(p))
            .max()
            .unwrap_or(Duration::from_secs(3600));
        delta(longest.min(Duration::from_secs(86_400)))
    }

    pub(super) fn fire_due(
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
        due.sort_by(|a, b| rules::due_order((&a.0, a.1, a.2), (&b.0, b.1, b.2)));
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

    /// What a program plays, item by item, as the decks take it.
    pub(super) fn items_of(&self, p: &Program) -> Vec<RunItem> {
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
    pub(super) fn skip(
        &mut self,
        p: &Program,
        scheduled: DateTime<Utc>,
        now: DateTime<Utc>,
        why: &str,
    ) {
        let items = self.items_of(p);
        self.skip_items(&Origin::Schedule, p, &items, scheduled, now, why);
    }

    pub(super) fn skip_items(
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
    pub(super) fn fire(
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
        // Where it must end whatever it plays: its window, or quiet hours.
        let hard_end = rules::hard_end(
            &scheduled.with_timezone(&self.tz),
            &start.with_timezone(&self.tz),
            p.duration,
            p.priority,
            self.config.station.policy.quiet_hours,
        );
        if let Some(blocker) = busy {
            if start > self.now {
                self.deferred.push((p, scheduled));
                return;
            }
            // An equal level airs (a higher one is the decks' to hold it
            // beneath, a lower one theirs to pause).
            match rules::meet(
                p.priority,
                p.if_busy,
                p.priority,
                &scheduled,
                hard_end.map(|(e, _)| e.with_timezone(&Utc)).as_ref(),
            ) {
                Meeting::Preempts => {}
                Meeting::Skips => {
                    let why = format!("busy: {blocker} was airing (if_busy: skip)");
                    self.skip(&p, scheduled, start, &why);
                    return;
                }
                Meeting::Waits { until } => {
                    if let IfBusy::Wait(d) = p.if_busy {
                        info!("`{}` waits up to {} s for `{blocker}`", p.id, d.as_secs());
                    }
                    self.waiting.push(Waiting {
                        program: p,
                        scheduled,
                        deadline: until.unwrap_or(DateTime::<Utc>::MAX_UTC),
                        blocker,
                    });
                    return;
                }
            }
        }
        let end = hard_end.map(|(e, _)| e.with_timezone(&Utc));
        let end_reason = match hard_end {
            Some((_, EndCause::QuietHours(q))) => format!("quiet hours from {}", q.format("%H:%M")),
            _ => "window closed".to_string(),
        };
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
            next_items: Vec::new(),
            early: Vec::new(),
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

    /// A running occurrence of the same level on one of `p`'s outputs.
    pub(super) fn equal_blocker(&self, p: &Program) -> Option<&Run> {
        let outputs = self.outputs_of(p);
        self.runs.iter().find(|r| {
            r.program.priority == p.priority && r.outputs.iter().any(|o| outputs.contains(o))
        })
    }

    pub(super) fn busy_with_equal(&self, p: &Program) -> bool {
        self.equal_blocker(p).is_some()
    }

    pub(super) fn submit(&mut self, run: &mut Run, start: DateTime<Utc>, offset: Duration) {
        let next = &run.items[run.item];
        let start = start + delta(next.gap_before);
        let item = run
            .deck_item(next)
            .starting_at(to_system(start))
            .from_offset(offset);
        run.deck_items = run
            .outputs
            .iter()
            .map(|&o| (o, self.engine.play(o, item.clone())))
            .collect();
        self.queue_next(run);
    }

    /// Gives the decks the run's next item ahead, to follow the one on them
    /// now: it airs from the sample that one ends, so nothing paused beneath
    /// the program sounds in between, and it is prepared while that one
    /// airs. Not for an item after a gap (an announcement's repeat), nor a
    /// relay or live input (its connection would open early): those are
    /// given when the one before ends.
    pub(super) fn queue_next(&mut self, run: &mut Run) {
        run.next_items.clear();
        let Some(n) = run.next_index() else { return };
        let next = &run.items[n];
        if !next.gap_before.is_zero() || next.endless {
            return;
        }
        let item = run.deck_item(next);
        run.next_items = run
            .deck_items
            .iter()
            .map(|&(o, id)| (o, self.engine.play(o, item.clone().following(id))))
            .collect();
    }

    pub(super) fn start_waiting(&mut self, now: DateTime<Utc>) {
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
}
