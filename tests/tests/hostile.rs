//! Hostile input never silences a station: a real mosquitto, the real
//! binary, and what an attacker on the station's network could send. After
//! each, a signed emergency still airs, the link stays up, and what the
//! station says back (acks, log lines) stays bounded.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey};
use loa_e2e::{airtime_rows as rows, station_dir, Broker, Daemon};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Station `e2e` (prefix loa/e2e) in group tuyen-hoa, with a relay whose
/// Tasmota reports on tele/amp1/STATE, and key chu-tich-xa for emergencies.
fn station(broker: &Broker) -> tempfile::TempDir {
    station_dir(
        &format!(
            r#"station: {{ id: e2e, name: "Đài thử", timezone: Asia/Ho_Chi_Minh }}
paths: {{ media: media, state: state }}
outputs: {{ main: "null" }}
zones:
  thon-1: {{ output: main, relay: {{ preset: tasmota, topic: amp1, channel: 1 }}, preroll: 0s, hold: 0s }}
  thon-2: {{ output: main }}
mqtt: {{ url: {}, groups: [tuyen-hoa] }}
policy: {{ loudness: null }}
remote:
  max_skew: 120s
  keys:
    chu-tich-xa:
      public_key: "{}"
      may: [normal, priority, emergency, stop]
"#,
            broker.url(),
            b64(key().verifying_key().as_bytes()),
        ),
        Some("programs: []\n"),
    )
}

/// A signed emergency announcement with id `id`.
fn emergency(id: &str) -> String {
    let now = Utc::now().timestamp();
    let body = json!({"v": 1, "id": id, "ts": now, "exp": now + 300, "to": "station:e2e",
        "cmd": "announce", "priority": "emergency", "zones": "all", "text": "Lũ về, sơ tán ngay"})
    .to_string();
    let sig = key().sign(body.as_bytes());
    json!({"kid": "chu-tich-xa", "sig": b64(&sig.to_bytes()), "body": body}).to_string()
}

fn acks(msgs: &[(f64, String, String)], leaf: &str) -> Vec<Value> {
    msgs.iter()
        .filter(|(_, t, _)| t == &format!("loa/e2e/ack/{leaf}"))
        .filter_map(|(_, _, p)| serde_json::from_str(p).ok())
        .collect()
}

/// Sends five signed emergencies one after the other (each once the one
/// before is done) and checks that each was accepted, started and done.
fn five_emergencies_air(broker: &Broker, sub: &loa_e2e::Subscriber, tag: &str) {
    for i in 1..=5 {
        let id = format!("{tag}-khan-cap-{i}");
        broker.publish("loa/e2e/cmd/announce", &emergency(&id), false);
        sub.wait_for(&format!("{id} done"), 30, |m| {
            acks(m, &id).iter().any(|v| v["status"] == "done")
        });
        let statuses: Vec<String> = acks(&sub.messages(), &id)
            .iter()
            .map(|v| v["status"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(statuses, ["accepted", "started", "done"], "{id}");
    }
}

/// How many emergency texts aired to their end.
fn emergencies_aired(dir: &Path) -> usize {
    rows(dir)
        .iter()
        .filter(|r| r.source_kind == "tts" && r.priority == "emergency" && r.outcome == "completed")
        .count()
}

fn log_lines_with(d: &Daemon, needle: &str) -> usize {
    d.log_text().lines().filter(|l| l.contains(needle)).count()
}

/// Today 300,000 unsigned messages bring 278,640 acks and 360,000 WARN
/// lines. Now: a few acks on P/ack/invalid only (never on a topic the
/// garbage names), one line for the first, one summary at the minute's end,
/// and the count in the status; the emergencies sent meanwhile air.
#[test]
fn a_flood_of_garbage_gets_no_amplification() {
    let broker = Broker::start();
    let all = broker.subscribe("loa/e2e/ack/#");
    let dir = station(&broker);
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);

    // 5,000 messages: not JSON, and envelopes under an unknown key whose
    // ids would each make a topic of their own.
    let flood = 5_000;
    let mut text = String::new();
    for i in 0..flood {
        if i % 2 == 0 {
            text.push_str("xxxxxxxxxxxxxxxx\n");
        } else {
            let body = json!({"v": 1, "id": format!("rac-{i:08}"), "ts": 0, "exp": 1,
                "to": "station:e2e", "cmd": "announce"})
            .to_string();
            text.push_str(&json!({"kid": "ai-do", "sig": "AAAA", "body": body}).to_string());
            text.push('\n');
        }
    }
    let mut publisher = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(["-q", "1", "-t", "loa/e2e/cmd/announce", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub runs");
    publisher
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    five_emergencies_air(&broker, &all, "flood");
    assert!(publisher.wait().unwrap().success());

    // The minute ends with one summary line.
    d.wait_for_log("more command(s) refused in the last minute", 90);
    let s = loa_e2e::loa(
        BIN,
        &[
            "status",
            "--format",
            "json",
            "--config",
            dir.path().to_str().unwrap(),
        ],
    );
    let s: Value = serde_json::from_slice(&s.stdout).expect("loa status answers");
    let refused = s["remote"]["refused"].as_u64().unwrap();
    assert!(refused >= flood as u64 / 2, "{}", s["remote"]);
    assert_eq!(s["remote"]["unverified"], refused);
    let msgs = all.messages();
    assert!(
        msgs.iter().all(|(_, t, _)| !t.contains("rac-")),
        "no ack on a topic the garbage named"
    );
    let invalid = acks(&msgs, "invalid").len();
    assert!(
        (1..=20).contains(&invalid),
        "{invalid} acks for {refused} refused messages"
    );
    // One line for the first refusal of each minute, one summary for the
    // rest: the test spans two minutes at most.
    assert!(log_lines_with(&d, "refused (") <= 2, "{}", d.log_text());
    assert!(
        log_lines_with(&d, "in the last minute") <= 2,
        "{}",
        d.log_text()
    );
    let (status, _) = d.stop();
    assert!(status.success());
    assert_eq!(emergencies_aired(dir.path()), 5, "{:#?}", rows(dir.path()));
}
