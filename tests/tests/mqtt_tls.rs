//! `loa run` over mqtts:// against a real mosquitto with a TLS listener and
//! a password file (no anonymous clients), with a throwaway CA made here by
//! the openssl CLI: the retained status arrives and the airtime feed works
//! with the right password and CA; a wrong password and a wrong CA are
//! refused while the schedules keep airing, and the log says so once per
//! outage, not once per retry.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use loa_e2e::{local_in, station_dir, Aired, Daemon, TlsBroker};

const BIN: &str = env!("CARGO_BIN_EXE_loa");
const USER: &str = "loa";
const SECRET: &str = "s3cret pass-phrase";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway CA (P-256) in DIR/NAME.pem (key NAME.key).
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN=Loa test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// The broker's certificate for 127.0.0.1 and localhost, signed by the CA
/// `ca` (made by `make_ca` in the same directory): (cert, key).
fn make_server_cert(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
         basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-days",
            "2",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    (dir.join("server.pem"), dir.join("server.key"))
}

/// A CA, a broker certificate it signed, and mosquitto with TLS and
/// a password file; the returned directory holds the PEM files.
fn tls_broker() -> (TlsBroker, tempfile::TempDir) {
    let pki = tempfile::tempdir().unwrap();
    let ca = make_ca(pki.path(), "ca");
    let (cert, key) = make_server_cert(pki.path(), "ca");
    (TlsBroker::start(&ca, &cert, &key, USER, SECRET), pki)
}

/// A station reaching `broker` as USER with the password file DIR/mqtt.password
/// (relative in station.yaml) holding `password`, trusting `ca`, with one
/// program: a 1 s tone `secs` from now.
fn station(broker: &TlsBroker, password: &str, ca: &Path, secs: i64) -> tempfile::TempDir {
    let (at, _) = local_in(secs);
    let dir = station_dir(
        &format!(
            r#"station:
  id: e2e
  name: "Đài thử MQTT TLS"
  timezone: Asia/Ho_Chi_Minh
paths: {{ media: media, state: state }}
outputs:
  main: "null"
zones:
  thon-1: {{ output: main }}
mqtt:
  url: {url}
  username: {USER}
  password_file: mqtt.password
  ca_file: "{ca}"
policy:
  loudness: null
"#,
            url = broker.url(),
            ca = ca.display(),
        ),
        Some(&format!(
            "programs:\n  - id: tin\n    title: \"Bản tin\"\n    at: \"{at}\"\n    zones: all\n    items:\n      - tone: {{ hz: 700, for: 1s }}\n"
        )),
    );
    // As `echo SECRET > file` writes it: with a newline.
    std::fs::write(dir.path().join("mqtt.password"), format!("{password}\n")).unwrap();
    dir
}

/// `loa run` with the station's output on a WAV file.
fn start(dir: &Path) -> Daemon {
    Daemon::start_to_wav(BIN, dir, &dir.join("out.wav"))
}

/// Finished rows in the airtime log: (program_id, outcome).
fn airtime_rows(dir: &Path) -> Vec<(String, String)> {
    let Ok(c) = rusqlite::Connection::open(dir.join("state/airtime.sqlite")) else {
        return Vec::new();
    };
    let Ok(mut st) = c.prepare(
        "SELECT coalesce(program_id, ''), outcome FROM airtime WHERE outcome != 'airing' ORDER BY id",
    ) else {
        return Vec::new();
    };
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool, more: impl Fn() -> String) {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {secs} s\n{}", more());
}

/// The daemon's warnings about the broker link.
fn mqtt_warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("WARN") && l.contains("mqtt"))
        .collect()
}

/// Waits until the program aired (its row is in the airtime log) while the
/// broker refused the daemon at least `attempts` times (counted by
/// `refusals` in the broker's log), and checks the daemon is still running.
fn airs_while_refused(
    d: &mut Daemon,
    dir: &Path,
    broker: &TlsBroker,
    attempts: usize,
    refusals: impl Fn(&str) -> usize,
) {
    wait_until(
        "the program's airtime row while the broker refuses",
        20,
        || airtime_rows(dir) == [("tin".to_string(), "completed".to_string())],
        || format!("rows {:?}\n{}", airtime_rows(dir), d.log_text()),
    );
    wait_until(
        &format!("{attempts} refused attempts"),
        20,
        || refusals(&broker.log_text()) >= attempts,
        || broker.log_text(),
    );
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the daemon exited:\n{}",
        d.log_text()
    );
}

/// Stops the daemon (cleanly) and checks the tone is in its WAV output.
fn stop_and_check_the_tone(d: Daemon, dir: &Path) {
    let (status, _) = d.stop();
    assert!(status.success(), "exit {status:?}");
    let aired = Aired::read(&dir.join("out.wav"));
    assert!(
        aired.onset_after(0, 0.05).is_some(),
        "the tone is in the WAV output"
    );
}

