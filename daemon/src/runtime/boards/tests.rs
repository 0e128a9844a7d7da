//! Boards on a virtual clock: what each board shows when, and the exact
//! messages each preset gets.

use std::path::Path;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use unicode_normalization::UnicodeNormalization;

use super::fold::fold_ascii;
use super::*;

const STATION: &str = r#"
station:
  id: test
  name: "Đài thử"
  timezone: Asia/Ho_Chi_Minh
outputs:
  main: "null"
zones:
  z1:
    name: "Thôn 1"
    output: main
boards:
  aw:
    name: "AWTRIX"
    preset: awtrix
    topic: awtrix_cong
    charset: ascii
    show_now_playing: true
  wl:
    name: "WLED"
    preset: wled
    topic: wled/nvh
    charset: utf8
    show_now_playing: false
  ta:
    name: "Tasmota"
    preset: tasmota
    topic: led-cho
    charset: ascii
    show_now_playing: true
  tx:
    name: "Text"
    preset: text
    topic: bang/text
    charset: utf8
    show_now_playing: true
  js:
    name: "JSON"
    preset: json
    topic: bang/json
    charset: utf8
    show_now_playing: true
"#;

const ONE_SLOGAN: &str = r##"
slogans:
  - id: trong-dan
    boards: all
    text: "Trọng dân"
    between: "06:00-21:30"
    every: 10m
    color: "#FFD700"
"##;

fn load(dir: &Path) -> Config {
    let loaded = loa_schedules::load_dir(dir);
    assert!(
        loaded.diagnostics.errors.is_empty(),
        "{:#?}",
        loaded.diagnostics.errors
    );
    loaded.config.expect("a configuration")
}

fn config(station: &str, schedule: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("schedules")).unwrap();
    std::fs::write(dir.path().join("station.yaml"), station).unwrap();
    std::fs::write(dir.path().join("schedules/a.yaml"), schedule).unwrap();
    load(dir.path())
}

fn example() -> Config {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schedules/examples/au-lau"))
}

/// 2026-11-23 (a Monday) plus `day` days, at HH:MM:SS in Asia/Ho_Chi_Minh (+07:00).
fn local(day: i64, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, m, s).unwrap() + TimeDelta::days(day)
        - TimeDelta::hours(7)
}

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    local(0, h, m, s)
}

/// Checks what every message to a device must be, and returns (topic, payload).
fn wire(out: &[Publish]) -> Vec<(String, String)> {
    out.iter()
        .map(|p| {
            // The text and json presets' states are retained (QoS 1);
            // commands to AWTRIX, WLED and Tasmota firmware never are.
            let state = p.topic.starts_with("bang/");
            assert_eq!(p.retain, state, "{p:?}");
            assert_eq!(p.qos, u8::from(state), "{p:?}");
            (p.topic.clone(), p.payload_str().to_string())
        })
        .collect()
}

fn msgs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(t, p)| (t.to_string(), p.to_string()))
        .collect()
}

fn shows(b: &Boards, board: &str) -> String {
    b.current()[board].clone()
}

/// (instant, text) pairs and (instant, message) pairs.
type Changes = Vec<(DateTime<Utc>, String)>;
type Sent = Vec<(DateTime<Utc>, Publish)>;

/// Ticks at every wakeup up to `end`, returning each (instant, text) at which
/// `board` changed what it shows, and every message sent.
fn run_until(b: &mut Boards, board: &str, end: DateTime<Utc>) -> (Changes, Sent) {
    let mut changes = Vec::new();
    let mut sent = Vec::new();
    let mut last = shows(b, board);
    while let Some(t) = b.next_wakeup() {
        if t > end {
            break;
        }
        let out = b.tick(t);
        wire(&out);
        sent.extend(out.into_iter().map(|p| (t, p)));
        let now = shows(b, board);
        if now != last {
            changes.push((t, now.clone()));
            last = now;
        }
    }
    (changes, sent)
}

// ---- fold_ascii ----------------------------------------------------------

