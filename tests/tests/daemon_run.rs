//! `loa run` with the real binary on a `wav` output: what aired, when, and
//! what the airtime log says; a crash and a restart; a broken reload; a
//! graceful stop; a simulated week.

use std::time::Duration;

use chrono::Utc;
use loa_e2e::{
    airtime_rows as rows, loa, local_in, station_dir, stderr, wait_rows, Aired, AirtimeRow, Daemon,
};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

const STATION: &str = r#"station:
  id: e2e
  name: "Đài thử nghiệm"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { output: main }
  thon-2: { output: main }
policy:
  loudness: null
  late_start: join
"#;

fn station(schedule: &str) -> tempfile::TempDir {
    station_dir(STATION, Some(schedule))
}

fn ms_of(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// `n` rows, none of them airing any more: what was scheduled has aired
/// (its rows say so; a clock only says when it should have).
fn closed(n: usize) -> impl Fn(&[AirtimeRow]) -> bool {
    move |rows| rows.len() >= n && rows.iter().all(|r| r.outcome != "airing")
}

#[test]
fn programs_air_on_the_second_and_the_log_says_so() {
    let (a, a_ms) = local_in(5);
    let (b, b_ms) = local_in(12);
    let dir = station(&format!(
        "programs:
  - id: a
    at: \"{a}\"
    zones: all
    items:
      - tone: {{ hz: 1000, for: 2s }}
      - silence: 1s
      - tone: {{ hz: 500, for: 1s }}
  - id: b
    at: \"{b}\"
    zones: [thon-1]
    items:
      - tone: {{ hz: 2000, for: 1s }}
"
    ));
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    wait_rows(
        dir.path(),
        "both programs aired",
        Duration::from_secs(14),
        closed(4),
    );
    let (status, _) = d.stop();
    assert!(status.success(), "exit {status:?}");

    let aired = Aired::read(&wav);
    let on_a = aired
        .onset_after(a_ms - 2_000, 0.05)
        .expect("program a aired");
    let late_a = aired.time_ms(on_a) - a_ms as f64;
    assert!(
        late_a.abs() < 30.0,
        "a started {late_a:.1} ms off its second"
    );
    let off = aired.silence_after(on_a, 0.01).unwrap();
    let tone_ms = (off - on_a) as f64 * 1000.0 / 48_000.0;
    assert!(
        (tone_ms - 2000.0).abs() < 30.0,
        "first tone lasted {tone_ms:.1} ms"
    );
    let on_b = aired.onset_after(b_ms - 500, 0.05).unwrap_or_else(|| {
        panic!(
            "program b did not air: wav {} ms from {}, b at {b_ms}; rows {:#?}",
            aired.level.len() / 48,
            aired.started_ms,
            rows(dir.path())
        )
    });
    let late_b = aired.time_ms(on_b) - b_ms as f64;
    assert!(
        late_b.abs() < 30.0,
        "b started {late_b:.1} ms off its second"
    );

    let rows = rows(dir.path());
    let kinds: Vec<&str> = rows.iter().map(|r| r.source_kind.as_str()).collect();
    assert_eq!(kinds, ["tone", "silence", "tone", "tone"], "{rows:#?}");
    for r in &rows {
        assert_eq!(r.outcome, "completed", "{r:?}");
    }
    assert_eq!(ms_of(rows[0].scheduled_at.as_deref().unwrap()), a_ms);
    assert!(
        (ms_of(&rows[0].started_at) - a_ms).abs() < 30,
        "{:?}",
        rows[0]
    );
    assert!((rows[0].aired_ms - 2000).abs() <= 5, "{:?}", rows[0]);
    assert_eq!(ms_of(rows[3].scheduled_at.as_deref().unwrap()), b_ms);
}

#[test]
fn after_kill_9_the_row_is_interrupted_and_the_program_rejoins_at_its_offset() {
    let (a, a_ms) = local_in(3);
    let dir = station(&format!(
        "programs:
  - id: dai
    at: \"{a}\"
    zones: all
    items:
      - tone: {{ hz: 440, for: 20s }}
"
    ));
    let wav1 = dir.path().join("one.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav1);
    // The open row keeps the aired time it last saved: killed once it has
    // saved some seconds.
    let saved = wait_rows(
        dir.path(),
        "aired time saved",
        Duration::from_secs(8),
        |r| r.len() == 1 && r[0].outcome == "airing" && r[0].aired_ms >= 3_000,
    )[0]
    .aired_ms;
    d.signal("KILL");
    let killed_ms = Utc::now().timestamp_millis();
    drop(d);
    let left = rows(dir.path());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].outcome, "airing", "a power cut leaves the row open");

    let restart_ms = Utc::now().timestamp_millis();
    let wav2 = dir.path().join("two.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav2);
    wait_rows(
        dir.path(),
        "the rejoined program's end",
        Duration::from_secs(20),
        closed(2),
    );
    // The silence after the tone reaches the WAV too.
    std::thread::sleep(Duration::from_millis(500));
    let (status, _) = d.stop();
    assert!(status.success());

    let rows = rows(dir.path());
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0].outcome, "interrupted");
    assert!(
        rows[0].aired_ms >= saved && rows[0].aired_ms <= killed_ms - a_ms,
        "the last saved aired time ({saved} ms seen saved, killed {} ms in): {:?}",
        killed_ms - a_ms,
        rows[0]
    );
    assert!(rows[0].detail.is_some());
    // Joined at the offset it would have reached (not from the top, which
    // would end as late as the restart): it ends on time, late only by what
    // handing the join to the deck took (the benches print how long).
    assert_eq!(rows[1].outcome, "completed", "{:?}", rows[1]);
    let end = ms_of(rows[1].ended_at.as_deref().unwrap());
    assert!(
        (-5..2_000).contains(&(end - (a_ms + 20_000))),
        "ended {} ms off",
        end - (a_ms + 20_000)
    );
    assert!(ms_of(&rows[1].started_at) >= restart_ms);
    let aired = Aired::read(&wav2);
    let on = aired
        .onset_after(restart_ms, 0.05)
        .expect("the tone aired again");
    let off = aired.silence_after(on, 0.01).expect("and ended");
    // The WAV and the row agree to the sample (the row's times are the
    // deck's; the file's are rounded to the millisecond).
    let off_ms = aired.time_ms(off) as i64;
    assert!(
        (off_ms - end).abs() <= 2,
        "the tone ended at {off_ms}, the row says {end}"
    );
}

