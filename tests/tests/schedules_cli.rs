//! `loa check`, `loa agenda` and `loa schema`, run as the operator runs them.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loa_e2e::{example_station, loa, repo, station_dir, stderr, stdout, NO_RELAY};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

#[test]
fn the_example_station_is_valid_without_warnings() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    let out = loa(BIN, &["check", "--config", dir]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("valid: 7 programs, 6 slogans, 4 zones, 2 boards"),
        "{text}"
    );
    assert!(!text.contains("warning"), "{text}");
    // The programs that follow the calendar, with the days they meet.
    assert!(
        text.contains("calendar: schedules/30-le-tet.yaml:25:5: program `trung-thu` airs "),
        "{text}"
    );
    assert!(text.contains("(âm lịch 15/8 "), "{text}");

    let out = loa(BIN, &["check", "--config", dir, "--format", "json"]);
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let calendar = v.as_object_mut().unwrap().remove("calendar").unwrap();
    assert_eq!(
        v,
        serde_json::json!({"valid": true, "errors": [], "warnings": []})
    );
    let programs: Vec<&str> = calendar["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["program"].as_str().unwrap())
        .collect();
    assert_eq!(programs, ["thoi-su-xa", "chuc-tet", "trung-thu"]);
}

#[test]
fn the_agenda_of_a_tet_day_says_so_and_follows_the_calendar() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    // Monday 8 February 2027, mùng 3 Tết: the greeting airs, the Monday
    // news (`except: [holidays]`) does not.
    let out = loa(BIN, &["agenda", "--config", dir, "--date", "2027-02-08"]);
    let text = stdout(&out);
    assert!(
        text.contains("Monday 2027-02-08 (âm lịch 3/1 Đinh Mùi; Tết Nguyên Đán)"),
        "{text}"
    );
    assert!(text.contains("07:00-07:20  airs"), "{text}");
    assert!(text.contains("Chúc mừng năm mới"), "{text}");
    assert!(!text.contains("Chương trình thời sự xã"), "{text}");
    let out = loa(
        BIN,
        &[
            "agenda",
            "--config",
            dir,
            "--date",
            "2027-02-08",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["lunar"] == "3/1" && e["holidays"] == serde_json::json!(["tet"])));
}

