//! deploy/loa.service, loa-collect.service and loa-receive.service are what a package
//! installs: `systemd-analyze verify` finds nothing wrong with them (run on
//! copies whose ExecStart names the freshly built binary, as verify checks
//! that the program exists), and `systemd-analyze security` rates their
//! hardening OK or better.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_loa");

/// The units and the command line each starts.
const UNITS: [(&str, &str); 3] = [
    (
        "loa.service",
        "ExecStart=/usr/bin/loa run --config /etc/loa",
    ),
    (
        "loa-collect.service",
        "ExecStart=/usr/bin/loa collect --config /etc/loa/collect.yaml",
    ),
    (
        "loa-receive.service",
        "ExecStart=/usr/bin/loa receive --mqtt ${MQTT} --id ${RECEIVER}",
    ),
];

/// A copy of the unit `name`, with ExecStart on the built binary.
fn unit_copy(dir: &Path, name: &str, exec: &str) -> PathBuf {
    let text = std::fs::read_to_string(loa_e2e::repo().join("deploy").join(name))
        .unwrap_or_else(|e| panic!("deploy/{name} is readable: {e}"));
    assert!(text.contains(exec), "{name} has {exec}");
    let text = text.replace("ExecStart=/usr/bin/loa ", &format!("ExecStart={BIN} "));
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the unit copy");
    path
}

fn systemd_analyze() -> Command {
    let mut c = Command::new("systemd-analyze");
    // Offline analysis: no pager, no colour, no running manager needed.
    c.env("SYSTEMD_PAGER", "").env("SYSTEMD_COLORS", "0");
    c
}

#[test]
fn verify_finds_nothing_wrong() {
    for (name, exec) in UNITS {
        verify(name, exec);
    }
}

fn verify(name: &str, exec: &str) {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path(), name, exec);
    let out = systemd_analyze()
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs (scripts/install-deps installs systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{said}"
    );
    // Warnings (unknown settings, bad values) exit 0 too: nothing may be said
    // about our unit.
    let about_us: Vec<&str> = said.lines().filter(|l| l.contains(name)).collect();
    assert!(about_us.is_empty(), "systemd-analyze verify warns:\n{said}");
}

#[test]
fn security_rates_the_hardening_ok_or_better() {
    for (name, exec) in UNITS {
        security(name, exec);
    }
}

fn security(name: &str, exec: &str) {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path(), name, exec);
    let out = systemd_analyze()
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs (scripts/install-deps installs systemd)");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze security --offline=yes failed (systemd 250 or newer needed):\n{said}{stderr}"
    );
    // "→ Overall exposure level for loa.service: 1.9 OK 🙂"
    let line = said
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall exposure in:\n{said}"));
    let after = line.rsplit(": ").next().unwrap();
    let mut words = after.split_whitespace();
    let exposure: f64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| {
            panic!("no exposure figure in `{line}`");
        });
    let rating = words.next().unwrap_or("");
    println!("systemd-analyze security {name}: exposure {exposure} {rating}");
    assert!(
        exposure < 5.0 && matches!(rating, "OK" | "SAFE" | "PERFECT"),
        "exposure {exposure} {rating}: hardening must rate OK or better\n{said}"
    );
}
