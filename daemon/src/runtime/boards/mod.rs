//! LED boards: slogan rotation, now playing, emergencies, per-preset payloads.
//!
//! Pure state: every method takes the time it is called for and returns the
//! MQTT messages to send, so the same code runs on the wall clock and on a
//! virtual one. The daemon's [`Bus`](crate::runtime::mqtt::bus::Bus) owns a
//! [`Boards`], calls [`Boards::tick`] at [`Boards::next_wakeup`], and
//! forwards what airs and emergencies.
//!
//! What a board shows, highest first: an emergency's text (red); the airing
//! program's title on `show_now_playing` boards; the slogan rotation.
//!
//! Slogan rotation, per board (SPEC section 3):
//! - A slogan is active at an instant when, in the station's time zone, the
//!   time lies in `between` (start inclusive, end exclusive) and the day is
//!   in `days` and `dates`. For a `between` crossing midnight the part after
//!   midnight belongs to the evening it started on ("22:00-02:00" with
//!   `days: [fri]` runs Friday 22:00 to Saturday 02:00).
//! - A slogan is due when active and not shown for `every` (default
//!   [`DEFAULT_EVERY`]); one never shown is due as soon as it is active.
//! - The board shows one slogan at a time for at least a slot
//!   ([`SLOT`]). At the end of a slot the most overdue due slogan (ties: file
//!   order) takes the board for the next slot; when none is due the board
//!   keeps the one it shows while that stays active, so a board with active
//!   slogans never goes blank between them. When the one shown stops being
//!   active, another active one takes over at once, else the board is blank.
//!   Showing a slogan restarts its `every`.
//! - While a program title or an emergency covers the board, its rotation
//!   pauses; afterwards it resumes where it was (the covered slogan, if still
//!   active and nothing else is due).
//!
//! - Timing is exact: decisions happen at the planned instants (slot ends,
//!   `every`, window edges), and a caller that wakes late, or not at all for
//!   a while, gets them replayed at their own instants, so the plan never
//!   drifts. The `json` preset's `until` is the plan run ahead.
//!
//! Messages: a board's state renders to the list of messages that put it
//! there; only those that changed are sent, [`Boards::republish`] sends the
//! whole list. AWTRIX boards drop Loa's app by themselves if Loa stops: it is
//! sent with `lifetime` [`AWTRIX_LIFETIME`] and again every [`AWTRIX_REFRESH`].
//!
//! Boards that come back: a board restarted by a power cut, or one that
//! connects after Loa, shows the current text within seconds. The `text`
//! and `json` presets' messages are retained states; Tasmota and WLED
//! boards announce themselves (their MQTT birth message) and Loa answers
//! with their state; an AWTRIX board gets the app at the next refresh.

mod fold;
pub(crate) mod preset;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use loa_schedules::{Board, BoardPreset, Config, DailyWindow, DateRange, DaySet};

use preset::{Layer, Shown, Timing};

use crate::runtime::mqtt::Publish;

/// How often a slogan shows again when its `every` is not given.
pub const DEFAULT_EVERY: TimeDelta = TimeDelta::minutes(10);
/// How long one slogan holds the board before another due one may take it
/// (also the AWTRIX `duration` of Loa's app).
pub const SLOT: TimeDelta = TimeDelta::seconds(30);
/// How often an AWTRIX app that shows text is sent again.
pub const AWTRIX_REFRESH: TimeDelta = TimeDelta::seconds(60);
/// AWTRIX `lifetime`: the board drops the app after this long without an
/// update; more than two refreshes, so one lost message (QoS 0) is harmless.
pub const AWTRIX_LIFETIME: TimeDelta = TimeDelta::seconds(150);
/// Colour of a slogan without `color`.
pub const SLOGAN_COLOR: &str = "#FFFFFF";
/// Colour of a program title.
pub const NOW_PLAYING_COLOR: &str = "#FFFFFF";

/// The longest stretch of missed wakeups replayed at their own instants.
const CATCH_UP: TimeDelta = TimeDelta::days(1);
/// How far ahead the `json` preset's `until` looks for the end of a slogan.
const UNTIL_HORIZON: TimeDelta = TimeDelta::days(8);

