//! `null`: audio discarded at real-time pace (or on a virtual clock).

use std::time::SystemTime;

use super::{Clock, Output, Pacer};

pub(crate) struct NullOutput {
    pacer: Pacer,
    started_at: SystemTime,
}

impl NullOutput {
    pub fn new(clock: Clock) -> Self {
        let started_at = match clock {
            Clock::Real => SystemTime::now(),
            Clock::Virtual { epoch } => epoch,
        };
        NullOutput {
            pacer: Pacer::new(clock),
            started_at,
        }
    }
}

impl Output for NullOutput {
    fn write(&mut self, block: &[f32]) {
        self.pacer.pace(block.len() / 2);
    }
    fn started_at(&self) -> SystemTime {
        self.started_at
    }
    fn played_frames(&self) -> u64 {
        self.pacer.frames()
    }
    fn suspend(&mut self) -> bool {
        true
    }
    fn skip(&mut self, frames: u64) {
        self.pacer.skip(frames);
    }
}
