//! `loa run` speaks systemd's notify protocol (Type=notify): READY=1 once
//! outputs are open, STATUS= with what airs, WATCHDOG=1 from the scheduler
//! loop when WatchdogSec is set, STOPPING=1 on SIGTERM. The test plays the
//! part of systemd: it owns the NOTIFY_SOCKET datagram socket.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

#[test]
fn ready_status_watchdog_and_stopping_reach_systemd() {
    let dir = loa_e2e::station_dir(
        "station: { id: sd, name: \"Đài sd\", timezone: Asia/Ho_Chi_Minh }\npaths: { media: media, state: state }\noutputs: { main: \"null\" }\nzones: { z: { output: main } }\n",
        Some("programs:\n  - id: a\n    title: \"Bản tin\"\n    cron: \"0 0 6 * * *\"\n    zones: all\n    items: [{ tone: { hz: 440, for: 1s } }]\n"),
    );
    let d = dir.path();
    let sock_path = d.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--config", d.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .env("WATCHDOG_PID", "") // sd-notify checks the pid only when set to a number
        .env_remove("LOA_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut got: Vec<String> = Vec::new();
    let mut buf = [0u8; 4096];
    let mut receive = |got: &mut Vec<String>| {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    };
    // Ready, then pinging again and again (every 0.5 s with a 1 s watchdog:
    // how regularly is the daemon's business and the machine's load's, so
    // the test counts pings, not their spacing).
    let pings = |got: &[String]| got.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    let until = Instant::now() + loa_e2e::patience(Duration::from_secs(4));
    while !(got.iter().any(|m| m.contains("READY=1")) && pings(&got) >= 4) {
        assert!(
            Instant::now() < until,
            "no READY=1 and four WATCHDOG=1: {got:#?}"
        );
        receive(&mut got);
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let until = Instant::now() + loa_e2e::patience(Duration::from_secs(3));
    let status = loop {
        receive(&mut got);
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "loa run did not exit on SIGTERM");
    };
    // What it sent before it exited is all in the socket by now.
    sock.set_nonblocking(true).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(status.success());
    let all = got.join("\n");
    assert!(all.contains("READY=1"), "{all}");
    assert!(all.contains("STATUS=idle; next: Bản tin at "), "{all}");
    assert!(all.contains("STOPPING=1"), "{all}");
    let ready = got.iter().position(|m| m.contains("READY=1")).unwrap();
    let first_ping = got.iter().position(|m| m.contains("WATCHDOG=1")).unwrap();
    assert!(ready <= first_ping, "READY comes first: {all}");
}
