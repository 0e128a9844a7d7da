//! The calendar's part of a program's rule: the days it names in `on` and
//! `except` (solar dates, lunar days, public holidays) and a `dates` window
//! written in lunar dates, which comes back every lunar year.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::holidays::{Calendar, Holiday};
use crate::lunar::{LunarDate, LunarDay};

/// Days named in `on` or `except`.
#[derive(Clone, Debug, Default)]
pub struct DayList {
    pub dates: BTreeSet<NaiveDate>,
    pub lunar: Vec<LunarDay>,
    /// Each named holiday (`holidays` names them all).
    pub holidays: Vec<Holiday>,
    /// The station's calendar: the days off of those holidays.
    pub calendar: Arc<Calendar>,
}

impl DayList {
    /// Adds a solar date.
    pub fn insert(&mut self, d: NaiveDate) -> bool {
        self.dates.insert(d)
    }

    pub fn is_empty(&self) -> bool {
        self.dates.is_empty() && self.lunar.is_empty() && self.holidays.is_empty()
    }

    /// Only solar dates: finitely many days.
    pub fn is_dates_only(&self) -> bool {
        self.lunar.is_empty() && self.holidays.is_empty()
    }

    /// Whether `d` is one of the days.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.dates.contains(&d)
            || (!self.lunar.is_empty()
                && LunarDate::from_solar(d)
                    .is_some_and(|l| self.lunar.iter().any(|p| p.matches(&l))))
            || self.holidays.iter().any(|h| self.calendar.is(*h, d))
    }
}

/// As written, shortest first: `holidays`, `tet`, `lunar 15/8`, `2027-01-01`.
impl fmt::Display for DayList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = if self.holidays.len() == Holiday::ALL.len() {
            vec![Holiday::ALL_WORD.to_string()]
        } else {
            self.holidays.iter().map(|h| h.id().to_string()).collect()
        };
        words.extend(self.lunar.iter().map(|l| format!("lunar {l}")));
        words.extend(self.dates.iter().map(|d| d.to_string()));
        f.write_str(&words.join(", "))
    }
}

/// `dates` written as lunar dates: the same window every lunar year, e.g.
/// from 23/12 until 7/1 (it may run across Tết). A leap month lies right
/// after the regular month of its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LunarRange {
    pub from: LunarDay,
    pub until: LunarDay,
}

impl LunarRange {
    pub fn contains(&self, d: NaiveDate) -> bool {
        let Some(l) = LunarDate::from_solar(d) else {
            return false;
        };
        let day = (l.month, l.leap, l.day);
        let (from, until) = (self.from.key(), self.until.key());
        if from <= until {
            from <= day && day <= until
        } else {
            day >= from || day <= until
        }
    }
}

impl fmt::Display for LunarRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lunar {} until {}", self.from, self.until)
    }
}
