//! The agenda's timeline: the day run through a model of the daemon's
//! scheduler and decks, event by event, so that what the agenda promises is
//! what `loa run` does (the differential test in the daemon checks it
//! against `loa simulate`, which runs the real scheduler).
//!
//! What it models, as the daemon does it:
//! - the scheduler decides each occurrence at its lead time
//!   ([`rules::lead`]) in [`rules::due_order`]: quiet hours skip it; an
//!   equal level on one of its outputs defers it to its second, where
//!   `if_busy` decides ([`rules::meet`]: preempt, skip, or wait for the
//!   equal one to end); otherwise its first item goes to every output's
//!   deck with its start instant and its hard end ([`rules::hard_end`]);
//! - each output's deck airs the highest item, the newest among equals
//!   ([`rules::on_top`]); the others wait or pause beneath it and resume
//!   where they were; a hard end takes an item off wherever it is, and
//!   decides on what aired until then (cut, preempted, never aired);
//! - a program's next item goes to each deck ahead, to take the place of
//!   the one before on the sample it leaves (a relay or live item is given
//!   when the one before ends);
//! - a program's timeline follows its first output (its primary, where its
//!   airtime rows come from): when an item ends there, the program's items
//!   still on its other outputs are stopped and it goes on to the next
//!   item everywhere (on an output where it ran ahead, the next one given
//!   ahead has already aired);
//! - at one instant: the decks first (items that run out, then hard ends,
//!   then what starts), then the scheduler's tick (waiters whose output is
//!   free, then deferred occurrences, then those falling due, then waiters
//!   again).
//!
//! Pure, like the rules: the agenda brings the lengths and the period.

use std::time::Duration;

use chrono::{DateTime, TimeDelta};
use chrono_tz::Tz;

use crate::occurrence::{delta, DailyWindow};
use crate::rules::{self, EndCause, Meeting};
use crate::{IfBusy, Priority, Station};

type T = DateTime<Tz>;

/// One item of a program as the model plays it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Piece {
    /// How long it plays (None: until the hard end).
    pub length: Option<Duration>,
    /// A relay or live input: given to the decks when the one before ends.
    pub endless: bool,
}

/// One occurrence as the model takes it.
pub(super) struct Occurrence {
    pub scheduled: T,
    /// Index into `Config::programs` (file order, for `due_order`).
    pub program: usize,
    pub priority: Priority,
    pub if_busy: IfBusy,
    /// `duration:` (the window).
    pub window: Option<Duration>,
    /// Its outputs, in station order: the first is its primary.
    pub outputs: Vec<usize>,
    /// Its items, in order (at least one).
    pub items: Vec<Piece>,
}

/// How an occurrence left its primary deck for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// Its items ran out.
    Completed,
    /// Its hard end came while it aired, or as an item ended with items
    /// left.
    Cut,
    /// Its hard end came while it was held beneath a higher item, after it
    /// had aired.
    Preempted,
    /// Its hard end came before it ever aired.
    NotAired,
}

/// Why an occurrence was skipped by the scheduler.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Skip {
    /// 4.6: quiet hours at its start.
    Quiet(DailyWindow),
    /// `if_busy: skip` met this occurrence airing.
    Busy(usize),
    /// It waited (`if_busy: wait`) for this one past its deadline.
    Waited(usize),
}

/// A stretch held beneath another item, on the primary, after it started.
#[derive(Clone, Debug)]
pub(super) struct Pause {
    pub by: usize,
    pub from: T,
    pub to: Option<T>,
}

/// What became of one occurrence.
#[derive(Clone, Debug, Default)]
pub(super) struct Fate {
    pub skip: Option<Skip>,
    /// When it first aired on its primary.
    pub started: Option<T>,
    /// How long it aired on its primary.
    pub aired: Duration,
    /// When and how it left its primary for good.
    pub ended: Option<(T, Ending)>,
    pub pauses: Vec<Pause>,
    /// What held its primary output when it was due (it waited for it).
    pub held_by: Option<usize>,
    /// What held its primary output when its hard end came before it aired.
    pub gave_up_to: Option<usize>,
    /// Its hard end, as fired.
    pub hard_end: Option<(T, EndCause)>,
}

