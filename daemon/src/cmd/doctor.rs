//! `loa doctor`: is this PC ready to air the station? Each check prints one
//! line, `ok|warn|fail  <what>: <detail; what to do>`; exit 1 when any fails.
//! It reads and probes but changes nothing: no file of the station is
//! written, the airtime log is opened read-only, and the broker login uses
//! its own client id and no last will, so a running daemon is not disturbed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use loa_schedules::{Chime, Config, OutputSpec, PlaylistEntries, Source};

use crate::cli::ConfigArg;
use crate::probe::AudioProbe;

/// Arguments of `loa doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub detail: String,
}

impl Finding {
    fn new(level: Level, what: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            level,
            what: what.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        };
        write!(f, "{level:<4}  {}: {}", self.what, self.detail)
    }
}

/// Exit 0 when nothing failed (warnings allowed), 1 otherwise.
fn exit_code(findings: &[Finding]) -> ExitCode {
    if findings.iter().any(|f| f.level == Level::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The closing line: how many checks of each level.
fn summary(findings: &[Finding]) -> String {
    let n = |l| findings.iter().filter(|f| f.level == l).count();
    format!(
        "{} ok, {} warning(s), {} failure(s)",
        n(Level::Ok),
        n(Level::Warn),
        n(Level::Fail)
    )
}

pub fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.config.config;
    let mut findings = Vec::new();
    let mut say = |f: Finding| {
        println!("{f}");
        findings.push(f);
    };
    let report = loa_schedules::check::check_dir(dir, &AudioProbe, None);
    let d = &report.diagnostics;
    match &report.config {
        Some(config) if d.is_valid() => {
            say(Finding::new(
                Level::Ok,
                "configuration",
                match d.warnings.len() {
                    0 => format!(
                        "{} is valid ({} programs, no warnings)",
                        dir.display(),
                        config.programs.len()
                    ),
                    n => format!(
                        "{} is valid ({} programs) with {n} warning(s): `loa check --config {}` lists them",
                        dir.display(),
                        config.programs.len(),
                        dir.display()
                    ),
                },
            ));
            for f in outputs(config) {
                say(f);
            }
            for f in media(config) {
                say(f);
            }
            for f in relays(config) {
                say(f);
            }
            say(broker(config));
            say(clock());
            let state = &config.station.paths.state;
            say(state_dir(state));
            say(disk_space("state", state));
            say(disk_space("media", &config.station.paths.media));
            say(airtime_log(&state.join("airtime.sqlite")));
        }
        _ => {
            say(Finding::new(
                Level::Fail,
                "configuration",
                format!(
                    "{} has {} error(s); run `loa check --config {}` to see and fix them (the other checks need a valid configuration)",
                    dir.display(),
                    d.errors.len(),
                    dir.display()
                ),
            ));
            say(clock());
        }
    }
    println!("{}", summary(&findings));
    Ok(exit_code(&findings))
}

/// Each output: a sound card listed and openable, a WAV file's directory
/// writable (the file itself is left alone), an Icecast mount taking Loa
/// as its source, null always fine.
fn outputs(config: &Config) -> Vec<Finding> {
    let devices = loa_audio::list_devices();
    config
        .station
        .outputs
        .iter()
        .map(|o| {
            let what = format!("output {}", o.name);
            match &o.spec {
                OutputSpec::Null => Finding::new(Level::Ok, what, "null: audio is discarded"),
                OutputSpec::Wav(path) => {
                    let parent = path
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new("."));
                    match tempfile::NamedTempFile::new_in(parent) {
                        Ok(_) => Finding::new(
                            Level::Ok,
                            what,
                            format!("{}: its directory is writable", o.spec),
                        ),
                        Err(e) => Finding::new(
                            Level::Fail,
                            what,
                            format!(
                                "{}: cannot write in {}: {e}; create it or give user loa write access",
                                o.spec,
                                parent.display()
                            ),
                        ),
                    }
                }
                OutputSpec::Device(name) => device(what, name, &devices),
                OutputSpec::Icecast(spec) => icecast(what, spec),
            }
        })
        .collect()
}