/// Each row: a base vowel without tone, then huyền, sắc, hỏi, ngã, nặng.
const LOWER: [(&str, char); 12] = [
    ("aàáảãạ", 'a'),
    ("ăằắẳẵặ", 'a'),
    ("âầấẩẫậ", 'a'),
    ("eèéẻẽẹ", 'e'),
    ("êềếểễệ", 'e'),
    ("iìíỉĩị", 'i'),
    ("oòóỏõọ", 'o'),
    ("ôồốổỗộ", 'o'),
    ("ơờớởỡợ", 'o'),
    ("uùúủũụ", 'u'),
    ("ưừứửữự", 'u'),
    ("yỳýỷỹỵ", 'y'),
];
const UPPER: [(&str, char); 12] = [
    ("AÀÁẢÃẠ", 'A'),
    ("ĂẰẮẲẴẶ", 'A'),
    ("ÂẦẤẨẪẬ", 'A'),
    ("EÈÉẺẼẸ", 'E'),
    ("ÊỀẾỂỄỆ", 'E'),
    ("IÌÍỈĨỊ", 'I'),
    ("OÒÓỎÕỌ", 'O'),
    ("ÔỒỐỔỖỘ", 'O'),
    ("ƠỜỚỞỠỢ", 'O'),
    ("UÙÚỦŨỤ", 'U'),
    ("ƯỪỨỬỮỰ", 'U'),
    ("YỲÝỶỸỴ", 'Y'),
];

#[test]
fn fold_ascii_every_vietnamese_letter_with_every_tone() {
    let mut letters = 0;
    for (lower, upper) in LOWER.iter().zip(UPPER.iter()) {
        // The table itself: six precomposed letters, upper = lower uppercased.
        assert_eq!(lower.0.chars().count(), 6, "{}", lower.0);
        assert_eq!(lower.0.to_uppercase(), upper.0);
        for (row, base) in [lower, upper] {
            for letter in row.chars() {
                let s = letter.to_string();
                assert_eq!(fold_ascii(&s), base.to_string(), "{letter} (NFC)");
                let decomposed: String = s.nfd().collect();
                assert_eq!(fold_ascii(&decomposed), base.to_string(), "{letter} (NFD)");
                letters += 1;
            }
        }
    }
    assert_eq!(letters, 12 * 6 * 2);
    assert_eq!(fold_ascii("đ"), "d");
    assert_eq!(fold_ascii("Đ"), "D");
    assert_eq!(fold_ascii("Đường"), "Duong");
    assert_eq!(
        fold_ascii("Nghiêng ngả, Ở ĐÂY, Ữ, Ỹ, Ậ"),
        "Nghieng nga, O DAY, U, Y, A"
    );
}

#[test]
fn fold_ascii_typographic_punctuation_and_spaces() {
    assert_eq!(
        fold_ascii("“Trọng dân” — ‘gần dân’ – «học dân»…"),
        "\"Trong dan\" - 'gan dan' - \"hoc dan\"..."
    );
    assert_eq!(
        fold_ascii("• 4\u{00A0}xin\u{202F}·\u{2009}ok"),
        "- 4 xin - ok"
    );
    assert_eq!(fold_ascii("a\u{200B}b\u{00AD}c\u{FEFF}"), "abc");
    assert_eq!(fold_ascii("dòng 1\ndòng 2\t!"), "dong 1 dong 2 !");
    // What has no ASCII look-alike shows as `?` rather than vanishing.
    assert_eq!(fold_ascii("30°C ✓"), "30?C ?");
    assert!(fold_ascii("Mọi ký tự: ĀĒĪ ñ ç 漢").is_ascii());
}

#[test]
fn fold_ascii_the_example_station_slogans() {
    let config = example();
    let expected = [
        (
            "trong-dan",
            "Trong dan, gan dan, hieu dan, hoc dan va co trach nhiem voi dan",
        ),
        ("bon-xin", "4 xin: Xin chao, xin loi, xin cam on, xin phep"),
        (
            "bon-luon",
            "4 luon: Luon mim cuoi, luon nhe nhang, luon lang nghe, luon giup do",
        ),
        (
            "nam-khong",
            "5 khong: Khong gay phien ha, khong tho o, khong gay kho khan, khong nhan qua bieu, khong lam viec rieng trong gio hanh chinh",
        ),
        (
            "nu-cuoi-cong-so",
            "Nu cuoi cong so - Tan tinh phuc vu nhan dan",
        ),
        (
            "an-toan-mua-bao",
            "Chu dong phong, chong thien tai mua mua bao",
        ),
    ];
    assert_eq!(config.slogans.len(), expected.len());
    for (id, folded) in expected {
        let s = config.slogans.iter().find(|s| s.id == id).expect(id);
        assert_eq!(fold_ascii(&s.text), folded, "{id}");
    }
}

