//! The Icecast output with the real binary and a real Icecast 2 (Debian's
//! icecast2, started by the test): `loa run` airs tones to a mount, a
//! listener on the mount hears them by frequency, in order, and stays
//! connected through the silence between programs; the title reaches the
//! server's status; a wrong source password is one clear log line, an
//! output fault (`loa status`, the MQTT status) and `loa doctor`'s failure; a
//! server killed and restarted mid-program is reconnected and the row tells
//! the gap; while the server is down, the office's sound card (a PulseAudio
//! null sink, recorded) stays ok and starts a program aired in the outage
//! exactly as far (to 3 ms) after the one before as the schedule says.

use std::path::Path;
use std::time::Duration;

use loa_e2e::{
    airtime_rows, decode_mp3, local_in, station_dir, tones_heard, wait_rows, wait_until,
    AirtimeRow, Daemon, Icecast, Pulse,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_loa");
const MOUNT: &str = "/loa.mp3";

fn station(port: u16) -> String {
    station_with(port, "", "")
}

/// The station with `settings` added to the mount's address, and `more`
/// outputs and zones (YAML lines under each).
fn station_with(port: u16, settings: &str, more: &str) -> String {
    let (more_outputs, more_zones) = more.split_once('|').unwrap_or(("", ""));
    format!(
        r#"station:
  id: e2e
  name: "Đài thử nghiệm"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  clusters: "icecast://source@127.0.0.1:{port}{MOUNT}?password_file=icecast.pass{settings}"
{more_outputs}zones:
  thon-1: {{ output: clusters }}
{more_zones}
policy:
  loudness: null
  late_start: join
"#
    )
}

/// A program `id`, titled `title`, at `at`: one tone.
fn program(id: &str, title: &str, at: &str, hz: u32, secs: u32) -> String {
    format!(
        "  - id: {id}\n    title: \"{title}\"\n    at: \"{at}\"\n    zones: all\n    items:\n      - tone: {{ hz: {hz}, for: {secs}s }}\n"
    )
}

/// A station with the office's output `office` (zone office) beside the
/// clusters' mount, airing a 440 Hz tone "a" at `at.0` then an 880 Hz
/// tone "b" at `at.1`, each `secs` long, to all zones.
fn office_and_clusters(
    ice: &Icecast,
    office: &str,
    at: (&str, &str),
    secs: u32,
) -> tempfile::TempDir {
    let schedule = format!(
        "programs:\n{}{}",
        program("a", "Bản tin sáng", at.0, 440, secs),
        program("b", "Thông báo", at.1, 880, secs)
    );
    let more = format!("  office: \"{office}\"\n|  office: {{ output: office }}\n");
    station_dir(&station_with(ice.port, "", &more), Some(&schedule))
}

fn status(dir: &Path) -> Value {
    loa_e2e::status_json(BIN, dir)
}

/// What a listener heard, tone by tone: consecutive windows of the same
/// tone (or of silence) count once; the silence before the first tone is
/// left out.
fn heard_in_order(bytes: &[u8], candidates: &[f64]) -> Vec<Option<f64>> {
    let (samples, rate) = decode_mp3(bytes);
    in_order(&samples, rate, candidates)
}

fn in_order(samples: &[f32], rate: u32, candidates: &[f64]) -> Vec<Option<f64>> {
    let window = rate as usize / 10;
    let mut order: Vec<Option<f64>> = Vec::new();
    for t in tones_heard(samples, rate, window, candidates) {
        if order.last() != Some(&t) && !(order.is_empty() && t.is_none()) {
            order.push(t);
        }
    }
    order
}

/// The WAV file a `wav:` output wrote, mono.
fn wav_samples(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).expect("a readable WAV");
    let samples: Vec<i16> = r.samples::<i16>().map_while(Result::ok).collect();
    samples
        .chunks_exact(2)
        .map(|f| (f[0] as f32 + f[1] as f32) / 65536.0)
        .collect()
}

