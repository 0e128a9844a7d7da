//! The operator's console against the real binary: `loa now`, `loa stop`
//! and `loa status` through the daemon's control socket, with a WAV output,
//! a real mosquitto (relays, boards), and a PulseAudio null sink whose
//! monitor serves as the microphone for `--live`. Rows say trigger `cli`
//! and the Unix user; a user outside group loa is refused; without a daemon
//! each command says so in one line and exits 1.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use loa_e2e::{
    airtime_rows as rows, loa, station_dir, stderr, stdout, Aired, AirtimeRow, Broker, Daemon,
    Pulse,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A station whose one output is `DIR/out.wav`.
fn station(extra: &str) -> tempfile::TempDir {
    station_dir(
        &format!(
            r#"station: {{ id: e2e, name: "Đài thử", timezone: Asia/Ho_Chi_Minh }}
paths: {{ media: media, state: state }}
outputs: {{ main: "wav:out.wav" }}
{extra}"#
        ),
        None,
    )
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--config", dir.to_str().unwrap()]);
    loa(BIN, &all)
}

fn status(dir: &Path) -> Value {
    let out = run(dir, &["status", "--format", "json"]);
    assert!(out.status.success(), "loa status: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("status is JSON")
}

/// Polls `loa status` until `pred` holds (usually within `secs`; waited for
/// up to `loa_e2e::patience` of it).
fn wait_status(dir: &Path, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loa_e2e::wait_until(
        what,
        Duration::from_secs(secs),
        Duration::from_millis(200),
        || {
            let s = status(dir);
            if pred(&s) {
                Ok(s)
            } else {
                Err(s)
            }
        },
    )
}

fn ms_of(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn no_announcements(s: &Value) -> bool {
    s["announcements"].as_array().is_some_and(|a| a.is_empty())
}

/// The id `loa now` printed (`... on air: ID `title` ...`).
fn printed_id(out: &Output) -> String {
    stdout(out)
        .split_whitespace()
        .find(|w| w.starts_with("cli-"))
        .unwrap_or_else(|| panic!("no id in: {}", stdout(out)))
        .to_string()
}

/// A 48 kHz stereo sine of `secs` seconds at amplitude 0.5.
fn tone(path: &Path, hz: f32, secs: u32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..48_000 * secs {
        let v = (i as f32 * hz * std::f32::consts::TAU / 48_000.0).sin() * 0.5;
        let s = (v * 32767.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Share of the 20 ms windows in [from_ms, to_ms) whose peak passes `thr`
/// (a sine's samples pass through zero; its windows do not).
fn loud_share(a: &Aired, from_ms: i64, to_ms: i64, thr: f32) -> f64 {
    let idx = |ms: i64| (((ms - a.started_ms).max(0) as f64) * a.rate as f64 / 1000.0) as usize;
    let (i, j) = (idx(from_ms), idx(to_ms).min(a.level.len()));
    assert!(
        j > i,
        "the WAV does not reach {to_ms} (it has {} frames)",
        a.level.len()
    );
    let windows: Vec<&[f32]> = a.level[i..j].chunks(a.rate as usize / 50).collect();
    let loud = windows
        .iter()
        .filter(|w| w.iter().copied().fold(0.0, f32::max) > thr)
        .count();
    loud as f64 / windows.len() as f64
}

#[test]
fn now_live_stop_and_status_through_the_control_socket() {
    let broker = Broker::start();
    let dir = station(&format!(
        r#"zones:
  thon-1: {{ output: main, relay: {{ preset: tasmota, topic: amp1, channel: 1 }}, preroll: 1s, hold: 0s }}
  thon-2: {{ output: main }}
boards:
  cong: {{ preset: awtrix, topic: awtrix_cong, charset: ascii, show_now_playing: true }}
mqtt: {{ url: {} }}
policy: {{ loudness: null }}
"#,
        broker.url()
    ));
    let d = dir.path();
    let pulse = Pulse::start(&d.join("pulse"));
    let _relay = broker.fake_device("cmnd/amp1/POWER1", "stat/amp1/POWER1");
    let relay_cmds = broker.subscribe("cmnd/amp1/#");
    let board = broker.subscribe("awtrix_cong/#");
    let env = pulse.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = Daemon::start_env(BIN, d, &[], &env);
    daemon.wait_for_log("on air", 20);
    let user = me();

    // Status before anything: the MQTT document's keys and the console's.
    let s = wait_status(d, 15, "the broker link", |s| {
        s["link"]["state"] == "connected"
    });
    assert_eq!(s["state"], "online");
    assert_eq!(s["now"], Value::Null);
    assert_eq!(s["zones"]["thon-1"], "off");
    assert_eq!(s["outputs"]["main"]["state"], "ok");
    assert_eq!(s["config"]["event"], "start");
    assert_eq!(s["config"]["result"], "ok");
    assert_eq!(s["station"]["id"], "e2e");
    // The same document as the retained MQTT status.
    let retained = broker.subscribe("loa/e2e/status");
    retained.wait_for("P/status equal to loa status", 10, |m| {
        m.last()
            .and_then(|(_, _, p)| serde_json::from_str::<Value>(p).ok())
            .is_some_and(|doc| doc == status(d))
    });
    let text = stdout(&run(d, &["status"]));
    assert!(text.contains("On air:    nothing"), "{text}");
    assert!(
        text.contains("MQTT:      connected to mqtt://127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("Outputs:   main (wav:"), "{text}");

    // A notice read aloud on thon-1: relay on, preroll, chime, speech.
    let asked = now_ms();
    let out = run(
        d,
        &[
            "now",
            "--text",
            "Mời bà con thôn một đến nhà văn hoá họp lúc mười chín giờ.",
            "--zones",
            "thon-1",
            "--priority",
            "priority",
            "--title",
            "Họp dân thôn 1",
        ],
    );
    assert!(out.status.success(), "loa now --text: {}", stderr(&out));
    assert!(stdout(&out).starts_with("on air: cli-"), "{}", stdout(&out));
    let tts_id = printed_id(&out);
    let s = status(d);
    assert_eq!(s["now"]["program"], tts_id.as_str());
    assert_eq!(s["announcements"][0]["requested_by"], user.as_str());
    assert_eq!(s["announcements"][0]["trigger"], "cli");
    assert_eq!(s["zones"]["thon-1"], "on");
    board.wait_for("the title on the board", 10, |m| {
        m.iter().any(|(_, _, p)| p.contains("Hop dan thon 1"))
    });
    wait_status(d, 30, "the notice's end", no_announcements);
    let on = relay_cmds
        .messages()
        .iter()
        .find(|(_, _, p)| p == "ON")
        .map(|(t, _, _)| (t * 1000.0) as i64)
        .expect("the relay was switched on");
    assert!(on >= asked - 50, "relay on before `loa now` ran");

    // The microphone: a 440 Hz tone played into the sink, captured from its
    // monitor, aired on thon-2 until `loa stop`.
    tone(&d.join("mic.wav"), 440.0, 40);
    let mut mic = pulse.play(&d.join("mic.wav"));
    std::thread::sleep(Duration::from_millis(500));
    let live_asked = now_ms();
    let out = run(d, &["now", "--live", "loa_monitor", "--zones", "thon-2"]);
    assert!(out.status.success(), "loa now --live: {}", stderr(&out));
    assert!(
        stdout(&out).starts_with("live on air: cli-"),
        "{}",
        stdout(&out)
    );
    let live_id = printed_id(&out);
    std::thread::sleep(Duration::from_secs(3));
    let text = stdout(&run(d, &["status"]));
    assert!(
        text.contains(&format!(
            "live     {live_id} `Phát trực tiếp` normal, zones thon-2, by {user} (cli)"
        )),
        "{text}"
    );
    let out = run(d, &["stop", &live_id]);
    assert!(out.status.success(), "loa stop: {}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("stopped announcement {live_id}")),
        "{}",
        stdout(&out)
    );
    wait_status(d, 10, "the live session's end", no_announcements);
    let live_ended = now_ms();
    let _ = mic.kill();
    let _ = mic.wait();

    // A bad schedule file: refused, its errors in the status, the last good
    // configuration on air. Then a good one with a program starting in 4 s.
    std::fs::write(
        d.join("schedules/a.yaml"),
        "programs:\n  - id: x\n    tittle: y\n",
    )
    .unwrap();
    let s = wait_status(d, 10, "the refused reload", |s| {
        s["config"]["result"] == "refused"
    });
    let errors = s["config"]["errors"].to_string();
    assert!(errors.contains("a.yaml:3:5"), "{errors}");
    let text = stdout(&run(d, &["status"]));
    assert!(
        text.contains("refused (") && text.contains("a.yaml:3:5"),
        "{text}"
    );
    let at = (Utc::now() + TimeDelta::seconds(4)).with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    std::fs::write(
        d.join("schedules/a.yaml"),
        format!(
            "programs:\n  - id: nhac\n    at: \"{}\"\n    zones: all\n    duration: 60s\n    items:\n      - tone: {{ hz: 330, for: 60s }}\n",
            at.format("%H:%M:%S")
        ),
    )
    .unwrap();
    wait_status(d, 10, "the good reload", |s| {
        s["config"]["result"] == "ok" && s["config"]["event"] == "reload"
    });
    wait_status(d, 15, "the scheduled program", |s| {
        s["now"]["program"] == "nhac"
    });
    std::thread::sleep(Duration::from_secs(1));
    let out = run(d, &["stop"]);
    assert!(stdout(&out).contains("nothing to stop"), "{}", stdout(&out));
    let out = run(d, &["stop", "all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("stopped program nhac"),
        "{}",
        stdout(&out)
    );
    wait_status(d, 10, "silence after stop all", |s| s["now"].is_null());

    let (st, _) = daemon.stop();
    assert!(st.success());

    // Without a daemon: one line, exit 1.
    for args in [&["status"][..], &["stop", "all"], &["now", "--text", "x"]] {
        let out = run(d, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("no Loa daemon is running"), "{err}");
    }

    // The rows: trigger cli, requested_by the user, as aired.
    let rows = rows(d);
    let tts = rows
        .iter()
        .find(|r| r.source_kind == "tts")
        .expect("a tts row");
    assert_eq!(
        (
            tts.trigger.as_str(),
            tts.requested_by.as_deref(),
            tts.zones.as_str(),
            tts.priority.as_str(),
            tts.outcome.as_str()
        ),
        (
            "cli",
            Some(user.as_str()),
            "thon-1",
            "priority",
            "completed"
        )
    );
    let chimes = rows
        .iter()
        .filter(|r| r.source_kind == "chime" && r.trigger == "cli")
        .count();
    assert_eq!(chimes, 2, "{rows:#?}");
    let live = rows
        .iter()
        .find(|r| r.source_kind == "live")
        .expect("a live row");
    assert_eq!(live.source, "loa_monitor");
    assert_eq!(live.trigger, "cli");
    assert_eq!(live.requested_by.as_deref(), Some(user.as_str()));
    assert_eq!(live.zones, "thon-2");
    assert_eq!(live.outcome, "cut");
    assert_eq!(
        live.detail.as_deref(),
        Some(format!("stopped by {user} at the PC (loa stop)").as_str())
    );
    // The row's times are the deck's (sample positions): between asking
    // and the end the status showed, and all of it aired.
    let (live_on, live_off) = (
        ms_of(&live.started_at),
        ms_of(live.ended_at.as_deref().expect("the live row ended")),
    );
    assert!(
        live_asked <= live_on && live_on < live_off && live_off <= live_ended,
        "live on air {live_on}..{live_off}, asked at {live_asked}, over by {live_ended}"
    );
    assert!(
        (live.aired_ms - (live_off - live_on)).abs() <= 2,
        "live aired {} ms of its {} ms on air",
        live.aired_ms,
        live_off - live_on
    );
    let prog = rows
        .iter()
        .find(|r| r.program_id.as_deref() == Some("nhac"))
        .expect("the program's row");
    assert_eq!(prog.outcome, "cut");
    assert_eq!(
        prog.detail.as_deref(),
        Some(format!("stopped by {user} at the PC (loa stop all)").as_str())
    );

    // The audio: the chime waited for thon-1's preroll (1 s from the
    // request; the relay was on before it); the tone captured from the
    // monitor is on the air while the microphone was, by the row's times.
    let aired = Aired::read(&d.join("out.wav"));
    let first = aired.onset_after(asked, 0.02).expect("the chime aired");
    let first_ms = aired.time_ms(first) as i64;
    assert!(
        first_ms >= asked + 1_000 - 2 && on <= first_ms,
        "audio at {first_ms}, asked at {asked}, relay on at {on}: no preroll"
    );
    let share = loud_share(&aired, live_on + 300, live_off - 200, 0.1);
    assert!(
        share > 0.9,
        "only {share:.2} of the live time carried the microphone"
    );
    let after = loud_share(&aired, live_off + 500, live_off + 1500, 0.02);
    assert!(
        after < 0.05,
        "the microphone still aired after loa stop ({after:.2})"
    );
}

#[test]
fn a_live_session_left_open_is_closed_at_the_limit() {
    let dir =
        station("zones:\n  thon-1: { output: main }\npolicy: { loudness: null, live_limit: 3s }\n");
    let d = dir.path();
    let pulse = Pulse::start(&d.join("pulse"));
    let env = pulse.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = Daemon::start_env(BIN, d, &[], &env);
    daemon.wait_for_log("on air", 20);
    let out = run(d, &["now", "--live", "loa_monitor"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_status(d, 15, "the limit's end", no_announcements);
    daemon.wait_for_log("left open longer than policy.live_limit (3 s)", 5);
    assert!(daemon.log_text().contains("WARN"), "{}", daemon.log_text());
    daemon.stop();
    let rows = rows(d);
    let live = rows
        .iter()
        .find(|r| r.source_kind == "live")
        .expect("a live row");
    assert_eq!(live.outcome, "cut");
    assert_eq!(
        live.detail.as_deref(),
        Some("left open longer than policy.live_limit (3 s): closed")
    );
    assert!(
        (2000..=3600).contains(&live.aired_ms),
        "aired {} ms with a 3 s limit",
        live.aired_ms
    );
}

#[test]
fn a_user_outside_group_loa_is_refused() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: making test users needs root (CI runs as root)");
        return;
    }
    // Group loa and two users: one in it, one not (as the package would).
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    if !ok(Command::new("getent").args(["group", "loa"])) {
        assert!(
            ok(Command::new("groupadd").args(["--system", "loa"])),
            "groupadd loa"
        );
    }
    for (u, groups) in [("loa-e2e-op", Some("loa")), ("loa-e2e-out", None)] {
        if !ok(Command::new("id").arg(u)) {
            let mut c = Command::new("useradd");
            c.args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ]);
            if let Some(g) = groups {
                c.args(["--groups", g]);
            }
            assert!(ok(c.arg(u)), "useradd {u}");
        }
    }
    let dir = station("zones:\n  thon-1: { output: main }\npolicy: { loudness: null }\n");
    let d = dir.path();
    // Other users must reach the configuration and the socket's directory.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let daemon = Daemon::start(BIN, d, &[]);
    daemon.wait_for_log("on air", 20);
    let sock = d.join("state/control.sock");
    let meta = std::fs::metadata(&sock).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.mode() & 0o777, 0o660);
    let loa_gid = String::from_utf8(
        Command::new("getent")
            .args(["group", "loa"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .split(':')
    .nth(2)
    .unwrap()
    .parse::<u32>()
    .unwrap();
    assert_eq!(meta.gid(), loa_gid, "control.sock belongs to group loa");

    let as_user = |u: &str, args: &[&str]| -> Output {
        Command::new("runuser")
            .args(["-u", u, "--", BIN])
            .args(args)
            .args(["--config", d.to_str().unwrap()])
            .env_remove("LOA_CONFIG")
            .output()
            .unwrap()
    };
    // A member of group loa: allowed, and recorded by name.
    let out = as_user("loa-e2e-op", &["now", "--text", "Thử loa."]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_status(d, 20, "the notice's end", no_announcements);

    // An outsider: the socket's mode keeps them out...
    let out = as_user("loa-e2e-out", &["now", "--text", "Không được phát."]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("permission denied; user loa-e2e-out is not in group loa"),
        "{err}"
    );
    // ...and with the mode opened by mistake, the daemon's SO_PEERCRED check does.
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_user("loa-e2e-out", &["stop", "all"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("refused (not_allowed): user loa-e2e-out is not in group loa"),
        "{err}"
    );
    daemon.wait_for_log("loa-e2e-out", 5);
    daemon.stop();

    let rows = rows(d);
    let tts: Vec<&AirtimeRow> = rows.iter().filter(|r| r.source_kind == "tts").collect();
    assert_eq!(tts.len(), 1, "only the member's notice aired: {rows:#?}");
    assert_eq!(tts[0].requested_by.as_deref(), Some("loa-e2e-op"));
    assert_eq!(tts[0].trigger, "cli");
}

/// What would chime and then fail is refused at once, with its code, and
/// nothing airs: an empty file, a file that is not audio, a text of only
/// invisible characters.
#[test]
fn an_empty_file_or_an_invisible_text_is_refused_before_the_chime() {
    let dir = station("zones:\n  thon-1: { output: main }\npolicy: { loudness: null }\n");
    let d = dir.path();
    std::fs::write(d.join("media/rong.wav"), b"").unwrap();
    std::fs::write(
        d.join("media/ghi-chu.mp3"),
        "không phải âm thanh\n".repeat(50),
    )
    .unwrap();
    let daemon = Daemon::start(BIN, d, &[]);
    daemon.wait_for_log("on air", 20);
    for (args, code) in [
        (vec!["now", "--file", "rong.wav"], "bad_file"),
        (vec!["now", "--file", "ghi-chu.mp3"], "bad_file"),
        (
            vec!["now", "--text", "\u{200b}\u{200b}\u{202e}\u{feff}"],
            "malformed",
        ),
    ] {
        let out = run(d, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(&format!("refused ({code})")),
            "{args:?}: {err}"
        );
    }
    assert!(no_announcements(&status(d)));
    daemon.stop();
    assert!(rows(d).is_empty(), "nothing aired: {:#?}", rows(d));
}
