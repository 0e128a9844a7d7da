//! `make run`'s demo (scripts/demo), run as a newcomer runs it, for 90 s of
//! wall time (LOA_DEMO_FOR): it must show the station working and nothing
//! broken: no warning and no zone at fault, a program aired, relays
//! switched on and off, a board's text, airtime rows written.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use loa_e2e::{airtime_rows, repo, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_loa");

/// The demo's process group (the script and `loa run`; the broker and the
/// simulated devices run in sessions of their own, out of a terminal's
/// Ctrl-C, and the script stops them), stopped when dropped, whatever the
/// test saw: the script is asked first, as Ctrl-C would, then the group is
/// killed.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &self.0.id().to_string()])
                .status();
            for _ in 0..100 {
                if self.0.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_shows_the_station_working_and_nothing_broken() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let station = tmp.path().join("station");
    let out_path = tmp.path().join("demo.out");
    let out = std::fs::File::create(&out_path).expect("the demo's output file");
    // The station's clock at midday, whatever the hour here: the example's
    // own programs (05:30-06:30, 16:00-18:00) would hold the demo's
    // every-minute one at other hours. Etc/GMT-N is N hours ahead of UTC.
    let ahead = (12 - i64::from(chrono::Timelike::hour(&chrono::Utc::now())) + 36) % 24 - 12;
    let zone = if ahead >= 0 {
        format!("Etc/GMT-{ahead}")
    } else {
        format!("Etc/GMT+{}", -ahead)
    };
    let mut demo = Group(
        Command::new(repo().join("scripts/demo"))
            .env("LOA", BIN)
            .env("LOA_DEMO_DIR", &station)
            .env("LOA_DEMO_FOR", "90")
            .env("LOA_DEMO_TZ", &zone)
            .env_remove("LOA_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("scripts/demo starts"),
    );
    let status = wait_until(
        "the demo's end after LOA_DEMO_FOR=90",
        Duration::from_secs(110),
        Duration::from_millis(500),
        || demo.0.try_wait().expect("wait").ok_or("running"),
    );
    let text = std::fs::read_to_string(&out_path).expect("the demo's output");
    assert!(status.success(), "{status}\n{text}");

    let bad: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("WARN")
                || l.contains("ERROR")
                || l.split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == "fault")
        })
        .collect();
    assert!(bad.is_empty(), "warnings or faults: {bad:#?}\n{text}");
    assert!(text.contains("valid: "), "{text}");
    // The agenda is the station's own: not a line of the demo's program.
    let agenda: String = text
        .lines()
        .skip_while(|l| !l.starts_with("== today's agenda"))
        .take_while(|l| !l.starts_with("== the broker"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(agenda.contains("Tiếp sóng VOV1"), "{agenda}");
    assert!(!agenda.contains("Phát thử mỗi phút"), "{agenda}");

    // A relay switched on for the program and off after its hold.
    let switched = ["thon-1", "thon-2", "thon-3", "cho"].iter().any(|zone| {
        let on = text.find(&format!("relay {zone}: ON"));
        on.is_some_and(|at| text[at..].contains(&format!("relay {zone}: OFF")))
    });
    assert!(switched, "no relay switched on and then off:\n{text}");
    assert!(
        text.contains(r#"board cong-ubnd: "Phat thu moi phut""#),
        "the program's title never showed on the AWTRIX board:\n{text}"
    );
    assert!(
        text.contains(r#"airtime row: "Phát thử mỗi phút""#),
        "no airtime row on the station's MQTT feed:\n{text}"
    );
    assert!(text.contains("== today's airtime log"), "{text}");

    let rows = airtime_rows(&station);
    assert!(
        rows.iter().any(|r| r
            .program_id
            .as_deref()
            .is_some_and(|p| p.starts_with("demo-"))
            && r.outcome == "completed"
            && r.aired_ms > 0),
        "{rows:#?}"
    );
}
