//! `loa run`: the daemon. Loads the configuration, opens one deck per
//! output and the airtime log, then runs the scheduler on the wall clock
//! until SIGTERM/SIGINT, reloading on SIGHUP and when a file under the
//! configuration directory changes. Talks to systemd (Type=notify):
//! READY=1 once outputs are open, WATCHDOG=1 from the loop itself, STATUS=
//! what airs.
//!
//! Shutdown is one mechanism (module `tasks`): SIGTERM or SIGINT cancels
//! the one token, the loop ends, everything fades out, open rows close as
//! `cut` with detail `shutdown`, relays go off, every task is joined, and
//! the process exits 0.

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, TimeDelta, Utc};
use loa_audio::{Deck, DeckConfig, DeckEvent, Item, ItemId, SilencePolicy, TtsConfig};
use loa_schedules::{Config, MediaProbe, OutputSpec};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tracing::{error, info, warn};

use loa_schedules::occurrence::delta;

use crate::runtime::airtime::AirtimeLog;
use crate::runtime::clock::{Clock, WallClock};
use crate::runtime::engine::Engine;
use crate::runtime::mqtt::bus::{Action, Bus};
use crate::runtime::scheduler::Scheduler;
use crate::runtime::tasks::Tasks;

/// Arguments of `loa run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// Replace an output's destination: NAME=device:DEV | NAME=wav:PATH | NAME=null.
    #[arg(long = "output", value_name = "NAME=SPEC")]
    pub outputs: Vec<String>,
}

/// The real decks, one per output.
pub struct Decks {
    decks: Vec<Deck>,
    /// Notified by the decks' threads after each event they send.
    news: Arc<tokio::sync::Notify>,
}

impl Engine for Decks {
    fn play(&mut self, output: usize, item: Item) -> ItemId {
        self.decks[output].play(item)
    }
    fn stop(&mut self, output: usize, id: ItemId) {
        self.decks[output].stop(id);
    }
    fn take_events(&mut self) -> Vec<(usize, DeckEvent)> {
        let mut out = Vec::new();
        for (o, d) in self.decks.iter().enumerate() {
            while let Ok(ev) = d.events().try_recv() {
                out.push((o, ev));
            }
        }
        out
    }
    /// The decks wake the loop themselves: no polling while something airs.
    fn poll_every(&self) -> Option<Duration> {
        None
    }
    fn news(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.news.clone())
    }
}

/// Logs to the journal when systemd started us, else readable to stderr.
pub fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOA_LOG")
        // symphonia notes every VBR length estimate at info: keep it for debugging.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,symphonia_core=warn,symphonia_bundle_mp3=warn,symphonia_format_ogg=warn,symphonia_format_isomp4=warn,symphonia=warn"));
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        if let Ok(journald) = tracing_journald::layer() {
            tracing_subscriber::registry()
                .with(filter)
                .with(journald)
                .init();
            return;
        }
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .init();
}

/// Loads and checks the configuration; errors are logged one per line.
fn load(
    dir: &Path,
    probe: &dyn MediaProbe,
) -> Result<(Config, loa_schedules::agenda::Lengths), Vec<String>> {
    let report = loa_schedules::check::check_dir(dir, probe, None);
    for w in &report.diagnostics.warnings {
        warn!("{w}");
    }
    match report.config {
        Some(c) => Ok((c, report.lengths)),
        None => {
            for e in &report.diagnostics.errors {
                error!("{e}");
            }
            Err(report
                .diagnostics
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect())
        }
    }
}

fn apply_overrides(config: &mut Config, overrides: &[String]) -> anyhow::Result<()> {
    for o in overrides {
        let Some((name, spec)) = o.split_once('=') else {
            bail!("--output {o}: write NAME=SPEC, e.g. main=wav:/tmp/loa.wav");
        };
        let names: Vec<String> = config
            .station
            .outputs
            .iter()
            .map(|x| x.name.clone())
            .collect();
        let Some(out) = config.station.outputs.iter_mut().find(|x| x.name == name) else {
            bail!(
                "--output {o}: station.yaml has no output `{name}` (outputs: {})",
                names.join(", ")
            );
        };
        out.spec = OutputSpec::parse(spec, Path::new("."))
            .map_err(|e| anyhow::anyhow!("--output {o}: {e}"))?;
        if !matches!(out.spec, OutputSpec::Icecast(_)) {
            // Receivers play a mount: without one they would play nothing.
            if let Some(z) = config
                .station
                .zones
                .iter()
                .find(|z| z.output == name && z.receiver.is_some())
            {
                bail!(
                    "--output {o}: zone `{}` plays this output on an IP cluster receiver; it must stay an icecast:// output",
                    z.id
                );
            }
        }
    }
    Ok(())
}