#[test]
fn a_broken_reload_keeps_the_last_good_schedule_on_air() {
    let (a, a_ms) = local_in(6);
    let dir = station(&format!(
        "programs:
  - id: a
    at: \"{a}\"
    zones: all
    items:
      - tone: {{ hz: 800, for: 1s }}
"
    ));
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    d.wait_for_log("on air", 10);
    std::fs::write(
        dir.path().join("schedules/b.yaml"),
        "programs:\n  - id: b\n    at: \"25:00\"\n    zones: all\n    items: [{ file: x.mp3 }]\n",
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for_log("reload refused", 10);
    let log = d.log_text();
    assert!(
        log.contains("schedules/b.yaml:3:9"),
        "errors name file:line:column:\n{log}"
    );
    wait_rows(
        dir.path(),
        "the program aired",
        Duration::from_secs(8),
        closed(1),
    );
    let (status, _) = d.stop();
    assert!(status.success());
    let rows = rows(dir.path());
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].outcome, "completed");
    assert_eq!(ms_of(rows[0].scheduled_at.as_deref().unwrap()), a_ms);
}

#[test]
fn sigterm_mid_item_fades_out_and_closes_the_row_as_shutdown() {
    let (a, a_ms) = local_in(3);
    let dir = station(&format!(
        "programs:
  - id: a
    at: \"{a}\"
    zones: all
    items:
      - tone: {{ hz: 600, for: 60s }}
"
    ));
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    // Mid-item: a second after its row opened (a busy machine makes it more).
    wait_rows(dir.path(), "the item on air", Duration::from_secs(4), |r| {
        r.len() == 1
    });
    std::thread::sleep(Duration::from_secs(1));
    let (status, _) = d.stop();
    let stopped_ms = Utc::now().timestamp_millis();
    assert!(status.success());
    let rows = rows(dir.path());
    assert_eq!(
        (rows[0].outcome.as_str(), rows[0].detail.as_deref()),
        ("cut", Some("shutdown"))
    );
    // What aired until the stop, fade included: not less than the second
    // waited, not more than the time from the start to the exit.
    assert!(
        (1_000..=stopped_ms - a_ms).contains(&rows[0].aired_ms),
        "{:?}",
        rows[0]
    );
    // The WAV ends with the fade, not in the middle of the tone: the file
    // is closed cleanly and its last sample is silent.
    let aired = Aired::read(&wav);
    let last = aired.level.last().copied().unwrap_or(1.0);
    assert!(last < 0.01, "the WAV ends at level {last}");
}

