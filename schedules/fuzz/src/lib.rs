//! The fuzz harnesses of loa-schedules, shared by the cargo-fuzz targets
//! (fuzz_targets/) and the replay test (tests/replay.rs).
//!
//! `load_config` input format: up to three parts separated by NUL bytes:
//! `station.yaml \0 schedules/10-fuzz.yaml \0 schedules/20-fuzz.yaml`.
//! A missing part means the file is absent. Bytes are written as they are,
//! so invalid UTF-8 reaches the loader too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use loa_schedules::check::{check_dir, Report};
use loa_schedules::{agenda, yaml, MediaProbe};

/// Media files that exist in the fuzz config directory (empty files: only
/// their names and mtimes matter to `newest:` and playlist globs).
const MEDIA: &[&str] = &[
    "ident/nhac-hieu.mp3",
    "ident/ket-thuc.mp3",
    "music/nhac-nen.mp3",
    "music/que-huong-1.mp3",
    "music/que-huong-2.mp3",
    "music/que-huong-3.mp3",
    "news/ban-tin-2026-11-24.mp3",
    "news/ban-tin-2026-11-25.mp3",
];

/// Fixed lengths: a table for the example station's files; other names
/// ending in an audio extension get a length derived from the name (so
/// fuzzed names reach the "known length" paths); the rest are "not found".
pub struct FixedProbe {
    table: HashMap<&'static str, Duration>,
}

impl Default for FixedProbe {
    fn default() -> Self {
        let s = Duration::from_secs;
        FixedProbe {
            table: HashMap::from([
                ("nhac-hieu.mp3", s(12)),
                ("ket-thuc.mp3", s(8)),
                ("nhac-nen.mp3", s(180)),
                ("que-huong-1.mp3", s(240)),
                ("que-huong-2.mp3", s(215)),
                ("que-huong-3.mp3", s(260)),
                ("ban-tin-2026-11-24.mp3", s(900)),
                ("ban-tin-2026-11-25.mp3", s(840)),
            ]),
        }
    }
}

impl MediaProbe for FixedProbe {
    fn length(&self, path: &Path) -> Result<Duration, String> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(d) = self.table.get(name) {
            return Ok(*d);
        }
        if [".mp3", ".ogg", ".wav", ".flac"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            let h = name
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
            return Ok(Duration::from_millis(1_000 + h % 3_600_000));
        }
        Err("file not found".into())
    }

    fn speech_length(&self, text: &str, _voice: &loa_core::Voice) -> Result<Duration, String> {
        // Known for even-length texts, unknown for the others: both paths.
        if text.len().is_multiple_of(2) {
            Ok(Duration::from_millis(80 * text.chars().count() as u64))
        } else {
            Err("not rendered yet".into())
        }
    }
}

/// A config directory per thread (so, per fuzzing process), made once with
/// the media files, removed when the thread ends.
struct FuzzDir(PathBuf);

impl FuzzDir {
    fn new() -> FuzzDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "loa-fuzz-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("schedules")).expect("create the fuzz dir");
        for f in MEDIA {
            let p = dir.join("media").join(f);
            std::fs::create_dir_all(p.parent().expect("has a parent")).expect("media dir");
            std::fs::write(&p, b"").expect("media file");
        }
        FuzzDir(dir)
    }
}

impl Drop for FuzzDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

thread_local! {
    static DIR: FuzzDir = FuzzDir::new();
}

fn put(path: &Path, part: Option<&[u8]>) {
    match part {
        Some(bytes) => std::fs::write(path, bytes).expect("write a fuzz file"),
        None => {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The day the checks look ahead from: fixed, so runs are reproducible.
pub fn today() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, 11, 25)
}

/// Writes a `load_config` input's parts into this thread's config
/// directory and checks it, as `loa check` does.
pub fn check(data: &[u8]) -> Report {
    DIR.with(|dir| {
        let dir = &dir.0;
        let mut parts = data.splitn(3, |&b| b == 0);
        put(&dir.join("station.yaml"), parts.next());
        put(&dir.join("schedules/10-fuzz.yaml"), parts.next());
        put(&dir.join("schedules/20-fuzz.yaml"), parts.next());
        check_dir(dir, &FixedProbe::default(), today())
    })
}

/// The `load_config` target: write the parts, check the directory, and
/// run what `loa check`/`loa agenda` run on a valid result.
pub fn load_config(data: &[u8]) {
    let report = check(data);

    for d in report
        .diagnostics
        .errors
        .iter()
        .chain(&report.diagnostics.warnings)
    {
        assert!(
            d.loc.pos.line >= 1 && d.loc.pos.column >= 1,
            "positions count from 1: {d}"
        );
        let _ = d.to_string();
    }
    let _ = report.diagnostics.to_json();

    let Some(config) = report.config else {
        // No configuration must come with a reason.
        assert!(
            !report.diagnostics.is_valid(),
            "no configuration but no error either"
        );
        return;
    };
    let from = Utc.with_ymd_and_hms(2026, 11, 24, 17, 0, 0).unwrap();
    let to = from + chrono::TimeDelta::days(2);
    let entries = agenda::agenda(&config, &report.lengths, from, to);
    for w in entries.windows(2) {
        assert!(w[0].scheduled <= w[1].scheduled, "agenda out of order");
    }
    for e in &entries {
        assert!(e.program < config.programs.len());
        if let Some(end) = e.end {
            assert!(
                end >= e.start,
                "program `{}` ends before it starts: {e:?}",
                config.programs[e.program].id
            );
        }
        let _ = e.to_json(&config);
    }
    let _ = agenda::format_text(&config, &entries);
}

/// The `parse_yaml` target: any text through the spanned YAML parser.
pub fn parse_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = yaml::parse(text) {
        assert!(e.pos.line >= 1 && e.pos.column >= 1, "{e:?}");
        assert!(!e.message.is_empty());
    }
}
