//! Decks: one per output, airing one item at a time by priority.
//!
//! The highest priority airs (among equals, the newest: the daemon only sends
//! an equal-level item when it means to preempt). A preempted item fades out
//! (a gain ramp from that moment, applied here, never baked into the source)
//! and is held: files pause where the fade ended, relays and live inputs run
//! on muted. When the higher item ends, the next one resumes with no gap:
//! files where they paused, relays live. A hard end fades the item out over
//! one second, silent exactly at the given instant.
//!
//! Timing is sample-exact: starts, hard ends and every event are placed on
//! the frame they concern, and [`DeckEvent`]s carry aired frame counts.
//! [`Deck`] runs on a thread at real-time pace; [`VirtualDeck`] is driven by
//! its caller on a virtual clock (tests, `loa simulate`). Here: the core
//! both drive (`DeckCore`: entries, ramps, selection, rendering, events);
//! `handles`: the two handles.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::format::{duration_to_frames, frame_time, time_frame, CHANNELS, RATE};
use crate::item::{DeckEvent, Ending, EventSink, Item, ItemId, Piece, Priority, Wake};
use crate::loudness::Loudness;
use crate::output::{open_output, open_output_retrying, Clock, Output, OutputError, OutputSpec};
use crate::prepare::{prepare, Prepared};
use crate::source::{Note, PieceLog, Rendered, Source};
use crate::stream::SilencePolicy;
use crate::tts::TtsConfig;

mod handles;
pub use handles::{Deck, VirtualDeck};

/// Frames rendered per block (5 ms): the granularity at which a real-time
/// deck notices commands.
const BLOCK: usize = 240;

/// How far the output's lag moves before pending starts and ends are
/// derived again (a quarter of a millisecond, 12 frames).
const LAG_STEP_NS: i64 = 250_000;

/// Silence written before a real-time deck may rest (suspend its output):
/// half a second, so that what the card and the sound server still hold
/// is silence, never an item's last moments.
const QUIET_BEFORE_REST: u64 = 24_000;

/// A resting deck wakes this long before the next start, so that the card
/// runs again and its lag is measured afresh before the start is due.
const WAKE_AHEAD: u64 = 48_000;

/// How many departed items a deck remembers for followers still being
/// prepared (a program's next item is given while the one before airs).
const GONE_KEPT: usize = 64;

/// How a deck behaves; the daemon fills it from station.yaml.
#[derive(Debug, Clone)]
pub struct DeckConfig {
    /// policy.loudness: target LUFS for files and TTS; None: off.
    pub loudness_target: Option<f64>,
    /// paths.state/cache: TTS renders and loudness measures; None: a
    /// temporary directory for TTS, loudness in memory.
    pub cache_dir: Option<PathBuf>,
    pub tts: TtsConfig,
    /// policy.silence: when a relay counts as dead.
    pub silence: SilencePolicy,
    /// policy.volume: master volume 0..=1.
    pub volume: f32,
    /// Fade of a preempted or stopped item (at most 300 ms by SPEC).
    pub preempt_fade: Duration,
    /// Fade before a hard end.
    pub end_fade: Duration,
    /// Fade-in of a resumed item (avoids a click).
    pub resume_fade: Duration,
    /// Called after each event, so the owner need not poll (see [`Wake`]).
    pub wake: Option<Wake>,
}

impl Default for DeckConfig {
    fn default() -> Self {
        DeckConfig {
            loudness_target: None,
            cache_dir: None,
            tts: TtsConfig::default(),
            silence: SilencePolicy::default(),
            volume: 1.0,
            preempt_fade: Duration::from_millis(250),
            end_fade: Duration::from_secs(1),
            resume_fade: Duration::from_millis(10),
            wake: None,
        }
    }
}

pub(crate) enum Command {
    Add {
        id: ItemId,
        priority: Priority,
        start_at: Option<SystemTime>,
        end_at: Option<SystemTime>,
        after: Option<ItemId>,
        title: Option<String>,
        prepared: Prepared,
    },
    Failed {
        id: ItemId,
        failures: Vec<(Piece, String)>,
        reason: String,
    },
    Stop(ItemId),
    EndAt(ItemId, SystemTime),
    Volume(f32),
    Shutdown,
}

/// A linear gain ramp that lands exactly on its target after a whole
/// number of frames (so a fade ends on a known sample).
#[derive(Debug, Clone, Copy)]
struct Ramp {
    value: f32,
    from: f32,
    target: f32,
    total: u64,
    remaining: u64,
}

