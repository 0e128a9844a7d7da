//! The Debian package (`make deb`): lintian finds no error and no warning in
//! it, and installed into a fresh Debian root as an administrator would
//! (`apt-get install ./loa_*.deb`), then removed and purged: the manual has a
//! page for every command `loa --help` lists, the loa user exists, the example station in /etc/loa validates
//! and its files are conffiles, the service is enabled, `loa doctor` run as
//! user loa finds its state directory writable and says what is missing, and
//! an airtime log written by user loa outlives both `dpkg -r` and `dpkg -P`.
//!
//! Needs root (debootstrap, chroot, mount) and the network to
//! deb.debian.org; without root it prints "skipped: needs root" and passes.
//! The package is built by scripts/build-deb on every run (a no-op build when
//! the release binary is fresh), so it is never stale. The Debian root comes
//! from a pristine tarball cached under target/deb-test/ (made once with
//! debootstrap), unpacked fresh for every run. Timings are printed (see them
//! with `--nocapture`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
/// A PATH for commands inside the root (the host's may name other places).
const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` to its end; panics (naming `what`) if it cannot start.
fn run(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {:?}: {e}", cmd.get_program()))
}

/// Runs `cmd` and panics with its output unless it exits 0.
fn must(cmd: &mut Command, what: &str) -> Output {
    let o = run(cmd, what);
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}",
        o.status,
        text(&o)
    );
    o
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Mount points at or under `dir`, from /proc/self/mountinfo.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        // mountinfo escapes space, tab, newline and backslash as \ooo.
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// Deletes a Debian root, but only once nothing is mounted inside it: a
/// recursive delete through a mount would reach the host's files.
fn remove_root(dir: &Path) -> Result<(), String> {
    let left = mounts_under(dir);
    if !left.is_empty() {
        return Err(format!(
            "{} still has mounts {left:?}; unmount them and delete it by hand",
            dir.display()
        ));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("cannot delete {}: {e}", dir.display()))
}

/// The pristine minbase root as a tarball, made with debootstrap on the first
/// run and kept under target/deb-test/ (about 200 MB; `make clean` drops it).
fn pristine_tarball(cache: &Path) -> PathBuf {
    let tarball = cache.join(format!("{SUITE}-minbase.tar"));
    if tarball.is_file() {
        println!("debian root: cached {}", tarball.display());
        return tarball;
    }
    let started = Instant::now();
    let building = cache.join(format!("{SUITE}-minbase.building"));
    if building.exists() {
        // Left by an interrupted run.
        remove_root(&building).unwrap_or_else(|e| panic!("{e}"));
    }
    must(
        Command::new("debootstrap")
            .args(["--variant=minbase", SUITE])
            .arg(&building)
            .arg(MIRROR),
        "debootstrap (scripts/install-deps installs it; it needs the network to deb.debian.org)",
    );
    let partial = cache.join(format!("{SUITE}-minbase.tar.partial"));
    must(
        Command::new("tar")
            .arg("-C")
            .arg(&building)
            .arg("-cf")
            .arg(&partial)
            .arg("."),
        "tar of the debootstrapped root",
    );
    std::fs::rename(&partial, &tarball).expect("rename the root tarball into place");
    remove_root(&building).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "debian root: debootstrap {SUITE} minbase took {:.1} s (cached as {})",
        started.elapsed().as_secs_f64(),
        tarball.display()
    );
    tarball
}

/// A fresh Debian root with /proc mounted; unmounted and deleted when
/// dropped, also when an assertion panics.
struct Root {
    dir: PathBuf,
}

impl Root {
    fn unpack(tarball: &Path, cache: &Path) -> Root {
        let dir = tempfile::Builder::new()
            .prefix("root-")
            .tempdir_in(cache)
            .expect("a directory for the root under target/deb-test")
            .keep();
        // From here on Drop cleans up, whatever fails next.
        let root = Root { dir };
        must(
            Command::new("tar")
                .arg("-C")
                .arg(&root.dir)
                .arg("-xf")
                .arg(tarball),
            "unpacking the Debian root",
        );
        // apt inside needs the host's resolver; the tarball's copy may be stale.
        std::fs::copy("/etc/resolv.conf", root.path("/etc/resolv.conf"))
            .expect("copy /etc/resolv.conf into the root");
        must(
            Command::new("mount")
                .args(["-t", "proc", "proc"])
                .arg(root.path("/proc")),
            "mounting /proc in the root",
        );
        root
    }

    /// A path inside the root, given as it is seen from inside.
    fn path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside.trim_start_matches('/'))
    }

    /// `chroot ROOT ARGS...` as root, with a clean environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("chroot");
        c.env_clear()
            .env("PATH", ROOT_PATH)
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .arg(&self.dir)
            .args(args);
        c
    }

    /// `chroot --userspec=loa:loa ROOT ARGS...`: as the service's user.
    fn as_loa(&self, args: &[&str]) -> Command {
        let mut c = Command::new("chroot");
        c.env_clear()
            .env("PATH", ROOT_PATH)
            .env("LANG", "C.UTF-8")
            .env("HOME", "/var/lib/loa")
            .arg("--userspec=loa:loa")
            .arg(&self.dir)
            .args(args);
        c
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let proc_dir = self.path("/proc");
        if !mounts_under(&proc_dir).is_empty() {
            let ok = Command::new("umount")
                .arg(&proc_dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                // Busy (a process of a failed step still runs): detach it.
                let _ = Command::new("umount").arg("-l").arg(&proc_dir).status();
            }
        }
        if let Err(e) = remove_root(&self.dir) {
            eprintln!("deb_package: {e}");
        }
    }
}

/// Rows in an airtime log, read from the host (the binary may be gone).
fn airtime_rows(db: &Path) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("{} opens: {e}", db.display()));
    c.query_row("SELECT count(*) FROM airtime", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{} reads as an airtime log: {e}", db.display()))
}

fn owner_and_mode(root: &Root, inside: &str) -> String {
    let o = must(
        &mut root.cmd(&["stat", "-c", "%U:%G %a", inside]),
        "stat in the root",
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn the_package_installs_into_a_fresh_debian_and_keeps_the_airtime_log() {
    if !is_root() {
        println!("skipped: needs root (debootstrap, chroot and mount); CI runs it as root");
        return;
    }
    let repo = loa_e2e::repo();
    let total = Instant::now();

    // The package, built as `make deb` builds it.
    let t = Instant::now();
    let mut build = Command::new(repo.join("scripts/build-deb"));
    build.current_dir(&repo);
    // Cargo sets these for the test binary; passed on, they would make the
    // nested release build differ from `make deb`'s (ring's build script
    // tracks CARGO_MANIFEST_DIR) and rebuild it every time.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ]
        .iter()
        .any(|p| k.starts_with(p))
        {
            build.env_remove(k.as_ref());
        }
    }
    let built = must(&mut build, "scripts/build-deb");
    let stdout = String::from_utf8_lossy(&built.stdout);
    let deb = repo.join(
        stdout
            .lines()
            .rev()
            .find(|l| l.ends_with(".deb"))
            .unwrap_or_else(|| panic!("scripts/build-deb printed no .deb path:\n{stdout}")),
    );
    let size = std::fs::metadata(&deb)
        .unwrap_or_else(|e| panic!("{}: {e}", deb.display()))
        .len();
    println!(
        "package: {} ({:.1} MB) built in {:.1} s",
        deb.display(),
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Debian's own checks: not one error or warning (build-deb runs lintian
    // too; this says it where a reader of the tests looks). Overrides, each
    // with its reason, are in deploy/debian/lintian-overrides.
    let t = Instant::now();
    let lintian = run(
        Command::new("lintian")
            .args(["--fail-on", "error,warning"])
            .arg(&deb),
        "lintian (scripts/install-deps installs it)",
    );
    let said = text(&lintian);
    let faults: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    assert!(
        lintian.status.success() && faults.is_empty(),
        "lintian finds no error or warning in {} ({}):\n{said}",
        deb.display(),
        lintian.status
    );
    println!("lintian: clean in {:.1} s", t.elapsed().as_secs_f64());

    let cache = repo.join("target/deb-test");
    std::fs::create_dir_all(&cache).expect("create target/deb-test");
    let tarball = pristine_tarball(&cache);
    let t = Instant::now();
    let root = Root::unpack(&tarball, &cache);
    println!(
        "debian root: unpacked in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Install as an administrator would: apt resolves Depends from the mirror.
    let t = Instant::now();
    std::fs::copy(&deb, root.path("/tmp/loa.deb")).expect("copy the package into the root");
    must(
        &mut root.cmd(&["apt-get", "update", "-qq"]),
        "apt-get update in the root",
    );
    let installed = must(
        &mut root.cmd(&[
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "/tmp/loa.deb",
        ]),
        "apt-get install ./loa.deb in the root",
    );
    let said = text(&installed);
    println!(
        "install: apt-get install took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(
        said.contains("loa: installed and enabled, not started"),
        "postinst tells what it did:\n{said}"
    );

    // The user and group, and the directories of SPEC section 1.
    let pw = must(
        &mut root.cmd(&["getent", "passwd", "loa"]),
        "getent passwd loa",
    );
    let pw = String::from_utf8_lossy(&pw.stdout).trim().to_string();
    let fields: Vec<&str> = pw.split(':').collect();
    assert_eq!(fields.len(), 7, "{pw}");
    assert_eq!(fields[5], "/var/lib/loa", "home: {pw}");
    assert_eq!(fields[6], "/usr/sbin/nologin", "no login shell: {pw}");
    let uid: u32 = fields[2].parse().expect("numeric uid");
    assert!(uid < 1000, "a system user: {pw}");
    must(
        &mut root.cmd(&["getent", "group", "loa"]),
        "getent group loa",
    );
    assert_eq!(owner_and_mode(&root, "/var/lib/loa"), "loa:loa 2770");
    assert_eq!(owner_and_mode(&root, "/var/lib/loa/media"), "loa:loa 2770");

    // The files, where the unit and the docs say they are.
    for f in [
        "/usr/bin/loa",
        "/lib/systemd/system/loa.service",
        "/usr/share/doc/loa/README.md",
        "/usr/share/doc/loa/docs/SPEC.md",
        "/usr/share/doc/loa/docs/control.md",
        "/usr/share/doc/loa/docs/en/admin-guide.md",
        "/usr/share/doc/loa/docs/vi/huong-dan-van-hanh.md",
        "/usr/share/loa/schema/station.schema.json",
        "/usr/share/loa/schema/schedule.schema.json",
    ] {
        assert!(root.path(f).is_file(), "{f} is installed");
    }
    let unit = std::fs::read_to_string(root.path("/lib/systemd/system/loa.service")).unwrap();
    assert!(unit.contains("Documentation=file:/usr/share/doc/loa/README.md"));

    // The manual: `man loa`, and a page for every command `loa --help` lists.
    let help = must(&mut root.cmd(&["loa", "--help"]), "loa --help");
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(
        commands.contains(&"run"),
        "loa --help lists its commands:\n{help}"
    );
    for page in
        std::iter::once("loa".to_string()).chain(commands.iter().map(|c| format!("loa-{c}")))
    {
        let f = format!("/usr/share/man/man1/{page}.1.gz");
        assert!(root.path(&f).is_file(), "{f} is installed (man {page})");
    }
    let changelog = root.path("/usr/share/doc/loa/changelog.Debian.gz");
    assert!(changelog.is_file(), "{} is installed", changelog.display());

    // /etc/loa: the example station, every file a conffile whose editor
    // schema line names a schema that is installed.
    let conffiles = must(
        &mut root.cmd(&["dpkg-query", "-W", "-f=${Conffiles}\\n", "loa"]),
        "dpkg-query Conffiles",
    );
    let conffiles = String::from_utf8_lossy(&conffiles.stdout).to_string();
    let mut etc_files = vec!["/etc/loa/station.yaml".to_string()];
    for e in std::fs::read_dir(root.path("/etc/loa/schedules")).expect("/etc/loa/schedules") {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        etc_files.push(format!("/etc/loa/schedules/{name}"));
    }
    assert!(
        etc_files.len() >= 3,
        "station.yaml and the schedules: {etc_files:?}"
    );
    assert!(
        conffiles
            .lines()
            .any(|l| l.trim().starts_with("/etc/loa/viet-tat.txt ")),
        "the station's abbreviations (tts.lexicon) are a conffile:\n{conffiles}"
    );
    for f in &etc_files {
        assert!(
            conffiles
                .lines()
                .any(|l| l.trim().starts_with(&format!("{f} "))),
            "{f} is a conffile:\n{conffiles}"
        );
        let body = std::fs::read_to_string(root.path(f)).unwrap();
        let first = body.lines().next().unwrap_or_default();
        let schema = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{f} starts with its schema line: {first}"));
        assert!(
            schema.starts_with("/usr/share/loa/schema/") && root.path(schema).is_file(),
            "{f}: the schema {schema} is installed"
        );
    }

    // Enabled, through deb-systemd-helper, though no systemd runs here.
    let wants = root.path("/etc/systemd/system/multi-user.target.wants/loa.service");
    let link = std::fs::read_link(&wants)
        .unwrap_or_else(|e| panic!("{} is a symlink (service enabled): {e}", wants.display()));
    assert_eq!(link, Path::new("/lib/systemd/system/loa.service"));

    // The binary runs, and the installed example station validates: its
    // recordings are not shipped, which `loa check` only warns about.
    must(&mut root.cmd(&["loa", "--version"]), "loa --version");
    let check = run(
        &mut root.cmd(&["loa", "check", "--config", "/etc/loa"]),
        "loa check",
    );
    let said = text(&check);
    assert!(
        check.status.success(),
        "loa check --config /etc/loa exits 0:\n{said}"
    );
    assert!(said.contains("/etc/loa: valid: "), "{said}");
    assert!(
        said.contains("yet in /var/lib/loa/media"),
        "the media directory is /var/lib/loa/media, not /etc/loa/media:\n{said}"
    );

    // `loa doctor` as the service's user, without a network (so the broker
    // line does not depend on what listens on this host's port 1883) and
    // without a sound card (the root has no /dev/snd).
    let doctor = run(
        &mut {
            let mut c = Command::new("unshare");
            c.arg("--net")
                .arg("chroot")
                .env_clear()
                .env("PATH", ROOT_PATH)
                .env("LANG", "C.UTF-8")
                .env("HOME", "/var/lib/loa")
                .arg("--userspec=loa:loa")
                .arg(&root.dir)
                .args(["loa", "doctor", "--config", "/etc/loa"]);
            c
        },
        "loa doctor",
    );
    let said = text(&doctor);
    println!("loa doctor, as user loa in the fresh root:\n{said}");
    let line = |prefix: &str| {
        said.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("a line starting `{prefix}`:\n{said}"))
            .to_string()
    };
    assert!(line("ok    configuration: /etc/loa is valid").contains("warning(s)"));
    assert_eq!(
        line("ok    state: "),
        "ok    state: /var/lib/loa is writable"
    );
    assert!(
        line("warn  media: ").contains("/var/lib/loa/media"),
        "{said}"
    );
    let output = line("fail  output main: ");
    assert!(
        output.contains("`loa devices`"),
        "advice for the sound card: {output}"
    );
    assert!(line("fail  broker: ").contains("mqtt://127.0.0.1:1883"));
    assert_eq!(
        line("ok    airtime log: "),
        "ok    airtime log: /var/lib/loa/airtime.sqlite not created yet; `loa run` creates it"
    );
    // Any level: it depends on this machine's disk.
    assert!(
        said.lines().any(|l| l.contains("  disk (state): ")),
        "{said}"
    );
    assert_eq!(
        doctor.status.code(),
        Some(1),
        "a failed check exits 1:\n{said}"
    );

    // The airtime log, written by user loa where the service keeps it: a
    // simulated day of the example station (its news is missing, so those
    // items are logged as skipped: rows all the same).
    let t = Instant::now();
    must(
        &mut root.as_loa(&[
            "loa",
            "simulate",
            "--config",
            "/etc/loa",
            "--from",
            "2026-12-01",
            "--days",
            "1",
            "--db",
            "/var/lib/loa/airtime.sqlite",
        ]),
        "loa simulate as user loa",
    );
    let db = root.path("/var/lib/loa/airtime.sqlite");
    let rows = airtime_rows(&db);
    assert!(rows > 0, "the simulated day wrote rows");
    println!(
        "simulate: one day, {rows} airtime rows, in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(
        owner_and_mode(&root, "/var/lib/loa/airtime.sqlite")
            .split(' ')
            .next(),
        Some("loa:loa")
    );

    // Removal keeps the configuration and the log; purge keeps the log.
    let removed = must(&mut root.cmd(&["dpkg", "-r", "loa"]), "dpkg -r loa");
    assert!(!root.path("/usr/bin/loa").exists(), "the binary is gone");
    assert!(
        root.path("/etc/loa/station.yaml").is_file(),
        "remove keeps conffiles"
    );
    assert_eq!(
        airtime_rows(&db),
        rows,
        "dpkg -r keeps the airtime log:\n{}",
        text(&removed)
    );

    let purged = must(&mut root.cmd(&["dpkg", "-P", "loa"]), "dpkg -P loa");
    let said = text(&purged);
    assert!(
        !root.path("/etc/loa/station.yaml").exists(),
        "purge deletes the conffiles"
    );
    assert!(
        std::fs::symlink_metadata(&wants).is_err(),
        "purge forgets the enablement"
    );
    assert_eq!(
        airtime_rows(&db),
        rows,
        "dpkg -P keeps the airtime log:\n{said}"
    );
    assert!(
        root.path("/var/lib/loa/media").is_dir(),
        "purge keeps the media"
    );
    assert!(
        said.contains(
            "kept /var/lib/loa: the airtime log (airtime.sqlite) is the station's legal record"
        ),
        "purge says what it kept:\n{said}"
    );
    must(
        &mut root.cmd(&["getent", "passwd", "loa"]),
        "the loa user outlives purge",
    );

    drop(root);
    println!("deb_package: {:.1} s in all", total.elapsed().as_secs_f64());
}
