//! `device:NAME`: a sound card through cpal on ALSA.
//!
//! The deck's render thread pushes blocks into a small ring (20 ms) that the
//! card's callback drains, so a preemption reaches the loudspeakers within a
//! few tens of milliseconds. When the card fails mid-air (USB card pulled,
//! audio server gone) cpal reports errors forever and the ring stops
//! draining: the stream is dropped, the failure logged once and reported as
//! an event, audio is discarded at real-time pace (the deck's timeline goes
//! on), and the stream is reopened with backoff; the gap is reported when it
//! is back.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use super::{Clock, Output, OutputError, Pacer};
use crate::format::{frame_time, frames_to_duration, CHANNELS, RATE};
use crate::item::{DeckEvent, EventSink};
use crate::ring;

/// Frames per device callback we ask for (10 ms).
const DEVICE_BUFFER_FRAMES: u32 = 480;
/// Frames the ring holds between the render thread and the callback (20 ms).
const RING_FRAMES: usize = 960;
/// A ring that has not drained for this long means the device is stuck.
const STALL: Duration = Duration::from_millis(750);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(10);

/// A device `loa devices` lists, with the name `device:` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDevice {
    pub name: String,
    pub description: String,
    pub output: bool,
    pub input: bool,
}

/// Every ALSA device cpal can see, outputs and inputs.
pub fn list_devices() -> Result<Vec<AudioDevice>, OutputError> {
    let host = cpal::default_host();
    let devices = host.devices().map_err(|e| OutputError::Device {
        name: "*".into(),
        reason: format!("cannot list devices: {e}"),
    })?;
    let mut out = Vec::new();
    for d in devices {
        let Ok(id) = d.id() else { continue };
        let description = d
            .description()
            .map(|desc| {
                let mut lines: Vec<&str> = Vec::new();
                for l in std::iter::once(desc.name())
                    .chain(desc.extended())
                    .flat_map(str::lines)
                {
                    if !l.trim().is_empty() && !lines.contains(&l) {
                        lines.push(l);
                    }
                }
                lines.join(" / ")
            })
            .unwrap_or_default();
        out.push(AudioDevice {
            name: id.id().to_string(),
            description,
            output: d.supports_output(),
            input: d.supports_input(),
        });
    }
    Ok(out)
}

/// Thread ids of this process.
fn thread_ids() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Real-time priority for the threads the audio stack started while opening
/// a stream (cpal's worker, and I/O threads of ALSA plugins such as pulse,
/// which are part of the path to the loudspeakers as much as ours).
fn promote_new_threads(before: &[i32]) {
    for tid in thread_ids() {
        if !before.contains(&tid) {
            promote_thread(tid);
        }
    }
}

