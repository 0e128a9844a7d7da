//! A corpus of mistakes station operators really make, each asserting the
//! exact file and line `loa check` names and the gist of what it says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use loa_schedules::check::check_dir;
use loa_schedules::{Diagnostic, MediaProbe};

const STATION: &str = r#"station:
  id: test
  name: "Đài truyền thanh xã Thử"
  timezone: Asia/Ho_Chi_Minh
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { name: "Thôn 1", output: main }
  thon-2: { name: "Thôn 2", output: main }
boards:
  cong: { preset: awtrix, topic: awtrix_cong }
policy:
  quiet_hours: "21:30-05:00"
  max_session: 45m
"#;

/// Media lengths by file name; anything else does not exist.
struct Table(HashMap<&'static str, Duration>);

impl MediaProbe for Table {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        self.0
            .get(name)
            .copied()
            .ok_or_else(|| "file not found".to_string())
    }

    /// An engine with espeak-ng's Vietnamese voices.
    fn tts_voices(&self, _command: &[String]) -> Result<Option<Vec<String>>, String> {
        Ok(Some(
            ["vi", "vi-vn-x-central", "vi-vn-x-south", "en"]
                .map(String::from)
                .to_vec(),
        ))
    }
}

/// A station whose `tts` has a mistake on every line from line 6 on.
const STATION_TTS: &str = r#"station:
  id: test
  name: "Đài truyền thanh xã Thử"
  timezone: Asia/Ho_Chi_Minh
tts:
  voice: vi-vn-x-nam
  rate: 500
  pitch: -1
  numbers: southen
  lexicon: schedules/viet-tat.txt
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { name: "Thôn 1", output: main }
"#;

fn probe() -> Table {
    Table(HashMap::from([
        ("jingle.mp3", Duration::from_secs(10)),
        ("news.mp3", Duration::from_secs(600)),
        ("long.mp3", Duration::from_secs(3600)),
        ("nen.mp3", Duration::from_secs(60)),
    ]))
}

struct Case {
    name: &'static str,
    station: Option<&'static str>,
    files: &'static [(&'static str, &'static str)],
    /// (file, line, gist, is_error)
    expect: &'static [(&'static str, u32, &'static str, bool)],
}

