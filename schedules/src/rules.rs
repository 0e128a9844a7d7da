//! SPEC section 4, once: who takes an output, who waits and until when,
//! who is skipped, and where a program must end whatever it plays.
//!
//! Three parts of Loa apply these rules, and all three call this module:
//! - the agenda ([`crate::agenda`]) predicts a day with them;
//! - the daemon's scheduler applies them as occurrences fall due;
//! - the daemon's simulated decks (`loa simulate`) pick what airs by
//!   [`on_top`], as the real decks of the audio crate do.
//!
//! Pure functions of their arguments: no clock, no files. Whoever calls
//! brings the instant; a virtual run and a real one decide alike. The
//! differential test (daemon/src/runtime/scheduler/differential.rs) checks
//! that the agenda of a day is what `loa simulate` logs.

use std::cmp::Ordering;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone};
use chrono_tz::Tz;

use crate::occurrence::{delta, resolve_local, DailyWindow};
use crate::{IfBusy, Priority, Station};

/// How far ahead of its second an occurrence is decided and its item goes
/// to the decks: time to open files, resolve globs and render TTS before
/// the scheduled sample.
pub const LEAD: Duration = Duration::from_secs(3);

/// The lead of a station: [`LEAD`], or longer when a zone's relay needs a
/// longer preroll (a second more than the longest).
pub fn lead(station: &Station) -> Duration {
    let preroll = station
        .zones
        .iter()
        .map(|z| z.preroll)
        .max()
        .unwrap_or_default();
    LEAD.max(preroll + Duration::from_secs(1))
}

/// 4.1: the order in which occurrences falling due at once are decided:
/// by instant; at one instant the higher level first, then file order
/// (the program's index in the configuration).
pub fn due_order<Z: TimeZone>(
    a: (&DateTime<Z>, Priority, usize),
    b: (&DateTime<Z>, Priority, usize),
) -> Ordering {
    a.0.cmp(b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
}

/// 4.2, as the decks apply it: of the items holding an output, the one
/// that airs is the highest level, the newest (latest submitted) among
/// equals. `items` are (index, level, submission number).
pub fn on_top(items: impl IntoIterator<Item = (usize, Priority, u64)>) -> Option<usize> {
    items
        .into_iter()
        .max_by_key(|&(_, level, seq)| (level, seq))
        .map(|(i, _, _)| i)
}

/// 4.6: the quiet hours that keep `level` off the air at local time `at`
/// (only emergency sounds in them), if `at` falls in them.
pub fn quiet_hold(
    quiet_hours: Option<DailyWindow>,
    level: Priority,
    at: NaiveTime,
) -> Option<DailyWindow> {
    let q = quiet_hours?;
    (level < Priority::Emergency && q.contains(at)).then_some(q)
}

/// The first start of quiet hours strictly between `start` and `until`, in
/// the station's time zone (that of `start`).
pub fn next_quiet_start(
    q: &DailyWindow,
    start: &DateTime<Tz>,
    until: &DateTime<Tz>,
) -> Option<DateTime<Tz>> {
    let tz = start.timezone();
    let mut day = start.date_naive();
    while day <= until.with_timezone(&tz).date_naive() {
        let at = resolve_local(tz, day.and_time(q.start));
        if at > *start && at < *until {
            return Some(at);
        }
        day = day.succ_opt()?;
    }
    None
}

/// Why a program must stop at its hard end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndCause {
    /// `duration:` closes the occurrence's window (SPEC 3, Windows).
    Window,
    /// Quiet hours begin (4.6); the time they start.
    QuietHours(NaiveTime),
}

/// The instant a run must end whatever it plays, and why: its window
/// (`scheduled + duration`), or quiet hours' start when that comes first
/// for a level below emergency (4.6: a pause beneath a higher item that
/// carries a program there ends it there too). Quiet hours are looked for
/// within the window, or a day from `start` without one.
pub fn hard_end(
    scheduled: &DateTime<Tz>,
    start: &DateTime<Tz>,
    duration: Option<Duration>,
    level: Priority,
    quiet_hours: Option<DailyWindow>,
) -> Option<(DateTime<Tz>, EndCause)> {
    let window = duration.map(|d| (*scheduled + delta(d), EndCause::Window));
    if level < Priority::Emergency {
        if let Some(q) = quiet_hours {
            let horizon = window.map_or_else(|| *start + TimeDelta::hours(24), |(w, _)| w);
            if let Some(qs) = next_quiet_start(&q, start, &horizon) {
                return Some((qs, EndCause::QuietHours(q.start)));
            }
        }
    }
    window
}

/// What an occurrence does when it finds its output held (4.2, 4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meeting<Z: TimeZone> {
    /// It takes the output; what held it pauses beneath it.
    Preempts,
    /// It waits, and starts from its beginning when the output frees, if
    /// that is no later than `until` (None: as long as it takes). A lower
    /// level waits beneath a higher one as long as its window allows; an
    /// equal one as long as `if_busy: wait D` allows, counted from its
    /// scheduled second (waiting uses up the window, never moves it).
    Waits { until: Option<DateTime<Z>> },
    /// `if_busy: skip` met an equal level on the air.
    Skips,
}