impl Ramp {
    fn at(v: f32) -> Ramp {
        Ramp {
            value: v,
            from: v,
            target: v,
            total: 0,
            remaining: 0,
        }
    }
    fn to(&mut self, target: f32, frames: u64) {
        self.target = target;
        if frames == 0 || self.value == target {
            self.value = target;
            self.remaining = 0;
        } else {
            self.from = self.value;
            self.total = frames;
            self.remaining = frames;
        }
    }
    fn silent(&self) -> bool {
        self.value <= 0.0 && self.remaining == 0
    }
    fn next(&mut self) -> f32 {
        let v = self.value;
        if self.remaining > 0 {
            self.remaining -= 1;
            // From the frame count, not by accumulation: no drift past the target.
            let left = self.remaining as f64 / self.total as f64;
            self.value = (self.target as f64 + (self.from - self.target) as f64 * left) as f32;
        }
        v
    }
    /// Adds `src` scaled by the ramp into `dst`.
    fn mix(&mut self, src: &[f32], dst: &mut [f32]) {
        for (s, d) in src
            .chunks_exact(CHANNELS)
            .zip(dst.chunks_exact_mut(CHANNELS))
        {
            let g = self.next();
            d[0] += s[0] * g;
            d[1] += s[1] * g;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Waiting for its start instant.
    Pending,
    Airing,
    /// Preempted (fading out, then paused or muted).
    Held,
}

struct Entry {
    id: ItemId,
    priority: Priority,
    seq: u64,
    source: Box<dyn Source>,
    state: State,
    start_frame: u64,
    end_frame: Option<u64>,
    /// The wall instants asked for (heard at the loudspeaker), from which
    /// the frames above are derived again when the output's lag moves.
    start_at: Option<SystemTime>,
    end_at: Option<SystemTime>,
    /// A follower starts no earlier than the frame its item left.
    floor: u64,
    end_fading: bool,
    gain: Ramp,
    aired_any: bool,
    /// Stopped: fading out, then gone with this outcome.
    removing: Option<Ending>,
    /// Pending until this item leaves the deck, then in its place.
    after: Option<ItemId>,
    title: Option<String>,
}

impl Entry {
    fn eligible(&self) -> bool {
        self.state != State::Pending && self.removing.is_none()
    }
}

/// The mixer and timeline shared by [`Deck`] and [`VirtualDeck`].
pub(crate) struct DeckCore {
    entries: Vec<Entry>,
    frame: u64,
    epoch: SystemTime,
    /// The output's lag (see [`Output::lag_ns`]) the frames of pending
    /// starts and ends were derived with.
    lag_ns: i64,
    output: Box<dyn Output>,
    events: EventSink,
    preempt_fade: u64,
    end_fade: u64,
    resume_fade: u64,
    volume: Ramp,
    stopped_early: HashSet<ItemId>,
    ends_early: HashMap<ItemId, SystemTime>,
    /// Items that left the deck lately with no follower yet: (id, its place
    /// among equals, the frame it left), for a follower still being prepared.
    gone: VecDeque<(ItemId, u64, u64)>,
    mix: Vec<f32>,
    scratch: Vec<f32>,
    /// Per span: items already rendered, and items that ended (kept here
    /// so that rendering does not allocate).
    ran: Vec<ItemId>,
    ended: Vec<(ItemId, Ending, u64)>,
    log: PieceLog,
    position: Arc<AtomicU64>,
    heard: Arc<AtomicU64>,
    latency_ns: Arc<AtomicU64>,
    /// `lag_ns`, for the handle.
    lag: Arc<AtomicI64>,
    /// Frames of silence written since something last aired.
    quiet: u64,
    /// The item the output was last told airs ([`Output::now_playing`]).
    titled: Option<ItemId>,
    /// An item came that preempts what airs at once (see
    /// [`DeckCore::take_preempted`]).
    preempted: bool,
}

impl DeckCore {
    fn new(output: Box<dyn Output>, events: EventSink, config: &DeckConfig) -> Self {
        DeckCore {
            entries: Vec::new(),
            frame: 0,
            epoch: output.started_at(),
            lag_ns: 0,
            output,
            events,
            preempt_fade: duration_to_frames(config.preempt_fade),
            end_fade: duration_to_frames(config.end_fade),
            resume_fade: duration_to_frames(config.resume_fade),
            volume: Ramp::at(config.volume.clamp(0.0, 1.0)),
            stopped_early: HashSet::new(),
            ends_early: HashMap::new(),
            gone: VecDeque::new(),
            mix: vec![0.0; BLOCK * CHANNELS],
            scratch: vec![0.0; BLOCK * CHANNELS],
            ran: Vec::new(),
            ended: Vec::new(),
            log: PieceLog::default(),
            position: Arc::new(AtomicU64::new(0)),
            heard: Arc::new(AtomicU64::new(0)),
            latency_ns: Arc::new(AtomicU64::new(0)),
            lag: Arc::new(AtomicI64::new(0)),
            quiet: 0,
            titled: None,
            preempted: false,
        }
    }

    /// True once after an item came that takes the output from the one
    /// airing now: due already (no start instant, or one the deck has
    /// passed), following nothing, and at least its level. What the card
    /// holds of the one airing can go (see [`DeckCore::cut`]). A start with
    /// an instant still ahead is compensated instead, and an item given
    /// after another ended must not cut that one's last samples.
    fn take_preempted(&mut self) -> bool {
        std::mem::take(&mut self.preempted)
    }

    /// The output drops what it holds and the lag is taken afresh from it,
    /// so what is rendered next is heard as soon as the card can play it.
    fn cut(&mut self) {
        self.output.cut();
        self.follow_lag();
    }

    /// Wall time at which frame 0 is heard: the output's start, later by
    /// its lag.
    fn heard_epoch(&self) -> SystemTime {
        let lag = Duration::from_nanos(self.lag_ns.unsigned_abs());
        if self.lag_ns >= 0 {
            self.epoch + lag
        } else {
            self.epoch - lag
        }
    }

    /// When `frame` is heard.
    fn at(&self, frame: u64) -> SystemTime {
        frame_time(self.heard_epoch(), frame)
    }

    /// The frame heard at `t` (frame 0 for what is already past).
    fn frame_of(&self, t: SystemTime) -> u64 {
        time_frame(self.heard_epoch(), t)
    }

    /// Follows the output's lag: when it has moved by more than a quarter
    /// of a millisecond, the frames of pending starts and of ends not yet
    /// fading are derived again from their instants, so that what is due at
    /// 07:00:00 is heard at 07:00:00 whatever waits ahead of the card.
    fn follow_lag(&mut self) {
        let lag = self.output.lag_ns();
        if (lag - self.lag_ns).abs() < LAG_STEP_NS {
            return;
        }
        self.lag_ns = lag;
        self.lag.store(lag, Ordering::Relaxed);
        let now = self.frame;
        let heard_epoch = self.heard_epoch();
        for e in &mut self.entries {
            if e.state == State::Pending && e.start_frame > now {
                if let Some(t) = e.start_at {
                    e.start_frame = time_frame(heard_epoch, t).max(e.floor).max(now);
                }
            }
            if let (Some(t), false) = (e.end_at, e.end_fading) {
                e.end_frame = Some(time_frame(heard_epoch, t).max(now));
            }
        }
    }

    fn emit(&self, e: DeckEvent) {
        self.events.send(e);
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Add {
                id,
                priority,
                start_at,
                end_at,
                after,
                title,
                prepared,
            } => {
                let now = self.at(self.frame);
                for (piece, reason) in prepared.failures {
                    self.emit_failed_piece(id, piece, reason, now);
                }
                if self.stopped_early.remove(&id) || prepared.source.is_empty() {
                    self.ends_early.remove(&id);
                    self.left(id, id.0, self.frame);
                    self.emit(DeckEvent::ItemEnded {
                        item: id,
                        outcome: Ending::NotAired,
                        at: now,
                    });
                    return;
                }
                let end_at = self.ends_early.remove(&id).or(end_at);
                let mut start_frame = start_at.map(|t| self.frame_of(t)).unwrap_or(0);
                let takes_over = after.is_none()
                    && start_frame <= self.frame
                    && self.airing().is_some_and(|i| {
                        let e = &self.entries[i];
                        e.state == State::Airing && priority >= e.priority
                    });
                self.preempted |= takes_over;
                let mut floor = 0;
                // A follower whose item already left takes its place now;
                // one whose item is still here (or not here yet) waits.
                let (mut seq, mut after) = (id.0, after);
                if let Some(prev) = after {
                    if let Some(g) = self.gone.iter().position(|g| g.0 == prev) {
                        let (_, place, frame) = self.gone.remove(g).expect("found");
                        seq = place;
                        floor = frame;
                        start_frame = start_frame.max(frame);
                        after = None;
                    }
                }
                self.entries.push(Entry {
                    id,
                    priority,
                    seq,
                    source: prepared.source,
                    state: State::Pending,
                    start_frame,
                    end_frame: end_at.map(|t| self.frame_of(t)),
                    start_at,
                    end_at,
                    floor,
                    end_fading: false,
                    gain: Ramp::at(0.0),
                    aired_any: false,
                    removing: None,
                    after,
                    title,
                });
            }
            Command::Failed {
                id,
                failures,
                reason,
            } => {
                let now = self.at(self.frame);
                self.stopped_early.remove(&id);
                self.ends_early.remove(&id);
                self.left(id, id.0, self.frame);
                for (piece, r) in failures {
                    self.emit_failed_piece(id, piece, r, now);
                }
                self.emit(DeckEvent::ItemEnded {
                    item: id,
                    outcome: Ending::Failed(reason),
                    at: now,
                });
            }
            Command::Stop(id) => match self.entries.iter().position(|e| e.id == id) {
                None => {
                    if !self.gone.iter().any(|g| g.0 == id) {
                        self.stopped_early.insert(id);
                    }
                }
                Some(i) => {
                    let e = &mut self.entries[i];
                    if e.state == State::Airing || !e.gain.silent() {
                        e.removing = Some(Ending::Cut);
                        e.gain.to(0.0, self.preempt_fade);
                    } else {
                        let outcome = if e.aired_any {
                            Ending::Preempted
                        } else {
                            Ending::NotAired
                        };
                        self.finalize(i, outcome, self.frame);
                    }
                }
            },
            Command::EndAt(id, t) => match self.entries.iter().position(|e| e.id == id) {
                None => {
                    if !self.gone.iter().any(|g| g.0 == id) {
                        self.ends_early.insert(id, t);
                    }
                }
                Some(i) => {
                    let end = self.frame_of(t);
                    let e = &mut self.entries[i];
                    e.end_at = Some(t);
                    e.end_frame = Some(end);
                    if e.end_fading && e.state == State::Airing && e.removing.is_none() {
                        // The end moved while fading: back up, fade again later.
                        e.gain.to(1.0, self.resume_fade);
                    }
                    e.end_fading = false;
                }
            },
            Command::Volume(v) => self.volume.to(v.clamp(0.0, 1.0), self.resume_fade.max(1)),
            Command::Shutdown => {}
        }
    }

    fn emit_failed_piece(&self, id: ItemId, piece: Piece, reason: String, at: SystemTime) {
        self.emit(DeckEvent::Started {
            item: id,
            piece: piece.clone(),
            at,
        });
        self.emit(DeckEvent::Ended {
            item: id,
            piece,
            outcome: Ending::Failed(reason),
            aired_frames: 0,
            at,
        });
    }

    /// Turns the notes a source made into events, `base` being the frame of
    /// offset 0 of its buffer.
    fn flush_notes(&mut self, id: ItemId, base: u64) {
        for (offset, note) in std::mem::take(&mut self.log.notes) {
            let at = self.at(base + offset as u64);
            self.emit(match note {
                Note::Started(piece) => DeckEvent::Started {
                    item: id,
                    piece,
                    at,
                },
                Note::Ended {
                    piece,
                    outcome,
                    aired_frames,
                } => DeckEvent::Ended {
                    item: id,
                    piece,
                    outcome,
                    aired_frames,
                    at,
                },
            });
        }
    }

    /// Item `id` left the deck at `frame`: its follower takes its place
    /// (`seq`) from that frame; with none here yet, it is remembered for one
    /// still being prepared.
    fn left(&mut self, id: ItemId, seq: u64, frame: u64) {
        let mut followed = false;
        for e in self.entries.iter_mut().filter(|e| e.after == Some(id)) {
            e.after = None;
            e.seq = seq;
            e.floor = frame;
            e.start_frame = e.start_frame.max(frame);
            followed = true;
        }
        if !followed {
            if self.gone.len() == GONE_KEPT {
                self.gone.pop_front();
            }
            self.gone.push_back((id, seq, frame));
        }
    }

    fn finalize(&mut self, index: usize, outcome: Ending, frame: u64) {
        let mut e = self.entries.remove(index);
        self.left(e.id, e.seq, frame);
        e.source.close(&outcome, 0, &mut self.log);
        self.flush_notes(e.id, frame);
        self.emit(DeckEvent::ItemEnded {
            item: e.id,
            outcome,
            at: self.at(frame),
        });
    }

    /// Items whose start is due by `frame` may air.
    fn promote(&mut self, frame: u64) {
        for e in &mut self.entries {
            if e.state == State::Pending && e.after.is_none() && e.start_frame <= frame {
                e.state = State::Held;
            }
        }
    }

    /// Applies start instants and hard ends due at the current frame and
    /// picks the airing item.
    fn update(&mut self) {
        let now = self.frame;
        let mut i = 0;
        while i < self.entries.len() {
            let e = &mut self.entries[i];
            if let Some(end) = e.end_frame {
                if now >= end {
                    let outcome = if !e.aired_any {
                        Ending::NotAired
                    } else if e.state == State::Airing {
                        Ending::Cut
                    } else {
                        Ending::Preempted
                    };
                    self.finalize(i, outcome, now);
                    continue;
                }
                if !e.end_fading && now + self.end_fade >= end {
                    e.end_fading = true;
                    e.gain.to(0.0, end - now);
                }
            }
            i += 1;
        }
        // What is due now may air, followers of what ended now included.
        self.promote(now);
        self.select();
    }

    fn airing(&self) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.eligible())
            .max_by_key(|(_, e)| (e.priority, e.seq))
            .map(|(i, _)| i)
    }

    fn select(&mut self) {
        let winner = self.airing();
        for (i, e) in self.entries.iter_mut().enumerate() {
            if Some(i) == winner {
                if e.state != State::Airing {
                    e.state = State::Airing;
                    if !e.end_fading {
                        if e.aired_any || e.source.runs_while_held() {
                            e.gain.to(1.0, self.resume_fade);
                        } else {
                            e.gain = Ramp::at(1.0);
                        }
                    }
                }
            } else if e.state == State::Airing && e.removing.is_none() {
                e.state = State::Held;
                e.gain.to(0.0, self.preempt_fade);
            }
        }
    }

    /// The next frame after now where something is due (a start, the start
    /// of an end fade, an end).
    fn next_boundary(&self) -> u64 {
        let now = self.frame;
        let mut next = u64::MAX;
        for e in &self.entries {
            if e.state == State::Pending && e.after.is_none() && e.start_frame > now {
                next = next.min(e.start_frame);
            }
            // A fade ends on a span boundary: a paused file stops on that sample.
            if e.gain.remaining > 0 {
                next = next.min(now + e.gain.remaining);
            }
            if let Some(end) = e.end_frame {
                if end > now {
                    next = next.min(end);
                }
                let fade_start = end.saturating_sub(self.end_fade);
                if !e.end_fading && fade_start > now {
                    next = next.min(fade_start);
                }
            }
        }
        next
    }

    /// Renders one block of `frames` (<= BLOCK) frames and writes it out.
    fn render_block(&mut self, frames: usize) {
        let mut done = 0;
        while done < frames {
            self.update();
            let span = ((self.next_boundary() - self.frame) as usize).min(frames - done);
            self.render_span(done, span);
            self.frame += span as u64;
            done += span;
        }
        let block = &mut self.mix[..frames * CHANNELS];
        for f in block.chunks_exact_mut(CHANNELS) {
            let g = self.volume.next();
            for s in f {
                *s = (*s * g).clamp(-1.0, 1.0);
            }
        }
        self.output.write(&self.mix[..frames * CHANNELS]);
        self.tell_title();
        if self.entries.iter().all(|e| e.state == State::Pending) && self.volume.remaining == 0 {
            self.quiet += frames as u64;
        } else {
            self.quiet = 0;
        }
        self.follow_lag();
        self.position.store(self.frame, Ordering::Relaxed);
        self.heard
            .store(self.output.played_frames(), Ordering::Relaxed);
        self.latency_ns
            .store(self.output.latency().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Tells the output when what airs changed to a titled item.
    fn tell_title(&mut self) {
        let Some(i) = self.airing() else { return };
        let e = &self.entries[i];
        if self.titled != Some(e.id) && e.state == State::Airing {
            self.titled = Some(e.id);
            if let Some(t) = &e.title {
                self.output.now_playing(t);
            }
        }
    }

    fn render_span(&mut self, at: usize, span: usize) {
        let base = self.frame;
        let out = at * CHANNELS..(at + span) * CHANNELS;
        self.mix[out.clone()].fill(0.0);
        let airing = self.airing();
        let airing_id = airing.map(|i| self.entries[i].id);
        // Items that are not airing: fading out, or running muted.
        self.ran.clear();
        for i in 0..self.entries.len() {
            let e = &mut self.entries[i];
            if Some(e.id) == airing_id || e.state == State::Pending {
                continue;
            }
            if let Some(outcome) = e.removing.clone().filter(|_| e.gain.silent()) {
                self.ended.push((e.id, outcome, base));
                continue;
            }
            let audible = !e.gain.silent();
            if !audible && !e.source.runs_while_held() {
                continue;
            }
            let buf = &mut self.scratch[..span * CHANNELS];
            let r = render_guarded(e, buf, audible, &mut self.log);
            self.ran.push(e.id);
            if audible {
                e.gain.mix(buf, &mut self.mix[out.clone()]);
                e.aired_any = true;
            }
            let id = e.id;
            match r {
                Rendered::Ended { frames, outcome } => {
                    self.ended.push((id, outcome, base + frames as u64))
                }
                Rendered::More => {
                    if let Some(outcome) = e.removing.clone().filter(|_| e.gain.silent()) {
                        self.ended.push((id, outcome, base + span as u64));
                    }
                }
            }
            self.flush_notes(id, base);
        }
        let mut ended = std::mem::take(&mut self.ended);
        for (id, outcome, frame) in ended.drain(..) {
            if let Some(i) = self.entries.iter().position(|e| e.id == id) {
                self.finalize(i, outcome, frame);
            }
        }
        self.ended = ended;
        // A follower of an item that ended at the span's start airs in it
        // (one that ended at its end waits for the next span).
        self.promote(base);
        // The airing item, then whatever resumes when it ends mid-span.
        let mut off = 0;
        while off < span {
            let Some(i) = self.airing() else { break };
            if self.ran.contains(&self.entries[i].id) {
                break;
            }
            let e = &mut self.entries[i];
            let buf = &mut self.scratch[off * CHANNELS..span * CHANNELS];
            let r = render_guarded(e, buf, true, &mut self.log);
            e.gain.mix(
                buf,
                &mut self.mix[(at + off) * CHANNELS..(at + span) * CHANNELS],
            );
            let id = e.id;
            self.ran.push(id);
            self.flush_notes(id, base + off as u64);
            match r {
                Rendered::More => {
                    self.entries[i].aired_any = true;
                    break;
                }
                Rendered::Ended { frames, outcome } => {
                    if frames > 0 {
                        self.entries[i].aired_any = true;
                    }
                    off += frames;
                    self.finalize(i, outcome, base + off as u64);
                    // Its follower goes on from the very next sample.
                    self.promote(base + off as u64);
                    self.select();
                }
            }
        }
    }

    fn is_idle(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a real-time deck may rest: it has written half a second of
    /// silence, and nothing is due before [`WAKE_AHEAD`] from now (only
    /// items waiting for their start instant, none following another).
    fn may_rest(&self) -> bool {
        self.quiet >= QUIET_BEFORE_REST
            && self.volume.remaining == 0
            && self.entries.iter().all(|e| {
                e.state == State::Pending
                    && e.after.is_none()
                    && e.start_frame > self.frame + WAKE_AHEAD
            })
    }

    /// How long a resting deck may sleep: until [`WAKE_AHEAD`] before the
    /// next start, and at most a second (its timeline, and a `wav` file's,
    /// move on meanwhile).
    fn rest_for(&self) -> Duration {
        let next = self
            .entries
            .iter()
            .map(|e| e.start_frame)
            .min()
            .unwrap_or(u64::MAX);
        let frames = next.saturating_sub(self.frame + WAKE_AHEAD);
        crate::format::frames_to_duration(frames.min(RATE as u64))
    }

    /// While resting: `frames` went by.
    fn skip(&mut self, frames: u64) {
        self.output.skip(frames);
        self.frame += frames;
        self.position.store(self.frame, Ordering::Relaxed);
        self.heard
            .store(self.output.played_frames(), Ordering::Relaxed);
    }
}

/// Renders an entry's source; a panic inside it (a decoder bug on a
/// malformed file) ends that item as failed instead of killing the deck.
fn render_guarded(e: &mut Entry, buf: &mut [f32], audible: bool, log: &mut PieceLog) -> Rendered {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        e.source.render(buf, audible, log)
    })) {
        Ok(r) => r,
        Err(_) => {
            tracing::error!("{}: the source crashed; ending it", e.id);
            buf.fill(0.0);
            Rendered::Ended {
                frames: 0,
                outcome: Ending::Failed(
                    "the decoder crashed on this media (a bug; please report the file)".into(),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A card whose frames are heard `lag` after they are written (what a
    /// sound server and the card's buffer hold), keeping what it was given.
    struct Lagging {
        epoch: SystemTime,
        lag_ns: Arc<AtomicI64>,
        written: Arc<Mutex<Vec<f32>>>,
    }

    impl Output for Lagging {
        fn write(&mut self, block: &[f32]) {
            self.written.lock().unwrap().extend_from_slice(block);
        }
        fn started_at(&self) -> SystemTime {
            self.epoch
        }
        fn played_frames(&self) -> u64 {
            self.written.lock().unwrap().len() as u64 / CHANNELS as u64
        }
        fn lag_ns(&self) -> i64 {
            self.lag_ns.load(Ordering::Relaxed)
        }
    }

    /// A 3 s 1 kHz tone due at `start`, with a hard end at `end`.
    fn tone_at(start: SystemTime, end: Option<SystemTime>) -> Command {
        tone_cmd(1, Priority::Normal, Some(start), None, end, 1000.0, 3)
    }

    /// The frame of a tone's first sample (sin 0 = 0: the one before the
    /// first that is not silent), and of its last that is not.
    fn sound(written: &[f32]) -> (usize, usize) {
        let frames: Vec<&[f32]> = written.chunks_exact(CHANNELS).collect();
        let first = frames.iter().position(|f| f[0] != 0.0).expect("sound") - 1;
        let last = frames.iter().rposition(|f| f[0] != 0.0).expect("sound");
        (first, last)
    }

    #[test]
    fn an_output_that_lags_gets_each_start_and_end_that_much_earlier() {
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let lag = Arc::new(AtomicI64::new(0));
        let written = Arc::new(Mutex::new(Vec::new()));
        let output = Lagging {
            epoch,
            lag_ns: lag.clone(),
            written: written.clone(),
        };
        let (tx, rx) = channel();
        let mut core = DeckCore::new(Box::new(output), tx.into(), &DeckConfig::default());
        // The card's lag is learnt while silence airs: 37 ms.
        lag.store(37_000_000, Ordering::Relaxed);
        core.render_block(BLOCK);
        let start = epoch + Duration::from_millis(500);
        let end = epoch + Duration::from_millis(2_000);
        core.handle(tone_at(start, Some(end)));
        // Then it moves by 3 ms (an underrun): the pending start follows.
        for _ in 0..40 {
            core.render_block(BLOCK);
        }
        lag.store(40_000_000, Ordering::Relaxed);
        for _ in 0..500 {
            core.render_block(BLOCK);
        }
        let (first, last) = sound(&written.lock().unwrap());
        // Heard at frame + 40 ms: the first sample at 500 ms, silent from 2 s.
        assert_eq!(first, (500 - 40) * 48, "first sample written 40 ms early");
        assert_eq!(last + 1, (2_000 - 40) * 48, "silent exactly at the end");
        let events: Vec<DeckEvent> = rx.try_iter().collect();
        let started = events.iter().find_map(|e| match e {
            DeckEvent::Started { at, .. } => Some(*at),
            _ => None,
        });
        assert_eq!(
            started,
            Some(start),
            "Started is when it is heard: {events:?}"
        );
        let ended = events.iter().find_map(|e| match e {
            DeckEvent::ItemEnded { at, outcome, .. } => Some((*at, outcome.clone())),
            _ => None,
        });
        assert_eq!(ended, Some((end, Ending::Cut)), "{events:?}");
    }

    #[test]
    fn a_lag_that_wobbles_less_than_a_quarter_millisecond_moves_nothing() {
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let lag = Arc::new(AtomicI64::new(20_000_000));
        let written = Arc::new(Mutex::new(Vec::new()));
        let output = Lagging {
            epoch,
            lag_ns: lag.clone(),
            written: written.clone(),
        };
        let (tx, _rx) = channel();
        let mut core = DeckCore::new(Box::new(output), tx.into(), &DeckConfig::default());
        core.render_block(BLOCK);
        core.handle(tone_at(epoch + Duration::from_millis(300), None));
        for i in 0..100 {
            // +-0.2 ms around 20 ms.
            let wobble = if i % 2 == 0 { 200_000 } else { -200_000 };
            lag.store(20_000_000 + wobble, Ordering::Relaxed);
            core.render_block(BLOCK);
        }
        let (first, _) = sound(&written.lock().unwrap());
        assert_eq!(first, (300 - 20) * 48);
    }

    /// A source with a bug: it panics after a while.
    struct Crashing(u32);

    impl Source for Crashing {
        fn render(&mut self, out: &mut [f32], _audible: bool, _log: &mut PieceLog) -> Rendered {
            self.0 += 1;
            assert!(self.0 < 3, "decoder bug");
            out.fill(0.25);
            Rendered::More
        }
        fn close(&mut self, _outcome: &Ending, _offset: usize, _log: &mut PieceLog) {}
    }

    #[test]
    fn a_crashing_source_fails_its_item_and_the_deck_plays_on() {
        let (tx, rx) = channel();
        let epoch = SystemTime::UNIX_EPOCH;
        let output = open_output(&OutputSpec::Null, Clock::Virtual { epoch }, tx.clone()).unwrap();
        let mut core = DeckCore::new(output, tx.into(), &DeckConfig::default());
        core.handle(Command::Add {
            id: ItemId(1),
            priority: Priority::Normal,
            start_at: None,
            end_at: None,
            after: None,
            title: None,
            prepared: Prepared {
                source: Box::new(Crashing(0)),
                failures: Vec::new(),
            },
        });
        for _ in 0..10 {
            core.render_block(BLOCK);
        }
        let events: Vec<DeckEvent> = rx.try_iter().collect();
        assert!(
            matches!(&events[..], [DeckEvent::ItemEnded { item: ItemId(1), outcome: Ending::Failed(r), .. }] if r.contains("crashed")),
            "{events:?}"
        );
        assert_eq!(core.frame, 10 * BLOCK as u64);
    }

    /// A tone of `hz` for `secs` at `priority`, due at `start` (None: at
    /// once) with a hard end at `end`, following `after`, prepared as the
    /// deck would.
    fn tone_cmd(
        id: u64,
        priority: Priority,
        start: Option<SystemTime>,
        after: Option<ItemId>,
        end: Option<SystemTime>,
        hz: f32,
        secs: u64,
    ) -> Command {
        let item = Item {
            start_at: start,
            end_at: end,
            after,
            ..Item::new(
                crate::item::Media::Tone {
                    hz,
                    length: Duration::from_secs(secs),
                },
                priority,
            )
        };
        let config = DeckConfig::default();
        let loudness = Arc::new(Loudness::new(None));
        let now = start.unwrap_or(SystemTime::UNIX_EPOCH);
        handles::prepare_command(ItemId(id), &item, &config, &loudness, false, now)
    }

    /// Only an item that takes the output from the one airing, at once, has
    /// the card drop what it holds: not a start still ahead (compensated),
    /// not a follower, not an item given after the one before ended, not a
    /// lower level.
    #[test]
    fn only_an_item_that_takes_over_at_once_cuts_what_the_card_holds() {
        let (tx, _rx) = channel();
        let epoch = SystemTime::UNIX_EPOCH;
        let output = open_output(&OutputSpec::Null, Clock::Virtual { epoch }, tx.clone()).unwrap();
        let mut core = DeckCore::new(output, tx.into(), &DeckConfig::default());
        let blocks = |core: &mut DeckCore, n: usize| {
            for _ in 0..n {
                core.render_block(BLOCK);
            }
        };
        // Nothing airs: the first item cuts nothing.
        core.handle(tone_cmd(1, Priority::Normal, None, None, None, 440.0, 2));
        assert!(!core.take_preempted(), "nothing aired before it");
        blocks(&mut core, 20);
        // A follower of what airs, a lower level, and a start still ahead.
        core.handle(tone_cmd(
            2,
            Priority::Normal,
            None,
            Some(ItemId(1)),
            None,
            440.0,
            1,
        ));
        core.handle(tone_cmd(3, Priority::Filler, None, None, None, 440.0, 1));
        let ahead = epoch + Duration::from_secs(1);
        core.handle(tone_cmd(
            4,
            Priority::Emergency,
            Some(ahead),
            None,
            None,
            440.0,
            1,
        ));
        assert!(!core.take_preempted(), "none of them takes over at once");
        blocks(&mut core, 10);
        // An emergency now: it takes over, once.
        core.handle(tone_cmd(5, Priority::Emergency, None, None, None, 440.0, 1));
        assert!(core.take_preempted(), "an emergency at once cuts");
        assert!(!core.take_preempted(), "once");
        // A start the deck has passed (it came late) takes over at once too.
        blocks(&mut core, 10);
        let late = epoch;
        core.handle(tone_cmd(
            6,
            Priority::Emergency,
            Some(late),
            None,
            None,
            440.0,
            1,
        ));
        assert!(core.take_preempted(), "a late start cuts");
        // Everything ends; an item given afterwards cuts nothing (the card
        // still holds the last samples of what ended).
        blocks(&mut core, 2_000);
        assert!(core.airing().is_none());
        core.handle(tone_cmd(7, Priority::Normal, None, None, None, 440.0, 1));
        assert!(!core.take_preempted(), "nothing airs to take over from");
    }
}
