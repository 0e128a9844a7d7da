//! Support for the end-to-end tests in tests/tests/: they run the real `loa`
//! binary (Cargo passes its path as CARGO_BIN_EXE_loa to each test target)
//! against configuration directories made here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's top directory.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// The example station, copied into a fresh temporary directory (so a test
/// may edit it), with the demo media made by scripts/demo-media.
pub fn example_station() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo().join("schedules/examples/au-lau"), tmp.path());
    let status = Command::new(repo().join("scripts/demo-media"))
        .arg(tmp.path().join("media"))
        .status()
        .expect("scripts/demo-media runs");
    assert!(status.success(), "scripts/demo-media failed");
    tmp
}

/// Copies a directory tree (skipping generated media and state).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let name = e.file_name();
        if name == "media" || name == "state" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Runs `loa ARGS` and returns what it did.
pub fn loa(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("LOA_CONFIG")
        .output()
        .expect("the loa binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
