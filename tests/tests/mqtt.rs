//! `loa run` against a real mosquitto started by the test: the retained
//! status and its Last Will, relays switched on before the sound and off
//! after, the board showing what airs, and an outage of the broker while
//! items air: every airtime row arrives afterwards, in order.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use loa_e2e::{local_in, station_dir, Broker, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn station(broker: &Broker, schedule: &str) -> tempfile::TempDir {
    station_dir(
        &format!(
            r#"station:
  id: e2e
  name: "Đài thử MQTT"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  main: "null"
zones:
  thon-1:
    output: main
    relay: {{ preset: tasmota, topic: amp1, channel: 1 }}
    preroll: 2s
    hold: 1s
  thon-2:
    output: main
    relay: {{ preset: esphome, topic: amp2, channel: relay }}
    preroll: 1s
    hold: 1s
  thon-3:
    output: main
    relay: {{ preset: esphome, topic: amp3, channel: relay }}
    preroll: 1s
    hold: 1s
boards:
  cong:
    preset: awtrix
    topic: awtrix_cong
    charset: ascii
    show_now_playing: true
mqtt:
  url: {}
policy:
  loudness: null
"#,
            broker.url()
        ),
        Some(schedule),
    )
}

/// What a message may precede its due time by, as the subscriber stamps
/// it (the daemon's timers and the subscriber's clock; never load).
const EARLY: f64 = 0.25;

fn first(msgs: &[(f64, String, String)], topic: &str, payload_has: &str) -> Option<f64> {
    msgs.iter()
        .find(|(_, t, p)| t == topic && p.contains(payload_has))
        .map(|(at, _, _)| *at)
}

#[test]
fn relays_switch_around_the_sound_and_the_board_shows_what_airs() {
    let broker = Broker::start();
    let all = broker.subscribe("#");
    // thon-1's Tasmota answers its commands; thon-3's ESPHome is silent.
    let _amp1 = broker.fake_device("cmnd/amp1/POWER1", "stat/amp1/POWER1");
    let (a, a_ms) = local_in(6);
    let a_s = a_ms as f64 / 1000.0;
    let dir = station(
        &broker,
        &format!(
            "programs:\n  - id: tin\n    title: \"Bản tin sáng\"\n    at: \"{a}\"\n    zones: [thon-1, thon-3]\n    items:\n      - tone: {{ hz: 700, for: 2s }}\n"
        ),
    );
    let d = Daemon::start(BIN, dir.path(), &[]);
    all.wait_for("thon-1 off after hold", 20, |m| {
        m.iter()
            .any(|(t, tp, p)| tp == "cmnd/amp1/POWER1" && p == "OFF" && *t > a_s)
    });
    all.wait_for("the status shows thon-1 off again", 10, |m| {
        m.iter()
            .rev()
            .find(|(_, t, _)| t == "loa/e2e/status")
            .is_some_and(|(_, _, p)| {
                let v: serde_json::Value = serde_json::from_str(p).unwrap();
                v["zones"]["thon-1"] == "off" && v["zones"]["thon-3"] == "fault"
            })
    });
    let msgs = all.messages();
    let on = first(&msgs, "cmnd/amp1/POWER1", "ON").expect("relay on");
    let off = msgs
        .iter()
        .find(|(t, tp, p)| tp == "cmnd/amp1/POWER1" && p == "OFF" && *t > a_s)
        .unwrap()
        .0;
    // In order, each never early (a busy machine only makes a message late;
    // how late is a figure: daemon/benches/daemon.rs, mqtt_timing): ON at
    // start - preroll and before the sound, OFF at end + hold.
    assert!(
        on >= a_s - 2.0 - EARLY && on < a_s,
        "ON {:.3} s off its time (start - preroll)",
        on - (a_s - 2.0)
    );
    assert!(
        off >= a_s + 2.0 + 1.0 - EARLY,
        "OFF {:.3} s off its time (end + hold)",
        off - (a_s + 3.0)
    );
    // The zone the program does not target stays off.
    assert!(
        !msgs
            .iter()
            .any(|(_, tp, p)| tp == "amp2/switch/relay/command" && p == "ON"),
        "thon-2 was switched on: {msgs:#?}"
    );
    // The board shows the title (folded to ASCII) when it airs.
    let shown =
        first(&msgs, "awtrix_cong/custom/loa", "Ban tin sang").expect("now playing on the board");
    assert!(
        shown >= a_s - EARLY && shown < off,
        "board text {:.3} s off the start, OFF {:.3} s after it",
        shown - a_s,
        off - a_s
    );
    // Status: retained, online, with the zones; nothing to a device retained.
    let status: Vec<_> = msgs
        .iter()
        .filter(|(_, t, _)| t == "loa/e2e/status")
        .collect();
    assert!(!status.is_empty());
    let last: serde_json::Value = serde_json::from_str(&status.last().unwrap().2).unwrap();
    assert_eq!(last["state"], "online");
    assert_eq!(last["zones"]["thon-1"], "off");
    assert_eq!(last["zones"]["thon-2"], "off");
    let faulted = status.iter().any(|(_, _, p)| {
        serde_json::from_str::<serde_json::Value>(p).unwrap()["zones"]["thon-3"] == "fault"
    });
    assert!(
        faulted,
        "a relay that does not report its switching is a fault: {status:#?}"
    );
    let was_on = status.iter().any(|(_, _, p)| {
        let v: serde_json::Value = serde_json::from_str(p).unwrap();
        v["zones"]["thon-1"] == "on" && v["now"]["program"] == "tin"
    });
    assert!(
        was_on,
        "status showed the program and the zone on: {status:#?}"
    );
    let rows: Vec<_> = msgs
        .iter()
        .filter(|(_, t, _)| t == "loa/e2e/airtime")
        .collect();
    assert_eq!(rows.len(), 1);
    let row: serde_json::Value = serde_json::from_str(&rows[0].2).unwrap();
    assert_eq!(row["program_id"], "tin");
    assert_eq!(row["outcome"], "completed");
    assert!(row["id"].as_i64().unwrap() > 0);

    // A crash: the Last Will says offline, retained.
    d.signal("KILL");
    drop(d);
    let late = broker.subscribe("loa/e2e/status");
    late.wait_for("retained offline status", 30, |m| {
        m.iter().any(|(_, _, p)| p.contains("offline"))
    });
}

