//! The control requests (docs/control.md): each line typed and bounded
//! before it reaches the scheduler's loop, and what `now` and `stop` do
//! there (a `now` checked and made into an announcement, a `stop` matched
//! against what airs).

use chrono::{DateTime, Utc};
use loa_schedules::{Config, Priority};
use serde::de::IgnoredAny;
use serde_json::{json, Value};
use tracing::info;

use crate::outside::visible;
use crate::runtime::airtime::Trigger;
use crate::runtime::engine::Engine;
use crate::runtime::scheduler::{quiet_hours_hold, Announce, Scheduler};
use crate::wire::{from_value, Bounded, Level, SpokenText, VoiceName, Whole, Zones};

use super::{refusal, Peer, EXPIRES, TITLE_CHARS};

/// One request line, typed (docs/control.md). A line that is not one of
/// these is refused `malformed` on its connection and never reaches the loop.
#[derive(Debug)]
pub enum ControlRequest {
    Now(NowRequest),
    Stop(StopRequest),
    Status,
}

/// The longest path a `file` may name (Linux's PATH_MAX).
const PATH_BYTES: usize = 4096;
/// The longest `stop` target: announcement ids are at most 64 characters.
const TARGET_BYTES: usize = 64;

/// `loa now`: exactly one of text, file, live (checked in [`now_request`]).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NowRequest {
    #[serde(rename = "cmd")]
    _cmd: IgnoredAny,
    text: Option<SpokenText>,
    voice: Option<VoiceName>,
    file: Option<Bounded<PATH_BYTES>>,
    live: Option<CaptureDevice>,
    priority: Option<Level>,
    zones: Option<Zones>,
    title: Option<String>,
    repeat: Option<Whole<1, 10>>,
}

/// `loa stop [ID|all]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    #[serde(rename = "cmd")]
    _cmd: IgnoredAny,
    target: Option<Bounded<TARGET_BYTES>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    #[serde(rename = "cmd")]
    _cmd: IgnoredAny,
}

/// A request's kind, read first so that the rest is read as that kind.
#[derive(serde::Deserialize)]
struct Head {
    cmd: Kind,
}

#[derive(serde::Deserialize)]
#[serde(try_from = "Bounded<16>")]
enum Kind {
    Now,
    Stop,
    Status,
}

impl TryFrom<Bounded<16>> for Kind {
    type Error = String;
    fn try_from(word: Bounded<16>) -> Result<Kind, String> {
        match word.0.as_str() {
            "now" => Ok(Kind::Now),
            "stop" => Ok(Kind::Stop),
            "status" => Ok(Kind::Status),
            other => Err(format!(
                "`{}` is not one of now, stop, status",
                visible(other)
            )),
        }
    }
}

impl ControlRequest {
    /// One request line; the reason of a refusal names the field and what
    /// it allows (its code is `malformed`).
    pub fn parse(line: &str) -> Result<ControlRequest, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        if !value.is_object() {
            return Err("a request is a JSON object on one line".into());
        }
        if value.get("cmd").is_none() {
            return Err("a request is a JSON object with \"cmd\": now, stop or status".into());
        }
        let head: Head = from_value(&value)?;
        Ok(match head.cmd {
            Kind::Now => ControlRequest::Now(from_value(&value)?),
            Kind::Stop => ControlRequest::Stop(from_value(&value)?),
            Kind::Status => {
                from_value::<StatusRequest>(&value)?;
                ControlRequest::Status
            }
        })
    }
}

/// A capture device's name as `loa devices` lists it: 1 to 200 bytes, no
/// spaces or control characters.
#[derive(Debug)]
pub struct CaptureDevice(String);

impl<'de> serde::Deserialize<'de> for CaptureDevice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > 200 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(serde::de::Error::custom(format!(
                "capture device `{}` is not a device name (1 to 200 bytes, no spaces): `loa devices` lists the inputs' names",
                visible(&s.chars().take(40).collect::<String>())
            )));
        }
        Ok(CaptureDevice(s))
    }
}

