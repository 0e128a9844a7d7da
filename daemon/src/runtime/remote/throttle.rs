//! How refusals are told, so that a flood of garbage on a command topic is
//! never answered in kind: within each minute, only so many refusals get
//! an ack and a log line of their own; the others are counted, summed up in
//! one log line when the minute ends, and shown in the status.
//!
//! An unverified refusal (the signature did not hold, or was never read)
//! costs its sender nothing, so it gets the smaller budget: its ack goes to
//! `P/ack/invalid` (see [`super::Refusal::acks`]), ten a minute, and one
//! log line a minute. A verified refusal (a key holder's mistake, or a
//! captured command replayed) gets a larger one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Refusal;

/// One minute: the window of each budget and of the summary line.
const WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// (acks, log lines) a window, for unverified and verified refusals.
const UNVERIFIED: (u32, u32) = (10, 1);
const VERIFIED: (u32, u32) = (60, 20);

/// What to do with one refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tell {
    pub ack: bool,
    pub log: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    refused: u64,
    unverified: u64,
    unacked: u64,
}

struct Window {
    since: DateTime<Utc>,
    /// Acks and log lines spent, [unverified, verified].
    acks: [u32; 2],
    lines: [u32; 2],
    /// Refusals not logged one by one, per code.
    unlogged: BTreeMap<&'static str, u64>,
    unacked: u64,
}

/// The refusal budget and counters (one per station, in the bus).
#[derive(Default)]
pub struct Throttle {
    window: Option<Window>,
    total: Counts,
    /// As of the last window's start or end: what `P/status` shows, so that
    /// a flood does not republish the status for every message.
    shown: Counts,
}

impl Throttle {
    /// Counts a refusal and says whether to ack it and log it.
    pub fn refused(&mut self, r: &Refusal, now: DateTime<Utc>) -> Tell {
        self.total.refused += 1;
        if !r.verified {
            self.total.unverified += 1;
        }
        let opened = self.window.is_none();
        let w = self.window.get_or_insert_with(|| Window {
            since: now,
            acks: [0; 2],
            lines: [0; 2],
            unlogged: BTreeMap::new(),
            unacked: 0,
        });
        let (class, (acks, lines)) = if r.verified {
            (1, VERIFIED)
        } else {
            (0, UNVERIFIED)
        };
        let ack = w.acks[class] < acks;
        let log = w.lines[class] < lines;
        if ack {
            w.acks[class] += 1;
        } else {
            w.unacked += 1;
            self.total.unacked += 1;
        }
        if log {
            w.lines[class] += 1;
        } else {
            *w.unlogged.entry(r.code).or_default() += 1;
        }
        if opened {
            self.shown = self.total;
        }
        Tell { ack, log }
    }

    /// Ends the minute when it is over: the summary line of what was not
    /// logged one by one, if anything was.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Option<String> {
        let w = self.window.take_if(|w| now - w.since >= WINDOW)?;
        self.shown = self.total;
        let n: u64 = w.unlogged.values().sum();
        if n == 0 {
            return None;
        }
        let codes: Vec<String> = w
            .unlogged
            .iter()
            .map(|(code, k)| format!("{code} {k}"))
            .collect();
        Some(format!(
            "remote: {n} more command(s) refused in the last minute, not logged one by one ({}); {} of them not acked; the status counts them (remote)",
            codes.join(", "),
            w.unacked
        ))
    }

    /// When the minute ends (the loop must call `tick` then).
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.window.as_ref().map(|w| w.since + WINDOW)
    }

    /// The counters since the daemon started: `live`, or as of the last
    /// minute's start or end (for `P/status`).
    pub fn status(&self, live: bool) -> serde_json::Value {
        let c = if live { self.total } else { self.shown };
        json!({"refused": c.refused, "unverified": c.unverified, "unacked": c.unacked})
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn refusal(verified: bool, code: &'static str) -> Refusal {
        Refusal {
            id: None,
            code,
            reason: "x".into(),
            group: None,
            verified,
        }
    }

    #[test]
    fn a_flood_gets_ten_acks_one_line_and_one_summary_a_minute() {
        let mut t = Throttle::default();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        let mut acks = 0;
        let mut lines = 0;
        for i in 0..100_000 {
            let at = t0 + chrono::TimeDelta::milliseconds(i / 2);
            assert_eq!(t.tick(at), None, "no summary within the minute");
            let code = if i % 2 == 0 {
                "malformed"
            } else {
                "unknown_key"
            };
            let tell = t.refused(&refusal(false, code), at);
            acks += tell.ack as u32;
            lines += tell.log as u32;
        }
        assert_eq!((acks, lines), (10, 1));
        // The status showed the flood's start only; `loa status` all of it.
        assert_eq!(t.status(false)["refused"], 1);
        assert_eq!(t.status(true)["refused"], 100_000);
        assert_eq!(t.next_wakeup(), Some(t0 + WINDOW));
        let line = t.tick(t0 + WINDOW).expect("a summary");
        assert_eq!(
            line,
            "remote: 99999 more command(s) refused in the last minute, not logged one by one (malformed 49999, unknown_key 50000); 99990 of them not acked; the status counts them (remote)"
        );
        assert_eq!(
            t.status(false),
            json!({"refused": 100_000, "unverified": 100_000, "unacked": 99_990})
        );
        assert_eq!(t.next_wakeup(), None);
        // A new minute has a new budget, and a lone refusal needs no summary.
        let later = t0 + WINDOW * 3;
        assert_eq!(
            t.refused(&refusal(false, "malformed"), later),
            Tell {
                ack: true,
                log: true
            }
        );
        assert_eq!(t.tick(later + WINDOW), None);
    }

    #[test]
    fn key_holders_mistakes_have_their_own_budget() {
        let mut t = Throttle::default();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        for _ in 0..50 {
            t.refused(&refusal(false, "bad_signature"), t0);
        }
        let told: Vec<Tell> = (0..100)
            .map(|_| t.refused(&refusal(true, "replay"), t0))
            .collect();
        assert_eq!(told.iter().filter(|x| x.ack).count(), 60);
        assert_eq!(told.iter().filter(|x| x.log).count(), 20);
        assert!(told[0].ack && told[0].log);
    }
}
