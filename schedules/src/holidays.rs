//! Vietnam's public holidays (Bộ luật Lao động 2019, điều 112), which
//! programs name in `on` and `except`, and the station's calendar: the days
//! off the government announces for each year, written in station.yaml.
//!
//! A holiday is its days off: Tết is the whole break, not only mùng 1. The
//! law fixes their number and the government announces the days each year
//! (Tết's, and which day joins 2/9), often joined to a weekend or with a
//! day swapped; a station writes them under `calendar.days_off`. For a year
//! it has not written, Loa takes the law's days, as [`Holiday::default_days`]
//! says.
//!
//! Pure: no I/O, no clock.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use crate::lunar::LunarDate;

/// One public holiday.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Holiday {
    /// 1/1.
    TetDuongLich,
    /// Tết Nguyên Đán: the last day of the lunar year and the first days
    /// of the next.
    Tet,
    /// Giỗ Tổ Hùng Vương, 10/3 âm lịch.
    GioTo,
    /// Ngày Chiến thắng, 30/4.
    ChienThang,
    /// Ngày Quốc tế Lao động, 1/5.
    LaoDong,
    /// Quốc khánh, 2/9 and a day next to it.
    QuocKhanh,
}

impl Holiday {
    /// Every holiday, in the order of the year.
    pub const ALL: [Holiday; 6] = [
        Holiday::TetDuongLich,
        Holiday::Tet,
        Holiday::GioTo,
        Holiday::ChienThang,
        Holiday::LaoDong,
        Holiday::QuocKhanh,
    ];

    /// The word for every holiday at once in `on` and `except`.
    pub const ALL_WORD: &'static str = "holidays";

    /// The name schedules use: `tet`, `quoc-khanh`...
    pub fn id(self) -> &'static str {
        match self {
            Holiday::TetDuongLich => "tet-duong-lich",
            Holiday::Tet => "tet",
            Holiday::GioTo => "gio-to",
            Holiday::ChienThang => "chien-thang",
            Holiday::LaoDong => "lao-dong",
            Holiday::QuocKhanh => "quoc-khanh",
        }
    }

    /// The holiday's name, as calendars print it.
    pub fn name(self) -> &'static str {
        match self {
            Holiday::TetDuongLich => "Tết Dương lịch",
            Holiday::Tet => "Tết Nguyên Đán",
            Holiday::GioTo => "Giỗ Tổ Hùng Vương",
            Holiday::ChienThang => "Ngày Chiến thắng 30/4",
            Holiday::LaoDong => "Ngày Quốc tế Lao động 1/5",
            Holiday::QuocKhanh => "Quốc khánh 2/9",
        }
    }

    pub fn from_id(id: &str) -> Option<Holiday> {
        Holiday::ALL.into_iter().find(|h| h.id() == id)
    }

    /// The holiday's own day in `year`: 1/1, mùng 1 Tết (of the lunar year
    /// that begins in `year`), 10/3 âm lịch, 30/4, 1/5 or 2/9. None only
    /// outside the lunar calendar's years.
    pub fn day(self, year: i32) -> Option<NaiveDate> {
        let solar = |m, d| NaiveDate::from_ymd_opt(year, m, d);
        match self {
            Holiday::TetDuongLich => solar(1, 1),
            Holiday::Tet => LunarDate::new_year(year),
            Holiday::GioTo => LunarDate {
                year,
                month: 3,
                leap: false,
                day: 10,
            }
            .to_solar(),
            Holiday::ChienThang => solar(4, 30),
            Holiday::LaoDong => solar(5, 1),
            Holiday::QuocKhanh => solar(9, 2),
        }
    }

    /// The days off the law gives, for a year whose announced days the
    /// station has not written: Tết's five are the last day of the lunar
    /// year and mùng 1 to mùng 4; Quốc khánh's two (since 2021) are 2/9 and
    /// the day next to it that the government chose in 2021-2025, joining
    /// the weekend (the day before when 2/9 is a Tuesday, Wednesday, Friday
    /// or Saturday, the day after otherwise); the others are their one day.
    ///
    /// A law day that falls on a Saturday or Sunday gives the next working
    /// day off (Bộ luật Lao động 2019, điều 112 khoản 3: nghỉ bù): Tết 2027
    /// (mùng 1 a Saturday) runs to Thursday 11/2. 30/4 and 1/5 owe their
    /// days together (2022: both on the weekend, off until Tuesday 3/5).
    pub fn default_days(self, year: i32) -> Option<DaysOff> {
        let law = self.law_days(year)?;
        let owed_from = match self {
            Holiday::LaoDong => Holiday::ChienThang.day(year)?,
            _ => law.from,
        };
        let weekend = |d: &NaiveDate| matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        let mut owed = owed_from
            .iter_days()
            .take_while(|d| *d <= law.until)
            .filter(weekend)
            .count();
        let mut until = law.until;
        while owed > 0 {
            until = until.succ_opt()?;
            if !weekend(&until) {
                owed -= 1;
            }
        }
        Some(DaysOff {
            from: law.from,
            until,
        })
    }

    /// The law's days before any nghỉ bù ([`Self::default_days`]).
    fn law_days(self, year: i32) -> Option<DaysOff> {
        let day = self.day(year)?;
        let one = DaysOff {
            from: day,
            until: day,
        };
        Some(match self {
            Holiday::Tet => DaysOff {
                from: day.checked_sub_days(Days::new(1))?,
                until: day.checked_add_days(Days::new(3))?,
            },
            Holiday::QuocKhanh if year >= 2021 => match day.weekday() {
                Weekday::Tue | Weekday::Wed | Weekday::Fri | Weekday::Sat => DaysOff {
                    from: day.pred_opt()?,
                    until: day,
                },
                Weekday::Mon | Weekday::Thu | Weekday::Sun => DaysOff {
                    from: day,
                    until: day.succ_opt()?,
                },
            },
            _ => one,
        })
    }
}

