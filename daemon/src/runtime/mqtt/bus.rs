//! The station's MQTT side, as the daemon's loop sees it: zone relays and
//! LED boards follow what the scheduler decides, the retained status
//! follows what airs, finished airtime rows go to the feed. Everything is
//! computed here whether or not a broker is configured or reachable; only
//! the sending needs the link, and nothing waits on it.

use std::collections::BTreeMap;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use loa_schedules::{Config, Priority};
use tracing::{info, warn};

use super::link::{FromLink, Link, LinkConfig, ToLink};
use super::Publish;
use crate::outside::visible;
use crate::runtime::boards::Boards;
use crate::runtime::clock::Clock;
use crate::runtime::engine::Engine;
use crate::runtime::remote::{self, Cmd, Gate, StopTarget, Throttle, What};
use crate::runtime::scheduler::{Announce, AnnouncementNote, Scheduler, ZoneNote};
use crate::runtime::tasks::Tasks;
use crate::runtime::zones::Zones;

/// How long shutdown waits for the relays to report off.
pub const CONFIRM_OFF: Duration = Duration::from_secs(3);

/// What the daemon's loop must do for a remote command.
pub enum Action {
    /// `cmd/reload`: reload, then ack with the result.
    Reload { id: String, group: Option<String> },
}

pub struct Bus {
    link: Option<Link>,
    /// Verifies signed remote commands (with MQTT only).
    gate: Option<Gate>,
    /// How many refusals a minute get an ack and a log line.
    refusals: Throttle,
    /// The group an accepted announcement came through (acks go there too).
    groups: HashMap<String, Option<String>>,
    prefix: String,
    station_id: String,
    pub boards: Boards,
    pub zones: Zones,
    /// What the boards were last told airs: (title, emergency).
    shown: Option<(String, bool)>,
    status: serde_json::Value,
    /// Home Assistant discovery messages (retained: they describe Loa's own
    /// status topic to Home Assistant, not commands to a device).
    discovery: Vec<Publish>,
    /// The broker link: off (no `mqtt:`), connecting, connected or
    /// disconnected, and since when.
    link_state: (&'static str, Option<DateTime<Utc>>),
    broker: Option<String>,
    /// The last (re)load of the configuration, for the status document.
    pub config_state: serde_json::Value,
    /// Notes of announcements made at the PC (remote ones become acks).
    pub local_notes: Vec<AnnouncementNote>,
}

impl Bus {
    /// Starts the link when station.yaml has `mqtt` (one of `tasks`).
    pub fn new(config: &Config, tasks: &Tasks) -> Bus {
        let db = crate::runtime::airtime::log_path(&config.station);
        let link = config
            .station
            .mqtt
            .as_ref()
            .map(|m| Link::spawn(LinkConfig::from_station(m, db.clone()), tasks));
        let zones = Zones::new(config);
        let gate = link.as_ref().and_then(|_| {
            Gate::open(&config.station, &db)
                .map_err(|e| warn!("remote commands are off: {e}"))
                .ok()
        });
        let bus = Bus {
            link,
            gate,
            refusals: Throttle::default(),
            groups: HashMap::new(),
            prefix: config
                .station
                .mqtt
                .as_ref()
                .map(|m| m.prefix.clone())
                .unwrap_or_default(),
            station_id: config.station.id.clone(),
            boards: Boards::new(config),
            zones,
            shown: None,
            status: serde_json::Value::Null,
            discovery: discovery(config),
            link_state: if config.station.mqtt.is_some() {
                ("connecting", None)
            } else {
                ("off", None)
            },
            broker: config.station.mqtt.as_ref().map(|m| m.url.clone()),
            config_state: serde_json::Value::Null,
            local_notes: Vec::new(),
        };
        bus.subscribe();
        bus
    }

    fn subscribe(&self) {
        if let Some(l) = &self.link {
            let mut topics = self.zones.subscriptions();
            topics.extend(self.boards.subscriptions());
            if let Some(g) = &self.gate {
                topics.extend(g.topics());
            }
            l.send(ToLink::Subscriptions(topics));
        }
    }

