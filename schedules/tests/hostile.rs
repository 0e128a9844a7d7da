//! Inputs that once hung or exhausted the loader (found while fuzzing;
//! schedules/fuzz/regressions/) and the fuzz seeds: each loads to a result,
//! with errors where due, and none runs away. A hang shows as a test that
//! never reports, so the watchdog here is generous (60 s): it catches a
//! loop, it does not measure speed.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use loa_schedules::check::check_dir;
use loa_schedules::MediaProbe;

struct Fixed;
impl MediaProbe for Fixed {
    fn length(&self, _: &Path) -> Result<Duration, String> {
        Ok(Duration::from_secs(60))
    }
}

/// The fuzz input format: station.yaml, then schedule files, split at NUL bytes.
fn write_config(input: &[u8], dir: &Path) {
    let mut parts = input.split(|b| *b == 0);
    std::fs::write(dir.join("station.yaml"), parts.next().unwrap_or_default()).unwrap();
    std::fs::create_dir_all(dir.join("schedules")).unwrap();
    for (i, p) in parts.enumerate() {
        std::fs::write(dir.join(format!("schedules/{}0-fuzz.yaml", i + 1)), p).unwrap();
    }
}

fn inputs(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|p| p.extension().is_none_or(|e| e != "md"));
    v.sort();
    v
}

fn load_with_watchdog(path: &Path) -> loa_schedules::Diagnostics {
    let input = std::fs::read(path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let tmp = std::env::temp_dir().join(format!(
            "loa-hostile-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        write_config(&input, &tmp);
        let report = check_dir(&tmp, &Fixed, chrono::NaiveDate::from_ymd_opt(2026, 11, 25));
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = tx.send(report.diagnostics);
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{} did not finish loading", path.display()))
}

#[test]
fn regressions_load_and_are_refused_with_a_reason() {
    let files = inputs("regressions");
    assert!(
        files.len() >= 3,
        "regression inputs are in schedules/fuzz/regressions"
    );
    for f in files {
        let d = load_with_watchdog(&f);
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let all: Vec<String> = d.errors.iter().map(|e| e.to_string()).collect();
        if name.contains("newest-glob") {
            assert!(
                all.iter().any(|e| e.contains("under the media directory")),
                "{name}: {all:?}"
            );
        }
        if name.contains("cron-every-second") {
            assert!(
                all.iter().any(|e| e.contains("times a day")),
                "{name}: {all:?}"
            );
        }
    }
}

#[test]
fn the_fuzz_seeds_load() {
    for f in inputs("seeds/load_config") {
        let d = load_with_watchdog(&f);
        assert!(d.errors.is_empty(), "{}: {:?}", f.display(), d.errors);
    }
}
