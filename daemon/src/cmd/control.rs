//! `loa now`, `loa stop` and `loa status`: the control socket's client
//! (SPEC section 8, docs/control.md). Each sends one request line to the
//! running daemon and prints its answer; the daemon's side is
//! runtime/control.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::outside::visible;
use crate::runtime::control::{user_name, GROUP, SOCKET_NAME, START_WAIT, SYSTEM_SOCKET};

/// Why a command could not talk to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no Loa daemon is running (no control socket answers at {0}); start it with `sudo systemctl start loa`")]
    NoDaemon(String),
    #[error("cannot use {path}: permission denied; user {user} is not in group {GROUP} (an administrator adds you with `sudo adduser {user} {GROUP}`, then log in again)")]
    Denied { path: String, user: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("the daemon answered something that is not JSON: {0}")]
    BadAnswer(String),
}

/// The sockets a client tries, in order: $LOA_SOCKET alone when set; else
/// the configuration's state directory (a daemon run by hand), then
/// /run/loa (the service).
pub fn candidates(config_dir: &Path) -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("LOA_SOCKET").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = Vec::new();
    if let Some(c) = loa_schedules::load::load_dir(config_dir).config {
        out.push(c.station.paths.state.join(SOCKET_NAME));
    }
    let sys = PathBuf::from(SYSTEM_SOCKET);
    if !out.contains(&sys) {
        out.push(sys);
    }
    out
}

/// Sends one request and returns the answer.
pub fn request(config_dir: &Path, body: &Value, timeout: Duration) -> Result<Value, ClientError> {
    use std::io::{BufRead, Write};
    let paths = candidates(config_dir);
    let mut stream = None;
    for p in &paths {
        match std::os::unix::net::UnixStream::connect(p) {
            Ok(s) => {
                stream = Some((s, p.clone()));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let uid = rustix::process::getuid().as_raw();
                return Err(ClientError::Denied {
                    path: p.display().to_string(),
                    user: user_name(uid).unwrap_or_else(|| uid.to_string()),
                });
            }
            Err(_) => continue, // missing, or left by a daemon that is gone
        }
    }
    let Some((mut s, path)) = stream else {
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ClientError::NoDaemon(list.join(" or ")));
    };
    let io_err = |source: io::Error| ClientError::Io {
        path: path.display().to_string(),
        source,
    };
    s.set_read_timeout(Some(timeout)).map_err(io_err)?;
    let line = format!("{body}\n");
    // A daemon that refuses the peer may hang up early: its answer is
    // still there to read.
    if let Err(e) = s.write_all(line.as_bytes()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(io_err(e));
        }
    }
    let mut answer = String::new();
    io::BufReader::new(&s)
        .read_line(&mut answer)
        .map_err(io_err)?;
    if answer.trim().is_empty() {
        return Err(ClientError::NoDaemon(path.display().to_string()));
    }
    serde_json::from_str(answer.trim()).map_err(|_| ClientError::BadAnswer(answer))
}

/// Arguments of `loa now`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["text", "file", "live"]))]
pub struct NowArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// Read this text aloud (text-to-speech).
    #[arg(long, value_name = "T")]
    pub text: Option<String>,
    /// The voice to read the text in, instead of the station's (e.g. vi-vn-x-south).
    #[arg(long, value_name = "V", requires = "text")]
    pub voice: Option<String>,
    /// Print the text as the TTS engine will read it before sending it.
    #[arg(long, requires = "text")]
    pub show: bool,
    /// Play a recording from the media directory (a path inside it, or relative to it).
    #[arg(long, value_name = "F")]
    pub file: Option<String>,
    /// Put the microphone (a capture device; default: `default`) on the air until `loa stop`.
    #[arg(long, value_name = "INPUT", num_args = 0..=1, default_missing_value = "default")]
    pub live: Option<String>,
    /// filler, normal, priority or emergency.
    #[arg(long, value_name = "P", default_value = "normal")]
    pub priority: String,
    /// Zone ids, comma-separated (default: every zone).
    #[arg(long, value_name = "Z,..", value_delimiter = ',')]
    pub zones: Vec<String>,
    /// Text for the LED boards and the airtime log (default: the start of the text, the file name, or "Phát trực tiếp").
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Air the text or file this many times, 2 s apart.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: u32,
}

/// Arguments of `loa stop`.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// An announcement id (`loa status` lists them), or `all` to cut whatever airs,
    /// the scheduled program included. Without it: every announcement and live session.
    #[arg(value_name = "ID|all")]
    pub target: Option<String>,
}

/// Arguments of `loa status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
    /// Output format (json: the same document as the retained MQTT status).
    #[arg(long, value_enum, default_value_t = crate::cli::Format::Text)]
    pub format: crate::cli::Format,
}

