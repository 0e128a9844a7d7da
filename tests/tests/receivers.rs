//! IP cluster receivers as zones (SPEC 7d), with the real binary, a real
//! Icecast 2 and a real mosquitto, all started by the test: `loa run` airs
//! a schedule to the mount and drives two `loa receive` processes (zones a
//! and b) over MQTT; each plays into a WAV file. What each receiver aired,
//! by frequency and in order: a program for zone a is silent at b, an
//! emergency for every zone reaches both, a receiver told to stop (OFF)
//! does not play what the mount carries for the other zone, a volume
//! changed by a reload changes the level; a receiver killed is a zone fault;
//! after the broker restarts, Loa and the receiver find each other again;
//! after the Icecast server restarts, the receiver plays the mount again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use loa_e2e::{local_in, station_dir, tones_heard, wait_rows, wait_until, Broker, Daemon, Icecast};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_loa");
const MOUNT: &str = "/rx.mp3";

/// A `loa receive` process, killed when dropped.
struct Receiver {
    child: Child,
    wav: PathBuf,
    log: PathBuf,
}

impl Receiver {
    fn start(dir: &Path, broker: &Broker, id: &str) -> Receiver {
        let wav = dir.join(format!("{id}.wav"));
        let log = dir.join(format!("{id}.log"));
        let child = Command::new(BIN)
            .args(["receive", "--mqtt", &broker.url(), "--id", id])
            .args(["--output", &format!("wav:{}", wav.display())])
            .args(["--buffer", "1.5"])
            .env("LOA_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("loa receive starts");
        Receiver { child, wav, log }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// SIGTERM, then what it aired (its WAV, mono).
    fn stop(mut self) -> Vec<f32> {
        self.signal("TERM");
        let st = wait_until(
            "loa receive exits after SIGTERM",
            Duration::from_secs(5),
            Duration::from_millis(50),
            || self.child.try_wait().unwrap().ok_or("running"),
        );
        assert!(
            st.success(),
            "{st:?}: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        let mut r = hound::WavReader::open(&self.wav).expect("a readable WAV");
        let s: Vec<i16> = r.samples::<i16>().map_while(Result::ok).collect();
        s.chunks_exact(2)
            .map(|f| (f[0] as f32 + f[1] as f32) / 65536.0)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn station(ice: u16, broker: &str, b_volume: f64) -> String {
    format!(
        r#"station:
  id: e2e
  name: "Đài thử nghiệm"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  clusters: "icecast://source@127.0.0.1:{ice}{MOUNT}?password_file=icecast.pass"
zones:
  a: {{ output: clusters, receiver: rx-a, preroll: 2s, hold: 1s }}
  b: {{ output: clusters, receiver: rx-b, volume: {b_volume}, preroll: 2s, hold: 1s }}
mqtt:
  url: {broker}
policy:
  loudness: null
  late_start: join
"#
    )
}

fn program(id: &str, at: &str, zones: &str, priority: &str, hz: u32) -> String {
    format!(
        "  - id: {id}\n    at: \"{at}\"\n    priority: {priority}\n    zones: {zones}\n    items:\n      - tone: {{ hz: {hz}, for: 2s }}\n"
    )
}

/// Tone by tone (runs of one tone or of silence count once; the silence
/// before the first tone is left out), with each run's RMS level.
fn heard(samples: &[f32]) -> Vec<(Option<f64>, f32)> {
    let window = 4_800;
    let mut runs: Vec<(Option<f64>, f32, usize)> = Vec::new();
    for (t, w) in tones_heard(samples, 48_000, window, &[440.0, 660.0])
        .into_iter()
        .zip(samples.chunks_exact(window))
    {
        let rms = (w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).sqrt();
        match runs.last_mut() {
            Some(r) if r.0 == t => {
                r.1 += rms;
                r.2 += 1;
            }
            None if t.is_none() => {}
            _ => runs.push((t, rms, 1)),
        }
    }
    runs.into_iter()
        .map(|(t, sum, n)| (t, sum / n as f32))
        .collect()
}

fn status(dir: &Path) -> Value {
    loa_e2e::status_json(BIN, dir)
}

#[test]
fn receivers_air_what_their_zones_should_and_a_dead_one_is_a_fault() {
    let ice = Icecast::start("hackme-rx");
    let broker = Broker::start();
    let states = broker.subscribe("loa-rx/+/state");
    let (p1, _) = local_in(9);
    let (p2, _) = local_in(13);
    let (p3, _) = local_in(22);
    let schedule = format!(
        "programs:\n{}{}{}",
        program("only-a", &p1, "[a]", "normal", 440),
        program("canh-bao", &p2, "all", "emergency", 660),
        program("only-b", &p3, "[b]", "normal", 660),
    );
    let dir = station_dir(&station(ice.port, &broker.url(), 1.0), Some(&schedule));
    ice.password_file(dir.path(), "hackme-rx");
    let rx_a = Receiver::start(dir.path(), &broker, "rx-a");
    let rx_b = Receiver::start(dir.path(), &broker, "rx-b");
    states.wait_for("both receivers online", 5, |m| {
        ["rx-a", "rx-b"].iter().all(|id| {
            m.iter().any(|(_, t, p)| {
                t == &format!("loa-rx/{id}/state") && p.contains(r#""online":true"#)
            })
        })
    });
    let d = Daemon::start(BIN, dir.path(), &[]);

    // The emergency for every zone has aired, and b has stopped after it:
    // b's volume goes down to 0.3 (a reload) before the program for b alone.
    wait_rows(
        dir.path(),
        "the emergency aired",
        Duration::from_secs(18),
        |r| {
            r.iter()
                .any(|r| r.program_id.as_deref() == Some("canh-bao") && r.outcome == "completed")
        },
    );
    states.wait_for("rx-b stopped after the emergency", 6, |m| {
        let b: Vec<_> = m
            .iter()
            .filter(|(_, t, _)| t == "loa-rx/rx-b/state")
            .collect();
        let played = b
            .iter()
            .position(|(_, _, p)| p.contains(r#""state":"playing""#));
        played.is_some_and(|i| {
            b[i..]
                .iter()
                .any(|(_, _, p)| p.contains(r#""state":"stopped""#))
        })
    });
    std::fs::write(
        dir.path().join("station.yaml"),
        station(ice.port, &broker.url(), 0.3),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for_log("reload", 3);
    wait_rows(
        dir.path(),
        "the program for zone b aired",
        Duration::from_secs(10),
        |r| {
            r.iter()
                .any(|r| r.program_id.as_deref() == Some("only-b") && r.outcome == "completed")
        },
    );
    // Its tail through the encoder, the server and b's buffer, then hold.
    states.wait_for("rx-b told to stop after the program for b", 8, |m| {
        m.iter()
            .rev()
            .find(|(_, t, _)| t == "loa-rx/rx-b/state")
            .is_some_and(|(_, _, p)| {
                p.contains(r#""state":"stopped""#) && p.contains(r#""volume":30"#)
            })
    });
    let st = status(dir.path());
    assert_eq!(st["zones"]["a"], "off", "{st}");
    assert_eq!(st["receivers"]["a"]["receiver"], "rx-a", "{st}");
    assert_eq!(st["receivers"]["a"]["online"], true, "{st}");
    assert_eq!(st["receivers"]["a"]["state"], "stopped", "{st}");
    // While it played, b said what: the mount's public address.
    let url = format!(r#""url":"http://127.0.0.1:{}{MOUNT}""#, ice.port);
    let m = states.messages();
    assert!(
        m.iter().any(|(_, t, p)| t == "loa-rx/rx-b/state"
            && p.contains(r#""state":"playing""#)
            && p.contains(&url)),
        "{m:?}"
    );

    let a = heard(&rx_a.stop());
    let b = heard(&rx_b.stop());
    let tones = |h: &[(Option<f64>, f32)]| h.iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(
        tones(&a),
        vec![Some(440.0), None, Some(660.0), None],
        "a: its program, the emergency; not b's program (stopped) {a:?}"
    );
    assert_eq!(
        tones(&b),
        vec![Some(660.0), None, Some(660.0), None],
        "b: not a's program; the emergency, its own program {b:?}"
    );
    let ratio = b[2].1 / b[0].1;
    assert!(
        (0.2..0.45).contains(&ratio),
        "b's program at volume 0.3 against the emergency at 1.0: level ratio {ratio} {b:?}"
    );

    // A receiver that dies is a fault of its zone (its Last Will).
    let rx_a = Receiver::start(dir.path(), &broker, "rx-a");
    states.wait_for("rx-a back", 5, |m| {
        m.iter()
            .rev()
            .find(|(_, t, _)| t == "loa-rx/rx-a/state")
            .is_some_and(|(_, _, p)| p.contains(r#""online":true"#))
    });
    rx_a.signal("KILL");
    wait_until(
        "zone a a fault in loa status",
        Duration::from_secs(5),
        Duration::from_millis(200),
        || {
            let st = status(dir.path());
            if st["zones"]["a"] == "fault" && st["receivers"]["a"]["online"] == false {
                Ok(())
            } else {
                Err(st)
            }
        },
    );
    d.wait_for_log("the receiver `rx-a` of zone `a` is offline", 3);
    let (exit, _) = d.stop();
    assert!(exit.success(), "{exit:?}");
}

/// The broker restarts between programs: the receiver and Loa reconnect on
/// their own, and the next program for the zone is heard at its receiver.
#[test]
fn after_the_broker_restarts_the_next_program_reaches_the_receiver() {
    let ice = Icecast::start("hackme-rx2");
    let mut broker = Broker::start();
    let (p1, _) = local_in(16);
    let schedule = format!("programs:\n{}", program("tin", &p1, "[a]", "normal", 440));
    let dir = station_dir(&station(ice.port, &broker.url(), 1.0), Some(&schedule));
    ice.password_file(dir.path(), "hackme-rx2");
    let rx_a = Receiver::start(dir.path(), &broker, "rx-a");
    let d = Daemon::start(BIN, dir.path(), &[]);
    // Loa told the receiver the zone's state (off) on connecting.
    let told = |what: &str| {
        wait_until(
            what,
            Duration::from_secs(6),
            Duration::from_millis(100),
            || {
                let st = status(dir.path());
                if st["link"]["state"] == "connected"
                    && st["receivers"]["a"]["online"] == true
                    && st["receivers"]["a"]["state"] == "stopped"
                {
                    Ok(())
                } else {
                    Err(st)
                }
            },
        )
    };
    told("Loa and the receiver on the broker");
    broker.stop();
    broker.start_again();
    let states = broker.subscribe("loa-rx/rx-a/state");
    states.wait_for("the receiver back on the restarted broker", 8, |m| {
        m.iter().any(|(_, _, p)| p.contains(r#""online":true"#))
    });
    told("Loa back on the restarted broker, hearing the receiver");
    wait_rows(
        dir.path(),
        "the program aired",
        Duration::from_secs(16),
        |r| r.iter().any(|r| r.outcome == "completed"),
    );
    states.wait_for("the receiver played, then stopped", 8, |m| {
        let played = m
            .iter()
            .position(|(_, _, p)| p.contains(r#""state":"playing""#));
        played.is_some_and(|i| {
            m[i..]
                .iter()
                .any(|(_, _, p)| p.contains(r#""state":"stopped""#))
        })
    });
    let a = heard(&rx_a.stop());
    assert_eq!(
        a.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![Some(440.0), None],
        "{a:?}"
    );
    let (exit, _) = d.stop();
    assert!(exit.success(), "{exit:?}");
}

/// The Icecast server restarts while the zone is on: the receiver's stream
/// breaks (`connecting`, with the cause), and it plays the mount again by
/// itself, the next program included.
#[test]
fn after_the_icecast_server_restarts_the_receiver_plays_the_mount_again() {
    let mut ice = Icecast::start("hackme-rx3");
    let broker = Broker::start();
    let states = broker.subscribe("loa-rx/rx-a/state");
    let (p1, _) = local_in(9);
    let (p2, _) = local_in(24);
    let schedule = format!(
        "programs:\n{}{}",
        program("truoc", &p1, "[a]", "normal", 440),
        program("sau", &p2, "[a]", "normal", 660)
    );
    // A long hold keeps the zone on (the receiver playing) from one to the other.
    let yaml =
        station(ice.port, &broker.url(), 1.0).replace("hold: 1s }\n  b:", "hold: 30s }\n  b:");
    let dir = station_dir(&yaml, Some(&schedule));
    ice.password_file(dir.path(), "hackme-rx3");
    let rx_a = Receiver::start(dir.path(), &broker, "rx-a");
    let d = Daemon::start(BIN, dir.path(), &[]);
    wait_rows(
        dir.path(),
        "the first program aired",
        Duration::from_secs(14),
        |r| r.iter().any(|r| r.outcome == "completed"),
    );
    states.wait_for("rx-a playing", 6, |m| {
        m.iter().any(|(_, _, p)| p.contains(r#""state":"playing""#))
    });
    ice.stop();
    states.wait_for("rx-a's stream broken", 8, |m| {
        m.last().is_some_and(|(_, _, p)| {
            p.contains(r#""state":"connecting""#) && !p.contains(r#""error":null"#)
        })
    });
    ice.start_again();
    wait_rows(
        dir.path(),
        "the second program aired",
        Duration::from_secs(20),
        |r| r.iter().filter(|r| r.outcome == "completed").count() == 2,
    );
    let st = status(dir.path());
    assert_eq!(st["zones"]["a"], "on", "{st}");
    assert_eq!(st["receivers"]["a"]["state"], "playing", "{st}");
    // The tail of the second program through the receiver's buffer.
    std::thread::sleep(Duration::from_secs(3));
    let a = heard(&rx_a.stop());
    assert_eq!(
        a.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![Some(440.0), None, Some(660.0), None],
        "{a:?}"
    );
    let (exit, _) = d.stop();
    assert!(exit.success(), "{exit:?}");
}

/// `--output` may not take a receiver zone's mount away: the receivers
/// would be told to play nothing.
#[test]
fn a_receiver_zones_output_cannot_be_replaced_by_a_non_icecast_one() {
    let dir = station_dir(&station(8000, "mqtt://127.0.0.1:1", 1.0), None);
    std::fs::write(dir.path().join("icecast.pass"), "x\n").unwrap();
    let out = loa_e2e::loa(
        BIN,
        &[
            "run",
            "--config",
            dir.path().to_str().unwrap(),
            "--output",
            "clusters=wav:/tmp/never.wav",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = loa_e2e::stderr(&out);
    assert!(
        err.contains("--output clusters=wav:/tmp/never.wav: zone `a` plays this output on an IP cluster receiver; it must stay an icecast:// output"),
        "{err}"
    );
}