/// Two outputs at once: the office's sound card (a WAV file here) and the
/// mount the clusters play.
#[test]
fn tones_air_to_the_mount_in_order_and_silence_keeps_the_listener_on() {
    let ice = Icecast::start("hackme-7");
    let (at_a, _) = local_in(6);
    let (at_b, _) = local_in(10);
    let dir = office_and_clusters(&ice, "wav:office.wav", (&at_a, &at_b), 2);
    ice.password_file(dir.path(), "hackme-7");
    let d = Daemon::start(BIN, dir.path(), &[]);
    // Loa is on the mount before anything airs (silence), and a receiver
    // tunes in then.
    wait_until(
        "Loa on the mount",
        Duration::from_secs(3),
        Duration::from_millis(100),
        || match ice.mount_status(MOUNT) {
            Value::Null => Err("no source"),
            _ => Ok(()),
        },
    );
    let listener = ice.listen(MOUNT);
    wait_until(
        "the title of program a in the server's status",
        Duration::from_secs(8),
        Duration::from_millis(100),
        || {
            let s = ice.mount_status(MOUNT);
            match s["title"].as_str() {
                Some("Bản tin sáng") => Ok(()),
                _ => Err(s),
            }
        },
    );
    let rows = wait_rows(
        dir.path(),
        "both programs aired",
        Duration::from_secs(14),
        |r| r.iter().filter(|r| r.outcome == "completed").count() == 2,
    );
    assert!(rows.iter().all(|r| r.detail.is_none()), "{rows:#?}");
    let s = ice.mount_status(MOUNT);
    assert_eq!(s["title"].as_str(), Some("Thông báo"), "{s}");
    // The tail of program b through the encoder and the server.
    wait_until(
        "program b's tone and the silence after it at the listener",
        Duration::from_secs(3),
        Duration::from_millis(200),
        || {
            let order = heard_in_order(&listener.bytes(), &[440.0, 880.0]);
            if order.ends_with(&[Some(880.0), None]) {
                Ok(order)
            } else {
                Err(order)
            }
        },
    );
    let order = heard_in_order(&listener.bytes(), &[440.0, 880.0]);
    assert_eq!(
        order,
        vec![Some(440.0), None, Some(880.0), None],
        "a, the silence between, b, silence"
    );
    assert_eq!(listener.connections(), 1, "the listener never dropped");
    let st = status(dir.path());
    assert_eq!(st["outputs"]["clusters"]["state"], "ok", "{st}");
    assert_eq!(st["outputs"]["office"]["state"], "ok", "{st}");
    let (exit, _) = d.stop();
    assert!(exit.success(), "{exit:?}");
    let wav = in_order(
        &wav_samples(&dir.path().join("office.wav")),
        48_000,
        &[440.0, 880.0],
    );
    assert_eq!(
        wav,
        vec![Some(440.0), None, Some(880.0), None],
        "the office heard the same"
    );
}

/// `idle=disconnect`: Loa is on the mount only while something airs.
#[test]
fn idle_disconnect_leaves_the_mount_between_programs() {
    let ice = Icecast::start("hackme-8");
    let (at, _) = local_in(6);
    let schedule = format!("programs:\n{}", program("a", "Tin", &at, 440, 2));
    let dir = station_dir(
        &station_with(ice.port, "&idle=disconnect", ""),
        Some(&schedule),
    );
    ice.password_file(dir.path(), "hackme-8");
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("left the mount", 10);
    let off = || match ice.mount_status(MOUNT) {
        Value::Null => Ok(()),
        s => Err(s),
    };
    wait_until(
        "off the mount while idle",
        Duration::from_secs(2),
        Duration::from_millis(100),
        off,
    );
    let listener = ice.listen(MOUNT);
    wait_rows(
        dir.path(),
        "the program aired",
        Duration::from_secs(8),
        |r| r.iter().any(|r| r.outcome == "completed"),
    );
    wait_until(
        "off the mount again",
        Duration::from_secs(2),
        Duration::from_millis(100),
        off,
    );
    let order = heard_in_order(&listener.bytes(), &[440.0, 880.0]);
    assert_eq!(order.first(), Some(&Some(440.0)), "{order:?}");
    let log = d.log_text();
    assert!(!log.contains("ERROR"), "leaving is no fault:\n{log}");
}

