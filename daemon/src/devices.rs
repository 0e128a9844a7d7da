//! Simulated amplifier relays that speak over MQTT as the real firmwares do:
//! Tasmota, Shelly Gen2 and ESPHome (flashed with the administrator
//! guide's lease script). Each obeys its commands, reports its state on its
//! real topics, and runs its own auto-off timer (PulseTime, `toggle_after`,
//! the lease script) as the device would, so the end-to-end tests see what a
//! village's amplifier would do when Loa stops or dies, and the demo (`loa
//! simulate-devices`) has amplifiers that answer. Plain threads and the
//! blocking MQTT client: a device is its own small program, not a task of
//! the daemon.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

/// Which firmware a simulated relay plays, and where it listens.
#[derive(Clone, Debug)]
pub enum Firmware {
    /// `cmnd/<topic>/POWER<channel>`, `PulseTime<channel>`.
    Tasmota { topic: String, channel: u32 },
    /// `<topic>/rpc`, `Switch.Set` on switch `channel`.
    Shelly { topic: String, channel: u32 },
    /// `<topic>/switch/<id>/command` and the lease script's `.../lease`.
    Esphome { topic: String, id: String },
}

/// What happened to a simulated relay, and when.
#[derive(Clone, Debug, PartialEq)]
pub enum Happened {
    /// A command to switch: on or off.
    Commanded(bool),
    /// Its own timer switched it off (the dead-man).
    SwitchedItselfOff,
    /// Its state report left for the broker: on or off.
    Reported(bool),
}

#[derive(Default)]
struct State {
    on: bool,
    /// Tasmota's PulseTime setting (persisted in the device's flash).
    pulse: Option<Duration>,
    /// When the device's own timer switches it off.
    off_at: Option<Instant>,
    log: Vec<(Instant, Happened)>,
    /// Reports handed to the client, not yet seen leaving (None: another
    /// message, such as an RPC response).
    pending: std::collections::VecDeque<Option<bool>>,
    /// A timer ended while the device was on.
    auto_off: bool,
}