impl fmt::Display for Holiday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Consecutive days off, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaysOff {
    pub from: NaiveDate,
    pub until: NaiveDate,
}

impl DaysOff {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.until
    }

    /// How many days.
    pub fn days(&self) -> i64 {
        (self.until - self.from).num_days() + 1
    }
}

impl fmt::Display for DaysOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.until {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{} to {}", self.from, self.until)
        }
    }
}

/// The station's calendar (`calendar:` in station.yaml).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    /// `holidays: vn`, the default: programs may name Vietnam's public
    /// holidays and the agenda shows them; `none` turns both off.
    pub holidays: bool,
    /// `days_off`: the days announced for a holiday in a year (its key: the
    /// solar year of its own day), in place of the law's.
    pub days_off: BTreeMap<(Holiday, i32), DaysOff>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            holidays: true,
            days_off: BTreeMap::new(),
        }
    }
}

impl Calendar {
    /// A holiday's days off in `year`: as announced, or the law's.
    pub fn days_off(&self, h: Holiday, year: i32) -> Option<DaysOff> {
        self.days_off
            .get(&(h, year))
            .copied()
            .or_else(|| h.default_days(year))
    }

    /// Whether the station wrote the days off of `h` in `year`.
    pub fn announced(&self, h: Holiday, year: i32) -> bool {
        self.days_off.contains_key(&(h, year))
    }

    /// Whether `d` is one of the days off of `h`.
    pub fn is(&self, h: Holiday, d: NaiveDate) -> bool {
        // Days off lie within a few weeks of their holiday's own day, which
        // is in the same solar year: 1/1's may begin in the December before.
        [d.year(), d.year() + 1]
            .into_iter()
            .any(|y| self.days_off(h, y).is_some_and(|off| off.contains(d)))
    }

    /// The holidays `d` is a day off of, in the order of the year.
    pub fn holidays_on(&self, d: NaiveDate) -> Vec<Holiday> {
        if !self.holidays {
            return Vec::new();
        }
        Holiday::ALL
            .into_iter()
            .filter(|h| self.is(*h, d))
            .collect()
    }