/// sched_setscheduler on another thread's id has no safe wrapper in rustix
/// or nix, hence the one unsafe block of the audio crate.
#[allow(unsafe_code, reason = "sched_setscheduler has no safe wrapper")]
fn promote_thread(tid: i32) {
    let param = libc::sched_param { sched_priority: 20 };
    // SAFETY: `param` is a valid sched_param that outlives the call, which
    // only reads it; a tid that has gone since is refused (ESRCH), not unsafe.
    let rc = unsafe { libc::sched_setscheduler(tid, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        tracing::debug!(
            "audio thread {tid} stays at normal priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Asks the scheduler to run the calling thread ahead of ordinary work
/// (SCHED_FIFO), so a busy machine does not starve the loudspeakers. Needs
/// root or CAP_SYS_NICE (systemd: AmbientCapabilities=CAP_SYS_NICE, or
/// LimitRTPRIO); without it the thread stays as it was.
pub(crate) fn promote_current_thread() {
    promote_thread(0);
}

/// Finds a device by the name `device:` (or a live input) gives.
pub(crate) fn find_device(name: &str, output: bool) -> Result<cpal::Device, OutputError> {
    let host = cpal::default_host();
    let found = if name == "default" {
        if output {
            host.default_output_device()
        } else {
            host.default_input_device()
        }
    } else {
        host.device_by_id(&cpal::DeviceId::new(host.id(), name))
    };
    found.ok_or_else(|| OutputError::DeviceNotFound {
        name: name.to_string(),
    })
}

/// What cpal's error callback saw: a fatal error (the device is gone) and
/// the last error of any kind (named when the ring stalls).
#[derive(Default)]
struct Errors {
    fatal: Option<String>,
    last: Option<String>,
}
type Failure = Arc<Mutex<Errors>>;

/// What the card's callback and the writing thread share, across reopenings.
struct Shared {
    /// Wall time of frame 0 (the output's `started_at`).
    started_at: SystemTime,
    /// Frames the callbacks have taken (plus those discarded while down).
    played: AtomicU64,
    /// Last known delay from callback to the speaker, in nanoseconds.
    latency_ns: AtomicU64,
    /// How late the next frame is heard against `started_at + frame / RATE`
    /// (see [`Output::lag_ns`]), as the callback last estimated it.
    lag_ns: AtomicI64,
    /// Bumped when the stream resumes from a pause: the callback starts its
    /// lag estimate afresh (what the card holds may have changed).
    resumed: AtomicU64,
    /// The thread that writes (the deck's); the callback wakes it when it
    /// has drained a period, instead of the writer polling.
    writer: OnceLock<Thread>,
}

struct Live {
    stream: cpal::Stream,
    ring: rtrb::Producer<f32>,
    failure: Failure,
}

pub(crate) struct DeviceOutput {
    name: String,
    live: Option<Live>,
    events: EventSink,
    started_at: SystemTime,
    shared: Arc<Shared>,
    /// Frames handed to `write`.
    written: u64,
    down: Option<Down>,
    /// The stream is paused (nothing airs; see [`Output::suspend`]).
    paused: bool,
}

struct Down {
    since: Instant,
    /// Discards at real-time pace meanwhile.
    pacer: Pacer,
    next_retry: Instant,
    backoff: Duration,
}

impl DeviceOutput {
    pub fn open(name: &str, events: EventSink) -> Result<Self, OutputError> {
        let shared = Shared::new();
        let live = open_stream(name, shared.clone())?;
        Ok(DeviceOutput::new(name, events, shared, Some(live)))
    }

    /// A device that could not be opened: starts down (reported, discarding
    /// at real-time pace) and keeps trying, so a station whose USB card is
    /// late at boot airs as soon as it appears.
    pub fn open_retrying(name: &str, events: EventSink) -> Self {
        let shared = Shared::new();
        match open_stream(name, shared.clone()) {
            Ok(live) => DeviceOutput::new(name, events, shared, Some(live)),
            Err(e) => {
                let mut d = DeviceOutput::new(name, events, shared, None);
                d.fail(e.to_string());
                d
            }
        }
    }

    fn new(name: &str, events: EventSink, shared: Arc<Shared>, live: Option<Live>) -> Self {
        DeviceOutput {
            name: name.to_string(),
            live,
            events,
            started_at: shared.started_at,
            shared,
            written: 0,
            down: None,
            paused: false,
        }
    }

    fn fail(&mut self, reason: String) {
        self.live = None;
        tracing::error!(
            "output device:{}: {reason}; reopening with backoff",
            self.name
        );
        self.events.send(DeckEvent::OutputFailed {
            reason: format!("device:{}: {reason}", self.name),
            at: frame_time(self.started_at, self.written),
        });
        self.down = Some(Down {
            since: Instant::now(),
            pacer: Pacer::new(Clock::Real),
            next_retry: Instant::now() + FIRST_RETRY,
            backoff: FIRST_RETRY,
        });
    }

    /// While down: discard at real-time pace, and retry when due.
    fn write_down(&mut self, frames: usize) {
        let down = self.down.as_mut().expect("down");
        down.pacer.pace(frames);
        self.shared
            .played
            .fetch_add(frames as u64, Ordering::Relaxed);
        self.written += frames as u64;
        if Instant::now() >= down.next_retry {
            match open_stream(&self.name, self.shared.clone()) {
                Ok(live) => {
                    // The new ring starts at the next frame written (what
                    // the old one still held was lost with its stream).
                    self.shared.played.store(self.written, Ordering::Relaxed);
                    let gap = down.since.elapsed();
                    tracing::info!(
                        "output device:{}: back after {:.1} s",
                        self.name,
                        gap.as_secs_f64()
                    );
                    self.events.send(DeckEvent::OutputRestored {
                        gap,
                        at: frame_time(self.started_at, self.written),
                    });
                    self.live = Some(live);
                    self.down = None;
                }
                Err(e) => {
                    tracing::debug!("output device:{}: still down: {e}", self.name);
                    down.backoff = (down.backoff * 2).min(MAX_RETRY);
                    down.next_retry = Instant::now() + down.backoff;
                }
            }
        }
    }
}

impl Output for DeviceOutput {
    fn write(&mut self, block: &[f32]) {
        let frames = block.len() / CHANNELS;
        if self.live.is_none() {
            self.write_down(frames);
            return;
        }
        let live = self.live.as_mut().expect("live");
        // try_lock: the render thread never waits on the error callback; a
        // fatal error is seen on the next block.
        let fatal = live.failure.try_lock().ok().and_then(|f| f.fatal.clone());
        if let Some(reason) = fatal {
            self.fail(reason);
            self.write_down(frames);
            return;
        }
        let waited = Instant::now();
        let mut rest = block;
        while !rest.is_empty() {
            let n = ring::push(&mut live.ring, rest);
            if n == 0 {
                if waited.elapsed() > STALL {
                    let last = live.failure.lock().ok().and_then(|f| f.last.clone());
                    let reason = match last {
                        Some(e) => format!("the device stopped taking audio ({e})"),
                        None => "the device stopped taking audio".to_string(),
                    };
                    self.fail(reason);
                    self.write_down(frames);
                    return;
                }
                // Wait for the callback to drain a period (it wakes us);
                // the timeout only bounds a missed wake-up.
                let _ = self.shared.writer.set(std::thread::current());
                std::thread::park_timeout(Duration::from_millis(20));
                continue;
            }
            rest = &rest[n..];
        }
        self.written += frames as u64;
    }

    fn started_at(&self) -> SystemTime {
        self.started_at
    }

    fn played_frames(&self) -> u64 {
        self.shared.played.load(Ordering::Relaxed)
    }

    fn realtime(&self) -> bool {
        true
    }

    /// Delay from the callback to the speaker, as the driver estimates it.
    fn latency(&self) -> Duration {
        Duration::from_nanos(self.shared.latency_ns.load(Ordering::Relaxed))
    }

    fn lag_ns(&self) -> i64 {
        self.shared.lag_ns.load(Ordering::Relaxed)
    }

    /// Pauses the stream where the card can pause (ALSA's pause; the pulse
    /// plugin corks): no callbacks, no wake-ups, until `resume`. A card that
    /// cannot pause keeps taking silence. A card that is down is already
    /// quiet (it is retried when audio comes).
    fn suspend(&mut self) -> bool {
        let Some(live) = &self.live else {
            return true;
        };
        match live.stream.pause() {
            Ok(()) => {
                self.paused = true;
                true
            }
            Err(e) => {
                tracing::debug!(
                    "output device:{}: cannot pause ({e}): idles on silence",
                    self.name
                );
                false
            }
        }
    }

    /// Paused frames count as heard (silence) and as written: the ring's
    /// frame count stays the timeline's.
    fn skip(&mut self, frames: u64) {
        self.written += frames;
        self.shared.played.fetch_add(frames, Ordering::Relaxed);
    }

    fn resume(&mut self) {
        if !std::mem::take(&mut self.paused) {
            return;
        }
        self.shared.resumed.fetch_add(1, Ordering::Relaxed);
        if let Some(live) = &self.live {
            if let Err(e) = live.stream.play() {
                let reason = format!("cannot resume: {e}");
                self.fail(reason);
            }
        }
    }
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            started_at: SystemTime::now(),
            played: AtomicU64::new(0),
            latency_ns: AtomicU64::new(0),
            lag_ns: AtomicI64::new(0),
            resumed: AtomicU64::new(0),
            writer: OnceLock::new(),
        })
    }
}

/// Callbacks per half of the lag estimate's window (about 0.5 s each at
/// 10 ms periods).
const LAG_HALF_WINDOW: u32 = 50;

/// The lag estimate: the lowest measurement over the last 50 to 100
/// callbacks. A measurement is the wall time at the callback plus the
/// driver's delay, against the frame's nominal time; a callback that runs
/// late reads the clock late and only ever measures too much, so the lower
/// envelope is the truth, and it follows a real change (an underrun's slip,
/// the card's clock drifting against the system's) within a second.
struct LagFilter {
    current: i64,
    previous: i64,
    count: u32,
}

impl LagFilter {
    fn new() -> Self {
        LagFilter {
            current: i64::MAX,
            previous: i64::MAX,
            count: 0,
        }
    }

    /// Takes one measurement; returns the estimate.
    fn push(&mut self, lag: i64) -> i64 {
        self.current = self.current.min(lag);
        self.count += 1;
        if self.count == LAG_HALF_WINDOW {
            self.previous = self.current;
            self.current = i64::MAX;
            self.count = 0;
        }
        self.current.min(self.previous)
    }
}

/// `a - b` in nanoseconds, either way round.
fn signed_ns(a: SystemTime, b: SystemTime) -> i64 {
    match a.duration_since(b) {
        Ok(d) => d.as_nanos() as i64,
        Err(e) => -(e.duration().as_nanos() as i64),
    }
}

fn open_stream(name: &str, shared: Arc<Shared>) -> Result<Live, OutputError> {
    let device = find_device(name, true)?;
    let err = |reason: String| OutputError::Device {
        name: name.to_string(),
        reason,
    };
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| err(format!("cannot read its formats: {e}")))?
        .collect();
    // Stereo at 48 kHz in the best sample format the card takes; plughw:
    // devices convert anything, hw: devices may not.
    let rank = |f: SampleFormat| match f {
        SampleFormat::F32 => 0,
        SampleFormat::I16 => 1,
        SampleFormat::I32 => 2,
        _ => 9,
    };
    let range = ranges
        .iter()
        .filter(|r| {
            r.channels() as usize == CHANNELS
                && r.contains_rate(RATE)
                && rank(r.sample_format()) < 9
        })
        .min_by_key(|r| rank(r.sample_format()))
        .ok_or_else(|| {
            err("cannot play 48 kHz stereo; use its plughw: name (see `loa devices`)".into())
        })?;
    let buffer_size = match range.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max }
            if *min <= DEVICE_BUFFER_FRAMES && DEVICE_BUFFER_FRAMES <= *max =>
        {
            cpal::BufferSize::Fixed(DEVICE_BUFFER_FRAMES)
        }
        _ => cpal::BufferSize::Default,
    };
    let config = StreamConfig {
        channels: CHANNELS as u16,
        sample_rate: RATE,
        buffer_size,
    };
    let (producer, consumer) = rtrb::RingBuffer::new(RING_FRAMES * CHANNELS);
    let threads_before = thread_ids();
    let failure: Failure = Arc::new(Mutex::new(Errors::default()));
    let stream = match range.sample_format() {
        SampleFormat::I16 => build::<i16>(&device, config, consumer, failure.clone(), shared),
        SampleFormat::I32 => build::<i32>(&device, config, consumer, failure.clone(), shared),
        _ => build::<f32>(&device, config, consumer, failure.clone(), shared),
    }
    .map_err(|e| err(format!("cannot open: {e}")))?;
    stream
        .play()
        .map_err(|e| err(format!("cannot start: {e}")))?;
    promote_new_threads(&threads_before);
    Ok(Live {
        stream,
        ring: producer,
        failure,
    })
}