/// A slogan as the rotation needs it.
#[derive(Clone, Debug)]
struct Rule {
    id: String,
    text: String,
    between: Option<DailyWindow>,
    days: DaySet,
    dates: DateRange,
    every: TimeDelta,
    color: String,
}

impl Rule {
    fn active(&self, tz: Tz, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&tz);
        let time = local.time();
        let mut day = local.date_naive();
        if let Some(w) = &self.between {
            if !w.contains(time) {
                return false;
            }
            if w.start > w.end && time < w.end {
                day = day.pred_opt().unwrap_or(day);
            }
        }
        self.days.contains(day.weekday()) && self.dates.contains(day)
    }

    /// The first instant after `after` at which `active` may change: a local
    /// midnight or an edge of `between`.
    fn next_edge(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = after.with_timezone(&tz).date_naive();
        let mut times = vec![NaiveTime::MIN];
        if let Some(w) = &self.between {
            times.push(w.start);
            times.push(w.end);
        }
        (-1..=2)
            .filter_map(|d| today.checked_add_signed(TimeDelta::days(d)))
            .flat_map(|d| times.iter().map(move |t| d.and_time(*t)))
            .filter_map(|wall| resolve(tz, wall))
            .filter(|t| *t > after)
            .min()
    }
}

/// A wall time as an instant: the first of an ambiguous pair; in a gap, the
/// first valid time after it.
fn resolve(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    for m in 0..=24 * 60 {
        match tz.from_local_datetime(&(wall + TimeDelta::minutes(m))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                return Some(t.with_timezone(&Utc))
            }
            LocalResult::None => continue,
        }
    }
    None
}

/// One board's slogan rotation.
#[derive(Clone, Debug)]
struct Rotation {
    /// Indexes into `Boards::rules`, in file order.
    slogans: Vec<usize>,
    /// Per entry of `slogans`: when it is due again (None: never shown).
    next_due: Vec<Option<DateTime<Utc>>>,
    /// The entry of `slogans` shown (or covered).
    current: Option<usize>,
    /// End of the current slot.
    slot_end: DateTime<Utc>,
    /// The instant of the last decision.
    decided_at: DateTime<Utc>,
    /// Covered by a program title or an emergency at the last decision.
    paused: bool,
}

impl Rotation {
    fn new(slogans: Vec<usize>) -> Rotation {
        Rotation {
            next_due: vec![None; slogans.len()],
            slogans,
            current: None,
            slot_end: DateTime::<Utc>::MIN_UTC,
            decided_at: DateTime::<Utc>::MIN_UTC,
            paused: false,
        }
    }

