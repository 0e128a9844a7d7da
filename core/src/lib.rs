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

/// Where an output's audio goes: `device:NAME`, `wav:PATH`, `null` or an
/// Icecast mount (`icecast://...`), as station.yaml's `outputs` and
/// `--output` write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputSpec {
    /// An ALSA device by the name `loa devices` shows (`default` for the default).
    Device(String),
    /// A WAV file, written at real-time pace (or as fast as a virtual clock runs).
    Wav(PathBuf),
    /// Discarded at real-time pace.
    Null,
    /// MP3 sent to an Icecast 2 server as its source (IP cluster receivers
    /// play the mount).
    Icecast(IcecastSpec),
}

/// What a mount carries while nothing airs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Encoded silence: receivers stay connected and play the next program
    /// at once.
    Silence,
    /// Loa leaves the mount; it is back when something is about to air.
    Disconnect,
}

/// `icecast://USER@HOST:PORT/MOUNT?password_file=PATH&bitrate=KBPS&channels=mono|stereo&idle=silence|disconnect`
/// (`icecasts://` over TLS). The password is never written in the spec:
/// it is read from `password_file` when Loa connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcecastSpec {
    pub tls: bool,
    /// The source user (`source` unless written).
    pub user: String,
    pub host: String,
    pub port: u16,
    /// Starts with `/`.
    pub mount: String,
    pub password_file: PathBuf,
    /// MP3 CBR bit rate in kb/s, one of [`IcecastSpec::BITRATES`].
    pub bitrate: u16,
    pub stereo: bool,
    pub idle: Idle,
}

impl IcecastSpec {
    /// The bit rates an MPEG audio stream may have (kb/s).
    pub const BITRATES: [u16; 16] = [
        8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    /// What cheap receivers, ESP32 boards, Barix boxes, VLC and mpv all play.
    pub const DEFAULT_BITRATE: u16 = 64;

    /// The address listeners (the cluster receivers) play the mount at.
    pub fn public_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}{}", self.host, self.port, self.mount)
    }

    /// The source password: the password file's first line. The error is
    /// one line naming the file and what to do.
    pub fn password(&self) -> Result<String, String> {
        read_password(&self.password_file)
    }

    fn parse(s: &str, base: &Path) -> Result<IcecastSpec, String> {
        let (tls, rest) = match s.strip_prefix("icecasts://") {
            Some(r) => (true, r),
            None => (false, s.strip_prefix("icecast://").unwrap_or(s)),
        };
        const FORM: &str = "write icecast://USER@HOST:PORT/MOUNT?password_file=PATH";
        let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = place
            .split_once('/')
            .ok_or_else(|| format!("`{s}` names no mount; {FORM}"))?;
        if path.is_empty() || path.contains(char::is_whitespace) {
            return Err(format!("`{s}` names no mount; {FORM}"));
        }
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() && !u.contains(':') => (u.to_string(), h),
            Some(_) => {
                return Err(format!(
                    "`{s}`: write only the user before @ (the password goes in password_file)"
                ))
            }
            None => ("source".to_string(), authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("`{s}`: `{p}` is not a port"))?,
            ),
            None => (hostport, 8000),
        };
        if host.is_empty() {
            return Err(format!("`{s}` names no server; {FORM}"));
        }
        let mut spec = IcecastSpec {
            tls,
            user,
            host: host.to_string(),
            port,
            mount: format!("/{path}"),
            password_file: PathBuf::new(),
            bitrate: Self::DEFAULT_BITRATE,
            stereo: false,
            idle: Idle::Silence,
        };
        let mut password_file = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "password_file" if !v.is_empty() => password_file = Some(base.join(v)),
                "bitrate" => {
                    spec.bitrate = v
                        .parse()
                        .ok()
                        .filter(|b| Self::BITRATES.contains(b))
                        .ok_or_else(|| {
                            format!(
                        "`{s}`: bitrate `{v}` is not an MP3 bit rate; write one of {} (kb/s)",
                        Self::BITRATES.map(|b| b.to_string()).join(", ")
                    )
                        })?
                }
                "channels" => {
                    spec.stereo = match v {
                        "mono" => false,
                        "stereo" => true,
                        _ => return Err(format!("`{s}`: write channels=mono or channels=stereo")),
                    }
                }
                "idle" => {
                    spec.idle = match v {
                        "silence" => Idle::Silence,
                        "disconnect" => Idle::Disconnect,
                        _ => return Err(format!("`{s}`: write idle=silence or idle=disconnect")),
                    }
                }
                "password" => {
                    return Err(format!(
                        "`{s}`: the password is never written in station.yaml; put it in a file \
                         readable only by Loa and write password_file=PATH"
                    ))
                }
                _ => {
                    return Err(format!(
                    "`{s}`: unknown setting `{k}`; write password_file, bitrate, channels or idle"
                ))
                }
            }
        }
        spec.password_file = password_file.ok_or_else(|| {
            format!("`{s}` needs password_file=PATH, a file holding the source password")
        })?;
        spec.password()?;
        Ok(spec)
    }
}

