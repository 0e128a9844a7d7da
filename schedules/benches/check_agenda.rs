//! The figures behind "a 1,000-program station is checked and planned for a
//! year in under a second": generates a realistic station (3 outputs, 12
//! zones, 1,000 programs in 10 schedule files: `at`+days, cron, seasonal
//! dates and holidays, priorities, durations, file items with lengths from
//! a table, streams, TTS, slogans) into a temporary directory, then times
//! `check_dir` and a 365-day `agenda` over it, several runs.
//!
//!     cargo bench -p loa-schedules --bench check_agenda
//!
//! Environment: LOA_BENCH_RUNS (default 7), LOA_BENCH_PROGRAMS (default
//! 1000), LOA_BENCH_DENSE=1 (most programs all year, most days: every
//! output heavily oversubscribed), LOA_BENCH_KEEP=1 keeps the generated
//! directory and prints it.
//! A plain binary (harness = false): no benchmark framework needed.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta, TimeZone};
use loa_schedules::agenda::{agenda, Forecast};
use loa_schedules::check::check_dir;
use loa_schedules::MediaProbe;

/// A small deterministic generator (xorshift64*): the same station every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    /// True with probability pct/100.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.next() as usize % v.len()]
    }
}

const OUTPUTS: &[&str] = &["main", "cho", "ben"];
/// (zone, output)
const ZONES: &[(&str, &str)] = &[
    ("thon-1", "main"),
    ("thon-2", "main"),
    ("thon-3", "main"),
    ("thon-4", "main"),
    ("thon-5", "main"),
    ("thon-6", "main"),
    ("thon-7", "main"),
    ("thon-8", "main"),
    ("cho-1", "cho"),
    ("cho-2", "cho"),
    ("ben-1", "ben"),
    ("ben-2", "ben"),
];
const BOARDS: &[&str] = &["cong-ubnd", "nha-van-hoa", "cho"];
const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CRON_DAYS: &[&str] = &["Mon-Fri", "Sat,Sun", "Mon,Wed,Fri", "Tue,Thu", "*", "Sun"];
const CATEGORIES: &[&str] = &[
    "news",
    "relay",
    "music",
    "announcement",
    "ident",
    "education",
];
const MEDIA_DIRS: &[&str] = &["ident", "music", "news", "thong-bao", "giao-duc"];
const N_MEDIA: usize = 300;

fn media_name(i: usize) -> String {
    format!("{}/ban-ghi-{i:03}.mp3", MEDIA_DIRS[i % MEDIA_DIRS.len()])
}

/// Media lengths from a table, by file name (as the tests' probes do).
struct TableProbe(HashMap<String, Duration>);

impl TableProbe {
    fn new(rng: &mut Rng) -> TableProbe {
        let mut t = HashMap::new();
        for i in 0..N_MEDIA {
            let name = media_name(i);
            let file = name.rsplit('/').next().unwrap().to_string();
            // Idents are short, news and music a few minutes, talks longer.
            let secs = match i % MEDIA_DIRS.len() {
                0 => rng.range(5, 30),
                1 => rng.range(150, 330),
                2 => rng.range(300, 900),
                _ => rng.range(60, 1200),
            };
            t.insert(file, Duration::from_secs(secs));
        }
        TableProbe(t)
    }
}

impl MediaProbe for TableProbe {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        self.0
            .get(name)
            .copied()
            .ok_or_else(|| "file not found".into())
    }
}

