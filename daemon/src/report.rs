//! `loa report`: the airtime report and the monthly log book.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `loa report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Configuration directory (the log is paths.state/airtime.sqlite).
    #[arg(long, value_name = "DIR", env = "LOA_CONFIG", default_value = "/etc/loa", conflicts_with = "db")]
    pub config: PathBuf,
    /// An airtime database instead (e.g. one written by `loa simulate`).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

pub fn run(_args: &ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("loa report is being built")
}
