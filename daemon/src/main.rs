//! `loa`: the broadcast scheduler for a commune loudspeaker radio station.
//!
//! Map of the binary:
//! - `cli`: the command line (clap) and the exit-code convention;
//! - `check`, `agenda`, `schema`: schedule tools over crate loa-schedules;
//!   `online`: the relay sources fetched once (`check --online`, `doctor`);
//! - `audio_cmds`: `loa play` and `loa devices` over crate loa-audio;
//! - `probe`: media lengths for the schedule model, from the audio crate;
//! - `airtime`: the airtime log in SQLite; `report`: `loa report` over it.

// System calls go through rustix and nix; the one call with no safe
// wrapper (ntp_adjtime, doctor.rs) says so where it allows itself the exception.
#![deny(unsafe_code)]

mod agenda;
mod airtime;
mod audio_cmds;
mod boards;
mod check;
mod cli;
mod clock;
mod control;
// `loa doctor`: is this PC ready to air the station?
mod doctor;
mod engine;
mod keys_cmds;
mod mqtt;
// `loa check --online`, `loa doctor`: each relay source fetched once.
mod online;
// Text from outside: escaped for the log, cleaned for titles.
mod outside;
mod probe;
// Verifies signed remote commands (SPEC 6); the bus obeys what passes.
mod remote;
mod report;
mod run;
mod scheduler;
mod schema;
mod simulate;
// One shutdown: the token every task gets and the tracker that joins them.
mod tasks;
// Control requests and remote command bodies, typed and bounded.
mod wire;
mod zones;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Agenda(args) => agenda::run(&args),
        cli::Command::Schema(args) => schema::run(&args),
        cli::Command::Play(args) => audio_cmds::play(&args),
        cli::Command::Devices(args) => audio_cmds::devices(&args),
        cli::Command::Report(args) => report::run(&args),
        cli::Command::Simulate(args) => simulate::run(&args),
        cli::Command::Keygen(args) => keys_cmds::keygen(&args),
        cli::Command::Announce(args) => keys_cmds::announce(&args),
        cli::Command::Doctor(args) => doctor::run(&args),
        cli::Command::Now(args) => control::now_cmd(&args),
        cli::Command::Stop(args) => control::stop_cmd(&args),
        cli::Command::Status(args) => control::status_cmd(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line, naming what is at fault (the context chain, outermost first).
            eprintln!("loa: {e:#}");
            ExitCode::from(1)
        }
    }
}