/// The first line of a password file, which must not be empty.
fn read_password(path: &Path) -> Result<String, String> {
    let fix = "write the Icecast source password in it, readable by the user Loa runs as";
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("password file {}: {e}; {fix}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(format!("password file {} is empty; {fix}", path.display()));
    }
    Ok(line.to_string())
}

impl fmt::Display for IcecastSpec {
    /// The spec as written, every setting spelled out (never the password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "icecasts" } else { "icecast" };
        write!(
            f,
            "{scheme}://{}@{}:{}{}?password_file={}&bitrate={}&channels={}&idle={}",
            self.user,
            self.host,
            self.port,
            self.mount,
            self.password_file.display(),
            self.bitrate,
            if self.stereo { "stereo" } else { "mono" },
            match self.idle {
                Idle::Silence => "silence",
                Idle::Disconnect => "disconnect",
            }
        )
    }
}

impl OutputSpec {
    /// Parses `device:NAME`, `wav:PATH`, `null` or `icecast://...`; a
    /// relative WAV or password file path resolves against `base` (the
    /// configuration directory). The password file is read here, so that a
    /// missing one is a configuration error. The error is one line that
    /// says what to write.
    pub fn parse(s: &str, base: &Path) -> Result<OutputSpec, String> {
        if s == "null" {
            return Ok(OutputSpec::Null);
        }
        if s.starts_with("icecast://") || s.starts_with("icecasts://") {
            return IcecastSpec::parse(s, base).map(OutputSpec::Icecast);
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
            "output `{s}` is not one of device:NAME, wav:PATH, null or icecast://USER@HOST:PORT/MOUNT?password_file=PATH"
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
            OutputSpec::Icecast(i) => i.fmt(f),
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
            "output `speaker` is not one of device:NAME, wav:PATH, null or icecast://USER@HOST:PORT/MOUNT?password_file=PATH"
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
    fn icecast_mounts_parse_with_their_password_in_a_file() {
        let dir = std::env::temp_dir().join(format!("loa-core-ice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ice.pass"), "hackme\n").unwrap();
        let Ok(OutputSpec::Icecast(i)) = OutputSpec::parse(
            "icecast://radio.example:8000/xa.mp3?password_file=ice.pass",
            &dir,
        ) else {
            panic!("not parsed");
        };
        assert_eq!(i.user, "source");
        assert_eq!((i.bitrate, i.stereo, i.idle), (64, false, Idle::Silence));
        assert_eq!(i.password_file, dir.join("ice.pass"));
        assert_eq!(i.password().unwrap(), "hackme");
        assert_eq!(i.public_url(), "http://radio.example:8000/xa.mp3");
        let written = "icecasts://loa@10.0.0.2:8443/a/b.mp3?password_file=ice.pass&bitrate=128&channels=stereo&idle=disconnect";
        let Ok(OutputSpec::Icecast(t)) = OutputSpec::parse(written, &dir) else {
            panic!("not parsed");
        };
        assert!(t.tls && t.stereo && t.idle == Idle::Disconnect && t.bitrate == 128);
        assert_eq!(t.public_url(), "https://10.0.0.2:8443/a/b.mp3");
        let again = OutputSpec::Icecast(t.clone()).to_string();
        assert_eq!(OutputSpec::parse(&again, &dir), Ok(OutputSpec::Icecast(t)));
        let missing = OutputSpec::parse("icecast://h/m?password_file=nope.pass", &dir).unwrap_err();
        assert!(
            missing.contains("nope.pass") && missing.contains("write the Icecast source password"),
            "{missing}"
        );
        for (bad, says) in [
            ("icecast://h/m", "password_file"),
            (
                "icecast://h/m?password_file=ice.pass&password=x",
                "never written",
            ),
            ("icecast://u:pw@h/m?password_file=ice.pass", "only the user"),
            (
                "icecast://h/m?password_file=ice.pass&bitrate=65",
                "not an MP3 bit rate",
            ),
            ("icecast://h?password_file=ice.pass", "names no mount"),
            ("icecast://h:x/m?password_file=ice.pass", "not a port"),
        ] {
            let e = OutputSpec::parse(bad, &dir).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
