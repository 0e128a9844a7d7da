//! `loa agenda`: what will air when.

use std::process::ExitCode;

use anyhow::bail;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use loa_schedules::agenda;
use loa_schedules::diag::suggestion;
use loa_schedules::occurrence::resolve_local;
use loa_schedules::Config;

use crate::cli::{AgendaArgs, Format, Point};
use crate::probe::AudioProbe;

pub fn run(args: &AgendaArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.config.config;
    let report = loa_schedules::check::check_dir(dir, &AudioProbe, None);
    let Some(mut config) = report.config else {
        for e in &report.diagnostics.errors {
            eprintln!("{e}");
        }
        bail!(
            "{}: the configuration has errors (run `loa check`); no agenda",
            dir.display()
        );
    };
    let tz = config.station.timezone;
    let (from, to) = period(args, tz)?;
    for (option, ids) in [("--exclude", &args.exclude), ("--program", &args.program)] {
        known_programs(&config, option, ids)?;
    }
    // Left out before the rules run: what airs in their place shows as it would.
    config.programs.retain(|p| !args.exclude.contains(&p.id));
    let mut entries = agenda::agenda(&config, &report.lengths, from, to);
    if !args.program.is_empty() {
        entries.retain(|e| args.program.contains(&config.programs[e.program].id));
    }
    match args.format {
        Format::Json => {
            let v: Vec<_> = entries.iter().map(|e| e.to_json(&config)).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => {
            println!(
                "{} — {} to {} ({})",
                config.station.name,
                from.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                to.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
                tz
            );
            print!("{}", agenda::format_text(&config, &entries));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses an id in `ids` that names no program of `config`.
fn known_programs(config: &Config, option: &str, ids: &[String]) -> anyhow::Result<()> {
    let known = || config.programs.iter().map(|p| p.id.as_str());
    for id in ids {
        if !known().any(|k| k == id) {
            bail!(
                "{option}: no program has the id `{id}`{} (the ids are the `id:` of each program \
                 in schedules/*.yaml)",
                suggestion(id, known())
            );
        }
    }
    Ok(())
}

/// The period asked for, as UTC instants.
fn period(args: &AgendaArgs, tz: Tz) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let midnight = |d: NaiveDate| resolve_local(tz, d.and_time(NaiveTime::MIN)).with_timezone(&Utc);
    if let (Some(f), Some(t)) = (args.from, args.to) {
        let from = match f {
            Point::Date(d) => midnight(d),
            Point::Time(t) => resolve_local(tz, t).with_timezone(&Utc),
        };
        // A bare date as the end means the end of that day.
        let to = match t {
            Point::Date(d) => midnight(d + TimeDelta::days(1)),
            Point::Time(t) => resolve_local(tz, t).with_timezone(&Utc),
        };
        if to <= from {
            bail!("--to is not after --from");
        }
        return Ok((from, to));
    }
    let date = args
        .date
        .unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive());
    Ok((midnight(date), midnight(date + TimeDelta::days(1))))
}
