//! Figures for the Icecast output (printed, never asserted), with a real
//! Icecast 2 started here and a listener on the mount:
//! - the sender thread's CPU (MP3 64 kb/s mono CBR encoding and sending),
//!   in % of one core, while a program airs and while the mount carries
//!   silence between programs;
//! - `loa run`'s CPU and resident set with the output, idle and airing.
//!
//! Run: `cargo bench -p loa --bench icecast`.

use std::time::{Duration, Instant};

use loa_e2e::{local_in, station_dir, Daemon, Icecast};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

fn thread_stat(pid: u32, name: &str) -> Option<String> {
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return Some(e.path().join("stat").to_string_lossy().into_owned());
        }
    }
    None
}

/// % of one core used by the sender thread and by the whole process over `d`.
fn cpu_over(pid: u32, d: Duration) -> (f64, f64) {
    let hz = 100.0; // USER_HZ on Linux
    let thread = thread_stat(pid, "loa-icecast").expect("the sender thread");
    let process = format!("/proc/{pid}/stat");
    let (t0, p0, w0) = (
        loa_e2e::stat_ticks(&thread),
        loa_e2e::stat_ticks(&process),
        Instant::now(),
    );
    std::thread::sleep(d);
    let (t1, p1) = (loa_e2e::stat_ticks(&thread), loa_e2e::stat_ticks(&process));
    let secs = w0.elapsed().as_secs_f64();
    let pct = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => (b - a) as f64 / hz / secs * 100.0,
        _ => f64::NAN,
    };
    (pct(t0, t1), pct(p0, p1))
}

fn main() {
    let ice = Icecast::start("bench");
    let airing = 40;
    let (at, _) = local_in(20);
    let schedule = format!(
        "programs:\n  - id: tone\n    title: \"Bản tin\"\n    at: \"{at}\"\n    zones: all\n    items:\n      - tone: {{ hz: 440, for: {airing}s }}\n"
    );
    let dir = station_dir(
        &format!(
            "station: {{ id: bench, name: Bench, timezone: Asia/Ho_Chi_Minh }}\npaths: {{ media: media, state: state }}\noutputs:\n  clusters: \"icecast://source@127.0.0.1:{}/loa.mp3?password_file=icecast.pass\"\nzones: {{ z: {{ output: clusters }} }}\npolicy: {{ loudness: null }}\n",
            ice.port
        ),
        Some(&schedule),
    );
    ice.password_file(dir.path(), "bench");
    let daemon = Daemon::start(BIN, dir.path(), &[]);
    let pid = daemon.child.id();
    daemon.wait_for_log("on the mount", 10);
    let listener = ice.listen("/loa.mp3");
    std::thread::sleep(Duration::from_secs(3));
    let (idle_thread, idle_process) = cpu_over(pid, Duration::from_secs(12));
    let idle_rss = loa_e2e::proc_kib(pid, "VmRSS").unwrap_or(0);
    // Into the program (it starts 20 s after the daemon).
    std::thread::sleep(Duration::from_secs(6));
    let (air_thread, air_process) = cpu_over(pid, Duration::from_secs(30));
    let air_rss = loa_e2e::proc_kib(pid, "VmRSS").unwrap_or(0);
    let heard = listener.bytes().len();
    daemon.stop();
    println!("Icecast output, MP3 64 kb/s mono CBR (LAME), a listener on the mount:");
    println!(
        "  airing a program: sender thread {air_thread:.2} % of one core, loa run {air_process:.2} %, RSS {air_rss} KiB"
    );
    println!(
        "  between programs (silence on the mount): sender thread {idle_thread:.2} %, loa run {idle_process:.2} %, RSS {idle_rss} KiB"
    );
    println!("  the listener received {heard} bytes");
}
