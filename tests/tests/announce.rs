//! Signed remote announcements against a real mosquitto and the real
//! binary: an emergency during a scheduled program (preempted, resumed, the
//! board shows the alert, the rows tell the story), every refusal with its
//! ack and nothing aired, and a replay refused also after a restart.

use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use ed25519_dalek::{Signer, SigningKey};
use loa_e2e::{airtime_rows as rows, local_in, station_dir, wait_rows, Broker, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn station(broker: &Broker, schedule: &str) -> tempfile::TempDir {
    station_as(broker, "e2e", schedule)
}

/// A station `id` (prefix loa/<id>) in group tuyen-hoa.
fn station_as(broker: &Broker, id: &str, schedule: &str) -> tempfile::TempDir {
    station_dir(
        &format!(
            r#"station: {{ id: {id}, name: "Đài thử", timezone: Asia/Ho_Chi_Minh }}
paths: {{ media: media, state: state }}
outputs: {{ main: "null" }}
zones:
  thon-1: {{ output: main }}
  thon-2: {{ output: main }}
boards:
  cong: {{ preset: awtrix, topic: awtrix_cong, charset: ascii, show_now_playing: true }}
mqtt: {{ url: {}, groups: [tuyen-hoa] }}
policy: {{ loudness: null }}
remote:
  max_skew: 120s
  keys:
    chu-tich-xa:
      public_key: "{}"
      may: [normal, priority, emergency, stop, reload]
      zones: all
    van-hoa:
      public_key: "{}"
      may: [normal]
      zones: [thon-2]
"#,
            broker.url(),
            b64(key(1).verifying_key().as_bytes()),
            b64(key(2).verifying_key().as_bytes()),
        ),
        Some(schedule),
    )
}

/// A signed envelope for `body` (a JSON object without v/ts/exp/to: filled in).
fn envelope(k: &SigningKey, kid: &str, mut body: serde_json::Value) -> String {
    let now = Utc::now().timestamp();
    let b = body.as_object_mut().unwrap();
    b.entry("v").or_insert(1.into());
    b.entry("ts").or_insert(now.into());
    b.entry("exp").or_insert((now + 300).into());
    b.entry("to").or_insert("station:e2e".into());
    let text = body.to_string();
    let sig = k.sign(text.as_bytes());
    serde_json::json!({"kid": kid, "sig": b64(&sig.to_bytes()), "body": text}).to_string()
}

fn acks_for(msgs: &[(f64, String, String)], id: &str) -> Vec<serde_json::Value> {
    msgs.iter()
        .filter(|(_, t, _)| t == &format!("loa/e2e/ack/{id}"))
        .map(|(_, _, p)| serde_json::from_str(p).unwrap())
        .collect()
}

#[test]
fn an_emergency_preempts_the_program_takes_the_boards_and_is_logged() {
    let broker = Broker::start();
    let all = broker.subscribe("#");
    let (a, _) = local_in(4);
    let dir = station(
        &broker,
        &format!("programs:\n  - id: tin\n    title: \"Bản tin\"\n    at: \"{a}\"\n    zones: all\n    items:\n      - tone: {{ hz: 440, for: 20s }}\n"),
    );
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    // The emergency comes while the program airs.
    let tin = |r: &loa_e2e::AirtimeRow| r.program_id.as_deref() == Some("tin");
    wait_rows(
        dir.path(),
        "the program on air",
        Duration::from_secs(8),
        |r| r.iter().any(tin),
    );
    let env = envelope(
        &key(1),
        "chu-tich-xa",
        serde_json::json!({"id": "bao-so-5-0001", "cmd": "announce", "priority": "emergency",
            "zones": "all", "text": "Bão số 5 sắp đổ bộ", "repeat": 1}),
    );
    broker.publish("loa/e2e/cmd/announce", &env, false);
    all.wait_for("accepted, started, done", 60, |m| {
        let a = acks_for(m, "bao-so-5-0001");
        a.iter().any(|v| v["status"] == "done")
    });
    let msgs = all.messages();
    let statuses: Vec<String> = acks_for(&msgs, "bao-so-5-0001")
        .iter()
        .map(|v| v["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["accepted", "started", "done"]);
    // The alert took the board, red, and left it after.
    let notify = msgs
        .iter()
        .find(|(_, t, _)| t == "awtrix_cong/notify")
        .expect("the alert on the board");
    assert!(
        notify.2.contains("Bao so 5") && notify.2.contains("#FF0000"),
        "{notify:?}"
    );
    assert!(msgs
        .iter()
        .any(|(_, t, _)| t == "awtrix_cong/notify/dismiss"));
    // Wait for the program to finish after resuming.
    wait_rows(
        dir.path(),
        "the program's end",
        Duration::from_secs(40),
        |r| r.iter().any(|x| tin(x) && x.outcome != "airing"),
    );
    let (status, _) = d.stop();
    assert!(status.success());
    let rows = rows(dir.path());
    let ann: Vec<_> = rows.iter().filter(|r| r.trigger == "mqtt").collect();
    assert_eq!(
        ann.iter()
            .map(|r| r.source_kind.as_str())
            .collect::<Vec<_>>(),
        ["chime", "tts"],
        "{rows:#?}"
    );
    for r in &ann {
        assert_eq!(
            (
                r.program_id.as_deref(),
                r.requested_by.as_deref(),
                r.outcome.as_str()
            ),
            (None, Some("chu-tich-xa"), "completed")
        );
    }
    let tin: Vec<_> = rows
        .iter()
        .filter(|r| r.program_id.as_deref() == Some("tin"))
        .collect();
    assert_eq!(tin.len(), 1, "a pause keeps one row: {rows:#?}");
    assert_eq!(tin[0].outcome, "completed");
    assert!(
        (tin[0].aired_ms - 20_000).abs() < 100,
        "the program resumed and aired all of its 20 s: {:?}",
        tin[0]
    );
}

#[test]
fn every_refusal_is_acked_with_its_code_and_nothing_airs() {
    let broker = Broker::start();
    let all = broker.subscribe("loa/e2e/ack/#");
    let dir = station(&broker, "programs: []\n");
    std::fs::write(dir.path().join("media/ok.mp3"), b"").unwrap();
    let now = Utc::now().timestamp();
    let ann = |id: &str| serde_json::json!({"id": id, "cmd": "announce", "priority": "normal", "zones": "all", "text": format!("thử {id}")});
    let mut cases: Vec<(&str, String, bool)> = Vec::new();
    // bad signature: signed by another key
    cases.push((
        "bad_signature",
        envelope(&key(9), "chu-tich-xa", ann("refuse-badsig1")),
        false,
    ));
    cases.push((
        "unknown_key",
        envelope(&key(1), "ai-do", ann("refuse-unknown1")),
        false,
    ));
    let mut skew = ann("refuse-skew001");
    skew["ts"] = (now - 3600).into();
    skew["exp"] = (now + 3600).into();
    cases.push(("clock_skew", envelope(&key(1), "chu-tich-xa", skew), false));
    let mut expired = ann("refuse-expired1");
    expired["exp"] = (now - 10).into();
    cases.push(("expired", envelope(&key(1), "chu-tich-xa", expired), false));
    let mut other = ann("refuse-target01");
    other["to"] = "station:xa-khac".into();
    cases.push((
        "wrong_target",
        envelope(&key(1), "chu-tich-xa", other),
        false,
    ));
    let mut emerg = ann("refuse-rights01");
    emerg["priority"] = "emergency".into();
    emerg["zones"] = serde_json::json!(["thon-2"]);
    cases.push(("not_allowed", envelope(&key(2), "van-hoa", emerg), false));
    let mut nozone = ann("refuse-nozone01");
    nozone["zones"] = serde_json::json!(["thon-9"]);
    cases.push(("no_zone", envelope(&key(1), "chu-tich-xa", nozone), false));
    let mut badfile = ann("refuse-file0001");
    badfile.as_object_mut().unwrap().remove("text");
    badfile["file"] = "../../../etc/passwd".into();
    cases.push(("bad_file", envelope(&key(1), "chu-tich-xa", badfile), false));
    // A retained command waits on the broker and reaches the station when it
    // subscribes (as after every reconnect), flagged retained.
    let retained = envelope(&key(1), "chu-tich-xa", ann("refuse-retain01"));
    broker.publish("loa/e2e/cmd/announce", &retained, true);
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    d.wait_for_log("mqtt: connected", 10);
    for (_, env, retain) in &cases {
        broker.publish("loa/e2e/cmd/announce", env, *retain);
    }
    cases.push(("retained", retained, true));
    broker.publish("loa/e2e/cmd/announce", "this is not JSON", false);
    all.wait_for("every refusal acked", 30, |m| m.len() > cases.len());
    let msgs = all.messages();
    let invalid = acks_for(&msgs, "invalid");
    for (code, env, _) in &cases {
        let body: serde_json::Value = serde_json::from_str(
            serde_json::from_str::<serde_json::Value>(env).unwrap()["body"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let id = body["id"].as_str().unwrap();
        // Until the signature holds, the id is the publisher's choice: never
        // a topic, only in the payload of an ack on P/ack/invalid.
        let acks: Vec<serde_json::Value> =
            if ["bad_signature", "unknown_key", "retained"].contains(code) {
                assert!(acks_for(&msgs, id).is_empty(), "{code}: {msgs:#?}");
                invalid.iter().filter(|v| v["id"] == id).cloned().collect()
            } else {
                acks_for(&msgs, id)
            };
        assert_eq!(acks.len(), 1, "{code}: {msgs:#?}");
        assert_eq!(
            (acks[0]["status"].as_str(), acks[0]["code"].as_str()),
            (Some("rejected"), Some(*code)),
            "{acks:?}"
        );
        assert!(acks[0]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert!(
        invalid.iter().any(|v| v["code"] == "malformed"),
        "{msgs:#?}"
    );
    // A retained command stays on the broker: clear it.
    broker.publish("loa/e2e/cmd/announce", "", true);
    std::thread::sleep(Duration::from_secs(3));
    let (status, _) = d.stop();
    assert!(status.success());
    assert!(
        rows(dir.path()).is_empty(),
        "nothing aired: {:#?}",
        rows(dir.path())
    );
    let aired = loa_e2e::Aired::read(&wav);
    assert!(
        !aired.level.is_empty() && aired.level.iter().all(|l| *l == 0.0),
        "nothing in the WAV"
    );
}

#[test]
fn a_replayed_command_is_refused_also_after_a_restart() {
    let broker = Broker::start();
    let all = broker.subscribe("loa/e2e/ack/#");
    let dir = station(&broker, "programs: []\n");
    let env = envelope(
        &key(1),
        "chu-tich-xa",
        serde_json::json!({"id": "phat-lai-0001", "cmd": "announce", "priority": "normal", "zones": ["thon-1"], "text": "Họp thôn", "repeat": 1}),
    );
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    broker.publish("loa/e2e/cmd/announce", &env, false);
    all.wait_for("done", 30, |m| {
        acks_for(m, "phat-lai-0001")
            .iter()
            .any(|v| v["status"] == "done")
    });
    broker.publish("loa/e2e/cmd/announce", &env, false);
    all.wait_for("replay", 10, |m| {
        acks_for(m, "phat-lai-0001")
            .iter()
            .any(|v| v["code"] == "replay")
    });
    drop(d);
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    broker.publish("loa/e2e/cmd/announce", &env, false);
    all.wait_for("replay after restart", 10, |m| {
        acks_for(m, "phat-lai-0001")
            .iter()
            .filter(|v| v["code"] == "replay")
            .count()
            == 2
    });
    let (status, _) = d.stop();
    assert!(status.success());
    let aired = rows(dir.path())
        .iter()
        .filter(|r| r.source_kind == "tts")
        .count();
    assert_eq!(aired, 1, "aired once");
}

#[test]
fn two_stations_in_a_group_both_air_a_group_announcement() {
    let broker = Broker::start();
    let all = broker.subscribe("loa/#");
    let a = station_as(&broker, "xa-a", "programs: []\n");
    let b = station_as(&broker, "xa-b", "programs: []\n");
    let da = Daemon::start(BIN, a.path(), &[]);
    let db = Daemon::start(BIN, b.path(), &[]);
    da.wait_for_log("mqtt: connected", 10);
    db.wait_for_log("mqtt: connected", 10);
    let mut body = serde_json::json!({"id": "nhom-tuyen-hoa-1", "cmd": "announce", "priority": "priority",
        "zones": "all", "text": "Thông báo chung của huyện", "repeat": 1});
    body["to"] = "group:tuyen-hoa".into();
    let env = envelope(&key(1), "chu-tich-xa", body);
    broker.publish("loa/group/tuyen-hoa/cmd/announce", &env, false);
    // Each station acks on its own topic, then on the group's: wait for
    // all four, so that the count below never races the second.
    all.wait_for("both stations done, on both topics", 60, |m| {
        ["xa-a", "xa-b"].iter().all(|st| {
            let done = |t: &str| {
                m.iter().any(|(_, topic, p)| {
                    topic == t
                        && p.contains("\"done\"")
                        && p.contains(&format!("\"station\":\"{st}\""))
                })
            };
            done(&format!("loa/{st}/ack/nhom-tuyen-hoa-1"))
                && done("loa/group/tuyen-hoa/ack/nhom-tuyen-hoa-1")
        })
    });
    let msgs = all.messages();
    let group_acks: Vec<_> = msgs
        .iter()
        .filter(|(_, t, p)| {
            t == "loa/group/tuyen-hoa/ack/nhom-tuyen-hoa-1" && p.contains("\"done\"")
        })
        .collect();
    assert_eq!(
        group_acks.len(),
        2,
        "each station acks on the group topic too: {msgs:#?}"
    );
    drop(da);
    drop(db);
    for st in [&a, &b] {
        let r = rows(st.path());
        assert_eq!(
            r.iter().map(|x| x.source_kind.as_str()).collect::<Vec<_>>(),
            ["chime", "tts"],
            "{r:#?}"
        );
    }
}

#[test]
fn quiet_hours_and_the_rate_limit_refuse_and_air_nothing() {
    let broker = Broker::start();
    let all = broker.subscribe("loa/q/ack/#");
    let dir = station_as(&broker, "q", "programs: []\n");
    // Quiet hours around now; one verified command a minute per key.
    let local = Utc::now().with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    let from = (local - TimeDelta::hours(1)).format("%H:%M");
    let to = (local + TimeDelta::hours(1)).format("%H:%M");
    let yaml = std::fs::read_to_string(dir.path().join("station.yaml")).unwrap();
    let yaml = yaml
        .replace(
            "policy: { loudness: null }",
            &format!("policy: {{ loudness: null, quiet_hours: \"{from}-{to}\" }}"),
        )
        .replace("max_skew: 120s", "max_skew: 120s\n  rate_limit: 1/min");
    std::fs::write(dir.path().join("station.yaml"), yaml).unwrap();
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    d.wait_for_log("mqtt: connected", 10);
    let to_q = |mut b: serde_json::Value| {
        b["to"] = "station:q".into();
        b
    };
    let quiet = envelope(
        &key(1),
        "chu-tich-xa",
        to_q(
            serde_json::json!({"id": "yen-lang-0001", "cmd": "announce", "priority": "normal", "zones": "all", "text": "ban đêm"}),
        ),
    );
    broker.publish("loa/q/cmd/announce", &quiet, false);
    all.wait_for("quiet_hours", 10, |m| {
        m.iter().any(|(_, _, p)| p.contains("quiet_hours"))
    });
    // An emergency may sound in quiet hours; the next one within the minute is rate limited.
    let first = envelope(
        &key(1),
        "chu-tich-xa",
        to_q(
            serde_json::json!({"id": "khan-cap-0001", "cmd": "announce", "priority": "emergency", "zones": "all", "text": "lũ"}),
        ),
    );
    let second = envelope(
        &key(1),
        "chu-tich-xa",
        to_q(
            serde_json::json!({"id": "khan-cap-0002", "cmd": "announce", "priority": "emergency", "zones": "all", "text": "lũ lần hai"}),
        ),
    );
    broker.publish("loa/q/cmd/announce", &first, false);
    broker.publish("loa/q/cmd/announce", &second, false);
    all.wait_for("first done, second rate limited", 30, |m| {
        m.iter().any(|(t, _, p)| {
            let _ = t;
            p.contains("khan-cap-0001") && p.contains("\"done\"")
        }) && m
            .iter()
            .any(|(_, _, p)| p.contains("khan-cap-0002") && p.contains("rate_limited"))
    });
    let (status, _) = d.stop();
    assert!(status.success());
    let r = rows(dir.path());
    let titles: Vec<&str> = r.iter().map(|x| x.title.as_str()).collect();
    assert!(
        titles.iter().all(|t| *t == "lũ"),
        "only the accepted emergency aired: {r:#?}"
    );
    assert_eq!(r.len(), 2, "chime and its text: {r:#?}");
}

/// Nothing a sender writes becomes a line of its own in the journal: a key
/// id with a line break and a forged "accepted" line, and signed text and
/// title with NUL and right-to-left overrides, are logged escaped.
#[test]
fn fields_from_outside_cannot_forge_or_hide_log_lines() {
    let broker = Broker::start();
    let all = broker.subscribe("loa/e2e/ack/#");
    let dir = station(&broker, "programs: []\n");
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    let forged = "chu-tich-xa\n2026-11-25T03:00:00.000000Z  INFO announcement gia-mao-0001 from chu-tich-xa accepted: Sơ tán ngay (emergency)";
    let env = envelope(
        &key(1),
        forged,
        serde_json::json!({"id": "gia-mao-0001", "cmd": "announce", "priority": "emergency",
            "zones": "all", "text": "Sơ tán ngay"}),
    );
    broker.publish("loa/e2e/cmd/announce", &env, false);
    let env = envelope(
        &key(1),
        "chu-tich-xa",
        serde_json::json!({"id": "that-that-0001", "cmd": "announce", "priority": "normal",
            "zones": "all", "text": "Họp\u{0} dân\u{202e}", "title": "Họp\u{202e} dân\nINFO giả"}),
    );
    broker.publish("loa/e2e/cmd/announce", &env, false);
    all.wait_for("the real one done", 30, |m| {
        acks_for(m, "that-that-0001")
            .iter()
            .any(|v| v["status"] == "done")
    });
    let log = d.log_text();
    let (status, _) = d.stop();
    assert!(status.success());
    for line in log.lines() {
        assert!(
            !line.starts_with("2026-11-25T03:00:00") && !line.starts_with("INFO giả"),
            "a forged line: {line:?}\n{log}"
        );
        assert!(
            !line.contains('\u{202e}') && !line.contains('\0'),
            "a raw control character: {line:?}"
        );
    }
    assert!(
        log.contains(r"chu-tich-xa\n2026-11-25T03:00:00"),
        "the forged key id is logged escaped:\n{log}"
    );
    for line in log.lines().filter(|l| l.contains("gia-mao-0001")) {
        assert!(line.contains("refused (unknown_key)"), "{line:?}");
    }
    let accepted: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("accepted") && !l.contains("refused"))
        .collect();
    assert_eq!(accepted.len(), 1, "{accepted:#?}");
    assert!(accepted[0].contains("that-that-0001"), "{accepted:?}");
    assert!(accepted[0].contains("Họp dânINFO giả"), "{accepted:?}");
    let r = rows(dir.path());
    assert!(
        r.iter().all(|x| x.title == "Họp dânINFO giả"),
        "the title without its invisible characters: {r:#?}"
    );
}
