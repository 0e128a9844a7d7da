//! `loa play` (sound check on an output) and `loa devices` (what `device:` accepts).
//! Owned by the audio work; see crate loa-audio.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `loa play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Configuration directory (its station.yaml names the outputs).
    #[arg(long, env = "LOA_CONFIG", default_value = "/etc/loa")]
    pub config: std::path::PathBuf,
    /// Where to play: device:NAME, wav:PATH or null (default: the station's first output).
    #[arg(long)]
    pub output: Option<String>,
    /// Audio files to play, in order.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

/// Arguments of `loa devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {}

pub fn play(_args: &PlayArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("loa play: the audio engine is not part of this build yet")
}

pub fn devices(_args: &DevicesArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("loa devices: the audio engine is not part of this build yet")
}