#[test]
fn a_wrong_source_password_is_one_clear_line_a_fault_and_doctors_failure() {
    let ice = Icecast::start("right-one");
    let broker = loa_e2e::Broker::start();
    let yaml = format!(
        "{}mqtt: {{ url: \"{}\" }}\n",
        station(ice.port),
        broker.url()
    );
    let dir = station_dir(&yaml, Some("programs: []\n"));
    ice.password_file(dir.path(), "wrong-one");
    let statuses = broker.subscribe("loa/e2e/status");

    let doctor = loa_e2e::loa(BIN, &["doctor", "--config", dir.path().to_str().unwrap()]);
    let text = loa_e2e::stdout(&doctor);
    let line = text
        .lines()
        .find(|l| l.contains("output clusters"))
        .unwrap_or_else(|| panic!("doctor names the output:\n{text}"));
    assert!(
        line.contains("refused the source password") && line.contains("icecast.pass"),
        "{line}"
    );
    assert_ne!(doctor.status.code(), Some(0), "{text}");
    // A server that is not there: one line too.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = station_dir(&station(nowhere), Some("programs: []\n"));
    ice.password_file(gone.path(), "right-one");
    let doctor = loa_e2e::loa(BIN, &["doctor", "--config", gone.path().to_str().unwrap()]);
    let text = loa_e2e::stdout(&doctor);
    let line = text
        .lines()
        .find(|l| l.contains("output clusters"))
        .unwrap_or_else(|| panic!("doctor names the output:\n{text}"));
    assert!(
        line.contains(&format!(
            "cannot reach the Icecast server 127.0.0.1:{nowhere}"
        )),
        "{line}"
    );

    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("refused the source password", 10);
    let st = wait_until(
        "the fault in loa status",
        Duration::from_secs(3),
        Duration::from_millis(100),
        || {
            let st = status(dir.path());
            if st["outputs"]["clusters"]["state"] == "failed" {
                Ok(st)
            } else {
                Err(st)
            }
        },
    );
    let reason = st["outputs"]["clusters"]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("refused the source password"), "{st}");
    // The same fault in the retained MQTT status.
    statuses.wait_for("the fault in P/status", 10, |m| {
        m.iter().any(|(_, _, p)| {
            serde_json::from_str::<Value>(p).is_ok_and(|v| {
                v["outputs"]["clusters"]["state"] == "failed"
                    && v["outputs"]["clusters"]["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("refused the source password"))
            })
        })
    });
    // Retried with backoff (1 s, 2 s...), said once.
    std::thread::sleep(Duration::from_secs(4));
    let log = d.log_text();
    assert_eq!(
        log.matches("refused the source password").count(),
        // The error line, and the scheduler's fault line.
        2,
        "{log}"
    );
    assert_eq!(ice.mount_status(MOUNT), Value::Null);
}

#[test]
fn a_server_killed_mid_program_is_reconnected_and_the_row_tells_the_gap() {
    let mut ice = Icecast::start("hackme-9");
    let (at, _) = local_in(5);
    let schedule = format!("programs:\n{}", program("long", "Dài", &at, 440, 14));
    let dir = station_dir(&station(ice.port), Some(&schedule));
    ice.password_file(dir.path(), "hackme-9");
    let d = Daemon::start(BIN, dir.path(), &[]);
    wait_rows(
        dir.path(),
        "the program airs",
        Duration::from_secs(8),
        |r| r.iter().any(|r| r.outcome == "airing"),
    );
    let before = ice.listen(MOUNT);
    wait_until(
        "the tone at a listener",
        Duration::from_secs(3),
        Duration::from_millis(200),
        || {
            let order = heard_in_order(&before.bytes(), &[440.0, 880.0]);
            if order.contains(&Some(440.0)) {
                Ok(())
            } else {
                Err(order)
            }
        },
    );
    ice.stop();
    d.wait_for_log("went away", 10);
    std::thread::sleep(Duration::from_secs(2));
    ice.start_again();
    d.wait_for_log("back on the mount", 10);
    let after = ice.listen(MOUNT);
    let rows = wait_rows(
        dir.path(),
        "the program ended",
        Duration::from_secs(14),
        |r| r.iter().any(|r| r.outcome == "completed"),
    );
    let row = rows.iter().find(|r| r.outcome == "completed").unwrap();
    let detail = row.detail.as_deref().unwrap_or("");
    assert!(
        detail.starts_with("not heard on output clusters from ")
            && detail.contains("Icecast server"),
        "{row:#?}"
    );
    let order = heard_in_order(&after.bytes(), &[440.0, 880.0]);
    assert_eq!(
        order.first(),
        Some(&Some(440.0)),
        "the program goes on after: {order:?}"
    );
    let st = status(dir.path());
    assert_eq!(st["outputs"]["clusters"]["state"], "ok", "{st}");
}

/// Where each sound in `samples` starts: the first sample louder than `thr`
/// after at least half a second below it (or after the start).
fn onsets(samples: &[f32], thr: f32) -> Vec<usize> {
    let mut quiet = usize::MAX;
    let mut found = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if s.abs() > thr {
            if quiet >= 24_000 {
                found.push(i);
            }
            quiet = 0;
        } else {
            quiet = quiet.saturating_add(1);
        }
    }
    found
}

