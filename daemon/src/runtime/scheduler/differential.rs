//! The differential test of SPEC section 4: for random stations and
//! schedules, the day `loa agenda` predicts is the day `loa simulate` logs.
//!
//! Each case draws (from a seeded `fastrand`) a station of 2-3 outputs and
//! 3-4 zones spread over them (zones on one output share its audio),
//! optional quiet hours, and 3-8 programs of every priority, `if_busy`
//! (skip, wait Ns, preempt), with or without a `duration` window, whose
//! items are silences and tones (exact lengths, no files), crowded into a
//! few morning hours so that they collide. Then, for one random day:
//! - the agenda: `agenda::agenda(config, lengths, day)`;
//! - the log: `cmd::simulate::simulate` (the real scheduler on the virtual
//!   clock with `SimEngine`) over the same day, its airtime rows read back;
//!
//! and compares them occurrence by occurrence (program id, scheduled
//! instant). How an agenda entry maps to the rows of its occurrence:
//! - `skipped`: no row of the occurrence aired (aired_ms 0 everywhere; the
//!   rows say `skipped`).
//! - `airs`, `delayed`, `cut`, `preempted`: some row aired. The first
//!   aired row starts at the entry's `start` (the scheduled second for
//!   `airs`; later for `delayed`, or for `cut` after a wait). The last
//!   aired row ends the occurrence: it is `completed` for `airs` and
//!   `delayed`, `cut` for `cut`, and for `preempted` `preempted` when the
//!   entry says it is not resumed, `completed` or `cut` (its window closed
//!   after it resumed) when it is. Its `ended_at` is the entry's `end`,
//!   except for one preempted and never resumed: its row stays open, paused
//!   beneath the higher item, until its window closes, so only its outcome
//!   is compared.
//!
//! Differences found, and what SPEC section 4 decided (settled: the seeds
//! in [`SETTLED`] disagreed before and must agree now, in `make test`):
//! 1. Items ending at the instant the window closes: the agenda said
//!    `airs`, the log `cut` (SimEngine cut before the piece's own end at the
//!    same instant). SPEC 3, Windows: the program ends when its items end or
//!    the window closes, whichever is first: `completed`. SimEngine changed.
//! 2. A piece ending at the instant a higher item starts: the log paused it
//!    with nothing left and "resumed" it after the higher one. Nothing airs
//!    any more to preempt (SPEC 4.2). SimEngine changed.
//! 3. A window closing at the instant a higher item starts: the log said
//!    `preempted`, the agenda `cut`. It aired until its window closed: cut
//!    (SPEC 3, Windows). SimEngine changed.
//! 4. A pause beneath a higher item carrying a program past quiet hours'
//!    start: the agenda let it resume and run on; the scheduler ends it
//!    there. SPEC 4.6: nothing but emergency sounds in quiet hours. The
//!    agenda changed: quiet hours' start is a hard end, as a window's is.
//! 5. `if_busy: wait D` after first waiting beneath a higher level: the
//!    agenda's deadline became the window's end; the scheduler's is the
//!    scheduled second + D. SPEC 3 (`wait DURATION`; waiting uses up the
//!    window, never moves it). The agenda changed.
//! 6. A waiter whose blocker ends just before another equal occurrence's
//!    second: the scheduler gave the output to the one still ahead of its
//!    second (on its deck since its lead time) and kept the waiter waiting;
//!    the agenda started the waiter, then the newcomer followed its
//!    `if_busy`. SPEC 4.3: the one airing keeps airing, the newcomer follows
//!    its `if_busy`. The scheduler changed (waiters start before deferred
//!    occurrences are decided); at the very same instant the occurrence at
//!    its scheduled second goes first (SPEC 4.1), which the agenda changed.
//! 7. Nested pauses: a program paused beneath an equal one did not move when
//!    a higher item then paused that one. SPEC 4.2: it resumes when what
//!    holds its output ends. The agenda changed.
//! 8. An occurrence preempted at the instant it was to start: the agenda
//!    said `preempted` (0 s aired), the decks hold it and start it from its
//!    beginning when the newcomer ends. SPEC 3, Windows: a program that
//!    waited starts from its beginning. The agenda changed (`delayed`).
//! 9. (Was O1.) A lower program held beneath a higher one sounded for an
//!    instant each time the higher one passed to its next item: the deck
//!    got the next item only once the one before had ended (on a real deck,
//!    for as long as preparing it took). SPEC 4.2 keeps it paused until the
//!    higher program ends. The scheduler changed: a program's next item is
//!    given to the decks ahead, to follow the one airing (`Item::after`),
//!    and takes its place on the sample it ends ([`SETTLED_ITEMS`]).
//! 10. A window closing as an item ends, with items left: the log's last
//!     aired row is `completed` and the rest `skipped` (window closed); the
//!     agenda says `cut`. Both are right: the comparison reads such rows as
//!     the occurrence cut.
//! 11. A window closing at the instant the item holding the output above it
//!     ends: SimEngine said `cut` (it looked at the deck after that
//!     instant's natural ends); a real deck decides a hard end on what aired
//!     until then, and it was held beneath: `preempted`, never resumed
//!     (SPEC 4.2). SimEngine changed.
//! 12. A higher item taking the output as a program's item ends: its next
//!     item never airs (rows `skipped` when the window closes later, or
//!     `preempted` at 0 ms when it started as the other took over); the
//!     agenda says `preempted`, not resumed. Both are right: the comparison
//!     reads such rows so.
//!
//! What used to be open (one shifted timeline a program, decided in a fixed
//! order) is settled by the agenda's model of the scheduler and its decks
//! (`loa_schedules::agenda::timeline`): the order at one instant (lead-time
//! submissions, then waiters, then deferred occurrences), one timeline a
//! program that follows its first output while it airs per output on the
//! others (SPEC 4.2), item by item (on an output where it runs ahead it
//! stops after the item given ahead and goes on when its first output's
//! item ends), the newest among equals released first, and what is left to
//! play through nested pauses. Of 300 cases of the whole domain ([`CASES`]
//! from [`SEED`], in `make test`) none disagrees, nor of 5,000 (`make
//! differential`) or 20,000 (from seed 1); before the model 68 of the 300
//! did (one output and one item: 3; up to three items: 15; two outputs:
//! 35; three: 43).
//!
//! `make test` replays [`SETTLED`] and [`SETTLED_ITEMS`] and runs [`CASES`]
//! cases of the whole domain from [`SEED`]; `make differential` runs more
//! (`LOA_DIFF_CASES` and `LOA_DIFF_SEED` say how many, from where;
//! `LOA_DIFF_OUTPUTS=1`: one output, one item a program, or
//! `LOA_DIFF_ITEMS` items; any other number: that many outputs;
//! `LOA_DIFF_SHOW`: how many disagreeing cases to print). Case `i`
//! uses seed `SEED + i`: a failing case is replayed alone with
//! `LOA_DIFF_SEED=<its seed> LOA_DIFF_CASES=1`. A mismatch prints the seed,
//! the station and schedule as YAML, and both sides.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc};
use loa_schedules::agenda::{self, Entry, Forecast};
use loa_schedules::occurrence::resolve_local;
use loa_schedules::MediaProbe;