/// A simulated relay on the broker at `port`, until dropped.
pub struct SimulatedRelay {
    pub firmware: Firmware,
    state: Arc<Mutex<State>>,
    client: Client,
    threads: Vec<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl SimulatedRelay {
    /// Connects, subscribes, and returns once the broker confirmed the
    /// subscription (so no command can be missed).
    pub fn start(port: u16, firmware: Firmware) -> SimulatedRelay {
        SimulatedRelay::start_with_latency(port, firmware, Duration::ZERO)
    }

    /// As `start`, each message reaching the device `latency` after the
    /// broker sent it (a village's weak WiFi link).
    pub fn start_with_latency(port: u16, firmware: Firmware, latency: Duration) -> SimulatedRelay {
        SimulatedRelay::connect("127.0.0.1", port, firmware, latency)
            .expect("the simulated relay subscribed")
    }

    /// Connects to the broker at `host`:`port`, subscribes, and returns once
    /// the broker confirmed the subscription, or why it did not within 10 s.
    pub fn connect(
        host: &str,
        port: u16,
        firmware: Firmware,
        latency: Duration,
    ) -> anyhow::Result<SimulatedRelay> {
        // One client per relay: two channels of one device are two relays.
        let id = format!(
            "sim-{}-{}",
            std::process::id(),
            match &firmware {
                Firmware::Tasmota { topic, channel } | Firmware::Shelly { topic, channel } =>
                    format!("{}-{channel}", topic.replace('/', "_")),
                Firmware::Esphome { topic, id } => format!("{}-{id}", topic.replace('/', "_")),
            }
        );
        let mut opts = MqttOptions::new(id, host, port);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(opts, 64);
        let topics: Vec<String> = match &firmware {
            Firmware::Tasmota { topic, .. } => vec![format!("cmnd/{topic}/+")],
            Firmware::Shelly { topic, .. } => vec![format!("{topic}/rpc")],
            Firmware::Esphome { topic, id } => vec![
                format!("{topic}/switch/{id}/command"),
                format!("{topic}/switch/{id}/lease"),
            ],
        };
        for t in &topics {
            // Queued for the connection below: it fails only when the queue does.
            client.subscribe(t.clone(), QoS::AtMostOnce)?;
        }
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (subscribed_tx, subscribed_rx) = std::sync::mpsc::channel();
        let mut threads = Vec::new();
        let (arrived_tx, arrived_rx) = std::sync::mpsc::channel::<(Instant, String, String)>();
        {
            // The device's firmware: each message, once its latency passed.
            let (state, client, fw) = (state.clone(), client.clone(), firmware.clone());
            threads.push(std::thread::spawn(move || {
                while let Ok((at, topic, payload)) = arrived_rx.recv() {
                    std::thread::sleep((at + latency).saturating_duration_since(Instant::now()));
                    obey(&fw, &client, &state, &topic, &payload);
                }
            }));
        }
        {
            let (state, stop) = (state.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let mut subacks = 0;
                for ev in connection.iter() {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    match ev {
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            subacks += 1;
                            if subacks == topics.len() {
                                let _ = subscribed_tx.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let payload = String::from_utf8_lossy(&p.payload).into_owned();
                            let _ = arrived_tx.send((Instant::now(), p.topic.clone(), payload));
                        }
                        Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                            let mut s = state.lock().unwrap();
                            if let Some(Some(on)) = s.pending.pop_front() {
                                s.log.push((Instant::now(), Happened::Reported(on)));
                            }
                        }
                        Ok(_) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(100)),
                    }
                }
            }));
        }
        {
            // The device's own timer.
            let (state, client, fw, stop) = (
                state.clone(),
                client.clone(),
                firmware.clone(),
                stop.clone(),
            );
            threads.push(std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                    let mut s = state.lock().unwrap();
                    if s.off_at.is_some_and(|t| t <= Instant::now()) {
                        s.off_at = None;
                        if s.on {
                            s.on = false;
                            s.auto_off = true;
                            s.log.push((Instant::now(), Happened::SwitchedItselfOff));
                            report(&fw, &client, &mut s);
                        }
                    }
                }
            }));
        }
        let relay = SimulatedRelay {
            firmware,
            state,
            client,
            threads,
            stop,
        };
        match subscribed_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => Ok(relay),
            // Dropping it stops its threads.
            Err(_) => anyhow::bail!(
                "{:?}: no subscription confirmed by the broker at {host}:{port} within 10 s",
                relay.firmware
            ),
        }
    }

    pub fn is_on(&self) -> bool {
        self.state.lock().unwrap().on
    }

    /// Everything that happened to it so far, in order.
    pub fn log(&self) -> Vec<(Instant, Happened)> {
        self.state.lock().unwrap().log.clone()
    }

    /// Whether its own timer ever switched it off.
    pub fn switched_itself_off(&self) -> bool {
        self.state.lock().unwrap().auto_off
    }
}