    pub fn has_link(&self) -> bool {
        self.link.is_some()
    }

    fn send(&self, out: Vec<Publish>) {
        if let Some(l) = &self.link {
            for p in out {
                l.send(ToLink::Publish(p));
            }
        }
    }

    /// Follows the scheduler after a tick: relays, boards, status, feed.
    pub fn follow<E: Engine>(&mut self, sched: &mut Scheduler<E>, now: DateTime<Utc>) {
        for n in sched.take_zone_notes() {
            match n {
                ZoneNote::Sound { zones, at } => self.zones.sound_from(&zones, at),
                ZoneNote::Silent { zones, at } => self.zones.silent_from(&zones, at),
                ZoneNote::Mute { zones, at } => self.zones.mute(&zones, at),
            }
        }
        let mut out = self.zones.tick(now);
        for note in sched.take_announcement_notes() {
            let (id, status, code, reason) = match &note {
                AnnouncementNote::Started { id } => (id, "started", None, None),
                AnnouncementNote::Done { id, reason } => (id, "done", None, reason.clone()),
                AnnouncementNote::Failed { id, code, reason } => {
                    (id, "failed", Some(*code), Some(reason.clone()))
                }
            };
            let Some(group) = self.groups.get(id).cloned() else {
                // Made at the PC: the control socket answers for it.
                self.local_notes.push(note);
                continue;
            };
            out.extend(remote::acks(
                &self.prefix,
                &self.station_id,
                Some(id),
                group.as_deref(),
                status,
                code,
                reason.as_deref(),
            ));
            if status != "started" {
                self.groups.remove(id);
            }
        }

        let airing = sched
            .now_airing()
            .map(|(p, _)| (p.title.clone(), p.priority == Priority::Emergency));
        if airing != self.shown {
            let was_emergency = self.shown.as_ref().is_some_and(|(_, e)| *e);
            match &airing {
                Some((title, true)) => out.extend(self.boards.emergency(Some(title), now)),
                _ => {
                    if was_emergency {
                        out.extend(self.boards.emergency(None, now));
                    }
                    let title = airing.as_ref().map(|(t, _)| t.as_str());
                    out.extend(self.boards.now_playing(title, now));
                }
            }
            self.shown = airing;
        }
        if self.boards.next_wakeup().is_some_and(|t| t <= now) {
            out.extend(self.boards.tick(now));
        }
        self.send(out);
        if let Some(summary) = self.refusals.tick(now) {
            warn!("{summary}");
        }

        // The refusal counters as of the minute's start or end: a flood
        // does not republish the status for every message.
        let mut status = self.status_document(sched);
        status["remote"] = self.refusals.status(false);
        if status != self.status {
            self.status = status.clone();
            if let Some(l) = &self.link {
                l.send(ToLink::Status(status));
            }
        }
        if sched.log().take_fed() {
            if let Some(l) = &self.link {
                l.send(ToLink::Airtime);
            }
        }
    }

