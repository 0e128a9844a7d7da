//! The calendar in the files: station.yaml's `calendar` (whether programs
//! may name public holidays, and the days off announced for each year), and
//! the days a program names in `dates`, `on` and `except`: solar dates
//! (`2027-01-01`), lunar dates (`lunar: 15/8`) and holidays (`tet`,
//! `holidays`).

use std::sync::Arc;

use chrono::NaiveDate;

use super::Cx;
use crate::diag::suggestion;
use crate::holidays::{Calendar, DaysOff, Holiday};
use crate::lunar::{self, LunarDay};
use crate::occurrence::{DateRange, DayList, LunarRange};
use crate::yaml::{Node, Value};

/// The keys each mapping may have: unknown keys are errors.
pub(super) mod keys {
    pub const CALENDAR: &[&str] = &["holidays", "days_off"];
    pub const DAYS_OFF: &[&str] = &["from", "until"];
    pub const LUNAR: &[&str] = &["lunar"];
}

/// The longest break a station may write around one holiday: Tết's has
/// reached nine days; more is a mistyped date.
const MAX_DAYS_OFF: i64 = 20;

/// What a day list item says, as the operator may write it.
const DAY_HELP: &str = "write a date YYYY-MM-DD, a holiday (tet-duong-lich, tet, gio-to, chien-thang, lao-dong, quoc-khanh, or holidays for them all) or a lunar date such as `lunar: 15/8`";