/// How an occurrence of level `mine` with `if_busy` meets `theirs` on the
/// air. `hard_end` is its own (see [`hard_end`]).
pub fn meet<Z: TimeZone>(
    mine: Priority,
    if_busy: IfBusy,
    theirs: Priority,
    scheduled: &DateTime<Z>,
    hard_end: Option<&DateTime<Z>>,
) -> Meeting<Z> {
    match mine.cmp(&theirs) {
        Ordering::Greater => Meeting::Preempts,
        Ordering::Less => Meeting::Waits {
            until: hard_end.cloned(),
        },
        Ordering::Equal => match if_busy {
            IfBusy::Preempt => Meeting::Preempts,
            IfBusy::Skip => Meeting::Skips,
            IfBusy::Wait(d) => {
                let limit = scheduled.clone() + delta(d);
                Meeting::Waits {
                    until: Some(match hard_end {
                        Some(e) if *e < limit => e.clone(),
                        _ => limit,
                    }),
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Tz> {
        chrono_tz::Asia::Ho_Chi_Minh
            .with_ymd_and_hms(2026, 12, 5, h, m, 0)
            .unwrap()
    }

    fn quiet() -> Option<DailyWindow> {
        Some(DailyWindow {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(5, 0, 0).unwrap(),
        })
    }

    #[test]
    fn higher_first_at_one_instant_then_file_order() {
        let t = at(6, 0);
        let mut v = [
            (t, Priority::Normal, 0),
            (t, Priority::Emergency, 2),
            (at(5, 59), Priority::Filler, 3),
            (t, Priority::Normal, 1),
        ];
        v.sort_by(|a, b| due_order((&a.0, a.1, a.2), (&b.0, b.1, b.2)));
        let order: Vec<usize> = v.iter().map(|x| x.2).collect();
        assert_eq!(order, [3, 2, 0, 1]);
    }

    #[test]
    fn the_highest_level_airs_and_the_newest_among_equals() {
        let (normal, filler, emergency) = (Priority::Normal, Priority::Filler, Priority::Emergency);
        assert_eq!(on_top([(0, normal, 1), (1, filler, 9)]), Some(0));
        assert_eq!(on_top([(0, normal, 1), (1, normal, 2)]), Some(1));
        assert_eq!(on_top([(0, emergency, 1), (1, normal, 2)]), Some(0));
        assert_eq!(on_top([]), None);
    }

    #[test]
    fn only_emergency_sounds_in_quiet_hours() {
        let late = NaiveTime::from_hms_opt(23, 0, 0).unwrap();
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap();
        assert!(quiet_hold(quiet(), Priority::Priority, late).is_some());
        assert!(quiet_hold(quiet(), Priority::Emergency, late).is_none());
        assert!(quiet_hold(quiet(), Priority::Normal, noon).is_none());
        assert!(quiet_hold(None, Priority::Normal, late).is_none());
    }

    #[test]
    fn the_hard_end_is_the_window_or_quiet_hours_whichever_is_first() {
        let hour = Some(Duration::from_secs(3600));
        // 21:30 for an hour: quiet hours at 22:00 come first.
        let (end, why) =
            hard_end(&at(21, 30), &at(21, 30), hour, Priority::Normal, quiet()).unwrap();
        assert_eq!(
            (end, why),
            (at(22, 0), EndCause::QuietHours(quiet().unwrap().start))
        );
        // Emergency ignores them.
        let (end, why) =
            hard_end(&at(21, 30), &at(21, 30), hour, Priority::Emergency, quiet()).unwrap();
        assert_eq!((end, why), (at(22, 30), EndCause::Window));
        // The window counts from the scheduled second, not a late start.
        let (end, _) = hard_end(&at(6, 0), &at(6, 20), hour, Priority::Normal, quiet()).unwrap();
        assert_eq!(end, at(7, 0));
        // No window: quiet hours within a day, or nothing.
        assert_eq!(
            hard_end(&at(6, 0), &at(6, 0), None, Priority::Normal, quiet()).map(|e| e.0),
            Some(at(22, 0))
        );
        assert_eq!(
            hard_end(&at(6, 0), &at(6, 0), None, Priority::Normal, None),
            None
        );
    }

    #[test]
    fn meeting_the_output_held() {
        use Priority::{Emergency, Filler, Normal};
        let s = at(6, 0);
        let end = at(6, 30);
        let wait = IfBusy::Wait(Duration::from_secs(600));
        assert_eq!(
            meet(Emergency, IfBusy::Skip, Normal, &s, None),
            Meeting::Preempts
        );
        assert_eq!(
            meet(Normal, IfBusy::Preempt, Normal, &s, None),
            Meeting::Preempts
        );
        assert_eq!(meet(Normal, IfBusy::Skip, Normal, &s, None), Meeting::Skips);
        // Lower: beneath the higher one as long as its window allows,
        // whatever if_busy says.
        assert_eq!(
            meet(Filler, IfBusy::Skip, Normal, &s, Some(&end)),
            Meeting::Waits { until: Some(end) }
        );
        assert_eq!(
            meet(Filler, wait, Normal, &s, None),
            Meeting::Waits { until: None }
        );
        // Equal, wait D: from the scheduled second, never past the hard end.
        assert_eq!(
            meet(Normal, wait, Normal, &s, Some(&end)),
            Meeting::Waits {
                until: Some(at(6, 10))
            }
        );
        assert_eq!(
            meet(Normal, wait, Normal, &s, Some(&at(6, 5))),
            Meeting::Waits {
                until: Some(at(6, 5))
            }
        );
    }
}
