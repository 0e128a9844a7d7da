use super::*;
use chrono::Timelike;
use chrono_tz::{America::New_York, Asia::Ho_Chi_Minh, Europe::Berlin};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// The instant a local date starts, for "per local day" windows.
fn midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    resolve_local(tz, d.and_time(NaiveTime::MIN)).with_timezone(&Utc)
}

fn on_local_day(o: &Occurrences, tz: Tz, d: NaiveDate) -> Vec<DateTime<Tz>> {
    o.between(tz, midnight(tz, d), midnight(tz, d.succ_opt().unwrap()))
}

fn daily(at: NaiveTime, days: DaySet) -> Occurrences {
    Occurrences::new(Recurrence::Daily { at, days })
}

fn cron(s: &str) -> Occurrences {
    Occurrences::new(Recurrence::Cron(CronRule::parse(s).unwrap()))
}

fn days_of(rule: &str) -> Vec<Weekday> {
    CronRule::parse(rule).unwrap().days_of_week.iter().collect()
}

// ---- parsing: days, cron, times, windows ----

#[test]
fn day_names_short_long_any_case() {
    assert_eq!(DaySet::parse_day("mon"), Ok(Weekday::Mon));
    assert_eq!(DaySet::parse_day("Sunday"), Ok(Weekday::Sun));
    assert_eq!(DaySet::parse_day(" THU "), Ok(Weekday::Thu));
    let mut set = DaySet::empty();
    assert!(set.is_empty());
    set.insert(Weekday::Sat);
    assert!(set.contains(Weekday::Sat) && !set.contains(Weekday::Sun));
    assert_eq!(DaySet::ALL.iter().count(), 7);
}

#[test]
fn misspelt_day_gets_did_you_mean() {
    let e = DaySet::parse_day("mnday").unwrap_err();
    assert!(e.contains("did you mean `monday`"), "{e}");
    let e = DaySet::parse_day("tues").unwrap_err();
    assert!(e.contains("did you mean `tue`"), "{e}");
    let e = DaySet::parse_day("xyzzy").unwrap_err();
    assert!(!e.contains("did you mean"), "{e}");
    assert!(e.contains("`xyzzy` is not a day"), "{e}");
}

#[test]
fn cron_five_fields_get_second_zero() {
    let r = CronRule::parse("30 6 * * 1-5").unwrap();
    assert_eq!(r.seconds, vec![0]);
    assert_eq!(r.minutes, vec![30]);
    assert_eq!(r.hours, vec![6]);
    assert_eq!(r.source(), "30 6 * * 1-5");
    let six = CronRule::parse("15 30 6 * * *").unwrap();
    assert_eq!(six.seconds, vec![15]);
}

#[test]
fn cron_wrong_field_count_says_how_many() {
    assert_eq!(
        CronRule::parse("0 6 * *").unwrap_err(),
        "cron needs 6 fields (sec min hour day month weekday) or 5, found 4"
    );
    let e = CronRule::parse("0 0 6 * * * 2027").unwrap_err();
    assert!(e.contains("found 7") && e.contains("year"), "{e}");
    assert!(CronRule::parse("").unwrap_err().contains("found 0"));
}

#[test]
fn cron_weekday_follows_crontab_numbering() {
    use Weekday::*;
    assert_eq!(days_of("0 6 * * 0"), vec![Sun]);
    assert_eq!(days_of("0 6 * * 7"), vec![Sun]);
    assert_eq!(days_of("0 6 * * 1"), vec![Mon]);
    assert_eq!(days_of("0 6 * * 1-5"), vec![Mon, Tue, Wed, Thu, Fri]);
    assert_eq!(days_of("0 0 6 * * Mon-Fri"), vec![Mon, Tue, Wed, Thu, Fri]);
    assert_eq!(days_of("0 6 * * fri-sun"), vec![Fri, Sat, Sun]);
    assert_eq!(days_of("0 6 * * 5-7"), vec![Fri, Sat, Sun]);
    assert_eq!(days_of("0 6 * * sun,wed"), vec![Wed, Sun]);
    assert_eq!(days_of("0 6 * * */2"), vec![Tue, Thu, Sat, Sun]);
    assert_eq!(days_of("0 6 * * 1-5/2"), vec![Mon, Wed, Fri]);
    assert_eq!(days_of("0 6 * * ?"), DaySet::ALL.iter().collect::<Vec<_>>());
    assert_eq!(days_of("@weekly"), vec![Sun]);
}