fn fail(e: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!("loa: {e}");
    std::process::ExitCode::from(1)
}

/// The daemon's refusal, one line.
fn refused(a: &Value) -> std::process::ExitCode {
    let code = a.get("code").and_then(Value::as_str).unwrap_or("error");
    let why = a.get("error").and_then(Value::as_str).unwrap_or("refused");
    fail(format!("refused ({code}): {why}"))
}

pub fn now_cmd(args: &NowArgs) -> anyhow::Result<std::process::ExitCode> {
    let mut body = json!({ "cmd": "now", "priority": args.priority });
    if let Some(t) = &args.text {
        body["text"] = json!(t);
        if args.show {
            let station = crate::cmd::play::station(&args.config.config, "now");
            let tts = crate::cmd::say::tts_config(station.as_ref());
            println!("{}", loa_audio::tts::spoken(&tts, t));
        }
    }
    if let Some(v) = &args.voice {
        body["voice"] = json!(v);
    }
    if let Some(f) = &args.file {
        // A path that exists from here is sent whole; the daemon checks it
        // lies inside the media directory.
        let p = Path::new(f);
        let f = match p.canonicalize() {
            Ok(abs) if !p.is_absolute() => abs.display().to_string(),
            _ => f.clone(),
        };
        body["file"] = json!(f);
    }
    if let Some(l) = &args.live {
        body["live"] = json!(l);
    }
    if !args.zones.is_empty() {
        body["zones"] = json!(args.zones);
    }
    if let Some(t) = &args.title {
        body["title"] = json!(t);
    }
    if args.repeat != 1 {
        body["repeat"] = json!(args.repeat);
    }
    let a = match request(
        &args.config.config,
        &body,
        START_WAIT + Duration::from_secs(15),
    ) {
        Ok(a) => a,
        Err(e) => return Ok(fail(e)),
    };
    if a.get("ok") != Some(&Value::Bool(true)) {
        return Ok(refused(&a));
    }
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let zones: Vec<String> = a
        .get("zones")
        .and_then(Value::as_array)
        .map(|z| {
            z.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let what = format!(
        "{} `{}` ({}, zones {})",
        s("id"),
        s("title"),
        s("priority"),
        zones.join(",")
    );
    match s("state").as_str() {
        "on_air" if s("kind") == "live" => println!(
            "live on air: {what}\nspeak now; end it with: loa stop {}",
            s("id")
        ),
        "on_air" => println!("on air: {what}\nstop it with: loa stop {}", s("id")),
        "ended" => println!(
            "aired: {what}{}",
            a.get("detail")
                .and_then(Value::as_str)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ),
        _ => println!(
            "accepted, not on the air yet ({}): {what}\n`loa status` shows it; `loa stop {}` cancels it",
            s("detail"),
            s("id")
        ),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

pub fn stop_cmd(args: &StopArgs) -> anyhow::Result<std::process::ExitCode> {
    let body = json!({ "cmd": "stop", "target": args.target });
    let a = match request(&args.config.config, &body, Duration::from_secs(10)) {
        Ok(a) => a,
        Err(e) => return Ok(fail(e)),
    };
    if a.get("ok") != Some(&Value::Bool(true)) {
        return Ok(refused(&a));
    }
    let stopped = a
        .get("stopped")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if stopped.is_empty() {
        println!(
            "nothing to stop: {}",
            if args.target.is_none() {
                "no announcement airs (`loa stop all` also cuts the scheduled program)"
            } else {
                "nothing airs"
            }
        );
    }
    for s in &stopped {
        let g = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
        println!(
            "stopped {} {} `{}` (fading out)",
            g("kind"),
            g("id"),
            g("title")
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

pub fn status_cmd(args: &StatusArgs) -> anyhow::Result<std::process::ExitCode> {
    let a = match request(
        &args.config.config,
        &json!({ "cmd": "status" }),
        Duration::from_secs(10),
    ) {
        Ok(a) => a,
        Err(e) => return Ok(fail(e)),
    };
    if a.get("ok") != Some(&Value::Bool(true)) {
        return Ok(refused(&a));
    }
    let doc = a.get("status").cloned().unwrap_or(Value::Null);
    match args.format {
        crate::cli::Format::Json => println!("{doc}"),
        crate::cli::Format::Text => print!("{}", status_text(&doc, &station_today(&doc))),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Today at the station: the date now at the offset the document's times carry.
fn station_today(doc: &Value) -> String {
    let stamp = ["now", "next", "link", "config"]
        .iter()
        .filter_map(|k| doc.get(*k))
        .flat_map(|v| ["since", "at"].map(|f| v.get(f).and_then(Value::as_str)))
        .flatten()
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok());
    match stamp {
        Some(t) => Utc::now()
            .with_timezone(t.offset())
            .format("%Y-%m-%d")
            .to_string(),
        None => chrono::Local::now().format("%Y-%m-%d").to_string(),
    }
}

/// `2026-11-25T10:02:11.123+07:00` → `10:02:11` (today) or `2026-11-26 06:00`.
fn short_time(t: &str, today: &str) -> String {
    if t.len() >= 19 {
        if &t[..10] == today {
            return t[11..19].to_string();
        }
        return format!("{} {}", &t[..10], &t[11..16]);
    }
    t.to_string()
}

/// The status document for a terminal: one line per fact, readable at a glance.
/// `today` is the station's date, YYYY-MM-DD (times on it show without it).
pub fn status_text(doc: &Value, today: &str) -> String {
    use std::fmt::Write;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let t = |v: &Value, k: &str| short_time(&s(v, k), today);
    let mut out = String::new();
    let station = doc.get("station").unwrap_or(&Value::Null);
    let _ = writeln!(
        out,
        "{} ({}), loa {}",
        s(station, "name"),
        s(station, "id"),
        s(doc, "version")
    );
    match doc.get("now").filter(|n| !n.is_null()) {
        Some(n) => {
            let _ = writeln!(
                out,
                "On air:    {} [{}] {}, since {}",
                s(n, "title"),
                s(n, "program"),
                s(n, "priority"),
                t(n, "since")
            );
        }
        None => {
            let _ = writeln!(out, "On air:    nothing");
        }
    }
    for a in doc
        .get("announcements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let since = match a.get("since").and_then(Value::as_str) {
            Some(x) => format!("since {}", short_time(x, today)),
            None => "waiting".into(),
        };
        let zones: Vec<&str> = a
            .get("zones")
            .and_then(Value::as_array)
            .map(|z| z.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<8} {} `{}` {}, zones {}, by {} ({}), {since}",
            s(a, "kind"),
            s(a, "id"),
            s(a, "title"),
            s(a, "priority"),
            zones.join(","),
            s(a, "requested_by"),
            s(a, "trigger"),
        );
    }
    match doc.get("next").filter(|n| !n.is_null()) {
        Some(n) => {
            let _ = writeln!(out, "Next:      {} at {}", s(n, "program"), t(n, "at"));
        }
        None => {
            let _ = writeln!(out, "Next:      nothing scheduled");
        }
    }
    let zones: BTreeMap<String, Value> = doc
        .get("zones")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if !zones.is_empty() {
        let line: Vec<String> = zones
            .iter()
            .map(|(z, st)| format!("{z} {}", st.as_str().unwrap_or("?")))
            .collect();
        let _ = writeln!(out, "Zones:     {}", line.join(" · "));
    }
    // IP cluster receivers (SPEC 7d): the box and what it last said.
    if let Some(r) = doc.get("receivers").and_then(Value::as_object) {
        let line: Vec<String> = r
            .iter()
            .map(|(zone, v)| {
                let said = match (
                    v.get("online").and_then(Value::as_bool),
                    v.get("state").and_then(Value::as_str),
                ) {
                    (None, _) => "not heard yet".to_string(),
                    (Some(false), _) => "offline".to_string(),
                    (Some(true), Some("playing")) => format!(
                        "playing, buffer {} s",
                        v.get("buffer_s").and_then(Value::as_f64).unwrap_or(0.0)
                    ),
                    (Some(true), Some(st)) => match v.get("error").and_then(Value::as_str) {
                        Some(e) => format!("{} ({})", visible(st), visible(e)),
                        None => visible(st).to_string(),
                    },
                    (Some(true), None) => "?".to_string(),
                };
                format!("{zone} {} {said}", visible(&s(v, "receiver")))
            })
            .collect();
        if !line.is_empty() {
            let _ = writeln!(out, "Receivers: {}", line.join(" · "));
        }
    }
    if let Some(b) = doc.get("boards").and_then(Value::as_object) {
        for (i, (id, text)) in b.iter().enumerate() {
            let label = if i == 0 { "Boards:" } else { "" };
            let shown = match text {
                Value::String(t) => format!("\"{t}\""),
                Value::Null => "(blank)".into(),
                other => other.to_string(),
            };
            let _ = writeln!(out, "{label:<10} {id}: {shown}");
        }
    }
    if let Some(l) = doc.get("link") {
        let state = s(l, "state");
        let line = match state.as_str() {
            "off" => "off (no mqtt: in station.yaml)".to_string(),
            _ => {
                let since = l
                    .get("since")
                    .and_then(Value::as_str)
                    .map(|x| format!(" since {}", short_time(x, today)))
                    .unwrap_or_default();
                format!("{state} to {}{since}", s(l, "broker"))
            }
        };
        let _ = writeln!(out, "MQTT:      {line}");
    }
    if let Some(o) = doc.get("outputs").and_then(Value::as_object) {
        for (i, (name, v)) in o.iter().enumerate() {
            let label = if i == 0 { "Outputs:" } else { "" };
            let state = match s(v, "state").as_str() {
                "ok" => "ok".to_string(),
                st => format!("{st} since {}: {}", t(v, "since"), s(v, "reason")),
            };
            let _ = writeln!(out, "{label:<10} {name} ({}) {state}", s(v, "spec"));
        }
    }
    if let Some(a) = doc.get("airtime_log").filter(|a| !a.is_null()) {
        let line = match s(a, "state").as_str() {
            "failing" => format!(
                "airtime log: {}: {} rows waiting",
                s(a, "reason"),
                a.get("waiting").and_then(Value::as_u64).unwrap_or(0)
            ),
            st => st.to_string(),
        };
        let _ = writeln!(out, "Log:       {line}");
        if let Some(n) = a.get("notice").and_then(Value::as_str) {
            let _ = writeln!(out, "           {n}");
        }
    }
    if let Some(c) = doc.get("config").filter(|c| !c.is_null()) {
        let errors: Vec<&str> = c
            .get("errors")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let line = match s(c, "result").as_str() {
            "ok" => format!("{} at {}, ok", s(c, "event"), t(c, "at")),
            r => format!(
                "{} at {} {r} ({} error(s)); the last good configuration stays on air",
                s(c, "event"),
                t(c, "at"),
                errors.len()
            ),
        };
        let _ = writeln!(out, "Config:    {line}");
        for e in errors {
            let _ = writeln!(out, "           {e}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_reads_at_a_glance() {
        let doc = json!({
            "state": "online", "version": "0.1.0",
            "now": {"program": "ban-tin-sang", "title": "Bản tin sáng", "priority": "normal",
                    "since": "2026-11-25T05:30:00.000+07:00"},
            "next": {"program": "vov1", "at": "2026-11-26T06:00:00.000+07:00"},
            "zones": {"thon-1": "on", "cho": "fault"},
            "receivers": {
                "cum-1": {"receiver": "rx-1", "online": true, "state": "playing", "buffer_s": 2.4},
                "cum-2": {"receiver": "rx-2", "online": true, "state": "connecting",
                          "error": "connection refused"},
                "cum-3": {"receiver": "rx-3", "online": false},
                "cum-4": {"receiver": "rx-4", "online": null}},
            "announcements": [{"id": "cli-20261125-053100-ab12", "title": "Phát trực tiếp",
                "priority": "emergency", "kind": "live", "zones": ["thon-1"], "trigger": "cli",
                "requested_by": "nam", "since": "2026-11-25T05:31:00.000+07:00"}],
            "boards": {"bang-uy-ban": "Trọng dân, gần dân"},
            "link": {"state": "connected", "broker": "mqtt://10.0.0.2:1883",
                     "since": "2026-11-25T05:00:00.000+07:00"},
            "outputs": {"main": {"spec": "device:default", "state": "ok"}},
            "config": {"event": "reload", "at": "2026-11-25T05:10:00.000+07:00",
                       "result": "refused", "errors": ["schedules/a.yaml:3:5: unknown key `tittle`"]},
            "station": {"id": "au-lau", "name": "Đài xã Âu Lâu", "timezone": "Asia/Ho_Chi_Minh"}
        });
        let t = status_text(&doc, "2026-11-25");
        assert!(t.starts_with("Đài xã Âu Lâu (au-lau), loa 0.1.0\n"), "{t}");
        assert!(
            t.contains("On air:    Bản tin sáng [ban-tin-sang] normal, since 05:30:00"),
            "{t}"
        );
        assert!(
            t.contains("live     cli-20261125-053100-ab12 `Phát trực tiếp` emergency"),
            "{t}"
        );
        assert!(t.contains("by nam (cli), since 05:31:00"), "{t}");
        assert!(t.contains("Next:      vov1 at 2026-11-26 06:00"), "{t}");
        assert!(t.contains("Zones:     cho fault · thon-1 on"), "{t}");
        assert!(
            t.contains("Receivers: cum-1 rx-1 playing, buffer 2.4 s · cum-2 rx-2 connecting (connection refused) · cum-3 rx-3 offline · cum-4 rx-4 not heard yet"),
            "{t}"
        );
        assert!(t.contains("bang-uy-ban: \"Trọng dân, gần dân\""), "{t}");
        assert!(
            t.contains("MQTT:      connected to mqtt://10.0.0.2:1883 since 05:00:00"),
            "{t}"
        );
        assert!(t.contains("main (device:default) ok"), "{t}");
        assert!(t.contains("reload at 05:10:00 refused (1 error(s))"), "{t}");
        assert!(
            t.contains("schedules/a.yaml:3:5: unknown key `tittle`"),
            "{t}"
        );
    }
}