#[test]
fn a_broker_outage_loses_no_airtime_row() {
    let mut broker = Broker::start();
    let (a, a_ms) = local_in(4);
    let a_s = a_ms as f64 / 1000.0;
    let mut items = String::new();
    for i in 0..20 {
        items.push_str(&format!(
            "      - tone: {{ hz: {}, for: 2s }}\n",
            300 + 20 * i
        ));
    }
    let dir = station(
        &broker,
        &format!("programs:\n  - id: dai\n    title: \"Chương trình dài\"\n    at: \"{a}\"\n    zones: all\n    items:\n{items}"),
    );
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 10);
    // Away from just after the start: all 20 items air meanwhile (40 s).
    let now = Utc::now().timestamp() as f64;
    std::thread::sleep(Duration::from_secs_f64((a_s - now + 0.5).max(0.0)));
    broker.stop();
    let db = dir.path().join("state/airtime.sqlite");
    loa_e2e::wait_until(
        "all items aired while the broker was away",
        Duration::from_secs(45),
        Duration::from_millis(500),
        || match count_rows(&db) {
            20 => Ok(()),
            n => Err(n),
        },
    );
    broker.start_again();
    // One subscriber, started at once: the station may reconnect any moment.
    let feed = broker.subscribe("#");
    let board = &feed;
    feed.wait_for("20 airtime rows", 60, |m| {
        m.iter().filter(|(_, t, _)| t == "loa/e2e/airtime").count() >= 20
    });
    let msgs = feed.messages();
    let ids: Vec<i64> = msgs
        .iter()
        .filter(|(_, t, _)| t == "loa/e2e/airtime")
        .map(|(_, _, p)| {
            serde_json::from_str::<serde_json::Value>(p).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 20, "every row, once: {ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    feed.wait_for("status back", 20, |m| {
        m.iter()
            .any(|(_, t, p)| t == "loa/e2e/status" && p.contains("\"online\""))
    });
    // The boards get their text again after the reconnect (the slogan-less
    // board is blank: its custom app is cleared or republished).
    board.wait_for("board republished", 20, |m| {
        m.iter().any(|(_, t, _)| t.starts_with("awtrix_cong/"))
    });
    let (status, _) = d.stop();
    assert!(status.success());
}

fn count_rows(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT count(*) FROM airtime WHERE outcome != 'airing'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}
