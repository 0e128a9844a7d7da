//! The audio engine as the scheduler sees it: one deck per output, items in,
//! events out. `Decks` drives loa-audio's real decks (device, wav, null);
//! `SimEngine` plays nothing and takes each piece's probed length, so that
//! `loa simulate` runs a year of schedule in a second with the same
//! scheduler code.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use loa_audio::{
    DeckEvent, Ending, Item, ItemId, Media, Piece, Priority, SourceKind, BUILTIN_CHIME,
};

use loa_schedules::rules;

use crate::probe::Probe;

/// What the scheduler needs of an audio engine.
pub trait Engine {
    /// Puts an item on an output's deck.
    fn play(&mut self, output: usize, item: Item) -> ItemId;
    /// Ends an item now (fading out).
    fn stop(&mut self, output: usize, id: ItemId);
    /// The events that happened since the last call, in order, by output.
    fn take_events(&mut self) -> Vec<(usize, DeckEvent)>;
    /// How often the daemon's loop looks at the events while something
    /// airs: real decks report from their own threads, so the loop polls
    /// (every 20 ms); an engine that knows when its next event happens
    /// says so in [`Engine::next_event_at`] and returns None here.
    fn poll_every(&self) -> Option<Duration> {
        Some(Duration::from_millis(20))
    }
    /// When the next event happens, where the engine knows it.
    fn next_event_at(&self) -> Option<SystemTime> {
        None
    }
    /// Notified whenever an event is waiting, for an engine whose decks
    /// say so (the loop then sleeps until there is news instead of polling).
    fn news(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}

/// An engine on a virtual clock: its owner moves time.
pub trait VirtualEngine: Engine {
    /// When the next event happens, if anything is pending.
    fn next_event(&self) -> Option<SystemTime>;
    /// Runs the decks until `t`.
    fn advance_to(&mut self, t: SystemTime);
}

/// How long a TTS text takes to speak, for simulation: Vietnamese read by
/// espeak-ng at its default rate runs at about 13 characters a second.
pub fn estimated_speech(text: &str) -> Duration {
    Duration::from_millis((text.chars().count() as u64 * 1000 / 13).max(500))
}

struct SimPiece {
    piece: Piece,
    /// None: endless (a relay or live input, until its hard end).
    length: Option<Duration>,
    fail: Option<String>,
}

struct SimItem {
    id: ItemId,
    priority: Priority,
    seq: u64,
    start_at: SystemTime,
    end_at: Option<SystemTime>,
    pieces: VecDeque<SimPiece>,
    /// The piece under way: its remaining length and aired time so far.
    current: Option<(SimPiece, Option<Duration>, Duration)>,
    aired_any: bool,
    failures: Vec<String>,
    /// Waits until this item leaves the output, then takes its place.
    after: Option<ItemId>,
}

impl SimItem {
    /// Endless pieces keep running while muted (relays, live input).
    fn runs_muted(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|(p, _, _)| p.length.is_none())
    }
}

/// A deck model that plays nothing: pieces last their probed length.
pub struct SimEngine {
    outputs: Vec<Vec<SimItem>>,
    now: SystemTime,
    next_id: u64,
    seq: u64,
    events: Vec<(usize, DeckEvent)>,
    /// What aired on each output over the last stretch of time that passed
    /// (as a real deck's state before it applies an instant's hard ends).
    aired: Vec<Option<ItemId>>,
    /// File lengths (callers pass a caching probe: see probe::caching_probe).
    probe: Probe,
}

impl SimEngine {
    pub fn new(outputs: usize, epoch: SystemTime, probe: Probe) -> Self {
        SimEngine {
            outputs: (0..outputs).map(|_| Vec::new()).collect(),
            now: epoch,
            next_id: 1,
            seq: 0,
            events: Vec::new(),
            aired: vec![None; outputs],
            probe,
        }
    }

    fn file_piece(&mut self, p: PathBuf) -> SimPiece {
        let len = (self.probe)(&p);
        SimPiece {
            piece: Piece {
                kind: SourceKind::File,
                source: p.display().to_string(),
            },
            length: len.as_ref().ok().copied(),
            fail: len.err(),
        }
    }

