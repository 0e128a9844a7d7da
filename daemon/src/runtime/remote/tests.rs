//! Every refusal of SPEC section 6, the accepted forms, replay across a
//! restart, the rate limit, revocation on reload, strict signatures and
//! group topics; stations come from YAML through the real loader.

use std::path::Path;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use super::*;

const P: &str = "loa/test";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn pk(n: u8) -> String {
    BASE64.encode(key(n).verifying_key().to_bytes())
}

/// 10:00 in Hà Nội (UTC+7), outside the quiet hours 21:30-05:00.
fn day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap()
}

/// 23:00 in Hà Nội, inside the quiet hours.
fn night() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap()
}

/// Keys: 1 chu-tich-xa (everything, all zones), 2 van-hoa (normal on
/// thon-1 only), 3 truong-thon (normal, priority, stop on every zone),
/// 4 in station.yaml only when `extra` says so.
fn station_yaml(dir: &Path, extra: &str, rate: &str) -> Station {
    std::fs::create_dir_all(dir.join("media/news")).unwrap();
    wav(&dir.join("media/news/ban-tin.wav"), 8_000);
    wav(&dir.join("secret.wav"), 8_000);
    let _ = std::os::unix::fs::symlink(dir.join("secret.wav"), dir.join("media/link.wav"));
    std::fs::write(
        dir.join("station.yaml"),
        format!(
            r#"station:
  id: au-lau
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  main: "null"
zones:
  thon-1: {{ output: main }}
  thon-2: {{ output: main }}
  thon-3: {{ output: main }}
mqtt:
  url: mqtt://127.0.0.1:1883
  prefix: {P}
  groups: [tuyen-hoa]
policy:
  quiet_hours: "21:30-05:00"
remote:
  max_skew: 120s
  rate_limit: {rate}
  keys:
    chu-tich-xa:
      public_key: "{}"
      may: [normal, priority, emergency, stop, reload]
      zones: all
    van-hoa:
      public_key: "{}"
      may: [normal]
      zones: [thon-1]
    truong-thon:
      public_key: "{}"
      may: [normal, priority, stop]
{extra}"#,
            pk(1),
            pk(2),
            pk(3)
        ),
    )
    .unwrap();
    let loaded = loa_schedules::load_dir(dir);
    let config = loaded.config.expect("station loads");
    assert!(loaded.diagnostics.is_valid(), "{:?}", loaded.diagnostics);
    config.station
}