fn run(case: &Case) -> Vec<Diagnostic> {
    let dir = tempdir(case.name);
    std::fs::write(dir.join("station.yaml"), case.station.unwrap_or(STATION)).unwrap();
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    for (name, text) in case.files {
        std::fs::write(dir.join("schedules").join(name), text).unwrap();
    }
    let today = NaiveDate::from_ymd_opt(2026, 11, 23); // a Monday
    let report = check_dir(&dir, &probe(), today);
    let d = report.diagnostics;
    let _ = std::fs::remove_dir_all(&dir);
    d.errors.into_iter().chain(d.warnings).collect()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loa-mistakes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const P: &str = "schedules/a.yaml";

/// A station whose `tts` command has no place for the rate it sets.
const STATION_NO_RATE: &str = r#"station:
  id: test
  name: "Đài truyền thanh xã Thử"
  timezone: Asia/Ho_Chi_Minh
tts:
  command: ["espeak-ng", "-v", "{voice}", "-w", "{out}", "--stdin"]
  rate: 120
paths: { media: media, state: state }
outputs:
  main: "null"
zones:
  thon-1: { name: "Thôn 1", output: main }
"#;

const CASES: &[Case] = &[
    Case {
        name: "tts-rate-without-placeholder",
        station: Some(STATION_NO_RATE),
        files: &[],
        expect: &[(
            "station.yaml",
            7,
            "tts rate has no effect: the command has no {rate}; add \"-s\", \"{rate}\" to it",
            true,
        )],
    },
    Case {
        name: "tts-settings",
        station: Some(STATION_TTS),
        files: &[(
            "viet-tat.txt",
            "# Từ viết tắt của xã\nHTXNN = hợp tác xã nông nghiệp\nUBND\nTT = trung tâm 3\n",
        )],
        expect: &[
            ("station.yaml", 6, "tts.voice: espeak-ng has no voice `vi-vn-x-nam`", true),
            ("station.yaml", 7, "rate must be a whole number from 80 to 450, found `500`", true),
            ("station.yaml", 8, "pitch must be a whole number from 0 to 99, found `-1`", true),
            ("station.yaml", 9, "did you mean `southern`?", true),
            ("schedules/viet-tat.txt", 3, "`UBND` has no `=`", true),
            ("schedules/viet-tat.txt", 4, "write the numbers in words", true),
        ],
    },
    Case {
        name: "tts-item-rate",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - tts: \"Kính thưa bà con\"\n        rate: 40\n      - tts: \"Xin chào\"\n        voice: vi-vn-x-south\n        rate: 130\n        pitch: 40\n      - file: jingle.mp3\n        rate: 130\n")],
        expect: &[
            (P, 7, "rate must be a whole number from 80 to 450, found `40`", true),
            (P, 13, "`rate` does not apply to a file item", true),
        ],
    },
    Case {
        // Checked once the files read: the engine is asked for its voices.
        name: "tts-item-voice",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - tts: \"Kính thưa bà con\"\n        voice: vi-vn-x-sout\n")],
        expect: &[(P, 6, "program `sang`: espeak-ng has no voice `vi-vn-x-sout`; did you mean `vi-vn-x-south`? (it has vi, vi-vn-x-central, vi-vn-x-south)", true)],
    },
    Case {
        name: "misspelt-key",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    tittle: Sáng\n    at: \"06:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 3, "unknown key `tittle` in program; did you mean `title`?", true)],
    },
    Case {
        name: "tab-indent",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n\tat: \"06:00\"\n")],
        expect: &[(P, 3, "tab", true)],
    },
    Case {
        name: "hour-25",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"25:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 3, "25:00", true)],
    },
    Case {
        name: "time-as-a-list",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: [\"06:00\"]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 3, "at must be one time of day like \"06:00\", found a list", true)],
    },
    Case {
        name: "date-as-a-list",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    dates: { from: [2026-01-01] }\n    except: [2026-02-01, [2026-02-02]]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[
            (P, 4, "dates.from must be one date like 2026-11-01, found a list", true),
            (P, 5, "except must be one date like 2026-11-01, found a list", true),
        ],
    },
    Case {
        name: "time-with-h",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: 6h30\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 3, "6h30", true)],
    },
    Case {
        name: "unknown-zone",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: [thon-1, thon-5]\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "unknown zone `thon-5`", true)],
    },
    Case {
        name: "misspelt-zone",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones:\n      - thon1\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 5, "did you mean `thon-1`?", true)],
    },
    Case {
        name: "relay-at-0315",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: vov-dem\n    category: relay\n    at: \"03:15\"\n    zones: all\n    duration: 30m\n    items:\n      - stream: http://vov.example.invalid/vov1.m3u\n")],
        expect: &[(P, 4, "inside quiet hours 21:30-05:00", true)],
    },
    Case {
        name: "duplicate-id",
        station: None,
        files: &[
            ("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n"),
            ("b.yaml", "# second file\nprograms:\n  - id: sang\n    at: \"07:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n"),
        ],
        expect: &[("schedules/b.yaml", 3, "duplicate program id `sang` (first defined at schedules/a.yaml:2:5)", true)],
    },
    Case {
        name: "stream-without-duration",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: vov\n    at: \"06:00\"\n    zones: all\n    items:\n      - stream: http://vov.example.invalid/vov1.m3u\n")],
        expect: &[(P, 6, "never ends by itself; give the program a `duration`", true)],
    },
    Case {
        name: "stream-list-with-a-bad-source",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: vov\n    at: \"06:00\"\n    zones: all\n    duration: 30m\n    items:\n      - stream:\n          - https://str.vov.gov.vn/vovlive/vov1vov5Vietnamese.sdp_aac/playlist.m3u8\n          - media.kythuatvov.vn:7001/;stream/\n        bandwidth: 48\n")],
        expect: &[
            (P, 9, "stream source 2 `media.kythuatvov.vn:7001/;stream/` must be an http:// or https:// address", true),
            (P, 10, "did you mean 48k?", true),
        ],
    },
    Case {
        name: "at-and-cron",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    cron: \"0 0 6 * * *\"\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "both `at` and `cron`", true)],
    },
    Case {
        name: "cron-four-fields",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    cron: \"0 6 * *\"\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 3, "cron `0 6 * *`", true)],
    },
    Case {
        name: "cron-dom-and-dow",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    cron: \"0 0 6 1 * Mon\"\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 3, "not both", true)],
    },
    Case {
        name: "dates-reversed",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: tet\n    at: \"06:00\"\n    dates: { from: 2027-02-10, until: 2027-02-01 }\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "from 2027-02-10 is after until 2027-02-01", true)],
    },
    Case {
        name: "misspelt-day",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    days: [mon, tues, fri]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "tues", true)],
    },
    Case {
        name: "unknown-priority",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    priority: urgent\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "priority `urgent` is unknown", true)],
    },
    Case {
        name: "duration-without-unit",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    duration: 30\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "needs a unit", true)],
    },
    Case {
        name: "duration-in-words",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    duration: 30 phút\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "is not a duration", true)],
    },
    Case {
        name: "no-items",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n")],
        expect: &[(P, 2, "needs `items`", true)],
    },
    Case {
        name: "empty-items",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items: []\n")],
        expect: &[(P, 5, "has no items", true)],
    },
    Case {
        name: "two-sources-in-one-item",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n        tts: Kính thưa bà con\n")],
        expect: &[(P, 7, "both `file` and `tts`", true)],
    },
    Case {
        name: "misspelt-item-key",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - fiel: jingle.mp3\n")],
        expect: &[(P, 6, "did you mean `file`?", true)],
    },
    Case {
        name: "if-busy-glued",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    if_busy: wait15\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "if_busy", true)],
    },
    Case {
        name: "bad-except-date",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    except: [2026-13-01]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "`2026-13-01` is not a date", true)],
    },
    Case {
        name: "misspelt-timezone",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Min\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\n"),
        files: &[],
        expect: &[("station.yaml", 4, "did you mean `Asia/Ho_Chi_Minh`?", true)],
    },
    Case {
        name: "misspelt-output",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\n  phu: \"null\"\nzones:\n  thon-1:\n    output: mian\n"),
        files: &[],
        expect: &[("station.yaml", 10, "unknown output `mian`; did you mean `main`?", true)],
    },
    Case {
        name: "overlapping-programs",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: tin-sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - file: news.mp3\n  - id: nhac\n    at: \"06:05\"\n    zones: [thon-2]\n    items:\n      - file: nen.mp3\n")],
        expect: &[(P, 7, "overlaps `tin-sang`", false)],
    },
    Case {
        name: "missing-media",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n      - file: ban-tin-moi.mp3\n")],
        expect: &[(P, 7, "ban-tin-moi.mp3: file not found (checked again at air time)", false)],
    },
    Case {
        name: "runs-into-quiet-hours",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: toi\n    at: \"21:00\"\n    zones: all\n    duration: 40m\n    items:\n      - file: long.mp3\n")],
        expect: &[(P, 2, "runs into quiet hours 21:30-05:00", false)],
    },
    Case {
        name: "longer-than-max-session",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: dai\n    at: \"08:00\"\n    zones: all\n    items:\n      - file: long.mp3\n")],
        expect: &[(P, 2, "longer than policy.max_session 45m", false)],
    },
    Case {
        name: "volume-percent",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\npolicy:\n  volume: 80\n"),
        files: &[],
        expect: &[("station.yaml", 10, "volume 80 is outside 0..1", true)],
    },
    Case {
        name: "unquoted-color",
        station: None,
        files: &[("a.yaml", "slogans:\n  - id: bon-xin\n    boards: all\n    text: \"4 xin\"\n    color: #FFD700\n")],
        expect: &[(P, 5, "quote it", true)],
    },
    Case {
        name: "unknown-board",
        station: None,
        files: &[("a.yaml", "slogans:\n  - id: bon-xin\n    boards: [cong-ubnd]\n    text: \"4 xin\"\n")],
        expect: &[(P, 3, "unknown board `cong-ubnd`", true)],
    },
    Case {
        name: "id-with-spaces",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: VOV1 Sáng\n    at: \"06:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 2, "may use only a-z, 0-9 and '-'", true)],
    },
    Case {
        name: "yes-for-true",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    loop: yes\n    duration: 10m\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "must be true or false, found `yes`", true)],
    },
    Case {
        name: "alias-bomb",
        station: None,
        files: &[("a.yaml", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n")],
        expect: &[(P, 0, "", true)],
    },
    Case {
        name: "programs-not-a-list",
        station: None,
        files: &[("a.yaml", "programs:\n  id: sang\n  at: \"06:00\"\n")],
        expect: &[(P, 2, "programs must be a list", true)],
    },
    Case {
        name: "missing-zones",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 2, "needs `zones`", true)],
    },
    Case {
        name: "http-broker-url",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\nmqtt:\n  url: http://192.168.1.10:1883\n"),
        files: &[],
        expect: &[("station.yaml", 10, "must start with mqtt:// or mqtts://", true)],
    },
    Case {
        name: "mqtt-group-too-long",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\nmqtt:\n  url: mqtt://192.168.1.10:1883\n  groups: [huyen-tuyen-hoa-tinh-quang-binh-cum-xa-phia-bac]\n"),
        files: &[],
        expect: &[("station.yaml", 11, "(at most 40 characters)", true)],
    },
    Case {
        name: "newest-outside-media",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    zones: all\n    items:\n      - newest: /home/operator/**/*.mp3\n")],
        expect: &[(P, 6, "must be a pattern under the media directory", true)],
    },
    Case {
        name: "cron-every-second",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: nhac\n    cron: \"* * 8 * * *\"\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 2, "starts 3600 times a day", true)],
    },
    Case {
        name: "duplicate-id-of-a-broken-program",
        station: None,
        files: &[
            ("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    items:\n      - file: jingle.mp3\n"),
            ("b.yaml", "programs:\n  - id: sang\n    at: \"07:00\"\n    zones: all\n    items:\n      - file: jingle.mp3\n"),
        ],
        expect: &[
            (P, 2, "needs `zones`", true),
            ("schedules/b.yaml", 2, "duplicate program id `sang`", true),
        ],
    },
    Case {
        name: "relay-lease-zero",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1:\n    output: main\n    relay:\n      preset: tasmota\n      topic: amp1\n      lease: 0s\n"),
        files: &[],
        expect: &[("station.yaml", 13, "lease must be from 3s to 18h", true)],
    },
    Case {
        name: "relay-lease-shorter-than-preroll",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1:\n    output: main\n    relay:\n      preset: shelly\n      topic: sh1\n      lease: 5s\n    preroll: 8s\n"),
        files: &[],
        expect: &[("station.yaml", 13, "relay lease 5s is shorter than the preroll 8s", true)],
    },
    Case {
        name: "relay-renew-not-custom",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1:\n    output: main\n    relay:\n      preset: esphome\n      topic: esp1\n      renew: { topic: x, payload: y }\n"),
        files: &[],
        expect: &[("station.yaml", 13, "`renew` is for preset custom only", true)],
    },
    Case {
        name: "custom-relay-without-renew",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1:\n    output: main\n    relay:\n      preset: custom\n      switch_on: { topic: a/set, payload: \"1\" }\n      switch_off: { topic: a/set, payload: \"0\" }\n"),
        files: &[],
        expect: &[("station.yaml", 8, "has no `renew` message", false)],
    },
    Case {
        name: "emergency-in-quiet-hours-is-fine",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: canh-bao-lu\n    at: \"03:00\"\n    priority: emergency\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[],
    },
    Case {
        name: "holiday-with-marks",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: chuc-tet\n    at: \"07:00\"\n    on: [tết]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "on `tết` is not a date or a holiday; did you mean `tet`?", true)],
    },
    Case {
        name: "lunar-date-without-lunar",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: trung-thu\n    at: \"19:00\"\n    except: [15/8]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "write `lunar: 15/8` for a lunar date", true)],
    },
    Case {
        name: "lunar-day-32",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: trung-thu\n    at: \"19:00\"\n    on:\n      - lunar: 32/8\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 5, "a lunar day is 1 to 30", true)],
    },
    Case {
        name: "lunar-leap-in-english",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: trung-thu\n    at: \"19:00\"\n    on: [lunar: 15/8 leap]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "15/8 nhuận for the leap month", true)],
    },
    Case {
        name: "lunar-with-a-year",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: trung-thu\n    at: \"19:00\"\n    on: [{ lunar: 15/8, year: 2027 }]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "unknown key `year` in on (a lunar date)", true)],
    },
    Case {
        name: "empty-on",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    on: []\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "on is empty", true)],
    },
    Case {
        name: "lunar-window-one-end",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: tet\n    at: \"18:00\"\n    dates: { from: { lunar: 23/12 } }\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "a lunar `dates` window needs both from and until", true)],
    },
    Case {
        name: "lunar-window-mixed",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: tet\n    at: \"18:00\"\n    dates: { from: 2027-01-30, until: { lunar: 7/1 } }\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "write from and until both as YYYY-MM-DD, or both as lunar dates", true)],
    },
    Case {
        name: "lunar-window-without-month",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: tet\n    at: \"18:00\"\n    dates:\n      from: { lunar: 23 }\n      until: { lunar: 7/1 }\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 5, "dates.from: a lunar window's end needs its month too", true)],
    },
    Case {
        name: "leap-month-that-never-comes",
        station: None,
        files: &[("a.yaml", "programs:\n  - id: trung-thu\n    at: \"19:00\"\n    dates: { from: 2026-01-01, until: 2027-12-31 }\n    on: [lunar: 15/8 nhuận]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 5, "never airs", true)],
    },
    Case {
        name: "holidays-turned-off",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\ncalendar:\n  holidays: none\n"),
        files: &[("a.yaml", "programs:\n  - id: sang\n    at: \"06:00\"\n    except: [holidays]\n    zones: all\n    items:\n      - file: jingle.mp3\n")],
        expect: &[(P, 4, "station.yaml has calendar.holidays: none; set it to vn", true)],
    },
    Case {
        name: "unknown-holiday-set",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\ncalendar:\n  holidays: vietnam\n"),
        files: &[],
        expect: &[("station.yaml", 10, "calendar.holidays `vietnam` is unknown (one of: vn, none)", true)],
    },
    Case {
        name: "days-off-misspelt-holiday",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\ncalendar:\n  days_off:\n    tett:\n      2027: { from: 2027-02-04, until: 2027-02-10 }\n"),
        files: &[],
        expect: &[("station.yaml", 11, "`tett` is not a holiday; did you mean `tet`?", true)],
    },
    Case {
        name: "days-off-without-the-holiday",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\ncalendar:\n  days_off:\n    tet:\n      2027: { from: 2027-01-24, until: 2027-01-30 }\n"),
        files: &[],
        expect: &[("station.yaml", 12, "does not include Tết Nguyên Đán itself (2027-02-06)", true)],
    },
    Case {
        name: "days-off-month-typo",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\ncalendar:\n  days_off:\n    quoc-khanh:\n      2027: { from: 2027-08-30, until: 2027-10-03 }\n"),
        files: &[],
        expect: &[("station.yaml", 12, "is 35 days; a break around one holiday is at most 20", true)],
    },
    Case {
        name: "days-off-year-as-text",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\nzones:\n  thon-1: { output: main }\ncalendar:\n  days_off:\n    tet:\n      nam-2027: { from: 2027-02-04, until: 2027-02-10 }\n"),
        files: &[],
        expect: &[("station.yaml", 12, "`nam-2027` is not a year from 1900 to 2199", true)],
    },
    Case {
        // SPEC 7d: a receiver plays an Icecast mount, instead of a relay;
        // `volume` is its gain.
        name: "receiver-zones",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  main: \"null\"\n  clusters: \"icecast://source@127.0.0.1:8000/x.mp3?password_file=schedules/icecast.pass\"\nzones:\n  thon-1: { output: main, receiver: cum-1 }\n  thon-2:\n    output: clusters\n    receiver: cum-2\n    relay: { preset: tasmota, topic: amp }\n  thon-3: { output: main, volume: 0.5 }\n  thon-4: { output: clusters, receiver: cum-4, volume: 1.5 }\n  thon-5: { output: clusters, receiver: cum-5, volume: 0.7 }\n"),
        files: &[("icecast.pass", "hackme\n")],
        expect: &[
            ("station.yaml", 9, "zone `thon-1`: receiver `cum-1` plays an Icecast mount, but output `main` is not icecast://", true),
            ("station.yaml", 12, "zone `thon-2` has both `relay` and `receiver`", true),
            ("station.yaml", 14, "zone `thon-3`: `volume` applies at an IP cluster receiver", true),
            ("station.yaml", 15, "volume 1.5 is outside 0..1", true),
        ],
    },
    Case {
        name: "receiver-zone-valid",
        station: Some("station:\n  id: test\n  name: Thử\n  timezone: Asia/Ho_Chi_Minh\noutputs:\n  clusters: \"icecast://source@127.0.0.1:8000/x.mp3?password_file=schedules/icecast.pass\"\nzones:\n  thon-5: { output: clusters, receiver: cum-5, volume: 0.7 }\n"),
        files: &[("icecast.pass", "hackme\n")],
        expect: &[],
    },
];

