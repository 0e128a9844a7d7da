//! Relay presets: the messages that switch a device and renew its dead-man
//! lease, and how its state reports read. Formats follow each firmware's own
//! MQTT interface:
//! - Tasmota (tasmota.github.io/docs/Commands, "Power<x>", "PulseTime<x>"):
//!   `cmnd/<t>/POWER<n>` ON|OFF; it answers on `stat/<t>/RESULT`
//!   (`{"POWER<n>":"ON"}`) and `stat/<t>/POWER<n>`, and a single-relay
//!   device names its relay `POWER`, not `POWER1`; `tele/<t>/STATE` repeats
//!   it periodically. The lease is `PulseTime<n>` (1..111: tenths of a
//!   second; 112..64900: seconds + 100): the relay switches itself off that
//!   long after its last ON. Every POWER ON restarts the pulse timer
//!   (ExecuteCommandPower in support_tasmota.ino, "Restart PulseTime if
//!   powered On"), so a repeated ON renews the lease; `PulseTime` itself
//!   stops a running timer, so it is sent only with the ON that switches.
//! - Shelly Gen2+ (shelly-api-docs.shelly.cloud/gen2: RPC Protocol, MQTT,
//!   Notifications, Switch): a JSON-RPC request frame on `<t>/rpc`;
//!   `Switch.Set` with `toggle_after` (seconds) flips the output back when
//!   the timer ends, and each `Switch.Set` starts it again. The switch's
//!   status comes on `<t>/status/switch:<id>` (status_ntf) and in
//!   `NotifyStatus` frames on `<t>/events/rpc` (rpc_ntf, on by default).
//! - ESPHome (esphome mqtt_switch.cpp): `<t>/switch/<id>/command` ON|OFF, the
//!   state on `<t>/switch/<id>/state`. ESPHome has no timed switch over MQTT:
//!   Loa sends the lease in seconds on `<t>/switch/<id>/lease`, which the
//!   firmware the administrator guide shows (a restart-mode script) turns
//!   into an auto-off.
//! - custom: the configured messages, and `renew` if given; the device
//!   reports nothing we can read.

use loa_schedules::{Relay, RelayDevice};
use serde_json::Value;

use crate::runtime::mqtt::Publish;

/// What a command does to a relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Switch {
    /// Switch on (from off, or state unknown), arming the lease.
    On,
    /// Still on: the lease starts again (and a relay that went off by
    /// itself comes back).
    Renew,
    Off,
}

/// The messages that do `switch` to `relay`, in the order to send them.
/// `src` and `rpc_id` name the request for devices that speak RPC (Shelly).
pub(super) fn commands(relay: &Relay, switch: Switch, src: &str, rpc_id: u32) -> Vec<Publish> {
    let on = switch != Switch::Off;
    let word = if on { "ON" } else { "OFF" };
    let secs = relay.lease.as_secs_f64();
    match &relay.device {
        RelayDevice::Tasmota { topic, channel } => {
            let power = Publish::device(format!("cmnd/{topic}/POWER{channel}"), word);
            if switch != Switch::On {
                return vec![power];
            }
            let code = pulse_time(secs).to_string();
            // POWER0 switches every relay: each has its own PulseTime
            // (PulseTime0 is not a command). Eight covers the boards sold
            // for this (Sonoff 4CH, 8-relay boards).
            let relays = if *channel == 0 {
                1..=8
            } else {
                *channel..=*channel
            };
            let mut out: Vec<Publish> = relays
                .map(|n| Publish::device(format!("cmnd/{topic}/PulseTime{n}"), code.clone()))
                .collect();
            out.push(power);
            out
        }
        RelayDevice::Shelly { topic, channel } => {
            // Written by hand so the frame reads in the documented order.
            let src = Value::String(src.to_owned());
            let timer = if on {
                format!(r#","toggle_after":{}"#, seconds(secs))
            } else {
                String::new()
            };
            vec![Publish::device(
                format!("{topic}/rpc"),
                format!(
                    r#"{{"id":{rpc_id},"src":{src},"method":"Switch.Set","params":{{"id":{channel},"on":{on}{timer}}}}}"#
                ),
            )]
        }
        RelayDevice::Esphome { topic, id } => {
            let command = Publish::device(format!("{topic}/switch/{id}/command"), word);
            if on {
                // The lease first: the switch never runs on without it.
                vec![
                    Publish::device(format!("{topic}/switch/{id}/lease"), seconds(secs)),
                    command,
                ]
            } else {
                vec![command]
            }
        }
        RelayDevice::Custom {
            on: msg_on,
            off,
            renew,
        } => {
            let m = match switch {
                Switch::On => Some(msg_on),
                Switch::Renew => renew.as_ref(),
                Switch::Off => Some(off),
            };
            m.map(|m| Publish::device(m.topic.clone(), m.payload.clone()))
                .into_iter()
                .collect()
        }
    }
}

/// Tasmota's PulseTime for a lease of `secs` seconds: 1..111 are tenths of
/// a second, 112..64900 whole seconds plus 100.
pub(super) fn pulse_time(secs: f64) -> u32 {
    if secs <= 11.1 {
        ((secs * 10.0).round() as u32).clamp(1, 111)
    } else {
        (secs.round() as u32).saturating_add(100).clamp(112, 64900)
    }
}

/// Seconds as a JSON number or a payload: `120`, `2.5`.
fn seconds(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}", secs as u64)
    } else {
        format!("{secs:.1}")
    }
}

/// The topics on which the device reports the relay's state (none for custom).
pub(super) fn state_topics(relay: &RelayDevice) -> Vec<String> {
    match relay {
        RelayDevice::Tasmota { topic, channel } => {
            let mut v: Vec<String> = tasmota_names(*channel)
                .iter()
                .map(|n| format!("stat/{topic}/{n}"))
                .collect();
            v.push(format!("stat/{topic}/RESULT"));
            v.push(format!("tele/{topic}/STATE"));
            v
        }
        RelayDevice::Shelly { topic, channel } => vec![
            format!("{topic}/status/switch:{channel}"),
            format!("{topic}/events/rpc"),
        ],
        RelayDevice::Esphome { topic, id } => vec![format!("{topic}/switch/{id}/state")],
        RelayDevice::Custom { .. } => Vec::new(),
    }
}

/// Whether the device supports state reports at all.
pub(super) fn reports(relay: &RelayDevice) -> bool {
    !matches!(relay, RelayDevice::Custom { .. })
}

/// The relay's state in a report on `topic`, if this report is about it.
pub(super) fn read_report(relay: &RelayDevice, topic: &str, payload: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(payload).ok()?;
    match relay {
        RelayDevice::Tasmota { topic: t, channel } => {
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
        RelayDevice::Shelly { topic: t, channel } => {
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
        RelayDevice::Esphome { topic: t, id } => {
            if topic == format!("{t}/switch/{id}/state") {
                on_off(text)
            } else {
                None
            }
        }
        RelayDevice::Custom { .. } => None,
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