/// An item on one output's deck.
struct DeckItem {
    id: u64,
    slot: usize,
    level: Priority,
    seq: u64,
    start_at: T,
    end_at: Option<T>,
    /// Left to play (None: until its hard end).
    remaining: Option<Duration>,
    started: bool,
    /// Waits until this item leaves the deck, then takes its place.
    after: Option<u64>,
    /// On its program's first output (its fate is told there).
    primary: bool,
}

/// A deck's report that an item left it.
struct Left {
    output: usize,
    id: u64,
    ending: Ending,
    at: T,
}

/// An occurrence fired and not yet over on its primary.
struct Run {
    slot: usize,
    outputs: Vec<usize>,
    priority: Priority,
    end: Option<T>,
    /// The program item on the decks now, and its deck items by output.
    item: usize,
    deck_items: Vec<(usize, u64)>,
    /// The next item, given ahead to follow those.
    next_items: Vec<(usize, u64)>,
    /// Items of `next_items` that left their deck before taking over.
    early: Vec<(usize, u64)>,
}

struct Waiting {
    slot: usize,
    deadline: Option<T>,
}

pub(super) struct Model<'a> {
    station: &'a Station,
    occ: &'a [Occurrence],
    pub fates: Vec<Fate>,
    now: T,
    lead: TimeDelta,
    decks: Vec<Vec<DeckItem>>,
    /// What aired on each deck over the last stretch of time (a hard end
    /// now cuts it; any other item it finds held beneath).
    aired: Vec<Option<(u64, usize)>>,
    next_id: u64,
    left: Vec<Left>,
    runs: Vec<Run>,
    waiting: Vec<Waiting>,
    deferred: Vec<usize>,
    /// Occurrences in `due_order`; those before `next_due` are fired.
    due: Vec<usize>,
    next_due: usize,
}

impl<'a> Model<'a> {
    /// Runs every occurrence through the model: their fates, by index.
    pub fn run(station: &'a Station, occ: &'a [Occurrence]) -> Vec<Fate> {
        let mut due: Vec<usize> = (0..occ.len()).collect();
        due.sort_by(|&a, &b| {
            rules::due_order(
                (&occ[a].scheduled, occ[a].priority, occ[a].program),
                (&occ[b].scheduled, occ[b].priority, occ[b].program),
            )
        });
        let lead = delta(rules::lead(station));
        let Some(&first) = due.first() else {
            return Vec::new();
        };
        let mut m = Model {
            station,
            occ,
            fates: vec![Fate::default(); occ.len()],
            now: occ[first].scheduled - lead,
            lead,
            decks: (0..station.outputs.len()).map(|_| Vec::new()).collect(),
            aired: vec![None; station.outputs.len()],
            next_id: 0,
            left: Vec::new(),
            runs: Vec::new(),
            waiting: Vec::new(),
            deferred: Vec::new(),
            due,
            next_due: 0,
        };
        m.tick();
        loop {
            // What the decks reported during the tick (an item of no
            // length fired now), as the daemon's loop handles it next.
            m.handle();
            let Some(next) = m.next_event() else { break };
            m.advance_to(next);
            m.handle();
            m.tick();
        }
        m.fates
    }

    fn overlap(a: &[usize], b: &[usize]) -> bool {
        a.iter().any(|o| b.contains(o))
    }

    // --- the scheduler -------------------------------------------------

    /// A run of the same level on one of `slot`'s outputs.
    fn equal_blocker(&self, slot: usize) -> Option<usize> {
        let o = &self.occ[slot];
        self.runs
            .iter()
            .find(|r| r.priority == o.priority && Self::overlap(&r.outputs, &o.outputs))
            .map(|r| r.slot)
    }

    fn tick(&mut self) {
        let now = self.now;
        self.start_waiting();
        let mut deferred = std::mem::take(&mut self.deferred);
        deferred.sort_by_key(|&s| self.occ[s].scheduled);
        for s in deferred {
            let t = self.occ[s].scheduled;
            if t <= now || self.equal_blocker(s).is_none() {
                self.fire(s, now.max(t));
            } else {
                self.deferred.push(s);
            }
        }
        let horizon = now + self.lead;
        while let Some(&s) = self.due.get(self.next_due) {
            if self.occ[s].scheduled > horizon {
                break;
            }
            self.next_due += 1;
            self.fire(s, self.occ[s].scheduled);
        }
        self.start_waiting();
    }