#[test]
fn cron_bad_weekday_is_explained() {
    let e = CronRule::parse("0 6 * * 8").unwrap_err();
    assert!(
        e.contains("weekday field `8`") && e.contains("0 and 7 are Sunday"),
        "{e}"
    );
    let e = CronRule::parse("0 0 6 * * Fir").unwrap_err();
    assert!(e.contains("did you mean `fri`"), "{e}");
    let e = CronRule::parse("0 6 * * sat-mon").unwrap_err();
    assert!(e.contains("runs backwards"), "{e}");
    assert!(CronRule::parse("0 6 * * 1,,2").is_err());
    assert!(CronRule::parse("0 6 * * */0").is_err());
}

#[test]
fn cron_bad_field_is_named() {
    let e = CronRule::parse("61 6 * * *").unwrap_err();
    assert!(e.starts_with("the minute field `61`"), "{e}");
    let e = CronRule::parse("0 0 25 * * *").unwrap_err();
    assert!(e.starts_with("the hour field `25`"), "{e}");
    let e = CronRule::parse("60 0 6 * * *").unwrap_err();
    assert!(e.starts_with("the second field `60`"), "{e}");
    let e = CronRule::parse("0 0 6 32 * *").unwrap_err();
    assert!(e.starts_with("the day-of-month field"), "{e}");
    let e = CronRule::parse("0 0 6 * foo *").unwrap_err();
    assert!(e.starts_with("the month field `foo`"), "{e}");
    let e = CronRule::parse("@dayly").unwrap_err();
    assert!(e.contains("did you mean `@daily`"), "{e}");
}

#[test]
fn cron_restricting_both_day_fields_is_refused() {
    let both = "restrict either day-of-month or day-of-week, not both";
    assert!(CronRule::parse("0 0 6 1 * Mon")
        .unwrap_err()
        .starts_with(both));
    assert!(CronRule::parse("0 6 */2 * 1-5")
        .unwrap_err()
        .starts_with(both));
    // crontab would read `1-31` with a weekday as "either": refused too.
    assert!(CronRule::parse("0 6 1-31 * mon")
        .unwrap_err()
        .starts_with(both));
    assert!(CronRule::parse("0 0 6 1 * *").is_ok());
    assert!(CronRule::parse("0 0 6 ? * Mon").is_ok());
    assert!(CronRule::parse("0 0 6 1 * ?").is_ok());
    assert!(CronRule::parse("0 0 6 1 Jan,Jul *").is_ok());
}