/// A `now` request checked and made into an announcement, or refused with
/// a code (the remote refusal codes where they apply) and a reason.
pub(super) fn now_request(
    body: &NowRequest,
    peer: &Peer,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Announce, (&'static str, String)> {
    let st = &config.station;
    let malformed = |why: String| ("malformed", why);
    let (text, file, live) = (&body.text, &body.file, &body.live);
    let n = [text.is_some(), file.is_some(), live.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if n != 1 {
        return Err(malformed(
            "give exactly one of \"text\", \"file\" or \"live\"".into(),
        ));
    }
    if body.voice.is_some() && text.is_none() {
        return Err(malformed(
            "\"voice\" is for a text only: a file or the microphone is heard as it is".into(),
        ));
    }
    if let Some(why) = body
        .voice
        .as_ref()
        .and_then(|VoiceName(v)| crate::probe::missing_voice(&st.tts.command, v))
    {
        return Err(("bad_voice", why));
    }
    let priority = body.priority.map_or(Priority::Normal, |l| l.0);
    let station_zones: Vec<&str> = st.zones.iter().map(|z| z.id.as_str()).collect();
    let zones: Vec<String> = match &body.zones {
        None | Some(Zones::All) => station_zones.iter().map(|z| z.to_string()).collect(),
        Some(Zones::List(list)) => {
            if let Some(z) = list.iter().find(|z| !station_zones.contains(&z.as_str())) {
                let hint = loa_schedules::diag::did_you_mean(z, station_zones.iter().copied())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                return Err((
                    "no_zone",
                    format!(
                        "there is no zone `{}`; {hint}zones: {}",
                        visible(z),
                        station_zones.join(", ")
                    ),
                ));
            }
            // station.yaml order, once each.
            station_zones
                .iter()
                .filter(|z| list.iter().any(|a| a == *z))
                .map(|z| z.to_string())
                .collect()
        }
    };
    if zones.is_empty() {
        return Err(("no_zone", "no zone given".into()));
    }
    let repeat = body.repeat.map_or(1, |r| r.get() as u32);
    if let Some(q) = quiet_hours_hold(st.policy.quiet_hours, st.timezone, priority, now) {
        return Err((
            "quiet_hours",
            format!(
                "only emergency may sound in quiet hours ({}); add --priority emergency if it is one",
                loa_schedules::load::fmt_window(&q)
            ),
        ));
    }
    let (media, kind, source, default_title) = if let Some(SpokenText(t)) = text {
        (
            loa_audio::Media::Tts {
                text: t.to_string(),
                voice: body
                    .voice
                    .as_ref()
                    .map_or_else(Default::default, |VoiceName(v)| loa_core::Voice::named(v)),
            },
            "tts",
            t.to_string(),
            crate::outside::title(t, TITLE_CHARS).unwrap_or_default(),
        )
    } else if let Some(Bounded(f)) = file {
        let path = crate::runtime::remote::media_file(&st.paths.media, f).map_err(|(c, why)| {
            (
                c,
                format!(
                    "{why}; copy the recording into {} first",
                    st.paths.media.display()
                ),
            )
        })?;
        let name = path
            .file_name()
            .and_then(|n| crate::outside::title(&n.to_string_lossy(), TITLE_CHARS))
            .unwrap_or_default();
        let s = path.display().to_string();
        (loa_audio::Media::file(path), "file", s, name)
    } else {
        let input = live.as_ref().map_or("default", |d| d.0.as_str());
        if repeat != 1 {
            return Err(malformed("a live session cannot repeat".into()));
        }
        (
            loa_audio::Media::Live {
                input: input.to_string(),
            },
            "live",
            input.to_string(),
            "Phát trực tiếp".to_string(),
        )
    };
    let title = body
        .title
        .as_deref()
        .and_then(|t| crate::outside::title(t, TITLE_CHARS))
        .unwrap_or(default_title);
    Ok(Announce {
        id: new_id(now),
        title,
        priority,
        zones,
        media,
        kind: kind.into(),
        source,
        length: None,
        repeat,
        trigger: Trigger::Cli,
        requested_by: peer.user.clone(),
        expires: now + chrono::Duration::from_std(EXPIRES).unwrap_or_default(),
    })
}

/// `cli-YYYYMMDD-HHMMSS-xxxx`: readable, sortable, unique enough for a PC.
fn new_id(now: DateTime<Utc>) -> String {
    format!(
        "cli-{}-{:04x}",
        now.format("%Y%m%d-%H%M%S"),
        fastrand::u16(..)
    )
}

/// `stop`: an announcement by id; without a target every announcement;
/// `all` whatever airs, the scheduled program included.
pub(super) fn stop<E: Engine>(body: &StopRequest, peer: &Peer, sched: &mut Scheduler<E>) -> Value {
    let target = body.target.as_ref().map(|t| t.0.as_str());
    let views = sched.announcements();
    let title_of = |id: &str| {
        views
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.title.clone())
            .unwrap_or_default()
    };
    let stopped: Vec<Value> = match target {
        Some("all") => {
            let reason = format!("stopped by {} at the PC (loa stop all)", peer.user);
            sched
                .stop_airing(&reason)
                .into_iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "title": s.title,
                        "kind": if s.announcement { "announcement" } else { "program" },
                    })
                })
                .collect()
        }
        _ => {
            if let Some(id) = target.filter(|id| !views.iter().any(|v| v.id == *id)) {
                let known: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
                return refusal(
                    "unknown_id",
                    &if known.is_empty() {
                        format!("no announcement `{id}` airs (none does now)")
                    } else {
                        format!(
                            "no announcement `{id}` airs; these do: {}",
                            known.join(", ")
                        )
                    },
                );
            }
            let reason = format!("stopped by {} at the PC (loa stop)", peer.user);
            sched
                .stop_announcements(target, &reason)
                .into_iter()
                .map(|id| json!({ "id": id, "title": title_of(&id), "kind": "announcement" }))
                .collect()
        }
    };
    info!(
        "{} at the PC: stop {}: {} stopped",
        visible(&peer.user),
        visible(target.unwrap_or("(announcements)")),
        stopped.len()
    );
    json!({ "ok": true, "stopped": stopped })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A station with zones thon-1 and thon-2 and a media directory.
    fn station() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("media")).unwrap();
        std::fs::write(
            dir.path().join("station.yaml"),
            "station: { id: e2e, name: x, timezone: Asia/Ho_Chi_Minh }\n\
             paths: { media: media, state: state }\noutputs: { main: \"null\" }\n\
             zones: { thon-1: { output: main }, thon-2: { output: main } }\n",
        )
        .unwrap();
        let loaded = loa_schedules::load_dir(dir.path());
        assert!(loaded.diagnostics.is_valid(), "{:?}", loaded.diagnostics);
        (dir, loaded.config.unwrap())
    }

    /// The hostile corpus (tests/corpus/control.tsv): every line is refused
    /// with its code and a one-line reason naming the field, by the parser
    /// on the connection or by the checks of `now` (a stop of an unknown id
    /// needs the scheduler: tests/tests/hostile_corpus.rs covers it).
    #[test]
    fn the_hostile_corpus_is_refused_field_by_field() {
        let (_dir, config) = station();
        let peer = Peer {
            uid: 0,
            pid: None,
            user: "nam".into(),
            primary_gid: None,
        };
        let now = Utc::now();
        let brief = loa_e2e::corpus::brief;
        let cases = loa_e2e::corpus::control();
        assert!(cases.len() > 50);
        for c in cases.iter().filter(|c| c.code != "unknown_id") {
            let (code, why) = match ControlRequest::parse(&c.line) {
                Err(why) => ("malformed", why),
                Ok(ControlRequest::Now(n)) => match now_request(&n, &peer, &config, now) {
                    Err(e) => e,
                    Ok(a) => panic!("{}: accepted as {}", brief(&c.line), a.title),
                },
                Ok(other) => panic!("{}: accepted as {other:?}", brief(&c.line)),
            };
            assert_eq!(code, c.code, "{}: {why}", brief(&c.line));
            assert!(why.contains(&c.needle), "{}: {why}", brief(&c.line));
            assert!(!why.contains('\n') && why.chars().count() <= 301, "{why}");
        }
    }

    #[test]
    fn the_clients_requests_are_read_as_before() {
        for line in [
            r#"{"cmd":"status"}"#,
            r#"{"cmd":"stop","target":null}"#,
            r#"{"cmd":"stop","target":"all"}"#,
            r#"{"cmd":"now","priority":"normal","text":"Họp dân","zones":["thon-2"],"title":"Họp","repeat":10}"#,
            r#"{"cmd":"now","priority":"emergency","live":"default"}"#,
            r#"{"cmd":"now","file":"/srv/media/a.mp3","zones":"all","repeat":null}"#,
        ] {
            assert!(ControlRequest::parse(line).is_ok(), "{line}");
        }
    }
}
