//! `loa check`: validate a configuration directory; with `--online`, also
//! fetch each relay source once (crate::cmd::online). A valid configuration
//! also gets what the calendar means for the coming year: the days programs
//! that follow it air and skip, the holidays whose days off are the law's.

use std::process::ExitCode;

use crate::cli::{CheckArgs, Format};
use crate::cmd::online::{self, Probed};
use crate::probe::AudioProbe;

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut report = loa_schedules::check::check_dir(&args.config.config, &AudioProbe, None);
    // Only a valid configuration is worth the network: its sources are the
    // ones that would air.
    let probed: Option<Vec<Probed>> = match (&report.config, args.online) {
        (Some(config), true) => {
            let sources = online::relay_sources(config);
            if args.format == Format::Text && !sources.is_empty() {
                eprintln!(
                    "online: fetching {} relay source{} (each within {} s)...",
                    sources.len(),
                    if sources.len() == 1 { "" } else { "s" },
                    online::TIMEOUT.as_secs()
                );
            }
            let probed = online::probe_all(sources, online::fetch);
            for p in &probed {
                if let Some(w) = online::warning(p) {
                    report.diagnostics.warning(p.source.loc.clone(), w);
                }
            }
            report.diagnostics.sort();
            Some(probed)
        }
        _ => None,
    };
    let d = &report.diagnostics;
    match args.format {
        Format::Json => {
            let mut v = d.to_json();
            if !report.calendar.programs.is_empty() {
                v["calendar"] = report.calendar.to_json();
            }
            if let Some(probed) = &probed {
                v["online"] = probed.iter().map(online::to_json).collect();
            }
            println!("{}", serde_json::to_string_pretty(&v)?)
        }
        Format::Text => {
            for e in d.errors.iter().chain(&d.warnings) {
                println!("{e}");
            }
            for p in probed.iter().flatten() {
                println!("online: {}: {}", p.source.name(), online::describe(p));
            }
            if let Some(c) = &report.config {
                for line in report.calendar.lines(&c.station.calendar) {
                    println!("{line}");
                }
            }
            let dir = args.config.config.display();
            if d.is_valid() {
                let c = report
                    .config
                    .as_ref()
                    .expect("valid reports carry the config");
                println!(
                    "{dir}: valid: {} programs, {} slogans, {} zones, {} boards{}",
                    c.programs.len(),
                    c.slogans.len(),
                    c.station.zones.len(),
                    c.station.boards.len(),
                    match d.warnings.len() {
                        0 => String::new(),
                        n => format!(", {n} warning{}", if n == 1 { "" } else { "s" }),
                    }
                );
            } else {
                let n = d.errors.len();
                eprintln!(
                    "{dir}: {n} error{} (and {} warning{}); fix the errors, then run loa check again",
                    if n == 1 { "" } else { "s" },
                    d.warnings.len(),
                    if d.warnings.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if d.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
