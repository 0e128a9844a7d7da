//! The words every Loa crate uses for the same thing, defined once:
//! [`Priority`] (SPEC section 4), [`OutputSpec`] (SPEC section 2),
//! [`Outcome`] (SPEC section 7) and [`Voice`] (SPEC sections 2 and 3); and
//! [`newest`], the file a `newest:` item
//! plays (SPEC section 3), which the check, the agenda, the decks and the
//! simulation each ask.
//!
//! The schedules crate reads them from station.yaml and schedule files, the
//! audio crate plays by them, and the daemon passes them from one to the
//! other unchanged. Neither of those two crates may depend on the other
//! (STYLE.md), so what both need lives here, below both.

#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// Priority levels, lowest to highest (SPEC section 4; Thông tư
/// 39/2020/TT-BTTTT for the upper three). A higher level takes the output
/// from a lower one; only `emergency` sounds in quiet hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Filler,
    Normal,
    Priority,
    Emergency,
}

impl Priority {
    /// The names station files, commands and the airtime log use, lowest first.
    pub const NAMES: [&'static str; 4] = ["filler", "normal", "priority", "emergency"];
    pub const ALL: [Priority; 4] = [
        Priority::Filler,
        Priority::Normal,
        Priority::Priority,
        Priority::Emergency,
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The level named `s` (exactly as written in [`Priority::NAMES`]).
    pub fn parse(s: &str) -> Option<Priority> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Priority::parse(s).ok_or_else(|| {
            format!("`{s}` is not a priority; write filler, normal, priority or emergency")
        })
    }
}

/// How an item's airing ended: the airtime log's `outcome` column (SPEC
/// section 7). A deck reports the end of an item as one of these (with the
/// reason when it failed); the log adds `airing` while it airs and
/// `interrupted` for a row that Loa's stop left open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Airing,
    Completed,
    Cut,
    Preempted,
    Failed,
    Skipped,
    Interrupted,
}

impl Outcome {
    /// The words the log stores, in the order of the variants.
    pub const NAMES: [&'static str; 7] = [
        "airing",
        "completed",
        "cut",
        "preempted",
        "failed",
        "skipped",
        "interrupted",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an output's audio goes: `device:NAME`, `wav:PATH` or `null`, as
/// station.yaml's `outputs` and `--output` write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputSpec {
    /// An ALSA device by the name `loa devices` shows (`default` for the default).
    Device(String),
    /// A WAV file, written at real-time pace (or as fast as a virtual clock runs).
    Wav(PathBuf),
    /// Discarded at real-time pace.
    Null,
}

impl OutputSpec {
    /// Parses `device:NAME`, `wav:PATH` or `null`; a relative WAV path
    /// resolves against `base` (the configuration directory). The error is
    /// one line that says what to write.
    pub fn parse(s: &str, base: &Path) -> Result<OutputSpec, String> {
        if s == "null" {
            return Ok(OutputSpec::Null);
        }
        if let Some(name) = s.strip_prefix("device:") {
            if name.is_empty() {
                return Err(
                    "`device:` needs a device name, e.g. device:default (see `loa devices`)".into(),
                );
            }
            return Ok(OutputSpec::Device(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("wav:") {
            if path.is_empty() {
                return Err("`wav:` needs a file path, e.g. wav:/tmp/loa.wav".into());
            }
            return Ok(OutputSpec::Wav(base.join(path)));
        }
        Err(format!(
            "output `{s}` is not one of device:NAME, wav:PATH or null"
        ))
    }
}

/// A spec on the command line: relative paths stay relative (to the
/// working directory).
impl FromStr for OutputSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OutputSpec::parse(s, Path::new(""))
    }
}

impl fmt::Display for OutputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputSpec::Device(n) => write!(f, "device:{n}"),
            OutputSpec::Wav(p) => write!(f, "wav:{}", p.display()),
            OutputSpec::Null => f.write_str("null"),
        }
    }
}

/// The file matching the glob `pattern` with the newest modification time
/// (the greater path among equal times), and that time: what a `newest:`
/// item plays. `Err` says why there is none, in the words `loa check`, the
/// log and `loa simulate` all print.
pub fn newest(pattern: &str) -> Result<(PathBuf, SystemTime), String> {
    let entries = glob::glob(pattern).map_err(|e| format!("bad pattern {pattern}: {e}"))?;
    entries
        .filter_map(Result::ok)
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            m.is_file().then_some((m.modified().ok()?, p))
        })
        .max()
        .map(|(t, p)| (p, t))
        .ok_or_else(|| format!("no file matches {pattern}"))
}

/// Why the newest file, modified at `modified`, is too old to air at `now`
/// (the caller's clock: the wall clock, or the virtual one of a
/// simulation), if `max_age` says it is.
pub fn too_old(
    path: &Path,
    modified: SystemTime,
    max_age: Option<Duration>,
    now: SystemTime,
) -> Option<String> {
    let max = max_age?;
    let age = now.duration_since(modified).unwrap_or_default();
    (age > max).then(|| {
        format!(
            "the newest file, {}, is {} h old (max_age {} h)",
            path.display(),
            age.as_secs() / 3600,
            max.as_secs() / 3600
        )
    })
}

