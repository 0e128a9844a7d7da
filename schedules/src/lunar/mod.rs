//! The Vietnamese lunar calendar (âm lịch): which lunar day a solar date is,
//! and on which solar date a lunar day falls, for programs that air on
//! `lunar: 15/8` and for the holidays that follow the moon (Tết, Giỗ Tổ).
//!
//! Computed from the published astronomical algorithm of Hồ Ngọc Đức
//! ("Thuật toán tính âm lịch", informatik.uni-leipzig.de/~duc/amlich/): it
//! applies the calendar's rules to the instants of new moons and the sun's
//! longitude, at UTC+7 (the meridian 105° E):
//! - a month begins on the day (in Hanoi time) that holds a new moon;
//! - the winter solstice falls in month 11;
//! - a year from one month 11 to the next with 13 months has a leap month:
//!   the first month after the solstice in which the sun enters no new 30°
//!   sector of the ecliptic (no principal term, "trung khí"); it takes the
//!   number of the month before it ("tháng 4 nhuận" follows month 4).
//!
//! The instants come from Jean Meeus's "Astronomical Algorithms": the full
//! series for the true new moon (chapter 49, with Espenak and Meeus's ΔT)
//! and the sun's apparent longitude (chapter 25). The shortened series of
//! the article put three month starts of 1968-2100 a day off against its
//! author's published year tables; with the full ones every month start of
//! 1968-2199 agrees with those tables but one: the new moon of May 2054
//! falls 36 seconds after midnight here and before it there, closer than
//! ΔT that far ahead can be known.
//!
//! Reckoning at UTC+7 is what makes the calendar Vietnamese: China's is
//! reckoned at UTC+8, and when a new moon falls between 23:00 and midnight
//! Hanoi time the two calendars start that month a day apart (Tết 2007: 17
//! February in Vietnam, 18 in China), or, when the solstice moves, a month
//! apart (Tết 1985: 21 January in Vietnam, 20 February in China). UTC+7 is
//! used for every year; Vietnam adopted it in 1967 (the North) and 1975 (the
//! South), so dates before then may differ from the calendar printed then.
//!
//! No maintained crate computes this calendar (those that exist compute
//! China's at UTC+8, or Korea's); this module is written from the algorithm's
//! description, not from its author's code. The months of lunar years
//! [`YEARS`] are computed once, on first use, into a table (3,711 months;
//! `cargo bench -p loa-schedules --bench lunar` gives the figures); outside
//! those years there is no lunar date.
//!
//! Pure: no I/O, no clock.

use std::f64::consts::PI;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};

/// The lunar years (âm lịch) the calendar covers, months 1 to 12 of each;
/// their solar dates run from 31 January 1900 to early 2200, the years of
/// the published tables the module is checked against.
pub const YEARS: RangeInclusive<i32> = 1900..=2199;

/// Hanoi time, UTC+7, as a fraction of a day.
const VIETNAM: f64 = 7.0 / 24.0;
/// The mean length of a lunation, in days.
const SYNODIC_MONTH: f64 = 29.530_588_853;
/// Julian day number of 1900-01-01, from which new moons are counted.
const JD_1900: i64 = 2_415_021;
/// Julian day number minus chrono's day count from 0001-01-01 (which is 1).
const JD_OF_CE: i64 = 1_721_425;

/// One day of the lunar calendar.
///
/// Ordered as the calendar runs: by year, then month, a leap month right
/// after the regular month of the same number, then day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LunarDate {
    /// The lunar year, numbered as the solar year in which its month 1
    /// begins (Tết 2026 begins lunar year 2026, Bính Ngọ).
    pub year: i32,
    /// 1 (tháng Giêng) to 12 (tháng Chạp).
    pub month: u8,
    /// The leap month (tháng nhuận) that follows the month of this number.
    pub leap: bool,
    /// 1 to 29 or 30.
    pub day: u8,
}

