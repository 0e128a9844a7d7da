//! Hostile input never silences a station: a real mosquitto, the real
//! binary, and what an attacker on the station's network could send. After
//! each, a signed emergency still airs, the link stays up, and what the
//! station says back (acks, log lines) stays bounded.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

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
    let began = std::time::Instant::now();

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
    println!("{refused} garbage messages refused, {invalid} acked");
    // The budgets are per minute: the minutes the test touched (two, unless
    // a busy machine made it longer).
    let minutes = began.elapsed().as_secs() as usize / 60 + 2;
    assert!(
        (1..=10 * minutes).contains(&invalid),
        "{invalid} acks for {refused} refused messages in {minutes} minutes"
    );
    // One line for the first refusal of each minute, one summary for the
    // rest.
    assert!(
        log_lines_with(&d, "refused (") <= minutes,
        "{}",
        d.log_text()
    );
    assert!(
        log_lines_with(&d, "in the last minute") <= minutes,
        "{}",
        d.log_text()
    );
    let (status, _) = d.stop();
    assert!(status.success());
    assert_eq!(emergencies_aired(dir.path()), 5, "{:#?}", rows(dir.path()));
}

/// Publishes `payload` (any size: through stdin, not the command line).
fn publish_big(broker: &Broker, topic: &str, payload: &[u8], retain: bool) {
    let mut c = Command::new("mosquitto_pub");
    c.args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(["-q", "1", "-t", topic, "-s"])
        .stdin(Stdio::piped());
    if retain {
        c.arg("-r");
    }
    let mut child = c.spawn().expect("mosquitto_pub runs");
    child.stdin.take().unwrap().write_all(payload).unwrap();
    assert!(child.wait().unwrap().success(), "mosquitto_pub {topic}");
}

/// An envelope of `n` bytes under an unknown key.
fn garbage(n: usize) -> Vec<u8> {
    let env = |pad: usize| {
        let body = json!({"v": 1, "pad": "a".repeat(pad)}).to_string();
        json!({"kid": "ai-do", "sig": "AAAA", "body": body}).to_string()
    };
    let overhead = env(0).len();
    let v = env(n - overhead).into_bytes();
    assert_eq!(v.len(), n);
    v
}

/// Today a 20,000-byte retained message on P/cmd/announce (or 12 KB on a
/// group's cmd/stop, or on a relay's tele/.../STATE) drops the link, the
/// daemon reconnects every 0.3 s forever and emergencies sent meanwhile
/// never air. Now the link takes them (and a command over 64 KiB is refused
/// `too_large`), the broker keeps anything over Loa's Maximum Packet Size
/// to itself, and the link never drops, across a restart too.
#[test]
fn big_and_retained_messages_never_cut_the_link() {
    let broker = Broker::start();
    let all = broker.subscribe("loa/e2e/ack/#");
    let dir = station(&broker);
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    publish_big(&broker, "loa/e2e/cmd/announce", &garbage(20_000), true);
    publish_big(
        &broker,
        "loa/group/tuyen-hoa/cmd/stop",
        &garbage(12_000),
        false,
    );
    publish_big(&broker, "tele/amp1/STATE", &garbage(12_000), true);
    publish_big(&broker, "loa/e2e/cmd/announce", &garbage(100_000), false);
    publish_big(&broker, "loa/e2e/cmd/stop", &garbage(2_000_000), true);
    all.wait_for("too_large acked", 10, |m| {
        acks(m, "invalid").iter().any(|v| v["code"] == "too_large")
    });
    five_emergencies_air(&broker, &all, "big");
    let log = d.log_text();
    assert_eq!(log.matches("mqtt: connected").count(), 1, "{log}");
    assert!(
        !log.contains("mqtt: broker"),
        "the link never dropped:\n{log}"
    );
    let (status, _) = d.stop();
    assert!(status.success());

    // Started again with the retained messages waiting on the broker: they
    // come flagged retained (or not at all, over the limit), the link holds.
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    all.wait_for("the retained command refused", 10, |m| {
        acks(m, "invalid").iter().any(|v| v["code"] == "retained")
    });
    five_emergencies_air(&broker, &all, "again");
    let log = d.log_text();
    assert_eq!(log.matches("mqtt: connected").count(), 1, "{log}");
    assert!(
        !log.contains("mqtt: broker"),
        "the link never dropped:\n{log}"
    );
    assert!(log.lines().count() < 40, "a bounded log:\n{log}");
    let (status, _) = d.stop();
    assert!(status.success());
    assert_eq!(emergencies_aired(dir.path()), 10, "{:#?}", rows(dir.path()));
}

