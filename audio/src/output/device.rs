//! `device:NAME`: a sound card, written through ALSA (the `alsa` crate, the
//! binding cpal itself uses) from the deck's own render thread.
//!
//! No callback thread and no ring between them: the deck waits for the card
//! to have room for a period (100 ms), renders the period with the freshest
//! commands, and hands it over in one write. Measured with perf, a sound
//! card's cost is its wake-ups (context switches in the deck, in cpal's
//! callback thread and in the pulse plugin's thread), not the copying: one
//! thread woken 10 times a second instead of three woken 100 times costs a
//! sixth of the CPU. A command wakes the deck while it waits (the socket of
//! [`Output::set_waker`]); one that preempts what airs has the card drop
//! what it holds ([`Output::cut`]), so a long period costs no preemption
//! latency. After each write the card says how much it holds
//! (`snd_pcm_delay`): that is the lag the deck compensates (see
//! [`Output::lag_ns`]), so the first sample of an item leaves the card on
//! its instant. cpal still lists the devices and captures live inputs.
//!
//! When the card fails mid-air (USB card pulled, audio server gone) or stops
//! taking audio for 750 ms, the failure is logged once and reported as an
//! event, audio is discarded at real-time pace (the deck's timeline goes on),
//! and the card is reopened with backoff; the gap is reported when it is back.

use std::time::{Duration, Instant, SystemTime};

use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};
use cpal::traits::{DeviceTrait, HostTrait};

use super::{Clock, Output, OutputError, Pacer};
use crate::format::{frame_time, frames_to_duration, CHANNELS, RATE};
use crate::item::{DeckEvent, EventSink};

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

/// Frames per period (100 ms): the card wakes the deck's thread once a
/// period, and the deck hands it a whole period in one write. Wake-ups are
/// what a sound card costs (perf: context switches and the pulse plugin's
/// thread, not the copying). Measured with ../shared/peers, `loa run`
/// playing an MP3 through PulseAudio: 0.65 % of a core at 40 ms periods,
/// 0.55 % at 60 ms, 0.35 % at 100 ms. A preemption does not wait for the
/// period: it wakes the deck and drops what the card holds.
const PERIOD_FRAMES: u32 = 4800;
/// Periods in the card's buffer: what waits ahead of the loudspeaker is at
/// most this many periods.
const PERIODS: u32 = 2;
/// A card that has not taken a period for this long is stuck.
const STALL: Duration = Duration::from_millis(750);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(10);

/// The sample format the card takes (the best it offers: plughw and the
/// pulse plugin take float; a bare hw: device may take only integers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sample {
    F32,
    S32,
    S16,
}

impl Sample {
    fn bytes(self) -> usize {
        match self {
            Sample::F32 | Sample::S32 => 4,
            Sample::S16 => 2,
        }
    }

    fn alsa(self) -> Format {
        match self {
            Sample::F32 => Format::float(),
            Sample::S32 => Format::s32(),
            Sample::S16 => Format::s16(),
        }
    }

    /// Appends `block` in this format, native-endian as ALSA's host formats are.
    fn extend(self, out: &mut Vec<u8>, block: &[f32]) {
        match self {
            Sample::F32 => {
                for s in block {
                    out.extend_from_slice(&s.to_ne_bytes());
                }
            }
            Sample::S32 => {
                for s in block {
                    let v = (f64::from(s.clamp(-1.0, 1.0)) * f64::from(i32::MAX)) as i32;
                    out.extend_from_slice(&v.to_ne_bytes());
                }
            }
            Sample::S16 => {
                for s in block {
                    let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
                    out.extend_from_slice(&v.to_ne_bytes());
                }
            }
        }
    }
}

/// An open PCM and what was agreed with it.
struct Live {
    pcm: PCM,
    sample: Sample,
    /// Frames per period the card agreed to.
    period: usize,
}

pub(crate) struct DeviceOutput {
    name: String,
    live: Option<Live>,
    events: EventSink,
    started_at: SystemTime,
    /// Frames handed to `write` (the deck's timeline).
    written: u64,
    /// Frames handed to the card (or discarded while it was down, or
    /// skipped while suspended): `written` minus what is staged.
    played: u64,
    /// Audio waiting for a whole period, in the card's format.
    staged: Vec<u8>,
    staged_frames: usize,
    /// Last known delay from the card taking a frame to it being heard.
    latency: Duration,
    lag: LagFilter,
    lag_ns: i64,
    down: Option<Down>,
    /// The card is stopped while nothing airs (see [`Output::suspend`]).
    suspended: bool,
    /// The deck's commands wake its thread through this while it waits.
    waker: Option<std::os::unix::net::UnixDatagram>,
    /// The card's poll descriptors and the waker's, for that wait.
    fds: Vec<alsa::poll::pollfd>,
}

