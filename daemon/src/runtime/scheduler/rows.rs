//! Airtime rows: one per aired item, opened when it starts, its progress
//! saved as it airs, closed with its outcome when the deck reports its end.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use loa_audio::{DeckEvent, Ending, ItemId, Piece};
use loa_schedules::Program;
use tracing::warn;

use crate::runtime::airtime::{NewRow, Outcome, Trigger};
use crate::runtime::clock::from_system;
use crate::runtime::engine::Engine;

use super::*;

impl<E: Engine> Scheduler<E> {
    #[allow(
        clippy::too_many_arguments,
        reason = "the columns of one airtime row, from different stages of firing"
    )]
    pub(super) fn row_for(
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
    pub(super) fn piece_row(
        &self,
        r: &Run,
        at: DateTime<Utc>,
        piece: &Piece,
        planned_ms: u64,
    ) -> NewRow {
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

    pub(super) fn save_progress(&mut self, now: DateTime<Utc>) {
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
                    let was_down = self
                        .outputs_down
                        .insert(output, (reason.clone(), from_system(*at)))
                        .is_some();
                    match self.outages.iter_mut().rev().find(|o| o.output == output) {
                        // The same outage, another cause (back, but refusing).
                        Some(o) if was_down && o.to.is_none() => o.reason = reason.clone(),
                        _ => {
                            if self.outages.len() == OUTAGES_KEPT {
                                self.outages.pop_front();
                            }
                            self.outages.push_back(Outage {
                                output,
                                from: from_system(*at),
                                to: None,
                                reason: reason.clone(),
                            });
                        }
                    }
                    continue;
                }
                DeckEvent::OutputRestored { gap, at } => {
                    self.outputs_down.remove(&output);
                    if let Some(o) = self
                        .outages
                        .iter_mut()
                        .rev()
                        .find(|o| o.output == output && o.to.is_none())
                    {
                        o.to = Some(from_system(*at));
                    }
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
                // A next item's event before it took over: kept until it does.
                if let Some(r) = self
                    .runs
                    .iter_mut()
                    .find(|r| r.next_items.contains(&(output, item_id)))
                {
                    r.early.push((output, ev));
                }
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
                            let detail = match (detail, self.unheard(ri, row.started, at_utc)) {
                                (Some(d), Some(n)) => Some(format!("{d}; {n}")),
                                (d, n) => d.or(n),
                            };
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

    pub(super) fn output_name(&self, o: usize) -> &str {
        self.config
            .station
            .outputs
            .get(o)
            .map_or("?", |x| x.name.as_str())
    }

    /// The airtime outcome and detail of a piece's end: the deck's ending
    /// gives the outcome; the run says why it was cut, preempted or skipped.
    /// What listeners of the run's outputs could not hear between `from`
    /// and `to` (a row's airing): each outage that overlaps it, in the
    /// row's `detail`, so the log tells what the receivers missed.
    pub(super) fn unheard(
        &self,
        ri: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<String> {
        let outputs = &self.runs[ri].outputs;
        let notes: Vec<String> = self
            .outages
            .iter()
            .filter(|o| outputs.contains(&o.output))
            .filter(|o| o.from < to && o.to.is_none_or(|end| end > from))
            .map(|o| {
                let start = o.from.max(from);
                let end = o.to.map_or(to, |e| e.min(to));
                let secs = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
                let until = match o.to {
                    Some(e) if e <= to => format!("to {}", self.local(e).format("%H:%M:%S")),
                    _ => "to the end".to_string(),
                };
                format!(
                    "not heard on output {} from {} {until} ({secs:.1} s): {}",
                    self.output_name(o.output),
                    self.local(start).format("%H:%M:%S"),
                    o.reason
                )
            })
            .collect();
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    pub(super) fn row_outcome(
        &self,
        ri: usize,
        output: usize,
        ending: &Ending,
    ) -> (Outcome, Option<String>) {
        let r = &self.runs[ri];
        let stop_or = |default: &str| r.stop_reason.clone().unwrap_or_else(|| default.to_string());
        let detail = match ending {
            Ending::Completed => None,
            Ending::Cut => Some(stop_or(&r.end_reason)),
            Ending::Preempted => {
                let by = self
                    .runs
                    .iter()
                    .find(|x| {
                        x.program.priority > r.program.priority && x.outputs.contains(&output)
                    })
                    .map(|x| x.program.title.as_str());
                Some(match by {
                    Some(t) => {
                        format!("preempted by {t}; its window closed before it could resume")
                    }
                    None => "preempted; its window closed before it could resume".into(),
                })
            }
            Ending::Failed(why) => Some(why.clone()),
            Ending::NotAired => Some(stop_or(
                "never aired: a higher item held the output until its window closed",
            )),
        };
        (ending.outcome(), detail)
    }

    pub(super) fn item_ended(&mut self, ri: usize, outcome: Ending, at: DateTime<Utc>) {
        // Secondary outputs follow the primary.
        let others: Vec<(usize, ItemId)> = self.runs[ri].deck_items.drain(..).collect();
        for (o, id) in others {
            self.engine.stop(o, id);
        }
        let go_on = matches!(outcome, Ending::Completed | Ending::Failed(_))
            && self.runs[ri].stop_reason.is_none()
            && self.runs[ri].end.is_none_or(|e| e > at);
        let r = &mut self.runs[ri];
        if go_on {
            if let Some(n) = r.next_index() {
                r.item = n;
                let mut run = self.runs.remove(ri);
                if run.next_items.is_empty() {
                    self.submit(&mut run, at, Duration::ZERO);
                } else {
                    // Already on the decks, taking over from the one that ended.
                    run.deck_items = std::mem::take(&mut run.next_items);
                    self.queue_next(&mut run);
                }
                let early = std::mem::take(&mut run.early);
                self.runs.push(run);
                self.handle(early);
                return;
            }
        }
        let mut run = self.runs.remove(ri);
        for (o, id) in run.next_items.drain(..) {
            self.engine.stop(o, id);
        }
        self.zones_after(&run, at);
        if let Origin::Announcement { id, .. } = &run.origin {
            let note = match (&outcome, &run.stop_reason) {
                (_, Some(r)) if r.starts_with("expired") => None, // already failed: expired
                (Ending::Completed, None) => Some(AnnouncementNote::Done {
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
                (Ending::Failed(why), None) => Some(AnnouncementNote::Failed {
                    id: id.clone(),
                    code: "failed",
                    reason: why.clone(),
                }),
                (Ending::Cut, None) => Some(AnnouncementNote::Done {
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
            if live && matches!(outcome, Ending::Cut) && run.stop_reason.is_none() {
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
                Ending::NotAired => run
                    .stop_reason
                    .clone()
                    .unwrap_or_else(|| "the program's window closed before it aired".into()),
                _ => run
                    .stop_reason
                    .clone()
                    .unwrap_or_else(|| run.end_reason.clone()),
            };
            let from = if matches!(outcome, Ending::NotAired) {
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
}