const SEED: u64 = 0x10a_5eed;
const CASES: u64 = 300;

struct NoFiles;
impl MediaProbe for NoFiles {
    fn length(&self, p: &Path) -> Result<Duration, String> {
        Err(format!("{}: no files in this test", p.display()))
    }
}

/// One generated case: the files and the day.
struct Case {
    seed: u64,
    station: String,
    schedule: String,
    day: NaiveDate,
}

fn hms(s: u32) -> String {
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// What the generator may draw: the whole domain, or a part of it.
#[derive(Clone, Copy, Debug)]
struct Domain {
    /// Outputs (0: 2 or 3 at random).
    outputs: u32,
    /// At most this many items a program.
    items: u32,
}

impl Domain {
    const WHOLE: Domain = Domain {
        outputs: 0,
        items: 3,
    };
    /// One output, one item a program.
    const ONE_OUTPUT_ONE_ITEM: Domain = Domain {
        outputs: 1,
        items: 1,
    };
}

fn generate(seed: u64, domain: Domain) -> Case {
    let mut rng = fastrand::Rng::with_seed(seed);
    let outputs = match domain.outputs {
        0 => rng.u32(2..=3),
        n => n,
    };
    let zones = rng.u32(3..=4);
    let mut station = String::from(
        "station:\n  id: diff\n  name: diff\n  timezone: Asia/Ho_Chi_Minh\n\
         paths: { media: media, state: state }\noutputs:\n",
    );
    for o in 0..outputs {
        let _ = writeln!(station, "  o{o}: \"null\"");
    }
    station.push_str("zones:\n");
    for z in 0..zones {
        // Every output has a zone; the others land anywhere.
        let o = if z < outputs { z } else { rng.u32(0..outputs) };
        let _ = writeln!(station, "  z{z}: {{ output: o{o}, preroll: 0s }}");
    }
    // Programs crowd into 06:00-09:00; quiet hours, when there are some,
    // start inside that band (programs run into them) and end before it.
    let band = (6 * 3600, 9 * 3600);
    let quiet = rng
        .bool()
        .then(|| (rng.u32(7 * 3600 / 60..9 * 3600 / 60) * 60, 5 * 3600));
    station.push_str("policy:\n  late_start: join\n");
    if let Some((qs, qe)) = quiet {
        let _ = writeln!(
            station,
            "  quiet_hours: \"{}-{}\"",
            &hms(qs)[..5],
            &hms(qe)[..5]
        );
    }
    let in_quiet = |t: u32| quiet.is_some_and(|(qs, _)| t >= qs);

    let mut schedule = String::from("programs:\n");
    let priorities = ["filler", "normal", "priority", "emergency"];
    let mut taken = std::collections::BTreeSet::new();
    for i in 0..rng.u32(3..=8) {
        let priority = priorities[rng.usize(0..4)];
        // Times on the half minute; none starts in quiet hours but emergency
        // (loa check refuses that), and no two at the same second.
        let at = loop {
            let t = rng.u32(band.0 / 30..band.1 / 30) * 30;
            if (priority == "emergency" || !in_quiet(t)) && taken.insert(t) {
                break t;
            }
        };
        let zone_list = if rng.u8(0..4) == 0 {
            "all".to_string()
        } else {
            let mut zs: Vec<String> = (0..zones)
                .filter(|_| rng.bool())
                .map(|z| format!("z{z}"))
                .collect();
            if zs.is_empty() {
                zs.push(format!("z{}", rng.u32(0..zones)));
            }
            format!("[{}]", zs.join(", "))
        };
        let if_busy = match rng.u8(0..3) {
            0 => "skip".to_string(),
            1 => format!("wait {}s", rng.u32(1..=30) * 30),
            _ => "preempt".to_string(),
        };
        let _ = writeln!(
            schedule,
            "  - id: p{i}\n    title: P{i}\n    at: \"{}\"\n    zones: {zone_list}\n    priority: {priority}\n    if_busy: {if_busy}",
            hms(at)
        );
        if rng.bool() {
            let _ = writeln!(schedule, "    duration: {}s", rng.u32(2..=40) * 60);
        }
        schedule.push_str("    items:\n");
        for _ in 0..rng.u32(1..=domain.items) {
            let len = rng.u32(1..=30) * 30;
            if rng.bool() {
                let _ = writeln!(schedule, "      - silence: {len}s");
            } else {
                let _ = writeln!(schedule, "      - tone: {{ hz: 440, for: {len}s }}");
            }
        }
    }
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + TimeDelta::days(rng.i64(0..730));
    Case {
        seed,
        station,
        schedule,
        day,
    }
}

/// What happened to one occurrence, in the terms both sides can say.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Skipped,
    Aired {
        start: DateTime<FixedOffset>,
        /// None: not compared (an occurrence preempted and never resumed:
        /// its row stays open, paused, until its window closes).
        end: Option<DateTime<FixedOffset>>,
        /// The last aired row's outcome (several allowed on the agenda's side).
        last: Vec<&'static str>,
    },
}

