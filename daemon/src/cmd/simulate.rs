//! `loa simulate`: the real scheduler on a virtual clock with simulated
//! decks that take each piece's probed length, as fast as possible, writing
//! airtime rows to a separate database, so an operator can preview a
//! month's report and tests can run a year.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use loa_schedules::occurrence::resolve_local;
use loa_schedules::Config;

use crate::probe::{caching_probe, Probe};
use crate::runtime::airtime::AirtimeLog;
use crate::runtime::clock::{from_system, to_system, Clock, VirtualClock};
use crate::runtime::engine::{Engine, SimEngine, VirtualEngine};
use crate::runtime::scheduler::{Scheduler, Stats};

/// Arguments of `loa simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// First day, YYYY-MM-DD (station time zone).
    #[arg(long, value_name = "D", value_parser = crate::cli::parse_date)]
    pub from: NaiveDate,
    /// How many days.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
    /// Where the rows go (never the live log).
    #[arg(long, value_name = "PATH", default_value = "simulate.sqlite")]
    pub db: PathBuf,
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let report = loa_schedules::check::check_dir(
        &args.config.config,
        &crate::probe::AudioProbe,
        Some(args.from),
    );
    let Some(config) = report.config else {
        for e in &report.diagnostics.errors {
            eprintln!("{e}");
        }
        bail!(
            "{}: the configuration has errors (run `loa check`)",
            args.config.config.display()
        );
    };
    let live = crate::runtime::airtime::log_path(&config.station);
    if same_file(&live, &args.db) {
        bail!(
            "--db {} is the live airtime log; simulate into another file",
            args.db.display()
        );
    }
    if args.db.exists() {
        std::fs::remove_file(&args.db)
            .with_context(|| format!("cannot replace {}", args.db.display()))?;
        let _ = std::fs::remove_file(args.db.with_extension("sqlite-wal"));
        let _ = std::fs::remove_file(args.db.with_extension("sqlite-shm"));
    }
    let tz = config.station.timezone;
    let from = resolve_local(tz, args.from.and_time(NaiveTime::MIN)).with_timezone(&Utc);
    let to = resolve_local(
        tz,
        (args.from + TimeDelta::days(i64::from(args.days))).and_time(NaiveTime::MIN),
    )
    .with_timezone(&Utc);
    let started = std::time::Instant::now();
    let stats = simulate(Arc::new(config), report.lengths, from, to, &args.db)?;
    println!(
        "simulated {} day{} from {} in {:.2} s: {} occurrences, {} airtime rows in {}",
        args.days,
        if args.days == 1 { "" } else { "s" },
        args.from,
        started.elapsed().as_secs_f64(),
        stats.fired,
        stats.rows,
        args.db.display()
    );
    println!(
        "see it with: loa report --db {} --from {} --to {}",
        args.db.display(),
        args.from,
        args.from + TimeDelta::days(i64::from(args.days) - 1)
    );
    Ok(ExitCode::SUCCESS)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Runs the scheduler over [from, to) on the virtual clock; rows go to `db`.
pub fn simulate(
    config: Arc<Config>,
    lengths: loa_schedules::agenda::Lengths,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    db: &Path,
) -> anyhow::Result<Stats> {
    let (mut log, _) = AirtimeLog::open(db, &config.station.id, config.station.timezone)?;
    log.set_station_name(&config.station.name)?;
    log.begin_batch()?;
    let clock = VirtualClock::new(from);
    // One cache for the simulated decks and the scheduler: each file is probed once.
    let probe = std::rc::Rc::new(caching_probe());
    let shared = |p: &std::rc::Rc<Probe>| {
        let p = p.clone();
        Box::new(move |path: &Path| p(path)) as Probe
    };
    let engine = SimEngine::new(
        config.station.outputs.len(),
        to_system(from),
        shared(&probe),
    );
    let mut s = Scheduler::new(config, lengths, engine, log, shared(&probe));
    s.save_progress = false;
    run_virtual(&mut s, &clock, to);
    // Let what airs at the end finish (no new occurrences fire).
    let tail = to + TimeDelta::days(1);
    while let Some(t) = s
        .engine
        .next_event()
        .map(from_system)
        .filter(|t| *t <= tail)
    {
        clock.advance_to(t);
        s.engine.advance_to(to_system(t));
        let ev = s.engine.take_events();
        s.handle(ev);
    }
    let end = clock.now();
    s.stop_all("end of simulation");
    let ev = s.engine.take_events();
    s.handle(ev);
    s.close_rows(end, "end of simulation");
    s.log().commit_batch()?;
    Ok(s.stats.clone())
}

/// The virtual-time loop: jump to the next thing that happens, until `to`.
pub fn run_virtual<E: VirtualEngine>(
    s: &mut Scheduler<E>,
    clock: &VirtualClock,
    to: DateTime<Utc>,
) {
    s.tick(clock.now(), clock.mono());
    loop {
        let ev = s.engine.take_events();
        s.handle(ev);
        let next = [s.next_wakeup(), s.engine.next_event().map(from_system)]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next.filter(|t| *t < to) else {
            break;
        };
        let next = next.max(clock.now());
        clock.advance_to(next);
        s.engine.advance_to(to_system(next));
        let ev = s.engine.take_events();
        s.handle(ev);
        s.tick(clock.now(), clock.mono());
    }
    clock.advance_to(to);
    s.engine.advance_to(to_system(to));
    let ev = s.engine.take_events();
    s.handle(ev);
}