    /// What a day is in the calendar, for the agenda's day headers and `loa
    /// check`: "âm lịch 15/8 Bính Ngọ", and the holidays it is a day off of.
    pub fn describe(&self, d: NaiveDate) -> String {
        let mut out = match LunarDate::from_solar(d) {
            Some(l) => format!("âm lịch {l} {}", LunarDate::year_name(l.year)),
            None => String::new(),
        };
        for h in self.holidays_on(d) {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(h.name());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn each_holiday_has_its_day() {
        assert_eq!(Holiday::TetDuongLich.day(2027), Some(date(2027, 1, 1)));
        assert_eq!(Holiday::Tet.day(2027), Some(date(2027, 2, 6)));
        assert_eq!(Holiday::GioTo.day(2027), Some(date(2027, 4, 16)));
        assert_eq!(Holiday::ChienThang.day(2027), Some(date(2027, 4, 30)));
        assert_eq!(Holiday::LaoDong.day(2027), Some(date(2027, 5, 1)));
        assert_eq!(Holiday::QuocKhanh.day(2027), Some(date(2027, 9, 2)));
        for h in Holiday::ALL {
            assert_eq!(Holiday::from_id(h.id()), Some(h));
        }
        assert_eq!(Holiday::from_id("holidays"), None);
    }

    #[test]
    fn the_laws_days_off() {
        // Tết Đinh Mùi: 30 Tết (2027-02-05) and mùng 1 to mùng 4, with
        // mùng 1 and mùng 2 on the weekend: off until Thursday 11/2.
        let tet = Holiday::Tet.default_days(2027).unwrap();
        assert_eq!((tet.from, tet.until), (date(2027, 2, 5), date(2027, 2, 11)));
        // Tết Bính Ngọ 2026: 16/2 (Monday) to 20/2 (Friday), nothing owed.
        let tet = Holiday::Tet.default_days(2026).unwrap();
        assert_eq!(
            (tet.from, tet.until),
            (date(2026, 2, 16), date(2026, 2, 20))
        );
        // 2/9 and the day the government joined to it in 2021-2025; 2023's
        // Saturday 2/9 gave Monday 4/9 as well.
        for (year, from, until) in [
            (2021, date(2021, 9, 2), date(2021, 9, 3)),
            (2022, date(2022, 9, 1), date(2022, 9, 2)),
            (2023, date(2023, 9, 1), date(2023, 9, 4)),
            (2024, date(2024, 9, 2), date(2024, 9, 3)),
            (2025, date(2025, 9, 1), date(2025, 9, 2)),
        ] {
            let off = Holiday::QuocKhanh.default_days(year).unwrap();
            assert_eq!((off.from, off.until), (from, until), "{year}");
        }
        let before = Holiday::QuocKhanh.default_days(2020).unwrap();
        assert_eq!(before.days(), 1);
        // Giỗ Tổ 2026 is a Sunday: Monday 27/4 is off too.
        let gio_to = Holiday::GioTo.default_days(2026).unwrap();
        assert_eq!(
            (gio_to.from, gio_to.until),
            (date(2026, 4, 26), date(2026, 4, 27))
        );
        // 2022: 30/4 a Saturday and 1/5 a Sunday, off until Tuesday 3/5.
        let chien_thang = Holiday::ChienThang.default_days(2022).unwrap();
        let lao_dong = Holiday::LaoDong.default_days(2022).unwrap();
        assert_eq!(
            (chien_thang.from, chien_thang.until),
            (date(2022, 4, 30), date(2022, 5, 2))
        );
        assert_eq!(
            (lao_dong.from, lao_dong.until),
            (date(2022, 5, 1), date(2022, 5, 3))
        );
        // 2027: 30/4 a Friday, 1/5 a Saturday: Monday 3/5 is owed.
        assert_eq!(Holiday::ChienThang.default_days(2027).unwrap().days(), 1);
        assert_eq!(
            Holiday::LaoDong.default_days(2027).unwrap().until,
            date(2027, 5, 3)
        );
    }

    #[test]
    fn announced_days_replace_the_laws_for_their_year_only() {
        let mut cal = Calendar::default();
        // Tết Ất Tỵ 2025: nine days, Saturday 25 January to Sunday 2 February.
        cal.days_off.insert(
            (Holiday::Tet, 2025),
            DaysOff {
                from: date(2025, 1, 25),
                until: date(2025, 2, 2),
            },
        );
        assert!(cal.is(Holiday::Tet, date(2025, 1, 25)));
        assert!(cal.is(Holiday::Tet, date(2025, 2, 2)));
        assert!(!cal.is(Holiday::Tet, date(2025, 2, 3)));
        assert!(cal.announced(Holiday::Tet, 2025) && !cal.announced(Holiday::Tet, 2026));
        // 2026 keeps the law's five days around 17 February.
        assert!(cal.is(Holiday::Tet, date(2026, 2, 16)));
        assert!(!cal.is(Holiday::Tet, date(2026, 2, 14)));
        // 1/1's days off may begin in the December before.
        cal.days_off.insert(
            (Holiday::TetDuongLich, 2019),
            DaysOff {
                from: date(2018, 12, 29),
                until: date(2019, 1, 1),
            },
        );
        assert!(cal.is(Holiday::TetDuongLich, date(2018, 12, 31)));
        assert_eq!(cal.holidays_on(date(2018, 12, 30)), [Holiday::TetDuongLich]);
    }

    #[test]
    fn a_day_described() {
        let cal = Calendar::default();
        assert_eq!(cal.describe(date(2026, 9, 25)), "âm lịch 15/8 Bính Ngọ");
        assert_eq!(
            cal.describe(date(2027, 2, 6)),
            "âm lịch 1/1 Đinh Mùi; Tết Nguyên Đán"
        );
        let off = Calendar {
            holidays: false,
            ..Calendar::default()
        };
        assert_eq!(off.describe(date(2027, 2, 6)), "âm lịch 1/1 Đinh Mùi");
    }
}
