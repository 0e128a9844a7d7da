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
    let station = station(&args.config, "play");
    let spec = match output_spec(station.as_ref(), args.output.as_deref(), "play") {
        Ok(spec) => spec,
        Err(code) => return Ok(code),
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
    let heading = format!(
        "playing {} file(s), {:.1} s, on {spec}",
        args.files.len(),
        lengths.as_secs_f64()
    );
    let media = Media::Files {
        paths: args.files.clone(),
        order: Order::Sequential,
    };
    air(&spec, config, media, &heading, "play", args.files.len() > 1)
}

/// The station of `dir`, when its configuration reads (`--output` may
/// name one of its outputs; its loudness, volume and TTS apply). A station
/// with errors is said once and not used.
pub(crate) fn station(dir: &std::path::Path, cmd: &str) -> Option<loa_schedules::model::Station> {
    let station = loa_schedules::load_dir(dir).config.map(|c| c.station);
    if station.is_none() && dir.join("station.yaml").exists() {
        eprintln!(
            "loa {cmd}: {} has errors (see `loa check`); its outputs are not used",
            dir.join("station.yaml").display()
        );
    }
    station
}

/// `--output`: an output spec or the name of one of the station's outputs;
/// without it the station's first output, or the default card without a
/// station. A malformed one is a usage error (SPEC 5: exit 2).
pub(crate) fn output_spec(
    station: Option<&loa_schedules::model::Station>,
    output: Option<&str>,
    cmd: &str,
) -> Result<OutputSpec, ExitCode> {
    let by_name = |name: &str| {
        station
            .and_then(|s| s.outputs.iter().find(|o| o.name == name))
            .map(|o| o.spec.clone())
    };
    match output {
        Some(text) => match (text.parse::<OutputSpec>(), by_name(text)) {
            (Ok(spec), _) => Ok(spec),
            (Err(_), Some(spec)) => Ok(spec),
            (Err(e), None) => {
                eprintln!("loa {cmd}: {e}");
                Err(ExitCode::from(2))
            }
        },
        None => Ok(station
            .and_then(|s| s.outputs.first())
            .map(|o| o.spec.clone())
            .unwrap_or_else(|| OutputSpec::Device("default".into()))),
    }
}

/// Airs `media` on a deck of its own on `spec`, saying each piece as it
/// starts and ends; exit 1 when something could not be played.
/// `several`: the item has several pieces, so its failure as a whole is
/// said apart from theirs.
pub(crate) fn air(
    spec: &OutputSpec,
    config: DeckConfig,
    media: Media,
    heading: &str,
    cmd: &str,
    several: bool,
) -> anyhow::Result<ExitCode> {
    let deck = Deck::open(spec, config)?;
    say!("{heading}");
    let id = deck.play(Item::new(media, Priority::Normal));
    let mut failed = false;
    loop {
        let Ok(event) = deck.events().recv_timeout(Duration::from_secs(3600)) else {
            anyhow::bail!("loa {cmd}: the output stopped responding");
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
                        eprintln!("loa {cmd}: {}: {reason}", piece.source);
                    }
                    o => say!("■ {} {} after {secs:.1} s", piece.source, o.outcome()),
                }
            }
            DeckEvent::OutputFailed { reason, .. } => {
                eprintln!("loa {cmd}: output failed: {reason}")
            }
            DeckEvent::OutputRestored { gap, .. } => {
                eprintln!("loa {cmd}: output back after {:.1} s", gap.as_secs_f64())
            }
            DeckEvent::ItemEnded { item, outcome, .. } if item == id => {
                if let Ending::Failed(reason) = &outcome {
                    failed = true;
                    if several {
                        eprintln!("loa {cmd}: nothing could be played: {reason}");
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
