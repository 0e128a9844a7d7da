//! Zones on instants given by the test: what is published, exactly when.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use std::time::Duration;

use loa_schedules::RelayDevice;

use super::*;

const STATION: &str = r#"station:
  id: test
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
mqtt:
  url: mqtt://127.0.0.1:1883
  client_id: loa-test
zones:
  thon-2:
    output: main
    relay: { preset: tasmota, topic: amp-thon, channel: 2, lease: 1h }
    preroll: 3s
    hold: 30s
  cho:
    output: main
    relay: { preset: shelly, topic: shelly-cho, channel: 0, lease: 1h }
    preroll: 2s
    hold: 10s
  thon-1:
    output: main
    relay: { preset: esphome, topic: loa-thon1, channel: relay_amp, lease: 1h }
    preroll: 1s
    hold: 5s
  dinh:
    output: main
    relay:
      preset: custom
      switch_on: { topic: "amp/dinh/set", payload: "bat" }
      switch_off: { topic: "amp/dinh/set", payload: "tat" }
      lease: 1h
    preroll: 0s
    hold: 0s
  truong:
    output: main
    preroll: 2s
    hold: 10s
"#;

fn config(station: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("station.yaml"), station).unwrap();
    let loaded = loa_schedules::load_dir(dir.path());
    assert!(
        loaded.diagnostics.errors.is_empty(),
        "{:#?}",
        loaded.diagnostics.errors
    );
    loaded.config.unwrap()
}

fn zones() -> Zones {
    Zones::new(&config(STATION))
}

/// 08:00:00 on a test day, plus `s` seconds.
fn t(s: f64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap()
        + TimeDelta::milliseconds((s * 1000.0) as i64)
}

fn ids(z: &[&str]) -> Vec<String> {
    z.iter().map(|s| s.to_string()).collect()
}

fn msgs(p: &[Publish]) -> Vec<(String, String)> {
    p.iter()
        .map(|p| {
            assert_eq!((p.qos, p.retain), (0, false), "{p:?}");
            (p.topic.clone(), p.payload_str().to_owned())
        })
        .collect()
}

fn m(topic: &str, payload: &str) -> (String, String) {
    (topic.to_owned(), payload.to_owned())
}

fn state(z: &Zones, id: &str) -> &'static str {
    z.states().into_iter().find(|(i, _)| i == id).unwrap().1
}

/// Ticks, and answers every command as an obedient device would.
fn tick(z: &mut Zones, now: DateTime<Utc>) -> Vec<Publish> {
    let sent = z.tick(now);
    for p in &sent {
        let (topic, payload) = obey(p);
        z.on_message(&topic, payload.as_bytes(), now);
    }
    sent
}