#[test]
fn times_of_day() {
    assert_eq!(parse_time_of_day("06:00"), Ok(time(6, 0)));
    assert_eq!(parse_time_of_day("6:00"), Ok(time(6, 0)));
    assert_eq!(parse_time_of_day(" 23:59 "), Ok(time(23, 59)));
    assert_eq!(
        parse_time_of_day("06:00:30"),
        Ok(NaiveTime::from_hms_opt(6, 0, 30).unwrap())
    );
    assert_eq!(
        parse_time_of_day("25:00").unwrap_err(),
        "`25:00` is not a time of day; write HH:MM from 00:00 to 23:59 (or HH:MM:SS)"
    );
    for bad in [
        "24:00", "06:60", "6", "06:0", "", "06:00:60", "006:00", "6h30", "-1:00", "06:00:", "+6:00",
    ] {
        assert!(parse_time_of_day(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn daily_windows_may_cross_midnight() {
    let quiet = DailyWindow::parse("21:30-05:00").unwrap();
    assert!(quiet.contains(time(21, 30)) && quiet.contains(time(23, 0)));
    assert!(quiet.contains(time(0, 0)) && quiet.contains(time(4, 59)));
    assert!(!quiet.contains(time(5, 0)) && !quiet.contains(time(12, 0)));
    let day = DailyWindow::parse("06:00 - 21:00").unwrap();
    assert!(day.contains(time(6, 0)) && day.contains(time(20, 59)));
    assert!(!day.contains(time(21, 0)) && !day.contains(time(5, 59)));
    assert!(DailyWindow::parse("06:00–21:00").is_ok());
    for bad in ["06:00", "06:00-", "x-y", "06:00-25:00"] {
        assert!(DailyWindow::parse(bad).is_err(), "{bad:?} accepted");
    }
    let e = DailyWindow::parse("06:00-06:00").unwrap_err();
    assert!(e.contains("same time"), "{e}");
}

// ---- expansion ----

#[test]
fn ho_chi_minh_daily_is_utc_plus_7() {
    let o = daily(time(6, 0), DaySet::ALL);
    let got = o.between(Ho_Chi_Minh, utc(2026, 11, 1, 0, 0), utc(2026, 11, 4, 0, 0));
    let want: Vec<_> = [(1, 23), (2, 23), (3, 23)]
        .iter()
        .map(|&(d, h)| utc(2026, 11, d, h, 0))
        .collect();
    assert_eq!(got, want);
    assert!(got.iter().all(|t| t.hour() == 6 && t.minute() == 0));
}

#[test]
fn cron_weekdays_only_fire_monday_to_friday() {
    let o = cron("0 0 6 * * Mon-Fri");
    // 2026-11-02 is a Monday; two whole weeks.
    let got = o.between(
        Ho_Chi_Minh,
        midnight(Ho_Chi_Minh, date(2026, 11, 2)),
        midnight(Ho_Chi_Minh, date(2026, 11, 16)),
    );
    assert_eq!(got.len(), 10);
    for t in &got {
        assert!(!matches!(t.weekday(), Weekday::Sat | Weekday::Sun), "{t}");
        assert_eq!((t.hour(), t.minute(), t.second()), (6, 0, 0));
    }
    let five = cron("0 6 * * 1-5");
    let same = five.between(
        Ho_Chi_Minh,
        midnight(Ho_Chi_Minh, date(2026, 11, 2)),
        midnight(Ho_Chi_Minh, date(2026, 11, 16)),
    );
    assert_eq!(got, same);
}

#[test]
fn dates_window_and_except_dates_are_local() {
    let mut o = daily(time(6, 0), DaySet::ALL);
    o.dates = DateRange {
        from: Some(date(2026, 11, 2)),
        until: Some(date(2026, 11, 6)),
    };
    o.except.insert(date(2026, 11, 4));
    let got: Vec<_> = o
        .between(Ho_Chi_Minh, utc(2026, 10, 1, 0, 0), utc(2026, 12, 1, 0, 0))
        .iter()
        .map(|t| t.date_naive())
        .collect();
    assert_eq!(
        got,
        vec![
            date(2026, 11, 2),
            date(2026, 11, 3),
            date(2026, 11, 5),
            date(2026, 11, 6)
        ]
    );
    // 06:00 local on Nov 2 is Nov 1 in UTC: the local date is what counts.
    assert_eq!(
        o.next_after(Ho_Chi_Minh, utc(2026, 10, 1, 0, 0), 60),
        Some(utc(2026, 11, 1, 23, 0).with_timezone(&Ho_Chi_Minh))
    );
    assert_eq!(o.next_after(Ho_Chi_Minh, utc(2026, 11, 6, 0, 0), 60), None);
}

#[test]
fn between_is_half_open() {
    let o = daily(time(6, 0), DaySet::ALL);
    let at = utc(2026, 11, 1, 23, 0);
    let one_ns = TimeDelta::nanoseconds(1);
    assert_eq!(o.between(Ho_Chi_Minh, at, at + one_ns).len(), 1);
    assert!(o.between(Ho_Chi_Minh, at - one_ns, at).is_empty());
    assert!(o.between(Ho_Chi_Minh, at, at).is_empty());
}

#[test]
fn next_after_is_strictly_after_and_respects_horizon() {
    let o = daily(time(6, 0), DaySet::ALL);
    let at = utc(2026, 11, 1, 23, 0);
    assert_eq!(
        o.next_after(Ho_Chi_Minh, at, 7),
        Some((at + TimeDelta::days(1)).with_timezone(&Ho_Chi_Minh))
    );
    let feb29 = cron("0 0 0 29 2 *");
    let after = utc(2026, 3, 1, 0, 0);
    assert_eq!(feb29.next_after(Ho_Chi_Minh, after, 365), None);
    let next = feb29.next_after(Ho_Chi_Minh, after, 8 * 366).unwrap();
    assert_eq!(next.date_naive(), date(2028, 2, 29));
    // Across the skipped leap year 2100.
    let next = feb29
        .next_after(Ho_Chi_Minh, utc(2096, 3, 1, 0, 0), 8 * 366)
        .unwrap();
    assert_eq!(next.date_naive(), date(2104, 2, 29));
}

#[test]
fn never_fires_finds_impossible_rules() {
    assert!(cron("0 0 0 31 2 *").never_fires(Ho_Chi_Minh));
    assert!(cron("0 0 0 30 2 *").never_fires(Ho_Chi_Minh));
    assert!(!cron("0 0 0 30 4 *").never_fires(Ho_Chi_Minh));
    assert!(!cron("0 0 0 29 2 *").never_fires(Ho_Chi_Minh));
    assert!(daily(time(6, 0), DaySet::empty()).never_fires(Ho_Chi_Minh));

    // Monday 2026-11-02 .. Friday 2026-11-06 holds no weekend day.
    let window = DateRange {
        from: Some(date(2026, 11, 2)),
        until: Some(date(2026, 11, 6)),
    };
    let mut weekend = DaySet::empty();
    weekend.insert(Weekday::Sat);
    weekend.insert(Weekday::Sun);
    let mut o = daily(time(6, 0), weekend);
    o.dates = window;
    assert!(o.never_fires(Ho_Chi_Minh));
    o.dates.until = Some(date(2026, 11, 7));
    assert!(!o.never_fires(Ho_Chi_Minh));
    o.except.insert(date(2026, 11, 7));
    assert!(o.never_fires(Ho_Chi_Minh));

    let mut leap = cron("0 0 0 29 2 *");
    leap.dates = DateRange {
        from: Some(date(2026, 1, 1)),
        until: Some(date(2027, 12, 31)),
    };
    assert!(leap.never_fires(Ho_Chi_Minh));
    leap.dates.until = Some(date(2028, 12, 31));
    assert!(!leap.never_fires(Ho_Chi_Minh));
    // An open-ended window: finitely many except dates cannot stop it.
    leap.dates.until = None;
    leap.except.insert(date(2028, 2, 29));
    assert!(!leap.never_fires(Ho_Chi_Minh));

    let mut backwards = daily(time(6, 0), DaySet::ALL);
    backwards.dates = DateRange {
        from: Some(date(2026, 12, 1)),
        until: Some(date(2026, 11, 1)),
    };
    assert!(backwards.never_fires(Ho_Chi_Minh));
}

#[test]
fn never_fires_follows_the_calendar() {
    use crate::holidays::Holiday;
    use crate::lunar::LunarDay;
    let lunar = |s: &str| LunarDay::parse(s).unwrap();
    let on = |list: DayList| {
        let mut o = daily(time(7, 0), DaySet::ALL);
        o.on = Some(list);
        o
    };
    // Every Tết is a holiday: `on: [tet]` with `except: [holidays]` never airs.
    let mut tet = on(DayList {
        holidays: vec![Holiday::Tet],
        ..DayList::default()
    });
    assert!(!tet.never_fires(Ho_Chi_Minh));
    tet.except.holidays = Holiday::ALL.to_vec();
    assert!(tet.never_fires(Ho_Chi_Minh));

    // A leap 8th month comes in 2052: not before, within these dates.
    let mut leap = on(DayList {
        lunar: vec![lunar("15/8 nhuận")],
        ..DayList::default()
    });
    assert!(!leap.never_fires(Ho_Chi_Minh));
    leap.dates = DateRange {
        from: Some(date(2026, 1, 1)),
        until: Some(date(2051, 12, 31)),
    };
    assert!(leap.never_fires(Ho_Chi_Minh));

    // Mùng 1 Tết is always in the Tết days off; the 2nd of month 1 too.
    let mut mung_1 = on(DayList {
        lunar: vec![lunar("1/1"), lunar("2/1")],
        ..DayList::default()
    });
    mung_1.except.holidays = vec![Holiday::Tet];
    assert!(mung_1.never_fires(Ho_Chi_Minh));

    // `on` with dates only: exactly those days count.
    let mut once = on(DayList::default());
    once.on.as_mut().unwrap().insert(date(2027, 2, 6));
    assert!(!once.never_fires(Ho_Chi_Minh));
    once.except.holidays = vec![Holiday::Tet];
    assert!(once.never_fires(Ho_Chi_Minh));
}

// ---- daylight saving (Europe/Berlin 2026: Mar 29 02:00->03:00, Oct 25 03:00->02:00) ----

#[test]
fn resolve_local_moves_gap_times_forward_and_takes_first_of_ambiguous() {
    let spring = date(2026, 3, 29).and_time(time(2, 30));
    let t = resolve_local(Berlin, spring);
    assert_eq!(t.naive_local(), date(2026, 3, 29).and_time(time(3, 30)));
    assert_eq!(t, utc(2026, 3, 29, 1, 30));

    let autumn = date(2026, 10, 25).and_time(time(2, 30));
    let t = resolve_local(Berlin, autumn);
    assert_eq!(t.naive_local(), autumn);
    assert_eq!(
        t.offset().fix().local_minus_utc(),
        2 * 3600,
        "CEST instance"
    );
    assert_eq!(t, utc(2026, 10, 25, 0, 30));

    let ny = resolve_local(New_York, date(2026, 3, 8).and_time(time(2, 30)));
    assert_eq!(ny.naive_local(), date(2026, 3, 8).and_time(time(3, 30)));
    let ny = resolve_local(New_York, date(2026, 11, 1).and_time(time(1, 30)));
    assert_eq!(ny, utc(2026, 11, 1, 5, 30), "EDT instance");
}

#[test]
fn berlin_daily_0230_fires_once_on_both_change_days() {
    let o = daily(time(2, 30), DaySet::ALL);
    let spring = on_local_day(&o, Berlin, date(2026, 3, 29));
    assert_eq!(spring, vec![utc(2026, 3, 29, 1, 30)]);
    assert_eq!(spring[0].naive_local().time(), time(3, 30));
    let autumn = on_local_day(&o, Berlin, date(2026, 10, 25));
    assert_eq!(autumn, vec![utc(2026, 10, 25, 0, 30)]);

    // Across the change days: exactly one per local day, none lost.
    let around =
        |a: NaiveDate, b: NaiveDate| o.between(Berlin, midnight(Berlin, a), midnight(Berlin, b));
    let march = around(date(2026, 3, 27), date(2026, 4, 1));
    assert_eq!(
        march.iter().map(|t| t.date_naive()).collect::<Vec<_>>(),
        date(2026, 3, 27).iter_days().take(5).collect::<Vec<_>>()
    );
    assert_eq!(around(date(2026, 10, 23), date(2026, 10, 28)).len(), 5);
    assert_eq!(
        o.next_after(Berlin, utc(2026, 3, 28, 12, 0), 3),
        Some(utc(2026, 3, 29, 1, 30).with_timezone(&Berlin))
    );
    assert_eq!(
        o.next_after(Berlin, utc(2026, 10, 25, 0, 30), 3),
        Some(utc(2026, 10, 26, 1, 30).with_timezone(&Berlin)),
        "the CET repeat of 02:30 does not fire"
    );
}

/// Every quarter hour: 96 on a normal day. On the spring day the wall
/// times 02:00-02:45 move forward to 03:00-03:45, the same instants as
/// the rule's own 03:xx slots, so each fires once: 92, one per quarter
/// hour of the 23-hour day. On the autumn day 02:00-02:45 fire once (at
/// CEST), so 96 over a 25-hour day, with the CET repeat hour silent.
#[test]
fn berlin_quarter_hour_cron_counts_across_change_days() {
    let o = cron("0 */15 * * * *");
    let normal = on_local_day(&o, Berlin, date(2026, 3, 28));
    assert_eq!(normal.len(), 96);

    let spring = on_local_day(&o, Berlin, date(2026, 3, 29));
    assert_eq!(spring.len(), 92);
    assert!(spring
        .windows(2)
        .all(|w| w[1] - w[0] == TimeDelta::minutes(15)));
    assert!(spring.iter().all(|t| t.hour() != 2));

    let autumn = on_local_day(&o, Berlin, date(2026, 10, 25));
    assert_eq!(autumn.len(), 96);
    let steps: Vec<_> = autumn.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        steps
            .iter()
            .filter(|s| **s == TimeDelta::minutes(75))
            .count(),
        1
    );
    assert!(steps
        .iter()
        .all(|s| *s == TimeDelta::minutes(15) || *s == TimeDelta::minutes(75)));
    // 02:45 CEST (00:45Z), then 03:00 CET (02:00Z).
    let fired = |t: DateTime<Utc>| autumn.iter().any(|a| *a == t);
    assert!(fired(utc(2026, 10, 25, 0, 45)));
    assert!(!fired(utc(2026, 10, 25, 1, 0)));
    assert!(fired(utc(2026, 10, 25, 2, 0)));

    assert_eq!(on_local_day(&o, Berlin, date(2026, 10, 26)).len(), 96);
}

/// Samoa skipped 2011-12-30 whole: its wall times move forward a day
/// and still count as Dec 30's, so an `except` of Dec 31 leaves them.
#[test]
fn skipped_day_fires_on_the_next_one() {
    use chrono_tz::Pacific::Apia;
    let mut o = daily(time(10, 0), DaySet::ALL);
    o.except.insert(date(2011, 12, 31));
    let got = on_local_day(&o, Apia, date(2011, 12, 31));
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].naive_local(),
        date(2011, 12, 31).and_time(time(10, 0))
    );
    assert!(on_local_day(&o, Apia, date(2011, 12, 29)).len() == 1);
}

#[test]
fn gap_time_meeting_a_real_time_fires_once() {
    let o = cron("0 30 2,3 * * *");
    let spring = on_local_day(&o, Berlin, date(2026, 3, 29));
    assert_eq!(spring, vec![utc(2026, 3, 29, 1, 30)]);
    let seconds = cron("30 30 2 * * *");
    let spring = on_local_day(&seconds, Berlin, date(2026, 3, 29));
    assert_eq!(spring.len(), 1);
    assert_eq!(
        spring[0].naive_local().time(),
        NaiveTime::from_hms_opt(3, 30, 30).unwrap()
    );
}
