//! LED boards that come back: a board controller restarted by a power cut
//! in the village, or one that connects after Loa, shows the current text
//! at once, an emergency's included. A real mosquitto, the real
//! daemon; the boards are MQTT clients that connect late.

use std::time::Duration;

use loa_e2e::{local_in, station_dir, Broker, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

#[test]
fn a_board_that_comes_back_shows_the_emergency_again() {
    let broker = Broker::start();
    let (a, _) = local_in(3);
    let dir = station_dir(
        &format!(
            r#"station:
  id: e2e
  name: "Đài thử bảng LED"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  main: "null"
zones:
  thon-1: {{ output: main }}
boards:
  cho:
    preset: tasmota
    topic: led-cho
    charset: ascii
    show_now_playing: true
  nha-van-hoa:
    preset: text
    topic: bang/nha-van-hoa
    charset: utf8
    show_now_playing: true
mqtt:
  url: {}
policy:
  loudness: null
"#,
            broker.url()
        ),
        Some(&format!(
            r#"programs:
  - id: canh-bao
    title: "Bão số 3"
    at: "{a}"
    priority: emergency
    zones: all
    items:
      - tone: {{ hz: 700, for: 600s }}
"#
        )),
    );
    let d = Daemon::start(BIN, dir.path(), &[]);
    d.wait_for_log("mqtt: connected", 15);
    // Loa has sent the emergency to both boards; wait until it airs.
    let early = broker.subscribe("bang/nha-van-hoa");
    early.wait_for("the emergency on the text board", 15, |m| {
        m.iter().any(|(_, _, p)| p == "Bão số 3")
    });

    // The text board's controller starts only now: the broker gives it the
    // emergency at once (retained).
    let late = broker.subscribe("bang/nha-van-hoa");
    late.wait_for(
        "the retained emergency for a board that connects late",
        3,
        |m| m.iter().any(|(_, _, p)| p == "Bão số 3"),
    );

    // The Tasmota board lost power: its Last Will says Offline, and when it
    // is back its birth message says Online; Loa answers with its text.
    let cmnd = broker.subscribe("cmnd/led-cho/#");
    broker.publish("tele/led-cho/LWT", "Offline", true);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !cmnd
            .messages()
            .iter()
            .any(|(_, t, _)| t == "cmnd/led-cho/DisplayText"),
        "nothing is sent to a board that is offline: {:?}",
        cmnd.messages()
    );
    broker.publish("tele/led-cho/LWT", "Online", true);
    cmnd.wait_for("the emergency sent again to the Tasmota board", 5, |m| {
        let text = m
            .iter()
            .position(|(_, t, p)| t == "cmnd/led-cho/DisplayText" && p == "Bao so 3");
        let blink = m
            .iter()
            .position(|(_, t, p)| t == "cmnd/led-cho/DisplayBlinkrate" && p == "1");
        matches!((text, blink), (Some(t), Some(b)) if t < b)
    });
    let (status, _) = d.stop();
    assert!(status.success());
    // Loa stopped: what it leaves retained is the board's state after the
    // emergency (blank here), not the emergency.
    let after = broker.subscribe("bang/nha-van-hoa");
    std::thread::sleep(Duration::from_millis(500));
    let seen = after.messages();
    assert!(
        seen.iter().all(|(_, _, p)| p != "Bão số 3"),
        "a stopped station leaves no emergency on the boards: {seen:?}"
    );
}
