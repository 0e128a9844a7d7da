//! Figures for the daemon (printed, never asserted):
//! - start accuracy: the first sample of each scheduled program at a `wav`
//!   output against its scheduled second, over 24 starts;
//! - memory: resident set of `loa run` while idle and while playing;
//! - `loa simulate` of a year of the example station.
//!
//! Run: `cargo bench -p loa --bench daemon`.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use loa_e2e::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn main() {
    start_accuracy_and_memory();
    simulate_a_year();
    mqtt_timing();
    announcement_latency();
}

/// Over 20 announcements: from the publish of the signed command to the
/// first chime sample at a `wav` output.
fn announcement_latency() {
    use base64::Engine as _;
    use ed25519_dalek::Signer;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let broker = loa_e2e::Broker::start();
    let acks = broker.subscribe("loa/bench/ack/#");
    let dir = loa_e2e::station_dir(
        &format!(
            "station: {{ id: bench, name: Bench, timezone: Asia/Ho_Chi_Minh }}\npaths: {{ media: media, state: state }}\noutputs: {{ main: \"null\" }}\nzones: {{ z: {{ output: main }} }}\nmqtt: {{ url: \"{}\" }}\npolicy: {{ loudness: null }}\nremote:\n  rate_limit: 100/min\n  keys:\n    k: {{ public_key: \"{}\", may: [normal], zones: all }}\n",
            broker.url(),
            b64(key.verifying_key().as_bytes())
        ),
        Some("programs: []\n"),
    );
    let wav = dir.path().join("out.wav");
    let daemon = Daemon::start_to_wav(BIN, dir.path(), &wav);
    std::thread::sleep(Duration::from_secs(3));
    let n = 20;
    let mut sent = Vec::new();
    for i in 0..n {
        let now = Utc::now().timestamp();
        let body = serde_json::json!({"v": 1, "id": format!("bench-announce-{i:03}"), "ts": now, "exp": now + 60,
            "to": "station:bench", "cmd": "announce", "priority": "normal", "zones": "all",
            "text": "a"})
        .to_string();
        let env = serde_json::json!({"kid": "k", "sig": b64(&key.sign(body.as_bytes()).to_bytes()), "body": body}).to_string();
        let t = Utc::now().timestamp_millis() as f64;
        broker.publish("loa/bench/cmd/announce", &env, false);
        sent.push(t);
        std::thread::sleep(Duration::from_secs(6));
    }
    daemon.stop();
    let done = acks
        .messages()
        .iter()
        .filter(|(_, _, p)| p.contains("\"done\""))
        .count();
    let aired = loa_e2e::Aired::read(&wav);
    let mut lat = Vec::new();
    for t in &sent {
        if let Some(i) = aired.onset_after(*t as i64, 0.001) {
            lat.push(aired.time_ms(i) - t);
        }
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "announcement, publish to first chime sample, {} of {n} ({done} acked done): median {:.1} ms, max {:.1} ms",
        lat.len(),
        lat.get(lat.len() / 2).copied().unwrap_or(f64::NAN),
        lat.last().copied().unwrap_or(f64::NAN)
    );
}