/// A WAV of `frames` silent frames at 8 kHz, mono.
fn wav(path: &Path, frames: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for _ in 0..frames {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
}

struct Fixture {
    dir: tempfile::TempDir,
    station: Station,
    gate: Gate,
}

impl Fixture {
    /// `body` signed with key `n` as `kid`, received unretained on `topic`.
    fn send(
        &mut self,
        topic: &str,
        n: u8,
        kid: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Verified, Refusal> {
        self.gate.check(topic, &signed(n, kid, body), false, now)
    }
}

fn fixture() -> Fixture {
    fixture_with("", "10/min")
}

fn fixture_with(extra: &str, rate: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let station = station_yaml(dir.path(), extra, rate);
    let gate = Gate::open(&station, &db(dir.path())).unwrap();
    Fixture { dir, station, gate }
}

fn db(dir: &Path) -> PathBuf {
    dir.join("state/airtime.sqlite")
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn fresh_id() -> String {
    format!(
        "cmd-{:08}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// An announcement body for the station at `now`, with `patch` merged in
/// (a null value removes the field).
fn announce(now: DateTime<Utc>, patch: Value) -> String {
    body(
        now,
        json!({"cmd": "announce", "priority": "normal", "zones": "all", "text": "Họp dân lúc 8 giờ"}),
        patch,
    )
}

fn body(now: DateTime<Utc>, base: Value, patch: Value) -> String {
    let mut b = json!({
        "v": 1, "id": fresh_id(), "ts": now.timestamp(), "exp": now.timestamp() + 600,
        "to": "station:au-lau",
    });
    for (k, v) in base
        .as_object()
        .unwrap()
        .iter()
        .chain(patch.as_object().unwrap())
    {
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v.clone();
        }
    }
    b.to_string()
}

fn signed(n: u8, kid: &str, body: &str) -> Vec<u8> {
    sign(&key(n), kid, body).into_bytes()
}

fn topic(cmd: &str) -> String {
    format!("{P}/cmd/{cmd}")
}

fn refusal(r: Result<Verified, Refusal>) -> Refusal {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(r) => r,
    }
}

fn code(f: &mut Fixture, t: &str, payload: &[u8], now: DateTime<Utc>) -> &'static str {
    refusal(f.gate.check(t, payload, false, now)).code
}

fn id_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_valid_announcement_is_accepted_with_its_zones_title_and_defaults() {
    let mut f = fixture();
    let b = announce(day(), json!({}));
    let v = f
        .send(&topic("announce"), 1, "chu-tich-xa", &b, day())
        .unwrap();
    assert_eq!(v.id, id_of(&b));
    assert_eq!(v.kid, "chu-tich-xa");
    assert_eq!(v.group, None);
    let Cmd::Announce(a) = v.cmd else {
        panic!("{:?}", v.cmd)
    };
    assert_eq!(a.priority, Priority::Normal);
    assert_eq!(a.zones, ["thon-1", "thon-2", "thon-3"]);
    assert_eq!(a.what, What::Text("Họp dân lúc 8 giờ".into()));
    assert_eq!(a.title, "Họp dân lúc 8 giờ");
    assert_eq!(a.repeat, 1);
    assert_eq!(a.exp.timestamp(), day().timestamp() + 600);
}

#[test]
fn zones_come_back_in_station_order_and_a_file_resolves_inside_media() {
    let mut f = fixture();
    let b = announce(
        day(),
        json!({"text": null, "file": "news/ban-tin.wav", "zones": ["thon-3", "thon-1", "xa-khac"],
               "priority": "emergency", "repeat": 3}),
    );
    let v = f
        .send(&topic("announce"), 1, "chu-tich-xa", &b, day())
        .unwrap();
    let Cmd::Announce(a) = v.cmd else { panic!() };
    assert_eq!(a.zones, ["thon-1", "thon-3"]);
    let media = f.dir.path().join("media").canonicalize().unwrap();
    assert_eq!(a.what, What::File(media.join("news/ban-tin.wav")));
    assert_eq!(a.title, "ban-tin.wav");
    assert_eq!(a.repeat, 3);
    assert_eq!(a.priority, Priority::Emergency);
}

#[test]
fn a_stream_needs_a_duration_and_a_restricted_keys_all_means_its_own_zones() {
    let mut f = fixture();
    let b = announce(
        day(),
        json!({"text": null, "stream": "https://radio.example/vov1", "duration": "15m", "title": "VOV1"}),
    );
    let v = f.send(&topic("announce"), 2, "van-hoa", &b, day()).unwrap();
    let Cmd::Announce(a) = v.cmd else { panic!() };
    assert_eq!(a.zones, ["thon-1"]);
    assert_eq!(a.title, "VOV1");
    assert_eq!(
        a.what,
        What::Stream {
            url: "https://radio.example/vov1".into(),
            duration: Duration::from_secs(900)
        }
    );
    let b = announce(
        day(),
        json!({"text": null, "stream": "https://radio.example/vov1"}),
    );
    let r = refusal(f.send(&topic("announce"), 2, "van-hoa", &b, day()));
    assert_eq!(r.code, "malformed");
    assert!(r.reason.contains("duration"), "{}", r.reason);
}

#[test]
fn malformed_messages_are_refused_with_an_id_when_one_can_be_read() {
    let mut f = fixture();
    let t = topic("announce");
    let r = refusal(f.gate.check(&t, b"not json", false, day()));
    assert_eq!((r.code, r.id), ("malformed", None));
    let big = vec![b' '; MAX_PAYLOAD + 1];
    let r = refusal(f.gate.check(&t, &big, false, day()));
    assert_eq!(r.code, "too_large");
    assert!(r.reason.contains("65537 bytes"), "{}", r.reason);
    assert!(!r.verified);
    let r = refusal(
        f.gate
            .check(&t, br#"{"kid":"chu-tich-xa","body":"{}"}"#, false, day()),
    );
    assert_eq!(r.code, "malformed");
    assert!(r.reason.contains("sig"), "{}", r.reason);
    // Signed, but missing fields or with bad values.
    for patch in [
        json!({"priority": null}),
        json!({"zones": null}),
        json!({"text": null}),
        json!({"file": "a.mp3"}),
        json!({"v": 2}),
        json!({"ts": "now"}),
        json!({"repeat": 0}),
        json!({"priority": "urgent"}),
    ] {
        let b = announce(day(), patch.clone());
        let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
        assert_eq!(r.code, "malformed", "{patch}: {r:?}");
        assert_eq!(r.id.as_deref(), Some(id_of(&b).as_str()), "{patch}");
    }
    let b = announce(day(), json!({"id": "short"}));
    let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
    assert_eq!((r.code, r.id), ("malformed", None));
}

#[test]
fn retained_unknown_key_and_bad_signature_are_refused() {
    let mut f = fixture();
    let t = topic("announce");
    let b = announce(day(), json!({}));
    let r = refusal(f.gate.check(&t, &signed(1, "chu-tich-xa", &b), true, day()));
    assert_eq!(r.code, "retained");
    assert_eq!(r.id, Some(id_of(&b)));
    assert!(!r.verified);
    assert_eq!(
        code(&mut f, &t, &signed(4, "ke-la", &b), day()),
        "unknown_key"
    );
    // The right kid, the wrong private key.
    assert_eq!(
        code(&mut f, &t, &signed(4, "chu-tich-xa", &b), day()),
        "bad_signature"
    );
    // Not base64 at all.
    let env = json!({"kid": "chu-tich-xa", "sig": "!!", "body": b}).to_string();
    assert_eq!(code(&mut f, &t, env.as_bytes(), day()), "bad_signature");
    // The same message, accepted when clean (nothing above was remembered).
    assert!(f.send(&t, 1, "chu-tich-xa", &b, day()).is_ok());
}

#[test]
fn a_signature_holds_only_over_the_exact_body_bytes_and_in_one_spelling() {
    let mut f = fixture();
    let t = topic("announce");
    let b = announce(day(), json!({}));
    let env: Value = serde_json::from_slice(&signed(1, "chu-tich-xa", &b)).unwrap();
    let sig = env["sig"].as_str().unwrap().to_string();
    // The same JSON value, re-serialised with other spacing.
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&b).unwrap()).unwrap();
    let moved = json!({"kid": "chu-tich-xa", "sig": sig, "body": pretty}).to_string();
    assert_eq!(code(&mut f, &t, moved.as_bytes(), day()), "bad_signature");
    // Unpadded base64 of the right signature.
    let unpadded =
        json!({"kid": "chu-tich-xa", "sig": sig.trim_end_matches('='), "body": b}).to_string();
    assert_eq!(
        code(&mut f, &t, unpadded.as_bytes(), day()),
        "bad_signature"
    );
    // A malleated signature: S + L (the group order) is the same S mod L,
    // which non-strict verifiers accept.
    let mut raw = BASE64.decode(&sig).unwrap();
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = raw[32 + i] as u16 + L[i] as u16 + carry;
        raw[32 + i] = s as u8;
        carry = s >> 8;
    }
    let malleated =
        json!({"kid": "chu-tich-xa", "sig": BASE64.encode(&raw), "body": b}).to_string();
    assert_eq!(
        code(&mut f, &t, malleated.as_bytes(), day()),
        "bad_signature"
    );
    // One flipped bit.
    let mut raw = BASE64.decode(&sig).unwrap();
    raw[5] ^= 1;
    let flipped = json!({"kid": "chu-tich-xa", "sig": BASE64.encode(&raw), "body": b}).to_string();
    assert_eq!(code(&mut f, &t, flipped.as_bytes(), day()), "bad_signature");
    assert!(f.send(&t, 1, "chu-tich-xa", &b, day()).is_ok());
}

