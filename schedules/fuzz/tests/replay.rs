//! Replays the committed seeds and every crash reproducer in regressions/
//! through both harnesses, without libFuzzer:
//!
//!     cd schedules/fuzz && cargo test --no-default-features
//!
//! A file in regressions/ whose name starts with `parse_yaml-` goes to
//! parse_yaml only; every other one goes to load_config (and parse_yaml).
//! Besides crashes, regressions/ holds inputs that were too slow or too
//! big (libFuzzer's timeouts and out-of-memory): each input must take at
//! most REGRESSION_BUDGET (run with --release for the figures that count).

use std::path::Path;

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

#[test]
fn seeds() {
    for p in files("seeds/load_config") {
        eprintln!("load_config {}", p.display());
        loa_schedules_fuzz::load_config(&std::fs::read(&p).unwrap());
    }
    for p in files("seeds/parse_yaml") {
        eprintln!("parse_yaml {}", p.display());
        loa_schedules_fuzz::parse_yaml(&std::fs::read(&p).unwrap());
    }
}

const REGRESSION_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// An input still running after this long is a hang: the test gives up on it
/// (its thread is left behind) and fails.
const HANG: std::time::Duration = std::time::Duration::from_secs(30);

#[test]
fn regressions() {
    let mut failures = Vec::new();
    for p in files("regressions") {
        eprintln!("regression {}", p.display());
        let data = std::fs::read(&p).unwrap();
        let yaml_only = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("parse_yaml-"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let t = std::time::Instant::now();
            let outcome = std::panic::catch_unwind(|| {
                loa_schedules_fuzz::parse_yaml(&data);
                if !yaml_only {
                    loa_schedules_fuzz::load_config(&data);
                }
            });
            let _ = tx.send((outcome.is_ok(), t.elapsed()));
        });
        match rx.recv_timeout(HANG) {
            Ok((true, took)) => {
                eprintln!("  took {took:.2?}");
                if took > REGRESSION_BUDGET {
                    failures.push(format!(
                        "{} took {took:.2?}, over {REGRESSION_BUDGET:?}",
                        p.display()
                    ));
                }
            }
            Ok((false, _)) => failures.push(format!("{} panics", p.display())),
            Err(_) => failures.push(format!("{} still runs after {HANG:?}", p.display())),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The load_config seeds are valid configurations, so the fuzzer starts
/// from inputs that reach the checks and the agenda, not only the parser.
#[test]
fn load_config_seeds_are_valid() {
    for p in files("seeds/load_config") {
        let report = loa_schedules_fuzz::check(&std::fs::read(&p).unwrap());
        let errors: Vec<String> = report
            .diagnostics
            .errors
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", p.display());
        for w in &report.diagnostics.warnings {
            eprintln!("{}: warning {w}", p.display());
        }
        assert!(report.config.is_some_and(|c| !c.programs.is_empty()));
    }
}
