//! Support for the end-to-end tests in tests/tests/: they run the real `loa`
//! binary (Cargo passes its path as CARGO_BIN_EXE_loa to each test target)
//! against configuration directories made here.

pub mod corpus;
pub mod devices;

use std::hash::{Hash, Hasher};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a test waits for something that takes `usual` on an idle
/// machine: a bound on waiting that fails a test only when the thing never
/// happens, never a figure (the benches print those: daemon/benches). CI
/// runs every test binary at once on two cores: the usual time doubled,
/// plus 30 s.
pub fn patience(usual: Duration) -> Duration {
    usual * 2 + Duration::from_secs(30)
}

/// Polls `probe` every `every` until it gives a value, for up to
/// [`patience`] of `usual`; then panics with `what` and the last `Err`.
pub fn wait_until<T, E: std::fmt::Debug>(
    what: &str,
    usual: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<T, E>,
) -> T {
    let limit = patience(usual);
    let until = Instant::now() + limit;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= until => {
                panic!("{what}: not within {limit:?}; last seen: {e:#?}")
            }
            Err(_) => std::thread::sleep(every),
        }
    }
}

/// The repository's top directory.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// The example station, copied into a fresh temporary directory (so a test
/// may edit it), with a copy of the demo media made by scripts/demo-media.
/// Its relays point at `NO_RELAY`: the example names the real VOV addresses,
/// and no test may reach the internet.
pub fn example_station() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo().join("schedules/examples/au-lau"), tmp.path());
    copy_dir(demo_media(), &tmp.path().join("media"));
    for e in std::fs::read_dir(tmp.path().join("schedules")).expect("read schedules/") {
        let path = e.expect("dir entry").path();
        let text = std::fs::read_to_string(&path).expect("read a schedule file");
        std::fs::write(&path, offline(&text)).expect("write a schedule file");
    }
    tmp
}

/// A local address that refuses connections: port 1 (tcpmux), which only
/// root could listen on and nothing does.
pub const NO_RELAY: &str = "http://127.0.0.1:1";