#[test]
fn every_mistake_is_named_at_its_line() {
    assert!(CASES.len() >= 25);
    let mut failures = Vec::new();
    for case in CASES {
        let found = run(case);
        for &(file, line, gist, is_error) in case.expect {
            let hit = found.iter().any(|d| {
                &*d.loc.file == file
                    && (line == 0 || d.loc.pos.line == line)
                    && d.message.contains(gist)
                    && (d.severity == loa_schedules::Severity::Error) == is_error
            });
            if !hit {
                failures.push(format!(
                    "{}: expected {} at {file}:{line} containing {gist:?}; got:\n    {}",
                    case.name,
                    if is_error { "error" } else { "warning" },
                    found
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("\n    ")
                ));
            }
        }
        if case.expect.is_empty() {
            let errors: Vec<_> = found
                .iter()
                .filter(|d| d.severity == loa_schedules::Severity::Error)
                .collect();
            if !errors.is_empty() {
                failures.push(format!("{}: expected no error, got {errors:?}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let case = Case {
        name: "many",
        station: None,
        files: &[(
            "a.yaml",
            "programs:\n  - id: sang\n    tittle: x\n    at: \"25:00\"\n    zones: [thon-9]\n    items:\n      - fiel: a.mp3\n  - id: chieu\n    at: \"17:00\"\n    priority: urgent\n    zones: all\n    items:\n      - file: jingle.mp3\n",
        )],
        expect: &[],
    };
    let found = run(&case);
    let lines: Vec<u32> = found
        .iter()
        .filter(|d| d.severity == loa_schedules::Severity::Error)
        .map(|d| d.loc.pos.line)
        .collect();
    for l in [3, 4, 5, 7, 10] {
        assert!(lines.contains(&l), "no error on line {l}: {found:#?}");
    }
}
