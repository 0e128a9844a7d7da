//! deploy/loa.service is what a package installs: `systemd-analyze verify`
//! finds nothing wrong with it (run on a copy whose ExecStart names the
//! freshly built binary, as verify checks that the program exists), and
//! `systemd-analyze security` rates its hardening OK or better.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_loa");

/// A copy of the unit, named loa.service, with ExecStart on the built binary.
fn unit_copy(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(loa_e2e::repo().join("deploy/loa.service"))
        .expect("deploy/loa.service is readable");
    assert!(
        text.contains("ExecStart=/usr/bin/loa run --config /etc/loa"),
        "the unit starts /usr/bin/loa run --config /etc/loa"
    );
    let text = text.replace("ExecStart=/usr/bin/loa ", &format!("ExecStart={BIN} "));
    let path = dir.join("loa.service");
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
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path());
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
    let about_us: Vec<&str> = said.lines().filter(|l| l.contains("loa.service")).collect();
    assert!(about_us.is_empty(), "systemd-analyze verify warns:\n{said}");
}

#[test]
fn security_rates_the_hardening_ok_or_better() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path());
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
    println!("systemd-analyze security: exposure {exposure} {rating}");
    assert!(
        exposure < 5.0 && matches!(rating, "OK" | "SAFE" | "PERFECT"),
        "exposure {exposure} {rating}: hardening must rate OK or better\n{said}"
    );
}