#[test]
fn the_topic_must_match_to_and_cmd() {
    let mut f = fixture();
    let b = announce(day(), json!({}));
    let m = signed(1, "chu-tich-xa", &b);
    assert_eq!(code(&mut f, &topic("stop"), &m, day()), "wrong_target");
    assert_eq!(
        code(&mut f, "loa/other/cmd/announce", &m, day()),
        "wrong_target"
    );
    assert_eq!(
        code(&mut f, "loa/group/tuyen-hoa/cmd/announce", &m, day()),
        "wrong_target"
    );
    let other = announce(day(), json!({"to": "station:xa-ben"}));
    assert_eq!(
        code(
            &mut f,
            &topic("announce"),
            &signed(1, "chu-tich-xa", &other),
            day()
        ),
        "wrong_target"
    );
    let group = announce(day(), json!({"to": "group:tuyen-hoa"}));
    assert_eq!(
        code(
            &mut f,
            &topic("announce"),
            &signed(1, "chu-tich-xa", &group),
            day()
        ),
        "wrong_target"
    );
    // A group this station is not in.
    let g2 = announce(day(), json!({"to": "group:xa-khac"}));
    assert_eq!(
        code(
            &mut f,
            "loa/group/xa-khac/cmd/announce",
            &signed(1, "chu-tich-xa", &g2),
            day()
        ),
        "wrong_target"
    );
}

#[test]
fn group_commands_come_on_group_topics_and_say_their_group() {
    let mut f = fixture();
    assert_eq!(
        f.gate.topics(),
        [
            "loa/test/cmd/announce",
            "loa/test/cmd/stop",
            "loa/test/cmd/reload",
            "loa/group/tuyen-hoa/cmd/announce",
            "loa/group/tuyen-hoa/cmd/stop",
            "loa/group/tuyen-hoa/cmd/reload",
        ]
    );
    let b = announce(day(), json!({"to": "group:tuyen-hoa"}));
    let v = f
        .send(
            "loa/group/tuyen-hoa/cmd/announce",
            1,
            "chu-tich-xa",
            &b,
            day(),
        )
        .unwrap();
    assert_eq!(v.group.as_deref(), Some("tuyen-hoa"));
    // A refusal on a group topic also names the group, for its acks.
    let r = refusal(f.send(
        "loa/group/tuyen-hoa/cmd/announce",
        1,
        "chu-tich-xa",
        &b,
        day(),
    ));
    assert_eq!((r.code, r.group.as_deref()), ("replay", Some("tuyen-hoa")));
    let topics: Vec<String> = r.acks(P, "au-lau").into_iter().map(|p| p.topic).collect();
    let id = id_of(&b);
    assert_eq!(
        topics,
        [
            format!("loa/test/ack/{id}"),
            format!("loa/group/tuyen-hoa/ack/{id}")
        ]
    );
}

