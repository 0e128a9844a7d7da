//! `loa keygen` and `loa announce` against a real mosquitto: the key file and
//! the public key line, the signed envelope as it reaches the broker (it
//! verifies with the printed public key), and `--wait` following the acks of
//! a stand-in station (accepted, started, done -> exit 0; rejected -> exit 1
//! with the reason; silence -> exit 1 after --timeout).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use loa_e2e::{loa, station_dir, stderr, stdout, Broker};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

/// Runs keygen into `dir/<name>.pem`; returns the key file and the public key.
fn keygen(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let key = dir.join(format!("{name}.pem"));
    let out = loa(BIN, &["keygen", "--out", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("public_key: \""))
        .unwrap_or_else(|| panic!("no public_key line in {}", stdout(&out)))
        .to_string();
    let b64 = line
        .trim_start_matches("public_key: \"")
        .trim_end_matches('"')
        .to_string();
    (key, b64)
}

fn station(broker: &Broker, public_key: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("station.yaml"),
        format!(
            r#"station:
  id: e2e
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
outputs:
  main: "null"
zones:
  thon-1: {{ output: main }}
  thon-2: {{ output: main }}
mqtt:
  url: {}
  groups: [tuyen-hoa]
remote:
  keys:
    chu-tich-xa:
      public_key: "{public_key}"
      may: [normal, emergency]
"#,
            broker.url()
        ),
    )
    .unwrap();
    dir
}