/// An Icecast outage is the clusters' alone: the office's sound card (a
/// PulseAudio null sink, recorded) starts b as many frames after a as the
/// schedule puts between them although the server died in between, its
/// output stays ok while the clusters' is a fault, and only b's row tells
/// the gap.
#[test]
fn the_sound_card_starts_on_time_while_the_icecast_server_is_down() {
    let mut ice = Icecast::start("hackme-10");
    let (at_a, ms_a) = local_in(7);
    let (at_b, ms_b) = local_in(15);
    let dir = office_and_clusters(&ice, "device:default", (&at_a, &at_b), 1);
    ice.password_file(dir.path(), "hackme-10");
    let pulse = Pulse::start(&dir.path().join("pulse"));
    // From before a to after b, one unbroken stream of the card's samples.
    let recording = pulse.record(&pulse.dir.join("office.f32"));
    let env = pulse.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let d = Daemon::start_env(BIN, dir.path(), &[], &env);
    let program_row = |rows: &[AirtimeRow], id: &str| {
        rows.iter()
            .position(|r| r.program_id.as_deref() == Some(id))
            .map(|i| (i, rows[i].outcome.clone(), rows[i].detail.clone()))
    };
    wait_rows(dir.path(), "program a aired", Duration::from_secs(9), |r| {
        program_row(r, "a").is_some_and(|(_, outcome, _)| outcome == "completed")
    });
    ice.stop();
    d.wait_for_log("went away", 10);
    let rows = airtime_rows(dir.path());
    assert_eq!(
        program_row(&rows, "b"),
        None,
        "the server is gone before b starts: {rows:#?}"
    );
    let output_states = |st: &Value| {
        (
            st["outputs"]["clusters"]["state"].clone(),
            st["outputs"]["office"]["state"].clone(),
        )
    };
    let st = wait_until(
        "the clusters' fault in loa status",
        Duration::from_secs(3),
        Duration::from_millis(100),
        || {
            let st = status(dir.path());
            if st["outputs"]["clusters"]["state"] == "failed" {
                Ok(st)
            } else {
                Err(st)
            }
        },
    );
    assert_eq!(output_states(&st), ("failed".into(), "ok".into()), "{st}");
    let rows = wait_rows(
        dir.path(),
        "program b aired",
        Duration::from_secs(15),
        |r| program_row(r, "b").is_some_and(|(_, outcome, _)| outcome == "completed"),
    );
    let st = status(dir.path());
    assert_eq!(
        output_states(&st),
        ("failed".into(), "ok".into()),
        "still down after b: {st}"
    );
    // The end of b through PulseAudio to the recorder.
    std::thread::sleep(Duration::from_millis(500));
    let heard = recording.stop();

    let (a, b) = (program_row(&rows, "a"), program_row(&rows, "b"));
    let (Some((ia, _, detail_a)), Some((ib, _, detail_b))) = (a, b) else {
        panic!("{rows:#?}");
    };
    assert!(ia < ib, "{rows:#?}");
    assert_eq!(detail_a, None, "a aired before the outage: {rows:#?}");
    let detail_b = detail_b.unwrap_or_default();
    assert!(
        detail_b.starts_with("not heard on output clusters from ")
            && detail_b.contains(" to the end ")
            && detail_b.contains("Icecast server"),
        "{rows:#?}"
    );
    let starts = onsets(&heard, 0.01);
    assert_eq!(starts.len(), 2, "two sounds on the card: {starts:?}");
    let (a, b) = (starts[0], starts[1]);
    let tone_at = |i: usize| {
        let first = heard.get(i..i + 4_800).unwrap_or_default();
        tones_heard(first, 48_000, 4_800, &[440.0, 880.0])
    };
    assert_eq!(tone_at(a), [Some(440.0)], "a first");
    assert_eq!(tone_at(b), [Some(880.0)], "then b");
    let apart_ms = (b - a) as f64 / 48.0;
    let scheduled_ms = (ms_b - ms_a) as f64;
    assert!(
        (apart_ms - scheduled_ms).abs() <= 3.0,
        "b started {apart_ms:.2} ms after a on the card; the schedule puts {scheduled_ms} ms between them"
    );

    ice.start_again();
    d.wait_for_log("back on the mount", 10);
    wait_until(
        "both outputs ok in loa status",
        Duration::from_secs(3),
        Duration::from_millis(100),
        || {
            let st = status(dir.path());
            if output_states(&st) == ("ok".into(), "ok".into()) {
                Ok(())
            } else {
                Err(st)
            }
        },
    );
}

#[test]
fn a_missing_password_file_is_a_configuration_error_naming_it() {
    let dir = station_dir(&station(8000), Some("programs: []\n"));
    let out = loa_e2e::loa(BIN, &["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!("{}{}", loa_e2e::stdout(&out), loa_e2e::stderr(&out));
    let line = text
        .lines()
        .find(|l| l.contains("icecast.pass"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("station.yaml:7:") && line.contains("write the Icecast source password"),
        "{line}"
    );
}