    /// Brings the rotation to `now`. Changes that fell due since the last
    /// decision are replayed at their own instants, so slots and `every` keep
    /// exact boundaries however late the caller wakes (a jump of more than
    /// [`CATCH_UP`] starts afresh at `now`). Time spent paused is skipped.
    /// When the clock went back, the plan moves back with it.
    fn advance(&mut self, rules: &[Rule], tz: Tz, now: DateTime<Utc>, covered: bool) {
        if covered || self.paused {
            self.decided_at = now;
        }
        self.paused = covered;
        if covered {
            return;
        }
        if now < self.decided_at {
            let shift = now - self.decided_at;
            let back = |t: DateTime<Utc>| {
                t.checked_add_signed(shift)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC)
            };
            self.slot_end = back(self.slot_end);
            for due in self.next_due.iter_mut().flatten() {
                *due = back(*due);
            }
        } else if now - self.decided_at <= CATCH_UP {
            let mut t = self.decided_at;
            while let Some(next) = self.next_change(rules, tz, t).filter(|n| *n < now) {
                self.decide(rules, tz, next);
                t = next;
            }
        }
        self.decide(rules, tz, now);
        self.decided_at = now;
    }

    /// Applies the rotation rules at `now`.
    fn decide(&mut self, rules: &[Rule], tz: Tz, now: DateTime<Utc>) {
        let active = |i: usize| rules[self.slogans[i]].active(tz, now);
        if let Some(c) = self.current {
            if now < self.slot_end && active(c) {
                return;
            }
        }
        let act: Vec<usize> = (0..self.slogans.len()).filter(|&i| active(i)).collect();
        if act.is_empty() {
            self.current = None;
            return;
        }
        // None (never shown) sorts first: the most overdue wins, then file order.
        let key = |i: &usize| (self.next_due[*i], *i);
        let due = act
            .iter()
            .copied()
            .filter(|&i| self.next_due[i].is_none_or(|d| d <= now))
            .min_by_key(|i| key(i));
        let pick = match due {
            Some(i) => i,
            None => match self.current {
                Some(c) if act.contains(&c) => return,
                _ => act
                    .iter()
                    .copied()
                    .min_by_key(|i| key(i))
                    .expect("act is not empty"),
            },
        };
        self.current = Some(pick);
        self.next_due[pick] = Some(now + rules[self.slogans[pick]].every);
        self.slot_end = now + SLOT;
    }

    /// The first instant after `now` at which `decide` may change something.
    fn next_change(&self, rules: &[Rule], tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let slot = Some(self.slot_end).filter(|t| *t > now && self.current.is_some());
        let due = self.next_due.iter().flatten().copied().filter(|t| *t > now);
        let edges = self
            .slogans
            .iter()
            .filter_map(|&r| rules[r].next_edge(tz, now));
        slot.into_iter().chain(due).chain(edges).min()
    }
}

#[derive(Clone, Debug)]
struct BoardState {
    board: Board,
    rotation: Rotation,
    /// The messages last sent for this board (None: nothing yet).
    sent: Option<Vec<Publish>>,
    /// AWTRIX: when the app with text was last sent.
    app_sent_at: Option<DateTime<Utc>>,
}

/// Every LED board of the station and what it shows.
#[derive(Clone, Debug)]
pub struct Boards {
    tz: Tz,
    rules: Vec<Rule>,
    boards: Vec<BoardState>,
    now_playing: Option<String>,
    emergency: Option<String>,
    /// When `tick` is next due (None: never); set by every call that takes `now`.
    wakeup: Option<DateTime<Utc>>,
}

