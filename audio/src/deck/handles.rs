//! The handles on a deck: [`Deck`], rendering on its own thread at
//! real-time pace, and [`VirtualDeck`], driven by its caller on a virtual
//! clock. Both prepare an item (open files, render TTS) before the core
//! takes it.

use super::*;

/// Prepares an item for the core: its source opened, or why it failed.
pub(super) fn prepare_command(
    id: ItemId,
    item: &Item,
    config: &DeckConfig,
    loudness: &Arc<Loudness>,
    background: bool,
    now: SystemTime,
) -> Command {
    // A decoder bug met while preparing fails the item, not the deck.
    let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prepare(item, config, loudness, background, now)
    }))
    .unwrap_or_else(|_| {
        Err(crate::prepare::PrepFailure {
            failures: Vec::new(),
            reason: "the decoder crashed on this media (a bug; please report the file)".into(),
        })
    });
    match prepared {
        Ok(prepared) => Command::Add {
            id,
            priority: item.priority,
            start_at: item.start_at,
            end_at: item.end_at,
            after: item.after,
            title: item.title.clone(),
            prepared,
        },
        Err(f) => Command::Failed {
            id,
            failures: f.failures,
            reason: f.reason,
        },
    }
}

/// The render thread of a real-time deck: commands between blocks, then a
/// block; while nothing airs (most of a station's day), it rests. A sound
/// card takes a period at a time; a command that comes while the deck waits
/// for room wakes it, and one that preempts what airs has the card drop
/// what it holds ([`Output::cut`]), so the higher item is heard at once
/// instead of after the card's buffer.
fn deck_loop(core: &mut DeckCore, commands: &Receiver<Command>) {
    let mut can_rest = true;
    loop {
        let room = core.output.ready();
        loop {
            match commands.try_recv() {
                Ok(Command::Shutdown) | Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    core.output.finish();
                    return;
                }
                Ok(cmd) => core.handle(cmd),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
            }
        }
        if core.take_preempted() {
            core.cut();
        } else if !room {
            // Woken by a command that can wait for the card's next period.
            continue;
        }
        if can_rest && core.may_rest() {
            can_rest = core.output.suspend();
            if can_rest {
                let go_on = rest(core, commands);
                core.output.resume();
                if !go_on {
                    core.output.finish();
                    return;
                }
                continue;
            }
        }
        core.render_block(BLOCK);
    }
}

/// A deck at rest: its output suspended, it sleeps until a command comes
/// or the next start is near, moving its timeline on by the time that went
/// by. Returns false when the deck is to close.
fn rest(core: &mut DeckCore, commands: &Receiver<Command>) -> bool {
    let since = std::time::Instant::now();
    let mut skipped = 0;
    loop {
        let got = commands.recv_timeout(core.rest_for());
        let gone = duration_to_frames(since.elapsed());
        core.skip(gone - skipped);
        skipped = gone;
        match got {
            Ok(Command::Shutdown) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return false
            }
            Ok(cmd) => core.handle(cmd),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if !core.may_rest() {
            return true;
        }
    }
}

/// The way to a real-time deck's thread: each command is queued, then the
/// thread is woken (it may be waiting for the sound card's next period).
#[derive(Clone)]
struct Commands {
    queue: Sender<Command>,
    wake: Arc<std::os::unix::net::UnixDatagram>,
}

impl Commands {
    fn send(&self, cmd: Command) {
        if self.queue.send(cmd).is_ok() {
            // A full socket means wake-ups are already waiting: none lost.
            let _ = self.wake.send(&[1]);
        }
    }
}

/// A deck on an output at real-time pace, rendering on its own thread.
pub struct Deck {
    commands: Commands,
    events: Receiver<DeckEvent>,
    next_id: AtomicU64,
    config: Arc<DeckConfig>,
    loudness: Arc<Loudness>,
    position: Arc<AtomicU64>,
    heard: Arc<AtomicU64>,
    latency_ns: Arc<AtomicU64>,
    lag_ns: Arc<AtomicI64>,
    epoch: SystemTime,
    thread: Option<JoinHandle<()>>,
}