/// Connects as the mount's source and leaves at once. A mount already
/// taken is most likely the running daemon's own: a warning, not a failure.
fn icecast(what: String, spec: &loa_schedules::IcecastSpec) -> Finding {
    use loa_audio::IcecastRefusal;
    match loa_audio::check_icecast(spec) {
        Ok(()) => Finding::new(
            Level::Ok,
            what,
            format!("{} takes Loa as its source", spec.public_url()),
        ),
        Err(IcecastRefusal::InUse(m)) => Finding::new(
            Level::Warn,
            what,
            format!("{m} (a running `loa run` holds it: fine)"),
        ),
        Err(e) => Finding::new(Level::Fail, what, e.to_string()),
    }
}

fn device(
    what: String,
    name: &str,
    devices: &Result<Vec<loa_audio::AudioDevice>, loa_audio::OutputError>,
) -> Finding {
    let listed = match devices {
        Ok(list) => list.iter().any(|d| d.output && d.name == name),
        Err(_) => false,
    };
    // Names like plughw:CARD=X,DEV=0 open even when cpal does not list them
    // in that spelling: the open attempt decides.
    let (tx, _rx) = std::sync::mpsc::channel();
    let spec = OutputSpec::Device(name.to_string());
    match loa_audio::open_output(&spec, loa_audio::Clock::Real, tx) {
        Ok(output) => {
            drop(output);
            Finding::new(Level::Ok, what, format!("device:{name} opens"))
        }
        Err(e) => {
            let reason = e.to_string();
            // A card held by the running daemon (hw: devices are exclusive)
            // is in use, not missing.
            let busy = reason.to_lowercase().contains("busy");
            let level = if busy { Level::Warn } else { Level::Fail };
            let hint = if busy {
                "it is in use, maybe by the running `loa run`; stop it to test the card"
            } else if listed {
                "the card is listed but will not open; check that user loa is in group audio"
            } else {
                "plug the card in, or pick a name `loa devices` lists"
            };
            Finding::new(level, what, format!("{reason}; {hint}"))
        }
    }
}

/// The media directory, and every file the schedules name.
fn media(config: &Config) -> Vec<Finding> {
    let dir = &config.station.paths.media;
    if let Err(e) = std::fs::read_dir(dir) {
        return vec![Finding::new(
            Level::Fail,
            "media",
            format!(
                "cannot read {}: {e}; create it (owned by loa:loa, mode 2770) or fix paths.media",
                dir.display()
            ),
        )];
    }
    let mut named: Vec<PathBuf> = Vec::new();
    let mut globs: Vec<String> = Vec::new();
    for p in &config.programs {
        for item in &p.items {
            match &item.source {
                Source::File(f) => named.push(f.clone()),
                Source::Newest { glob, .. } => globs.push(glob.clone()),
                Source::Playlist { entries, .. } => match entries {
                    PlaylistEntries::Files(files) => named.extend(files.iter().cloned()),
                    PlaylistEntries::Glob(g) => globs.push(g.clone()),
                },
                Source::Stream { fallback, .. } => named.extend(fallback.iter().cloned()),
                _ => {}
            }
        }
    }
    if let Chime::File(f) = &config.station.policy.chime {
        named.push(f.clone());
    }
    named.sort();
    named.dedup();
    globs.sort();
    globs.dedup();
    let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).display().to_string();
    let missing: Vec<&PathBuf> = named.iter().filter(|f| !f.is_file()).collect();
    let unmatched: Vec<&String> = globs
        .iter()
        .filter(|g| loa_core::newest(g).is_err())
        .collect();
    let mut out = Vec::new();
    const SHOWN: usize = 5;
    for f in missing.iter().take(SHOWN) {
        out.push(Finding::new(
            Level::Warn,
            "media",
            format!(
                "{} is missing from {}; copy it there or change the schedule (it is skipped when its turn comes)",
                rel(f),
                dir.display()
            ),
        ));
    }
    if missing.len() > SHOWN {
        out.push(Finding::new(
            Level::Warn,
            "media",
            format!(
                "and {} more missing file(s); `loa check` lists them all",
                missing.len() - SHOWN
            ),
        ));
    }
    for g in unmatched.iter().take(SHOWN) {
        out.push(Finding::new(
            Level::Warn,
            "media",
            format!(
                "no file matches {} yet; copy one into {}",
                rel(Path::new(g.as_str())),
                dir.display()
            ),
        ));
    }
    if missing.is_empty() && unmatched.is_empty() {
        out.push(Finding::new(
            Level::Ok,
            "media",
            format!(
                "{} is readable and holds the {} file(s) the schedules name",
                dir.display(),
                named.len()
            ),
        ));
    }
    out
}

