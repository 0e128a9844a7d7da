//! The station and its schedules as typed values. After loading, nothing
//! downstream re-checks strings: ids are known, times are times, paths are
//! resolved. Every item that an operator may need pointed at keeps its `Loc`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;

pub use crate::diag::Loc;
pub use crate::holidays::{Calendar, DaysOff, Holiday};
pub use crate::lunar::{LunarDate, LunarDay};
pub use crate::occurrence::{
    DailyWindow, DateRange, DayList, DaySet, LunarRange, Occurrences, Recurrence,
};
pub use loa_core::{IcecastSpec, Idle, OutputSpec, Priority};

/// A loaded configuration directory: station.yaml and every schedule file.
#[derive(Clone, Debug)]
pub struct Config {
    /// The configuration directory, as given.
    pub dir: PathBuf,
    pub station: Station,
    pub programs: Vec<Program>,
    pub slogans: Vec<Slogan>,
}

#[derive(Clone, Debug)]
pub struct Station {
    pub id: String,
    pub name: String,
    pub timezone: Tz,
    pub paths: Paths,
    pub outputs: Vec<Output>,
    pub zones: Vec<Zone>,
    pub boards: Vec<Board>,
    pub mqtt: Option<Mqtt>,
    pub policy: Policy,
    pub tts: Tts,
    pub remote: Remote,
    /// Public holidays and their announced days off; programs' `on` and
    /// `except` share it.
    pub calendar: Arc<Calendar>,
}

impl Station {
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// The outputs that carry these zones, in station.yaml order.
    pub fn outputs_of(&self, zones: &[String]) -> Vec<&str> {
        self.outputs
            .iter()
            .filter(|o| {
                zones
                    .iter()
                    .any(|z| self.zone(z).is_some_and(|z| z.output == o.name))
            })
            .map(|o| o.name.as_str())
            .collect()
    }
}

/// Where state and media live (resolved against the config directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub media: PathBuf,
    pub state: PathBuf,
}

/// One sound card output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub name: String,
    pub spec: OutputSpec,
    pub loc: Loc,
}

/// A group of loudspeakers fed from one output.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub output: String,
    pub relay: Option<Relay>,
    /// An IP cluster receiver that plays the zone's Icecast output when the
    /// zone is on (never with `relay`; SPEC 7d).
    pub receiver: Option<Receiver>,
    pub preroll: Duration,
    pub hold: Duration,
    pub loc: Loc,
}

/// A cluster box driven over MQTT (`loa-rx/<id>/...`): it plays the zone's
/// Icecast mount at `volume` while the zone is on.
#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    /// `[a-z0-9-]{1,40}`: the box's topics are `loa-rx/<id>/cmd` and `/state`.
    pub id: String,
    /// The zone's `volume`, 0..1 (default 1): the receiver's gain.
    pub volume: f32,
}

/// An amplifier power switch reached over MQTT, and the dead-man lease it
/// is switched on with: the device itself switches the amplifier off when
/// Loa stops renewing it (a crash, a power cut of the PC), so no amplifier
/// stays on longer than one lease after Loa is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    pub device: RelayDevice,
    /// `relay.lease`: within [`Relay::MIN_LEASE`, `Relay::MAX_LEASE`] and
    /// not shorter than the zone's preroll (checked at load).
    pub lease: Duration,
}

impl Relay {
    /// Two minutes: short enough that a dead daemon's amplifiers go quiet
    /// soon, long enough that a busy PC or broker never lets one drop.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);
    /// Renewed every third of the lease: a lease of 3 s is renewed every
    /// second, and two lost renewals in a row still leave it in force.
    pub const MIN_LEASE: Duration = Duration::from_secs(3);
    /// Tasmota's longest PulseTime (64900 = 64,800 s).
    pub const MAX_LEASE: Duration = Duration::from_secs(18 * 3600);
}