fn station_yaml() -> String {
    let mut s = String::from(
        "station:\n  id: bench\n  name: \"Đài truyền thanh xã Thử nghiệm\"\n  timezone: Asia/Ho_Chi_Minh\n\
         paths: { media: media, state: state }\noutputs:\n",
    );
    for (i, o) in OUTPUTS.iter().enumerate() {
        let _ = writeln!(s, "  {o}: \"device:plughw:CARD=Loa{i},DEV=0\"");
    }
    s.push_str("zones:\n");
    for (i, (z, o)) in ZONES.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {z}:\n    name: \"Khu {z}\"\n    output: {o}\n    relay: {{ preset: tasmota, topic: amp-{z}, channel: {} }}\n    preroll: 3s\n    hold: 30s",
            i % 4 + 1
        );
    }
    s.push_str("boards:\n");
    for b in BOARDS {
        let _ = writeln!(
            s,
            "  {b}: {{ name: \"Bảng {b}\", preset: awtrix, topic: awtrix_{b}, charset: ascii }}"
        );
    }
    s.push_str(
        "policy:\n  quiet_hours: \"21:30-05:00\"\n  max_session: 45m\n  volume: 0.8\n  late_start: join\n",
    );
    s
}

fn zones_yaml(rng: &mut Rng) -> String {
    match rng.range(0, 9) {
        0 | 1 => "all".into(),
        2..=5 => {
            // Some villages on the main output.
            let n = rng.range(1, 5) as usize;
            let start = rng.range(0, 7) as usize;
            let v: Vec<&str> = (0..n).map(|k| ZONES[(start + k) % 8].0).collect();
            format!("[{}]", v.join(", "))
        }
        6 | 7 => format!("[{}]", rng.pick(&["cho-1", "cho-2", "cho-1, cho-2"])),
        _ => format!(
            "[{}]",
            rng.pick(&["ben-1", "ben-2", "ben-1, ben-2", "thon-1, cho-1"])
        ),
    }
}

fn date(rng: &mut Rng, base: NaiveDate, within_days: u64) -> NaiveDate {
    base + TimeDelta::days(rng.range(0, within_days) as i64)
}

/// How often programs fire. The default mix is a large station's: most
/// programs are seasonal campaigns (a few weeks to months) or weekly; the
/// dense mix (LOA_BENCH_DENSE=1) makes most programs run all year, most
/// days, so that each output is heavily oversubscribed.
struct Mix {
    /// Percent of `at` programs with a `days` list, and of days in it.
    days_pct: u64,
    day_pct: u64,
    /// Percent of programs with a `dates` window, and its length in days.
    dates_pct: u64,
    dates_len: (u64, u64),
}

const REALISTIC: Mix = Mix {
    days_pct: 70,
    day_pct: 35,
    dates_pct: 60,
    dates_len: (14, 120),
};
const DENSE: Mix = Mix {
    days_pct: 60,
    day_pct: 50,
    dates_pct: 25,
    dates_len: (45, 200),
};