/// Each relay source, fetched once: a dead one warns (the relay airs its
/// other sources or its fallback meanwhile).
fn relays(config: &Config) -> Vec<Finding> {
    let sources = crate::cmd::online::relay_sources(config);
    if sources.is_empty() {
        return vec![Finding::new(
            Level::Ok,
            "relays",
            "the schedules relay no station",
        )];
    }
    crate::cmd::online::probe_all(sources, crate::cmd::online::fetch)
        .iter()
        .map(|p| {
            let s = &p.source;
            let what = format!("relay {} item {} source {}", s.program, s.item, s.number);
            let found = crate::cmd::online::describe(p);
            match p.result {
                Ok(_) => Finding::new(Level::Ok, what, format!("{}: {found}", s.url)),
                Err(_) => Finding::new(
                    Level::Warn,
                    what,
                    format!("{}: {found}; {}", s.url, crate::cmd::online::advice(s)),
                ),
            }
        })
        .collect()
}

/// Logs in to the broker with the station's credentials (MQTT CONNECT and
/// CONNACK), under a client id of its own and without a last will.
fn broker(config: &Config) -> Finding {
    let Some(m) = &config.station.mqtt else {
        return Finding::new(
            Level::Ok,
            "broker",
            "no mqtt in station.yaml: schedules air, remote announcements and relays are off",
        );
    };
    let mut link = crate::runtime::mqtt::link::LinkConfig::from_station(
        m,
        crate::runtime::airtime::log_path(&config.station),
    );
    // The daemon's own id would make the broker drop the running daemon.
    link.client_id = format!("{}-doctor", link.client_id);
    let what = "broker";
    let url = &m.url;
    let options = match crate::runtime::mqtt::link::connect_options(&link) {
        Ok(o) => o,
        Err(e) => return Finding::new(Level::Fail, what, format!("{url}: {e:#}")),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Finding::new(Level::Fail, what, format!("cannot start: {e}")),
    };
    let login = rt.block_on(async {
        let (client, mut events) = rumqttc::v5::AsyncClient::new(options, 10);
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match events.poll().await {
                    Ok(rumqttc::v5::Event::Incoming(
                        rumqttc::v5::mqttbytes::v5::Packet::ConnAck(_),
                    )) => {
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(e) => return Err(crate::runtime::mqtt::link::why(&e)),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("did not answer within 5 s".to_string()));
        if outcome.is_ok() {
            // Send DISCONNECT so that the broker logs a clean goodbye.
            let _ = client.disconnect().await;
            let _ = tokio::time::timeout(Duration::from_millis(500), events.poll()).await;
        }
        outcome
    });
    match login {
        Ok(()) => Finding::new(
            Level::Ok,
            what,
            format!(
                "{url} accepts the login{}",
                match &m.username {
                    Some(u) => format!(" as {u}"),
                    None => String::new(),
                }
            ),
        ),
        Err(why) => Finding::new(
            Level::Fail,
            what,
            format!(
                "{url}: {why}; start the broker or fix mqtt in station.yaml (remote announcements, relays and boards need it)"
            ),
        ),
    }
}

/// Whether the system clock is synchronised: systemd-timesyncd's answer when
/// systemd runs, else the kernel's (adjtimex: STA_UNSYNC), which every NTP
/// daemon keeps.
fn clock() -> Finding {
    let what = "clock";
    let need = "the schedule and signature checks need a correct clock";
    let timedatectl = std::process::Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let synced = match timedatectl.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => kernel_synchronised(),
    };
    match synced {
        Some(true) => Finding::new(Level::Ok, what, "synchronised"),
        Some(false) => Finding::new(
            Level::Warn,
            what,
            format!("not synchronised: {need}; enable NTP (timedatectl set-ntp true) or check the network to the time server"),
        ),
        None => Finding::new(
            Level::Warn,
            what,
            format!("cannot tell whether it is synchronised: {need}; check `timedatectl`"),
        ),
    }
}

