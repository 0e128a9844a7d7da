//! Remote commands (SPEC section 6): the signed envelopes that arrive on
//! `P/cmd/{announce,stop,reload}` and `loa/group/<g>/cmd/...`, verified
//! against the public keys of station.yaml's `remote:` before anything airs,
//! and the acks that answer them. The station holds public keys only; the
//! signing side (`sign`) serves `loa announce` and the tests.
//!
//! [`Gate::check`] refuses, in this order (cheap and key-independent first,
//! nothing about the station's state told before the signature holds):
//! 1. `too_large`: over 64 KiB (read no further);
//!    `malformed`: not JSON, an envelope without kid/sig/body, a body that
//!    is not a JSON object;
//! 2. `retained`;
//! 3. `unknown_key`; 4. `bad_signature` (strict Ed25519 over the body's
//!    bytes exactly as received; the signature in padded, canonical base64);
//! 5. `malformed` again for a signed body missing a field or with a bad value;
//! 6. `wrong_target` (`to` or `cmd` not matching the topic);
//! 7. `clock_skew`; 8. `expired`; 9. `replay`;
//! 10. `not_allowed`; 11. `no_zone`; 12. `bad_file`; 13. `quiet_hours`;
//! 14. `rate_limited`.
//!
//! Only a command that passes them all is remembered as seen and counted for
//! the key's rate; a refused one may be fixed and sent again.
//!
//! The ack of a refusal goes to `P/ack/<id>` only once the signature held.
//! Before that (too_large, malformed, retained, unknown_key, bad_signature)
//! anyone may have chosen the id, so the ack goes to `P/ack/invalid`, with
//! the claimed id in its payload so that a sender using the wrong key hears
//! why; the bus sends such acks within a budget ([`Throttle`]), so that a
//! flood of garbage is never answered in kind.
//!
//! Rights: a key announces at the levels in its `may` and on its zones only;
//! `zones: "all"` from a key limited to some zones means all of its zones.
//! A stop needs the `stop` right, and a key may stop only what it could have
//! started ([`Gate::may_stop`]): the gate remembers (for a day, in memory) the
//! level and zones of each announcement it let through. `target: "all"`, and
//! an id the gate did not let through (a local announcement, or one from
//! before a restart), need a key that could have started anything: every
//! zone and the `emergency` right (filler is not asked for).
//!
//! Here: the gate and its rules. `envelope`: the wire format (envelope,
//! signature, the body's fields); `ack`: the answers; `seen`: the ids
//! already obeyed; `throttle`: the budget of acks to unsigned garbage.

mod ack;
mod envelope;
mod seen;
#[cfg(test)]
mod tests;
mod throttle;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use loa_schedules::{DailyWindow, Priority, RateLimit, RemoteKey, Right, Station};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::outside;
use crate::runtime::mqtt::Publish;
use crate::wire::{
    from_value, Bounded, Length, Level, SpokenText, UnixTime, VoiceName, Whole, Zones,
};
pub use ack::acks;
use envelope::*;
pub use envelope::{sign, valid_id};
use seen::Seen;
pub use throttle::Throttle;

/// A command's payload may not be longer than this.
pub const MAX_PAYLOAD: usize = 64 * 1024;
const MAX_REPEAT: u32 = 20;
const TITLE_CHARS: usize = 80;
/// A command is valid for at most a day after it was sent (`exp - ts`).
const MAX_VALIDITY: i64 = 24 * 3600;
/// An announcement's stream relays, or its file plays, for at most this
/// long: a longer broadcast belongs in a schedule.
pub const MAX_LENGTH: Duration = Duration::from_secs(4 * 3600);

/// Padded RFC 4648 base64, decoding only the canonical form (padding
/// required, no stray bits), so one signature has exactly one spelling.
pub const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
);

/// A verified command.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    Announce(Announcement),
    Stop { target: StopTarget },
    Reload,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopTarget {
    /// An announcement's id.
    Id(String),
    All,
}

/// An announcement that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Announcement {
    pub id: String,
    pub kid: String,
    pub priority: Priority,
    /// Zone ids in station.yaml order.
    pub zones: Vec<String>,
    pub what: What,
    /// The voice a text is read in (None: the station's).
    pub voice: Option<String>,
    /// For boards and the airtime log: as given, or the first 80 characters
    /// of the text, the file name or the stream address.
    pub title: String,
    pub repeat: u32,
    pub exp: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// Spoken with the TTS engine.
    Text(String),
    /// Canonical, inside paths.media.
    File(PathBuf),
    Stream {
        url: String,
        duration: Duration,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub id: String,
    pub kid: String,
    pub cmd: Cmd,
    /// The group when it came on `loa/group/<g>/cmd/...` (acks go there too).
    pub group: Option<String>,
}

