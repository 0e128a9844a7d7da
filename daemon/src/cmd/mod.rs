//! The subcommands other than `loa run`, one module each (the map is in
//! lib.rs). Each reads its arguments from `cli`, does its one job, and
//! returns the exit code; none of them keeps running.

pub(crate) mod agenda;
pub(crate) mod check;
pub(crate) mod collect;
pub(crate) mod control;
pub(crate) mod doctor;
pub(crate) mod keys;
pub(crate) mod manpages;
pub(crate) mod online;
pub(crate) mod play;
pub(crate) mod receive;
pub(crate) mod report;
pub(crate) mod say;
pub(crate) mod schema;
pub(crate) mod simulate;
pub(crate) mod simulate_devices;

/// The configuration of `dir` for a command that cannot work without it
/// (`loa announce`, `loa simulate-devices`): an error naming the file and
/// the command that shows what is wrong.
pub(crate) fn configuration(dir: &std::path::Path) -> anyhow::Result<loa_schedules::model::Config> {
    loa_schedules::load_dir(dir).config.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: cannot read the station (run `loa check --config {}`)",
            dir.join("station.yaml").display(),
            dir.display()
        )
    })
}