// ---- payloads ------------------------------------------------------------

#[test]
fn every_preset_payload_for_slogan_now_playing_emergency_and_blank() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    assert_eq!(b.next_wakeup(), Some(DateTime::<Utc>::MIN_UTC));

    // A slogan.
    assert_eq!(
        wire(&b.tick(at(6, 0, 0))),
        msgs(&[
            (
                "awtrix_cong/custom/loa",
                r##"{"text":"Trong dan","color":"#FFD700","scrollSpeed":100,"duration":30,"lifetime":150}"##
            ),
            (
                "wled/nvh/api",
                r#"{"on":true,"seg":[{"id":0,"n":"Trọng dân","fx":122,"col":[[255,215,0]]}]}"#
            ),
            ("cmnd/led-cho/DisplayBlinkrate", "0"),
            ("cmnd/led-cho/DisplayText", "Trong dan"),
            ("bang/text", "Trọng dân"),
            (
                "bang/json",
                r##"{"text":"Trọng dân","color":"#FFD700","priority":"slogan","until":"2026-11-23T21:30:00+07:00"}"##
            ),
        ])
    );

    // Now playing (the WLED board does not show programs).
    assert_eq!(
        wire(&b.now_playing(Some("Thời sự — sáng"), at(6, 0, 10))),
        msgs(&[
            (
                "awtrix_cong/custom/loa",
                r##"{"text":"Thoi su - sang","color":"#FFFFFF","scrollSpeed":100,"duration":30,"lifetime":150}"##
            ),
            ("cmnd/led-cho/DisplayText", "Thoi su - sang"),
            ("bang/text", "Thời sự — sáng"),
            (
                "bang/json",
                r##"{"text":"Thời sự — sáng","color":"#FFFFFF","priority":"program","until":null}"##
            ),
        ])
    );

    // An emergency takes every board.
    assert_eq!(
        wire(&b.emergency(Some("Bão số 3: sơ tán"), at(6, 0, 20))),
        msgs(&[
            (
                "awtrix_cong/notify",
                r##"{"text":"Bao so 3: so tan","color":"#FF0000","hold":true,"blinkText":500,"stack":false,"wakeup":true}"##
            ),
            (
                "wled/nvh/api",
                r#"{"on":true,"seg":[{"id":0,"n":"Bão số 3: sơ tán","fx":122,"col":[[255,0,0]]}]}"#
            ),
            ("cmnd/led-cho/DisplayText", "Bao so 3: so tan"),
            ("cmnd/led-cho/DisplayBlinkrate", "1"),
            ("bang/text", "Bão số 3: sơ tán"),
            (
                "bang/json",
                r##"{"text":"Bão số 3: sơ tán","color":"#FF0000","priority":"emergency","until":null}"##
            ),
        ])
    );

    // Cleared: each board goes back to what it showed underneath.
    assert_eq!(
        wire(&b.emergency(None, at(6, 0, 40))),
        msgs(&[
            ("awtrix_cong/notify/dismiss", ""),
            (
                "wled/nvh/api",
                r#"{"on":true,"seg":[{"id":0,"n":"Trọng dân","fx":122,"col":[[255,215,0]]}]}"#
            ),
            ("cmnd/led-cho/DisplayBlinkrate", "0"),
            ("cmnd/led-cho/DisplayText", "Thoi su - sang"),
            ("bang/text", "Thời sự — sáng"),
            (
                "bang/json",
                r##"{"text":"Thời sự — sáng","color":"#FFFFFF","priority":"program","until":null}"##
            ),
        ])
    );

    // The program ends: the slogan again.
    let out = wire(&b.now_playing(None, at(6, 0, 50)));
    assert_eq!(
        out,
        msgs(&[
            (
                "awtrix_cong/custom/loa",
                r##"{"text":"Trong dan","color":"#FFD700","scrollSpeed":100,"duration":30,"lifetime":150}"##
            ),
            ("cmnd/led-cho/DisplayText", "Trong dan"),
            ("bang/text", "Trọng dân"),
            (
                "bang/json",
                r##"{"text":"Trọng dân","color":"#FFD700","priority":"slogan","until":"2026-11-23T21:30:00+07:00"}"##
            ),
        ])
    );

    // 21:30: no slogan is active, every board goes blank.
    let (_, sent) = run_until(&mut b, "aw", at(21, 30, 0));
    let blank: Vec<_> = sent
        .iter()
        .filter(|(t, _)| *t == at(21, 30, 0))
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(
        wire(&blank),
        msgs(&[
            ("awtrix_cong/custom/loa", ""),
            ("wled/nvh/api", r#"{"on":false,"seg":[{"id":0,"n":""}]}"#),
            ("cmnd/led-cho/DisplayClear", ""),
            ("bang/text", ""),
            (
                "bang/json",
                r#"{"text":"","color":null,"priority":null,"until":null}"#
            ),
        ])
    );
    assert!(b.current().values().all(|t| t.is_empty()));
}