/// Why a command was refused; `code` is one of SPEC section 6's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The command's id when a well-formed one could be read.
    pub id: Option<String>,
    pub code: &'static str,
    pub reason: String,
    pub group: Option<String>,
    /// Whether the signature held: an unverified command's id was chosen by
    /// whoever published it, so its ack never goes to `P/ack/<id>`.
    pub verified: bool,
}

/// Cannot open the seen-command store.
#[derive(Debug, thiserror::Error)]
#[error("cannot keep remote command ids in {path}: {source}")]
pub struct GateError {
    path: PathBuf,
    source: crate::runtime::airtime::AirtimeError,
}

/// Rights and keys as of the last (re)load.
struct Rules {
    station_id: String,
    prefix: Option<String>,
    groups: Vec<String>,
    zones: Vec<String>,
    media: PathBuf,
    timezone: Tz,
    quiet_hours: Option<DailyWindow>,
    max_skew: Duration,
    rate_limit: RateLimit,
    keys: Vec<RemoteKey>,
    /// The TTS engine's command: an announcement in a voice it lacks is
    /// refused before it airs.
    tts_command: Vec<String>,
}

impl Rules {
    fn of(s: &Station) -> Rules {
        Rules {
            station_id: s.id.clone(),
            prefix: s.mqtt.as_ref().map(|m| m.prefix.clone()),
            groups: s
                .mqtt
                .as_ref()
                .map(|m| m.groups.clone())
                .unwrap_or_default(),
            zones: s.zones.iter().map(|z| z.id.clone()).collect(),
            media: s.paths.media.clone(),
            timezone: s.timezone,
            quiet_hours: s.policy.quiet_hours,
            max_skew: s.remote.max_skew,
            rate_limit: s.remote.rate_limit,
            keys: s.remote.keys.clone(),
            tts_command: s.tts.command.clone(),
        }
    }

    fn key(&self, kid: &str) -> Option<&RemoteKey> {
        self.keys.iter().find(|k| k.id == kid)
    }
}

/// Verifies remote commands: the keys and rights from station.yaml, the ids
/// already obeyed (in SQLite, across restarts) and each key's recent rate.
pub struct Gate {
    rules: Rules,
    seen: Seen,
    /// Per key: when its recent verified commands came.
    recent: std::collections::HashMap<String, std::collections::VecDeque<DateTime<Utc>>>,
    /// The announcements this gate let through (for a day): what a stop
    /// names is checked against what it was.
    announced: std::collections::HashMap<String, (Priority, Vec<String>, DateTime<Utc>)>,
}

impl Gate {
    /// `db` is the airtime database (paths.state/airtime.sqlite); the ids
    /// live in its table `seen_commands`.
    pub fn open(station: &Station, db: &Path) -> Result<Gate, GateError> {
        let seen = Seen::open(db).map_err(|source| GateError {
            path: db.to_path_buf(),
            source,
        })?;
        Ok(Gate {
            rules: Rules::of(station),
            seen,
            recent: Default::default(),
            announced: Default::default(),
        })
    }

    /// Takes the keys, rights and policy of a reloaded configuration; a
    /// revoked key is refused from this moment.
    pub fn reload(&mut self, station: &Station) {
        self.rules = Rules::of(station);
        let rules = &self.rules;
        self.recent.retain(|kid, _| rules.key(kid).is_some());
    }

    /// The topics to subscribe to: `P/cmd/{announce,stop,reload}` and the
    /// same under `loa/group/<g>/` for each group (none without `mqtt`).
    pub fn topics(&self) -> Vec<String> {
        let Some(prefix) = &self.rules.prefix else {
            return Vec::new();
        };
        let mut bases = vec![prefix.clone()];
        bases.extend(self.rules.groups.iter().map(|g| format!("loa/group/{g}")));
        bases
            .iter()
            .flat_map(|b| CMDS.iter().map(move |c| format!("{b}/cmd/{c}")))
            .collect()
    }

