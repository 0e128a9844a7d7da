//! loa-schedules: what a station plans to air, read from the operator's YAML.
//!
//! Map of the crate:
//! - `yaml`: the YAML document as a spanned node tree, with input budgets;
//! - `diag`: problems found in the files, as `FILE:LINE:COLUMN: message`;
//! - `model`: the typed station and schedules (every value keeps its source);
//! - `load`: files -> model, reporting every problem, with "did you mean";
//! - `lunar`: the Vietnamese lunar calendar (âm lịch), solar <-> lunar dates;
//! - `holidays`: Vietnam's public holidays and the station's days off;
//! - `occurrence`: when a program fires, in the station's time zone;
//! - `check`: cross-file validation (ids, zones, quiet hours, overlaps, media);
//! - `rules`: SPEC section 4 once (who takes an output, who waits until
//!   when, who is skipped, hard ends, quiet hours), for the agenda, the
//!   scheduler and the simulated decks alike;
//! - `agenda`: what will air when: the period run through a model of the
//!   daemon's scheduler and decks (`agenda::timeline`) that applies them;
//! - `schema`: JSON Schema of both file kinds, for editors.
//!
//! Pure: no audio, no network, no async. Media lengths come in through the
//! [`MediaProbe`] trait, which the daemon implements with the audio crate.

// Pure Rust end to end: nothing here needs to reach past the language.
#![forbid(unsafe_code)]

pub mod agenda;
pub mod check;
pub mod diag;
pub mod holidays;
pub mod load;
pub mod lunar;
pub mod model;
pub mod occurrence;
pub mod rules;
pub mod schema;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use load::load_dir;
pub use model::*;

use std::path::Path;
use std::time::Duration;

/// Tells the playing length of a media file. The daemon implements it with
/// the audio crate; tests implement it with a table.
pub trait MediaProbe {
    /// The file's length, or why it cannot be known (missing, not audio...).
    fn length(&self, path: &Path) -> Result<Duration, String>;

    /// How long a TTS text takes to speak; unknown unless the probe can render it.
    fn speech_length(&self, _text: &str, _voice: &loa_core::Voice) -> Result<Duration, String> {
        Err("a TTS text's length is known once it is rendered".into())
    }

    /// The voices the TTS engine of `command` has: `Ok(None)` when it
    /// cannot be asked (only espeak-ng can), an error when it cannot run.
    fn tts_voices(&self, _command: &[String]) -> Result<Option<Vec<String>>, String> {
        Ok(None)
    }
}

/// A probe that knows nothing: every length is unknown. For callers that
/// only need the model.
pub struct NoProbe;

impl MediaProbe for NoProbe {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        if path.exists() {
            Err("length unknown (no probe)".into())
        } else {
            Err(format!("{} does not exist", path.display()))
        }
    }
}