#[test]
fn utf8_boards_get_nfc_and_ascii_boards_get_folded_text() {
    let decomposed: String = "Trọng dân".nfd().collect();
    assert_ne!(decomposed, "Trọng dân");
    let schedule = format!(
        "slogans:\n  - id: a\n    boards: all\n    text: \"{decomposed}\"\n    color: \"#FFFFFF\"\n"
    );
    let mut b = Boards::new(&config(STATION, &schedule));
    let out = wire(&b.tick(at(8, 0, 0)));
    let text = out.iter().find(|(t, _)| t == "bang/text").unwrap();
    assert_eq!(text.1, "Trọng dân");
    assert_eq!(shows(&b, "tx"), "Trọng dân");
    assert_eq!(shows(&b, "aw"), "Trong dan");
    assert_eq!(shows(&b, "ta"), "Trong dan");
}

#[test]
fn tasmota_brackets_are_not_display_commands() {
    let schedule = "slogans:\n  - id: a\n    boards: [ta]\n    text: \"[z] Xin chào [1]\"\n";
    let mut b = Boards::new(&config(STATION, schedule));
    let out = wire(&b.tick(at(8, 0, 0)));
    assert!(out.contains(&(
        "cmnd/led-cho/DisplayText".to_string(),
        "(z) Xin chao (1)".to_string()
    )));
}

// ---- rotation on a virtual day ------------------------------------------

#[test]
fn between_edges_in_ho_chi_minh_time_are_exact() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    b.tick(at(0, 0, 0));
    assert_eq!(shows(&b, "tx"), "");
    // 06:00 +07:00 is 23:00 UTC the day before: the wakeup is that instant.
    assert_eq!(b.next_wakeup(), Some(at(6, 0, 0)));
    assert_eq!(
        at(6, 0, 0),
        Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0).unwrap()
    );
    b.tick(at(5, 59, 59));
    assert_eq!(shows(&b, "tx"), "", "05:59:59 is outside 06:00-21:30");
    b.tick(at(6, 0, 0));
    assert_eq!(shows(&b, "tx"), "Trọng dân");
    let (changes, _) = run_until(&mut b, "tx", local(1, 7, 0, 0));
    assert_eq!(
        changes,
        vec![
            (at(21, 30, 0), String::new()),
            (local(1, 6, 0, 0), "Trọng dân".to_string()),
        ]
    );
    // At 21:29:59 it still shows.
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    b.tick(at(21, 29, 59));
    assert_eq!(shows(&b, "tx"), "Trọng dân");
    b.tick(at(21, 30, 0));
    assert_eq!(shows(&b, "tx"), "");
}

