//! Properties of occurrence expansion that the scheduler and the agenda rely
//! on, over random rules, windows and zones (one without daylight saving,
//! two with it): results are ordered, inside the asked window, consistent
//! between calls that split a period, and honour `dates`, `on` and `except`
//! (solar dates, lunar days and lunar windows, public holidays).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::{America::New_York, Asia::Ho_Chi_Minh, Europe::Berlin, Tz};
use loa_schedules::holidays::Holiday;
use loa_schedules::lunar::LunarDay;
use loa_schedules::occurrence::{
    resolve_local, CronRule, DateRange, DayList, DaySet, LunarRange, Occurrences, Recurrence,
};
use proptest::prelude::*;

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

// Rules with several times a day, seconds, Feb 29 and DST-hour times.
const CRONS: [&str; 7] = [
    "0 */15 * * * *",
    "0 30 2 * * *",
    "0 0 6 * * Mon-Fri",
    "0 0 0 29 2 *",
    "*/20 30 1-3 * * *",
    "0 0 0,12 1,15 * *",
    "0 45 1,2 * * sun",
];

fn base_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
}

fn base_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn zone() -> impl Strategy<Value = Tz> {
    prop_oneof![Just(Ho_Chi_Minh), Just(Berlin), Just(New_York)]
}

/// Any second of the day, often one in the 01:00-04:00 hours where the
/// daylight-saving changes happen in Berlin and New York.
fn time_of_day() -> impl Strategy<Value = NaiveTime> {
    prop_oneof![
        (0u32..24, 0u32..60, 0u32..60),
        (1u32..4, 0u32..60, 0u32..60),
    ]
    .prop_map(|(h, m, s)| NaiveTime::from_hms_opt(h, m, s).unwrap())
}

fn day_set() -> impl Strategy<Value = DaySet> {
    (0u8..128).prop_map(|bits| {
        let mut set = DaySet::empty();
        for (i, d) in WEEKDAYS.iter().enumerate() {
            if bits & (1 << i) != 0 {
                set.insert(*d);
            }
        }
        set
    })
}

fn daily() -> impl Strategy<Value = Recurrence> {
    (time_of_day(), day_set()).prop_map(|(at, days)| Recurrence::Daily { at, days })
}

fn recurrence() -> impl Strategy<Value = Recurrence> {
    prop_oneof![
        3 => daily(),
        1 => proptest::sample::select(&CRONS[..])
            .prop_map(|s| Recurrence::Cron(CronRule::parse(s).unwrap())),
    ]
}

fn date_near_base() -> impl Strategy<Value = NaiveDate> {
    (0u64..1200).prop_map(|n| base_date() + chrono::Days::new(n))
}

fn date_range() -> impl Strategy<Value = DateRange> {
    (
        proptest::option::of(date_near_base()),
        proptest::option::of(0u64..400),
    )
        .prop_map(|(from, len)| DateRange {
            from,
            until: len.map(|n| {
                from.unwrap_or(base_date() + chrono::Days::new(300)) + chrono::Days::new(n)
            }),
        })
}

/// `15/8`, or `15` (every month).
fn lunar_day() -> impl Strategy<Value = LunarDay> {
    (1..=30u8, proptest::option::weighted(0.6, 1..=12u8)).prop_map(|(day, month)| LunarDay {
        day,
        month,
        leap: false,
    })
}

/// Mostly no `on`; else a few lunar days, some holidays, or both.
fn on() -> impl Strategy<Value = Option<DayList>> {
    prop_oneof![
        3 => Just(None),
        1 => (proptest::collection::vec(lunar_day(), 1..4), holidays()).prop_map(
            |(lunar, holidays)| Some(DayList { lunar, holidays, ..DayList::default() })
        ),
    ]
}

fn holidays() -> impl Strategy<Value = Vec<Holiday>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => Just(Holiday::ALL.to_vec()),
        1 => proptest::sample::select(&Holiday::ALL[..]).prop_map(|h| vec![h]),
    ]
}

/// A lunar `dates` window, now and then (it may run across Tết).
fn lunar_dates() -> impl Strategy<Value = Option<LunarRange>> {
    let dated = || {
        (1..=30u8, 1..=12u8).prop_map(|(day, month)| LunarDay {
            day,
            month: Some(month),
            leap: false,
        })
    };
    proptest::option::weighted(0.2, (dated(), dated()))
        .prop_map(|r| r.map(|(from, until)| LunarRange { from, until }))
}

fn occurrences(rule: impl Strategy<Value = Recurrence>) -> impl Strategy<Value = Occurrences> {
    (
        rule,
        date_range(),
        proptest::collection::btree_set(date_near_base(), 0..20),
        (on(), holidays(), lunar_dates()),
    )
        .prop_map(
            |(recurrence, dates, except_dates, (on, except_holidays, lunar_dates))| Occurrences {
                recurrence,
                dates,
                lunar_dates,
                on,
                except: DayList {
                    dates: except_dates,
                    holidays: except_holidays,
                    ..DayList::default()
                },
            },
        )
}

