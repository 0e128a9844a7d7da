//! `loa simulate-devices`: the station's relays and LED boards, simulated on
//! its broker as their firmwares answer (the relays are [`crate::devices`],
//! the ones the end-to-end tests use), with one line per thing a village
//! would see: an amplifier switching, a board's text changing; and, as an
//! operator's MQTT dashboard would, what the station says there: the program
//! on air (`P/status`) and each airtime row as it closes (`P/airtime`). For
//! the demo (`make run`) and for trying a station's MQTT set-up without its
//! devices.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use chrono_tz::Tz;
use loa_schedules::{Board, BoardPreset, RelayDevice};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use crate::devices::{Firmware, Happened, SimulatedRelay};

#[derive(Debug, clap::Args)]
pub struct SimulateDevicesArgs {
    #[command(flatten)]
    pub config: crate::cli::ConfigArg,
}

pub fn run(args: &SimulateDevicesArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.config.config;
    let station = crate::cmd::configuration(dir)?.station;
    let Some(mqtt) = station.mqtt.as_ref() else {
        bail!(
            "{}: no `mqtt:` section, so no broker to put devices on",
            dir.join("station.yaml").display()
        );
    };
    if mqtt.tls || mqtt.username.is_some() {
        bail!(
            "{}: mqtt.url {} needs TLS or a password; simulated devices speak plain MQTT \
             without one (a local test broker, as the demo's)",
            dir.join("station.yaml").display(),
            mqtt.url
        );
    }
    let tz = station.timezone;
    let mut relays = Vec::new();
    for zone in &station.zones {
        let firmware = match zone.relay.as_ref().map(|r| &r.device) {
            None => continue,
            Some(RelayDevice::Custom { .. }) => {
                say(
                    tz,
                    &format!("relay {}: custom topics, not simulated", zone.id),
                );
                continue;
            }
            Some(RelayDevice::Tasmota { topic, channel }) => Firmware::Tasmota {
                topic: topic.clone(),
                channel: *channel,
            },
            Some(RelayDevice::Shelly { topic, channel }) => Firmware::Shelly {
                topic: topic.clone(),
                channel: *channel,
            },
            Some(RelayDevice::Esphome { topic, id }) => Firmware::Esphome {
                topic: topic.clone(),
                id: id.clone(),
            },
        };
        let relay = SimulatedRelay::connect(&mqtt.host, mqtt.port, firmware, Duration::ZERO)?;
        say(
            tz,
            &format!(
                "relay {}: {} ready, OFF",
                zone.id,
                describe(&relay.firmware)
            ),
        );
        relays.push((zone.id.clone(), relay, 0_usize, false));
    }
    let (lines, shown) = mpsc::channel();
    for board in &station.boards {
        simulate_board(&mqtt.host, mqtt.port, board.clone(), lines.clone());
        say(
            tz,
            &format!(
                "board {}: {} {} ready, blank",
                board.id,
                preset_name(board.preset),
                board.topic
            ),
        );
    }
    watch_station(&mqtt.host, mqtt.port, &mqtt.prefix, lines.clone());
    loop {
        while let Ok(line) = shown.recv_timeout(Duration::from_millis(100)) {
            say(tz, &line);
        }
        // A firmware reports its state after every command (Tasmota after
        // each renewal of the lease too): a line for each change only.
        for (zone, relay, seen, was_on) in &mut relays {
            let log = relay.log();
            for (_, happened) in &log[*seen..] {
                match happened {
                    Happened::Reported(on) if on != was_on => {
                        say(
                            tz,
                            &format!("relay {zone}: {}", if *on { "ON" } else { "OFF" }),
                        );
                        *was_on = *on;
                    }
                    Happened::SwitchedItselfOff => {
                        say(
                            tz,
                            &format!(
                                "relay {zone}: OFF by its own timer (Loa stopped renewing it)"
                            ),
                        );
                        *was_on = false;
                    }
                    Happened::Reported(_) | Happened::Commanded(_) => {}
                }
            }
            *seen = log.len();
        }
    }
}

/// One line, with the station's local time in front, flushed at once (the
/// demo's terminal and a test's pipe see it when it happened).
fn say(tz: Tz, line: &str) {
    let now = Utc::now().with_timezone(&tz).format("%H:%M:%S");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{now} {line}");
    let _ = out.flush();
}

fn describe(fw: &Firmware) -> String {
    match fw {
        Firmware::Tasmota { topic, channel } => format!("Tasmota {topic} POWER{channel}"),
        Firmware::Shelly { topic, channel } => format!("Shelly {topic} switch:{channel}"),
        Firmware::Esphome { topic, id } => format!("ESPHome {topic} {id}"),
    }
}

fn preset_name(preset: BoardPreset) -> &'static str {
    match preset {
        BoardPreset::Awtrix => "AWTRIX",
        BoardPreset::Wled => "WLED",
        BoardPreset::Tasmota => "Tasmota",
        BoardPreset::Text => "text",
        BoardPreset::Json => "json",
    }
}