impl Deck {
    /// Opens `spec` and starts airing silence on it; fails if it cannot be
    /// opened (what `loa play` wants).
    pub fn open(spec: &OutputSpec, config: DeckConfig) -> Result<Deck, OutputError> {
        let (ev_tx, ev_rx) = channel();
        let events = EventSink::new(ev_tx, config.wake.clone());
        let output = open_output(spec, Clock::Real, events.clone())?;
        Ok(Deck::start(spec, output, events, ev_rx, config))
    }

    /// Like [`Deck::open`], but a sound card missing now is retried with
    /// backoff instead of failing (what the daemon wants); the deck's
    /// timeline runs meanwhile, and events say when the card is back.
    pub fn open_retrying(spec: &OutputSpec, config: DeckConfig) -> Result<Deck, OutputError> {
        let (ev_tx, ev_rx) = channel();
        let events = EventSink::new(ev_tx, config.wake.clone());
        let output = open_output_retrying(spec, events.clone())?;
        Ok(Deck::start(spec, output, events, ev_rx, config))
    }

    fn start(
        spec: &OutputSpec,
        output: Box<dyn Output>,
        ev_tx: EventSink,
        ev_rx: Receiver<DeckEvent>,
        config: DeckConfig,
    ) -> Deck {
        let loudness = Arc::new(Loudness::new(config.cache_dir.clone()));
        let mut core = DeckCore::new(output, ev_tx, &config);
        let position = core.position.clone();
        let heard = core.heard.clone();
        let latency_ns = core.latency_ns.clone();
        let lag_ns = core.lag.clone();
        let epoch = core.epoch;
        let (cmd_tx, cmd_rx) = channel::<Command>();
        let (wake, woken) = std::os::unix::net::UnixDatagram::pair()
            .expect("a socket pair for the deck's wake-ups");
        let _ = wake.set_nonblocking(true);
        let _ = woken.set_nonblocking(true);
        core.output.set_waker(woken);
        let thread = std::thread::Builder::new()
            .name(format!("loa-deck {spec}"))
            .spawn(move || {
                if core.output.realtime() {
                    crate::output::device::promote_current_thread();
                }
                deck_loop(&mut core, &cmd_rx)
            })
            .expect("spawn deck thread");
        Deck {
            commands: Commands {
                queue: cmd_tx,
                wake: Arc::new(wake),
            },
            events: ev_rx,
            next_id: AtomicU64::new(1),
            config: Arc::new(config),
            loudness,
            position,
            heard,
            latency_ns,
            lag_ns,
            epoch,
            thread: Some(thread),
        }
    }

    /// Queues `item`; it is prepared (TTS rendered, loudness measured, relay
    /// connected) on a worker thread and airs at its `start_at` or when ready.
    pub fn play(&self, item: Item) -> ItemId {
        let id = ItemId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let tx = self.commands.clone();
        let config = self.config.clone();
        let loudness = self.loudness.clone();
        std::thread::Builder::new()
            .name(format!("loa-prepare {id}"))
            .spawn(move || {
                // A real deck's time is the wall clock.
                let now = SystemTime::now();
                tx.send(prepare_command(id, &item, &config, &loudness, true, now));
            })
            .expect("spawn prepare thread");
        id
    }

    /// Stops an item: a quick fade if it airs (outcome cut).
    pub fn stop(&self, id: ItemId) {
        self.commands.send(Command::Stop(id));
    }

    /// Sets or moves an item's hard end.
    pub fn end_at(&self, id: ItemId, at: SystemTime) {
        self.commands.send(Command::EndAt(id, at));
    }

    /// Master volume 0..=1.
    pub fn set_volume(&self, v: f32) {
        self.commands.send(Command::Volume(v));
    }

    pub fn events(&self) -> &Receiver<DeckEvent> {
        &self.events
    }

    /// The deck's clock: wall time of the frame being rendered.
    pub fn now(&self) -> SystemTime {
        frame_time(self.epoch, self.position.load(Ordering::Relaxed))
    }

    /// Wall time of the deck's frame 0 (the output's start).
    pub fn epoch(&self) -> SystemTime {
        self.epoch
    }

    /// Frames the output has taken (for a device: handed to the card's
    /// callback); compare with an event's frame to see what is heard.
    pub fn heard_frames(&self) -> u64 {
        self.heard.load(Ordering::Relaxed)
    }