/// The station's `tts` as the decks render by it (and `loa say`).
pub fn tts_config(t: &loa_schedules::model::Tts) -> TtsConfig {
    TtsConfig {
        command: t.command.clone(),
        voice: t.voice.clone(),
        rate: t.rate,
        pitch: t.pitch,
        timeout: t.timeout,
        reading: t.reading.clone(),
    }
}

fn deck_config(config: &Config) -> DeckConfig {
    let p = &config.station.policy;
    DeckConfig {
        loudness_target: p.loudness,
        cache_dir: Some(config.station.paths.state.join("cache")),
        tts: tts_config(&config.station.tts),
        silence: SilencePolicy {
            below_dbfs: p.silence.below_dbfs as f32,
            duration: p.silence.for_,
        },
        volume: p.volume,
        ..DeckConfig::default()
    }
}

/// Measures the loudness of every file the schedule names, in the
/// background, so that no first airing waits for its measurement.
fn warm_loudness(tasks: &Tasks, decks: &[Deck], config: &Config) {
    if config.station.policy.loudness.is_none() {
        return;
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for p in &config.programs {
        for item in &p.items {
            match &item.source {
                loa_schedules::Source::File(f) => files.push(f.clone()),
                loa_schedules::Source::Playlist { entries, .. } => {
                    files.extend(loa_schedules::agenda::playlist_files(entries))
                }
                loa_schedules::Source::Stream { fallback, .. } => {
                    files.extend(fallback.iter().cloned())
                }
                _ => {}
            }
        }
    }
    files.sort();
    files.dedup();
    for d in decks {
        let meter = d.loudness();
        let files = files.clone();
        // Stops between two files when the daemon stops.
        let _ = tasks.thread("loa-loudness", move |token| {
            meter.warm(
                files
                    .iter()
                    .take_while(|_| !token.is_cancelled())
                    .map(PathBuf::as_path),
            )
        });
    }
}

fn notify(state: &[sd_notify::NotifyState<'_>]) {
    let _ = sd_notify::notify(state);
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    // One cache of media lengths for the loads and the scheduler.
    let lengths_cache = crate::probe::ProbeCache::default();
    let loader = Loader {
        dir: args.config.config.clone(),
        overrides: args.outputs.clone(),
        probe: Arc::new(lengths_cache.clone()),
    };
    let (config, lengths) = match loader.load() {
        Ok(x) => x,
        Err(errors) => bail!(
            "{}: {} error(s) in the configuration (see above; `loa check` lists them)",
            loader.dir.display(),
            errors.len()
        ),
    };

    let db = crate::runtime::airtime::log_path(&config.station);
    let (mut log, recovered) =
        AirtimeLog::open_on_air(&db, &config.station.id, config.station.timezone)
            .with_context(|| format!("the airtime log {}", db.display()))?;
    if let Err(e) = log.set_station_name(&config.station.name) {
        warn!("airtime log: {e}");
    }
    if recovered > 0 {
        warn!("{recovered} airtime row(s) were left airing by a crash or power cut: marked interrupted");
    }
    let mut decks = Vec::new();
    let news = Arc::new(tokio::sync::Notify::new());
    let wake = {
        let news = news.clone();
        loa_audio::Wake(Arc::new(move || news.notify_one()))
    };
    for o in &config.station.outputs {
        // A sound card missing at boot (USB) must not stop the station:
        // the deck starts and keeps reopening it, reporting the gap.
        let config = DeckConfig {
            wake: Some(wake.clone()),
            ..deck_config(&config)
        };
        let deck = Deck::open_retrying(&o.spec, config)
            .with_context(|| format!("output `{}` ({})", o.name, o.spec))?;
        info!("output `{}` open: {}", o.name, o.spec);
        decks.push(deck);
    }
    let tasks = Tasks::new();
    warm_loudness(&tasks, &decks, &config);
    let config = Arc::new(config);
    info!(
        "{}: {} programs, {} zones, time zone {}",
        config.station.name,
        config.programs.len(),
        config.station.zones.len(),
        config.station.timezone
    );
    let mut sched = Scheduler::new(
        config,
        lengths,
        Decks { decks, news },
        log,
        lengths_cache.probe(),
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let served = rt.block_on(async {
        let (tx, inputs) = tokio::sync::mpsc::unbounded_channel();
        signals(&tasks, tx.clone())?;
        let _watcher = watch(&loader.dir, tx);
        serve(&mut sched, &WallClock::new(), &tasks, &loader, inputs).await
    });
    // The tasks were joined (bounded) by serve; one still blocked (a reload
    // on a hung file) must not hold the exit, as dropping the runtime would.
    rt.shutdown_background();
    served?;
    // The decks fade out and close their outputs as they drop.
    drop(sched);
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// What the loop is told from outside it.
#[derive(Debug)]
pub(crate) enum Input {
    /// Reload now (SIGHUP), saying why.
    Reload(&'static str),
    /// A file under the configuration directory changed: reload once the
    /// editor has finished writing.
    Changed,
}

/// SIGTERM and SIGINT stop the daemon (the one token); SIGHUP reloads.
/// The handlers stay installed after the first stop: a second signal while
/// the relays are being switched off changes nothing.
fn signals(tasks: &Tasks, tx: UnboundedSender<Input>) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let stop = tasks.clone();
    tasks.spawn("signals", async move {
        let token = stop.token();
        loop {
            let name = tokio::select! {
                _ = token.cancelled() => return,
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                _ = hup.recv() => {
                    let _ = tx.send(Input::Reload("SIGHUP"));
                    continue;
                }
            };
            info!("{name}: stopping");
            stop.cancel();
        }
    });
    Ok(())
}

/// The configuration directory, and how it is (re)loaded.
#[derive(Clone)]
pub(crate) struct Loader {
    pub dir: PathBuf,
    /// `--output` replacements, applied to every load.
    pub overrides: Vec<String>,
    /// Shared with earlier loads: only changed files are probed again.
    pub probe: Arc<dyn MediaProbe + Send + Sync>,
}

impl Loader {
    /// Loads and checks the configuration; errors are logged one per line.
    fn load(&self) -> Result<(Config, loa_schedules::agenda::Lengths), Vec<String>> {
        let (mut config, lengths) = load(&self.dir, &*self.probe)?;
        if let Err(e) = apply_overrides(&mut config, &self.overrides) {
            error!("{e:#}");
            return Err(vec![format!("{e:#}")]);
        }
        Ok((config, lengths))
    }
}

type Loaded = Result<(Config, loa_schedules::agenda::Lengths), Vec<String>>;

/// A reload under way off the loop, and who waits for its result.
struct Reloading {
    result: tokio::task::JoinHandle<Loaded>,
    acks: Vec<Ack>,
}

/// A remote `cmd/reload` to acknowledge with the result.
struct Ack {
    id: String,
    group: Option<String>,
}

/// The reloads asked for: one runs at a time, off the loop (it probes every
/// file the schedule names); those asked while it runs are served by one
/// more load after it, which sees what changed since.
#[derive(Default)]
struct Reloads {
    running: Option<Reloading>,
    /// Asked while one runs: the acks to give after the next load.
    queued: Option<Vec<Ack>>,
}

impl Reloads {
    fn ask(&mut self, tasks: &Tasks, loader: &Loader, ack: Option<Ack>) {
        if self.running.is_some() {
            self.queued.get_or_insert_with(Vec::new).extend(ack);
            return;
        }
        let l = loader.clone();
        self.running = Some(Reloading {
            result: tasks.spawn_blocking("reload", move || l.load()),
            acks: ack.into_iter().collect(),
        });
    }

    /// The running load's result, when it comes.
    async fn done(&mut self) -> (Loaded, Vec<Ack>) {
        match &mut self.running {
            Some(r) => {
                let loaded = (&mut r.result)
                    .await
                    .unwrap_or_else(|e| Err(vec![format!("the reload failed: {e}")]));
                let acks = self.running.take().map(|r| r.acks).unwrap_or_default();
                (loaded, acks)
            }
            None => std::future::pending().await,
        }
    }

    /// After a result: starts the load asked for meanwhile.
    fn next(&mut self, tasks: &Tasks, loader: &Loader) {
        if let Some(acks) = self.queued.take() {
            let l = loader.clone();
            self.running = Some(Reloading {
                result: tasks.spawn_blocking("reload", move || l.load()),
                acks,
            });
        }
    }
}

/// The daemon's loop: the scheduler, the MQTT bus, the control socket,
/// reloads and the watchdog, on `clock`, until the token is cancelled; then
/// one shutdown. Generic over the clock and the engine so that a test runs
/// this very loop on virtual time.
pub(crate) async fn serve<C: Clock, E: Engine>(
    sched: &mut Scheduler<E>,
    clock: &C,
    tasks: &Tasks,
    loader: &Loader,
    mut inputs: UnboundedReceiver<Input>,
) -> anyhow::Result<()> {
    let token = tasks.token();
    let mut reload_at: Option<DateTime<Utc>> = None;
    let mut reloads = Reloads::default();
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut last_watchdog = clock.mono();
    let mut bus = Bus::new(sched.config(), tasks);
    if bus.has_link() {
        sched.log().enable_feed();
    }
    bus.config_state = config_state(sched.config(), "start", clock.now(), &[]);
    // Local control (`loa now`, `loa stop`, `loa status`); the station airs
    // without it if the socket cannot be made, and says why.
    let mut control = match crate::runtime::control::Control::start(sched.config(), tasks) {
        Ok(c) => Some(c),
        Err(e) if format!("{e:#}").contains("another loa daemon") => {
            tasks.cancel();
            return Err(e);
        }
        Err(e) => {
            error!("{e:#}; `loa now`, `loa stop` and `loa status` will not work");
            None
        }
    };
    notify(&[sd_notify::NotifyState::Ready]);
    let mut last_status = String::new();
    info!("on air");

    loop {
        sched.tick(clock.now(), clock.mono());
        let ev = sched.engine.take_events();
        sched.handle(ev);
        bus.follow(sched, clock.now());
        if let Some(c) = &mut control {
            c.follow(sched, &mut bus, clock.now());
        }

        let status = status_line(sched);
        if status != last_status {
            notify(&[sd_notify::NotifyState::Status(&status)]);
            last_status = status;
        }
        if let Some(period) = watchdog {
            if clock.mono().saturating_sub(last_watchdog) >= period {
                notify(&[sd_notify::NotifyState::Watchdog]);
                last_watchdog = clock.mono();
            }
        }
        // Wake for the next deadline: the scheduler's, the bus's, the
        // control socket's, a debounced reload; for the decks' events (real
        // decks notify; an engine without news is polled while something
        // airs); at least every idle wake, to see a wall-clock step and
        // feed the watchdog.
        let now = clock.now();
        let cap = match sched.engine.poll_every() {
            Some(every) if !sched.is_idle() => every,
            _ => clock.idle_wake(),
        };
        let wake = [
            sched.next_wakeup(),
            bus.next_wakeup(),
            control.as_ref().and_then(|c| c.next_wakeup()),
            sched
                .engine
                .next_event_at()
                .map(crate::runtime::clock::from_system),
            reload_at,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + delta(cap))
        .min(now + delta(cap));
        let news = sched.engine.news();
        tokio::select! {
            _ = token.cancelled() => break,
            _ = clock.sleep_until(wake) => {}
            // A deck reported something (an item started or ended).
            _ = notified(news.as_deref()) => {}
            Some(input) = inputs.recv() => match input {
                Input::Reload(why) => {
                    info!("{why}: reloading");
                    reloads.ask(tasks, loader, None);
                }
                // Editors write in several steps: wait for them to settle.
                Input::Changed => reload_at = Some(clock.now() + TimeDelta::milliseconds(500)),
            },
            Some(m) = bus.recv() => {
                // What else waits is taken in the same turn (bounded): a
                // flood is read at the pace of the refusals, not of the loop.
                let mut next = Some(m);
                let mut taken = 0;
                while let Some(m) = next {
                    if let Some(Action::Reload { id, group }) = bus.on_link(m, sched, clock.now()) {
                        reloads.ask(tasks, loader, Some(Ack { id, group }));
                    }
                    taken += 1;
                    next = if taken < LINK_BATCH { bus.try_recv() } else { None };
                }
            }
            Some(req) = async {
                match &mut control {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(c) = &mut control {
                    c.handle(req, sched, &mut bus, clock.now());
                }
            }
            (loaded, acks) = reloads.done() => {
                let result = apply_reload(sched, &mut bus, clock.now(), loaded);
                for a in acks {
                    bus.reloaded(&a.id, a.group.as_deref(), result.clone());
                }
                reloads.next(tasks, loader);
            }
        }
        if reload_at.is_some_and(|r| r <= clock.now()) {
            reload_at = None;
            while matches!(inputs.try_recv(), Ok(Input::Changed)) {}
            info!("the configuration changed on disk: reloading");
            reloads.ask(tasks, loader, None);
        }
    }

    // One shutdown: what airs fades out and its rows close as `cut`
    // (detail `shutdown`); relays go OFF and their devices confirm; the
    // boards are cleared; the link sends the last airtime rows and the
    // offline status; then every task is joined.
    notify(&[sd_notify::NotifyState::Stopping]);
    sched.stop_all("shutdown");
    drop(control); // removes the socket: `loa status` now says no daemon runs
    let fades_by = clock.now() + TimeDelta::milliseconds(700);
    loop {
        let ev = sched.engine.take_events();
        sched.handle(ev);
        if sched.is_idle() || clock.now() >= fades_by {
            break;
        }
        let look = sched
            .engine
            .poll_every()
            .map(|d| clock.now() + delta(d))
            .into_iter()
            .chain(
                sched
                    .engine
                    .next_event_at()
                    .map(crate::runtime::clock::from_system),
            )
            .min()
            .unwrap_or(fades_by)
            .min(fades_by);
        let news = sched.engine.news();
        tokio::select! {
            _ = clock.sleep_until(look) => {}
            _ = notified(news.as_deref()) => {}
        }
    }
    sched.close_rows(clock.now(), "shutdown");
    sched.log().close();
    bus.follow(sched, clock.now());
    bus.shutdown(clock).await;
    drop(bus);
    tasks.join(SHUTDOWN_JOIN).await;
    Ok(())
}

/// Waits for `news`; without one, forever.
async fn notified(news: Option<&tokio::sync::Notify>) {
    match news {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// Messages from the broker taken in one turn of the loop, at most: the
/// scheduler is looked at again between two batches.
const LINK_BATCH: usize = 64;

/// How long the tasks get to end after the relays are off (the link's last
/// airtime rows and offline status, a reload's probing).
const SHUTDOWN_JOIN: Duration = Duration::from_secs(5);

fn status_line<E: Engine>(sched: &Scheduler<E>) -> String {
    let tz = sched.config().station.timezone;
    match sched.now_airing() {
        Some((p, since)) => format!(
            "airing: {} (since {})",
            p.title,
            since.with_timezone(&tz).format("%H:%M:%S")
        ),
        None => match sched.next_up() {
            Some((p, at)) => format!(
                "idle; next: {} at {}",
                p.title,
                at.with_timezone(&tz).format("%Y-%m-%d %H:%M")
            ),
            None => "idle; nothing scheduled".into(),
        },
    }
}

/// Puts a loaded configuration on air, or keeps the last good one and says
/// why not.
fn apply_reload<E: Engine>(
    sched: &mut Scheduler<E>,
    bus: &mut Bus,
    now: DateTime<Utc>,
    loaded: Loaded,
) -> Result<(), String> {
    match loaded {
        Ok((config, lengths)) => {
            let old = sched.config().clone();
            if old.station.outputs != config.station.outputs
                || old.station.mqtt != config.station.mqtt
                || old.station.paths != config.station.paths
            {
                warn!("outputs, mqtt or paths changed: they take effect after a restart (systemctl restart loa)");
            }
            info!(
                "reloaded: {} programs, {} slogans",
                config.programs.len(),
                config.slogans.len()
            );
            bus.config_state = config_state(&config, "reload", now, &[]);
            bus.reload(&config, now);
            sched.reload(Arc::new(config), lengths, now);
            Ok(())
        }
        Err(errors) => {
            let n = errors.len();
            error!("reload refused: {n} error(s) (above); the last good schedule stays on air");
            bus.config_state = config_state(sched.config(), "reload", now, &errors);
            Err(format!("{n} error(s) in the configuration; the last good schedule stays on air (see `loa check`)"))
        }
    }
}

/// The status document's `config`: the last load (`start`) or reload, its
/// result and its errors (the first 20, FILE:LINE:COLUMN: message).
fn config_state(
    config: &Config,
    event: &str,
    at: DateTime<Utc>,
    errors: &[String],
) -> serde_json::Value {
    let local = at.with_timezone(&config.station.timezone);
    serde_json::json!({
        "event": event,
        "at": crate::runtime::airtime::format_time(&local),
        "result": if errors.is_empty() { "ok" } else { "refused" },
        "errors": errors.iter().take(20).collect::<Vec<_>>(),
        "error_count": errors.len(),
    })
}

/// Watches the configuration directory; says `Changed` on every change.
fn watch(dir: &Path, tx: UnboundedSender<Input>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let dir: PathBuf = dir.to_path_buf();
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            let relevant = ev.paths.iter().any(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // .txt: the station's abbreviations (tts.lexicon) are read
                // with the configuration.
                (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".txt"))
                    && !name.starts_with('.')
            });
            if relevant && !matches!(ev.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(Input::Changed);
            }
        }
    })
    .map_err(|e| {
        warn!(
            "cannot watch {} for changes ({e}); reload with SIGHUP",
            dir.display()
        )
    })
    .ok()?;
    if let Err(e) = w.watch(&dir, RecursiveMode::Recursive) {
        warn!(
            "cannot watch {} for changes ({e}); reload with SIGHUP",
            dir.display()
        );
        return None;
    }
    Some(w)
}