impl LunarDate {
    /// The lunar date of solar date `d`, or None outside [`YEARS`].
    pub fn from_solar(d: NaiveDate) -> Option<LunarDate> {
        let day = day_number(d);
        let months = table();
        let i = months.partition_point(|m| m.start <= day).checked_sub(1)?;
        let m = &months[i];
        let offset = day - m.start;
        (offset < i64::from(m.days) && YEARS.contains(&m.year)).then(|| LunarDate {
            year: m.year,
            month: m.number,
            leap: m.leap,
            day: u8::try_from(offset + 1).expect("a month has at most 30 days"),
        })
    }

    /// The solar date of this lunar date, or None when that year has no
    /// such day: a leap month the year does not have, the 30th of a month
    /// of 29 days, or a year outside [`YEARS`].
    pub fn to_solar(&self) -> Option<NaiveDate> {
        let m = month_of(self.year, self.month, self.leap)?;
        (self.day >= 1 && self.day <= m.days)
            .then(|| solar_date(m.start + i64::from(self.day) - 1))
            .flatten()
    }

    /// Mùng 1 Tết of lunar year `year`.
    pub fn new_year(year: i32) -> Option<NaiveDate> {
        LunarDate {
            year,
            month: 1,
            leap: false,
            day: 1,
        }
        .to_solar()
    }

    /// The number of days (29 or 30) of a month, or None when the year has
    /// no such month.
    pub fn month_days(year: i32, month: u8, leap: bool) -> Option<u8> {
        month_of(year, month, leap).map(|m| m.days)
    }

    /// The month after which lunar year `year` has its leap month, if any.
    pub fn leap_month(year: i32) -> Option<u8> {
        let months = table();
        let first = months.partition_point(|m| m.year < year);
        months[first..]
            .iter()
            .take_while(|m| m.year == year)
            .find(|m| m.leap)
            .map(|m| m.number)
    }

    /// The year's name in the sexagenary cycle, as calendars print it:
    /// 2026 is "Bính Ngọ".
    pub fn year_name(year: i32) -> String {
        const STEMS: [&str; 10] = [
            "Giáp", "Ất", "Bính", "Đinh", "Mậu", "Kỷ", "Canh", "Tân", "Nhâm", "Quý",
        ];
        const BRANCHES: [&str; 12] = [
            "Tý", "Sửu", "Dần", "Mão", "Thìn", "Tỵ", "Ngọ", "Mùi", "Thân", "Dậu", "Tuất", "Hợi",
        ];
        // 4 CE was Giáp Tý, the first year of a cycle.
        let stem = (year - 4).rem_euclid(10) as usize;
        let branch = (year - 4).rem_euclid(12) as usize;
        format!("{} {}", STEMS[stem], BRANCHES[branch])
    }
}

/// "15/8" or "15/8 nhuận": day and month, as the station writes them.
impl fmt::Display for LunarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.day, self.month)?;
        if self.leap {
            f.write_str(" nhuận")?;
        }
        Ok(())
    }
}

/// A lunar day as a schedule names it, recurring: `15/8` (the 15th of the
/// 8th month, every year; in a year with a leap 8th month, the regular month
/// only), `15/8 nhuận` (of the leap 8th month only, in the years that have
/// one) or `15` (the 15th of every month, leap months included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LunarDay {
    pub day: u8,
    /// None: every month.
    pub month: Option<u8>,
    pub leap: bool,
}

impl LunarDay {
    /// Whether `d` is this day.
    pub fn matches(&self, d: &LunarDate) -> bool {
        d.day == self.day
            && self
                .month
                .is_none_or(|m| d.month == m && d.leap == self.leap)
    }

    /// Where this day lies in a lunar year (month, leap after regular, day),
    /// for ranges of lunar dates; an every-month day counts as month 0.
    pub fn key(&self) -> (u8, bool, u8) {
        (self.month.unwrap_or(0), self.leap, self.day)
    }