    /// The output's own delay after that (the card's buffer), as estimated.
    pub fn output_latency(&self) -> Duration {
        Duration::from_nanos(self.latency_ns.load(Ordering::Relaxed))
    }

    /// Wall time at which frame 0 is heard: [`Deck::epoch`] later by what
    /// waits ahead of the card (its buffer, the sound server), as the deck
    /// compensates it. Events' instants are on this timeline: an item's
    /// `Started` is when its first sample is heard.
    pub fn heard_epoch(&self) -> SystemTime {
        let lag = self.lag_ns.load(Ordering::Relaxed);
        let d = Duration::from_nanos(lag.unsigned_abs());
        if lag >= 0 {
            self.epoch + d
        } else {
            self.epoch - d
        }
    }

    /// The loudness meter this deck uses: `warm` it from a background
    /// thread after a (re)load so first airings do not wait for analysis.
    pub fn loudness(&self) -> Arc<Loudness> {
        self.loudness.clone()
    }

    /// Stops rendering and closes the output (the WAV header is final).
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Deck {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A deck on a virtual clock: nothing moves until the caller advances it,
/// then it renders as fast as it can. Items are prepared synchronously in
/// [`VirtualDeck::play`].
pub struct VirtualDeck {
    core: DeckCore,
    events: Receiver<DeckEvent>,
    next_id: u64,
    config: DeckConfig,
    loudness: Arc<Loudness>,
}

impl VirtualDeck {
    /// Opens `spec` (wav or null) with frame 0 at `epoch`.
    pub fn open(
        spec: &OutputSpec,
        config: DeckConfig,
        epoch: SystemTime,
    ) -> Result<Self, OutputError> {
        let (ev_tx, ev_rx) = channel();
        let events = EventSink::new(ev_tx, config.wake.clone());
        let output = open_output(spec, Clock::Virtual { epoch }, events.clone())?;
        let core = DeckCore::new(output, events, &config);
        Ok(VirtualDeck {
            core,
            events: ev_rx,
            next_id: 1,
            loudness: Arc::new(Loudness::new(config.cache_dir.clone())),
            config,
        })
    }

    pub fn play(&mut self, item: Item) -> ItemId {
        let id = ItemId(self.next_id);
        self.next_id += 1;
        let now = self.now();
        let cmd = prepare_command(id, &item, &self.config, &self.loudness, false, now);
        self.core.handle(cmd);
        id
    }

    pub fn stop(&mut self, id: ItemId) {
        self.core.handle(Command::Stop(id));
    }

    pub fn end_at(&mut self, id: ItemId, at: SystemTime) {
        self.core.handle(Command::EndAt(id, at));
    }

    pub fn set_volume(&mut self, v: f32) {
        self.core.handle(Command::Volume(v));
    }

    pub fn now(&self) -> SystemTime {
        self.core.at(self.core.frame)
    }

    /// Frames rendered since frame 0.
    pub fn frame(&self) -> u64 {
        self.core.frame
    }

    pub fn events(&self) -> &Receiver<DeckEvent> {
        &self.events
    }

    /// Renders `d` of audio.
    pub fn advance(&mut self, d: Duration) {
        self.advance_frames(duration_to_frames(d));
    }

    pub fn advance_frames(&mut self, mut frames: u64) {
        while frames > 0 {
            let n = (frames as usize).min(BLOCK);
            self.core.render_block(n);
            frames -= n as u64;
        }
    }

    /// Renders until `t` on the deck's clock.
    pub fn run_until(&mut self, t: SystemTime) {
        let target = time_frame(self.core.epoch, t);
        self.advance_frames(target.saturating_sub(self.core.frame));
    }

    /// Renders until no item is left, at most `limit`; true if idle.
    pub fn run_until_idle(&mut self, limit: Duration) -> bool {
        let end = self.core.frame + duration_to_frames(limit);
        while !self.core.is_idle() && self.core.frame < end {
            self.advance_frames(BLOCK as u64);
        }
        self.core.is_idle()
    }

    /// Writes the WAV header; the deck can go on afterwards.
    pub fn flush(&mut self) {
        self.core.output.finish();
    }
}
