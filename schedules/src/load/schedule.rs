//! schedules/*.yaml -> programs and slogans: when each airs (at or cron, days,
//! dates, on, except), where, at what priority; a program's items are read
//! in `item`, the days it names (lunar dates, holidays) in `calendar`.

use std::sync::Arc;
use std::time::Duration;

use super::{fmt_window, Cx};
use crate::diag::suggestion;
use crate::model::*;
use crate::occurrence::{CronRule, DayList, DaySet};
use crate::yaml::{Node, Value};

/// The keys each mapping of a schedule file may have: unknown keys are errors.
pub(super) mod keys {
    pub const SCHEDULE_FILE: &[&str] = &["programs", "slogans"];
    pub const PROGRAM: &[&str] = &[
        "id",
        "title",
        "category",
        "at",
        "days",
        "cron",
        "dates",
        "on",
        "except",
        "zones",
        "priority",
        "duration",
        "if_busy",
        "late_start",
        "volume",
        "loop",
        "approved_by",
        "items",
    ];
    pub const DATES: &[&str] = &["from", "until"];
    pub const SLOGAN: &[&str] = &[
        "id", "boards", "text", "between", "days", "dates", "every", "color",
    ];
}

impl Cx<'_> {
    pub(super) fn schedule_file(
        &mut self,
        root: &Node,
        station: Option<&Station>,
        programs: &mut Vec<Program>,
        slogans: &mut Vec<Slogan>,
    ) {
        if root.is_null() {
            return; // an empty file is allowed: an operator may keep one as a placeholder
        }
        let Some(f) = self.fields(root, "a schedule file", keys::SCHEDULE_FILE) else {
            return;
        };
        if let Some(pn) = f.get("programs") {
            if let Some(items) = self.list(pn, "programs") {
                for p in items {
                    if let Some(p) = self.program(p, station) {
                        programs.push(p);
                    }
                }
            }
        }
        if let Some(sn) = f.get("slogans") {
            if let Some(items) = self.list(sn, "slogans") {
                for s in items {
                    if let Some(s) = self.slogan(s, station) {
                        slogans.push(s);
                    }
                }
            }
        }
    }

    fn days(&mut self, n: &Node) -> Option<DaySet> {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![n],
            _ => {
                self.err(n, "days must be a list such as [mon, wed, fri]");
                return None;
            }
        };
        let mut set = DaySet::empty();
        let mut ok = true;
        for i in items {
            let Some(s) = i.scalar_text() else {
                self.err(i, "a day must be a name such as mon");
                ok = false;
                continue;
            };
            match DaySet::parse_day(&s) {
                Ok(d) => set.insert(d),
                Err(m) => {
                    self.err(i, m);
                    ok = false;
                }
            }
        }
        if ok && set.is_empty() {
            self.err(
                n,
                "days is empty: the program would never air; list days or remove `days`",
            );
            return None;
        }
        ok.then_some(set)
    }

    /// Solar `dates` (a slogan's; a program's unless written in lunar dates).
    pub(super) fn date_range(&mut self, n: &Node) -> Option<DateRange> {
        let f = self.fields(n, "dates", keys::DATES)?;
        let from = f.get("from").and_then(|d| self.date(d, "dates.from"));
        let until = f.get("until").and_then(|d| self.date(d, "dates.until"));
        if f.get("from").is_some() && from.is_none() || f.get("until").is_some() && until.is_none()
        {
            return None;
        }
        if let (Some(a), Some(b)) = (from, until) {
            if a > b {
                self.err(
                    n,
                    format!("dates: from {a} is after until {b}; the program would never air"),
                );
                return None;
            }
        }
        Some(DateRange { from, until })
    }

    fn priority(&mut self, n: &Node) -> Option<Priority> {
        self.choice(
            n,
            "priority",
            &[
                ("filler", Priority::Filler),
                ("normal", Priority::Normal),
                ("priority", Priority::Priority),
                ("emergency", Priority::Emergency),
            ],
        )
    }

    fn program(&mut self, n: &Node, station: Option<&Station>) -> Option<Program> {
        let errors_before = self.diags.errors.len();
        let f = self.fields(n, "program", keys::PROGRAM)?;
        let id = self
            .required(&f, "id", "program")
            .and_then(|i| self.id(i, "program id", 64));
        if let Some(id) = &id {
            self.unique("program", id, n);
        }
        let what = match &id {
            Some(id) => format!("program `{id}`"),
            None => "program".to_string(),
        };
        let title = f
            .get("title")
            .and_then(|t| self.text(t, "title"))
            .or_else(|| id.clone())
            .unwrap_or_default();
        let category = f
            .get("category")
            .and_then(|c| self.text(c, "category"))
            .unwrap_or_else(|| "other".into());

        let at = f.get("at");
        let cron = f.get("cron");
        let mut at_time = None;
        let recurrence = match (at, cron) {
            (Some(_), Some(c)) => {
                self.err(c, format!("{what} has both `at` and `cron`; keep one"));
                None
            }
            (None, None) => {
                self.err(
                    n,
                    format!("{what} needs `at` (a time, with optional `days`) or `cron`"),
                );
                None
            }
            (Some(a), None) => {
                let t = self.time_of_day(a, "at");
                at_time = t;
                let days = match f.get("days") {
                    Some(d) => self.days(d),
                    None => Some(DaySet::ALL),
                };
                match (t, days) {
                    (Some(at), Some(days)) => Some(Recurrence::Daily { at, days }),
                    _ => None,
                }
            }
            (None, Some(c)) => {
                if let Some(d) = f.get("days") {
                    self.err(d, "`days` goes with `at`; with `cron`, put the weekdays in its fifth/sixth field");
                }
                let s = self.text(c, "cron")?;
                match CronRule::parse(&s) {
                    Ok(rule) => Some(Recurrence::Cron(rule)),
                    Err(m) => {
                        self.err(c, format!("cron `{s}`: {m}"));
                        None
                    }
                }
            }
        };
        let calendar = station.map_or_else(Arc::default, |s| Arc::clone(&s.calendar));
        let dates = match f.get("dates") {
            Some(d) => self.program_dates(d),
            None => Some((DateRange::default(), None)),
        };
        let on = match f.get("on") {
            Some(o) => match self.day_list(o, "on", &calendar) {
                Some(list) if list.is_empty() => {
                    self.err(
                        o,
                        "on is empty: the program would never air; list days or remove `on`",
                    );
                    None
                }
                list => Some(list),
            },
            None => Some(None),
        };
        let except = match f.get("except") {
            Some(e) => self.day_list(e, "except", &calendar),
            None => Some(DayList {
                calendar,
                ..DayList::default()
            }),
        };

        let zone_ids: Vec<String> = station
            .map(|s| s.zones.iter().map(|z| z.id.clone()).collect())
            .unwrap_or_default();
        let zones = match self.required(&f, "zones", &what) {
            Some(z) => match self.zone_list(z, &zone_ids, &what) {
                None => zone_ids.clone(),
                Some(list) => {
                    // station.yaml order, as the airtime log records them
                    let mut v: Vec<String> = zone_ids
                        .iter()
                        .filter(|z| list.contains(z))
                        .cloned()
                        .collect();
                    if zone_ids.is_empty() {
                        v = list;
                    }
                    v
                }
            },
            None => Vec::new(),
        };
        let priority = f
            .get("priority")
            .map(|p| self.priority(p))
            .unwrap_or(Some(Priority::Normal));
        let duration = f.get("duration").and_then(|d| self.duration(d, "duration"));
        if let (Some(dn), Some(d)) = (f.get("duration"), duration) {
            if d.is_zero() {
                self.err(
                    dn,
                    "duration 0 would cut the program at once; remove it or give a length",
                );
            }
        }
        let if_busy = match f.get("if_busy") {
            None => IfBusy::Wait(Duration::from_secs(15 * 60)),
            Some(b) => {
                let s = b.scalar_text().unwrap_or_default();
                match s.as_str() {
                    "preempt" => IfBusy::Preempt,
                    "skip" => IfBusy::Skip,
                    _ => match s.strip_prefix("wait") {
                        Some(rest) if rest.trim().is_empty() => {
                            IfBusy::Wait(Duration::from_secs(15 * 60))
                        }
                        Some(rest) => match parse_duration(rest.trim()) {
                            Ok(d) => IfBusy::Wait(d),
                            Err(m) => {
                                self.err(b, format!("if_busy: {m}"));
                                IfBusy::Wait(Duration::from_secs(15 * 60))
                            }
                        },
                        None => {
                            let hint = suggestion(&s, ["preempt", "skip", "wait"]);
                            self.err(b, format!("if_busy `{s}` must be preempt, skip or wait DURATION (e.g. wait 15m){hint}"));
                            IfBusy::Wait(Duration::from_secs(15 * 60))
                        }
                    },
                }
            }
        };
        let late_start = f.get("late_start").and_then(|l| self.late_start(l));
        let volume = match f.get("volume") {
            Some(v) => match self.number(v, "volume") {
                Some(x) if (0.0..=2.0).contains(&x) => x as f32,
                Some(x) => {
                    self.err(v, format!("volume {x} is outside 0..2 (1.0 = as master)"));
                    1.0
                }
                None => 1.0,
            },
            None => 1.0,
        };
        let looped = f
            .get("loop")
            .and_then(|l| self.boolean(l, "loop"))
            .unwrap_or(false);
        let approved_by = f
            .get("approved_by")
            .and_then(|a| self.text(a, "approved_by"));

        let media = station.map(|s| s.paths.media.clone()).unwrap_or_default();
        let mut items = Vec::new();
        if let Some(itn) = self.required(&f, "items", &what) {
            if let Some(list) = self.list(itn, "items") {
                if list.is_empty() {
                    self.err(
                        itn,
                        format!("{what} has no items; list at least one thing to play"),
                    );
                }
                for i in list {
                    if let Some(item) = self.item(i, &media) {
                        items.push(item);
                    }
                }
            }
        }
        if duration.is_none() && f.get("duration").is_none() {
            for item in &items {
                if item.source.is_endless() {
                    let kind = item.source.kind();
                    self.diags.error(
                        item.loc.clone(),
                        format!("{what}: a {kind} item never ends by itself; give the program a `duration` (e.g. duration: 30m)"),
                    );
                }
            }
        }
        if looped && duration.is_none() && f.get("duration").is_none() {
            let at = f.key_node("loop").unwrap_or(n);
            self.err(
                at,
                format!("{what} loops but has no `duration`; it would never end"),
            );
        }

        // Starting inside quiet hours is an error: only emergencies may sound then.
        if let (
            Some(at),
            Some(st),
            Some(Priority::Normal | Priority::Filler | Priority::Priority),
        ) = (at_time, station, priority)
        {
            if let Some(q) = st.policy.quiet_hours {
                if q.contains(at) {
                    let an = f.get("at").unwrap_or(n);
                    self.err(
                        an,
                        format!(
                            "{what} starts at {} inside quiet hours {}; only emergency may sound then (move it, or change policy.quiet_hours)",
                            at.format("%H:%M"),
                            fmt_window(&q)
                        ),
                    );
                }
            }
        }

        if self.diags.errors.len() > errors_before {
            return None;
        }
        let (dates, lunar_dates) = dates?;
        let occurs = Occurrences {
            recurrence: recurrence?,
            dates,
            lunar_dates,
            on: on?,
            except: except?,
        };
        if let Some(st) = station {
            if occurs.never_fires(st.timezone) {
                let at = f
                    .get("on")
                    .or(f.get("cron"))
                    .or(f.get("dates"))
                    .unwrap_or(n);
                self.err(
                    at,
                    format!("{what} never airs: no day matches its rule within its dates"),
                );
                return None;
            }
        }
        Some(Program {
            id: id?,
            title,
            category,
            occurs,
            zones,
            priority: priority?,
            duration,
            if_busy,
            late_start,
            volume,
            looped,
            approved_by,
            items,
            loc: self.loc(n),
        })
    }

    fn slogan(&mut self, n: &Node, station: Option<&Station>) -> Option<Slogan> {
        let errors_before = self.diags.errors.len();
        let f = self.fields(n, "slogan", keys::SLOGAN)?;
        let id = self
            .required(&f, "id", "slogan")
            .and_then(|i| self.id(i, "slogan id", 64));
        if let Some(id) = &id {
            self.unique("slogan", id, n);
        }
        let what = match &id {
            Some(id) => format!("slogan `{id}`"),
            None => "slogan".into(),
        };
        let board_ids: Vec<String> = station
            .map(|s| s.boards.iter().map(|b| b.id.clone()).collect())
            .unwrap_or_default();
        let boards = match self.required(&f, "boards", &what) {
            Some(b) => {
                if board_ids.is_empty() && station.is_some() {
                    self.err(
                        b,
                        format!("{what} names boards, but station.yaml defines no `boards`"),
                    );
                }
                match self.id_list(
                    b,
                    &board_ids,
                    &what,
                    "board",
                    "boards are defined in station.yaml",
                ) {
                    None => board_ids.clone(),
                    Some(list) => list,
                }
            }
            None => Vec::new(),
        };
        let text = self
            .required(&f, "text", &what)
            .and_then(|t| self.text(t, "text"));
        if let (Some(t), Some(tn)) = (&text, f.get("text")) {
            if t.trim().is_empty() {
                self.err(tn, format!("{what} has empty text"));
            }
        }
        let between = f
            .get("between")
            .and_then(|b| self.daily_window(b, "between"));
        let days = match f.get("days") {
            Some(d) => self.days(d),
            None => Some(DaySet::ALL),
        };
        let dates = match f.get("dates") {
            Some(d) => self.date_range(d),
            None => Some(DateRange::default()),
        };
        let every = f.get("every").and_then(|e| self.duration(e, "every"));
        if let (None, Some(k)) = (f.get("color"), f.key_node("color")) {
            self.err(
                k,
                "color is empty: a # starts a comment in YAML, so quote it: color: \"#FFD700\"",
            );
        }
        let color = match f.get("color") {
            Some(c) => {
                let s = self.text(c, "color")?;
                let ok = s.len() == 7
                    && s.starts_with('#')
                    && s[1..].chars().all(|ch| ch.is_ascii_hexdigit());
                if !ok {
                    self.err(c, format!("color `{s}` must be #RRGGBB, e.g. \"#FFD700\" (quote it: # starts a comment)"));
                }
                Some(s.to_ascii_uppercase())
            }
            None => None,
        };
        if self.diags.errors.len() > errors_before {
            return None;
        }
        Some(Slogan {
            id: id?,
            boards,
            text: text?,
            between,
            days: days?,
            dates: dates?,
            every,
            color,
            loc: self.loc(n),
        })
    }
}
