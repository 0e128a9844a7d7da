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
//!   equal one to end); otherwise its item goes to every output's deck
//!   with its start instant and its hard end ([`rules::hard_end`]);
//! - each output's deck airs the highest item, the newest among equals
//!   ([`rules::on_top`]); the others wait or pause beneath it and resume
//!   where they were; a hard end takes an item off wherever it is;
//! - a program's items follow one another on the sample (the daemon gives
//!   the next one ahead, in the place of the one airing), so a program is
//!   one item of its whole length here;
//! - a program's timeline follows its first output (its primary, where its
//!   airtime rows come from); when it ends there it ends everywhere;
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
    /// How long its items play (None: until its hard end, or without end).
    pub length: Option<Duration>,
}

/// How an item left its primary deck (as the decks say it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// Its items ran out.
    Completed,
    /// Its hard end came while it aired.
    Cut,
    /// Its hard end came while it was paused beneath a higher item.
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

/// A pause beneath a higher (or newer equal) item, on the primary.
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
    /// When its primary item first started.
    pub started: Option<T>,
    /// How long it aired on its primary.
    pub aired: Duration,
    /// When and how its primary item left the deck.
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
    slot: usize,
    level: Priority,
    seq: u64,
    start_at: T,
    end_at: Option<T>,
    /// Left to play (None: until its hard end).
    remaining: Option<Duration>,
    started: bool,
    /// On its program's first output (its fate is told there).
    primary: bool,
}

/// A deck's report that an item left it.
struct Left {
    slot: usize,
    primary: bool,
    ending: Ending,
    at: T,
}

/// Occurrences fired and not yet over on their primary.
struct Run {
    slot: usize,
    outputs: Vec<usize>,
    priority: Priority,
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
    /// The item on top of each deck after the last settle.
    tops: Vec<Option<usize>>,
    /// What aired on each deck over the last stretch of time (a hard end
    /// now cuts it; any other item it finds held beneath).
    aired: Vec<Option<usize>>,
    seq: u64,
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
            tops: vec![None; station.outputs.len()],
            aired: vec![None; station.outputs.len()],
            seq: 0,
            left: Vec::new(),
            runs: Vec::new(),
            waiting: Vec::new(),
            deferred: Vec::new(),
            due,
            next_due: 0,
        };
        m.tick();
        while let Some(next) = m.next_event() {
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
        let outputs = o.outputs.clone();
        for (k, &out) in outputs.iter().enumerate() {
            self.seq += 1;
            self.decks[out].push(DeckItem {
                slot,
                level: o.priority,
                seq: self.seq,
                start_at: start.max(self.now),
                end_at: hard_end.map(|(e, _)| e),
                remaining: o.length,
                started: false,
                primary: k == 0,
            });
            self.settle(out);
        }
        self.runs.push(Run {
            slot,
            outputs,
            priority: o.priority,
        });
    }

    /// The decks' reports: a program ends where its primary item leaves;
    /// its items on the other outputs are stopped then.
    fn handle(&mut self) {
        while !self.left.is_empty() {
            let left = std::mem::take(&mut self.left);
            for l in left {
                if !l.primary {
                    continue;
                }
                self.fates[l.slot].ended = Some((l.at, l.ending));
                let Some(ri) = self.runs.iter().position(|r| r.slot == l.slot) else {
                    continue;
                };
                let run = self.runs.remove(ri);
                for &o in &run.outputs[1..] {
                    self.stop(o, run.slot);
                }
            }
        }
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

    fn top_where(&self, o: usize, eligible: impl Fn(&DeckItem) -> bool) -> Option<usize> {
        rules::on_top(
            self.decks[o]
                .iter()
                .enumerate()
                .filter(|(_, it)| eligible(it))
                .map(|(i, it)| (i, it.level, it.seq)),
        )
    }

    /// What airs on output `o` now.
    fn top(&self, o: usize) -> Option<usize> {
        self.top_where(o, |it| it.start_at <= self.now)
    }

    fn next_on(&self, o: usize) -> Option<T> {
        let mut next: Option<T> = None;
        let mut consider = |t: T| next = Some(next.map_or(t, |n: T| n.min(t)));
        for it in &self.decks[o] {
            if let Some(e) = it.end_at {
                consider(e);
            }
            if it.start_at > self.now {
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
                self.aired[o] = top.map(|t| self.decks[o][t].slot);
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
                    if it.primary {
                        self.fates[it.slot].gave_up_to = self.aired[o];
                    }
                    Ending::NotAired
                } else if self.aired[o] == Some(it.slot) {
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

    /// Tells the fates what the deck's top now means for them: an item
    /// displaced after it started is paused (on its primary); one waiting
    /// beneath another when due learns what held it.
    fn note_top(&mut self, o: usize) {
        let top = self.top(o);
        let top_slot = top.map(|t| self.decks[o][t].slot);
        let was = std::mem::replace(&mut self.tops[o], top_slot);
        if was != top_slot {
            if let Some(w) = was {
                let paused = self.decks[o]
                    .iter()
                    .any(|it| it.slot == w && it.primary && it.started);
                if let (true, Some(by)) = (paused, top_slot) {
                    self.fates[w].pauses.push(Pause {
                        by,
                        from: self.now,
                        to: None,
                    });
                }
            }
            let primary = top.is_some_and(|t| self.decks[o][t].primary);
            if let (Some(s), true) = (top_slot, primary) {
                if let Some(p) = self.fates[s].pauses.last_mut() {
                    if p.to.is_none() {
                        p.to = Some(self.now);
                    }
                }
            }
        }
        for it in &self.decks[o] {
            if it.primary && !it.started && it.start_at <= self.now {
                let f = &mut self.fates[it.slot];
                if f.held_by.is_none() {
                    f.held_by = top_slot;
                }
            }
        }
    }

    fn end(&mut self, o: usize, idx: usize, ending: Ending) {
        let it = self.decks[o].remove(idx);
        self.left.push(Left {
            slot: it.slot,
            primary: it.primary,
            ending,
            at: self.now,
        });
    }

    /// Stops a program's item on a secondary output (its primary ended).
    fn stop(&mut self, o: usize, slot: usize) {
        if let Some(idx) = self.decks[o].iter().position(|it| it.slot == slot) {
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
