//! The figures behind the lunar calendar: how long its table of months
//! takes to build (once per process, on first use), and how long a
//! conversion takes each way afterwards.
//!
//!     cargo bench -p loa-schedules --bench lunar
//!
//! A plain binary (harness = false): no benchmark framework needed.

use std::hint::black_box;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use loa_schedules::lunar::LunarDate;

fn main() {
    let start = Instant::now();
    let first = LunarDate::from_solar(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    println!(
        "table of months {}-{}: built in {:.2} ms (first conversion)",
        loa_schedules::lunar::YEARS.start(),
        loa_schedules::lunar::YEARS.end(),
        start.elapsed().as_secs_f64() * 1e3
    );
    black_box(first);

    let base = NaiveDate::from_ymd_opt(1900, 1, 31).unwrap();
    let days = 73_385u64; // 1900-01-31 (Tết) to 2100-12-31
    let runs = 5;
    let start = Instant::now();
    let mut lunar = Vec::with_capacity(days as usize);
    for run in 0..runs {
        lunar.clear();
        for i in 0..days {
            let d = base + Days::new(i);
            lunar.push(black_box(LunarDate::from_solar(black_box(d))).expect("covered"));
        }
        black_box(run);
    }
    let per = start.elapsed().as_secs_f64() / (runs * days) as f64;
    println!(
        "solar -> lunar: {:.0} ns a date ({days} dates x {runs})",
        per * 1e9
    );

    let start = Instant::now();
    for _ in 0..runs {
        for l in &lunar {
            black_box(black_box(l).to_solar());
        }
    }
    let per = start.elapsed().as_secs_f64() / (runs * days) as f64;
    println!("lunar -> solar: {:.0} ns a date", per * 1e9);
}
