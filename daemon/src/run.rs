//! `loa run`: the daemon. Loads the configuration, opens one deck per
//! output and the airtime log, then runs the scheduler on the wall clock
//! until SIGTERM/SIGINT, reloading on SIGHUP and when a file under the
//! configuration directory changes. Talks to systemd (Type=notify):
//! READY=1 once outputs are open, WATCHDOG=1 from the loop itself, STATUS=
//! what airs.
//!
//! Shutdown is one mechanism: the loop ends, everything fades out, open
//! rows close as `cut` with detail `shutdown`, and the process exits 0.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::Utc;
use loa_audio::{Deck, DeckConfig, DeckEvent, Item, ItemId, SilencePolicy, TtsConfig};
use loa_schedules::{Config, OutputSpec};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

use crate::airtime::AirtimeLog;
use crate::clock::{Clock, WallClock};
use crate::engine::Engine;
use crate::mqtt::bus::{Action, Bus};
use crate::scheduler::Scheduler;

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
fn load(dir: &Path) -> Result<(Config, loa_schedules::agenda::Lengths), Vec<String>> {
    let report = loa_schedules::check::check_dir(dir, &crate::probe::AudioProbe, None);
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
    }
    Ok(())
}

fn deck_config(config: &Config) -> DeckConfig {
    let p = &config.station.policy;
    DeckConfig {
        loudness_target: p.loudness,
        cache_dir: Some(config.station.paths.state.join("cache")),
        tts: TtsConfig {
            command: config.station.tts.command.clone(),
            voice: config.station.tts.voice.clone(),
            timeout: config.station.tts.timeout,
        },
        silence: SilencePolicy {
            below_dbfs: p.silence.below_dbfs as f32,
            duration: p.silence.for_,
        },
        volume: p.volume,
        ..DeckConfig::default()
    }
}

/// station.yaml's output setting as the audio engine takes it.
pub(crate) fn audio_spec(spec: &OutputSpec) -> loa_audio::OutputSpec {
    match spec {
        OutputSpec::Device(d) => loa_audio::OutputSpec::Device(d.clone()),
        OutputSpec::Wav(p) => loa_audio::OutputSpec::Wav(p.clone()),
        OutputSpec::Null => loa_audio::OutputSpec::Null,
    }
}

/// Measures the loudness of every file the schedule names, in the
/// background, so that no first airing waits for its measurement.
fn warm_loudness(decks: &[Deck], config: &Config) {
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
        let _ = std::thread::Builder::new()
            .name("loa-loudness".into())
            .spawn(move || meter.warm(files.iter().map(PathBuf::as_path)));
    }
}

