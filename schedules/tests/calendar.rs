//! Programs that follow the calendar, from the YAML an operator writes to
//! the days they air: on Tết's days off only (`on: [tet]`), on Rằm tháng
//! Tám (`lunar: 15/8`, and its leap month), every day but the holidays
//! (`except: [holidays]`), in a lunar season, on mùng 1 and rằm.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use loa_schedules::agenda::{agenda, format_text, Lengths};
use loa_schedules::check::check_dir;
use loa_schedules::{Config, MediaProbe};

const STATION: &str = r#"station:
  id: test
  name: "Đài truyền thanh xã Thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { name: "Thôn 1", output: main }
calendar:
  holidays: vn
  days_off:
    tet:
      2027: { from: 2027-02-04, until: 2027-02-10 }
"#;

const SCHEDULE: &str = r#"programs:
  - id: chuc-tet
    title: "Chúc mừng năm mới"
    at: "07:00"
    on: [tet]
    zones: all
    items:
      - file: jingle.mp3
  - id: trung-thu
    title: "Vui Tết Trung Thu"
    at: "19:00"
    on:
      - lunar: 15/8
    zones: all
    items:
      - file: jingle.mp3
  - id: trung-thu-nhuan
    at: "19:30"
    on: [lunar: 15/8 nhuận]
    zones: all
    items:
      - file: jingle.mp3
  - id: phien-sang
    at: "05:30"
    except: [holidays]
    zones: all
    items:
      - file: jingle.mp3
  - id: ong-tao-den-mung-7
    at: "18:00"
    dates: { from: { lunar: 23/12 }, until: { lunar: 7/1 } }
    zones: all
    items:
      - file: jingle.mp3
  - id: mung-1-va-ram
    at: "06:30"
    on: [lunar: 1, lunar: 15]
    except: [2027-03-22, tet]
    zones: all
    items:
      - file: jingle.mp3
  - id: giai-phong-cuoi-tuan
    at: "08:00"
    days: [sat, sun]
    on: [chien-thang, lao-dong, quoc-khanh]
    zones: all
    items:
      - file: jingle.mp3
"#;

struct Any;

impl MediaProbe for Any {
    fn length(&self, _: &Path) -> Result<Duration, String> {
        Ok(Duration::from_secs(10))
    }
}

fn load(name: &str, station: &str, schedule: &str) -> Config {
    load_with_lengths(name, station, schedule).0
}

fn load_with_lengths(name: &str, station: &str, schedule: &str) -> (Config, Lengths) {
    let dir = tempdir(name);
    std::fs::write(dir.join("station.yaml"), station).unwrap();
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    std::fs::write(dir.join("schedules/a.yaml"), schedule).unwrap();
    let report = check_dir(&dir, &Any, NaiveDate::from_ymd_opt(2026, 11, 23));
    let _ = std::fs::remove_dir_all(&dir);
    let errors: Vec<String> = report
        .diagnostics
        .errors
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    (report.config.unwrap(), report.lengths)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loa-calendar-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The local dates a program airs on in [from, until], each with its time.
fn airs(
    config: &Config,
    id: &str,
    from: NaiveDate,
    until: NaiveDate,
) -> Vec<(NaiveDate, NaiveTime)> {
    let tz = config.station.timezone;
    let p = config.programs.iter().find(|p| p.id == id).unwrap();
    let at = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .unwrap()
            .with_timezone(&Utc)
    };
    p.occurs
        .between(tz, at(from), at(until.succ_opt().unwrap()))
        .into_iter()
        .map(|t| (t.date_naive(), t.time()))
        .collect()
}

fn days(config: &Config, id: &str, from: NaiveDate, until: NaiveDate) -> Vec<NaiveDate> {
    airs(config, id, from, until)
        .into_iter()
        .map(|(d, _)| d)
        .collect()
}

fn run(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    first.iter_days().take_while(|d| *d <= last).collect()
}