    fn pieces(&mut self, media: &Media) -> VecDeque<SimPiece> {
        let one = |kind, source: String, length| {
            VecDeque::from([SimPiece {
                piece: Piece { kind, source },
                length,
                fail: None,
            }])
        };
        match media {
            Media::Files { paths, .. } => {
                paths.iter().map(|p| self.file_piece(p.clone())).collect()
            }
            Media::Newest { pattern, max_age } => {
                // As the decks pick it, on this engine's (virtual) clock.
                match loa_core::newest(&pattern.to_string_lossy()) {
                    Ok((p, modified)) => {
                        let stale = loa_core::too_old(&p, modified, *max_age, self.now);
                        let mut piece = self.file_piece(p);
                        if stale.is_some() {
                            piece.fail = stale;
                        }
                        VecDeque::from([piece])
                    }
                    Err(why) => VecDeque::from([SimPiece {
                        piece: Piece {
                            kind: SourceKind::File,
                            source: pattern.display().to_string(),
                        },
                        length: None,
                        fail: Some(why),
                    }]),
                }
            }
            Media::Tts { text, .. } => {
                one(SourceKind::Tts, text.clone(), Some(estimated_speech(text)))
            }
            // The simulation has no network: the first source relays throughout.
            Media::Stream { sources, .. } => one(
                SourceKind::Stream,
                sources.first().cloned().unwrap_or_default(),
                None,
            ),
            Media::Live { input } => one(SourceKind::Live, input.clone(), None),
            Media::Tone { hz, length } => one(SourceKind::Tone, format!("{hz} Hz"), Some(*length)),
            Media::Silence(d) => one(SourceKind::Silence, "silence".into(), Some(*d)),
            Media::Chime => one(SourceKind::Chime, "builtin".into(), Some(BUILTIN_CHIME)),
        }
    }

    /// The item that airs on an output now: highest level, newest among equals.
    fn top(&self, o: usize) -> Option<usize> {
        rules::on_top(
            self.outputs[o]
                .iter()
                .enumerate()
                .filter(|(_, it)| it.after.is_none() && it.start_at <= self.now)
                .map(|(i, it)| (i, it.priority, it.seq)),
        )
    }

    fn frames(d: Duration) -> u64 {
        (d.as_nanos() * 48_000 / 1_000_000_000) as u64
    }

    fn end_item(&mut self, o: usize, idx: usize, outcome: Ending) {
        let mut it = self.outputs[o].remove(idx);
        let at = self.now;
        // Its follower takes its place from now (as the decks do).
        for f in self.outputs[o]
            .iter_mut()
            .filter(|f| f.after == Some(it.id))
        {
            f.after = None;
            f.seq = it.seq;
            f.start_at = f.start_at.max(at);
        }
        if let Some((p, _, aired)) = it.current.take() {
            let piece_outcome = if outcome == Ending::Completed {
                Ending::Completed
            } else {
                outcome.clone()
            };
            self.events.push((
                o,
                DeckEvent::Ended {
                    item: it.id,
                    piece: p.piece,
                    outcome: piece_outcome,
                    aired_frames: Self::frames(aired),
                    at,
                },
            ));
        }
        let outcome = match outcome {
            Ending::Cut | Ending::Preempted if !it.aired_any => Ending::NotAired,
            Ending::Completed if !it.aired_any && !it.failures.is_empty() => {
                Ending::Failed(it.failures.join("; "))
            }
            other => other,
        };
        self.events.push((
            o,
            DeckEvent::ItemEnded {
                item: it.id,
                outcome,
                at,
            },
        ));
    }

    /// Starts the top item's next piece (or ends the item when none is left).
    fn start_next_piece(&mut self, o: usize, idx: usize) {
        loop {
            let at = self.now;
            let it = &mut self.outputs[o][idx];
            let Some(p) = it.pieces.pop_front() else {
                self.end_item(o, idx, Ending::Completed);
                return;
            };
            if let Some(why) = &p.fail {
                it.failures.push(why.clone());
                let (id, why) = (it.id, why.clone());
                self.events.push((
                    o,
                    DeckEvent::Started {
                        item: id,
                        piece: p.piece.clone(),
                        at,
                    },
                ));
                self.events.push((
                    o,
                    DeckEvent::Ended {
                        item: id,
                        piece: p.piece,
                        outcome: Ending::Failed(why),
                        aired_frames: 0,
                        at,
                    },
                ));
                continue;
            }
            it.aired_any = true;
            let id = it.id;
            let remaining = p.length;
            self.events.push((
                o,
                DeckEvent::Started {
                    item: id,
                    piece: p.piece.clone(),
                    at,
                },
            ));
            it.current = Some((p, remaining, Duration::ZERO));
            return;
        }
    }

    /// The next moment something happens on output `o`.
    fn next_on(&self, o: usize) -> Option<SystemTime> {
        let mut next: Option<SystemTime> = None;
        let mut consider = |t: SystemTime| next = Some(next.map_or(t, |n: SystemTime| n.min(t)));
        for it in &self.outputs[o] {
            if let Some(e) = it.end_at {
                consider(e);
            }
            if it.after.is_none() && it.start_at > self.now {
                consider(it.start_at);
            }
        }
        if let Some(top) = self.top(o) {
            let it = &self.outputs[o][top];
            match &it.current {
                None => consider(self.now),
                Some((_, Some(rem), _)) => consider(self.now + *rem),
                Some((_, None, _)) => {}
            }
        }
        next
    }