/// The kind of device a relay is, and where it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayDevice {
    Tasmota {
        topic: String,
        channel: u32,
    },
    Shelly {
        topic: String,
        channel: u32,
    },
    Esphome {
        topic: String,
        id: String,
    },
    /// `renew`, if given, is sent every third of the lease while the zone is
    /// on: a device programmed to switch itself off unless renewed. Without
    /// it the relay has no dead-man switch (`loa check` warns).
    Custom {
        on: MqttMessage,
        off: MqttMessage,
        renew: Option<MqttMessage>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttMessage {
    pub topic: String,
    pub payload: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoardPreset {
    Awtrix,
    Wled,
    Tasmota,
    Text,
    Json,
}

impl BoardPreset {
    pub const NAMES: [&'static str; 5] = ["awtrix", "wled", "tasmota", "text", "json"];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Ascii,
}

/// An LED board.
#[derive(Clone, Debug, PartialEq)]
pub struct Board {
    pub id: String,
    pub name: String,
    pub preset: BoardPreset,
    pub topic: String,
    pub charset: Charset,
    pub show_now_playing: bool,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mqtt {
    pub url: String,
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub prefix: String,
    pub groups: Vec<String>,
    pub homeassistant: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LateStart {
    Join,
    Restart,
    Skip,
}

impl LateStart {
    pub const NAMES: [&'static str; 3] = ["join", "restart", "skip"];
}

#[derive(Clone, Debug, PartialEq)]
pub enum Chime {
    Builtin,
    File(PathBuf),
}

/// A relay this quiet this long counts as dead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SilenceRule {
    pub below_dbfs: f64,
    pub for_: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub quiet_hours: Option<DailyWindow>,
    pub max_session: Option<Duration>,
    pub volume: f32,
    pub chime: Chime,
    /// Target integrated loudness in LUFS; None = no normalisation.
    pub loudness: Option<f64>,
    pub late_start: LateStart,
    pub silence: SilenceRule,
    /// A live microphone session (`loa now --live`) left open this long is
    /// closed with a warning.
    pub live_limit: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            quiet_hours: None,
            max_session: None,
            volume: 0.8,
            chime: Chime::Builtin,
            loudness: Some(-16.0),
            late_start: LateStart::Join,
            silence: SilenceRule {
                below_dbfs: -50.0,
                for_: Duration::from_secs(10),
            },
            live_limit: Duration::from_secs(30 * 60),
        }
    }
}

/// How text becomes speech (station.yaml `tts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tts {
    /// argv, with `{out}`, `{voice}`, `{rate}` and `{pitch}` substituted;
    /// the text, as it is read ([`loa_speech::normalise`]), goes on stdin.
    pub command: Vec<String>,
    pub voice: String,
    /// Where station.yaml names `voice`, for `loa check`'s errors.
    pub voice_at: Option<Loc>,
    /// Words per minute, within [`loa_core::Voice::RATES`].
    pub rate: u32,
    pub pitch: u32,
    pub timeout: Duration,
    /// `numbers:` and the abbreviations of `lexicon:` over the built-in ones.
    pub reading: loa_speech::Reading,
}

impl Default for Tts {
    fn default() -> Self {
        Tts {
            command: loa_core::Voice::DEFAULT_COMMAND.map(String::from).to_vec(),
            voice: loa_core::Voice::DEFAULT_NAME.into(),
            voice_at: None,
            rate: loa_core::Voice::DEFAULT_RATE,
            pitch: loa_core::Voice::DEFAULT_PITCH,
            timeout: Duration::from_secs(30),
            reading: loa_speech::Reading::default(),
        }
    }
}

/// Who may command the station over MQTT.
#[derive(Clone, Debug, PartialEq)]
pub struct Remote {
    pub max_skew: Duration,
    pub rate_limit: RateLimit,
    pub keys: Vec<RemoteKey>,
}

impl Default for Remote {
    fn default() -> Self {
        Remote {
            max_skew: Duration::from_secs(120),
            rate_limit: RateLimit {
                count: 10,
                per: Duration::from_secs(60),
            },
            keys: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Right {
    Announce(Priority),
    Stop,
    Reload,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RemoteKey {
    pub id: String,
    pub public_key: [u8; 32],
    pub may: Vec<Right>,
    /// None = all zones.
    pub zones: Option<Vec<String>>,
    pub loc: Loc,
}

/// What to do when an equal-or-higher item airs at a program's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfBusy {
    Preempt,
    Skip,
    Wait(Duration),
}

/// A scheduled broadcast session.
#[derive(Clone, Debug)]
pub struct Program {
    pub id: String,
    pub title: String,
    pub category: String,
    pub occurs: Occurrences,
    /// Zone ids in station.yaml order (`all` expanded).
    pub zones: Vec<String>,
    pub priority: Priority,
    /// Hard end of the window after the start.
    pub duration: Option<Duration>,
    pub if_busy: IfBusy,
    /// Overrides policy.late_start.
    pub late_start: Option<LateStart>,
    pub volume: f32,
    pub looped: bool,
    pub approved_by: Option<String>,
    pub items: Vec<Item>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub source: Source,
    pub loc: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Sequential,
    Shuffle,
}

/// What an item plays. Paths are resolved against paths.media.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    File(PathBuf),
    /// The file matching the glob with the newest mtime.
    Newest {
        glob: String,
        max_age: Option<Duration>,
    },
    Playlist {
        entries: PlaylistEntries,
        order: Order,
    },
    Tts {
        text: String,
        voice: loa_core::Voice,
    },
    /// A relay. `urls` (at least one, http or https) are tried in order when
    /// the one airing dies; `fallback` plays while none has audio.
    Stream {
        urls: Vec<String>,
        /// HLS master playlists: the lowest rendition at or above this many
        /// bits per second (None: the lowest).
        bandwidth: Option<u64>,
        fallback: Vec<PathBuf>,
    },
    Live {
        input: String,
    },
    Silence(Duration),
    Tone {
        hz: f64,
        length: Duration,
    },
}

impl Source {
    /// The `source_kind` of airtime rows.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::File(_) | Source::Newest { .. } | Source::Playlist { .. } => "file",
            Source::Tts { .. } => "tts",
            Source::Stream { .. } => "stream",
            Source::Live { .. } => "live",
            Source::Silence(_) => "silence",
            Source::Tone { .. } => "tone",
        }
    }

    /// Items that never end by themselves (they need the program's duration).
    pub fn is_endless(&self) -> bool {
        matches!(self, Source::Stream { .. } | Source::Live { .. })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum PlaylistEntries {
    Files(Vec<PathBuf>),
    Glob(String),
}

/// A slogan that LED boards rotate.
#[derive(Clone, Debug, PartialEq)]
pub struct Slogan {
    pub id: String,
    /// Board ids (`all` expanded).
    pub boards: Vec<String>,
    pub text: String,
    pub between: Option<DailyWindow>,
    pub days: DaySet,
    pub dates: DateRange,
    pub every: Option<Duration>,
    /// `#RRGGBB`.
    pub color: Option<String>,
    pub loc: Loc,
}

/// Parses a duration as operators write it: `30m`, `2s`, `1h30m`, `2d`,
/// `500ms`, `1.5s`. Returns an operator message on failure.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("`{s}` is not a duration; write a number and a unit, e.g. 30s, 15m, 1h30m, 2d");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad()),
        };
        rest = rest[unit_len..].trim_start();
        total += n * secs;
    }
    if !total.is_finite() || total > 400.0 * 86400.0 {
        return Err(format!("`{s}` is longer than a year; check the number"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way it would be written in a schedule.
pub fn format_duration(d: Duration) -> String {
    let mut s = d.as_secs();
    let ms = d.subsec_millis();
    if s == 0 && ms > 0 {
        return format!("{ms}ms");
    }
    let mut out = String::new();
    for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172800));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "30", "m", "30 minutes", "-5m", "1y", "5mm"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
    }
}
