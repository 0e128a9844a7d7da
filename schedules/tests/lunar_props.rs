//! Properties of the lunar calendar over the two centuries 1900-2100 that
//! programs' `lunar:` dates and the holidays rely on: every solar date is
//! one lunar date and converts back to itself, every lunar date that exists
//! converts back to itself, and the days follow one another.

use chrono::{Days, NaiveDate};
use loa_schedules::lunar::{LunarDate, LunarDay};
use proptest::prelude::*;

/// Tết 1900, the first day of the first lunar year covered.
fn first() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 31).unwrap()
}

/// Days from 1900-01-31 to 2100-12-31.
const SPAN: u64 = 73_384;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn solar_to_lunar_to_solar(offset in 0..SPAN) {
        let d = first() + Days::new(offset);
        let l = LunarDate::from_solar(d).expect("1900-2100 is covered");
        prop_assert_eq!(l.to_solar(), Some(d));
        prop_assert!((1..=12).contains(&l.month) && (1..=30).contains(&l.day));
        let days = LunarDate::month_days(l.year, l.month, l.leap).unwrap();
        prop_assert!(l.day <= days);
        prop_assert!(!l.leap || LunarDate::leap_month(l.year) == Some(l.month));
    }

    #[test]
    fn the_next_solar_day_is_the_next_lunar_day(offset in 0..SPAN) {
        let d = first() + Days::new(offset);
        let (a, b) = (
            LunarDate::from_solar(d).unwrap(),
            LunarDate::from_solar(d + Days::new(1)).unwrap(),
        );
        if b.day == 1 {
            prop_assert_eq!(LunarDate::month_days(a.year, a.month, a.leap), Some(a.day));
            prop_assert!(a < b, "{:?} then {:?}", a, b);
        } else {
            prop_assert_eq!(b, LunarDate { day: a.day + 1, ..a });
        }
    }

    #[test]
    fn lunar_to_solar_to_lunar(
        year in 1900..=2100i32,
        month in 1..=12u8,
        leap in prop::bool::weighted(0.2),
        day in 1..=30u8,
    ) {
        let l = LunarDate { year, month, leap, day };
        match l.to_solar() {
            Some(d) => {
                prop_assert_eq!(LunarDate::from_solar(d), Some(l));
                let pattern = LunarDay { day, month: Some(month), leap };
                prop_assert!(pattern.matches(&l));
            }
            // Only a leap month the year lacks or a 30th it lacks are missing.
            None => prop_assert!(
                (leap && LunarDate::leap_month(year) != Some(month))
                    || (day == 30 && LunarDate::month_days(year, month, leap) == Some(29))
            ),
        }
    }
}

/// Every day of the two centuries, not a sample: each converts back, and
/// the lunar dates follow one another.
#[test]
fn every_day_of_1900_to_2100_round_trips() {
    let mut previous: Option<LunarDate> = None;
    for offset in 0..=SPAN {
        let d = first() + Days::new(offset);
        let l = LunarDate::from_solar(d).unwrap();
        assert_eq!(l.to_solar(), Some(d));
        assert!(
            previous.is_none_or(|p| p < l),
            "{d}: {l:?} after {previous:?}"
        );
        previous = Some(l);
    }
}