    /// Parses `D/M`, `D/M nhuận` (also written `nhuan`) or `D`; the Err is a
    /// message for the operator saying how to write it.
    pub fn parse(s: &str) -> Result<LunarDay, String> {
        let text = s.trim();
        let help = "write DAY/MONTH such as 15/8 (Rằm tháng Tám), 15/8 nhuận for the leap month, or 15 for the 15th of every month";
        let (date, leap) = match text.rsplit_once(char::is_whitespace) {
            Some((date, word)) if ["nhuận", "nhuan"].contains(&word.to_lowercase().as_str()) => {
                (date.trim_end(), true)
            }
            Some(_) => return Err(format!("`{text}` is not a lunar date; {help}")),
            None => (text, false),
        };
        let number = |p: &str, what: &str, max: u8| -> Result<u8, String> {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{text}` is not a lunar date; {help}"));
            }
            match p.parse::<u8>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "`{text}`: a lunar {what} is 1 to {max}, found {p}; {help}"
                )),
            }
        };
        let (day, month) = match date.split_once('/') {
            Some((d, m)) => (number(d, "day", 30)?, Some(number(m, "month", 12)?)),
            None => (number(date, "day", 30)?, None),
        };
        if leap && month.is_none() {
            return Err(format!(
                "`{text}`: a leap month needs its number, e.g. 15/4 nhuận"
            ));
        }
        Ok(LunarDay { day, month, leap })
    }
}

impl fmt::Display for LunarDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.day)?;
        if let Some(m) = self.month {
            write!(f, "/{m}")?;
        }
        if self.leap {
            f.write_str(" nhuận")?;
        }
        Ok(())
    }
}

// ---- the table ------------------------------------------------------------

/// One lunar month: the day number it begins on and how many days it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Month {
    start: i64,
    days: u8,
    year: i32,
    number: u8,
    leap: bool,
}

/// Every month of [`YEARS`], in order: months 11 and 12 of the year before
/// the first, then each year's months (the last years' months 11 and 12 come
/// with the run from the last solstice).
fn table() -> &'static [Month] {
    static TABLE: OnceLock<Vec<Month>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (*YEARS.start()..=YEARS.end() + 1)
            .flat_map(|y| solstice_year(y, VIETNAM))
            .collect()
    })
}

fn month_of(year: i32, number: u8, leap: bool) -> Option<&'static Month> {
    if !YEARS.contains(&year) {
        return None;
    }
    let months = table();
    months
        .binary_search_by_key(&(year, number, leap), |m| (m.year, m.number, m.leap))
        .ok()
        .map(|i| &months[i])
}

fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) + JD_OF_CE
}

fn solar_date(day: i64) -> Option<NaiveDate> {
    i32::try_from(day - JD_OF_CE)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// The months from month 11 of lunar year `y - 1` (the month of the winter
/// solstice of December `y - 1`) to the month before the next month 11, in
/// a time zone `zone` days east of UTC. Months 11 and 12 belong to year
/// `y - 1`, the others to year `y`.
fn solstice_year(y: i32, zone: f64) -> Vec<Month> {
    let first = month_11(y - 1, zone);
    let next = month_11(y, zone);
    let count = usize::try_from(next - first).unwrap_or(0);
    let starts: Vec<i64> = (first..=next).map(|k| new_moon_day(k, zone)).collect();
    // 13 months hold 12 principal terms: the first month after month 11 in
    // which the sun enters no new sector is the leap month.
    let leap = (count == 13)
        .then(|| {
            (1..count).find(|&i| sun_sector(starts[i], zone) == sun_sector(starts[i + 1], zone))
        })
        .flatten();
    (0..count)
        .map(|i| {
            let after_leap = leap.is_some_and(|l| i >= l);
            let number = (i + 10 - usize::from(after_leap)) % 12 + 1;
            let number = u8::try_from(number).expect("a month number is 1-12");
            // Months 11 and 12 (and a leap 11 or 12) come before month 1.
            let year = if number >= 11 && i < 4 { y - 1 } else { y };
            Month {
                start: starts[i],
                days: u8::try_from(starts[i + 1] - starts[i]).unwrap_or(0),
                year,
                number,
                leap: leap == Some(i),
            }
        })
        .collect()
}

/// The number of the new moon that begins month 11 of lunar year `y`: the
/// last new moon on or before the winter solstice of December `y`.
fn month_11(y: i32, zone: f64) -> i64 {
    let dec_31 = NaiveDate::from_ymd_opt(y, 12, 31).map_or(0, day_number);
    let k = ((dec_31 - JD_1900) as f64 / SYNODIC_MONTH).floor() as i64;
    // The sun at 270° or beyond (sector 9) when that new moon's day begins:
    // the solstice is past, so month 11 began a new moon earlier.
    if sun_sector(new_moon_day(k, zone), zone) >= 9 {
        k - 1
    } else {
        k
    }
}

/// The day number, in the zone, of new moon `k` (0: that of 1900-01-01).
fn new_moon_day(k: i64, zone: f64) -> i64 {
    (new_moon(k) + 0.5 + zone).floor() as i64
}

/// The 30° sector of the ecliptic (0 from the March equinox, 9 from the
/// winter solstice) the sun is in as day `day` begins in the zone.
fn sun_sector(day: i64, zone: f64) -> i64 {
    (sun_longitude(day as f64 - 0.5 - zone) / (PI / 6.0)).floor() as i64
}

/// The instant (Julian day, UT) of new moon `k` (0: that of 1900-01-01), by
/// Meeus's series for the true new moon ("Astronomical Algorithms", 2nd
/// ed., chapter 49: accurate to seconds over these centuries), brought from
/// dynamical to universal time by [`delta_t`].
fn new_moon(k: i64) -> f64 {
    // Meeus counts from the new moon of 2000-01-06, lunation 1237 from 1900's.
    let k = (k - 1237) as f64;
    let t = k / 1236.85;
    let (t2, t3, t4) = (t * t, t * t * t, t * t * t * t);
    let deg = |x: f64| x.rem_euclid(360.0).to_radians();
    let jde = 2_451_550.097_66 + 29.530_588_861 * k + 0.000_154_37 * t2 - 0.000_000_150 * t3
        + 0.000_000_000_73 * t4;
    let e = 1.0 - 0.002_516 * t - 0.000_007_4 * t2;
    let m = deg(2.553_4 + 29.105_356_70 * k - 0.000_001_4 * t2 - 0.000_000_11 * t3);
    let mp = deg(
        201.564_3 + 385.816_935_28 * k + 0.010_758_2 * t2 + 0.000_012_38 * t3 - 0.000_000_058 * t4,
    );
    let f = deg(
        160.710_8 + 390.670_502_84 * k - 0.001_611_8 * t2 - 0.000_002_27 * t3 + 0.000_000_011 * t4,
    );
    let node = deg(124.774_6 - 1.563_755_88 * k + 0.002_067_2 * t2 + 0.000_002_15 * t3);
    let periodic = [
        (-0.407_20, mp),
        (0.172_41 * e, m),
        (0.016_08, 2.0 * mp),
        (0.010_39, 2.0 * f),
        (0.007_39 * e, mp - m),
        (-0.005_14 * e, mp + m),
        (0.002_08 * e * e, 2.0 * m),
        (-0.001_11, mp - 2.0 * f),
        (-0.000_57, mp + 2.0 * f),
        (0.000_56 * e, 2.0 * mp + m),
        (-0.000_42, 3.0 * mp),
        (0.000_42 * e, m + 2.0 * f),
        (0.000_38 * e, m - 2.0 * f),
        (-0.000_24 * e, 2.0 * mp - m),
        (-0.000_17, node),
        (-0.000_07, mp + 2.0 * m),
        (0.000_04, 2.0 * mp - 2.0 * f),
        (0.000_04, 3.0 * m),
        (0.000_03, mp + m - 2.0 * f),
        (0.000_03, 2.0 * mp + 2.0 * f),
        (-0.000_03, mp + m + 2.0 * f),
        (0.000_03, mp - m + 2.0 * f),
        (-0.000_02, mp - m - 2.0 * f),
        (-0.000_02, 3.0 * mp + m),
        (0.000_02, 4.0 * mp),
    ];
    // The planets' pull: (coefficient, argument at k = 0, per lunation).
    let planetary = [
        (0.000_165, 251.88, 0.016_321),
        (0.000_164, 251.83, 26.651_886),
        (0.000_126, 349.42, 36.412_478),
        (0.000_110, 84.66, 18.206_239),
        (0.000_062, 141.74, 53.303_771),
        (0.000_060, 207.14, 2.453_732),
        (0.000_056, 154.84, 7.306_860),
        (0.000_047, 34.52, 27.261_239),
        (0.000_042, 207.19, 0.121_824),
        (0.000_040, 291.34, 1.844_379),
        (0.000_037, 161.72, 24.198_154),
        (0.000_035, 239.56, 25.513_099),
        (0.000_023, 331.55, 3.592_518),
    ];
    let correction = periodic.iter().map(|(c, x)| c * x.sin()).sum::<f64>()
        + 0.000_325 * deg(299.77 + 0.107_408 * k - 0.009_173 * t2).sin()
        + planetary
            .iter()
            .map(|(c, a, b)| c * deg(a + b * k).sin())
            .sum::<f64>();
    let jde = jde + correction;
    jde - delta_t(jde) / 86_400.0
}

/// ΔT = TT - UT in seconds at Julian day `jd`: the polynomials of Espenak
/// and Meeus ("Five Millennium Canon of Solar Eclipses", NASA 2006) for the
/// years this module covers.
fn delta_t(jd: f64) -> f64 {
    let y = 2000.0 + (jd - 2_451_544.5) / 365.2425;
    let poly = |t: f64, c: &[f64]| c.iter().rev().fold(0.0, |acc, c| acc * t + c);
    match y {
        y if y < 1860.0 => poly(
            y - 1800.0,
            &[
                13.72,
                -0.332_447,
                0.006_861_2,
                0.004_111_6,
                -0.000_374_36,
                0.000_012_127_2,
                -0.000_000_169_9,
                0.000_000_000_875,
            ],
        ),
        y if y < 1900.0 => poly(
            y - 1860.0,
            &[
                7.62,
                0.573_7,
                -0.251_754,
                0.016_806_68,
                -0.000_447_362_4,
                1.0 / 233_174.0,
            ],
        ),
        y if y < 1920.0 => poly(
            y - 1900.0,
            &[-2.79, 1.494_119, -0.059_893_9, 0.006_196_6, -0.000_197],
        ),
        y if y < 1941.0 => poly(y - 1920.0, &[21.20, 0.844_93, -0.076_100, 0.002_093_6]),
        y if y < 1961.0 => poly(y - 1950.0, &[29.07, 0.407, -1.0 / 233.0, 1.0 / 2547.0]),
        y if y < 1986.0 => poly(y - 1975.0, &[45.45, 1.067, -1.0 / 260.0, -1.0 / 718.0]),
        y if y < 2005.0 => poly(
            y - 2000.0,
            &[
                63.86,
                0.334_5,
                -0.060_374,
                0.001_727_5,
                0.000_651_814,
                0.000_023_735_99,
            ],
        ),
        y if y < 2050.0 => poly(y - 2000.0, &[62.92, 0.322_17, 0.005_589]),
        y if y < 2150.0 => {
            let u = (y - 1820.0) / 100.0;
            -20.0 + 32.0 * u * u - 0.562_8 * (2150.0 - y)
        }
        y => {
            let u = (y - 1820.0) / 100.0;
            -20.0 + 32.0 * u * u
        }
    }
}

/// The sun's apparent longitude at Julian day `jd` (UT), in radians in
/// [0, 2π): Meeus, chapter 25, to about 0.01° (a quarter of an hour of the
/// sun's motion).
fn sun_longitude(jd: f64) -> f64 {
    let t = (jd + delta_t(jd) / 86_400.0 - 2_451_545.0) / 36_525.0; // centuries from J2000
    let t2 = t * t;
    let l0 = 280.466_46 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let m = (357.529_11 + 35_999.050_29 * t - 0.000_153_7 * t2).to_radians();
    let centre = (1.914_602 - 0.004_817 * t - 0.000_014 * t2) * m.sin()
        + (0.019_993 - 0.000_101 * t) * (2.0 * m).sin()
        + 0.000_289 * (3.0 * m).sin();
    let node = (125.04 - 1_934.136 * t).to_radians();
    let apparent = l0 + centre - 0.005_69 - 0.004_78 * node.sin();
    apparent.to_radians().rem_euclid(2.0 * PI)
}

#[cfg(test)]
mod tests;