    fn start_waiting(&mut self) {
        let mut i = 0;
        while i < self.waiting.len() {
            let slot = self.waiting[i].slot;
            match self.equal_blocker(slot) {
                None => {
                    self.waiting.remove(i);
                    self.fire(slot, self.now);
                }
                Some(b) if self.waiting[i].deadline.is_some_and(|d| d <= self.now) => {
                    self.waiting.remove(i);
                    self.fates[slot].skip = Some(Skip::Waited(b));
                }
                Some(_) => i += 1,
            }
        }
    }

    /// Decides an occurrence starting at `start` (its second, or now).
    fn fire(&mut self, slot: usize, start: T) {
        let o = &self.occ[slot];
        let policy = &self.station.policy;
        if let Some(q) = rules::quiet_hold(policy.quiet_hours, o.priority, start.time()) {
            self.fates[slot].skip = Some(Skip::Quiet(q));
            return;
        }
        let busy = self.equal_blocker(slot);
        // An earlier occurrence of its level deferred on its outputs goes first.
        let queued_before = self.deferred.iter().any(|&d| {
            let x = &self.occ[d];
            x.scheduled < o.scheduled
                && x.priority == o.priority
                && Self::overlap(&x.outputs, &o.outputs)
        });
        if queued_before && start > self.now {
            self.deferred.push(slot);
            return;
        }
        let hard_end = rules::hard_end(
            &o.scheduled,
            &start,
            o.window,
            o.priority,
            policy.quiet_hours,
        );
        if let Some(b) = busy {
            if start > self.now {
                self.deferred.push(slot);
                return;
            }
            match rules::meet(
                o.priority,
                o.if_busy,
                o.priority,
                &o.scheduled,
                hard_end.map(|(e, _)| e).as_ref(),
            ) {
                Meeting::Preempts => {}
                Meeting::Skips => {
                    self.fates[slot].skip = Some(Skip::Busy(b));
                    return;
                }
                Meeting::Waits { until } => {
                    self.fates[slot].held_by = Some(b);
                    self.waiting.push(Waiting {
                        slot,
                        deadline: until,
                    });
                    return;
                }
            }
        }
        self.fates[slot].hard_end = hard_end;
        let mut run = Run {
            slot,
            outputs: o.outputs.clone(),
            priority: o.priority,
            end: hard_end.map(|(e, _)| e),
            item: 0,
            deck_items: Vec::new(),
            next_items: Vec::new(),
            early: Vec::new(),
        };
        self.submit(&mut run, start);
        self.runs.push(run);
    }

    /// Gives the run's current item to every output's deck.
    fn submit(&mut self, run: &mut Run, start: T) {
        let piece = self.occ[run.slot].items[run.item];
        let outputs = run.outputs.clone();
        run.deck_items = outputs
            .iter()
            .map(|&o| (o, self.play(o, run, piece, start, None)))
            .collect();
        self.queue_next(run);
    }

    /// Gives the decks the run's next item ahead, to follow the one there.
    fn queue_next(&mut self, run: &mut Run) {
        run.next_items.clear();
        let Some(&piece) = self.occ[run.slot].items.get(run.item + 1) else {
            return;
        };
        if piece.endless {
            return;
        }
        let now = self.now;
        let given: Vec<(usize, u64)> = run.deck_items.clone();
        run.next_items = given
            .into_iter()
            .map(|(o, id)| (o, self.play(o, run, piece, now, Some(id))))
            .collect();
    }

    /// The decks' reports: a program goes on to its next item, or ends,
    /// where its item on its primary leaves; its items still on its other
    /// outputs are stopped then.
    fn handle(&mut self) {
        while !self.left.is_empty() {
            for l in std::mem::take(&mut self.left) {
                self.item_left(l);
            }
        }
    }