/// One program in YAML (a list item of `programs:`).
fn program_yaml(i: usize, rng: &mut Rng, mix: &Mix) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "  - id: ct-{i:04}");
    let _ = writeln!(
        s,
        "    title: \"Chương trình số {i} — Đài truyền thanh xã\""
    );
    let _ = writeln!(s, "    category: {}", rng.pick(CATEGORIES));

    // When: 05:00-20:55 local (quiet hours are 21:30-05:00).
    let hour = rng.range(5, 20);
    let minute = rng.range(0, 11) * 5;
    let kind = rng.range(0, 99);
    if kind < 60 {
        let _ = writeln!(s, "    at: \"{hour:02}:{minute:02}\"");
        if rng.chance(mix.days_pct) {
            let mut days: Vec<&str> = DAYS
                .iter()
                .copied()
                .filter(|_| rng.chance(mix.day_pct))
                .collect();
            if days.is_empty() {
                days.push(rng.pick(DAYS));
            }
            let _ = writeln!(s, "    days: [{}]", days.join(", "));
        }
    } else if kind < 85 {
        let _ = writeln!(
            s,
            "    cron: \"0 {minute} {hour} * * {}\"",
            rng.pick(CRON_DAYS)
        );
    } else if kind < 95 {
        // Twice a day, on some days.
        let h2 = rng.range(hour.max(12), 20);
        let h1 = rng.range(5, 11);
        let _ = writeln!(
            s,
            "    cron: \"0 {minute} {h1},{h2} * * {}\"",
            rng.pick(CRON_DAYS)
        );
    } else {
        // Monthly, by day of month.
        let _ = writeln!(s, "    cron: \"0 {minute} {hour} 1,15 * *\"");
    }

    // Seasonal campaigns and holidays.
    let base = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    if rng.chance(mix.dates_pct) {
        let from = date(rng, base, 300);
        let until = from + TimeDelta::days(rng.range(mix.dates_len.0, mix.dates_len.1) as i64);
        let _ = writeln!(s, "    dates: {{ from: {from}, until: {until} }}");
    }
    if rng.chance(15) {
        let n = rng.range(1, 4);
        let v: Vec<String> = (0..n).map(|_| date(rng, base, 500).to_string()).collect();
        let _ = writeln!(s, "    except: [{}]", v.join(", "));
    }

    let _ = writeln!(s, "    zones: {}", zones_yaml(rng));
    let prio = match rng.range(0, 99) {
        0..=14 => "filler",
        15..=84 => "normal",
        85..=97 => "priority",
        _ => "emergency",
    };
    let _ = writeln!(s, "    priority: {prio}");
    match rng.range(0, 9) {
        0..=1 => s.push_str("    if_busy: skip\n"),
        2 => s.push_str("    if_busy: preempt\n"),
        3..=5 => {
            let _ = writeln!(s, "    if_busy: wait {}m", rng.range(5, 30));
        }
        _ => {}
    }

    // Items: files mostly; some relays (streams need a duration), some TTS.
    let relay = rng.chance(12);
    let has_tts = !relay && rng.chance(10);
    let duration = relay || has_tts || rng.chance(55);
    if duration {
        let _ = writeln!(s, "    duration: {}m", rng.range(1, 9) * 5);
    }
    if rng.chance(10) {
        let _ = writeln!(s, "    approved_by: \"Nguyễn Văn {i}\"");
    }
    s.push_str("    items:\n");
    if relay {
        let _ = writeln!(
            s,
            "      - stream: http://relay-{}.example.invalid/live.m3u\n        fallback: [{}]",
            i % 7,
            media_name(1 + 5 * rng.range(0, 59) as usize)
        );
        return s;
    }
    for _ in 0..rng.range(1, 4) {
        match rng.range(0, 9) {
            0 => {
                let _ = writeln!(s, "      - silence: {}s", rng.range(1, 5));
            }
            1 => {
                let v: Vec<String> = (0..rng.range(2, 4))
                    .map(|_| media_name(1 + 5 * rng.range(0, 59) as usize))
                    .collect();
                let _ = writeln!(
                    s,
                    "      - playlist: [{}]\n        order: {}",
                    v.join(", "),
                    rng.pick(&["sequential", "shuffle"])
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "      - file: {}",
                    media_name(rng.range(0, N_MEDIA as u64 - 1) as usize)
                );
            }
        }
    }
    if has_tts {
        let _ = writeln!(
            s,
            "      - tts: \"Kính thưa bà con nhân dân, đây là thông báo số {i} của Ủy ban nhân dân xã.\"\n        voice: vi"
        );
    }
    s
}

fn slogans_yaml(rng: &mut Rng) -> String {
    let mut s = String::from("slogans:\n");
    for i in 0..12 {
        let _ = writeln!(
            s,
            "  - id: khau-hieu-{i}\n    boards: {}\n    text: \"Khẩu hiệu số {i}: Trọng dân, gần dân, hiểu dân\"\n    between: \"06:00-21:30\"\n    every: {}m\n    color: \"#FFD700\"",
            if i % 3 == 0 { "all".to_string() } else { format!("[{}]", rng.pick(BOARDS)) },
            rng.range(1, 4) * 5
        );
        if i % 4 == 1 {
            s.push_str("    days: [mon, tue, wed, thu, fri]\n");
        }
        if i % 5 == 2 {
            s.push_str("    dates: { from: 2026-06-01, until: 2026-11-30 }\n");
        }
    }
    s
}