/// A device's state report after it obeyed `p`.
fn obey(p: &Publish) -> (String, String) {
    let text = p.payload_str();
    if let Some(rest) = p.topic.strip_prefix("cmnd/") {
        return (format!("stat/{rest}"), text.to_owned());
    }
    if let Some(base) = p.topic.strip_suffix("/command") {
        return (format!("{base}/state"), text.to_owned());
    }
    if let Some(base) = p.topic.strip_suffix("/rpc") {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let id = &v["params"]["id"];
        let on = &v["params"]["on"];
        return (
            format!("{base}/status/switch:{id}"),
            format!(r#"{{"id":{id},"source":"MQTT","output":{on}}}"#),
        );
    }
    (p.topic.clone(), text.to_owned())
}

#[test]
fn each_preset_switches_on_and_off_with_its_exact_message() {
    let mut z = zones();
    let all = ids(&["thon-2", "cho", "thon-1", "dinh", "truong"]);
    z.sound_from(&all, t(10.0));
    // Every preroll is past at t(10): all switch at once, in station.yaml order.
    assert_eq!(
        msgs(&tick(&mut z, t(10.0))),
        vec![
            m("cmnd/amp-thon/PulseTime2", "3700"),
            m("cmnd/amp-thon/POWER2", "ON"),
            m(
                "shelly-cho/rpc",
                r#"{"id":1,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":true,"toggle_after":3600}}"#
            ),
            m("loa-thon1/switch/relay_amp/lease", "3600"),
            m("loa-thon1/switch/relay_amp/command", "ON"),
            m("amp/dinh/set", "bat"),
        ]
    );
    z.silent_from(&all, t(20.0));
    let mut off = Vec::new();
    for ms in 20_000..=60_000 {
        off.extend(msgs(&tick(&mut z, t(ms as f64 / 1000.0))));
    }
    assert_eq!(
        off,
        vec![
            m("amp/dinh/set", "tat"),
            m("loa-thon1/switch/relay_amp/command", "OFF"),
            m(
                "shelly-cho/rpc",
                r#"{"id":2,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":false}}"#
            ),
            m("cmnd/amp-thon/POWER2", "OFF"),
        ]
    );
}

#[test]
fn tasmota_relay_number_and_single_relay_reports() {
    let on = preset::commands(
        &Relay {
            device: RelayDevice::Tasmota {
                topic: "amp".into(),
                channel: 1,
            },
            lease: Duration::from_secs(120),
        },
        Switch::On,
        "x",
        1,
    );
    assert_eq!(
        msgs(&on),
        vec![m("cmnd/amp/PulseTime1", "220"), m("cmnd/amp/POWER1", "ON")]
    );
    let r1 = RelayDevice::Tasmota {
        topic: "amp".into(),
        channel: 1,
    };
    // A single-relay device reports `POWER`, not `POWER1`.
    assert_eq!(
        preset::read_report(&r1, "stat/amp/POWER", b"ON"),
        Some(true)
    );
    assert_eq!(
        preset::read_report(&r1, "stat/amp/POWER1", b"OFF"),
        Some(false)
    );
    assert_eq!(
        preset::read_report(&r1, "stat/amp/RESULT", br#"{"POWER":"OFF"}"#),
        Some(false)
    );
    assert_eq!(
        preset::read_report(&r1, "tele/amp/STATE", br#"{"Time":"x","POWER1":"ON"}"#),
        Some(true)
    );
    assert_eq!(preset::read_report(&r1, "stat/amp2/POWER", b"ON"), None);
    // Channel 0 is `POWER0`, every relay at once; the first one tells.
    let r0 = RelayDevice::Tasmota {
        topic: "amp".into(),
        channel: 0,
    };
    let relay0 = Relay {
        device: r0.clone(),
        lease: Duration::from_secs(5),
    };
    let off = preset::commands(&relay0, Switch::Off, "x", 1);
    assert_eq!(msgs(&off), vec![m("cmnd/amp/POWER0", "OFF")]);
    // Each relay that POWER0 switches gets its own PulseTime first.
    let on = msgs(&preset::commands(&relay0, Switch::On, "x", 1));
    assert_eq!(on.len(), 9);
    assert_eq!(on[0], m("cmnd/amp/PulseTime1", "50"));
    assert_eq!(on[7], m("cmnd/amp/PulseTime8", "50"));
    assert_eq!(on[8], m("cmnd/amp/POWER0", "ON"));
    assert_eq!(
        preset::read_report(
            &r0,
            "stat/amp/RESULT",
            br#"{"POWER1":"OFF","POWER2":"OFF"}"#
        ),
        Some(false)
    );
    let r2 = RelayDevice::Tasmota {
        topic: "amp".into(),
        channel: 2,
    };
    assert_eq!(preset::read_report(&r2, "stat/amp/POWER", b"ON"), None);
    assert_eq!(preset::read_report(&r2, "stat/amp/POWER1", b"ON"), None);
    assert_eq!(
        preset::read_report(&r2, "stat/amp/RESULT", br#"{"POWER1":"ON"}"#),
        None
    );
    assert_eq!(
        preset::read_report(&r2, "stat/amp/RESULT", br#"{"POWER2":"ON"}"#),
        Some(true)
    );
}

#[test]
fn shelly_and_esphome_reports() {
    let s = RelayDevice::Shelly {
        topic: "sh".into(),
        channel: 1,
    };
    assert_eq!(
        preset::read_report(
            &s,
            "sh/status/switch:1",
            br#"{"id":1,"source":"MQTT","output":true}"#
        ),
        Some(true)
    );
    assert_eq!(
        preset::read_report(&s, "sh/status/switch:0", br#"{"id":0,"output":true}"#),
        None
    );
    let notify = br#"{"src":"shellyplus1-a8032ab12345","dst":"sh/events","method":"NotifyStatus","params":{"ts":1.7e9,"switch:1":{"id":1,"output":false,"source":"MQTT"}}}"#;
    assert_eq!(
        preset::read_report(&s, "sh/events/rpc", notify),
        Some(false)
    );
    // A NotifyStatus about something else (power readings) says nothing of the relay.
    let power =
        br#"{"method":"NotifyStatus","params":{"ts":1.7e9,"switch:1":{"id":1,"apower":3.2}}}"#;
    assert_eq!(preset::read_report(&s, "sh/events/rpc", power), None);
    let e = RelayDevice::Esphome {
        topic: "esp".into(),
        id: "relay".into(),
    };
    assert_eq!(
        preset::read_report(&e, "esp/switch/relay/state", b"OFF"),
        Some(false)
    );
    assert_eq!(
        preset::read_report(&e, "esp/switch/other/state", b"ON"),
        None
    );
}

#[test]
fn each_zone_switches_on_exactly_its_preroll_before_sound() {
    let mut z = zones();
    let start = t(100.0);
    z.sound_from(&ids(&["thon-2", "cho"]), start);
    // thon-2 has 3 s of preroll, cho 2 s.
    assert_eq!(z.next_wakeup(), Some(t(97.0)));
    assert!(tick(&mut z, t(96.999)).is_empty());
    assert_eq!(
        msgs(&tick(&mut z, t(97.0))),
        vec![
            m("cmnd/amp-thon/PulseTime2", "3700"),
            m("cmnd/amp-thon/POWER2", "ON")
        ]
    );
    assert_eq!(state(&z, "cho"), "off");
    assert_eq!(z.next_wakeup(), Some(t(98.0)));
    assert!(tick(&mut z, t(97.999)).is_empty());
    let on = tick(&mut z, t(98.0));
    assert_eq!(on.len(), 1);
    assert_eq!(on[0].topic, "shelly-cho/rpc");
    assert!(on[0].payload_str().contains(r#""on":true"#));
    assert_eq!(state(&z, "thon-2"), "on");
    assert_eq!(state(&z, "cho"), "on");
}

#[test]
fn a_preroll_already_past_switches_at_once() {
    let mut z = zones();
    tick(&mut z, t(50.0));
    // Sound at t(51) on a zone with 3 s of preroll: it should have been on at t(48).
    z.sound_from(&ids(&["thon-2"]), t(51.0));
    assert!(z.next_wakeup().unwrap() <= t(50.0));
    assert_eq!(
        msgs(&tick(&mut z, t(50.0))),
        vec![
            m("cmnd/amp-thon/PulseTime2", "3700"),
            m("cmnd/amp-thon/POWER2", "ON")
        ]
    );
}

#[test]
fn each_zone_switches_off_exactly_its_hold_after_sound() {
    let mut z = zones();
    let both = ids(&["thon-2", "cho"]);
    z.sound_from(&both, t(10.0));
    assert_eq!(tick(&mut z, t(10.0)).len(), 3);
    z.silent_from(&both, t(70.0));
    // cho holds 10 s, thon-2 30 s.
    assert_eq!(z.next_wakeup(), Some(t(80.0)));
    assert!(tick(&mut z, t(79.999)).is_empty());
    let off = tick(&mut z, t(80.0));
    assert_eq!(off.len(), 1);
    assert!(off[0].payload_str().contains(r#""on":false"#), "{off:?}");
    assert_eq!(z.next_wakeup(), Some(t(100.0)));
    assert!(tick(&mut z, t(99.999)).is_empty());
    assert_eq!(
        msgs(&tick(&mut z, t(100.0))),
        vec![m("cmnd/amp-thon/POWER2", "OFF")]
    );
    assert_eq!(z.next_wakeup(), None);
}

/// Ticks every 100 ms over [from, to] and collects the switching sent, with
/// when (the PulseTime that goes with each Tasmota ON is tested on its own).
fn run(z: &mut Zones, from: f64, to: f64) -> Vec<(DateTime<Utc>, String, String)> {
    let mut out = Vec::new();
    for tenth in (from * 10.0).round() as i64..=(to * 10.0).round() as i64 {
        let now = t(0.0) + TimeDelta::milliseconds(tenth * 100);
        for p in tick(z, now)
            .iter()
            .filter(|p| !p.topic.contains("/PulseTime"))
        {
            out.push((now, p.topic.clone(), p.payload_str().to_owned()));
        }
    }
    out
}

#[test]
fn overlapping_demands_keep_the_zone_on_until_the_last_releases_it() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    z.sound_from(&zone, t(10.0)); // item A
    z.sound_from(&zone, t(60.0)); // item B, overlapping A
    let mut sent = run(&mut z, 0.0, 100.0);
    z.silent_from(&zone, t(100.0)); // A ends first
    sent.extend(run(&mut z, 100.0, 300.0));
    assert_eq!(state(&z, "thon-2"), "on");
    z.silent_from(&zone, t(300.0)); // B ends
    sent.extend(run(&mut z, 300.0, 400.0));
    let topic = "cmnd/amp-thon/POWER2".to_owned();
    assert_eq!(
        sent,
        vec![
            (t(7.0), topic.clone(), "ON".into()),
            (t(330.0), topic, "OFF".into()),
        ]
    );
}

#[test]
fn sound_again_within_hold_cancels_the_pending_off() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    z.sound_from(&zone, t(10.0));
    let mut sent = run(&mut z, 0.0, 60.0);
    z.silent_from(&zone, t(60.0)); // off due at t(90)
    sent.extend(run(&mut z, 60.0, 70.0));
    z.sound_from(&zone, t(85.0)); // wants it on from t(82), before t(90)
    sent.extend(run(&mut z, 70.0, 200.0));
    z.silent_from(&zone, t(200.0));
    sent.extend(run(&mut z, 200.0, 300.0));
    let topic = "cmnd/amp-thon/POWER2".to_owned();
    assert_eq!(
        sent,
        vec![
            (t(7.0), topic.clone(), "ON".into()),
            (t(230.0), topic, "OFF".into()),
        ]
    );
}

#[test]
fn sound_after_the_hold_switches_off_then_on_again() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    z.sound_from(&zone, t(10.0));
    tick(&mut z, t(7.0));
    z.silent_from(&zone, t(60.0)); // off at t(90)
    z.sound_from(&zone, t(120.0)); // on again at t(117)
    let sent = run(&mut z, 60.0, 130.0);
    let topic = "cmnd/amp-thon/POWER2".to_owned();
    assert_eq!(
        sent,
        vec![
            (t(90.0), topic.clone(), "OFF".into()),
            (t(117.0), topic, "ON".into()),
        ]
    );
}

#[test]
fn a_demand_released_before_its_preroll_never_switches() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    z.sound_from(&zone, t(100.0)); // on at t(97)
    z.silent_from(&zone, t(50.0)); // cancelled before then
    assert_eq!(z.next_wakeup(), None);
    assert!(run(&mut z, 0.0, 200.0).is_empty());
}

#[test]
fn mute_switches_off_at_once_and_sound_brings_the_zone_back() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    z.sound_from(&zone, t(10.0));
    let mut sent = run(&mut z, 0.0, 40.0);
    // A higher item on the output does not target thon-2: off at t(40), no hold.
    z.mute(&zone, t(40.0));
    assert_eq!(z.next_wakeup(), Some(t(40.0)));
    sent.extend(run(&mut z, 40.0, 100.0));
    assert_eq!(state(&z, "thon-2"), "off");
    // The lower item resumes at t(100) and ends at t(150).
    z.sound_from(&zone, t(100.0));
    sent.extend(run(&mut z, 100.0, 150.0));
    z.silent_from(&zone, t(150.0));
    sent.extend(run(&mut z, 150.0, 200.0));
    // A release without a demand left (the muted item's own end) changes nothing.
    z.silent_from(&zone, t(200.0));
    sent.extend(run(&mut z, 200.0, 250.0));
    let topic = "cmnd/amp-thon/POWER2".to_owned();
    assert_eq!(
        sent,
        vec![
            (t(7.0), topic.clone(), "ON".into()),
            (t(40.0), topic.clone(), "OFF".into()),
            (t(100.0), topic.clone(), "ON".into()),
            (t(180.0), topic, "OFF".into()),
        ]
    );
}

#[test]
fn mute_cuts_a_pending_hold_and_a_future_demand() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    z.sound_from(&zone, t(10.0));
    tick(&mut z, t(7.0));
    z.silent_from(&zone, t(20.0)); // hold until t(50)
    z.sound_from(&zone, t(200.0)); // a later item
    z.mute(&zone, t(30.0));
    let sent = run(&mut z, 30.0, 300.0);
    assert_eq!(
        sent,
        vec![(t(30.0), "cmnd/amp-thon/POWER2".into(), "OFF".into())]
    );
}

#[test]
fn republish_sends_every_relay_its_wanted_state() {
    let mut z = zones();
    z.sound_from(&ids(&["thon-2", "dinh"]), t(10.0));
    tick(&mut z, t(10.0));
    // A relay that is on gets its lease again: the device may have restarted.
    assert_eq!(
        msgs(&z.republish()),
        vec![
            m("cmnd/amp-thon/PulseTime2", "3700"),
            m("cmnd/amp-thon/POWER2", "ON"),
            m(
                "shelly-cho/rpc",
                r#"{"id":1,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":false}}"#
            ),
            m("loa-thon1/switch/relay_amp/command", "OFF"),
            m("amp/dinh/set", "bat"),
        ]
    );
    // Republishing is not a change of wanted state: only the lease's
    // renewal is due (a third of thon-2's 1 h lease after it switched on).
    assert_eq!(z.next_wakeup(), Some(t(1210.0)));
    assert!(tick(&mut z, t(11.0)).is_empty());
}

#[test]
fn a_relay_that_does_not_report_its_new_state_is_a_fault_until_it_does() {
    let mut z = zones();
    z.sound_from(&ids(&["thon-2", "cho", "thon-1", "dinh"]), t(10.0));
    assert_eq!(z.tick(t(10.0)).len(), 6);
    // thon-1 (ESPHome) confirms in time; the others say nothing.
    z.on_message("loa-thon1/switch/relay_amp/state", b"ON", t(10.3));
    assert_eq!(z.next_wakeup(), Some(t(15.0)));
    z.tick(t(14.999));
    assert_eq!(state(&z, "thon-2"), "on");
    z.tick(t(15.0));
    let states = z.states();
    assert_eq!(
        states,
        vec![
            ("thon-2".to_owned(), "fault"),
            ("cho".to_owned(), "fault"),
            ("thon-1".to_owned(), "on"),
            // A custom relay reports nothing: never a fault.
            ("dinh".to_owned(), "on"),
            ("truong".to_owned(), "off"),
        ]
    );
    // A report of the other relay on the same device is not about thon-2.
    z.on_message("stat/amp-thon/POWER1", b"ON", t(20.0));
    assert_eq!(state(&z, "thon-2"), "fault");
    // A report of the wrong state does not clear a fault.
    z.on_message("stat/amp-thon/POWER2", b"OFF", t(20.0));
    assert_eq!(state(&z, "thon-2"), "fault");
    // Recovery: the devices report the wanted state.
    z.on_message("stat/amp-thon/RESULT", br#"{"POWER2":"ON"}"#, t(21.0));
    z.on_message(
        "shelly-cho/events/rpc",
        br#"{"src":"shellyplus1","dst":"shelly-cho/events","method":"NotifyStatus","params":{"ts":1,"switch:0":{"id":0,"output":true}}}"#,
        t(21.0),
    );
    assert_eq!(state(&z, "thon-2"), "on");
    assert_eq!(state(&z, "cho"), "on");
    // No fault left to check: only the leases' renewal is due.
    assert_eq!(z.next_wakeup(), Some(t(1210.0)));
}

#[test]
fn a_relay_switched_by_hand_is_a_fault_if_it_stays_so() {
    let mut z = zones();
    z.sound_from(&ids(&["thon-1"]), t(10.0));
    z.tick(t(10.0));
    z.on_message("loa-thon1/switch/relay_amp/state", b"ON", t(10.2));
    z.tick(t(30.0));
    assert_eq!(state(&z, "thon-1"), "on");
    // Someone switches the amplifier off at the cabinet.
    z.on_message("loa-thon1/switch/relay_amp/state", b"OFF", t(40.0));
    assert_eq!(state(&z, "thon-1"), "on");
    assert_eq!(z.next_wakeup(), Some(t(45.0)));
    z.tick(t(45.0));
    assert_eq!(state(&z, "thon-1"), "fault");
    // The next command that the device obeys clears it.
    z.silent_from(&ids(&["thon-1"]), t(50.0));
    assert_eq!(
        msgs(&z.tick(t(55.0))),
        vec![m("loa-thon1/switch/relay_amp/command", "OFF")]
    );
    z.on_message("loa-thon1/switch/relay_amp/state", b"OFF", t(55.1));
    assert_eq!(state(&z, "thon-1"), "off");
}

#[test]
fn a_late_report_within_the_window_is_no_fault() {
    let mut z = zones();
    z.sound_from(&ids(&["cho"]), t(10.0));
    z.tick(t(8.0));
    z.on_message(
        "shelly-cho/status/switch:0",
        br#"{"id":0,"output":true}"#,
        t(12.9),
    );
    z.tick(t(13.0));
    z.tick(t(20.0));
    assert_eq!(state(&z, "cho"), "on");
}

#[test]
fn states_follow_station_yaml_order() {
    let mut z = zones();
    z.sound_from(&ids(&["truong"]), t(10.0));
    tick(&mut z, t(8.0));
    assert_eq!(
        z.states(),
        vec![
            ("thon-2".to_owned(), "off"),
            ("cho".to_owned(), "off"),
            ("thon-1".to_owned(), "off"),
            ("dinh".to_owned(), "off"),
            // No relay: the logical state, with its preroll and hold.
            ("truong".to_owned(), "on"),
        ]
    );
    z.silent_from(&ids(&["truong"]), t(20.0));
    tick(&mut z, t(29.999));
    assert_eq!(state(&z, "truong"), "on");
    assert!(tick(&mut z, t(30.0)).is_empty());
    assert_eq!(state(&z, "truong"), "off");
}

#[test]
fn subscriptions_are_each_devices_state_topics() {
    assert_eq!(
        zones().subscriptions(),
        vec![
            "stat/amp-thon/POWER2",
            "stat/amp-thon/RESULT",
            "tele/amp-thon/STATE",
            "shelly-cho/status/switch:0",
            "shelly-cho/events/rpc",
            "loa-thon1/switch/relay_amp/state",
        ]
    );
}

#[test]
fn reload_switches_off_a_removed_zone_and_keeps_the_others() {
    let mut z = zones();
    z.sound_from(&ids(&["thon-2", "cho"]), t(10.0));
    tick(&mut z, t(10.0));
    // cho is removed; thon-2 moves to relay 3.
    let station = STATION
        .replace("channel: 2,", "channel: 3,")
        .replace(
            "  cho:\n    output: main\n    relay: { preset: shelly, topic: shelly-cho, channel: 0, lease: 1h }\n    preroll: 2s\n    hold: 10s\n",
            "",
        );
    let sent = z.reload(&config(&station), t(20.0));
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(
        msgs(&sent[..3]),
        vec![
            m("cmnd/amp-thon/POWER2", "OFF"),
            m("cmnd/amp-thon/PulseTime3", "3700"),
            m("cmnd/amp-thon/POWER3", "ON"),
        ]
    );
    assert_eq!(sent[3].topic, "shelly-cho/rpc");
    assert!(sent[3].payload_str().contains(r#""on":false"#));
    assert_eq!(z.states().len(), 4);
    // The demand carried over: thon-2 goes off its hold after the end.
    z.silent_from(&ids(&["thon-2"]), t(30.0));
    assert!(tick(&mut z, t(59.999)).is_empty());
    assert_eq!(
        msgs(&tick(&mut z, t(60.0))),
        vec![m("cmnd/amp-thon/POWER3", "OFF")]
    );
}

#[test]
fn cancelling_a_later_item_does_not_release_the_one_sounding() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    z.sound_from(&zone, t(10.0)); // A, sounding from t(10)
    z.sound_from(&zone, t(500.0)); // B, planned for t(500)
    let mut sent = run(&mut z, 0.0, 100.0);
    z.silent_from(&zone, t(100.0)); // B is cancelled; A goes on
    sent.extend(run(&mut z, 100.0, 600.0));
    assert_eq!(state(&z, "thon-2"), "on");
    z.silent_from(&zone, t(600.0)); // A ends
    sent.extend(run(&mut z, 600.0, 700.0));
    let topic = "cmnd/amp-thon/POWER2".to_owned();
    assert_eq!(
        sent,
        vec![
            (t(7.0), topic.clone(), "ON".into()),
            (t(630.0), topic, "OFF".into()),
        ]
    );
}

/// Log lines written while `f` runs.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_fault_is_logged_once_and_again_only_after_recovery() {
    let mut z = zones();
    let zone = ids(&["thon-2"]);
    let log = logged(|| {
        z.sound_from(&zone, t(10.0));
        z.tick(t(7.0));
        z.tick(t(12.0)); // fault: no report
        z.silent_from(&zone, t(20.0));
        z.tick(t(50.0)); // OFF sent, still no report
        z.tick(t(55.0));
        z.tick(t(60.0));
    });
    assert_eq!(log.matches("did not switch").count(), 1, "{log}");
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("`thon-2` did not switch on"), "{log}");
    assert_eq!(state(&z, "thon-2"), "fault");
    let log = logged(|| {
        z.on_message("stat/amp-thon/POWER2", b"OFF", t(61.0));
        z.sound_from(&zone, t(103.0));
        z.tick(t(100.0)); // ON sent; the device stays silent again
        z.tick(t(105.0));
    });
    assert!(log.contains("`thon-2` reports off again"), "{log}");
    assert_eq!(log.matches("did not switch on").count(), 1, "{log}");
    assert_eq!(state(&z, "thon-2"), "fault");
}

/// One relay of each preset with a 9 s lease (renewed every 3 s).
const LEASED: &str = r#"station:
  id: test
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
mqtt:
  url: mqtt://127.0.0.1:1883
  client_id: loa-test
zones:
  tas:
    relay: { preset: tasmota, topic: amp, channel: 1, lease: 9s }
    preroll: 0s
    hold: 0s
  she:
    relay: { preset: shelly, topic: sh, lease: 9s }
    preroll: 0s
    hold: 0s
  esp:
    relay: { preset: esphome, topic: esp, lease: 9s }
    preroll: 0s
    hold: 0s
  cus:
    relay:
      preset: custom
      switch_on: { topic: "c/set", payload: "bat" }
      switch_off: { topic: "c/set", payload: "tat" }
      renew: { topic: "c/giu", payload: "9" }
      lease: 9s
    preroll: 0s
    hold: 0s
"#;

#[test]
fn tasmota_pulse_time_reads_tenths_up_to_eleven_seconds_then_seconds_plus_100() {
    assert_eq!(preset::pulse_time(0.5), 5);
    assert_eq!(preset::pulse_time(3.0), 30);
    assert_eq!(preset::pulse_time(11.1), 111);
    assert_eq!(preset::pulse_time(12.0), 112);
    assert_eq!(preset::pulse_time(120.0), 220);
    assert_eq!(preset::pulse_time(64_800.0), 64_900);
    assert_eq!(preset::pulse_time(1e9), 64_900);
}

#[test]
fn each_on_arms_the_lease_and_it_is_renewed_every_third_until_off() {
    let mut z = Zones::new(&config(LEASED));
    let all = ids(&["tas", "she", "esp", "cus"]);
    z.sound_from(&all, t(10.0));
    assert_eq!(
        msgs(&tick(&mut z, t(10.0))),
        vec![
            m("cmnd/amp/PulseTime1", "90"),
            m("cmnd/amp/POWER1", "ON"),
            m(
                "sh/rpc",
                r#"{"id":1,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":true,"toggle_after":9}}"#
            ),
            m("esp/switch/relay/lease", "9"),
            m("esp/switch/relay/command", "ON"),
            m("c/set", "bat"),
        ]
    );
    assert_eq!(z.next_wakeup(), Some(t(13.0)));
    assert!(tick(&mut z, t(12.999)).is_empty());
    // The renewal: Tasmota's repeated ON restarts its PulseTime (the
    // PulseTime command itself would stop the running timer).
    let renew = vec![
        m("cmnd/amp/POWER1", "ON"),
        m(
            "sh/rpc",
            r#"{"id":2,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":true,"toggle_after":9}}"#,
        ),
        m("esp/switch/relay/lease", "9"),
        m("esp/switch/relay/command", "ON"),
        m("c/giu", "9"),
    ];
    assert_eq!(msgs(&tick(&mut z, t(13.0))), renew);
    // Renewed every 3 s while on: never a gap the device could time out in.
    let mut at = Vec::new();
    for tenth in 131..=250 {
        let now = t(tenth as f64 / 10.0);
        let sent = tick(&mut z, now);
        if !sent.is_empty() {
            assert_eq!(sent.len(), 5, "{sent:?}");
            at.push(now);
        }
    }
    assert_eq!(at, vec![t(16.0), t(19.0), t(22.0), t(25.0)]);
    // Off: the plain OFF (Shelly without timer), and no renewal after it.
    z.silent_from(&all, t(26.0));
    assert_eq!(
        msgs(&tick(&mut z, t(26.0))),
        vec![
            m("cmnd/amp/POWER1", "OFF"),
            m(
                "sh/rpc",
                r#"{"id":7,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":false}}"#
            ),
            m("esp/switch/relay/command", "OFF"),
            m("c/set", "tat"),
        ]
    );
    assert_eq!(z.next_wakeup(), None);
    assert!(run(&mut z, 26.0, 60.0).is_empty());
}

#[test]
fn a_relay_that_switched_itself_off_is_switched_on_again_by_the_renewal() {
    let mut z = Zones::new(&config(LEASED));
    z.sound_from(&ids(&["tas"]), t(10.0));
    tick(&mut z, t(10.0));
    // The renewal was lost (broker away): the device's PulseTime ran out.
    z.on_message("stat/amp/POWER1", b"OFF", t(12.0));
    let sent = z.tick(t(13.0));
    assert_eq!(msgs(&sent), vec![m("cmnd/amp/POWER1", "ON")]);
    z.on_message("stat/amp/POWER1", b"ON", t(13.1));
    z.tick(t(17.5));
    assert_eq!(state(&z, "tas"), "on");
}

#[test]
fn at_start_every_relay_is_switched_off_unless_a_program_is_joined() {
    // The first connection after start-up republishes: state after a crash
    // is unknown, so every relay gets an OFF...
    let z = Zones::new(&config(LEASED));
    assert_eq!(
        msgs(&z.republish()),
        vec![
            m("cmnd/amp/POWER1", "OFF"),
            m(
                "sh/rpc",
                r#"{"id":1,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":false}}"#
            ),
            m("esp/switch/relay/command", "OFF"),
            m("c/set", "tat"),
        ]
    );
    // ...except the zones of a program joined in progress: ON, with its lease.
    let mut z = Zones::new(&config(LEASED));
    z.sound_from(&ids(&["esp"]), t(0.0) - TimeDelta::seconds(30));
    z.tick(t(0.0));
    let sent = msgs(&z.republish());
    assert!(sent.contains(&m("cmnd/amp/POWER1", "OFF")), "{sent:?}");
    assert!(sent.contains(&m("esp/switch/relay/lease", "9")), "{sent:?}");
    assert!(
        sent.contains(&m("esp/switch/relay/command", "ON")),
        "{sent:?}"
    );
    assert!(
        !sent.contains(&m("esp/switch/relay/command", "OFF")),
        "{sent:?}"
    );
}

#[test]
fn shutdown_switches_every_relay_off_and_waits_for_those_on_or_unknown() {
    let mut z = Zones::new(&config(LEASED));
    // `she` was seen off before; `tas` is on; `esp` never reported.
    z.on_message("sh/status/switch:0", br#"{"id":0,"output":false}"#, t(1.0));
    z.sound_from(&ids(&["tas", "cus"]), t(10.0));
    tick(&mut z, t(10.0));
    assert_eq!(state(&z, "tas"), "on");
    z.sound_from(&ids(&["tas"]), t(100.0)); // a later item, still to come
    let sent = msgs(&z.shutdown(t(20.0)));
    assert_eq!(
        sent,
        vec![
            m("cmnd/amp/POWER1", "OFF"),
            m(
                "sh/rpc",
                r#"{"id":1,"src":"loa-test","method":"Switch.Set","params":{"id":0,"on":false}}"#
            ),
            m("esp/switch/relay/command", "OFF"),
            m("c/set", "tat"),
        ]
    );
    // The custom relay cannot tell; `she` already said off.
    assert_eq!(z.unconfirmed_off(), ids(&["tas", "esp"]));
    z.on_message("stat/amp/RESULT", br#"{"POWER1":"OFF"}"#, t(20.1));
    assert_eq!(z.unconfirmed_off(), ids(&["esp"]));
    z.on_message("esp/switch/relay/state", b"OFF", t(20.2));
    assert!(z.unconfirmed_off().is_empty());
    // Nothing switches on again, and no lease is renewed.
    assert_eq!(z.next_wakeup(), Some(t(25.0)));
    assert!(run(&mut z, 20.0, 200.0).is_empty());
    assert!(
        z.states().iter().all(|(_, s)| *s == "off"),
        "{:?}",
        z.states()
    );
}

#[test]
fn a_new_lease_on_reload_is_armed_at_once_without_switching_off() {
    let mut z = Zones::new(&config(LEASED));
    z.sound_from(&ids(&["tas"]), t(10.0));
    tick(&mut z, t(10.0));
    let sent = z.reload(
        &config(&LEASED.replacen("lease: 9s", "lease: 30s", 1)),
        t(11.0),
    );
    assert_eq!(
        msgs(&sent),
        vec![m("cmnd/amp/PulseTime1", "130"), m("cmnd/amp/POWER1", "ON")]
    );
    assert_eq!(z.next_wakeup(), Some(t(21.0)));
}

const RECEIVERS: &str = r#"station:
  id: test
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  clusters: "icecast://source@10.0.0.2:8000/xa.mp3?password_file=icecast.pass"
mqtt:
  url: mqtt://127.0.0.1:1883
  client_id: loa-test
zones:
  cum-1: { output: clusters, receiver: rx-1, volume: 0.8, preroll: 3s, hold: 10s }
  cum-2: { output: clusters, receiver: rx-2, preroll: 3s, hold: 10s }
"#;

fn receiver_config(station: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("icecast.pass"), "hackme\n").unwrap();
    std::fs::write(dir.path().join("station.yaml"), station).unwrap();
    let loaded = loa_schedules::load_dir(dir.path());
    assert!(
        loaded.diagnostics.errors.is_empty(),
        "{:#?}",
        loaded.diagnostics.errors
    );
    loaded.config.unwrap()
}

fn json(p: &Publish) -> serde_json::Value {
    assert_eq!((p.qos, p.retain), (1, false), "{p:?}");
    serde_json::from_slice(&p.payload).unwrap()
}

/// A receiver's retained state after it obeyed `cmd` (or `playing` as given).
fn rx_state(
    z: &mut Zones,
    id: &str,
    cmd: &serde_json::Value,
    state: &str,
    now: DateTime<Utc>,
) -> Vec<Publish> {
    let doc = serde_json::json!({
        "v": 1, "online": true, "state": state, "url": cmd.get("play"),
        "volume": 80, "buffer_s": 2.5, "delay_s": 2.5, "error": null, "signal": null,
        "session": cmd["session"], "seq": cmd["seq"],
    });
    z.on_message(
        &format!("loa-rx/{id}/state"),
        doc.to_string().as_bytes(),
        now,
    )
}

#[test]
fn a_receiver_plays_the_mount_its_delay_after_start_minus_preroll_and_stops_after_end_plus_hold() {
    let mut z = Zones::new(&receiver_config(RECEIVERS));
    assert_eq!(
        z.subscriptions(),
        vec![
            "loa-rx/rx-1/state".to_string(),
            "loa-rx/rx-2/state".to_string()
        ]
    );
    z.sound_from(&ids(&["cum-1"]), t(20.0));
    // Until it says its delay, 2.5 s (+0.2 s to the mount) is assumed.
    assert_eq!(z.next_wakeup(), Some(t(17.0 + 2.7)));
    assert!(z.tick(t(19.699)).is_empty());
    let sent = z.tick(t(19.7));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].topic, "loa-rx/rx-1/cmd");
    let play = json(&sent[0]);
    assert_eq!(play["v"], 1);
    assert_eq!(play["play"], "http://10.0.0.2:8000/xa.mp3");
    assert_eq!(play["volume"], 80);
    assert_eq!(state(&z, "cum-1"), "on");
    assert!(rx_state(&mut z, "rx-1", &play, "playing", t(21.0)).is_empty());
    z.silent_from(&ids(&["cum-1"]), t(30.0));
    // Off at end + hold + its delay.
    assert!(z.tick(t(42.699)).is_empty());
    let sent = z.tick(t(42.7));
    let stop = json(&sent[0]);
    assert_eq!(stop["stop"], true);
    assert_eq!(stop["session"], play["session"]);
    assert!(
        stop["seq"].as_u64() > play["seq"].as_u64(),
        "{stop} after {play}"
    );
    rx_state(&mut z, "rx-1", &stop, "stopped", t(43.0));
    z.tick(t(60.0));
    assert_eq!(state(&z, "cum-1"), "off");
}

#[test]
fn a_receiver_offline_or_not_playing_is_a_fault_and_one_that_restarted_is_told_again() {
    let mut z = Zones::new(&receiver_config(RECEIVERS));
    z.sound_from(&ids(&["cum-1"]), t(10.0));
    let play = json(&z.tick(t(10.0))[0]);
    // Still connecting 5 s after the command: a fault; playing clears it.
    rx_state(&mut z, "rx-1", &play, "connecting", t(11.0));
    z.tick(t(14.999));
    assert_eq!(state(&z, "cum-1"), "on");
    z.tick(t(15.0));
    assert_eq!(state(&z, "cum-1"), "fault");
    rx_state(&mut z, "rx-1", &play, "playing", t(17.0));
    assert_eq!(state(&z, "cum-1"), "on");
    // Its Last Will: offline is a fault, off or on.
    z.on_message("loa-rx/rx-2/state", br#"{"v":1,"online":false}"#, t(18.0));
    assert_eq!(state(&z, "cum-2"), "fault");
    assert_eq!(z.receivers()["cum-2"]["online"], false);
    // Back after a restart, it knows no command of this run: it is told
    // the zone's state (stop), and is no fault any more.
    let back = serde_json::json!({"v":1,"online":true,"state":"stopped","url":null,"volume":100,
        "buffer_s":0.0,"delay_s":2.5,"error":null,"signal":null,"session":null,"seq":null});
    let sent = z.on_message("loa-rx/rx-2/state", back.to_string().as_bytes(), t(19.0));
    assert_eq!(sent.len(), 1);
    assert_eq!(json(&sent[0])["stop"], true);
    assert_eq!(state(&z, "cum-2"), "off");
}

#[test]
fn a_reloaded_volume_reaches_a_playing_receiver_at_once() {
    let mut z = Zones::new(&receiver_config(RECEIVERS));
    z.sound_from(&ids(&["cum-1"]), t(10.0));
    z.tick(t(10.0));
    let sent = z.reload(
        &receiver_config(&RECEIVERS.replace("volume: 0.8", "volume: 0.3")),
        t(12.0),
    );
    assert_eq!(sent.len(), 1, "{sent:?}");
    let v = json(&sent[0]);
    assert_eq!(v["volume"], 30);
    assert!(v.get("play").is_none() && v.get("stop").is_none(), "{v}");
}

#[test]
fn a_command_a_receiver_missed_while_away_from_the_broker_is_sent_again() {
    let mut z = Zones::new(&receiver_config(RECEIVERS));
    let stop = json(&z.republish()[0]);
    rx_state(&mut z, "rx-1", &stop, "stopped", t(1.0));
    z.sound_from(&ids(&["cum-1"]), t(10.0));
    let play = json(&z.tick(t(10.0))[0]);
    // Back on the broker, it says it applied only the stop: the play was
    // lost. It may still be on its way: sent again 2 s later, not at once.
    assert!(rx_state(&mut z, "rx-1", &stop, "stopped", t(10.5)).is_empty());
    assert!(z.tick(t(12.499)).is_empty());
    assert_eq!(z.next_wakeup(), Some(t(12.5)));
    let again = z.tick(t(12.5));
    assert_eq!(again.len(), 1);
    let again = json(&again[0]);
    assert_eq!(again["play"], play["play"]);
    assert!(again["seq"].as_u64() > play["seq"].as_u64());
    // Once it names the latest command, nothing more is sent.
    rx_state(&mut z, "rx-1", &again, "playing", t(13.0));
    assert!(z.tick(t(20.0)).is_empty());
}