    fn item_left(&mut self, l: Left) {
        let key = (l.output, l.id);
        let Some(ri) = self.runs.iter().position(|r| r.deck_items.contains(&key)) else {
            if let Some(r) = self.runs.iter_mut().find(|r| r.next_items.contains(&key)) {
                r.early.push(key);
            }
            return;
        };
        let primary = self.runs[ri].deck_items.first() == Some(&key);
        self.runs[ri].deck_items.retain(|x| *x != key);
        if !primary {
            return;
        }
        let mut run = self.runs.remove(ri);
        for (o, id) in std::mem::take(&mut run.deck_items) {
            self.stop(o, id);
        }
        let has_next = run.item + 1 < self.occ[run.slot].items.len();
        let open = run.end.is_none_or(|e| e > l.at);
        if l.ending == Ending::Completed && has_next && open {
            run.item += 1;
            if run.next_items.is_empty() {
                self.submit(&mut run, l.at);
            } else {
                run.deck_items = std::mem::take(&mut run.next_items);
                self.queue_next(&mut run);
            }
            for gone in std::mem::take(&mut run.early) {
                run.deck_items.retain(|x| *x != gone);
            }
            self.runs.push(run);
            return;
        }
        for (o, id) in std::mem::take(&mut run.next_items) {
            self.stop(o, id);
        }
        let started = self.fates[run.slot].started.is_some();
        let ending = match l.ending {
            // The window closed as an item ended, with items left.
            Ending::Completed if has_next => Ending::Cut,
            // A next item held beneath another until the window closed.
            Ending::NotAired if started => Ending::Preempted,
            e => e,
        };
        self.fates[run.slot].ended = Some((l.at, ending));
    }

    /// The next instant something happens: a deck event, a wait's
    /// deadline, a deferred occurrence's second, the next lead time.
    fn next_event(&self) -> Option<T> {
        let mut next: Option<T> = None;
        let mut consider = |t: T| next = Some(next.map_or(t, |n: T| n.min(t)));
        if let Some(&s) = self.due.get(self.next_due) {
            consider(self.occ[s].scheduled - self.lead);
        }
        for w in &self.waiting {
            if let Some(d) = w.deadline {
                consider(d);
            }
        }
        for &s in &self.deferred {
            consider(self.occ[s].scheduled);
        }
        for o in 0..self.decks.len() {
            if let Some(t) = self.next_on(o) {
                consider(t);
            }
        }
        next.map(|n| n.max(self.now))
    }

    // --- the decks -------------------------------------------------------

    /// Puts an item on output `o`'s deck: from `start`, or in the place of
    /// `after` when that leaves (at once if it has left already).
    fn play(&mut self, o: usize, run: &Run, piece: Piece, start: T, after: Option<u64>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let after = after.filter(|a| self.decks[o].iter().any(|it| it.id == *a));
        self.decks[o].push(DeckItem {
            id,
            slot: run.slot,
            level: run.priority,
            seq: id,
            start_at: start.max(self.now),
            end_at: run.end,
            remaining: piece.length,
            started: false,
            after,
            primary: run.outputs.first() == Some(&o),
        });
        self.settle(o);
        id
    }

    /// What airs on output `o` now.
    fn top(&self, o: usize) -> Option<usize> {
        rules::on_top(
            self.decks[o]
                .iter()
                .enumerate()
                .filter(|(_, it)| it.after.is_none() && it.start_at <= self.now)
                .map(|(i, it)| (i, it.level, it.seq)),
        )
    }

    fn next_on(&self, o: usize) -> Option<T> {
        let mut next: Option<T> = None;
        let mut consider = |t: T| next = Some(next.map_or(t, |n: T| n.min(t)));
        for it in &self.decks[o] {
            if let Some(e) = it.end_at {
                consider(e);
            }
            if it.after.is_none() && it.start_at > self.now {
                consider(it.start_at);
            }
        }
        if let Some(top) = self.top(o) {
            let it = &self.decks[o][top];
            match (it.started, it.remaining) {
                (false, _) => consider(self.now),
                (true, Some(r)) => consider(self.now + delta(r)),
                (true, None) => {}
            }
        }
        next
    }