/// An instant in 2025-2028, to the nanosecond.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..3 * 366 * 86_400, 0i64..1_000_000_000)
        .prop_map(|(s, ns)| base_instant() + TimeDelta::seconds(s) + TimeDelta::nanoseconds(ns))
}

/// A span of up to 60 days.
fn span() -> impl Strategy<Value = TimeDelta> {
    (0i64..60 * 86_400).prop_map(TimeDelta::seconds)
}

fn local_date_ok(o: &Occurrences, d: NaiveDate) -> bool {
    o.dates.contains(d)
        && o.lunar_dates.is_none_or(|r| r.contains(d))
        && o.on.as_ref().is_none_or(|on| on.contains(d))
        && !o.except.contains(d)
}

proptest! {
    #[test]
    fn occurrences_are_strictly_ascending_and_in_range(
        o in occurrences(recurrence()), tz in zone(), a in instant(), len in span(),
    ) {
        let c = a + len;
        let got = o.between(tz, a, c);
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "not strictly ascending");
        for t in &got {
            prop_assert!(*t >= a && *t < c, "{t} outside [{a}, {c})");
        }
    }

    #[test]
    fn occurrences_split_at_any_instant(
        o in occurrences(recurrence()), tz in zone(), a in instant(),
        ab in span(), bc in span(), snap in any::<bool>(),
    ) {
        let mut b = a + ab;
        // Splitting exactly at a start is the case that loses or doubles one.
        if snap {
            if let Some(t) = o.next_after(tz, b, 60) {
                b = t.with_timezone(&Utc);
            }
        }
        let c = b + bc;
        let mut joined = o.between(tz, a, b);
        joined.extend(o.between(tz, b, c));
        prop_assert_eq!(o.between(tz, a, c), joined);
    }

    #[test]
    fn next_occurrence_after_is_first_of_between(
        o in occurrences(recurrence()), tz in zone(), t in instant(),
    ) {
        let year = t + TimeDelta::days(366);
        let first = o.between(tz, t + TimeDelta::nanoseconds(1), year).first().copied();
        let next = o.next_after(tz, t, 400);
        match first {
            Some(f) => prop_assert_eq!(next, Some(f)),
            None => prop_assert!(next.is_none_or(|n| n >= year), "{next:?} missed by between"),
        }
    }

    #[test]
    fn occurrences_respect_dates_on_and_except(
        o in occurrences(recurrence()), tz in zone(), a in instant(), len in span(),
    ) {
        for t in o.between(tz, a, a + len) {
            // In these zones a resolved start keeps its scheduled local date.
            let d = t.date_naive();
            prop_assert!(local_date_ok(&o, d), "{t} on a date outside dates/on/except");
            if let Recurrence::Daily { days, .. } = &o.recurrence {
                prop_assert!(days.contains(d.weekday()), "{t} on a day not in days");
            }
        }
    }

    /// One start per matching local day, none lost or doubled. Without
    /// daylight saving that is plain counting; Loa's rule (gap times move
    /// forward, ambiguous times fire once) makes it hold in DST zones too.
    #[test]
    fn daily_occurrence_count_equals_matching_weekdays(
        o in occurrences(daily()), tz in zone(), first in date_near_base(), n in 0u64..120,
    ) {
        let Recurrence::Daily { days, .. } = &o.recurrence else { unreachable!() };
        let last = first + chrono::Days::new(n);
        let midnight = |d: NaiveDate| resolve_local(tz, d.and_time(NaiveTime::MIN)).with_timezone(&Utc);
        let want = first
            .iter_days()
            .take_while(|d| *d < last)
            .filter(|d| days.contains(d.weekday()) && local_date_ok(&o, *d))
            .count();
        prop_assert_eq!(o.between(tz, midnight(first), midnight(last)).len(), want);
    }

    #[test]
    fn ho_chi_minh_daily_occurrence_count_over_whole_days(
        at in time_of_day(), days in day_set(), first in date_near_base(), n in 0u64..400,
    ) {
        let o = Occurrences::new(Recurrence::Daily { at, days });
        let last = first + chrono::Days::new(n);
        let start = Ho_Chi_Minh.from_local_datetime(&first.and_time(NaiveTime::MIN)).unwrap();
        let end = Ho_Chi_Minh.from_local_datetime(&last.and_time(NaiveTime::MIN)).unwrap();
        let want = first
            .iter_days()
            .take_while(|d| *d < last)
            .filter(|d| days.contains(d.weekday()))
            .count();
        let got = o.between(Ho_Chi_Minh, start.with_timezone(&Utc), end.with_timezone(&Utc));
        prop_assert_eq!(got.len(), want);
        prop_assert!(got.iter().all(|t| t.time() == at));
    }
}
