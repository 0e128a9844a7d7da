//! Zone claims: which zones sound, and when, as runs start, are preempted
//! and end (the zones module turns the notes into relay commands).

use chrono::{DateTime, Utc};
use loa_schedules::Program;

use crate::runtime::engine::Engine;

use super::*;

/// Switching a zone's amplifier, as the scheduler decides it (the zones
/// module turns these into relay commands with preroll and hold).
#[derive(Clone, Debug, PartialEq)]
pub enum ZoneNote {
    /// Sound starts on these zones at `at`.
    Sound {
        zones: Vec<String>,
        at: DateTime<Utc>,
    },
    /// Sound on these zones ended at `at`.
    Silent {
        zones: Vec<String>,
        at: DateTime<Utc>,
    },
    /// A higher item that does not target these zones takes their output at `at`.
    Mute {
        zones: Vec<String>,
        at: DateTime<Utc>,
    },
}

impl<E: Engine> Scheduler<E> {
    /// Zones: on before the sound when `run` will air at once; zones of
    /// lower items on its outputs that it does not target fall silent while
    /// it airs.
    pub(super) fn claim_zones(&mut self, run: &mut Run, start: DateTime<Utc>) {
        let higher = self.runs.iter().any(|r| {
            r.program.priority > run.program.priority
                && r.outputs.iter().any(|o| run.outputs.contains(o))
        });
        if higher {
            return;
        }
        run.demand = run.program.zones.clone();
        self.zone_notes.push(ZoneNote::Sound {
            zones: run.demand.clone(),
            at: start,
        });
        let mut muted: Vec<String> = Vec::new();
        for r in self.runs.iter_mut().filter(|r| {
            r.program.priority <= run.program.priority
                && r.outputs.iter().any(|o| run.outputs.contains(o))
        }) {
            let (gone, kept): (Vec<String>, Vec<String>) = r
                .demand
                .drain(..)
                .partition(|z| !run.program.zones.contains(z));
            r.demand = kept;
            muted.extend(gone);
        }
        if !muted.is_empty() {
            self.zone_notes.push(ZoneNote::Mute {
                zones: muted,
                at: start,
            });
        }
    }

    /// Zone switching decided since the last call.
    pub fn take_zone_notes(&mut self) -> Vec<ZoneNote> {
        std::mem::take(&mut self.zone_notes)
    }

    /// After a run ended at `at`: its zones fall silent, and what resumes on
    /// its outputs sounds again.
    pub(super) fn zones_after(&mut self, ended: &Run, at: DateTime<Utc>) {
        if !ended.demand.is_empty() {
            self.zone_notes.push(ZoneNote::Silent {
                zones: ended.demand.clone(),
                at,
            });
        }
        let outputs = &ended.outputs;
        let top = self
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.outputs.iter().any(|o| outputs.contains(o)))
            .max_by_key(|(_, r)| r.program.priority)
            .map(|(i, _)| i);
        if let Some(i) = top {
            let r = &mut self.runs[i];
            let missing: Vec<String> = r
                .program
                .zones
                .iter()
                .filter(|z| !r.demand.contains(z))
                .cloned()
                .collect();
            if !missing.is_empty() {
                r.demand.extend(missing.iter().cloned());
                self.zone_notes.push(ZoneNote::Sound { zones: missing, at });
            }
        }
    }

    /// The outputs a program's zones are on.
    pub(super) fn outputs_of(&self, p: &Program) -> Vec<usize> {
        let st = &self.config.station;
        st.outputs_of(&p.zones)
            .iter()
            .filter_map(|o| st.outputs.iter().position(|x| x.name == *o))
            .collect()
    }
}
