//! Relay presets: the message that switches a device, and how its state
//! reports read. Formats follow each firmware's own MQTT interface:
//! - Tasmota (tasmota.github.io/docs/Commands, "Power<x>"): `cmnd/<t>/POWER<n>`
//!   ON|OFF; it answers on `stat/<t>/RESULT` (`{"POWER<n>":"ON"}`) and
//!   `stat/<t>/POWER<n>`, and a single-relay device names its relay `POWER`,
//!   not `POWER1`; `tele/<t>/STATE` repeats it periodically.
//! - Shelly Gen2+ (shelly-api-docs.shelly.cloud/gen2: RPC Protocol, MQTT,
//!   Notifications): a JSON-RPC request frame on `<t>/rpc`; the switch's
//!   status on `<t>/status/switch:<id>` (status_ntf) and `NotifyStatus` frames
//!   on `<t>/events/rpc` (rpc_ntf, on by default).
//! - ESPHome (esphome mqtt_switch.cpp): `<t>/switch/<id>/command` ON|OFF, the
//!   state on `<t>/switch/<id>/state`.
//! - custom: the configured messages; the device reports nothing we can read.

use loa_schedules::Relay;
use serde_json::Value;

use crate::mqtt::Publish;

/// The message that switches `relay` on or off. `src` and `rpc_id` name the
/// request for devices that speak RPC (Shelly).
pub(super) fn command(relay: &Relay, on: bool, src: &str, rpc_id: u32) -> Publish {
    let word = if on { "ON" } else { "OFF" };
    match relay {
        Relay::Tasmota { topic, channel } => {
            Publish::device(format!("cmnd/{topic}/POWER{channel}"), word)
        }
        Relay::Shelly { topic, channel } => {
            // Written by hand so the frame reads in the documented order.
            let src = Value::String(src.to_owned());
            Publish::device(
                format!("{topic}/rpc"),
                format!(
                    r#"{{"id":{rpc_id},"src":{src},"method":"Switch.Set","params":{{"id":{channel},"on":{on}}}}}"#
                ),
            )
        }
        Relay::Esphome { topic, id } => {
            Publish::device(format!("{topic}/switch/{id}/command"), word)
        }
        Relay::Custom { on: msg_on, off } => {
            let m = if on { msg_on } else { off };
            Publish::device(m.topic.clone(), m.payload.clone())
        }
    }
}

/// The topics on which the device reports the relay's state (none for custom).
pub(super) fn state_topics(relay: &Relay) -> Vec<String> {
    match relay {
        Relay::Tasmota { topic, channel } => {
            let mut v: Vec<String> = tasmota_names(*channel)
                .iter()
                .map(|n| format!("stat/{topic}/{n}"))
                .collect();
            v.push(format!("stat/{topic}/RESULT"));
            v.push(format!("tele/{topic}/STATE"));
            v
        }
        Relay::Shelly { topic, channel } => vec![
            format!("{topic}/status/switch:{channel}"),
            format!("{topic}/events/rpc"),
        ],
        Relay::Esphome { topic, id } => vec![format!("{topic}/switch/{id}/state")],
        Relay::Custom { .. } => Vec::new(),
    }
}

/// Whether the device supports state reports at all.
pub(super) fn reports(relay: &Relay) -> bool {
    !matches!(relay, Relay::Custom { .. })
}

/// The relay's state in a report on `topic`, if this report is about it.
pub(super) fn read_report(relay: &Relay, topic: &str, payload: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(payload).ok()?;
    match relay {
        Relay::Tasmota { topic: t, channel } => {
            let rest = topic
                .strip_prefix("stat/")
                .and_then(|r| r.strip_prefix(t.as_str()))
                .and_then(|r| r.strip_prefix('/'));
            let names = tasmota_names(*channel);
            if let Some(rest) = rest {
                if names.iter().any(|n| n == rest) {
                    return on_off(text);
                }
                if rest == "RESULT" {
                    return tasmota_json(text, &names);
                }
                return None;
            }
            if topic
                .strip_prefix("tele/")
                .and_then(|r| r.strip_prefix(t.as_str()))
                == Some("/STATE")
            {
                return tasmota_json(text, &names);
            }
            None
        }
        Relay::Shelly { topic: t, channel } => {
            let rest = topic.strip_prefix(t.as_str())?.strip_prefix('/')?;
            let component = format!("switch:{channel}");
            if rest.strip_prefix("status/") == Some(component.as_str()) {
                let v: Value = serde_json::from_str(text).ok()?;
                return v.get("output")?.as_bool();
            }
            if rest == "events/rpc" {
                let v: Value = serde_json::from_str(text).ok()?;
                let method = v.get("method")?.as_str()?;
                if method != "NotifyStatus" && method != "NotifyFullStatus" {
                    return None;
                }
                // A NotifyStatus carries only what changed: no `output`, no news.
                return v.get("params")?.get(&component)?.get("output")?.as_bool();
            }
            None
        }
        Relay::Esphome { topic: t, id } => {
            if topic == format!("{t}/switch/{id}/state") {
                on_off(text)
            } else {
                None
            }
        }
        Relay::Custom { .. } => None,
    }
}

/// The names under which a Tasmota device reports relay `channel`: `POWER<n>`,
/// and `POWER` for the first relay (what a single-relay device says). Channel 0
/// (`POWER0`: every relay at once) reads the first relay.
fn tasmota_names(channel: u32) -> Vec<String> {
    match channel {
        0 | 1 => vec!["POWER1".into(), "POWER".into()],
        n => vec![format!("POWER{n}")],
    }
}

fn on_off(text: &str) -> Option<bool> {
    let t = text.trim();
    if ["on", "1", "true"]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w))
    {
        Some(true)
    } else if ["off", "0", "false"]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w))
    {
        Some(false)
    } else {
        None
    }
}

fn tasmota_json(text: &str, names: &[String]) -> Option<bool> {
    let v: Value = serde_json::from_str(text).ok()?;
    names
        .iter()
        .find_map(|n| v.get(n.as_str()))
        .and_then(|s| s.as_str())
        .and_then(on_off)
}