impl Drop for SimulatedRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.client.disconnect();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One message to the device, handled as its firmware does.
fn obey(fw: &Firmware, client: &Client, state: &Mutex<State>, topic: &str, payload: &str) {
    let mut s = state.lock().unwrap();
    let now = Instant::now();
    match fw {
        Firmware::Tasmota { topic: t, channel } => {
            let Some(cmd) = topic.strip_prefix(&format!("cmnd/{t}/")) else {
                return;
            };
            let cmd = cmd.to_ascii_lowercase();
            if cmd == format!("pulsetime{channel}") {
                // 1..111 tenths of a second, 112.. seconds + 100; setting it
                // stops a running timer (CmndPulsetime).
                let code: u64 = payload.trim().parse().unwrap_or(0);
                s.pulse = match code {
                    0 => None,
                    1..=111 => Some(Duration::from_millis(code * 100)),
                    _ => Some(Duration::from_secs(code - 100)),
                };
                s.off_at = None;
            } else if cmd == format!("power{channel}") {
                let on = match payload.trim().to_ascii_uppercase().as_str() {
                    "ON" | "1" => true,
                    "OFF" | "0" => false,
                    _ => return,
                };
                s.log.push((now, Happened::Commanded(on)));
                s.on = on;
                // Every POWER ON restarts the pulse timer; OFF stops it.
                s.off_at = if on { s.pulse.map(|p| now + p) } else { None };
                report(fw, client, &mut s);
            }
        }
        Firmware::Shelly { channel, .. } => {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(payload) else {
                return;
            };
            if v["method"] != "Switch.Set" || v["params"]["id"] != *channel {
                return;
            }
            let Some(on) = v["params"]["on"].as_bool() else {
                return;
            };
            let was_on = s.on;
            s.log.push((now, Happened::Commanded(on)));
            s.on = on;
            // Each Switch.Set replaces the flip-back timer.
            s.off_at = v["params"]["toggle_after"]
                .as_f64()
                .filter(|_| on)
                .map(|secs| now + Duration::from_secs_f64(secs));
            if let Some(src) = v["src"].as_str() {
                let answer = serde_json::json!({
                    "id": v["id"], "src": "shellyplus1-fake", "dst": src,
                    "result": { "was_on": was_on },
                });
                if client
                    .publish(
                        format!("{src}/rpc"),
                        QoS::AtMostOnce,
                        false,
                        answer.to_string(),
                    )
                    .is_ok()
                {
                    s.pending.push_back(None);
                }
            }
            if was_on != on {
                report(fw, client, &mut s);
            }
        }
        Firmware::Esphome { topic: t, id } => {
            if topic == format!("{t}/switch/{id}/lease") {
                // The guide's restart-mode script: each message starts the delay again.
                if let Ok(secs) = payload.trim().parse::<f64>() {
                    s.off_at = Some(now + Duration::from_secs_f64(secs));
                }
                return;
            }
            let on = match payload.trim() {
                "ON" => true,
                "OFF" => false,
                _ => return,
            };
            s.log.push((now, Happened::Commanded(on)));
            let changed = s.on != on;
            s.on = on;
            if changed {
                report(fw, client, &mut s);
            }
        }
    }
}

/// The device's state report on its real topics.
fn report(fw: &Firmware, client: &Client, s: &mut State) {
    let word = if s.on { "ON" } else { "OFF" };
    let msgs: Vec<(String, String, bool)> = match fw {
        Firmware::Tasmota { topic, channel } => vec![
            (
                format!("stat/{topic}/RESULT"),
                format!(r#"{{"POWER{channel}":"{word}"}}"#),
                false,
            ),
            (format!("stat/{topic}/POWER{channel}"), word.to_string(), false),
        ],
        // rpc_ntf (on by default): a NotifyStatus with the switch's change.
        Firmware::Shelly { topic, channel } => vec![(
            format!("{topic}/events/rpc"),
            serde_json::json!({
                "src": "shellyplus1-fake", "dst": format!("{topic}/events"),
                "method": "NotifyStatus",
                "params": { "ts": 0, format!("switch:{channel}"): { "id": channel, "output": s.on } },
            })
            .to_string(),
            false,
        )],
        // ESPHome retains its state topics by default.
        Firmware::Esphome { topic, id } => {
            vec![(format!("{topic}/switch/{id}/state"), word.to_string(), true)]
        }
    };
    for (i, (topic, payload, retain)) in msgs.into_iter().enumerate() {
        if client
            .publish(topic, QoS::AtMostOnce, retain, payload)
            .is_ok()
        {
            // The first message of a report is the one that tells.
            s.pending.push_back((i == 0).then_some(s.on));
        }
    }
}