impl Boards {
    /// The boards of `config`. Nothing is sent until the first [`Boards::tick`]
    /// (until then `next_wakeup` is the distant past: due at once), which
    /// puts every board in its state, blank ones included.
    pub fn new(config: &Config) -> Boards {
        let rules: Vec<Rule> = config
            .slogans
            .iter()
            .map(|s| Rule {
                id: s.id.clone(),
                text: s.text.clone(),
                between: s.between,
                days: s.days,
                dates: s.dates,
                every: s
                    .every
                    .and_then(|e| TimeDelta::from_std(e).ok())
                    .filter(|e| *e > TimeDelta::zero())
                    .unwrap_or(DEFAULT_EVERY),
                color: s.color.clone().unwrap_or_else(|| SLOGAN_COLOR.to_string()),
            })
            .collect();
        let boards = config
            .station
            .boards
            .iter()
            .map(|b| {
                let mine = config
                    .slogans
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.boards.contains(&b.id))
                    .map(|(i, _)| i)
                    .collect();
                BoardState {
                    board: b.clone(),
                    rotation: Rotation::new(mine),
                    sent: None,
                    app_sent_at: None,
                }
            })
            .collect();
        Boards {
            tz: config.station.timezone,
            rules,
            boards,
            now_playing: None,
            emergency: None,
            wakeup: Some(DateTime::<Utc>::MIN_UTC),
        }
    }

    /// A reload: new boards/slogans; keeps what shows where it can. A board
    /// that stays (same id, preset and topic) keeps its rotation (slogans by
    /// id) and the slogan it shows if its text is unchanged; a board removed or
    /// moved to another preset or topic is blanked where it was.
    pub fn reload(&mut self, config: &Config, now: DateTime<Utc>) -> Vec<Publish> {
        let mut fresh = Boards::new(config);
        fresh.now_playing = self.now_playing.take();
        fresh.emergency = self.emergency.take();
        let mut out = Vec::new();
        for old in std::mem::take(&mut self.boards) {
            let kept = fresh.boards.iter_mut().find(|b| {
                b.board.id == old.board.id
                    && b.board.preset == old.board.preset
                    && b.board.topic == old.board.topic
            });
            let Some(new) = kept else {
                let blank = preset::render(&old.board, None, None, self.tz, self.timing());
                out.extend(preset::changes(&old.board, old.sent.as_deref(), &blank));
                continue;
            };
            new.sent = old.sent;
            new.app_sent_at = old.app_sent_at;
            let rot = &mut new.rotation;
            for (i, &r) in rot.slogans.iter().enumerate() {
                let id = &fresh.rules[r].id;
                if let Some(j) = old
                    .rotation
                    .slogans
                    .iter()
                    .position(|&o| self.rules[o].id == *id)
                {
                    rot.next_due[i] = old.rotation.next_due[j];
                }
            }
            if let Some(c) = old.rotation.current {
                let was = &self.rules[old.rotation.slogans[c]];
                rot.current = rot
                    .slogans
                    .iter()
                    .position(|&r| fresh.rules[r].id == was.id && fresh.rules[r].text == was.text);
                if rot.current.is_some() {
                    rot.slot_end = old.rotation.slot_end;
                }
            }
            rot.decided_at = old.rotation.decided_at;
            rot.paused = old.rotation.paused;
        }
        *self = fresh;
        out.extend(self.settle(now));
        out
    }

    /// Slogan rotation due at `now` (call at or after next_wakeup()).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Publish> {
        self.settle(now)
    }

    /// When `tick` is next due; None: nothing will change by itself.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.wakeup
    }

    /// The airing program's title (None: nothing airs) for show_now_playing boards.
    pub fn now_playing(&mut self, title: Option<&str>, now: DateTime<Utc>) -> Vec<Publish> {
        self.now_playing = title.map(str::to_owned);
        self.settle(now)
    }

    /// An emergency's text takes every board (red) until cleared with None.
    pub fn emergency(&mut self, text: Option<&str>, now: DateTime<Utc>) -> Vec<Publish> {
        self.emergency = text.map(str::to_owned);
        self.settle(now)
    }

    /// Every board's current text again (after a broker reconnect), blank
    /// boards included.
    pub fn republish(&self, now: DateTime<Utc>) -> Vec<Publish> {
        (0..self.boards.len())
            .flat_map(|i| self.render(i, now))
            .collect()
    }

    /// The topics on which boards announce that they are back (see
    /// [`preset::birth`]).
    pub fn subscriptions(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .boards
            .iter()
            .filter_map(|b| preset::birth(&b.board).map(|(t, _)| t))
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// A message on a subscribed topic: a board that says it is back (after
    /// a power cut, a firmware restart) gets its whole state again.
    pub fn on_message(&self, topic: &str, payload: &[u8], now: DateTime<Utc>) -> Vec<Publish> {
        let said = String::from_utf8_lossy(payload);
        (0..self.boards.len())
            .filter(|&i| {
                preset::birth(&self.boards[i].board)
                    .is_some_and(|(t, online)| t == topic && said.trim() == online)
            })
            .flat_map(|i| self.render(i, now))
            .collect()
    }

    /// board id -> the text it shows now (in its charset), "" when blank.
    pub fn current(&self) -> BTreeMap<String, String> {
        self.boards
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let (app, emergency) = self.layers(i, None);
                let text = emergency
                    .or(app)
                    .map(|s| fold::for_charset(&s.text, b.board.charset))
                    .unwrap_or_default();
                (b.board.id.clone(), text)
            })
            .collect()
    }

    fn timing(&self) -> Timing {
        Timing {
            duration_s: SLOT.num_seconds(),
            lifetime_s: AWTRIX_LIFETIME.num_seconds(),
        }
    }

    /// Whether a program title or an emergency covers board `i`.
    fn covered(&self, i: usize) -> bool {
        self.emergency.is_some()
            || (self.boards[i].board.show_now_playing && self.now_playing.is_some())
    }

    /// Board `i`'s program/slogan layer and emergency layer. `now` is needed
    /// only for the slogan's `until` (None: leave it out).
    fn layers(&self, i: usize, now: Option<DateTime<Utc>>) -> (Option<Shown>, Option<Shown>) {
        let b = &self.boards[i];
        let emergency = self.emergency.as_ref().map(|text| Shown {
            text: text.clone(),
            color: preset::EMERGENCY_COLOR.to_string(),
            layer: Layer::Emergency,
            until: None,
        });
        let title = self
            .now_playing
            .as_ref()
            .filter(|_| b.board.show_now_playing);
        let app = match title {
            Some(title) => Some(Shown {
                text: title.clone(),
                color: NOW_PLAYING_COLOR.to_string(),
                layer: Layer::Program,
                until: None,
            }),
            None => b.rotation.current.map(|c| {
                let rule = &self.rules[b.rotation.slogans[c]];
                Shown {
                    text: rule.text.clone(),
                    color: rule.color.clone(),
                    layer: Layer::Slogan,
                    until: now.and_then(|now| self.slogan_until(i, now)),
                }
            }),
        };
        (app, emergency)
    }

    /// When the slogan board `i` shows will be replaced, if nothing covers it
    /// meanwhile: the rotation run ahead on a copy.
    fn slogan_until(&self, i: usize, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut rot = self.boards[i].rotation.clone();
        let shown = rot.current?;
        let mut t = now;
        while let Some(next) = rot.next_change(&self.rules, self.tz, t) {
            if next > now + UNTIL_HORIZON {
                break;
            }
            rot.decide(&self.rules, self.tz, next);
            if rot.current != Some(shown) {
                return Some(next);
            }
            t = next;
        }
        None
    }

    fn render(&self, i: usize, now: DateTime<Utc>) -> Vec<Publish> {
        let b = &self.boards[i];
        // Only the json preset carries `until`; the others need no look-ahead.
        let until_at = Some(now).filter(|_| b.board.preset == BoardPreset::Json);
        let (app, emergency) = self.layers(i, until_at);
        preset::render(
            &b.board,
            app.as_ref(),
            emergency.as_ref(),
            self.tz,
            self.timing(),
        )
    }

    /// Brings every board to its state at `now` and returns what to send.
    fn settle(&mut self, now: DateTime<Utc>) -> Vec<Publish> {
        let mut out = Vec::new();
        for i in 0..self.boards.len() {
            let covered = self.covered(i);
            let rules = &self.rules;
            self.boards[i]
                .rotation
                .advance(rules, self.tz, now, covered);
            let new = self.render(i, now);
            let b = &mut self.boards[i];
            if b.app_sent_at.is_some_and(|at| at > now) {
                b.app_sent_at = None; // the clock went back: refresh now
            }
            let mut sent = preset::changes(&b.board, b.sent.as_deref(), &new);
            if b.board.preset == BoardPreset::Awtrix {
                // new[0] is always the app; it carries text unless its payload is empty.
                let app = &new[0];
                if app.payload.is_empty() {
                    b.app_sent_at = None;
                } else if sent.iter().any(|p| p == app) {
                    b.app_sent_at = Some(now);
                } else if b.app_sent_at.is_none_or(|at| now >= at + AWTRIX_REFRESH) {
                    sent.insert(0, app.clone());
                    b.app_sent_at = Some(now);
                }
            }
            b.sent = Some(new);
            out.extend(sent);
        }
        self.wakeup = self.compute_wakeup(now);
        out
    }

    fn compute_wakeup(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (0..self.boards.len())
            .filter_map(|i| {
                let b = &self.boards[i];
                let refresh = b.app_sent_at.map(|at| at + AWTRIX_REFRESH);
                let rotation = if self.covered(i) {
                    None
                } else {
                    b.rotation.next_change(&self.rules, self.tz, now)
                };
                refresh.into_iter().chain(rotation).min()
            })
            .min()
    }
}