fn notify(state: &[sd_notify::NotifyState]) {
    let _ = sd_notify::notify(state);
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let dir = args.config.config.clone();
    let (mut config, lengths) = match load(&dir) {
        Ok(x) => x,
        Err(errors) => bail!(
            "{}: {} error(s) in the configuration (see above; `loa check` lists them)",
            dir.display(),
            errors.len()
        ),
    };
    apply_overrides(&mut config, &args.outputs)?;
    let overrides = args.outputs.clone();

    let db = crate::airtime::log_path(&config.station);
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
    for o in &config.station.outputs {
        // A sound card missing at boot (USB) must not stop the station:
        // the deck starts and keeps reopening it, reporting the gap.
        let deck = Deck::open_retrying(&audio_spec(&o.spec), deck_config(&config))
            .with_context(|| format!("output `{}` ({})", o.name, o.spec))?;
        info!("output `{}` open: {}", o.name, o.spec);
        decks.push(deck);
    }
    warm_loudness(&decks, &config);
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
        Decks { decks },
        log,
        crate::probe::caching_probe(),
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(serve(&mut sched, &dir, &overrides))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    sched: &mut Scheduler<Decks>,
    dir: &Path,
    overrides: &[String],
) -> anyhow::Result<()> {
    let clock = WallClock::new();
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let (changed_tx, mut changed_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let _watcher = watch(dir, changed_tx);
    let mut reload_at: Option<tokio::time::Instant> = None;
    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut last_watchdog = tokio::time::Instant::now();
    let mut bus = Bus::new(sched.config());
    if bus.has_link() {
        sched.log().enable_feed();
    }
    bus.config_state = config_state(sched.config(), "start", clock.now(), &[]);
    // Local control (`loa now`, `loa stop`, `loa status`); the station airs
    // without it if the socket cannot be made, and says why.
    let mut control = match crate::control::Control::start(sched.config()) {
        Ok(c) => Some(c),
        Err(e) if format!("{e:#}").contains("another loa daemon") => return Err(e),
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
            if last_watchdog.elapsed() >= period {
                notify(&[sd_notify::NotifyState::Watchdog]);
                last_watchdog = tokio::time::Instant::now();
            }
        }
        // Wake for the next scheduler deadline, at least every 20 ms while
        // something airs (deck events) and every second when idle (to see
        // clock steps and feed the watchdog).
        let cap = if sched.is_idle() {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(20)
        };
        let until_next = [
            sched.next_wakeup(),
            bus.next_wakeup(),
            control.as_ref().and_then(|c| c.next_wakeup()),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| (t - clock.now()).to_std().unwrap_or_default())
        .unwrap_or(cap)
        .min(cap);
        let mut deadline = tokio::time::Instant::now() + until_next;
        if let Some(r) = reload_at {
            deadline = deadline.min(r);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { info!("SIGINT: stopping"); break; }
            _ = hup.recv() => { info!("SIGHUP: reloading"); let _ = reload(sched, &mut bus, &clock, dir, overrides); }
            Some(m) = bus.recv() => {
                if let Some(Action::Reload { id, group }) = bus.on_link(m, sched, clock.now()) {
                    let result = reload(sched, &mut bus, &clock, dir, overrides);
                    bus.reloaded(&id, group.as_deref(), result);
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
            Some(()) = changed_rx.recv() => {
                // Editors write in several steps: wait for them to settle.
                reload_at = Some(tokio::time::Instant::now() + Duration::from_millis(500));
            }
        }
        if reload_at.is_some_and(|r| r <= tokio::time::Instant::now()) {
            reload_at = None;
            while changed_rx.try_recv().is_ok() {}
            info!("the configuration changed on disk: reloading");
            let _ = reload(sched, &mut bus, &clock, dir, overrides);
        }
    }

    notify(&[sd_notify::NotifyState::Stopping]);
    sched.stop_all("shutdown");
    // Let the fades finish and the decks report (well within 2 s).
    drop(control); // removes the socket: `loa status` now says no daemon runs
    let until = tokio::time::Instant::now() + Duration::from_millis(700);
    while tokio::time::Instant::now() < until && !sched.is_idle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let ev = sched.engine.take_events();
        sched.handle(ev);
    }
    sched.close_rows(clock.now(), "shutdown");
    bus.follow(sched, clock.now());
    bus.shutdown(clock.now()).await;
    info!("stopped");
    Ok(())
}

fn status_line(sched: &Scheduler<Decks>) -> String {
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

fn reload(
    sched: &mut Scheduler<Decks>,
    bus: &mut Bus,
    clock: &WallClock,
    dir: &Path,
    overrides: &[String],
) -> Result<(), String> {
    let loaded = load(dir);
    // After the load, which probes every file the schedule names.
    let now = clock.now();
    match loaded {
        Ok((mut config, lengths)) => {
            if let Err(e) = apply_overrides(&mut config, overrides) {
                error!("reload refused: {e:#}; the last good schedule stays on air");
                bus.config_state = config_state(sched.config(), "reload", now, &[format!("{e:#}")]);
                return Err(format!("{e:#}"));
            }
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
    at: chrono::DateTime<Utc>,
    errors: &[String],
) -> serde_json::Value {
    let local = at.with_timezone(&config.station.timezone);
    serde_json::json!({
        "event": event,
        "at": crate::airtime::format_time(&local),
        "result": if errors.is_empty() { "ok" } else { "refused" },
        "errors": errors.iter().take(20).collect::<Vec<_>>(),
        "error_count": errors.len(),
    })
}

/// Watches the configuration directory; sends () on every change.
fn watch(
    dir: &Path,
    tx: tokio::sync::mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let dir: PathBuf = dir.to_path_buf();
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            let relevant = ev.paths.iter().any(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with('.')
            });
            if relevant && !matches!(ev.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(());
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