/// A stand-in for the station: answers each command on `cmd_topic` with
/// `replies` (status, code, reason) on `<ack_base>/<id>`, until dropped.
struct Responder {
    client: Client,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    fn start(
        broker: &Broker,
        cmd_topic: &str,
        ack_base: &str,
        replies: Vec<(&'static str, Option<&'static str>, Option<&'static str>)>,
    ) -> Responder {
        let mut opts = MqttOptions::new("fake-station", "127.0.0.1", broker.port);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut conn) = Client::new(opts, 16);
        client.subscribe(cmd_topic, QoS::AtLeastOnce).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let ack_base = ack_base.to_string();
        let responder = client.clone();
        let thread = std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let env: Value = serde_json::from_slice(&p.payload).unwrap();
                        let body: Value =
                            serde_json::from_str(env["body"].as_str().unwrap()).unwrap();
                        let id = body["id"].as_str().unwrap().to_string();
                        for (status, code, reason) in &replies {
                            let mut ack = json!({"id": id, "station": "e2e", "status": status});
                            if let Some(c) = code {
                                ack["code"] = json!(c);
                            }
                            if let Some(r) = reason {
                                ack["reason"] = json!(r);
                            }
                            responder
                                .publish(
                                    format!("{ack_base}/{id}"),
                                    QoS::AtLeastOnce,
                                    false,
                                    ack.to_string(),
                                )
                                .unwrap();
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the fake station subscribed");
        Responder {
            client,
            thread: Some(thread),
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The envelope's body, after checking its signature with `public_key`.
fn verified_body(envelope: &str, public_key: &str) -> Value {
    let env: Value = serde_json::from_str(envelope).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let pk: [u8; 32] = b64.decode(public_key).unwrap().try_into().unwrap();
    let sig: [u8; 64] = b64
        .decode(env["sig"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let body = env["body"].as_str().unwrap();
    VerifyingKey::from_bytes(&pk)
        .unwrap()
        .verify_strict(body.as_bytes(), &Signature::from_bytes(&sig))
        .expect("the envelope verifies with the printed public key");
    assert_eq!(env["kid"], "chu-tich-xa");
    serde_json::from_str(body).unwrap()
}

#[test]
fn keygen_writes_a_private_pem_0600_and_prints_the_public_key_line() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(dir.path(), "chu-tich-xa");
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&public_key)
        .unwrap();
    assert_eq!(raw.len(), 32);
    assert!(public_key.ends_with('='), "padded: {public_key}");
    // Never overwrites a key.
    let again = loa(BIN, &["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
}

/// A province's own sending system signs with the same key file: OpenSSL
/// loads it (standard PKCS#8, RFC 8410) and derives the public key that
/// keygen printed for station.yaml.
#[test]
fn the_key_file_is_standard_pkcs8_that_openssl_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(dir.path(), "so-tt-tt");
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .arg("-in")
            .arg(&key)
            .output()
            .expect("openssl runs (scripts/install-deps installs it)")
    };
    let check = openssl(&["pkey", "-noout"]);
    assert!(
        check.status.success(),
        "openssl pkey cannot load the key: {}",
        stderr(&check)
    );
    let spki = openssl(&["pkey", "-pubout", "-outform", "DER"]);
    assert!(spki.status.success(), "{}", stderr(&spki));
    // SubjectPublicKeyInfo: 12 bytes of algorithm, then the 32-byte key.
    assert_eq!(spki.stdout.len(), 44);
    let derived = base64::engine::general_purpose::STANDARD.encode(&spki.stdout[12..]);
    assert_eq!(derived, public_key, "OpenSSL's public key is keygen's");
}

#[test]
fn announce_wait_prints_the_acks_and_exits_0_when_done() {
    let broker = Broker::start();
    let keys = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(keys.path(), "chu-tich-xa");
    let dir = station(&broker, &public_key);
    let seen = broker.subscribe("loa/e2e/cmd/#");
    let _station = Responder::start(
        &broker,
        "loa/e2e/cmd/announce",
        "loa/e2e/ack",
        vec![
            ("accepted", None, None),
            ("started", None, None),
            ("done", None, None),
        ],
    );
    let before = chrono::Utc::now().timestamp();
    let out = loa(
        BIN,
        &[
            "announce",
            "--config",
            dir.path().to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--text",
            "Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa",
            "--priority",
            "emergency",
            "--zones",
            "thon-1,thon-2",
            "--repeat",
            "2",
            "--expires",
            "5m",
            "--wait",
            "--timeout",
            "20s",
        ],
    );
    let after = chrono::Utc::now().timestamp();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let acks: Vec<&str> = text.lines().filter(|l| l.starts_with("e2e: ")).collect();
    assert_eq!(
        acks,
        ["e2e: accepted", "e2e: started", "e2e: done"],
        "{text}"
    );
    seen.wait_for("the command", 5, |m| !m.is_empty());
    let msgs = seen.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].1, "loa/e2e/cmd/announce");
    let body = verified_body(&msgs[0].2, &public_key);
    let id = body["id"].as_str().unwrap();
    assert!(
        (8..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );
    assert!(text.contains(&format!("sent announcement {id}")), "{text}");
    assert_eq!(body["v"], 1);
    assert_eq!(body["to"], "station:e2e");
    assert_eq!(body["cmd"], "announce");
    assert_eq!(body["priority"], "emergency");
    assert_eq!(body["zones"], json!(["thon-1", "thon-2"]));
    assert_eq!(
        body["text"],
        "Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa"
    );
    assert_eq!(body["repeat"], 2);
    // Signed while the command ran.
    let ts = body["ts"].as_i64().unwrap();
    assert!(
        (before..=after).contains(&ts),
        "{ts} not in {before}..={after}"
    );
    assert_eq!(body["exp"].as_i64().unwrap(), ts + 300);
}

#[test]
fn a_rejected_announcement_exits_1_with_the_reason() {
    let broker = Broker::start();
    let keys = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(keys.path(), "chu-tich-xa");
    let dir = station(&broker, &public_key);
    let _station = Responder::start(
        &broker,
        "loa/e2e/cmd/announce",
        "loa/e2e/ack",
        vec![(
            "rejected",
            Some("not_allowed"),
            Some("key `chu-tich-xa` may not announce at priority"),
        )],
    );
    let out = loa(
        BIN,
        &[
            "announce",
            "--config",
            dir.path().to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--text",
            "Họp dân",
            "--priority",
            "priority",
            "--wait",
            "--timeout",
            "20s",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(
            "e2e: rejected (not_allowed: key `chu-tich-xa` may not announce at priority)"
        ),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("may not announce at priority"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_group_announcement_goes_to_the_group_topic_and_silence_times_out() {
    let broker = Broker::start();
    let keys = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(keys.path(), "chu-tich-xa");
    let dir = station(&broker, &public_key);
    let seen = broker.subscribe("loa/group/tuyen-hoa/cmd/#");
    // Bounded: `--timeout 2s` gives up (the wait is a liveness limit).
    let mut child = std::process::Command::new(BIN)
        .args([
            "announce",
            "--config",
            dir.path().to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--stream",
            "https://radio.example/vov1",
            "--duration",
            "15m",
            "--group",
            "tuyen-hoa",
            "--wait",
            "--timeout",
            "2s",
        ])
        .env_remove("LOA_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    loa_e2e::wait_until(
        "loa announce giving up",
        Duration::from_secs(3),
        Duration::from_millis(50),
        || match child.try_wait() {
            Ok(Some(_)) => Ok(()),
            _ => Err("running"),
        },
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("no final ack") && stderr(&out).contains("within 2 s"),
        "{}",
        stderr(&out)
    );
    seen.wait_for("the group command", 5, |m| !m.is_empty());
    let msgs = seen.messages();
    assert_eq!(msgs[0].1, "loa/group/tuyen-hoa/cmd/announce");
    let body = verified_body(&msgs[0].2, &public_key);
    assert_eq!(body["to"], "group:tuyen-hoa");
    assert_eq!(body["stream"], "https://radio.example/vov1");
    assert_eq!(body["duration"], 900);
    assert_eq!(body["zones"], "all");
    assert_eq!(body["priority"], "normal");
}

#[test]
fn without_wait_announce_returns_once_the_broker_has_it_and_kid_overrides() {
    let broker = Broker::start();
    let keys = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(keys.path(), "laptop-key");
    let dir = station(&broker, &public_key);
    let seen = broker.subscribe("loa/e2e/cmd/#");
    let out = loa(
        BIN,
        &[
            "announce",
            "--config",
            dir.path().to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--kid",
            "chu-tich-xa",
            "--text",
            "Thông báo",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    seen.wait_for("the command", 5, |m| !m.is_empty());
    verified_body(&seen.messages()[0].2, &public_key);
    // Usage errors: no content, or a stream without a duration.
    let out = loa(BIN, &["announce", "--key", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = loa(
        BIN,
        &[
            "announce",
            "--key",
            key.to_str().unwrap(),
            "--stream",
            "https://x.example/a",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// A real station (`loa run`) with the key `loa keygen` made.
fn live_station(broker: &Broker, id: &str, public_key: &str) -> tempfile::TempDir {
    station_dir(
        &format!(
            r#"station: {{ id: {id}, name: "Đài thử", timezone: Asia/Ho_Chi_Minh }}
paths: {{ media: media, state: state }}
outputs: {{ main: "null" }}
zones:
  thon-1: {{ output: main }}
  thon-2: {{ output: main }}
mqtt: {{ url: {}, groups: [tuyen-hoa] }}
policy: {{ loudness: null }}
remote:
  keys:
    chu-tich-xa:
      public_key: "{public_key}"
      may: [normal, priority]
"#,
            broker.url()
        ),
        Some("programs: []\n"),
    )
}

fn announce(dir: &Path, key: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "announce",
        "--config",
        dir.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--wait",
        "--timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    loa(BIN, &args)
}

#[test]
fn announce_wait_follows_a_real_station_to_done_and_to_a_refusal() {
    let broker = Broker::start();
    let keys = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(keys.path(), "chu-tich-xa");
    let dir = live_station(&broker, "e2e", &public_key);
    let d = loa_e2e::Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    let out = announce(
        dir.path(),
        &key,
        &["--text", "Họp thôn lúc 8 giờ", "--zones", "thon-1"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let acks: Vec<&str> = text.lines().filter(|l| l.starts_with("e2e: ")).collect();
    assert_eq!(
        acks,
        ["e2e: accepted", "e2e: started", "e2e: done"],
        "{text}"
    );
    // The key may not announce at emergency: refused by the station.
    let out = announce(
        dir.path(),
        &key,
        &["--text", "Bão", "--priority", "emergency"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(
            "e2e: rejected (not_allowed: key `chu-tich-xa` may not announce at emergency)"
        ),
        "{}",
        stdout(&out)
    );
    // Another key under the same name: the station cannot verify it, acks
    // on P/ack/invalid, and the sender still hears why.
    let (wrong, _) = keygen(keys.path(), "chu-tich-xa-cu");
    let out = announce(
        dir.path(),
        &wrong,
        &["--kid", "chu-tich-xa", "--text", "Họp thôn"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("e2e: rejected (bad_signature: "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn announce_wait_to_a_group_hears_every_station_finish() {
    let broker = Broker::start();
    let keys = tempfile::tempdir().unwrap();
    let (key, public_key) = keygen(keys.path(), "chu-tich-xa");
    let a = live_station(&broker, "xa-a", &public_key);
    let b = live_station(&broker, "xa-b", &public_key);
    let da = loa_e2e::Daemon::start(BIN, a.path(), &[]);
    let db = loa_e2e::Daemon::start(BIN, b.path(), &[]);
    da.wait_for_log("mqtt: connected", 10);
    db.wait_for_log("mqtt: connected", 10);
    let out = announce(
        a.path(),
        &key,
        &[
            "--group",
            "tuyen-hoa",
            "--text",
            "Thông báo của huyện",
            "--priority",
            "priority",
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for st in ["xa-a", "xa-b"] {
        assert!(text.contains(&format!("{st}: accepted")), "{text}");
        assert!(text.contains(&format!("{st}: done")), "{text}");
    }
}
