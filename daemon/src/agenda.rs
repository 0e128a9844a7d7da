//! `loa agenda`: what will air when.

use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use loa_schedules::agenda;
use loa_schedules::occurrence::resolve_local;

use crate::cli::{AgendaArgs, Format};
use crate::probe::AudioProbe;

pub fn run(args: &AgendaArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.config.config;
    let report = loa_schedules::check::check_dir(dir, &AudioProbe, None);
    let Some(config) = report.config else {
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
    let entries = agenda::agenda(&config, &report.lengths, from, to);
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

/// The period asked for, as UTC instants.
fn period(args: &AgendaArgs, tz: Tz) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let day = |d: NaiveDate| {
        resolve_local(tz, d.and_hms_opt(0, 0, 0).expect("midnight")).with_timezone(&Utc)
    };
    if let (Some(f), Some(t)) = (&args.from, &args.to) {
        let from = parse_point(f, tz, false).with_context(|| format!("--from {f}"))?;
        let to = parse_point(t, tz, true).with_context(|| format!("--to {t}"))?;
        if to <= from {
            bail!("--to {t} is not after --from {f}");
        }
        return Ok((from, to));
    }
    let date = match &args.date {
        Some(d) => parse_date(d).with_context(|| format!("--date {d}"))?,
        None => Utc::now().with_timezone(&tz).date_naive(),
    };
    Ok((day(date), day(date + TimeDelta::days(1))))
}

fn parse_date(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .with_context(|| "not a date; write YYYY-MM-DD".to_string())
}

/// YYYY-MM-DD[THH:MM[:SS]] in the station's zone; a bare date as an end
/// means the end of that day.
fn parse_point(s: &str, tz: Tz, is_end: bool) -> anyhow::Result<DateTime<Utc>> {
    if s.len() == 10 {
        let d = parse_date(s)?;
        let d = if is_end { d + TimeDelta::days(1) } else { d };
        return Ok(resolve_local(tz, d.and_hms_opt(0, 0, 0).expect("midnight")).with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| anyhow::anyhow!("not a time; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"))?;
    Ok(resolve_local(tz, local).with_timezone(&Utc))
}