#[test]
fn mqtts_with_a_password_file_publishes_the_retained_status_and_the_feed() {
    let (broker, _pki) = tls_broker();
    let feed = broker.subscribe("loa/e2e/#");
    let dir = station(&broker, SECRET, &broker.ca, 4);
    let d = start(dir.path());
    feed.wait_for("online status over TLS", 15, |m| {
        m.iter().any(|(_, t, p)| {
            t == "loa/e2e/status"
                && serde_json::from_str::<serde_json::Value>(p).unwrap()["state"] == "online"
        })
    });
    // Retained: a later subscriber gets it at once.
    let late = broker.subscribe("loa/e2e/status");
    late.wait_for("retained online status", 5, |m| {
        m.iter().any(|(_, _, p)| p.contains("\"online\""))
    });
    feed.wait_for("the airtime row over TLS", 20, |m| {
        m.iter().any(|(_, t, p)| {
            t == "loa/e2e/airtime"
                && serde_json::from_str::<serde_json::Value>(p).unwrap()["program_id"] == "tin"
        })
    });
    let log = d.log_text();
    assert!(
        mqtt_warnings(&log).is_empty(),
        "no link warnings with the right password and CA:\n{log}"
    );
    let (status, _) = d.stop();
    assert!(status.success(), "exit {status:?}");
    let after = broker.subscribe("loa/e2e/status");
    after.wait_for("retained offline status after the stop", 5, |m| {
        m.iter().any(|(_, _, p)| p.contains("\"offline\""))
    });
}

#[test]
fn a_wrong_password_is_refused_logged_once_and_a_fixed_one_is_picked_up() {
    let (broker, _pki) = tls_broker();
    let feed = broker.subscribe("loa/e2e/#");
    let dir = station(&broker, "not the password", &broker.ca, 3);
    let mut d = start(dir.path());
    // Only the daemon authenticates with a wrong password here.
    let refused = |log: &str| log.matches("not authorised").count();
    airs_while_refused(&mut d, dir.path(), &broker, 4, refused);
    let log = d.log_text();
    let warned = mqtt_warnings(&log);
    assert_eq!(
        warned.len(),
        1,
        "one warning for the outage, not one per retry:\n{log}"
    );
    let w = warned[0].to_lowercase();
    assert!(
        w.contains("notauthorized") || w.contains("not authori") || w.contains("password"),
        "the warning names the refusal: {w}"
    );
    assert!(!w.contains("unreachable"), "the broker answered: {w}");
    assert!(
        !feed
            .messages()
            .iter()
            .any(|(_, t, _)| t.starts_with("loa/e2e/")),
        "nothing got through: {:#?}",
        feed.messages()
    );
    // The password file fixed: the next attempt gets in (no restart), the
    // status and the row held in the outbox arrive, nothing more is logged.
    std::fs::write(dir.path().join("mqtt.password"), format!("{SECRET}\n")).unwrap();
    feed.wait_for("online status once the password is right", 25, |m| {
        m.iter()
            .any(|(_, t, p)| t == "loa/e2e/status" && p.contains("\"online\""))
    });
    feed.wait_for("the row aired during the outage", 10, |m| {
        m.iter().any(|(_, t, _)| t == "loa/e2e/airtime")
    });
    let log = d.log_text();
    assert_eq!(mqtt_warnings(&log).len(), 1, "{log}");
    assert_eq!(log.matches("mqtt: connected").count(), 1, "{log}");
    stop_and_check_the_tone(d, dir.path());
}

#[test]
fn a_wrong_ca_is_refused_and_logged_once() {
    let (broker, pki) = tls_broker();
    let other_ca = make_ca(pki.path(), "other-ca");
    let feed = broker.subscribe("loa/e2e/#");
    let dir = station(&broker, SECRET, &other_ca, 3);
    let mut d = start(dir.path());
    // Each attempt is a connection the broker sees and drops before CONNECT.
    let attempts = |log: &str| {
        // mosquitto logs a failed handshake either as "Client connection from
        // ... failed: ... unknown ca" or as an OpenSSL error followed by
        // "Client <unknown> disconnected: Protocol error".
        log.lines()
            .filter(|l| {
                (l.contains("Client connection from") && l.contains("failed"))
                    || l.contains("Client <unknown> disconnected")
            })
            .count()
    };
    airs_while_refused(&mut d, dir.path(), &broker, 4, attempts);
    let log = d.log_text();
    let warned = mqtt_warnings(&log);
    assert_eq!(
        warned.len(),
        1,
        "one warning for the outage, not one per retry:\n{log}"
    );
    let w = warned[0].to_lowercase();
    assert!(
        w.contains("certificate") || w.contains("unknownissuer"),
        "the warning names the certificate problem: {w}"
    );
    assert!(!w.contains("unreachable"), "the broker answered: {w}");
    assert!(!log.contains("mqtt: connected"), "{log}");
    assert!(
        !feed
            .messages()
            .iter()
            .any(|(_, t, _)| t.starts_with("loa/e2e/")),
        "nothing got through: {:#?}",
        feed.messages()
    );
    stop_and_check_the_tone(d, dir.path());
}
