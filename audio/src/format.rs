//! The one sample format inside the engine: interleaved stereo `f32` at
//! 48 kHz. Every source converts to it and every output takes it, so the mixer
//! never converts anything.

use std::time::{Duration, SystemTime};

/// Frames per second inside the engine and on every output.
pub const RATE: u32 = 48_000;
/// Channels inside the engine and on every output (left, right).
pub const CHANNELS: usize = 2;

/// The exact length of `frames` frames at [`RATE`].
pub fn frames_to_duration(frames: u64) -> Duration {
    crate::probe::frames_to_duration(frames, RATE as u64)
}

/// Frames in `d`, rounded to the nearest frame.
pub fn duration_to_frames(d: Duration) -> u64 {
    ((d.as_nanos() * RATE as u128 + 500_000_000) / 1_000_000_000) as u64
}

/// Where frame `frames` sits in wall time, given the wall time of frame 0.
pub(crate) fn frame_time(epoch: SystemTime, frames: u64) -> SystemTime {
    epoch + frames_to_duration(frames)
}

/// Frame index of wall time `t` (frame 0 at `epoch`); instants before the
/// epoch map to frame 0.
pub(crate) fn time_frame(epoch: SystemTime, t: SystemTime) -> u64 {
    t.duration_since(epoch).map(duration_to_frames).unwrap_or(0)
}

/// Decibels to a linear gain factor.
pub(crate) fn db_to_gain(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_durations_agree() {
        assert_eq!(duration_to_frames(Duration::from_secs(2)), 96_000);
        assert_eq!(duration_to_frames(Duration::from_millis(300)), 14_400);
        assert_eq!(frames_to_duration(96_000), Duration::from_secs(2));
        assert_eq!(duration_to_frames(frames_to_duration(12_345)), 12_345);
    }
}