fn expected(e: &Entry) -> Seen {
    let start = e.start.fixed_offset();
    let mut end = Some(e.end.expect("items of known length").fixed_offset());
    let last = match e.forecast {
        Forecast::Skipped => return Seen::Skipped,
        Forecast::Airs | Forecast::Delayed => vec!["completed"],
        Forecast::Cut => vec!["cut"],
        Forecast::Preempted
            if e.reason
                .as_deref()
                .is_some_and(|r| r.contains("not resumed")) =>
        {
            end = None;
            vec!["preempted"]
        }
        Forecast::Preempted => vec!["completed", "cut"],
    };
    Seen::Aired { start, end, last }
}

#[derive(Debug)]
struct Row {
    program: String,
    scheduled: String,
    source: String,
    started: DateTime<FixedOffset>,
    ended: Option<DateTime<FixedOffset>>,
    aired_ms: i64,
    outcome: String,
    detail: Option<String>,
}

fn observed(rows: &[&Row]) -> Seen {
    let aired: Vec<&&Row> = rows.iter().filter(|r| r.aired_ms > 0).collect();
    let Some(first) = aired.iter().min_by_key(|r| r.started) else {
        return Seen::Skipped;
    };
    let last = aired.iter().max_by_key(|r| r.ended).unwrap();
    let mut outcome: &'static str = match last.outcome.as_str() {
        "completed" => "completed",
        "cut" => "cut",
        "preempted" => "preempted",
        _ => "other",
    };
    // Items left after the last one aired say `skipped` (window closed):
    // closed as that item ended, the occurrence was cut; closed later, an
    // item that took the output as that one ended held the rest beneath it
    // until then (or the next item started as it took over, 0 ms, and says
    // `preempted`): preempted, not resumed.
    let ended = last.ended.unwrap_or(last.started);
    if outcome == "completed" {
        let rest: Vec<&&Row> = rows
            .iter()
            .filter(|r| r.aired_ms == 0 && r.started >= ended)
            .filter(|r| r.outcome == "skipped" || r.outcome == "preempted")
            .collect();
        if rest
            .iter()
            .any(|r| r.outcome == "preempted" || r.started > ended)
        {
            outcome = "preempted";
        } else if !rest.is_empty() {
            outcome = "cut";
        }
    }
    let end = (outcome != "preempted").then(|| last.ended.unwrap_or(last.started));
    Seen::Aired {
        start: first.started,
        end,
        last: vec![outcome],
    }
}