/// The kernel's own word on the clock (what timedatectl's "System clock
/// synchronized" reads). ntp_adjtime has no safe wrapper in rustix or nix,
/// hence the one unsafe block of the daemon.
#[allow(unsafe_code, reason = "ntp_adjtime has no safe wrapper")]
fn kernel_synchronised() -> Option<bool> {
    // SAFETY: timex is plain integers, for which all zeroes is a valid value;
    // with modes 0 ntp_adjtime only reads the kernel's state into it, and
    // `tx` lives across the call.
    let (state, tx) = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        (libc::ntp_adjtime(&mut tx), tx)
    };
    if state < 0 {
        return None;
    }
    Some(state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0)
}

/// The state directory takes new files (the airtime log and caches live there).
fn state_dir(state: &Path) -> Finding {
    let what = "state";
    if !state.exists() {
        let parent = nearest_existing(state);
        return match tempfile::NamedTempFile::new_in(&parent) {
            Ok(_) => Finding::new(
                Level::Warn,
                what,
                format!(
                    "{} does not exist yet; `loa run` creates it (the package makes it loa:loa 2770)",
                    state.display()
                ),
            ),
            Err(e) => Finding::new(
                Level::Fail,
                what,
                format!(
                    "{} does not exist and {} is not writable ({e}); create it owned by loa:loa, mode 2770",
                    state.display(),
                    parent.display()
                ),
            ),
        };
    }
    match tempfile::NamedTempFile::new_in(state) {
        Ok(_) => Finding::new(Level::Ok, what, format!("{} is writable", state.display())),
        Err(e) => Finding::new(
            Level::Fail,
            what,
            format!(
                "cannot create a file in {}: {e}; make it owned by loa:loa, mode 2770",
                state.display()
            ),
        ),
    }
}

fn nearest_existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Free space for the user (not root's reserve) where `path` lives.
fn disk_space(what: &str, path: &Path) -> Finding {
    let at = nearest_existing(path);
    match free_bytes(&at) {
        Ok(free) => free_finding(what, &at, free),
        Err(e) => Finding::new(
            Level::Warn,
            format!("disk ({what})"),
            format!("cannot tell the free space of {}: {e}", at.display()),
        ),
    }
}

fn free_finding(what: &str, at: &Path, free: u64) -> Finding {
    let shown = if free >= GIB {
        format!("{:.1} GiB", free as f64 / GIB as f64)
    } else {
        format!("{} MiB", free / MIB)
    };
    let what = format!("disk ({what})");
    let at = at.display();
    if free < 100 * MIB {
        Finding::new(
            Level::Fail,
            what,
            format!("{shown} free on {at}: the airtime log and recordings need room; free some space now"),
        )
    } else if free < GIB {
        Finding::new(
            Level::Warn,
            what,
            format!("{shown} free on {at}: under 1 GiB; remove old recordings or enlarge the disk"),
        )
    } else {
        Finding::new(Level::Ok, what, format!("{shown} free on {at}"))
    }
}

fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(path)?;
    Ok(st.f_bavail * st.f_frsize)
}