struct Down {
    since: Instant,
    /// Discards at real-time pace meanwhile.
    pacer: Pacer,
    next_retry: Instant,
    backoff: Duration,
}

/// Why a write did not go through: the card is gone or refuses to go on,
/// so it is reopened (the reason goes to the log and the status).
struct Fatal(String);

impl DeviceOutput {
    pub fn open(name: &str, events: EventSink) -> Result<Self, OutputError> {
        let live = open_pcm(name)?;
        Ok(DeviceOutput::new(name, events, Some(live)))
    }

    /// A device that could not be opened: starts down (reported, discarding
    /// at real-time pace) and keeps trying, so a station whose USB card is
    /// late at boot airs as soon as it appears.
    pub fn open_retrying(name: &str, events: EventSink) -> Self {
        match open_pcm(name) {
            Ok(live) => DeviceOutput::new(name, events, Some(live)),
            Err(e) => {
                let mut d = DeviceOutput::new(name, events, None);
                d.fail(e.to_string());
                d
            }
        }
    }

    fn new(name: &str, events: EventSink, live: Option<Live>) -> Self {
        DeviceOutput {
            name: name.to_string(),
            live,
            events,
            started_at: SystemTime::now(),
            written: 0,
            played: 0,
            staged: Vec::with_capacity(PERIOD_FRAMES as usize * CHANNELS * 4),
            staged_frames: 0,
            latency: Duration::ZERO,
            lag: LagFilter::new(),
            lag_ns: 0,
            down: None,
            suspended: false,
            waker: None,
            fds: Vec::new(),
        }
    }