#[test]
fn timestamps_outside_the_skew_and_passed_expiries_are_refused() {
    let mut f = fixture();
    let t = topic("announce");
    let ahead = announce(day() + chrono::Duration::seconds(121), json!({}));
    let r = refusal(f.send(&t, 1, "chu-tich-xa", &ahead, day()));
    assert_eq!(r.code, "clock_skew");
    assert!(r.reason.contains("121 s ahead"), "{}", r.reason);
    let behind = announce(day() - chrono::Duration::seconds(300), json!({}));
    assert_eq!(
        code(&mut f, &t, &signed(1, "chu-tich-xa", &behind), day()),
        "clock_skew"
    );
    let edge = announce(day() - chrono::Duration::seconds(120), json!({}));
    assert!(f.send(&t, 1, "chu-tich-xa", &edge, day()).is_ok());
    let expired = announce(day(), json!({"exp": day().timestamp() - 1}));
    assert_eq!(
        code(&mut f, &t, &signed(1, "chu-tich-xa", &expired), day()),
        "expired"
    );
}

#[test]
fn a_replay_is_refused_also_after_a_restart_and_ids_are_pruned_later() {
    let mut f = fixture();
    let t = topic("announce");
    let b = announce(day(), json!({}));
    let m = signed(1, "chu-tich-xa", &b);
    assert!(f.gate.check(&t, &m, false, day()).is_ok());
    let later = day() + chrono::Duration::seconds(30);
    assert_eq!(code(&mut f, &t, &m, later), "replay");
    // A restart: a new Gate on the same database.
    drop(f.gate);
    let mut again = Gate::open(&f.station, &db(f.dir.path())).unwrap();
    let r = refusal(again.check(&t, &m, false, later));
    assert_eq!((r.code, r.id), ("replay", Some(id_of(&b))));
    // Long after, the id is gone from the table and the skew check refuses.
    let much_later = day() + chrono::Duration::seconds(600);
    assert_eq!(
        refusal(again.check(&t, &m, false, much_later)).code,
        "clock_skew"
    );
    let conn = rusqlite::Connection::open(db(f.dir.path())).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM seen_commands", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn keys_may_use_only_their_levels_zones_and_rights() {
    let mut f = fixture();
    let t = topic("announce");
    let cases = [
        // van-hoa: normal on thon-1 only.
        (
            2,
            "van-hoa",
            announce(day(), json!({"priority": "priority"})),
            "announce",
            "not_allowed",
        ),
        (
            2,
            "van-hoa",
            announce(day(), json!({"zones": ["thon-2"]})),
            "announce",
            "not_allowed",
        ),
        (
            2,
            "van-hoa",
            announce(day(), json!({"zones": ["thon-1", "thon-2"]})),
            "announce",
            "not_allowed",
        ),
        (
            3,
            "truong-thon",
            announce(day(), json!({"priority": "emergency"})),
            "announce",
            "not_allowed",
        ),
        (
            2,
            "van-hoa",
            body(day(), json!({"cmd": "stop", "target": "all"}), json!({})),
            "stop",
            "not_allowed",
        ),
        (
            2,
            "van-hoa",
            body(day(), json!({"cmd": "reload"}), json!({})),
            "reload",
            "not_allowed",
        ),
        (
            3,
            "truong-thon",
            body(day(), json!({"cmd": "reload"}), json!({})),
            "reload",
            "not_allowed",
        ),
        // truong-thon may stop, but not everything: it lacks emergency.
        (
            3,
            "truong-thon",
            body(day(), json!({"cmd": "stop", "target": "all"}), json!({})),
            "stop",
            "not_allowed",
        ),
    ];
    for (n, kid, b, cmd, want) in cases {
        let r = refusal(
            f.gate
                .check(&format!("{P}/cmd/{cmd}"), &signed(n, kid, &b), false, day()),
        );
        assert_eq!(r.code, want, "{kid} {b}: {r:?}");
        assert!(r.reason.contains(kid), "{}", r.reason);
    }
    let _ = t;
}

