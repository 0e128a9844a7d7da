//! An IP cluster receiver as a zone's switch (SPEC 7d): the commands that
//! make it play the zone's Icecast mount or stop, and how its retained state
//! reads. `loa receive` (cmd/receive.rs) is the other side.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use loa_schedules::{Config, OutputSpec};
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::outside::visible;
use crate::runtime::mqtt::Publish;

/// The receiver contract's version.
pub(super) const VERSION: u64 = 1;
/// A receiver's delay until it says its own (`loa receive`'s default buffer).
const DEFAULT_DELAY_MS: i64 = 2500;
/// Added to a receiver's delay: the encoder (about 47 ms) and the server.
const MOUNT_DELAY_MS: i64 = 200;
/// A receiver that says it has not applied Loa's last command this long
/// (it was away from the broker when it was sent) is sent it again.
pub(super) const MISSED_AFTER: TimeDelta = TimeDelta::seconds(2);

pub(super) struct Receiver {
    pub id: String,
    /// 0..100, from the zone's `volume` (0..1).
    pub volume: u8,
    /// The mount's public URL (the zone's output).
    pub url: String,
    /// Its last state as it sent it (None: not heard since Loa started).
    last: Option<Value>,
    /// The `seq` of the last command built for it (0: none yet).
    sent: AtomicU64,
    /// Since when its state names an older command than the last sent.
    pub behind_since: Option<DateTime<Utc>>,
}

/// What a state message says, for the zone.
pub(super) struct Heard {
    /// `Some(true)` playing, `Some(false)` not, `None` offline.
    pub playing: Option<bool>,
    /// The receiver has not applied this run's commands (it restarted, or
    /// has another sender's): send it the zone's current command.
    pub resend: bool,
}

impl Receiver {
    /// None when the zone's output is not an Icecast mount (`loa check`
    /// refuses that in station.yaml, and `--output` may not make it so).
    pub fn new(r: &loa_schedules::Receiver, output: &str, config: &Config) -> Option<Receiver> {
        let url = config
            .station
            .outputs
            .iter()
            .find(|o| o.name == output)
            .and_then(|o| match &o.spec {
                OutputSpec::Icecast(i) => Some(i.public_url()),
                _ => None,
            })?;
        Some(Receiver {
            id: r.id.clone(),
            volume: (r.volume * 100.0).round().clamp(0.0, 100.0) as u8,
            url,
            last: None,
            sent: AtomicU64::new(0),
            behind_since: None,
        })
    }

    /// How much later than the scheduled instant the receiver plays the
    /// mount's audio: its `delay_s` (the buffer it keeps), and the way there.
    pub fn lag(&self) -> TimeDelta {
        let ms = self
            .last
            .as_ref()
            .and_then(|v| v.get("delay_s"))
            .and_then(Value::as_f64)
            .filter(|d| (0.0..=30.0).contains(d))
            .map_or(DEFAULT_DELAY_MS, |d| (d * 1000.0) as i64);
        TimeDelta::milliseconds(ms + MOUNT_DELAY_MS)
    }

    pub fn state_topic(&self) -> String {
        format!("loa-rx/{}/state", self.id)
    }

    /// What a reloaded receiver keeps of the one it replaces (same id).
    pub fn carry(&mut self, old: &Receiver) {
        self.last.clone_from(&old.last);
        self.sent
            .store(old.sent.load(Ordering::Relaxed), Ordering::Relaxed);
        self.behind_since = old.behind_since;
    }

    /// `play` (with the volume) or `stop`; `volume_only` sends only the volume.
    pub fn command(&self, session: &str, seq: u64, play: bool, volume_only: bool) -> Publish {
        self.sent.store(seq, Ordering::Relaxed);
        let mut c = json!({"v": VERSION, "session": session, "seq": seq});
        if volume_only {
            c["volume"] = json!(self.volume);
        } else if play {
            c["play"] = json!(self.url);
            c["volume"] = json!(self.volume);
        } else {
            c["stop"] = json!(true);
        }
        Publish {
            topic: format!("loa-rx/{}/cmd", self.id),
            payload: c.to_string().into_bytes(),
            qos: 1,
            retain: false,
        }
    }

    pub fn online(&self) -> bool {
        self.last
            .as_ref()
            .is_some_and(|v| v.get("online") == Some(&Value::Bool(true)))
    }

    /// Known to be offline (its Last Will, or it said so when stopping).
    pub fn offline(&self) -> bool {
        self.last
            .as_ref()
            .is_some_and(|v| v.get("online") != Some(&Value::Bool(true)))
    }

    /// Reads a state message; None if it is not one (logged).
    pub fn heard(
        &mut self,
        payload: &[u8],
        session: &str,
        zone: &str,
        now: DateTime<Utc>,
    ) -> Option<Heard> {
        let v: Value = match serde_json::from_slice(payload) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                warn!(zone = %zone, "receiver `{}`: its state is not a JSON object; ignored", self.id);
                return None;
            }
        };
        let was_offline = self.offline();
        let was_known = self.last.is_some();
        self.last = Some(v.clone());
        if v.get("online") != Some(&Value::Bool(true)) {
            if !was_offline {
                warn!(
                    zone = %zone,
                    "the receiver `{}` of zone `{zone}` is offline: its village cannot hear the station; check the box, its power and its network",
                    self.id
                );
            }
            return Some(Heard {
                playing: None,
                resend: false,
            });
        }
        if was_offline {
            info!(zone = %zone, "the receiver `{}` of zone `{zone}` is online again", self.id);
        } else if !was_known {
            info!(zone = %zone, "the receiver `{}` of zone `{zone}` is online", self.id);
        }
        let seq = v.get("seq").and_then(Value::as_u64);
        let ours = v.get("session").and_then(Value::as_str) == Some(session) && seq.is_some();
        // Behind Loa's last command: it may still be on its way, or it was
        // lost while the box was away from the broker (`tick` sends it
        // again after MISSED_AFTER).
        let sent = self.sent.load(Ordering::Relaxed);
        if ours && seq.is_some_and(|n| n < sent) {
            self.behind_since.get_or_insert(now);
        } else {
            self.behind_since = None;
        }
        if let Some(e) = v.get("error").and_then(Value::as_str) {
            tracing::debug!(zone = %zone, "receiver `{}`: {}", self.id, visible(e));
        }
        Some(Heard {
            playing: Some(v.get("state").and_then(Value::as_str) == Some("playing")),
            resend: !ours,
        })
    }

    /// For the status document: its id and last state (null fields until heard).
    pub fn status(&self) -> Value {
        let get = |k: &str| {
            self.last
                .as_ref()
                .and_then(|v| v.get(k))
                .cloned()
                .unwrap_or(Value::Null)
        };
        json!({
            "receiver": self.id,
            "online": match &self.last { None => Value::Null, Some(_) => json!(self.online()) },
            "state": get("state"),
            "url": get("url"),
            "volume": get("volume"),
            "buffer_s": get("buffer_s"),
            "error": get("error"),
            "signal": get("signal"),
        })
    }
}
