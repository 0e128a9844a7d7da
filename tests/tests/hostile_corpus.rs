//! The hostile corpora of tests/corpus/ against the real binary: every
//! control-socket line and every signed remote command in them is refused
//! with its code and a reason naming the field, nothing airs, and the daemon
//! still answers `loa status`. And a file that makes the decoder panic fails
//! its announcement while the station goes on.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey};
use loa_e2e::corpus::{self, brief, Base};
use loa_e2e::{airtime_rows as rows, station_dir, Aired, Broker, Daemon};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Station `e2e` (prefix loa/e2e) on a WAV output, zones thon-1 and thon-2,
/// key chu-tich-xa for every level and stop (not reload).
fn station(broker: &Broker) -> tempfile::TempDir {
    station_dir(
        &format!(
            r#"station: {{ id: e2e, name: "Đài thử", timezone: Asia/Ho_Chi_Minh }}
paths: {{ media: media, state: state }}
outputs: {{ main: "wav:out.wav" }}
zones:
  thon-1: {{ output: main }}
  thon-2: {{ output: main }}
mqtt: {{ url: {} }}
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

/// One request line on an open connection, and its answer.
fn ask(conn: &mut BufReader<UnixStream>, line: &str) -> Value {
    conn.get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    conn.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn connect(dir: &Path) -> BufReader<UnixStream> {
    let s = UnixStream::connect(dir.join("state/control.sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    BufReader::new(s)
}

fn status_answers(dir: &Path) {
    let out = loa_e2e::loa(
        BIN,
        &[
            "status",
            "--format",
            "json",
            "--config",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", loa_e2e::stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["station"]["id"], "e2e");
}

fn ack_of(msgs: &[(f64, String, String)], id: &str) -> Option<Value> {
    msgs.iter()
        .filter(|(_, t, _)| t == &format!("loa/e2e/ack/{id}"))
        .find_map(|(_, _, p)| serde_json::from_str(p).ok())
}

#[test]
fn every_hostile_line_and_command_is_refused_by_field_and_nothing_airs() {
    let broker = Broker::start();
    let acks = broker.subscribe("loa/e2e/ack/#");
    let dir = station(&broker);
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);

    // The control socket: one connection carries the whole corpus (a
    // refusal never closes it).
    let mut conn = connect(dir.path());
    let cases = corpus::control();
    for c in &cases {
        let a = ask(&mut conn, &c.line);
        assert_eq!(a["ok"], false, "{}: {a}", brief(&c.line));
        assert_eq!(a["code"], c.code.as_str(), "{}: {a}", brief(&c.line));
        let why = a["error"].as_str().unwrap();
        assert!(why.contains(&c.needle), "{}: {why}", brief(&c.line));
    }
    status_answers(dir.path());

    // Remote commands, signed: the refusal is about the field. Bodies that
    // are not JSON objects are refused before the signature is read (their
    // acks go to ack/invalid, within its budget of 10 a minute).
    let now = Utc::now().timestamp();
    let signed = |body: &str| {
        let sig = key().sign(body.as_bytes());
        json!({"kid": "chu-tich-xa", "sig": b64(&sig.to_bytes()), "body": body}).to_string()
    };
    let remote = corpus::remote();
    let (raw, bodies): (Vec<_>, Vec<_>) = remote.iter().partition(|c| c.base == Base::Raw);
    assert!(raw.len() < 10 && bodies.len() > 50);
    for c in &raw {
        broker.publish(
            "loa/e2e/cmd/announce",
            &signed(&c.body("e2e", "x", now)),
            false,
        );
    }
    acks.wait_for("the raw bodies' acks", 20, |m| {
        m.iter()
            .filter(|(_, t, _)| t == "loa/e2e/ack/invalid")
            .count()
            == raw.len()
    });
    let invalid: Vec<Value> = acks
        .messages()
        .iter()
        .filter(|(_, t, _)| t == "loa/e2e/ack/invalid")
        .map(|(_, _, p)| serde_json::from_str(p).unwrap())
        .collect();
    for (c, a) in raw.iter().zip(&invalid) {
        assert_eq!(a["code"], c.code.as_str(), "{}: {a}", brief(&c.patch));
        assert!(a["reason"].as_str().unwrap().contains(&c.needle), "{a}");
    }
    // Signed refusals are acked 60 a minute: the corpus goes in batches,
    // a minute apart.
    let mut window = Instant::now();
    for (batch, chunk) in bodies.chunks(50).enumerate() {
        if batch > 0 {
            std::thread::sleep(Duration::from_secs(62).saturating_sub(window.elapsed()));
            window = Instant::now();
        }
        let ids: Vec<String> = (0..chunk.len())
            .map(|i| format!("corpus-{batch}-{i:03}"))
            .collect();
        for (c, id) in chunk.iter().zip(&ids) {
            let now = Utc::now().timestamp();
            broker.publish(
                &format!("loa/e2e/cmd/{}", c.leaf()),
                &signed(&c.body("e2e", id, now)),
                false,
            );
        }
        acks.wait_for("every command's ack", 30, |m| {
            ids.iter().all(|id| ack_of(m, id).is_some())
        });
        let msgs = acks.messages();
        for (c, id) in chunk.iter().zip(&ids) {
            let a = ack_of(&msgs, id).unwrap();
            assert_eq!(a["status"], "rejected", "{}: {a}", brief(&c.patch));
            assert_eq!(a["code"], c.code.as_str(), "{}: {a}", brief(&c.patch));
            let why = a["reason"].as_str().unwrap();
            assert!(why.contains(&c.needle), "{}: {why}", brief(&c.patch));
        }
    }

    // Still alive, still answering, and nothing aired: no airtime row, and
    // the output carried silence only.
    status_answers(dir.path());
    let log = d.log_text();
    let (status, _) = d.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(rows(dir.path()).is_empty(), "{:#?}", rows(dir.path()));
    let out = Aired::read(&dir.path().join("out.wav"));
    assert!(out.level.len() > 48_000, "the output ran");
    assert!(out.level.iter().all(|l| *l == 0.0), "something aired");
}

/// A recording that makes symphonia's AAC decoder panic (the probe_decode
/// fuzz target's finding, audio/fuzz/README.md) is accepted (its length is
/// in its frame headers), fails when it airs, and the daemon goes on: the
/// row and the journal say why, naming the file, and the next announcement
/// airs whole.
#[test]
fn a_file_that_breaks_the_decoder_fails_its_announcement_and_the_station_goes_on() {
    let broker = Broker::start();
    let dir = station(&broker);
    let media = dir.path().join("media");
    std::fs::copy(
        loa_e2e::repo().join("audio/fuzz/regressions/aac-ics-section-index-out-of-bounds"),
        media.join("thong-bao-hong.aac"),
    )
    .unwrap();
    let mut w = hound::WavWriter::create(
        media.join("tone.wav"),
        hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .unwrap();
    for i in 0..48_000 {
        let s = (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin();
        w.write_sample((s * 8_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("local control on", 10);
    let mut conn = connect(dir.path());
    // What decodes before the decoder's panic airs (a twelfth of a second):
    // the operator hears it start, then the item fails.
    let a = ask(
        &mut conn,
        r#"{"cmd":"now","file":"thong-bao-hong.aac","title":"Hỏng"}"#,
    );
    assert_eq!(a["ok"], true, "{a}");
    let row_ends = |file: &str, outcome: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !rows(dir.path())
            .iter()
            .any(|r| r.source.ends_with(file) && r.outcome == outcome)
        {
            assert!(Instant::now() < deadline, "{:#?}", rows(dir.path()));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    row_ends("thong-bao-hong.aac", "failed");
    status_answers(dir.path());
    let a = ask(
        &mut conn,
        r#"{"cmd":"now","file":"tone.wav","title":"Tốt"}"#,
    );
    assert_eq!(a["ok"], true, "{a}");
    row_ends("tone.wav", "completed");
    let log = d.log_text();
    let (status, _) = d.stop();
    assert!(status.success(), "{log}");
    let r = rows(dir.path());
    let bad: Vec<_> = r
        .iter()
        .filter(|x| x.source.ends_with("thong-bao-hong.aac"))
        .collect();
    assert_eq!(bad.len(), 1, "{r:#?}");
    assert_eq!(bad[0].outcome, "failed", "{r:#?}");
    assert!(
        bad[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("the decoder failed on it"),
        "{r:#?}"
    );
    // The file is named in the journal with what went wrong.
    assert!(
        log.lines()
            .any(|l| l.contains("thong-bao-hong.aac") && l.contains("the decoder failed")),
        "{log}"
    );
}