#[test]
fn mistakes_are_reported_with_file_line_column_and_exit_1() {
    let st = example_station();
    let file = st.path().join("schedules/10-hang-ngay.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text
        .replacen(
            "    title: \"Tiếp sóng VOV1",
            "    tittle: \"Tiếp sóng VOV1",
            1,
        )
        .replacen(
            "zones: [thon-1, thon-2, thon-3]",
            "zones: [thon-1, thon-2, thon-5]",
            1,
        );
    std::fs::write(&file, &broken).unwrap();
    let line_of =
        |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1;
    let dir = st.path().to_str().unwrap();

    let out = loa(BIN, &["check", "--config", dir, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0]["file"], "schedules/10-hang-ngay.yaml");
    assert_eq!(errors[0]["line"], line_of("tittle"));
    assert_eq!(errors[0]["column"], 5);
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `title`?"));
    assert_eq!(errors[1]["line"], line_of("thon-5"));
    assert!(errors[1]["message"]
        .as_str()
        .unwrap()
        .contains("unknown zone `thon-5`"));

    let out = loa(BIN, &["check", "--config", dir]);
    assert_eq!(out.status.code(), Some(1));
    let first = stdout(&out).lines().next().unwrap().to_string();
    assert_eq!(
        first,
        format!(
            "schedules/10-hang-ngay.yaml:{}:5: unknown key `tittle` in program; did you mean `title`?",
            line_of("tittle")
        )
    );
}

#[test]
fn a_missing_config_directory_is_one_clear_line() {
    let out = loa(BIN, &["check", "--config", "/nonexistent/loa"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("station.yaml:1:1: cannot read the file"),
        "{text}"
    );
    assert!(text.contains("--config"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check", "--format", "xml"][..],
        &["agenda", "--date", "2026-13-01"],
        &["agenda", "--from", "2026-12-01"],
        &["frobnicate"],
    ] {
        let out = loa(BIN, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_agenda_of_a_monday_and_a_saturday() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    let out = loa(
        BIN,
        &[
            "agenda",
            "--config",
            dir,
            "--date",
            "2026-12-07",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["program"].as_str().unwrap().to_string(),
                e["start"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("phien-sang", "2026-12-07T05:30:00+07:00"),
        ("vov1-sang", "2026-12-07T06:00:00+07:00"),
        ("thoi-su-xa", "2026-12-07T17:00:00+07:00"),
        ("tiep-song-tinh", "2026-12-07T17:30:00+07:00"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((p, s, o), (wp, ws)) in got.iter().zip(want) {
        assert_eq!((p.as_str(), s.as_str(), o.as_str()), (wp, ws, "airs"));
    }
    // The relay has a hard window of 30 minutes.
    assert_eq!(v[1]["end"], "2026-12-07T06:30:00+07:00");
    assert_eq!(
        v[3]["zones"],
        serde_json::json!(["thon-1", "thon-2", "thon-3"])
    );

    let out = loa(BIN, &["agenda", "--config", dir, "--date", "2026-12-12"]);
    let text = stdout(&out);
    assert!(text.contains("Saturday 2026-12-12"), "{text}");
    assert!(text.contains("16:00-"), "{text}");
    assert!(text.contains("Ca nhạc cuối tuần"), "{text}");
    assert!(!text.contains("Chương trình thời sự xã"), "{text}");
}

/// A test program every minute (as the demo adds) left out with --exclude:
/// the day's agenda is the station's own, without a line about it; and
/// --program shows one program as it airs among the others.
#[test]
fn the_agenda_without_a_test_program_and_of_one_program() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    let day = ["agenda", "--config", dir, "--date", "2026-12-07"];
    // Around the clock, as the demo: without the example's quiet hours.
    let station = st.path().join("station.yaml");
    let yaml = std::fs::read_to_string(&station).unwrap();
    std::fs::write(&station, yaml.replace("quiet_hours:", "# quiet_hours:")).unwrap();
    let plain = stdout(&loa(BIN, &day));
    std::fs::write(
        st.path().join("schedules/90-thu.yaml"),
        r#"programs:
  - id: thu-moi-phut
    title: "Phát thử mỗi phút"
    category: ident
    cron: "0 * * * * *"
    zones: all
    priority: filler
    if_busy: skip
    duration: 40s
    items:
      - tone: { hz: 880, for: 1s }
"#,
    )
    .unwrap();
    let with_test = stdout(&loa(BIN, &day));
    assert!(with_test.contains("Phát thử mỗi phút"), "{with_test}");
    let out = loa(BIN, &[&day[..], &["--exclude", "thu-moi-phut"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), plain);

    let out = loa(
        BIN,
        &[
            &day[..],
            &["--program", "vov1-sang,thoi-su-xa", "--format", "json"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["program"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["vov1-sang", "thoi-su-xa"]);

    let out = loa(BIN, &[&day[..], &["--exclude", "vov1-sagn"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--exclude: no program has the id `vov1-sagn`; did you mean `vov1-sang`?"),
        "{err}"
    );
}

#[test]
fn a_week_of_agenda_counts_every_occurrence() {
    let st = example_station();
    let dir = st.path().to_str().unwrap();
    let out = loa(
        BIN,
        &[
            "agenda",
            "--config",
            dir,
            "--from",
            "2026-12-07",
            "--to",
            "2026-12-13",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let count = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["program"] == id)
            .count()
    };
    assert_eq!(count("phien-sang"), 7);
    assert_eq!(count("vov1-sang"), 7);
    assert_eq!(count("thoi-su-xa"), 3);
    assert_eq!(count("tiep-song-tinh"), 7);
    assert_eq!(count("nhac-cuoi-tuan"), 2);
}

#[test]
fn the_committed_schemas_are_what_loa_schema_prints() {
    for kind in ["station", "schedule"] {
        let out = loa(BIN, &["schema", "--kind", kind]);
        assert_eq!(out.status.code(), Some(0));
        let path = repo().join(format!("deploy/schema/{kind}.schema.json"));
        let committed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            stdout(&out),
            committed,
            "{} is stale: run `loa schema --kind {kind} > {}`",
            path.display(),
            path.display()
        );
    }
}

/// `loa --help` and every command's help are complete: each has examples.
#[test]
fn every_command_helps_with_examples() {
    let top = stdout(&loa(BIN, &["--help"]));
    assert!(top.contains("Examples:"), "{top}");
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    for expected in [
        "run", "check", "agenda", "now", "stop", "status", "report", "doctor",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "`{expected}` missing from loa --help"
        );
    }
    for c in &commands {
        let out = loa(BIN, &[c, "--help"]);
        assert!(out.status.success(), "loa {c} --help failed");
        let text = stdout(&out);
        assert!(
            text.contains("\nExamples:\n  "),
            "loa {c} --help has no examples:\n{text}"
        );
    }
}

/// Two seconds of a 440 Hz tone as a 64 kb/s mono CBR MP3 without a Xing
/// header, so that copies can follow each other endlessly.
fn mp3_tone(dir: &Path) -> Vec<u8> {
    let (wav, mp3) = (dir.join("tone.wav"), dir.join("tone.mp3"));
    let st = Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "1", "-b", "16"])
        .arg(&wav)
        .args(["synth", "2", "sine", "440", "vol", "0.5"])
        .status()
        .expect("sox (scripts/install-deps)");
    assert!(st.success());
    let st = Command::new("lame")
        .args(["--quiet", "-t", "--cbr", "-b", "64"])
        .arg(&wav)
        .arg(&mp3)
        .status()
        .expect("lame (scripts/install-deps)");
    assert!(st.success());
    std::fs::read(mp3).unwrap()
}

/// Six seconds of a 440 Hz tone as AAC (48 kHz mono, 48 kb/s), cut by
/// ffmpeg into an HLS playlist of 2 s MPEG-TS segments in `dir`.
fn hls_tone(dir: &Path) {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg("sine=frequency=440:sample_rate=48000:duration=6")
        .args(["-ac", "1", "-c:a", "aac", "-b:a", "48k", "-f", "hls"])
        .args(["-hls_time", "2", "-hls_playlist_type", "vod"])
        .arg("-hls_segment_filename")
        .arg(dir.join("seg%d.ts"))
        .arg(dir.join("playlist.m3u8"))
        .status()
        .expect("ffmpeg (scripts/install-deps)");
    assert!(st.success());
}

/// A radio origin on 127.0.0.1: `/stream` is an Icecast-style endless MP3
/// body at about real time; any other path is that file of `files` (an HLS
/// playlist and its segments), or 404. Returns its port and the paths asked
/// for, in order.
fn origin(tone: Vec<u8>, files: PathBuf) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let tone = Arc::new(tone);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let (tone, log, files) = (tone.clone(), log.clone(), files.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                if path != "/stream" {
                    let _ = match std::fs::read(files.join(path.trim_start_matches('/'))) {
                        Ok(body) => stream
                            .write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes())
                            .and_then(|_| stream.write_all(&body)),
                        Err(_) => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                    };
                    return;
                }
                let head = "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: Test\r\nicy-br: 64\r\n\r\n";
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                // 64 kb/s: 8,000 bytes a second; one second at once, then real time.
                let start = Instant::now();
                let (mut sent, mut pos) = (0usize, 0usize);
                loop {
                    let due = 8_000 + start.elapsed().as_millis() as usize * 8;
                    if sent >= due {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    let from = pos % tone.len();
                    let n = 400.min(tone.len() - from);
                    if stream.write_all(&tone[from..from + n]).is_err() {
                        return; // the client has what it needed
                    }
                    pos += n;
                    sent += n;
                }
            });
        }
    });
    (port, asked)
}

/// `loa check --online` fetches each relay source once and says what it
/// found: an HLS playlist of AAC segments, an Icecast MP3 stream (named by
/// two programs, fetched once), and a port that refuses (a warning: the
/// relay airs its other sources meanwhile). Plain `loa check` stays off the
/// network.
#[test]
fn check_online_says_what_each_relay_source_is() {
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("hls");
    std::fs::create_dir(&files).unwrap();
    hls_tone(&files);
    let (port, asked) = origin(mp3_tone(tmp.path()), files);
    let hls = format!("http://127.0.0.1:{port}/playlist.m3u8");
    let icecast = format!("http://127.0.0.1:{port}/stream");
    let refused = format!("{NO_RELAY}/;stream/");
    let schedule = [
        "programs:".to_string(),
        "  - id: tiep-song".into(),
        "    at: \"06:00\"".into(),
        "    zones: all".into(),
        "    duration: 30m".into(),
        "    items:".into(),
        format!("      - stream: [{hls}, {icecast}, {refused}]"),
        "  - id: tiep-song-toi".into(),
        "    at: \"18:00\"".into(),
        "    zones: all".into(),
        "    duration: 30m".into(),
        "    items:".into(),
        format!("      - stream: {icecast}"),
    ]
    .join("\n")
        + "\n";
    let st = station_dir(
        "station: { id: e2e, name: \"Đài thử\", timezone: Asia/Ho_Chi_Minh }\n\
         paths: { media: media, state: state }\n\
         outputs: { main: \"null\" }\n\
         zones: { thon-1: { name: \"Thôn 1\" } }\n",
        Some(&schedule),
    );
    let dir = st.path().to_str().unwrap();

    let out = loa(BIN, &["check", "--config", dir]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("online"), "{}", stdout(&out));
    assert!(
        asked.lock().unwrap().is_empty(),
        "plain check stays offline"
    );

    let out = loa(BIN, &["check", "--config", dir, "--online"]);
    let text = stdout(&out);
    // Unreachable is a warning: the station still airs.
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
            .to_string()
    };
    let seconds = |line: &str, before: &str| {
        line.strip_prefix(before)
            .and_then(|rest| rest.strip_suffix(" s"))
            .and_then(|n| n.parse::<f64>().ok())
            .is_some_and(|s| s < 15.0)
    };
    let first = line(&format!(
        "online: tiep-song item 1 source 1 {hls}: HLS, AAC "
    ));
    assert!(
        first.contains(" kb/s, 48000 Hz mono, segments 2 s, first audio in "),
        "{first}"
    );
    let mp3 = "Icecast, MP3 64 kb/s, 44100 Hz mono, first audio in ";
    for name in ["tiep-song item 1 source 2", "tiep-song-toi item 1 source 1"] {
        let before = format!("online: {name} {icecast}: {mp3}");
        let l = line(&format!("online: {name} "));
        assert!(seconds(&l, &before), "{l}");
    }
    let third = line(&format!("online: tiep-song item 1 source 3 {refused}: "));
    assert!(third.contains(": unreachable: "), "{third}");
    assert!(third.to_lowercase().contains("refused"), "{third}");
    let item_line = schedule.lines().position(|l| l.contains(&refused)).unwrap() + 1;
    let warning = line(&format!(
        "schedules/a.yaml:{item_line}:9: warning: program `tiep-song` item 1: stream source 3 {refused} is unreachable: "
    ));
    assert!(
        warning.contains("until it answers the relay airs its other sources, or silence (the item has no fallback)"),
        "{warning}"
    );
    assert!(
        text.contains("valid: 2 programs, 0 slogans, 1 zones, 0 boards, 1 warning"),
        "{text}"
    );
    {
        let asked = asked.lock().unwrap();
        let streams = asked.iter().filter(|p| *p == "/stream").count();
        assert_eq!(streams, 1, "the Icecast source is fetched once: {asked:?}");
        assert!(asked.iter().any(|p| p == "/playlist.m3u8"), "{asked:?}");
    }

    let out = loa(
        BIN,
        &["check", "--config", dir, "--online", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let online = v["online"].as_array().expect("an online array");
    assert_eq!(online.len(), 4, "{v:#}");
    let fields = |o: &serde_json::Value, keys: &[&str]| -> serde_json::Value {
        keys.iter()
            .map(|k| (k.to_string(), o[*k].clone()))
            .collect()
    };
    assert_eq!(
        fields(
            &online[0],
            &[
                "program",
                "item",
                "source",
                "url",
                "reachable",
                "format",
                "codec",
                "segment_ms",
                "sample_rate",
                "channels"
            ]
        ),
        serde_json::json!({"program": "tiep-song", "item": 1, "source": 1, "url": hls, "reachable": true,
            "format": "HLS", "codec": "AAC", "segment_ms": 2000, "sample_rate": 48000, "channels": 1}),
    );
    assert_eq!(
        fields(
            &online[1],
            &[
                "url",
                "reachable",
                "format",
                "codec",
                "bitrate",
                "segment_ms"
            ]
        ),
        serde_json::json!({"url": icecast, "reachable": true, "format": "Icecast", "codec": "MP3",
            "bitrate": 64000, "segment_ms": null}),
    );
    assert!(online[1]["first_audio_ms"].as_u64().is_some(), "{v:#}");
    assert_eq!(
        fields(&online[2], &["source", "url", "reachable"]),
        serde_json::json!({"source": 3, "url": refused, "reachable": false}),
    );
    assert!(
        online[2]["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("refused"),
        "{v:#}"
    );
    assert_eq!(online[3]["program"], "tiep-song-toi");
    assert_eq!(v["valid"], true);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1, "{v:#}");
}