/// Over 20 scheduled starts: the relay's ON (due at start - preroll) and the
/// board's now-playing text (due at start), as a subscriber sees them.
fn mqtt_timing() {
    let broker = loa_e2e::Broker::start();
    let all = broker.subscribe("#");
    let dir = loa_e2e::station_dir(
        &format!(
            "station: {{ id: bench, name: Bench, timezone: Asia/Ho_Chi_Minh }}\npaths: {{ media: media, state: state }}\noutputs: {{ main: \"null\" }}\nzones:\n  z:\n    output: main\n    relay: {{ preset: tasmota, topic: amp, channel: 1 }}\n    preroll: 2s\n    hold: 1s\nboards:\n  b: {{ preset: awtrix, topic: board, show_now_playing: true }}\nmqtt: {{ url: \"{}\" }}\npolicy: {{ loudness: null }}\n",
            broker.url()
        ),
        None,
    );
    let d = dir.path();
    let first = Utc::now() + TimeDelta::seconds(8);
    let first = first - TimeDelta::nanoseconds(first.timestamp_subsec_nanos() as i64);
    let n = 20;
    let mut programs = String::from("programs:\n");
    let mut starts = Vec::new();
    for i in 0..n {
        let t = first + TimeDelta::seconds(5 * i);
        starts.push(t.timestamp_millis() as f64 / 1000.0);
        let local = t
            .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
            .format("%H:%M:%S");
        programs.push_str(&format!(
            "  - id: p{i}\n    title: \"Program {i}\"\n    at: \"{local}\"\n    zones: all\n    items: [{{ tone: {{ hz: 1000, for: 1s }} }}]\n"
        ));
    }
    std::fs::write(d.join("schedules/bench.yaml"), programs).unwrap();
    let daemon = Daemon::start(BIN, d, &[]);
    let end = starts[starts.len() - 1] + 3.0;
    while (Utc::now().timestamp_millis() as f64 / 1000.0) < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    daemon.stop();
    let msgs = all.messages();
    let mut relay = Vec::new();
    let mut board = Vec::new();
    for (i, s) in starts.iter().enumerate() {
        if let Some((t, _, _)) = msgs
            .iter()
            .find(|(t, tp, p)| tp == "cmnd/amp/POWER1" && p == "ON" && (*t - (s - 2.0)).abs() < 1.5)
        {
            relay.push((t - (s - 2.0)) * 1000.0);
        }
        let title = format!("Program {i}");
        if let Some((t, _, _)) = msgs
            .iter()
            .find(|(_, tp, p)| tp == "board/custom/loa" && p.contains(&title))
        {
            board.push((t - s) * 1000.0);
        }
    }
    let stats = |v: &mut Vec<f64>| {
        let mut a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
        a.sort_by(f64::total_cmp);
        (
            v.len(),
            a.get(a.len() / 2).copied().unwrap_or(f64::NAN),
            a.last().copied().unwrap_or(f64::NAN),
        )
    };
    let (nr, mr, xr) = stats(&mut relay);
    let (nb, mb, xb) = stats(&mut board);
    println!("relay ON vs start - preroll, {nr} of {n} starts: median {mr:.1} ms, max {xr:.1} ms");
    println!("board now-playing vs start, {nb} of {n} starts: median {mb:.1} ms, max {xb:.1} ms");
}

fn start_accuracy_and_memory() {
    let dir = loa_e2e::station_dir(
        "station: { id: bench, name: Bench, timezone: Asia/Ho_Chi_Minh }\npaths: { media: media, state: state }\noutputs: { main: \"null\" }\nzones: { all-zone: { output: main } }\npolicy: { loudness: null }\n",
        None,
    );
    let d = dir.path();
    let first = Utc::now() + TimeDelta::seconds(8);
    let first = first - TimeDelta::nanoseconds(first.timestamp_subsec_nanos() as i64);
    let n = 24;
    let mut programs = String::from("programs:\n");
    let mut times = Vec::new();
    for i in 0..n {
        let t = first + TimeDelta::seconds(2 * i);
        times.push(t.timestamp_millis());
        let local = t
            .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
            .format("%H:%M:%S");
        programs.push_str(&format!(
            "  - id: p{i}\n    at: \"{local}\"\n    zones: all\n    items: [{{ tone: {{ hz: 1000, for: 1s }} }}]\n"
        ));
    }
    std::fs::write(d.join("schedules/bench.yaml"), programs).unwrap();
    let wav = d.join("out.wav");
    let daemon = Daemon::start_to_wav(BIN, d, &wav);
    let pid = daemon.child.id();
    let mut idle_max = 0;
    let mut playing_max = 0;
    let end = times[times.len() - 1] + 2_000;
    while Utc::now().timestamp_millis() < end {
        let now = Utc::now().timestamp_millis();
        if let Some(r) = loa_e2e::proc_kib(pid, "VmRSS") {
            if now < times[0] - 500 {
                idle_max = idle_max.max(r);
            } else {
                playing_max = playing_max.max(r);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.stop();

    let aired = loa_e2e::Aired::read(&wav);
    let mut errors = Vec::new();
    for t in &times {
        if let Some(i) = aired.onset_after(*t - 500, 0.05) {
            errors.push(aired.time_ms(i) - *t as f64);
        }
    }
    let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    println!(
        "start accuracy over {} of {n} starts (first sample at the output vs scheduled second):",
        abs.len()
    );
    println!(
        "  median {:.2} ms, max {:.2} ms, mean signed {:+.2} ms",
        abs.get(abs.len() / 2).copied().unwrap_or(f64::NAN),
        abs.last().copied().unwrap_or(f64::NAN),
        errors.iter().sum::<f64>() / errors.len().max(1) as f64
    );
    println!(
        "memory of `loa run`: resident {:.1} MiB idle, {:.1} MiB at most while playing",
        idle_max as f64 / 1024.0,
        playing_max as f64 / 1024.0
    );
}

fn simulate_a_year() {
    let dir = loa_e2e::example_station();
    let st = dir.path();
    let db = dir.path().join("year.sqlite");
    let t = Instant::now();
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--config",
            st.to_str().unwrap(),
            "--from",
            "2027-01-01",
            "--days",
            "365",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let took = t.elapsed();
    println!(
        "loa simulate, a year of the example station: {:.2} s wall ({})",
        took.as_secs_f64(),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
    );
}
