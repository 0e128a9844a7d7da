//! Amplifiers are never left on: `loa run` against a real mosquitto and
//! fake relays that answer as Tasmota, Shelly Gen2 and ESPHome do and run
//! their own auto-off timers. SIGTERM mid-program: every relay is switched
//! off and has said so before the process exits. `kill -9` mid-program: each
//! device switches itself off when its lease runs out. A restart: every relay
//! is switched off before the next program.
//!
//! The leases here are 3 s (renewed every second) for speed, 6 s where Loa
//! must keep the amplifiers on through a busy machine's stalls. The tests
//! assert what happened and in which order; the figures the closing note of
//! issue 15 asks for (how long each stop takes) are printed, never asserted.

use std::time::{Duration, Instant};

use loa_e2e::devices::{FakeRelay, Firmware, Happened, WaitFor};
use loa_e2e::{local_in, station_dir, Broker, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn station(broker: &Broker, lease: &str, late_start: &str, schedule: &str) -> tempfile::TempDir {
    station_with(broker, lease, late_start, schedule, "")
}

/// As `station`, with `more` zones after the three.
fn station_with(
    broker: &Broker,
    lease: &str,
    late_start: &str,
    schedule: &str,
    more: &str,
) -> tempfile::TempDir {
    station_dir(
        &format!(
            r#"station:
  id: e2e
  name: "Đài thử rơ-le"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  main: "null"
zones:
  thon-1:
    relay: {{ preset: tasmota, topic: amp1, channel: 2, lease: {lease} }}
    preroll: 1s
    hold: 1s
  thon-2:
    relay: {{ preset: shelly, topic: shelly-thon2, lease: {lease} }}
    preroll: 1s
    hold: 1s
  thon-3:
    relay: {{ preset: esphome, topic: amp3, channel: relay_amp, lease: {lease} }}
    preroll: 1s
    hold: 1s
{more}mqtt:
  url: {}
policy:
  loudness: null
  late_start: {late_start}
"#,
            broker.url()
        ),
        Some(schedule),
    )
}

fn devices(broker: &Broker) -> Vec<FakeRelay> {
    devices_with_shelly_latency(broker, Duration::ZERO)
}

/// The three devices, the Shelly's messages reaching it `latency` late.
fn devices_with_shelly_latency(broker: &Broker, latency: Duration) -> Vec<FakeRelay> {
    vec![
        FakeRelay::start(
            broker.port,
            Firmware::Tasmota {
                topic: "amp1".into(),
                channel: 2,
            },
        ),
        FakeRelay::start_with_latency(
            broker.port,
            Firmware::Shelly {
                topic: "shelly-thon2".into(),
                channel: 0,
            },
            latency,
        ),
        FakeRelay::start(
            broker.port,
            Firmware::Esphome {
                topic: "amp3".into(),
                id: "relay_amp".into(),
            },
        ),
    ]
}

/// A long program on every zone, starting in `secs` seconds.
fn long_program(secs: i64) -> String {
    let (at, _) = local_in(secs);
    format!(
        "programs:\n  - id: dai\n    title: \"Chương trình dài\"\n    at: \"{at}\"\n    zones: all\n    items:\n      - tone: {{ hz: 500, for: 120s }}\n"
    )
}

fn wait_all_on(devs: &[FakeRelay]) {
    for d in devs {
        d.wait_for("switched on", 20, |l| {
            l.iter().any(|(_, h)| *h == Happened::Commanded(true))
        });
    }
}

#[test]
fn sigterm_mid_program_switches_every_relay_off_and_waits_for_it() {
    let broker = Broker::start();
    // The Shelly hears everything 1 s late: Loa must wait for its answer.
    let devs = devices_with_shelly_latency(&broker, Duration::from_secs(1));
    let dir = station(&broker, "6s", "join", &long_program(4));
    let mut d = Daemon::start(BIN, dir.path(), &[]);
    wait_all_on(&devs);
    // A lease and a half on the air (at least): the renewals keep every
    // amplifier on.
    std::thread::sleep(Duration::from_secs(9));
    for dev in &devs {
        assert!(dev.is_on(), "{:?} went off while Loa ran", dev.firmware);
        assert!(
            !dev.switched_itself_off(),
            "{:?}: its lease ran out while Loa ran: {:#?}",
            dev.firmware,
            dev.log()
        );
    }
    let sigterm = Instant::now();
    d.signal("TERM");
    let status = loa_e2e::wait_until(
        "the exit after SIGTERM",
        Duration::from_secs(10),
        Duration::from_millis(10),
        || d.child.try_wait().expect("wait").ok_or("running"),
    );
    let exited = Instant::now();
    assert!(status.success(), "exit {status:?}");
    for dev in &devs {
        let log = dev.log();
        let off = log
            .iter()
            .find(|(t, h)| *t >= sigterm && *h == Happened::Commanded(false));
        let reported = log
            .iter()
            .find(|(t, h)| *t >= sigterm && *h == Happened::Reported(false));
        let (Some(off), Some(reported)) = (off, reported) else {
            panic!(
                "{:?}: no OFF and report after SIGTERM: {log:#?}",
                dev.firmware
            );
        };
        assert!(
            off.0 <= reported.0 && reported.0 < exited,
            "{:?}: switched off and reported before Loa exited: {log:#?}",
            dev.firmware
        );
        assert!(!dev.is_on());
        assert!(!dev.switched_itself_off(), "{:?}: {log:#?}", dev.firmware);
    }
    let log = d.log_text();
    assert!(
        log.contains("every relay reports off (thon-1, thon-2, thon-3)"),
        "{log}"
    );
    println!(
        "figure: SIGTERM -> exit with 3 relays confirmed off (one answering 1 s late): {:.0} ms",
        (exited - sigterm).as_secs_f64() * 1000.0
    );
}

#[test]
fn a_relay_that_never_answers_is_named_and_the_stop_stays_bounded() {
    let broker = Broker::start();
    let devs = devices(&broker);
    // thon-4's Tasmota is dead (power cut in its village): nobody answers.
    let dir = station_with(
        &broker,
        "3s",
        "join",
        &long_program(4),
        "  thon-4:\n    relay: { preset: tasmota, topic: amp4, lease: 3s }\n    preroll: 1s\n    hold: 1s\n",
    );
    let d = Daemon::start(BIN, dir.path(), &[]);
    wait_all_on(&devs);
    std::thread::sleep(Duration::from_secs(2));
    let log = d.log.clone();
    // Bounded: the wait for the dead relay gives up (and says so), and the
    // exit comes (`stop` fails the test otherwise).
    let (status, took) = d.stop();
    assert!(status.success(), "exit {status:?}");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("relays not confirmed off within 3 s: zone(s) thon-4;"),
        "{text}"
    );
    for dev in &devs {
        assert!(!dev.is_on(), "{:?}: {:#?}", dev.firmware, dev.log());
    }
    println!(
        "figure: SIGTERM -> exit with one relay never answering: {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
}

#[test]
fn kill_9_mid_program_leaves_each_device_to_switch_itself_off_within_its_lease() {
    let broker = Broker::start();
    let devs = devices(&broker);
    let dir = station(&broker, "3s", "join", &long_program(4));
    let d = Daemon::start(BIN, dir.path(), &[]);
    wait_all_on(&devs);
    std::thread::sleep(Duration::from_secs(5));
    assert!(devs.iter().all(FakeRelay::is_on));
    let killed = Instant::now();
    d.signal("KILL");
    drop(d);
    for dev in &devs {
        dev.wait_for("switched itself off", 10, |l| {
            l.iter().any(|(_, h)| *h == Happened::SwitchedItselfOff)
        });
        let log = dev.log();
        let off = log
            .iter()
            .find(|(_, h)| *h == Happened::SwitchedItselfOff)
            .unwrap()
            .0;
        let after = off - killed;
        // Within one lease (3 s) of the last renewal, itself before the
        // kill: the lease Loa gave it, not a longer one (a second lease's
        // time for a busy machine; the figure is the bench's).
        assert!(
            after <= Duration::from_secs(6),
            "{:?}: off {after:?} after kill -9",
            dev.firmware
        );
        assert!(
            !log.iter()
                .any(|(t, h)| *t > killed && *h == Happened::Commanded(false)),
            "nobody commanded it off: {log:#?}"
        );
        assert!(!dev.is_on());
        println!(
            "figure: kill -9 -> {:?} amplifier off by its own timer: {:.0} ms (lease 3 s)",
            dev.firmware,
            after.as_secs_f64() * 1000.0
        );
    }
}

#[test]
fn a_restart_switches_every_relay_off_before_the_next_program() {
    let broker = Broker::start();
    let devs = devices(&broker);
    // A long lease: the devices are still on when Loa comes back.
    let (next, _) = local_in(25);
    let schedule = format!(
        "{}  - id: sau\n    at: \"{next}\"\n    zones: all\n    items:\n      - tone: {{ hz: 700, for: 3s }}\n",
        long_program(3)
    );
    let dir = station(&broker, "60s", "skip", &schedule);
    let d = Daemon::start(BIN, dir.path(), &[]);
    wait_all_on(&devs);
    // Mid-program: the program has been airing for a while.
    std::thread::sleep(Duration::from_secs(3));
    d.signal("KILL");
    drop(d);
    assert!(devs.iter().all(FakeRelay::is_on), "a crash leaves them on");
    let restarted = Instant::now();
    let d = Daemon::start(BIN, dir.path(), &[]);
    // The program in progress is skipped (late_start: skip): nothing may
    // stay on; the next program switches them on again.
    for dev in &devs {
        dev.wait_for("switched on again for the next program", 40, |l| {
            l.iter()
                .any(|(t, h)| *t > restarted && *h == Happened::Commanded(true))
        });
        let log = dev.log();
        let after: Vec<&Happened> = log
            .iter()
            .filter(|(t, _)| *t > restarted)
            .map(|(_, h)| h)
            .collect();
        assert_eq!(
            after.first(),
            Some(&&Happened::Commanded(false)),
            "{:?}: the first command after the restart is OFF: {log:#?}",
            dev.firmware,
        );
        let off_reported = after.iter().position(|h| **h == Happened::Reported(false));
        let on_again = after.iter().position(|h| **h == Happened::Commanded(true));
        assert!(
            off_reported.is_some_and(|o| on_again.is_some_and(|n| o < n)),
            "{:?}: off (and said so) before the next program: {log:#?}",
            dev.firmware
        );
        assert!(!dev.switched_itself_off(), "{log:#?}");
    }
    let (status, _) = d.stop();
    assert!(status.success());
}
