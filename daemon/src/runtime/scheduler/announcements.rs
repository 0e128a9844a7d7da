//! Announcements (`loa now`, signed remote commands): put on the air with
//! their chime, listed, expired when they cannot air in time, and stopped.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use loa_audio::Media;
use loa_schedules::{Chime, IfBusy, Priority, Program};

use crate::runtime::airtime::Trigger;
use crate::runtime::engine::{estimated_speech, Engine};

use super::firing::span_text;
use super::*;

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

/// The chime before an announcement: policy.chime's file while it is
/// there, else the built-in one.
pub(super) fn chime_media(chime: &Chime) -> Media {
    match chime {
        Chime::File(p) if p.is_file() => Media::file(p.clone()),
        _ => Media::Chime,
    }
}

impl<E: Engine> Scheduler<E> {
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
            occurs: loa_schedules::Occurrences::new(loa_schedules::Recurrence::Daily {
                at: chrono::NaiveTime::MIN,
                days: loa_schedules::DaySet::empty(),
            }),
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
            next_items: Vec::new(),
            early: Vec::new(),
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
    pub(super) fn stop_runs(&mut self, reason: &str, pick: impl Fn(&Run) -> bool) -> Vec<usize> {
        let mut stopped = Vec::new();
        let mut items = Vec::new();
        for (i, r) in self.runs.iter_mut().enumerate() {
            if pick(r) {
                r.stop_reason = Some(reason.to_string());
                // Followers first: stopping an item releases its follower.
                items.append(&mut r.next_items);
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
    pub(super) fn expire_announcements(&mut self, now: DateTime<Utc>) {
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
}
