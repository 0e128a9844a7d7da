//! Figures for IP cluster receivers (printed, never asserted), with a real
//! Icecast 2 and mosquitto started here, `loa run` airing to the mount and
//! one `loa receive` (default buffer, 2.5 s) playing into a WAV file:
//! - scheduled instant to the first sample at the receiver's output, median
//!   and max over 20 programs while the zone stays on, and for the first
//!   one, which finds the receiver stopped (told to play at start - preroll);
//!   what is left after the receiver's buffer is the encoder, the server's
//!   queue, the network and the decoder;
//! - `loa receive`'s CPU (% of one core) and resident set while it plays.
//!
//! Run: `cargo bench -p loa --bench receive`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use loa_e2e::{local_in, station_dir, wait_rows, Aired, Broker, Daemon, Icecast};

const BIN: &str = env!("CARGO_BIN_EXE_loa");
const PROGRAMS: usize = 20;
const BUFFER_S: f64 = 2.5;

fn main() {
    let ice = Icecast::start("bench-rx");
    let broker = Broker::start();
    // Programs every 4 s, 1 s of tone each; hold keeps the zone on between.
    let first = 14;
    let mut programs = String::from("programs:\n");
    let mut starts = Vec::new();
    for i in 0..PROGRAMS {
        let (at, ms) = local_in(first + 4 * i as i64);
        starts.push(ms);
        programs.push_str(&format!(
            "  - id: p{i}\n    at: \"{at}\"\n    zones: all\n    items:\n      - tone: {{ hz: 440, for: 1s }}\n"
        ));
    }
    let station = format!(
        r#"station:
  id: bench
  name: "Bench"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  clusters: "icecast://source@127.0.0.1:{}/bench.mp3?password_file=icecast.pass"
zones:
  a: {{ output: clusters, receiver: rx-bench, preroll: 3s, hold: 10s }}
mqtt:
  url: {}
policy:
  loudness: null
"#,
        ice.port,
        broker.url()
    );
    let dir = station_dir(&station, Some(&programs));
    ice.password_file(dir.path(), "bench-rx");
    let wav = dir.path().join("rx.wav");
    let mut rx = Command::new(BIN)
        .args(["receive", "--mqtt", &broker.url(), "--id", "rx-bench"])
        .args(["--output", &format!("wav:{}", wav.display())])
        .args(["--buffer", &BUFFER_S.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("loa receive starts");
    let d = Daemon::start(BIN, dir.path(), &[]);
    // CPU and memory while it plays (from the second program on).
    std::thread::sleep(Duration::from_secs(first as u64 + 3));
    let (c0, w0) = (loa_e2e::cpu_ticks(rx.id()), Instant::now());
    let mut rss = 0;
    while w0.elapsed() < Duration::from_secs(30) {
        rss = rss.max(loa_e2e::proc_kib(rx.id(), "VmRSS").unwrap_or(0));
        std::thread::sleep(Duration::from_secs(1));
    }
    let cpu = match (c0, loa_e2e::cpu_ticks(rx.id())) {
        (Some(a), Some(b)) => (b - a) as f64 / 100.0 / w0.elapsed().as_secs_f64() * 100.0,
        _ => f64::NAN,
    };
    wait_rows(
        dir.path(),
        "every program aired",
        Duration::from_secs(4 * PROGRAMS as u64 + 20),
        |r| r.iter().filter(|r| r.outcome == "completed").count() == PROGRAMS,
    );
    std::thread::sleep(Duration::from_secs(5));
    let _ = Command::new("kill")
        .args(["-TERM", &rx.id().to_string()])
        .status();
    let _ = rx.wait();
    let (_, _) = d.stop();

    let aired = Aired::read(&wav);
    let mut lat: Vec<f64> = starts
        .iter()
        .filter_map(|&s| {
            // The tone before (1 s long, 4 s earlier) has ended at the
            // receiver by this one's scheduled instant.
            let i = aired.onset_after(s, 0.02)?;
            Some(aired.time_ms(i) - s as f64)
        })
        .collect();
    let cold = lat.first().copied().unwrap_or(f64::NAN);
    let warm = &mut lat[1..];
    warm.sort_by(f64::total_cmp);
    let median = warm.get(warm.len() / 2).copied().unwrap_or(f64::NAN);
    let max = warm.last().copied().unwrap_or(f64::NAN);
    println!(
        "receiver ({} programs heard of {PROGRAMS}, buffer {BUFFER_S} s): scheduled instant to first sample: median {median:.0} ms, max {max:.0} ms; first program (receiver told to play at start - preroll) {cold:.0} ms",
        warm.len() + 1
    );
    println!(
        "  of which the receiver's buffer {:.0} ms; encoder + Icecast + network + decoder: median {:.0} ms",
        BUFFER_S * 1000.0,
        median - BUFFER_S * 1000.0
    );
    println!(
        "loa receive while playing: CPU {cpu:.1} % of one core, RSS {} KiB",
        rss
    );
}