    /// Lets `d` pass on output `o` (nothing changes state within it).
    fn pass(&mut self, o: usize, d: Duration) {
        let top = self.top(o);
        self.aired[o] = top.map(|i| self.outputs[o][i].id);
        for (i, it) in self.outputs[o].iter_mut().enumerate() {
            let airing = Some(i) == top;
            if !(airing || it.runs_muted()) {
                continue;
            }
            if let Some((_, rem, aired)) = &mut it.current {
                if let Some(r) = rem {
                    *r = r.saturating_sub(d);
                }
                if airing {
                    *aired += d;
                }
            }
        }
    }

    /// Handles everything due at `self.now` on output `o`.
    fn settle(&mut self, o: usize) {
        for _ in 0..10_000 {
            // A piece that runs out now ends before anything else happens
            // now: its program's items are over, so a window closing or a
            // higher item starting at the same instant neither cuts nor
            // pauses it (SPEC 4, Windows: the program ends when its items
            // end or the window closes, whichever is first).
            if let Some(idx) = self.outputs[o]
                .iter()
                .position(|it| matches!(&it.current, Some((_, Some(rem), _)) if rem.is_zero()))
            {
                self.finish_piece(o, idx);
                continue;
            }
            // Hard ends.
            if let Some(idx) = self.outputs[o]
                .iter()
                .position(|it| it.end_at.is_some_and(|e| e <= self.now))
            {
                // What aired until now: an item starting at this very
                // instant has not taken the output yet, so the one whose
                // window closes now was cut, not preempted; one held beneath
                // an item that ends at this very instant was preempted.
                let it = &self.outputs[o][idx];
                let outcome = if it.current.is_none() && !it.aired_any {
                    Ending::NotAired
                } else if self.aired[o] == Some(it.id) {
                    Ending::Cut
                } else {
                    Ending::Preempted
                };
                self.end_item(o, idx, outcome);
                continue;
            }
            let Some(top) = self.top(o) else { return };
            match &self.outputs[o][top].current {
                None => self.start_next_piece(o, top),
                _ => return,
            }
        }
    }

    /// Ends the piece of item `idx` that has run out (and the item, when it
    /// was its last).
    fn finish_piece(&mut self, o: usize, idx: usize) {
        let it = &mut self.outputs[o][idx];
        let Some((p, _, aired)) = it.current.take() else {
            return;
        };
        let id = it.id;
        self.events.push((
            o,
            DeckEvent::Ended {
                item: id,
                piece: p.piece,
                outcome: Ending::Completed,
                aired_frames: Self::frames(aired),
                at: self.now,
            },
        ));
        if self.outputs[o][idx].pieces.is_empty() {
            self.end_item(o, idx, Ending::Completed);
        }
    }
}

impl Engine for SimEngine {
    fn play(&mut self, output: usize, item: Item) -> ItemId {
        let id = ItemId(self.next_id);
        self.next_id += 1;
        self.seq += 1;
        let mut pieces = self.pieces(&item.media);
        // Joining late: skip into the pieces.
        let mut offset = item.offset;
        while let Some(front) = pieces.front_mut() {
            match front.length {
                Some(l) if offset >= l && front.fail.is_none() => {
                    offset -= l;
                    pieces.pop_front();
                }
                Some(l) => {
                    front.length = Some(l.saturating_sub(offset));
                    break;
                }
                None => break,
            }
        }
        // A follower of an item that has already left starts now.
        let after = item
            .after
            .filter(|p| self.outputs[output].iter().any(|it| it.id == *p));
        self.outputs[output].push(SimItem {
            id,
            priority: item.priority,
            after,
            seq: self.seq,
            start_at: item.start_at.unwrap_or(self.now).max(self.now),
            end_at: item.end_at,
            pieces,
            current: None,
            aired_any: false,
            failures: Vec::new(),
        });
        self.settle(output);
        id
    }

    fn stop(&mut self, output: usize, id: ItemId) {
        if let Some(idx) = self.outputs[output].iter().position(|it| it.id == id) {
            let airing = self.top(output) == Some(idx);
            let outcome = if airing {
                Ending::Cut
            } else {
                Ending::Preempted
            };
            self.end_item(output, idx, outcome);
            self.settle(output);
        }
    }

    fn take_events(&mut self) -> Vec<(usize, DeckEvent)> {
        std::mem::take(&mut self.events)
    }
}

impl VirtualEngine for SimEngine {
    fn next_event(&self) -> Option<SystemTime> {
        (0..self.outputs.len())
            .filter_map(|o| self.next_on(o))
            .min()
    }