#[test]
fn stop_and_reload_pass_for_keys_holding_the_right() {
    let mut f = fixture();
    let stop = body(day(), json!({"cmd": "stop", "target": "all"}), json!({}));
    let v = f
        .send(&topic("stop"), 1, "chu-tich-xa", &stop, day())
        .unwrap();
    assert_eq!(
        v.cmd,
        Cmd::Stop {
            target: StopTarget::All
        }
    );
    // truong-thon stops a normal announcement on thon-1 (van-hoa's).
    let ann = announce(day(), json!({}));
    assert!(f
        .send(&topic("announce"), 2, "van-hoa", &ann, day())
        .is_ok());
    let one = body(
        day(),
        json!({"cmd": "stop", "target": id_of(&ann)}),
        json!({}),
    );
    let v = f
        .send(&topic("stop"), 3, "truong-thon", &one, day())
        .unwrap();
    assert_eq!(
        v.cmd,
        Cmd::Stop {
            target: StopTarget::Id(id_of(&ann))
        }
    );
    let reload = body(day(), json!({"cmd": "reload"}), json!({}));
    let v = f
        .send(&topic("reload"), 1, "chu-tich-xa", &reload, day())
        .unwrap();
    assert_eq!(v.cmd, Cmd::Reload);
    // A key may stop only what it could have started.
    let all: Vec<String> = ["thon-1", "thon-2"].map(String::from).to_vec();
    assert!(f.gate.may_stop("truong-thon", Priority::Priority, &all));
    assert!(!f.gate.may_stop("truong-thon", Priority::Emergency, &all));
    assert!(!f.gate.may_stop("van-hoa", Priority::Normal, &all[..1]));
    assert!(f.gate.may_stop("chu-tich-xa", Priority::Emergency, &all));
    assert!(!f.gate.may_stop("ke-la", Priority::Normal, &all));
}

#[test]
fn unknown_zones_are_dropped_and_none_left_is_no_zone() {
    let mut f = fixture();
    let b = announce(day(), json!({"zones": ["xa-khac-1", "xa-khac-2"]}));
    assert_eq!(
        code(
            &mut f,
            &topic("announce"),
            &signed(1, "chu-tich-xa", &b),
            day()
        ),
        "no_zone"
    );
    let b = announce(day(), json!({"zones": []}));
    assert_eq!(
        code(
            &mut f,
            &topic("announce"),
            &signed(1, "chu-tich-xa", &b),
            day()
        ),
        "no_zone"
    );
}

#[test]
fn a_file_must_exist_inside_media_after_symlinks() {
    let mut f = fixture();
    for file in [
        "../secret.wav",
        "link.wav",
        "news/khong-co.mp3",
        "news",
        "/etc/passwd",
    ] {
        let b = announce(day(), json!({"text": null, "file": file}));
        let r = refusal(f.send(&topic("announce"), 1, "chu-tich-xa", &b, day()));
        assert_eq!(r.code, "bad_file", "{file}: {r:?}");
    }
}

/// A file that would chime and then fail, or hold the station for hours,
/// is refused before anything airs.
#[test]
fn a_file_must_be_audio_that_is_not_empty_nor_longer_than_4_hours() {
    let mut f = fixture();
    let media = f.dir.path().join("media");
    std::fs::write(media.join("empty.wav"), b"").unwrap();
    std::fs::write(media.join("notes.mp3"), "not audio\n".repeat(100)).unwrap();
    wav(&media.join("header-only.wav"), 0);
    // A header that claims 5 h (8 kHz mono 16-bit) over 1 s of audio is
    // believed for the 1 s it holds.
    wav(&media.join("forged.wav"), 8_000);
    let mut bytes = std::fs::read(media.join("forged.wav")).unwrap();
    let claimed = 5u32 * 3600 * 8_000 * 2;
    bytes[40..44].copy_from_slice(&claimed.to_le_bytes());
    bytes[4..8].copy_from_slice(&(36 + claimed).to_le_bytes());
    std::fs::write(media.join("forged.wav"), bytes).unwrap();
    for (file, why) in [
        ("empty.wav", "file `empty.wav`: "),
        ("notes.mp3", "not a playable audio file"),
        ("header-only.wav", "holds no audio"),
    ] {
        let b = announce(day(), json!({"text": null, "file": file}));
        let r = refusal(f.send(&topic("announce"), 1, "chu-tich-xa", &b, day()));
        assert_eq!(r.code, "bad_file", "{file}: {r:?}");
        assert!(r.reason.contains(why), "{file}: {}", r.reason);
    }
    let b = announce(day(), json!({"text": null, "file": "forged.wav"}));
    assert!(f
        .send(&topic("announce"), 1, "chu-tich-xa", &b, day())
        .is_ok());
    // A real 4 h 1 min file (a sparse one: silence costs no disk).
    let long = media.join("long.wav");
    wav(&long, 0);
    let frames = (4 * 3600 + 60) * 8_000u32;
    let mut bytes = std::fs::read(&long).unwrap();
    bytes[40..44].copy_from_slice(&(frames * 2).to_le_bytes());
    bytes[4..8].copy_from_slice(&(36 + frames * 2).to_le_bytes());
    std::fs::write(&long, bytes).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&long)
        .unwrap()
        .set_len(44 + frames as u64 * 2)
        .unwrap();
    let b = announce(day(), json!({"text": null, "file": "long.wav"}));
    let r = refusal(f.send(&topic("announce"), 1, "chu-tich-xa", &b, day()));
    assert_eq!(r.code, "bad_file");
    assert!(r.reason.contains("at most 4 h"), "{}", r.reason);
}