    fn fail(&mut self, reason: String) {
        self.live = None;
        // What was staged is lost with the card: it counts as gone by.
        self.played = self.written;
        self.staged.clear();
        self.staged_frames = 0;
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
        self.written += frames as u64;
        self.played = self.written;
        if Instant::now() >= down.next_retry {
            match open_pcm(&self.name) {
                Ok(live) => {
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
                    self.lag = LagFilter::new();
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

    /// Waits until the card has room for a whole period: true then, false
    /// when `wakeable` and a command woke the deck first. An underrun (the
    /// card ran dry) is recovered here; the lag estimate starts afresh, as
    /// what was late is now heard later.
    fn wait_for_room(&mut self, wakeable: bool) -> Result<bool, Fatal> {
        let live = self.live.as_ref().expect("live");
        let since = Instant::now();
        loop {
            match live.pcm.avail_update() {
                Ok(n) if n >= live.period as alsa::pcm::Frames => return Ok(true),
                Ok(_) => {}
                Err(e) => {
                    recover(&live.pcm, e)?;
                    self.lag = LagFilter::new();
                    continue;
                }
            }
            let left = STALL.saturating_sub(since.elapsed());
            if left.is_zero() {
                return Err(Fatal("the device stopped taking audio".into()));
            }
            let timeout = left.as_millis().max(1) as u32;
            let waker = self.waker.as_ref().filter(|_| wakeable);
            let woken = match waker {
                None => live.pcm.wait(Some(timeout)).map(|_| false),
                Some(w) => poll_with(&live.pcm, w, &mut self.fds, timeout),
            };
            match woken {
                Ok(true) => return Ok(false),
                Ok(false) => {}
                Err(e) => {
                    recover(&live.pcm, e)?;
                    self.lag = LagFilter::new();
                }
            }
        }
    }

    /// Hands what is staged to the card (there is room: the deck waited in
    /// [`Output::ready`]), then measures the lag.
    fn flush(&mut self) -> Result<(), Fatal> {
        if self.staged_frames == 0 {
            return Ok(());
        }
        self.wait_for_room(false)?;
        let live = self.live.as_ref().expect("live");
        let frame_bytes = live.sample.bytes() * CHANNELS;
        let mut off = 0;
        while off < self.staged.len() {
            match live.pcm.io_bytes().writei(&self.staged[off..]) {
                Ok(n) => off += n * frame_bytes,
                Err(e) if e.errno() == libc::EAGAIN => {
                    // The card took less than it said it had room for
                    // (some plugins round); wait for it.
                    if !live
                        .pcm
                        .wait(Some(STALL.as_millis() as u32))
                        .unwrap_or(true)
                    {
                        return Err(Fatal("the device stopped taking audio".into()));
                    }
                }
                Err(e) => {
                    recover(&live.pcm, e)?;
                    self.lag = LagFilter::new();
                }
            }
        }
        let handed = self.staged_frames;
        self.played += handed as u64;
        self.staged.clear();
        self.staged_frames = 0;
        // The next frame to be handed over is heard after what the card
        // holds now: against its nominal time, that is the lag.
        if let Ok((_, delay)) = live.pcm.avail_delay() {
            let now = SystemTime::now();
            let frames = delay.max(0) as u64;
            let delay = frames_to_duration(frames);
            self.latency = delay;
            if self.lag.running(handed as u64, frames) {
                let nominal = self.started_at + frames_to_duration(self.played);
                self.lag_ns = self.lag.push(signed_ns(now + delay, nominal));
            }
        }
        Ok(())
    }
}

/// Waits on the card's poll descriptors and on the deck's waker at once, for
/// up to `timeout_ms`: true when the waker woke it (emptied here).
fn poll_with(
    pcm: &PCM,
    waker: &std::os::unix::net::UnixDatagram,
    fds: &mut Vec<alsa::poll::pollfd>,
    timeout_ms: u32,
) -> Result<bool, alsa::Error> {
    use alsa::poll::Descriptors;
    use std::os::fd::AsRawFd;
    let n = Descriptors::count(pcm);
    fds.clear();
    fds.resize(
        n + 1,
        alsa::poll::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        },
    );
    Descriptors::fill(pcm, &mut fds[..n])?;
    fds[n] = alsa::poll::pollfd {
        fd: waker.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    alsa::poll::poll(fds, timeout_ms.min(i32::MAX as u32) as i32)?;
    // The card's descriptors mean nothing until the plugin demangles them;
    // the caller asks the card for room again either way, and that call
    // says what is wrong if something is (this one's error code comes
    // back mangled from the binding: EIO reads as "errno -5").
    let _ = Descriptors::revents(pcm, &fds[..n]);
    if fds[n].revents & libc::POLLIN == 0 {
        return Ok(false);
    }
    let mut byte = [0u8; 64];
    while waker.recv(&mut byte).is_ok() {}
    Ok(true)
}

/// Brings a PCM back after an error: an underrun or a suspend is recovered
/// (`snd_pcm_recover`); anything else means the card is gone.
fn recover(pcm: &PCM, e: alsa::Error) -> Result<(), Fatal> {
    match e.errno() {
        libc::EPIPE | libc::ESTRPIPE | libc::EINTR => pcm
            .try_recover(e, true)
            .map_err(|e2| Fatal(format!("cannot recover from {e}: {e2}"))),
        _ => Err(Fatal(e.to_string())),
    }
}

impl Output for DeviceOutput {
    fn write(&mut self, block: &[f32]) {
        let frames = block.len() / CHANNELS;
        if self.live.is_none() {
            self.write_down(frames);
            return;
        }
        let live = self.live.as_ref().expect("live");
        live.sample.extend(&mut self.staged, block);
        self.staged_frames += frames;
        self.written += frames as u64;
        if self.staged_frames >= live.period {
            if let Err(Fatal(reason)) = self.flush() {
                self.fail(reason);
            }
        }
    }

    /// Before the deck renders the first block of a period, it waits here
    /// for the card to have room for the period: so it renders with the
    /// freshest commands (a preemption is at most a period late to the card)
    /// and writes the period in one go.
    fn ready(&mut self) -> bool {
        if self.live.is_none() || self.staged_frames > 0 {
            return true;
        }
        match self.wait_for_room(true) {
            Ok(room) => room,
            Err(Fatal(reason)) => {
                self.fail(reason);
                true
            }
        }
    }

    fn set_waker(&mut self, waker: std::os::unix::net::UnixDatagram) {
        self.waker = Some(waker);
    }

    /// Drops what the card holds and what is staged (the item being
    /// preempted) and starts the card again: the next period written is
    /// heard as soon as the card plays it. Until a write measures it, the
    /// lag is taken as "the next frame is heard now".
    fn cut(&mut self) {
        let Some(live) = &self.live else { return };
        if self.suspended {
            return;
        }
        if let Err(e) = live.pcm.drop().and_then(|()| live.pcm.prepare()) {
            self.fail(format!("cannot drop what it holds: {e}"));
            return;
        }
        self.played = self.written;
        self.staged.clear();
        self.staged_frames = 0;
        self.lag = LagFilter::new();
        let nominal = self.started_at + frames_to_duration(self.played);
        self.lag_ns = signed_ns(SystemTime::now(), nominal);
        self.latency = Duration::ZERO;
    }

    fn started_at(&self) -> SystemTime {
        self.started_at
    }

    fn played_frames(&self) -> u64 {
        self.played
    }

    fn realtime(&self) -> bool {
        true
    }

    /// Delay from the card taking a frame to it being heard, as the driver
    /// estimates it.
    fn latency(&self) -> Duration {
        self.latency
    }

    fn lag_ns(&self) -> i64 {
        self.lag_ns
    }

    /// Hands over the last part-period and lets the card play it out.
    fn finish(&mut self) {
        if self.live.is_some() && self.flush().is_ok() {
            if let Some(live) = &self.live {
                let _ = live.pcm.drain();
            }
        }
    }

    /// Stops the card (`snd_pcm_drop`: what it held was silence) so it
    /// wakes nobody until `resume`. A card that is down is already quiet.
    fn suspend(&mut self) -> bool {
        let Some(live) = &self.live else {
            return true;
        };
        match live.pcm.drop() {
            Ok(()) => {
                self.played = self.written;
                self.staged.clear();
                self.staged_frames = 0;
                self.suspended = true;
                true
            }
            Err(e) => {
                tracing::debug!(
                    "output device:{}: cannot stop ({e}): idles on silence",
                    self.name
                );
                false
            }
        }
    }

    /// Suspended frames count as heard (silence) and as written.
    fn skip(&mut self, frames: u64) {
        self.written += frames;
        self.played += frames;
    }

    /// Prepares the card again; it starts with the first period written,
    /// and the lag is measured afresh (what it holds has changed).
    fn resume(&mut self) {
        if !std::mem::take(&mut self.suspended) {
            return;
        }
        self.lag = LagFilter::new();
        if let Some(live) = &self.live {
            if let Err(e) = live.pcm.prepare() {
                let reason = format!("cannot resume: {e}");
                self.fail(reason);
            }
        }
    }
}

/// Writes per half of the lag estimate's window (1.2 s each at 100 ms
/// periods).
const LAG_HALF_WINDOW: u32 = 12;

/// The lag estimate: the lowest measurement over the last 12 to 24 writes
/// (1.2 to 2.4 s). A measurement is the wall time after a write plus the
/// driver's delay, against the next frame's nominal time; a thread that
/// runs late reads the clock late and only ever measures too much, so the
/// lower envelope is the truth, and it follows a real change (an
/// underrun's slip, the card's clock drifting against the system's) within
/// 2.4 s. A cut ([`Output::cut`]) starts it afresh.
///
/// Until the card has played some of what it was handed since it (re)started,
/// its delay is only what it holds, not the sound server's start-up as well:
/// through PulseAudio that read 45 ms short at 100 ms periods, and a start
/// within the window then aired that late. Those writes measure nothing.
struct LagFilter {
    current: i64,
    previous: i64,
    count: u32,
    /// Frames handed to the card since it (re)started.
    handed: u64,
}

impl LagFilter {
    fn new() -> Self {
        LagFilter {
            current: i64::MAX,
            previous: i64::MAX,
            count: 0,
            handed: 0,
        }
    }

    /// `frames` more were handed to the card, which now holds `delay`
    /// frames: true when it has played 10 ms of them (it is running; a
    /// card that has not started reads a frame or two under what it holds).
    fn running(&mut self, frames: u64, delay: u64) -> bool {
        self.handed += frames;
        delay + 480 <= self.handed
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

/// Opens `name` for 48 kHz stereo in the best format it takes, with
/// [`PERIODS`] periods of [`PERIOD_FRAMES`], non-blocking (the deck waits
/// with a timeout, so a stuck card is noticed).
fn open_pcm(name: &str) -> Result<Live, OutputError> {
    let err = |reason: String| OutputError::Device {
        name: name.to_string(),
        reason,
    };
    let threads_before = thread_ids();
    let pcm = PCM::new(name, Direction::Playback, true).map_err(|e| match e.errno() {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => OutputError::DeviceNotFound {
            name: name.to_string(),
        },
        libc::EBUSY => {
            err("busy: another program holds it (use a dmix or pulse device to share it)".into())
        }
        _ => err(format!("cannot open: {e}")),
    })?;
    let sample = {
        let hw = HwParams::any(&pcm).map_err(|e| err(format!("cannot read its formats: {e}")))?;
        hw.set_access(Access::RWInterleaved)
            .map_err(|e| err(format!("cannot write interleaved audio: {e}")))?;
        hw.set_channels(CHANNELS as u32)
            .and_then(|()| hw.set_rate(RATE, ValueOr::Nearest))
            .map_err(|_| {
                err("cannot play 48 kHz stereo; use its plughw: name (see `loa devices`)".into())
            })?;
        let sample = [Sample::F32, Sample::S32, Sample::S16]
            .into_iter()
            .find(|s| hw.test_format(s.alsa()).is_ok())
            .ok_or_else(|| {
                err("takes none of float, 32- or 16-bit samples; use its plughw: name (see `loa devices`)".into())
            })?;
        hw.set_format(sample.alsa())
            .map_err(|e| err(format!("cannot set its format: {e}")))?;
        let period = hw
            .set_period_size_near(PERIOD_FRAMES as alsa::pcm::Frames, ValueOr::Nearest)
            .map_err(|e| err(format!("cannot set its period: {e}")))?;
        hw.set_buffer_size_near(period * PERIODS as alsa::pcm::Frames)
            .map_err(|e| err(format!("cannot set its buffer: {e}")))?;
        pcm.hw_params(&hw)
            .map_err(|e| err(format!("cannot set its parameters: {e}")))?;
        sample
    };
    let (buffer, period) = {
        let hw = pcm
            .hw_params_current()
            .map_err(|e| err(format!("cannot read its parameters: {e}")))?;
        (
            hw.get_buffer_size().unwrap_or(0),
            hw.get_period_size().unwrap_or(0),
        )
    };
    if period <= 0 || buffer < period {
        return Err(err(format!(
            "agreed on an unusable buffer ({buffer} frames, periods of {period})"
        )));
    }
    {
        let sw = pcm
            .sw_params_current()
            .map_err(|e| err(format!("cannot read its software parameters: {e}")))?;
        // The card starts with the first period and wakes the deck when a
        // period is free.
        sw.set_start_threshold(period)
            .and_then(|()| sw.set_avail_min(period))
            .and_then(|()| pcm.sw_params(&sw))
            .map_err(|e| err(format!("cannot set its software parameters: {e}")))?;
    }
    pcm.prepare()
        .map_err(|e| err(format!("cannot start: {e}")))?;
    // The I/O threads of ALSA plugins (pulse's) are on the path to the
    // loudspeakers as much as the deck's.
    promote_new_threads(&threads_before);
    tracing::debug!(
        "output device:{name}: {sample:?}, periods of {period} frames, buffer {buffer} frames"
    );
    Ok(Live {
        pcm,
        sample,
        period: period as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_reach_the_card_in_its_format_clamped() {
        let block = [0.5f32, -1.5, 1.0, -0.25];
        let mut f = Vec::new();
        Sample::F32.extend(&mut f, &block);
        let back: Vec<f32> = f
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(back, block);

        let mut s16 = Vec::new();
        Sample::S16.extend(&mut s16, &block);
        let back: Vec<i16> = s16
            .chunks_exact(2)
            .map(|b| i16::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(back, [16383, -32767, 32767, -8191]);

        let mut s32 = Vec::new();
        Sample::S32.extend(&mut s32, &block);
        let back: Vec<i32> = s32
            .chunks_exact(4)
            .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(back, [1_073_741_823, -i32::MAX, i32::MAX, -536_870_911]);
        assert_eq!(Sample::S16.bytes() * 4, s16.len());
    }

    #[test]
    fn the_lag_is_the_lower_envelope_and_follows_a_real_change_within_a_window() {
        let mut lag = LagFilter::new();
        // Late wake-ups only ever measure too much.
        for (i, late) in [0, 3_000_000, 150_000, 9_000_000, 0, 40_000]
            .iter()
            .enumerate()
        {
            assert_eq!(lag.push(80_000_000 + late), 80_000_000, "measurement {i}");
        }
        // An underrun slips the card by 25 ms: within two half windows the
        // estimate is the new truth, and never more than it.
        let mut last = 0;
        for _ in 0..2 * LAG_HALF_WINDOW {
            last = lag.push(105_000_000);
            assert!(last <= 105_000_000);
        }
        assert_eq!(last, 105_000_000);
    }
}