/// Every http(s) address in `text` moved under `NO_RELAY`, its host kept
/// in the path so that a row or a message still says which one it was:
/// `https://str.vov.gov.vn/a.m3u8` becomes `http://127.0.0.1:1/str.vov.gov.vn/a.m3u8`.
pub fn offline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("http") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let scheme = ["https://", "http://"]
            .into_iter()
            .find(|s| rest.starts_with(s));
        match scheme {
            Some(s) => {
                out.push_str(NO_RELAY);
                out.push('/');
                rest = &rest[s.len()..];
            }
            None => {
                out.push_str("http");
                rest = &rest[4..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The media scripts/demo-media makes (seconds of espeak-ng and sox), made
/// once per version of the script and kept under target/e2e-media/. Each
/// test copies them: its own files, with fresh mtimes (`max_age`).
fn demo_media() -> &'static Path {
    static MEDIA: OnceLock<PathBuf> = OnceLock::new();
    MEDIA.get_or_init(|| {
        let script = repo().join("scripts/demo-media");
        let mut h = std::hash::DefaultHasher::new();
        std::fs::read(&script)
            .expect("scripts/demo-media is readable")
            .hash(&mut h);
        let cache = repo().join("target/e2e-media");
        let dir = cache.join(format!("{:016x}", h.finish()));
        if dir.is_dir() {
            return dir;
        }
        std::fs::create_dir_all(&cache).expect("mkdir target/e2e-media");
        // Made aside, then renamed into place: another test binary may be
        // making it at the same time, and the first rename wins.
        let made = tempfile::tempdir_in(&cache).expect("temp dir");
        let status = Command::new(&script)
            .arg(made.path())
            .status()
            .expect("scripts/demo-media runs");
        assert!(status.success(), "scripts/demo-media failed");
        let _ = std::fs::rename(made.path(), &dir);
        assert!(dir.is_dir(), "{} was not made", dir.display());
        dir
    })
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

/// A configuration directory in a fresh temporary directory: `station_yaml`
/// as station.yaml, empty schedules/ and media/, and `schedule` (if any) as
/// schedules/a.yaml.
pub fn station_dir(station_yaml: &str, schedule: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("schedules")).expect("mkdir schedules");
    std::fs::create_dir_all(dir.path().join("media")).expect("mkdir media");
    std::fs::write(dir.path().join("station.yaml"), station_yaml).expect("write station.yaml");
    if let Some(schedule) = schedule {
        std::fs::write(dir.path().join("schedules/a.yaml"), schedule).expect("write a.yaml");
    }
    dir
}

/// A local time (Asia/Ho_Chi_Minh) at least `secs` from now, on a whole
/// second: ("HH:MM:SS" for a schedule's `at:`, unix ms).
pub fn local_in(secs: i64) -> (String, i64) {
    let t = chrono::Utc::now() + chrono::TimeDelta::seconds(secs);
    let t = t - chrono::TimeDelta::nanoseconds(t.timestamp_subsec_nanos() as i64)
        + chrono::TimeDelta::seconds(1);
    let local = t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    (local.format("%H:%M:%S").to_string(), t.timestamp_millis())
}

/// A row of the airtime log (SPEC section 7), as `loa run` wrote it.
#[derive(Debug)]
pub struct AirtimeRow {
    pub program_id: Option<String>,
    pub title: String,
    pub source_kind: String,
    pub source: String,
    pub trigger: String,
    pub requested_by: Option<String>,
    pub priority: String,
    pub zones: String,
    pub scheduled_at: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub aired_ms: i64,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Every row of DIR/state/airtime.sqlite, oldest first.
pub fn airtime_rows(dir: &Path) -> Vec<AirtimeRow> {
    try_airtime_rows(dir).expect("the airtime log reads")
}

/// Every row of DIR/state/airtime.sqlite, oldest first, or why it cannot be
/// read (yet). Never creates the file: the daemon may be about to.
pub fn try_airtime_rows(dir: &Path) -> rusqlite::Result<Vec<AirtimeRow>> {
    let c = rusqlite::Connection::open_with_flags(
        dir.join("state/airtime.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut st = c.prepare(
        r#"SELECT program_id, title, source_kind, source, "trigger", requested_by, priority,
                  zones, scheduled_at, started_at, ended_at, aired_ms, outcome, detail
           FROM airtime ORDER BY id"#,
    )?;
    let rows = st.query_map([], |r| {
        Ok(AirtimeRow {
            program_id: r.get(0)?,
            title: r.get(1)?,
            source_kind: r.get(2)?,
            source: r.get(3)?,
            trigger: r.get(4)?,
            requested_by: r.get(5)?,
            priority: r.get(6)?,
            zones: r.get(7)?,
            scheduled_at: r.get(8)?,
            started_at: r.get(9)?,
            ended_at: r.get(10)?,
            aired_ms: r.get(11)?,
            outcome: r.get(12)?,
            detail: r.get(13)?,
        })
    })?;
    rows.collect()
}

/// Waits until the airtime log's rows satisfy `done` (expected within
/// `usual`: a program's length, say) and returns them: a program has aired
/// when its rows say so, not when a clock says it should have.
pub fn wait_rows(
    dir: &Path,
    what: &str,
    usual: Duration,
    done: impl Fn(&[AirtimeRow]) -> bool,
) -> Vec<AirtimeRow> {
    wait_until(what, usual, Duration::from_millis(100), || {
        let rows = try_airtime_rows(dir).map_err(|e| format!("{e}"))?;
        if done(&rows) {
            Ok(rows)
        } else {
            Err(format!("{rows:#?}"))
        }
    })
}

/// Runs `loa ARGS` and returns what it did.
pub fn loa(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("LOA_CONFIG")
        .output()
        .expect("the loa binary runs")
}

/// A `/proc/PID/status` figure in KiB (`VmRSS`, `VmHWM`), for the benches.
pub fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU clock ticks (user + system) in a `/proc/.../stat` file: a process's
/// or one of its threads' (`/proc/PID/task/TID/stat`).
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let s = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name in parentheses: utime is the 12th, stime the 13th.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// CPU clock ticks (user + system) of process `pid`.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    stat_ticks(&format!("/proc/{pid}/stat"))
}

/// `loa status --format json` of the station in `dir`; Null while it does
/// not answer (a daemon still starting, or gone).
pub fn status_json(bin: &str, dir: &Path) -> serde_json::Value {
    let dir = dir.to_str().expect("a UTF-8 path");
    let out = loa(bin, &["status", "--format", "json", "--config", dir]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A running `loa run`, stopped (SIGKILL) when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `loa run --config DIR ARGS...`, its log going to DIR/loa-N.log.
    pub fn start(bin: &str, dir: &Path, args: &[&str]) -> Daemon {
        Daemon::start_env(bin, dir, args, &[])
    }

    /// As `start`, with the output `main` replaced by the WAV file `wav`.
    pub fn start_to_wav(bin: &str, dir: &Path, wav: &Path) -> Daemon {
        Daemon::start(
            bin,
            dir,
            &["--output", &format!("main=wav:{}", wav.display())],
        )
    }

    /// As `start`, with extra environment variables (a PulseAudio's ALSA set-up).
    pub fn start_env(bin: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        Daemon::spawn(Command::new(bin), dir, args, env)
    }

    /// As `start`, allowed at most `nofile` open files (systemd's default
    /// for a service without LimitNOFILE= is 1,024).
    pub fn start_nofile(bin: &str, dir: &Path, nofile: u32) -> Daemon {
        let mut sh = Command::new("sh");
        sh.args([
            "-c",
            &format!("ulimit -n {nofile} && exec \"$0\" \"$@\""),
            bin,
        ]);
        Daemon::spawn(sh, dir, &[], &[])
    }

    fn spawn(mut cmd: Command, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let n = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let log = dir.join(format!("loa-{n}.log"));
        let err = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .arg("run")
            .arg("--config")
            .arg(dir)
            .args(args)
            .env_remove("LOA_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env("LOA_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(err)
            .spawn()
            .expect("loa run starts");
        Daemon { child, log }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Sends SIGTERM and waits for the exit (a stop takes a few seconds at
    /// most; waited for up to [`patience`] of 10 s, then the test fails);
    /// returns the exit status and how long it took (a figure for the
    /// benches: tests assert what the stop did, never how long it took).
    pub fn stop(mut self) -> (std::process::ExitStatus, Duration) {
        let t = Instant::now();
        self.signal("TERM");
        let status = wait_until(
            "the daemon's exit after SIGTERM",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || self.child.try_wait().expect("wait").ok_or("running"),
        );
        (status, t.elapsed())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` (usually within `secs`; waited
    /// for up to [`patience`] of it).
    pub fn wait_for_log(&self, needle: &str, secs: u64) {
        wait_until(
            &format!("`{needle}` in the log"),
            Duration::from_secs(secs),
            Duration::from_millis(50),
            || {
                let log = self.log_text();
                if log.contains(needle) {
                    Ok(())
                } else {
                    Err(log)
                }
            },
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WAV a `wav:` output wrote, with the wall time of its first sample.
pub struct Aired {
    /// Mono magnitude per frame (max of the two channels), full scale 1.0.
    pub level: Vec<f32>,
    pub rate: u32,
    /// Unix time of sample 0, in milliseconds.
    pub started_ms: i64,
}

impl Aired {
    pub fn read(path: &Path) -> Aired {
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("wav.json"))
                .expect("PATH.json beside the WAV"),
        )
        .expect("PATH.json is JSON");
        let started = meta["started_at"].as_str().expect("started_at");
        let started_ms = chrono::DateTime::parse_from_rfc3339(started)
            .expect("started_at is RFC 3339")
            .timestamp_millis();
        let mut r = hound::WavReader::open(path).expect("a readable WAV");
        let spec = r.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (48_000, 2, 16)
        );
        let samples: Vec<i16> = r.samples::<i16>().map_while(Result::ok).collect();
        let level = samples
            .chunks(2)
            .map(|f| {
                f.iter()
                    .map(|s| (*s as f32 / 32768.0).abs())
                    .fold(0.0, f32::max)
            })
            .collect();
        Aired {
            level,
            rate: spec.sample_rate,
            started_ms,
        }
    }

    /// Unix ms of frame `i`.
    pub fn time_ms(&self, i: usize) -> f64 {
        self.started_ms as f64 + i as f64 * 1000.0 / self.rate as f64
    }

    /// Frame index of the first sample louder than `thr` at or after unix ms `from`.
    pub fn onset_after(&self, from_ms: i64, thr: f32) -> Option<usize> {
        let start =
            (((from_ms - self.started_ms).max(0) as f64) * self.rate as f64 / 1000.0) as usize;
        self.level
            .iter()
            .skip(start)
            .position(|l| *l > thr)
            .map(|p| p + start)
    }

    /// First frame at or after `i` where 50 ms in a row stay under `thr`.
    pub fn silence_after(&self, i: usize, thr: f32) -> Option<usize> {
        let need = self.rate as usize / 20;
        let mut run = 0;
        for (j, l) in self.level.iter().enumerate().skip(i) {
            if *l < thr {
                run += 1;
                if run >= need {
                    return Some(j + 1 - need);
                }
            } else {
                run = 0;
            }
        }
        None
    }
}

/// A real mosquitto on a free loopback port, started for a test (and
/// stopped when dropped). `stop()` and `start_again()` simulate an outage.
pub struct Broker {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    /// mosquitto's max_queued_messages (per client).
    queue: usize,
    /// Sessions and queued messages kept on disk across a restart.
    persistent: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// The mosquitto binary (it is in sbin, outside a user's PATH).
fn mosquitto() -> &'static str {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("mosquitto is installed (scripts/install-deps)")
}

impl Broker {
    pub fn start() -> Broker {
        Broker::start_queueing(20_000)
    }

    /// A broker that queues up to `queue` messages for a client (a
    /// collector's backlog).
    pub fn start_queueing(queue: usize) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut b = Broker {
            port: free_port(),
            dir,
            child: None,
            queue,
            persistent: false,
        };
        b.start_again();
        b
    }

    /// A broker that keeps its clients' sessions and queued messages on
    /// disk when it is stopped and started with [`Broker::restart`], as a
    /// province's broker does (mosquitto writes them when it stops).
    pub fn start_persistent(queue: usize) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut b = Broker {
            port: free_port(),
            dir,
            child: None,
            queue,
            persistent: true,
        };
        b.start_again();
        b
    }

    /// Stops mosquitto as a service manager does (SIGTERM, so that a
    /// persistent broker saves its sessions) and starts it again.
    pub fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let ok = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(ok.success());
            let _ = c.wait();
        }
        self.start_again();
    }

    /// (Re)starts mosquitto on the same port and waits until it accepts.
    pub fn start_again(&mut self) {
        let conf = self.dir.path().join("mosquitto.conf");
        let persistence = if self.persistent {
            // As root mosquitto would switch to its own user, which may not
            // write in the test's private directory.
            format!(
                "persistence true\npersistence_location {}/\n{}",
                self.dir.path().display(),
                if is_root() { "user root\n" } else { "" }
            )
        } else {
            "persistence false\n".to_string()
        };
        std::fs::write(
            &conf,
            format!(
                // max_queued_messages: mosquitto's default (1,000) sheds
                // QoS 1 messages for a client that reads slower than a
                // flood arrives; the hostile tests count every one.
                "listener {} 127.0.0.1\nallow_anonymous true\n{persistence}log_dest stderr\nlog_type error\nmax_queued_messages {}\n",
                self.port, self.queue
            ),
        )
        .expect("write mosquitto.conf");
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let port = self.port;
        wait_until(
            &format!("mosquitto listening on port {port}"),
            Duration::from_secs(2),
            Duration::from_millis(50),
            || std::net::TcpStream::connect(("127.0.0.1", port)),
        );
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A fake relay device: answers every command on `cmd_topic` with the
    /// same payload on `state_topic` (as Tasmota's stat/.../POWERn and
    /// ESPHome's .../state do), until dropped.
    /// Returns once it has subscribed (no command can be missed).
    pub fn fake_device(&self, cmd_topic: &str, state_topic: &str) -> FakeDevice {
        // mosquitto_sub's debug lines (-d: "Client ... received SUBACK") go
        // to a file of their own; every other line is a command.
        let debug = self.dir.path().join(format!("device-{}.log", free_port()));
        let script = format!(
            "stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p {p} -t '{cmd_topic}' | while read -r m; do case \"$m\" in 'Client '*|'Subscribed '*) echo \"$m\" >> '{debug}';; *) mosquitto_pub -h 127.0.0.1 -p {p} -t '{state_topic}' -m \"$m\";; esac; done",
            p = self.port,
            debug = debug.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sh runs");
        let device = FakeDevice { child };
        subscribed(&debug);
        device
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// A subscriber (mosquitto_sub) recording every message on `topic` with
    /// its arrival time, until dropped.
    pub fn subscribe(&self, topic: &str) -> Subscriber {
        let mut sub = line_buffered("mosquitto_sub");
        sub.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        Subscriber::start(sub, self.dir.path(), topic)
    }

    /// Publishes `payload` on `topic` at QoS 1 (mosquitto_pub), retained if
    /// `retain`.
    pub fn publish(&self, topic: &str, payload: &str, retain: bool) {
        let mut c = Command::new("mosquitto_pub");
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            payload,
        ]);
        if retain {
            c.arg("-r");
        }
        assert!(c.status().expect("mosquitto_pub runs").success());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fake device's process group, killed when dropped.
pub struct FakeDevice {
    child: std::process::Child,
}

impl Drop for FakeDevice {
    fn drop(&mut self) {
        // The whole pipeline: sh and its mosquitto_sub/mosquitto_pub.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// `program` with its standard output flushed at each line (stdbuf), so
/// that a debug line is in the file when it happened, not at the next
/// message.
fn line_buffered(program: &str) -> Command {
    let mut c = Command::new("stdbuf");
    c.args(["-oL", program]);
    c
}

/// Waits until the `mosquitto_sub -d` writing `log` has its subscription
/// (instead of sleeping and hoping it has).
fn subscribed(log: &Path) {
    wait_until(
        &format!("mosquitto_sub's SUBACK in {}", log.display()),
        Duration::from_secs(1),
        Duration::from_millis(20),
        || {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("received SUBACK") {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
}

/// What a `mosquitto_sub` saw: (unix time in seconds, topic, payload).
pub struct Subscriber {
    child: std::process::Child,
    out: PathBuf,
}

impl Subscriber {
    /// Starts `sub` (mosquitto_sub with its connection options) on `topic`,
    /// its output in a file in `dir`.
    fn start(mut sub: Command, dir: &Path, topic: &str) -> Subscriber {
        let out = dir.join(format!("sub-{}.log", free_port()));
        let file = std::fs::File::create(&out).expect("sub log");
        let child = sub
            // -d: its debug lines say when it has subscribed; `messages`
            // skips them (they do not start with a time).
            .args(["-d", "-v", "-q", "1", "-t", topic])
            .args(["-F", "%U %t %p"])
            .stdout(file)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto_sub starts");
        let sub = Subscriber { child, out };
        subscribed(&sub.out);
        sub
    }

    pub fn messages(&self) -> Vec<(f64, String, String)> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut it = l.splitn(3, ' ');
                let t: f64 = it.next()?.parse().ok()?;
                Some((
                    t,
                    it.next()?.to_string(),
                    it.next().unwrap_or("").to_string(),
                ))
            })
            .collect()
    }

    /// Waits until `pred` holds for the messages (usually within `secs`;
    /// waited for up to [`patience`] of it).
    pub fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&[(f64, String, String)]) -> bool) {
        wait_until(
            what,
            Duration::from_secs(secs),
            Duration::from_millis(100),
            || {
                let m = self.messages();
                if pred(&m) {
                    Ok(())
                } else {
                    Err(m)
                }
            },
        )
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real mosquitto with one TLS listener on a free loopback port that
/// admits only `user` with `password` (a password_file made by
/// mosquitto_passwd; no anonymous clients), stopped when dropped. It logs
/// every connection (`log_text`), so a test can count a client's attempts.
pub struct TlsBroker {
    pub port: u16,
    /// The CA the broker's certificate chains to (a copy).
    pub ca: PathBuf,
    user: String,
    password: String,
    dir: tempfile::TempDir,
    log: PathBuf,
    child: std::process::Child,
}

impl TlsBroker {
    /// `ca`, `cert` and `key` are PEM files: the CA, the broker's
    /// certificate and its private key.
    pub fn start(ca: &Path, cert: &Path, key: &Path, user: &str, password: &str) -> TlsBroker {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        // mosquitto started as root drops to its own user before it reads
        // the password file and the certificates: let it read copies.
        let readable = |p: &Path| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        readable(d);
        for (from, name) in [(ca, "ca.pem"), (cert, "server.pem"), (key, "server.key")] {
            std::fs::copy(from, d.join(name)).expect("copy a PEM file");
            readable(&d.join(name));
        }
        let passwd = d.join("passwd");
        let ok = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([user, password])
            .status()
            .expect("mosquitto_passwd runs")
            .success();
        assert!(ok, "mosquitto_passwd failed");
        readable(&passwd);
        let port = free_port();
        let conf = d.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "per_listener_settings false\nallow_anonymous false\npassword_file {pw}\n\
                 persistence false\nlog_dest stderr\nlog_type all\n\
                 listener {port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n",
                pw = passwd.display(),
                d = d.display(),
            ),
        )
        .expect("write mosquitto.conf");
        let log = d.join("mosquitto.log");
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("mosquitto log"))
            .spawn()
            .expect("mosquitto starts");
        let b = TlsBroker {
            port,
            ca: d.join("ca.pem"),
            user: user.to_string(),
            password: password.to_string(),
            dir,
            log,
            child,
        };
        // Ready when it says so (a probe connection would show in its log).
        wait_until(
            "mosquitto (TLS) running",
            Duration::from_secs(2),
            Duration::from_millis(50),
            || {
                let log = b.log_text();
                if log.contains(" running") {
                    Ok(())
                } else {
                    Err(log)
                }
            },
        );
        b
    }

    pub fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.port)
    }

    /// What mosquitto logged so far (every connection and packet).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A subscriber over TLS (verifying the broker with its CA) with the
    /// broker's user and password; as `Broker::subscribe`.
    pub fn subscribe(&self, topic: &str) -> Subscriber {
        let mut sub = line_buffered("mosquitto_sub");
        sub.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("--cafile")
            .arg(&self.ca)
            .args(["-u", &self.user, "-P", &self.password]);
        Subscriber::start(sub, self.dir.path(), topic)
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user-mode PulseAudio with the null sink `loa_null` (scripts/pulse-env),
/// stopped when dropped. ALSA programs started with [`Pulse::env`] play to
/// the sink as `default` and capture what it plays as `loa_monitor`.
pub struct Pulse {
    pub dir: PathBuf,
}

impl Pulse {
    pub fn start(dir: &Path) -> Pulse {
        let out = Command::new(repo().join("scripts/pulse-env"))
            .arg("start")
            .arg(dir)
            .output()
            .expect("scripts/pulse-env runs");
        assert!(
            out.status.success(),
            "scripts/pulse-env start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pulse {
            dir: dir.to_path_buf(),
        }
    }

    /// The environment that points ALSA at this PulseAudio.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![(
            "XDG_CONFIG_HOME",
            self.dir.join("config").display().to_string(),
        )]
    }

    /// Plays `wav` into the null sink (so that `loa_monitor` captures it),
    /// in the background; killed when the returned child is dropped/killed.
    pub fn play(&self, wav: &Path) -> std::process::Child {
        Command::new("paplay")
            .arg("--server")
            .arg(format!("unix:{}", self.dir.join("native").display()))
            .args(["-d", "loa_null"])
            .arg(wav)
            .spawn()
            .expect("paplay runs")
    }

    /// Starts recording what the null sink plays (its monitor, raw float32le
    /// 48 kHz stereo) into `path`: one unbroken stream of samples from now
    /// until [`Recording::stop`], silence included, so the distance between
    /// two sounds in it is exact in frames.
    pub fn record(&self, path: &Path) -> Recording {
        let file = std::fs::File::create(path).expect("the recording's file");
        let child = Command::new("parec")
            .arg("--server")
            .arg(format!("unix:{}", self.dir.join("native").display()))
            .args(["-d", "loa_null.monitor", "--raw", "--format=float32le"])
            .args(["--rate=48000", "--channels=2", "--latency-msec=20"])
            .stdout(file)
            .spawn()
            .expect("parec runs (Debian package pulseaudio-utils: scripts/install-deps)");
        Recording {
            child,
            path: path.to_path_buf(),
        }
    }
}

/// What [`Pulse::record`] is recording; the recorder is killed when dropped.
pub struct Recording {
    child: std::process::Child,
    path: PathBuf,
}

impl Recording {
    /// Stops the recorder and gives what it heard: mono samples (the two
    /// channels mixed) at 48 kHz.
    pub fn stop(mut self) -> Vec<f32> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let bytes = std::fs::read(&self.path).expect("the recording reads");
        bytes
            .chunks_exact(8)
            .map(|f| {
                let l = f32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                let r = f32::from_le_bytes([f[4], f[5], f[6], f[7]]);
                (l + r) / 2.0
            })
            .collect()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/pulse-env"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// A `loa collect` configuration in `dir` (collect.yaml) for `broker` and
/// `pg`, with `client_id` as its MQTT session and `more` YAML lines after.
pub fn collect_config(
    dir: &Path,
    client_id: &str,
    broker: &Broker,
    pg: &Postgres,
    more: &str,
) -> PathBuf {
    let config = dir.join("collect.yaml");
    std::fs::write(
        &config,
        format!(
            "mqtt:\n  url: {}\n  client_id: {client_id}\ndatabase: {}\n{more}",
            broker.url(),
            pg.url()
        ),
    )
    .expect("write collect.yaml");
    config
}

/// PostgreSQL 15's programs (Debian's postgresql package; scripts/install-deps).
pub const PG: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL cluster on a free loopback port, its files in a
/// temporary directory, run by an unprivileged user when the test is root
/// (CI): PostgreSQL refuses to run as root.
pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
}

fn as_owner(cmd: &str) -> Command {
    use std::process::Stdio;
    let root = is_root();
    let mut c = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--", cmd]);
        c
    } else {
        Command::new(cmd)
    };
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "nobody", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let data = dir.path().join("data");
        let out = as_owner(&format!("{PG}/initdb"))
            .args(["-A", "trust", "-U", "loa", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("initdb runs (PostgreSQL 15: scripts/install-deps)");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = Postgres {
            dir,
            port: free_port(),
        };
        pg.start_again();
        pg
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn start_again(&self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let out = as_owner(&format!("{PG}/pg_ctl"))
            .args(["-w", "-s", "-o", &opts, "-l"])
            .arg(self.dir.path().join("log"))
            .arg("-D")
            .arg(self.data())
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop(&self) {
        let _ = as_owner(&format!("{PG}/pg_ctl"))
            .args(["-w", "-s", "-m", "fast", "-D"])
            .arg(self.data())
            .arg("stop")
            .output();
    }

    pub fn url(&self) -> String {
        format!("postgres://loa@127.0.0.1:{}/postgres", self.port)
    }

    /// `psql -At` of one query: its lines.
    pub fn query(&self, sql: &str) -> Result<Vec<String>, String> {
        let out = Command::new(format!("{PG}/psql"))
            .args(["-X", "-At", "-F", "\t", "-d", &self.url(), "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A real Icecast 2 (Debian's icecast2) on a free loopback port, started
/// for a test with a generated configuration (its source password, its
/// logs in a temporary directory, no chroot; the mount /loa.mp3 keeps its
/// titles in UTF-8, as the admin guide says to set it up), run as user nobody when the
/// test is root (Icecast refuses root without changeowner), and killed
/// when dropped. `stop()` and `start_again()` simulate an outage on the
/// same port.
pub struct Icecast {
    pub port: u16,
    pub password: String,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl Icecast {
    pub const BIN: &'static str = "/usr/bin/icecast2";

    pub fn start(password: &str) -> Icecast {
        let dir = tempfile::tempdir().expect("temp dir");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "nobody", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let mut ice = Icecast {
            port: free_port(),
            password: password.to_string(),
            dir,
            child: None,
        };
        ice.start_again();
        ice
    }

    /// (Re)starts icecast2 on the same port and waits until it answers.
    pub fn start_again(&mut self) {
        let d = self.dir.path().display();
        let conf = self.dir.path().join("icecast.xml");
        std::fs::write(
            &conf,
            format!(
                "<icecast>\n\
                 <limits><clients>20</clients><sources>4</sources><source-timeout>10</source-timeout>\
                 <burst-size>0</burst-size></limits>\n\
                 <authentication><source-password>{pw}</source-password>\
                 <admin-user>admin</admin-user><admin-password>{pw}-admin</admin-password></authentication>\n\
                 <hostname>127.0.0.1</hostname>\n\
                 <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>\n\
                 <fileserve>1</fileserve>\n\
                 <paths><basedir>/usr/share/icecast2</basedir><logdir>{d}</logdir>\
                 <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>\n\
                 <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>\n\
                 <mount type=\"normal\"><mount-name>/loa.mp3</mount-name><charset>UTF-8</charset></mount>\n\
                 <security><chroot>0</chroot></security>\n\
                 </icecast>\n",
                pw = self.password,
                port = self.port,
            ),
        )
        .expect("write icecast.xml");
        let _ =
            std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let mut cmd = as_owner(Icecast::BIN);
        cmd.arg("-c").arg(&conf).stderr(std::process::Stdio::null());
        let child = cmd
            .spawn()
            .expect("icecast2 starts (Debian package icecast2: scripts/install-deps)");
        self.child = Some(child);
        wait_until(
            &format!("icecast2 answering on port {}", self.port),
            Duration::from_secs(2),
            Duration::from_millis(50),
            || self.get("/status-json.xsl"),
        );
    }

    /// Kills the server (as a crash or a power cut would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // runuser passes SIGKILL on to nothing: kill its child too.
            let _ = Command::new("pkill")
                .args(["-KILL", "-P", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        // Until the port is free again, for a restart on it.
        let port = self.port;
        wait_until(
            &format!("icecast2 gone from port {port}"),
            Duration::from_secs(2),
            Duration::from_millis(50),
            || match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(_) => Err("still answering"),
                Err(_) => Ok(()),
            },
        );
    }

    /// A file of the server's (`source.pass`, say), for `password_file=`.
    pub fn password_file(&self, dir: &Path, password: &str) -> PathBuf {
        let path = dir.join("icecast.pass");
        std::fs::write(&path, format!("{password}\n")).expect("write the password file");
        path
    }

    /// GET `path` from the server: the body, or why not.
    pub fn get(&self, path: &str) -> Result<String, String> {
        use std::io::{Read, Write};
        let mut s =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
        let mut text = String::new();
        s.read_to_string(&mut text).map_err(|e| e.to_string())?;
        match text.split_once("\r\n\r\n") {
            Some((head, body))
                if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") =>
            {
                Ok(body.to_string())
            }
            _ => Err(text),
        }
    }

    /// The mount's entry in /status-json.xsl (Null when there is no source).
    pub fn mount_status(&self, mount: &str) -> serde_json::Value {
        let Ok(body) = self.get("/status-json.xsl") else {
            return serde_json::Value::Null;
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let sources = match &v["icestats"]["source"] {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Null => Vec::new(),
            one => vec![one.clone()],
        };
        sources
            .into_iter()
            .find(|s| s["listenurl"].as_str().is_some_and(|u| u.ends_with(mount)))
            .unwrap_or_default()
    }

    /// Starts listening to `mount` as a receiver would, once a source is on it.
    pub fn listen(&self, mount: &str) -> Listener {
        Listener::start(self.port, mount)
    }

    /// The server's error log (what it said about sources).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Icecast {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("pkill")
                .args(["-KILL", "-P", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A listener on a mount: reads the MP3 stream into memory on its own
/// thread, reconnecting when the stream ends, and counting connections.
pub struct Listener {
    bytes: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Listener {
    fn start(port: u16, mount: &str) -> Listener {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let l = Listener {
            bytes: Default::default(),
            connections: Default::default(),
            stop: Default::default(),
        };
        let (bytes, connections, stop) = (l.bytes.clone(), l.connections.clone(), l.stop.clone());
        let mount = mount.to_string();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let _ = write!(s, "GET {mount} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(1) => head.push(b[0]),
                        _ => break,
                    }
                }
                if !head.starts_with(b"HTTP/1.0 200") && !head.starts_with(b"HTTP/1.1 200") {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                connections.fetch_add(1, Ordering::Relaxed);
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => bytes.lock().unwrap().extend_from_slice(&buf[..n]),
                        Err(e)
                            if e.kind() == std::io::ErrorKind::WouldBlock
                                || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => break,
                    }
                }
            }
        });
        l
    }

    /// The MP3 bytes heard so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    /// How many times the listener got the stream (1: it never dropped).
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// MP3 bytes decoded to mono f32 samples, and their rate.
pub fn decode_mp3(bytes: &[u8]) -> (Vec<f32>, u32) {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;
    let cursor = std::io::Cursor::new(bytes.to_vec());
    let mss = MediaSourceStream::new(Box::new(cursor), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    // Nothing heard yet (or a few bytes): no MP3 frame to find.
    let Ok(probed) = symphonia::default::get_probe().format(
        &hint,
        mss,
        &FormatOptions::default(),
        &MetadataOptions::default(),
    ) else {
        return (Vec::new(), 48_000);
    };
    let mut format = probed.format;
    let track = format.default_track().expect("a track").clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .expect("an MP3 decoder");
    let mut rate = track.codec_params.sample_rate.unwrap_or(48_000);
    let mut out = Vec::new();
    while let Ok(packet) = format.next_packet() {
        let Ok(decoded) = decoder.decode(&packet) else {
            continue;
        };
        let spec = *decoded.spec();
        rate = spec.rate;
        let ch = spec.channels.count();
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buf.copy_interleaved_ref(decoded);
        out.extend(
            buf.samples()
                .chunks_exact(ch)
                .map(|f| f.iter().sum::<f32>() / ch as f32),
        );
    }
    (out, rate)
}

/// The strongest of `candidates` (Hz) in each `window` of `samples`, or
/// None where the window is silent: what a listener heard, in order.
pub fn tones_heard(
    samples: &[f32],
    rate: u32,
    window: usize,
    candidates: &[f64],
) -> Vec<Option<f64>> {
    samples
        .chunks_exact(window)
        .map(|w| {
            let rms = (w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).sqrt();
            if rms < 0.01 {
                return None;
            }
            candidates
                .iter()
                .map(|&f| (f, goertzel(w, rate, f)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(f, _)| f)
        })
        .collect()
}

fn goertzel(w: &[f32], rate: u32, f: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * f / rate as f64).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in w {
        let s = x as f64 + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_benches_read_this_process_memory_and_cpu() {
        let me = std::process::id();
        let rss = proc_kib(me, "VmRSS").expect("VmRSS");
        let peak = proc_kib(me, "VmHWM").expect("VmHWM");
        assert!(rss > 0 && peak >= rss, "rss {rss} peak {peak}");
        assert_eq!(proc_kib(me, "VmNothing"), None);
        assert!(cpu_ticks(me).is_some());
        assert_eq!(cpu_ticks(u32::MAX), None);
    }

    #[test]
    fn offline_moves_every_address_under_no_relay() {
        let yaml = "      - stream:\n          - https://str.vov.gov.vn/vovlive/playlist.m3u8\n          - http://media.kythuatvov.vn:7001/;stream/\n      - stream: [http://a.invalid/x.pls, https://b.invalid/y]\n# httpd is not an address\n";
        assert_eq!(
            offline(yaml),
            "      - stream:\n          - http://127.0.0.1:1/str.vov.gov.vn/vovlive/playlist.m3u8\n          - http://127.0.0.1:1/media.kythuatvov.vn:7001/;stream/\n      - stream: [http://127.0.0.1:1/a.invalid/x.pls, http://127.0.0.1:1/b.invalid/y]\n# httpd is not an address\n"
        );
    }
}