#[test]
fn a_simulated_week_counts_every_occurrence() {
    let st = loa_e2e::example_station();
    let db = st.path().join("week.sqlite");
    let out = loa(
        BIN,
        &[
            "simulate",
            "--config",
            st.path().to_str().unwrap(),
            "--from",
            "2026-12-07",
            "--days",
            "7",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let c = rusqlite::Connection::open(&db).unwrap();
    let count = |p: &str| -> i64 {
        c.query_row(
            "SELECT count(DISTINCT scheduled_at) FROM airtime WHERE program_id = ?1",
            [p],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("phien-sang"), 7);
    assert_eq!(count("vov1-sang"), 7);
    assert_eq!(count("thoi-su-xa"), 3);
    assert_eq!(count("tiep-song-tinh"), 7);
    assert_eq!(count("nhac-cuoi-tuan"), 2);
    // Relays are cut by their window: 30 minutes each.
    let relay_ms: i64 = c
        .query_row(
            "SELECT sum(aired_ms) FROM airtime WHERE source_kind = 'stream'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(relay_ms, 14 * 30 * 60 * 1000);
}

#[test]
fn an_edited_schedule_file_is_picked_up_without_a_signal() {
    let (a, a_ms) = local_in(8);
    let dir = station("programs: []\n");
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    d.wait_for_log("on air", 10);
    // The operator saves a new program (as an editor does: write, then rename).
    let tmp = dir.path().join("schedules/.b.yaml.swp");
    std::fs::write(
        &tmp,
        format!("programs:\n  - id: moi\n    at: \"{a}\"\n    zones: all\n    items:\n      - tone: {{ hz: 900, for: 1s }}\n"),
    )
    .unwrap();
    std::fs::rename(&tmp, dir.path().join("schedules/b.yaml")).unwrap();
    d.wait_for_log("reloaded: 1 programs", 10);
    wait_rows(
        dir.path(),
        "the new program aired",
        Duration::from_secs(10),
        closed(1),
    );
    let (status, _) = d.stop();
    assert!(status.success());
    let rows = rows(dir.path());
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].outcome, "completed");
    assert_eq!(ms_of(rows[0].scheduled_at.as_deref().unwrap()), a_ms);
}

#[test]
fn a_relay_dead_from_the_start_airs_its_fallback_and_leaves_rows_that_say_why() {
    // A refused port: what a station sees the day its stream moves.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (at, at_ms) = local_in(6);
    let dir = station_dir(
        &STATION.replace(
            "  late_start: join\n",
            "  late_start: join\n  silence: { below: -50dB, for: 3s }\n",
        ),
        Some(&format!(
            "programs:
  - id: vov1
    title: \"Tiếp sóng VOV1\"
    category: relay
    at: \"{at}\"
    duration: 12s
    zones: all
    items:
      - stream: [\"http://127.0.0.1:{refused}/vov1/playlist.m3u8\", \"http://127.0.0.1:{refused}/;stream/\"]
        fallback: [nhac-nen.wav]
"
        )),
    );
    // The fallback: a 5 s tone (it loops while the relay is dead).
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(media.join("nhac-nen.wav"), spec).unwrap();
    for i in 0..48_000 * 5 {
        let s = ((i as f32 * 330.0 * std::f32::consts::TAU / 48_000.0).sin() * 12_000.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    // The window's end cuts the fallback and closes the relay's rows.
    wait_rows(
        dir.path(),
        "the window's end",
        Duration::from_secs(20),
        |r| {
            r.iter()
                .any(|x| x.source_kind == "file" && x.outcome == "cut")
                && r.iter().filter(|x| x.source_kind == "stream").count() == 2
                && r.iter().all(|x| x.outcome != "airing")
        },
    );
    // The silence after the window reaches the WAV too.
    std::thread::sleep(Duration::from_millis(500));
    let (status, _) = d.stop();
    assert!(status.success(), "exit {status:?}");

    // The fallback airs within policy.silence.for (3 s) of the start, and
    // the window is never silent for long after that.
    let aired = Aired::read(&wav);
    let on = aired
        .onset_after(at_ms - 500, 0.05)
        .expect("the fallback aired");
    let late = aired.time_ms(on) - at_ms as f64;
    assert!(
        late < 3_000.0,
        "the fallback aired {late:.0} ms into the window"
    );
    let off = aired.silence_after(on, 0.01).expect("the window closed");
    let aired_for = aired.time_ms(off) - aired.time_ms(on);
    assert!(
        aired_for > 10_000.0,
        "the fallback covered the window, not {aired_for:.0} ms of it"
    );

    // The log book: the fallback's rows, and a failed row per source that
    // says why, on the program's day, planning the window once.
    let rows = rows(dir.path());
    let fallback: Vec<_> = rows.iter().filter(|r| r.source_kind == "file").collect();
    assert!(!fallback.is_empty(), "{rows:?}");
    assert!(fallback.iter().all(|r| r.aired_ms > 0), "{rows:?}");
    let relay: Vec<_> = rows.iter().filter(|r| r.source_kind == "stream").collect();
    assert_eq!(relay.len(), 2, "one row per source: {rows:?}");
    for r in &relay {
        assert_eq!(r.outcome, "failed", "{r:?}");
        assert_eq!(r.aired_ms, 0, "{r:?}");
        let detail = r.detail.as_deref().unwrap_or("");
        assert!(detail.contains("refused"), "the cause: {r:?}");
        assert!(
            (ms_of(&r.started_at) - at_ms).abs() < 1_500,
            "the row starts with the program: {r:?}"
        );
    }
    assert!(relay[0].source.contains("playlist.m3u8"), "{relay:?}");
    let c = rusqlite::Connection::open(dir.path().join("state/airtime.sqlite")).unwrap();
    let planned: Vec<i64> = c
        .prepare("SELECT planned_ms FROM airtime WHERE source_kind = 'stream' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        (11_000..=12_500).contains(&planned[0]) && planned[1] == 0,
        "the window is planned once: {planned:?}"
    );
}

#[test]
fn a_reload_stuck_on_a_slow_file_never_delays_a_program() {
    // A reload probes every file the schedule names. A file that cannot be
    // read (here a FIFO: opening it waits for a writer, as a dying disk or a
    // hung network share would) must not hold the loop: the program due
    // meanwhile starts on its second, and the daemon still stops at once.
    let (a, a_ms) = local_in(6);
    let dir = station(&format!(
        "programs:
  - id: a
    at: \"{a}\"
    zones: all
    items:
      - tone: {{ hz: 800, for: 1s }}
"
    ));
    let wav = dir.path().join("out.wav");
    let d = Daemon::start_to_wav(BIN, dir.path(), &wav);
    d.wait_for_log("on air", 10);
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    let fifo = dir.path().join("media/slow.wav");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(
        dir.path().join("schedules/b.yaml"),
        "programs:\n  - id: b\n    at: \"23:59\"\n    zones: all\n    items: [{ file: slow.wav }]\n",
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for_log("SIGHUP: reloading", 10);
    wait_rows(
        dir.path(),
        "the program aired",
        Duration::from_secs(8),
        closed(1),
    );
    let log = d.log_text();
    assert!(
        !log.contains("reloaded") && !log.contains("reload refused"),
        "the reload is still waiting on the FIFO:\n{log}"
    );
    let rows_now = rows(dir.path());
    assert_eq!(rows_now.len(), 1, "{rows_now:#?}");
    assert_eq!(rows_now[0].outcome, "completed");
    assert!(
        (ms_of(&rows_now[0].started_at) - a_ms).abs() < 30,
        "a started on its second while the reload waited: {:?}",
        rows_now[0]
    );
    // The stuck reload cannot be cancelled; the shutdown waits for it a
    // bounded time (the exit comes: `stop` fails the test otherwise), names
    // it, and exits 0.
    let log_path = d.log.clone();
    let (status, _) = d.stop();
    assert!(status.success(), "exit {status:?}");
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(
        log.contains("shutdown: reload did not end within"),
        "the journal names the task that did not end:\n{log}"
    );
}