/// What a board's firmware shows: its app's (or segment's) text, and for
/// AWTRIX a held notification above it.
#[derive(Default)]
struct Display {
    text: String,
    notification: Option<String>,
}

impl Display {
    fn visible(&self) -> &str {
        self.notification.as_deref().unwrap_or(&self.text)
    }

    /// Takes one message on `topic` as the board's firmware does.
    fn obey(&mut self, board: &Board, topic: &str, payload: &str) {
        let t = &board.topic;
        let json_text = || {
            serde_json::from_str::<serde_json::Value>(payload)
                .ok()
                .and_then(|v| v["text"].as_str().map(String::from))
                .unwrap_or_default()
        };
        match board.preset {
            BoardPreset::Awtrix => {
                if topic == format!("{t}/notify/dismiss") {
                    self.notification = None;
                } else if topic == format!("{t}/notify") {
                    self.notification = Some(json_text());
                } else {
                    // `custom/loa`: an empty payload deletes the app.
                    self.text = json_text();
                }
            }
            BoardPreset::Wled => {
                let v: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
                self.text = if v["on"] == false {
                    String::new()
                } else {
                    v["seg"][0]["n"].as_str().unwrap_or_default().to_string()
                };
            }
            BoardPreset::Tasmota => {
                let command = topic.rsplit('/').next().unwrap_or_default();
                if command.eq_ignore_ascii_case("DisplayText") {
                    self.text = payload.to_string();
                } else if command.eq_ignore_ascii_case("DisplayClear") {
                    self.text.clear();
                }
            }
            BoardPreset::Text => self.text = payload.to_string(),
            BoardPreset::Json => self.text = json_text(),
        }
    }
}