    /// Whether key `kid` may stop an announcement of this priority on these
    /// zones: it needs the stop right and could have started it.
    pub fn may_stop(&self, kid: &str, priority: Priority, zones: &[String]) -> bool {
        let Some(key) = self.rules.key(kid) else {
            return false;
        };
        key.may.contains(&Right::Stop)
            && key.may.contains(&Right::Announce(priority))
            && match &key.zones {
                None => true,
                Some(mine) => zones.iter().all(|z| mine.contains(z)),
            }
    }

    /// Verifies one message (SPEC section 6) received on `topic`. See the
    /// module doc for the order of the checks.
    pub fn check(
        &mut self,
        topic: &str,
        payload: &[u8],
        retained: bool,
        now: DateTime<Utc>,
    ) -> Result<Verified, Refusal> {
        self.seen.prune(now, self.rules.max_skew.saturating_mul(2));
        let (group, topic_cmd) = self.route(topic);
        // Until the signature holds, anyone may have sent it.
        let unverified = |id: Option<&str>, code: &'static str, reason: String| Refusal {
            id: id.map(str::to_string),
            code,
            reason,
            group: group.clone(),
            verified: false,
        };
        let refuse = |id: Option<&str>, code: &'static str, reason: String| Refusal {
            verified: true,
            ..unverified(id, code, reason)
        };
        if payload.len() > MAX_PAYLOAD {
            return Err(unverified(
                None,
                "too_large",
                format!(
                    "the command is {} bytes; at most {MAX_PAYLOAD} are read",
                    payload.len()
                ),
            ));
        }
        let env = match Envelope::parse(payload) {
            Ok(e) => e,
            Err(reason) => return Err(unverified(None, "malformed", reason)),
        };
        let id = env.claimed_id.as_deref();
        if retained {
            return Err(unverified(
                id,
                "retained",
                "a retained message is never obeyed: publish commands without the retain flag"
                    .into(),
            ));
        }
        let Some(key) = self.rules.key(&env.kid) else {
            return Err(unverified(
                id,
                "unknown_key",
                format!(
                    "key `{}` is not in this station's remote.keys",
                    outside::visible(&env.kid)
                ),
            ));
        };
        if let Err(reason) = verify(&key.public_key, &env.sig, env.body.as_bytes()) {
            return Err(unverified(id, "bad_signature", reason));
        }
        let body = match Body::parse(&env.body_json) {
            Ok(b) => b,
            Err(reason) => return Err(refuse(id, "malformed", reason)),
        };
        let id = Some(body.id.as_str());
        // The topic it came on must be the one it was signed for.
        let expected_to = match &group {
            Some(g) => format!("group:{g}"),
            None => format!("station:{}", self.rules.station_id),
        };
        if topic_cmd.is_none() {
            return Err(refuse(
                id,
                "wrong_target",
                format!("`{topic}` is not a command topic of this station"),
            ));
        }
        if body.to != expected_to {
            return Err(refuse(
                id,
                "wrong_target",
                format!(
                    "the command is for `{}` but came on `{topic}` (for `{expected_to}`)",
                    outside::visible(&body.to)
                ),
            ));
        }
        if Some(body.cmd) != topic_cmd {
            return Err(refuse(
                id,
                "wrong_target",
                format!("a `{}` command came on `{topic}`", body.cmd),
            ));
        }
        // Any i64 may arrive: differences are taken without overflow.
        let skew = self.rules.max_skew.as_secs();
        let off = body.ts.abs_diff(now.timestamp());
        if off > skew {
            return Err(refuse(
                id,
                "clock_skew",
                format!(
                    "the command's time is {off} s {} the station's clock; at most {skew} s are accepted (check both clocks)",
                    if body.ts > now.timestamp() { "ahead of" } else { "behind" }
                ),
            ));
        }
        if body.exp <= now.timestamp() {
            return Err(refuse(
                id,
                "expired",
                format!(
                    "the command expired {} s ago",
                    now.timestamp().abs_diff(body.exp)
                ),
            ));
        }
        match self.seen.contains(&body.id) {
            Ok(false) => {}
            Ok(true) => {
                return Err(refuse(
                    id,
                    "replay",
                    format!("command {} was already received", body.id),
                ))
            }
            Err(e) => {
                return Err(refuse(
                    id,
                    "replay",
                    format!(
                        "cannot tell whether command {} was already received (seen_commands: {e}); refused to be safe",
                        body.id
                    ),
                ))
            }
        }
        let cmd = self
            .command(key, &body, now)
            .map_err(|(code, reason)| refuse(id, code, reason))?;
        // Rate: per key, verified commands only.
        let per = chrono::Duration::from_std(self.rules.rate_limit.per).unwrap_or_default();
        let times = self.recent.entry(key.id.clone()).or_default();
        while times.front().is_some_and(|t| *t <= now - per) {
            times.pop_front();
        }
        if times.len() >= self.rules.rate_limit.count as usize {
            return Err(refuse(
                id,
                "rate_limited",
                format!(
                    "key `{}` may send {} commands per {} s; try again later",
                    key.id,
                    self.rules.rate_limit.count,
                    self.rules.rate_limit.per.as_secs()
                ),
            ));
        }
        times.push_back(now);
        self.seen.insert(&body.id, now);
        self.announced
            .retain(|_, (_, _, at)| now - *at < chrono::Duration::days(1));
        if let Cmd::Announce(a) = &cmd {
            self.announced
                .insert(a.id.clone(), (a.priority, a.zones.clone(), now));
        }
        Ok(Verified {
            id: body.id,
            kid: env.kid,
            cmd,
            group,
        })
    }

    /// (group, command) named by a topic of ours; command None when the
    /// topic is not one of ours.
    fn route(&self, topic: &str) -> (Option<String>, Option<&'static str>) {
        let cmd_of = |rest: &str| CMDS.iter().copied().find(|c| *c == rest);
        if let Some(prefix) = &self.rules.prefix {
            if let Some(rest) = topic
                .strip_prefix(prefix.as_str())
                .and_then(|r| r.strip_prefix("/cmd/"))
            {
                return (None, cmd_of(rest));
            }
        }
        if let Some((g, rest)) = topic
            .strip_prefix("loa/group/")
            .and_then(|r| r.split_once("/cmd/"))
        {
            if self.rules.groups.iter().any(|x| x == g) {
                return (Some(g.to_string()), cmd_of(rest));
            }
        }
        (None, None)
    }

    /// The rights, zone, file and policy checks of a signed body.
    fn command(
        &self,
        key: &RemoteKey,
        body: &Body,
        now: DateTime<Utc>,
    ) -> Result<Cmd, (&'static str, String)> {
        let kid = &key.id;
        match &body.detail {
            Detail::Reload => {
                if !key.may.contains(&Right::Reload) {
                    return Err(("not_allowed", format!("key `{kid}` may not reload")));
                }
                Ok(Cmd::Reload)
            }
            Detail::Stop(target) => {
                if !key.may.contains(&Right::Stop) {
                    return Err(("not_allowed", format!("key `{kid}` may not stop")));
                }
                // A key may stop only what it could have started. What this
                // gate did not let through (a local announcement, one from
                // before a restart) could be anything: like `all`, stopping
                // it needs every zone and the emergency right.
                let known = match target {
                    StopTarget::Id(t) => self.announced.get(t),
                    StopTarget::All => None,
                };
                if let (StopTarget::Id(t), Some((priority, zones, _))) = (target, known) {
                    if !self.may_stop(kid, *priority, zones) {
                        return Err((
                            "not_allowed",
                            format!(
                                "key `{kid}` may not stop {t}: a {priority} announcement on {}, which it could not have started",
                                zones.join(", ")
                            ),
                        ));
                    }
                } else if !(key.zones.is_none()
                    && key.may.contains(&Right::Announce(Priority::Emergency)))
                {
                    let what = match target {
                        StopTarget::All => "all".to_string(),
                        StopTarget::Id(t) => {
                            format!("{t}, which this station did not receive remotely,")
                        }
                    };
                    return Err((
                        "not_allowed",
                        format!(
                            "key `{kid}` may not stop {what}: that needs every zone and the emergency right"
                        ),
                    ));
                }
                Ok(Cmd::Stop {
                    target: target.clone(),
                })
            }
            Detail::Announce(a) => {
                if !key.may.contains(&Right::Announce(a.priority)) {
                    return Err((
                        "not_allowed",
                        format!("key `{kid}` may not announce at {}", a.priority),
                    ));
                }
                let station = &self.rules.zones;
                let zones: Vec<String> = match &a.zones {
                    None => station
                        .iter()
                        .filter(|z| key.zones.as_ref().is_none_or(|mine| mine.contains(z)))
                        .cloned()
                        .collect(),
                    Some(asked) => {
                        // Zones of other stations (a group command) are dropped.
                        let known: Vec<&String> =
                            asked.iter().filter(|z| station.contains(z)).collect();
                        if let Some(mine) = &key.zones {
                            if let Some(z) = known.iter().find(|z| !mine.contains(z)) {
                                return Err((
                                    "not_allowed",
                                    format!(
                                        "key `{kid}` may not use zone `{}`",
                                        outside::visible(z)
                                    ),
                                ));
                            }
                        }
                        station
                            .iter()
                            .filter(|z| known.contains(z))
                            .cloned()
                            .collect()
                    }
                };
                if zones.is_empty() {
                    return Err((
                        "no_zone",
                        "none of the zones asked for is a zone of this station".into(),
                    ));
                }
                let what = match &a.what {
                    BodyWhat::File(f) => What::File(self.media_file(f)?),
                    BodyWhat::Text(t) => What::Text(t.clone()),
                    BodyWhat::Stream { url, duration } => What::Stream {
                        url: url.clone(),
                        duration: *duration,
                    },
                };
                if let Some(why) = a
                    .voice
                    .as_deref()
                    .and_then(|v| crate::probe::missing_voice(&self.rules.tts_command, v))
                {
                    return Err(("bad_voice", why));
                }
                if let Some(q) = crate::runtime::scheduler::quiet_hours_hold(
                    self.rules.quiet_hours,
                    self.rules.timezone,
                    a.priority,
                    now,
                ) {
                    return Err((
                        "quiet_hours",
                        format!(
                            "only emergency announcements may sound in quiet hours ({})",
                            loa_schedules::load::fmt_window(&q)
                        ),
                    ));
                }
                let title = match &a.title {
                    Some(t) => t.clone(),
                    None => match &what {
                        What::Text(t) => outside::title(t, TITLE_CHARS).unwrap_or_default(),
                        What::File(p) => p
                            .file_name()
                            .and_then(|n| outside::title(&n.to_string_lossy(), TITLE_CHARS))
                            .unwrap_or_default(),
                        What::Stream { url, .. } => url.chars().take(TITLE_CHARS).collect(),
                    },
                };
                Ok(Cmd::Announce(Announcement {
                    id: body.id.clone(),
                    kid: kid.clone(),
                    priority: a.priority,
                    zones,
                    what,
                    voice: a.voice.clone(),
                    title,
                    repeat: a.repeat,
                    exp: Utc.timestamp_opt(body.exp, 0).single().unwrap_or(now),
                }))
            }
        }
    }

    /// The file, resolved against paths.media, if it lies inside it after
    /// resolving symlinks.
    fn media_file(&self, f: &str) -> Result<PathBuf, (&'static str, String)> {
        media_file(&self.rules.media, f)
    }
}

