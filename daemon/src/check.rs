//! `loa check`: validate a configuration directory.

use std::process::ExitCode;

use crate::cli::{CheckArgs, Format};
use crate::probe::AudioProbe;

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let report = loa_schedules::check::check_dir(&args.config.config, &AudioProbe, None);
    let d = &report.diagnostics;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&d.to_json())?),
        Format::Text => {
            for e in d.errors.iter().chain(&d.warnings) {
                println!("{e}");
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
