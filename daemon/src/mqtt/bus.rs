//! The station's MQTT side, as the daemon's loop sees it: zone relays and
//! LED boards follow what the scheduler decides, the retained status
//! follows what airs, finished airtime rows go to the feed. Everything is
//! computed here whether or not a broker is configured or reachable; only
//! the sending needs the link, and nothing waits on it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use loa_schedules::{Config, Priority};

use super::link::{FromLink, Link, LinkConfig, ToLink};
use super::Publish;
use crate::boards::Boards;
use crate::engine::Engine;
use crate::scheduler::{Scheduler, ZoneNote};
use crate::zones::Zones;

pub struct Bus {
    link: Option<Link>,
    pub boards: Boards,
    pub zones: Zones,
    /// What the boards were last told airs: (title, emergency).
    shown: Option<(String, bool)>,
    status: serde_json::Value,
    /// Home Assistant discovery messages (retained: they describe Loa's own
    /// status topic to Home Assistant, not commands to a device).
    discovery: Vec<Publish>,
}

impl Bus {
    /// Starts the link when station.yaml has `mqtt` (on the current runtime).
    pub fn new(config: &Config) -> Bus {
        let link = config.station.mqtt.as_ref().map(|m| {
            Link::spawn(LinkConfig::from_station(
                m,
                config.station.paths.state.join("airtime.sqlite"),
            ))
        });
        let zones = Zones::new(config);
        if let Some(l) = &link {
            l.send(ToLink::Subscriptions(zones.subscriptions()));
        }
        Bus {
            link,
            boards: Boards::new(config),
            zones,
            shown: None,
            status: serde_json::Value::Null,
            discovery: discovery(config),
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

        let airing = sched
            .now_airing()
            .map(|(p, _)| (p.title.clone(), p.priority == Priority::Emergency));
        if airing != self.shown {
            let was_emergency = self.shown.as_ref().is_some_and(|(_, e)| *e);
            match &airing {
                Some((title, true)) => out.extend(self.boards.emergency(Some(title), now)),
                Some((title, false)) => {
                    if was_emergency {
                        out.extend(self.boards.emergency(None, now));
                    }
                    out.extend(self.boards.now_playing(Some(title), now));
                }
                None => {
                    if was_emergency {
                        out.extend(self.boards.emergency(None, now));
                    }
                    out.extend(self.boards.now_playing(None, now));
                }
            }
            self.shown = airing;
        }
        if self.boards.next_wakeup().is_some_and(|t| t <= now) {
            out.extend(self.boards.tick(now));
        }
        self.send(out);

        let status = status_document(sched, &self.zones, now);
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
        [self.zones.next_wakeup(), self.boards.next_wakeup()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next message from the link (pending forever without one).
    pub async fn recv(&mut self) -> Option<FromLink> {
        match &mut self.link {
            Some(l) => l.rx.recv().await,
            None => std::future::pending().await,
        }
    }

    pub fn on_link(&mut self, m: FromLink, now: DateTime<Utc>) {
        match m {
            FromLink::Connected => {
                // Boards get their current text again; relays their state.
                let mut out = self.boards.republish(now);
                out.extend(self.zones.republish());
                out.extend(self.discovery.iter().cloned());
                self.send(out);
            }
            FromLink::Disconnected => {}
            FromLink::Message { topic, payload } => self.zones.on_message(&topic, &payload, now),
        }
    }

    pub fn reload(&mut self, config: &Config, now: DateTime<Utc>) {
        self.discovery = discovery(config);
        let mut out = self.boards.reload(config, now);
        out.extend(self.zones.reload(config, now));
        self.send(out);
        if let Some(l) = &self.link {
            l.send(ToLink::Subscriptions(self.zones.subscriptions()));
        }
    }

    /// Relays off, boards cleared of what aired, offline status, disconnect.
    pub async fn shutdown(&mut self, now: DateTime<Utc>) {
        let all: Vec<String> = self.zones.states().into_iter().map(|(z, _)| z).collect();
        self.zones.mute(&all, now);
        let mut out = self.zones.tick(now);
        out.extend(self.boards.now_playing(None, now));
        self.send(out);
        if let Some(l) = &self.link {
            l.send(ToLink::Shutdown);
            // Give the link a moment to flush (bounded; we exit either way).
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
}

/// The retained `P/status` document (SPEC section 6).
pub fn status_document<E: Engine>(
    sched: &Scheduler<E>,
    zones: &Zones,
    now: DateTime<Utc>,
) -> serde_json::Value {
    let tz = sched.config().station.timezone;
    let stamp = |t: DateTime<Utc>| crate::airtime::format_time(&t.with_timezone(&tz));
    let now_doc = sched.now_airing().map(|(p, since)| {
        serde_json::json!({
            "program": p.id,
            "title": p.title,
            "priority": p.priority.as_str(),
            "since": stamp(since),
        })
    });
    let next = sched
        .next_up(now)
        .map(|(p, at)| serde_json::json!({ "program": p.id, "at": stamp(at) }));
    let zone_states: BTreeMap<String, &str> = zones.states().into_iter().collect();
    serde_json::json!({
        "state": "online",
        "version": env!("CARGO_PKG_VERSION"),
        "now": now_doc,
        "next": next,
        "zones": zone_states,
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
        out.push(retained(
            format!(
                "homeassistant/binary_sensor/loa_{}/zone_{}/config",
                st.id.replace('-', "_"),
                z.id.replace('-', "_")
            ),
            serde_json::json!({
                "name": z.name,
                "unique_id": format!("loa_{}_zone_{}", st.id, z.id),
                "state_topic": status,
                "value_template": format!("{{{{ 'ON' if value_json.zones['{}'] == 'on' else 'OFF' }}}}", z.id),
                "device_class": "sound",
                "availability": [availability.clone()],
                "device": device.clone(),
            }),
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
    }
}