/// A broker that accepts the login and drops the link at once, every time
/// (whatever the cause: here a stand-in, on a loopback port), meets a
/// backoff that keeps growing: a few attempts, not one every 0.3 s, and
/// one warning for the outage, one more for the drops after connecting,
/// then quiet.
#[test]
fn a_link_that_drops_right_after_connecting_backs_off_and_logs_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = attempts.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Read the CONNECT, answer an MQTT 5 CONNACK (success), hang up.
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = s.write_all(&[0x20, 0x03, 0x00, 0x00, 0x00]);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let dir = station_dir(
        &format!(
            "station: {{ id: e2e, name: x, timezone: Asia/Ho_Chi_Minh }}\n\
             paths: {{ media: media, state: state }}\noutputs: {{ main: \"null\" }}\n\
             zones: {{ thon-1: {{ output: main }} }}\nmqtt: {{ url: \"mqtt://127.0.0.1:{port}\" }}\n"
        ),
        Some("programs: []\n"),
    );
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("on air", 10);
    // A few attempts come (three within a second or two)...
    let count = || attempts.load(std::sync::atomic::Ordering::SeqCst);
    loa_e2e::wait_until(
        "three connection attempts",
        Duration::from_secs(2),
        Duration::from_millis(50),
        || if count() >= 3 { Ok(()) } else { Err(count()) },
    );
    // ...and then fewer and fewer: 250 ms doubling (±20 %) makes 6 in 12 s
    // (7 at the edge); a backoff reset by each CONNACK would make about 40.
    // A busy machine only makes fewer.
    std::thread::sleep(Duration::from_secs(12));
    let n = count();
    println!("{n} connections in 12 s and more");
    let log = d.log_text();
    assert!(n <= 7, "{n} connections in 12 s:\n{log}");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("mqtt"))
        .collect();
    assert_eq!(warnings.len(), 2, "{log}");
    assert!(warnings[1].contains("dropped the link again"), "{log}");
    // Connected, dropped, connected again, dropped again: then quiet.
    assert_eq!(log.matches("mqtt: connected").count(), 2, "{log}");
}

/// A 48 kHz stereo sine of `secs` seconds at amplitude 0.5.
fn tone(path: &Path, secs: u32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..48_000 * secs {
        let v = (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 0.5;
        w.write_sample((v * 32767.0) as i16).unwrap();
        w.write_sample((v * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// This process may open at least `n` files (the test holds many sockets).
fn allow_open_files(n: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    // None is RLIM_INFINITY.
    if lim.current.is_some_and(|cur| cur < n) {
        lim.current = Some(lim.maximum.map_or(n, |max| n.min(max)));
        setrlimit(Resource::Nofile, lim).unwrap();
    }
}

/// Today 1,100 idle connections from a member of group loa take the
/// daemon's 1,024 file descriptors: the next program cannot open its file
/// (dead air) and `loa status` hangs. Now at most 32 are kept (a newcomer
/// takes the place of the one idle the longest), the program airs, and
/// `loa status` answers meanwhile.
#[test]
fn idle_control_connections_never_starve_the_audio() {
    allow_open_files(4096);
    let (at, _) = loa_e2e::local_in(10);
    let dir = station_dir(
        "station: { id: e2e, name: x, timezone: Asia/Ho_Chi_Minh }\n\
         paths: { media: media, state: state }\noutputs: { main: \"wav:out.wav\" }\n\
         zones: { thon-1: { output: main } }\npolicy: { loudness: null }\n",
        Some(&format!(
            "programs:\n  - id: tin\n    at: \"{at}\"\n    zones: all\n    items:\n      - file: tone.wav\n"
        )),
    );
    tone(&dir.path().join("media/tone.wav"), 3);
    let d = Daemon::start_nofile(BIN, dir.path(), 1024);
    d.wait_for_log("on air", 20);
    let sock = dir.path().join("state/control.sock");
    let held: Vec<std::os::unix::net::UnixStream> = (0..1_100)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).expect("connect"))
        .collect();
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", d.child.id()))
            .unwrap()
            .count()
    };
    let out = loa_e2e::loa(
        BIN,
        &[
            "status",
            "--format",
            "json",
            "--config",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", loa_e2e::stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["station"]["id"], "e2e");
    let open = fds();
    assert!(open < 32 + 64, "the daemon holds {open} descriptors");
    // The program airs its file while the connections are held.
    loa_e2e::wait_rows(
        dir.path(),
        "the program aired",
        Duration::from_secs(14),
        |r| {
            r.iter()
                .any(|x| x.source_kind == "file" && x.outcome != "airing")
        },
    );
    assert!(fds() < 32 + 64);
    drop(held);
    let log = d.log_text();
    let (status, _) = d.stop();
    assert!(status.success());
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.lines().count() < 20, "a bounded log:\n{log}");
    let r = rows(dir.path());
    let file: Vec<_> = r.iter().filter(|x| x.source_kind == "file").collect();
    assert_eq!(file.len(), 1, "{r:#?}");
    assert_eq!(file[0].outcome, "completed", "{r:#?}");
    assert!((file[0].aired_ms - 3_000).abs() < 100, "{:?}", file[0]);
}
