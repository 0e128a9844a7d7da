//! The simulated relays of the daemon crate (`loa::devices`, which `loa
//! simulate-devices` runs for the demo), as the relay tests use them: one
//! firmware logic for both, and a wait on a relay's log with the tests'
//! patience.

use std::time::{Duration, Instant};

pub use loa::devices::{Firmware, Happened, SimulatedRelay as FakeRelay};

/// Waits on what happened to a relay.
pub trait WaitFor {
    /// Waits until `pred` holds for its log (usually within `secs`; waited
    /// for up to [`crate::patience`] of it).
    fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&[(Instant, Happened)]) -> bool);
}

impl WaitFor for FakeRelay {
    fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&[(Instant, Happened)]) -> bool) {
        crate::wait_until(
            &format!("{:?}: {what}", self.firmware),
            Duration::from_secs(secs),
            Duration::from_millis(20),
            || {
                let log = self.log();
                if pred(&log) {
                    Ok(())
                } else {
                    Err(log)
                }
            },
        )
    }
}
