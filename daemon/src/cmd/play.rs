//! `loa play` (sound check on an output) and `loa devices` (what `device:` accepts).
//! Owned by the audio work; see crate loa-audio.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

/// Prints a line to stdout; a closed pipe (`loa devices | head`) is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
use loa_audio::{Deck, DeckConfig, DeckEvent, Ending, Item, Media, Order, OutputSpec, Priority};

/// Arguments of `loa play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Configuration directory (its station.yaml names the outputs).
    #[arg(long, env = "LOA_CONFIG", default_value = "/etc/loa")]
    pub config: std::path::PathBuf,
    /// Where to play: device:NAME, wav:PATH, null, or the name of one of the
    /// station's outputs (default: the station's first output, or
    /// device:default without a station).
    #[arg(long)]
    pub output: Option<String>,
    /// Normalise each file toward this loudness in LUFS (e.g. -16); default:
    /// the station's policy.loudness.
    #[arg(long, allow_hyphen_values = true)]
    pub loudness: Option<f64>,
    /// Audio files to play, in order, gaplessly.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

/// Arguments of `loa devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Output format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub format: String,
}

/// Plays the files on the output and reports each as it airs; exit 1 when a
/// file could not be played.
pub fn play(args: &PlayArgs) -> anyhow::Result<ExitCode> {
    // The station's outputs, when its configuration reads: `--output` may
    // name one, and without `--output` the first one is used, at the
    // station's loudness and volume. Without a station: the default card.
    let station = loa_schedules::load_dir(&args.config)
        .config
        .map(|c| c.station);
    if station.is_none() && args.config.join("station.yaml").exists() {
        eprintln!(
            "loa play: {} has errors (see `loa check`); its outputs are not used",
            args.config.join("station.yaml").display()
        );
    }
    let by_name = |name: &str| {
        station
            .as_ref()
            .and_then(|s| s.outputs.iter().find(|o| o.name == name))
            .map(|o| o.spec.clone())
    };
    let spec: OutputSpec = match args.output.as_deref() {
        Some(text) => match (text.parse::<OutputSpec>(), by_name(text)) {
            (Ok(spec), _) => spec,
            (Err(_), Some(spec)) => spec,
            (Err(e), None) => {
                // A malformed --output is a usage error (SPEC 5: exit 2).
                eprintln!("loa play: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => station
            .as_ref()
            .and_then(|s| s.outputs.first())
            .map(|o| o.spec.clone())
            .unwrap_or_else(|| OutputSpec::Device("default".into())),
    };
    let policy = station.as_ref().map(|s| &s.policy);
    // Unreadable files are reported when their turn comes.
    let lengths: Duration = args
        .files
        .iter()
        .filter_map(|f| loa_audio::media_length(f).ok())
        .sum();
    let config = DeckConfig {
        loudness_target: args.loudness.or(policy.and_then(|p| p.loudness)),
        volume: policy.map(|p| p.volume).unwrap_or(1.0),
        ..Default::default()
    };
    let deck = Deck::open(&spec, config)?;
    say!(
        "playing {} file(s), {:.1} s, on {spec}",
        args.files.len(),
        lengths.as_secs_f64()
    );
    let id = deck.play(Item::new(
        Media::Files {
            paths: args.files.clone(),
            order: Order::Sequential,
        },
        Priority::Normal,
    ));
    let mut failed = false;
    loop {
        let Ok(event) = deck.events().recv_timeout(Duration::from_secs(3600)) else {
            anyhow::bail!("loa play: the output stopped responding");
        };
        match event {
            DeckEvent::Started { piece, .. } => say!("▶ {}", piece.source),
            DeckEvent::Ended {
                piece,
                outcome,
                aired_frames,
                ..
            } => {
                let secs = aired_frames as f64 / loa_audio::format::RATE as f64;
                match outcome {
                    Ending::Failed(reason) => {
                        failed = true;
                        eprintln!("loa play: {}: {reason}", piece.source);
                    }
                    o => say!("■ {} {} after {secs:.1} s", piece.source, o.outcome()),
                }
            }
            DeckEvent::OutputFailed { reason, .. } => {
                eprintln!("loa play: output failed: {reason}")
            }
            DeckEvent::OutputRestored { gap, .. } => {
                eprintln!("loa play: output back after {:.1} s", gap.as_secs_f64())
            }
            DeckEvent::ItemEnded { item, outcome, .. } if item == id => {
                if let Ending::Failed(reason) = &outcome {
                    failed = true;
                    if args.files.len() > 1 {
                        eprintln!("loa play: nothing could be played: {reason}");
                    }
                }
                break;
            }
            DeckEvent::ItemEnded { .. } => {}
        }
    }
    // Let the device play out what is buffered before closing it.
    std::thread::sleep(Duration::from_millis(200));
    deck.close();
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Lists output and input devices with the names `device:` and `live:` accept.
pub fn devices(args: &DevicesArgs) -> anyhow::Result<ExitCode> {
    let devices = loa_audio::list_devices()?;
    if args.format == "json" {
        let list: Vec<_> = devices
            .iter()
            .map(|d| {
                serde_json::json!({
                    "name": d.name, "description": d.description,
                    "output": d.output, "input": d.input,
                })
            })
            .collect();
        say!("{}", serde_json::Value::Array(list));
        return Ok(ExitCode::SUCCESS);
    }
    let width = devices
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(10)
        .max(10);
    // Sound cards first (what a station plugs in), then ALSA's plugins
    // (resamplers, mixers...), which are accepted but rarely what is wanted.
    let is_card = |name: &str| {
        name == "default"
            || [
                "plughw:",
                "hw:",
                "sysdefault:",
                "front:",
                "dsnoop:",
                "dmix:",
            ]
            .iter()
            .any(|p| name.starts_with(p))
    };
    for (title, want_output) in [
        ("Outputs (station.yaml outputs: \"device:NAME\")", true),
        ("Inputs (schedule items: live: { input: NAME })", false),
    ] {
        say!("{title}");
        let list: Vec<_> = devices
            .iter()
            .filter(|d| if want_output { d.output } else { d.input })
            .collect();
        if list.is_empty() {
            say!("  (none)");
        }
        for card in [true, false] {
            for d in list.iter().filter(|d| is_card(&d.name) == card) {
                let note = if card { "" } else { "  [ALSA plugin]" };
                say!("  {:width$}  {}{note}", d.name, d.description);
            }
        }
    }
    say!("Prefer stable names such as plughw:CARD=Device,DEV=0 over numbered ones.");
    Ok(ExitCode::SUCCESS)
}