#[test]
fn a_window_across_midnight_belongs_to_the_evening_it_starts() {
    let schedule = r#"
slogans:
  - id: dem
    boards: [tx]
    text: "Đêm"
    between: "22:00-02:00"
    days: [mon]
"#;
    let mut b = Boards::new(&config(STATION, schedule));
    // Sunday 22:00 to Monday 02:00 is Sunday's evening: not shown.
    b.tick(local(-1, 23, 0, 0));
    assert_eq!(shows(&b, "tx"), "");
    let (changes, _) = run_until(&mut b, "tx", local(2, 12, 0, 0));
    assert_eq!(
        changes,
        vec![
            (local(0, 22, 0, 0), "Đêm".to_string()),
            (local(1, 2, 0, 0), String::new()),
        ]
    );
}

#[test]
fn slogans_take_turns_one_slot_each_then_every() {
    let schedule = r#"
slogans:
  - id: a
    boards: [tx]
    text: "A"
    between: "06:00-21:30"
    every: 10m
  - id: b
    boards: [tx]
    text: "B"
    between: "06:00-21:30"
    every: 10m
  - id: c
    boards: [tx]
    text: "C"
    between: "07:00-08:00"
    every: 5m
"#;
    let mut b = Boards::new(&config(STATION, schedule));
    b.tick(at(5, 0, 0));
    let (changes, _) = run_until(&mut b, "tx", at(7, 11, 0));
    let s = |t: &str| t.to_string();
    assert_eq!(
        changes[..6],
        [
            (at(6, 0, 0), s("A")),
            (at(6, 0, 30), s("B")),
            (at(6, 10, 0), s("A")),
            (at(6, 10, 30), s("B")),
            (at(6, 20, 0), s("A")),
            (at(6, 20, 30), s("B")),
        ]
    );
    // C starts at 07:00 (never shown: first), A and B were due at 07:00 too.
    let from7: Vec<_> = changes
        .iter()
        .filter(|(t, _)| *t >= at(7, 0, 0))
        .cloned()
        .collect();
    assert_eq!(
        from7,
        [
            (at(7, 0, 0), s("C")),
            (at(7, 0, 30), s("A")),
            (at(7, 1, 0), s("B")),
            (at(7, 5, 0), s("C")),
            // 07:10: C is due again, but it already shows: no change.
            (at(7, 10, 30), s("A")),
            (at(7, 11, 0), s("B")),
        ]
    );
}

const TWO: &str = r#"
slogans:
  - id: a
    boards: [tx]
    text: "A"
    every: 2m
  - id: b
    boards: [tx]
    text: "B"
    every: 2m
"#;

#[test]
fn late_wakeups_do_not_shift_the_rotation() {
    let late = TimeDelta::milliseconds(250);
    let mut b = Boards::new(&config(STATION, TWO));
    b.tick(at(8, 0, 0));
    let mut changes = Vec::new();
    while let Some(t) = b.next_wakeup().filter(|t| *t < at(9, 0, 0)) {
        // The caller always wakes a little late; the plan stays on the second.
        assert_eq!(t.timestamp_subsec_millis(), 0, "{t}");
        let before = shows(&b, "tx");
        b.tick(t + late);
        if shows(&b, "tx") != before {
            changes.push(t);
        }
    }
    assert_eq!(
        changes[..4],
        [at(8, 0, 30), at(8, 2, 0), at(8, 2, 30), at(8, 4, 0)]
    );
    // B at 08:00:30 + 2k min (30 times), A at 08:02 + 2k min (29 times).
    assert_eq!(changes.len(), 59);
    // A wakeup missed altogether is replayed at its own instant.
    let mut b = Boards::new(&config(STATION, TWO));
    b.tick(at(8, 0, 0));
    b.tick(at(8, 2, 10)); // missed 08:00:30 (B) and 08:02:00 (A)
    assert_eq!(shows(&b, "tx"), "A");
    assert_eq!(b.next_wakeup(), Some(at(8, 2, 30)));
}