#[test]
fn on_tet_airs_on_the_announced_days_off_and_the_laws_in_other_years() {
    let c = load("tet", STATION, SCHEDULE);
    // 2027: the seven days the station wrote, at 07:00.
    let got = airs(&c, "chuc-tet", date(2026, 12, 1), date(2027, 12, 31));
    let want: Vec<_> = run(date(2027, 2, 4), date(2027, 2, 10))
        .into_iter()
        .map(|d| (d, NaiveTime::from_hms_opt(7, 0, 0).unwrap()))
        .collect();
    assert_eq!(got, want);
    // 2028 (Tết on 26 January): the law's five, 30 Tết to mùng 4, and
    // mùng 4 a Saturday owes Monday 31/1 (nghỉ bù; the Sunday between too).
    assert_eq!(
        days(&c, "chuc-tet", date(2028, 1, 1), date(2028, 12, 31)),
        run(date(2028, 1, 25), date(2028, 1, 31))
    );
}

#[test]
fn lunar_15_8_airs_on_trung_thu_and_the_leap_month_only_when_named() {
    let c = load("trung-thu", STATION, SCHEDULE);
    assert_eq!(
        days(&c, "trung-thu", date(2026, 1, 1), date(2028, 12, 31)),
        [date(2026, 9, 25), date(2027, 9, 15), date(2028, 10, 3)]
    );
    // 2052 has a leap 8th month: `15/8` is the regular month's, and
    // `15/8 nhuận` the leap month's, a month later; no other year of
    // 2026-2060 has one.
    assert_eq!(
        days(&c, "trung-thu", date(2052, 1, 1), date(2052, 12, 31)),
        [date(2052, 9, 7)]
    );
    assert_eq!(
        days(&c, "trung-thu-nhuan", date(2026, 1, 1), date(2060, 12, 31)),
        [date(2052, 10, 7)]
    );
}

#[test]
fn except_holidays_skips_every_day_off_and_only_those() {
    let c = load("holidays", STATION, SCHEDULE);
    let aired: BTreeSet<NaiveDate> = days(&c, "phien-sang", date(2027, 1, 1), date(2027, 12, 31))
        .into_iter()
        .collect();
    let skipped: Vec<NaiveDate> = run(date(2027, 1, 1), date(2027, 12, 31))
        .into_iter()
        .filter(|d| !aired.contains(d))
        .collect();
    let mut want = vec![date(2027, 1, 1)]; // Tết Dương lịch
    want.extend(run(date(2027, 2, 4), date(2027, 2, 10))); // Tết, as announced
    want.push(date(2027, 4, 16)); // Giỗ Tổ, 10/3 âm lịch
                                  // 1/5 is a Saturday: Monday 3/5 is owed (nghỉ bù), the Sunday too.
    want.extend(run(date(2027, 4, 30), date(2027, 5, 3)));
    // 2/9/2027 is a Thursday: the law's second day is Friday the 3rd.
    want.extend([date(2027, 9, 2), date(2027, 9, 3)]);
    assert_eq!(skipped, want);
}

#[test]
fn a_lunar_window_comes_back_every_year_across_tet() {
    let c = load("season", STATION, SCHEDULE);
    // 23 tháng Chạp of Bính Ngọ to mùng 7 of Đinh Mùi.
    assert_eq!(
        days(&c, "ong-tao-den-mung-7", date(2026, 6, 1), date(2027, 6, 1)),
        run(date(2027, 1, 30), date(2027, 2, 12))
    );
    let next = days(&c, "ong-tao-den-mung-7", date(2027, 6, 1), date(2028, 6, 1));
    assert_eq!(next.len(), 14, "{next:?}");
}

#[test]
fn every_mung_1_and_ram_but_the_ones_excepted() {
    let c = load("ram", STATION, SCHEDULE);
    let got = days(&c, "mung-1-va-ram", date(2027, 1, 1), date(2027, 4, 30));
    // Mùng 1 Tết (6 Feb) falls in the Tết days off: excepted; and the
    // 15th of the 2nd month (22 March) by date.
    assert_eq!(
        got,
        [
            date(2027, 1, 8),
            date(2027, 1, 22),
            date(2027, 2, 20),
            date(2027, 3, 8),
            date(2027, 4, 7),
            date(2027, 4, 21),
        ]
    );
}

#[test]
fn on_holidays_and_days_keep_both() {
    let c = load("weekend", STATION, SCHEDULE);
    // 2027: 30/4 is a Friday, 1/5 a Saturday, 2-3/9 Thursday and Friday.
    let got = days(
        &c,
        "giai-phong-cuoi-tuan",
        date(2027, 1, 1),
        date(2027, 12, 31),
    );
    // 1/5 and the Sunday before the day it owes (Monday 3/5).
    assert_eq!(got, [date(2027, 5, 1), date(2027, 5, 2)]);
    assert!(got
        .iter()
        .all(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun)));
}