/// Writes the station; returns its directory and the probe.
fn generate(programs: usize, mix: &Mix) -> (PathBuf, TableProbe) {
    let mut rng = Rng(0x10a_5eed_2026);
    let dir = std::env::temp_dir().join(format!("loa-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    std::fs::write(dir.join("station.yaml"), station_yaml()).unwrap();
    let probe = TableProbe::new(&mut rng);
    let per_file = 100;
    for f in 0..programs.div_ceil(per_file) {
        let mut s = format!("# Lịch phát, phần {f}\nprograms:\n");
        for i in f * per_file..((f + 1) * per_file).min(programs) {
            s.push_str(&program_yaml(i, &mut rng, mix));
        }
        std::fs::write(dir.join(format!("schedules/{f:02}-lich.yaml")), s).unwrap();
    }
    std::fs::write(
        dir.join("schedules/99-khau-hieu.yaml"),
        slogans_yaml(&mut rng),
    )
    .unwrap();
    (dir, probe)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn stats(v: &[Duration]) -> (Duration, Duration) {
    let mut s = v.to_vec();
    s.sort();
    (s[0], s[s.len() / 2])
}

fn main() {
    // `cargo bench` passes --bench; a filter argument that is not ours is ignored.
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let runs = env("LOA_BENCH_RUNS", 7).max(1);
    let n_programs = env("LOA_BENCH_PROGRAMS", 1000).max(1);

    let dense = std::env::var_os("LOA_BENCH_DENSE").is_some_and(|v| v != "0");
    let (dir, probe) = generate(n_programs, if dense { &DENSE } else { &REALISTIC });
    let bytes: u64 = std::fs::read_dir(dir.join("schedules"))
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "station ({} mix): {n_programs} programs in {} schedule files ({} KiB), {} zones on {} outputs, {} media lengths; {}",
        if dense { "dense" } else { "realistic" },
        n_programs.div_ceil(100) + 1,
        bytes / 1024,
        ZONES.len(),
        OUTPUTS.len(),
        N_MEDIA,
        dir.display()
    );

    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let from = tz
        .from_local_datetime(&today.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let to = from + TimeDelta::days(365);

    let (mut t_check, mut t_agenda, mut t_total) = (Vec::new(), Vec::new(), Vec::new());
    let mut summary = None;
    for run in 0..runs {
        let t0 = Instant::now();
        let report = check_dir(&dir, &probe, Some(today));
        let t1 = Instant::now();
        let Some(config) = report.config.as_ref() else {
            for e in report.diagnostics.errors.iter().take(20) {
                eprintln!("{e}");
            }
            panic!(
                "the generated station has {} errors",
                report.diagnostics.errors.len()
            );
        };
        let entries = agenda(config, &report.lengths, from, to);
        let t2 = Instant::now();
        t_check.push(t1 - t0);
        t_agenda.push(t2 - t1);
        t_total.push(t2 - t0);
        println!(
            "run {}: check_dir {}, agenda 365 d {}, total {}",
            run + 1,
            ms(t1 - t0),
            ms(t2 - t1),
            ms(t2 - t0)
        );
        if summary.is_none() {
            let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
            for e in &entries {
                *outcomes.entry(e.forecast.as_str()).or_default() += 1;
            }
            let airs = outcomes.get(Forecast::Airs.as_str()).copied().unwrap_or(0);
            summary = Some(format!(
                "programs loaded: {}, slogans: {}, warnings: {}, agenda entries (365 d): {} ({} airs; {})",
                config.programs.len(),
                config.slogans.len(),
                report.diagnostics.warnings.len(),
                entries.len(),
                airs,
                outcomes
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        std::hint::black_box(entries);
    }
    println!("{}", summary.unwrap_or_default());
    for (name, v) in [
        ("check_dir", &t_check),
        ("agenda (365 days)", &t_agenda),
        ("check_dir + agenda", &t_total),
    ] {
        let (min, median) = stats(v);
        println!(
            "{name:<20} min {:>10}  median {:>10}  ({runs} runs)",
            ms(min),
            ms(median)
        );
    }
    let (_, median) = stats(&t_total);
    println!(
        "target: check_dir + 365-day agenda under 1 s: {}",
        if median < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    if std::env::var_os("LOA_BENCH_KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