#[test]
fn a_clock_stepped_back_moves_the_plan_back() {
    let mut b = Boards::new(&config(STATION, &TWO.replace("[tx]", "[tx, aw]")));
    b.tick(at(8, 0, 0));
    assert_eq!(shows(&b, "tx"), "A");
    // An NTP step of an hour back: the slot still ends 30 s after it began,
    // and the AWTRIX app (last sent "in the future") is sent again at once.
    let out = wire(&b.tick(at(7, 0, 0)));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, "awtrix_cong/custom/loa");
    assert_eq!(b.next_wakeup(), Some(at(7, 0, 30)));
    b.tick(at(7, 0, 30));
    assert_eq!(shows(&b, "tx"), "B");
}

#[test]
fn the_example_station_over_a_monday() {
    let mut b = Boards::new(&example());
    b.tick(at(0, 0, 0));
    let mua_bao = "Chu dong phong, chong thien tai mua mua bao";
    assert_eq!(shows(&b, "cong-ubnd"), mua_bao);
    let (changes, sent) = run_until(&mut b, "cong-ubnd", local(1, 0, 0, 0));
    let short = |t: &str| t.split(':').next().unwrap().to_string();
    let log: Vec<(DateTime<Utc>, String)> = changes.iter().map(|(t, x)| (*t, short(x))).collect();
    let s = |t: &str| t.to_string();
    // Before 06:00 only the storm-season slogan is active: nothing changes.
    assert_eq!(log[0].0, at(6, 0, 0));
    assert_eq!(
        log[..5],
        [
            (
                at(6, 0, 0),
                s("Trong dan, gan dan, hieu dan, hoc dan va co trach nhiem voi dan")
            ),
            (at(6, 0, 30), s("4 xin")),
            (at(6, 1, 0), s("4 luon")),
            (at(6, 1, 30), s(mua_bao)),
            (
                at(6, 10, 0),
                s("Trong dan, gan dan, hieu dan, hoc dan va co trach nhiem voi dan")
            ),
        ]
    );
    // 07:00: the two office-hours slogans (never shown yet) come first.
    let seven: Vec<_> = log
        .iter()
        .filter(|(t, _)| *t >= at(7, 0, 0))
        .take(2)
        .cloned()
        .collect();
    assert_eq!(
        seven,
        [
            (at(7, 0, 0), s("5 khong")),
            (
                at(7, 0, 30),
                s("Nu cuoi cong so - Tan tinh phuc vu nhan dan")
            )
        ]
    );
    // Office-hours slogans never show outside 07:00-17:00.
    for (t, text) in &log {
        if text == "5 khong" || text.starts_with("Nu cuoi") {
            assert!(*t >= at(7, 0, 0) && *t < at(17, 0, 0), "{t} {text}");
        }
    }
    // From 21:30 only the storm-season slogan is left.
    assert!(log.iter().all(|(t, x)| *t < at(21, 30, 0) || x == mua_bao));
    assert_eq!(log.last().unwrap().1, mua_bao);
    assert!(log.iter().any(|(t, x)| *t >= at(21, 0, 0) && x != mua_bao));
    // The AWTRIX app is sent at least every 60 s all day (it never goes blank).
    let app: Vec<DateTime<Utc>> = sent
        .iter()
        .filter(|(_, p)| p.topic == "awtrix_cong/custom/loa")
        .map(|(t, p)| {
            assert!(!p.payload.is_empty());
            *t
        })
        .collect();
    assert!(app.len() >= 24 * 60 - 1, "{}", app.len());
    for w in app.windows(2) {
        assert!(w[1] - w[0] <= AWTRIX_REFRESH, "{} .. {}", w[0], w[1]);
    }
    // The WLED board never gets the UBND-only slogans.
    assert!(
        sent.iter()
            .filter(|(_, p)| p.topic == "wled/nvh-thon1/api")
            .all(|(_, p)| !p.payload_str().contains("5 không")
                && !p.payload_str().contains("Nụ cười"))
    );
}