impl Cx<'_> {
    /// station.yaml's `calendar`.
    pub(super) fn calendar(&mut self, n: &Node) -> Calendar {
        let mut cal = Calendar::default();
        let Some(f) = self.fields(n, "calendar", keys::CALENDAR) else {
            return cal;
        };
        if let Some(h) = f.get("holidays") {
            if let Some(on) = self.choice(h, "calendar.holidays", &[("vn", true), ("none", false)])
            {
                cal.holidays = on;
            }
        }
        if let Some(d) = f.get("days_off") {
            self.days_off(d, &mut cal);
        }
        cal
    }

    /// `days_off: { HOLIDAY: { YEAR: { from, until } } }`.
    fn days_off(&mut self, n: &Node, cal: &mut Calendar) {
        let example = "e.g. tet: { 2027: { from: 2027-02-04, until: 2027-02-10 } }";
        let Value::Map(holidays) = &n.value else {
            self.err(
                n,
                format!("calendar.days_off maps holidays to years, {example}"),
            );
            return;
        };
        for (k, v) in holidays {
            let name = k.scalar_text().unwrap_or_default();
            let Some(h) = Holiday::from_id(&name) else {
                let hint = suggestion(&name, Holiday::ALL.map(Holiday::id));
                let hint = if hint.is_empty() {
                    format!(" (one of: {})", Holiday::ALL.map(Holiday::id).join(", "))
                } else {
                    hint
                };
                self.err(
                    k,
                    format!("calendar.days_off: `{name}` is not a holiday{hint}"),
                );
                continue;
            };
            let Value::Map(years) = &v.value else {
                self.err(
                    v,
                    format!("calendar.days_off.{name} maps years to days off, {example}"),
                );
                continue;
            };
            for (yk, yv) in years {
                let year = match yk.value {
                    Value::Int(y) => i32::try_from(y).ok().filter(|y| lunar::YEARS.contains(y)),
                    _ => None,
                };
                let year = match year {
                    Some(y) => y,
                    None => {
                        let text = yk.scalar_text().unwrap_or_else(|| yk.kind().into());
                        self.err(
                            yk,
                            format!(
                                "calendar.days_off.{name}: `{text}` is not a year from 1900 to 2199; write the year of the holiday's own day, e.g. 2027:"
                            ),
                        );
                        continue;
                    }
                };
                let what = format!("calendar.days_off.{name}.{year}");
                if let Some(off) = self.announced_days(yv, &what, h, year) {
                    cal.days_off.insert((h, year), off);
                }
            }
        }
    }

    fn announced_days(&mut self, n: &Node, what: &str, h: Holiday, year: i32) -> Option<DaysOff> {
        let f = self.fields(n, what, keys::DAYS_OFF)?;
        let from = self.required(&f, "from", what);
        let until = self.required(&f, "until", what);
        let from = from.and_then(|d| self.date(d, &format!("{what}.from")));
        let until = until.and_then(|d| self.date(d, &format!("{what}.until")));
        let off = DaysOff {
            from: from?,
            until: until?,
        };
        let day = h.day(year)?;
        let problem = if off.from > off.until {
            Some(format!("from {} is after until {}", off.from, off.until))
        } else if off.days() > MAX_DAYS_OFF {
            Some(format!(
                "{off} is {} days; a break around one holiday is at most {MAX_DAYS_OFF} (check the month)",
                off.days()
            ))
        } else if !off.contains(day) {
            Some(format!(
                "{off} does not include {} itself ({day}); write the days off under the year of the holiday's own day",
                h.name()
            ))
        } else {
            None
        };
        match problem {
            Some(p) => {
                self.err(n, format!("{what}: {p}"));
                None
            }
            None => Some(off),
        }
    }

    /// A program's `dates`: solar dates, or lunar dates (a window that
    /// comes back every lunar year).
    pub(super) fn program_dates(&mut self, n: &Node) -> Option<(DateRange, Option<LunarRange>)> {
        let f = self.fields(n, "dates", super::schedule::keys::DATES)?;
        let is_lunar = |k: &str| f.get(k).is_some_and(|v| matches!(v.value, Value::Map(_)));
        if !is_lunar("from") && !is_lunar("until") {
            return self.date_range(n).map(|r| (r, None));
        }
        let ends = (f.get("from"), f.get("until"));
        let (Some(from), Some(until)) = ends else {
            self.err(
                n,
                "a lunar `dates` window needs both from and until (it comes back every lunar year), e.g. dates: { from: { lunar: 23/12 }, until: { lunar: 7/1 } }",
            );
            return None;
        };
        if !(is_lunar("from") && is_lunar("until")) {
            self.err(
                n,
                "dates: write from and until both as YYYY-MM-DD, or both as lunar dates such as { lunar: 23/12 }",
            );
            return None;
        }
        let from = self.window_end(from, "dates.from");
        let until = self.window_end(until, "dates.until");
        Some((
            DateRange::default(),
            Some(LunarRange {
                from: from?,
                until: until?,
            }),
        ))
    }

    /// One end of a lunar `dates` window: a day of a month.
    fn window_end(&mut self, n: &Node, what: &str) -> Option<LunarDay> {
        let day = self.lunar_value(n, what)?;
        if day.month.is_none() {
            self.err(
                n,
                format!(
                    "{what}: a lunar window's end needs its month too, e.g. lunar: {}/12",
                    day.day
                ),
            );
            return None;
        }
        if day.leap {
            self.err(
                n,
                format!("{what}: name the regular month; a window holds a leap month that lies between its ends"),
            );
            return None;
        }
        Some(day)
    }

    /// `{ lunar: 15/8 }`.
    fn lunar_value(&mut self, n: &Node, what: &str) -> Option<LunarDay> {
        let f = self.fields(n, &format!("{what} (a lunar date)"), keys::LUNAR)?;
        let v = self.required(&f, "lunar", what)?;
        let Some(text) = v.scalar_text() else {
            self.err(v, format!("{what}: write a lunar date such as lunar: 15/8"));
            return None;
        };
        match LunarDay::parse(&text) {
            Ok(day) => Some(day),
            Err(m) => {
                self.err(v, format!("{what}: {m}"));
                None
            }
        }
    }

    /// `on` or `except`: a list of days (or one). None when an item is wrong.
    pub(super) fn day_list(
        &mut self,
        n: &Node,
        key: &str,
        calendar: &Arc<Calendar>,
    ) -> Option<DayList> {
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![n],
        };
        let mut list = DayList {
            calendar: Arc::clone(calendar),
            ..DayList::default()
        };
        let mut ok = true;
        for i in items {
            match self.named_day(i, key, calendar) {
                Some(NamedDay::Date(d)) => {
                    list.dates.insert(d);
                }
                Some(NamedDay::Lunar(l)) => list.lunar.push(l),
                Some(NamedDay::Holidays(hs)) => {
                    for h in hs {
                        if !list.holidays.contains(&h) {
                            list.holidays.push(h);
                        }
                    }
                }
                None => ok = false,
            }
        }
        list.holidays.sort();
        ok.then_some(list)
    }

    fn named_day(&mut self, n: &Node, key: &str, calendar: &Calendar) -> Option<NamedDay> {
        if let Value::Map(_) = n.value {
            return self.lunar_value(n, key).map(NamedDay::Lunar);
        }
        let Some(text) = n.scalar_text() else {
            self.err(
                n,
                format!(
                    "{key} must be one date like 2026-11-01, found {}; {DAY_HELP}",
                    n.kind()
                ),
            );
            return None;
        };
        let word = text.trim();
        let looks_like_a_date =
            word.starts_with(|c: char| c.is_ascii_digit()) && word.contains('-');
        if looks_like_a_date && matches!(n.value, Value::Str(_)) {
            return self.date(n, key).map(NamedDay::Date);
        }
        if word.contains('/') {
            self.err(
                n,
                format!("{key} `{word}`: write `lunar: {word}` for a lunar date (âm lịch), or YYYY-MM-DD for a solar one"),
            );
            return None;
        }
        let holidays = if word == Holiday::ALL_WORD {
            Holiday::ALL.to_vec()
        } else if let Some(h) = Holiday::from_id(word) {
            vec![h]
        } else {
            let words = Holiday::ALL.map(Holiday::id);
            let hint = suggestion(word, words.into_iter().chain([Holiday::ALL_WORD]));
            let hint = if hint.is_empty() {
                format!("; {DAY_HELP}")
            } else {
                hint
            };
            self.err(
                n,
                format!("{key} `{word}` is not a date or a holiday{hint}"),
            );
            return None;
        };
        if !calendar.holidays {
            self.err(
                n,
                format!("{key} `{word}` names public holidays, but station.yaml has calendar.holidays: none; set it to vn, or remove `{word}`"),
            );
            return None;
        }
        Some(NamedDay::Holidays(holidays))
    }
}

enum NamedDay {
    Date(NaiveDate),
    Lunar(LunarDay),
    Holidays(Vec<Holiday>),
}
