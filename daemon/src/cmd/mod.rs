//! The subcommands other than `loa run`, one module each (the map is in
//! lib.rs). Each reads its arguments from `cli`, does its one job, and
//! returns the exit code; none of them keeps running.

pub(crate) mod agenda;
pub(crate) mod check;
pub(crate) mod control;
pub(crate) mod doctor;
pub(crate) mod keys;
pub(crate) mod manpages;
pub(crate) mod online;
pub(crate) mod play;
pub(crate) mod report;
pub(crate) mod say;
pub(crate) mod schema;
pub(crate) mod simulate;
pub(crate) mod simulate_devices;