    fn advance_to(&mut self, t: T) {
        let d = (t - self.now).to_std().unwrap_or_default();
        if !d.is_zero() {
            for o in 0..self.decks.len() {
                let top = self.top(o);
                self.aired[o] = top.map(|t| (self.decks[o][t].id, self.decks[o][t].slot));
                if let Some(top) = top {
                    let it = &mut self.decks[o][top];
                    if it.started {
                        if let Some(r) = &mut it.remaining {
                            *r = r.saturating_sub(d);
                        }
                        if it.primary {
                            self.fates[it.slot].aired += d;
                        }
                    }
                }
            }
        }
        self.now = t;
        for o in 0..self.decks.len() {
            self.settle(o);
        }
    }

    /// Everything due now on output `o`: items that run out end first
    /// (their program is over, so a hard end or a higher item at the same
    /// instant neither cuts nor pauses them), then hard ends, then the top
    /// item starts.
    fn settle(&mut self, o: usize) {
        loop {
            if let Some(idx) = self.decks[o]
                .iter()
                .position(|it| it.started && it.remaining.is_some_and(|r| r.is_zero()))
            {
                self.end(o, idx, Ending::Completed);
                continue;
            }
            if let Some(idx) = self.decks[o]
                .iter()
                .position(|it| it.end_at.is_some_and(|e| e <= self.now))
            {
                let it = &self.decks[o][idx];
                let ending = if !it.started {
                    if it.primary && self.fates[it.slot].gave_up_to.is_none() {
                        self.fates[it.slot].gave_up_to = self.aired[o].map(|a| a.1);
                    }
                    Ending::NotAired
                } else if self.aired[o].is_some_and(|a| a.0 == it.id) {
                    Ending::Cut
                } else {
                    Ending::Preempted
                };
                self.end(o, idx, ending);
                continue;
            }
            let Some(top) = self.top(o) else { break };
            let it = &mut self.decks[o][top];
            if it.started {
                break;
            }
            it.started = true;
            if it.primary && self.fates[it.slot].started.is_none() {
                self.fates[it.slot].started = Some(self.now);
            }
        }
        self.note_top(o);
    }

    /// Tells the fates what the deck's top now means for the programs whose
    /// primary it is: one that has aired and is held beneath another is
    /// paused; one not yet aired learns what held it when due.
    fn note_top(&mut self, o: usize) {
        let top_slot = self.top(o).map(|t| self.decks[o][t].slot);
        let now = self.now;
        for it in &self.decks[o] {
            if !it.primary || it.after.is_some() || it.start_at > now {
                continue;
            }
            let f = &mut self.fates[it.slot];
            let sounding = top_slot == Some(it.slot);
            let open = f.pauses.last().is_some_and(|p| p.to.is_none());
            match (f.started, sounding, open) {
                (None, false, _) if f.held_by.is_none() => f.held_by = top_slot,
                (Some(_), false, false) => {
                    if let Some(by) = top_slot {
                        f.pauses.push(Pause {
                            by,
                            from: now,
                            to: None,
                        });
                    }
                }
                (Some(_), true, true) => {
                    if let Some(p) = f.pauses.last_mut() {
                        p.to = Some(now);
                    }
                }
                _ => {}
            }
        }
    }

    fn end(&mut self, o: usize, idx: usize, ending: Ending) {
        let it = self.decks[o].remove(idx);
        // Its follower takes its place from now, in its rank.
        for f in self.decks[o].iter_mut().filter(|f| f.after == Some(it.id)) {
            f.after = None;
            f.seq = it.seq;
            f.start_at = f.start_at.max(self.now);
        }
        self.left.push(Left {
            output: o,
            id: it.id,
            ending,
            at: self.now,
        });
    }

    /// Stops an item (a program's item on another output when its primary
    /// moves on or ends, or a next item given ahead of a program that ends).
    fn stop(&mut self, o: usize, id: u64) {
        if let Some(idx) = self.decks[o].iter().position(|it| it.id == id) {
            let ending = if self.top(o) == Some(idx) {
                Ending::Cut
            } else {
                Ending::Preempted
            };
            self.end(o, idx, ending);
            self.settle(o);
        }
    }
}