/// Who reads a text aloud: a TTS item's or an announcement's choices over
/// the station's `tts` settings; each `None` is the station's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Voice {
    /// A voice of the TTS engine (`vi`, `vi-vn-x-south`, `vi+f3`...).
    pub name: Option<String>,
    /// Words per minute (espeak-ng's `-s`), within [`Voice::RATES`].
    pub rate: Option<u32>,
    /// 0 to 99 (espeak-ng's `-p`), within [`Voice::PITCHES`].
    pub pitch: Option<u32>,
}

impl Voice {
    /// The TTS engine's command when station.yaml names none.
    pub const DEFAULT_COMMAND: [&'static str; 10] = [
        "espeak-ng",
        "-v",
        "{voice}",
        "-s",
        "{rate}",
        "-p",
        "{pitch}",
        "-w",
        "{out}",
        "--stdin",
    ];
    /// The voice when station.yaml names none: espeak-ng's northern one.
    pub const DEFAULT_NAME: &'static str = "vi";
    /// Words per minute by default: slower than espeak-ng's 175, as a
    /// notice is read over loudspeakers whose echoes blur a fast voice.
    pub const DEFAULT_RATE: u32 = 150;
    /// The voice's own pitch.
    pub const DEFAULT_PITCH: u32 = 50;

    /// What espeak-ng accepts and a listener can still follow.
    pub const RATES: std::ops::RangeInclusive<u32> = 80..=450;
    pub const PITCHES: std::ops::RangeInclusive<u32> = 0..=99;

    /// The station's voice with another name.
    pub fn named(name: &str) -> Voice {
        Voice {
            name: Some(name.to_string()),
            ..Voice::default()
        }
    }

    /// Whether an engine listing `known` voices has `name`; espeak-ng takes
    /// a variant after `+` ("vi+f3") and names in any case.
    pub fn listed(name: &str, known: &[String]) -> bool {
        let base = name.split('+').next().unwrap_or(name);
        known.iter().any(|k| k.eq_ignore_ascii_case(base))
    }

    /// Whether `name` may be passed to the engine's command line: it is one
    /// argument there, never a shell word, but it is also never an option.
    pub fn valid_name(name: &str) -> bool {
        (1..=64).contains(&name.len())
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_and_names() {
        assert!(Priority::Filler < Priority::Normal);
        assert!(Priority::Priority < Priority::Emergency);
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            assert_eq!(p.to_string().parse::<Priority>(), Ok(p));
        }
        assert_eq!(Priority::parse("Emergency"), None);
        assert_eq!(
            "urgent".parse::<Priority>().unwrap_err(),
            "`urgent` is not a priority; write filler, normal, priority or emergency"
        );
    }

    #[test]
    fn outcomes_are_the_logs_words() {
        use Outcome::*;
        let all = [
            Airing,
            Completed,
            Cut,
            Preempted,
            Failed,
            Skipped,
            Interrupted,
        ];
        let words: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
        assert_eq!(words, Outcome::NAMES);
        assert_eq!(Skipped.to_string(), "skipped");
    }

    #[test]
    fn output_specs_parse_as_station_yaml_writes_them() {
        let base = Path::new("/etc/loa");
        assert_eq!(OutputSpec::parse("null", base), Ok(OutputSpec::Null));
        assert_eq!(
            OutputSpec::parse("wav:out.wav", base),
            Ok(OutputSpec::Wav("/etc/loa/out.wav".into()))
        );
        assert_eq!(
            OutputSpec::parse("wav:/tmp/out.wav", base),
            Ok(OutputSpec::Wav("/tmp/out.wav".into()))
        );
        assert_eq!(
            "device:plughw:CARD=Device,DEV=0".parse::<OutputSpec>(),
            Ok(OutputSpec::Device("plughw:CARD=Device,DEV=0".into()))
        );
        assert_eq!(
            "wav:out.wav".parse::<OutputSpec>(),
            Ok(OutputSpec::Wav("out.wav".into()))
        );
        assert_eq!(
            "speaker".parse::<OutputSpec>().unwrap_err(),
            "output `speaker` is not one of device:NAME, wav:PATH or null"
        );
        assert!(OutputSpec::parse("device:", base)
            .unwrap_err()
            .contains("loa devices"));
        assert!(OutputSpec::parse("wav:", base)
            .unwrap_err()
            .contains("file path"));
        for s in ["null", "device:default", "wav:/tmp/a.wav"] {
            assert_eq!(s.parse::<OutputSpec>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn the_newest_file_and_its_age_against_the_callers_clock() {
        let dir = std::env::temp_dir().join(format!("loa-core-newest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join("a.mp3");
        let new = dir.join("b.mp3");
        std::fs::write(&old, b"x").unwrap();
        std::fs::write(&new, b"x").unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t1 = t0 + Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(t0)
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(&new)
            .unwrap()
            .set_modified(t1)
            .unwrap();
        let pattern = format!("{}/*.mp3", dir.display());
        assert_eq!(newest(&pattern).unwrap(), (new.clone(), t1));
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(
            too_old(&new, t1, hour, t1 + Duration::from_secs(3599)),
            None
        );
        assert_eq!(
            too_old(&new, t1, hour, t1 + Duration::from_secs(7300)).unwrap(),
            format!(
                "the newest file, {}, is 2 h old (max_age 1 h)",
                new.display()
            )
        );
        assert_eq!(
            too_old(&new, t1, None, t1 + Duration::from_secs(10 * 365 * 86_400)),
            None
        );
        let none = format!("{}/*.ogg", dir.display());
        assert_eq!(
            newest(&none).unwrap_err(),
            format!("no file matches {none}")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