fn agrees(want: &Seen, got: &Seen) -> bool {
    match (want, got) {
        (Seen::Skipped, Seen::Skipped) => true,
        (
            Seen::Aired { start, end, last },
            Seen::Aired {
                start: s,
                end: e,
                last: l,
            },
        ) => start == s && (end.is_none() || end == e) && last.contains(&l[0]),
        _ => false,
    }
}

/// Runs one case: None when both sides agree, else what to print.
fn run_case(case: &Case) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("schedules")).unwrap();
    std::fs::write(dir.path().join("station.yaml"), &case.station).unwrap();
    std::fs::write(dir.path().join("schedules/a.yaml"), &case.schedule).unwrap();
    let report = loa_schedules::check::check_dir(dir.path(), &NoFiles, None);
    let Some(config) = report.config else {
        panic!(
            "seed {}: the generator wrote an invalid station: {:#?}\n{}\n{}",
            case.seed, report.diagnostics.errors, case.station, case.schedule
        );
    };
    let tz = config.station.timezone;
    let from = resolve_local(tz, case.day.and_time(NaiveTime::MIN)).with_timezone(&Utc);
    let to = from + TimeDelta::days(1);
    let entries = agenda::agenda(&config, &report.lengths, from, to);
    let config = Arc::new(config);
    let db = dir.path().join("sim.sqlite");
    crate::cmd::simulate::simulate(config.clone(), report.lengths, from, to, &db).unwrap();
    let rows = read_rows(&db);

    let mut by_occurrence: BTreeMap<(String, DateTime<FixedOffset>), Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        let t = DateTime::parse_from_rfc3339(&r.scheduled).unwrap();
        by_occurrence
            .entry((r.program.clone(), t))
            .or_default()
            .push(r);
    }
    let mut out = String::new();
    for e in &entries {
        let id = &config.programs[e.program].id;
        let key = (id.clone(), e.scheduled.fixed_offset());
        let rows = by_occurrence.remove(&key).unwrap_or_default();
        let (want, got) = (expected(e), observed(&rows));
        if !agrees(&want, &got) {
            let _ = writeln!(
                out,
                "{id} at {}:\n  agenda: {} {}-{} {}\n  want {want:?}\n  got  {got:?}",
                e.scheduled.format("%H:%M:%S"),
                e.forecast.as_str(),
                e.start.format("%H:%M:%S"),
                e.end
                    .map_or("?".into(), |t| t.format("%H:%M:%S").to_string()),
                e.reason.as_deref().unwrap_or(""),
            );
            for r in rows {
                let _ = writeln!(
                    out,
                    "    row {} {}-{} aired {} ms {} {}",
                    r.source,
                    r.started.format("%H:%M:%S%.3f"),
                    r.ended
                        .map_or("?".into(), |t| t.format("%H:%M:%S%.3f").to_string()),
                    r.aired_ms,
                    r.outcome,
                    r.detail.as_deref().unwrap_or("")
                );
            }
        }
    }
    for ((id, t), _) in by_occurrence {
        let _ = writeln!(out, "{id} at {t}: rows, but no agenda entry");
    }
    if out.is_empty() {
        return None;
    }
    let mut all = String::new();
    for e in &entries {
        let _ = writeln!(all, "    {}", e.to_json(&config));
    }
    Some(format!(
        "seed {} (LOA_DIFF_SEED={} LOA_DIFF_CASES=1), day {}\n--- station.yaml\n{}--- schedules/a.yaml\n{}--- differences\n{out}--- the agenda\n{all}",
        case.seed, case.seed, case.day, case.station, case.schedule
    ))
}