/// A board on the broker, in a thread of its own: sends `board ID: "TEXT"`
/// to `lines` whenever what it shows changes.
fn simulate_board(host: &str, port: u16, board: Board, lines: mpsc::Sender<String>) {
    let mut opts = MqttOptions::new(
        format!("sim-{}-{}", std::process::id(), board.id),
        host,
        port,
    );
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(opts, 64);
    let t = &board.topic;
    let topics = match board.preset {
        BoardPreset::Awtrix => vec![format!("{t}/custom/+"), format!("{t}/notify/#")],
        BoardPreset::Wled => vec![format!("{t}/api")],
        BoardPreset::Tasmota => vec![format!("cmnd/{t}/+")],
        BoardPreset::Text | BoardPreset::Json => vec![t.clone()],
    };
    // Each connection: subscribe again and say it is back, as the firmware does.
    let birth = match board.preset {
        BoardPreset::Wled => Some((format!("{t}/status"), "online")),
        BoardPreset::Tasmota => Some((format!("tele/{t}/LWT"), "Online")),
        BoardPreset::Awtrix | BoardPreset::Text | BoardPreset::Json => None,
    };
    std::thread::spawn(move || {
        let mut display = Display::default();
        for ev in connection.iter() {
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for topic in &topics {
                        let _ = client.subscribe(topic.clone(), QoS::AtMostOnce);
                    }
                    if let Some((topic, word)) = &birth {
                        let _ = client.publish(topic.clone(), QoS::AtLeastOnce, true, *word);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let before = display.visible().to_string();
                    display.obey(&board, &p.topic, &String::from_utf8_lossy(&p.payload));
                    if display.visible() != before {
                        let shown = match display.visible() {
                            "" => "blank".to_string(),
                            text => format!("{text:?}"),
                        };
                        let _ = lines.send(format!("board {}: {shown}", board.id));
                    }
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    });
}

/// The station's own topics, as a dashboard shows them: `on air: TITLE`
/// when what airs changes, a zone at fault, and one line per airtime row.
fn watch_station(host: &str, port: u16, prefix: &str, lines: mpsc::Sender<String>) {
    let mut opts = MqttOptions::new(format!("sim-{}-station", std::process::id()), host, port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(opts, 64);
    let (status, airtime) = (format!("{prefix}/status"), format!("{prefix}/airtime"));
    std::thread::spawn(move || {
        let mut on_air = None;
        let mut faults = Vec::new();
        for ev in connection.iter() {
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    for topic in [&status, &airtime] {
                        let _ = client.subscribe(topic.clone(), QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v: serde_json::Value =
                        serde_json::from_slice(&p.payload).unwrap_or_default();
                    for line in if p.topic == status {
                        status_lines(&v, &mut on_air, &mut faults)
                    } else {
                        vec![row_line(&v)]
                    } {
                        let _ = lines.send(line);
                    }
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    });
}

/// What changed in the station's status since the last one.
fn status_lines(
    v: &serde_json::Value,
    on_air: &mut Option<String>,
    faults: &mut Vec<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    let now = v["now"]["title"].as_str().map(String::from);
    if now != *on_air {
        out.push(match &now {
            Some(title) => format!(
                "on air: {title:?} ({}, {})",
                v["now"]["program"].as_str().unwrap_or("announcement"),
                v["now"]["priority"].as_str().unwrap_or_default()
            ),
            None => "on air: nothing".to_string(),
        });
        *on_air = now;
    }
    let mut now_faults: Vec<String> = v["zones"]
        .as_object()
        .map(|zones| {
            zones
                .iter()
                .filter(|(_, state)| *state == "fault")
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default();
    now_faults.sort();
    for zone in now_faults.iter().filter(|z| !faults.contains(z)) {
        out.push(format!("zone {zone}: fault (its relay does not answer)"));
    }
    *faults = now_faults;
    out
}

/// One airtime row, as a line: what aired, from what, how it ended.
fn row_line(v: &serde_json::Value) -> String {
    let source = v["source"].as_str().unwrap_or_default();
    let source: String = if source.chars().count() > 40 {
        source.chars().take(39).chain(['…']).collect()
    } else {
        source.to_string()
    };
    format!(
        "airtime row: {:?} {} {source:?}: {}, {:.1} s{}",
        v["title"].as_str().unwrap_or_default(),
        v["source_kind"].as_str().unwrap_or_default(),
        v["outcome"].as_str().unwrap_or_default(),
        v["aired_ms"].as_f64().unwrap_or_default() / 1000.0,
        v["detail"]
            .as_str()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::boards::preset::{render, Layer, Shown, Timing};
    use loa_schedules::{Charset, Loc};

    fn board(preset: BoardPreset) -> Board {
        Board {
            id: "b".into(),
            name: "B".into(),
            preset,
            topic: "bang".into(),
            charset: Charset::Utf8,
            show_now_playing: true,
            loc: Loc {
                file: "station.yaml".into(),
                pos: loa_schedules::yaml::Pos { line: 1, column: 1 },
            },
        }
    }

    fn shown(text: &str, layer: Layer) -> Shown {
        Shown {
            text: text.into(),
            color: "#FFFFFF".into(),
            layer,
            until: None,
        }
    }

    /// Feeds what the daemon renders for a board to the simulated firmware.
    fn shows(display: &mut Display, b: &Board, app: Option<&Shown>, emergency: Option<&Shown>) {
        let timing = Timing {
            duration_s: 10,
            lifetime_s: 120,
        };
        for p in render(b, app, emergency, chrono_tz::Asia::Ho_Chi_Minh, timing) {
            display.obey(b, &p.topic, &String::from_utf8_lossy(&p.payload));
        }
    }

    /// Each preset's simulated board shows what Loa's payloads for it say:
    /// the program, an emergency above it, then blank.
    #[test]
    fn a_simulated_board_shows_what_the_daemon_sends_it() {
        let (program, alarm) = (
            shown("Thời sự xã", Layer::Program),
            shown("Bão số 3", Layer::Emergency),
        );
        for preset in [
            BoardPreset::Awtrix,
            BoardPreset::Wled,
            BoardPreset::Tasmota,
            BoardPreset::Text,
            BoardPreset::Json,
        ] {
            let b = board(preset);
            let mut d = Display::default();
            shows(&mut d, &b, Some(&program), None);
            assert_eq!(d.visible(), "Thời sự xã", "{preset:?}");
            shows(&mut d, &b, Some(&program), Some(&alarm));
            assert_eq!(d.visible(), "Bão số 3", "{preset:?}");
            if preset == BoardPreset::Awtrix {
                // Its notification is dismissed, not replaced (preset::changes).
                d.obey(&b, "bang/notify/dismiss", "");
            }
            shows(&mut d, &b, None, None);
            assert_eq!(d.visible(), "", "{preset:?}");
        }
    }

    #[test]
    fn the_station_view_says_what_changed() {
        let (mut on_air, mut faults) = (None, Vec::new());
        let status = serde_json::json!({
            "state": "online",
            "now": {"program": "vov1-sang", "title": "Tiếp sóng VOV1", "priority": "normal"},
            "zones": {"thon-1": "on", "cho": "fault"},
        });
        assert_eq!(
            status_lines(&status, &mut on_air, &mut faults),
            [
                r#"on air: "Tiếp sóng VOV1" (vov1-sang, normal)"#,
                "zone cho: fault (its relay does not answer)"
            ]
        );
        assert!(status_lines(&status, &mut on_air, &mut faults).is_empty());
        let row = serde_json::json!({
            "title": "Tiếp sóng VOV1", "source_kind": "stream",
            "source": "https://str.vov.gov.vn/vovlive/vov1vov5Vietnamese.sdp_aac/playlist.m3u8",
            "outcome": "cut", "aired_ms": 1_800_000, "detail": "window end",
        });
        assert_eq!(
            row_line(&row),
            r#"airtime row: "Tiếp sóng VOV1" stream "https://str.vov.gov.vn/vovlive/vov1vov5…": cut, 1800.0 s (window end)"#
        );
    }
}