    fn advance_to(&mut self, t: SystemTime) {
        loop {
            let next = self.next_event().filter(|n| *n <= t);
            let target = next.unwrap_or(t);
            if target > self.now {
                let d = target.duration_since(self.now).unwrap_or_default();
                for o in 0..self.outputs.len() {
                    self.pass(o, d);
                }
                self.now = target;
            }
            for o in 0..self.outputs.len() {
                self.settle(o);
            }
            if next.is_none() || self.now >= t && self.next_event().is_none_or(|n| n > t) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> SimEngine {
        SimEngine::new(
            1,
            SystemTime::UNIX_EPOCH,
            Box::new(|p| match p.file_name().and_then(|n| n.to_str()) {
                Some("a.mp3") => Ok(Duration::from_secs(60)),
                Some("b.mp3") => Ok(Duration::from_secs(30)),
                _ => Err("no such file".into()),
            }),
        )
    }

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn ended(evs: &[(usize, DeckEvent)]) -> Vec<(String, &'static str, u64)> {
        evs.iter()
            .filter_map(|(_, e)| match e {
                DeckEvent::Ended {
                    piece,
                    outcome,
                    aired_frames,
                    ..
                } => Some((
                    piece.source.clone(),
                    outcome.outcome().as_str(),
                    aired_frames / 48_000,
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn files_play_their_probed_length_in_order() {
        let mut e = engine();
        e.play(
            0,
            Item::new(
                Media::Files {
                    paths: vec!["a.mp3".into(), "b.mp3".into()],
                    order: Default::default(),
                },
                Priority::Normal,
            )
            .starting_at(at(10)),
        );
        e.advance_to(at(1000));
        let ev = e.take_events();
        assert_eq!(
            ended(&ev),
            [
                ("a.mp3".into(), "completed", 60),
                ("b.mp3".into(), "completed", 30)
            ]
        );
        assert!(
            matches!(ev.last().unwrap().1, DeckEvent::ItemEnded { at: t, outcome: Ending::Completed, .. } if t == at(100))
        );
    }

    #[test]
    fn a_higher_item_pauses_a_file_which_resumes_after() {
        let mut e = engine();
        e.play(
            0,
            Item::new(Media::file("a.mp3"), Priority::Normal).starting_at(at(0)),
        );
        e.play(
            0,
            Item::new(Media::file("b.mp3"), Priority::Emergency).starting_at(at(20)),
        );
        e.advance_to(at(1000));
        let ev = e.take_events();
        // b airs 20..50, a resumes and ends at 60 + 30 = 90.
        assert_eq!(
            ended(&ev),
            [
                ("b.mp3".into(), "completed", 30),
                ("a.mp3".into(), "completed", 60)
            ]
        );
        let last = ev.iter().rev().find_map(|(_, e)| match e {
            DeckEvent::ItemEnded { at, .. } => Some(*at),
            _ => None,
        });
        assert_eq!(last, Some(at(90)));
    }

    #[test]
    fn a_window_closing_as_the_item_above_ends_finds_it_held_beneath() {
        // a airs 0..10, b holds the output 10..40 and ends as a's window
        // closes at 40: a never airs again, so it was preempted, not cut
        // (a real deck decides the hard end on what aired until then).
        let mut e = engine();
        e.play(
            0,
            Item::new(Media::file("a.mp3"), Priority::Normal)
                .starting_at(at(0))
                .ending_at(at(40)),
        );
        e.play(
            0,
            Item::new(Media::file("b.mp3"), Priority::Emergency).starting_at(at(10)),
        );
        e.advance_to(at(1000));
        let ev = e.take_events();
        assert_eq!(
            ended(&ev),
            [
                ("b.mp3".into(), "completed", 30),
                ("a.mp3".into(), "preempted", 10)
            ]
        );
        // Airing until the instant its window closes, it is cut.
        let mut e = engine();
        e.play(
            0,
            Item::new(Media::file("a.mp3"), Priority::Normal)
                .starting_at(at(0))
                .ending_at(at(40)),
        );
        e.advance_to(at(1000));
        assert_eq!(ended(&e.take_events()), [("a.mp3".into(), "cut", 40)]);
    }

    #[test]
    fn hard_end_cuts_and_missing_files_fail() {
        let mut e = engine();
        e.play(
            0,
            Item::new(
                Media::Stream {
                    sources: vec!["http://x.invalid/s".into(), "http://y.invalid/s".into()],
                    bandwidth: None,
                    fallback: vec![],
                },
                Priority::Normal,
            )
            .starting_at(at(0))
            .ending_at(at(1800)),
        );
        e.play(
            0,
            Item::new(Media::file("missing.mp3"), Priority::Normal).starting_at(at(2000)),
        );
        e.advance_to(at(5000));
        let ev = e.take_events();
        assert_eq!(
            ended(&ev),
            [
                ("http://x.invalid/s".into(), "cut", 1800),
                ("missing.mp3".into(), "failed", 0)
            ]
        );
    }
}