#[test]
fn an_unchanged_board_sends_nothing_but_the_awtrix_refresh() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    b.tick(at(8, 0, 0));
    // The slot's end, then the AWTRIX refresh (the slogan's every is later).
    assert_eq!(b.next_wakeup(), Some(at(8, 0, 30)));
    let out = b.tick(at(8, 0, 30));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(b.next_wakeup(), Some(at(8, 1, 0)));
    let out = wire(&b.tick(at(8, 1, 0)));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, "awtrix_cong/custom/loa");
    // The slogan's `every` re-shows the same text: nothing new on the wire.
    let (_, sent) = run_until(&mut b, "tx", at(8, 10, 0));
    assert!(sent
        .iter()
        .all(|(_, p)| p.topic == "awtrix_cong/custom/loa"));
}

// ---- precedence, republish, reload --------------------------------------

#[test]
fn emergency_over_now_playing_over_slogans() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    b.tick(at(8, 0, 0));
    assert_eq!(shows(&b, "tx"), "Trọng dân");
    b.now_playing(Some("Tin tức"), at(8, 1, 0));
    assert_eq!(shows(&b, "tx"), "Tin tức");
    assert_eq!(shows(&b, "wl"), "Trọng dân", "show_now_playing: false");
    b.emergency(Some("Lũ"), at(8, 2, 0));
    for (id, text) in b.current() {
        let want = if id == "aw" || id == "ta" {
            "Lu"
        } else {
            "Lũ"
        };
        assert_eq!(text, want, "{id}");
    }
    // A new program under the emergency changes nothing visible but AWTRIX's app.
    let out = wire(&b.now_playing(Some("Nhạc"), at(8, 3, 0)));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, "awtrix_cong/custom/loa");
    assert_eq!(shows(&b, "tx"), "Lũ");
    b.emergency(None, at(8, 4, 0));
    assert_eq!(shows(&b, "tx"), "Nhạc");
    assert_eq!(shows(&b, "wl"), "Trọng dân");
    b.now_playing(None, at(8, 5, 0));
    assert_eq!(shows(&b, "tx"), "Trọng dân");
}

#[test]
fn rotation_pauses_under_a_program_and_resumes() {
    let schedule = r#"
slogans:
  - id: a
    boards: [tx]
    text: "A"
  - id: b
    boards: [tx]
    text: "B"
"#;
    let mut b = Boards::new(&config(STATION, schedule));
    b.tick(at(8, 0, 0));
    assert_eq!(shows(&b, "tx"), "A");
    b.now_playing(Some("P"), at(8, 0, 10));
    // Covered: no rotation wakeups for this board (only the AWTRIX refresh).
    let (changes, _) = run_until(&mut b, "tx", at(8, 30, 0));
    assert!(changes.is_empty());
    b.now_playing(None, at(8, 30, 0));
    // B was due since 08:00:30: it takes the board at once.
    assert_eq!(shows(&b, "tx"), "B");
}

