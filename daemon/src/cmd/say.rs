//! `loa say`: a text read aloud through the daemon's path (written out as
//! it is read, rendered by the station's TTS engine, loudness-normalised) to
//! the station's output or a WAV file; `--show` prints what the engine is
//! given first, so the operator hears no surprise on the air.

use std::process::ExitCode;

use clap::Args;
use loa_audio::{DeckConfig, Media, OutputSpec};

use crate::cmd::play::{air, output_spec, station};

/// Arguments of `loa say`.
#[derive(Debug, Args)]
pub struct SayArgs {
    /// Configuration directory (its station.yaml gives the TTS engine, the
    /// voice, the lexicon and the outputs).
    #[arg(long, env = "LOA_CONFIG", default_value = "/etc/loa")]
    pub config: std::path::PathBuf,
    /// A voice of the engine instead of the station's (e.g. vi-vn-x-south).
    #[arg(long, value_name = "V")]
    pub voice: Option<String>,
    /// Words per minute instead of the station's (80 to 450).
    #[arg(long, value_name = "WPM", value_parser = clap::value_parser!(u32).range(80..=450))]
    pub rate: Option<u32>,
    /// Pitch instead of the station's (0 to 99).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=99))]
    pub pitch: Option<u32>,
    /// Print the text as the engine will read it first.
    #[arg(long)]
    pub show: bool,
    /// Write the speech to this WAV file instead of playing it.
    #[arg(long, value_name = "FILE.wav", conflicts_with = "output")]
    pub out: Option<std::path::PathBuf>,
    /// Where to play: device:NAME, wav:PATH, null, or one of the station's
    /// outputs by name (default: its first output).
    #[arg(long)]
    pub output: Option<String>,
    /// The text (several words are one text).
    #[arg(required = true, value_name = "TEXT")]
    pub text: Vec<String>,
}

/// The station's TTS settings, or the defaults without a station.
pub fn tts_config(station: Option<&loa_schedules::model::Station>) -> loa_audio::TtsConfig {
    station.map_or_else(loa_audio::TtsConfig::default, |s| {
        crate::runtime::run::tts_config(&s.tts)
    })
}

pub fn say(args: &SayArgs) -> anyhow::Result<ExitCode> {
    let text = args.text.join(" ");
    if let Some(v) = &args.voice {
        if !loa_core::Voice::valid_name(v) {
            eprintln!("loa say: `{v}` is not a voice name (A-Z, a-z, 0-9 and _.+- only)");
            return Ok(ExitCode::from(2));
        }
    }
    let station = station(&args.config, "say");
    let tts = tts_config(station.as_ref());
    if let Some(why) = args
        .voice
        .as_deref()
        .and_then(|v| crate::probe::missing_voice(&tts.command, v))
    {
        eprintln!("loa say: {why}");
        return Ok(ExitCode::from(2));
    }
    if args.show {
        println!("{}", loa_audio::tts::spoken(&tts, &text));
    }
    let spec = match &args.out {
        Some(path) => OutputSpec::Wav(path.clone()),
        None => match output_spec(station.as_ref(), args.output.as_deref(), "say") {
            Ok(spec) => spec,
            Err(code) => return Ok(code),
        },
    };
    let policy = station.as_ref().map(|s| &s.policy);
    // Rendered into the temporary cache (cache_dir None): the daemon's is
    // the loa user's.
    let config = DeckConfig {
        loudness_target: policy.and_then(|p| p.loudness),
        volume: policy.map_or(1.0, |p| p.volume),
        tts,
        ..DeckConfig::default()
    };
    let voice = loa_core::Voice {
        name: args.voice.clone(),
        rate: args.rate,
        pitch: args.pitch,
    };
    let heading = format!("reading {} characters on {spec}", text.chars().count());
    air(
        &spec,
        config,
        Media::Tts { text, voice },
        &heading,
        "say",
        false,
    )
}