fn build<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: StreamConfig,
    mut ring: rtrb::Consumer<f32>,
    failure: Failure,
    shared: Arc<Shared>,
) -> Result<cpal::Stream, cpal::Error> {
    let mut promoted = false;
    let mut lag = LagFilter::new();
    let mut resumed = shared.resumed.load(Ordering::Relaxed);
    device.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            if !promoted {
                promoted = true;
                promote_current_thread();
            }
            let now = SystemTime::now();
            let ts = info.timestamp();
            let delay = ts
                .playback
                .checked_duration_since(ts.callback)
                .unwrap_or_default();
            let n = ring.slots().min(data.len()) / CHANNELS * CHANNELS;
            let r = shared.resumed.load(Ordering::Relaxed);
            if r != resumed {
                resumed = r;
                lag = LagFilter::new();
            }
            if n > 0 {
                // The first frame taken now is heard after the driver's delay.
                let first = shared.played.load(Ordering::Relaxed);
                let nominal = shared.started_at + frames_to_duration(first);
                let estimate = lag.push(signed_ns(now + delay, nominal));
                shared.lag_ns.store(estimate, Ordering::Relaxed);
            }
            if let Ok(chunk) = ring.read_chunk(n) {
                let (a, b) = chunk.as_slices();
                for (dst, src) in data.iter_mut().zip(a.iter().chain(b)) {
                    *dst = T::from_sample(*src);
                }
                chunk.commit_all();
            }
            // cpal zero-fills the buffer: an underrun is silence, never stale audio.
            shared
                .played
                .fetch_add((n / CHANNELS) as u64, Ordering::Relaxed);
            if let Some(t) = shared.writer.get() {
                t.unpark();
            }
            shared
                .latency_ns
                .store(delay.as_nanos() as u64, Ordering::Relaxed);
        },
        move |e: cpal::Error| {
            // Xruns and the odd EIO at start-up are transient: only a device
            // that is gone fails at once; others fail if the ring stalls.
            let fatal = matches!(
                e.kind(),
                cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::StreamInvalidated
            );
            if let Ok(mut f) = failure.lock() {
                if fatal && f.fatal.is_none() {
                    f.fatal = Some(e.to_string());
                }
                f.last = Some(e.to_string());
            }
        },
        None,
    )
}