/// Fields a signer may set to anything: each is refused with its reason,
/// and no arithmetic on them overflows.
#[test]
fn out_of_range_times_durations_and_texts_are_refused() {
    let mut f = fixture();
    let t = topic("announce");
    let now = day().timestamp();
    // exp far in the future, or before ts.
    for (patch, why) in [
        (json!({"exp": i64::MAX}), "at most 86400 s"),
        (json!({"exp": now + 86_401}), "at most 86400 s"),
    ] {
        let b = announce(day(), patch.clone());
        let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
        assert_eq!(r.code, "malformed", "{patch}: {r:?}");
        assert!(r.reason.contains(why), "{patch}: {}", r.reason);
    }
    let b = announce(day(), json!({"exp": now + 86_400}));
    assert!(f.send(&t, 1, "chu-tich-xa", &b, day()).is_ok());
    let b = announce(day(), json!({ "exp": i64::MIN }));
    let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
    assert_eq!(r.code, "expired");
    assert!(
        r.reason
            .contains(&format!("{} s ago", now.abs_diff(i64::MIN))),
        "{}",
        r.reason
    );
    // ts at the ends of i64: a clock_skew refusal, not a wrapped number.
    let b = announce(day(), json!({"ts": i64::MIN, "exp": i64::MIN + 60}));
    let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
    assert_eq!(r.code, "clock_skew");
    assert!(
        r.reason
            .contains(&format!("{} s behind", now.abs_diff(i64::MIN))),
        "{}",
        r.reason
    );
    let b = announce(day(), json!({"ts": i64::MAX - 60, "exp": i64::MAX}));
    let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
    assert_eq!(r.code, "clock_skew");
    assert!(r.reason.contains("s ahead of"), "{}", r.reason);
    // duration: only for a stream, and then a positive length of at most 4 h.
    for patch in [
        json!({"duration": -1}),
        json!({"duration": "abc"}),
        json!({"duration": 60}),
        json!({"text": null, "file": "news/ban-tin.wav", "duration": 5}),
        json!({"text": null, "stream": "https://radio.example/vov1", "duration": -1}),
        json!({"text": null, "stream": "https://radio.example/vov1", "duration": "abc"}),
        json!({"text": null, "stream": "https://radio.example/vov1", "duration": [1]}),
        json!({"text": null, "stream": "https://radio.example/vov1", "duration": u64::MAX}),
        json!({"text": null, "stream": "https://radio.example/vov1", "duration": "4h1m"}),
    ] {
        let b = announce(day(), patch.clone());
        let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
        assert_eq!(r.code, "malformed", "{patch}: {r:?}");
        assert!(r.reason.contains("duration"), "{patch}: {}", r.reason);
    }
    let b = announce(
        day(),
        json!({"text": null, "stream": "https://radio.example/vov1", "duration": "4h"}),
    );
    assert!(f.send(&t, 1, "chu-tich-xa", &b, day()).is_ok());
    // A text with nothing to speak.
    for text in [
        "\u{200b}\u{200b}\u{200b}",
        "\u{202e}\u{2066} \u{feff}",
        " . ! ",
    ] {
        let b = announce(day(), json!({ "text": text }));
        let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
        assert_eq!(r.code, "malformed", "{text:?}");
        assert!(r.reason.contains("nothing to speak"), "{}", r.reason);
    }
    // A title is cleaned of invisible characters and cut to 80 characters;
    // one with nothing visible gives way to the text's start.
    let b = announce(
        day(),
        json!({"title": format!("\u{202e}Họp\n{}", "á".repeat(200))}),
    );
    let Cmd::Announce(a) = f.send(&t, 1, "chu-tich-xa", &b, day()).unwrap().cmd else {
        panic!()
    };
    assert!(a.title.starts_with("Họpá"), "{}", a.title);
    assert_eq!(a.title.chars().count(), 80);
    let b = announce(day(), json!({"title": "\u{200b}\u{2066}"}));
    let Cmd::Announce(a) = f.send(&t, 1, "chu-tich-xa", &b, day()).unwrap().cmd else {
        panic!()
    };
    assert_eq!(a.title, "Họp dân lúc 8 giờ");
}

#[test]
fn only_emergencies_pass_in_quiet_hours() {
    let mut f = fixture();
    let b = announce(night(), json!({"priority": "priority"}));
    let r = refusal(f.send(&topic("announce"), 1, "chu-tich-xa", &b, night()));
    assert_eq!(r.code, "quiet_hours");
    assert!(r.reason.contains("21:30"), "{}", r.reason);
    let b = announce(night(), json!({"priority": "emergency"}));
    assert!(f
        .send(&topic("announce"), 1, "chu-tich-xa", &b, night())
        .is_ok());
}