/// `f` (relative to `media`, or absolute), if it lies inside the media
/// directory after resolving symlinks, is a regular file and plays: audio
/// that is not empty and at most [`MAX_LENGTH`] long (so nothing is
/// chimed for a file that then fails). Errors carry the code `bad_file`.
pub fn media_file(media_dir: &Path, name: &str) -> Result<PathBuf, (&'static str, String)> {
    let bad = |why: String| ("bad_file", why);
    let f = outside::visible(name);
    let media = media_dir.canonicalize().map_err(|e| {
        bad(format!(
            "the media directory {} is unusable: {e}",
            media_dir.display()
        ))
    })?;
    let path = media_dir.join(name);
    let real = path
        .canonicalize()
        .map_err(|e| bad(format!("file `{f}`: {e}")))?;
    if !real.starts_with(&media) {
        return Err(bad(format!(
            "file `{f}` is outside the media directory {}",
            media.display()
        )));
    }
    if !real.is_file() {
        return Err(bad(format!("file `{f}` is not a regular file")));
    }
    match loa_audio::probe::media_length(&real) {
        Err(e) => Err(bad(format!("file `{f}`: {}", e.reason()))),
        Ok(d) if d.is_zero() => Err(bad(format!("file `{f}` holds no audio"))),
        Ok(d) if d > MAX_LENGTH => Err(bad(format!(
            "file `{f}` plays for {}; an announcement plays for at most 4 h: schedule it instead",
            loa_schedules::format_duration(d)
        ))),
        Ok(_) => Ok(real),
    }
}