#[test]
fn the_old_forms_keep_their_meaning() {
    let schedule = "programs:\n  - id: sang\n    at: \"06:00\"\n    dates: { from: 2026-11-01, until: 2027-01-31 }\n    except: [2027-01-01]\n    zones: all\n    items:\n      - file: jingle.mp3\n";
    let c = load("old", STATION, schedule);
    let got = days(&c, "sang", date(2026, 10, 1), date(2027, 3, 1));
    let mut want = run(date(2026, 11, 1), date(2027, 1, 31));
    want.retain(|d| *d != date(2027, 1, 1));
    assert_eq!(got, want);
}

#[test]
fn the_agenda_shows_the_lunar_date_and_the_holidays_of_each_day() {
    let (c, lengths) = load_with_lengths("agenda", STATION, SCHEDULE);
    let tz = c.station.timezone;
    let from = tz
        .with_ymd_and_hms(2027, 2, 6, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let entries = agenda(&c, &lengths, from, from + chrono::TimeDelta::days(1));
    let text = format_text(&c, &entries);
    assert!(
        text.starts_with("Saturday 2027-02-06 (âm lịch 1/1 Đinh Mùi; Tết Nguyên Đán)\n"),
        "{text}"
    );
    assert!(text.contains("Chúc mừng năm mới"), "{text}");
    assert!(!text.contains("phien-sang"), "{text}");
    let json = entries[0].to_json(&c);
    assert_eq!(json["lunar"], "1/1");
    assert_eq!(json["holidays"], serde_json::json!(["tet"]));
}

#[test]
fn check_lists_what_each_program_meets_in_the_coming_year() {
    let dir = tempdir("check");
    std::fs::write(
        dir.join("station.yaml"),
        STATION.replace(
            "      2027: { from: 2027-02-04, until: 2027-02-10 }\n",
            "      2026: { from: 2026-02-14, until: 2026-02-22 }\n",
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    std::fs::write(dir.join("schedules/a.yaml"), SCHEDULE).unwrap();
    let report = check_dir(&dir, &Any, NaiveDate::from_ymd_opt(2026, 11, 23));
    let _ = std::fs::remove_dir_all(&dir);
    let config = report.config.expect("valid");
    let lines = report.calendar.lines(&config.station.calendar);
    let line = |id: &str, verb: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("program `{id}` {verb}")))
            .unwrap_or_else(|| panic!("no `{id}` {verb} in {lines:#?}"))
            .clone()
    };
    // Tết 2027 is not written in station.yaml: the law's five days and the
    // two its weekend owes, and a note saying where to write the announced ones.
    assert!(line("chuc-tet", "airs").ends_with("airs 2027-02-05 to 2027-02-11 (Tết Nguyên Đán)"));
    assert!(lines.iter().any(|l| l.contains("Tết Nguyên Đán 2027: Loa takes 2027-02-05 to 2027-02-11 (the law's days off) until station.yaml names the announced days under calendar.days_off.tet.2027")), "{lines:#?}");
    assert!(line("trung-thu", "airs").contains("airs 2027-09-15 (âm lịch 15/8 Đinh Mùi)"));
    assert!(line("trung-thu-nhuan", "airs")
        .contains("next on 2052-10-07 (âm lịch 15/8 nhuận Nhâm Thân)"));
    let skips = line("phien-sang", "skips");
    assert!(
        skips.starts_with("calendar: schedules/a.yaml:23:5: "),
        "{skips}"
    );
    assert!(skips.contains("2027-01-01 (Tết Dương lịch); 2027-02-05 to 2027-02-11 (Tết Nguyên Đán); 2027-04-16 (Giỗ Tổ Hùng Vương); 2027-04-30 (Ngày Chiến thắng 30/4); 2027-05-01 to 2027-05-03 (Ngày Quốc tế Lao động 1/5); 2027-09-02 to 2027-09-03 (Quốc khánh 2/9)"), "{skips}");
    let json = report.calendar.to_json();
    assert_eq!(json["from"], "2026-11-23");
    let tet = json["days_off"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["holiday"] == "tet")
        .unwrap();
    assert_eq!(
        (&tet["from"], &tet["announced"]),
        (&serde_json::json!("2027-02-05"), &serde_json::json!(false))
    );
}
