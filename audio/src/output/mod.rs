//! Outputs: where a deck's mixed audio goes, behind one small trait
//! ([`Output`], the shape of librespot's `Sink`): a sound card (`device:NAME`),
//! a WAV file (`wav:PATH`), nowhere (`null`) or an Icecast mount
//! (`icecast://...`, MP3 for IP cluster receivers).
//!
//! `wav` and `null` run either at real-time pace or on a virtual clock (as
//! fast as possible, time advanced by samples) for tests and `loa simulate`.
//! A device and an Icecast mount (paced by the output itself, as nothing
//! downstream paces it) only run in real time.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::format::RATE;
use crate::item::EventSink;

pub mod device;
mod icecast;
mod null;
mod wav;

pub use device::{list_devices, AudioDevice};
pub use icecast::{check_icecast, IcecastRefusal};

pub use loa_core::OutputSpec;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output wav:{}: cannot write: {source}", path.display())]
    Wav {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("output device:{name}: no such device (see `loa devices` for the names it accepts)")]
    DeviceNotFound { name: String },
    #[error("output device:{name}: {reason}")]
    Device { name: String, reason: String },
    #[error("output device:{0}: a sound card cannot run on a virtual clock")]
    VirtualDevice(String),
    #[error("output {0}: an Icecast mount cannot run on a virtual clock")]
    VirtualIcecast(String),
    #[error("capture device `{name}`: {reason} (`loa devices` lists the inputs)")]
    Capture { name: String, reason: String },
}

/// How an output keeps time.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// Wall time: frames leave at 48 kHz.
    Real,
    /// As fast as possible; frame 0 is at `epoch`, and time moves by samples.
    Virtual { epoch: SystemTime },
}

/// Takes a deck's mixed audio.
pub trait Output: Send {
    /// Takes one block of interleaved stereo f32 at 48 kHz, returning when it
    /// is accepted (at real-time pace on the real clock). Failures are
    /// reported as [`DeckEvent`]s; the output keeps time regardless, so a
    /// deck's timeline never stalls.
    fn write(&mut self, block: &[f32]);
    /// Wall time of frame 0.
    fn started_at(&self) -> SystemTime;
    /// Frames that have reached the listener (a device's callback) or the
    /// file; the deck's render position runs slightly ahead of it.
    fn played_frames(&self) -> u64;
    /// True when the thread feeding it should run at real-time priority (a
    /// sound card must never wait for the render thread).
    fn realtime(&self) -> bool {
        false
    }
    /// Delay from a frame being taken to it being heard (a device's buffer).
    fn latency(&self) -> Duration {
        Duration::ZERO
    }
    /// How much later than `started_at() + frame / RATE` the frame handed to
    /// `write` now is heard, in nanoseconds: for a sound card, what waits
    /// ahead of it (the ring, the card's buffer, the sound server) plus any
    /// underruns since it started; a deck that knows it starts an item that
    /// much earlier, so its first sample leaves the card on its instant.
    /// Zero for files and `null`, whose frames are "heard" as written.
    fn lag_ns(&self) -> i64 {
        0
    }
    /// Called by a real-time deck before it takes commands and renders the
    /// next block: an output that takes audio a period at a time (a sound
    /// card) waits here until it has room, so the deck renders with the
    /// freshest commands instead of waiting inside `write` with a block
    /// already rendered. A wake-up from [`Output::set_waker`]'s socket ends
    /// the wait early: false then (no room yet; the deck takes the commands
    /// and comes back unless one preempts).
    fn ready(&mut self) -> bool {
        true
    }
    /// The socket a real-time deck's commands wake its thread through (a
    /// datagram per command, non-blocking): an output that waits in
    /// [`Output::ready`] waits on it too, and empties it.
    fn set_waker(&mut self, _waker: std::os::unix::net::UnixDatagram) {}
    /// An item preempts what airs: drop what waits ahead of the listener
    /// (a sound card's buffer), so the next block written is heard as soon
    /// as it can be; [`Output::lag_ns`] says the new lag.
    fn cut(&mut self) {}
    /// Writes what is buffered (the WAV header), before the deck closes.
    fn finish(&mut self) {}
    /// Nothing airs for a while: the output may stop taking audio, and
    /// waking the machine for it, until [`Output::resume`]; meanwhile the
    /// deck moves its timeline on with [`Output::skip`] instead of writing
    /// silence block by block. False: it cannot, and takes silence as before.
    fn suspend(&mut self) -> bool {
        false
    }
    /// While suspended: `frames` of silence went by (at real-time pace:
    /// the deck calls it as time passes).
    fn skip(&mut self, _frames: u64) {}
    /// Takes audio again, after [`Output::suspend`].
    fn resume(&mut self) {}
    /// What airs now changed to an item titled `title` (an Icecast mount's
    /// now-playing metadata; nothing for the others).
    fn now_playing(&mut self, _title: &str) {}
}

/// Opens `spec`. Events (output failures and restorations) go to `events`.
pub fn open_output(
    spec: &OutputSpec,
    clock: Clock,
    events: impl Into<EventSink>,
) -> Result<Box<dyn Output>, OutputError> {
    let events = events.into();
    Ok(match spec {
        OutputSpec::Null => Box::new(null::NullOutput::new(clock)),
        OutputSpec::Wav(path) => Box::new(wav::WavOutput::create(path, clock, events)?),
        OutputSpec::Device(name) => match clock {
            Clock::Virtual { .. } => return Err(OutputError::VirtualDevice(name.clone())),
            Clock::Real => Box::new(device::DeviceOutput::open(name, events)?),
        },
        OutputSpec::Icecast(spec) => match clock {
            // Its receivers listen in real time: a faster clock would flood them.
            Clock::Virtual { .. } => return Err(OutputError::VirtualIcecast(spec.public_url())),
            Clock::Real => Box::new(icecast::IcecastOutput::open(spec, events)),
        },
    })
}

/// Like [`open_output`] on the real clock, but a sound card that cannot be
/// opened now does not fail: the output starts down (an `OutputFailed`
/// event) and is retried with backoff (`OutputRestored` when it comes).
/// For the daemon, which must not refuse to run because a card is missing.
pub fn open_output_retrying(
    spec: &OutputSpec,
    events: EventSink,
) -> Result<Box<dyn Output>, OutputError> {
    match spec {
        OutputSpec::Device(name) => Ok(Box::new(device::DeviceOutput::open_retrying(name, events))),
        _ => open_output(spec, Clock::Real, events),
    }
}

/// Keeps file and null outputs at real-time pace (or none, on a virtual clock).
pub(crate) struct Pacer {
    start: Option<Instant>,
    frames: u64,
}

impl Pacer {
    pub fn new(clock: Clock) -> Self {
        Pacer {
            start: matches!(clock, Clock::Real).then(Instant::now),
            frames: 0,
        }
    }

    /// Waits until a block of `frames` frames is due, then counts it.
    pub fn pace(&mut self, frames: usize) {
        if let Some(start) = self.start {
            let due = start + Duration::from_nanos(self.frames * 1_000_000_000 / RATE as u64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        self.frames += frames as u64;
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Counts `frames` that went by unwritten (a suspended output).
    pub fn skip(&mut self, frames: u64) {
        self.frames += frames;
    }
}
