//! `loa`: the broadcast scheduler for a commune loudspeaker radio station.
//! One crate, one binary (`src/main.rs` only calls [`main`]); the library
//! holds it all so that benches and tests reach the same code.
//!
//! Map of the crate:
//! - `cli`: the command line (clap) and the exit-code convention.
//! - `cmd`: what each subcommand does, one file each: `check` (with
//!   `online`, each relay source fetched once), `agenda`, `simulate`,
//!   `schema`, `report` (also the district's, from PostgreSQL), `collect`
//!   (the province's collector into PostgreSQL), `play` and `devices`, `say` (a text read aloud as
//!   the station would), `keygen` and `announce`
//!   (`keys`), `now`, `stop` and `status` (`control`, the socket's client),
//!   `doctor`, `simulate-devices` (the station's relays and boards, simulated
//!   on its broker: the demo's), and the hidden `manpages` (what
//!   scripts/build-deb packs).
//! - [`devices`]: simulated relays that answer as their firmwares do (run
//!   by `simulate-devices` and by the end-to-end tests).
//! - [`runtime`]: `loa run`, the daemon: the scheduler loop on a clock, the
//!   engine (decks), MQTT (bus and link), boards, zones, remote commands,
//!   the control server, the airtime log, and the one shutdown (`tasks`).
//! - `probe`: media lengths for the schedule model, from the audio crate
//!   (the loaders of `check`, `agenda` and `run` share it).
//! - `wire` and `outside`: what comes from outside the station (control
//!   requests, remote command bodies, device reports) typed and bounded,
//!   and its text made safe for the log and the boards.
//!
//! Dependencies point one way: this crate uses loa-schedules (the model,
//! validation, the agenda) and loa-audio (outputs, sources, decks).

// System calls go through rustix and nix; the one call with no safe
// wrapper (ntp_adjtime, cmd/doctor.rs) says so where it allows itself the exception.
#![deny(unsafe_code)]

mod cli;
mod cmd;
pub mod devices;
mod outside;
mod probe;
pub mod runtime;
mod wire;

use std::process::ExitCode;

use clap::Parser;

/// The whole of `loa`: parses the command line, runs the subcommand, and
/// turns an error into one line on stderr and exit code 1.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run(args) => runtime::run::run(&args),
        cli::Command::Check(args) => cmd::check::run(&args),
        cli::Command::Agenda(args) => cmd::agenda::run(&args),
        cli::Command::Schema(args) => cmd::schema::run(&args),
        cli::Command::Play(args) => cmd::play::play(&args),
        cli::Command::Say(args) => cmd::say::say(&args),
        cli::Command::Devices(args) => cmd::play::devices(&args),
        cli::Command::Report(args) => cmd::report::run(&args),
        cli::Command::Collect(args) => cmd::collect::run(&args),
        cli::Command::Simulate(args) => cmd::simulate::run(&args),
        cli::Command::SimulateDevices(args) => cmd::simulate_devices::run(&args),
        cli::Command::Keygen(args) => cmd::keys::keygen(&args),
        cli::Command::Announce(args) => cmd::keys::announce(&args),
        cli::Command::Doctor(args) => cmd::doctor::run(&args),
        cli::Command::Now(args) => cmd::control::now_cmd(&args),
        cli::Command::Stop(args) => cmd::control::stop_cmd(&args),
        cli::Command::Status(args) => cmd::control::status_cmd(&args),
        cli::Command::Receive(args) => cmd::receive::run(&args),
        cli::Command::Manpages(args) => cmd::manpages::run(&args),
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