#[test]
fn the_rate_limit_counts_verified_commands_per_key() {
    let mut f = fixture_with("", "2/min");
    let t = topic("announce");
    let send = |f: &mut Fixture, n: u8, kid: &str, at: DateTime<Utc>| {
        let b = announce(at, json!({}));
        f.gate.check(&t, &signed(n, kid, &b), false, at)
    };
    // Refused commands do not count.
    let bad = announce(day(), json!({"priority": "emergency"}));
    assert_eq!(
        code(&mut f, &t, &signed(2, "van-hoa", &bad), day()),
        "not_allowed"
    );
    assert!(send(&mut f, 2, "van-hoa", day()).is_ok());
    assert!(send(&mut f, 2, "van-hoa", day()).is_ok());
    let r = refusal(send(&mut f, 2, "van-hoa", day()));
    assert_eq!(r.code, "rate_limited");
    // Another key has its own count; the first recovers after the period.
    assert!(send(&mut f, 1, "chu-tich-xa", day()).is_ok());
    assert!(send(&mut f, 2, "van-hoa", day() + chrono::Duration::seconds(61)).is_ok());
    assert!(send(&mut f, 2, "van-hoa", day() + chrono::Duration::seconds(61)).is_ok());
    // A rate-limited command was not remembered: the same one passes later.
    let b = announce(day() + chrono::Duration::seconds(62), json!({}));
    let m = signed(2, "van-hoa", &b);
    let at = day() + chrono::Duration::seconds(62);
    assert_eq!(
        refusal(f.gate.check(&t, &m, false, at)).code,
        "rate_limited"
    );
    assert!(f
        .gate
        .check(&t, &m, false, at + chrono::Duration::seconds(60))
        .is_ok());
    assert_eq!(
        code(&mut f, &t, &m, at + chrono::Duration::seconds(61)),
        "replay"
    );
}

#[test]
fn a_revoked_key_is_refused_from_the_reload_on() {
    let mut f = fixture_with(
        &format!(
            "    du-phong:\n      public_key: \"{}\"\n      may: [normal]\n",
            pk(4)
        ),
        "10/min",
    );
    let t = topic("announce");
    let b = announce(day(), json!({}));
    assert!(f.send(&t, 4, "du-phong", &b, day()).is_ok());
    let without = station_yaml(f.dir.path(), "", "10/min");
    f.gate.reload(&without);
    let b = announce(day(), json!({}));
    assert_eq!(
        code(&mut f, &t, &signed(4, "du-phong", &b), day()),
        "unknown_key"
    );
}

#[test]
fn acks_go_to_the_id_or_invalid_with_qos1_not_retained() {
    let a = acks(
        P,
        "au-lau",
        Some("ann-12345678"),
        None,
        "accepted",
        None,
        None,
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].topic, "loa/test/ack/ann-12345678");
    assert_eq!((a[0].qos, a[0].retain), (1, false));
    let v: Value = serde_json::from_slice(&a[0].payload).unwrap();
    assert_eq!(
        v,
        json!({"id": "ann-12345678", "station": "au-lau", "status": "accepted"})
    );
    let a = acks(
        P,
        "au-lau",
        None,
        Some("tuyen-hoa"),
        "rejected",
        Some("malformed"),
        Some("not JSON"),
    );
    let topics: Vec<&str> = a.iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(
        topics,
        ["loa/test/ack/invalid", "loa/group/tuyen-hoa/ack/invalid"]
    );
    let v: Value = serde_json::from_slice(&a[0].payload).unwrap();
    assert_eq!(
        v,
        json!({"id": null, "station": "au-lau", "status": "rejected", "code": "malformed", "reason": "not JSON"})
    );
    // An id that could be a topic wildcard never becomes a topic level.
    let a = acks(
        P,
        "au-lau",
        Some("a/#/b+cdefgh"),
        None,
        "rejected",
        None,
        None,
    );
    assert_eq!(a[0].topic, "loa/test/ack/invalid");
}

/// Before the signature holds, the id is whoever-published-it's choice: the
/// ack goes to `P/ack/invalid` (the id only in its payload); once it holds,
/// to `P/ack/<id>`.
#[test]
fn an_unverified_refusal_is_acked_on_invalid_only() {
    let mut f = fixture();
    let t = topic("announce");
    let g = "loa/group/tuyen-hoa/cmd/announce";
    let mut b = announce(day(), json!({"id": "ke-gia-mao-01"}));
    for (topic, n, kid, code) in [
        (t.as_str(), 4, "chu-tich-xa", "bad_signature"),
        (t.as_str(), 1, "ai-do", "unknown_key"),
        (g, 4, "chu-tich-xa", "bad_signature"),
    ] {
        if topic == g {
            b = b.replace("station:au-lau", "group:tuyen-hoa");
        }
        let r = refusal(f.gate.check(topic, &signed(n, kid, &b), false, day()));
        assert_eq!((r.code, r.verified), (code, false));
        let acks = r.acks(P, "au-lau");
        let topics: Vec<&str> = acks.iter().map(|p| p.topic.as_str()).collect();
        let want: &[&str] = if topic == g {
            &["loa/test/ack/invalid", "loa/group/tuyen-hoa/ack/invalid"]
        } else {
            &["loa/test/ack/invalid"]
        };
        assert_eq!(topics, want);
        let v: Value = serde_json::from_slice(&acks[0].payload).unwrap();
        assert_eq!(v["id"], "ke-gia-mao-01");
        assert_eq!(v["code"], code);
    }
    // Signed, then refused: the ack goes to its id.
    let b = announce(day(), json!({"zones": ["thon-9"]}));
    let r = refusal(f.send(&t, 1, "chu-tich-xa", &b, day()));
    assert_eq!((r.code, r.verified), ("no_zone", true));
    assert_eq!(
        r.acks(P, "au-lau")[0].topic,
        format!("loa/test/ack/{}", id_of(&b))
    );
}