/// The airtime log opens for writing (checked without writing: it may be in
/// use by the daemon) and reads as an airtime log.
fn airtime_log(path: &Path) -> Finding {
    let what = "airtime log";
    if !path.exists() {
        return Finding::new(
            Level::Ok,
            what,
            format!("{} not created yet; `loa run` creates it", path.display()),
        );
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        return Finding::new(
            Level::Fail,
            what,
            format!(
                "cannot open {} for writing: {e}; make it owned by loa:loa, mode 0660",
                path.display()
            ),
        );
    }
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
    if let Ok(c) = &conn {
        if let Err(e @ crate::runtime::airtime::schema::SchemaError::Newer { .. }) =
            crate::runtime::airtime::schema::check_readable(c, path)
        {
            return Finding::new(Level::Fail, what, e.to_string());
        }
    }
    let rows = conn.and_then(|c| {
        let check: String = c.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        let n = c.query_row("SELECT count(*) FROM airtime", [], |r| r.get::<_, i64>(0))?;
        Ok((check, n))
    });
    match rows {
        Ok((check, n)) if check == "ok" => Finding::new(
            Level::Ok,
            what,
            format!("{} opens ({n} rows)", path.display()),
        ),
        Ok((check, _)) => damaged(path, &check),
        Err(e) => damaged(path, &e.to_string()),
    }
}

/// A log that does not read whole: what `loa run` will do about it.
fn damaged(path: &Path, why: &str) -> Finding {
    Finding::new(
        Level::Warn,
        "airtime log",
        format!(
            "{} is damaged ({why}); at its next start loa moves it aside \
             (airtime.sqlite.damaged-<time>) and recovers the readable rows into a fresh log; \
             check the disk for errors",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_level_what_detail() {
        assert_eq!(
            Finding::new(Level::Ok, "clock", "synchronised").to_string(),
            "ok    clock: synchronised"
        );
        assert_eq!(
            Finding::new(Level::Warn, "media", "a.mp3 is missing").to_string(),
            "warn  media: a.mp3 is missing"
        );
        assert_eq!(
            Finding::new(Level::Fail, "broker", "unreachable").to_string(),
            "fail  broker: unreachable"
        );
    }

    #[test]
    fn only_a_failure_fails() {
        let ok = Finding::new(Level::Ok, "a", "b");
        let warn = Finding::new(Level::Warn, "a", "b");
        let fail = Finding::new(Level::Fail, "a", "b");
        assert_eq!(exit_code(&[ok.clone(), warn.clone()]), ExitCode::SUCCESS);
        assert_eq!(exit_code(&[]), ExitCode::SUCCESS);
        assert_eq!(
            exit_code(&[ok.clone(), fail.clone(), warn.clone()]),
            ExitCode::from(1)
        );
        assert_eq!(
            summary(&[ok, warn, fail.clone(), fail]),
            "1 ok, 1 warning(s), 2 failure(s)"
        );
    }

    #[test]
    fn disk_space_thresholds() {
        let at = Path::new("/var/lib/loa");
        assert_eq!(free_finding("state", at, 50 * MIB).level, Level::Fail);
        assert_eq!(free_finding("state", at, 500 * MIB).level, Level::Warn);
        assert_eq!(free_finding("state", at, 2 * GIB).level, Level::Ok);
        assert_eq!(
            free_finding("state", at, 500 * MIB).to_string(),
            "warn  disk (state): 500 MiB free on /var/lib/loa: under 1 GiB; remove old recordings or enlarge the disk"
        );
    }

    #[test]
    fn missing_state_dir_is_a_warning_when_it_can_be_made() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(state_dir(dir.path()).level, Level::Ok);
        assert_eq!(state_dir(&dir.path().join("a/b")).level, Level::Warn);
        assert_eq!(
            airtime_log(&dir.path().join("airtime.sqlite")).level,
            Level::Ok
        );
        // Damaged: loa will move it aside and air, so it is a warning that
        // says so.
        std::fs::write(dir.path().join("bad.sqlite"), "not sqlite").unwrap();
        let f = airtime_log(&dir.path().join("bad.sqlite"));
        assert_eq!(f.level, Level::Warn);
        assert!(f.to_string().contains("moves it aside"), "{f}");
    }
}