fn read_rows(db: &Path) -> Vec<Row> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare(
            "SELECT program_id, scheduled_at, source, started_at, ended_at, aired_ms, outcome, detail
             FROM airtime ORDER BY id",
        )
        .unwrap();
    let time = |s: String| DateTime::parse_from_rfc3339(&s).unwrap();
    st.query_map([], |r| {
        Ok(Row {
            program: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            scheduled: r.get(1)?,
            source: r.get(2)?,
            started: time(r.get(3)?),
            ended: r.get::<_, Option<String>>(4)?.map(time),
            aired_ms: r.get(5)?,
            outcome: r.get(6)?,
            detail: r.get(7)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `cases` cases from `seed` in `domain`: the seeds that disagree.
fn run(seed: u64, cases: u64, domain: Domain) -> Vec<u64> {
    let shown = env("LOA_DIFF_SHOW", 3);
    let started = Instant::now();
    let mut failed = Vec::new();
    for i in 0..cases {
        let case = generate(seed.wrapping_add(i), domain);
        if let Some(report) = run_case(&case) {
            if (failed.len() as u64) < shown {
                eprintln!("{report}");
            }
            failed.push(case.seed);
        }
    }
    eprintln!(
        "differential: {cases} cases from seed {seed} ({domain:?}) in {:.2} s, {} disagree",
        started.elapsed().as_secs_f64(),
        failed.len()
    );
    failed
}

/// Seeds of one output and up to three items a program that disagreed
/// before difference 9 was settled (the program's next item given ahead).
const SETTLED_ITEMS: [u64; 16] = [
    17456881, 17456890, 17456902, 17456905, 17456917, 17456921, 17456922, 17456923, 17456926,
    17456927, 17456935, 17456943, 17456944, 17456945, 17456950, 17456953,
];

/// Seeds whose agenda and log disagreed before the differences listed in
/// the module's doc were settled (one output, one item a program): each
/// must agree from now on.
const SETTLED: [u64; 37] = [
    17456882, 17456886, 17456919, 17456921, 17456923, 17456934, 17456935, 17456947, 17456950,
    17456953, 17456964, 17456985, 17456986, 17456993, 17456996, 17456999, 17457008, 17457017,
    17457022, 17457033, 17457054, 17457057, 17457063, 17457069, 17457073, 17457085, 17457092,
    17457110, 17457115, 17457122, 17457136, 17457142, 17457145, 17457158, 17457162, 17457174,
    17457176,
];

#[test]
fn settled_differences_stay_settled() {
    let failed: Vec<u64> = SETTLED
        .iter()
        .flat_map(|&seed| run(seed, 1, Domain::ONE_OUTPUT_ONE_ITEM))
        .collect();
    assert!(failed.is_empty(), "these cases disagree again: {failed:?}");
    let three_items = Domain {
        outputs: 1,
        items: 3,
    };
    let failed: Vec<u64> = SETTLED_ITEMS
        .iter()
        .flat_map(|&seed| run(seed, 1, three_items))
        .collect();
    assert!(failed.is_empty(), "these cases disagree again: {failed:?}");
}

/// The whole domain: [`CASES`] cases from [`SEED`] in `make test`,
/// `LOA_DIFF_CASES` cases from `LOA_DIFF_SEED` in `make differential`.
#[test]
fn the_agenda_of_a_day_is_what_simulate_logs() {
    let seed = env("LOA_DIFF_SEED", SEED);
    let cases = env("LOA_DIFF_CASES", CASES);
    let domain = match env("LOA_DIFF_OUTPUTS", 0) {
        0 => Domain::WHOLE,
        n => Domain {
            outputs: n as u32,
            items: env("LOA_DIFF_ITEMS", 1) as u32,
        },
    };
    let failed = run(seed, cases, domain);
    assert!(
        failed.is_empty(),
        "{} of {cases} cases disagree; seeds {:?}",
        failed.len(),
        &failed[..failed.len().min(20)]
    );
}