    /// When relays or boards next need the loop.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        [
            self.zones.next_wakeup(),
            self.boards.next_wakeup(),
            self.refusals.next_wakeup(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next message from the link (pending forever without one).
    /// The next message already waiting, if any.
    pub fn try_recv(&mut self) -> Option<FromLink> {
        self.link.as_mut().and_then(|l| l.rx.try_recv().ok())
    }

    pub async fn recv(&mut self) -> Option<FromLink> {
        match &mut self.link {
            Some(l) => l.rx.recv().await,
            None => std::future::pending().await,
        }
    }

    pub fn on_link<E: Engine>(
        &mut self,
        m: FromLink,
        sched: &mut Scheduler<E>,
        now: DateTime<Utc>,
    ) -> Option<Action> {
        match m {
            FromLink::Connected => {
                self.link_state = ("connected", Some(now));
                // Boards get their current text again; relays their state.
                let mut out = self.boards.republish(now);
                out.extend(self.zones.republish());
                out.extend(self.discovery.iter().cloned());
                self.send(out);
            }
            FromLink::Disconnected => self.link_state = ("disconnected", Some(now)),
            FromLink::Message {
                topic,
                payload,
                retain,
            } => {
                if self
                    .gate
                    .as_ref()
                    .is_some_and(|g| g.topics().contains(&topic))
                {
                    return self.command(&topic, &payload, retain, sched, now);
                }
                let mut back = self.zones.on_message(&topic, &payload, now);
                back.extend(self.boards.on_message(&topic, &payload, now));
                self.send(back);
            }
        }
        None
    }

    /// A remote command: verified, acked, carried out. A refused one plays nothing.
    fn command<E: Engine>(
        &mut self,
        topic: &str,
        payload: &[u8],
        retain: bool,
        sched: &mut Scheduler<E>,
        now: DateTime<Utc>,
    ) -> Option<Action> {
        let gate = self.gate.as_mut()?;
        let v = match gate.check(topic, payload, retain, now) {
            Ok(v) => v,
            Err(r) => {
                if let Some(summary) = self.refusals.tick(now) {
                    warn!("{summary}");
                }
                let tell = self.refusals.refused(&r, now);
                if tell.log {
                    warn!(
                        "remote command on {topic} refused ({}): {}",
                        r.code,
                        visible(&r.reason)
                    );
                }
                if tell.ack {
                    self.send(r.acks(&self.prefix, &self.station_id));
                }
                return None;
            }
        };
        let ack = |status: &str, reason: Option<&str>| {
            remote::acks(
                &self.prefix,
                &self.station_id,
                Some(&v.id),
                v.group.as_deref(),
                status,
                None,
                reason,
            )
        };
        match v.cmd {
            Cmd::Announce(a) => {
                info!(
                    "announcement {} from {} accepted: {} ({})",
                    a.id,
                    visible(&v.kid),
                    visible(&a.title),
                    a.priority
                );
                self.send(ack("accepted", None));
                self.groups.insert(a.id.clone(), v.group.clone());
                let wait = self.preroll_wait(sched.config(), &a.zones);
                let announce = to_announce(a, &v.kid);
                sched.announce(announce, now + wait);
                None
            }
            Cmd::Stop { target } => {
                let reason = format!("stopped by {}", v.kid);
                let stopped = match &target {
                    StopTarget::Id(id) => sched.stop_announcements(Some(id), &reason),
                    StopTarget::All => sched.stop_announcements(None, &reason),
                };
                info!(
                    "stop from {}: {} announcement(s) stopped",
                    visible(&v.kid),
                    stopped.len()
                );
                let what = format!("{} announcement(s) stopped", stopped.len());
                self.send(ack("done", Some(&what)));
                None
            }
            Cmd::Reload => {
                info!("reload requested by {}", visible(&v.kid));
                self.send(ack("accepted", None));
                Some(Action::Reload {
                    id: v.id,
                    group: v.group,
                })
            }
        }
    }

    /// An announcement made at the PC (`loa now`): the same path as a
    /// remote one, audio after the preroll of the zones switched on.
    pub fn announce_local<E: Engine>(
        &mut self,
        a: Announce,
        sched: &mut Scheduler<E>,
        now: DateTime<Utc>,
    ) {
        let wait = self.preroll_wait(sched.config(), &a.zones);
        sched.announce(a, now + wait);
    }

    /// The status document: the retained `P/status` and `loa status --format json`.
    pub fn status_document<E: Engine>(&self, sched: &Scheduler<E>) -> serde_json::Value {
        let mut doc = status_document(sched, &self.zones, &self.boards);
        let tz = sched.config().station.timezone;
        let stamp = |t: DateTime<Utc>| crate::runtime::airtime::format_time(&t.with_timezone(&tz));
        let (state, since) = self.link_state;
        doc["link"] = serde_json::json!({
            "state": state,
            "broker": self.broker,
            "since": since.map(stamp),
        });
        doc["config"] = self.config_state.clone();
        doc["remote"] = self.refusals.status(true);
        doc
    }

    /// The reload's outcome, acked.
    pub fn reloaded(&self, id: &str, group: Option<&str>, result: Result<(), String>) {
        let out = match result {
            Ok(()) => remote::acks(
                &self.prefix,
                &self.station_id,
                Some(id),
                group,
                "done",
                None,
                None,
            ),
            Err(e) => remote::acks(
                &self.prefix,
                &self.station_id,
                Some(id),
                group,
                "failed",
                Some("invalid_config"),
                Some(&e),
            ),
        };
        self.send(out);
    }

    /// Audio waits for the largest preroll among the zones being switched on.
    fn preroll_wait(&self, config: &Config, zones: &[String]) -> Duration {
        let states = self.zones.states();
        config
            .station
            .zones
            .iter()
            .filter(|z| zones.contains(&z.id) && (z.relay.is_some() || z.receiver.is_some()))
            .filter(|z| !states.iter().any(|(id, s)| *id == z.id && *s == "on"))
            .map(|z| z.preroll)
            .max()
            .unwrap_or_default()
    }

    pub fn reload(&mut self, config: &Config, now: DateTime<Utc>) {
        self.discovery = discovery(config);
        if let Some(g) = &mut self.gate {
            g.reload(&config.station);
        }
        let mut out = self.boards.reload(config, now);
        out.extend(self.zones.reload(config, now));
        self.send(out);
        self.subscribe();
    }

    /// Relays off and confirmed, boards cleared of what aired, offline
    /// status, disconnect (each bounded).
    ///
    /// Every relay is commanded off, and Loa waits up to [`CONFIRM_OFF`] for
    /// each one that was on (or whose state is unknown) to report off: an
    /// amplifier left on hums all night in a village. The journal names
    /// those that did not confirm; their lease switches them off.
    pub async fn shutdown(&mut self, clock: &impl Clock) {
        let now = clock.now();
        let mut out = self.zones.shutdown(now);
        out.extend(self.boards.now_playing(None, now));
        self.send(out);
        let Some(link) = &mut self.link else { return };
        let waiting = self.zones.unconfirmed_off();
        if !waiting.is_empty() {
            let deadline = tokio::time::Instant::now() + CONFIRM_OFF;
            while !self.zones.unconfirmed_off().is_empty() {
                match tokio::time::timeout_at(deadline, link.rx.recv()).await {
                    // Connected only now: the OFFs sent so far were dropped.
                    Ok(Some(FromLink::Connected)) => {
                        for p in self.zones.republish() {
                            link.send(ToLink::Publish(p));
                        }
                    }
                    Ok(Some(FromLink::Message { topic, payload, .. })) => {
                        // Loa stops: a receiver that restarted just now is
                        // told the zone's state (off) once more.
                        for p in self.zones.on_message(&topic, &payload, clock.now()) {
                            link.send(ToLink::Publish(p));
                        }
                    }
                    Ok(Some(FromLink::Disconnected)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            let left = self.zones.unconfirmed_off();
            if left.is_empty() {
                info!("every relay reports off ({})", waiting.join(", "));
            } else {
                warn!(
                    "relays not confirmed off within {} s: zone(s) {}; check them: each switches itself off when its lease (relay.lease) runs out",
                    CONFIRM_OFF.as_secs(),
                    left.join(", ")
                );
            }
        }
        // The link sends what is queued, the offline status and its goodbye,
        // then ends (itself bounded); the daemon's shutdown joins it with
        // every other task (module tasks).
        link.send(ToLink::Shutdown);
    }
}

/// A verified announcement as the scheduler airs it.
fn to_announce(a: remote::Announcement, kid: &str) -> Announce {
    let (media, kind, source, length) = match a.what {
        What::Text(t) => (
            loa_audio::Media::Tts {
                text: t.clone(),
                voice: a
                    .voice
                    .clone()
                    .map_or_else(Default::default, |v| loa_core::Voice::named(&v)),
            },
            "tts",
            t,
            None,
        ),
        What::File(p) => {
            let s = p.display().to_string();
            (loa_audio::Media::file(p), "file", s, None)
        }
        What::Stream { url, duration } => (
            loa_audio::Media::Stream {
                sources: vec![url.clone()],
                bandwidth: None,
                fallback: Vec::new(),
            },
            "stream",
            url,
            Some(duration),
        ),
    };
    Announce {
        id: a.id,
        title: a.title,
        priority: a.priority,
        zones: a.zones,
        media,
        kind: kind.into(),
        source,
        length,
        repeat: a.repeat,
        trigger: crate::runtime::airtime::Trigger::Mqtt,
        requested_by: kid.to_string(),
        expires: a.exp,
    }
}

/// The retained `P/status` document (SPEC section 6).
pub fn status_document<E: Engine>(
    sched: &Scheduler<E>,
    zones: &Zones,
    boards: &Boards,
) -> serde_json::Value {
    let tz = sched.config().station.timezone;
    let stamp = |t: DateTime<Utc>| crate::runtime::airtime::format_time(&t.with_timezone(&tz));
    let now_doc = sched.now_airing().map(|(p, since)| {
        serde_json::json!({
            "program": p.id,
            "title": p.title,
            "priority": p.priority.as_str(),
            "since": stamp(since),
        })
    });
    let next = sched
        .next_up()
        .map(|(p, at)| serde_json::json!({ "program": p.id, "at": stamp(at) }));
    let zone_states: BTreeMap<String, &str> = zones.states().into_iter().collect();
    let announcements: Vec<serde_json::Value> = sched
        .announcements()
        .into_iter()
        .map(|a| {
            serde_json::json!({
                "id": a.id,
                "title": a.title,
                "priority": a.priority.as_str(),
                "kind": a.kind,
                "zones": a.zones,
                "trigger": a.trigger.as_str(),
                "requested_by": a.requested_by,
                "since": a.since.map(stamp),
            })
        })
        .collect();
    let down = sched.outputs_down();
    let outputs: BTreeMap<String, serde_json::Value> = sched
        .config()
        .station
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let state = match down.iter().find(|d| d.0 == i) {
                Some((_, why, at)) => serde_json::json!({
                    "spec": o.spec.to_string(),
                    "state": "failed",
                    "reason": why,
                    "since": stamp(*at),
                }),
                None => serde_json::json!({ "spec": o.spec.to_string(), "state": "ok" }),
            };
            (o.name.clone(), state)
        })
        .collect();
    serde_json::json!({
        "state": "online",
        "version": env!("CARGO_PKG_VERSION"),
        "now": now_doc,
        "next": next,
        "zones": zone_states,
        // Each receiver zone's box and its last state (SPEC 7d).
        "receivers": zones.receivers(),
        // Beyond SPEC's keys (for `loa status`): announcements on the air or
        // waiting, each board's current text, each output's device.
        "announcements": announcements,
        "boards": boards.current(),
        "outputs": outputs,
        "airtime_log": sched.log_status(),
        "station": {
            "id": sched.config().station.id,
            "name": sched.config().station.name,
            "timezone": tz.name(),
        },
    })
}

/// Home Assistant MQTT discovery (`mqtt.homeassistant: true`): the station's
/// now-playing as a sensor and each zone as a binary sensor, all available
/// while `P/status` says online.
pub fn discovery(config: &Config) -> Vec<Publish> {
    let Some(m) = config.station.mqtt.as_ref().filter(|m| m.homeassistant) else {
        return Vec::new();
    };
    let st = &config.station;
    let status = format!("{}/status", m.prefix);
    let device = serde_json::json!({
        "identifiers": [format!("loa-{}", st.id)],
        "name": st.name,
        "manufacturer": "Loa",
        "model": "commune broadcast scheduler",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let availability = serde_json::json!({
        "topic": status,
        "value_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
    });
    let retained = |topic: String, v: serde_json::Value| Publish {
        topic,
        payload: v.to_string().into_bytes(),
        qos: 1,
        retain: true,
    };
    let mut out = vec![retained(
        format!(
            "homeassistant/sensor/loa_{}/now_playing/config",
            st.id.replace('-', "_")
        ),
        serde_json::json!({
            "name": "Now playing",
            "unique_id": format!("loa_{}_now_playing", st.id),
            "state_topic": status,
            "value_template": "{{ value_json.now.title if value_json.now else 'idle' }}",
            "json_attributes_topic": status,
            "json_attributes_template": "{{ {'next': value_json.next, 'priority': (value_json.now.priority if value_json.now else none)} | tojson }}",
            "availability": [availability],
            "device": device,
            "icon": "mdi:bullhorn",
        }),
    )];
    for z in &st.zones {
        let mut zone = serde_json::json!({
            "name": z.name,
            "unique_id": format!("loa_{}_zone_{}", st.id, z.id),
            "state_topic": status,
            "value_template": format!("{{{{ 'ON' if value_json.zones['{}'] == 'on' else 'OFF' }}}}", z.id),
            "device_class": "sound",
            "availability": [availability.clone()],
            "device": device.clone(),
        });
        if z.receiver.is_some() {
            // The receiver's state (online, playing, buffer, error) as the
            // zone's attributes.
            zone["json_attributes_topic"] = serde_json::json!(status);
            zone["json_attributes_template"] = serde_json::json!(format!(
                "{{{{ value_json.receivers['{}'] | tojson }}}}",
                z.id
            ));
        }
        out.push(retained(
            format!(
                "homeassistant/binary_sensor/loa_{}/zone_{}/config",
                st.id.replace('-', "_"),
                z.id.replace('-', "_")
            ),
            zone,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_assistant_discovery_describes_now_playing_and_every_zone() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schedules/examples/au-lau");
        let mut config = loa_schedules::load_dir(&dir)
            .config
            .expect("the example station loads");
        assert!(discovery(&config).is_empty(), "off unless asked for");
        config.station.mqtt.as_mut().unwrap().homeassistant = true;
        let d = discovery(&config);
        assert_eq!(d.len(), 1 + config.station.zones.len());
        assert_eq!(
            d[0].topic,
            "homeassistant/sensor/loa_au_lau/now_playing/config"
        );
        assert!(d.iter().all(|p| p.retain && p.qos == 1));
        let v: serde_json::Value = serde_json::from_slice(&d[0].payload).unwrap();
        assert_eq!(v["state_topic"], "loa/au-lau/status");
        assert_eq!(v["availability"][0]["payload_available"], "online");
        let z: serde_json::Value = serde_json::from_slice(&d[1].payload).unwrap();
        assert_eq!(
            d[1].topic,
            "homeassistant/binary_sensor/loa_au_lau/zone_thon_1/config"
        );
        assert_eq!(
            z["value_template"],
            "{{ 'ON' if value_json.zones['thon-1'] == 'on' else 'OFF' }}"
        );
        assert_eq!(z["name"], "Thôn 1 (trung tâm xã)");
        assert!(z.get("json_attributes_template").is_none(), "{z}");
    }

    #[test]
    fn a_receiver_zone_carries_its_receivers_state_as_attributes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("icecast.pass"), "hackme\n").unwrap();
        std::fs::write(
            dir.path().join("station.yaml"),
            "station: { id: thu, name: Thử, timezone: Asia/Ho_Chi_Minh }\n\
             outputs:\n  clusters: \"icecast://source@10.0.0.2:8000/x.mp3?password_file=icecast.pass\"\n\
             zones:\n  cum-1: { output: clusters, receiver: rx-1 }\n\
             mqtt: { url: \"mqtt://127.0.0.1:1883\", homeassistant: true }\n",
        )
        .unwrap();
        let loaded = loa_schedules::load_dir(dir.path());
        let config = loaded.config.expect("loads");
        let d = discovery(&config);
        let z: serde_json::Value = serde_json::from_slice(&d[1].payload).unwrap();
        assert_eq!(z["json_attributes_topic"], "loa/thu/status");
        assert_eq!(
            z["json_attributes_template"],
            "{{ value_json.receivers['cum-1'] | tojson }}"
        );
    }
}