#[test]
fn sign_makes_an_envelope_whose_signature_verifies_with_the_public_key() {
    let env: Value = serde_json::from_str(&sign(&key(1), "chu-tich-xa", "{\"v\":1}")).unwrap();
    assert_eq!(env["kid"], "chu-tich-xa");
    assert_eq!(env["body"], "{\"v\":1}");
    let sig = base64::engine::general_purpose::STANDARD
        .decode(env["sig"].as_str().unwrap())
        .unwrap();
    let sig = Signature::from_bytes(&sig.try_into().unwrap());
    key(1)
        .verifying_key()
        .verify_strict(b"{\"v\":1}", &sig)
        .unwrap();
}

#[test]
fn a_key_may_stop_only_what_it_could_have_started() {
    let mut f = fixture();
    let stop = |f: &mut Fixture, n: u8, kid: &str, target: &str| {
        let b = body(day(), json!({"cmd": "stop", "target": target}), json!({}));
        f.gate
            .check(&topic("stop"), &signed(n, kid, &b), false, day())
    };
    // An emergency from the chairman: truong-thon lacks that level.
    let alert = announce(day(), json!({"priority": "emergency"}));
    assert!(f
        .send(&topic("announce"), 1, "chu-tich-xa", &alert, day())
        .is_ok());
    let r = refusal(stop(&mut f, 3, "truong-thon", &id_of(&alert)));
    assert_eq!(r.code, "not_allowed");
    assert!(
        r.reason
            .contains("emergency announcement on thon-1, thon-2, thon-3"),
        "{}",
        r.reason
    );
    // An id the gate never let through could be anything.
    let r = refusal(stop(&mut f, 3, "truong-thon", "local-12345678"));
    assert_eq!(r.code, "not_allowed");
    assert!(
        r.reason.contains("did not receive remotely"),
        "{}",
        r.reason
    );
    // The chairman may stop both.
    assert!(stop(&mut f, 1, "chu-tich-xa", &id_of(&alert)).is_ok());
    assert!(stop(&mut f, 1, "chu-tich-xa", "local-12345678").is_ok());
}

/// The hostile corpus (tests/corpus/remote.tsv), signed with a key that may
/// do everything: each body is refused with its code and a reason naming
/// the field, and nothing of it is remembered (the same id may come again).
#[test]
fn the_hostile_corpus_is_refused_field_by_field() {
    let mut f = fixture();
    let brief = loa_e2e::corpus::brief;
    let cases = loa_e2e::corpus::remote();
    assert!(cases.len() > 50);
    for c in cases.iter().filter(|c| c.code != "not_allowed") {
        let id = fresh_id();
        let body = c.body("au-lau", &id, day().timestamp());
        let r = refusal(f.send(&topic(c.leaf()), 1, "chu-tich-xa", &body, day()));
        assert_eq!(r.code, c.code, "{}: {}", brief(&c.patch), r.reason);
        assert!(
            r.reason.contains(&c.needle),
            "{}: {}",
            brief(&c.patch),
            r.reason
        );
        assert!(!r.reason.contains('\n'), "{}", r.reason);
        assert!(r.reason.chars().count() <= 301, "{}", r.reason);
    }
}

#[test]
fn a_text_may_name_a_voice_the_engine_has_and_no_other() {
    let mut f = fixture();
    let b = announce(day(), json!({"voice": "vi-vn-x-south"}));
    let v = f
        .send(&topic("announce"), 1, "chu-tich-xa", &b, day())
        .unwrap();
    let Cmd::Announce(a) = v.cmd else {
        panic!("{:?}", v.cmd)
    };
    assert_eq!(a.voice.as_deref(), Some("vi-vn-x-south"));

    let b = announce(day(), json!({"voice": "vi-vn-x-sout"}));
    let r = refusal(f.send(&topic("announce"), 1, "chu-tich-xa", &b, day()));
    assert_eq!(r.code, "bad_voice", "{}", r.reason);
    assert!(
        r.reason.contains("did you mean `vi-vn-x-south`?"),
        "{}",
        r.reason
    );

    let b = announce(day(), json!({"voice": "--help"}));
    assert_eq!(
        refusal(f.send(&topic("announce"), 1, "chu-tich-xa", &b, day())).code,
        "malformed"
    );
    let b = announce(
        day(),
        json!({"text": null, "file": "news/ban-tin.wav", "voice": "vi"}),
    );
    let r = refusal(f.send(&topic("announce"), 1, "chu-tich-xa", &b, day()));
    assert!(
        r.reason.contains("`voice` is for a text only"),
        "{}",
        r.reason
    );
}