#[test]
fn republish_sends_every_board_state_again() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    let first = wire(&b.tick(at(8, 0, 0)));
    assert_eq!(wire(&b.republish(at(8, 0, 5))), first);
    b.emergency(Some("Khẩn"), at(8, 0, 10));
    let again = wire(&b.republish(at(8, 0, 20)));
    assert!(again.contains(&("awtrix_cong/notify".to_string(),
        r##"{"text":"Khan","color":"#FF0000","hold":true,"blinkText":500,"stack":false,"wakeup":true}"##.to_string())));
    // The app under the notification is sent too, so dismissing shows it.
    assert!(again
        .iter()
        .any(|(t, p)| t == "awtrix_cong/custom/loa" && p.contains("Trong dan")));
    assert!(again.contains(&("bang/text".to_string(), "Khẩn".to_string())));
    assert_eq!(again.len(), 2 + 1 + 2 + 1 + 1);
    // Blank boards too.
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    b.tick(at(23, 0, 0));
    let blank = wire(&b.republish(at(23, 0, 1)));
    assert!(blank.contains(&("awtrix_cong/custom/loa".to_string(), String::new())));
    assert!(blank.contains(&("cmnd/led-cho/DisplayClear".to_string(), String::new())));
    // Republishing changes nothing: the next tick has nothing new.
    assert!(b.tick(at(23, 0, 2)).is_empty());
}

#[test]
fn reload_keeps_what_shows_and_blanks_removed_boards() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    b.tick(at(8, 0, 0));
    // The same configuration: nothing to send.
    let out = b.reload(&config(STATION, ONE_SLOGAN), at(8, 0, 10));
    assert!(out.is_empty(), "{out:?}");
    // The slogan's text changes and the WLED board goes away.
    let station = STATION.replace(
        "  wl:\n    name: \"WLED\"\n    preset: wled\n    topic: wled/nvh\n    charset: utf8\n    show_now_playing: false\n",
        "",
    );
    assert_ne!(station, STATION);
    let out = wire(&b.reload(
        &config(&station, &ONE_SLOGAN.replace("Trọng dân", "Gần dân")),
        at(8, 0, 20),
    ));
    assert!(out.contains(&(
        "wled/nvh/api".to_string(),
        r#"{"on":false,"seg":[{"id":0,"n":""}]}"#.to_string()
    )));
    assert!(out.contains(&("bang/text".to_string(), "Gần dân".to_string())));
    assert!(!b.current().contains_key("wl"));
    // An emergency survives a reload.
    b.emergency(Some("Khẩn"), at(8, 1, 0));
    b.reload(&config(STATION, ONE_SLOGAN), at(8, 1, 10));
    assert_eq!(shows(&b, "wl"), "Khẩn");
}

#[test]
fn only_the_text_and_json_states_are_retained() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    let mut all = b.tick(at(6, 0, 0));
    all.extend(b.now_playing(Some("Tin"), at(6, 1, 0)));
    all.extend(b.emergency(Some("Khẩn"), at(6, 2, 0)));
    all.extend(b.republish(at(6, 3, 0)));
    all.extend(b.emergency(None, at(6, 4, 0)));
    all.extend(b.reload(&config(STATION, ONE_SLOGAN), at(6, 5, 0)));
    assert!(!all.is_empty());
    for p in &all {
        let state = p.topic == "bang/text" || p.topic == "bang/json";
        assert_eq!((p.retain, p.qos), (state, u8::from(state)), "{p:?}");
    }
    // The example station's boards: commands to firmware, none retained.
    let mut b = Boards::new(&example());
    let mut all = b.tick(at(6, 0, 0));
    all.extend(b.emergency(Some("Khẩn"), at(6, 2, 0)));
    assert!(all.iter().all(|p| !p.retain && p.qos == 0));
}

#[test]
fn a_board_that_comes_back_gets_its_text_again_an_emergency_included() {
    let mut b = Boards::new(&config(STATION, ONE_SLOGAN));
    b.tick(at(6, 0, 0));
    b.emergency(Some("Bão số 3"), at(6, 1, 0));
    assert_eq!(
        b.subscriptions(),
        vec![
            "tele/led-cho/LWT".to_string(),
            "wled/nvh/status".to_string()
        ]
    );
    // Tasmota's board lost power: its will says Offline (nothing to do),
    // then its birth message says Online.
    assert!(b
        .on_message("tele/led-cho/LWT", b"Offline", at(6, 2, 0))
        .is_empty());
    let back = b.on_message("tele/led-cho/LWT", b"Online", at(6, 3, 0));
    assert_eq!(
        wire(&back),
        msgs(&[
            ("cmnd/led-cho/DisplayText", "Bao so 3"),
            ("cmnd/led-cho/DisplayBlinkrate", "1"),
        ])
    );
    let back = b.on_message("wled/nvh/status", b"online", at(6, 4, 0));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].topic, "wled/nvh/api");
    assert!(back[0].payload_str().contains("Bão số 3"), "{back:?}");
    // Anything else on those topics, or another topic, sends nothing.
    assert!(b
        .on_message("wled/nvh/status", b"offline", at(6, 5, 0))
        .is_empty());
    assert!(b.on_message("bang/text", b"Online", at(6, 5, 0)).is_empty());
    // The retained states carry the emergency for boards that come back
    // on their own.
    let states = b.republish(at(6, 6, 0));
    let text = states.iter().find(|p| p.topic == "bang/text").unwrap();
    assert!(text.retain && text.qos == 1);
    assert_eq!(text.payload_str(), "Bão số 3");
}
